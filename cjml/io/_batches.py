"""Reading a batch of events into the event contract.

:func:`_prepare` takes a batch as read (:mod:`cjml.io._source`) and
gives it canonical column names and types (:func:`_conform`), UTC
nanosecond timestamps (read_events' own parser, :func:`_parse_timestamps`;
rows it cannot read are rejected with the reason), keeps the listed
customers, leaves out the rows that are not events (blank lines, repeated
headers: :func:`_blank`, :func:`_header_rows`, as read_events does), and tags
each row with its input row number and its partition (a stable hash of the
customer id, :func:`_hash_parts`). Its statistics,
added over the batches (:func:`_merge_stats`), decide what the customer ids
become (:func:`_id_kind`) and feed the rules that read_events applies to a
whole log's times (:func:`_check_times`).

Used by ``score`` (both engines) on every batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cjml.events import REQUIRED_COLUMNS
from cjml.exceptions import SchemaError
from cjml.io._csv import NA_MARKERS
from cjml.io._messages import (
    _MAX_SHOWN,
    BLANK_COLUMNS,
    TEXT_KINDS,
    _blank_rows_warning,
    _Context,
    _header_rows_warning,
    _Origin,
)
from cjml.io._timestamps import (
    _NS_PER_UNIT,
    _day_counts,
    _dst_warning,
    _epoch_error,
    _fold_date_only,
    _is_utc,
    _mixed_formats_error,
    _odd_dates_warnings,
    _timestamps_ns,
)
from cjml.io._values import _TEXT_INT, _customer_codes

# pandas' default missing-value markers, so a CSV reads as read_events reads it (but in the
# customer id column, where only an empty cell is missing).
_ROW, _PART, _REJECT, _RAW_TS = "__cjml_row", "__cjml_part", "__cjml_reject", "__cjml_raw_ts"


@dataclass
class _Reader:
    """What reading and partitioning a batch needs (picklable, for dask workers)."""

    kind: str
    names: tuple[str, ...]
    starts: tuple[int, ...]
    resolved: dict
    read_columns: list
    rename: dict
    timezone: Any
    timestamp_unit: str | None
    strict: bool
    n_parts: int
    customers: pa.Array | None = None
    index: pd.Index | None = None
    schema: pa.Schema | None = None
    missing_ids: tuple[str, ...] = ()
    # the date format of text timestamps, decided over the whole column before the batches
    # are read (column_date_format), so that every batch reads its dates one way
    date_format: str | None = None

    def origin(self, rows: np.ndarray | None) -> _Origin:
        names = self.names if self.kind != "frame" else ()
        return _Origin(
            names=names,
            starts=self.starts,
            csv=self.kind in TEXT_KINDS,
            index=self.index,
            rows=rows,
            first_line=1 if self.kind == "json" else 2,
        )


_TEXT = pa.dictionary(pa.int32(), pa.string())


def _conform(table: pa.Table, reader: _Reader) -> pa.Table:
    """The batch in the target types, canonical column names, text as dictionaries.

    Timestamps stay as read (they are parsed next). Text columns other than the
    customer id are dictionary-encoded: cheap to reorder, small to write, and
    read back as the categoricals read_events codes fastest.
    """
    assert reader.schema is not None  # set by the engine before the first batch is read
    cols, names = [], []
    ts_name = str(reader.resolved["timestamp"])
    for f in reader.schema:
        col = table.column(f.name)
        name = reader.rename.get(f.name, f.name)
        if pa.types.is_dictionary(col.type) and not (
            pa.types.is_string(f.type)
            and name != "customer_id"
            and pa.types.is_string(col.type.value_type)
        ):
            col = pc.cast(col, col.type.value_type)
        if f.name != ts_name and not pa.types.is_dictionary(col.type) and col.type != f.type:
            try:
                col = pc.cast(col, f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                col = pc.cast(pc.cast(col, pa.string()), f.type)
        if reader.kind in TEXT_KINDS and name != "customer_id" and pa.types.is_string(col.type):
            # pandas' missing-value markers ("NA", "null"...) are missing, as in read_events;
            # only the customer id keeps them as text
            col = pc.if_else(pc.is_in(col, value_set=NA_MARKERS), pa.scalar(None, pa.string()), col)
        if f.name != ts_name and pa.types.is_string(f.type) and name != "customer_id":
            if not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(col.combine_chunks())
            col = col.cast(_TEXT)
        cols.append(col)
        names.append(name)
    return pa.table(cols, names=names)


def _prepare(
    table: pa.Table, first_row: int, reader: _Reader, *, strict: bool | None = None
) -> tuple[pa.Table, dict]:
    """Parse the timestamps, keep the listed customers, and tag each row with its partition.

    Returns the rows to keep, with ``timestamp`` as UTC nanoseconds (missing on
    rejected rows), ``__cjml_row`` (the input row number), ``__cjml_part``,
    ``__cjml_reject`` (the reason a row is rejected, else missing) and
    ``__cjml_raw_ts`` (the rejected rows' timestamp as given); and statistics:
    rows read, the latest valid timestamp, and what the customer ids look like.
    """
    strict = reader.strict if strict is None else strict
    n = table.num_rows
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    table = _conform(table, reader)
    formats: dict = {}
    dst: dict = {}
    ns, bad, reasons = _parse_timestamps(table, rows, reader, formats, dst)
    good_ts = ns[~bad]
    stats = {
        "rows": n,
        "max_ns": int(good_ts.max()) if len(good_ts) else None,
        "min_ns": int(good_ts.min()) if len(good_ts) else None,
        "days": {str(k): v for k, v in _day_counts(good_ts).items()},
        "formats": {k: list(v) for k, v in formats.items()},
        "dst": dst,
    }
    if reader.customers is not None:
        keep, stats["loose_ids"] = _listed_rows(table.column("customer_id"), reader.customers)
        stats["unlisted"] = _some_ids(table.column("customer_id"), ~keep)
    else:
        keep = np.ones(n, dtype=bool)
    # not events: left out, as read_events leaves them out
    for kind, mask in (("blank", _blank(table)), ("header", _header_rows(table, reader))):
        if mask is not None:
            keep &= ~mask
            stats[kind] = int(mask.sum())
            stats[f"{kind}_rows"] = rows[mask][:_MAX_SHOWN].tolist()
    if strict and (bad & keep).any():
        _raise_timestamp_error(table.filter(pa.array(keep)), rows[keep], reader)
    if not keep.all():
        table, ns, bad, rows = table.filter(pa.array(keep)), ns[keep], bad[keep], rows[keep]
        reasons = reasons[keep]
    stats["kept"] = len(rows)
    stats.update(_id_flags(table.column("customer_id"), ~bad, reader.missing_ids))
    raw_ts = table.column("timestamp")
    ts = pa.array(np.where(bad, 0, ns), type=pa.int64(), mask=bad).cast(
        pa.timestamp("ns", tz="UTC")
    )
    out = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", ts)
    out = out.append_column(_ROW, pa.array(rows, type=pa.int64()))
    out = out.append_column(
        _PART, pa.array(_hash_parts(table.column("customer_id"), reader.n_parts), type=pa.int32())
    )
    if not bad.any():
        out = out.append_column(_REJECT, pa.nulls(len(rows), pa.string()))
        return out.append_column(_RAW_TS, pa.nulls(len(rows), pa.string())), stats
    out = out.append_column(_REJECT, pa.array(reasons, type=pa.string()))
    raw_text = np.full(len(rows), None, dtype=object)
    raw_text[bad] = [
        None if v is None else str(v) for v in raw_ts.filter(pa.array(bad)).to_pylist()
    ]
    return out.append_column(_RAW_TS, pa.array(raw_text, type=pa.string())), stats


def _parse_timestamps(
    table: pa.Table,
    rows: np.ndarray,
    reader: _Reader,
    formats: dict | None = None,
    dst: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC nanoseconds of each row, which rows failed, and why (read_events' own parser).

    ``formats`` receives the date formats of text timestamps (format -> rows,
    example), so that formats differing between batches are refused too; ``dst``
    the local times read across a daylight-saving change, said once for the input.
    """
    fast = _arrow_timestamps_ns(table.column("timestamp"), reader.timezone)
    if fast is not None:
        n = len(fast)
        return fast, np.zeros(n, dtype=bool), np.full(n, None, dtype=object)
    user = reader.resolved["timestamp"]
    series = table.column("timestamp").to_pandas()
    n = len(series)
    keep = np.arange(n)
    bad = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    while True:
        values = series if len(keep) == n else series.iloc[keep].reset_index(drop=True)
        ctx = _Context(pd.DataFrame({user: values}), {"timestamp": user}, reader.origin(rows[keep]))
        ctx.dst_shifts = {}  # this attempt's; kept only when it succeeds
        try:
            ns_keep = (
                _timestamps_ns(
                    ctx, reader.timezone, reader.timestamp_unit, formats, reader.date_format
                )
                if len(keep)
                else np.empty(0, dtype=np.int64)
            )
            if dst is not None:
                dst.update(ctx.dst_shifts)
            break
        except SchemaError as err:
            positions = err.positions
            if positions is None:
                _raise_timestamp_error(table.take(pa.array(keep)), rows[keep], reader)
                raise
            hit = keep[positions]
            bad[hit] = True
            reasons[hit] = f"timestamp: {err.problem}"
            keep = np.delete(keep, positions)
    ns = np.zeros(n, dtype=np.int64)
    ns[keep] = ns_keep
    return ns, bad, reasons


def _arrow_timestamps_ns(col: pa.ChunkedArray, timezone) -> np.ndarray | None:
    """UTC nanoseconds straight from an Arrow timestamp column, when nothing can fail:
    no missing value, a zone (or naive times read as UTC), and every date within
    what nanoseconds hold. None otherwise: the full parser then names what is wrong."""
    t = col.type
    if not pa.types.is_timestamp(t) or col.null_count or (t.tz is None and not _is_utc(timezone)):
        return None
    values = col.cast(pa.int64()).to_numpy()  # epoch in the column's unit (UTC if zoned)
    per_unit = _NS_PER_UNIT[t.unit]
    if per_unit > 1 and len(values):
        lo = -(-pd.Timestamp.min.value // per_unit)
        hi = pd.Timestamp.max.value // per_unit
        if values.min() < lo or values.max() > hi:
            return None
        values = values * per_unit
    return values.astype(np.int64, copy=False)


def _raise_timestamp_error(table: pa.Table, rows: np.ndarray, reader: _Reader) -> None:
    """Check these rows as read_events does, in its order (the customer ids, then the
    timestamps), strictly, with the columns shown: the first rule broken raises."""
    shown = [c for c in REQUIRED_COLUMNS if c in table.column_names]
    data = pd.DataFrame({str(reader.resolved[c]): table.column(c).to_pandas() for c in shown})
    ctx = _Context(data, {c: str(reader.resolved[c]) for c in shown}, reader.origin(rows))
    _customer_codes(ctx, text_ints=False, missing_ids=reader.missing_ids)
    _timestamps_ns(ctx, reader.timezone, reader.timestamp_unit)


_TEXT_INT_RE = f"^{_TEXT_INT}$"


def _id_flags(col: pa.ChunkedArray, valid: np.ndarray, missing_ids: Sequence[str] = ()) -> dict:
    """Whether the (valid) customer ids are all whole numbers, as text or as floats, and
    unsigned ones within int64 (ids that are missing, empty or in ``missing_ids``, do not
    count)."""
    col = col.filter(pa.array(valid))
    if pa.types.is_string(col.type):
        trimmed = pc.utf8_trim_whitespace(col)
        given = pc.and_(pc.is_valid(trimmed), pc.not_equal(trimmed, ""))
        if missing_ids:
            said = pc.is_in(trimmed, value_set=pa.array(list(missing_ids), type=pa.string()))
            given = pc.and_(given, pc.invert(said.fill_null(False)))
        ints = pc.match_substring_regex(col, _TEXT_INT_RE)
        ok = pc.or_kleene(pc.invert(given.fill_null(False)), ints.fill_null(False))
        return {"text_ints": bool(pc.all(ok).as_py() is not False)}
    if pa.types.is_floating(col.type):
        values = col.drop_null().to_numpy()
        whole = bool(np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53))
        return {"whole_floats": whole}
    if pa.types.is_uint64(col.type):  # above int64's range they are kept as text
        top = pc.max(col).as_py()
        return {"int64_uints": top is None or top <= np.iinfo(np.int64).max}
    return {}


def _whole_text(text: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Text ids with a whole number written as a decimal ('42.0') as that number ('42'):
    the id 42, when every id is a whole number (_TEXT_INT)."""
    text = pc.cast(text, pa.string())
    if not pc.any(pc.match_substring(text, ".")).as_py():
        return text
    return pc.replace_substring_regex(text, r"^(-?\d+)\.0+$", r"\1")


def _listed_rows(col: pa.ChunkedArray, customers: pa.Array) -> tuple[np.ndarray, bool]:
    """The rows of the listed customers, and whether some match only as whole numbers.

    Text ids are compared as whole numbers too ('42.0' in the events is '42' in the
    list, and the other way round), since both are the id 42 once every id reads as a
    whole number; whether they do is known only after the whole input is read, so the
    rows matched that way alone are flagged, and dropped later if the ids stay text
    (:func:`cjml.scoring._chunk._listed_only`).
    """
    exact = pc.is_in(col, value_set=customers).fill_null(False)
    if not (pa.types.is_string(customers.type) and _is_text(col.type)):
        return exact.to_numpy(zero_copy_only=False), False
    loose = pc.is_in(_whole_text(col), value_set=_whole_text(customers)).fill_null(False)
    extra = bool(pc.any(pc.and_(loose, pc.invert(exact))).as_py())
    return (loose if extra else exact).to_numpy(zero_copy_only=False), extra


#: Ids of the events' unlisted customers kept, to show beside the list's when none match.
_IDS_SHOWN = 3


def _some_ids(col: pa.ChunkedArray, rows: np.ndarray) -> list[str]:
    """A few distinct ids of these rows, as text (from their first thousand)."""
    if not rows.any():
        return []
    some = pc.unique(col.filter(pa.array(rows)).slice(0, 1000).drop_null())
    return [str(v) for v in some.slice(0, _IDS_SHOWN).to_pylist()]


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type))


def _hash_parts(col: pa.ChunkedArray, n_parts: int) -> np.ndarray:
    """The partition of each row: a stable hash of its customer id, modulo ``n_parts``."""
    if n_parts == 1:
        return np.zeros(len(col), dtype=np.int32)
    t = col.type
    if pa.types.is_integer(t):
        values = col.fill_null(0).to_numpy().astype(np.int64, copy=False)
    elif pa.types.is_floating(t):
        values = col.fill_null(0).to_numpy().astype(np.float64, copy=False)
    else:
        # '42.0' is the id 42 when every id is a whole number (_TEXT_INT): one partition
        values = _whole_text(col).fill_null("").to_numpy(zero_copy_only=False)
    return (pd.util.hash_array(values) % np.uint64(n_parts)).astype(np.int32)


def _blank(table: pa.Table) -> np.ndarray | None:
    """The rows with no customer id, timestamp or touchpoint (after the missing-value
    markers), or None when there are none."""
    blank = None
    for canon in BLANK_COLUMNS:
        missing = pc.is_null(table.column(canon))
        blank = missing if blank is None else pc.and_(blank, missing)
        if not pc.any(blank).as_py():
            return None
    return None if blank is None else blank.to_numpy(zero_copy_only=False)


def _header_rows(table: pa.Table, reader: _Reader) -> np.ndarray | None:
    """The rows whose customer id, timestamp and touchpoint are those columns' own names (a
    header line of files joined into one), or None when there are none."""
    hit = None
    for canon in BLANK_COLUMNS:
        col = table.column(canon)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if not pa.types.is_string(col.type):
            return None  # a number or a time cannot be a name
        same = pc.equal(col, pa.scalar(str(reader.resolved[canon]), pa.string())).fill_null(False)
        hit = same if hit is None else pc.and_(hit, same)
        if not pc.any(hit).as_py():
            return None
    return None if hit is None else hit.to_numpy(zero_copy_only=False)


def _merge_stats(total: dict, stats: dict) -> dict:
    total["rows"] = total.get("rows", 0) + stats["rows"]
    for kind in ("blank", "header"):
        if stats.get(kind):
            total[kind] = total.get(kind, 0) + stats[kind]
            rows = sorted(total.get(f"{kind}_rows", []) + stats[f"{kind}_rows"])
            total[f"{kind}_rows"] = rows[:_MAX_SHOWN]
    total["kept"] = total.get("kept", 0) + stats["kept"]
    total["loose_ids"] = bool(total.get("loose_ids")) or bool(stats.get("loose_ids"))
    if stats.get("unlisted"):
        shown = total.setdefault("unlisted", [])
        shown += [v for v in stats["unlisted"] if v not in shown][: _IDS_SHOWN - len(shown)]
    if stats["max_ns"] is not None:
        total["max_ns"] = max(total.get("max_ns") or stats["max_ns"], stats["max_ns"])
    else:
        total.setdefault("max_ns", None)
    if stats.get("min_ns") is not None:
        low = total.get("min_ns")
        total["min_ns"] = stats["min_ns"] if low is None else min(low, stats["min_ns"])
    else:
        total.setdefault("min_ns", None)
    dst = total.setdefault("dst", {})
    for key, value in stats.get("dst", {}).items():
        if key == "example":
            dst.setdefault(key, value)
        else:
            dst[key] = dst.get(key, 0) + value
    days = total.setdefault("days", {})
    for day, count in stats.get("days", {}).items():
        days[day] = days.get(day, 0) + count
    formats = total.setdefault("formats", {})
    for fmt, (rows, example) in stats.get("formats", {}).items():
        formats[fmt] = (
            [formats[fmt][0] + rows, formats[fmt][1]] if fmt in formats else [rows, example]
        )
    for flag in ("text_ints", "whole_floats", "int64_uints"):
        if flag in stats:
            total[flag] = total.get(flag, True) and stats[flag]
    return total


def _id_kind(reader: _Reader, stats: dict) -> str:
    """ "int" when the customer ids become whole numbers in an EventLog, else "str"."""
    assert reader.schema is not None  # set by the engine before the input is read
    t = reader.schema.field(str(reader.resolved["customer_id"])).type
    if pa.types.is_integer(t):
        return "int" if stats.get("int64_uints", True) else "str"
    if pa.types.is_floating(t):
        return "int" if stats.get("whole_floats", True) else "str"
    if pa.types.is_string(t) and reader.kind in TEXT_KINDS:
        return "int" if stats.get("text_ints", True) else "str"
    return "str"


def _check_times(total: dict, reader: _Reader, *, default_cutoff: bool) -> None:
    """The rules on the whole input's times that read_events applies to a whole log: one
    date format, not all within a year of 1970, and (before they move the default cutoff)
    a warning on events far past the rest."""
    label = _label(reader, "timestamp")
    formats = _fold_date_only(total.get("formats") or {})
    if len(formats) > 1:
        raise _mixed_formats_error(label, {k: tuple(v) for k, v in formats.items()})
    if total.get("min_ns") is not None and total.get("max_ns") is not None:
        epoch = _epoch_error(
            label,
            int(total["min_ns"]),
            int(total["max_ns"]),
            reader.timestamp_unit,
            reader.resolved["timestamp"],
        )
        if epoch is not None:
            raise epoch
    for kind, say in (("blank", _blank_rows_warning), ("header", _header_rows_warning)):
        if total.get(kind):
            warnings.warn(
                say(reader.origin(None), total[f"{kind}_rows"], int(total[kind])),
                UserWarning,
                stacklevel=2,
            )
    dst = total.get("dst") or {}
    if dst.get("repeated") or dst.get("skipped"):
        warnings.warn(
            _dst_warning(
                label,
                reader.timezone,
                int(dst.get("repeated", 0)),
                int(dst.get("skipped", 0)),
                str(dst["example"]),
            ),
            UserWarning,
            stacklevel=2,
        )
    if total.get("max_ns") is not None:
        days = {int(k): int(v) for k, v in (total.get("days") or {}).items()}
        for message in _odd_dates_warnings(
            label, days, int(total["max_ns"]), cutoff_from_data=default_cutoff
        ):
            warnings.warn(message, UserWarning, stacklevel=2)


def _label(reader: _Reader, canon: str) -> str:
    user = str(reader.resolved.get(canon, canon))
    return f"column {canon!r}" if user == canon else f"column {canon!r} (your column {user!r})"
