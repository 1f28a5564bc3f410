"""Control groups on export: the seeded, stratified assignment and the campaign's files."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml._version import __version__
from cjml.campaign._record import (
    MANIFEST_FORMAT,
    Campaign,
    assignments_path,
    canonical_json,
    file_sha256,
    json_safe,
    manifest_path,
    write_new_json,
)
from cjml.exceptions import CampaignError
from cjml.i18n import gettext as _
from cjml.io._timestamps import to_utc_timestamp
from cjml.io._write import TABLE_SUFFIXES, check_output, write_table
from cjml.labels import to_timedelta

__all__ = ["ARMS", "RISK_BANDS", "assign_arms", "export_campaign", "parse_share"]

#: The arms of a campaign.
ARMS = ("treatment", "control")
#: The risk bands of the strata: the tertiles of the churn risk among the selected.
RISK_BANDS = ("low", "middle", "high")
#: The columns of the assignments file, in order.
ASSIGNMENT_COLUMNS = (
    "customer_id",
    "arm",
    "touchpoint",
    "risk_band",
    "churn_risk",
    "expected_risk_reduction",
    "cost",
    "segment",
)
#: How each stratum's control count is rounded (recorded in the manifest).
ROUNDING = (
    "largest remainder: each stratum holds out floor(share x n) or one more customer, the "
    "total round(share x selected); ties go to the earlier stratum in (touchpoint, risk_band) "
    "order; within a stratum, customers sorted by id, the control group is the first ones of "
    "a permutation drawn with numpy.random.default_rng(seed), strata in that order"
)
# Columns of the export that tell someone to act: emptied on control rows.
_ACTION_PREFIXES = (
    "recommended_touchpoint",
    "touchpoint",  # the panel's export of approved actions names it so
    "expected_risk",
    "expected_value_saved",
    "evidence",
    "uncertain",
    "cost",
)


#: Where a frame names each customer's touchpoint: cjml.score and recommend, then the
#: panel's approved actions.
_TOUCHPOINT_COLUMNS = ("recommended_touchpoint", "touchpoint")


def parse_share(value: Any, name: str = "control") -> float:
    """Read a control share: ``0.1``, ``"0.1"`` or ``"10%"``.

    Parameters
    ----------
    value : float or str
        The share of the selected customers held out.
    name : str, default "control"
        The parameter's name, for the message.

    Returns
    -------
    float
        Strictly between 0 and 1.

    Raises
    ------
    ValueError
        When it is not a number or a percentage strictly between 0 and 1 (0% and 100%).
    """
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = float("nan")
    if isinstance(value, bool) or not (0 < share < 1):
        raise ValueError(
            f"{name}={value!r} is not a share of the selected customers: give a percentage "
            "such as 10% or a fraction such as 0.1, above 0 and below 1."
        )
    return share


def _customer_ids(frame: pd.DataFrame) -> pd.Series:
    if "customer_id" in frame.columns:
        return frame["customer_id"].reset_index(drop=True)
    if frame.index.name == "customer_id":
        return pd.Series(frame.index, name="customer_id").reset_index(drop=True)
    raise CampaignError(
        "The frame has no customer_id column or index: give what cjml.score or "
        "TouchpointRecommender.recommend returned."
    )


def _risk(frame: pd.DataFrame) -> pd.Series:
    for column in ("churn_risk", "baseline_risk"):
        if column in frame.columns:
            return pd.to_numeric(frame[column], errors="coerce").reset_index(drop=True)
    raise CampaignError(
        "The frame has neither a churn_risk column (cjml.score) nor a baseline_risk column "
        "(TouchpointRecommender.recommend): the risk bands of the strata need one."
    )


def _costs(bundle, rules) -> dict[str, float]:
    """Unit costs by touchpoint: the journey map's, overridden by the rules'."""
    known: dict[str, float] = {}
    if bundle is not None and not isinstance(bundle, str | os.PathLike):
        for tp in bundle.journey_map.touchpoints:
            if tp.cost is not None:
                known[tp.name] = float(tp.cost)
    rule_costs = rules.get("costs") if isinstance(rules, Mapping) else getattr(rules, "costs", None)
    known.update({str(k): float(v) for k, v in (rule_costs or {}).items()})
    return known


def _bands(risk: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Tertile bands of the risk (0 low, 1 middle, 2 high) and the two edges."""
    finite = risk[np.isfinite(risk)]
    if not len(finite):
        return np.zeros(len(risk), dtype=np.int64), [float("nan"), float("nan")]
    edges = np.quantile(finite, [1 / 3, 2 / 3])
    band = np.searchsorted(edges, np.nan_to_num(risk, nan=-np.inf), side="left")
    return band.astype(np.int64), [float(e) for e in edges]


