"""The event contract's names and how its messages point at rows.

The canonical columns, the score ranges, and :class:`_Context` / :class:`_Origin`:
the raw input, the column mapping and where each row came from (file, line,
DataFrame index), so that every rule names the column, shows the rows and says
the fix in the same words.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import os
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjml.exceptions import SchemaError

#: Canonical event columns, in the order of :attr:`EventLog.frame`.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "timestamp",
    "touchpoint",
    "stage",
    "channel",
    "satisfaction",
    "nps",
    "effort",
    "amount",
)


#: Columns every event log must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("customer_id", "timestamp", "touchpoint")


# (lowest, highest, survey name) of each score column.
_SCORE_RANGES: dict[str, tuple[float, float, str]] = {
    "satisfaction": (1.0, 5.0, "CSAT"),
    "nps": (0.0, 10.0, "NPS"),
    "effort": (1.0, 7.0, "CES"),
}


_NUMERIC_COLUMNS = ("satisfaction", "nps", "effort", "amount")


_ROLES = {
    "customer_id": "the customer identifier",
    "timestamp": "when the event happened",
    "touchpoint": "which touchpoint the customer met",
}


# Common names for the required columns, tried before difflib in "did you mean".
_SYNONYMS = {
    "customer_id": (
        "customer",
        "customerid",
        "customer_key",
        "cust_id",
        "client_id",
        "client",
        "user_id",
        "userid",
        "user",
        "visitor_id",
        "account_id",
        "member_id",
        "contact_id",
        "subscriber_id",
        "customer_number",
        "customer_no",
        # the ids of web analytics exports: GA4, Mixpanel, Segment, Amplitude
        "user_pseudo_id",
        "distinct_id",
        "anonymous_id",
        "amplitude_id",
        "id",
        # shop and payment exports (Shopify, Stripe) name the customer by their email
        "email",
        "customer_email",
        "email_address",
    ),
    "timestamp": (
        "time",
        "ts",
        "datetime",
        "date",
        "when",
        "event_time",
        "event_timestamp",
        "event_date",
        "event_at",
        "created_at",
        "occurred_at",
        "time_stamp",
        "event_datetime",
        "date_time",
        "created",
        "invoice_date",
        "order_date",
        "transaction_date",
        "purchase_date",
    ),
    "touchpoint": (
        "touch_point",
        "tp",
        "event",
        "event_name",
        "event_type",
        "action",
        "activity",
        "interaction",
        "type",
    ),
}


_MAX_SHOWN = 5


def _did_you_mean(value: Any, allowed: Sequence[Any]) -> str:
    by_text = {str(a): a for a in allowed}
    same = [a for a in allowed if _name_key(a) == _name_key(value)]  # 'RETENTION', 'Email '
    if same:
        return f" Did you mean {same[0]!r}?"
    # a nested key of a JSON export is compared by its last part too ('revenue' for
    # 'properties.revenue'); a whole name written the same wins
    options = {t.rsplit(".", 1)[-1]: t for t in by_text if "." in t}
    options.update({t: t for t in by_text})
    close = difflib.get_close_matches(str(value), list(options), n=1)
    return f" Did you mean {by_text[options[close[0]]]!r}?" if close else ""


def _name_key(name: Any) -> str:
    """A touchpoint or stage name with case, outer spaces and separators set aside."""
    return re.sub(r"[\s\-]+", "_", str(name).strip()).casefold()


def _written_differently(names: Sequence[Any], known: Sequence[Any]) -> list[tuple[Any, Any]]:
    """Pairs (name, known name) where a name is a known one in other case or spacing.

    Exports often change how a name is written ('Email ', 'Website Visit' for the map's
    'email', 'website_visit'); cjml compares names exactly, so such events would count as
    a touchpoint of their own. Messages name these pairs so the fix is a cleaning, not a
    new journey-map entry.
    """
    by_key = {_name_key(k): k for k in known}
    return [(n, by_key[_name_key(n)]) for n in names if _name_key(n) in by_key]


def _variant_groups(names: Sequence[Any]) -> list[list[Any]]:
    """Groups of two or more names that are one name in other case or spacing, sorted."""
    groups: dict[str, list[Any]] = {}
    for n in names:
        groups.setdefault(_name_key(n), []).append(n)
    return sorted(sorted(g, key=str) for g in groups.values() if len(g) > 1)


def _cleaning_line(column: Any) -> str:
    """The pandas line that writes a column's names as :func:`_name_key` compares them."""
    col = repr(str(column))
    return (
        rf"df[{col}] = df[{col}].str.strip().str.lower().str.replace(r'[\s-]+', '_', "
        "regex=True)"
    )


