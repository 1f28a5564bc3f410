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

import difflib
import html
import inspect
import os
import re
import warnings
import zoneinfo
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_numeric_dtype,
)
from pandas.tseries.api import guess_datetime_format

from cjml._readers import (
    NA_STRINGS,
    check_csv_rows,
    csv_header,
    encoding_error,
    file_kind,
    not_this,
    open_csv,
    parse_missing_ids,
    read_head,
)
from cjml.exceptions import InputFileError, SchemaError
from cjml.journey import JourneyMap

__all__ = [
    "CANONICAL_COLUMNS",
    "LATE_EVENT_DAYS",
    "REQUIRED_COLUMNS",
    "EventLog",
    "EventLogSummary",
    "read_events",
    "to_utc_timestamp",
]

#: Canonical event columns, in the order of :attr:`EventLog.frame`.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "timestamp",
    "touchpoint",
    "stage",
    "channel",
    "satisfaction",
    "nps",
    "effort",
    "amount",
)

#: Columns every event log must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("customer_id", "timestamp", "touchpoint")

# (lowest, highest, survey name) of each score column.
_SCORE_RANGES: dict[str, tuple[float, float, str]] = {
    "satisfaction": (1.0, 5.0, "CSAT"),
    "nps": (0.0, 10.0, "NPS"),
    "effort": (1.0, 7.0, "CES"),
}
_NUMERIC_COLUMNS = ("satisfaction", "nps", "effort", "amount")
_ROLES = {
    "customer_id": "the customer identifier",
    "timestamp": "when the event happened",
    "touchpoint": "which touchpoint the customer met",
}
# Common names for the required columns, tried before difflib in "did you mean".
_SYNONYMS = {
    "customer_id": ("customer", "customerid", "customer_key", "cust_id", "client_id",
                    "client", "user_id", "userid", "user", "visitor_id", "account_id",
                    "member_id", "id"),
    "timestamp": ("time", "ts", "datetime", "date", "when", "event_time", "event_timestamp",
                  "event_date", "event_at", "created_at", "occurred_at", "time_stamp"),
    "touchpoint": ("touch_point", "tp", "event", "event_name", "event_type", "action",
                   "activity", "interaction", "type"),
}
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_ACCEPTED = (
    "cjml reads a pandas DataFrame, a CSV file (.csv, or compressed .csv.gz/.csv.bz2/"
    ".csv.zip/.csv.xz/.csv.zst), a Parquet file (.parquet, .pq), or a folder holding "
    "only Parquet files or only CSV files"
)
_TIMESTAMP_UNITS = ("s", "ms", "us", "ns")
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_MAX_SHOWN = 5
# A UTC offset or zone letter after a time of day: "10:00Z", "10:00:00+02:00", "T1000 UTC".
_TZ_SUFFIX = re.compile(
    r"(?:\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2,6})\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)\s*$",
    re.IGNORECASE,
)
_TEXT_INT = r"-?(?:0|[1-9][0-9]{0,17})"
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
_DAY_NS = 86_400 * 10**9
# A log whose times all fall this close to 1970-01-01 was read in the wrong unit: 2024 in
# seconds read as ms (or ms as us, us as ns) lands on 1970-01-20, and nobody's touchpoints
# are from 1970.
_EPOCH_WINDOW_NS = 365 * _DAY_NS
# Epoch numbers whose date falls in these years look like the right unit.
_PLAUSIBLE_NS = (pd.Timestamp("1980-01-01").value, pd.Timestamp("2100-01-01").value)
_ISO = "ISO8601"
_MAX_FORMATS = 5  # formats tried on the values ISO 8601 cannot read, before giving up
#: Events more than this many days after the 99.9th percentile of a log's times are
#: reported (they would move the default cutoff).
LATE_EVENT_DAYS = 30


# --------------------------------------------------------------------------- helpers
def _did_you_mean(value: Any, allowed: Sequence[Any]) -> str:
    by_text = {str(a): a for a in allowed}
    close = difflib.get_close_matches(str(value), list(by_text), n=1)
    return f" Did you mean {by_text[close[0]]!r}?" if close else ""


def _row_error(message: str, canon: str | None, positions: np.ndarray | None,
               problem: str) -> SchemaError:
    """A SchemaError that also carries the offending rows (see the module docstring)."""
    err = SchemaError(message)
    err.column = canon
    err.positions = None if positions is None else np.asarray(positions, dtype=np.int64)
    err.problem = problem
    return err


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _show(value: Any) -> str:
    """A short repr of a raw cell, without numpy's ``np.float64(...)`` wrapping."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return "<missing>"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return repr(str(value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _user_stacklevel() -> int:
    """Stack level of the first frame outside the cjml package, for ``warnings.warn``."""
    pkg = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(pkg):
        frame = frame.f_back
        level += 1
    return max(level, 1)


def _decategorize(s: pd.Series) -> pd.Series:
    """A categorical column (e.g. dictionary-encoded Parquet) as its plain values."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat_dtype = s.cat.categories.dtype
        return s.astype(object if s.hasnans else cat_dtype)
    return s


def _check_timezone(timezone: Any) -> None:
    try:
        pd.Timestamp("2000-01-01").tz_localize(timezone)
    except Exception:
        hint = _did_you_mean(timezone, sorted(zoneinfo.available_timezones()))
        raise ValueError(
            f"Unknown timezone {timezone!r}.{hint} Give an IANA name such as 'UTC', "
            "'Europe/Paris' or 'America/New_York'."
        ) from None


def _is_utc(timezone: Any) -> bool:
    return str(timezone).upper() in {"UTC", "ETC/UTC", "Z", "ZULU", "UNIVERSAL"}


def to_utc_timestamp(value: Any, timezone: Any = "UTC") -> pd.Timestamp:
    """Read one date/time as a timezone-aware UTC timestamp.

    Used for cutoffs and time windows, so that they compare with
    :attr:`EventLog.frame` ``["timestamp"]`` (which is always UTC).

    Parameters
    ----------
    value : str, datetime, date, numpy.datetime64 or pandas.Timestamp
        The date/time. Text is read as ISO 8601 (``"2024-03-01"``,
        ``"2024-03-01T14:30:00+01:00"``).
    timezone : str or tzinfo, default "UTC"
        The timezone of ``value`` when it has none (a naive value).

    Returns
    -------
    pandas.Timestamp
        Timezone-aware, in UTC, nanosecond resolution.

    Raises
    ------
    ValueError
        When ``value`` is a number, missing or not a readable date, when
        ``timezone`` is unknown, or when a naive value is ambiguous or does not
        exist in ``timezone`` (a daylight-saving change).

    Examples
    --------
    >>> from cjml.events import to_utc_timestamp
    >>> to_utc_timestamp("2024-03-01 12:00", timezone="Europe/Paris")
    Timestamp('2024-03-01 11:00:00+0000', tz='UTC')
    """
    _check_timezone(timezone)
    if isinstance(value, bool | int | float | np.number):
        raise ValueError(
            f"Cannot read the number {value!r} as a date and time: it is ambiguous. "
            "Pass a date string such as '2024-03-01' or a datetime."
        )
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(
            f"Cannot read {value!r} as a date and time. Use ISO 8601, e.g. '2024-03-01' or "
            "'2024-03-01T14:30:00+01:00'."
        ) from None
    if pd.isna(ts):
        raise ValueError(f"Expected a date and time, got a missing value {value!r}.")
    if ts.tzinfo is None:
        try:
            ts = ts.tz_localize(timezone)
        except Exception:
            raise ValueError(
                f"{str(ts)!r} is ambiguous or does not exist in timezone {timezone!r} "
                "(a daylight-saving change). Give it with a UTC offset, e.g. "
                "'2024-10-27T02:30:00+01:00'."
            ) from None
    try:
        return ts.tz_convert("UTC").as_unit("ns")
    except (OverflowError, ValueError):
        raise ValueError(
            f"{str(ts)!r} is outside the supported range of dates "
            f"({pd.Timestamp.min.year + 1} to {pd.Timestamp.max.year})."
        ) from None


# --------------------------------------------------------------------------- input origin
@dataclass(frozen=True)
class _Origin:
    """Where the rows came from, to point error messages at files and lines."""

    names: tuple[str, ...] = ()  # one per file, empty for a DataFrame
    starts: tuple[int, ...] = ()  # first input position of each file
    csv: bool = False
    index: pd.Index | None = None  # a DataFrame's index when it is not 0..n-1
    rows: np.ndarray | None = None  # input position of each row, when given a subset

    def where(self, pos: int) -> str:
        pos = int(pos) if self.rows is None else int(self.rows[int(pos)])
        if self.names:
            i = int(np.searchsorted(np.asarray(self.starts), pos, side="right")) - 1
            local = pos - self.starts[i]
            if self.csv:
                return f"row {pos} ({self.names[i]} line {local + 2})"
            if len(self.names) > 1:
                return f"row {pos} ({self.names[i]} row {local})"
            return f"row {pos}"
        if self.index is not None:
            return f"row {pos} (index {_show(self.index[pos])})"
        return f"row {pos}"


