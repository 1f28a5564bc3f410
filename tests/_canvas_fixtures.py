"""Synthetic journey canvases for the rendering tests (any stage count, any names).

:func:`make_canvas` builds a :class:`cjml.canvas.JourneyCanvas` whose tables
have every column the class documents, with values that obey its rules
(shares of the flow add up to 1, peak and end marked once, ranks 1..n), so
the renderer can be tested without a model or a log. Knobs make the hard
cases: long names, stages without answers, ``few`` cells, no model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjml.canvas import JourneyCanvas

#: Touchpoint names longer than any a person would pick, to test the wrapping.
LONG_TOUCHPOINTS = (
    "personalised_renewal_offer_with_loyalty_discount_for_returning_members",
    "in_store_consultation_with_a_senior_product_specialist",
    "supercalifragilisticexpialidocious_newsletter",
    "website_visit",
)
TOUCHPOINTS = (
    "website_visit",
    "email",
    "live_chat",
    "store_visit",
    "online_review",
    "paid_ad",
    "consultation",
    "support_ticket",
)
PAIN_KINDS = ("drop_off", "wait", "effort", "unresolved", "bad_experience")


def default_stages(n: int, *, long: bool = False) -> tuple[str, ...]:
    """``n`` stage names: short ones, or long ones that must wrap."""
    if long:
        return tuple(
            f"stage_{k + 1}_evaluation_of_the_extended_warranty_programme_options" for k in range(n)
        )
    base = ("awareness", "consideration", "conversion", "retention", "loyalty")
    return tuple(base[k] if k < len(base) else f"phase_{k + 1}" for k in range(n))


def make_canvas(
    stages=None,
    *,
    n_stages: int = 5,
    persona: object = "deal_seekers",
    by: str | None = "segment",
    long: bool = False,
    few_stages=(),
    silent_stages=(),
    model: bool = True,
    empty_opportunities_stages=(),
    testing_stages=(),
    seed: int = 0,
    min_customers: int = 30,
) -> JourneyCanvas:
    """A synthetic canvas, valid per :class:`~cjml.canvas.JourneyCanvas`.

    Parameters
    ----------
    stages : sequence of str, optional
        The stage names; default :func:`default_stages` of ``n_stages``.
    n_stages : int, default 5
        How many stages when ``stages`` is not given.
    persona : object, default "deal_seekers"
        The persona (None for all customers).
    by : str or None, default "segment"
        The persona column.
    long : bool, default False
        Long stage names (when not given), long touchpoint names and long
        pain texts.
    few_stages : sequence of int, default ()
        Stages (by position) with fewer than ``min_customers`` customers.
    silent_stages : sequence of int, default ()
        Stages without survey answers.
    model : bool, default True
        With a model: pains ranked by churn, opportunities found. Without:
        ranked by size, no opportunities.
    empty_opportunities_stages : sequence of int, default ()
        Stages without a missing touchpoint.
    testing_stages : sequence of int, default ()
        Stages with a touchpoint "worth testing" (positive but uncertain).
    seed : int, default 0
        The random values' seed.
    min_customers : int, default 30
        The evidence rule.

    Returns
    -------
    JourneyCanvas
    """
    rng = np.random.default_rng(seed)
    stages = tuple(stages) if stages is not None else default_stages(n_stages, long=long)
    n = len(stages)
    few = {int(k) for k in few_stages}
    silent = {int(k) for k in silent_stages}
    names = LONG_TOUCHPOINTS + TOUCHPOINTS if long else TOUCHPOINTS

    reached = np.array(
        [8 + 4 * ((k * 7) % 3) if k in few else int(2000 * 0.72**k) for k in range(n)]
    )
    doing, pains, opps, feeling, flow = [], [], [], [], []
    for k, stage in enumerate(stages):
        picks = rng.choice(len(names), size=3, replace=False)
        shares = np.sort(rng.dirichlet(np.ones(4))[:3])[::-1]
        for r, (i, share) in enumerate(zip(picks, shares, strict=True)):
            doing.append(
                {
                    "stage": stage,
                    "rank": r + 1,
                    "touchpoint": names[i],
                    "channel": ("online", "offline", None)[(i + r) % 3],
                    "share": float(share),
                    "customers": int(max(1, reached[k] * share)),
                }
            )
        customers = int(reached[k])
        respondents = 0 if k in silent else int(max(1, customers * (0.2 + 0.1 * (k % 3))))
        emotion = np.nan if k in silent else float(np.clip(np.sin(k * 1.3) * 0.7, -1, 1))
        half = np.nan if k in silent else (0.5 if k in few else 0.12)
        feeling.append(
            {
                "stage": stage,
                "emotion": emotion,
                "emotion_low": max(-1.0, emotion - half) if k not in silent else np.nan,
                "emotion_high": min(1.0, emotion + half) if k not in silent else np.nan,
                "answers": int(respondents * 1.4),
                "respondents": respondents,
                "customers": customers,
                "answered_share": respondents / customers if customers else np.nan,
                "csat_mean": np.nan if k in silent else 3.0 + emotion,
                "nps": np.nan if k in silent else 20 * emotion,
                "ces_mean": np.nan if k in silent else 4.0 - emotion,
                "negative_share": np.nan if k in silent else 0.3 - 0.2 * emotion,
                "few": respondents < min_customers,
                "peak": False,
                "end": False,
            }
        )
        for j in range(2 + (k % 2)):
            kind = PAIN_KINDS[(k + j) % len(PAIN_KINDS)]
            metric = float(rng.uniform(0.05, 0.6))
            long_tail = (
                " while waiting for the extended warranty paperwork to be approved" if long else ""
            )
            pains.append(
                {
                    "stage": stage,
                    "kind": kind,
                    "text": f"{metric:.0%} of customers {kind.replace('_', ' ')}{long_tail}",
                    "metric": metric,
                    "customers": int(max(1, customers * metric)),
                    "churn_explained": float(rng.uniform(0, 0.4)) if model else np.nan,
                    "rank": 0,
                    "few": k in few,
                }
            )
        if model and k not in set(empty_opportunities_stages):
            for i in rng.choice(len(names), size=1 + (k % 2), replace=False):
                rr = float(rng.uniform(0.01, 0.06))
                opps.append(
                    {
                        "stage": stage,
                        "touchpoint": names[i],
                        "risk_reduction": rr,
                        "risk_reduction_low": rr * 0.5,
                        "risk_reduction_high": rr * 1.5,
                        "customers": customers,
                        "evidence": int(max(1, customers * 0.17)),
                        "current_use": float(rng.uniform(0, 0.3)),
                        "text": f"{names[i]} -{rr * 100:.1f} points",
                        "few": k in few,
                        "status": "missing",
                    }
                )
        if model and k in set(testing_stages):
            rr = float(rng.uniform(0.01, 0.04))
            opps.append(
                {
                    "stage": stage,
                    "touchpoint": names[(k + 3) % len(names)],
                    "risk_reduction": rr,
                    "risk_reduction_low": -0.03,
                    "risk_reduction_high": rr * 2,
                    "customers": customers,
                    "evidence": int(max(1, customers * 0.05)),
                    "current_use": 0.02,
                    "text": "",
                    "few": k in few,
                    "status": "worth testing",
                }
            )
        nxt = int(reached[k + 1]) if k + 1 < n else 0
        moved = min(nxt, customers) if k + 1 < n else 0
        rest = customers - moved
        dropped = int(round(rest * 0.7))
        pending = rest - dropped
        flow.append(
            {
                "stage": stage,
                "customers": customers,
                "reached": customers,
                "median_days": float(3 + 4.5 * k),
                "moved_on": moved,
                "dropped_off": dropped,
                "pending": pending,
                "moved_on_share": moved / customers,
                "dropped_off_share": dropped / customers,
                "pending_share": pending / customers,
                "conversion": moved / customers,
                "drop_off": dropped / customers,
                "few": customers < min_customers,
            }
        )

    feeling_df = pd.DataFrame(feeling)
    answered = feeling_df["emotion"].notna()
    if answered.any():
        magnitude = feeling_df["emotion"].abs().where(answered, -1)
        peak = int(np.flatnonzero(magnitude.to_numpy() == magnitude.max())[-1])
        feeling_df.loc[peak, "peak"] = True
        feeling_df.loc[int(np.flatnonzero(answered.to_numpy())[-1]), "end"] = True
    pains_df = pd.DataFrame(pains)
    key = "churn_explained" if model else "metric"
    pains_df["rank"] = pains_df[key].rank(ascending=False, method="first").astype(int)
    pains_df = pains_df.sort_values("rank", ignore_index=True)
    opp_columns = [
        "stage",
        "touchpoint",
        "risk_reduction",
        "risk_reduction_low",
        "risk_reduction_high",
        "customers",
        "evidence",
        "current_use",
        "text",
        "few",
        "status",
    ]
    info = {
        "cutoff": pd.Timestamp("2024-06-30"),
        "horizon": pd.Timedelta(days=30),
        "n_customers": int(reached[0]),
        "n_events": int(reached.sum() * 9),
        "journey_map": "synthetic",
        "negative_weight": 12.0,
        "min_customers": min_customers,
        "pains_ranked_by": "churn model" if model else "size",
        "opportunities_from": "the model bundle" if model else None,
        "columns": ["csat", "nps", "ces"],
    }
    return JourneyCanvas(
        stages=stages,
        persona=persona,
        by=by,
        doing=pd.DataFrame(doing),
        feeling=feeling_df,
        pains=pains_df,
        opportunities=pd.DataFrame(opps, columns=opp_columns),
        flow=pd.DataFrame(flow),
        info=info,
    )
