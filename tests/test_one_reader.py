"""One reader (issue 21): any input gives the same accepted rows and the same rejects
through every command.

``validate``, ``features``, ``train``... read events with :func:`cjml.read_events`;
``score`` reads the same file in batches, in bounded memory, and can set bad rows
aside (``on_error="quarantine"``). Both go through :mod:`cjml.io`. These property
tests draw small CSV files mixing good rows with every kind of bad cell and check
that the two agree: both accept or both refuse, with the same first line; the
rows ``score`` quarantines are exactly those ``read_events`` refuses, rule after
rule; the customers left are the same.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
from cjml.cli import main
from cjml.exceptions import InputFileError, SchemaError
from cjml.scoring._options import DEFAULT_CHUNK_EVENTS
from tests._panel_bundle import sample_bundle_path

IDS = ["1", "2", "007", "c-9", " ", ""]
TIMES = [
    "2024-01-01 09:00",
    "2024-01-03 10:30",
    "2024-02-01 08:00",
    "2024-02-30 10:00",
    "not a date",
    "",
]
TOUCHPOINTS = [
    "paid_ad",
    "website_visit",
    "purchase",
    "support_ticket",
    "email",
    "live_chat",
    "",
    "brand_new_touchpoint",
]
STAGES = ["", "", "consideration", "retention", "no_such_stage"]
SCORES = ["", "", "3", "5", "9", "many"]

ROW = st.tuples(
    st.sampled_from(IDS),
    st.sampled_from(TIMES),
    st.sampled_from(TOUCHPOINTS),
    st.sampled_from(STAGES),
    st.sampled_from(SCORES),
)
GOOD_ROW = st.tuples(
    st.sampled_from(IDS[:4]),
    st.sampled_from(TIMES[:3]),
    st.sampled_from(TOUCHPOINTS[:6]),
    st.just(""),
    st.sampled_from(SCORES[:5]),
)
LOGS = (
    st.lists(ROW, min_size=1, max_size=12)
    .flatmap(lambda bad: st.lists(GOOD_ROW, min_size=2, max_size=12).map(lambda good: good + bad))
    .flatmap(st.permutations)
)


@pytest.fixture(scope="module")
def bundle():
    return cjml.ModelBundle.load(sample_bundle_path())


def write_log(folder: Path, rows: list[tuple[str, ...]], with_stage: bool) -> Path:
    """The rows as a CSV file, with the other columns the sample bundle was trained on
    (constant, valid), with or without the stage column."""
    header = ["customer_id", "timestamp", "touchpoint", "stage", "satisfaction"]
    keep = [0, 1, 2, 3, 4] if with_stage else [0, 1, 2, 4]
    constant = {"channel": "web", "nps": "", "effort": "", "amount": "12.5", "segment": "a"}
    lines = [",".join([*(header[i] for i in keep), *constant])]
    lines += [",".join([*(row[i] for i in keep), *constant.values()]) for row in rows]
    path = folder / "events.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def first_line(err: BaseException) -> str:
    return str(err).splitlines()[0]


def read_outcome(path: Path):
    """The customers read_events keeps, or the first line of its refusal."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log = cjml.read_events(path)
    except (SchemaError, InputFileError) as err:
        return "refused", first_line(err)
    return "read", sorted(str(c) for c in log.customer_ids)


def score_outcome(bundle, path: Path):
    """The customers score finds events for, or the first line of its refusal."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cjml.score(bundle, path, recommend=False, drivers=False, include_inactive=True)
    except (SchemaError, InputFileError) as err:
        return "refused", first_line(err)
    return "read", sorted(
        str(c) for c in scores.loc[scores["status"] != "no_events", "customer_id"]
    )


def read_events_rejects(path: Path) -> tuple[set[int], object]:
    """The rows read_events refuses, found as a user would: fix (drop) the rows an
    error names, read again, until the log reads or an error names no rows."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = np.arange(len(frame))
    rejected: set[int] = set()
    while len(rows):
        part = frame.iloc[rows].reset_index(drop=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                log = cjml.read_events(part.replace({"": None}))
        except SchemaError as err:
            if err.positions is None:
                return rejected, ("refused", first_line(err))
            rejected.update(int(r) for r in rows[err.positions])
            rows = np.delete(rows, err.positions)
            continue
        return rejected, ("read", sorted(str(c) for c in log.customer_ids))
    return rejected, ("read", [])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=LOGS, with_stage=st.booleans())
