"""The marketer's panel: the headless functions on their own, and the widgets driven as a
person would (no browser: the tests set widget values, click buttons and read what the
widgets show)."""

from __future__ import annotations

import csv
import errno
import html
import io
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.exceptions import InputFileError
from cjml.i18n import format_datetime
from cjml.io._write import CsvStream
from cjml.panel import (
    NO_TOUCHPOINT,
    SORT_KEYS,
    ActionBook,
    CustomerList,
    PanelData,
    PanelError,
    customer_table,
    default_sort,
    escape_formula,
    filter_customers,
    label,
    likely_gone,
    overview_data,
    paginate,
    plot_timeline,
    sort_customers,
    timeline_data,
    what_if,
    write_csv,
)
from cjml.panel._data import points
from cjml.panel._data._common import shown_change

BOM = b"\xef\xbb\xbf"


# ============================================================================ fixtures
def _events() -> pd.DataFrame:
    """Three customers; customer 2 buys, customer 3 has an event after the cutoff."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 2, 3, 3],
            "timestamp": [
                "2024-01-01",
                "2024-01-05",
                "2024-01-20",
                "2024-01-02",
                "2024-01-03",
                "2024-01-10",
                "2024-01-04",
                "2024-02-01",
            ],
            "touchpoint": [
                "paid_ad",
                "website_visit",
                "email",
                "paid_ad",
                "website_visit",
                "purchase",
                "paid_ad",
                "website_visit",
            ],
            "satisfaction": [None, None, None, None, None, 2.0, None, None],
            "amount": [None, None, None, None, None, 49.5, None, None],
            "segment": [
                "deal_seeker",
                "deal_seeker",
                "regular",
                "regular",
                "regular",
                "regular",
                "business",
                "business",
            ],
        }
    )


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "churn_risk": [0.9, 0.1, 0.6, np.nan],
            "risk_band": ["very high", "low", "high", None],
            "next_stage": ["dropped", "retention", "dropped", None],
            "next_stage_proba": [0.9, 0.7, 0.6, np.nan],
            "top_drivers": ["no contact for 41 days", "", "segment: business", None],
            "recommended_touchpoint": ["email", None, "live_chat", None],
            "expected_risk_reduction": [0.02, np.nan, 0.05, np.nan],
            "status": ["scored", "scored", "scored", "no_events"],
        }
    )


@pytest.fixture(scope="module")
def small_log():
    return cjml.read_events(_events())


@pytest.fixture(scope="module")
def table(small_log):
    return customer_table(_scores(), small_log, segment_col="segment", cutoff="2024-01-25")


@pytest.fixture(scope="module")
def sample_data():
    """The panel's data on the sample with a small bundle (trained once per run)."""
    from _panel_bundle import sample_bundle_path

    from cjml.datasets import load_sample

    return PanelData.from_inputs(sample_bundle_path(), load_sample(), user="tester")


def _row_texts(app) -> list[str]:
    """The visible rows of the at-risk list, as text."""
    out = []
    for box, cell in zip(app.row_boxes, app.row_html, strict=True):
        if box.layout.display != "none":
            out.append(cell.value)
    return out


def _cells(row_html: str) -> list[str]:
    """The cell texts of one row of the list."""
    import html
    import re

    return [
        html.unescape(re.sub("<[^>]+>", "", c))
        for c in re.findall(r"<div class='cjml-cell[^']*'>(.*?)</div>", row_html)
    ]


# the columns of the at-risk list on the sample (its bundle has a value model, so the list
# shows the value, the value at risk and the value saved)
# (the stage cell says the next stage below it, the risk cell the band beside it)
ID, SEGMENT, STAGE, RISK, VALUE, AT_RISK, RECOMMENDED, REDUCTION, SAVED, REACH, DECISION = range(11)


def _confirm_if_asked(confirm) -> str:
    """Click Confirm when the panel asks (an uncertain or risk-raising approval); the question."""
    if confirm.box.layout.display == "none":
        return ""
    question = confirm.text.value
    confirm.yes.click()
    return question


# ============================================================================ CSV safety
@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+1",
        "-1+2",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "\uff1dcmd",
        '=HYPERLINK("http://evil")',
        " =1",
        "   +cmd",
        "\u3000\uff0bx",
    ],
)
def test_escape_formula_escapes_risky_text(value):
    assert escape_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["email", "a=b", "", " a=1", -1.5, 3, None])
def test_escape_formula_leaves_safe_values(value):
    assert escape_formula(value) == value


def test_write_csv_escapes_has_bom_and_keeps_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["=cmd|' /C calc'!A0", "c2", "-3", "Nguyễn Thị Ánh"],
            "touchpoint": ["email", "@live_chat", "+x", "tab\tinside"],
            "expected_risk_reduction": [-0.012, 0.5, np.nan, 1e-5],
            "reason": ["ok, with a comma", "\tleading tab", "line\nbreak", "\r"],
        }
    )
    path = write_csv(frame, tmp_path / "out.csv")
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    assert b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8"), newline="")))
    assert rows[0] == ["customer_id", "touchpoint", "expected_risk_reduction", "reason"]
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "c2", "'-3", "Nguyễn Thị Ánh"]
    assert [r[1] for r in rows[1:]] == ["email", "'@live_chat", "'+x", "tab\tinside"]
    assert [r[2] for r in rows[1:]] == ["-0.012", "0.5", "", "0.00001"]  # numbers stay numbers
    assert [r[3] for r in rows[1:]] == ["ok, with a comma", "'\tleading tab", "line\nbreak", "'\r"]
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["customer_id"].iloc[3] == "Nguyễn Thị Ánh"


