"""The churn model's linear start: trees grown from an RFM logistic regression.

``ChurnModel(start="auto")`` grows the trees from zero and from an L2 logistic
regression on recency, frequency and amount, and keeps the start when its
held-out log loss is lower beyond one standard error; ``start="rfm"`` always
starts from it; the default, ``"zero"``, never does. These tests check the
choice on worlds where each should win, that the start is part of every
prediction and explanation, and that it survives a bundle and a compiled model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.explanations import contributions
from cjml.models import _RFM_COLUMNS, ChurnModel


def _world(n: int, *, signal: str, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature rows with the RFM columns and three others, and churn labels.

    ``signal="rfm"``: the log-odds are linear in log1p(recency) and log1p(frequency),
    which trees can only approximate by steps. ``signal="other"``: churn is a step
    in a column the RFM logistic does not read, and RFM carries nothing.
    """
    rng = np.random.default_rng(seed)
    recency = rng.exponential(40.0, n)
    frequency = rng.poisson(3.0, n) + 1
    X = pd.DataFrame(
        {
            "days_since_last_event": recency,
            "events_last_90d": np.minimum(frequency, rng.poisson(2.0, n)).astype(float),
            "n_events": frequency.astype(float),
            "total_amount": rng.gamma(2.0, 30.0, n),
            "other_a": rng.normal(size=n),
            "other_b": rng.uniform(size=n),
            "other_c": rng.integers(0, 5, n).astype(float),
        }
    )
    if signal == "rfm":
        logit = -3.0 + 1.2 * np.log1p(recency) - 1.0 * np.log1p(frequency)
    else:
        logit = np.where(X["other_b"] > 0.5, 2.0, -2.0)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_auto_starts_from_rfm_where_the_signal_is_linear_in_it():
    X, y = _world(800, signal="rfm")
    model = ChurnModel(n_jobs=1, start="auto").fit(X, y)
    assert model.start_ == "rfm"
    assert model.start_scores_["rfm"] < model.start_scores_["zero"]
    assert set(model.linear_start_) == {"columns", "mean", "scale", "coef", "intercept"}
    # the columns are found by name, in the RFM order
    names = list(X.columns)
    assert [names[i] for i in model.linear_start_["columns"]] == list(_RFM_COLUMNS)
    # recency raises churn and frequency lowers it, as in the world
    coef = model.linear_start_["coef"]
    assert coef[0] > 0 and coef[2] < 0


def test_auto_keeps_zero_where_rfm_says_nothing():
    X, y = _world(800, signal="other")
    model = ChurnModel(n_jobs=1, start="auto").fit(X, y)
    assert model.start_ == "zero"
    assert model.linear_start_ is None
    assert model.start_scores_["zero"] < model.start_scores_["rfm"]


def test_zero_the_default_is_the_model_without_a_start():
    X, y = _world(600, signal="rfm")
    assert ChurnModel().start == "zero"
    zero = ChurnModel(n_jobs=1).fit(X, y)
    assert zero.start_ == "zero" and zero.start_scores_ == {} and zero.linear_start_ is None
    raw = zero.booster_.predict(X.to_numpy(np.float32), raw_score=True)
    a, b = zero.calibrator_[1:] if isinstance(zero.calibrator_, tuple) else (1.0, 0.0)
    np.testing.assert_allclose(zero.decision_function(X), a * raw + b)


@pytest.mark.parametrize("method", ["shap", "saabas"])
def test_the_start_is_in_every_prediction_and_explanation(method):
    X, y = _world(800, signal="rfm")
    model = ChurnModel(n_jobs=1, start="rfm").fit(X, y)
    assert model.start_ == "rfm"
    trees = model.booster_.predict(X.to_numpy(np.float32), raw_score=True)
    raw = model._raw_score(X)
    assert np.ptp(raw - trees) > 0.5  # the start varies by row, it is not a constant
    # contributions, from the model and from cjml.explanations, sum to the raw score
    np.testing.assert_allclose(model.contributions(X).sum(axis=1), raw, atol=1e-6)
    table = contributions(model, X, method=method)
    np.testing.assert_allclose(table.to_numpy().sum(axis=1), raw, atol=1e-6)
    # the start's terms land on the RFM columns alone
    zero = ChurnModel(n_jobs=1, start="rfm").fit(X, y)
    zero.linear_start_ = None  # the same trees without their start
    without = contributions(zero, X, method=method)
    moved = (table - without).abs().max()
    assert set(moved[moved > 1e-9].index) <= {*_RFM_COLUMNS, "bias"}
    assert moved["days_since_last_event"] > 0.1
    # and the calibrated risk is the sigmoid of the calibrated raw score
    risk = model.predict_risk(X)
    np.testing.assert_allclose(risk, 1 / (1 + np.exp(-model.decision_function(X))))


