"""Opening the files cjml reads, and the one set of CSV rules every reader applies.

Events, customer lists, journey maps and rules files all come through here, so
that a file that is not what its name says (a gzip archive named ``.csv``, a
PNG given as ``--rules``), cannot be opened (permission denied, a folder) or
breaks the CSV rules is refused with the same one-line message whichever
command reads it.

The CSV rules (every command reads CSV through :func:`csv_batches`):

- UTF-8 text (a byte-order mark is fine), or UTF-16 text with its byte-order
  mark (Excel's "Unicode Text"), or text in the encoding the user names
  (``encoding='cp1252'``, ``--encoding cp1252``): a file that is not UTF-8 is
  refused with its first such byte and, when it reads as Windows-1252, that
  line as it would read; one header line, fields separated by
  commas, or by ';', tabs or '|' when the header holds no comma but one of those
  (what spreadsheets in many countries export); a file separated by ';', or by
  tabs or '|' with decimal commas and no decimal point in its first 200 rows,
  has its numbers read with a decimal comma ('12,50', '1.234,50'; the customer
  id stays as written), and where some columns show decimal commas and others
  decimal points, each column is read as its sample writes it; elsewhere the
  amount and score columns read '1,234.50'
  (commas between thousands before a decimal point) as 1234.5, while '1,234'
  alone, which reads two ways, is refused;
  compressed files (gzip, bz2, xz, zstd, a zip holding one CSV file) are
  recognised by their content, whatever their name;
- every column name once: a repeated name is refused, never renamed;
- every line has as many fields as the header: a short or long line is refused
  with the file and its line number;
- missing values are empty cells and pandas' default markers (``NA``,
  ``null``, ``None``, ``NaN``...), except in the customer id column, where
  only an empty cell is missing: ``"NA"`` is an id unless ``missing_ids``
  says otherwise.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import lzma
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import pyarrow as pa

from cjml.exceptions import InputFileError

__all__ = [
    "NA_MARKERS",
    "NA_STRINGS",
    "SEPARATOR_WORDS",
    "ENCODING_WORDS",
    "CsvHeader",
    "CsvRowCheck",
    "csv_batches",
    "csv_header",
    "encoding_error",
    "encoding_name",
    "file_kind",
    "not_this",
    "open_csv",
    "open_file",
    "parse_missing_ids",
    "read_head",
    "read_text_file",
    "typed_like_pandas",
]

#: pandas' default missing-value markers: missing in every CSV column but the customer id.
NA_STRINGS: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

# The markers above that mean "missing" outside the customer id, for Arrow's is_in.
NA_MARKERS = pa.array([v for v in NA_STRINGS if v], type=pa.string())

# First bytes of the formats people give by mistake, and what to call them.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"%PDF", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_NAMES = {
    "gzip": "a gzip archive",
    "bz2": "a bz2 archive",
    "xz": "an xz archive",
    "zstd": "a zstd archive",
    "zip": "a zip archive",
    "parquet": "a Parquet file",
    "arrow": "an Arrow/Feather file",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "pdf": "a PDF document",
    "ole": "an old Microsoft Office file (e.g. an Excel .xls workbook)",
    "sqlite": "an SQLite database",
    "utf-16": "UTF-16 text",
    "xlsx": "an Excel workbook",
    "binary": "a binary file",
    "text": "a text file",
}
_COMPRESSED = ("gzip", "bz2", "xz", "zstd", "zip")
# Separators besides the comma, tried in this order when the header holds no comma.
_SEPARATORS = (";", "\t", "|")

# Numbers written with a decimal comma, cell by cell: '12,50', '-3,5', and with dots
# between thousands '1.234,50' or '12.500' (the dots only where the comma is the decimal).
_COMMA_DECIMAL = r"[-+]?\d+,\d+"
_DOT_GROUPED = r"[-+]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?"
# ... and what says the file's decimal is a point: '3.5', '1,234.50'
_POINT_DECIMAL = r"[-+]?\d+\.\d{1,2}|[-+]?\d+\.\d{4,}|[-+]?0\.\d+|[-+]?\d{1,3}(?:,\d{3})+\.\d+"
# a comma before 1-2 or 4+ digits, or a dot between thousands before it, is a
# decimal comma for sure ('5,401' reads either way)
_DECISIVE_COMMA = r"[-+]?\d+,(?:\d{1,2}|\d{4,})|[-+]?[1-9]\d{0,2}(?:\.\d{3})+,\d+"


#: Each separator in words: "separated by ';'", "separated by tabs".
SEPARATOR_WORDS = {",": "commas", ";": "';'", "\t": "tabs", "|": "'|'"}
_SAID = {",": "a comma", ";": "a ';'", "\t": "a tab", "|": "a '|'"}
_EXAMPLE = {
    ",": '"Paris, France"',
    ";": '"Paris; France"',
    "\t": '"Paris<tab>France"',
    "|": '"A|B"',
}


class CsvHeader(NamedTuple):
    """What :func:`csv_header` learns from the top of a CSV file."""

    names: list[str]
    """The column names, as written."""
    header_lines: int
    """Physical lines up to and including the header (blank lines before it count)."""
    sep: str = ","
    """The field separator."""
    comma_columns: frozenset[str] = frozenset()
    """The columns whose numbers are read with a decimal comma ('12,50')."""
    encoding: str = "utf-8"
    """The text encoding, as Python names it (``"utf-8"``, ``"utf-16"``, ``"cp1252"``)."""
    point_columns: frozenset[str] = frozenset()
    """In a file with decimal commas, the columns whose sample shows a decimal point
    instead ('4.5'): read with the point."""

    @property
    def decimal_comma(self) -> bool:
        """Whether some numbers are written with a decimal comma ('12,50')."""
        return bool(self.comma_columns)


#: Encodings in words, for messages and validate's first line.
ENCODING_WORDS = {
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "cp1252": "Windows-1252 (cp1252)",
    "iso8859-1": "Latin-1 (ISO 8859-1)",
    "iso8859-15": "Latin-9 (ISO 8859-15)",
    "cp1250": "Windows-1250 (cp1250)",
    "cp1251": "Windows-1251 (cp1251)",
}


def encoding_name(encoding: str | None) -> str | None:
    """The Python name of a text encoding given by the user (``"CP-1252"`` -> ``"cp1252"``).

    Parameters
    ----------
    encoding : str or None
        An encoding name Python knows (``cp1252``, ``latin-1``, ``utf-16``...),
        or None (UTF-8, or UTF-16 when the file starts with its byte-order mark).

    Returns
    -------
    str or None
        The canonical name, None for None.

    Raises
    ------
    ValueError
        When Python knows no such text encoding.
    """
    if encoding is None:
        return None
    info = None
    # as given, then without the dash Python does not know in "CP-1252" or "Windows 1252"
    for name in dict.fromkeys([str(encoding).strip(), re.sub(r"[-_ ](?=\d)", "", str(encoding))]):
        try:
            info = codecs.lookup(name)
            break
        except LookupError:
            continue
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ValueError(
            f"Unknown text encoding {encoding!r} (encoding={encoding!r}, --encoding "
            f"{encoding}). Fix: name the encoding the file was saved in, e.g. cp1252 "
            "(Excel on Windows), latin-1, utf-16 or utf-8."
        )
    return "utf-8" if info.name == "utf-8-sig" else info.name


def _words(encoding: str) -> str:
    return ENCODING_WORDS.get(encoding, encoding)


def _wide(encoding: str) -> bool:
    """Whether the encoding writes some ASCII characters with NUL bytes (UTF-16, UTF-32)."""
    return encoding.startswith(("utf-16", "utf-32"))


def _decimal_columns(
    sep: str, names: list[str], rows: Iterable[list[str]]
) -> tuple[frozenset[str], frozenset[str]]:
    """The columns read with a decimal comma, and in such a file those read with a point.

    From a sample of rows. Never in a comma-separated file (a comma inside a number is
    quoted there and is a thousands separator as often as not). Otherwise a column
    whose sample shows a decimal point ('4.5') keeps it; one that shows a decimal
    comma for sure ('12,50') and no point is read with the comma; the others (whole
    numbers, text, '1,234') follow the file: the comma when no column shows a point
    and some column shows a decimal comma for sure or the file is separated by ';'
    (what spreadsheets write where the comma is the decimal).
    """
    if sep == ",":
        return frozenset(), frozenset()
    point: set[int] = set()
    decisive: set[int] = set()
    for row in rows:
        for i, cell in enumerate(row[: len(names)]):
            if i in point:
                continue
            cell = cell.strip()
            if re.fullmatch(_POINT_DECIMAL, cell):
                point.add(i)
            elif re.fullmatch(_DECISIVE_COMMA, cell):
                decisive.add(i)
    by_default = not point and (bool(decisive) or sep == ";")
    comma = {
        name for i, name in enumerate(names) if i not in point and (i in decisive or by_default)
    }
    shown_point = {names[i] for i in point} if comma else set()
    return frozenset(comma), frozenset(shown_point)


def syntax_error_text(text: str, exc: Exception) -> str:
    """A TOML or JSON syntax error with the line it points at, and a hint for the usual slip.

    ``exc``: ``tomllib.TOMLDecodeError`` (its message ends "(at line L, column C)") or
    ``json.JSONDecodeError`` (``lineno``, ``colno``).
    """
    where = re.search(r"at line (\d+), column (\d+)", str(exc))
    line, column = (
        (int(where.group(1)), int(where.group(2)))
        if where
        else (getattr(exc, "lineno", None), getattr(exc, "colno", None))
    )
    lines = text.splitlines()
    if line is None or column is None or not 1 <= line <= len(lines):
        return str(exc)
    shown = lines[line - 1]
    out = f"{exc}:\n  {shown}\n  {' ' * (column - 1)}^"
    value = shown[column - 1 :].strip()
    if re.fullmatch(r"[A-Za-z_][\w ./-]*", value):
        # 'actionable = yes', 'channel = online': TOML's text is quoted, its booleans lower case
        out += f'\n(text is written in quotes, "{value}", and true or false in lower case)'
    return out


# --------------------------------------------------------------------------- any file
def open_file(path: str | os.PathLike, what: str) -> IO[bytes]:
    """Open a file for reading in binary, or refuse it in one line.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str
        What the file is for the user, e.g. ``"the CSV file"``, ``"the rules
        file"``; it starts the message.

    Returns
    -------
    file object
        Opened in binary mode.

    Raises
    ------
    InputFileError
        When the file does not exist, is a folder, or cannot be read
        (permission denied or another system error), naming the file.
    """
    name = str(path)
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise InputFileError(
            f"Cannot read {what} {name!r}: no such file. Fix: check the path."
        ) from None
    except IsADirectoryError:
        raise InputFileError(
            f"Cannot read {what} {name!r}: it is a folder, not a file. Fix: "
            "give the path of the file inside it."
        ) from None
    except PermissionError:
        raise InputFileError(
            f"Cannot read {what} {name!r}: permission denied. Fix: make the "
            f"file readable by this user (ls -l {name}; chmod u+r), or copy it "
            "somewhere readable."
        ) from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise InputFileError(
            f"Cannot read {what} {name!r}: {why}. Fix: check that the file is there and readable."
        ) from None


def file_kind(head: bytes) -> str | None:
    """What the first bytes of a file say it is (``"gzip"``, ``"png"``...); None for text.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (a few kilobytes).

    Returns
    -------
    str or None
        A key of the known signatures, ``"binary"`` for other content with NUL
        bytes, or None when it may be text.
    """
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if b"\x00" in head[:4096]:
        return "binary"
    return None


def read_head(path: str | os.PathLike, what: str, size: int = 8192) -> bytes:
    """The first ``size`` bytes of a file (all of it for -1), or a one-line refusal."""
    with open_file(path, what) as f:
        try:
            return f.read(size)
        except OSError as exc:  # a folder on some systems, a device...
            raise InputFileError(
                f"Cannot read {what} {str(path)!r}: {exc.strerror or type(exc).__name__}."
            ) from None


def not_this(path: str | os.PathLike, what: str, kind: str, fix: str) -> InputFileError:
    return InputFileError(
        f"Cannot read {what} {str(path)!r}: it is {_NAMES.get(kind, kind)}, not {fix}"
    )


def read_text_file(path: str | os.PathLike, what: str, expected: str) -> str:
    """The UTF-8 text of a small file (a journey map, rules), or a one-line refusal.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str
        What it is for the user (``"the rules file"``).
    expected : str
        The format expected, for the message (``"TOML"``).

    Returns
    -------
    str
        The text, without a byte-order mark.

    Raises
    ------
    InputFileError
        When it cannot be opened, is a binary file (an image, an archive...)
        or is not UTF-8 text; the message names the file, what it is and the
        line of the first byte that is not UTF-8.
    """
    # one read: a pipe (``--rules <(...)``, /dev/stdin) cannot be opened twice, and a second
    # open found it empty, so its rules were silently the defaults
    data = read_head(path, what, -1)
    kind = file_kind(data[:8192])
    if kind is not None:
        raise not_this(
            path, what, kind, f"a {expected} text file. Fix: give the {expected} file itself."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(
            f"Cannot read {what} {str(path)!r}: it is not UTF-8 text (byte "
            f"0x{data[exc.start]:02x} on line {line}). Fix: save it as UTF-8."
        ) from None


def parse_missing_ids(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The customer ids that mean "missing", from ``"NA,null"`` or a list.

    Parameters
    ----------
    value : str, iterable of str or None
        Comma-separated text, a sequence of strings, or None (only empty ids
        are missing).

    Returns
    -------
    tuple of str
        The markers, stripped, without repeats.
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(
                f"missing_ids must be strings (the texts that mean a missing id), "
                f"got {item!r}; e.g. missing_ids=['NA', 'null']."
            )
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return tuple(out)


# --------------------------------------------------------------------------- CSV
def open_csv(
    path: str | os.PathLike,
    what: str = "the CSV file",
    encoding: str | None = None,
    form: str = "CSV",
) -> Any:
    """The decompressed bytes of a CSV file, as a binary stream pandas and Arrow read.

    Compression is recognised from the content (gzip, bz2, xz, zstd, or a zip
    holding one file), whatever the name says.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str, default "the CSV file"
        What it is for the user.
    encoding : str, optional
        The encoding the user gave: UTF-16 or UTF-32 text without a byte-order
        mark holds NUL bytes, which are not a binary file then.
    form : str, default "CSV"
        The text format expected, as messages name it ("JSON Lines" for
        :mod:`cjml.io._json`, which opens its files here too).

    Returns
    -------
    binary stream
        Close it after use (a context manager).

    Raises
    ------
    InputFileError
        When it cannot be opened, or is not CSV text (an image, a Parquet
        file, an Excel workbook...), saying what it is and how to turn it into
        CSV.
    """
    import pyarrow as pa

    head = read_head(path, what)
    kind = file_kind(head)
    name = str(path)
    if kind in ("gzip", "bz2", "zstd"):
        try:
            return pa.input_stream(
                name, compression={"gzip": "gzip", "bz2": "bz2", "zstd": "zstd"}[kind]
            )
        except (OSError, pa.ArrowException) as exc:
            raise InputFileError(
                f"Cannot read {what} {name!r} ({_NAMES[kind]}): "
                f"{_first_line(exc)}. Fix: unpack it and give the {form} file."
            ) from None
    if kind == "xz":
        return lzma.open(name)
    if kind == "zip":
        return _zip_member(name, what, form)
    if kind == "parquet":
        raise not_this(
            path,
            what,
            kind,
            f"{form} text. Fix: name it .parquet (cjml reads Parquet files by their suffix).",
        )
    if kind == "utf-16" or (kind == "binary" and _wide(encoding or "")):
        return pa.input_stream(name)  # text all the same, read in its encoding
    if kind is not None:
        raise not_this(path, what, kind, f"{form} text. Fix: export the data as a {form} file.")
    return pa.input_stream(name)


def _zip_member(name: str, what: str, form: str = "CSV") -> IO[bytes]:
    try:
        archive = zipfile.ZipFile(name)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(
            f"Cannot read {what} {name!r}: it is a damaged zip archive "
            f"({_first_line(exc)}). Fix: unpack it and give the {form} file."
        ) from None
    members = [
        m for m in archive.namelist() if not m.endswith("/") and not m.startswith("__MACOSX/")
    ]
    if any(m.startswith("xl/") for m in members):
        archive.close()
        raise not_this(
            name,
            what,
            "xlsx",
            "CSV text. Fix: export the sheet as CSV (in Excel: "
            "Save As > CSV UTF-8 (Comma delimited)).",
        )
    if len(members) != 1:
        archive.close()
        shown = members[:5]
        raise InputFileError(
            f"Cannot read {what} {name!r}: it is a zip archive holding "
            f"{len(members)} files {shown!r}, not one {form} file. Fix: unpack it "
            f"and give the {form} file (or a folder of {form} files)."
        )
    return archive.open(members[0])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _text(stream: IO[bytes], encoding: str = "utf-8") -> io.TextIOWrapper:
    return io.TextIOWrapper(
        stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    )


def _file_encoding(path: str | os.PathLike, what: str, given: str | None) -> str:
    """The encoding a CSV file is read in: its byte-order mark's, else the one given, else
    UTF-8. A mark is certain, so it wins over ``given``."""
    with open_csv(path, what, given) as raw:
        head = raw.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not (given or "").startswith(
        "utf-32"
    ):
        return "utf-16"
    return given or "utf-8"


def _decode_problem(path: str | os.PathLike, what: str, encoding: str) -> tuple[str, bytes] | None:
    """Where the file stops being text in ``encoding`` (``"byte 0xe9 on line 5"``) and that
    line's bytes, or None."""
    if _wide(encoding):  # lines cannot be cut at a newline byte there
        try:
            with open_csv(path, what, encoding) as raw, _text(raw, encoding) as text:
                for _ in text:
                    pass
        except UnicodeDecodeError:
            return "somewhere", b""
        return None
    line, carry = 1, b""
    with open_csv(path, what, encoding) as raw:
        while True:
            block = raw.read(1 << 20)
            data = carry + block
            # these encodings never use the newline byte inside a character: cut after the last
            cut = data.rfind(b"\n") + 1 if block else len(data)
            part, carry = data[:cut], data[cut:]
            try:
                part.decode(encoding)
            except UnicodeDecodeError as exc:
                at = line + part[: exc.start].count(b"\n")
                start = part.rfind(b"\n", 0, exc.start) + 1
                end = part.find(b"\n", exc.start)
                shown = part[start : end if end >= 0 else len(part)].rstrip(b"\r")
                return f"byte 0x{part[exc.start]:02x} on line {at}", shown
            line += part.count(b"\n")
            if not block:
                return None


