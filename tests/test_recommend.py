"""The touchpoint recommender: business rules, the response model, rankings and reasons."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml import recommend as recommend_module
from cjml.datasets import load_sample
from cjml.features._windows import anchored_windows
from cjml.i18n import label_text
from cjml.recommend import (
    ContactCap,
    RecommendationRules,
    RulesError,
    TouchpointRecommender,
    TouchpointResponseModel,
    _text_column,
    fit_touchpoint_response,
)

JM = cjml.JourneyMap.default()


@pytest.fixture(scope="module")
def events():
    return load_sample()


@pytest.fixture(scope="module")
def log(events):
    return cjml.read_events(events)


@pytest.fixture(scope="module")
def bundle(log):
    bundle, _ = cjml.train(log, n_cutoffs=4, step="15D", holdout=False)
    return bundle


#: The sample is too small for any policy to beat the safe default beyond noise, so the bundle's
#: own policy ("auto") often recommends nothing or one touchpoint for everyone; the tests of
#: ranking, rules, caps and budgets ask for the per-customer best ("dr-point") so that there are
#: recommendations to check. "auto" is tested on its own below.
DR_POINT = "dr-point"
#: The sample has amounts, so its bundle has a value model and "auto" ranks by value saved
#: (tests/test_score_value.py): these tests rank by the expected reduction.
BY_REDUCTION = {"rank_by": "reduction"}


@pytest.fixture(scope="module")
def recommended(bundle, log):
    return TouchpointRecommender.from_bundle(bundle, method=DR_POINT, rules=BY_REDUCTION).recommend(
        log
    )


# ---------------------------------------------------------------------- rules
def test_rules_from_toml_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(
        'exclude = ["referral_invite"]\nmin_risk = 0.2\nbudget = 500\n'
        'rank_by = "reduction"\n\n[caps]\nemail = { max = 2, days = 7 }\n'
        "any = { max = 4, days = 30 }\n\n[costs]\nconsultation = 25.0\n"
    )
    rules = RecommendationRules.from_file(path)
    assert rules == RecommendationRules(
        exclude=("referral_invite",),
        caps=(ContactCap("email", 2, 7), ContactCap("any", 4, 30)),
        min_risk=0.2,
        budget=500.0,
        costs={"consultation": 25.0},
        rank_by="reduction",
    )
    rules.check(JM)
    assert rules.unit_costs(JM)["consultation"] == 25.0
    assert rules.unit_costs(JM)["email"] == JM["email"].cost
    assert not rules.ranks_by_cost
    assert RecommendationRules(costs={"email": 1.0}).ranks_by_cost  # "auto" with costs given


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"exclude": ["emial"]}, "'emial' is not in the journey map.*Did you mean 'email'"),
        ({"exclude": ["purchase"]}, "'purchase' is not actionable"),
        ({"caps": {"email": {"max": 2}}}, "must give exactly 'max' and 'days'"),
        ({"caps": {"email": {"max": -1, "days": 7}}}, "whole number of contacts"),
        ({"caps": {"email": {"max": 1, "days": 0}}}, "more than 0 days"),
        ({"min_risk": 1.5}, "min_risk must be a probability"),
        ({"budget": -3}, "budget must be a non-negative amount"),
        ({"rank_by": "reductoin"}, "rank_by must be one of.*Did you mean 'reduction'"),
        ({"costs": {"email": "cheap"}}, "cost of 'email' must be a number, got 'cheap'"),
        ({"costs": {"email": -1.0}}, "cost of 'email' must be a non-negative number"),
        ({"mnimum_risk": 0.2}, "Unknown rule 'mnimum_risk'"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(spec, message):
    with pytest.raises(RulesError, match=message):
        RecommendationRules.from_dict(spec).check(JM)


def test_a_budget_needs_every_cost():
    jm = cjml.JourneyMap.from_dict(
        {
            **JM.to_dict(),
            "touchpoints": {
                **JM.to_dict()["touchpoints"],
                "email": {**JM.to_dict()["touchpoints"]["email"], "cost": None},
            },
        }
    )
    with pytest.raises(RulesError, match=r"unknown for \['email'\].*\[costs\]"):
        RecommendationRules(budget=10.0).check(jm)
    RecommendationRules(budget=10.0, costs={"email": 0.1}).check(jm)


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd (a shell's <(...))")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('exclude = ["email"]\nmin_risk = 0.3\n', None),
        ("garbage {", "is not valid TOML"),
    ],
)
def test_rules_through_a_pipe_are_read_not_silently_the_defaults(text, expected):
    read, write = os.pipe()  # what `cjml recommend ... --rules <(...)` passes: /dev/fd/N
    os.write(write, text.encode())
    os.close(write)
    try:
        if expected is None:
            rules = RecommendationRules.from_file(f"/dev/fd/{read}")
            assert rules.exclude == ("email",) and rules.min_risk == 0.3
        else:
            with pytest.raises(RulesError, match=expected):
                RecommendationRules.from_file(f"/dev/fd/{read}")
    finally:
        os.close(read)


def test_rules_file_errors(tmp_path):
    with pytest.raises(
        RulesError,
        match=r"Cannot read the rules file .*missing.toml': no such "
        "file",
    ):
        RecommendationRules.from_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("exclude = [\n")
    with pytest.raises(RulesError, match="not valid TOML"):
        RecommendationRules.from_file(bad)


# ---------------------------------------------------------------------- response model
def _synthetic(n=6000, seed=0):
    """Two segments; touchpoint "a" helps segment 0, "b" helps segment 1, "c" does nothing."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, 2, n).astype(float)
    arm = rng.choice(np.array(["a", "b", "c", None], dtype=object), n)
    logit = np.full(n, 0.0)
    logit -= np.where((arm == "a") & (seg == 0), 1.0, 0.0)
    logit -= np.where((arm == "b") & (seg == 1), 1.0, 0.0)
    logit += np.where((arm == "a") & (seg == 1), 0.5, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"attribute_segment": seg, "current_stage": np.zeros(n)})
    return X, y, arm


