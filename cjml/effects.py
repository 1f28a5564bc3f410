"""Doubly robust touchpoint effects, off-policy values and the choice of a policy.

What is estimated
-----------------
Every event after a customer's first is an *anchor* (``design="events"``, the
default): the features just before it, and whether the customer then went
silent for a horizon. Anchors on a delivery of an actionable touchpoint are
treated with it; anchors on the customer's own events (a visit, a purchase, a
ticket...) are the comparison arm. Both prove that the customer was there at
the anchor, so no touchpoint is credited with the mere proof of life. What
the journey map marks ``outbound`` (a newsletter sent) proves nothing: it is
never a comparison anchor, history or return; a ``churn`` event (a
cancellation) within the horizon is a drop-off, as in the labels. (The
alternative ``design="decision"`` anchors on the customer's own events only,
with the arm what the business delivered within a short ``window`` after
them; it has no comparison-arm effects but, on the development worlds, too
few treated anchors.) The effect of touchpoint ``t`` for a customer with
history ``x`` is::

    tau_t(x) = P(silent | x, t) - P(silent | x, comparison arm)

(negative when ``t`` helps), estimated in four steps:

1. **Nuisance models, cross-fitted by customer.** A propensity model
   ``e_a(x) = P(arm a | x)`` (LightGBM, multiclass over the comparison arm and
   the touchpoints) says how the business chose whom to contact; an outcome
   model ``mu_a(x) = P(silent | x, arm a)`` (LightGBM with the arm as a
   feature). Each anchor is predicted by models that never saw its customer.
2. **Pseudo-outcomes.** ``Gamma_a = mu_a + [A = a] (Y - mu_a) / e_a``: unbiased
   for the outcome under arm ``a`` when either nuisance model is right, so
   confounding through anything the features hold is removed.
3. **Overlap.** Anchors where ``e_a``, or the comparison arm's propensity, is
   below ``overlap`` times that arm's share of all anchors have no comparable
   treated or untreated customers (relative, because with many touchpoints
   each is naturally a few percent of events); they give no estimate for
   ``a``, and customers like them get no recommendation of ``a`` ("no
   comparable customers received it"). Customers are checked by a propensity
   model fitted on every anchor with half the rounds at twice the learning
   rate (:data:`_OVERLAP_MODEL`): it scores every customer of a batch, and
   the multiclass trees are most of a recommendation's time. On the 13-arm
   benchmark world its overlap flags agreed with the full model's on 99.2%
   of customer-touchpoint cells (a refit of the full model on slightly other
   anchors: 99.3%), held-out log loss 1.490 against 1.482, in 45% of the time;
   on the ten suite worlds 95.5-99.5%, as close as two full models fitted on
   different halves of the customers are to each other or closer on nine (price
   sensitivity: 98.2% against 98.4%).
4. **A base contrast, corrected per stage and shrunk.** Each customer's
   effect is a base contrast, the touchpoint response model's (a logistic
   model of each touchpoint's effect with moderators, fitted on the same
   anchors; :class:`cjml.recommend.TouchpointResponseModel`) or else the
   outcome model's ``mu_t(x) - mu_ref(x)``, plus a correction per (stage,
   touchpoint): the doubly robust mean of ``Gamma_t - Gamma_ref`` minus the
   base's mean, shrunk toward zero by its own standard error (normal prior,
   ``prior_sd``). The interval is the effect plus or minus that standard
   error: a rarely delivered touchpoint gets a wide one. On the development
   worlds the smooth base ranked touchpoints far better than the raw
   pseudo-outcomes, whose weights make them too noisy to use one by one.

Which policy to trust
---------------------
The anchors of the latest third of the training period are kept out of the
fit. On them, the value (mean silence risk) of each candidate policy is
estimated off-policy with the same doubly robust formula (its nuisance models
cross-fitted on those anchors alone, so that no candidate is judged by the
model it was chosen by), with a one-sided interval of its difference with
doing nothing and with the safe default: ``dr-point`` (each customer's best
touchpoint among those expected to help), ``dr`` (only those whose interval
says so), the response model's choice
(:class:`cjml.recommend.TouchpointResponseModel`), the best single touchpoint,
the naive rule (per stage, the touchpoint after which customers most often
came back) and no action. The *safe default* is the best single touchpoint
when it beats no action beyond noise, else no action; the methods are then
tested against it in that fixed order, stopping at the first that fails, and
the best of those that passed is kept. ``dr-rank`` (each customer's best
touchpoint if contacted, unless surely harmful) is valued and shown too, but
is not a candidate: it gives touchpoints its own model expects to raise the
risk, which no policy kept should (on the development worlds it was kept on
four of 18 world-seeds, and on one of them those touchpoints were most of its
harmful recommendations). When none passes,
cjml says so and recommends the safe default rather than noise, with how large
a gain the held-out period could have shown. ``choose_policy(test="overlap")``
tests with overlap weights instead (:func:`overlap_weighted_difference`):
narrower, but measured on the suite it chose no better, so it is opt-in.

How much of a reduction to believe
----------------------------------
Choosing the best touchpoint for each customer picks the largest of several
noisy estimates, and the outcome models extrapolate: on the development
worlds the reductions of the touchpoints recommended were ten to twenty times
the true ones, so the value saved net of cost looked positive where it was
negative. Each candidate's table row therefore compares the mean reduction
its model expected on the held-out decisions (``predicted_gain``) with the
overlap-weighted measure of it (``measured_gain``), and
:func:`confirmed_share` turns the two into the share of the prediction the
evidence bears out (a sceptical prior: no gain, as wide as the prediction).
Recommendations show every reduction and value saved scaled by the share of
the method in force (:meth:`PolicyChoice.confirmed`), each interval keeping the
model's width around the scaled reduction (the share is itself uncertain): the
order of a customer's touchpoints by reduction is unchanged, but a reduction
the data cannot confirm no longer pays for a touchpoint's cost.

Limits: the comparison arm is customers' own events, which have effects of
their own, so effects against doing nothing are less certain than effects of
touchpoints against one another; and effects of a point or two need many
thousands of decisions before the held-out comparison can tell them from
noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from cjml.exceptions import CjmlError
from cjml.features._base import as_log
from cjml.journey import JourneyMap
from cjml.labels import to_timedelta

if TYPE_CHECKING:
    from cjml.models import ChurnModel

__all__ = [
    "NO_ACTION",
    "AnchorSet",
    "DoublyRobustEffects",
    "PolicyChoice",
    "build_anchors",
    "choose_policy",
    "confirmed_share",
    "dr_policy",
    "fit_effects",
    "overlap_weighted_difference",
]

#: How :func:`choose_policy` tests one policy against another.
POLICY_TESTS = ("inverse", "overlap", "normalised")

#: The order in which the methods are tested against the safe default (see choose_policy).
#: "dr (best if contacted)" (dr-rank) is valued and shown but is not a candidate: it gives
#: touchpoints its own model expects to raise the risk, which no policy kept should.
_SEQUENCE = ("dr (point estimates)", "dr", "response", "naive rule")
#: Policy names that are not touchpoints.
NO_ACTION = "no action"

#: Recommendations that lower the risk by this much or less (they print as 0.0 points) are
#: dropped by default (:class:`cjml.recommend.RecommendationRules`); the candidate policies
#: are valued with the same floor, so the policy tested is the one delivered.
DEFAULT_MIN_REDUCTION = 0.0005


# ---------------------------------------------------------------------- anchors
@dataclass
class AnchorSet:
    """Anchor events with their features, arm and outcome (arrays aligned).

    Attributes
    ----------
    X : DataFrame
        Features just before each anchor (the featurizer's columns).
    arm : ndarray of int
        0 for a customer-initiated anchor, ``j + 1`` for ``touchpoints[j]``.
    y : ndarray of int
        1 when the customer had no event in the horizon after the anchor.
    customer : ndarray of int
        Customer codes (for customer-level folds).
    time_ns : ndarray of int
        Anchor times.
    touchpoints : tuple of str
        The actionable touchpoints, in arm order.
    design : {"events", "decision"}
        How the anchors were made (see :func:`build_anchors`): the rows hold
        the history just before the anchor event, or right after it.
    """

    X: pd.DataFrame
    arm: np.ndarray
    y: np.ndarray
    customer: np.ndarray
    time_ns: np.ndarray
    touchpoints: tuple[str, ...]
    design: str = "events"

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> AnchorSet:
        """The anchors where ``mask`` is True."""
        return AnchorSet(
            self.X[mask],
            self.arm[mask],
            self.y[mask],
            self.customer[mask],
            self.time_ns[mask],
            self.touchpoints,
            self.design,
        )


#: The events all anchors' histories may hold together (:func:`build_anchors`): about
#: 2 GB of the featurizer's working arrays. The suite's worlds and the benchmark logs
#: stay far below it (their anchors see a few million); logs whose customers have
#: hundreds or thousands of events each reach it.
MAX_HISTORY_EVENTS = 20_000_000


def build_anchors(
    log,
    featurizer,
    *,
    start,
    end,
    horizon="30D",
    window="1D",
    journey_map=None,
    max_rows=200_000,
    random_state=0,
    design="events",
    max_history_events=MAX_HISTORY_EVENTS,
) -> AnchorSet:
    """Decision points of a log: customer-initiated events, and what the business did next.

    Each anchor is a customer's event (at one timestamp, with no actionable
    touchpoint among the events at that timestamp) in ``[start, end - window -
    horizon]``: the customer was surely there. Its row holds the features right
    after it. Its arm is the first actionable touchpoint the business
    delivered within ``window`` after it (0 when none); its outcome is 1 when
    the customer had no event in ``(t + window, t + window + horizon]``, a
    window that starts after any such delivery so that the delivery itself
    never counts as a return.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    featurizer : JourneyFeaturizer
        Fitted featurizer.
    start, end : date
        Anchors lie in ``[start, end - window - horizon]``, so every outcome
        window ends by ``end``.
    horizon : duration, default "30D"
        How long a silence counts as dropping off.
    window : duration, default "1D"
        How soon after the customer's event a delivery counts as the answer to
        it. Short, because a customer not yet answered may leave meanwhile
        while one answered was surely still there.
    journey_map : JourneyMap, optional
        Which touchpoints are actionable; default the log's.
    max_rows : int, default 200_000
        At most this many anchors, sampled at random: treated ones up to half
        of it, and as many untreated ones (at least 10,000).
    random_state : int, default 0
        Seed of the sampling.
    max_history_events : int, default MAX_HISTORY_EVENTS
        At most this many events in all the anchors' histories, the memory the
        features of the anchors take: each anchor's row is computed from its
        customer's whole history before it, so a customer with 100,000 events
        would need billions. Above it, :func:`_bounded_histories` keeps as many
        anchors of each customer as fit, the same number for every customer
        with more than that (chosen at random), so the longest histories give
        way first and no customer dominates.

    Returns
    -------
    AnchorSet
    """
    from cjml.events import to_utc_timestamp
    from cjml.features._windows import anchored_windows

    log = as_log(log)
    jm = JourneyMap.coerce(journey_map) if journey_map is not None else log.journey_map
    rng = np.random.default_rng(random_state)
    h = to_timedelta(horizon).value
    w = to_timedelta(window, "window").value
    lo = to_utc_timestamp(start, log.timezone).value
    hi = to_utc_timestamp(end, log.timezone).value - h - w
    ts, cust = log.timestamps_ns, log.customer_codes
    categories = log.frame["touchpoint"].cat.categories.tolist()
    touchpoints = tuple(jm.actionable_touchpoints)
    code_to_arm = np.zeros(len(categories) + 1, dtype=np.int64)
    for j, t in enumerate(touchpoints):
        if t in categories:
            code_to_arm[categories.index(t)] = j + 1
    arm_of_event = code_to_arm[log.touchpoint_codes]
    new_time = np.r_[True, (cust[1:] != cust[:-1]) | (ts[1:] != ts[:-1])]
    if design == "events":
        return _event_anchors(
            log,
            featurizer,
            rng,
            lo,
            hi + w,
            h,
            arm_of_event,
            new_time,
            max_rows,
            touchpoints,
            max_history_events,
        )
    group = np.cumsum(new_time) - 1
    group_has_action = np.bincount(group, weights=arm_of_event > 0) > 0
    first = np.flatnonzero(new_time)
    own = log.activity_mask  # events that show the customer there (None: all of them)
    if own is not None:  # an anchor needs one: a time whose events the business only sent is not
        first = first[np.bincount(group, weights=own, minlength=len(first))[group[first]] > 0]
    anchors = first[~group_has_action[group[first]] & (ts[first] >= lo) & (ts[first] <= hi)]
    # a monotone key over (customer, time) in seconds, to search windows in one call
    base = int(ts.min()) if len(ts) else 0
    sec = (ts - base) // 1_000_000_000
    span = int(sec.max()) + 2 if len(ts) else 2
    key = cust.astype(np.int64) * span + sec
    akey = key[anchors]
    w_s, h_s = -(-w // 1_000_000_000), h // 1_000_000_000
    action_pos = np.flatnonzero(arm_of_event > 0)
    nxt_action = np.searchsorted(key[action_pos], akey, side="right")
    has_next = nxt_action < len(action_pos)
    pos = (
        action_pos[np.minimum(nxt_action, max(len(action_pos) - 1, 0))]
        if len(action_pos)
        else np.zeros(len(anchors), dtype=np.int64)
    )
    treated_now = has_next & (key[pos] <= akey + w_s) & (cust[pos] == cust[anchors])
    arm = np.where(treated_now, arm_of_event[pos], 0)
    # who came back: their own events only (a key per own event; all events without outbound)
    back = None if own is None else np.flatnonzero(own)
    back_key = key if back is None else key[back]
    after = np.searchsorted(back_key, akey + w_s, side="right")
    after_c = np.minimum(after, max(len(back_key) - 1, 0))
    if back is not None and len(back):
        after_c = back[after_c]
    returned = (
        (after < len(back_key))
        & (cust[after_c] == cust[anchors])
        & (key[after_c] <= akey + w_s + h_s)
    )
    if log.churn_mask is not None:  # a cancellation in the outcome window is a drop-off
        quit_pos = np.flatnonzero(log.churn_mask)
        q = np.searchsorted(key[quit_pos], akey + w_s, side="right")
        q_c = quit_pos[np.minimum(q, len(quit_pos) - 1)]
        returned &= ~(
            (q < len(quit_pos)) & (cust[q_c] == cust[anchors]) & (key[q_c] <= akey + w_s + h_s)
        )
    treated, reference = np.flatnonzero(arm > 0), np.flatnonzero(arm == 0)
    half = max(int(max_rows) // 2, 1)
    if len(treated) > half:
        treated = rng.choice(treated, half, replace=False)
    n_ref = min(len(reference), max(len(treated), 10_000), half)
    reference = rng.choice(reference, n_ref, replace=False)
    keep = np.sort(np.r_[treated, reference]).astype(np.int64)
    keep = keep[_bounded_histories(anchors[keep], log, max_history_events, rng, inclusive=True)]
    anchors, arm, returned = anchors[keep], arm[keep], returned[keep]
    X = featurizer._transform_windows(anchored_windows(log, anchors, inclusive=True))
    X = X[list(featurizer.get_feature_names_out())]
    return AnchorSet(
        X=X,
        arm=arm.astype(np.int64),
        y=(~returned).astype(np.int8),
        customer=cust[anchors].astype(np.int64),
        time_ns=ts[anchors].astype(np.int64),
        touchpoints=touchpoints,
        design="decision",
    )


def _event_anchors(
    log, featurizer, rng, lo, hi, h, arm_of_event, new_time, max_rows, touchpoints, max_history
) -> AnchorSet:
    """Every event is an anchor; its arm is its own touchpoint (0: customer-initiated)."""
    from cjml.features._windows import anchored_windows

    ts, cust = log.timestamps_ns, log.customer_codes
    own = log.activity_mask  # events that show the customer there (None: all of them)
    has_history = np.r_[False, cust[1:] == cust[:-1]]
    if own is not None:  # history is what the customer did: sends before it do not count
        before = np.cumsum(own) - own  # own events at earlier positions, over the whole log
        has_history = before - before[log.offsets[:-1]][cust] > 0
    anchors = np.flatnonzero(new_time & has_history & (ts >= lo) & (ts <= hi))
    arm_all = arm_of_event[anchors]
    reference_ok = arm_all == 0
    if own is not None:  # a comparison anchor must be the customer's, not a letter sent
        reference_ok &= own[anchors]
    treated, reference = anchors[arm_all > 0], anchors[reference_ok]
    half = max(int(max_rows) // 2, 1)
    if len(treated) > half:
        treated = rng.choice(treated, half, replace=False)
    n_ref = min(len(reference), max(2 * len(treated), 20_000), half)
    reference = rng.choice(reference, n_ref, replace=False)
    anchors = np.sort(np.r_[treated, reference])
    anchors = anchors[_bounded_histories(anchors, log, max_history, rng)]
    group = new_time.cumsum()
    later = np.searchsorted(group, group[anchors] + 1)  # the first event after the anchor's time
    # only the customer's own events are a return; a cancellation (churn) is a drop-off
    returned = _next_within(None if own is None else np.flatnonzero(own), later, anchors, log, h)
    if log.churn_mask is not None:
        returned &= ~_next_within(np.flatnonzero(log.churn_mask), later, anchors, log, h)
    X = featurizer._transform_windows(anchored_windows(log, anchors))
    X = X[list(featurizer.get_feature_names_out())]
    return AnchorSet(
        X=X,
        arm=arm_of_event[anchors].astype(np.int64),
        y=(~returned).astype(np.int8),
        customer=cust[anchors].astype(np.int64),
        time_ns=ts[anchors].astype(np.int64),
        touchpoints=touchpoints,
    )


def _bounded_histories(
    anchors: np.ndarray, log, max_events: int, rng: np.random.Generator, *, inclusive=False
) -> np.ndarray:
    """Which of the sorted ``anchors`` to keep (their positions, increasing) so that their
    histories hold at most ``max_events`` events in all.

    Every anchor is kept when they fit. Otherwise each customer's anchors are put in a
    random order and kept up to the same number ``k`` for everyone, the largest that
    fits, plus some of the ``k + 1``-th ones at random to fill the rest: customers with
    few anchors keep all of theirs, one with thousands keeps ``k``, so the longest
    histories (many anchors, each seeing many events) give way first. ``k = 0`` (not
    even one anchor each fits) keeps first anchors at random until full.
    """
    anchors = np.asarray(anchors, dtype=np.int64)
    cust = log.customer_codes[anchors]
    # events seen before the anchor (and at its time, ``inclusive``: bounded by a run's end)
    lengths = anchors - log.offsets[cust] + (1 if inclusive else 0)
    if int(lengths.sum()) <= max_events:
        return np.arange(len(anchors))
    order = rng.permutation(len(anchors))
    order = order[np.argsort(cust[order], kind="stable")]  # by customer, random within
    starts = np.flatnonzero(np.r_[True, cust[order][1:] != cust[order][:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.empty(len(anchors), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(starts, sizes)
    spent = np.cumsum(np.bincount(rank, weights=lengths))  # events kept with ranks 0..r
    k = int(np.searchsorted(spent, max_events, side="right"))
    room = max_events - (spent[k - 1] if k else 0)
    nxt = rng.permutation(np.flatnonzero(rank == k))
    fill = nxt[np.cumsum(lengths[nxt]) <= room]
    return np.sort(np.r_[np.flatnonzero(rank < k), fill])


def _next_within(
    candidates: np.ndarray | None, start: np.ndarray, anchors: np.ndarray, log, h: int
) -> np.ndarray:
    """Whether each anchor's customer has an event at one of the ``candidates`` positions
    (sorted; None: any) from position ``start`` on, within ``h`` ns after the anchor."""
    ts, cust = log.timestamps_ns, log.customer_codes
    if candidates is not None:
        j = np.searchsorted(candidates, start)
        top = max(len(candidates) - 1, 0)
        start = np.where(j < len(candidates), candidates[np.minimum(j, top)], len(ts))
    nxt = np.minimum(start, len(ts) - 1)
    return (
        (start < len(ts))
        & (cust[nxt] == cust[anchors])
        & (ts[nxt] > ts[anchors])
        & (ts[nxt] <= ts[anchors] + h)
    )


# ---------------------------------------------------------------------- nuisance models
#: The overlap check's propensity model (the one kept on the estimator): this many times
#: fewer rounds at this many times the learning rate of the cross-fitted ones.
_OVERLAP_MODEL = 2
_LGBM = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "lambda_l2": 1.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "verbose": -1,
    "num_threads": 1,
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
}


def _matrix(X: pd.DataFrame) -> np.ndarray:
    return X.to_numpy(dtype=np.float32, na_value=np.nan)


def _fit_propensity(
    M: np.ndarray, arm: np.ndarray, n_arms: int, rounds: int, threads: int = 1, shrink: int = 1
):
    """P(arm | x), multiclass; ``shrink``: rounds divided and learning rate multiplied by it."""
    import lightgbm as lgb

    params = {
        **_LGBM,
        "learning_rate": _LGBM["learning_rate"] * shrink,
        "objective": "multiclass",
        "num_class": n_arms,
        "num_threads": threads,
        "min_data_in_leaf": int(np.clip(len(arm) // 200, 20, 200)),
    }
    return lgb.train(params, lgb.Dataset(M, arm, free_raw_data=True), max(rounds // shrink, 1))


def _fit_outcome(
    M: np.ndarray, arm: np.ndarray, y: np.ndarray, n_arms: int, rounds: int, threads: int = 1
):
    import lightgbm as lgb

    params = {
        **_LGBM,
        "objective": "binary",
        "num_threads": threads,
        "min_data_in_leaf": int(np.clip(len(y) // 200, 20, 200)),
    }
    data = lgb.Dataset(
        np.column_stack([M, arm.astype(np.float32)]),
        y,
        categorical_feature=[M.shape[1]],
        free_raw_data=True,
    )
    return lgb.train(params, data, rounds)


def _outcomes(booster, M: np.ndarray, n_arms: int, arms=None, threads: int = 1) -> np.ndarray:
    """mu_a(x) for every arm (or the ``arms`` listed): shape (n, len(arms))."""
    arms = range(n_arms) if arms is None else arms
    out = np.empty((len(M), len(arms)))
    design = np.empty((len(M), M.shape[1] + 1), dtype=np.float32)
    design[:, :-1] = M
    for k, a in enumerate(arms):
        design[:, -1] = a
        out[:, k] = booster.predict(design, num_threads=threads)
    return out


def _propensities(booster, M: np.ndarray, threads: int = 1) -> np.ndarray:
    return np.asarray(booster.predict(M, num_threads=threads)).reshape(len(M), -1)


def _threads(n_jobs, n_rows: int) -> int:
    """Prediction threads: ``n_jobs``, else the churn model's rule (one below 50,000 rows,
    then only the cores idle now: on a busy machine more threads slow LightGBM manyfold)."""
    from cjml.models import _check_n_jobs, _default_threads

    n_jobs = _check_n_jobs(n_jobs)
    return _default_threads(n_rows) if n_jobs is None else n_jobs


# ---------------------------------------------------------------------- the estimator
@dataclass
class DoublyRobustEffects:
    """Per-customer effects of each actionable touchpoint on the risk of going silent.

    Fitted by :func:`fit_effects`; see the module docstring for the method.
    ``tau_t(x) = mu_t(x) - mu_ref(x) + c[s, t]``: the outcome model's contrast
    for the customer, plus the doubly robust correction of the customer's
    stage ``s``, shrunk toward zero by its own noise.

    Attributes
    ----------
    touchpoints : tuple of str
        Touchpoints with an estimate (delivered at least ``min_deliveries`` times).
    all_touchpoints : tuple of str
        Every actionable touchpoint, in arm order (arm ``j + 1``).
    deliveries : dict of str to int
        Treated anchors per actionable touchpoint (estimated or not).
    cells : DataFrame
        Per (stage index, arm): ``n`` treated anchors (the evidence), ``dr``
        (doubly robust mean effect), ``se`` (its standard error),
        ``correction`` (the shrunk correction ``c``). Stage -1 holds the
        pooled figures, used for stages without enough deliveries.
    ate : dict of str to (float, float)
        Each touchpoint's average effect over the anchors with overlap, and its
        standard error (doubly robust mean of the pseudo-outcomes).
    propensity, outcome : lightgbm.Booster
        The nuisance models fitted on every anchor (the propensity model, for
        the overlap check, with half the rounds at twice the learning rate).
    feature_names : list of str
    thresholds : ndarray
        Overlap threshold per arm (reference first): ``overlap`` times the
        arm's share of the anchors.
    overlap : float
        The fraction those thresholds are of each arm's share.
    level : float
        Coverage of the intervals.
    min_deliveries : int
    prior_sd : float
        Prior standard deviation of the corrections (the shrinkage).
    design : {"events", "decision"}
        The anchors' design: the effects hold for the history just before a
        delivery ("events") or right after the customer's last event.
    base_model : TouchpointResponseModel, optional
        When given, its contrast (a logistic model of each touchpoint's effect
        with moderators) replaces the outcome model's as the base that the
        doubly robust correction adjusts.
    risk_model : ChurnModel, optional
        The base model's risk adjustment.
    n_jobs : int, optional
        Prediction threads; default one below 50,000 rows, from there the
        cores idle at the time (batch scoring sets one per chunk).
    diagnostics : dict
    """

    touchpoints: tuple[str, ...]
    all_touchpoints: tuple[str, ...]
    deliveries: dict
    cells: pd.DataFrame
    ate: dict
    propensity: object
    outcome: object
    feature_names: list
    thresholds: np.ndarray
    overlap: float = 0.1
    level: float = 0.9
    min_deliveries: int = 30
    prior_sd: float = 0.02
    design: str = "events"
    # a fitted cjml.recommend.TouchpointResponseModel; not imported, even for typing:
    # recommend builds on this module, not the other way round
    base_model: Any = None
    risk_model: ChurnModel | None = None
    n_jobs: int | None = None
    diagnostics: dict = field(default_factory=dict)

    @property
    def evidence(self) -> pd.DataFrame:
        """Treated anchors per (stage index, arm): columns ``stage, arm, n``."""
        return self.cells.loc[self.cells["stage"] >= 0, ["stage", "arm", "n"]]

    def _contrast(
        self, X: pd.DataFrame, M: np.ndarray, arms: list[int], base_risk=None
    ) -> np.ndarray:
        """The base contrast mu_t(x) - mu_ref(x) per row and arm (before the correction)."""
        n_arms = len(self.all_touchpoints) + 1
        model = self.base_model
        names = [self.all_touchpoints[a - 1] for a in arms]
        own = [] if model is None else [k for k, t in enumerate(names) if t in model.touchpoints_]
        out = np.empty((len(X), len(arms)))
        rest = [k for k in range(len(arms)) if k not in own]
        if rest:  # the outcome model's contrast where the base model has none
            mu = _outcomes(
                self.outcome,
                M,
                n_arms,
                arms=[0, *[arms[k] for k in rest]],
                threads=_threads(self.n_jobs, len(M)),
            )
            out[:, rest] = mu[:, 1:] - mu[:, [0]]
        if model is not None and own and len(X):
            if base_risk is not None:
                risk = np.asarray(base_risk, dtype=float)
            elif self.risk_model is not None:
                risk = self.risk_model.predict_proba(X)[:, 1]
            else:
                raise ValueError("base_model needs its risk_model (the churn model).")
            engaged, treated = model.predict_risks(X, risk)
            cols = [model.touchpoints_.index(names[k]) for k in own]
            out[:, own] = treated[:, cols] - engaged[:, None]
        return out

    def best_single(self, X: pd.DataFrame) -> str | None:
        """The touchpoint with the largest mean estimated reduction over the rows of ``X``.

        Parameters
        ----------
        X : DataFrame
            Feature rows (e.g. the anchors the effects were fitted on).

        Returns
        -------
        str or None
            None when no touchpoint is expected to help on average.
        """
        effect, _, _ = self.predict(X)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isnan(effect), 0.0, effect), axis=0)
        if not len(mean) or not np.nanmin(mean) < 0:
            return None
        return self.touchpoints[int(np.nanargmin(mean))]

    def propensities(self, X: pd.DataFrame) -> np.ndarray:
        """P(arm | x) for the reference (column 0) and each of ``all_touchpoints``."""
        return _propensities(self.propensity, _matrix(X[self.feature_names]))

    def predict(
        self, X: pd.DataFrame, base_risk=None, *, overlap=True, matrix=None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Effect of each of ``touchpoints`` on P(silent) for the rows of ``X``.

        Parameters
        ----------
        X : DataFrame
            Feature rows (the featurizer's columns).
        base_risk : array-like, optional
            The churn model's risk for those rows, when already computed (the
            base model's adjustment).
        overlap : bool, default True
            Leave out (NaN) the rows unlike anyone who received the
            touchpoint; False estimates them too (for a policy that gives one
            touchpoint to everyone, whose value was measured as such).
        matrix : ndarray of shape (n, n_features), optional
            ``X[feature_names]`` as float32, when already converted (the churn
            model's :meth:`~cjml.models.ChurnModel.feature_matrix` of the same rows).

        Returns
        -------
        effect : ndarray of shape (n, n_touchpoints)
            ``tau_t(x)`` (negative: the touchpoint helps); NaN where there is
            no overlap.
        low, high : ndarray of shape (n, n_touchpoints)
            The ``level`` interval: the effect plus or minus the standard
            error of the doubly robust mean effect in the customer's stage.
        """
        M = _matrix(X[self.feature_names]) if matrix is None else matrix
        if M.shape != (len(X), len(self.feature_names)):
            raise ValueError(
                f"matrix has shape {M.shape}; pass X[feature_names] as float32, "
                f"{(len(X), len(self.feature_names))}."
            )
        arms = [self.all_touchpoints.index(t) + 1 for t in self.touchpoints]
        effect = self._contrast(X, M, arms, base_risk)
        stage = _stage_of(X)
        correction, se = self._cell_values(stage, arms)
        effect = effect + correction
        half = norm.ppf(0.5 + self.level / 2) * se
        if overlap:
            e = _propensities(self.propensity, M, _threads(self.n_jobs, len(M)))
            ok = (e[:, arms] >= self.thresholds[arms]) & (e[:, [0]] >= self.thresholds[0])
            effect = np.where(ok, effect, np.nan)
        return effect, effect - half, effect + half

    def _cell_values(self, stage: np.ndarray, arms: list[int]):
        """Correction and standard error per row and arm, from the row's stage cell."""
        cells = self.cells
        top = int(cells["stage"].max()) if len(cells) else -1  # none: no anchor overlapped
        n_stages = max(top, int(stage.max(initial=-1))) + 2
        corr = np.zeros((n_stages, len(arms)))
        se = np.full((n_stages, len(arms)), self.prior_sd)
        for k, a in enumerate(arms):
            pooled = cells[(cells["arm"] == a) & (cells["stage"] == -1)]
            if len(pooled):
                corr[:, k], se[:, k] = pooled["correction"].iloc[0], pooled["se"].iloc[0]
            mine = cells[
                (cells["arm"] == a) & (cells["stage"] >= 0) & (cells["n"] >= self.min_deliveries)
            ]
            corr[mine["stage"].to_numpy(), k] = mine["correction"].to_numpy()
            se[mine["stage"].to_numpy(), k] = mine["se"].to_numpy()
        row = np.where(stage >= 0, stage, n_stages - 1)  # unknown stage: the pooled cell
        return corr[row], se[row]


