"""The overview view: the risk distribution and the customers per band, stage and touchpoint.

:func:`overview_data` counts the customer table into an :class:`Overview`;
the journey map beside it comes from :func:`cjml.journey_map`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjml.panel._data._common import NO_TOUCHPOINT

__all__ = ["Overview", "overview_data"]


@dataclass(frozen=True)
class Overview:
    """The numbers of the panel's overview (see :func:`overview_data`).

    Parameters
    ----------
    n_customers : int
        Scored customers.
    n_not_scored : int
        Customers of the events outside the models' population (no event in
        the lookback, or none before the cutoff).
    mean_risk : float
        Mean churn risk of the scored customers.
    n_with_recommendation : int
        Scored customers with a recommended touchpoint.
    bands : DataFrame
        ``risk_band, customers, share, mean_risk``, lowest band first.
    touchpoints : DataFrame
        ``touchpoint, customers, share, mean_expected_reduction``: customers per
        recommended touchpoint, most first, then :data:`NO_TOUCHPOINT`.
    stages : DataFrame
        ``stage, customers, share, mean_risk``: customers per current stage.
    risk_histogram : DataFrame
        ``bin_start, bin_end, customers``: the risk distribution.
    """

    n_customers: int
    n_not_scored: int
    mean_risk: float
    n_with_recommendation: int
    bands: pd.DataFrame
    touchpoints: pd.DataFrame
    stages: pd.DataFrame
    risk_histogram: pd.DataFrame


def _counts(column: pd.Series, risk: np.ndarray, name: str) -> pd.DataFrame:
    codes = column.cat.codes.to_numpy()
    k = len(column.cat.categories)
    n = np.bincount(codes + 1, minlength=k + 1)[1:]
    total = np.bincount(codes + 1, weights=risk, minlength=k + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    frame = pd.DataFrame(
        {
            name: list(column.cat.categories),
            "customers": n,
            "share": n / max(len(column), 1),
            "mean_risk": mean,
        }
    )
    return frame[frame["customers"] > 0].reset_index(drop=True)


def overview_data(table: pd.DataFrame, *, n_not_scored: int = 0, bins: int = 10) -> Overview:
    """Risk distribution and counts per risk band, stage and recommended touchpoint.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    n_not_scored : int, default 0
        Customers left out of the table (reported, not counted).
    bins : int, default 10
        Equal-width bins of the risk histogram over [0, 1].

    Returns
    -------
    Overview
        The headline numbers and tables.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import customer_table, overview_data
    >>> table = customer_table(pd.DataFrame({"customer_id": [1, 2, 3],
    ...     "churn_risk": [0.2, 0.9, 0.6], "risk_band": ["medium", "very high", "high"],
    ...     "recommended_touchpoint": ["email", None, "email"],
    ...     "expected_risk_reduction": [0.02, None, 0.04]}))
    >>> overview_data(table).touchpoints
      touchpoint  customers     share  mean_expected_reduction
    0      email          2  0.666667                     0.03
    1     (none)          1  0.333333                      NaN
    """
    risk = table["churn_risk"].to_numpy(dtype=float)
    n = len(table)
    bands = _counts(table["risk_band"], risk, "risk_band")
    stages = _counts(table["stage"], risk, "stage")
    tp = table["recommended_touchpoint"]
    codes = tp.cat.codes.to_numpy()
    k = len(tp.cat.categories)
    counts = np.bincount(codes + 1, minlength=k + 1)
    red = np.nan_to_num(table["expected_risk_reduction"].to_numpy(dtype=float))
    sums = np.bincount(codes + 1, weights=red, minlength=k + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    tps = pd.DataFrame(
        {
            "touchpoint": list(tp.cat.categories),
            "customers": counts[1:],
            "share": counts[1:] / max(n, 1),
            "mean_expected_reduction": means[1:],
        }
    )
    tps = tps[tps["customers"] > 0].sort_values(
        ["customers", "touchpoint"], ascending=[False, True], kind="stable"
    )
    if counts[0]:
        tps = pd.concat(
            [
                tps,
                pd.DataFrame(
                    {
                        "touchpoint": [NO_TOUCHPOINT],
                        "customers": [counts[0]],
                        "share": [counts[0] / max(n, 1)],
                        "mean_expected_reduction": [np.nan],
                    }
                ),
            ]
        )
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    hist = np.histogram(np.clip(risk, 0, 1), bins=edges)[0]
    return Overview(
        n_customers=n,
        n_not_scored=int(n_not_scored),
        mean_risk=float(risk.mean()) if n else float("nan"),
        n_with_recommendation=int(n - counts[0]),
        bands=bands,
        touchpoints=tps.reset_index(drop=True),
        stages=stages,
        risk_histogram=pd.DataFrame(
            {"bin_start": edges[:-1], "bin_end": edges[1:], "customers": hist}
        ),
    )
