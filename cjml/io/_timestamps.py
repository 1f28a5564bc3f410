"""Timestamps: every way a time can be written, read as UTC nanoseconds, or refused.

Arrow and pandas timestamps, dates as text in one format per column, epoch
numbers with a unit, dates written as numbers (``20240131``); and the rules on
a whole log's times (mixed formats, all within a year of 1970, events far past
the rest).
"""

from __future__ import annotations

import datetime
import re
import warnings
import zoneinfo
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_float_dtype,
    is_numeric_dtype,
)
from pandas.tseries.api import guess_datetime_format

from cjml.exceptions import SchemaError
from cjml.io._csv import cast_or_none
from cjml.io._messages import (
    _MAX_SHOWN,
    REQUIRED_COLUMNS,
    _Context,
    _decategorize,
    _did_you_mean,
    _plural,
    _row_error,
    _show,
    _user_stacklevel,
)

_TIMESTAMP_UNITS = ("s", "ms", "us", "ns")


_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


# A UTC offset or zone letter after a time of day: "10:00Z", "10:00:00+02:00", "T1000 UTC".
_TZ_SUFFIX = re.compile(
    r"(?:\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2,6})\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)\s*$",
    re.IGNORECASE,
)


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


def _localise(
    idx: pd.DatetimeIndex, positions: np.ndarray, timezone: Any, ctx: _Context
) -> pd.DatetimeIndex:
    """Naive wall times read in ``timezone``, as UTC.

    A daylight-saving change makes some wall times ambiguous (the hour that repeats
    when clocks go back) or impossible (the hour skipped when they go forward). Every
    local-time export of a year holds some, so they are read, not refused, and said:
    a repeated time as its first occurrence (summer time), a skipped time an hour
    later (the clock that wrote it had not yet been put forward). An hour is below
    what any feature resolves; the warning says how to be exact.
    """
    if _is_utc(timezone):
        return idx.tz_localize("UTC")
    local = idx.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    bad = np.flatnonzero(np.asarray(local.isna()) & ~np.asarray(idx.isna()))
    if not len(bad):
        return local.tz_convert("UTC")
    wall = idx[bad]
    first = wall.tz_localize(timezone, ambiguous=np.ones(len(bad), dtype=bool), nonexistent="NaT")
    skipped = np.asarray(first.isna())
    moved = wall.tz_localize(
        timezone, ambiguous=np.ones(len(bad), dtype=bool), nonexistent=pd.Timedelta(hours=1)
    )
    values = local.as_unit("ns").asi8.copy()
    values[bad] = moved.as_unit("ns").asi8
    read = pd.DatetimeIndex(values.view("M8[ns]")).tz_localize("UTC")
    row = int(positions[bad[0]])
    example = (
        f"{ctx.origin.where(row)}: {_show(ctx.raw('timestamp').iloc[row])} "
        f"read as {moved[0].isoformat()}"
    )
    n_skipped = int(skipped.sum())
    n_repeated = len(bad) - n_skipped
    if ctx.dst_shifts is None:
        warnings.warn(
            _dst_warning(ctx.label("timestamp"), timezone, n_repeated, n_skipped, example),
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    else:
        shifts = ctx.dst_shifts
        shifts["repeated"] = shifts.get("repeated", 0) + n_repeated
        shifts["skipped"] = shifts.get("skipped", 0) + n_skipped
        shifts.setdefault("example", example)
    return read


def _dst_warning(label: str, timezone: Any, repeated: int, skipped: int, example: str) -> str:
    """The warning on local times read across a daylight-saving change (see _localise)."""
    parts = []
    if repeated:
        parts.append(
            f"{repeated:,} in an hour that repeats when clocks go back (read as its first "
            "occurrence, summer time)"
        )
    if skipped:
        parts.append(
            f"{skipped:,} in an hour that clocks skip when they go forward (read an hour "
            "later, as from a clock not yet put forward)"
        )
    n = repeated + skipped
    return (
        f"{_plural(n, 'local time')} of {label} {'falls' if n == 1 else 'fall'} in a "
        f"daylight-saving change of timezone {str(timezone)!r}: {' and '.join(parts)}; "
        f"e.g. {example}. Fix: if the hour matters, give the timestamps a UTC offset (e.g. "
        "'2024-10-27T02:30:00+01:00') or store the log in UTC."
    )


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


def _epoch_unit_hint(values: np.ndarray, column: Any = "timestamp") -> str:
    """The fix for epoch numbers given without a unit: the unit their size suggests (or the
    conversion of spreadsheet serial dates; ``column``: the user's name for the times)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    unit = _plausible_unit(float(np.median(np.abs(values)))) if len(values) else None
    if (
        unit is None
        and len(values)
        and np.all((values >= _SERIAL_DAYS[0]) & (values <= _SERIAL_DAYS[1]))
    ):
        example = float(values[0])
        when = _SERIAL_ORIGIN + pd.Timedelta(days=example)
        col = repr(str(column))
        return (
            f"they look like spreadsheet serial dates, days since 1899-12-30 ({example:.10g} is "
            f"{when:%Y-%m-%d %H:%M}): format the column as dates in the spreadsheet before "
            f"saving it, or convert them, e.g. df[{col}] = pd.to_datetime(df[{col}], "
            "unit='D', origin='1899-12-30')."
        )
    if unit is None:
        relative = ""
        if len(values) and values.min() >= 0 and values.max() < _RELATIVE_SECONDS:
            relative = " " + _relative_times_fix(str(column), "s")
        return (
            "if they are Unix epoch times, pass timestamp_unit='s' (seconds) or "
            "timestamp_unit='ms' (milliseconds); on the command line --timestamp-unit s."
            f"{relative} Otherwise give dates as text, e.g. '2024-03-01 14:30:00'."
        )
    example = float(np.median(values))
    when = pd.Timestamp(int(example * _NS_PER_UNIT[unit]), tz="UTC")
    return (
        f"they look like Unix epoch times in {_UNIT_WORDS[unit]} ({example:.0f} is "
        f"{when:%Y-%m-%d %H:%M} UTC): pass timestamp_unit={unit!r} (--timestamp-unit "
        f"{unit}). Otherwise give dates as text, e.g. '2024-03-01 14:30:00'."
    )


# Excel's and LibreOffice's serial dates: days since 1899-12-30, from 1970 to 2100
_SERIAL_ORIGIN = pd.Timestamp("1899-12-30")
_SERIAL_DAYS = (25569.0, 73051.0)


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
        ok = (
            (year >= 1900)
            & (year <= 2100)
            & (month >= 1)
            & (month <= 12)
            & (mday >= 1)
            & (mday <= 31)
        )
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
    as_epoch = (
        pd.Timestamp(first * _NS_PER_UNIT[unit], tz="UTC")
        if abs(first * _NS_PER_UNIT[unit]) < 9.2e18
        else None
    )
    read = (
        f"; as {_UNIT_WORDS[unit]} since 1970, {first} would be {as_epoch:%Y-%m-%d %H:%M}"
        if as_epoch is not None
        else ""
    )
    shape = "YYYYMMDD" if fmt == "%Y%m%d" else "YYYYMMDDhhmmss"
    when = pd.to_datetime(str(first), format=fmt)
    raise ctx.fail(
        "timestamp",
        np.arange(len(values)),
        f"numbers written like dates ({shape}: {first} is {when:%Y-%m-%d})",
        f"leave out --timestamp-unit {unit} (timestamp_unit={unit!r}): without it "
        f"cjml reads {shape} numbers as dates{read}.",
        whole_column=True,
    )


def naive_times(column: pd.Series, sample: int = 1_000) -> bool:
    """Whether a timestamp column's values carry no zone, so that they were read in the
    log's timezone: naive datetimes, dates, numbers written like dates (20240131), or, in
    an evenly spread sample of ``sample`` values, text without an offset or zone letter.
    Zoned datetimes and epoch numbers (UTC by definition) carry one."""
    s = _decategorize(column)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return False
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "M":
        return True
    values = s.iloc[:: max(1, len(s) // sample)].dropna()  # a sample: a few µs at any size
    if is_numeric_dtype(s.dtype) and not is_bool_dtype(s.dtype):
        return _date_number_format(values.to_numpy(dtype=np.float64)) is not None
    for value in values:
        if isinstance(value, str):
            if not _TZ_SUFFIX.search(value.strip()):
                return True
        elif isinstance(value, datetime.date | np.datetime64):
            if getattr(value, "tzinfo", None) is None:
                return True
    return False


def _timestamps_ns(
    ctx: _Context,
    timezone: Any,
    unit: str | None,
    found: dict | None = None,
    prefer: str | None = None,
) -> np.ndarray:
    """Event times as int64 nanoseconds since the epoch, UTC, in input order.

    ``found``, when given, receives the date formats of text timestamps:
    format -> (rows, example), for a check over several batches (``score``).
    ``prefer`` is the date format decided over the whole column
    (:func:`column_date_format`): a batch whose dates read as well in another
    format (05/03/2024, month or day first) takes it, so that every batch of a
    column reads its dates one way, as :func:`cjml.read_events` does.
    """
    s = _decategorize(ctx.raw("timestamp"))
    n = len(s)
    all_rows = np.arange(n)
    null_fix = (
        "fill in the time of these events, or remove them before calling cjml "
        "(cjml never drops an event on its own)."
    )
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
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        idx = pd.DatetimeIndex(s)
        null = np.flatnonzero(np.asarray(idx.isna()))
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        idx = (
            idx.tz_convert("UTC") if idx.tz is not None else _localise(idx, all_rows, timezone, ctx)
        )
    elif is_numeric_dtype(dtype) and not is_bool_dtype(dtype):
        values = (
            s.to_numpy(dtype=np.float64, na_value=np.nan) if is_float_dtype(dtype) else s.to_numpy()
        )
        if values.dtype == object:  # nullable integers with missing values
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        given = ~pd.isna(values)
        if unit is None:
            given_rows = np.flatnonzero(given)
            if _date_number_format(values[given]) is not None:
                # 20240131: a date written as a number, read as the same text would be
                text = pd.Series(
                    np.where(given, values, 0).astype(np.int64).astype(str), dtype=object
                ).where(given, None)
                idx = _parse_text_timestamps(text, ctx, timezone, None, null_fix, found)
                return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)
            raise ctx.fail(
                "timestamp",
                given_rows if len(given_rows) else all_rows,
                "numbers instead of dates",
                _epoch_unit_hint(values[given], ctx.resolved["timestamp"]),
                whole_column=True,
            )
        null = np.flatnonzero(~given)
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        _refuse_date_numbers(values, unit, ctx)
        ns, bad = _epoch_ns(values, unit)
        if bad.any():
            raise ctx.fail(
                "timestamp",
                np.flatnonzero(bad),
                f"epoch times that are out of range for timestamp_unit={unit!r} "
                "(years 1677 to 2262)",
                "check timestamp_unit ('s', 'ms', 'us' or 'ns') and the values.",
            )
        return ns
    else:
        idx = _parse_text_timestamps(s, ctx, timezone, unit, null_fix, found, prefer)
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
        raise _outside_range(ctx, positions[outside])


def _outside_range(ctx: _Context, positions: np.ndarray) -> Exception:
    return ctx.fail(
        "timestamp",
        positions,
        "dates outside the supported range (years 1677 to 2262)",
        "correct these dates (a typo in the year?).",
    )


#: Above this many unreadable values, none is looked at as an ISO date out of range.
_MAX_RANGE_CHECKS = 100_000


def _iso_beyond_range(values: pd.Series) -> np.ndarray:
    """Which ``values`` are ISO 8601 dates that nanosecond timestamps cannot hold.

    pandas 3 reads '3024-01-01' as a date (then refused by :func:`_check_bounds`),
    pandas 2 as no date at all: looked at here so that both say the same.
    """
    beyond = np.zeros(len(values), dtype=bool)
    if len(values) > _MAX_RANGE_CHECKS:
        return beyond
    # to whole microseconds, which datetime holds (converting the nanoseconds warns)
    low = pd.Timestamp.min.ceil("us").to_pydatetime()
    high = pd.Timestamp.max.floor("us").to_pydatetime()
    for k, text in enumerate(values.astype(str).str.strip()):
        try:
            when = datetime.datetime.fromisoformat(text)
            if when.tzinfo is not None:
                when = when.astimezone(datetime.UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            continue
        beyond[k] = not low <= when <= high
    return beyond


# a date with a two-digit year and what follows it: day (or month), separator, month (or
# day), the same separator, the year
_SHORT_YEAR = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{2})(?!\d)(.*)$")


#: A 12-hour time's AM or PM at the end of a date text ('3:04 PM', '9:15am').
_MERIDIEM = re.compile(r"\d\s*([AaPp][Mm])$")


#: A date and time followed by a zone's abbreviation ('2024-01-02 15:04 CET'), which
#: names no zone for sure (CST is three of them) and so is not read.
_ZONE_NAME = r"^(?P<time>.*\d)\s+(?P<zone>(?!AM$|PM$)[A-Z]{2,6})$"


def _zone_name_fix(zoned: pd.DataFrame, column: Any) -> str:
    """The fix for times that end with a zone's abbreviation: drop it, say the zone."""
    zones = sorted(set(zoned["zone"]))
    col = repr(str(column))
    return (
        f"these times end with a zone's abbreviation ({', '.join(map(repr, zones[:3]))}), "
        "which cjml does not guess (CST is three zones, IST three more): remove it and say "
        "the zone instead (timezone='Europe/Paris', --timezone Europe/Paris), e.g. "
        f"df[{col}] = df[{col}].str.replace(r'\\s+[A-Z]{{2,6}}$', '', regex=True); or write "
        "each time with its offset ('2024-03-01T14:30:00+01:00')."
    )


_LITERAL_WORD = re.compile(r"[A-Za-z]{2,}")


def _guess_formats(text: str, prefer: str | None = None) -> list[str]:
    """The strftime formats a date text may be in (month first, then day first, but day first
    for dotted dates; ``prefer`` first when it is one of them)."""

    def guess(t: str) -> list[str | None]:
        guesses = [guess_datetime_format(t), guess_datetime_format(t, dayfirst=True)]
        meridiem = _MERIDIEM.search(t)
        if meridiem and not any(guesses):
            # pandas guesses a 12-hour time only when the hour it reads back is the hour
            # written, and misses '3:04 PM' and '12:30 AM': the other half of the day is
            # written in the same format
            other = "AM" if meridiem.group(1).lower() == "pm" else "PM"
            probe = t[: meridiem.start(1)] + other
            guesses = [
                g if g is not None and "%p" in g else None
                for g in (guess_datetime_format(probe), guess_datetime_format(probe, True))
            ]
        return guesses

    with warnings.catch_warnings():  # pandas warns about dayfirst: we try both on purpose
        warnings.simplefilter("ignore")
        guesses = guess(text)
        short = _SHORT_YEAR.match(text)
        if short and not any(guesses):
            # a spreadsheet's short date ('31.01.24 10:00', '1/31/24 9:00 AM'), which pandas
            # does not guess: guessed with the century, then written with two digits again
            a, sep, b, year, rest = short.groups()
            full = f"{a}{sep}{b}{sep}20{year}{rest}"
            guesses = [None if g is None else g.replace("%Y", "%y") for g in guess(full)]
    if re.match(r"\d{1,2}\.\d{1,2}\.", text):
        guesses.reverse()  # dotted dates are written day first ('05.02.2024' is 5 February)
    # pandas 2 guesses a word after the time as literal text ('%H:%M:%S CET'), pandas 3 no
    # format: a zone abbreviation is refused with its fix either way
    formats = list(
        dict.fromkeys(
            g for g in guesses if g is not None and not _LITERAL_WORD.search(re.sub("%.", "", g))
        )
    )
    if prefer in formats:
        formats.remove(prefer)
        formats.insert(0, prefer)
    return formats


def _worth_a_warning(formats: Sequence[str]) -> list[str]:
    """The formats of ``formats`` people write dates in: not year, day, month (2024/05/03
    read as 5 March), which pandas guesses day first but nobody writes."""

    def year_day_month(fmt: str) -> bool:
        at = [fmt.find(code) for code in ("%Y", "%d", "%m")]
        return min(at) >= 0 and at[0] < at[1] < at[2]

    return [f for f in formats if not year_day_month(f)]


def _not_iso(values: pd.Series) -> pd.Series:
    """The given text timestamps that ISO 8601 cannot read, stripped."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    iso = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return text[np.asarray(iso.isna())].reset_index(drop=True)


def column_date_format(batches) -> tuple[str | None, list[str], pd.Series]:
    """The date format of a text timestamp column read in batches, decided before them.

    The rule of :func:`cjml.read_events`, which reads a column at once: the
    formats the first date ISO 8601 cannot read may be in (month first, then
    day first), the one that reads the most dates, the first on a tie. Reading
    each batch by that rule alone would read a day-first column's early batches
    month first, wherever no day above 12 has come yet. Batches are read until
    they tell the formats apart (usually the first): a first batch of ISO 8601
    dates, or a first date with one possible format, decides at once.

    Parameters
    ----------
    batches : iterable of pandas.Series
        The column's values, batch by batch, in order (read lazily).

    Returns
    -------
    format : str or None
        The format chosen; None when the first batch holds ISO 8601 dates only,
        or its first other date has no format.
    tied : list of str
        The other formats that read every date of the column as well (an
        ambiguous column: 05/03/2024 month or day first), else empty.
    examples : pandas.Series
        The first batch's dates that ISO 8601 cannot read (for the warning).
    """
    candidates: list[str] = []
    hits: dict[str, int] = {}
    examples = pd.Series([], dtype=object)
    for values in batches:
        rest = _not_iso(values)
        if not candidates:
            if not len(rest):
                return None, [], examples  # ISO 8601: a later other format is a mix, refused
            examples = rest
            candidates = _guess_formats(str(rest.iloc[0]))
            if len(candidates) < 2:  # one way to read it: nothing to decide
                return (candidates[0] if candidates else None), [], examples
        for fmt in candidates:
            read = pd.to_datetime(rest, utc=True, format=fmt, errors="coerce").notna()
            hits[fmt] = hits.get(fmt, 0) + int(read.sum())
        if len(set(hits.values())) > 1:
            break  # told apart
    if not candidates:
        return None, [], examples
    best = max(candidates, key=lambda f: hits[f])  # ties: the first, month first
    tied = [f for f in candidates if f != best and hits[f] == hits[best]]
    return best, _worth_a_warning(tied), examples


def _warn_ambiguous_dates(
    label: str, values: pd.Series, chosen: str, others: Sequence[str]
) -> None:
    """Say that a column's dates read as well in another format, and which one was taken,
    with the first of ``values`` that the two read as different days."""
    from cjml.io._messages import _user_stacklevel

    sample = values.iloc[:1000].astype(str).reset_index(drop=True)
    mine = pd.to_datetime(sample, format=chosen, errors="coerce")
    theirs = pd.to_datetime(sample, format=others[0], errors="coerce")
    differ = np.flatnonzero(np.asarray(mine.notna() & theirs.notna() & (mine != theirs)))
    k = int(differ[0]) if len(differ) else 0
    alternatives = ", ".join(
        f"{o!r} ({pd.Timestamp(pd.to_datetime(sample[k], format=o)):%d %B %Y})" for o in others
    )
    warnings.warn(
        f"Every date of {label} reads in two ways, e.g. {sample[k]!r}: cjml reads them as "
        f"{chosen!r} ({pd.Timestamp(mine[k]):%d %B %Y}), not {alternatives}. Fix: if that is "
        "wrong, write the dates in ISO 8601 ('2024-03-05'), e.g. in pandas df[col] = "
        "pd.to_datetime(df[col], dayfirst=True), then pass df or save it to a file.",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _fold_date_only(formats: Mapping[str, Sequence]) -> dict[str, list]:
    """The formats of a column with each date-only one ('%d/%m/%Y') counted in the format
    that writes the same date with a time ('%d/%m/%Y %H:%M'): midnight written without its
    time, as some exports do. It reads the date the same way, so it is one format, as ISO
    8601 with and without a time is (format -> [rows, example])."""
    out = {fmt: list(v) for fmt, v in formats.items()}
    for fmt in list(out):
        fuller = [g for g in out if g != fmt and g.startswith((f"{fmt} ", f"{fmt}T"))]
        if fmt != _ISO and fuller:
            out[fuller[0]][0] += out.pop(fmt)[0]
    return out


def _mixed_formats_error(label: str, formats: Mapping[str, Sequence]) -> SchemaError:
    """The refusal of a column whose dates come in several formats (format -> rows, e.g.)."""
    parts = [
        f"{'ISO 8601' if fmt == _ISO else repr(fmt)} on {_plural(int(rows), 'row')} "
        f"(e.g. {example})"
        for fmt, (rows, example) in formats.items()
    ]
    return _row_error(
        f"{label[0].upper()}{label[1:]} mixes date formats: {'; '.join(parts)}. cjml reads one "
        "format per column, so that a date such as 02/01/2024 is never read two ways. Fix: "
        "write every date in one format, preferably ISO 8601 ('2024-01-31 14:30:00').",
        "timestamp",
        None,
        "dates in several formats",
    )


def _iso_by_arrow(raw: pd.Series) -> pd.Series | None:
    """Text timestamps all in strict ISO 8601, all with a zone offset or all without (read
    as UTC), parsed by Arrow: what ``pd.to_datetime(raw, utc=True, format="ISO8601")``
    gives them, about seven times faster. None for any other column (a missing value, a
    single-digit month, a value with spaces around it, mixed offsets and naive times...),
    which pandas then reads. Where Arrow reads a value, it read it as pandas does in every
    case tried (``test_iso_times_parsed_by_arrow_are_what_pandas_reads`` keeps checking)."""
    import pyarrow as pa

    try:
        text = pa.array(raw, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return None
    if text.null_count or not len(text):
        return None
    for zone in (None, "UTC"):  # naive times read as UTC, as utc=True reads them
        times = cast_or_none(text, pa.timestamp("ns", zone))
        if times is None:
            continue
        ns = times.cast(pa.int64()).to_numpy()
        values = pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")
        return pd.Series(values, index=raw.index)
    return None


def _parse_text_timestamps(
    s: pd.Series,
    ctx: _Context,
    timezone: Any,
    unit: str | None,
    null_fix: str,
    found: dict | None = None,
    prefer: str | None = None,
) -> pd.DatetimeIndex:
    raw = s.reset_index(drop=True)
    if is_bool_dtype(raw.dtype):
        raise ctx.fail(
            "timestamp",
            np.arange(len(raw)),
            "true/false values instead of dates",
            "give the time of each event, e.g. '2024-03-01 14:30:00'.",
            whole_column=True,
        )
    if unit is not None:
        # timestamp_unit says the text holds epoch numbers.
        numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.asarray(raw.isna()) | np.asarray(raw.astype(str).str.strip() == "")
        null = np.flatnonzero(missing)
        if len(null):
            raise ctx.fail("timestamp", null, "no timestamp", null_fix, REQUIRED_COLUMNS)
        bad = np.flatnonzero(np.isnan(numbers))
        if len(bad):
            raise ctx.fail(
                "timestamp",
                bad,
                f"text that is not a number, although timestamp_unit={unit!r} was given",
                "leave timestamp_unit out for text dates, or correct these values.",
            )
        _refuse_date_numbers(numbers, unit, ctx)
        ns, out = _epoch_ns(numbers, unit)
        if out.any():
            raise ctx.fail(
                "timestamp",
                np.flatnonzero(out),
                f"epoch times that are out of range for timestamp_unit={unit!r}",
                "check timestamp_unit ('s', 'ms', 'us' or 'ns') and the values.",
            )
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")
    # ISO 8601 first (fast, and mixed offsets are fine); then the formats of what it could
    # not read, each tried on all the rest. No per-element dateutil fallback: it guesses
    # silently. Several formats in one column are refused, whatever the row order.
    parsed = _iso_by_arrow(raw)
    if parsed is None:
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
        for attempt in range(_MAX_FORMATS):
            if not len(left):
                break
            best = None
            tied: list[str] = []
            for fmt in _guess_formats(text.iloc[left[0]], prefer):
                tried = pd.to_datetime(text.iloc[left], utc=True, format=fmt, errors="coerce")
                hit = ~np.asarray(tried.isna())
                if best is None or hit.sum() > best[2].sum():
                    best, tied = (fmt, tried, hit), []
                elif np.array_equal(hit, best[2]):
                    tied.append(fmt)
            tied = _worth_a_warning(tied)
            if attempt == 0 and tied and found is None and best is not None and best[2].all():
                # the whole column read at once (read_events): say so here; batches are
                # decided over the whole column first (column_date_format), and warned there
                _warn_ambiguous_dates(ctx.label("timestamp"), text.iloc[left], best[0], tied)
            if best is None or not best[2][0]:  # the first value has no format: unreadable
                unreadable = np.append(unreadable, failed[left[0]])
                left = left[1:]
                continue
            fmt, tried, hit = best
            parsed.iloc[failed[left[hit]]] = tried[hit].array  # type: ignore[call-overload]  # stubs: no DatetimeArray
            formats[fmt] = [int(hit.sum()), int(failed[left[hit][0]])]
            left = left[~hit]
        unreadable = np.sort(np.concatenate([unreadable, failed[left]]))
    described = {
        fmt: (rows, f"{ctx.origin.where(pos)}: {_show(raw.iloc[pos])}")
        for fmt, (rows, pos) in formats.items()
    }
    if len(_fold_date_only(formats)) > 1:
        raise _mixed_formats_error(ctx.label("timestamp"), described)
    if len(unreadable):
        beyond = _iso_beyond_range(raw.iloc[unreadable])
        if beyond.all():
            raise _outside_range(ctx, unreadable)
        unreadable = unreadable[~beyond]
        sample = raw.iloc[unreadable].astype(str).str.strip()
        looks_numeric = bool(sample.str.fullmatch(r"-?\d+(?:\.\d+)?").all())
        zoned = sample.str.extract(_ZONE_NAME)
        fix = (
            _epoch_unit_hint(
                pd.to_numeric(sample, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan),
                ctx.resolved["timestamp"],
            )
            if looks_numeric
            else _zone_name_fix(zoned, ctx.resolved["timestamp"])
            if zoned.notna().all(axis=None)
            else (
                "give dates in one format, preferably ISO 8601: '2024-03-01 14:30:00' "
                "or with an offset '2024-03-01T14:30:00+01:00'."
            )
        )
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
    return (
        f"{_plural(n_late, 'event')} of {label} {'are' if many else 'is'} far past the "
        f"rest: more than {LATE_EVENT_DAYS} days after 99.9% of the events (which end by "
        f"{bulk_end:%Y-%m-%d}), the latest on {last:%Y-%m-%d %H:%M}. "
        f"{'They move' if many else 'It moves'} the default cutoff (the last event) to "
        f"{last:%Y-%m-%d}. Fix: remove {'them' if many else 'it'} if "
        f"{'they are errors' if many else 'it is an error'} (a typo in the year?), or pass "
        f"--cutoff (cutoff=...) to work as of an earlier date, e.g. --cutoff "
        f"{bulk_end:%Y-%m-%d}."
    )


def _odd_dates_warnings(
    label: str, days: Mapping[int, int], last_ns: int, *, cutoff_from_data: bool = True
) -> list[str]:
    """The warnings on the dates of a whole log, in the order they should be read.

    Stand-in days for a missing date and stretches without events always; then, when the
    cutoff will be the last event (``cutoff_from_data``), events far past the rest or,
    failing that, after today.
    The two are one finding when both hold, so only the first is said.
    """
    found = [_stand_in_dates_warning(label, days), _hole_warning(label, days)]
    if cutoff_from_data:
        late = _late_events_warning(label, days, int(last_ns))
        found.append(late if late is not None else _future_events_warning(label, days, last_ns))
    return [m for m in found if m is not None]


#: A hole: at least this many days in a row with at most this share of the median day's
#: events, in a log whose median day has at least this many (a weekend or a long one is
#: shorter; a sparse log's empty days are chance).
HOLE_DAYS, HOLE_SHARE, HOLE_MIN_DAILY = 5, 0.02, 20


def _holes(days: Mapping[int, int]) -> tuple[list[tuple[int, int, int]], float]:
    """Runs of days inside the log with (almost) no events: (first day, last day, events)
    each, and the median day's events. Inside: between the days of the 0.1% and 99.9%
    quantiles of the events, so a stray date decades off is not a hole."""
    if not days:
        return [], 0.0
    keys = np.array(sorted(days), dtype=np.int64)
    counts = np.array([days[k] for k in keys], dtype=np.int64)
    cum = np.cumsum(counts)
    lo = keys[np.searchsorted(cum, 0.001 * cum[-1], side="right")]
    hi = keys[min(np.searchsorted(cum, 0.999 * cum[-1], side="left"), len(keys) - 1)]
    daily = np.zeros(int(hi - lo) + 1, dtype=np.int64)
    inside = (keys >= lo) & (keys <= hi)
    daily[keys[inside] - lo] = counts[inside]
    median = float(np.median(daily))
    if median < HOLE_MIN_DAILY:
        return [], median
    low = np.r_[False, daily <= HOLE_SHARE * median, False]
    starts = np.flatnonzero(low[1:] & ~low[:-1])
    ends = np.flatnonzero(~low[1:] & low[:-1])  # exclusive
    return [
        (int(lo + a), int(lo + b - 1), int(daily[a:b].sum()))
        for a, b in zip(starts, ends, strict=True)
        if b - a >= HOLE_DAYS
    ], median


def _hole_warning(label: str, days: Mapping[int, int]) -> str | None:
    """The warning about stretches of days without events inside the log (a tracking outage, a file
    missing from a folder of daily exports): customers look silent across them."""
    holes, median = _holes(days)
    if not holes:
        return None

    def said(first: int, last: int, n: int) -> str:
        day = lambda d: f"{pd.Timestamp(d * _DAY_NS):%Y-%m-%d}"  # noqa: E731
        what = "no events" if n == 0 else f"only {_plural(n, 'event')}"
        return f"{what} from {day(first)} to {day(last)} ({last - first + 1} days)"

    listed = "; ".join(said(*h) for h in holes[:_MAX_SHOWN])
    extra = len(holes) - _MAX_SHOWN
    more = f"; and {extra} more such stretches" if extra > 0 else ""
    return (
        f"{label[0].upper()}{label[1:]} has {listed}{more}, where the median day has "
        f"{median:,.0f}: a tracking outage, a file missing from the export, or a closure? "
        "Across it every customer looks silent: a churn label whose window covers it counts "
        "customers as dropped off who were not, and recency grows. Fix: add the missing "
        "events; if there were none (a closure), train with cutoffs whose label windows "
        "avoid it (cjml.train(..., cutoffs=[...]); cjml train --cutoffs DATE,...)."
    )


# Days (since 1970-01-01) that exports write for a missing date: the Unix epoch's day zero,
# and the day zero of spreadsheets (1899-12-30 in Excel and Google Sheets, 1899-12-31 and
# 1900-01-01 in older tools).
_STAND_IN_DAYS: dict[int, str] = {
    0: "the Unix epoch's day zero",
    -25569: "a spreadsheet's day zero",
    -25568: "a spreadsheet's day zero",
    -25567: "a spreadsheet's day zero",
}
# How far before the rest of the log a stand-in day must lie to count as one.
_STAND_IN_GAP_DAYS = 365


def _stand_in_dates_warning(label: str, days: Mapping[int, int]) -> str | None:
    """The warning about events dated on a day that stands in for a missing date.

    1970-01-01 or 1899-12-30, a year or more before every other event, is what a
    database or a spreadsheet writes for an empty date: such events make their
    customers look decades old and stretch the log's period.
    """
    stand_in = {d: int(c) for d, c in days.items() if d in _STAND_IN_DAYS}
    rest = [d for d in days if d not in _STAND_IN_DAYS]
    if not stand_in or not rest or min(rest) - max(stand_in) < _STAND_IN_GAP_DAYS:
        return None
    n = sum(stand_in.values())
    first_rest = pd.Timestamp(min(rest) * _DAY_NS, tz="UTC")
    shown = ", ".join(
        f"{pd.Timestamp(d * _DAY_NS, tz='UTC'):%Y-%m-%d} ({_STAND_IN_DAYS[d]}, {c:,})"
        for d, c in sorted(stand_in.items())
    )
    years = (min(rest) - max(stand_in)) / 365.25
    many = n != 1
    return (
        f"{_plural(n, 'event')} of {label} {'are' if many else 'is'} dated {shown}, "
        f"at least {years:.0f} years before the rest of the log (which starts on "
        f"{first_rest:%Y-%m-%d}): that day is what exports write for a missing date. "
        f"{'They make' if many else 'It makes'} {'their customers' if many else 'its customer'} "
        "look decades old (tenure, first seen) and stretch the log's period. Fix: fill in "
        f"the real dates, or remove these events."
    )


def _future_events_warning(
    label: str, days: Mapping[int, int], last_ns: int, today: pd.Timestamp | None = None
) -> str | None:
    """The warning about events dated after today, before they move the default cutoff.

    A day of slack covers clocks and timezones ahead of this computer's.
    """
    today = pd.Timestamp.now(tz="UTC") if today is None else today
    today_day = int(today.value // _DAY_NS)
    n_future = sum(int(c) for d, c in days.items() if d > today_day + 1)
    if not n_future:
        return None
    last = pd.Timestamp(int(last_ns), tz="UTC")
    past = [d for d in days if d <= today_day + 1]
    # the suggested cutoff: the end of the last day with an event that is not in the future
    suggested = pd.Timestamp((max(past) + 1) * _DAY_NS, tz="UTC") if past else today
    many = n_future != 1
    return (
        f"{_plural(n_future, 'event')} of {label} {'are' if many else 'is'} dated after "
        f"today ({today:%Y-%m-%d}), the latest on {last:%Y-%m-%d %H:%M}. "
        f"{'They move' if many else 'It moves'} the default cutoff (the last event) into the "
        f"future. Fix: correct {'their dates' if many else 'its date'} (a typo in the year?) "
        f"or remove {'them' if many else 'it'}, or pass --cutoff (cutoff=...) to work as of "
        f"an earlier date, e.g. --cutoff {suggested:%Y-%m-%d}."
    )


#: Numbers below this (ten years in seconds) may count from the start of the data.
_RELATIVE_SECONDS = 10 * 365.25 * 86_400


def _relative_times_fix(column: str, unit: str) -> str:
    """How to read times that count from the start of the data, not from 1970."""
    return (
        "If they count from the start of the data rather than from 1970 (as some public "
        "datasets do, e.g. Criteo's attribution data), add the start date: "
        f"df[{column!r}] = pd.Timestamp('2024-01-01') + pd.to_timedelta(df[{column!r}], "
        f"unit={unit!r}), with the real start date if known."
    )


def _epoch_error(
    label: str, first_ns: int, last_ns: int, unit: str | None, column: Hashable = "timestamp"
) -> SchemaError | None:
    """The refusal of a log whose times all fall within a year of 1970-01-01, or None
    (``column``: the user's name of the timestamp column, for the fix)."""
    if not (-_EPOCH_WINDOW_NS < first_ns and last_ns < _EPOCH_WINDOW_NS):
        return None
    first = pd.Timestamp(int(first_ns), tz="UTC")
    last = pd.Timestamp(int(last_ns), tz="UTC")
    fix = (
        "check the export: the times are probably zeros, or numbers turned into dates in "
        "the wrong unit."
    )
    if unit is not None:
        raw = max(abs(first_ns), abs(last_ns)) / _NS_PER_UNIT[unit]
        right = _plausible_unit(raw)
        if right is not None and right != unit:
            fix = (
                f"the numbers look like epoch {_UNIT_WORDS[right]}: pass timestamp_unit="
                f"{right!r} (--timestamp-unit {right}) instead of {unit!r}."
            )
        else:
            fix = (
                f"check timestamp_unit={unit!r} (--timestamp-unit {unit}): 's' for seconds, "
                "'ms' for milliseconds, 'us' or 'ns'."
            )
            if first_ns >= 0:  # no other unit fits: numbers from 0 may count from the start
                fix += " " + _relative_times_fix(str(column), unit)
    return _row_error(
        f"Every time of {label} falls within a year of 1970-01-01, the Unix epoch ({first} to "
        f"{last}): most likely numbers read in the wrong unit. Fix: {fix}",
        "timestamp",
        None,
        "times within a year of 1970-01-01",
    )
