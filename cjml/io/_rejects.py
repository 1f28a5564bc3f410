"""Rejected rows: building an event log while setting aside the rows that break a rule.

The rules (:mod:`cjml.io._values`, :mod:`cjml.io._timestamps`) raise a
:class:`~cjml.exceptions.SchemaError` that carries the rows at fault
(``positions``), the canonical ``column`` and the ``problem``. With
``quarantine``, :func:`build_with_rejects` sets those rows aside and builds the
log again from the rest, rule after rule, as a user fixing the file would;
what is set aside is returned with the reason, so nothing is dropped silently.
``score --on-error quarantine`` writes them to its rejects file, with their row
numbers and file lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from cjml.exceptions import SchemaError

Log = TypeVar("Log")


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
