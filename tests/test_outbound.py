"""Touchpoints logged when the business sends them (``outbound``): never the customer's activity.

The invariant: adding events of an outbound touchpoint to a log changes no label, no
population and no activity feature, whoever they reach and whenever. And the check that
finds such touchpoints when the map does not say so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
from cjml import JourneyFeaturizer, JourneyMap, read_events
from cjml.exceptions import JourneyMapError
from cjml.features._windows import build_windows
from cjml.labels import make_labels, outbound_advice, outbound_suspects
from cjml.survival import survival_targets

DEFAULT = JourneyMap.default()


def with_sends(*names: str, base: JourneyMap = DEFAULT, outbound: bool = True) -> JourneyMap:
    """``base`` with ``names`` actionable in every stage (added when missing), marked
    ``outbound`` or not."""
    spec = base.to_dict()
    for name in names:
        spec["touchpoints"].setdefault(
            name, {"channel": "online", "stages": list(base.stages), "actionable": True}
        )
        spec["touchpoints"][name]["outbound"] = outbound
    return JourneyMap.from_dict(spec)


NEWSLETTER_MAP = with_sends("newsletter")
UNMARKED_MAP = with_sends("newsletter", outbound=False)


def newsletter_sends(ids, start="2024-01-01", weeks=40) -> pd.DataFrame:
    """A weekly newsletter to every customer in ``ids``, whatever they do."""
    when = pd.date_range(start, periods=weeks, freq="7D", tz="UTC") + pd.Timedelta(hours=9)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.asarray(ids), len(when)),
            "timestamp": np.tile(when, len(ids)),
            "touchpoint": "newsletter",
            "stage": "retention",
        }
    )


# ------------------------------------------------------------------ the map
def test_the_map_reads_writes_and_checks_outbound(tmp_path):
    jm = with_sends("email")
    assert jm["email"].outbound and not jm["live_chat"].outbound
    assert jm.outbound_touchpoints == ("email",)
    # said only when marked, so the maps (and bundle fingerprints) of before are unchanged
    assert "outbound" not in DEFAULT.to_dict()["touchpoints"]["email"]
    assert jm.to_dict()["touchpoints"]["email"]["outbound"] is True
    path = tmp_path / "map.toml"
    path.write_text(jm.to_toml(), encoding="utf-8")
    assert JourneyMap.from_file(path) == jm
    assert "outbound = true" in jm.to_toml()
    assert "actionable, outbound" in jm._repr_html_()
    spec = DEFAULT.to_dict()
    spec["touchpoints"]["email"]["outbound"] = "yes"
    with pytest.raises(JourneyMapError, match="'email' has outbound = 'yes'; use true or false"):
        JourneyMap.from_dict(spec)


def test_activity_mask_is_none_without_outbound_touchpoints():
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": [1, 2],
                    "timestamp": ["2024-01-02", "2024-01-03"],
                    "touchpoint": "website_visit",
                    "stage": "consideration",
                }
            ),
            newsletter_sends([1, 2], weeks=2),
        ]
    )
    assert read_events(events.assign(touchpoint="website_visit")).activity_mask is None
    log = read_events(events, journey_map=NEWSLETTER_MAP)
    mask = log.activity_mask
    assert mask.tolist() == (log.frame["touchpoint"] != "newsletter").tolist()
    assert mask.sum() == 2
    # a part of the log (features in parts of customers) sees its own slice
    part = log._customer_range(1, 2)
    assert part.activity_mask.tolist() == mask[log.offsets[1] : log.offsets[2]].tolist()


# ------------------------------------------------------------------ the invariant
DAY = 86_400


@st.composite
def event_rows(draw, touchpoints, stages, customers, days, max_size):
    """A frame of up to ``max_size`` events drawn from these touchpoints, stages, customer
    ids 1..``customers`` and seconds over ``days`` days from 2024-01-01."""
    n = draw(st.integers(0 if max_size > 30 else 1, max_size))

    def column(values):
        return draw(st.lists(values, min_size=n, max_size=n))

    return pd.DataFrame(
        {
            "customer_id": column(st.integers(1, customers)),
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(column(st.integers(0, days * DAY)), unit="s"),
            "touchpoint": column(st.sampled_from(touchpoints)),
            "stage": column(st.sampled_from(stages)),
        }
    )


OWN = ["website_visit", "purchase", "live_chat", "store_visit"]
own_events = event_rows(OWN, ["conversion", "retention"], customers=6, days=200, max_size=30)
# sends reach customers with no event of their own too (7 and 8), and after the last one
sends = event_rows(["newsletter"], list(DEFAULT.stages), customers=8, days=240, max_size=40)

#: What the customer did, in features: the activity family and the memory family's rhythm.
RHYTHM = [
    "last_gap_days",
    "max_gap_days",
    "last_gap_vs_mean",
    "silence_vs_mean_gap",
    "silence_vs_longest_gap",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(own=own_events, sent=sends, cutoff_day=st.integers(30, 200))
def test_outbound_events_change_no_label_population_or_activity(own, sent, cutoff_day):
    cutoff = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=cutoff_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        before = read_events(own, journey_map=NEWSLETTER_MAP)
        after = read_events(pd.concat([own, sent]), journey_map=NEWSLETTER_MAP)
    end = "2024-09-01"
    for lookback in ("90D", None):
        pd.testing.assert_frame_equal(
            make_labels(after, cutoff, horizon="30D", lookback=lookback, data_end=end),
            make_labels(before, cutoff, horizon="30D", lookback=lookback, data_end=end),
        )
        pd.testing.assert_frame_equal(
            survival_targets(after, cutoff, lookback=lookback, data_end=end),
            survival_targets(before, cutoff, lookback=lookback, data_end=end),
        )
    lb = pd.Timedelta("90D").value
    rows_after = build_windows(after, cutoff, lookback_ns=lb).customer_id
    rows_before = build_windows(before, cutoff, lookback_ns=lb).customer_id
    assert rows_after.tolist() == rows_before.tolist()
    at = pd.Series(cutoff, index=pd.Index(before.customer_ids, name="customer_id"))
    featurizer = JourneyFeaturizer(families=["activity", "memory"]).fit(before, cutoff=cutoff)
    families = featurizer.feature_families_
    columns = [c for c in families if families[c] == "activity"] + RHYTHM
    got = featurizer.transform(after, cutoff=at)[columns]
    expected = featurizer.transform(before, cutoff=at)[columns]
    pd.testing.assert_frame_equal(got, expected)


def test_labels_count_only_what_customers_do():
    own = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3],
            "timestamp": pd.to_datetime(
                ["2024-03-01", "2024-04-10", "2024-03-05", "2024-03-20", "2023-10-01"], utc=True
            ),
            "touchpoint": [
                "website_visit",
                "purchase",
                "website_visit",
                "website_visit",
                "website_visit",
            ],
            "stage": [
                "consideration",
                "conversion",
                "consideration",
                "consideration",
                "consideration",
            ],
        }
    )
    log = read_events(pd.concat([own, newsletter_sends([1, 2, 3])]), journey_map=NEWSLETTER_MAP)
    labels = make_labels(log, "2024-04-01", horizon="30D", data_end="2024-12-31")
    # 3 had only newsletters in the 90 days: not in the population; 2 only newsletters after
    assert labels.index.get_level_values("customer_id").tolist() == [1, 2]
    assert labels["churn"].tolist() == [0, 1]
    # the stage after the cutoff is the customer's own event's, not the newsletter's
    assert labels["next_stage"].astype(str).tolist() == ["conversion", "dropped"]
    unmarked = read_events(
        pd.concat([own, newsletter_sends([1, 2, 3])]),
        journey_map=UNMARKED_MAP,
    )
    # counted as activity, the sends keep everyone in and nobody churns: the trap
    assert make_labels(unmarked, "2024-04-01", horizon="30D", data_end="2024-12-31")[
        "churn"
    ].tolist() == [0, 0, 0]


# ------------------------------------------------------------------ finding them
def _shop(n=300, seed=0):
    """Customers who visit for a while and then leave; live chats only while they are there."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        start = rng.integers(0, 60)
        stay = rng.integers(10, 200)
        for day in range(int(start), int(start + stay), int(rng.integers(3, 10))):
            rows.append((c, day, "website_visit"))
            if rng.random() < 0.2:
                rows.append((c, day, "live_chat"))
    df = pd.DataFrame(rows, columns=["customer_id", "day", "touchpoint"])
    df["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(df.pop("day"), "D")
    df["stage"] = "retention"
    return df


def test_suspects_are_the_sends_that_outlive_the_customers():
    own = _shop()
    sent = newsletter_sends(own["customer_id"].unique()[::2], weeks=40)  # half subscribed
    promo = newsletter_sends(own["customer_id"].unique()[1::3], "2024-01-04", 40).assign(
        touchpoint="promo_email"
    )
    jm = with_sends("newsletter", "promo_email", outbound=False)
    log = read_events(pd.concat([own, sent, promo]), journey_map=jm)
    found = outbound_suspects(log)
    # both are found, the one reaching more first, though each keeps the other "active"
    assert found.index.tolist() == ["newsletter", "promo_email"]
    assert found.loc["newsletter", "share"] > 0.4
    assert "live_chat" not in found.index
    assert outbound_suspects(read_events(own)).empty
    # marked, a touchpoint is neither suspect nor anyone's activity
    marked = read_events(
        pd.concat([own, sent, promo]), journey_map=with_sends("newsletter", base=jm)
    )
    assert outbound_suspects(marked).index.tolist() == ["promo_email"]
    text = outbound_advice(found)
    assert "'newsletter' still reached" in text
    assert '[touchpoints."newsletter"] outbound = true;' in text
    assert '[touchpoints."promo_email"] outbound = true;' in text


def test_train_says_what_looks_sent_and_the_fix():
    own = _shop(200)
    events = pd.concat([own, newsletter_sends(own["customer_id"].unique(), weeks=40)])
    with (
        pytest.warns(UserWarning, match="'newsletter' still reached"),
        pytest.raises(
            ValueError, match=r"no churner.*\[touchpoints.\"newsletter\"\] outbound = true"
        ),
    ):
        cjml.train(read_events(events, journey_map=UNMARKED_MAP), recommender=False, n_jobs=1)


def test_validate_notes_and_draft_map_marks_them(tmp_path, capsys):
    from cjml.cli import main

    own = _shop(200)
    events = pd.concat([own, newsletter_sends(own["customer_id"].unique(), weeks=40)])
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    assert main(["validate", str(path)]) == 0
    assert "Note: Of the" in capsys.readouterr().out  # email is the default map's actionable
    out = tmp_path / "map.toml"
    assert main(["draft-map", str(path), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "newsletter marked as outbound" in said
    drafted = JourneyMap.from_file(out)
    assert drafted.outbound_touchpoints == ("newsletter",)
    assert "sent rather than done?" in drafted["newsletter"].description


def test_purchases_are_never_suspects_however_long_after_a_silence_they_come(tmp_path):
    from cjml import draft_journey_map

    # customers who buy now and then for a year, and once returned something early on:
    # every purchase comes long after their last "other" event, as a newsletter would
    rng = np.random.default_rng(3)
    rows = []
    for c in range(120):
        rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(c % 20)), "return"))
        for day in sorted(rng.choice(np.arange(120, 365), size=4, replace=False)):
            rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(day)), "purchase"))
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"])
    events["amount"] = np.where(events["touchpoint"] == "purchase", 20.0, np.nan)
    drafted = draft_journey_map(events)
    assert drafted.purchase_touchpoints == ("purchase",)
    assert drafted.outbound_touchpoints == ()
    log = read_events(events, journey_map=drafted)
    assert outbound_suspects(log, touchpoints=["purchase"], min_customers=1).empty
    # purchases still count as the customers' own events: a newsletter that outlives
    # buyers who stopped is found (it would not be, were purchases left out of "own")
    early = events[(events["touchpoint"] == "purchase")].assign(
        timestamp=lambda d: d["timestamp"] - pd.Timedelta(days=120)
    )
    sent = newsletter_sends(early["customer_id"].unique(), "2024-06-01", weeks=30)
    jm = with_sends("newsletter", outbound=False, base=drafted)
    mixed = read_events(pd.concat([early, sent.drop(columns="stage")]), journey_map=jm)
    assert outbound_suspects(mixed).index.tolist() == ["newsletter"]


