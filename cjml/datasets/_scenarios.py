"""A suite of structurally different simulated worlds with exact counterfactual truth.

:func:`cjml.datasets.make_journeys` simulates one world, and a recommender tuned
on it may fail elsewhere. This module simulates several worlds that differ in
their drop-off mechanism (negative experience memory, contact fatigue, price
rises, open tickets, a fixed lifecycle, silent leaving), in how business as
usual (BAU) picks touchpoints (at random, by persona, by stage, confounded with
the customer's latent state) and in their vocabulary (retail, SaaS, bank,
telecom). The worlds are split once, before any tuning, into development and
held-out worlds (:data:`DEVELOPMENT_SCENARIOS`, :data:`HELD_OUT_SCENARIOS`).

Mechanics, common to all worlds (discrete days)
-----------------------------------------------
Each customer has a persona, an arrival day, a stage and a latent state after
their last event: negative and positive experience memory ``N`` and ``P``,
contact fatigue ``F``, discount memory ``D``, open tickets ``T``. Between events
the state only decays deterministically (``N``, ``P``, ``F``, ``D`` decay
exponentially; tenure and the days since the last event grow). On each day,
for a customer still there:

1. they drop off with hazard ``h_d`` (a function of the decayed state, the
   stage, the persona, the calendar day (price rises), the tenure and the days
   since their last event);
2. if still there, they act with probability ``q_d`` (a customer touchpoint of
   their stage: visits, purchases, tickets, reviews...);
3. independently, BAU delivers an actionable touchpoint with probability
   ``b_d``, picked by the world's logging policy.

Every event updates the state: a bad experience (random, probability set by
the touchpoint, persona, stage, fatigue and recent experience) adds to ``N``, a
good one to ``P``; contacts add fatigue; offers set ``D``; tickets open and get
resolved; the stage may move up. The logged ``stage`` of an event is the stage
after it, so the stage of a customer's last event is their current stage.

Because the state changes only at events, the first-event time after the
cutoff has a closed form: with ``e_d = 1 - (1 - q_d)(1 - b_d)`` and
``A_d = prod_{k<=d} (1 - h_k)(1 - e_k)``, the risk of no event in the horizon
for a customer still there is ``1 - sum_d A_{d-1} (1 - h_d) e_d``. The
posterior of still being there given the silence since the last event is
``S / (S + G)`` with ``S`` the probability of staying silent and present and
``G`` of having left silently. A touchpoint delivered at the cutoff is applied
as an event at the very end of the day before, mixing its random outcomes
(good or bad experience, stage move, ticket fixed) with their exact
probabilities. The risks in ``truth`` are therefore exact, not Monte Carlo
estimates.

Next stage
----------
The next-stage label is the stage of the customer's last event in the
horizon, or ``dropped`` without one. ``p_next_dropped`` is ``risk_no_action``,
exact, and the stages share the rest, ``p_active * (1 - r)`` (``r``: the risk
of a customer still there), in proportion to P(stage of the last event = s |
some event, still there). Stages only move up, one step per event, so that
distribution is 0 below the current stage and above the highest stage the
current one can reach. It is exact (all on the current stage) where no
touchpoint that can occur in the current stage moves it (the last stage of
every world). Elsewhere it depends on the random path and is a Monte Carlo
estimate, drawn from a random stream of its own (the events and the other
columns are the same as without it):

1. a rollout starts from the customer's state at the cutoff; its first event
   day is drawn from its exact distribution given some event (the closed form
   above), with at least one event on that day;
2. it then runs the days exactly as the simulation does, but on a *stay path*
   on which no event moves the stage, multiplying the events' probabilities of
   not moving it into ``stay``: ``E[stay]`` is the probability of ending on the
   current stage (Rao-Blackwellised; 2 to 16 times less variance than counting
   final stages, in our measurements). One event of the path is drawn with
   probability proportional to its chance ``stay_{k-1} p_move_k`` of being the
   first move, and a *branch* continues from the moved state with the full
   dynamics; it gives ``1 - stay`` to the stage where it ends;
3. a customer gets ``ceil(16 sqrt(m))`` rollouts (at least 2; ``m`` is their
   probability of some event), and their mean is shrunk towards the pooled
   rollouts of the customers with the same stage, persona and quartile of
   P(some event | still there), by empirical Bayes: the prior counts as many
   rollouts as the rollouts' variance over the spread of the customers' true
   shares (both by the method of moments; at most 10,000). The pooled shares
   get half a rollout spread over the reachable stages, so no reachable stage
   gets 0.

Expected spend
--------------
``expected_value`` is the expected spend in the horizon under BAU: the
customer's posterior of being there times their expected purchases if there
times the persona's mean amount. The purchases come from 16 rollouts per
customer of the full dynamics from the cutoff state, on a random stream of
their own; each day adds the exact probability of a purchase given the
rollout's state (Rao-Blackwellised) instead of the sampled one.

Monte-Carlo error: compared with 10,000-rollout references for 120 random
customers of each world (seed 0), the expected extra log loss of this oracle
over the exact distribution (the mean over truth rows of ``KL(exact ||
estimate)``) is at most 0.0007 nats at the default sizes (0.0010 over the
customers active in the last 90 days, the churn model's population) and at
most 0.0017 (0.0023) at a quarter of them. With next to no shrinkage (a prior
worth one rollout) it is 0.006 to 0.013 nats. The rollouts add 0.4 to 0.7 s
per 10,000 customers (3.3 s to ``large_mixed``'s 50,000 on a busy two-core
machine).

The private ``_build(name, n_customers, seed, _force_touchpoint=t)`` replays a
world with the same seed and delivers ``t`` to every customer still there and
eligible at the cutoff (the delivery itself is not logged): the tests compare
its realised labels with ``risk_<t>``.
"""

from __future__ import annotations

import difflib
import zlib
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cjml.exceptions import CjmlError
from cjml.journey import JourneyMap

if TYPE_CHECKING:  # scikit-learn takes 0.65 s to import; only a simulation needs it
    from sklearn.utils import Bunch

__all__ = [
    "DEVELOPMENT_SCENARIOS",
    "HELD_OUT_SCENARIOS",
    "SCENARIOS",
    "ScenarioSpec",
    "make_scenario",
]

_OFFLINE_CHANNELS = frozenset({"store", "phone", "branch", "event", "mail"})


@dataclass(frozen=True)
class ScenarioSpec:
    """Description of one simulated world of the scenario suite.

    Parameters
    ----------
    name : str
        The world's name, the key of :data:`SCENARIOS`.
    split : {"development", "held_out"}
        Whether methods may be tuned on this world, or only evaluated.
    description : str
        One sentence on what drives drop-off and how BAU picks touchpoints.
    n_customers : int
        Default number of customers.
    n_days : int, default 240
        Length of the simulated period, horizon included.
    cutoff_day : int, default 210
        Day of the test cutoff (midnight UTC at the start of that day).
    horizon_days : int, default 30
        Prediction horizon of the truth.
    start : str, default "2024-01-01"
        First day of the period (UTC).
    """

    name: str
    split: str
    description: str
    n_customers: int
    n_days: int = 240
    cutoff_day: int = 210
    horizon_days: int = 30
    start: str = "2024-01-01"


# --------------------------------------------------------------------------- worlds
# A world is a plain dict: "stages", "personas" (name -> attributes), "touchpoints"
# (list of dicts) and world-level coefficients. ``_compile`` turns it into arrays.

_WORLD_DEFAULTS: dict[str, Any] = {
    "hl_N": 60.0,
    "hl_P": 30.0,
    "hl_F": 10.0,
    "hl_D": 30.0,  # half-lives in days
    "wN": 1.4,
    "wP": 0.2,
    "wF": 0.0,
    "wT": 0.0,
    "wPrice": 0.0,
    "wGap": 0.0,
    "price_before": 0.0,
    "price_after": 0.0,
    "rise_day": 10**6,
    "life_a": 0.0,
    "life_scale": 100.0,
    "stage_h": {},
    "stage_q": {},
    "b0": {},
    "aP": 0.25,
    "aN": 0.1,
    "aF": 0.0,
    "cbN": 0.0,
    "cbP": 0.0,
    "cbT": 0.0,
    "cbF": 0.0,
    "b_seg": {},
    "h_cap": 0.5,
    "q_cap": 0.6,
    "b_cap": 0.4,
    "satisfaction": True,
    "crm_accuracy": 0.85,
    "arrival_frac": 0.9,
    "q_scale": 0.6,
    "adv_scale": 1.8,
    "b_scale": 0.8,
}

_PERSONA_DEFAULTS = {"share": 1.0, "h0": 0.004, "q0": 0.08, "sens": 0.0, "amount": 40.0}

_TP_DEFAULTS: dict[str, Any] = {
    "actionable": False,
    "cust": 0.0,
    "cust_stage": {},
    "n_boost": 0.0,
    "bau": 0.0,
    "bau_seg": {},
    "bP": 0.0,
    "bN": 0.0,
    "bT": 0.0,
    "bF": 0.0,
    "pbad": 0.05,
    "pbad_stage": {},
    "pbad_F": 0.0,
    "pbad_N": 0.0,
    "gain": 0.3,
    "gain_stage": {},
    "gain_N": 0.0,
    "bad_w": 1.0,
    "fatigue": 0.0,
    "discount": False,
    "opens": 0,
    "resolve": 0.0,
    "advance": 0.0,
    "ask": 0.0,
    "purchase": False,
    "cost": None,
    "description": "",
}


def _tp(name, channel, stages, **kw):
    return {"name": name, "channel": channel, "stages": tuple(stages), **kw}


