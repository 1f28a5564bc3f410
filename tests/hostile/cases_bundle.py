"""Hostile model bundles: altered, truncated, unsigned, pickled, planted with code."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from tests.hostile.harness import Case

MARKER = "pwned-by-bundle"
BUNDLE = "model.cjml"
MANIFEST = BUNDLE + ".manifest.json"


class _Payload:
    """Unpickling this creates a marker folder: the proof that code ran."""

    def __reduce__(self):
        return (os.mkdir, (MARKER,))  # relative: the case runs in its own folder


def _pickle() -> bytes:
    return pickle.dumps(_Payload())


def _manifest(tmp: Path) -> dict:
    return json.loads((tmp / MANIFEST).read_text())


def _write_manifest(tmp: Path, manifest) -> None:
    (tmp / MANIFEST).write_text(json.dumps(manifest))


def _resign(tmp: Path, key: str | None = None, **extra) -> None:
    """Rewrite the manifest to match the file, as an attacker can (with the key only if given)."""
    data = (tmp / BUNDLE).read_bytes()
    manifest = _manifest(tmp)
    manifest.update(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        hmac_sha256=None
        if key is None
        else hmac.new(key.encode(), data, hashlib.sha256).hexdigest(),
    )
    manifest.update(extra)
    _write_manifest(tmp, manifest)


def _replace_file(content: bytes, **extra):
    def setup(tmp: Path) -> None:
        (tmp / BUNDLE).write_bytes(content)
        _resign(tmp, **extra)

    return setup


def _replace_entries(change):
    """Rewrite zip entries with ``change(entries) -> entries``, then the manifest."""

    def setup(tmp: Path) -> None:
        with zipfile.ZipFile(tmp / BUNDLE) as zf:
            entries = {name: zf.read(name) for name in zf.namelist()}
        entries = change(entries)
        with zipfile.ZipFile(tmp / BUNDLE, "w") as zf:
            for name, data in entries.items():
                zf.writestr(name, data)
        _resign(tmp)

    return setup


def _plant_class(name: str):
    def change(entries):
        state = json.loads(entries["state.json"])
        state["root"]["items"][0][1] = {
            "$": "object",
            "class": name,
            "state": {"$": "dict", "items": []},
        }
        return {**entries, "state.json": json.dumps(state).encode()}

    return change


def _plant_object_array(entries):
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Payload()], dtype=object), allow_pickle=True)
    first = next(n for n in entries if n.startswith("arrays/"))
    return {**entries, first: buffer.getvalue()}


def _plant_pickled_booster(entries):
    first = next(n for n in entries if n.startswith("boosters/"))
    return {**entries, first: _pickle()}


def _plant_pickled_frame(entries):
    first = next((n for n in entries if n.startswith("frames/")), None)
    return {**entries, (first or "frames/0.parquet"): _pickle()}


def _pickle_bundle(tmp: Path) -> None:
    """Turn the case's bundle into one of the first format (a joblib pickle), genuinely."""
    import joblib

    from cjml.bundle import ModelBundle

    bundle = ModelBundle.load(tmp / BUNDLE)
    joblib.dump(
        {
            "featurizer": bundle.featurizer,
            "journey_map": bundle.journey_map.to_dict(),
            "models": bundle.models,
            "metadata": bundle.metadata,
        },
        tmp / BUNDLE,
    )
    _resign(tmp, format=1)


def _sign(key: str):
    def setup(tmp: Path) -> None:
        _resign(tmp, key=key)

    return setup


def _no_marker(tmp: Path, output: str) -> None:
    assert not (tmp / MARKER).exists(), "code from the bundle ran"


def _manifest_edit(**changes):
    def setup(tmp: Path) -> None:
        manifest = _manifest(tmp)
        for name, value in changes.items():
            if value is _DROP:
                manifest.pop(name, None)
            else:
                manifest[name] = value
        _write_manifest(tmp, manifest)

    return setup


_DROP = object()

# The commands that load a bundle, each with what it needs besides the bundle.
COMMANDS = {
    "score": ["score", "{bundle}", "{events}", "--out", "{tmp}/scores.parquet"],
    "recommend": ["recommend", "{bundle}", "{events}", "--out", "{tmp}/actions.csv"],
    "evaluate": ["evaluate", "{bundle}", "{events}"],
    "journey-map": ["journey-map", "{events}", "--model", "{bundle}", "--out", "{tmp}/map.csv"],
}