def test_write_csv_refuses_to_overwrite_and_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "actions.csv"
    write_csv(pd.DataFrame({"a": [1]}), path)
    with pytest.raises(InputFileError, match="already exists and was left untouched"):
        write_csv(pd.DataFrame({"a": [2]}), path)
    assert path.read_bytes() == BOM + b"a\r\n1\r\n"

    def broken(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(CsvStream, "write", broken)
    with pytest.raises(OSError, match=r"No space left on the disk while writing .*actions\.csv"):
        write_csv(pd.DataFrame({"a": [3]}), path, force=True)
    monkeypatch.undo()
    assert path.read_bytes() == BOM + b"a\r\n1\r\n"  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["actions.csv"]  # no temp left
    write_csv(pd.DataFrame({"a": [4]}), path, force=True)
    assert path.read_bytes() == BOM + b"a\r\n4\r\n"


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_written_files_get_the_permissions_of_the_umask(tmp_path, mask):
    import os
    import stat

    old = os.umask(mask)
    try:
        path = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "actions.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_write_csv_checks_suffix_and_bom_option(tmp_path):
    with pytest.raises(InputFileError, match="must end in .csv"):
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")
    path = write_csv(pd.DataFrame({"=a": ["=b"]}), tmp_path / "plain.csv", bom=False)
    assert path.read_bytes() == b"'=a\r\n\"'=b\"\r\n"


# ============================================================================ the table
def test_customer_table_keeps_scored_customers_with_stage_and_segment(table):
    assert table["customer_id"].tolist() == [1, 2, 3]  # 4 has no events: not scored
    # stage and segment of the last event at or before the cutoff (25 Jan)
    assert table["stage"].astype(object).tolist() == ["consideration", "conversion", "awareness"]
    assert table["segment"].astype(object).tolist() == ["regular", "regular", "business"]
    assert list(table["risk_band"].cat.categories) == ["low", "high", "very high"]
    assert table.attrs["segment_col"] == "segment"


def test_customer_table_errors():
    with pytest.raises(PanelError, match=r"lacks the columns \['churn_risk'"):
        customer_table(_scores().drop(columns="churn_risk"))
    with pytest.raises(PanelError, match="Did you mean 'segment'"):
        customer_table(_scores(), cjml.read_events(_events()), segment_col="segmnt")


def test_filter_customers(table):
    assert filter_customers(table, risk_band=["high", "very high"]).tolist() == [True, False, True]
    assert filter_customers(table, stage="awareness", segment="business").tolist() == [
        False,
        False,
        True,
    ]
    assert filter_customers(table, touchpoint=NO_TOUCHPOINT).tolist() == [False, True, False]
    assert filter_customers(table, touchpoint=["email", "live_chat"]).tolist() == [
        True,
        False,
        True,
    ]
    assert filter_customers(table).all()
    with pytest.raises(PanelError, match="Did you mean 'very high'"):
        filter_customers(table, risk_band="very hihg")
    with pytest.raises(PanelError, match="needs a segment column"):
        filter_customers(customer_table(_scores()), segment="regular")


def test_sort_customers_puts_missing_last_and_keeps_ties(table):
    assert sort_customers(table, "churn_risk").tolist() == [0, 2, 1]
    assert sort_customers(table, "churn_risk", ascending=True).tolist() == [1, 2, 0]
    assert sort_customers(table, "expected_risk_reduction").tolist() == [2, 0, 1]
    assert sort_customers(table, "expected_risk_reduction", ascending=True).tolist() == [0, 2, 1]
    assert sort_customers(table, "stage").tolist() == [2, 0, 1]
    assert sort_customers(table, "segment").tolist() == [2, 0, 1]
    tied = customer_table(
        pd.DataFrame(
            {
                "customer_id": ["b", "a", "c"],
                "churn_risk": [0.5, 0.5, 0.7],
                "risk_band": ["high"] * 3,
                "recommended_touchpoint": [None] * 3,
                "expected_risk_reduction": [np.nan] * 3,
            }
        )
    )
    assert sort_customers(tied, "churn_risk").tolist() == [2, 0, 1]  # ties keep the order
    # nobody has a recommendation, so no reduction to rank by: the default is the risk
    assert sort_customers(tied).tolist() == [2, 0, 1]
    assert sort_customers(tied, "customer_id").tolist() == [1, 0, 2]
    with pytest.raises(PanelError, match="Did you mean 'churn_risk'"):
        sort_customers(table, "churn_rsk")


def test_default_order_puts_who_can_be_saved_first(table):
    # expected customers retained = expected_risk_reduction, no recommendation counting 0:
    # customer 3 (0.05), customer 1 (0.02), customer 2 (none); scores without values
    # (a bundle without a value model) keep this order as their default
    assert default_sort(table) == "expected_retained" and "expected_retained" in SORT_KEYS
    assert sort_customers(table).tolist() == [2, 0, 1]
    assert sort_customers(table, ascending=True).tolist() == [1, 0, 2]
    assert CustomerList(table).query().rows["customer_id"].tolist() == [3, 1, 2]
    # a negative expected reduction sorts below no recommendation at all
    worse = table.assign(expected_risk_reduction=[-0.01, np.nan, 0.05])
    assert sort_customers(worse).tolist() == [2, 1, 0]


def test_reach_column_sorts_and_splits_off_the_likely_gone(small_log):
    scores = _scores().assign(reach_probability=[0.02, 0.9, np.nan, np.nan])
    table = customer_table(scores, small_log, cutoff="2024-01-25")
    assert table["reach_probability"].tolist()[:2] == [0.02, 0.9]
    assert np.isnan(table["reach_probability"].iloc[2])
    # below 5% is likely gone; unknown (NaN) never is
    assert likely_gone(table).tolist() == [True, False, False]
    assert likely_gone(table, 0.95).tolist() == [True, True, False]
    assert sort_customers(table, "reach_probability").tolist() == [1, 0, 2]  # NaN last
    customers = CustomerList(table)
    assert customers.query(group="reachable").rows["customer_id"].tolist() == [3, 2]
    assert customers.query(group="likely_gone").rows["customer_id"].tolist() == [1]
    gone = customers.query(group="likely_gone", reach_threshold=0.95)
    assert gone.rows["customer_id"].tolist() == [1, 2]
    assert customers.query(group="reachable", risk_band="very high").is_empty
    with pytest.raises(PanelError, match="group='gone' is not known"):
        customers.query(group="gone")
    # older scores without the column: nobody is likely gone
    old = customer_table(_scores(), small_log, cutoff="2024-01-25")
    assert old["reach_probability"].isna().all() and not likely_gone(old).any()


def test_paginate():
    rows, page, n_pages = paginate(np.arange(7), page=1, page_size=3)
    assert (rows.tolist(), page, n_pages) == ([3, 4, 5], 1, 3)
    assert paginate(np.arange(7), page=-4, page_size=3)[1] == 0
    rows, page, n_pages = paginate(np.arange(0), page=2)
    assert (rows.tolist(), page, n_pages) == ([], 0, 1)
    with pytest.raises(PanelError, match="page_size must be a whole number"):
        paginate(np.arange(3), page_size=0)


def test_customer_list_matches_plain_pandas():
    rng = np.random.default_rng(0)
    n = 5000
    bands = np.array(["low", "medium", "high", "very high"])
    tps = np.array(["email", "live_chat", "consultation", None], dtype=object)
    scores = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "churn_risk": rng.random(n).round(2),
            "risk_band": bands[rng.integers(0, 4, n)],
            "recommended_touchpoint": tps[rng.integers(0, 4, n)],
            "expected_risk_reduction": rng.random(n) / 10,
            "stage": np.array(["awareness", "retention"])[rng.integers(0, 2, n)],
        }
    )
    scores.loc[scores["recommended_touchpoint"].isna(), "expected_risk_reduction"] = np.nan
    table = customer_table(scores.sample(frac=1, random_state=1).reset_index(drop=True))
    lst = CustomerList(table)
    page = lst.query(
        risk_band=["high", "very high"],
        touchpoint="email",
        page=2,
        page_size=20,
        sort_by="churn_risk",
    )
    expected = table[
        table["risk_band"].isin(["high", "very high"])
        & (table["recommended_touchpoint"] == "email")
    ].sort_values("churn_risk", ascending=False, kind="stable")
    assert page.n_matching == len(expected)
    assert page.rows["customer_id"].tolist() == expected["customer_id"].iloc[40:60].tolist()
    assert page.caption().startswith(f"Customers 41\u201360 of {len(expected):,} matching")
    by_red = lst.query(sort_by="expected_risk_reduction", page_size=n).rows
    red = by_red["expected_risk_reduction"].to_numpy()
    k = int(np.isfinite(red).sum())
    assert (np.diff(red[:k]) <= 0).all() and np.isnan(red[k:]).all()
    # the default order: expected customers retained (no recommendation counts as 0)
    retained = lst.query(page_size=n).rows["expected_risk_reduction"].fillna(0).to_numpy()
    assert (np.diff(retained) <= 0).all()
    empty = lst.query(
        risk_band="low", stage="awareness", touchpoint="consultation", segment=None, page=0
    )
    assert empty.n_matching == len(
        table[
            (table["risk_band"] == "low")
            & (table["stage"] == "awareness")
            & (table["recommended_touchpoint"] == "consultation")
        ]
    )
    assert lst.options()["touchpoint"][-1] == NO_TOUCHPOINT