class _Context:
    """The raw input, the column mapping and the origin: what error messages need."""

    def __init__(self, data: pd.DataFrame, resolved: dict[str, Hashable], origin: _Origin):
        self.data = data
        self.resolved = resolved
        self.origin = origin

    def label(self, canon: str) -> str:
        user = self.resolved.get(canon, canon)
        if user == canon:
            return f"column {canon!r}"
        return f"column {canon!r} (your column {user!r})"

    def raw(self, canon: str) -> pd.Series:
        return self.data[self.resolved[canon]]

    def rows(self, positions: np.ndarray, canons: Sequence[str]) -> str:
        """Up to five offending rows, one per line, with the raw values of ``canons``."""
        positions = np.asarray(positions)
        lines = []
        for pos in positions[:_MAX_SHOWN]:
            cells = ", ".join(
                f"{self.resolved[c]}={_show(self.data[self.resolved[c]].iloc[int(pos)])}"
                for c in canons
                if c in self.resolved
            )
            lines.append(f"  {self.origin.where(pos)}: {cells}")
        if len(positions) > _MAX_SHOWN:
            lines.append(f"  ... and {len(positions) - _MAX_SHOWN:,} more")
        return "\n".join(lines)

    def fail(self, canon: str, positions: np.ndarray, problem: str, fix: str,
             show: Sequence[str] | None = None, whole_column: bool = False) -> SchemaError:
        positions = np.asarray(positions)
        label = self.label(canon)
        head = f"{label[0].upper()}{label[1:]} has {_plural(len(positions), 'row')} with {problem}:"
        body = self.rows(positions, show if show is not None else [canon])
        return _row_error(f"{head}\n{body}\nFix: {fix}", canon,
                          None if whole_column else positions, problem)


# --------------------------------------------------------------------------- columns
def _parse_columns(columns: Mapping[str, Hashable] | str | None) -> dict[str, Hashable]:
    """The user's column mapping as a dict canonical name -> user column."""
    if columns is None:
        return {}
    example = "columns={'customer_id': 'user', 'timestamp': 'event_time'}"
    if isinstance(columns, str):
        mapping: dict[str, Hashable] = {}
        for part in columns.split(","):
            if not part.strip():
                continue
            key, sep, value = (p.strip() for p in part.partition("="))
            if not sep or not key or not value:
                raise SchemaError(
                    f"Cannot read {part.strip()!r} in the column mapping {columns!r}: expected "
                    "canonical=your_column pairs separated by commas. Fix: e.g. "
                    "'customer_id=user,timestamp=event_time'."
                )
            if key in mapping:
                raise SchemaError(
                    f"The column mapping {columns!r} names {key!r} twice. Fix: map each "
                    "canonical column once."
                )
            mapping[key] = value
    elif isinstance(columns, Mapping):
        mapping = dict(columns)
    else:
        raise SchemaError(
            f"columns must be a mapping canonical name -> your column, or a string like "
            f"'customer_id=user,timestamp=event_time'; got {type(columns).__name__}. "
            f"Fix: e.g. {example}."
        )
    for key, value in mapping.items():
        if key not in CANONICAL_COLUMNS:
            if value in CANONICAL_COLUMNS:
                hint = (f" The mapping goes canonical name -> your column: did you mean "
                        f"{{{value!r}: {key!r}}}?")
            else:
                hint = _did_you_mean(key, CANONICAL_COLUMNS)
            raise SchemaError(
                f"Unknown canonical column {key!r} in the column mapping; the canonical "
                f"columns are {list(CANONICAL_COLUMNS)!r}.{hint} Fix: use canonical names as "
                f"keys, e.g. {example}."
            )
    seen: dict[Hashable, str] = {}
    for key, value in mapping.items():
        if value in seen:
            raise SchemaError(
                f"The column mapping sends both {seen[value]!r} and {key!r} to your column "
                f"{value!r}. Fix: map each canonical column to a different column."
            )
        seen[value] = key
    return mapping


