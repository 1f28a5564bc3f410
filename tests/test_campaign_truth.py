"""A campaign delivered in a simulated world (``cjml.datasets.simulate_campaign``).

Invariants of the log after the campaign (the control arm and everyone
outside it untouched, one delivery per treated customer, the same log for the
same seed, nothing from customers who had left), its true effect against the
truth frame, and one end-to-end check: export with a control group, deliver,
measure, and the measured interval covers the true effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjml.datasets import make_journeys, make_scenario, simulate_campaign
from cjml.datasets._campaign import DELIVERY_OFFSET
from cjml.exceptions import CjmlError

CUTOFF = pd.Timestamp("2024-04-15", tz="UTC")


def _plan(truth: pd.DataFrame, touchpoints, seed: int = 0) -> pd.DataFrame:
    """Half treated, half control, among customers each touchpoint is allowed for."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for tp in touchpoints:
        ok = truth[truth[f"risk_{tp}"].notna()]
        ok = ok[~ok["customer_id"].isin([r["customer_id"] for r in rows])]
        for cid in ok["customer_id"].head(60):
            rows.append({"customer_id": int(cid), "touchpoint": tp})
    plan = pd.DataFrame(rows)
    plan["arm"] = np.where(rng.permutation(len(plan)) % 2 == 0, "treatment", "control")
    return plan


@pytest.fixture(scope="module")
def journeys():
    return make_journeys(600, n_days=150, truth_cutoffs=[CUTOFF], random_state=11)


@pytest.fixture(scope="module")
def scenario():
    return make_scenario("small_shop", n_customers=500, seed=3)


@pytest.fixture(scope="module", params=["journeys", "scenario"])
def case(request, journeys, scenario):
    world = journeys if request.param == "journeys" else scenario
    truth = world.truth
    tps = list(world.journey_map.actionable_touchpoints)[:2]
    plan = _plan(truth, tps)
    return world, plan, simulate_campaign(world, plan, seed=5)


def _by_customer(events: pd.DataFrame, ids) -> pd.DataFrame:
    return events[events["customer_id"].isin(ids)].reset_index(drop=True)


def test_control_and_outsiders_are_untouched(case):
    world, plan, after = case
    treated = plan.loc[plan["arm"] == "treatment", "customer_id"]
    others = np.setdiff1d(world.events["customer_id"].unique(), treated)
    assert plan["arm"].eq("control").sum() > 0
    pd.testing.assert_frame_equal(
        _by_customer(after.events, others), _by_customer(world.events, others)
    )


def test_the_treated_get_exactly_one_delivery_and_keep_their_past(case):
    world, plan, after = case
    cutoff = after.cutoff
    treated = plan[plan["arm"] == "treatment"]
    ev = _by_customer(after.events, treated["customer_id"])
    past = ev[ev["timestamp"] < cutoff].reset_index(drop=True)
    before = _by_customer(world.events, treated["customer_id"])
    pd.testing.assert_frame_equal(
        past, before[before["timestamp"] < cutoff].reset_index(drop=True)
    )
    delivered = ev[ev["timestamp"] == cutoff + DELIVERY_OFFSET]
    assert delivered["customer_id"].is_unique
    assert set(delivered["customer_id"]) == set(treated["customer_id"])
    got = delivered.set_index("customer_id")["touchpoint"].astype(str)
    want = treated.set_index("customer_id")["touchpoint"]
    assert (got.loc[want.index] == want).all()
    # the log stays in the world's columns, dtypes and order
    assert list(after.events.columns) == list(world.events.columns)
    assert (after.events.dtypes == world.events.dtypes).all()
    order = after.events[["customer_id", "timestamp"]]
    assert order.equals(order.sort_values(["customer_id", "timestamp"], ignore_index=True))


