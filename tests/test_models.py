"""ChurnModel, NextStageModel and the baselines: estimator behaviour, calibration, leakage."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import cjml
from cjml.datasets import load_sample
from cjml.evaluation import churn_metrics
from cjml.models import (
    ChurnModel,
    MarkovBaseline,
    NextStageModel,
    PriorBaseline,
    RFMBaseline,
    _time_split,
)

_WEIGHT_REASON = (
    "bagging, a held-out split for early stopping and LightGBM's row-count "
    "min_child_samples make weights differ from repeated rows"
)
_CLASS_WEIGHT_REASON = (
    "on these 50 noisy rows the trees predict no better than the class "
    "shares on the 10 held-out ones, so calibration keeps those shares, "
    "which class weights do not move (calibration undoes weights by design)"
)


@parametrize_with_checks(
    [
        ChurnModel(n_estimators=20, min_child_samples=2),
        NextStageModel(n_estimators=20, min_child_samples=2),
    ],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHT_REASON,
        "check_class_weight_classifiers": _CLASS_WEIGHT_REASON,
    },
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def sample_sets():
    """Training rows on 4 earlier cutoffs and test rows on the latest, from the sample."""
    log = cjml.read_events(load_sample())
    cutoffs = cjml.rolling_cutoffs(log, n=5, step="15D")
    test_cutoff = cutoffs[-1]
    train_cutoffs = [c for c in cutoffs if c + pd.Timedelta(days=30) <= test_cutoff]
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=train_cutoffs[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train = cjml.make_training_set(log, train_cutoffs, featurizer=featurizer)
        test = cjml.make_training_set(log, [test_cutoff], featurizer=featurizer)
    return log, featurizer, train, test


def _fit_churn(featurizer, train, **params):
    names = list(featurizer.feature_names_out_)
    params = {
        "horizon": "30D",
        "categorical_features": list(featurizer.categorical_features_),
        **params,
    }
    return ChurnModel(**params).fit(train[names], train["churn"], cutoffs=train["cutoff"])


def test_churn_model_beats_the_prior_and_reports_its_validation_slice(sample_sets):
    log, featurizer, train, test = sample_sets
    model = _fit_churn(featurizer, train)
    names = list(featurizer.feature_names_out_)
    risk = model.predict_proba(test[names])[:, 1]
    assert risk.shape == (len(test),)
    assert np.all((risk > 0) & (risk < 1))
    metrics = churn_metrics(test["churn"], risk)
    assert metrics["roc_auc"] > 0.95
    base_rate = np.full(len(test), train["churn"].mean())
    assert metrics["brier"] < 0.5 * churn_metrics(test["churn"], base_rate)["brier"]
    assert model.validation_.startswith("the latest cutoff")
    assert str(train["cutoff"].max().date()) in model.validation_
    np.testing.assert_array_equal(model.predict(test[names]), (risk > 0.5).astype(int))


def test_time_split_holds_out_the_latest_cutoff_and_purges_overlapping_windows():
    cut = pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-16"] * 2 + ["2024-01-31"] * 4, utc=True)
    fit_rows, held, how = _time_split(
        len(cut), cut, pd.Timedelta("30D"), 0.2, np.zeros(len(cut), dtype=int), 0
    )
    # 2024-01-16 + 30 days > 2024-01-31: its labels overlap the held-out window.
    assert list(fit_rows) == [0, 1, 2]
    assert list(held) == [5, 6, 7, 8]
    assert "2024-01-31" in how
    fit_rows, held, _ = _time_split(len(cut), cut, None, 0.2, np.zeros(len(cut), dtype=int), 0)
    assert list(fit_rows) == [0, 1, 2, 3, 4]


@given(
    n_customers=st.integers(2, 60),
    n_cutoffs=st.integers(2, 6),
    present=st.lists(st.booleans(), min_size=360, max_size=360),
    seed=st.integers(0, 3),
)
@settings(max_examples=60, deadline=None)
def test_a_horizon_longer_than_the_cutoffs_span_holds_out_customers(
    n_customers, n_cutoffs, present, seed
):
    # Weekly cutoffs, 90-day horizon: every earlier cutoff's label window overlaps the
    # latest's. With customer ids the held-out slice is the latest cutoff of some customers
    # and the inner fit the other customers' earlier rows: no customer on both sides.
    grid = pd.date_range("2024-01-01", periods=n_cutoffs, freq="7D", tz="UTC")
    rows = [
        (c, grid[k])
        for c in range(n_customers)
        for k in range(n_cutoffs)
        if present[c * 6 + k] or k == n_cutoffs - 1
    ]
    ids = np.array([f"c{c}" for c, _ in rows])
    cut = pd.DatetimeIndex([t for _, t in rows])
    codes = np.zeros(len(rows), dtype=int)
    fit_rows, held, how = _time_split(
        len(rows), cut, pd.Timedelta("90D"), 0.2, codes, seed, customer_ids=ids
    )
    n_held = round(n_customers * 0.2)
    if how.endswith("a random 20% of the customers"):
        assert str(grid[-1].date()) in how
        assert (cut[held] == grid[-1]).all() and (cut[fit_rows] < grid[-1]).all()
        assert len(set(ids[held])) == len(held) == n_held
        assert not set(ids[held]) & set(ids[fit_rows])
        # every earlier row of the other customers is fitted on
        others = ~np.isin(ids, ids[held]) & (cut < grid[-1])
        assert sorted(fit_rows) == list(np.flatnonzero(others))
    else:  # no customer to hold out, or none left with an earlier row: random rows
        with_earlier = len(set(ids[cut < grid[-1]]))
        assert n_held < 1 or n_held >= n_customers or with_earlier <= n_held
        assert how == ("none" if len(rows) < 40 else "a random 20% of rows")
    # without ids: random rows, as before, with a warning that says how to do better
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, _, how = _time_split(len(rows), cut, pd.Timedelta("90D"), 0.2, codes, seed)
    assert how == ("none" if len(rows) < 40 else "a random 20% of rows")
    said = [str(w.message) for w in caught]
    if len(rows) >= 40 and (cut < grid[-1]).any():  # several cutoffs, all overlapping
        assert len(said) == 1 and "Pass customer_ids=" in said[0]
        assert str(grid[-1].date()) in said[0]
    else:
        assert said == []


def test_fit_never_uses_rows_after_the_training_period(sample_sets):
    """The trees never learn from the held-out latest cutoff.

    Without refit, early stopping, calibration or the held-out choice of a start, the
    trees (and the RFM logistic they may start from) come from the earlier,
    non-overlapping cutoffs only: shuffling the latest cutoff's labels changes nothing.
    """
    _, featurizer, train, _ = sample_sets
    names = list(featurizer.feature_names_out_)
    latest = train["cutoff"] == train["cutoff"].max()
    shuffled = train.copy()
    rng = np.random.default_rng(0)
    shuffled.loc[latest, "churn"] = rng.permutation(shuffled.loc[latest, "churn"].to_numpy())
    for start in ("zero", "rfm"):
        params = {
            "refit": False,
            "early_stopping_rounds": 0,
            "n_estimators": 30,
            "calibration": None,
            "start": start,
        }
        a = _fit_churn(featurizer, train, **params)
        b = _fit_churn(featurizer, shuffled, **params)
        assert a.start_ == start
        np.testing.assert_array_equal(a.predict_proba(train[names]), b.predict_proba(train[names]))
    assert (
        a.n_train_rows_
        == (~latest & (train["cutoff"] + pd.Timedelta("30D") <= train["cutoff"].max())).sum()
    )


def test_calibration_repairs_distorted_probabilities_on_held_out_data(sample_sets):
    """Balanced class weights distort probabilities; calibration on the later slice fixes them."""
    _, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    y = test["churn"].to_numpy()
    raw = _fit_churn(featurizer, train, class_weight="balanced", calibration=None)
    cal = _fit_churn(featurizer, train, class_weight="balanced", calibration="sigmoid")
    iso = _fit_churn(featurizer, train, class_weight="balanced", calibration="isotonic")
    b_raw = churn_metrics(y, raw.predict_proba(test[names])[:, 1])["brier"]
    b_cal = churn_metrics(y, cal.predict_proba(test[names])[:, 1])["brier"]
    b_iso = churn_metrics(y, iso.predict_proba(test[names])[:, 1])["brier"]
    assert b_cal <= b_raw
    assert b_iso <= b_raw * 1.05
    # The default (no weights) keeps or improves Brier too.
    plain = _fit_churn(featurizer, train, calibration=None)
    default = _fit_churn(featurizer, train)
    assert (
        churn_metrics(y, default.predict_proba(test[names])[:, 1])["brier"]
        <= churn_metrics(y, plain.predict_proba(test[names])[:, 1])["brier"] * 1.02
    )


def test_class_weight_auto_balances_only_rare_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    rare = (rng.random(400) < 0.05).astype(int)
    common = (rng.random(400) < 0.4).astype(int)
    assert ChurnModel(n_estimators=5).fit(X, rare).class_weight_used_ == "balanced"
    assert ChurnModel(n_estimators=5).fit(X, common).class_weight_used_ is None


def test_next_stage_model_reports_every_journey_class_in_map_order(sample_sets):
    log, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    classes = [*log.journey_map.stages, "dropped", "never_seen"]
    model = NextStageModel(
        horizon="30D",
        classes=classes,
        conditional=False,
        categorical_features=list(featurizer.categorical_features_),
    )
    model.fit(train[names], train["next_stage"].astype(str), cutoffs=train["cutoff"])
    proba = model.predict_proba(test[names])
    assert list(model.classes_) == classes
    assert proba.shape == (len(test), len(classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba[:, -1] == 0.0)  # a class absent from training gets no probability
    assert 0.25 <= model.temperature_ <= 4.0
    accuracy = np.mean(model.predict(test[names]) == test["next_stage"].astype(str).to_numpy())
    majority = test["next_stage"].astype(str).value_counts(normalize=True).iloc[0]
    assert accuracy > majority
    with pytest.raises(ValueError, match="not in classes"):
        NextStageModel(classes=["a", "b"]).fit(np.zeros((4, 1)), ["a", "b", "c", "a"])


def test_conditional_next_stage_model_learns_where_stayers_go(sample_sets):
    log, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    classes = [*log.journey_map.stages, "dropped"]
    y = train["next_stage"].astype(str)
    model = NextStageModel(
        horizon="30D", classes=classes, categorical_features=list(featurizer.categorical_features_)
    )
    model.fit(train[names], y, cutoffs=train["cutoff"])
    assert model.conditional_
    # the trees never saw a dropped row and have no output for dropped
    assert model.n_train_rows_ + model.n_validation_rows_ <= int((y != "dropped").sum())
    stay_classes = sorted(set(y) - {"dropped"}, key=classes.index)
    assert model.booster_.num_model_per_iteration() == len(stay_classes)
    assert list(np.asarray(model.classes_)[model.observed_classes_]) == stay_classes
    with pytest.raises(ValueError, match="Attach one"):
        model.predict_proba(test[names])
    churn = _fit_churn(featurizer, train, n_estimators=60)
    risk = churn.predict_proba(test[names])[:, 1]
    proba = model.predict_proba(test[names], churn_risk=risk)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, classes.index("dropped")], np.clip(risk, 1e-6, 1 - 1e-6))
    # the stayers' shares: P(stage) / (1 - risk) is the trees' own conditional softmax
    own = np.exp(model._own_log_proba(test[names]))
    np.testing.assert_allclose(
        proba[:, :-1] / (1 - np.clip(risk, 1e-6, 1 - 1e-6))[:, None], own[:, :-1], rtol=1e-9
    )
    model.attach_churn_model(churn)
    np.testing.assert_allclose(model.predict_proba(test[names]), proba)
    with pytest.raises(ValueError, match="one value per row"):
        model.predict_proba(test[names], churn_risk=risk[:3])
    # its explanations name the stages the trees stand for; dropped has none of its own
    drivers = cjml.explain(
        model, test[names].iloc[:50], feature_families=featurizer, method="saabas"
    )
    assert set(drivers["class"]) <= set(stay_classes)
    assert (np.asarray(model.classes_)[drivers["class_index"]] == drivers["class"]).all()
    with pytest.raises(ValueError, match="no trees of its own"):
        cjml.explain(model, test[names].iloc[:5], class_index="dropped")
    stage_two = cjml.explain(model, test[names].iloc[:5], class_index=stay_classes[1])
    assert set(stage_two["class"]) <= {stay_classes[1]}
    # and conditional=False learns all classes, dropped included
    joint = NextStageModel(horizon="30D", classes=classes, conditional=False, n_estimators=20)
    joint.fit(train[names], y, cutoffs=train["cutoff"])
    assert (
        not joint.conditional_ and "dropped" in np.asarray(joint.classes_)[joint.observed_classes_]
    )
    with pytest.raises(ValueError, match="conditional=True needs"):
        NextStageModel(conditional=True).fit(np.zeros((4, 1)), ["a", "b", "a", "b"])
    with pytest.raises(ValueError, match="going to 1 stage"):
        NextStageModel(conditional=True).fit(np.zeros((4, 1)), ["a", "dropped", "a", "a"])
    # "auto" falls back to the joint model when the stayers all go to one stage
    auto = NextStageModel(n_estimators=5, min_child_samples=1).fit(
        np.arange(8.0).reshape(-1, 1), ["a", "dropped"] * 4
    )
    assert not auto.conditional_


def test_models_refuse_wrong_inputs_with_clear_messages(sample_sets):
    _, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    model = _fit_churn(featurizer, train, n_estimators=20)
    with pytest.raises(ValueError, match=r"lacks 1 feature column.*days_since_last_event"):
        model.predict_proba(test[names].drop(columns="days_since_last_event"))
    with pytest.raises(ValueError, match=r"must be numeric.*customer_id"):
        ChurnModel().fit(
            train[["customer_id", *names]].astype({"customer_id": str}), train["churn"]
        )
    with pytest.raises(ValueError, match="only one class"):
        ChurnModel().fit(train[names], np.ones(len(train)))
    # Columns are matched by name, whatever their order.
    np.testing.assert_array_equal(
        model.predict_proba(test[names[::-1]]), model.predict_proba(test[names])
    )


def test_fits_are_deterministic(sample_sets):
    _, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    a = _fit_churn(featurizer, train, n_estimators=50)
    b = clone(a).fit(train[names], train["churn"], cutoffs=train["cutoff"])
    np.testing.assert_array_equal(a.predict_proba(test[names]), b.predict_proba(test[names]))


def test_contributions_sum_to_the_raw_score(sample_sets):
    _, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    model = _fit_churn(featurizer, train, n_estimators=40, calibration=None)
    contrib = model.contributions(test[names])
    assert contrib.shape == (len(test), len(names) + 1)
    np.testing.assert_allclose(
        contrib.sum(axis=1), model.decision_function(test[names]), rtol=1e-5, atol=1e-5
    )


# --------------------------------------------------------------------------- baselines
def _toy_features():
    return pd.DataFrame(
        {"current_stage": [0, 0, 0, 1, 1, 1, 1, 2], "last_touchpoint_1": [5, 5, 6, 5, 5, 5, 7, 5]}
    )


def test_prior_baseline_predicts_the_training_frequencies():
    X = _toy_features()
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0])
    prior = PriorBaseline().fit(X, y)
    np.testing.assert_allclose(prior.predict_proba(X[:2]), [[5 / 8, 3 / 8]] * 2)
    assert list(prior.predict(X[:3])) == [0, 0, 0]


def test_markov_baseline_smooths_each_state_towards_its_coarser_state():
    X = _toy_features()
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0])
    m = MarkovBaseline(smoothing=2.0).fit(X, y)
    prior = 3 / 8
    stage0 = (2 + 2 * prior) / (3 + 2)  # stage 0: 2 churners out of 3
    state_0_5 = (2 + 2 * stage0) / (2 + 2)  # (stage 0, touchpoint 5): 2 of 2
    unseen_stage = prior  # stage 9 never seen: the prior
    p = m.predict_proba(pd.DataFrame({"current_stage": [0, 9], "last_touchpoint_1": [5, 5]}))
    np.testing.assert_allclose(p[:, 1], [state_0_5, unseen_stage])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="last_touchpoint_1"):
        m.predict_proba(X[["current_stage"]])


def test_rfm_baseline_ranks_recent_frequent_customers_as_staying():
    rng = np.random.default_rng(1)
    n = 600
    X = pd.DataFrame(
        {
            "days_since_last_event": rng.uniform(0, 120, n),
            "events_last_90d": rng.poisson(3, n).astype(float),
            "n_events": rng.poisson(6, n).astype(float),
            "total_amount": np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2, 50, n)),
        }
    )
    churn = (X["days_since_last_event"] + rng.normal(0, 15, n) > 60).astype(int)
    model = RFMBaseline().fit(X, churn)
    risk = model.predict_proba(X)[:, 1]
    assert churn_metrics(churn, risk)["roc_auc"] > 0.85
    assert list(model.classes_) == [0, 1]


def test_compiled_models_predict_exactly_what_lightgbm_predicts(sample_sets, tmp_path):
    pytest.importorskip("tl2cgen")
    log, featurizer, train, test = sample_sets
    names = list(featurizer.feature_names_out_)
    churn = _fit_churn(featurizer, train, n_estimators=60)
    stage = NextStageModel(
        horizon="30D",
        n_estimators=30,
        classes=[*log.journey_map.stages, "dropped"],
        categorical_features=list(featurizer.categorical_features_),
    )
    stage.fit(train[names], train["next_stage"].astype(str), cutoffs=train["cutoff"])
    stage.attach_churn_model(churn)
    before = churn.predict_proba(test[names]), stage.predict_proba(test[names])
    churn.compile(tmp_path)
    stage.compile(tmp_path)
    risk = churn.predict_proba(test[names])
    np.testing.assert_allclose(risk, before[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        stage.predict_proba(test[names], churn_risk=risk[:, 1]), before[1], rtol=1e-12, atol=1e-12
    )
    # The native library is not pickled; the copy predicts with LightGBM, identically.
    import pickle

    copy = pickle.loads(pickle.dumps(churn))
    assert getattr(copy, "_compiled", None) is None
    assert not hasattr(copy, "compiled_library_")  # a pickle never points at native code
    np.testing.assert_allclose(copy.predict_proba(test[names]), before[0], rtol=1e-12)
    # ...until told which library to load (what scoring's worker processes do)
    copy.load_compiled(churn.compiled_library_)
    assert copy._compiled is not None
    np.testing.assert_allclose(copy.predict_proba(test[names]), before[0], rtol=1e-12)
    # compiling the same trees again reuses the library (cached by the trees' sha256)
    library = churn.compiled_library_
    built = os.stat(library).st_mtime_ns
    assert churn.compile(tmp_path).compiled_library_ == library
    assert os.stat(library).st_mtime_ns == built
    assert stage.compiled_library_ != library


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["awareness", "retention", "churned", "b", "a"]), max_size=40))
def test_unique_labels_is_np_unique_with_its_inverse(labels):
    from cjml.models import _unique_labels

    y = np.asarray(labels, dtype=object)
    classes, codes = _unique_labels(y)
    want_classes, want_codes = np.unique(y.astype(str), return_inverse=True)
    assert classes.tolist() == want_classes.tolist()
    assert codes.tolist() == want_codes.tolist()


def test_utc_datetimes_keeps_instants_without_python_objects():
    from cjml._durations import utc_datetimes

    utc = pd.to_datetime(["2024-01-01 08:00", "2024-06-01 00:00"], utc=True)
    zoned = pd.Series(utc).dt.tz_convert("Asia/Tokyo")
    naive = np.array(["2024-01-01T08:00", "2024-06-01T00:00"], dtype="M8[s]")
    for values in (zoned, pd.DatetimeIndex(zoned), naive, list(naive)):
        out = utc_datetimes(values)
        assert out.dtype == np.dtype("M8[ns]")
        assert out.tolist() == utc_datetimes(naive).tolist()
    assert str(utc_datetimes(zoned)[0]) == "2024-01-01T08:00:00.000000000"
