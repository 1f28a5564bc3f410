"""Recommend the touchpoint most likely to prevent each customer's drop-off.

How the estimate is made
------------------------
Two questions are answered separately, because the data answer them
differently.

**Is the customer still there to receive a touchpoint?** Any logged event
proves the customer was still there, so comparing "history plus a touchpoint
now" with "history, silent since the last event" credits every touchpoint
with the mere proof of life (on the simulator that naive comparison lowers the
mean risk from 61% to 11% for every touchpoint, while the true effects are
below one point). The recommender therefore splits the current risk as the
ground truth does::

    risk_now = (1 - p_reach) + p_reach * risk_if_there

``risk_if_there`` scores the customer as they were right after their last
event, when they were surely there; ``p_reach = (1 - risk_now) / (1 -
risk_if_there)`` is the probability that they are still there (on the
simulator its correlation with the true probability is 0.996). A touchpoint
only helps those it reaches::

    risk_after(t) = risk_now - p_reach * (risk_engaged - risk_engaged(t))

**What does each touchpoint do for a customer who is there?** By default
(``method="auto"``) the answer comes from :mod:`cjml.effects`: doubly robust
effects (propensities, overlap, a per-stage correction shrunk by its noise,
intervals and evidence) and the policy :func:`cjml.train` chose by its
off-policy value on a held-out period, which may be to recommend nothing.
The :class:`TouchpointResponseModel` below is the base those effects
correct, and a method of its own (``method="response"``). It learns from
what followed every touchpoint in the history. Each logged event is an anchor:
the features just before it, and whether the customer then went silent for a
horizon. Anchors on actionable touchpoints are the treated rows; a sample of
anchors on customer-initiated events is the reference ("engaged, nothing from
us"). A logistic model::

    logit P(silent) = a * logit(churn_model(x)) + w . z(x) + sum_t [t] (b_t + v_t . z(x))

adjusts for everything the churn model sees through its score, and lets each
touchpoint's effect vary with a few moderators ``z``: the stage, the customer
attributes (segment...), open tickets, recent contact pressure, bad
experiences and purchases. ``risk_engaged(t)`` and ``risk_engaged`` are its
predictions for a customer's base row with and without ``t``: the candidate
rows are the base rows plus a treatment indicator, scored in one matrix
product, so recommending among a dozen touchpoints costs little more than
scoring.

``method="s-learner"`` instead rescores "history plus t now" with the churn
model itself (candidate rows from :meth:`~cjml.JourneyFeaturizer.with_event`).
On the simulator it ranks touchpoints worse than the response model (regret
share 0.32 to 0.36 against 0.20 to 0.28 over all customers; see
``benchmarks/quality.py``): the gradient-boosted churn model has little reason
to learn how a touchpoint's effect differs between segments.

Limits, plainly
---------------
The estimates come from observational data. The model compares customers
with similar histories who did and did not get a touchpoint, so it adjusts for
everything the features hold (stage, segment, purchases, satisfaction,
tickets, contact pressure), but not for how the business chose whom to contact
beyond that: a touchpoint given mostly to already-loyal customers for reasons
the log does not show still looks better than it is. Touchpoints that were
rarely used in the history get noisy estimates; those with fewer than
``min_deliveries`` logged deliveries are never recommended. The effects are
assumed to vary only with the moderators (a linear model on the log-odds
scale): differences the moderators do not capture are averaged. Treat the ranking as a
well-informed starting point, and measure it: deliver the recommendations to a
random part of the targeted customers and keep a random control group.
``benchmarks/quality.py`` measures the policy against the simulator's ground
truth, where business-as-usual contacts are deliberately confounded.
"""

from __future__ import annotations

import functools
import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from cjml.effects import DEFAULT_MIN_REDUCTION
from cjml.events import EventLog, read_events
from cjml.exceptions import CjmlError
from cjml.features._base import as_log
from cjml.i18n import (
    SMALL_POINTS,
    fill,
    format_currency,
    format_number,
    format_points,
    format_probabilities,
    format_probability,
    format_rounded,
    format_tenths,
    format_threshold_points,
    label_text,
    ngettext,
    rounded_change,
)
from cjml.i18n import gettext as _
from cjml.journey import JourneyMap, _did_you_mean
from cjml.labels import to_timedelta
from cjml.models import _threads_of

__all__ = [
    "ContactCap",
    "RecommendationRules",
    "RulesError",
    "TouchpointRecommender",
    "TouchpointResponseModel",
    "estimate_effects",
    "fit_touchpoint_response",
]

#: The keys that can order the touchpoints (RecommendationRules.rank_by, --rank-by).
RANK_BY = ("auto", "reduction", "reduction_per_cost", "value_saved")
#: Customers recommended for at once: a larger log is taken this many customers at a time
#: (:meth:`TouchpointRecommender.recommend`), which bounds the memory of its features and
#: estimates (at 10M events, 1.17M customers: 6.3 GB at once); a budget is applied to the
#: parts' joined table.
RECOMMEND_PART_CUSTOMERS = 200_000
#: Any actionable touchpoint counts towards a cap with this touchpoint name.
ANY_CONTACT = "any"


class RulesError(CjmlError, ValueError):
    """Business rules that cannot be applied (unknown touchpoint, bad value...)."""


@dataclass(frozen=True)
class ContactCap:
    """At most ``max_contacts`` deliveries of a touchpoint within ``days`` days.

    Parameters
    ----------
    touchpoint : str
        An actionable touchpoint, or ``"any"`` for all actionable touchpoints
        together.
    max_contacts : int
        Deliveries allowed in the window; a customer who already had this many
        gets no further one.
    days : float
        Length of the window that ends at the cutoff, counted from the history.
    """

    touchpoint: str
    max_contacts: int
    days: float


