"""cjml.train, cjml.evaluate and the report: time split, same rows for every model, bundles."""

from __future__ import annotations

import copy
import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.datasets import load_sample
from cjml.evaluation import (
    SHIFT_POINTS,
    EvaluationReport,
    PopulationMetrics,
    _AUCByWeights,
    active_within,
    build_report,
    churn_metrics,
    compare_with_baselines,
    stage_metrics,
)

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


@pytest.mark.parametrize(
    ("horizon", "n_cutoffs", "days_before_test"),
    [
        # 5 cutoffs 15 days apart, 45-day horizon: of the grid ending at the test cutoff only
        # 2 lie outside its horizon; the 4 training cutoffs are the latest such ones
        ("45D", 5, (90, 75, 60, 45)),
        # 4 cutoffs 15 days apart span 45 days, less than the 70-day horizon: none of them
        # ends its label window by the held-out one; the 3 training cutoffs are the latest on
        # the same grid that do (75 days before it and earlier), all after the first event
        ("70D", 4, (105, 90, 75)),
    ],
)
def test_a_long_horizon_still_trains_on_every_rolling_cutoff_but_the_held_out_one(
    log, horizon, n_cutoffs, days_before_test
):
    bundle, report = cjml.train(
        log,
        horizon=horizon,
        n_cutoffs=n_cutoffs,
        step="15D",
        recommender=False,
        survival=False,
        value=False,
    )
    test = pd.Timestamp(bundle.metadata["test_cutoff"])
    train_cutoffs = [pd.Timestamp(c) for c in bundle.metadata["train_cutoffs"]]
    assert train_cutoffs == [test - pd.Timedelta(days=d) for d in days_before_test]
    assert report.info["train_cutoffs"] == [c.date() for c in train_cutoffs]


def test_the_held_out_cutoff_fits_while_the_training_cutoffs_follow_the_first_event():
    from cjml.labels import _holdout_fits

    end, week = pd.Timestamp("2025-06-30", tz="UTC"), pd.Timedelta(days=7)
    horizon = pd.Timedelta(days=180)  # the held-out cutoff: 2025-01-01
    # 20 weekly cutoffs span 133 days, less than the horizon; the 19 training ones (from 26
    # weeks before the held-out cutoff back) run from 2024-02-28 to 2024-07-03
    earliest = pd.Timestamp("2025-01-01", tz="UTC") - 26 * week - 18 * week
    assert earliest == pd.Timestamp("2024-02-28", tz="UTC")
    assert _holdout_fits(pd.Timestamp("2024-02-27 23:00", tz="UTC"), end, horizon, 20, week)
    # half of them after the first event is enough (train keeps those): the 10th latest is
    # 2024-05-01
    assert _holdout_fits(pd.Timestamp("2024-04-30", tz="UTC"), end, horizon, 20, week)
    assert not _holdout_fits(pd.Timestamp("2024-05-01", tz="UTC"), end, horizon, 20, week)
    # cutoffs that span the horizon are accepted as before (the training ones then stop at
    # the first event): 29 weekly cutoffs span 196 days, from 2024-06-19
    assert _holdout_fits(pd.Timestamp("2024-06-18", tz="UTC"), end, horizon, 29, week)
    # no label window in the log, or a single cutoff: nothing to hold out
    first = pd.Timestamp("2024-01-01", tz="UTC")
    assert not _holdout_fits(first, end, horizon, 20, week, last=end - week)
    assert not _holdout_fits(first, end, horizon, 1, week)


def test_an_early_held_out_cutoff_trains_on_the_cutoffs_its_history_holds(log):
    # retentioneering's simple-onlineshop held out at 2020-02-29 was refused: 13 of the 19
    # weekly training cutoffs fall after its first event, the other 6 before it
    bundle, report = cjml.train(
        log, test_cutoff="2024-04-15", recommender=False, survival=False, value=False
    )
    got = [pd.Timestamp(c) for c in bundle.metadata["train_cutoffs"]]
    latest = pd.Timestamp("2024-04-15", tz="UTC") - pd.Timedelta(days=35)  # 30-day labels
    # the 10 weekly cutoffs after the first event (2024-01-01 06:12), not 19 refused
    assert got == [latest - pd.Timedelta(days=7 * k) for k in range(10)][::-1]
    assert "from 10 earlier cutoffs (2024-01-08 .. 2024-03-11)" in report.to_text()
    # fewer than half of them (two weeks earlier, 8 of 19): refused, naming what works
    with pytest.raises(ValueError, match="the earliest before the first event"):
        cjml.train(log, test_cutoff="2024-04-01", recommender=False, survival=False, value=False)


