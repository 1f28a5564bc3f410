"""The time-to-churn curve: targets, the hazard model, its anchoring, its report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.datasets import make_journeys
from cjml.labels import make_training_set
from cjml.survival import (
    SurvivalModel,
    brier_scores,
    concordance,
    integrated_brier_score,
    kaplan_meier,
    survival_targets,
    survival_text,
)


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


def test_after_the_anchor_the_curve_goes_on_with_its_own_hazards(world):
    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    churn = bundle.models["churn"].predict_proba(X)[:, 1]
    own = model.predict_risk(X, [30, 60, 90]).to_numpy()
    anchored = model.predict_risk(X, [30, 60, 90], anchor=(30, churn)).to_numpy()
    # P(no event within d | none within 30) is the model's own
    np.testing.assert_allclose(anchored[:, 1:] / anchored[:, :1], own[:, 1:] / own[:, :1])


def test_predicting_in_slices_changes_nothing(world, monkeypatch):
    import cjml.survival

    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    whole = model.hazards(X)
    monkeypatch.setattr(cjml.survival, "_PREDICT_ROWS", 7)
    np.testing.assert_array_equal(model.hazards(X), whole)


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


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_the_curve_never_rises_for_any_feature_row(world, data):
    _, bundle, _, X, _ = world
    model = bundle.models["survival"]
    base = X.iloc[data.draw(st.integers(0, len(X) - 1))].to_numpy(dtype=float)
    noise = np.asarray(
        data.draw(
            st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=len(base), max_size=len(base))
        )
    )
    swap = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(base), max_size=len(base))))
    row = pd.DataFrame([np.where(swap, noise, base)], columns=X.columns)
    days = sorted(data.draw(st.lists(st.floats(0.01, model.max_days_), min_size=2, max_size=8)))
    risk = model.predict_risk(row, days).to_numpy()[0]
    assert ((risk > 0) & (risk < 1)).all()
    assert (np.diff(risk) <= 1e-12).all()


# ---------------------------------------------------------------------------- metrics
def test_brier_of_a_perfect_and_a_constant_curve_on_hand_rows():
    days, seen = np.array([1.0, 3.0, 5.0]), np.ones(3, dtype=bool)
    times = np.array([2.0, 4.0])
    perfect = (days[:, None] > times[None, :]).astype(float)
    np.testing.assert_allclose(brier_scores(perfect, days, seen, times), [0.0, 0.0])
    assert integrated_brier_score(perfect, days, seen, times) == 0.0
    half = np.full((3, 2), 0.5)
    assert integrated_brier_score(half, days, seen, times) == pytest.approx(0.25)
    wrong = 1.0 - perfect
    np.testing.assert_allclose(brier_scores(wrong, days, seen, times), [1.0, 1.0])


def test_censored_rows_are_reweighted_not_counted_as_returns():
    # censored at 2: G = 1 before 2, 2/3 from 2; at 3.5 the rows weigh 1, 0, 3/2, 3/2
    days = np.array([1.0, 2.0, 3.0, 4.0])
    seen = np.array([True, False, True, True])
    half = np.full((4, 1), 0.5)
    assert brier_scores(half, days, seen, [3.5])[0] == pytest.approx(0.25)
    sure_away = np.array([[0.0], [1.0], [0.0], [1.0]])  # right for every row followed up
    assert brier_scores(sure_away, days, seen, [3.5])[0] == pytest.approx(0.0)
    np.testing.assert_allclose(
        kaplan_meier(days, seen, [0.5, 1, 2.5, 3, 4]), [1, 0.75, 0.75, 0.375, 0.0]
    )


def test_rows_censored_where_the_follow_up_ends_count_as_still_away_there():
    # held-out rows followed for 30 days: two came back, two stayed away through day 30
    days = np.array([3.0, 12.0, 30.0, 30.0])
    seen = np.array([True, True, False, False])
    half = np.full((4, 2), 0.5)
    np.testing.assert_allclose(brier_scores(half, days, seen, [20.0, 30.0]), [0.25, 0.25])
    right = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(brier_scores(right, days, seen, [20.0, 30.0]), [0.0, 0.0])
    # at the end of the follow-up the score is the churn label's Brier score
    risk = np.array([0.2, 0.6, 0.7, 0.1])
    label = np.array([0.0, 0.0, 1.0, 1.0])
    got = brier_scores(risk[:, None], days, seen, [30.0])[0]
    assert got == pytest.approx(np.mean((risk - label) ** 2))


def test_concordance_on_hand_rows():
    days, seen = np.array([1.0, 2.0, 3.0, 10.0]), np.array([True, True, True, False])
    right = np.array([0.1, 0.4, 0.6, 0.9])  # who comes back first was least likely to stay away
    assert concordance(right, days, seen, 5) == 1.0
    assert concordance(right[::-1], days, seen, 5) == 0.0
    assert concordance(np.full(4, 0.3), days, seen, 5) == 0.5
    # only events by tau count: the pair (3, 10) is out at tau=2.5, and one swap in the rest
    assert concordance(np.array([0.4, 0.1, 0.6, 0.9]), days, seen, 2.5) == pytest.approx(4 / 5)


# ---------------------------------------------------------------------------- the report
def test_the_held_out_report_beats_kaplan_meier_and_reads_in_words(world):
    _, _, report, _, test = world
    section = report.survival
    assert section["n"] == len(test)
    assert section["horizons"][-1] == 30 and 7 in section["horizons"]
    curves = section["curves"]
    assert set(curves) == {"model", "anchored", "kaplan_meier", "churn_risk"}
    assert curves["model"]["ibs"] < 0.8 * curves["kaplan_meier"]["ibs"]
    assert curves["kaplan_meier"]["concordance"]["30"] == 0.5
    assert curves["model"]["concordance"]["7"] > 0.7
    text = report.to_text()
    assert "time to churn" in text and "Kaplan-Meier" in text
    assert "integrated Brier score is" in text
    assert "Time to churn" in report._repr_html_()
    again = type(report).from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.survival == section
    assert survival_text(again.survival) in again.to_text()


def test_the_concordance_sentence_says_each_horizon_once():
    from cjml.survival import _report_sentences

    report = {
        "curves": {
            "model": {"ibs": 0.02, "concordance": {"2": 0.96}},
            "kaplan_meier": {"ibs": 0.2},
        },
        "horizons": [1, 2],
        "max_days": 10,
        "n": 50,
        "horizon": 2,
    }
    assert _report_sentences(report)[-1].endswith(
        "staying away in 96% of pairs within 2 days (C; 50% is a coin toss)."
    )
    report["curves"]["model"]["concordance"] = {"1": 0.9, "7": None, "30": 0.8}
    assert (
        "in 90% of pairs within 1 day and 80% within 30 days (C;" in _report_sentences(report)[-1]
    )


def test_evaluating_a_bundle_measures_its_curve(world):
    log, bundle, report, _, _ = world
    again = cjml.evaluate(log, bundle)
    assert again.survival["curves"]["model"]["ibs"] == pytest.approx(
        report.survival["curves"]["model"]["ibs"]
    )


def test_train_without_the_curve():
    log = cjml.read_events(make_journeys(300, n_days=150, random_state=2).events)
    bundle, report = cjml.train(
        log, n_cutoffs=4, step="10D", recommender=False, survival=False, n_jobs=1
    )
    assert "survival" not in bundle.models
    assert report is not None and report.survival is None
    assert "time to churn" not in report.to_text()


def test_too_few_rows_are_refused_with_the_fix():
    X = pd.DataFrame({"x": np.arange(10.0)})
    with pytest.raises(ValueError, match="Too few rows.*10 rows.*Add customers or cutoffs"):
        SurvivalModel().fit(X, np.arange(10.0) + 0.5, np.ones(10, dtype=bool))
