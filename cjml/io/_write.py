"""Writing files safely: the one home of every rule about what cjml writes.

- **Outputs never destroy inputs.** :func:`refuse_output_over_inputs` refuses an
  output that is one of the run's input files (the same file after symlinks,
  ``..``, relative paths and hard links) or lies inside an input folder, with
  or without ``force``; :func:`check_output` adds the other checks made before
  any work (the suffix, an existing folder, an existing file without ``force``).
- **Atomic, nothing replaced by accident.** :func:`write_atomic` writes a new
  file in a private temporary folder inside the output's folder and renames it
  into place, so readers never see half a file and a failed write leaves the old
  file as it was.
- **Like any program's file.** Files get mode ``0666 & ~umask``.
- **Parquet says which columns are complete.** :func:`write_table` declares every
  column without a null a required field, whether the table comes whole or in
  pieces (:func:`_required_where_complete`); readers see the same values and dtypes.
- **One CSV writer.** :func:`write_csv` writes every CSV cjml writes (scores,
  actions, journey maps, rejects, features, the panel's export): formula-safe,
  UTF-8 with a byte-order mark, CRLF line ends, atomic; from a table or from an
  iterator of tables (the scoring merge streams its batches).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from numbers import Number
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml.exceptions import CjmlError, InputFileError

__all__ = [
    "FORMULA_PREFIXES",
    "TABLE_SUFFIXES",
    "CsvStream",
    "WriteError",
    "check_output",
    "escape_formula",
    "publish",
    "refuse_output_over_inputs",
    "write_atomic",
    "write_csv",
    "write_error",
    "unescape_formula",
    "write_table",
]

TABLE_SUFFIXES = (".parquet", ".csv")

#: Leading characters that make a spreadsheet treat a cell as a formula (with the
#: full-width forms some spreadsheets also accept).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Spreadsheets skip leading spaces before a formula (" =1+1" runs too).
_SPACES = " \u00a0\u3000"
_RISKY_PATTERN = "^[" + re.escape(_SPACES) + "]*[" + re.escape("".join(FORMULA_PREFIXES)) + "]"
_RISKY = re.compile(_RISKY_PATTERN)
_BOM = "\ufeff"
_EOL = "\r\n"


class WriteError(CjmlError, OSError):
    """A file could not be written (disk full, no permission...); the message names it.

    ``errno`` and ``filename`` are those of the failure; the text is one line
    that says what to do.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Cannot write a file."


# =========================================================================== paths
def refuse_output_over_inputs(
    out, inputs: Mapping[str, object] | None, *, option: str = "--out"
) -> None:
    """Refuse an output path that would overwrite an input, whatever ``force`` says.

    Parameters
    ----------
    out : str or Path
        The file about to be written.
    inputs : mapping of str to path
        What each input is ("events file", "bundle", "customer list"...) to
        its path. Values that are not paths (a DataFrame, a dict of rules,
        None) are skipped. A folder protects everything inside it.
    option : str, default "--out"
        How the user names the output, for the message.

    Raises
    ------
    InputFileError
        When ``out`` resolves (symlinks, ``..``, relative parts, hard links)
        to an input file, or to a path inside an input folder. The message
        names both paths.
    """
    if not inputs:
        return
    out = Path(out).expanduser()
    out_real = Path(os.path.realpath(out))
    for label, given in inputs.items():
        if not isinstance(given, str | os.PathLike) or str(given) == "":
            continue
        path = Path(given).expanduser()
        real = Path(os.path.realpath(path))
        if path.is_dir():
            if out_real == real or real in out_real.parents:
                raise InputFileError(
                    f"Refusing to write {str(out)!r}: it is inside the "
                    f"{label.removesuffix(' file')} folder "
                    f"{str(given)!r} given as input, and cjml never writes over or into its "
                    f"inputs, even with --force. Choose another {option} outside that folder."
                )
            continue
        same = out_real == real
        if not same and out.exists() and path.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, path)  # hard links, case-insensitive disks
        if same:
            raise InputFileError(
                f"Refusing to write {str(out)!r}: it is the {label} {str(given)!r} given as "
                f"input (the same file), and cjml never writes over its inputs, even with "
                f"--force. Choose another {option}."
            )


