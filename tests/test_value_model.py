"""The value model: spend labels, expected value and value at risk, training and bundles."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

import cjml
from cjml.datasets import make_journeys
from cjml.exceptions import SmallDataWarning
from cjml.value import ValueModel, value_targets
from cjml.value._model import _calibrate, _fit_calibration

HORIZON = "30D"


@pytest.fixture(scope="module")
def world():
    data = make_journeys(700, n_days=180, truth_cutoffs="last", random_state=11)
    log = cjml.read_events(data.events)
    test = pd.Timestamp(data.params["truth_cutoffs"][0], tz="UTC")
    cutoffs = cjml.rolling_cutoffs(
        log, horizon=HORIZON, n=6, step="7D", last=test - pd.Timedelta(HORIZON)
    )
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=cutoffs[-1])
    both = cjml.make_training_set(log, [*cutoffs, test], horizon=HORIZON, featurizer=featurizer)
    targets = value_targets(log, [*cutoffs, test], horizon=HORIZON)
    both = both.join(targets, on=["cutoff", "customer_id"])
    names = list(featurizer.feature_names_out_)
    return {
        "data": data,
        "log": log,
        "cutoffs": cutoffs,
        "table": both[both["cutoff"] < test],
        "test": both[both["cutoff"] == test],
        "names": names,
    }


@pytest.fixture(scope="module")
def fitted(world):
    table, names = world["table"], world["names"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)
        model = ValueModel(n_jobs=1, n_bootstrap=4).fit(
            table[names], table["spend"], retained=1 - table["churn"], cutoffs=table["cutoff"]
        )
    return model


# ------------------------------------------------------------------ targets
def test_value_targets_sum_the_window_amounts_on_the_label_population(world):
    log, cutoffs = world["log"], world["cutoffs"]
    targets = value_targets(log, cutoffs[-1], horizon=HORIZON)
    labels = cjml.make_labels(log, cutoffs[-1], horizon=HORIZON)
    assert targets.index.equals(labels.index)
    events = world["data"].events
    c = cutoffs[-1]
    window = events[(events["timestamp"] > c) & (events["timestamp"] <= c + pd.Timedelta(HORIZON))]
    expected = window.groupby("customer_id")["amount"].sum()
    got = targets.xs(c, level="cutoff")["spend"]
    np.testing.assert_allclose(got.to_numpy(), expected.reindex(got.index).fillna(0.0).to_numpy())
    assert set(targets["bought"].unique()) <= {0, 1}
    assert (targets["bought"].astype(bool) == (targets["spend"] > 0)).all()
    # a customer who bought cannot have churned: buying is an event in the window
    assert not (targets["bought"].astype(bool) & labels["churn"].astype(bool)).any()


def test_margin_rate_scales_the_targets_and_a_margin_column_is_read_per_event(world):
    log, c = world["log"], world["cutoffs"][-1]
    revenue = value_targets(log, c, horizon=HORIZON)["spend"]
    margin = value_targets(log, c, horizon=HORIZON, margin=0.25)["spend"]
    np.testing.assert_allclose(margin.to_numpy(), 0.25 * revenue.to_numpy())
    events = world["data"].events.assign(rate=0.5)
    per_event = value_targets(cjml.read_events(events), c, horizon=HORIZON, margin="rate")
    np.testing.assert_allclose(per_event["spend"].to_numpy(), 0.5 * revenue.to_numpy())


@pytest.mark.parametrize(
    ("margin", "words"),
    [(-0.1, "at least 0"), ("nope", "'nope' is not a column"), (True, "a rate such as 0.3")],
)
def test_bad_margins_are_refused_with_the_fix(world, margin, words):
    with pytest.raises(ValueError, match=words):
        value_targets(world["log"], world["cutoffs"][-1], horizon=HORIZON, margin=margin)


def test_no_amount_column_is_a_clear_error(world):
    events = world["data"].events.drop(columns="amount")
    with pytest.raises(ValueError, match="no 'amount' column.*--no-value"):
        value_targets(cjml.read_events(events), world["cutoffs"][-1], horizon=HORIZON)


# ------------------------------------------------------------------ the model
def test_expected_value_and_value_at_risk_add_up_and_the_interval_holds_it(world, fitted):
    X = world["table"][world["names"]]
    risk = np.linspace(0, 1, len(X))
    out = fitted.predict_value(X, risk)
    assert list(out.columns) == [
        "value_if_retained",
        "expected_value",
        "expected_value_low",
        "expected_value_high",
        "value_at_risk",
    ]
    assert out.index.equals(X.index)
    total = out["expected_value"] + out["value_at_risk"]
    np.testing.assert_allclose(total, out["value_if_retained"])
    np.testing.assert_allclose(out["value_if_retained"], fitted.predict(X))
    assert (out["expected_value_low"] <= out["expected_value"] + 1e-9).all()
    assert (out["expected_value"] <= out["expected_value_high"] + 1e-9).all()
    assert (out["expected_value_high"] > out["expected_value_low"]).mean() > 0.5
    assert out["expected_value"].iloc[-1] == 0.0  # certain churn keeps nothing
    assert (out["value_if_retained"] >= 0).all()


def test_a_world_with_known_spend_recovers_the_ranking_and_the_interval_covers_it(world, fitted):
    table, test, names = world["table"], world["test"], world["names"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)
        churn = cjml.ChurnModel(horizon=HORIZON, n_jobs=1).fit(
            table[names], table["churn"], cutoffs=table["cutoff"]
        )
    out = fitted.predict_value(test[names], churn.predict_proba(test[names])[:, 1])
    truth = (
        world["data"]
        .truth.set_index("customer_id")["expected_value"]
        .reindex(test["customer_id"])
        .to_numpy()
    )
    predicted = out["expected_value"].to_numpy()
    rho = pd.Series(predicted).corr(pd.Series(truth), method="spearman")
    assert rho > 0.6  # 0.85 on this world
    top = predicted >= np.quantile(predicted, 0.9)
    assert truth[top].sum() / truth.sum() > 0.4  # four times a random tenth's share
    # the realised spend agrees: the top tenth by prediction spent far more than its share
    spend = test["spend"].to_numpy()
    assert spend[top].sum() / spend.sum() > 0.3
    inside = (truth >= out["expected_value_low"]) & (truth <= out["expected_value_high"])
    # an 80% interval, measured against the truth (0.81 on this world)
    assert 0.65 < inside.mean() < 0.95


# ------------------------------------------------------------------ calibration
def _bins(pred, true, n=5):
    """Mean prediction / mean truth in ``n`` bins of the prediction."""
    groups = np.array_split(np.argsort(pred, kind="stable"), n)
    return np.array([pred[g].mean() / true[g].mean() for g in groups])


def test_calibration_corrects_a_miscalibrated_prediction():
    rng = np.random.default_rng(3)
    f = rng.gamma(1.0, 50.0, size=3000)
    true = 0.3 * f**1.3  # shrunk to the mean: too high at the bottom, too low at the top
    spend = 10.0 * rng.poisson(true / 10.0)  # compound-Poisson-like window spend
    raw = _bins(f, true)
    assert raw.max() / raw.min() > 2
    calibration = _fit_calibration(f, spend)
    assert calibration is not None
    assert calibration["power"] == pytest.approx(1.3, abs=0.05)
    calibrated = _calibrate(f, calibration)
    fixed = _bins(calibrated, true)
    assert fixed.max() / fixed.min() < 1.06, fixed  # the shape is right (0.85-0.88 here)
    # the level stays the trees' (learned from every cutoff), not the held-out window's
    assert calibrated.sum() == pytest.approx(f.sum())
    # held-out noise alone is no reason to move: a calibrated prediction stays put
    assert _fit_calibration(f, 10.0 * rng.poisson(f / 10.0)) == {"power": 1.0, "scale": 1.0}
    # too few rows to judge: the identity
    assert _fit_calibration(f[:99], spend[:99]) is None
    np.testing.assert_array_equal(_calibrate(f, None), f)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(100, 1500),
    st.floats(0.1, 10.0),
    st.floats(0.0, 2.0),
    st.integers(0, 2**31 - 1),
)
def test_calibration_never_reorders_or_ties_customers(n, scale, power, seed):
    rng = np.random.default_rng(seed)
    f = rng.gamma(0.5, scale, size=n) * (rng.random(n) > 0.3)  # many zeros, a long tail
    spend = rng.gamma(0.3, 1.0, size=n) * f**power * (rng.random(n) > 0.5)
    calibration = _fit_calibration(f, spend)
    probe = np.sort(np.concatenate([f, rng.uniform(0, 3 * f.max() + 1, size=200)]))
    out = _calibrate(probe, calibration)
    assert np.isfinite(out).all() and (out >= 0).all()
    step = np.diff(probe) > 0
    assert (np.diff(out)[step] > 0).all()  # strictly increasing: no reordering, no ties
    assert _calibrate(np.zeros(1), calibration)[0] == 0.0


def test_the_fitted_model_predicts_the_calibrated_value_and_the_identities_hold(world):
    table, names = world["table"], world["names"]
    X = table[names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)
        fitted = ValueModel(calibrate=True, n_bootstrap=2, n_jobs=1).fit(
            X, table["spend"], retained=1 - table["churn"], cutoffs=table["cutoff"]
        )
    assert fitted.calibration_ is not None
    raw = np.maximum(fitted._value(X.to_numpy(dtype=float), fitted.boosters_), 0.0)
    v = fitted.predict(X)
    np.testing.assert_allclose(v, _calibrate(raw, fitted.calibration_))
    order = np.argsort(raw, kind="stable")
    assert (np.diff(v[order]) >= 0).all()  # the calibration keeps the trees' ranking
    risk = np.random.default_rng(0).uniform(0, 1, len(X))
    out = fitted.predict_value(X, risk)
    np.testing.assert_allclose(out["expected_value"] + out["value_at_risk"], v)
    np.testing.assert_allclose(out["expected_value"], (1 - risk) * v)
    assert (out["expected_value_low"] <= out["expected_value"] + 1e-9).all()
    assert (out["expected_value"] <= out["expected_value_high"] + 1e-9).all()


@pytest.mark.parametrize("method", ["two-part", "tweedie"])
def test_both_methods_predict_a_positive_varying_value(world, method):
    table, names = world["table"], world["names"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)
        model = ValueModel(method=method, n_bootstrap=0, n_jobs=1).fit(
            table[names], table["spend"], retained=1 - table["churn"], cutoffs=table["cutoff"]
        )
    v = model.predict(table[names])
    assert (v >= 0).all() and v.std() > 0
    retained = table["churn"] == 0
    # the level is learned: the mean prediction on the retained rows is near their mean spend
    assert v[retained].mean() == pytest.approx(table.loc[retained, "spend"].mean(), rel=0.25)


def test_bad_spend_and_parameters_are_refused(world):
    X = world["table"][world["names"]].iloc[:50]
    with pytest.raises(ValueError, match="at least 0"):
        ValueModel().fit(X, -np.ones(50))
    with pytest.raises(ValueError, match="one value per row"):
        ValueModel().fit(X, np.ones(49))
    with pytest.raises(ValueError, match="method must be one of"):
        ValueModel(method="magic").fit(X, np.ones(50))


# ------------------------------------------------------------------ train and bundles
@pytest.fixture(scope="module")
def trained(world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cjml.train(
            world["log"], n_cutoffs=6, recommender=False, n_jobs=1, value_params={"n_bootstrap": 2}
        )


def test_train_stores_the_value_model_and_reports_it(trained):
    bundle, report = trained
    assert isinstance(bundle.models["value"], ValueModel)
    assert bundle.metadata["value"]["fitted"] is True
    assert report.value is not None and report.value["n"] > 0


def test_the_value_model_round_trips_through_a_bundle(world, trained, tmp_path):
    bundle, _ = trained
    path = tmp_path / "model.cjml"
    bundle.save(path)
    loaded = cjml.ModelBundle.load(path)
    X = world["table"][world["names"]]
    risk = np.full(len(X), 0.2)
    pd.testing.assert_frame_equal(
        loaded.models["value"].predict_value(X, risk), bundle.models["value"].predict_value(X, risk)
    )


def test_train_without_amounts_has_no_value_model_and_says_why(world):
    events = world["data"].events.drop(columns="amount")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle, _ = cjml.train(events, n_cutoffs=6, recommender=False, n_jobs=1, holdout=False)
    assert "value" not in bundle.models
    assert bundle.metadata["value"] == {
        "fitted": False,
        "margin": None,
        "note": "the events have no positive amounts",
    }
    with pytest.raises(ValueError, match="value=True.*no positive 'amount'.*--no-value"):
        cjml.train(events, n_cutoffs=6, recommender=False, value=True)


def test_refunds_larger_than_a_windows_purchases_count_as_no_spend_and_say_so(world):
    """A refund of an earlier purchase can make a window's net spend negative (an Online
    Retail export's cancellations): training goes on, the value model and its evaluation
    count such a window as no spend, and a warning says how many rows."""
    events = world["data"].events
    buys = events[events["amount"].fillna(0) > 0]
    refunds = buys.iloc[::4].assign(
        timestamp=lambda f: f["timestamp"] + pd.Timedelta("20D"), amount=lambda f: -3 * f["amount"]
    )
    refunded = pd.concat([events, refunds], ignore_index=True)
    with pytest.warns(UserWarning) as caught:
        bundle, report = cjml.train(
            refunded, n_cutoffs=6, recommender=False, n_jobs=1, value_params={"n_bootstrap": 0}
        )
    said = [str(w.message) for w in caught if "negative net spend" in str(w.message)]
    assert len(said) == 2  # the training rows, then the held-out customers
    assert said[0].split(" training rows have")[0].split(" of ")[0].replace(",", "").isdigit()
    assert "count as no spend (0) in the value model and its evaluation" in said[0]
    assert " held-out customers have a negative net spend" in said[1]
    assert "value" in bundle.models and report.value["n"] > 0
    X = world["table"][world["names"]]
    assert (bundle.models["value"].predict(X) >= 0).all()


def test_margin_rate_scales_the_trained_values(world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"n_cutoffs": 6, "recommender": False, "n_jobs": 1, "holdout": False}
        revenue, _ = cjml.train(world["log"], value_params={"n_bootstrap": 0}, **kw)
        margin, _ = cjml.train(world["log"], margin=0.3, value_params={"n_bootstrap": 0}, **kw)
    X = world["table"][world["names"]]
    # the gamma and binary parts are scale-free in their ranking: the values scale by the rate
    np.testing.assert_allclose(
        margin.models["value"].predict(X), 0.3 * revenue.models["value"].predict(X), rtol=0.05
    )
    assert margin.metadata["value"]["margin"] == 0.3


def test_other_horizons_follow_each_customers_time_profile(world, fitted):
    X = world["test"][world["names"]]
    risk = np.full(len(X), 0.3)
    same = fitted.predict_value(X, risk, horizon=HORIZON)
    pd.testing.assert_frame_equal(same, fitted.predict_value(X, risk))
    ratio = fitted.horizon_ratio(X, "60D")
    assert fitted.time_profile_ is not None
    # twice the time: more spend, but no more than twice (customers may drop out meanwhile)
    assert (ratio > 1).all() and (ratio <= 2 + 1e-9).all() and ratio.std() > 0
    longer = fitted.predict_value(X, risk, horizon="60D")
    np.testing.assert_allclose(longer["value_if_retained"], ratio * same["value_if_retained"])
    total = longer["expected_value"] + longer["value_at_risk"]
    np.testing.assert_allclose(total, longer["value_if_retained"])
    linear = clone(fitted).set_params(time_profile="linear", n_bootstrap=0)
    table = world["table"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)
        linear.fit(
            table[world["names"]],
            table["spend"],
            retained=1 - table["churn"],
            cutoffs=table["cutoff"],
        )
    np.testing.assert_allclose(linear.horizon_ratio(X, "60D"), 2.0)


def test_a_few_hundred_customers_fit_and_say_what_was_adapted():
    data = make_journeys(200, n_days=120, random_state=5)
    log = cjml.read_events(data.events)
    cutoffs = cjml.rolling_cutoffs(log, horizon=HORIZON, n=3, step="7D")
    table = cjml.make_training_set(log, cutoffs, horizon=HORIZON)
    spend = value_targets(log, cutoffs, horizon=HORIZON)["spend"]
    names = [c for c in table.columns if c not in ("customer_id", "cutoff", "churn", "next_stage")]
    keys = pd.MultiIndex.from_arrays([table["cutoff"], table["customer_id"]])
    with pytest.warns(SmallDataWarning, match="ValueModel: .*min_child_samples lowered"):
        model = ValueModel(n_jobs=1).fit(
            table[names],
            spend.reindex(keys).to_numpy(),
            retained=1 - table["churn"],
            cutoffs=table["cutoff"],
        )
    values = model.predict(table[names])
    assert np.isfinite(values).all() and (values >= 0).all()


def test_the_report_sets_the_model_beside_the_btyd_baselines(trained):
    _, report = trained
    models = report.value["models"]
    assert list(models)[0] == "model"
    assert {"BG/NBD x Gamma-Gamma", "spend per week"} <= set(models)
    assert 0 <= models["model"]["normalised_gini"] <= 1
    assert report.value["info"]["horizon"] == "30 days"
    assert "value over the horizon" in report.to_text()


def test_cross_validation_reports_out_of_fold_values(world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, report = cjml.train(world["log"], cv=2, recommender=False, n_jobs=1)
    section = report.value
    assert section["info"]["cross-validated"] == "2 folds"
    assert section["n"] == len(report.y_churn)
    assert section["models"]["model"]["revenue_ratio"] > 0


def test_cli_margin_reads_a_rate_or_a_column_and_no_value_skips_the_model():
    from cjml.cli import build_parser

    parser = build_parser()
    base = ["train", "e.csv", "--out", "m.cjml"]
    assert parser.parse_args([*base, "--margin", "0.3"]).margin == 0.3
    assert parser.parse_args([*base, "--margin", "margin_rate"]).margin == "margin_rate"
    assert parser.parse_args([*base, "--no-value"]).no_value is True
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--margin", "-0.2"])


def test_evaluating_a_bundle_reports_its_value_model_as_train_did(world, trained):
    bundle, report = trained
    again = cjml.evaluate(world["log"], bundle)
    assert again.value["info"] == report.value["info"]
    for name, metrics in report.value["models"].items():
        assert again.value["models"][name] == pytest.approx(metrics)


def test_the_interval_of_a_very_skewed_value_starts_at_zero_not_at_1e_minus_239():
    from scipy.stats import gamma

    from cjml.value._model import _gamma_interval

    mean, cv2 = np.array([0.0019, 120.0, 0.0, 50.0]), np.array([300.0, 0.5, 2.0, 0.0])
    low, high = _gamma_interval(mean, cv2, 0.8)
    assert gamma.ppf(0.1, 1 / 300.0, scale=0.0019 * 300.0) < 1e-100  # what it would say
    assert low[0] == 0.0 and high[0] >= mean[0]
    # an ordinary spread keeps its quantiles; no mean and no spread give the mean itself
    assert low[1] == pytest.approx(gamma.ppf(0.1, 2.0, scale=60.0)) and 0 < low[1] < 120 < high[1]
    assert (low[2], high[2]) == (0.0, 0.0) and (low[3], high[3]) == (50.0, 50.0)