# ------------------------------------------------------------------ who came back
def test_effect_anchors_count_only_own_returns():
    from cjml.effects import build_anchors

    own = _shop(200, seed=1)
    sent = newsletter_sends(own["customer_id"].unique(), weeks=40)
    log = read_events(pd.concat([own, sent]), journey_map=NEWSLETTER_MAP)
    plain = read_events(own, journey_map=NEWSLETTER_MAP)
    featurizer = JourneyFeaturizer(families=["activity"]).fit(plain)
    kwargs = dict(start="2024-01-15", end="2024-09-01", horizon="30D", random_state=0)
    with_sends = build_anchors(log, featurizer, **kwargs)
    without = build_anchors(plain, featurizer, **kwargs)
    # newsletters are treated anchors (actionable), never comparison ones; the comparison
    # anchors and their outcomes are those of the log without sends
    newsletter = 1 + list(NEWSLETTER_MAP.actionable_touchpoints).index("newsletter")
    ref = with_sends.arm == 0
    assert (with_sends.arm == newsletter).any()
    key = (
        pd.DataFrame(
            {"c": with_sends.customer[ref], "t": with_sends.time_ns[ref], "y": with_sends.y[ref]}
        )
        .sort_values(["c", "t"])
        .reset_index(drop=True)
    )
    ref0 = without.arm == 0
    key0 = (
        pd.DataFrame(
            {"c": without.customer[ref0], "t": without.time_ns[ref0], "y": without.y[ref0]}
        )
        .sort_values(["c", "t"])
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(key, key0)
    # a newsletter to a customer who left is followed by silence
    sent_y = with_sends.y[with_sends.arm == newsletter]
    assert sent_y.mean() > 0.3


# ------------------------------------------------------------------ scoring and the map
@pytest.fixture(scope="module")
def shop_with_sends():
    own = _shop(400, seed=2)
    sent = newsletter_sends(own["customer_id"].unique()[::2], weeks=40)
    events = pd.concat([own, sent], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = read_events(events, journey_map=NEWSLETTER_MAP)
        bundle, _ = cjml.train(log, recommender=False, value=False, survival=False, n_jobs=1)
    return own, events, bundle


def test_scoring_leaves_out_customers_who_only_get_sends(shop_with_sends, tmp_path):
    own, events, trained = shop_with_sends
    trained.save(tmp_path / "shop.cjml")
    bundle = cjml.ModelBundle.load(tmp_path / "shop.cjml")  # the mark survives the file
    assert bundle.journey_map.outbound_touchpoints == ("newsletter",)
    cutoff = events["timestamp"].max()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with_sends = cjml.score(bundle, events, cutoff=cutoff, include_inactive=True)
        alone = cjml.score(bundle, own, cutoff=cutoff, include_inactive=True)
    status = with_sends.set_index("customer_id")["status"]
    expected = alone.set_index("customer_id")["status"].reindex(status.index)
    # the same customers are scored; those the newsletter still reaches stay inactive
    assert status.equals(expected)
    silent = own.groupby("customer_id")["timestamp"].max() <= cutoff - pd.Timedelta("90D")
    assert (status[silent[silent].index] == "inactive").all()


def test_the_journey_map_counts_silence_as_the_labels_do(shop_with_sends):
    from cjml.analytics import journey_map

    own, events, _ = shop_with_sends
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        marked = journey_map(read_events(events, journey_map=NEWSLETTER_MAP), cutoff="2024-09-01")
        alone = journey_map(read_events(own, journey_map=NEWSLETTER_MAP), cutoff="2024-09-01")
    went = marked.stages["went_silent"].sum()
    assert went == alone.stages["went_silent"].sum() > 0


def test_the_dask_engine_scores_the_same_customers(shop_with_sends, tmp_path):
    distributed = pytest.importorskip("distributed")
    own, events, bundle = shop_with_sends
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        on_dask = cjml.score(bundle, path, engine="dask", scheduler=client, **kwargs)
        local = cjml.score(bundle, path, **kwargs)
    key = ["customer_id"]
    pd.testing.assert_frame_equal(
        on_dask.sort_values(key).reset_index(drop=True),
        local.sort_values(key).reset_index(drop=True),
    )
    assert (local["status"] == "inactive").sum() > 0


def _suspect_counts_one_by_one(log, candidate, excluded, gap):
    """What outbound_suspects counted for one candidate before it counted all at once: a
    pass over every event per candidate (the reference for the one-pass counts)."""
    cats = list(log.frame["touchpoint"].cat.categories)
    tp, ts, cust = log.touchpoint_codes, log.timestamps_ns, log.customer_codes
    positions = np.arange(len(tp))
    first_row, last_row = log.offsets[:-1], log.offsets[1:] - 1
    end = int(ts.max())
    others = np.ones(len(cats), dtype=bool)
    for name in (candidate, *excluded):
        others[cats.index(name)] = False
    latest = np.maximum.accumulate(np.where(others[tp], positions, -1))[last_row]
    has_other = latest >= first_row
    last_other = np.where(has_other, ts[np.maximum(latest, 0)], np.iinfo(np.int64).min)
    silent = has_other & (last_other <= end - gap)
    mine = np.flatnonzero(tp == cats.index(candidate))
    late = mine[silent[cust[mine]] & (ts[mine] > last_other[cust[mine]] + gap)]
    return int(silent.sum()), int(
        np.count_nonzero(np.bincount(cust[late], minlength=log.n_customers))
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),  # customer
            st.sampled_from([0, 5, 10, 15, 20, 21, 30]),  # day: silences of exactly the gap too
            st.sampled_from(["email", "newsletter", "website_visit", "purchase", "paid_ad"]),
        ),
        min_size=1,
        max_size=80,
    ),
    st.sampled_from([(), ("paid_ad",), ("paid_ad", "email")]),
    st.sampled_from([5, 10]),
)
def test_all_candidates_counted_in_one_pass_equal_one_pass_each(rows, excluded, gap_days):
    """The silent customers and those a touchpoint still reached, for every touchpoint at
    once (same times, repeats and ties included), equal the counts of one pass per touchpoint."""
    from cjml.labels import _silence_reached

    frame = pd.DataFrame(rows, columns=["customer_id", "day", "touchpoint"])
    frame["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(frame["day"], "D")
    frame["stage"] = "retention"  # newsletter is not in the default map
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = read_events(frame.drop(columns="day"), journey_map=JourneyMap.default())
    cats = list(log.frame["touchpoint"].cat.categories)
    gap = pd.Timedelta(days=gap_days).value
    excluded = [t for t in excluded if t in cats]
    silent, reached = _silence_reached(
        log.touchpoint_codes,
        log.timestamps_ns,
        log.customer_codes,
        [cats.index(t) for t in excluded],
        int(log.timestamps_ns.max()) - gap,
        gap,
        len(cats),
    )
    for k, t in enumerate(cats):
        if t in excluded:
            continue
        assert (int(silent[k]), int(reached[k])) == _suspect_counts_one_by_one(
            log, t, excluded, gap
        )
