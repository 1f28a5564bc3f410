"""Customer attributes: last known value of the log's extra columns, checked by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.features import AttributeFeatures, JourneyFeaturizer
from cjml.features._attributes import attribute_record, attributes_text

NAN = float("nan")


def isnan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


@pytest.fixture
def attr_log():
    # segment over time: customer 1 gold, (missing), silver, then bronze on 8 January;
    # customer 2 silver; customer 3 never has one. credit is numeric, ref an identifier.
    return cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 1, 2, 3],
                "timestamp": [
                    "2024-01-01",
                    "2024-01-03",
                    "2024-01-05",
                    "2024-01-08",
                    "2024-01-02",
                    "2024-01-02",
                ],
                "touchpoint": ["paid_ad", "email", "website_visit", "email", "paid_ad", "paid_ad"],
                "segment": ["gold", None, "silver", "bronze", "silver", None],
                "credit": [10.0, 20.0, NAN, 40.0, 5.0, NAN],
                "ref": ["r1", "r2", "r3", "r4", "r5", "r6"],
                "vip": [True, True, False, False, False, True],
            }
        )
    )


def fitted(log, **kwargs):
    return AttributeFeatures(**kwargs).fit(log, cutoff="2024-01-06")


def test_auto_picks_text_columns_with_few_values(attr_log):
    fam = fitted(attr_log, max_categories=3)
    # credit is numeric, ref has 5 distinct values by 6 January (more than 3)
    assert fam.attributes_ == ("segment", "vip")
    assert list(fam.get_feature_names_out()) == ["attribute_segment", "attribute_vip"]
    assert fam.categorical_features_ == ("attribute_segment", "attribute_vip")
    # categories: values seen up to the fit cutoff, sorted as text (bronze comes later)
    assert fam.categories_ == {"segment": ["gold", "silver"], "vip": ["False", "True"]}


def test_the_columns_left_out_say_why_and_the_text_says_how_to_choose(attr_log):
    fam = fitted(attr_log, max_categories=3)
    assert fam.left_out_ == {"credit": "numbers", "ref": "5 distinct values"}
    text = attributes_text(fam.attributes_, fam.left_out_)
    assert text == (
        "Customer attributes used as features: segment, vip. Left out: credit (numbers, which "
        "may measure events rather than customers); ref (too many distinct values for "
        "categories: ids or free text). To choose, name every column to use: "
        "JourneyFeaturizer(attributes=['segment', 'vip', 'COLUMN'])."
    )
    assert attributes_text(fam.attributes_, fam.left_out_, command_line=True).endswith(
        "name every column to use: --attributes segment,vip,COLUMN."
    )
    # named columns: the others were not named, which the text need not repeat
    named = fitted(attr_log, attributes=("credit",))
    assert named.left_out_ == dict.fromkeys(["segment", "ref", "vip"], "not named")
    assert attributes_text(named.attributes_, named.left_out_) == (
        "Customer attributes used as features: credit."
    )
    assert attributes_text((), {}) == ""
    # a text column with no value at all by the fit cutoff
    empty = cjml.read_events(attr_log.frame.assign(note=None).astype({"note": object}))
    assert fitted(empty).left_out_["note"] == "no value"
    # what a bundle keeps of it
    featurizer = JourneyFeaturizer(attributes="auto").fit(attr_log, cutoff="2024-01-06")
    assert attribute_record(featurizer) == {
        "used": ["segment", "ref", "vip"],
        "left_out": {"credit": "numbers"},
    }
    assert attribute_record(JourneyFeaturizer(families=("activity",)).fit(attr_log)) is None


def test_last_known_value_at_the_cutoff(attr_log):
    out = fitted(attr_log, attributes=("segment",)).transform(attr_log, cutoff="2024-01-04")
    # customer 1: gold on 1 Jan, missing on 3 Jan -> still gold (code 0)
    assert out.loc[1, "attribute_segment"] == 0.0
    assert out.loc[2, "attribute_segment"] == 1.0  # silver
    assert isnan(out.loc[3, "attribute_segment"])  # never known
    out = fitted(attr_log, attributes=("segment",)).transform(attr_log, cutoff="2024-01-06")
    assert out.loc[1, "attribute_segment"] == 1.0  # silver since 5 Jan


def test_value_unseen_in_fit_is_other_with_a_warning(attr_log):
    fam = fitted(attr_log, attributes=("segment",))
    with pytest.warns(UserWarning, match="'bronze'"):
        out = fam.transform(attr_log, cutoff="2024-01-10")
    assert out.loc[1, "attribute_segment"] == 2.0  # len(["gold", "silver"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # bronze is after this cutoff: no warning
        fam.transform(attr_log, cutoff="2024-01-07")


def test_numeric_column_named_explicitly(attr_log):
    fam = fitted(attr_log, attributes=("credit", "vip"))
    assert fam.categories_["credit"] is None
    assert fam.categorical_features_ == ("attribute_vip",)
    out = fam.transform(attr_log, cutoff="2024-01-06")
    assert out.loc[1, "attribute_credit"] == 20.0  # 5 Jan is missing: 3 Jan's value
    assert out.loc[2, "attribute_credit"] == 5.0
    assert isnan(out.loc[3, "attribute_credit"])
    assert out.loc[1, "attribute_vip"] == 0.0  # False on 5 Jan
    assert out.loc[3, "attribute_vip"] == 1.0  # True


def test_several_cutoffs_match_single_ones(attr_log):
    fam = fitted(attr_log, attributes=("segment", "credit"))
    cutoffs = ["2024-01-02", "2024-01-04", "2024-01-06"]
    together = fam.transform(attr_log, cutoff=cutoffs)
    for c in cutoffs:
        alone = fam.transform(attr_log, cutoff=c)
        pd.testing.assert_frame_equal(together.xs(pd.Timestamp(c, tz="UTC"), level="cutoff"), alone)


def test_per_customer_cutoffs_include_unknown_customers(attr_log):
    fam = fitted(attr_log, attributes=("segment",))
    cut = pd.Series(["2024-01-02", "2024-01-06", "2024-01-06"], index=[1, 2, 99])
    out = fam.transform(attr_log, cutoff=cut)
    assert out["attribute_segment"].tolist()[:2] == [0.0, 1.0]
    assert isnan(out.loc[99, "attribute_segment"])


def test_featurizer_uses_attributes_and_lists_them_as_categorical(attr_log):
    fz = JourneyFeaturizer(attributes=("segment",)).fit(attr_log, cutoff="2024-01-06")
    assert fz.feature_names_out_[-1] == "attribute_segment"
    assert fz.feature_families_["attribute_segment"] == "attributes"
    assert "attribute_segment" in fz.categorical_features_
    out = fz.transform(attr_log, cutoff="2024-01-04")
    assert out.loc[1, "attribute_segment"] == 0.0
    # auto (the default) also finds the text and boolean columns, not the identifiers
    auto = JourneyFeaturizer().fit(attr_log, cutoff="2024-01-06")
    assert [c for c in auto.feature_names_out_ if c.startswith("attribute_")] == [
        "attribute_segment",
        "attribute_ref",
        "attribute_vip",
    ]
    none = JourneyFeaturizer(attributes=()).fit(attr_log, cutoff="2024-01-06")
    assert not any(c.startswith("attribute_") for c in none.feature_names_out_)


def test_log_without_extra_columns_gives_no_attribute_features():
    log = cjml.read_events(
        pd.DataFrame(
            {
                "customer_id": [1, 2],
                "timestamp": ["2024-01-01", "2024-01-02"],
                "touchpoint": ["paid_ad", "email"],
            }
        )
    )
    fam = AttributeFeatures().fit(log)
    assert fam.attributes_ == ()
    out = fam.transform(log)
    assert out.shape == (2, 0)
    fz = JourneyFeaturizer().fit(log)
    plain = JourneyFeaturizer(
        families=[f for f in cjml.features.DEFAULT_FAMILIES if f != "attributes"]
    ).fit(log)
    assert list(fz.feature_names_out_) == list(plain.feature_names_out_)


def test_attribute_missing_from_the_transformed_log_is_nan(attr_log):
    fam = fitted(attr_log, attributes=("segment",))
    other = cjml.read_events(attr_log.frame.drop(columns=["segment", "credit", "ref", "vip"]))
    with pytest.warns(UserWarning, match="lacks"):
        out = fam.transform(other, cutoff="2024-01-06")
    assert out["attribute_segment"].isna().all()


def test_bad_parameters(attr_log):
    with pytest.raises(ValueError, match="not extra columns") as raised:
        AttributeFeatures(attributes=("segmnt",)).fit(attr_log)
    assert "Did you mean 'segment'?" in str(raised.value)
    assert "Its extra columns: segment, credit, ref, vip. Fix: name columns" in str(raised.value)
    with pytest.raises(ValueError, match=r"attributes=\('segment',\)"):
        AttributeFeatures(attributes="segment").fit(attr_log)
    with pytest.raises(ValueError, match="max_categories"):
        AttributeFeatures(max_categories=0).fit(attr_log)
    with pytest.raises(ValueError, match="twice"):
        AttributeFeatures(attributes=("segment", "segment")).fit(attr_log)


def test_codes_are_point_in_time(attr_log):
    """A row's value comes only from events at or before its cutoff."""
    fam = fitted(attr_log, attributes=("segment", "credit"))
    frame = attr_log.frame
    for c in ["2024-01-02", "2024-01-04", "2024-01-07"]:
        cut = pd.Timestamp(c, tz="UTC")
        past = cjml.read_events(frame[frame["timestamp"] <= cut])
        full = fam.transform(attr_log, cutoff=c)
        alone = fam.transform(past, cutoff=c)
        pd.testing.assert_frame_equal(full, alone.loc[full.index])
        assert np.isfinite(full["attribute_segment"].fillna(0)).all()


