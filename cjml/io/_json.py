"""JSON Lines event files: one JSON object per line, as Segment, Mixpanel, Amplitude and most
event pipelines export them (``.jsonl``, ``.ndjson`` or ``.json``, plain or compressed).

They are read as a CSV file is, every value as text, so that one set of rules follows:
the id ``"007"`` stays ``"007"`` and the id ``7`` becomes the whole number 7 only when every
id is one; scores and amounts become numbers where every value reads as one. What JSON adds:

- nested objects are flattened into dotted names, ``{"properties": {"amount": 12.5}}``
  giving the column ``properties.amount`` (``columns={"amount": "properties.amount"}``);
- a key missing from a line is a missing value, and a file's columns are the keys of all of
  its lines (an export's optional properties appear on some events only);
- ``true``/``false`` are written ``"true"``/``"false"``, ``null`` is missing, a list keeps its
  JSON text;
- a blank line is a row with every value missing, which the blank-row rule then leaves out
  with a warning, so that row numbers and line numbers stay in step.
- a key written twice in one object, or a dotted key and the same key nested, is refused
  with its line: one of the values would be lost.

Arrow's JSON reader is not used: it refuses a key that is a number on one line and text on
another (``"changed from number to string"``), which real exports of ids do. With Python's
parser, reading and checking runs at 110,000-160,000 events a second on one core; converting a
large export to Parquet once is the fast road for a log read again and again.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from cjml.exceptions import InputFileError
from cjml.io._csv import encoding_error, open_csv

#: JSON Lines files, plain or compressed (compression is recognised from the content).
JSON_SUFFIXES = tuple(
    f"{kind}{packed}"
    for kind in (".jsonl", ".ndjson", ".json")
    for packed in ("", ".gz", ".bz2", ".zip", ".xz", ".zst")
)

_WHAT = "the JSON Lines file"


class _TwiceError(ValueError):
    """A JSON object that names one key twice (Python's parser would keep the last value)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object as a dict, refusing a key written twice (its first value would be lost)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _TwiceError(key)
            seen.add(key)
    return out


# One decoder for every line: json.loads with a hook would build one per call (30% slower).
_DECODER = json.JSONDecoder(object_pairs_hook=_object)
_FORM = "JSON Lines"


def json_batches(
    path: str | os.PathLike,
    columns: Sequence[Any] | None,
    batch_rows: int,
    encoding: str | None = None,
) -> Iterator[pa.Table]:
    """A JSON Lines file as Arrow tables of text, ``batch_rows`` lines at a time.

    Parameters
    ----------
    path : str or path-like
        The file.
    columns : sequence of str, optional
        The (flattened) keys to read, each a text column of every table, missing where a
        line lacks it. None reads every key: each table then has the keys of its own lines,
        in the order first met.
    batch_rows : int
        Lines per table (a blank line is a row with every value missing).
    encoding : str, optional
        The text encoding, when not UTF-8.

    Yields
    ------
    pyarrow.Table
        Text columns.

    Raises
    ------
    InputFileError
        When a line is not a JSON object, naming the file, the line and the fix.
    """
    wanted = None if columns is None else [str(c) for c in columns]
    rows: list[dict[str, str | None]] = []
    for row in _rows(path, encoding):
        rows.append(row)
        if len(rows) >= batch_rows:
            yield _table(rows, wanted)
            rows = []
    if rows or wanted is not None:
        yield _table(rows, wanted)


_COLUMNS_CACHE: dict[tuple, list[str]] = {}


def json_columns(path: str | os.PathLike, encoding: str | None = None) -> list[str]:
    """Every key of a JSON Lines file (nested keys flattened), in the order first met.

    A whole pass over the file (any line may bring a key of its own); remembered for the
    file's size and modification time, since a command asks more than once.

    Parameters
    ----------
    path : str or path-like
        The file.
    encoding : str, optional
        The text encoding, when not UTF-8.

    Returns
    -------
    list of str
        The column names.
    """
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, encoding)
    if key not in _COLUMNS_CACHE:
        names: dict[str, None] = {}
        for row in _rows(path, encoding):
            names.update(dict.fromkeys(row))
        if not names:
            raise no_objects(path)
        if len(_COLUMNS_CACHE) > 16:
            _COLUMNS_CACHE.clear()
        _COLUMNS_CACHE[key] = list(names)
    return list(_COLUMNS_CACHE[key])


def no_objects(path: str | os.PathLike) -> InputFileError:
    """The refusal of a JSON Lines file with no key on any line (empty, or only ``{}``)."""
    return InputFileError(
        f"Cannot read {_WHAT} {str(path)!r}: it holds no JSON object with a key. Fix: give a "
        'file with one event per line, e.g. {"customer_id": "c1", "timestamp": '
        '"2024-03-01 14:30:00", "touchpoint": "purchase"}.'
    )


def _table(rows: list[dict[str, str | None]], wanted: list[str] | None) -> pa.Table:
    if wanted is None:
        names: dict[str, None] = {}
        for row in rows:
            names.update(dict.fromkeys(row))
        wanted = list(names)
    # Arrow's own conversion of the rows: a missing key is null (a fifth faster than a
    # column at a time in Python)
    return pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in wanted]))


