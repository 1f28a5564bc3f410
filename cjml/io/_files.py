"""Event files and folders, and customer lists: which files, in which format.

A path is a CSV file, a Parquet file, a JSON Lines file, an Excel workbook, or a folder of
only one of them, with its partition sub-folders (a partitioned dataset's ``key=value``
folder names are columns), read in path order; the CSV rules themselves live in
:mod:`cjml.io._csv`, JSON Lines in :mod:`cjml.io._json`, workbooks in :mod:`cjml.io._excel`.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import urllib.parse
import warnings
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (
    is_integer_dtype,
)

from cjml.exceptions import InputFileError, SchemaError
from cjml.io._columns import _parse_columns, _resolve_columns
from cjml.io._csv import (
    ENCODING_WORDS,
    NA_MARKERS,
    SEPARATOR_WORDS,
    WHOLE_FILE,
    csv_batches,
    csv_header,
    file_kind,
    not_this,
    read_head,
    typed_like_pandas,
)
from cjml.io._excel import EXCEL_SUFFIXES, excel_batches
from cjml.io._json import JSON_SUFFIXES, json_batches, no_objects
from cjml.io._messages import (
    _MAX_SHOWN,
    REQUIRED_COLUMNS,
    TEXT_KINDS,
    _Origin,
    _user_stacklevel,
)
from cjml.io._write import unescape_formula

# CSV files, also tab-separated ones, plain or compressed
_CSV_SUFFIXES = tuple(
    f"{kind}{packed}"
    for kind in (".csv", ".tsv", ".tab")
    for packed in ("", ".gz", ".bz2", ".zip", ".xz", ".zst")
)


_PARQUET_SUFFIXES = (".parquet", ".pq")
_PANDAS_VERSION = tuple(int(v) for v in pd.__version__.split(".")[:2])
#: pandas 3 holds Arrow text as its ``str`` dtype (Arrow-backed, NaN when missing). pandas
#: 2.2 would turn every cell into a Python string, which doubles the time to read a CSV
#: log; its name for the same dtype is ``string[pyarrow_numpy]``, given to every file's text.
_TEXT_DTYPE = (
    pd.StringDtype("pyarrow_numpy")  # type: ignore[call-overload]  # pandas 2 only
    if _PANDAS_VERSION < (3, 0)
    else None
)


def _text_as_pandas_3(kind: pa.DataType) -> Any:
    """Arrow's ``types_mapper`` for pandas 2.2: text as pandas 3 holds it."""
    return _TEXT_DTYPE if pa.types.is_string(kind) or pa.types.is_large_string(kind) else None


def _as_pandas(table: pa.Table, **options: Any) -> pd.DataFrame:
    """``table.to_pandas(**options)``, its text in the same dtype on pandas 2.2 and 3."""
    if _TEXT_DTYPE is not None:
        options.setdefault("types_mapper", _text_as_pandas_3)
    return table.to_pandas(**options)


def _table_frame(table: pa.Table) -> pd.DataFrame:
    """The DataFrame ``pd.read_parquet`` makes of ``table`` (text as :func:`_as_pandas`
    holds it, ``attrs`` from its pandas metadata), its numeric, time and category
    columns moved by numpy.

    Arrow's conversion to pandas writes each column into fresh memory on one core:
    0.4 s for a 10M-event log in a new process, where numpy's copy of the same
    columns takes 0.2 s and reuses the pages the Parquet reader has just freed. What
    Arrow knows better stays its own: the index, the columns' labels and dtypes from
    the pandas metadata, text and any other type. Each column numpy makes must have
    the dtype Arrow gives it, read from the conversion of no rows; any other goes
    through Arrow's conversion, and so does the whole table when its index is not a
    plain range.
    """
    shape = _as_pandas(table.slice(0, 0))
    if not isinstance(shape.index, pd.RangeIndex) or shape.shape[1] != table.num_columns:
        frame = _as_pandas(table, split_blocks=True, self_destruct=True)
    else:
        pairs = list(zip(table.columns, shape.dtypes, strict=True))
        if table.num_rows >= _PARALLEL_COLUMNS_FROM_ROWS and len(pairs) > 1:
            # the copies release the GIL: two columns at a time (0.12 s instead of 0.21 s
            # for a 10M-event log)
            with ThreadPoolExecutor(2, thread_name_prefix="cjml-read") as pool:
                converted = list(pool.map(lambda pair: _numpy_column(*pair), pairs))
        else:
            converted = [_numpy_column(*pair) for pair in pairs]
        columns = {i: values for i, values in enumerate(converted) if values is not None}
        rest = [i for i in range(table.num_columns) if i not in columns]
        # Arrow converts the other columns, and makes the index (a range the pandas
        # metadata may start elsewhere than 0) even when there are none
        others = _as_pandas(table.select(rest), split_blocks=True)
        for j, i in enumerate(rest):  # by position: Arrow allows repeated names
            columns[i] = others.iloc[:, j].array
        frame = pd.DataFrame(
            {i: columns[i] for i in range(table.num_columns)}, index=others.index, copy=False
        )
        frame.columns = shape.columns
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    return frame


