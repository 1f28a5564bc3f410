"""Candidate rows: ``JourneyFeaturizer.with_event`` against ``transform`` on the log with the event.

The reference is always the slow, obvious way: append the event to the events
(one row per customer, at the cutoff), read them with ``read_events`` and run
``transform``. ``with_event`` must give the same rows from the base rows alone,
bit for bit, except in the two documented cases, which the tests name and bound:

- the order-dependent columns (``order_dependent`` below), on rows where the
  customer has events at exactly the cutoff that ``read_events`` orders after
  the new one (same time, later touchpoint): ``with_event`` places it last;
- ``oldest_open_ticket_days`` after a resolution with three or more tickets open
  (an estimate between the oldest and the newest open ticket's ages).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjml import JourneyFeaturizer, JourneyMap, read_events
from cjml.datasets import load_sample
from cjml.features import ActivityFeatures, FeatureFamily, StageFeatures

JM = JourneyMap.default()
#: The same map with two touchpoints logged when sent (``outbound``): their events are not
#: the customer's activity, in transform as in with_event.
_SPEC = JM.to_dict()
for _name in ("email", "renewal_reminder"):
    _SPEC["touchpoints"][_name]["outbound"] = True
JM_OUTBOUND = JourneyMap.from_dict(_SPEC)
TOUCHPOINTS = list(JM.touchpoint_names)
STAGES = list(JM.stages)
EARLIEST = dict(zip(TOUCHPOINTS, JM.stage_bounds()[0], strict=True))

#: Columns that depend on where the new event lands among events at the same time.
STAGE_DYNAMICS = [
    "current_stage",
    "days_in_current_stage",
    "events_in_current_stage",
    "stage_progressions",
    "stage_regressions",
    "stages_per_30d",
]
TICKET_STATE = ["tickets_unresolved", "oldest_open_ticket_days"]


def order_dependent(columns) -> list[str]:
    return [
        c
        for c in columns
        if c in STAGE_DYNAMICS
        or c in TICKET_STATE
        or c.startswith(("transition_", "last_touchpoint_"))
        or c == "events_since_negative_experience"
    ]


pytestmark = pytest.mark.filterwarnings("ignore:Found .* exact duplicate:UserWarning")


# ------------------------------------------------------------------ the reference
def appended_log(events: pd.DataFrame, new: pd.DataFrame, jm: JourneyMap = JM):
    """The events plus ``new`` (one row per candidate), read as a user would read them.

    Returns the log and each new row's position in the canonical (sorted) log.
    """
    frame = pd.concat([events, new], ignore_index=True)
    if "stage" not in events.columns:  # the new events have a stage; the others get theirs
        frame["stage"] = frame["stage"].where(frame.index >= len(events))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # exact duplicates are reported, kept
        log = read_events(frame, journey_map=jm)
    position = np.empty(len(new), dtype=np.int64)
    src = log.source_rows
    added = src >= len(events)
    position[src[added] - len(events)] = np.flatnonzero(added)
    return log, position


def placed_before_others(log, position: np.ndarray, cutoff_ns: np.ndarray) -> np.ndarray:
    """New events that read_events orders before another event at or before the cutoff."""
    cust = log.customer_codes[position]
    ts = log.timestamps_ns
    end = log.offsets[cust + 1]
    last_visible = np.array(
        [
            p + np.searchsorted(ts[p:e], c, side="right") - 1
            for p, e, c in zip(position, end, cutoff_ns, strict=True)
        ]
    )
    return last_visible != position


def stage_names(X: pd.DataFrame, touchpoints) -> list[str]:
    """The default stage: the current one, else the touchpoint's earliest."""
    cur = X["current_stage"].to_numpy()
    return [
        STAGES[int(c)] if not np.isnan(c) else STAGES[EARLIEST[t]]
        for c, t in zip(cur, touchpoints, strict=True)
    ]


