"""The btyd family: BG/NBD's p_alive, expected visits and silence per customer and cutoff."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cjml import JourneyFeaturizer, JourneyMap, read_events
from cjml._bundle_codec import read_state, write_state
from cjml.features import BtydFeatures
from cjml.value._btyd import BetaGeoGammaGamma, rfm_summary

JM = JourneyMap.default()
CUTOFF = pd.Timestamp("2024-05-01", tz="UTC")


def _events(n_customers: int = 300, seed: int = 0) -> pd.DataFrame:
    """Customers who buy at their own pace and drop out after some purchase, BG/NBD-style."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for c in range(n_customers):
        rate = rng.gamma(1.5, 1 / 8.0)  # purchases per day
        p_drop = rng.beta(1.0, 4.0)
        t = rng.uniform(0, 60)
        while t < 180:
            rows.append((f"c{c}", start + pd.Timedelta(days=t), "purchase"))
            if rng.random() < 0.3:  # a business contact the same day: never a visit
                rows.append((f"c{c}", start + pd.Timedelta(days=t, hours=1), "email"))
            if rng.random() < p_drop:
                break
            t += rng.exponential(1 / rate)
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"])
    frame["amount"] = np.where(frame["touchpoint"] == "purchase", 10.0, np.nan)
    return frame


@pytest.fixture(scope="module")
def fitted():
    events = _events()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = read_events(events, journey_map=JM)
    family = BtydFeatures().fit(log, cutoff=CUTOFF)
    return events, log, family


def test_repeat_days_are_btyds_frequency_at_a_midnight_cutoff(fitted):
    events, log, family = fitted
    X = family.transform(log, cutoff=CUTOFF)
    # at a midnight cutoff the 24-hour blocks are calendar days, as rfm_summary counts them
    summary = rfm_summary(log, CUTOFF, unit="D")
    assert len(X) == len(summary)
    assert np.array_equal(X.loc[summary.index, "btyd_repeat_days"], summary["frequency"])
    seen = events[(events["touchpoint"] == "purchase") & (events["timestamp"] <= CUTOFF)]
    last = seen.groupby("customer_id")["timestamp"].max()
    expected = (CUTOFF - last[X.index]).dt.total_seconds() / 86400
    np.testing.assert_allclose(X["btyd_days_since_last_visit"], expected, rtol=1e-12)


def test_columns_are_the_fitted_bgnbd_answers(fitted):
    _, log, family = fitted
    X = family.transform(log, cutoff=CUTOFF)
    assert set(family.params_) == {"r", "alpha", "a", "b"}
    model = BetaGeoGammaGamma()
    model.params_ = family.params_
    x = X["btyd_repeat_days"].to_numpy()
    first, last = X["btyd_days_since_first_visit"], X["btyd_days_since_last_visit"]
    recency = np.where(x > 0, (first - last) / 7, 0.0)
    age = first.to_numpy() / 7
    np.testing.assert_allclose(X["btyd_p_alive"], model.probability_alive(x, recency, age))
    np.testing.assert_allclose(
        X["btyd_expected_visits_30d"], model.expected_purchases(x, recency, age, 30 / 7)
    )
    assert X["btyd_p_alive"][x == 0].eq(1.0).all()
    quiet = X["btyd_p_no_visit_30d"]
    assert (quiet >= 1 - X["btyd_p_alive"]).all() and (quiet < 1).all()
    k = family.params_
    never = (k["alpha"] + age) / (k["alpha"] + age + 30 / 7)  # without a repeat: NBD's P(0)
    np.testing.assert_allclose(quiet[x == 0], never[x == 0] ** k["r"])
    assert X["btyd_p_alive"].between(0, 1).all()


def test_long_silence_lowers_p_alive_and_raises_the_overdue_ratio(fitted):
    events, _, family = fitted
    # no event after the cutoff: 120 more days are 120 more days of silence
    past = read_events(events[events["timestamp"] <= CUTOFF], journey_map=JM)
    early = family.transform(past, cutoff=CUTOFF)
    late = family.transform(past, cutoff=CUTOFF + pd.Timedelta(days=120))
    repeat = early.index[early["btyd_repeat_days"] > 0]
    assert (late.loc[repeat, "btyd_p_alive"] < early.loc[repeat, "btyd_p_alive"]).all()
    assert (
        late.loc[repeat, "btyd_silence_vs_expected_gap"]
        > early.loc[repeat, "btyd_silence_vs_expected_gap"]
    ).all()