def test_overview_data(table):
    ov = overview_data(table, n_not_scored=1)
    assert (ov.n_customers, ov.n_not_scored, ov.n_with_recommendation) == (3, 1, 2)
    assert ov.mean_risk == pytest.approx((0.9 + 0.1 + 0.6) / 3)
    assert ov.bands["risk_band"].tolist() == ["low", "high", "very high"]
    assert ov.bands["customers"].tolist() == [1, 1, 1]
    assert ov.touchpoints["touchpoint"].tolist() == ["email", "live_chat", NO_TOUCHPOINT]
    assert ov.risk_histogram["customers"].sum() == 3
    assert ov.risk_histogram["customers"].iloc[9] == 1  # 0.9 falls in the last bin


def test_label():
    assert label("live_chat") == "Live chat"
    assert label("very high") == "Very high"
    assert label(None) == label(np.nan) == "\u2013"


# ============================================================================ one customer
def test_timeline_data(small_log):
    tl = timeline_data(small_log, 2, cutoff="2024-01-25")
    assert tl["touchpoint"].tolist() == ["paid_ad", "website_visit", "purchase"]
    assert tl["purchase"].tolist() == [False, False, True]
    assert tl["satisfaction"].iloc[2] == 2.0
    late = timeline_data(small_log, "3", cutoff="2024-01-25")  # text from a text box
    assert late["after_cutoff"].tolist() == [False, True]
    with pytest.raises(PanelError, match="Customer 99 is not in the events"):
        timeline_data(small_log, 99)


def test_plot_timeline_draws_every_event(small_log):
    tl = timeline_data(small_log, 2)
    ax = plot_timeline(
        tl, stages=small_log.journey_map.stages, cutoff=pd.Timestamp("2024-01-25", tz="UTC")
    )
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(tl)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Paid ad", "Website visit", "Purchase"]
    assert any(t.get_text() == "CSAT 2" for t in ax.texts)


def test_profile_scores_like_batch_scoring(sample_data):
    scores = cjml.score(sample_data.bundle, sample_data.log, top_k=3).set_index("customer_id")
    for cid in sample_data.table["customer_id"].iloc[::97]:
        p = sample_data.profile(cid)
        assert p.churn_risk == pytest.approx(scores.loc[cid, "churn_risk"], abs=1e-12)
        assert p.next_stage.sum() == pytest.approx(1.0)
        expected = scores.loc[cid, "recommended_touchpoint"]
        got = p.recommendations["touchpoint"].iloc[0] if len(p.recommendations) else None
        assert got == (None if pd.isna(expected) else expected)
        assert p.risk_band == scores.loc[cid, "risk_band"]


