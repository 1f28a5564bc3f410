"""The customer table: one row per scored customer, which the overview and the list read.

:func:`customer_table` puts each customer's current stage (of their last
event at or before the cutoff) and segment beside the scores of
:func:`cjml.score`, with categorical bands, stages, segments and touchpoints
so that the list filters and counts by codes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cjml.panel._data._common import PanelError, _did_you_mean, _log_cutoff

__all__ = ["VALUE_COLUMNS", "customer_table"]

#: The value columns of :func:`cjml.score` (with a value model in the bundle), carried
#: along when the scores have them; ``expected_value_saved{suffix}`` follow the ranks.
VALUE_COLUMNS = (
    "value_if_retained",
    "expected_value",
    "expected_value_low",
    "expected_value_high",
    "value_at_risk",
)

_RANK_PREFIXES = ("recommended_touchpoint", "expected_risk_reduction", "expected_value_saved")

_REQUIRED = (
    "customer_id",
    "churn_risk",
    "risk_band",
    "recommended_touchpoint",
    "expected_risk_reduction",
)


def _last_rows(log, cutoff_ns: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Row of each customer's last event at or before the cutoff (-1 when none)."""
    keep = log.timestamps_ns <= cutoff_ns
    if valid is not None:
        keep &= valid
    pos = np.flatnonzero(keep)
    last = np.full(log.n_customers, -1, dtype=np.int64)
    if len(pos):
        codes = log.customer_codes[pos]
        is_last = np.r_[codes[1:] != codes[:-1], True]  # rows are sorted by (customer, time)
        last[codes[is_last]] = pos[is_last]
    return last


def customer_table(scores, log=None, *, segment_col=None, cutoff=None) -> pd.DataFrame:
    """One row per scored customer: the scores, the current stage and the segment.

    Parameters
    ----------
    scores : DataFrame
        The output of :func:`cjml.score` (``customer_id, churn_risk,
        risk_band, recommended_touchpoint, expected_risk_reduction``, and
        usually ``next_stage, next_stage_proba, top_drivers, status``).
        Customers whose ``status`` is not ``"scored"`` (or whose risk is
        missing) are left out: they have nothing to act on.
    log : EventLog, optional
        The events: each customer's **stage** is the stage of their last event
        at or before the cutoff, and the segment their last known value of
        ``segment_col``. Without it, the ``stage`` and segment columns are
        taken from ``scores`` when it has them.
    segment_col : str, optional
        A segment or persona column of the events (or of ``scores``).
    cutoff : date, optional
        The scoring cutoff; default the log's last event (as :func:`cjml.score`).

    Returns
    -------
    DataFrame
        ``customer_id, churn_risk, risk_band, stage, [segment_col],
        next_stage, next_stage_proba, recommended_touchpoint,
        expected_risk_reduction, reach_probability`` (NaN when the scores
        lack it), ``top_drivers``, any further rank columns and, when the
        scores have them (a bundle with a value model), the value columns
        ``value_if_retained, expected_value, expected_value_low,
        expected_value_high, value_at_risk`` and ``expected_value_saved``
        (per rank),
        with categorical bands, stages, segments and touchpoints, in the order
        of ``scores``; ``attrs["segment_col"]`` names the segment column.

    Raises
    ------
    PanelError
        When ``scores`` lacks a required column or ``segment_col`` is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import customer_table
    >>> scores = pd.DataFrame({"customer_id": [1, 2, 3], "churn_risk": [0.9, 0.1, None],
    ...     "risk_band": ["very high", "low", None], "status": ["scored", "scored", "inactive"],
    ...     "recommended_touchpoint": ["email", None, None],
    ...     "expected_risk_reduction": [0.02, None, None]})
    >>> customer_table(scores)[["customer_id", "churn_risk", "recommended_touchpoint"]]
       customer_id  churn_risk recommended_touchpoint
    0            1         0.9                  email
    1            2         0.1                    NaN

    Customer 3 was not scored (inactive), so it is not in the table.
    """
    if not isinstance(scores, pd.DataFrame):
        raise PanelError(
            f"scores must be a DataFrame from cjml.score, got {type(scores).__name__}."
        )
    missing = [c for c in _REQUIRED if c not in scores.columns]
    if missing:
        raise PanelError(
            f"scores lacks the columns {missing!r}; pass the output of "
            f"cjml.score(bundle, events) (it has {list(scores.columns)!r})."
        )
    keep = scores["churn_risk"].notna().to_numpy().copy()
    if "status" in scores.columns:
        keep &= (scores["status"].astype(object) == "scored").to_numpy()
    src = scores.loc[keep]
    out = pd.DataFrame(
        {
            "customer_id": src["customer_id"].to_numpy(),
            "churn_risk": src["churn_risk"].to_numpy(dtype=float),
        }
    )
    bands = _band_order(src["risk_band"])
    out["risk_band"] = pd.Categorical(
        src["risk_band"].astype(object).to_numpy(), categories=bands, ordered=True
    )
    stages = None
    if log is not None:
        stages = list(log.journey_map.stages)
        cut = _log_cutoff(log, cutoff)
        where = pd.Index(log.customer_ids).get_indexer(out["customer_id"])
        last = _last_rows(log, cut.value)
        rows = np.where(where >= 0, last[np.maximum(where, 0)], -1)
        codes = np.where(rows >= 0, log.stage_codes[np.maximum(rows, 0)], -1)
        out["stage"] = pd.Categorical.from_codes(codes, categories=pd.Index(stages), ordered=True)
    elif "stage" in src.columns:
        out["stage"] = pd.Categorical(src["stage"].astype(object).to_numpy())
    else:
        out["stage"] = pd.Categorical([None] * len(out), categories=[])
    if segment_col is not None:
        out[segment_col] = _segment_values(src, log, segment_col, cutoff, out["customer_id"])
    for name in ("next_stage", "next_stage_proba"):
        if name in src.columns:
            out[name] = src[name].to_numpy()
    if "next_stage" in out.columns:
        out["next_stage"] = pd.Categorical(out["next_stage"].astype(object))
    rank_cols = [c for c in src.columns if c.startswith(_RANK_PREFIXES)]
    if "uncertain" in src.columns:  # the first recommendation's flag (None without one)
        rank_cols.append("uncertain")
    for name in rank_cols:
        values = src[name].to_numpy()
        out[name] = (
            pd.Categorical(pd.Series(values, dtype=object).where(pd.notna(values), None))
            if name.startswith("recommended_touchpoint")
            else values
        )
    # the chance the customer is still there to receive a touchpoint; NaN (unknown) in
    # scores made before cjml.score wrote it, which never counts as "likely gone"
    out["reach_probability"] = (
        pd.to_numeric(src["reach_probability"], errors="coerce").to_numpy(dtype=float)
        if "reach_probability" in src.columns
        else np.full(len(out), np.nan)
    )
    for name in VALUE_COLUMNS:
        if name in src.columns:
            out[name] = pd.to_numeric(src[name], errors="coerce").to_numpy(dtype=float)
    out["top_drivers"] = (
        src["top_drivers"].astype(object).to_numpy() if "top_drivers" in src.columns else None
    )
    out.attrs["segment_col"] = segment_col
    out.attrs["stages"] = stages
    return out


