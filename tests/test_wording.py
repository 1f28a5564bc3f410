"""Words a marketer reads, over the whole sample: drivers, reasons, the funnel, the gaps.

The sample bundle (tests/_panel_bundle.py) is scored once; every driver text
must read as words from its feature family (no feature name, no code, no raw
float), every reason must follow the one rounding rule, and the journey map's
funnel shares must add up to 100%.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cjml
from cjml.datasets import load_sample
from cjml.i18n import language
from cjml.panel._data._overview import (
    flag_rule,
    funnel_data,
    funnel_notes,
    opportunities_data,
)


@pytest.fixture(scope="module")
def events():
    return load_sample()


@pytest.fixture(scope="module")
def bundle():
    from _panel_bundle import sample_bundle_path  # tests/ is on the path, as for test_panel

    return cjml.ModelBundle.load(sample_bundle_path())


@pytest.fixture(scope="module")
def scores(bundle, events):
    return cjml.score(bundle, events)


@pytest.fixture(scope="module")
def feature_names(bundle):
    return set(bundle.featurizer.feature_names_out_)


@pytest.fixture(scope="module")
def report(bundle, events):
    return cjml.journey_map(events, bundle)


_SIX_DECIMALS = re.compile(r"\d\.\d{6}")
_CODE = re.compile(r"\w: ")  # "segment: researcher", "last touchpoint: email"
_UNDERSCORED = re.compile(r"[a-z]+_[a-z0-9_]+")


def _bad_driver(text: str, names: set[str]) -> str | None:
    if not text.strip():
        return "empty"
    for word in _UNDERSCORED.findall(text):
        return f"feature-like name {word!r}"
    if any(name in text for name in names if "_" in name):
        return "feature name"
    if _CODE.search(text):
        return "'name: value' code"
    if _SIX_DECIMALS.search(text):
        return "raw float"
    if re.search(r"\bcode \d", text):
        return "category code"
    return None


def _check_drivers(scores: pd.DataFrame, names: set[str]) -> list[str]:
    scored = scores[scores["status"] == "scored"] if "status" in scores else scores
    problems = []
    for cid, line in zip(scored["customer_id"], scored["top_drivers"], strict=True):
        if not isinstance(line, str) or not line:
            continue  # no family pushes this customer towards drop-off: no driver
        for part in line.split("; "):
            why = _bad_driver(part, names)
            if why:
                problems.append(f"customer {cid}: {part!r} ({why})")
    return problems


def test_every_driver_of_the_sample_reads_as_words(scores, feature_names):
    scored = scores[scores["status"] == "scored"]
    assert scored["top_drivers"].fillna("").str.len().gt(0).mean() > 0.9
    problems = _check_drivers(scores, feature_names)
    assert not problems, "\n".join(problems[:30])


def test_drivers_of_attributes_and_sequences_read_as_their_family(bundle, events):
    from cjml.explanations import describe_feature

    featurizer = bundle.featurizer
    attrs = [n for n in featurizer.feature_names_out_ if n.startswith("attribute_")]
    assert attrs, "the sample has customer attributes"
    text = describe_feature(attrs[0], 0.0, featurizer=featurizer)
    assert text.startswith("in the ") and "_" not in text and ": " not in text
    last = [n for n in featurizer.feature_names_out_ if n.startswith("last_touchpoint_")]
    assert last
    for name in last:
        text = describe_feature(name, 0.0, featurizer=featurizer)
        assert "touchpoint" in text and ": " not in text and "_" not in text, text


def test_every_driver_reads_in_vietnamese_too(bundle, events, feature_names):
    customers = list(events["customer_id"].drop_duplicates()[:400])
    with language("vi"):
        vi = cjml.score(bundle, events, customers=customers)
    problems = _check_drivers(vi, feature_names)
    assert not problems, "\n".join(problems[:30])
    drivers = vi["top_drivers"].dropna()
    assert drivers.str.len().gt(0).any()
    assert not drivers.str.contains("no contact for|events per week").any()


def test_reasons_follow_the_one_rounding_rule(bundle, events):
    rec = cjml.TouchpointRecommender.from_bundle(bundle).recommend(events)
    reasons = rec["reason"].dropna()
    sides = reasons.str.extract(r"from ([\d.]+%) to ([\d.]+%)").dropna()
    assert len(sides) and not (sides[0] == sides[1]).any()  # never "from 6% to 6%"
    shown = reasons.str.extract(r"from ([\d.]+)% to ([\d.]+)% \(([\d.]+) points").dropna()
    shown = shown.astype(float)
    assert np.allclose((shown[0] - shown[1]).abs(), shown[2])
    assert (shown[2] >= 0.5).all()
    # 0.0% and 100.0% only for a probability that is exactly 0 or 1
    zero = reasons.str.contains(r"(?:^|[^.\d])0\.0%") | reasons.str.contains(r"\b100\.0%")
    exact = rec["expected_risk"].isin([0.0, 1.0]) | rec["baseline_risk"].isin([0.0, 1.0])
    assert zero.any() and exact[zero.index[zero]].all()


def test_the_funnel_of_the_sample_adds_up_and_reads_as_sentences(report):
    funnel = funnel_data(report.stages)
    shares = funnel[["converted_share", "dropped_share", "pending_share"]]
    assert np.allclose(shares.sum(axis=1, skipna=True), 1.0)
    assert (shares.fillna(0) >= 0).all().all()
    assert funnel["note"].str.endswith(".").all()
    first, last = funnel.iloc[0], funnel.iloc[-1]
    assert "moved on to Consideration" in first["note"]
    assert "the last stage" in last["note"] and np.isnan(last["converted_share"])
    notes = funnel_notes()
    assert set(notes) == {"converted", "dropped", "pending", "total"}
    with language("vi"):
        assert "chuyển sang" in funnel_data(report.stages)["note"].iloc[0]


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
        min_size=1,
        max_size=6,
    )
)
def test_funnel_shares_always_add_up_to_one(parts):
    # stage k: furthest-stage customers who went silent or are still active; reached sums later
    silent = np.array([p[0] for p in parts])
    active = np.array([p[1] for p in parts])
    furthest = silent + active
    reached = furthest[::-1].cumsum()[::-1]
    converted = np.append(reached[1:], np.nan)
    pending = np.where(np.arange(len(parts)) < len(parts) - 1, active, 0)
    stages = pd.DataFrame(
        {
            "stage": [f"s{i}" for i in range(len(parts))],
            "reached": reached,
            "converted": converted,
            "pending": pending,
            "went_silent": silent,
        }
    )
    funnel = funnel_data(stages)
    sums = funnel[["converted_share", "dropped_share", "pending_share"]].sum(axis=1, skipna=True)
    assert np.allclose(sums[reached > 0], 1.0)
    assert funnel.loc[reached == 0, "note"].str.startswith("No customer reached").all()


def test_missing_touchpoints_only_with_positive_certain_reductions(report):
    opp = report.opportunities
    assert opp is not None and "uncertain" in opp.columns
    rows = opportunities_data(opp)
    assert (rows["mean_risk_reduction"] > 0).all()
    assert not rows["uncertain"].any()
    flagged = opp[opp["missing"]]
    assert (flagged["mean_risk_reduction"] > 0).all() and not flagged["uncertain"].any()
    assert len(rows) <= len(opp)
    rule = flag_rule(report.info["low_use"])
    assert rule.startswith("\u2691 marks") and rule.endswith("recently.") and "10%" in rule


def test_opportunities_data_drops_negative_and_uncertain_rows():
    opp = pd.DataFrame(
        {
            "stage": ["a", "a", "a", "b"],
            "touchpoint": ["x", "y", "z", "x"],
            "customers": [5, 5, 5, 5],
            "mean_risk_reduction": [0.02, -0.01, 0.03, 0.01],
            "current_use": [0.0, 0.0, 0.0, 0.5],
            "missing": [False, False, True, False],
            "uncertain": [False, False, False, True],
        }
    )
    rows = opportunities_data(opp)
    assert rows["touchpoint"].tolist() == ["z", "x"]  # flagged first within its stage
    assert opportunities_data(None).empty


def test_effect_reason_never_says_from_6_to_6():
    from cjml.panel._data._common import effect_reason

    got = effect_reason(
        ["email", "live_chat", "free_trial", "email", "consultation"],
        [0.06, 0.62449, 0.5, 0.5, 0.3],
        [0.004, 0.03998, -0.039, np.nan, -0.001],
    ).tolist()
    assert got == [
        "Email is expected to lower the drop-off risk by under 0.5 points",
        "Live chat is expected to lower the drop-off risk from 62.4% to 58.5% (3.9 points)",
        "Free trial is expected to raise the drop-off risk from 50.0% to 53.9% (3.9 points)",
        "Email (no estimate)",
        "Consultation is expected to raise the drop-off risk by under 0.5 points",
    ]
    with language("vi"):
        vi = effect_reason(["live_chat"], [0.62449], [0.03998])[0]
    assert vi == (
        "Chat trực tuyến dự kiến giảm rủi ro rời bỏ từ 62,4% xuống 58,5% (3,9 điểm phần trăm)"
    )


def test_panel_numbers_follow_the_one_rule_and_the_currency():
    from cjml.panel._data._common import label, money, pct, points

    assert [pct(0.9996), pct(0.0001), pct(1.0), pct(np.nan)] == [">99.9%", "<0.1%", "100.0%", "–"]
    assert [points(0.026), points(0.004), points(-0.039)] == [
        "2.6 points",
        "under 0.5 points",
        "-3.9 points",
    ]
    assert money(20) == "$20.00" and money(None) == "–"
    with language("vi"):
        assert money(20000) == "20.000\xa0₫"
        assert label("live_chat") == "Chat trực tuyến"
    with language("vi", currency="USD"):
        assert money(20).endswith("US$")