def test_rolling_training_cutoffs_stop_at_the_first_event():
    from cjml.training import _rolling_training_cutoffs

    latest = pd.Timestamp("2024-06-01", tz="UTC")
    first = pd.Timestamp("2024-05-10", tz="UTC")
    got = _rolling_training_cutoffs(latest, 19, pd.Timedelta(days=7), first)
    # only cutoffs with some history before them; oldest first
    assert got == [
        pd.Timestamp(d, tz="UTC") for d in ("2024-05-11", "2024-05-18", "2024-05-25", "2024-06-01")
    ]


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
    assert set(bundle.models) == {
        "churn",
        "next_stage",
        "touchpoint_response",
        "touchpoint_effects",
        "touchpoint_policy",
        "value",  # the log has purchase amounts
        "survival",
    }
    # the policy chosen on the held-out later period, recorded and shown as chosen
    policy = bundle.models["touchpoint_policy"]
    assert bundle.metadata["recommendation_policy"] == policy.to_dict()
    assert report.policy == bundle.metadata["recommendation_policy"]
    assert report.to_dict()["policy"] == report.policy
    table = report.policy_table()
    assert table is not None and table["chosen"].sum() == 1
    assert f"recommendation policy: {policy.policy}" in report.to_text()
    # the text says how the differences were tested (self-normalised by default)
    text = report.to_text()
    assert policy.test == "normalised"
    assert "difference with no action, inverse-propensity weighted, self-normalised;" in text
    # and how much of each policy's predicted gain the held-out period bears out
    assert "confirmed: the share of it the overlap-weighted difference bears out)" in text
    assert {"predicted_gain", "measured_gain", "confirmed"} <= set(table.columns)
    assert table["confirmed"].between(0, 1).all()
    # the reason says how much of the kept policy's predictions its recommendations show
    share = policy.confirmed(policy.policy)
    if policy.policy != "no action" and share < 1:
        assert f"the held-out period bears out about {share:.0%}, so each" in policy.reason
    else:
        assert "bears out" not in policy.reason
    overlap = copy.copy(report)
    overlap.policy = {**report.policy, "test": "overlap"}
    assert "difference with no action, overlap-weighted;" in overlap.to_text()
    # a report saved before the shares existed still prints its table, without them
    old = copy.copy(report)
    old_table = {
        k: v
        for k, v in report.policy["table"].items()
        if k not in ("predicted_gain", "measured_gain", "confirmed")
    }
    old.policy = {**report.policy, "table": old_table, "test": "inverse"}
    assert "difference with no action, inverse-propensity weighted)" in old.to_text()
    assert bundle.metadata["event_columns"] == [
        "channel",
        "satisfaction",
        "nps",
        "effort",
        "amount",
        "segment",
    ]
    assert bundle.metadata["evaluation"]["churn"]["model"]["roc_auc"] == pytest.approx(
        report.churn.loc["model", "roc_auc"]
    )


def test_models_and_baselines_are_scored_on_the_same_rows(trained, log):
    bundle, report = trained
    test = cjml.make_training_set(
        log, [bundle.metadata["test_cutoff"]], featurizer=bundle.featurizer
    )
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
        churn_metrics(test["churn"], risk)["roc_auc"]
    )
    # The prior baseline predicts the training churn rate for everybody.
    assert np.unique(report.risks["prior"]).size == 1
    # The models beat every baseline where it matters.
    assert report.churn.loc["model", "brier"] < report.churn.loc["markov", "brier"]
    assert (
        report.next_stage.loc["model", "log_loss"]
        < report.next_stage.loc[["prior", "markov", "rfm_logistic"], "log_loss"].min()
    )
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
        "Churn ROC",
        "Calibration",
        "Gain",
        "Churn drivers by feature family",
    ]
    assert report.importance.sum() == pytest.approx(1.0)
    assert set(report.importance.index) <= {
        "activity",
        "touchpoints",
        "stages",
        "sequences",
        "experience",
        "support",
        "value",
        "memory",
        "attributes",
        "other",
    }


