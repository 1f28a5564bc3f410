"""Rejected rows: building an event log while setting aside the rows that break a rule.

The rules (:mod:`cjml.io._values`, :mod:`cjml.io._timestamps`) raise a
:class:`~cjml.exceptions.SchemaError` that carries the rows at fault
(``positions``), the canonical ``column`` and the ``problem``. With
``quarantine``, :func:`build_with_rejects` sets those rows aside and builds the
log again from the rest, rule after rule, as a user fixing the file would;
what is set aside is returned with the reason, so nothing is dropped silently.
``score --on-error quarantine`` writes them to its rejects file, and
``read_events(on_error="quarantine")`` keeps them in ``EventLog.rejects``, in the
same table (:func:`rejects_frame`): the row number, the file and line, the column,
the reason, and the row's cells as text.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from cjml.exceptions import SchemaError

if TYPE_CHECKING:
    from cjml.io._messages import _Origin

Log = TypeVar("Log")

#: The columns of a rejects table before the row's own cells.
REJECT_COLUMNS = ("row", "location", "column", "reason")


def rejects_frame(
    raw: pd.DataFrame,
    rows: np.ndarray,
    column: Hashable,
    reasons: np.ndarray,
    origin: _Origin,
    names: Mapping[Any, Hashable] | None = None,
) -> pd.DataFrame:
    """The rejects table of some rows: where each came from, why, and its cells as text.

    Parameters
    ----------
    raw : DataFrame
        The rejected rows as read (before any parsing).
    rows : ndarray of int
        Their 0-based positions in the whole input.
    column : hashable
        The column at fault, as the user names it.
    reasons : ndarray of str
        One reason per row.
    origin : _Origin
        Where the input came from (files and lines; without ``rows``).
    names : mapping, optional
        The user's name of each column of ``raw`` whose name differs.

    Returns
    -------
    DataFrame
        ``row, location, column, reason`` and the cells, one row per rejected row.
    """
    names = names or {}
    out: dict[Hashable, Any] = {
        "row": np.asarray(rows, dtype=np.int64),
        "location": [origin.where(int(r)) for r in rows],
        "column": np.full(len(rows), column, dtype=object),
        "reason": reasons,
    }
    for c in raw.columns:
        values = raw[c].to_numpy(dtype=object)
        out[names.get(c, c)] = [None if _missing(v) else str(v) for v in values]
    return pd.DataFrame(out)


def empty_rejects(columns: list) -> pd.DataFrame:
    """A rejects table with no row: :data:`REJECT_COLUMNS`, then ``columns``."""
    return pd.DataFrame(columns=[*REJECT_COLUMNS, *columns])


def _missing(value) -> bool:
    return value is None or (np.ndim(value) == 0 and bool(pd.isna(value)))


def build_with_rejects(
    n_rows: int, build: Callable[[np.ndarray], Log], *, quarantine: bool
) -> tuple[Log | None, list[tuple[np.ndarray, str | None, str | None]]]:
    """Build a log from ``n_rows`` rows, setting aside the rows each rule refuses.

    Parameters
    ----------
    n_rows : int
        Rows of the input.
    build : callable
        ``build(positions)`` builds the log from the rows at ``positions`` (0-based,
        increasing), or raises the contract's SchemaError.
    quarantine : bool
        Set refused rows aside and build again; else the first error is raised.

    Returns
    -------
    log : object or None
        The log of the rows kept; None when every row was set aside.
    rejected : list of (positions, column, problem)
        The rows each refusal set aside, in the order the rules found them.

    Raises
    ------
    SchemaError
        Without ``quarantine``, the first error; with it, an error that names no
        rows (a whole column or table at fault).
    """
    keep = np.arange(n_rows)
    rejected: list[tuple[np.ndarray, str | None, str | None]] = []
    while len(keep):
        try:
            return build(keep), rejected
        except SchemaError as err:
            if not quarantine or err.positions is None:
                raise
            rejected.append((keep[err.positions], err.column, err.problem))
            keep = np.delete(keep, err.positions)
    return None, rejected
