"""What every feature family shares: the estimator contract and naming."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cjml.events import EventLog, read_events
from cjml.features._estimator import Transformer, check_fitted
from cjml.features._windows import Windows, build_windows, codes_in
from cjml.journey import JourneyMap

__all__ = [
    "most_used_touchpoints",
    "add_counts",
    "AddedEvent",
    "ColumnBlock",
    "FeatureFamily",
    "as_log",
    "safe_name",
    "unique_names",
    "vocabulary_codes",
    "warn_shared_names",
]


def as_log(log, bundle=None) -> EventLog:
    """An EventLog from an EventLog, a DataFrame or a path.

    Read with the defaults, or, with a ``bundle``, as its training log was read:
    with its journey map, its time zone, and the column names it was trained on
    where the events have them (:meth:`cjml.ModelBundle.columns_for`), so that
    events in the user's own names and vocabulary need no options again.
    """
    if isinstance(log, EventLog):
        return log
    if bundle is None:
        return read_events(log)
    return read_events(
        log,
        columns=bundle.columns_for(log),
        journey_map=bundle.journey_map,
        timezone=bundle.metadata.get("timezone", "UTC"),
    )


def safe_name(text: object) -> str:
    """A column-name-safe version of a touchpoint, stage or channel name."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", str(text)).strip("_")
    return name or "unnamed"


def unique_names(names: Sequence[str], reserved: Sequence[str] = ()) -> list[str]:
    """Make sanitised names unique by suffixing repeats with _2, _3, ...

    A suffixed name never takes a name already in ``names`` or ``reserved``
    ("=x", "＝x" and "x_2" give x, x_3 and x_2), so two values never share a
    feature name.
    """
    taken = set(names) | set(reserved)
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n not in seen and n not in reserved:
            seen[n] = 1
            out.append(n)
            continue
        k = seen.get(n, 1)
        while f"{n}_{k}" in taken or k == 1:
            k += 1
        seen[n] = k
        taken.add(f"{n}_{k}")
        out.append(f"{n}_{k}")
    return out


def warn_shared_names(values: Sequence, what: str, reserved: Sequence[str] = ()) -> None:
    """Warn when different values (touchpoints, columns) reduce to the same feature name.

    Their features are told apart by a suffix (``unique_names``); the warning
    names the values, so that the user can rename them if they differ, or write
    them the same way if they are the same (``"=x"`` and the full-width ``"＝x"``).
    """
    names = [safe_name(v) for v in values]
    final = unique_names(names, reserved)
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    parts = []
    for name, members in groups.items():
        if len(members) > 1:
            parts.append(
                f"{' and '.join(repr(values[i]) for i in members)} all become "
                f"{name!r} (told apart as "
                f"{', '.join(repr(final[i]) for i in members)})"
            )
        elif name in reserved:
            parts.append(
                f"{values[members[0]]!r} becomes {name!r}, the name of the bucket of "
                f"all other {what} (told apart as {final[members[0]]!r})"
            )
    if parts:
        warnings.warn(
            f"In feature names, {what} {'; '.join(parts)}. Fix: if they are different "
            f"{what}, rename them so that they differ in letters, digits or '_' (the only "
            "characters feature names keep); if they are the same, write them the same way.",
            UserWarning,
            stacklevel=_stacklevel(),
        )


def _stacklevel() -> int:
    """Stack level of the first frame outside cjml, for ``warnings.warn``."""
    from cjml.io._messages import _user_stacklevel

    return _user_stacklevel()


def most_used_touchpoints(
    touchpoints: Sequence[str], actionable: Sequence[str], events: dict, limit: int
) -> tuple[list[str], list[str]]:
    """The touchpoints that keep features of their own, and the ones folded into ``other``.

    Parameters
    ----------
    touchpoints : sequence of str
        The fitted vocabulary, in the catalogue's order.
    actionable : sequence of str
        Touchpoints kept first (what the recommender can act on).
    events : dict
        Touchpoint -> number of events in the fit data.
    limit : int
        How many keep features of their own.

    Returns
    -------
    kept : list of str
        The actionable ones first, then the most frequent (ties: the catalogue's
        order), up to ``limit``, in the catalogue's order.
    folded : list of str
        The others, in the catalogue's order.
    """
    if len(touchpoints) <= limit:
        return list(touchpoints), []
    first = set(actionable)
    ranked = sorted(touchpoints, key=lambda t: (t not in first, -events.get(t, 0)))
    chosen = set(ranked[:limit])
    return [t for t in touchpoints if t in chosen], [t for t in touchpoints if t not in chosen]


