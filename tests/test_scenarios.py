"""Tests of the scenario suite: contract, determinism and exactness of the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.datasets import (
    DEVELOPMENT_SCENARIOS,
    HELD_OUT_SCENARIOS,
    SCENARIOS,
    ScenarioSpec,
    make_scenario,
)
from cjml.datasets._scenarios import _build
from cjml.exceptions import CjmlError
from cjml.labels import make_labels

EVENT_DTYPES = {
    "customer_id": "int64",
    "timestamp": "datetime64[ns, UTC]",
    "touchpoint": "object",
    "stage": "object",
    "channel": "object",
    "satisfaction": "float64",
    "amount": "float64",
    "segment": "object",
}


def _labels(data) -> pd.Series:
    """Realised label of each truth row: no event in (cutoff, cutoff + horizon]."""
    ev, c = data.events, data.test_cutoff
    end = c + pd.Timedelta(days=data.horizon_days)
    seen = ev.loc[(ev["timestamp"] > c) & (ev["timestamp"] <= end), "customer_id"].unique()
    return ~data.truth["customer_id"].isin(seen)


def _z(labels, risk) -> float:
    """Standardised gap between realised and predicted label means."""
    labels, risk = np.asarray(labels, float), np.asarray(risk, float)
    sd = np.sqrt(np.sum(risk * (1.0 - risk))) / len(risk)
    return float((labels.mean() - risk.mean()) / sd)


def _next_cols(jm) -> list[str]:
    return [f"p_next_{s}" for s in (*jm.stages, "dropped")]


def _realised_next_stage(data) -> np.ndarray:
    """Realised next-stage label of each truth row (cjml's labels, every customer seen)."""
    log = cjml.read_events(data.events, journey_map=data.journey_map)
    labels = make_labels(log, data.test_cutoff, horizon=f"{data.horizon_days}D", lookback=None)
    labels = labels.loc[data.test_cutoff]["next_stage"].astype(str)
    return labels.reindex(data.truth["customer_id"]).to_numpy()


def test_registry_and_split():
    assert len(SCENARIOS) >= 10
    assert set(DEVELOPMENT_SCENARIOS).isdisjoint(HELD_OUT_SCENARIOS)
    assert set(DEVELOPMENT_SCENARIOS) | set(HELD_OUT_SCENARIOS) == set(SCENARIOS)
    assert DEVELOPMENT_SCENARIOS[:5] == (
        "experience_memory",
        "contact_fatigue",
        "price_sensitivity",
        "rare_touchpoint",
        "small_shop",
    )
    for name, spec in SCENARIOS.items():
        assert isinstance(spec, ScenarioSpec) and spec.name == name
        assert spec.split in ("development", "held_out")
        assert spec.description.endswith(".") and spec.n_customers >= 2000
        assert spec.horizon_days == 30 and spec.cutoff_day >= 150
    with pytest.raises(AttributeError):
        SCENARIOS["small_shop"].n_customers = 3


def test_unknown_name_lists_the_names():
    with pytest.raises(CjmlError, match="small_shop") as err:
        make_scenario("small_shops")
    assert "Did you mean 'small_shop'" in str(err.value)
    with pytest.raises(CjmlError, match="n_customers"):
        make_scenario("small_shop", n_customers=0)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_contract(name):
    data = make_scenario(name, n_customers=400, seed=3)
    ev, truth, jm = data.events, data.truth, data.journey_map
    expected = [k for k in EVENT_DTYPES if k != "satisfaction" or k in ev]
    assert list(ev.columns) == expected
    for col in expected:
        if EVENT_DTYPES[col] == "object":  # text: object with pandas 2, str with pandas 3
            assert pd.api.types.is_string_dtype(ev[col]), col
        else:
            assert str(ev[col].dtype) == EVENT_DTYPES[col], col
    assert (ev["customer_id"].diff().fillna(0) >= 0).all()
    assert ev.groupby("customer_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    if "satisfaction" in ev:
        sat = ev["satisfaction"].dropna()
        assert sat.between(1, 5).all() and ev["satisfaction"].isna().any() and len(sat)
    assert ev["amount"].notna().any() and (ev["amount"].dropna() > 0).all()
    assert set(ev["stage"]) <= set(jm.stages) and set(ev["touchpoint"]) <= set(jm.touchpoint_names)
    assert 5 <= len(jm.actionable_touchpoints) <= 10
    log = cjml.read_events(ev, journey_map=jm)
    assert log is not None
    # the period covers the horizon; the cutoff is a UTC midnight with enough history
    c = data.test_cutoff
    assert c == c.normalize() and str(c.tz) == "UTC" and data.horizon_days == 30
    assert ev["timestamp"].min() <= c - pd.Timedelta(days=150)
    assert ev["timestamp"].max() > c + pd.Timedelta(days=25)
    # truth: one row per customer seen before the cutoff, stage as in the log
    before = ev[ev["timestamp"] <= c]
    last = before.groupby("customer_id").tail(1).set_index("customer_id")
    assert sorted(truth["customer_id"]) == sorted(last.index)
    assert (truth.set_index("customer_id")["stage"] == last["stage"]).all()
    risk_cols = [f"risk_{t}" for t in jm.actionable_touchpoints]
    assert list(truth.columns) == [
        "customer_id",
        "persona",
        "stage",
        "active",
        "p_active",
        "risk_no_action",
        "risk_full_no_action",
        *risk_cols,
        *_next_cols(jm),
        "expected_value",
    ]
    assert truth["active"].dtype == bool and truth["p_active"].between(0, 1).all()
    for col in ["risk_no_action", "risk_full_no_action", *risk_cols]:
        assert truth[col].dropna().between(0, 1).all()
    assert (truth.loc[~truth["active"], "risk_full_no_action"] == 1).all()
    for t in jm.actionable_touchpoints:
        eligible = truth["stage"].map(lambda s, t=t: s in jm[t].stages)
        assert (truth[f"risk_{t}"].notna() == eligible).all()
    cust = data.customers
    assert list(cust.columns[:5]) == ["customer_id", "persona", "segment", "arrival", "dropout"]
    assert len(cust) == 400 and 0.75 < (cust["persona"] == cust["segment"]).mean() < 0.95
    assert data.spec is SCENARIOS[name]


def test_same_seed_same_output_and_seeds_differ():
    a = make_scenario("small_shop", n_customers=300, seed=5)
    b = make_scenario("small_shop", n_customers=300, seed=5)
    c = make_scenario("small_shop", n_customers=300, seed=6)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert not a.events.equals(c.events)
    # worlds differ for the same seed (the name is mixed into the seed)
    d = make_scenario("contact_fatigue", n_customers=300, seed=5)
    assert not np.array_equal(a.customers["arrival"], d.customers["arrival"])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_action_truth_matches_realised_labels(name):
    data = make_scenario(name, n_customers=5000, seed=11)
    labels = _labels(data)
    truth = data.truth
    assert abs(_z(labels, truth["risk_no_action"])) < 4
    assert abs(_z(labels, truth["risk_full_no_action"])) < 4
    # the posterior of being there matches who actually is
    p = truth["p_active"]
    assert abs(truth["active"].mean() - p.mean()) < 4 * np.sqrt((p * (1 - p)).sum()) / len(p)


@pytest.mark.parametrize(
    ("name", "touchpoint"),
    [
        ("experience_memory", "email"),
        ("experience_memory", "consultation"),
        ("contact_fatigue", "callback"),
        ("unresolved_tickets", "support_follow_up"),
        ("bank_stage_effects", "cross_sell_call"),
        ("silent_leavers", "success_call"),
    ],
)
def test_forced_touchpoint_matches_risk_t(name, touchpoint):
    plain = _build(name, 6000, 2)
    forced = _build(name, 6000, 2, _force_touchpoint=touchpoint)
    c = plain.test_cutoff
    # the history before the cutoff and the truth are the same in the replay
    pd.testing.assert_frame_equal(
        plain.events[plain.events["timestamp"] <= c].reset_index(drop=True),
        forced.events[forced.events["timestamp"] <= c].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(plain.truth, forced.truth)
    truth = forced.truth
    risk = truth[f"risk_{touchpoint}"]
    ok = risk.notna().to_numpy()
    assert ok.sum() > 1000
    labels = _labels(forced)[ok]
    assert abs(_z(labels, risk[ok])) < 4
    # the forced world is not the plain one (the touchpoint did something)
    assert not np.array_equal(labels, _labels(plain)[ok])


def test_rare_touchpoint_is_rare():
    data = make_scenario("rare_touchpoint", n_customers=5000, seed=0)
    share = (data.events["touchpoint"] == "vip_gift").mean()
    assert 0 < share < 0.01
    assert data.journey_map["vip_gift"].actionable


def test_fixed_lifecycle_touchpoints_have_no_effect():
    data = make_scenario("fixed_lifecycle", n_customers=2000, seed=1)
    truth = data.truth
    for t in data.journey_map.actionable_touchpoints:
        risk = truth[f"risk_{t}"]
        ok = risk.notna()
        assert ok.any()
        np.testing.assert_array_equal(
            risk[ok].to_numpy(), truth.loc[ok, "risk_no_action"].to_numpy()
        )


def test_effects_are_modest_and_heterogeneous():
    data = make_scenario("experience_memory", n_customers=4000, seed=0)
    truth = data.truth[data.truth["active"]]
    effects = {
        t: truth[f"risk_{t}"] - truth["risk_no_action"]
        for t in data.journey_map.actionable_touchpoints
    }
    assert all(e.abs().max() < 0.25 for e in effects.values())
    # the promotional email helps some personas and harms others
    by_persona = effects["email"].groupby(truth["persona"]).mean()
    assert by_persona.min() < 0 < by_persona.max()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_next_stage_truth_contract(name):
    data = make_scenario(name, n_customers=400, seed=3)
    truth, stages = data.truth, list(data.journey_map.stages)
    p = truth[_next_cols(data.journey_map)].to_numpy()
    assert (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(truth["p_next_dropped"], truth["risk_no_action"])
    # the stage only moves up: no probability below the current stage, some on or above it
    current = truth["stage"].map(stages.index).to_numpy()
    below = np.arange(len(stages))[None, :] < current[:, None]
    assert (p[:, :-1][below] == 0).all()
    there = (1.0 - truth["risk_no_action"]).to_numpy()
    np.testing.assert_allclose(p[:, :-1].sum(axis=1), there, rtol=0, atol=1e-12)


def test_next_stage_exact_where_the_stage_cannot_move():
    from cjml.datasets._scenarios import _BUILDERS, _top_stages, _World

    for name in ("fixed_lifecycle", "silent_leavers"):
        data = make_scenario(name, n_customers=1500, seed=2)
        truth, stages = data.truth, list(data.journey_map.stages)
        top = _top_stages(_World(_BUILDERS[name]()))
        # no touchpoint moves the last stage; every other stage of these worlds moves
        assert top.tolist() == [len(stages) - 1] * len(stages)
        last = truth[truth["stage"] == stages[-1]]
        assert len(last) > 10
        there = (1.0 - last["risk_no_action"]).to_numpy()
        np.testing.assert_allclose(last[f"p_next_{stages[-1]}"], there, rtol=0, atol=1e-12)
        for s in stages[:-1]:
            assert (last[f"p_next_{s}"] == 0).all()
        # elsewhere the stage may move, and sometimes does
        moving = truth[truth["stage"] == stages[0]]
        assert (moving[f"p_next_{stages[1]}"] > 0).all()


def test_next_stage_streams_leave_everything_else_unchanged():
    # the rollouts draw from their own stream: same seed, same columns; another seed differs
    a = make_scenario("experience_memory", n_customers=600, seed=8)
    b = _build("experience_memory", 600, 8, _force_touchpoint="email")
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = make_scenario("experience_memory", n_customers=600, seed=9)
    cols = _next_cols(a.journey_map)
    assert not np.allclose(a.truth[cols].to_numpy()[:100], c.truth[cols].to_numpy()[:100])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_next_stage_truth_matches_realised_labels(name):
    data = make_scenario(name, n_customers=5000, seed=11)
    labels = _realised_next_stage(data)
    classes = [*data.journey_map.stages, "dropped"]
    p = data.truth[_next_cols(data.journey_map)].to_numpy()
    y = (labels[:, None] == np.array(classes)[None, :]).astype(float)
    assert y.sum() == len(y)
    # each class: the realised share matches the mean probability within 4 standard errors
    for k, c in enumerate(classes):
        sd = np.sqrt(np.sum(p[:, k] * (1.0 - p[:, k]))) / len(p)
        assert abs(y[:, k].mean() - p[:, k].mean()) <= 4 * sd + 1e-12, c
    # the same among the customers of each current stage who had some event
    for s in data.journey_map.stages:
        rows = (data.truth["stage"] == s).to_numpy() & (labels != "dropped")
        if rows.sum() < 300:
            continue
        q = p[rows, :-1] / p[rows, :-1].sum(axis=1, keepdims=True)
        for k, c in enumerate(classes[:-1]):
            sd = np.sqrt(np.sum(q[:, k] * (1.0 - q[:, k]))) / rows.sum()
            assert abs(y[rows, k].mean() - q[:, k].mean()) <= 4 * sd + 1e-12, (s, c)
    # the oracle's log loss beats the realised stage shares' (a prior fitted in hindsight)
    eps = 1e-15
    oracle = -np.mean(np.log(np.clip((p * y).sum(axis=1), eps, 1)))
    prior = -np.mean(np.log(np.clip(y @ y.mean(axis=0), eps, 1)))
    assert oracle < prior - 0.05
    assert np.isfinite(-np.log((p * y).sum(axis=1))).all()