def _suggest(canon: str, available: Sequence[Hashable], taken: set) -> Hashable | None:
    free = [c for c in available if c not in taken]
    by_lower = {str(c).lower(): c for c in free}
    for name in _SYNONYMS.get(canon, ()):
        if name in by_lower:
            return by_lower[name]
    close = difflib.get_close_matches(canon, list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _resolve_columns(mapping: dict[str, Hashable], available: Sequence[Hashable]
                     ) -> dict[str, Hashable]:
    """Canonical name -> user column for every canonical column present."""
    dup = sorted({str(c) for c in available if list(available).count(c) > 1})
    if dup:
        raise SchemaError(
            f"The input has several columns with the same name: {dup!r}. Fix: rename them so "
            "each column name is unique."
        )
    used = set(mapping.values())
    resolved: dict[str, Hashable] = {}
    for canon in CANONICAL_COLUMNS:
        if canon in mapping:
            user = mapping[canon]
            if user not in available:
                raise SchemaError(
                    f"The column mapping sends {canon!r} to your column {user!r}, which the "
                    f"input does not have.{_did_you_mean(user, available)} Available columns: "
                    f"{list(available)!r}. Fix: correct the column name in the mapping."
                )
            resolved[canon] = user
        elif canon in available and canon not in used:
            resolved[canon] = canon
    missing = [c for c in REQUIRED_COLUMNS if c not in resolved]
    if missing:
        taken = set(resolved.values())
        lines, pairs = [], {}
        for canon in missing:
            guess = _suggest(canon, available, taken)
            hint = f" Did you mean {guess!r}?" if guess is not None else ""
            lines.append(f"  {canon!r} ({_ROLES[canon]}).{hint}")
            pairs[canon] = guess if guess is not None else f"<your {canon} column>"
            taken.add(guess)
        as_dict = "{" + ", ".join(f"{k!r}: {str(v)!r}" for k, v in pairs.items()) + "}"
        as_cli = ",".join(f"{k}={v}" for k, v in pairs.items())
        raise SchemaError(
            f"The event log is missing required {'column' if len(missing) == 1 else 'columns'}:\n"
            + "\n".join(lines)
            + f"\nAvailable columns: {list(available)!r}.\n"
            f"Fix: say which of your columns hold them, e.g. read_events(..., columns={as_dict}) "
            f"or on the command line --columns {as_cli}"
        )
    mapped = set(resolved.values())
    for col in available:
        if col not in mapped and col in CANONICAL_COLUMNS:
            raise SchemaError(
                f"Your column {col!r} has a canonical name, but the column mapping takes "
                f"{col!r} from your column {resolved[col]!r}. Fix: rename or drop column "
                f"{col!r}, or map it explicitly."
            )
    return resolved


def _nested_kind(s: pd.Series) -> str | None:
    """"struct", "list" or "map" when a column holds nested values, else None."""
    dtype = s.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        t = dtype.pyarrow_dtype
        if pa.types.is_struct(t):
            return "struct"
        if pa.types.is_map(t):
            return "map"
        return "list" if pa.types.is_nested(t) else None
    if dtype != object or infer_dtype(s, skipna=True) != "mixed":
        return None
    for value in s:
        if isinstance(value, dict):
            return "struct"
        if isinstance(value, list | tuple | set | np.ndarray):
            return "list"
    return None


def _without_nested_extras(data: pd.DataFrame, resolved: dict[str, Hashable]) -> pd.DataFrame:
    """The data without extra columns of nested values (structs, lists, maps), with a
    warning naming them: no feature can use them, and they cannot be compared."""
    used = set(resolved.values())
    nested = {c: kind for c in data.columns if c not in used
              and (kind := _nested_kind(data[c])) is not None}
    if not nested:
        return data
    _warn_nested_left_out(nested, stacklevel=_user_stacklevel())
    return data.drop(columns=list(nested))


def _warn_nested_left_out(nested: dict[Hashable, str], stacklevel: int) -> None:
    """Warn that the extra columns ``nested`` (name: kind) hold nested values and are left
    out; ``read_events`` and ``score`` say it in the same words."""
    listed = ", ".join(f"{str(c)!r} ({kind})" for c, kind in nested.items())
    warnings.warn(
        f"{'Column' if len(nested) == 1 else 'Columns'} {listed} "
        f"{'holds' if len(nested) == 1 else 'hold'} nested values, which cjml cannot use as "
        "customer attributes: left out. Fix: if it holds attributes, flatten it into plain "
        "columns (e.g. df['plan'] = df['meta'].str['plan']), or drop it to silence this.",
        UserWarning, stacklevel=stacklevel + 1)


# --------------------------------------------------------------------------- customer lists
def _read_id_list(customers: Any, id_column: Hashable | None = None,
                  missing_ids: Sequence[str] = ()) -> tuple[np.ndarray, str]:
    """The distinct ids of a customer list, in the order given, and how to name the list.

    ``customers`` is a CSV or Parquet file (its ``customer_id`` column, the
    events' own name for it, or its only column) or a list-like of ids. A CSV
    list is read under the CSV rules, as text: ``"007"`` stays ``"007"`` and
    ``"NA"`` is an id unless ``missing_ids`` names it. Missing ids are refused.
    """
    if isinstance(customers, str | os.PathLike):
        path = Path(customers)
        where = f"customer list {str(path)!r}"
        kind = _suffix_kind(path)
        if kind is None:
            raise InputFileError(f"Cannot read the {where}: give a .csv or .parquet file with "
                                 "a customer_id column.")
        if kind == "csv":
            what = "the customer list"
            names, header_lines = csv_header(path, what)
            check_csv_rows(path, names, header_lines, what)
            try:
                with open_csv(path, what) as raw:
                    table = pd.read_csv(raw, header=None, names=names, skiprows=header_lines,
                                        dtype=str, keep_default_na=False, na_values=[""])
            except UnicodeDecodeError:
                raise encoding_error(path, what) from None
            except (pd.errors.ParserError, OSError, ValueError) as exc:
                raise InputFileError(_csv_unreadable(path, exc)) from None
        else:
            table = _read_parquet(path)
        names = list(dict.fromkeys(["customer_id", *([id_column] if id_column else [])]))
        found = [c for c in names if c in table.columns]
        if found:
            values = table[found[0]]
        elif len(table.columns) == 1:
            values = table.iloc[:, 0]
        else:
            raise SchemaError(f"The {where} has columns {list(table.columns)!r} but no "
                              f"{' or '.join(repr(str(c)) for c in names)} column. Fix: name "
                              "the column of ids customer_id, or give a file with one column.")
    else:
        if isinstance(customers, pd.DataFrame):
            raise TypeError("customers must be a list of ids (list, array, Series) or a file, "
                            "not a DataFrame; pass df['customer_id'].")
        values, where = customers, "customer list"
    values = pd.Series(list(values) if not isinstance(values, pd.Series | pd.Index | np.ndarray)
                       else np.asarray(values, dtype=object), dtype=object)
    text = values.astype(str).str.strip()
    missing = (values.isna().to_numpy() | (text == "").to_numpy()
               | text.isin(tuple(missing_ids)).to_numpy())
    if missing.any():
        rows = np.flatnonzero(missing)[:_MAX_SHOWN].tolist()
        raise SchemaError(f"The {where} has {int(missing.sum()):,} missing or empty id(s), at "
                          f"positions {rows!r}. Fix: remove them or fill them in.")
    return pd.unique(values.to_numpy(dtype=object)), where


def _ids_like(listed: np.ndarray, ids: pd.Index | np.ndarray, where: str) -> list:
    """Listed ids in the type of the log's ids: whole numbers when the log's ids are, else
    text ("007" stays "007", and 7 read from a Parquet list becomes "7")."""
    ids = pd.Index(ids)
    if is_integer_dtype(ids.dtype):
        numbers = pd.to_numeric(pd.Series(listed, dtype=object).astype(str).str.strip(),
                                errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(numbers) | (numbers != np.round(numbers))
        if bad.any():
            shown = [str(v) for v in listed[bad][:_MAX_SHOWN]]
            raise SchemaError(f"The {where} has ids that are not whole numbers ({shown!r}, "
                              f"{int(bad.sum()):,} in all), but every customer id of the events "
                              "is one: they could match no customer. Fix: correct the list.")
        return list(dict.fromkeys(numbers.astype(np.int64).tolist()))
    return list(dict.fromkeys(_id_text(v) for v in listed))


def _id_text(value: Any) -> str:
    """An id as text: a whole float without its ".0"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


# --------------------------------------------------------------------------- readers
def _suffix_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return None


def _read_csv(path: Path, mapping: dict[str, Hashable]) -> pd.DataFrame:
    """A CSV file under the CSV rules of :mod:`cjml._readers` (as ``score`` reads it)."""
    names, header_lines = csv_header(path)
    check_csv_rows(path, names, header_lines)  # pandas pads short lines: check them first
    # Identifiers and names are read as text: a CSV carries no types, and "007" must not
    # become 7. Lossless integer ids are turned back into integers later.
    dtypes: dict[Hashable, str] = {}
    try:
        resolved = _resolve_columns(mapping, names)
    except SchemaError:
        resolved = {}  # the same check fails again on the full frame, with the rows
    for canon in ("customer_id", "touchpoint", "stage", "channel"):
        if canon in resolved:
            dtypes[resolved[canon]] = "str"
    # "NA", "null", "None" are ids: in the id column only an empty cell is missing.
    id_col = resolved.get("customer_id")
    na = {c: [""] if c == id_col else list(NA_STRINGS) for c in names}
    try:
        with open_csv(path) as raw:
            return pd.read_csv(raw, header=None, names=names, skiprows=header_lines,
                               dtype=dtypes or None, keep_default_na=False, na_values=na)
    except UnicodeDecodeError:
        raise encoding_error(path, "the CSV file") from None
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise InputFileError(_csv_unreadable(path, exc)) from None


def _csv_unreadable(path: Path, exc: Exception) -> str:
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"Cannot read the CSV file {str(path)!r}: {why}. Fix: check the quoting (a quote "
            "opened and never closed?).")


def _read_parquet(path: Path) -> pd.DataFrame:
    kind = file_kind(read_head(path, "the Parquet file"))
    if kind != "parquet":
        fix = ("name it .csv (cjml reads CSV files by their suffix)." if kind is None else
               "export the events as Parquet or CSV.")
        raise not_this(path, "the Parquet file", kind or "text",
                        f"a Parquet file. Fix: {fix}")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types; none must leak
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(
            f"Cannot read the Parquet file {str(path)!r}: {why}. Fix: check that it is a "
            "complete Parquet file (e.g. written by DataFrame.to_parquet), or export the "
            "events as CSV."
        ) from None
    # Arrow keeps the file's buffers pooled after the conversion; hand them back so a
    # large log does not cost its size twice for the rest of the session.
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    return frame


def _read_path(path: Path, mapping: dict[str, Hashable]) -> tuple[pd.DataFrame, _Origin]:
    kind, chosen = _input_files(path)
    frames = [_read_csv(p, mapping) if kind == "csv" else _read_parquet(p) for p in chosen]
    first = list(frames[0].columns)
    for p, f in zip(chosen[1:], frames[1:], strict=True):
        _check_same_columns(path, chosen[0], first, p, list(f.columns))
    starts = tuple(int(x) for x in np.cumsum([0] + [len(f) for f in frames[:-1]]))
    data = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    origin = _Origin(names=tuple(p.name for p in chosen), starts=starts, csv=kind == "csv")
    return data, origin


def _check_same_columns(folder: Path, first_file: Path, first: list, other_file: Path,
                        other: list) -> None:
    """Refuse a folder whose files do not all have the same columns."""
    if set(other) != set(first):
        missing = [c for c in first if c not in other]
        extra = [c for c in other if c not in first]
        raise SchemaError(
            f"The files of folder {str(folder)!r} do not share the same columns: compared "
            f"with {first_file.name!r}, {other_file.name!r} lacks {missing!r} and adds "
            f"{extra!r}. Fix: give every file the same columns."
        )


def _input_files(path: Path) -> tuple[str, list[Path]]:
    """The format ("csv" or "parquet") and the files to read, in name order."""
    if not path.exists():
        raise InputFileError(
            f"Cannot read events from {str(path)!r}: no such file or folder. {_ACCEPTED}."
        )
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and not p.name.startswith((".", "_")))
        groups = {kind: [p for p in files if _suffix_kind(p) == kind]
                  for kind in ("csv", "parquet")}
        if groups["csv"] and groups["parquet"]:
            raise InputFileError(
                f"The folder {str(path)!r} holds both CSV files ({groups['csv'][0].name!r}, ...) "
                f"and Parquet files ({groups['parquet'][0].name!r}, ...). {_ACCEPTED}. Fix: "
                "keep one format per folder."
            )
        kind = "csv" if groups["csv"] else "parquet"
        chosen = groups[kind]
        if not chosen:
            shown = [p.name for p in files[:5]]
            raise InputFileError(
                f"The folder {str(path)!r} holds no CSV or Parquet file (found {shown!r}; "
                f"sub-folders are not read). {_ACCEPTED}."
            )
    else:
        kind = _suffix_kind(path)
        if kind is None:
            suffix = "".join(path.suffixes) or "(no suffix)"
            raise InputFileError(
                f"Cannot read events from {str(path)!r}: {suffix!r} files are not supported. "
                f"{_ACCEPTED}. Fix: export the events as CSV or Parquet, e.g. "
                "pd.read_excel(path).to_parquet('events.parquet')."
            )
        chosen = [path]
    return kind, chosen


# --------------------------------------------------------------------------- columns to arrays
def _customer_codes(ctx: _Context, text_ints: bool, missing_ids: tuple[str, ...] = ()
                    ) -> tuple[np.ndarray, pd.Index]:
    """Dense codes (in input order) and the sorted unique customer ids.

    Only missing cells and empty text are missing ids, and the texts of
    ``missing_ids``: "NA" or "null" are ids unless the user says otherwise.
    """
    s = _decategorize(ctx.raw("customer_id"))
    fix = ("fill in the customer id on these rows, or remove them before calling cjml "
           "(cjml never drops rows on its own).")
    if missing_ids and not is_numeric_dtype(s.dtype):
        said = np.asarray(s.astype(str).str.strip().isin(missing_ids)) & ~np.asarray(s.isna())
        if said.any():
            raise ctx.fail("customer_id", np.flatnonzero(said),
                           f"a customer id that means missing (missing_ids={list(missing_ids)!r})",
                           fix, REQUIRED_COLUMNS)
    if is_integer_dtype(s.dtype) and not (s.dtype == np.uint64 and len(s) and s.max() > 2**63 - 1):
        null = np.flatnonzero(s.isna().to_numpy())
        if len(null):
            raise ctx.fail("customer_id", null, "no customer id", fix, REQUIRED_COLUMNS)
        codes, uniques = pd.factorize(s.to_numpy(dtype=np.int64), sort=True)
        return codes.astype(np.int64, copy=False), pd.Index(uniques)
    if is_float_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        null = np.flatnonzero(np.isnan(values))
        if len(null):
            raise ctx.fail("customer_id", null, "no customer id", fix, REQUIRED_COLUMNS)
        if np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
            codes, uniques = pd.factorize(values.astype(np.int64), sort=True)
            return codes.astype(np.int64, copy=False), pd.Index(uniques)
    codes0, uniques0 = _factorize(s)
    as_text = pd.Index(uniques0).astype(str)
    empty = np.append(np.asarray(as_text.str.strip() == "", dtype=bool), True)
    null = np.flatnonzero(empty[codes0])  # code -1 picks the appended True
    if len(null):
        raise ctx.fail("customer_id", null, "a missing or empty customer id", fix,
                       REQUIRED_COLUMNS)
    kind = infer_dtype(uniques0, skipna=True)
    final: pd.Index = as_text
    if kind == "integer":
        try:
            final = pd.Index(uniques0).astype(np.int64)
        except (OverflowError, ValueError, TypeError):
            final = as_text
    elif text_ints and bool(np.all(as_text.str.fullmatch(_TEXT_INT))):
        final = as_text.astype(np.int64)
    ordered = final.unique().sort_values()
    lookup = ordered.get_indexer(final).astype(np.int64)
    return lookup[codes0], ordered


def _localise(idx: pd.DatetimeIndex, positions: np.ndarray, timezone: Any,
              ctx: _Context) -> pd.DatetimeIndex:
    """Naive wall times read in ``timezone``, as UTC; DST gaps and overlaps are errors."""
    if _is_utc(timezone):
        return idx.tz_localize("UTC")
    local = idx.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    bad = np.flatnonzero(np.asarray(local.isna()) & ~np.asarray(idx.isna()))
    if len(bad):
        raise ctx.fail(
            "timestamp", positions[bad],
            f"local times that are ambiguous or do not exist in timezone {timezone!r} "
            "(a daylight-saving change)",
            "give these timestamps a UTC offset (e.g. '2024-10-27T02:30:00+01:00'), or store "
            "the log in UTC and pass timezone='UTC'.",
        )
    return local.tz_convert("UTC")


def _epoch_ns(values: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Epoch numbers in ``unit`` as int64 ns, and a mask of values out of range."""
    factor = _NS_PER_UNIT[unit]
    if values.dtype.kind in "iu":
        limit = np.iinfo(np.int64).max // factor
        bad = (values > limit) | (values < -limit)
        ns = np.where(bad, 0, values).astype(np.int64) * factor
    else:
        values = values.astype(np.float64)
        scaled = values * factor
        bad = ~np.isfinite(scaled) | (np.abs(scaled) >= 9.2e18)
        ns = np.round(np.where(bad, 0.0, scaled)).astype(np.int64)
    return ns, bad


def _epoch_unit_hint(values: np.ndarray) -> str:
    """The fix for epoch numbers given without a unit: the unit their size suggests."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    unit = _plausible_unit(float(np.median(np.abs(values)))) if len(values) else None
    if unit is None:
        return ("if they are Unix epoch times, pass timestamp_unit='s' (seconds) or "
                "timestamp_unit='ms' (milliseconds); on the command line --timestamp-unit s. "
                "Otherwise give dates as text, e.g. '2024-03-01 14:30:00'.")
    example = float(np.median(values))
    when = pd.Timestamp(int(example * _NS_PER_UNIT[unit]), tz="UTC")
    return (f"they look like Unix epoch times in {_UNIT_WORDS[unit]} ({example:.0f} is "
            f"{when:%Y-%m-%d %H:%M} UTC): pass timestamp_unit={unit!r} (on the command line "
            f"--timestamp-unit {unit}). Otherwise give dates as text, e.g. '2024-03-01 14:30:00'.")


def _plausible_unit(number: float) -> str | None:
    """The epoch unit that makes ``number`` a date between 1980 and 2100, if one does."""
    for unit in _TIMESTAMP_UNITS:
        ns = number * _NS_PER_UNIT[unit]
        if _PLAUSIBLE_NS[0] <= ns <= _PLAUSIBLE_NS[1]:
            return unit
    return None


def _date_number_format(values: np.ndarray) -> str | None:
    """``"%Y%m%d"`` or ``"%Y%m%d%H%M%S"`` when every number is written like a date
    (20240131, 20240131093000), else None."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values) or not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        return None
    v = values.astype(np.int64)
    for digits, fmt in ((8, "%Y%m%d"), (14, "%Y%m%d%H%M%S")):
        if not np.all((v >= 10 ** (digits - 1)) & (v < 10**digits)):
            continue
        day = v // 10 ** (digits - 8)
        rest = v % 10 ** (digits - 8)
        year, month, mday = day // 10000, day // 100 % 100, day % 100
        ok = (year >= 1900) & (year <= 2100) & (month >= 1) & (month <= 12) & (mday >= 1) & (
            mday <= 31)
        if digits == 14:
            ok &= (rest // 10000 < 24) & (rest // 100 % 100 < 60) & (rest % 100 < 60)
        if np.all(ok):
            return fmt
    return None


def _refuse_date_numbers(values: np.ndarray, unit: str, ctx: _Context) -> None:
    """Numbers written like dates (20240131) are not epoch times: refuse them with a unit."""
    fmt = _date_number_format(values)
    if fmt is None:
        return
    first = int(np.asarray(values, dtype=np.float64)[0])
    as_epoch = pd.Timestamp(first * _NS_PER_UNIT[unit], tz="UTC") if abs(
        first * _NS_PER_UNIT[unit]) < 9.2e18 else None
    read = (f"; as {_UNIT_WORDS[unit]} since 1970, {first} would be {as_epoch:%Y-%m-%d %H:%M}"
            if as_epoch is not None else "")
    shape = "YYYYMMDD" if fmt == "%Y%m%d" else "YYYYMMDDhhmmss"
    when = pd.to_datetime(str(first), format=fmt)
    raise ctx.fail("timestamp", np.arange(len(values)),
                   f"numbers written like dates ({shape}: {first} is {when:%Y-%m-%d})",
                   f"leave out --timestamp-unit {unit} (timestamp_unit={unit!r}): without it "
                   f"cjml reads {shape} numbers as dates{read}.", whole_column=True)


def _timestamps_ns(ctx: _Context, timezone: Any, unit: str | None,
                   found: dict | None = None) -> np.ndarray:
    """Event times as int64 nanoseconds since the epoch, UTC, in input order.

    ``found``, when given, receives the date formats of text timestamps:
    format -> (rows, example), for a check over several batches (``score``).
    """
    s = _decategorize(ctx.raw("timestamp"))
    n = len(s)
    all_rows = np.arange(n)
    null_fix = ("fill in the time of these events, or remove them before calling cjml "
                "(cjml never drops rows on its own).")
    if s.dtype == object:
        kind = infer_dtype(s, skipna=True)
        if kind in ("datetime", "datetime64", "date"):
            try:
                s = pd.Series(pd.to_datetime(s), index=s.index)
            except (ValueError, TypeError):  # naive and aware mixed: go through text
                s = s.map(lambda v: v if v is None or pd.isna(v) else str(v))
        elif kind in ("integer", "floating", "mixed-integer-float", "decimal"):
            s = pd.to_numeric(s, errors="coerce")
        elif kind not in ("string", "empty"):
            s = s.map(lambda v: v if v is None or (np.ndim(v) == 0 and pd.isna(v)) else str(v))
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "M"
    ):
        idx = pd.DatetimeIndex(s)
        null = np.flatnonzero(np.asarray(idx.isna()))
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        idx = idx.tz_convert("UTC") if idx.tz is not None else _localise(
            idx, all_rows, timezone, ctx)
    elif is_numeric_dtype(dtype) and not is_bool_dtype(dtype):
        values = s.to_numpy(dtype=np.float64 if is_float_dtype(dtype) else None,
                            na_value=np.nan if is_float_dtype(dtype) else None)
        if values.dtype == object:  # nullable integers with missing values
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        given = ~pd.isna(values)
        if unit is None:
            given_rows = np.flatnonzero(given)
            if _date_number_format(values[given]) is not None:
                # 20240131: a date written as a number, read as the same text would be
                text = pd.Series(np.where(given, values, 0).astype(np.int64).astype(str),
                                 dtype=object).where(given, None)
                idx = _parse_text_timestamps(text, ctx, timezone, None, null_fix, found)
                return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)
            raise ctx.fail("timestamp", given_rows if len(given_rows) else all_rows,
                           "numbers instead of dates", _epoch_unit_hint(values[given]),
                           whole_column=True)
        null = np.flatnonzero(~given)
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        _refuse_date_numbers(values, unit, ctx)
        ns, bad = _epoch_ns(values, unit)
        if bad.any():
            raise ctx.fail(
                "timestamp", np.flatnonzero(bad),
                f"epoch times that are out of range for timestamp_unit={unit!r} "
                "(years 1677 to 2262)",
                "check timestamp_unit ('s', 'ms', 'us' or 'ns') and the values.")
        return ns
    else:
        idx = _parse_text_timestamps(s, ctx, timezone, unit, null_fix, found)
    _check_bounds(idx, np.arange(len(idx)), ctx)
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)


