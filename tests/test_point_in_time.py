"""Point-in-time correctness: nothing after a cutoff reaches a feature or a label."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
from cjml import JourneyFeaturizer, JourneyMap, make_labels, make_training_set, read_events
from cjml.datasets import load_sample

TOUCHPOINTS = list(JourneyMap.default().touchpoint_names)
STAGES = list(JourneyMap.default().stages)
# Random logs repeat events now and then; cjml reports that with a warning, which is
# beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore:Found .* exact duplicate:UserWarning")

START = pd.Timestamp("2024-01-01", tz="UTC")
CUTOFF = START + pd.Timedelta(days=40)
HORIZON = pd.Timedelta(days=20)

event = st.fixed_dictionaries(
    {
        "customer_id": st.integers(1, 4),
        "minute": st.integers(0, 80 * 24 * 60),
        "touchpoint": st.sampled_from(TOUCHPOINTS),
        "stage": st.sampled_from(STAGES),
        "channel": st.sampled_from(["web", "email", "store"]),
        "satisfaction": st.one_of(st.none(), st.integers(1, 5)),
        "nps": st.one_of(st.none(), st.integers(0, 10)),
        "effort": st.one_of(st.none(), st.integers(1, 7)),
        "amount": st.one_of(st.none(), st.floats(0, 500, allow_nan=False)),
    }
)


COLUMNS = [
    "customer_id",
    "minute",
    "touchpoint",
    "stage",
    "channel",
    "satisfaction",
    "nps",
    "effort",
    "amount",
]


def _frame(events: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(events, columns=COLUMNS)
    df["timestamp"] = START + pd.to_timedelta(df.pop("minute"), unit="min")
    return df


def _features(df: pd.DataFrame, cutoff=CUTOFF, fitted=None) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicates are reported, not an error
        log = read_events(df)
        featurizer = fitted or JourneyFeaturizer().fit(log, cutoff=cutoff)
        return featurizer.transform(log, cutoff=cutoff)


def _is_after(df: pd.DataFrame, when) -> pd.Series:
    return df["timestamp"] > when


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    events=st.lists(event, min_size=1, max_size=25),
    later=st.lists(event, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_events_after_the_cutoff_never_change_any_feature(events, later, seed):
    df = _frame(events)
    if not (df["timestamp"] <= CUTOFF).any():
        return
    base = _features(df)
    rng = np.random.default_rng(seed)
    after = _is_after(df, CUTOFF).to_numpy()
    # change: move, retype and rescore every event after the cutoff
    changed = df.copy()
    n_after = int(after.sum())
    changed.loc[after, "touchpoint"] = rng.choice(TOUCHPOINTS, n_after)
    changed.loc[after, "satisfaction"] = rng.integers(1, 6, n_after)
    changed.loc[after, "timestamp"] = CUTOFF + pd.to_timedelta(
        rng.integers(1, 10**6, n_after), unit="s"
    )
    # add: more events after the cutoff, for known and new customers
    added = _frame(later)
    added["timestamp"] = CUTOFF + pd.to_timedelta(rng.integers(1, 10**6, len(added)), unit="s")
    added.loc[added.index[::2], "customer_id"] = 99
    # delete: drop every event after the cutoff
    deleted = df[~after]
    for variant in (changed, pd.concat([df, added], ignore_index=True), deleted):
        pd.testing.assert_frame_equal(_features(variant), base)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(events=st.lists(event, min_size=1, max_size=25), seed=st.integers(0, 2**16))
def test_labels_see_only_their_window_and_the_lookback(events, seed):
    df = _frame(events)
    if not (df["timestamp"] <= CUTOFF).any():
        return
    kwargs = {"horizon": HORIZON, "lookback": "30D", "data_end": START + pd.Timedelta(days=90)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicates are reported, not an error
        base = make_labels(read_events(df), CUTOFF, **kwargs)
    rng = np.random.default_rng(seed)
    # events after the window, or before the lookback, are invisible to the labels
    outside = (df["timestamp"] > CUTOFF + HORIZON) | (
        df["timestamp"] <= CUTOFF - pd.Timedelta(days=30)
    )
    changed = df.copy()
    changed.loc[outside, "touchpoint"] = rng.choice(TOUCHPOINTS, int(outside.sum()))
    changed.loc[outside, "stage"] = rng.choice(STAGES, int(outside.sum()))
    pd.testing.assert_frame_equal(make_labels(read_events(changed), CUTOFF, **kwargs), base)
    if (~outside).any():  # an empty log is refused, rightly
        pd.testing.assert_frame_equal(
            make_labels(read_events(df[~outside]), CUTOFF, **kwargs), base
        )


@settings(max_examples=20, deadline=None, derandomize=True)
@given(events=st.lists(event, min_size=2, max_size=30), seed=st.integers(0, 2**16))
def test_row_order_never_changes_features(events, seed):
    df = _frame(events)
    if not (df["timestamp"] <= CUTOFF).any():
        return
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(_features(shuffled), _features(df))


@pytest.fixture(scope="module")
def sample_log():
    return read_events(load_sample())


def test_several_cutoffs_equal_separate_single_cutoff_runs(sample_log):
    cutoffs = cjml.rolling_cutoffs(sample_log, n=3)
    featurizer = JourneyFeaturizer().fit(sample_log, cutoff=cutoffs[-1])
    together = featurizer.transform(sample_log, cutoff=cutoffs)
    for c in cutoffs:
        alone = featurizer.transform(sample_log, cutoff=c)
        block = together.xs(c, level="cutoff")
        pd.testing.assert_frame_equal(block, alone)
    stacked = make_training_set(sample_log, cutoffs, featurizer=featurizer)
    singles = pd.concat(
        [make_training_set(sample_log, c, featurizer=featurizer) for c in cutoffs],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(stacked, singles)


def test_training_rows_never_see_the_wrong_side_of_their_cutoff(sample_log):
    """Rebuild each row from a log cut at its cutoff (features) or its window (labels)."""
    cutoffs = cjml.rolling_cutoffs(sample_log, n=2)
    featurizer = JourneyFeaturizer().fit(sample_log, cutoff=cutoffs[-1])
    table = make_training_set(sample_log, cutoffs, featurizer=featurizer)
    frame = sample_log.frame
    for c in cutoffs:
        past = read_events(frame[frame["timestamp"] <= c])
        rows = table[table["cutoff"] == c].set_index("customer_id")
        cols = list(featurizer.feature_names_out_)
        expected = featurizer.transform(past, cutoff=c).loc[rows.index, cols]
        pd.testing.assert_frame_equal(rows[cols], expected, check_names=False)
        window = frame[(frame["timestamp"] > c) & (frame["timestamp"] <= c + pd.Timedelta(days=30))]
        active = set(window["customer_id"])
        assert rows["churn"].eq([0 if cid in active else 1 for cid in rows.index]).all()