def assert_candidate_rows(
    got: pd.DataFrame, expected: pd.DataFrame, base: pd.DataFrame, touchpoints, tie: np.ndarray
) -> None:
    """Bit-identical except the documented columns, on the documented rows, within bounds."""
    assert list(got.columns) == list(expected.columns)
    assert got.index.equals(base.index)
    assert (got.dtypes == np.float64).all()
    touchpoints = np.asarray(touchpoints, dtype=object)
    fifo = (
        np.isin(touchpoints, ["ticket_resolved"])
        & (base["tickets_unresolved"].to_numpy() >= 3)
        & ~tie
    )
    loose = set(order_dependent(got.columns))
    for col in got.columns:
        g, e = got[col].to_numpy(), expected[col].to_numpy()
        same = (g == e) | (np.isnan(g) & np.isnan(e))
        must = np.ones(len(g), dtype=bool)
        if col in loose:
            must &= ~tie
        if col == "oldest_open_ticket_days":
            must &= ~fifo
            # between the newest and the oldest open ticket's ages
            lo = base["days_since_last_ticket"].to_numpy()[fifo]
            hi = base["oldest_open_ticket_days"].to_numpy()[fifo]
            for v in (g[fifo], e[fifo]):
                assert ((lo <= v) & (v <= hi)).all(), col
        bad = np.flatnonzero(must & ~same)
        assert not len(bad), (
            f"{col}: with_event {g[bad][:5]} != transform {e[bad][:5]} for "
            f"rows {list(got.index[bad][:5])}, touchpoints "
            f"{list(touchpoints[bad][:5])}"
        )
    if not tie.any():
        return

    # Where the new event lands among same-time events, the order-dependent columns are
    # bounded: one event moves each count by little, and every value stays in its range.
    def col(frame, name):
        return frame[name].to_numpy()[tie]

    for name in (
        "stage_progressions",
        "stage_regressions",
        *[c for c in got.columns if c.startswith("transition_")],
    ):
        assert (np.abs(col(got, name) - col(expected, name)) <= 2).all(), name
    for name in ("events_since_negative_experience", "tickets_unresolved"):
        g, e = col(got, name), col(expected, name)
        assert np.array_equal(np.isnan(g), np.isnan(e)), name
        assert (np.nan_to_num(np.abs(g - e)) <= 1).all(), name
    for frame in (got, expected):
        first = col(frame, "days_since_first_event")
        for name, lo, hi in (
            ("current_stage", 0, col(frame, "furthest_stage")),
            ("events_in_current_stage", 1, col(frame, "n_events")),
            ("days_in_current_stage", 0, first),
            ("oldest_open_ticket_days", 0, first),
        ):
            v = col(frame, name)
            assert (
                np.isnan(v) & (name == "oldest_open_ticket_days") | (lo <= v) & (v <= hi)
            ).all(), name
    for name in [c for c in got.columns if c.startswith("last_touchpoint_")]:
        assert np.array_equal(np.isnan(col(got, name)), np.isnan(col(expected, name))), name
    # the first stage only moves when every event is at the cutoff
    older = col(base, "days_since_first_event") > 0
    assert np.array_equal(col(got, "stages_per_30d")[older], col(expected, "stages_per_30d")[older])


# ------------------------------------------------------------------ the bundled sample
@pytest.fixture(scope="module")
def sample():
    log = read_events(load_sample())
    featurizer = JourneyFeaturizer().fit(log, cutoff="2024-06-29")
    ts = log.frame["timestamp"]
    # a cutoff at an event's own time (a tie) and with a time of day (active days)
    tied = ts[ts <= pd.Timestamp("2024-06-29", tz="UTC")].max()
    return log, featurizer, {"midnight": pd.Timestamp("2024-05-30", tz="UTC"), "tied": tied}


def _sample_reference(sample, X, cutoff, touchpoints, stages, channels):
    log, featurizer, _ = sample
    new = pd.DataFrame(
        {
            "customer_id": X.index,
            "timestamp": cutoff,
            "touchpoint": touchpoints,
            "stage": stages,
            "channel": channels,
        }
    )
    app, position = appended_log(log.frame, new)
    expected = featurizer.transform(app, cutoff=cutoff).loc[X.index]
    tie = placed_before_others(app, position, np.full(len(X), cutoff.value))
    return expected, tie


@pytest.mark.parametrize("when", ["midnight", "tied"])
@pytest.mark.parametrize("touchpoint", TOUCHPOINTS)
def test_sample_every_touchpoint_equals_transform_with_the_event(sample, when, touchpoint):
    log, featurizer, cutoffs = sample
    cutoff = cutoffs[when]
    X = featurizer.transform(log, cutoff=cutoff)
    stages = stage_names(X, [touchpoint] * len(X))
    expected, tie = _sample_reference(sample, X, cutoff, touchpoint, stages, JM[touchpoint].channel)
    got = featurizer.with_event(X, touchpoint)
    assert_candidate_rows(got, expected, X, [touchpoint] * len(X), tie)
    if when == "tied":  # a customer's last event is at the cutoff
        assert (X["days_since_last_event"] == 0).any()