def _cross_fit(
    anchors: AnchorSet, n_arms: int, folds: int, rounds: int, seed: int, threads: int = 1
):
    """Out-of-fold propensities and outcome predictions for every anchor."""
    M = _matrix(anchors.X)
    uniq = np.unique(anchors.customer)
    rng = np.random.default_rng(seed)
    fold_of = rng.integers(0, folds, len(uniq))
    fold = fold_of[np.searchsorted(uniq, anchors.customer)]
    e = np.empty((len(anchors), n_arms))
    mu = np.empty((len(anchors), n_arms))
    for k in range(folds):
        fit, out = fold != k, fold == k
        if not out.any():
            continue
        prop = _fit_propensity(M[fit], anchors.arm[fit], n_arms, rounds, threads)
        e[out] = _propensities(prop, M[out], threads)
        outcome = _fit_outcome(M[fit], anchors.arm[fit], anchors.y[fit], n_arms, rounds, threads)
        mu[out] = _outcomes(outcome, M[out], n_arms, threads=threads)
    return e, mu


def _thresholds(arm: np.ndarray, n_arms: int, overlap: float) -> np.ndarray:
    """Overlap threshold per arm: ``overlap`` times the arm's share of the anchors."""
    return overlap * np.bincount(arm, minlength=n_arms) / max(len(arm), 1)


