"""Events as Arrow batches, in bounded memory: the reading half of the one reader.

:class:`_Source` is the events as given: CSV or Parquet files (one file or a
folder of them) or an in-memory DataFrame. :func:`_iter_batches` reads it in
input order, a batch of about :data:`BATCH_ROWS` rows at a time, only the
columns asked for, under the CSV rules of read_events. :func:`_pieces` cuts
it into pieces (row groups of a Parquet file, a CSV file, a slice of a
frame) that threads or Dask workers read on their own (:func:`_read_piece`).

``score`` (both engines) reads through it, and :func:`cjml.read_events` reads
CSV files with the same :func:`csv_batches`, so every command parses a CSV
file the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cjml.exceptions import InputFileError, SchemaError
from cjml.io._batches import _Reader
from cjml.io._csv import csv_batches, csv_header, file_kind, not_this, read_head
from cjml.io._excel import excel_batches, excel_columns, excel_rows
from cjml.io._files import _folder_columns, _input_files, _partition_values, _relative
from cjml.io._json import json_batches, json_columns
from cjml.io._messages import REQUIRED_COLUMNS, TEXT_KINDS

#: Rows read at a time in the partition pass.
BATCH_ROWS = 1_000_000
#: Rows parsed, and CSV bytes read, at a time while the date format of text timestamps is
#: decided.
_SCAN_ROWS = 20_000
_SCAN_BLOCK = 1 << 20


@dataclass
class _Source:
    """The input: files of one format, or an in-memory frame."""

    kind: str  # "csv" | "parquet" | "json" (JSON Lines) | "excel" | "frame"
    files: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    columns: list = field(default_factory=list)
    frame: pd.DataFrame | None = None
    folder: str | None = None
    encoding: str | None = None  # of CSV or JSON text, as the user gave it (None: UTF-8)
    # per file, the values its key=value sub-folders give columns it lacks (Hive's layout),
    # and None for a column other files have and it lacks
    partitions: tuple[dict, ...] = ()

    def partition(self, i: int) -> dict:
        """The partition values of file ``i`` (column: text or None); {} outside a dataset."""
        return self.partitions[i] if self.partitions else {}

    def is_partition(self, column) -> bool:
        """Whether ``column`` comes from sub-folder names, not from the files' contents."""
        return any(str(column) in p for p in self.partitions)

    def identity(self) -> Any:
        """What the fingerprint of a run records about the input."""
        if self.frame is not None:
            try:
                hashed = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
            except TypeError:  # unhashable cells (a column of dicts or lists): by their text
                hashed = pd.util.hash_pandas_object(self.frame.astype(str), index=False).to_numpy()
            return {
                "frame": hashlib.sha256(hashed.tobytes()).hexdigest(),
                "rows": len(self.frame),
                "columns": [str(c) for c in self.frame.columns],
            }
        out = []
        for f in self.files:
            st = os.stat(f)
            out.append([str(Path(f).resolve()), st.st_size, st.st_mtime_ns])
        return out

    def estimate_rows(self) -> int:
        """Rows in the input: exact for Parquet and frames, estimated for text files."""
        if self.frame is not None:
            return len(self.frame)
        if self.kind == "parquet":
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        if self.kind == "excel":  # read whole anyway (and kept for the reading)
            return max(sum(excel_rows(f) for f in self.files), 1)
        total = 0
        for f in self.files:
            size = os.path.getsize(f)
            with open(f, "rb") as handle:
                head = handle.read(1 << 20)
            plain = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json")
            compressed = not f.lower().endswith(plain)
            lines = max(head.count(b"\n"), 1)
            per_line = 20.0 if compressed else len(head) / lines
            total += int(size / max(per_line, 1.0))
        return max(total, 1)

    def index(self) -> pd.Index | None:
        """A DataFrame's index when it is not 0..n-1 (to name rows in messages)."""
        if self.frame is None or self.frame.index.equals(pd.RangeIndex(len(self.frame))):
            return None
        return self.frame.index

    def customer_type(self, column) -> pa.DataType:
        """The Arrow type of the customer column as read."""
        if self.kind in TEXT_KINDS or self.is_partition(column):
            return pa.string()
        if self.frame is not None:
            return _frame_schema(self.frame[[column]]).field(0).type
        return _plain_type(pq.read_schema(self.files[0]).field(str(column)).type)


