"""Explanations: contributions consistent with LightGBM, ranking, wording, multiclass."""

from __future__ import annotations

import copy
import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.datasets import load_sample
from cjml.explanations import (
    contributions,
    describe_feature,
    explain,
    feature_aliases,
    top_drivers_text,
)

PARAMS = {
    "n_estimators": 25,
    "num_leaves": 15,
    "learning_rate": 0.2,
    "min_child_samples": 10,
    "verbose": -1,
    "random_state": 0,
    "n_jobs": 1,
}


@pytest.fixture(scope="module")
def data():
    log = cjml.read_events(load_sample())
    featurizer = cjml.JourneyFeaturizer().fit(log)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train = cjml.make_training_set(log, ["2024-06-15", "2024-07-01"], featurizer=featurizer)
    features = list(featurizer.feature_names_out_)
    X = train[features].reset_index(drop=True)
    X.index = pd.Index(train["customer_id"].to_numpy(), name="customer_id")
    return featurizer, X, train["churn"].to_numpy(), train["next_stage"].astype(str).to_numpy()


@pytest.fixture(scope="module")
def churn(data):
    _, X, y, _ = data
    return lgb.LGBMClassifier(**PARAMS).fit(X, y)


@pytest.fixture(scope="module")
def stage(data):
    _, X, _, y = data
    return lgb.LGBMClassifier(**PARAMS).fit(X, y)


def _raw(model, X):
    return model.booster_.predict(X, raw_score=True)


# ------------------------------------------------------------------ contributions
@pytest.mark.parametrize("method", ["shap", "saabas"])
def test_contributions_add_up_to_the_raw_score(data, churn, method):
    _, X, _, _ = data
    c = contributions(churn, X, method=method)
    assert list(c.columns) == [*X.columns, "bias"]
    assert c.index.equals(X.index)
    np.testing.assert_allclose(c.sum(axis=1), _raw(churn, X), atol=1e-9)


def test_shap_contributions_are_lightgbms_pred_contrib(data, churn):
    _, X, _, _ = data
    expected = churn.booster_.predict(X, pred_contrib=True)
    np.testing.assert_allclose(contributions(churn, X).to_numpy(), expected, atol=1e-12)


def test_saabas_has_shaps_bias_and_mostly_its_leading_driver(data, churn):
    featurizer, X, _, _ = data
    shap = contributions(churn, X)
    path = contributions(churn, X, method="saabas")
    np.testing.assert_allclose(path["bias"], shap["bias"], atol=1e-9)
    a = explain(churn, X, feature_families=featurizer, top_n=1)
    b = explain(churn, X, feature_families=featurizer, top_n=1, method="saabas")
    same = a.set_index("row")["family"].eq(b.set_index("row")["family"].reindex(a["row"]))
    assert same.mean() > 0.8


def test_binary_class_zero_is_the_negated_explanation(data, churn):
    _, X, _, _ = data
    one = contributions(churn, X.iloc[:50])
    zero = contributions(churn, X.iloc[:50], class_index=0)
    np.testing.assert_allclose(zero.to_numpy(), -one.to_numpy())


@pytest.mark.parametrize("method", ["shap", "saabas"])
def test_multiclass_explains_each_rows_class(data, stage, method):
    _, X, _, _ = data
    raw = _raw(stage, X)
    K = raw.shape[1]
    per_row = np.arange(len(X)) % K
    c = contributions(stage, X, class_index=per_row, method=method)
    np.testing.assert_allclose(c.sum(axis=1), raw[np.arange(len(X)), per_row], atol=1e-9)
    # default: the predicted class
    c = contributions(stage, X, method=method)
    np.testing.assert_allclose(c.sum(axis=1), raw.max(axis=1), atol=1e-9)
    # a label of the wrapper's classes_, for all rows
    label = stage.classes_[2]
    c = contributions(stage, X, class_index=label, method=method)
    np.testing.assert_allclose(c.sum(axis=1), raw[:, 2], atol=1e-9)


