"""JSON Lines event files (Segment, Mixpanel, Amplitude exports) read by the one reader.

A JSON Lines file is read as a CSV file is, every value as text, so the same rows are
accepted and refused, with the same rejects, through ``read_events`` and ``score``; nested
objects become dotted columns, and a key a line lacks is a missing value.
"""

from __future__ import annotations

import gzip
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
from cjml.cli import main
from cjml.exceptions import InputFileError
from cjml.io._json import json_batches, json_columns
from tests._frames import canonical_log
from tests._panel_bundle import sample_bundle_path
from tests.test_one_reader import LOGS, quarantine_outcome, read_outcome, write_log

#: The sample's columns moved where a Segment-like export keeps them.
NESTED = {
    "customer_id": "userId",
    "timestamp": "sentAt",
    "touchpoint": "event",
    "stage": "properties.stage",
    "channel": "context.channel",
    "satisfaction": "properties.survey.satisfaction",
    "nps": "properties.survey.nps",
    "effort": "properties.survey.effort",
    "amount": "properties.revenue",
}
#: Where each column of the sample is written (an extra column, the segment the sample
#: bundle uses, keeps its name: cjml reads it by name).
WRITTEN_AS = {**NESTED, "segment": "segment"}


@pytest.fixture(scope="module")
def bundle():
    return cjml.ModelBundle.load(sample_bundle_path())


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    from cjml.datasets import load_sample

    return load_sample()


def _nested(record: dict) -> dict:
    """One event as an export writes it: nested objects, absent keys for missing values,
    numbers as JSON numbers, the id a number or text."""
    out: dict = {}
    for canon, name in WRITTEN_AS.items():
        value = record[canon]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, pd.Timestamp):
            value = value.isoformat()
        elif isinstance(value, np.generic):
            value = value.item()
        where = out
        *parents, leaf = name.split(".")
        for parent in parents:
            where = where.setdefault(parent, {})
        where[leaf] = value
    return out


def write_jsonl(events: pd.DataFrame, path: Path, text_ids_every: int = 3) -> Path:
    """The events as JSON Lines, one in ``text_ids_every`` customers' ids written as text
    ("12") and the others as numbers (12), as mixed exports have them."""
    lines = []
    for record in events.to_dict("records"):
        obj = _nested(record)
        if obj["userId"] % text_ids_every == 0:
            obj["userId"] = str(obj["userId"])
        lines.append(json.dumps(obj))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def test_an_export_with_nested_properties_reads_as_the_flat_log(tmp_path, events):
    path = write_jsonl(events, tmp_path / "export.jsonl")
    got = cjml.read_events(path, columns=NESTED).frame
    expected = cjml.read_events(events).frame
    # ids written 12 and "12" are the same whole numbers, as in a CSV file
    assert got["customer_id"].dtype == expected["customer_id"].dtype
    pd.testing.assert_frame_equal(
        canonical_log(got), canonical_log(expected), check_categorical=False
    )


def test_a_compressed_export_and_a_folder_of_exports_read_the_same(tmp_path, events):
    expected = canonical_log(cjml.read_events(events).frame)
    packed = write_jsonl(events, tmp_path / "export.jsonl.gz")
    got = cjml.read_events(packed, columns=NESTED).frame
    pd.testing.assert_frame_equal(canonical_log(got), expected, check_categorical=False)
    # hourly files of one export: a file whose events have no survey lacks those keys
    folder = tmp_path / "hourly"
    folder.mkdir()
    surveyed = events["satisfaction"].notna() | events["nps"].notna() | events["effort"].notna()
    write_jsonl(events[surveyed], folder / "part-0.jsonl")
    write_jsonl(events[~surveyed], folder / "part-1.ndjson")
    assert "survey" not in (folder / "part-1.ndjson").read_text()
    got = cjml.read_events(folder, columns=NESTED).frame
    pd.testing.assert_frame_equal(canonical_log(got), expected, check_categorical=False)