def test_customers_who_had_left_emit_nothing_but_the_delivery(case):
    world, plan, after = case
    truth = world.truth.set_index("customer_id")
    treated = plan.loc[plan["arm"] == "treatment", "customer_id"]
    gone = treated[~truth.loc[treated, "active"].to_numpy()]
    assert len(gone) > 0, "the check needs treated customers who have left"
    ev = _by_customer(after.events, gone)
    later = ev[ev["timestamp"] >= after.cutoff]
    assert len(later) == len(gone)
    assert (later["timestamp"] == after.cutoff + DELIVERY_OFFSET).all()


def test_the_same_seed_gives_the_same_log(case):
    world, plan, after = case
    again = simulate_campaign(world, plan, seed=5)
    pd.testing.assert_frame_equal(again.events, after.events)
    other = simulate_campaign(world, plan, seed=6)
    assert not other.events.equals(after.events)
    pd.testing.assert_frame_equal(other.effects, after.effects)


def test_the_true_effect_is_the_truth_frames_difference(case):
    world, plan, after = case
    truth = world.truth
    if "cutoff" in truth.columns:
        truth = truth[truth["cutoff"] == after.cutoff]
    truth = truth.set_index("customer_id")
    treated = plan[plan["arm"] == "treatment"]
    diffs = {
        tp: (
            truth.loc[g["customer_id"], "risk_no_action"]
            - truth.loc[g["customer_id"], f"risk_{tp}"]
        ).to_numpy()
        for tp, g in treated.groupby("touchpoint")
    }
    eff = after.effects.set_index(["group", "value"])
    everything = np.concatenate(list(diffs.values()))
    assert eff.loc[("all", "all"), "true_reduction"] == pytest.approx(everything.mean())
    assert eff.loc[("all", "all"), "n_treated"] == len(treated)
    assert eff.loc[("all", "all"), "n_control"] == (plan["arm"] == "control").sum()
    for tp, d in diffs.items():
        assert eff.loc[("touchpoint", tp), "true_reduction"] == pytest.approx(d.mean())
        assert eff.loc[("touchpoint", tp), "n_unknown"] == 0
    out = after.outcomes.set_index("customer_id")
    assert out.loc[out["arm"] == "control", "true_risk_treated"].isna().all()


def test_the_treated_drop_off_at_the_truths_rate(journeys):
    # A real roll-forward: over many seeds the treated customers who are surely still
    # there drop off in the horizon at the truth's risk_<touchpoint>, not at the risk
    # without it. Each gets the touchpoint that helps them most, so the two differ.
    truth = journeys.truth[journeys.truth["p_active"] > 0.999].set_index("customer_id")
    tps = list(journeys.journey_map.actionable_touchpoints)
    gain = pd.DataFrame({t: truth["risk_no_action"] - truth[f"risk_{t}"] for t in tps})
    gain = gain[gain.notna().any(axis=1)]
    truth = truth.loc[gain.index]
    best = gain.fillna(-1.0).idxmax(axis=1)
    plan = pd.DataFrame({"customer_id": truth.index, "arm": "treatment", "touchpoint": best})
    horizon = pd.Timedelta(days=journeys.horizon_days)
    n_seeds = 20
    rates = []
    for seed in range(n_seeds):
        ev = simulate_campaign(journeys, plan, seed=seed).events
        ts = ev["timestamp"]
        window = ev[(ts > CUTOFF) & (ts <= CUTOFF + horizon) & (ts != CUTOFF + DELIVERY_OFFSET)]
        rates.append(1.0 - plan["customer_id"].isin(window["customer_id"]).mean())
    after = np.array([truth.loc[c, f"risk_{t}"] for c, t in best.items()])
    expected, untreated = after.mean(), truth["risk_no_action"].mean()
    # the binomial standard error of the mean rate over all draws
    se = np.sqrt(expected * (1 - expected) / (n_seeds * len(plan)))
    assert untreated - expected > 4 * se
    assert abs(np.mean(rates) - expected) < 3 * se


