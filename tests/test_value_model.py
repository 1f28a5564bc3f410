"""The value model: spend labels, expected value and value at risk, training and bundles."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.datasets import make_journeys
from cjml.exceptions import SmallDataWarning
from cjml.value import ValueModel, value_targets

HORIZON = "30D"


@pytest.fixture(scope="module")
def world():
    data = make_journeys(700, n_days=180, random_state=11)
    log = cjml.read_events(data.events)
    cutoffs = cjml.rolling_cutoffs(log, horizon=HORIZON, n=6, step="7D")
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=cutoffs[-1])
    table = cjml.make_training_set(log, cutoffs, horizon=HORIZON, featurizer=featurizer)
    targets = value_targets(log, cutoffs, horizon=HORIZON)
    table = table.join(targets, on=["cutoff", "customer_id"])
    names = list(featurizer.feature_names_out_)
    return {"data": data, "log": log, "cutoffs": cutoffs, "table": table, "names": names}


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


def test_the_value_ranks_customers_by_their_actual_spend(world, fitted):
    table = world["table"]
    last = table["cutoff"] == table["cutoff"].max()
    X = table.loc[last, world["names"]]
    predicted = fitted.predict(X)
    stayed = table.loc[last, "churn"].to_numpy() == 0
    spend = table.loc[last, "spend"].to_numpy()
    rho = pd.Series(predicted[stayed]).corr(pd.Series(spend[stayed]), method="spearman")
    assert rho > 0.2
    top = predicted[stayed] >= np.quantile(predicted[stayed], 0.9)
    assert spend[stayed][top].sum() / spend[stayed].sum() > 0.25  # 2.5 times the random share


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