def test_what_if_is_the_recommenders_effect(sample_data):
    table = sample_data.table
    cid = table.loc[table["expected_risk_reduction"].idxmax(), "customer_id"]
    p = sample_data.profile(cid)
    effects = sample_data.recommender.effects(sample_data.log, cutoff=sample_data.cutoff)
    mine = effects[effects["customer_id"] == cid].set_index("touchpoint")
    assert sorted(p.options["touchpoint"]) == sorted(mine.index)
    for tp in p.options["touchpoint"]:
        w = what_if(p, tp)
        assert w.expected_risk == pytest.approx(mine.loc[tp, "expected_risk"], abs=1e-12)
        assert w.baseline_risk - w.expected_risk == pytest.approx(w.risk_reduction)
    best = what_if(p, p.recommendations["touchpoint"].iloc[0])
    assert best.risk_reduction == pytest.approx(
        table.loc[table["customer_id"] == cid, "expected_risk_reduction"].iloc[0]
    )
    assert "lower" in best.text() and ", cost $" in best.text()  # money in its currency
    with pytest.raises(PanelError, match="not an eligible touchpoint"):
        what_if(p, "billboard")


# ============================================================================ decisions
def _clock():
    return datetime(2024, 9, 1, 8, 30, tzinfo=UTC)


