"""How well a value forecast ranks and sizes customers: Gini, top-k capture, revenue ratio.

Spend is mostly zero with a few very large buyers, so MAE rewards predicting
0 for everyone and RMSE follows about ten customers: the metrics here judge
the ordering (normalised Gini, the share of revenue in the top 10% and 20%,
Spearman) and the total (predicted / actual revenue). Ties in the prediction
are averaged (a block of equal predictions counts as randomly ordered), so a
constant forecast has a Gini of 0 whatever the row order.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

__all__ = ["value_html", "value_metrics", "value_report", "value_table", "value_text"]

#: Name of the ceiling row of value_report: the actual values ranking themselves.
CEILING = "ranking by the actual value"
_COLUMNS = ("revenue_ratio", "normalised_gini", "top10_capture", "top20_capture", "spearman")
_HEADERS = {
    "revenue_ratio": "predicted / actual",
    "normalised_gini": "normalised Gini",
    "top10_capture": "top-10% capture",
    "top20_capture": "top-20% capture",
    "spearman": "Spearman",
}


def _pair(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if len(y) != len(p):
        raise ValueError(
            f"actual and predicted must have one value per customer; got lengths {len(y)} "
            f"and {len(p)}."
        )
    if len(y) == 0:
        raise ValueError("actual and predicted are empty: give one value per customer.")
    for name, a in (("actual", y), ("predicted", p)):
        if not np.all(np.isfinite(a)):
            raise ValueError(
                f"{name} has {int((~np.isfinite(a)).sum())} missing or infinite values: "
                "fill or drop those customers first."
            )
    if np.any(y < 0):
        raise ValueError(
            f"actual spend must be non-negative; {int((y < 0).sum())} values are negative "
            f"(first: {y[y < 0][0]!r}): net refunds per customer, then clip at 0."
        )
    return y, p


def _lorenz(actual: np.ndarray, order_by: np.ndarray) -> np.ndarray:
    """Cumulative actual value of the top 0..n customers by ``order_by``, ties averaged.

    Returns n + 1 points; inside a block of tied predictions the curve is the
    straight line between the block's ends (its expectation under a random order).
    """
    order = np.argsort(-order_by, kind="stable")
    y, key = actual[order], order_by[order]
    # ends of the blocks of equal keys
    ends = np.flatnonzero(np.r_[key[1:] != key[:-1], True]) + 1
    at_ends = np.r_[0.0, np.cumsum(y)[ends - 1]]
    positions = np.r_[0, ends].astype(float)
    return np.interp(np.arange(len(y) + 1, dtype=float), positions, at_ends)


def _gini(actual: np.ndarray, order_by: np.ndarray) -> float:
    curve = _lorenz(actual, order_by)
    total = curve[-1]
    if total <= 0:
        return math.nan
    n = len(actual)
    return float(np.sum(curve[1:]) / total / n - (n + 1) / (2 * n))


def _capture(actual: np.ndarray, order_by: np.ndarray, share: float) -> float:
    curve = _lorenz(actual, order_by)
    if curve[-1] <= 0:
        return math.nan
    k = share * len(actual)
    return float(np.interp(k, np.arange(len(actual) + 1, dtype=float), curve) / curve[-1])


def value_metrics(actual, predicted) -> dict:
    """Ranking and size of a value forecast against the realised spend.

    Parameters
    ----------
    actual : array-like
        Realised spend per customer over the horizon (non-negative).
    predicted : array-like
        Forecast per customer, same order.

    Returns
    -------
    dict
        ``normalised_gini`` (Gini of the forecast's ordering / Gini of the
        actual values' own ordering: 1 perfect, 0 random, negative reversed),
        ``top10_capture`` and ``top20_capture`` (share of the actual revenue
        in the top 10% / 20% of customers by forecast), ``revenue_ratio``
        (sum forecast / sum actual), ``spearman`` (rank correlation) and
        ``n``. Plain floats; NaN where undefined (nobody spent anything, or a
        constant input for Spearman).

    Examples
    --------
    >>> from cjml.value import value_metrics
    >>> m = value_metrics([0, 0, 10, 30], [1, 0, 2, 3])
    >>> m["normalised_gini"], m["top20_capture"]
    (1.0, 0.6)
    """
    from scipy.stats import spearmanr

    y, p = _pair(actual, predicted)
    best = _gini(y, y)
    gini = _gini(y, p)
    total = float(y.sum())
    if np.ptp(y) > 0 and np.ptp(p) > 0:
        spearman = float(spearmanr(y, p).statistic)
    else:
        spearman = math.nan
    return {
        "normalised_gini": gini / best if best > 1e-12 else math.nan,
        "top10_capture": _capture(y, p, 0.1),
        "top20_capture": _capture(y, p, 0.2),
        "revenue_ratio": float(p.sum()) / total if total > 0 else math.nan,
        "spearman": spearman,
        "n": int(len(y)),
    }


def _plain(v):
    """JSON has no NaN: undefined metrics are None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def value_report(actual, predictions: dict, *, info: dict | None = None) -> dict:
    """The value section of the evaluation report: each forecast's metrics, and the ceiling.

    Parameters
    ----------
    actual : array-like
        Realised spend per customer over the horizon.
    predictions : dict of str to array-like
        Forecasts by model name, each aligned with ``actual`` (e.g. the value
        model first, then the baselines of :func:`btyd_predictions`).
    info : dict, optional
        Plain facts to keep beside the metrics (horizon, cutoff, protocol).

    Returns
    -------
    dict
        JSON-serialisable: ``n``, ``total_actual``, ``share_zero`` (customers
        who spent nothing), ``models`` (name -> :func:`value_metrics`, in the
        order given), ``ceiling`` (the actual values ranking themselves; no
        revenue ratio or Spearman) and ``info``. Undefined metrics are None.
    """
    if not predictions:
        raise ValueError("predictions is empty: give at least one forecast by model name.")
    y = _pair(actual, np.zeros(np.asarray(actual).size))[0]
    models = {
        str(name): {k: _plain(v) for k, v in value_metrics(y, p).items()}
        for name, p in predictions.items()
    }
    ceiling = value_metrics(y, y)
    ceiling["revenue_ratio"] = math.nan
    ceiling["spearman"] = math.nan
    return {
        "n": int(len(y)),
        "total_actual": float(y.sum()),
        "share_zero": float(np.mean(y == 0)),
        "models": models,
        "ceiling": {k: _plain(v) for k, v in ceiling.items()},
        "info": dict(info or {}),
    }


def value_table(report: dict) -> pd.DataFrame:
    """The models of a :func:`value_report` and its ceiling as one table.

    Parameters
    ----------
    report : dict
        The output of :func:`value_report` (or the same read back from JSON).

    Returns
    -------
    DataFrame
        One row per model, then the ceiling row; columns ``revenue_ratio``,
        ``normalised_gini``, ``top10_capture``, ``top20_capture``,
        ``spearman`` (NaN where undefined).
    """
    rows = dict(report.get("models") or {})
    rows[CEILING] = report.get("ceiling") or {}
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(_COLUMNS))
    return frame.astype(float)


