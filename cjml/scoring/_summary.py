"""What a scoring run did: :class:`ScoreSummary`, and the counts and warnings
added over its chunks and reported once for the whole run.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from cjml.i18n import format_number, ngettext
from cjml.i18n import gettext as _


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did: counts, time and files.

    Parameters
    ----------
    n_customers : int
        Customers of the run: scored, inactive or without events (the
        output's rows are ``n_customers - n_not_written``).
    n_scored : int
        Customers with status ``"scored"``.
    n_inactive : int
        Customers with status ``"inactive"`` (no event within the lookback).
    n_no_events : int
        Customers with status ``"no_events"``.
    n_listed : int or None
        Customers in the customer list, None without a list.
    n_listed_absent : int
        Listed customers with no row at all in the events (among ``n_no_events``).
    n_rows_read : int
        Input rows read.
    n_rows_rejected : int
        Rows that failed validation and went to the rejects (quarantine).
    n_duplicates : int
        Exact duplicate events found (on the columns scoring reads).
    unknown_touchpoints : tuple of str
        Touchpoints of the events that the journey map does not list.
    cutoff : pandas.Timestamp
        The scoring cutoff (UTC).
    seconds : float
        Wall time of the run.
    out : Path or None
        The output file; None when the scores were returned in memory.
    rejects : Path or None
        The rejects file; None when no row was rejected or nothing was written.
    n_chunks : int
        Chunks (partitions) scored.
    n_chunks_resumed : int
        Chunks taken from an interrupted run instead of being scored again.
    engine : str
        ``"local"`` or ``"dask"``.
    n_not_written : int, default 0
        Customers not scored (inactive or without events) and left out of
        the output, as without ``include_inactive=True``.
    value_at_risk : float or None, default None
        With a value model: the total ``value_at_risk`` of the scored
        customers written (what drop-off is expected to cost over the
        horizon); None without one.
    value_saved : float or None, default None
        With a value model and recommendations: the total
        ``expected_value_saved`` of each written customer's first-ranked
        touchpoint, net of cost (the next ranks are alternatives, never
        added); None without them, or when no first-ranked touchpoint has a
        unit cost (see ``touchpoints_without_cost``).
    n_cancelled : int, default 0
        Customers with status ``"cancelled"`` (a churn event such as a
        cancellation by the cutoff, and no purchase since).
    touchpoints_without_cost : tuple of str, default ()
        First-ranked touchpoints with no unit cost (in the journey map or the
        rules): their value saved, net of cost, is unknown and not in
        ``value_saved``.
    """

    n_customers: int
    n_scored: int
    n_inactive: int
    n_no_events: int
    n_listed: int | None
    n_listed_absent: int
    n_rows_read: int
    n_rows_rejected: int
    n_duplicates: int
    unknown_touchpoints: tuple[str, ...]
    cutoff: pd.Timestamp
    seconds: float
    out: Path | None
    rejects: Path | None
    n_chunks: int
    n_chunks_resumed: int
    engine: str
    n_not_written: int = 0
    value_at_risk: float | None = None
    value_saved: float | None = None
    n_cancelled: int = 0
    touchpoints_without_cost: tuple[str, ...] = ()

    @property
    def customers_per_second(self) -> float:
        """Customers (output rows) per second of wall time."""
        return self.n_customers / self.seconds if self.seconds > 0 else float("inf")

    def to_text(self) -> str:
        """The one-line summary the command line prints.

        Returns
        -------
        str
            Customers by status, rejected rows, time, throughput and files.
        """
        parts = [
            # all the customers read first, then what became of them: "Scored 3,000" read as
            # if all were scored when 938 were
            f"{self.n_customers:,} customers at {_when(self.cutoff)} "
            f"({self.n_scored:,} scored, {self.n_inactive:,} inactive, "
            + (f"{self.n_cancelled:,} cancelled, " if self.n_cancelled else "")
            + f"{self.n_no_events:,} without events"
            + (
                f", of {self.n_listed:,} listed, {self.n_listed_absent:,} not in the events"
                if self.n_listed is not None
                else ""
            )
            + ")"
        ]
        parts.append(f"{self.n_rows_read:,} rows read")
        if self.n_rows_rejected:
            where = f" -> {self.rejects}" if self.rejects is not None else ""
            parts.append(f"{self.n_rows_rejected:,} rejected{where}")
        resumed = (
            f", {self.n_chunks_resumed} of {self.n_chunks} chunks resumed"
            if self.n_chunks_resumed
            else ""
        )
        parts.append(
            f"{self.seconds:.1f} s ({self.customers_per_second:,.0f} customers/s, "
            f"{self.engine}{resumed})"
        )
        if self.value_at_risk is not None:
            parts.append(self._value_text())
        parts.append(self._written())
        if self.out is not None:
            parts.append(f"wrote {self.out}")
        return "; ".join(parts)

    def _value_text(self) -> str:
        """The value at risk, and what the first-ranked touchpoints save (when recommended)."""
        at_risk = format_number(self.value_at_risk)
        if self.touchpoints_without_cost:
            from cjml.recommend import _no_cost_text

            if self.value_saved is None:
                return _(
                    "value at risk over the horizon {at_risk}; the value the first-ranked "
                    "touchpoints save is unknown: {why}"
                ).format(at_risk=at_risk, why=_no_cost_text(self.touchpoints_without_cost))
            return _(
                "value at risk over the horizon {at_risk}; the value the first-ranked "
                "touchpoints save is known only for those with a cost ({saved} net of it): "
                "{why}"
            ).format(
                at_risk=at_risk,
                saved=format_number(self.value_saved),
                why=_no_cost_text(self.touchpoints_without_cost),
            )
        if self.value_saved is None:
            return _("value at risk over the horizon {at_risk}").format(at_risk=at_risk)
        return _(
            "value at risk over the horizon {at_risk}, of which the first-ranked "
            "touchpoints save {saved} net of their cost"
        ).format(at_risk=at_risk, saved=format_number(self.value_saved))

    def _written(self) -> str:
        """Which customers the output has: the scored ones only, or the others after them."""
        scored = format_number(self.n_scored)
        if self.n_not_written:
            n = self.n_not_written
            if n == self.n_inactive and not self.n_cancelled:
                text = ngettext(
                    "{n} inactive customer not written; pass --include-inactive "
                    "(include_inactive=True) to list it after the {scored} scored",
                    "{n} inactive customers not written; pass --include-inactive "
                    "(include_inactive=True) to list them after the {scored} scored",
                    n,
                )
            elif self.n_cancelled:
                text = ngettext(
                    "{n} customer not scored (inactive, cancelled or without events) not "
                    "written; pass --include-inactive (include_inactive=True) to list it after "
                    "the {scored} scored",
                    "{n} customers not scored (inactive, cancelled or without events) not "
                    "written; pass --include-inactive (include_inactive=True) to list them after "
                    "the {scored} scored",
                    n,
                )
            else:
                text = ngettext(
                    "{n} customer not scored (inactive or without events) not written; pass "
                    "--include-inactive (include_inactive=True) to list it after the {scored} "
                    "scored",
                    "{n} customers not scored (inactive or without events) not written; pass "
                    "--include-inactive (include_inactive=True) to list them after the {scored} "
                    "scored",
                    n,
                )
            return text.format(n=format_number(n), scored=scored)
        others = self.n_customers - self.n_scored
        if others:
            return ngettext(
                "the {n} customer not scored is listed after the {scored} scored",
                "the {n} customers not scored are listed after the {scored} scored",
                others,
            ).format(n=format_number(others), scored=scored)
        return _("every customer was scored")

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-friendly values.

        Returns
        -------
        dict
            Every field; paths and the cutoff as text.
        """
        out = asdict(self)
        out["cutoff"] = self.cutoff.isoformat()
        out["out"] = None if self.out is None else str(self.out)
        out["rejects"] = None if self.rejects is None else str(self.rejects)
        out["unknown_touchpoints"] = [str(t) for t in self.unknown_touchpoints]
        out["touchpoints_without_cost"] = [str(t) for t in self.touchpoints_without_cost]
        for name in _INT_FIELDS:
            if out[name] is not None:
                out[name] = int(out[name])
        out["seconds"] = float(self.seconds)
        for name in ("value_at_risk", "value_saved"):
            if out[name] is not None:
                out[name] = float(out[name])
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ScoreSummary:
        """The summary back from :meth:`to_dict` (e.g. ``scores.attrs["summary"]``).

        Parameters
        ----------
        spec : mapping
            Every field of the summary, as :meth:`to_dict` gives them (the
            cutoff as ISO text, the files as text or None).

        Returns
        -------
        ScoreSummary

        Raises
        ------
        ValueError
            When fields are missing or unknown, naming them.

        Examples
        --------
        >>> scores = cjml.score(bundle, events)  # doctest: +SKIP
        >>> print(ScoreSummary.from_dict(scores.attrs["summary"]))  # doctest: +SKIP
        """
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"ScoreSummary.from_dict needs the dict of ScoreSummary.to_dict() "
                f"(e.g. scores.attrs['summary']), got {type(spec).__name__}."
            )
        names = [f.name for f in fields(cls)]
        # a field with a default came later: a summary saved before it still reads
        missing = [f.name for f in fields(cls) if f.name not in spec and f.default is MISSING]
        unknown = [str(k) for k in spec if k not in names]
        if missing or unknown:
            what = "; ".join(
                part
                for part in (
                    f"missing {missing!r}" if missing else "",
                    f"unknown {unknown!r}" if unknown else "",
                )
                if part
            )
            raise ValueError(
                f"Cannot rebuild a ScoreSummary: {what}. Pass the dict of "
                "ScoreSummary.to_dict() (e.g. scores.attrs['summary']) as it is."
            )
        values = dict(spec)
        cutoff = pd.Timestamp(values["cutoff"])
        values["cutoff"] = (
            cutoff.tz_localize("UTC") if cutoff.tz is None else cutoff.tz_convert("UTC")
        )
        for name in ("out", "rejects"):
            values[name] = None if values[name] is None else Path(values[name])
        values["unknown_touchpoints"] = tuple(str(t) for t in values["unknown_touchpoints"])
        values["touchpoints_without_cost"] = tuple(
            str(t) for t in values.get("touchpoints_without_cost", ())
        )
        return cls(**values)


#: The whole-number fields of a ScoreSummary (plain ``int`` in :meth:`ScoreSummary.to_dict`).
_INT_FIELDS = (
    "n_customers",
    "n_scored",
    "n_inactive",
    "n_no_events",
    "n_listed",
    "n_listed_absent",
    "n_rows_read",
    "n_rows_rejected",
    "n_duplicates",
    "n_chunks",
    "n_chunks_resumed",
    "n_not_written",
    "n_cancelled",
)


def _when(ts: pd.Timestamp) -> str:
    return (
        ts.strftime("%Y-%m-%d %H:%M:%S UTC")
        if (ts.hour or ts.minute or ts.second)
        else ts.strftime("%Y-%m-%d 00:00 UTC")
    )


def _add_counts(chunks: list[dict]) -> dict:
    total: dict[str, Any] = {
        "status": {},
        "rejected": 0,
        "duplicates": 0,
        "unknown": set(),
        "spaced_ids": set(),
        "placeholder_ids": set(),
        "crowded_ids": [],
        "event_counts": {},
        "warnings": [],
    }
    for c in chunks:
        for k, v in c.get("status", {}).items():
            total["status"][k] = total["status"].get(k, 0) + v
        total["rejected"] += c.get("rejected", 0)
        total["duplicates"] += c.get("duplicates", 0)
        total["unknown"] |= set(c.get("unknown", []))
        total["spaced_ids"] |= set(c.get("spaced_ids", []))
        total["placeholder_ids"] |= set(c.get("placeholder_ids", []))
        total["crowded_ids"] += [tuple(pair) for pair in c.get("crowded_ids", [])]
        for events, people in c.get("event_counts", {}).items():  # JSON keys come back as text
            total["event_counts"][int(events)] = total["event_counts"].get(int(events), 0) + people
        total["warnings"] += c.get("warnings", [])
    total["warnings"] = list(dict.fromkeys(total["warnings"]))
    return total


def _warn_unmatched_list(listed: Sequence[Any], event_ids: Sequence[str]) -> None:
    """Warn when no listed customer is in the events, with ids of both side by side: the
    usual cause is one file writing the ids another way ('7' and '007')."""
    import re

    from cjml.io._messages import _user_stacklevel

    if not len(listed) or not len(event_ids):
        return
    ours = list(dict.fromkeys(str(v) for v in listed))[:3]
    hint = ""
    zeros = re.compile(r"0\d+")
    if any(zeros.fullmatch(v) for v in event_ids) != any(zeros.fullmatch(v) for v in ours):
        hint = (
            " (a spreadsheet drops the leading zeros of ids it reads as numbers: format the "
            "column as text)"
        )
    none = (
        "The listed customer is not"
        if len(listed) == 1
        else f"None of the {len(listed):,} listed customers is"
    )
    warnings.warn(
        f"{none} in the events. The list writes ids "
        f"like {', '.join(map(repr, ours))}; the events like "
        f"{', '.join(map(repr, event_ids))}. Fix: write the ids the same way in both "
        f"files{hint}.",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _emit_warnings(
    counts: dict,
    summary: ScoreSummary,
    drop_duplicates: bool,
    known_touchpoints: Sequence[str] = (),
    user_names: Mapping[str, Any] | None = None,
) -> None:
    from cjml.io._messages import _spelling_fix, _user_stacklevel, _written_differently

    level = _user_stacklevel()
    if summary.n_duplicates:
        action = (
            "They were removed (drop_duplicates=True, --drop-duplicates)."
            if drop_duplicates
            else "They are kept. Fix: pass drop_duplicates=True (--drop-duplicates) to remove "
            "them, if they are double-logged events."
        )
        warnings.warn(
            f"Found {summary.n_duplicates:,} exact duplicate events (equal to an "
            f"earlier row in every column scoring reads). {action}",
            UserWarning,
            stacklevel=level,
        )
    if len(counts.get("spaced_ids", ())):
        from cjml.io._columns import _warn_spaced_ids
        from cjml.io._messages import _Context, _Origin

        names = dict(user_names or {})
        label = _Context(pd.DataFrame(), names, _Origin()).label("customer_id")
        column = names.get("customer_id", "customer_id")
        _warn_spaced_ids(pd.Index(counts["spaced_ids"]), label, column)
    if len(counts.get("case_ids", ())):
        from cjml.io._columns import _warn_case_ids
        from cjml.io._messages import _Context, _Origin

        names = dict(user_names or {})
        label = _Context(pd.DataFrame(), names, _Origin()).label("customer_id")
        _warn_case_ids(counts["case_ids"], label, names.get("customer_id", "customer_id"))
    if len(counts.get("placeholder_ids", ())):
        from cjml.io._columns import _warn_placeholder_ids
        from cjml.io._messages import _Context, _Origin

        label = _Context(pd.DataFrame(), dict(user_names or {}), _Origin()).label("customer_id")
        _warn_placeholder_ids(sorted(counts["placeholder_ids"]), label)
    if counts.get("crowded_ids"):
        from cjml.io._columns import _warn_crowded
        from cjml.io._messages import _Context, _Origin

        names = dict(user_names or {})
        label = _Context(pd.DataFrame(), names, _Origin()).label("customer_id")
        _warn_crowded(
            counts["crowded_ids"],
            counts["event_counts"],
            label,
            names.get("customer_id", "customer_id"),
        )
    if summary.unknown_touchpoints:
        warnings.warn(
            f"Touchpoints not in the bundle's journey map: "
            f"{list(summary.unknown_touchpoints)[:10]!r}. They are kept, with the "
            "stage given in the data, but cjml cannot recommend them."
            + _spelling_fix(
                _written_differently(summary.unknown_touchpoints, known_touchpoints),
                "touchpoint",
                (user_names or {}).get("touchpoint", "touchpoint"),
            ),
            UserWarning,
            stacklevel=level,
        )
    for message in counts["warnings"][:10]:
        warnings.warn(message, UserWarning, stacklevel=level)
