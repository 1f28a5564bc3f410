"""Customer ids, text columns and scores as arrays: codes, values, or the rows at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_numeric_dtype,
)

from cjml.io._csv import cast_or_none
from cjml.io._messages import (
    _NUMERIC_COLUMNS,
    _SCORE_RANGES,
    REQUIRED_COLUMNS,
    _Context,
    _decategorize,
    _did_you_mean,
    _plural,
    _row_error,
    _spelling_fix,
    _written_differently,
)
from cjml.journey import JourneyMap

# a whole number as text: '42', and '42.0' as pandas writes the ids of a float column (one
# with a missing cell) to CSV, which a Parquet file or a DataFrame would hold as 42.0
_TEXT_INT = r"-?(?:0|[1-9][0-9]{0,17})(?:\.0+)?"


def _customer_codes(
    ctx: _Context, text_ints: bool, missing_ids: tuple[str, ...] = ()
) -> tuple[np.ndarray, pd.Index | None]:
    """Order-preserving int64 keys of the customer ids (input order), and the ids.

    Whole-number ids are their own keys and come back with ``None``: the sort
    that puts the log in canonical order finds the distinct ids and their dense
    codes on the way, cheaper than hashing them here. Other ids come back as
    dense codes with the sorted unique ids.

    Only missing cells and empty text are missing ids, and the texts of
    ``missing_ids``: "NA" or "null" are ids unless the user says otherwise.
    """
    s = _decategorize(ctx.raw("customer_id"))
    fix = (
        "fill in the customer id on these rows, or remove them before calling cjml "
        "(cjml never drops an event on its own)."
    )
    if missing_ids and not is_numeric_dtype(s.dtype):
        said = np.asarray(s.astype(str).str.strip().isin(missing_ids)) & ~np.asarray(s.isna())
        if said.any():
            raise ctx.fail(
                "customer_id",
                np.flatnonzero(said),
                f"a customer id that means missing (missing_ids={list(missing_ids)!r})",
                fix,
                REQUIRED_COLUMNS,
            )
    if is_integer_dtype(s.dtype) and not (s.dtype == np.uint64 and len(s) and s.max() > 2**63 - 1):
        if not (isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu"):  # numpy ints hold no NA
            null = np.flatnonzero(s.isna().to_numpy())
            if len(null):
                raise ctx.fail("customer_id", null, "no customer id", fix, REQUIRED_COLUMNS)
        return s.to_numpy(dtype=np.int64), None
    if is_float_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        null = np.flatnonzero(np.isnan(values))
        if len(null):
            raise ctx.fail("customer_id", null, "no customer id", fix, REQUIRED_COLUMNS)
        if np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
            return values.astype(np.int64), None
    if text_ints:
        keys = _canonical_int_keys(s)
        if keys is not None:
            return keys, None
    codes0, uniques0 = _factorize(s)
    as_text = pd.Index(uniques0).astype(str)
    empty = np.append(np.asarray(as_text.str.strip() == "", dtype=bool), True)
    null = np.flatnonzero(empty[codes0])  # code -1 picks the appended True
    if len(null):
        raise ctx.fail("customer_id", null, "a missing or empty customer id", fix, REQUIRED_COLUMNS)
    kind = infer_dtype(uniques0, skipna=True)
    final: pd.Index = as_text
    if kind == "integer":
        try:
            ints = pd.Index(uniques0)
            if ints.dtype == np.uint64 and len(ints) and ints.max() > np.iinfo(np.int64).max:
                raise OverflowError  # pandas would wrap them to negative numbers silently
            final = ints.astype(np.int64)
        except (OverflowError, ValueError, TypeError):
            final = as_text  # ids beyond int64 (unsigned 64-bit hashes) keep every digit
    elif text_ints and bool(np.all(as_text.str.fullmatch(_TEXT_INT))):
        final = as_text.str.replace(r"\.0+$", "", regex=True).astype(np.int64)
    ordered = final.unique().sort_values()
    lookup = ordered.get_indexer(final).astype(np.int64)
    return lookup[codes0], ordered


_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")


def _canonical_int_keys(s: pd.Series) -> np.ndarray | None:
    """Text ids that are whole numbers written plainly ('42', not '042', '+42' or '42.0')
    as int64 keys, or None.

    The common case of a CSV's ids, read by Arrow instead of hashing every text: each
    id cast to a number and written back must give the text it came from, which
    holds exactly for the ids ``_TEXT_INT`` reads without its '.0' (up to 18 digits).
    Any other column (empty or missing cells included) goes the general way.
    """
    if not isinstance(s.dtype, pd.ArrowDtype | pd.StringDtype):
        # Python strings (pandas 2's text): converted only when the first ones are plain
        # whole numbers, so ids such as 'C001' are not copied to Arrow for nothing
        if s.dtype != object or not all(
            isinstance(v, str) and _PLAIN_INT.fullmatch(v) for v in s.iloc[:64]
        ):
            return None
    try:
        text = pa.array(s.array, from_pandas=True)  # the Arrow text pandas holds
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
        return None
    if text.null_count:
        return None
    ints = cast_or_none(text, pa.int64())
    if ints is None or len(ints) == 0:
        return None
    low, high = pc.min_max(ints).values()
    if not (-(10**18) < low.as_py() and high.as_py() < 10**18):
        return None  # 19 digits: _TEXT_INT keeps them as text
    if not pc.all(pc.equal(pc.cast(ints, text.type), text)).as_py():
        return None
    return ints.to_numpy()


def _factorize(s: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize``, with unhashable cells (lists, dicts) compared as text."""
    try:
        return pd.factorize(s)
    except TypeError:
        return pd.factorize(s.astype(str).where(~s.isna().to_numpy(), None))


