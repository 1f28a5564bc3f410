"""The event-log contract: read, validate and canonicalise customer events.

Everything in cjml starts from an :class:`EventLog`: a long table of events
(who, when, which touchpoint) checked once, mapped onto the canonical column
names, sorted by customer then time, and carrying integer codes that the
vectorised feature builders use directly.

Canonical columns, in order: ``customer_id, timestamp, touchpoint, stage,
channel, satisfaction, nps, effort, amount``. Only the first three are
required; ``stage`` is derived from the journey map when it is not given.
Any other column of the input is carried along unchanged.

Every problem with the input raises :class:`~cjml.exceptions.SchemaError`
(or :class:`~cjml.exceptions.InputFileError` for files) with a message that
names the column, shows a few offending rows and ends with a fix. No row is
ever dropped silently. When the problem lies in particular rows, the error
also carries them for programs (batch scoring quarantines them):
``error.column`` (the canonical column), ``error.positions`` (0-based
positions in the input given) and ``error.problem`` (a short description);
``positions`` is None when the whole column or table is at fault.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import os
import threading
import warnings
from collections.abc import Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml._numpy_kernels import numpy_sort_is_slow
from cjml._rhythm import half_silence, return_gaps, silent_share
from cjml.exceptions import InputFileError, SchemaError
from cjml.io._columns import (
    _case_twins,
    _parse_columns,
    _resolve_columns,
    _warn_case_ids,
    _warn_crowded_ids,
    _warn_placeholder_ids,
    _warn_spaced_ids,
    _warn_variant_columns,
    _without_nested_extras,
    _without_non_events,
)
from cjml.io._csv import (
    encoding_name,
    parse_missing_ids,
)
from cjml.io._files import (
    _ACCEPTED,
    DATA_END_ATTR,
    TIMEZONE_ATTR,
    _read_path,
    recorded_data_end,
    timezone_for,
)
from cjml.io._messages import (
    _MAX_SHOWN,
    _NUMERIC_COLUMNS,
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    _Context,
    _Origin,
    _plural,
    _spelling_fix,
    _user_stacklevel,
    _written_differently,
)
from cjml.io._rejects import build_with_rejects, empty_rejects, rejects_frame
from cjml.io._timestamps import (
    _TIMESTAMP_UNITS,
    LATE_EVENT_DAYS,
    _check_timezone,
    _day_counts,
    _epoch_error,
    _odd_dates_warnings,
    _timestamps_ns,
    naive_times,
    to_utc_timestamp,
)
from cjml.io._values import _channel_codes, _checked_codes, _code_dtype, _customer_codes
from cjml.journey import JourneyMap

__all__ = [
    "CANONICAL_COLUMNS",
    "DEFAULT_PURCHASES",
    "LATE_EVENT_DAYS",
    "REQUIRED_COLUMNS",
    "EventLog",
    "EventLogSummary",
    "read_events",
    "to_utc_timestamp",
]

#: The purchase touchpoints when nothing says which they are
#: (:meth:`EventLog.purchase_touchpoints`).
DEFAULT_PURCHASES: tuple[str, ...] = ("purchase",)


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- input origin


# --------------------------------------------------------------------------- columns


# --------------------------------------------------------------------------- customer lists


# --------------------------------------------------------------------------- readers


# --------------------------------------------------------------------------- columns to arrays


# --------------------------------------------------------------------------- whole-log checks


def _sort_codes(s: pd.Series) -> np.ndarray:
    """Order-preserving integer codes of any column, independent of the row order."""
    try:
        codes, _ = pd.factorize(s, sort=True)
        return codes
    except TypeError:
        pass
    try:
        codes, uniques = pd.factorize(s)
    except TypeError:  # unhashable cells (lists, dicts): compare their repr
        codes, uniques = pd.factorize(s.map(repr), sort=True)
        return codes
    keys = np.array([f"{type(u).__name__}\x00{u!r}" for u in uniques], dtype=object)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.argsort(keys, kind="stable")] = np.arange(len(keys))
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    eq = a == b
    if a.dtype.kind == "f":
        eq |= np.isnan(a) & np.isnan(b)
    return eq


@dataclass(frozen=True)
class _Order:
    """The canonical order of a log's rows and its sort keys in that order."""

    perm: np.ndarray  # input position of each sorted row (int64)
    same: np.ndarray  # same[i]: sorted row i + 1 ties with row i on all three keys
    cust: np.ndarray  # the customer keys, sorted
    ts: np.ndarray  # the times, sorted
    tp: np.ndarray  # the touchpoint codes, sorted


def _sorted_with_rows(key: np.ndarray, row_bits: int) -> np.ndarray:
    """``key`` (non-negative, below ``2**(63 - row_bits)``; overwritten) sorted with
    each row's input position packed into its low ``row_bits`` bits.

    Equal keys then sort by position, so the order is stable; and sorting the
    values is a SIMD sort, several times faster than ``np.argsort`` and a hash
    factorisation of the ids. One sort in place on one core: numpy's SIMD sort of
    10M keys (0.14 s) beats each half sorted on its own thread and then merged
    (0.18 s, and the merge's copy is fresh pages in a new process).
    """
    key <<= row_bits
    key |= np.arange(len(key), dtype=np.int64)
    _sort_in_place(key)
    return key


def _sort_in_place(key: np.ndarray) -> None:
    """Sort ``key`` (distinct values) in place: numpy's SIMD sort on one core, or, where
    that sort is slow (:func:`cjml._numpy_kernels.numpy_sort_is_slow`: its AVX-512 kernels on
    AMD Zen 4), each half on its own thread and then one merge (a stable sort of two
    sorted runs is a single merge pass): 0.38 s for 10M keys there instead of 0.64 s.
    The values are distinct, so either way gives the same array."""
    if (
        len(key) < _PARALLEL_ROWS
        or threading.current_thread() is not threading.main_thread()
        or not numpy_sort_is_slow()
    ):
        key.sort()
        return
    half = len(key) // 2
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(np.ndarray.sort, (key[:half], key[half:])))
    key.sort(kind="stable")


def _multiples(values: np.ndarray, of: int) -> bool:
    """Whether every value is a multiple of ``of``, a block at a time: one remainder of 10M
    times in a new array takes four times as long, most of it in the array's fresh pages."""
    block = 1 << 18
    return not any(np.any(values[i : i + block] % of) for i in range(0, len(values), block))