def test_action_book_latest_decision_wins(table):
    book = ActionBook(user="lan", clock=_clock)
    assert book.approve(table) == 2  # customer 2 has no recommendation
    assert book.skip([1]) == 1
    assert (
        book.override(
            3,
            "consultation",
            expected_risk_reduction=0.03,
            baseline_risk=0.6,
            note="called last week",
        )
        == 1
    )
    assert book.counts() == {"approved": 0, "overridden": 1, "skipped": 1}
    approved = book.approved()
    assert approved.columns.tolist() == [
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
    row = approved.iloc[0]
    assert (row["customer_id"], row["touchpoint"], row["decision"], row["note"]) == (
        3,
        "consultation",
        "overridden",
        "called last week",
    )
    assert row["reason"] == (
        "Consultation is expected to lower the drop-off risk from 60.0% to 57.0% (3.0 points)"
    )
    assert row["approved_at"] == "2024-09-01T08:30:00Z"
    assert book.decisions([1, 2, 3]).tolist() == ["skipped", None, "overridden"]
    assert book.reset([1, 3]) == 2
    assert book.counts() == {"approved": 0, "overridden": 0, "skipped": 0}
    book.approve(table.iloc[[0]], by="minh")
    assert book.approved()[["customer_id", "approved_by"]].values.tolist() == [[1, "minh"]]


def test_action_book_export(tmp_path, table):
    book = ActionBook(user="=cmd|' /C calc'!A0", clock=_clock)
    with pytest.raises(PanelError, match="No approved actions to export yet"):
        book.export_csv(tmp_path / "a.csv")
    book.approve(table, note="+ campaign Q3")
    path = book.export_csv(tmp_path / "a.csv")
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(raw[len(BOM) :].decode(), newline="")))
    assert [r["customer_id"] for r in rows] == ["1", "3"]
    assert rows[0]["touchpoint"] == "email"
    assert float(rows[0]["expected_risk_reduction"]) == pytest.approx(0.02)
    assert rows[0]["approved_by"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["reason"] == (
        "Email is expected to lower the drop-off risk from 90.0% to 88.0% (2.0 points)"
    )
    assert rows[0]["note"] == "'+ campaign Q3"
    again = book.export_csv(tmp_path / "a.csv")  # a new dated file beside it
    assert again != path and path.read_bytes() == raw
    assert book.export_csv(tmp_path / "a.csv", force=True) == path


def test_action_book_bulk_is_vectorised():
    n = 200_000
    rows = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "churn_risk": np.full(n, 0.5),
            "recommended_touchpoint": np.full(n, "email", dtype=object),
            "expected_risk_reduction": np.full(n, 0.01),
        }
    )
    book = ActionBook(user="x")
    assert book.approve(rows) == n
    assert book.skip(np.arange(0, n, 2)) == n // 2
    assert book.counts() == {"approved": n // 2, "overridden": 0, "skipped": n // 2}


# ============================================================================ the widgets
@pytest.fixture
def app(sample_data, tmp_path):
    from cjml.panel._app import MarketerPanel

    sample_data.actions = ActionBook(user="tester", clock=_clock)
    sample_data.customers._last = None
    return MarketerPanel(sample_data, page_size=10, export_path=tmp_path / "actions.csv")


def test_overview_shows_funnel_bands_and_touchpoints(app):
    d = app.data
    assert f"<b>{len(d.table):,}</b>" in app.overview_cards.value
    assert bytes(app.overview_funnel.value).startswith(b"\x89PNG")
    for stage in d.log.journey_map.stages:
        assert f"<b>{label(stage)}</b>" in app.overview_stages.value
    assert "Still pending" in app.overview_stages.value
    opportunities = html.unescape(app.overview_opportunities.value)
    assert "Touchpoints that lower the drop-off risk, by stage" in opportunities
    # the flag where the report sets it, and its rule in one sentence
    flagged = bool(d.report.opportunities["missing"].any())
    assert ("\u2691 missing" in opportunities) == flagged
    assert "fewer than 10% of the stage's customers" in opportunities
    # only touchpoints that lower the risk are listed as opportunities
    import re

    shown = re.findall(r">(-?[\d.]+) points<", opportunities)
    assert all(float(v) > 0 for v in shown)
    assert (d.report.opportunities["mean_risk_reduction"] < 0).any()  # there were some to drop
    for band in d.table["risk_band"].cat.categories:
        assert f">{label(band)}<" in app.overview_risk.value
    top = d.overview.touchpoints.iloc[0]
    assert f">{label(top['touchpoint'])}<" in app.overview_touchpoints.value
    assert f"{int(top['customers']):,}" in app.overview_touchpoints.value


def test_list_filters_sorts_and_pages(app):
    everyone = app.data.table
    # the main list holds who can still be reached; the likely gone are listed apart
    table = everyone[~likely_gone(everyone)]
    assert 0 < len(table) < len(everyone)  # the sample scores have reach probabilities
    assert len(_row_texts(app)) == 10
    assert app.page.caption() == (
        f"Customers 1\u201310 of {len(table):,} matching (of {len(everyone):,}) \u00b7 "
        f"page 1 of {-(-len(table) // 10)}"
    )
    # the default order: the most value saved net of cost first (the scores have values)
    assert app.sort.value == "value_saved:desc"
    expected = table.sort_values(
        "expected_value_saved", ascending=False, kind="stable", na_position="last"
    )
    assert [_cells(r)[ID] for r in _row_texts(app)] == [
        str(c) for c in expected["customer_id"].iloc[:10]
    ]
    # expected customers retained is still an order to choose
    app.sort.value = "expected_retained:desc"
    retained = table["expected_risk_reduction"].fillna(0)
    expected = table.assign(r=retained).sort_values("r", ascending=False, kind="stable")
    assert [_cells(r)[ID] for r in _row_texts(app)] == [
        str(c) for c in expected["customer_id"].iloc[:10]
    ]
    app.sort.value = "churn_risk:desc"
    risks = [float(_cells(r)[RISK].split("%")[0]) for r in _row_texts(app)]
    assert risks == sorted(risks, reverse=True)

    app.risk_band.value = "high"
    app.segment.value = "researcher"
    expected = table[(table["risk_band"] == "high") & (table["segment"] == "researcher")]
    assert app.page.n_matching == len(expected) > 0
    for row in _row_texts(app):
        cells = _cells(row)
        assert cells[RISK].endswith("% High") and cells[SEGMENT] == "Researcher"

    app.clear_filters.click()
    app.stage.value = "retention"
    # the touchpoint most often recommended in retention (which one depends on the effects)
    common = (
        table.loc[table["stage"] == "retention", "recommended_touchpoint"]
        .astype(object)
        .value_counts()
        .index[0]
    )
    app.touchpoint.value = common
    app.sort.value = "expected_risk_reduction:desc"
    expected = table[
        (table["stage"] == "retention") & (table["recommended_touchpoint"] == common)
    ].sort_values("expected_risk_reduction", ascending=False, kind="stable")
    assert len(expected) > 10  # more than a page
    shown = [_cells(r)[ID] for r in _row_texts(app)]
    assert shown == [str(c) for c in expected["customer_id"].iloc[:10]]
    # an uncertain recommendation carries the chip beside its name
    for r, (_i, row) in zip(_row_texts(app), expected.iloc[:10].iterrows(), strict=True):
        chip = " uncertain" if row.get("uncertain") is True else ""
        assert _cells(r)[RECOMMENDED] == label(common) + chip

    app.next_button.click()
    assert app.page.page == 1
    assert [_cells(r)[ID] for r in _row_texts(app)] == [
        str(c) for c in expected["customer_id"].iloc[10:20]
    ]
    app.prev_button.click()
    assert app.page.page == 0 and app.prev_button.disabled

    app.page_size.value = 25
    assert len(_row_texts(app)) == min(25, len(expected))
    app.go_to_page(10_000)
    assert app.page.page == app.page.n_pages - 1 and app.next_button.disabled


def test_list_header_and_rows_share_one_column_template(app):
    header = app.list_header.value
    assert header.count("class='cjml-cell") == 12 == len(_cells(_row_texts(app)[0]))
    assert _cells(header) == [
        "Customer",
        "Segment",
        "Stage, next",
        "Churn risk",
        "Value",
        "Value at risk",
        "Recommended",
        "Exp. reduction",
        "Value saved",
        "Reach",
        "Decision",
        "Top drivers",
    ]
    # the header row is built of the same widgets as every row: same widths, same columns
    list_tab = app.tabs.children[1].children
    head_box = next(b for b in list_tab if "cjml-list-header" in b._dom_classes)
    row_box = app.row_boxes[0]
    assert "cjml-row" in row_box._dom_classes
    assert [type(w) for w in head_box.children] == [type(w) for w in row_box.children]
    assert [w.layout.width for w in head_box.children[:2]] == [
        w.layout.width for w in row_box.children[:2]
    ]
    assert "cjml-decision" in _row_texts(app)[0]


def test_list_empty_state(app):
    app.stage.value = "awareness"
    app.risk_band.value = "low"
    assert app.page.is_empty
    assert app.list_empty.layout.display != "none"
    assert "No customers match these filters" in app.list_empty.value
    assert _row_texts(app) == []
    assert app.approve_matching.disabled
    app.clear_filters.click()
    assert app.list_empty.layout.display == "none" and len(_row_texts(app)) == 10


def test_open_customer_and_what_if(app):
    app.sort.value = "expected_risk_reduction:desc"
    first = app.page.rows.iloc[0]
    app.row_open[0].click()
    assert app.customer_notice.layout.display == "none"
    assert app.tabs.selected_index == 2
    p = app.profile
    assert p.customer_id == first["customer_id"]
    assert (
        f"<span class='cjml-risk'>{100 * first['churn_risk']:.1f}%</span>"
        in app.customer_summary.value
    )
    assert bytes(app.timeline.value).startswith(b"\x89PNG")
    for phrase in p.drivers:
        assert phrase.replace("'", "&#x27;") in app.drivers_html.value
    for stage in p.next_stage.index:
        assert f">{label(stage)}<" in app.next_stage_html.value
    assert label(first["recommended_touchpoint"]) in app.recommendations_html.value
    assert "$" in app.recommendations_html.value  # costs in the currency
    # the what-if starts on the recommended touchpoint
    assert app.whatif.value == first["recommended_touchpoint"]
    best = what_if(p, app.whatif.value)
    assert f"{100 * best.expected_risk:.1f}%</span>" in app.whatif_result.value
    # any other eligible touchpoint: the re-scored risk is shown at once
    other = p.options.iloc[-1]
    app.whatif.value = other["touchpoint"]
    assert f"{100 * other['expected_risk']:.1f}%</span>" in app.whatif_result.value
    assert label(other["touchpoint"]).lower() in app.whatif_result.value
    assert not app.approve_button.disabled and app.inactive_label.layout.display == "none"


def test_decisions_in_the_customer_view_and_the_list(app, tmp_path):
    app.sort.value = "expected_risk_reduction:desc"
    app.row_open[0].click()
    cid = app.profile.customer_id
    app.approve_button.click()
    _confirm_if_asked(app.customer_confirm)
    assert "Approved the recommendation" in app.customer_notice.value
    assert "Approved: " in app.decision_html.value
    # the time in the locale's words, not ISO text
    assert f"by tester on {format_datetime(_clock())}." in html.unescape(app.decision_html.value)
    # a what-if that raises the risk is approved only after a confirmation that says so
    worst = app.profile.options.iloc[-1]
    # by the one rounding rule: the points between the two percentages as they are shown
    raised = points(-shown_change(app.profile.churn_risk, worst["expected_risk"]))
    assert worst["risk_reduction"] < 0
    other = worst["touchpoint"]
    app.whatif.value = other
    app.note.value = "=prefers email"
    app.override_button.click()
    assert app.data.actions.decisions([cid]).iloc[0] == "approved"  # not yet
    assert app.customer_confirm.text.value == (
        f"<b>This raises the drop-off risk by {raised}. Approve anyway?</b>"
    )
    app.customer_confirm.yes.click()
    assert "cjml-notice-error" not in app.customer_notice._dom_classes
    assert f"Overridden: {label(other)}" in app.decision_html.value
    # the list shows the decision
    assert _cells(_row_texts(app)[0])[DECISION] == "Overridden"
    app.row_open[1].click()
    assert app.customer_notice.layout.display == "none"  # messages clear at the next action
    assert app.profile.customer_id != cid
    app.skip_button.click()
    assert "Skipped" in app.decision_html.value
    app.reset_button.click()
    assert "No decision yet" in app.decision_html.value

    # bulk: ticked rows, by another approver
    app.user.value = "@marketing lead"
    ticked = [app.page.rows["customer_id"].iloc[i] for i in (2, 3)]
    app.row_checks[2].value = True
    app.row_checks[3].value = True
    plan = app.data.actions.plan_bulk(app.data.rows_of(ticked))
    app.approve_selected.click()
    if plan.add != 2:  # some are uncertain: the panel says so before approving
        assert app.confirm_box.layout.display != "none"
        assert plan.text in app.list_confirm.text.value
        app.confirm_yes.click()
    assert app.data.actions.counts() == {"approved": plan.add, "overridden": 1, "skipped": 0}
    decided = app.data.actions.decisions(ticked).tolist()
    assert [_cells(r)[DECISION] for r in _row_texts(app)[:4]] == [
        "Overridden",
        "\u2013",
        *["Approved" if d == "approved" else "\u2013" for d in decided],
    ]

    # export: written, escaped, and never over an existing file (without a control group:
    # the campaign export has its tests in test_panel_campaign.py)
    app.control.value = 0.0
    app.export_button.click()
    path = tmp_path / "actions.csv"
    assert "cjml-notice-error" not in app.export_notice._dom_classes
    n = 1 + plan.add
    assert f"Wrote {n} approved action{'s' if n != 1 else ''} to" in app.export_notice.value
    assert "download=" in app.export_notice.value
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(raw[len(BOM) :].decode(), newline="")))
    assert rows[0]["customer_id"] == str(cid)
    assert (rows[0]["touchpoint"], rows[0]["decision"]) == (other, "overridden")
    assert rows[0]["note"] == "'=prefers email"  # the note has its own column, escaped
    assert rows[0]["approved_by"] == "tester"
    assert [r["approved_by"] for r in rows[1:]] == ["'@marketing lead"] * plan.add
    assert "Approved" in app.actions_table.value
    app.export_button.click()
    assert "cjml-notice-error" not in app.export_notice._dom_classes
    assert path.read_bytes() == raw  # a new dated file beside it
    assert len(list(tmp_path.glob("actions*.csv"))) == 2

    # all matching customers, after a confirmation that says what it adds and leaves alone
    app.risk_band.value = "very high"
    app.approve_matching.click()
    assert app.confirm_box.layout.display != "none"
    app.confirm_no.click()
    assert app.data.actions.counts()["approved"] == plan.add
    table = app.data.table
    reachable = table[~likely_gone(table)]  # the likely gone are not in the list's matches
    very_high = reachable[reachable["risk_band"] == "very high"]
    bulk = app.data.actions.plan_bulk(very_high)
    app.approve_matching.click()
    assert app.list_confirm.text.value == f"<b>{html.escape(bulk.text)}</b>"
    app.confirm_yes.click()
    assert f"Approved {bulk.add:,} customers" in app.list_notice.value
    # a manual override is never undone by a bulk approval
    assert app.data.actions.decisions([cid]).iloc[0] == "overridden"