def test_response_model_recovers_effects_that_differ_by_segment():
    X, y, arm = _synthetic()
    model = TouchpointResponseModel().fit(X, y, touchpoint=arm, base_risk=np.full(len(y), 0.5))
    assert model.touchpoints_ == ("a", "b", "c")
    probe = pd.DataFrame({"attribute_segment": [0.0, 1.0], "current_stage": [0.0, 0.0]})
    reference, treated = model.predict_risks(probe, np.full(2, 0.5))
    a, b, c = treated.T
    assert a[0] < c[0] and a[0] < b[0]  # segment 0: "a" is best
    assert b[1] < c[1] and b[1] < a[1]  # segment 1: "b" is best
    assert a[1] > reference[1]  # "a" hurts segment 1
    assert abs(c[0] - reference[0]) < 0.05  # "c" does nothing
    assert np.all((treated > 0) & (treated < 1))


def test_response_model_leaves_out_rarely_delivered_touchpoints():
    X, y, arm = _synthetic()
    arm = arm.copy()
    rare = np.flatnonzero(arm == "c")[10:]
    arm[rare] = None  # only 10 deliveries of "c" are left
    model = TouchpointResponseModel(min_deliveries=30).fit(
        X, y, touchpoint=arm, base_risk=np.full(len(y), 0.5)
    )
    assert model.touchpoints_ == ("a", "b")
    assert model.deliveries_["c"] == 10
    with pytest.raises(cjml.CjmlError, match="No actionable touchpoint was delivered at least"):
        TouchpointResponseModel(min_deliveries=10**6).fit(
            X, y, touchpoint=arm, base_risk=np.full(len(y), 0.5)
        )


def test_anchored_windows_see_exactly_the_events_before_each_anchor(log, bundle):
    fz = bundle.featurizer
    # one anchor per customer: their third event (the first at its timestamp)
    offsets = log.offsets
    third = offsets[:-1] + 2
    ok = third < offsets[1:]
    ts, cust = log.timestamps_ns, log.customer_codes
    anchors = third[ok]
    anchors = anchors[ts[anchors] != ts[anchors - 1]]
    got = fz._transform_windows(anchored_windows(log, anchors))
    cutoffs = pd.Series(
        pd.to_datetime(ts[anchors] - 1, utc=True), index=np.asarray(log.customer_ids)[cust[anchors]]
    )
    expected = fz.transform(log, cutoff=cutoffs)
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_names=False
    )
    assert (got["n_events"].to_numpy() == 2).all()


def test_response_model_never_sees_outcomes_after_its_end(events, bundle):
    """Events after ``end`` cannot change the response model (no leak from a test period)."""
    end = pd.Timestamp("2024-07-01", tz="UTC")
    extra = events[events["timestamp"] > end].copy()
    extra["timestamp"] = extra["timestamp"] + pd.Timedelta("3D")  # shift what comes later
    shifted = pd.concat([events[events["timestamp"] <= end], extra], ignore_index=True)
    kwargs = {"start": "2024-03-01", "end": end, "horizon": "30D"}
    a = fit_touchpoint_response(
        cjml.read_events(events), bundle.featurizer, bundle.models["churn"], **kwargs
    )
    b = fit_touchpoint_response(
        cjml.read_events(shifted), bundle.featurizer, bundle.models["churn"], **kwargs
    )
    np.testing.assert_allclose(a.coef_touchpoint_, b.coef_touchpoint_)
    assert a.deliveries_ == b.deliveries_


def test_train_stores_the_response_model(bundle):
    response = bundle.models["touchpoint_response"]
    assert set(response.touchpoints_) <= set(JM.actionable_touchpoints)
    assert "touchpoint_response" in bundle.metadata["params"]


def test_train_without_the_recommender_scores_but_refuses_to_recommend(log, bundle):
    lean, _ = cjml.train(log, n_cutoffs=4, step="15D", holdout=False, recommender=False)
    assert set(lean.models) == {"churn", "next_stage", "survival", "value"}
    assert not any(k.startswith("touchpoint_") for k in lean.models)
    # the same churn model as with the recommender: only the touchpoint models are skipped
    X = lean.featurizer.transform(log)
    np.testing.assert_array_equal(
        lean.models["churn"].predict_proba(X), bundle.models["churn"].predict_proba(X)
    )
    with pytest.raises(cjml.CjmlError, match="recommender=False"):
        TouchpointRecommender.from_bundle(lean)


