"""Support: tickets opened, left unresolved, and how long ago."""

from __future__ import annotations

import numpy as np

from cjml.events import EventLog
from cjml.features._base import FeatureFamily
from cjml.features._windows import Windows

__all__ = ["SupportFeatures"]


class SupportFeatures(FeatureFamily):
    """Support tickets: opened, resolved, still open, and their age.

    Tickets are matched first in, first out: the k-th resolution closes the
    k-th ticket. Features:

    - ``tickets_opened``, ``tickets_resolved``, ``tickets_unresolved``
      (opened - resolved, at least 0), ``tickets_last_30d``.
    - ``days_since_last_ticket``: NaN if none.
    - ``oldest_open_ticket_days``: age of the oldest ticket still open; NaN if
      none is open.

    Parameters
    ----------
    ticket_touchpoints : tuple of str, default ("support_ticket",)
        Touchpoints that open a ticket.
    resolution_touchpoints : tuple of str, default ("ticket_resolved",)
        Touchpoints that resolve one.
    """

    family = "support"

    def __init__(self, ticket_touchpoints=("support_ticket",),
                 resolution_touchpoints=("ticket_resolved",)):
        self.ticket_touchpoints = ticket_touchpoints
        self.resolution_touchpoints = resolution_touchpoints

    def _check_params(self) -> None:
        for name in ("ticket_touchpoints", "resolution_touchpoints"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a tuple of touchpoint names, got {value!r}.")

    def _fit(self, w: Windows, log: EventLog) -> None:
        self.ticket_touchpoints_ = tuple(self.ticket_touchpoints)
        self.resolution_touchpoints_ = tuple(self.resolution_touchpoints)

    def _names(self) -> list[str]:
        return ["tickets_opened", "tickets_resolved", "tickets_unresolved", "tickets_last_30d",
                "days_since_last_ticket", "oldest_open_ticket_days"]

    def _compute(self, w: Windows) -> dict[str, np.ndarray]:
        cats = list(w.log.frame["touchpoint"].cat.categories)
        opened = np.isin(w.touchpoint, [cats.index(t) for t in self.ticket_touchpoints_
                                        if t in cats])
        resolved = np.isin(w.touchpoint, [cats.index(t) for t in self.resolution_touchpoints_
                                          if t in cats])
        n_open, n_res = w.count(opened), w.count(resolved)
        age = w.age_days
        # FIFO: the oldest open ticket is the (n_resolved + 1)-th ticket of the row.
        tickets = np.flatnonzero(opened)
        oldest = np.full(w.n_rows, np.nan)
        if len(tickets):
            r = w.row[tickets]
            first_of_row = np.full(w.n_rows, -1, dtype=np.int64)
            starts = np.flatnonzero(np.insert(r[1:] != r[:-1], 0, True))
            first_of_row[r[starts]] = starts
            still_open = n_open > n_res
            rows = np.flatnonzero(still_open)
            pick = first_of_row[rows] + n_res[rows].astype(np.int64)
            oldest[rows] = age[tickets[pick]]
        return {
            "tickets_opened": n_open, "tickets_resolved": n_res,
            "tickets_unresolved": np.maximum(n_open - n_res, 0.0),
            "tickets_last_30d": w.count(opened & (age < 30)),
            "days_since_last_ticket": w.last(age, opened),
            "oldest_open_ticket_days": oldest,
        }
