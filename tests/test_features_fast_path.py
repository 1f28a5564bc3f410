"""The fast path of ``cjml features`` (issue 21): parts, the piecewise writer, light imports.

What makes the command fast must not change what it writes: the parts of
``transform_parts`` are ``transform``'s output to the last bit, a table written
in pieces is the table written at once, and the command writes what the Python
API returns. The featurizer stays a scikit-learn transformer without importing
scikit-learn.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.cli import main
from cjml.datasets import make_journeys, sample_path
from cjml.features import _featurizer
from cjml.io import _write
from cjml.io._write import write_table

CUTOFF = "2024-03-01"


@pytest.fixture(scope="module")
def log():
    return cjml.read_events(sample_path("events"))


@pytest.fixture(scope="module")
def fitted(log):
    return cjml.JourneyFeaturizer().fit(log, cutoff=CUTOFF)


def bits(frame: pd.DataFrame) -> np.ndarray:
    """The values as raw bits: NaN payloads and -0.0 compared too."""
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64)).view(np.int64)


# ------------------------------------------------------------------ threads
def test_families_on_threads_give_what_one_thread_gives_to_the_last_bit(log):
    """Threads (costliest family first) fill the same columns as one thread, in the same places."""
    families = ["activity", "touchpoints", "memory", "sequences", "btyd", "value", "support"]
    one = cjml.JourneyFeaturizer(families=families, n_jobs=1).fit(log, cutoff=CUTOFF)
    two = cjml.JourneyFeaturizer(families=families, n_jobs=2).fit(log, cutoff=CUTOFF)
    cutoffs = [CUTOFF, "2024-05-01"]
    a, b = one.transform(log, cutoff=cutoffs), two.transform(log, cutoff=cutoffs)
    assert list(b.columns) == list(one.feature_names_out_)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert np.array_equal(bits(a), bits(b))
    costs = {f.family: f.relative_cost for f in two.families_}
    assert costs["memory"] > costs["activity"] > costs["support"]  # the order threads start them


# ------------------------------------------------------------------ parts
@pytest.mark.parametrize("cutoff", [CUTOFF, None, "2023-01-01"])
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_parts_concatenated_are_transform_to_the_last_bit(log, fitted, cutoff, parts):
    whole = fitted.transform(log, cutoff=cutoff)
    pieces = list(fitted.transform_parts(log, cutoff, parts=parts))
    assert len(pieces) == min(parts, log.n_customers)
    joined = pd.concat(pieces)
    pd.testing.assert_frame_equal(joined, whole, check_exact=True)
    assert np.array_equal(bits(joined), bits(whole))
    assert all(p.attrs == whole.attrs for p in pieces)
    assert sum(len(p) for p in pieces) == len(whole)


def test_parts_split_the_customers_into_event_balanced_consecutive_ranges(log, fitted):
    pieces = list(fitted.transform_parts(log, None, parts=4))
    ids = [p.index for p in pieces]
    assert all(a[-1] < b[0] for a, b in zip(ids, ids[1:], strict=False))  # in order, no overlap
    events = [p["n_events"].sum() for p in pieces]
    assert max(events) < 2 * log.n_events / 4  # about a quarter each


def test_several_cutoffs_give_one_part_the_transform(log, fitted):
    cutoffs = ["2024-02-01", CUTOFF]
    (only,) = fitted.transform_parts(log, cutoffs, parts=4)
    pd.testing.assert_frame_equal(only, fitted.transform(log, cutoff=cutoffs), check_exact=True)


def test_default_part_count_follows_the_log_size(monkeypatch, log, fitted):
    assert len(list(fitted.transform_parts(log, CUTOFF))) == 1  # a small log: one part
    monkeypatch.setattr(_featurizer, "_EVENTS_PER_PART", log.n_events // 3)
    assert len(list(fitted.transform_parts(log, CUTOFF))) == 3


def test_a_warning_every_part_raises_is_given_once(log, fitted):
    events = pd.read_parquet(sample_path("events"))
    pigeons = events.drop_duplicates("customer_id").iloc[::50].assign(touchpoint="carrier_pigeon")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # read_events: not in the journey map
        other = cjml.read_events(pd.concat([events, pigeons], ignore_index=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = fitted.transform(other, cutoff=CUTOFF)
    with warnings.catch_warnings(record=True) as caught_parts:
        warnings.simplefilter("always")
        joined = pd.concat(fitted.transform_parts(other, CUTOFF, parts=5))
    pd.testing.assert_frame_equal(joined, whole, check_exact=True)
    said = sorted(str(w.message) for w in caught)
    assert said and all("'carrier_pigeon'" in m for m in said)
    assert sorted(str(w.message) for w in caught_parts) == said


def test_fit_transform_is_fit_then_transform_at_the_same_cutoff(log):
    expected = cjml.JourneyFeaturizer().fit(log, cutoff=CUTOFF).transform(log, cutoff=CUTOFF)
    got = cjml.JourneyFeaturizer().fit_transform(log, cutoff=CUTOFF)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.index.isin(log.customer_ids).all() and len(got) < log.n_customers
    parts = cjml.JourneyFeaturizer().fit_transform_parts(log, CUTOFF, parts=3)
    pd.testing.assert_frame_equal(pd.concat(parts), expected, check_exact=True)


def fitted_state(featurizer) -> list:
    """What fitting learned, family by family (vocabularies, transitions, categories...)."""
    return [
        {
            k: v.tolist() if isinstance(v, np.ndarray) else v
            for k, v in vars(f).items()
            if k.endswith("_") and not k.startswith("_")
        }
        for f in featurizer.families_
    ]


@pytest.mark.parametrize("dense_pairs", [512, 3])  # a table of pairs, or a list of those seen
@pytest.mark.parametrize("cutoff", [CUTOFF, None, "2023-01-01"])
def test_a_large_log_is_fitted_in_parts_to_the_same_state(monkeypatch, cutoff, dense_pairs):
    """Counted in parts of customers, the fit learns what one pass over the whole log learns:
    vocabularies with a touchpoint outside the map and some folded away, channels, the
    transitions, text and categorical attributes, the purchase touchpoints."""
    events = pd.read_parquet(sample_path("events"))
    rng = np.random.default_rng(0)
    rare = rng.random(len(events)) < 0.02
    events["touchpoint"] = events["touchpoint"].astype(str).where(~rare, "carrier_pigeon")
    events["plan"] = rng.choice(["basic", "pro", None], size=len(events))  # text, with gaps
    events["region"] = pd.Categorical(rng.choice(["north", "south"], size=len(events)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # carrier_pigeon: not in the journey map
        other = cjml.read_events(events)
    monkeypatch.setattr(_featurizer.SequenceFeatures, "_DENSE_PAIRS", dense_pairs)

    def fit(events_per_part, n_jobs=1):
        monkeypatch.setattr(_featurizer, "_EVENTS_PER_PART", events_per_part)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            featurizer = cjml.JourneyFeaturizer(max_touchpoints=12, n_jobs=n_jobs)
            featurizer.fit(other, cutoff=cutoff)
        return featurizer, sorted(str(w.message) for w in caught)

    whole, said = fit(10**9)
    parted, said_parted = fit(other.n_events // 7)
    assert said_parted == said and any("touchpoints" in m for m in said)  # folding, said once
    for n_jobs in (2, 3):  # runs of parts counted on threads, their sums added in order
        threaded, said_threaded = fit(other.n_events // 7, n_jobs)
        assert said_threaded == said
        assert fitted_state(threaded) == fitted_state(whole)
        assert list(threaded.feature_names_out_) == list(whole.feature_names_out_)
    assert list(parted.feature_names_out_) == list(whole.feature_names_out_)
    assert parted.categorical_features_ == whole.categorical_features_
    assert fitted_state(parted) == fitted_state(whole)
    families = {f.family: f for f in parted.families_}
    if cutoff == "2023-01-01":  # before every event: nothing seen
        assert families["sequences"].transitions_ == [] and families["attributes"].categories_ == {}
    else:
        assert len(families["sequences"].transitions_) == 10
        assert families["attributes"].categories_ == {
            "segment": sorted(set(events["segment"].astype(str))),
            "plan": ["basic", "pro"],
            "region": ["north", "south"],
        }
    a, b = whole.transform(other, cutoff=cutoff), parted.transform(other, cutoff=cutoff)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_family_that_fits_on_the_whole_log_keeps_it(monkeypatch, log):
    """btyd fits a model of every customer's summary, not counts: the whole log's windows."""
    from cjml.features import BtydFeatures, TouchpointFeatures

    assert TouchpointFeatures._fits_in_parts() and not BtydFeatures._fits_in_parts()
    monkeypatch.setattr(_featurizer, "_EVENTS_PER_PART", log.n_events // 5)
    seen = []
    real = _featurizer.build_windows

    def counted(lg, *args, **kwargs):
        seen.append(lg.n_events)
        return real(lg, *args, **kwargs)

    monkeypatch.setattr(_featurizer, "build_windows", counted)
    cjml.JourneyFeaturizer(families=["activity", "btyd"]).fit(log, cutoff=CUTOFF)
    assert seen == [log.n_events]
    seen.clear()
    cjml.JourneyFeaturizer(families=["activity", "touchpoints"]).fit(log, cutoff=CUTOFF)
    assert len(seen) == 5 and sum(seen) == log.n_events


def test_customer_range_is_the_log_of_those_customers(log):
    part = log._customer_range(10, 20)
    ids = log.customer_ids[10:20]
    assert list(part.customer_ids) == list(ids)
    rows = log.frame["customer_id"].isin(ids).to_numpy()
    assert part.n_events == rows.sum()
    assert np.array_equal(part.timestamps_ns, log.timestamps_ns[rows])
    assert np.array_equal(part.customer_codes, log.customer_codes[rows] - 10)
    assert part.offsets[0] == 0 and part.offsets[-1] == part.n_events
    assert not part.customer_codes.flags.writeable


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 4), min_size=1, max_size=30),
    shuffled=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_first_and_last_positions_from_the_counts_match_a_pass_over_the_events(
    counts, shuffled, seed
):
    """Events in row order: the positions come from the counts; otherwise from the events."""
    from cjml.features._windows import Windows

    row = np.repeat(np.arange(len(counts)), counts)
    if shuffled:
        np.random.default_rng(seed).shuffle(row)
    n = len(row)

    def windows():
        return Windows(
            log=None,  # type: ignore[arg-type]  # the positions read only the rows
            ev=np.arange(n),
            row=row,
            n_rows=len(counts),
            cutoff_ns=np.zeros(len(counts), dtype=np.int64),
            customer=np.arange(len(counts)),
            customer_id=np.arange(len(counts)),
        )

    w = windows()
    assert w._rows_in_order == (not shuffled or bool(np.all(np.diff(row) >= 0)))
    positions = np.arange(n)
    assert np.array_equal(w.first_position, w._boundary(positions, last=False))
    assert np.array_equal(w.last_position, w._boundary(positions, last=True))
    if not shuffled:  # the row of each first and last event is the row itself
        has = np.asarray(counts) > 0
        assert np.array_equal(row[w.first_position[has]], np.flatnonzero(has))
        assert np.array_equal(row[w.last_position[has]], np.flatnonzero(has))
        assert np.all(w.first_position[~has] == -1) and np.all(w.last_position[~has] == -1)


# ------------------------------------------------------------------ writing in pieces
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_table_written_in_pieces_is_the_table_written_at_once(
    tmp_path, monkeypatch, log, fitted, suffix
):
    monkeypatch.setattr(_write, "_ROW_GROUP_ROWS", 1)  # a row group per piece
    whole = fitted.transform(log, cutoff=CUTOFF).reset_index()
    pieces = [p.reset_index() for p in fitted.transform_parts(log, CUTOFF, parts=3)]
    a = write_table(whole, tmp_path / f"whole{suffix}")
    b = write_table(iter(pieces), tmp_path / f"pieces{suffix}")
    if suffix == ".csv":
        assert a.read_bytes() == b.read_bytes()
        return
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert tb.equals(ta) and tb.schema.equals(ta.schema, check_metadata=True)
    assert pq.ParquetFile(b).metadata.num_row_groups == sum(len(p) > 0 for p in pieces) > 1
    back = pd.read_parquet(b)
    pd.testing.assert_frame_equal(back, pd.read_parquet(a), check_exact=True)
    assert back.attrs == whole.attrs and back.attrs


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.just(float("nan")),
            st.just(-0.0),
        ),
        min_size=1,
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    text_ids=st.booleans(),
)
def test_pieces_convert_to_the_same_parquet_as_the_whole_table(values, cuts, text_ids):
    """Later pieces skip pandas' conversion; NaN must still be null, values bit for bit."""
    import tempfile

    n = len(values)
    ids = [f"c{k}" for k in range(n)] if text_ids else list(range(n))
    # float columns apart and side by side: each run of them is converted as one array
    whole = pd.DataFrame(
        {
            "customer_id": ids,
            "x": values,
            "k": np.arange(n),
            "y": np.full(n, np.nan),
            "z": values[::-1],
        }
    )
    whole.attrs = {"cutoff": "2024-01-01"}
    bounds = sorted({0, n, *(c for c in cuts if c < n)})
    pieces = [
        whole.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    for p in pieces:
        p.attrs = dict(whole.attrs)
    with tempfile.TemporaryDirectory() as tmp:
        a = pq.read_table(write_table(whole, Path(tmp) / "whole.parquet"))
        b = pq.read_table(write_table(iter(pieces), Path(tmp) / "pieces.parquet"))
    assert b.schema.equals(a.schema, check_metadata=True)
    assert b.column("x").null_count == int(np.isnan(values).sum())
    assert b.column("y").null_count == n
    assert b.column("k").to_pylist() == list(range(n))
    for name, expected in (("x", np.asarray(values)), ("z", np.asarray(values[::-1]))):
        got = b.column(name).to_numpy(zero_copy_only=False)
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        assert np.array_equal(
            got.view(np.int64)[~np.isnan(got)], expected[~np.isnan(expected)].view(np.int64)
        )


def test_complete_columns_are_required_fields_and_a_later_null_widens_the_file(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(_write, "_ROW_GROUP_ROWS", 2)  # rows already written when x's null comes
    pieces = [
        pd.DataFrame({"customer_id": [1, 2], "x": [1.0, 2.0], "y": [np.nan, 1.0]}),
        pd.DataFrame({"customer_id": [3, 4], "x": [3.0, 4.0], "y": [2.0, 3.0]}),
        pd.DataFrame({"customer_id": [5, 6], "x": [np.nan, 6.0], "y": [4.0, 5.0]}),
        pd.DataFrame({"customer_id": [7], "x": [7.0], "y": [6.0]}),
    ]
    out = write_table(iter(pieces), tmp_path / "pieces.parquet")
    whole = write_table(pd.concat(pieces, ignore_index=True), tmp_path / "whole.parquet")
    schema = pq.read_schema(out)
    assert schema.equals(pq.read_schema(whole), check_metadata=True)
    assert [schema.field(c).nullable for c in ("customer_id", "x", "y")] == [False, True, True]
    assert pq.ParquetFile(out).metadata.num_row_groups == 4  # the copied row groups kept
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.concat(pieces, ignore_index=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pieces.parquet", "whole.parquet"]
    complete = write_table(iter(pieces[1:2]), tmp_path / "complete.parquet")
    assert not any(f.nullable for f in pq.read_schema(complete))


def test_a_later_piece_with_other_dtypes_or_attrs_is_refused(tmp_path):
    a = pd.DataFrame({"customer_id": [1, 2], "x": [1.0, np.nan]})
    with pytest.raises(ValueError, match="differ"):
        write_table([a, a.assign(x=[1, 2])], tmp_path / "t.parquet")
    b = a.copy()
    b.attrs = {"cutoff": "later"}
    with pytest.raises(ValueError, match="differ"):
        write_table([a, b], tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_small_pieces_are_gathered_into_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(_write, "_ROW_GROUP_ROWS", 5)
    monkeypatch.setattr(_write, "_PIECES_WAITING", 1)
    pieces = [pd.DataFrame({"customer_id": [k, k + 100], "x": [k / 3, -k]}) for k in range(7)]
    out = write_table(iter(pieces), tmp_path / "t.parquet")
    meta = pq.ParquetFile(out).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [6, 6, 2]
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.concat(pieces, ignore_index=True))


def test_pieces_converted_by_either_thread_make_the_same_file(tmp_path, monkeypatch):
    """When the writer falls behind, the computing thread converts the next pieces to Arrow
    itself; the file is the one the writer alone makes, and a piece that differs is still
    refused, whichever thread converted it."""
    import threading
    import time

    writer_class = pq.ParquetWriter
    converted_on = []
    convert = _write._PieceConverter.__call__

    class SlowWriter(writer_class):
        def write_table(self, table, *args, **kwargs):
            time.sleep(0.02)  # the writer is the slower thread
            return super().write_table(table, *args, **kwargs)

    def recording(self, frame):
        converted_on.append(threading.current_thread() is threading.main_thread())
        return convert(self, frame)

    monkeypatch.setattr(_write, "_ROW_GROUP_ROWS", 1)  # a row group (a slow write) per piece
    monkeypatch.setattr(pq, "ParquetWriter", SlowWriter)
    monkeypatch.setattr(_write._PieceConverter, "__call__", recording)
    rng = np.random.default_rng(1)
    pieces = [
        pd.DataFrame({"customer_id": [2 * k, 2 * k + 1], "x": rng.random(2), "y": [np.nan, k]})
        for k in range(12)
    ]
    out = write_table(iter(pieces), tmp_path / "pieces.parquet")
    assert any(converted_on) and not converted_on[0]  # the first piece: on the writer
    monkeypatch.setattr(pq, "ParquetWriter", writer_class)
    whole = write_table(pd.concat(pieces, ignore_index=True), tmp_path / "whole.parquet")
    assert pq.read_table(out).equals(pq.read_table(whole))
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(whole), check_exact=True)

    monkeypatch.setattr(pq, "ParquetWriter", SlowWriter)
    odd = [*pieces[:8], pieces[8].assign(x=[1, 2])]  # int x: refused whichever thread converts it
    with pytest.raises(ValueError, match="differ"):
        write_table(iter(odd), tmp_path / "odd.parquet")
    assert not (tmp_path / "odd.parquet").exists()


def test_only_repetitive_columns_are_dictionary_encoded(tmp_path):
    rng = np.random.default_rng(0)
    piece = pd.DataFrame(
        {"customer_id": np.arange(1000), "count": rng.integers(0, 5, 1000) * 1.0}
    ).assign(age=rng.random(1000))
    out = write_table(
        [piece, piece.assign(customer_id=piece.customer_id + 1000)], tmp_path / "t.parquet"
    )
    meta = pq.ParquetFile(out).metadata.row_group(0)
    encodings = {meta.column(j).path_in_schema: meta.column(j).encodings for j in range(3)}
    assert "RLE_DICTIONARY" in encodings["count"]
    assert "RLE_DICTIONARY" not in encodings["age"]
    assert "RLE_DICTIONARY" not in encodings["customer_id"]
    assert pd.read_parquet(out)["age"].tolist() == piece["age"].tolist() * 2


def test_empty_pieces_are_skipped_and_object_ids_keep_their_type(tmp_path):
    frames = [
        pd.DataFrame({"customer_id": pd.Series([], dtype=object), "x": pd.Series([], dtype=float)}),
        pd.DataFrame({"customer_id": ["a", "b"], "x": [1.0, np.nan]}),
        pd.DataFrame({"customer_id": pd.Series([], dtype=object), "x": pd.Series([], dtype=float)}),
        pd.DataFrame({"customer_id": ["c"], "x": [3.0]}),
    ]
    out = write_table(frames, tmp_path / "t.parquet")
    expected = write_table(pd.concat(frames[1::2], ignore_index=True), tmp_path / "e.parquet")
    assert pq.read_table(out).equals(pq.read_table(expected))
    only_empty = write_table(frames[:1], tmp_path / "empty.parquet")
    assert pq.read_table(only_empty).num_rows == 0


def test_pieces_that_differ_or_fail_leave_no_file(tmp_path):
    a = pd.DataFrame({"customer_id": [1], "x": [1.0]})
    with pytest.raises(ValueError, match="differ"):
        write_table([a, a.rename(columns={"x": "y"})], tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="No piece"):
        write_table([], tmp_path / "t.parquet")

    def failing():
        yield a
        raise RuntimeError("computing the second piece failed")

    with pytest.raises(RuntimeError, match="second piece"):
        write_table(failing(), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_pieces_never_replace_a_file_without_force(tmp_path):
    out = tmp_path / "t.parquet"
    out.write_bytes(b"mine")
    a = pd.DataFrame({"customer_id": [1], "x": [1.0]})
    with pytest.raises(cjml.exceptions.InputFileError, match="exists"):
        write_table([a, a], out)
    assert out.read_bytes() == b"mine"
    write_table([a, a], out, force=True)
    assert pq.read_table(out).num_rows == 2


# ------------------------------------------------------------------ the command
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_the_command_writes_what_the_python_api_returns(tmp_path, monkeypatch, capsys, suffix):
    monkeypatch.setattr(_featurizer, "_EVENTS_PER_PART", 4_000)  # several parts
    monkeypatch.setattr(_write, "_ROW_GROUP_ROWS", 200)  # several row groups
    out = tmp_path / f"features{suffix}"
    code = main(["features", str(sample_path("events")), "--cutoff", CUTOFF, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    expected = cjml.JourneyFeaturizer().fit_transform(sample_path("events"), cutoff=CUTOFF)
    assert f"{len(expected):,} customers x {expected.shape[1]} columns" in printed
    reference = write_table(expected.reset_index(), tmp_path / f"reference{suffix}")
    if suffix == ".csv":
        assert out.read_bytes() == reference.read_bytes()
    else:
        assert pq.ParquetFile(out).metadata.num_row_groups > 1
        assert pq.read_table(out).equals(pq.read_table(reference))
        got = pd.read_parquet(out).set_index("customer_id")
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_the_process_ends_at_once_with_its_output_flushed_and_its_code(tmp_path):
    out = tmp_path / "f.parquet"
    ok = subprocess.run(
        [sys.executable, "-m", "cjml", "features", str(sample_path("events")), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    first, attributes = ok.stdout.splitlines()
    assert first.startswith("Wrote features of ") and first.endswith(" s)")
    assert (
        ok.stdout.endswith("\n") and attributes == "Customer attributes used as features: segment."
    )
    expected = cjml.JourneyFeaturizer().fit_transform(sample_path("events"))
    assert pq.read_table(out).num_rows == len(expected) > 0
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "cjml",
            "features",
            str(sample_path("events")),
            "--cutoff",
            "someday",
            "--out",
            str(tmp_path / "x.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "someday" in bad.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_command_builds_only_its_own_parser_with_the_same_help(capsys, monkeypatch):
    from cjml.cli import _main
    from tests.cli_snapshots import commands

    monkeypatch.setenv("COLUMNS", "100")
    full = commands(_main.build_parser())
    assert list(full) == list(_main.COMMANDS)
    for name in _main.COMMANDS:
        alone = commands(_main.build_parser(name))
        assert list(alone) == [name]
        assert alone[name].format_help() == full[name].format_help()
    assert _main._command_in(["--debug", "score", "m.cjml"]) == "score"
    assert _main._command_in(["--version"]) is None
    assert _main._command_in(["nosuch", "features"]) is None
    with pytest.raises(SystemExit) as exc:
        main(["nosuch"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nosuch'" in err and "'journey-map'" in err


# ------------------------------------------------------------------ scikit-learn
def test_the_featurizer_is_still_a_scikit_learn_transformer(log):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.utils import get_tags

    featurizer = cjml.JourneyFeaturizer(windows=(14, 60), families=["activity", "value"])
    copy = clone(featurizer)
    assert copy is not featurizer and copy.get_params() == featurizer.get_params()
    assert repr(copy) == "JourneyFeaturizer(families=['activity', 'value'], windows=(14, 60))"
    pipe = make_pipeline(featurizer, FunctionTransformer(lambda X: X * 2))
    pipe.set_params(journeyfeaturizer__windows=(7,))
    out = pipe.fit_transform(log)
    assert "events_last_7d" in out.columns and "events_last_14d" not in out.columns
    direct = cjml.JourneyFeaturizer(windows=(7,), families=["activity", "value"]).fit(log)
    pd.testing.assert_frame_equal(out, direct.transform(log) * 2)
    assert get_tags(featurizer).transformer_tags is not None
    assert not get_tags(featurizer).target_tags.required
    with pytest.raises(ValueError, match="Invalid parameter 'window'"):
        featurizer.set_params(window=3)


def test_nested_params_of_a_family_instance(log):
    from sklearn.base import clone

    family = cjml.features.ActivityFeatures(windows=(3,))
    featurizer = cjml.JourneyFeaturizer(families=[family])
    assert featurizer.get_params()["families"] == [family]
    fitted = clone(featurizer).fit(log)
    assert list(fitted.get_feature_names_out()).count("events_last_3d") == 1
    assert family.get_params() == {"windows": (3,)}
    family.set_params(windows=(5,))
    assert family.windows == (5,)


def test_unfitted_and_unsupported_outputs_say_so(log):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="JourneyFeaturizer instance is not fitted"):
        cjml.JourneyFeaturizer().transform(log)
    with pytest.raises(NotFittedError):
        list(cjml.JourneyFeaturizer().transform_parts(log))
    with pytest.raises(ValueError, match="polars"):
        cjml.JourneyFeaturizer().set_output(transform="polars")


def test_a_bundle_state_saved_by_scikit_learn_still_loads(fitted, log):
    state = {**fitted.__getstate__(), "_sklearn_version": "1.5.0"}
    restored = object.__new__(cjml.JourneyFeaturizer)
    restored.__setstate__(state)
    assert "_sklearn_version" not in vars(restored)
    pd.testing.assert_frame_equal(
        restored.transform(log, cutoff=CUTOFF), fitted.transform(log, cutoff=CUTOFF)
    )


# ------------------------------------------------------------------ what is imported
HEAVY = ("sklearn", "scipy", "lightgbm", "matplotlib")


def imported_by(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = proc.stdout.split()
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})


def test_importing_the_features_imports_no_scikit_learn_or_scipy():
    assert imported_by("import cjml.features") == []
    # and the probe does see them when they are imported
    assert imported_by("import cjml.features, sklearn.base") == ["scipy", "sklearn"]


def test_cjml_features_runs_without_scikit_learn_or_scipy(tmp_path):
    out = tmp_path / "f.parquet"
    code = (
        "import sys\nfrom cjml.cli import main\n"
        f"assert main(['features', {str(sample_path('events'))!r}, '--out', {str(out)!r}]) == 0"
    )
    assert imported_by(code) == []
    assert pq.read_table(out).num_rows > 0
    help_code = (
        "from cjml.cli import main\n"
        "try:\n    main(['features', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert imported_by(help_code) == []


def test_the_opt_in_btyd_family_still_fits_with_scipy(log):
    featurizer = cjml.JourneyFeaturizer(families=["btyd"]).fit(log, cutoff=CUTOFF)
    out = featurizer.transform(log, cutoff=CUTOFF)
    assert out["btyd_p_alive"].between(0, 1).any()


def test_a_small_simulated_log_in_parts(tmp_path):
    events = make_journeys(300, random_state=3).events
    log = cjml.read_events(events)
    featurizer = cjml.JourneyFeaturizer().fit(log)
    whole = featurizer.transform(log)
    joined = pd.concat(featurizer.transform_parts(log, parts=6))
    assert np.array_equal(bits(joined), bits(whole))


# ------------------------------------------------------------------ memory of a batch command
MEMORY_PROBE = """
import ctypes, sys
import numpy as np
import numpy._core.multiarray as multiarray
from cjml.cli._main import tune_memory_for_batch

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    tune_memory_for_batch()
before = libc.mallinfo2().hblks
big = np.ones(8_000_000)  # 64 MB: glibc maps it on its own unless told otherwise
print(libc.mallinfo2().hblks - before, multiarray._get_madvise_hugepage())
"""


def _glibc_with_mallinfo2() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018  # glibc 2.33 or later
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="needs glibc 2.33+ (mallinfo2)")
def test_a_batch_command_serves_large_arrays_from_the_heap_without_huge_pages():
    def probe(mode: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, mode], capture_output=True, text=True, check=True
        ).stdout.split()

    assert probe("default") == ["1", "True"]  # its own mapping; numpy asks for huge pages
    assert probe("tuned") == ["0", "False"]


def test_only_batch_commands_tune_the_memory(monkeypatch):
    from cjml.cli import _main

    calls = []
    monkeypatch.setattr(
        _main, "tune_memory_for_batch", lambda **kw: calls.append(kw["arrow_on_heap"])
    )
    monkeypatch.setattr(_main, "main", lambda argv: 0)
    for argv, tuned in (
        (["app", "m.cjml"], []),
        (["features", "x"], [True]),
        (["score", "m.cjml", "x", "--out", "s.csv"], [False]),  # streams: Arrow keeps its pool
    ):
        calls.clear()
        monkeypatch.setattr(sys, "argv", ["cjml", *argv])
        monkeypatch.setattr(_main, "_QUICK_EXIT", frozenset())  # exit with SystemExit, not at once
        with pytest.raises(SystemExit):
            _main.run()
        assert calls == tuned, argv


ARROW_POOL_PROBE = """
import sys
if sys.argv[1] == "imported-first":
    import pyarrow
from cjml.cli._main import tune_memory_for_batch

tune_memory_for_batch(arrow_on_heap=sys.argv[1] != "streaming")
import pyarrow

print(pyarrow.default_memory_pool().backend_name)
"""


@pytest.mark.parametrize(
    ("mode", "user_choice", "expected"),
    [
        ("imported-later", None, "system"),
        ("imported-first", None, "system"),
        ("imported-later", "mimalloc", "mimalloc"),  # the user's choice is kept
        ("streaming", None, "default"),  # score: Arrow's own pool
    ],
)
def test_a_batch_command_puts_arrows_buffers_on_the_same_heap(mode, user_choice, expected):
    import pyarrow

    if user_choice is not None and user_choice not in pyarrow.supported_memory_backends():
        pytest.skip(f"this pyarrow has no {user_choice} pool")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if user_choice is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = user_choice
    out = subprocess.run(
        [sys.executable, "-c", ARROW_POOL_PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    if expected == "default":
        expected = pyarrow.default_memory_pool().backend_name  # this process's, untuned
        assert expected != "system" or "ARROW_DEFAULT_MEMORY_POOL" in os.environ
    assert out == [expected]


def test_a_later_piece_whose_object_column_changes_type_is_refused_as_differing(tmp_path):
    a = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype=object), "x": [1.0, 2.0]})
    b = pd.DataFrame({"customer_id": pd.Series([3, 4], dtype=object), "x": [3.0, 4.0]})
    with pytest.raises(ValueError, match="differ"):
        write_table([a, b], tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []
