"""Doubly robust effects, overlap, shrinkage and the policy choice (cjml.effects)."""

import numpy as np
import pandas as pd
import pytest

from cjml.effects import NO_ACTION, AnchorSet, choose_policy, dr_policy, fit_effects
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


def test_no_effective_touchpoint_gives_no_action_with_its_reason():
    fit = _anchors(20_000, effects={}, confounded=True, seed=4)
    held = _anchors(8_000, effects={}, confounded=True, seed=5)
    eff = fit_effects(fit)
    choice = choose_policy(eff, held, fit, _map())
    assert choice.policy == NO_ACTION
    assert "beyond noise" in choice.reason
    assert choice.table.loc[NO_ACTION, "chosen"]


def test_policy_chosen_is_the_best_by_off_policy_value():
    # offer helps in stage 0 and harms in stage 1; call helps a little everywhere
    rng = np.random.default_rng(6)

    def world(n, seed):
        a = _anchors(n, effects={}, confounded=False, seed=seed)
        stage = a.X["current_stage"].to_numpy()
        tau = np.where(a.arm == 2, np.where(stage == 0, -0.15, 0.10), 0.0)
        tau = np.where(a.arm == 1, -0.03, tau)
        base = 1 / (1 + np.exp(-(-0.5 + 1.2 * a.X["x"].to_numpy())))
        a.y = (rng.random(n) < np.clip(base + tau, 0, 1)).astype(np.int8)
        return a

    fit, held = world(30_000, 7), world(15_000, 8)
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


# ---------------------------------------------------------------------- through cjml.train
@pytest.fixture(scope="module")
def lifecycle_bundle():
    """A world where no touchpoint has any effect: drop-off follows tenure alone."""
    import warnings

    import cjml
    from cjml.datasets import make_scenario

    data = make_scenario("fixed_lifecycle", 3000, seed=0)
    log = cjml.read_events(
        data.events[data.events["timestamp"] <= data.test_cutoff], journey_map=data.journey_map
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bundle, report = cjml.train(log, n_cutoffs=6, holdout=False)
    return bundle, log


def test_a_world_without_effective_touchpoints_gets_no_action_and_its_reason(lifecycle_bundle):
    from cjml.recommend import TouchpointRecommender

    bundle, log = lifecycle_bundle
    choice = bundle.models["touchpoint_policy"]
    assert choice.policy == NO_ACTION
    assert bundle.metadata["recommendation_policy"]["policy"] == NO_ACTION
    rec = TouchpointRecommender.from_bundle(bundle).recommend(log, lookback="90D")
    assert len(rec) > 100
    assert rec["recommended_touchpoint"].isna().all()
    eligible = rec["reason"].str.startswith("no allowed touchpoint (")
    assert eligible.any()
    assert rec.loc[eligible, "reason"].str.contains(choice.reason, regex=False).all()


def test_recommendations_carry_interval_evidence_and_uncertainty(lifecycle_bundle):
    from cjml.recommend import TouchpointRecommender

    bundle, log = lifecycle_bundle
    rec = TouchpointRecommender.from_bundle(bundle, method="dr-point").recommend(
        log, lookback="90D", top_k=2
    )
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
