"""Folders written as partitioned datasets (Spark's partitionBy, Dask's partition_on,
pyarrow's write_to_dataset): read with their sub-folders, the key=value names as columns,
by read_events, score and the Dask engine alike."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cjml
from cjml import read_events
from cjml.exceptions import CjmlError
from tests._frames import canonical_log
from tests._panel_bundle import sample_bundle_path


@pytest.fixture(scope="module")
def bundle():
    return cjml.ModelBundle.load(sample_bundle_path())


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    from cjml.datasets import load_sample

    return load_sample()


def _spark_like(events: pd.DataFrame, folder: Path, by: list[str]) -> Path:
    """The events as Spark writes them: one sub-folder per value of ``by`` (which the files
    then lack), with the marker files and folders Spark leaves beside them."""
    frame = events.assign(month=pd.to_datetime(events["timestamp"]).dt.strftime("%Y-%m"))
    pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder, by)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "stale.parquet").write_bytes(b"not parquet")
    first = next(p for p in sorted(folder.rglob("*.parquet")) if "_temporary" not in p.parts)
    (first.parent / f".{first.name}.crc").write_bytes(b"\x00\x01")
    return folder


def test_a_partitioned_folder_reads_as_the_flat_log(tmp_path, events):
    folder = _spark_like(events, tmp_path / "events", ["segment", "month"])
    assert {p.name for p in folder.iterdir()} >= {"segment=business", "_SUCCESS"}
    written = [p for p in sorted(folder.rglob("*.parquet")) if "_temporary" not in p.parts]
    assert "segment" not in pq.read_schema(written[0]).names  # the decoy aside (any order)
    got = read_events(folder).frame
    expected = read_events(events).frame
    # the segment comes from the folder names only; month is an extra column
    assert got["month"].notna().all() and set(got["month"]) >= {"2024-01", "2024-02"}
    pd.testing.assert_frame_equal(
        canonical_log(got.drop(columns="month")), canonical_log(expected), check_categorical=False
    )


def _assert_scored_alike_on_a_cluster(bundle, source, expected: pd.DataFrame, **kwargs) -> None:
    """``cjml.score`` of ``source`` with the Dask engine (a LocalCluster) gives ``expected``."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = cjml.score(bundle, source, engine="dask", scheduler=client, **kwargs)
    pd.testing.assert_frame_equal(got, expected)


def test_score_and_the_dask_engine_read_the_partitions_too(tmp_path, events, bundle):
    pytest.importorskip("distributed")
    folder = _spark_like(events, tmp_path / "events", ["segment"])
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    expected = cjml.score(bundle, events, **kwargs)  # the bundle uses the segment
    pd.testing.assert_frame_equal(cjml.score(bundle, folder, **kwargs), expected)
    _assert_scored_alike_on_a_cluster(bundle, folder, expected, **kwargs)


def test_a_file_cjml_wrote_beside_an_older_export_reads_as_one_log(tmp_path, events, bundle):
    """cjml's Parquet files declare complete columns required; another writer's file of the
    same log has them nullable, with gaps: the folder is still one log, in every reader."""
    pytest.importorskip("distributed")
    from cjml.io._write import write_table

    folder = tmp_path / "events"
    folder.mkdir()
    first = events["customer_id"].isin(events["customer_id"].unique()[:500])
    ours = events[first].assign(amount=lambda f: f["amount"].fillna(0.0))
    theirs = events[~first]
    assert theirs["amount"].isna().any()
    write_table(ours.reset_index(drop=True), folder / "a.parquet")
    theirs.to_parquet(folder / "b.parquet", index=False)
    assert not pq.read_schema(folder / "a.parquet").field("amount").nullable
    assert pq.read_schema(folder / "b.parquet").field("amount").nullable
    whole = pd.concat([ours, theirs], ignore_index=True)
    pd.testing.assert_frame_equal(
        canonical_log(read_events(folder).frame), canonical_log(read_events(whole).frame)
    )
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    expected = cjml.score(bundle, whole, **kwargs)
    pd.testing.assert_frame_equal(cjml.score(bundle, folder, **kwargs), expected)
    _assert_scored_alike_on_a_cluster(bundle, folder, expected, **kwargs)


def test_partition_values_are_text_and_hives_null_is_missing(tmp_path):
    from cjml.io._files import _partition_values

    folder = tmp_path / "d"
    file = folder / "region=North%20East" / "year=2024" / "plain" / "part-0.parquet"
    assert _partition_values(folder, file) == {"region": "North East", "year": "2024"}
    file = folder / "region=__HIVE_DEFAULT_PARTITION__" / "part-0.parquet"
    assert _partition_values(folder, file) == {"region": None}


def test_a_csv_dataset_in_nested_folders_names_its_files_by_their_path(tmp_path):
    rows = {
        "day=2024-01-01": "1,2024-01-01 09:00,paid_ad\n2,2024-01-01 10:00,email\n",
        "day=2024-01-02": "1,2024-01-02 09:00,website_visit\n2,01/02/2024 10:00,purchase\n",
    }
    for name, text in rows.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "part.csv").write_text("customer_id,timestamp,touchpoint\n" + text)
    with pytest.raises(CjmlError) as info:
        read_events(tmp_path)
    assert "day=2024-01-02/part.csv line 3" in str(info.value)
    (tmp_path / "day=2024-01-02" / "part.csv").write_text(
        "customer_id,timestamp,touchpoint\n1,2024-01-02 09:00,website_visit\n"
    )
    log = read_events(tmp_path)
    assert log.frame.groupby("day", observed=True).size().to_dict() == {
        "2024-01-01": 2,
        "2024-01-02": 1,
    }