def _world_experience_memory() -> dict:
    """Experience memory: a bad experience weighs ~7x a good one, confounded rewards.

    Drop-off is driven by negative experience memory (weight 1.4 per bad
    experience, half-life 60 days) against positive memory (0.2, 30 days).
    BAU sends rewards and offers mostly to customers with good memory, so
    treated customers look better than they are. Gains differ by persona and
    the promotional email annoys researchers and B2B buyers.
    """
    A, CO, CV, R, L = "awareness", "consideration", "conversion", "retention", "loyalty"
    personas = {
        "bargain_hunter": {"share": 0.25, "h0": 0.006, "q0": 0.08, "amount": 25.0},
        "loyal_regular": {"share": 0.2, "h0": 0.0025, "q0": 0.1, "amount": 45.0},
        "careful_researcher": {"share": 0.2, "h0": 0.004, "q0": 0.07, "amount": 60.0},
        "impulse_buyer": {"share": 0.2, "h0": 0.006, "q0": 0.09, "amount": 30.0},
        "b2b_buyer": {"share": 0.15, "h0": 0.003, "q0": 0.06, "amount": 300.0},
    }
    tps = [
        _tp("paid_ad", "search", [A], cust=1.0),
        _tp("online_review", "social", [A, CO], cust=0.6, advance={A: 0.35, CO: 0.05}),
        _tp("website_visit", "web", [CO, CV, R], cust=1.0, advance={A: 0.2, CO: 0.2}, pbad=0.04),
        _tp(
            "store_visit",
            "store",
            [CV, R, L],
            cust=0.6,
            pbad=0.08,
            ask=0.3,
            cust_stage={CO: 0.2},
            advance={CO: 0.15},
        ),
        _tp(
            "purchase",
            "web",
            [CV, R, L],
            cust=0.9,
            cust_stage={CO: 0.2},
            purchase=True,
            advance={CO: 0.3, CV: 0.6, R: 0.08},
            pbad=0.06,
            ask=0.25,
        ),
        _tp(
            "support_ticket",
            "chat",
            [CV, R, L],
            cust=0.15,
            n_boost=2.0,
            opens=1,
            pbad=0.3,
            gain=0.0,
        ),
        _tp(
            "email",
            "email",
            [CO, CV, R, L],
            actionable=True,
            bau=1.0,
            cost=0.05,
            pbad=0.04,
            pbad_stage={},
            gain={
                "bargain_hunter": 0.4,
                "impulse_buyer": 0.35,
                "loyal_regular": 0.2,
                "careful_researcher": 0.05,
                "b2b_buyer": 0.0,
            },
            fatigue=1.0,
            description="Promotional email",
        ),
        _tp(
            "live_chat",
            "chat",
            [CO, CV, R],
            actionable=True,
            bau=0.5,
            cost=1.5,
            ask=0.4,
            pbad=0.06,
            gain={"careful_researcher": 0.8, "b2b_buyer": 0.5},
            gain_N=0.5,
            resolve=0.4,
            advance={CO: 0.15},
        ),
        _tp(
            "consultation",
            "store",
            [CO, CV, R],
            actionable=True,
            bau=0.3,
            cost=20.0,
            ask=0.5,
            pbad=0.05,
            gain={"b2b_buyer": 1.0, "careful_researcher": 0.9, "loyal_regular": 0.4},
            advance={CO: 0.3, CV: 0.2},
        ),
        _tp(
            "follow_up_call",
            "phone",
            [CV, R],
            actionable=True,
            bau=0.4,
            cost=4.0,
            bN=0.8,
            pbad=0.08,
            gain=0.5,
            gain_N=0.8,
            resolve=0.5,
            ask=0.3,
            fatigue=0.5,
        ),
        _tp(
            "renewal_reminder",
            "email",
            [R],
            actionable=True,
            bau=0.5,
            cost=0.1,
            pbad=0.02,
            gain=0.3,
            fatigue=0.5,
        ),
        _tp(
            "personalised_offer",
            "app",
            [CV, R, L],
            actionable=True,
            bau=0.6,
            bP=1.2,
            cost=8.0,
            discount=True,
            gain={"bargain_hunter": 1.0, "impulse_buyer": 0.6},
            pbad=0.03,
            advance={CV: 0.2},
        ),
        _tp(
            "loyalty_reward",
            "app",
            [R, L],
            actionable=True,
            bau=0.6,
            bP=1.5,
            cost=6.0,
            pbad=0.02,
            gain={"loyal_regular": 0.9, "bargain_hunter": 0.5},
            advance={R: 0.1},
        ),
    ]
    # the email annoys researchers and B2B buyers
    tps[6]["pbad"] = {
        "careful_researcher": 0.22,
        "b2b_buyer": 0.25,
        "bargain_hunter": 0.03,
        "impulse_buyer": 0.03,
        "loyal_regular": 0.05,
    }
    return {
        "stages": [A, CO, CV, R, L],
        "personas": personas,
        "touchpoints": tps,
        "wN": 1.4,
        "wP": 0.2,
        "wGap": 0.15,
        "stage_h": {A: 2.5, CO: 1.6, CV: 1.2, L: 0.7},
        "stage_q": {A: 1.0, CO: 1.0, L: 1.2},
        "b0": {CO: 0.02, CV: 0.03, R: 0.025, L: 0.03},
        "cbP": 0.3,
    }


def _world_contact_fatigue() -> dict:
    """Contact fatigue: every contact adds fatigue, which raises drop-off.

    BAU contacts at random (same rate for everyone). Contacts help customers
    with few recent contacts and harm the fatigued: a contact's chance of
    being a bad experience grows with fatigue (half-life 12 days).
    """
    A, CO, CV, R, L = "awareness", "consideration", "conversion", "retention", "loyalty"
    personas = {
        "newcomer": {"share": 0.25, "h0": 0.005, "q0": 0.08},
        "regular": {"share": 0.3, "h0": 0.003, "q0": 0.1},
        "busy_professional": {"share": 0.2, "h0": 0.004, "q0": 0.06},
        "deal_seeker": {"share": 0.25, "h0": 0.005, "q0": 0.09, "amount": 25.0},
    }
    contact = {"pbad": 0.02, "pbad_F": 0.07, "fatigue": 1.0, "actionable": True}
    tps = [
        _tp("social_post", "social", [A], cust=1.0, advance={A: 0.3}),
        _tp(
            "web_visit",
            "web",
            [CO, CV, R, L],
            cust=1.0,
            cust_stage={A: 0.3},
            advance={A: 0.2, CO: 0.15},
            pbad=0.03,
        ),
        _tp(
            "purchase",
            "web",
            [CV, R, L],
            cust=0.8,
            cust_stage={CO: 0.2},
            purchase=True,
            advance={CO: 0.3, CV: 0.5, R: 0.06},
            ask=0.3,
        ),
        _tp("class_attended", "store", [R, L], cust=0.8, pbad=0.06, ask=0.2),
        _tp("newsletter", "email", [CO, CV, R, L], bau=1.0, cost=0.02, gain=0.5, **contact),
        _tp("sms_reminder", "sms", [CV, R], bau=0.8, cost=0.05, gain=0.7, **contact),
        _tp("push_notification", "app", [R, L], bau=0.8, cost=0.01, gain=0.5, **contact),
        _tp(
            "callback",
            "phone",
            [CO, CV, R],
            bau=0.4,
            cost=3.0,
            gain=1.2,
            advance={CO: 0.2},
            **{**contact, "pbad_F": 0.1},
        ),
        _tp("survey_request", "email", [R, L], bau=0.4, cost=0.05, gain=0.2, ask=0.9, **contact),
        _tp(
            "member_event_invite",
            "email",
            [R, L],
            bau=0.3,
            cost=2.0,
            gain=1.5,
            advance={R: 0.15},
            **contact,
        ),
        _tp(
            "coupon",
            "app",
            [CV, R, L],
            bau=0.5,
            cost=3.0,
            gain=1.0,
            discount=True,
            **{**contact, "fatigue": 0.5},
        ),
    ]
    return {
        "stages": [A, CO, CV, R, L],
        "personas": personas,
        "touchpoints": tps,
        "hl_F": 12.0,
        "wF": 0.12,
        "wN": 1.2,
        "wP": 0.2,
        "aF": 0.05,
        "stage_h": {A: 2.5, CO: 1.5},
        "b0": {CO: 0.05, CV: 0.05, R: 0.05, L: 0.05},
    }


def _world_price_sensitivity() -> dict:
    """Price sensitivity: a price rise on day 120 drives the price-sensitive away.

    Sensitive personas carry a price-pressure hazard (half before the rise,
    full after) unless a recent discount (half-life 45 days) offsets it. The
    discount offer helps the sensitive only and does exactly nothing to the
    others. BAU assigns offers by the CRM segment.
    """
    stages = ["browsing", "first_order", "repeat_buyer", "subscriber"]
    B, F1, RB, S = stages
    personas = {
        "price_hunter": {"share": 0.3, "h0": 0.003, "q0": 0.09, "sens": 1.0, "amount": 20.0},
        "value_family": {"share": 0.25, "h0": 0.003, "q0": 0.08, "sens": 0.6, "amount": 45.0},
        "premium_fan": {"share": 0.2, "h0": 0.003, "q0": 0.08, "sens": 0.0, "amount": 80.0},
        "occasional": {"share": 0.25, "h0": 0.005, "q0": 0.05, "sens": 0.2, "amount": 35.0},
    }
    zero_for = {"premium_fan": 0.0}
    tps = [
        _tp("product_page", "web", stages, cust=1.0, advance={B: 0.15}, pbad=0.03),
        _tp(
            "basket", "app", [F1, RB, S], cust=0.5, cust_stage={B: 0.4}, advance={B: 0.3}, pbad=0.03
        ),
        _tp(
            "order",
            "web",
            [F1, RB, S],
            cust=0.8,
            cust_stage={B: 0.2},
            purchase=True,
            advance={B: 0.5, F1: 0.4, RB: 0.1},
            ask=0.3,
            pbad=0.05,
        ),
        _tp(
            "delivery_issue",
            "phone",
            [F1, RB, S],
            cust=0.08,
            opens=1,
            pbad=0.5,
            gain=0.0,
            n_boost=1.0,
        ),
        _tp(
            "discount_code",
            "email",
            [B, F1, RB, S],
            actionable=True,
            bau=1.0,
            cost=4.0,
            discount=True,
            pbad=0.0,
            gain=0.0,
            bau_seg={"price_hunter": 2.5, "value_family": 1.5, "premium_fan": 0.2},
        ),
        _tp(
            "free_shipping",
            "app",
            [F1, RB, S],
            actionable=True,
            bau=0.6,
            cost=2.5,
            gain={"value_family": 0.5, "price_hunter": 0.4, "occasional": 0.3, **zero_for},
            pbad=0.02,
        ),
        _tp(
            "new_arrivals_email",
            "email",
            stages,
            actionable=True,
            bau=0.8,
            cost=0.03,
            gain={"premium_fan": 0.4, "occasional": 0.2},
            pbad=0.05,
            fatigue=1.0,
            bau_seg={"premium_fan": 2.0},
        ),
        _tp(
            "price_match",
            "chat",
            [RB, S],
            actionable=True,
            bau=0.2,
            cost=3.0,
            gain={"price_hunter": 0.8, "value_family": 0.5, "premium_fan": 0.0, "occasional": 0.2},
            pbad=0.03,
            resolve=0.6,
        ),
        _tp(
            "subscription_offer",
            "app",
            [RB],
            actionable=True,
            bau=0.4,
            cost=5.0,
            advance={RB: 0.35},
            gain=0.2,
            pbad=0.06,
        ),
        _tp(
            "loyalty_points",
            "app",
            [RB, S],
            actionable=True,
            bau=0.4,
            cost=1.0,
            gain=0.35,
            pbad=0.02,
            bau_seg={"premium_fan": 1.5},
        ),
        _tp(
            "order_status_sms",
            "sms",
            [F1, RB, S],
            actionable=True,
            bau=0.5,
            cost=0.05,
            gain=0.1,
            pbad=0.02,
            resolve=0.3,
        ),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "hl_D": 45.0,
        "wPrice": 1.1,
        "price_before": 0.5,
        "price_after": 1.0,
        "rise_day": 120,
        "wN": 1.0,
        "wP": 0.2,
        "wT": 0.3,
        "stage_h": {B: 2.0, S: 0.6},
        "stage_q": {B: 1.2, S: 1.1},
        "b0": {B: 0.02, F1: 0.035, RB: 0.03, S: 0.025},
        "cbP": 0.2,
    }