def _check_bounds(idx: pd.DatetimeIndex, positions: np.ndarray, ctx: _Context) -> None:
    """Refuse dates that nanosecond timestamps cannot hold, before converting."""
    if idx.unit == "ns":
        return
    per_unit = _NS_PER_UNIT[idx.unit]  # compare integers: much cheaper than Timestamps
    lo = -(-pd.Timestamp.min.value // per_unit)
    hi = pd.Timestamp.max.value // per_unit
    i8 = idx.asi8
    outside = np.flatnonzero(((i8 < lo) | (i8 > hi)) & (i8 != np.iinfo(np.int64).min))
    if len(outside):
        raise ctx.fail("timestamp", positions[outside],
                       "dates outside the supported range (years 1677 to 2262)",
                       "correct these dates (a typo in the year?).")


def _guess_formats(text: str) -> list[str]:
    """The strftime formats a date text may be in (month first, then day first)."""
    with warnings.catch_warnings():  # pandas warns about dayfirst: we try both on purpose
        warnings.simplefilter("ignore")
        guesses = [guess_datetime_format(text), guess_datetime_format(text, dayfirst=True)]
    return list(dict.fromkeys(g for g in guesses if g is not None))


def _mixed_formats_error(label: str, formats: Mapping[str, Sequence]) -> SchemaError:
    """The refusal of a column whose dates come in several formats (format -> rows, e.g.)."""
    parts = [f"{'ISO 8601' if fmt == _ISO else repr(fmt)} on {_plural(int(rows), 'row')} "
             f"(e.g. {example})" for fmt, (rows, example) in formats.items()]
    return _row_error(
        f"{label[0].upper()}{label[1:]} mixes date formats: {'; '.join(parts)}. cjml reads one "
        "format per column, so that a date such as 02/01/2024 is never read two ways. Fix: "
        "write every date in one format, preferably ISO 8601 ('2024-01-31 14:30:00').",
        "timestamp", None, "dates in several formats")


def _parse_text_timestamps(s: pd.Series, ctx: _Context, timezone: Any, unit: str | None,
                           null_fix: str, found: dict | None = None) -> pd.DatetimeIndex:
    raw = s.reset_index(drop=True)
    if is_bool_dtype(raw.dtype):
        raise ctx.fail("timestamp", np.arange(len(raw)), "true/false values instead of dates",
                       "give the time of each event, e.g. '2024-03-01 14:30:00'.",
                       whole_column=True)
    if unit is not None:
        # timestamp_unit says the text holds epoch numbers.
        numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64,
                                                               na_value=np.nan)
        missing = np.asarray(raw.isna()) | np.asarray(raw.astype(str).str.strip() == "")
        null = np.flatnonzero(missing)
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        bad = np.flatnonzero(np.isnan(numbers))
        if len(bad):
            raise ctx.fail(
                "timestamp", bad,
                f"text that is not a number, although timestamp_unit={unit!r} was given",
                "leave timestamp_unit out for text dates, or correct these values.")
        _refuse_date_numbers(numbers, unit, ctx)
        ns, out = _epoch_ns(numbers, unit)
        if out.any():
            raise ctx.fail("timestamp", np.flatnonzero(out),
                           f"epoch times that are out of range for timestamp_unit={unit!r}",
                           "check timestamp_unit ('s', 'ms', 'us' or 'ns') and the values.")
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")
    # ISO 8601 first (fast, and mixed offsets are fine); then the formats of what it could
    # not read, each tried on all the rest. No per-element dateutil fallback: it guesses
    # silently. Several formats in one column are refused, whatever the row order.
    parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    ok = ~np.asarray(parsed.isna())
    formats: dict[str, list] = {}
    if ok.any():
        first = int(np.argmax(ok))
        formats[_ISO] = [int(ok.sum()), first]
    failed = np.flatnonzero(~ok)
    unreadable = np.empty(0, dtype=np.int64)
    if len(failed):
        sub = raw.iloc[failed]
        missing = np.asarray(sub.isna()) | np.asarray(sub.astype(str).str.strip() == "")
        null = failed[missing]
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        text = sub.astype(str).str.strip().reset_index(drop=True)
        left = np.arange(len(failed))
        for _ in range(_MAX_FORMATS):
            if not len(left):
                break
            best = None
            for fmt in _guess_formats(text.iloc[left[0]]):
                tried = pd.to_datetime(text.iloc[left], utc=True, format=fmt, errors="coerce")
                hit = ~np.asarray(tried.isna())
                if best is None or hit.sum() > best[2].sum():
                    best = (fmt, tried, hit)
            if best is None or not best[2][0]:  # the first value has no format: unreadable
                unreadable = np.append(unreadable, failed[left[0]])
                left = left[1:]
                continue
            fmt, tried, hit = best
            parsed.iloc[failed[left[hit]]] = tried[hit].array
            formats[fmt] = [int(hit.sum()), int(failed[left[hit][0]])]
            left = left[~hit]
        unreadable = np.sort(np.concatenate([unreadable, failed[left]]))
    described = {fmt: (rows, f"{ctx.origin.where(pos)}: {_show(raw.iloc[pos])}")
                 for fmt, (rows, pos) in formats.items()}
    if len(formats) > 1:
        raise _mixed_formats_error(ctx.label("timestamp"), described)
    if len(unreadable):
        sample = raw.iloc[unreadable].astype(str).str.strip()
        looks_numeric = bool(sample.str.fullmatch(r"-?\d+(?:\.\d+)?").all())
        fix = _epoch_unit_hint(pd.to_numeric(sample, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)) if looks_numeric else (
            "give dates in one format, preferably ISO 8601: '2024-03-01 14:30:00' "
            "or with an offset '2024-03-01T14:30:00+01:00'.")
        raise ctx.fail("timestamp", unreadable, "values that cannot be read as dates", fix)
    if found is not None:
        found.update(described)
    idx = pd.DatetimeIndex(parsed)
    _check_bounds(idx, np.arange(len(idx)), ctx)
    if not _is_utc(timezone):
        # utc=True read naive text as UTC; read it again in the user's timezone.
        naive = ~np.asarray(raw.astype(str).str.contains(_TZ_SUFFIX, na=False))
        if naive.any():
            pos = np.flatnonzero(naive)
            wall = idx[pos].tz_localize(None)
            local = _localise(wall, pos, timezone, ctx)
            values = idx.as_unit("ns").asi8.copy()
            values[pos] = local.as_unit("ns").asi8
            idx = pd.DatetimeIndex(values.view("M8[ns]")).tz_localize("UTC")
    return idx