def _pseudo_outcomes(e, mu, arm, y, thresholds):
    """Gamma_a for every anchor and arm (weights clipped at the thresholds), and where
    each arm has overlap."""
    n, n_arms = mu.shape
    thresholds = np.maximum(np.asarray(thresholds, dtype=float), 1e-6)
    clipped = np.maximum(e, thresholds[None, :])
    hit = arm[:, None] == np.arange(n_arms)[None, :]
    gamma = mu + hit * (y[:, None] - mu) / clipped
    overlap = e >= thresholds[None, :]
    return gamma, overlap


def fit_effects(
    anchors: AnchorSet,
    *,
    folds=2,
    rounds=80,
    overlap=0.1,
    min_deliveries=30,
    prior_sd=0.02,
    level=0.9,
    random_state=0,
    base_model=None,
    risk_model=None,
    n_jobs=None,
) -> DoublyRobustEffects:
    """Fit the touchpoint effects on anchor rows.

    Parameters
    ----------
    anchors : AnchorSet
        From :func:`build_anchors`.
    folds : int, default 2
        Customer-level folds of the cross-fitting.
    rounds : int, default 80
        Boosting rounds of the nuisance models.
    overlap : float, default 0.1
        Overlap threshold, relative: anchors (and customers) whose
        probability of a touchpoint, or of the reference, is below this
        fraction of that arm's share of the anchors get no estimate for it;
        the doubly robust weights are clipped there too. Where overlap is
        thinner, outcome models extrapolate, and two of them fitted on
        different data tend to extrapolate alike.
    min_deliveries : int, default 30
        Touchpoints with fewer treated anchors are not estimated, and stages
        with fewer use the touchpoint's pooled correction.
    prior_sd : float, default 0.02
        Prior standard deviation of the doubly robust correction of the
        outcome model's contrast: a noisy correction is shrunk toward zero.
    level : float, default 0.9
        Coverage of the intervals.
    random_state : int, default 0
        Seed of the folds.
    base_model : TouchpointResponseModel, optional
        A model of each touchpoint's effect fitted on the same anchors; its
        contrast becomes the base that the correction adjusts (default: the
        outcome model's contrast).
    risk_model : ChurnModel, optional
        Needed with ``base_model``: its risk adjustment.
    n_jobs : int, optional
        LightGBM threads of the nuisance models (default one) and, kept on
        the result, of its predictions (default as :class:`cjml.ChurnModel`).

    Returns
    -------
    DoublyRobustEffects
    """
    from cjml.models import _check_n_jobs

    n_jobs = _check_n_jobs(n_jobs)
    threads = n_jobs or 1
    if base_model is not None and risk_model is None:
        raise ValueError("base_model needs its risk_model (the churn model).")
    touchpoints_all = anchors.touchpoints
    counts = np.bincount(anchors.arm, minlength=len(touchpoints_all) + 1)
    deliveries = {t: int(counts[j + 1]) for j, t in enumerate(touchpoints_all)}
    keep = [j for j, t in enumerate(touchpoints_all) if deliveries[t] >= min_deliveries]
    if not keep:
        raise CjmlError(
            f"No actionable touchpoint was delivered at least {min_deliveries} times in the "
            f"training history ({deliveries or 'none at all'}), so their effects cannot be "
            f"learned. Train on a longer history, or mark the touchpoints the business "
            f"delivers as actionable in the journey map."
        )
    if counts[0] < min_deliveries:
        raise CjmlError(
            "Too few customer-initiated events to compare the touchpoints with "
            f"({counts[0]}); train on a longer history."
        )
    n_arms = len(touchpoints_all) + 1
    e, mu = _cross_fit(anchors, n_arms, folds, rounds, random_state, threads)
    y = anchors.y.astype(float)
    thresholds = _thresholds(anchors.arm, n_arms, overlap)
    gamma, has_overlap = _pseudo_outcomes(e, mu, anchors.arm, y, thresholds)
    stage = _stage_of(anchors.X)
    M = _matrix(anchors.X)
    # the overlap check's model: it scores every customer a recommendation is for
    propensity = _fit_propensity(M, anchors.arm, n_arms, rounds, threads, _OVERLAP_MODEL)
    outcome = _fit_outcome(M, anchors.arm, anchors.y, n_arms, rounds, threads)
    effects = DoublyRobustEffects(
        touchpoints=tuple(touchpoints_all[j] for j in keep),
        all_touchpoints=touchpoints_all,
        deliveries=deliveries,
        cells=pd.DataFrame(),
        ate={},
        propensity=propensity,
        outcome=outcome,
        feature_names=list(anchors.X.columns),
        thresholds=thresholds,
        overlap=overlap,
        level=level,
        min_deliveries=min_deliveries,
        prior_sd=prior_sd,
        design=anchors.design,
        base_model=base_model,
        risk_model=risk_model,
        n_jobs=n_jobs,
    )
    if base_model is None:
        base = mu[:, [j + 1 for j in keep]] - mu[:, [0]]  # cross-fitted
    else:
        base = effects._contrast(anchors.X, M, [j + 1 for j in keep])
    rows, ate = [], {}
    for k, j in enumerate(keep):
        a = j + 1
        both = has_overlap[:, a] & has_overlap[:, 0]
        dr = gamma[:, a] - gamma[:, 0]
        residual = dr - base[:, k]  # what the doubly robust weights add to the base contrast
        for s in [-1, *sorted(set(stage[both].tolist()) - {-1})]:
            cell = both & ((stage == s) if s >= 0 else True)
            m = int(cell.sum())
            n_treated = int((cell & (anchors.arm == a)).sum())
            if m < 2:
                continue
            se = float(dr[cell].std(ddof=1) / np.sqrt(m))
            mean_residual = float(residual[cell].mean())
            shrink = prior_sd**2 / (prior_sd**2 + se**2)
            rows.append(
                {
                    "stage": s,
                    "arm": a,
                    "n": n_treated,
                    "dr": float(dr[cell].mean()),
                    "se": se,
                    "correction": shrink * mean_residual,
                }
            )
            if s == -1:
                ate[touchpoints_all[j]] = (float(dr[cell].mean()), se)
    effects.cells = pd.DataFrame(  # typed though empty (no anchor overlapped)
        rows, columns=["stage", "arm", "n", "dr", "se", "correction"]
    ).astype({"stage": np.int64, "arm": np.int64, "n": np.int64})
    effects.ate = ate
    effects.diagnostics = {
        "anchors": len(anchors),
        "overlap_share": {
            t: float((has_overlap[:, j + 1] & has_overlap[:, 0]).mean())
            for j, t in enumerate(touchpoints_all)
        },
    }
    return effects