# ---------------------------------------------------------------------- recommendations
def test_recommendations_are_eligible_ranked_and_consistent(recommended, log, bundle):
    out = recommended
    features = bundle.featurizer.transform(log)
    assert out.index.equals(features.index)
    columns = ["stage", "baseline_risk", "reach_probability", "value_if_retained", "expected_value"]
    for suffix in ("", "_2", "_3"):
        columns += [
            f"recommended_touchpoint{suffix}",
            f"expected_risk{suffix}",
            f"expected_risk_reduction{suffix}",
            f"expected_value_saved{suffix}",
            f"expected_risk_reduction_low{suffix}",
            f"expected_risk_reduction_high{suffix}",
            f"evidence{suffix}",
            f"evidence_source{suffix}",
            f"uncertain{suffix}",
            f"cost{suffix}",
        ]
    assert list(out.columns) == columns + ["reason"]
    risk = bundle.models["churn"].predict_proba(features[bundle.feature_names])[:, 1]
    np.testing.assert_allclose(out["baseline_risk"], risk)
    assert out["reach_probability"].between(0, 1).all()
    for suffix in ("", "_2", "_3"):
        tp = out[f"recommended_touchpoint{suffix}"]
        has = tp.notna()
        red = out[f"expected_risk_reduction{suffix}"]
        assert (red[has] > 0).all() and red[~has].isna().all()
        np.testing.assert_allclose(
            out["baseline_risk"][has] - red[has], out[f"expected_risk{suffix}"][has]
        )
        # every recommendation is deliverable in the customer's stage
        stage = out["stage"][has]
        assert all(t in JM.eligible_touchpoints(s) for t, s in zip(tp[has], stage, strict=True))
        assert (out.loc[has, f"cost{suffix}"] == [JM[t].cost for t in tp[has]]).all()
        # the interval holds the point estimate, and says whether the touchpoint surely helps
        low = out[f"expected_risk_reduction_low{suffix}"]
        high = out[f"expected_risk_reduction_high{suffix}"]
        known = has & low.notna()
        assert known.any()
        # (where the expected risk is clipped at 0 the interval is not: see
        # test_the_interval_is_clipped_with_the_estimate)
        clipped = out[f"expected_risk{suffix}"] <= 0
        assert ((low[known] <= red[known] + 1e-12) | clipped[known]).all()
        assert (red[known] <= high[known] + 1e-12).all()
        assert (out.loc[has, f"uncertain{suffix}"] == ~(low[has] > 0)).all()
        assert not out.loc[~has, f"uncertain{suffix}"].any()
        assert (out.loc[has, f"evidence{suffix}"] >= 0).all()
        assert low[~has].isna().all() and high[~has].isna().all()
    both = out["recommended_touchpoint_2"].notna()
    assert (out["expected_risk_reduction"][both] >= out["expected_risk_reduction_2"][both]).all()
    assert (out["recommended_touchpoint"][both] != out["recommended_touchpoint_2"][both]).all()
    aware = out["stage"] == "awareness"  # no actionable touchpoint there in the default map
    assert aware.any() and out.loc[aware, "recommended_touchpoint"].isna().all()
    assert (out.loc[aware, "reason"] == "no allowed touchpoint in the awareness stage").all()
    first = out["recommended_touchpoint"].notna()
    # one rounding rule: under half a point says so; otherwise from/to and the points agree
    tenths = (out["baseline_risk"] * 1000).round() - (out["expected_risk"] * 1000).round()
    small = tenths.abs() < 5  # the shown difference is under half a point
    big = first & ~small & (out["expected_risk_reduction"] > 0)
    assert out.loc[big, "reason"].str.contains(" lowers the drop-off risk from ").all()
    under = first & small & (out["expected_risk_reduction"] > 0)
    assert under.any()
    assert (
        out.loc[under, "reason"].str.contains(" lowers the drop-off risk by under 0.5 points").all()
    )
    shown = out.loc[first, "reason"].str.extract(r"from ([\d.]+)% to ([\d.]+)% \(([\d.]+) points")
    shown = shown.dropna().astype(float)
    assert len(shown) and np.allclose(shown[0] - shown[1], shown[2], atol=1e-9)
    assert (shown[2] >= 0.5).all()  # never "from 6.1% to 5.9% (0.2 points)"
    with_interval = first & out["expected_risk_reduction_low"].notna()
    assert (
        out.loc[with_interval, "reason"].str.contains(r"customers? in this stage received it").all()
    )
    unsure = first & out["uncertain"]
    assert (
        out.loc[unsure, "reason"].str.contains("uncertain: it may not help")
        == out.loc[unsure, "expected_risk_reduction_low"].notna()
    ).all()
    assert not out.loc[first & ~out["uncertain"], "reason"].str.contains("uncertain").any()
    assert out["recommended_touchpoint"].nunique() >= 3  # not one touchpoint for everyone