def test_bundle_round_trip_predicts_identically_and_evaluates(trained, log, tmp_path):
    bundle, report = trained
    path = bundle.save(tmp_path / "model.cjml")
    loaded = cjml.ModelBundle.load(path)
    X = loaded.featurizer.transform(log, "2024-07-29")
    for name in ("churn", "next_stage"):
        np.testing.assert_array_equal(
            loaded.models[name].predict_proba(X), bundle.models[name].predict_proba(X)
        )
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


def test_training_rows_of_one_class_say_which_and_the_horizon_that_would_help():
    # every customer visits every 5 days for 120 days: within 30 days nobody churns
    days = np.arange(0, 120, 5)
    events = pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(40), len(days)),
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(np.tile(days, 40) + np.repeat(np.arange(40) % 5, len(days)), "D"),
            "touchpoint": "website_visit",
        }
    )
    cutoffs = ["2024-02-01", "2024-02-15", "2024-03-01"]
    with pytest.raises(ValueError) as info:
        cjml.train(events, cutoffs=cutoffs, horizon="30D", holdout=False)
    said = str(info.value)
    assert "give 120 rows and no churner: every customer had an event within 30 days" in said
    assert "e.g. --horizon 15D (horizon='15D')" in said
    # a horizon of 2 days: most have no event in it, but not all; 1 day: everyone churns
    with pytest.raises(ValueError, match=r"every one churned: .* e\.g\. --horizon 2D"):
        cjml.train(events.iloc[::5], cutoffs=cutoffs, horizon="1D", holdout=False)
    # one event per customer: no horizon would help, so none is suggested
    once = events.groupby("customer_id").head(1)
    once = once.assign(
        timestamp=pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(40) * 3, "D")
    )
    with pytest.raises(ValueError) as info:
        cjml.train(once, cutoffs=["2024-02-01", "2024-02-15"], horizon="30D", holdout=False)
    said = str(info.value)
    assert said.startswith("Every customer has one event in the log (40 customers, 40 events)")
    assert "--horizon" not in said


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
    np.testing.assert_allclose(
        proba[:, keep] / proba[:, keep].sum(axis=1, keepdims=True),
        own[:, keep] / own[:, keep].sum(axis=1, keepdims=True),
        rtol=1e-6,
    )
    # train's next-stage model learned only where stayers go: alone it cannot say P(dropped)
    assert stage.conditional_ and np.all(own[:, drop] == 0)
    with pytest.raises(ValueError, match="Attach one"):
        stage.attach_churn_model(None).predict_proba(X)
    stage.attach_churn_model(churn)


# ---------------------------------------------------------- populations and paired intervals
def test_report_leads_with_the_customers_active_within_the_horizon(trained, log):
    bundle, report = trained
    assert [pop.name for pop in report.populations] == ["active", "lookback"]
    cutoff = pd.Timestamp(bundle.metadata["test_cutoff"])
    test = cjml.make_training_set(log, [cutoff], featurizer=bundle.featurizer)
    # counted from the events themselves: the last event at or before the cutoff is
    # less than 30 days old
    events = log.frame[log.frame["timestamp"] <= cutoff]
    last = events.groupby("customer_id", observed=True)["timestamp"].max()
    recent = set(last[last > cutoff - pd.Timedelta(days=30)].index)
    is_active = test["customer_id"].isin(recent).to_numpy()
    active, whole = report.populations
    assert active.n == is_active.sum() == report.info["n_active"] == 564
    assert active.churn_rate == pytest.approx(test.loc[is_active, "churn"].mean())
    assert whole.n == len(test) and whole.churn_rate == pytest.approx(test["churn"].mean())
    assert active.churn.loc["model", "roc_auc"] == pytest.approx(
        churn_metrics(report.y_churn[is_active], report.risks["model"][is_active])["roc_auc"]
    )
    pd.testing.assert_frame_equal(whole.churn, report.churn)  # the table of every test customer
    text = report.to_text()
    assert text.index("== active within the 30 days before the cutoff") < text.index(
        "== every customer with an event in the 90 days before the cutoff"
    )
    page = report._repr_html_()
    assert page.index("Active within the 30 days") < page.index("Every customer with an event")
    assert bundle.metadata["evaluation"]["populations"][0]["name"] == "active"