def _spelling_fix(pairs: Sequence[tuple[Any, Any]], label: str, column: Any) -> str:
    """The sentence that names written-differently pairs and the one-line fix for them."""
    if not pairs:
        return ""
    shown = ", ".join(f"{a!r} is {b!r}" for a, b in pairs[:_MAX_SHOWN])
    more = f" and {len(pairs) - _MAX_SHOWN:,} more" if len(pairs) > _MAX_SHOWN else ""
    return (
        f" {_plural(len(pairs), label)} {'differs' if len(pairs) == 1 else 'differ'} from "
        "the map's only in case, spaces or "
        f"hyphens ({shown}{more}); cjml compares names exactly, so their events do not "
        f"count as the map's. Fix: clean the column before reading, e.g. "
        f"{_cleaning_line(column)}."
    )


def _row_error(
    message: str, canon: str | None, positions: np.ndarray | None, problem: str
) -> SchemaError:
    """A SchemaError that also carries the offending rows (see the module docstring)."""
    err = SchemaError(message)
    err.column = canon
    err.positions = None if positions is None else np.asarray(positions, dtype=np.int64)
    err.problem = problem
    return err


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _show(value: Any) -> str:
    """A short repr of a raw cell, without numpy's ``np.float64(...)`` wrapping."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return "<missing>"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return repr(str(value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _user_stacklevel() -> int:
    """Stack level of the first frame outside the cjml package, for ``warnings.warn``.

    So that a warning raised deep inside a fit points at the user's ``cjml.train(...)``
    line. The exit of a ``with`` block (contextlib) is skipped too: it is no caller.
    """
    # cjml/io/_messages.py -> cjml/: every frame inside the package is skipped
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    plumbing = os.path.abspath(contextlib.__file__)
    frame = inspect.currentframe()
    level = 0
    while frame is not None and (
        frame.f_code.co_filename.startswith(pkg)
        or os.path.abspath(frame.f_code.co_filename) == plumbing
    ):
        frame = frame.f_back
        level += 1
    return max(level, 1)


def _decategorize(s: pd.Series) -> pd.Series:
    """A categorical column (e.g. dictionary-encoded Parquet) as its plain values."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat_dtype = s.cat.categories.dtype
        return s.astype(object if s.hasnans else cat_dtype)
    return s


#: The input formats whose cells are text, read under the same rules: CSV, JSON Lines
#: and Excel workbooks (see :mod:`cjml.io._json`, :mod:`cjml.io._excel`).
TEXT_KINDS = ("csv", "json", "excel")


@dataclass(frozen=True)
class _Origin:
    """Where the rows came from, to point error messages at files and lines."""

    names: tuple[str, ...] = ()  # one per file, empty for a DataFrame
    starts: tuple[int, ...] = ()  # first input position of each file
    csv: bool = False  # the rows are lines of text files (CSV, JSON Lines, a sheet's rows)
    index: pd.Index | None = None  # a DataFrame's index when it is not 0..n-1
    rows: np.ndarray | None = None  # input position of each row, when given a subset
    first_line: int = 2  # the line of a file's first row: 2 under a CSV header, 1 in JSON Lines
    # a folder's columns that some of its files lack, each with the number of those files
    lacking: tuple[tuple[Hashable, int], ...] = ()

    def where(self, pos: int) -> str:
        pos = int(pos) if self.rows is None else int(self.rows[int(pos)])
        if self.names:
            i = int(np.searchsorted(np.asarray(self.starts), pos, side="right")) - 1
            local = pos - self.starts[i]
            if self.csv:
                return f"row {pos} ({self.names[i]} line {local + self.first_line})"
            if len(self.names) > 1:
                return f"row {pos} ({self.names[i]} row {local})"
            return f"row {pos}"
        if self.index is not None:
            return f"row {pos} (index {_show(self.index[pos])})"
        return f"row {pos}"


