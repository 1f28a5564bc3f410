"""The campaign record: file names beside an export, hashes, the manifest and its checks.

A campaign is a record: its manifest is written once, atomically, and never
replaced (not even with ``force``); :func:`read_campaign` recomputes every
hash it holds and refuses a manifest or an assignments file that differs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cjml.exceptions import CampaignError
from cjml.i18n import format_number, format_percent
from cjml.i18n import gettext as _
from cjml.io._write import publish, write_error

__all__ = [
    "MANIFEST_FORMAT",
    "Campaign",
    "assignments_path",
    "canonical_json",
    "file_sha256",
    "manifest_path",
    "read_campaign",
]

#: The version of the manifest's layout; a reader refuses a newer one.
MANIFEST_FORMAT = 1
_KIND = "cjml-campaign"
#: What a manifest must hold, with the JSON types.
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "kind": str,
    "campaign_id": str,
    "created_at": str,
    "cutoff": str,
    "horizon": str,
    "seed": int,
    "control": (int, float),
    "arms": dict,
    "strata": list,
    "risk_bands": dict,
    "files": dict,
    "cjml_version": str,
    "content_sha256": str,
}


def _stem(export: str | Path) -> Path:
    path = Path(export)
    return path.with_name(path.name[: -len(path.suffix)] if path.suffix else path.name)


def manifest_path(export: str | Path) -> Path:
    """The manifest beside an export: ``actions.csv`` -> ``actions.campaign.json``.

    Parameters
    ----------
    export : str or Path
        The export file.

    Returns
    -------
    Path
        ``<stem>.campaign.json`` in the export's folder.
    """
    stem = _stem(export)
    return stem.with_name(stem.name + ".campaign.json")


def assignments_path(export: str | Path) -> Path:
    """The assignments beside an export: ``actions.csv`` -> ``actions.assignments.parquet``.

    Parameters
    ----------
    export : str or Path
        The export file.

    Returns
    -------
    Path
        ``<stem>.assignments.parquet`` in the export's folder.
    """
    stem = _stem(export)
    return stem.with_name(stem.name + ".assignments.parquet")


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 hex characters.
    """
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def canonical_json(manifest: dict[str, Any]) -> bytes:
    """The manifest's canonical JSON without ``content_sha256``: what that hash covers.

    Parameters
    ----------
    manifest : dict
        The manifest.

    Returns
    -------
    bytes
        Sorted keys, no spaces, UTF-8.
    """
    body = {k: v for k, v in manifest.items() if k != "content_sha256"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON: numpy numbers as Python numbers, NaN as None, paths as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [json_safe(v) for v in items]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, pd.Timestamp | pd.Timedelta):
        return value.isoformat()
    return str(value)


def write_new_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON to ``path`` atomically, only if no file is there.

    The finished temporary file is hard-linked to ``path``, which fails if
    anything exists there, even a file created a moment ago by another run:
    a record is never replaced.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        publish(tmp, tmp)  # the umask's mode, before it is visible
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: exclusive creation instead
            with open(path, "x", encoding="utf-8") as handle:
                handle.write(text)
    except FileExistsError:
        raise CampaignError(
            f"The campaign manifest {str(path)!r} already exists and was left untouched: a "
            "campaign is a record and is never overwritten, even with --force. Choose "
            "another --out for the new campaign."
        ) from None
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


@dataclass
class Campaign:
    """An exported campaign: its manifest, its assignments and where the manifest is.

    Parameters
    ----------
    manifest : dict
        The manifest as recorded (campaign id, cutoff, horizon, seed, control
        share, arms, strata, risk band edges, rules, files and their sha256).
    assignments : DataFrame
        One row per selected customer: ``customer_id, arm, touchpoint,
        risk_band, churn_risk, expected_risk_reduction, cost, segment``.
    path : Path
        The manifest file.
    """

    manifest: dict[str, Any]
    assignments: pd.DataFrame
    path: Path

    @property
    def campaign_id(self) -> str:
        """The campaign's id."""
        return str(self.manifest["campaign_id"])

    @property
    def cutoff(self) -> pd.Timestamp:
        """When the touchpoints were chosen (UTC)."""
        return pd.Timestamp(self.manifest["cutoff"])

    @property
    def horizon(self) -> pd.Timedelta:
        """How long after the cutoff drop-off is measured."""
        return pd.Timedelta(self.manifest["horizon"])

    def to_text(self) -> str:
        """The campaign in a few lines: id, arms, files.

        Returns
        -------
        str
            For terminals and logs.
        """
        m = self.manifest
        n_treated = int(m["arms"].get("treatment", 0))
        n_control = int(m["arms"].get("control", 0))
        total = n_treated + n_control
        files = m["files"]
        lines = [
            _(
                "Campaign {campaign_id}: {selected} selected customers, {treated} treated and "
                "{control} held out as control ({share}); seed {seed}."
            ).format(
                campaign_id=m["campaign_id"],
                selected=format_number(total),
                treated=format_number(n_treated),
                control=format_number(n_control),
                share=format_percent(n_control / total if total else 0.0),
                seed=m["seed"],
            ),
            "  " + _("export: {file}").format(file=self.path.parent / files["export"]["name"]),
            "  "
            + _("assignments: {file}").format(file=self.path.parent / files["assignments"]["name"]),
            "  " + _("manifest (the record; never overwritten): {file}").format(file=self.path),
        ]
        return "\n".join(lines)


