"""Intervals for proportions and their differences: the one home of Wilson and Newcombe.

Plain numpy, vectorised, no cjml imports, so that any layer can use them (the
support journey's churn rates, the measured uplift of a campaign).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

__all__ = ["newcombe_interval", "wilson_interval", "z_value"]


def z_value(level: float) -> float:
    """The standard normal quantile of a two-sided interval at ``level`` (1.645 for 0.9)."""
    return NormalDist().inv_cdf(0.5 + float(level) / 2)


def wilson_interval(k, n, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rates ``k / n`` with their Wilson score intervals.

    Parameters
    ----------
    k : array-like of int
        Events.
    n : array-like of int
        Trials.
    level : float, default 0.9
        Coverage of the interval.

    Returns
    -------
    tuple of ndarray
        The rate, the interval's low and high ends; NaN where ``n`` is 0.
    """
    z = z_value(level)
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    empty = n <= 0
    return (
        np.where(empty, np.nan, p),
        np.where(empty, np.nan, np.clip(centre - half, 0.0, 1.0)),
        np.where(empty, np.nan, np.clip(centre + half, 0.0, 1.0)),
    )


def newcombe_interval(
    k1, n1, k2, n2, level: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for the difference of two proportions, p1 - p2.

    Each proportion gets its Wilson score interval; the difference's interval
    combines their distances from the estimates (Newcombe 1998, method 10).
    It keeps close to its level for small samples and proportions near 0 or 1,
    where the plain Wald interval does not.

    Parameters
    ----------
    k1 : array-like of int
        Events of the first group.
    n1 : array-like of int
        Size of the first group.
    k2 : array-like of int
        Events of the second group.
    n2 : array-like of int
        Size of the second group.
    level : float, default 0.9
        Coverage, e.g. 0.9 for a 90% interval.

    Returns
    -------
    tuple of ndarray
        The difference ``k1/n1 - k2/n2`` and the interval's low and high
        ends; NaN where a group is empty.

    Examples
    --------
    >>> d, low, high = newcombe_interval(56, 70, 48, 80, level=0.95)
    >>> round(float(d), 4), round(float(low), 4), round(float(high), 4)
    (0.2, 0.0524, 0.3339)
    """
    p1, l1, u1 = wilson_interval(k1, n1, level)
    p2, l2, u2 = wilson_interval(k2, n2, level)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high
