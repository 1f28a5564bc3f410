"""Churn and next-stage labels, rolling cutoffs, training sets (values written out by hand)."""

from __future__ import annotations

import pandas as pd
import pytest

import cjml
from cjml import make_labels, make_training_set, read_events, rolling_cutoffs
from cjml.labels import to_timedelta

CUTOFF = pd.Timestamp("2024-02-01", tz="UTC")


@pytest.fixture
def log():
    # cutoff 2024-02-01, horizon 30 days -> window (Feb 1, Mar 2]; lookback 90 days
    with pytest.warns(UserWarning, match="'cancellation'"):  # not in the default map
        return _log()


def _log():
    return read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6],
                "timestamp": [
                    "2024-01-20",
                    "2024-02-10",
                    "2024-02-25",  # 1: active, last window event loyalty
                    "2024-01-25",
                    "2024-03-05",  # 2: next event after the window -> churn
                    "2023-09-01",  # 3: outside the lookback -> not labelled
                    "2024-02-01",
                    "2024-03-02",  # 4: AT cutoff (in), at window end (in)
                    "2024-01-31",
                    "2024-02-01 00:00:01",  # 5: one second after the cutoff
                    "2024-03-30",  # 6: only after the cutoff: no row
                ],
                "touchpoint": [
                    "purchase",
                    "purchase",
                    "loyalty_reward",
                    "website_visit",
                    "email",
                    "paid_ad",
                    "email",
                    "store_visit",
                    "website_visit",
                    "cancellation",
                    "paid_ad",
                ],
                "stage": [
                    "retention",
                    "retention",
                    "loyalty",
                    "consideration",
                    "consideration",
                    "awareness",
                    "retention",
                    "retention",
                    "consideration",
                    "consideration",
                    "awareness",
                ],
            }
        )
    )


def test_churn_and_next_stage(log):
    labels = make_labels(log, CUTOFF).xs(CUTOFF, level="cutoff")
    assert labels.index.tolist() == [1, 2, 4, 5]
    assert labels["churn"].tolist() == [0, 1, 0, 0]
    assert labels["next_stage"].astype(str).tolist() == [
        "loyalty",
        "dropped",
        "retention",
        "consideration",
    ]
    assert list(labels["next_stage"].cat.categories) == [
        "awareness",
        "consideration",
        "conversion",
        "retention",
        "loyalty",
        "dropped",
    ]


def test_lookback_none_labels_everyone_seen_before(log):
    labels = make_labels(log, CUTOFF, lookback=None)
    assert labels.index.get_level_values("customer_id").tolist() == [1, 2, 3, 4, 5]
    assert labels.loc[(CUTOFF, 3), "churn"] == 1


def test_explicit_churn_touchpoint(log):
    labels = make_labels(log, CUTOFF, churn_touchpoint="cancellation").xs(CUTOFF, level="cutoff")
    assert labels.loc[5, "churn"] == 1 and labels.loc[5, "next_stage"] == "dropped"
    assert labels.loc[1, "churn"] == 0
    later = pd.Timestamp("2024-02-05", tz="UTC")
    after = make_labels(log, later, churn_touchpoint="cancellation")
    assert 5 not in after.index.get_level_values("customer_id")  # already gone
    with pytest.raises(ValueError, match="Did you mean 'cancellation'"):
        make_labels(log, CUTOFF, churn_touchpoint="cancelation")


def test_window_past_the_data_is_refused(log):
    with pytest.raises(ValueError, match="ends after the data does"):
        make_labels(log, "2024-03-15")
    labels = make_labels(log, "2024-03-15", data_end="2024-06-01")
    assert len(labels) > 0


def test_several_cutoffs_stack(log):
    cutoffs = ["2024-01-26", "2024-02-01"]
    labels = make_labels(log, cutoffs, horizon="10D")
    assert labels.index.names == ["cutoff", "customer_id"]
    first = labels.xs(pd.Timestamp("2024-01-26", tz="UTC"), level="cutoff")
    assert first.index.tolist() == [1, 2]  # customer 5 first appears on Jan 31
    assert first["churn"].tolist() == [1, 1]  # window (Jan 26, Feb 5]: no events


@pytest.mark.parametrize(
    ("value", "days"), [(30, 30), ("30D", 30), ("2W", 14), (pd.Timedelta(days=3), 3), (1.5, 1.5)]
)
def test_durations(value, days):
    assert to_timedelta(value) == pd.Timedelta(days=days)


@pytest.mark.parametrize("value", [0, -3, "soon", "0D"])
def test_bad_durations(value):
    with pytest.raises(ValueError, match="horizon"):
        to_timedelta(value)


