"""What each customer is worth, in the app and the journey map: the list's order by value
saved, the value columns and words, the overview's top customers, the export, and the
journey map's value by stage and group (issue 22).

The value columns are those of cjml.score with a value model; tests that need them on
real scores add them from the bundle's own value model when the scores lack them."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.i18n import format_currency, language
from cjml.panel import (
    SORT_KEYS,
    ActionBook,
    CustomerList,
    PanelData,
    PanelError,
    customer_table,
    default_sort,
    overview_data,
    sort_customers,
    what_if,
)
from cjml.panel._data._common import worth
from cjml.panel._data._customer import WhatIf

VALUE_COLUMNS = (
    "value_if_retained",
    "expected_value",
    "expected_value_low",
    "expected_value_high",
    "value_at_risk",
)


# ============================================================================ fixtures
def _scores() -> pd.DataFrame:
    """Five customers: 4 has no recommendation, 5 was not scored."""
    risk = np.array([0.9, 0.1, 0.6, 0.5, np.nan])
    value = np.array([100.0, 400.0, 50.0, 80.0, np.nan])
    reduction = np.array([0.05, 0.03, 0.2, np.nan, np.nan])
    cost = 2.0
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "churn_risk": risk,
            "risk_band": ["very high", "low", "high", "medium", None],
            "recommended_touchpoint": ["email", "email", "live_chat", None, None],
            "expected_risk_reduction": reduction,
            "recommended_touchpoint_2": ["sms", None, "email", None, None],
            "expected_risk_reduction_2": [0.04, np.nan, 0.1, np.nan, np.nan],
            "expected_value_saved_2": [0.04 * 100 - 1, np.nan, 0.1 * 50 - 2, np.nan, np.nan],
            "value_if_retained": value,
            "expected_value": (1 - risk) * value,
            "expected_value_low": 0.5 * (1 - risk) * value,
            "expected_value_high": 1.5 * (1 - risk) * value,
            "value_at_risk": risk * value,
            # value saved: 3.0, 10.0, 8.0, none (by reduction the order is 3, 1, 2)
            "expected_value_saved": reduction * value - cost,
            "status": ["scored", "scored", "scored", "scored", "inactive"],
        }
    )


@pytest.fixture(scope="module")
def table():
    return customer_table(_scores())


def _with_values(scores: pd.DataFrame, bundle, log) -> pd.DataFrame:
    """The scores with the value columns of cjml.score, from the bundle's own value model.

    When cjml.score already wrote them they are kept; otherwise they are computed as score
    does (the value model on the featurizer's rows at the cutoff, with the scored risk), and
    the value saved of each rank is its reduction times the value if retained, net of the
    touchpoint's cost in the bundle's rules.
    """
    if "expected_value_saved" in scores.columns:
        return scores
    summary = scores.attrs.get("summary") or {}
    cutoff = pd.Timestamp(summary["cutoff"]) if summary.get("cutoff") else None
    X = bundle.featurizer.transform(log, cutoff=cutoff)
    ids = scores["customer_id"].to_numpy()
    values = bundle.models["value"].predict_value(
        X.loc[ids], scores["churn_risk"].to_numpy(dtype=float)
    )
    out = scores.copy()
    for name in VALUE_COLUMNS:
        out[name] = values[name].to_numpy()
    costs = {t.name: t.cost or 0.0 for t in bundle.journey_map.touchpoints}
    for suffix in ("", "_2", "_3"):
        if f"expected_risk_reduction{suffix}" not in out.columns:
            continue
        cost = out[f"recommended_touchpoint{suffix}"].map(lambda t: costs.get(t, 0.0)).astype(float)
        out[f"expected_value_saved{suffix}"] = (
            out[f"expected_risk_reduction{suffix}"] * out["value_if_retained"] - cost
        )
    return out


@pytest.fixture(scope="module")
def sample():
    """The sample's bundle (with its value model), events and scores with values."""
    from _panel_bundle import sample_bundle_path

    from cjml.datasets import load_sample

    bundle = cjml.ModelBundle.load(sample_bundle_path())
    log = cjml.read_events(load_sample(), journey_map=bundle.journey_map)
    scores = cjml.score(bundle, log, top_k=2)
    return bundle, log, _with_values(scores, bundle, log)


@pytest.fixture(scope="module")
def valued_data(sample):
    bundle, log, scores = sample
    return PanelData.from_inputs(bundle, log, scores, user="tester", decisions=None)


def _text(markup: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", markup))).strip()


def _cells(row_html: str) -> list[str]:
    return [
        html.unescape(re.sub("<[^>]+>", "", c))
        for c in re.findall(r"<div class='cjml-cell[^']*'>(.*?)</div>", row_html)
    ]


# ============================================================================ the list
def test_the_customer_table_carries_the_value_columns(table):
    assert table["customer_id"].tolist() == [1, 2, 3, 4]  # 5 was not scored
    for name in (*VALUE_COLUMNS, "expected_value_saved", "expected_value_saved_2"):
        assert table[name].dtype == float, name
    assert table["expected_value"].tolist() == pytest.approx([10.0, 360.0, 20.0, 40.0])
    # V = expected value + value at risk, row by row
    np.testing.assert_allclose(
        table["expected_value"] + table["value_at_risk"], table["value_if_retained"]
    )


def test_the_default_order_is_value_saved_with_no_recommendation_last(table):
    ids = table["customer_id"].to_numpy()
    assert default_sort(table) == "value_saved" and SORT_KEYS["value_saved"] is True
    # value saved: 2 (10.0), 3 (8.0), 1 (3.0), then 4 without a recommendation
    assert ids[sort_customers(table)].tolist() == [2, 3, 1, 4]
    # ascending, the missing value still goes last
    assert ids[sort_customers(table, ascending=True)].tolist() == [1, 3, 2, 4]
    assert CustomerList(table).query().rows["customer_id"].tolist() == [2, 3, 1, 4]
    # the order by risk reduction is still there, by its name, and differs
    by_reduction = CustomerList(table).query(sort_by="expected_retained")
    assert by_reduction.rows["customer_id"].tolist() == [3, 1, 2, 4]


def test_without_any_recommendation_the_default_order_is_value_at_risk_then_risk(table):
    """A bundle that cannot recommend: no reduction to rank by, so the list leads with the
    value at risk (with values), else the churn risk; the app's first order is that one."""
    from cjml.panel._app import _sorts

    unrecommended = table.copy()
    for c in table.columns:
        if c.startswith(("expected_risk_reduction", "expected_value_saved", "recommended_")):
            unrecommended[c] = np.nan
    ids = unrecommended["customer_id"].to_numpy()
    assert default_sort(unrecommended) == "value_at_risk"
    assert CustomerList(unrecommended).query().rows["customer_id"].tolist() == [1, 2, 4, 3]
    assert _sorts(unrecommended)[0][1] == "value_at_risk:desc"
    no_values = unrecommended.drop(columns=[*VALUE_COLUMNS])
    assert default_sort(no_values) == "churn_risk"
    by_risk = ids[np.argsort(-no_values["churn_risk"].to_numpy(), kind="stable")].tolist()
    assert CustomerList(no_values).query().rows["customer_id"].tolist() == by_risk
    assert _sorts(no_values)[0][1] == "churn_risk:desc"
    assert _sorts(table)[0][1] == "value_saved:desc"  # with recommendations, as before
    assert len(_sorts(no_values)) == len({key for _, key in _sorts(no_values)})


def test_sorting_by_value_and_value_at_risk(table):
    ids = table["customer_id"].to_numpy()
    assert ids[sort_customers(table, "expected_value")].tolist() == [2, 4, 3, 1]
    # 90, 40, 40, 30: ties keep the table's order
    assert ids[sort_customers(table, "value_at_risk")].tolist() == [1, 2, 4, 3]
    assert ids[sort_customers(table, "value_at_risk", ascending=True)].tolist() == [3, 2, 4, 1]


def test_scores_without_values_fall_back_cleanly():
    scores = _scores().drop(
        columns=[*VALUE_COLUMNS, "expected_value_saved", "expected_value_saved_2"]
    )
    table = customer_table(scores)
    assert not any(c.startswith(("expected_value", "value_")) for c in table.columns)
    assert default_sort(table) == "expected_retained"
    assert CustomerList(table).query().rows["customer_id"].tolist() == [3, 1, 2, 4]
    with pytest.raises(PanelError, match="Cannot sort by 'value_saved'; choose one of"):
        sort_customers(table, "value_saved")
    ov = overview_data(table)
    assert ov.top_value_saved is None
    assert np.isnan(ov.total_value_at_risk) and np.isnan(ov.total_expected_value)


def test_the_overview_totals_and_its_top_customers_count_each_customer_once(table):
    ov = overview_data(table, top=2)
    assert ov.total_expected_value == pytest.approx(10 + 360 + 20 + 40)
    assert ov.total_value_at_risk == pytest.approx(90 + 40 + 30 + 40)
    # the first-ranked touchpoints only: the alternatives (rank 2) are never added
    assert ov.total_value_saved == pytest.approx(3.0 + 10.0 + 8.0)
    top = ov.top_value_saved
    assert top["customer_id"].tolist() == [2, 3]
    assert top["recommended_touchpoint"].tolist() == ["email", "live_chat"]
    assert top["expected_value_saved"].tolist() == pytest.approx([10.0, 8.0])
    assert not top["customer_id"].duplicated().any()


# ============================================================================ the words
def test_values_read_in_whole_units_of_the_currency():
    assert worth(119.6) == "$120"
    assert worth(-0.4) == "$0"  # never "-$0"
    assert worth(None) == worth(np.nan) == "\u2013"
    assert worth(1234567.8, "EUR") == "\u20ac1,234,568"
    assert format_currency(2.5) == "$2.50"  # costs keep their cents
    with language("vi"):
        assert worth(119.6) == "120\u00a0\u20ab"
        assert worth(1234567.8) == "1.234.568\u00a0\u20ab"


def test_value_saved_is_zero_without_a_reduction_or_a_cost():
    w = WhatIf("email", 0.4, 0.4, 0.0, 0.0, True, "", value_if_retained=250.0)
    assert w.value_saved == 0.0
    assert "Expected value saved $0" in w.value_text()
    # the reduction already counts the chance of reaching the customer: never times reach
    w = WhatIf("email", 0.4, 0.3, 0.1, 2.0, True, "", value_if_retained=250.0)
    assert w.value_saved == pytest.approx(0.1 * 250 - 2)
    assert w.value_text() == (
        "Expected value saved $23: keeps about $25 of expected spend for a cost of $2.00."
    )
    assert w.value_text() in w.text()
    without = WhatIf("email", 0.4, 0.3, 0.1, 2.0, True, "")
    assert without.value_text() == "" and "value" not in without.text()
    with language("vi", currency="USD"):
        assert w.value_text() == (
            "Giá trị kỳ vọng giữ lại được 23\u00a0US$: khoảng 25\u00a0US$ chi tiêu dự kiến được "
            "giữ lại với chi phí 2,00\u00a0US$."
        )


def test_the_customer_view_says_what_the_customer_is_worth(valued_data):
    d = valued_data
    cid = d.customers.query().rows["customer_id"].iloc[0]
    p = d.profile(cid)
    assert p.has_value and p.horizon_days == 30
    row = d.rows_of([cid]).iloc[0]
    # the same numbers as the scores (the profile values the customer as cjml.score does)
    assert p.expected_value == pytest.approx(row["expected_value"], rel=1e-6)
    assert p.value_at_risk == pytest.approx(row["value_at_risk"], rel=1e-6)
    assert p.expected_value_low <= p.expected_value <= p.expected_value_high
    expected = (
        f"Expected value about {worth(p.expected_value)} ({worth(p.expected_value_low)}"
        f"\u2013{worth(p.expected_value_high)}) over the next 30 days; "
        f"{worth(p.value_at_risk)} at risk."
    )
    assert p.value_text() == expected
    with language("vi"):
        assert p.value_text().startswith("Giá trị kỳ vọng khoảng ")
        assert "trong 30 ngày tới;" in p.value_text()
    # every what-if option says its value saved: reduction x value if retained - cost
    options = p.options
    np.testing.assert_allclose(
        options["value_saved"],
        options["risk_reduction"] * p.value_if_retained - options["cost"],
    )
    w = what_if(p, options["touchpoint"].iloc[0])
    assert w.value_saved == pytest.approx(options["value_saved"].iloc[0])


# ============================================================================ the export
def test_the_export_carries_the_value_columns_rounded_beside_exact(tmp_path, table):
    book = ActionBook(user="lan")
    book.approve(table.iloc[[2, 0]])
    book.override(
        2,
        "sms",
        expected_risk_reduction=0.02,
        baseline_risk=0.1,
        expected_value_saved=5.5,
        expected_value=360.0,
        value_at_risk=40.0,
    )
    approved = book.approved()
    assert approved["customer_id"].tolist() == [3, 1, 2]
    assert approved["expected_value_saved"].tolist() == pytest.approx([8.0, 3.0, 5.5])
    assert approved["expected_value_saved_shown"].tolist() == ["$8", "$3", "$6"]
    assert approved["value_at_risk_shown"].tolist() == ["$30", "$90", "$40"]
    path = book.export_csv(tmp_path / "actions.csv")
    exported = pd.read_csv(path, encoding="utf-8-sig")
    columns = list(exported.columns)
    assert columns.index("expected_value_saved_shown") + 1 == columns.index("expected_value_saved")
    assert exported["expected_value"].tolist() == pytest.approx([20.0, 10.0, 360.0])


def test_an_export_without_values_has_no_value_columns(tmp_path):
    scores = _scores().drop(columns=[*VALUE_COLUMNS, "expected_value_saved"])
    book = ActionBook(user="lan")
    book.approve(customer_table(scores).iloc[[0]])
    assert not any("value" in c for c in book.approved().columns)


# ============================================================================ the app
def test_the_app_lists_value_columns_and_sorts_by_value_saved(valued_data, tmp_path):
    from cjml.panel._app import MarketerPanel

    app = MarketerPanel(valued_data, page_size=10, export_path=tmp_path / "a.csv")
    assert app.sort.value == "value_saved:desc"
    header = _cells(app.list_header.value)
    assert header[3:10] == [
        "Churn risk",
        "Value",
        "Value at risk",
        "Recommended",
        "Exp. reduction",
        "Value saved",
        "Reach",
    ]
    rows = app.page.rows
    saved = rows["expected_value_saved"].to_numpy()
    assert (np.diff(saved[~np.isnan(saved)]) <= 0).all()  # most value saved first
    first = _cells(app.row_html[0].value)
    assert len(first) == len(header) == 12
    assert first[4] == worth(rows["expected_value"].iloc[0])
    assert first[5] == worth(rows["value_at_risk"].iloc[0])
    assert first[8] == worth(rows["expected_value_saved"].iloc[0])
    # the overview: value totals and the top customers by value saved
    cards = _text(app.overview_cards.value)
    assert worth(valued_data.overview.total_value_at_risk) + " value at risk of drop-off" in cards
    top = _text(app.overview_value.value)
    assert top.startswith("Top customers by value saved")
    assert str(valued_data.overview.top_value_saved["customer_id"].iloc[0]) in top
    # the journey map's value by stage (the panel passes its scores): the stages add up
    stages = _text(app.overview_stages.value)
    assert "Value by stage" in stages
    assert valued_data.report.value["value_at_risk"].sum() == pytest.approx(
        valued_data.overview.total_value_at_risk
    )
    # the customer view says the value in words, and the what-if the value saved
    app.open_customer(rows["customer_id"].iloc[0])
    assert app.profile.value_text() in _text(app.customer_summary.value)
    assert "Expected value saved" in _text(app.whatif_result.value)
    assert "Value saved" in _text(app.recommendations_html.value)


# ============================================================================ journey map
def test_the_journey_map_values_add_up_to_the_scored_totals(sample):
    bundle, log, scores = sample
    by = "segment"
    report = cjml.journey_map(log, bundle=None, scores=scores, by=by)
    scored = scores[scores["status"] == "scored"]
    value = report.value
    assert value["stage"].tolist() == list(log.journey_map.stages)
    assert value["customers"].sum() == len(scored)
    assert value["expected_value"].sum() == pytest.approx(scored["expected_value"].sum())
    # value at risk per stage adds up to the total, and the shares to 1
    assert value["value_at_risk"].sum() == pytest.approx(scored["value_at_risk"].sum())
    assert value["value_at_risk_share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        value["mean_expected_value"], value["expected_value"] / value["customers"]
    )
    # per group (to_frame gives the split table): the same totals, stage by stage too
    grouped = report.to_frame("value")
    assert list(grouped.columns[:2]) == [by, "stage"]
    per_stage = grouped.groupby("stage")[["customers", "value_at_risk"]].sum()
    per_stage = per_stage.reindex(value["stage"])
    assert per_stage["customers"].tolist() == value["customers"].tolist()
    np.testing.assert_allclose(per_stage["value_at_risk"], value["value_at_risk"])
    assert grouped["value_at_risk_share"].sum() == pytest.approx(1.0)
    # the stage of a customer is their current stage: check one by hand
    cid = scored["customer_id"].iloc[0]
    frame = log.frame[log.frame["customer_id"] == cid]
    stage = str(frame["stage"].iloc[-1])
    assert value.set_index("stage").loc[stage, "customers"] >= 1


def test_the_journey_map_says_the_value_in_html_and_text(sample):
    bundle, log, scores = sample
    report = cjml.journey_map(log, scores=scores, by="segment")
    total_risk = worth(scores.loc[scores["status"] == "scored", "value_at_risk"].sum())
    text = report.to_text()
    assert "drop-off is expected to cost " + total_risk in text
    page = report.html_page("en")
    assert "<h4>Value by stage</h4>" in page and "<h4>Value by segment</h4>" in page
    assert "share of value at risk" in page
    vi = report.html_page("vi")
    assert "Giá trị theo giai đoạn" in vi and "tỷ trọng giá trị có nguy cơ mất" in vi


def test_a_journey_map_without_values_says_how_to_get_them(sample):
    _bundle, log, scores = sample
    report = cjml.journey_map(log)
    assert report.value is None
    assert "Value by stage" not in report.html_page("en")
    with pytest.raises(ValueError, match="no values: they need a bundle with a value model"):
        report.to_frame("value")
    # older scores (no value model) give no value table; half of the columns is an error
    older = scores.drop(columns=[c for c in scores.columns if "value" in c])
    assert cjml.journey_map(log, scores=older).value is None
    with pytest.raises(ValueError, match=r"scores lacks column\(s\) \['value_at_risk'\]"):
        cjml.journey_map(log, scores=scores.drop(columns="value_at_risk"))


def test_a_decision_log_written_before_values_replays(tmp_path):
    from cjml.panel import DecisionLog

    path = tmp_path / "decisions.jsonl"
    path.write_text(
        '{"customer_id": 7, "decision": "approved", "touchpoint": "email", "override": false, '
        '"note": null, "churn_risk": 0.5, "expected_risk_reduction": 0.1, "risk_after": 0.4, '
        '"uncertain": false, "decided_by": "lan", "decided_at": "2026-12-01T08:00:00Z", '
        '"source": "panel", "bundle": null}\n',
        encoding="utf-8",
    )
    book = ActionBook(log=DecisionLog(path))
    approved = book.approved()
    assert approved["customer_id"].tolist() == [7]
    assert not any("value" in c for c in approved.columns)  # nothing made up
    book.approve(customer_table(_scores()).iloc[[1]])  # a valued decision after them
    assert book.approved()["expected_value_saved"].tolist()[-1] == pytest.approx(10.0)
    assert np.isnan(book.approved()["expected_value_saved"].iloc[0])


def test_value_saved_order_is_descending_with_the_missing_last_for_any_values():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    saved_values = st.lists(
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=40
    )

    @settings(max_examples=60, deadline=None)
    @given(saved_values, st.booleans())
    def check(saved, ascending):
        n = len(saved)
        saved_arr = np.array([np.nan if v is None else v for v in saved], dtype=float)
        scores = pd.DataFrame(
            {
                "customer_id": np.arange(n),
                "churn_risk": np.full(n, 0.5),
                "risk_band": ["high"] * n,
                "recommended_touchpoint": np.where(np.isnan(saved_arr), None, "email"),
                "expected_risk_reduction": np.where(np.isnan(saved_arr), np.nan, 0.1),
                "expected_value_saved": saved_arr,
            }
        )
        table = customer_table(scores)
        order = sort_customers(table, ascending=ascending)
        assert sorted(order.tolist()) == list(range(n))  # every customer once
        got = saved_arr[order]
        known = ~np.isnan(got)
        assert not (known[1:] & ~known[:-1]).any()  # missing values only at the end
        steps = np.diff(got[known])
        assert (steps >= 0).all() if ascending else (steps <= 0).all()

    check()


def test_a_journey_map_with_a_value_bundle_values_the_customers_as_score_does(sample):
    bundle, log, _scores_with_values = sample
    report = cjml.journey_map(log, bundle)
    assert report.info["value_from"] == "the model bundle"
    cutoff = report.info["cutoff"]
    scored = cjml.score(bundle, log, cutoff=cutoff, drivers=False, recommend=False)
    scored = scored[scored["status"] == "scored"]
    assert report.value["customers"].sum() == len(scored)
    assert report.value["expected_value"].sum() == pytest.approx(scored["expected_value"].sum())
    assert report.value["value_at_risk"].sum() == pytest.approx(scored["value_at_risk"].sum())


def test_the_app_says_which_touchpoints_lack_a_cost_and_orders_by_the_reduction(sample, tmp_path):
    """Scores of a drafted map (no touchpoint has a cost): no value saved anywhere. The
    overview says why and how to give costs, never "no recommended touchpoint", and the
    list is ordered by the expected reduction."""
    from cjml.panel._app import MarketerPanel

    bundle, log, scores = sample
    unpriced = scores.assign(
        **{c: np.nan for c in scores.columns if c.startswith("expected_value_saved")}
    )
    data = PanelData.from_inputs(bundle, log, unpriced, user="tester", decisions=None)
    chosen = sorted(unpriced["recommended_touchpoint"].dropna().unique())
    assert chosen and data.overview.touchpoints_without_cost == tuple(chosen)
    app = MarketerPanel(data, page_size=10, export_path=tmp_path / "a.csv")
    assert app.sort.value.startswith("expected_retained")
    top = _text(app.overview_value.value)
    assert "Value saved is unknown: " in top
    assert f"add cost = N under [touchpoints.{chosen[0]}]" in top
    assert "No customer has a recommended touchpoint yet" not in top
