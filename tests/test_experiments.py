"""Experiments teach the recommender: measured campaigns correct the observational effects."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import cjml
from cjml.datasets import load_sample
from cjml.experiments import (
    BIAS_PRIOR_SD,
    MIN_FOR_BIAS,
    campaign_evidence,
    effect_evidence,
    find_manifests,
    model_bias,
    observational_evidence,
    pool_evidence,
)
from cjml.i18n import language
from cjml.recommend import TouchpointRecommender
from tests._panel_bundle import sample_bundle_path

BY_REDUCTION = {"rank_by": "reduction"}


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def log():
    return cjml.read_events(load_sample())


@pytest.fixture(scope="module")
def bundle():
    # the panel tests' bundle (trained once per run): policy "dr-point", per-customer best
    return cjml.ModelBundle.load(sample_bundle_path())


@pytest.fixture(scope="module")
def observed(bundle, log):
    """The model's estimates before any experiment, and its recommendations."""
    rec = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    return rec.effects(log, lookback="90D"), rec.recommend(log, lookback="90D")


def _effects_row(group, value, reduction, low, high, n_treated=200, n_control=60):
    return {
        "group": group,
        "value": value,
        "n_treated": n_treated,
        "n_control": n_control,
        "dropoff_treated": np.nan,
        "dropoff_control": np.nan,
        "reduction": reduction,
        "reduction_low": low,
        "reduction_high": high,
    }


def _campaign(
    effects_table,
    touchpoint,
    reduction,
    low,
    high,
    *,
    campaign_id="2024-07-01-a3f9c2",
    model_intervals=False,
):
    """A campaign of ``touchpoint`` given to the customers the model estimates it for,
    measured as ``reduction`` [low, high] (a hand-built UpliftReport.effects); with
    ``model_intervals`` the model's own intervals are pooled with it, else (no interval
    to weigh) the experiment is used as measured."""
    mine = effects_table[effects_table["touchpoint"] == touchpoint]
    model = pd.DataFrame(
        {
            "touchpoint": touchpoint,
            "reduction": mine["risk_reduction"].to_numpy(),
            "reach": mine["reach_probability"].to_numpy(),
        }
    )
    if model_intervals:
        model["low"] = mine["risk_reduction_low"].to_numpy()
        model["high"] = mine["risk_reduction_high"].to_numpy()
    effects = pd.DataFrame(
        [
            _effects_row("all", "all", reduction, low, high),
            _effects_row("touchpoint", touchpoint, reduction, low, high),
        ]
    )
    return campaign_evidence(effects, model, campaign_id=campaign_id), mine


def _with_evidence(bundle, measured, method=None):
    evidence = effect_evidence(bundle.models["touchpoint_effects"], measured)
    rec = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    rec.effect_evidence = evidence
    if method is not None:
        rec.method = method
    return rec


