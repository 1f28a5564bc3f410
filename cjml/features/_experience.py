"""Experience: satisfaction (CSAT), loyalty (NPS) and effort (CES) signals."""

from __future__ import annotations

import numpy as np

from cjml.features._base import AddedEvent, ColumnBlock, ColumnSink, FeatureFamily
from cjml.features._windows import Windows

__all__ = ["ExperienceFeatures"]


class ExperienceFeatures(FeatureFamily):
    """CSAT, NPS and CES summaries, weighting bad experiences far above good ones.

    A *negative experience* is a CSAT of ``negative_csat`` or less, or a CES of
    ``negative_effort`` or more; a *positive* one a CSAT of 4 or 5 that is not
    negative (no high effort on the same event). Counts are 0 and every other
    feature NaN where the customer never answered that survey:

    - ``csat_count``, ``csat_mean``, ``csat_min``, ``csat_last``,
      ``csat_top_box_share`` (share of 5/5 answers).
    - ``positive_experiences``, ``negative_experiences`` (counts, 0 if none).
    - ``experience_balance``: positives - ``negative_weight`` x negatives ("it
      takes 12 positive experiences to make up for one negative").
    - ``peak_end_csat``: mean of the most extreme CSAT (furthest from 3; the
      latest if tied) and the last CSAT, after the peak-end rule.
    - ``nps_last``, ``nps_mean``, ``nps_class_last`` (-1 detractor 0-6,
      0 passive 7-8, 1 promoter 9-10), ``nps_trend`` (last minus first answer).
    - ``ces_mean``, ``ces_max``.
    - ``days_since_negative_experience`` and ``events_since_negative_experience``
      (silence after a bad experience is a risk signal).

    Parameters
    ----------
    negative_weight : float, default 12
        Weight of a negative experience in ``experience_balance``.
    negative_csat : float, default 2
        CSAT at or below which an answer is negative.
    negative_effort : float, default 5
        CES at or above which an answer is negative.
    """

    family = "experience"
    relative_cost = 4

    def __init__(self, negative_weight=12.0, negative_csat=2.0, negative_effort=5.0):
        self.negative_weight = negative_weight
        self.negative_csat = negative_csat
        self.negative_effort = negative_effort

    def _names(self) -> list[str]:
        return [
            "csat_count",
            "csat_mean",
            "csat_min",
            "csat_last",
            "csat_top_box_share",
            "positive_experiences",
            "negative_experiences",
            "experience_balance",
            "peak_end_csat",
            "nps_last",
            "nps_mean",
            "nps_class_last",
            "nps_trend",
            "ces_mean",
            "ces_max",
            "days_since_negative_experience",
            "events_since_negative_experience",
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        # Only events with an answer matter here: work on those (a small share).
        e, scores = w.answers

        def answers(column: str) -> np.ndarray:
            values = scores.get(column)
            return np.full(len(e.ev), np.nan) if values is None else values

        csat, nps, ces = answers("satisfaction"), answers("nps"), answers("effort")
        has_csat = ~np.isnan(csat)
        n_csat = e.count(has_csat)
        negative = (csat <= self.negative_csat) | (ces >= self.negative_effort)
        positive = (csat >= 4) & ~negative
        n_neg, n_pos = e.count(negative), e.count(positive)
        # Peak: the most extreme answer, the latest among equals: sort the answers by
        # (row, extremity, time) and take each row's last.
        given = np.flatnonzero(has_csat)
        order = given[np.lexsort((given, np.abs(csat[given] - 3.0), e.row[given]))]
        peak = np.full(w.n_rows, np.nan)
        if len(order):
            r = e.row[order]
            edge = np.append(r[1:] != r[:-1], True)
            peak[r[edge]] = csat[order[edge]]
        last_csat = e.last(csat, has_csat)
        has_nps = ~np.isnan(nps)
        nps_last = e.last(nps, has_nps)
        nps_class = np.where(
            np.isnan(nps_last),
            np.nan,
            np.where(nps_last <= 6, -1.0, np.where(nps_last <= 8, 0.0, 1.0)),
        )
        # Events since the last negative experience, counted in the full history.
        last_neg = e._boundary(np.flatnonzero(negative), last=True)
        events_since = np.full(w.n_rows, np.nan)
        has_neg = last_neg >= 0
        assert e.origin is not None  # subset() always maps back
        events_since[has_neg] = w.last_position[has_neg] - e.origin[last_neg[has_neg]]
        with np.errstate(invalid="ignore", divide="ignore"):
            top_box = np.where(n_csat > 0, e.count(csat == 5) / np.maximum(n_csat, 1), np.nan)
        out.update(
            {
                "csat_count": n_csat,
                "csat_mean": e.mean(csat),
                "csat_min": e.minimum(csat),
                "csat_last": last_csat,
                "csat_top_box_share": top_box,
                "positive_experiences": n_pos,
                "negative_experiences": n_neg,
                "experience_balance": n_pos - float(self.negative_weight) * n_neg,
                "peak_end_csat": (peak + last_csat) / 2.0,
                "nps_last": nps_last,
                "nps_mean": e.mean(nps),
                "nps_class_last": nps_class,
                "nps_trend": nps_last - e.first(nps, has_nps),
                "ces_mean": e.mean(ces),
                "ces_max": e.maximum(ces),
                "days_since_negative_experience": e.last(e.age_days, negative),
                "events_since_negative_experience": events_since,
            }
        )

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        # The new event carries no CSAT, NPS or CES: it is neither a positive nor a negative
        # experience and every survey summary stays as it is. Its age, 0, changes no age.
        # Only the count of events since the last negative experience grows (NaN stays NaN).
        b["events_since_negative_experience"] = b["events_since_negative_experience"] + 1.0