# ---------------------------------------------------------------------- policies
@dataclass
class PolicyChoice:
    """The policy a bundle recommends with, and the off-policy comparison behind it.

    Attributes
    ----------
    policy : str
        ``"dr-rank"``, ``"dr-point"``, ``"dr"``, ``"response"``, ``"single"``,
        ``"naive"`` or ``"no action"`` (see :class:`cjml.TouchpointRecommender`).
    touchpoint : str or None
        The best single touchpoint (given, with ``policy="single"`` or
        ``method="single"``, to everyone eligible whose estimated reduction is
        above the recommender's floor, as it was valued).
    stage_rule : dict
        The naive rule, stage index to touchpoint (``policy="naive"`` or
        ``method="naive"``).
    table : DataFrame
        One row per candidate: ``value`` (estimated mean silence risk under
        the policy on the held-out anchors), ``vs_no_action`` with
        ``low``/``high`` (one-sided bounds of the difference, by ``test``),
        ``vs_default`` with its bounds, ``share_acted``, ``predicted_gain``
        (the drop-off reduction per held-out decision the candidate's own
        model expected), ``measured_gain`` (the overlap-weighted difference
        with no action, sign flipped), ``confirmed`` (:func:`confirmed_share`
        of the two: the share of the predicted reductions that recommendations
        show), ``chosen``.
    reason : str
        One plain sentence on why this policy was kept.
    n_anchors : int
        Held-out anchors the values were estimated on.
    test : str
        How the differences were tested: "normalised", "inverse" or
        "overlap" (see :func:`choose_policy`); bundles saved before
        "normalised" was the default have "inverse".
    """

    policy: str
    touchpoint: str | None
    stage_rule: dict
    table: pd.DataFrame
    reason: str
    n_anchors: int
    test: str = "inverse"

    def confirmed(self, method: str) -> float:
        """The share of ``method``'s predicted reductions the held-out period bears out.

        From the ``confirmed`` column of :attr:`table` (see
        :func:`confirmed_share`); 1 for a method that was not a candidate
        (``"s-learner"``) or a bundle trained before that column existed.
        ``"no action"`` recommends nothing, but the estimates it shows (what
        each touchpoint would do, in the app's what-ifs) are the per-customer
        model's: they take ``"dr-rank"``'s share.
        """
        row = {
            "no action": "dr (best if contacted)",
            "dr-rank": "dr (best if contacted)",
            "dr-point": "dr (point estimates)",
            "dr": "dr",
            "response": "response",
            "naive": "naive rule",
            "single": f"single: {self.touchpoint}",
        }.get(method)
        if row is None or "confirmed" not in self.table.columns or row not in self.table.index:
            return 1.0
        share = float(self.table["confirmed"].to_numpy(dtype=float)[self.table.index.get_loc(row)])
        return share if np.isfinite(share) else 1.0

    def to_dict(self) -> dict:
        """Plain JSON-friendly form (for the bundle's metadata and the report)."""
        return {
            "policy": self.policy,
            "touchpoint": self.touchpoint,
            "stage_rule": {str(k): v for k, v in self.stage_rule.items()},
            "reason": self.reason,
            "n_anchors": int(self.n_anchors),
            "test": self.test,
            "table": self.table.reset_index().to_dict(orient="list"),
        }