def vocabulary_codes(
    log: EventLog,
    vocabulary: Sequence[str],
    visible: np.ndarray,
    what: str = "touchpoints",
    folded: Sequence[str] = (),
) -> np.ndarray:
    """Map the log's touchpoint categories onto a fitted vocabulary.

    Returns an array indexed by the log's touchpoint code giving the vocabulary
    index, with ``len(vocabulary)`` (the ``other`` bucket) for names the
    vocabulary lacks; warns naming those among the ``visible`` codes, but for
    the ``folded`` ones, put in the bucket on purpose when fitted.
    """
    cats = log.frame["touchpoint"].cat.categories.tolist()
    lookup = pd.Index(vocabulary).get_indexer(pd.Index(cats))
    fold = set(folded)  # thousands of names on a page log: a set, not Index.isin
    unseen = (lookup < 0) & np.fromiter((c not in fold for c in cats), bool, count=len(cats))
    unseen_codes = np.flatnonzero(unseen)
    if len(unseen_codes):
        present = np.bincount(visible, minlength=len(cats))[unseen_codes] > 0
        names = [cats[i] for i in unseen_codes[present]]
        if names:
            many = len(names) > 1
            warnings.warn(
                f"{len(names)} {what if many else what.rstrip('s')} {'were' if many else 'was'} "
                f"not seen when the featurizer was fitted and {'are' if many else 'is'} counted "
                f"in the 'other' bucket: {names[:10]!r}. Refit on data that includes "
                f"{'them' if many else 'it'} to give {'them their' if many else 'it its'} own "
                "features.",
                UserWarning,
                stacklevel=4,
            )
    return np.where(lookup < 0, len(vocabulary), lookup).astype(np.int64)


class ColumnSink:
    """Where a family writes its features: each column goes straight into the output.

    Writing as they are computed keeps a family from holding all its columns at
    once (the output of a large log is the biggest allocation there is).
    """

    def __init__(self, data: np.ndarray, names: Sequence[str], first: int = 0):
        self.data = data
        self.position = {name: first + j for j, name in enumerate(names)}
        self.missing = set(names)

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.data[:, self.position[name]] = values
        self.missing.discard(name)

    def update(self, columns: dict[str, np.ndarray]) -> None:
        """Write several columns."""
        for name, values in columns.items():
            self[name] = values

    def check_complete(self, family: str) -> None:
        """Fail loudly if a family forgot a column (a bug, never the user's fault)."""
        if self.missing:
            raise RuntimeError(f"The {family!r} family did not compute {sorted(self.missing)!r}.")


class ColumnBlock:
    """A family's columns in a candidate-row buffer (see ``JourneyFeaturizer.with_event``).

    ``block[name]`` is a writable view of the column; it holds the base row's
    values until the family writes over them.
    """

    def __init__(self, data: np.ndarray, names: Sequence[str], first: int = 0):
        self.data = data
        self.position = {name: first + j for j, name in enumerate(names)}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[:, self.position[name]]

    def __setitem__(self, name: str, values) -> None:
        self.data[:, self.position[name]] = values