def _numpy_column(column: pa.ChunkedArray, dtype: Any) -> Any:
    """``column`` as Arrow converts it to pandas (``dtype``), copied by numpy; None when
    Arrow's conversion is needed (a type or a null numpy does not hold as pandas does)."""
    kind = column.type
    if column.num_chunks == 0:
        return None
    if isinstance(dtype, pd.CategoricalDtype):
        if not pa.types.is_dictionary(kind):
            return None
        column = column.unify_dictionaries()
        dictionary = column.chunk(0).dictionary
        # the categories Arrow gives are those of the first chunk's dictionary: the same
        # as the unified one unless the chunks' dictionaries differ
        if dictionary.null_count or len(dictionary) != len(dtype.categories):
            return None
        if not dictionary.equals(pa.array(dtype.categories.to_numpy(), dictionary.type)):
            return None
        indices = pa.chunked_array([c.indices for c in column.chunks]).combine_chunks()
        codes = indices.fill_null(-1).to_numpy() if indices.null_count else indices.to_numpy()
        return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    if pa.types.is_timestamp(kind) and isinstance(dtype, pd.DatetimeTZDtype):
        if column.null_count or dtype.unit != kind.unit:
            return None
        instants = pd.Series(column.to_numpy(), copy=False).dt.tz_localize("UTC")
        values = instants.dt.tz_convert(dtype.tz).array
        return values if values.dtype == dtype else None
    numeric = (
        pa.types.is_floating(kind) and kind != pa.float16()
        if column.null_count
        else pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or (pa.types.is_timestamp(kind) and kind.tz is None)
    )
    if not numeric or not isinstance(dtype, np.dtype):
        return None
    values = column.to_numpy()
    if values.dtype != dtype:
        return None
    # one chunk is not copied, and its memory is Arrow's, read-only: pandas gives its own
    return values if values.flags.writeable else values.copy()


# From this many rows, the columns of a text file are conformed, and those of a Parquet file
# converted, on several threads.
_PARALLEL_COLUMNS_FROM_ROWS = 200_000


_ACCEPTED = (
    "cjml reads a pandas DataFrame, a CSV file (.csv or .tsv, separated by commas, ';', "
    "tabs or '|', or compressed .csv.gz/.csv.bz2/.csv.zip/.csv.xz/.csv.zst), a Parquet "
    "file (.parquet, .pq), a JSON Lines file (one object per line: .jsonl, .ndjson or "
    ".json, plain or compressed), an Excel workbook (.xlsx, its first sheet), or a folder "
    "holding files of one of these formats (with its key=value partition sub-folders)"
)


