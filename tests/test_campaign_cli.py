"""The command line of campaigns: `score`/`recommend --control` and `cjml uplift`, end to end on
the sample and a small bundle trained on it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cjml
from cjml.campaign import assign_arms, read_campaign
from cjml.cli import main
from cjml.datasets import sample_path
from tests._panel_bundle import sample_bundle_path

CUTOFF = "2024-07-13"  # the sample runs to 2024-08-27: a 30-day horizon has passed


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def bundle():
    return sample_bundle_path()


@pytest.fixture(scope="module")
def events():
    return sample_path("events")


def test_recommend_with_a_control_group_then_uplift(bundle, events, tmp_path, capsys):
    out = tmp_path / "actions.csv"
    argv = ["recommend", bundle, events, "--out", out, "--cutoff", CUTOFF, "--control", "20%"]
    code, text, err = run(capsys, *argv, "--seed", 5, "--campaign-id", "july")
    assert code == 0, err
    campaign = read_campaign(tmp_path / "actions.campaign.json")
    arms = campaign.manifest["arms"]
    assert arms["control"] > 0 and arms["treatment"] > 0
    assert f"{arms['treatment']:,} treated and {arms['control']:,} held out" in text
    assert "actions.campaign.json" in text and "actions.assignments.parquet" in text
    assert campaign.campaign_id == "july" and campaign.manifest["seed"] == 5
    assert campaign.manifest["bundle"]["sha256"] == cjml.campaign.file_sha256(bundle)
    table = pd.read_csv(out, encoding="utf-8-sig")
    control = table[table["arm"] == "control"]
    assert len(control) == arms["control"] and control["recommended_touchpoint"].isna().all()
    assert table.loc[table["arm"] == "treatment", "recommended_touchpoint"].notna().all()

    # a second export to the same path is refused, even with --force, and nothing changes
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = run(capsys, *argv, "--force")
    assert code == 1 and "never overwritten, even with --force" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    report = tmp_path / "uplift.html"
    manifest = tmp_path / "actions.campaign.json"
    code, text, err = run(capsys, "uplift", manifest, events, "--out", report)
    assert code == 0, err
    assert "Campaign july" in text and "All customers" in text
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "july" in page
    code, _, err = run(
        capsys, "uplift", campaign.path, events, "--out", tmp_path / "u.csv", "--level", "95%"
    )
    assert code == 0, err
    effects = pd.read_csv(tmp_path / "u.csv", encoding="utf-8-sig")
    assert effects["group"].iloc[0] == "all" and (effects["level"] == 0.95).all()
    assert effects["n_control"].iloc[0] == arms["control"]

    # an altered manifest is refused
    manifest = json.loads(campaign.path.read_text(encoding="utf-8"))
    manifest["arms"]["control"] += 1
    campaign.path.write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = run(capsys, "uplift", campaign.path, events)
    assert code == 1 and "was altered" in err


def test_score_with_a_control_group_is_reproducible_from_the_manifest(
    bundle, events, tmp_path, capsys
):
    out = tmp_path / "scores.parquet"
    code, text, err = run(
        capsys,
        "score",
        bundle,
        events,
        "--out",
        out,
        "--cutoff",
        CUTOFF,
        "--control",
        "0.1",
        "--quiet",
    )
    assert code == 0, err
    campaign = read_campaign(tmp_path / "scores.campaign.json")
    seed = campaign.manifest["seed"]  # drawn, since --seed was not given
    assert f"seed {seed}" in text
    scores = cjml.score(bundle, events, cutoff=CUTOFF)
    again = assign_arms(scores, control=campaign.manifest["control"], seed=seed)
    assert again["arm"].tolist() == campaign.assignments["arm"].tolist()
    assert again["customer_id"].tolist() == campaign.assignments["customer_id"].tolist()
    written = pd.read_parquet(out)
    assert len(written) == len(scores) and "arm" in written.columns
    held = written["arm"] == "control"
    assert written.loc[held, "recommended_touchpoint"].isna().all()
    assert written.loc[held, "churn_risk"].notna().all()


def test_uplift_before_the_horizon_and_misused_options_are_refused(
    bundle, events, tmp_path, capsys
):
    out = tmp_path / "actions.parquet"
    code, _, err = run(
        capsys,
        "recommend",
        bundle,
        events,
        "--out",
        out,
        "--cutoff",
        CUTOFF,
        "--control",
        "10%",
        "--seed",
        "1",
    )
    assert code == 0, err
    early = pd.read_parquet(events)
    before = pd.to_datetime(early["timestamp"], utc=True) < pd.Timestamp("2024-07-20", tz="UTC")
    early[before].to_parquet(tmp_path / "early.parquet")
    manifest = tmp_path / "actions.campaign.json"
    code, _, err = run(capsys, "uplift", manifest, tmp_path / "early.parquet")
    assert code == 1 and "can run from 2024-08-12" in err
    other = tmp_path / "b.csv"
    code, _, err = run(capsys, "recommend", bundle, events, "--out", other, "--seed", "3")
    assert code == 1 and "--seed only applies with a control group: add --control" in err
    with pytest.raises(SystemExit) as exc:
        run(capsys, "recommend", bundle, events, "--out", other, "--control", "0")
    assert exc.value.code == 2
    assert "--control: expected a share such as 10% or 0.1" in capsys.readouterr().err
    code, _, err = run(
        capsys, "score", bundle, events, "--out", tmp_path / "s.csv", "--control", "10%", "--resume"
    )
    assert code == 1 and "--resume cannot be combined with --control" in err
    assert not (tmp_path / "b.csv").exists() and not (tmp_path / "s.csv").exists()
