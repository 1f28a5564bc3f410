"""Model bundles: round trips, refusal of anything altered or unsafe, and proof that loading
runs nothing."""

from __future__ import annotations

import json
import re

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    bundle = ModelBundle(
        featurizer=featurizer,
        journey_map=log.journey_map,
        models={"churn": model},
        metadata={
            "fingerprint": fingerprint(log),
            "horizon": "30D",
            "event_columns": ["satisfaction", "nps", "effort", "amount"],
        },
    )
    return bundle.save(tmp_path / "models" / "churn.cjml")


def test_round_trip_predicts_identically(trained, saved):
    _, _, model, X = trained
    loaded = ModelBundle.load(saved)
    np.testing.assert_array_equal(loaded.models["churn"].predict_proba(X), model.predict_proba(X))
    assert loaded.metadata["cjml_version"] == cjml.__version__
    assert loaded.metadata["feature_names"] == list(X.columns)
    assert loaded.metadata["horizon"] == "30D"
    assert loaded.journey_map == trained[0].journey_map
    manifest = json.loads(saved.with_name("churn.cjml.manifest.json").read_text())
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
    saved.with_name("churn.cjml.manifest.json").unlink()
    _never_unpickle(monkeypatch)
    with pytest.raises(BundleError, match="no manifest"):
        ModelBundle.load(saved)


@pytest.mark.parametrize(
    ("name", "words"),
    [("events.csv", "a CSV"), ("events.parquet", "a Parquet"), ("export.jsonl", "a JSON Lines")],
)
def test_events_given_for_the_bundle_say_the_order_of_the_arguments(tmp_path, capsys, name, words):
    events = tmp_path / name
    events.write_bytes(b"customer_id,timestamp,touchpoint\n")
    with pytest.raises(BundleError, match=rf"is {words} file of events, not a model bundle"):
        ModelBundle.load(events)
    from cjml.cli import main

    assert main(["score", str(events), str(tmp_path / "m.cjml"), "--out", "s.csv"]) != 0
    said = capsys.readouterr().err
    assert "give the bundle first, then the events (cjml score MODEL EVENTS)" in said


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cjml_version": "9.1.0"}, "saved by cjml 9.1.0"),
        ({"format": 99}, "bundle format 99"),
    ],
)
def test_incompatible_bundles_are_refused(saved, monkeypatch, change, message):
    path = saved.with_name("churn.cjml.manifest.json")
    manifest = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(manifest))
    _never_unpickle(monkeypatch)
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(saved)