# ---------------------------------------------------------------------- the pure function
def test_campaign_evidence_gives_the_shift_and_the_rescaled_interval_exactly():
    effects = pd.DataFrame(
        [
            _effects_row("all", "all", 0.02, 0.0, 0.04, 120, 40),
            _effects_row("touchpoint", "email", 0.03, 0.01, 0.05, 80, 30),
            _effects_row("touchpoint", "sms", 0.5, 0.4, 0.6, 29, 200),  # too few treated
            _effects_row("touchpoint", "call", 0.1, 0.0, 0.2, 40, 40),  # model estimates none
            _effects_row("risk_band", "high", 0.05, 0.0, 0.1, 60, 30),
            _effects_row("segment", "gold", 0.06, 0.03, 0.10, 40, 30),
            _effects_row("segment", "silver", 0.01, -0.03, 0.05, 40, 29),  # too few controls
            _effects_row("segment", "mixed", 0.0, -0.1, 0.1, 40, 40),  # two touchpoints
        ]
    )
    reduction = np.array([0.01, 0.03, 0.02, np.nan, 0.04, 0.1, np.nan])
    model = pd.DataFrame(
        {
            "touchpoint": ["email"] * 4 + ["email", "sms", "call"],
            "reduction": reduction,
            "reach": [0.5, 1.0, 0.75, 0.9, 1.0, 1.0, 0.8],
            "low": reduction - 0.02,  # the model's own intervals: half-width 2 points
            "high": reduction + 0.02,
            "segment": ["gold", "gold", "silver", "silver", "mixed", "mixed", "other"],
        }
    )
    # the model's average effect on a reached customer has a standard error of 1 point
    got = campaign_evidence(effects, model, campaign_id="c1", level=0.8, model_se={"email": 0.01})
    assert list(got) == ["email"]
    email = got["email"]
    # the model's mean over the treated it estimates (NaN left out): P and the mean reach
    p, r = (0.01 + 0.03 + 0.02 + 0.04) / 4, (0.5 + 1.0 + 0.75 + 1.0) / 4
    # one touchpoint measured: too few to estimate the model's bias, so the prior (one
    # point) is added to the variance of the model's mean (r times its standard error)
    z = norm.ppf(0.9)
    v_exp, v_model = (0.04 / (2 * z)) ** 2, (r * 0.01) ** 2 + BIAS_PRIOR_SD**2
    share = (1 / v_exp) / (1 / v_exp + 1 / v_model)
    estimate = share * 0.03 + (1 - share) * p
    half = z / math.sqrt(1 / v_exp + 1 / v_model)
    expected = {
        "source": "experiment",
        "campaign_id": "c1",
        "campaigns": ["c1"],
        "reduction": 0.03,
        "low": 0.01,
        "high": 0.05,
        "level": 0.8,
        "n_treated": 80,
        "n_control": 30,
        "observational_reduction": p,
        "observational_half_width": 0.02,
        "observational_se": r * 0.01,
        "mean_reach": r,
        "bias_sd": BIAS_PRIOR_SD,
        "bias_source": "prior",
        "bias_touchpoints": 1,
        "weight_experiment": share,
        "combined": "pooled",
        "estimate": estimate,
        "estimate_low": estimate - half,
        "estimate_high": estimate + half,
        "shift": (estimate - p) / r,
        "reached_low": (estimate - half) / r,  # the pooled interval, per reached customer
        "reached_high": (estimate + half) / r,
    }
    numbers = {k for k, v in expected.items() if isinstance(v, float)}
    assert set(email) == set(expected) | {"segments"}
    assert {k: email[k] for k in numbers} == pytest.approx({k: expected[k] for k in numbers})
    assert {k: email[k] for k in set(expected) - numbers} == {
        k: expected[k] for k in set(expected) - numbers
    }
    assert half < min(0.02, math.sqrt(v_model) * z)  # narrower than either
    # only "gold" qualifies: every treated customer there had email, both arms >= 30
    assert list(email["segments"]) == ["gold"]
    gold = email["segments"]["gold"]
    p_gold, r_gold = (0.01 + 0.03) / 2, (0.5 + 1.0) / 2
    # the model's 2 points lie outside the measured 3 to 10, yet they are pooled all the
    # same, with the touchpoint's bias: the experiment's half-width (3.5 points) weighs
    # it against the model's standard error and bias, so 30 controls cannot overwrite
    # the history
    w_exp, w_obs = (z / 0.035) ** 2, 1 / ((r_gold * 0.01) ** 2 + BIAS_PRIOR_SD**2)
    gold_estimate = (w_exp * 0.06 + w_obs * p_gold) / (w_exp + w_obs)
    assert gold["combined"] == "pooled" and gold["estimate"] == pytest.approx(gold_estimate)
    assert gold["bias_sd"] == BIAS_PRIOR_SD
    assert p_gold < gold["estimate"] < 0.045  # moved towards the experiment, not onto it
    assert gold["reduction"] == 0.06 and gold["n_treated"] == 40
    assert gold["shift"] == pytest.approx((gold_estimate - p_gold) / r_gold)
    gold_half = z / math.sqrt(w_exp + w_obs)
    assert gold["reached_low"] == pytest.approx((gold_estimate - gold_half) / r_gold)
    assert gold["reached_high"] == pytest.approx((gold_estimate + gold_half) / r_gold)
    # without the model's standard error, the mean half-width of its intervals stands in
    halves = campaign_evidence(effects, model, campaign_id="c1", level=0.8)["email"]
    assert halves["observational_se"] is None
    v_half = (0.02 / z) ** 2 + BIAS_PRIOR_SD**2
    share = (1 / v_exp) / (1 / v_exp + 1 / v_half)
    assert halves["estimate"] == pytest.approx(share * 0.03 + (1 - share) * p)
    # without either there is nothing to weigh: the experiment wins
    bare = campaign_evidence(effects, model.drop(columns=["low", "high"]), campaign_id="c1")
    assert bare["email"]["combined"] == "experiment"
    assert bare["email"]["weight_experiment"] == 1.0
    assert bare["email"]["observational_half_width"] is None
    assert bare["email"]["shift"] == pytest.approx((0.03 - p) / r)
    assert bare["email"]["reached_low"] == pytest.approx(0.01 / r)
    # the record is plain JSON: no NaN, no numpy scalars
    for value in email.values():
        assert not isinstance(value, np.generic)
        assert not (isinstance(value, float) and math.isnan(value))