def test_active_population_counts_on_a_handcrafted_log(trained, log):
    # cutoff 2024-04-01, horizon 30 days: active = an event in (2024-03-02, 2024-04-01];
    # lookback 90 days: the population has an event in (2024-01-02, 2024-04-01].
    bundle, _ = trained
    hand = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 2, 3, 4, 4, 5, 6, 6],
                "timestamp": [
                    "2024-03-25",
                    "2024-04-10",  # 1: active, stays
                    "2024-03-02",  # 2: exactly 30 days before: not active
                    "2024-02-15",  # 3: in the lookback only, churns
                    "2024-01-05",
                    "2024-04-20",  # 4: in the lookback only, stays
                    "2023-12-01",  # 5: outside the lookback: no row
                    "2024-04-01",
                    "2024-05-01",
                ],  # 6: at the cutoff: active, stays
                "touchpoint": [
                    "purchase",
                    "email",
                    "website_visit",
                    "email",
                    "purchase",
                    "store_visit",
                    "paid_ad",
                    "purchase",
                    "email",
                ],
            }
        )
    )
    test = cjml.make_training_set(hand, ["2024-04-01"], horizon="30D", featurizer=bundle.featurizer)
    assert test["customer_id"].tolist() == [1, 2, 3, 4, 6]
    assert test["churn"].tolist() == [0, 1, 1, 0, 0]
    active = active_within(hand, test, "30D")
    assert active.tolist() == [True, False, False, False, True]
    train = cjml.make_training_set(
        log, [bundle.metadata["train_cutoffs"][-1]], featurizer=bundle.featurizer
    )
    report = build_report(
        bundle.models["churn"],
        bundle.models["next_stage"],
        bundle.featurizer,
        train,
        test,
        {
            "test_cutoff": "2024-04-01",
            "horizon": "30 days",
            "lookback": "90 days",
            "train_cutoffs": ["2024-06-24"],
        },
        active=active,
    )
    first, whole = report.populations
    assert (first.name, first.n, first.churn_rate) == ("active", 2, 0.0)
    assert (whole.name, whole.n, whole.churn_rate) == ("lookback", 5, 0.4)
    # one class among the active customers: no AUC, said plainly
    assert math.isnan(first.churn.loc["model", "roc_auc"])
    assert (
        "On the active customers the ROC AUC cannot be compared with the baselines (one "
        "class only among these customers, or too few of them)." in report.to_text()
    )


def test_weighted_auc_equals_sklearn_on_a_resample():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.4).astype(float)
    score = np.round(rng.random(300) + 0.3 * y, 1)  # many ties
    counts = np.bincount(rng.integers(0, 300, 300), minlength=300).astype(float)
    drawn = np.repeat(np.arange(300), counts.astype(int))
    assert _AUCByWeights(y, score)(counts[:, None])[0] == pytest.approx(
        roc_auc_score(y[drawn], score[drawn]), abs=1e-12
    )


def test_paired_bootstrap_interval_holds_the_difference_and_says_when_it_is_noise():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.3).astype(int)
    model = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    twin = np.clip(model + rng.normal(0, 0.01, n), 0, 1)  # the same ranking, up to noise
    risks = {"model": model, "twin": twin, "prior": np.full(n, 0.3)}
    table = compare_with_baselines(y, risks, {}, n_resamples=300, random_state=1)
    assert table[["baseline", "metric"]].values.tolist() == [
        ["twin", "roc_auc"],
        ["twin", "brier"],
        ["prior", "roc_auc"],
        ["prior", "brier"],
    ]
    assert ((table["low"] <= table["difference"]) & (table["difference"] <= table["high"])).all()
    auc = table.set_index(["baseline", "metric"])
    assert auc.loc[("twin", "roc_auc"), "difference"] == pytest.approx(
        roc_auc_score(y, model) - roc_auc_score(y, twin)
    )
    assert auc.loc[("prior", "roc_auc"), "difference"] == pytest.approx(
        roc_auc_score(y, model) - 0.5
    )
    assert auc.loc[("prior", "roc_auc"), "verdict"] == "better"
    twin_auc = auc.loc[("twin", "roc_auc")]
    assert twin_auc["low"] < 0 < twin_auc["high"]
    assert twin_auc["verdict"] == "not distinguishable"

    def population(comparison):
        return PopulationMetrics(
            name="active",
            title="active",
            n=n,
            churn_rate=float(y.mean()),
            churn=pd.DataFrame(),
            next_stage=pd.DataFrame(),
            comparison=comparison,
        )

    numbers = (
        f"difference {twin_auc['difference']:+.4f}, 95% interval {twin_auc['low']:+.4f} "
        f"to {twin_auc['high']:+.4f}"
    )
    assert population(table[table["metric"] == "roc_auc"]).sentences() == [
        f"On the active customers the model's ROC AUC is not distinguishable from twin's "
        f"({numbers})."
    ]
    twin_brier = auc.loc[("twin", "brier")]
    assert twin_brier["verdict"] == "not distinguishable"
    assert population(table).sentences() == [
        f"On the active customers the model's ROC AUC and Brier score are not distinguishable "
        f"from twin's (ROC AUC {numbers}; Brier score difference {twin_brier['difference']:+.4f}, "
        f"95% interval {twin_brier['low']:+.4f} to {twin_brier['high']:+.4f})."
    ]
    better = table[table["baseline"] == "prior"]
    assert population(better).sentences() == [
        "On the active customers the model is better than every baseline beyond noise (ROC AUC, "
        "Brier score; 95% paired bootstrap intervals)."
    ]
    # seeded: the same intervals every time
    pd.testing.assert_frame_equal(
        table, compare_with_baselines(y, risks, {}, n_resamples=300, random_state=1)
    )


