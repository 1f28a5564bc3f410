"""An exploration campaign: test the touchpoints the models are unsure about.

A campaign of the recommender's own first choices measures what the models
already believe, and when those choices have small effects it teaches little:
a few dozen controls per touchpoint measure a point-sized effect with an
interval of many points. What a marketer tests instead are the opportunities
"worth testing" (the journey canvas's word): touchpoints with a positive
estimated reduction whose interval still includes no effect. :func:`worth_testing`
draws, per customer, one such candidate at random (seeded), so that the
campaign spreads over the uncertain touchpoints instead of confirming the
favourite; :func:`cjml.export_campaign` then holds out the control group as
for any export (the frame's ``recommended_touchpoint`` is the candidate).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from cjml.exceptions import CjmlError

__all__ = ["worth_testing"]


def worth_testing(
    bundle,
    events,
    *,
    cutoff=None,
    lookback=None,
    customers=None,
    touchpoints: Iterable[str] | None = None,
    uncertain_only: bool = True,
    seed: int | None = None,
) -> pd.DataFrame:
    """Per customer, one touchpoint worth testing, drawn at random: a campaign that teaches.

    A candidate is a touchpoint the recommender allows for the customer
    (``method="dr-rank"``: not surely harmful, estimable) whose estimated
    risk reduction is positive and, with ``uncertain_only``, whose interval
    still includes no effect. Each customer with at least one candidate gets
    one, drawn uniformly among theirs with ``seed``.

    Parameters
    ----------
    bundle : ModelBundle
        The trained models (their doubly robust effects and intervals).
    events : EventLog, DataFrame or path
        The events; the history before ``cutoff`` is used.
    cutoff : date, optional
        When the campaign is delivered; default the events' last timestamp.
    lookback : duration, optional
        Only customers with an event this far before the cutoff (e.g. "60D").
    customers : list-like, optional
        Only these customers, instead of ``lookback``'s.
    touchpoints : iterable of str, optional
        Only these touchpoints are tested; default every actionable one.
    uncertain_only : bool, default True
        Only candidates whose interval includes no effect (the "worth
        testing" ones); False also draws among those already shown to help.
    seed : int, optional
        Seed of the draw (record it: the same seed draws the same candidates).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``, one row per customer with a candidate,
        ready for :func:`cjml.export_campaign`: ``stage``, ``baseline_risk``,
        ``recommended_touchpoint`` (the drawn candidate),
        ``expected_risk_reduction``, ``expected_risk_reduction_low``,
        ``expected_risk_reduction_high``, ``uncertain``, ``cost``,
        ``candidates`` (how many the customer had).

    Raises
    ------
    CjmlError
        When ``touchpoints`` names a touchpoint the models do not know.
    """
    from cjml.recommend import TouchpointRecommender

    rec = TouchpointRecommender.from_bundle(bundle, method="dr-rank")
    table = rec.effects(events, cutoff=cutoff, lookback=lookback, customers=customers)
    if touchpoints is not None:
        wanted = [str(t) for t in touchpoints]
        unknown = sorted(set(wanted) - set(table["touchpoint"].astype(str)))
        if unknown and not table.empty:
            raise CjmlError(
                f"touchpoints {unknown!r} are not eligible for any of these customers; "
                f"choose among {sorted(table['touchpoint'].astype(str).unique())!r}."
            )
        table = table[table["touchpoint"].astype(str).isin(wanted)]
    reduction = table["risk_reduction"].to_numpy(dtype=float)
    low = table["risk_reduction_low"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        keep = table["allowed"].to_numpy(dtype=bool) & (reduction > 0)
        uncertain = ~(low > 0)
    if uncertain_only:
        keep &= uncertain
    cand = table[keep].assign(uncertain=uncertain[keep])
    columns = [
        "stage",
        "baseline_risk",
        "recommended_touchpoint",
        "expected_risk_reduction",
        "expected_risk_reduction_low",
        "expected_risk_reduction_high",
        "uncertain",
        "cost",
        "candidates",
    ]
    if cand.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="customer_id"))
    # a random key per candidate, the smallest per customer wins: uniform among theirs
    rng = np.random.default_rng(seed)
    cand = cand.assign(_key=rng.random(len(cand)))
    counts = cand.groupby("customer_id", sort=False).size()
    drawn = cand.sort_values(["customer_id", "_key"]).drop_duplicates("customer_id")
    out = pd.DataFrame(
        {
            "stage": drawn["stage"].to_numpy(),
            "baseline_risk": drawn["baseline_risk"].to_numpy(dtype=float),
            "recommended_touchpoint": drawn["touchpoint"].astype(str).to_numpy(dtype=object),
            "expected_risk_reduction": drawn["risk_reduction"].to_numpy(dtype=float),
            "expected_risk_reduction_low": drawn["risk_reduction_low"].to_numpy(dtype=float),
            "expected_risk_reduction_high": drawn["risk_reduction_high"].to_numpy(dtype=float),
            "uncertain": drawn["uncertain"].to_numpy(dtype=bool),
            "cost": drawn["cost"].to_numpy(dtype=float),
            "candidates": counts.reindex(drawn["customer_id"]).to_numpy(dtype=np.int64),
        },
        index=pd.Index(drawn["customer_id"].to_numpy(), name="customer_id"),
    )
    return out