@dataclass(frozen=True)
class RecommendationRules:
    """Business rules that decide which touchpoints may be recommended.

    Build them with :meth:`from_dict` or :meth:`from_file` (TOML)::

        exclude = ["referral_invite"]   # never recommend these
        min_risk = 0.2                   # act only on customers at this risk or more
        min_reduction = 0.005            # recommend only what lowers the risk by 0.5 points
        budget = 5000.0                  # total cost of the first-ranked touchpoints
        rank_by = "reduction"            # or "reduction_per_cost", "value_saved"

        [caps]                           # at most 2 emails in 7 days, from the history
        email = { max = 2, days = 7 }
        any = { max = 4, days = 30 }     # all actionable touchpoints together

        [costs]                          # override the journey map's unit costs
        consultation = 25.0

    Parameters
    ----------
    exclude : tuple of str
        Touchpoints never recommended.
    caps : tuple of ContactCap
        Contact caps, counted from each customer's history before the cutoff.
    min_risk : float, default 0
        Customers whose current risk is below it get no recommendation.
    min_reduction : float, default 0.0005
        Touchpoints expected to lower the risk by this much or less (as a
        probability: 0.005 is half a point) are not recommended. The default
        drops gains that round to 0.0 points, mostly customers almost surely
        gone already, judged on the model's own estimate (before the share
        the held-out period confirmed scales it, see
        :meth:`cjml.effects.PolicyChoice.confirmed`); a larger floor is
        judged on the reductions shown. Whether an effect is beyond noise at
        all is decided by the policy chosen at training, and each
        recommendation says whether its own interval includes no effect
        (``uncertain``).
    budget : float, optional
        Total cost allowed for the first-ranked touchpoints. Customers are
        served in the order of ``rank_by`` applied to their first-ranked
        touchpoint (best expected reduction, reduction per unit cost, or value
        saved) until the budget is spent; the rest get none.
    costs : mapping of str to float
        Unit costs that override (or fill in) the journey map's.
    rank_by : {"auto", "reduction", "reduction_per_cost", "value_saved"}, default "auto"
        What orders the touchpoints (and the customers under a budget):
        ``"value_saved"`` ranks by the expected value saved net of cost
        (``expected_risk_reduction * value_if_retained - cost``; needs a value
        model in the bundle and every touchpoint's cost), and touchpoints that
        cost more than they keep are not recommended. ``"auto"`` ranks by
        value saved when the bundle has a value model and every actionable
        touchpoint has a cost, else by reduction per unit cost when ``costs``
        are given here, else by reduction.
    """

    exclude: tuple[str, ...] = ()
    caps: tuple[ContactCap, ...] = ()
    min_risk: float = 0.0
    min_reduction: float = DEFAULT_MIN_REDUCTION
    budget: float | None = None
    costs: Mapping[str, float] = field(default_factory=dict)
    rank_by: str = "auto"

    def __post_init__(self) -> None:
        _rule_number(self.min_risk, "min_risk", "min_risk = 0.2")
        _rule_number(self.min_reduction, "min_reduction", "min_reduction = 0.005")
        if self.budget is not None:
            _rule_number(self.budget, "budget", "budget = 5000.0")
        if not isinstance(self.rank_by, str):
            raise RulesError(
                f"rank_by must be one of {list(RANK_BY)!r}, got {self.rank_by!r}. "
                'Fix: e.g. rank_by = "reduction".'
            )
        for cap in self.caps:
            if isinstance(cap.max_contacts, bool) or not isinstance(
                cap.max_contacts, int | float | np.integer | np.floating
            ):
                raise RulesError(
                    f"The cap on {cap.touchpoint!r} must allow a whole number of "
                    f"contacts (0 or more), got max = {cap.max_contacts!r}. Fix: "
                    f"e.g. {cap.touchpoint} = {{ max = 2, days = 7 }}."
                )
            _rule_number(
                cap.days,
                f"the cap on {cap.touchpoint!r}: days",
                f"{cap.touchpoint} = {{ max = 2, days = 7 }}",
            )
        if not 0.0 <= float(self.min_risk) <= 1.0:
            raise RulesError(
                f"min_risk must be a probability between 0 and 1, got {self.min_risk!r}."
            )
        if not 0.0 <= float(self.min_reduction) < 1.0:
            raise RulesError(
                f"min_reduction must be a probability between 0 and 1 (0.005 is "
                f"half a point), got {self.min_reduction!r}."
            )
        if self.budget is not None and not float(self.budget) >= 0:
            raise RulesError(f"budget must be a non-negative amount, got {self.budget!r}.")
        if self.rank_by not in RANK_BY:
            raise RulesError(
                f"rank_by must be one of {list(RANK_BY)!r}, got {self.rank_by!r}."
                f"{_did_you_mean(str(self.rank_by), RANK_BY)}"
            )
        for cap in self.caps:
            if int(cap.max_contacts) != cap.max_contacts or cap.max_contacts < 0:
                raise RulesError(
                    f"The cap on {cap.touchpoint!r} must allow a whole number of "
                    f"contacts (0 or more), got max = {cap.max_contacts!r}."
                )
            if not float(cap.days) > 0:
                raise RulesError(
                    f"The cap on {cap.touchpoint!r} needs a window of more than 0 "
                    f"days, got days = {cap.days!r}."
                )
        for name, cost in self.costs.items():
            if not (isinstance(cost, int | float) and cost >= 0):
                raise RulesError(
                    f"The cost of {name!r} must be a non-negative number, got {cost!r}."
                )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RecommendationRules:
        """Rules from a plain dict (the TOML layout, see the class docstring).

        Parameters
        ----------
        spec : mapping
            Keys ``exclude``, ``caps``, ``min_risk``, ``min_reduction``,
            ``budget``, ``costs``,
            ``rank_by``; all optional.

        Returns
        -------
        RecommendationRules
        """
        if not isinstance(spec, Mapping):
            raise RulesError(
                f"Rules must be a table of rules (exclude, caps, min_risk, ...), "
                f"got {type(spec).__name__}."
            )
        known = {"exclude", "caps", "min_risk", "min_reduction", "budget", "costs", "rank_by"}
        unknown = [k for k in spec if k not in known]
        if unknown:
            raise RulesError(
                f"Unknown rule {unknown[0]!r}; the rules are {sorted(known)!r}."
                f"{_did_you_mean(str(unknown[0]), known)}"
            )
        exclude = spec.get("exclude", ())
        if isinstance(exclude, str):
            exclude = (exclude,)
        if not isinstance(exclude, list | tuple) or not all(isinstance(e, str) for e in exclude):
            raise RulesError(
                f"exclude must be a list of touchpoint names, got {exclude!r}. "
                'Fix: e.g. exclude = ["referral_invite"].'
            )
        raw_caps = spec.get("caps", {})
        if not isinstance(raw_caps, Mapping):
            raise RulesError(
                f"caps must be a table of touchpoint = {{ max, days }}, got "
                f"{raw_caps!r}. Fix: e.g. a [caps] table with the line "
                "email = { max = 2, days = 7 }."
            )
        caps = []
        for name, cap in raw_caps.items():
            if not isinstance(cap, Mapping) or set(cap) != {"max", "days"}:
                raise RulesError(
                    f"The cap on {name!r} must give exactly 'max' and 'days', for "
                    f"example {name} = {{ max = 2, days = 7 }}; got {cap!r}."
                )
            caps.append(ContactCap(str(name), cap["max"], cap["days"]))
        costs = spec.get("costs", {})
        if not isinstance(costs, Mapping):
            raise RulesError(
                f"costs must be a table of touchpoint = unit cost, got {costs!r}. "
                "Fix: e.g. a [costs] table with the line consultation = 25.0."
            )
        for name, cost in costs.items():
            _rule_number(cost, f"the cost of {name!r}", f"{name} = 25.0 under [costs]")
        return cls(
            exclude=tuple(exclude),
            caps=tuple(caps),
            min_risk=spec.get("min_risk", 0.0),
            min_reduction=spec.get("min_reduction", DEFAULT_MIN_REDUCTION),
            budget=spec.get("budget"),
            costs=dict(costs),
            rank_by=spec.get("rank_by", "auto"),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> RecommendationRules:
        """Rules from a TOML file.

        Parameters
        ----------
        path : str or Path
            The file, laid out as in the class docstring.

        Returns
        -------
        RecommendationRules
        """
        from cjml.exceptions import InputFileError
        from cjml.io._csv import read_text_file, syntax_error_text

        path = Path(path)
        try:
            text = read_text_file(path, "the rules file", "TOML")
        except InputFileError as exc:
            raise RulesError(str(exc)) from None
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(
                f"The rules file {str(path)!r} is not valid TOML: "
                f"{syntax_error_text(text, exc)}\nFix: see the layout in the README "
                "('Business rules')."
            ) from None
        try:
            return cls.from_dict(spec)
        except RulesError as exc:
            text = str(exc)
            raise RulesError(
                f"In the rules file {str(path)!r}: {text[:1].lower()}{text[1:]}"
            ) from None

    @classmethod
    def coerce(
        cls, value: RecommendationRules | Mapping[str, Any] | str | Path | None
    ) -> RecommendationRules:
        """Rules from rules, a dict, a TOML path or None (no rules).

        Parameters
        ----------
        value : RecommendationRules, mapping, str, Path or None
            Rules, their dict form, a TOML file, or None for no rules.

        Returns
        -------
        RecommendationRules
        """
        if value is None:
            return cls()
        if isinstance(value, RecommendationRules):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        if isinstance(value, str | Path):
            return cls.from_file(value)
        raise RulesError(
            f"rules must be a dict, a TOML file path or RecommendationRules, got "
            f"{type(value).__name__}."
        )

    def check(self, journey_map: JourneyMap) -> None:
        """Check every touchpoint the rules name against the journey map.

        Parameters
        ----------
        journey_map : JourneyMap
            The map the rules will be applied with.

        Raises
        ------
        RulesError
            Naming the rule and the touchpoint, with the actionable ones.
        """
        actionable = journey_map.actionable_touchpoints

        def known(name: str, where: str, allow_any: bool = False) -> None:
            if name in actionable or (allow_any and name == ANY_CONTACT):
                return
            what = (
                "is not actionable (the business cannot deliver it)"
                if name in journey_map
                else "is not in the journey map"
            )
            raise RulesError(
                f"{where}: {name!r} {what}. Actionable touchpoints: "
                f"{list(actionable)!r}.{_did_you_mean(name, actionable)}"
            )

        for name in self.exclude:
            known(name, "exclude")
        for cap in self.caps:
            known(cap.touchpoint, "caps", allow_any=True)
        for name in self.costs:
            known(name, "costs")
        if self.ranks_by_cost or self.budget is not None or self.rank_by == "value_saved":
            costs = self.unit_costs(journey_map)
            missing = [t for t in actionable if np.isnan(costs[t])]
            if missing:
                need = (
                    "ranking by value saved"
                    if self.rank_by == "value_saved"
                    else "ranking by cost"
                    if self.ranks_by_cost
                    else "a budget"
                )
                raise RulesError(
                    f"{need.capitalize()} needs the unit cost of every actionable "
                    f"touchpoint; unknown for {missing!r}. Give them under [costs] "
                    f"in the rules or in the journey map."
                )

    @property
    def ranks_by_cost(self) -> bool:
        """True when touchpoints are ranked by reduction per unit cost."""
        return self.rank_by == "reduction_per_cost" or (self.rank_by == "auto" and bool(self.costs))

    def rank_key(self, journey_map: JourneyMap, *, has_value: bool) -> str:
        """What orders the touchpoints and the customers, with ``"auto"`` resolved.

        Parameters
        ----------
        journey_map : JourneyMap
            The map whose costs fill in those the rules do not give.
        has_value : bool
            Whether a value model gives each customer's value if retained.

        Returns
        -------
        str
            ``"value_saved"``, ``"reduction_per_cost"`` or ``"reduction"``.
        """
        if self.rank_by != "auto":
            return self.rank_by
        if has_value and not np.isnan(list(self.unit_costs(journey_map).values())).any():
            return "value_saved"  # value saved needs every cost: "auto" never guesses one
        return "reduction_per_cost" if self.ranks_by_cost else "reduction"

    def unit_costs(self, journey_map: JourneyMap) -> dict[str, float]:
        """Unit cost of every actionable touchpoint (NaN when unknown).

        Parameters
        ----------
        journey_map : JourneyMap
            Its costs are used where the rules give none.

        Returns
        -------
        dict of str to float
            Touchpoint name to unit cost.
        """
        costs = {t: np.nan if c is None else c for t, c in journey_map.costs().items()}
        return {t: float(self.costs.get(t, costs[t])) for t in journey_map.actionable_touchpoints}


def _rule_number(value: Any, name: str, example: str) -> None:
    """Refuse a rule value that is not a number ("high", true, [1]) in one line."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise RulesError(
            f"{name} must be a number, got {value!r} ({kind}). Fix: write a number "
            f"without quotes, e.g. {example}."
        )


# ---------------------------------------------------------------------- response model
#: Numeric moderators of the touchpoint effects, and how each enters z(x).
_NUMERIC_MODERATORS = {
    "tickets_unresolved": "positive",
    "contacts_last_7d": "log1p",
    "negative_experiences": "positive",
    "purchases": "log1p",
}
#: Attribute categories rarer than this share of the anchors get no moderator of their own.
_MIN_CATEGORY_SHARE = 0.01
_MAX_CATEGORIES = 12


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class TouchpointResponseModel(BaseEstimator):
    """How each actionable touchpoint changes the drop-off risk of a customer it reaches.

    A logistic model fitted on "anchor" rows: the features just before each
    logged event, and whether the customer then went silent for a horizon.
    Rows anchored on an actionable touchpoint are treated; rows anchored on a
    customer-initiated event are the reference. See :mod:`cjml.recommend` for
    the model and its limits; :func:`fit_touchpoint_response` builds the rows
    from a log, and :func:`cjml.train` does it for you.

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 penalty of the logistic regression.
    min_deliveries : int, default 30
        Touchpoints with fewer treated rows are not estimated (never recommended).

    Attributes
    ----------
    touchpoints_ : tuple of str
        The touchpoints with an estimated effect.
    deliveries_ : dict of str to int
        Treated rows per touchpoint (all actionable ones, estimated or not).
    moderators_ : list of str
        Names of the moderators ``z(x)``.
    coef_shared_ : ndarray
        Coefficients of ``[logit(base risk), z(x)]``.
    intercept_ : float
    coef_touchpoint_ : ndarray of shape (n_moderators, n_touchpoints)
        Each touchpoint's effect on the log-odds, per moderator.
    """

    def __init__(self, *, C=1.0, min_deliveries=30):
        self.C = C
        self.min_deliveries = min_deliveries

    def _moderators(self, X: pd.DataFrame) -> np.ndarray:
        cols = [np.ones(len(X))]
        for name, codes in self.categories_.items():
            values = X[name].to_numpy(dtype=float)
            cols += [(values == c).astype(float) for c in codes]
        for name, how in self.numeric_.items():
            v = np.nan_to_num(X[name].to_numpy(dtype=float), nan=0.0)
            cols.append((v > 0).astype(float) if how == "positive" else np.log1p(np.maximum(v, 0)))
        return np.column_stack(cols)

    def fit(self, X, y, *, touchpoint, base_risk):
        """Fit on anchor rows.

        Parameters
        ----------
        X : DataFrame
            Features just before each anchor event (featurizer columns).
        y : array-like of {0, 1}
            1 when the customer had no event in the horizon after the anchor.
        touchpoint : array-like of str or None
            The anchor's actionable touchpoint, None for reference rows.
        base_risk : array-like of float
            The churn model's risk for the rows of ``X``.

        Returns
        -------
        TouchpointResponseModel
            This model, fitted.
        """
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(int)
        arm = pd.Series(np.asarray(touchpoint, dtype=object))
        counts = arm.dropna().value_counts()
        self.deliveries_ = {str(k): int(v) for k, v in counts.items()}
        self.touchpoints_ = tuple(
            sorted(k for k, v in self.deliveries_.items() if v >= self.min_deliveries)
        )
        if not self.touchpoints_:
            raise CjmlError(
                f"No actionable touchpoint was delivered at least {self.min_deliveries} times in "
                f"the training history ({self.deliveries_ or 'none at all'}), so their effects "
                f"cannot be learned. Train on a longer history, or mark the touchpoints the "
                f"business delivers as actionable in the journey map."
            )
        self.categories_ = {}
        for name in X.columns:
            if not str(name).startswith("attribute_") and name != "current_stage":
                continue
            share = X[name].value_counts(normalize=True)
            keep = share[share >= _MIN_CATEGORY_SHARE].index[:_MAX_CATEGORIES]
            self.categories_[name] = sorted(float(c) for c in keep)
        self.numeric_ = {n: how for n, how in _NUMERIC_MODERATORS.items() if n in X.columns}
        z = self._moderators(X)
        self.moderators_ = (
            ["intercept"]
            + [f"{n}={c:g}" for n, cs in self.categories_.items() for c in cs]
            + list(self.numeric_)
        )
        code = pd.Index(self.touchpoints_).get_indexer(arm)
        design = [_logit(base_risk)[:, None], z]
        design += [z * (code == j)[:, None] for j in range(len(self.touchpoints_))]
        lr = LogisticRegression(C=self.C, max_iter=5000).fit(np.hstack(design), y)
        m = z.shape[1]
        self.coef_shared_ = lr.coef_[0, : 1 + m]
        self.intercept_ = float(lr.intercept_[0])
        self.coef_touchpoint_ = lr.coef_[0, 1 + m :].reshape(len(self.touchpoints_), m).T
        self.n_rows_ = len(y)
        return self

    def predict_risks(self, X, base_risk) -> tuple[np.ndarray, np.ndarray]:
        """Risk of going silent after engaging now, without and with each touchpoint.

        Parameters
        ----------
        X : DataFrame
            Base feature rows at the cutoff.
        base_risk : array-like of float
            The churn model's risk for those rows.

        Returns
        -------
        reference : ndarray of shape (n,)
            Engaged now, nothing from the business.
        treated : ndarray of shape (n, n_touchpoints)
            Engaged now with each of ``touchpoints_``.
        """
        check_is_fitted(self)
        z = np.ascontiguousarray(self._moderators(X), dtype=float)
        # Row by row, not with a matrix product: BLAS blocks rows by how many there are, so
        # a customer's last bit could depend on who else is in the batch, and scoring in
        # chunks must give what scoring at once gives (seen on one CPU, not another).
        shared = (
            self.intercept_
            + self.coef_shared_[0] * _logit(base_risk)
            + (z * self.coef_shared_[1:]).sum(axis=1)
        )
        moderated = (
            np.column_stack(
                [(z * column).sum(axis=1) for column in np.asarray(self.coef_touchpoint_).T]
            )
            if len(self.touchpoints_)
            else np.empty((len(z), 0))
        )
        return expit(shared), expit(shared[:, None] + moderated)


def fit_touchpoint_response(
    log,
    featurizer,
    churn_model,
    *,
    start,
    end,
    horizon="30D",
    journey_map=None,
    max_rows=300_000,
    random_state=0,
    C=1.0,
    min_deliveries=30,
) -> TouchpointResponseModel:
    """Learn what followed each actionable touchpoint in a log.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    featurizer : JourneyFeaturizer
        Fitted featurizer (the churn model's).
    churn_model : ChurnModel
        Fitted churn model; its score is the response model's adjustment.
    start, end : date
        Anchors are the events in ``[start, end - horizon]``, so that every
        anchor's outcome window ends by ``end`` (the test cutoff when one is
        held out: nothing after it is seen).
    horizon : duration, default "30D"
        How long a silence after an anchor counts as dropping off.
    journey_map : JourneyMap, optional
        Which touchpoints are actionable; default the log's.
    max_rows : int, default 300_000
        At most this many anchors, sampled at random: all treated ones up to
        half of it, and as many reference ones (customer-initiated events).
    random_state : int, default 0
        Seed of the sampling of anchors.
    C : float, default 1.0
        See :class:`TouchpointResponseModel`.
    min_deliveries : int, default 30
        See :class:`TouchpointResponseModel`.

    Returns
    -------
    TouchpointResponseModel
        Fitted on the anchors of the period.
    """
    from cjml.effects import build_anchors

    anchors = build_anchors(
        log,
        featurizer,
        start=start,
        end=end,
        horizon=horizon,
        journey_map=journey_map,
        max_rows=max_rows,
        random_state=random_state,
    )
    return fit_response_on_anchors(anchors, churn_model, C=C, min_deliveries=min_deliveries)


def fit_response_on_anchors(
    anchors, churn_model, *, C=1.0, min_deliveries=30
) -> TouchpointResponseModel:
    """Fit the response model on anchor rows from :func:`cjml.effects.build_anchors`.

    Parameters
    ----------
    anchors : AnchorSet
        Anchor rows.
    churn_model : ChurnModel
        Fitted churn model; its score is the response model's adjustment.
    C, min_deliveries
        See :class:`TouchpointResponseModel`.

    Returns
    -------
    TouchpointResponseModel
    """
    names = np.asarray((None,) + tuple(anchors.touchpoints), dtype=object)
    base = churn_model.predict_proba(anchors.X)[:, 1]
    return TouchpointResponseModel(C=C, min_deliveries=min_deliveries).fit(
        anchors.X, anchors.y.astype(int), touchpoint=names[anchors.arm], base_risk=base
    )


@dataclass
class _Estimates:
    """Everything the recommender computed for a set of customers (arrays aligned)."""

    customer_ids: pd.Index
    stage: np.ndarray  # stage index, -1 when unknown
    risk: np.ndarray  # current churn risk
    reach: np.ndarray  # probability that they are still there to receive a touchpoint
    risk_if_there: np.ndarray
    after: np.ndarray  # (n, T) expected risk after each touchpoint; NaN when not eligible
    allowed: np.ndarray  # (n, T) eligible and allowed by the rules
    blocked: np.ndarray  # (n, T) int: why an eligible touchpoint is ruled out (0: it is not)
    blocked_texts: np.ndarray  # the reasons, by code
    low: np.ndarray  # (n, T) lower end of the interval on the reduction; NaN when unknown
    high: np.ndarray  # (n, T) upper end
    evidence: np.ndarray  # (n, T) treated anchors in the customer's stage (-1 when unknown)
    method: str  # the method the estimates come from
    policy_reason: str  # why the bundle's policy was kept ("" when not from a policy)
    value: np.ndarray | None = None  # value if retained (NaN when unknown); None: no value model
    # (n, T) int: which experimental evidence an estimate rests on, an index into
    # ``measured_entries`` (-1: observational)
    measured: np.ndarray | None = None
    measured_entries: list = field(default_factory=list)
    # the share of the method's predicted reductions: ``after`` holds the scaled reductions,
    # ``low`` and ``high`` the model's interval width around them
    confirmed: float = 1.0


#: With ``method="s-learner"``: the fewest deliveries in the training history for a
#: touchpoint to be estimated (as the response model's ``min_deliveries``). The churn
#: model never saw a touchpoint the history did not deliver: rescoring a history with it
#: measures only what any event now would do.
S_LEARNER_MIN_DELIVERIES = 30

#: The methods a recommender can use; "auto" follows the policy the bundle chose.
METHODS = (
    "auto",
    "dr-rank",
    "dr-point",
    "dr",
    "response",
    "s-learner",
    "single",
    "naive",
    "no action",
)


class TouchpointRecommender:
    """Rank, for each customer, the touchpoints most likely to prevent drop-off.

    See the module docstring for the method and its limits.

    Parameters
    ----------
    churn_model : ChurnModel
        A fitted churn model (calibrated probabilities).
    featurizer : JourneyFeaturizer
        The fitted featurizer the model was trained on.
    journey_map : JourneyMap, optional
        Stages, eligibility and costs; default the featurizer's.
    response_model : TouchpointResponseModel, optional
        Needed by ``method="response"``; :func:`cjml.train` fits it and
        :meth:`from_bundle` passes it.
    method : str, default "auto"
        How each touchpoint's effect is estimated and which are recommended:
        ``"auto"`` follows the policy :func:`cjml.train` chose by off-policy
        value (``policy``); ``"dr-rank"`` the touchpoint with the best
        doubly robust effect for each customer, unless its interval says it
        surely raises the risk (the best touchpoint if the customer is
        contacted at all: effects relative to one another are better known
        than effects relative to doing nothing); ``"dr-point"`` only those
        expected to lower the risk; ``"dr"`` only those whose interval says
        they lower it; ``"response"`` the response model; ``"s-learner"`` the
        churn model rescored with the touchpoint; ``"single"`` the one
        touchpoint of the policy; ``"naive"`` its stage rule; ``"no action"``
        nothing. See :mod:`cjml.effects` and the module docstring.
    rules : RecommendationRules, dict, path or None
        Business rules (exclusions, contact caps, minimum risk, budget, costs).
    top_k : int, default 3
        Touchpoints listed per customer.
    batch_customers : int, default 10_000
        With ``method="s-learner"``: customers whose candidate rows are built
        and scored together; bounds memory.
    effects_model : DoublyRobustEffects, optional
        The doubly robust effects (intervals, evidence, overlap); fitted by
        :func:`cjml.train`.
    policy : PolicyChoice, optional
        The policy chosen at training; needed by ``method="auto"``.
    n_jobs : int, optional
        Threads of the featurizer and of the churn model's and the effects'
        LightGBM while recommending (their own settings come back after);
        default each one's own (see :class:`~cjml.ChurnModel`).
    value_model : ValueModel, optional
        Each customer's expected spend over the horizon if retained
        (:class:`cjml.ValueModel`, fitted by :func:`cjml.train` on events with
        amounts): the recommendations then say what they keep, net of cost,
        and ``rank_by="value_saved"`` (the default with "auto") ranks by it.
    currency : str, optional
        ISO 4217 code of the amounts and costs, for the reasons ("keeps about
        $35.00 of expected spend..."); default plain rounded numbers.
    effect_evidence : dict, optional
        Per touchpoint, the evidence its effect rests on, as :func:`cjml.train`
        records it in ``bundle.metadata["effect_evidence"]`` (with
        ``experiments=``): touchpoints measured in a campaign with a control
        group have their estimates shifted to the measured effect and take the
        experiment's interval (:mod:`cjml.experiments`); the others keep the
        observational estimates.
    deliveries : dict, optional
        How often the training history delivered each actionable touchpoint,
        as :func:`cjml.train` records it in
        ``bundle.metadata["recommender"]["deliveries"]``. With
        ``method="s-learner"``, touchpoints delivered fewer than
        :data:`S_LEARNER_MIN_DELIVERIES` times are not estimated; without it,
        the response model's counts, else every touchpoint is estimated.

    Examples
    --------
    >>> import cjml
    >>> from cjml.datasets import load_sample
    >>> log = cjml.read_events(load_sample())
    >>> bundle, _ = cjml.train(log, holdout=False)  # doctest: +SKIP
    >>> rules = {"exclude": ["email"], "caps": {"any": {"max": 3, "days": 30}}}
    >>> rec = cjml.TouchpointRecommender.from_bundle(bundle, rules=rules)  # doctest: +SKIP
    >>> rec.recommend(log, lookback="90D").head()  # doctest: +SKIP

    Each row is a customer: their current risk, the probability that they are
    still there to be reached, the top touchpoints with the expected risk
    after each and the reduction, and a one-line reason.
    """

    def __init__(
        self,
        churn_model,
        featurizer,
        journey_map=None,
        *,
        response_model=None,
        method="auto",
        rules=None,
        top_k=3,
        batch_customers=10_000,
        effects_model=None,
        policy=None,
        n_jobs=None,
        value_model=None,
        currency=None,
        effect_evidence=None,
        deliveries=None,
    ):
        self.deliveries = deliveries
        self._bundle = None  # set by from_bundle: how to read events given as a file or frame
        self.effect_evidence = effect_evidence
        self.value_model = value_model
        self.currency = currency
        self.effects_model = effects_model
        self.policy = policy
        self.churn_model = churn_model
        self.featurizer = featurizer
        self.journey_map = journey_map
        self.response_model = response_model
        self.method = method
        self.rules = rules
        self.top_k = top_k
        self.batch_customers = batch_customers
        self.n_jobs = n_jobs

    @classmethod
    def from_bundle(
        cls, bundle, *, rules=None, top_k=3, method="auto", n_jobs=None, currency=None
    ) -> TouchpointRecommender:
        """The recommender of a trained :class:`~cjml.ModelBundle`.

        Parameters
        ----------
        bundle : ModelBundle
            Trained by :func:`cjml.train`, which fits the effects, the response
            model and chooses the policy.
        rules : RecommendationRules, dict, path or None
            Business rules.
        top_k : int, default 3
            Touchpoints listed per customer.
        method : str, default "auto"
            See the class docstring; "auto" follows the policy chosen at
            training (the response model for a bundle that has none).
        n_jobs : int, optional
            Threads while recommending (see the class docstring).
        currency : str, optional
            ISO 4217 code of the amounts, for the reasons; default the
            bundle's ``metadata["currency"]`` when it has one, else plain numbers.

        Returns
        -------
        TouchpointRecommender
            With the bundle's value model, when it has one, and the
            experimental evidence it was trained with
            (``metadata["effect_evidence"]``).
        """
        models = bundle.models
        response = models.get("touchpoint_response")
        effects, policy = models.get("touchpoint_effects"), models.get("touchpoint_policy")
        why = why_no_recommendations(bundle)
        deliveries = (bundle.metadata.get("recommender") or {}).get("deliveries")
        # the churn model alone (s-learner) can only estimate touchpoints the map lets it try
        # and the history delivered (bundles from before the counts were kept: any)
        learnable = bool(bundle.journey_map.actionable_touchpoints) and (
            deliveries is None or any(v >= S_LEARNER_MIN_DELIVERIES for v in deliveries.values())
        )
        if why is not None and (method != "s-learner" or not learnable):
            alone = (
                "Estimate the effects from the churn model alone with --method s-learner "
                "(method='s-learner'), or score"
                if learnable
                else "Score"
            )
            raise CjmlError(
                f"{why} {alone} the risks without recommendations (recommend=False; "
                "cjml score --no-recommend)."
            )
        recommender = cls(
            models["churn"],
            bundle.featurizer,
            bundle.journey_map,
            response_model=response,
            method=method,
            rules=rules,
            top_k=top_k,
            effects_model=effects,
            policy=policy,
            n_jobs=n_jobs,
            value_model=models.get("value"),
            currency=currency if currency is not None else bundle.metadata.get("currency"),
            effect_evidence=bundle.metadata.get("effect_evidence"),
            deliveries=deliveries,
        )
        recommender._bundle = bundle
        return recommender

    def _method(self) -> str:
        """The method in force: ``method``, or the bundle's policy with "auto"."""
        if self.method not in METHODS:
            raise CjmlError(
                f"method must be one of {list(METHODS)!r}, got {self.method!r}."
                f"{_did_you_mean(str(self.method), METHODS)}"
            )
        if self.method != "auto":
            return self.method
        if self.policy is not None:
            return self.policy.policy
        return "dr" if self.effects_model is not None else "response"

    # ------------------------------------------------------------------ setup
    def _map(self) -> JourneyMap:
        if self.journey_map is not None:
            return JourneyMap.coerce(self.journey_map)
        return self.featurizer.journey_map_

    def _rules(self, jm: JourneyMap) -> RecommendationRules:
        rules = RecommendationRules.coerce(self.rules)
        rules.check(jm)
        if rules.rank_by == "value_saved" and self.value_model is None:
            raise RulesError(
                "rank_by = 'value_saved' needs each customer's value, but this bundle has no "
                "value model (cjml train fits one when the events have an amount column). "
                "Fix: rank_by = 'reduction' (--rank-by reduction), or retrain on events with "
                "amounts."
            )
        return rules

    # ------------------------------------------------------------------ estimates
    def _log(self, log) -> EventLog:
        """The events as an :class:`EventLog`: read as the bundle's training log was, or
        in the recommender's vocabulary."""
        if self._bundle is not None:
            return as_log(log, self._bundle)
        if not isinstance(log, EventLog):
            return read_events(log, journey_map=self._map())
        return log

    def _recommend_in_parts(
        self, log: EventLog, cutoff, top_k: int, lookback, customers=None
    ) -> pd.DataFrame:
        """:meth:`recommend` of a large log or list, :data:`RECOMMEND_PART_CUSTOMERS` of
        the log's customers at a time: the same table (each customer's row depends on
        their own history only), with the features and every candidate's estimates of one
        part in memory at once. A list keeps its order, and its customers absent from the
        events (recommended for on their own, with no history)."""
        at = _resolve_cutoff(log, cutoff)  # the whole log's last event, not each part's
        bounds = [*range(0, log.n_customers, RECOMMEND_PART_CUSTOMERS), log.n_customers]
        ranges = list(itertools.pairwise(bounds))
        jm = self._map()
        rules = self._rules(jm)
        # A budget ranks every customer against every other: the parts are recommended
        # without it, and it is applied to their joined table, in the same row order
        part_rules = replace(rules, budget=None)
        if customers is None:
            parts = [
                self._recommend_at_once(
                    log._customer_range(a, b),
                    cutoff=at,
                    top_k=top_k,
                    lookback=lookback,
                    rules=part_rules,
                )
                for a, b in ranges
            ]
            # a part none of whose customers is in the population has no typed columns
            table = _joined([p for p in parts if len(p)] or parts[:1])
            return _within_budget(table, rules, jm, top_k)
        listed = pd.Index(customers)
        codes = pd.Index(log.customer_ids).get_indexer(listed)  # -1: not in the events
        parts, where = [], []
        absent = np.flatnonzero(codes < 0)  # asked with the first part, for its column types
        for a, b in ranges:
            rows = np.flatnonzero((codes >= a) & (codes < b))
            if len(rows) and not parts:
                rows = np.r_[rows, absent]
            if len(rows):
                parts.append(
                    self._recommend_at_once(
                        log._customer_range(a, b),
                        cutoff=at,
                        top_k=top_k,
                        customers=listed[rows],
                        lookback=lookback,
                        rules=part_rules,
                    )
                )
                where.append(rows)
        if not parts:  # nobody listed is in the events
            return self._recommend_at_once(
                log, cutoff=at, top_k=top_k, customers=listed, lookback=lookback
            )
        table = _joined(parts).iloc[np.argsort(np.concatenate(where), kind="stable")]
        return _within_budget(table, rules, jm, top_k)

    def _estimate(
        self, log, cutoff, features, churn_risk, customers=None, lookback=None, value=None
    ) -> _Estimates:
        jm = self._map()
        log = self._log(log)
        if not jm.actionable_touchpoints:
            raise CjmlError(
                f"Journey map {jm.name!r} marks no touchpoint as actionable, so there is "
                "nothing to recommend: mark the touchpoints the business delivers with "
                "actionable = true and a cost (README: 'Journey maps'), or score the risks "
                "without recommendations (recommend=False; cjml score --no-recommend)."
            )
        rules = self._rules(jm)
        cutoff_ts = _resolve_cutoff(log, cutoff)
        names = list(self.featurizer.get_feature_names_out())
        if features is None:
            features = self.featurizer.transform(log, cutoff=cutoff_ts)
        missing = [c for c in names if c not in features.columns]
        if missing:
            raise CjmlError(
                f"features lack {len(missing)} of the model's columns, e.g. "
                f"{missing[:3]!r}; pass the output of the bundle's featurizer at the "
                f"same cutoff."
            )
        X = features[names]
        if customers is not None:
            X = X.reindex(pd.Index(customers, name=X.index.name))
        elif lookback is not None:
            # the population: customers with an event in (cutoff - lookback, cutoff], who
            # have not left explicitly (a cancellation), as in make_labels
            recent = (
                _last_event_ns(log, X.index, cutoff_ts)
                > (cutoff_ts - to_timedelta(lookback, "lookback")).value
            )
            gone = log.gone_at(cutoff_ts.value)
            if gone is not None:
                where = pd.Index(log.customer_ids).get_indexer(X.index)
                recent &= ~np.where(where >= 0, gone[np.maximum(where, 0)], False)
            X = X[recent]
            if churn_risk is not None:
                churn_risk = np.asarray(churn_risk, dtype=float)[recent]
            if value is not None:
                value = np.asarray(value, dtype=float)[recent]
        n = len(X)
        ids = X.index
        # X as float32 once, for every model fitted on the churn model's columns in its
        # order (each conversion of a large batch is a fresh matrix the kernel must zero)
        churn_names = list(getattr(self.churn_model, "feature_names_in_", []))
        converted: list[np.ndarray] = []

        def shared(names_in) -> np.ndarray | None:
            if not n or list(names_in) != churn_names:
                return None
            if not converted:
                converted.append(self.churn_model.feature_matrix(X))
            return converted[0]

        if churn_risk is None:
            risk = self.churn_model.predict_proba(shared(churn_names))[:, 1] if n else np.empty(0)
        else:
            risk = np.asarray(churn_risk, dtype=float)
            if risk.shape != (n,):
                raise CjmlError(
                    f"churn_risk has {risk.shape[0] if risk.ndim else 0} values for "
                    f"{n} customers; pass one per row of features, in their order."
                )
        if value is not None:
            value = np.asarray(value, dtype=float)
            if value.shape != (n,):
                raise CjmlError(
                    f"value_if_retained has {value.shape[0] if value.ndim else 0} values for "
                    f"{n} customers; pass one per row of features, in their order."
                )
        elif self.value_model is not None:
            M = shared(getattr(self.value_model, "feature_names_in_", ()))
            value = (
                np.asarray(self.value_model.predict(X if M is None else M), dtype=float)
                if n
                else np.empty(0)
            )

        seen, risk_if_there, reach, X_last = still_there(
            self.featurizer, self.churn_model, log, ids, risk, cutoff_ts
        )
        X_at_last = X  # the history right after each customer's last event
        decision = self.effects_model is not None and self.effects_model.design == "decision"
        if X_last is not None and decision:
            X_at_last = X.copy()
            rows = np.flatnonzero(seen)
            for c in names:
                values = X_at_last[c].to_numpy(dtype=float, copy=True)
                values[rows] = X_last[c].to_numpy(dtype=float)
                X_at_last[c] = values
        risk = np.where(seen, risk, np.nan)  # no history: no risk to speak of, nor to act on
        if value is not None:
            value = np.where(seen, value, np.nan)

        touchpoints = list(jm.actionable_touchpoints)
        stage = _stage_index(X, jm)
        eligible = np.zeros((n, len(touchpoints)), dtype=bool)
        elig_map = jm.eligibility_matrix()[:, [jm.touchpoint_names.index(t) for t in touchpoints]]
        known_stage = stage >= 0
        eligible[known_stage] = elig_map[stage[known_stage]]
        eligible[~known_stage] = elig_map.any(axis=0)  # no stage recorded: any actionable one
        eligible &= seen[:, None] & ~np.isnan(risk_if_there)[:, None]

        deliverable = eligible.copy()  # what the map allows, before any estimate or rule
        method = self._method()
        # the share of this method's predicted reductions the held-out period bore out at
        # training (PolicyChoice.confirmed): every estimate is scaled by it (a customer's
        # touchpoints keep their order by reduction)
        confirmed = 1.0 if self.policy is None else self.policy.confirmed(method)
        T = len(touchpoints)
        after = np.full((n, T), np.nan)
        low, high = np.full((n, T), np.nan), np.full((n, T), np.nan)
        evidence = np.full((n, T), -1, dtype=np.int64)
        no_overlap = np.zeros((n, T), dtype=bool)
        estimated = np.zeros(T, dtype=bool)
        dr = self.effects_model
        dr_cols: list[int] = []
        if dr is not None and n:
            dr_cols = [touchpoints.index(t) for t in dr.touchpoints if t in touchpoints]
            # Effects learned right after customers' events are predicted there. One
            # touchpoint (or one per stage) for everyone: its value was measured as such, so
            # customers unlike those who received it are estimated too. Only customers with
            # something deliverable are estimated (the models cost more than the rest).
            rows = np.flatnonzero(eligible.any(axis=1))
            base_risk = risk_if_there if X_at_last is not X else risk
            effect = np.full((n, len(dr.touchpoints)), np.nan)
            lo, hi = effect.copy(), effect.copy()
            if len(rows):
                every = len(rows) == n
                M = shared(dr.feature_names) if X_at_last is X else None
                effect[rows], lo[rows], hi[rows] = dr.predict(
                    X_at_last if every else X_at_last.iloc[rows],  # no copy of all
                    base_risk=base_risk[rows],
                    overlap=method not in ("single", "naive"),
                    matrix=M if M is None or every else M[rows],
                )
            keep = [dr.touchpoints.index(touchpoints[j]) for j in dr_cols]
            effect, lo, hi = effect[:, keep], lo[:, keep], hi[:, keep]
            low[:, dr_cols] = reach[:, None] * -hi  # a negative effect on P(silent) helps
            high[:, dr_cols] = reach[:, None] * -lo
            # the estimate scaled by the confirmed share, the interval keeping the model's
            # width around it: the share is itself uncertain, so the interval never narrows
            shift = (1.0 - confirmed) * (low[:, dr_cols] + high[:, dr_cols]) / 2
            low[:, dr_cols] -= shift
            high[:, dr_cols] -= shift
            no_overlap[:, dr_cols] = np.isnan(effect)
            table = dr.evidence
            counts = np.zeros((len(jm.stages) + 1, T), dtype=np.int64)
            arm_to_col = {
                dr.all_touchpoints.index(t) + 1: touchpoints.index(t)
                for t in dr.all_touchpoints
                if t in touchpoints
            }
            for s_, a, c in table[["stage", "arm", "n"]].itertuples(index=False):
                if a in arm_to_col and -1 <= s_ < len(jm.stages):
                    counts[s_, arm_to_col[a]] += c  # index -1: stage unknown (last row)
            evidence = counts[stage]
        if method in ("dr-rank", "dr", "dr-point", "single", "naive", "no action"):
            if dr is None:
                raise CjmlError(
                    f"method={method!r} needs the doubly robust effects that "
                    "cjml.train fits; build the recommender with "
                    "TouchpointRecommender.from_bundle(bundle) from a bundle trained "
                    "by this version of cjml."
                )
            estimated[dr_cols] = True
            with np.errstate(invalid="ignore"):
                after[:, dr_cols] = risk[:, None] - (low[:, dr_cols] + high[:, dr_cols]) / 2
            min_deliveries = dr.min_deliveries
        elif method == "response":
            if self.response_model is None:
                raise CjmlError(
                    "method='response' needs a fitted response_model; build the "
                    "recommender with TouchpointRecommender.from_bundle(bundle)."
                )
            model = self.response_model
            known = [touchpoints.index(t) for t in model.touchpoints_ if t in touchpoints]
            estimated[known] = True
            engaged, treated = model.predict_risks(X, risk)
            cols = [model.touchpoints_.index(touchpoints[j]) for j in known]
            after[:, known] = risk[:, None] - confirmed * reach[:, None] * (
                engaged[:, None] - treated[:, cols]
            )
            min_deliveries = model.min_deliveries
        elif method == "s-learner":
            min_deliveries = S_LEARNER_MIN_DELIVERIES
            counts = self.deliveries
            if counts is None and self.response_model is not None:
                counts = self.response_model.deliveries_
            estimated[:] = (
                True
                if counts is None
                else [counts.get(t, 0) >= min_deliveries for t in touchpoints]
            )
            eligible[:, ~estimated] = False  # never delivered enough: not rescored
            step = max(int(self.batch_customers), 1)
            for start in range(0, n, step):
                rows = np.arange(start, min(start + step, n))
                r_idx, t_idx = np.nonzero(eligible[rows])
                if len(r_idx) == 0:
                    continue
                r_idx = rows[r_idx]
                cand = self.featurizer.with_event(
                    X.iloc[r_idx], np.asarray(touchpoints, dtype=object)[t_idx], cutoff=cutoff_ts
                )
                with_t = self.churn_model.predict_proba(cand[names])[:, 1]
                after[r_idx, t_idx] = risk[r_idx] - reach[r_idx] * (risk_if_there[r_idx] - with_t)
        if method in ("response", "s-learner"):
            # the doubly robust interval's width, around this method's own estimate
            centre = (low + high) / 2
            with np.errstate(invalid="ignore"):
                low, high = (
                    (risk[:, None] - after) - (centre - low),
                    (risk[:, None] - after) + (high - centre),
                )
        measured, entries = _apply_evidence(
            _check_evidence(self.effect_evidence),
            touchpoints,
            risk,
            reach,
            after,
            low,
            high,
            lambda: _segment_labels(self.featurizer, X),
        )
        unestimated = [j for j in range(T) if not estimated[j]]
        eligible[:, unestimated] = False  # too rarely delivered to estimate: never ranked
        after[~eligible] = np.nan
        np.clip(after, 0.0, 1.0, out=after)
        # the interval follows the clipped estimate: a reduction cannot exceed the risk
        unknown = np.isnan(after) | np.isnan(low) | np.isnan(high)
        with np.errstate(invalid="ignore"):
            reduction = risk[:, None] - after
            high = np.fmax(np.fmin(high, risk[:, None]), reduction)
            low = np.fmin(np.fmax(low, risk[:, None] - 1.0), reduction)
        low[unknown] = np.nan
        high[unknown] = np.nan

        # Why a touchpoint is ruled out: a code into ``texts`` (0: it is not).
        blocked = np.zeros((n, T), dtype=np.int16)
        texts = [""]

        def block(mask: np.ndarray, text: str) -> None:
            texts.append(text)
            blocked[mask & (blocked == 0)] = len(texts) - 1

        if unestimated:
            mask = np.zeros((n, T), dtype=bool)
            mask[:, unestimated] = deliverable[:, unestimated]
            block(
                mask,
                _(
                    "delivered fewer than {n} times in the training history, so its effect "
                    "is not estimated"
                ).format(n=format_number(min_deliveries)),
            )
        for k, entry in enumerate(entries):  # one sentence per campaign (and segment)
            harmful = (measured == k) & (float(entry["high"]) < 0)
            if harmful.any():
                block(
                    harmful & eligible,
                    _("measured in campaign {campaign} to raise the drop-off risk").format(
                        campaign=entry["campaign_id"]
                    ),
                )
        # what a campaign measured as helping (interval above zero): the evidence a policy
        # of no action, one touchpoint or the naive rule lacked, so "auto" lets it through
        proven = np.zeros((n, T), dtype=bool)
        for k, entry in enumerate(entries):
            if self.method == "auto" and float(entry["low"]) > 0:
                proven |= measured == k
        if method in ("dr-rank", "dr", "dr-point"):
            block(
                no_overlap & eligible,
                _(
                    "no comparable customers received it (no overlap), so its effect is not "
                    "estimated"
                ),
            )
        policy = self.policy  # its single touchpoint and stage rule serve the explicit methods too
        reason = "" if policy is None or self.method != "auto" else policy.reason
        if method == "dr":
            with np.errstate(invalid="ignore"):
                block(
                    eligible & ~(low > 0),
                    _(
                        "not enough evidence that it helps (the interval on "
                        "the reduction includes no effect)"
                    ),
                )
        elif method == "dr-rank":
            with np.errstate(invalid="ignore"):
                block(
                    eligible & (high < 0),
                    _(
                        "it surely raises the risk (the whole interval on the reduction is "
                        "below zero)"
                    ),
                )
        elif method == "single":
            chosen = None if policy is None else policy.touchpoint
            if chosen is None:  # without a policy: the best mean effect over these customers
                chosen = dr.best_single(X) or ""
            mask = np.ones((n, T), dtype=bool)
            if chosen in touchpoints:
                j = touchpoints.index(chosen)
                mask[:, j] = False
                # a customer the map does not offer it to is told that, not why it was kept
                block(
                    mask & eligible & ~proven & ~deliverable[:, [j]],
                    _(
                        "the policy kept gives {touchpoint} to every eligible customer it is "
                        "expected to help, and "
                        "the journey map does not offer it in this customer's stage"
                    ).format(touchpoint=label_text(chosen, lower=True)),
                )
            block(
                mask & eligible & ~proven,
                (
                    _(
                        "the policy kept gives {touchpoint} to every eligible customer it is "
                        "expected to help ({why})"
                    )
                    if reason
                    else _(
                        "the policy kept gives {touchpoint} to every eligible customer it is "
                        "expected to help"
                    )
                ).format(touchpoint=label_text(chosen, lower=True), why=reason),
            )
        elif method == "naive":
            rule = {} if policy is None else policy.stage_rule
            mask = np.ones((n, T), dtype=bool)
            for s_, t in rule.items():
                if t in touchpoints:
                    mask[stage == int(s_), touchpoints.index(t)] = False
            block(
                mask & eligible & ~proven,
                _(
                    "the policy kept gives each stage the touchpoint after which "
                    "customers most often came back"
                ),
            )
        elif method == "no action":
            block(
                eligible & ~proven,
                reason or _("no touchpoint is recommended (method='no action')"),
            )
        for name in rules.exclude:
            texts.append(_("excluded by the rules"))
            blocked[:, touchpoints.index(name)] = len(texts) - 1
        for cap in rules.caps:
            used = _contacts(log, ids, cutoff_ts, cap, jm)
            full = used >= cap.max_contacts
            texts.append(
                (
                    _("cap reached: {n} contacts in {days} days")
                    if cap.touchpoint == ANY_CONTACT
                    else _("cap reached: {n} {touchpoint} in {days} days")
                ).format(
                    n=format_number(cap.max_contacts),
                    days=f"{cap.days:g}",
                    touchpoint=label_text(cap.touchpoint, lower=True),
                )
            )
            capped = (
                range(T) if cap.touchpoint == ANY_CONTACT else [touchpoints.index(cap.touchpoint)]
            )
            for j in capped:
                blocked[full & (blocked[:, j] == 0), j] = len(texts) - 1
        allowed = eligible & (blocked == 0)
        return _Estimates(
            ids,
            stage,
            risk,
            reach,
            risk_if_there,
            after,
            allowed,
            blocked,
            np.asarray(texts, dtype=object),
            low,
            high,
            evidence,
            method,
            reason,
            value,
            measured,
            entries,
            confirmed,
        )

    def effects(
        self, log, *, cutoff=None, features=None, churn_risk=None, lookback=None, customers=None
    ) -> pd.DataFrame:
        """Expected risk after each eligible touchpoint, for every customer.

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events (the history before the cutoff is used).
        cutoff : date, optional
            When the touchpoints would be delivered; default the log's last
            timestamp.
        features : DataFrame, optional
            The featurizer's output at the cutoff, when already computed.
        churn_risk : array, optional
            The churn model's risk for those rows, when already computed.
        lookback : duration, optional
            Only customers with an event this far before the cutoff (the
            models' population, e.g. the bundle's ``metadata["lookback"]``);
            default every customer with an event before the cutoff.
        customers : list-like, optional
            Only these customers (e.g. a campaign's), instead of ``lookback``'s.

        Returns
        -------
        DataFrame
            One row per customer and eligible touchpoint: ``customer_id,
            stage, touchpoint, baseline_risk, expected_risk, risk_reduction,
            risk_reduction_low, risk_reduction_high`` (the interval, NaN when
            unknown), ``evidence`` (treated customers in the stage the
            estimate rests on), ``reach_probability, cost, allowed,
            blocked_by`` (why it is ruled out, empty when allowed).
        """
        with _threads_of(self.n_jobs, self.featurizer, self.churn_model, self.effects_model):
            est = self._estimate(
                log, cutoff, features, churn_risk, customers=customers, lookback=lookback
            )
        jm = self._map()
        touchpoints = list(jm.actionable_touchpoints)
        costs = self._rules(jm).unit_costs(jm)
        r, t = np.nonzero(~np.isnan(est.after))
        stages = np.asarray(jm.stages + (None,), dtype=object)
        return pd.DataFrame(
            {
                "customer_id": est.customer_ids.take(r),
                "stage": stages[est.stage[r]],
                "touchpoint": np.asarray(touchpoints, dtype=object)[t],
                "baseline_risk": est.risk[r],
                "expected_risk": est.after[r, t],
                "risk_reduction": est.risk[r] - est.after[r, t],
                "risk_reduction_low": est.low[r, t],
                "risk_reduction_high": est.high[r, t],
                "evidence": est.evidence[r, t],
                "reach_probability": est.reach[r],
                "cost": np.asarray([costs[x] for x in touchpoints])[t],
                "allowed": est.allowed[r, t],
                "blocked_by": est.blocked_texts[est.blocked[r, t]],
            }
        )

    def recommend(
        self,
        log,
        *,
        cutoff=None,
        features=None,
        churn_risk=None,
        top_k=None,
        customers=None,
        lookback=None,
        value_if_retained=None,
    ) -> pd.DataFrame:
        """The top touchpoints for each customer, with their expected effect and a reason.

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events (the history before the cutoff is used).
        cutoff : date, optional
            When the touchpoints would be delivered; default the log's last
            timestamp.
        features : DataFrame, optional
            The featurizer's output at the cutoff, when already computed.
        churn_risk : array, optional
            The churn model's risk for those rows, when already computed.
        top_k : int, optional
            Touchpoints per customer; default the recommender's ``top_k``.
        customers : list-like, optional
            Only these customers (in this order); those with no event before
            the cutoff get no recommendation and say so.
        lookback : duration, optional
            Without ``customers``: only customers with an event this far
            before the cutoff (the models' population, e.g. the bundle's
            ``metadata["lookback"]``); default every customer with an event
            before the cutoff.
        value_if_retained : array, optional
            Each row of ``features``' expected spend over the horizon if the
            customer stays, when already computed; default the value model's
            prediction (no values without a value model).

        Returns
        -------
        DataFrame
            Indexed by ``customer_id``: ``stage, baseline_risk,
            reach_probability`` (the chance they are still there to receive
            it), with a value model ``value_if_retained, expected_value``
            (``(1 - baseline_risk) * value_if_retained``), then
            ``recommended_touchpoint, expected_risk,
            expected_risk_reduction``, with a value model
            ``expected_value_saved`` (``expected_risk_reduction *
            value_if_retained - cost``: the reduction already counts the
            chance of reaching them), its interval
            ``expected_risk_reduction_low, expected_risk_reduction_high`` (NaN
            when unknown), ``evidence`` (how many customers in the same stage
            received it in the history), ``evidence_source`` ("experiment"
            when the effect rests on a campaign with a control group, see
            :mod:`cjml.experiments`, else "observational"), ``uncertain`` (True when the interval
            includes no effect), ``cost``, the same with suffix ``_2`` ...
            ``_k`` for the next ranks (alternatives to the first: their values
            saved never add up), and ``reason`` (one line). Touchpoints that
            are not expected to lower the risk by more than the rules'
            ``min_reduction`` are never recommended, nor, when ranking by value
            saved, those that cost more than they keep.
        """
        top_k = self.top_k if top_k is None else top_k
        if int(top_k) != top_k or top_k < 1:
            raise CjmlError(f"top_k must be a whole number of at least 1, got {top_k!r}.")
        top_k = int(top_k)
        if features is None and churn_risk is None and value_if_retained is None:
            log = self._log(log)
            many = log.n_customers if customers is None else len(customers)
            if many > RECOMMEND_PART_CUSTOMERS:
                return self._recommend_in_parts(log, cutoff, top_k, lookback, customers)
        return self._recommend_at_once(
            log,
            cutoff=cutoff,
            top_k=top_k,
            customers=customers,
            lookback=lookback,
            features=features,
            churn_risk=churn_risk,
            value_if_retained=value_if_retained,
        )

    def _recommend_at_once(
        self,
        log,
        *,
        cutoff,
        top_k: int,
        customers=None,
        lookback=None,
        features=None,
        churn_risk=None,
        value_if_retained=None,
        rules: RecommendationRules | None = None,
    ) -> pd.DataFrame:
        """:meth:`recommend` of every customer asked for at once; ``rules`` in place of
        the recommender's (the parts of :meth:`_recommend_in_parts`: without the budget)."""
        jm = self._map()
        rules = self._rules(jm) if rules is None else rules
        with _threads_of(
            self.n_jobs, self.featurizer, self.churn_model, self.effects_model, self.value_model
        ):
            est = self._estimate(
                log, cutoff, features, churn_risk, customers, lookback, value_if_retained
            )
        touchpoints = np.asarray(jm.actionable_touchpoints, dtype=object)
        cost_map = rules.unit_costs(jm)
        costs = np.array([cost_map[t] for t in touchpoints])
        n = len(est.risk)
        key = rules.rank_key(jm, has_value=est.value is not None)

        reduction = est.risk[:, None] - est.after
        saved = None if est.value is None else _value_saved(reduction, est.value[:, None], costs)
        floor = max(rules.min_reduction, 0.0)
        if floor <= DEFAULT_MIN_REDUCTION:
            # The default floor tells a change from none (a customer almost surely gone has
            # none) on the model's own scale, before the confirmed share scaled it down; a
            # floor the user set is on the reductions shown.
            floor *= est.confirmed
        if est.method == "dr-rank":  # the best touchpoint if contacted, whatever its sign,
            # unless the change is too small to tell from nothing (a customer almost surely gone)
            usable = est.allowed & (np.abs(reduction) > floor)
            if rules.min_reduction > DEFAULT_MIN_REDUCTION:  # a floor on gains the user set
                usable &= reduction > rules.min_reduction
        else:
            usable = est.allowed & (reduction > floor)
        act = est.risk >= rules.min_risk
        usable &= act[:, None]
        # what usable leaves out for its value alone, to say so (value_saved)
        not_worth = np.zeros((n, len(touchpoints)), dtype=bool)
        if key == "value_saved":
            assert saved is not None  # rank_key gives value_saved only with values
            with np.errstate(invalid="ignore"):
                not_worth = usable & ~(saved > 0)
            usable &= ~not_worth
        score = _rank_score(reduction, costs[None, :], saved, key)
        score = np.where(usable, np.nan_to_num(score, nan=np.inf), -np.inf)
        order = np.argsort(-score, axis=1, kind="stable")[:, :top_k]
        ranked = np.take_along_axis(usable, order, axis=1)
        if order.shape[1] < top_k:  # fewer actionable touchpoints than ranks: the rest empty
            pad = ((0, 0), (0, top_k - order.shape[1]))
            order, ranked = np.pad(order, pad), np.pad(ranked, pad)
        rows = np.arange(n)

        over_budget = np.zeros(n, dtype=bool)
        if rules.budget is not None:
            first = order[:, 0]
            first_reduction = np.where(ranked[:, 0], reduction[rows, first], np.nan)
            over_budget = _over_budget(
                first_reduction,
                costs[first],
                rules.budget,
                rank_by=key,
                value_saved=None if saved is None else saved[rows, first],
            )
            ranked &= ~over_budget[:, None]

        out = pd.DataFrame(
            {
                "stage": _text_column(jm.stages, est.stage),
                "baseline_risk": est.risk,
                "reach_probability": est.reach,
            },
            index=est.customer_ids,
        )
        if est.value is not None:
            out["value_if_retained"] = est.value
            out["expected_value"] = (1.0 - est.risk) * est.value
        ranks: dict[str, Any] = {}  # every rank's columns, joined at once (not one by one)
        for k in range(top_k):
            suffix = "" if k == 0 else f"_{k + 1}"
            col, ok = order[:, k], ranked[:, k]
            shown = np.where(ok, col, -1)
            ranks[f"recommended_touchpoint{suffix}"] = _text_column(touchpoints, shown)
            ranks[f"expected_risk{suffix}"] = np.where(ok, est.after[rows, col], np.nan)
            ranks[f"expected_risk_reduction{suffix}"] = np.where(ok, reduction[rows, col], np.nan)
            if saved is not None:
                ranks[f"expected_value_saved{suffix}"] = np.where(ok, saved[rows, col], np.nan)
            ranks[f"expected_risk_reduction_low{suffix}"] = np.where(ok, est.low[rows, col], np.nan)
            ranks[f"expected_risk_reduction_high{suffix}"] = np.where(
                ok, est.high[rows, col], np.nan
            )
            ranks[f"evidence{suffix}"] = np.where(ok, est.evidence[rows, col], -1)
            assert est.measured is not None
            source = (est.measured[rows, col] >= 0).astype(np.int64)  # 1: an experiment's
            ranks[f"evidence_source{suffix}"] = _text_column(
                ["observational", "experiment"], np.where(ok, source, -1)
            )
            with np.errstate(invalid="ignore"):
                ranks[f"uncertain{suffix}"] = ok & ~(est.low[rows, col] > 0)
            ranks[f"cost{suffix}"] = np.where(ok, costs[col], np.nan)
        out = pd.concat([out, pd.DataFrame(ranks, index=out.index)], axis=1)
        best_saved = None
        if key == "value_saved" and not_worth.any():
            assert saved is not None
            best_saved = (np.where(not_worth, saved, -np.inf), costs)
        assert est.measured is not None
        first_measured = np.where(ranked[:, 0], est.measured[rows, order[:, 0]], -1)
        out["reason"] = _reasons(
            est,
            out,
            act,
            over_budget,
            rules,
            jm,
            key=key,
            not_worth=best_saved,
            currency=self.currency,
            measured=first_measured,
        )
        return out


def why_no_recommendations(bundle) -> str | None:
    """Why a trained bundle cannot recommend touchpoints, or None when it can.

    Parameters
    ----------
    bundle : ModelBundle
        A bundle from :func:`cjml.train`.

    Returns
    -------
    str or None
        One or two sentences for the user: the reason recorded at training
        (``metadata["recommender"]["note"]``, e.g. no actionable touchpoint
        delivered often enough) when there is one.
    """
    models = bundle.models
    if "touchpoint_response" in models or "touchpoint_effects" in models:
        return None
    note = (bundle.metadata.get("recommender") or {}).get("note")
    if note:
        end = "" if note.rstrip().endswith(".") else "."  # one sentence ends, the next starts
        return f"This bundle has no touchpoint effects, so it cannot recommend: {note}{end}"
    return (
        "This bundle has no touchpoint effects (it was trained by an older cjml, with "
        "recommender=False, or on a history without enough actionable touchpoints), so "
        "it cannot recommend. Retrain it with cjml train (cjml.train) on a history where "
        "the business delivered actionable touchpoints."
    )


def estimate_effects(
    bundle, log, *, cutoff=None, rules=None, lookback=None, n_jobs=None
) -> pd.DataFrame:
    """Expected risk reduction of every eligible touchpoint for every customer.

    Shorthand for ``TouchpointRecommender.from_bundle(bundle, rules=rules)
    .effects(log, cutoff=cutoff, lookback=lookback)``; used by :func:`cjml.journey_map` for its
    missing-touchpoint opportunities.

    Parameters
    ----------
    bundle : ModelBundle
        Trained by :func:`cjml.train`.
    log : EventLog, DataFrame or path
        The events.
    cutoff : date, optional
        When the touchpoints would be delivered; default the log's last event.
    rules : RecommendationRules, dict, path or None
        Business rules (blocked touchpoints are marked, not removed).
    lookback : duration, optional
        Only customers with an event this far before the cutoff; default
        every customer with an event before it.
    n_jobs : int, optional
        Threads while estimating (see :class:`TouchpointRecommender`).

    Returns
    -------
    DataFrame
        See :meth:`TouchpointRecommender.effects`.
    """
    return TouchpointRecommender.from_bundle(bundle, rules=rules, n_jobs=n_jobs).effects(
        log, cutoff=cutoff, lookback=lookback
    )


# ---------------------------------------------------------------------- helpers
def _value_saved(reduction, value, cost) -> np.ndarray:
    """Expected value saved, net of cost: ``reduction * value - cost``.

    The reduction already counts the chance that the touchpoint reaches the
    customer (see the module docstring), so the value is never multiplied by
    the reach again. No reduction and no cost save exactly 0.

    Parameters
    ----------
    reduction : array of float
        Expected risk reductions (probabilities).
    value : array of float
        The customers' value if retained (broadcast against ``reduction``).
    cost : array of float
        The touchpoints' unit costs (broadcast against ``reduction``).

    Returns
    -------
    ndarray of float
        NaN where any input is.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(reduction, dtype=float) * np.asarray(value, dtype=float) - np.asarray(
            cost, dtype=float
        )


def _no_cost_text(touchpoints: Sequence[str]) -> str:
    """Why the value saved is unknown for these recommended touchpoints, and the fix: they
    have no unit cost (a drafted journey map gives none), and value saved is net of it."""
    names = sorted(str(t) for t in touchpoints)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return ngettext(
        "{names} has no unit cost in the journey map, and value saved is net of cost: add "
        "cost = N under [touchpoints.{first}] in the map, or a [costs] table in the rules",
        "{names} have no unit cost in the journey map, and value saved is net of cost: add "
        "cost = N under [touchpoints.{first}] and the others in the map, or a [costs] table "
        "in the rules",
        len(names),
    ).format(names=shown, first=names[0] if names else "NAME")


def _rank_score(reduction, cost, value_saved, rank_by: str) -> np.ndarray:
    """The number that orders touchpoints (and customers, under a budget), larger first.

    The expected reduction, the reduction per unit cost (a free touchpoint's
    is NaN: the caller puts it first) or the expected value saved, as
    ``rank_by`` says (:meth:`RecommendationRules.rank_key`).
    """
    if rank_by == "value_saved":
        return np.asarray(value_saved, dtype=float)
    reduction = np.asarray(reduction, dtype=float)
    if rank_by == "reduction_per_cost":
        with np.errstate(divide="ignore", invalid="ignore"):
            return reduction / np.where(np.asarray(cost) > 0, cost, np.nan)
    return reduction


def _over_budget(reduction, cost, budget, *, rank_by, value_saved=None) -> np.ndarray:
    """Which customers a budget leaves without a recommendation.

    Customers are served in order of the ranking score of their first-ranked
    touchpoint (:func:`_rank_score`: its expected risk reduction, the
    reduction per unit cost, a free touchpoint first, or the value saved),
    ties in the order given, until the cumulative cost of their first-ranked
    touchpoints exceeds the budget; every customer from there on is past it.
    This is the one definition of the budget rule:
    :meth:`TouchpointRecommender.recommend` applies it to its customers,
    :func:`cjml.score` to the whole run (in customer id order, the
    recommender's row order).

    Parameters
    ----------
    reduction : array of float
        Each customer's expected risk reduction of their first-ranked
        touchpoint; NaN for customers without a recommendation.
    cost : array of float
        The unit cost of that touchpoint (ignored where ``reduction`` is NaN).
    budget : float
        Total cost allowed.
    rank_by : {"reduction", "reduction_per_cost", "value_saved"}
        The ranking key (:meth:`RecommendationRules.rank_key`).
    value_saved : array of float, optional
        The first-ranked touchpoint's expected value saved; needed with
        ``rank_by="value_saved"``.

    Returns
    -------
    ndarray of bool
        True for the customers past the budget (never one without a
        recommendation: the budget is not why they have none).
    """
    reduction = np.asarray(reduction, dtype=float)
    cost = np.asarray(cost, dtype=float)
    has = ~np.isnan(reduction)
    key = _rank_score(reduction, cost, value_saved, rank_by)
    best = np.where(has, np.nan_to_num(key, nan=np.inf), -np.inf)
    queue = np.argsort(-best, kind="stable")
    spent = np.cumsum(np.where(has[queue], cost[queue], 0.0))
    over = np.zeros(len(best), dtype=bool)
    over[queue[spent > budget]] = True
    return over & has  # a customer without a recommendation is not left out by the budget


def _within_budget(
    table: pd.DataFrame, rules: RecommendationRules, jm: JourneyMap, top_k: int
) -> pd.DataFrame:
    """A table recommended without the budget, with the customers the budget leaves out
    emptied as :meth:`TouchpointRecommender._recommend_at_once` leaves them.

    The budget's rule (:func:`_over_budget`) reads each customer's first-ranked
    reduction, cost and value saved, which the table holds, in the table's row order,
    which is the order of the rows computed at once: ties break the same way.
    """
    if rules.budget is None:
        return table
    has_value = "value_if_retained" in table.columns
    key = rules.rank_key(jm, has_value=has_value)
    over = _over_budget(
        table["expected_risk_reduction"].to_numpy(dtype=np.float64),
        table["cost"].to_numpy(dtype=np.float64),
        rules.budget,
        rank_by=key,
        value_saved=table["expected_value_saved"].to_numpy(dtype=np.float64)
        if key == "value_saved"
        else None,
    )
    if not over.any():
        return table
    table = table.copy()
    for k in range(top_k):
        suffix = "" if k == 0 else f"_{k + 1}"
        for name in ("recommended_touchpoint", "evidence_source"):
            column = table[name + suffix].mask(over)
            if column.isna().all():  # as _text_column makes a column without any text
                column = pd.Series(np.full(len(column), None, dtype=object), index=column.index)
            table[name + suffix] = column
        for name in (
            "expected_risk",
            "expected_risk_reduction",
            "expected_value_saved",
            "expected_risk_reduction_low",
            "expected_risk_reduction_high",
            "cost",
        ):
            if name + suffix in table.columns:
                table.loc[over, name + suffix] = np.nan
        table.loc[over, "evidence" + suffix] = -1
        table.loc[over, "uncertain" + suffix] = False
    table.loc[over, "reason"] = _budget_reason(key)
    return table


def _budget_reason(key: str) -> str:
    """Why a customer past the budget has no recommendation, for the ranking ``key``."""
    if key == "value_saved":
        return _("budget spent on customers where a touchpoint saves more value")
    return _("budget spent on customers with larger expected reductions")


def _amounts(values, currency: str | None) -> np.ndarray:
    """Amounts for people: money in ``currency`` when it is known, else rounded numbers
    (whole from 10, else two significant digits: "35", "2.5", "0.05")."""
    values = np.asarray(values, dtype=float)
    if currency is not None:
        from babel.numbers import get_currency_precision

        return format_rounded(
            values, get_currency_precision(currency), lambda v: format_currency(v, currency)
        )
    size = np.abs(values)
    return format_rounded(values, np.where(size >= 10, 0, np.where(size >= 1, 1, 2)), _amount)


def _amount(value: float) -> str:
    """One amount without a currency: whole from 10, else two significant digits."""
    size = abs(value)
    most = 0 if size >= 10 else 1 if size >= 1 else 2
    # no trailing zeros: "2", not "2.0"
    digits = next(d for d in range(most + 1) if round(value, d) == round(value, most))
    return format_number(round(value, digits), digits)


def _resolve_cutoff(log, cutoff) -> pd.Timestamp:
    from cjml.events import to_utc_timestamp

    if cutoff is None:  # read_events refuses a log without rows: there is a last event
        return pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC")
    return to_utc_timestamp(cutoff, log.timezone)


def _text_column(labels, codes: np.ndarray):
    """``labels[codes]``, missing where a code is -1, as the column pandas makes of strings.

    pandas 3 keeps strings in Arrow: converting a million Python strings cost 0.15 s
    per column (about 1 s of a 10M-event recommendation), a take from the few
    labels a tenth of that. Other pandas get the object array they would keep.
    """
    codes = np.asarray(codes, dtype=np.int64)
    dtype = _arrow_string_dtype()
    if dtype is None or not (codes >= 0).any():  # no string at all: pandas keeps objects
        return np.asarray([*labels, None], dtype=object)[codes]  # -1: the None
    import pyarrow as pa

    taken = pa.array([str(x) for x in labels], type=pa.large_string()).take(
        pa.array(codes, mask=codes < 0)
    )
    return pd.array(taken, dtype=dtype)


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of parts of the customers, one after another, with the column types of the
    table of all of them: a text column a part left empty is objects there
    (:func:`_text_column`), text in the others."""
    table = pd.concat(parts)
    dtype = _arrow_string_dtype()
    if dtype is not None:
        for c in table.columns:
            if table[c].dtype == object and any(p[c].dtype == dtype for p in parts):
                table[c] = table[c].astype(dtype)
    return table


@functools.cache
def _arrow_string_dtype():
    """The Arrow-backed dtype pandas infers for strings, or None (object columns)."""
    dtype = pd.Series(["a", None], dtype=object).infer_objects().dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None


def still_there(
    featurizer, churn_model, log, ids: pd.Index, risk: np.ndarray, cutoff: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame | None]:
    """The chance that each customer is still there to receive a touchpoint.

    The current risk splits as ``risk = (1 - reach) + reach * risk_if_there``
    (see the module docstring), where ``risk_if_there`` scores the customer as
    they were right after their last event, when they were surely there.

    Parameters
    ----------
    featurizer : JourneyFeaturizer
        The fitted featurizer of ``churn_model``.
    churn_model : ChurnModel
        The fitted churn model.
    log : EventLog
        The events.
    ids : pandas.Index
        The customers, in the order of ``risk``.
    risk : ndarray of shape (n,)
        Their churn risk at ``cutoff``.
    cutoff : pandas.Timestamp
        The moment scored (UTC).

    Returns
    -------
    seen : ndarray of bool, shape (n,)
        Whether the customer has an event at or before ``cutoff``.
    risk_if_there : ndarray of shape (n,)
        The risk right after the last event (NaN when not ``seen``).
    reach : ndarray of shape (n,)
        ``(1 - risk) / (1 - risk_if_there)`` clipped to [0, 1] (NaN when not ``seen``).
    X_last : DataFrame or None
        The features right after the last event of the ``seen`` customers, in
        the featurizer's columns (None when no customer is seen).
    """
    names = list(featurizer.get_feature_names_out())
    last_ns = _last_event_ns(log, ids, cutoff)
    seen = last_ns != np.iinfo(np.int64).min
    risk_if_there = np.full(len(ids), np.nan)
    X_last = None
    if seen.any():
        at_last = pd.Series(pd.to_datetime(last_ns[seen], utc=True), index=ids[seen])
        X_last = featurizer.transform(log, cutoff=at_last)[names]
        risk_if_there[seen] = churn_model.predict_proba(X_last)[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.clip((1.0 - np.asarray(risk, dtype=float)) / (1.0 - risk_if_there), 0.0, 1.0)
    reach[~seen] = np.nan
    return seen, risk_if_there, reach, X_last


def _last_event_ns(log, ids: pd.Index, cutoff: pd.Timestamp) -> np.ndarray:
    """Time of each customer's last own event at or before the cutoff (int64 min when none).

    Own: not of an ``outbound`` touchpoint, which only says the business sent something.
    """
    ts, cust = log.timestamps_ns, log.customer_codes
    upto = ts <= cutoff.value
    if log.activity_mask is not None:
        upto &= log.activity_mask
    pos = np.flatnonzero(upto)
    last = np.full(log.n_customers, np.iinfo(np.int64).min, dtype=np.int64)
    if len(pos):
        codes = cust[pos]
        is_last = np.r_[codes[1:] != codes[:-1], True]  # rows are sorted by (customer, time)
        last[codes[is_last]] = ts[pos[is_last]]
    where = pd.Index(log.customer_ids).get_indexer(ids)
    return np.where(where >= 0, last[np.maximum(where, 0)], np.iinfo(np.int64).min)


def _contacts(
    log, ids: pd.Index, cutoff: pd.Timestamp, cap: ContactCap, jm: JourneyMap
) -> np.ndarray:
    """How many of the capped touchpoints each customer had in the cap's window."""
    names = jm.actionable_touchpoints if cap.touchpoint == ANY_CONTACT else (cap.touchpoint,)
    categories = log.frame["touchpoint"].cat.categories.tolist()
    codes = [categories.index(t) for t in names if t in categories]
    start = (cutoff - to_timedelta(f"{cap.days}D", "days")).value
    ts = log.timestamps_ns
    hit = np.isin(log.touchpoint_codes, codes) & (ts > start) & (ts <= cutoff.value)
    counts = np.bincount(log.customer_codes[hit], minlength=log.n_customers)
    where = pd.Index(log.customer_ids).get_indexer(ids)
    return np.where(where >= 0, counts[np.maximum(where, 0)], 0)


#: The customer attribute whose values the segments of a campaign's evidence are.
SEGMENT_ATTRIBUTE = "segment"


def _check_evidence(evidence: Any) -> dict[str, dict]:
    """``effect_evidence`` as the recommender uses it (touchpoint -> dict), or a clear error."""
    if evidence is None:
        return {}
    if not isinstance(evidence, Mapping) or not all(
        isinstance(v, Mapping) for v in evidence.values()
    ):
        raise CjmlError(
            "effect_evidence must map each touchpoint to its evidence (a dict), as "
            f"cjml.train records it in bundle.metadata; got {type(evidence).__name__}."
        )
    return {str(k): dict(v) for k, v in evidence.items()}


def _segment_labels(featurizer, X: pd.DataFrame) -> np.ndarray | None:
    """Each row's ``segment`` attribute as text (None when unknown), or None when the
    featurizer has no such attribute."""
    for family in getattr(featurizer, "families_", ()):
        attributes = tuple(getattr(family, "attributes_", ()))
        if SEGMENT_ATTRIBUTE not in attributes:
            continue
        name = family.feature_names_out_[attributes.index(SEGMENT_ATTRIBUTE)]
        values = X[name].to_numpy(dtype=float)
        vocabulary = family.categories_[SEGMENT_ATTRIBUTE]
        known = ~np.isnan(values)
        labels = np.full(len(values), None, dtype=object)
        if vocabulary is None:  # a numeric attribute: its values, as the campaign wrote them
            labels[known] = [f"{v:g}" for v in values[known]]
        else:
            names = np.asarray([str(v) for v in vocabulary] + [None], dtype=object)
            labels[known] = names[values[known].astype(np.int64)]
        return labels
    return None


def _apply_evidence(
    evidence: Mapping[str, dict],
    touchpoints: list[str],
    risk: np.ndarray,
    reach: np.ndarray,
    after: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    segments,
) -> tuple[np.ndarray, list[dict]]:
    """Correct the estimates of the touchpoints measured in campaigns, in place.

    For such a touchpoint (the customer's segment's figures when the campaign
    measured it), each customer's reduction moves by ``reach * shift``, and its
    interval becomes ``reach * [reached_low, reached_high]``, widened to hold
    the customer's own estimate (see :mod:`cjml.experiments` for why).
    ``segments`` is called (once, only when some evidence has segments) for
    each row's segment.

    Returns
    -------
    measured : ndarray of int, shape (n, T)
        The index into ``entries`` of the evidence each estimate rests on
        (-1: observational).
    entries : list of dict
        The evidence applied (a segment's carries its name as ``segment``).
    """
    n, T = after.shape
    measured = np.full((n, T), -1, dtype=np.int64)
    entries: list[dict] = []
    labels = None
    for j, touchpoint in enumerate(touchpoints):
        entry = evidence.get(touchpoint)
        if not entry or entry.get("source") != "experiment" or not n:
            continue
        code = np.full(n, len(entries))
        entries.append({**entry, "segment": None})
        shift = np.full(n, float(entry["shift"]))
        bottom = np.full(n, float(entry["reached_low"]))
        top = np.full(n, float(entry["reached_high"]))
        by_segment = entry.get("segments") or {}
        if by_segment and labels is None:
            labels = segments()
        for name, sub in by_segment.items() if labels is not None else ():
            mine = labels == name
            if mine.any():
                code[mine] = len(entries)
                entries.append({**sub, "segment": name})
                shift[mine] = float(sub["shift"])
                bottom[mine] = float(sub["reached_low"])
                top[mine] = float(sub["reached_high"])
        reduction = risk - after[:, j]
        ok = np.isfinite(reduction) & np.isfinite(reach)
        with np.errstate(invalid="ignore"):
            moved = reduction + reach * shift
            lo, hi = np.fmin(reach * bottom, moved), np.fmax(reach * top, moved)
        after[ok, j] = risk[ok] - moved[ok]
        low[ok, j], high[ok, j] = lo[ok], hi[ok]
        measured[ok, j] = code[ok]
    return measured, entries


def _measured_text(entry: Mapping) -> str:
    """What a campaign measured, as the reasons say it: the change of the drop-off risk
    (negative: it went down), e.g. "measured in campaign 2024-07-01-a3f9c2: -3.1 points on
    the drop-off risk (interval -4.5 to -1.7 points)"."""
    words = {
        "campaign": entry["campaign_id"],
        "points": format_points(-float(entry["reduction"]), signed=True),
        "low": str(format_tenths([-100 * float(entry["high"])])[0]),
        "high": str(format_tenths([-100 * float(entry["low"])])[0]),
        "segment": label_text(entry["segment"], lower=True) if entry.get("segment") else "",
    }
    if entry.get("segment"):
        return _(
            "measured in campaign {campaign} in the {segment} segment: {points} on the "
            "drop-off risk (interval {low} to {high} points)"
        ).format(**words)
    return _(
        "measured in campaign {campaign}: {points} on the drop-off risk (interval {low} to "
        "{high} points)"
    ).format(**words)


def _stage_index(X: pd.DataFrame, jm: JourneyMap) -> np.ndarray:
    """Current stage index per row (-1 when unknown)."""
    if "current_stage" not in X.columns:
        return np.full(len(X), -1)
    stage = X["current_stage"].to_numpy(dtype=float)
    return np.where(np.isnan(stage), -1, stage).astype(np.int64)


def _reasons(
    est: _Estimates,
    out: pd.DataFrame,
    act: np.ndarray,
    over_budget: np.ndarray,
    rules: RecommendationRules,
    jm: JourneyMap,
    *,
    key: str = "reduction",
    not_worth: tuple[np.ndarray, np.ndarray] | None = None,
    currency: str | None = None,
    measured: np.ndarray | None = None,
) -> np.ndarray:
    """One line per customer that says why (or why not) the first touchpoint.

    Whole sentences of the catalogue (cjml.i18n), numbers by its one rounding
    rule: "Email lowers the drop-off risk from 62.4% to 58.5% (3.9 points)",
    or "... by under 0.5 points" (never "from 6% to 6%"); with values, what it
    keeps for what it costs ("keeps about 35 of expected spend for a cost of
    2"). ``not_worth``: the value saved of the touchpoints left out only
    because they cost more than they keep (-inf elsewhere), and the costs.
    ``measured``: per customer, the index into ``est.measured_entries`` of the
    campaign the first touchpoint's effect rests on (-1: observational); such
    a reason says what the campaign measured instead of the observational
    interval.
    """
    n = len(out)
    first = out["recommended_touchpoint"]
    has = first.notna().to_numpy()
    if rules.min_reduction > 0:
        nothing_helps = _(
            "no allowed touchpoint is expected to lower the risk by more than {points}"
        ).format(points=format_threshold_points(rules.min_reduction))
    else:
        nothing_helps = _("no allowed touchpoint is expected to lower the risk")
    reasons = np.full(n, nothing_helps, dtype=object)
    if has.any():
        risk, after, reach = est.risk[has], out["expected_risk"].to_numpy()[has], est.reach[has]
        before_text, after_text, size, shown = rounded_change(risk, after)
        low = out["expected_risk_reduction_low"].to_numpy()[has]
        high = out["expected_risk_reduction_high"].to_numpy()[has]
        evidence = out["evidence"].to_numpy()[has]
        codes, uniques = pd.factorize(first[has])
        name = np.asarray([label_text(u) for u in uniques], dtype=object)[codes]
        words = {"touchpoint": name, "before": before_text, "after": after_text, "points": size}
        text = fill(
            _("{touchpoint} lowers the drop-off risk from {before} to {after} ({points})"), **words
        )
        small = np.abs(shown) < SMALL_POINTS
        text[small] = fill(
            _("{touchpoint} lowers the drop-off risk by under 0.5 points"), touchpoint=name[small]
        )
        if est.value is not None:
            kept = (risk - after) * est.value[has]
            cost = out["cost"].to_numpy(dtype=float)[has]
            known_value = ~np.isnan(kept) & ~np.isnan(cost)
            free = known_value & (cost == 0)
            paid = known_value & ~free
            if paid.any():
                text[paid] = (
                    text[paid]
                    + "; "
                    + fill(
                        _("keeps about {value} of expected spend for a cost of {cost}"),
                        value=_amounts(kept[paid], currency),
                        cost=_amounts(cost[paid], currency),
                    )
                )
            if free.any():
                text[free] = (
                    text[free]
                    + "; "
                    + fill(
                        _("keeps about {value} of expected spend at no cost"),
                        value=_amounts(kept[free], currency),
                    )
                )
        worse = ~(risk - after > 0)  # dr-rank: the best touchpoint if contacted at all
        if worse.any():
            text[worse] = fill(
                _(
                    "{touchpoint} is the best touchpoint if they are contacted, though it raises "
                    "the drop-off risk from {before} to {after} ({points})"
                ),
                **{k: v[worse] for k, v in words.items()},
            )
            same = worse & small
            text[same] = fill(
                _(
                    "{touchpoint} is the best touchpoint if they are contacted; it changes the "
                    "drop-off risk by under 0.5 points"
                ),
                touchpoint=name[same],
            )
        by_campaign = np.full(len(low), -1) if measured is None else np.asarray(measured)[has]
        known = ~np.isnan(low) & (by_campaign < 0)
        if known.any():
            one = ngettext(
                "interval {low} to {high} points, {n} customer in this stage received it",
                "interval {low} to {high} points, {n} customers in this stage received it",
                1,
            )
            many = ngettext(
                "interval {low} to {high} points, {n} customer in this stage received it",
                "interval {low} to {high} points, {n} customers in this stage received it",
                2,
            )
            count = evidence[known]
            parts = [format_tenths(100 * low[known]), format_tenths(100 * high[known])]
            numbers = format_rounded(count, 0, lambda c: format_number(int(c)))
            interval = fill(many, low=parts[0], high=parts[1], n=numbers)
            single = count == 1
            interval[single] = fill(
                one, low=parts[0][single], high=parts[1][single], n=numbers[single]
            )
            text[known] = text[known] + "; " + interval
        for k in np.unique(by_campaign[by_campaign >= 0]):
            mine = by_campaign == k
            text[mine] = text[mine] + "; " + _measured_text(est.measured_entries[int(k)])
        unsure = (known | (by_campaign >= 0)) & ~(low > 0)
        text[unsure] = text[unsure] + "; " + _("uncertain: it may not help")
        unlikely = reach < 0.5
        if unlikely.any():
            text[unlikely] = (
                text[unlikely]
                + "; "
                + fill(
                    _("only a {chance} chance they are still there to receive it"),
                    chance=format_probabilities(reach[unlikely]),
                )
            )
        reasons[has] = text
    nothing = ~has & ~est.allowed.any(axis=1)
    ruled_out = (est.blocked > 0).any(axis=1)
    # Nothing deliverable in the stage (many customers, e.g. all of awareness): vectorised.
    plain = nothing & ~ruled_out
    if plain.any():
        stage_codes, stages = pd.factorize(out["stage"].to_numpy()[plain])
        stage_names = [label_text(u, lower=True) for u in stages] + [_("unknown")]
        stage = np.asarray(stage_names, dtype=object)[stage_codes]
        reasons[plain] = fill(_("no allowed touchpoint in the {stage} stage"), stage=stage)
    rows = np.flatnonzero(nothing & ruled_out)
    if len(rows):  # say what the rules ruled out: one sentence per pattern of reasons
        patterns, inverse = np.unique(est.blocked[rows], axis=0, return_inverse=True)
        # A policy of no action rules every touchpoint out with its own reason, which
        # already says that nothing is recommended and why: it leads, any other reasons
        # (rules, touchpoints too rarely delivered) after it.
        policy = est.policy_reason if est.method == "no action" else ""
        labels = [label_text(t, lower=True) for t in jm.actionable_touchpoints]

        def sentence(p: np.ndarray) -> str:
            """``p``: each touchpoint's reason code. With several reasons, each names its
            touchpoints but the one that rules out the most ("the others")."""
            ruled: dict[str, list[str]] = {}
            for t in np.flatnonzero(p > 0):
                ruled.setdefault(str(est.blocked_texts[p[t]]), []).append(labels[t])

            def named(why: str) -> str:
                return fill(_("{touchpoints}: {why}"), touchpoints=", ".join(ruled[why]), why=why)

            if policy in ruled:
                return "; ".join([policy, *(named(w) for w in sorted(ruled) if w != policy)])
            why = sorted(ruled)
            if len(why) > 1:
                most = max(why, key=lambda w: len(ruled[w]))
                others = fill(_("the others: {why}"), why=most)
                why = [*(named(w) for w in why if w != most), others]
            return _("no allowed touchpoint ({why})").format(why="; ".join(why))

        sentences = [sentence(p) for p in patterns]
        reasons[rows] = np.asarray(sentences, dtype=object)[inverse.ravel()]
    if not_worth is not None and est.value is not None:
        saved, costs = not_worth
        worthless = ~has & np.isfinite(saved).any(axis=1)
        if worthless.any():
            rows = saved[worthless]
            best = np.argmax(rows, axis=1)
            names = np.asarray(jm.actionable_touchpoints, dtype=object)[best]
            cost = costs[best]
            reasons[worthless] = fill(
                _(
                    "not worth the cost: the best touchpoint, {touchpoint}, keeps about "
                    "{value} of expected spend for a cost of {cost}"
                ),
                touchpoint=np.asarray([label_text(t, lower=True) for t in names], dtype=object),
                value=_amounts(rows[np.arange(len(best)), best] + cost, currency),
                cost=_amounts(cost, currency),
            )
    reasons[over_budget] = _budget_reason(key)
    if rules.min_risk > 0:
        below = ~act
        reasons[below] = fill(
            _("risk {risk} is below the {threshold} threshold"),
            risk=format_probabilities(est.risk[below]),
            threshold=format_probability(rules.min_risk),
        )
    reasons[np.isnan(est.reach)] = _(
        "no event before the cutoff: nothing to base a recommendation on"
    )
    return reasons