def _world_rare_touchpoint() -> dict:
    """A rare touchpoint: one actionable touchpoint is under 1% of events.

    The rare ``vip_gift`` is slightly harmful (customers find it awkward);
    the common ``onboarding_call`` truly helps, but only in the onboarding
    stage. Drop-off from experience memory; BAU mildly by stage.
    """
    stages = ["lead", "onboarding", "active", "loyal"]
    LE, ON, AC, LO = stages
    personas = {
        "starter": {"share": 0.3, "h0": 0.005, "q0": 0.08},
        "power_user": {"share": 0.2, "h0": 0.002, "q0": 0.12},
        "casual": {"share": 0.3, "h0": 0.005, "q0": 0.06},
        "team_admin": {"share": 0.2, "h0": 0.003, "q0": 0.09, "amount": 150.0},
    }
    tps = [
        _tp("landing_page", "web", [LE], cust=1.0, advance={LE: 0.35}),
        _tp("app_session", "app", [ON, AC, LO], cust=1.0, advance={ON: 0.12, AC: 0.03}, pbad=0.04),
        _tp("payment", "web", [ON, AC, LO], cust=0.4, purchase=True, advance={ON: 0.2}, ask=0.2),
        _tp(
            "help_ticket", "chat", [ON, AC, LO], cust=0.1, n_boost=2.0, opens=1, pbad=0.35, gain=0.0
        ),
        _tp(
            "onboarding_call",
            "phone",
            [ON, AC],
            actionable=True,
            bau=1.0,
            cost=5.0,
            gain=0.3,
            gain_stage={ON: 5.0},
            pbad=0.04,
            pbad_stage={AC: 0.04},
            advance={ON: 0.25},
            ask=0.4,
            fatigue=0.5,
            resolve=0.5,
        ),
        _tp(
            "tips_email",
            "email",
            [ON, AC, LO],
            actionable=True,
            bau=1.2,
            cost=0.02,
            gain=0.15,
            pbad=0.04,
            fatigue=1.0,
        ),
        _tp(
            "feature_webinar",
            "email",
            [AC, LO],
            actionable=True,
            bau=0.4,
            cost=1.0,
            gain={"power_user": 0.6, "team_admin": 0.6},
            pbad=0.05,
        ),
        _tp(
            "checkin_chat",
            "chat",
            [ON, AC, LO],
            actionable=True,
            bau=0.4,
            cost=1.0,
            gain=0.3,
            gain_N=0.6,
            pbad=0.06,
            resolve=0.4,
            ask=0.3,
        ),
        _tp(
            "upgrade_offer",
            "app",
            [AC],
            actionable=True,
            bau=0.3,
            cost=3.0,
            advance={AC: 0.15},
            gain=0.1,
            pbad=0.08,
            bP=0.8,
        ),
        _tp("referral_ask", "email", [LO], actionable=True, bau=0.4, cost=0.5, gain=0.2, pbad=0.05),
        _tp(
            "vip_gift",
            "mail",
            [AC, LO],
            actionable=True,
            bau=0.06,
            cost=25.0,
            gain=0.0,
            pbad=0.06,
            bad_w=0.5,
            fatigue=0.5,
        ),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "wN": 1.4,
        "wP": 0.2,
        "stage_h": {LE: 2.5, ON: 1.5, LO: 0.7},
        "b0": {ON: 0.04, AC: 0.025, LO: 0.025},
    }


def _world_small_shop() -> dict:
    """A small shop (2,000 customers): effects by persona, BAU by persona.

    Drop-off from experience memory and the days since the last visit; BAU
    picks touchpoints by the CRM segment (workshops for crafters, discounts for
    bargain seekers), and each touchpoint helps some personas only.
    """
    stages = ["passer_by", "first_visit", "regular", "fan"]
    PB, FV, RG, FA = stages
    personas = {
        "crafter": {"share": 0.3, "h0": 0.003, "q0": 0.08, "amount": 30.0},
        "gift_buyer": {"share": 0.25, "h0": 0.006, "q0": 0.05, "amount": 50.0},
        "bargain_seeker": {"share": 0.25, "h0": 0.005, "q0": 0.07, "amount": 15.0},
        "local_family": {"share": 0.2, "h0": 0.003, "q0": 0.07, "amount": 35.0},
    }
    tps = [
        _tp("shop_window", "store", [PB], cust=1.0, advance={PB: 0.4}),
        _tp(
            "shop_visit",
            "store",
            [FV, RG, FA],
            cust=1.0,
            advance={FV: 0.15, RG: 0.04},
            pbad=0.05,
            ask=0.2,
        ),
        _tp(
            "purchase",
            "store",
            [FV, RG, FA],
            cust=0.7,
            purchase=True,
            advance={FV: 0.2, RG: 0.05},
            pbad=0.04,
        ),
        _tp("instagram_like", "social", [PB, FV, RG, FA], cust=0.3),
        _tp(
            "complaint", "store", [FV, RG, FA], cust=0.05, n_boost=2.0, opens=1, pbad=0.5, gain=0.0
        ),
        _tp(
            "workshop_invite",
            "email",
            [FV, RG, FA],
            actionable=True,
            bau=1.0,
            cost=1.0,
            bau_seg={"crafter": 3.0, "local_family": 1.5},
            pbad=0.05,
            gain={"crafter": 1.0, "local_family": 0.5, "gift_buyer": 0.05, "bargain_seeker": 0.0},
        ),
        _tp(
            "discount_card",
            "store",
            [FV, RG, FA],
            actionable=True,
            bau=1.0,
            cost=2.0,
            bau_seg={"bargain_seeker": 3.0},
            discount=True,
            pbad=0.02,
            gain={"bargain_seeker": 0.9, "local_family": 0.3, "crafter": 0.1, "gift_buyer": 0.1},
        ),
        _tp(
            "gift_wrapping_reminder",
            "email",
            [FV, RG],
            actionable=True,
            bau=0.6,
            cost=0.1,
            bau_seg={"gift_buyer": 3.0},
            pbad=0.06,
            gain={"gift_buyer": 0.8, "crafter": 0.0, "bargain_seeker": 0.0, "local_family": 0.1},
            fatigue=1.0,
        ),
        _tp(
            "newsletter",
            "email",
            [PB, FV, RG, FA],
            actionable=True,
            bau=0.8,
            cost=0.02,
            gain=0.1,
            pbad={"gift_buyer": 0.2, "crafter": 0.03, "bargain_seeker": 0.05, "local_family": 0.05},
            fatigue=1.0,
        ),
        _tp(
            "owner_chat",
            "store",
            [RG, FA],
            actionable=True,
            bau=0.3,
            cost=3.0,
            gain=0.6,
            gain_N=1.0,
            resolve=0.7,
            pbad=0.04,
            ask=0.3,
        ),
        _tp(
            "kids_corner_flyer",
            "mail",
            [FV, RG],
            actionable=True,
            bau=0.4,
            cost=0.5,
            bau_seg={"local_family": 3.0},
            pbad=0.03,
            gain={"local_family": 0.9, "crafter": 0.1, "gift_buyer": 0.0, "bargain_seeker": 0.1},
        ),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "wN": 1.4,
        "wP": 0.2,
        "wT": 0.3,
        "wGap": 0.2,
        "stage_h": {PB: 2.5, FA: 0.7},
        "b0": {FV: 0.03, RG: 0.03, FA: 0.03},
    }


def _world_unresolved_tickets() -> dict:
    """Unresolved tickets: open tickets drive drop-off; follow-ups go to the unhappy.

    Bad experiences make customers open tickets; every open ticket raises the
    hazard (x e^0.8). BAU sends the support follow-up mostly to customers with
    open tickets and bad memory, so it looks harmful in raw data although it
    resolves tickets and helps, more so after a recent bad experience.
    """
    A, CO, CV, R, L = "awareness", "consideration", "conversion", "retention", "loyalty"
    personas = {
        "home_user": {"share": 0.3, "h0": 0.003, "q0": 0.07},
        "small_business": {"share": 0.2, "h0": 0.0025, "q0": 0.09, "amount": 120.0},
        "tech_savvy": {"share": 0.2, "h0": 0.004, "q0": 0.08},
        "senior": {"share": 0.15, "h0": 0.003, "q0": 0.05},
        "student": {"share": 0.15, "h0": 0.006, "q0": 0.08, "amount": 15.0},
    }
    tps = [
        _tp("search_result", "search", [A], cust=1.0, advance={A: 0.35}),
        _tp("product_page", "web", [CO, CV, R, L], cust=1.0, advance={A: 0.2, CO: 0.2}, pbad=0.04),
        _tp(
            "order",
            "web",
            [CV, R, L],
            cust=0.7,
            cust_stage={CO: 0.15},
            purchase=True,
            advance={CO: 0.3, CV: 0.5, R: 0.1},
            pbad=0.08,
            ask=0.3,
        ),
        _tp("device_usage", "app", [R, L], cust=0.8, pbad=0.05, advance={R: 0.03}),
        _tp(
            "ticket_opened",
            "chat",
            [CV, R, L],
            cust=0.06,
            n_boost=4.0,
            opens=1,
            pbad=0.4,
            gain=0.0,
            ask=0.2,
        ),
        _tp(
            "support_follow_up",
            "phone",
            [CV, R, L],
            actionable=True,
            bau=0.12,
            bT=3.0,
            bN=2.0,
            cost=4.0,
            resolve=0.75,
            gain=0.5,
            gain_N=1.0,
            pbad=0.05,
            ask=0.5,
        ),
        _tp(
            "how_to_email",
            "email",
            [CV, R, L],
            actionable=True,
            bau=1.0,
            cost=0.02,
            gain=0.1,
            pbad=0.03,
            fatigue=1.0,
            resolve=0.1,
        ),
        _tp(
            "satisfaction_survey",
            "email",
            [R, L],
            actionable=True,
            bau=0.5,
            cost=0.05,
            gain=0.0,
            pbad=0.05,
            ask=0.9,
            fatigue=1.0,
        ),
        _tp(
            "warranty_extension",
            "web",
            [R, L],
            actionable=True,
            bau=0.4,
            bP=0.8,
            cost=10.0,
            gain=0.5,
            pbad=0.03,
        ),
        _tp(
            "accessory_offer",
            "app",
            [CV, R, L],
            actionable=True,
            bau=0.6,
            bP=0.5,
            cost=2.0,
            gain={"small_business": 0.4, "tech_savvy": 0.3, "student": 0.2},
            pbad=0.08,
            fatigue=0.5,
        ),
        _tp(
            "community_forum_invite",
            "email",
            [R, L],
            actionable=True,
            bau=0.3,
            cost=0.2,
            gain={"tech_savvy": 0.7, "student": 0.4},
            pbad=0.04,
            resolve=0.3,
        ),
        _tp(
            "review_request", "email", [L], actionable=True, bau=0.5, cost=0.05, gain=0.1, pbad=0.05
        ),
    ]
    return {
        "stages": [A, CO, CV, R, L],
        "personas": personas,
        "touchpoints": tps,
        "wN": 1.4,
        "wT": 0.8,
        "wP": 0.18,
        "stage_h": {A: 2.5, CO: 1.5, L: 0.7},
        "b0": {CV: 0.03, R: 0.03, L: 0.03},
        "cbT": 0.8,
        "cbN": 0.3,
    }


def _world_fixed_lifecycle() -> dict:
    """A fixed lifecycle: drop-off depends only on tenure; no touchpoint has any effect.

    The hazard grows with tenure (a product with a natural end of use), event
    and BAU rates depend only on persona and stage, and no actionable
    touchpoint changes the stage, so ``risk_<t> == risk_no_action`` exactly.
    """
    stages = ["new", "settled", "mature"]
    NE, SE, MA = stages
    personas = {
        "short_cycle": {"share": 0.3, "h0": 0.003, "q0": 0.09},
        "medium_cycle": {"share": 0.4, "h0": 0.0015, "q0": 0.08},
        "long_cycle": {"share": 0.3, "h0": 0.0008, "q0": 0.07},
        "sporadic": {"share": 0.0, "h0": 0.002, "q0": 0.04},
    }
    personas["sporadic"]["share"] = 0.15
    null = {"actionable": True, "gain": 0.0, "pbad": 0.0, "bad_w": 0.0}
    tps = [
        _tp("first_use", "app", [NE], cust=1.0, advance={NE: 0.1}),
        _tp(
            "use_session",
            "app",
            stages,
            cust=1.0,
            cust_stage={NE: 0.5},
            advance={NE: 0.1, SE: 0.03},
        ),
        _tp("refill_purchase", "web", [SE, MA], cust=0.4, purchase=True),
        _tp("rating", "app", [SE, MA], cust=0.1, ask=0.9),
        _tp("usage_tip", "email", stages, bau=1.0, cost=0.02, fatigue=1.0, **null),
        _tp("refill_reminder", "sms", [SE, MA], bau=0.8, cost=0.05, **null),
        _tp("care_call", "phone", [SE, MA], bau=0.3, cost=3.0, ask=0.5, **null),
        _tp("bundle_offer", "app", [SE, MA], bau=0.5, cost=2.0, discount=True, **null),
        _tp("app_badge", "app", stages, bau=0.6, cost=0.0, **null),
        _tp("upgrade_mailer", "mail", [MA], bau=0.3, cost=1.0, **null),
        _tp("anniversary_note", "email", [MA], bau=0.3, cost=0.05, **null),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "wN": 0.0,
        "wP": 0.0,
        "wF": 0.0,
        "wT": 0.0,
        "aP": 0.0,
        "aN": 0.0,
        "aF": 0.0,
        "life_a": 1.0,
        "life_scale": 60.0,
        "stage_q": {MA: 0.9},
        "b0": {NE: 0.015, SE: 0.035, MA: 0.035},
        "satisfaction": False,
    }