# --------------------------------------------------------------------------- whole-log checks
def _day_counts(ns: np.ndarray) -> dict[int, int]:
    """Events per UTC day (days since 1970-01-01), for the late-event rule."""
    if not len(ns):
        return {}
    days = np.floor_divide(ns, _DAY_NS)
    low = int(days.min())
    counts = np.bincount(days - low)  # at most 214,000 days between 1677 and 2262
    present = np.flatnonzero(counts)
    return {int(d) + low: int(c) for d, c in zip(present, counts[present], strict=True)}


def _late_events(days: Mapping[int, int]) -> tuple[int, float] | None:
    """(events, the day of the 99.9th percentile) when some are far past the rest, or None.

    Far past: more than :data:`LATE_EVENT_DAYS` days after the 99.9th percentile of
    the days of the events (linear interpolation, numpy's default), so that one stray
    event among thousands counts, and in a small log only a stray far out (a year
    typed 2199) does.
    """
    if not days:
        return None
    keys = np.array(sorted(int(k) for k in days), dtype=np.int64)
    counts = np.array([int(days[k]) for k in keys], dtype=np.int64)
    cum = np.cumsum(counts)
    n = int(cum[-1])
    position = 0.999 * (n - 1)
    k = int(np.floor(position))
    low = keys[np.searchsorted(cum, k, side="right")]
    high = keys[np.searchsorted(cum, min(k + 1, n - 1), side="right")]
    p999 = float(low + (position - k) * (high - low))
    late = keys > p999 + LATE_EVENT_DAYS
    if not late.any():
        return None
    return int(counts[late].sum()), p999


def _late_events_warning(label: str, days: Mapping[int, int], last_ns: int) -> str | None:
    """The warning about events far past the rest, before they move the default cutoff."""
    late = _late_events(days)
    if late is None:
        return None
    n_late, p999 = late
    bulk_end = pd.Timestamp((int(np.floor(p999)) + 1) * _DAY_NS, tz="UTC")
    last = pd.Timestamp(int(last_ns), tz="UTC")
    many = n_late != 1
    return (f"{_plural(n_late, 'event')} of {label} {'are' if many else 'is'} far past the "
            f"rest: more than {LATE_EVENT_DAYS} days after 99.9% of the events (which end by "
            f"{bulk_end:%Y-%m-%d}), the latest on {last:%Y-%m-%d %H:%M}. "
            f"{'They move' if many else 'It moves'} the default cutoff (the last event) to "
            f"{last:%Y-%m-%d}. Fix: remove {'them' if many else 'it'} if "
            f"{'they are errors' if many else 'it is an error'} (a typo in the year?), or pass "
            f"--cutoff (cutoff=...) to work as of an earlier date, e.g. --cutoff "
            f"{bulk_end:%Y-%m-%d}.")