def test_score_streams_an_export_as_it_scores_the_dataframe(tmp_path, events, bundle):
    distributed = pytest.importorskip("distributed")
    path = write_jsonl(events, tmp_path / "export.jsonl")
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    expected = cjml.score(bundle, events, **kwargs)
    got = cjml.score(bundle, path, columns=NESTED, chunk_events=5_000, **kwargs)
    pd.testing.assert_frame_equal(got, expected)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = cjml.score(
            bundle,
            path,
            columns=NESTED,
            engine="dask",
            scheduler=client,
            chunk_events=5_000,
            **kwargs,
        )
    pd.testing.assert_frame_equal(got, expected)


def test_values_of_every_json_type_become_the_columns_a_csv_would_give(tmp_path):
    lines = [
        {
            "id": "007",
            "at": "2024-01-01 09:00",
            "tp": "purchase",
            "paid": 12.5,
            "vip": True,
            "tags": ["a", "b"],
            "props": {},
        },
        {"id": 8, "at": 1704186000, "tp": "email", "paid": None, "vip": False, "extra": 1},
    ]
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))

    assert json_columns(path) == ["id", "at", "tp", "paid", "vip", "tags", "props", "extra"]
    (table,) = json_batches(path, None, 100)
    assert table.to_pydict() == {
        "id": ["007", "8"],
        "at": ["2024-01-01 09:00", "1704186000"],
        "tp": ["purchase", "email"],
        "paid": ["12.5", None],
        "vip": ["true", "false"],
        "tags": ['["a","b"]', None],
        "props": [None, None],
        "extra": [None, "1"],
    }
    (table,) = json_batches(path, ["tp", "missing_everywhere"], 100)
    assert table.to_pydict() == {"tp": ["purchase", "email"], "missing_everywhere": [None, None]}


def _jsonl_like(csv_path: Path) -> Path:
    """The CSV file written as JSON Lines: every cell a JSON string, an empty cell null,
    a number cell a JSON number (as an export writes it)."""
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    out = csv_path.with_suffix(".jsonl")
    lines = []
    for record in frame.to_dict("records"):
        obj = {}
        for key, value in record.items():
            if value == "":
                obj[key] = None
                continue
            if key in ("satisfaction", "amount") and value.replace(".", "", 1).isdigit():
                obj[key] = float(value) if "." in value else int(value)
            else:
                obj[key] = value
        lines.append(json.dumps(obj))
    out.write_text("\n".join(lines) + "\n")
    return out


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=LOGS, with_stage=st.booleans())
def test_a_json_lines_file_is_accepted_refused_and_quarantined_as_its_csv(
    tmp_path_factory, bundle, rows, with_stage
):
    csv_path = write_log(tmp_path_factory.mktemp("log"), rows, with_stage)
    json_path = _jsonl_like(csv_path)
    from_csv = read_outcome(csv_path)
    from_json = read_outcome(json_path)
    if from_csv[0] == "read":
        assert from_json == from_csv
    else:  # the same message, but for the file's name and the lines (no header line)
        assert from_json[0] == "refused"
        assert from_json[1].split(":")[0] == from_csv[1].split(":")[0]
    csv_q, json_q = quarantine_outcome(csv_path), quarantine_outcome(json_path)
    if isinstance(csv_q[0], dict):
        assert json_q == csv_q  # the same rows set aside, for the same reasons
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log = cjml.read_events(json_path, on_error="quarantine")
        for row, location in zip(log.rejects["row"], log.rejects["location"], strict=True):
            assert location == f"row {row} (events.jsonl line {int(row) + 1})"
    else:
        assert json_q[0] == "refused"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scored = cjml.score(
                bundle, json_path, recommend=False, drivers=False, include_inactive=True
            )
        except (cjml.CjmlError, InputFileError):
            assert from_json[0] == "refused"
        else:
            assert from_json[0] == "read"
            kept = scored.loc[scored["status"] != "no_events", "customer_id"]
            assert sorted(str(c) for c in kept) == from_json[1]


