"""The actions view: approve, override or skip, and export the approved actions.

:class:`ActionBook` keeps the marketer's decisions (the latest per customer
counts) and writes the approved ones to a spreadsheet-safe CSV; the reason of
each action is :func:`~cjml.panel._data._common.effect_reason`'s.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from cjml.panel._data._common import PanelError, effect_reason, label

__all__ = ["ActionBook"]

_DECISIONS = ("approved", "overridden", "skipped")
_EXPORT_COLUMNS = (
    "customer_id",
    "touchpoint",
    "expected_risk_reduction",
    "reason",
    "approved_by",
    "approved_at",
    "decision",
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than fail
        return "unknown"


class ActionBook:
    """The marketer's decisions: approve, override or skip each customer's recommendation.

    The latest decision per customer counts. Decisions are stored as batches
    of rows (a bulk approval of a million customers is one batch) and merged
    when read.

    Parameters
    ----------
    user : str, optional
        Who decides, recorded as ``approved_by``; default the login name.
    clock : callable, optional
        Returns the current time (a timezone-aware datetime); for tests.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import ActionBook
    >>> book = ActionBook(user="lan")
    >>> rows = pd.DataFrame({"customer_id": [1, 2], "churn_risk": [0.6, 0.7],
    ...     "recommended_touchpoint": ["live_chat", "email"],
    ...     "expected_risk_reduction": [0.04, 0.01]})
    >>> book.approve(rows), book.skip([2]), book.counts()
    (2, 1, {'approved': 1, 'overridden': 0, 'skipped': 1})
    >>> book.approved()[["customer_id", "touchpoint", "approved_by"]]
       customer_id touchpoint approved_by
    0            1  live_chat         lan
    """

    _COLUMNS = (
        "customer_id",
        "decision",
        "touchpoint",
        "expected_risk_reduction",
        "reason",
        "decided_by",
        "decided_at",
    )

    def __init__(self, *, user=None, clock: Callable[[], datetime] | None = None):
        self.user = user
        self.clock = clock
        self._batches: list[pd.DataFrame] = []
        self._merged: pd.DataFrame | None = None
        self._observers: list[Callable[[], None]] = []

    def observe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every change of the decisions; returns the unsubscribe.

        Every view of the panel observes the one book, so a decision made in
        any of them, or through the Python API, shows everywhere at once.
        """
        self._observers.append(callback)
        return lambda: self._observers.remove(callback) if callback in self._observers else None

    def _changed(self) -> None:
        for callback in list(self._observers):
            callback()

    def _add(self, customer_id, decision, touchpoint, reduction, reason, by) -> int:
        n = len(customer_id)
        if not n:
            return 0
        when = (self.clock or _now)()
        self._batches.append(
            pd.DataFrame(
                {
                    "customer_id": np.asarray(customer_id),
                    "decision": np.full(n, decision, dtype=object),
                    "touchpoint": np.asarray(touchpoint, dtype=object),
                    "expected_risk_reduction": np.asarray(reduction, dtype=float),
                    "reason": np.asarray(reason, dtype=object),
                    "decided_by": np.full(n, by or self.user or _default_user(), dtype=object),
                    "decided_at": np.full(n, when.isoformat().replace("+00:00", "Z"), dtype=object),
                }
            )
        )
        self._merged = None
        self._changed()
        return n

    def approve(self, rows: pd.DataFrame, *, by=None, note=None) -> int:
        """Approve the recommended touchpoint of each row.

        Parameters
        ----------
        rows : DataFrame
            Rows of the customer table (``customer_id, churn_risk,
            recommended_touchpoint, expected_risk_reduction``). Rows without a
            recommendation are left out.
        by : str, optional
            Who approves; default the book's user.
        note : str, optional
            Added to each reason.

        Returns
        -------
        int
            Customers approved.
        """
        has = rows["recommended_touchpoint"].notna().to_numpy()
        rows = rows.loc[has]
        reason = effect_reason(
            rows["recommended_touchpoint"], rows["churn_risk"], rows["expected_risk_reduction"]
        )
        if note:
            reason = reason + f"; {note}"
        return self._add(
            rows["customer_id"].to_numpy(),
            "approved",
            rows["recommended_touchpoint"].astype(object).to_numpy(),
            rows["expected_risk_reduction"].to_numpy(dtype=float),
            reason,
            by,
        )

    def override(
        self,
        customer_id,
        touchpoint: str,
        *,
        expected_risk_reduction: float,
        baseline_risk: float | None = None,
        note=None,
        by=None,
    ) -> int:
        """Replace a customer's recommendation with another touchpoint, approved.

        Parameters
        ----------
        customer_id : object
            The customer.
        touchpoint : str
            The touchpoint chosen instead.
        expected_risk_reduction : float
            Its expected risk reduction (from :func:`what_if`).
        baseline_risk : float, optional
            The customer's risk now, for the reason's wording.
        note : str, optional
            Why; added to the reason.
        by : str, optional
            Who overrides; default the book's user.

        Returns
        -------
        int
            1.
        """
        if baseline_risk is None:
            reason = f"{label(touchpoint)} chosen instead of the recommendation"
        else:
            reason = (
                str(effect_reason([touchpoint], [baseline_risk], [expected_risk_reduction])[0])
                + " (override)"
            )
        if note:
            reason += f"; {note}"
        return self._add(
            [customer_id], "overridden", [touchpoint], [expected_risk_reduction], [reason], by
        )

    def skip(self, customer_ids, *, by=None, note=None) -> int:
        """Skip customers: no action for them.

        Parameters
        ----------
        customer_ids : list-like
            The customers.
        by : str, optional
            Who decides; default the book's user.
        note : str, optional
            Why.

        Returns
        -------
        int
            Customers skipped.
        """
        ids = np.asarray(
            list(customer_ids) if not isinstance(customer_ids, np.ndarray) else customer_ids
        )
        n = len(ids)
        return self._add(
            ids,
            "skipped",
            np.full(n, None),
            np.full(n, np.nan),
            np.full(n, note or "skipped", dtype=object),
            by,
        )

    def reset(self, customer_ids) -> int:
        """Forget the decisions on these customers.

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        int
            Customers reset.
        """
        ids = np.asarray(list(customer_ids))
        n = len(ids)
        return self._add(ids, "reset", np.full(n, None), np.full(n, np.nan), np.full(n, None), None)

    def to_frame(self) -> pd.DataFrame:
        """The latest decision per customer, in the order they were first decided.

        Returns
        -------
        DataFrame
            ``customer_id, decision, touchpoint, expected_risk_reduction,
            reason, decided_by, decided_at``.
        """
        if self._merged is None:
            if not self._batches:
                merged = pd.DataFrame(
                    {
                        c: pd.Series(dtype=object if c != "expected_risk_reduction" else float)
                        for c in self._COLUMNS
                    }
                )
            else:
                frame = pd.concat(self._batches, ignore_index=True)
                merged = frame.drop_duplicates("customer_id", keep="last")
                merged = merged[merged["decision"] != "reset"].reset_index(drop=True)
            self._merged = merged
        return self._merged

    def decisions(self, customer_ids) -> pd.Series:
        """The current decision of each customer (None when undecided).

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        Series
            Indexed by the ids given.
        """
        frame = self.to_frame()
        ids = pd.Index(list(customer_ids), dtype=object)
        where = pd.Index(frame["customer_id"].astype(object)).get_indexer(ids)
        values = frame["decision"].to_numpy(dtype=object)
        return pd.Series(
            np.where(where >= 0, values[np.maximum(where, 0)] if len(values) else None, None),
            index=ids,
            name="decision",
            dtype=object,
        )

    def counts(self) -> dict[str, int]:
        """Count the customers per decision.

        Returns
        -------
        dict
            ``approved``, ``overridden`` and ``skipped``.
        """
        counts = self.to_frame()["decision"].value_counts()
        return {d: int(counts.get(d, 0)) for d in _DECISIONS}

    def approved(self) -> pd.DataFrame:
        """The approved action list: approved and overridden customers.

        Returns
        -------
        DataFrame
            ``customer_id, touchpoint, expected_risk_reduction, reason,
            approved_by, approved_at, decision``.
        """
        frame = self.to_frame()
        frame = frame[frame["decision"].isin(["approved", "overridden"])]
        out = frame.rename(columns={"decided_by": "approved_by", "decided_at": "approved_at"})
        return out[list(_EXPORT_COLUMNS)].reset_index(drop=True)

    def export_csv(self, path, *, force: bool = False, inputs=None) -> Path:
        """Write the approved action list to CSV, safe for spreadsheets.

        See :func:`cjml.panel.write_csv`: formula-like text is escaped, the
        file is UTF-8 with a byte-order mark, written atomically, and an
        existing file is kept unless ``force=True``.

        Parameters
        ----------
        path : str or Path
            A ``.csv`` file.
        force : bool, default False
            Replace an existing file.
        inputs : mapping of str to path, optional
            The files the panel was built from (:attr:`PanelData.inputs`):
            ``path`` may not be one of them (or inside an input folder), even
            with ``force``.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        PanelError
            When nothing is approved.
        InputFileError
            When the file exists (without ``force``), is not ``.csv``, is a
            folder or is one of ``inputs``.
        """
        from cjml.io._write import check_output, write_csv

        check_output(path, inputs=inputs, force=force, suffixes=(".csv",), option="file name")
        actions = self.approved()
        if actions.empty:
            raise PanelError(
                "No approved actions to export yet: approve or override some recommendations first."
            )
        return write_csv(actions, path, force=force)