def test_multiclass_explanation_names_its_class(data, stage):
    featurizer, X, _, _ = data
    e = explain(stage, X.iloc[:200], feature_families=featurizer)
    predicted = _raw(stage, X.iloc[:200]).argmax(axis=1)
    np.testing.assert_array_equal(e["class_index"], predicted[e["row"]])
    assert (e["class"] == stage.classes_[e["class_index"]]).all()


def test_a_plain_booster_works_like_the_wrapper(data, churn):
    featurizer, X, _, _ = data
    a = explain(churn, X.iloc[:100], feature_families=featurizer)
    b = explain(churn.booster_, X.iloc[:100], feature_families=featurizer)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------ ranking
@pytest.mark.parametrize("method", ["shap", "saabas"])
def test_drivers_are_the_families_with_the_largest_summed_contribution(data, churn, method):
    featurizer, X, _, _ = data
    e = explain(churn, X, feature_families=featurizer, top_n=3, method=method)
    c = contributions(churn, X, method=method).drop(columns="bias")
    family = pd.Series(featurizer.feature_families_)
    sums = c.T.groupby(family.reindex(c.columns).to_numpy()).sum().T  # rows x families
    assert list(e.columns) == [
        "row",
        "rank",
        "family",
        "contribution",
        "feature",
        "feature_contribution",
        "value",
        "text",
    ]
    # shapes: at most top_n per row, ranks 1..k in order, rows in order
    per_row = e.groupby("row")["rank"].agg(["count", "min", "max"])
    assert (per_row["count"] <= 3).all() and (per_row["min"] == 1).all()
    assert (per_row["max"] == per_row["count"]).all()
    assert e["row"].is_monotonic_increasing
    assert e.index.equals(X.index.take(e["row"]))
    rows = e["row"].to_numpy()
    # each driver's contribution is its family's sum; families ranked by it, all positive
    np.testing.assert_allclose(
        e["contribution"], sums.to_numpy()[rows, sums.columns.get_indexer(e["family"])]
    )
    assert (e["contribution"] > 0).all()
    assert (e.groupby("row")["contribution"].diff().dropna() <= 0).all()
    expected_top = sums.to_numpy().max(axis=1)
    np.testing.assert_allclose(
        e.loc[e["rank"] == 1, "contribution"], expected_top[e.loc[e["rank"] == 1, "row"]]
    )
    # the feature is the family's most contributing one, with its value and contribution
    cols = c.columns.get_indexer(e["feature"])
    np.testing.assert_allclose(e["feature_contribution"], c.to_numpy()[rows, cols])
    for fam, part in e.groupby("family", observed=True):
        members = [n for n, f in featurizer.feature_families_.items() if f == fam]
        best = c[members].to_numpy()[part["row"]].max(axis=1)
        np.testing.assert_allclose(part["feature_contribution"], best)
    np.testing.assert_array_equal(e["value"].to_numpy(), X.to_numpy()[rows, cols])
    assert (
        e["family"]
        == pd.Series(featurizer.feature_families_).reindex(e["feature"].astype(str)).to_numpy()
    ).all()