def _open_source(events, encoding: str | None = None, mapping: dict | None = None) -> _Source:
    """The input (a DataFrame, or a CSV, Parquet or JSON Lines file or folder) as a
    :class:`_Source` (``encoding``: of CSV or JSON text, see :func:`cjml.io._csv.csv_header`).

    In a folder whose files differ in columns, a file's rows get the columns it lacks
    empty (as partition values None); with ``mapping`` (canonical name -> the user's
    column) a file without a required column is refused and the others are warned about,
    see :func:`cjml.io._files._folder_columns`.

    An :class:`~cjml.EventLog` is given as its ``frame`` by the caller: this module
    sits under :mod:`cjml.events`, not beside it.
    """
    if isinstance(events, pd.DataFrame):
        if len(events.columns) != len(set(events.columns)):
            dup = sorted({str(c) for c in events.columns if list(events.columns).count(c) > 1})
            raise SchemaError(
                f"The input has several columns with the same name: {dup!r}. "
                "Fix: rename them so each column name is unique."
            )
        return _Source(kind="frame", columns=list(events.columns), frame=events)
    if not isinstance(events, str | os.PathLike):
        raise InputFileError(
            f"Cannot score events from a {type(events).__name__}; give a "
            "DataFrame, an EventLog, a CSV or Parquet file, or a folder of "
            "them."
        )
    path = Path(events)
    kind, files = _input_files(path)
    if kind == "csv":
        columns_of = [csv_header(f, encoding=encoding).names for f in files]
    elif kind == "json":  # a file may lack a key the others have: every file gets them all
        union = list(dict.fromkeys(c for f in files for c in json_columns(f, encoding)))
        columns_of = [union for _ in files]
    elif kind == "excel":
        columns_of = [excel_columns(f) for f in files]
    else:
        columns_of = [_parquet_columns(f) for f in files]
    folder = path if path.is_dir() else None
    partitions = tuple(
        {
            k: v
            for k, v in ({} if folder is None else _partition_values(folder, f)).items()
            if k not in cols
        }
        for f, cols in zip(files, columns_of, strict=True)
    )
    columns_of = [[*cols, *parts] for cols, parts in zip(columns_of, partitions, strict=True)]
    required = None if mapping is None else [mapping.get(c, c) for c in REQUIRED_COLUMNS]
    columns, absent = _folder_columns(path, files, columns_of, required)
    partitions = tuple(
        {**parts, **dict.fromkeys(map(str, gone))}
        for parts, gone in zip(partitions, absent, strict=True)
    )
    return _Source(
        kind=kind,
        files=tuple(str(f) for f in files),
        names=tuple(f.name if folder is None else _relative(folder, f) for f in files),
        columns=columns,
        folder=str(path) if folder is not None else None,
        encoding=encoding if kind in TEXT_KINDS else None,
        partitions=partitions if any(partitions) else (),
    )


def _with_constant_touchpoint(src: _Source, touchpoint: str, mapping: dict) -> _Source:
    """The input with a ``touchpoint`` column holding ``touchpoint`` on every row (see
    ``read_events(..., touchpoint=...)``): for files, as a value every file's rows get, the
    way a partition folder's ``key=value`` gives one."""
    from cjml.events import with_constant_touchpoint

    if src.frame is not None:
        frame = with_constant_touchpoint(src.frame, touchpoint, mapping)
        return dataclasses.replace(src, frame=frame, columns=list(frame.columns))
    with_constant_touchpoint(pd.DataFrame(columns=src.columns), touchpoint, mapping)  # checks
    parts = tuple({**src.partition(i), "touchpoint": touchpoint} for i in range(len(src.files)))
    return dataclasses.replace(src, columns=[*src.columns, "touchpoint"], partitions=parts)


