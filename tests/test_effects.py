"""Doubly robust effects, overlap, shrinkage and the policy choice (cjml.effects)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import cjml
from cjml.effects import (
    NO_ACTION,
    AnchorSet,
    PolicyChoice,
    choose_policy,
    confirmed_share,
    dr_policy,
    fit_effects,
    overlap_weighted_difference,
)
from cjml.journey import JourneyMap

TOUCHPOINTS = ("call", "offer", "rare")


def _anchors(n, *, effects, confounded, seed, rare_share=0.0, stages=None):
    """Synthetic decision points: a risk driver ``x``, a stage, an arm and an outcome.

    ``effects`` maps arm index (1..3) to the true change of P(silent). With
    ``confounded`` the business gives ``call`` mostly to risky customers and
    ``offer`` mostly to safe ones, so raw comparisons mislead.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    stage = rng.integers(0, 2, n) if stages is None else np.full(n, stages)
    base = 1 / (1 + np.exp(-(-0.5 + 1.2 * x)))
    logits = np.zeros((n, 4))
    logits[:, 1] = -1.0 + (1.5 * x if confounded else 0)
    logits[:, 2] = -1.0 - (1.5 * x if confounded else 0)
    logits[:, 3] = np.log(max(rare_share, 1e-9)) if rare_share else -50
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    arm = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    tau = np.array([0.0] + [effects.get(a, 0.0) for a in (1, 2, 3)])
    y = (rng.random(n) < np.clip(base + tau[arm], 0, 1)).astype(np.int8)
    X = pd.DataFrame({"x": x, "noise": rng.normal(size=n), "current_stage": stage.astype(float)})
    return AnchorSet(
        X=X, arm=arm, y=y, customer=np.arange(n), time_ns=np.arange(n), touchpoints=TOUCHPOINTS
    )


def _map():
    return JourneyMap.from_dict(
        {
            "name": "test",
            "stages": ["new", "regular"],
            "touchpoints": {
                "visit": {"channel": "online", "stages": ["new", "regular"]},
                **{
                    t: {"channel": "online", "stages": ["new", "regular"], "actionable": True}
                    for t in TOUCHPOINTS
                },
            },
        }
    )