def test_a_fact_two_columns_copy_is_one_driver(data):
    featurizer, X, y, _ = data
    twin = X.assign(days_since_last_purchase=X["days_since_last_event"])  # a purchase-only log
    aliases = feature_aliases(twin)
    assert aliases["days_since_last_purchase"] == "days_since_last_event"
    assert "n_events" not in aliases  # not a copy of any earlier column here
    # feature sampling makes the trees use both copies, as cjml's models do
    model = lgb.LGBMClassifier(**PARAMS, colsample_bytree=0.5).fit(twin, y)
    plain = explain(model, twin, feature_families=featurizer, top_n=3)
    told = copy.deepcopy(featurizer)
    told.feature_aliases_ = aliases
    e = explain(model, twin, feature_families=told, top_n=3)
    pair = {"days_since_last_event", "days_since_last_purchase"}
    both = plain.groupby("row")["feature"].agg(lambda f: pair <= set(f.astype(str)))
    assert both.any()  # without the aliases some customers hear the fact twice
    # with them, nobody does; the stronger wording stays, the others move up a rank
    said = e.groupby("row")["feature"].agg(lambda f: len(pair & set(f.astype(str))))
    assert (said <= 1).all()
    per_row = e.groupby("row")["rank"].agg(["count", "min", "max"])
    assert (per_row["min"] == 1).all() and (per_row["max"] == per_row["count"]).all()
    for row, drivers in plain.groupby("row"):
        features = drivers["feature"].astype(str).tolist()
        if pair <= set(features):
            later = max(features.index(f) for f in pair)
            features.pop(later)
        assert e.loc[e["row"] == row, "feature"].astype(str).tolist() == features


def test_feature_aliases_skip_constants_and_match_missing_values():
    X = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 4.0],
            "b": [1.0, np.nan, 3.0, 4.0],
            "c": [1.0, 2.0, 3.0, 4.0],  # equal to a where both are given: not a copy
            "zero": [0.0] * 4,
            "also_zero": [0.0] * 4,
            "d": [4.0, 3.0, 1.0, np.nan],  # a's values in another order: same fingerprint
        }
    )
    assert feature_aliases(X) == {"b": "a"}


def test_min_contribution_and_top_n(data, churn):
    featurizer, X, _, _ = data
    e = explain(churn, X, feature_families=featurizer, top_n=2, min_contribution=0.1)
    assert (e["contribution"] > 0.1).all() and e["rank"].max() <= 2
    none = explain(churn, X, feature_families=featurizer, min_contribution=1e9)
    assert len(none) == 0 and list(none.columns) == list(e.columns)
    with pytest.raises(ValueError, match="top_n"):
        explain(churn, X, top_n=0)


def test_without_families_every_feature_is_its_own_driver(data, churn):
    _, X, _, _ = data
    e = explain(churn, X.iloc[:100], top_n=5)
    c = contributions(churn, X.iloc[:100]).drop(columns="bias")
    np.testing.assert_allclose(e["contribution"], e["feature_contribution"])
    np.testing.assert_allclose(
        e.loc[e["rank"] == 1, "contribution"],
        c.to_numpy().max(axis=1)[e.loc[e["rank"] == 1, "row"]],
    )
    assert e["family"].isna().all()


def test_columns_unknown_to_the_families_form_the_other_family(data):
    featurizer, X, y, _ = data
    flip = np.random.default_rng(0).random(len(y)) < 0.3  # informative, so the model uses it
    Xs = X.assign(segment=np.where(flip, 1 - y, y) * 2.0)
    model = lgb.LGBMClassifier(**PARAMS).fit(Xs, y)
    e = explain(model, Xs, feature_families=featurizer.feature_families_, top_n=8)
    seg = e[e["feature"] == "segment"]
    assert len(seg) and (seg["family"] == "other").all()
    assert set(seg["text"]) <= {"segment 0", "segment 2"}


def test_columns_are_matched_by_name_and_missing_ones_refused(data, churn):
    featurizer, X, _, _ = data
    a = explain(churn, X.iloc[:50], feature_families=featurizer)
    b = explain(churn, X.iloc[:50, ::-1], feature_families=featurizer)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="lacks 1 of the model's features"):
        explain(churn, X.iloc[:50].drop(columns="n_events"))
    with pytest.raises(ValueError, match="method"):
        explain(churn, X.iloc[:50], method="lime")


def test_explanations_are_deterministic(data, stage):
    featurizer, X, _, _ = data
    for method in ("shap", "saabas"):
        a = explain(stage, X, feature_families=featurizer, method=method)
        b = explain(stage, X, feature_families=featurizer, method=method)
        pd.testing.assert_frame_equal(a, b)