def encoding_error(path: str | os.PathLike, what: str, encoding: str = "utf-8") -> InputFileError:
    """The one-line refusal of a file that is not text in ``encoding``: the first byte that
    is not, and the fix. A UTF-8 reading that fails on a line that reads as Windows-1252
    (what Excel writes on Windows) shows that line so read, and the option that reads it."""
    found = _decode_problem(path, what, encoding)
    where, line = found if found is not None else ("somewhere", b"")
    name = str(path)
    if encoding != "utf-8":
        return InputFileError(
            f"Cannot read {what} {name!r}: it is not {_words(encoding)} text ({where}). "
            "Fix: give the encoding it was saved in (encoding='...', --encoding NAME), "
            "or save it as UTF-8."
        )
    try:
        as_1252 = line.decode("cp1252") if line else None
    except UnicodeDecodeError:
        as_1252 = None
    if as_1252 is not None:
        shown = as_1252 if len(as_1252) <= 80 else as_1252[:77] + "..."
        return InputFileError(
            f"Cannot read {what} {name!r}: it is not UTF-8 text ({where}). Fix: if it was "
            "saved as Windows-1252 (Excel's CSV on Windows), read it so "
            f"(encoding='cp1252', --encoding cp1252): that line then reads {shown!r}; "
            "or save it as UTF-8 (in Excel: Save As > CSV UTF-8 (Comma delimited))."
        )
    return InputFileError(
        f"Cannot read {what} {name!r}: it is not UTF-8 text ({where}). Fix: save it as "
        "UTF-8 (in Excel: Save As > CSV UTF-8 (Comma delimited)), or give the encoding "
        "it was saved in (encoding='...', --encoding NAME)."
    )


