"""Excel workbooks (``.xlsx``, ``.xlsm``): the first sheet, read as a CSV file is.

Marketers keep event exports in workbooks. The first sheet is read under the CSV rules, every
cell as text, so that one set of rules follows (the id ``"007"`` stays ``"007"``, a number
cell ``1001`` is the id ``1001``, amounts become numbers where every value reads as one):

- the first row is the header: each column named once; empty columns at the right (cells
  only formatted) are left out, and a value under no name is refused with its row;
- a date cell is its ISO text (``2024-03-01 14:30:00``), a whole number has no ``.0``, an
  error cell (``#N/A``) stays text and is refused where a number is needed, a formula gives
  the value Excel saved with it;
- empty rows at the end are not rows; an empty row among the events is a blank row, left out
  with a warning that names it (``events.xlsx line 14`` is the sheet's row 14).

It needs ``openpyxl`` (``pip install "cjml[excel]"``). The whole sheet is read at once (a
sheet holds at most 1,048,576 rows), at 7,000-10,000 rows a second, a little faster than
``pandas.read_excel`` (``python benchmarks/events.py --excel 50000``): save a large sheet as
CSV, or convert it once with
``cjml validate book.xlsx --out events.parquet``.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from cjml.exceptions import InputFileError
from cjml.io._messages import _user_stacklevel

#: Excel workbooks cjml reads (the old binary ``.xls`` is not one: save it as ``.xlsx``).
EXCEL_SUFFIXES = (".xlsx", ".xlsm")

_WHAT = "the Excel workbook"


def excel_columns(path: str | os.PathLike) -> list[str]:
    """The header of the workbook's first sheet.

    Parameters
    ----------
    path : str or path-like
        The workbook.

    Returns
    -------
    list of str
        The column names.
    """
    return list(_sheet(path).column_names)


def excel_batches(
    path: str | os.PathLike, columns: Sequence[Any] | None, batch_rows: int
) -> Iterator[pa.Table]:
    """The first sheet as Arrow tables of text, ``batch_rows`` rows at a time.

    Parameters
    ----------
    path : str or path-like
        The workbook.
    columns : sequence of str, optional
        The columns to keep, in this order; None keeps every column.
    batch_rows : int
        Rows per table.

    Yields
    ------
    pyarrow.Table
        Text columns.
    """
    table = _sheet(path)
    if columns is not None:
        table = table.select([str(c) for c in columns])
    if table.num_rows == 0:
        yield table
    for start in range(0, table.num_rows, batch_rows):
        # the length clamped: Arrow does not clamp it for a table of no column
        yield table.slice(start, min(batch_rows, table.num_rows - start))


_SHEETS: dict[tuple, pa.Table] = {}


def excel_rows(path: str | os.PathLike) -> int:
    """The rows of the first sheet, under its header (the sheet is read, and kept)."""
    return _sheet(path).num_rows


def _sheet(path: str | os.PathLike) -> pa.Table:
    """The first sheet, read once per file version (a command asks for it more than once)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _SHEETS:
        _SHEETS.clear()  # one workbook at a time: a sheet can be large
        _SHEETS[key] = _read_sheet(path)
    return _SHEETS[key]


def _read_sheet(path: str | os.PathLike) -> pa.Table:
    name = str(path)
    try:
        import openpyxl
    except ImportError:
        raise InputFileError(
            f"Cannot read {_WHAT} {name!r}: reading Excel workbooks needs openpyxl. Fix: pip "
            'install "cjml[excel]" (or openpyxl), or save the sheet as CSV (in Excel: Save As > '
            "CSV UTF-8 (Comma delimited))."
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types; none must leak
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(
            f"Cannot read {_WHAT} {name!r}: {why}. Fix: open it in Excel and save it again as "
            ".xlsx (not protected by a password), or save the sheet as CSV."
        ) from None
    try:
        sheet = book.worksheets[0]
        if len(book.sheetnames) > 1:
            others = ", ".join(repr(s) for s in book.sheetnames[1:6])
            warnings.warn(
                f"{_WHAT} {os.path.basename(name)!r} has {len(book.sheetnames)} sheets; cjml "
                f"read the first, {book.sheetnames[0]!r} (the others: {others}). Fix: to read "
                "another, move it first or save it as a workbook or CSV file of its own.",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(c is None for c in header):
            raise InputFileError(
                f"Cannot read {_WHAT} {name!r}: its first sheet has no header in its first "
                "row. Fix: put the column names (customer_id, timestamp, touchpoint...) in "
                "row 1."
            )
        names = _names(name, header)
        width = len(names)
        cells: list[list[str | None]] = [[] for _ in range(width)]
        pending = 0  # empty rows not yet kept: rows only if events follow them
        for number, row in enumerate(rows, 2):
            texts = [_text(v) for v in row]
            if any(t is not None for t in texts[width:]):
                at = width + next(i for i, t in enumerate(texts[width:]) if t is not None)
                if width == 1 and not cells[0]:  # a title above the table, not its header
                    raise InputFileError(
                        f"Cannot read {_WHAT} {name!r}: row 1 holds one cell ({names[0]!r}) "
                        f"and row {number} more: the table seems to start below a title. "
                        "Fix: delete the rows above the column names, so that they are row 1."
                    )
                raise InputFileError(
                    f"Cannot read {_WHAT} {name!r}: row {number} has a value in column "
                    f"{_letter(at)}, which has no name in row 1 ({texts[at]!r}). Fix: name "
                    "that column, or clear the cell."
                )
            if all(t is None for t in texts[:width]):
                pending += 1
                continue
            for _ in range(pending):
                for column in cells:
                    column.append(None)
            pending = 0
            texts += [None] * (width - len(texts))
            for column, text in zip(cells, texts[:width], strict=True):
                column.append(text)
    finally:
        book.close()
    return pa.table({n: pa.array(c, type=pa.string()) for n, c in zip(names, cells, strict=True)})


def _names(name: str, header: tuple) -> list[str]:
    """The header row's names, without the empty cells at its right end."""
    texts = [_text(v) for v in header]
    while texts and texts[-1] is None:
        texts.pop()
    for i, t in enumerate(texts):
        if t is None or not t.strip():
            raise InputFileError(
                f"Cannot read {_WHAT} {name!r}: column {_letter(i)} has no name in row 1. "
                "Fix: name it, or delete the column."
            )
    seen: set[str] = set()
    for t in texts:
        if t in seen:
            raise InputFileError(
                f"Cannot read {_WHAT} {name!r}: the column name {t!r} is written twice in "
                "row 1. Fix: rename one of them."
            )
        seen.add(str(t))
    return [str(t) for t in texts]


def _text(value: Any) -> str | None:
    """A cell as a CSV file would hold it."""
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return value if value != "" else None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _letter(index: int) -> str:
    """The spreadsheet's name of a 0-based column (0 is A, 26 is AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("A") + rest) + out
    return out