def test_decisions_made_through_the_api_show_everywhere_at_once(app):
    """One source of truth: no click needed for the list, the Actions tab and the customer."""
    rows = app.page.rows.iloc[:3]
    rows = rows[rows["recommended_touchpoint"].notna()]
    app.row_open[0].click()
    n = app.data.actions.approve(rows)  # the Python API, as in a notebook cell
    assert n == len(rows) > 0
    assert f"<b>{n}</b><span>approved</span>" in app.actions_summary.value
    assert [_cells(r)[DECISION] for r in _row_texts(app)[:n]] == ["Approved"] * n
    assert "Approved: " in app.decision_html.value
    app.data.actions.skip([rows["customer_id"].iloc[0]])
    assert _cells(_row_texts(app)[0])[DECISION] == "Skipped"
    assert "<b>1</b><span>skipped</span>" in app.actions_summary.value
    assert "Skipped by" in app.decision_html.value


def test_likely_gone_customers_are_listed_apart_and_skipped_by_bulk(sample_data):
    from cjml.panel._app import MarketerPanel

    d = sample_data
    reach = d.recommender.recommend(
        d.log, cutoff=d.cutoff, customers=d.table["customer_id"].to_numpy()
    )["reach_probability"]
    scores = d.table.assign(reach_probability=reach.to_numpy(), status="scored")
    data = PanelData.from_inputs(
        d.bundle, d.log, scores, report=None, decisions=None, reach_threshold=0.2
    )
    gone = data.table["reach_probability"] < 0.2
    assert 0 < gone.sum() < len(gone)
    app = MarketerPanel(data, page_size=10)
    assert app.page.n_matching == int((~gone).sum())
    assert app.likely_gone.get_title(0) == f"Likely gone ({int(gone.sum()):,})"
    assert app.likely_gone.selected_index is None  # collapsed
    assert "cjml-likely-gone" in app.likely_gone._dom_classes
    gone_ids = set(data.table.loc[gone, "customer_id"])
    shown = [
        _cells(c.value)[ID]
        for c, b in zip(app.gone_html, app.gone_boxes, strict=True)
        if b.layout.display != "none"
    ]
    assert shown and {int(c) for c in shown} <= gone_ids
    assert not {int(_cells(r)[ID]) for r in _row_texts(app)} & gone_ids
    reaches = [_cells(r)[REACH] for r in _row_texts(app)]
    assert all(r.endswith("%") for r in reaches)
    app.approve_matching.click()
    app.confirm_yes.click()
    approved = set(app.data.actions.approved()["customer_id"])
    assert approved and not approved & gone_ids
    # one of them can still be opened and decided on its own
    app.gone_open[0].click()
    assert app.profile.customer_id == app.gone_page.rows["customer_id"].iloc[0]