def test_effects_agree_with_the_recommendations(bundle, log, recommended):
    rec = TouchpointRecommender.from_bundle(bundle, method=DR_POINT)
    effects = rec.effects(log)
    assert set(effects.columns) == {
        "customer_id",
        "stage",
        "touchpoint",
        "baseline_risk",
        "expected_risk",
        "risk_reduction",
        "risk_reduction_low",
        "risk_reduction_high",
        "evidence",
        "reach_probability",
        "cost",
        "allowed",
        "blocked_by",
    }
    best = effects[effects["risk_reduction"] > 0].groupby("customer_id")["risk_reduction"].max()
    first = recommended["expected_risk_reduction"].dropna()
    np.testing.assert_allclose(best.reindex(first.index), first)
    pairs = effects.set_index(["customer_id", "touchpoint"])["risk_reduction"]
    chosen = recommended["recommended_touchpoint"].dropna()
    np.testing.assert_allclose(
        pairs.loc[list(zip(chosen.index, chosen, strict=True))], first[chosen.index]
    )
    assert effects["expected_risk"].between(0, 1).all()
    known = effects["risk_reduction_low"].notna()
    assert known.any()
    red = effects["risk_reduction"]
    clipped = effects["expected_risk"] <= 0  # see test_the_interval_is_clipped_with_the_estimate
    assert ((effects.loc[known, "risk_reduction_low"] <= red[known] + 1e-12) | clipped[known]).all()
    assert (red[known] <= effects.loc[known, "risk_reduction_high"] + 1e-12).all()
    # the recommendation carries the interval and evidence of its touchpoint's effect
    by_pair = effects.set_index(["customer_id", "touchpoint"])
    picked = by_pair.loc[list(zip(chosen.index, chosen, strict=True))]
    for got, want in (
        ("expected_risk_reduction_low", "risk_reduction_low"),
        ("expected_risk_reduction_high", "risk_reduction_high"),
        ("evidence", "evidence"),
    ):
        np.testing.assert_allclose(
            recommended.loc[chosen.index, got].to_numpy(dtype=float),
            picked[want].to_numpy(dtype=float),
        )


def test_the_interval_is_clipped_with_the_estimate(bundle, log):
    """A reduction cannot exceed the risk: nor can its interval hold only larger ones."""
    features = bundle.featurizer.transform(log)
    low_risk = np.full(len(features), 0.002)  # below most estimated effects
    rec = TouchpointRecommender.from_bundle(bundle, method=DR_POINT)
    effects = rec.effects(log, features=features, churn_risk=low_risk)
    known = effects["risk_reduction_low"].notna()
    assert known.any()
    red = effects.loc[known, "risk_reduction"]
    assert (red <= effects.loc[known, "baseline_risk"] + 1e-12).all()
    assert (effects.loc[known, "risk_reduction_low"] <= red + 1e-12).all()
    assert (red <= effects.loc[known, "risk_reduction_high"] + 1e-12).all()


def test_precomputed_features_and_risk_give_the_same_answer(bundle, log, recommended):
    features = bundle.featurizer.transform(log)
    risk = bundle.models["churn"].predict_proba(features[bundle.feature_names])[:, 1]
    out = TouchpointRecommender.from_bundle(bundle, method=DR_POINT, rules=BY_REDUCTION).recommend(
        log, features=features, churn_risk=risk
    )
    pd.testing.assert_frame_equal(out, recommended)


@pytest.mark.parametrize("lookback", [None, "30D"])
def test_a_large_log_recommended_in_parts_gives_the_same_table(
    bundle, log, recommended, monkeypatch, lookback
):
    """Parts of 150 customers (the sample has 938): each row depends on its customer's own
    history, so the table is the one computed at once, to the bit, in the same order. The
    default cutoff is the whole log's last event, not each part's."""
    import cjml.recommend as rec

    rec_default = TouchpointRecommender.from_bundle(bundle, method=DR_POINT, rules=BY_REDUCTION)
    whole = recommended if lookback is None else rec_default.recommend(log, lookback=lookback)
    calls = []
    real = rec.TouchpointRecommender._recommend_in_parts

    def counted(self, *args):
        calls.append(args)
        return real(self, *args)

    monkeypatch.setattr(rec, "RECOMMEND_PART_CUSTOMERS", 150)
    monkeypatch.setattr(rec.TouchpointRecommender, "_recommend_in_parts", counted)
    parts = rec_default.recommend(log, lookback=lookback)
    assert len(calls) == 1 and log.n_customers > 6 * 150
    pd.testing.assert_frame_equal(parts, whole)
    # a list, in its own order, with customers the events do not have
    ids = list(np.random.default_rng(0).permutation(np.asarray(log.customer_ids))[:400])
    listed = [*ids[:200], -3, *ids[200:], -7]
    with monkeypatch.context() as m:
        m.setattr(rec, "RECOMMEND_PART_CUSTOMERS", 10**9)
        at_once = rec_default.recommend(log, customers=listed, lookback=lookback)
    in_parts = rec_default.recommend(log, customers=listed, lookback=lookback)
    assert len(calls) == 2 and len(in_parts) == len(listed)
    pd.testing.assert_frame_equal(in_parts, at_once)
    # a budget ranks every customer against every other: applied to the parts' joined table,
    # it leaves out the customers it leaves out at once, by reduction or by value saved
    for rules in ({"budget": 200.0, **BY_REDUCTION}, {"budget": 5.0, "rank_by": "value_saved"}):
        budgeted = TouchpointRecommender.from_bundle(bundle, method=DR_POINT, rules=rules)
        for asked in (None, listed):
            with monkeypatch.context() as m:
                m.setattr(rec, "RECOMMEND_PART_CUSTOMERS", 10**9)
                at_once = budgeted.recommend(log, customers=asked, lookback=lookback)
            in_parts = budgeted.recommend(log, customers=asked, lookback=lookback)
            pd.testing.assert_frame_equal(in_parts, at_once)
            past = at_once["reason"].str.startswith("budget spent").to_numpy()
            served = at_once["recommended_touchpoint"].notna().to_numpy()
            assert past.sum() >= 10 and served.sum() >= 10  # the budget binds, and serves some
            assert at_once.loc[past, "cost_2"].isna().all()  # every rank emptied
    assert len(calls) == 6