def _world_silent_leavers() -> dict:
    """Silent leavers (SaaS): many leave within days of a bad experience, without a word.

    Negative memory decays fast (half-life 5 days) but weighs heavily
    (x e^1.6 per bad experience) and bad experiences do not make customers
    open tickets. Effects differ by stage: onboarding help works in the trial,
    success calls and renewal discounts for paying customers.
    """
    stages = ["visitor", "trial", "paying", "expanding", "advocate"]
    V, T, P, E, AD = stages
    personas = {
        "solo_founder": {"share": 0.25, "h0": 0.004, "q0": 0.08, "amount": 29.0},
        "team_lead": {"share": 0.25, "h0": 0.0025, "q0": 0.1, "amount": 99.0},
        "enterprise_it": {"share": 0.15, "h0": 0.002, "q0": 0.07, "amount": 499.0},
        "hobbyist": {"share": 0.2, "h0": 0.006, "q0": 0.06, "amount": 9.0},
        "agency": {"share": 0.15, "h0": 0.003, "q0": 0.09, "amount": 199.0},
    }
    tps = [
        _tp("pricing_page", "web", [V, T], cust=1.0, advance={V: 0.3}),
        _tp(
            "product_login",
            "app",
            [T, P, E, AD],
            cust=1.0,
            advance={T: 0.1, P: 0.03, E: 0.03},
            pbad=0.06,
            pbad_stage={T: 0.04},
        ),
        _tp(
            "invoice_paid",
            "web",
            [P, E, AD],
            cust=0.3,
            cust_stage={T: 0.2},
            purchase=True,
            advance={T: 0.6, P: 0.1},
        ),
        _tp("support_request", "chat", [T, P, E, AD], cust=0.04, opens=1, pbad=0.3, gain=0.0),
        _tp("g2_review", "social", [AD], cust=0.2, cust_stage={E: 0.05}, advance={E: 0.2}),
        _tp(
            "onboarding_email",
            "email",
            [T, P],
            actionable=True,
            bau=1.0,
            cost=0.02,
            gain=0.2,
            gain_stage={T: 3.0, P: 0.5},
            pbad=0.03,
            fatigue=1.0,
            advance={T: 0.08},
        ),
        _tp(
            "success_call",
            "phone",
            [T, P, E],
            actionable=True,
            bau=0.3,
            cost=15.0,
            gain=0.8,
            gain_stage={T: 0.4, E: 1.3},
            pbad=0.05,
            pbad_stage={T: 0.06},
            advance={P: 0.1},
            ask=0.5,
            resolve=0.6,
        ),
        _tp(
            "in_app_tip",
            "app",
            [T, P, E, AD],
            actionable=True,
            bau=1.2,
            cost=0.0,
            gain=0.15,
            pbad=0.02,
            fatigue=0.5,
        ),
        _tp(
            "webinar_invite",
            "email",
            [T, P, E],
            actionable=True,
            bau=0.5,
            cost=0.5,
            gain=0.3,
            gain_stage={E: 2.0, T: 0.5},
            pbad=0.06,
            fatigue=1.0,
        ),
        _tp(
            "renewal_discount",
            "email",
            [P, E],
            actionable=True,
            bau=0.4,
            bP=0.6,
            cost=20.0,
            discount=True,
            gain=0.7,
            gain_stage={E: 0.4},
            pbad=0.02,
        ),
        _tp(
            "upsell_demo",
            "phone",
            [P, E],
            actionable=True,
            bau=0.3,
            cost=10.0,
            gain=0.2,
            pbad=0.12,
            pbad_stage={P: 0.06},
            advance={P: 0.2},
            fatigue=1.0,
        ),
        _tp(
            "advocate_swag", "mail", [AD], actionable=True, bau=0.3, cost=15.0, gain=0.5, pbad=0.02
        ),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "hl_N": 5.0,
        "wN": 1.6,
        "wP": 0.2,
        "aN": 0.4,
        "stage_h": {V: 2.5, T: 1.8, P: 1.0, E: 0.8, AD: 0.6},
        "b0": {T: 0.045, P: 0.03, E: 0.03, AD: 0.02},
    }


def _world_bank_stage_effects() -> dict:
    """A bank: effects by stage and recent experience, one harmful touchpoint, BAU by stage.

    Advisor calls help applicants and customers after a bad experience,
    fee waivers help customers with bad memory, the cross-sell call annoys
    (a third of them go badly and add fatigue). BAU picks by stage only.
    """
    stages = ["prospect", "applicant", "customer", "multi_product", "promoter"]
    PR, AP, CU, MP, PM = stages
    personas = {
        "student": {"share": 0.2, "h0": 0.005, "q0": 0.07, "amount": 50.0},
        "young_professional": {"share": 0.25, "h0": 0.003, "q0": 0.09, "amount": 200.0},
        "family": {"share": 0.25, "h0": 0.002, "q0": 0.08, "amount": 350.0},
        "retiree": {"share": 0.15, "h0": 0.002, "q0": 0.06, "amount": 300.0},
        "small_business_owner": {"share": 0.15, "h0": 0.003, "q0": 0.1, "amount": 900.0},
    }
    tps = [
        _tp("rate_comparison", "search", [PR], cust=1.0, advance={PR: 0.3}),
        _tp(
            "application_form",
            "web",
            [AP],
            cust=1.0,
            cust_stage={PR: 0.3},
            advance={PR: 0.4, AP: 0.25},
            pbad=0.08,
            ask=0.3,
        ),
        _tp("app_login", "app", [CU, MP, PM], cust=1.0, pbad=0.03, advance={MP: 0.04}),
        _tp(
            "branch_visit",
            "branch",
            [AP, CU, MP, PM],
            cust=0.3,
            pbad=0.1,
            ask=0.4,
            advance={AP: 0.2},
        ),
        _tp("card_payment", "app", [CU, MP, PM], cust=0.6, purchase=True, advance={CU: 0.03}),
        _tp(
            "complaint", "phone", [CU, MP, PM], cust=0.04, n_boost=2.0, opens=1, pbad=0.5, gain=0.0
        ),
        _tp(
            "advisor_call",
            "phone",
            [AP, CU, MP],
            actionable=True,
            bau=0.5,
            cost=12.0,
            gain=0.5,
            gain_stage={AP: 1.6, MP: 0.6},
            gain_N=1.0,
            pbad=0.05,
            resolve=0.5,
            advance={AP: 0.15},
            ask=0.4,
        ),
        _tp(
            "fee_waiver",
            "app",
            [CU, MP],
            actionable=True,
            bau=0.4,
            cost=8.0,
            discount=True,
            gain=0.3,
            gain_N=1.5,
            pbad=0.0,
            resolve=0.4,
        ),
        _tp(
            "cross_sell_call",
            "phone",
            [CU, MP],
            actionable=True,
            bau=0.6,
            cost=6.0,
            gain=0.1,
            pbad=0.3,
            fatigue=1.0,
            advance={CU: 0.1},
        ),
        _tp(
            "statement_email",
            "email",
            [CU, MP, PM],
            actionable=True,
            bau=1.0,
            cost=0.01,
            gain=0.05,
            pbad=0.01,
            fatigue=0.5,
        ),
        _tp(
            "savings_nudge",
            "app",
            [CU, MP],
            actionable=True,
            bau=0.5,
            cost=0.1,
            gain={"young_professional": 0.5, "family": 0.4, "student": 0.2},
            pbad=0.03,
            advance={CU: 0.04},
        ),
        _tp(
            "application_reminder",
            "sms",
            [AP],
            actionable=True,
            bau=0.8,
            cost=0.05,
            gain=0.2,
            advance={AP: 0.15},
            pbad=0.03,
            fatigue=1.0,
        ),
        _tp(
            "referral_bonus", "email", [PM], actionable=True, bau=0.5, cost=5.0, gain=0.4, pbad=0.02
        ),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "wN": 1.3,
        "wP": 0.2,
        "wF": 0.15,
        "wT": 0.3,
        "stage_h": {PR: 2.5, AP: 2.0, CU: 1.0, MP: 0.6, PM: 0.5},
        "b0": {AP: 0.05, CU: 0.03, MP: 0.03, PM: 0.02},
    }


def _world_large_mixed() -> dict:
    """A large telecom (50,000 customers) mixing memory, fatigue and tickets, confounded BAU.

    Negative memory, contact fatigue and open tickets all raise the hazard;
    BAU gives retention offers to the unhappy and bonuses to the happy.
    """
    stages = ["prospect", "new_line", "active", "bundled", "ambassador"]
    PR, NL, AC, BU, AM = stages
    personas = {
        "heavy_data": {"share": 0.2, "h0": 0.003, "q0": 0.1, "amount": 40.0},
        "budget_prepaid": {"share": 0.25, "h0": 0.006, "q0": 0.07, "amount": 10.0},
        "family_plan": {"share": 0.2, "h0": 0.002, "q0": 0.08, "amount": 80.0},
        "business_line": {"share": 0.15, "h0": 0.002, "q0": 0.08, "amount": 120.0},
        "roamer": {"share": 0.1, "h0": 0.004, "q0": 0.07, "amount": 50.0},
        "senior_basic": {"share": 0.1, "h0": 0.002, "q0": 0.05, "amount": 20.0},
    }
    tps = [
        _tp("coverage_check", "web", [PR], cust=1.0, advance={PR: 0.35}),
        _tp("sim_activation", "store", [NL], cust=0.3, cust_stage={PR: 0.2}, advance={PR: 0.5}),
        _tp(
            "data_usage",
            "app",
            [NL, AC, BU, AM],
            cust=1.0,
            advance={NL: 0.1, AC: 0.02, BU: 0.04},
            pbad=0.04,
        ),
        _tp(
            "top_up", "app", [NL, AC, BU, AM], cust=0.5, purchase=True, advance={NL: 0.1}, pbad=0.03
        ),
        _tp(
            "network_complaint",
            "phone",
            [NL, AC, BU, AM],
            cust=0.05,
            n_boost=3.0,
            opens=1,
            pbad=0.45,
            gain=0.0,
            ask=0.3,
        ),
        _tp(
            "data_bonus",
            "sms",
            [NL, AC, BU, AM],
            actionable=True,
            bau=0.8,
            bP=1.0,
            cost=1.0,
            gain={"heavy_data": 0.7, "roamer": 0.4, "budget_prepaid": 0.5},
            pbad=0.02,
            fatigue=0.5,
        ),
        _tp(
            "retention_call",
            "phone",
            [AC, BU],
            actionable=True,
            bau=0.4,
            bN=1.0,
            bT=1.0,
            cost=6.0,
            gain=0.5,
            gain_N=0.8,
            pbad=0.08,
            pbad_F=0.06,
            resolve=0.6,
            fatigue=1.0,
            ask=0.4,
        ),
        _tp(
            "tariff_sms",
            "sms",
            [NL, AC, BU, AM],
            actionable=True,
            bau=1.0,
            cost=0.01,
            gain=0.05,
            pbad=0.03,
            pbad_F=0.05,
            fatigue=1.0,
        ),
        _tp(
            "bundle_upgrade",
            "store",
            [AC],
            actionable=True,
            bau=0.4,
            bP=0.6,
            cost=10.0,
            advance={AC: 0.25},
            gain={"family_plan": 0.6, "business_line": 0.4},
            pbad=0.06,
        ),
        _tp(
            "technician_visit",
            "store",
            [NL, AC, BU],
            actionable=True,
            bau=0.15,
            bT=2.0,
            cost=30.0,
            resolve=0.8,
            gain=0.3,
            pbad=0.1,
        ),
        _tp(
            "roaming_pack",
            "app",
            [AC, BU],
            actionable=True,
            bau=0.3,
            cost=2.0,
            bau_seg={"roamer": 4.0},
            gain={"roamer": 0.9, "business_line": 0.3},
            pbad=0.03,
        ),
        _tp(
            "ambassador_perk", "app", [AM], actionable=True, bau=0.5, cost=4.0, gain=0.5, pbad=0.02
        ),
    ]
    return {
        "stages": stages,
        "personas": personas,
        "touchpoints": tps,
        "wN": 1.2,
        "wP": 0.2,
        "wF": 0.2,
        "wT": 0.4,
        "hl_F": 10.0,
        "stage_h": {PR: 2.5, NL: 1.5, BU: 0.7, AM: 0.6},
        "b0": {NL: 0.03, AC: 0.03, BU: 0.03, AM: 0.025},
        "cbN": 0.3,
        "cbT": 0.5,
    }