def _head(report: dict) -> str:
    info = report.get("info") or {}
    what = ", ".join(f"{k} {v}" for k, v in info.items())
    return (
        f"value over the horizon: {report['n']:,} customers, actual spend "
        f"{report['total_actual']:,.2f} in all, {report['share_zero']:.0%} spent nothing"
        + (f" ({what})" if what else "")
    )


def value_text(report: dict | None) -> str:
    """The value section as plain text, for the evaluation report.

    Parameters
    ----------
    report : dict or None
        The output of :func:`value_report`; None gives "".

    Returns
    -------
    str
        A header line, then the table of models and the ceiling ("-" where
        a metric does not apply).
    """
    if not report or not report.get("models"):
        return ""
    table = value_table(report).rename(columns=_HEADERS)
    body = table.to_string(na_rep="-", float_format=lambda v: f"{v:.3f}")
    return f"{_head(report)}\n{body}"


def value_html(report: dict | None) -> str:
    """The value section as HTML, for the evaluation report in a notebook.

    Parameters
    ----------
    report : dict or None
        The output of :func:`value_report`; None gives "".

    Returns
    -------
    str
        A heading, a sentence and the table of models and the ceiling.
    """
    if not report or not report.get("models"):
        return ""
    table = value_table(report).rename(columns=_HEADERS)
    return (
        "<h4>Value over the horizon</h4>"
        f"<p>{html.escape(_head(report)[:1].upper() + _head(report)[1:])}. Normalised Gini and "
        "top-k capture judge the ordering (the ceiling row is the actual spend ranking "
        "itself); predicted / actual judges the total.</p>"
        + table.to_html(na_rep="-", float_format=lambda v: f"{v:.3f}")
    )
