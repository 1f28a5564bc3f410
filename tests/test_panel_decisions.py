"""The marketer's decisions: the append-only decision log, its replay after a restart, the
rules of bulk approval, inactive customers, and the export that never replaces a file.

Small hand-made frames throughout; one test goes through PanelData with the sample bundle.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cjml.io._write import WriteError
from cjml.panel._data._actions import (
    ActionBook,
    BulkPlan,
    DecisionLog,
    DecisionLogWarning,
)
from cjml.panel._data._common import PanelError, pct, points, points_of, worth, worth_of

BOM = b"\xef\xbb\xbf"
WHEN = datetime(2026, 12, 2, 8, 5, tzinfo=UTC)


def _clock():
    return WHEN


def _rows() -> pd.DataFrame:
    """Six customers of the list: each one stands for one rule of bulk approval."""
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "churn_risk": [0.62, 0.55, 0.9, 0.7, 0.4, 0.8],
            "recommended_touchpoint": [
                "live_chat",
                "email",
                "consultation",  # 3: likely gone (reach 1%)
                "email",  # 4: uncertain
                None,  # 5: no recommendation
                "live_chat",  # 6: reach unknown (NaN): not likely gone
            ],
            "expected_risk_reduction": [
                0.025679834511422084,
                0.004,
                0.03,
                0.02,
                np.nan,
                0.011,
            ],
            "reach_probability": [0.8, 0.6, 0.01, 0.75, 0.9, np.nan],
            "uncertain": [False, False, False, True, None, False],
        }
    )


def _book(tmp_path, **kwargs) -> ActionBook:
    kwargs.setdefault("population", [1, 2, 3, 4, 5, 6])
    return ActionBook(
        user="lan", clock=_clock, log=DecisionLog(tmp_path / "decisions.jsonl"), **kwargs
    )


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ============================================================================ the log
def test_log_is_append_only_and_keeps_what_was_shown(tmp_path):
    book = _book(tmp_path)
    path = tmp_path / "decisions.jsonl"
    assert not path.exists()  # nothing is written before a decision
    book.approve(_rows().iloc[[0]], note="spring campaign", source="panel")
    first = path.read_bytes()
    book.override(
        2, "consultation", expected_risk_reduction=-0.039, baseline_risk=0.55, note="asked"
    )
    second = path.read_bytes()
    book.skip([6])
    book.reset([1])
    book.approve(_rows(), bulk=True)
    third = path.read_bytes()
    assert len(first) < len(second) < len(third)
    assert second.startswith(first) and third.startswith(second)  # earlier bytes never change

    records = _records(path)
    assert [(r["customer_id"], r["decision"]) for r in records] == [
        (1, "approved"),
        (2, "overridden"),
        (6, "skipped"),
        (1, "reset"),
        (1, "approved"),  # the bulk approval: 1 again (reset), not 2 (decided), 6 (skipped)
    ]
    approved, overridden = records[0], records[1]
    assert approved == {
        "customer_id": 1,
        "decision": "approved",
        "touchpoint": "live_chat",
        "override": False,
        "note": "spring campaign",
        "churn_risk": 0.62,
        "expected_risk_reduction": 0.025679834511422084,  # exact, as the model said
        "risk_after": 0.62 - 0.025679834511422084,
        "expected_value_saved": None,  # these scores have no value model
        "expected_value": None,
        "value_at_risk": None,
        "uncertain": False,
        "decided_by": "lan",
        "decided_at": "2026-12-02T08:05:00Z",
        "source": "panel",
        "bundle": None,
    }
    assert overridden["override"] is True and overridden["source"] == "api"
    assert overridden["risk_after"] == pytest.approx(0.589)  # the what-if raised the risk
    assert overridden["note"] == "asked"
    assert records[-1]["source"] == "bulk"


def test_replay_after_a_restart_gives_the_same_decisions(tmp_path):
    book = _book(tmp_path, population=None)
    book.approve(_rows().iloc[[0, 1]], note='said "yes", 100%')
    book.override(4, "live_chat", expected_risk_reduction=0.012, baseline_risk=0.7, uncertain=True)
    book.override(3, "email", expected_risk_reduction=0.01)  # no baseline: no risk after
    book.skip(["=1+1"], note="text id")  # ids of several types in one log
    book.skip(np.array([7.0]))  # an id read as a float is still customer 7
    book.reset([2])
    again = ActionBook(user="someone else", log=DecisionLog(tmp_path / "decisions.jsonl"))
    pd.testing.assert_frame_equal(again.to_frame(), book.to_frame())
    assert again.counts() == {"approved": 1, "overridden": 2, "skipped": 2}
    assert again.decisions([7]).tolist() == ["skipped"]
    assert again.to_frame()["reason"].iloc[2] == "Email chosen instead of the recommendation"
    # and the restarted book goes on appending to the same file
    again.skip([1])
    assert ActionBook(log=DecisionLog(tmp_path / "decisions.jsonl")).decisions([1]).tolist() == [
        "skipped"
    ]


def test_replay_of_integer_ids_keeps_them_whole_numbers(tmp_path):
    book = _book(tmp_path)
    book.approve(_rows(), bulk=True)
    again = ActionBook(log=DecisionLog(tmp_path / "decisions.jsonl"))
    assert again.to_frame()["customer_id"].dtype == np.int64
    pd.testing.assert_frame_equal(again.to_frame(), book.to_frame())
    assert again.approved()["expected_risk_reduction"].iloc[0] == 0.025679834511422084


def test_a_torn_last_line_is_reported_skipped_and_ended(tmp_path):
    book = _book(tmp_path)
    book.approve(_rows().iloc[[0, 1]])
    path = tmp_path / "decisions.jsonl"
    with open(path, "ab") as f:  # a crash in the middle of a write
        f.write(b'{"customer_id": 6, "decision": "appro')
    torn = path.read_bytes()
    with pytest.warns(DecisionLogWarning, match=r"decisions\.jsonl'?: line 3 is not a whole") as w:
        again = ActionBook(user="lan", clock=_clock, log=DecisionLog(path), population=None)
    assert "the other 2 decisions were loaded" in str(w[0].message)
    assert again.decisions([1, 2, 6]).tolist() == ["approved", "approved", None]
    again.skip([6])  # the next decision starts on a line of its own
    assert path.read_bytes().startswith(torn)
    with pytest.warns(DecisionLogWarning, match="line 3 "):
        third = ActionBook(log=DecisionLog(path))
    assert third.decisions([1, 2, 6]).tolist() == ["approved", "approved", "skipped"]


def test_a_line_that_is_not_a_decision_is_reported_with_its_number(tmp_path):
    path = tmp_path / "decisions.jsonl"
    _book(tmp_path).skip([1, 2])
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"customer_id": 3, "decision": "maybe"}\n[1, 2]\n')
    with pytest.warns(DecisionLogWarning, match="lines 3, 4 are not whole decisions"):
        _book(tmp_path).skip([4])
    with pytest.warns(DecisionLogWarning, match="lines 3, 4 .* the other 3 decisions were"):
        frame = DecisionLog(path).read()
    assert frame["customer_id"].tolist() == [1, 2, 4]


def test_a_log_of_another_bundle_is_loaded_and_said_so(tmp_path):
    path = tmp_path / "decisions.jsonl"
    ActionBook(log=DecisionLog(path, bundle="aaaa")).skip([1, 2])
    with pytest.warns(DecisionLogWarning, match="2 decisions were made with another"):
        ActionBook(log=DecisionLog(path, bundle="bbbb")).skip([3])
    assert [r["bundle"] for r in _records(path)] == ["aaaa", "aaaa", "bbbb"]
    with pytest.warns(DecisionLogWarning, match="2 decisions were made with another model bundle"):
        book = ActionBook(log=DecisionLog(path, bundle="bbbb"))
    assert book.counts()["skipped"] == 3


def test_a_log_that_cannot_be_written_changes_nothing(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(PanelError, match=r"Cannot read the decision log .*file/decisions\.jsonl"):
        ActionBook(log=DecisionLog(tmp_path / "file" / "decisions.jsonl"))
    book = ActionBook(log=DecisionLog(tmp_path / "later" / "decisions.jsonl"))
    (tmp_path / "later").write_text("the folder became a file")
    seen = []
    book.observe(lambda: seen.append(1))
    with pytest.raises(WriteError, match=r"decisions\.jsonl"):
        book.skip([1])
    assert book.counts() == {"approved": 0, "overridden": 0, "skipped": 0} and not seen


def test_the_log_is_created_with_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        book = _book(tmp_path)
        book.approve(_rows().iloc[[0]])
        written = book.export_csv(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "decisions.jsonl").stat().st_mode) == 0o640
    assert stat.S_IMODE(written.stat().st_mode) == 0o640


# ============================================================================ bulk approval
def test_bulk_approval_leaves_decisions_alone_and_does_what_its_plan_says(tmp_path):
    book = _book(tmp_path)
    book.override(1, "consultation", expected_risk_reduction=0.03, baseline_risk=0.62)
    book.skip([2])
    rows = _rows()
    plan = book.plan_bulk(rows)
    assert plan == BulkPlan(
        add=1, keep=2, likely_gone=1, uncertain=1, inactive=0, no_recommendation=1
    )
    assert plan.text == (
        "Approve 1 customer? 2 decisions already made stay as they are. "
        "1 likely gone, 1 uncertain, and 1 without a recommendation are left out."
    )
    before = book.to_frame().copy()
    assert book.approve(rows, bulk=True) == plan.add
    after = book.to_frame()
    pd.testing.assert_frame_equal(after.iloc[:2], before)  # the override and the skip stay
    assert book.decisions([1, 2, 3, 4, 5, 6]).tolist() == [
        "overridden",
        "skipped",
        None,  # likely gone
        None,  # uncertain
        None,  # nothing to approve
        "approved",  # reach unknown is not "likely gone"
    ]
    # a second bulk approval has nothing left to add, and says so
    again = book.plan_bulk(rows)
    assert (again.add, again.keep) == (0, 3)
    assert again.text.startswith("There is nobody to approve. 3 decisions already made stay")
    assert book.approve(rows, bulk=True) == 0


def test_bulk_approval_leaves_out_inactive_likely_gone_and_uncertain(tmp_path):
    rows = _rows()
    book = _book(tmp_path, population=[2, 3, 4, 5, 6], reach_threshold=0.7)
    plan = book.plan_bulk(rows)
    # 1 is inactive; 2 (reach 60%) and 3 are below the 70% threshold; 4 is uncertain
    assert plan == BulkPlan(
        add=1, keep=0, likely_gone=2, uncertain=1, inactive=1, no_recommendation=1
    )
    assert plan.text == (
        "Approve 1 customer? 2 likely gone, 1 uncertain, 1 inactive, and 1 without a "
        "recommendation are left out."
    )
    assert book.approve(rows, bulk=True) == 1
    assert book.approved()["customer_id"].tolist() == [6]
    # without the reach column (older scores) nobody is likely gone
    assert book.plan_bulk(rows.drop(columns="reach_probability").iloc[:2]).likely_gone == 0


def test_plan_text_counts_in_thousands():
    assert BulkPlan(add=412, keep=3, likely_gone=57, uncertain=12).text == (
        "Approve 412 customers? 3 decisions already made stay as they are. "
        "57 likely gone and 12 uncertain are left out."
    )
    assert BulkPlan(add=1234567).text == "Approve 1,234,567 customers?"


def test_bulk_approval_of_many_customers_is_one_write(tmp_path, monkeypatch):
    n = 50_000
    rows = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "churn_risk": np.full(n, 0.5),
            "recommended_touchpoint": np.full(n, "email", dtype=object),
            "expected_risk_reduction": np.linspace(0.001, 0.05, n),
            "reach_probability": np.full(n, 0.5),
            "uncertain": np.zeros(n, dtype=bool),
        }
    )
    book = _book(tmp_path, population=None)
    writes = []
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(1) or real(fd, data))
    assert book.approve(rows, bulk=True) == n
    assert len(writes) == 1
    monkeypatch.undo()
    again = ActionBook(log=DecisionLog(tmp_path / "decisions.jsonl"))
    pd.testing.assert_frame_equal(again.to_frame(), book.to_frame())


def test_bulk_skip_keeps_decisions_too(tmp_path):
    book = _book(tmp_path)
    book.approve(_rows().iloc[[0]])
    assert book.skip([1, 2, 2], bulk=True) == 1
    assert book.decisions([1, 2]).tolist() == ["approved", "skipped"]
    assert book.skip([1]) == 1  # one at a time, it is deliberate
    assert book.decisions([1]).tolist() == ["skipped"]


# ============================================================================ inactive
def test_an_inactive_customer_cannot_be_approved(tmp_path):
    book = _book(tmp_path, population=[2, 3])
    one = pd.DataFrame(
        {
            "customer_id": [1042],
            "churn_risk": [0.5],
            "recommended_touchpoint": ["email"],
            "expected_risk_reduction": [0.01],
        }
    )
    message = (
        "Customer 1042 is inactive (outside the scored population): there is nothing to approve."
    )
    with pytest.raises(PanelError) as caught:
        book.approve(one)
    assert str(caught.value) == message
    with pytest.raises(PanelError, match="Customer 1042 is inactive"):
        book.override(1042, "email", expected_risk_reduction=0.01, baseline_risk=0.5)
    with pytest.raises(PanelError, match=r"Customers 1, 4 are inactive"):
        book.approve(_rows().iloc[[0, 1, 3]])
    assert book.approve(one, bulk=True) == 0  # in bulk it is left out, not an error
    assert book.to_frame().empty and not (tmp_path / "decisions.jsonl").exists()
    assert book.skip([1042]) == 1  # skipping them is harmless


def test_deliberate_approval_takes_uncertain_and_likely_gone(tmp_path):
    book = _book(tmp_path)
    assert book.approve(_rows().iloc[[2, 3]]) == 2
    records = _records(tmp_path / "decisions.jsonl")
    assert [(r["customer_id"], r["uncertain"]) for r in records] == [(3, False), (4, True)]


# ============================================================================ observers
def test_observers_are_called_once_per_change(tmp_path):
    book = _book(tmp_path)
    calls = []
    stop = book.observe(lambda: calls.append(book.counts()["approved"]))
    book.approve(_rows(), bulk=True)  # three customers, one change
    assert calls == [3]
    book.approve(_rows(), bulk=True)  # nothing to add: no change
    book.skip([], bulk=True)
    assert calls == [3]
    book.skip([1])
    book.reset([2])
    assert calls == [3, 2, 1]
    stop()
    book.skip([6])
    assert calls == [3, 2, 1]


# ============================================================================ the export
def test_export_never_replaces_a_file(tmp_path):
    book = _book(tmp_path)
    book.approve(_rows().iloc[[0]])
    stamp = WHEN.astimezone().strftime("%Y-%m-%d-%H%M")
    first = book.export_csv(tmp_path)
    second = book.export_csv(tmp_path)
    assert (first.name, second.name) == (
        f"approved_actions-{stamp}.csv",
        f"approved_actions-{stamp}-2.csv",
    )
    mine = tmp_path / "actions.csv"
    mine.write_text("the campaign team's own file")
    third = book.export_csv(mine)
    assert third.name == f"actions-{stamp}.csv"
    assert mine.read_text() == "the campaign team's own file"
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()
    fresh = book.export_csv(tmp_path / "new" / "q3.csv")  # a new name is written as given
    assert fresh == tmp_path / "new" / "q3.csv"
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == sorted(
        ["actions.csv", first.name, second.name, third.name]
    )


def test_export_never_writes_over_an_input_nor_into_a_folder_named_csv(tmp_path):
    from cjml.exceptions import InputFileError

    book = _book(tmp_path)
    book.approve(_rows().iloc[[0]])
    scores = tmp_path / "scores.csv"
    scores.write_text("customer_id\n1\n")
    with pytest.raises(InputFileError, match=r"it is the scores .*scores\.csv"):
        book.export_csv(scores, inputs={"scores": str(scores)})
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InputFileError, match="existing folder"):
        book.export_csv(tmp_path / "out.csv")
    assert scores.read_text() == "customer_id\n1\n"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["decisions.jsonl", "out.csv", "scores.csv"]


def test_export_has_the_shown_values_beside_the_exact_ones(tmp_path):
    book = _book(tmp_path)
    book.approve(_rows().iloc[[0]], note="spring campaign")
    book.override(2, "consultation", expected_risk_reduction=0.0004, baseline_risk=0.55)
    path = book.export_csv(tmp_path / "out.csv")
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(raw[len(BOM) :].decode(), newline="")))
    assert list(rows[0]) == [
        "customer_id",
        "touchpoint",
        "expected_risk_reduction_shown",
        "expected_risk_reduction",
        "churn_risk_shown",
        "churn_risk",
        "reason",
        "decision",
        "approved_by",
        "approved_at",
        "note",
    ]
    first, second = rows
    assert first["expected_risk_reduction_shown"] == points(0.025679834511422084)
    assert float(first["expected_risk_reduction"]) == 0.025679834511422084
    assert first["churn_risk_shown"] == pct(0.62) and float(first["churn_risk"]) == 0.62
    assert (first["decision"], first["approved_by"], first["note"]) == (
        "approved",
        "lan",
        "spring campaign",
    )
    assert first["approved_at"] == "2026-12-02T08:05:00Z"
    assert second["expected_risk_reduction_shown"] == points(0.0004)
    assert (second["touchpoint"], second["decision"], second["note"]) == (
        "consultation",
        "overridden",
        "",
    )


# ============================================================================ PanelData
def test_panel_data_keeps_decisions_beside_the_scores(tmp_path):
    from _panel_bundle import sample_bundle_path

    import cjml
    from cjml.datasets import load_sample
    from cjml.panel import PanelData

    bundle = cjml.ModelBundle.load(sample_bundle_path())
    events = load_sample()
    scores = cjml.score(bundle, events, include_inactive=True)
    scores_path = tmp_path / "scores.parquet"
    scores.to_parquet(scores_path)
    data = PanelData.from_inputs(bundle, events, scores_path, report=None, user="lan")
    assert data.decision_log_path == tmp_path / "decisions.jsonl"
    assert set(data.population) == set(data.table["customer_id"])
    assert data.actions.reach_threshold == data.reach_threshold == 0.05
    inactive = next(c for c in scores["customer_id"] if c not in set(data.population))
    with pytest.raises(PanelError, match=f"Customer {inactive} is inactive"):
        data.actions.override(inactive, "email", expected_risk_reduction=0.01)
    plan = data.actions.plan_bulk(data.table)
    assert data.actions.approve(data.table, bulk=True) == plan.add > 0

    again = PanelData.from_inputs(bundle, events, scores_path, report=None, user="lan")
    pd.testing.assert_frame_equal(again.actions.to_frame(), data.actions.to_frame())
    assert again.actions.plan_bulk(again.table).add == 0  # nothing is approved twice
    memory = PanelData.from_inputs(bundle, events, scores, report=None, decisions=None)
    assert memory.decision_log_path is None and memory.actions.to_frame().empty
    beside = PanelData.from_inputs(
        bundle, events, scores, report=None, export_path=tmp_path / "out" / "a.csv"
    )
    assert beside.decision_log_path == tmp_path / "out" / "decisions.jsonl"


def test_panel_data_reads_a_scores_csv_with_the_ids_as_written(tmp_path):
    # `cjml score --out scores.csv` writes "00002"; the panel read it back as 2 and
    # then found no such customer in the log
    from _panel_bundle import sample_bundle_path

    import cjml
    from cjml.datasets import load_sample
    from cjml.panel import PanelData

    bundle = cjml.ModelBundle.load(sample_bundle_path())
    events = load_sample()
    events["customer_id"] = events["customer_id"].astype(str).str.zfill(6)
    scores_path = tmp_path / "scores.csv"
    cjml.score(bundle, events, out=scores_path)
    data = PanelData.from_inputs(bundle, events, scores_path, report=None, decisions=None)
    expected = cjml.score(bundle, events)
    assert sorted(data.population) == sorted(expected["customer_id"])
    assert all(len(c) == 6 for c in data.population)
    pd.testing.assert_series_equal(
        data.table.set_index("customer_id")["churn_risk"].sort_index(),
        expected.set_index("customer_id")["churn_risk"].sort_index(),
        check_exact=False,
        rtol=1e-12,
        check_index_type=False,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(-1, 1)),
            st.one_of(st.none(), st.floats(0, 1)),
            st.one_of(st.none(), st.floats(-1e6, 1e6)),
        ),
        max_size=30,
    )
)
def test_column_wording_equals_the_wording_of_each_row(rows):
    # the export words whole columns at once; each cell must read as the views word it
    reduction = np.array([np.nan if r is None else r for r, _, _ in rows], dtype=float)
    risk = np.array([np.nan if k is None else k for _, k, _ in rows], dtype=float)
    value = np.array([np.nan if v is None else v for _, _, v in rows], dtype=float)
    assert list(points_of(reduction, risk)) == [
        points(r, k) for r, k in zip(reduction, risk, strict=True)
    ]
    assert list(points_of(reduction)) == [points(r) for r in reduction]
    assert list(worth_of(value)) == [worth(v) for v in value]