def test_unknown_and_inactive_customers(app):
    app.row_open[0].click()
    assert app.profile is not None
    app.customer_id.value = "no-such-customer"
    # the view is cleared: no stale profile, nothing to act on
    assert app.profile is None
    assert app.customer_body.layout.display == "none"
    assert all(b.disabled for b in (app.approve_button, app.override_button, app.skip_button))
    assert "No customer &#x27;no-such-customer&#x27; in these scores" in app.customer_notice.value
    assert app.customer_notice.layout.display != "none"
    # a customer in the events but outside the scored population
    log_ids = pd.Index(app.data.log.customer_ids)
    scored = set(app.data.table["customer_id"])
    inactive = [c for c in log_ids if c not in scored][:12]
    for cid in inactive:  # labelled inactive, whether or not there is a profile to show
        app.open_customer(cid)
        assert app.inactive_label.layout.display != "none", cid
        assert app.approve_button.disabled and app.override_button.disabled
    for cid in inactive:
        app.open_customer(cid)
        if app.profile is not None:  # some have nothing before the cutoff to show
            break
    assert app.profile is not None and app.profile.customer_id == cid
    assert app.inactive_label.layout.display != "none"
    assert "Inactive: outside the scored population" in app.inactive_label.value
    assert app.approve_button.disabled and app.override_button.disabled
    app._on_approve_customer()  # even if the click got through
    assert "inactive" in app.customer_notice.value
    assert app.data.actions.decisions([cid]).iloc[0] is None


def test_errors_are_shown_beside_their_control_not_raised(app, monkeypatch):
    app.customer_id.value = ""
    app.open_button.click()
    assert "Type a customer id first" in app.customer_notice.value
    app.skip_selected.click()
    assert "Tick one or more customers first" in app.list_notice.value
    assert app.customer_notice.layout.display == "none"  # the last message cleared

    def boom(*args, **kwargs):
        raise RuntimeError("the model file vanished")

    monkeypatch.setattr(app.data.customers, "query", boom)
    app.risk_band.value = "high"
    assert "the model file vanished" in app.list_notice.value
    assert "cjml-notice-error" in app.list_notice._dom_classes
    monkeypatch.undo()
    app.risk_band.value = "low"
    assert app.list_notice.value == "" and app.list_notice.layout.display == "none"


def test_panel_function_builds_from_scores(sample_data, tmp_path):
    from cjml import i18n

    scores = cjml.score(sample_data.bundle, sample_data.log, top_k=2)
    scores_path = tmp_path / "scores.parquet"
    scores.to_parquet(scores_path)
    app = cjml.panel(
        sample_data.bundle,
        sample_data.log,
        scores_path,
        report=None,
        segment_col=None,
        page_size=50,
        user="kim",
        export_path=tmp_path / "out",
    )
    assert app.page.n_total == int((scores["status"] == "scored").sum())
    assert len(_row_texts(app)) == 50
    assert app.segment.layout.display == "none"
    assert "No journey map" in app.overview_stages.value
    assert app.user.value == "kim"
    # decisions go to the log beside the scores, and a new panel replays them
    first = app.page.rows.iloc[[0]]
    app.data.actions.approve(first)
    assert app.data.decision_log_path == tmp_path / "decisions.jsonl"
    again = cjml.panel(sample_data.bundle, sample_data.log, scores_path, report=None)
    assert again.data.actions.decisions(first["customer_id"]).tolist() == ["approved"]
    assert _cells(_row_texts(again)[0])[DECISION] == "Approved"
    try:
        vi = cjml.panel(
            sample_data.bundle, sample_data.log, scores, report=None, decisions=None, lang="vi"
        )
        assert i18n.current().language == "vi" and i18n.current().currency == "VND"
        assert f"{len(vi.data.table):,}".replace(",", ".") in vi.page.caption()
    finally:
        i18n.set_language("en")


