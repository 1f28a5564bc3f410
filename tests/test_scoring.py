"""Batch scoring: same scores however the input is cut, ordered, stored or interrupted."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import threading
import types
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import cjml
import cjml.io._source
import cjml.scoring._local
import cjml.scoring._run
from cjml.cli import main
from cjml.datasets import load_sample
from cjml.exceptions import InputFileError, SchemaError
from cjml.scoring import DEFAULT_RISK_BANDS, ScoreSummary, score

#: The sample has amounts: its bundle has a value model, whose columns score adds
#: (tests/test_score_value.py).
BASE_COLUMNS = [
    "customer_id",
    "churn_risk",
    "risk_band",
    "reach_probability",
    "expected_value",
    "expected_value_low",
    "expected_value_high",
    "value_at_risk",
    "next_stage",
    "next_stage_proba",
    "top_drivers",
    "recommended_touchpoint",
    "expected_risk_reduction",
    "expected_value_saved",
    "expected_risk_reduction_low",
    "expected_risk_reduction_high",
    "uncertain",
    "status",
]


@pytest.fixture(scope="module")
def events():
    return load_sample()


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory, events):
    bundle, _ = cjml.train(events, n_cutoffs=4, step="15D", holdout=False)
    # On the small sample the policy chosen at training is often "no action" (or one
    # touchpoint for everyone), and cjml.score has no method= to override it: the bundle is
    # made to follow the per-customer best ("dr-point") so that the recommendations, rules
    # and budgets scoring passes through are there to check.
    policy = bundle.models["touchpoint_policy"]
    bundle.models["touchpoint_policy"] = dataclasses.replace(
        policy, policy="dr-point", touchpoint=None, stage_rule={}
    )
    return bundle.save(tmp_path_factory.mktemp("model") / "model.cjml")


@pytest.fixture(scope="module")
def bundle(bundle_path):
    return cjml.ModelBundle.load(bundle_path)


@pytest.fixture(scope="module")
def reference(bundle, events):
    """Scores of the whole sample in one chunk (no recommender: it is tested on its own)."""
    return score(bundle, events, recommend=False)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scores_are_the_models_predictions_at_the_cutoff(bundle, events, reference):
    log = cjml.read_events(events, journey_map=bundle.journey_map)
    cutoff = log.frame["timestamp"].max()
    last = log.frame.groupby("customer_id")["timestamp"].max()
    active = last.index[last > cutoff - pd.Timedelta(bundle.metadata["lookback"])]
    X = bundle.featurizer.transform(log, cutoff).loc[active]
    risk = bundle.models["churn"].predict_risk(X)
    proba = bundle.models["next_stage"].predict_proba(X)

    assert reference.columns.tolist() == BASE_COLUMNS
    assert reference["customer_id"].is_monotonic_increasing
    assert reference["customer_id"].tolist() == sorted(active)  # the scored customers only
    assert reference["reach_probability"].isna().all()  # recommend=False: no estimate
    scored = reference.set_index("customer_id").loc[active]
    assert (scored["status"] == "scored").all()
    np.testing.assert_array_equal(scored["churn_risk"].to_numpy(), risk)
    best = proba.argmax(axis=1)
    assert scored["next_stage"].tolist() == list(bundle.models["next_stage"].classes_[best])
    np.testing.assert_array_equal(
        scored["next_stage_proba"].to_numpy(), proba[np.arange(len(best)), best]
    )
    drivers = cjml.top_drivers_text(
        cjml.explain(
            bundle.models["churn"], X, feature_families=bundle.featurizer, method="saabas"
        ),
        X.index,
    )
    assert scored["top_drivers"].tolist() == drivers.tolist()
    assert scored["top_drivers"].str.len().gt(0).mean() > 0.9  # "" when nothing pushes up
    assert isinstance(reference.attrs["summary"], dict)  # plain data: see the attrs tests
    summary = ScoreSummary.from_dict(reference.attrs["summary"])
    assert (summary.n_scored, summary.n_inactive, summary.n_no_events) == (
        len(active),
        log.n_customers - len(active),
        0,
    )
    assert summary.cutoff == cutoff and summary.n_rows_read == len(events)
    assert summary.n_customers == log.n_customers  # every customer counted, by status
    assert summary.n_not_written == log.n_customers - len(active)


def test_inactive_customers_are_written_after_the_scored_ones_when_asked(
    bundle, events, reference, tmp_path
):
    everyone = score(bundle, events, recommend=False, include_inactive=True)
    n = len(reference)
    assert len(everyone) == events["customer_id"].nunique() > n
    # the scored customers first, as without the option; then the others, by id
    pd.testing.assert_frame_equal(
        everyone.iloc[:n].reset_index(drop=True), reference, check_like=False
    )
    rest = everyone.iloc[n:]
    assert rest["customer_id"].is_monotonic_increasing
    assert (rest["status"] == "inactive").all()  # events, but none within the lookback
    assert rest["churn_risk"].isna().all() and rest["reach_probability"].isna().all()
    assert not set(rest["customer_id"]) & set(reference["customer_id"])
    # the summary says which
    text = ScoreSummary.from_dict(reference.attrs["summary"]).to_text()
    assert (
        f"; {len(rest):,} inactive customers not written; pass --include-inactive "
        f"(include_inactive=True) to list them after the {n:,} scored"
    ) in text
    text = ScoreSummary.from_dict(everyone.attrs["summary"]).to_text()
    assert f"the {len(rest):,} customers not scored are listed after the {n:,} scored" in text
    assert ScoreSummary.from_dict(everyone.attrs["summary"]).n_not_written == 0
    # written to a file, in several chunks, in the same order
    out = tmp_path / "everyone.csv"
    score(bundle, events, out=out, recommend=False, include_inactive=True, chunk_events=7000)
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert written["customer_id"].tolist() == everyone["customer_id"].tolist()
    assert written["status"].tolist()[:n] == ["scored"] * n


def test_a_summary_saved_before_n_not_written_still_reads(reference):
    saved = dict(reference.attrs["summary"])
    del saved["n_not_written"]
    assert ScoreSummary.from_dict(saved).n_not_written == 0


def test_risk_bands_follow_the_documented_thresholds(reference):
    scored = reference[reference["status"] == "scored"]
    edges = list(DEFAULT_RISK_BANDS.values())
    expected = np.asarray(list(DEFAULT_RISK_BANDS))[
        np.searchsorted(edges, scored["churn_risk"], side="right") - 1
    ]
    assert scored["risk_band"].astype(str).tolist() == expected.tolist()
    assert list(reference["risk_band"].cat.categories) == list(DEFAULT_RISK_BANDS)


def test_custom_risk_bands_and_their_errors(bundle, events):
    out = score(bundle, events, recommend=False, drivers=False, risk_bands={"keep": 0, "call": 0.9})
    scored = out[out["status"] == "scored"]
    assert set(scored["risk_band"].astype(str)) <= {"keep", "call"}
    assert ((scored["churn_risk"] >= 0.9) == (scored["risk_band"] == "call")).all()
    with pytest.raises(ValueError, match="first risk band must start at 0"):
        score(bundle, events, risk_bands={"high": 0.5})
    with pytest.raises(ValueError, match="lowest to highest"):
        score(bundle, events, risk_bands={"low": 0, "high": 0.8, "medium": 0.3})
    with pytest.raises(ValueError, match="top_k must be a whole number"):
        score(bundle, events, top_k=0)


def test_chunked_equals_unchunked(bundle, events, reference):
    chunked = score(bundle, events, recommend=False, chunk_events=4000)
    assert chunked.attrs["summary"]["n_chunks"] >= 5
    pd.testing.assert_frame_equal(chunked, reference)


def _spy(monkeypatch, owner, name):
    """Count the calls of ``owner.name`` (made in this process)."""
    calls = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


def test_threads_give_the_same_scores(bundle, events, monkeypatch):
    shuffled = events.sample(frac=1.0, random_state=7).reset_index(drop=True)
    alone = score(bundle, shuffled, chunk_events=4000, n_jobs=1, top_k=2)
    scored_on = []
    real = cjml.scoring._local._score_chunk_file

    def spy(*args, **kwargs):
        scored_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(cjml.scoring._local, "_score_chunk_file", spy)
    threads_before = {name: getattr(m, "n_jobs", None) for name, m in bundle.models.items()}
    side_by_side = score(bundle, shuffled, chunk_events=4000, n_jobs=2, top_k=2)
    assert side_by_side.attrs["summary"]["n_chunks"] >= 5
    assert len(scored_on) == side_by_side.attrs["summary"]["n_chunks"]
    assert all(name.startswith("cjml-score") for name in scored_on)  # on the pool's threads
    # each thread scores with its own one-thread view; the caller's bundle is untouched
    assert {name: getattr(m, "n_jobs", None) for name, m in bundle.models.items()} == threads_before
    pd.testing.assert_frame_equal(side_by_side, alone)
    assert side_by_side["recommended_touchpoint"].notna().any()
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs must be a whole number"):
            score(bundle, events, n_jobs=bad)


def test_recorded_warnings_keep_each_threads_own():
    from cjml.scoring._chunk import _recorded_warnings

    barrier = threading.Barrier(3)
    recorded = {}

    def work(tag):
        with _recorded_warnings(ignore=DeprecationWarning) as caught:
            barrier.wait()
            warnings.warn(f"from {tag}", UserWarning, stacklevel=2)
            warnings.warn("dropped", DeprecationWarning, stacklevel=2)
            barrier.wait()
        recorded[tag] = [str(w.message) for w in caught]

    filters, show = list(warnings.filters), warnings.showwarning
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        workers = [threading.Thread(target=work, args=(tag,)) for tag in "ab"]
        for w in workers:
            w.start()
        barrier.wait()
        warnings.warn("from the caller", UserWarning, stacklevel=2)  # not recording: shown
        barrier.wait()
        for w in workers:
            w.join()
    assert recorded == {"a": ["from a"], "b": ["from b"]}
    assert [str(w.message) for w in outside] == ["from the caller"]
    assert warnings.filters == filters and warnings.showwarning is show


def test_warnings_of_chunks_scored_on_threads_are_reported_once(bundle, events):
    odd = events.copy()
    odd["touchpoint"] = odd["touchpoint"].astype(object)
    odd.loc[odd.index[::50], "touchpoint"] = "carrier_pigeon"  # unknown, but stage given
    filters = list(warnings.filters)
    reported = {}
    for jobs in (1, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores = score(bundle, odd, chunk_events=4000, n_jobs=jobs, recommend=False)
        assert scores.attrs["summary"]["n_chunks"] >= 5
        reported[jobs] = [str(w.message) for w in caught]
    # the log's note and the featurizer's, each once for the whole run, as without threads
    assert sum("carrier_pigeon" in m for m in reported[2]) == 2, reported[2]
    assert len(set(reported[2])) == len(reported[2])
    assert reported[2] == reported[1]
    assert warnings.filters == filters


def test_scoring_names_touchpoints_written_differently(bundle, events):
    odd = events.copy()
    odd["touchpoint"] = odd["touchpoint"].astype(object)
    odd.loc[odd.index[::40], "touchpoint"] = "Email "
    with pytest.warns(UserWarning) as caught:
        score(bundle, odd, recommend=False)
    (msg,) = [str(w.message) for w in caught if "bundle's journey map" in str(w.message)]
    assert "1 touchpoint differs from the map's only in case, spaces or hyphens" in msg
    assert "('Email ' is 'email')" in msg


def test_daylight_saving_times_are_said_once_for_all_batches(bundle, events):
    local = events.copy()
    wall = local["timestamp"].dt.tz_convert("Europe/Paris").dt.tz_localize(None)
    local["timestamp"] = wall.dt.strftime("%Y-%m-%d %H:%M:%S")
    local.loc[local.index[::500], "timestamp"] = "2024-03-31 02:30:00"  # skipped in Paris
    with pytest.warns(UserWarning, match="daylight-saving"):
        expected = cjml.read_events(local, timezone="Europe/Paris", journey_map=bundle.journey_map)
    with pytest.warns(UserWarning) as caught:
        scores = score(bundle, local, timezone="Europe/Paris", chunk_events=4000, recommend=False)
    said = [str(w.message) for w in caught if "daylight-saving" in str(w.message)]
    assert scores.attrs["summary"]["n_chunks"] >= 5
    n = len(local.index[::500])
    assert len(said) == 1 and said[0].startswith(f"{n} local times of column 'timestamp' fall")
    # the same times as read_events reads: the same cutoff, the last event
    cutoff = pd.Timestamp(scores.attrs["summary"]["cutoff"])
    assert cutoff == expected.frame["timestamp"].max()


def test_the_timezone_defaults_to_the_events_own_then_the_bundles(bundle, events, tmp_path):
    """score, recommend and the app read the same events in the same timezone by default."""
    log = cjml.read_events(events, timezone="Asia/Tokyo", journey_map=bundle.journey_map)
    saved = log.save(tmp_path / "tokyo.parquet")
    paris = dataclasses.replace(bundle, metadata={**bundle.metadata, "timezone": "Europe/Paris"})
    assert paris.timezone_for(events, "UTC") == "UTC"  # the caller's own wins
    assert str(paris.timezone_for(log)) == "Asia/Tokyo"  # a log read already
    assert paris.timezone_for(saved) == "Asia/Tokyo"  # a log saved with its timezone
    assert paris.timezone_for(events) == "Europe/Paris"  # else the bundle's
    assert bundle.timezone_for(events) == "UTC"
    # a date cutoff is read in the saved log's timezone, as for the log itself
    cutoff = "2024-07-01"
    by_default = score(bundle, saved, cutoff=cutoff, recommend=False)
    given = score(bundle, events, cutoff=cutoff, timezone="Asia/Tokyo", recommend=False)
    in_utc = score(bundle, events, cutoff=cutoff, recommend=False)
    assert by_default.attrs["summary"]["cutoff"] == given.attrs["summary"]["cutoff"]
    assert pd.Timestamp(by_default.attrs["summary"]["cutoff"]) == pd.Timestamp(
        "2024-07-01", tz="Asia/Tokyo"
    )
    assert by_default.attrs["summary"]["cutoff"] != in_utc.attrs["summary"]["cutoff"]
    pd.testing.assert_frame_equal(by_default, given, check_like=True)
    # timestamps that carry a zone are the events' own too, before the bundle's
    zoned = events.assign(timestamp=pd.to_datetime(events["timestamp"], utc=True))
    zoned["timestamp"] = zoned["timestamp"].dt.tz_convert("Asia/Tokyo")
    zoned.to_parquet(tmp_path / "zoned.parquet")
    assert paris.timezone_for(zoned) == "Asia/Tokyo"
    assert paris.timezone_for(tmp_path / "zoned.parquet") == "Asia/Tokyo"
    pd.testing.assert_frame_equal(
        score(bundle, tmp_path / "zoned.parquet", cutoff=cutoff, recommend=False),
        given,
        check_like=True,
    )


def test_day_first_dates_read_alike_in_every_batch(
    bundle, events, reference, tmp_path, monkeypatch
):
    """Dates written day first, the first batches without a day above 12: every batch reads
    them as read_events reads the whole column (before: the early batches month first, then
    "mixes date formats"). Dates that read both ways say so, once."""
    monkeypatch.setattr(cjml.io._source, "BATCH_ROWS", 4000)
    monkeypatch.setattr(cjml.scoring._local, "BATCH_ROWS", 4000)
    day = events["timestamp"].dt.day
    ordered = pd.concat([events[day <= 12], events[day > 12]])  # the ambiguous days first
    text = ordered.assign(timestamp=ordered["timestamp"].dt.strftime("%d/%m/%Y %H:%M:%S"))
    assert text["timestamp"].iloc[:4000].str[:2].astype(int).max() <= 12
    path = tmp_path / "day_first.parquet"
    text.to_parquet(path, index=False, row_group_size=2500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not ambiguous as a whole: no warning
        log = cjml.read_events(path)
        for jobs in (1, 2):
            scores = score(bundle, path, recommend=False, n_jobs=jobs)
            pd.testing.assert_frame_equal(scores, reference)
    assert log.frame["timestamp"].max() == events["timestamp"].max()
    # every date with a day of 12 or less: read month first, as read_events does, and said
    early = text[text["timestamp"].str[:2].astype(int) <= 12].iloc[:3000]
    early.to_csv(tmp_path / "ambiguous.csv", index=False)
    with pytest.warns(
        UserWarning, match=r"reads in two ways.*'%m/%d/%Y %H:%M:%S'.*not '%d/%m/%Y %H:%M:%S'"
    ) as seen:
        scored = score(bundle, tmp_path / "ambiguous.csv", recommend=False)
    assert len([w for w in seen if "two ways" in str(w.message)]) == 1
    with pytest.warns(UserWarning, match="reads in two ways"):
        month_first = cjml.read_events(tmp_path / "ambiguous.csv")
    expected = pd.to_datetime(early["timestamp"], format="%m/%d/%Y %H:%M:%S", utc=True)
    assert month_first.frame["timestamp"].max() == expected.max()
    pd.testing.assert_frame_equal(scored, score(bundle, month_first, recommend=False))


def test_the_partition_pass_on_threads_gives_the_same_run(bundle, events, tmp_path, monkeypatch):
    # Parquet input of several pieces (row groups): the threads partition it.
    # pieces are cut in the parent (_source); the sequential pass reads batches as large
    monkeypatch.setattr(cjml.io._source, "BATCH_ROWS", 4000)
    monkeypatch.setattr(cjml.scoring._local, "BATCH_ROWS", 4000)
    dirty, bad_rows = _dirty(events)
    dirty = dirty.astype({"timestamp": str})  # Parquet needs one type per column
    path = tmp_path / "dirty.parquet"
    dirty.to_parquet(path, index=False, row_group_size=2500)
    on_threads = _spy(monkeypatch, cjml.scoring._local, "_partition_in_threads")
    pieces = _spy(monkeypatch, cjml.scoring._local, "_partition_piece")
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"scores_{jobs}.parquet"
        summary = score(
            bundle, path, out=out, on_error="quarantine", chunk_events=6000, n_jobs=jobs, top_k=2
        )
        runs[jobs] = (summary, pd.read_parquet(out), pd.read_parquet(summary.rejects))
    one, two = runs[1], runs[2]
    assert (tmp_path / ".scores_2.parquet.cjml-run").exists() is False
    assert len(on_threads) == 1  # the run with two threads partitioned on them
    assert len(pieces) == -(-len(dirty) // 5000)  # two row groups of 2,500 rows per piece
    pd.testing.assert_frame_equal(two[1], one[1])
    pd.testing.assert_frame_equal(two[2], one[2])
    assert two[2]["row"].tolist() == bad_rows
    for field in (
        "n_customers",
        "n_scored",
        "n_rows_read",
        "n_rows_rejected",
        "n_chunks",
        "cutoff",
    ):
        assert getattr(two[0], field) == getattr(one[0], field), field
    # invalid rows stop the run with the same row numbers
    with pytest.raises(SchemaError, match=r"row 10\b"):
        score(bundle, path, recommend=False, chunk_events=6000, n_jobs=2)


def test_threads_are_used_by_default_only_for_large_inputs():
    reader = types.SimpleNamespace(n_parts=10)
    small, large = cjml.scoring.PARALLEL_FROM_EVENTS - 1, cjml.scoring.PARALLEL_FROM_EVENTS
    assert cjml.scoring._local._n_workers(None, {}, reader, small) == 1
    assert cjml.scoring._local._n_workers(None, {}, reader, large) == min(os.cpu_count() or 1, 10)
    # resumed runs only share what is left
    state = {"n_parts": 10, "chunks": {str(p): {} for p in range(9)}}
    assert cjml.scoring._local._n_workers(None, state, reader, large) == 1
    assert cjml.scoring._local._n_workers(3, {}, reader, small) == 3


def test_unsorted_input_gives_the_same_scores(bundle, events, reference):
    shuffled = events.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        score(bundle, shuffled, recommend=False, chunk_events=6000), reference
    )


def test_csv_and_parquet_in_and_out(bundle, events, reference, tmp_path):
    events.to_csv(tmp_path / "events.csv", index=False)
    events.to_parquet(tmp_path / "events.parquet", index=False)
    for source in ("events.csv", "events.parquet"):
        for suffix in (".parquet", ".csv"):
            out = tmp_path / f"scores_from_{source.replace('.', '_')}{suffix}"
            summary = score(bundle, tmp_path / source, out=out, recommend=False, chunk_events=7000)
            assert isinstance(summary, ScoreSummary) and summary.out == out
            written = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
            expected = reference.copy()
            for c in ("risk_band", "next_stage", "status"):
                expected[c] = expected[c].astype(object)
            written = written.astype(
                {c: object for c in written.columns if written[c].dtype == "str"}
            )
            if suffix == ".csv":  # CSV has no nulls for text: empty cells read back as NaN
                expected = expected.astype(object).where(expected.notna(), np.nan)
                expected = expected.replace("", np.nan)
                written = written.astype(object).where(written.notna(), np.nan)
                pd.testing.assert_frame_equal(written, expected, check_dtype=False, rtol=1e-12)
            else:
                pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["events.csv", "events.parquet"]
        + [f"scores_from_events_{k}{s}" for k in ("csv", "parquet") for s in (".parquet", ".csv")]
    )


def test_a_folder_of_files_whose_files_split_customers(bundle, events, reference, tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    shuffled = events.sample(frac=1.0, random_state=1)
    for i, rows in enumerate(np.array_split(np.arange(len(shuffled)), 3)):
        shuffled.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)
    pd.testing.assert_frame_equal(
        score(bundle, folder, recommend=False, chunk_events=9000), reference
    )


def test_customer_list_with_unknown_customers(bundle, events, reference, tmp_path):
    listed = [int(i) for i in reference["customer_id"].iloc[[5, 17, 400, 900]]] + [10**9, -7]
    out = score(bundle, events, customers=listed, recommend=False, include_inactive=True)
    assert out["customer_id"].tolist() == sorted(listed[:4]) + [-7, 10**9]  # scored first
    known = reference.set_index("customer_id").loc[listed[:4]].reset_index()
    got = out.set_index("customer_id")
    pd.testing.assert_frame_equal(got.loc[listed[:4]].reset_index(), known)
    assert got.loc[[10**9, -7], "status"].tolist() == ["no_events", "no_events"]
    assert got.loc[[10**9, -7], "churn_risk"].isna().all()
    summary = ScoreSummary.from_dict(out.attrs["summary"])
    assert (summary.n_listed, summary.n_listed_absent, summary.n_customers) == (6, 2, 6)
    assert "2 not in the events" in summary.to_text()
    # the same from a CSV file, with a header
    path = tmp_path / "list.csv"
    pd.DataFrame({"customer_id": listed}).to_csv(path, index=False)
    from_file = score(bundle, events, customers=path, recommend=False, include_inactive=True)
    pd.testing.assert_frame_equal(from_file, out)
    # by default, the listed customers that were scored
    scored_only = score(bundle, events, customers=path, recommend=False)
    pd.testing.assert_frame_equal(scored_only, out.iloc[:4])
    assert "2 customers not scored (inactive or without events) not written" in (
        ScoreSummary.from_dict(scored_only.attrs["summary"]).to_text()
    )
    with pytest.raises(SchemaError, match="not numbers"):
        score(bundle, events, customers=[1, "abc"])


def test_a_customer_list_matches_ids_written_as_decimals(bundle, events, reference, tmp_path):
    # pandas writes an id column with missing values as floats ('42.0'); the same customers
    # listed as '42', or the other way round, are the same ids, as read_events reads them
    listed = [int(i) for i in reference["customer_id"].iloc[[3, 250, 700]]]
    known = reference.set_index("customer_id").loc[sorted(listed)].reset_index()
    as_decimals = events.assign(customer_id=events["customer_id"].astype(float))
    as_decimals.to_csv(tmp_path / "decimals.csv", index=False)
    events.to_csv(tmp_path / "whole.csv", index=False)
    pd.DataFrame({"customer_id": listed}).to_csv(tmp_path / "list.csv", index=False)
    pd.DataFrame({"customer_id": [f"{i}.0" for i in listed]}).to_csv(
        tmp_path / "list_decimals.csv", index=False
    )
    for log, customers in (("decimals.csv", "list.csv"), ("whole.csv", "list_decimals.csv")):
        out = score(
            bundle,
            tmp_path / log,
            customers=tmp_path / customers,
            recommend=False,
            include_inactive=True,
            chunk_events=4_000,
        )
        summary = ScoreSummary.from_dict(out.attrs["summary"])
        assert summary.n_listed_absent == 0, (log, customers)
        assert out["customer_id"].tolist() == known["customer_id"].tolist()
        np.testing.assert_allclose(out["churn_risk"], known["churn_risk"], rtol=1e-9)
    # where one id is text ('A5'), ids stay text and '42.0' is not the listed '42'
    first = int(events["customer_id"].iloc[0])
    text_ids = events.astype({"customer_id": object})
    text_ids["customer_id"] = [f"{i}.0" for i in events["customer_id"]]
    text_ids.loc[text_ids["customer_id"] == f"{first}.0", "customer_id"] = "A5"
    text_ids.to_csv(tmp_path / "text.csv", index=False)
    out = score(
        bundle,
        tmp_path / "text.csv",
        customers=[str(listed[0]), f"{listed[1]}.0", "A5"],
        recommend=False,
        include_inactive=True,
        chunk_events=4_000,
    )
    got = out.set_index("customer_id")["status"]
    assert got[str(listed[0])] == "no_events"
    assert got[f"{listed[1]}.0"] != "no_events" and got["A5"] != "no_events"
    assert len(out) == 3


def test_a_list_that_matches_no_customer_shows_both_files_ids(bundle, events, tmp_path):
    # a customer list that went through a spreadsheet lost the ids' leading zeros
    padded = events.assign(customer_id=events["customer_id"].astype(str).str.zfill(5))
    padded.to_csv(tmp_path / "padded.csv", index=False)
    listed = [str(i) for i in events["customer_id"].drop_duplicates().iloc[:4]]
    with pytest.warns(UserWarning, match="None of the 4 listed customers") as caught:
        out = score(bundle, tmp_path / "padded.csv", customers=listed, recommend=False)
    (said,) = [str(w.message) for w in caught if "listed customers" in str(w.message)]
    shown = ", ".join(repr(i) for i in listed[:3])
    assert f"The list writes ids like {shown}; the events like '0" in said
    assert "a spreadsheet drops the leading zeros of ids it reads as numbers" in said
    assert len(out) == 0
    with pytest.warns(UserWarning, match=r"The listed customer is not in the events\. The list"):
        score(bundle, tmp_path / "padded.csv", customers=listed[:1], recommend=False)
    # one listed customer found: the summary's count says the rest, no such warning
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score(bundle, tmp_path / "padded.csv", customers=[*listed, padded["customer_id"].iloc[0]])
    assert not [w for w in caught if "listed customers" in str(w.message)]


def _dirty(events):
    """The sample with four bad rows inserted among the good ones."""
    bad = events.iloc[[0, 1, 2, 3]].astype(
        {"timestamp": object, "customer_id": object, "stage": object}
    )
    bad.iloc[0, bad.columns.get_loc("timestamp")] = "not a date"
    bad.iloc[1, bad.columns.get_loc("satisfaction")] = 9.0  # CSAT is 1-5
    bad.iloc[2, bad.columns.get_loc("customer_id")] = None
    bad.iloc[3, bad.columns.get_loc("stage")] = "nirvana"
    good = events.copy()
    good["timestamp"] = good["timestamp"].astype(object)
    good = good.astype({"customer_id": object, "stage": object})
    rows = [10, 2000, 15000, 24000]
    parts, start = [], 0
    for at, (_, row) in zip(rows, bad.iterrows(), strict=True):
        parts += [good.iloc[start:at], row.to_frame().T]
        start = at
    parts.append(good.iloc[start:])
    return pd.concat(parts, ignore_index=True), [10, 2001, 15002, 24003]


def test_invalid_rows_stop_the_run_with_their_row_numbers(bundle, events, tmp_path):
    dirty, _ = _dirty(events)
    path = tmp_path / "dirty.csv"
    dirty.to_csv(path, index=False)
    # the rules in read_events' order: the missing customer id (row 15002) is named
    # before the unreadable timestamp of row 10, by score as by read_events
    with pytest.raises(SchemaError, match=r"row 15002 \(dirty.csv line 15004\)") as info:
        score(bundle, path, recommend=False)
    with pytest.raises(SchemaError) as read_info:
        cjml.read_events(path)
    assert str(info.value).splitlines()[0] == str(read_info.value).splitlines()[0]
    one_bad = events.copy()
    one_bad.loc[2000, "satisfaction"] = 9.0
    one_bad.to_parquet(tmp_path / "dirty.parquet")
    with pytest.raises(SchemaError, match=r"(?s)CSAT range 1 to 5:\n  row 2000: satis"):
        score(
            bundle,
            tmp_path / "dirty.parquet",
            out=tmp_path / "scores.csv",
            recommend=False,
            chunk_events=5000,
        )
    # nothing left behind: the input must change before a new run, which starts afresh
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dirty.csv", "dirty.parquet"]


def test_quarantine_sets_bad_rows_aside_and_counts_them(bundle, events, reference, tmp_path):
    dirty, bad_rows = _dirty(events)
    path = tmp_path / "dirty.csv"
    dirty.to_csv(path, index=False)
    out = tmp_path / "scores.parquet"
    summary = score(
        bundle, path, out=out, on_error="quarantine", recommend=False, chunk_events=5000
    )
    assert summary.n_rows_rejected == 4 and summary.n_rows_read == len(events) + 4
    assert summary.rejects == tmp_path / "scores.rejects.parquet"
    rejects = pd.read_parquet(summary.rejects)
    assert rejects["row"].tolist() == bad_rows
    assert rejects["location"].tolist() == [f"row {r} (dirty.csv line {r + 2})" for r in bad_rows]
    assert rejects["column"].tolist() == ["timestamp", "satisfaction", "customer_id", "stage"]
    assert "cannot be read as dates" in rejects["reason"].iloc[0]
    assert "CSAT" in rejects["reason"].iloc[1]
    assert rejects["timestamp"].iloc[0] == "not a date"
    assert "4 rejected" in summary.to_text()
    # everything else is scored as if the bad rows had never been there
    written = pd.read_parquet(out)
    assert written["customer_id"].tolist() == reference["customer_id"].tolist()
    pd.testing.assert_series_equal(written["churn_risk"], reference["churn_risk"])


def test_existing_output_is_never_overwritten_without_force(bundle, events, tmp_path):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"precious")
    with pytest.raises(InputFileError, match="already exists"):
        score(bundle, events, out=out, recommend=False)
    assert out.read_bytes() == b"precious"
    assert list(tmp_path.iterdir()) == [out]
    summary = score(bundle, events, out=out, recommend=False, force=True)
    assert len(pd.read_parquet(out)) == summary.n_scored
    assert list(tmp_path.iterdir()) == [out]  # the run folder is gone once finished


class _Interrupted(Exception):
    pass


def _interrupt_after(n: int):
    """An ``_after_chunk`` hook that interrupts the run once ``n`` chunks are recorded."""
    finished = []

    def interrupt(part):
        finished.append(part)
        if len(finished) == n:
            raise _Interrupted

    return interrupt


def test_resume_equals_an_uninterrupted_run(bundle, events, tmp_path, monkeypatch):
    shuffled = events.sample(frac=1.0, random_state=5).reset_index(drop=True)
    path = tmp_path / "events.parquet"
    shuffled.to_parquet(path, index=False)
    whole = tmp_path / "whole.parquet"
    score(bundle, path, out=whole, recommend=False, chunk_events=5000)

    out = tmp_path / "scores.parquet"
    monkeypatch.setattr(cjml.scoring._run, "_after_chunk", _interrupt_after(2))
    with pytest.raises(_Interrupted):
        score(bundle, path, out=out, recommend=False, chunk_events=5000)
    monkeypatch.undo()
    assert not out.exists()
    assert (tmp_path / ".scores.parquet.cjml-run" / "state.json").exists()
    with pytest.raises(cjml.CjmlError, match="unfinished scoring run.*--resume"):
        score(bundle, path, out=out, recommend=False, chunk_events=5000)
    with pytest.raises(cjml.BundleError, match="different options.*top_k"):
        score(bundle, path, out=out, recommend=False, chunk_events=5000, top_k=2, resume=True)
    summary = score(bundle, path, out=out, recommend=False, chunk_events=5000, resume=True)
    assert summary.n_chunks_resumed == 2 and summary.n_chunks > 2
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(whole))
    assert not (tmp_path / ".scores.parquet.cjml-run").exists()


def test_resume_refuses_changed_events(bundle, events, tmp_path, monkeypatch):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    out = tmp_path / "scores.csv"
    monkeypatch.setattr(
        cjml.scoring._run, "_after_chunk", lambda part: (_ for _ in ()).throw(_Interrupted())
    )
    with pytest.raises(_Interrupted):
        score(bundle, path, out=out, recommend=False, chunk_events=5000)
    monkeypatch.undo()
    events.iloc[:-1].to_parquet(path, index=False)
    with pytest.raises(cjml.BundleError, match="different input events"):
        score(bundle, path, out=out, recommend=False, chunk_events=5000, resume=True)
    # --force starts afresh
    score(bundle, path, out=out, recommend=False, chunk_events=5000, force=True)
    assert out.exists()


def test_a_killed_process_resumes_to_the_same_output(bundle_path, events, tmp_path):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    args = [str(bundle_path), str(path), "--no-recommend", "--chunk-events", "5000", "--quiet"]
    assert main(["score", *args, "--out", str(tmp_path / "whole.parquet")]) == 0
    out = tmp_path / "scores.parquet"
    # A real kill: SIGKILL right after the first chunk is recorded (no cleanup runs).
    script = textwrap.dedent(f"""
        import os, signal, sys
        import cjml.scoring._run
        cjml.scoring._run._after_chunk = lambda part: os.kill(os.getpid(), signal.SIGKILL)
        from cjml.cli import main
        sys.exit(main({["score", *args, "--out", str(out)]!r}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == -9, proc.stderr
    assert not out.exists()
    assert main(["score", *args, "--out", str(out), "--resume"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "whole.parquet"))


def test_a_killed_run_on_threads_resumes_to_the_same_output(bundle_path, events, tmp_path):
    path = tmp_path / "events.parquet"
    events.sample(frac=1.0, random_state=11).to_parquet(path, index=False)
    args = [str(bundle_path), str(path), "--no-recommend", "--chunk-events", "4000", "--quiet"]
    assert main(["score", *args, "--jobs", "1", "--out", str(tmp_path / "whole.parquet")]) == 0
    out = tmp_path / "scores.parquet"
    script = textwrap.dedent(f"""
        import os, signal, sys
        import cjml.scoring._run
        cjml.scoring._run._after_chunk = lambda part: os.kill(os.getpid(), signal.SIGKILL)
        from cjml.cli import main
        sys.exit(main({["score", *args, "--jobs", "2", "--out", str(out)]!r}))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == -9, proc.stderr
    assert not out.exists()
    state = json.loads((tmp_path / ".scores.parquet.cjml-run" / "state.json").read_text())
    assert len(state["chunks"]) == 1  # only what the calling thread recorded counts as done
    assert main(["score", *args, "--jobs", "2", "--out", str(out), "--resume"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "whole.parquet"))


def test_customers_without_events_before_the_cutoff(bundle, events):
    cutoff = pd.Timestamp("2024-03-01", tz="UTC")
    out = score(
        bundle, events, cutoff="2024-03-01", recommend=False, drivers=False, include_inactive=True
    )
    first = events.groupby("customer_id")["timestamp"].min()
    later = first.index[first > cutoff]
    assert len(later) > 0
    got = out.set_index("customer_id")
    assert (got.loc[later, "status"] == "no_events").all()
    assert got.loc[later, "churn_risk"].isna().all()
    assert ScoreSummary.from_dict(out.attrs["summary"]).cutoff == cutoff
    assert got["top_drivers"].isna().all()  # drivers=False


def test_dask_engine_equals_the_local_engine(bundle, events, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    shuffled = events.sample(frac=1.0, random_state=9).reset_index(drop=True)
    folder = tmp_path / "events"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(shuffled)), 3)):
        shuffled.iloc[rows].to_parquet(
            folder / f"part-{i}.parquet", index=False, row_group_size=3000
        )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = score(
            bundle, folder, engine="dask", scheduler=client, recommend=False, chunk_events=6000
        )
        listed = score(
            bundle,
            folder,
            engine="dask",
            scheduler=client,
            recommend=False,
            customers=[3, 1, 10**9],
            chunk_events=6000,
            include_inactive=True,
        )
    pd.testing.assert_frame_equal(got, reference)
    pd.testing.assert_frame_equal(
        score(bundle, folder, recommend=False, chunk_events=6000), reference
    )  # small row groups, read a few at a time
    assert got.attrs["summary"]["engine"] == "dask" and got.attrs["summary"]["n_chunks"] >= 4
    assert set(listed["customer_id"].iloc[:2]) == {1, 3}
    assert listed["customer_id"].iloc[-1] == 10**9
    assert listed["status"].iloc[-1] == "no_events"


def _recommend_module(**replace):
    """cjml.recommend with TouchpointRecommender replaced (or removed, by default)."""
    import cjml.recommend as real

    module = types.ModuleType("cjml.recommend")
    module.__dict__.update(
        {k: v for k, v in vars(real).items() if k not in ("TouchpointRecommender", "__name__")}
    )
    module.__dict__.update(replace)
    return module


def test_recommendations_come_from_the_recommender(bundle, events, monkeypatch):
    calls = []

    class FakeRecommender:
        @classmethod
        def from_bundle(cls, b, rules=None):
            assert b is bundle and rules is None
            return cls()

        def recommend(self, log, *, cutoff, features, churn_risk, top_k, value_if_retained):
            calls.append((log.n_customers, cutoff, len(features), top_k))
            assert len(churn_risk) == len(features) == len(value_if_retained)
            out = pd.DataFrame(index=features.index)
            for r in range(1, top_k + 1):
                suffix = "" if r == 1 else f"_{r}"
                out[f"recommended_touchpoint{suffix}"] = f"tp{r}"
                out[f"expected_risk_reduction{suffix}"] = churn_risk / (10 * r)
                out[f"expected_value_saved{suffix}"] = value_if_retained / r
                out[f"expected_risk_reduction_low{suffix}"] = churn_risk / (10 * r) - 0.01
                out[f"expected_risk_reduction_high{suffix}"] = churn_risk / (10 * r) + 0.01
                out[f"evidence{suffix}"] = 100
                out[f"uncertain{suffix}"] = churn_risk < 0.1
                out[f"cost{suffix}"] = 1.0
            out["reason"] = "because"
            out["reach_probability"] = 1 - churn_risk / 2
            return out.iloc[::-1]  # any order: rows are matched by customer id

    monkeypatch.setitem(
        sys.modules, "cjml.recommend", _recommend_module(TouchpointRecommender=FakeRecommender)
    )
    out = score(bundle, events, top_k=2, drivers=False, include_inactive=True)
    assert out.columns.tolist() == [
        *BASE_COLUMNS[:-1],
        "recommended_touchpoint_2",
        "expected_risk_reduction_2",
        "expected_value_saved_2",
        "status",
    ]
    scored = out[out["status"] == "scored"]
    assert (scored["recommended_touchpoint_2"] == "tp2").all()
    np.testing.assert_allclose(scored["expected_risk_reduction"], scored["churn_risk"] / 10)
    value = scored["expected_value"] + scored["value_at_risk"]  # the value if retained
    np.testing.assert_allclose(scored["expected_value_saved_2"], value / 2)
    # the first recommendation's interval and flag, as the recommender gave them
    np.testing.assert_allclose(
        scored["expected_risk_reduction_low"], scored["churn_risk"] / 10 - 0.01
    )
    np.testing.assert_allclose(
        scored["expected_risk_reduction_high"], scored["churn_risk"] / 10 + 0.01
    )
    assert scored["uncertain"].tolist() == (scored["churn_risk"] < 0.1).tolist()
    np.testing.assert_allclose(scored["reach_probability"], 1 - scored["churn_risk"] / 2)
    assert out.loc[out["status"] != "scored", "reach_probability"].isna().all()
    assert out.loc[out["status"] != "scored", "recommended_touchpoint"].isna().all()
    assert out.loc[out["status"] != "scored", "uncertain"].isna().all()
    assert calls and all(c[3] == 2 for c in calls)


def test_recommendations_are_empty_while_the_recommender_is_missing(bundle, events, monkeypatch):
    # "from cjml.recommend import TouchpointRecommender" fails, as before it was written
    monkeypatch.setitem(sys.modules, "cjml.recommend", _recommend_module())
    out = score(bundle, events, top_k=3, drivers=False)
    assert "expected_risk_reduction_3" in out.columns
    assert out["recommended_touchpoint"].isna().all()
    assert out["expected_risk_reduction_3"].isna().all()


def test_score_command(bundle_path, events, tmp_path, capsys):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    out = tmp_path / "scores.csv"
    code, text, err = run(
        capsys,
        "score",
        str(bundle_path),
        str(path),
        "--out",
        str(out),
        "--no-recommend",
        "--top-k",
        "2",
        "--quiet",
    )
    assert code == 0, err
    assert text.startswith("3,000 customers at") and f"wrote {out}" in text
    assert "customers/s" in text
    written = pd.read_csv(out)
    assert "recommended_touchpoint_2" in written.columns and (written["status"] == "scored").all()
    # in command-line words: the option, not the keyword
    assert (
        f"{3000 - len(written):,} inactive customers not written; pass --include-inactive to "
        f"list them after the {len(written):,} scored; wrote {out}"
    ) in text
    code, _, err = run(capsys, "score", str(bundle_path), str(path), "--out", str(out), "--quiet")
    assert code == 1 and "already exists" in err and "--force" in err
    code, _, err = run(
        capsys, "score", str(bundle_path), str(path), "--out", str(tmp_path / "x.txt"), "--quiet"
    )
    assert code == 1 and ".parquet or .csv" in err


def test_events_lacking_a_column_the_model_uses_are_refused(bundle, events):
    with pytest.raises(cjml.BundleError, match="satisfaction"):
        score(bundle, events.drop(columns=["satisfaction"]))


def test_resume_needs_an_output(bundle, events):
    with pytest.raises(ValueError, match="resume=True needs out"):
        score(bundle, events, resume=True)


def test_no_temporary_files_remain_after_an_in_memory_run(bundle, events, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    score(bundle, events.iloc[:2000], recommend=False, drivers=False)
    assert os.listdir(tmp_path) == []


def test_schema_errors_carry_their_rows_for_quarantine():
    from cjml.io._messages import _Origin

    df = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "timestamp": ["2024-01-01", "soon", "2024-01-02", "later"],
            "touchpoint": ["email"] * 4,
        }
    )
    with pytest.raises(SchemaError) as info:
        cjml.read_events(df)
    err = info.value
    assert err.column == "timestamp" and err.positions.tolist() == [1, 3]
    assert err.problem == "values that cannot be read as dates"
    # a problem of the whole column has no rows to set aside
    with pytest.raises(SchemaError) as info:
        cjml.read_events(df.assign(timestamp=[1, 2, 3, 4]))
    assert info.value.positions is None and info.value.column == "timestamp"
    with pytest.raises(SchemaError) as info:
        cjml.read_events(
            df.assign(timestamp="2024-01-01", stage=["awareness", "limbo", None, None])
        )
    assert info.value.column == "stage" and info.value.positions.tolist() == [1]
    # rows of a subset are named by their place in the whole input
    origin = _Origin(names=("a.csv", "b.csv"), starts=(0, 10), csv=True, rows=np.array([3, 12]))
    assert origin.where(1) == "row 12 (b.csv line 4)"


def test_two_runs_never_write_the_same_output_at_once(bundle, events, tmp_path, monkeypatch):
    out = tmp_path / "scores.parquet"
    seen = []

    def second_run(part):
        if not seen:
            seen.append(part)
            with pytest.raises(cjml.CjmlError, match="Another cjml score run is writing"):
                score(bundle, events, out=out, recommend=False, force=True)

    monkeypatch.setattr(cjml.scoring._run, "_after_chunk", second_run)
    summary = score(bundle, events, out=out, recommend=False, drivers=False, chunk_events=8000)
    assert seen and len(pd.read_parquet(out)) == summary.n_scored
    assert list(tmp_path.iterdir()) == [out]


def test_recommendations_are_the_same_however_the_input_is_cut(bundle, events):
    recommend = pytest.importorskip("cjml.recommend")
    if not hasattr(recommend, "TouchpointRecommender"):
        pytest.skip("cjml.recommend has no TouchpointRecommender yet")
    whole = score(bundle, events, top_k=2)
    scored = whole[whole["status"] == "scored"]
    assert scored["recommended_touchpoint"].notna().any()
    has = scored["recommended_touchpoint"].notna()
    low, high = scored["expected_risk_reduction_low"], scored["expected_risk_reduction_high"]
    red = scored["expected_risk_reduction"]
    known = has & low.notna()
    assert known.any() and low[~has].isna().all() and high[~has].isna().all()
    assert (red[known] <= high[known] + 1e-12).all()
    assert (
        (low[known] <= red[known] + 1e-12) | (red[known] >= scored.loc[known, "churn_risk"] - 1e-12)
    ).all()  # (the clip at 0 risk)
    assert scored.loc[has, "uncertain"].tolist() == (~(low[has] > 0)).tolist()
    assert scored.loc[~has, "uncertain"].isna().all()  # no recommendation: no flag
    chunked = score(bundle, events.sample(frac=1.0, random_state=4), top_k=2, chunk_events=5000)
    pd.testing.assert_frame_equal(chunked, whole)


# ---------------------------------------------------------------- attrs: plain data
@pytest.fixture(scope="module")
def quarantined(bundle, events, tmp_path_factory):
    """Scores of the dirty sample (four bad rows) in memory, and the same run with out=."""
    folder = tmp_path_factory.mktemp("dirty")
    dirty, bad_rows = _dirty(events)
    path = folder / "dirty.csv"
    dirty.to_csv(path, index=False)
    options = {"on_error": "quarantine", "recommend": False, "drivers": False, "chunk_events": 6000}
    in_memory = score(bundle, path, **options)
    written = score(bundle, path, out=folder / "scores.parquet", **options)
    return in_memory, written, bad_rows


def test_attrs_are_plain_json_data(quarantined):
    scores, _, bad_rows = quarantined
    summary, rejects = scores.attrs["summary"], scores.attrs["rejects"]
    assert json.loads(json.dumps(scores.attrs)) == scores.attrs
    assert {type(v) for v in summary.values()} <= {str, int, float, list, type(None)}
    assert isinstance(summary["cutoff"], str) and summary["n_rows_rejected"] == 4
    table = pd.DataFrame(rejects)  # the rejected rows, as documented
    assert table["row"].tolist() == bad_rows
    assert table["column"].tolist() == ["timestamp", "satisfaction", "customer_id", "stage"]
    assert table.loc[0, "timestamp"] == "not a date"
    assert ScoreSummary.from_dict(summary).to_text().startswith("3,000 customers at")


def test_scores_round_trip_through_parquet_with_their_attrs(quarantined, tmp_path):
    scores = quarantined[0]
    scores.to_parquet(tmp_path / "scores.parquet")
    back = pd.read_parquet(tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(back, scores)
    assert back.attrs == scores.attrs
    assert pd.DataFrame(back.attrs["rejects"])["row"].tolist() == quarantined[2]


def test_slices_of_the_scores_concatenate(quarantined):
    scores = quarantined[0]
    joined = pd.concat([scores.iloc[:10], scores.iloc[10:]])
    pd.testing.assert_frame_equal(joined, scores)
    assert joined.attrs == scores.attrs
    assert len(scores[scores["status"] == "scored"].attrs["rejects"]["row"]) == 4


def test_the_summary_in_attrs_is_the_summary_of_a_written_run(quarantined):
    scores, summary, _ = quarantined
    rebuilt = ScoreSummary.from_dict(scores.attrs["summary"])
    assert summary.out is not None and summary.rejects is not None
    assert rebuilt.out is None and rebuilt.rejects is None  # nothing was written
    assert dataclasses.replace(rebuilt, seconds=0.0) == dataclasses.replace(
        summary, seconds=0.0, out=None, rejects=None
    )
    assert ScoreSummary.from_dict(summary.to_dict()) == summary  # paths and cutoff too
    with pytest.raises(ValueError, match=r"missing \['seconds'\]; unknown \['speed'\]"):
        ScoreSummary.from_dict(
            {**{k: v for k, v in summary.to_dict().items() if k != "seconds"}, "speed": 1}
        )


# ---------------------------------------------------------------- business rules, budget
def _first_costs(bundle, rules, touchpoints: pd.Series) -> pd.Series:
    jm = bundle.journey_map
    costs = cjml.RecommendationRules.coerce(rules).unit_costs(jm)
    return touchpoints.map(costs)


@pytest.fixture(scope="module")
def log(bundle, events):
    return cjml.read_events(events, journey_map=bundle.journey_map)


@pytest.fixture(scope="module")
def unbudgeted(bundle, events):
    return score(bundle, events, top_k=2, drivers=False, rules={"rank_by": "reduction"})


RULE_SETS = {
    "by reduction": {"rank_by": "reduction"},
    "per unit cost": {
        "exclude": ["referral_invite"],
        "min_risk": 0.2,
        "costs": {"consultation": 25.0},
        "rank_by": "reduction_per_cost",
    },
}


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_a_budget_holds_over_the_whole_run(bundle, events, log, unbudgeted, name):
    base = RULE_SETS[name]
    cutoff = log.frame["timestamp"].max()
    lookback = bundle.metadata["lookback"]
    free = cjml.TouchpointRecommender.from_bundle(bundle, rules=base).recommend(
        log, cutoff=cutoff, lookback=lookback, top_k=2
    )
    total = free["cost"].sum()
    rules = {**base, "budget": round(total / 4, 2)}  # covers only some customers
    whole = score(bundle, events, top_k=2, drivers=False, rules=rules)
    chunked = score(
        bundle,
        events.sample(frac=1.0, random_state=2),
        top_k=2,
        drivers=False,
        rules=rules,
        chunk_events=3000,
    )
    assert chunked.attrs["summary"]["n_chunks"] >= 8
    # The same customers served with the same touchpoints (non-float columns compare
    # exactly); the reductions to rounding: the same arithmetic on arrays of another
    # size (a chunk's) can round an element 1 ulp apart (seen: 2.8e-17 on 1 of 938).
    pd.testing.assert_frame_equal(chunked, whole, check_exact=False, rtol=1e-12, atol=0)
    assert whole.columns.tolist() == unbudgeted.columns.tolist()  # no internal column left

    # the recommender on the whole log (its population: the bundle's lookback)
    expected = cjml.TouchpointRecommender.from_bundle(bundle, rules=rules).recommend(
        log, cutoff=cutoff, lookback=lookback, top_k=2
    )
    got = whole.set_index("customer_id")
    served = got.index[got["recommended_touchpoint"].notna()]
    assert served.tolist() == expected.index[expected["recommended_touchpoint"].notna()].tolist()
    assert 0 < len(served) < free["recommended_touchpoint"].notna().sum()
    for c in (
        "recommended_touchpoint",
        "expected_risk_reduction",
        "expected_risk_reduction_low",
        "expected_risk_reduction_high",
        "recommended_touchpoint_2",
        "expected_risk_reduction_2",
    ):
        pd.testing.assert_series_equal(
            got.loc[expected.index, c], expected[c], check_names=False, check_dtype=False
        )
    assert got.loc[served, "uncertain"].tolist() == expected.loc[served, "uncertain"].tolist()
    assert got.loc[got.index.difference(served), "uncertain"].isna().all()
    spent = _first_costs(bundle, rules, got.loc[served, "recommended_touchpoint"]).sum()
    assert spent <= rules["budget"] and spent == pytest.approx(expected["cost"].sum())
    skipped = expected["reason"] == "budget spent on customers with larger expected reductions"
    assert got.loc[expected.index[skipped], "recommended_touchpoint"].isna().all()
    if name == "by reduction":  # the rest is as without a budget: only the budget differs
        plain = unbudgeted.set_index("customer_id")
        pd.testing.assert_frame_equal(got.loc[served], plain.loc[served])

        def rest(frame):
            return frame.drop(
                columns=[
                    c for c in frame if "recommended" in c or "expected" in c or c == "uncertain"
                ]
            )

        assert rest(got).equals(rest(plain))


def test_rules_reach_the_recommender_and_are_checked_first(bundle, events, unbudgeted):
    excluded = unbudgeted["recommended_touchpoint"].value_counts().index[0]
    out = score(bundle, events, top_k=2, drivers=False, rules={"exclude": [excluded]})
    assert out["recommended_touchpoint"].notna().any()
    assert not (out[["recommended_touchpoint", "recommended_touchpoint_2"]] == excluded).any().any()
    from cjml.recommend import RulesError

    with pytest.raises(RulesError, match="'telepathy' is not in the journey map"):
        score(bundle, events, rules={"exclude": ["telepathy"]})
    with pytest.raises(ValueError, match="--no-recommend.*drop the rules"):
        score(bundle, events, recommend=False, rules={"budget": 10.0})


def test_resume_with_a_budget_and_refused_with_other_rules(bundle, events, tmp_path, monkeypatch):
    path = tmp_path / "events.parquet"
    events.sample(frac=1.0, random_state=6).to_parquet(path, index=False)
    rules = {"budget": 150.0}
    options = {"top_k": 2, "drivers": False, "chunk_events": 5000}
    whole = score(bundle, path, rules=rules, **options)
    out = tmp_path / "scores.parquet"
    monkeypatch.setattr(cjml.scoring._run, "_after_chunk", _interrupt_after(2))
    with pytest.raises(_Interrupted):
        score(bundle, path, out=out, rules=rules, **options)
    monkeypatch.undo()
    with pytest.raises(cjml.BundleError, match="different options.*rules"):
        score(bundle, path, out=out, rules={"budget": 300.0}, resume=True, **options)
    with pytest.raises(cjml.BundleError, match="different options.*rules"):
        score(bundle, path, out=out, resume=True, **options)  # no rules at all
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text("budget = 150\n", encoding="utf-8")  # the same rules, from TOML
    summary = score(bundle, path, out=out, rules=rules_file, resume=True, **options)
    assert summary.n_chunks_resumed == 2
    written = pd.read_parquet(out)
    expected = whole.astype({c: object for c in ("risk_band", "next_stage", "status")})
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)


def test_dask_engine_applies_the_budget_over_the_whole_run(bundle, events, tmp_path):
    distributed = pytest.importorskip("distributed")
    folder = tmp_path / "events"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(events)), 2)):
        events.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=4000)
    rules = {"budget": 150.0}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = score(
            bundle,
            folder,
            engine="dask",
            scheduler=client,
            drivers=False,
            rules=rules,
            chunk_events=6000,
        )
    assert got.attrs["summary"]["n_chunks"] >= 4
    pd.testing.assert_frame_equal(got, score(bundle, events, drivers=False, rules=rules))
    assert 0 < got["recommended_touchpoint"].notna().sum()


def test_score_command_with_rules(bundle_path, bundle, events, log, tmp_path, capsys):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        'exclude = ["referral_invite"]\nbudget = 200.0\nrank_by = "reduction"\n', encoding="utf-8"
    )
    out = tmp_path / "scores.csv"
    code, text, err = run(
        capsys,
        "score",
        str(bundle_path),
        str(path),
        "--out",
        str(out),
        "--rules",
        str(rules_file),
        "--chunk-events",
        "5000",
        "--quiet",
    )
    assert code == 0, err
    written = pd.read_csv(out)
    served = written.loc[written["recommended_touchpoint"].notna(), "customer_id"]
    expected = cjml.TouchpointRecommender.from_bundle(bundle, rules=rules_file).recommend(
        log, cutoff=log.frame["timestamp"].max(), lookback=bundle.metadata["lookback"]
    )
    assert served.tolist() == expected.index[expected["recommended_touchpoint"].notna()].tolist()
    assert 0 < len(served) < (written["status"] == "scored").sum()
    rules = cjml.RecommendationRules.from_file(rules_file)
    spent = _first_costs(bundle, rules, written["recommended_touchpoint"].dropna()).sum()
    assert spent <= 200.0
    assert "referral_invite" not in set(written["recommended_touchpoint"].dropna())
    code, _, err = run(
        capsys,
        "score",
        str(bundle_path),
        str(path),
        "--out",
        str(tmp_path / "x.csv"),
        "--rules",
        str(rules_file),
        "--no-recommend",
        "--quiet",
    )
    assert code == 1 and "--no-recommend" in err
    code, _, err = run(
        capsys,
        "score",
        str(bundle_path),
        str(path),
        "--out",
        str(tmp_path / "y.csv"),
        "--rules",
        str(tmp_path / "missing.toml"),
        "--quiet",
    )
    assert code == 1 and "missing.toml': no such file" in err


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_timestamps_straight_from_arrow_match_the_parser(unit, tz):
    from cjml.io._batches import _arrow_timestamps_ns

    rng = np.random.default_rng(3)
    ns = rng.integers(-2 * 10**18, 4 * 10**18, 500)  # 1906 to 2096
    ns -= ns % (10**9 if unit == "s" else 10**6 if unit == "ms" else 10**3 if unit == "us" else 1)
    col = pa.chunked_array(
        [
            pa.array(
                ns // {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit],
                type=pa.timestamp(unit, tz=tz),
            )
        ]
    )
    idx = pd.DatetimeIndex(col.to_pandas())
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    expected = idx.as_unit("ns").asi8
    np.testing.assert_array_equal(_arrow_timestamps_ns(col, "UTC"), expected)
    # what the full parser must see: naive times in another zone, missing values,
    # dates that nanoseconds cannot hold
    if tz is None:
        assert _arrow_timestamps_ns(col, "Europe/Paris") is None
    assert (
        _arrow_timestamps_ns(
            pa.chunked_array([pa.array([1, None], type=pa.timestamp(unit, tz=tz))]), "UTC"
        )
        is None
    )
    if unit != "ns":
        far = 300 * 365 * 86400 * {"s": 1, "ms": 10**3, "us": 10**6}[unit]  # about 2270
        assert (
            _arrow_timestamps_ns(
                pa.chunked_array([pa.array([0, far], type=pa.timestamp(unit, tz=tz))]), "UTC"
            )
            is None
        )


def test_numpy_huge_pages_are_off_while_scoring_and_restored_after(bundle, events, monkeypatch):
    hint = pytest.importorskip("numpy._core.multiarray")._set_madvise_hugepage

    def current() -> bool:
        value = hint(False)
        hint(value)
        return bool(value)

    during = []
    real = cjml.scoring._local._score_chunk_file

    def spy(*args, **kwargs):
        during.append(current())
        return real(*args, **kwargs)

    monkeypatch.setattr(cjml.scoring._local, "_score_chunk_file", spy)
    before = hint(True)
    try:
        score(bundle, events, recommend=False, chunk_events=5000, n_jobs=2)
        assert during and not any(during)
        assert current() is True  # the caller's setting is back
        monkeypatch.setattr(
            cjml.scoring._run, "_after_chunk", lambda part: (_ for _ in ()).throw(_Interrupted())
        )
        with pytest.raises(_Interrupted):  # a run stopped half-way restores it too
            score(bundle, events, recommend=False, chunk_events=5000, n_jobs=2)
        assert current() is True
    finally:
        hint(before)


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_input_without_rows_is_refused_by_either_partition_pass(bundle, events, tmp_path, jobs):
    path = tmp_path / "empty.parquet"
    events.iloc[:0].to_parquet(path, index=False)
    with pytest.raises(SchemaError, match=r"'empty.parquet' has no rows.*Fix:"):
        score(bundle, path, out=tmp_path / "scores.parquet", recommend=False, n_jobs=jobs)
    assert not (tmp_path / "scores.parquet").exists()