def _read_id_list(
    customers: Any,
    id_column: Hashable | None = None,
    missing_ids: Sequence[str] = (),
    encoding: str | None = None,
) -> tuple[np.ndarray, str]:
    """The distinct ids of a customer list, in the order given, and how to name the list.

    ``customers`` is a CSV or Parquet file (its ``customer_id`` column, the
    events' own name for it, or its only column) or a list-like of ids. A CSV
    list is read under the CSV rules, as text: ``"007"`` stays ``"007"`` and
    ``"NA"`` is an id unless ``missing_ids`` names it. Missing ids are refused.
    ``encoding``: of a CSV list that is not UTF-8, as for the events.
    """
    if isinstance(customers, str | os.PathLike):
        path = Path(customers)
        where = f"customer list {str(path)!r}"
        kind = _suffix_kind(path)
        if kind not in ("csv", "parquet"):  # a list of ids, not an export of events
            raise InputFileError(
                f"Cannot read the {where}: give a .csv or .parquet file with a customer_id column."
            )
        if kind == "csv":
            # the one CSV parser, every cell as text ("007" stays "007"); a list cjml
            # wrote (a scores file) has its formula-guarded ids unescaped: "'=1+1" is "=1+1"
            names = csv_header(path, "the customer list", encoding).names
            batches = list(
                csv_batches(
                    str(path),
                    names,
                    WHOLE_FILE,
                    what="the customer list",
                    as_written=names,
                    encoding=encoding,
                )
            )
            table = (
                _as_pandas(pa.concat_tables(batches))
                if batches
                else pd.DataFrame({str(c): pd.Series(dtype=object) for c in names})
            )
            table.columns = names
            table = table.map(unescape_formula)
        else:
            table = _read_parquet(path)
        wanted: list[Hashable] = list(
            dict.fromkeys(["customer_id", *([id_column] if id_column else [])])
        )
        found = [c for c in wanted if c in table.columns]
        if found:
            values = table[found[0]]
        elif len(table.columns) == 1:
            values = table.iloc[:, 0]
            if kind == "csv" and _an_id_not_a_name(str(table.columns[0]), values):
                warnings.warn(
                    f"The {where} has no header: its first line {str(table.columns[0])!r} "
                    "is read as an id, like the lines under it. Fix: to silence this, give "
                    "it a first line customer_id.",
                    UserWarning,
                    stacklevel=_user_stacklevel(),
                )
                values = pd.concat(
                    [pd.Series([str(table.columns[0])], dtype=object), values.astype(object)],
                    ignore_index=True,
                )
        else:
            raise SchemaError(
                f"The {where} has columns {list(table.columns)!r} but no "
                f"{' or '.join(repr(str(c)) for c in wanted)} column. Fix: name "
                "the column of ids customer_id, or give a file with one column."
            )
    else:
        if isinstance(customers, pd.DataFrame):
            raise TypeError(
                "customers must be a list of ids (list, array, Series) or a file, "
                "not a DataFrame; pass df['customer_id']."
            )
        values, where = customers, "customer list"
    values = pd.Series(
        list(values)
        if not isinstance(values, pd.Series | pd.Index | np.ndarray)
        else np.asarray(values, dtype=object),
        dtype=object,
    )
    text = values.astype(str).str.strip()
    missing = (
        values.isna().to_numpy()
        | (text == "").to_numpy()
        | text.isin(tuple(missing_ids)).to_numpy()
    )
    if missing.any():
        rows = np.flatnonzero(missing)[:_MAX_SHOWN].tolist()
        raise SchemaError(
            f"The {where} has {int(missing.sum()):,} missing or empty id(s), at "
            f"positions {rows!r}. Fix: remove them or fill them in."
        )
    return pd.unique(values.to_numpy(dtype=object)), where


def _an_id_not_a_name(header: str, values: pd.Series) -> bool:
    """Whether the one column name of a list is an id like those under it: a whole number,
    or written like the first id (letters, digits and signs in the same places: 'C-1001'
    over 'C-1002'), so the list has no header line."""

    def shape(text: str) -> str:
        return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", text.strip()))

    if re.fullmatch(r"-?\d+(?:\.0+)?", header.strip()):
        return True
    first = values.dropna()
    return (
        bool(len(first))
        and any(c.isdigit() for c in header)
        and shape(header) == shape(str(first.iloc[0]))
    )


def _ids_like(listed: np.ndarray, ids: pd.Index | np.ndarray, where: str) -> list:
    """Listed ids in the type of the log's ids: whole numbers when the log's ids are, else
    text ("007" stays "007", and 7 read from a Parquet list becomes "7")."""
    ids = pd.Index(ids)
    if is_integer_dtype(ids.dtype):
        numbers = pd.to_numeric(
            pd.Series(listed, dtype=object).astype(str).str.strip(), errors="coerce"
        ).to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(numbers) | (numbers != np.round(numbers))
        if bad.any():
            shown = [str(v) for v in listed[bad][:_MAX_SHOWN]]
            raise SchemaError(
                f"The {where} has ids that are not whole numbers ({shown!r}, "
                f"{int(bad.sum()):,} in all), but every customer id of the events "
                "is one: they could match no customer. Fix: correct the list."
            )
        return list(dict.fromkeys(numbers.astype(np.int64).tolist()))
    return list(dict.fromkeys(_id_text(v) for v in listed))


