"""Activity and recency: how much, how recently and how regularly a customer acts."""

from __future__ import annotations

import numpy as np

from cjml.features._base import (
    AddedEvent,
    ColumnBlock,
    ColumnSink,
    FeatureFamily,
    check_windows,
)
from cjml.features._windows import NS_PER_DAY, Windows

__all__ = ["ActivityFeatures"]


class ActivityFeatures(FeatureFamily):
    """Event counts, recency, tenure and regularity, with several windows in one pass.

    Features (days are fractional; a window of w days is ``(cutoff - w, cutoff]``):

    - ``n_events``: events at or before the cutoff.
    - ``days_since_first_event``, ``days_since_last_event``: NaN with no event.
    - ``active_days``: distinct calendar days (UTC) with an event.
    - ``events_last_{w}d`` for each window ``w``.
    - ``events_trend_{w}d`` for the middle window (``windows[len // 2]`` once
      sorted: of two windows, the longer): events in the last ``w`` days minus
      events in the ``w`` days before.
    - ``mean_days_between_events``: (last - first) / (n - 1); NaN below 2 events.
    - ``events_per_week``: ``n_events`` per week of tenure, tenure counted as
      at least a week so that brand-new customers are not inflated.

    Counts are 0 and every other feature NaN for a customer with no event.
    Only the customer's own events count: those of the journey map's
    ``outbound`` touchpoints (a newsletter sent) are left out.

    Parameters
    ----------
    windows : tuple of int, default (7, 30, 90)
        Lookback windows in days.
    """

    family = "activity"
    relative_cost = 3

    def __init__(self, windows=(7, 30, 90)):
        self.windows = windows

    def _check_params(self) -> None:
        self.windows_ = check_windows("windows", self.windows)
        self.trend_window_ = self.windows_[len(self.windows_) // 2]

    def _names(self) -> list[str]:
        return [
            "n_events",
            "days_since_first_event",
            "days_since_last_event",
            "active_days",
            *[f"events_last_{w}d" for w in self.windows_],
            f"events_trend_{self.trend_window_}d",
            "mean_days_between_events",
            "events_per_week",
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        w = w.own_events()  # what the customer did, not what the business sent
        n = w.count()
        age = w.age_days
        first_age, last_age = w.first(age), w.last(age)
        day = w.ts // NS_PER_DAY
        new_day = np.ones(len(day), dtype=bool)
        new_day[1:] = (day[1:] != day[:-1]) | (w.row[1:] != w.row[:-1])
        out.update(
            {
                "n_events": n,
                "days_since_first_event": first_age,
                "days_since_last_event": last_age,
                "active_days": w.count(new_day),
            }
        )
        t = self.trend_window_
        younger = w.count_younger([*self.windows_, t, 2 * t])
        for j, win in enumerate(self.windows_):
            out[f"events_last_{win}d"] = younger[j]
        recent, both = younger[-2], younger[-1]  # (t days before, 2t days before]: both - recent
        out[f"events_trend_{t}d"] = recent - (both - recent)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean_days_between_events"] = np.where(
                n >= 2, (first_age - last_age) / np.maximum(n - 1, 1), np.nan
            )
            out["events_per_week"] = np.where(
                n > 0, 7.0 * n / np.maximum(np.nan_to_num(first_age), 7.0), 0.0
            )

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        if event.outbound.any():  # an outbound event leaves the customer's activity as it was
            kept = {name: b[name].copy() for name in self.feature_names_out_}
            self._with_own_event(b, event)
            for name, before in kept.items():
                b[name] = np.where(event.outbound, before, b[name])
        else:
            self._with_own_event(b, event)

    def _with_own_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        # The new event is 0 days old: it is inside every window and is the last event.
        n = b["n_events"] + 1.0
        first_age = np.where(event.n_before > 0, b["days_since_first_event"], 0.0)
        b["n_events"] = n
        b["days_since_first_event"] = first_age
        b["days_since_last_event"] = 0.0
        b["active_days"] = b["active_days"] + ~event.same_day
        for win in self.windows_:
            b[f"events_last_{win}d"] = b[f"events_last_{win}d"] + 1.0
        t = self.trend_window_
        b[f"events_trend_{t}d"] = b[f"events_trend_{t}d"] + 1.0
        # the same expressions as _compute, with a last age of 0.0, so the same floats
        with np.errstate(invalid="ignore", divide="ignore"):
            b["mean_days_between_events"] = np.where(
                n >= 2, (first_age - 0.0) / np.maximum(n - 1, 1), np.nan
            )
            b["events_per_week"] = np.where(
                n > 0, 7.0 * n / np.maximum(np.nan_to_num(first_age), 7.0), 0.0
            )
