"""The BG/NBD x Gamma-Gamma baseline, the RFM summary, the spend rate and the value metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.datasets._simulator import _AMOUNT_MEAN, PERSONAS
from cjml.evaluation import EvaluationReport
from cjml.value import (
    BetaGeoGammaGamma,
    rfm_summary,
    spend_rate_forecast,
    value_metrics,
    value_report,
)
from cjml.value._btyd import btyd_predictions
from cjml.value._metrics import CEILING, value_table, value_text

TRUE_BG = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}


def simulate_bgnbd(n, T, t_future, seed):
    """Customers from BG/NBD x Gamma-Gamma: calibration statistics and future spend."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)
    p_drop = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["gamma"], n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    spend = np.zeros(n)
    future = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, bool)
    horizon = T + t_future
    for _ in range(400):
        t = t + rng.exponential(1.0 / lam)
        buys = alive & (t <= horizon)
        if not buys.any():
            break
        amount = rng.gamma(TRUE_GG["p"], 1.0 / nu)
        calib = buys & (t <= T)
        x += calib
        t_x = np.where(calib, t, t_x)
        spend += np.where(calib, amount, 0.0)
        future += np.where(buys & (t > T), amount, 0.0)
        alive = buys & (rng.uniform(size=n) >= p_drop)
    m = np.where(x > 0, spend / np.maximum(x, 1), 0.0)
    return x, t_x, m, future


@pytest.fixture(scope="module")
def world():
    n = 6000
    T = np.random.default_rng(1).uniform(26, 39, n)
    x, t_x, m, future = simulate_bgnbd(n, T, 39.0, seed=2)
    return {"x": x, "t_x": t_x, "T": T, "m": m, "future": future}


@pytest.fixture(scope="module")
def fitted(world):
    w = world
    return BetaGeoGammaGamma().fit(w["x"], w["t_x"], w["T"], w["m"])


def test_recovers_the_parameters_it_was_simulated_with(fitted):
    params = fitted.params_
    for name, true in {**TRUE_BG, **TRUE_GG}.items():
        # a and b are weakly identified one by one (their ratio is not, below)
        assert params[name] == pytest.approx(true, rel=0.5 if name in "ab" else 0.3), name
    drop = params["a"] / (params["a"] + params["b"])
    assert drop == pytest.approx(TRUE_BG["a"] / (TRUE_BG["a"] + TRUE_BG["b"]), rel=0.15)
    # the means the parameters imply are pinned down tighter than the parameters themselves
    rate = params["r"] / params["alpha"]
    assert rate == pytest.approx(TRUE_BG["r"] / TRUE_BG["alpha"], rel=0.1)
    mean_spend = params["p"] * params["gamma"] / (params["q"] - 1)
    true_mean = TRUE_GG["p"] * TRUE_GG["gamma"] / (TRUE_GG["q"] - 1)
    assert mean_spend == pytest.approx(true_mean, rel=0.1)
    assert fitted.n_customers_ == 6000
    assert 0 < fitted.n_repeat_buyers_ < 6000


def test_expected_spend_matches_the_simulated_future(fitted, world):
    w = world
    predicted = fitted.expected_spend(w["x"], w["t_x"], w["T"], w["m"], 39.0)
    assert predicted.shape == (6000,)
    assert np.all(predicted >= 0)
    assert predicted.sum() / w["future"].sum() == pytest.approx(1.0, abs=0.1)
    assert value_metrics(w["future"], predicted)["spearman"] > 0.4


def test_conditional_formulas_behave(fitted):
    # P(alive) is 1 without a repeat purchase and falls as the last purchase gets older
    x = np.array([0, 3, 3, 3])
    t_x = np.array([0.0, 30.0, 20.0, 5.0])
    T = np.full(4, 30.0)
    alive = fitted.probability_alive(x, t_x, T)
    assert alive[0] == 1.0
    assert np.all(np.diff(alive[1:]) < 0)
    assert np.all(fitted.expected_purchases(x, t_x, T, 0.0) == 0.0)
    more = fitted.expected_purchases(x, t_x, T, 52.0)
    assert np.all(more > fitted.expected_purchases(x, t_x, T, 10.0))
    # Gamma-Gamma shrinks a customer's mean towards the population mean, less with more purchases
    p, q, g = (fitted.params_[k] for k in ("p", "q", "gamma"))
    population = p * g / (q - 1)
    few, many = fitted.expected_spend_per_purchase([1, 20], [population * 3] * 2)
    assert population < few < many < population * 3
    assert fitted.expected_spend_per_purchase([0], [999.0])[0] == pytest.approx(population)


