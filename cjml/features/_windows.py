"""Point-in-time windows: which events each output row may see.

An output row is a (customer, cutoff) pair. Because the canonical log is sorted
by customer then time, the events a row may see, those at or before its cutoff,
are a prefix of the customer's segment. :class:`Windows` stacks those prefixes
for every row (one cutoff, one cutoff per customer, or several cutoffs at
once) into flat arrays ordered by (row, time), so every feature is a vectorised
reduction over contiguous groups: ``bincount``, ``reduceat`` and "last element
of each group". No feature can see an event after its row's cutoff, because
such events are never selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cjml.events import EventLog, to_utc_timestamp

__all__ = ["Windows", "anchored_windows", "build_windows", "resolve_cutoffs"]

NS_PER_DAY = 86_400 * 10**9


def codes_in(codes: np.ndarray, wanted: Sequence[int] | np.ndarray, n_codes: int) -> np.ndarray:
    """``np.isin(codes, wanted)`` for category codes ``-1 .. n_codes - 1``, by a lookup table.

    A table of flags indexed by each code: one gather, where ``np.isin`` sorts (ten
    times slower on a part's 200,000 events). Code -1 (none) reads the table's extra
    last flag, which is never set.
    """
    table = np.zeros(n_codes + 1, dtype=bool)
    table[np.asarray(list(wanted), dtype=np.int64)] = True
    return table[codes]


def resolve_cutoffs(log: EventLog, cutoff) -> tuple[str, int | list[int] | pd.Series]:
    """Classify a cutoff argument.

    Returns ``("single", ns)``, ``("many", [ns, ...])`` or ``("per_customer",
    Series of ns indexed by customer id)``. None means the end of the log.
    """
    if cutoff is None:
        return "single", int(log.timestamps_ns.max())
    if isinstance(cutoff, pd.Series):
        if cutoff.index.has_duplicates:
            dup = cutoff.index[cutoff.index.duplicated()].unique()[:5].tolist()
            raise ValueError(
                f"Per-customer cutoffs list some customers twice: {dup!r}. Give one "
                "cutoff per customer (or a list of cutoffs for several snapshots)."
            )
        values = (
            pd.to_datetime(cutoff, utc=True, errors="coerce")
            if not isinstance(cutoff.dtype, pd.DatetimeTZDtype)
            else cutoff.dt.tz_convert("UTC")
        )
        bad = values.isna()
        if bad.any():
            raise ValueError(
                f"Per-customer cutoffs: {int(bad.sum())} values are missing or not dates, e.g. "
                f"for customers {cutoff.index[bad][:5].tolist()!r}. "
                "Give a date for every customer."
            )
        ns = values.astype("datetime64[ns, UTC]").astype("int64")
        return "per_customer", pd.Series(ns.to_numpy(), index=cutoff.index)
    if isinstance(cutoff, str | pd.Timestamp) or np.isscalar(cutoff) or hasattr(cutoff, "year"):
        return "single", to_utc_timestamp(cutoff, log.timezone).value
    if isinstance(cutoff, Sequence | np.ndarray | pd.Index):
        many = [to_utc_timestamp(c, log.timezone).value for c in cutoff]
        if not many:
            raise ValueError("The list of cutoffs is empty; give at least one date.")
        if len(set(many)) != len(many):
            raise ValueError(f"The cutoffs {list(cutoff)!r} repeat a date; give each once.")
        return "many", many
    raise TypeError(
        f"cutoff must be a date, a list of dates or a Series of dates per customer, "
        f"got {type(cutoff).__name__}."
    )


@dataclass
class Windows:
    """The events visible to each output row, stacked in (row, time) order.

    Attributes
    ----------
    log : EventLog
        The log the events come from.
    ev : ndarray of int64
        Index into the log's arrays of each visible event, in (row, time) order.
    row : ndarray of int64
        Output row of each visible event (non-decreasing).
    n_rows : int
        Number of output rows, including rows with no visible event.
    cutoff_ns : ndarray of int64
        Cutoff of each row, ns since the epoch (UTC).
    customer : ndarray of int64
        Customer code (into ``log.customer_ids``) of each row, -1 for customers
        the log does not know.
    customer_id : ndarray
        Customer id of each row.
    """

    log: EventLog
    ev: np.ndarray
    row: np.ndarray
    n_rows: int
    cutoff_ns: np.ndarray
    customer: np.ndarray
    customer_id: np.ndarray
    several_cutoffs: bool = False
    #: True when every event is visible in log order (``ev`` is 0..n-1): then the
    #: per-event arrays are the log's own, not copies.
    identity: bool = False
    #: For a :meth:`subset`: the position of each of its events in the parent's arrays.
    origin: np.ndarray | None = None

    def take(self, values: np.ndarray) -> np.ndarray:
        """Per-event ``values`` (aligned with the log) restricted to the visible events."""
        return values if self.identity else values[self.ev]

    def index(self) -> pd.Index:
        """Row labels: customer id, or (cutoff, customer id) with several cutoffs."""
        ids = pd.Index(self.customer_id, name="customer_id")
        if not self.several_cutoffs:
            return ids
        cut = pd.to_datetime(self.cutoff_ns, utc=True)
        return pd.MultiIndex.from_arrays([cut, ids], names=["cutoff", "customer_id"])

    # ---------------------------------------------------------------- event arrays
    @cached_property
    def ts(self) -> np.ndarray:
        """Timestamp (ns) of each visible event."""
        return self.take(self.log.timestamps_ns)

    @cached_property
    def touchpoint(self) -> np.ndarray:
        """Touchpoint code (the log's categories) of each visible event."""
        return self.take(self.log.touchpoint_codes)

    @cached_property
    def stage(self) -> np.ndarray:
        """Stage code of each visible event."""
        return self.take(self.log.stage_codes)

    @cached_property
    def own(self) -> np.ndarray | None:
        """Whether each visible event is the customer's own (not ``outbound``); None: all are."""
        mask = self.log.activity_mask
        return None if mask is None else self.take(mask)

    def own_events(self) -> Windows:
        """The same rows seeing only the customer's own events (self when all are).

        Activity, recency and rhythm describe what the customer did: what the
        business sent them (the map's ``outbound`` touchpoints) is left out.
        """
        return self if self.own is None else self.subset(self.own)

    @cached_property
    def age_days(self) -> np.ndarray:
        """Days from each visible event to its row's cutoff (>= 0)."""
        return (self.cutoff_ns[self.row] - self.ts) / NS_PER_DAY

    @cached_property
    def n_events(self) -> np.ndarray:
        """Visible events per row."""
        return np.bincount(self.row, minlength=self.n_rows)

    @cached_property
    def last_position(self) -> np.ndarray:
        """Position (into the visible arrays) of each row's last event, -1 if none."""
        if not self._rows_in_order:
            return self._boundary(np.arange(len(self.row)), last=True)
        out = np.cumsum(self.n_events)
        out -= 1
        out[self.n_events == 0] = -1
        return out

    @cached_property
    def first_position(self) -> np.ndarray:
        """Position of each row's first visible event, -1 if none."""
        if not self._rows_in_order:
            return self._boundary(np.arange(len(self.row)), last=False)
        out = np.cumsum(self.n_events)
        out -= self.n_events
        out[self.n_events == 0] = -1
        return out

    @cached_property
    def _rows_in_order(self) -> bool:
        """Whether the events are in row order (as every selection makes them): then each
        row's first and last positions follow from the counts per row, with no pass over
        the events but this check."""
        return not np.any(self.row[1:] < self.row[:-1])

    def subset(self, mask: np.ndarray) -> Windows:
        """The same rows seeing only the events where ``mask``; ``origin`` maps back.

        Families whose features depend on a small share of the events (tickets,
        survey answers) work on the subset, so their temporaries stay small.
        """
        origin = np.flatnonzero(mask)
        return Windows(
            log=self.log,
            ev=self.ev[origin],
            row=self.row[origin],
            n_rows=self.n_rows,
            cutoff_ns=self.cutoff_ns,
            customer=self.customer,
            customer_id=self.customer_id,
            several_cutoffs=self.several_cutoffs,
            origin=origin,
        )

    def prepare(self) -> None:
        """Build the shared per-event arrays now (before threads use them)."""
        for name in (
            "ts",
            "touchpoint",
            "stage",
            "own",
            "age_days",
            "n_events",
            "last_position",
            "first_position",
        ):
            getattr(self, name)

    def touchpoint_in(self, names: Sequence[str]) -> np.ndarray:
        """Whether each visible event's touchpoint is one of ``names`` (those the log lacks
        match nothing)."""
        cats = self.log.frame["touchpoint"].cat.categories
        codes = cats.get_indexer(pd.Index(list(names), dtype=object))
        return codes_in(self.touchpoint, codes[codes >= 0], len(cats))

    def column(self, name: str) -> np.ndarray | None:
        """Visible values of a canonical column as float64, or None if absent."""
        frame = self.log.frame
        if name not in frame.columns:
            return None
        return self.take(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))

    @cached_property
    def answers(self) -> tuple[Windows, dict[str, np.ndarray]]:
        """The events with a survey answer, and their scores.

        Returns the :meth:`subset` of the visible events with a CSAT, NPS or CES
        answer (a small share: the survey families work on those alone), and each of
        the ``satisfaction``, ``nps`` and ``effort`` columns the log has at those
        events, as float64 with NaN where unanswered. Shared by the families that
        read surveys, so the scores are converted once.
        """
        frame = self.log.frame
        scores = {
            c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            for c in ("satisfaction", "nps", "effort")
            if c in frame.columns
        }
        answered = np.zeros(self.log.n_events, dtype=bool)
        for values in scores.values():
            answered |= ~np.isnan(values)
        e = self.subset(self.take(answered))
        return e, {c: values[e.ev] for c, values in scores.items()}

    # ---------------------------------------------------------------- reductions
    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Number of visible events per row (where ``mask``)."""
        if mask is None:
            return self.n_events.astype(np.float64)
        # a boolean mask as weights beats compacting the rows first
        return np.bincount(self.row, weights=mask, minlength=self.n_rows)

    def count_codes(
        self, codes: np.ndarray, n_codes: int, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Events per row with each code ``0 .. n_codes - 1``, shape ``(n_codes, n_rows)``.

        One pass for what ``count(codes == k)`` for every ``k`` would take ``n_codes``
        passes over the events; codes outside that range (e.g. -1) are not counted, nor
        are the events outside ``mask`` (a few events of many: only those are read).
        Each code's counts are contiguous, to be read one code at a time.
        """
        row = self.row
        if mask is not None:
            at = np.flatnonzero(mask)
            codes, row = codes[at], row[at]
        key = np.where((codes >= 0) & (codes < n_codes), codes, n_codes).astype(
            np.int64, copy=False
        )
        key *= self.n_rows
        key += row
        counts = np.bincount(key, minlength=(n_codes + 1) * self.n_rows)
        return counts[: n_codes * self.n_rows].reshape(n_codes, self.n_rows)

    def count_younger(self, days: Sequence[float]) -> np.ndarray:
        """Events per row less than each of ``days`` old, shape ``(len(days), n_rows)``.

        One pass for every window, where ``count(age_days < d)`` for each ``d`` would take
        one each: each event's bucket (how many of the windows' lengths it is as old as)
        is counted per row, and a window holds the buckets below it.
        """
        edges = np.unique(np.asarray(days, dtype=np.float64))
        bucket = np.searchsorted(edges, self.age_days, side="right")
        younger = np.cumsum(self.count_codes(bucket, len(edges)), axis=0)
        return younger[np.searchsorted(edges, days)].astype(np.float64)

    def sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``values`` per row, NaN values skipped (0 for empty rows)."""
        nan = np.isnan(values)
        if mask is None and not nan.any():  # the same weights without a masked copy
            return np.bincount(self.row, weights=values, minlength=self.n_rows)
        ok = ~nan if mask is None else mask & ~nan
        return np.bincount(self.row, weights=np.where(ok, values, 0.0), minlength=self.n_rows)

    def mean(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Mean of the non-NaN ``values`` per row, NaN where there are none."""
        ok = ~np.isnan(values) if mask is None else mask & ~np.isnan(values)
        n = np.bincount(self.row, weights=ok, minlength=self.n_rows)
        total = np.bincount(self.row, weights=np.where(ok, values, 0.0), minlength=self.n_rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def last(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Value at each row's last event (among ``mask``), NaN where none."""
        return self._pick(values, mask, last=True)

    def first(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Value at each row's first event (among ``mask``), NaN where none."""
        return self._pick(values, mask, last=False)

    def minimum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Minimum of the non-NaN ``values`` per row, NaN where there are none."""
        return self._reduce(np.minimum, values, mask)

    def maximum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Maximum of the non-NaN ``values`` per row, NaN where there are none."""
        return self._reduce(np.maximum, values, mask)

    def _boundary(self, positions: np.ndarray, *, last: bool) -> np.ndarray:
        out = np.full(self.n_rows, -1, dtype=np.int64)
        if len(positions) == 0:
            return out
        r = self.row[positions]
        if last:
            edge = np.append(r[1:] != r[:-1], True)
        else:
            edge = np.insert(r[1:] != r[:-1], 0, True)
        out[r[edge]] = positions[edge]
        return out

    def _pick(self, values: np.ndarray, mask: np.ndarray | None, *, last: bool) -> np.ndarray:
        if mask is None:
            pos = self.last_position if last else self.first_position
            if len(values):  # one gather; a row without events (-1) is set to NaN after
                out = values[pos].astype(np.float64, copy=False)
                out[pos < 0] = np.nan
                return out
        else:
            pos = self._boundary(np.flatnonzero(mask), last=last)
        out = np.full(self.n_rows, np.nan)
        has = pos >= 0
        out[has] = values[pos[has]]
        return out

    def _reduce(self, ufunc, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if self._rows_in_order:
            # each row's events are contiguous: reduce them in place with the NaN-skipping
            # ufunc (fmax, fmin), NaN where a row has no value; no compacted copies
            skip_nan = {np.maximum: np.fmax, np.minimum: np.fmin}[ufunc]
            kept = values if mask is None else np.where(mask, values, np.nan)
            out = np.full(self.n_rows, np.nan)
            has = self.n_events > 0
            if has.any():
                out[has] = skip_nan.reduceat(kept, self.first_position[has])
            return out
        ok = ~np.isnan(values) if mask is None else mask & ~np.isnan(values)
        pos = np.flatnonzero(ok)
        out = np.full(self.n_rows, np.nan)
        if len(pos) == 0:
            return out
        r = self.row[pos]
        starts = np.flatnonzero(np.insert(r[1:] != r[:-1], 0, True))
        out[r[starts]] = ufunc.reduceat(values[pos], starts)
        return out


def build_windows(log: EventLog, cutoff=None, *, lookback_ns: int | None = None) -> Windows:
    """Select, for every output row, the events at or before its cutoff.

    Parameters
    ----------
    log : EventLog
        The canonical log.
    cutoff : date, list of dates, Series of dates indexed by customer id, or None
        One cutoff for everyone (rows: customers with an event at or before
        it), several cutoffs (rows: (cutoff, customer) pairs, cutoff-major), or
        one per customer (rows: exactly the Series' customers, in its order,
        even those with no event). None is the log's last timestamp.
    lookback_ns : int, optional
        Keep only rows whose customer had an event of their own (see
        :attr:`EventLog.activity_mask`) in ``(cutoff - lookback, cutoff]``
        and has not left explicitly (:meth:`EventLog.gone_at`): the
        population of :func:`cjml.make_labels` (not used with per-customer
        cutoffs).

    Returns
    -------
    Windows
    """
    kind, value = resolve_cutoffs(log, cutoff)
    ts = log.timestamps_ns
    acts = log.activity_mask if lookback_ns is not None else None
    cust = log.customer_codes
    n_cust = log.n_customers
    if isinstance(value, pd.Series):  # per customer
        codes = pd.Index(log.customer_ids).get_indexer(value.index)
        row_of_customer = np.full(n_cust, -1, dtype=np.int64)
        known = codes >= 0
        row_of_customer[codes[known]] = np.flatnonzero(known)
        cutoff_of_customer = np.full(n_cust, np.iinfo(np.int64).min, dtype=np.int64)
        cutoff_of_customer[codes[known]] = value.to_numpy()[known]
        visible = ts <= cutoff_of_customer[cust]
        ev = np.flatnonzero(visible)
        row = row_of_customer[cust[ev]]
        # rows follow the Series' order, events must be grouped by row: sort if needed
        if len(row) and np.any(np.diff(row) < 0):
            order = np.argsort(row, kind="stable")
            ev, row = ev[order], row[order]
        return Windows(
            log=log,
            ev=ev,
            row=row,
            n_rows=len(value),
            cutoff_ns=value.to_numpy().astype(np.int64),
            customer=codes.astype(np.int64),
            customer_id=np.asarray(value.index),
        )
    cutoffs = [value] if isinstance(value, int) else list(value)
    evs, rows, cut_rows, cust_rows = [], [], [], []
    offset = 0
    for c in cutoffs:
        visible = ts <= c
        if lookback_ns is not None:
            seen = np.bincount(cust[visible], minlength=n_cust) > 0
            recent = visible & (ts > c - lookback_ns)
            if acts is not None:  # only the customer's own events keep them in
                recent &= acts
            seen &= np.bincount(cust[recent], minlength=n_cust) > 0
            gone = log.gone_at(c)
            if gone is not None:  # ... and those who cancelled are out
                seen &= ~gone
            visible &= seen[cust]
        ev = np.flatnonzero(visible)
        cust_ev = cust[ev]  # gathered once: the customers seen and the rows come from it
        if lookback_ns is None:
            seen = np.bincount(cust_ev, minlength=n_cust) > 0
        customers = np.flatnonzero(seen)
        row_of_customer = np.full(n_cust, -1, dtype=np.int64)
        row_of_customer[customers] = offset + np.arange(len(customers))
        evs.append(ev)
        rows.append(row_of_customer[cust_ev])
        del cust_ev
        cut_rows.append(np.full(len(customers), c, dtype=np.int64))
        cust_rows.append(customers)
        offset += len(customers)
    customer = np.concatenate(cust_rows).astype(np.int64)
    if kind == "single" and len(evs[0]) == len(ts):
        # Everything is visible: rows are the customers in log order, no copies needed.
        return Windows(
            log=log,
            ev=evs[0],
            row=log.customer_codes,
            n_rows=offset,
            cutoff_ns=cut_rows[0],
            customer=customer,
            customer_id=np.asarray(log.customer_ids),
            identity=True,
        )
    # one cutoff: its arrays as they are (a concatenation would copy 16 bytes per event)
    return Windows(
        log=log,
        ev=evs[0] if len(evs) == 1 else np.concatenate(evs),
        row=rows[0] if len(rows) == 1 else np.concatenate(rows),
        n_rows=offset,
        cutoff_ns=np.concatenate(cut_rows),
        customer=customer,
        customer_id=np.asarray(log.customer_ids)[customer],
        several_cutoffs=kind == "many",
    )


def anchored_windows(log: EventLog, anchors: np.ndarray, *, inclusive: bool = False) -> Windows:
    """One row per anchor event, seeing the customer's events strictly before it.

    Parameters
    ----------
    log : EventLog
        The canonical log (sorted by customer, then time).
    anchors : ndarray of int
        Positions of anchor events in the log, each the first of its customer's
        events at its timestamp, in increasing order.
    inclusive : bool, default False
        See the events at the anchor's timestamp too (a cutoff at that
        timestamp): the history right after the anchor event.

    Returns
    -------
    Windows
        Row ``i`` is the anchor's customer at a cutoff 1 ns before the anchor:
        the history as it was just before that event. Used to learn what
        followed each touchpoint (the recommender's response model); the rows
        of a customer overlap, so the total size is the sum of the prefixes.
    """
    anchors = np.asarray(anchors, dtype=np.int64)
    cust = log.customer_codes[anchors]
    start = log.offsets[cust]
    ts = log.timestamps_ns
    if inclusive:  # up to the last of the customer's events at the anchor's timestamp
        same = np.r_[
            (log.customer_codes[1:] == log.customer_codes[:-1]) & (ts[1:] == ts[:-1]), False
        ]
        # position after the run of equal (customer, time) events that starts at each anchor
        run_end = np.flatnonzero(~same) + 1
        ends = run_end[np.searchsorted(run_end, anchors, side="right")]
    else:
        ends = anchors
    lengths = ends - start
    row = np.repeat(np.arange(len(anchors), dtype=np.int64), lengths)
    first_of_row = np.cumsum(lengths) - lengths
    ev = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first_of_row - start, lengths)
    return Windows(
        log=log,
        ev=ev,
        row=row,
        n_rows=len(anchors),
        cutoff_ns=ts[anchors].astype(np.int64) - (0 if inclusive else 1),
        customer=cust.astype(np.int64),
        customer_id=np.asarray(log.customer_ids)[cust],
    )
