"""A customer-journey simulator with ground truth.

The simulator runs day by day over all customers at once (numpy, no loop over
customers). Each customer carries a latent state that the event log never shows:

- ``persona``: bargain hunter, loyal regular, careful researcher, impulse buyer or
  B2B buyer. Personas differ in activity, base drop-off hazard, sensitivity to
  contact fatigue and, above all, in how each touchpoint affects them.
- ``health``: the customer's attitude to the brand. It drifts back to the
  customer's own baseline (30-day time constant); touchpoints move it.
- ``grudge``: the memory of bad experiences (20-day half-life). A bad experience
  costs far more health than a good one earns ("12 positives for one negative"),
  raises the hazard and makes the customer go quiet (fewer self-initiated events):
  silence after a bad experience is a risk signal.
- ``fatigue``: contact pressure from emails, calls and offers (5-day time
  constant). Above a threshold it raises the hazard, most for B2B buyers and
  researchers: too many emails are harmful.
- open support tickets and their age: unresolved tickets raise the hazard, more
  the older they get. Live chat, follow-up calls and consultations can resolve them.
- the journey stage, moved by touchpoints (a website visit turns awareness into
  consideration, a consultation or free trial may convert, a purchase completes
  conversion, rewards build loyalty) and set back by bad experiences.

Each day an active customer first drops off with the daily hazard (then emits
nothing ever again), otherwise emits each touchpoint with a daily probability:
self-initiated touchpoints depend on stage, persona and mood; business-initiated
ones follow a "business as usual" (BAU) policy that is deliberately confounded
(offers go to repeat buyers, follow-up calls to customers with open tickets,
rewards to loyal customers), as in real CRM data.

Ground truth, at a cutoff, for every customer seen before it
------------------------------------------------------------
Nobody can see whether a customer who has gone quiet has already left. The
ground truth knows everything else about the customer (persona, health,
grudges, fatigue, tickets, stage) and weighs the two cases by their exact
posterior, so it is the best prediction possible from everything but that one
unobservable fact:

``p_active``
    P(still there | silent since the last event), exact: while a customer is
    silent their state evolves deterministically, so a recursion over the silent
    days gives it, and the state they have at the cutoff if still there.
``risk_no_action``
    The probability of having no event in ``(cutoff, cutoff + horizon]`` under
    business as usual (exactly the event the churn label records):
    ``p_active * risk_if_there + (1 - p_active)``. Exact, not sampled: while a
    customer emits nothing the state evolves deterministically, so P(silent) =
    sum over days of P(silent so far) x hazard + P(silent and active to the end).
``risk_full_no_action``
    The same for an observer who also knows whether the customer has left (1 for
    those gone): an upper bound no model can reach from the log.
``risk_<touchpoint>``
    ``risk_no_action`` after the touchpoint is delivered at the cutoff (then
    business as usual; a customer who has left never sees it). The touchpoint's
    own random outcome (experience quality, stage move, ticket fix) is
    integrated with stratified draws shared by all touchpoints (common random
    numbers). NaN where the journey map does not allow the touchpoint in the
    customer's current stage.
``p_next_<stage>``, ``p_next_dropped``
    The distribution of the next-stage label (stage of the last event in the
    horizon, or dropped). ``p_next_dropped`` is ``risk_no_action``, exact; the
    stage shares come from Monte Carlo rollouts of the full simulation.
``expected_value``
    The expected spend in ``(cutoff, cutoff + horizon]`` under business as
    usual: ``p_active`` x the expected purchases if still there x the persona's
    mean amount. The purchases are averaged over the same rollouts, each day
    adding its exact probability of staying and buying given the rollout's
    state (Rao-Blackwellised: no sampling noise from the purchase draws).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy.special import ndtri

from cjml.journey import DEFAULT_STAGES, JourneyMap

__all__ = ["PERSONAS", "SEGMENTS", "simulate"]

PERSONAS: tuple[str, ...] = (
    "bargain_hunter",
    "loyal_regular",
    "careful_researcher",
    "impulse_buyer",
    "b2b_buyer",
)
#: The CRM's segment labels: the persona as the business believes it to be.
SEGMENTS: tuple[str, ...] = ("deal_seeker", "regular", "researcher", "spontaneous", "business")
_PERSONA_MIX = np.array([0.25, 0.2, 0.2, 0.2, 0.15])
_SEGMENT_ACCURACY = 0.85

_MAP = JourneyMap.default()
_TP = {name: i for i, name in enumerate(_MAP.touchpoint_names)}
_T = len(_TP)
_S = len(DEFAULT_STAGES)
_P = len(PERSONAS)
A, CO, CV, R, L = range(_S)
_ACTIONABLE = np.array([_TP[n] for n in _MAP.actionable_touchpoints])
_ELIGIBLE = _MAP.eligibility_matrix()  # (stage, touchpoint)


def _table(rows: dict[str, dict[int, float]], n_rows: int, default: float = 0.0) -> np.ndarray:
    """Touchpoint-keyed dict of {row: value} -> array (n_rows, n_touchpoints)."""
    out = np.full((n_rows, _T), default)
    for tp, per_row in rows.items():
        for r, v in per_row.items():
            out[r, _TP[tp]] = v
    return out


def _persona_table(rows: dict[str, list[float]], default: float = 0.0) -> np.ndarray:
    out = np.full((_P, _T), default)
    for tp, values in rows.items():
        out[:, _TP[tp]] = values
    return out


# --- activity ---------------------------------------------------------------------
# Self-initiated touchpoints: daily rate by stage (before persona and mood).
_SELF_RATE = _table(
    {
        "paid_ad": {A: 0.05},
        "online_review": {A: 0.03, CO: 0.03},
        "website_visit": {A: 0.03, CO: 0.07, CV: 0.05, R: 0.03},
        "store_visit": {CO: 0.01, CV: 0.025, R: 0.02, L: 0.025},
        "purchase": {CO: 0.004, CV: 0.035, R: 0.015, L: 0.02},
        "support_ticket": {CV: 0.004, R: 0.008, L: 0.006},
    },
    _S,
)
_SELF_PERSONA = _persona_table(
    {  # bargain, loyal, researcher, impulse, b2b
        "paid_ad": [1.0, 1.0, 1.0, 1.3, 0.8],
        "online_review": [1.3, 0.8, 2.0, 0.8, 1.0],
        "website_visit": [1.0, 1.0, 1.5, 0.8, 1.0],
        "store_visit": [1.0, 1.6, 1.0, 1.0, 0.4],
        "purchase": [1.1, 1.5, 0.7, 1.6, 0.5],
        "support_ticket": [1.0, 0.8, 1.0, 1.0, 1.6],
    },
    default=1.0,
)
# Business-as-usual policy: daily rate by stage of each business-initiated touchpoint.
_BAU_RATE = _table(
    {
        "email": {CO: 0.005, CV: 0.005, R: 0.005, L: 0.005},
        "live_chat": {CO: 0.006, CV: 0.006, R: 0.003},
        "free_trial": {CO: 0.01},
        "consultation": {CO: 0.005, CV: 0.008, R: 0.002},
        "follow_up_call": {CV: 0.002, R: 0.002},
        "renewal_reminder": {R: 0.01},
        "personalised_offer": {CV: 0.001, R: 0.002, L: 0.002},
        "loyalty_reward": {R: 0.002, L: 0.012},
        "referral_invite": {L: 0.01},
    },
    _S,
)
_NEWSLETTER_REACH = 0.3  # share of customers (consideration onwards) a weekly newsletter reaches
_TICKET_DAILY_RESOLUTION = 0.12

# --- drop-off hazard (logit of the daily probability) -----------------------------
_STAGE_HAZARD = np.array([-3.3, -3.6, -3.9, -4.3, -4.9])
_PERSONA_HAZARD = np.array([0.3, -0.4, 0.0, 0.4, -0.2])
_HEALTH_WEIGHT = 1.0
_GRUDGE_WEIGHT = 0.9
_TICKET_WEIGHT = 0.5
_TICKET_AGE_SCALE = 14.0
_FATIGUE_THRESHOLD = 1.5
_FATIGUE_SENSITIVITY = np.array([0.15, 0.35, 0.6, 0.2, 0.8])

# --- effects of touchpoints ----------------------------------------------------------
_HEALTH_MEAN = np.array([-0.2, 0.6, 0.0, -0.1, 0.3])
_HEALTH_SD = 0.45
# Direct effect of each touchpoint on health, by persona: the touchpoint that keeps
# one persona annoys another.
_HEALTH_EFFECT = _persona_table(
    {  # bargain, loyal, researcher, impulse, b2b
        "store_visit": [0.02, 0.05, 0.02, 0.02, 0.0],
        "purchase": [0.05, 0.05, 0.05, 0.05, 0.05],
        "email": [0.05, -0.05, -0.15, 0.2, -0.2],
        "live_chat": [0.1, 0.1, 0.8, 0.0, 0.25],
        "free_trial": [0.5, 0.0, 0.5, 0.7, 0.0],
        "consultation": [0.0, 0.2, 1.1, -0.5, 0.8],
        "follow_up_call": [-0.25, 0.25, 0.0, -0.7, 0.9],
        "renewal_reminder": [0.2, 0.3, 0.1, 0.0, 0.4],
        "personalised_offer": [1.1, -0.3, -0.1, 0.6, 0.0],
        "loyalty_reward": [0.4, 1.0, 0.1, 0.2, 0.0],
        "referral_invite": [0.1, 0.6, 0.0, 0.3, 0.0],
    }
)
_FATIGUE_ADD = _table(
    {
        "email": {0: 1.0},
        "follow_up_call": {0: 0.7},
        "renewal_reminder": {0: 0.5},
        "personalised_offer": {0: 0.4},
        "referral_invite": {0: 0.4},
        "live_chat": {0: 0.2},
        "consultation": {0: 0.2},
        "loyalty_reward": {0: 0.2},
        "free_trial": {0: 0.2},
    },
    1,
)[0]
# Service experiences: latent quality ~ N(mean + 0.3 * health, 1). Below the bad
# threshold the customer has a bad experience.
_QUALITY_MEAN = np.full(_T, np.nan)
for _name, _q in {
    "store_visit": 0.3,
    "purchase": 0.4,
    "live_chat": 0.3,
    "consultation": 0.5,
    "follow_up_call": 0.2,
    "free_trial": 0.3,
}.items():
    _QUALITY_MEAN[_TP[_name]] = _q
_BAD_QUALITY = -1.2
_GOOD_QUALITY = 1.0
_BAD_HEALTH_LOSS = 0.8
_BAD_GRUDGE_GAIN = 0.8
_GOOD_HEALTH_GAIN = 0.08
_CSAT_CUTS = np.array([-1.2, -0.4, 0.4, 1.1])  # quality -> CSAT 1..5
# Probability that a contact resolves an open ticket on the spot.
_FIX_PROB = np.zeros(_T)
for _name, _p in {"live_chat": 0.45, "follow_up_call": 0.65, "consultation": 0.35}.items():
    _FIX_PROB[_TP[_name]] = _p
# Probability of moving one stage forward after a touchpoint, before persona and mood.
_ADVANCE = _table(
    {
        "online_review": {A: 0.15},
        "email": {CO: 0.04},
        "website_visit": {CO: 0.03},
        "live_chat": {CO: 0.2},
        "free_trial": {CO: 0.35},
        "consultation": {CO: 0.45},
        "store_visit": {R: 0.02},
        "personalised_offer": {R: 0.03},
        "loyalty_reward": {R: 0.2},
    },
    _S,
)
_REPEAT_BUYER_ADVANCE = 0.12  # purchase in retention with 3+ purchases -> loyalty
_CONVERSION_SPEED = np.array([1.0, 1.2, 0.6, 1.6, 0.8])
_LOYALTY_SPEED = np.array([0.6, 1.5, 1.0, 0.7, 1.0])
_AMOUNT_MEAN = np.array([30.0, 60.0, 80.0, 45.0, 900.0])

# Order in which a day's touchpoints take effect (and are time-stamped).
_DAY_ORDER = np.array(
    [
        _TP[n]
        for n in (
            "paid_ad",
            "online_review",
            "website_visit",
            "live_chat",
            "email",
            "free_trial",
            "consultation",
            "store_visit",
            "purchase",
            "support_ticket",
            "follow_up_call",
            "renewal_reminder",
            "personalised_offer",
            "loyalty_reward",
            "referral_invite",
            "ticket_resolved",
        )
    ]
)
_CHANNELS = {
    "paid_ad": (("social", "search"), (0.6, 0.4)),
    "online_review": (("web", "social"), (0.6, 0.4)),
    "website_visit": (("web", "app"), (0.7, 0.3)),
    "store_visit": (("store",), (1.0,)),
    "purchase": (("web", "store", "app"), (0.5, 0.35, 0.15)),
    "support_ticket": (("phone", "email", "chat"), (0.4, 0.3, 0.3)),
    "ticket_resolved": (("phone", "email", "chat"), (0.4, 0.3, 0.3)),
    "email": (("email",), (1.0,)),
    "live_chat": (("chat",), (1.0,)),
    "free_trial": (("web",), (1.0,)),
    "consultation": (("store", "phone"), (0.7, 0.3)),
    "follow_up_call": (("phone",), (1.0,)),
    "renewal_reminder": (("email", "app"), (0.7, 0.3)),
    "personalised_offer": (("email", "app"), (0.6, 0.4)),
    "loyalty_reward": (("app", "email"), (0.6, 0.4)),
    "referral_invite": (("email",), (1.0,)),
}
_CHANNEL_NAMES = tuple(sorted({c for cs, _ in _CHANNELS.values() for c in cs}))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class _State:
    """Latent state of m customers (or customer replicas), one array per field."""

    persona: np.ndarray
    stage: np.ndarray
    health: np.ndarray
    baseline: np.ndarray
    fatigue: np.ndarray
    grudge: np.ndarray
    open_tickets: np.ndarray
    ticket_age: np.ndarray
    purchases: np.ndarray
    active: np.ndarray

    def take(self, idx: np.ndarray) -> _State:
        return _State(**{f.name: getattr(self, f.name)[idx].copy() for f in fields(self)})


@dataclass(frozen=True)
class _Calendar:
    """Days on which the weekly newsletter goes out."""

    newsletter: np.ndarray  # bool per day


def _hazard(st: _State, idx: np.ndarray) -> np.ndarray:
    p, s = st.persona[idx], st.stage[idx]
    tickets = st.open_tickets[idx]
    z = (
        _STAGE_HAZARD[s]
        + _PERSONA_HAZARD[p]
        - _HEALTH_WEIGHT * st.health[idx]
        + _GRUDGE_WEIGHT * st.grudge[idx]
        + _TICKET_WEIGHT * tickets * (1.0 + st.ticket_age[idx] / _TICKET_AGE_SCALE)
        + _FATIGUE_SENSITIVITY[p] * np.maximum(st.fatigue[idx] - _FATIGUE_THRESHOLD, 0.0)
    )
    return _sigmoid(z)


def _event_probabilities(st: _State, idx: np.ndarray, day: int, cal: _Calendar) -> np.ndarray:
    """Daily probability of each touchpoint, shape (len(idx), n_touchpoints)."""
    p, s = st.persona[idx], st.stage[idx]
    h, g = st.health[idx], st.grudge[idx]
    tickets = st.open_tickets[idx]
    mood = np.exp(np.clip(0.4 * h - 0.7 * g, -3.0, 1.5))
    rate = _SELF_RATE[s] * _SELF_PERSONA[p] * mood[:, None]
    engaged = _sigmoid(0.5 + h)  # business contacts are logged only when the customer engages
    bau = _BAU_RATE[s].copy()
    if cal.newsletter[day]:
        bau[:, _TP["email"]] += _NEWSLETTER_REACH * (s >= CO)
    support = (s >= CV) & (s <= R)
    bau[:, _TP["live_chat"]] *= 1.0 + 3.0 * tickets * support
    bau[:, _TP["follow_up_call"]] += 0.04 * tickets * support
    # Confounded targeting: offers go to repeat buyers, who churn less anyway.
    bau[:, _TP["personalised_offer"]] += 0.012 * (st.purchases[idx] >= 2) * (s >= CV)
    rate += bau * engaged[:, None]
    prob = -np.expm1(-rate)
    prob[:, _TP["ticket_resolved"]] = 1.0 - (1.0 - _TICKET_DAILY_RESOLUTION) ** tickets
    return prob


def _drift(st: _State, idx: np.ndarray) -> None:
    """One day passes: health returns to baseline, fatigue and grudges fade."""
    st.health[idx] = st.baseline[idx] + (st.health[idx] - st.baseline[idx]) * np.exp(-1 / 30)
    st.fatigue[idx] *= np.exp(-1 / 5)
    st.grudge[idx] *= 0.5 ** (1 / 20)
    st.ticket_age[idx] += st.open_tickets[idx] > 0


@dataclass
class _Touch:
    stage: np.ndarray  # stage the event is recorded in
    quality: np.ndarray  # latent experience quality (NaN when no experience)
    effort: np.ndarray  # latent CES for ticket resolutions (NaN otherwise)
    fixed: np.ndarray  # the contact resolved an open ticket


def _touch(
    st: _State, idx: np.ndarray, tp: int, z: np.ndarray, u_move: np.ndarray, u_fix: np.ndarray
) -> _Touch:
    """Apply touchpoint ``tp`` to customers ``idx``; the uniforms/normals drive chance."""
    n = len(idx)
    p = st.persona[idx]
    s = st.stage[idx].copy()
    h = st.health[idx]
    # A touchpoint outside the customer's stage moves them to the nearest stage where
    # it belongs (a website visit turns awareness into consideration; a store visit or
    # a purchase turns consideration into conversion).
    allowed = _ELIGIBLE[:, tp]
    outside = ~allowed[s]
    if outside.any():
        stages = np.flatnonzero(allowed)
        later = stages[np.searchsorted(stages, s[outside]).clip(max=len(stages) - 1)]
        s[outside] = np.where(later > s[outside], later, stages[-1])
    # Chance of moving forward.
    adv = _ADVANCE[s, tp]
    adv = np.where(s == CO, adv * _CONVERSION_SPEED[p], adv)
    adv = np.where(s == R, adv * _LOYALTY_SPEED[p], adv)
    if tp == _TP["purchase"]:
        adv = np.where(
            (s == R) & (st.purchases[idx] >= 2), _REPEAT_BUYER_ADVANCE * _LOYALTY_SPEED[p], adv
        )
    adv = np.clip(adv * (0.5 + 0.5 * _sigmoid(2.0 * h)), 0.0, 1.0)
    moved = (u_move < adv) & (s < L)
    # The event is recorded in the stage it moved the customer to, unless the map does
    # not allow the touchpoint there (a free trial that converts is still a trial).
    recorded = np.where(moved & allowed[np.minimum(s + 1, L)], s + 1, s)

    dh = _HEALTH_EFFECT[p, tp].copy()
    st.fatigue[idx] += _FATIGUE_ADD[tp]
    quality = np.full(n, np.nan)
    effort = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    if not np.isnan(_QUALITY_MEAN[tp]):
        quality = _QUALITY_MEAN[tp] + 0.3 * h + z
        bad = quality < _BAD_QUALITY
        dh += np.where(quality > _GOOD_QUALITY, _GOOD_HEALTH_GAIN, 0.0)
    if tp == _TP["support_ticket"]:
        first = st.open_tickets[idx] == 0
        st.ticket_age[idx[first]] = 0.0
        st.open_tickets[idx] += 1
        st.grudge[idx] += 0.25
        dh -= 0.1
    if tp == _TP["ticket_resolved"]:
        effort = 2.0 + st.ticket_age[idx] / 7.0 + z - 0.3 * h
        high = effort >= 4.5
        bad |= effort >= 6.0
        dh += np.where(high, -0.4, 0.1)
        st.grudge[idx] = np.where(high, st.grudge[idx] + 0.5, st.grudge[idx] * 0.7)
        st.open_tickets[idx] = np.maximum(st.open_tickets[idx] - 1, 0)
        st.ticket_age[idx[st.open_tickets[idx] == 0]] = 0.0
    if tp == _TP["purchase"]:
        st.purchases[idx] += 1
    fixed = (u_fix < _FIX_PROB[tp]) & (st.open_tickets[idx] > 0)
    # Good service heals grudges; bad service creates them (and weighs far more).
    good_service = ~np.isnan(quality) & (quality > 0.5) & (_FIX_PROB[tp] > 0)
    st.grudge[idx] = np.where(good_service, st.grudge[idx] * 0.5, st.grudge[idx])
    dh -= np.where(bad, _BAD_HEALTH_LOSS, 0.0)
    st.grudge[idx] += np.where(bad, _BAD_GRUDGE_GAIN, 0.0)
    st.health[idx] = h + dh

    after = np.where(moved, s + 1, s)
    if tp == _TP["purchase"]:
        after = np.where(after == CV, R, after)  # a purchase completes conversion
    # Bad experiences set the journey back: loyal -> retention, retention -> shopping
    # around again, unconverted -> back to consideration.
    back = bad & (
        ((after == L) & (u_move > 0.5))
        | ((after == R) & (st.health[idx] < -0.5) & (u_move > 0.75))
        | ((after == CV) & (st.purchases[idx] == 0) & (u_move > 0.7))
    )
    after = np.where(back, np.where(after == R, CO, after - 1), after)
    st.stage[idx] = after
    return _Touch(stage=recorded, quality=quality, effort=effort, fixed=fixed)


def _simulate_day(
    st: _State,
    alive: np.ndarray,
    day: int,
    cal: _Calendar,
    rng: np.random.Generator,
    force: tuple[np.ndarray, np.ndarray] | None = None,
    record: bool = False,
) -> tuple[np.ndarray, dict]:
    """Advance customers ``alive`` by one day. Returns (still alive, events).

    ``force`` is (mask over ``alive``, touchpoint index): those customers stay
    and have that event today.
    """
    drop = rng.random(len(alive)) < _hazard(st, alive)
    st.active[alive[drop]] = False
    stay = ~drop
    if force is not None:
        stay |= force[0]  # arrivals do not drop on their first day
        st.active[alive[force[0]]] = True
    alive = alive[stay]
    prob = _event_probabilities(st, alive, day, cal)
    fire = rng.random(prob.shape) < prob
    if force is not None:
        fire[force[0][stay].nonzero()[0], force[1][force[0]]] = True
    cust, tps, stage, quality, effort, mood = [], [], [], [], [], []
    resolved = _TP["ticket_resolved"]
    for tp in _DAY_ORDER:
        rows = np.flatnonzero(fire[:, tp])
        if len(rows) == 0:
            continue
        idx = alive[rows]
        touch = _touch(
            st,
            idx,
            tp,
            rng.standard_normal(len(rows)),
            rng.random(len(rows)),
            rng.random(len(rows)),
        )
        if touch.fixed.any():
            fire[rows[touch.fixed], resolved] = True
        cust.append(idx)
        tps.append(np.full(len(rows), tp))
        stage.append(touch.stage)
        if record:
            quality.append(touch.quality)
            effort.append(touch.effort)
            mood.append(st.health[idx] - 0.8 * st.grudge[idx])
    _drift(st, alive)
    if not cust:
        empty = np.array([], dtype=np.int64)
        return alive, {
            "customer": empty,
            "touchpoint": empty,
            "stage": empty,
            "quality": np.array([]),
            "effort": np.array([]),
            "mood": np.array([]),
        }
    events = {
        "customer": np.concatenate(cust),
        "touchpoint": np.concatenate(tps),
        "stage": np.concatenate(stage),
    }
    if record:
        events["quality"] = np.concatenate(quality)
        events["effort"] = np.concatenate(effort)
        events["mood"] = np.concatenate(mood)
    return alive, events


def _p_silent(st: _State, start_day: int, horizon: int, cal: _Calendar) -> np.ndarray:
    """Exact probability that each customer of ``st`` emits no event in the horizon.

    While a customer is silent their state evolves deterministically (only drift),
    so P(silent) = sum_d P(silent through d-1) * hazard_d + P(silent and active to
    the end). ``st`` is modified in place.
    """
    m = len(st.persona)
    idx = np.arange(m)
    silent_active = np.ones(m)
    dropped = np.zeros(m)
    for k in range(horizon):
        q = _hazard(st, idx)
        quiet = np.prod(1.0 - _event_probabilities(st, idx, start_day + k, cal), axis=1)
        dropped += silent_active * q
        silent_active *= (1.0 - q) * quiet
        _drift(st, idx)
    out = dropped + silent_active
    out[~st.active] = 1.0
    return out


def _stratified(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """(n, k) uniforms, one in each of k equal strata per row, strata shuffled per row."""
    u = (np.arange(k) + rng.random((n, k))) / k
    return np.take_along_axis(u, rng.random((n, k)).argsort(axis=1), axis=1)


def _silence_posterior(
    last: _State, last_day: np.ndarray, day: int, cal: _Calendar
) -> tuple[np.ndarray, _State]:
    """What the silence since each customer's last event says, at the start of ``day``.

    From the state right after the last event (``last``, on ``last_day``), the
    customer stayed silent until the cutoff. While silent the state evolves
    deterministically, so the same recursion as :func:`_p_silent` gives
    P(still active | silent so far) exactly, and the state the customer has at
    the cutoff if still active. ``last`` is modified in place.
    """
    m = len(last.persona)
    last.active[:] = True
    stayed = np.ones(m)  # P(active and silent through day d)
    left = np.zeros(m)  # P(dropped and silent through day d)
    for d in range(int(last_day.min()) + 1 if m else day, day):
        idx = np.flatnonzero(last_day < d)
        q = _hazard(last, idx)
        quiet = np.prod(1.0 - _event_probabilities(last, idx, d, cal), axis=1)
        left[idx] += stayed[idx] * q
        stayed[idx] *= (1.0 - q) * quiet
        _drift(last, idx)
    return stayed / (stayed + left), last


def _ground_truth(
    st: _State,
    seen: np.ndarray,
    day: int,
    horizon: int,
    cal: _Calendar,
    rng: np.random.Generator,
    n_draws: int,
    n_rollouts: int,
    last: _State,
    last_day: np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(seen)
    active = st.active[seen]
    # Nobody can see whether a silent customer has already left: the ground truth
    # knows everything about the customer but that, and weighs both cases by their
    # exact posterior. ``base`` is the customer at the cutoff if still there.
    p_active, base = _silence_posterior(last.take(seen), last_day[seen], day, cal)
    gone = 1.0 - p_active
    # Customers silent for so long that they are all but surely gone move no
    # probability by more than 1e-9: simulate only the others (and the truly active,
    # whose full-information risk is reported too).
    live = np.flatnonzero((p_active > 1e-9) | active)
    n_live = len(live)
    base = base.take(live)
    risk = np.ones(n)
    risk[live] = _p_silent(base.take(np.arange(n_live)), day, horizon, cal)
    out: dict[str, np.ndarray] = {
        "p_active": p_active,
        "risk_no_action": p_active * risk + gone,
        "risk_full_no_action": np.where(active, risk, 1.0),
    }

    # Touchpoint delivered at the cutoff, integrated over its random outcome with
    # stratified draws shared by all touchpoints (common random numbers).
    z = ndtri(_stratified(n_live, n_draws, rng)).ravel()
    u_move = _stratified(n_live, n_draws, rng).ravel()
    u_fix = _stratified(n_live, n_draws, rng).ravel()
    z_res = ndtri(_stratified(n_live, n_draws, rng)).ravel()
    rep = np.repeat(np.arange(n_live), n_draws)
    stage_at_cutoff = st.stage[seen]  # unchanged by silence
    for tp in _ACTIONABLE:
        eligible = _ELIGIBLE[stage_at_cutoff, tp]
        arm = np.where(eligible, 1.0, np.nan)
        rows = np.flatnonzero(eligible[live])
        if len(rows):
            sel = np.isin(rep, rows)
            st_t = base.take(rep[sel])
            all_idx = np.arange(len(st_t.persona))
            touch = _touch(st_t, all_idx, tp, z[sel], u_move[sel], u_fix[sel])
            fixed = np.flatnonzero(touch.fixed)
            if len(fixed):
                _touch(
                    st_t,
                    fixed,
                    _TP["ticket_resolved"],
                    z_res[sel][fixed],
                    np.ones(len(fixed)),
                    np.ones(len(fixed)),
                )
            arm[live[rows]] = _p_silent(st_t, day, horizon, cal).reshape(-1, n_draws).mean(axis=1)
        # a customer who has left never sees the touchpoint
        out[f"risk_{_MAP.touchpoint_names[tp]}"] = p_active * arm + gone

    # Next-stage distribution: rollouts of the whole simulation from the cutoff.
    roll = base.take(np.repeat(np.arange(n_live), n_rollouts))
    final = np.full(len(roll.persona), -1)
    living = np.flatnonzero(roll.active)
    # Expected purchases in the horizon if still there: each day's P(stay and buy) from
    # the rollout's state before the day is drawn (no random numbers used, so the
    # rollouts are unchanged; far less noise than counting the sampled purchases).
    buys = np.zeros(len(roll.persona))
    for k in range(horizon):
        buys[living] += (1.0 - _hazard(roll, living)) * _event_probabilities(
            roll, living, day + k, cal
        )[:, _TP["purchase"]]
        living, ev = _simulate_day(roll, living, day + k, cal, rng)
        _write_last(final, ev["customer"], ev["stage"])
    has = final >= 0
    rep_r = np.repeat(np.arange(n_live), n_rollouts)
    value_if_there = np.zeros(n)
    value_if_there[live] = (
        buys.reshape(n_live, n_rollouts).mean(axis=1) * _AMOUNT_MEAN[base.persona]
    )
    counts = np.zeros((n, _S))
    counts[live] = np.bincount(rep_r[has] * _S + final[has], minlength=n_live * _S).reshape(
        n_live, _S
    )
    smooth = 0.1
    shares = (counts + smooth) / (counts.sum(axis=1, keepdims=True) + smooth * _S)
    for s_i, name in enumerate(DEFAULT_STAGES):
        out[f"p_next_{name}"] = p_active * (1.0 - risk) * shares[:, s_i]
    out["p_next_dropped"] = out["risk_no_action"].copy()
    # a customer who has left buys nothing; amounts average _AMOUNT_MEAN per persona
    out["expected_value"] = p_active * value_if_there
    return out


@dataclass
class _Run:
    """A simulation in progress: the state, the calendar and the random streams."""

    rng: np.random.Generator
    truth_seq: np.random.SeedSequence
    cal: _Calendar
    st: _State
    first_tp: np.ndarray
    arrival: np.ndarray
    arrival_pos: np.ndarray
    dropout_day: np.ndarray


def _start(n: int, n_days: int, horizon: int, seed: int | None) -> _Run:
    """Draw the customers and the calendar; nobody has arrived yet."""
    ss = np.random.SeedSequence(seed)
    main_seq, cal_seq, truth_seq = ss.spawn(3)
    rng = np.random.default_rng(main_seq)
    cal_rng = np.random.default_rng(cal_seq)
    newsletter = np.zeros(n_days + horizon + 1, dtype=bool)
    weekly = np.arange(0, len(newsletter), 7) + cal_rng.integers(
        0, 7, size=len(range(0, len(newsletter), 7))
    )
    newsletter[weekly[weekly < len(newsletter)]] = True
    persona = rng.choice(_P, size=n, p=_PERSONA_MIX)
    baseline = _HEALTH_MEAN[persona] + _HEALTH_SD * rng.standard_normal(n)
    # Customers arrive over the first two thirds of the period.
    arrival = np.sort(rng.integers(0, max(1, (2 * n_days) // 3), size=n))
    st = _State(
        persona=persona,
        stage=np.where(rng.random(n) < 0.8, A, CO),
        health=baseline.copy(),
        baseline=baseline,
        fatigue=np.zeros(n),
        grudge=np.zeros(n),
        open_tickets=np.zeros(n, dtype=np.int64),
        ticket_age=np.zeros(n),
        purchases=np.zeros(n, dtype=np.int64),
        active=np.zeros(n, dtype=bool),
    )
    first_tp = np.where(
        st.stage == A,
        rng.choice([_TP["paid_ad"], _TP["online_review"]], size=n, p=[0.6, 0.4]),
        _TP["website_visit"],
    )
    return _Run(
        rng=rng,
        truth_seq=truth_seq,
        cal=_Calendar(newsletter=newsletter),
        st=st,
        first_tp=first_tp,
        arrival=arrival,
        arrival_pos=np.searchsorted(arrival, np.arange(n_days + 1)),
        dropout_day=np.full(n, -1),
    )


def _advance(run: _Run, alive: np.ndarray, day: int) -> tuple[np.ndarray, dict]:
    """Simulate ``day``: the customers still there, then that day's arrivals."""
    new = np.arange(run.arrival_pos[day], run.arrival_pos[day + 1])
    everyone = np.concatenate([alive, new])
    force_mask = np.zeros(len(everyone), dtype=bool)
    force_mask[len(alive) :] = True
    force_tp = np.zeros(len(everyone), dtype=np.int64)
    force_tp[len(alive) :] = run.first_tp[new]
    alive_next, ev = _simulate_day(
        run.st, everyone, day, run.cal, run.rng, force=(force_mask, force_tp), record=True
    )
    run.dropout_day[alive[~run.st.active[alive]]] = day
    return alive_next, ev


