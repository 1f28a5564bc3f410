"""CSV files that are safe to open in a spreadsheet.

A spreadsheet runs a cell as a formula when its text begins with ``=``, ``+``,
``-`` or ``@`` (and some also after a leading tab or carriage return), so a
customer id, a note or a name taken from the data can carry
``=HYPERLINK(...)`` into the campaign team's Excel. :func:`write_csv` writes
every text cell that begins with one of those characters (or their full-width
forms) with a leading apostrophe, which spreadsheets show as plain text. Numbers
are written as numbers: a formatted number such as ``-0.012`` is never a
formula. Nothing here imports ipywidgets: any cjml code can reuse it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from cjml._io import write_atomic

__all__ = ["FORMULA_PREFIXES", "escape_formula", "write_csv"]

#: Leading characters that make a spreadsheet treat a cell as a formula (with the
#: full-width forms some spreadsheets also accept).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_RISKY = re.compile("^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")


def escape_formula(value):
    """Make one cell value safe from spreadsheet formula injection.

    Parameters
    ----------
    value : object
        A cell value. Text that begins with ``=``, ``+``, ``-``, ``@``, a tab
        or a carriage return (or a full-width ``=+-@``) gets a leading
        apostrophe; anything else, numbers included, is returned unchanged.

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


def _escape_column(column: pd.Series) -> pd.Series:
    """Escape a column's text cells; numeric, boolean and datetime columns pass through."""
    if (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
            or pd.api.types.is_datetime64_any_dtype(column)):
        return column
    values = column.astype(object).to_numpy()
    present = np.flatnonzero(pd.notna(values))
    # to_csv writes other objects (ids, dates) with str(): that text is what must be safe
    text = pd.Series(values[present], dtype=object).map(str)
    risky = text.str.match(_RISKY.pattern).to_numpy(dtype=bool)
    if not risky.any():
        return column
    values = values.copy()
    values[present[risky]] = ("'" + text[risky]).to_numpy(dtype=object)
    return pd.Series(values, index=column.index, name=column.name, dtype=object)


def write_csv(frame: pd.DataFrame, path, *, force: bool = False, bom: bool = True,
              escape: bool = True) -> Path:
    """Write a table to CSV for spreadsheets: formula-safe, Excel-readable, atomic.

    Text cells that could run as a formula are escaped (see
    :func:`escape_formula`); the file is UTF-8 with a byte-order mark, so Excel
    reads accented and non-Latin names correctly, with CRLF line ends
    (RFC 4180). It is written to a temporary file beside ``path`` and renamed
    into place, so nobody ever sees half a file, and an existing file is
    refused unless ``force=True``.

    Parameters
    ----------
    frame : DataFrame
        The table; the index is not written.
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

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputFileError
        When ``path`` does not end in ``.csv``, or exists and ``force`` is False.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from cjml.panel import write_csv
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_csv(pd.DataFrame({"customer_id": ["=1+1", "c2"], "risk": [-0.5, 0.25]}),
    ...                  folder / "actions.csv")
    >>> path.read_bytes()
    b"\\xef\\xbb\\xbfcustomer_id,risk\\r\\n'=1+1,-0.5\\r\\nc2,0.25\\r\\n"

    The file starts with the byte-order mark, the formula-like id is escaped
    with an apostrophe, and the negative number is left as a number.
    """
    out = frame
    if escape:
        out = frame.copy()
        for name in out.columns:
            out[name] = _escape_column(out[name])
        # a risky column name would run as a formula too
        out.columns = [escape_formula(str(c)) for c in out.columns]
    return write_atomic(
        path, lambda tmp: out.to_csv(tmp, index=False, encoding="utf-8-sig" if bom else "utf-8",
                                     lineterminator="\r\n"),
        force=force, suffixes=(".csv",))