def _epoch_error(label: str, first_ns: int, last_ns: int, unit: str | None
                 ) -> SchemaError | None:
    """The refusal of a log whose times all fall within a year of 1970-01-01, or None."""
    if not (-_EPOCH_WINDOW_NS < first_ns and last_ns < _EPOCH_WINDOW_NS):
        return None
    first = pd.Timestamp(int(first_ns), tz="UTC")
    last = pd.Timestamp(int(last_ns), tz="UTC")
    fix = ("check the export: the times are probably zeros, or numbers turned into dates in "
           "the wrong unit.")
    if unit is not None:
        raw = max(abs(first_ns), abs(last_ns)) / _NS_PER_UNIT[unit]
        right = _plausible_unit(raw)
        if right is not None and right != unit:
            fix = (f"the numbers look like epoch {_UNIT_WORDS[right]}: pass timestamp_unit="
                   f"{right!r} (--timestamp-unit {right}) instead of {unit!r}.")
        else:
            fix = (f"check timestamp_unit={unit!r} (--timestamp-unit {unit}): 's' for seconds, "
                   "'ms' for milliseconds, 'us' or 'ns'.")
    return _row_error(
        f"Every time of {label} falls within a year of 1970-01-01, the Unix epoch ({first} to "
        f"{last}): most likely numbers read in the wrong unit. Fix: {fix}", "timestamp", None,
        "times within a year of 1970-01-01")


