"""Experiments teach the recommender: measured campaigns correct the observational effects.

A campaign exported with a random control group (:func:`cjml.export_campaign`)
and measured after its horizon (:func:`cjml.measure_campaign`) gives, per
touchpoint, an unbiased estimate of what delivering it did to the customers
the recommender chose: ``reduction = dropoff_control - dropoff_treated`` with
its interval. :func:`cjml.train` (``experiments=``, ``cjml train
--experiments``) measures every campaign on the training events and lets that
estimate correct the recommender's doubly robust estimates.

How the experiment corrects the model, and why
----------------------------------------------
The recommender's reduction for a customer is ``reach * g``: the chance they
are still there to receive a touchpoint, times the effect ``g`` on a customer
it reaches (see :mod:`cjml.recommend`). For each touchpoint measured in a
campaign (both arms with at least :data:`MIN_ARM` customers):

1. The freshly trained model is asked for its reduction of the campaign's
   treated customers at the campaign's cutoff: their mean ``P`` (the
   observational estimate for exactly the customers measured), the mean
   half-width of its intervals, and their mean reach ``r``.
2. **The level: pooling that knows the model's bias, not only its noise.**
   The measured reduction ``R`` (variance ``se_exp**2`` from its interval)
   and the model's ``P`` are pooled by inverse variance, the model's
   variance being ``se_model**2 + tau**2``. ``se_model`` is the standard
   error of the model's *mean* effect, ``r`` times the doubly robust average
   effect's (``DoublyRobustEffects.ate``), not the width of its per-customer
   intervals, and times the share of its reductions the held-out period
   confirmed (``PolicyChoice.confirmed``), since the reductions shown, ``P``
   among them, are scaled by it; ``tau**2`` is the variance of the model's
   *bias*, estimated across every touchpoint a campaign measured (an empirical Bayes,
   random-effects meta-analysis, :func:`model_bias`): the discrepancies
   ``d = R - P`` have variance ``se_exp**2 + se_model**2 + tau**2``, so
   ``tau**2`` is what their spread shows beyond the noise of both
   (DerSimonian-Laird's moment estimate with the mean bias fixed at zero, so
   that a bias shared by all touchpoints counts too), weighed against the
   stated prior :data:`BIAS_PRIOR_SD` (one point) by how precisely the
   campaigns measured: a few noisy campaigns leave the prior nearly as it
   was, precise ones replace it. With fewer than :data:`MIN_FOR_BIAS`
   touchpoints measured the prior is used alone; the record says which
   (``bias_source``). So a campaign that is noise hardly moves a model that
   the other experiments agree with (``tau`` below the prior, the model's own
   standard error small), while a
   model that the experiments repeatedly contradict gets a large ``tau``
   and is pulled onto them. (Weighing the model by the mean width of its
   per-customer intervals, as before, let small noisy campaigns move the
   estimates of cjml's simulator by as much noise as signal.) When the
   model gives no standard error, the mean half-width of its intervals
   stands in for it; when it gives neither, the experiment is used as
   measured. The pooled estimate's interval (``estimate_low``,
   ``estimate_high``: the inverse-variance one) is the customers' interval.
3. **Shift, keeping the model's differences.** Every customer's effect moves
   by the same amount on the scale of a reached customer, ``shift = (E - P) /
   r`` for the pooled estimate ``E``, so that the mean over the campaign's
   treated equals ``E``. The model keeps what it is good at (which customers
   gain more than others, through their reach and moderators); the
   experiment corrects the level, which is what observational data get
   wrong. A customer's interval is ``reach * [estimate_low, estimate_high] /
   r`` (rescaled), widened to hold their own estimate. **Harm** is the
   experiment's own word: a touchpoint whose *measured* interval lies
   entirely below zero is ruled out for everyone (the recommender says
   "measured in campaign ... to raise the drop-off risk"), however the
   pooling came out; a wide interval that merely leans negative rules
   nothing out. Likewise the policy's exception (point 6) needs the measured
   interval above zero.
4. **Per segment.** A campaign's per-segment row replaces the touchpoint's
   figures for customers of that segment when both arms of the segment have
   at least :data:`MIN_ARM` customers and every treated customer of the
   segment received that one touchpoint (a segment row that mixes
   touchpoints measures no single touchpoint).
5. **Several campaigns** measuring one touchpoint are pooled by inverse
   variance (each is unbiased; the pooled interval is narrower), then
   ``tau`` is estimated again over every touchpoint measured, and each is
   pooled with the model as in point 2. A segment's row is pooled with the
   same ``tau`` (its rows share customers with the touchpoint's row, so they
   do not count again in the estimate).
6. **The policy.** When the policy kept at training recommends nothing (or
   one touchpoint for everyone, or the naive rule) because no method beat it
   beyond noise on observational data, the recommender (``method="auto"``)
   still recommends the touchpoints a campaign measured as helping (interval
   above zero): the experiment is the evidence that choice lacked.

Touchpoints without an experiment keep their observational estimate.
``bundle.metadata["effect_evidence"]`` says, per touchpoint, which evidence
the effect rests on (``source``: ``"experiment"`` or ``"observational"``),
with the figures; ``metadata["experiments"]`` lists the campaigns used and
those skipped with why (horizon not passed, an altered file...).

Limits: the measured effect holds for customers like those the campaign
targeted, at that time; the shift extends it to every customer the model
estimates. A campaign whose horizon differs from the bundle's measures a
different drop-off: train with the campaign's horizon.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from cjml.exceptions import InputFileError

__all__ = [
    "BIAS_PRIOR_SD",
    "MIN_ARM",
    "MIN_FOR_BIAS",
    "campaign_evidence",
    "effect_evidence",
    "find_manifests",
    "learn_from_experiments",
    "model_bias",
    "observational_evidence",
    "pool_evidence",
]

#: A campaign's figures for a touchpoint (or segment) are used when both arms have this many.
MIN_ARM = 30
#: The model's bias (standard deviation, risk scale) expected before any experiment, used
#: alone when too few touchpoints were measured to estimate it and weighed against the
#: campaigns' estimate otherwise (:func:`model_bias`): one point, about twice the mean error
#: of the touchpoints' estimated effects on cjml's own simulator (0.5 points, and 0.35-0.57
#: on the suite's worlds with the confirmed share; benchmarks/campaign_truth.py).
BIAS_PRIOR_SD = 0.01
#: Touchpoints measured (in any campaign) needed to estimate the model's bias from them.
MIN_FOR_BIAS = 3
#: The keys :func:`_settle` computes (the rest of an entry is what was measured and modelled).
_SETTLED = (
    "combined",
    "estimate",
    "estimate_low",
    "estimate_high",
    "shift",
    "reached_low",
    "reached_high",
    "bias_sd",
    "bias_source",
    "bias_touchpoints",
    "weight_experiment",
)
#: The suffix of campaign manifests in a folder.
MANIFEST_SUFFIX = ".campaign.json"


def _number(value: Any) -> float | None:
    """A plain float for JSON metadata (None for NaN or missing)."""
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _entry(
    row: Mapping, model: pd.DataFrame, campaign_id: str, level: float, ate_se: float | None
) -> dict | None:
    """One measured group's evidence: the experiment's figures and the model's for the
    same customers (combined later, by :func:`_settle`)."""
    keys = ("reduction", "reduction_low", "reduction_high")
    reduction, low, high = (_number(row.get(k)) for k in keys)
    if reduction is None or low is None or high is None:
        return None
    est = model["reduction"].to_numpy(dtype=float)
    reach = model["reach"].to_numpy(dtype=float)
    ok = np.isfinite(est) & np.isfinite(reach)
    if not ok.any() or not reach[ok].mean() > 0:
        return None  # the model estimates none of these customers: nothing to correct
    half = np.nan
    if "low" in model.columns and "high" in model.columns:
        width = (model["high"].to_numpy(dtype=float) - model["low"].to_numpy(dtype=float))[ok]
        half = float(np.mean(width)) / 2 if np.isfinite(width).all() else np.nan
    r = float(reach[ok].mean())
    se = np.nan if ate_se is None else r * float(ate_se)  # on the scale of the campaign
    return {
        "source": "experiment",
        "campaign_id": str(campaign_id),
        "campaigns": [str(campaign_id)],
        "reduction": reduction,
        "low": low,
        "high": high,
        "level": float(level),
        "n_treated": int(row["n_treated"]),
        "n_control": int(row["n_control"]),
        "observational_reduction": float(est[ok].mean()),
        "observational_half_width": _number(half),
        "observational_se": _number(se),
        "mean_reach": r,
    }


def _z(entry: Mapping) -> float:
    return float(norm.ppf(0.5 + entry["level"] / 2))


def _variances(entry: Mapping) -> tuple[float, float | None]:
    """The experiment's variance and the model's (of its mean; None: unknown)."""
    z = _z(entry)
    v_exp = (max(entry["high"] - entry["low"], 1e-12) / (2 * z)) ** 2
    se = entry.get("observational_se")
    if se is None or not se >= 0:  # an older record, or no standard error: the intervals'
        half = entry.get("observational_half_width")
        se = half / z if half is not None and half > 0 else None
    return v_exp, None if se is None else float(se) ** 2


def model_bias(
    discrepancy, variance, *, prior_sd: float = BIAS_PRIOR_SD, min_measured: int = MIN_FOR_BIAS
) -> tuple[float, str]:
    """The standard deviation ``tau`` of the model's bias, from what experiments measured.

    Each measured touchpoint ``t`` gives the discrepancy ``d_t = R_t - P_t``
    between the experiment and the model, whose variance is
    ``variance_t + tau**2`` (``variance_t``: the experiment's plus the
    model's, both squared standard errors). DerSimonian and Laird's moment
    estimate with the mean bias fixed at zero (a bias all touchpoints share is
    bias too), ``m = (sum(w d**2) - k) / sum(w)`` with ``w = 1 / variance``,
    is unbiased but, from a few noisy campaigns, about as likely to say 0 as
    the truth. So ``tau**2`` is ``m`` and the prior ``prior_sd**2`` each
    weighed by its precision: ``m``'s variance, were ``tau**2`` the prior's,
    is ``2 sum(w**2 (variance + prior_sd**2)**2) / sum(w)**2``; the prior's is
    taken as its own size squared (the bias is about ``prior_sd``, give or
    take as much). Precise campaigns outweigh the prior, noisy ones hardly
    move it; floored at 0. (Taken alone, the moment estimate of three noisy
    campaigns came out 0, the model's mean was then trusted without error,
    and its interval shrank to a point.)

    Parameters
    ----------
    discrepancy : array-like of float
        ``R_t - P_t`` per measured touchpoint.
    variance : array-like of float
        Their variances without the bias (positive).
    prior_sd : float, default BIAS_PRIOR_SD
        The bias expected before any experiment; ``tau`` itself when fewer
        than ``min_measured`` touchpoints were measured. 0: the moment
        estimate alone.
    min_measured : int, default MIN_FOR_BIAS
        Touchpoints needed to estimate ``tau``.

    Returns
    -------
    tau : float
        The standard deviation of the model's bias (risk scale).
    source : str
        ``"estimated"``, or ``"prior"`` when ``prior_sd`` was used alone.
    """
    d = np.asarray(discrepancy, dtype=float)
    v = np.asarray(variance, dtype=float)
    if len(d) < min_measured:
        return float(prior_sd), "prior"
    w = 1 / np.maximum(v, 1e-18)
    moment = float((np.sum(w * d**2) - len(d)) / np.sum(w))
    prior = float(prior_sd) ** 2
    if prior > 0:
        noise = float(2 * np.sum(w**2 * (v + prior) ** 2) / np.sum(w) ** 2)
        spread = prior**2
        moment = (prior / spread + moment / noise) / (1 / spread + 1 / noise)
    return math.sqrt(max(0.0, moment)), "estimated"


def _settle(entry: dict, bias: tuple[float, str, int]) -> dict:
    """The figures the recommender applies, from an entry's experiment and model figures
    and the model's bias ``(tau, source, touchpoints it rests on)``.

    ``combined`` is "pooled": the inverse-variance mean of the experiment (its
    variance from its interval) and the model's mean (variance ``se_model**2 +
    tau**2``), with the inverse-variance interval ``estimate_low``,
    ``estimate_high``; or "experiment" when the model gives no standard error
    (nothing to weigh): the experiment's figures as measured.
    ``weight_experiment`` is the experiment's share of the weight. ``estimate``
    is the result; ``shift``, ``reached_low``, ``reached_high`` are the
    estimate (relative to the model's mean) and its interval on the scale of a
    reached customer (divided by ``mean_reach``).
    """
    raw = {k: v for k, v in entry.items() if k not in _SETTLED}
    tau, source, k = bias
    z = _z(raw)
    reduction, low, high = raw["reduction"], raw["low"], raw["high"]
    predicted = raw["observational_reduction"]
    v_exp, v_model = _variances(raw)
    if v_model is None:
        combined, estimate, est_low, est_high, share = "experiment", reduction, low, high, 1.0
    else:
        w_exp, w_obs = 1 / v_exp, 1 / max(v_model + tau**2, 1e-18)
        share = w_exp / (w_exp + w_obs)
        estimate = share * reduction + (1 - share) * predicted
        half = z / math.sqrt(w_exp + w_obs)
        combined, est_low, est_high = "pooled", estimate - half, estimate + half
    r = raw["mean_reach"]
    return {
        **raw,
        "combined": combined,
        "estimate": estimate,
        "estimate_low": est_low,
        "estimate_high": est_high,
        "shift": (estimate - predicted) / r,
        "reached_low": est_low / r,
        "reached_high": est_high / r,
        "bias_sd": float(tau),
        "bias_source": source,
        "bias_touchpoints": int(k),
        "weight_experiment": float(share),
    }


def _settle_all(entries: dict[str, dict], prior_sd: float) -> dict[str, dict]:
    """Estimate the model's bias over the touchpoints' entries (:func:`model_bias`), and
    settle every entry (and its segments) with it."""
    d, v = [], []
    for entry in entries.values():
        v_exp, v_model = _variances(entry)
        if v_model is not None:
            d.append(entry["reduction"] - entry["observational_reduction"])
            v.append(v_exp + v_model)
    tau, source = model_bias(d, v, prior_sd=prior_sd)
    bias = (tau, source, len(d))
    out = {}
    for touchpoint, entry in entries.items():
        settled = _settle({k: e for k, e in entry.items() if k != "segments"}, bias)
        if entry.get("segments"):
            settled["segments"] = {n: _settle(e, bias) for n, e in entry["segments"].items()}
        out[touchpoint] = settled
    return out


def _big_enough(row: Mapping, min_arm: int) -> bool:
    return int(row["n_treated"]) >= min_arm and int(row["n_control"]) >= min_arm


def campaign_evidence(
    effects: pd.DataFrame,
    model: pd.DataFrame,
    *,
    campaign_id: str,
    level: float = 0.9,
    min_arm: int = MIN_ARM,
    model_se: Mapping[str, float] | None = None,
    prior_sd: float = BIAS_PRIOR_SD,
) -> dict[str, dict]:
    """Turn one measured campaign into evidence per touchpoint (and segment).

    A pure function of two tables, so that it can be checked by hand; see the
    module docstring for the design.

    Parameters
    ----------
    effects : DataFrame
        ``UpliftReport.effects``: rows with ``group`` ("all", "touchpoint",
        "risk_band", "segment"), ``value``, ``n_treated``, ``n_control``,
        ``reduction``, ``reduction_low``, ``reduction_high``.
    model : DataFrame
        One row per treated customer of the campaign: ``touchpoint`` (the one
        delivered), ``reduction`` (the model's expected risk reduction of that
        touchpoint for the customer at the campaign's cutoff, NaN when it has
        none), ``reach`` (the chance they were still there to receive it),
        optionally ``low`` and ``high`` (the model's interval on the
        reduction), and ``segment`` when the campaign records segments.
    campaign_id : str
        The campaign's id, recorded with the evidence.
    level : float, default 0.9
        Coverage of the campaign's intervals (and the model's).
    min_arm : int, default 30
        Rows where either arm has fewer customers are left out.
    model_se : dict of str to float, optional
        Per touchpoint, the standard error of the model's average effect on a
        reached customer (``DoublyRobustEffects.ate``); the model's mean over
        the treated has ``r`` times it. Missing: the mean half-width of the
        model's intervals stands in.
    prior_sd : float, default BIAS_PRIOR_SD
        The model's bias expected before any experiment: used alone when fewer
        than :data:`MIN_FOR_BIAS` touchpoints were measured, weighed against
        the campaigns' estimate otherwise (:func:`model_bias`).

    Returns
    -------
    dict of str to dict
        Per touchpoint: the experiment's figures ``source`` ("experiment"),
        ``campaign_id``, ``campaigns``, ``reduction``, ``low``, ``high``,
        ``level``, ``n_treated``, ``n_control``; the model's for the same
        customers ``observational_reduction`` (``P``, its mean over the
        treated), ``observational_half_width`` (the mean half-width of its
        intervals, None when unknown), ``observational_se`` (the standard
        error of ``P``, None when unknown), ``mean_reach`` (``r``); the
        model's bias ``bias_sd`` (``tau``), ``bias_source`` ("estimated" or
        "prior") and ``bias_touchpoints`` (how many it rests on); how they
        combine, ``combined`` ("pooled", or "experiment" when the model gives
        no standard error), ``weight_experiment`` (the experiment's share of
        the weight), ``estimate``, ``estimate_low``, ``estimate_high``; and
        what the recommender applies, ``shift`` (``(estimate - P) / r``),
        ``reached_low``, ``reached_high`` (``estimate_low / r``,
        ``estimate_high / r``). ``segments`` holds the
        same per segment when some segment qualifies. Touchpoints with too few
        customers, or that the model estimates for none of the treated, are
        left out.
    """
    out: dict[str, dict] = {}
    group = effects["group"].astype(str)
    rows = effects[group == "touchpoint"].to_dict("records")
    segment_rows = effects[group == "segment"].to_dict("records")
    delivered = model["touchpoint"].astype(str)
    segments = model["segment"].astype(str) if "segment" in model.columns else None
    for row in rows:
        touchpoint = str(row["value"])
        if not _big_enough(row, min_arm):
            continue
        se = None if model_se is None else _number(model_se.get(touchpoint))
        entry = _entry(row, model[delivered == touchpoint], campaign_id, level, se)
        if entry is None:
            continue
        by_segment = {}
        for srow in segment_rows if segments is not None else ():
            assert segments is not None
            mine = (segments == str(srow["value"])).to_numpy()
            if not mine.any() or not _big_enough(srow, min_arm):
                continue
            if not (delivered[mine] == touchpoint).all():
                continue  # the segment's row mixes touchpoints: it measures none of them
            seg_entry = _entry(srow, model[mine], campaign_id, level, se)
            if seg_entry is not None:
                by_segment[str(srow["value"])] = seg_entry
        if by_segment:
            entry["segments"] = by_segment
        out[touchpoint] = entry
    return _settle_all(out, prior_sd)


def _pool(entries: list[dict]) -> dict:
    """One touchpoint's (or segment's) entries of several campaigns as one: the
    experiments pooled by inverse variance, the model's figures averaged over the
    treated (not yet combined: :func:`_settle`)."""
    entries = [{k: v for k, v in e.items() if k not in _SETTLED} for e in entries]
    if len(entries) == 1:
        return entries[0]
    z = np.array([_z(e) for e in entries])
    widths = np.array([max(e["high"] - e["low"], 1e-12) for e in entries])
    w = (widths / (2 * z)) ** -2
    n = np.array([e["n_treated"] for e in entries], dtype=float)

    def mean(key: str, weights: np.ndarray) -> float | None:
        values = [e.get(key) for e in entries]
        if any(v is None for v in values):
            return None
        return float(np.sum(weights * np.asarray(values, dtype=float)) / weights.sum())

    reduction = mean("reduction", w)
    assert reduction is not None
    half = float(z[0]) / math.sqrt(w.sum())
    ids = [c for e in entries for c in e["campaigns"]]
    return {
        "source": "experiment",
        "campaign_id": ", ".join(ids),
        "campaigns": ids,
        "reduction": reduction,
        "low": reduction - half,
        "high": reduction + half,
        "level": float(entries[0]["level"]),
        "n_treated": int(n.sum()),
        "n_control": int(sum(e["n_control"] for e in entries)),
        "observational_reduction": mean("observational_reduction", n),
        "observational_half_width": mean("observational_half_width", n),
        # the model's error is shared by the campaigns' treated: averaged, not pooled
        "observational_se": mean("observational_se", n),
        "mean_reach": mean("mean_reach", n),
    }


def pool_evidence(
    campaigns: Iterable[Mapping[str, dict]], *, prior_sd: float = BIAS_PRIOR_SD
) -> dict[str, dict]:
    """Pool several campaigns' evidence, touchpoint by touchpoint (and segment by segment).

    Parameters
    ----------
    campaigns : iterable of dict
        Each the output of :func:`campaign_evidence` for one campaign.
    prior_sd : float, default BIAS_PRIOR_SD
        The model's bias expected before any experiment: used alone when fewer
        than :data:`MIN_FOR_BIAS` touchpoints were measured in all, weighed
        against the campaigns' estimate otherwise (:func:`model_bias`).

    Returns
    -------
    dict of str to dict
        Per touchpoint, as :func:`campaign_evidence` gives it; a touchpoint
        measured in several campaigns gets their inverse-variance weighted
        mean (weights from each interval's width) and its interval, the arms'
        counts summed, the campaign ids joined, the model's figures averaged
        over the treated, and the two combined again with the model's bias
        estimated over every touchpoint measured.
    """
    by_touchpoint: dict[str, list[dict]] = {}
    for evidence in campaigns:
        for touchpoint, entry in evidence.items():
            by_touchpoint.setdefault(touchpoint, []).append(entry)
    out = {}
    for touchpoint, entries in by_touchpoint.items():
        pooled = _pool([{k: v for k, v in e.items() if k != "segments"} for e in entries])
        segments: dict[str, list[dict]] = {}
        for e in entries:
            for name, seg in e.get("segments", {}).items():
                segments.setdefault(name, []).append(seg)
        if segments:
            pooled["segments"] = {name: _pool(s) for name, s in segments.items()}
        out[touchpoint] = pooled
    return _settle_all(out, prior_sd)


def observational_evidence(effects_model, *, touchpoints: Iterable[str] | None = None) -> dict:
    """Evidence of the touchpoints without an experiment: the doubly robust mean effect.

    Parameters
    ----------
    effects_model : DoublyRobustEffects or None
        The bundle's ``models["touchpoint_effects"]``.
    touchpoints : iterable of str, optional
        Only these; default every touchpoint the model estimates.

    Returns
    -------
    dict of str to dict
        Per touchpoint: ``source`` ("observational"), ``campaign_id`` (None),
        ``reduction``, ``low``, ``high`` (the average effect on a customer it
        reaches, as a reduction of the risk, at the model's level),
        ``n_treated`` (deliveries in the training history), ``n_control``
        (None).
    """
    if effects_model is None:
        return {}
    z = float(norm.ppf(0.5 + effects_model.level / 2))
    names = effects_model.touchpoints if touchpoints is None else touchpoints
    out = {}
    for t in names:
        mean, se = effects_model.ate.get(t, (float("nan"), float("nan")))
        reduction = _number(-mean)
        half = _number(z * se)
        out[str(t)] = {
            "source": "observational",
            "campaign_id": None,
            "reduction": reduction,
            "low": None if reduction is None or half is None else reduction - half,
            "high": None if reduction is None or half is None else reduction + half,
            "n_treated": int(effects_model.deliveries.get(t, 0)),
            "n_control": None,
        }
    return out


def effect_evidence(effects_model, measured: Mapping[str, dict]) -> dict[str, dict]:
    """Per touchpoint, the evidence its effect rests on: the experiment where there is one.

    Parameters
    ----------
    effects_model : DoublyRobustEffects or None
        The bundle's doubly robust effects.
    measured : dict of str to dict
        :func:`pool_evidence` of the campaigns used.

    Returns
    -------
    dict of str to dict
        ``bundle.metadata["effect_evidence"]``: every touchpoint the model
        estimates or a campaign measured, sorted by name.
    """
    out = observational_evidence(effects_model)
    out.update({t: dict(e) for t, e in measured.items()})
    return {t: out[t] for t in sorted(out)}


def find_manifests(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Campaign manifests from files and folders (a folder: its ``*.campaign.json``).

    Parameters
    ----------
    paths : str, Path or iterable of them
        Manifest files, or folders holding them.

    Returns
    -------
    list of Path
        Each manifest once, in the order given (a folder's sorted by name).

    Raises
    ------
    InputFileError
        When a path does not exist, or a folder holds no manifest.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = sorted(path.glob(f"*{MANIFEST_SUFFIX}"))
            if not inside:
                raise InputFileError(
                    f"The experiments folder {str(path)!r} holds no campaign manifest "
                    f"(*{MANIFEST_SUFFIX}). Fix: pass the folder cjml recommend/score "
                    "--control wrote the campaign to, or the manifest file itself."
                )
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise InputFileError(
                f"The campaign manifest {str(path)!r} does not exist. Fix: pass the "
                f"<name>{MANIFEST_SUFFIX} file written beside the campaign's export "
                "(--experiments PATH), or a folder of them."
            )
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return list(unique)


def _model_frame(recommender, log, assignments: pd.DataFrame, cutoff) -> pd.DataFrame:
    """The model's reduction and reach of each treated customer's touchpoint at ``cutoff``."""
    treated = assignments[assignments["arm"].astype(str) == "treatment"]
    ids = pd.Index(log.customer_ids)
    wanted = treated["customer_id"]
    if ids.dtype != wanted.dtype:  # e.g. ids read back from a file as text
        ids_text = pd.Index(ids.astype(str))
        where = ids_text.get_indexer(wanted.astype(str))
    else:
        where = ids.get_indexer(wanted)
    known = where >= 0
    customers = ids.take(where[known])
    effects = recommender.effects(log, cutoff=cutoff, customers=customers)
    table = effects.set_index(["customer_id", "touchpoint"])
    keys = pd.MultiIndex.from_arrays(
        [customers, treated["touchpoint"].astype(str).to_numpy()[known]]
    )
    found = table.reindex(keys)
    frame = pd.DataFrame(
        {
            "touchpoint": treated["touchpoint"].astype(str).to_numpy(),
            "reduction": np.nan,
            "reach": np.nan,
        }
    )
    frame.loc[known, "reduction"] = found["risk_reduction"].to_numpy(dtype=float)
    frame.loc[known, "reach"] = found["reach_probability"].to_numpy(dtype=float)
    frame["low"], frame["high"] = np.nan, np.nan
    frame.loc[known, "low"] = found["risk_reduction_low"].to_numpy(dtype=float)
    frame.loc[known, "high"] = found["risk_reduction_high"].to_numpy(dtype=float)
    if "segment" in treated.columns:
        frame["segment"] = treated["segment"].astype(str).to_numpy()
    return frame


def learn_from_experiments(
    log, recommender, paths, *, horizon=None, level: float = 0.9
) -> tuple[dict[str, dict], dict]:
    """Measure every campaign on the training events and turn them into evidence.

    Parameters
    ----------
    log : EventLog
        The training events (they must reach past each campaign's horizon).
    recommender : TouchpointRecommender
        The freshly trained recommender, without experimental evidence: its
        estimates for each campaign's treated customers are what the
        experiment corrects.
    paths : str, Path or iterable of them
        Campaign manifests, or folders of ``*.campaign.json``.
    horizon : Timedelta, optional
        The bundle's horizon: a campaign measured over another says so in a
        warning.
    level : float, default 0.9
        Coverage of the measured intervals.

    Returns
    -------
    evidence : dict of str to dict
        :func:`pool_evidence` of the campaigns used.
    summary : dict
        ``metadata["experiments"]``: ``used`` (per campaign: ``campaign_id``,
        ``manifest``, ``touchpoints`` it corrects), ``skipped``
        (``manifest``, ``reason``), with a warning for each skipped one, and
        ``model_bias`` (``bias_sd``, ``bias_source``, ``bias_touchpoints`` as
        in :func:`campaign_evidence`; None when nothing was measured).
    """
    from cjml.campaign import measure_campaign, read_campaign
    from cjml.exceptions import CampaignError

    used, skipped, measured = [], [], []
    effects_model = getattr(recommender, "effects_model", None)
    ate = {} if effects_model is None else effects_model.ate
    # The recommender shows each reduction scaled by the share the held-out period
    # confirmed (PolicyChoice.confirmed), and that scaled figure is what the experiment
    # corrects: its standard error is scaled alike. (Left unscaled, a model shrunk to
    # nothing kept the noise of its unshrunk mean, and noisy campaigns got most of the
    # weight: on the suite the error of the corrected effects rose on 5 of 6 worlds.)
    policy = getattr(recommender, "policy", None)
    share = 1.0 if policy is None else float(policy.confirmed(recommender._method()))
    model_se = {str(t): share * float(se) for t, (_, se) in ate.items()}
    for path in find_manifests(paths):
        try:
            campaign = read_campaign(path)
            report = measure_campaign(campaign, log, level=level)
        except CampaignError as exc:
            skipped.append({"manifest": str(path), "reason": str(exc)})
            warnings.warn(
                f"Campaign {path.name} is not used to train the recommender: {exc}",
                UserWarning,
                stacklevel=3,
            )
            continue
        campaign_id, cutoff, own = campaign.campaign_id, campaign.cutoff, campaign.horizon
        if horizon is not None and own != horizon:
            warnings.warn(
                f"Campaign {campaign_id} measured drop-off over {own.days} days, the "
                f"bundle's horizon is {horizon.days}: its effect is used as measured. "
                "Train with the campaign's horizon (--horizon) for like with like.",
                UserWarning,
                stacklevel=3,
            )
        model = _model_frame(recommender, log, campaign.assignments, cutoff)
        evidence = campaign_evidence(
            report.effects, model, campaign_id=campaign_id, level=level, model_se=model_se
        )
        measured.append(evidence)
        used.append(
            {"campaign_id": campaign_id, "manifest": str(path), "touchpoints": sorted(evidence)}
        )
    evidence = pool_evidence(measured)
    first = next(iter(evidence.values()), None)
    bias = None
    if first is not None:
        bias = {k: first[k] for k in ("bias_sd", "bias_source", "bias_touchpoints")}
    return evidence, {"used": used, "skipped": skipped, "model_bias": bias}
