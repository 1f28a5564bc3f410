"""The column mapping: the user's column names onto the canonical ones.

Parsing ``columns=`` (a dict or ``"customer_id=user,timestamp=time"``), finding
each canonical column (with "did you mean" for the required ones, and a warning
for one of cjml's names written another way), and leaving out extra columns of
nested values (structs, lists, maps) and the rows that are not events (blank
lines, repeated headers).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import shlex
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

from cjml.exceptions import SchemaError
from cjml.io._csv import typed_like_pandas
from cjml.io._messages import (
    _MAX_SHOWN,
    _ROLES,
    _SYNONYMS,
    BLANK_COLUMNS,
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    _blank_rows_warning,
    _did_you_mean,
    _header_rows_warning,
    _Origin,
    _user_stacklevel,
)


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
            key, sep, user = (p.strip() for p in part.partition("="))
            if not sep or not key or not user:
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
            mapping[key] = user
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
                hint = (
                    f" The mapping goes canonical name -> your column: did you mean "
                    f"{{{value!r}: {key!r}}}?"
                )
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


def _looks_like_data(name: Hashable) -> bool:
    """Whether a column name is a value rather than a name: a number or a date."""
    text = str(name).strip()
    return bool(re.fullmatch(r"[-+]?\d+(?:[.,]\d+)?", text)) or bool(
        re.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}.*)?", text)
    )


def _column_key(name: Hashable) -> str:
    """A column name as snake case, to compare with cjml's names and their synonyms
    ('Customer ID', 'customerId', 'Event-Time' -> 'customer_id', 'customer_id',
    'event_time')."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _suggest(canon: str, available: Sequence[Hashable], taken: set) -> Hashable | None:
    free = [c for c in available if c not in taken]
    by_key: dict[str, Hashable] = {}
    for c in free:
        by_key.setdefault(_column_key(c), c)
    for c in free:  # a nested key by its own name (Mixpanel's 'properties.distinct_id')
        if "." in str(c):
            by_key.setdefault(_column_key(str(c).rsplit(".", 1)[1]), c)
    for name in (canon, *_SYNONYMS.get(canon, ())):
        if name in by_key:
            return by_key[name]
    close = difflib.get_close_matches(canon, list(by_key), n=1, cutoff=0.6)
    return by_key[close[0]] if close else None