def csv_header(
    path: str | os.PathLike, what: str = "the CSV file", encoding: str | None = None
) -> CsvHeader:
    """The column names of a CSV file and how it is written, checked against the CSV rules.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str, default "the CSV file"
        What it is for the user.
    encoding : str, optional
        The text encoding the user gave (see :func:`encoding_name`); None for
        UTF-8. A byte-order mark wins over it.

    Returns
    -------
    CsvHeader
        The column names as written, the physical lines up to and including the
        header (to skip when reading the rows), the field separator, whether
        numbers use a decimal comma, and the encoding read.

    Raises
    ------
    InputFileError
        When the file cannot be read as CSV text, has no header (empty), or
        names a column twice.
    """
    name = str(path)
    sep = ","
    enc = _file_encoding(path, what, encoding_name(encoding))
    with open_csv(path, what, enc) as raw, _text(raw, enc) as text:
        first = _header_row(csv.reader(text), name, what, enc)
    if first is not None and len(first[0]) == 1:
        # no comma in the header: a file separated by ';', tabs or '|'
        sep = next((c for c in _SEPARATORS if len(first[0][0].split(c)) > 1), ",")
    sample: list[list[str]] = []
    with open_csv(path, what, enc) as raw, _text(raw, enc) as text:
        reader = csv.reader(text, delimiter=sep)
        found = _header_row(reader, name, what, enc)
        if sep != ",":  # the decimal: look at some rows
            try:
                for row, _ in zip(reader, range(200), strict=False):
                    sample.append(row)
            except (UnicodeDecodeError, csv.Error):
                pass
    if found is None:
        raise InputFileError(
            f"{what[0].upper()}{what[1:]} {name!r} is empty: no header and no "
            "rows. Fix: export it with a header line (customer_id,timestamp,"
            "touchpoint,...) and one row per line."
        )
    names, lines = found
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        where = ", ".join(
            f"{n!r} (columns {', '.join(str(i + 1) for i, m in enumerate(names) if m == n)})"
            for n in repeated
        )
        raise InputFileError(
            f"The header of {what} {name!r} names a column more than once: "
            f"{where}. Fix: rename or remove the repeated column so each name "
            "is unique."
        )
    comma, point = _decimal_columns(sep, names, sample)
    return CsvHeader(names, lines, sep, comma, enc, point)


