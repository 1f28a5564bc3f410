"""What cjml writes: never over an input, one formula-safe CSV writer, umask modes, clear
messages when writing fails (issue 18)."""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
import cjml.scoring._local
import cjml.scoring._run
from cjml.cli import main
from cjml.datasets import load_sample
from cjml.exceptions import InputFileError
from cjml.io._write import (
    FORMULA_PREFIXES,
    CsvStream,
    WriteError,
    check_output,
    escape_formula,
    refuse_output_over_inputs,
    write_csv,
    write_table,
)
from tests._panel_bundle import sample_bundle_path
from tests.test_scoring import _interrupt_after, _Interrupted

BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def events():
    return load_sample()


@pytest.fixture(scope="module")
def bundle_path():
    return sample_bundle_path()


def _copy_bundle(source: Path, folder: Path) -> Path:
    target = folder / "model.cjml"
    for suffix in ("", ".manifest.json"):
        target.with_name(target.name + suffix).write_bytes(
            source.with_name(source.name + suffix).read_bytes()
        )
    return target


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _unescape(value):
    """The inverse of escape_formula, for round-trip checks."""
    if isinstance(value, str) and value.startswith("'") and escape_formula(value[1:]) != value[1:]:
        return value[1:]
    return value


# =========================================================================== never over inputs
def test_refuse_output_over_inputs_sees_through_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,touchpoint\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(events)
    os.link(events, tmp_path / "hard.csv")
    folder = tmp_path / "logs"
    (folder / "2024").mkdir(parents=True)
    inputs = {"events file": "events.csv", "journey map": None, "rules file": {"budget": 1}}
    for out in (
        "events.csv",
        str(events),
        "sub/../events.csv",
        "./events.csv",
        "link.csv",
        "hard.csv",
    ):
        with pytest.raises(
            InputFileError,
            match=r"Refusing to write .* it is the events file "
            r"'events.csv' given as input.*even with --force",
        ):
            refuse_output_over_inputs(out, inputs)
    for out in ("logs/scores.csv", "logs/2024/x.csv", "logs"):
        with pytest.raises(InputFileError, match=r"inside the events folder 'logs'"):
            refuse_output_over_inputs(out, {"events file": "logs"})
    refuse_output_over_inputs("scores.csv", inputs)  # another file is fine
    refuse_output_over_inputs("logs2/x.csv", {"events file": "logs"})
    refuse_output_over_inputs("events.csv", None)


