"""Campaigns: the seeded, stratified control group on export, the manifest as a record that
is checked and never overwritten, and the measured uplift (intervals that cover the truth,
refusals before the horizon and for another log)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.campaign import (
    Campaign,
    CampaignError,
    assign_arms,
    export_campaign,
    measure_campaign,
    newcombe_interval,
    parse_share,
    read_campaign,
)
from cjml.campaign._uplift import EFFECT_COLUMNS
from cjml.i18n import language

CUTOFF = pd.Timestamp("2024-06-01", tz="UTC")
TOUCHPOINTS = ("email", "live_chat", "personalised_offer")


def make_frame(n: int = 600, seed: int = 0, *, segment: bool = False) -> pd.DataFrame:
    """A recommendation table as TouchpointRecommender.recommend returns it (ids as index)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(TOUCHPOINTS) + 1, size=n, p=[0.3, 0.3, 0.2, 0.2])
    none = pick == len(TOUCHPOINTS)
    touchpoint = np.array([*TOUCHPOINTS, None], dtype=object)[pick]
    frame = pd.DataFrame(
        {
            "baseline_risk": rng.uniform(0.05, 0.95, n),
            "recommended_touchpoint": touchpoint,
            "expected_risk_reduction": np.where(none, np.nan, 0.04),
            "evidence": np.where(none, -1, 120),
            "uncertain": none,
            "cost": np.where(none, np.nan, 2.0),
            "reason": "because",
        },
        index=pd.Index(np.arange(1, n + 1), name="customer_id"),
    )
    if segment:
        frame["segment"] = rng.choice(["north", "=south"], size=n)
    return frame


def export(tmp_path, frame=None, name="actions.parquet", **kwargs) -> Campaign:
    kwargs.setdefault("cutoff", CUTOFF)
    kwargs.setdefault("horizon", "30D")
    return export_campaign(make_frame() if frame is None else frame, tmp_path / name, **kwargs)


# --------------------------------------------------------------------------- assignment
def test_assignment_is_reproducible_from_the_manifest_seed_and_the_frame(tmp_path):
    frame = make_frame()
    campaign = export(tmp_path, frame, control="10%")  # no seed: one is drawn and recorded
    seed = campaign.manifest["seed"]
    assert isinstance(seed, int)
    again = assign_arms(frame, control=campaign.manifest["control"], seed=seed)
    recorded = read_campaign(campaign.path).assignments
    pd.testing.assert_frame_equal(
        again[["customer_id", "arm", "touchpoint", "risk_band"]],
        recorded[["customer_id", "arm", "touchpoint", "risk_band"]],
    )
    # the frame's row order does not matter, the seed does
    shuffled = frame.sample(frac=1.0, random_state=3)
    same = assign_arms(shuffled, control=0.1, seed=seed)
    assert same["arm"].tolist() == recorded["arm"].tolist()
    other = assign_arms(frame, control=0.1, seed=seed + 1)
    assert other["arm"].tolist() != recorded["arm"].tolist()


def test_only_customers_with_a_touchpoint_are_assigned_and_bands_are_risk_tertiles(tmp_path):
    frame = make_frame()
    campaign = export(tmp_path, frame, seed=1, control=0.2)
    table = campaign.assignments
    selected = frame[frame["recommended_touchpoint"].notna()]
    assert sorted(table["customer_id"]) == sorted(selected.index)
    low, high = campaign.manifest["risk_bands"]["edges"]
    assert np.allclose([low, high], np.quantile(selected["baseline_risk"], [1 / 3, 2 / 3]))
    risk = table.set_index("customer_id")["churn_risk"]
    band = table.set_index("customer_id")["risk_band"]
    assert (risk[band == "low"] <= low).all() and (risk[band == "high"] > high).all()
    assert ((risk[band == "middle"] > low) & (risk[band == "middle"] <= high)).all()
    counts = table.groupby(["touchpoint", "risk_band"]).size()
    recorded = {(s["touchpoint"], s["risk_band"]): s["n"] for s in campaign.manifest["strata"]}
    assert recorded == counts.to_dict()
    assert campaign.manifest["arms"] == table["arm"].value_counts().to_dict()


