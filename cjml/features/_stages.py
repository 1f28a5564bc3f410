"""Stage dynamics: where the customer is in the journey and how they move."""

from __future__ import annotations

import numpy as np

from cjml.events import EventLog
from cjml.features._base import FeatureFamily
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

    def __init__(self):
        pass

    def _fit(self, w: Windows, log: EventLog) -> None:
        self.stages_ = list(log.journey_map.stages)

    def _names(self) -> list[str]:
        return ["current_stage", "furthest_stage", "days_in_current_stage",
                "events_in_current_stage", "stage_progressions", "stage_regressions",
                "stages_per_30d"]

    def _compute(self, w: Windows) -> dict[str, np.ndarray]:
        stages = list(w.log.journey_map.stages)
        if stages != self.stages_:
            raise ValueError(f"The log's journey map has stages {stages!r} but the featurizer was "
                             f"fitted with {self.stages_!r}; use the same journey map.")
        s = w.stage.astype(np.float64)
        same_row = np.zeros(len(s), dtype=bool)
        same_row[1:] = w.row[1:] == w.row[:-1]
        step = np.zeros(len(s))
        step[1:] = np.diff(s)
        step[~same_row] = 0.0
        # A run starts where the row changes or the stage changes.
        run_start = ~same_row | (step != 0)
        start_pos = np.maximum.accumulate(np.where(run_start, np.arange(len(s)), 0))
        last = w.last_position
        has = last >= 0
        age = w.age_days
        days_in = np.full(w.n_rows, np.nan)
        days_in[has] = age[start_pos[last[has]]]
        events_in = np.zeros(w.n_rows)
        events_in[has] = last[has] - start_pos[last[has]] + 1
        first_stage = w.first(s)
        furthest = w.maximum(s)
        tenure = np.maximum(np.nan_to_num(w.first(age)), 1.0)
        return {
            "current_stage": w.last(s),
            "furthest_stage": furthest,
            "days_in_current_stage": days_in,
            "events_in_current_stage": events_in,
            "stage_progressions": w.count(step > 0),
            "stage_regressions": w.count(step < 0),
            "stages_per_30d": 30.0 * (furthest - first_stage) / tenure,
        }