def test_check_output_refuses_an_existing_folder_and_existing_files(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(
        InputFileError,
        match=r"'.*out\.csv': it is an existing folder.*name a "
        r"file",
    ):
        check_output(tmp_path / "out.csv", force=True)
    (tmp_path / "old.csv").write_text("x")
    with pytest.raises(InputFileError, match="already exists and was left untouched.*--force"):
        check_output(tmp_path / "old.csv")
    assert check_output(tmp_path / "old.csv", force=True) == tmp_path / "old.csv"
    with pytest.raises(InputFileError, match=r"must end in \.csv"):
        check_output(tmp_path / "x.txt", suffixes=(".csv",))


@pytest.mark.parametrize(
    "argv, victim",
    [
        (["score", "{model}", "{events}", "--out", "{events}", "--force"], "events.csv"),
        (
            ["score", "{model}", "{events}", "--out", "{tmp}/sub/../events.csv", "--force"],
            "events.csv",
        ),
        (
            [
                "score",
                "{model}",
                "{events}",
                "--out",
                "{tmp}/list.csv",
                "--customers",
                "{tmp}/list.csv",
                "--force",
            ],
            "list.csv",
        ),
        (
            [
                "score",
                "{model}",
                "{events}",
                "--out",
                "{tmp}/list.csv",
                "--on-error",
                "quarantine",
                "--customers",
                "{tmp}/list.rejects.csv",
                "--force",
            ],
            "list.rejects.csv",
        ),
        (["recommend", "{model}", "{events}", "--out", "{tmp}/hard.csv", "--force"], "events.csv"),
        (
            [
                "recommend",
                "{model}",
                "{events}",
                "--out",
                "{tmp}/list.csv",
                "--customers",
                "{tmp}/list.csv",
                "--force",
            ],
            "list.csv",
        ),
        (["features", "{events}", "--out", "{tmp}/link.csv", "--force"], "events.csv"),
        (["journey-map", "{events}", "--out", "{events}", "--force"], "events.csv"),
        (["train", "{events}", "--out", "{events}", "--force"], "events.csv"),
        (
            [
                "train",
                "{events}",
                "--out",
                "{tmp}/model.cjml",
                "--map",
                "{tmp}/model.cjml",
                "--force",
            ],
            "model.cjml",
        ),
    ],
)
def test_no_command_writes_over_its_inputs_even_with_force(tmp_path, capsys, argv, victim):
    (tmp_path / "sub").mkdir()
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,touchpoint\nc1,2024-01-01,email\n")
    (tmp_path / "link.csv").symlink_to(events)
    os.link(events, tmp_path / "hard.csv")
    (tmp_path / "list.csv").write_text("customer_id\nc1\n")
    (tmp_path / "list.rejects.csv").write_text("customer_id\nc1\n")
    (tmp_path / "model.cjml").write_bytes(b"not loaded: refused before any work")
    fields = {"tmp": tmp_path, "events": events, "model": tmp_path / "model.cjml"}
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code, _, err = run(capsys, *[a.format(**fields) for a in argv])
    assert code == 1
    assert "Refusing to write" in err and victim in err and "even with --force" in err
    assert len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert not any(p.name.endswith(".cjml-run") for p in tmp_path.iterdir())


def test_score_api_refuses_its_inputs_and_an_input_folder(tmp_path, bundle_path, events):
    bundle = _copy_bundle(bundle_path, tmp_path)
    folder = tmp_path / "events"
    folder.mkdir()
    events.to_parquet(folder / "part-0.parquet", index=False)
    with pytest.raises(InputFileError, match=r"inside the events folder"):
        cjml.score(bundle, folder, out=folder / "scores.parquet", force=True)
    named_csv = tmp_path / "model.csv"  # a bundle may have any name
    for suffix in ("", ".manifest.json"):
        (tmp_path / f"model.csv{suffix}").write_bytes(
            (tmp_path / f"model.cjml{suffix}").read_bytes()
        )
    with pytest.raises(InputFileError, match=r"it is the bundle .*model\.csv"):
        cjml.score(named_csv, folder, out=named_csv, force=True)
    with pytest.raises(InputFileError, match=r"it is the rules file"):
        rules = tmp_path / "rules.csv"
        rules.write_text("budget = 1.0\n")
        cjml.score(bundle, folder, out=rules, rules=rules, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "events",
            "model.cjml",
            "model.cjml.manifest.json",
            "model.csv",
            "model.csv.manifest.json",
            "rules.csv",
        ]
    )


def test_an_existing_folder_as_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    (tmp_path / "scores.csv").mkdir()
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,touchpoint\nc1,2024-01-01,email\n")
    (tmp_path / "model.cjml").write_bytes(b"never loaded")

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    monkeypatch.setattr(cjml.ModelBundle, "load", no_work)
    monkeypatch.setattr(cjml, "read_events", no_work)
    for argv in (
        ["score", tmp_path / "model.cjml", events, "--out", tmp_path / "scores.csv"],
        ["score", tmp_path / "model.cjml", events, "--out", tmp_path / "scores.csv", "--force"],
        ["recommend", tmp_path / "model.cjml", events, "--out", tmp_path / "scores.csv", "--force"],
        ["features", events, "--out", tmp_path / "scores.csv", "--force"],
        ["journey-map", events, "--out", tmp_path / "scores.csv", "--force"],
        ["generate", "--customers", "5", "--out", tmp_path / "scores.csv", "--force"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 1, argv
        assert "it is an existing folder" in err and "scores.csv" in err, err
        assert "Errno" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "model.cjml", "scores.csv"]


def test_demo_does_not_replace_earlier_outputs_without_force(tmp_path, capsys, monkeypatch):
    workdir = tmp_path / "demo"
    workdir.mkdir()
    (workdir / "actions.csv").write_text("mine")
    (workdir / "scores.parquet").write_text("mine too")

    def no_work(*args, **kwargs):
        raise AssertionError("the demo started before checking its outputs")

    monkeypatch.setattr(cjml.datasets, "make_journeys", no_work)
    code, out, err = run(capsys, "demo", "--workdir", workdir)
    assert code == 1
    assert "scores.parquet, actions.csv" in err and "--force" in err and "--workdir" in err
    assert (workdir / "actions.csv").read_text() == "mine"
    assert sorted(p.name for p in workdir.iterdir()) == ["actions.csv", "scores.parquet"]
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, "demo", "--workdir", tmp_path / "file")
    assert code == 1 and "it is a file" in err