@dataclass(frozen=True, eq=False)
class AddedEvent:
    """One event added to each row, at the row's own cutoff, as the families see it.

    The event carries no survey score, amount or attribute value. It is placed
    after every event the row saw (see ``JourneyFeaturizer.with_event`` for the
    one case where ``transform`` orders it otherwise).

    Attributes
    ----------
    touchpoint : ndarray of int64
        Code of the event's touchpoint in ``vocabulary``, per row.
    vocabulary : list of str
        The fitted touchpoint names (the touchpoint family's ``touchpoints_``).
    stage : ndarray of int64
        Stage of the event (position in the journey map's stages), per row.
    channel : ndarray of int64
        Code of the event's channel in ``channels``, -1 where it has none.
    channels : list of str
        The channel names used.
    journey_map : JourneyMap
        The map the featurizer was fitted with.
    n_before : ndarray of float
        Events the row saw before this one.
    first_age : ndarray of float
        Days from the row's first event to the cutoff, NaN where there is none.
    last_age : ndarray of float
        Days from the row's last event to the cutoff, NaN where there is none.
    same_day : ndarray of bool
        Whether the row already has an event on the cutoff's day (UTC).

    The counts and ages are of the customer's own events, as the activity
    family computes them: events of ``outbound`` touchpoints are not among them.
    """

    touchpoint: np.ndarray
    vocabulary: list
    stage: np.ndarray
    channel: np.ndarray
    channels: list
    journey_map: JourneyMap
    n_before: np.ndarray
    first_age: np.ndarray
    last_age: np.ndarray
    same_day: np.ndarray

    @cached_property
    def outbound(self) -> np.ndarray:
        """Rows whose new event only records the business reaching out (see
        :class:`cjml.Touchpoint`): it leaves the customer's activity as it was."""
        return self.is_one_of(self.journey_map.outbound_touchpoints)

    def by_touchpoint(self):
        """Yield ``(name, rows)`` for each touchpoint present, ``rows`` a boolean mask.

        Families loop over the few distinct touchpoints, never over rows.
        """
        present = np.flatnonzero(np.bincount(self.touchpoint, minlength=len(self.vocabulary)))
        for code in present:
            yield self.vocabulary[code], self.touchpoint == code

    def is_one_of(self, names: Sequence[str]) -> np.ndarray:
        """Rows whose new event's touchpoint is one of ``names``."""
        wanted = set(names)
        codes = [i for i, t in enumerate(self.vocabulary) if t in wanted]
        n_codes = max(len(self.vocabulary), int(self.touchpoint.max(initial=-1)) + 1)
        return codes_in(self.touchpoint, codes, n_codes)


def new_output(n_rows: int, n_features: int) -> np.ndarray:
    """The output buffer: column-major, so each feature is one contiguous write."""
    return np.empty((n_rows, n_features), order="F")


def output_frame(data: np.ndarray, windows: Windows, names: Sequence[str]) -> pd.DataFrame:
    """Wrap the buffer without copying it (pandas 3 copies numpy input by default)."""
    return pd.DataFrame(data, index=windows.index(), columns=list(names), copy=False)


def add_counts(total: dict | None, counts: dict) -> dict:
    """``total`` with ``counts`` added: arrays summed, sets joined, lists (of sparse
    counts) put end to end (see :meth:`FeatureFamily._fit_counts`); ``total`` None starts
    the sum."""
    if total is None:
        return dict(counts)
    out = dict(total)
    for key, value in counts.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, set):
            out[key] = out[key] | value
        else:  # arrays of the same shape, or lists (joined)
            out[key] = out[key] + value
    return out