def _control_counts(sizes: np.ndarray, share: float) -> np.ndarray:
    """Per stratum, floor(share x n) or one more, summing to round(share x total)."""
    target = share * sizes
    counts = np.floor(target).astype(np.int64)
    extra = int(np.floor(share * sizes.sum() + 0.5)) - int(counts.sum())
    if extra > 0:
        remainder = target - counts
        order = np.argsort(-remainder, kind="stable")  # ties: the earlier stratum
        counts[order[:extra]] += 1
    return counts


def assign_arms(
    frame: pd.DataFrame,
    *,
    control: float | str = 0.1,
    seed: int = 0,
    costs: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The treatment and control arms of the selected customers, as recorded in a campaign.

    The assignment is a function of the frame's selected customers, their
    recommended touchpoint and churn risk, the share and the seed only:
    re-running it with a campaign's ``manifest["seed"]`` and
    ``manifest["control"]`` on the same frame gives the same arms.

    Parameters
    ----------
    frame : DataFrame
        What :func:`cjml.score` or :meth:`cjml.TouchpointRecommender.recommend`
        returned: ``customer_id`` (column or index), ``recommended_touchpoint``
        (or ``touchpoint``, as in the panel's approved actions), ``churn_risk``
        (or ``baseline_risk``), optionally ``expected_risk_reduction``,
        ``cost`` and ``segment``.
    control : float or str, default 0.1
        The share held out in each stratum (``0.1`` or ``"10%"``).
    seed : int, default 0
        The seed of the permutations.
    costs : mapping of str to float, optional
        Unit cost per touchpoint, for a frame without a ``cost`` column.

    Returns
    -------
    DataFrame
        One row per selected customer (those with a recommended touchpoint),
        sorted by touchpoint, risk band and customer id, with the columns of
        the assignments file: ``customer_id, arm, touchpoint, risk_band,
        churn_risk, expected_risk_reduction, cost, segment``. ``attrs`` hold
        ``risk_band_edges`` and ``strata`` (one dict per stratum: touchpoint,
        risk_band, n, n_control, target).
    """
    share = parse_share(control)
    ids = _customer_ids(frame)
    column = next((c for c in _TOUCHPOINT_COLUMNS if c in frame.columns), None)
    if column is None:
        raise CampaignError(
            "The frame has no recommended_touchpoint column: export what cjml.score (with "
            "recommendations) or TouchpointRecommender.recommend returned, or the panel's "
            "approved actions (a touchpoint column)."
        )
    touchpoint = frame[column].reset_index(drop=True)
    text = touchpoint.astype(object).where(touchpoint.notna(), None)
    chosen = np.array([isinstance(t, str) and t.strip() != "" for t in text], dtype=bool)
    if ids[chosen].duplicated().any():
        twice = ids[chosen][ids[chosen].duplicated()].head(5).tolist()
        raise CampaignError(
            f"Customers {twice!r} appear more than once among the selected; export one row "
            "per customer (the first-ranked touchpoint)."
        )
    risk = _risk(frame)
    reduction = (
        pd.to_numeric(frame["expected_risk_reduction"], errors="coerce").reset_index(drop=True)
        if "expected_risk_reduction" in frame.columns
        else pd.Series(np.nan, index=ids.index)
    )
    segment = (
        frame["segment"].reset_index(drop=True).astype(object)
        if "segment" in frame.columns
        else pd.Series(None, index=ids.index, dtype=object)
    )
    if "cost" in frame.columns:
        cost = pd.to_numeric(frame["cost"], errors="coerce").reset_index(drop=True)
    else:
        cost = text.map(dict(costs or {})).astype(float)
    band, edges = _bands(risk[chosen].to_numpy(dtype=float))
    table = pd.DataFrame(
        {
            "customer_id": ids[chosen].to_numpy(),
            "arm": ARMS[0],
            "touchpoint": text[chosen].astype(str).to_numpy(),
            "band_code": band,
            "churn_risk": risk[chosen].to_numpy(dtype=float),
            "expected_risk_reduction": reduction[chosen].to_numpy(dtype=float),
            "cost": cost[chosen].to_numpy(dtype=float),
            "segment": segment[chosen].to_numpy(dtype=object),
        }
    )
    table = table.sort_values(["touchpoint", "band_code", "customer_id"], kind="stable")
    table = table.reset_index(drop=True)
    group = table.groupby(["touchpoint", "band_code"], sort=False).ngroup().to_numpy()
    sizes = np.bincount(group, minlength=int(group.max()) + 1 if len(group) else 0)
    starts = (np.cumsum(sizes) - sizes).astype(np.int64)
    key_touchpoint = table["touchpoint"].to_numpy(dtype=object)[starts]
    key_band = table["band_code"].to_numpy(dtype=np.int64)[starts]
    counts = _control_counts(sizes, share)
    rng = np.random.default_rng(seed)
    arm = np.full(len(table), ARMS[0], dtype=object)
    strata = []
    for start, size, n_control, touchpoint_name, band_code in zip(
        starts, sizes, counts, key_touchpoint, key_band, strict=True
    ):
        held = rng.permutation(int(size))[: int(n_control)]
        arm[start + held] = ARMS[1]
        strata.append(
            {
                "touchpoint": str(touchpoint_name),
                "risk_band": RISK_BANDS[int(band_code)],
                "n": int(size),
                "n_control": int(n_control),
                "target": round(share * int(size), 6),
            }
        )
    table["arm"] = arm
    table.insert(3, "risk_band", [RISK_BANDS[int(b)] for b in table.pop("band_code")])
    table = table[list(ASSIGNMENT_COLUMNS)]
    table.attrs = {"risk_band_edges": edges, "strata": strata}
    return table


def _export_frame(frame: pd.DataFrame, assignments: pd.DataFrame, reason: str) -> pd.DataFrame:
    """The frame with an ``arm`` column after the customer id, its control rows emptied."""
    out = frame.reset_index() if "customer_id" not in frame.columns else frame.copy()
    out = out.reset_index(drop=True)
    arms = dict(zip(assignments["customer_id"], assignments["arm"], strict=True))
    arm = out["customer_id"].map(arms).astype(object)
    where = list(out.columns).index("customer_id") + 1
    out.insert(where, "arm", arm.where(arm.notna(), None))
    held = (arm == ARMS[1]).to_numpy()
    if held.any():
        for column in out.columns:
            if not str(column).startswith(_ACTION_PREFIXES):
                continue
            values = out[column]
            if pd.api.types.is_bool_dtype(values):
                values = values.astype("boolean")
            elif pd.api.types.is_integer_dtype(values):
                values = values.astype("Int64")
            elif not pd.api.types.is_float_dtype(values):
                values = values.astype(object)
            values = values.copy()
            if pd.api.types.is_float_dtype(values):
                values[held] = np.nan
            else:
                values[held] = None if values.dtype == object else pd.NA
            out[column] = values
        if "reason" in out.columns:
            reasons = out["reason"].astype(object)
            reasons[held] = reason
            out["reason"] = reasons
    return out


def _load(bundle):
    """The bundle itself, loaded (and verified) when given as a path."""
    if isinstance(bundle, str | os.PathLike):
        from cjml.bundle import ModelBundle

        return ModelBundle.load(bundle)
    return bundle


def _bundle_record(bundle, loaded) -> dict[str, Any] | None:
    """What the manifest records of the bundle: its data fingerprint and file hash."""
    if bundle is None:
        return None
    path = Path(bundle) if isinstance(bundle, str | os.PathLike) else None
    metadata = getattr(loaded, "metadata", {}) or {}
    return {
        "file": None if path is None else path.name,
        "sha256": None if path is None else file_sha256(path),
        "fingerprint": (metadata.get("training_data") or {}).get("fingerprint"),
    }


def _rules_record(rules) -> Any:
    """The rules as plain JSON (a rules file by name, hash and text)."""
    if rules is None:
        return None
    if isinstance(rules, str | os.PathLike):
        path = Path(rules)
        return {
            "file": path.name,
            "sha256": file_sha256(path),
            "text": path.read_text(encoding="utf-8"),
        }
    if dataclasses.is_dataclass(rules) and not isinstance(rules, type):
        return json_safe(dataclasses.asdict(rules))
    return json_safe(rules)


def _cutoff_of(frame: pd.DataFrame, cutoff) -> pd.Timestamp:
    if cutoff is None:
        summary = frame.attrs.get("summary") or {}
        cutoff = summary.get("cutoff") if isinstance(summary, dict) else None
    if cutoff is None:
        raise CampaignError(
            "The campaign's cutoff is unknown: pass cutoff= (the date the scores or "
            "recommendations were made at, e.g. cutoff='2024-06-01')."
        )
    return to_utc_timestamp(cutoff)


def _horizon_of(bundle, horizon) -> pd.Timedelta:
    if horizon is None and bundle is not None:
        horizon = (getattr(bundle, "metadata", {}) or {}).get("horizon")
    if horizon is None:
        raise CampaignError(
            "The campaign's horizon is unknown: pass horizon= (e.g. '30D', the churn "
            "horizon of the models) or bundle=."
        )
    return to_timedelta(horizon, "horizon")


def export_campaign(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    control: float | str = 0.1,
    seed: int | None = None,
    campaign_id: str | None = None,
    bundle=None,
    cutoff=None,
    horizon=None,
    rules=None,
    force: bool = False,
) -> Campaign:
    """Export a list of customers to act on with a random control group held out, and record it.

    Of the customers with a recommended touchpoint (the "selected"), a share
    ``control`` is held out at random within each stratum of recommended
    touchpoint x risk band (the tertiles of the churn risk among the
    selected), with a recorded seed, so the campaign's effect can later be
    measured against them (:func:`cjml.measure_campaign`).

    Three files are written, atomically: the export (``path``: every row
    of ``frame`` with an ``arm`` column, "treatment", "control", or empty for
    customers without a touchpoint; the control rows keep the customer but
    their touchpoint and action columns are emptied, so nobody delivers to
    them), the assignments ``<stem>.assignments.parquet`` and the manifest
    ``<stem>.campaign.json``.

    Parameters
    ----------
    frame : DataFrame
        What :func:`cjml.score` or :meth:`cjml.TouchpointRecommender.recommend`
        returned, or the panel's approved actions (``customer_id``,
        ``recommended_touchpoint`` or ``touchpoint``, ``churn_risk``
        or ``baseline_risk``, ``expected_risk_reduction``, ``cost`` and
        ``segment`` when present).
    path : str or Path
        The export: ``.csv`` (formula-safe, for spreadsheets) or ``.parquet``.
    control : float or str, default 0.1
        The share of the selected customers held out, in each stratum
        (``0.1`` or ``"10%"``).
    seed : int, optional
        The seed of the random assignment; default a fresh random one. It is
        recorded either way, so the assignment can be re-derived.
    campaign_id : str, optional
        Default ``"<cutoff date>-<6 hex>"``.
    bundle : ModelBundle or path, optional
        The bundle the frame came from: the manifest records its training
        data fingerprint (and its file's sha256 when given as a path); its
        horizon is the default ``horizon`` and its touchpoint costs fill in
        a frame without a ``cost`` column.
    cutoff : date, optional
        When the frame was scored; default the cutoff in ``frame.attrs``
        (:func:`cjml.score` records it), else required.
    horizon : duration, optional
        How long after the cutoff drop-off is measured (``"30D"``); default
        the bundle's horizon.
    rules : RecommendationRules, dict or path, optional
        The business rules used, recorded in the manifest; their costs fill
        in a frame without a ``cost`` column.
    force : bool, default False
        Replace an existing export file (and assignments file) that is not
        part of a campaign. A manifest is never replaced, even with
        ``force``: a campaign is a record, and the export beside an existing
        manifest is refused too, since it belongs to that record.

    Returns
    -------
    Campaign
        The manifest, the assignments and the manifest's path.

    Raises
    ------
    CampaignError
        When a manifest already exists beside ``path``, when nobody has a
        recommended touchpoint, or when the cutoff or horizon is unknown.
    """
    path = Path(path)
    share = parse_share(control)
    record_path, assigned_path = manifest_path(path), assignments_path(path)
    if record_path.exists():
        raise CampaignError(
            f"A campaign was already exported to {str(path)!r}: its manifest "
            f"{str(record_path)!r} exists. A campaign is a record and is never overwritten, "
            "even with --force (force=True). Choose another --out for the new campaign."
        )
    check_output(path, force=force, suffixes=TABLE_SUFFIXES)
    check_output(assigned_path, force=force, option="--out")
    cut = _cutoff_of(frame, cutoff)
    loaded = _load(bundle)
    span = _horizon_of(loaded, horizon)
    if seed is None:
        seed = secrets.randbits(32)
    seed = int(seed)
    if campaign_id is None:
        campaign_id = f"{cut.date().isoformat()}-{secrets.token_hex(3)}"
    campaign_id = str(campaign_id).strip()
    if not campaign_id or any(c in campaign_id for c in "/\\\n\r\t"):
        raise CampaignError(
            f"campaign_id={campaign_id!r} is not a usable id: give a short name without "
            "slashes or line breaks, e.g. 2024-06-01-spring."
        )
    assignments = assign_arms(frame, control=share, seed=seed, costs=_costs(loaded, rules))
    if not len(assignments):
        raise CampaignError(
            "No customer of the frame has a recommended touchpoint, so there is nobody to "
            "treat or to hold out. Check the recommendations (their reason column says why)."
        )
    edges, strata = assignments.attrs["risk_band_edges"], assignments.attrs["strata"]
    assignments.attrs = {}
    reason = _("held out as control in campaign {campaign_id}: no touchpoint").format(
        campaign_id=campaign_id
    )
    export = _export_frame(frame, assignments, reason)
    write_table(export, path, force=force)
    write_table(assignments, assigned_path, force=force)
    arms = assignments["arm"].value_counts()
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "kind": "cjml-campaign",
        "campaign_id": campaign_id,
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "cutoff": cut.isoformat(),
        "horizon": str(span),
        "bundle": _bundle_record(bundle, loaded),
        "seed": seed,
        "control": share,
        "rounding": ROUNDING,
        "arms": {arm: int(arms.get(arm, 0)) for arm in ARMS},
        "n_rows": len(export),
        "strata": strata,
        "risk_bands": {
            "column": "churn_risk" if "churn_risk" in frame.columns else "baseline_risk",
            "labels": list(RISK_BANDS),
            "edges": edges,
            "rule": "tertiles of the churn risk among the selected: low <= edges[0] < "
            "middle <= edges[1] < high",
        },
        "rules": _rules_record(rules),
        "files": {
            "export": {"name": path.name, "sha256": file_sha256(path)},
            "assignments": {"name": assigned_path.name, "sha256": file_sha256(assigned_path)},
        },
        "cjml_version": __version__,
    }
    manifest = json_safe(manifest)
    manifest["content_sha256"] = hashlib.sha256(canonical_json(manifest)).hexdigest()
    write_new_json(record_path, manifest)
    return Campaign(manifest=manifest, assignments=assignments, path=record_path)