def _id_text(value: Any) -> str:
    """An id as text: a whole float without its ".0"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _suffix_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    if name.endswith(EXCEL_SUFFIXES):
        return "excel"
    return None


#: The pandas attribute under which :meth:`cjml.EventLog.save` records the log's timezone;
#: pandas and cjml write a frame's attributes into a Parquet file's metadata.
TIMEZONE_ATTR = "cjml_timezone"


#: ... and the end of the period it covers, when the log was told one (``data_end=``).
DATA_END_ATTR = "cjml_data_end"


def _recorded_attrs(source: Any) -> dict:
    """The attributes :meth:`cjml.EventLog.save` recorded in a Parquet file, else {}.

    Only one ``.parquet`` file can hold them (what ``save`` and ``cjml validate --out``
    write); a folder, another format, a DataFrame or a file without them give {} (the
    file's footer is all that is read).
    """
    if not isinstance(source, str | os.PathLike):
        return {}
    path = Path(source)
    if _suffix_kind(path) != "parquet" or not path.is_file():
        return {}
    import json

    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
        attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}"))
    except (OSError, ValueError, pa.ArrowException):
        return {}  # the reading itself will say what is wrong with the file
    return attrs if isinstance(attrs, dict) else {}


def recorded_data_end(source: Any) -> str | None:
    """The end of the log's period :meth:`cjml.EventLog.save` recorded, else None."""
    value = _recorded_attrs(source).get(DATA_END_ATTR)
    if not isinstance(value, str) or not value:
        return None
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None  # not a time: as if nothing were recorded
    return value


def recorded_timezone(source: Any) -> str | None:
    """The timezone :meth:`cjml.EventLog.save` recorded in a Parquet file, else None.

    As :func:`_recorded_attrs`; a name that is not a timezone gives None too.
    """
    return _timezone_name(_recorded_attrs(source).get(TIMEZONE_ATTR))


def column_timezone(source: Any, columns: Any = None) -> str | None:
    """The named timezone of ``source``'s timestamp column, when it holds one, else None.

    A DataFrame whose timestamp column is timezone-aware (``datetime64[ns, Europe/Paris]``),
    or a Parquet file (or a folder's first) whose timestamp column is (pandas and Spark
    write the zone into the file), says in which timezone its dates are meant. UTC, fixed
    offsets and text columns say nothing (an offset in a text time is an instant, not a
    zone).
    """
    try:
        name = _parse_columns(columns).get("timestamp", "timestamp")
    except (SchemaError, TypeError, ValueError):
        return None  # the reading itself will say what is wrong with the mapping
    zone: Any = None
    if isinstance(source, pd.DataFrame):
        if name in source.columns and not isinstance(source[name], pd.DataFrame):
            zone = getattr(source[name].dtype, "tz", None)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():  # a folder of Parquet files (partitions too): its first file says
            path = next((f for f in _folder_files(path) if _folder_kind(f) == "parquet"), path)
        if _suffix_kind(path) != "parquet" or not path.is_file():
            return None
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError, pa.ArrowException):
            return None
        if isinstance(name, str) and name in schema.names:
            kind = schema.field(name).type
            zone = kind.tz if pa.types.is_timestamp(kind) else None
    if zone is None or isinstance(zone, datetime.timezone):  # UTC or a fixed offset
        return None
    text = str(getattr(zone, "key", None) or zone)
    if not text or text.upper() in ("UTC", "Z", "ETC/UTC") or text[0] in "+-":
        return None
    return _timezone_name(text)


def _timezone_name(name: Any) -> str | None:
    """``name`` when it is the name of a timezone pandas knows, else None."""
    if not isinstance(name, str) or not name:
        return None
    try:
        pd.Timestamp("2000-01-01").tz_localize(name)
    except (ValueError, TypeError, KeyError, LookupError):
        return None
    return name


def timezone_for(
    source: Any, timezone: Any = None, fallback: Any = None, columns: Any = None
) -> Any:
    """The timezone to read ``source`` in, and to read dates such as cutoffs in.

    ``timezone`` when given; else the one a Parquet file written by
    :meth:`cjml.EventLog.save` records (:func:`recorded_timezone`); else the zone of a
    timezone-aware timestamp column (:func:`column_timezone`; ``columns``: the user's
    mapping); else ``fallback`` (a bundle's: the timezone it was trained in); else UTC.
    (An EventLog, read already, has its own: :meth:`cjml.ModelBundle.timezone_for` takes
    it first.)
    """
    if timezone is not None:
        return timezone
    return recorded_timezone(source) or column_timezone(source, columns) or fallback or "UTC"


def _read_csv(
    path: Path, mapping: dict[str, Hashable], encoding: str | None = None
) -> pd.DataFrame:
    """A CSV file read whole by the CSV reader ``score`` streams it with.

    One parser for every command: Arrow's, under the CSV rules of
    :mod:`cjml.io._csv` (every line as long as the header, UTF-8, compressed by
    content...). Every cell is read as text, as ``score`` reads it: a CSV carries no
    types, and the id "007" must not become 7 (lossless integer ids become integers
    later). Then, as :func:`pandas.read_csv` would, the markers of a missing value
    ("NA", "null"...) are missing everywhere but in the customer id, and the other
    columns (scores, amounts, the user's extra columns) are numbers or true/false
    where every value reads as one.
    """

    names = csv_header(path, encoding=encoding).names
    id_col, text_cols = _text_roles(mapping, names)
    return _csv_frame(path, names, id_col, text_cols, encoding)