def test_sample_stacked_candidates_with_given_stages_and_channels(sample):
    log, featurizer, cutoffs = sample
    cutoff = cutoffs["tied"]
    X = featurizer.transform(log, cutoff=cutoff)
    rng = np.random.default_rng(0)
    touchpoints = rng.choice(TOUCHPOINTS, len(X))
    stages = rng.choice(STAGES, len(X))
    channels = rng.choice(
        np.array(["email", "web", "phone", "telepathy", None], dtype=object), len(X)
    )
    expected, tie = _sample_reference(sample, X, cutoff, touchpoints, stages, channels)
    got = featurizer.with_event(X, touchpoints, stage=stages, channel=channels)
    assert_candidate_rows(got, expected, X, touchpoints, tie)
    # codes work as names do, and the rows of one call are independent of each other
    codes = np.asarray([featurizer.families_[1].touchpoints_.index(t) for t in touchpoints])
    pd.testing.assert_frame_equal(
        featurizer.with_event(X, codes, stage=stages, channel=channels), got
    )
    order = rng.permutation(len(X))
    shuffled = featurizer.with_event(
        X.iloc[order], touchpoints[order], stage=stages[order], channel=channels[order]
    )
    pd.testing.assert_frame_equal(shuffled, got.iloc[order])


def test_x_is_not_modified_and_keeps_its_record(sample):
    log, featurizer, cutoffs = sample
    X = featurizer.transform(log, cutoff=cutoffs["midnight"])
    before = X.copy()
    out = featurizer.with_event(X, "email")
    pd.testing.assert_frame_equal(X, before)
    assert not np.shares_memory(out.to_numpy(), X.to_numpy())
    assert out.attrs == X.attrs
    assert out.index.equals(X.index)


def test_the_record_survives_parquet_and_the_cutoff_can_be_given(sample, tmp_path):
    log, featurizer, cutoffs = sample
    cutoff = cutoffs["tied"]
    X = featurizer.transform(log, cutoff=cutoff)
    expected = featurizer.with_event(X, "live_chat")
    X.to_parquet(tmp_path / "x.parquet")
    pd.testing.assert_frame_equal(
        featurizer.with_event(pd.read_parquet(tmp_path / "x.parquet"), "live_chat"), expected
    )
    bare = X.copy()
    bare.attrs = {}
    pd.testing.assert_frame_equal(featurizer.with_event(bare, "live_chat", cutoff=cutoff), expected)
    pd.testing.assert_frame_equal(featurizer.with_event(X, "live_chat", cutoff=cutoff), expected)
    per_row = np.full(len(X), cutoff.to_datetime64())  # rows at cutoffs of their own
    pd.testing.assert_frame_equal(
        featurizer.with_event(bare, "live_chat", cutoff=per_row), expected
    )
    with pytest.raises(ValueError, match=r"one date per row of X"):
        featurizer.with_event(bare, "live_chat", cutoff=per_row[1:])


# ------------------------------------------------------------------ small random logs
START = pd.Timestamp("2024-01-01", tz="UTC")
CUTOFFS = [START + pd.Timedelta(days=100), START + pd.Timedelta(days=100, hours=15, minutes=30)]
DAY = 24 * 60
# minutes before the cutoff: the cutoff itself, the window edges (7/30/90 days, the trend's 60)
# and the last midnight before a 15:30 cutoff, each exactly and one minute inside
EDGES = [
    0,
    0,
    0,
    0,
    1,
    7 * DAY,
    7 * DAY - 1,
    30 * DAY,
    30 * DAY - 1,
    60 * DAY,
    60 * DAY - 1,
    90 * DAY,
    90 * DAY - 1,
    930,
    931,
    24 * 60,
]