def test_models_fed_one_converted_matrix_give_what_each_gives_from_the_frame(
    bundle, log, recommended
):
    # the recommender converts the features once for the churn, value and effects models
    features = bundle.featurizer.transform(log)[bundle.feature_names]
    risk = bundle.models["churn"].predict_proba(features)[:, 1]
    value = bundle.models["value"].predict(features)
    out = TouchpointRecommender.from_bundle(bundle, method=DR_POINT, rules=BY_REDUCTION).recommend(
        log, features=features, churn_risk=risk, value_if_retained=value
    )
    pd.testing.assert_frame_equal(out, recommended)


@settings(max_examples=50, deadline=None)
@given(
    labels=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True),
    data=st.data(),
)
def test_text_columns_are_the_column_pandas_makes_of_the_strings(labels, data):
    codes = np.asarray(
        data.draw(st.lists(st.integers(-1, len(labels) - 1), max_size=30)), dtype=np.int64
    )
    expected = pd.DataFrame(index=range(len(codes)))
    expected["x"] = np.asarray([labels[c] if c >= 0 else None for c in codes], dtype=object)
    got = pd.DataFrame(index=range(len(codes)))
    got["x"] = _text_column(labels, codes)
    pd.testing.assert_frame_equal(got, expected)


def test_text_columns_without_arrow_strings_are_objects_with_none(monkeypatch):
    monkeypatch.setattr(recommend_module, "_arrow_string_dtype", lambda: None)
    out = _text_column(["email", "call"], np.array([1, -1, 0]))
    assert out.dtype == object and out.tolist() == ["call", None, "email"]


def test_exclusions_and_contact_caps(bundle, log, events):
    cutoff = events["timestamp"].max()
    rules = {"exclude": ["live_chat"], "caps": {"email": {"max": 1, "days": 30}}}
    out = TouchpointRecommender.from_bundle(bundle, rules=rules, method=DR_POINT).recommend(log)
    chosen = out.filter(like="recommended_touchpoint")
    assert not (chosen == "live_chat").any().any()
    recent = events[
        (events["touchpoint"] == "email") & (events["timestamp"] > cutoff - pd.Timedelta("30D"))
    ]
    capped = out.index.isin(recent["customer_id"].unique())
    assert capped.any()
    assert not (chosen[capped] == "email").any().any()
    assert (chosen[~capped] == "email").any().any()  # the others can still get one
    effects = TouchpointRecommender.from_bundle(bundle, rules=rules, method=DR_POINT).effects(log)
    blocked = effects[effects["touchpoint"] == "live_chat"]
    assert (~blocked["allowed"]).all() and (blocked["blocked_by"] == "excluded by the rules").all()
    emails = effects[
        (effects["touchpoint"] == "email") & effects["customer_id"].isin(recent["customer_id"])
    ]
    assert (emails["blocked_by"] == "cap reached: 1 email in 30 days").all()


def test_a_customer_with_nothing_allowed_is_told_every_rule_that_ruled_them_out(bundle, log):
    rules = {
        "exclude": ["live_chat", "free_trial"],
        "caps": {"email": {"max": 1, "days": 30}, "any": {"max": 2, "days": 60}},
    }
    rec = TouchpointRecommender.from_bundle(bundle, rules=rules, method=DR_POINT)
    out = rec.recommend(log)
    est = rec._estimate(log, None, None, None)
    nothing = ~est.allowed.any(axis=1) & (est.blocked > 0).any(axis=1)
    assert nothing.sum() > 10
    names = [t.replace("_", " ") for t in bundle.journey_map.actionable_touchpoints]
    several = 0
    for i in np.flatnonzero(nothing):  # every distinct reason, once, in a stable order
        ruled: dict[str, list[str]] = {}
        for t in np.flatnonzero(est.blocked[i] > 0):
            ruled.setdefault(est.blocked_texts[est.blocked[i][t]], []).append(names[t])
        why = sorted(ruled)
        if len(why) > 1:  # each reason names its touchpoints, but the widest: "the others"
            several += 1
            most = max(why, key=lambda w: len(ruled[w]))
            why = [f"{', '.join(ruled[w])}: {w}" for w in why if w != most]
            why.append(f"the others: {most}")
        assert out["reason"].iloc[i] == f"no allowed touchpoint ({'; '.join(why)})"
    assert out["reason"][nothing].nunique() > 1 and several
    assert out["reason"][nothing].str.contains("live chat, free trial: excluded by the rules").any()