def _parquet_columns(path: Path) -> list:
    kind = file_kind(read_head(path, "the Parquet file"))
    if kind != "parquet":
        fix = (
            "name it .csv (cjml reads CSV files by their suffix)."
            if kind is None
            else "export the events as Parquet or CSV."
        )
        raise not_this(path, "the Parquet file", kind or "text", f"a Parquet file. Fix: {fix}")
    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputFileError(
            f"Cannot read the Parquet file {str(path)!r}: {_first_line(exc)}. "
            "Fix: check that it is a complete Parquet file (e.g. written by "
            "DataFrame.to_parquet), or export the events as CSV."
        ) from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _plain_type(t: pa.DataType) -> pa.DataType:
    """Dictionary types as their values; large strings as strings."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    return t


def _frame_schema(frame: pd.DataFrame) -> pa.Schema:
    try:
        schema = pa.Schema.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise SchemaError(
            f"Cannot stream this DataFrame: {_first_line(exc)}. Fix: give each "
            "column one type (e.g. df[col] = df[col].astype(str))."
        ) from None
    return pa.schema([pa.field(f.name, _plain_type(f.type)) for f in schema])


def _target_schema(src: _Source, read_columns: list) -> pa.Schema:
    """One Arrow type per column for every batch (files may disagree: then text)."""
    if src.kind in TEXT_KINDS:
        return pa.schema([pa.field(str(c), pa.string()) for c in read_columns])
    if src.frame is not None:
        return _frame_schema(src.frame[read_columns])
    types: dict[str, set] = {str(c): set() for c in read_columns}
    for i, f in enumerate(src.files):
        schema = pq.read_schema(f)
        for c in types:
            given = src.partition(i)
            if c not in given:
                types[c].add(_plain_type(schema.field(c).type))
            elif given[c] is not None:  # None: a file without the column, empty in any type
                types[c].add(pa.string())
    fields = []
    for c, ts in types.items():
        t = ts.pop() if len(ts) == 1 else pa.string()
        fields.append(pa.field(c, pa.string() if pa.types.is_null(t) else t))
    return pa.schema(fields)


def _iter_batches(
    src: _Source,
    read_columns: list,
    batch_rows: int,
    block_size: int | None = None,
    as_written: Sequence = (),
) -> Iterator[tuple[int, pa.Table]]:
    """(file number, batch) for every batch of the input, in input order (``block_size``:
    the bytes of CSV read at a time, ``as_written``: CSV columns whose decimal commas
    stay, see :func:`csv_batches`)."""
    if src.frame is not None:
        frame = src.frame[read_columns]
        for start in range(0, len(frame), batch_rows):
            part = frame.iloc[start : start + batch_rows]
            try:
                yield 0, pa.Table.from_pandas(part, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise SchemaError(
                    f"Cannot stream this DataFrame: {_first_line(exc)}. Fix: give "
                    "each column one type (e.g. df[col] = df[col].astype(str))."
                ) from None
        return
    for i, f in enumerate(src.files):
        values = src.partition(i)
        in_file = [c for c in read_columns if str(c) not in values]
        if src.kind == "parquet":
            batches = _parquet_batches(f, in_file, batch_rows)
        elif src.kind == "json":
            batches = json_batches(f, in_file, batch_rows, src.encoding)
        elif src.kind == "excel":
            batches = excel_batches(f, in_file, batch_rows)
        else:
            batches = csv_batches(
                f,
                in_file,
                batch_rows,
                block_size=block_size,
                as_written=as_written,
                encoding=src.encoding,
            )
        yield from ((i, _with_partition_columns(t, values, read_columns)) for t in batches)


def _with_partition_columns(table: pa.Table, values: dict, read_columns: Sequence) -> pa.Table:
    """A file's batch with the partition values among ``read_columns`` as text columns, in
    the order of ``read_columns``."""
    if not values:
        return table
    n = table.num_rows
    return pa.table(
        {
            str(c): pa.array([values[str(c)]] * n, type=pa.string())
            if str(c) in values
            else table.column(str(c))
            for c in read_columns
        }
    )


def _decide_date_format(src: _Source, reader: _Reader) -> None:
    """Set ``reader.date_format`` when the timestamps are text in a format besides ISO 8601,
    decided before any batch is parsed (:func:`column_date_format`): each batch then reads
    its dates as :func:`cjml.read_events` reads the whole column. Warns, as read_events
    does, when the column reads as well month first and day first."""
    from cjml.io._messages import _Context
    from cjml.io._timestamps import _warn_ambiguous_dates, column_date_format

    column = reader.resolved["timestamp"]
    kind = _target_schema(src, [column]).field(str(column)).type
    if reader.timestamp_unit is not None or not (
        pa.types.is_string(kind) or pa.types.is_large_string(kind)
    ):
        return  # epoch numbers, or times Arrow already holds as times
    # small slices: the first usually decides (ISO 8601, or a day above 12), so an ISO
    # file costs a block of one column read and a slice of it parsed
    values = (
        t.column(0).slice(start, _SCAN_ROWS).to_pandas()
        for _, t in _iter_batches(src, [column], _SCAN_ROWS, block_size=_SCAN_BLOCK)
        for start in range(0, t.num_rows, _SCAN_ROWS)
    )
    fmt, tied, examples = column_date_format(values)
    reader.date_format = fmt
    if tied and fmt is not None:
        label = _Context(pd.DataFrame(), reader.resolved, reader.origin(None)).label("timestamp")
        _warn_ambiguous_dates(label, examples, fmt, tied)


def _parquet_batches(
    path: str, read_columns: list, batch_rows: int, row_groups: Sequence[int] | None = None
) -> Iterator[pa.Table]:
    """A Parquet file a few row groups at a time (about ``batch_rows`` rows per batch).

    Row groups are read one by one: ``ParquetFile.iter_batches`` over a whole file
    keeps memory in proportion to the file, which would defeat streaming.
    """
    columns = [str(c) for c in read_columns]
    try:
        handle = pq.ParquetFile(path)
        groups = range(handle.metadata.num_row_groups) if row_groups is None else row_groups
        pending, rows = [], 0
        for g in groups:
            size = handle.metadata.row_group(g).num_rows
            if size > 2 * batch_rows:  # a huge row group: in slices
                for batch in handle.iter_batches(
                    batch_size=batch_rows, row_groups=[g], columns=columns
                ):
                    yield pa.Table.from_batches([batch])
                continue
            pending.append(handle.read_row_group(g, columns=columns))
            rows += size
            if rows >= batch_rows:
                yield pa.concat_tables(pending) if len(pending) > 1 else pending[0]
                pending, rows = [], 0
        if pending:
            yield pa.concat_tables(pending) if len(pending) > 1 else pending[0]
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(
            f"Cannot read the Parquet file {path!r}: {_first_line(exc)}. Fix: "
            "check that it is a complete Parquet file (e.g. written by "
            "DataFrame.to_parquet), or export the events as CSV."
        ) from None


@dataclass
class _Piece:
    """A piece of the input a dask task reads: row groups of a Parquet file, a CSV, JSON
    Lines or Excel file, or a slice of a DataFrame."""

    file_no: int
    path: str | None = None
    row_groups: list[int] | None = None
    first_row: int = 0
    table: pa.Table | None = None
    encoding: str | None = None  # of a CSV or JSON Lines file
    form: str = "csv"  # of a whole file: "csv", "json" (JSON Lines) or "excel"
    partition: dict = field(default_factory=dict)  # the file's partition values


def _pieces(src: _Source, reader: _Reader) -> list[_Piece]:
    if src.frame is not None:
        pieces, first = [], 0
        for _, table in _iter_batches(src, reader.read_columns, BATCH_ROWS):
            pieces.append(_Piece(0, first_row=first, table=table))
            first += table.num_rows
        return pieces
    if src.kind in TEXT_KINDS:
        return [
            _Piece(
                i,
                path=f,
                encoding=src.encoding,
                partition=src.partition(i),
                form=src.kind,
            )
            for i, f in enumerate(src.files)
        ]
    pieces, first = [], 0
    for i, f in enumerate(src.files):
        meta = pq.ParquetFile(f).metadata
        group, rows = [], 0
        for g in range(meta.num_row_groups):
            group.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= BATCH_ROWS:
                pieces.append(
                    _Piece(i, path=f, row_groups=group, first_row=first, partition=src.partition(i))
                )
                first += rows
                group, rows = [], 0
        if group:
            pieces.append(
                _Piece(i, path=f, row_groups=group, first_row=first, partition=src.partition(i))
            )
            first += rows
    return pieces


def _read_piece(piece: _Piece, reader: _Reader) -> pa.Table:
    columns = reader.read_columns
    if piece.table is not None:
        return piece.table
    assert piece.path is not None  # a piece of a file: row groups, or a CSV or JSON file
    assert reader.schema is not None  # set by the engine before the pieces are read
    in_file = [c for c in columns if str(c) not in piece.partition]
    if piece.row_groups is not None:
        batches = list(_parquet_batches(piece.path, in_file, BATCH_ROWS, piece.row_groups))
    elif piece.form == "json":
        batches = list(json_batches(piece.path, in_file, BATCH_ROWS, piece.encoding))
    elif piece.form == "excel":
        batches = list(excel_batches(piece.path, in_file, BATCH_ROWS))
    else:
        batches = list(
            csv_batches(
                piece.path,
                in_file,
                BATCH_ROWS,
                as_written=[reader.resolved["customer_id"]],
                encoding=piece.encoding,
            )
        )
    batches = [_with_partition_columns(t, piece.partition, columns) for t in batches]
    if not batches:
        return pa.schema(
            [pa.field(str(c), reader.schema.field(str(c)).type) for c in columns]
        ).empty_table()
    return pa.concat_tables(batches, promote_options="permissive")