_NAMES = {"roc_auc": "ROC AUC", "brier": "Brier score", "log_loss": "next-stage log loss"}


def test_report_intervals_and_sentences_on_the_sample(trained):
    _, report = trained
    text = report.to_text()
    for pop in report.populations:
        table = pop.comparison
        assert set(table["baseline"]) == {"prior", "markov", "rfm_logistic"}
        assert set(table["metric"]) == {"roc_auc", "brier", "log_loss"}
        assert (
            (table["low"] <= table["difference"]) & (table["difference"] <= table["high"])
        ).all()
        noise = table[(table["low"] < 0) & (table["high"] > 0)]
        for row in noise.itertuples():  # every comparison within noise is said in words
            sentence = next(
                line
                for line in pop.sentences()
                if f"not distinguishable from {row.baseline}'s" in line
            )
            assert (
                f"difference {row.difference:+.4f}, 95% interval {row.low:+.4f} to {row.high:+.4f}"
            ) in sentence and sentence in text
        for row in table[table["verdict"] == "better"].itertuples():  # wins go unsaid
            assert not any(
                f"{row.baseline}'s" in line and _NAMES[row.metric] in line
                for line in pop.sentences()
            )
    assert report.sentences() and all(line in text for line in report.sentences())


def test_report_round_trips_through_json(trained):
    _, report = trained
    data = json.loads(json.dumps(report.to_dict()))
    again = EvaluationReport.from_dict(data)
    assert again.to_dict() == data
    assert again.to_text() == report.to_text()
    assert again._repr_html_() == report._repr_html_()
    # a report stored before populations existed still reads and prints its tables
    old = {k: data[k] for k in ("churn", "next_stage", "policy", "info")}
    assert "rfm_logistic" in EvaluationReport.from_dict(old).to_text()


def test_the_report_warns_when_the_held_out_period_churns_unlike_the_training_ones(trained, log):
    _, report = trained
    rates = [float(r) for r in report.info["train_churn_rates"]]
    assert len(rates) == len(report.info["train_cutoffs"])
    assert all(0 < r < 1 for r in rates)
    assert report.shift_sentence() is None  # the sample does not change over time
    assert "warning:" not in report.to_text()
    # a held-out period where almost nobody comes back (a log of new cohorts only, a
    # tracking change): the same log with 95% of the customers silent after the cutoff
    cut = pd.Timestamp(report.info["test_cutoff"])
    cut = cut.tz_localize("UTC") if cut.tz is None else cut
    frame = log.frame
    ids = frame["customer_id"].unique()
    keep = set(ids[::20])
    later = frame["timestamp"] > cut
    changed = frame[~later | frame["customer_id"].isin(keep)]
    _, shifted = cjml.train(
        changed, n_cutoffs=6, step="15D", test_cutoff=cut, recommender=False, value=False
    )
    sentence = shifted.shift_sentence()
    shifted_rates = [float(r) for r in shifted.info["train_churn_rates"]]
    assert shifted.info["churn_rate"] > max(shifted_rates) + SHIFT_POINTS
    assert sentence is not None and sentence.startswith(
        f"The held-out cutoff's churn rate ({shifted.info['churn_rate']:.1%}) lies far outside "
        f"the training cutoffs' ({min(shifted_rates):.1%} to "
    )
    assert f"warning: {sentence}" in shifted.to_text()
    assert "<b>Warning:</b>" in shifted._repr_html_()
    again = EvaluationReport.from_dict(json.loads(json.dumps(shifted.to_dict())))
    assert again.shift_sentence() == sentence
    # one cutoff, cross-validated: no training period to compare with
    assert (
        EvaluationReport.from_dict(
            {**shifted.to_dict(), "info": {**shifted.info, "cv": 5}}
        ).shift_sentence()
        is None
    )