def test_redraw_control_rolls_the_control_arm_forward_without_a_delivery(case):
    world, plan, after = case
    again = simulate_campaign(world, plan, seed=5, redraw_control=True)
    control = plan.loc[plan["arm"] == "control", "customer_id"]
    outside = np.setdiff1d(world.events["customer_id"].unique(), plan["customer_id"])
    pd.testing.assert_frame_equal(
        _by_customer(again.events, outside), _by_customer(world.events, outside)
    )
    mine, theirs = _by_customer(again.events, control), _by_customer(world.events, control)
    pd.testing.assert_frame_equal(
        mine[mine["timestamp"] < after.cutoff].reset_index(drop=True),
        theirs[theirs["timestamp"] < after.cutoff].reset_index(drop=True),
    )
    assert not (mine["timestamp"] == after.cutoff + DELIVERY_OFFSET).any()
    assert not mine.equals(theirs)  # a new future
    delivered = again.events[again.events["timestamp"] == after.cutoff + DELIVERY_OFFSET]
    treated = plan.loc[plan["arm"] == "treatment", "customer_id"]
    assert sorted(delivered["customer_id"]) == sorted(treated)
    pd.testing.assert_frame_equal(again.effects, after.effects)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.assign(arm="holdout"), "Unknown arm"),
        (lambda p: p.assign(touchpoint="carrier_pigeon"), "cannot be delivered"),
        (lambda p: p.drop(columns="arm"), "lack the column"),
        (lambda p: p.assign(customer_id=p["customer_id"] + 10**7), "no event before the cutoff"),
    ],
)
def test_bad_assignments_are_refused(journeys, change, message):
    plan = _plan(journeys.truth, ["email"])
    with pytest.raises(CjmlError, match=message):
        simulate_campaign(journeys, change(plan), seed=0)


def test_a_cutoff_without_truth_is_refused(journeys):
    plan = _plan(journeys.truth, ["email"])
    with pytest.raises(CjmlError, match="2024-04-16 is not one of the world's truth cutoffs"):
        simulate_campaign(journeys, plan, cutoff="2024-04-16", seed=0)


def test_end_to_end_the_measured_interval_covers_the_true_effect(journeys, tmp_path):
    # export with a control group, deliver, measure: over seeded campaigns the measured
    # interval covers the campaign's true average effect about as often as its level says
    import cjml

    truth = journeys.truth[journeys.truth["p_active"] > 0.5].set_index("customer_id")
    tps = list(journeys.journey_map.actionable_touchpoints)
    gain = pd.DataFrame({t: truth["risk_no_action"] - truth[f"risk_{t}"] for t in tps})
    gain = gain[gain.notna().any(axis=1)]
    best = gain.fillna(-1.0).idxmax(axis=1)
    frame = pd.DataFrame(
        {
            "recommended_touchpoint": best,
            "expected_risk_reduction": gain.max(axis=1),
            "churn_risk": truth.loc[gain.index, "risk_no_action"],
            "baseline_risk": truth.loc[gain.index, "risk_no_action"],
            "cost": 1.0,
        },
        index=pd.Index(gain.index, name="customer_id"),
    )
    covered = []
    for rep in range(8):
        campaign = cjml.export_campaign(
            frame, tmp_path / f"c{rep}.csv", control=0.5, seed=rep, cutoff=CUTOFF, horizon="30D"
        )
        after = simulate_campaign(journeys, campaign, seed=rep)
        report = cjml.measure_campaign(campaign, after.events, level=0.9)
        row = report.effects.iloc[0]
        true = after.effects.loc[0, "true_reduction"]
        assert row["group"] == "all"
        assert row["n_treated"] == after.effects.loc[0, "n_treated"]
        covered.append(row["reduction_low"] <= true <= row["reduction_high"])
    assert sum(covered) >= 6, covered
    assert after.effects.loc[0, "true_reduction"] > 0.01