def test_minimum_risk_and_budget(bundle, log, recommended):
    out = TouchpointRecommender.from_bundle(
        bundle, rules={"min_risk": 0.5}, method=DR_POINT
    ).recommend(log)
    low = out["baseline_risk"] < 0.5
    assert low.any() and out.loc[low, "recommended_touchpoint"].isna().all()
    assert out.loc[low, "reason"].str.match(r"risk <?[\d.]+% is below the 50.0% threshold").all()

    costs = {t: JM[t].cost for t in JM.actionable_touchpoints}
    budget = 200.0
    out = TouchpointRecommender.from_bundle(
        bundle, rules={"budget": budget, "rank_by": "reduction"}, method=DR_POINT
    ).recommend(log)
    served = out["recommended_touchpoint"].notna()
    spent = out.loc[served, "recommended_touchpoint"].map(costs).sum()
    assert 0 < spent <= budget
    skipped = out["reason"] == "budget spent on customers with larger expected reductions"
    assert skipped.any()
    # those left out would have gained less than the least-served one
    unbudgeted = recommended["expected_risk_reduction"]
    assert (
        unbudgeted[skipped].max() <= out.loc[served, "expected_risk_reduction"].min() + 1e-12
        or spent + min(costs.values()) > budget
    )


def test_minimum_reduction(bundle, log, recommended):
    floor = float(recommended["expected_risk_reduction"].median())
    out = TouchpointRecommender.from_bundle(
        bundle, rules={**BY_REDUCTION, "min_reduction": floor}, method=DR_POINT
    ).recommend(log)
    for suffix in ("", "_2", "_3"):
        assert (out[f"expected_risk_reduction{suffix}"].dropna() > floor).all()
    dropped = recommended["recommended_touchpoint"].notna() & out["recommended_touchpoint"].isna()
    assert dropped.any()
    assert (
        out.loc[dropped, "reason"]
        .str.startswith("no allowed touchpoint is expected to lower the risk by more than")
        .all()
    )
    with pytest.raises(RulesError, match="min_reduction must be a probability"):
        RecommendationRules(min_reduction=2.0)


def test_the_floor_is_worded_as_set():
    from cjml.i18n import format_threshold_points, language

    # the default floor, 0.05 points, read "by more than under 0.5 points" before
    assert format_threshold_points(0.0005) == "0.05 points"
    assert format_threshold_points(0.005) == "0.5 points"
    assert format_threshold_points(0.02) == "2 points"
    assert format_threshold_points(0.00123) == "0.12 points"
    with language("vi"):
        assert format_threshold_points(0.0005) == "0,05 điểm phần trăm"


def test_ranking_by_reduction_per_cost(bundle, log):
    out = TouchpointRecommender.from_bundle(
        bundle, rules={"rank_by": "reduction_per_cost"}, method=DR_POINT
    ).recommend(log, top_k=2)
    both = out["recommended_touchpoint_2"].notna()
    per_cost_1 = out["expected_risk_reduction"] / out["cost"]
    per_cost_2 = out["expected_risk_reduction_2"] / out["cost_2"]
    assert both.any() and (per_cost_1[both] >= per_cost_2[both]).all()


def test_listed_customers_without_events_are_reported(bundle, log):
    ids = list(log.customer_ids[:3]) + [10**9]
    out = TouchpointRecommender.from_bundle(bundle).recommend(log, customers=ids, top_k=1)
    assert list(out.index) == ids
    assert out.loc[10**9, "recommended_touchpoint"] is None or pd.isna(
        out.loc[10**9, "recommended_touchpoint"]
    )
    assert out.loc[10**9, "reason"] == (
        "no event before the cutoff: nothing to base a recommendation on"
    )
    assert np.isnan(out.loc[10**9, "baseline_risk"])
    assert out.loc[ids[:3], "baseline_risk"].between(0, 1).all()


def test_s_learner_alternative_runs_on_candidate_rows(bundle, log):
    out = TouchpointRecommender.from_bundle(bundle, method="s-learner").recommend(log, top_k=1)
    has = out["recommended_touchpoint"].notna()
    assert has.any()
    assert all(
        t in JM.eligible_touchpoints(s)
        for t, s in zip(out.loc[has, "recommended_touchpoint"], out.loc[has, "stage"], strict=True)
    )


def test_s_learner_never_estimates_a_touchpoint_the_history_did_not_deliver(bundle, log):
    """The churn model never saw such a touchpoint: rescoring with it would measure only
    what any event now does. It is left out, with the reason."""
    deliveries = bundle.metadata["recommender"]["deliveries"]
    assert set(deliveries) == set(JM.actionable_touchpoints)
    last_cutoff = max(pd.Timestamp(c) for c in bundle.metadata["train_cutoffs"])
    frame = log.frame
    emails = (frame["touchpoint"] == "email") & (frame["timestamp"] <= last_cutoff)
    assert deliveries["email"] == int(emails.sum()) > 30  # the history up to the last cutoff
    unseen = dict(deliveries, email=0, live_chat=29)
    recommender = TouchpointRecommender(
        bundle.models["churn"],
        bundle.featurizer,
        bundle.journey_map,
        method="s-learner",
        deliveries=unseen,
    )
    out = recommender.recommend(log, top_k=3)
    ranked = out.filter(like="recommended_touchpoint").stack()
    assert len(ranked) and not ranked.isin(["email", "live_chat"]).any()
    effects = recommender.effects(log)
    assert not effects["touchpoint"].isin(["email", "live_chat"]).any()  # no estimate
    assert effects["expected_risk"].notna().all() and len(effects)
    # every touchpoint delivered often enough: email is estimated again
    full = TouchpointRecommender.from_bundle(bundle, method="s-learner").effects(log)
    assert (full["touchpoint"] == "email").any()