def test_rolling_cutoffs(log):
    cutoffs = rolling_cutoffs(log, horizon="10D", n=3, step="7D")
    # data ends with the day of the last event (Mar 30) -> Mar 31; last cutoff Mar 21
    assert [c.strftime("%Y-%m-%d") for c in cutoffs] == ["2024-03-07", "2024-03-14", "2024-03-21"]
    with pytest.raises(ValueError, match="before the first event"):
        rolling_cutoffs(log, n=50)


def test_training_set_columns_and_rows(log):
    table = make_training_set(log, [CUTOFF], horizon="30D")
    assert list(table.columns[:2]) == ["customer_id", "cutoff"]
    assert list(table.columns[-2:]) == ["churn", "next_stage"]
    assert table["customer_id"].tolist() == [1, 2, 4, 5]
    assert table.set_index("customer_id").loc[4, "n_events"] == 1  # the event at the cutoff only
    assert table.set_index("customer_id").loc[1, "purchases"] == 1


def test_the_log_knows_when_its_period_ends(log, tmp_path):
    # default: midnight UTC after the day of the last event (2024-03-30)
    assert log.data_end == pd.Timestamp("2024-03-31", tz="UTC")
    told = read_events(log, data_end="2024-06-01")
    assert told.data_end == pd.Timestamp("2024-06-01", tz="UTC")
    assert log.data_end == pd.Timestamp("2024-03-31", tz="UTC")  # the log read is not changed
    # every label site reads it: make_labels, rolling cutoffs, make_training_set
    assert len(make_labels(told, "2024-03-15")) > 0
    assert rolling_cutoffs(told, horizon="30D", n=1) == [pd.Timestamp("2024-05-02", tz="UTC")]
    with pytest.raises(ValueError, match=r"data_end=\.\.\.\); --data-end DATE\)"):
        make_labels(log, "2024-03-15")
    # an argument to make_labels still wins over the log's
    with pytest.raises(ValueError, match="ends after the data does"):
        make_labels(told, "2024-03-15", data_end="2024-04-01")
    # saved and read back, the file remembers it
    path = told.save(tmp_path / "events.parquet")
    with pytest.warns(UserWarning, match="'cancellation'"):
        again = read_events(path)
    assert again.data_end == told.data_end
    with pytest.warns(UserWarning, match="'cancellation'"):
        assert read_events(path, data_end="2024-07-01").data_end == pd.Timestamp(
            "2024-07-01", tz="UTC"
        )
    # a record that is not a time is as if there were none
    from cjml.io._files import DATA_END_ATTR

    frame = told.frame.copy()
    frame.attrs = {DATA_END_ATTR: "next summer"}
    frame.to_parquet(tmp_path / "odd.parquet")
    with pytest.warns(UserWarning, match="'cancellation'"):
        assert read_events(tmp_path / "odd.parquet").data_end == log.data_end


def test_a_data_end_before_an_event_is_refused_with_a_later_date_to_give(log):
    with pytest.raises(ValueError) as err:
        read_events(log, data_end="2024-03-05")
    message = str(err.value)
    assert "--data-end 2024-03-05" in message
    assert "2 event(s) happen at or after it" in message  # 2024-03-05 and 2024-03-30
    assert "such as 2024-03-31" in message
    # the end is exclusive: an event at the very end is after the period
    with pytest.raises(ValueError, match="1 event"):
        read_events(log, data_end="2024-03-30")


def test_data_end_is_read_in_the_log_timezone():
    frame = pd.DataFrame(
        {"customer_id": [1], "timestamp": ["2024-01-01 10:00"], "touchpoint": ["purchase"]}
    )
    paris = read_events(frame, timezone="Europe/Paris", data_end="2024-02-01")
    assert paris.data_end == pd.Timestamp("2024-01-31 23:00", tz="UTC")


def test_train_and_evaluate_read_the_events_with_their_data_end(tmp_path):
    from cjml.cli._main import build_parser
    from cjml.cli._shared import read_log

    path = tmp_path / "events.csv"
    pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": ["2024-01-01", "2024-01-05"], "touchpoint": "purchase"}
    ).to_csv(path, index=False)
    for argv in (
        ["train", str(path), "--out", str(tmp_path / "m.cjml"), "--data-end", "2024-03-01"],
        ["evaluate", str(tmp_path / "m.cjml"), str(path), "--data-end", "2024-03-01"],
    ):
        args = build_parser(argv[0]).parse_args(argv)
        assert read_log(args).data_end == pd.Timestamp("2024-03-01", tz="UTC")
    args = build_parser("features").parse_args(["features", str(path), "--out", "f.parquet"])
    assert read_log(args).data_end == pd.Timestamp("2024-01-06", tz="UTC")