def state_at(
    n_customers: int, n_days: int, horizon: int, day: int, seed: int | None
) -> tuple[_State, _Calendar]:
    """Every customer's latent state at the start of ``day`` (midnight of the cutoff).

    Replays the simulation of :func:`simulate` with the same arguments up to
    that day (the random stream is the same, so the state is exactly the one
    the truth at that cutoff starts from).
    """
    run = _start(n_customers, n_days, horizon, seed)
    alive = np.array([], dtype=np.int64)
    for d in range(day):
        alive, _ = _advance(run, alive, d)
    return run.st, run.cal


def simulate(
    n_customers: int,
    n_days: int,
    start: pd.Timestamp,
    truth_days: list[int],
    horizon: int,
    n_draws: int,
    n_rollouts: int,
    seed: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run the simulation; see :func:`cjml.datasets.make_journeys` for the contract."""
    n = n_customers
    run = _start(n, n_days, horizon, seed)
    rng, st, cal = run.rng, run.st, run.cal
    persona, baseline, arrival = st.persona, st.baseline, run.arrival

    snapshots: dict[int, tuple] = {}
    # each customer's state right after the day of their last event
    last_state = st.take(np.arange(n))
    last_day = np.full(n, -1)
    days, custs, tps, stages, quals, efforts, moods = [], [], [], [], [], [], []
    alive = np.array([], dtype=np.int64)
    for day in range(n_days):
        if day in truth_days:
            seen = np.arange(run.arrival_pos[day])  # arrived (hence one event) before the cutoff
            snapshots[day] = (
                st.take(np.arange(n)),
                seen,
                last_state.take(np.arange(n)),
                last_day.copy(),
            )
        alive, ev = _advance(run, alive, day)
        if len(ev["customer"]):
            who = np.unique(ev["customer"])
            for f in fields(_State):
                getattr(last_state, f.name)[who] = getattr(st, f.name)[who]
            last_day[who] = day
            days.append(np.full(len(ev["customer"]), day))
            custs.append(ev["customer"])
            tps.append(ev["touchpoint"])
            stages.append(ev["stage"])
            quals.append(ev["quality"])
            efforts.append(ev["effort"])
            moods.append(ev["mood"])
    dropout_day = run.dropout_day

    events = _assemble_events(
        rng,
        start,
        persona,
        np.concatenate(days),
        np.concatenate(custs),
        np.concatenate(tps),
        np.concatenate(stages),
        np.concatenate(quals),
        np.concatenate(efforts),
        np.concatenate(moods),
    )
    segment = _noisy_segment(rng, persona)
    events["segment"] = pd.Categorical(
        np.asarray(SEGMENTS)[segment[events["customer_id"].to_numpy() - 1]], categories=SEGMENTS
    )
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "persona": pd.Categorical(np.asarray(PERSONAS)[persona], categories=PERSONAS),
            "segment": pd.Categorical(np.asarray(SEGMENTS)[segment], categories=SEGMENTS),
            "baseline_health": baseline,
            "arrival": start + pd.to_timedelta(arrival, unit="D"),
            "dropout": pd.Series(
                start + pd.to_timedelta(np.where(dropout_day >= 0, dropout_day, 0), unit="D")
            ).where(dropout_day >= 0),
        }
    )

    truth_frames = []
    ev_day = np.concatenate(days)
    ev_cust = np.concatenate(custs)
    ev_stage = np.concatenate(stages)
    for k, day in enumerate(sorted(snapshots)):
        snap, seen, last, last_on = snapshots[day]
        trng = np.random.default_rng(run.truth_seq.spawn(len(snapshots))[k])
        gt = _ground_truth(snap, seen, day, horizon, cal, trng, n_draws, n_rollouts, last, last_on)
        frame = pd.DataFrame(
            {
                "cutoff": start + pd.Timedelta(days=day),
                "customer_id": seen.astype(np.int64) + 1,
                "persona": pd.Categorical(np.asarray(PERSONAS)[persona[seen]], categories=PERSONAS),
                "stage": pd.Categorical(
                    np.asarray(DEFAULT_STAGES)[snap.stage[seen]],
                    categories=DEFAULT_STAGES,
                    ordered=True,
                ),
                "active": snap.active[seen],
                **gt,
            }
        )
        # Realised labels, read off the simulated future.
        window = (ev_day >= day) & (ev_day < day + horizon)
        last_stage = np.full(n, -1)
        _write_last(last_stage, ev_cust[window], ev_stage[window])
        ls = last_stage[seen]
        frame["realised_churn"] = ls < 0
        frame["realised_next_stage"] = pd.Categorical(
            np.where(ls >= 0, np.asarray(DEFAULT_STAGES)[np.maximum(ls, 0)], "dropped"),
            categories=[*DEFAULT_STAGES, "dropped"],
        )
        truth_frames.append(frame)
    truth = pd.concat(truth_frames, ignore_index=True) if truth_frames else pd.DataFrame()
    return events, customers, truth


def _write_last(target: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
    """target[k] = the value of the last (chronological) event of key k, where present."""
    if len(keys) == 0:
        return
    pos = np.full(len(target), -1)
    np.maximum.at(pos, keys, np.arange(len(keys)))
    has = pos >= 0
    target[has] = values[pos[has]]


def _noisy_segment(rng: np.random.Generator, persona: np.ndarray) -> np.ndarray:
    wrong = rng.random(len(persona)) >= _SEGMENT_ACCURACY
    other = (persona + rng.integers(1, _P, size=len(persona))) % _P
    return np.where(wrong, other, persona)


def _assemble_events(
    rng, start, persona, day, cust, tp, stage, quality, effort, mood
) -> pd.DataFrame:
    n_ev = len(cust)
    # Time of day: random, but a customer's events of one day keep their day order.
    order = np.lexsort((np.arange(n_ev), cust, day))  # events by (day, customer, day order)
    secs = rng.integers(1, 86_400, size=n_ev)
    by_time = np.lexsort((secs, cust[order], day[order]))
    seconds = np.empty(n_ev, dtype=np.int64)
    seconds[order] = secs[by_time]
    ts = pd.to_datetime(start.value + (day * 86_400 + seconds) * 1_000_000_000, utc=True)

    csat_recorded = ~np.isnan(quality) & (rng.random(n_ev) < 0.35)
    satisfaction = np.where(
        csat_recorded, 1.0 + np.searchsorted(_CSAT_CUTS, np.nan_to_num(quality)), np.nan
    )
    # NPS: occasional relationship survey, driven by the latent health (and grudges).
    nps_recorded = rng.random(n_ev) < 0.04
    nps_raw = 6.5 + 1.8 * mood + 1.2 * rng.standard_normal(n_ev)
    nps = np.where(nps_recorded, np.clip(np.round(nps_raw), 0, 10), np.nan)
    ces_recorded = ~np.isnan(effort) & (rng.random(n_ev) < 0.7)
    ces = np.where(ces_recorded, np.clip(np.round(np.nan_to_num(effort)), 1, 7), np.nan)
    is_purchase = tp == _TP["purchase"]
    amount = np.where(
        is_purchase,
        np.round(_AMOUNT_MEAN[persona[cust]] * rng.lognormal(-0.125, 0.5, n_ev), 2),
        np.nan,
    )
    channel = np.empty(n_ev, dtype=np.int64)
    u = rng.random(n_ev)
    names = _MAP.touchpoint_names
    for t in range(_T):
        rows = tp == t
        if rows.any():
            options, weights = _CHANNELS[names[t]]
            pick = np.searchsorted(np.cumsum(weights), u[rows], side="right").clip(
                max=len(options) - 1
            )
            channel[rows] = [_CHANNEL_NAMES.index(c) for c in np.asarray(options)[pick]]
    frame = pd.DataFrame(
        {
            "customer_id": cust.astype(np.int64) + 1,
            "timestamp": ts,
            "touchpoint": pd.Categorical.from_codes(tp, categories=pd.Index(list(names))),
            "stage": pd.Categorical.from_codes(
                stage, categories=pd.Index(list(DEFAULT_STAGES)), ordered=True
            ),
            "channel": pd.Categorical.from_codes(
                channel, categories=pd.Index(list(_CHANNEL_NAMES))
            ),
            "satisfaction": satisfaction,
            "nps": nps,
            "effort": ces,
            "amount": amount,
        }
    )
    frame = frame.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    return frame