def test_a_policy_valued_on_no_held_out_decision_prints_its_reason(trained):
    # a 150-day horizon on 400 days of 300 customers left 0 held-out anchors: the empty
    # table came back as {'index': []} and `cjml train` ended in an internal error
    _, report = trained
    data = json.loads(json.dumps(report.to_dict()))
    reason = "only 0 held-out anchors: too few to tell whether any touchpoint helps"
    data["policy"] = {
        "policy": "no action",
        "touchpoint": None,
        "stage_rule": {},
        "reason": reason,
        "n_anchors": 0,
        "test": "normalised",
        "table": {"index": []},
    }
    again = EvaluationReport.from_dict(data)
    assert again.policy_table() is None
    assert f"recommendation policy: no action: {reason}" in again.to_text()
    assert reason in again._repr_html_()


def test_report_header_counts_cutoffs_in_words(trained):
    _, report = trained
    data = json.loads(json.dumps(report.to_dict()))
    several = data["info"]["train_cutoffs"]
    assert len(several) > 1
    assert f"from {len(several)} earlier cutoffs ({several[0]} .. {several[-1]})" in (
        EvaluationReport.from_dict(data).to_text()
    )
    data["info"]["train_cutoffs"] = several[-1:]
    text = EvaluationReport.from_dict(data).to_text()
    assert f"from 1 earlier cutoff ({several[-1]})" in text
    assert "1 earlier cutoffs" not in text


# --------------------------------------------------------------- a training set too large
def test_a_customer_subset_has_the_whole_logs_features_and_labels(log):
    from cjml.training import _training_sample

    cutoffs = cjml.rolling_cutoffs(log, horizon="30D", n=3, step="30D")
    whole = cjml.make_training_set(log, cutoffs, horizon="30D")
    sub_log, sample = _training_sample(log, cutoffs, pd.Timedelta("90D"), len(whole) // 4)
    assert sample is not None and sample["of_rows"] == len(whole)
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=cutoffs[-1])
    part = cjml.make_training_set(sub_log, cutoffs, horizon="30D", featurizer=featurizer)
    assert len(part) == sample["rows"] and abs(len(part) - len(whole) / 4) < 0.1 * len(whole)
    assert part["customer_id"].nunique() == sample["customers"]
    # the same rows of the whole log's table, to the bit (features fitted on the same log)
    expected = cjml.make_training_set(log, cutoffs, horizon="30D", featurizer=featurizer)
    expected = expected.merge(part[["customer_id", "cutoff"]], on=["customer_id", "cutoff"])
    pd.testing.assert_frame_equal(
        part.sort_values(["cutoff", "customer_id"]).reset_index(drop=True),
        expected.sort_values(["cutoff", "customer_id"]).reset_index(drop=True),
    )
    assert _training_sample(log, cutoffs, pd.Timedelta("90D"), len(whole)) == (log, None)


def test_few_customers_with_long_histories_are_cut_by_the_events_their_rows_hold():
    """Rows that fit can still hold too many events: each row's features read the
    customer's whole history. 60 customers of 400 events: 20 events a row allowed."""
    from cjml.evaluation import training_sample_text
    from cjml.training import _training_sample

    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(60), 400)
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, 200, len(ids)) * rng.uniform(0.3, 1.0, 60)[ids], "D"
    )
    log = cjml.read_events(
        pd.DataFrame({"customer_id": ids, "timestamp": times, "touchpoint": "website_visit"})
    )
    cutoffs = cjml.rolling_cutoffs(log, horizon="30D", n=4, step="20D")
    whole = cjml.make_training_set(log, cutoffs, horizon="30D")
    max_rows = 1_000
    assert len(whole) < max_rows  # the rows fit ...
    sub, sample = _training_sample(log, cutoffs, pd.Timedelta("90D"), max_rows)
    # ... their histories do not: the events counted are the rows' own n_events
    assert sample["of_history_events"] == whole["n_events"].sum() > 20 * max_rows
    assert sample["of_rows"] == len(whole) and sample["max_history_events"] == 20_000
    # the part covers the whole log's period, though its customers' last events end sooner
    last = pd.Timestamp(int(sub.timestamps_ns.max()), tz="UTC")
    assert sub.data_end == log.data_end > last.floor("D") + pd.Timedelta("1D")
    part = cjml.make_training_set(sub, cutoffs, horizon="30D")
    assert part["customer_id"].nunique() == sample["customers"] < 60
    assert part["n_events"].sum() == sample["history_events"] < 1.25 * 20_000
    assert training_sample_text(sample).endswith(
        f"since the whole training set would have had {len(whole):,} rows whose histories "
        f"hold {sample['of_history_events']:,} events, more than the 20,000 allowed (20 "
        "events a row, with max_training_rows=1000, --max-training-rows 1000)"
    )
    assert _training_sample(log, cutoffs, pd.Timedelta("90D"), 100_000) == (log, None)


