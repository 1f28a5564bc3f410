"""Stage dynamics: where the customer is in the journey and how they move."""

from __future__ import annotations

import numpy as np

from cjml.events import EventLog
from cjml.features._base import AddedEvent, ColumnBlock, ColumnSink, FeatureFamily
from cjml.features._windows import Windows

__all__ = ["StageFeatures"]


class StageFeatures(FeatureFamily):
    """Current and furthest stage, time in stage, progressions and regressions.

    Stages are the journey map's, coded by position (0 = first stage), so they
    compare as the journey order and are left numeric (ordinal), not
    categorical. Features (counts 0 and the rest NaN for a customer with no
    event):

    - ``current_stage``: stage of the last event.
    - ``furthest_stage``: the furthest stage reached.
    - ``days_in_current_stage``: days since the customer entered the current
      stage (the first event of the last run of events in that stage).
    - ``events_in_current_stage``: events in that run.
    - ``stage_progressions``, ``stage_regressions``: moves forward and back
      between consecutive events (0 with fewer than two events).
    - ``stages_per_30d``: (furthest stage - first stage) per 30 days of tenure
      (tenure at least a day); regressions do not lower it.
    """

    family = "stages"
    relative_cost = 2

    def __init__(self):
        pass

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        self.stages_ = list(log.journey_map.stages)

    def _names(self) -> list[str]:
        return [
            "current_stage",
            "furthest_stage",
            "days_in_current_stage",
            "events_in_current_stage",
            "stage_progressions",
            "stage_regressions",
            "stages_per_30d",
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        stages = list(w.log.journey_map.stages)
        if stages != self.stages_:
            raise ValueError(
                f"The log's journey map has stages {stages!r} but the featurizer was "
                f"fitted with {self.stages_!r}; use the same journey map."
            )
        s = w.stage
        same_row = w.row[1:] == w.row[:-1]
        forward = np.zeros(len(s), dtype=bool)
        backward = np.zeros(len(s), dtype=bool)
        forward[1:] = (s[1:] > s[:-1]) & same_row
        backward[1:] = (s[1:] < s[:-1]) & same_row
        # A run of one stage starts where the row or the stage changes; each row's
        # current run starts at its last run start. (No event, no run: per-customer
        # cutoffs can leave every row empty.)
        run_start = np.flatnonzero(np.insert(~same_row | (s[1:] != s[:-1]), 0, len(s) > 0))
        start = w._boundary(run_start, last=True)
        last = w.last_position
        has = last >= 0
        days_in = np.full(w.n_rows, np.nan)
        days_in[has] = w.age_days[start[has]]
        events_in = np.zeros(w.n_rows)
        events_in[has] = last[has] - start[has] + 1
        current = self._at(w, last)
        first_stage = self._at(w, w.first_position)
        furthest = self._furthest(w)
        # tenure as the activity family counts it (from the first of the customer's own events)
        tenure = np.maximum(np.nan_to_num(w.first(w.age_days, w.own)), 1.0)
        out.update(
            {
                "current_stage": current,
                "furthest_stage": furthest,
                "days_in_current_stage": days_in,
                "events_in_current_stage": events_in,
                "stage_progressions": w.count(forward),
                "stage_regressions": w.count(backward),
                "stages_per_30d": 30.0 * (furthest - first_stage) / tenure,
            }
        )

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        s = event.stage.astype(np.float64)
        current, furthest = b["current_stage"].copy(), b["furthest_stage"].copy()
        has = ~np.isnan(current)
        tenure = np.maximum(np.nan_to_num(event.first_age), 1.0)
        # The row keeps no first stage, but stages_per_30d = 30 (furthest - first) / tenure
        # with whole stage numbers gives it back exactly.
        first_stage = np.where(has, np.round(furthest - b["stages_per_30d"] * tenure / 30.0), s)
        furthest = np.where(has, np.fmax(furthest, s), s)
        stays = has & (s == current)  # the current run goes on
        b["current_stage"] = s
        b["furthest_stage"] = furthest
        b["days_in_current_stage"] = np.where(stays, b["days_in_current_stage"], 0.0)
        b["events_in_current_stage"] = np.where(stays, b["events_in_current_stage"] + 1.0, 1.0)
        b["stage_progressions"] = b["stage_progressions"] + (has & (s > current))
        b["stage_regressions"] = b["stage_regressions"] + (has & (s < current))
        b["stages_per_30d"] = 30.0 * (furthest - first_stage) / tenure

    @staticmethod
    def _at(w: Windows, positions: np.ndarray) -> np.ndarray:
        out = np.full(w.n_rows, np.nan)
        has = positions >= 0
        out[has] = w.stage[positions[has]]
        return out

    @staticmethod
    def _furthest(w: Windows) -> np.ndarray:
        # integer maximum per row, without a float copy of every event's stage
        out = np.full(w.n_rows, np.nan)
        if not len(w.row):
            return out
        if w._rows_in_order:  # the rows' first positions are the runs' starts, in order
            has = w.first_position >= 0
            out[has] = np.maximum.reduceat(w.stage, w.first_position[has])
        else:
            starts = np.flatnonzero(np.insert(w.row[1:] != w.row[:-1], 0, True))
            out[w.row[starts]] = np.maximum.reduceat(w.stage, starts)
        return out