def test_panel_export_refuses_the_panel_inputs(tmp_path):
    from cjml.panel import ActionBook

    book = ActionBook(user="lan")
    book.approve(
        pd.DataFrame(
            {
                "customer_id": [1],
                "churn_risk": [0.6],
                "recommended_touchpoint": ["email"],
                "expected_risk_reduction": [0.04],
            }
        )
    )
    scores = tmp_path / "scores.csv"
    scores.write_text("customer_id\n1\n")
    with pytest.raises(InputFileError, match=r"it is the scores .*scores\.csv"):
        book.export_csv(scores, force=True, inputs={"scores": str(scores)})
    assert scores.read_text() == "customer_id\n1\n"
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InputFileError, match="existing folder"):
        book.export_csv(tmp_path / "out.csv", force=True)


def test_panel_data_remembers_its_input_files(tmp_path, bundle_path, events):
    from cjml.panel import PanelData

    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    data = PanelData.from_inputs(bundle_path, path, report=None)
    assert data.inputs["events"] == path and data.inputs["bundle"] == bundle_path
    data.actions.approve(data.table.head(3))
    with pytest.raises(InputFileError, match=r"it is the events .*events\.csv"):
        data.actions.export_csv(path, force=True, inputs=data.inputs)
    written = data.actions.export_csv(tmp_path / "approved.csv", inputs=data.inputs)
    assert written.read_bytes().startswith(BOM)


# =========================================================================== the CSV writer
def _rows(raw: bytes) -> list[list[str]]:
    assert raw.startswith(BOM)
    return list(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8"), newline="")))


risky_text = st.builds(
    lambda spaces, first, rest: spaces + first + rest,
    st.sampled_from(["", " ", "   ", "\u3000"]),
    st.sampled_from(FORMULA_PREFIXES),
    st.text(max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(st.one_of(risky_text, st.text(max_size=12)), min_size=1, max_size=8),
    numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=8, max_size=8),
)
def test_every_risky_text_cell_is_escaped_and_numbers_are_unchanged(
    tmp_path_factory, cells, numbers
):
    path = tmp_path_factory.mktemp("csv") / "out.csv"
    frame = pd.DataFrame({"text": cells, "number": numbers[: len(cells)]})
    write_csv(frame, path)
    rows = _rows(path.read_bytes())
    assert rows[0] == ["text", "number"]
    for cell, number, row in zip(cells, numbers, rows[1:], strict=False):
        written = row[0]
        if cell.lstrip(" \u00a0\u3000")[:1] in FORMULA_PREFIXES and cell.lstrip(" \u00a0\u3000"):
            assert written == "'" + cell
        else:
            assert written == cell
        assert float(row[1]) == number  # negative numbers too: never escaped


def test_the_writer_streams_frames_and_arrow_tables_to_the_same_file(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["=1+1", "c2", "-3", "\uff20x"],
            "risk": [-0.5, 0.25, np.nan, 1.0],
            "band": pd.Categorical(["+high", "low", None, "low"]),
            "uncertain": [True, False, None, True],
        }
    )
    whole = write_csv(frame, tmp_path / "whole.csv")
    pieces = write_csv(
        iter([frame.iloc[:1], frame.iloc[1:3], frame.iloc[3:]]), tmp_path / "pieces.csv"
    )
    arrow = write_csv(
        iter(
            [
                pa.Table.from_pandas(frame.iloc[:2], preserve_index=False),
                pa.Table.from_pandas(frame.iloc[2:], preserve_index=False),
            ]
        ),
        tmp_path / "arrow.csv",
    )
    assert whole.read_bytes() == pieces.read_bytes() == arrow.read_bytes()
    rows = _rows(whole.read_bytes())
    assert [r[0] for r in rows[1:]] == ["'=1+1", "c2", "'-3", "'\uff20x"]
    assert [r[1] for r in rows[1:]] == ["-0.5", "0.25", "", "1"]
    assert [r[2] for r in rows[1:]] == ["'+high", "low", "", "low"]
    assert b"\r\n" in whole.read_bytes()
    empty = write_csv(iter([]), tmp_path / "empty.csv", columns=["customer_id", "=risk"])
    assert empty.read_bytes() == BOM + b"customer_id,'=risk\r\n"


def test_the_writer_is_atomic_and_names_the_file_when_the_disk_is_full(tmp_path, monkeypatch):
    path = tmp_path / "actions.csv"
    write_csv(pd.DataFrame({"a": ["old"]}), path)
    before = path.read_bytes()

    def full(self, table):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(CsvStream, "write", full)
    with pytest.raises(
        WriteError,
        match=r"No space left on the disk while writing "
        r"'.*actions\.csv'",
    ) as caught:
        write_csv(pd.DataFrame({"a": ["new"]}), path, force=True)
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["actions.csv"]  # no temporary file left


