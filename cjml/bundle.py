"""Model bundles: save and load everything scoring needs, safely.

A bundle is a joblib file plus a JSON manifest beside it (``NAME.joblib`` and
``NAME.joblib.manifest.json``). The manifest records the file's size and
sha256 digest, and, when a key is set, an HMAC-SHA256 of the file. Loading
checks all of them **before anything is unpickled**: unpickling runs code, so a
tampered or truncated file must never reach it. The manifest also records the
cjml version, so a bundle from an incompatible version is refused with a
message that says what to do.

Set ``CJML_BUNDLE_KEY`` (any secret text) when saving and loading to sign
bundles; a bundle signed with a key refuses to load without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from cjml._io import _umask
from cjml.exceptions import CjmlError
from cjml.journey import JourneyMap

__all__ = ["BUNDLE_FORMAT", "BundleError", "ModelBundle", "fingerprint"]

#: Version of the bundle layout; bumped when a saved bundle can no longer be read.
BUNDLE_FORMAT = 1
KEY_VARIABLE = "CJML_BUNDLE_KEY"


class BundleError(CjmlError, ValueError):
    """A model bundle is missing, altered, truncated, unsigned or incompatible."""


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def _digests(path: Path, key: bytes | None) -> tuple[str, str | None]:
    sha = hashlib.sha256()
    mac = hmac.new(key, digestmod=hashlib.sha256) if key else None
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
            if mac is not None:
                mac.update(block)
    return sha.hexdigest(), (mac.hexdigest() if mac is not None else None)


def _key(key: str | bytes | None) -> bytes | None:
    if key is None:
        key = os.environ.get(KEY_VARIABLE) or None
    if key is None:
        return None
    return key.encode() if isinstance(key, str) else key


def _version_tuple(version: str) -> tuple[int, int]:
    parts = (version.split("+")[0].split(".") + ["0", "0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return (0, 0)


def fingerprint(log) -> str:
    """A short digest of an event log's content, to record what a model saw.

    Parameters
    ----------
    log : EventLog
        The canonical log.

    Returns
    -------
    str
        16 hex characters; equal logs give equal fingerprints.
    """
    sha = hashlib.sha256()
    for values in (log.customer_codes, log.timestamps_ns, log.touchpoint_codes,
                   log.stage_codes):
        sha.update(np.ascontiguousarray(values).tobytes())
    sha.update(json.dumps([str(c) for c in log.frame["touchpoint"].cat.categories]).encode())
    return sha.hexdigest()[:16]


@dataclass
class ModelBundle:
    """The featurizer, models, journey map and metadata that scoring needs.

    Parameters
    ----------
    featurizer : JourneyFeaturizer
        A fitted featurizer.
    journey_map : JourneyMap
        The map the models were trained with.
    models : dict, default {}
        Fitted models by name (e.g. ``"churn"``, ``"next_stage"``).
    metadata : dict, default {}
        JSON-serialisable facts: training cutoffs and horizon, metrics,
        the training data's :func:`fingerprint`. cjml adds its own version, the
        library versions and the feature names on :meth:`save`.
    """

    featurizer: Any
    journey_map: JourneyMap
    models: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """The featurizer's output columns."""
        return [str(c) for c in self.featurizer.get_feature_names_out()]

    def save(self, path: str | Path, *, force: bool = False, key: str | bytes | None = None
             ) -> Path:
        """Write the bundle and its manifest, atomically.

        Parameters
        ----------
        path : str or Path
            Destination, conventionally ``models/NAME.joblib``.
        force : bool, default False
            Replace an existing bundle; without it an existing file is an error.
        key : str or bytes, optional
            HMAC key to sign the bundle; default ``$CJML_BUNDLE_KEY`` if set.

        Returns
        -------
        Path
            The bundle file.
        """
        import cjml

        path = Path(path)
        manifest_path = _manifest_path(path)
        self.refuse_existing(path, force=force)
        path.parent.mkdir(parents=True, exist_ok=True)
        versions = _library_versions()
        meta = {**self.metadata, "cjml_version": cjml.__version__, "libraries": versions,
                "feature_names": self.feature_names,
                "models": sorted(self.models), "saved_at": datetime.now(UTC).isoformat()}
        payload = {"format": BUNDLE_FORMAT, "featurizer": self.featurizer,
                   "journey_map": self.journey_map.to_dict(), "models": self.models,
                   "metadata": meta}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            joblib.dump(payload, tmp, compress=3)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private: as any program's file
            sha, mac = _digests(Path(tmp), _key(key))
            manifest = {"format": BUNDLE_FORMAT, "file": path.name,
                        "size": Path(tmp).stat().st_size, "sha256": sha, "hmac_sha256": mac,
                        "cjml_version": cjml.__version__, "feature_names": self.feature_names,
                        "models": sorted(self.models), "saved_at": meta["saved_at"]}
            manifest_tmp = Path(tmp + ".manifest")
            manifest_tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            os.replace(tmp, path)
            os.replace(manifest_tmp, manifest_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            Path(tmp + ".manifest").unlink(missing_ok=True)
            raise
        self.metadata = meta
        return path

    @staticmethod
    def refuse_existing(path: str | Path, *, force: bool = False) -> None:
        """Raise if a bundle or its manifest already exists at ``path`` (unless ``force``).

        Parameters
        ----------
        path : str or Path
            The bundle file.
        force : bool, default False
            Allow replacing.

        Raises
        ------
        BundleError
            When the bundle or its manifest exists and ``force`` is false.
        """
        path = Path(path)
        for p in (path, _manifest_path(path)):
            if p.exists() and not force:
                raise BundleError(f"{str(p)!r} already exists and was left untouched. Choose "
                                  "another name or pass force=True (--force) to replace it.")

    @classmethod
    def load(cls, path: str | Path, *, key: str | bytes | None = None) -> ModelBundle:
        """Verify a bundle against its manifest, then load it.

        Parameters
        ----------
        path : str or Path
            The bundle file; its manifest must sit beside it.
        key : str or bytes, optional
            HMAC key; default ``$CJML_BUNDLE_KEY`` if set. Required when the
            bundle was signed.

        Returns
        -------
        ModelBundle
            The loaded bundle.

        Raises
        ------
        BundleError
            When the file or its manifest is missing, the size, digest or
            signature does not match, or the bundle comes from an incompatible
            cjml version. Nothing is unpickled in these cases.
        """
        import cjml

        path = Path(path)
        manifest_path = _manifest_path(path)
        if not path.is_file():
            raise BundleError(f"No model bundle at {str(path)!r}. Train one with `cjml train` "
                              "or ModelBundle.save.")
        if not manifest_path.is_file():
            raise BundleError(f"{str(path)!r} has no manifest ({manifest_path.name}) beside it, "
                              "so its integrity cannot be checked and it was not loaded. Copy "
                              "the manifest along with the bundle, or retrain it.")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BundleError(f"The manifest {str(manifest_path)!r} is not valid JSON; the "
                              "bundle was not loaded.") from None
        if manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{str(path)!r} has bundle format {manifest.get('format')!r}; this "
                              f"cjml reads format {BUNDLE_FORMAT}. Retrain the model with cjml "
                              f"{cjml.__version__}.")
        theirs, ours = manifest.get("cjml_version", "?"), cjml.__version__
        if _version_tuple(theirs) != _version_tuple(ours):
            raise BundleError(f"{str(path)!r} was saved by cjml {theirs}; this is cjml {ours}, "
                              "whose models may differ. Retrain it with this version, or "
                              f"install cjml=={theirs} to use it.")
        size = path.stat().st_size
        if size != manifest.get("size"):
            raise BundleError(f"{str(path)!r} is {size:,} bytes but its manifest says "
                              f"{manifest.get('size'):,}: the file is truncated or altered and "
                              "was not loaded. Copy it again or retrain it.")
        secret = _key(key)
        sha, mac = _digests(path, secret)
        if not hmac.compare_digest(sha, str(manifest.get("sha256"))):
            raise BundleError(f"{str(path)!r} does not match the sha256 in its manifest: the "
                              "file was altered or damaged and was not loaded. Copy it again "
                              "from where it was trained, or retrain it.")
        if manifest.get("hmac_sha256"):
            if secret is None:
                raise BundleError(f"{str(path)!r} is signed; set {KEY_VARIABLE} (or pass key=) "
                                  "to the key it was saved with.")
            if not hmac.compare_digest(mac, manifest["hmac_sha256"]):
                raise BundleError(f"{str(path)!r} is not signed with this key: refused. Check "
                                  f"{KEY_VARIABLE}.")
        payload = joblib.load(path)
        return cls(featurizer=payload["featurizer"],
                   journey_map=JourneyMap.from_dict(payload["journey_map"]),
                   models=payload["models"], metadata=payload["metadata"])

    def check_events(self, log) -> None:
        """Refuse events that lack what the bundle was trained with.

        Parameters
        ----------
        log : EventLog
            The events to score.

        Raises
        ------
        BundleError
            When the log's journey stages differ from the bundle's, or columns
            the bundle's features use (satisfaction, nps, effort, amount,
            channel) are missing.
        """
        if list(log.journey_map.stages) != list(self.journey_map.stages):
            raise BundleError(f"The events use stages {list(log.journey_map.stages)!r} but the "
                              f"model was trained with {list(self.journey_map.stages)!r}. Read "
                              "the events with the bundle's journey map "
                              "(journey_map=bundle.journey_map).")
        trained = set(self.metadata.get("event_columns", []))
        missing = sorted(trained - set(log.frame.columns))
        if missing:
            raise BundleError(f"The events lack column(s) {missing!r} that the model was trained "
                              "with; its features from them would be empty. Add them (map your "
                              "names with columns=...), or retrain without them.")


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "pandas", "scikit-learn", "lightgbm", "joblib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out