def test_more_ranks_than_actionable_touchpoints_leave_the_last_ranks_empty(bundle, log):
    n = len(bundle.journey_map.actionable_touchpoints)
    asked = TouchpointRecommender.from_bundle(bundle, method="s-learner")
    out = asked.recommend(log, top_k=n + 2)
    fewer = asked.recommend(log, top_k=n)
    assert f"recommended_touchpoint_{n + 2}" in out.columns
    for k in (n + 1, n + 2):  # nothing to rank there: empty, never a repeated touchpoint
        assert out[f"recommended_touchpoint_{k}"].isna().all()
        assert out[f"expected_risk_reduction_{k}"].isna().all()
        assert (out[f"evidence_{k}"] == -1).all()
    pd.testing.assert_frame_equal(out[fewer.columns.drop("reason")], fewer.drop(columns="reason"))


def test_bad_arguments(bundle, log):
    with pytest.raises(cjml.CjmlError, match="top_k must be a whole number of at least 1"):
        TouchpointRecommender.from_bundle(bundle).recommend(log, top_k=0)
    with pytest.raises(
        cjml.CjmlError,
        match=r"method must be one of \[.*'dr-point'.*\], "
        r"got 'magic'",
    ):
        TouchpointRecommender.from_bundle(bundle, method="magic").recommend(log)
    with pytest.raises(cjml.CjmlError, match="Did you mean 'dr-point'"):
        TouchpointRecommender.from_bundle(bundle, method="dr_point").recommend(log)
    # a bundle of a cjml older than the response model: nothing to recommend with
    oldest = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models={k: v for k, v in bundle.models.items() if not k.startswith("touchpoint_")},
        metadata=bundle.metadata,
    )
    with pytest.raises(cjml.CjmlError, match="no touchpoint effects.*Retrain"):
        TouchpointRecommender.from_bundle(oldest)
    without_effects = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models={
            k: v
            for k, v in bundle.models.items()
            if k not in ("touchpoint_effects", "touchpoint_policy")
        },
        metadata=bundle.metadata,
    )
    with pytest.raises(cjml.CjmlError, match="method='dr-point' needs the doubly robust"):
        TouchpointRecommender.from_bundle(without_effects, method="dr-point").recommend(log)


def test_a_bundle_without_effects_still_recommends_with_its_response_model(bundle, log):
    """A bundle of the previous cjml (response model, no effects nor policy): "auto" is the
    response model."""
    models = {
        k: v
        for k, v in bundle.models.items()
        if k not in ("touchpoint_effects", "touchpoint_policy")
    }
    previous = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models=models,
        metadata=bundle.metadata,
    )
    auto = TouchpointRecommender.from_bundle(previous).recommend(log, top_k=1)
    assert auto["recommended_touchpoint"].notna().any()
    response = TouchpointRecommender.from_bundle(bundle, method="response").recommend(log, top_k=1)
    pd.testing.assert_series_equal(
        auto["recommended_touchpoint"], response["recommended_touchpoint"]
    )
    np.testing.assert_allclose(auto["expected_risk_reduction"], response["expected_risk_reduction"])


def test_a_single_touchpoint_policy_tells_customers_whose_stage_lacks_it(bundle, log):
    import dataclasses

    # live chat is offered in consideration, conversion and retention, not in loyalty
    assert "live_chat" not in JM.eligible_touchpoints("loyalty")
    policy = dataclasses.replace(
        bundle.models["touchpoint_policy"],
        policy="single",
        touchpoint="live_chat",
        stage_rule={},
        reason="live chat for everyone (test)",
    )
    kept = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models={**bundle.models, "touchpoint_policy": policy},
        metadata=bundle.metadata,
    )
    out = TouchpointRecommender.from_bundle(kept).recommend(log)
    lacking = "the journey map does not offer it in this customer's stage"
    loyal = out["stage"] == "loyalty"
    assert loyal.any() and out.loc[loyal, "recommended_touchpoint"].isna().all()
    assert (
        out.loc[loyal, "reason"]
        .str.contains(
            "the policy kept gives live chat to every eligible customer it is expected to help, "
            "and " + lacking,
            regex=False,
        )
        .all()
    )
    # not the policy's reasons: they are about who gets live chat, not these customers
    assert not out.loc[loyal, "reason"].str.contains(policy.reason, regex=False).any()
    assert not out.loc[~loyal, "reason"].str.contains(lacking, regex=False).any()