def test_validate_out_records_the_data_end_for_train(tmp_path, capsys):
    from cjml.cli._main import main

    path = tmp_path / "events.csv"
    pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": ["2024-01-01", "2024-01-05"], "touchpoint": "purchase"}
    ).to_csv(path, index=False)
    out = tmp_path / "events.parquet"
    assert main(["validate", str(path), "--out", str(out), "--data-end", "2024-03-01"]) == 0
    assert "records the end of the period the events cover (2024-03-01)" in capsys.readouterr().out
    assert read_events(out).data_end == pd.Timestamp("2024-03-01", tz="UTC")
    assert main(["validate", str(path), "--data-end", "2024-01-05"]) == 1
    err = capsys.readouterr().err
    assert "--data-end 2024-01-05 ends the log's period" in err and "data_end=" not in err


# ------------------------------------------------------------------ the customers' rhythm
def _yearly(years: float, customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """Customers who renew once a year (a reminder, a purchase within days): silent for
    about 350 days between visits, though most never leave."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    end = pd.Timestamp("2019-01-01", tz="UTC") + pd.Timedelta(days=int(365 * years))
    for c in range(customers):
        t = pd.Timestamp("2019-01-01", tz="UTC") + pd.Timedelta(days=int(rng.integers(0, 365)))
        stays = int(rng.integers(2, years + 2))
        for _ in range(stays):
            buy = t + pd.Timedelta(days=int(rng.integers(1, 15)))
            if buy >= end:
                break
            rows += [(f"P{c}", t, "website_visit", None), (f"P{c}", buy, "purchase", 100.0)]
            t += pd.Timedelta(days=365 + int(rng.integers(-10, 10)))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint", "amount"])


def test_customers_who_return_yearly_get_a_horizon_that_fits_them():
    from cjml.labels import cadence_advice, return_gaps, silent_share

    log = read_events(_yearly(6))
    gaps = return_gaps(log)
    assert silent_share(gaps, 30) > 0.8  # a cutoff mostly falls in a silence of months
    advice = cadence_advice(log, "30D")
    assert advice.startswith(
        f"Customers who come back spend {silent_share(gaps, 30):.0%} of the time between "
        "their visits in silences longer than the 30-day horizon, half of it in silences of "
    )
    days = int(advice.split("Fix: a horizon of ")[1].split(" days")[0])
    assert silent_share(gaps, days) <= 0.2 < silent_share(gaps, days - 10)  # the shortest
    assert days % 10 == 0
    assert (
        f"and a lookback of {2 * days} days (horizon='{days}D', lookback='{2 * days}D'; "
        f"--horizon {days}D --lookback {2 * days}D)."
    ) in advice
    assert cadence_advice(log, f"{days}D") is None  # what it names is not warned again
    # a held-out cutoff too late for that horizon is moved back, to a date that fits
    late = cadence_advice(log, "30D", last=str((log.data_end - pd.Timedelta("60D")).date()))
    latest = (log.data_end - pd.Timedelta(days=days)).floor("D").date()
    assert late.endswith(
        f"with a test cutoff on or before {latest}, so that its label window ends in the log "
        f"(horizon='{days}D', lookback='{2 * days}D', test_cutoff='{latest}'; --horizon "
        f"{days}D --lookback {2 * days}D --test-cutoff {latest})."
    )
    # train says it before training; the sample's customers, back within days, hear nothing
    with pytest.warns(UserWarning, match="Customers who come back spend"):
        cjml.train(log, recommender=False, survival=False, value=False)
    assert cadence_advice(read_events(cjml.datasets.load_sample()), "30D") is None
    # the journey map's drop-off is the same silence: it says so too, with the same horizon
    with pytest.warns(UserWarning, match="the drop-off rates count customers between two") as w:
        cjml.journey_map(log, horizon="30D")
    (said,) = [str(m.message) for m in w if "between two visits" in str(m.message)]
    assert said.endswith(f"e.g. horizon='{days}D' (--horizon {days}D).")


def test_a_log_too_short_to_hold_a_cutoff_out_with_that_horizon_is_cross_validated():
    from cjml.labels import cadence_advice

    log = read_events(_yearly(1.5))
    advice = cadence_advice(log, "30D")
    days = int(advice.split("Fix: a horizon of ")[1].split(" days")[0])
    assert (
        f"cv=5; --horizon {days}D --lookback {2 * days}D --cv 5: this log is too short to hold "
        "a later cutoff out with it, so the customers are cross-validated at one cutoff)."
    ) in advice
    _, report = cjml.train(
        log, horizon=f"{days}D", lookback=f"{2 * days}D", cv=5, recommender=False, value=False
    )
    assert report.churn.loc["model", "roc_auc"] > 0.5