class _Context:
    """The raw input, the column mapping and the origin: what error messages need."""

    def __init__(self, data: pd.DataFrame, resolved: dict[str, Hashable], origin: _Origin):
        self.data = data
        self.resolved = resolved
        self.origin = origin
        # Local times moved across a daylight-saving change: None warns at once (a whole
        # log); a dict collects them, for one warning over every batch (see _localise).
        self.dst_shifts: dict | None = None

    def label(self, canon: str) -> str:
        user = self.resolved.get(canon, canon)
        if user == canon:
            return f"column {canon!r}"
        return f"column {canon!r} (your column {user!r})"

    def raw(self, canon: str) -> pd.Series:
        return self.data[self.resolved[canon]]

    def rows(self, positions: np.ndarray, canons: Sequence[str]) -> str:
        """Up to five offending rows, one per line, with the raw values of ``canons``."""
        positions = np.asarray(positions)
        lines = []
        for pos in positions[:_MAX_SHOWN]:
            cells = ", ".join(
                f"{self.resolved[c]}={_show(self.data[self.resolved[c]].iloc[int(pos)])}"
                for c in canons
                if c in self.resolved
            )
            lines.append(f"  {self.origin.where(pos)}: {cells}")
        if len(positions) > _MAX_SHOWN:
            lines.append(f"  ... and {len(positions) - _MAX_SHOWN:,} more")
        return "\n".join(lines)

    def fail(
        self,
        canon: str,
        positions: np.ndarray,
        problem: str,
        fix: str,
        show: Sequence[str] | None = None,
        whole_column: bool = False,
    ) -> SchemaError:
        positions = np.asarray(positions)
        label = self.label(canon)
        head = f"{label[0].upper()}{label[1:]} has {_plural(len(positions), 'row')} with {problem}:"
        body = self.rows(positions, show if show is not None else [canon])
        return _row_error(
            f"{head}\n{body}\nFix: {fix}", canon, None if whole_column else positions, problem
        )


#: The columns a row needs to be an event; a row without any of them is blank.
BLANK_COLUMNS = ("customer_id", "timestamp", "touchpoint")


def _header_rows_warning(origin: _Origin, positions: Sequence[int], count: int) -> str:
    """The one warning for rows left out because they repeat the header (files joined with
    their headers), whichever reader."""
    shown = ", ".join(origin.where(int(p)) for p in list(positions)[:_MAX_SHOWN])
    more = ", ..." if count > _MAX_SHOWN else ""
    return (
        f"{_plural(count, 'row')} repeating the header left out ({shown}{more}): not events, "
        "but the header lines of files joined into one (cat a.csv b.csv). Remove them from "
        "the file to silence this warning."
    )


def _blank_rows_warning(origin: _Origin, positions: Sequence[int], count: int) -> str:
    """The one warning for rows left out because they hold no customer id, timestamp or
    touchpoint (``positions``: the first of them, as input positions), whichever reader."""
    shown = ", ".join(origin.where(int(p)) for p in list(positions)[:_MAX_SHOWN])
    more = ", ..." if count > _MAX_SHOWN else ""
    what = (
        "empty lines, or objects with none of the three"
        if origin.csv and origin.first_line == 1  # JSON Lines
        else "the empty lines a spreadsheet writes (';;;;')"
    )
    return (
        f"{_plural(count, 'row')} with no customer id, timestamp or touchpoint left out "
        f"({shown}{more}): not events, but {what}. "
        "Remove them from the file to silence this warning."
    )
