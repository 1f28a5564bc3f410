"""The customer view: one customer's timeline, scores, drivers, recommendations and what-if.

:func:`timeline_data` lists the customer's events; :func:`customer_profile`
scores the customer exactly as :func:`cjml.score` does and computes the
expected risk after every eligible touchpoint, so that :func:`what_if` (the
what-if selector) is a lookup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjml.i18n import format_currency, format_datetime, format_number, ngettext
from cjml.i18n import gettext as _
from cjml.panel._data._common import (
    PanelError,
    _did_you_mean,
    _log_cutoff,
    label,
    pct,
    points,
    shown_change,
    worth,
)

_NAN = float("nan")

__all__ = ["CustomerProfile", "WhatIf", "customer_profile", "timeline_data", "what_if"]


def _customer_slice(log, customer_id) -> tuple[int, int, Any]:
    """The rows of one customer in the sorted log (ids are sorted), and the id as stored."""
    ids = log.customer_ids
    candidates = [customer_id]
    if isinstance(customer_id, str) and np.issubdtype(ids.dtype, np.integer):
        try:  # a text box gives text; the log may hold integers
            candidates.append(int(customer_id.strip()))
        except ValueError:
            pass
    elif not isinstance(customer_id, str) and ids.dtype == object:
        candidates.append(str(customer_id))
    for cid in candidates:
        try:
            k = int(np.searchsorted(ids, cid))
        except TypeError:
            continue
        if k < len(ids) and ids[k] == cid:
            offsets = log.offsets
            return int(offsets[k]), int(offsets[k + 1]), ids[k]
    raise PanelError(
        _(
            "Customer {id} is not in the events. Pick a customer from the at-risk list, or "
            "check the id (e.g. {example})."
        ).format(id=repr(customer_id), example=repr(_plain(ids[0])))
    )


def _plain(value):
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def timeline_data(log, customer_id, *, cutoff=None) -> pd.DataFrame:
    """One customer's journey: their events in time order, for the timeline.

    Parameters
    ----------
    log : EventLog
        The events.
    customer_id : int or str
        The customer (text that spells an integer id is accepted).
    cutoff : date, optional
        Events after it are marked ``after_cutoff``; default the log's last
        event.

    Returns
    -------
    DataFrame
        ``timestamp, touchpoint, stage, channel, satisfaction, nps, amount``
        (the columns the log has), ``purchase`` (a purchase touchpoint or a
        positive amount) and ``after_cutoff``.

    Raises
    ------
    PanelError
        When the customer is not in the events.
    """
    start, stop, _ = _customer_slice(log, customer_id)
    frame = log.frame.iloc[start:stop]
    cols = [
        c
        for c in ("timestamp", "touchpoint", "stage", "channel", "satisfaction", "nps", "amount")
        if c in frame.columns
    ]
    out = frame[cols].reset_index(drop=True)
    for c in ("touchpoint", "stage", "channel"):
        if c in out.columns:
            out[c] = out[c].astype(object)
    purchase = out["touchpoint"].isin(log.purchase_touchpoints()).to_numpy().copy()
    if "amount" in out.columns:
        purchase |= (out["amount"].fillna(0) > 0).to_numpy()
    out["purchase"] = purchase
    cut = _log_cutoff(log, cutoff)
    out["after_cutoff"] = (out["timestamp"] > cut).to_numpy()
    return out


@dataclass
class CustomerProfile:
    """Everything the customer view shows about one customer (see :func:`customer_profile`).

    Parameters
    ----------
    customer_id : object
        The customer.
    cutoff : Timestamp
        The moment the customer is scored at.
    stage : str or None
        Current stage (of the last event at or before the cutoff).
    segment : str or None
        Last known value of the segment column.
    churn_risk : float
        Calibrated churn risk.
    risk_band : str
        Its band.
    next_stage : Series
        Probability of each next stage (``dropped`` included), in journey order.
    drivers : list of str
        The top drivers of the churn risk, in words, strongest first.
    recommendations : DataFrame
        ``rank, touchpoint, expected_risk, risk_reduction, cost,
        value_saved``: the recommended touchpoints, best first (empty when
        none helps); ``value_saved`` is ``risk_reduction *
        value_if_retained - cost`` (NaN without a value model).
    options : DataFrame
        Every eligible actionable touchpoint: ``touchpoint, expected_risk,
        risk_reduction, cost, allowed, blocked_by, value_saved``, most
        helpful first; the what-if selector's choices.
    reason : str
        The recommender's one-line reason.
    timeline : DataFrame
        :func:`timeline_data`.
    value_if_retained : float, default NaN
        Expected spend over the horizon if the customer stays (NaN when the
        bundle has no value model).
    expected_value : float, default NaN
        ``(1 - churn_risk) * value_if_retained``.
    expected_value_low, expected_value_high : float, default NaN
        Its interval.
    value_at_risk : float, default NaN
        ``churn_risk * value_if_retained``: what drop-off is expected to cost.
    horizon_days : int or None, default None
        The horizon of the values, in days.
    """

    customer_id: Any
    cutoff: pd.Timestamp
    stage: str | None
    segment: str | None
    churn_risk: float
    risk_band: str
    next_stage: pd.Series
    drivers: list[str]
    recommendations: pd.DataFrame
    options: pd.DataFrame
    reason: str
    timeline: pd.DataFrame
    value_if_retained: float = _NAN
    expected_value: float = _NAN
    expected_value_low: float = _NAN
    expected_value_high: float = _NAN
    value_at_risk: float = _NAN
    horizon_days: int | None = None

    @property
    def has_value(self) -> bool:
        """True when the customer has a value (the bundle has a value model)."""
        return not math.isnan(self.expected_value)

    def value_text(self) -> str:
        """The customer's value in one sentence, or "" without a value model.

        Returns
        -------
        str
            For example: Expected value about $120 ($80–$170) over the next
            30 days; $45 at risk.
        """
        if not self.has_value:
            return ""
        days = self.horizon_days or 0
        text = ngettext(
            "Expected value about {value} ({low}\u2013{high}) over the next {days} day; "
            "{at_risk} at risk.",
            "Expected value about {value} ({low}\u2013{high}) over the next {days} days; "
            "{at_risk} at risk.",
            days,
        )
        return text.format(
            value=worth(self.expected_value),
            low=worth(self.expected_value_low),
            high=worth(self.expected_value_high),
            days=format_number(days),
            at_risk=worth(self.value_at_risk),
        )


_VALUE_FIELDS = (
    "value_if_retained",
    "expected_value",
    "expected_value_low",
    "expected_value_high",
    "value_at_risk",
)


def _horizon_days(bundle) -> int | None:
    from cjml.labels import to_timedelta

    horizon = (getattr(bundle, "metadata", None) or {}).get("horizon")
    return None if horizon is None else int(round(to_timedelta(horizon) / pd.Timedelta(days=1)))


def _band_of(risk: float, bands: dict[str, float]) -> str:
    names = list(bands)
    edges = np.asarray(list(bands.values()), dtype=float)
    return names[int(np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, len(names) - 1))]


def customer_profile(
    bundle,
    log,
    customer_id,
    *,
    cutoff=None,
    rules=None,
    top_k=3,
    segment_col=None,
    risk_bands=None,
    recommender=None,
) -> CustomerProfile:
    """Score one customer in full: risk, next stage, drivers, and every touchpoint's effect.

    The customer's events are scored exactly as :func:`cjml.score` scores them
    (same models, same cutoff, same fast attributions for the drivers), and
    the recommender's expected risk after **every** eligible touchpoint is
    computed now, so that :func:`what_if` is a lookup. For one customer this
    takes tens of milliseconds.

    Parameters
    ----------
    bundle : ModelBundle
        A bundle trained by :func:`cjml.train`.
    log : EventLog
        The events (only this customer's are used).
    customer_id : int or str
        The customer.
    cutoff : date, optional
        Score as of this moment; default the log's last event (as
        :func:`cjml.score`).
    rules : RecommendationRules, dict, path or None
        Business rules for the recommendations.
    top_k : int, default 3
        Recommended touchpoints listed.
    segment_col : str, optional
        A segment column of the events, reported as ``segment``.
    risk_bands : mapping, optional
        Band name to its lowest risk; default :data:`cjml.scoring.DEFAULT_RISK_BANDS`.
    recommender : TouchpointRecommender, optional
        Reuse one already built from the bundle and rules.

    Returns
    -------
    CustomerProfile
        The customer's scores, value (with a value model), recommendations, what-if
        options and timeline.

    Raises
    ------
    PanelError
        When the customer is not in the events or has no event at or before
        the cutoff.
    """
    from cjml.events import EventLog
    from cjml.explanations import explain
    from cjml.recommend import TouchpointRecommender, why_no_recommendations
    from cjml.scoring import DEFAULT_RISK_BANDS

    start, stop, cid = _customer_slice(log, customer_id)
    cut = _log_cutoff(log, cutoff)
    timeline = timeline_data(log, cid, cutoff=cut)
    if not (~timeline["after_cutoff"]).any():
        raise PanelError(
            _(
                "Customer {id} has no event at or before the cutoff {cutoff}: there is "
                "nothing to score yet."
            ).format(id=repr(cid), cutoff=format_datetime(cut))
        )
    sub = EventLog.from_frame(
        log.frame.iloc[start:stop], journey_map=log.journey_map, timezone="UTC"
    )
    featurizer = bundle.featurizer
    X = featurizer.transform(sub, cutoff=cut)
    X = X.loc[[cid]] if cid in X.index else X
    churn, stage_model = bundle.models["churn"], bundle.models["next_stage"]
    risk = churn.predict_proba(X)[:, 1]
    proba = stage_model.predict_proba(X, churn_risk=risk)[0]
    classes = [str(c) for c in stage_model.classes_]
    next_stage = pd.Series(proba, index=pd.Index(classes, name="next_stage"), name="probability")
    drivers = explain(churn, X, feature_families=featurizer, top_n=3, method="saabas")
    if recommender is None and why_no_recommendations(bundle) is not None:
        # a bundle that cannot recommend still shows the risk, drivers and timeline
        effects = pd.DataFrame(
            columns=[
                "touchpoint",
                "expected_risk",
                "risk_reduction",
                "cost",
                "allowed",
                "blocked_by",
            ]
        ).astype({"expected_risk": float, "risk_reduction": float, "cost": float, "allowed": bool})
        top = pd.DataFrame()
    else:
        rec = recommender or TouchpointRecommender.from_bundle(bundle, rules=rules, top_k=top_k)
        effects = rec.effects(sub, cutoff=cut, features=X, churn_risk=risk)
        top = rec.recommend(sub, cutoff=cut, features=X, churn_risk=risk, top_k=top_k)
    rows = []
    if len(top):
        first = top.iloc[0]
        for k in range(top_k):
            suffix = "" if k == 0 else f"_{k + 1}"
            name = first.get(f"recommended_touchpoint{suffix}")
            if name is None or (isinstance(name, float) and math.isnan(name)):
                continue
            rows.append(
                {
                    "rank": k + 1,
                    "touchpoint": name,
                    "expected_risk": float(first[f"expected_risk{suffix}"]),
                    "risk_reduction": float(first[f"expected_risk_reduction{suffix}"]),
                    "cost": float(first[f"cost{suffix}"]),
                }
            )
    values: dict[str, float] = {}
    value_model = bundle.models.get("value")
    if value_model is not None:  # as cjml.score values the customer
        row = value_model.predict_value(X, risk).iloc[0]
        values = {k: float(row[k]) for k in _VALUE_FIELDS if k in row.index}
    worth_if_kept = values.get("value_if_retained", _NAN)
    recommendations = pd.DataFrame(
        rows, columns=["rank", "touchpoint", "expected_risk", "risk_reduction", "cost"]
    )
    # the value a touchpoint saves: the reduction already counts the chance of reaching them
    recommendations["value_saved"] = (
        recommendations["risk_reduction"] * worth_if_kept - recommendations["cost"]
    ).astype(float)
    options = (
        effects[["touchpoint", "expected_risk", "risk_reduction", "cost", "allowed", "blocked_by"]]
        .sort_values(["allowed", "risk_reduction"], ascending=[False, False], kind="stable")
        .reset_index(drop=True)
    )
    options["value_saved"] = (options["risk_reduction"] * worth_if_kept - options["cost"]).astype(
        float
    )
    segment = None
    if segment_col is not None and segment_col in sub.frame.columns:
        known = sub.frame.loc[(sub.frame["timestamp"] <= cut).to_numpy(), segment_col].dropna()
        segment = None if known.empty else str(known.iloc[-1])
    last = timeline.loc[~timeline["after_cutoff"]].iloc[-1]
    return CustomerProfile(
        customer_id=cid,
        cutoff=cut,
        stage=last["stage"],
        segment=segment,
        churn_risk=float(risk[0]),
        risk_band=_band_of(float(risk[0]), dict(risk_bands or DEFAULT_RISK_BANDS)),
        next_stage=next_stage,
        drivers=list(drivers["text"].astype(str)),
        recommendations=recommendations,
        options=options,
        reason=str(top["reason"].iloc[0]) if len(top) else "",
        timeline=timeline,
        horizon_days=_horizon_days(bundle),
        **values,
    )


@dataclass(frozen=True)
class WhatIf:
    """The re-scored risk if one touchpoint were triggered now (see :func:`what_if`).

    Parameters
    ----------
    touchpoint : str
        The touchpoint.
    baseline_risk : float
        The churn risk now.
    expected_risk : float
        The expected churn risk after the touchpoint.
    risk_reduction : float
        ``baseline_risk - expected_risk`` (negative when it would hurt).
    cost : float
        Unit cost of the touchpoint.
    allowed : bool
        False when the business rules rule it out.
    blocked_by : str
        Why it is ruled out (empty when allowed).
    value_if_retained : float, default NaN
        The customer's expected spend over the horizon if they stay (NaN
        without a value model).
    """

    touchpoint: str
    baseline_risk: float
    expected_risk: float
    risk_reduction: float
    cost: float
    allowed: bool
    blocked_by: str
    value_if_retained: float = _NAN

    @property
    def value_saved(self) -> float:
        """Expected value saved net of cost: ``risk_reduction * value_if_retained - cost``.

        The reduction already counts the chance the touchpoint reaches the
        customer; NaN without a value model.
        """
        return float(self.risk_reduction * self.value_if_retained - self.cost)

    def value_text(self) -> str:
        """The value the touchpoint saves, in one sentence ("" without a value model).

        Returns
        -------
        str
            For example: Expected value saved $33: keeps about $35 of expected
            spend for a cost of $2.00.
        """
        if math.isnan(self.value_if_retained):
            return ""
        return _(
            "Expected value saved {saved}: keeps about {kept} of expected spend for a cost "
            "of {cost}."
        ).format(
            saved=worth(self.value_saved),
            kept=worth(self.risk_reduction * self.value_if_retained),
            cost=format_currency(self.cost),
        )

    def text(self) -> str:
        """The result in one sentence.

        Returns
        -------
        str
            For example: With live chat, churn risk 62.4% -> 58.5% (3.9 points
            lower), cost $1.50.
        """
        change = shown_change(self.baseline_risk, self.expected_risk)  # as the numbers show it
        if change == 0:
            text = _(
                "With {touchpoint}, churn risk {now} \u2192 {after} (about the same), cost {cost}."
            )
        elif change > 0:
            text = _(
                "With {touchpoint}, churn risk {now} \u2192 {after} ({points} lower), cost {cost}."
            )
        else:
            text = _(
                "With {touchpoint}, churn risk {now} \u2192 {after} ({points} higher), cost {cost}."
            )
        text = text.format(
            touchpoint=label(self.touchpoint).lower(),
            now=pct(self.baseline_risk),
            after=pct(self.expected_risk),
            points=points(abs(change)),
            cost=format_currency(self.cost),
        )
        if not math.isnan(self.value_if_retained):
            text += " " + self.value_text()
        if not self.allowed:
            text += " " + _("Not allowed: {why}.").format(why=self.blocked_by)
        return text


def what_if(profile: CustomerProfile, touchpoint: str) -> WhatIf:
    """The customer's churn risk if ``touchpoint`` were triggered now.

    A lookup in the effects :func:`customer_profile` computed, so it is
    instant.

    Parameters
    ----------
    profile : CustomerProfile
        From :func:`customer_profile`.
    touchpoint : str
        One of ``profile.options["touchpoint"]``.

    Returns
    -------
    WhatIf
        The baseline and re-scored risk, the reduction, cost and rules.

    Raises
    ------
    PanelError
        When the touchpoint is not eligible for this customer.
    """
    options = profile.options
    hit = np.flatnonzero((options["touchpoint"] == touchpoint).to_numpy())
    if not len(hit):
        allowed = list(options["touchpoint"])
        raise PanelError(
            _(
                "{touchpoint} is not an eligible touchpoint for customer {id} in stage "
                "{stage}; the eligible ones are {allowed}."
            ).format(
                touchpoint=repr(touchpoint),
                id=repr(profile.customer_id),
                stage=repr(profile.stage),
                allowed=repr(allowed),
            )
            + _did_you_mean(touchpoint, allowed)
        )
    row = options.iloc[int(hit[0])]
    return WhatIf(
        touchpoint=str(touchpoint),
        baseline_risk=profile.churn_risk,
        expected_risk=float(row["expected_risk"]),
        risk_reduction=float(row["risk_reduction"]),
        cost=float(row["cost"]),
        allowed=bool(row["allowed"]),
        blocked_by=str(row["blocked_by"] or ""),
        value_if_retained=profile.value_if_retained,
    )