def test_train_keeps_a_random_share_of_customers_above_max_training_rows(log, trained):
    bundle, report = cjml.train(
        log, n_cutoffs=6, step="15D", max_training_rows=4_000, recommender=False, survival=False
    )
    sample = bundle.metadata["training_sample"]
    full_rows = trained[0].metadata["n_train_rows"]
    assert trained[0].metadata["training_sample"] is None
    assert (bundle.metadata["max_training_rows"], trained[0].metadata["max_training_rows"]) == (
        4_000,
        2_000_000,
    )
    assert sample["of_rows"] == full_rows and sample["rows"] == bundle.metadata["n_train_rows"]
    assert 3_600 <= sample["rows"] <= 4_400 and sample["customers"] < sample["of_customers"]
    # the evaluation still scores every customer of the test cutoff
    assert report.info["n_test"] == trained[1].info["n_test"]
    first = report.to_text().splitlines()[0]
    assert f"trained on {sample['rows']:,} rows" in first
    assert (
        f"of a random {sample['customers'] / sample['of_customers']:.0%} of the customers: "
        f"{sample['customers']:,} of {sample['of_customers']:,}, since the whole training set "
        f"would have had {full_rows:,} rows, more than the 4,000 allowed "
        "(max_training_rows=4000, --max-training-rows 4000)"
    ) in first
    # evaluating the bundle later cuts the baselines' rows the same way
    again = cjml.evaluate(log, bundle, test_cutoff=bundle.metadata["test_cutoff"][:10])
    assert again.info["training_sample"] == sample
    with pytest.raises(ValueError, match="max_training_rows must be a whole number of at least"):
        cjml.train(log, max_training_rows=10)


def test_rows_of_many_features_count_for_more_against_the_limit(log):
    """The training table's cells take the memory: with twice FEATURES_PER_ROW features a
    row, half as many rows are allowed (a map of thousands of pages); at most as many
    features, the limit on rows is as before."""
    from cjml.evaluation import training_sample_text
    from cjml.training import FEATURES_PER_ROW, _training_sample

    cutoffs = cjml.rolling_cutoffs(log, horizon="30D", n=6, step="15D")
    total = _training_sample(log, cutoffs, "90D", 1)[1]["of_rows"]
    assert _training_sample(log, cutoffs, "90D", total, n_features=FEATURES_PER_ROW)[1] is None
    kept, sample = _training_sample(log, cutoffs, "90D", total, n_features=2 * FEATURES_PER_ROW)
    assert sample["max_rows_for_features"] == total // 2 and sample["features"] == 260
    assert 0.4 * total <= sample["rows"] <= 0.6 * total and kept.n_customers == sample["customers"]
    assert training_sample_text(sample).endswith(
        f"since the whole training set would have had {total:,} rows of 260 features, more than "
        f"the {total // 2:,} allowed: the limit of {total:,} rows (max_training_rows={total}, "
        f"--max-training-rows {total}) holds for rows of at most 130 features, wider rows in "
        "proportion"
    )


def test_cross_validation_cuts_its_one_cutoff_the_same_way(log):
    bundle, report = cjml.train(
        log, cv=2, max_training_rows=1_000, recommender=False, survival=False, value=False
    )
    sample = bundle.metadata["training_sample"]
    assert sample["rows"] == sample["customers"] == report.info["n_test"] <= 1_000
    assert "of a random" in report.to_text().splitlines()[0]
    again = cjml.evaluate(log, bundle, cv=2)
    assert again.info["training_sample"] == sample and again.info["n_test"] == sample["rows"]
