"""Customer attributes: the last known value of the log's extra columns at the cutoff."""

from __future__ import annotations

import warnings
from collections.abc import Hashable

import numpy as np
import pandas as pd

from cjml.events import EventLog
from cjml.features._base import (
    AddedEvent,
    ColumnBlock,
    ColumnSink,
    FeatureFamily,
    safe_name,
    unique_names,
    warn_shared_names,
)
from cjml.features._windows import Windows
from cjml.journey import _did_you_mean

__all__ = ["AttributeFeatures"]


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _labels(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes of each value into its distinct labels (as text), -1 for missing."""
    cat = pd.Categorical(column)
    return cat.codes.astype(np.int64), [str(c) for c in cat.categories]


class AttributeFeatures(FeatureFamily):
    """Customer attributes carried in the events: their last known value at the cutoff.

    Event logs often repeat what the CRM knows about the customer on every event
    (a segment, a plan, a region, a device). Such a column is an attribute of
    the customer at the time of the event, and the customer's value at a cutoff
    is the last one logged at or before it. Features, one per attribute column
    ``<col>`` (sanitised name):

    - ``attribute_<col>``: the value of the customer's last event at or before
      the cutoff where the column is not missing; NaN if none is. A text,
      categorical or boolean column gives a category code: the position of the
      value in ``categories_[col]`` (the distinct values seen in ``fit``, sorted
      as text), ``len(categories_[col])`` for a value not seen in ``fit`` (the
      ``other`` bucket, with a warning); these columns are listed in
      ``categorical_features_``. A numeric column (named explicitly) gives its
      value.

    A log without such columns gives no feature; a column the featurizer was
    fitted with but the transformed log lacks gives NaN, with a warning.

    Parameters
    ----------
    attributes : "auto" or sequence of str, default "auto"
        The columns to use. ``"auto"``: every extra column of the log (not one
        of cjml's canonical columns) that holds text, categories or booleans
        with between 1 and ``max_categories`` distinct values in the fit data;
        numeric extra columns are left out (they may be event measures, not
        customer attributes), and so are columns that some files of the folder
        the log was read from lack (:attr:`cjml.EventLog.columns_not_in_every_file`:
        they tell which export an event came from, and a later file without
        them could not be scored). A sequence names the columns explicitly
        (text or numeric); ``()`` turns the family off.
    max_categories : int, default 50
        Most distinct values an extra column may have to be used by ``"auto"``
        (identifiers and free text have many more).

    Attributes
    ----------
    attributes_ : tuple
        The columns used.
    categories_ : dict
        Column to its sorted distinct values (as text) in the fit data; None for
        numeric columns.
    left_out_ : dict
        The log's other extra columns, each with why it is not used (``"numbers"``,
        ``"no value"``, ``"<n> distinct values"``, ``"not in every file: <k> of <n>
        files lack it"`` or ``"not named"``): what
        :func:`attributes_text` tells the user.
    """

    family = "attributes"
    relative_cost = 1

    def __init__(self, attributes="auto", max_categories=50):
        self.attributes = attributes
        self.max_categories = max_categories

    def _check_params(self) -> None:
        if not (isinstance(self.max_categories, int | np.integer) and self.max_categories >= 1):
            raise ValueError(
                f"max_categories must be a whole number >= 1, got {self.max_categories!r}."
            )
        a = self.attributes
        if isinstance(a, str) and a != "auto":
            raise ValueError(
                f"attributes must be 'auto' or a list of column names, got {a!r}; "
                f"for a single column write attributes=({a!r},)."
            )

    def _fit_counts(self, w: Windows, log: EventLog) -> dict:
        frame = log.frame
        extra = list(log.extra_columns)
        wanted = extra if isinstance(self.attributes, str) else list(self.attributes)
        counts = {}
        for c in dict.fromkeys(wanted):  # each text column read once
            if c not in extra or _is_numeric(frame[c]):
                continue
            codes, labels = _labels(frame[c])
            # a count per code beats np.unique's sort of every visible event
            present = np.bincount(w.take(codes) + 1, minlength=len(labels) + 1)[1:] > 0
            counts[("labels", c)] = {label for label, p in zip(labels, present, strict=True) if p}
        return counts

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        frame = log.frame
        extra = list(log.extra_columns)

        def seen(c: Hashable) -> set[str]:
            """The labels of text column ``c`` on the visible events."""
            return counts.get(("labels", c), set())

        partial = log.columns_not_in_every_file
        if isinstance(self.attributes, str):  # "auto"
            chosen = [
                c
                for c in extra
                if not _is_numeric(frame[c])
                and 1 <= len(seen(c)) <= self.max_categories
                and c not in partial
            ]
        else:
            chosen = list(self.attributes)
            missing = [c for c in chosen if c not in extra]
            if missing:
                names = [str(c) for c in extra]
                shown = ", ".join(names[:12]) + (
                    f" and {len(names) - 12} more" if len(names) > 12 else ""
                )
                hint = "".join(_did_you_mean(str(c), names) for c in missing[:3])
                raise ValueError(
                    f"Attribute columns {missing!r} are not extra columns of the log "
                    f"(columns besides the event contract's).{hint} Its extra columns: "
                    f"{shown or 'none'}. Fix: name columns of the events."
                )
            if len(set(chosen)) != len(chosen):
                raise ValueError(f"attributes lists a column twice: {chosen!r}.")
        self.attributes_ = tuple(chosen)
        self.left_out_ = {
            str(c): _why_left_out(
                frame[c],
                seen(c),
                auto=isinstance(self.attributes, str),
                max_categories=self.max_categories,
                partial=partial.get(c),
            )
            for c in extra
            if c not in chosen
        }
        warn_shared_names([str(c) for c in chosen], "attribute columns")
        self.categories_: dict[Hashable, list | None] = {}
        for c in chosen:
            self.categories_[c] = None if _is_numeric(frame[c]) else sorted(seen(c))

    def _names(self) -> list[str]:
        return unique_names([f"attribute_{safe_name(c)}" for c in self.attributes_])

    def _categorical(self) -> list[str]:
        return [
            name
            for name, c in zip(self._names(), self.attributes_, strict=True)
            if self.categories_[c] is not None
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        frame = w.log.frame
        for name, c in zip(self.feature_names_out_, self.attributes_, strict=True):
            if c not in frame.columns:
                warnings.warn(
                    f"The featurizer was fitted with the attribute column {c!r}, which "
                    f"this log lacks: {name!r} is NaN.",
                    UserWarning,
                    stacklevel=4,
                )
                out[name] = np.full(w.n_rows, np.nan)
                continue
            vocabulary = self.categories_[c]
            if vocabulary is None:
                values = w.take(
                    pd.to_numeric(frame[c], errors="coerce").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                )
            else:
                codes, labels = _labels(frame[c])
                lookup = pd.Index(vocabulary).get_indexer(labels).astype(np.float64)
                unseen = lookup < 0
                lookup[unseen] = len(vocabulary)
                visible = w.take(codes)
                values = np.append(lookup, np.nan)[visible]  # code -1 (missing) -> NaN
                if unseen.any():
                    present = np.bincount(visible[visible >= 0], minlength=len(labels))
                    names = [labels[k] for k in np.flatnonzero(unseen & (present > 0))]
                    if names:
                        warnings.warn(
                            f"{len(names)} value(s) of attribute {c!r} were not seen when the "
                            f"featurizer was fitted and are coded as 'other': {names[:10]!r}. "
                            "Refit on data that includes them to give them their own code.",
                            UserWarning,
                            stacklevel=4,
                        )
            out[name] = w.last(values, ~np.isnan(values))

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        # Nothing changes: the new event carries no attribute value, and an attribute is the
        # last value logged that is not missing.
        return


def _why_left_out(
    column: pd.Series,
    labels: set[str],
    *,
    auto: bool,
    max_categories: int = 50,
    partial: str | None = None,
) -> str:
    """Why ``"auto"`` (or a list of names) did not use an extra column (``partial``: how
    many files of the log's folder lack it, if some do)."""
    if not auto:
        return "not named"
    if _is_numeric(column):
        return "numbers"
    if not labels:
        return "no value"
    if partial is not None and len(labels) <= max_categories:
        return f"not in every file: {partial}"
    return f"{len(labels):,} distinct values"


def attributes_text(used, left_out: dict, *, command_line: bool = False) -> str:
    """One or two sentences on the customer attributes the features use and those they
    leave out, with how to choose: for the training summary.

    Parameters
    ----------
    used : sequence of str
        The columns used (``attributes_`` of the fitted family).
    left_out : dict of str to str
        The other extra columns, each with why (``left_out_``).
    command_line : bool, default False
        Say how to choose in command-line words (``--attributes``) rather than
        Python's (``JourneyFeaturizer(attributes=[...])``).

    Returns
    -------
    str
        Empty when the log has no extra column.
    """
    used = [str(c) for c in used]
    if not used and not left_out:
        return ""
    text = (
        "Customer attributes used as features: " + ", ".join(used) + "."
        if used
        else "No customer attribute is used as a feature."
    )
    if not left_out:
        return text
    groups: dict[str, list[str]] = {}
    for column, why in left_out.items():
        key = "many" if why.endswith("distinct values") else why
        if why.startswith("not in every file: "):
            key, column = "files", f"{column}: {why.removeprefix('not in every file: ')}"
        groups.setdefault(key, []).append(column)

    def shown(columns: list[str]) -> str:
        more = f" and {len(columns) - 6} more" if len(columns) > 6 else ""
        return ", ".join(columns[:6]) + more

    reasons = {
        "numbers": "numbers, which may measure events rather than customers",
        "many": "too many distinct values for categories: ids or free text",
        "no value": "no value",
        "files": (
            "a column that not every file of the folder has tells which export an event came "
            "from, not who the customer is, and a file without it could not be scored"
        ),
        "not named": "not named",
    }
    if set(groups) == {"not named"}:  # the user named the columns: nothing to add
        return text
    parts = [f"{shown(groups[k])} ({why})" for k, why in reasons.items() if k in groups]
    example = [*used, "COLUMN"]
    how = (
        "--attributes " + ",".join(example)
        if command_line
        else "JourneyFeaturizer(attributes=" + repr(example) + ")"
    )
    return f"{text} Left out: {'; '.join(parts)}. To choose, name every column to use: {how}."


def attribute_record(featurizer) -> dict | None:
    """What a fitted featurizer made of the log's extra columns, for a bundle's metadata:
    ``{"used": [...], "left_out": {column: why}}``; None without the attributes family."""
    for family in getattr(featurizer, "families_", ()):
        if getattr(family, "family", None) == "attributes":
            return {
                "used": [str(c) for c in family.attributes_],
                "left_out": dict(getattr(family, "left_out_", {})),  # (bundles before it)
            }
    return None
