"""Model bundles: round trips, and refusal of anything altered before it is unpickled."""

from __future__ import annotations

import json

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import cjml
from cjml import JourneyFeaturizer, read_events
from cjml.bundle import BundleError, ModelBundle, fingerprint
from cjml.datasets import load_sample


@pytest.fixture(scope="module")
def trained():
    log = read_events(load_sample())
    cutoffs = cjml.rolling_cutoffs(log, n=2)
    featurizer = JourneyFeaturizer().fit(log, cutoff=cutoffs[-1])
    table = cjml.make_training_set(log, cutoffs, featurizer=featurizer)
    names = list(featurizer.feature_names_out_)
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(table[names], table["churn"])
    return log, featurizer, model, table[names]


@pytest.fixture
def saved(trained, tmp_path, monkeypatch):
    monkeypatch.delenv("CJML_BUNDLE_KEY", raising=False)
    log, featurizer, model, _ = trained
    bundle = ModelBundle(featurizer=featurizer, journey_map=log.journey_map,
                         models={"churn": model},
                         metadata={"fingerprint": fingerprint(log), "horizon": "30D",
                                   "event_columns": ["satisfaction", "nps", "effort", "amount"]})
    return bundle.save(tmp_path / "models" / "churn.joblib")


def test_round_trip_predicts_identically(trained, saved):
    _, _, model, X = trained
    loaded = ModelBundle.load(saved)
    np.testing.assert_array_equal(loaded.models["churn"].predict_proba(X), model.predict_proba(X))
    assert loaded.metadata["cjml_version"] == cjml.__version__
    assert loaded.metadata["feature_names"] == list(X.columns)
    assert loaded.metadata["horizon"] == "30D"
    assert loaded.journey_map == trained[0].journey_map
    manifest = json.loads(saved.with_name("churn.joblib.manifest.json").read_text())
    assert manifest["size"] == saved.stat().st_size and len(manifest["sha256"]) == 64


def _never_unpickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("joblib.load was called on an unverified bundle")
    monkeypatch.setattr(joblib, "load", refuse)


def test_a_flipped_byte_is_refused_before_unpickling(saved, monkeypatch):
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0x01
    saved.write_bytes(bytes(data))
    _never_unpickle(monkeypatch)
    with pytest.raises(BundleError, match="does not match the sha256"):
        ModelBundle.load(saved)


def test_a_truncated_file_is_refused(saved, monkeypatch):
    saved.write_bytes(saved.read_bytes()[:-100])
    _never_unpickle(monkeypatch)
    with pytest.raises(BundleError, match="truncated or altered"):
        ModelBundle.load(saved)


def test_a_missing_manifest_is_refused(saved, monkeypatch):
    saved.with_name("churn.joblib.manifest.json").unlink()
    _never_unpickle(monkeypatch)
    with pytest.raises(BundleError, match="no manifest"):
        ModelBundle.load(saved)


@pytest.mark.parametrize(("change", "message"), [
    ({"cjml_version": "9.1.0"}, "saved by cjml 9.1.0"),
    ({"format": 99}, "bundle format 99"),
])
def test_incompatible_bundles_are_refused(saved, monkeypatch, change, message):
    path = saved.with_name("churn.joblib.manifest.json")
    manifest = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(manifest))
    _never_unpickle(monkeypatch)
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(saved)


def test_signed_bundles_need_the_right_key(trained, tmp_path, monkeypatch):
    log, featurizer, model, X = trained
    monkeypatch.setenv("CJML_BUNDLE_KEY", "s3cret")
    path = ModelBundle(featurizer, log.journey_map, {"churn": model}).save(tmp_path / "b.joblib")
    assert ModelBundle.load(path).models["churn"].predict_proba(X).shape == (len(X), 2)
    monkeypatch.delenv("CJML_BUNDLE_KEY")
    with pytest.raises(BundleError, match="is signed; set CJML_BUNDLE_KEY"):
        ModelBundle.load(path)
    with pytest.raises(BundleError, match="not signed with this key"):
        ModelBundle.load(path, key="guess")


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_bundle_and_manifest_get_the_permissions_of_the_umask(trained, tmp_path, mask):
    import os
    import stat

    log, featurizer, model, _ = trained
    bundle = ModelBundle(featurizer=featurizer, journey_map=log.journey_map,
                         models={"churn": model}, metadata={"fingerprint": fingerprint(log)})
    old = os.umask(mask)
    try:
        path = bundle.save(tmp_path / "bundle.joblib")
    finally:
        os.umask(old)
    for written in (path, tmp_path / "bundle.joblib.manifest.json"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~mask, written.name


def test_existing_bundles_are_never_overwritten_without_force(trained, saved):
    log, featurizer, model, _ = trained
    before = saved.read_bytes()
    with pytest.raises(BundleError, match="already exists"):
        ModelBundle(featurizer, log.journey_map, {"churn": model}).save(saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["churn.joblib",
                                                              "churn.joblib.manifest.json"]
    ModelBundle(featurizer, log.journey_map, {"churn": model}).save(saved, force=True)
    ModelBundle.load(saved)


def test_events_that_do_not_fit_the_bundle_are_refused(trained, saved):
    bundle = ModelBundle.load(saved)
    bundle.check_events(trained[0])
    bare = read_events(pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"],
                                     "touchpoint": ["email"]}))
    with pytest.raises(BundleError, match=r"lack column\(s\) \['amount', 'effort', 'nps'"):
        bundle.check_events(bare)
    saas = read_events(pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"],
                                     "touchpoint": ["signup"]}),
                       journey_map={"stages": ["visitor", "trial"], "touchpoints": {
                           "signup": {"channel": "online", "stages": ["visitor"]}}})
    with pytest.raises(BundleError, match="trained with"):
        bundle.check_events(saas)


def test_fingerprint_follows_content_not_row_order():
    frame = load_sample().head(500)
    a = fingerprint(read_events(frame))
    assert a == fingerprint(read_events(frame.sample(frac=1.0, random_state=1)))
    assert a != fingerprint(read_events(frame.iloc[1:]))