event = st.fixed_dictionaries(
    {
        "customer_id": st.integers(1, 4),
        "before": st.one_of(
            st.sampled_from(EDGES), st.integers(-20 * DAY, 120 * DAY), st.sampled_from(EDGES)
        ),
        # tickets weighted up, so that several are open now and then
        "touchpoint": st.sampled_from(TOUCHPOINTS + ["support_ticket"] * 6),
        "stage": st.sampled_from(STAGES),
        "channel": st.sampled_from(["web", "email", "store"]),
        "satisfaction": st.one_of(st.none(), st.integers(1, 5)),
        "nps": st.one_of(st.none(), st.integers(0, 10)),
        "effort": st.one_of(st.none(), st.integers(1, 7)),
        "amount": st.one_of(st.none(), st.floats(0, 500, allow_nan=False)),
    }
)
candidate = st.fixed_dictionaries(
    {
        "touchpoint": st.sampled_from(TOUCHPOINTS + ["ticket_resolved"] * 3),
        "stage": st.sampled_from(STAGES),
        "channel": st.sampled_from(["web", "phone", None]),
    }
)


def _events(
    events: list[dict],
    cutoff: pd.Timestamp,
    stage: bool,
    channel: bool,
) -> pd.DataFrame:
    df = pd.DataFrame(events)
    df["timestamp"] = cutoff - pd.to_timedelta(df.pop("before"), unit="min")
    drop = [c for c, keep in (("stage", stage), ("channel", channel)) if not keep]
    return df.drop(columns=[c for c in drop if c in df.columns])


def _check_block(df, featurizer, X, got, cutoffs_ns, tps, stages, channels, cutoff, jm=JM):
    """Compare rows of X with transform(cutoff) on the events plus one new event per row."""
    several = isinstance(X.index, pd.MultiIndex)
    ids = X.index.get_level_values("customer_id") if several else X.index
    new = pd.DataFrame(
        {
            "customer_id": np.asarray(ids),
            "timestamp": pd.to_datetime(cutoffs_ns, utc=True),
            "touchpoint": tps,
            "stage": stage_names(X, tps) if stages is None else stages,
            "channel": [JM[t].channel for t in tps] if channels is None else channels,
        }
    )
    if "channel" not in df.columns and new["channel"].isna().all():
        new = new.drop(columns="channel")  # no channel anywhere: the log keeps having none
    app, position = appended_log(df, new, jm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = featurizer.transform(app, cutoff=cutoff).loc[ids]
    expected.index = X.index
    tie = placed_before_others(app, position, cutoffs_ns)
    assert_candidate_rows(got, expected, X, tps, tie)


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    events=st.lists(event, min_size=1, max_size=40),
    picks=st.lists(candidate, min_size=5, max_size=5),
    cutoff=st.sampled_from(CUTOFFS),
    stage_column=st.booleans(),
    channel_column=st.booleans(),
    given_stage=st.booleans(),
    given_channel=st.booleans(),
    mode=st.sampled_from(["single", "per customer", "per customer, same time", "several"]),
    outbound=st.booleans(),
)
def test_random_logs_equal_transform_with_the_event(
    events, picks, cutoff, stage_column, channel_column, given_stage, given_channel, mode, outbound
):
    df = _events(events, cutoff, stage_column, channel_column)
    jm = JM_OUTBOUND if outbound else JM
    kwargs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = read_events(df, journey_map=jm)
        featurizer = JourneyFeaturizer().fit(log, cutoff=cutoff)
        if mode == "single":
            if not (df["timestamp"] <= cutoff).any():
                return
            X = featurizer.transform(log, cutoff=cutoff)
        elif mode.startswith("per customer"):
            # customer 5 has no event at all; X records a time of day only when all share it
            step = pd.Timedelta(days=1) if mode.endswith("same time") else pd.Timedelta(minutes=37)
            per = pd.Series(
                [cutoff - k * step for k in range(5)],
                index=pd.Index([1, 2, 3, 4, 5], name="customer_id"),
            )
            X = featurizer.transform(log, cutoff=per)
            if not mode.endswith("same time"):
                kwargs["cutoff"] = per
        else:
            several = [cutoff - pd.Timedelta(days=3), cutoff]
            X = featurizer.transform(log, cutoff=several)
            if not len(X):
                return
    rows = [picks[i % len(picks)] for i in range(len(X))]
    tps = np.asarray([r["touchpoint"] for r in rows], dtype=object)
    stages = np.asarray([r["stage"] for r in rows], dtype=object) if given_stage else None
    channels = np.asarray([r["channel"] for r in rows], dtype=object) if given_channel else None
    got = featurizer.with_event(X, tps, stage=stages, channel=channels, **kwargs)
    if mode.startswith("per customer"):
        cut_ns = pd.DatetimeIndex(per.loc[X.index]).as_unit("ns").asi8
        _check_block(df, featurizer, X, got, cut_ns, tps, stages, channels, per, jm)
    elif mode == "several":
        at = X.index.get_level_values("cutoff")
        for c in several:
            r = np.flatnonzero(at == c)
            if len(r):
                _check_block(
                    df,
                    featurizer,
                    X.iloc[r],
                    got.iloc[r],
                    np.full(len(r), c.value),
                    tps[r],
                    None if stages is None else stages[r],
                    None if channels is None else channels[r],
                    c,
                    jm,
                )
    else:
        _check_block(
            df, featurizer, X, got, np.full(len(X), cutoff.value), tps, stages, channels, cutoff, jm
        )