def test_pooling_weights_each_campaign_by_its_precision():
    def entry(cid, reduction, half, reach):
        return {
            "source": "experiment",
            "campaign_id": cid,
            "campaigns": [cid],
            "reduction": reduction,
            "low": reduction - half,
            "high": reduction + half,
            "level": 0.9,
            "n_treated": 100,
            "n_control": 50,
            "observational_reduction": 0.0,
            "observational_half_width": None,
            "mean_reach": reach,
        }

    a, b = entry("a", 0.04, 0.02, 0.5), entry("b", 0.01, 0.04, 1.0)
    pooled = pool_evidence([{"email": a}, {"email": b, "sms": b}])
    # measured once: as it was; the model gives no standard error, so the experiment is
    # used as measured
    assert {k: v for k, v in pooled["sms"].items() if k in b} == b
    assert pooled["sms"]["combined"] == "experiment" and pooled["sms"]["estimate"] == 0.01
    email = pooled["email"]
    w = np.array([1 / 0.02**2, 1 / 0.04**2])  # the same z cancels in the weights
    mean = (w[0] * 0.04 + w[1] * 0.01) / w.sum()
    assert email["reduction"] == pytest.approx(mean)
    assert email["estimate"] == pytest.approx(mean) and email["combined"] == "experiment"
    # the pooled interval is narrower than either one
    assert email["high"] - email["low"] == pytest.approx(2 * 0.02 / math.sqrt(1 + 0.25))
    assert email["mean_reach"] == pytest.approx(0.75)  # over the treated of both
    assert email["reached_low"] == pytest.approx(email["low"] / 0.75)
    assert email["shift"] == pytest.approx(mean / 0.75)
    assert email["campaign_id"] == "a, b" and email["campaigns"] == ["a", "b"]
    assert (email["n_treated"], email["n_control"]) == (200, 100)


# ---------------------------------------------------------------------- the model's bias
def _several(measured: dict[str, tuple[float, float, float]], *, se=0.002, campaign="c"):
    """A campaign measuring several touchpoints, each ``(R, half-width, P)``: 60 treated
    customers per touchpoint whom the model gives ``P`` (reach 1) with an average effect
    known to within ``se``."""
    rows, model = [], []
    for name, (reduction, half, predicted) in measured.items():
        rows.append(
            _effects_row("touchpoint", name, reduction, reduction - half, reduction + half, 60, 60)
        )
        frame = {"touchpoint": name, "reduction": [predicted] * 60, "reach": 1.0}
        model.append(pd.DataFrame(frame))
    return campaign_evidence(
        pd.DataFrame(rows),
        pd.concat(model, ignore_index=True),
        campaign_id=campaign,
        model_se=dict.fromkeys(measured, se),
    )


def test_a_campaign_that_is_pure_noise_barely_moves_a_model_the_others_agree_with():
    # four touchpoints measured precisely, as the model says; a fifth measured by a small
    # campaign 5 points off the model, its interval 8 points wide either way
    agree = {f"t{k}": (0.01 * k, 0.01, 0.01 * k) for k in range(4)}
    got = _several({**agree, "noisy": (0.07, 0.08, 0.02)})
    noisy = got["noisy"]
    assert noisy["bias_source"] == "estimated" and noisy["bias_touchpoints"] == 5
    # a miss of 5 points with 5 points of noise shows no bias, and four precise
    # experiments that agree pull it below the prior's point (but not to nothing)
    assert 0.0 < noisy["bias_sd"] < 0.6 * BIAS_PRIOR_SD
    assert noisy["weight_experiment"] < 0.02
    assert abs(noisy["estimate"] - 0.02) < 0.001  # moved by under a tenth of a point
    # the old weighing (by a 2-point half-width of the model's intervals) moved it by more
    # than a point: the reason for the bias term
    z = norm.ppf(0.95)
    w_exp, w_half = (z / 0.08) ** 2, (z / 0.02) ** 2
    assert (w_exp * 0.05) / (w_exp + w_half) > 0.0025


def test_a_model_that_several_precise_experiments_contradict_is_corrected_onto_them():
    # the model says 3 points for every touchpoint; five precise campaigns measure 0 or 6
    measured = {f"t{k}": (0.06 * (k % 2), 0.005, 0.03) for k in range(5)}
    got = _several(measured)
    for name, (reduction, _, _) in measured.items():
        entry = got[name]
        assert entry["bias_source"] == "estimated"
        # about the size of the misses: five precise experiments outweigh the prior's point
        assert 0.02 < entry["bias_sd"] < 0.033
        assert entry["weight_experiment"] > 0.9
        assert abs(entry["estimate"] - reduction) < 0.003
        assert entry["estimate_low"] < reduction < entry["estimate_high"]
    # the same single campaign alone: the prior bias (one point) pulls it only part way
    alone = _several({"t0": measured["t0"]})["t0"]
    assert alone["bias_source"] == "prior" and alone["bias_touchpoints"] == 1
    assert 0.0 < alone["estimate"] < got["t0"]["estimate"] + 0.03
    assert alone["weight_experiment"] < got["t0"]["weight_experiment"]


def test_experiments_that_agree_with_the_model_pull_the_bias_below_the_prior():
    measured = {f"t{k}": (0.01 * k + 0.002 * (-1) ** k, 0.01, 0.01 * k) for k in range(4)}
    got = _several(measured, se=0.004)
    z = norm.ppf(0.95)
    v_exp = (0.01 / z) ** 2
    for name, (reduction, _, predicted) in measured.items():
        entry = got[name]
        assert entry["bias_source"] == "estimated"
        assert 0.0 < entry["bias_sd"] < 0.6 * BIAS_PRIOR_SD
        v_model = 0.004**2 + entry["bias_sd"] ** 2
        share = (1 / v_exp) / (1 / v_exp + 1 / v_model)
        assert entry["weight_experiment"] == pytest.approx(share)
        assert entry["estimate"] == pytest.approx(share * reduction + (1 - share) * predicted)


