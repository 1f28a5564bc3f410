"""The time-to-churn curve: targets, the hazard model, its anchoring, its report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.datasets import make_journeys
from cjml.labels import make_training_set
from cjml.survival import SurvivalModel, survival_targets


@pytest.fixture(scope="module")
def world():
    """A small simulated log, a bundle trained on it (held-out cutoff) and its test rows."""
    log = cjml.read_events(make_journeys(800, n_days=200, random_state=3).events)
    bundle, report = cjml.train(log, n_cutoffs=12, step="10D", recommender=False, n_jobs=1)
    test = make_training_set(log, [bundle.metadata["test_cutoff"]], featurizer=bundle.featurizer)
    X = test.set_index(["cutoff", "customer_id"])[list(bundle.featurizer.feature_names_out_)]
    return log, bundle, report, X, test


# ---------------------------------------------------------------------------- targets
def _hand_log():
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": ["a", "a", "a", "b", "b", "c", "d"],
                "timestamp": [
                    "2024-01-05",
                    "2024-01-12 12:00",  # 2.5 days after the cutoff
                    "2024-02-01",
                    "2024-01-08",
                    "2024-03-01",  # beyond max_days=30: censored at 30
                    "2024-01-09",  # never again: censored where the data ends
                    "2023-06-01",  # outside the 90-day lookback: not in the population
                ],
                "touchpoint": "website_visit",
            }
        )
    )


def test_targets_are_days_to_the_next_event_censored_at_the_data_end_or_max_days():
    log = _hand_log()
    t = survival_targets(log, "2024-01-10", max_days=30)
    assert t.index.names == ["cutoff", "customer_id"]
    got = t.droplevel("cutoff")
    assert list(got.index) == ["a", "b", "c"]  # d is outside the lookback
    assert got["days_to_next"].tolist() == [2.5, 30.0, 30.0]
    assert got["observed"].tolist() == [True, False, False]
    # the data ends 2024-03-02 (the day after the last event): c is censored there
    t = survival_targets(log, "2024-01-10", max_days=365)
    assert t.droplevel("cutoff")["days_to_next"].tolist() == [2.5, 51.0, 52.0]
    assert t.droplevel("cutoff")["observed"].tolist() == [True, True, False]
    # an explicit data_end censors earlier, and an event on it still counts as seen
    t = survival_targets(log, "2024-01-10", data_end="2024-01-12 12:00")
    assert t.droplevel("cutoff")["days_to_next"].tolist() == [2.5, 2.5, 2.5]
    assert t.droplevel("cutoff")["observed"].tolist() == [True, False, False]


def test_targets_agree_with_the_churn_labels():
    log = cjml.read_events(make_journeys(300, n_days=150, random_state=1).events)
    cutoffs = ["2024-03-01", "2024-04-01"]
    labels = cjml.make_labels(log, cutoffs, horizon="30D")
    t = survival_targets(log, cutoffs)
    assert t.index.equals(labels.index)
    no_event = ~(t["observed"] & (t["days_to_next"] <= 30))
    assert (no_event.astype(int) == labels["churn"]).all()


def test_targets_refuse_a_cutoff_at_the_end_of_the_data():
    with pytest.raises(ValueError, match="not before the end of the data"):
        survival_targets(_hand_log(), "2024-03-02")


# ---------------------------------------------------------------------------- the model
def test_the_bundle_holds_a_curve_whose_30_day_point_matches_the_churn_model(world):
    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    assert model.max_days_ >= 90
    risk = model.predict_risk(X, [7, "30D", 90])
    assert list(risk.columns) == ["churn_risk_7d", "churn_risk_30d", "churn_risk_90d"]
    assert risk.index.equals(X.index)
    churn = bundle.models["churn"].predict_proba(X)[:, 1]
    assert np.abs(risk["churn_risk_30d"].to_numpy() - churn).mean() < 0.05


def test_the_curve_never_rises_with_the_days(world):
    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    days = [0.5, 1, 2, 3, 4, 7, 10.5, 14, 20, 30, 31, 45, 60, 89, model.max_days_]
    risk = model.predict_risk(X, days).to_numpy()
    assert ((risk > 0) & (risk < 1)).all()
    assert (np.diff(risk, axis=1) <= 1e-12).all()


def test_anchoring_puts_the_horizon_point_on_the_churn_risk(world):
    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    churn = bundle.models["churn"].predict_proba(X)[:, 1]
    risk = model.predict_risk(X, [7, 30, 90], anchor=("30D", churn))
    np.testing.assert_allclose(risk["churn_risk_30d"], np.clip(churn, 1e-9, 1 - 1e-9), atol=1e-12)
    assert (np.diff(risk.to_numpy(), axis=1) <= 1e-12).all()


def test_days_beyond_the_longest_horizon_are_refused_with_the_fix(world):
    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    longest = int(model.max_days_)
    fix = rf"longest horizon.*{longest}d.*--horizons.*longer history"
    with pytest.raises(ValueError, match=fix):
        model.predict_risk(X, [30, longest + 1])


def test_the_curve_survives_a_bundle_round_trip(world, tmp_path):
    _, bundle, _, X, _ = world
    path = bundle.save(tmp_path / "m.cjml")
    loaded = cjml.ModelBundle.load(path).models["survival"]
    before = bundle.models["survival"].predict_risk(X, [7, 30, 90])
    pd.testing.assert_frame_equal(loaded.predict_risk(X, [7, 30, 90]), before)
    assert loaded.max_days_ == bundle.models["survival"].max_days_


def test_a_short_follow_up_caps_the_horizon():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=2000)})
    days = rng.exponential(np.exp(X["x"].to_numpy()) * 10)
    observed = days <= 40
    days = np.minimum(days, 40.0)
    model = SurvivalModel(n_jobs=1).fit(X, days, observed)
    assert model.max_days_ == 30  # the 30-45 bin is never seen in full
    # the hazard follows the feature: higher x, later return, higher risk
    risk = model.predict_risk(pd.DataFrame({"x": [-1.0, 0.0, 1.0]}), 14)["churn_risk_14d"]
    assert risk.is_monotonic_increasing