@settings(max_examples=60, deadline=None)
@given(
    share=st.floats(0.01, 0.99),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_stratum_holds_out_its_share_within_one_customer(share, sizes, seed):
    touchpoint = np.repeat([f"tp{i}" for i in range(len(sizes))], sizes)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(len(touchpoint)),
            "recommended_touchpoint": touchpoint,
            "churn_risk": np.random.default_rng(seed).uniform(size=len(touchpoint)),
        }
    )
    table = assign_arms(frame, control=share, seed=seed)
    strata = table.groupby(["touchpoint", "risk_band"])["arm"]
    n = strata.size()
    held = strata.apply(lambda arm: int((arm == "control").sum()))
    assert (np.abs(held - share * n) < 1).all()
    assert int(held.sum()) == int(np.floor(share * len(frame) + 0.5))
    recorded = {(s["touchpoint"], s["risk_band"]): s["n_control"] for s in table.attrs["strata"]}
    assert recorded == held.to_dict()


def test_control_share_reads_percentages_and_fractions():
    assert parse_share("10%") == pytest.approx(0.1)
    assert parse_share("0.25") == pytest.approx(0.25) == parse_share(0.25)
    for bad in ("0", "100%", "1", "-5%", "ten", True):
        with pytest.raises(ValueError, match="10%"):
            parse_share(bad)


# --------------------------------------------------------------------------- the export
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_control_rows_keep_the_customer_and_carry_no_action(tmp_path, suffix):
    frame = make_frame(segment=True)
    frame.loc[frame.index[:3], "recommended_touchpoint"] = "=cmd|' /C calc'!A0"
    campaign = export(tmp_path, frame, name=f"actions{suffix}", seed=2, control=0.3)
    path = tmp_path / f"actions{suffix}"
    if suffix == ".csv":
        raw = path.read_text(encoding="utf-8-sig")
        assert "\"'=cmd|' /C calc'!A0\"" in raw and ',"=cmd' not in raw  # formula-safe
        assert '"\'=south"' in raw
        out = pd.read_csv(path, encoding="utf-8-sig", float_precision="round_trip")
    else:
        out = pd.read_parquet(path)
    assert len(out) == len(frame) and list(out.columns[:2]) == ["customer_id", "arm"]
    arms = campaign.assignments.set_index("customer_id")["arm"]
    out = out.set_index("customer_id")
    control = out.loc[arms[arms == "control"].index]
    treated = out.loc[arms[arms == "treatment"].index]
    assert (control["arm"] == "control").all() and (treated["arm"] == "treatment").all()
    for column in ("recommended_touchpoint", "expected_risk_reduction", "cost", "evidence"):
        assert control[column].isna().all(), column
        assert treated[column].notna().all(), column
    assert control["reason"].str.contains(campaign.campaign_id).all()
    assert (control["baseline_risk"] == frame.loc[control.index, "baseline_risk"]).all()
    unselected = out.loc[frame.index[frame["recommended_touchpoint"].isna()]]
    assert unselected["arm"].isna().all()


def test_manifest_records_the_campaign(tmp_path):
    campaign = export(tmp_path, seed=5, control=0.1, campaign_id="spring", rules={"budget": 9})
    m = json.loads(campaign.path.read_text(encoding="utf-8"))
    assert campaign.path.name == "actions.campaign.json"
    assert m["campaign_id"] == "spring" and m["seed"] == 5 and m["control"] == 0.1
    assert pd.Timestamp(m["cutoff"]) == CUTOFF and pd.Timedelta(m["horizon"]).days == 30
    assert m["files"]["export"]["name"] == "actions.parquet"
    assert m["files"]["assignments"]["name"] == "actions.assignments.parquet"
    assert m["rules"] == {"budget": 9} and m["cjml_version"] == cjml.__version__
    assert len(m["content_sha256"]) == 64
    default = export(tmp_path, name="b.csv", seed=5)
    assert default.campaign_id.startswith("2024-06-01-") and len(default.campaign_id) == 17