CASES: list[Case] = []

for command, argv in COMMANDS.items():
    CASES += [
        Case(
            name=f"bundle-pickle-with-code-{command}",
            area="bundle",
            argv=argv,
            exit_code=1,
            message=r"pickle-based bundle.*can run any code.*--trust-pickle",
            description="a first-format (pickle) bundle whose pickle runs code, with a "
            "matching manifest",
            setup=_replace_file(_pickle(), format=1),
            check=_no_marker,
        ),
        Case(
            name=f"bundle-format2-manifest-over-pickle-{command}",
            area="bundle",
            argv=argv,
            exit_code=1,
            message=r"not a valid cjml bundle.*nothing in it was run",
            description="a pickle that runs code, under a manifest claiming the safe format",
            setup=_replace_file(_pickle()),
            check=_no_marker,
        ),
        Case(
            name=f"bundle-stripped-signature-with-key-{command}",
            area="bundle",
            argv=argv,
            exit_code=1,
            message=r"is not signed, and CJML_BUNDLE_KEY is set",
            description="a key is set; the bundle is replaced by a pickle and the manifest's "
            "hmac_sha256 set to null",
            setup=_replace_file(_pickle()),
            env={"CJML_BUNDLE_KEY": "team-secret"},
            check=_no_marker,
        ),
        Case(
            name=f"bundle-flipped-byte-{command}",
            area="bundle",
            argv=argv,
            exit_code=1,
            message=r"does not match the sha256 in its manifest",
            description="one byte of the bundle flipped, manifest untouched",
            setup=lambda tmp: (tmp / BUNDLE).write_bytes(
                (lambda b: b[:1000] + bytes([b[1000] ^ 1]) + b[1001:])((tmp / BUNDLE).read_bytes())
            ),
        ),
    ]