def _resolve_columns(
    mapping: dict[str, Hashable],
    available: Sequence[Hashable],
    index_names: Sequence[Hashable] = (),
) -> dict[str, Hashable]:
    """Canonical name -> user column for every canonical column present.

    ``index_names``: the names of a DataFrame's index levels, so that a column
    the user moved into the index (``groupby``, ``set_index``) is named as such.
    """
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
                head = str(user).split(".", 1)[0]
                if user in index_names:
                    fix = f"{user!r} is the DataFrame's index, not a column: pass df.reset_index()"
                elif "." in str(user) and head in available:  # a nested key, not flattened
                    fix = (
                        f"if {head!r} holds nested objects (JSON read by pandas), flatten "
                        f"them first: pd.json_normalize(records) names the key {str(user)!r}; "
                        "or give cjml the JSON Lines file itself, which flattens them"
                    )
                else:
                    fix = "correct the column name in the mapping"
                raise SchemaError(
                    f"The column mapping sends {canon!r} to your column {user!r}, which the "
                    f"input does not have.{_did_you_mean(user, available)} Available columns: "
                    f"{list(available)!r}. Fix: {fix}."
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
        as_cli = shlex.quote(",".join(f"{k}={v}" for k, v in pairs.items()))
        one_kind = ""
        if "touchpoint" in missing and pairs["touchpoint"] == "<your touchpoint column>":
            # a purchase or transaction log: each row is one kind of event
            one_kind = (
                "\nIf every row is the same kind of event (a log of purchases, say), name it: "
                "touchpoint='purchase' (--touchpoint purchase)."
            )
        in_index = [c for c in missing if c in index_names]
        if in_index:
            raise SchemaError(
                f"The event log is missing required {'column' if len(missing) == 1 else 'columns'}"
                f" {', '.join(repr(c) for c in missing)}: {' and '.join(repr(c) for c in in_index)}"
                f" {'is' if len(in_index) == 1 else 'are'} in the DataFrame's index, not its "
                f"columns ({list(available)!r}). Fix: pass df.reset_index()."
            )
        data_like = [str(c) for c in available if _looks_like_data(c)]
        if len(available) == 1:
            alone = (
                "\nOnly one column was read: if a title or notes come before the header line, "
                "remove them so that the file starts with its header."
            )
        elif data_like and not resolved:
            alone = (
                f"\nThe column names look like data ({', '.join(map(repr, data_like[:3]))}): "
                "if the file has no header line, add one as its first line (customer_id,"
                "timestamp,touchpoint,... in the order of its columns)."
            )
        else:
            alone = ""
        fix = (
            f"Fix: say which of your columns hold them, e.g. read_events(..., columns={as_dict}) "
            f"or on the command line --columns {as_cli}" + one_kind
        )
        table = _customer_table_hint(available) if "timestamp" in missing else ""
        if table:  # mapping columns would not make events of it
            alone += table
            fix = (
                "Fix: give cjml the event log, one row per event with the customer id, its time "
                "and the touchpoint (cjml generate --out example.csv writes an example)."
            )
        elif "timestamp" in missing:
            alone += _date_and_time_hint(available)
        raise SchemaError(
            f"The event log is missing required {'column' if len(missing) == 1 else 'columns'}:\n"
            + "\n".join(lines)
            + f"\nAvailable columns: {list(available)!r}.{alone}\n{fix}"
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


#: Names of a column holding only the time of day, and of one holding only the date.
_TIME_OF_DAY_KEYS = ("time", "hour", "time_of_day", "clock_time")
_DATE_KEYS = ("date", "day", "event_date")


def _date_and_time_hint(available: Sequence[Hashable]) -> str:
    """How to join a date column and a time-of-day column into the one timestamp cjml
    reads, when the columns' names suggest that split ('' otherwise)."""
    keys = {_column_key(c): c for c in available}
    time = next((keys[k] for k in _TIME_OF_DAY_KEYS if k in keys), None)
    date = next(
        (
            keys[k]
            for k in (*_DATE_KEYS, *sorted(keys))
            if k in keys and (k in _DATE_KEYS or k.endswith("_date"))
        ),
        None,
    )
    if time is None or date is None:
        return ""
    return (
        f"\nIf {str(date)!r} holds the date and {str(time)!r} the time of day, join them into "
        f"one column first, e.g. in pandas df['timestamp'] = df[{str(date)!r}].astype(str) + "
        f"' ' + df[{str(time)!r}].astype(str), then pass df or save it to a file (with "
        f"--columns {shlex.quote(f'timestamp={date}')} alone, every event of a day would be at "
        "midnight)."
    )


#: Names of a column holding a churn label, as tables of one row per customer have them.
_LABEL_KEYS = ("churn", "churned", "is_churn", "churn_flag", "churn_label", "exited", "attrition")


def _customer_table_hint(available: Sequence[Hashable]) -> str:
    """What to do with a table of one row per customer and its churn label (the Telco or
    bank churn tables), given where cjml needs events: '' when no column looks like one."""
    label = next((c for c in available if _column_key(c) in _LABEL_KEYS), None)
    if label is None:
        return ""
    return (
        f"\nColumn {str(label)!r} looks like a churn label, so this may be a table of one row "
        "per customer rather than an event log. cjml learns from events over time (visits, "
        "purchases, contacts, each with its time) and finds who left itself: no event within "
        "the horizon. Give it the events behind the table; its columns can go with them as "
        "customer attributes (a column with one value per customer, on every event)."
    )


def _nested_kind(s: pd.Series) -> str | None:
    """ "struct", "list" or "map" when a column holds nested values, else None."""
    dtype = s.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        t = dtype.pyarrow_dtype
        if pa.types.is_struct(t):
            return "struct"
        if pa.types.is_map(t):
            return "map"
        return "list" if pa.types.is_nested(t) else None
    if dtype != np.dtype(object) or infer_dtype(s, skipna=True) != "mixed":
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
    nested: dict[Hashable, str] = {
        c: kind
        for c in data.columns
        if c not in used and (kind := _nested_kind(data[c])) is not None
    }
    if not nested:
        return data
    _warn_nested_left_out(nested, stacklevel=_user_stacklevel())
    return data.drop(columns=list(nested))


def _warn_spaced_ids(ids: pd.Index, label: str, column: Hashable) -> None:
    """Warn when customer ids differ only by spaces around them (' 42' and '42'): they are
    read as different customers, each with part of one history (``column``: the user's
    name for the ids, for the fix)."""
    if is_numeric_dtype(ids.dtype):
        return  # whole numbers: no spaces left
    try:  # in Arrow: a million text ids in 0.03 s (pandas' isin went through Python lists)
        text = pa.array(ids, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text (ints among them): as text
        text = pa.array(ids.astype(str), type=pa.string())
    trimmed = pc.utf8_trim_whitespace(text)
    with_spaces = pc.fill_null(pc.not_equal(trimmed, text), False)
    if not pc.any(with_spaces).as_py():
        return
    spaced_text, spaced_trimmed = pc.filter(text, with_spaces), pc.filter(trimmed, with_spaces)
    twin = pc.is_in(spaced_trimmed, value_set=pc.filter(text, pc.invert(with_spaces)))
    spaced = pc.filter(spaced_text, twin).to_pylist()
    if not len(spaced):
        return
    shown = ", ".join(f"{v!r} and {v.strip()!r}" for v in spaced[:_MAX_SHOWN])
    more = f", and {len(spaced) - _MAX_SHOWN:,} more" if len(spaced) > _MAX_SHOWN else ""
    warnings.warn(
        f"{label[0].upper()}{label[1:]} has {len(spaced):,} "
        f"{'id' if len(spaced) == 1 else 'ids'} that differ from another only by spaces "
        f"around {'it' if len(spaced) == 1 else 'them'}: {shown}{more}. They are read as "
        "different customers, each with part of one history. Fix: strip the spaces before "
        f"reading, e.g. df[{str(column)!r}] = df[{str(column)!r}].str.strip().",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _case_twins(ids: Iterable[Any]) -> pd.Index:
    """The text ids that differ from another only in letter case ('Anna@x.com' and
    'anna@x.com'; spaces around them aside), sorted; compared in Arrow: a million
    capitalised ids without twins in 0.25 s, lower-case ones in 0.02 s."""
    index = pd.Index(ids)
    if index.dtype.kind in "iufb" or not len(index):
        return pd.Index([], dtype=object)
    try:
        text = pa.array(index, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text (ints among them): as text
        text = pa.array(index.astype(str), type=pa.string())
    text = pc.drop_null(text)
    stripped = pc.utf8_trim_whitespace(text)
    key = pc.utf8_lower(stripped)
    if pc.all(pc.equal(key, stripped)).as_py():  # no capital letter anywhere: no twin
        return pd.Index([], dtype=object)
    if len(pc.unique(key)) == len(pc.unique(stripped)):  # as many spellings as customers
        return pd.Index([], dtype=object)
    table = pa.table({"id": text, "stripped": stripped, "key": key})
    spellings = table.group_by("key").aggregate([("stripped", "count_distinct")])
    shared = spellings.filter(pc.greater(spellings["stripped_count_distinct"], 1))["key"]
    if not len(shared):
        return pd.Index([], dtype=object)
    twins = table.filter(pc.is_in(table["key"], value_set=shared.combine_chunks()))["id"]
    return pd.Index(sorted(set(twins.to_pylist())), dtype=object)


def _warn_case_ids(twins: pd.Index, label: str, column: Hashable) -> None:
    """Warn about ids that differ from another only in letter case (``twins``, from
    :func:`_case_twins`): they are read as different customers, each with part of one
    history."""
    if not len(twins):
        return
    groups: dict[str, list[str]] = {}
    for v in map(str, twins):
        groups.setdefault(v.strip().lower(), []).append(v)
    shown = "; ".join(
        " and ".join(map(repr, sorted(g))) for g in list(groups.values())[:_MAX_SHOWN]
    )
    more = f"; and {len(groups) - _MAX_SHOWN:,} more" if len(groups) > _MAX_SHOWN else ""
    warnings.warn(
        f"{label[0].upper()}{label[1:]} has {len(twins):,} ids that differ from another only "
        f"in letter case: {shown}{more}. They are read as different customers, each with "
        "part of one history. Fix: if they are the same customer, write them alike before "
        f"reading, e.g. df[{str(column)!r}] = df[{str(column)!r}].str.lower().",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


#: Ids that exports write where the id is missing: each would be read as one customer
#: holding the events of everyone it stands for.
_PLACEHOLDER_IDS = frozenset(
    {
        *("na", "n/a", "#n/a", "nan", "null", "(null)", "none", "nil", "undefined"),
        *("unknown", "missing", "(blank)", "anonymous", "-", "?"),
    }
)


def _placeholder_ids(ids: Iterable[Any]) -> list[str]:
    """The text ids of ``ids`` that read as a missing id ('NULL', 'N/A', 'unknown'), sorted
    (compared in Arrow: a million text ids in about 0.2 s)."""
    index = pd.Index(ids)
    if index.dtype.kind in "iufb":
        return []
    try:
        text = pa.array(index, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text (ints among them): as text
        text = pa.array(index.astype(str), type=pa.string())
    key = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    hit = pc.is_in(key, value_set=pa.array(sorted(_PLACEHOLDER_IDS), type=pa.string()))
    return sorted(set(pc.filter(text, hit.fill_null(False)).to_pylist()))


def _warn_placeholder_ids(ids: Iterable[Any], label: str) -> None:
    """Warn when customer ids are what exports write for a missing id ('NULL', 'N/A'):
    cjml reads any text as an id (an id may be 'NA'), so the user must say which mean
    missing (``missing_ids``)."""
    found = _placeholder_ids(ids)
    if not found:
        return
    listed = ", ".join(map(repr, found[:_MAX_SHOWN]))
    as_option = shlex.quote(",".join(found))
    warnings.warn(
        f"{label[0].upper()}{label[1:]} has {len(found):,} "
        f"{'id' if len(found) == 1 else 'ids'} that exports write for a missing id: {listed}. "
        f"{'It is' if len(found) == 1 else 'Each is'} read as one customer, with the events "
        f"of everyone {'it stands' if len(found) == 1 else 'they stand'} for. Fix: if "
        f"{'it means' if len(found) == 1 else 'they mean'} a missing id, say so "
        f"(missing_ids={','.join(found)!r}, --missing-ids {as_option}): those rows are then "
        "refused, or set aside with on_error='quarantine' (--on-error quarantine).",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


#: An id with at least this many events, this share of the log and this many times the
#: median customer's events is not one person as a rule (:func:`_warn_crowded_ids`).
_CROWDED_EVENTS, _CROWDED_SHARE, _CROWDED_TIMES_MEDIAN = 10_000, 0.01, 100


def _crowded_candidates(counts: np.ndarray, ids: Any) -> list[tuple[Any, int]]:
    """(id, events) of the customers with at least :data:`_CROWDED_EVENTS` events
    (``counts``: events per customer code, ``ids`` in code order), ids as Python values."""
    big = np.flatnonzero(counts >= _CROWDED_EVENTS)
    return [
        (ids[c].item() if isinstance(ids[c], np.generic) else ids[c], int(counts[c])) for c in big
    ]


def _count_histogram(counts: np.ndarray) -> dict[int, int]:
    """{events: customers with that many}: what :func:`_warn_crowded` needs of a chunk."""
    values, n = np.unique(counts, return_counts=True)
    return {int(v): int(k) for v, k in zip(values, n, strict=True)}


def _warn_crowded_ids(counts: np.ndarray, ids: Any, label: str, column: Hashable) -> None:
    """Warn about customers holding far more events than anyone else, in a whole log
    (``counts``: events per customer code, ``ids`` in code order)."""
    candidates = _crowded_candidates(counts, ids)
    if candidates:  # the histogram (a sort of every customer's count) only when needed
        _warn_crowded(candidates, _count_histogram(counts), label, column)


def _warn_crowded(
    candidates: Sequence[tuple[Any, int]], histogram: Mapping[int, int], label: str, column
) -> None:
    """Warn about the ``candidates`` (id, events) holding far more events than anyone else:
    at least :data:`_CROWDED_EVENTS`, a :data:`_CROWDED_SHARE` of the log and
    :data:`_CROWDED_TIMES_MEDIAN` times the median customer's (``histogram``: customers
    by their number of events, summed over the chunks of a log). Usually a placeholder
    where the id was missing, a test account or a bot, whose history every model would
    learn from as one customer's. Only warned: a large business customer may be real."""
    sizes = np.array(sorted(histogram), dtype=np.int64)
    people = np.array([histogram[k] for k in sizes], dtype=np.int64)
    n = int(people.sum())
    if n < 2 or not candidates:
        return
    rank = np.cumsum(people)
    middle = sizes[np.searchsorted(rank, [(n - 1) // 2, n // 2], side="right")]
    median = float(middle.mean())
    total = int((sizes * people).sum())
    floor = max(_CROWDED_EVENTS, _CROWDED_SHARE * total, _CROWDED_TIMES_MEDIAN * median)
    crowded = sorted((c for c in candidates if c[1] >= floor), key=lambda c: -c[1])
    if not crowded:
        return
    shown = ", ".join(
        f"{v!r} ({k:,} events, {k / total:.0%} of the log)" for v, k in crowded[:_MAX_SHOWN]
    )
    more = f"; and {len(crowded) - _MAX_SHOWN:,} more" if len(crowded) > _MAX_SHOWN else ""
    one = len(crowded) == 1
    first = crowded[0][0]
    as_missing = (  # missing_ids names text ids only
        "; if it stands for a missing id, say so with missing_ids (--missing-ids)"
        if isinstance(first, str)
        else ""
    )
    warnings.warn(
        f"{label[0].upper()}{label[1:]} has {'an id' if one else f'{len(crowded):,} ids'} "
        f"with far more events than any person makes: {shown}{more}; the median customer "
        f"has {median:,.0f}. Such an id is usually a placeholder where the id was missing "
        "(anonymous visitors), a test account or a bot; it is read as one customer, and the "
        "models learn from its history as from a person's. Fix: if it is not a customer, "
        f"remove its rows before reading, e.g. df = df[df[{str(column)!r}] != {first!r}]"
        f"{as_missing}.",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _warn_variant_columns(resolved: dict[str, Hashable], available: Sequence[Hashable]) -> None:
    """Warn when a column not read as one of cjml's is one of cjml's names written another
    way ('Amount', 'NPS', 'Stage'): it is read as an attribute of its own, and the amount,
    score or stage it holds would be silently missing."""
    mapped = set(resolved.values())
    pairs: dict[str, Hashable] = {}
    for col in available:
        key = _column_key(col)
        if col not in mapped and key in CANONICAL_COLUMNS and key not in resolved:
            pairs.setdefault(key, col)
    if not pairs:
        return
    listed = ", ".join(f"{str(c)!r} ({k})" for k, c in pairs.items())
    as_cli = shlex.quote(",".join(f"{k}={c}" for k, c in pairs.items()))
    as_dict = "{" + ", ".join(f"{k!r}: {str(c)!r}" for k, c in pairs.items()) + "}"
    warnings.warn(
        f"Read as {'an attribute' if len(pairs) == 1 else 'attributes'}, though "
        f"{'its name is' if len(pairs) == 1 else 'their names are'} cjml's written another "
        f"way: {listed}. Fix: to read {'it' if len(pairs) == 1 else 'them'} as cjml's, add "
        f"{as_cli} to --columns (columns={as_dict} in Python).",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _without_non_events(
    data: pd.DataFrame, resolved: dict[str, Hashable], origin: _Origin
) -> tuple[pd.DataFrame, _Origin, np.ndarray | None]:
    """The data without the rows that are not events, with a warning naming them, the
    origin that still points the other rows at their lines, and the positions in ``data``
    of the rows kept (None when all are): blank rows (no customer id, timestamp or
    touchpoint: the empty lines a spreadsheet writes as ';;;;') and rows that repeat the
    header (files joined with their headers). ``score`` leaves out the same rows."""
    if any(c not in resolved for c in BLANK_COLUMNS):
        return data, origin, None  # a missing column is refused next, by name
    masks = {"blank": _all_of(data, resolved, lambda s, name: s.isna())}
    masks["header"] = _all_of(data, resolved, _equals_its_name)
    found = {k: m for k, m in masks.items() if m is not None}
    if not found:
        return data, origin, None
    plain = dataclasses.replace(origin, rows=None)
    for kind, mask in found.items():
        positions = np.flatnonzero(mask)
        inputs = positions if origin.rows is None else origin.rows[positions]
        say = _blank_rows_warning if kind == "blank" else _header_rows_warning
        warnings.warn(
            say(plain, inputs.tolist(), len(positions)),
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    drop = np.logical_or.reduce(list(found.values()))
    kept = np.flatnonzero(~drop)
    rows = kept if origin.rows is None else origin.rows[kept]
    out = data.iloc[kept]  # origin.index stays whole: it is read at input positions
    if origin.index is None:
        out = out.reset_index(drop=True)
    if "header" in found and origin.csv:
        out = _numbers_again(out, set(resolved.values()))
    return out, dataclasses.replace(origin, rows=rows), kept


def _numbers_again(data: pd.DataFrame, used: set) -> pd.DataFrame:
    """The user's own CSV columns typed as the CSV reader types them (numbers or true/false
    where every value reads as one), now that the repeated header lines that kept them text
    ('visits' among 3, 7...) are gone."""
    retyped = {}
    for column in data.columns:
        s = data[column]
        if column in used or is_numeric_dtype(s.dtype) or is_bool_dtype(s.dtype):
            continue
        typed = typed_like_pandas(pa.chunked_array([pa.array(s.astype(object), pa.string())]))
        if not pa.types.is_string(typed.type):
            retyped[column] = typed.to_pandas()
    if not retyped:
        return data
    out = data.copy()
    for column, values in retyped.items():
        out[column] = values.to_numpy()
    return out


def _all_of(data: pd.DataFrame, resolved: dict[str, Hashable], test) -> np.ndarray | None:
    """The rows where ``test(column, its name)`` holds in the customer id, timestamp and
    touchpoint columns alike; None when in no row (most logs: one look at the first)."""
    mask = None
    for canon in BLANK_COLUMNS:
        column = resolved[canon]
        hit = np.asarray(test(data[column], column), dtype=bool)
        mask = hit if mask is None else mask & hit
        if not mask.any():
            return None
    return mask


def _equals_its_name(s: pd.Series, name: Hashable) -> np.ndarray:
    """Whether each cell is the column's own name (a header line read as a row)."""
    if is_numeric_dtype(s.dtype) or is_datetime64_any_dtype(s.dtype):
        return np.zeros(len(s), dtype=bool)  # a number or a time cannot be a name
    if isinstance(s.dtype, pd.CategoricalDtype) and str(name) not in s.cat.categories:
        return np.zeros(len(s), dtype=bool)
    return np.asarray((s == str(name)).fillna(False), dtype=bool)


def _warn_nested_left_out(nested: dict[Hashable, str], stacklevel: int) -> None:
    """Warn that the extra columns ``nested`` (name: kind) hold nested values and are left
    out; ``read_events`` and ``score`` say it in the same words."""
    listed = ", ".join(f"{str(c)!r} ({kind})" for c, kind in nested.items())
    warnings.warn(
        f"{'Column' if len(nested) == 1 else 'Columns'} {listed} "
        f"{'holds' if len(nested) == 1 else 'hold'} nested values, which cjml cannot use as "
        "customer attributes: left out. Fix: if it holds attributes, flatten it into plain "
        "columns (e.g. df['plan'] = df['meta'].str['plan']), or drop it to silence this.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