def test_a_model_shrunk_to_nothing_keeps_an_interval_when_noisy_campaigns_agree_with_it():
    # the confirmed share is 0: the model predicts no gain, with no standard error; three
    # noisy campaigns measure small gains and losses around it. The moment estimate of the
    # bias alone is 0, which trusted the model without error: a point for an interval.
    measured = {"a": (0.01, 0.05, 0.0), "b": (-0.012, 0.05, 0.0), "c": (0.004, 0.05, 0.0)}
    got = _several(measured, se=0.0)
    d = np.array([0.01, -0.012, 0.004])
    v = np.full(3, (0.05 / norm.ppf(0.95)) ** 2)
    assert model_bias(d, v, prior_sd=0.0) == (0.0, "estimated")
    for entry in got.values():
        assert entry["bias_sd"] == pytest.approx(BIAS_PRIOR_SD, rel=0.1)  # the prior stands
        assert entry["estimate_high"] - entry["estimate_low"] > 0.02  # about two points
        assert entry["weight_experiment"] < 0.1
        assert abs(entry["estimate"]) < 0.002


@given(
    d=st.lists(st.floats(-0.2, 0.2), min_size=3, max_size=12),
    scale=st.floats(0.1, 10.0),
    seed=st.integers(0, 10),
)
@settings(max_examples=60, deadline=None)
def test_the_bias_estimate_lies_between_the_moment_estimate_and_the_prior_and_scales(
    d, scale, seed
):
    v = np.random.default_rng(seed).uniform(1e-5, 1e-3, len(d))
    tau, source = model_bias(d, v)
    w = 1 / v
    moment = (np.sum(w * np.square(d)) - len(d)) / w.sum()
    assert source == "estimated" and tau >= 0
    # without a prior: DerSimonian and Laird's moment estimate, floored at 0
    assert model_bias(d, v, prior_sd=0.0)[0] ** 2 == pytest.approx(max(0.0, moment), abs=1e-15)
    # with it: a weighted mean of the two
    low, high = sorted((moment, BIAS_PRIOR_SD**2))
    assert max(0.0, low) - 1e-15 <= tau**2 <= high + 1e-15
    # in other units (points instead of shares) the same bias
    again = model_bias(np.array(d) * scale, v * scale**2, prior_sd=BIAS_PRIOR_SD * scale)[0]
    assert again == pytest.approx(tau * scale, rel=1e-9, abs=1e-12)
    assert model_bias(d[:2], v[:2], prior_sd=0.02) == (0.02, "prior")


def test_pooled_campaigns_estimate_the_bias_over_every_touchpoint_measured():
    one = _several({"a": (0.06, 0.005, 0.03), "b": (0.0, 0.005, 0.03)}, campaign="one")
    two = _several({"c": (0.06, 0.005, 0.03), "a": (0.06, 0.005, 0.03)}, campaign="two")
    assert one["a"]["bias_source"] == two["c"]["bias_source"] == "prior"
    pooled = pool_evidence([one, two])
    assert sorted(pooled) == ["a", "b", "c"]
    for entry in pooled.values():
        assert entry["bias_source"] == "estimated" and entry["bias_touchpoints"] == 3
        assert entry["bias_sd"] > BIAS_PRIOR_SD  # misses of 3 points, measured to 0.3
    assert pooled["a"]["campaigns"] == ["one", "two"]
    assert pooled["a"]["estimate"] == pytest.approx(0.06, abs=0.003)


def test_every_touchpoint_says_what_its_effect_rests_on(bundle):
    effects = bundle.models["touchpoint_effects"]
    plain = observational_evidence(effects)
    assert set(plain) == set(effects.touchpoints)
    for name, entry in plain.items():
        assert entry["source"] == "observational" and entry["campaign_id"] is None
        assert entry["n_treated"] == effects.deliveries[name]
        assert entry["low"] <= entry["reduction"] <= entry["high"]
        assert entry["reduction"] == pytest.approx(-effects.ate[name][0])
    measured = {"email": {"source": "experiment", "campaign_id": "c"}}
    mixed = effect_evidence(effects, measured)
    assert mixed["email"] == measured["email"]
    assert all(e["source"] == "observational" for t, e in mixed.items() if t != "email")
    assert list(mixed) == sorted(mixed)


