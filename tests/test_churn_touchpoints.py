"""Touchpoints marked ``churn`` (a cancellation): drop-off counts them as well as silence."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml import JourneyMap, read_events
from cjml.exceptions import JourneyMapError
from cjml.features._windows import build_windows
from cjml.labels import make_labels
from cjml.survival import survival_targets

DEFAULT = JourneyMap.default()


def subscription_map(**extra) -> JourneyMap:
    spec = DEFAULT.to_dict()
    spec["touchpoints"]["subscription_cancelled"] = {
        "channel": "online",
        "stages": list(DEFAULT.stages),
        "churn": True,
        **extra,
    }
    return JourneyMap.from_dict(spec)


MAP = subscription_map()
END = "2024-12-31"


def events(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["stage"] = "retention"
    return df


#: 1 visits on; 2 cancels in the window after visiting in it; 3 cancelled before the cutoff
#: and still visits to the end of a notice period; 4 cancelled before the cutoff and bought
#: again (back); 5 goes silent
LOG = events(
    [
        (1, "2024-03-01", "website_visit"),
        (1, "2024-04-10", "website_visit"),
        (2, "2024-03-10", "website_visit"),
        (2, "2024-04-05", "website_visit"),
        (2, "2024-04-06", "subscription_cancelled"),
        (3, "2024-03-02", "website_visit"),
        (3, "2024-03-20", "subscription_cancelled"),
        (3, "2024-03-28", "website_visit"),
        (4, "2024-03-01", "subscription_cancelled"),
        (4, "2024-03-15", "purchase"),
        (4, "2024-04-12", "website_visit"),
        (5, "2024-03-25", "website_visit"),
    ]
)
CUTOFF = pd.Timestamp("2024-04-01", tz="UTC")


def test_the_map_reads_and_writes_churn(tmp_path):
    assert MAP.churn_touchpoints == ("subscription_cancelled",)
    assert "churn" not in DEFAULT.to_dict()["touchpoints"]["purchase"]
    path = tmp_path / "map.toml"
    path.write_text(MAP.to_toml(), encoding="utf-8")
    assert JourneyMap.from_file(path) == MAP
    assert "observed, churn" in MAP._repr_html_()
    with pytest.raises(JourneyMapError, match="both churn and outbound"):
        subscription_map(outbound=True)


def test_labels_count_a_cancellation_as_drop_off_and_the_cancelled_as_gone():
    log = read_events(LOG, journey_map=MAP)
    labels = make_labels(log, CUTOFF, horizon="30D", data_end=END).xs(CUTOFF, level="cutoff")
    assert labels.index.tolist() == [1, 2, 4, 5]  # 3 left on Mar 20; 4 bought again
    assert labels["churn"].to_dict() == {1: 0, 2: 1, 4: 0, 5: 1}
    assert labels.loc[2, "next_stage"] == "dropped"
    # without the mark, the cancellation is one more event: 2 looks active, 3 is in
    plain = read_events(LOG, journey_map=subscription_map(churn=False))
    unmarked = make_labels(plain, CUTOFF, horizon="30D", data_end=END).xs(CUTOFF, level="cutoff")
    assert unmarked["churn"].to_dict() == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}
    # named in the call, on a map that does not mark it: the same labels
    named = make_labels(
        plain, CUTOFF, horizon="30D", data_end=END, churn_touchpoint=["subscription_cancelled"]
    ).xs(CUTOFF, level="cutoff")
    pd.testing.assert_frame_equal(named, labels)


def test_every_population_leaves_the_cancelled_out():
    log = read_events(LOG, journey_map=MAP)
    assert log.gone_at(CUTOFF.value).tolist() == [False, False, True, False, False]
    rows = build_windows(log, CUTOFF, lookback_ns=pd.Timedelta("90D").value).customer_id
    assert rows.tolist() == [1, 2, 4, 5]
    targets = survival_targets(log, CUTOFF, data_end=END).xs(CUTOFF, level="cutoff")
    assert targets.index.tolist() == [1, 2, 4, 5]
    # 2's next event after the cutoff is the visit of Apr 5, not the cancellation
    assert targets.loc[2, "days_to_next"] == 4.0


def test_the_journey_map_counts_the_cancelled_as_gone():
    from cjml.analytics import journey_map

    log = read_events(LOG, journey_map=MAP)
    report = journey_map(log, cutoff=CUTOFF, horizon="30D")
    # 1 is silent for 31 days; 3 cancelled twelve days before the cutoff: gone, though
    # they visited since
    assert report.stages["went_silent"].sum() == 2
    plain = read_events(LOG, journey_map=subscription_map(churn=False))
    assert journey_map(plain, cutoff=CUTOFF, horizon="30D").stages["went_silent"].sum() == 1


def test_effect_outcomes_count_a_cancellation_as_drop_off():
    from cjml import JourneyFeaturizer
    from cjml.effects import build_anchors

    rng = np.random.default_rng(0)
    rows = []
    for c in range(300):
        day = int(rng.integers(0, 30))
        for _ in range(6):
            rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), "website_visit"))
            day += int(rng.integers(2, 8))
        if c % 2:  # half cancel two days after their last visit, then visit once more
            rows.append(
                (c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), "subscription_cancelled")
            )
            rows.append(
                (c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day + 1), "website_visit")
            )
    df = events(rows)
    featurizer = JourneyFeaturizer(families=["activity"])
    kwargs = dict(start="2024-01-05", end="2024-12-31", horizon="30D", random_state=0)
    marked = read_events(df, journey_map=MAP)
    plain = read_events(df, journey_map=subscription_map(churn=False))
    got = build_anchors(marked, featurizer.fit(marked), **kwargs)
    was = build_anchors(plain, featurizer.fit(plain), **kwargs)
    cancelling = got.customer % 2 == 1  # codes follow the ids here
    assert np.array_equal(np.sort(got.time_ns), np.sort(was.time_ns))
    assert got.y[cancelling].mean() > was.y[cancelling].mean()
    assert got.y[~cancelling].tolist() == was.y[~cancelling].tolist()


def test_scoring_gives_the_cancelled_their_own_status(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for c in range(400):
        day = int(rng.integers(0, 40))
        stop = day + int(rng.integers(20, 220))
        while day < min(stop, 240):
            rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), "website_visit"))
            day += int(rng.integers(2, 9))
        if stop < 240 and c % 3 == 0:
            rows.append(
                (c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=stop), "subscription_cancelled")
            )
    df = events(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = read_events(df, journey_map=MAP)
        bundle, _ = cjml.train(log, recommender=False, value=False, survival=False, n_jobs=1)
        bundle.save(tmp_path / "b.cjml")
        bundle = cjml.ModelBundle.load(tmp_path / "b.cjml")
        cutoff = df["timestamp"].max()
        scores = cjml.score(bundle, df, cutoff=cutoff, include_inactive=True)
        summary = cjml.score(bundle, df, cutoff=cutoff, out=tmp_path / "scores.parquet")
    status = scores.set_index("customer_id")["status"]
    gone = log.gone_at(cutoff.value)
    assert gone.sum() > 10
    assert (status.loc[log.customer_ids[gone]] == "cancelled").all()
    assert (status.loc[log.customer_ids[~gone]] != "cancelled").all()
    assert scores.loc[scores["status"] == "cancelled", "churn_risk"].isna().all()
    assert summary.n_cancelled == gone.sum()
    assert summary.n_not_written == summary.n_inactive + summary.n_cancelled
    assert f"{summary.n_cancelled:,} cancelled" in summary.to_text()
    assert "(inactive, cancelled or without events) not written" in summary.to_text()
    assert cjml.ScoreSummary.from_dict(summary.to_dict()) == summary


def test_draft_map_marks_cancellations_by_name(tmp_path):
    from cjml import draft_journey_map

    df = LOG.assign(touchpoint=LOG["touchpoint"].replace({"purchase": "order_cancelled"}))
    drafted = draft_journey_map(df)
    assert drafted.churn_touchpoints == ("subscription_cancelled",)  # not order_cancelled


def test_validate_and_train_say_when_a_cancellation_is_not_marked(tmp_path, capsys):
    from cjml.cli import main
    from cjml.labels import churn_suspects, says_leaving

    assert [says_leaving(t) for t in ("Subscription Cancelled", "order_cancelled", "churned")] == [
        True,
        False,
        True,
    ]
    unmarked = subscription_map(churn=False)
    found = churn_suspects(read_events(LOG, journey_map=unmarked))
    assert found.to_dict("index") == {"subscription_cancelled": {"customers": 3, "last": 1 / 3}}
    assert churn_suspects(read_events(LOG, journey_map=MAP)).empty  # marked: nothing to say
    path, map_path = tmp_path / "events.parquet", tmp_path / "map.toml"
    LOG.to_parquet(path)
    map_path.write_text(unmarked.to_toml(), encoding="utf-8")
    assert main(["validate", str(path), "--map", str(map_path)]) == 0
    out = capsys.readouterr().out
    assert "'subscription_cancelled' (the latest event of 33% of the 3 customers" in out
    assert '[touchpoints."subscription_cancelled"] churn = true;' in out
    with pytest.warns(UserWarning, match="reads like customers leaving"), pytest.raises(ValueError):
        cjml.train(read_events(LOG, journey_map=unmarked), recommender=False)