CASES += [
    Case(
        name="bundle-trust-pickle-loads-own-pickle",
        area="bundle",
        argv=[*COMMANDS["journey-map"], "--trust-pickle"],
        exit_code=0,
        message=r"pickle-based bundle, with trusted=True.*Save it again",
        description="a genuine first-format bundle with --trust-pickle: loads, with a warning",
        setup=_pickle_bundle,
    ),
    Case(
        name="bundle-unsigned-with-key",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"is not signed, and CJML_BUNDLE_KEY is set.*Save it again with the key",
        description="a genuine unsigned bundle while CJML_BUNDLE_KEY is set",
        env={"CJML_BUNDLE_KEY": "team-secret"},
    ),
    Case(
        name="bundle-signed-without-key",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"is signed; set CJML_BUNDLE_KEY",
        description="a signed bundle loaded without the key",
        setup=_sign("team-secret"),
    ),
    Case(
        name="bundle-signed-wrong-key",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"not signed with this key",
        description="a signed bundle, another key set",
        setup=_sign("team-secret"),
        env={"CJML_BUNDLE_KEY": "guess"},
    ),
    Case(
        name="bundle-signed-right-key",
        area="bundle",
        argv=COMMANDS["journey-map"],
        exit_code=0,
        message=r"map\.csv",
        description="a signed bundle with its key: loads",
        setup=_sign("team-secret"),
        env={"CJML_BUNDLE_KEY": "team-secret"},
    ),
    Case(
        name="bundle-signature-not-hex",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"hmac_sha256\) that is not 64 hex digits",
        description="a manifest whose hmac_sha256 is a number",
        setup=_manifest_edit(hmac_sha256=12345),
    ),
    Case(
        name="bundle-manifest-without-size",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"manifest .* has no valid size",
        description="a manifest without its size field",
        setup=_manifest_edit(size=_DROP),
    ),
    Case(
        name="bundle-manifest-size-text",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"manifest .* has no valid size",
        description="a manifest whose size is text",
        setup=_manifest_edit(size="1000"),
    ),
    Case(
        name="bundle-manifest-without-sha",
        area="bundle",
        argv=COMMANDS["evaluate"],
        exit_code=1,
        message=r"manifest .* has no valid sha256",
        description="a manifest without its sha256",
        setup=_manifest_edit(sha256=_DROP),
    ),
    Case(
        name="bundle-manifest-is-a-list",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"manifest .* is a JSON list, not an object",
        description="a manifest that is a JSON list",
        setup=lambda tmp: _write_manifest(tmp, [1, 2, 3]),
    ),
    Case(
        name="bundle-manifest-not-json",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"manifest .* is not valid JSON",
        description="a manifest that is a PNG",
        setup=lambda tmp: (tmp / MANIFEST).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50),
    ),
    Case(
        name="bundle-manifest-missing",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"has no manifest \(model\.cjml\.manifest\.json\) beside it",
        description="a bundle without its manifest",
        setup=lambda tmp: (tmp / MANIFEST).unlink(),
    ),
    Case(
        name="bundle-manifest-future-format",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"bundle format 99; this cjml reads format 2",
        description="a manifest of an unknown format",
        setup=_manifest_edit(format=99),
    ),
    Case(
        name="bundle-manifest-other-version",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"saved by cjml 9\.1\.0.*Retrain it",
        description="a bundle saved by another cjml version",
        setup=_manifest_edit(cjml_version="9.1.0"),
    ),
    Case(
        name="bundle-truncated",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"truncated or altered",
        description="the bundle cut short by 100 bytes",
        setup=lambda tmp: (tmp / BUNDLE).write_bytes((tmp / BUNDLE).read_bytes()[:-100]),
    ),
    Case(
        name="bundle-pickled-list",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"not a valid cjml bundle \(it is not a zip file\)",
        description="a valid manifest over a pickled list",
        setup=_replace_file(pickle.dumps([1, 2, 3])),
    ),
    Case(
        name="bundle-empty-file",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"not a valid cjml bundle",
        description="an empty bundle file, manifest matching",
        setup=_replace_file(b""),
    ),
    Case(
        name="bundle-is-a-png",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"not a valid cjml bundle",
        description="a PNG picture named model.cjml",
        setup=_replace_file(b"\x89PNG\r\n\x1a\n" + b"\0" * 200),
    ),
    Case(
        name="bundle-is-a-folder",
        area="bundle",
        argv=["evaluate", "{tmp}/models", "{events}"],
        exit_code=1,
        message=r"is a folder; give the bundle file",
        description="a folder given as the bundle",
        setup=lambda tmp: (tmp / "models").mkdir(),
    ),
    Case(
        name="bundle-does-not-exist",
        area="bundle",
        argv=["evaluate", "{tmp}/nope.cjml", "{events}"],
        exit_code=1,
        message=r"No model bundle at .*nope\.cjml.*cjml train",
        description="a bundle path that does not exist",
    ),
    Case(
        name="bundle-planted-class-os-system",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"asks for a class 'posix\.system' that bundles may not hold",
        description="state.json asks to rebuild os.system",
        setup=_replace_entries(_plant_class("posix.system")),
        check=_no_marker,
    ),
    Case(
        name="bundle-planted-class-builtins-eval",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"asks for a class 'builtins\.eval'",
        description="state.json asks to rebuild builtins.eval",
        setup=_replace_entries(_plant_class("builtins.eval")),
        check=_no_marker,
    ),
    Case(
        name="bundle-planted-object-array",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"array entry is not a plain numpy array",
        description="an array entry replaced by a pickled object array that runs code",
        setup=_replace_entries(_plant_object_array),
        check=_no_marker,
    ),
    Case(
        name="bundle-planted-pickle-as-booster",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"not a valid cjml bundle",
        description="a LightGBM model entry replaced by a pickle",
        setup=_replace_entries(_plant_pickled_booster),
        check=_no_marker,
    ),
    Case(
        name="bundle-planted-pickle-as-table",
        area="bundle",
        argv=COMMANDS["recommend"],
        exit_code=1,
        message=r"not a valid cjml bundle",
        description="a Parquet table entry replaced by a pickle",
        setup=_replace_entries(_plant_pickled_frame),
        check=_no_marker,
    ),
    Case(
        name="bundle-missing-state",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"it has no state\.json",
        description="a zip without state.json",
        setup=_replace_entries(lambda e: {k: v for k, v in e.items() if k != "state.json"}),
    ),
    Case(
        name="bundle-state-not-json",
        area="bundle",
        argv=COMMANDS["score"],
        exit_code=1,
        message=r"its state\.json is not valid JSON",
        description="state.json is garbage",
        setup=_replace_entries(lambda e: {**e, "state.json": b"\xff\xfe{"}),
    ),
]
