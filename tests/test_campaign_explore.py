"""The exploration campaign: one touchpoint worth testing per customer, drawn at random."""

from __future__ import annotations

import numpy as np
import pytest

import cjml
from cjml.campaign import read_campaign, worth_testing
from cjml.datasets import load_sample
from cjml.exceptions import CjmlError
from cjml.recommend import TouchpointRecommender
from tests._panel_bundle import sample_bundle_path


@pytest.fixture(scope="module")
def log():
    return cjml.read_events(load_sample())


@pytest.fixture(scope="module")
def bundle():
    return cjml.ModelBundle.load(sample_bundle_path())


@pytest.fixture(scope="module")
def effects(bundle, log):
    rec = TouchpointRecommender.from_bundle(bundle, method="dr-rank")
    return rec.effects(log, lookback="90D")


@pytest.fixture(scope="module")
def frame(bundle, log):
    return worth_testing(bundle, log, lookback="90D", seed=1)


def test_each_customer_gets_one_of_their_uncertain_positive_candidates(frame, effects):
    assert len(frame) > 100 and frame.index.is_unique
    ok = effects["allowed"] & (effects["risk_reduction"] > 0) & ~(effects["risk_reduction_low"] > 0)
    cands = effects[ok].groupby("customer_id")["touchpoint"].apply(set)
    assert set(frame.index) == set(cands.index)  # everyone with a candidate, nobody else
    for cid, row in frame.iterrows():
        assert row["recommended_touchpoint"] in cands[cid]
        assert row["candidates"] == len(cands[cid])
    assert frame["uncertain"].all()
    assert (frame["expected_risk_reduction"] > 0).all()
    assert not (frame["expected_risk_reduction_low"] > 0).any()


def test_the_draw_is_seeded_uniform_and_spreads_over_the_touchpoints(bundle, log, frame):
    again = worth_testing(bundle, log, lookback="90D", seed=1)
    assert again["recommended_touchpoint"].equals(frame["recommended_touchpoint"])
    other = worth_testing(bundle, log, lookback="90D", seed=2)
    several = frame["candidates"] >= 2
    assert several.sum() > 50
    drawn = frame.loc[several, "recommended_touchpoint"]
    differs = other.loc[several, "recommended_touchpoint"] != drawn
    # two independent uniform draws among k >= 2 differ with chance 1 - 1/k >= 1/2
    assert differs.mean() > 0.3
    assert frame["recommended_touchpoint"].nunique() >= 3


def test_touchpoints_limits_the_test_and_an_unknown_one_is_named(bundle, log, frame):
    name = frame["recommended_touchpoint"].value_counts().index[0]
    only = worth_testing(bundle, log, lookback="90D", seed=1, touchpoints=[name])
    assert len(only) > 0 and (only["recommended_touchpoint"] == name).all()
    with pytest.raises(CjmlError, match="carrier_pigeon"):
        worth_testing(bundle, log, lookback="90D", touchpoints=["carrier_pigeon"])


def test_the_frame_exports_as_a_campaign_with_a_control_group(bundle, log, frame, tmp_path):
    cutoff = log.frame["timestamp"].max()
    campaign = cjml.export_campaign(
        frame, tmp_path / "explore.csv", control=0.2, seed=3, bundle=bundle, cutoff=cutoff
    )
    back = read_campaign(tmp_path / "explore.campaign.json").assignments.set_index("customer_id")
    assert set(back.index) == set(frame.index)
    np.testing.assert_array_equal(
        back.loc[frame.index, "touchpoint"].astype(str), frame["recommended_touchpoint"]
    )
    share = (campaign.assignments["arm"] == "control").mean()
    assert share == pytest.approx(0.2, abs=0.02)