class FeatureFamily(Transformer):
    """Base of the feature families: ``fit(log)``, ``transform(log, cutoff)``.

    A family computes its features for each (customer, cutoff) row from the
    events at or before the cutoff only. ``transform`` returns a DataFrame
    indexed by customer id (or by (cutoff, customer id) when several cutoffs are
    given), one float column per feature.
    """

    #: Short name of the family, used by :class:`cjml.JourneyFeaturizer`.
    family: str = ""
    #: Rough cost of ``_compute`` against the other families (tenths of a second
    #: per 10M events on one core, default journey map; benchmarks/README.md,
    #: features.py, stop 52). When families run on threads the costliest start
    #: first, so that no long one starts last and runs alone: at 10M events that
    #: ordering took the transform from 3.5 s to 2.6 s on two cores.
    relative_cost: float = 1.0

    def fit(self, log, y=None, *, cutoff=None):
        """Learn what the family needs (vocabularies) from events up to ``cutoff``.

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events.
        y : None
            Ignored; present for scikit-learn compatibility.
        cutoff : date, optional
            Learn only from events at or before this date (default: all).

        Returns
        -------
        self
            The fitted family.
        """
        log = as_log(log)
        return self._fit_windows(build_windows(log, cutoff), log)

    def _fit_windows(self, windows: Windows, log: EventLog):
        self._check_params()
        self._fit(windows, log)
        return self._named()

    def _fit_counted(self, counts: dict, log: EventLog):
        """Fit from the counts of every visible event, summed over parts of customers
        (:meth:`_fits_in_parts`): the same fit as :meth:`_fit_windows` on the whole log."""
        self._check_params()
        self._fit_from_counts(counts, log)
        return self._named()

    def _named(self):
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        self.categorical_features_ = tuple(self._categorical())
        return self

    def transform(self, log, cutoff=None) -> pd.DataFrame:
        """Compute the features of every customer at the cutoff(s).

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events; only those at or before each row's cutoff are used.
        cutoff : date, list of dates, Series of dates per customer, or None
            As in :meth:`cjml.JourneyFeaturizer.transform`; None is the log's end.

        Returns
        -------
        DataFrame
            One row per (customer, cutoff), one column per feature.
        """
        check_fitted(self)
        windows = build_windows(as_log(log), cutoff)
        names = list(self.feature_names_out_)
        data = new_output(windows.n_rows, len(names))
        sink = ColumnSink(data, names)
        self._compute(windows, sink)
        sink.check_complete(self.family)
        return output_frame(data, windows, names)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the names of the features ``transform`` returns, in order.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        ndarray of str
            The column names.
        """
        check_fitted(self)
        return self.feature_names_out_.copy()

    # ------------------------------------------------------------- for subclasses
    def _check_params(self) -> None:
        """Validate constructor arguments (called by fit)."""

    def _fit(self, windows: Windows, log: EventLog) -> None:
        """Learn from the visible events: :meth:`_fit_from_counts` of :meth:`_fit_counts`.

        A family whose fit only counts the events keeps this and overrides those two,
        so that :class:`cjml.JourneyFeaturizer` can count a large log in parts of
        customers (:meth:`_fits_in_parts`); one that overrides this instead is fitted
        on the whole log's windows.
        """
        self._fit_from_counts(self._fit_counts(windows, log), log)

    def _fit_counts(self, windows: Windows, log: EventLog) -> dict:
        """What the fit needs of the visible events, as values that add up over disjoint
        sets of customers (:func:`add_counts`: arrays summed, sets and lists joined); ``log``
        may be a part of the log of some customers (:meth:`EventLog._customer_range`)."""
        return {}

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        """Set the fitted state from the counts of every visible event (``log``: the
        whole log); families without state do nothing."""

    @classmethod
    def _fits_in_parts(cls) -> bool:
        """Whether the fit only counts events (:meth:`_fit_counts`), so that it can read a
        large log in parts of customers: every family of cjml but ``btyd``, whose fit
        is a model of each customer's summary."""
        return cls._fit is FeatureFamily._fit

    def _names(self) -> list[str]:
        raise NotImplementedError

    def _categorical(self) -> list[str]:
        """Features that are category codes rather than quantities."""
        return []

    def _compute(self, windows: Windows, out: ColumnSink) -> None:
        """Write every feature of ``feature_names_out_`` into ``out``."""
        raise NotImplementedError

    def _with_event(self, block: ColumnBlock, event: AddedEvent) -> None:
        """Update the family's columns in ``block`` for ``event`` added at the cutoff.

        Vectorised over the rows; ``block`` holds the base rows on entry.
        """
        raise NotImplementedError(
            f"The {self.family!r} family ({type(self).__name__}) cannot derive candidate rows: "
            "it has no _with_event method. Compute the features with transform on a log that "
            "includes the event instead."
        )


def check_windows(name: str, windows: Sequence[int]) -> tuple[int, ...]:
    """Validate a tuple of day windows."""
    try:
        out = tuple(int(w) for w in windows)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be whole numbers of days, got {windows!r}.") from None
    if not out or any(w < 1 for w in out) or len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct positive numbers of days, got {windows!r}.")
    return tuple(sorted(out))