def test_bad_input_gets_one_clear_line():
    model = BetaGeoGammaGamma()
    with pytest.raises(RuntimeError, match="not fitted yet"):
        model.probability_alive([1], [1.0], [2.0])
    with pytest.raises(ValueError, match="recency must not exceed T"):
        model.fit([1, 2], [5.0, 1.0], [3.0, 4.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="frequency must be finite and non-negative"):
        model.fit([-1, 2], [0.0, 1.0], [3.0, 4.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="whole purchases"):
        model.fit([1.5, 2], [1.0, 1.0], [3.0, 4.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="one value per customer"):
        model.fit([1, 2], [1.0, 1.0], [3.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="without repeat purchases has recency 0"):
        model.fit([0, 2], [1.0, 1.0], [3.0, 4.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 10 repeat buyers"):
        model.fit([0, 0, 1], [0.0, 0.0, 1.0], [3.0, 4.0, 5.0], [0.0, 0.0, 2.0])


def _log(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint", "amount"])
    return cjml.read_events(frame)


def test_rfm_summary_by_hand():
    log = _log(
        [
            ("a", "2024-01-01 09:00", "purchase", 10.0),
            ("a", "2024-01-01 18:00", "purchase", 5.0),  # same day: one purchase of 15
            ("a", "2024-01-08 10:00", "purchase", 20.0),
            ("a", "2024-01-15 10:00", "purchase", 40.0),
            ("a", "2024-02-20 10:00", "purchase", 99.0),  # after the cutoff
            ("b", "2024-01-10 10:00", "purchase", 7.0),
            ("b", "2024-01-11 10:00", "website_visit", np.nan),
            ("c", "2024-01-05 10:00", "website_visit", np.nan),  # never bought
        ]
    )
    weeks = rfm_summary(log, "2024-01-29")
    assert list(weeks.index) == ["a", "b"]
    a, b = weeks.loc["a"], weeks.loc["b"]
    assert a["frequency"] == 2
    assert a["recency"] == pytest.approx(2.0)  # Jan 1 -> Jan 15
    assert a["T"] == pytest.approx(4.0)  # Jan 1 -> Jan 29
    assert a["monetary_value"] == pytest.approx(30.0)  # mean of the repeats, 20 and 40
    assert a["total_spend"] == pytest.approx(75.0)
    assert (b["frequency"], b["recency"], b["monetary_value"], b["total_spend"]) == (0, 0, 0, 7)
    days = rfm_summary(log, "2024-01-29", unit="D")
    assert days.loc["a", "T"] == 28 and days.loc["b", "T"] == 19
    # a day that returns more than it buys is not a purchase day (BG/NBD counts transactions)
    refunded = _log(
        [
            ("a", "2024-01-01 09:00", "purchase", 10.0),
            ("a", "2024-01-08 10:00", "purchase", 20.0),
            ("a", "2024-01-10 10:00", "purchase", -25.0),  # a refund alone on its day
            ("a", "2024-01-15 10:00", "purchase", 40.0),
            ("a", "2024-01-15 11:00", "purchase", -10.0),  # same day, the net still a purchase
        ]
    )
    a = rfm_summary(refunded, "2024-01-29").loc["a"]
    assert (a["frequency"], a["recency"], a["monetary_value"], a["total_spend"]) == (2, 2, 25, 60)
    with pytest.raises(ValueError, match="unit must be 'W'"):
        rfm_summary(log, "2024-01-29", unit="M")
    no_amount = cjml.read_events(
        pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "touchpoint": "purchase"})
    )
    with pytest.raises(ValueError, match="no amount column"):
        rfm_summary(no_amount, "2024-01-29")


def test_spend_rate_forecast():
    out = spend_rate_forecast([70.0, 10.0, 0.0], [7.0, 0.0, 3.0], 39)
    np.testing.assert_allclose(out, [390.0, 390.0, 0.0])
    with pytest.raises(ValueError, match="one value per customer"):
        spend_rate_forecast([1.0], [1.0, 2.0], 39)


def test_btyd_predictions_on_the_simulator():
    log = cjml.read_events(cjml.datasets.make_journeys(600, n_days=150, random_state=3).events)
    cutoff = log.frame["timestamp"].min() + pd.Timedelta(days=120)
    ids = pd.Index(log.frame["customer_id"].unique())
    out = btyd_predictions(log, cutoff, ids, "30D")
    assert set(out) == {"BG/NBD x Gamma-Gamma", "spend per week"}
    buyers = rfm_summary(log, cutoff).index
    for values in out.values():
        assert values.shape == (len(ids),) and np.all(values >= 0)
        assert np.all(values[~ids.isin(buyers)] == 0)
        assert values[ids.isin(buyers)].sum() > 0


@settings(max_examples=40, deadline=None)
@given(
    r=st.floats(0.05, 5.0),
    alpha=st.floats(0.5, 50.0),
    a=st.floats(0.05, 5.0),
    b=st.floats(0.05, 5.0),
    t=st.floats(0.5, 52.0),
)
def test_expected_purchases_by_quadrature_equal_the_closed_form(r, alpha, a, b, t):
    """The integral the rows next to a pole fall back on is the same expectation."""
    from cjml.value._btyd import _NEAR_POLE, _purchases_if_alive

    x = np.arange(8, dtype=float)
    age = np.linspace(2.0, 40.0, 8)
    t_x = np.where(x > 0, age / 2, 0.0)
    c = a + b + x - 1
    away = ~((c < 0.5) & (np.abs(c - np.round(c)) < 0.01)) & (abs(a - 1) > 0.01)
    model = BetaGeoGammaGamma()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    closed = model.expected_purchases(x, t_x, age, t)
    integrated = model.probability_alive(x, t_x, age) * _purchases_if_alive(
        r, alpha, a, b, x, age, t
    )
    assert _NEAR_POLE < 0.01
    np.testing.assert_allclose(closed[away], integrated[away], rtol=1e-7)


def test_expected_purchases_of_a_fit_at_the_boundary_are_not_zero():
    """a and b near 0 (a fit at the edge of its bounds, as on a regular bank's card
    payments): the closed form's 2F1 sits on its pole and gave 0 for everyone."""
    k = {"r": 1.355e6, "alpha": 1.216e7, "a": 2.0e-8, "b": 4.8e-7}
    model = BetaGeoGammaGamma()
    model.params_ = dict(k)
    x = np.array([0.0, 1.0, 2.0, 5.0])
    age = np.array([10.0, 10.0, 20.0, 30.0])
    t_x = np.array([0.0, 5.0, 10.0, 29.0])
    t = 30 / 7
    out = model.expected_purchases(x, t_x, age, t)
    # the limit: after a repeat purchase the alive never drop out (p ~ Beta(a, b + x) is
    # all at 0), so their count is Poisson at the posterior mean rate
    poisson = (k["r"] + x) * t / (k["alpha"] + age)
    alive = model.probability_alive(x, t_x, age)
    np.testing.assert_allclose(out[1:], (alive * poisson)[1:], rtol=1e-5)
    # without a repeat purchase, p is 1 with probability a / (a + b): gone at the next one
    share = k["a"] / (k["a"] + k["b"])
    once = -np.expm1(-k["r"] * np.log1p(t / (k["alpha"] + age[0])))
    # (a two-point limit: the fitted a and b are small, not 0)
    assert out[0] == pytest.approx((1 - share) * poisson[0] + share * once, rel=1e-4)
    assert out[0] != pytest.approx(poisson[0], rel=1e-3)


def test_the_integral_gives_each_customer_the_same_bits_in_any_batch():
    """Scoring in chunks must equal scoring at once: no row depends on its neighbours."""
    from cjml.value._btyd import _purchases_if_alive

    k = {"r": 1.355e6, "alpha": 1.216e7, "a": 2.0e-8, "b": 4.8e-7}
    x = np.repeat([0.0, 1.0, 2.0], 400)
    age = np.linspace(1.0, 40.0, 1200)
    whole = _purchases_if_alive(k["r"], k["alpha"], k["a"], k["b"], x, age, 4.0)
    parts = [
        _purchases_if_alive(k["r"], k["alpha"], k["a"], k["b"], x[i : i + 7], age[i : i + 7], 4.0)
        for i in range(0, len(x), 7)
    ]
    assert np.array_equal(whole, np.concatenate(parts))


def test_the_integral_at_the_other_boundary_is_the_point_mass_of_p():
    """a and b ~ 1e5 (most scenario worlds' fits): p is all but fixed at a / (a + b); the
    quadrature rule overflows there and the integral takes that point, which agrees with
    the closed form."""
    from cjml.value._btyd import _purchases_if_alive

    k = {"r": 2.0, "alpha": 30.0, "a": 3.6e5, "b": 1.8e6}
    model = BetaGeoGammaGamma()
    model.params_ = dict(k)
    x = np.array([0.0, 1.0, 3.0, 8.0])
    age = np.array([5.0, 10.0, 20.0, 30.0])
    t_x = np.array([0.0, 4.0, 15.0, 29.0])
    closed = model.expected_purchases(x, t_x, age, 4.0)
    integrated = model.probability_alive(x, t_x, age) * _purchases_if_alive(
        k["r"], k["alpha"], k["a"], k["b"], x, age, 4.0
    )
    assert np.all(np.isfinite(integrated))
    np.testing.assert_allclose(integrated, closed, rtol=1e-4)


def test_btyd_predictions_on_a_world_whose_fit_reaches_the_boundary():
    """A scenario world where BG/NBD's fit ends at a, b ~ 0: the baseline still forecasts."""
    data = cjml.datasets.make_scenario("bank_stage_effects", 3000, 5)
    log = cjml.read_events(data.events, journey_map=data.journey_map)
    cutoff = data.test_cutoff - pd.Timedelta(days=30)
    buyers = rfm_summary(log, cutoff).index
    out = btyd_predictions(log, cutoff, buyers, "30D")["BG/NBD x Gamma-Gamma"]
    events = data.events
    later = (events["timestamp"] > cutoff) & (events["timestamp"] <= data.test_cutoff)
    actual = events.loc[later & (events["amount"] > 0), "amount"].sum()
    assert np.all(np.isfinite(out)) and np.all(out > 0)
    assert 0.5 < out.sum() / actual < 2.0


# ------------------------------------------------------------------ metrics
def test_metrics_by_hand():
    actual = [0, 0, 10, 30]
    perfect = value_metrics(actual, [1, 0, 2, 3])
    assert perfect["normalised_gini"] == pytest.approx(1.0)
    assert perfect["top10_capture"] == pytest.approx(0.4 * 30 / 40)  # 0.4 of the top customer
    assert perfect["top20_capture"] == pytest.approx(0.8 * 30 / 40)
    assert perfect["revenue_ratio"] == pytest.approx(6 / 40)
    assert perfect["n"] == 4
    reverse = value_metrics(actual, [3, 2, 1, 0])
    assert reverse["normalised_gini"] == pytest.approx(-1.0)
    assert reverse["top20_capture"] == 0.0
    assert reverse["spearman"] < 0
    # a constant forecast is a random order: Gini 0, capture = share of customers
    flat = value_metrics(actual, [5, 5, 5, 5])
    assert flat["normalised_gini"] == pytest.approx(0.0)
    assert flat["top20_capture"] == pytest.approx(0.2)
    assert math.isnan(flat["spearman"])
    assert math.isnan(value_metrics([0, 0], [1, 2])["normalised_gini"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=40),
    st.randoms(use_true_random=False),
)
def test_metrics_do_not_depend_on_row_order(values, rnd):
    actual = np.array(values)
    predicted = np.round(actual / 100.0)  # ties on purpose
    order = list(range(len(actual)))
    rnd.shuffle(order)
    a = value_metrics(actual, predicted)
    b = value_metrics(actual[order], predicted[order])
    for key in ("normalised_gini", "top10_capture", "top20_capture"):
        assert a[key] == pytest.approx(b[key], nan_ok=True, abs=1e-12)
    if np.ptp(actual) > 1e-3:  # equal values have no ordering to recover: Gini undefined
        assert -1.0 - 1e-9 <= a["normalised_gini"] <= 1.0 + 1e-9
        assert 0.0 <= a["top20_capture"] <= 1.0 + 1e-12


def test_metrics_refuse_bad_input():
    with pytest.raises(ValueError, match="one value per customer"):
        value_metrics([1, 2], [1])
    with pytest.raises(ValueError, match="predicted has 1 missing"):
        value_metrics([1, 2], [1, np.nan])
    with pytest.raises(ValueError, match="actual spend must be non-negative"):
        value_metrics([-1, 2], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        value_metrics([], [])
    with pytest.raises(ValueError, match="predictions is empty"):
        value_report([1, 2], {})


def test_value_report_round_trips_and_renders_in_the_evaluation_report():
    actual = np.array([0.0, 0.0, 10.0, 30.0, 5.0])
    report = value_report(
        actual, {"model": [1, 0, 2, 3, 1], "flat": [2, 2, 2, 2, 2]}, info={"horizon": "30D"}
    )
    back = json.loads(json.dumps(report, allow_nan=False))
    assert back == report
    assert list(back["models"]) == ["model", "flat"]
    assert back["models"]["flat"]["spearman"] is None
    assert back["ceiling"]["normalised_gini"] == 1.0 and back["ceiling"]["revenue_ratio"] is None
    table = value_table(back)
    assert list(table.index) == ["model", "flat", CEILING]
    assert table.loc["flat", "revenue_ratio"] == pytest.approx(10 / 45)
    text = value_text(back)
    assert "5 customers" in text and "40% spent nothing" in text and CEILING in text

    evaluation = EvaluationReport(
        churn=pd.DataFrame(),
        next_stage=pd.DataFrame(),
        confusion=pd.DataFrame(),
        importance=pd.Series(dtype=float),
        info={
            "test_cutoff": "2024-03-01",
            "horizon": "30D",
            "n_test": 5,
            "n_train": 10,
            "churn_rate": 0.4,
            "train_cutoffs": ["2024-02-01"],
        },
        value=back,
    )
    assert text in evaluation.to_text()
    assert "<h4>Value over the horizon</h4>" in evaluation._repr_html_()
    again = EvaluationReport.from_dict(json.loads(json.dumps(evaluation.to_dict())))
    assert again.value == report
    assert evaluation._value_text() == again._value_text()
    without = EvaluationReport.from_dict({**evaluation.to_dict(), "value": None})
    assert "value over the horizon" not in without.to_text()


# ------------------------------------------------------------------ simulator truth
def test_simulator_truth_knows_the_expected_spend():
    data = cjml.datasets.make_journeys(
        1500, n_days=160, truth_cutoffs=["2024-04-20"], n_rollouts=16, random_state=2
    )
    truth = data.truth
    value = truth["expected_value"].to_numpy()
    assert np.all(value >= 0) and np.isfinite(value).all()
    # customers all but surely gone are worth nothing
    assert np.all(value[truth["p_active"].to_numpy() < 1e-9] == 0)
    # it is what the simulation then spent, on average, and ranks the customers' spend
    cutoff = pd.Timestamp("2024-04-20", tz="UTC")
    ev = data.events
    window = ev[(ev["timestamp"] > cutoff) & (ev["timestamp"] <= cutoff + pd.Timedelta("30D"))]
    spent = window.groupby("customer_id")["amount"].sum().reindex(truth["customer_id"]).fillna(0)
    # purchases: about 230 here, so a 15% band is 2 Poisson standard deviations
    mean_amount = pd.Series(_AMOUNT_MEAN, PERSONAS)[truth["persona"].astype(str)].to_numpy()
    bought = int((window["touchpoint"] == "purchase").sum())
    assert (value / mean_amount).sum() / bought == pytest.approx(1.0, abs=0.15)
    # spend is noisier (a few b2b purchases of about 900)
    assert value.sum() / spent.sum() == pytest.approx(1.0, abs=0.3)
    assert value_metrics(spent, value)["spearman"] > 0.3
    # b2b buyers spend about 900 a purchase, bargain hunters 30
    by_persona = truth.groupby("persona", observed=True)["expected_value"].mean()
    assert by_persona["b2b_buyer"] > by_persona["bargain_hunter"]


def test_btyd_predictions_without_enough_repeat_buyers_keep_the_spend_rate():
    log = _log(
        [
            ("a", "2024-01-01 09:00", "purchase", 10.0),
            ("a", "2024-01-08 09:00", "purchase", 30.0),
            ("b", "2024-01-03 09:00", "purchase", 7.0),
        ]
    )
    out = btyd_predictions(log, "2024-01-15", ["a", "b", "c"], "14D")
    assert list(out) == ["spend per week"]
    # a: 40 over its 2 weeks -> 40 in 2 weeks; b: 7 over 1.71 weeks; c never bought
    np.testing.assert_allclose(out["spend per week"], [40.0, 7.0 / (12 / 7) * 2, 0.0])


def test_scenario_truth_knows_the_expected_spend():
    data = cjml.datasets.make_scenario("small_shop", n_customers=1500, seed=0)
    truth, ev = data.truth, data.events
    value = truth["expected_value"].to_numpy()
    assert np.all(value >= 0) and np.isfinite(value).all()
    cutoff, horizon = data.test_cutoff, pd.Timedelta(days=data.horizon_days)
    window = ev[(ev["timestamp"] > cutoff) & (ev["timestamp"] <= cutoff + horizon)]
    spent = window.groupby("customer_id")["amount"].sum().reindex(truth["customer_id"]).fillna(0)
    assert value.sum() / spent.sum() == pytest.approx(1.0, abs=0.15)
    assert value_metrics(spent, value)["spearman"] > 0.3