def read_campaign(manifest_path: str | Path) -> Campaign:
    """Read a campaign's manifest and assignments, checking every recorded hash.

    Parameters
    ----------
    manifest_path : str or Path
        The ``<stem>.campaign.json`` file written by :func:`cjml.export_campaign`.

    Returns
    -------
    Campaign
        The manifest and the assignments, as recorded.

    Raises
    ------
    CampaignError
        When the manifest is missing, not JSON, lacks a field, or differs
        from its ``content_sha256`` (it was altered), or when the assignments
        file is missing or differs from the sha256 the manifest recorded. The
        message names the file and what differs. An export file that was
        changed or removed after the export only warns: it is the list handed
        to the delivery system, and the measurement does not read it.
    """
    path = Path(manifest_path)
    if not path.is_file():
        raise CampaignError(
            f"Campaign manifest {str(path)!r} not found. Give the <name>.campaign.json file "
            "written beside the export (cjml score/recommend --control)."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CampaignError(
            f"Campaign manifest {str(path)!r} is not valid JSON ({exc}): it was altered or "
            "damaged. Use the original file from the export."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != _KIND:
        raise CampaignError(
            f'{str(path)!r} is not a cjml campaign manifest (no "kind": "{_KIND}"). Give '
            "the <name>.campaign.json file written beside the export."
        )
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise CampaignError(
                f"Campaign manifest {str(path)!r} has no valid {key!r} field: it was altered "
                "or damaged. Use the original file from the export."
            )
    if manifest["format"] > MANIFEST_FORMAT:
        raise CampaignError(
            f"Campaign manifest {str(path)!r} has format {manifest['format']}, newer than "
            f"this cjml reads ({MANIFEST_FORMAT}). Upgrade cjml."
        )
    content = hashlib.sha256(canonical_json(manifest)).hexdigest()
    if content != manifest["content_sha256"]:
        raise CampaignError(
            f"Campaign manifest {str(path)!r} was altered: its content does not match its "
            f"content_sha256 ({manifest['content_sha256'][:12]}... recorded, "
            f"{content[:12]}... now). A campaign is a record; use the original file."
        )
    files = manifest["files"]
    folder = path.parent
    record = files.get("assignments") or {}
    assigned = folder / str(record.get("name", ""))
    if not record.get("name") or not assigned.is_file():
        raise CampaignError(
            f"The assignments file {str(assigned)!r} of campaign {manifest['campaign_id']} "
            f"(manifest {str(path)!r}) is missing. Keep it beside the manifest."
        )
    digest = file_sha256(assigned)
    if digest != record.get("sha256"):
        raise CampaignError(
            f"The assignments file {str(assigned)!r} of campaign {manifest['campaign_id']} was "
            f"altered: its sha256 is {digest[:12]}..., the manifest recorded "
            f"{str(record.get('sha256'))[:12]}.... Use the original file."
        )
    assignments = pd.read_parquet(assigned)
    export = files.get("export") or {}
    exported = folder / str(export.get("name", ""))
    if export.get("name") and (
        not exported.is_file() or file_sha256(exported) != export.get("sha256")
    ):
        warnings.warn(
            f"The export {str(exported)!r} of campaign {manifest['campaign_id']} was changed "
            "or removed after the export; the measurement uses the assignments, which are "
            "intact.",
            UserWarning,
            stacklevel=2,
        )
    return Campaign(manifest=manifest, assignments=assignments, path=path)


def as_campaign(campaign: Campaign | str | Path) -> Campaign:
    """A :class:`Campaign`, reading (and checking) a manifest path when given one."""
    if isinstance(campaign, Campaign):
        return campaign
    if isinstance(campaign, str | os.PathLike):
        return read_campaign(campaign)
    raise TypeError(
        f"Expected a Campaign or the path of a campaign manifest, got {type(campaign).__name__}."
    )