_BUILDERS = {
    "experience_memory": _world_experience_memory,
    "contact_fatigue": _world_contact_fatigue,
    "price_sensitivity": _world_price_sensitivity,
    "rare_touchpoint": _world_rare_touchpoint,
    "small_shop": _world_small_shop,
    "unresolved_tickets": _world_unresolved_tickets,
    "fixed_lifecycle": _world_fixed_lifecycle,
    "silent_leavers": _world_silent_leavers,
    "bank_stage_effects": _world_bank_stage_effects,
    "large_mixed": _world_large_mixed,
}

_SPEC_ROWS = [
    (
        "experience_memory",
        "development",
        20_000,
        (
            "Drop-off is driven by a decaying negative experience memory that weighs about seven "
            "times a positive one, and BAU gives rewards and offers mostly to customers with good "
            "memory (confounded)."
        ),
    ),
    (
        "contact_fatigue",
        "development",
        10_000,
        (
            "Every contact adds fatigue that raises drop-off and makes the next contact more "
            "likely to go badly, while BAU contacts customers at random."
        ),
    ),
    (
        "price_sensitivity",
        "development",
        10_000,
        (
            "Price-sensitive personas drift away after a price rise on day 120 unless they had a "
            "recent discount, which does nothing for the others, and BAU targets offers by segment."
        ),
    ),
    (
        "rare_touchpoint",
        "development",
        15_000,
        (
            "Experience memory drives drop-off; a rare VIP gift (under 1% of events) is slightly "
            "harmful and a common onboarding call helps in the onboarding stage only."
        ),
    ),
    (
        "small_shop",
        "development",
        2_000,
        (
            "A 2,000-customer shop where each touchpoint helps some personas only and BAU picks "
            "touchpoints by CRM segment."
        ),
    ),
    (
        "unresolved_tickets",
        "held_out",
        20_000,
        (
            "Open support tickets drive drop-off and BAU sends the helpful follow-up mostly to "
            "unhappy customers with open tickets (confounded negative)."
        ),
    ),
    (
        "fixed_lifecycle",
        "held_out",
        10_000,
        "Drop-off depends only on tenure and no touchpoint has any effect.",
    ),
    (
        "silent_leavers",
        "held_out",
        10_000,
        (
            "SaaS customers often leave silently within days of a bad experience, and touchpoint "
            "effects depend on the stage."
        ),
    ),
    (
        "bank_stage_effects",
        "held_out",
        15_000,
        (
            "A bank where effects depend on the stage and on recent bad experiences, the "
            "cross-sell call is harmful and BAU picks touchpoints by stage."
        ),
    ),
    (
        "large_mixed",
        "held_out",
        50_000,
        (
            "A 50,000-customer telecom mixing experience memory, contact fatigue and open tickets, "
            "with BAU retention offers to the unhappy and bonuses to the happy."
        ),
    ),
]

#: All worlds of the suite, by name.
SCENARIOS: dict[str, ScenarioSpec] = {
    name: ScenarioSpec(name=name, split=split, description=desc, n_customers=n)
    for name, split, n, desc in _SPEC_ROWS
}
#: Worlds on which methods may be developed and tuned.
DEVELOPMENT_SCENARIOS: tuple[str, ...] = tuple(
    n for n, s in SCENARIOS.items() if s.split == "development"
)
#: Worlds kept for evaluation only.
HELD_OUT_SCENARIOS: tuple[str, ...] = tuple(
    n for n, s in SCENARIOS.items() if s.split == "held_out"
)


# --------------------------------------------------------------------------- compile
class _World:
    """A world's parameters as arrays (built once per call)."""

    # set by name in __init__ (setattr loops over the config keys)
    h0: np.ndarray
    q0: np.ndarray
    sens: np.ndarray
    amount: np.ndarray
    wN: float
    wP: float
    wF: float
    wT: float
    wPrice: float
    wGap: float
    aP: float
    aN: float
    aF: float
    cbN: float
    cbP: float
    cbT: float
    cbF: float
    life_a: float
    life_scale: float
    h_cap: float
    q_cap: float
    b_cap: float
    bP: np.ndarray
    bN: np.ndarray
    bT: np.ndarray
    bF: np.ndarray
    pbad_F: np.ndarray
    pbad_N: np.ndarray
    gain_N: np.ndarray
    bad_w: np.ndarray
    fatigue: np.ndarray
    resolve: np.ndarray
    ask: np.ndarray

    def __init__(self, raw: dict) -> None:
        cfg = {**_WORLD_DEFAULTS, **{k: v for k, v in raw.items()}}
        self.cfg = cfg
        self.stages = tuple(cfg["stages"])
        self.personas = tuple(cfg["personas"])
        pers = [{**_PERSONA_DEFAULTS, **cfg["personas"][p]} for p in self.personas]
        tps = [{**_TP_DEFAULTS, **t} for t in cfg["touchpoints"]]
        self.tps = tps
        ns, npers, nt = len(self.stages), len(self.personas), len(tps)
        si = {s: i for i, s in enumerate(self.stages)}
        pi = {p: i for i, p in enumerate(self.personas)}
        share = np.array([p["share"] for p in pers], float)
        self.share = share / share.sum()
        for key in ("h0", "q0", "sens", "amount"):
            setattr(self, key, np.array([p[key] for p in pers], float))
        self.q0 = self.q0 * cfg["q_scale"]
        self.k = {m: np.log(2.0) / cfg[f"hl_{m}"] for m in "NPFD"}
        for key in (
            "wN",
            "wP",
            "wF",
            "wT",
            "wPrice",
            "wGap",
            "aP",
            "aN",
            "aF",
            "cbN",
            "cbP",
            "cbT",
            "cbF",
            "life_a",
            "life_scale",
            "h_cap",
            "q_cap",
            "b_cap",
        ):
            setattr(self, key, float(cfg[key]))

        def by_stage(d, default=1.0):
            out = np.full(ns, default, float)
            for s, v in d.items():
                out[si[s]] = v
            return out

        def by_persona(v, default=0.0):
            if isinstance(v, dict):
                out = np.full(npers, default, float)
                for p, x in v.items():
                    out[pi[p]] = x
                return out
            return np.full(npers, float(v))

        self.stage_h = by_stage(cfg["stage_h"])
        self.stage_q = by_stage(cfg["stage_q"])
        self.b_seg = by_persona(cfg["b_seg"], 1.0) if cfg["b_seg"] else np.ones(npers)
        self.actionable = np.array([t["actionable"] for t in tps])
        # a touchpoint's stages in the map: those listed, plus those its events move to
        # (the logged stage is the stage after the event)
        stated = np.zeros((nt, ns), bool)
        self.elig = np.zeros((nt, ns), bool)
        for j, t in enumerate(tps):
            for s in t["stages"]:
                stated[j, si[s]] = self.elig[j, si[s]] = True
            adv = t["advance"] if isinstance(t["advance"], dict) else {}
            for s, v in adv.items():
                if v > 0 and si[s] + 1 < ns:
                    self.elig[j, si[s] + 1] = True
        # customer-touchpoint weights by stage: eligible stages get "cust", cust_stage adds
        self.cw = np.zeros((nt, ns))
        self.bw = np.zeros((nt, ns))
        for j, t in enumerate(tps):
            if t["actionable"]:
                self.bw[j] = t["bau"] * self.elig[j]
            else:
                self.cw[j] = t["cust"] * stated[j]
                for s, v in t["cust_stage"].items():
                    self.cw[j, si[s]] = v
        self.b0 = by_stage(cfg["b0"], 0.0) * (self.bw.sum(0) > 0) * cfg["b_scale"]
        self.has_cust = self.cw.sum(0) > 0
        if not self.has_cust.all():
            raise RuntimeError("every stage needs a customer touchpoint")
        self.n_boost = np.array([t["n_boost"] for t in tps], float)
        self.bau_seg = np.stack(
            [by_persona(t["bau_seg"], 1.0) if t["bau_seg"] else np.ones(npers) for t in tps]
        )
        for key in (
            "bP",
            "bN",
            "bT",
            "bF",
            "pbad_F",
            "pbad_N",
            "gain_N",
            "bad_w",
            "fatigue",
            "resolve",
            "ask",
        ):
            setattr(self, key, np.array([t[key] for t in tps], float))
        self.opens = np.array([t["opens"] for t in tps], np.int64)
        self.disc = np.array([t["discount"] for t in tps])
        self.purchase = np.array([t["purchase"] for t in tps])
        self.pbad = np.stack([by_persona(t["pbad"], _pers_default(t["pbad"])) for t in tps])
        self.gain = np.stack([by_persona(t["gain"], _pers_default(t["gain"])) for t in tps])
        self.pbad_stage = np.stack([by_stage(t["pbad_stage"], 0.0) for t in tps])
        self.gain_stage = np.stack([by_stage(t["gain_stage"], 1.0) for t in tps])
        self.adv = np.zeros((nt, ns))
        for j, t in enumerate(tps):
            a = t["advance"]
            if isinstance(a, dict):
                for s, v in a.items():
                    self.adv[j, si[s]] = v
            else:
                self.adv[j] = a
        self.adv = np.minimum(self.adv * cfg["adv_scale"], 0.9)
        self.adv[:, -1] = 0.0
        self.names = [t["name"] for t in tps]
        self.log_channel = np.array([t["channel"] for t in tps], dtype=object)

    def price(self, d: int) -> float:
        return self.cfg["price_after"] if d >= self.cfg["rise_day"] else self.cfg["price_before"]

    def journey_map(self, name: str) -> JourneyMap:
        tps = {}
        for j, t in enumerate(self.tps):
            entry = {
                "channel": "offline" if t["channel"] in _OFFLINE_CHANNELS else "online",
                "stages": [s for i, s in enumerate(self.stages) if self.elig[j, i]],
                "actionable": bool(t["actionable"]),
                "description": t["description"] or t["name"].replace("_", " ").capitalize(),
            }
            if t["actionable"] and t["cost"] is not None:
                entry["cost"] = float(t["cost"])
            tps[t["name"]] = entry
        return JourneyMap.from_dict({"name": name, "stages": list(self.stages), "touchpoints": tps})