def test_signed_bundles_need_the_right_key(trained, tmp_path, monkeypatch):
    log, featurizer, model, X = trained
    monkeypatch.setenv("CJML_BUNDLE_KEY", "s3cret")
    path = ModelBundle(featurizer, log.journey_map, {"churn": model}).save(tmp_path / "b.cjml")
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
    bundle = ModelBundle(
        featurizer=featurizer,
        journey_map=log.journey_map,
        models={"churn": model},
        metadata={"fingerprint": fingerprint(log)},
    )
    old = os.umask(mask)
    try:
        path = bundle.save(tmp_path / "bundle.cjml")
    finally:
        os.umask(old)
    for written in (path, tmp_path / "bundle.cjml.manifest.json"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~mask, written.name


def test_existing_bundles_are_never_overwritten_without_force(trained, saved):
    log, featurizer, model, _ = trained
    before = saved.read_bytes()
    with pytest.raises(BundleError, match="already exists"):
        ModelBundle(featurizer, log.journey_map, {"churn": model}).save(saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [
        "churn.cjml",
        "churn.cjml.manifest.json",
    ]
    ModelBundle(featurizer, log.journey_map, {"churn": model}).save(saved, force=True)
    ModelBundle.load(saved)


def test_events_that_do_not_fit_the_bundle_are_refused(trained, saved):
    bundle = ModelBundle.load(saved)
    bundle.check_events(trained[0])
    bare = read_events(
        pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"], "touchpoint": ["email"]})
    )
    with pytest.raises(BundleError, match=r"lack column\(s\) \['amount', 'effort', 'nps'"):
        bundle.check_events(bare)
    saas = read_events(
        pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"], "touchpoint": ["signup"]}),
        journey_map={
            "stages": ["visitor", "trial"],
            "touchpoints": {"signup": {"channel": "online", "stages": ["visitor"]}},
        },
    )
    with pytest.raises(BundleError, match="trained with"):
        bundle.check_events(saas)


def test_fingerprint_follows_content_not_row_order():
    frame = load_sample().head(500)
    a = fingerprint(read_events(frame))
    assert a == fingerprint(read_events(frame.sample(frac=1.0, random_state=1)))
    assert a != fingerprint(read_events(frame.iloc[1:]))


# ----------------------------------------------------------------------------- nothing runs

MARKER = "cjml-pwned"


class _Payload:
    """Unpickling this creates a marker file: the proof that code ran."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __reduce__(self):
        import os

        return (os.mkdir, (os.path.join(self.folder, MARKER),))


def _rewrite(path, entries: dict[str, bytes]):
    """Replace the bundle's zip entries, and rewrite its manifest as an attacker without the
    key can: a matching size and sha256."""
    import hashlib
    import zipfile

    with zipfile.ZipFile(path) as zf:
        content = {name: zf.read(name) for name in zf.namelist()}
    content.update(entries)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    manifest_path = path.with_name(path.name + ".manifest.json")
    manifest = json.loads(manifest_path.read_text())
    manifest.update(size=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    manifest_path.write_text(json.dumps(manifest))


def _fields(node, trail=()):
    """Every attribute of every object, every metadata value, every dictionary entry and
    every list's first item in a bundle's state.json, as paths into the JSON."""
    if isinstance(node, list):
        if node:
            yield (*trail, 0)
            yield from _fields(node[0], (*trail, 0))
        return
    if not isinstance(node, dict):
        return
    if node.get("$") == "dict":
        for i, (_, value) in enumerate(node["items"]):
            yield (*trail, "items", i, 1)
            yield from _fields(value, (*trail, "items", i, 1))
    elif node.get("$") == "object":
        yield from _fields(node["state"], (*trail, "state"))
    elif "value" in node and node.get("$") == "journey_map":
        yield from _fields(node["value"], (*trail, "value"))


def _set(document, trail, value):
    node = document
    for step in trail[:-1]:
        node = node[step]
    node[trail[-1]] = value


@pytest.fixture
def small_bundle(tmp_path, monkeypatch):
    """A bundle with cjml's own models (churn, next stage) on a small log."""
    monkeypatch.delenv("CJML_BUNDLE_KEY", raising=False)
    frame = load_sample()
    frame = frame[frame["customer_id"].isin(frame["customer_id"].unique()[:800])]
    bundle, _ = cjml.train(frame, n_cutoffs=3, step="20D", holdout=False, recommender=False)
    return bundle.save(tmp_path / "small.cjml")


def test_a_pickle_planted_in_any_field_or_entry_never_runs(small_bundle, tmp_path, monkeypatch):
    import pickle
    import zipfile

    payload = pickle.dumps(_Payload(tmp_path))
    with zipfile.ZipFile(small_bundle) as zf:
        original = {name: zf.read(name) for name in zf.namelist()}
    document = json.loads(original["state.json"])
    plants = [
        payload.decode("latin-1"),
        {"$": "object", "class": "posix.mkdir", "state": {"$": "dict", "items": []}},
        {"$": "object", "class": "builtins.eval", "state": payload.decode("latin-1")},
        {"$": "pickle", "data": payload.decode("latin-1")},
    ]
    fields = list(_fields(document["root"]))
    assert len(fields) > 300
    cases = []
    for i, trail in enumerate(fields):  # every field, each with one of the plants in turn
        mutated = json.loads(original["state.json"])
        _set(mutated["root"], trail, plants[i % len(plants)])
        cases.append({"state.json": json.dumps(mutated).encode()})
    object_array = __import__("io").BytesIO()
    np.save(object_array, np.array([_Payload(tmp_path)], dtype=object), allow_pickle=True)
    for name in original:  # every entry: a raw pickle, and an object array that needs pickle
        if name != "state.json":
            cases += [{name: payload}, {name: object_array.getvalue()}]
    refused = 0
    copy = tmp_path / "planted.cjml"
    for case in cases:
        for suffix in ("", ".manifest.json"):
            (tmp_path / ("planted.cjml" + suffix)).write_bytes(
                (small_bundle.parent / ("small.cjml" + suffix)).read_bytes()
            )
        _rewrite(copy, case)
        try:
            ModelBundle.load(copy)
        except BundleError as err:
            refused += 1
            assert re.search("nothing in it was run|not a cjml bundle|not valid", str(err)), err
        assert not (tmp_path / MARKER).exists(), f"code ran when loading with {list(case)}"
    assert refused >= len(cases) // 2


def test_loading_never_calls_pickle(small_bundle, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used while loading a bundle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    _never_unpickle(monkeypatch)
    bundle = ModelBundle.load(small_bundle)
    assert set(bundle.models) == {"churn", "next_stage", "survival", "value"}


def test_own_models_round_trip_exactly(small_bundle):
    frame = load_sample()
    log = read_events(frame[frame["customer_id"].isin(frame["customer_id"].unique()[:800])])
    loaded = ModelBundle.load(small_bundle)
    original = ModelBundle.load(small_bundle)
    X = loaded.featurizer.transform(log, cutoff="2024-07-01")
    pd.testing.assert_frame_equal(X, original.featurizer.transform(log, cutoff="2024-07-01"))
    for name in ("churn", "next_stage"):
        assert np.isfinite(loaded.models[name].predict_proba(X)).all()


def test_a_pickle_bundle_loads_only_when_trusted(trained, tmp_path, monkeypatch):
    """A bundle of the first format (a joblib pickle) is refused, and runs nothing, unless
    the caller trusts it; trusted, it loads with a warning and converts by saving."""
    import hashlib

    monkeypatch.delenv("CJML_BUNDLE_KEY", raising=False)
    log, featurizer, model, X = trained
    path = tmp_path / "old.joblib"
    joblib.dump(
        {
            "featurizer": featurizer,
            "journey_map": log.journey_map.to_dict(),
            "models": {"churn": model},
            "metadata": {},
            "evil": _Payload(tmp_path),
        },
        path,
    )
    path.with_name("old.joblib.manifest.json").write_text(
        json.dumps(
            {
                "format": 1,
                "size": path.stat().st_size,
                "cjml_version": cjml.__version__,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "hmac_sha256": None,
            }
        )
    )
    with pytest.raises(BundleError, match="pickle-based bundle.*--trust-pickle"):
        ModelBundle.load(path)
    assert not (tmp_path / MARKER).exists()
    with pytest.warns(UserWarning, match="unpickling runs any code"):
        bundle = ModelBundle.load(path, trusted=True)
    assert (tmp_path / MARKER).exists()  # trusted means trusted: the pickle ran
    converted = bundle.save(tmp_path / "new.cjml")
    np.testing.assert_array_equal(
        ModelBundle.load(converted).models["churn"].predict_proba(X), model.predict_proba(X)
    )


def test_with_a_key_set_unsigned_or_stripped_manifests_are_refused(trained, tmp_path, monkeypatch):
    log, featurizer, model, _ = trained
    monkeypatch.delenv("CJML_BUNDLE_KEY", raising=False)
    unsigned = ModelBundle(featurizer, log.journey_map, {"churn": model}).save(tmp_path / "u.cjml")
    monkeypatch.setenv("CJML_BUNDLE_KEY", "s3cret")
    with pytest.raises(BundleError, match="is not signed, and CJML_BUNDLE_KEY is set"):
        ModelBundle.load(unsigned)
    signed = ModelBundle(featurizer, log.journey_map, {"churn": model}).save(tmp_path / "s.cjml")
    manifest_path = signed.with_name("s.cjml.manifest.json")
    for stripped in ({"hmac_sha256": None}, {"hmac_sha256": ""}, {}):
        manifest = json.loads(manifest_path.read_text())
        manifest.pop("hmac_sha256")
        manifest.update(stripped)
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match="not signed|not 64 hex"):
            ModelBundle.load(signed)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ([1, 2, 3], "is a JSON list, not an object"),
        ({"format": 2, "cjml_version": cjml.__version__, "sha256": "0" * 64}, "has no valid size"),
        ({"format": 2, "cjml_version": cjml.__version__, "size": "12"}, "has no valid size"),
        (
            {"format": 2, "cjml_version": cjml.__version__, "size": 1, "sha256": "a" * 64},
            "is .* bytes but",
        ),
        (
            {"format": 2, "cjml_version": cjml.__version__, "size": 1, "sha256": None},
            "has no valid sha256",
        ),
        ({"format": True, "cjml_version": cjml.__version__}, "bundle format True"),
        ({"format": 2, "size": 1}, "has no cjml_version"),
    ],
)
def test_malformed_manifests_are_refused_with_a_clear_message(saved, manifest, message):
    saved.with_name("churn.cjml.manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(saved)


def test_a_valid_manifest_over_something_that_is_not_a_bundle_is_refused(saved, tmp_path):
    import hashlib
    import pickle
    import zipfile

    for content in (pickle.dumps([1, 2, 3]), b"PK\x03\x04 not really a zip"):
        saved.write_bytes(content)
        _rewrite_manifest_only(saved)
        with pytest.raises(BundleError, match="not a valid cjml bundle"):
            ModelBundle.load(saved)
    with zipfile.ZipFile(saved, "w") as zf:  # a real zip whose state is a list
        zf.writestr("state.json", json.dumps({"$": "cjml-bundle", "root": [1, 2]}))
    _rewrite_manifest_only(saved)
    with pytest.raises(BundleError, match="does not hold a featurizer"):
        ModelBundle.load(saved)
    assert hashlib  # noqa: B018


@pytest.mark.parametrize(
    "root, message",
    [
        # a kind named by a list, not a text: unhashable, once a raw TypeError
        ({"$": ["dict"], "items": []}, r"^it holds an unknown kind of value \"\['dict'\]\"$"),
        # a naive timestamp beyond the int64 range: the time zone None was sliced for the message
        ({"$": "timestamp", "ns": 2**70, "tz": None}, r"^a timestamp is out of range$"),
        (
            {"$": "timestamp", "ns": 5, "tz": "Nowhere/X"},
            r"^a timestamp is out of range or has an unknown time zone 'Nowhere/X'$",
        ),
    ],
)
def test_malformed_values_are_refused_in_plain_words(tmp_path, root, message):
    import zipfile

    from cjml._bundle_codec import CodecError, read_state

    path = tmp_path / "state.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("state.json", json.dumps({"$": "cjml-bundle", "root": root}))
    with pytest.raises(CodecError, match=message):
        read_state(path)


def _rewrite_manifest_only(path):
    import hashlib

    manifest_path = path.with_name(path.name + ".manifest.json")
    manifest = json.loads(manifest_path.read_text())
    manifest.update(size=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    manifest_path.write_text(json.dumps(manifest))


def test_saving_something_a_bundle_cannot_hold_names_it(trained, tmp_path):
    log, featurizer, model, _ = trained
    bundle = ModelBundle(featurizer, log.journey_map, {"churn": model, "odd": lambda x: x})
    with pytest.raises(BundleError, match=r"bundle\[.models.\]\[.odd.\] is a builtins.function"):
        bundle.save(tmp_path / "odd.cjml")
    assert list(tmp_path.iterdir()) == []


def test_a_model_shared_by_two_others_stays_shared(small_bundle):
    bundle = ModelBundle.load(small_bundle)
    assert bundle.models["next_stage"].churn_model_ is bundle.models["churn"]


def test_fitted_estimators_round_trip_exactly(tmp_path):
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cjml._bundle_codec import read_state, write_state
    from cjml.models import ChurnModel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = (rng.random(3000) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    fitted = {
        "isotonic_churn": ChurnModel(calibration="isotonic", n_jobs=1).fit(X, y),
        "regressor": lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, X[:, 1]),
        "isotonic": IsotonicRegression(out_of_bounds="clip").fit(X[:, 0], y),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
    }
    write_state(fitted, tmp_path / "s.zip")
    back = read_state(tmp_path / "s.zip")
    assert isinstance(back["isotonic_churn"].calibrator_, IsotonicRegression)
    np.testing.assert_array_equal(
        back["isotonic_churn"].predict_proba(X), fitted["isotonic_churn"].predict_proba(X)
    )
    np.testing.assert_array_equal(back["regressor"].predict(X), fitted["regressor"].predict(X))
    np.testing.assert_array_equal(
        back["isotonic"].predict(X[:, 0]), fitted["isotonic"].predict(X[:, 0])
    )
    np.testing.assert_array_equal(
        back["pipeline"].predict_proba(X), fitted["pipeline"].predict_proba(X)
    )


_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.just(float("inf")),
    st.builds(pd.Timedelta, st.integers(-(10**15), 10**15)),
    st.lists(st.integers(-(10**6), 10**6), max_size=4).map(np.array),
    st.lists(st.text(max_size=3), max_size=4).map(np.array),
)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_values)
def test_any_plain_value_round_trips(value, tmp_path):
    from cjml._bundle_codec import read_state, write_state

    write_state(value, tmp_path / "v.zip")
    back = read_state(tmp_path / "v.zip")

    def same(a, b):
        assert type(a) is type(b), (a, b)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        elif isinstance(a, (list, tuple)):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                same(x, y)
        elif isinstance(a, dict):
            assert list(a) == list(b)
            for key in a:
                same(a[key], b[key])
        else:
            assert a == b

    same(value, back)
