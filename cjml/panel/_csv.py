"""CSV files that are safe to open in a spreadsheet (re-exported for the panel).

A spreadsheet runs a cell as a formula when its text begins with ``=``, ``+``,
``-`` or ``@`` (and some also after a leading tab, carriage return or spaces),
so a customer id, a note or a name taken from the data can carry
``=HYPERLINK(...)`` into the campaign team's Excel. Every CSV cjml writes, the
panel's export included, goes through the one writer of :mod:`cjml.io._write`:
formula-like text cells get a leading apostrophe, numbers stay numbers, the
file is UTF-8 with a byte-order mark and is written atomically. Nothing here
imports ipywidgets: any cjml code can reuse it.
"""

from __future__ import annotations

from cjml.io._write import FORMULA_PREFIXES, escape_formula, write_csv

__all__ = ["FORMULA_PREFIXES", "escape_formula", "write_csv"]