def _text_roles(mapping: dict[str, Hashable], names: list) -> tuple[str | None, set[str]]:
    """Of a text file's columns, the customer id (kept as written) and the columns kept as
    text (timestamp, touchpoint, stage, channel); the other columns are typed."""
    try:
        resolved = _resolve_columns(mapping, names)
    except SchemaError:
        resolved = {}  # the same check fails again on the full frame, with the rows
    text_cols = {
        str(resolved[c]) for c in ("timestamp", "touchpoint", "stage", "channel") if c in resolved
    }
    id_col = resolved.get("customer_id")
    return (None if id_col is None else str(id_col)), text_cols


def _csv_frame(
    path: Path,
    names: list[str],
    id_col: Hashable | None,
    text_cols: set[str],
    encoding: str | None = None,
) -> pd.DataFrame:
    """A CSV file as a DataFrame: the id column as written, ``text_cols`` as text
    (missing markers missing), the other columns typed as pandas would."""
    id_col = None if id_col is None else str(id_col)
    batches = csv_batches(
        str(path),
        names,
        WHOLE_FILE,
        as_written=[] if id_col is None else [id_col],
        encoding=encoding,
    )
    frame = _text_frame(batches, [str(c) for c in names], id_col, text_cols)
    frame.columns = names  # the header as written (Arrow keys columns by text)
    return frame


def _read_json(
    path: Path, mapping: dict[str, Hashable], encoding: str | None = None
) -> pd.DataFrame:
    """A JSON Lines file read whole, its values typed as a CSV file's are (see
    :func:`_read_csv` and :mod:`cjml.io._json`): the customer id as written, the
    timestamp, touchpoint, stage and channel as text, the rest numbers or true/false
    where every value reads as one."""
    # each batch has the keys of its own lines: the others are missing there
    pieces = list(json_batches(path, None, 1 << 16, encoding))
    if not any(t.num_columns for t in pieces):
        raise no_objects(path)
    table = pa.concat_tables(pieces, promote_options="default")
    names = table.column_names
    id_col, text_cols = _text_roles(mapping, names)
    return _text_frame([table], names, id_col, text_cols)


def _read_excel(
    path: Path, mapping: dict[str, Hashable], encoding: str | None = None
) -> pd.DataFrame:
    """A workbook's first sheet, its cells typed as a CSV file's are (see :func:`_read_csv`
    and :mod:`cjml.io._excel`)."""
    (table,) = excel_batches(path, None, 1 << 62)
    id_col, text_cols = _text_roles(mapping, table.column_names)
    return _text_frame([table], table.column_names, id_col, text_cols)


def _text_frame(
    batches: Any, names: list[str], id_col: str | None, text_cols: set[str]
) -> pd.DataFrame:
    """Batches of text cells (CSV, JSON Lines, a sheet) as one DataFrame: the id column as written,
    ``text_cols`` as text (missing markers missing), the other columns typed as pandas
    would."""
    batches = list(batches)
    table = (
        pa.concat_tables(batches)
        if batches
        else pa.table({c: pa.array([], pa.string()) for c in names})
    )

    def conform(name: str) -> pa.ChunkedArray:
        col = table.column(name)
        if name != id_col:
            col = pc.if_else(pc.is_in(col, value_set=NA_MARKERS), pa.scalar(None, pa.string()), col)
        return col if name in text_cols or name == id_col else typed_like_pandas(col)

    names_read = table.column_names
    # Arrow's kernels here run on one core each and release the GIL: a large file's
    # columns are conformed side by side.
    workers = min(os.cpu_count() or 1, 4, len(names_read))
    if table.num_rows >= _PARALLEL_COLUMNS_FROM_ROWS and workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="cjml-read") as pool:
            conformed = list(pool.map(conform, names_read))
    else:
        conformed = [conform(name) for name in names_read]
    return _as_pandas(pa.table(dict(zip(names_read, conformed, strict=True))))