def test_rules_shape_the_list_and_the_what_if(sample_data):
    from cjml.panel._app import MarketerPanel

    rules = {"exclude": ["email"]}
    data = PanelData.from_inputs(sample_data.bundle, sample_data.log, rules=rules, report=None)
    assert "email" not in set(data.table["recommended_touchpoint"].dropna())
    assert data.table["recommended_touchpoint"].notna().any()
    app = MarketerPanel(data)
    app.touchpoint.value = app.touchpoint.options[1][1]
    app.row_open[0].click()
    options = app.profile.options.set_index("touchpoint")
    assert "email" in options.index and not options.loc["email", "allowed"]
    assert options.loc["email", "blocked_by"] == "excluded by the rules"
    app.whatif.value = "email"
    assert "Not allowed by the rules: excluded by the rules" in app.whatif_result.value
    app.override_button.click()
    assert "is not allowed for this customer" in app.customer_notice.value


def test_plots_have_a_light_background_for_dark_pages(small_log):
    from cjml.panel._plots import png_bytes

    ax = plot_timeline(timeline_data(small_log, 1))
    assert ax.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    import matplotlib.image

    png = matplotlib.image.imread(io.BytesIO(png_bytes(ax)), format="png")
    assert png.shape[2] == 3 or (png[..., 3] == 1).all()  # opaque: no transparent corners
    assert (png[0, 0, :3] == 1).all()


def test_importing_the_headless_panel_does_not_import_ipywidgets():
    code = (
        "import sys, cjml, cjml.panel\n"
        "from cjml.panel import customer_table, write_csv, ActionBook\n"
        "assert callable(cjml.panel)\n"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_table_keeps_the_first_recommendations_interval_and_flag(small_log):
    scores = _scores().assign(
        expected_risk_reduction_low=[-0.01, np.nan, 0.02, np.nan],
        expected_risk_reduction_high=[0.05, np.nan, 0.08, np.nan],
        uncertain=[True, None, False, None],
    )
    table = customer_table(scores, small_log, cutoff="2024-01-25")
    assert table["expected_risk_reduction_low"].tolist()[::2] == [-0.01, 0.02]
    assert table["uncertain"].tolist() == [True, None, False]
    assert "expected_risk_reduction_low" not in customer_table(_scores(), small_log).columns


def test_a_reduction_reads_the_same_in_the_list_the_customer_view_and_the_export(app, tmp_path):
    """One rounding rule: the points are those of the two rounded percentages beside them."""
    import re

    from cjml.panel._data._common import shown_change

    assert shown_change(0.1604, 0.0624) == pytest.approx(0.098)  # 16.0% -> 6.2%: 9.8 points
    # 16.0% -> 6.3% reads 9.7 points, though the exact drop (9.78) alone would round to 9.8
    assert points(0.0978, 0.1604) == "9.7 points" and points(0.0978) == "9.8 points"
    assert points(0.004, 0.5) == "under 0.5 points" and points(None, 0.5) == "\u2013"
    first = _cells(_row_texts(app)[0])
    cid = first[ID]
    listed = first[REDUCTION]
    app.open_customer(int(cid))
    p = app.profile
    # the reason's "from A to B (N points)" and its recommendations table agree with the list
    before, after, said = re.search(
        r"from ([\d.]+)% to ([\d.]+)% \(([\d.]+) points\)", p.reason
    ).groups()
    assert f"{said} points" == listed
    assert round(float(before) - float(after), 1) == float(said)
    assert f">{listed}<" in app.recommendations_html.value
    app.data.actions.approve(app.data.rows_of([p.customer_id]))
    path = app.data.actions.export_csv(tmp_path)
    exported = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert exported["expected_risk_reduction_shown"].tolist() == [listed]


def test_the_header_speaks_to_marketers_not_developers(app):
    d = app.data
    header = html.unescape(app._header_html())
    assert f"{len(d.table):,} customers scored as of" in header
    assert d.log.journey_map.name == "default"  # the default map is not worth naming
    assert "journey map" not in header and "column" not in header


def test_the_panel_reads_events_under_the_users_own_column_names(sample_data):
    from _panel_bundle import sample_bundle_path

    from cjml.datasets import load_sample

    theirs = load_sample().rename(columns={"customer_id": "user", "touchpoint": "action"})
    with pytest.raises(cjml.exceptions.SchemaError, match="Did you mean 'user'"):
        PanelData.from_inputs(sample_bundle_path(), theirs, user="tester", report=None)
    data = PanelData.from_inputs(
        sample_bundle_path(),
        theirs,
        user="tester",
        report=None,
        columns="customer_id=user,touchpoint=action",
    )
    assert data.log.n_events == sample_data.log.n_events
    pd.testing.assert_series_equal(
        data.table["churn_risk"].reset_index(drop=True),
        sample_data.table["churn_risk"].reset_index(drop=True),
    )
    # a bundle trained on these names reads them with no columns= at all
    bundle = cjml.ModelBundle.load(sample_bundle_path())
    bundle.metadata["column_names"] = {"customer_id": "user", "touchpoint": "action"}
    remembered = PanelData.from_inputs(bundle, theirs, user="tester", report=None)
    assert remembered.log.n_events == sample_data.log.n_events


def test_the_panel_reads_events_with_bad_rows_set_aside_when_asked(sample_data, tmp_path):
    from cjml.exceptions import SchemaError

    events = sample_data.log.frame.head(3000).copy()
    events["customer_id"] = events["customer_id"].astype(str)
    events.loc[events.index[:5], "customer_id"] = ""  # five rows without a customer
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    with pytest.raises(SchemaError, match="missing or empty customer id"):
        PanelData.from_inputs(sample_data.bundle, path, report=None, decisions=None)
    with pytest.warns(UserWarning, match="Set aside 5 rows"):
        data = PanelData.from_inputs(
            sample_data.bundle, path, report=None, decisions=None, on_error="quarantine"
        )
    assert data.log.n_events == len(events) - 5