def _band_order(bands: pd.Series) -> list:
    from cjml.scoring import DEFAULT_RISK_BANDS

    present = [
        b
        for b in pd.unique(bands.astype(object))
        if b is not None and not (isinstance(b, float) and math.isnan(b))
    ]
    if isinstance(bands.dtype, pd.CategoricalDtype):
        order = [b for b in bands.cat.categories if b in present]
    else:
        order = [b for b in DEFAULT_RISK_BANDS if b in present]
    return order + sorted(str(b) for b in present if b not in order)


def _segment_values(src, log, segment_col, cutoff, ids) -> pd.Categorical[str]:
    if log is not None and segment_col in log.frame.columns:
        column = log.frame[segment_col]
        cut = _log_cutoff(log, cutoff)
        last = _last_rows(log, cut.value, column.notna().to_numpy())
        where = pd.Index(log.customer_ids).get_indexer(ids)
        rows = np.where(where >= 0, last[np.maximum(where, 0)], -1)
        values = column.astype(object).to_numpy()[np.maximum(rows, 0)]
        values = np.where(rows >= 0, values, None)
    elif segment_col in src.columns:
        values = src[segment_col].astype(object).to_numpy()
    else:
        known = sorted(set(src.columns) | (set(log.frame.columns) if log is not None else set()))
        raise PanelError(
            f"segment_col={segment_col!r} is neither a column of the events nor of "
            f"the scores; the columns are {known!r}."
            f"{_did_you_mean(segment_col, known)}"
        )
    values = pd.Series(values, dtype=object)
    categories = sorted({str(v) for v in values.dropna()})
    return pd.Categorical(values.where(values.isna(), values.astype(str)), categories=categories)