def csv_dialect_text(events: Any, encoding: str | None = None) -> str | None:
    """How a CSV input was read, when not as plain UTF-8 and commas: a line for ``validate``.

    Parameters
    ----------
    events : object
        The input as given (a path; anything else gives None).
    encoding : str, optional
        The text encoding the user gave.

    Returns
    -------
    str or None
        E.g. "Read as CSV separated by ';', numbers with a decimal comma
        ('12,50' is 12.5), text in Windows-1252 (cp1252)"; None for UTF-8
        comma-separated CSV, Parquet or a DataFrame.
    """
    if not isinstance(events, str | os.PathLike):
        return None
    kind, files = _input_files(Path(events))
    if kind != "csv" or not files:
        return None
    header = csv_header(files[0], encoding=encoding)
    said = []
    if header.sep != ",":
        said.append(f"separated by {SEPARATOR_WORDS[header.sep]}")
    if header.point_columns:  # some columns with a decimal comma, some with a point
        said.append(
            f"numbers with a decimal comma ('12,50' is 12.5) except in "
            f"{', '.join(repr(c) for c in sorted(header.point_columns))}, which use a "
            "decimal point"
        )
    elif header.decimal_comma:
        said.append("numbers with a decimal comma ('12,50' is 12.5)")
    if header.encoding != "utf-8":
        said.append(f"text in {ENCODING_WORDS.get(header.encoding, header.encoding)}")
    return f"Read as CSV {', '.join(said)}" if said else None