def _factorize(s: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize``, with unhashable cells (lists, dicts) compared as text."""
    try:
        return pd.factorize(s)
    except TypeError:
        return pd.factorize(s.astype(str).where(~s.isna().to_numpy(), None))


def _text_codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of a text-like column (-1 for missing or empty) and its text uniques."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        # Dictionary-encoded input (Parquet, category dtype): its codes already factorize
        # the column, so only the few categories are turned into text. Unused categories
        # are dropped; categories that read as the same text are merged.
        raw = s.cat.codes.to_numpy().astype(np.int64)
        cats = s.cat.categories
        used = np.flatnonzero(np.bincount(raw[raw >= 0], minlength=len(cats)))
        merged, as_text = pd.factorize(pd.Index(cats[used]).astype(str))
        remap = np.full(len(cats) + 1, -1, dtype=np.int64)  # the last slot maps -1 to -1
        remap[used] = merged
        codes, as_text = remap[raw], pd.Index(as_text)
    else:
        codes, uniques = _factorize(s)
        as_text = pd.Index(uniques).astype(str)
    empty = np.asarray(as_text.str.strip() == "", dtype=bool)
    if empty.any():
        codes = np.where(np.append(empty, True)[codes], -1, codes)
    return codes.astype(np.int64, copy=False), as_text


def _numeric_values(ctx: _Context, canon: str) -> np.ndarray:
    """A score or amount column as float64 (NaN when missing), range-checked."""
    s = _decategorize(ctx.raw(canon))
    if canon in _SCORE_RANGES:
        lo, hi, survey = _SCORE_RANGES[canon]
        allowed = f"{survey} scores from {lo:g} to {hi:g}"
    else:
        lo, hi, survey = -np.inf, np.inf, ""
        allowed = "finite amounts (negative for refunds)"
    fix_num = (f"give {allowed} as numbers, and leave the cell empty when there is no value.")
    if is_bool_dtype(s.dtype):
        bad = np.flatnonzero(~np.asarray(s.isna()))
        raise ctx.fail(canon, bad, f"true/false values instead of numbers ({allowed})", fix_num,
                       whole_column=True)
    if is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        nan_rows = np.flatnonzero(np.isnan(values))
        if len(nan_rows):
            sub = s.iloc[nan_rows]
            text = sub.astype(str).str.strip().str.lower()
            missing = np.asarray(sub.isna()) | np.asarray(text.isin(["", "nan"]))
            bad = nan_rows[~missing]
            if len(bad):
                raise ctx.fail(canon, bad, f"values that are not numbers ({allowed})", fix_num)
    with np.errstate(invalid="ignore"):
        out = ~np.isnan(values) & (~np.isfinite(values) | (values < lo) | (values > hi))
    bad = np.flatnonzero(out)
    if len(bad):
        if canon in _SCORE_RANGES:
            problem = f"scores outside the {survey} range {lo:g} to {hi:g}"
            fix = (f"rescale {canon} to {lo:g}-{hi:g} (or map it to another column name if it is "
                   "a different measure), and leave the cell empty when there is no score.")
        else:
            problem = "amounts that are not finite numbers"
            fix = "replace infinite amounts by the real value, or leave the cell empty."
        raise ctx.fail(canon, bad, problem, fix)
    return values


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


def _primary_order(cust: np.ndarray, ts: np.ndarray, tp: np.ndarray, n_tp: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Stable order by (customer, time, touchpoint), and which rows tie with the previous.

    When the ranges allow, the three keys are packed into one int64: a single stable
    argsort is several times faster than ``np.lexsort`` on three keys.
    """
    n = len(ts)
    if n > 1:
        t0 = int(ts.min())
        span = int(ts.max()) - t0
        if span < 2**62:
            rel = ts - t0
            res = next((r for r in (10**9, 10**6, 10**3) if not np.any(rel % r)), 1)
            width = span // res + 1
            if (int(cust.max()) + 1) * width * n_tp < 2**62:
                key = (cust * width + rel // res) * n_tp + tp
                # numpy's default (SIMD) sort is about four times faster than its stable
                # one; only exact ties need their input order restored.
                perm = np.argsort(key)
                sorted_key = key[perm]
                same = sorted_key[1:] == sorted_key[:-1]
                if same.any():
                    _input_order_within_ties(perm, same)
                return perm, same
    perm = np.lexsort((tp, ts, cust))
    same = np.ones(max(n - 1, 0), dtype=bool)
    for key in (cust, ts, tp):
        k = key[perm]
        same &= k[1:] == k[:-1]
    return perm, same


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


def _refine(perm: np.ndarray, same: np.ndarray, key_fns: Sequence[Any]
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
        Earliest and latest event time, in UTC.
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

    _MAX_TOUCHPOINT_LINES = 25
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
        }

    def _share(self, count: int) -> str:
        return f"{100.0 * count / self.n_events:5.1f}%" if self.n_events else "    -"

    def _coverage_text(self) -> str:
        parts = []
        for col, share in self.coverage.items():
            parts.append(f"{col} not given" if share is None else f"{col} {100 * share:.1f}%")
        return ", ".join(parts)

    def to_text(self) -> str:
        """A compact plain-text report (a few dozen lines at most), for the CLI.

        Returns
        -------
        str
            Totals, period, duplicates, value coverage, then events per stage,
            touchpoint (unseen ones flagged) and channel.
        """
        unknown = set(self.unknown_touchpoints)
        width = max([len(str(k)) for k in self.events_per_touchpoint.index]
                    + [len(str(k)) for k in self.events_per_stage.index] + [8])
        width = min(width, 32)
        lines = [
            f"Event log: {self.n_events:,} events from {self.n_customers:,} customers "
            f"(journey map {self.journey_map_name!r})",
            f"Period: {self.first_timestamp} to {self.last_timestamp}",
            f"Duplicates: {self.duplicates_found:,} exact duplicate events found, "
            f"{self.duplicates_removed:,} removed",
            f"Values given: {self._coverage_text()}",
            "Events per stage:",
        ]
        for name, count in self.events_per_stage.items():
            lines.append(f"  {str(name):<{width}} {int(count):>10,} {self._share(count)}")
        lines.append("Events per touchpoint" + (" (* = not in the journey map):" if unknown
                                             else ":"))
        tps = list(self.events_per_touchpoint.items())
        for name, count in tps[: self._MAX_TOUCHPOINT_LINES]:
            mark = "*" if name in unknown else " "
            note = "  not seen" if count == 0 else ""
            lines.append(f" {mark}{str(name)[:width]:<{width}} {int(count):>10,} "
                         f"{self._share(count)}{note}")
        if len(tps) > self._MAX_TOUCHPOINT_LINES:
            lines.append(f"  ... and {len(tps) - self._MAX_TOUCHPOINT_LINES} more touchpoints")
        if self.events_per_channel is not None:
            lines.append("Events per channel:")
            chans = list(self.events_per_channel.sort_values(ascending=False).items())
            for name, count in chans[: self._MAX_CHANNEL_LINES]:
                lines.append(f"  {str(name)[:width]:<{width}} {int(count):>10,} "
                             f"{self._share(count)}")
            if len(chans) > self._MAX_CHANNEL_LINES:
                lines.append(f"  ... and {len(chans) - self._MAX_CHANNEL_LINES} more channels")
        return "\n".join(lines)

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
                rows.append(f"<tr{style}><td>{esc(str(name))}{flag}</td>"
                            f"<td style='text-align:right'>{int(count):,}</td>"
                            f"<td style='text-align:right'>{self._share(count).strip()}</td></tr>")
            return (f"<table style='display:inline-table;vertical-align:top;margin-right:2em'>"
                    f"<thead><tr><th>{esc(title)}</th><th>events</th><th>share</th></tr></thead>"
                    f"<tbody>{''.join(rows)}</tbody></table>")

        facts = [
            ("customers", f"{self.n_customers:,}"),
            ("events", f"{self.n_events:,}"),
            ("first event", str(self.first_timestamp)),
            ("last event", str(self.last_timestamp)),
            ("duplicates", f"{self.duplicates_found:,} found, {self.duplicates_removed:,} removed"),
            ("values given", self._coverage_text()),
            ("journey map", self.journey_map_name),
        ]
        if self.unknown_touchpoints:
            facts.append(("not in the map", ", ".join(self.unknown_touchpoints)))
        head = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                       for k, v in facts)
        parts = [f"<div class='cjml-event-log'><b>Event log</b><table>{head}</table>",
                 table("stage", self.events_per_stage),
                 table("touchpoint", self.events_per_touchpoint, mark_unknown=True)]
        if self.events_per_channel is not None:
            parts.append(table("channel", self.events_per_channel))
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
        offset or a timezone keep their instant; all are stored in UTC.
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
                "cjml.read_events for CSV and Parquet files."
            )
        index = None if data.index.equals(pd.RangeIndex(len(data))) else data.index
        self._setup(data, _Origin(index=index), text_ints=False, columns=columns,
                    journey_map=journey_map, timezone=timezone,
                    timestamp_unit=timestamp_unit, drop_duplicates=drop_duplicates,
                    missing_ids=missing_ids)

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
        return cls(df, columns=columns, journey_map=journey_map, timezone=timezone,
                   timestamp_unit=timestamp_unit, drop_duplicates=drop_duplicates,
                   missing_ids=missing_ids)

    @classmethod
    def _from_source(cls, data: pd.DataFrame, origin: _Origin, text_ints: bool,
                     **options: Any) -> EventLog:
        """An EventLog of rows read from files (``origin`` names them in messages).

        ``log_checks=False`` skips the checks on the whole log's times (within a
        year of 1970, events far past the rest): ``score`` makes them once over
        the input, not per chunk.
        """
        self = cls.__new__(cls)
        self._setup(data, origin, text_ints=text_ints, **options)
        return self

    # ----------------------------------------------------------------- validation
    def _setup(self, data: pd.DataFrame, origin: _Origin, *, text_ints: bool,
               columns: Any, journey_map: Any, timezone: Any, timestamp_unit: str | None,
               drop_duplicates: bool, missing_ids: Any = None, log_checks: bool = True
               ) -> None:
        if timestamp_unit is not None and timestamp_unit not in _TIMESTAMP_UNITS:
            raise ValueError(
                f"timestamp_unit={timestamp_unit!r} is not allowed; use one of "
                f"{list(_TIMESTAMP_UNITS)!r} (or None for dates).")
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
        resolved = _resolve_columns(mapping, list(data.columns))
        data = _without_nested_extras(data, resolved)
        ctx = _Context(data, resolved, origin)
        n = len(data)

        cust_codes, customer_ids = _customer_codes(ctx, text_ints, missing_ids)
        ts_ns = _timestamps_ns(ctx, timezone, timestamp_unit)
        if log_checks:
            epoch = _epoch_error(ctx.label("timestamp"), int(ts_ns.min()), int(ts_ns.max()),
                                 timestamp_unit)
            if epoch is not None:
                raise epoch
            late = _late_events_warning(ctx.label("timestamp"), _day_counts(ts_ns),
                                        int(ts_ns.max()))
            if late is not None:
                warnings.warn(late, UserWarning, stacklevel=_user_stacklevel())

        # touchpoint: map order first, then touchpoints the map lacks, sorted.
        tp_raw_codes, tp_text = _text_codes(ctx.raw("touchpoint"))
        null = np.flatnonzero(tp_raw_codes < 0)
        if len(null):
            raise ctx.fail("touchpoint", null, "a missing or empty touchpoint",
                           "fill in the touchpoint of these events, or remove them before "
                           "calling cjml (cjml never drops rows on its own).", REQUIRED_COLUMNS)
        known = list(jmap.touchpoint_names)
        unknown = sorted(set(tp_text) - set(known))
        tp_categories = known + unknown
        tp_codes = pd.Index(tp_categories).get_indexer(tp_text).astype(np.int64)[tp_raw_codes]
        n_known = len(known)

        stages = jmap.stages
        has_stage = "stage" in resolved
        given = None
        if has_stage:
            st_raw_codes, st_text = _text_codes(ctx.raw("stage"))
            st_lookup = pd.Index(stages).get_indexer(st_text).astype(np.int64)
            bad_u = np.flatnonzero((st_lookup < 0) & np.asarray(st_text.str.strip() != ""))
            if len(bad_u):
                counts = np.bincount(st_raw_codes[st_raw_codes >= 0], minlength=len(st_text))
                names = "\n".join(
                    f"  {st_text[u]!r}: {_plural(int(counts[u]), 'row')}."
                    f"{_did_you_mean(st_text[u], stages)}" for u in bad_u)
                rows = np.flatnonzero(np.isin(st_raw_codes, bad_u))
                label = ctx.label("stage")
                raise _row_error(
                    f"{label[0].upper()}{label[1:]} has {_plural(len(rows), 'row')} with stages "
                    f"that journey map {jmap.name!r} does not have:\n{names}\n"
                    f"The map's stages are {list(stages)!r}. Rows:\n"
                    f"{ctx.rows(rows, ['stage', 'touchpoint'])}\n"
                    "Fix: rename these stages to the map's names, or pass a journey map "
                    "(journey_map=...) whose stages match your data.", "stage", rows,
                    f"a stage that journey map {jmap.name!r} does not have")
            given = np.append(st_lookup, -1)[st_raw_codes]  # code -1 (missing) stays -1
        if unknown:
            need = (tp_codes >= n_known) if given is None else (tp_codes >= n_known) & (given < 0)
            rows = np.flatnonzero(need)
            if len(rows):
                counts = np.bincount(tp_codes[rows], minlength=len(tp_categories))
                names = "\n".join(
                    f"  {name!r}: {_plural(int(counts[n_known + i]), 'row')}."
                    f"{_did_you_mean(name, known)}"
                    for i, name in enumerate(unknown) if counts[n_known + i])
                why = ("there is no stage column" if given is None
                       else f"{ctx.label('stage')} is empty on these rows")
                raise _row_error(
                    f"Cannot derive the stage of {_plural(len(rows), 'row')}: their touchpoint "
                    f"is not in journey map {jmap.name!r} and {why}. Unknown touchpoints in "
                    f"{ctx.label('touchpoint')}:\n{names}\n"
                    f"The map's touchpoints are {known!r}. Rows:\n"
                    f"{ctx.rows(rows, ['touchpoint', 'stage'])}\n"
                    "Fix: add these touchpoints to the journey map (journey_map='map.toml' "
                    "listing their stages), correct their names, or give a stage column "
                    "(columns={'stage': ...}).", "touchpoint", rows,
                    f"a touchpoint not in journey map {jmap.name!r}, so no stage")

        channel_codes = channel_cats = None
        if "channel" in resolved:
            ch_raw_codes, ch_text = _text_codes(ctx.raw("channel"))
            channel_cats = pd.Index(ch_text[np.unique(ch_raw_codes[ch_raw_codes >= 0])]
                                    ).unique().sort_values()
            ch_lookup = channel_cats.get_indexer(ch_text).astype(np.int64)
            channel_codes = np.append(ch_lookup, -1)[ch_raw_codes]
        numeric = {c: _numeric_values(ctx, c) for c in _NUMERIC_COLUMNS if c in resolved}

        # Sort by customer, time, then the other canonical columns so that the row order
        # of the input never shows. Secondary keys only sort the runs of tied rows.
        perm, same = _primary_order(cust_codes, ts_ns, tp_codes, len(tp_categories))
        more = ([given] if given is not None else []) + (
            [channel_codes] if channel_codes is not None else []) + list(numeric.values())
        if same.any() and more:
            perm, same = _refine(perm, same, [k.__getitem__ for k in more])
        extras = [c for c in data.columns if c not in set(resolved.values())]
        if same.any() and extras:
            perm, same = _refine(perm, same, [
                (lambda rows, c=c: _sort_codes(data[c].iloc[rows])) for c in extras])
        dup_sorted = np.concatenate([[False], same])
        n_dup = int(dup_sorted.sum())
        if n_dup:
            # each duplicate and the first row of its run, five smallest positions, for the report
            run_start = np.maximum.accumulate(np.where(dup_sorted, 0, np.arange(n)))
            dup_at = np.flatnonzero(dup_sorted)
            shown_at = dup_at[np.argsort(perm[dup_at], kind="stable")[:_MAX_SHOWN]]
            dup_pairs = [(int(perm[i]), int(perm[run_start[i]])) for i in shown_at]
        if drop_duplicates and n_dup:
            perm = perm[~dup_sorted]
        perm = perm.astype(np.int64, copy=False)

        # Stage: running max of the stage evidence per customer, clipped to the
        # touchpoint's stage range. Adding customer * n_stages makes one global
        # cumulative max behave as a per-customer one (codes are sorted).
        cust_s = cust_codes[perm]
        tp_s = tp_codes[perm]
        lo, hi = jmap.stage_bounds()
        pad = len(tp_categories) - n_known
        lo_all = np.concatenate([lo, np.zeros(pad, dtype=lo.dtype)]).astype(np.int64)
        hi_all = np.concatenate([hi, np.full(pad, len(stages) - 1, dtype=hi.dtype)]
                                ).astype(np.int64)
        given_s = given[perm] if given is not None else None
        need_s = np.ones(len(perm), dtype=bool) if given_s is None else given_s < 0
        if need_s.any():
            evidence = lo_all[tp_s] if given_s is None else np.where(need_s, lo_all[tp_s], given_s)
            shift = cust_s * len(stages)
            running = np.maximum.accumulate(shift + evidence) - shift
            derived = np.clip(running, lo_all[tp_s], hi_all[tp_s])
            stage_codes = derived if given_s is None else np.where(need_s, derived, given_s)
        else:
            stage_codes = given_s

        out: dict[Hashable, Any] = {
            "customer_id": pd.Series(customer_ids.take(cust_s)),
            "timestamp": pd.Series(ts_ns[perm].view("M8[ns]")).dt.tz_localize("UTC"),
            "touchpoint": pd.Categorical.from_codes(tp_s, categories=tp_categories),
            "stage": pd.Categorical.from_codes(stage_codes, categories=list(stages),
                                               ordered=True),
        }
        if channel_codes is not None:
            out["channel"] = pd.Categorical.from_codes(channel_codes[perm],
                                                       categories=list(channel_cats))
        for c, values in numeric.items():
            out[c] = values[perm]
        for c in extras:
            out[c] = data[c].iloc[perm].reset_index(drop=True)
        frame = pd.DataFrame(out, copy=False)
        frame.index = pd.RangeIndex(len(frame))

        self._frame = frame
        self._journey_map = jmap
        self._columns = {c: resolved[c] for c in CANONICAL_COLUMNS if c in resolved}
        self._extra_columns = tuple(extras)
        self._customer_ids = customer_ids
        self._customer_codes = _frozen(cust_s)
        self._source_rows = _frozen(perm)
        self._unknown = tuple(unknown)
        self._duplicates_found = n_dup
        self._duplicates_removed = n_dup if drop_duplicates else 0
        self._timezone = timezone

        if unknown:
            counts = np.bincount(tp_codes, minlength=len(tp_categories))[n_known:]
            listed = ", ".join(f"{name!r} ({int(k):,})" for name, k in zip(unknown, counts,
                                                                          strict=True))
            warnings.warn(
                f"{_plural(len(unknown), 'touchpoint')} of {ctx.label('touchpoint')} "
                f"{'is' if len(unknown) == 1 else 'are'} not in journey map {jmap.name!r}: "
                f"{listed}. They are kept, with the stage given in the data, but cjml cannot "
                "recommend them. Fix: add them to the journey map if the business can act on "
                "them.", UserWarning, stacklevel=_user_stacklevel())
        if n_dup:
            shown = "\n".join(f"  {origin.where(a)} repeats {origin.where(b)}"
                              for a, b in dup_pairs[:_MAX_SHOWN])
            more_rows = f"\n  ... and {n_dup - _MAX_SHOWN:,} more" if n_dup > _MAX_SHOWN else ""
            action = ("They were removed (drop_duplicates=True)." if drop_duplicates else
                      "They are kept. Fix: pass drop_duplicates=True (--drop-duplicates) to "
                      "remove them, if they are double-logged events.")
            warnings.warn(
                f"Found {_plural(n_dup, 'exact duplicate event')} (equal to an earlier row "
                f"in every column):\n{shown}{more_rows}\n{action}",
                UserWarning, stacklevel=_user_stacklevel())

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
    def extra_columns(self) -> tuple[Hashable, ...]:
        """The user's other columns, carried along after the canonical ones."""
        return self._extra_columns

    @property
    def timezone(self) -> Any:
        """The timezone naive input timestamps were read in."""
        return self._timezone

    @property
    def unknown_touchpoints(self) -> tuple[str, ...]:
        """Touchpoints of the log that the journey map does not list (sorted)."""
        return self._unknown

    @property
    def duplicates_found(self) -> int:
        """Number of exact duplicate events found in the input."""
        return self._duplicates_found

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
        return _frozen(np.asarray(pd.DatetimeIndex(self._frame["timestamp"]).asi8,
                                  dtype=np.int64).copy())

    @cached_property
    def touchpoint_codes(self) -> np.ndarray:
        """Touchpoint category codes per row (int64; see ``frame.touchpoint.cat.categories``)."""
        return _frozen(self._frame["touchpoint"].cat.codes.to_numpy().astype(np.int64))

    @cached_property
    def stage_codes(self) -> np.ndarray:
        """Stage index per row (int64, position in ``journey_map.stages``)."""
        return _frozen(self._frame["stage"].cat.codes.to_numpy().astype(np.int64))

    @property
    def source_rows(self) -> np.ndarray:
        """Each row's 0-based position in the input (files concatenated in name order)."""
        return self._source_rows

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
        per_tp = pd.Series(np.bincount(self.touchpoint_codes, minlength=len(tp_cats)),
                           index=pd.Index(tp_cats, name="touchpoint"), name="events")
        st_cats = f["stage"].cat.categories
        per_stage = pd.Series(np.bincount(self.stage_codes, minlength=len(st_cats)),
                              index=pd.Index(st_cats, name="stage"), name="events")
        per_channel = None
        if "channel" in f.columns:
            codes = f["channel"].cat.codes.to_numpy()
            cats = f["channel"].cat.categories
            per_channel = pd.Series(np.bincount(codes[codes >= 0], minlength=len(cats)),
                                    index=pd.Index(cats, name="channel"), name="events")
        coverage = {c: (float(f[c].notna().mean()) if c in f.columns else None)
                    for c in _NUMERIC_COLUMNS}
        ts = self.timestamps_ns
        return EventLogSummary(
            n_customers=self.n_customers,
            n_events=self.n_events,
            first_timestamp=pd.Timestamp(int(ts.min()), tz="UTC"),
            last_timestamp=pd.Timestamp(int(ts.max()), tz="UTC"),
            events_per_touchpoint=per_tp,
            events_per_stage=per_stage,
            events_per_channel=per_channel,
            coverage=coverage,
            duplicates_found=self._duplicates_found,
            duplicates_removed=self._duplicates_removed,
            unknown_touchpoints=self._unknown,
            journey_map_name=self._journey_map.name,
        )

    def __repr__(self) -> str:
        ts = self.timestamps_ns
        first = pd.Timestamp(int(ts.min()), tz="UTC").date()
        last = pd.Timestamp(int(ts.max()), tz="UTC").date()
        return (f"EventLog({self.n_events:,} events, {self.n_customers:,} customers, "
                f"{first} to {last}, journey map {self._journey_map.name!r})")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