def test_read_events_and_score_accept_and_refuse_the_same_logs(
    tmp_path_factory, bundle, rows, with_stage
):
    path = write_log(tmp_path_factory.mktemp("log"), rows, with_stage)
    assert read_outcome(path) == score_outcome(bundle, path)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=LOGS, with_stage=st.booleans())
def test_score_quarantines_exactly_the_rows_read_events_refuses(
    tmp_path_factory, bundle, rows, with_stage
):
    folder = tmp_path_factory.mktemp("log")
    path = write_log(folder, rows, with_stage)
    expected_rows, expected = read_events_rejects(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cjml.score(
                bundle,
                path,
                on_error="quarantine",
                recommend=False,
                drivers=False,
                include_inactive=True,
            )
    except SchemaError as err:
        assert expected == ("refused", first_line(err))
        return
    assert expected[0] == "read"
    rejects = pd.DataFrame(scores.attrs["rejects"])
    assert {int(r) for r in rejects.get("row", [])} == expected_rows
    kept = sorted(str(c) for c in scores.loc[scores["status"] != "no_events", "customer_id"])
    assert kept == expected[1]


def quarantine_outcome(path: Path):
    """The rows read_events(on_error="quarantine") sets aside, with their reasons, and the
    customers kept; or the first line of its refusal."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log = cjml.read_events(path, on_error="quarantine")
    except (SchemaError, InputFileError) as err:
        return "refused", first_line(err)
    reasons = dict(zip(log.rejects["row"].astype(int), log.rejects["reason"], strict=True))
    return reasons, sorted(str(c) for c in log.customer_ids)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=LOGS, with_stage=st.booleans())
def test_read_events_quarantines_the_rows_and_reasons_score_quarantines(
    tmp_path_factory, bundle, rows, with_stage
):
    path = write_log(tmp_path_factory.mktemp("log"), rows, with_stage)
    expected_rows, expected = read_events_rejects(path)
    got = quarantine_outcome(path)
    if expected[0] == "refused":  # a fault of the whole table: refused either way
        assert got == expected
        return
    if not expected[1]:  # every row set aside: no log to return
        assert got[0] == "refused" and got[1].startswith("Every one of the")
        return
    reasons, kept = got
    assert set(reasons) == expected_rows
    assert kept == expected[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cjml.score(
            bundle, path, on_error="quarantine", recommend=False, include_inactive=True
        )
    rejects = pd.DataFrame(scores.attrs["rejects"])
    scored = dict(zip(rejects.get("row", []), rejects.get("reason", []), strict=True))
    assert set(scored) == set(reasons)
    # A row that breaks several rules is set aside for the first rule checked: score reads
    # the times first (it parses them as it partitions), read_events the ids and the rest.
    for row, reason in reasons.items():
        assert scored[row] == reason or scored[row].startswith("timestamp:")


def test_quarantine_keeps_the_rest_says_so_once_and_leaves_clean_logs_alone(tmp_path):
    rows = [
        ("1", "2024-01-01 09:00", "paid_ad", "", "3"),
        ("", "2024-01-02 09:00", "email", "", "4"),
        ("2", "not a date", "email", "", ""),
        ("2", "2024-01-03 10:30", "purchase", "", "9"),
        ("3", "2024-02-01 08:00", "purchase", "", "5"),
        ("3", "2024-02-01 08:00", "purchase", "", "5"),
    ]
    path = write_log(tmp_path, rows, with_stage=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = cjml.read_events(path, on_error="quarantine")
    assert log.n_events == 3 and sorted(log.customer_ids) == [1, 3]
    rejects = log.rejects
    assert rejects["row"].tolist() == [1, 2, 3]
    assert rejects["location"].tolist()[0] == "row 1 (events.csv line 3)"
    assert [r.split(":")[0] for r in rejects["reason"]] == [
        "customer_id",
        "timestamp",
        "satisfaction",
    ]
    assert rejects.loc[1, "timestamp"] == "not a date"  # the cell as written
    messages = [str(w.message) for w in caught]
    assert sum(m.startswith("Set aside 3 rows") for m in messages) == 1
    assert sum("duplicate" in m for m in messages) == 1  # the last reading's warnings, once
    # a clean log reads as it does without quarantine, with no rejects
    clean = write_log(tmp_path, rows[:1] + rows[4:5], with_stage=False)
    plain = cjml.read_events(clean)
    quarantined = cjml.read_events(clean, on_error="quarantine")
    assert quarantined.frame.equals(plain.frame) and quarantined.rejects.empty
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'quarantine'"):
        cjml.read_events(clean, on_error="skip")


def test_an_error_names_the_rows_of_the_input_given_though_blank_rows_were_left_out(tmp_path):
    rows = [
        ("1", "2024-01-01 09:00", "paid_ad", "", "3"),
        ("", "", "", "", ""),  # a spreadsheet's empty line: left out before the rules run
        ("1", "2024-01-02 09:00", "email", "", "9"),
    ]
    path = write_log(tmp_path, rows, with_stage=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SchemaError) as info:
            cjml.read_events(path)
        assert info.value.positions.tolist() == [2]
        assert cjml.read_events(path, on_error="quarantine").rejects["row"].tolist() == [2]


def test_every_command_that_reads_events_can_quarantine_and_write_the_rejects(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    rows = [("1", "2024-01-01 09:00", "paid_ad", "", "3"), ("", "2024-01-02", "email", "", "")]
    path = write_log(tmp_path, rows, with_stage=False)
    assert main(["validate", str(path)]) != 0  # refused by default
    capsys.readouterr()
    assert main(["validate", str(path), "--on-error", "quarantine"]) == 0
    out = capsys.readouterr()
    assert "Wrote the 1 row set aside to events.rejects.csv" in out.out
    written = pd.read_csv(tmp_path / "events.rejects.csv", dtype=str)
    assert written["row"].tolist() == ["1"] and written["column"].tolist() == ["customer_id"]
    # never overwritten: validate has no --force, so it names another way out
    assert main(["validate", str(path), "--on-error", "quarantine"]) != 0
    assert "already exists and was left untouched" in capsys.readouterr().err
    assert (
        main(
            [
                "features",
                str(path),
                "--on-error",
                "quarantine",
                "--out",
                str(tmp_path / "f.parquet"),
            ]
        )
        == 0
    )
    assert (tmp_path / "f.rejects.csv").exists()
    assert len(pd.read_parquet(tmp_path / "f.parquet")) == 1


def test_validate_on_the_command_line_says_what_read_events_says(tmp_path, capsys):
    path = write_log(
        tmp_path,
        [("1", "2024-01-01 09:00", "paid_ad", "", "3"), ("2", "soon", "email", "", "")],
        with_stage=False,
    )
    with pytest.raises(SchemaError) as info:
        cjml.read_events(path)
    assert main(["validate", str(path)]) != 0
    out = capsys.readouterr()
    assert first_line(info.value) in out.out + out.err


def test_build_with_rejects_sets_aside_rule_after_rule_and_keeps_the_rest():
    from cjml.io._messages import _row_error
    from cjml.io._rejects import build_with_rejects

    values = np.array([5, -1, 7, 99, -3, 8])

    def build(keep):
        seen = values[keep]
        for name, bad in (("negative", seen < 0), ("too big", seen > 50)):
            if bad.any():
                raise _row_error("bad rows", "amount", np.flatnonzero(bad), name)
        return seen.tolist()

    log, rejected = build_with_rejects(len(values), build, quarantine=True)
    assert log == [5, 7, 8]
    assert [(p.tolist(), c, why) for p, c, why in rejected] == [
        ([1, 4], "amount", "negative"),
        ([3], "amount", "too big"),
    ]
    with pytest.raises(SchemaError, match="bad rows"):
        build_with_rejects(len(values), build, quarantine=False)

    def refuse_all(keep):
        raise _row_error("all bad", "amount", np.arange(len(keep)), "unreadable")

    log, rejected = build_with_rejects(2, refuse_all, quarantine=True)
    assert log is None and [p.tolist() for p, _, _ in rejected] == [[0, 1]]

    def whole_column(keep):
        raise SchemaError("no amount column at all")  # names no rows: never quarantined

    with pytest.raises(SchemaError, match="no amount column"):
        build_with_rejects(3, whole_column, quarantine=True)


def said_by(call) -> tuple[Any, list[str]]:
    """``call()``'s result and the warnings it gave, as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught]


def read_and_score(bundle, tmp_path, ids, chunk_events) -> tuple[Path, Any, list, list]:
    """A log of these customer ids, read by read_events and scored (to a file, in chunks of
    ``chunk_events``; 3 makes several): the path, the log, and what each said."""
    rows = [(c, TIMES[i % 3], "website_visit", "", "") for i, c in enumerate(ids)]
    path = write_log(tmp_path, rows, with_stage=False)
    log, read_said = said_by(lambda: cjml.read_events(path))
    summary, score_said = said_by(
        lambda: cjml.score(
            bundle,
            path,
            out=tmp_path / "scores.parquet",
            recommend=False,
            include_inactive=True,
            chunk_events=chunk_events,
        )
    )
    assert (summary.n_chunks > 1) == (chunk_events == 3)
    return path, log, read_said, score_said


def spaced_warnings(said: list[str]) -> list[str]:
    return [m for m in said if "only by spaces" in m]


@pytest.mark.parametrize("chunk_events", [DEFAULT_CHUNK_EVENTS, 3])
def test_score_warns_like_read_events_about_ids_that_differ_only_by_spaces(
    bundle, tmp_path, chunk_events
):
    # ' 1' and '1' are two customers to both; with small chunks they land in different ones
    ids = ["1", " 1", "2", "2 ", "007", "c-9", "c-9", "1"]
    _, log, read_said, score_said = read_and_score(bundle, tmp_path, ids, chunk_events)
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    said = spaced_warnings(read_said)
    assert len(said) == 1 and "2 ids" in said[0] and "' 1' and '1'" in said[0]
    assert spaced_warnings(score_said) == said
    assert sorted(scores["customer_id"]) == sorted(str(c) for c in log.customer_ids)


def case_warnings(said: list[str]) -> list[str]:
    return [m for m in said if "only in letter case" in m]


@pytest.mark.parametrize("chunk_events", [DEFAULT_CHUNK_EVENTS, 3])
def test_ids_that_differ_only_in_letter_case_are_warned_alike_by_read_events_and_score(
    bundle, tmp_path, chunk_events
):
    # a CRM that stored some emails capitalised: two customers to both readers, said once
    ids = ["Anna@x.com", "anna@x.com", "bob@x.com", "CARL", "Carl", "carl", "Dora", "1"]
    _, log, read_said, score_said = read_and_score(bundle, tmp_path, ids, chunk_events)
    (said,) = case_warnings(read_said)
    assert "has 5 ids that differ from another only in letter case: " in said
    assert "'Anna@x.com' and 'anna@x.com'; 'CARL' and 'Carl' and 'carl'." in said
    assert "df['customer_id'] = df['customer_id'].str.lower()" in said
    assert case_warnings(score_said) == [said]
    assert {"Anna@x.com", "anna@x.com"} <= set(log.customer_ids)  # said, not merged
    # nothing to say when no id has a twin, or the ids are whole numbers
    for k, alone in enumerate((["Anna@x.com", "bob@x.com", "Dora"], ["1", "2", "3"])):
        folder = tmp_path / f"alone{k}"
        folder.mkdir()
        _, _, read_alone, score_alone = read_and_score(bundle, folder, alone, chunk_events)
        assert case_warnings(read_alone) == case_warnings(score_alone) == []


def placeholder_warnings(said: list[str]) -> list[str]:
    return [m for m in said if "for a missing id" in m]


@pytest.mark.parametrize("chunk_events", [DEFAULT_CHUNK_EVENTS, 3])
def test_ids_that_stand_for_a_missing_id_are_warned_alike_by_read_events_and_score(
    bundle, tmp_path, chunk_events
):
    ids = ["1", "NULL", "2", "N/A", "NULL", "c-9", "unknown", "1"]
    path, log, read_said, score_said = read_and_score(bundle, tmp_path, ids, chunk_events)
    (said,) = placeholder_warnings(read_said)
    assert "has 3 ids that exports write for a missing id: 'N/A', 'NULL', 'unknown'" in said
    assert "(missing_ids='N/A,NULL,unknown', --missing-ids N/A,NULL,unknown)" in said
    assert placeholder_warnings(score_said) == [said]
    assert "NULL" in set(log.customer_ids)  # said, not dropped: an id may be 'NULL'
    # the fix it gives: those rows are refused, or quarantined with their lines
    with pytest.raises(SchemaError, match="a customer id that means missing"):
        cjml.read_events(path, missing_ids="N/A,NULL,unknown")
    kept = cjml.read_events(path, missing_ids="N/A,NULL,unknown", on_error="quarantine")
    assert sorted(map(str, kept.customer_ids)) == ["1", "2", "c-9"] and len(kept.rejects) == 4
    # whole-number ids are never placeholders
    rows = [(c, TIMES[0], "website_visit", "", "") for c in ["1", "2"]]
    _, said_plain = said_by(lambda: cjml.read_events(write_log(tmp_path, rows, with_stage=False)))
    assert placeholder_warnings(said_plain) == []


def crowded_warnings(said: list[str]) -> list[str]:
    return [m for m in said if "far more events than any person" in m]


def _visits(ids: np.ndarray) -> pd.DataFrame:
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(ids)), "min")
    return pd.DataFrame({"customer_id": ids, "timestamp": times, "touchpoint": "website_visit"})