def _code_dtype(n_categories: int) -> type[np.signedinteger]:
    """The integer type pandas keeps the codes of ``n_categories`` categories in."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


@dataclass(frozen=True)
class _TextCodes:
    """A text-like column as ``raw`` codes per row and a small ``table`` onto its texts.

    ``table[raw]`` is the position in ``text`` of each row, -1 for a missing or
    empty cell (a raw code of -1 picks the table's last slot, which is -1).
    Keeping the rows' codes as they came (a Parquet dictionary's or a
    category's, often 1 byte each) lets every later mapping be composed on the
    table and applied to the rows once.
    """

    raw: np.ndarray
    table: np.ndarray  # int64, one slot per raw code, then -1
    text: pd.Index

    def rows(self, lookup: np.ndarray | None = None, n_categories: int | None = None) -> np.ndarray:
        """Per-row ``lookup[position in text]`` (-1 stays -1), in the smallest code type."""
        table = self.table
        if lookup is not None:
            table = np.where(table >= 0, np.append(lookup, -1)[table], -1)
        size = len(self.text) if n_categories is None else n_categories
        return table.astype(_code_dtype(size))[self.raw]


def _used_codes(raw: np.ndarray, n_categories: int) -> np.ndarray:
    """Which of ``n_categories`` category codes occur in ``raw`` (-1 ignored)."""
    if raw.dtype == np.int8:  # as bytes, -1 lands on slot 255: no mask, no copy of the rows
        return np.bincount(raw.view(np.uint8), minlength=256)[:n_categories] > 0
    return np.bincount(raw[raw >= 0], minlength=n_categories) > 0


def _text_codes(s: pd.Series) -> _TextCodes:
    """Codes of a text-like column (-1 for missing or empty) and its text uniques."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        # Dictionary-encoded input (Parquet, category dtype): its codes already factorize
        # the column, so only the few categories are turned into text. Unused categories
        # are dropped; categories that read as the same text are merged.
        raw = np.asarray(s.cat.codes)
        cats = s.cat.categories
        used = np.flatnonzero(_used_codes(raw, len(cats)))
        merged, as_text = pd.factorize(pd.Index(cats[used]).astype(str))
        table = np.full(len(cats) + 1, -1, dtype=np.int64)  # the last slot maps -1 to -1
        table[used] = merged
        as_text = pd.Index(as_text)
    else:
        raw, uniques = _factorize(s)
        as_text = pd.Index(uniques).astype(str)
        table = np.append(np.arange(len(as_text), dtype=np.int64), -1)
    empty = np.append(np.asarray(as_text.str.strip() == "", dtype=bool), False)
    table[empty[np.maximum(table, 0)] & (table >= 0)] = -1
    return _TextCodes(raw, table, as_text)


# Numbers as spreadsheets and locales write them: a currency sign or code and thousands
# separators ('$1,234.50', '1 234 EUR'), or a decimal comma ('12,50', '1.234,50').
_CURRENCY = r"(?:[$€£¥₹]|usd|eur|gbp|chf|jpy)"
_SIGNED = rf"^[-+]?\s*{_CURRENCY}?\s*[-+]?"  # '-$3.10', '$-3.10', 'eur 12'
_GROUPED_NUMBER = rf"{_SIGNED}\d{{1,3}}(?:[, ]\d{{3}})*(?:\.\d+)?\s*{_CURRENCY}?$"
_PLAIN_NUMBER = rf"{_SIGNED}\d+(?:\.\d+)?\s*{_CURRENCY}?$"
_COMMA_GROUPED = r"[-+]?[1-9]\d{0,2}(?:,\d{3})+\.\d+"
_DECIMAL_COMMA = rf"{_SIGNED}(?:\d{{1,3}}(?:[. ]\d{{3}})+|\d+),\d+\s*{_CURRENCY}?$"


def _number_text_fix(text: pd.Series, column: Any) -> str | None:
    """The pandas line that turns these texts into numbers, when they are numbers written
    with a currency, thousands separators or a decimal comma; else None.

    ``text``: the offending cells, stripped and lower-cased.
    """
    col = repr(str(column))
    # '5,401' reads either way; a comma then 1-2 or 4+ digits, or a dot before the comma,
    # is a decimal comma for sure
    decisive = text.str.contains(r",\d{1,2}(?!\d)|,\d{4,}|\.\d{3},", regex=True)
    if text.str.fullmatch(_DECIMAL_COMMA).all() and decisive.any():
        return (
            "these numbers use a decimal comma: convert them before reading, e.g. "
            f"df[{col}] = pd.to_numeric(df[{col}].str.replace(r'[^0-9,+-]', '', regex=True)"
            ".str.replace(',', '.')) (cjml reads decimal commas itself in a CSV file separated "
            "by ';', tabs or '|', in each column whose numbers all use them)."
        )
    if (text.str.fullmatch(_GROUPED_NUMBER) | text.str.fullmatch(_PLAIN_NUMBER)).all():
        return (
            "these numbers carry a currency or thousands separators: strip them before "
            f"reading, e.g. df[{col}] = pd.to_numeric(df[{col}].str.replace(r'[^0-9.+-]', '', "
            "regex=True)), and leave the cell empty when there is no value."
        )
    inner = text.str.extract(r"^\((.*)\)$")[0]  # '(12.50)': an accounting format's -12.50
    if (
        inner.notna().all()
        and (inner.str.fullmatch(_GROUPED_NUMBER) | inner.str.fullmatch(_PLAIN_NUMBER)).all()
    ):
        return (
            "these numbers are negatives in an accounting format ('(12.50)' is -12.50): "
            f"convert them before reading, e.g. df[{col}] = pd.to_numeric(df[{col}]"
            ".str.replace(r'^\\((.*)\\)$', r'-\\1', regex=True).str.replace(r'[^0-9.+-]', '', "
            "regex=True)), and leave the cell empty when there is no value."
        )
    if text.str.fullmatch(r"[-–—]").all():
        return (
            "a dash is how a spreadsheet shows an empty (or a zero) cell, and cjml cannot "
            "tell which it means here: leave the cell empty when there is no value, or write "
            "the number it stands for."
        )
    return None


def _text_numbers(s: pd.Series) -> np.ndarray:
    """Text cells as float64, NaN where a cell is missing or not a number (what
    ``pd.to_numeric(errors="coerce")`` gives): by Arrow's cast when every cell reads as a
    number, by pandas otherwise (a '1,234.50' the caller reads again, a word it refuses)."""
    try:
        text = pa.array(s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        text = None
    if text is not None and (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        typed = cast_or_none(pc.utf8_trim_whitespace(text), pa.float64())
        if typed is not None:
            return typed.to_numpy(zero_copy_only=False)  # nulls come out as NaN
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric_values(ctx: _Context, canon: str) -> np.ndarray:
    """A score or amount column as float64 (NaN when missing), range-checked."""
    s = _decategorize(ctx.raw(canon))
    if canon in _SCORE_RANGES:
        lo, hi, survey = _SCORE_RANGES[canon]
        allowed = f"{survey} scores from {lo:g} to {hi:g}"
    else:
        lo, hi, survey = -np.inf, np.inf, ""
        allowed = "finite amounts (negative for refunds)"
    fix_num = f"give {allowed} as numbers, and leave the cell empty when there is no value."
    if is_bool_dtype(s.dtype):
        bad = np.flatnonzero(~np.asarray(s.isna()))
        raise ctx.fail(
            canon,
            bad,
            f"true/false values instead of numbers ({allowed})",
            fix_num,
            whole_column=True,
        )
    if s.dtype == np.float64:
        values = np.asarray(s)  # NaN already marks the missing cells: no copy
    elif is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = _text_numbers(s)
        nan_rows = np.flatnonzero(np.isnan(values))
        # the empty cells are missing values, most of a survey column: only the others are
        # looked at as text
        nan_rows = nan_rows[~np.asarray(s.iloc[nan_rows].isna())]
        if len(nan_rows):
            sub = s.iloc[nan_rows]
            text = sub.astype(str).str.strip().str.lower()
            missing = np.array(text.isin(["", "nan"]), dtype=bool)  # written to below
            # '1,234.50': commas between thousands before a decimal point, as a spreadsheet
            # formats an amount; only one reading (a decimal-comma CSV gave '1234.50' already)
            grouped = np.asarray(text.str.fullmatch(_COMMA_GROUPED), dtype=bool) & ~missing
            if grouped.any():
                values = np.array(values)  # to_numpy may share pandas' read-only buffer
                values[nan_rows[grouped]] = pd.to_numeric(
                    text[grouped].str.replace(",", "", regex=False)
                ).to_numpy(dtype=np.float64)
                missing |= grouped
            bad = nan_rows[~missing]
            if len(bad):
                fix = _number_text_fix(text[~missing], ctx.resolved[canon]) or fix_num
                raise ctx.fail(canon, bad, f"values that are not numbers ({allowed})", fix)
    # NaN (missing) compares False; infinities fall outside any finite range
    bad = np.flatnonzero(
        np.isinf(values) if canon not in _SCORE_RANGES else (values < lo) | (values > hi)
    )
    if len(bad):
        if canon in _SCORE_RANGES:
            problem = f"scores outside the {survey} range {lo:g} to {hi:g}"
            fix = _rescale_fix(values, canon, ctx.resolved[canon], lo, hi)
        else:
            problem = "amounts that are not finite numbers"
            fix = "replace infinite amounts by the real value, or leave the cell empty."
        raise ctx.fail(canon, bad, problem, fix)
    return values


#: Survey scales a score column is often on instead of cjml's: the smallest holding its values.
_OTHER_SCALES = (5.0, 7.0, 10.0, 100.0)


def _rescale_fix(values: np.ndarray, canon: str, column, lo: float, hi: float) -> str:
    """How to bring a score column to cjml's range: with the formula from the scale its
    values look like (1-10, 0-10, 0-100: the lowest seen is 0 or 1, the highest below the
    next usual top), or in general words when they fit none."""
    seen = values[np.isfinite(values)]
    general = (
        f"rescale {canon} to {lo:g}-{hi:g} (or map it to another column name if it is a "
        "different measure), and leave the cell empty when there is no score."
    )
    if not len(seen) or seen.min() < 0:
        return general
    low = 0.0 if seen.min() < 1 else 1.0
    top = next((t for t in _OTHER_SCALES if seen.max() <= t and (low, t) != (lo, hi)), None)
    if top is None:
        return general
    col = repr(str(column))
    shift = f"(df[{col}] - {low:g})" if low else f"df[{col}]"
    return (
        f"its scores run from {seen.min():g} to {seen.max():g}: if they are on a "
        f"{low:g}-{top:g} scale, rescale them to {lo:g}-{hi:g} before reading, e.g. "
        f"df[{col}] = {lo:g} + {shift} * {hi - lo:g} / {top - low:g}; if it is another "
        "measure, map it to another column name. Leave the cell empty when there is no score."
    )


@dataclass(frozen=True)
class _Codes:
    """The touchpoint, stage and score columns checked and as arrays (input order)."""

    tp_codes: np.ndarray  # into tp_categories: the map's touchpoints, then unknown ones
    tp_categories: list
    n_known: int
    unknown: list  # touchpoints the map lacks (allowed with a stage given on their rows)
    given: np.ndarray | None  # stage code given on each row, -1 where empty; None: no column
    numeric: dict  # canonical score/amount column -> float values


def _checked_codes(ctx: _Context, jmap: JourneyMap) -> _Codes:
    """Check the touchpoint, stage and numeric columns against the contract.

    Raises the contract's SchemaError (column, rows, fix) for a missing
    touchpoint, a stage the journey map lacks, a touchpoint the map lacks on a
    row without a stage, or a score out of range or not numeric.
    """
    resolved = ctx.resolved
    # touchpoint: map order first, then touchpoints the map lacks, sorted.
    tp = _text_codes(ctx.raw("touchpoint"))
    known = list(jmap.touchpoint_names)
    used_text = tp.text[np.unique(tp.table[tp.table >= 0])]
    unknown = sorted(set(used_text) - set(known))
    tp_categories = known + unknown
    tp_codes = tp.rows(
        pd.Index(tp_categories).get_indexer(tp.text).astype(np.int64), len(tp_categories)
    )
    null = np.flatnonzero(tp_codes < 0)
    if len(null):
        raise ctx.fail(
            "touchpoint",
            null,
            "a missing or empty touchpoint",
            "fill in the touchpoint of these events, or remove them before "
            "calling cjml (cjml never drops an event on its own).",
            REQUIRED_COLUMNS,
        )
    n_known = len(known)

    stages = jmap.stages
    has_stage = "stage" in resolved
    given = None
    if has_stage:
        st = _text_codes(ctx.raw("stage"))
        st_text = st.text
        st_lookup = pd.Index(stages).get_indexer(st_text).astype(np.int64)
        bad_u = np.flatnonzero((st_lookup < 0) & np.asarray(st_text.str.strip() != ""))
        if len(bad_u):
            st_raw_codes = st.rows()
            counts = np.bincount(st_raw_codes[st_raw_codes >= 0], minlength=len(st_text))
            names = "\n".join(
                f"  {st_text[u]!r}: {_plural(int(counts[u]), 'row')}."
                f"{_did_you_mean(st_text[u], stages)}"
                for u in bad_u.tolist()
            )
            rows = np.flatnonzero(np.isin(st_raw_codes, bad_u))
            label = ctx.label("stage")
            raise _row_error(
                f"{label[0].upper()}{label[1:]} has {_plural(len(rows), 'row')} with stages "
                f"that journey map {jmap.name!r} does not have:\n{names}\n"
                f"The map's stages are {list(stages)!r}. Rows:\n"
                f"{ctx.rows(rows, ['stage', 'touchpoint'])}\n"
                "Fix: rename these stages to the map's names, or pass a journey map whose "
                "stages match your data (journey_map='map.toml', --map map.toml; cjml "
                "draft-map EVENTS --out map.toml drafts one from the data; see the README's "
                "'Bring your own data')."
                + _spelling_fix(
                    _written_differently([st_text[u] for u in bad_u.tolist()], stages),
                    "stage",
                    ctx.resolved.get("stage"),
                ),
                "stage",
                rows,
                f"a stage that journey map {jmap.name!r} does not have",
            )
        given = st.rows(st_lookup, len(stages))  # missing or empty stays -1
    if unknown:
        need = (tp_codes >= n_known) if given is None else (tp_codes >= n_known) & (given < 0)
        rows = np.flatnonzero(need)
        if len(rows):
            counts = np.bincount(tp_codes[rows], minlength=len(tp_categories))
            shown = [name for i, name in enumerate(unknown) if counts[n_known + i]]
            # the map's names in other case or spacing ('Email ', 'Website Visit'): a cleaning
            misspelt = _written_differently(shown, known)
            # a log none of whose touchpoints the map knows, in any writing, has a vocabulary
            # of its own: a near spelling of a map name ('main' for 'email') is a coincidence
            own = not np.any(tp_codes < n_known) and not misspelt
            names = "\n".join(
                f"  {name!r}: {_plural(int(counts[n_known + i]), 'row')}."
                f"{'' if own else _did_you_mean(name, known)}"
                for i, name in enumerate(unknown)
                if counts[n_known + i]
            )
            why = (
                "there is no stage column"
                if given is None
                else f"{ctx.label('stage')} is empty on these rows"
            )
            draft = (
                "cjml draft-map EVENTS --out map.toml drafts one from the data, with or "
                "without a stage column; see the README's 'Bring your own data'"
            )
            fix = (
                f"Fix: none of the log's touchpoints is in journey map {jmap.name!r}, so the "
                "log speaks its own vocabulary: draft a map of it (cjml draft-map EVENTS --out "
                "map.toml, with or without a stage column; see the README's 'Bring your own "
                "data'), check it, and pass it (journey_map='map.toml', --map map.toml); or "
                "give a stage column "
                "(--columns stage=COLUMN; in Python columns={'stage': 'COLUMN'})."
                if own
                else "Fix: add these touchpoints to a journey map that lists their stages "
                f"(journey_map='map.toml', --map map.toml; {draft}), correct their names, or "
                "give a stage column (--columns stage=COLUMN; in Python "
                "columns={'stage': 'COLUMN'})."
            )
            if own and all(str(name).strip().lstrip("-").isdigit() for name in shown):
                # codes of an event type: every report and recommendation would say "7"
                col = repr(str(ctx.resolved.get("touchpoint", "touchpoint")))
                fix += (
                    "\nThe touchpoints are numbers: if they are codes of kinds of event, "
                    f"give them their names first, e.g. in pandas df[{col}] = df[{col}].map("
                    "{1: 'email', 2: 'website_visit', ...}), so that the map, the reports and "
                    "the recommendations name them."
                )
            raise _row_error(
                f"Cannot derive the stage of {_plural(len(rows), 'row')}: their touchpoint "
                f"is not in journey map {jmap.name!r} and {why}. Unknown touchpoints in "
                f"{ctx.label('touchpoint')}:\n{names}\n"
                f"The map's touchpoints are {known!r}. Rows:\n"
                f"{ctx.rows(rows, ['touchpoint', 'stage'])}\n{fix}"
                + _spelling_fix(misspelt, "touchpoint", ctx.resolved.get("touchpoint")),
                "touchpoint",
                rows,
                f"a touchpoint not in journey map {jmap.name!r}, so no stage",
            )

    numeric = {c: _numeric_values(ctx, c) for c in _NUMERIC_COLUMNS if c in resolved}
    return _Codes(tp_codes, tp_categories, n_known, unknown, given, numeric)


def _channel_codes(ctx: _Context) -> tuple[np.ndarray | None, pd.Index | None]:
    """The channel of each row as a code into the channels' names, sorted (-1: none given),
    and those names; ``(None, None)`` without a channel column. No value is refused."""
    if "channel" not in ctx.resolved:
        return None, None
    ch = _text_codes(ctx.raw("channel"))
    names = pd.Index(ch.text[np.unique(ch.table[ch.table >= 0])]).unique().sort_values()
    return ch.rows(names.get_indexer(ch.text).astype(np.int64), len(names)), names