def test_chunks_do_not_change_the_result(data, churn, monkeypatch):
    featurizer, X, _, _ = data
    whole = explain(churn, X, feature_families=featurizer, method="saabas")
    monkeypatch.setattr("cjml.explanations.CHUNK_ROWS", 97)
    pd.testing.assert_frame_equal(
        whole, explain(churn, X, feature_families=featurizer, method="saabas")
    )


# ------------------------------------------------------------------ text
def test_top_drivers_text_joins_phrases_strongest_first(data, churn):
    featurizer, X, _, _ = data
    e = explain(churn, X, feature_families=featurizer)
    line = top_drivers_text(e, X.index)
    assert line.index.equals(X.index) and line.name == "top_drivers"
    first = e["row"].iloc[0]
    assert line.iloc[first] == "; ".join(e.loc[e["row"] == first, "text"])
    only = top_drivers_text(e)
    assert len(only) == e["row"].nunique()
    empty = top_drivers_text(explain(churn, X.iloc[:5], min_contribution=1e9), X.index[:5])
    assert (empty == "").all() and len(empty) == 5
    with pytest.raises(ValueError, match="index"):
        top_drivers_text(e, X.index[:3])


def test_top_drivers_text_on_a_hand_made_table():
    e = pd.DataFrame(
        {
            "row": [0, 0, 2],
            "rank": [1, 2, 1],
            "text": ["no contact for 41 days", "3 unresolved support tickets", "no purchase yet"],
        }
    )
    line = top_drivers_text(e, pd.Index(["a", "b", "c"]), sep=" | ")
    assert line.tolist() == [
        "no contact for 41 days | 3 unresolved support tickets",
        "",
        "no purchase yet",
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("days_since_last_event", 41.3, "no contact for 41 days"),
        ("days_since_last_event", 1.2, "no contact for 1 day"),
        ("days_since_last_event", 0.2, "no contact for less than a day"),
        ("days_since_last_event", np.nan, "no events yet"),
        ("tickets_unresolved", 3.0, "3 unresolved support tickets"),
        ("tickets_unresolved", 1.0, "1 unresolved support ticket"),
        ("tickets_unresolved", 0.0, "no unresolved support tickets"),
        ("oldest_open_ticket_days", np.nan, "no open support ticket"),
        ("days_since_last_purchase", np.nan, "no purchase yet"),
        ("days_since_email", 12.0, "no email for 12 days"),
        ("days_since_follow_up_call", np.nan, "no follow up call yet"),
        ("events_last_30d", 0.0, "no events in the last 30 days"),
        ("events_last_7d", 1.0, "1 event in the last 7 days"),
        ("events_trend_30d", -4.0, "4 fewer events than in the 30 days before"),
        ("events_trend_30d", 1.0, "1 more event than in the 30 days before"),
        ("contacts_last_7d", 3.0, "3 business contacts in the last 7 days"),
        ("contacts_email_last_7d", 1.0, "1 email contact in the last 7 days"),
        ("count_ticket_resolved", 2.0, "2 ticket resolved events"),
        ("count_website_visit", 5.0, "5 website visit events"),
        ("count_website_visit", 1.0, "1 website visit event"),
        ("share_email", 0.25, "25% of events are email"),
        ("transition_website_visit__email", 2.0, "went from website visit to email 2 times"),
        ("transition_paid_ad__paid_ad", 0.0, "never went from paid ad to paid ad"),
        ("csat_mean", 2.25, "average CSAT 2.2"),
        ("csat_last", np.nan, "no CSAT answer yet"),
        ("nps_class_last", -1.0, "a detractor (last NPS 0-6)"),
        ("nps_trend", -2.0, "NPS down 2 points since the first answer"),
        ("total_amount", 12345.678, "spent 12,346 in all"),
        ("purchases_last_90d", 0.0, "no purchases in the last 90 days"),
        ("mean_days_between_purchases", np.nan, "fewer than 2 purchases"),
        ("last_touchpoint_1", 7.0, "an unnamed touchpoint as the last"),
        ("last_touchpoint_2", np.nan, "fewer than 2 touchpoints yet"),
        ("current_stage", 3.0, "in stage 3"),
        ("attribute_segment", 4.0, "segment 4"),
        # ratios: "0.0 times" reads as none, "1.0 times" as a measurement
        ("last_gap_vs_mean", 2.34, "last gap 2.3 times the usual gap"),
        ("last_gap_vs_mean", 0.04, "last gap far shorter than the usual gap"),
        ("last_gap_vs_mean", 0.06, "last gap 0.1 times the usual gap"),
        ("silence_vs_mean_gap", 1.04, "silent for about the usual gap between events"),
        ("silence_vs_longest_gap", 0.0, "silent for a small part of the longest gap so far"),
        ("silence_vs_longest_gap", 3.0, "silent for 3.0 times the longest gap so far"),
    ],
)
def test_describe_feature(name, value, expected):
    assert describe_feature(name, value) == expected