def _rows(path: str | os.PathLike, encoding: str | None) -> Iterator[dict[str, str | None]]:
    """Each line of the file as its flattened keys and text values ({} for a blank line)."""
    given = encoding or "utf-8"
    with (
        open_csv(path, _WHAT, encoding, form=_FORM) as raw,
        io.TextIOWrapper(
            raw, encoding="utf-8-sig" if given == "utf-8" else given, newline=""
        ) as text,
    ):
        number = 0
        try:
            for number, line in enumerate(text, 1):  # noqa: B007 - the line is named on errors
                stripped = line.strip()
                if not stripped:
                    yield {}
                    continue
                try:
                    value = _DECODER.decode(stripped)
                    if type(value) is not dict:
                        raise _not_an_object(path, number, stripped, value)
                    row: dict[str, str | None] = {}
                    if _flatten(value, "", row) != len(row):
                        raise _names_met(path, number, value)
                except json.JSONDecodeError as exc:
                    raise _not_json(path, number, stripped, exc) from None
                except _TwiceError as exc:
                    raise InputFileError(
                        f"Cannot read {_WHAT} {str(path)!r}: on line {number} an object has "
                        f"the key {exc.key!r} twice, so one of its values would be lost. Fix: "
                        "rename or remove one of them."
                    ) from None
                except RecursionError:  # a hostile or broken line: not an event
                    raise InputFileError(
                        f"Cannot read {_WHAT} {str(path)!r}: line {number} nests objects or "
                        f"lists more deeply than cjml reads ({_shown(stripped)!r}). Fix: "
                        "correct or remove that line."
                    ) from None
                yield row
        except UnicodeDecodeError:
            raise encoding_error(path, _WHAT, given) from None


def _flatten(obj: dict, prefix: str, out: dict[str, str | None]) -> int:
    """Put ``obj``'s values in ``out`` under their dotted names; the number of values put
    (more than ``out`` gained when two names met: ``{"a.b": 1, "a": {"b": 2}}``)."""
    n = 0
    for key, value in obj.items():
        name = prefix + key
        kind = type(value)
        if kind is str:
            out[name] = value
        elif value is None:
            out[name] = None
        elif kind is dict:
            if value:
                n += _flatten(value, name + ".", out)
                continue
            out[name] = None
        elif kind is bool:
            out[name] = "true" if value else "false"
        elif kind is int or kind is float:
            out[name] = repr(value)
        else:  # a list: its JSON text
            out[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        n += 1
    return n


def _names_met(path: Any, number: int, value: dict) -> InputFileError:
    """The refusal of a line where a dotted key and a nested one give the same column."""
    seen: dict[str, None] = {}
    twice = []

    def walk(obj: dict, prefix: str) -> None:
        for key, item in obj.items():
            if type(item) is dict and item:
                walk(item, prefix + key + ".")
            elif prefix + key in seen:
                twice.append(prefix + key)
            else:
                seen[prefix + key] = None

    walk(value, "")
    return InputFileError(
        f"Cannot read {_WHAT} {str(path)!r}: on line {number} two keys give the same column "
        f"{twice[0]!r} (a key written with a dot, and the same key nested), so one value would "
        "be lost. Fix: rename one of them."
    )


def _shown(line: str) -> str:
    return line if len(line) <= 80 else line[:77] + "..."


def _not_json(path: Any, number: int, line: str, exc: json.JSONDecodeError) -> InputFileError:
    name = str(path)
    if number == 1 and line.startswith("["):
        return _an_array(name)
    if number == 1 and not line.startswith(("{", "[", '"')) and ("," in line or ";" in line):
        return InputFileError(
            f"Cannot read {_WHAT} {name!r}: line 1 is not JSON: it reads as CSV text "
            f"({_shown(line)!r}). Fix: name it .csv (cjml reads files by their suffix)."
        )
    if number == 1 and line.startswith("{"):
        return InputFileError(
            f"Cannot read {_WHAT} {name!r}: line 1 is not a whole JSON object ({_shown(line)!r}): "
            "the file looks like JSON written over several lines, and JSON Lines holds one "
            "event per line. Fix: write one object per line (jq -c . FILE > events.jsonl)."
        )
    return InputFileError(
        f"Cannot read {_WHAT} {name!r}: line {number} is not JSON ({exc.msg}, at character "
        f"{exc.colno}): {_shown(line)!r}. Fix: correct or remove that line (a file cut short "
        "ends with half a line)."
    )


def _an_array(name: str) -> InputFileError:
    return InputFileError(
        f"Cannot read {_WHAT} {name!r}: it holds one JSON array, not one event per line "
        "(JSON Lines). Fix: write one object per line (jq -c '.[]' FILE > events.jsonl), "
        f"or convert it once: pd.read_json({name!r}).to_parquet('events.parquet')."
    )


def _not_an_object(path: Any, number: int, line: str, value: Any) -> InputFileError:
    if number == 1 and type(value) is list:
        return _an_array(str(path))
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    kind = kinds.get(type(value), "a number")
    return InputFileError(
        f"Cannot read {_WHAT} {str(path)!r}: line {number} is {kind}, not an object: "
        f"{_shown(line)!r}. Fix: give one object per line, e.g. "
        '{"customer_id": "c1", "timestamp": "2024-03-01 14:30:00", "touchpoint": "purchase"}.'
    )