def test_a_file_outside_the_partitions_reads_with_the_partition_column_empty(tmp_path, events):
    folder = _spark_like(events.iloc[:200], tmp_path / "events", ["segment"])
    events.iloc[200:210].drop(columns="segment").to_parquet(folder / "stray.parquet", index=False)
    os.remove(folder / "_SUCCESS")
    with pytest.warns(UserWarning, match=r"'segment': 1 of \d+ files lack it \('stray.parquet'\)"):
        log = read_events(folder)
    assert log.n_events == 210
    stray = log.frame["customer_id"].isin(events["customer_id"].iloc[200:210])
    assert stray.sum() >= 10 and log.frame.loc[stray, "segment"].isna().sum() == 10


def test_other_sub_folders_are_not_read(tmp_path, events):
    """Only partitions are part of the dataset: an archive kept beside it is not read."""
    events.to_parquet(tmp_path / "events.parquet", index=False)
    (tmp_path / "archive").mkdir()
    events.iloc[:100].to_parquet(tmp_path / "archive" / "old.parquet", index=False)
    assert read_events(tmp_path).n_events == len(events)
    # a folder whose files are all in such a sub-folder says where they were not looked for
    (tmp_path / "only" / "archive").mkdir(parents=True)
    events.iloc[:100].to_parquet(tmp_path / "only" / "archive" / "old.parquet", index=False)
    with pytest.raises(CjmlError, match=r"of its sub-folders only partitions, key=value, are read"):
        read_events(tmp_path / "only")


def _monthly(events: pd.DataFrame, folder: Path, suffix: str) -> pd.DataFrame:
    """Three monthly exports: February's without the satisfaction column, March's with a
    campaign column the others lack; returns the rows all together, as pandas joins them."""
    folder.mkdir()
    months = [
        events.iloc[:300],
        events.iloc[300:600].drop(columns=["satisfaction"]),
        events.iloc[600:900].assign(campaign="spring"),
    ]
    for i, month in enumerate(months, start=1):
        path = folder / f"2024_0{i}{suffix}"
        month.to_csv(path, index=False) if suffix == ".csv" else month.to_parquet(path, index=False)
    return pd.concat(months, ignore_index=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_monthly_exports_that_gain_and_lose_columns_read_as_one_log(
    tmp_path, events, bundle, suffix
):
    """A column a month's export lacks is empty on its rows, in read_events and in score
    alike (Parquet's types kept), and one warning names which files lack which column."""
    folder = tmp_path / "monthly"
    together = _monthly(events, folder, suffix)
    with pytest.warns(UserWarning) as said:
        log = read_events(folder)
    message = "\n".join(str(w.message) for w in said if "same columns" in str(w.message))
    assert f"  'satisfaction': 1 of 3 files lack it ('2024_02{suffix}')\n" in message
    assert f"  'campaign': 2 of 3 files lack it ('2024_01{suffix}', '2024_02{suffix}')\n" in (
        message
    )
    assert "If a column was renamed between exports, give it one name in every file" in message
    expected = read_events(together).frame
    pd.testing.assert_frame_equal(
        canonical_log(log.frame), canonical_log(expected), check_categorical=False
    )
    assert log.frame["satisfaction"].notna().sum() == together["satisfaction"].notna().sum() > 0
    assert log.frame["campaign"].isna().sum() == 600
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    with pytest.warns(UserWarning, match="'satisfaction': 1 of 3 files lack it"):
        scored = cjml.score(bundle, folder, **kwargs)
    pd.testing.assert_frame_equal(scored, cjml.score(bundle, together, **kwargs))


def test_a_monthly_export_without_a_required_column_is_named_by_both_readers(tmp_path, events):
    """A file that lacks the customer id (renamed in one month's export) is refused, by
    the in-memory reader and the streaming one (score) with the same message."""
    from cjml.io._source import _open_source

    folder = tmp_path / "monthly"
    folder.mkdir()
    events.iloc[:100].to_csv(folder / "2024_01.csv", index=False)
    renamed = events.iloc[100:200].rename(columns={"customer_id": "cust_id"})
    renamed.to_csv(folder / "2024_02.csv", index=False)
    events.iloc[200:300].to_csv(folder / "2024_03.csv", index=False)
    with pytest.raises(CjmlError) as in_memory:
        read_events(folder)
    with pytest.raises(CjmlError) as streaming:
        _open_source(folder, mapping={})
    message = str(in_memory.value)
    assert message == str(streaming.value)
    assert "lack a column every event needs (the customer id, time and touchpoint; " in message
    assert "'2024_01.csv' has them):\n  '2024_02.csv' lacks ['customer_id']; its columns: " in (
        message
    )
    assert "rename it to 'customer_id' there" in message
    assert "'2024_03.csv'" not in message
    # the user's own name for the column is the one every file must have
    with pytest.raises(CjmlError, match=r"'2024_01.csv' lacks \['cust_id'\]"):
        read_events(folder, columns={"customer_id": "cust_id"})