def _stage_of(X: pd.DataFrame) -> np.ndarray:
    if "current_stage" not in X.columns:
        return np.full(len(X), -1)
    s = X["current_stage"].to_numpy(dtype=float)
    return np.where(np.isnan(s), -1, s).astype(np.int64)


def _eligible(X: pd.DataFrame, jm: JourneyMap, touchpoints) -> np.ndarray:
    stage = _stage_of(X)
    elig = jm.eligibility_matrix()[:, [jm.touchpoint_names.index(t) for t in touchpoints]]
    out = np.where((stage >= 0)[:, None], elig[np.maximum(stage, 0)], elig.any(axis=0))
    return out.astype(bool)


def dr_policy(
    effects: DoublyRobustEffects,
    X: pd.DataFrame,
    eligible: np.ndarray,
    *,
    require_evidence=True,
    rank=False,
    base_risk=None,
    estimates=None,
    floor=0.0,
) -> np.ndarray:
    """Arm chosen per row from the effects (0: nothing).

    The largest reduction whose interval excludes zero; without
    ``require_evidence`` the largest point reduction; with ``rank`` the best
    touchpoint whatever its sign, unless its interval says it surely raises the
    risk (the best touchpoint if the customer is contacted at all).
    ``estimates``: ``effects.predict(X, base_risk=base_risk)``, when already computed.
    ``floor``: a reduction (with ``rank``, a change) of at most this much is none,
    as the recommender's ``min_reduction`` makes it.
    """
    effect, low, high = effects.predict(X, base_risk=base_risk) if estimates is None else estimates
    cols = [effects.all_touchpoints.index(t) for t in effects.touchpoints]
    ok = eligible[:, cols] & ~np.isnan(effect)
    if rank:
        ok &= ~(low > 0) & (np.abs(effect) > floor)
    elif require_evidence:
        ok &= (high < 0) & (-effect > floor)
    else:
        ok &= -effect > floor
    score = np.where(ok, -effect, -np.inf)
    best = score.argmax(axis=1)
    return np.where(np.isfinite(score.max(axis=1)), np.asarray(cols)[best] + 1, 0)