# ---------------------------------------------------------------------- the recommender
def test_a_touchpoint_measured_as_harmful_is_no_longer_recommended(bundle, log, observed):
    effects_table, before = observed
    top = before["recommended_touchpoint"].value_counts().index[0]
    assert (before["recommended_touchpoint"] == top).sum() > 50
    measured, _ = _campaign(effects_table, top, -0.04, -0.07, -0.01)
    for method in ("dr-point", "dr-rank", "dr"):
        after = _with_evidence(bundle, measured, method).recommend(log, lookback="90D")
        for k in ("", "_2", "_3"):
            assert not (after[f"recommended_touchpoint{k}"] == top).any(), (method, k)
    # the ruled-out touchpoint says why, with the campaign
    table = _with_evidence(bundle, measured).effects(log, lookback="90D")
    ruled = table[table["touchpoint"] == top]
    assert not ruled["allowed"].any()
    sentence = "measured in campaign 2024-07-01-a3f9c2 to raise the drop-off risk"
    assert (ruled["blocked_by"] == sentence).all()
    # each customer's interval is the measured one rescaled by their reach (widened to
    # hold their own estimate): below zero for almost all
    assert (ruled["risk_reduction_high"] < 0).mean() > 0.9


def test_only_a_measured_interval_below_zero_rules_a_touchpoint_out_whatever_the_pooling(
    bundle, log, observed
):
    effects_table, before = observed
    top = before["recommended_touchpoint"].value_counts().index[0]
    n_before = int((before["recommended_touchpoint"] == top).sum())
    # a small campaign leaning negative, its interval across zero: pooled, it moves the
    # estimate a little and rules nothing out
    noisy, _ = _campaign(effects_table, top, -0.06, -0.13, 0.01, model_intervals=True)
    entry = noisy[top]
    assert entry["combined"] == "pooled"
    assert entry["reduction"] < entry["estimate"] < entry["observational_reduction"]
    table = _with_evidence(bundle, noisy, "dr-point").effects(log, lookback="90D")
    assert (
        not table.loc[table["touchpoint"] == top, "blocked_by"]
        .str.contains("to raise the drop-off risk")
        .any()
    )
    after = _with_evidence(bundle, noisy, "dr-point").recommend(log, lookback="90D")
    assert 0 < (after["recommended_touchpoint"] == top).sum() <= n_before
    # the same campaign with its interval clearly below zero rules it out, even where
    # the pooled estimate stays above the measured one
    harmful, _ = _campaign(effects_table, top, -0.06, -0.09, -0.03, model_intervals=True)
    assert harmful[top]["estimate"] > -0.06
    after = _with_evidence(bundle, harmful, "dr-point").recommend(log, lookback="90D")
    assert not (after["recommended_touchpoint"] == top).any()


def test_a_touchpoint_measured_as_helpful_moves_up_the_ranking_and_is_not_uncertain(
    bundle, log, observed
):
    effects_table, before = observed
    counts = before["recommended_touchpoint"].value_counts()
    rare = counts.index[-1]  # first for only a few customers before the experiment
    measured, _ = _campaign(effects_table, rare, 0.06, 0.04, 0.08)
    after = _with_evidence(bundle, measured).recommend(log, lookback="90D")
    first = after["recommended_touchpoint"] == rare
    assert first.sum() > 3 * counts[rare]
    assert not after.loc[first, "uncertain"].any()
    assert (after.loc[first, "evidence_source"] == "experiment").all()
    others = after["recommended_touchpoint"].notna() & ~first
    assert (after.loc[others, "evidence_source"] == "observational").all()
    assert after.loc[after["recommended_touchpoint"].isna(), "evidence_source"].isna().all()
    text = "measured in campaign 2024-07-01-a3f9c2: -6.0 points on the drop-off risk"
    text += " (interval -8.0 to -4.0 points)"
    assert all(text in reason for reason in after.loc[first, "reason"])
    # the observational interval and its evidence count give way to the experiment's
    assert not after.loc[first, "reason"].str.contains("in this stage received it").any()
    with language("vi"):
        vi = _with_evidence(bundle, measured).recommend(log, lookback="90D")
    assert (
        vi.loc[first, "reason"]
        .str.contains(
            "đo được trong chiến dịch 2024-07-01-a3f9c2: -6,0 điểm phần trăm trên rủi ro rời bỏ"
        )
        .all()
    )


def test_a_null_measurement_leaves_the_touchpoint_uncertain_everywhere(bundle, log, observed):
    effects_table, before = observed
    top = before["recommended_touchpoint"].value_counts().index[0]
    measured, _ = _campaign(effects_table, top, 0.005, -0.02, 0.03)
    after = _with_evidence(bundle, measured, "dr-point").recommend(log, lookback="90D")
    for k in ("", "_2", "_3"):
        mine = after[f"recommended_touchpoint{k}"] == top
        assert after.loc[mine, f"uncertain{k}"].all()
        assert (after.loc[mine, f"expected_risk_reduction_low{k}"] <= 0).all()
    first = after["recommended_touchpoint"] == top
    assert after.loc[first, "reason"].str.contains("uncertain: it may not help").all()
    # and a method that needs an interval above zero never recommends it
    strict = _with_evidence(bundle, measured, "dr").recommend(log, lookback="90D")
    assert not (strict["recommended_touchpoint"] == top).any()


