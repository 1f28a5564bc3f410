"""Feature values checked by hand against the documented definitions of each family.

Every expected number below was worked out on paper from the family's docstring
(and the domain notes), not recomputed with the library's own logic. Timestamps sit
on round hours so that ages in days are exact.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.features import (
    DEFAULT_FAMILIES,
    FAMILIES,
    ActivityFeatures,
    ExperienceFeatures,
    JourneyFeaturizer,
    MemoryFeatures,
    SequenceFeatures,
    StageFeatures,
    SupportFeatures,
    TouchpointFeatures,
    ValueFeatures,
)

NAN = float("nan")

# Touchpoint codes of the default map (position in the fitted vocabulary).
PAID_AD, ONLINE_REVIEW, WEBSITE_VISIT, PURCHASE = 0, 1, 2, 4
EMAIL, LIVE_CHAT, FREE_TRIAL = 7, 8, 9
OTHER = 16


def isnan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


# ------------------------------------------------------------------ tiny logs
@pytest.fixture
def activity_log():
    # cutoff 2024-01-10 00:00; ages of customer a: 70, 30, 21, 7, 1.5, 1.25, 0 (+1 after)
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": ["a", "a", "a", "a", "a", "a", "a", "a", "b", "c", "d"],
                "timestamp": [
                    "2023-11-01 00:00",
                    "2023-12-11 00:00",
                    "2023-12-20 00:00",
                    "2024-01-03 00:00",
                    "2024-01-08 12:00",
                    "2024-01-08 18:00",
                    "2024-01-10 00:00",
                    "2024-01-12 00:00",
                    "2024-01-08 12:00",
                    "2024-01-09 18:00",
                    "2024-01-15 00:00",
                ],
                "touchpoint": [
                    "paid_ad",
                    "website_visit",
                    "email",
                    "website_visit",
                    "purchase",
                    "email",
                    "website_visit",
                    "email",
                    "website_visit",
                    "paid_ad",
                    "paid_ad",
                ],
                "amount": [NAN, NAN, NAN, NAN, 20.0, NAN, NAN, NAN, NAN, NAN, NAN],
            }
        )
    )


@pytest.fixture
def activity(activity_log):
    return ActivityFeatures().fit(activity_log).transform(activity_log, cutoff="2024-01-10")


TOUCH = {
    # cutoff 2024-01-10; customer 1 ages: 9, 8, 7, 5, 4, 1.5, 1
    "customer_id": [1, 1, 1, 1, 1, 1, 1, 2],
    "timestamp": [
        "2024-01-01 00:00",
        "2024-01-02 00:00",
        "2024-01-03 00:00",
        "2024-01-05 00:00",
        "2024-01-06 00:00",
        "2024-01-08 12:00",
        "2024-01-09 00:00",
        "2024-01-09 00:00",
    ],
    "touchpoint": [
        "paid_ad",
        "email",
        "email",
        "website_visit",
        "consultation",
        "email",
        "follow_up_call",
        "website_visit",
    ],
}
TOUCH_CHANNELS = ["social", "email", "email", "web", "store", "email", "phone", "web"]


@pytest.fixture
def touch_log():
    return cjml.read_events(pd.DataFrame(TOUCH))


@pytest.fixture
def touchpoints(touch_log):
    return TouchpointFeatures().fit(touch_log).transform(touch_log, cutoff="2024-01-10")


@pytest.fixture
def stage_log():
    # cutoff 2024-01-20; customer 1: awareness, consideration, conversion, retention,
    # consideration (regression), retention, retention
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 1, 1, 1, 1, 2, 3, 3, 4, 4],
                "timestamp": [
                    "2024-01-01 00:00",
                    "2024-01-03 00:00",
                    "2024-01-05 00:00",
                    "2024-01-08 00:00",
                    "2024-01-10 00:00",
                    "2024-01-14 12:00",
                    "2024-01-17 00:00",
                    "2024-01-19 12:00",
                    "2024-01-02 00:00",
                    "2024-01-04 00:00",
                    "2024-01-10 00:00",
                    "2024-01-15 00:00",
                ],
                "touchpoint": [
                    "paid_ad",
                    "website_visit",
                    "purchase",
                    "store_visit",
                    "website_visit",
                    "purchase",
                    "email",
                    "website_visit",
                    "store_visit",
                    "referral_invite",
                    "store_visit",
                    "website_visit",
                ],
                "stage": [
                    "awareness",
                    "consideration",
                    "conversion",
                    "retention",
                    "consideration",
                    "retention",
                    "retention",
                    "consideration",
                    "loyalty",
                    "loyalty",
                    "retention",
                    "consideration",
                ],
            }
        )
    )


@pytest.fixture
def stages(stage_log):
    return StageFeatures().fit(stage_log).transform(stage_log, cutoff="2024-01-20")


@pytest.fixture
def sequence_log():
    # transitions: email->purchase 3, paid_ad->website_visit 2, purchase->email 2,
    # website_visit->purchase 1, website_visit->email 1, free_trial->live_chat 1
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 4],
                "timestamp": [
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                    "2024-01-05",
                    "2024-01-06",
                    "2024-01-07",
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                    "2024-01-06",
                    "2024-01-02",
                    "2024-01-05",
                ],
                "touchpoint": [
                    "paid_ad",
                    "website_visit",
                    "purchase",
                    "email",
                    "purchase",
                    "email",
                    "purchase",
                    "paid_ad",
                    "website_visit",
                    "email",
                    "purchase",
                    "online_review",
                    "free_trial",
                    "live_chat",
                ],
            }
        )
    )


@pytest.fixture
def experience_log():
    # cutoff 2024-01-20
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [
                    "x",
                    "x",
                    "x",
                    "x",
                    "x",
                    "x",
                    "n6",
                    "n7",
                    "n8",
                    "n9",
                    "e",
                    "e",
                    "q",
                ],
                "timestamp": [
                    "2024-01-01 00:00",
                    "2024-01-03 00:00",
                    "2024-01-05 00:00",
                    "2024-01-10 00:00",
                    "2024-01-15 00:00",
                    "2024-01-16 12:00",
                    "2024-01-10 00:00",
                    "2024-01-10 00:00",
                    "2024-01-10 00:00",
                    "2024-01-10 00:00",
                    "2024-01-12 00:00",
                    "2024-01-18 00:00",
                    "2024-01-11 00:00",
                ],
                "touchpoint": [
                    "website_visit",
                    "support_ticket",
                    "live_chat",
                    "purchase",
                    "email",
                    "website_visit",
                    "email",
                    "email",
                    "email",
                    "email",
                    "live_chat",
                    "support_ticket",
                    "paid_ad",
                ],
                "satisfaction": [4, 1, 5, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 4, NAN],
                "nps": [6, NAN, NAN, 9, NAN, NAN, 6, 7, 8, 9, NAN, NAN, NAN],
                "effort": [NAN, 6, 2, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 4, 5, NAN],
            }
        )
    )


@pytest.fixture
def experience(experience_log):
    return ExperienceFeatures().fit(experience_log).transform(experience_log, cutoff="2024-01-20")


@pytest.fixture
def support_log():
    # cutoff 2024-01-31
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 1, 2, 2, 2, 3],
                "timestamp": [
                    "2024-01-01 00:00",
                    "2024-01-11 00:00",
                    "2024-01-12 00:00",
                    "2024-01-21 12:00",
                    "2024-01-02 00:00",
                    "2024-01-03 00:00",
                    "2024-01-05 00:00",
                    "2024-01-06 00:00",
                ],
                "touchpoint": [
                    "support_ticket",
                    "support_ticket",
                    "ticket_resolved",
                    "support_ticket",
                    "ticket_resolved",
                    "ticket_resolved",
                    "support_ticket",
                    "website_visit",
                ],
            }
        )
    )


@pytest.fixture
def support(support_log):
    return SupportFeatures().fit(support_log).transform(support_log, cutoff="2024-01-31")


@pytest.fixture
def value_log():
    # cutoff 2024-04-10 (2024 is a leap year): customer 1 purchase ages 100, 90, 30, 0.5
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 1, 1, 2, 3],
                "timestamp": [
                    "2024-01-01 00:00",
                    "2024-01-11 00:00",
                    "2024-02-10 00:00",
                    "2024-03-11 00:00",
                    "2024-04-09 12:00",
                    "2024-04-01 00:00",
                    "2024-04-05 00:00",
                ],
                "touchpoint": [
                    "purchase",
                    "purchase",
                    "website_visit",
                    "purchase",
                    "purchase",
                    "email",
                    "purchase",
                ],
                "amount": [100.0, 50.0, 999.0, NAN, 30.0, NAN, NAN],
            }
        )
    )


@pytest.fixture
def value(value_log):
    return ValueFeatures().fit(value_log).transform(value_log, cutoff="2024-04-10")


# ------------------------------------------------------------------ activity
def test_activity_counts_only_events_at_or_before_cutoff(activity):
    assert activity.loc["a", "n_events"] == 7


def test_activity_days_since_first_and_last_event(activity):
    assert activity.loc["a", "days_since_first_event"] == 70.0
    assert activity.loc["a", "days_since_last_event"] == 0.0
    assert activity.loc["b", "days_since_first_event"] == 1.5
    assert activity.loc["b", "days_since_last_event"] == 1.5


def test_activity_two_events_on_one_utc_day_are_one_active_day(activity):
    assert activity.loc["a", "active_days"] == 6


def test_activity_event_exactly_window_days_before_cutoff_is_out(activity):
    # ages 1.5, 1.25 and 0 are in (cutoff - 7d, cutoff]; age 7 is not
    assert activity.loc["a", "events_last_7d"] == 3


def test_activity_event_exactly_at_cutoff_is_in(activity_log):
    out = ActivityFeatures().fit(activity_log).transform(activity_log, cutoff="2024-01-09 18:00")
    # c's only event is at the cutoff; a sees ages 6.75, 1.25 and 1
    assert out.loc["c", "events_last_7d"] == 1
    assert out.loc["c", "days_since_last_event"] == 0.0
    assert out.loc["a", "events_last_7d"] == 3
    assert out.loc["a", "days_since_last_event"] == 1.0


def test_activity_events_last_30d_and_90d(activity):
    assert activity.loc["a", "events_last_30d"] == 5
    assert activity.loc["a", "events_last_90d"] == 7


def test_activity_events_trend_uses_middle_window(activity):
    # 5 events in (cutoff-30d, cutoff], 1 (age exactly 30) in (cutoff-60d, cutoff-30d]
    assert activity.loc["a", "events_trend_30d"] == 4


def test_activity_mean_days_between_events(activity):
    assert activity.loc["a", "mean_days_between_events"] == pytest.approx(70 / 6)


def test_activity_mean_days_between_events_nan_for_single_event(activity):
    assert isnan(activity.loc["b", "mean_days_between_events"])


def test_activity_events_per_week_over_tenure(activity):
    assert activity.loc["a", "events_per_week"] == pytest.approx(0.7)
    # tenure under a week counts as a week: 1 event / 1 week
    assert activity.loc["b", "events_per_week"] == pytest.approx(1.0)


def test_activity_events_per_week_tenure_is_at_least_one_week(activity):
    assert activity.loc["c", "days_since_first_event"] == 0.25
    assert activity.loc["c", "events_per_week"] == 1.0


def test_activity_customer_with_only_later_events_is_absent(activity):
    assert list(activity.index) == ["a", "b", "c"]


def test_activity_column_names_follow_windows(activity):
    assert list(activity.columns) == [
        "n_events",
        "days_since_first_event",
        "days_since_last_event",
        "active_days",
        "events_last_7d",
        "events_last_30d",
        "events_last_90d",
        "events_trend_30d",
        "mean_days_between_events",
        "events_per_week",
    ]


def test_activity_single_window_is_the_trend_window(activity_log):
    out = (
        ActivityFeatures(windows=(14,))
        .fit(activity_log)
        .transform(activity_log, cutoff="2024-01-10")
    )
    # ages < 14: 7, 1.5, 1.25, 0; ages in [14, 28): 21
    assert out.loc["a", "events_last_14d"] == 4
    assert out.loc["a", "events_trend_14d"] == 3


# ------------------------------------------------------------------ touchpoints
def test_touchpoints_counts_per_touchpoint(touchpoints):
    row = touchpoints.loc[1]
    assert row["count_email"] == 3
    assert row["count_paid_ad"] == 1
    assert row["count_website_visit"] == 1
    assert row["count_consultation"] == 1
    assert row["count_follow_up_call"] == 1
    assert row["count_purchase"] == 0
    assert row["count_other"] == 0


def test_touchpoints_every_map_touchpoint_has_a_column(touchpoints):
    names = [t for t in cjml.JourneyMap.default().touchpoint_names]
    assert [c for c in touchpoints.columns if c.startswith("count_")] == [
        *[f"count_{t}" for t in names],
        "count_other",
    ]


def test_touchpoints_shares_of_all_events(touchpoints):
    assert touchpoints.loc[1, "share_email"] == pytest.approx(3 / 7)
    assert touchpoints.loc[1, "share_paid_ad"] == pytest.approx(1 / 7)
    assert touchpoints.loc[1, "share_other"] == 0.0
    assert touchpoints.loc[2, "share_website_visit"] == 1.0


def test_touchpoints_distinct_touchpoints(touchpoints):
    assert touchpoints.loc[1, "distinct_touchpoints"] == 5
    assert touchpoints.loc[2, "distinct_touchpoints"] == 1


def test_touchpoints_days_since_actionable_touchpoint(touchpoints):
    assert touchpoints.loc[1, "days_since_email"] == 1.5
    assert touchpoints.loc[1, "days_since_consultation"] == 4.0
    assert touchpoints.loc[1, "days_since_follow_up_call"] == 1.0


def test_touchpoints_days_since_actionable_is_nan_when_never(touchpoints):
    assert isnan(touchpoints.loc[1, "days_since_live_chat"])
    assert isnan(touchpoints.loc[2, "days_since_email"])


def test_touchpoints_days_since_only_for_actionable_touchpoints(touchpoints):
    actionable = cjml.JourneyMap.default().actionable_touchpoints
    assert [c for c in touchpoints.columns if c.startswith("days_since_")] == [
        f"days_since_{t}" for t in actionable
    ]


def test_touchpoints_contacts_last_7d_excludes_contact_exactly_7_days_old(touchpoints):
    # consultation (4d), email (1.5d), follow-up call (1d); emails 8d and 7d old are out
    assert touchpoints.loc[1, "contacts_last_7d"] == 3
    assert touchpoints.loc[2, "contacts_last_7d"] == 0


def test_touchpoints_contacts_per_map_channel_without_channel_column(touchpoints):
    assert touchpoints.loc[1, "contacts_online_last_7d"] == 1
    assert touchpoints.loc[1, "contacts_offline_last_7d"] == 2
    assert list(touchpoints.columns[-3:]) == [
        "contacts_last_7d",
        "contacts_online_last_7d",
        "contacts_offline_last_7d",
    ]


def test_touchpoints_contacts_per_log_channel_with_channel_column():
    log = cjml.read_events(pd.DataFrame({**TOUCH, "channel": TOUCH_CHANNELS}))
    out = TouchpointFeatures().fit(log).transform(log, cutoff="2024-01-10")
    # only channels that carried business contacts in the fit data get a column
    assert list(out.columns[-4:]) == [
        "contacts_last_7d",
        "contacts_email_last_7d",
        "contacts_phone_last_7d",
        "contacts_store_last_7d",
    ]
    assert out.loc[1, "contacts_email_last_7d"] == 1
    assert out.loc[1, "contacts_phone_last_7d"] == 1
    assert out.loc[1, "contacts_store_last_7d"] == 1
    assert out.loc[2, "contacts_email_last_7d"] == 0


def test_touchpoints_channel_contacts_not_silently_zero_without_channel_column(touch_log):
    fitted = TouchpointFeatures().fit(
        cjml.read_events(pd.DataFrame({**TOUCH, "channel": TOUCH_CHANNELS}))
    )
    try:
        out = fitted.transform(touch_log, cutoff="2024-01-10")
    except ValueError:
        return
    assert out.loc[1, "contacts_last_7d"] == 3
    assert isnan(out.loc[1, "contacts_email_last_7d"])


def test_touchpoints_fatigue_days_sets_the_contact_window(touch_log):
    out = (
        TouchpointFeatures(fatigue_days=8).fit(touch_log).transform(touch_log, cutoff="2024-01-10")
    )
    # ages 7 (email), 4, 1.5, 1 are < 8; the email 8 days old is out
    assert out.loc[1, "contacts_last_8d"] == 4
    assert out.loc[1, "contacts_online_last_8d"] == 2


def _log_with_unknown_touchpoints(*unknown):
    rows = {
        "customer_id": [1, 1],
        "timestamp": ["2024-01-05 00:00", "2024-01-08 00:00"],
        "touchpoint": ["website_visit", "email"],
        "stage": [None, None],
    }
    for k, name in enumerate(unknown):
        rows["customer_id"].append(1)
        rows["timestamp"].append(f"2024-01-06 0{k}:00")
        rows["touchpoint"].append(name)
        rows["stage"].append("awareness")
    with pytest.warns(UserWarning, match="not in journey map"):
        return cjml.read_events(pd.DataFrame(rows))


def _pages_log(n_customers, pages, when, last):
    """A log of pages as touchpoints: page k seen 12 - k times by each customer (at
    ``when(k, j)``), then one ``last`` (time, touchpoint) event each."""
    rows = []
    for c in range(n_customers):
        for k, page in enumerate(pages):
            rows += [(c, when(k, j), page) for j in range(12 - k)]
        rows.append((c, *last))
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"])
    events["stage"] = "awareness"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pages are not in the default map
        return cjml.read_events(events)


def test_a_vocabulary_of_pages_keeps_the_actionable_and_the_frequent_ones():
    """Hundreds of URLs as touchpoints: max_touchpoints keep their own columns (actionable
    first, then by events), the rest are counted as other, said once at fit, not at
    transform."""
    pages = [f"/page/{k}" for k in range(12)]
    log = _pages_log(
        40,
        pages,
        lambda k, j: f"2024-01-{1 + (k + j) % 27:02d} 10:00",
        ("2024-01-20 11:00", "email"),  # actionable, in the default map
    )
    jm = cjml.JourneyMap.default()
    actionable = list(jm.actionable_touchpoints)
    family = TouchpointFeatures(max_touchpoints=len(actionable) + 3)
    n_all = len(jm.touchpoint_names) + len(pages)
    with pytest.warns(
        UserWarning, match=rf"The log has {n_all} touchpoints: the {n_all - len(actionable) - 3} "
    ):
        family.fit(log)
    # every actionable touchpoint keeps its columns (email has events, the others none),
    # then the pages by events; the rest, unused map touchpoints among them, are other
    assert set(actionable) <= set(family.touchpoints_)
    assert [t for t in family.touchpoints_ if t.startswith("/page/")] == pages[:3]
    assert set(pages[3:]) <= set(family.folded_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # folded on purpose: no "not seen" warning
        out = family.transform(log, cutoff="2024-01-31")
    per_customer = sum(12 - k for k in range(3, 12))
    assert (out["count_other"] == per_customer).all()
    # every event is counted once: a page kept, email, or other
    kept = sum(12 - k for k in range(3))
    assert (out.filter(like="count_").sum(axis=1) == per_customer + kept + 1).all()
    assert "count_page_11" not in out.columns and "count_page_0" in out.columns
    with pytest.raises(ValueError, match="max_touchpoints must be a whole number >= 1"):
        TouchpointFeatures(max_touchpoints=0).fit(log)


def test_a_vocabulary_of_pages_gives_the_sequences_the_same_kept_touchpoints():
    """The sequence family folds the same rare pages into other: the last touchpoints
    are categories of at most max_touchpoints + 1 levels, transitions among kept ones."""
    pages = [f"/page/{k}" for k in range(12)]
    log = _pages_log(
        30,
        pages,
        lambda k, j: f"2024-01-{1 + (k + j) % 27:02d} 10:0{j % 10}",
        ("2024-01-28 11:00", pages[11]),  # the last event: a rare page
    )
    jm = cjml.JourneyMap.default()
    limit = len(jm.actionable_touchpoints) + 3
    sequences = SequenceFeatures(max_touchpoints=limit).fit(log)
    touchpoints = TouchpointFeatures(max_touchpoints=limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TouchpointFeatures says it
        touchpoints.fit(log)
    assert sequences.touchpoints_ == touchpoints.touchpoints_
    assert len(sequences.touchpoints_) == limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # folded on purpose: no "not seen" warning
        out = sequences.transform(log, cutoff="2024-01-31")
    other = len(sequences.touchpoints_)
    assert (out["last_touchpoint_1"] == other).all()  # /page/11, folded
    assert set(out["last_touchpoint_2"].unique()) <= set(range(other + 1))
    kept = set(sequences.touchpoints_) | {"other"}
    assert all(a in kept and b in kept for a, b in sequences.transitions_)
    # without a limit every page keeps its own level
    everything = SequenceFeatures(max_touchpoints=None).fit(log)
    assert set(pages) <= set(everything.touchpoints_) and not everything.folded_
    with pytest.raises(ValueError, match="max_touchpoints must be a whole number >= 1"):
        SequenceFeatures(max_touchpoints=0).fit(log)


def test_touchpoints_unseen_touchpoint_goes_to_other_with_warning(touch_log):
    new = _log_with_unknown_touchpoints("tiktok_video")
    fitted = TouchpointFeatures().fit(touch_log)
    with pytest.warns(UserWarning, match="tiktok_video"):
        out = fitted.transform(new, cutoff="2024-01-10")
    assert out.loc[1, "count_other"] == 1
    assert out.loc[1, "share_other"] == pytest.approx(1 / 3)
    assert out.loc[1, "distinct_touchpoints"] == 3
    assert "count_tiktok_video" not in out.columns


def test_touchpoints_touchpoint_seen_in_fit_gets_its_own_column():
    log = _log_with_unknown_touchpoints("tiktok_video")
    out = TouchpointFeatures().fit(log).transform(log, cutoff="2024-01-10")
    assert out.loc[1, "count_tiktok_video"] == 1
    assert out.loc[1, "count_other"] == 0


def test_touchpoints_distinct_counts_two_unseen_touchpoints_as_two(touch_log):
    new = _log_with_unknown_touchpoints("tiktok_video", "podcast_ad")
    fitted = TouchpointFeatures().fit(touch_log)
    with pytest.warns(UserWarning, match="podcast_ad"):
        out = fitted.transform(new, cutoff="2024-01-10")
    assert out.loc[1, "count_other"] == 2
    assert out.loc[1, "distinct_touchpoints"] == 4


# ------------------------------------------------------------------ stages
def test_stages_current_and_furthest_stage_codes(stages):
    assert stages.loc[1, "current_stage"] == 3
    assert stages.loc[1, "furthest_stage"] == 3
    assert stages.loc[4, "current_stage"] == 1
    assert stages.loc[4, "furthest_stage"] == 3
    assert stages.loc[3, "current_stage"] == 4


def test_stages_days_in_current_stage_restarts_after_regression(stages):
    # retention was first entered on 01-08 but left on 01-10; re-entered 01-14 12:00
    assert stages.loc[1, "days_in_current_stage"] == 5.5


def test_stages_events_in_current_stage_counts_last_run_only(stages):
    assert stages.loc[1, "events_in_current_stage"] == 2


def test_stages_run_of_same_stage(stages):
    assert stages.loc[3, "days_in_current_stage"] == 18.0
    assert stages.loc[3, "events_in_current_stage"] == 2
    assert stages.loc[2, "days_in_current_stage"] == 0.5
    assert stages.loc[2, "events_in_current_stage"] == 1


def test_stages_progressions_and_regressions_between_consecutive_events(stages):
    assert stages.loc[1, "stage_progressions"] == 4
    assert stages.loc[1, "stage_regressions"] == 1
    assert stages.loc[4, "stage_progressions"] == 0
    assert stages.loc[4, "stage_regressions"] == 1


def test_stages_no_moves_with_a_single_event(stages):
    assert stages.loc[2, "stage_progressions"] == 0
    assert stages.loc[2, "stage_regressions"] == 0


def test_stages_per_30d_over_tenure(stages):
    # furthest (retention, 3) - first (awareness, 0) over 19 days of tenure
    assert stages.loc[1, "stages_per_30d"] == pytest.approx(90 / 19)
    assert stages.loc[3, "stages_per_30d"] == 0.0


def test_stages_per_30d_tenure_is_at_least_one_day(stage_log):
    out = StageFeatures().fit(stage_log).transform(stage_log, cutoff="2024-01-03 12:00")
    # customer 1: awareness -> consideration, first event 2.5 days ago
    assert out.loc[1, "stages_per_30d"] == pytest.approx(30 / 2.5)
    out = StageFeatures().fit(stage_log).transform(stage_log, cutoff="2024-01-01 12:00")
    assert out.loc[1, "stages_per_30d"] == 0.0


# ------------------------------------------------------------------ sequences
def test_sequences_top_k_picks_most_frequent_transitions(sequence_log):
    seq = SequenceFeatures(top_k=2).fit(sequence_log)
    # email->purchase (3) first; paid_ad->website_visit and purchase->email tie at 2,
    # and paid_ad__website_visit comes first by name
    assert seq.transitions_ == [("email", "purchase"), ("paid_ad", "website_visit")]


def test_sequences_transition_ties_are_broken_by_name(sequence_log):
    seq = SequenceFeatures(top_k=4).fit(sequence_log)
    # fourth place: free_trial->live_chat, website_visit->email, website_visit->purchase all
    # occur once; by name free_trial__live_chat comes first
    assert seq.transitions_[3] == ("free_trial", "live_chat")


def test_sequences_transition_columns_and_counts(sequence_log):
    out = SequenceFeatures(top_k=2).fit(sequence_log).transform(sequence_log)
    assert list(out.columns) == [
        "transition_email__purchase",
        "transition_paid_ad__website_visit",
        "last_touchpoint_1",
        "last_touchpoint_2",
        "last_touchpoint_3",
    ]
    assert out.loc[1, "transition_email__purchase"] == 2
    assert out.loc[1, "transition_paid_ad__website_visit"] == 1
    assert out.loc[2, "transition_email__purchase"] == 1
    assert out.loc[3, "transition_email__purchase"] == 0


def test_sequences_transitions_counted_only_up_to_cutoff(sequence_log):
    out = SequenceFeatures(top_k=2).fit(sequence_log).transform(sequence_log, cutoff="2024-01-05")
    assert out.loc[1, "transition_email__purchase"] == 1


def test_sequences_fit_cutoff_limits_learned_transitions(sequence_log):
    seq = SequenceFeatures(top_k=1).fit(sequence_log, cutoff="2024-01-02")
    assert seq.transitions_ == [("paid_ad", "website_visit")]


def test_sequences_last_touchpoints_as_codes(sequence_log):
    out = SequenceFeatures(top_k=2).fit(sequence_log).transform(sequence_log)
    assert out.loc[1, ["last_touchpoint_1", "last_touchpoint_2", "last_touchpoint_3"]].tolist() == [
        PURCHASE,
        EMAIL,
        PURCHASE,
    ]
    assert out.loc[2, ["last_touchpoint_1", "last_touchpoint_2", "last_touchpoint_3"]].tolist() == [
        PURCHASE,
        EMAIL,
        WEBSITE_VISIT,
    ]


def test_sequences_last_touchpoints_nan_for_short_history(sequence_log):
    out = SequenceFeatures(top_k=2).fit(sequence_log).transform(sequence_log)
    assert out.loc[3, "last_touchpoint_1"] == ONLINE_REVIEW
    assert isnan(out.loc[3, "last_touchpoint_2"])
    assert isnan(out.loc[3, "last_touchpoint_3"])
    assert out.loc[4, "last_touchpoint_1"] == LIVE_CHAT
    assert out.loc[4, "last_touchpoint_2"] == FREE_TRIAL
    assert isnan(out.loc[4, "last_touchpoint_3"])


def test_sequences_unseen_last_touchpoint_is_other_code(sequence_log):
    seq = SequenceFeatures(top_k=2).fit(sequence_log)
    new = _log_with_unknown_touchpoints("tiktok_video")
    with pytest.warns(UserWarning, match="tiktok_video"):
        out = seq.transform(new, cutoff="2024-01-10")
    assert len(seq.touchpoints_) == OTHER
    assert out.loc[1, ["last_touchpoint_1", "last_touchpoint_2", "last_touchpoint_3"]].tolist() == [
        EMAIL,
        OTHER,
        WEBSITE_VISIT,
    ]


def test_sequences_categorical_features(sequence_log):
    seq = SequenceFeatures(top_k=2, last_k=2).fit(sequence_log)
    assert seq.categorical_features_ == ("last_touchpoint_1", "last_touchpoint_2")


def test_sequences_top_k_zero_gives_no_transition_columns(sequence_log):
    seq = SequenceFeatures(top_k=0).fit(sequence_log)
    assert list(seq.get_feature_names_out()) == [
        "last_touchpoint_1",
        "last_touchpoint_2",
        "last_touchpoint_3",
    ]


# ------------------------------------------------------------------ experience
def test_experience_csat_summaries(experience):
    row = experience.loc["x"]
    assert row["csat_count"] == 4
    assert row["csat_mean"] == 3.25
    assert row["csat_min"] == 1
    assert row["csat_last"] == 3
    assert row["csat_top_box_share"] == 0.25


def test_experience_positive_and_negative_counts(experience):
    assert experience.loc["x", "positive_experiences"] == 2
    assert experience.loc["x", "negative_experiences"] == 1


def test_experience_balance_weighs_a_negative_twelve_times(experience):
    assert experience.loc["x", "experience_balance"] == -10


def test_experience_balance_uses_negative_weight(experience_log):
    out = (
        ExperienceFeatures(negative_weight=2)
        .fit(experience_log)
        .transform(experience_log, cutoff="2024-01-20")
    )
    assert out.loc["x", "experience_balance"] == 0


def test_experience_peak_end_tie_in_extremity_goes_to_latest(experience):
    # CSAT 1 (01-03) and 5 (01-05) are equally extreme: the later 5 is the peak; end is 3
    assert experience.loc["x", "peak_end_csat"] == 4.0


def test_experience_peak_end_with_fractional_csat():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1],
                "timestamp": ["2024-01-01", "2024-01-02"],
                "touchpoint": ["live_chat", "email"],
                "satisfaction": [4.5, 3.0],
            }
        )
    )
    out = ExperienceFeatures().fit(log).transform(log, cutoff="2024-01-03")
    assert out.loc[1, "peak_end_csat"] == 3.75


def test_experience_peak_end_never_reads_another_customers_answer():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 2, 2],
                "timestamp": ["2024-01-01", "2024-01-01", "2024-01-02"],
                "touchpoint": ["live_chat", "email", "email"],
                "satisfaction": [2.0, 1.5, 3.0],
            }
        )
    )
    out = ExperienceFeatures().fit(log).transform(log, cutoff="2024-01-03")
    assert out.loc[1, "peak_end_csat"] == 2.0
    assert out.loc[2, "peak_end_csat"] == 2.25


def test_experience_nps_last_mean_and_trend(experience):
    assert experience.loc["x", "nps_last"] == 9
    assert experience.loc["x", "nps_mean"] == 7.5
    assert experience.loc["x", "nps_trend"] == 3
    assert experience.loc["n7", "nps_trend"] == 0


@pytest.mark.parametrize(
    ("customer", "expected"), [("n6", -1.0), ("n7", 0.0), ("n8", 0.0), ("n9", 1.0), ("x", 1.0)]
)
def test_experience_nps_class_at_boundaries(experience, customer, expected):
    assert experience.loc[customer, "nps_class_last"] == expected


def test_experience_ces_mean_and_max(experience):
    assert experience.loc["x", "ces_mean"] == 4.0
    assert experience.loc["x", "ces_max"] == 6.0


def test_experience_negative_via_effort_of_five(experience):
    # customer e: effort 4 (not negative), then CSAT 4 with effort 5: negative, so not positive
    row = experience.loc["e"]
    assert row["negative_experiences"] == 1
    assert row["positive_experiences"] == 0
    assert row["experience_balance"] == -12
    assert row["ces_mean"] == 4.5


def test_experience_days_and_events_since_negative(experience):
    assert experience.loc["x", "days_since_negative_experience"] == 17.0
    assert experience.loc["x", "events_since_negative_experience"] == 4
    assert experience.loc["e", "days_since_negative_experience"] == 2.0
    assert experience.loc["e", "events_since_negative_experience"] == 0


def test_experience_nan_where_survey_never_answered(experience):
    row = experience.loc["q"]
    for col in [
        "csat_mean",
        "csat_min",
        "csat_last",
        "csat_top_box_share",
        "peak_end_csat",
        "nps_last",
        "nps_mean",
        "nps_class_last",
        "nps_trend",
        "ces_mean",
        "ces_max",
        "days_since_negative_experience",
        "events_since_negative_experience",
    ]:
        assert isnan(row[col]), col
    assert row["csat_count"] == 0
    assert row["positive_experiences"] == 0
    assert row["negative_experiences"] == 0
    assert row["experience_balance"] == 0


def test_experience_log_without_survey_columns(activity_log):
    out = ExperienceFeatures().fit(activity_log).transform(activity_log, cutoff="2024-01-10")
    assert list(out.index) == ["a", "b", "c"]
    for col in [
        "csat_mean",
        "csat_min",
        "csat_last",
        "csat_top_box_share",
        "peak_end_csat",
        "nps_last",
        "nps_mean",
        "nps_class_last",
        "nps_trend",
        "ces_mean",
        "ces_max",
        "days_since_negative_experience",
        "events_since_negative_experience",
    ]:
        assert out[col].isna().all(), col
    assert (out["csat_count"] == 0).all()
    assert (out["negative_experiences"] == 0).all()
    assert (out["experience_balance"] == 0).all()


# ------------------------------------------------------------------ support
def test_support_counts(support):
    assert support.loc[
        1, ["tickets_opened", "tickets_resolved", "tickets_unresolved"]
    ].tolist() == [3, 1, 2]


def test_support_oldest_open_ticket_is_fifo(support):
    # the single resolution closes the first ticket (30 days old); the second (20) is oldest
    assert support.loc[1, "oldest_open_ticket_days"] == 20.0


def test_support_tickets_last_30d_excludes_ticket_exactly_30_days_old(support):
    assert support.loc[1, "tickets_last_30d"] == 2


def test_support_days_since_last_ticket(support):
    assert support.loc[1, "days_since_last_ticket"] == 9.5
    assert isnan(support.loc[3, "days_since_last_ticket"])


def test_support_resolutions_before_a_ticket_do_not_close_it(support):
    # customer 2: two resolutions (Jan 2, 3) with nothing open, then a ticket on Jan 5
    assert support.loc[2, "tickets_opened"] == 1
    assert support.loc[2, "tickets_resolved"] == 2
    assert support.loc[2, "tickets_unresolved"] == 1
    assert support.loc[2, "oldest_open_ticket_days"] == 26.0


def test_support_unresolved_never_negative():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1],
                "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03"],
                "touchpoint": ["support_ticket", "ticket_resolved", "ticket_resolved"],
            }
        )
    )
    row = SupportFeatures().fit(log).transform(log, cutoff="2024-01-10").loc[1]
    assert row["tickets_unresolved"] == 0
    assert isnan(row["oldest_open_ticket_days"])


def test_support_customer_without_tickets(support):
    assert support.loc[
        3, ["tickets_opened", "tickets_resolved", "tickets_unresolved", "tickets_last_30d"]
    ].tolist() == [0, 0, 0, 0]
    assert isnan(support.loc[3, "oldest_open_ticket_days"])


def test_support_resolution_at_cutoff_closes_first_ticket(support_log):
    out = SupportFeatures().fit(support_log).transform(support_log, cutoff="2024-01-12")
    assert out.loc[1, "tickets_resolved"] == 1
    assert out.loc[1, "tickets_unresolved"] == 1
    assert out.loc[1, "oldest_open_ticket_days"] == 1.0


def test_support_custom_resolution_touchpoints(support_log):
    fam = SupportFeatures(resolution_touchpoints=("ticket_resolved", "website_visit"))
    out = fam.fit(support_log).transform(support_log, cutoff="2024-01-31")
    assert out.loc[3, "tickets_resolved"] == 1
    assert out.loc[3, "tickets_unresolved"] == 0


# ------------------------------------------------------------------ value
def test_value_purchases_and_window(value):
    assert value.loc[1, "purchases"] == 4
    # ages 30 and 0.5 are in (cutoff - 90d, cutoff]; age exactly 90 is out
    assert value.loc[1, "purchases_last_90d"] == 2


def test_value_amounts_skip_missing_amounts_and_non_purchases(value):
    assert value.loc[1, "total_amount"] == 180.0
    assert value.loc[1, "amount_last_90d"] == 30.0
    # 100, 50 and 30; the purchase without amount is left out
    assert value.loc[1, "mean_amount"] == 60.0
    assert value.loc[1, "max_amount"] == 100.0


def test_value_days_since_first_and_last_purchase(value):
    assert value.loc[1, "days_since_last_purchase"] == 0.5
    assert value.loc[1, "days_since_first_purchase"] == 100.0


def test_value_mean_days_between_purchases(value):
    assert value.loc[1, "mean_days_between_purchases"] == pytest.approx(99.5 / 3)


def test_value_customer_without_purchases(value):
    row = value.loc[2]
    assert row["purchases"] == 0
    assert row["total_amount"] == 0
    assert row["amount_last_90d"] == 0
    for col in [
        "mean_amount",
        "max_amount",
        "days_since_last_purchase",
        "days_since_first_purchase",
        "mean_days_between_purchases",
    ]:
        assert isnan(row[col]), col


def test_value_single_purchase_without_amount(value):
    row = value.loc[3]
    assert row["purchases"] == 1
    assert row["total_amount"] == 0
    assert isnan(row["mean_amount"])
    assert isnan(row["max_amount"])
    assert isnan(row["mean_days_between_purchases"])


def test_value_window_parameter_names_columns(value_log):
    out = ValueFeatures(window=31).fit(value_log).transform(value_log, cutoff="2024-04-10")
    assert out.loc[1, "purchases_last_31d"] == 2
    assert out.loc[1, "amount_last_31d"] == 30.0


# ------------------------------------------------------------------ featurizer
@pytest.fixture
def featurizer(activity_log):
    return JourneyFeaturizer().fit(activity_log)


def test_featurizer_columns_are_families_in_order(featurizer, activity_log):
    expected = []
    for name in DEFAULT_FAMILIES:
        expected += list(FAMILIES[name]().fit(activity_log).get_feature_names_out())
    out = featurizer.transform(activity_log, cutoff="2024-01-10")
    assert list(out.columns) == expected


def test_featurizer_feature_families_maps_columns(featurizer):
    fam = featurizer.feature_families_
    assert fam["n_events"] == "activity"
    assert fam["count_email"] == "touchpoints"
    assert fam["current_stage"] == "stages"
    assert fam["last_touchpoint_1"] == "sequences"
    assert fam["csat_mean"] == "experience"
    assert fam["tickets_opened"] == "support"
    assert fam["purchases_last_90d"] == "value"
    assert list(fam) == list(featurizer.get_feature_names_out())
    seen = list(dict.fromkeys(fam.values()))
    # the log has no extra column: the attributes family makes no feature
    assert seen == [f for f in DEFAULT_FAMILIES if f != "attributes"]
    assert "btyd" in FAMILIES and "btyd" not in DEFAULT_FAMILIES  # opt-in


def test_featurizer_feature_names_out_equal_transform_columns(featurizer, activity_log):
    out = featurizer.transform(activity_log, cutoff="2024-01-10")
    assert list(featurizer.get_feature_names_out()) == list(out.columns)


def test_featurizer_values_match_the_families(featurizer, activity_log):
    out = featurizer.transform(activity_log, cutoff="2024-01-10")
    assert out.loc["a", "n_events"] == 7
    assert out.loc["a", "count_email"] == 2
    assert out.loc["a", "purchases"] == 1
    assert out.loc["a", "total_amount"] == 20.0
    assert out.loc["a", "days_since_last_purchase"] == 1.5


def test_featurizer_categorical_features(featurizer):
    assert featurizer.categorical_features_ == (
        "last_touchpoint_1",
        "last_touchpoint_2",
        "last_touchpoint_3",
    )


def test_featurizer_set_output_pandas(activity_log):
    plain = JourneyFeaturizer().fit(activity_log).transform(activity_log, cutoff="2024-01-10")
    fz = JourneyFeaturizer().set_output(transform="pandas").fit(activity_log)
    out = fz.transform(activity_log, cutoff="2024-01-10")
    pd.testing.assert_frame_equal(out, plain)


def test_featurizer_family_subset(activity_log):
    fz = JourneyFeaturizer(families=["activity", "value"]).fit(activity_log)
    expected = [
        *ActivityFeatures().fit(activity_log).get_feature_names_out(),
        *ValueFeatures().fit(activity_log).get_feature_names_out(),
    ]
    assert list(fz.get_feature_names_out()) == expected
    assert set(fz.feature_families_.values()) == {"activity", "value"}


def test_featurizer_unknown_family_suggests_a_name(activity_log):
    with pytest.raises(ValueError, match="Did you mean 'activity'"):
        JourneyFeaturizer(families=["activty"]).fit(activity_log)


def test_featurizer_accepts_configured_family_instance(activity_log):
    fz = JourneyFeaturizer(families=[ActivityFeatures(windows=(14,)), "value"])
    out = fz.fit(activity_log).transform(activity_log, cutoff="2024-01-10")
    assert "events_last_7d" not in out.columns
    assert out.loc["a", "events_last_14d"] == 4
    assert out.loc["a", "events_trend_14d"] == 3
    assert "purchases_last_90d" in out.columns


def test_featurizer_value_window_is_longest_activity_window(activity_log):
    fz = JourneyFeaturizer(families=["value"], windows=(7, 45)).fit(activity_log)
    assert list(fz.get_feature_names_out())[1] == "purchases_last_45d"


def test_featurizer_per_customer_cutoffs(featurizer, activity_log):
    cutoffs = pd.Series(
        pd.to_datetime(["2024-01-09", "2024-01-10", "2024-01-01"]), index=["a", "b", "c"]
    )
    out = featurizer.transform(activity_log, cutoff=cutoffs)
    assert list(out.index) == ["a", "b", "c"]
    # a at 01-09 00:00: six events, the last on 01-08 18:00
    assert out.loc["a", "n_events"] == 6
    assert out.loc["a", "days_since_last_event"] == 0.25
    assert out.loc["b", "days_since_last_event"] == 1.5
    assert out.loc["c", "n_events"] == 0


def test_featurizer_per_customer_cutoff_for_customer_without_events(featurizer, activity_log):
    cutoffs = pd.Series(pd.to_datetime(["2024-01-10", "2024-01-10"]), index=["a", "zz"])
    out = featurizer.transform(activity_log, cutoff=cutoffs)
    assert list(out.index) == ["a", "zz"]
    row = out.loc["zz"]
    assert row["n_events"] == 0
    assert row["purchases"] == 0
    assert row["count_email"] == 0
    assert row["share_email"] == 0
    assert row["tickets_opened"] == 0
    for col in [
        "days_since_first_event",
        "days_since_last_event",
        "mean_days_between_events",
        "days_since_email",
        "current_stage",
        "days_in_current_stage",
        "last_touchpoint_1",
        "csat_mean",
        "days_since_last_ticket",
        "days_since_last_purchase",
        "mean_amount",
    ]:
        assert isnan(row[col]), col


def test_featurizer_several_cutoffs_stack_single_cutoff_results(featurizer, activity_log):
    cutoffs = ["2024-01-09", "2024-01-10"]
    out = featurizer.transform(activity_log, cutoff=cutoffs)
    assert out.index.names == ["cutoff", "customer_id"]
    for c in cutoffs:
        block = out.xs(pd.Timestamp(c, tz="UTC"), level="cutoff")
        single = featurizer.transform(activity_log, cutoff=c)
        pd.testing.assert_frame_equal(block, single)


def test_featurizer_customer_with_only_later_events_is_absent(featurizer, activity_log):
    out = featurizer.transform(activity_log, cutoff="2024-01-10")
    assert list(out.index) == ["a", "b", "c"]
    assert "d" in featurizer.transform(activity_log).index


def test_featurizer_docstring_example():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 2],
                "timestamp": ["2024-01-01", "2024-01-05", "2024-02-01", "2024-01-20"],
                "touchpoint": ["website_visit", "purchase", "email", "paid_ad"],
                "amount": [None, 30.0, None, None],
            }
        )
    )
    out = JourneyFeaturizer().fit(log).transform(log, cutoff="2024-01-31")
    assert out.loc[1, ["n_events", "purchases", "days_since_last_event"]].tolist() == [
        2.0,
        1.0,
        26.0,
    ]


# ------------------------------------------------------------------ bad parameters
@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (ActivityFeatures(windows=(0,)), "windows must be distinct positive"),
        (ActivityFeatures(windows=(7, 7)), "windows must be distinct positive"),
        (ActivityFeatures(windows=("week",)), "windows must be whole numbers"),
        (TouchpointFeatures(fatigue_days=0), "fatigue_days must be a whole number of days >= 1"),
        (SequenceFeatures(top_k=-1), "top_k must be a whole number >= 0"),
        (SequenceFeatures(last_k=-1), "last_k must be a whole number >= 0"),
        (ValueFeatures(window=0), "window must be distinct positive"),
        (ValueFeatures(purchase_touchpoints="purchase"), "purchase_touchpoints must be a tuple"),
        (
            SupportFeatures(ticket_touchpoints="support_ticket"),
            "ticket_touchpoints must be a tuple",
        ),
        (JourneyFeaturizer(windows=(0,)), "windows must be distinct positive"),
        (JourneyFeaturizer(fatigue_days=0), "fatigue_days"),
        (JourneyFeaturizer(top_k_transitions=-1), "top_k"),
        (JourneyFeaturizer(families=[]), "non-empty"),
        (JourneyFeaturizer(families=["activity", "activity"]), "listed twice"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_bad_parameters_raise_value_error(activity_log, estimator, message):
    with pytest.raises(ValueError, match=message):
        estimator.fit(activity_log)


def test_transform_before_fit_raises(activity_log):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ActivityFeatures().transform(activity_log)


# ------------------------------------------------------------------ memory
@pytest.fixture
def memory(activity_log):
    return MemoryFeatures().fit(activity_log).transform(activity_log, cutoff="2024-01-10")


def test_memory_decayed_events_halve_every_half_life(memory):
    # customer a: ages 70, 30, 21, 7, 1.5, 1.25, 0 days; b: one event 1.5 days old
    ages = [70, 30, 21, 7, 1.5, 1.25, 0]
    for h in (3, 10, 30):
        assert memory.loc["a", f"decayed_events_hl{h}d"] == pytest.approx(
            sum(0.5 ** (a / h) for a in ages)
        )
    assert memory.loc["b", "decayed_events_hl3d"] == pytest.approx(0.5**0.5)


def test_memory_decayed_contacts_count_only_actionable_touchpoints(memory):
    # a's business contacts are the emails 21 and 1.25 days old (paid_ad is not actionable)
    assert memory.loc["a", "decayed_contacts_hl3d"] == pytest.approx(0.5**7 + 0.5 ** (1.25 / 3))
    assert memory.loc["c", "decayed_contacts_hl10d"] == 0.0


def test_memory_gaps_and_silence(memory):
    # a's gaps: 40, 9, 14, 5.5, 0.25, 1.25 days; mean (70 - 0) / 6; silent for 0 days
    a = memory.loc["a"]
    assert a["last_gap_days"] == pytest.approx(1.25)
    assert a["max_gap_days"] == pytest.approx(40.0)
    assert a["last_gap_vs_mean"] == pytest.approx(1.25 / (70 / 6))
    assert a["silence_vs_mean_gap"] == 0.0
    assert a["silence_vs_longest_gap"] == 0.0
    # one event: no gap, nothing to compare the silence with
    for col in (
        "last_gap_days",
        "max_gap_days",
        "last_gap_vs_mean",
        "silence_vs_mean_gap",
        "silence_vs_longest_gap",
    ):
        assert isnan(memory.loc["b", col])


def test_memory_silence_against_the_customers_own_rhythm():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": ["a", "a", "a"],
                "timestamp": ["2024-01-01", "2024-01-03", "2024-01-09"],
                "touchpoint": ["website_visit"] * 3,
            }
        )
    )
    row = MemoryFeatures().fit(log).transform(log, cutoff="2024-01-21").loc["a"]
    # gaps 2 and 6 days, mean 4; silent for 12 days: three mean gaps, twice the longest
    assert row["last_gap_vs_mean"] == pytest.approx(1.5)
    assert row["silence_vs_mean_gap"] == pytest.approx(3.0)
    assert row["silence_vs_longest_gap"] == pytest.approx(2.0)


def test_memory_ratios_are_never_infinite_when_events_share_an_instant():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": ["a", "a", "b", "b", "b"],
                "timestamp": [
                    "2024-01-01 10:00",
                    "2024-01-01 10:00",
                    "2024-01-01",
                    "2024-01-01",
                    "2024-01-05",
                ],
                "touchpoint": ["website_visit", "email", "website_visit", "email", "website_visit"],
            }
        )
    )
    out = MemoryFeatures().fit(log).transform(log, cutoff="2024-01-11")
    a, b = out.loc["a"], out.loc["b"]
    # a: two events at one instant: gaps of 0, no mean gap to compare with
    assert a["last_gap_days"] == 0.0 and a["max_gap_days"] == 0.0
    assert isnan(a["last_gap_vs_mean"]) and isnan(a["silence_vs_mean_gap"])
    assert a["silence_vs_longest_gap"] == pytest.approx(9 + 14 / 24)
    # b: gaps 0 and 4, mean 2; silent 6 days
    assert b["last_gap_vs_mean"] == pytest.approx(2.0)
    assert b["silence_vs_mean_gap"] == pytest.approx(3.0)
    assert np.isfinite(out.to_numpy(dtype=float)[~np.isnan(out.to_numpy(dtype=float))]).all()


def test_memory_experience_decays_and_csat_trend():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": ["x", "x", "x", "y"],
                "timestamp": ["2024-01-01", "2024-01-11", "2024-01-21", "2024-01-21"],
                "touchpoint": ["website_visit", "live_chat", "purchase", "website_visit"],
                "satisfaction": [5.0, 1.0, 2.0, NAN],
            }
        )
    )
    out = MemoryFeatures().fit(log).transform(log, cutoff="2024-01-21")
    x = out.loc["x"]
    # negatives (CSAT <= 2) 10 and 0 days old; the positive 5/5 is 20 days old
    assert x["decayed_negative_hl10d"] == pytest.approx(0.5 + 1.0)
    assert x["decayed_positive_hl10d"] == pytest.approx(0.25)
    assert x["decayed_negative_hl60d"] == pytest.approx(0.5 ** (10 / 60) + 1.0)
    assert x["csat_trend"] == pytest.approx(2.0 - (5.0 + 1.0) / 2)
    assert out.loc["y", "decayed_negative_hl10d"] == 0.0
    assert isnan(out.loc["y", "csat_trend"])


def test_memory_half_lives_name_the_columns_and_are_checked(activity_log):
    fam = MemoryFeatures(
        half_lives=(1.5, 7), contact_half_lives=(2,), experience_half_lives=(30,)
    ).fit(activity_log)
    names = list(fam.get_feature_names_out())
    assert names[:3] == ["decayed_events_hl1_5d", "decayed_events_hl7d", "decayed_contacts_hl2d"]
    with pytest.raises(ValueError, match="half_lives must be distinct positive"):
        MemoryFeatures(half_lives=(0, 3)).fit(activity_log)


# ------------------------------------------------------------------ shared reductions
def _windows_of_rows(rows, n_rows=6):
    """Windows over ``n_rows`` rows with events of the given rows (sorted), no log: the
    reductions read the rows (and ages, when a test sets them) only."""
    from cjml.features._windows import Windows

    row = np.sort(np.asarray(rows, dtype=np.int64))
    return Windows(
        log=None,  # type: ignore[arg-type]
        ev=np.arange(len(row)),
        row=row,
        n_rows=n_rows,
        cutoff_ns=np.zeros(n_rows, dtype=np.int64),
        customer=np.arange(n_rows),
        customer_id=np.arange(n_rows),
    )


@given(
    rows=st.lists(st.integers(0, 5), min_size=0, max_size=60),
    codes=st.lists(st.integers(-2, 6), min_size=60, max_size=60),
    n_codes=st.integers(0, 5),
    flags=st.lists(st.booleans(), min_size=60, max_size=60),
)
@settings(max_examples=60, deadline=None)
def test_count_codes_is_one_count_per_code(rows, codes, n_codes, flags):
    """The one-pass count per code equals a masked count for each code; others are not counted,
    nor the events outside a mask."""
    w = _windows_of_rows(rows)
    code = np.asarray(codes[: len(w.row)], dtype=np.int64)
    counts = w.count_codes(code, n_codes)
    assert counts.shape == (n_codes, 6)
    for k in range(n_codes):
        np.testing.assert_array_equal(counts[k], w.count(code == k))
    assert counts.sum() == np.count_nonzero((code >= 0) & (code < n_codes))
    mask = np.asarray(flags[: len(w.row)], dtype=bool)
    masked = w.count_codes(code, n_codes, mask=mask)
    assert masked.shape == (n_codes, 6)
    for k in range(n_codes):
        np.testing.assert_array_equal(masked[k], w.count((code == k) & mask))


@given(
    rows=st.lists(st.integers(0, 5), min_size=0, max_size=60),
    places=st.lists(st.integers(-1, 3), min_size=60, max_size=60),
)
@settings(max_examples=60, deadline=None)
def test_days_since_each_touchpoint_is_the_last_event_of_each(rows, places):
    """One sort by touchpoint gives, per row, the age of the last event of each, as w.last does."""
    from cjml.features._touchpoints import TouchpointFeatures

    w = _windows_of_rows(rows)
    place = np.asarray(places[: len(w.row)], dtype=np.int16)
    w.__dict__["age_days"] = np.arange(len(w.row), 0, -1, dtype=np.float64) / 3  # later: younger
    since = TouchpointFeatures._days_since_each(w, place, 4)
    assert since.shape == (4, 6)
    for k in range(4):
        np.testing.assert_array_equal(since[k], w.last(w.age_days, place == k))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 30)), max_size=120),
    st.integers(1, 12),
)
def test_distinct_touchpoints_by_table_and_by_sorting_agree(events, n_rows):
    """A log of few touchpoint names counts each row's distinct ones in a table of flags, one
    of thousands (pages as touchpoints) by sorting the pairs: the two give the same counts."""
    from cjml.features import _touchpoints

    rows = np.array([r % n_rows for r, _ in events], dtype=np.int64)
    codes = np.array([c for _, c in events], dtype=np.int64)
    expected = np.zeros(n_rows)
    for r in range(n_rows):
        expected[r] = len(set(codes[rows == r].tolist()))
    dense = _touchpoints._distinct_per_row(rows, codes, n_rows, 31)
    saved = _touchpoints._DENSE_DISTINCT_CELLS
    try:
        _touchpoints._DENSE_DISTINCT_CELLS = 0  # every table too large: sort the pairs
        by_sorting = _touchpoints._distinct_per_row(rows, codes, n_rows, 31 * 1000)
    finally:
        _touchpoints._DENSE_DISTINCT_CELLS = saved
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(by_sorting, expected)


@given(
    rows=st.lists(st.integers(0, 5), min_size=0, max_size=60),
    values=st.lists(st.one_of(st.floats(-50, 50), st.just(float("nan"))), min_size=60, max_size=60),
    flags=st.lists(st.booleans(), min_size=60, max_size=60),
)
@settings(max_examples=80, deadline=None)
def test_reductions_over_contiguous_rows_equal_the_per_row_definitions(rows, values, flags):
    """min, max, first and last per row (NaN skipped by min and max, NaN for a row without a
    value, rows without events among them) equal each row's own computation."""
    w = _windows_of_rows(rows)
    v = np.asarray(values[: len(w.row)], dtype=np.float64)
    mask = np.asarray(flags[: len(w.row)], dtype=bool)
    for m in (None, mask):
        got = {
            "min": w.minimum(v, m),
            "max": w.maximum(v, m),
            "first": w.first(v) if m is None else w.first(v, m),
            "last": w.last(v) if m is None else w.last(v, m),
        }
        for r in range(6):
            mine = (w.row == r) if m is None else (w.row == r) & m
            seen = v[mine]
            numbers = seen[~np.isnan(seen)]
            expected = {
                "min": numbers.min() if len(numbers) else np.nan,
                "max": numbers.max() if len(numbers) else np.nan,
                "first": seen[0] if len(seen) else np.nan,
                "last": seen[-1] if len(seen) else np.nan,
            }
            for name, value in expected.items():
                np.testing.assert_equal(got[name][r], value, err_msg=f"{name} of row {r}")