def check_output(
    out,
    *,
    inputs: Mapping[str, object] | None = None,
    force: bool = False,
    suffixes: tuple[str, ...] | None = None,
    option: str = "--out",
) -> Path:
    """Check an output path before any work is done.

    Parameters
    ----------
    out : str or Path
        The file to be written.
    inputs : mapping of str to path, optional
        The run's inputs (see :func:`refuse_output_over_inputs`).
    force : bool, default False
        Whether an existing file may be replaced.
    suffixes : tuple of str, optional
        Allowed suffixes (lower case, with the dot); any when None.
    option : str, default "--out"
        How the user names the output, for the messages.

    Returns
    -------
    Path
        ``out`` as a Path.

    Raises
    ------
    InputFileError
        When the suffix is not allowed, ``out`` is an existing folder or an
        input (or inside an input folder), or exists and ``force`` is False.
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffixes is not None and suffix not in suffixes:
        raise InputFileError(
            f"Cannot write {str(path)!r}: the file must end in {' or '.join(suffixes)}, "
            f"not {suffix or '(no suffix)'!r}."
        )
    refuse_output_over_inputs(path, inputs, option=option)
    _refuse_folder(path, option)
    if path.exists() and not force:
        raise InputFileError(
            f"{str(path)!r} already exists and was left untouched. Choose another {option}, "
            "or pass --force (force=True) to replace it."
        )
    return path


def _refuse_folder(path: Path, option: str = "--out") -> None:
    if path.is_dir():
        raise InputFileError(
            f"Cannot write {str(path)!r}: it is an existing folder, and {option} must name a "
            f"file. Name a file, e.g. {str(path / ('output' + (path.suffix or '.csv')))!r}."
        )


# =========================================================================== atomic writing
def write_atomic(
    path: str | Path, write, *, force: bool = False, suffixes: tuple[str, ...] | None = None
) -> Path:
    """Write a file through ``write(tmp_path)``, atomically, never replacing by accident.

    Parameters
    ----------
    path : str or Path
        Destination.
    write : callable
        Writes the whole file to the path it is given (a new file, on the same file system).
    force : bool, default False
        Replace an existing file; without it an existing file is an error.
    suffixes : tuple of str, optional
        Allowed suffixes (lower case, with the dot); any when None.

    Returns
    -------
    Path
        The path written, with mode ``0666 & ~umask``.

    Raises
    ------
    InputFileError
        If the suffix is not allowed, ``path`` is a folder, or the file exists
        and ``force`` is False.
    WriteError
        If the file cannot be written (disk full, no permission...); an
        existing file is then left as it was.
    """
    path = check_output(path, force=force, suffixes=suffixes)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file is written into a private folder of its own, as a new file. Writing
        # over an empty temporary file instead (mkstemp's) truncates it, and ext4 then
        # flushes the whole file when it is closed (its guard for files replaced by
        # truncation): 0.09 s for a 190 MB features file, against 0.005 s.
        folder = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp = os.path.join(folder, path.name)
    try:
        write(tmp)
        publish(tmp, path)
    except BaseException as exc:
        if isinstance(exc, OSError) and not isinstance(exc, CjmlError):
            raise write_error(path, exc) from exc
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return path


def publish(tmp: str | Path, path: str | Path) -> None:
    """Give a finished temporary file the umask's mode and rename it to ``path``.

    ``tempfile.mkstemp`` makes files private (0600); cjml's outputs get
    ``0666 & ~umask`` like any program's.
    """
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def write_error(path, exc: OSError) -> WriteError:
    """One clear line for an OSError met while writing ``path``: what and how to fix it.

    Parameters
    ----------
    path : str or Path
        The file being written.
    exc : OSError
        What the system said.

    Returns
    -------
    WriteError
        To raise; its message names the file.
    """
    where = str(path)
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        text = (
            f"No space left on the disk while writing {where!r}. Free some space, or write "
            "to a folder on another disk."
        )
    elif code in (errno.EACCES, errno.EPERM):
        text = (
            f"Permission denied writing {where!r}. Choose a folder you can write to, or "
            "ask for write permission."
        )
    elif code == errno.EROFS:
        text = f"Cannot write {where!r}: the disk is read-only. Choose another folder."
    elif code == errno.EISDIR:
        text = f"Cannot write {where!r}: it is a folder. Name a file instead."
    else:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        text = f"Cannot write {where!r}: {reason}. Check the folder and the free space."
    error = WriteError(text)
    error.errno = code
    error.filename = where
    return error


def _umask() -> int:
    """The process's file-creation mask, read without changing it where Linux allows
    (``os.umask`` can only be read by setting it, which races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# =========================================================================== tables
def write_table(frame, path: str | Path, *, force: bool = False) -> Path:
    """Write ``frame`` to a ``.parquet`` or ``.csv`` file, atomically.

    CSV goes through :func:`write_csv` (formula-safe, UTF-8 with BOM).

    Parameters
    ----------
    frame : DataFrame or iterable of DataFrames
        The table; or its pieces, in order, all with the same columns and
        dtypes (e.g. :meth:`cjml.JourneyFeaturizer.transform_parts`). A piece
        is written on a thread while the next ones are made, at most
        ``_PIECES_WAITING`` held waiting; the file holds the same table as the
        pieces' concatenation written at once (same columns, dtypes, values,
        pandas metadata; Parquet row groups gather pieces up to
        ``_ROW_GROUP_ROWS`` rows). The index is not written. A piece must not
        be changed once yielded: its float columns are written from its own
        memory, after the next pieces are made.
    path : str or Path
        Destination; its suffix chooses the format.
    force : bool, default False
        Replace an existing file. Without it an existing file is an error, so
        nothing the user had is lost.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    InputFileError
        If the suffix is not .parquet or .csv, ``path`` is a folder, or the
        file exists and ``force`` is False.
    ValueError
        If the pieces are none, or differ in columns or dtypes (nothing is written).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(frame, path, force=force)
    if isinstance(frame, pd.DataFrame):
        return write_atomic(
            path,
            lambda tmp: _write_parquet(frame, tmp),
            force=force,
            suffixes=TABLE_SUFFIXES,
        )
    return write_atomic(
        path,
        lambda tmp: _write_parquet_pieces(frame, tmp),
        force=force,
        suffixes=TABLE_SUFFIXES,
    )


def _write_parquet(frame: pd.DataFrame, tmp: str | Path) -> None:
    """Write a whole DataFrame as pandas would, its columns without nulls required."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = _arrow_table(frame)
    # the same columns, only the fields' nullability differs: no copy
    table = pa.Table.from_arrays(table.columns, schema=_required_where_complete(table))
    pq.write_table(table, tmp, compression="zstd")


def _required_where_complete(table):
    """``table``'s schema with every column that holds no null a required field.

    A required column needs no definition levels: writing 129 features so costs a
    fifth less CPU (benchmarks/README.md, features.py, stop 61), and the file says
    which columns are complete. Readers see the same values and dtypes.
    """
    import pyarrow as pa

    fields = [
        # a column of no type (an empty object column) cannot be required
        f.with_nullable(column.null_count > 0 or pa.types.is_null(f.type))
        for f, column in zip(table.schema, table.columns, strict=True)
    ]
    return pa.schema(fields, metadata=table.schema.metadata)


def _arrow_table(frame: pd.DataFrame):
    """``frame`` as ``DataFrame.to_parquet(index=False)`` hands it to pyarrow (attrs too)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if frame.attrs:
        meta = {**(table.schema.metadata or {}), b"PANDAS_ATTRS": json.dumps(frame.attrs)}
        table = table.replace_schema_metadata(meta)
    return table


class _PieceConverter:
    """The pieces of one table to Arrow, each as :func:`_arrow_table` makes it.

    The first piece goes through pandas' conversion, which also makes the schema
    and its pandas metadata. A later piece with the same columns, dtypes and attrs
    reuses that schema, and its float columns are wrapped without a copy: pandas'
    conversion copies every float column to turn NaN into null, a quarter of the
    writer thread's time on 129 features (0.8 s at 10M events). Here the NaN stay
    in the data buffer under a validity bitmap that marks them null, which is the
    same column to Arrow and Parquet (values under a null are never read or written).
    Any other piece takes the general path; the writer then compares its schema.
    """

    def __init__(self) -> None:
        self.schema: Any = None
        self.dtypes: pd.Series | None = None
        self.attrs: dict[Hashable, Any] | None = None

    def __call__(self, frame: pd.DataFrame):
        import pyarrow as pa

        if self.schema is None:
            table = _arrow_table(frame)
            self.schema, self.dtypes, self.attrs = table.schema, frame.dtypes, frame.attrs
            return table
        assert self.dtypes is not None
        if not (frame.dtypes.equals(self.dtypes) and frame.attrs == self.attrs):
            return _arrow_table(frame)
        arrays: list[Any] = []
        try:
            for start, stop, is_float in _dtype_runs(frame.dtypes):
                if is_float:
                    # a run of float columns as one 2-D array (a view of pandas' block when
                    # the run is one block, as the featurizer's columns are): NaN found in
                    # one pass, no pandas Series made per column
                    arrays.extend(_float_arrays(frame.iloc[:, start:stop].to_numpy()))
                    continue
                for i in range(start, stop):
                    field = self.schema.field(i)
                    arrays.append(pa.array(frame.iloc[:, i], type=field.type, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            # e.g. an object column holding text in the first piece and numbers here: the
            # general path converts it as it is, and the writer refuses the other schema
            return _arrow_table(frame)
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _dtype_runs(dtypes: pd.Series) -> list[tuple[int, int, bool]]:
    """``(start, stop, is_float64)`` for each run of neighbouring columns alike in that."""
    is_float = [dtype == np.float64 for dtype in dtypes]
    runs: list[tuple[int, int, bool]] = []
    for i, flag in enumerate(is_float):
        if runs and runs[-1][2] == flag:
            runs[-1] = (runs[-1][0], i + 1, flag)
        else:
            runs.append((i, i + 1, flag))
    return runs


def _float_arrays(block: np.ndarray) -> list[Any]:
    """Each column of a 2-D float64 array as a float64 Arrow array, not copied, NaN as null
    (see :func:`_float_array`)."""
    block = np.asfortranarray(block)  # each column contiguous (a view when it already is)
    missing = np.isnan(block)
    n_missing = np.count_nonzero(missing, axis=0)
    with_missing = np.flatnonzero(n_missing)
    # the validity bitmaps of the columns with a NaN, one row each
    valid = np.packbits(~missing.T[with_missing], axis=1, bitorder="little")
    bitmap = dict(zip(with_missing.tolist(), valid, strict=True))
    return [
        _float_array(block[:, j], bitmap.get(j), int(n_missing[j])) for j in range(block.shape[1])
    ]


def _float_array(values: np.ndarray, valid: np.ndarray | None, n_missing: int):
    """A float64 Arrow array of ``values`` (contiguous; not copied), NaN as null, as pandas
    converts it: ``valid`` is the packed bitmap of the values that are not NaN (None when
    ``n_missing``, their count, is 0). The NaN stay under the null bits."""
    import pyarrow as pa

    if not n_missing:
        return pa.Array.from_buffers(pa.float64(), len(values), [None, pa.py_buffer(values)])
    return pa.Array.from_buffers(
        pa.float64(),
        len(values),
        [pa.py_buffer(valid), pa.py_buffer(values)],
        null_count=n_missing,
    )


#: Rows gathered from small pieces before a Parquet row group is written: fewer, larger
#: row groups compress better and keep the footer small, but whatever is still gathered
#: when the last piece comes is written after all the computing. At 131,072 rows a
#: million events' features (116,574 rows) were one row group written at the very end,
#: 0.3 s of a 2 s command; at 32,768 (one or two pieces) only the last is, and the file
#: is 1% larger.
_ROW_GROUP_ROWS = 32_768
#: Pieces waiting for the writer at most (memory stays bounded; computing goes on while a
#: row group is written).
_PIECES_WAITING = 4


def _repetitive(frame: pd.DataFrame) -> list[str]:
    """The columns worth dictionary-encoding: at most one distinct value in 10 in ``frame``.

    Encoding every column (pyarrow's default) hashes each value of the continuous
    ones (ages, shares) for nothing: measured on 129 features, writing only the
    repetitive ones so takes a fifth less time and gives a smaller file.
    """
    out = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(name, str) and column.nunique(dropna=False) * 10 <= len(column):
            out.append(name)
    return out


def _keys(schema) -> list[str]:
    """The columns worth min/max statistics: all but the floating-point ones.

    Readers skip row groups by their ids, dates and codes; a float column of
    features spans nearly its whole range in every row group of customers, so its
    statistics skip nothing and cost a tenth of the writer's time (129 features).
    """
    import pyarrow as pa

    return [f.name for f in schema if not pa.types.is_floating(f.type)]


def _write_parquet_pieces(frames: Iterable[pd.DataFrame], tmp: str | Path) -> None:
    """Write the pieces to one Parquet file on a thread while the next ones are made.

    The columns without nulls in the first piece are written as required fields, as
    :func:`_write_parquet` writes a whole table. A later piece with a null in one of
    them makes the file written so far be copied, row group by row group, under the
    schema with that column nullable (``widen``; rare: a feature missing for some
    customers is almost always missing in the first piece too), so that the file is
    the one the pieces' concatenation gives written at once.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    state: dict = {"tables": [], "rows": 0}
    to_arrow = _PieceConverter()

    def flush() -> None:
        if state["tables"]:
            table = pa.concat_tables(state["tables"])
            # the same columns, only the fields' nullability differs: no copy
            state["writer"].write_table(pa.Table.from_arrays(table.columns, schema=state["out"]))
            state["tables"], state["rows"] = [], 0

    def open_writer(schema, out_schema, frame: pd.DataFrame | None = None) -> None:
        if frame is not None:
            state["options"] = {
                "compression": "zstd",
                "use_dictionary": _repetitive(frame),
                "write_statistics": _keys(schema),
            }
        state["schema"], state["out"] = schema, out_schema
        state["writer"] = pq.ParquetWriter(tmp, out_schema, **state["options"])

    def widen(out_schema) -> None:
        """Copy the row groups written so far into a new file under ``out_schema``."""
        state["writer"].close()
        aside = Path(f"{tmp}.narrow")  # beside the temporary file, removed whatever happens
        os.replace(tmp, aside)
        try:
            open_writer(state["schema"], out_schema)
            with pq.ParquetFile(aside) as done:
                for g in range(done.num_row_groups):
                    group = done.read_row_group(g)
                    state["writer"].write_table(
                        pa.Table.from_arrays(group.columns, schema=out_schema)
                    )
        finally:
            aside.unlink(missing_ok=True)

    def write(piece: pd.DataFrame | pa.Table) -> None:  # on the writer thread, in turn
        # a DataFrame, or a piece the computing thread has converted already; never the
        # first, whose columns choose the dictionary encodings
        table = piece if isinstance(piece, pa.Table) else to_arrow(piece)
        if "writer" not in state:
            assert isinstance(piece, pd.DataFrame)
            open_writer(table.schema, _required_where_complete(table), piece)
        elif not table.schema.equals(state["schema"], check_metadata=True):
            raise ValueError(
                "The pieces of a table differ in columns, dtypes or metadata: "
                f"{list(state['schema'].names)[:5]}... then {list(table.schema.names)[:5]}..."
            )
        elif any(
            column.null_count and not field.nullable
            for field, column in zip(state["out"], table.columns, strict=True)
        ):
            out = pa.schema(
                [
                    f.with_nullable(f.nullable or column.null_count > 0)
                    for f, column in zip(state["out"], table.columns, strict=True)
                ],
                metadata=table.schema.metadata,
            )
            widen(out)
        state["tables"].append(table)
        state["rows"] += table.num_rows
        if state["rows"] >= _ROW_GROUP_ROWS:
            flush()

    waiting: deque = deque()
    # pyarrow encodes and compresses without the GIL: the next pieces are computed meanwhile
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cjml-write") as pool:
        try:
            empty = None
            for frame in frames:
                if not len(frame):  # an empty piece may not tell the dtypes (object ids)
                    empty = frame
                    continue
                while len(waiting) >= _PIECES_WAITING:
                    waiting.popleft().result()
                # The writer still busy with an earlier piece: it is the slower thread, so
                # this one takes over converting the piece to Arrow (a tenth of the writer's
                # work); otherwise the writer converts it and this thread computes on. Once
                # the first piece has set the schema, the converter only reads its state.
                behind = any(not future.done() for future in waiting)
                piece = to_arrow(frame) if behind and to_arrow.schema is not None else frame
                waiting.append(pool.submit(write, piece))
            if not waiting and "writer" not in state and empty is not None:
                waiting.append(pool.submit(write, empty))  # nothing but empty pieces
            waiting.append(pool.submit(flush))
            while waiting:
                waiting.popleft().result()
        finally:
            for future in waiting:
                future.cancel()
            wait(waiting)
            if "writer" in state:
                state["writer"].close()
    if "writer" not in state:
        raise ValueError("No piece of the table to write: give at least one DataFrame.")


# =========================================================================== CSV
def escape_formula(value):
    """Make one cell value safe from spreadsheet formula injection.

    Parameters
    ----------
    value : object
        A cell value. Text that begins with ``=``, ``+``, ``-``, ``@``, a tab
        or a carriage return (or a full-width ``=+-@``), also after leading
        spaces, gets a leading apostrophe; anything else, numbers included,
        is returned unchanged.

    Returns
    -------
    object
        The value, escaped when it is risky text.

    Examples
    --------
    >>> from cjml.panel import escape_formula
    >>> escape_formula("=HYPERLINK(\\"http://x\\")"), escape_formula("email"), escape_formula(-1.5)
    ('\\'=HYPERLINK("http://x")', 'email', -1.5)

    The formula becomes text, the touchpoint name and the number are untouched.
    """
    if isinstance(value, str) and _RISKY.match(value):
        return "'" + value
    return value


def unescape_formula(value):
    """Undo :func:`escape_formula`: the text cjml escaped, as it was.

    Reading back a CSV cjml wrote (a scores file given as a customer list) must
    find the same ids: ``"'=1+1"`` becomes ``"=1+1"``. Only an apostrophe followed
    by what :func:`escape_formula` escapes is removed; any other text is
    returned unchanged.

    Parameters
    ----------
    value : object
        A cell value as read.

    Returns
    -------
    object
        The value before escaping.

    Examples
    --------
    >>> from cjml.io._write import escape_formula, unescape_formula
    >>> unescape_formula(escape_formula("=1+1")), unescape_formula("'quoted"), unescape_formula(7)
    ('=1+1', "'quoted", 7)
    """
    if isinstance(value, str) and value.startswith("'") and _RISKY.match(value[1:]):
        return value[1:]
    return value


def write_csv(
    data, path, *, force: bool = False, bom: bool = True, escape: bool = True, columns=None
) -> Path:
    """Write a table to CSV for spreadsheets: formula-safe, Excel-readable, atomic.

    Every CSV cjml writes goes through here. Text cells that could run as a
    formula are escaped (see :func:`escape_formula`); numeric, boolean and
    date columns are written as they are (``-0.5`` is a number, not a
    formula). The file is UTF-8 with a byte-order mark, so Excel reads
    accented and non-Latin names correctly, with CRLF line ends (RFC 4180);
    text cells are quoted. It is written to a temporary file beside ``path``
    and renamed into place, so nobody ever sees half a file, with mode
    ``0666 & ~umask``; an existing file is refused unless ``force=True``.

    Parameters
    ----------
    data : DataFrame, pyarrow.Table, or iterable of them
        The table; or its pieces, in order, all with the same columns (they
        are written one at a time, so a large output needs little memory).
        The index of a DataFrame is not written.
    path : str or Path
        A ``.csv`` file.
    force : bool, default False
        Replace an existing file.
    bom : bool, default True
        Start the file with the UTF-8 byte-order mark (Excel needs it to detect
        UTF-8); ``False`` for tools that choke on it.
    escape : bool, default True
        Escape risky text cells. Only turn it off for files no spreadsheet
        will open.
    columns : list of str, optional
        The header when ``data`` is an iterable that may yield nothing;
        default the first piece's columns.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputFileError
        When ``path`` does not end in ``.csv``, is a folder, or exists and
        ``force`` is False.
    WriteError
        When the file cannot be written (disk full...): nothing is left behind
        and an existing file is untouched.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from cjml.panel import write_csv
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_csv(pd.DataFrame({"customer_id": ["=1+1", "c2"], "risk": [-0.5, 0.25]}),
    ...                  folder / "actions.csv")
    >>> path.read_bytes()
    b'\\xef\\xbb\\xbfcustomer_id,risk\\r\\n"\\'=1+1",-0.5\\r\\n"c2",0.25\\r\\n'

    The file starts with the byte-order mark, the formula-like id is escaped
    with an apostrophe, and the negative number is left as a number.
    """
    import pyarrow as pa

    pieces: Iterable = [data] if isinstance(data, pd.DataFrame | pa.Table) else data

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            stream = CsvStream(handle, columns, bom=bom, escape=escape)
            for piece in pieces:
                stream.write(piece)
            stream.close()

    return write_atomic(path, write, force=force, suffixes=(".csv",))


class CsvStream:
    """Writes tables to an open binary file as one CSV: header once, escaped cells.

    The one CSV encoder: :func:`write_csv` uses it for whole files, and
    streaming writers (the scoring merge) write their batches through it.

    Parameters
    ----------
    handle : binary file
        Open for writing; not closed here.
    columns : list of str, optional
        The header; default the first table's columns.
    bom : bool, default True
        Start with the UTF-8 byte-order mark.
    escape : bool, default True
        Escape formula-like text cells and column names.
    """

    def __init__(self, handle, columns=None, *, bom: bool = True, escape: bool = True):
        self.handle = handle
        self.columns = None if columns is None else [str(c) for c in columns]
        self.bom, self.escape = bom, escape
        self.started = False

    def _header(self) -> None:
        names = self.columns or []
        text = io.StringIO()
        csv.writer(text, lineterminator=_EOL).writerow(
            [escape_formula(n) if self.escape else n for n in names]
        )
        self.handle.write(((_BOM if self.bom else "") + text.getvalue()).encode("utf-8"))
        self.started = True

    def write(self, table) -> None:
        """Append a DataFrame or pyarrow Table (same columns as the header)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if isinstance(table, pd.DataFrame):
            table = _frame_to_arrow(table, escape=self.escape)
        elif self.escape:
            table = _escape_table(table)
        names = [str(n) for n in table.column_names]
        if self.columns is None:
            self.columns = names
        elif names != self.columns:
            table = table.rename_columns(names).select(self.columns)
        if not self.started:
            self._header()
        if table.num_rows:
            table = pa.table([_csv_ready(c) for c in table.columns], names=self.columns)
            pacsv.write_csv(table, self.handle, pacsv.WriteOptions(include_header=False, eol=_EOL))

    def close(self) -> None:
        """Finish the file: an empty table still gets its header."""
        if not self.started:
            self._header()


def _frame_to_arrow(frame: pd.DataFrame, *, escape: bool):
    """A DataFrame as an Arrow table for the CSV encoder, text cells escaped.

    Numbers, booleans and dates keep their types; text, categories and mixed
    columns become text (numbers inside a mixed column are written as numbers'
    text, never escaped).
    """
    import pyarrow as pa

    arrays = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        array = None
        if not pd.api.types.is_timedelta64_dtype(column):
            try:
                array = pa.array(column, from_pandas=True)
            except (
                pa.ArrowInvalid,
                pa.ArrowTypeError,
                pa.ArrowNotImplementedError,
                TypeError,
                ValueError,
            ):
                array = None
        if array is None or not _writable(array.type):
            array = pa.array(_as_text(column, escape=escape), type=pa.string())
        elif escape:
            array = _escape_array(array)
        arrays.append(array)
    return pa.table(arrays, names=[str(c) for c in frame.columns])


def _as_text(column: pd.Series, *, escape: bool) -> list:
    """A column as text cells (None when missing); text escaped, numbers as they are."""
    out: list = []
    for value in column.astype(object).tolist():
        if value is None or (
            not isinstance(value, str | list | tuple | dict | np.ndarray) and pd.isna(value)
        ):
            out.append(None)
        elif isinstance(value, str):
            out.append(escape_formula(value) if escape else value)
        elif isinstance(value, Number | np.number):
            out.append(str(value))  # a number, even negative, is never a formula
        else:
            text = str(value)
            out.append(escape_formula(text) if escape else text)
    return out


def _writable(type_) -> bool:
    """Whether Arrow's CSV encoder writes this type as the cell a reader expects."""
    import pyarrow as pa

    t = type_.value_type if pa.types.is_dictionary(type_) else type_
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_date(t)
        or pa.types.is_null(t)
        or pa.types.is_decimal(t)
    )


def _escape_table(table):
    """An Arrow table with its text columns escaped (other types are never formulas)."""
    import pyarrow as pa

    return pa.table([_escape_array(c) for c in table.columns], names=table.column_names)


def _escape_array(array):
    """Prefix ``'`` to the risky cells of a text (or dictionary-of-text) Arrow column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = array.type
    if pa.types.is_dictionary(t) and (
        pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    ):
        array = array.cast(t.value_type)
        t = array.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return array
    risky = pc.match_substring_regex(array, _RISKY_PATTERN)
    if not pc.any(risky).as_py():
        return array
    quote = pa.scalar("'", t)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, array, pa.scalar("", t)), array)


def _csv_ready(array):
    """Dictionary columns as plain text: the encoder writes the values, not the codes."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    return array