def _ope(gamma: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Per-anchor doubly robust contribution to a policy's value."""
    return gamma[np.arange(len(choice)), choice]


def _normalised_ope(
    e: np.ndarray,
    mu: np.ndarray,
    arm: np.ndarray,
    y: np.ndarray,
    thresholds: np.ndarray,
    choice: np.ndarray,
) -> np.ndarray:
    """Per-anchor contributions to a policy's self-normalised doubly robust value.

    The inverse propensity weights of the anchors that received the policy's
    arm are rescaled to sum to the number of anchors (Swaminathan and
    Joachims 2015, NeurIPS), so the correction is a weighted mean of
    residuals, between -1 and 1, however large a few weights are. The
    contributions are linearised (their mean is the value, their spread its
    standard error), so paired differences and their intervals work as with
    :func:`_ope`.
    """
    n = len(choice)
    rows = np.arange(n)
    thresholds = np.maximum(np.asarray(thresholds, dtype=float), 1e-6)
    fitted = mu[rows, choice]
    w = np.where(arm == choice, 1.0 / np.maximum(e[rows, choice], thresholds[choice]), 0.0)
    total = w.sum()
    if total <= 0:  # no anchor received what the policy gives: the outcome model alone
        return fitted
    residual = y - fitted
    correction = float((w * residual).sum() / total)
    return fitted + correction + n * w * (residual - correction) / total


def overlap_weighted_difference(
    e: np.ndarray, mu: np.ndarray, arm: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[float, float]:
    """Difference in silence risk between two policies, overlap-weighted and doubly robust.

    Where the policies choose different arms ``a_i`` and ``b_i``, each anchor
    is weighted by ``h = e_a e_b / (e_a + e_b)``, the overlap weight of that
    two-arm comparison (Li, Morgan and Zaslavsky 2018, JASA 113:390): the
    anchors whose customers could as well have received either arm count
    most, those almost sure to receive one of them hardly at all. The
    augmented estimator is::

        sum_i [h (mu_a - mu_b) + [A = a] e_b/(e_a+e_b) (Y - mu_a)
               - [A = b] e_a/(e_a+e_b) (Y - mu_b)] / sum_i h

    Every weight on an outcome is at most 1, where the inverse propensity
    weights of the plain doubly robust value reach hundreds for a touchpoint
    delivered to a few percent of events: on the development worlds the
    one-sided 90% bound of a policy acting on most anchors lay 5-8 points
    from its estimate with inverse weights, 1.4-1.8 points with these. The
    price is the population: the difference is that of the anchors in the
    overlap, not of every anchor; it is scaled to all held-out anchors by the
    share on which the policies differ. It is the test of
    ``choose_policy(test="overlap")``; narrower intervals did not make better
    choices on the development worlds (``benchmarks/README.md``,
    "overlap-weighted test"), so it is not the default.

    Parameters
    ----------
    e, mu : ndarray of shape (n_anchors, n_arms)
        Cross-fitted propensities and outcome predictions.
    arm : ndarray of shape (n_anchors,)
        The arm each anchor received (0: the comparison arm).
    y : ndarray of shape (n_anchors,)
        Outcomes (1: silent).
    a, b : ndarray of shape (n_anchors,)
        The arm each policy chooses.

    Returns
    -------
    difference : float
        Policy ``a`` minus policy ``b``, per held-out anchor (negative: ``a``
        loses fewer customers); 0 where they never differ.
    standard_error : float
        Its standard error (linearised ratio estimator), on the same scale.
    """
    rows = np.arange(len(y))
    differ = a != b
    if not differ.any():
        return 0.0, 0.0
    e_a, e_b = e[rows, a], e[rows, b]
    total = np.maximum(e_a + e_b, 1e-12)
    h = np.where(differ, e_a * e_b / total, 0.0)
    weight = h.sum()
    if weight <= 0:
        return 0.0, float("inf")
    mu_a, mu_b = mu[rows, a], mu[rows, b]
    psi = (
        h * (mu_a - mu_b)
        + np.where(differ & (arm == a), e_b / total * (y - mu_a), 0.0)
        - np.where(differ & (arm == b), e_a / total * (y - mu_b), 0.0)
    )
    tau = psi.sum() / weight
    se = float(np.sqrt(((psi - tau * h) ** 2).sum()) / weight)
    share = float(differ.mean())
    return float(tau) * share, se * share


def choose_policy(
    effects: DoublyRobustEffects,
    held_out: AnchorSet,
    fit_anchors: AnchorSet,
    journey_map: JourneyMap,
    *,
    response_model=None,
    churn_model=None,
    level=0.9,
    random_state=0,
    rounds=80,
    test="normalised",
) -> PolicyChoice:
    """Estimate each candidate policy's value on held-out anchors and keep the best safe one.

    Parameters
    ----------
    effects : DoublyRobustEffects
        Fitted on ``fit_anchors`` (never on ``held_out``).
    held_out : AnchorSet
        Later anchors, kept out of every fit.
    fit_anchors : AnchorSet
        The anchors the effects were fitted on; the best single touchpoint
        and the naive rule are read from them. The off-policy values' own
        nuisance models are cross-fitted on ``held_out``.
    journey_map : JourneyMap
        Eligibility of the touchpoints by stage.
    response_model : TouchpointResponseModel, optional
        Adds the response model's policy as a candidate (with ``churn_model``).
    churn_model : ChurnModel, optional
        The response model's base risk.
    level : float, default 0.9
        One-sided confidence that a policy beats another before it replaces
        it; the tests run in a fixed sequence (the best single touchpoint
        against no action, then the methods one by one against the safe
        default, stopping at the first that fails), so their overall error
        stays at ``1 - level``. The intervals reported are the matching
        one-sided bounds on each side.
    random_state : int, default 0
        Seed.
    rounds : int, default 80
        Boosting rounds of the nuisance models.
    test : {"normalised", "inverse", "overlap"}, default "normalised"
        How a difference between two policies is tested. "normalised": the
        paired doubly robust values over every held-out anchor, each
        policy's inverse propensity weights rescaled to sum to the anchors
        (:func:`_normalised_ope`), so a few large weights cannot move a value
        from the outcome model's further than the largest residual.
        "inverse": the same without the rescaling (the default before stop
        40). "overlap": :func:`overlap_weighted_difference`, three to five
        times narrower but weighted to the anchors where both options were
        plausible; every method (and the best single touchpoint, last) is
        then tested against doing nothing. Chosen on the development worlds
        (``benchmarks/README.md``, "self-normalised values"): of 18
        world-seeds, "normalised" acted well on two that "inverse" left
        alone and changed no other choice; "overlap" was a wash.

    Returns
    -------
    PolicyChoice
    """
    if test not in POLICY_TESTS:
        raise ValueError(f"test must be one of {', '.join(map(repr, POLICY_TESTS))}, got {test!r}.")
    touchpoints = fit_anchors.touchpoints
    n_arms = len(touchpoints) + 1
    if len(held_out) < 100:
        return PolicyChoice(
            NO_ACTION,
            None,
            {},
            pd.DataFrame(),
            f"only {len(held_out)} held-out anchors: too few to tell whether any "
            "touchpoint helps, so no action is recommended",
            len(held_out),
            test,
        )
    # The values' nuisance models are cross-fitted on the held-out anchors themselves: an
    # outcome model from the fitting period would share the candidates' own errors and
    # flatter them (it is the model they were chosen by).
    e, mu = _cross_fit(held_out, n_arms, 2, rounds, random_state + 1, effects.n_jobs or 1)
    # weights clipped as in the fit: at the same fraction of each arm's share
    thresholds = _thresholds(held_out.arm, n_arms, effects.overlap)
    y_held = held_out.y.astype(float)
    eligible = _eligible(held_out.X, journey_map, touchpoints)
    n = len(held_out)
    candidates: dict[str, np.ndarray] = {NO_ACTION: np.zeros(n, dtype=np.int64)}
    base = None if churn_model is None else churn_model.predict_proba(held_out.X)[:, 1]
    estimates = effects.predict(held_out.X, base_risk=base)
    # Each candidate is valued as the recommender delivers it: with its default floor, a
    # customer whose estimated change is too small to tell from none gets nothing.
    floor = DEFAULT_MIN_REDUCTION
    candidates["dr (best if contacted)"] = dr_policy(
        effects, held_out.X, eligible, rank=True, estimates=estimates, floor=floor
    )
    candidates["dr (point estimates)"] = dr_policy(
        effects, held_out.X, eligible, require_evidence=False, estimates=estimates, floor=floor
    )
    candidates["dr"] = dr_policy(effects, held_out.X, eligible, estimates=estimates, floor=floor)
    # each candidate's expected drop-off reduction per anchor and arm (column 0: no action)
    per_customer = _arm_gains(effects, estimates[0], n_arms)
    expected = dict.fromkeys(candidates, per_customer)
    if response_model is not None and churn_model is not None:
        engaged, treated = response_model.predict_risks(held_out.X, base)
        cols = [touchpoints.index(t) for t in response_model.touchpoints_]
        gain = np.where(eligible[:, cols], engaged[:, None] - treated, -np.inf)
        best = gain.argmax(axis=1)
        candidates["response"] = np.where(gain.max(axis=1) > floor, np.asarray(cols)[best] + 1, 0)
        expected["response"] = np.zeros((n, n_arms))
        expected["response"][:, np.asarray(cols) + 1] = engaged[:, None] - treated
    # One touchpoint (or one per stage) for everyone is estimated for every customer, as the
    # recommender does for these policies; it gives the touchpoint where that estimate is a
    # reduction above the floor, and so does the candidate valued here.
    everyone = _arm_gains(
        effects, effects.predict(held_out.X, base_risk=base, overlap=False)[0], n_arms
    )
    reduces = everyone > floor
    # best single touchpoint and naive rule, read from the fitting anchors only
    best_single = effects.best_single(fit_anchors.X)
    if best_single is not None:
        j = touchpoints.index(best_single)
        candidates[f"single: {best_single}"] = np.where(
            eligible[:, j] & reduces[:, j + 1], j + 1, 0
        )
    stage_fit = _stage_of(fit_anchors.X)
    raw = pd.DataFrame({"stage": stage_fit, "arm": fit_anchors.arm, "y": fit_anchors.y})
    rates = raw[raw["arm"] > 0].groupby(["stage", "arm"])["y"].agg(["mean", "size"])
    mean_rate = rates.loc[rates["size"] >= effects.min_deliveries, "mean"]
    stage_rule: dict[int, str] = {}
    # per stage, the (stage, arm) label of the lowest drop-off rate
    for stage, arm in mean_rate.groupby(level=0).idxmin():
        stage_rule[int(stage)] = touchpoints[int(arm) - 1]
    stage_h = _stage_of(held_out.X)
    naive = np.zeros(n, dtype=np.int64)
    for stage, t in stage_rule.items():
        j = touchpoints.index(t)
        naive[(stage_h == stage) & eligible[:, j] & reduces[:, j + 1]] = j + 1
    candidates["naive rule"] = naive
    for k in candidates:
        if k == "naive rule" or k.startswith("single: "):
            expected[k] = everyone

    if test == "normalised":
        contributions = {
            k: _normalised_ope(e, mu, held_out.arm, y_held, thresholds, c)
            for k, c in candidates.items()
        }
    else:
        gamma, _ = _pseudo_outcomes(e, mu, held_out.arm, y_held, thresholds)
        contributions = {k: _ope(gamma, c) for k, c in candidates.items()}
    # One-sided tests in a fixed sequence (the best single touchpoint against no action,
    # then each method in the order of _SEQUENCE against the safe default, stopping at the
    # first that fails): no candidate "wins" by chance among many, without the loss of
    # power of a Bonferroni correction.
    z = norm.ppf(level)

    def paired(a: str, b: str) -> tuple[float, float, float]:
        if test == "overlap":
            d, se = overlap_weighted_difference(
                e, mu, held_out.arm, y_held, candidates[a], candidates[b]
            )
            return d, d - z * se, d + z * se
        diff = contributions[a] - contributions[b]
        half = z * diff.std(ddof=1) / np.sqrt(n)
        return float(diff.mean()), float(diff.mean() - half), float(diff.mean() + half)

    # A drop-off rate is between 0 and 1: a candidate valued outside (its difference with
    # doing nothing larger than doing nothing's whole drop-off) shows the estimator failing
    # on these anchors (weights too large for the outcome model's errors), not a gain, and
    # can pass no test. Seen on a clickstream whose customer-initiated events were marked
    # actionable, and on a scenario world (-3.1% for a policy whose true gain is 1-2 points).
    values = {k: float(c.mean()) for k, c in contributions.items()}
    in_range = {k: bool(0.0 <= v <= 1.0) for k, v in values.items()}
    default = NO_ACTION
    single_name = f"single: {best_single}" if best_single is not None else None
    sequence: tuple[str, ...] = _SEQUENCE
    if test == "overlap":  # the single touchpoint is one more candidate against doing nothing
        sequence = (*_SEQUENCE, *([single_name] if single_name else []))
    elif single_name and paired(single_name, NO_ACTION)[2] < 0 and in_range[single_name]:
        default = single_name
    rows = {}
    for k in candidates:
        d0, l0, h0 = paired(k, NO_ACTION)
        dd, ld, hd = paired(k, default)
        rows[k] = {
            "value": values[k],
            "in_range": in_range[k],
            "vs_no_action": d0,
            "vs_no_action_low": l0,
            "vs_no_action_high": h0,
            "vs_default": dd,
            "vs_default_low": ld,
            "vs_default_high": hd,
            "share_acted": float((candidates[k] > 0).mean()),
        }
        # How much of what the candidate's model expected the held-out period bears out,
        # measured with overlap weights whatever the test: their interval is three to five
        # times narrower, and on the development worlds the value saved it gave was nearer
        # the truth than with the inverse-weighted one (benchmarks/README.md).
        predicted = float(_ope(expected[k], candidates[k]).mean())
        measured, se = overlap_weighted_difference(
            e, mu, held_out.arm, y_held, candidates[k], candidates[NO_ACTION]
        )
        rows[k]["predicted_gain"] = predicted
        rows[k]["measured_gain"] = -measured
        rows[k]["confirmed"] = confirmed_share(-measured, se, predicted)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "policy"
    passed: list[str] = []
    failed: str | None = None
    for k in sequence:
        if k not in table.index:
            continue
        if not (rows[k]["vs_default_high"] < 0 and in_range[k]):
            failed = k
            break
        passed.append(k)
    beats = table.loc[passed]
    if len(beats):
        chosen = str(beats["value"].idxmin())
        reason = (
            f"{_label(chosen)} lowers the held-out drop-off by "
            f"{-rows[chosen]['vs_default'] * 100:.2f} points against "
            f"{_label(default)} (interval {-rows[chosen]['vs_default_high'] * 100:.2f}"
            f" to {-rows[chosen]['vs_default_low'] * 100:.2f})"
        )
    else:
        chosen = default
        reason = (
            "no method beat, beyond noise on the held-out period, "
            + _label(default)
            + (
                ", which itself beats doing nothing"
                if default != NO_ACTION
                else ", so no touchpoint is recommended"
            )
            + (
                _out_of_range(failed, values[failed])
                if failed is not None and not in_range[failed]
                else _detectable(None if failed is None else rows[failed], n)
            )
        )
    if not len(beats) and failed is not None:
        reason += _untested(failed, sequence, rows, in_range, default)
    table["chosen"] = table.index == chosen
    share = float(table["confirmed"].to_numpy(dtype=float)[table.index.get_loc(chosen)])
    if chosen != NO_ACTION and share < 1:
        reason += (
            f"; of the reductions this policy's model predicts, the held-out period bears "
            f"out about {share:.0%}, so each is shown scaled to that share"
        )
    if chosen.startswith("single: "):
        return PolicyChoice("single", best_single, stage_rule, table, reason, n, test)
    if chosen == "dr (point estimates)":
        policy = "dr-point"
    elif chosen == "dr (best if contacted)":
        policy = "dr-rank"
    elif chosen == "naive rule":
        policy = "naive"
    else:
        policy = chosen
    return PolicyChoice(policy, best_single, stage_rule, table, reason, n, test)


def _arm_gains(effects: DoublyRobustEffects, effect: np.ndarray, n_arms: int) -> np.ndarray:
    """Expected drop-off reduction per row and arm (arm 0, no action: 0; unknown: 0)."""
    gains = np.zeros((len(effect), n_arms))
    for k, t in enumerate(effects.touchpoints):
        gains[:, effects.all_touchpoints.index(t) + 1] = -effect[:, k]
    return np.nan_to_num(gains, nan=0.0)


def confirmed_share(measured: float, standard_error: float, predicted: float) -> float:
    """The share of a predicted drop-off reduction that held-out evidence bears out.

    The true gain ``G`` of a policy whose model predicts a mean reduction
    ``P`` is given a sceptical normal prior, centred on no gain and as wide
    as the prediction (``G ~ N(0, P^2)``); the held-out period measures it
    as ``measured`` with ``standard_error``. The posterior mean of ``G`` is
    ``measured * P^2 / (P^2 + se^2)``; the share is that over ``P``, clipped
    to [0, 1]. A precise measurement of the predicted gain gives about 1; a
    measurement too noisy to tell gives little, whatever its sign, so
    reductions that the data cannot confirm are shown shrunk rather than at
    the model's word (every touchpoint of a policy is scaled alike, so their
    order by reduction is unchanged; by value saved net of cost it may not be).

    Parameters
    ----------
    measured : float
        Held-out gain (drop-off reduction per decision, positive: fewer leave).
    standard_error : float
        Its standard error.
    predicted : float
        The gain the policy's model expected on the same decisions.

    Returns
    -------
    float
        In [0, 1]; 1 when the model expects no gain (nothing to scale).
    """
    if not (np.isfinite(predicted) and predicted > 0):
        return 1.0
    if not (np.isfinite(measured) and np.isfinite(standard_error)):
        return 0.0
    share = measured * predicted / (predicted**2 + standard_error**2)
    return float(np.clip(share, 0.0, 1.0))


def _detectable(row: dict | None, n: int) -> str:
    """How large a gain the held-out comparison could have shown, for a reason's end."""
    if row is None:
        return ""
    margin = (row["vs_default_high"] - row["vs_default"]) * 100
    if not np.isfinite(margin) or margin <= 0:
        return ""
    return (
        f" (on {n:,} held-out decisions, only a gain of more than {margin:.1f} points "
        "of drop-off could have shown; a control group in each campaign measures smaller ones)"
    )


def _untested(
    failed: str, sequence: tuple[str, ...], rows: dict, in_range: dict, default: str
) -> str:
    """Why a policy whose interval lies wholly on the better side was still not chosen.

    The table shows every candidate's interval, but only the candidates up to the first
    that fails are tested (without that rule one of several would often win by chance),
    and the doubly robust learner's best touchpoint for everyone is shown for comparison
    only: it gives each customer's best touchpoint even where its estimate is a rise.
    """

    def better(k: str) -> bool:
        return k in rows and in_range[k] and rows[k]["vs_default_high"] < 0

    after = [k for k in sequence[sequence.index(failed) + 1 :] if better(k)]
    said = ""
    if after:
        names = " and ".join(_label(k) for k in after)
        said += (
            f". {names[0].upper()}{names[1:]} {'shows' if len(after) == 1 else 'show'} an "
            f"interval below {_label(default)} in the table, but the tests run in a fixed "
            "order and stop at the first that fails, so that one of several candidates cannot "
            f"win by chance: {_label(failed)} came first and did not pass"
        )
    if better("dr (best if contacted)") and "dr (best if contacted)" not in sequence:
        said += (
            f". {_label('dr (best if contacted)')[0].upper()}"
            f"{_label('dr (best if contacted)')[1:]} is in the table for comparison only, "
            "not a candidate: it gives each customer's best touchpoint even where its estimate "
            "is a rise in risk"
        )
    return said


def _out_of_range(name: str, value: float) -> str:
    """Why a candidate valued outside 0-100% drop-off was not believed, for a reason's end."""
    return (
        f" (the held-out estimate for {_label(name)} is a drop-off rate of {value:.1%}, "
        "which no policy can have: its weighted outcomes are too unstable on these "
        "decisions to value it; a control group in each campaign measures it directly)"
    )


def _label(name: str) -> str:
    if name.startswith("single: "):
        return f"giving {name[len('single: ') :]} to every eligible customer it is expected to help"
    return {
        "dr": "the doubly robust learner",
        "dr (best if contacted)": "the doubly robust learner's best touchpoint for everyone",
        "dr (point estimates)": "the doubly robust learner (point estimates)",
        "response": "the response model",
        "naive rule": "the naive rule",
        NO_ACTION: "doing nothing",
    }.get(name, name)