TICKETS = ["support_ticket", "ticket_resolved", "email"]


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    events=st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": st.integers(1, 2),
                "before": st.one_of(st.sampled_from(EDGES), st.integers(-DAY, 40 * DAY)),
                "touchpoint": st.sampled_from(TICKETS + ["support_ticket"] * 3),
                "stage": st.just("retention"),
            }
        ),
        min_size=6,
        max_size=30,
    )
)
def test_random_ticket_queues_equal_transform_with_the_event(events):
    cutoff = CUTOFFS[1]
    df = _events(events, cutoff, stage=True, channel=False)
    if not (df["timestamp"] <= cutoff).any():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = read_events(df)
        featurizer = JourneyFeaturizer().fit(log, cutoff=cutoff)
        X = featurizer.transform(log, cutoff=cutoff)
    for touchpoint in TICKETS:
        tps = np.full(len(X), touchpoint, dtype=object)
        got = featurizer.with_event(X, touchpoint)
        _check_block(df, featurizer, X, got, np.full(len(X), cutoff.value), tps, None, None, cutoff)


# ------------------------------------------------------------------ the documented limits
CUT = pd.Timestamp("2024-03-01", tz="UTC")


def _tiny(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint", "stage"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return df


def _reference(df, featurizer, touchpoint, stage):
    new = pd.DataFrame(
        {
            "customer_id": [1],
            "timestamp": [CUT],
            "touchpoint": [touchpoint],
            "stage": [stage],
            "channel": [JM[touchpoint].channel],
        }
    )
    app, position = appended_log(df, new)
    tie = placed_before_others(app, position, np.array([CUT.value]))
    return featurizer.transform(app, cutoff=CUT), tie


def test_last_event_at_the_cutoff_is_exact_when_the_new_one_sorts_after_it():
    df = _tiny(
        [[1, "2024-02-20", "website_visit", "consideration"], [1, CUT, "paid_ad", "awareness"]]
    )
    featurizer = JourneyFeaturizer().fit(read_events(df))
    X = featurizer.transform(read_events(df), cutoff=CUT)
    expected, tie = _reference(df, featurizer, "email", "awareness")
    assert not tie.any()
    got = featurizer.with_event(X, "email")
    pd.testing.assert_frame_equal(got, expected)
    assert got.loc[1, "active_days"] == X.loc[1, "active_days"] == 2  # same day as paid_ad


def test_a_new_event_sorted_among_same_time_events_differs_only_in_listed_columns():
    # purchase (touchpoint 4) at the cutoff: read_events puts a website visit (2) at the same
    # time before it; with_event puts it last
    df = _tiny([[1, "2024-02-20", "email", "consideration"], [1, CUT, "purchase", "conversion"]])
    featurizer = JourneyFeaturizer().fit(read_events(df))
    X = featurizer.transform(read_events(df), cutoff=CUT)
    expected, tie = _reference(df, featurizer, "website_visit", "consideration")
    assert tie.all()
    got = featurizer.with_event(X, "website_visit", stage="consideration")
    differ = [c for c in got.columns if not (got[c].equals(expected[c]))]
    assert set(differ) <= set(order_dependent(got.columns))
    assert {"current_stage", "last_touchpoint_1"} <= set(differ)
    assert expected.loc[1, "current_stage"] == 2 and got.loc[1, "current_stage"] == 1
    assert_candidate_rows(got, expected, X, ["website_visit"], tie)


def test_a_resolution_with_three_open_tickets_estimates_the_next_oldest():
    # open tickets 10, 6 and 1 days old: resolving one leaves the 6-day one the oldest
    df = _tiny([[1, CUT - pd.Timedelta(days=d), "support_ticket", "retention"] for d in (10, 6, 1)])
    featurizer = JourneyFeaturizer().fit(read_events(df))
    X = featurizer.transform(read_events(df), cutoff=CUT)
    expected, _ = _reference(df, featurizer, "ticket_resolved", "retention")
    got = featurizer.with_event(X, "ticket_resolved")
    assert expected.loc[1, "oldest_open_ticket_days"] == 6.0
    assert got.loc[1, "oldest_open_ticket_days"] == 5.5  # evenly spaced between 10 and 1
    rest = [c for c in got.columns if c != "oldest_open_ticket_days"]
    pd.testing.assert_frame_equal(got[rest], expected[rest])
    # with two open it is exact: the newest ticket
    two = featurizer.transform(read_events(df.iloc[1:]), cutoff=CUT)
    assert featurizer.with_event(two, "ticket_resolved").loc[1, "oldest_open_ticket_days"] == 1.0


def test_channel_columns_of_a_log_without_channels():
    # fitted with a channel column, features of a log without one: the per-channel contact
    # counts are NaN; a new event with a channel gives the log a channel column
    with_channels = _tiny(
        [
            [1, "2024-02-20", "email", "consideration"],
            [2, "2024-02-21", "live_chat", "consideration"],
        ]
    )
    with_channels["channel"] = ["email", "chat"]
    featurizer = JourneyFeaturizer().fit(read_events(with_channels))
    plain = with_channels.drop(columns="channel")
    X = featurizer.transform(read_events(plain), cutoff=CUT)
    assert X["contacts_email_last_7d"].isna().all()
    # a channel, none (a missing value), and the default: the map's ("online")
    for channel, logged in (("email", "email"), (np.nan, None), (None, "online")):
        got = featurizer.with_event(X, "email", channel=channel)
        new = pd.DataFrame(
            {
                "customer_id": X.index,
                "timestamp": CUT,
                "touchpoint": "email",
                "stage": "consideration",
            }
        )
        if logged is not None:
            new["channel"] = logged
        app, _ = appended_log(plain, new)
        expected = featurizer.transform(app, cutoff=CUT)
        pd.testing.assert_frame_equal(got, expected)


def test_a_touchpoint_outside_the_map_seen_in_fit():
    df = _tiny(
        [
            [1, "2024-02-20", "email", "consideration"],
            [1, "2024-02-25", "webinar", "consideration"],
            [2, "2024-02-26", "website_visit", "consideration"],
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # webinar is not in the map
        log = read_events(df)
        featurizer = JourneyFeaturizer().fit(log)
        X = featurizer.transform(log, cutoff=CUT)
        got = featurizer.with_event(X, "webinar")
        new = pd.DataFrame(
            {
                "customer_id": X.index,
                "timestamp": CUT,
                "touchpoint": "webinar",
                "stage": "consideration",
            }
        )
        expected = featurizer.transform(read_events(pd.concat([df, new])), cutoff=CUT)
    pd.testing.assert_frame_equal(got, expected)


# ------------------------------------------------------------------ errors
@pytest.fixture(scope="module")
def small():
    df = _tiny(
        [[1, "2024-02-20", "email", "consideration"], [2, "2024-02-21", "purchase", "conversion"]]
    )
    featurizer = JourneyFeaturizer().fit(read_events(df))
    return featurizer, featurizer.transform(read_events(df), cutoff=CUT), df


def test_unknown_touchpoint_suggests_the_closest(small):
    featurizer, X, _ = small
    with pytest.raises(ValueError, match=r"Unknown touchpoint 'emial'\. Did you mean 'email'\?"):
        featurizer.with_event(X, "emial")
    with pytest.raises(ValueError, match=r"Unknown touchpoint 'webinar'.*refit"):
        featurizer.with_event(X, np.array(["email", "webinar"], dtype=object))
    with pytest.raises(ValueError, match=r"code 16 is out of range.*'other'"):
        featurizer.with_event(X, [3, 16])
    with pytest.raises(ValueError, match=r"one value or one per row of X \(2 rows\)"):
        featurizer.with_event(X, ["email"] * 3)
    with pytest.raises(ValueError, match=r"Series whose index is not X's"):
        featurizer.with_event(X, pd.Series(["email", "email"], index=[2, 1]))


def test_unknown_stage_suggests_the_closest(small):
    featurizer, X, _ = small
    with pytest.raises(
        ValueError,
        match=r"Unknown stage 'retension'\. Did you mean "
        r"'retention'\?.*'awareness'",
    ):
        featurizer.with_event(X, "email", stage="retension")
    with pytest.raises(ValueError, match=r"stage has missing values"):
        featurizer.with_event(X, "email", stage=np.array(["retention", None], dtype=object))


def test_x_must_be_this_featurizers_output(small):
    featurizer, X, df = small
    with pytest.raises(ValueError, match=r"missing 1: \['n_events'\]"):
        featurizer.with_event(X.drop(columns="n_events"), "email")
    with pytest.raises(ValueError, match=r"not features of this featurizer: \['score'\]"):
        featurizer.with_event(X.assign(score=1.0), "email")
    with pytest.raises(ValueError, match=r"in another order"):
        featurizer.with_event(X[X.columns[::-1]], "email")
    with pytest.raises(ValueError, match=r"must be float64.*'n_events'"):
        featurizer.with_event(X.astype({"n_events": "float32"}), "email")
    with pytest.raises(TypeError, match=r"X must be the DataFrame"):
        featurizer.with_event(X.to_numpy(), "email")
    # same columns, another journey map (its stages are not in the column names)
    renamed = JourneyMap.from_dict(
        {
            **JM.to_dict(),
            "stages": ["a", "b", "c", "d", "e"],
            "touchpoints": {
                t: {
                    **v,
                    "stages": [["a", "b", "c", "d", "e"][STAGES.index(s)] for s in v["stages"]],
                }
                for t, v in JM.to_dict()["touchpoints"].items()
            },
        }
    )
    other = JourneyFeaturizer().fit(read_events(df.drop(columns="stage"), journey_map=renamed))
    assert list(other.feature_names_out_) == list(featurizer.feature_names_out_)
    with pytest.raises(ValueError, match=r"computed by another featurizer"):
        other.with_event(X, "email")
    # the same object fitted again (its fingerprint is remembered until then)
    again = copy.deepcopy(featurizer)
    again.with_event(X, "email")
    again.fit(read_events(df.drop(columns="stage"), journey_map=renamed))
    with pytest.raises(ValueError, match=r"computed by another featurizer"):
        again.with_event(X, "email")


def test_the_cutoff_is_xs_own(small):
    featurizer, X, _ = small
    with pytest.raises(ValueError, match=r"is not the cutoff X was computed at"):
        featurizer.with_event(X, "email", cutoff="2024-03-02")
    bare = X.copy()
    bare.attrs = {}
    with pytest.raises(ValueError, match=r"does not record the cutoff.*Pass cutoff="):
        featurizer.with_event(bare, "email")
    both = featurizer.transform(read_events(small[2]), cutoff=[CUT - pd.Timedelta(days=1), CUT])
    with pytest.raises(ValueError, match=r"no longer holds them"):
        featurizer.with_event(both.reset_index(level="cutoff", drop=True), "email")


def test_what_the_featurizer_needs(small):
    _, _, df = small
    log = read_events(df)
    no_activity = JourneyFeaturizer(families=["touchpoints", "stages"]).fit(log)
    with pytest.raises(ValueError, match=r"'activity' family, which this featurizer lacks"):
        no_activity.with_event(no_activity.transform(log, cutoff=CUT), "email")
    two = read_events(pd.concat([df, _tiny([[1, "2024-02-22", "purchase", "conversion"]])]))
    blind = JourneyFeaturizer(last_k=0).fit(two)  # counts email -> purchase, keeps no last
    assert blind.families_[3].transitions_
    with pytest.raises(ValueError, match=r"last_k >= 1"):
        blind.with_event(blind.transform(two, cutoff=CUT), "email")

    class Custom(FeatureFamily):
        family = "custom"

        def _names(self):
            return ["custom_one"]

        def _compute(self, w, out):
            out["custom_one"] = w.count()

    custom = JourneyFeaturizer(families=[ActivityFeatures(), StageFeatures(), Custom()]).fit(log)
    with pytest.raises(NotImplementedError, match=r"'custom' family .* no _with_event"):
        custom.with_event(custom.transform(log, cutoff=CUT), "email")