def test_describe_feature_names_codes_with_a_featurizer(data):
    featurizer = data[0]
    touchpoints = featurizer.families_[3].touchpoints_  # the sequence family's vocabulary
    code = touchpoints.index("email")
    assert (
        describe_feature("last_touchpoint_1", code, featurizer=featurizer)
        == "email as the last touchpoint"
    )
    assert (
        describe_feature("last_touchpoint_3", code, featurizer=featurizer)
        == "email 2 touchpoints before the last"
    )
    assert (
        describe_feature("last_touchpoint_2", code, featurizer=featurizer)
        == "email just before the last touchpoint"
    )
    assert (
        describe_feature("last_touchpoint_3", len(touchpoints), featurizer=featurizer)
        == "a touchpoint new since fitting 2 touchpoints before the last"
    )
    assert describe_feature("current_stage", 3, featurizer=featurizer) == "in the retention stage"
    assert (
        describe_feature("furthest_stage", 2, featurizer=featurizer)
        == "got as far as the conversion stage"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2.0, "segment 2"),
        (0.12345, "segment 0.12"),
        (12.345, "segment 12.3"),
        (123456.7, "segment 123,457"),
        (np.nan, "segment unknown"),
        ("gold", "segment gold"),
    ],
)
def test_unknown_features_fall_back_to_name_and_value(value, expected):
    assert describe_feature("segment", value) == expected
    assert describe_feature("support_score", value).startswith("support score ")


def test_drivers_speak_vietnamese_with_the_locale_numbers():
    from cjml.i18n import language

    with language("vi"):
        tickets = describe_feature("tickets_unresolved", 3.0)
        assert tickets == "3 yêu cầu hỗ trợ chưa được giải quyết"
        assert describe_feature("days_since_last_purchase", 41.2) == "không mua hàng trong 41 ngày"
        assert describe_feature("total_amount", 12345.678) == "đã chi tổng cộng 12.346"
    # the wording is cached per language
    assert describe_feature("total_amount", 12345.678) == "spent 12,346 in all"


def test_every_default_feature_has_its_own_wording(data):
    featurizer, X, _, _ = data
    for name in featurizer.feature_names_out_:
        for value in (0.0, 1.0, 2.5, np.nan):
            text = describe_feature(name, value, featurizer=featurizer)
            assert text and not text.startswith(f"{name} ="), (name, value, text)


def test_explanation_text_is_the_wording_of_the_value(data, churn):
    featurizer, X, _, _ = data
    e = explain(churn, X.iloc[:300], feature_families=featurizer)
    for _, d in e.sample(40, random_state=0).iterrows():
        assert d["text"] == describe_feature(d["feature"], d["value"], featurizer=featurizer)
