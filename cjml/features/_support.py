"""Support: tickets opened, left unresolved, and how long ago."""

from __future__ import annotations

import numpy as np

from cjml.events import EventLog
from cjml.features._base import AddedEvent, ColumnBlock, ColumnSink, FeatureFamily
from cjml.features._windows import Windows

__all__ = ["SupportFeatures"]


class SupportFeatures(FeatureFamily):
    """Support tickets: opened, resolved, still open, and their age.

    Tickets are followed in time: a resolution closes the oldest open ticket
    (first in, first out) and a resolution with no open ticket is ignored.
    Features (counts 0 and the rest NaN where there is no ticket):

    - ``tickets_opened``, ``tickets_resolved`` (resolution events),
      ``tickets_unresolved`` (still open at the cutoff), ``tickets_last_30d``.
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
    relative_cost = 1

    def __init__(
        self, ticket_touchpoints=("support_ticket",), resolution_touchpoints=("ticket_resolved",)
    ):
        self.ticket_touchpoints = ticket_touchpoints
        self.resolution_touchpoints = resolution_touchpoints

    def _check_params(self) -> None:
        for name in ("ticket_touchpoints", "resolution_touchpoints"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a tuple of touchpoint names, got {value!r}.")

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        self.ticket_touchpoints_ = tuple(self.ticket_touchpoints)
        self.resolution_touchpoints_ = tuple(self.resolution_touchpoints)

    def _names(self) -> list[str]:
        return [
            "tickets_opened",
            "tickets_resolved",
            "tickets_unresolved",
            "tickets_last_30d",
            "days_since_last_ticket",
            "oldest_open_ticket_days",
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        # Only ticket events move the balance: work on those (a few percent of events).
        t = w.subset(w.touchpoint_in([*self.ticket_touchpoints_, *self.resolution_touchpoints_]))
        opened = t.touchpoint_in(self.ticket_touchpoints_)
        resolved = ~opened
        n_open, n_res = t.count(opened), t.count(resolved)
        age = t.age_days
        # Open tickets over time: x_t = max(x_{t-1} + opened - resolved, 0), so a
        # resolution with no open ticket is ignored. With S the running sum per row,
        # x_t = S_t - min(0, min_{s<=t} S_s). The running minimum restarts per row
        # because each row's values are shifted below all earlier rows'.
        d = np.where(opened, 1, -1).astype(np.int64)
        total = np.cumsum(d)
        still_open = np.zeros(w.n_rows)
        if len(d):
            first = t.first_position[t.row]
            running = total - (total[first] - d[first])
            shift = (len(d) + 1) * 2
            lowest = np.minimum.accumulate(running - t.row * shift) + t.row * shift
            balance = running - np.minimum(lowest, 0)
            last = t.last_position
            has = last >= 0
            still_open[has] = balance[last[has]]
        # First in, first out: the oldest open ticket is the (closed + 1)-th ticket.
        tickets = np.flatnonzero(opened)
        oldest = np.full(w.n_rows, np.nan)
        if len(tickets):
            r = t.row[tickets]
            first_of_row = np.full(w.n_rows, -1, dtype=np.int64)
            starts = np.flatnonzero(np.insert(r[1:] != r[:-1], 0, True))
            first_of_row[r[starts]] = starts
            rows = np.flatnonzero(still_open > 0)
            closed = (n_open[rows] - still_open[rows]).astype(np.int64)
            oldest[rows] = age[tickets[first_of_row[rows] + closed]]
        out.update(
            {
                "tickets_opened": n_open,
                "tickets_resolved": n_res,
                "tickets_unresolved": still_open,
                "tickets_last_30d": t.count(opened & (age < 30)),
                "days_since_last_ticket": t.last(age, opened),
                "oldest_open_ticket_days": oldest,
            }
        )

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        opened = event.is_one_of(self.ticket_touchpoints_)
        resolved = event.is_one_of(self.resolution_touchpoints_) & ~opened
        still_open = b["tickets_unresolved"].copy()
        oldest, newest = b["oldest_open_ticket_days"].copy(), b["days_since_last_ticket"]
        b["tickets_opened"] = b["tickets_opened"] + opened
        b["tickets_resolved"] = b["tickets_resolved"] + resolved
        b["tickets_last_30d"] = b["tickets_last_30d"] + opened
        # A new ticket is 0 days old: the oldest open one only when none was open.
        oldest = np.where(opened & (still_open == 0), 0.0, oldest)
        # A resolution closes the oldest open ticket (first in, first out); the open tickets
        # are the latest ones opened, so the next oldest is the newest ticket when two were
        # open. With three or more, the row does not hold it: it lies between the oldest and
        # the newest ticket, and is estimated as if the open tickets were evenly spaced.
        closes = resolved & (still_open > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            spaced = oldest - (oldest - newest) / np.maximum(still_open - 1.0, 1.0)
        next_oldest = np.where(still_open == 1, np.nan, np.where(still_open == 2, newest, spaced))
        oldest = np.where(closes, next_oldest, oldest)
        b["tickets_unresolved"] = still_open + opened - closes
        b["oldest_open_ticket_days"] = oldest
        b["days_since_last_ticket"] = np.where(opened, 0.0, newest)