@pytest.mark.parametrize("kept", ["trained", "no action", "single", "dr-point"])
def test_auto_follows_the_policy_chosen_at_training(bundle, log, recommended, kept):
    import dataclasses

    policy = bundle.models["touchpoint_policy"]
    assert bundle.metadata["recommendation_policy"]["policy"] == policy.policy
    if kept == "single":
        policy = dataclasses.replace(
            policy,
            policy="single",
            touchpoint="email",
            stage_rule={},
            reason="email for everyone (test)",
        )
    elif kept != "trained":
        policy = dataclasses.replace(
            policy, policy=kept, touchpoint=None, stage_rule={}, reason=f"{kept} (test)"
        )
    models = {**bundle.models, "touchpoint_policy": policy}
    kept_bundle = cjml.ModelBundle(
        featurizer=bundle.featurizer,
        journey_map=bundle.journey_map,
        models=models,
        metadata=bundle.metadata,
    )
    out = TouchpointRecommender.from_bundle(kept_bundle).recommend(log)
    chosen = out.filter(like="recommended_touchpoint")
    eligible = out["stage"] != "awareness"
    if policy.policy == "no action":
        assert chosen.isna().all().all()
        assert out.loc[eligible, "reason"].str.contains(policy.reason, regex=False).all()
    elif policy.policy == "single":
        assert set(chosen.stack().dropna()) <= {policy.touchpoint}
        served = out["recommended_touchpoint"].notna()
        assert served.any()
        # the others: the policy's touchpoint is ruled out for them, would not help, or
        # would cost more than it keeps ("auto" ranks by value saved: the bundle has values)
        reasons = out.loc[eligible & ~served, "reason"]
        assert reasons.str.startswith(("no allowed touchpoint", "not worth the cost")).all()
        assert (
            reasons.str.contains(policy.reason, regex=False)
            | reasons.str.contains("is expected to lower the risk", regex=False)
            | reasons.str.contains("does not offer it in this customer's stage", regex=False)
            | reasons.str.startswith(
                f"not worth the cost: the best touchpoint, "
                f"{label_text(policy.touchpoint, lower=True)}, keeps about"
            )
        ).all()
        # every customer is estimated: the policy's value was measured on everyone eligible
        assert not out["reason"].str.contains("no overlap").any()
    elif policy.policy == "naive":
        served = out["recommended_touchpoint"].notna()
        rule = {JM.stages[int(s)]: t for s, t in policy.stage_rule.items()}
        assert (
            out.loc[served, "recommended_touchpoint"] == out.loc[served, "stage"].map(rule)
        ).all()
    else:  # "dr", "dr-point", "response": the method's own ranking
        same = TouchpointRecommender.from_bundle(bundle, method=policy.policy).recommend(log)
        pd.testing.assert_frame_equal(out.drop(columns="reason"), same.drop(columns="reason"))
        if policy.policy == DR_POINT:
            by_value = TouchpointRecommender.from_bundle(bundle, method=DR_POINT).recommend(log)
            pd.testing.assert_frame_equal(out, by_value)


# ---------------------------------------------------------------------- CLI
def test_cli_recommend_writes_actions_with_rules(bundle, events, tmp_path, capsys):
    from cjml.cli import main

    model = bundle.save(tmp_path / "model.cjml")
    events_path = tmp_path / "events.parquet"
    events.to_parquet(events_path)
    rules = tmp_path / "rules.toml"
    rules.write_text('exclude = ["live_chat"]\n[caps]\nemail = { max = 1, days = 7 }\n')
    out = tmp_path / "actions.csv"
    args = [
        "recommend",
        str(model),
        str(events_path),
        "--out",
        str(out),
        "--rules",
        str(rules),
        "--top-k",
        "2",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    actions = pd.read_csv(out)
    assert f"Wrote recommendations for {len(actions):,} customers" in printed
    assert "customers get a recommended touchpoint" in printed
    assert list(actions.columns[:4]) == [
        "customer_id",
        "stage",
        "baseline_risk",
        "reach_probability",
    ]
    assert "recommended_touchpoint_2" in actions and "recommended_touchpoint_3" not in actions
    assert not actions.filter(like="recommended_touchpoint").isin(["live_chat"]).any().any()
    # the population: customers with an event in the bundle's 90-day lookback
    last = events.groupby("customer_id")["timestamp"].max()
    active = last[last > events["timestamp"].max() - pd.Timedelta("90D")].index
    assert sorted(actions["customer_id"]) == sorted(active)
    # an existing output is refused before any work, and left as it was
    before = out.read_bytes()
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    # a customer list, with one unknown customer reported, not dropped
    listed = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": [int(active[0]), 10**9]}).to_csv(listed, index=False)
    assert (
        main(
            [
                "recommend",
                str(model),
                str(events_path),
                "--out",
                str(tmp_path / "l.csv"),
                "--customers",
                str(listed),
            ]
        )
        == 0
    )
    few = pd.read_csv(tmp_path / "l.csv")
    assert few["customer_id"].tolist() == [int(active[0]), 10**9]
    assert few["reason"].iloc[1].startswith("no event before the cutoff")
    # a bad rules file: one clear line, no traceback
    rules.write_text('exclude = ["emial"]\n')
    assert (
        main(
            [
                "recommend",
                str(model),
                str(events_path),
                "--out",
                str(tmp_path / "x.csv"),
                "--rules",
                str(rules),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "Did you mean 'email'" in err and "Traceback" not in err


def test_journey_map_lists_missing_touchpoints_from_the_bundle(bundle, log):
    report = cjml.journey_map(log, bundle)
    opp = report.opportunities
    assert opp is not None and len(opp)
    assert report.info["opportunities_from"] == "the model bundle"
    # only touchpoints the map allows in each stage, each with its mean reduction and use
    for stage, rows in opp.groupby("stage"):
        assert set(rows["touchpoint"]) <= set(JM.eligible_touchpoints(stage))
        assert rows["mean_risk_reduction"].is_monotonic_decreasing
    assert opp["current_use"].between(0, 1).all()
    assert "awareness" not in set(opp["stage"])  # nothing actionable there
    flagged = opp[opp["missing"]]
    assert ((flagged["mean_risk_reduction"] > 0) & (flagged["current_use"] < 0.1)).all()