def _confounded_world(n, effect, treated_share, seed, slope=1.5):
    """Arm 1 goes mostly to risky customers (with true propensities and outcome means)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    base = 1 / (1 + np.exp(-(-1.5 + 1.2 * x)))
    p1 = 1 / (1 + np.exp(-(np.log(treated_share / (1 - treated_share)) + slope * x)))
    arm = (rng.random(n) < p1).astype(np.int64)
    y = (rng.random(n) < base + effect * arm).astype(float)
    e = np.column_stack([1 - p1, p1])
    mu = np.column_stack([base, base + effect])
    return e, mu, arm, y


@pytest.mark.parametrize("right", ["both", "propensity only", "outcome only"])
def test_overlap_weighted_difference_recovers_a_known_effect_under_confounding(right):
    e, mu, arm, y = _confounded_world(40_000, -0.06, 0.1, seed=11)
    if right == "propensity only":  # the outcome model knows nothing: one mean for all
        mu = np.full_like(mu, y.mean())
    if right == "outcome only":  # the propensity model ignores the confounding
        e = np.tile([1 - arm.mean(), arm.mean()], (len(y), 1))
    everyone, nobody = np.ones_like(arm), np.zeros_like(arm)
    d, se = overlap_weighted_difference(e, mu, arm, y, everyone, nobody)
    assert abs(d - (-0.06)) < 3 * se
    assert d + 1.2816 * se < 0  # the one-sided 90% bound says it helps
    # acting on half the anchors halves the difference per anchor
    half = (np.arange(len(y)) % 2).astype(np.int64)
    d_half, _ = overlap_weighted_difference(e, mu, arm, y, half, nobody)
    assert abs(d_half - (-0.03)) < 0.015
    # the raw comparison is fooled by who got the touchpoint
    assert y[arm == 1].mean() - y[arm == 0].mean() > 0


def test_overlap_weighted_difference_is_tighter_than_inverse_weights_for_a_rare_touchpoint():
    # a touchpoint for 2% of anchors, strongly targeted, and an outcome model that knows
    # little (as on real logs): some treated anchors have tiny propensities
    e, mu, arm, y = _confounded_world(40_000, -0.03, 0.02, seed=1, slope=3.0)
    mu = np.full_like(mu, y.mean())
    everyone, nobody = np.ones_like(arm), np.zeros_like(arm)
    d, se = overlap_weighted_difference(e, mu, arm, y, everyone, nobody)
    rows = np.arange(len(y))
    gamma = mu + (arm[:, None] == np.arange(2)) * (y[:, None] - mu) / e
    ipw = gamma[rows, 1] - gamma[rows, 0]
    assert se < 0.75 * ipw.std(ddof=1) / np.sqrt(len(y))
    assert abs(d - (-0.03)) < 3 * se


@settings(max_examples=50, deadline=None)
@given(
    st.integers(5, 60).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 3), elements=st.floats(0.01, 1.0)),
            arrays(np.float64, (n, 3), elements=st.floats(0.0, 1.0)),
            arrays(np.int64, n, elements=st.integers(0, 2)),
            arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0])),
            arrays(np.int64, n, elements=st.integers(0, 2)),
            arrays(np.int64, n, elements=st.integers(0, 2)),
        )
    )
)
def test_overlap_weighted_difference_is_antisymmetric_and_zero_for_one_policy(data):
    e, mu, arm, y, a, b = data
    e = e / e.sum(axis=1, keepdims=True)
    d_ab, se_ab = overlap_weighted_difference(e, mu, arm, y, a, b)
    d_ba, se_ba = overlap_weighted_difference(e, mu, arm, y, b, a)
    assert d_ab == pytest.approx(-d_ba, abs=1e-12)
    assert se_ab == pytest.approx(se_ba, abs=1e-12)
    assert overlap_weighted_difference(e, mu, arm, y, a, a) == (0.0, 0.0)
    # where the outcome model is exact for the arms received, only the contrasts count
    exact = mu.copy()
    exact[np.arange(len(y)), arm] = y
    d, _ = overlap_weighted_difference(e, exact, arm, y, a, b)
    assert abs(d) <= (a != b).mean() + 1e-12  # a difference of probabilities, per anchor


@pytest.mark.parametrize("confounded", [False, True])
def test_dr_recovers_known_average_effects(confounded):
    anchors = _anchors(30_000, effects={1: -0.08, 2: 0.05}, confounded=confounded, seed=1)
    eff = fit_effects(anchors, min_deliveries=30)
    assert set(eff.touchpoints) == {"call", "offer"}
    for name, truth in (("call", -0.08), ("offer", 0.05)):
        mean, se = eff.ate[name]
        assert abs(mean - truth) < max(4 * se, 0.02), (name, mean, se)
    # per-row estimates: right on average, with the right sign, the helpful one surely
    effect, low, high = eff.predict(anchors.X.iloc[:2000])
    call, offer = eff.touchpoints.index("call"), eff.touchpoints.index("offer")
    assert abs(np.nanmean(effect[:, call]) + 0.08) < 0.025
    assert abs(np.nanmean(effect[:, offer]) - 0.05) < 0.025
    assert np.nanmedian(effect[:, offer]) > 0.02
    assert np.nanmedian(high[:, call]) < 0  # the typical customer: surely helped


def test_predict_from_an_already_converted_matrix_gives_the_same_estimates():
    anchors = _anchors(6000, effects={1: -0.08, 2: 0.05}, confounded=True, seed=3)
    eff = fit_effects(anchors, min_deliveries=30)
    X = anchors.X.iloc[:500]
    matrix = X[eff.feature_names].to_numpy(dtype=np.float32)
    for a, b in zip(eff.predict(X), eff.predict(X, matrix=matrix), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"matrix has shape \(499, 3\); pass X\[feature_names\]"):
        eff.predict(X, matrix=matrix[1:])


def test_naive_difference_is_confounded_but_dr_is_not():
    # call truly does nothing; given to risky customers it looks harmful in the raw data
    anchors = _anchors(30_000, effects={}, confounded=True, seed=2)
    y, arm = anchors.y, anchors.arm
    raw = y[arm == 1].mean() - y[arm == 0].mean()
    assert raw > 0.1
    mean, se = fit_effects(anchors).ate["call"]
    assert abs(mean) < max(4 * se, 0.03)


def test_rare_touchpoint_is_shrunk_and_not_recommended_on_noise():
    anchors = _anchors(20_000, effects={}, confounded=False, seed=3, rare_share=0.004)
    n_rare = int((anchors.arm == 3).sum())
    assert 30 <= n_rare < 200
    eff = fit_effects(anchors)
    effect, low, high = eff.predict(anchors.X)
    rare = eff.touchpoints.index("rare")
    width = np.nanmedian(high[:, rare] - low[:, rare])
    common = eff.touchpoints.index("call")
    assert width > 1.5 * np.nanmedian(high[:, common] - low[:, common])
    assert np.nanmax(np.abs(effect[:, rare])) < 0.1  # shrunk toward zero
    eligible = np.ones((len(anchors), 3), dtype=bool)
    choice = dr_policy(eff, anchors.X, eligible)
    assert (choice == 3).mean() < 0.01


@pytest.mark.parametrize("test", ["inverse", "overlap", "normalised"])
def test_no_effective_touchpoint_gives_no_action_with_its_reason(test):
    fit = _anchors(20_000, effects={}, confounded=True, seed=4)
    held = _anchors(8_000, effects={}, confounded=True, seed=5)
    eff = fit_effects(fit)
    choice = choose_policy(eff, held, fit, _map(), test=test)
    assert choice.policy == NO_ACTION
    assert "beyond noise" in choice.reason
    # and how large a gain the held-out period could have shown (the first method tested)
    first = choice.table.loc["dr (point estimates)"]
    margin = (first["vs_default_high"] - first["vs_default"]) * 100
    assert f"on 8,000 held-out decisions, only a gain of more than {margin:.1f} points" in (
        choice.reason
    )
    assert choice.table.loc[NO_ACTION, "chosen"]


def _stage_world(n, seed, rng, *, offer, call=0.0):
    """Anchors where offer changes P(silent) by ``offer[stage]`` and call by ``call``.

    ``rng`` draws the outcomes (shared by the fit and held-out worlds of a test).
    """
    a = _anchors(n, effects={}, confounded=False, seed=seed)
    stage = a.X["current_stage"].to_numpy()
    tau = np.where(a.arm == 2, np.where(stage == 0, offer[0], offer[1]), 0.0)
    tau = np.where(a.arm == 1, call, tau)
    base = 1 / (1 + np.exp(-(-0.5 + 1.2 * a.X["x"].to_numpy())))
    a.y = (rng.random(n) < np.clip(base + tau, 0, 1)).astype(np.int8)
    return a


def test_policy_chosen_is_the_best_by_off_policy_value():
    # offer helps in stage 0 and harms in stage 1; call helps a little everywhere
    rng = np.random.default_rng(6)
    fit = _stage_world(30_000, 7, rng, offer=(-0.15, 0.10), call=-0.03)
    held = _stage_world(15_000, 8, rng, offer=(-0.15, 0.10), call=-0.03)
    eff = fit_effects(fit)
    choice = choose_policy(eff, held, fit, _map())
    table = choice.table
    chosen = table.index[table["chosen"]][0]
    assert (
        table.loc[chosen, "vs_default_high"] < 0
        or chosen in (NO_ACTION,)
        or chosen.startswith("single")
    )
    best_safe = table[(table["vs_default_high"] < 0)]
    if len(best_safe):
        assert chosen == best_safe["value"].idxmin()
    assert choice.policy in ("dr", "dr-point")  # per-stage effects beat one touchpoint for all


def test_the_best_if_contacted_ranking_is_valued_and_shown_but_never_kept():
    # offer helps in stage 0 and harms a little in stage 1; call does nothing. The ranking
    # "best touchpoint if contacted" (dr-rank) also gives stage-1 customers the touchpoint
    # with the least bad estimate, one its own model expects to raise their risk: a policy
    # kept must not. It stays in the table (its share serves the app's what-ifs), but is no
    # longer tested first; when it was, its failure against the safe default stopped the
    # sequence there, and this world kept one touchpoint for all (single) over dr-point.
    rng = np.random.default_rng(101)
    fit = _stage_world(20_000, 201, rng, offer=(-0.15, 0.01))
    held = _stage_world(10_000, 301, rng, offer=(-0.15, 0.01))
    eff = fit_effects(fit)
    choice = choose_policy(eff, held, fit, _map())
    table = choice.table
    rank, point = table.loc["dr (best if contacted)"], table.loc["dr (point estimates)"]
    assert rank["share_acted"] > point["share_acted"] + 0.1  # it gives what may harm
    assert not rank["chosen"]
    assert choice.policy == "dr-point"
    assert point["vs_default_high"] < 0


def test_one_touchpoint_policies_are_valued_only_where_the_recommender_gives_them():
    # offer helps in stage 0 and harms in stage 1. The recommender gives a one-touchpoint
    # policy's touchpoint only where its estimated reduction is above the default floor,
    # so the candidate valued at training must leave out the same customers.
    from cjml.effects import DEFAULT_MIN_REDUCTION

    rng = np.random.default_rng(16)
    fit = _stage_world(30_000, 17, rng, offer=(-0.15, 0.05))
    held = _stage_world(15_000, 18, rng, offer=(-0.15, 0.05))
    eff = fit_effects(fit)
    choice = choose_policy(eff, held, fit, _map())
    assert choice.touchpoint == "offer"
    effect = eff.predict(held.X, overlap=False)[0]
    helps = -effect > DEFAULT_MIN_REDUCTION  # every touchpoint is eligible in both stages
    offer = eff.touchpoints.index("offer")
    assert 0.2 < helps[:, offer].mean() < 0.8  # the model sees the harm in stage 1
    table = choice.table
    assert table.loc["single: offer", "share_acted"] == pytest.approx(helps[:, offer].mean())
    stage = held.X["current_stage"].to_numpy()
    given = np.zeros(len(held), dtype=bool)
    for s, t in choice.stage_rule.items():
        given |= (stage == s) & helps[:, eff.touchpoints.index(t)]
    assert table.loc["naive rule", "share_acted"] == pytest.approx(given.mean())


def test_a_policy_valued_below_zero_drop_off_passes_no_test(monkeypatch):
    # call truly helps everyone by 6 points; the held-out pseudo-outcomes of "call" are
    # pushed below zero, as unstable weights push them on some logs: a policy giving call
    # then "beats" doing nothing by more than its whole drop-off, which no policy can
    import cjml.effects as effects_module

    real = effects_module._pseudo_outcomes

    def unstable(e, mu, arm, y, thresholds):
        gamma, rest = real(e, mu, arm, y, thresholds)
        gamma = gamma.copy()
        gamma[:, 1] -= 2.0  # arm 1: call
        return gamma, rest

    fit = _anchors(30_000, effects={1: -0.06, 2: -0.02}, confounded=False, seed=9)
    held = _anchors(15_000, effects={1: -0.06, 2: -0.02}, confounded=False, seed=10)
    eff = fit_effects(fit)
    monkeypatch.setattr(effects_module, "_pseudo_outcomes", unstable)
    choice = choose_policy(eff, held, fit, _map(), test="inverse")
    table = choice.table
    assert not table["in_range"].all()  # the policies that give call to most customers
    low = table[~table["in_range"]]
    assert (low["value"] < 0).all() and (low["vs_no_action_high"] < 0).all()
    chosen = table.index[table["chosen"]][0]
    assert table.loc[chosen, "in_range"] and 0 <= table.loc[chosen, "value"] <= 1
    if chosen == NO_ACTION or chosen.startswith("single"):
        assert "which no policy can have" in choice.reason
    # without the push every value is a drop-off rate
    monkeypatch.setattr(effects_module, "_pseudo_outcomes", real)
    assert choose_policy(eff, held, fit, _map(), test="inverse").table["in_range"].all()


def test_normalised_values_keep_a_few_huge_weights_from_pushing_a_policy_below_zero():
    from cjml.effects import _normalised_ope, _ope, _pseudo_outcomes

    # 1,000 anchors, the outcome model says 0.5 everywhere; 20 received arm 1 with
    # propensities of 0.001 (clipped at 0.005) and stayed: plain inverse weights turn their
    # 20 residuals of -0.5 into a value of 0.5 - 20 x 0.5 / 0.005 / 1,000 = -1.5
    n = 1000
    arm = np.zeros(n, dtype=np.int64)
    arm[:20] = 1
    y = np.ones(n)
    y[:20] = 0.0
    e = np.column_stack([np.full(n, 0.999), np.full(n, 0.001)])
    mu = np.full((n, 2), 0.5)
    thresholds = np.array([0.5, 0.005])
    always = np.ones(n, dtype=np.int64)
    gamma, _ = _pseudo_outcomes(e, mu, arm, y, thresholds)
    assert _ope(gamma, always).mean() == pytest.approx(-1.5)
    contributions = _normalised_ope(e, mu, arm, y, thresholds, always)
    # the weights rescaled to sum to the anchors: the mean residual of those treated, -0.5
    assert contributions.mean() == pytest.approx(0.0)
    assert contributions.shape == (n,)
    # doing nothing: the 980 untreated all left (residual +0.5 each, equal weights)
    nothing = _normalised_ope(e, mu, arm, y, thresholds, np.zeros(n, dtype=np.int64))
    assert nothing.mean() == pytest.approx(1.0)
    # a policy nobody received: the outcome model alone
    none_got = _normalised_ope(e, mu, np.zeros(n, dtype=np.int64), y, thresholds, always)
    assert np.allclose(none_got, 0.5)


@given(st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_normalised_contributions_average_to_the_model_plus_the_weighted_residual(seed):
    from cjml.effects import _normalised_ope

    rng = np.random.default_rng(seed)
    n, arms = 200, 3
    e = rng.dirichlet(np.ones(arms), size=n)
    mu = rng.random((n, arms))
    arm = rng.integers(0, arms, n)
    y = (rng.random(n) < 0.3).astype(float)
    thresholds = np.full(arms, 0.05)
    choice = rng.integers(0, arms, n)
    out = _normalised_ope(e, mu, arm, y, thresholds, choice)
    rows = np.arange(n)
    hit = arm == choice
    w = np.where(hit, 1 / np.maximum(e[rows, choice], 0.05), 0.0)
    fitted = mu[rows, choice]
    expected = fitted.mean() + ((w * (y - fitted)).sum() / w.sum() if hit.any() else 0.0)
    assert out.mean() == pytest.approx(expected)
    # the correction is a weighted mean of residuals: never beyond the largest one
    assert abs(out.mean() - fitted.mean()) <= np.abs(y - fitted)[hit].max(initial=0.0) + 1e-12


# ---------------------------------------------------------------------- through cjml.train
def _lifecycle_bundle(n_customers, seed, **train_args):
    """Trained on a world where no touchpoint has any effect: drop-off follows tenure alone."""
    import warnings

    import cjml
    from cjml.datasets import make_scenario

    data = make_scenario("fixed_lifecycle", n_customers, seed=seed)
    log = cjml.read_events(
        data.events[data.events["timestamp"] <= data.test_cutoff], journey_map=data.journey_map
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bundle, _ = cjml.train(log, holdout=False, **train_args)
    return bundle, log


@pytest.fixture(scope="module")
def lifecycle_bundle():
    return _lifecycle_bundle(3000, 0, n_cutoffs=6)


def test_train_passes_the_policy_test_to_the_choice():
    bundle, _ = _lifecycle_bundle(
        1500,
        1,
        n_cutoffs=4,
        value=False,
        survival=False,
        response_params={"policy_test": "overlap"},
    )
    choice = bundle.models["touchpoint_policy"]
    assert choice.test == "overlap"
    assert choice.policy == NO_ACTION  # no touchpoint does anything in this world
    assert bundle.metadata["recommendation_policy"]["test"] == "overlap"


def test_a_world_without_effective_touchpoints_gets_no_action_and_its_reason(lifecycle_bundle):
    from cjml.recommend import TouchpointRecommender

    bundle, log = lifecycle_bundle
    choice = bundle.models["touchpoint_policy"]
    assert choice.policy == NO_ACTION
    assert bundle.metadata["recommendation_policy"]["policy"] == NO_ACTION
    rec = TouchpointRecommender.from_bundle(bundle).recommend(log, lookback="90D")
    assert len(rec) > 100
    assert rec["recommended_touchpoint"].isna().all()
    # the policy's reason alone (it says that nothing is recommended, and why), not
    # wrapped in "no allowed touchpoint (...)": touchpoints are allowed, none is kept
    assert choice.reason.startswith("no method beat")
    eligible = rec["reason"].str.startswith(choice.reason, na=False)
    assert (rec["reason"] == choice.reason).sum() > 100
    assert not rec.loc[eligible, "reason"].str.contains("no allowed touchpoint", regex=False).any()


def test_recommendations_carry_interval_evidence_and_uncertainty(lifecycle_bundle):
    from cjml.recommend import TouchpointRecommender

    bundle, log = lifecycle_bundle
    recommender = TouchpointRecommender.from_bundle(bundle, method="dr-point")
    # nothing helps in this world: the held-out period confirms none of the method's
    # predicted reductions, so, scaled by that share, none is worth recommending
    assert bundle.models["touchpoint_policy"].confirmed("dr-point") < 0.1
    rec = recommender.recommend(log, lookback="90D", top_k=2)
    assert (rec["expected_risk_reduction"].fillna(0) < 0.01).all()
    # the model's own estimates (no policy to scale them): intervals, evidence, uncertainty
    recommender.policy = None
    rec = recommender.recommend(log, lookback="90D", top_k=2)
    got = rec[rec["recommended_touchpoint"].notna()]
    assert len(got) > 10
    low, high = got["expected_risk_reduction_low"], got["expected_risk_reduction_high"]
    point = got["expected_risk_reduction"]
    assert ((low <= point + 1e-12) & (point <= high + 1e-12)).all()
    assert (got["uncertain"] == ~(low > 0)).all()
    assert (got["evidence"] >= 0).all()
    assert got["reason"].str.contains("customers in this stage received it").all()
    # nothing truly helps here: the intervals say so for most customers
    assert got["uncertain"].mean() > 0.5


def test_the_overlap_models_flags_match_the_true_propensities_as_the_full_models_do():
    from cjml.effects import _OVERLAP_MODEL, _fit_propensity, _matrix, _propensities

    anchors = _anchors(20_000, effects={1: -0.08}, confounded=True, seed=3, rare_share=0.02)
    eff = fit_effects(anchors, min_deliveries=30, rounds=80)
    assert eff.propensity.current_iteration() == 80 // _OVERLAP_MODEL
    test = _anchors(20_000, effects={1: -0.08}, confounded=True, seed=4, rare_share=0.02)
    x = test.X["x"].to_numpy()
    logits = np.column_stack(
        [np.zeros_like(x), -1.0 + 1.5 * x, -1.0 - 1.5 * x, np.full_like(x, np.log(0.02))]
    )
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    def flags(e):
        return (e[:, 1:] >= eff.thresholds[1:]) & (e[:, [0]] >= eff.thresholds[0])

    full = _fit_propensity(_matrix(anchors.X), anchors.arm, 4, 80)
    kept = flags(eff.propensities(test.X))
    assert 0.05 < 1 - kept.mean() < 0.5  # the confounding leaves real gaps to find
    kept_agree = (kept == flags(truth)).mean()
    full_agree = (flags(_propensities(full, _matrix(test.X))) == flags(truth)).mean()
    assert kept_agree > 0.96
    assert kept_agree > full_agree - 0.01


def test_the_overlap_test_keeps_the_best_of_the_methods_that_beat_doing_nothing():
    # call helps everyone a little and is given to the risky (confounded); offer does nothing
    fit = _anchors(30_000, effects={1: -0.06}, confounded=True, seed=9)
    held = _anchors(15_000, effects={1: -0.06}, confounded=True, seed=10)
    eff = fit_effects(fit)
    choice = choose_policy(eff, held, fit, _map(), test="overlap")
    table = choice.table
    # every difference is against doing nothing, the safe default
    assert np.allclose(table["vs_default"], table["vs_no_action"])
    # the methods, then the best single touchpoint, tested in order until one fails
    order = ["dr (point estimates)", "dr", "naive rule"]
    order += [name for name in table.index if name.startswith("single: ")]
    passed = []
    for name in order:
        if not table.loc[name, "vs_no_action_high"] < 0:
            break
        passed.append(name)
    assert passed, "a touchpoint that lowers every customer's risk by 6 points is found"
    assert choice.test == "overlap" and choice.to_dict()["test"] == "overlap"
    chosen = table.index[table["chosen"]][0]
    assert chosen == table.loc[passed, "value"].idxmin()
    assert choice.policy != NO_ACTION


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"policy_test": "ipw"},
            r"\['policy_test'\] must be one of 'inverse', 'overlap', 'normalised', got 'ipw'",
        ),
        ({"policy": "overlap"}, r"Unknown response_params \['policy'\]; known: .*'policy_test'"),
    ],
)
def test_train_refuses_wrong_recommender_settings_before_training(params, message):
    import cjml
    from cjml.datasets import load_sample

    with pytest.raises(ValueError, match=message):
        cjml.train(load_sample(), response_params=params)


def test_an_unknown_policy_test_is_refused():
    fit = _anchors(2_000, effects={}, confounded=False, seed=1)
    with pytest.raises(ValueError, match="test must be one of 'inverse', 'overlap', 'normalised'"):
        choose_policy(fit_effects(fit), fit, fit, _map(), test="ipw")


# ---------------------------------------------------------------------- confirmed share
def test_confirmed_share_values():
    # measured exactly as predicted, precisely: the prediction stands
    assert confirmed_share(0.03, 1e-5, 0.03) == pytest.approx(1.0, abs=1e-6)
    # as predicted, but with a standard error as large as the prediction: half of it
    assert confirmed_share(0.03, 0.03, 0.03) == pytest.approx(0.5)
    # measured at no gain or a loss: nothing of it
    assert confirmed_share(0.0, 0.01, 0.03) == 0.0
    assert confirmed_share(-0.05, 0.01, 0.03) == 0.0
    # a larger gain than predicted is not believed beyond the prediction
    assert confirmed_share(0.2, 0.001, 0.03) == 1.0
    # nothing predicted: nothing to scale; nothing measured: nothing believed
    assert confirmed_share(0.02, 0.01, 0.0) == 1.0
    assert confirmed_share(0.02, 0.01, -0.01) == 1.0
    assert confirmed_share(float("nan"), 0.01, 0.03) == 0.0
    assert confirmed_share(0.02, float("inf"), 0.03) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    measured=st.floats(-0.5, 0.5),
    more=st.floats(0.0, 0.5),
    se=st.floats(1e-4, 0.5),
    wider=st.floats(0.0, 0.5),
    predicted=st.floats(1e-3, 0.5),
)
def test_confirmed_share_is_a_share_that_grows_with_the_evidence(
    measured, more, se, wider, predicted
):
    share = confirmed_share(measured, se, predicted)
    assert 0.0 <= share <= 1.0
    assert confirmed_share(measured + more, se, predicted) >= share  # a larger measured gain
    if measured > 0:  # a noisier measure of the same gain is believed less
        assert confirmed_share(measured, se + wider, predicted) <= share + 1e-12


def test_the_policy_table_says_how_much_of_each_prediction_the_held_out_period_confirms():
    # call truly lowers everyone's risk by 6 points: a method giving it is borne out
    fit = _anchors(30_000, effects={1: -0.06}, confounded=True, seed=9)
    held = _anchors(15_000, effects={1: -0.06}, confounded=True, seed=10)
    eff = fit_effects(fit)
    table = choose_policy(eff, held, fit, _map()).table
    assert {"predicted_gain", "measured_gain", "confirmed"} <= set(table.columns)
    assert table.loc[NO_ACTION, "predicted_gain"] == 0.0
    assert table["confirmed"].between(0, 1).all()
    single = table.loc["single: call"]
    assert single["predicted_gain"] == pytest.approx(0.06, abs=0.03)
    assert single["measured_gain"] == pytest.approx(0.06, abs=0.03)
    assert single["confirmed"] > 0.7
    # nothing helps: the measured gains are noise around zero, the shares small. Each is
    # noise too (here the naive rule's measured gain is one standard error above zero, and
    # its share 0.51): none is confirmed like the real gain above, and their mean is small.
    fit = _anchors(20_000, effects={}, confounded=True, seed=4)
    held = _anchors(8_000, effects={}, confounded=True, seed=5)
    eff = fit_effects(fit)
    table = choose_policy(eff, held, fit, _map()).table
    acting = table[(table["share_acted"] > 0.2) & (table["predicted_gain"] > 0.001)]
    assert len(acting) >= 3
    shown = acting[["predicted_gain", "measured_gain", "confirmed"]]
    assert (acting["confirmed"] < 0.7).all(), shown
    assert acting["confirmed"].mean() < 0.3, shown


def test_policy_choice_gives_each_methods_share_and_one_where_it_has_none():
    table = pd.DataFrame(
        {"confirmed": [1.0, 0.25, 0.5, 0.75, 0.1, 0.2, 0.3]},
        index=pd.Index(
            [
                NO_ACTION,
                "dr (best if contacted)",
                "dr (point estimates)",
                "dr",
                "response",
                "naive rule",
                "single: call",
            ],
            name="policy",
        ),
    )
    choice = PolicyChoice("dr-rank", "call", {}, table, "", 1000)
    got = {
        m: choice.confirmed(m)
        for m in (
            "dr-rank",
            "dr-point",
            "dr",
            "response",
            "naive",
            "single",
            "s-learner",
            "no action",
        )
    }
    assert got == {
        "no action": 0.25,  # nothing recommended; its what-ifs are the per-customer model's
        "dr-rank": 0.25,
        "dr-point": 0.5,
        "dr": 0.75,
        "response": 0.1,
        "naive": 0.2,
        "single": 0.3,
        "s-learner": 1.0,  # not a candidate: nothing measured it
    }
    old = PolicyChoice("dr-rank", "call", {}, table.drop(columns="confirmed"), "", 1000)
    assert old.confirmed("dr-rank") == 1.0  # a bundle trained before the column existed


def test_recommendations_scale_reductions_by_the_confirmed_share(lifecycle_bundle):
    from cjml.recommend import TouchpointRecommender

    bundle, log = lifecycle_bundle
    choice = bundle.models["touchpoint_policy"]
    row = "dr (point estimates)"
    assert 0.0 <= choice.table.loc[row, "confirmed"] <= 1.0

    def recommender(share):
        table = choice.table.copy()
        table.loc[row, "confirmed"] = share
        policy = PolicyChoice(
            choice.policy, choice.touchpoint, choice.stage_rule, table, choice.reason, 1000
        )
        rec = TouchpointRecommender.from_bundle(
            bundle, method="dr-point", rules={"rank_by": "reduction"}
        )
        rec.policy = policy
        return rec

    def recommend(share):
        return recommender(share).effects(log, lookback="90D")

    # the same customers get the same touchpoints, at half the reduction: the default floor
    # (a change too small to tell from none) is judged before the share scales it
    got = {s: recommender(s).recommend(log, lookback="90D") for s in (1.0, 0.5)}
    given = got[1.0]["recommended_touchpoint"].notna()
    assert given.sum() > 10
    pd.testing.assert_series_equal(
        got[0.5]["recommended_touchpoint"], got[1.0]["recommended_touchpoint"]
    )
    np.testing.assert_allclose(
        got[0.5].loc[given, "expected_risk_reduction"],
        0.5 * got[1.0].loc[given, "expected_risk_reduction"],
    )
    full, half = recommend(1.0), recommend(0.5)
    assert (
        len(full) > 100
        and (full[["customer_id", "touchpoint"]] == half[["customer_id", "touchpoint"]]).all().all()
    )
    assert (full["risk_reduction"].abs() > 1e-4).mean() > 0.5  # not a test of zeros
    # where the full estimate is not clipped (a reduction cannot exceed the risk itself)
    # nor its interval, shifted with it, clipped at the risk or at the risk minus one
    free = full["expected_risk"] > 1e-9
    for frame in (full, half):
        free &= frame["risk_reduction_high"] < frame["baseline_risk"] - 1e-9
        free &= frame["risk_reduction_low"] > frame["baseline_risk"] - 1 + 1e-9
    assert free.mean() > 0.9
    np.testing.assert_allclose(
        half.loc[free, "risk_reduction"], 0.5 * full.loc[free, "risk_reduction"], atol=1e-12
    )
    # the interval keeps the model's width around the scaled estimate (the share is itself
    # uncertain: a prediction shrunk to nothing is not known to be nothing)
    width = full["risk_reduction_high"] - full["risk_reduction_low"]
    assert (width[free] > 1e-4).all()
    np.testing.assert_allclose(
        (half["risk_reduction_high"] - half["risk_reduction_low"])[free], width[free], atol=1e-12
    )
    np.testing.assert_allclose(
        (half["risk_reduction_high"] + half["risk_reduction_low"])[free],
        0.5 * (full["risk_reduction_high"] + full["risk_reduction_low"])[free],
        atol=1e-12,
    )


def test_a_reason_explains_a_better_looking_interval_that_was_never_tested():
    from cjml.effects import _SEQUENCE, _untested

    def row(high):
        return {"vs_default_high": high}

    rows = {
        "no action": row(0.0),
        "dr (point estimates)": row(0.002),  # first in the sequence, fails
        "dr": row(0.001),
        "response": row(-0.001),  # below doing nothing, but after the failure
        "naive rule": row(0.01),
        "dr (best if contacted)": row(-0.002),  # for comparison only
    }
    in_range = dict.fromkeys(rows, True)
    said = _untested("dr (point estimates)", _SEQUENCE, rows, in_range, "no action")
    assert said.startswith(". The response model shows an interval below doing nothing")
    assert "the doubly robust learner (point estimates) came first and did not pass" in said
    assert "best touchpoint for everyone is in the table for comparison only" in said
    # a candidate outside 0-100% drop-off is not held up as better, nor one tested earlier
    assert (
        _untested(
            "dr (point estimates)",
            _SEQUENCE,
            rows,
            {**in_range, "response": False, "dr (best if contacted)": False},
            "no action",
        )
        == ""
    )
    assert "response" not in _untested("naive rule", _SEQUENCE, rows, in_range, "no action")


# ------------------------------------------------------------------ long histories
@settings(max_examples=80, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=12),
    share=st.floats(0.0, 1.2),
    seed=st.integers(0, 2**16),
)
def test_bounded_histories_fit_the_budget_and_cap_every_customer_alike(sizes, share, seed):
    """Anchors are each customer's events; kept histories fit the budget, all are kept when
    they fit, and the customers cut keep the same number give or take one, at least as many
    as the uncut ones have."""
    from types import SimpleNamespace

    from cjml.effects import _bounded_histories

    sizes = np.asarray(sizes)
    offsets = np.r_[0, np.cumsum(sizes)]
    codes = np.repeat(np.arange(len(sizes)), sizes)
    log = SimpleNamespace(customer_codes=codes, offsets=offsets)
    rng = np.random.default_rng(seed)
    anchors = np.flatnonzero(rng.random(len(codes)) < 0.7)
    lengths = anchors - offsets[codes[anchors]]
    budget = int(share * lengths.sum())
    kept = _bounded_histories(anchors, log, budget, np.random.default_rng(seed))
    assert np.all(np.diff(kept) > 0) and (len(kept) == 0 or kept[-1] < len(anchors))
    assert lengths[kept].sum() <= budget
    if lengths.sum() <= budget:
        assert len(kept) == len(anchors)
        return
    n = np.bincount(codes[anchors], minlength=len(sizes))
    k = np.bincount(codes[anchors[kept]], minlength=len(sizes))
    cut = k < n
    assert cut.any()
    low = k[cut].min()
    assert k[cut].max() <= low + 1
    assert np.all(n[~cut] <= low + 1)


def test_a_customer_with_a_huge_history_is_thinned_not_fatal():
    """One id with thousands of events (a bot, a placeholder): its anchors' histories would
    hold millions of events. Under the budget its anchors give way, everyone else's stay,
    and the anchors kept are exactly the ones the unbounded fit would have (same rows)."""
    from cjml.datasets import make_journeys
    from cjml.effects import build_anchors
    from cjml.features import JourneyFeaturizer

    events = make_journeys(300, random_state=2).events
    rng = np.random.default_rng(0)
    start = events["timestamp"].min()
    span = (events["timestamp"].max() - start).total_seconds()
    bot = pd.DataFrame(
        {
            "customer_id": -1,
            "timestamp": start + pd.to_timedelta(np.sort(rng.uniform(0, span, 2000)), "s"),
            "touchpoint": "website_visit",
            "stage": "awareness",
            "channel": "web",
        }
    )
    log = cjml.read_events(pd.concat([events, bot], ignore_index=True))
    featurizer = JourneyFeaturizer(families=["activity"]).fit(log)
    kwargs = dict(start=start, end=events["timestamp"].max(), horizon="30D", random_state=0)
    whole = build_anchors(log, featurizer, **kwargs)
    budget = 200_000
    bounded = build_anchors(log, featurizer, max_history_events=budget, **kwargs)
    bot_code = int(np.flatnonzero(np.asarray(log.customer_ids) == -1)[0])

    def history(a):  # the customer's events strictly before each anchor
        ts, offsets = log.timestamps_ns, log.offsets
        return np.array(
            [
                np.sum(ts[offsets[c] : offsets[c + 1]] < t)
                for c, t in zip(a.customer, a.time_ns, strict=True)
            ]
        )

    assert history(whole).sum() > budget  # the budget binds
    assert history(bounded).sum() <= budget
    on_bot = bounded.customer == bot_code
    assert 0 < on_bot.sum() < (whole.customer == bot_code).sum()
    # every other customer keeps all of its anchors, with the same rows
    others = ~np.isin(whole.customer, [bot_code])
    key = lambda a, m: set(zip(a.customer[m], a.time_ns[m], strict=True))  # noqa: E731
    assert key(bounded, ~on_bot) == key(whole, others)
    same = pd.MultiIndex.from_arrays([whole.customer, whole.time_ns]).get_indexer(
        pd.MultiIndex.from_arrays([bounded.customer, bounded.time_ns])
    )
    np.testing.assert_array_equal(bounded.X.to_numpy(), whole.X.to_numpy()[same])
    np.testing.assert_array_equal(bounded.y, whole.y[same])


def test_a_touchpoint_with_no_comparable_customers_is_not_estimated_and_nothing_breaks():
    """Everyone with x > 0 got the call, nobody else did (a reminder sent to every customer
    due): no anchor has a comparable untreated one, so no stage cell is estimated. The
    policy choice and the predictions still run, and no effect is claimed."""
    a = _anchors(6_000, effects={}, confounded=False, seed=7)
    x = a.X["x"].to_numpy()
    arm = np.where(x > 0, 1, 0)
    rng = np.random.default_rng(1)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-x))).astype(np.int8)
    fit = AnchorSet(
        X=a.X, arm=arm, y=y, customer=a.customer, time_ns=a.time_ns, touchpoints=TOUCHPOINTS
    )
    eff = fit_effects(fit)
    assert eff.cells.empty and eff.cells["stage"].dtype == np.int64
    effect, low, high = eff.predict(a.X)
    assert effect.shape == (len(x), len(eff.touchpoints)) and np.isnan(effect).all()
    choice = choose_policy(eff, fit, fit, _map())
    assert choice.policy == NO_ACTION