def test_missing_and_infinite_rfm_values_give_finite_risks():
    X, y = _world(800, signal="rfm")
    X.loc[:40, "total_amount"] = np.nan  # e.g. customers who never bought
    model = ChurnModel(n_jobs=1, start="rfm").fit(X, y)
    odd = X.head(3).copy()
    odd["days_since_last_event"] = [np.nan, np.inf, -np.inf]
    risk = model.predict_risk(odd)
    assert np.isfinite(risk).all() and ((risk > 0) & (risk < 1)).all()
    np.testing.assert_allclose(model.contributions(odd).sum(axis=1), model._raw_score(odd))


def test_the_start_needs_the_rfm_columns_by_name():
    X, y = _world(600, signal="rfm")
    as_array = ChurnModel(n_jobs=1, start="auto").fit(X.to_numpy(), y)
    assert as_array.start_ == "zero"
    without = ChurnModel(n_jobs=1, start="auto").fit(X.drop(columns="total_amount"), y)
    assert without.start_ == "zero"


def test_an_unknown_start_is_refused_by_name():
    X, y = _world(200, signal="rfm")
    with pytest.raises(ValueError, match="start must be 'auto', 'zero' or 'rfm', got 'linear'"):
        ChurnModel(start="linear").fit(X, y)


def test_an_rfm_start_without_its_columns_is_refused_with_the_missing_names():
    X, y = _world(200, signal="rfm")
    with pytest.raises(
        ValueError, match=r"start='rfm' needs the feature columns \['total_amount'\]"
    ):
        ChurnModel(start="rfm").fit(X.drop(columns="total_amount"), y)


def test_a_refit_model_refits_its_start_on_every_row():
    X, y = _world(800, signal="rfm")
    refit = ChurnModel(n_jobs=1, start="rfm", refit=True).fit(X, y)
    inner = ChurnModel(n_jobs=1, start="rfm", refit=False).fit(X, y)
    # the refitted start saw every row: its means are those of the whole design
    design = np.log1p(X[list(_RFM_COLUMNS)].to_numpy(float))
    np.testing.assert_allclose(refit.linear_start_["mean"][:4], design.mean(axis=0), rtol=1e-6)
    assert not np.allclose(inner.linear_start_["mean"][:4], design.mean(axis=0), rtol=1e-6)


def test_a_bundle_keeps_the_start_and_predicts_the_same(tmp_path):
    log = cjml.datasets.make_journeys(300, random_state=3).events
    bundle, _ = cjml.train(
        log,
        horizon="30D",
        recommender=False,
        survival=False,
        value=False,
        n_jobs=1,
        churn_params={"start": "rfm"},
    )
    churn = bundle.models["churn"]
    assert churn.start_ == "rfm"
    path = tmp_path / "model.cjml"
    bundle.save(path)
    loaded = cjml.ModelBundle.load(path)
    again = loaded.models["churn"]
    assert again.start_ == "rfm"
    for key in ("columns", "mean", "scale", "coef"):
        np.testing.assert_array_equal(again.linear_start_[key], churn.linear_start_[key])
    a = cjml.score(bundle, log, recommend=False)
    b = cjml.score(loaded, log, recommend=False)
    pd.testing.assert_frame_equal(a, b)
    # the drivers the score gives include the start's columns
    assert a["churn_risk"].between(0, 1).all()


def test_a_compiled_model_adds_the_start_too(tmp_path):
    pytest.importorskip("tl2cgen")
    X, y = _world(600, signal="rfm")
    model = ChurnModel(n_jobs=1, start="rfm").fit(X, y)
    expected = model.predict_risk(X)
    model.compile(tmp_path)
    np.testing.assert_allclose(model.predict_risk(X), expected, rtol=1e-12, atol=1e-12)