@given(
    rows=st.lists(st.integers(0, 5), min_size=0, max_size=60),
    ages=st.lists(st.floats(0, 200), min_size=60, max_size=60),
    days=st.lists(st.sampled_from([1, 7, 7.5, 30, 60, 90, 180]), min_size=1, max_size=6),
)
@settings(max_examples=80, deadline=None)
def test_count_younger_is_one_masked_count_per_window(rows, ages, days):
    """Events per row younger than each window, in one pass, equal a masked count for each
    (windows repeated or out of order included)."""
    w = _windows_of_rows(rows)
    w.__dict__["age_days"] = np.asarray(ages[: len(w.row)], dtype=np.float64)
    younger = w.count_younger(days)
    assert younger.shape == (len(days), 6)
    assert younger.dtype == np.float64
    for j, d in enumerate(days):
        np.testing.assert_array_equal(younger[j], w.count(w.age_days < d))


@given(
    codes=st.lists(st.integers(-1, 9), max_size=80),
    wanted=st.lists(st.integers(0, 9), max_size=5),
)
@settings(max_examples=80, deadline=None)
def test_codes_in_a_lookup_table_equals_isin(codes, wanted):
    """The lookup table answers as np.isin, code -1 (none) matching nothing."""
    from cjml.features._windows import codes_in

    c = np.asarray(codes, dtype=np.int64)
    np.testing.assert_array_equal(codes_in(c, wanted, 10), np.isin(c, wanted))