def test_a_blank_line_is_left_out_with_its_line_named(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"customer_id": 1, "timestamp": "2024-01-01 09:00", "touchpoint": "email"}\n'
        "\n"
        '{"customer_id": 2, "timestamp": "2024-01-02 09:00", "touchpoint": "purchase"}\n'
    )
    with pytest.warns(UserWarning, match=r"row 1 \(e.jsonl line 2\)\): not events, but empty"):
        log = cjml.read_events(path)
    assert list(log.customer_ids) == [1, 2]


def test_a_bad_cell_is_named_by_its_line(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"customer_id": 1, "timestamp": "2024-01-01 09:00", "touchpoint": "email"}\n'
        '{"customer_id": 2, "timestamp": "last tuesday", "touchpoint": "purchase"}\n'
    )
    with pytest.raises(cjml.CjmlError, match=r"row 1 \(e.jsonl line 2\): timestamp='last tuesday'"):
        cjml.read_events(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"customer_id": 1, "timestamp": "2024-01-01", "touchpoint": "email"}\n'
            '{"customer_id": 2, "timestamp": "2024-01-02", "touchp',
            r"line 2 is not JSON \(Unterminated string.*Fix: correct or remove that line",
        ),
        (
            '[{"customer_id": 1, "timestamp": "2024-01-01", "touchpoint": "email"}]\n',
            r"it holds one JSON array, not one event per line .*jq -c '\.\[\]'",
        ),
        (
            '{\n  "customer_id": 1,\n  "timestamp": "2024-01-01",\n  "touchpoint": "email"\n}\n',
            r"line 1 is not a whole JSON object .* one event per line",
        ),
        (
            '{"customer_id": 1, "timestamp": "2024-01-01", "touchpoint": "email"}\n42\n',
            r"line 2 is a number, not an object: '42'",
        ),
        ("", r"it holds no JSON object with a key"),
        (
            '{"customer_id": 1, "timestamp": "2024-01-01", "touchpoint": "email"}\n'
            '{"a.b": 1, "a": {"b": 2}, "customer_id": 1}\n',
            r"on line 2 two keys give the same column 'a\.b' .* Fix: rename one of them",
        ),
        (
            '{"customer_id": 1, "timestamp": "2024-01-01", "touchpoint": "email", '
            '"p": {"x": 1, "x": 2}}\n',
            r"on line 1 an object has the key 'x' twice, so one of its values would be lost",
        ),
        (
            "customer_id,timestamp,touchpoint\n1,2024-01-01,email\n",
            r"line 1 is not JSON: it reads as CSV text .* Fix: name it \.csv",
        ),
        ("\n{}\n", r"it holds no JSON object with a key"),
    ],
)
def test_a_file_that_is_not_json_lines_is_refused_with_the_line_and_the_fix(
    tmp_path, text, message
):
    path = tmp_path / "e.jsonl"
    path.write_text(text)
    with pytest.raises(InputFileError, match=message):
        cjml.read_events(path)
    if text:  # score reads the keys first: the same refusal
        with pytest.raises(InputFileError, match=message):
            cjml.score(cjml.ModelBundle.load(sample_bundle_path()), path)


def test_a_json_lines_file_not_in_utf8_says_which_line_and_how(tmp_path):
    path = tmp_path / "e.jsonl"
    line = (
        '{"customer_id": 1, "timestamp": "2024-01-01", "touchpoint": "visité", "stage": "loyalty"}'
    )
    path.write_bytes((line + "\n").encode("cp1252"))
    with pytest.raises(InputFileError, match=r"not UTF-8 text \(byte 0xe9 on line 1\)"):
        cjml.read_events(path)
    with pytest.warns(UserWarning, match="not in journey map 'default': 'visité'"):
        log = cjml.read_events(path, encoding="cp1252")
    assert list(log.frame["touchpoint"]) == ["visité"]


def test_a_folder_mixing_formats_names_them(tmp_path, events):
    write_jsonl(events.head(5), tmp_path / "a.jsonl")
    events.head(5).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputFileError, match=r"holds CSV files \('b.csv', \.\.\.\) and JSON Lines"):
        cjml.read_events(tmp_path)