def _pers_default(v) -> float:
    # a persona missing from a per-persona dict gets the dict's smallest value
    return min(v.values()) if isinstance(v, dict) else float(v)


# --------------------------------------------------------------------------- dynamics
def _take(st: dict, idx) -> dict:
    return {k: v[idx] for k, v in st.items()}


def _decayed(w: _World, st: dict, d: int):
    el = d - st["L"]
    return (
        st["N"] * np.exp(-w.k["N"] * el),
        st["P"] * np.exp(-w.k["P"] * el),
        st["F"] * np.exp(-w.k["F"] * el),
        st["D"] * np.exp(-w.k["D"] * el),
        el,
    )


def _rates(w: _World, st: dict, d: int):
    """Hazard, customer-event and BAU probabilities on day ``d`` (state after last event)."""
    N, P, F, D, el = _decayed(w, st, d)
    p, s, T = st["p"], st["s"], st["T"]
    lin = (
        w.wN * N
        - w.wP * P
        + w.wF * F
        + w.wT * T
        + w.wPrice * w.sens[p] * w.price(d) * (1.0 - D)
        + w.wGap * np.minimum(el, 60) / 30.0
    )
    life = 1.0 + w.life_a * ((d - st["a"]) / w.life_scale) ** 2
    h = np.minimum(w.h0[p] * w.stage_h[s] * life * np.exp(lin), w.h_cap)
    q = np.minimum(w.q0[p] * w.stage_q[s] * np.exp(w.aP * P - w.aN * N - w.aF * F), w.q_cap)
    b = np.minimum(
        w.b0[s]
        * w.b_seg[st["seg"]]
        * np.exp(w.cbN * N + w.cbP * P + w.cbT * np.minimum(T, 3) + w.cbF * F),
        w.b_cap,
    )
    return h, q, b


def _outcome_probs(w: _World, st: dict, tp: np.ndarray, d: int):
    """Probabilities of a bad experience, a stage move and a ticket fixed for event ``tp``."""
    N, _, F, _, _ = _decayed(w, st, d)
    p, s = st["p"], st["s"]
    pb = np.clip(
        w.pbad[tp, p] + w.pbad_stage[tp, s] + w.pbad_F[tp] * F + w.pbad_N[tp] * N, 0.0, 0.95
    )
    padv = w.adv[tp, s]
    pres = w.resolve[tp] * ((st["T"] + w.opens[tp]) > 0)
    return pb, padv, pres


def _transition(w: _World, st: dict, tp: np.ndarray, d: int, bad, adv, res) -> dict:
    """The state after event ``tp`` on day ``d`` with the given outcomes (a new dict)."""
    N, P, F, D, _ = _decayed(w, st, d)
    p, s = st["p"], st["s"]
    gain = w.gain[tp, p] * w.gain_stage[tp, s] * (1.0 + w.gain_N[tp] * np.minimum(N, 2.0))
    T = st["T"] + w.opens[tp]
    out = dict(st)
    out["N"] = N + bad * w.bad_w[tp]
    out["P"] = P + (~bad) * gain
    out["F"] = F + w.fatigue[tp]
    out["D"] = np.where(w.disc[tp], 1.0, D)
    out["T"] = T - (res & (T > 0))
    out["s"] = np.minimum(s + adv, len(w.stages) - 1)
    out["L"] = np.full_like(st["L"], d)
    return out


def _risk_alive(w: _World, st: dict, start_day: int, horizon: int) -> np.ndarray:
    """P(no event on days start_day..start_day+horizon-1) for customers there at the start."""
    surv = np.ones(len(st["L"]))
    p_event = np.zeros(len(st["L"]))
    for d in range(start_day, start_day + horizon):
        h, q, b = _rates(w, st, d)
        e = 1.0 - (1.0 - q) * (1.0 - b)
        p_event += surv * (1.0 - h) * e
        surv *= (1.0 - h) * (1.0 - e)
    return 1.0 - p_event


def _choose(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=1)
    return np.minimum((cum < (u * cum[:, -1])[:, None]).sum(1), weights.shape[1] - 1)


def _touchpoint_weights(w: _World, sub: dict, d: int, bau: bool) -> np.ndarray:
    """Choice weights of an event on day ``d``: one row per customer of ``sub``, one column
    per customer touchpoint (``bau=False``) or per actionable touchpoint (``bau=True``)."""
    if not bau:
        idx = np.flatnonzero(~w.actionable)
        N = sub["N"] * np.exp(-w.k["N"] * (d - sub["L"]))
        return w.cw[idx][:, sub["s"]].T * (1.0 + w.n_boost[idx] * N[:, None])
    idx = np.flatnonzero(w.actionable)
    N, P, F, _, _ = _decayed(w, sub, d)
    return (
        w.bw[idx][:, sub["s"]].T
        * w.bau_seg[idx][:, sub["seg"]].T
        * np.exp(
            np.outer(P, w.bP[idx])
            + np.outer(N, w.bN[idx])
            + np.outer(np.minimum(sub["T"], 3), w.bT[idx])
            + np.outer(F, w.bF[idx])
        )
    )


# --------------------------------------------------------------------------- next stage
_STATE = ("N", "P", "F", "D", "T", "s", "L")
#: rollouts of a customer: ceil(_NEXT_ROLLOUTS * sqrt(mass)), at least 2 (mass: P(some event))
_NEXT_ROLLOUTS = 16
_NEXT_CHUNK = 1 << 17  # rollouts simulated at once (bounds the memory)
_NEXT_MAX_PRIOR = 1e4  # cap on the shrinkage strength, in rollouts
_NEXT_STREAM = 11  # the rollouts' own random stream: the events and other columns stay the same


def _top_stages(w: _World) -> np.ndarray:
    """For each stage, the highest stage events can move a customer in it to.

    A stage advances when some touchpoint that can occur in it (a customer
    touchpoint with a choice weight there, or a BAU one with a weight and a
    BAU rate there) moves the stage with a positive probability.
    """
    cust, act = ~w.actionable, w.actionable
    occurs = np.zeros_like(w.adv, dtype=bool)
    occurs[cust] = w.cw[cust] > 0
    occurs[act] = (w.bw[act] > 0) & (w.b0 > 0)[None, :]
    moves = np.asarray((occurs & (w.adv > 0)).any(axis=0))
    top = np.arange(len(w.stages))
    for s in range(len(w.stages) - 2, -1, -1):
        if moves[s]:
            top[s] = top[s + 1]
    return top


def _first_event_probs(w: _World, st: dict, start_day: int, horizon: int) -> np.ndarray:
    """P(first event on day start_day + k), k < horizon, for customers there at the start."""
    surv = np.ones(len(st["L"]))
    out = np.zeros((len(st["L"]), horizon))
    for k, d in enumerate(range(start_day, start_day + horizon)):
        h, q, b = _rates(w, st, d)
        e = 1.0 - (1.0 - q) * (1.0 - b)
        out[:, k] = surv * (1.0 - h) * e
        surv *= (1.0 - h) * (1.0 - e)
    return out


def _draw_event(w: _World, sub: dict, j: np.ndarray, d: int, bau: bool, rng):
    """Touchpoint and outcome draws of an event on day ``d`` for rows ``j`` of ``sub``.

    Returns the rows' state, the touchpoint, bad experience, the uniform deciding
    the stage move, the move's probability and ticket fixed.
    """
    s = _take(sub, j)
    idx = np.flatnonzero(w.actionable if bau else ~w.actionable)
    tp = idx[_choose(_touchpoint_weights(w, s, d, bau), rng.random(len(j)))]
    pb, padv, pres = _outcome_probs(w, s, tp, d)
    u = rng.random((3, len(j)))
    return s, tp, u[0] < pb, u[1], padv, u[2] < pres


def _put(dst: dict, rows: np.ndarray, src: dict) -> None:
    for k in _STATE:
        dst[k][rows] = src[k]


def _next_stage_rollouts(
    w: _World,
    st: dict,
    cust: np.ndarray,
    start_day: int,
    horizon: int,
    first: np.ndarray,
    top: np.ndarray,
    rng,
):
    """Rao-Blackwellised rollouts of the horizon, given at least one event in it.

    One rollout per entry of ``cust`` (rows of ``st``, the customers' states
    at the start of ``start_day``, taken as still there). The first event day
    is drawn from its exact distribution given some event (``first``: the rows
    of :func:`_first_event_probs`), with at least one event on it. Then a
    *stay path* runs the days exactly like :func:`_simulate` except that no
    event moves the stage; ``stay`` multiplies each event's probability of
    not moving it, so ``E[stay]`` is the exact probability of ending in the
    start stage. The first move happens at event ``k`` with probability
    ``stay_{k-1} * p_move_k``; one such event is drawn in proportion to that
    (weighted reservoir sampling along the path) and a *branch* continues
    from the moved state with the full dynamics (stopping at the stage's
    top, where nothing moves). ``stay * [s == stage] + (1 - stay) * [s ==
    branch stage]`` is then unbiased for P(stage of the last event = s | some
    event).

    Returns
    -------
    stay, branch : arrays of len(cust)
    """
    n = len(cust)
    d1 = start_day + _choose(first[cust], rng.random(n))
    F = _take(st, cust)
    B = {k: v.copy() for k, v in F.items()}
    top_of = top[F["s"]]
    f_on = np.zeros(n, bool)  # stay path started and still there
    b_on = np.zeros(n, bool)  # branch still there and below its top
    stay = np.ones(n)
    for d in range(start_day, start_day + horizon):
        # 1. branches started on earlier days: one ordinary day
        bi = np.flatnonzero(b_on)
        if len(bi):
            sub = _take(B, bi)
            h, q, b = _rates(w, sub, d)
            u = rng.random((3, len(bi)))
            there = u[0] >= h
            for bau, ev in ((False, there & (u[1] < q)), (True, there & (u[2] < b))):
                j = np.flatnonzero(ev)
                if len(j):
                    s, tp, bad, u_adv, padv, res = _draw_event(w, sub, j, d, bau, rng)
                    _put(sub, j, _transition(w, s, tp, d, bad, u_adv < padv, res))
            _put(B, bi, sub)
            b_on[bi] = there & (sub["s"] < top_of[bi])
        # 2. stay paths: hazard (not on the first event day), customer event, BAU event
        fresh = d1 == d
        f_on |= fresh
        fi = np.flatnonzero(f_on)
        if not len(fi):
            continue
        sub = _take(F, fi)
        h, q, b = _rates(w, sub, d)
        fr = fresh[fi]
        u = rng.random((3, len(fi)))
        e = 1.0 - (1.0 - q) * (1.0 - b)
        gone = ~fr & (u[0] < h)
        c_ev = ~gone & (u[1] < np.where(fr, q / np.where(e > 0, e, 1.0), q))
        b_ev = (~gone & (u[2] < b)) | (fr & ~c_ev)
        new_branch = np.zeros(len(fi), bool)
        for bau, ev in ((False, c_ev), (True, b_ev)):
            j = np.flatnonzero(ev)
            if not len(j):
                continue
            s, tp, bad, u_adv, padv, res = _draw_event(w, sub, j, d, bau, rng)
            rows = fi[j]
            before = stay[rows]
            after = before * (1.0 - padv)
            switch = u_adv * (1.0 - after) < before * padv
            if bau:
                # a branch started at today's customer event gets its own BAU event
                k = np.flatnonzero(new_branch[j] & ~switch)
                if len(k):
                    sb, tpb, badb, ub, pab, resb = _draw_event(w, B, rows[k], d, True, rng)
                    _put(B, rows[k], _transition(w, sb, tpb, d, badb, ub < pab, resb))
            k = np.flatnonzero(switch)
            if len(k):
                _put(
                    B,
                    rows[k],
                    _transition(w, _take(s, k), tp[k], d, bad[k], np.ones(len(k), bool), res[k]),
                )
                new_branch[j[k]] = True
            _put(sub, j, _transition(w, s, tp, d, bad, np.zeros(len(j), bool), res))
            stay[rows] = after
        _put(F, fi, sub)
        nb = fi[new_branch]
        b_on[nb] = B["s"][nb] < top_of[nb]
        f_on[fi[gone]] = False
    return stay, B["s"]


