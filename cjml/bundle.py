"""Model bundles: save and load everything scoring needs, safely.

A bundle is a file plus a JSON manifest beside it (``NAME.cjml`` and
``NAME.cjml.manifest.json``). The file holds the fitted state as JSON, numpy
arrays, Parquet tables and LightGBM's text dumps in one zip
(:mod:`cjml._bundle_codec`): loading it never unpickles or evaluates anything,
so a bundle from anywhere cannot run code. The manifest records the file's
size and sha256 digest, and, when a key is set, an HMAC-SHA256 of the file;
loading checks them before parsing anything. The manifest also records the
cjml version, so a bundle from an incompatible version is refused with a
message that says what to do.

Set ``CJML_BUNDLE_KEY`` (any secret text) when saving and loading to sign
bundles: with a key set, only bundles signed with it load; a bundle signed with
a key refuses to load without it.

Bundles of cjml's first format were joblib pickles, which run code when
loaded; they load only with ``trusted=True`` (``--trust-pickle``), with a
warning, and ``ModelBundle.load(old, trusted=True).save(new)`` converts one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cjml._bundle_codec import CodecError, read_state, write_state
from cjml._version import __version__
from cjml.exceptions import CjmlError, JourneyMapError
from cjml.io._write import _umask
from cjml.journey import JourneyMap

__all__ = ["BUNDLE_FORMAT", "BundleError", "ModelBundle", "fingerprint"]

#: Version of the bundle layout; bumped when a saved bundle can no longer be read.
BUNDLE_FORMAT = 2
#: The first format: a joblib pickle, read only when trusted.
PICKLE_FORMAT = 1
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
    for values in (log.customer_codes, log.timestamps_ns, log.touchpoint_codes, log.stage_codes):
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

    def save(
        self, path: str | Path, *, force: bool = False, key: str | bytes | None = None
    ) -> Path:
        """Write the bundle and its manifest, atomically.

        Parameters
        ----------
        path : str or Path
            Destination, conventionally ``models/NAME.cjml``.
        force : bool, default False
            Replace an existing bundle; without it an existing file is an error.
        key : str or bytes, optional
            HMAC key to sign the bundle; default ``$CJML_BUNDLE_KEY`` if set.

        Returns
        -------
        Path
            The bundle file.
        """
        path = Path(path)
        manifest_path = _manifest_path(path)
        self.refuse_existing(path, force=force)
        path.parent.mkdir(parents=True, exist_ok=True)
        versions = _library_versions()
        meta = {
            **self.metadata,
            "cjml_version": __version__,
            "libraries": versions,
            "feature_names": self.feature_names,
            "models": sorted(self.models),
            "saved_at": datetime.now(UTC).isoformat(),
        }
        payload = {
            "format": BUNDLE_FORMAT,
            "featurizer": self.featurizer,
            "journey_map": self.journey_map.to_dict(),
            "models": self.models,
            "metadata": meta,
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            try:
                write_state(payload, tmp)
            except CodecError as err:
                raise BundleError(f"The bundle cannot be saved safely: {err}") from None
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private: as any program's file
            sha, mac = _digests(Path(tmp), _key(key))
            manifest = {
                "format": BUNDLE_FORMAT,
                "file": path.name,
                "size": Path(tmp).stat().st_size,
                "sha256": sha,
                "hmac_sha256": mac,
                "cjml_version": __version__,
                "feature_names": self.feature_names,
                "models": sorted(self.models),
                "saved_at": meta["saved_at"],
            }
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
                raise BundleError(
                    f"{str(p)!r} already exists and was left untouched. Choose "
                    "another name or pass force=True (--force) to replace it."
                )

    @classmethod
    def load(
        cls, path: str | Path, *, key: str | bytes | None = None, trusted: bool = False
    ) -> ModelBundle:
        """Verify a bundle against its manifest, then load it without running anything.

        Parameters
        ----------
        path : str or Path
            The bundle file; its manifest must sit beside it.
        key : str or bytes, optional
            HMAC key; default ``$CJML_BUNDLE_KEY`` if set. With a key, only
            bundles signed with it load; a signed bundle needs its key.
        trusted : bool, default False
            Also read bundles of the first, pickle-based format. Unpickling
            runs whatever code the file holds: pass it only for files you made
            yourself, then save them again to convert them.

        Returns
        -------
        ModelBundle
            The loaded bundle.

        Raises
        ------
        BundleError
            When the file or its manifest is missing or malformed, the size,
            digest or signature does not match, the bundle is unsigned while a
            key is set, it is a pickle and ``trusted`` is false, its content is
            not a valid bundle, or it comes from an incompatible cjml version.
        """
        path = Path(path)
        manifest = _read_manifest(path)
        secret = _key(key)
        sha, mac = _digests(path, secret)
        if not hmac.compare_digest(sha, manifest["sha256"]):
            raise BundleError(
                f"{str(path)!r} does not match the sha256 in its manifest: the "
                "file was altered or damaged and was not loaded. Copy it again "
                "from where it was trained, or retrain it."
            )
        signature = manifest.get("hmac_sha256")
        if signature is not None and secret is None:
            raise BundleError(
                f"{str(path)!r} is signed; set {KEY_VARIABLE} (or pass key=) "
                "to the key it was saved with."
            )
        if secret is not None:
            if signature is None:
                raise BundleError(
                    f"{str(path)!r} is not signed, and {KEY_VARIABLE} is set, so "
                    "only signed bundles load: refused. Save it again with the "
                    f"key set, or unset {KEY_VARIABLE} to load unsigned bundles."
                )
            if not hmac.compare_digest(mac, signature):
                raise BundleError(
                    f"{str(path)!r} is not signed with this key: refused. Check {KEY_VARIABLE}."
                )
        if manifest["format"] == PICKLE_FORMAT:
            payload = _load_pickle(path, trusted)
        else:
            try:
                payload = read_state(path)
            except CodecError as err:
                raise BundleError(
                    f"{str(path)!r} is not a valid cjml bundle ({err}); nothing "
                    "in it was run. Copy it again from where it was trained, or "
                    "retrain it."
                ) from None
        return cls._from_payload(payload, path)

    @classmethod
    def _from_payload(cls, payload: Any, path: Path) -> ModelBundle:
        fields = {"featurizer": object, "journey_map": dict, "models": dict, "metadata": dict}
        if (
            not isinstance(payload, dict)
            or any(not isinstance(payload.get(name), kind) for name, kind in fields.items())
            or not hasattr(payload["featurizer"], "transform")
        ):
            raise BundleError(
                f"{str(path)!r} does not hold a featurizer, journey map, models "
                "and metadata; it is not a cjml bundle. Retrain it."
            )
        try:
            journey_map = JourneyMap.from_dict(payload["journey_map"])
        except (JourneyMapError, TypeError, ValueError, KeyError) as err:
            raise BundleError(
                f"The journey map in {str(path)!r} is not valid ({err}). Retrain the bundle."
            ) from None
        return cls(
            featurizer=payload["featurizer"],
            journey_map=journey_map,
            models=payload["models"],
            metadata=payload["metadata"],
        )

    def touchpoint_for(self, events, touchpoint=None, columns=None, encoding=None):
        """The touchpoint of every event: ``touchpoint``, else the bundle's, for events without one.

        The bundle's is the one it was trained with
        (``read_events(..., touchpoint="purchase")``, kept as
        ``metadata["constant_touchpoint"]``), used when ``events`` have no
        touchpoint column.

        Parameters
        ----------
        events : EventLog, DataFrame or path
            The events about to be read.
        touchpoint : str, optional
            The caller's own; returned unchanged when given.
        columns : mapping or str, optional
            How the events will be read (:meth:`columns_for`).
        encoding : str, optional
            The text encoding of CSV events when it is not UTF-8.

        Returns
        -------
        str or None
            The ``touchpoint=`` to pass to :func:`cjml.read_events` (None: the events'
            own touchpoint column).
        """
        import pandas as pd

        if touchpoint is not None:
            return touchpoint
        remembered = self.metadata.get("constant_touchpoint")
        if remembered is None or not isinstance(events, pd.DataFrame | str | os.PathLike):
            return None
        from cjml.io._columns import _parse_columns
        from cjml.io._source import _open_source

        try:
            available = {str(c) for c in _open_source(events, encoding).columns}
        except (CjmlError, ValueError):
            return None  # the read itself will say what is wrong with the file
        own = str(
            _parse_columns(self.columns_for(events, columns, encoding)).get(
                "touchpoint", "touchpoint"
            )
        )
        return None if own in available else str(remembered)

    def columns_for(self, events, columns=None, encoding=None):
        """How to read events for this bundle: ``columns``, else the names it was trained on.

        A log trained as ``read_events(..., columns={"customer_id": "user_id"})`` keeps
        those names in the bundle (``metadata["column_names"]``). Events that hold
        ``user_id`` and no ``customer_id`` are then read with the same mapping, so that
        scoring, recommending and the app need no ``columns=`` (``--columns``) again.
        Events with the canonical names, or an explicit ``columns``, are read as given.

        Parameters
        ----------
        events : EventLog, DataFrame or path
            The events about to be read.
        columns : mapping or str, optional
            The caller's own mapping; returned unchanged when given.
        encoding : str, optional
            The text encoding of CSV events when it is not UTF-8.

        Returns
        -------
        mapping, str or None
            The mapping to pass to :func:`cjml.read_events` (None: the canonical names).
        """
        import pandas as pd

        if columns is not None:
            return columns
        remembered = self.metadata.get("column_names") or {}
        if not remembered or not isinstance(events, pd.DataFrame | str | os.PathLike):
            return None  # nothing remembered, or an EventLog (already read)
        from cjml.io._source import _open_source

        try:
            available = {str(c) for c in _open_source(events, encoding).columns}
        except (CjmlError, ValueError):
            return None  # the read itself will say what is wrong with the file
        use = {
            canon: name
            for canon, name in remembered.items()
            if canon not in available and name in available
        }
        return use or None

    def timezone_for(self, events, timezone=None, columns=None):
        """The timezone to read events in for this bundle: ``timezone``, else the events' own.

        An :class:`~cjml.EventLog` has its own; a Parquet file written by
        :meth:`cjml.EventLog.save` records one; a timezone-aware timestamp column (in a
        DataFrame or a Parquet file) holds one. Other events (a CSV of naive times, a
        DataFrame) are read in the timezone the bundle was trained in
        (``metadata["timezone"]``), so that ``score``, ``recommend`` and the app read the
        same file the same way without ``timezone=`` (``--timezone``); else UTC.

        Parameters
        ----------
        events : EventLog, DataFrame or path
            The events about to be read.
        timezone : str or tzinfo, optional
            The caller's own timezone; returned unchanged when given.
        columns : mapping or str, optional
            How the events' columns are named, as for :meth:`columns_for` (default:
            the names this bundle was trained on, where the events have them).

        Returns
        -------
        str or tzinfo
            The timezone to pass to :func:`cjml.read_events`.
        """
        from cjml.events import EventLog
        from cjml.io._files import timezone_for

        if timezone is None and isinstance(events, EventLog):
            return events.timezone
        if timezone is None:
            columns = self.columns_for(events, columns)
        return timezone_for(
            events, timezone, fallback=self.metadata.get("timezone"), columns=columns
        )

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
            raise BundleError(
                f"The events use stages {list(log.journey_map.stages)!r} but the "
                f"model was trained with {list(self.journey_map.stages)!r}. Read "
                "the events with the bundle's journey map "
                "(journey_map=bundle.journey_map)."
            )
        trained = set(self.metadata.get("event_columns", []))
        missing = sorted(trained - set(log.frame.columns))
        if missing:
            raise BundleError(
                f"The events lack column(s) {missing!r} that the model was trained "
                "with; its features from them would be empty. Add them (map your "
                "names with columns=...), or retrain without them."
            )


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest beside ``path``, checked field by field and against the file's
    size and cjml version, before the bundle itself is read."""
    manifest_path = _manifest_path(path)
    if path.is_dir():
        raise BundleError(f"{str(path)!r} is a folder; give the bundle file (NAME.cjml).")
    if not path.is_file():
        raise BundleError(
            f"No model bundle at {str(path)!r}. Train one with `cjml train` or ModelBundle.save."
        )
    from cjml.io._files import _suffix_kind

    kind = _suffix_kind(path)
    if not manifest_path.is_file() and kind is not None:  # the events given for the bundle
        words = {
            "csv": "a CSV",
            "parquet": "a Parquet",
            "json": "a JSON Lines",
            "excel": "an Excel",
        }[kind]
        raise BundleError(
            f"{str(path)!r} is {words} file of events, not a model bundle. Fix: give the "
            "bundle first, then the events (cjml.score(bundle, events); cjml score MODEL "
            "EVENTS); cjml train writes bundles (NAME.cjml)."
        )
    if not manifest_path.is_file():
        raise BundleError(
            f"{str(path)!r} has no manifest ({manifest_path.name}) beside it, "
            "so its integrity cannot be checked and it was not loaded. Copy "
            "the manifest along with the bundle, or retrain it."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BundleError(
            f"The manifest {str(manifest_path)!r} is not valid JSON; the bundle was not loaded."
        ) from None

    def malformed(what: str) -> BundleError:
        return BundleError(
            f"The manifest {str(manifest_path)!r} {what}; it is damaged or "
            "was altered, and the bundle was not loaded. Copy the bundle and "
            "its manifest again, or retrain it."
        )

    if not isinstance(manifest, dict):
        raise malformed(f"is a JSON {type(manifest).__name__}, not an object")
    fmt = manifest.get("format")
    if fmt not in (BUNDLE_FORMAT, PICKLE_FORMAT) or isinstance(fmt, bool):
        raise BundleError(
            f"{str(path)!r} has bundle format {fmt!r}; this cjml reads format "
            f"{BUNDLE_FORMAT} (and {PICKLE_FORMAT} when trusted). Retrain the "
            f"model with cjml {__version__}."
        )
    theirs = manifest.get("cjml_version")
    if not isinstance(theirs, str):
        raise malformed("has no cjml_version")
    if _version_tuple(theirs) != _version_tuple(__version__):
        raise BundleError(
            f"{str(path)!r} was saved by cjml {theirs}; this is cjml "
            f"{__version__}, whose models may differ. Retrain it with this "
            f"version, or install cjml=={theirs} to use it."
        )
    size = manifest.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise malformed("has no valid size")
    sha = manifest.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise malformed("has no valid sha256")
    signature = manifest.get("hmac_sha256")
    if signature is not None and (
        not isinstance(signature, str) or not re.fullmatch(r"[0-9a-f]{64}", signature)
    ):
        raise malformed("has a signature (hmac_sha256) that is not 64 hex digits")
    actual = path.stat().st_size
    if actual != size:
        raise BundleError(
            f"{str(path)!r} is {actual:,} bytes but its manifest says {size:,}: "
            "the file is truncated or altered and was not loaded. Copy it again "
            "or retrain it."
        )
    return manifest


def _load_pickle(path: Path, trusted: bool) -> Any:
    """Read a bundle of the first, pickle-based format, only when the caller trusts it."""
    if not trusted:
        raise BundleError(
            f"{str(path)!r} is a pickle-based bundle (cjml's first format); "
            "loading a pickle can run any code it holds, so it was not loaded. "
            "Retrain it, or, only if you made it yourself, load it once with "
            "--trust-pickle (trusted=True) and save it again to convert it."
        )
    import warnings

    import joblib

    warnings.warn(
        f"Loading {str(path)!r}, a pickle-based bundle, with trusted=True: "
        "unpickling runs any code the file holds. Save it again to convert it to "
        "the safe format.",
        UserWarning,
        stacklevel=3,
    )
    return joblib.load(path)


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "pandas", "scikit-learn", "lightgbm", "joblib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out