def _time_order(ts: np.ndarray, tp: np.ndarray, n_tp: int, row_bits: int) -> np.ndarray:
    """The stable order of the rows by (time, touchpoint)."""
    t0 = int(ts.min())
    span = int(ts.max()) - t0
    if span >= 2**62:
        return np.lexsort((tp, ts))
    rel = ts - t0
    # the coarsest resolution every time is a multiple of; a spread sample turns most
    # candidates down before a pass over all the times
    sample = rel[:: max(1, len(rel) // 4096)]
    res = next(
        (r for r in (10**9, 10**6, 10**3) if not np.any(sample % r) and _multiples(rel, r)), 1
    )
    width = span // res + 1
    if width * n_tp >= 2**62:
        return np.lexsort((tp, ts))
    if res > 1:
        rel //= res
    rel *= n_tp
    rel += tp  # one key: time at its resolution, then touchpoint
    if (width * n_tp - 1).bit_length() + row_bits <= 63:
        packed = _sorted_with_rows(rel, row_bits)
        packed &= (1 << row_bits) - 1
        return packed
    # numpy's default (SIMD) sort is about four times faster than its stable one;
    # only exact ties need their input order restored.
    perm = np.argsort(rel)
    sorted_key = rel[perm]
    same = sorted_key[1:] == sorted_key[:-1]
    if same.any():
        _input_order_within_ties(perm, same)
    return perm


def _primary_order(cust: np.ndarray, ts: np.ndarray, tp: np.ndarray, n_tp: int) -> _Order:
    """Stable order by (customer, time, touchpoint), and which rows tie with the previous.

    Two stable sorts, by (time, touchpoint) then by customer, make one by the
    three keys. ``cust`` holds any order-preserving int64 keys of the ids (the
    ids themselves when they are whole numbers).
    """
    n = len(ts)
    row_bits = max(n - 1, 1).bit_length()
    by_time = _time_order(ts, tp, n_tp, row_bits).astype(np.int64, copy=False)
    c0 = int(cust.min()) if n else 0
    span = int(cust.max()) - c0 if n else 0
    keys = _take(cust, by_time)
    if span.bit_length() + row_bits <= 63:
        keys -= c0
        packed = _sorted_with_rows(keys, row_bits)
        at = packed & ((1 << row_bits) - 1)
        packed >>= row_bits
        packed += c0
        cust_s = packed
    else:
        at = np.argsort(keys, kind="stable")
        cust_s = keys[at]
    perm = _take(by_time, at)
    ts_s, tp_s = _gather({"ts": ts, "tp": tp}, perm).values()
    same = cust_s[1:] == cust_s[:-1]
    same &= ts_s[1:] == ts_s[:-1]
    same &= tp_s[1:] == tp_s[:-1]
    return _Order(perm, same, cust_s, ts_s, tp_s)


def _input_order_within_ties(perm: np.ndarray, same: np.ndarray) -> None:
    """Sort, in place, each run of tied positions of ``perm`` (``same[i]``: position
    ``i + 1`` ties with ``i``) into input order, which makes any sort stable."""
    tied = np.zeros(len(perm), dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    where = np.flatnonzero(tied)
    run = np.cumsum(np.r_[True, ~same[where[1:] - 1]])  # a run starts where no tie links back
    rows = perm[where]
    perm[where] = rows[np.lexsort((rows, run))]


def _refine(
    perm: np.ndarray, same: np.ndarray, key_fns: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Sort each run of tied rows by more keys; return the new order and ties.

    ``same[i]`` says sorted row ``i + 1`` equals row ``i``. Each function of ``key_fns``
    takes input positions and returns their key values (only tied rows are looked at,
    so factorising an extra column costs little).
    """
    tied_prev = np.concatenate([[False], same])
    in_run = tied_prev | np.concatenate([same, [False]])
    at = np.flatnonzero(in_run)
    rows = perm[at]
    run_id = np.cumsum(~tied_prev[at])
    keys = [np.asarray(fn(rows)) for fn in key_fns]
    order = np.lexsort(tuple(reversed([run_id, *keys])))
    perm = perm.copy()
    perm[at] = rows[order]
    run_id = run_id[order]
    eq = run_id[1:] == run_id[:-1]
    for k in keys:
        k = k[order]
        eq &= _equal(k[1:], k[:-1])
    new_same = np.zeros_like(same)
    new_same[at[1:][eq] - 1] = True
    return perm, new_same


#: Below this many rows, gathering columns on two threads costs more than it saves.
_PARALLEL_ROWS = 500_000


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` for a numpy array; for a large one, each half of ``index`` on
    its own thread (a random gather waits on memory, and numpy releases the GIL)."""
    n = len(index)
    if n < _PARALLEL_ROWS or threading.current_thread() is not threading.main_thread():
        return values[index]
    out = np.empty(n, dtype=values.dtype)
    halves = (slice(0, n // 2), slice(n // 2, n))
    # mode="clip": "raise" would buffer ``out``; the index is a permutation made here
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda h: np.take(values, index[h], out=out[h], mode="clip"), halves))
    return out


#: A float column with at least this share of missing values is gathered by moving its
#: values only (survey scores, amounts: most events have none).
_SPARSE_SHARE = 0.5


def _gather(columns: Mapping[Hashable, Any], perm: np.ndarray) -> dict[Hashable, Any]:
    """Each column (numpy or pandas array) taken at ``perm`` (distinct row positions).

    For a large log the columns are gathered on two threads: numpy and pandas
    release the GIL while they copy, and the gathers are independent. Inside a
    worker thread (batch scoring runs one log per thread) they stay on it.

    A random gather waits on memory for every row. A large float column that is
    mostly missing is instead filled with NaN and its few values moved to their
    new rows, through the inverse of ``perm`` (computed once, for all such columns).
    """
    parallel = (
        len(perm) >= _PARALLEL_ROWS
        and len(columns) >= 2
        and threading.current_thread() is threading.main_thread()
    )
    sparse = {
        k
        for k, v in columns.items()
        if parallel
        and isinstance(v, np.ndarray)
        and v.dtype == np.float64
        and np.count_nonzero(v == v) <= (1 - _SPARSE_SHARE) * len(v)  # v == v: not NaN
    }

    def inverse() -> np.ndarray:
        destination = np.full(len(next(iter(columns.values()))), -1, dtype=np.int64)
        destination[perm] = np.arange(len(perm))
        return destination

    def take(key: Hashable) -> Any:
        values = columns[key]
        if key in sparse:
            given = np.flatnonzero(values == values)
            to = destination.result()[given]
            kept = to >= 0  # rows left out of ``perm`` (dropped duplicates) go nowhere
            out = np.full(len(perm), np.nan)
            out[to[kept]] = values[given[kept]]
            return out
        if isinstance(values, np.ndarray):
            # np.take with mode="clip" skips the bounds checks of values[perm] (perm is a
            # permutation made here): a third less time for a random gather of 10M rows
            return np.take(values, perm, mode="clip")
        return values.take(perm)

    if not parallel:
        return {k: take(k) for k in columns}
    with ThreadPoolExecutor(2) as pool:
        # the inverse first, the dense columns next: the sparse ones, which need the
        # inverse, are picked up once it is (nearly) done, and no thread sits waiting
        destination = pool.submit(inverse)
        order = sorted(columns, key=lambda k: k in sparse)
        taken = dict(zip(order, pool.map(take, order), strict=True))
    return {k: taken[k] for k in columns}


class _Beside:
    """``fn(*args)`` run on a second thread while the ``with`` block runs (or, when
    ``parallel`` is false or this is not the main thread, run by :meth:`result`).

    Leaving the block waits for the thread, so an error raised in the block never
    leaves work running behind it; ``result`` re-raises the function's own error.
    """

    def __init__(self, parallel: bool, fn: Any, *args: Any):
        self._call = lambda: fn(*args)
        self._parallel = parallel and threading.current_thread() is threading.main_thread()
        self._pool: ThreadPoolExecutor | None = None
        self._future: Any = None

    def __enter__(self) -> _Beside:
        if self._parallel:
            self._pool = ThreadPoolExecutor(1)
            self._future = self._pool.submit(self._call)
        return self

    def result(self) -> Any:
        return self._future.result() if self._future is not None else self._call()

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _categorical(
    codes: np.ndarray, categories: list[Any], ordered: bool = False
) -> pd.Categorical[Any]:
    """A categorical of codes known to be valid (-1 for missing), without a copy."""
    return pd.Categorical.from_codes(
        codes, dtype=pd.CategoricalDtype(categories, ordered), validate=False
    )


def _column(data: pd.DataFrame, name: Hashable) -> pd.Series:
    """One column, typed as the Series it is (a lambda's default argument loses it)."""
    return data[name]


#: EventLog's cached per-event and per-customer arrays (recomputed by a part of the log).
#: The per-event arrays a part of the log takes from the whole, when already computed.
_PER_EVENT_ARRAYS = (
    "timestamps_ns",
    "touchpoint_codes",
    "stage_codes",
    "activity_mask",
    "churn_mask",
)
_PER_EVENT_CACHE = frozenset(
    {
        "customer_ids",
        "offsets",
        "timestamps_ns",
        "touchpoint_codes",
        "stage_codes",
        "activity_mask",
        "churn_mask",
        "_all_purchases",
        "_purchase_mask",
    }
)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# --------------------------------------------------------------------------- summary
@dataclass(frozen=True, eq=False)
class EventLogSummary:
    """Counts that describe an :class:`EventLog`, for reports and notebooks.

    Parameters
    ----------
    n_customers : int
        Number of distinct customers.
    n_events : int
        Number of events (rows) kept.
    first_timestamp, last_timestamp : pandas.Timestamp
        Earliest and latest event time, in ``timezone``.
    events_per_touchpoint : pandas.Series
        Events per touchpoint, in category order; touchpoints of the map never
        seen have a zero count (a gap worth looking at).
    events_per_stage : pandas.Series
        Events per stage, in journey order, zeros included.
    events_per_channel : pandas.Series or None
        Events per channel (missing channels not counted); None without a
        channel column.
    coverage : dict of str to float or None
        Share of rows with a value in ``satisfaction``, ``nps``, ``effort`` and
        ``amount``; None when the column is absent.
    duplicates_found : int
        Exact duplicate events found (rows equal to an earlier row in every
        column).
    duplicates_removed : int
        Duplicates removed (``drop_duplicates=True``), else 0.
    unknown_touchpoints : tuple of str
        Touchpoints of the log that the journey map does not list.
    journey_map_name : str
        The name of the journey map.
    other_columns : tuple of str
        The log's columns besides the canonical ones (carried along; the customer
        attributes the features can use), as the input names them.
    timezone : str, default "UTC"
        The timezone the log read its times without a zone in (:attr:`EventLog.timezone`),
        which the period is shown in.
    naive_times : bool, default True
        Whether the input's times carried no zone, so that they were read in
        ``timezone`` (the text then says how to give theirs).
    returning_customers : int, default 0
        Customers with events of their own on two days or more: who came back.
    half_silence_days : int, default 0
        Half of the time between their visits is spent in silences this long or longer
        (:func:`cjml._rhythm.half_silence`): what a churn horizon should outlast.
    silent_share_30d : float or None, default None
        The share of that time in silences longer than 30 days, cjml's default horizon:
        the chance a cutoff finds a customer who returns later silent for the whole
        horizon (None without returns).
    same_moment_events : int, default 0
        Events with the customer, time and touchpoint of an earlier event (exact
        duplicates included): the lines of one order, say, which the features count
        as events of their own.
    """

    n_customers: int
    n_events: int
    first_timestamp: pd.Timestamp
    last_timestamp: pd.Timestamp
    events_per_touchpoint: pd.Series
    events_per_stage: pd.Series
    events_per_channel: pd.Series | None
    coverage: dict[str, float | None]
    duplicates_found: int
    duplicates_removed: int
    unknown_touchpoints: tuple[str, ...]
    journey_map_name: str
    other_columns: tuple[str, ...] = ()
    timezone: str = "UTC"
    naive_times: bool = True
    returning_customers: int = 0
    half_silence_days: int = 0
    silent_share_30d: float | None = None
    same_moment_events: int = 0

    _MAX_TOUCHPOINT_LINES = 25
    #: the text names same-moment events from this share of the log on
    _SAME_MOMENT_SHARE = 0.01
    _MAX_OTHER_COLUMNS = 12
    _MAX_CHANNEL_LINES = 10

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-serialisable values.

        Returns
        -------
        dict
            Timestamps as ISO 8601 text, count series as ``{name: count}``.
        """

        def counts(s: pd.Series | None) -> dict[str, int] | None:
            return None if s is None else {str(k): int(v) for k, v in s.items()}

        return {
            "n_customers": int(self.n_customers),
            "n_events": int(self.n_events),
            "first_timestamp": self.first_timestamp.isoformat(),
            "last_timestamp": self.last_timestamp.isoformat(),
            "events_per_touchpoint": counts(self.events_per_touchpoint),
            "events_per_stage": counts(self.events_per_stage),
            "events_per_channel": counts(self.events_per_channel),
            "coverage": {k: (None if v is None else float(v)) for k, v in self.coverage.items()},
            "duplicates_found": int(self.duplicates_found),
            "duplicates_removed": int(self.duplicates_removed),
            "unknown_touchpoints": list(self.unknown_touchpoints),
            "journey_map_name": self.journey_map_name,
            "other_columns": list(self.other_columns),
            "timezone": self.timezone,
            "naive_times": bool(self.naive_times),
            "returning_customers": int(self.returning_customers),
            "half_silence_days": int(self.half_silence_days),
            "silent_share_30d": None
            if self.silent_share_30d is None
            else float(self.silent_share_30d),
            "same_moment_events": int(self.same_moment_events),
        }

    def _same_moment_text(self) -> str | None:
        """Events sharing their customer, time and touchpoint, when they are a noticeable
        share of the log: each counts as an event in the features (frequency, the
        purchases), which is wrong when they are the lines of one order."""
        n = self.same_moment_events
        if not self.n_events or n < self._SAME_MOMENT_SHARE * self.n_events:
            return None
        return (
            f"{_plural(n, 'event')} ({n / self.n_events:.0%}) repeat{'s' if n == 1 else ''} "
            "the customer, time and touchpoint "
            "of another event, as the lines of one order do; each counts as an event in the "
            "features. If they are parts of one event, sum them into one row per customer, "
            "time and touchpoint before reading (amounts add up)"
        )

    def _returns_text(self) -> str:
        """Who came back, and the silences between their visits against a 30-day horizon."""
        if not self.returning_customers or self.silent_share_30d is None:
            return "no customer came back on a later day"
        return (
            f"{_plural(self.returning_customers, 'customer')} came back; half of the time between "
            f"their visits is spent in silences of {_plural(self.half_silence_days, 'day')} "
            "or more, "
            f"{self.silent_share_30d:.0%} in silences longer than 30 days (the default horizon)"
        )

    def _share(self, count: int) -> str:
        return f"{100.0 * count / self.n_events:5.1f}%" if self.n_events else "    -"

    def _coverage_text(self) -> str:
        parts = []
        for col, share in self.coverage.items():
            parts.append(f"{col} not given" if share is None else f"{col} {100 * share:.1f}%")
        return ", ".join(parts)

    def _period_lines(self) -> list[str]:
        """First to last event in the log's timezone, and how times without a zone were read.

        A file's times without a zone are read in UTC unless told otherwise: a local-time
        export then shifts by the zone's offset without a word, so the summary says so.
        """
        first, last = (
            t.tz_localize(None) if t.tzinfo is not None else t
            for t in (self.first_timestamp, self.last_timestamp)
        )
        lines = [f"Period: {first} to {last} ({self.timezone})"]
        if self.timezone == "UTC" and self.naive_times:
            lines.append(
                "  Times without a zone are read as UTC; if they are local times, say their "
                "zone (timezone='Europe/Paris', --timezone Europe/Paris)."
            )
        return lines

    def to_text(self) -> str:
        """A compact plain-text report (a few dozen lines at most), for the CLI.

        Returns
        -------
        str
            Totals, period, duplicates, value coverage, then events per stage,
            touchpoint (unseen ones flagged) and channel.
        """
        unknown = set(self.unknown_touchpoints)
        width = max(
            [len(str(k)) for k in self.events_per_touchpoint.index]
            + [len(str(k)) for k in self.events_per_stage.index]
            + [8]
        )
        width = min(width, 32)
        lines = [
            f"Event log: {self.n_events:,} events from {self.n_customers:,} customers "
            f"(journey map {self.journey_map_name!r})",
            *self._period_lines(),
            f"Duplicates: {self.duplicates_found:,} exact duplicate events found, "
            f"{self.duplicates_removed:,} removed",
            f"Values given: {self._coverage_text()}",
            f"Returns: {self._returns_text()}",
        ]
        same = self._same_moment_text()
        if same:
            lines.append(f"Same moment: {same}")
        lines += [
            "Events per stage:",
        ]
        for name, count in self.events_per_stage.items():
            lines.append(f"  {str(name):<{width}} {int(count):>10,} {self._share(count)}")
        lines.append(
            "Events per touchpoint" + (" (* = not in the journey map):" if unknown else ":")
        )
        tps = list(self.events_per_touchpoint.items())
        for name, count in tps[: self._MAX_TOUCHPOINT_LINES]:
            mark = "*" if name in unknown else " "
            note = "  not seen" if count == 0 else ""
            lines.append(
                f" {mark}{str(name)[:width]:<{width}} {int(count):>10,} {self._share(count)}{note}"
            )
        if len(tps) > self._MAX_TOUCHPOINT_LINES:
            lines.append(f"  ... and {len(tps) - self._MAX_TOUCHPOINT_LINES} more touchpoints")
        if self.events_per_channel is not None:
            lines.append("Events per channel:")
            chans = list(self.events_per_channel.sort_values(ascending=False).items())
            for name, count in chans[: self._MAX_CHANNEL_LINES]:
                lines.append(
                    f"  {str(name)[:width]:<{width}} {int(count):>10,} {self._share(count)}"
                )
            if len(chans) > self._MAX_CHANNEL_LINES:
                lines.append(f"  ... and {len(chans) - self._MAX_CHANNEL_LINES} more channels")
            unsaid = self._events_without_channel()
            if unsaid:  # a file of a folder without the column, or empty cells
                lines.append(f"  {'(no channel)':<{width}} {unsaid:>10,} {self._share(unsaid)}")
        if self.other_columns:
            lines.append(f"Other columns, carried along: {self._other_columns_text()}")
        return "\n".join(lines)

    def _events_without_channel(self) -> int:
        """Events whose channel is missing (the counts per channel leave them out)."""
        if self.events_per_channel is None:
            return 0
        return int(self.n_events - self.events_per_channel.sum())

    def _other_columns_text(self) -> str:
        shown = [
            c if len(c) <= 40 else c[:37] + "..."
            for c in self.other_columns[: self._MAX_OTHER_COLUMNS]
        ]
        more = len(self.other_columns) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        esc = html.escape
        unknown = set(self.unknown_touchpoints)

        def table(title: str, series: pd.Series, mark_unknown: bool = False) -> str:
            rows = []
            for name, count in series.items():
                flag = " *" if mark_unknown and name in unknown else ""
                style = " style='color:#999'" if count == 0 else ""
                rows.append(
                    f"<tr{style}><td>{esc(str(name))}{flag}</td>"
                    f"<td style='text-align:right'>{int(count):,}</td>"
                    f"<td style='text-align:right'>{self._share(count).strip()}</td></tr>"
                )
            return (
                f"<table style='display:inline-table;vertical-align:top;margin-right:2em'>"
                f"<thead><tr><th>{esc(title)}</th><th>events</th><th>share</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>"
            )

        facts = [
            ("customers", f"{self.n_customers:,}"),
            ("events", f"{self.n_events:,}"),
            ("first event", str(self.first_timestamp)),
            ("last event", str(self.last_timestamp)),
            ("timezone", self.timezone),
            ("duplicates", f"{self.duplicates_found:,} found, {self.duplicates_removed:,} removed"),
            ("values given", self._coverage_text()),
            ("returns", self._returns_text()),
            ("journey map", self.journey_map_name),
        ]
        same = self._same_moment_text()
        if same:
            facts.insert(-1, ("same moment", same))
        if self.unknown_touchpoints:
            facts.append(("not in the map", ", ".join(self.unknown_touchpoints)))
        if self.other_columns:
            facts.append(("other columns", self._other_columns_text()))
        head = "".join(
            f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts
        )
        parts = [
            f"<div class='cjml-event-log'><b>Event log</b><table>{head}</table>",
            table("stage", self.events_per_stage),
            table("touchpoint", self.events_per_touchpoint, mark_unknown=True),
        ]
        if self.events_per_channel is not None:
            per_channel = self.events_per_channel
            if self._events_without_channel():
                per_channel = pd.concat(
                    [per_channel, pd.Series({"(no channel)": self._events_without_channel()})]
                )
            parts.append(table("channel", per_channel))
        if unknown:
            parts.append("<p>* not in the journey map</p>")
        parts.append("</div>")
        return "".join(parts)


# --------------------------------------------------------------------------- EventLog
class EventLog:
    """A validated event log in canonical form, sorted by customer then time.

    Build one with :func:`read_events` (DataFrame, CSV, Parquet, folders) or
    :meth:`from_frame`; calling ``EventLog(df, ...)`` is the same as
    :meth:`from_frame`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per event, with the user's column names.
    columns : mapping or str, optional
        Canonical name -> the user's column name, e.g.
        ``{"customer_id": "user", "timestamp": "event_time"}``, or the same as
        text ``"customer_id=user,timestamp=event_time"``. Canonical columns not
        mapped are taken by their own name when present.
    journey_map : JourneyMap, dict, str or Path, optional
        The journey map (stages and touchpoints), a dict for
        :meth:`JourneyMap.from_dict` or a ``.toml``/``.json`` file; None for
        :meth:`JourneyMap.default`.
    timezone : str or tzinfo, default "UTC"
        Timezone of naive timestamps (without offset). Timestamps with an
        offset or a timezone keep their instant; all are stored in UTC. A
        naive time in the hour a daylight-saving change repeats is read as its
        first occurrence, one in the hour it skips an hour later, with a warning.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Read numeric timestamps as Unix epoch times in this unit. Without it,
        numeric timestamps are refused.
    drop_duplicates : bool, default False
        Remove exact duplicate events (equal in every column). They are always
        counted and reported in a warning either way.
    missing_ids : sequence of str or str, optional
        Customer ids that mean "missing", e.g. ``["NA", "null"]`` or
        ``"NA,null"``. By default only a missing cell or empty text is a
        missing id: ``"NA"``, ``"null"`` and ``"None"`` are ids like any other.

    Attributes
    ----------
    frame : pandas.DataFrame
        The canonical events (treat as read-only): ``customer_id``,
        ``timestamp`` (``datetime64[ns, UTC]``), ``touchpoint`` (categorical:
        the map's touchpoints, then unknown ones sorted), ``stage`` (ordered
        categorical of the map's stages), the optional canonical columns that
        were given, then the user's extra columns.
    journey_map : JourneyMap
        The map used for touchpoint and stage categories.
    unknown_touchpoints : tuple of str
        Touchpoints of the log that the map does not list.
    duplicates_found, duplicates_removed : int
        Exact duplicate events found, and removed.
    timezone : str or tzinfo
        The timezone naive timestamps were read in.

    Raises
    ------
    SchemaError
        When the events do not fit the contract (see :func:`read_events`).

    Warns
    -----
    UserWarning
        When exact duplicate events are found, or when touchpoints not in the
        map come with a given stage.
    """

    #: The input rows set aside by on_error="quarantine" (see :attr:`rejects`).
    _rejects: pd.DataFrame | None = None
    #: While :meth:`_setup` runs, the positions of the rows given that are events.
    _kept_rows: np.ndarray | None = None
    #: The touchpoint of every event, when read with read_events(touchpoint=...).
    _constant_touchpoint: str | None = None
    #: The end of the period the log covers, when the reader was told (``data_end=``).
    _data_end_given: pd.Timestamp | None = None
    #: Read from a folder: its columns that some files lack, with how many, and its files.
    _lacking_in_files: tuple[tuple[Hashable, int], ...] = ()
    _n_files: int = 1

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        columns: Mapping[str, Hashable] | str | None = None,
        journey_map: JourneyMap | Mapping[str, Any] | str | Path | None = None,
        timezone: Any = "UTC",
        timestamp_unit: str | None = None,
        drop_duplicates: bool = False,
        missing_ids: Sequence[str] | str | None = None,
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"EventLog expects a pandas DataFrame, got {type(data).__name__}. Use "
                "cjml.read_events for CSV, Parquet and JSON Lines files."
            )
        index = None if data.index.equals(pd.RangeIndex(len(data))) else data.index
        self._checked_setup(
            data,
            _Origin(index=index),
            text_ints=False,
            columns=columns,
            journey_map=journey_map,
            timezone=timezone,
            timestamp_unit=timestamp_unit,
            drop_duplicates=drop_duplicates,
            missing_ids=missing_ids,
        )

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        columns: Mapping[str, Hashable] | str | None = None,
        journey_map: JourneyMap | Mapping[str, Any] | str | Path | None = None,
        timezone: Any = "UTC",
        timestamp_unit: str | None = None,
        drop_duplicates: bool = False,
        missing_ids: Sequence[str] | str | None = None,
    ) -> EventLog:
        """Validate a DataFrame of events and put it in canonical form.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per event, with the user's column names. It is not modified.
        columns : mapping or str, optional
            Canonical name -> the user's column name (or
            ``"customer_id=user,timestamp=event_time"``).
        journey_map : JourneyMap, dict, str or Path, optional
            The journey map; None for the default map.
        timezone : str or tzinfo, default "UTC"
            Timezone of naive timestamps.
        timestamp_unit : {"s", "ms", "us", "ns"}, optional
            Unit of numeric (epoch) timestamps.
        drop_duplicates : bool, default False
            Remove exact duplicate events.
        missing_ids : sequence of str or str, optional
            Customer ids that mean "missing" (e.g. ``["NA", "null"]``); by
            default every id but an empty one is an id.

        Returns
        -------
        EventLog
            The validated log, sorted by customer then time.

        Raises
        ------
        SchemaError
            When the events do not fit the contract (see :func:`read_events`).
        """
        return cls(
            df,
            columns=columns,
            journey_map=journey_map,
            timezone=timezone,
            timestamp_unit=timestamp_unit,
            drop_duplicates=drop_duplicates,
            missing_ids=missing_ids,
        )

    @classmethod
    def _from_source(
        cls, data: pd.DataFrame, origin: _Origin, text_ints: bool, **options: Any
    ) -> EventLog:
        """An EventLog of rows read from files (``origin`` names them in messages).

        ``log_checks=False`` skips the checks on the whole log's times (within a
        year of 1970, events far past the rest): ``score`` makes them once over
        the input, not per chunk.
        """
        self = cls.__new__(cls)
        self._checked_setup(data, origin, text_ints=text_ints, **options)
        return self

    def _checked_setup(self, data: pd.DataFrame, origin: _Origin, **options: Any) -> None:
        """:meth:`_setup`, its errors' ``positions`` in ``data`` as given: rows that are not
        events (blank lines, repeated headers) are left out before the rules run, and a
        program that sets the rows at fault aside (``on_error="quarantine"``) must remove
        those rows, not the ones at the same places among the events left."""
        self._kept_rows = None
        try:
            self._setup(data, origin, **options)
        except SchemaError as err:
            if err.positions is not None and self._kept_rows is not None:
                err.positions = self._kept_rows[err.positions]
            raise
        finally:
            self._kept_rows = None  # n positions: not kept for the log's lifetime

    # ----------------------------------------------------------------- validation
    def _setup(
        self,
        data: pd.DataFrame,
        origin: _Origin,
        *,
        text_ints: bool,
        columns: Any,
        journey_map: Any,
        timezone: Any,
        timestamp_unit: str | None,
        drop_duplicates: bool,
        missing_ids: Any = None,
        log_checks: bool = True,
    ) -> None:
        if timestamp_unit is not None and timestamp_unit not in _TIMESTAMP_UNITS:
            raise ValueError(
                f"timestamp_unit={timestamp_unit!r} is not allowed; use one of "
                f"{list(_TIMESTAMP_UNITS)!r} (or None for dates)."
            )
        if not isinstance(drop_duplicates, bool | np.bool_):
            raise ValueError(f"drop_duplicates must be True or False, got {drop_duplicates!r}.")
        _check_timezone(timezone)
        missing_ids = parse_missing_ids(missing_ids)
        jmap = JourneyMap.coerce(journey_map)
        mapping = _parse_columns(columns)

        if len(data) == 0:
            where = f" from {', '.join(origin.names)!r}" if origin.names else ""
            raise SchemaError(
                f"The event log{where} has no rows (columns: {list(data.columns)!r}). "
                "Fix: pass a log with at least one event (customer_id, timestamp, touchpoint)."
            )
        resolved = _resolve_columns(
            mapping, list(data.columns), [n for n in data.index.names if n is not None]
        )
        data = _without_nested_extras(data, resolved)
        if log_checks:  # once per log, not per chunk of score
            _warn_variant_columns(resolved, list(data.columns))
        data, origin, self._kept_rows = _without_non_events(data, resolved, origin)
        if len(data) == 0:
            raise SchemaError(
                "The event log has only blank rows (no customer id, timestamp or touchpoint). "
                "Fix: pass a log with at least one event."
            )
        ctx = _Context(data, resolved, origin)
        n = len(data)

        cust_keys, customer_ids = _customer_codes(ctx, text_ints, missing_ids)
        if log_checks and customer_ids is not None:
            _warn_spaced_ids(customer_ids, ctx.label("customer_id"), resolved["customer_id"])
            _warn_case_ids(
                _case_twins(customer_ids), ctx.label("customer_id"), resolved["customer_id"]
            )
            _warn_placeholder_ids(customer_ids, ctx.label("customer_id"))
        # The touchpoint, stage and score checks do not depend on the times: for a
        # large log they run on a second thread while the times are parsed and checked
        # (numpy and pandas release the GIL in both). They neither warn nor change
        # shared state, and the times' errors still come first, as on one thread.
        with _Beside(n >= _PARALLEL_ROWS, _checked_codes, ctx, jmap) as codes_job:
            ts_ns = _timestamps_ns(ctx, timezone, timestamp_unit)
            if log_checks:
                epoch = _epoch_error(
                    ctx.label("timestamp"),
                    int(ts_ns.min()),
                    int(ts_ns.max()),
                    timestamp_unit,
                    ctx.resolved.get("timestamp", "timestamp"),
                )
                if epoch is not None:
                    raise epoch
                days = _day_counts(ts_ns)
                for message in _odd_dates_warnings(ctx.label("timestamp"), days, ts_ns.max()):
                    warnings.warn(message, UserWarning, stacklevel=_user_stacklevel())
            # the channels refuse nothing: coded here, they shorten the wait for the checks
            channel_codes, channel_cats = _channel_codes(ctx)
            codes = codes_job.result()
        tp_codes, tp_categories, n_known = codes.tp_codes, codes.tp_categories, codes.n_known
        unknown, given, numeric = codes.unknown, codes.given, codes.numeric
        stages = jmap.stages

        # Sort by customer, time, then the other canonical columns so that the row order
        # of the input never shows. Secondary keys only sort the runs of tied rows.
        order = _primary_order(cust_keys, ts_ns, tp_codes, len(tp_categories))
        perm, same = order.perm, order.same
        more = (
            ([given] if given is not None else [])
            + ([channel_codes] if channel_codes is not None else [])
            + list(numeric.values())
        )
        if same.any() and more:
            perm, same = _refine(perm, same, [k.__getitem__ for k in more])
        extras = [c for c in data.columns if c not in set(resolved.values())]
        if same.any() and extras:
            perm, same = _refine(
                perm,
                same,
                [(lambda rows, c=c: _sort_codes(_column(data, c).iloc[rows])) for c in extras],
            )
        # _refine reorders rows only within runs of ties, which share all three keys:
        # the sorted keys stay valid.
        cust_sorted, ts_s, tp_s = order.cust, order.ts, order.tp
        dup_sorted = np.concatenate([[False], same])
        n_dup = int(dup_sorted.sum())
        if n_dup:
            # each duplicate and the first row of its run, five smallest positions, for the report
            run_start = np.maximum.accumulate(np.where(dup_sorted, 0, np.arange(n)))
            dup_at = np.flatnonzero(dup_sorted)
            shown_at = dup_at[np.argsort(perm[dup_at], kind="stable")[:_MAX_SHOWN]]
            dup_pairs = [(int(perm[i]), int(perm[run_start[i]])) for i in shown_at]
        if drop_duplicates and n_dup:
            kept = ~dup_sorted
            perm, cust_sorted, ts_s, tp_s = perm[kept], cust_sorted[kept], ts_s[kept], tp_s[kept]

        # The other columns in canonical order: independent gathers, on two threads for a
        # large log (numpy releases the GIL while it copies).
        inputs: dict[Hashable, Any] = {
            ("given",): given,
            ("channel",): channel_codes,
            **numeric,
            **{(c,): _column(data, c).array for c in extras},
        }
        gathered = _gather({k: v for k, v in inputs.items() if v is not None}, perm)

        if customer_ids is None:  # the keys are the ids: dense codes from where they change
            starts = np.empty(len(cust_sorted), dtype=bool)
            starts[:1] = True
            np.not_equal(cust_sorted[1:], cust_sorted[:-1], out=starts[1:])
            cust_s = starts.astype(np.int64)
            np.cumsum(cust_s, out=cust_s)  # in place: several times faster than from bools
            cust_s -= 1
            customer_ids = pd.Index(cust_sorted[starts])
            id_column = pd.Series(cust_sorted, copy=False)
        else:
            cust_s = cust_sorted
            id_column = pd.Series(customer_ids.take(cust_s))

        # Stage: running max of the stage evidence per customer, clipped to the
        # touchpoint's stage range. Adding customer * n_stages makes one global
        # cumulative max behave as a per-customer one (codes are sorted).
        given_s = gathered.get(("given",))
        if given_s is None or (given_s < 0).any():
            lo, hi = jmap.stage_bounds()
            pad = len(tp_categories) - n_known
            lo_all = np.concatenate([lo, np.zeros(pad, dtype=lo.dtype)]).astype(np.int64)
            hi_all = np.concatenate([hi, np.full(pad, len(stages) - 1, dtype=hi.dtype)]).astype(
                np.int64
            )
            lo_s = lo_all[tp_s]
            evidence = lo_s if given_s is None else np.where(given_s < 0, lo_s, given_s)
            shift = cust_s * len(stages)
            running = np.maximum.accumulate(shift + evidence) - shift
            derived = np.clip(running, lo_s, hi_all[tp_s])
            stage_codes = derived if given_s is None else np.where(given_s < 0, derived, given_s)
            stage_codes = stage_codes.astype(
                given_s.dtype if given_s is not None else _code_dtype(len(stages))
            )
        else:
            stage_codes = given_s

        out: dict[Hashable, Any] = {
            "customer_id": id_column,
            "timestamp": pd.Series(ts_s.view("M8[ns]"), dtype="datetime64[ns, UTC]", copy=False),
            "touchpoint": _categorical(tp_s, tp_categories),
            "stage": _categorical(stage_codes, list(stages), ordered=True),
        }
        if channel_codes is not None and channel_cats is not None:
            out["channel"] = _categorical(gathered[("channel",)], list(channel_cats))
        for c in numeric:
            out[c] = gathered[c]
        for c in extras:
            out[c] = pd.Series(gathered[(c,)], copy=False)
        frame = pd.DataFrame(out, copy=False)
        frame.index = pd.RangeIndex(len(frame))

        self._frame = frame
        self._journey_map = jmap
        self._columns = {c: resolved[c] for c in CANONICAL_COLUMNS if c in resolved}
        self._extra_columns = tuple(extras)
        self._customer_ids = customer_ids
        self._customer_codes = _frozen(cust_s.astype(np.int64, copy=False))
        self._source_rows = _frozen(perm)
        self._unknown = tuple(unknown)
        self._duplicates_found = n_dup
        self._duplicates_removed = n_dup if drop_duplicates else 0
        self._timezone = timezone
        self._naive_times = naive_times(ctx.raw("timestamp"))
        if log_checks:
            _warn_crowded_ids(
                np.bincount(cust_s, minlength=len(customer_ids)),
                customer_ids,
                ctx.label("customer_id"),
                resolved["customer_id"],
            )

        if unknown:
            counts = np.bincount(tp_codes, minlength=len(tp_categories))[n_known:]
            misspelt = _written_differently(unknown, list(tp_categories[:n_known]))
            listed = ", ".join(
                f"{name!r} ({int(k):,})" for name, k in zip(unknown, counts, strict=True)
            )
            warnings.warn(
                f"{_plural(len(unknown), 'touchpoint')} of {ctx.label('touchpoint')} "
                f"{'is' if len(unknown) == 1 else 'are'} not in journey map {jmap.name!r}: "
                f"{listed}. They are kept, with the stage given in the data, but cjml cannot "
                "recommend them."
                + _spelling_fix(misspelt, "touchpoint", ctx.resolved.get("touchpoint"))
                + (
                    ""
                    if len(misspelt) == len(unknown)
                    else f" Fix{' for the others' if misspelt else ''}: add them to the "
                    "journey map if the business can act on them."
                ),
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        if n_dup:
            shown = "\n".join(
                f"  {origin.where(a)} repeats {origin.where(b)}" for a, b in dup_pairs[:_MAX_SHOWN]
            )
            more_rows = f"\n  ... and {n_dup - _MAX_SHOWN:,} more" if n_dup > _MAX_SHOWN else ""
            action = (
                "They were removed (drop_duplicates=True, --drop-duplicates)."
                if drop_duplicates
                else "They are kept. Fix: pass drop_duplicates=True (--drop-duplicates) to "
                "remove them, if they are double-logged events."
            )
            warnings.warn(
                f"Found {_plural(n_dup, 'exact duplicate event')} (equal to an earlier row "
                f"in every column):\n{shown}{more_rows}\n{action}",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )

    # ----------------------------------------------------------------- attributes
    @property
    def frame(self) -> pd.DataFrame:
        """The canonical events, sorted by customer then time (treat as read-only)."""
        return self._frame

    @property
    def journey_map(self) -> JourneyMap:
        """The journey map used for touchpoints and stages."""
        return self._journey_map

    @property
    def columns(self) -> dict[str, Hashable]:
        """Canonical name -> the user's column, for every canonical column present."""
        return dict(self._columns)

    @property
    def constant_touchpoint(self) -> str | None:
        """The touchpoint of every event, when the log was read without a touchpoint
        column as ``read_events(..., touchpoint="purchase")``; None otherwise."""
        return self._constant_touchpoint

    @property
    def columns_not_in_every_file(self) -> dict[Hashable, str]:
        """The columns that some files of the folder the log was read from lack (their rows
        read them empty), each with how many: ``{"plan": "1 of 2 files lack it"}``.

        Empty for a single file or a DataFrame. A customer attribute from such a column
        tells which export an event came from rather than who the customer is, so the
        features leave it out unless it is named (see :class:`cjml.JourneyFeaturizer`).
        """
        return {
            column: f"{n} of {self._n_files} files lack it" for column, n in self._lacking_in_files
        }

    @property
    def extra_columns(self) -> tuple[Hashable, ...]:
        """The user's other columns, carried along after the canonical ones."""
        return self._extra_columns

    @property
    def timezone(self) -> Any:
        """The timezone naive input timestamps were read in."""
        return self._timezone

    @property
    def data_end(self) -> pd.Timestamp:
        """When the period the log covers ends (UTC, exclusive): label windows end by it.

        The ``data_end`` given to :func:`read_events` (``--data-end``); by default
        midnight UTC after the day of the last event, taking the log to cover whole
        days. A customer with no event between a cutoff and this end looks churned
        only if the horizon fits before it, which is why labels need it.
        """
        if self._data_end_given is not None:
            return self._data_end_given
        return self._day_after_last_event

    @cached_property
    def _day_after_last_event(self) -> pd.Timestamp:
        # once per log: the parts a large log is featurized in each ask for it
        last = pd.Timestamp(int(self.timestamps_ns.max()), tz="UTC")
        return last.floor("D") + pd.Timedelta(days=1)

    def _ending_at(self, data_end: Any) -> EventLog:
        """This log, told that the period it covers ends at ``data_end`` (not copied)."""
        end = to_utc_timestamp(data_end, self._timezone)
        last_ns = int(self.timestamps_ns.max())
        if end.value <= last_ns:
            later = int(np.count_nonzero(self.timestamps_ns >= end.value))
            last = pd.Timestamp(last_ns, tz="UTC")
            raise ValueError(
                f"--data-end {data_end} (data_end={str(data_end)!r}) ends the log's period at "
                f"{end}, yet {later:,} event(s) happen at or after it, the last at {last}: "
                "the log covers the events before its end. Give a later end, such as "
                f"{(last.floor('D') + pd.Timedelta(days=1)).date()}, or leave it out."
            )
        out = object.__new__(EventLog)
        out.__dict__.update(self.__dict__)
        out._data_end_given = end
        return out

    @property
    def unknown_touchpoints(self) -> tuple[str, ...]:
        """Touchpoints of the log that the journey map does not list (sorted)."""
        return self._unknown

    @property
    def duplicates_found(self) -> int:
        """Number of exact duplicate events found in the input."""
        return self._duplicates_found

    @property
    def rejects(self) -> pd.DataFrame:
        """The input rows set aside by ``read_events(..., on_error="quarantine")``.

        One row per rejected input row: ``row`` (0-based, over the whole input),
        ``location`` (file and line), ``column`` (yours), ``reason``, then the
        row's cells as text, as ``score --on-error quarantine`` writes them.
        Empty when no row was set aside.
        """
        rejects = getattr(self, "_rejects", None)
        return empty_rejects([]) if rejects is None else rejects.copy()

    @property
    def duplicates_removed(self) -> int:
        """Number of duplicate events removed (only with ``drop_duplicates=True``)."""
        return self._duplicates_removed

    @property
    def n_events(self) -> int:
        """Number of events (rows)."""
        return len(self._frame)

    @property
    def n_customers(self) -> int:
        """Number of distinct customers."""
        return len(self._customer_ids)

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def customer_codes(self) -> np.ndarray:
        """Dense customer codes per row (int64, 0..n_customers-1, non-decreasing)."""
        return self._customer_codes

    @cached_property
    def customer_ids(self) -> np.ndarray:
        """The distinct customer ids, in sorted order (``customer_ids[customer_codes]``)."""
        return _frozen(self._customer_ids.to_numpy().copy())

    @cached_property
    def offsets(self) -> np.ndarray:
        """Start of each customer's rows (int64, length n_customers + 1, last = n_events)."""
        counts = np.bincount(self._customer_codes, minlength=self.n_customers)
        return _frozen(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    @cached_property
    def timestamps_ns(self) -> np.ndarray:
        """Event times as int64 nanoseconds since the Unix epoch (UTC)."""
        return _frozen(
            np.asarray(pd.DatetimeIndex(self._frame["timestamp"]).asi8, dtype=np.int64).copy()
        )

    @cached_property
    def touchpoint_codes(self) -> np.ndarray:
        """Touchpoint category codes per row (int64; see ``frame.touchpoint.cat.categories``)."""
        return _frozen(self._frame["touchpoint"].cat.codes.to_numpy().astype(np.int64))

    @cached_property
    def stage_codes(self) -> np.ndarray:
        """Stage index per row (int64, position in ``journey_map.stages``)."""
        return _frozen(self._frame["stage"].cat.codes.to_numpy().astype(np.int64))

    @cached_property
    def activity_mask(self) -> np.ndarray | None:
        """Which events show that their customer is still there; None when all do.

        Events of the journey map's ``outbound`` touchpoints (a newsletter
        sent, a reminder mailed) record the business reaching out, not the
        customer acting, so drop-off labels, populations and activity features
        leave them out. None (nothing to leave out) costs nothing.
        """
        sent = self._events_of(self._journey_map.outbound_touchpoints)
        return None if sent is None else _frozen(~sent)

    @cached_property
    def churn_mask(self) -> np.ndarray | None:
        """Which events are the customer leaving (the map's ``churn`` touchpoints); None: none.

        A cancellation, an account closed: drop-off counts them as well as silence.
        """
        return self._events_of(self._journey_map.churn_touchpoints)

    def _events_of(self, names: Sequence[str]) -> np.ndarray | None:
        """Which events are of one of the touchpoints ``names``; None when none of them is."""
        cats, chosen = self._frame["touchpoint"].cat.categories, set(names)
        wanted = np.array([name in chosen for name in cats], dtype=bool)
        return _frozen(wanted[self.touchpoint_codes]) if wanted.any() else None

    def purchase_touchpoints(
        self, requested: Sequence[str] = DEFAULT_PURCHASES, *, until_ns: int | None = None
    ) -> tuple[str, ...]:
        """Which touchpoints are purchases: the one rule every part of cjml follows.

        The value features, the BG/NBD baselines, a purchase that brings back a
        customer who cancelled (:meth:`gone_at`) and the panel's timeline all ask
        here, so a log whose purchases are not named ``purchase`` is read the same
        way by each. In order:

        1. ``requested``, when it is not the default ``("purchase",)``;
        2. the touchpoints the journey map marks ``purchase = true``;
        3. ``purchase``, when the log or the map has it;
        4. in a log with amounts, every touchpoint with a positive amount (an
           ``order``, a ``renewal``) among the events at or before ``until_ns``;
        5. else ``("purchase",)``, which matches nothing.

        Parameters
        ----------
        requested : sequence of str, default ("purchase",)
            The touchpoints asked for (``ValueFeatures(purchase_touchpoints=...)``).
        until_ns : int, optional
            Rule 4 looks only at events at or before this time (ns since the
            epoch, UTC): a fit at a cutoff learns nothing from later events.

        Returns
        -------
        tuple of str
            The purchase touchpoints.

        Examples
        --------
        >>> import pandas as pd
        >>> import cjml
        >>> shop = cjml.JourneyMap.from_dict({"stages": ["visit", "buy"], "touchpoints": {
        ...     "website_visit": {"channel": "online", "stages": ["visit"]},
        ...     "order": {"channel": "online", "stages": ["buy"]}}})
        >>> log = cjml.read_events(pd.DataFrame({
        ...     "customer_id": [1, 1, 2],
        ...     "timestamp": ["2024-01-01", "2024-01-05", "2024-01-02"],
        ...     "touchpoint": ["website_visit", "order", "order"],
        ...     "amount": [None, 30.0, 12.5]}), journey_map=shop)
        >>> log.purchase_touchpoints()
        ('order',)
        """
        chosen = tuple(requested)
        if chosen != DEFAULT_PURCHASES:
            return chosen
        if until_ns is None:
            return self._all_purchases  # asked per cutoff and per customer shown: once
        return self._purchases_by_rule(until_ns)

    @cached_property
    def _all_purchases(self) -> tuple[str, ...]:
        return self._purchases_by_rule(None)

    @cached_property
    def _purchase_mask(self) -> np.ndarray | None:
        """Which events are purchases (:meth:`purchase_touchpoints`); None: none is."""
        return self._events_of(self._all_purchases)

    def _purchases_by_rule(self, until_ns: int | None) -> tuple[str, ...]:
        """Rules 2 to 5 of :meth:`purchase_touchpoints`."""
        chosen = DEFAULT_PURCHASES
        marked = self._journey_map.purchase_touchpoints
        if marked:
            return marked
        cats = self._frame["touchpoint"].cat.categories
        if any(t in cats or t in self._journey_map for t in chosen):
            return chosen
        if "amount" not in self._frame.columns:
            return chosen
        amount = self._frame["amount"].to_numpy(dtype=float, na_value=np.nan)
        paid = amount > 0
        if until_ns is not None:
            paid &= self.timestamps_ns <= until_ns
        codes = np.unique(self.touchpoint_codes[paid])
        return tuple(str(cats[i]) for i in codes) or chosen

    def gone_at(self, cutoff_ns: int, churn_mask: np.ndarray | None = None) -> np.ndarray | None:
        """Which customers (by code) had left by the cutoff: they cancelled, and did not buy since.

        A churn event (a cancellation) at or before the cutoff makes a customer
        gone, whatever they do after it (using the service to the end of a
        notice period, an exit survey, a ticket about a refund), until a
        purchase after it brings them back (:meth:`purchase_touchpoints`).
        Without purchases in the log, a cancellation is final.

        Parameters
        ----------
        cutoff_ns : int
            The cutoff, ns since the epoch (UTC); events at it count.
        churn_mask : ndarray of bool, optional
            Which events are churn events; default :attr:`churn_mask`.

        Returns
        -------
        ndarray of bool or None
            One value per customer code; None when no event is a churn event.
        """
        churn = self.churn_mask if churn_mask is None else churn_mask
        if churn is None:
            return None
        upto = self.timestamps_ns <= cutoff_ns
        positions = np.arange(len(upto))
        starts = self.offsets[:-1]  # every customer has an event: no segment is empty

        def latest(mask: np.ndarray) -> np.ndarray:
            return np.maximum.reduceat(np.where(upto & mask, positions, -1), starts)

        last_churn = latest(churn)
        restart = self._purchase_mask
        if restart is None:
            return last_churn >= 0
        return last_churn > latest(restart)

    @property
    def source_rows(self) -> np.ndarray:
        """Each row's 0-based position in the input (files concatenated in name order)."""
        return self._source_rows

    def _customer_range(self, start: int, stop: int) -> EventLog:
        """The log of customers ``start:stop`` (codes), their events as views of this log's.

        The log is sorted by customer, so their events are one slice: nothing is
        validated or copied again. Used to compute features in parts of customers
        (:meth:`cjml.JourneyFeaturizer.transform_parts`).
        """
        first, last = (int(k) for k in self.offsets[[start, stop]])
        part = object.__new__(EventLog)
        part.__dict__.update({k: v for k, v in self.__dict__.items() if k not in _PER_EVENT_CACHE})
        part._frame = self._frame.iloc[first:last]
        part._customer_ids = self._customer_ids[start:stop]
        part._customer_codes = _frozen(self._customer_codes[first:last] - start)
        part._source_rows = self._source_rows[first:last]
        for name in _PER_EVENT_ARRAYS:
            if self.__dict__.get(name) is not None:  # already computed here: share a view
                part.__dict__[name] = self.__dict__[name][first:last]
        part._data_end_given = self.data_end  # the period covered is the whole log's
        return part

    def _customer_subset(self, codes: np.ndarray) -> EventLog:
        """The log of the customers with these codes (sorted, distinct), their events copied.

        Like :meth:`_customer_range` for customers spread over the log: a random
        sample of them, whose features and labels are those of the whole log (each
        customer's history is whole), for a training set of bounded size.
        """
        codes = np.asarray(codes, dtype=np.int64)
        offsets = self.offsets
        lengths = offsets[codes + 1] - offsets[codes]
        # the rows of each chosen customer, one slice after another, in the log's order
        starts = np.repeat(offsets[codes] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        rows = starts + np.arange(int(lengths.sum()), dtype=np.int64)
        part = object.__new__(EventLog)
        part.__dict__.update({k: v for k, v in self.__dict__.items() if k not in _PER_EVENT_CACHE})
        part._frame = self._frame.iloc[rows].reset_index(drop=True)
        part._customer_ids = self._customer_ids[codes]
        part._customer_codes = _frozen(np.repeat(np.arange(len(codes), dtype=np.int64), lengths))
        part._source_rows = self._source_rows[rows]
        for name in _PER_EVENT_ARRAYS:
            if self.__dict__.get(name) is not None:
                part.__dict__[name] = _frozen(self.__dict__[name][rows])
        # which touchpoints are purchases may be read off the amounts: the whole log's answer;
        # and the period covered is the whole log's, wherever the customers' last events lie
        part.__dict__["_all_purchases"] = self._all_purchases
        part._data_end_given = self.data_end
        return part

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write the checked log to a Parquet file, to read again fast and without options.

        The file holds :attr:`frame`: the canonical column names, customers then time in
        order, the stage, and the other columns carried along; :func:`read_events` reads
        it back to the same log (with the same journey map), with no ``columns=``,
        ``timezone=`` or ``on_error=`` to repeat. The times are written in the log's
        timezone, their instants unchanged, and the file records that timezone: reading
        it, or scoring it, without ``timezone=`` reads dates such as cutoffs in it, as
        for the original. So does the log's ``data_end`` when one was given. Converting a
        large CSV or JSON Lines export once this way makes every later reading many times
        faster.

        Parameters
        ----------
        path : str or path-like
            A ``.parquet`` file.
        force : bool, default False
            Replace an existing file; without it an existing file is an error.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        from cjml.io._write import write_table

        if Path(path).suffix.lower() != ".parquet":
            raise InputFileError(
                f"Cannot save the event log to {str(path)!r}: give a .parquet file (it keeps "
                "the times, categories and numbers as they are, and reads fast)."
            )
        frame = self._frame.copy(deep=False)  # its attrs are the file's, not the log's
        if str(self._timezone) != "UTC":  # the same instants, said in the user's timezone
            frame = frame.assign(timestamp=frame["timestamp"].dt.tz_convert(self._timezone))
        frame.attrs = {TIMEZONE_ATTR: str(self._timezone)}
        if self._data_end_given is not None:  # read back with the file, as the timezone is
            frame.attrs[DATA_END_ATTR] = self._data_end_given.isoformat()
        return write_table(frame, Path(path), force=force)

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` canonical events.

        Parameters
        ----------
        n : int, default 5
            Number of rows.

        Returns
        -------
        pandas.DataFrame
            The first rows of :attr:`frame`.
        """
        return self._frame.head(n)

    def summary(self) -> EventLogSummary:
        """Count customers, events, stages, touchpoints and channels.

        Returns
        -------
        EventLogSummary
            A frozen summary with ``to_text()``, ``to_dict()`` and an HTML view.
        """
        f = self._frame
        tp_cats = f["touchpoint"].cat.categories
        per_tp = pd.Series(
            np.bincount(self.touchpoint_codes, minlength=len(tp_cats)),
            index=pd.Index(tp_cats, name="touchpoint"),
            name="events",
        )
        st_cats = f["stage"].cat.categories
        per_stage = pd.Series(
            np.bincount(self.stage_codes, minlength=len(st_cats)),
            index=pd.Index(st_cats, name="stage"),
            name="events",
        )
        per_channel = None
        if "channel" in f.columns:
            codes = f["channel"].cat.codes.to_numpy()
            cats = f["channel"].cat.categories
            per_channel = pd.Series(
                np.bincount(codes[codes >= 0], minlength=len(cats)),
                index=pd.Index(cats, name="channel"),
                name="events",
            )
        coverage = {
            c: (float(f[c].notna().mean()) if c in f.columns else None) for c in _NUMERIC_COLUMNS
        }
        gaps, returned = return_gaps(self, with_customers=True)
        ts = self.timestamps_ns
        zone = self._timezone
        return EventLogSummary(
            n_customers=self.n_customers,
            n_events=self.n_events,
            first_timestamp=pd.Timestamp(int(ts.min()), tz="UTC").tz_convert(zone),
            last_timestamp=pd.Timestamp(int(ts.max()), tz="UTC").tz_convert(zone),
            events_per_touchpoint=per_tp,
            events_per_stage=per_stage,
            events_per_channel=per_channel,
            coverage=coverage,
            duplicates_found=self._duplicates_found,
            duplicates_removed=self._duplicates_removed,
            unknown_touchpoints=self._unknown,
            journey_map_name=self._journey_map.name,
            other_columns=tuple(str(c) for c in self._extra_columns),
            timezone=str(zone),
            naive_times=getattr(self, "_naive_times", True),  # (logs pickled before it)
            # the codes are sorted: the customers are where they change
            returning_customers=int(np.count_nonzero(np.diff(returned))) + (len(returned) > 0),
            half_silence_days=half_silence(gaps),
            silent_share_30d=silent_share(gaps, 30.0) if len(gaps) else None,
            same_moment_events=self._same_moment_events(),
        )

    def _same_moment_events(self) -> int:
        """Events with the customer, time and touchpoint of an earlier event.

        The log is sorted by customer then time, so such events sit in runs of one
        customer and time; only those runs (usually few) are counted by touchpoint.
        """
        codes, ts = self.customer_codes, self.timestamps_ns
        same = (codes[1:] == codes[:-1]) & (ts[1:] == ts[:-1])
        if not same.any():
            return 0
        in_run = np.r_[False, same] | np.r_[same, False]
        runs = pd.DataFrame(
            {
                "customer": codes[in_run],
                "time": ts[in_run],
                "touchpoint": np.asarray(self.touchpoint_codes)[in_run],
            }
        )
        return int(runs.duplicated().sum())

    def __repr__(self) -> str:
        ts = self.timestamps_ns
        first = pd.Timestamp(int(ts.min()), tz="UTC").date()
        last = pd.Timestamp(int(ts.max()), tz="UTC").date()
        return (
            f"EventLog({self.n_events:,} events, {self.n_customers:,} customers, "
            f"{first} to {last}, journey map {self._journey_map.name!r})"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


# --------------------------------------------------------------------------- read_events
def read_events(
    source: pd.DataFrame | EventLog | str | os.PathLike,
    *,
    columns: Mapping[str, Hashable] | str | None = None,
    journey_map: JourneyMap | Mapping[str, Any] | str | Path | None = None,
    timezone: Any = None,
    timestamp_unit: str | None = None,
    drop_duplicates: bool = False,
    missing_ids: Sequence[str] | str | None = None,
    encoding: str | None = None,
    on_error: str = "raise",
    touchpoint: str | None = None,
    data_end: Any = None,
) -> EventLog:
    """Read, validate and canonicalise an event log.

    The single entry point for user data: whatever the source, the result is
    the same canonical :class:`EventLog`, or an error that says what is wrong,
    where, and how to fix it.

    Parameters
    ----------
    source : DataFrame, EventLog, str or path-like
        A DataFrame; an EventLog (returned as is); a CSV file (``.csv``, or
        compressed ``.csv.gz`` etc.); a Parquet file (``.parquet``, ``.pq``); a
        JSON Lines file (one object per line: ``.jsonl``, ``.ndjson``, ``.json``,
        plain or compressed; nested keys become dotted columns such as
        ``properties.revenue``, and every value is read as a CSV cell is, see
        :mod:`cjml.io._json`); an Excel workbook (``.xlsx``, ``.xlsm``: its first sheet,
        read as a CSV file is, with ``openpyxl``); or a folder of files of one of these
        formats, read in path order
        (names starting with ``.`` or ``_`` are skipped; of its sub-folders,
        only ``key=value`` partitions are read).
        A partitioned dataset (Spark's ``partitionBy``, Dask's ``partition_on``:
        ``segment=gold/part-0.parquet``) has its ``key=value`` folder names
        read as text columns. All files of a folder must have the same columns
        (JSON Lines files: the keys of all of them, missing where a file lacks one;
        in a folder a plain ``.json`` file is a document, not events, and is skipped).
    columns : mapping or str, optional
        Canonical name -> your column name, e.g.
        ``{"customer_id": "user", "timestamp": "event_time"}``, or as text
        ``"customer_id=user,timestamp=event_time"``.
    journey_map : JourneyMap, dict, str or Path, optional
        The journey map, a dict, or a ``.toml``/``.json`` file; None for
        :meth:`JourneyMap.default`.
    timezone : str or tzinfo, optional
        Timezone of naive timestamps and of dates given later as cutoffs; everything
        is stored in UTC. Default: the timezone a Parquet file written by
        :meth:`EventLog.save` (``cjml validate --out``) records; else the zone of a
        timezone-aware timestamp column (a DataFrame's ``datetime64[ns, Europe/Paris]``,
        or a Parquet file's), so that ``"2024-03-01"`` means midnight there; else UTC.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Read numeric timestamps as Unix epoch times in this unit. Without it,
        numbers written like dates (``20240131``, ``20240131093000``) are read
        as dates and other numbers raise a SchemaError that suggests the unit
        their size implies.
    drop_duplicates : bool, default False
        Remove exact duplicate events (always reported by a warning).
    missing_ids : sequence of str or str, optional
        Customer ids that mean "missing" (``["NA", "null"]`` or ``"NA,null"``).
        By default only an empty id is missing: ``"NA"``, ``"null"`` and
        ``"None"`` are ids, in CSV files too.
    encoding : str, optional
        The text encoding of CSV files when it is not UTF-8, e.g. ``"cp1252"``
        (what Excel writes on Windows) or ``"latin-1"``. UTF-16 files with their
        byte-order mark (Excel's "Unicode Text") are read without it.
    on_error : {"raise", "quarantine"}, default "raise"
        Rows that break a rule of the contract (a missing id, an unreadable
        time, a score out of range...) raise a SchemaError naming them; or, with
        "quarantine", are set aside, rule after rule, and the log is built from
        the rest: the rows set aside are in :attr:`EventLog.rejects` with the
        reason, and a warning counts them. Faults of a whole column (a required
        column missing) still raise.
    touchpoint : str, optional
        The touchpoint of every event, for a log without a touchpoint column:
        a log of purchases (CDNOW, a shop's orders) reads with
        ``touchpoint="purchase"``. Refused when the events have a touchpoint
        column. :func:`cjml.train` keeps it in the bundle, so that scoring the
        same kind of file needs it no more.
    data_end : date, optional
        When the period the log covers ends (exclusive; a date is midnight in
        ``timezone``), when it is later than its last event shows: an export of
        January to June whose last event is on 28 June. Labels (:func:`cjml.train`,
        :func:`cjml.evaluate`, :func:`cjml.make_labels`) then allow cutoffs whose
        horizon ends by it. Default: midnight UTC after the day of the last event
        (:attr:`EventLog.data_end`). An end at or before an event is refused.

    Returns
    -------
    EventLog
        The validated log, sorted by customer then time.

    Raises
    ------
    InputFileError
        When the path does not exist or cannot be read (permission denied),
        is not CSV, Parquet or JSON Lines (an image, a workbook...), has a line
        that is not one JSON object (JSON Lines), or breaks the CSV
        rules of every cjml command: UTF-8 text (or text in ``encoding``)
        separated by commas (or by
        ';', tabs or '|' when the header holds no comma; ';' files read
        decimal commas), each column name once, every line with as many
        fields as the header (a short or long line is refused with its line
        number).
    SchemaError
        When the events do not fit the contract: no rows, a required column
        missing, missing customer ids, timestamps or touchpoints, unreadable
        timestamps, dates in several formats in one column, every time
        within a year of 1970-01-01 (numbers read in the wrong unit), scores
        out of range (satisfaction 1-5, nps 0-10, effort 1-7) or not
        numeric, infinite amounts, stages or (without a stage column)
        touchpoints the journey map does not know. The message names the
        column, shows up to five rows and says how to fix it.

    Warns
    -----
    UserWarning
        For exact duplicate events, for touchpoints not in the journey map
        (allowed when a stage column is given), for extra columns of nested
        values (structs, lists, maps), which are left out, and for events
        more than :data:`LATE_EVENT_DAYS` days after 99.9% of the others
        (they would move a default cutoff); with ``on_error="quarantine"``, for
        the rows set aside.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import read_events
    >>> df = pd.DataFrame({
    ...     "user": [1, 1, 2],
    ...     "time": ["2024-01-01 09:00", "2024-01-03 10:00", "2024-01-02 12:00"],
    ...     "touchpoint": ["paid_ad", "purchase", "website_visit"],
    ... })
    >>> log = read_events(df, columns={"customer_id": "user", "timestamp": "time"})
    >>> log.n_customers, log.n_events
    (2, 3)
    >>> log.frame["stage"].tolist()
    ['awareness', 'conversion', 'consideration']

    The stage was derived from the default journey map: an ad belongs to
    awareness, a purchase moves customer 1 on to conversion, and a website
    visit puts customer 2 in consideration.
    """
    options = dict(
        columns=columns,
        journey_map=journey_map,
        timezone=timezone_for(source, timezone, columns=columns),
        timestamp_unit=timestamp_unit,
        drop_duplicates=drop_duplicates,
        missing_ids=missing_ids,
    )
    encoding = encoding_name(encoding)  # a misspelt name is refused whatever the source
    if on_error not in ("raise", "quarantine"):
        raise ValueError(f"on_error must be 'raise' or 'quarantine', got {on_error!r}.")
    if isinstance(source, EventLog):
        return source if data_end is None else source._ending_at(data_end)
    if isinstance(source, pd.DataFrame):
        if touchpoint is not None:
            source = with_constant_touchpoint(source, touchpoint, columns)
        if on_error == "raise":
            with _quarantine_hint(len(source)):
                log = EventLog.from_frame(source, **options)
            log._constant_touchpoint = touchpoint
            return log if data_end is None else log._ending_at(data_end)
        index = None if source.index.equals(pd.RangeIndex(len(source))) else source.index
        data, origin = source.reset_index(drop=True), _Origin(index=index)
    elif isinstance(source, str | os.PathLike):
        if data_end is None:
            data_end = recorded_data_end(source)
        data, origin = _read_path(Path(source), _parse_columns(columns), encoding)
        if touchpoint is not None:
            data = with_constant_touchpoint(data, touchpoint, columns)
    else:
        raise InputFileError(f"Cannot read events from a {type(source).__name__}. {_ACCEPTED}.")
    if on_error == "raise":
        with _quarantine_hint(len(data)):
            log = EventLog._from_source(data, origin, text_ints=origin.csv, **options)
    else:
        log = _quarantined(data, origin, options)
    log._constant_touchpoint = touchpoint
    log._lacking_in_files, log._n_files = origin.lacking, max(len(origin.names), 1)
    return log if data_end is None else log._ending_at(data_end)


def with_constant_touchpoint(data: pd.DataFrame, touchpoint: str, columns: Any) -> pd.DataFrame:
    """``data`` with a ``touchpoint`` column holding ``touchpoint`` on every row; refused
    when ``data`` already has a touchpoint column (``columns``: the user's mapping)."""
    if not isinstance(touchpoint, str) or not touchpoint.strip():
        raise ValueError(
            f"touchpoint must be the name of the touchpoint of every event, such as "
            f"'purchase', got {touchpoint!r}."
        )
    own = _parse_columns(columns).get("touchpoint", "touchpoint")
    if own in data.columns:
        raise SchemaError(
            f"The events have a touchpoint column ({str(own)!r}), and touchpoint="
            f"{touchpoint!r} (--touchpoint {touchpoint}) says every event is {touchpoint!r}. "
            "Fix: leave out --touchpoint (touchpoint=...), which is for logs without a "
            "touchpoint column."
        )
    return data.assign(touchpoint=touchpoint)


@contextlib.contextmanager
def _quarantine_hint(n_rows: int) -> Iterator[None]:
    """An error that names some of the ``n_rows`` rows ends with the way to read the others
    anyway (not one that names them all: nothing would be left)."""
    try:
        yield
    except SchemaError as err:
        if err.positions is None or len(err.positions) >= n_rows:
            raise
        hinted = SchemaError(
            f"{err}\nTo use the other rows, set these aside (and any other row that breaks a "
            "rule) with on_error='quarantine' (--on-error quarantine)."
        )
        hinted.column, hinted.positions, hinted.problem = err.column, err.positions, err.problem
        raise hinted from None


def _quarantined(data: pd.DataFrame, origin: _Origin, options: dict) -> EventLog:
    """The log of the rows that keep every rule, the others in its ``rejects`` (see
    :func:`cjml.io._rejects.build_with_rejects`): a user fixing the file would drop the
    rows each error names and read again, which is what this does. Only the warnings of
    the last, successful reading are shown."""
    said: list = []

    def build(keep: np.ndarray) -> EventLog:
        part = data if len(keep) == len(data) else data.iloc[keep].reset_index(drop=True)
        where = origin if len(keep) == len(data) else dataclasses.replace(origin, rows=keep)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log = EventLog._from_source(part, where, text_ints=origin.csv, **options)
        said[:] = caught
        return log

    log, set_aside = build_with_rejects(len(data), build, quarantine=True)
    if log is None:
        raise SchemaError(
            f"Every one of the {len(data):,} rows breaks a rule of the event contract, so "
            "no event is left. Fix the input (read it with on_error='raise' to see the "
            "first rule it breaks, with rows)."
        )
    try:
        names = _resolve_columns(_parse_columns(options["columns"]), list(data.columns))
    except SchemaError:
        names = {}
    parts = [
        rejects_frame(
            data.iloc[rows],
            rows,
            names.get(column, column) if column is not None else None,
            np.full(len(rows), f"{column}: {problem}", dtype=object),  # as score says it
            origin,
        )
        for rows, column, problem in set_aside
    ]
    if parts:
        rejects = pd.concat(parts, ignore_index=True).sort_values("row", kind="stable")
        log._rejects = rejects.reset_index(drop=True)
        by_reason = log._rejects["reason"].value_counts(sort=False)
        listed = "; ".join(f"{reason}: {n:,}" for reason, n in by_reason.items())
        n = len(log._rejects)
        first = log._rejects["location"].iloc[0]
        warnings.warn(
            f"Set aside {n:,} {'row that breaks' if n == 1 else 'rows that break'} a rule of "
            f"the event contract ({listed}); the first at {first}. The log holds the other "
            f"{len(data) - n:,} rows; the rows set aside are in EventLog.rejects (on the "
            "command line, in the --rejects file).",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    for w in said:
        warnings.warn(w.message, w.category, stacklevel=_user_stacklevel())
    return log