def test_the_mean_over_the_campaigns_treated_equals_the_measured_reduction(bundle, log, observed):
    effects_table, _ = observed
    name = "consultation"
    mine = effects_table[
        (effects_table["touchpoint"] == name)
        & effects_table["expected_risk"].between(0.05, 0.95)  # no clipping at 0 or 1
    ]
    treated = mine.iloc[:150]
    p = treated["risk_reduction"].mean()
    measured = p + 0.004  # close to the model: no customer leaves the wide interval
    half = 0.5
    evidence, _ = _campaign(
        treated.assign(touchpoint=name), name, measured, measured - half, measured + half
    )
    rec = _with_evidence(bundle, evidence)
    got = rec.effects(log, customers=treated["customer_id"])
    got = got[got["touchpoint"] == name].set_index("customer_id").loc[treated["customer_id"]]
    assert got["risk_reduction"].mean() == pytest.approx(measured, abs=1e-12)
    # each customer moved by reach * shift, and the interval is the experiment's, rescaled
    entry = evidence[name]
    reach = treated["reach_probability"].to_numpy()
    np.testing.assert_allclose(
        got["risk_reduction"], treated["risk_reduction"].to_numpy() + reach * entry["shift"]
    )
    # widened to hold the customer's estimate; a reduction can be neither above the risk
    # nor below the risk minus 1
    risk = treated["baseline_risk"].to_numpy()
    red = got["risk_reduction"].to_numpy()
    low = np.minimum(np.maximum(np.minimum(reach * entry["reached_low"], red), risk - 1), red)
    high = np.maximum(np.minimum(np.maximum(reach * entry["reached_high"], red), risk), red)
    np.testing.assert_allclose(got["risk_reduction_low"], low)
    np.testing.assert_allclose(got["risk_reduction_high"], high)
    assert (low == np.maximum(reach * entry["reached_low"], risk - 1)).mean() > 0.9


def test_a_segments_own_measurement_applies_to_that_segment_only(bundle, log, observed):
    effects_table, _ = observed
    name = "consultation"
    measured, _ = _campaign(effects_table, name, 0.03, 0.01, 0.05)
    business = dict(measured[name], reduction=-0.05, low=-0.08, high=-0.02)
    r = business["mean_reach"]
    business.update(shift=-0.2, reached_low=-0.08 / r, reached_high=-0.02 / r)
    measured[name]["segments"] = {"business": business}
    rec = _with_evidence(bundle, measured, "dr-point")
    table = rec.effects(log, lookback="90D")
    segment = log.frame.groupby("customer_id", observed=True)["segment"].last()
    table = table[table["touchpoint"] == name]
    in_business = (segment.reindex(table["customer_id"]) == "business").to_numpy()
    assert in_business.any() and (~in_business).any()
    sentence = "measured in campaign 2024-07-01-a3f9c2 to raise the drop-off risk"
    assert (table.loc[in_business, "blocked_by"] == sentence).all()
    assert not (table.loc[~in_business, "blocked_by"] == sentence).any()
    assert table.loc[~in_business, "allowed"].any()
    out = rec.recommend(log, lookback="90D")
    first = out["recommended_touchpoint"] == name
    where = (segment.reindex(out.index) == "business").to_numpy()
    assert first.any() and not (first & where).any()
    assert out.loc[first, "reason"].str.contains("measured in campaign 2024-07-01-a3f9c2:").all()


def test_the_evidence_round_trips_through_the_bundle_file(bundle, log, observed, tmp_path):
    effects_table, _ = observed
    measured, _ = _campaign(effects_table, "email", 0.05, 0.03, 0.07)
    mine = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models=bundle.models,
        metadata={
            **bundle.metadata,
            "effect_evidence": effect_evidence(bundle.models["touchpoint_effects"], measured),
        },
    )
    path = mine.save(tmp_path / "taught.cjml")
    loaded = cjml.ModelBundle.load(path)
    assert loaded.metadata["effect_evidence"] == mine.metadata["effect_evidence"]
    assert loaded.metadata["effect_evidence"]["email"]["source"] == "experiment"
    a = TouchpointRecommender.from_bundle(mine, rules=BY_REDUCTION).recommend(log, lookback="90D")
    b = TouchpointRecommender.from_bundle(loaded, rules=BY_REDUCTION).recommend(log, lookback="90D")
    pd.testing.assert_frame_equal(a, b)
    assert (a["evidence_source"] == "experiment").any()


def test_a_recommender_refuses_evidence_that_is_not_a_table_per_touchpoint(bundle, log):
    rec = TouchpointRecommender.from_bundle(bundle)
    rec.effect_evidence = ["email"]
    with pytest.raises(cjml.CjmlError, match="effect_evidence must map each touchpoint"):
        rec.recommend(log, lookback="90D")


