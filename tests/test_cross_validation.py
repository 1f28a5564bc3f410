"""Protocols users bring: customer folds at one cutoff, and horizons longer than the log allows."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.datasets import make_journeys
from cjml.evaluation import cross_validate
from cjml.labels import customer_folds


# ------------------------------------------------------------------ folds
@settings(max_examples=60, deadline=None)
@given(
    customers=st.lists(st.integers(0, 40), min_size=2, max_size=120),
    k=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_every_customer_is_in_exactly_one_fold(customers, k, seed):
    n = len(set(customers))
    if k > n:
        with pytest.raises(ValueError, match=rf"{k} folds need at least {k} customers"):
            customer_folds(customers, k, random_state=seed)
        return
    folds = customer_folds(customers, k, random_state=seed)
    frame = pd.DataFrame({"customer": customers, "fold": folds})
    per_customer = frame.groupby("customer")["fold"].nunique()
    assert (per_customer == 1).all()  # never in two folds
    assert len(per_customer) == n  # every customer covered
    sizes = frame.drop_duplicates("customer")["fold"].value_counts()
    assert sorted(sizes.index) == list(range(k)) and sizes.max() - sizes.min() <= 1


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 1), min_size=10, max_size=200),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**16),
)
def test_stratified_folds_hold_every_label(labels, k, seed):
    y = np.asarray(labels)
    ids = np.arange(len(y))
    present = np.unique(y)
    if min((y == label).sum() for label in present) < k:
        with pytest.raises(ValueError, match="folds each need a customer of every label"):
            customer_folds(ids, k, y=y, random_state=seed)
        return
    folds = customer_folds(ids, k, y=y, random_state=seed)
    for label in present:
        counts = np.bincount(folds[y == label], minlength=k)
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1


def test_folds_are_seeded_and_follow_the_customer_not_the_row():
    ids = ["a", "b", "c", "d", "a", "e", "f", "b"]
    folds = customer_folds(ids, 3, random_state=4)
    np.testing.assert_array_equal(folds, customer_folds(ids, 3, random_state=4))
    assert folds[0] == folds[4] and folds[1] == folds[7]


@pytest.mark.parametrize(
    ("k", "message"),
    [(1, "2 or more"), (True, "2 or more"), (2.5, "2 or more"), (7, "Use 6 folds or fewer")],
)
def test_bad_fold_counts_are_refused(k, message):
    with pytest.raises(ValueError, match=message):
        customer_folds(list("abcdef"), k)


# ------------------------------------------------------------------ cross-validation at one cutoff
@pytest.fixture(scope="module")
def log():
    # 240 days: a 150-day horizon leaves no later held-out cutoff with 4 cutoffs 30 days apart
    return cjml.read_events(make_journeys(300, n_days=240, random_state=0).events)


@pytest.fixture(scope="module")
def cv_trained(log):
    return cjml.train(log, horizon="150D", cv=2)


def test_train_cv_reports_out_of_fold_predictions_of_every_customer(cv_trained, log):
    bundle, report = cv_trained
    cutoff = cjml.rolling_cutoffs(log, horizon="150D", n=1)[0]
    data = cjml.make_training_set(log, [cutoff], horizon="150D", featurizer=bundle.featurizer)
    assert bundle.metadata["cv"] == 2 and bundle.metadata["test_cutoff"] is None
    assert bundle.metadata["train_cutoffs"] == [cutoff.isoformat()]  # refitted on everyone there
    assert bundle.metadata["n_train_rows"] == len(data)
    assert report.info["cv"] == 2 and report.info["n_test"] == len(data)
    assert report.folds["n"].sum() == len(data) and len(report.folds) == 2
    np.testing.assert_array_equal(report.y_churn, data["churn"].to_numpy())
    assert report.populations[0].name == "active"
    assert (
        "2-fold cross-validation over these customers: each fold scored by the models and "
        "baselines fitted on the other fold"
    ) in report.to_text()
    assert "per fold (the model, out-of-fold)" in report.to_text()
    # the out-of-fold risks are not the refitted bundle's own predictions
    own = bundle.models["churn"].predict_proba(data[bundle.feature_names])[:, 1]
    assert not np.allclose(own, report.risks["model"])
    data_json = json.loads(json.dumps(report.to_dict()))
    assert data_json["folds"][0]["fold"] == 0 and data_json["info"]["cv"] == 2


def test_a_bundle_trained_to_the_end_of_the_log_is_sent_to_cv_and_cv_works(cv_trained, log):
    bundle, _ = cv_trained
    with pytest.raises(ValueError, match="inside the period this bundle was trained on") as err:
        cjml.evaluate(log, bundle)
    message = str(err.value)
    assert "cv=5" in message and "--cv 5" in message
    assert "--no-holdout" not in message  # no way back to the refusal that led here
    report = cjml.evaluate(log, bundle, cv=2)
    assert report.info["cv"] == 2 and len(report.folds) == 2
    assert report.populations[0].name == "active"


def test_cv_refuses_folds_without_both_classes(cv_trained, log):
    bundle, _ = cv_trained
    cutoff = cjml.rolling_cutoffs(log, horizon="150D", n=1)[0]
    data = cjml.make_training_set(log, [cutoff], horizon="150D", featurizer=bundle.featurizer)
    few = pd.concat([data[data["churn"] == 0], data[data["churn"] == 1].head(3)])
    churn, stage = bundle.models["churn"], bundle.models["next_stage"]
    with pytest.raises(
        ValueError, match=r"3 churners and \d+ stayers.*Use cv=3 \(--cv 3\) or fewer"
    ):
        cross_validate(churn, stage, bundle.featurizer, few, cv=5)
    with pytest.raises(ValueError, match=r"cv=5000 folds need at least 5000 customers.*Use cv="):
        cross_validate(churn, stage, bundle.featurizer, data, cv=5000)
    with pytest.raises(ValueError, match="2 or more"):
        cross_validate(churn, stage, bundle.featurizer, data, cv=1)
    with pytest.raises(ValueError, match="pass one or the other"):
        cjml.train(log, horizon="150D", cv=3, holdout=False)
    with pytest.raises(ValueError, match=r"at one cutoff.*cutoffs=\['2024-03-31'\]"):
        cjml.train(log, horizon="150D", cv=3, cutoffs=["2024-03-01", "2024-03-31"])


# ------------------------------------------------------------------ horizons the log cannot hold
def test_a_too_long_horizon_names_a_horizon_that_works(log):
    with pytest.raises(ValueError, match="nothing is left to train on") as err:
        cjml.train(log, horizon="150D", n_cutoffs=4, step="30D")
    message = str(err.value)
    assert "The log spans 2024-01-01 to 2024-08-27 (240 days)" in message
    assert "cross-validate over customers at the one cutoff 2024-03-31" in message
    assert "--no-holdout" not in message
    days = int(
        re.search(
            r"a horizon of at most (\d+) days \(horizon='\1D', --horizon \1D\)", message
        ).group(1)
    )
    assert days == 90  # 4 cutoffs 30 days apart: the held-out one and one 90 days before it
    bundle, report = cjml.train(log, horizon=f"{days}D", n_cutoffs=4, step="30D")
    assert report is not None and len(bundle.metadata["train_cutoffs"]) >= 1


def test_a_two_week_log_is_told_a_shorter_horizon_and_step_that_train():
    # an app's two weeks of sessions: no whole-week step fits, so the advice names a
    # horizon, a step and a lookback in days or hours, and that advice trains
    events = cjml.datasets.load_sample()
    days = events["timestamp"] - pd.Timestamp("2024-03-01", tz="UTC")
    two_weeks = events[(days >= pd.Timedelta(0)) & (days < pd.Timedelta(days=14))]
    with pytest.raises(ValueError, match="nothing is left to train on") as err:
        cjml.train(two_weeks, recommender=False, survival=False, value=False)
    found = re.search(
        r"Use a horizon of (\d+ (?:day|hour)s?) with cutoffs (\d+ (?:day|hour)s?) apart and a "
        r"lookback of (\d+ (?:day|hour)s?) \(horizon='(\w+)', step='(\w+)', lookback='(\w+)'; "
        r"--horizon \4 --step \5 --lookback \6\)\.$",
        str(err.value),
    )
    assert found, str(err.value)
    horizon, step, lookback = found.group(4, 5, 6)
    assert (horizon, step, lookback) == ("2D", "1D", "6D")
    bundle, report = cjml.train(
        two_weeks,
        horizon=horizon,
        step=step,
        lookback=lookback,
        recommender=False,
        survival=False,
        value=False,
    )
    assert report is not None and len(bundle.metadata["train_cutoffs"]) >= 9


def test_given_cutoffs_too_close_name_a_cutoff_and_a_horizon(log):
    with pytest.raises(ValueError, match=r"add a cutoff on or before 2024-02-01.*at most 30 days"):
        cjml.train(log, cutoffs=["2024-04-01", "2024-05-01"], horizon="90D")


def test_a_horizon_longer_than_the_log_names_one_that_fits(log):
    with pytest.raises(ValueError, match=r"Use a horizon of at most (\d+) days") as err:
        cjml.rolling_cutoffs(log, horizon="300D", n=1)
    days = int(re.search(r"at most (\d+) days", str(err.value)).group(1))
    assert cjml.rolling_cutoffs(log, horizon=f"{days}D", n=1)[0] > pd.Timestamp(
        "2024-01-01 06:12:39", tz="UTC"
    )
    with pytest.raises(ValueError, match="ask for 13 cutoffs or fewer") as err:
        cjml.rolling_cutoffs(log, horizon="150D", n=20, step="7D")
    assert len(cjml.rolling_cutoffs(log, horizon="150D", n=13, step="7D")) == 13


def test_small_data_is_said_once_per_model_for_all_folds_and_points_at_the_call(log):
    import warnings

    from cjml.exceptions import SmallDataWarning

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cjml.train(log, horizon="150D", cv=3, survival=False, value=False, recommender=False)
    small = [w for w in record if issubclass(w.category, SmallDataWarning)]
    folded = [str(w.message) for w in small if "cross-validation folds" in str(w.message)]
    # one per model for the three folds (the bundle's own refit on everyone says its own)
    assert sorted(m.split(":", 1)[0] for m in folded) == ["ChurnModel", "NextStageModel"]
    assert all(re.search(r"said by [23] of the 3 cross-validation folds", m) for m in folded)
    assert len(small) <= 4
    # the warning points at the user's line, not at a line inside cjml
    assert {w.filename for w in small} == {__file__}