def test_validate_and_score_on_the_command_line_read_an_export(tmp_path, events, capsys):
    path = write_jsonl(events, tmp_path / "export.jsonl")
    columns = ",".join(f"{k}={v}" for k, v in NESTED.items())
    assert main(["validate", str(path), "--columns", columns]) == 0
    said = capsys.readouterr().out
    assert f"Event log: {len(events):,} events" in said
    out = tmp_path / "scores.csv"
    command = ["score", str(sample_bundle_path()), str(path), "--columns", columns]
    assert main([*command, "--out", str(out), "--no-recommend", "--include-inactive"]) == 0
    scores = cjml.io._files.read_written_table(out)
    assert len(scores) == events["customer_id"].nunique()


def test_a_column_misnamed_in_the_mapping_points_to_the_nested_key(tmp_path, events):
    path = write_jsonl(events.head(50), tmp_path / "export.jsonl")
    with pytest.raises(cjml.CjmlError, match=r"Did you mean 'properties.revenue'\?"):
        cjml.read_events(path, columns={**NESTED, "amount": "revenue"})


def test_a_frame_with_nested_objects_says_how_to_flatten_them(tmp_path, events):
    path = write_jsonl(events.head(50), tmp_path / "export.jsonl")
    frame = pd.read_json(path, lines=True)  # "properties" holds dicts
    with pytest.raises(cjml.CjmlError) as info:
        cjml.read_events(frame, columns=NESTED)
    said = str(info.value)
    assert "if 'properties' holds nested objects (JSON read by pandas)" in said
    assert "pd.json_normalize(records) names the key 'properties.stage'" in said


def test_validate_converts_an_export_once_into_a_log_every_command_reads(tmp_path, events, capsys):
    path = write_jsonl(events, tmp_path / "export.jsonl")
    columns = ",".join(f"{k}={v}" for k, v in NESTED.items())
    clean = tmp_path / "events.parquet"
    assert main(["validate", str(path), "--columns", columns, "--out", str(clean)]) == 0
    assert f"Wrote the checked log ({len(events):,} events) to {clean}" in capsys.readouterr().out
    expected = cjml.read_events(path, columns=NESTED).frame
    pd.testing.assert_frame_equal(cjml.read_events(clean).frame, expected)
    # never over an input, and an existing file only with --force
    assert main(["validate", str(clean), "--out", str(clean), "--force"]) == 1
    assert "never writes over its inputs" in capsys.readouterr().err
    assert main(["validate", str(path), "--columns", columns, "--out", str(clean)]) == 1
    assert "already exists and was left untouched" in capsys.readouterr().err


def test_a_folder_of_events_skips_the_json_documents_beside_them(tmp_path, events):
    folder = tmp_path / "data"
    folder.mkdir()
    events.to_csv(folder / "events.csv", index=False)
    # what a user keeps beside the events, and cjml writes: none of them is events
    (folder / "model.cjml.manifest.json").write_text('{"format": 2}')
    (folder / "actions.campaign.json").write_text('{"campaign_id": "c1"}')
    (folder / "map.json").write_text('{"stages": ["a"]}')
    (folder / "decisions.jsonl").write_text('{"customer_id": 1, "decision": "approve"}\n')
    got = cjml.read_events(folder).frame
    pd.testing.assert_frame_equal(
        canonical_log(got), canonical_log(cjml.read_events(events).frame), check_categorical=False
    )
    # Amplitude's hourly .json.gz files are events; plain .json only by their own path
    hourly = tmp_path / "hourly"
    hourly.mkdir()
    write_jsonl(events, hourly / "123_2024-01-01_0#0.json.gz")
    assert cjml.read_events(hourly, columns=NESTED).n_events == len(events)
    alone = tmp_path / "alone"
    alone.mkdir()
    write_jsonl(events.head(20), alone / "events.json")
    few = {k: NESTED[k] for k in ("customer_id", "timestamp", "touchpoint", "stage")}
    with pytest.raises(InputFileError, match=r"a plain \.json file is taken for a document"):
        cjml.read_events(alone, columns=few)
    assert cjml.read_events(alone / "events.json", columns=few).n_events == 20
