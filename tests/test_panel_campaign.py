"""The panel's export carries a control group: on by default with 10%, configurable.

The approved actions become a campaign (cjml.export_campaign): the control rows stay in the
export with ``arm = control`` and no action, the assignments and the manifest sit beside it,
and no export ever replaces an earlier campaign's files. The held-out customers are kept in
the decision log.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from cjml.campaign import assignments_path, manifest_path, read_campaign
from cjml.exceptions import CampaignError
from cjml.panel import ActionBook, DecisionLog, PanelError
from cjml.panel._data._actions import control_share

BOM = "\ufeff"
CUTOFF = "2024-06-01"


def _clock():
    return datetime(2026, 12, 2, 8, 5, tzinfo=UTC)


def _rows(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "churn_risk": rng.uniform(0.05, 0.95, n),
            "recommended_touchpoint": rng.choice(["email", "live_chat", "discount_offer"], n),
            "expected_risk_reduction": rng.uniform(0.0, 0.06, n),
        }
    )


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype={"customer_id": "int64"})


def _export(book, path, **kw):
    kw = {"control": 0.1, "cutoff": CUTOFF, "horizon": "30D", **kw}
    return book.export_csv(path, **kw)


# ============================================================================ the book
def test_control_group_export_is_a_readable_stratified_campaign(tmp_path):
    rows = _rows()
    book = ActionBook(user="lan", clock=_clock)
    book.approve(rows)
    book.override(1000, "email", expected_risk_reduction=0.03, baseline_risk=0.5)
    written = _export(book, tmp_path / "q3.csv", seed=7)
    assert written == tmp_path / "q3.csv"
    campaign = read_campaign(manifest_path(written))  # verifies every hash
    m = campaign.manifest
    assert m["control"] == 0.1 and m["seed"] == 7 and m["horizon"] == str(pd.Timedelta("30D"))
    assert pd.Timestamp(m["cutoff"]) == pd.Timestamp(CUTOFF, tz="UTC")
    assert m["arms"] == {"treatment": 216, "control": 24}
    assert m["files"]["export"]["name"] == "q3.csv"
    assert assignments_path(written).exists()
    # stratified: every touchpoint x risk band holds out floor(10% x n) or one more
    strata = pd.DataFrame(m["strata"])
    assert len(strata) == 9 and strata["n"].sum() == len(rows)
    low = np.floor(0.1 * strata["n"])
    assert ((strata["n_control"] >= low) & (strata["n_control"] <= low + 1)).all()
    a = campaign.assignments
    counted = a[a["arm"] == "control"].groupby(["touchpoint", "risk_band"]).size()
    expected = strata.set_index(["touchpoint", "risk_band"])["n_control"]
    assert counted.reindex(expected.index, fill_value=0).tolist() == expected.tolist()
    # the override counts with the touchpoint approved, not the one recommended
    assert a.set_index("customer_id").loc[1000, "touchpoint"] == "email"

    export = _read(written)
    # the same columns as without a control group, plus the arm
    assert list(export.columns[:3]) == ["customer_id", "arm", "touchpoint"]
    assert sorted(export["customer_id"]) == sorted(rows["customer_id"])
    control = export[export["arm"] == "control"]
    treated = export[export["arm"] == "treatment"]
    assert set(control["customer_id"]) == set(a.loc[a["arm"] == "control", "customer_id"])
    # nobody delivers to the control group: no touchpoint, no expected effect; the risk stays
    assert control["touchpoint"].isna().all()
    assert control["expected_risk_reduction"].isna().all()
    assert control["churn_risk"].notna().all()
    assert control["reason"].str.startswith("held out as control in campaign").all()
    assert treated["touchpoint"].notna().all()
    assert book.last_campaign.campaign_id == campaign.campaign_id


def test_without_a_control_group_the_export_is_as_before(tmp_path):
    book = ActionBook(user="lan", clock=_clock)
    book.approve(_rows(30))
    for i, off in enumerate((None, 0, "0", "0%", "off")):
        written = book.export_csv(tmp_path / f"a{i}.csv", control=off)
        assert not manifest_path(written).exists() and not assignments_path(written).exists()
        export = _read(written)
        assert list(export.columns) == list(book.approved().columns)  # no arm column
        assert export["touchpoint"].notna().all() and len(export) == 30
    assert book.last_campaign is None
    assert [control_share(v) for v in (None, 0, 0.0, "0", "off", "10%", "0.25", 0.5)] == [
        None,
        None,
        None,
        None,
        None,
        0.1,
        0.25,
        0.5,
    ]
    for bad in ("100%", "-5%", "1.5", "lots"):
        with pytest.raises(ValueError, match="10%"):
            control_share(bad)


def test_a_second_export_never_overwrites_the_first_campaign(tmp_path):
    book = ActionBook(user="lan", clock=_clock)
    book.approve(_rows(120))
    first = _export(book, tmp_path / "q3.csv")
    trio = [first, manifest_path(first), assignments_path(first)]
    before = [p.read_bytes() for p in trio]
    book.approve(_rows(150).iloc[120:])  # 30 more approved after the first campaign
    second = _export(book, tmp_path / "q3.csv")
    assert second == tmp_path / "q3-2026-12-02-0805.csv"  # the dated name keeps the trio
    assert [p.read_bytes() for p in trio] == before
    again = read_campaign(manifest_path(second))
    assert again.manifest["files"]["export"]["name"] == second.name
    assert again.campaign_id != read_campaign(manifest_path(first)).campaign_id
    # the first campaign's control group is left out of the second: it stays untreated
    earlier = read_campaign(manifest_path(first)).assignments
    held = set(earlier.loc[earlier["arm"] == "control", "customer_id"])
    assert len(held) == 12 and not held & set(again.assignments["customer_id"])
    assert sum(again.manifest["arms"].values()) == 150 - 12
    # a manifest left beside a name (its export deleted) still sends the export elsewhere
    first.unlink()
    third = _export(book, tmp_path / "q3.csv")
    assert third == tmp_path / "q3-2026-12-02-0805-2.csv"
    assert manifest_path(first).read_bytes() == before[1]
    # a folder: dated names, each with its own manifest
    folder = tmp_path / "out"
    folder.mkdir()
    names = [_export(book, folder).name for _ in range(2)]
    stamp = "approved_actions-2026-12-02-0805"
    assert names == [f"{stamp}.csv", f"{stamp}-2.csv"]
    assert len(list(folder.glob("*.campaign.json"))) == 2
    # force replaces a plain file, never a campaign
    with pytest.raises(CampaignError, match="never overwritten"):
        _export(book, second, force=True)
    assert manifest_path(second).exists() and read_campaign(manifest_path(second))


def test_the_decision_log_keeps_who_was_held_out(tmp_path):
    log_path = tmp_path / "decisions.jsonl"
    book = ActionBook(user="lan", clock=_clock, log=DecisionLog(log_path))
    book.approve(_rows(100))
    plain = log_path.read_text(encoding="utf-8").splitlines()
    assert all("arm" not in json.loads(line) for line in plain)  # lines as before campaigns
    written = _export(book, tmp_path / "a.csv", campaign_id="2024-06-01-spring")
    campaign = read_campaign(manifest_path(written))
    held = set(campaign.assignments.query("arm == 'control'")["customer_id"])
    assert len(held) == 10
    lines = [json.loads(x) for x in log_path.read_text(encoding="utf-8").splitlines()]
    marked = lines[len(plain) :]
    assert {r["customer_id"] for r in marked} == held
    assert {(r["arm"], r["campaign"], r["decision"]) for r in marked} == {
        ("control", "2024-06-01-spring", "approved")
    }
    # a restart shows them; the decisions themselves are unchanged
    again = ActionBook(user="lan", log=DecisionLog(log_path))
    assert set(again.held_out()["customer_id"]) == held
    assert again.counts() == book.counts() == {"approved": 100, "overridden": 0, "skipped": 0}
    pd.testing.assert_frame_equal(again.approved(), book.approved())
    # a new decision on a held-out customer ends their hold-out
    one = sorted(held)[0]
    again.skip([one])
    again.approve(_rows(100).query("customer_id == @one"))
    assert one not in set(again.held_out()["customer_id"])
    # an old log (no arm, no campaign) reads as before
    old = tmp_path / "old.jsonl"
    old.write_text("\n".join(plain) + "\n", encoding="utf-8")
    assert ActionBook(log=DecisionLog(old)).held_out().empty


def test_a_campaign_needs_its_cutoff(tmp_path):
    book = ActionBook(user="lan", clock=_clock)
    book.approve(_rows(20))
    with pytest.raises(CampaignError, match="cutoff"):
        book.export_csv(tmp_path / "a.csv", control=0.1, horizon="30D")
    assert not list(tmp_path.iterdir())  # the claimed name is released
    with pytest.raises(PanelError, match="No approved actions"):
        ActionBook().export_csv(tmp_path / "a.csv", control=0.1, cutoff=CUTOFF)


# ============================================================================ the panel
@pytest.fixture(scope="module")
def data():
    from _panel_bundle import sample_bundle_path

    from cjml.datasets import load_sample
    from cjml.panel import PanelData

    return PanelData.from_inputs(sample_bundle_path(), load_sample(), report=None, user="t")


def _app(data, tmp_path, **kw):
    from cjml.panel._app import MarketerPanel

    data.actions = ActionBook(user="tester", clock=_clock)
    return MarketerPanel(data, page_size=10, export_path=tmp_path / "actions.csv", **kw)


def test_the_panel_exports_with_10_percent_control_by_default(data, tmp_path):
    app = _app(data, tmp_path)
    assert app.control.value == 0.1 and "10%" in app.control_why.value
    assert "no action" in app.control_why.value and "measure" in app.control_why.value
    rows = data.table[data.table["recommended_touchpoint"].notna()].head(60)
    data.actions.approve(rows)
    app.export_button.click()
    notice = app.export_notice.value
    assert "cjml-notice-error" not in app.export_notice._dom_classes, notice
    written = tmp_path / "actions.csv"
    campaign = read_campaign(manifest_path(written))
    m = campaign.manifest
    assert m["control"] == 0.1 and m["arms"] == {"treatment": 54, "control": 6}
    assert m["bundle"]["fingerprint"] == data.bundle.metadata["training_data"]["fingerprint"]
    assert m["horizon"] == str(pd.Timedelta(data.bundle.metadata["horizon"]))
    assert pd.Timestamp(m["cutoff"]) == pd.Timestamp(data.cutoff)
    if data.segment_col:  # the uplift can be split by segment
        seg = data.table.set_index("customer_id")[data.segment_col]
        a = campaign.assignments.set_index("customer_id")
        assert (a["segment"] == seg.reindex(a.index)).all()
    # the confirmation: rows written, each arm, the manifest, and how to measure it
    assert "Wrote 60 approved actions to" in notice
    assert "54 customers to act on" in notice and "6 held out as the control group" in notice
    assert str(manifest_path(written).resolve()) in notice
    assert "cjml uplift" in notice and "EVENTS" in notice and campaign.campaign_id in notice
    end = pd.Timestamp(data.cutoff) + pd.Timedelta(data.bundle.metadata["horizon"])
    from cjml.i18n import format_date

    assert format_date(end) in notice
    # the Actions tab says who is held out, and the next export leaves them out
    assert "6 approved customers are held out" in app.actions_summary.value
    app.export_button.click()
    second = read_campaign(manifest_path(tmp_path / "actions-2026-12-02-0805.csv"))
    assert sum(second.manifest["arms"].values()) == 54
    assert "Wrote 54 approved actions" in app.export_notice.value


def test_the_control_in_the_actions_tab_changes_the_share(data, tmp_path):
    app = _app(data, tmp_path, control="20%")
    assert app.control.value == 0.2
    rows = data.table[data.table["recommended_touchpoint"].notna()].head(50)
    data.actions.approve(rows)
    app.control.value = 0.05
    assert "5%" in app.control_why.value
    app.export_button.click()
    m = read_campaign(manifest_path(tmp_path / "actions.csv")).manifest
    assert m["control"] == 0.05 and m["arms"]["control"] == math.floor(0.05 * 50 + 0.5)
    app.control.value = 0.0  # off: the old export, no campaign
    assert "No control group" in app.control_why.value
    app.export_button.click()
    plain = tmp_path / "actions-2026-12-02-0805.csv"
    assert "arm" not in _read(plain).columns and not manifest_path(plain).exists()
    assert "cjml uplift" not in app.export_notice.value
    # an unusual share is offered as it was given
    odd = _app(data, tmp_path, control=0.125)
    assert odd.control.value == 0.125 and "12.5%" in odd.control_why.value
    off = _app(data, tmp_path, control=None)
    assert off.control.value == 0.0


def test_panel_refuses_a_wrong_share_before_scoring():
    import cjml

    with pytest.raises(ValueError, match="10%"):
        cjml.panel("no-such-bundle.cjml", "no-such-events.parquet", control="150%")


# ============================================================================ cjml app
@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, 0.1), ("10%", 0.1), ("0.25", 0.25), ("5%", 0.05), ("0", None), ("off", None)],
)
def test_cjml_app_control_option(given, expected, tmp_path):
    from cjml.cli._main import build_parser
    from cjml.panel._serve import _panel_arguments

    argv = ["app", "m.cjml", "e.parquet"] + ([] if given is None else ["--control", given])
    args = build_parser().parse_args(argv)
    assert args.control == expected
    (tmp_path / "m.cjml").touch()
    (tmp_path / "e.parquet").touch()
    arguments = _panel_arguments(
        tmp_path / "m.cjml",
        tmp_path / "e.parquet",
        None,
        lang="en",
        currency=None,
        decisions="auto",
        export_folder=None,
        reach_threshold=0.05,
        control=args.control,
    )
    # the served notebook calls cjml.panel with the share (the default is left out)
    if expected == 0.1:
        assert "control" not in arguments
    else:
        assert arguments["control"] == expected
        assert expected is None or math.isclose(arguments["control"], expected)


@pytest.mark.parametrize("given", ["150%", "1", "-0.1", "many"])
def test_cjml_app_refuses_a_wrong_control(given, capsys):
    from cjml.cli._main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["app", "m.cjml", "e.parquet", "--control", given])
    err = capsys.readouterr().err
    assert "--control" in err and "10%" in err and "off" in err and repr(given) in err