def test_the_writer_gets_a_new_file_in_a_private_folder_and_nothing_is_left(tmp_path):
    """write_atomic hands the writer a path where no file exists yet (overwriting an empty
    temporary file makes ext4 flush the whole file on close), in a folder only the user
    can enter, beside the output; after success or an interruption only the output's old
    or new file is left."""
    from cjml.io._write import write_atomic

    seen = {}

    def write(tmp):
        seen["exists"] = os.path.exists(tmp)
        folder = Path(tmp).parent
        seen["folder"], seen["mode"] = folder, stat.S_IMODE(folder.stat().st_mode)
        Path(tmp).write_text("new", encoding="utf-8")

    out = write_atomic(tmp_path / "actions.csv", write)
    assert out.read_text(encoding="utf-8") == "new"
    assert not seen["exists"] and seen["mode"] == 0o700
    assert seen["folder"].parent == tmp_path and Path(seen["folder"]).name.endswith(".tmp")
    assert [p.name for p in tmp_path.iterdir()] == ["actions.csv"]

    def interrupted(tmp):
        Path(tmp).write_text("half", encoding="utf-8")
        Path(f"{tmp}.narrow").write_text("aside", encoding="utf-8")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "actions.csv", interrupted, force=True)
    assert out.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["actions.csv"]


@pytest.mark.parametrize("mask", [0o077, 0o022])
def test_written_tables_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        paths = [
            write_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv"),
            write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.parquet"),
            write_table(pd.DataFrame({"a": [1]}), tmp_path / "b.csv"),
        ]
    finally:
        os.umask(old)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


# =========================================================================== commands' outputs
@pytest.fixture(scope="module")
def risky_events(tmp_path_factory, events):
    """The sample with a few customer ids and one touchpoint value that look like formulas."""
    folder = tmp_path_factory.mktemp("risky")
    frame = events.copy()
    frame["customer_id"] = frame["customer_id"].map(lambda c: f"c{c:05d}")
    ids = frame["customer_id"].unique()
    for risky, plain in zip(
        ["=1+1", "+cmd|' /C notepad'!A0", "@SUM(A1)", " -2", "\uff1dx"], ids[-5:], strict=True
    ):
        frame.loc[frame["customer_id"] == plain, "customer_id"] = risky
    path = folder / "events.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mask", [0o077, 0o022])
def test_score_recommend_features_and_journey_map_files(
    tmp_path, capsys, bundle_path, risky_events, mask
):
    bundle = _copy_bundle(bundle_path, tmp_path)
    outputs = {
        "scores.csv": ["score", bundle, risky_events, "--quiet"],
        "scores.parquet": ["score", bundle, risky_events, "--quiet"],
        "actions.csv": ["recommend", bundle, risky_events, "--all"],
        "features.csv": ["features", risky_events],
        "map.csv": ["journey-map", risky_events],
    }
    old = os.umask(mask)
    try:
        for name, argv in outputs.items():
            code, _, err = run(capsys, *argv, "--out", tmp_path / name)
            assert code == 0, err
    finally:
        os.umask(old)
    for name in outputs:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name
    for name in ("scores.csv", "actions.csv", "features.csv", "map.csv"):
        raw = (tmp_path / name).read_bytes()
        assert raw.startswith(BOM) and b"\r\n" in raw, name
    if mask != 0o077:
        return
    # the scores CSV read back (utf-8-sig) equals the Parquet scores, but for the escapes
    # round_trip: pandas 2's default parser misses the last bit of long decimals
    from_csv = pd.read_csv(
        tmp_path / "scores.csv", encoding="utf-8-sig", float_precision="round_trip"
    )
    from_parquet = pd.read_parquet(tmp_path / "scores.parquet")
    ids = from_csv["customer_id"].tolist()
    assert {"'=1+1", "'+cmd|' /C notepad'!A0", "'@SUM(A1)", "' -2", "'\uff1dx"} <= set(ids)
    assert [_unescape(i) for i in ids] == from_parquet["customer_id"].tolist()
    for column in ("churn_risk", "next_stage_proba", "expected_risk_reduction"):
        np.testing.assert_array_equal(
            from_csv[column].to_numpy(dtype=float), from_parquet[column].to_numpy(dtype=float)
        )
    for column in ("risk_band", "status", "next_stage"):
        assert (
            from_csv[column].astype(object).where(from_csv[column].notna(), None).tolist()
            == from_parquet[column]
            .astype(object)
            .where(from_parquet[column].notna(), None)
            .tolist()
        )
    actions = pd.read_csv(tmp_path / "actions.csv", encoding="utf-8-sig")
    assert "'=1+1" in set(actions["customer_id"])
    assert pd.api.types.is_float_dtype(actions["expected_risk_reduction"])