# --------------------------------------------------------------------------- read_events
def read_events(
    source: pd.DataFrame | EventLog | str | os.PathLike,
    *,
    columns: Mapping[str, Hashable] | str | None = None,
    journey_map: JourneyMap | Mapping[str, Any] | str | Path | None = None,
    timezone: Any = "UTC",
    timestamp_unit: str | None = None,
    drop_duplicates: bool = False,
    missing_ids: Sequence[str] | str | None = None,
) -> EventLog:
    """Read, validate and canonicalise an event log.

    The single entry point for user data: whatever the source, the result is
    the same canonical :class:`EventLog`, or an error that says what is wrong,
    where, and how to fix it.

    Parameters
    ----------
    source : DataFrame, EventLog, str or path-like
        A DataFrame; an EventLog (returned as is); a CSV file (``.csv``, or
        compressed ``.csv.gz`` etc.); a Parquet file (``.parquet``, ``.pq``);
        or a folder of Parquet files or of CSV files, read in name order
        (files starting with ``.`` or ``_`` are skipped). All files of a
        folder must have the same columns.
    columns : mapping or str, optional
        Canonical name -> your column name, e.g.
        ``{"customer_id": "user", "timestamp": "event_time"}``, or as text
        ``"customer_id=user,timestamp=event_time"``.
    journey_map : JourneyMap, dict, str or Path, optional
        The journey map, a dict, or a ``.toml``/``.json`` file; None for
        :meth:`JourneyMap.default`.
    timezone : str or tzinfo, default "UTC"
        Timezone of naive timestamps; everything is stored in UTC.
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

    Returns
    -------
    EventLog
        The validated log, sorted by customer then time.

    Raises
    ------
    InputFileError
        When the path does not exist or cannot be read (permission denied),
        is not CSV or Parquet (an image, a workbook...), or breaks the CSV
        rules of every cjml command: UTF-8 text separated by commas, each
        column name once, every line with as many fields as the header (a
        short or long line is refused with its line number).
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
        (they would move a default cutoff).

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
    options = dict(columns=columns, journey_map=journey_map, timezone=timezone,
                   timestamp_unit=timestamp_unit, drop_duplicates=drop_duplicates,
                   missing_ids=missing_ids)
    if isinstance(source, EventLog):
        return source
    if isinstance(source, pd.DataFrame):
        return EventLog.from_frame(source, **options)
    if not isinstance(source, str | os.PathLike):
        raise InputFileError(
            f"Cannot read events from a {type(source).__name__}. {_ACCEPTED}.")
    path = Path(source)
    data, origin = _read_path(path, _parse_columns(columns))
    return EventLog._from_source(data, origin, text_ints=origin.csv, **options)