# ---------------------------------------------------------------------- finding campaigns
def test_manifests_are_found_in_files_and_folders_and_a_wrong_path_is_named(tmp_path):
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for name in ("b.campaign.json", "a.campaign.json", "a.assignments.parquet"):
        (folder / name).write_text("{}")
    one = tmp_path / "c.campaign.json"
    one.write_text("{}")
    found = find_manifests([folder, one, folder / "a.campaign.json"])
    assert [p.name for p in found] == ["a.campaign.json", "b.campaign.json", "c.campaign.json"]
    with pytest.raises(cjml.InputFileError, match=r"'.*nowhere.campaign.json' does not exist"):
        find_manifests(tmp_path / "nowhere.campaign.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(cjml.InputFileError, match="holds no campaign manifest"):
        find_manifests(empty)


def test_a_policy_of_no_action_still_recommends_what_a_campaign_proved(bundle, log, observed):
    import dataclasses

    effects_table, _ = observed
    quiet = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models={
            **bundle.models,
            "touchpoint_policy": dataclasses.replace(
                bundle.models["touchpoint_policy"], policy="no action", touchpoint=None
            ),
        },
        metadata=bundle.metadata,
    )
    assert (
        TouchpointRecommender.from_bundle(quiet)
        .recommend(log, lookback="90D")["recommended_touchpoint"]
        .isna()
        .all()
    )
    proven, _ = _campaign(effects_table, "email", 0.05, 0.03, 0.07)
    null, _ = _campaign(effects_table, "live_chat", 0.01, -0.01, 0.03, campaign_id="other")
    out = _with_evidence(quiet, {**proven, **null}).recommend(log, lookback="90D")
    assert set(out["recommended_touchpoint"].dropna()) == {"email"}
    assert (out["recommended_touchpoint"] == "email").sum() > 50
    # an explicit method="no action" is what the user asked for: nothing
    asked = _with_evidence(quiet, proven, "no action").recommend(log, lookback="90D")
    assert asked["recommended_touchpoint"].isna().all()


# ---------------------------------------------------------------------- real campaigns
MEASURED, EARLY = "2024-07-15", "2024-08-15"  # the sample ends on 2024-08-27


@pytest.fixture(scope="module")
def campaigns(bundle, log, tmp_path_factory):
    """Two campaigns exported from the sample's recommendations: one whose horizon has
    passed in the sample, one whose horizon has not."""
    folder = tmp_path_factory.mktemp("campaigns")
    rec = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    made = {}
    for name, cutoff in (("measured", MEASURED), ("early", EARLY)):
        frame = rec.recommend(log, cutoff=cutoff, lookback="90D")
        made[name] = cjml.export_campaign(
            frame, folder / f"{name}.csv", control=0.4, seed=3, bundle=bundle, cutoff=cutoff
        )
    return folder, made


def test_campaigns_are_measured_on_the_events_and_unripe_ones_skipped(bundle, log, campaigns):
    from cjml.experiments import learn_from_experiments

    folder, made = campaigns
    plain = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    early = made["early"].campaign_id
    with pytest.warns(UserWarning, match=rf"early\.campaign\.json is not used .*{early}"):
        evidence, summary = learn_from_experiments(log, plain, folder)
    measured = made["measured"]
    assert summary["used"] == [
        {
            "campaign_id": measured.campaign_id,
            "manifest": str(measured.path.resolve()),
            "touchpoints": sorted(evidence),
        }
    ]
    assert [s["manifest"] for s in summary["skipped"]] == [str(made["early"].path.resolve())]
    assert "cannot be measured yet" in summary["skipped"][0]["reason"]
    assert "It can run from 2024-09-14" in summary["skipped"][0]["reason"]
    # each touchpoint's evidence is the measured row, beside the model's mean for the
    # same treated customers at the campaign's cutoff
    report = cjml.measure_campaign(measured.path, log)
    rows = report.effects[report.effects["group"] == "touchpoint"].set_index("value")
    big = rows[(rows["n_treated"] >= 30) & (rows["n_control"] >= 30)]
    assert len(evidence) >= 2 and set(evidence) <= set(big.index)
    table = measured.assignments
    for name, entry in evidence.items():
        assert entry["reduction"] == big.loc[name, "reduction"]
        assert (entry["low"], entry["high"]) == (
            big.loc[name, "reduction_low"],
            big.loc[name, "reduction_high"],
        )
        assert (entry["n_treated"], entry["n_control"]) == (
            big.loc[name, "n_treated"],
            big.loc[name, "n_control"],
        )
        treated = table[(table["arm"] == "treatment") & (table["touchpoint"] == name)]
        model = plain.effects(log, cutoff=MEASURED, customers=treated["customer_id"])
        model = model[model["touchpoint"] == name]
        assert entry["observational_reduction"] == pytest.approx(model["risk_reduction"].mean())
        assert entry["mean_reach"] == pytest.approx(model["reach_probability"].mean())
        # the model is weighed by the standard error of its mean effect, scaled by reach
        # and by the share of its reductions the held-out period confirmed (as they are)
        se = bundle.models["touchpoint_effects"].ate[name][1]
        share = plain.policy.confirmed(plain._method())
        assert entry["observational_se"] == pytest.approx(entry["mean_reach"] * share * se)
        assert {k: entry[k] for k in summary["model_bias"]} == summary["model_bias"]
    assert summary["model_bias"]["bias_touchpoints"] == len(evidence)
    expected = "estimated" if len(evidence) >= MIN_FOR_BIAS else "prior"
    assert summary["model_bias"]["bias_source"] == expected


