"""The data-driven journey map: values on hand-built logs, the sample, exports, plots, CLI."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.analytics import JourneyMapReport, journey_map
from cjml.cli import main
from cjml.datasets import load_sample, sample_path
from cjml.i18n import label_text, language

matplotlib.use("Agg")

# Three stages; "ad" belongs to visit only, so a paying customer who sees an ad
# moves back to visit (the stage of an event is clipped to its touchpoint's stages).
MAP = {
    "name": "tiny",
    "stages": ["visit", "trial", "paid"],
    "touchpoints": {
        "ad": {"channel": "online", "stages": ["visit"]},
        "signup": {"channel": "online", "stages": ["trial"]},
        "payment": {"channel": "online", "stages": ["paid"]},
        "email": {"channel": "online", "stages": ["visit", "trial", "paid"], "actionable": True},
        "call": {"channel": "offline", "stages": ["trial", "paid"], "actionable": True},
    },
}

# The log ends on 2024-01-28, so the data ends at 2024-01-29 00:00; with a 10-day
# horizon, a customer whose last event is on or before 2024-01-19 went silent.
#   A: visit 01-01, trial 01-03, paid 01-10..01-12          -> silent in paid
#   B: visit 01-02..01-04, trial 01-05                      -> silent in trial
#   C: visit 01-20..01-28                                   -> active in visit
#   D: trial 01-02, paid 01-06, back to visit 01-08, trial 01-25 -> active in trial
ROWS = [
    # customer, day, touchpoint, satisfaction, nps, segment
    ("A", "01-01", "ad", None, None, "x"),
    ("A", "01-03", "signup", 4, None, "x"),
    ("A", "01-10", "payment", 5, None, "x"),
    ("A", "01-12", "email", None, 9, "x"),
    ("B", "01-02", "ad", None, None, "x"),
    ("B", "01-04", "email", None, 3, "x"),
    ("B", "01-05", "signup", 2, None, "x"),
    ("C", "01-20", "ad", None, 8, "y"),
    ("C", "01-28", "email", None, 10, "y"),
    ("D", "01-02", "signup", None, None, "x"),
    ("D", "01-06", "payment", None, None, "x"),
    ("D", "01-08", "ad", None, 7, "y"),
    ("D", "01-25", "signup", None, None, "y"),
]


def tiny_frame(scores: bool = True) -> pd.DataFrame:
    df = pd.DataFrame(
        ROWS, columns=["customer_id", "day", "touchpoint", "satisfaction", "nps", "segment"]
    )
    df["timestamp"] = "2024-" + df.pop("day")
    df[["satisfaction", "nps"]] = df[["satisfaction", "nps"]].astype(float)
    return df if scores else df.drop(columns=["satisfaction", "nps"])


def tiny_log(scores: bool = True, frame: pd.DataFrame | None = None) -> cjml.EventLog:
    return cjml.read_events(tiny_frame(scores) if frame is None else frame, journey_map=MAP)


@pytest.fixture(scope="module")
def tiny():
    return journey_map(tiny_log(), by="segment", horizon="10D")


@pytest.fixture(scope="module")
def sample_log():
    return cjml.read_events(load_sample())


@pytest.fixture(scope="module")
def sample(sample_log):
    return journey_map(sample_log, by="segment")


def by_stage(frame: pd.DataFrame, column: str) -> list:
    return [None if pd.isna(v) else v for v in frame[column]]


# --------------------------------------------------------------------------- known answers
def test_funnel_conversion_and_drop_off_on_a_hand_built_log(tiny):
    s = tiny.stages
    assert list(s["stage"]) == ["visit", "trial", "paid"]
    assert list(s["customers"]) == [4, 3, 2]
    assert list(s["reached"]) == [4, 3, 2]  # D skipped visit at first but reached everything
    assert s["reached_share"].tolist() == [1.0, 0.75, 0.5]
    assert by_stage(s, "converted") == [3, 2, None]
    assert list(s["pending"]) == [1, 0, 0]  # C is still active in visit, its furthest stage
    # visit: A, B and D moved on; C is pending -> 3 / 3. trial: A and D of A, B, D.
    assert by_stage(s, "conversion") == [1.0, pytest.approx(2 / 3), None]
    assert list(s["dropped"]) == [0, 1, 1]  # B went silent in trial, A in paid
    assert list(s["active"]) == [1, 1, 0]  # C in visit, D (back to trial) in trial
    # trial: B silent among A (left), B (silent); D is active there, so left out
    assert s["drop_off"].tolist() == [0.0, 0.5, 0.5]
    assert list(s["moved_back"]) == [0, 0, 1]  # D went from paid back to visit


def test_median_days_in_stage_sums_stays_and_ends_at_the_last_event(tiny):
    # visit: A 2, B 3, C 8 (to its last event), D 17 -> 5.5
    # trial: A 7, B 0 (its last event), D 4 + 0 -> 4; paid: A 2, D 2 -> 2
    assert tiny.stages["median_days"].tolist() == [5.5, 4.0, 2.0]


def test_touchpoints_per_stage(tiny):
    tp = tiny.touchpoints
    visit = tp[tp["stage"] == "visit"]
    assert list(visit["touchpoint"]) == ["ad", "email"]
    assert list(visit["events"]) == [4, 2]
    assert list(visit["customers"]) == [4, 2]
    assert visit["customer_share"].tolist() == [1.0, 0.5]
    assert visit["event_share"].tolist() == pytest.approx([4 / 6, 2 / 6])
    trial = tp[tp["stage"] == "trial"]
    assert list(trial[["touchpoint", "events", "customers"]].itertuples(index=False)) == [
        ("signup", 4, 3)
    ]
    assert tp["events"].sum() == len(ROWS)
    assert list(tiny.stages["top_touchpoints"]) == [
        "ad (67%), email (33%)",
        "signup (100%)",
        "payment (67%), email (33%)",
    ]


def test_satisfaction_and_nps_class_mix(tiny):
    s = tiny.stages
    assert by_stage(s, "mean_satisfaction") == [None, 3.0, 5.0]
    assert list(s["satisfaction_answers"]) == [0, 2, 1]
    # visit: B 3 (detractor), C's latest 10 (promoter, not its earlier 8), D 7 (passive)
    assert list(s["nps_respondents"]) == [3, 0, 1]
    assert s["promoters"].iloc[0] == pytest.approx(1 / 3)
    assert s["passives"].iloc[0] == pytest.approx(1 / 3)
    assert s["detractors"].iloc[0] == pytest.approx(1 / 3)
    assert by_stage(s, "nps") == [pytest.approx(0.0), None, 100.0]


def test_nps_classes_at_their_boundaries():
    frame = pd.DataFrame(
        {
            "customer_id": range(6),
            "timestamp": "2024-01-01",
            "touchpoint": "ad",
            "nps": [0, 6, 7, 8, 9, 10],
        }
    )
    s = journey_map(cjml.read_events(frame, journey_map=MAP)).stages
    assert s.loc[0, ["promoters", "passives", "detractors"]].tolist() == pytest.approx(
        [2 / 6, 2 / 6, 2 / 6]
    )
    assert s.loc[0, "nps"] == pytest.approx(0.0)


def test_groups_by_a_column_use_each_customers_last_value(tiny):
    g = tiny.group_stages
    assert list(g.columns[:2]) == ["segment", "stage"]
    x, y = g[g["segment"] == "x"], g[g["segment"] == "y"]  # D ends in "y"
    assert list(x["reached"]) == [2, 2, 1]
    assert list(y["reached"]) == [2, 1, 1]
    assert by_stage(x, "conversion") == [1.0, 0.5, None]
    assert by_stage(y, "conversion") == [1.0, 1.0, None]
    assert list(y["pending"]) == [1, 0, 0]
    assert x["drop_off"].tolist() == [0.0, 0.5, 1.0]
    for column in ("customers", "reached", "dropped", "active", "moved_back"):
        summed = g.groupby("stage", sort=False)[column].sum()
        assert summed.tolist() == tiny.stages[column].tolist()
    assert set(tiny.group_flows["segment"]) == {"x", "y"}
    assert tiny.group_touchpoints.groupby("segment")["events"].sum().to_dict() == {"x": 7, "y": 6}


def test_flows_count_each_customer_once_per_move(tiny):
    flows = {
        (r.from_stage, r.to_stage, r.kind): r.customers for r in tiny.flows.itertuples(index=False)
    }
    assert flows == {
        ("visit", "trial", "forward"): 3,
        ("visit", "still active", "active"): 1,
        ("trial", "paid", "forward"): 2,
        ("trial", "dropped", "dropped"): 1,
        ("trial", "still active", "active"): 1,
        ("paid", "visit", "back"): 1,
        ("paid", "dropped", "dropped"): 1,
    }


def test_the_result_does_not_depend_on_row_order(tiny):
    shuffled = tiny_frame().sample(frac=1.0, random_state=3)
    again = journey_map(tiny_log(frame=shuffled), by="segment", horizon="10D")
    for name in ("stages", "touchpoints", "flows", "group_stages"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(tiny, name))


def test_the_cutoff_ignores_later_events():
    report = journey_map(tiny_log(), cutoff="2024-01-09", horizon="10D")
    s = report.stages
    # by 01-09: A reached trial; B trial; C not yet seen; D paid then back to visit
    assert report.info["n_customers"] == 3
    assert list(s["reached"]) == [3, 3, 1]
    assert list(s["dropped"]) == [0, 0, 0]  # nobody silent for 10 days before 01-09
    assert list(s["active"]) == [1, 2, 0]


def test_horizon_and_lookback_defaults(tiny):
    with pytest.warns(
        UserWarning,
        match=r"Dropping off is 30 days of silence, and the log covers "
        r"\d+ days before the cutoff, so no customer can be seen to drop off.*"
        r"horizon='\d+D'",
    ):
        report = journey_map(tiny_log())
    assert report.info["horizon"] == pd.Timedelta(days=30)
    assert report.info["lookback"] == pd.Timedelta(days=90)
    assert report.info["cutoff"] == pd.Timestamp("2024-01-29", tz="UTC")
    assert list(report.stages["dropped"]) == [0, 0, 0]  # the log spans under 30 days
    assert tiny.info["horizon"] == pd.Timedelta(days=10)


def test_a_horizon_the_log_can_show_is_not_warned_about(tiny):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = journey_map(tiny_log(), horizon="10D")
    assert report.stages["dropped"].sum() > 0


def test_columns_without_data_give_nan_and_a_dash():
    report = journey_map(tiny_log(scores=False), horizon="10D")
    s = report.stages
    assert s["mean_satisfaction"].isna().all() and s["nps"].isna().all()
    assert (s["satisfaction_answers"] == 0).all() and (s["nps_respondents"] == 0).all()
    html = report._repr_html_()
    assert "\u2013" in html
    assert "need a model" in html
    assert "missing_touchpoints" not in s.columns and report.opportunities is None


def test_an_empty_stage_has_nan_rates_and_no_touchpoints():
    frame = tiny_frame()[lambda d: d["customer_id"] == "C"]
    s = journey_map(tiny_log(frame=frame), horizon="10D").stages
    assert list(s["reached"]) == [1, 0, 0]
    assert s.loc[1:, ["conversion", "drop_off", "median_days"]].isna().all().all()
    assert s.loc[1:, "top_touchpoints"].isna().all()


# --------------------------------------------------------------------------- opportunities
EFFECTS = pd.DataFrame(
    [
        ("A", "paid", "email", 0.02),
        ("A", "paid", "call", -0.01),
        ("B", "trial", "email", 0.03),
        ("B", "trial", "call", 0.02),
        ("C", "visit", "email", 0.05),
        ("D", "trial", "email", 0.01),
        ("D", "trial", "call", 0.04),
    ],
    columns=["customer_id", "stage", "touchpoint", "risk_reduction"],
)


def test_missing_touchpoints_rank_by_reduction_and_flag_low_use():
    report = journey_map(tiny_log(), effects=EFFECTS, horizon="10D")
    opp = report.opportunities
    rows = {(r.stage, r.touchpoint): r for r in opp.itertuples(index=False)}
    assert list(opp["stage"]) == ["visit", "trial", "trial", "paid", "paid"]
    assert list(opp["touchpoint"]) == ["email", "call", "email", "email", "call"]
    assert rows["trial", "call"].mean_risk_reduction == pytest.approx(0.03)
    assert rows["trial", "call"].current_use == 0.0
    assert rows["trial", "email"].mean_risk_reduction == pytest.approx(0.02)
    assert rows["trial", "email"].current_use == 0.5  # B had an email, D did not
    assert rows["trial", "call"].customers == 2
    # flagged: positive, top half of the stage, used by under 10%
    assert opp["missing"].tolist() == [False, True, False, False, False]
    assert by_stage(report.stages, "missing_touchpoints") == [None, "call", None]
    assert report.info["opportunities_from"] == "the effects given"
    html = report._repr_html_()
    assert "3.0 points" in html and "missing" in html  # the one rounding rule (cjml.i18n)


def test_current_use_counts_only_the_lookback():
    report = journey_map(tiny_log(), effects=EFFECTS, horizon="10D", lookback="2D")
    opp = report.opportunities.set_index(["stage", "touchpoint"])
    assert opp.loc[("visit", "email"), "current_use"] == 1.0  # C's email on 01-28
    assert opp.loc[("paid", "email"), "current_use"] == 0.0  # A's email on 01-12 is too old
    flagged = report.opportunities.loc[report.opportunities["missing"], "touchpoint"]
    assert list(flagged) == ["call", "email"]  # trial call, paid email
    strict = journey_map(tiny_log(), effects=EFFECTS, horizon="10D", low_use=0.0)
    assert not strict.opportunities["missing"].any()


def test_opportunities_per_group():
    report = journey_map(tiny_log(), effects=EFFECTS, by="segment", horizon="10D")
    g = report.group_opportunities
    trial = g[g["stage"] == "trial"].set_index(["segment", "touchpoint"])
    assert trial.loc[("x", "email"), "mean_risk_reduction"] == pytest.approx(0.03)  # B
    assert trial.loc[("y", "call"), "mean_risk_reduction"] == pytest.approx(0.04)  # D
    assert report.to_frame("opportunities").equals(g)


def test_bad_effects_are_refused():
    log = tiny_log()
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['risk_reduction'\]"):
        journey_map(log, effects=EFFECTS.drop(columns="risk_reduction"))
    with pytest.raises(ValueError, match=r"stage\(s\) \['trail'\].*Did you mean 'trial'"):
        journey_map(log, effects=EFFECTS.assign(stage="trail"))
    with pytest.raises(ValueError, match="without a stage"):
        journey_map(log, effects=EFFECTS.assign(stage=None))
    with pytest.raises(ValueError, match="finite numbers"):
        journey_map(log, effects=EFFECTS.assign(risk_reduction=np.nan))
    with pytest.raises(ValueError, match=r"1 customer\(s\) without events.*'Z'"):
        journey_map(log, effects=pd.concat([EFFECTS, EFFECTS.head(1).assign(customer_id="Z")]))
    with pytest.raises(TypeError, match="effects must be a DataFrame"):
        journey_map(log, effects=[1, 2])


# --------------------------------------------------------------------------- errors
def test_a_missing_by_column_is_named_with_the_available_ones():
    with pytest.raises(
        cjml.SchemaError,
        match=r"by='segmnt' \(--by segmnt\) is not a column.*Did you mean 'segment'\?.*"
        r"\['segment'\]",
    ):
        journey_map(tiny_log(), by="segmnt")
    bare = tiny_frame().drop(columns="segment")
    with pytest.raises(ValueError, match="no column to group customers by"):
        journey_map(tiny_log(frame=bare), by="segment")


def test_other_bad_arguments():
    log = tiny_log()
    with pytest.raises(ValueError, match="No event happened at or before the cutoff"):
        journey_map(log, cutoff="2023-06-01")
    with pytest.raises(ValueError, match="low_use must be a share"):
        journey_map(log, low_use=5)
    with pytest.raises(ValueError, match="horizon must be a positive duration"):
        journey_map(log, horizon="-3D")
    report = journey_map(log)
    with pytest.raises(ValueError, match="Unknown table 'stage'.*Did you mean 'stages'"):
        report.to_frame("stage")
    with pytest.raises(ValueError, match="need a model"):
        report.to_frame("opportunities")
    with pytest.raises(ValueError, match="needs a map split with by="):
        report.plot_funnel(group="x")
    with pytest.raises(ValueError, match=r"group='z' is not a value of 'segment'"):
        journey_map(log, by="segment").plot_flow(group="z")


# --------------------------------------------------------------------------- the sample
def test_sample_end_to_end_invariants(sample, sample_log):
    s = sample.stages
    stages = list(sample_log.journey_map.stages)
    n = sample_log.n_customers
    assert list(s["stage"]) == stages
    assert sample.info["n_customers"] == n and sample.info["n_events"] == sample_log.n_events
    assert s["reached"].iloc[0] == n
    assert (np.diff(s["reached"]) <= 0).all()  # the funnel never widens
    assert (s["customers"] <= s["reached"]).all()
    assert s["dropped"].sum() + s["active"].sum() == n  # each customer ends in one stage
    assert s["converted"].iloc[:-1].tolist() == s["reached"].iloc[1:].tolist()
    for column in (
        "reached_share",
        "conversion",
        "drop_off",
        "promoters",
        "passives",
        "detractors",
    ):
        values = s[column].dropna()
        assert ((values >= 0) & (values <= 1)).all(), column
    assert s["conversion"].iloc[:-1].notna().all() and pd.isna(s["conversion"].iloc[-1])
    assert ((s["nps"].dropna() >= -100) & (s["nps"].dropna() <= 100)).all()
    assert (s["median_days"] >= 0).all()
    mix = s[["promoters", "passives", "detractors"]].dropna().sum(axis=1)
    assert np.allclose(mix, 1.0)
    assert sample.touchpoints["events"].sum() == sample_log.n_events
    g = sample.group_stages
    assert g.shape == (5 * len(stages), s.shape[1] + 1)
    assert g.groupby("stage", sort=False)["reached"].sum().tolist() == s["reached"].tolist()
    flows = sample.flows
    ends = flows[flows["kind"].isin(["dropped", "active"])]["customers"].sum()
    assert ends == n


def test_sample_opportunities_from_a_hand_made_effects_frame(sample_log):
    frame = sample_log.frame
    last = frame.groupby("customer_id", observed=True).tail(1)
    jm = sample_log.journey_map
    rows = [
        (c, s, t, 0.05 if t == "live_chat" else 0.001)
        for c, s in zip(last["customer_id"], last["stage"].astype(str), strict=True)
        for t in jm.eligible_touchpoints(s)
    ]
    effects = pd.DataFrame(rows, columns=["customer_id", "stage", "touchpoint", "risk_reduction"])
    report = journey_map(sample_log, effects=effects)
    opp = report.opportunities
    expected = last["stage"].astype(str).map(lambda s: bool(jm.eligible_touchpoints(s))).sum()
    assert opp.groupby("stage", sort=False)["customers"].first().sum() == expected
    assert "awareness" not in set(opp["stage"])  # nothing actionable there in the default map
    top = opp.groupby("stage", sort=False).head(1)
    chat_stages = [s for s in jm.stages if "live_chat" in jm.eligible_touchpoints(s)]
    assert (top.set_index("stage").loc[chat_stages, "touchpoint"] == "live_chat").all()
    assert ((opp["current_use"] >= 0) & (opp["current_use"] <= 1)).all()
    flagged = report.stages.set_index("stage")["missing_touchpoints"].dropna()
    assert len(flagged)
    for stage, names in flagged.items():
        rows = opp[opp["stage"] == stage].set_index("touchpoint")
        names = names.split(", ")
        assert names == list(rows.index[rows["missing"]])
        assert 0 < len(names) <= np.ceil(len(rows) / 2)  # the top half at most, ties by name
        assert (rows.loc[names, "current_use"] < 0.1).all()
        if rows.loc["live_chat", "current_use"] < 0.1:
            assert names[0] == "live_chat"


# --------------------------------------------------------------------------- exports
def test_csv_round_trip(tiny, tmp_path):
    for table in ("stages", "touchpoints", "flows"):
        path = tiny.to_csv(tmp_path / f"{table}.csv", table=table)
        back = pd.read_csv(path)
        pd.testing.assert_frame_equal(back, tiny.to_frame(table), check_dtype=False)
    plain = journey_map(tiny_log(), effects=EFFECTS, horizon="10D")
    path = plain.to_csv(tmp_path / "map.csv")
    pd.testing.assert_frame_equal(pd.read_csv(path), plain.stages, check_dtype=False)
    assert "missing_touchpoints" in pd.read_csv(path).columns


def test_files_are_never_overwritten_without_force(tiny, tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("precious")
    with pytest.raises(cjml.InputFileError, match="already exists"):
        tiny.to_csv(path)
    assert path.read_text() == "precious"
    tiny.to_csv(path, force=True)
    assert pd.read_csv(path).shape[0] == 6
    with pytest.raises(cjml.InputFileError, match=r"must end in \.html"):
        tiny.to_html(tmp_path / "map.htm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.csv"]  # no temporary files


def test_html_page_is_self_contained(tiny, tmp_path):
    path = tiny.to_html(tmp_path / "map.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") == 2
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
    # names as people read them (cjml.i18n.label_text), as in the panel
    for text in ("Visit", "Trial", "Paid", "Ad (67%), Email (33%)", "By segment", "50.0%"):
        assert text in page


def test_notebook_html(tiny):
    html = tiny._repr_html_()
    assert "<table" in html and "<script" not in html
    assert "4 (100%)" in html  # reached, with its share
    assert "66.7%" in html  # trial conversion
    assert "3.00 (2)" in html  # trial CSAT and answers
    assert "+0 (33% / 33% / 33%, n=3)" in html  # visit NPS
    assert isinstance(tiny, JourneyMapReport)
    text = tiny.to_text()
    assert "Trial" in text and "drop-off    50%" in text


# --------------------------------------------------------------------------- plots
def test_funnel_and_flow_plots_have_titles_and_labels(sample):
    import matplotlib.pyplot as plt

    names = [label_text(s) for s in sample.stages["stage"]]  # "Awareness"...
    ax = sample.plot_funnel()
    assert ax.get_title() == "Stage funnel"
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    widths = sorted((p.get_width() for p in ax.patches), reverse=True)
    assert widths == sorted(sample.stages["reached"].astype(float), reverse=True)
    ax = sample.plot_flow()
    assert ax.get_title() == "Stage-to-stage flow"
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    fig, axes = plt.subplots(1, 2)
    assert sample.plot_funnel(axes[0], group="business") is axes[0]
    assert sample.plot_flow(axes[1], group="business").get_title().endswith("segment = business")
    plt.close("all")


def test_flow_bands_are_proportional_to_customers(tiny):
    import matplotlib.pyplot as plt

    ax = tiny.plot_flow()
    heights = []
    for coll in ax.collections:  # fill_between bands, as tall as their customers
        verts = coll.get_paths()[0].vertices
        start = verts[verts[:, 0] == verts[:, 0].min(), 1]
        heights.append(round(float(np.ptp(start)), 9))
    expected = tiny.flows.loc[tiny.flows["kind"] != "back", "customers"].astype(float)
    assert sorted(heights) == sorted(expected)
    plt.close("all")


# --------------------------------------------------------------------------- CLI
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_html_and_csv(tmp_path, capsys):
    out = tmp_path / "map.html"
    code, text, err = run(
        capsys, "journey-map", str(sample_path("events")), "--by", "segment", "--out", str(out)
    )
    assert code == 0, err
    assert out.read_text(encoding="utf-8").count("data:image/png;base64,") == 2
    assert "3,000 customers" in text and "5 groups of 'segment'" in text
    csv = tmp_path / "map.csv"
    code, text, err = run(
        capsys,
        "journey-map",
        str(sample_path("events")),
        "--cutoff",
        "2024-06-01",
        "--horizon",
        "20D",
        "--out",
        str(csv),
    )
    assert code == 0, err
    table = pd.read_csv(csv)
    assert list(table["stage"]) == list(cjml.JourneyMap.default().stages)
    assert "up to the end of May 31, 2024 UTC" in text and "silent for 20 days" in text


def test_cli_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "map.html"
    out.write_text("precious")
    code, _, err = run(capsys, "journey-map", str(sample_path("events")), "--out", str(out))
    assert code == 1
    assert "already exists" in err and "--force" in err
    assert out.read_text() == "precious"
    code, _, err = run(
        capsys, "journey-map", str(sample_path("events")), "--out", str(out), "--force"
    )
    assert code == 0, err
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]


def test_cli_errors(tmp_path, capsys):
    events = str(sample_path("events"))
    code, _, err = run(
        capsys, "journey-map", events, "--by", "segmnt", "--out", str(tmp_path / "m.csv")
    )
    assert code == 1
    # in command-line words: the option, not the keyword
    assert err.startswith("error: --by segmnt is not a column") and "by=" not in err
    assert "Did you mean 'segment'?" in err
    code, _, err = run(capsys, "journey-map", events, "--out", str(tmp_path / "m.txt"))
    assert code == 1 and "must end in .html" in err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- languages
#: Sentences and headings of the English page that the Vietnamese one must not show.
ENGLISH_TEXTS = (
    "How to read it",
    "Touchpoints that lower the drop-off risk, by stage",
    "Stage funnel",
    "Stage-to-stage flow",
    "customers who reached the stage",
    "events up to",
    "top half by mean risk reduction",
    "share of those who reached the stage",
    "percentage points",
    ">Stages<",
    ">Plots<",
)


@pytest.fixture(scope="module")
def with_effects():
    return journey_map(tiny_log(), effects=EFFECTS, horizon="10D", by="segment")


def test_the_english_page_keeps_its_words(with_effects):
    page = with_effects.html_page()
    assert page.startswith("<!DOCTYPE html><html lang='en'>")
    for text in ENGLISH_TEXTS:
        assert text in page, text
    for text in (
        "4 customers, 13 events up to the end of Jan 28, 2024 UTC",
        "66.7%",
        "3.00 (2)",
        "3.0 points",
    ):
        assert text in page, text


def test_the_vietnamese_page_speaks_vietnamese(with_effects, tmp_path):
    page = with_effects.to_html(tmp_path / "map.html", lang="vi").read_text(encoding="utf-8")
    assert page == with_effects.html_page(lang="vi")
    assert page.startswith("<!DOCTYPE html><html lang='vi'>")
    for text in (
        "<h2>Bản đồ hành trình</h2>",
        "<h4>Các giai đoạn</h4>",
        "<h4>Theo segment</h4>",
        "<h3>Biểu đồ</h3>",
        "Cách đọc",
        "4 khách hàng, 13 sự kiện đến cuối ngày 28 thg 1, 2024 UTC",  # the vi date format
        "alt='Phễu các giai đoạn'",
        "66,7%",  # decimal commas
        "3,00 (2)",
        "3,0 điểm phần trăm",
        "&#9873; còn thiếu",
    ):
        assert text in page, text
    for text in ENGLISH_TEXTS:
        assert text not in page, text
    # the language was only borrowed for the page
    assert "How to read it" in with_effects._repr_html_()
    assert cjml.i18n.current().language == "en"


def test_names_plots_and_text_follow_the_language(sample):
    import matplotlib.pyplot as plt

    with language("vi"):
        ax = sample.plot_funnel()
        assert ax.get_title() == "Phễu các giai đoạn"
        assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["Nhận biết", "Cân nhắc"]
        assert ax.texts[0].get_text() == "3.000 (100%)"  # the vi group symbol
        ax = sample.plot_flow()
        assert ax.get_title() == "Dòng chuyển giữa các giai đoạn"
        assert "im lặng" in ax.get_xlabel()
        text = sample.to_text()
        page = sample.html_page()
    plt.close("all")
    assert "khách hàng" in text and "Nhận biết" in text and "customers" not in text
    assert "3.000 khách hàng" in text  # the vi group symbol
    assert "Nhận biết" in page and ">Awareness<" not in page
    # the tables stay English: machine-readable
    assert list(sample.to_frame()["stage"])[0] == "awareness"


def test_every_message_of_the_journey_map_is_translated():
    from babel.messages.pofile import read_po

    from cjml import i18n

    with i18n.catalogue_path("vi").open("rb") as fh:
        vi = read_po(fh, locale="vi", domain=i18n.DOMAIN)
    ours = {"cjml/analytics.py", "cjml/cli/_data.py"}
    messages = [m for m in i18n._extract() if m.id and ours & {f for f, _n in m.locations}]
    assert len(messages) > 50
    left = [m.id for m in messages if vi.get(m.id) is None or vi.get(m.id) in i18n.untranslated(vi)]
    assert left == []


def test_cli_writes_a_vietnamese_page(tmp_path, capsys):
    out = tmp_path / "map.html"
    code, text, err = run(
        capsys, "journey-map", str(sample_path("events")), "--lang", "vi", "--out", str(out)
    )
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html><html lang='vi'>")
    assert "Các giai đoạn" in page and "Nhận biết" in page and "How to read it" not in page
    assert "3.000 khách hàng" in text and "rời bỏ" in text and "drop-off" not in text
    csv = tmp_path / "map.csv"
    code, text, err = run(
        capsys, "journey-map", str(sample_path("events")), "--lang", "vi", "--out", str(csv)
    )
    assert code == 0, err
    table = pd.read_csv(csv)  # machine-readable: English columns and names
    assert {"stage", "reached", "drop_off"} <= set(table.columns)
    assert table["stage"][0] == "awareness"


def test_cli_values_the_stages_in_the_currency_asked_for(tmp_path, capsys):
    from _panel_bundle import sample_bundle_path

    events, model = str(sample_path("events")), str(sample_bundle_path())
    out = tmp_path / "map.html"
    code, text, err = run(
        capsys, "journey-map", events, "--model", model, "--currency", "EUR", "--out", str(out)
    )
    assert code == 0, err
    # the value per stage, in euros in the summary and on the page; never in dollars
    assert "drop-off is expected to cost €" in text and "$" not in text
    page = out.read_text(encoding="utf-8")
    assert "€" in page and "$" not in page
    # a code that is not a currency is refused before any work, in command-line words
    code, _, err = run(
        capsys, "journey-map", events, "--currency", "EURO", "--out", str(tmp_path / "m.html")
    )
    assert code == 1 and "--currency" in err and "ISO 4217" in err
    assert not (tmp_path / "m.html").exists()
