"""cjml.train, cjml.evaluate and the report: time split, same rows for every model, bundles."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.datasets import load_sample
from cjml.evaluation import churn_metrics, stage_metrics

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def log():
    return cjml.read_events(load_sample())


@pytest.fixture(scope="module")
def trained(log):
    return cjml.train(log, n_cutoffs=6, step="15D")


def test_churn_metrics_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])
    m = churn_metrics(y, p)
    # Top 10% = 1 customer (a churner): lift = 1 / 0.3, capture = 1/3.
    assert m["lift_10"] == pytest.approx(1 / 0.3)
    assert m["capture_10"] == pytest.approx(1 / 3)
    # Top 20% = 2 customers, one churner.
    assert m["lift_20"] == pytest.approx(0.5 / 0.3)
    assert m["capture_20"] == pytest.approx(1 / 3)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    # 21 pairs; the churner at 0.05 loses to all 7 stayers, 0.7 beats 6 and loses to 0.8.
    assert m["roc_auc"] == pytest.approx((7 + 6 + 0) / 21)
    assert math.isnan(churn_metrics([0, 0], [0.1, 0.2])["roc_auc"])


def test_stage_metrics_by_hand():
    classes = ["a", "b", "c"]
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.5, 0.1, 0.4], [0.1, 0.2, 0.7]])
    y = ["a", "c", "c", "c"]
    m = stage_metrics(y, proba, classes)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["top2_accuracy"] == pytest.approx(1.0)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.6, 0.3, 0.4, 0.7])))
    with pytest.raises(ValueError, match="'z'"):
        stage_metrics(["z"], proba[:1], classes)


def test_train_holds_out_a_later_cutoff(trained, log):
    bundle, report = trained
    test_cutoff = pd.Timestamp(bundle.metadata["test_cutoff"])
    train_cutoffs = [pd.Timestamp(c) for c in bundle.metadata["train_cutoffs"]]
    horizon = pd.Timedelta(bundle.metadata["horizon"])
    # Every training label window ends before the test period starts.
    assert all(c + horizon <= test_cutoff for c in train_cutoffs)
    assert test_cutoff == cjml.rolling_cutoffs(log, n=1)[0]
    assert str(test_cutoff.date()) == str(report.info["test_cutoff"])
    assert set(bundle.models) == {"churn", "next_stage", "touchpoint_response",
                                  "touchpoint_effects", "touchpoint_policy"}
    # the policy chosen on the held-out later period, recorded and shown as chosen
    policy = bundle.models["touchpoint_policy"]
    assert bundle.metadata["recommendation_policy"] == policy.to_dict()
    assert report.policy == bundle.metadata["recommendation_policy"]
    assert report.to_dict()["policy"] == report.policy
    table = report.policy_table()
    assert table is not None and table["chosen"].sum() == 1
    assert f"recommendation policy: {policy.policy}" in report.to_text()
    assert bundle.metadata["event_columns"] == ["channel", "satisfaction", "nps", "effort",
                                                "amount", "segment"]
    assert bundle.metadata["evaluation"]["churn"]["model"]["roc_auc"] == pytest.approx(
        report.churn.loc["model", "roc_auc"])


def test_models_and_baselines_are_scored_on_the_same_rows(trained, log):
    bundle, report = trained
    test = cjml.make_training_set(log, [bundle.metadata["test_cutoff"]],
                                  featurizer=bundle.featurizer)
    assert report.info["n_test"] == len(test)
    np.testing.assert_array_equal(report.y_churn, test["churn"].to_numpy())
    assert set(report.risks) == {"model", "prior", "markov", "rfm_logistic"}
    assert all(len(r) == len(test) for r in report.risks.values())
    assert list(report.churn.index) == ["model", "prior", "markov", "rfm_logistic"]
    assert list(report.next_stage.index) == ["model", "prior", "markov", "rfm_logistic"]
    # The model's row is what its own predictions give on those rows.
    risk = bundle.models["churn"].predict_proba(test[bundle.feature_names])[:, 1]
    np.testing.assert_allclose(report.risks["model"], risk)
    assert report.churn.loc["model", "roc_auc"] == pytest.approx(
        churn_metrics(test["churn"], risk)["roc_auc"])
    # The prior baseline predicts the training churn rate for everybody.
    assert np.unique(report.risks["prior"]).size == 1
    # The models beat every baseline where it matters.
    assert report.churn.loc["model", "brier"] < report.churn.loc["markov", "brier"]
    assert report.next_stage.loc["model", "log_loss"] < report.next_stage.loc[
        ["prior", "markov", "rfm_logistic"], "log_loss"].min()
    assert int(report.confusion.to_numpy().sum()) == len(test)


def test_report_renders_as_text_html_dict_and_figures(trained):
    _, report = trained
    text = report.to_text()
    assert "roc_auc" in text and "rfm_logistic" in text and "30 days" in text
    page = report._repr_html_()
    assert "<table" in page and "Held-out cutoff" in page and "font-weight:bold" in page
    json.dumps(report.to_dict())
    fig = report.plot()
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == [
        "Churn ROC", "Calibration", "Gain", "Churn drivers by feature family"]
    assert report.importance.sum() == pytest.approx(1.0)
    assert set(report.importance.index) <= {"activity", "touchpoints", "stages", "sequences",
                                            "experience", "support", "value", "attributes",
                                            "other"}


def test_bundle_round_trip_predicts_identically_and_evaluates(trained, log, tmp_path):
    bundle, report = trained
    path = bundle.save(tmp_path / "model.joblib")
    loaded = cjml.ModelBundle.load(path)
    X = loaded.featurizer.transform(log, "2024-07-29")
    for name in ("churn", "next_stage"):
        np.testing.assert_array_equal(loaded.models[name].predict_proba(X),
                                      bundle.models[name].predict_proba(X))
    again = cjml.evaluate(log, loaded)
    pd.testing.assert_frame_equal(again.churn, report.churn)
    pd.testing.assert_frame_equal(again.next_stage, report.next_stage)


def test_evaluate_refuses_a_test_cutoff_inside_the_training_period(trained, log):
    bundle, _ = trained
    last_train = bundle.metadata["train_cutoffs"][-1]
    with pytest.raises(ValueError, match=r"inside the period this bundle was trained on"):
        cjml.evaluate(log, bundle, test_cutoff=last_train)


def test_train_explains_when_nothing_is_left_to_train_on(log):
    with pytest.raises(ValueError, match="nothing is left to train on"):
        cjml.train(log, cutoffs=["2024-07-20", "2024-07-29"])


def test_next_stage_takes_p_dropped_from_the_churn_model(trained, log):
    bundle, _ = trained
    X = bundle.featurizer.transform(log, "2024-07-29")
    churn, stage = bundle.models["churn"], bundle.models["next_stage"]
    assert stage.churn_model_ is churn
    proba = stage.predict_proba(X)
    drop = list(stage.classes_).index("dropped")
    np.testing.assert_allclose(proba[:, drop], churn.predict_proba(X)[:, 1], rtol=1e-9)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The stages keep their shares of the rest.
    own = np.exp(stage._own_log_proba(X))
    keep = [i for i in range(proba.shape[1]) if i != drop]
    np.testing.assert_allclose(proba[:, keep] / proba[:, keep].sum(axis=1, keepdims=True),
                               own[:, keep] / own[:, keep].sum(axis=1, keepdims=True), rtol=1e-6)
    # train's next-stage model learned only where stayers go: alone it cannot say P(dropped)
    assert stage.conditional_ and np.all(own[:, drop] == 0)
    with pytest.raises(ValueError, match="Attach one"):
        stage.attach_churn_model(None).predict_proba(X)
    stage.attach_churn_model(churn)