def test_an_altered_campaign_is_skipped_with_a_warning(bundle, log, campaigns, tmp_path):
    import json
    import shutil

    from cjml.experiments import learn_from_experiments

    _, made = campaigns
    source = made["measured"].path
    for path in source.parent.glob("measured.*"):
        shutil.copy(path, tmp_path / path.name)
    manifest = tmp_path / source.name
    record = json.loads(manifest.read_text())
    record["seed"] = 4  # a record edited after the campaign
    manifest.write_text(json.dumps(record))
    plain = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    with pytest.warns(UserWarning, match=r"measured\.campaign\.json is not used"):
        evidence, summary = learn_from_experiments(log, plain, manifest)
    assert evidence == {} and summary["used"] == []
    assert summary["skipped"][0]["manifest"] == str(manifest.resolve())


def test_cjml_train_with_experiments_records_them_and_says_so(bundle, campaigns, tmp_path, capsys):
    from cjml.cli import main
    from cjml.datasets import make_journeys

    # a small log of its own, and email campaigns to its customers (those the sample's
    # bundle recommends something): one measurable, one whose horizon has not passed
    sim = make_journeys(300, n_days=150, random_state=4)
    events = tmp_path / "events.parquet"
    sim.events.to_parquet(events)
    log = cjml.read_events(sim.events)
    end = pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC").floor("D")
    rec = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    ids = {}
    for name, days in (("june", 45), ("late", 5)):
        cutoff = end - pd.Timedelta(days=days)
        frame = rec.recommend(log, cutoff=cutoff, lookback="90D")
        chosen = frame["recommended_touchpoint"]
        frame["recommended_touchpoint"] = chosen.where(chosen.isna(), "email")
        ids[name] = cjml.export_campaign(
            frame, folder / f"{name}.csv", control=0.5, seed=1, bundle=bundle, cutoff=cutoff
        ).campaign_id
    out = tmp_path / "taught.cjml"
    argv = ["train", events, "--out", out, "--no-holdout", "--n-cutoffs", "3", "--step", "15D"]
    argv += ["--no-survival", "--no-value", "--jobs", "1", "--quiet", "--experiments", folder]
    code = main([str(a) for a in argv])
    text, err = capsys.readouterr()
    assert code == 0, err
    assert f"Campaign {ids['june']} sets the effect of: email." in text
    assert "Skipped late.campaign.json: Campaign " + ids["late"] + " cannot be measured yet" in text
    assert "late.campaign.json is not used to train the recommender" in err
    taught = cjml.ModelBundle.load(out)
    summary = taught.metadata["experiments"]
    assert [c["campaign_id"] for c in summary["used"]] == [ids["june"]]
    assert [Path(s["manifest"]).name for s in summary["skipped"]] == ["late.campaign.json"]
    evidence = taught.metadata["effect_evidence"]
    experimental = {t for t, e in evidence.items() if e["source"] == "experiment"}
    assert experimental == set(summary["used"][0]["touchpoints"]) == {"email"}
    assert evidence["email"]["campaign_id"] == ids["june"]
    assert evidence["email"]["n_treated"] >= 30 and evidence["email"]["n_control"] >= 30
    # on 300 customers the policy kept may well be no action (at seed 4 it is: the
    # campaign's interval on email, about -12 to +15 points, includes no effect); "single"
    # gives the policy's one touchpoint, email, with the campaign's evidence
    out_of = TouchpointRecommender.from_bundle(taught, method="single").recommend(
        log, lookback="90D"
    )
    emailed = out_of["recommended_touchpoint"] == "email"
    assert emailed.any() and (out_of.loc[emailed, "evidence_source"] == "experiment").all()
    assert out_of.loc[emailed, "reason"].str.contains(f"measured in campaign {ids['june']}: ").all()


def test_the_models_standard_error_is_scaled_by_the_share_its_reductions_are(
    bundle, log, campaigns
):
    from cjml.experiments import learn_from_experiments

    folder, _ = campaigns
    shown = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    unscaled = TouchpointRecommender.from_bundle(bundle, rules=BY_REDUCTION)
    unscaled.policy = None  # every reduction at the model's own scale: a share of 1
    share = 0.3
    shown.policy = copy.deepcopy(shown.policy)
    shown.policy.confirmed = lambda method: share
    with pytest.warns(UserWarning, match="not used"):
        a, _ = learn_from_experiments(log, shown, folder)
    with pytest.warns(UserWarning, match="not used"):
        b, _ = learn_from_experiments(log, unscaled, folder)
    assert sorted(a) == sorted(b) and a
    for name in a:
        assert a[name]["observational_se"] == pytest.approx(share * b[name]["observational_se"])