def read_written_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read back a table cjml wrote (scores, approved actions), as it was before writing.

    A CSV file is read by the one CSV parser: customer ids stay text as written
    ("007" is not 7), the formula guard cjml put before risky text is taken off
    ("'=1+1" is "=1+1"), and the other columns are numbers or true/false where
    every value reads as one. A Parquet file is read as it is.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` (or ``.tsv``) or ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        The table.
    """
    path = Path(path)
    if _suffix_kind(path) == "parquet":
        return _read_parquet(path)
    names = csv_header(path).names
    frame = _csv_frame(path, names, "customer_id" if "customer_id" in names else None, set())
    for name in frame.columns:
        if frame[name].dtype == object or isinstance(frame[name].dtype, pd.StringDtype):
            frame[name] = frame[name].map(unescape_formula)
    return frame


def _csv_unreadable(path: Path, exc: Exception) -> str:
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"Cannot read the CSV file {str(path)!r}: {why}. Fix: check the quoting (a quote "
        "opened and never closed?)."
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    kind = file_kind(read_head(path, "the Parquet file"))
    if kind != "parquet":
        fix = (
            "name it .csv (cjml reads CSV files by their suffix)."
            if kind is None
            else "export the events as Parquet or CSV."
        )
        raise not_this(path, "the Parquet file", kind or "text", f"a Parquet file. Fix: {fix}")
    try:
        frame = _table_frame(_parquet_table(path))
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


def _parquet_table(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path, use_pandas_metadata=True)


def _read_path(
    path: Path, mapping: dict[str, Hashable], encoding: str | None = None
) -> tuple[pd.DataFrame, _Origin]:
    kind, chosen = _input_files(path)
    folder = path if path.is_dir() else None
    read = {"csv": _read_csv, "json": _read_json, "excel": _read_excel}
    frames = [
        _with_partitions(
            read[kind](p, mapping, encoding) if kind in read else _read_parquet(p),
            {} if folder is None else _partition_values(folder, p),
        )
        for p in chosen
    ]
    lacking: dict[Hashable, int] = {}
    if kind != "json":  # a JSON line may lack a key, and so may a whole file of them
        required = [mapping.get(c, c) for c in REQUIRED_COLUMNS]
        _, absent = _folder_columns(path, chosen, [list(f.columns) for f in frames], required)
        for gone in absent:
            for c in gone:
                lacking[c] = lacking.get(c, 0) + 1
    starts = tuple(int(x) for x in np.cumsum([0] + [len(f) for f in frames[:-1]]))
    data = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    names = tuple(p.name if folder is None else _relative(folder, p) for p in chosen)
    origin = _Origin(
        names=names,
        starts=starts,
        csv=kind in TEXT_KINDS,
        first_line=1 if kind == "json" else 2,
        lacking=tuple(lacking.items()),
    )
    return data, origin


_KIND_WORDS = {"csv": "CSV", "parquet": "Parquet", "json": "JSON Lines", "excel": "Excel"}


def _folder_columns(
    folder: Path, files: list[Path], columns_of: list[list], required: Sequence | None = None
) -> tuple[list, list[list]]:
    """The columns of a folder's files together, and the columns each file lacks.

    Monthly exports gain and lose columns (a ``channel`` added in March, a survey column
    dropped): a file without a column the others have is read with that column empty on
    its rows, and one warning names which files lack what. A file without one of the
    ``required`` columns (the names the customer id, time and touchpoint are read from)
    is refused, naming every such file at once; ``required`` None (a look at the columns
    only, before the mapping is known) refuses and warns about nothing.

    Returns
    -------
    columns : list
        Every column of any file: the first file's in its order, then each new one where
        it first appears.
    absent : list of list
        Per file, the columns of ``columns`` it lacks.
    """
    columns = list(dict.fromkeys(c for cols in columns_of for c in cols))
    absent = [[c for c in columns if c not in set(cols)] for cols in columns_of]
    if required is None or not any(absent):
        return columns, absent
    needed = [str(c) for c in required]
    lacking = [
        (_relative(folder, f), [c for c in gone if str(c) in needed], cols)
        for f, gone, cols in zip(files, absent, columns_of, strict=True)
    ]
    lacking = [(name, gone, cols) for name, gone, cols in lacking if gone]
    if lacking:
        complete = [
            _relative(folder, f)
            for f, gone in zip(files, absent, strict=True)
            if not any(str(c) in needed for c in gone)
        ]
        having = f"; {complete[0]!r} has them" if complete else ""
        lines = "\n".join(
            f"  {name!r} lacks {gone!r}; its columns: {list(cols)!r}"
            for name, gone, cols in lacking[:5]
        )
        more = f"\n  ... and {len(lacking) - 5} more files" if len(lacking) > 5 else ""
        name, gone, _ = lacking[0]
        raise SchemaError(
            f"Some files of folder {str(folder)!r} lack a column every event needs (the "
            f"customer id, time and touchpoint{having}):\n{lines}{more}\nFix: "
            f"if the column has another name in {name!r}, rename it to "
            f"{', '.join(map(repr, gone))} there; if those rows cannot be read, move the file "
            "out of the folder."
        )
    by_column: dict = {}
    for f, gone in zip(files, absent, strict=True):
        for c in gone:
            by_column.setdefault(c, []).append(_relative(folder, f))
    shown = list(by_column.items())[:_MAX_SHOWN]
    lines = "\n".join(
        f"  {str(c)!r}: {len(names)} of {len(files)} files lack it ("
        + ", ".join(map(repr, names[:3]))
        + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        + ")"
        for c, names in shown
    )
    more = (
        f"\n  ... and {len(by_column) - len(shown)} more columns"
        if len(by_column) > len(shown)
        else ""
    )
    warnings.warn(
        f"Not every file of folder {str(folder)!r} has the same columns; a file's rows are "
        f"read with the columns it lacks empty:\n{lines}{more}\nIf a column was renamed "
        "between exports, give it one name in every file; otherwise there is nothing to do "
        f"(to read them as one file from now on: cjml validate {shlex.quote(str(folder))} "
        "--out events.parquet).",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )
    return columns, absent


def _input_files(path: Path) -> tuple[str, list[Path]]:
    """The format ("csv", "parquet", "json" or "excel") and the files to read, in path order.

    A folder is read with its partition sub-folders, as Spark, Dask and pyarrow write a
    dataset partitioned by column (``month=2024-01/part-0.parquet``; see
    :func:`_partition_values`); other sub-folders are not read, and names starting with
    ``.`` or ``_`` (``_SUCCESS``, ``_temporary/``, ``.ipynb_checkpoints/``) are skipped.
    """
    if not path.exists():
        raise InputFileError(
            f"Cannot read events from {str(path)!r}: no such file or folder. {_ACCEPTED}."
        )
    if path.is_dir():
        files = _folder_files(path)
        groups = {
            kind: [p for p in files if _folder_kind(p) == kind]
            for kind in ("csv", "parquet", "json", "excel")
        }
        present = [kind for kind in groups if groups[kind]]
        if len(present) > 1:
            said = " and ".join(
                f"{_KIND_WORDS[kind]} files ({_relative(path, groups[kind][0])!r}, ...)"
                for kind in present
            )
            raise InputFileError(
                f"The folder {str(path)!r} holds {said}. {_ACCEPTED}. Fix: keep one format "
                "per folder."
            )
        if not present:
            shown = [_relative(path, p) for p in files[:5]]
            documents = any(p.name.lower().endswith(".json") for p in files)
            raise InputFileError(
                f"The folder {str(path)!r} holds no CSV, Parquet or JSON Lines file (found "
                f"{shown!r}; of its sub-folders only partitions, key=value, are read). "
                f"{_ACCEPTED}."
                + (
                    " In a folder, a plain .json file is taken for a document (a manifest, a "
                    "map), not events: name JSON Lines files .jsonl (or give one file by "
                    "its path)."
                    if documents
                    else ""
                )
            )
        kind = present[0]
        chosen = groups[kind]
    else:
        suffix_kind = _suffix_kind(path)
        if suffix_kind is None:
            suffix = "".join(path.suffixes) or "(no suffix)"
            if path.name.lower().endswith(_ARCHIVES):  # an export of many files, packed
                raise InputFileError(
                    f"Cannot read events from {str(path)!r}: it is an archive ({suffix!r}), "
                    "and cjml reads the files inside it, not the archive. Fix: unpack it into "
                    f"a folder (e.g. mkdir events && {_unpack_hint(path)}) and give the "
                    "folder, or one file of it."
                )
            raise InputFileError(
                f"Cannot read events from {str(path)!r}: {suffix!r} files are not supported. "
                f"{_ACCEPTED}. Fix: export the events as CSV, Parquet, JSON Lines or .xlsx, e.g. "
                f"{_conversion_hint(path)}.to_parquet('events.parquet')."
            )
        kind, chosen = suffix_kind, [path]
    return kind, chosen


#: Archives of several files (a zip of one CSV file is read as that file, by its content).
_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".rar")


def _unpack_hint(path: Path) -> str:
    """The shell command that unpacks ``path`` into the folder ``events``."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return f"unzip {str(path)!r} -d events"
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return f"tar -xf {str(path)!r} -C events"
    return f"7z x {str(path)!r} -oevents"


#: A file cjml writes beside its outputs as JSON Lines, never read from a folder as events
#: (its bundle and campaign manifests are ``.json`` documents, skipped with any other).
_SIDE_NAMES = ("decisions.jsonl",)


def _folder_kind(path: Path) -> str | None:
    """The format of a file found in a folder of events, None for a file that is not one.

    A plain ``.json`` file in a folder is a document (a manifest, a journey map, a
    configuration), not events: only ``.jsonl``, ``.ndjson`` and compressed ``.json.gz``
    files (one per hour, as Amplitude exports) are JSON Lines there; a ``.json`` file
    given by its own path is read as JSON Lines. cjml's own side files are skipped.
    """
    name = path.name.lower()
    if name.endswith(".json") or name in _SIDE_NAMES or name.startswith("~$"):
        return None  # ~$: the lock file Excel keeps beside an open workbook
    return _suffix_kind(path)


def _folder_files(folder: Path) -> list[Path]:
    """The files of ``folder`` and of its partition sub-folders (``key=value``, at any
    depth), in path order. Other sub-folders (an ``archive/``) are not read, and names
    starting with ``.`` or ``_`` are skipped, files and folders alike."""
    out: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and "=" in d[1:])
        out.extend(Path(root) / n for n in sorted(names) if not n.startswith((".", "_")))
    return sorted(out, key=lambda p: p.relative_to(folder).parts)


def _relative(folder: Path, file: Path) -> str:
    """A file's path under its folder, as messages name it (``month=2024-01/part-0.parquet``)."""
    return file.relative_to(folder).as_posix()


#: How Spark and Hive write a missing partition value.
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _partition_values(folder: Path, file: Path) -> dict[str, str | None]:
    """The column values a partitioned dataset keeps in a file's folder names: each
    sub-folder named ``key=value`` (Hive's layout, which Spark, Dask and pyarrow write)
    gives the file's rows that value of column ``key``, as text (``__HIVE_DEFAULT_PARTITION__``
    is missing)."""
    out: dict[str, str | None] = {}
    for part in file.relative_to(folder).parent.parts:
        key, eq, value = part.partition("=")
        if eq and key:
            text = urllib.parse.unquote(value)
            out[urllib.parse.unquote(key)] = None if text == _HIVE_NULL else text
    return out


def _with_partitions(frame: pd.DataFrame, values: dict[str, str | None]) -> pd.DataFrame:
    """The rows of one file with its partition values as columns (the file's own columns win)."""
    extra = {k: v for k, v in values.items() if k not in frame.columns}
    if not extra:
        return frame
    return frame.assign(
        **{
            k: pd.Series([v] * len(frame), index=frame.index, dtype=object)
            for k, v in extra.items()
        }
    )


# The pandas reader that opens a file cjml does not read, for the conversion the
# "not supported" message suggests.
_PANDAS_READERS = {
    ".txt": "pd.read_csv({p!r}, sep=None, engine='python')",
    ".feather": "pd.read_feather({p!r})",
    ".orc": "pd.read_orc({p!r})",
    ".xls": "pd.read_excel({p!r})",
    ".xlsx": "pd.read_excel({p!r})",
}


def _conversion_hint(path: Path) -> str:
    """``pd.read_...(path)`` for the file's suffix (Excel when the suffix is unknown)."""
    suffix = path.suffixes[-1].lower() if path.suffixes else ""
    return _PANDAS_READERS.get(suffix, "pd.read_excel({p!r})").format(p=str(path))