def test_an_id_holding_far_more_events_than_anyone_is_warned_with_its_share():
    people = np.repeat(np.arange(1, 301), 5)  # 300 customers of 5 events
    guest = np.full(12_000, "guest", dtype=object)
    _, said = said_by(lambda: cjml.read_events(_visits(np.r_[people.astype(str), guest])))
    (message,) = crowded_warnings(said)
    assert "has an id with far more events than any person makes: 'guest' (12,000 events, " in (
        message
    )
    assert "89% of the log); the median customer has 5." in message
    assert "df = df[df['customer_id'] != 'guest']" in message
    assert "missing_ids (--missing-ids)" in message
    # a number cannot be named missing: only the removal is offered
    _, said = said_by(lambda: cjml.read_events(_visits(np.r_[people, np.zeros(12_000, int)])))
    (message,) = crowded_warnings(said)
    assert "df[df['customer_id'] != 0]." in message and "missing_ids" not in message


@pytest.mark.parametrize("chunk_events", [DEFAULT_CHUNK_EVENTS, 2_000])
def test_score_warns_of_a_crowded_id_as_read_events_does(bundle, tmp_path, chunk_events):
    people = np.repeat(np.arange(1, 301), 5).astype(str)
    path = tmp_path / "crowded.csv"
    _visits(np.r_[people, np.full(12_000, "guest", dtype=object)]).assign(
        channel="web", satisfaction="", nps="", effort="", amount=12.5, segment="a"
    ).to_csv(path, index=False)
    _, read_said = said_by(lambda: cjml.read_events(path))
    _, score_said = said_by(
        lambda: cjml.score(bundle, path, recommend=False, drivers=False, chunk_events=chunk_events)
    )
    (said,) = crowded_warnings(read_said)
    assert crowded_warnings(score_said) == [said]
    assert "'guest' (12,000 events, 89% of the log); the median customer has 5." in said


def test_large_customers_among_large_ones_are_not_warned():
    # a B2B log: the largest account holds 12,000 events, but the median holds 600
    ids = np.r_[np.repeat(np.arange(40), 600), np.full(12_000, 99)]
    _, said = said_by(lambda: cjml.read_events(_visits(ids)))
    assert crowded_warnings(said) == []
    _, said = said_by(lambda: cjml.datasets.load_sample())
    assert crowded_warnings(said) == []


def test_score_says_nothing_of_spaces_when_no_id_has_a_twin(bundle, tmp_path):
    rows = [(c, TIMES[0], "website_visit", "", "") for c in [" 1", "2", "007 "]]
    path = write_log(tmp_path, rows, with_stage=False)
    _, said = said_by(lambda: cjml.score(bundle, path, recommend=False, include_inactive=True))
    assert spaced_warnings(said) == []
