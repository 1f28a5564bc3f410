"""The journey simulator and its ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjml import JourneyMap
from cjml.datasets import (
    PERSONAS,
    SAMPLE_PARAMS,
    load_sample,
    make_journeys,
    sample_path,
)
from cjml.datasets import _simulator as sim

ACTIONABLE = JourneyMap.default().actionable_touchpoints


@pytest.fixture(scope="module")
def journeys():
    """A population large enough for calibration checks, with truth at two cutoffs."""
    return make_journeys(
        4000, n_days=200, truth_cutoffs=["2024-04-10", "2024-05-20"], n_rollouts=32, random_state=11
    )


@pytest.fixture(scope="module")
def small():
    return make_journeys(300, n_days=90, truth_cutoffs=["2024-02-15"], n_rollouts=8, random_state=5)


def test_same_seed_same_everything(small):
    again = make_journeys(
        300, n_days=90, truth_cutoffs=["2024-02-15"], n_rollouts=8, random_state=5
    )
    pd.testing.assert_frame_equal(small.events, again.events)
    pd.testing.assert_frame_equal(small.customers, again.customers)
    pd.testing.assert_frame_equal(small.truth, again.truth)


def test_other_seed_other_events(small):
    other = make_journeys(300, n_days=90, random_state=6)
    assert not small.events.equals(other.events)


def test_asking_for_truth_never_changes_the_events(small):
    without = make_journeys(300, n_days=90, random_state=5)
    pd.testing.assert_frame_equal(small.events, without.events)
    assert without.truth.empty


def test_events_follow_the_contract(journeys):
    ev = journeys.events
    assert list(ev.columns) == [
        "customer_id",
        "timestamp",
        "touchpoint",
        "stage",
        "channel",
        "satisfaction",
        "nps",
        "effort",
        "amount",
        "segment",
    ]
    assert str(ev["timestamp"].dt.tz) == "UTC"
    order = ev.sort_values(["customer_id", "timestamp"], kind="stable").index
    assert (order == ev.index).all()
    # every customer appears, each with at least one event
    assert ev["customer_id"].nunique() == 4000
    assert ev["timestamp"].min() >= pd.Timestamp("2024-01-01", tz="UTC")
    assert ev["timestamp"].max() < pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=200)
    assert ev["satisfaction"].dropna().isin([1, 2, 3, 4, 5]).all()
    assert ev["nps"].dropna().between(0, 10).all()
    assert ev["effort"].dropna().between(1, 7).all()
    assert ev["amount"].notna().eq(ev["touchpoint"] == "purchase").all()
    assert (ev["amount"].dropna() > 0).all()
    # survey coverage is partial, as in real logs
    assert 0.01 < ev["satisfaction"].notna().mean() < 0.5


def test_every_event_stage_is_allowed_by_the_map(journeys):
    jm = journeys.journey_map
    ev = journeys.events
    allowed = jm.eligibility_matrix()
    ok = allowed[ev["stage"].cat.codes.to_numpy(), ev["touchpoint"].cat.codes.to_numpy()]
    assert ok.all(), ev[~ok].head()


def test_journeys_move_forward_and_sometimes_back(journeys):
    ev = journeys.events
    codes = ev["stage"].cat.codes.to_numpy()
    same_customer = ev["customer_id"].to_numpy()[1:] == ev["customer_id"].to_numpy()[:-1]
    step = np.diff(codes)[same_customer]
    assert (step > 0).sum() > 1000
    assert 0 < (step < 0).sum() < (step > 0).sum()
    assert set(ev["stage"].unique()) == set(JourneyMap.default().stages)


def _calibrated(p, y, z=3.5):
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    return abs(y.mean() - p.mean()) < z * se + 1e-9


def test_true_risk_matches_realised_dropoff(journeys):
    tr = journeys.truth
    y = tr["realised_churn"].to_numpy()
    assert _calibrated(tr["risk_no_action"].to_numpy(), y)
    assert _calibrated(tr["risk_full_no_action"].to_numpy(), y)
    # among customers still there (a latent fact), the full-information risk is calibrated
    act = tr["active"].to_numpy()
    p_a = tr["risk_full_no_action"].to_numpy()[act]
    assert _calibrated(p_a, y[act])
    assert 0.05 < p_a.mean() < 0.5


def test_p_active_is_the_exact_posterior_of_still_being_there(journeys):
    tr = journeys.truth
    p = tr["p_active"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    assert _calibrated(p, tr["active"].to_numpy())
    # the informed risk mixes the two cases by that posterior
    gone = 1 - p
    assert (tr["risk_no_action"] >= gone - 1e-12).all()
    for tp in ACTIONABLE:
        arm = tr[f"risk_{tp}"].dropna()
        assert (arm >= gone[arm.index] - 1e-12).all(), tp


def test_the_silent_customer_reconstructed_at_the_cutoff_is_the_simulated_one(monkeypatch):
    seen_states = []
    real = sim._ground_truth

    def spy(st, seen, day, horizon, cal, rng, n_draws, n_rollouts, last, last_day):
        p_active, at_cutoff = sim._silence_posterior(last.take(seen), last_day[seen], day, cal)
        seen_states.append((st.take(seen), at_cutoff, p_active))
        return real(st, seen, day, horizon, cal, rng, n_draws, n_rollouts, last, last_day)

    monkeypatch.setattr(sim, "_ground_truth", spy)
    make_journeys(600, n_days=120, truth_cutoffs=["2024-03-15"], n_rollouts=4, random_state=4)
    ((snapshot, rebuilt, p_active),) = seen_states
    still = snapshot.active
    assert still.sum() > 50 and (~still).sum() > 50
    for name in ("health", "fatigue", "grudge", "ticket_age", "stage", "open_tickets", "purchases"):
        np.testing.assert_allclose(
            getattr(rebuilt, name)[still], getattr(snapshot, name)[still], err_msg=name
        )
    assert p_active[still].mean() > p_active[~still].mean() + 0.5


def test_true_risk_ranks_realised_dropoff(journeys):
    from sklearn.metrics import roc_auc_score

    tr = journeys.truth
    assert roc_auc_score(tr["realised_churn"], tr["risk_no_action"]) > 0.9
    act = tr[tr["active"]]
    assert roc_auc_score(act["realised_churn"], act["risk_full_no_action"]) > 0.7


def test_next_stage_distribution_is_a_distribution(journeys):
    tr = journeys.truth
    cols = [f"p_next_{s}" for s in (*JourneyMap.default().stages, "dropped")]
    total = tr[cols].sum(axis=1)
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    assert (tr[cols] >= 0).all().all()
    np.testing.assert_array_equal(tr["p_next_dropped"], tr["risk_no_action"])
    # calibrated: the expected share of each realised next stage matches
    for s in JourneyMap.default().stages:
        expected = tr[f"p_next_{s}"].mean()
        realised = (tr["realised_next_stage"] == s).mean()
        assert abs(expected - realised) < 0.02, s


def test_arms_are_nan_exactly_where_the_map_forbids_them(journeys):
    jm = journeys.journey_map
    tr = journeys.truth
    for tp in ACTIONABLE:
        allowed = tr["stage"].astype(str).isin(jm[tp].stages)
        assert tr.loc[allowed, f"risk_{tp}"].notna().all(), tp
        assert tr.loc[~allowed, f"risk_{tp}"].isna().all(), tp


def test_customers_already_gone_cannot_be_saved(journeys):
    gone = journeys.truth[~journeys.truth["active"]]
    assert len(gone) > 100
    assert (gone["risk_full_no_action"] == 1.0).all()
    # whatever is delivered, the share of them believed gone stays lost
    arms = gone[[f"risk_{t}" for t in ACTIONABLE]]
    floor = (1 - gone["p_active"]).to_numpy()[:, None]
    assert np.all(np.isnan(arms.to_numpy()) | (arms.to_numpy() >= floor - 1e-12))


def _mean_effect(truth, touchpoint, persona):
    rows = truth[truth["active"] & (truth["persona"] == persona)]
    delta = rows[f"risk_{touchpoint}"] - rows["risk_no_action"]
    return delta.dropna().mean()


@pytest.mark.parametrize(
    ("touchpoint", "persona"),
    [
        ("email", "b2b_buyer"),
        ("email", "careful_researcher"),
        ("follow_up_call", "impulse_buyer"),
        ("consultation", "impulse_buyer"),
        ("personalised_offer", "loyal_regular"),
    ],
)
def test_harmful_touchpoints_raise_the_true_risk_of_those_they_harm(journeys, touchpoint, persona):
    assert _mean_effect(journeys.truth, touchpoint, persona) > 0.002


@pytest.mark.parametrize(
    ("touchpoint", "persona"),
    [
        ("personalised_offer", "bargain_hunter"),
        ("consultation", "careful_researcher"),
        ("follow_up_call", "b2b_buyer"),
        ("loyalty_reward", "loyal_regular"),
    ],
)
def test_helpful_touchpoints_lower_the_true_risk_of_those_they_help(journeys, touchpoint, persona):
    assert _mean_effect(journeys.truth, touchpoint, persona) < -0.005


def test_the_best_touchpoint_differs_between_customers(journeys):
    tr = journeys.truth[journeys.truth["active"]]
    arms = tr[[f"risk_{t}" for t in ACTIONABLE]].fillna(np.inf)
    best = arms.idxmin(axis=1)
    assert best.nunique() >= 5
    assert best.value_counts(normalize=True).iloc[0] < 0.5


def test_exact_silent_probability_matches_brute_force_simulation():
    """The exact 'no event in the horizon' recursion against plain Monte Carlo."""
    rng = np.random.default_rng(0)
    n, reps, horizon, day = 400, 400, 20, 0
    st = sim._State(
        persona=rng.integers(0, len(PERSONAS), n),
        stage=rng.integers(0, 5, n),
        health=rng.normal(0, 1, n),
        baseline=rng.normal(0, 0.5, n),
        fatigue=rng.exponential(1.0, n),
        grudge=rng.exponential(0.3, n),
        open_tickets=rng.integers(0, 2, n),
        ticket_age=rng.integers(0, 20, n).astype(float),
        purchases=rng.integers(0, 4, n),
        active=np.ones(n, dtype=bool),
    )
    cal = sim._Calendar(newsletter=(np.arange(horizon + 1) % 7) == 3)
    exact = sim._p_silent(st.take(np.arange(n)), day, horizon, cal)
    roll = st.take(np.repeat(np.arange(n), reps))
    living = np.arange(n * reps)
    had_event = np.zeros(n * reps, dtype=bool)
    for k in range(horizon):
        living, ev = sim._simulate_day(roll, living, day + k, cal, rng)
        had_event[ev["customer"]] = True
    mc = 1.0 - had_event.reshape(n, reps).mean(axis=1)
    # aggregate: mean over customers within a tight bound, per customer within 5 SE
    se = np.sqrt(np.clip(exact * (1 - exact), 1e-4, None) / reps)
    assert abs(mc.mean() - exact.mean()) < 0.01
    assert np.mean(np.abs(mc - exact) < 4 * se) > 0.97


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, "n_customers must be an integer >= 1"),
        ({"n_customers": 10, "truth_cutoffs": ["2024-12-01"]}, "no later than 2024-07-29"),
        ({"n_customers": 10, "truth_cutoffs": ["2024-03-01 10:00"]}, "midnight UTC"),
        ({"n_customers": 10, "start": "not a date"}, "is not a date"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_journeys(**kwargs)


def test_truth_at_the_last_possible_cutoff():
    data = make_journeys(50, n_days=60, horizon_days=20, truth_cutoffs="last", random_state=1)
    assert data.params["truth_cutoffs"] == ["2024-02-10"]  # day 40 = 60 - 20
    assert data.truth["cutoff"].nunique() == 1


def test_bundled_sample_is_reproducible_and_loads():
    events, truth = load_sample(truth=True)
    assert events["customer_id"].nunique() == SAMPLE_PARAMS["n_customers"]
    cutoffs = sorted(truth["cutoff"].dt.strftime("%Y-%m-%d").unique())
    assert cutoffs == SAMPLE_PARAMS["truth_cutoffs"]
    fresh = make_journeys(**SAMPLE_PARAMS)
    pd.testing.assert_frame_equal(events, fresh.events)
    # the file keeps microseconds; pandas 2 makes nanosecond dates, pandas 3 microseconds
    pd.testing.assert_frame_equal(
        truth.assign(cutoff=truth["cutoff"].dt.as_unit("ns")),
        fresh.truth.assign(cutoff=fresh.truth["cutoff"].dt.as_unit("ns")),
    )
    assert sample_path("events").stat().st_size < 5_000_000