def _next_stage_shares(
    w: _World, st: dict, mass: np.ndarray, start_day: int, horizon: int, rng
) -> np.ndarray:
    """P(stage of the last event in the horizon = s | some event), one row per customer.

    ``mass`` is each customer's probability of some event (rollouts go where
    it is positive). Exact (1 for the current stage) where no event can move
    the stage; elsewhere :func:`_next_stage_rollouts`, ``ceil(16 sqrt(mass))``
    of them (at least 2), shrunk towards the pooled rollouts of the customers
    with the same stage and persona by empirical Bayes (see the module
    docstring).
    """
    m, ns = len(st["L"]), len(w.stages)
    s0 = st["s"]
    top = _top_stages(w)
    shares = np.zeros((m, ns))
    shares[np.arange(m), s0] = 1.0
    todo = np.flatnonzero((mass > 0) & (top[s0] > s0))
    if not len(todo):
        return shares
    sub = _take(st, todo)
    first = _first_event_probs(w, sub, start_day, horizon)
    n_roll = np.maximum(2, np.ceil(_NEXT_ROLLOUTS * np.sqrt(mass[todo]))).astype(np.int64)
    # flat while summing, then (customer, stage)
    sums: np.ndarray = np.zeros(len(todo) * ns)
    squares: np.ndarray = np.zeros(len(todo) * ns)
    ends = np.cumsum(n_roll)
    lo = 0
    while lo < len(todo):
        hi = max(int(np.searchsorted(ends, ends[lo] - n_roll[lo] + _NEXT_CHUNK, "right")), lo + 1)
        cust = np.repeat(np.arange(lo, hi), n_roll[lo:hi])
        stay, branch = _next_stage_rollouts(w, sub, cust, start_day, horizon, first, top, rng)
        for cls, x in ((sub["s"][cust], stay), (branch, 1.0 - stay)):
            sums += np.bincount(cust * ns + cls, weights=x, minlength=len(sums))
            squares += np.bincount(cust * ns + cls, weights=x * x, minlength=len(sums))
        lo = hi
    sums, squares = sums.reshape(-1, ns), squares.reshape(-1, ns)
    r = n_roll[:, None].astype(float)
    raw = sums / r
    within = np.maximum(squares / r - raw**2, 0.0) * r / (r - 1.0)  # per-rollout variance
    reach = (np.arange(ns) >= sub["s"][:, None]) & (np.arange(ns) <= top[sub["s"]][:, None])
    # groups: stage x persona x (up to 4) quantile bins of P(some event | still there)
    group = sub["s"] * len(w.personas) + sub["p"]
    busy = first.sum(axis=1)
    bins = np.zeros(len(group), np.int64)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        n_bins = min(4, max(1, len(rows) // 50))
        bins[rows] = np.argsort(np.argsort(busy[rows], kind="stable")) * n_bins // len(rows)
    group = group * 4 + bins
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        total = n_roll[rows].sum()
        # pooled shares, with half a rollout spread over the reachable stages (never 0 there)
        prior = (sums[rows].sum(0) + 0.5 * reach[rows[0]] / reach[rows[0]].sum()) / (total + 0.5)
        noise = within[rows].mean(0).sum()
        spread = (
            ((raw[rows] - sums[rows].sum(0) / total) ** 2).mean(0)
            - (within[rows] / r[rows]).mean(0)
        ).sum()
        alpha = float(np.clip(noise / max(spread, 1e-12), 1.0, _NEXT_MAX_PRIOR))
        shares[todo[rows]] = (sums[rows] + alpha * prior) / (r[rows] + alpha)
    return shares


# --------------------------------------------------------------------------- value
_VALUE_ROLLOUTS = 16  # rollouts per customer behind the expected spend
_VALUE_STREAM = 13  # their own random stream: the events and other columns stay the same
#: mean of the lognormal(0, 0.5) factor on each purchase's amount
_AMOUNT_FACTOR = float(np.exp(0.125))


def _purchase_share(w: _World, sub: dict, d: int, bau: bool) -> np.ndarray:
    """P(an event of that kind on day ``d`` is a purchase), one value per row of ``sub``."""
    weights = _touchpoint_weights(w, sub, d, bau)
    idx = np.flatnonzero(w.actionable if bau else ~w.actionable)
    total = weights.sum(axis=1)
    buy = weights[:, w.purchase[idx]].sum(axis=1)
    return np.where(total > 0, buy / np.where(total > 0, total, 1.0), 0.0)


def _expected_purchases(w: _World, st: dict, start_day: int, horizon: int, rng) -> np.ndarray:
    """E[purchases on days start_day..start_day+horizon-1] for customers there at the start.

    Rollouts of the full dynamics (as the simulation runs its days); each day
    adds its purchase probability given the rollout's state, exact, rather
    than the sampled purchase (Rao-Blackwellised): the customer event's before
    the day's draws, the BAU event's after the customer event (as the
    simulation picks it) for the rollouts still there.
    """
    m = len(st["L"])
    out = np.zeros(m)
    per_chunk = max(1, _NEXT_CHUNK // _VALUE_ROLLOUTS)
    for lo in range(0, m, per_chunk):
        rows = np.arange(lo, min(m, lo + per_chunk))
        rep = np.repeat(rows, _VALUE_ROLLOUTS)
        roll = _take(st, rep)
        on = np.ones(len(rep), bool)
        buys = np.zeros(len(rep))
        for d in range(start_day, start_day + horizon):
            i = np.flatnonzero(on)
            if not len(i):
                break
            sub = _take(roll, i)
            h, q, b = _rates(w, sub, d)
            buys[i] += (1.0 - h) * q * _purchase_share(w, sub, d, bau=False)
            u = rng.random((3, len(i)))
            there = u[0] >= h
            j = np.flatnonzero(there & (u[1] < q))
            if len(j):
                s, tp, bad, u_adv, padv, res = _draw_event(w, sub, j, d, False, rng)
                _put(sub, j, _transition(w, s, tp, d, bad, u_adv < padv, res))
            buys[i] += there * b * _purchase_share(w, sub, d, bau=True)
            j = np.flatnonzero(there & (u[2] < b))
            if len(j):
                s, tp, bad, u_adv, padv, res = _draw_event(w, sub, j, d, True, rng)
                _put(sub, j, _transition(w, s, tp, d, bad, u_adv < padv, res))
            _put(roll, i, sub)
            on[i] = there
        out[rows] = buys.reshape(len(rows), _VALUE_ROLLOUTS).mean(axis=1)
    return out


def _event_writer(w: _World, st: dict, rng: np.random.Generator, logs: list):
    """A function that applies events to ``st`` and appends them to ``logs``."""

    def apply_events(idx, tp, d, secs):
        sub = _take(st, idx)
        pb, padv, pres = _outcome_probs(w, sub, tp, d)
        u = rng.random((3, len(idx)))
        bad, adv, res = u[0] < pb, u[1] < padv, u[2] < pres
        new = _transition(w, sub, tp, d, bad, adv, res)
        for k in ("N", "P", "F", "D", "T", "s", "L"):
            st[k][idx] = new[k]
        # satisfaction: asked on some interactions, a noisy reading of the experience
        ask = rng.random(len(idx)) < w.ask[tp]
        good_score = np.where(rng.random(len(idx)) < 0.6, 5.0, 4.0)
        good_score = np.where(rng.random(len(idx)) < 0.08, 3.0, good_score)
        bad_score = rng.choice([1.0, 2.0, 3.0], size=len(idx), p=[0.4, 0.35, 0.25])
        sat = np.where(ask, np.where(bad, bad_score, good_score), np.nan)
        amount = np.where(
            w.purchase[tp],
            np.round(w.amount[st["p"][idx]] * rng.lognormal(0.0, 0.5, len(idx)), 2),
            np.nan,
        )
        logs.append((idx, np.full(len(idx), d), secs, tp, new["s"], sat, amount))

    return apply_events


def _day(w: _World, st: dict, alive: np.ndarray, dropout: np.ndarray, d: int, rng, apply_events):
    """Day ``d`` for the customers there: hazard, then customer and BAU events."""
    cust_idx = np.flatnonzero(~w.actionable)
    act_idx = np.flatnonzero(w.actionable)
    idx = np.flatnonzero(alive)
    if len(idx):
        sub = _take(st, idx)
        h, q, b = _rates(w, sub, d)
        u = rng.random((3, len(idx)))
        gone = u[0] < h
        dropout[idx[gone]] = d
        alive[idx[gone]] = False
        c_ev = ~gone & (u[1] < q)
        b_ev = ~gone & (u[2] < b)
        t_c = rng.uniform(6 * 3600, 23 * 3600, len(idx))
        t_b = rng.uniform(8 * 3600, 20 * 3600, len(idx))
        both = c_ev & b_ev
        t_c, t_b = (
            np.where(both, np.minimum(t_c, t_b), t_c),
            np.where(both, np.maximum(t_c, t_b), t_b),
        )
        ci = np.flatnonzero(c_ev)
        if len(ci):
            sub_c = _take(st, idx[ci])
            wts = _touchpoint_weights(w, sub_c, d, bau=False)
            tp = cust_idx[_choose(wts, rng.random(len(ci)))]
            apply_events(idx[ci], tp, d, t_c[ci])
        bi = np.flatnonzero(b_ev)
        if len(bi):
            sub_b = _take(st, idx[bi])
            wts = _touchpoint_weights(w, sub_b, d, bau=True)
            tp = act_idx[_choose(wts, rng.random(len(bi)))]
            apply_events(idx[bi], tp, d, t_b[bi])


def _deliver(w: _World, st: dict, idx: np.ndarray, tp: np.ndarray, C: int, rng) -> None:
    """Deliver touchpoints ``tp`` to customers ``idx`` at the cutoff (day ``C``), in place.

    As in the truth: an event at the very end of the day before, its random
    outcome drawn with the exact probabilities; the delivery is not logged.
    """
    sub = _take(st, idx)
    pb, padv, pres = _outcome_probs(w, sub, tp, C - 1)
    u = rng.random((3, len(idx)))
    new = _transition(w, sub, tp, C - 1, u[0] < pb, u[1] < padv, u[2] < pres)
    for k in ("N", "P", "F", "D", "T", "s", "L"):
        st[k][idx] = new[k]


def _simulate(spec: ScenarioSpec, n: int, seed: int, _force_touchpoint: str | None = None):
    """Run one world; return events (dict of arrays), customers, world and the cutoff state."""
    w = _World(_BUILDERS[spec.name]())
    ss = np.random.SeedSequence([int(seed), zlib.crc32(spec.name.encode())])
    rng = np.random.default_rng(ss)
    n_days, C = spec.n_days, spec.cutoff_day
    npers = len(w.personas)
    persona = rng.choice(npers, size=n, p=w.share)
    wrong = rng.random(n) > w.cfg["crm_accuracy"]
    other = (persona + rng.integers(1, npers, size=n)) % npers
    seg = np.where(wrong, other, persona)
    last_arrival = int(w.cfg["arrival_frac"] * C)
    arrival = np.sort(rng.integers(0, last_arrival, size=n))
    arrival = arrival[rng.permutation(n)]
    st = {
        "p": persona,
        "seg": seg,
        "a": arrival,
        "s": np.zeros(n, np.int64),
        "N": np.zeros(n),
        "P": np.zeros(n),
        "F": np.zeros(n),
        "D": np.zeros(n),
        "T": np.zeros(n, np.int64),
        "L": arrival.copy(),
    }
    alive = np.zeros(n, bool)
    dropout = np.full(n, -1, np.int64)
    cust_idx = np.flatnonzero(~w.actionable)
    logs: list[tuple] = []
    cutoff_state = None
    force_j = w.names.index(_force_touchpoint) if _force_touchpoint is not None else None
    frng = np.random.default_rng(
        np.random.SeedSequence([int(seed), zlib.crc32(spec.name.encode()), 7])
    )

    apply_events = _event_writer(w, st, rng, logs)

    for d in range(n_days):
        if d == C:
            cutoff_state = ({k: v.copy() for k, v in st.items()}, alive.copy())
            if force_j is not None:
                idx = np.flatnonzero(alive & w.elig[force_j, st["s"]])
                _deliver(w, st, idx, np.full(len(idx), force_j), C, frng)
        _day(w, st, alive, dropout, d, rng, apply_events)
        # arrivals: a first customer touchpoint of the first stage
        new_idx = np.flatnonzero(st["a"] == d)
        if len(new_idx):
            alive[new_idx] = True
            wts = np.broadcast_to(w.cw[cust_idx][:, 0], (len(new_idx), len(cust_idx)))
            tp = cust_idx[_choose(wts, rng.random(len(new_idx)))]
            apply_events(new_idx, tp, d, rng.uniform(6 * 3600, 23 * 3600, len(new_idx)))
    return w, logs, st, persona, seg, arrival, dropout, cutoff_state


def _truth(w: _World, spec: ScenarioSpec, cutoff_state, persona, seed: int = 0) -> pd.DataFrame:
    st_all, alive = cutoff_state
    C, H = spec.cutoff_day, spec.horizon_days
    seen = np.flatnonzero(st_all["a"] < C)
    st = _take(st_all, seen)
    m = len(seen)
    # posterior of being there given the silence on days L+1..C-1
    surv = np.ones(m)
    gone = np.zeros(m)
    first = int(st["L"].min()) + 1 if m else C
    for d in range(first, C):
        sel = np.flatnonzero(st["L"] < d)
        h, q, b = _rates(w, _take(st, sel), d)
        e = 1.0 - (1.0 - q) * (1.0 - b)
        gone[sel] += surv[sel] * h
        surv[sel] *= (1.0 - h) * (1.0 - e)
    p_active = surv / (surv + gone)
    active = alive[seen]
    r_alive = _risk_alive(w, st, C, H)
    out = {
        "customer_id": (seen + 1).astype(np.int64),
        "persona": np.array(w.personas, dtype=object)[persona[seen]],
        "stage": np.array(w.stages, dtype=object)[st["s"]],
        "active": active,
        "p_active": p_active,
        "risk_no_action": p_active * r_alive + (1.0 - p_active),
        "risk_full_no_action": np.where(active, r_alive, 1.0),
    }
    for j in np.flatnonzero(w.actionable):
        tp = np.full(m, j)
        pb, padv, pres = _outcome_probs(w, st, tp, C - 1)
        risk = np.zeros(m)
        for bad, adv, res in product((False, True), repeat=3):
            wt = (
                (pb if bad else 1.0 - pb)
                * (padv if adv else 1.0 - padv)
                * (pres if res else 1.0 - pres)
            )
            nz = np.flatnonzero(wt > 0)
            if not len(nz):
                continue
            sub = _take(st, nz)
            new = _transition(
                w,
                sub,
                tp[nz],
                C - 1,
                np.full(len(nz), bad),
                np.full(len(nz), adv),
                np.full(len(nz), res),
            )
            risk[nz] += wt[nz] * _risk_alive(w, new, C, H)
        risk = p_active * risk + (1.0 - p_active)
        out[f"risk_{w.names[j]}"] = np.where(w.elig[j, st["s"]], risk, np.nan)
    # next stage: P(some event) times the stage shares given some event; dropped = no event
    mass = p_active * (1.0 - r_alive)
    rng = np.random.default_rng(
        np.random.SeedSequence([int(seed), zlib.crc32(spec.name.encode()), _NEXT_STREAM])
    )
    shares = _next_stage_shares(w, st, mass, C, H, rng)
    for i, stage in enumerate(w.stages):
        out[f"p_next_{stage}"] = mass * shares[:, i]
    out["p_next_dropped"] = out["risk_no_action"].copy()
    # expected spend: P(there) x E[purchases | there] x the persona's mean amount
    value_rng = np.random.default_rng(
        np.random.SeedSequence([int(seed), zlib.crc32(spec.name.encode()), _VALUE_STREAM])
    )
    there = np.flatnonzero(p_active > 1e-9)
    purchases = np.zeros(m)
    purchases[there] = _expected_purchases(w, _take(st, there), C, H, value_rng)
    out["expected_value"] = p_active * purchases * w.amount[persona[seen]] * _AMOUNT_FACTOR
    return pd.DataFrame(out)


def _events_frame(w: _World, logs: list, seg: np.ndarray, start: pd.Timestamp) -> pd.DataFrame:
    """The event log of ``logs`` (tuples of arrays), sorted by customer then time."""
    cols = [np.concatenate([lg[i] for lg in logs]) for i in range(7)]
    idx, day, secs, tp, stage, sat, amount = cols
    ns = (day.astype(np.int64) * 86400 + secs.astype(np.int64)) * 1_000_000_000
    order = np.lexsort((ns, idx))
    seg_names = np.array(w.personas, dtype=object)
    events = pd.DataFrame(
        {
            "customer_id": (idx[order] + 1).astype(np.int64),
            "timestamp": pd.to_datetime(start.value + ns[order], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "touchpoint": np.array(w.names, dtype=object)[tp[order]],
            "stage": np.array(w.stages, dtype=object)[stage[order]],
            "channel": w.log_channel[tp[order]],
            "satisfaction": sat[order].astype(float),
            "amount": amount[order].astype(float),
            "segment": seg_names[seg[idx[order]]],
        }
    )
    if not w.cfg["satisfaction"]:
        events = events.drop(columns="satisfaction")
    return events


def _build(name: str, n_customers: int | None, seed: int, _force_touchpoint: str | None = None):
    if name not in SCENARIOS:
        raise CjmlError(
            f"Unknown scenario {name!r}; the scenarios are {list(SCENARIOS)!r}."
            + (
                f" Did you mean {m[0]!r}?"
                if (m := difflib.get_close_matches(str(name), SCENARIOS, n=1))
                else ""
            )
        )
    spec = SCENARIOS[name]
    n = spec.n_customers if n_customers is None else n_customers
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise CjmlError(f"n_customers must be a positive integer or None, got {n_customers!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise CjmlError(f"seed must be a non-negative integer, got {seed!r}.")
    w, logs, _, persona, seg, arrival, dropout, cutoff_state = _simulate(
        spec, int(n), int(seed), _force_touchpoint
    )
    start = pd.Timestamp(spec.start, tz="UTC")
    events = _events_frame(w, logs, seg, start)
    seg_names = np.array(w.personas, dtype=object)
    jmap = w.journey_map(name)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "persona": seg_names[persona],
            "segment": seg_names[seg],
            "arrival": start + pd.to_timedelta(arrival, unit="D"),
            "dropout": pd.to_datetime(
                np.where(
                    dropout >= 0, start.value + dropout * 86_400 * 10**9, np.iinfo(np.int64).min
                ),
                utc=True,
            ).astype("datetime64[ns, UTC]"),
            "base_hazard": w.h0[persona],
            "base_event_rate": w.q0[persona],
            "price_sensitivity": w.sens[persona],
        }
    )
    truth = _truth(w, spec, cutoff_state, persona, int(seed))
    from sklearn.utils import Bunch

    return Bunch(
        events=events,
        journey_map=jmap,
        test_cutoff=start + pd.Timedelta(days=spec.cutoff_day),
        horizon_days=spec.horizon_days,
        truth=truth,
        customers=customers,
        spec=spec,
        params={"name": name, "n_customers": int(n), "seed": int(seed)},
    )


def make_scenario(name: str, n_customers: int | None = None, seed: int = 0) -> Bunch:
    """Simulate one world of the scenario suite, with exact counterfactual truth.

    Parameters
    ----------
    name : str
        A key of :data:`SCENARIOS`; see :data:`DEVELOPMENT_SCENARIOS` and
        :data:`HELD_OUT_SCENARIOS`.
    n_customers : int, optional
        Number of customers; None for the world's default size.
    seed : int, default 0
        Seed, mixed with the world's name; the same seed gives identical output.

    Returns
    -------
    Bunch
        ``events``
            One row per event, sorted by customer then time, over the whole
            period including the horizon after ``test_cutoff``:
            ``customer_id``, ``timestamp`` (UTC), ``touchpoint``, ``stage`` (the
            stage after the event), ``channel``, ``satisfaction`` (1-5, NaN when
            not asked; absent in ``fixed_lifecycle``), ``amount`` (purchases
            only) and ``segment`` (CRM label, right for ~85% of customers).
        ``journey_map``
            The world's :class:`~cjml.JourneyMap`.
        ``test_cutoff``, ``horizon_days``
            The truth's cutoff (UTC midnight) and horizon (30 days).
        ``truth``
            One row per customer with an event before the cutoff:
            ``customer_id``, ``persona``, ``stage``, ``active``, ``p_active``,
            ``risk_no_action``, ``risk_full_no_action`` and ``risk_<t>`` for
            every actionable touchpoint ``t`` (NaN where not eligible in the
            stage), then ``p_next_<stage>`` for every stage of the journey map
            and ``p_next_dropped``. Risks are exact probabilities of no event
            in ``(cutoff, cutoff + horizon]``. ``p_next_*`` is the
            distribution of the next-stage label (the stage of the last event
            in that window, or dropped without one; each row sums to 1):
            ``p_next_dropped`` equals ``risk_no_action`` exactly, stages below
            the current one get 0, and the split of ``1 - risk_no_action``
            over the stages is exact where the current stage cannot move and
            otherwise a Rao-Blackwellised Monte Carlo estimate with
            empirical-Bayes smoothing (see the module docstring), off the
            exact split by an expected extra log loss of at most about 0.001
            nats per customer at the default sizes, drawn from a random
            stream of its own (the other columns do not depend on it).
            Last, ``expected_value``: the expected spend in the horizon under
            BAU (``p_active`` x the expected purchases if still there x the
            persona's mean amount; the purchases averaged over 16 rollouts
            per customer of the full dynamics, each day adding its exact
            purchase probability; a random stream of its own too).
        ``customers``
            One row per customer: ``customer_id``, ``persona``, ``segment``,
            ``arrival``, ``dropout`` (NaT while still there at the end) and the
            persona's latent rates.
        ``spec``
            The :class:`ScenarioSpec`.
        ``params``
            ``name``, ``n_customers`` and ``seed``, to replay the world.

    Raises
    ------
    CjmlError
        For an unknown name (the message lists the names) or a bad size or seed.

    Notes
    -----
    The next-stage rollouts roughly double the run time: they add 0.4 to
    0.7 s per 10,000 customers.

    Examples
    --------
    >>> from cjml.datasets import make_scenario
    >>> data = make_scenario("small_shop", n_customers=300, seed=1)
    >>> data.spec.split
    'development'
    >>> bool(data.truth["risk_no_action"].between(0, 1).all())
    True
    """
    return _build(name, n_customers, seed)