def test_a_campaign_is_never_overwritten_even_with_force(tmp_path):
    campaign = export(tmp_path, seed=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for force in (False, True):
        with pytest.raises(CampaignError, match="never overwritten, even with --force"):
            export(tmp_path, seed=2, force=force)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    read_campaign(campaign.path)  # still intact
    # an existing export without a manifest is an ordinary file: replaced only with force
    plain = tmp_path / "scores.csv"
    plain.write_text("customer_id\n1\n")
    with pytest.raises(cjml.InputFileError, match="already exists"):
        export(tmp_path, name="scores.csv", seed=1)
    export(tmp_path, name="scores.csv", seed=1, force=True)
    assert "arm" in plain.read_text(encoding="utf-8-sig")


def test_export_refuses_a_frame_without_selected_customers_or_cutoff(tmp_path):
    frame = make_frame()
    frame["recommended_touchpoint"] = None
    with pytest.raises(CampaignError, match="No customer of the frame"):
        export(tmp_path, frame)
    with pytest.raises(CampaignError, match="pass cutoff="):
        export_campaign(make_frame(), tmp_path / "x.csv", horizon="30D")
    with pytest.raises(CampaignError, match="pass horizon="):
        export_campaign(make_frame(), tmp_path / "x.csv", cutoff=CUTOFF)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- tampering
def _tweak(value):
    """The same JSON value with one character (or digit) changed."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.001
    if isinstance(value, str):
        return value[:-1] + ("x" if value[-1:] != "x" else "y")
    if isinstance(value, list):
        return [_tweak(value[0]), *value[1:]]
    if isinstance(value, dict):
        key = sorted(value)[0]
        return {**value, key: _tweak(value[key])}
    return "x"


def test_an_altered_manifest_is_refused_whatever_field_changed(tmp_path):
    campaign = export(tmp_path, seed=1, rules={"budget": 9.5}, campaign_id="c1")
    original = campaign.path.read_text(encoding="utf-8")
    manifest = json.loads(original)
    for key in manifest:
        changed = {**manifest, key: _tweak(manifest[key])}
        campaign.path.write_text(json.dumps(changed, indent=2), encoding="utf-8")
        with pytest.raises(CampaignError, match="altered|no valid") as err:
            read_campaign(campaign.path)
        assert str(campaign.path) in str(err.value), key
    # one byte anywhere: a digit of the seed, as a text edit
    campaign.path.write_text(original.replace('"seed": 1', '"seed": 7'), encoding="utf-8")
    with pytest.raises(CampaignError, match="was altered"):
        read_campaign(campaign.path)
    campaign.path.write_text(original[:-5], encoding="utf-8")
    with pytest.raises(CampaignError, match="not valid JSON"):
        read_campaign(campaign.path)
    campaign.path.write_text(original, encoding="utf-8")
    assert read_campaign(campaign.path).manifest == manifest


def test_altered_or_missing_assignments_are_refused(tmp_path):
    campaign = export(tmp_path, seed=1)
    path = tmp_path / "actions.assignments.parquet"
    table = pd.read_parquet(path)
    flipped = table.copy()
    first = flipped.index[flipped["arm"] == "control"][0]
    flipped.loc[first, "arm"] = "treatment"  # a control customer moved to treatment
    original = path.read_bytes()
    flipped.to_parquet(path, index=False)
    with pytest.raises(CampaignError, match="assignments file .* was altered") as err:
        read_campaign(campaign.path)
    assert "actions.assignments.parquet" in str(err.value)
    with pytest.raises(CampaignError, match="was altered"):
        measure_campaign(campaign.path, pd.DataFrame())
    path.unlink()
    with pytest.raises(CampaignError, match="is missing"):
        read_campaign(campaign.path)
    path.write_bytes(original)
    (tmp_path / "actions.parquet").unlink()  # the export went to the delivery system
    with pytest.warns(UserWarning, match="changed or removed"):
        assert read_campaign(campaign.path).campaign_id == campaign.campaign_id


# --------------------------------------------------------------------------- uplift
def newcombe_1998_example():
    # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 - 48/80,
    # method 10 (hybrid score): 0.0524 to 0.3339 at 95%
    d, low, high = newcombe_interval(56, 70, 48, 80, level=0.95)
    return float(d), float(low), float(high)


def test_newcombe_interval_matches_the_published_example():
    d, low, high = newcombe_1998_example()
    assert d == pytest.approx(0.2)
    assert low == pytest.approx(0.0524, abs=1e-4) and high == pytest.approx(0.3339, abs=1e-4)
    d, low, high = newcombe_interval(0, 10, 0, 10, level=0.95)
    assert d == 0 and low < 0 < high


def test_with_no_true_effect_the_interval_covers_zero_at_its_level():
    # treated and control drop off with the same probability: 200 seeded campaigns
    rng = np.random.default_rng(16)
    reps, n_treated, n_control, level = 200, 450, 50, 0.9
    p = rng.uniform(0.1, 0.6, reps)
    k_treated = rng.binomial(n_treated, p)
    k_control = rng.binomial(n_control, p)
    _, low, high = newcombe_interval(k_control, n_control, k_treated, n_treated, level)
    covered = float(np.mean((low <= 0) & (high >= 0)))
    assert 0.84 <= covered <= 0.97, covered
    # and a real effect of 10 points is found most of the time with arms of 2,000
    k_control = rng.binomial(2000, p + 0.1)
    k_treated = rng.binomial(2000, p)
    _, low, _ = newcombe_interval(k_control, 2000, k_treated, 2000, level)
    assert np.mean(low > 0) > 0.95


def make_events(
    frame: pd.DataFrame,
    campaign: Campaign,
    *,
    p_active: dict[str, float],
    end_days: int = 45,
    seed: int = 0,
    deliver: bool = True,
) -> pd.DataFrame:
    """A log: one event per customer before the cutoff; after it, each assigned customer is
    active with the probability of their arm; the treated get their touchpoint delivered."""
    rng = np.random.default_rng(seed)
    ids = frame.index.to_numpy()
    rows = [
        pd.DataFrame(
            {
                "customer_id": ids,
                "timestamp": CUTOFF - pd.to_timedelta(rng.integers(1, 60, len(ids)), "D"),
                "touchpoint": "website_visit",
            }
        )
    ]
    table = campaign.assignments
    active = rng.uniform(size=len(table)) < table["arm"].map(p_active).to_numpy()
    days = rng.uniform(0.5, 29.5, len(table))
    rows.append(
        pd.DataFrame(
            {
                "customer_id": table["customer_id"][active],
                "timestamp": CUTOFF + pd.to_timedelta(days[active], "D"),
                "touchpoint": "purchase",
            }
        )
    )
    if deliver:
        treated = table[table["arm"] == "treatment"]
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": treated["customer_id"],
                    "timestamp": CUTOFF + pd.Timedelta(hours=12),
                    "touchpoint": treated["touchpoint"],
                }
            )
        )
    rows.append(
        pd.DataFrame(
            {
                "customer_id": [ids[0]],
                "timestamp": [CUTOFF + pd.Timedelta(days=end_days)],
                "touchpoint": ["website_visit"],
            }
        )
    )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def campaign_no_effect(tmp_path_factory):
    frame = make_frame(1500, seed=4, segment=True)
    campaign = export(tmp_path_factory.mktemp("c"), frame, seed=8, control=0.3)
    return frame, campaign


def test_uplift_with_no_true_effect_covers_zero_and_ignores_the_deliveries(campaign_no_effect):
    frame, campaign = campaign_no_effect
    events = make_events(frame, campaign, p_active={"treatment": 0.6, "control": 0.6})
    report = measure_campaign(campaign.path, events)
    effects = report.effects
    assert list(effects.columns) == list(EFFECT_COLUMNS)
    overall = effects.iloc[0]
    assert (overall["group"], overall["value"]) == ("all", "all")
    assert overall["n_treated"] + overall["n_control"] == len(campaign.assignments)
    assert overall["reduction_low"] < 0 < overall["reduction_high"]
    # every treated customer got a delivery: counted as activity, it would hide drop-off
    assert overall["dropoff_treated"] == pytest.approx(0.4, abs=0.05)
    assert np.isnan(overall["nnt"]) and np.isnan(overall["cost_per_retained"])
    assert overall["predicted_reduction"] == pytest.approx(0.04)
    assert (
        effects["group"].tolist()
        == ["all"] + ["touchpoint"] * 3 + ["risk_band"] * 3 + ["segment"] * 2
    )
    assert effects.loc[effects["group"] == "risk_band", "value"].tolist() == [
        "low",
        "middle",
        "high",
    ]
    assert report.info["campaign_id"] == campaign.campaign_id
    assert report.info["end"] == CUTOFF + pd.Timedelta(days=30)


def test_uplift_finds_a_real_effect_with_nnt_and_cost(campaign_no_effect):
    frame, campaign = campaign_no_effect
    events = make_events(frame, campaign, p_active={"treatment": 0.8, "control": 0.4}, seed=1)
    overall = measure_campaign(campaign, events, level=0.95).effects.iloc[0]
    assert overall["reduction_low"] > 0.25 and overall["reduction"] == pytest.approx(0.4, abs=0.06)
    assert overall["nnt"] == pytest.approx(1 / overall["reduction"])
    assert overall["cost_per_retained"] == pytest.approx(2.0 * overall["nnt"])
    assert not overall["few"]


def test_measuring_before_the_horizon_ends_is_refused_with_the_date(campaign_no_effect):
    frame, campaign = campaign_no_effect
    events = make_events(frame, campaign, p_active={"treatment": 0.5, "control": 0.5}, end_days=20)
    events = events[events["timestamp"] <= CUTOFF + pd.Timedelta(days=20)]
    with pytest.raises(CampaignError, match="can run from 2024-07-01") as err:
        measure_campaign(campaign.path, events)
    assert campaign.campaign_id in str(err.value) and "events end on 2024-06-21" in str(err.value)
    assert "with events up to 2024-06-30" in str(err.value)
    assert err.value.can_run_from == pd.Timestamp("2024-07-01", tz="UTC")
    # a day later the events cover the horizon's last day: it runs
    full = make_events(frame, campaign, p_active={"treatment": 0.5, "control": 0.5}, end_days=29)
    full = full[full["timestamp"] <= CUTOFF + pd.Timedelta(days=29, hours=23)]
    assert measure_campaign(campaign.path, full).info["data_end"] == CUTOFF + pd.Timedelta(days=30)


def test_events_of_other_customers_or_after_the_cutoff_are_refused(campaign_no_effect):
    frame, campaign = campaign_no_effect
    events = make_events(frame, campaign, p_active={"treatment": 0.5, "control": 0.5})
    other = events.assign(customer_id=events["customer_id"] + 100_000)
    with pytest.raises(CampaignError, match="None of the 1,"):
        measure_campaign(campaign.path, other)
    # customers missing from the log count as dropped off, and the report says how many
    gone = campaign.assignments["customer_id"].iloc[:7]
    report = measure_campaign(campaign.path, events[~events["customer_id"].isin(gone)])
    assert report.info["n_absent"] == 7
    assert "7 customers of the campaign have no event in the log" in report.to_text()
    full = measure_campaign(campaign.path, events).effects.iloc[0]
    part = report.effects.iloc[0]

    def n_dropped(row) -> float:
        return row["dropoff_treated"] * row["n_treated"] + row["dropoff_control"] * row["n_control"]

    # the purchases in the window are the only activity the simulated log counts
    was_active = gone.isin(events.loc[events["touchpoint"] == "purchase", "customer_id"]).sum()
    assert was_active > 0 and round(n_dropped(part) - n_dropped(full)) == was_active

    later = events[events["timestamp"] > CUTOFF + pd.Timedelta(days=3)]
    with pytest.raises(CampaignError, match="after campaign .* cutoff"):
        measure_campaign(campaign.path, later)


def test_report_as_text_csv_and_html(campaign_no_effect, tmp_path):
    frame, campaign = campaign_no_effect
    events = make_events(frame, campaign, p_active={"treatment": 0.7, "control": 0.5}, seed=2)
    report = measure_campaign(campaign.path, events)
    text = report.to_text()
    assert campaign.campaign_id in text and "Live chat" in text
    path = report.to_csv(tmp_path / "uplift.csv")
    raw = path.read_text(encoding="utf-8-sig")
    assert '"\'=south"' in raw and ',"=south"' not in raw
    table = pd.read_csv(path, encoding="utf-8-sig")
    assert table["reduction"].tolist() == pytest.approx(report.effects["reduction"].tolist())
    with pytest.raises(cjml.InputFileError, match="already exists"):
        report.to_csv(path)
    html = report._repr_html_()
    assert "<table>" in html and "Predicted reduction" in html and "<script" not in html
    with language("vi"):
        vi = report._repr_html_()
    assert "Mức giảm dự đoán" in vi and "Predicted reduction" not in vi
    page = report.to_html(tmp_path / "uplift.html", lang="vi").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "lang='vi'" in page and "http" not in page


def test_public_names_are_exported_lazily():
    from cjml.campaign import UpliftReport
    from cjml.exceptions import CampaignError as Base

    assert cjml.export_campaign is export_campaign and cjml.measure_campaign is measure_campaign
    assert cjml.Campaign is Campaign and cjml.UpliftReport is UpliftReport
    assert cjml.CampaignError is CampaignError is Base and issubclass(Base, ValueError)
    assert {"export_campaign", "measure_campaign", "Campaign", "UpliftReport"} <= set(dir(cjml))