# =========================================================================== scoring runs
def test_disk_full_while_writing_the_output_keeps_the_chunks_for_resume(
    tmp_path, capsys, monkeypatch, bundle_path, events
):
    bundle = _copy_bundle(bundle_path, tmp_path)
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    argv = [
        "score",
        bundle,
        path,
        "--out",
        tmp_path / "scores.csv",
        "--chunk-events",
        "8000",
        "--no-recommend",
        "--quiet",
    ]

    def full(self, table):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(CsvStream, "write", full)
    code, _, err = run(capsys, *argv)
    monkeypatch.undo()
    assert code == 1
    assert "No space left on the disk while writing" in err and "scores.csv" in err
    assert "finished chunk(s)" in err and "are kept in" in err and "--resume" in err
    assert len(err.strip().splitlines()) == 1 and "Errno" not in err
    assert not (tmp_path / "scores.csv").exists()
    run_dir = tmp_path / ".scores.csv.cjml-run"
    assert run_dir.exists()
    assert not list(run_dir.glob("**/*.tmp"))  # no half-written file left in it either
    code, out, err = run(capsys, *argv, "--resume")
    assert code == 0, err
    assert not run_dir.exists()
    code, _, err = run(capsys, *argv[:4], tmp_path / "fresh.csv", *argv[5:])
    assert code == 0, err
    assert (tmp_path / "scores.csv").read_bytes() == (tmp_path / "fresh.csv").read_bytes()


def test_disk_full_while_writing_a_chunk(tmp_path, monkeypatch, bundle_path, events):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    real = cjml.scoring._run._write_atomic
    calls = []

    def full_on_second(table, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(table, target)

    monkeypatch.setattr(cjml.scoring._run, "_write_atomic", full_on_second)
    out = tmp_path / "scores.parquet"
    with pytest.raises(
        WriteError,
        match=r"No space left on the disk while writing "
        r"'.*part-\d+\.parquet'.*1 finished chunk.*--resume",
    ):
        cjml.score(bundle_path, path, out=out, chunk_events=8000, recommend=False, n_jobs=1)
    assert (tmp_path / ".scores.parquet.cjml-run").exists()
    # the first chunk failing: nothing to resume from, nothing left behind
    calls.clear()
    calls.append("pretend one was written")
    with pytest.raises(WriteError, match="No space left on the disk") as caught:
        cjml.score(
            bundle_path, path, out=out, chunk_events=8000, recommend=False, n_jobs=1, force=True
        )
    assert "--resume" not in str(caught.value)
    assert not (tmp_path / ".scores.parquet.cjml-run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.parquet"]


def test_a_failed_run_that_finished_no_chunk_leaves_no_run_folder(
    tmp_path, monkeypatch, bundle_path, events
):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug while scoring the first chunk")

    monkeypatch.setattr(cjml.scoring._local, "_score_partition", broken)
    with pytest.raises(RuntimeError):
        cjml.score(bundle_path, path, out=tmp_path / "scores.parquet", recommend=False, n_jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.parquet"]


def test_resume_refusal_names_only_what_changed(tmp_path, monkeypatch, bundle_path, events):
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    out = tmp_path / "scores.parquet"
    monkeypatch.setattr(cjml.scoring._run, "_after_chunk", _interrupt_after(1))
    with pytest.raises(_Interrupted):
        cjml.score(bundle_path, path, out=out, recommend=False, chunk_events=8000, n_jobs=1)
    monkeypatch.undo()
    os.utime(path, ns=(1, 1))  # the events changed (their modification time)
    with pytest.raises(cjml.BundleError) as caught:
        cjml.score(bundle_path, path, out=out, recommend=False, chunk_events=8000, resume=True)
    message = str(caught.value)
    assert "different input events" in message
    assert "options (" not in message and "bands" not in message  # unchanged: not listed
    with pytest.raises(cjml.BundleError) as caught:
        cjml.score(
            bundle_path, path, out=out, recommend=False, chunk_events=8000, top_k=2, resume=True
        )
    assert "top_k: 1 then, 2 now" in str(caught.value)
    assert "bands" not in str(caught.value)