def _header_row(
    reader: Any, name: str, what: str, encoding: str = "utf-8"
) -> tuple[list[str], int] | None:
    """The first non-empty row of a ``csv.reader`` and the lines it took; None when empty."""
    try:
        names = next((row for row in reader if row), None)
    except UnicodeDecodeError:
        raise encoding_error(name, what, encoding) from None
    except csv.Error as exc:
        raise InputFileError(
            f"Cannot read the header of {what} {name!r}: {exc}. Fix: check "
            "the quoting of the first line."
        ) from None
    return None if names is None else (names, reader.line_num)


class CsvRowCheck:
    """The rule "every line has as many fields as the header", for Arrow's CSV reader.

    Pass :meth:`parse_options` to ``pyarrow.csv``; when reading fails, call
    :meth:`error` with the exception for the one-line message (the file, the
    line number, the fields found and expected).

    Parameters
    ----------
    path : str or path-like
        The file.
    names : sequence of str
        Its header.
    header_lines : int
        Physical lines up to and including the header.
    what : str, default "the CSV file"
        What it is for the user.
    sep : str, default ","
        The field separator.
    encoding : str, default "utf-8"
        The text encoding (:attr:`CsvHeader.encoding`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        names: Sequence[str],
        header_lines: int,
        what: str = "the CSV file",
        sep: str = ",",
        encoding: str = "utf-8",
    ):
        self.path = path
        self.names = list(names)
        self.header_lines = header_lines
        self.what = what
        self.sep = sep
        self.encoding = encoding
        self.bad: tuple[int, str] | None = None

    def _on_invalid(self, row: Any) -> str:
        if self.bad is None:
            self.bad = (int(row.actual_columns), str(row.text))
        return "error"

    def read_options(self, block_size: int = 16 << 20) -> Any:
        """Arrow read options: our column names, the header lines skipped."""
        import pyarrow.csv as pacsv

        return pacsv.ReadOptions(
            column_names=self.names,
            skip_rows=self.header_lines,
            block_size=block_size,
            **({} if self.encoding == "utf-8" else {"encoding": self.encoding}),
        )

    def parse_options(self) -> Any:
        """Arrow parse options: the separator, quoted newlines allowed, bad rows recorded."""
        import pyarrow.csv as pacsv

        return pacsv.ParseOptions(
            delimiter=self.sep, newlines_in_values=True, invalid_row_handler=self._on_invalid
        )

    def error(self, exc: BaseException) -> InputFileError:
        """The one-line message for a failed read (a short or long line, not UTF-8...).

        Parameters
        ----------
        exc : Exception
            What the reader raised.

        Returns
        -------
        InputFileError
            The message: the file, the line, what is wrong and the fix.
        """
        name = str(self.path)
        text = str(exc)
        if self.bad is not None or "columns, got" in text:
            n = len(self.names)
            line, fields, shown, quote = self._first_bad_line()
            if quote:
                return InputFileError(
                    f'Line {line} of {self.what} {name!r} opens a quote (") that is never '
                    f"closed: {shown!r}. Fix: close the quote, and write a quote inside a "
                    'quoted value twice ("").'
                )
            where = f"Line {line}" if line is not None else "A line"
            if n == 1 and fields > 1:  # a title or notes above the real header
                return InputFileError(
                    f"{where} of {self.what} {name!r} has {fields} fields where the header "
                    f"(line {self.header_lines}: {self.names[0]!r}) has 1: {shown!r}. Fix: if "
                    "the lines above it are a title or notes, remove them so that the file "
                    "starts with its header line."
                )
            return InputFileError(
                f"{where} of {self.what} {name!r} has {fields} field{'s' * (fields != 1)} where "
                f"the header has {n}: {shown!r}. Fix: give every line {n} fields (quote values "
                f"that hold {_SAID[self.sep]}, e.g. {_EXAMPLE[self.sep]}), or remove the line."
            )
        if "UTF8" in text or "UTF-8" in text or isinstance(exc, UnicodeDecodeError):
            return encoding_error(self.path, self.what, self.encoding)
        return InputFileError(
            f"Cannot read {self.what} {name!r}: {_first_line(exc)}. Fix: check "
            "the quoting (a quote opened and never closed?)."
        )

    def _first_bad_line(self) -> tuple[int | None, int, str, bool]:
        """The first line with a wrong number of fields, found again with Python's csv:
        its number, its fields, its text, and whether it opens a quote never closed."""
        n = len(self.names)
        found = None
        try:
            with (
                open_csv(self.path, self.what, self.encoding) as raw,
                _text(raw, self.encoding) as text,
            ):
                reader = csv.reader(text, delimiter=self.sep)
                for _ in range(self.header_lines):
                    if next(reader, None) is None:
                        break
                while True:
                    start = reader.line_num + 1
                    try:
                        row = next(reader, None)
                    except csv.Error:  # a field past the size limit: a quote left open
                        found = (start, 1, True)
                        break
                    if row is None:
                        break
                    if row and len(row) != n:
                        at_end = next(reader, None) is None
                        quote = at_end and "\n" in row[-1]
                        found = (start, len(row), quote)
                        break
            if found is not None:
                with (
                    open_csv(self.path, self.what, self.encoding) as raw,
                    _text(raw, self.encoding) as text,
                ):
                    line = next(itertools.islice(text, found[0] - 1, None), "").rstrip("\r\n")
                shown = line if len(line) <= 80 else line[:77] + "..."
                return found[0], found[1], shown, found[2]
        except (csv.Error, UnicodeDecodeError):
            pass
        fields, shown = self.bad if self.bad is not None else (0, "")
        shown = shown.rstrip("\r\n")
        return None, fields, shown if len(shown) <= 80 else shown[:77] + "...", False


#: ``batch_rows`` from which :func:`csv_batches` reads the whole file as one table.
WHOLE_FILE = 1 << 62


def csv_batches(
    path: str,
    read_columns: list,
    batch_rows: int,
    what: str = "the CSV file",
    block_size: int | None = None,
    as_written: Iterable[str] = (),
    encoding: str | None = None,
) -> Iterator[pa.Table]:
    """A CSV file in batches, every column as text, under the CSV rules above.

    The one CSV parser of cjml: ``read_events``, ``score`` and customer lists all
    read through it. Compressed files are recognised by content; every line must
    have as many fields as the header (else its line number is named); only empty
    cells are missing here (the other markers where the column is known); in each
    column that writes numbers with a decimal comma, each cell written as such a
    number is given with a decimal point ('1.234,50' as '1234.50').

    Parameters
    ----------
    path : str
        The file.
    read_columns : list
        The columns to read (names in the header).
    batch_rows : int
        Rows per batch (about: whole blocks of the file are read); :data:`WHOLE_FILE` for
        one table of the whole file, read on every core.
    what : str, default "the CSV file"
        What it is for the user, in messages ("the customer list").
    block_size : int, optional
        Bytes of CSV read at a time, to make the first batch come sooner when
        only the start of a file is looked at.
    as_written : iterable of str, default ()
        Columns whose text is never turned into a decimal point (the customer id).
    encoding : str, optional
        The text encoding the user gave; None for UTF-8 (or UTF-16 with its
        byte-order mark).

    Yields
    ------
    pyarrow.Table
        The next rows, one text column per name in ``read_columns``.
    """
    import pyarrow.csv as pacsv

    header = csv_header(Path(path), what, encoding)
    rows = CsvRowCheck(path, header.names, header.header_lines, what, header.sep, header.encoding)
    wanted = [str(c) for c in read_columns]
    keep = {str(c) for c in as_written}
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in wanted},
        include_columns=wanted,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )

    def table(batches: list | pa.Table) -> pa.Table:
        out = batches if isinstance(batches, pa.Table) else pa.Table.from_batches(batches)
        if not header.decimal_comma:
            return out
        return pa.table(
            {
                c: _decimal_point(out.column(c))
                if c in header.comma_columns and c not in keep
                else out.column(c)
                for c in out.column_names
            }
        )

    try:
        with open_csv(path, what, header.encoding) as raw:
            if batch_rows >= WHOLE_FILE:  # one table: Arrow parses its blocks on every core
                whole = pacsv.read_csv(
                    raw,
                    read_options=rows.read_options(),
                    parse_options=rows.parse_options(),
                    convert_options=convert,
                )
                if whole.num_rows:
                    yield table(whole)
                return
            reader = pacsv.open_csv(
                raw,
                read_options=(
                    rows.read_options() if block_size is None else rows.read_options(block_size)
                ),
                parse_options=rows.parse_options(),
                convert_options=convert,
            )
            pending, count = [], 0
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                if count >= batch_rows:
                    yield table(pending)
                    pending, count = [], 0
            if pending:
                yield table(pending)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise rows.error(exc) from None
    except OSError as exc:
        raise InputFileError(f"Cannot read {what} {path!r}: {_first_line(exc)}.") from None


def _decimal_point(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells written as numbers with a decimal comma, written with a decimal point
    ('12,50' as '12.50', '1.234,50' as '1234.50'); every other cell as it is."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(column)
    comma = pc.match_substring_regex(trimmed, f"^(?:{_COMMA_DECIMAL})$")
    grouped = pc.match_substring_regex(trimmed, f"^(?:{_DOT_GROUPED})$")
    if not (pc.any(comma).as_py() or pc.any(grouped).as_py()):
        return column
    ungrouped = pc.if_else(grouped, pc.replace_substring(trimmed, ".", ""), trimmed)
    pointed = pc.replace_substring(ungrouped, ",", ".")
    return pc.if_else(pc.or_kleene(comma, grouped), pointed, column)


#: Values :func:`cast_or_none` tries alone before the whole column.
_PROBE_VALUES = 1024


def cast_or_none(values: pa.Array | pa.ChunkedArray, target: pa.DataType) -> Any:
    """``values`` cast to ``target``, or None when some value does not read as one.

    A cast that fails costs Arrow about as much as parsing every value, wherever the
    failing one is (0.5-1 s for a million): the first values are tried alone first, so
    that a column of another kind (floats tried as integers, zoned times as naive ones)
    is told apart at once.
    """
    import pyarrow.compute as pc

    try:
        pc.cast(values.slice(0, _PROBE_VALUES), target)
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


_TRUE_FALSE = pa.array(["True", "TRUE", "true", "False", "FALSE", "false"], type=pa.string())


def typed_like_pandas(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as integers, floats or true/false when every value reads as one.

    pandas' CSV inference, for the columns of a CSV file that are not cjml's own
    (scores, amounts, the user's extra columns).

    Parameters
    ----------
    col : pyarrow.ChunkedArray
        A column of text, missing values as nulls.

    Returns
    -------
    pyarrow.ChunkedArray
        Integers (floats when some are missing), floats, booleans, or the text
        as it was.
    """
    import pyarrow.compute as pc

    if col.null_count == len(col):
        return col.cast(pa.float64())
    trimmed = pc.utf8_trim_whitespace(col)
    for target in (pa.int64(), pa.float64()):
        typed = cast_or_none(trimmed, target)
        if typed is None:
            continue
        return typed.cast(pa.float64()) if target == pa.int64() and typed.null_count else typed
    if col.null_count == 0 and pc.all(pc.is_in(col, value_set=_TRUE_FALSE)).as_py():
        return pc.is_in(col, value_set=_TRUE_FALSE.slice(0, 3))
    return col