def test_only_events_before_the_cutoff_count(fitted):
    events, _, family = fitted
    cutoff = pd.Timestamp("2024-03-10 12:00", tz="UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = read_events(events, journey_map=JM)
        past = read_events(events[events["timestamp"] <= cutoff], journey_map=JM)
    a = family.transform(full, cutoff=cutoff)
    b = family.transform(past, cutoff=cutoff)
    pd.testing.assert_frame_equal(a, b)


def test_business_contacts_are_not_visits(fitted):
    events, _, family = fitted
    assert "email" not in family.touchpoints_ and "purchase" in family.touchpoints_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        no_email = read_events(events[events["touchpoint"] != "email"], journey_map=JM)
        log = read_events(events, journey_map=JM)
    pd.testing.assert_frame_equal(
        family.transform(log, cutoff=CUTOFF), family.transform(no_email, cutoff=CUTOFF)
    )


@pytest.mark.parametrize("touchpoint", ["purchase", "email"])
@pytest.mark.parametrize("hours", [0.5, 30.0])
def test_with_event_equals_transform_with_the_event(fitted, touchpoint, hours):
    events, log, _ = fitted
    # a cutoff half an hour or a day and a quarter after the last event of some customers
    cutoff = events["timestamp"].sort_values().iloc[len(events) // 2] + pd.Timedelta(hours=hours)
    featurizer = JourneyFeaturizer(families=["activity", "btyd"]).fit(log, cutoff=cutoff)
    X = featurizer.transform(log, cutoff=cutoff)
    got = featurizer.with_event(X, touchpoint)
    new = pd.DataFrame(
        {"customer_id": X.index, "timestamp": cutoff, "touchpoint": touchpoint, "amount": np.nan}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        appended = read_events(pd.concat([events, new], ignore_index=True), journey_map=JM)
    want = featurizer.transform(appended, cutoff=cutoff).loc[X.index]
    btyd = [c for c in X.columns if c.startswith("btyd_")]
    assert np.array_equal(got[btyd].to_numpy(), want[btyd].to_numpy(), equal_nan=True)
    if touchpoint == "purchase":
        assert (got["btyd_days_since_last_visit"] == 0).all()
        assert not np.array_equal(got[btyd].to_numpy(), X[btyd].to_numpy(), equal_nan=True)
    else:
        assert np.array_equal(got[btyd].to_numpy(), X[btyd].to_numpy(), equal_nan=True)


def test_a_first_visit_through_with_event(fitted):
    events, log, _ = fitted
    featurizer = JourneyFeaturizer(families=["activity", "btyd"]).fit(log, cutoff=CUTOFF)
    ids = pd.Series(CUTOFF, index=["c0", "newcomer"])
    X = featurizer.transform(log, cutoff=ids)
    assert np.isnan(X.loc["newcomer", "btyd_p_alive"])
    got = featurizer.with_event(X, "website_visit")
    assert got.loc["newcomer", ["btyd_repeat_days", "btyd_p_alive"]].tolist() == [0.0, 1.0]


def test_too_few_customers_leave_the_model_columns_empty():
    events = _events(n_customers=8, seed=1)
    log = read_events(events, journey_map=JM)
    family = BtydFeatures().fit(log, cutoff=CUTOFF)
    assert family.params_ is None
    X = family.transform(log, cutoff=CUTOFF)
    assert X["btyd_p_alive"].isna().all()
    assert X["btyd_repeat_days"].notna().all()
    fitted_anyway = BtydFeatures(min_customers=5).fit(log, cutoff=CUTOFF)
    assert fitted_anyway.params_ is not None


def test_chosen_touchpoints_and_horizon_name_the_columns(fitted):
    _, log, _ = fitted
    family = BtydFeatures(touchpoints=("email",), horizon_days=7.5).fit(log, cutoff=CUTOFF)
    assert family.touchpoints_ == ["email"]
    assert "btyd_expected_visits_7_5d" in family.get_feature_names_out()
    everything = BtydFeatures(touchpoints="all").fit(log, cutoff=CUTOFF)
    assert {"email", "purchase"} <= set(everything.touchpoints_)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"touchpoints": "visits"}, "touchpoints must be"),
        ({"touchpoints": ()}, "touchpoints must be"),
        ({"horizon_days": 0}, "horizon_days must be"),
        ({"horizon_days": float("nan")}, "horizon_days must be"),
        ({"min_customers": 0}, "min_customers must be"),
        ({"min_customers": 2.5}, "min_customers must be"),
    ],
)
def test_bad_parameters_are_named(fitted, kwargs, message):
    _, log, _ = fitted
    with pytest.raises(ValueError, match=message):
        BtydFeatures(**kwargs).fit(log)


def test_the_fitted_family_round_trips_through_the_bundle_codec(fitted, tmp_path):
    _, log, _ = fitted
    featurizer = JourneyFeaturizer(families=["activity", "btyd"]).fit(log, cutoff=CUTOFF)
    write_state(featurizer, tmp_path / "f.zip")
    back = read_state(tmp_path / "f.zip")
    assert back.families_[1].params_ == featurizer.families_[1].params_
    pd.testing.assert_frame_equal(
        back.transform(log, cutoff=CUTOFF), featurizer.transform(log, cutoff=CUTOFF)
    )


def test_every_column_is_worded_in_english_and_vietnamese(fitted):
    from cjml.explanations import describe_feature
    from cjml.i18n import language

    _, _, family = fitted
    assert describe_feature("btyd_p_alive", 0.25) == (
        "25% chance of still being a customer, judged by their visit rhythm"
    )
    assert describe_feature("btyd_expected_visits_30d", 1.25).endswith("next 30 days")
    for lang in ("en", "vi"):
        with language(lang):
            for name in family.get_feature_names_out():
                for value in (0.0, 1.0, 2.5, np.nan):
                    text = describe_feature(name, value)
                    assert text and not text.startswith(f"{name} ="), (lang, name, value, text)
                    assert "btyd" not in text