def test_a_column_some_files_of_a_folder_lack_is_left_out_unless_named(tmp_path):
    """Monthly exports where only January carries the plan: as a feature it would tell which
    export an event came from, and a later file without it could not be scored. "auto"
    leaves it out and says why; naming it still uses it; one file says nothing of files."""
    frame = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3],
            "timestamp": ["2024-01-02", "2024-02-03", "2024-01-05", "2024-02-06", "2024-02-07"],
            "touchpoint": ["paid_ad", "email", "paid_ad", "purchase", "paid_ad"],
            "segment": ["a", "a", "b", "b", "a"],
            "plan": ["basic", None, "pro", None, None],
        }
    )
    folder = tmp_path / "months"
    folder.mkdir()
    january = frame["timestamp"].str.startswith("2024-01")
    frame[january].to_csv(folder / "2024-01.csv", index=False)
    frame[~january].drop(columns="plan").to_csv(folder / "2024-02.csv", index=False)
    with pytest.warns(UserWarning, match="Not every file of folder"):
        log = cjml.read_events(folder)
    assert log.columns_not_in_every_file == {"plan": "1 of 2 files lack it"}
    fam = AttributeFeatures().fit(log, cutoff="2024-03-01")
    assert fam.attributes_ == ("segment",)
    assert fam.left_out_ == {"plan": "not in every file: 1 of 2 files lack it"}
    assert attributes_text(fam.attributes_, fam.left_out_, command_line=True) == (
        "Customer attributes used as features: segment. Left out: plan: 1 of 2 files lack it "
        "(a column that not every file of the folder has tells which export an event came "
        "from, not who the customer is, and a file without it could not be scored). To "
        "choose, name every column to use: --attributes segment,COLUMN."
    )
    named = AttributeFeatures(attributes=("segment", "plan")).fit(log, cutoff="2024-03-01")
    assert named.attributes_ == ("segment", "plan")
    # the views of a log that features and training take keep what the folder said
    assert log._customer_range(0, 2).columns_not_in_every_file == log.columns_not_in_every_file
    one_file = tmp_path / "all.csv"
    frame.to_csv(one_file, index=False)
    whole = cjml.read_events(one_file)
    assert whole.columns_not_in_every_file == {}
    assert AttributeFeatures().fit(whole, cutoff="2024-03-01").attributes_ == ("segment", "plan")
