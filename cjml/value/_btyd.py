"""The buy-till-you-die baseline, BG/NBD x Gamma-Gamma fitted with scipy, and the spend rate.

- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
  while alive, a customer buys at a Poisson rate drawn from Gamma(r, alpha);
  after each purchase they drop out with a probability drawn from Beta(a, b).
- Gamma-Gamma (Fader, Hardie & Lee 2005b, "RFM and CLV"): the amounts of a
  customer's repeat purchases are Gamma(p, nu) with nu drawn from
  Gamma(q, gamma), independent of the purchase process.

Both are fitted by maximum likelihood on log-parameters (scipy.optimize), so
no ``lifetimes`` at run time; ``benchmarks/cdnow.py`` checks the fit against
it. The statistics are those of ``lifetimes.utils.summary_data_from_transaction_data``:
``frequency`` = repeat purchase days, ``recency`` = time from the first to
the last purchase day, ``T`` = time from the first purchase day to the
cutoff, ``monetary_value`` = mean spend per repeat purchase day (0 without one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special

from cjml.events import DEFAULT_PURCHASES, EventLog

__all__ = [
    "BetaGeoGammaGamma",
    "btyd_predictions",
    "rfm_summary",
    "spend_rate_forecast",
]

#: Length of rfm_summary's time units, in days.
_UNIT_DAYS = {"D": 1.0, "W": 7.0}
BTYD_NAME = "BG/NBD x Gamma-Gamma"
SPEND_RATE_NAME = "spend per week"


def _as_array(name: str, values, *, integer: bool = False) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    if a.size == 0:
        raise ValueError(f"{name} is empty: give one value per customer.")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        raise ValueError(
            f"{name} must be finite and non-negative; {int(bad.sum())} values are not "
            f"(first: {a[bad][0]!r}): check the summary (see rfm_summary)."
        )
    if integer and np.any(a != np.round(a)):
        raise ValueError(f"{name} must count whole purchases; got {a[a != np.round(a)][0]!r}.")
    return a


def _rfm_arrays(frequency, recency, T, monetary_value=None) -> tuple[np.ndarray, ...]:
    x = _as_array("frequency", frequency, integer=True)
    t_x = _as_array("recency", recency)
    age = _as_array("T", T)
    arrays = [x, t_x, age]
    if monetary_value is not None:
        arrays.append(_as_array("monetary_value", monetary_value))
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(
            "frequency, recency, T and monetary_value must have one value per customer; "
            f"got lengths {[len(a) for a in arrays]}."
        )
    if np.any(t_x > age * (1 + 1e-9) + 1e-12):
        i = int(np.argmax(t_x > age * (1 + 1e-9) + 1e-12))
        raise ValueError(
            f"recency must not exceed T (customer {i}: recency {t_x[i]!r} > T {age[i]!r}): "
            "both are measured from the first purchase, T up to the cutoff."
        )
    if np.any((x == 0) & (t_x > 0)):
        i = int(np.argmax((x == 0) & (t_x > 0)))
        raise ValueError(
            f"a customer without repeat purchases has recency 0 (customer {i}: recency "
            f"{t_x[i]!r}): check the summary (see rfm_summary)."
        )
    return tuple(arrays)


def _bgnbd_loglik(log_params: np.ndarray, x, t_x, age, weights) -> float:
    """Mean BG/NBD log-likelihood per customer (FHL 2005, eq. 6), in logs for stability."""
    r, alpha, a, b = np.exp(log_params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + age)
    repeat = x > 0
    a3 = np.full_like(a2, -np.inf)
    a3[repeat] = (
        special.betaln(a + 1, b + x[repeat] - 1)
        - special.betaln(a, b)
        - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    ll = a1 + np.logaddexp(a2, a3)
    return float(np.sum(weights * ll) / np.sum(weights))


def _gamma_gamma_loglik(log_params: np.ndarray, x, m, weights) -> float:
    """Mean Gamma-Gamma log-likelihood of the repeat buyers' mean spend (FHL 2005b)."""
    p, q, gamma = np.exp(log_params)
    ll = (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + gamma)
    )
    return float(np.sum(weights * ll) / np.sum(weights))


def _maximise(fun, start: np.ndarray, args: tuple, what: str) -> np.ndarray:
    """Maximise a mean log-likelihood over log-parameters: Nelder-Mead, then L-BFGS-B to polish."""

    def neg(theta):
        value = fun(theta, *args)
        return -value if np.isfinite(value) else 1e10

    first = optimize.minimize(
        neg, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-10}
    )
    best = optimize.minimize(neg, first.x, method="L-BFGS-B", bounds=[(-20.0, 20.0)] * len(start))
    theta = best.x if best.fun <= first.fun else first.x
    if not np.all(np.isfinite(theta)) or neg(theta) >= 1e10:
        raise RuntimeError(f"the {what} fit did not converge: {best.message}")
    return theta


#: How close to a pole of the closed form (c = a + b + x - 1 at 0 or a negative whole
#: number, or a = 1) a row's expected purchases are integrated instead.
_NEAR_POLE = 1e-3
#: Gauss-Jacobi nodes of that integral: 1e-13 of the closed form on fits away from the poles.
_QUADRATURE_NODES = 64


def _purchases_if_alive(r, alpha, a, b, x, age, t) -> np.ndarray:
    """E[purchases in the next ``t`` | alive at ``age``] of BG/NBD, by quadrature over p.

    Given alive after ``x`` repeat purchases, the purchase rate is
    Gamma(r + x, alpha + T) and the dropout probability Beta(a, b + x); given
    both, the expected purchases are (1 - exp(-lambda p t)) / p. Integrating
    lambda out leaves ``E_p[(1 - (1 + p t / (alpha + T))^-(r + x)) / p]``, a
    smooth bounded function of p (its limit at p = 0 is the Poisson
    ``(r + x) t / (alpha + T)``), integrated against the Beta weight by
    Gauss-Jacobi quadrature, one rule per distinct ``x``.
    """
    out = np.empty(len(x))
    for value in np.unique(x):
        rows = x == value
        with np.errstate(all="ignore"):
            nodes, weights = special.roots_jacobi(_QUADRATURE_NODES, b + value - 1.0, a - 1.0)
        if np.all(np.isfinite(nodes)) and np.all(np.isfinite(weights)) and weights.sum() > 0:
            p = (1.0 + nodes) / 2.0  # Beta(a, b + x) on (0, 1)
            weights = weights / weights.sum()
        else:
            # a and b too large for the rule (fits at the other boundary, a, b ~ 1e5):
            # the Beta is then all but a point mass at its mean
            p, weights = np.array([a / (a + b + value)]), np.ones(1)
        scale = t / (alpha + age[rows])
        g = -np.expm1(-(r + value) * np.log1p(np.outer(scale, p))) / p
        # row by row, not a matrix product: the same bits whatever else is in the batch
        out[rows] = (g * weights).sum(axis=1)
    return out


class BetaGeoGammaGamma:
    """BG/NBD purchase counts x Gamma-Gamma spend per purchase: expected spend over a period.

    The standard buy-till-you-die baseline of customer value, fitted with
    scipy on each customer's frequency, recency, age and mean repeat spend
    (:func:`rfm_summary`), with no labels. Time is in whatever unit the
    summary uses (weeks by default); ``t`` in the predictions is in the same unit.

    Parameters
    ----------
    min_repeat_buyers : int, default 10
        The fewest repeat buyers the Gamma-Gamma fit accepts.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b`` (BG/NBD) and ``p``, ``q``, ``gamma``
        (Gamma-Gamma), as floats.
    log_likelihood_ : dict
        The mean log-likelihood per customer of each fit, ``bgnbd`` and
        ``gamma_gamma``.
    n_customers_ : int
        Customers of the BG/NBD fit.
    n_repeat_buyers_ : int
        Customers of the Gamma-Gamma fit (at least one repeat purchase, with
        a positive mean spend).

    Examples
    --------
    >>> import numpy as np
    >>> from cjml.value import BetaGeoGammaGamma
    >>> rng = np.random.default_rng(0)
    >>> x = rng.poisson(2, 500)
    >>> T = np.full(500, 30.0)
    >>> t_x = np.where(x > 0, rng.uniform(0, 30, 500), 0.0)
    >>> m = np.where(x > 0, rng.gamma(5, 4, 500), 0.0)
    >>> model = BetaGeoGammaGamma().fit(x, t_x, T, m)
    >>> bool(np.all(model.expected_spend(x, t_x, T, m, t=10) >= 0))
    True
    """

    def __init__(self, min_repeat_buyers: int = 10):
        self.min_repeat_buyers = min_repeat_buyers

    def fit(self, frequency, recency, T, monetary_value) -> BetaGeoGammaGamma:
        """Fit BG/NBD on every customer and Gamma-Gamma on the repeat buyers who spent.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases (purchase days after the first) per customer.
        recency : array-like
            Time from the first to the last purchase (0 without a repeat).
        T : array-like
            Time from the first purchase to the cutoff.
        monetary_value : array-like
            Mean spend per repeat purchase (ignored where ``frequency`` is 0).

        Returns
        -------
        BetaGeoGammaGamma
            The fitted model.
        """
        x, t_x, age, m = _rfm_arrays(frequency, recency, T, monetary_value)
        # identical customers share one likelihood term: fit on the distinct rows
        rows, weights = np.unique(np.column_stack([x, t_x, age]), axis=0, return_counts=True)
        theta = _maximise(
            _bgnbd_loglik,
            np.zeros(4),
            (rows[:, 0], rows[:, 1], rows[:, 2], weights.astype(float)),
            "BG/NBD",
        )
        # Gamma-Gamma needs a positive mean spend: repeat buyers whose repeats cost nothing
        # (free items, refunds netted out) say nothing about the spend distribution
        repeat = (x > 0) & (m > 0)
        if repeat.sum() < self.min_repeat_buyers:
            raise ValueError(
                f"the Gamma-Gamma spend model needs at least {self.min_repeat_buyers} repeat "
                f"buyers, got {int(repeat.sum())}: use a longer calibration period."
            )
        spend, spend_weights = np.unique(
            np.column_stack([x[repeat], m[repeat]]), axis=0, return_counts=True
        )
        # start at the moments: mean spend ~ p*gamma/(q-1), with p ~ 1 and q ~ 2
        start = np.log([1.0, 2.0, max(float(np.mean(m[repeat])), 1e-6)])
        phi = _maximise(
            _gamma_gamma_loglik,
            start,
            (spend[:, 0], spend[:, 1], spend_weights.astype(float)),
            "Gamma-Gamma",
        )
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        p, q, gamma = (float(v) for v in np.exp(phi))
        if q <= 1.0:
            raise ValueError(
                f"the Gamma-Gamma fit gives q = {q:.3g} <= 1, so the mean spend per purchase "
                "is unbounded: a few huge amounts dominate; cap or drop them first."
            )
        self.params_ = {"r": r, "alpha": alpha, "a": a, "b": b, "p": p, "q": q, "gamma": gamma}
        self.log_likelihood_ = {
            "bgnbd": _bgnbd_loglik(theta, rows[:, 0], rows[:, 1], rows[:, 2], weights),
            "gamma_gamma": _gamma_gamma_loglik(phi, spend[:, 0], spend[:, 1], spend_weights),
        }
        self.n_customers_ = int(len(x))
        self.n_repeat_buyers_ = int(repeat.sum())
        return self

    def _check_fitted(self) -> dict:
        if not hasattr(self, "params_"):
            raise RuntimeError("this BetaGeoGammaGamma is not fitted yet: call fit first.")
        return self.params_

    def _dropout_odds(self, x, t_x, age) -> np.ndarray:
        """delta(x>0) * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x), computed in logs."""
        k = self._check_fitted()
        r, alpha, a, b = k["r"], k["alpha"], k["a"], k["b"]
        repeat = x > 0
        log_odds = np.full(len(x), -np.inf)
        xr = x[repeat]
        log_odds[repeat] = (
            np.log(a)
            - np.log(b + xr - 1)
            + (r + xr) * (np.log(alpha + age[repeat]) - np.log(alpha + t_x[repeat]))
        )
        return np.exp(np.minimum(log_odds, 700.0))

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(the customer has not dropped out by T | their history), BG/NBD.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases per customer.
        recency : array-like
            Time from the first to the last purchase.
        T : array-like
            Time from the first purchase to the cutoff.

        Returns
        -------
        ndarray
            One probability per customer; 1 for customers without a repeat
            purchase (BG/NBD drops customers out only after a purchase).
        """
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        return 1.0 / (1.0 + self._dropout_odds(x, t_x, age))

    def expected_purchases(self, frequency, recency, T, t) -> np.ndarray:
        """Expected purchases in the next ``t`` time units given the history (FHL 2005, eq. 10).

        Parameters
        ----------
        frequency : array-like
            Repeat purchases per customer.
        recency : array-like
            Time from the first to the last purchase.
        T : array-like
            Time from the first purchase to the cutoff.
        t : float
            Length of the forecast period, in the summary's unit.

        Returns
        -------
        ndarray
            One expected count per customer.
        """
        k = self._check_fitted()
        x, t_x, age = _rfm_arrays(frequency, recency, T)
        t = float(t)
        if not np.isfinite(t) or t < 0:
            raise ValueError(f"t must be a non-negative period length, got {t!r}.")
        r, alpha, a, b = k["r"], k["alpha"], k["a"], k["b"]
        alive = 1.0 / (1.0 + self._dropout_odds(x, t_x, age))
        c = a + b + x - 1
        with np.errstate(all="ignore"):
            z = t / (alpha + age + t)
            hyp = special.hyp2f1(r + x, b + x, c, z)
            head = c / (a - 1)
            body = 1.0 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp
            out = head * body * alive
        # The closed form's 2F1 has poles where c is 0 or a negative whole number, and its
        # head one at a = 1; the expectation itself has none (the singularities cancel),
        # but next to them the evaluation loses every digit (a fit at the boundary,
        # a and b near 0, gave 0 for everyone). Those rows are integrated instead.
        shaky = (
            ~np.isfinite(out)
            | (out < 0)
            | ((c < 0.5) & (np.abs(c - np.round(c)) < _NEAR_POLE))
            | (abs(a - 1.0) < _NEAR_POLE)
        )
        if shaky.any():
            out[shaky] = alive[shaky] * _purchases_if_alive(r, alpha, a, b, x[shaky], age[shaky], t)
        if not np.all(np.isfinite(out)):
            raise RuntimeError(
                f"BG/NBD's expected purchases cannot be evaluated for "
                f"{int((~np.isfinite(out)).sum())} customers at r={r:.3g}, alpha={alpha:.3g}, "
                f"a={a:.3g}, b={b:.3g}"
            )
        return np.maximum(out, 0.0)

    def expected_spend_per_purchase(self, frequency, monetary_value) -> np.ndarray:
        """Gamma-Gamma conditional mean spend per purchase (the population mean without a repeat).

        Parameters
        ----------
        frequency : array-like
            Repeat purchases per customer.
        monetary_value : array-like
            Mean spend per repeat purchase (ignored where ``frequency`` is 0).

        Returns
        -------
        ndarray
            One expected amount per customer:
            ``(gamma + m * x) * p / (p * x + q - 1)``.
        """
        k = self._check_fitted()
        x = _as_array("frequency", frequency, integer=True)
        m = _as_array("monetary_value", monetary_value)
        if len(x) != len(m):
            raise ValueError(
                f"frequency and monetary_value must have one value per customer; got lengths "
                f"{len(x)} and {len(m)}."
            )
        p, q, gamma = k["p"], k["q"], k["gamma"]
        m = np.where(x > 0, m, 0.0)
        return (gamma + m * x) * p / (p * x + q - 1)

    def expected_spend(self, frequency, recency, T, monetary_value, t) -> np.ndarray:
        """Expected spend in the next ``t`` time units: purchases x spend per purchase.

        Parameters
        ----------
        frequency : array-like
            Repeat purchases per customer.
        recency : array-like
            Time from the first to the last purchase.
        T : array-like
            Time from the first purchase to the cutoff.
        monetary_value : array-like
            Mean spend per repeat purchase.
        t : float
            Length of the forecast period, in the summary's unit.

        Returns
        -------
        ndarray
            One expected spend per customer (no discounting).
        """
        _rfm_arrays(frequency, recency, T, monetary_value)
        return self.expected_purchases(frequency, recency, T, t) * (
            self.expected_spend_per_purchase(frequency, monetary_value)
        )


def _purchases(log: EventLog, purchase_touchpoints, until_ns: int | None = None) -> pd.DataFrame:
    """The purchases of a log (customer_id, timestamp, amount), as ValueFeatures picks them
    (``until_ns``: the events that may decide which touchpoints are purchases)."""
    frame = log.frame
    if "amount" not in frame.columns:
        raise ValueError(
            "the event log has no amount column: a spend forecast needs the amount of each "
            "purchase (read_events(..., columns={'amount': 'your column'}))."
        )
    chosen = log.purchase_touchpoints(purchase_touchpoints, until_ns=until_ns)
    buy = frame["touchpoint"].isin(chosen).to_numpy()
    out = frame.loc[buy, ["customer_id", "timestamp", "amount"]]
    return out.assign(amount=out["amount"].astype(float))


def rfm_summary(log: EventLog, cutoff, *, unit: str = "W", purchase_touchpoints=DEFAULT_PURCHASES):
    """Frequency, recency, age and mean repeat spend of each buyer at a cutoff, as BG/NBD needs.

    The purchases up to the cutoff (inclusive) are summed per customer and
    calendar day (UTC), as in ``lifetimes.utils.summary_data_from_transaction_data``;
    a day that sums below zero (refunds of earlier purchases) is not a purchase day.

    Parameters
    ----------
    log : EventLog
        Events with an ``amount`` column.
    cutoff : str or Timestamp
        Only purchases at or before it count.
    unit : {"W", "D"}, default "W"
        Time unit of ``recency`` and ``T``: weeks, as in the BTYD literature, or days.
    purchase_touchpoints : tuple of str, default ("purchase",)
        Touchpoints that are purchases; with the default, cjml's one rule
        (:meth:`cjml.EventLog.purchase_touchpoints`): the map's marked ones, else
        ``purchase``, else those with a positive amount.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (customers with a purchase by the cutoff),
        columns ``frequency`` (repeat purchase days), ``recency`` and ``T``
        (from the first purchase day to the last one and to the cutoff's day,
        in ``unit``), ``monetary_value`` (mean spend per repeat purchase day,
        0 without one) and ``total_spend`` (all purchases up to the cutoff).
    """
    if unit not in _UNIT_DAYS:
        raise ValueError(f"unit must be 'W' (weeks) or 'D' (days), got {unit!r}.")
    cut = pd.Timestamp(cutoff)
    if cut.tzinfo is None:
        cut = cut.tz_localize("UTC")
    buys = _purchases(log, purchase_touchpoints, until_ns=cut.value)
    buys = buys[buys["timestamp"] <= cut]
    days = (
        buys.assign(day=buys["timestamp"].dt.tz_convert("UTC").dt.floor("D"))
        .groupby(["customer_id", "day"], observed=True, sort=True)["amount"]
        .sum()
        .reset_index()
    )
    # a day whose purchases sum below zero returned more than it bought: not a purchase day
    # (the BTYD models count transactions and their spend, which are never negative)
    days = days[~(days["amount"] < 0).to_numpy()]
    g = days.groupby("customer_id", observed=True, sort=True)
    scale = _UNIT_DAYS[unit]
    first_day, last_day = g["day"].min(), g["day"].max()
    total = g["amount"].sum()
    n_days = g["day"].count()
    repeat = days["day"] > g["day"].transform("min")
    repeat_spend = days["amount"].where(repeat, 0.0).groupby(days["customer_id"]).sum()
    frequency = (n_days - 1).astype(float)
    cut_day = cut.tz_convert("UTC").floor("D")
    summary = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last_day - first_day).dt.days / scale,
            "T": (cut_day - first_day).dt.days / scale,
            "monetary_value": np.where(
                frequency > 0, repeat_spend.reindex(frequency.index) / frequency.clip(lower=1), 0.0
            ),
            "total_spend": total,
        }
    )
    summary.index.name = "customer_id"
    return summary


def spend_rate_forecast(total_spend, T, t, *, min_T: float = 1.0) -> np.ndarray:
    """Spend so far per unit of the customer's age, times the forecast period.

    The naive heuristic the BTYD literature compares against: it assumes
    everyone keeps buying at their calibration pace.

    Parameters
    ----------
    total_spend : array-like
        Spend from the first purchase to the cutoff.
    T : array-like
        Time from the first purchase to the cutoff.
    t : float
        Length of the forecast period, in the unit of ``T``.
    min_T : float, default 1.0
        Ages below it count as ``min_T`` (a customer who first bought at the
        cutoff would divide by zero).

    Returns
    -------
    ndarray
        ``total_spend / max(T, min_T) * t`` per customer.
    """
    spend = _as_array("total_spend", total_spend)
    age = _as_array("T", T)
    if len(spend) != len(age):
        raise ValueError(
            f"total_spend and T must have one value per customer; got lengths {len(spend)} "
            f"and {len(age)}."
        )
    if not min_T > 0:
        raise ValueError(f"min_T must be positive, got {min_T!r}.")
    return spend / np.maximum(age, min_T) * float(t)


def btyd_predictions(
    log: EventLog, cutoff, customer_ids, horizon, *, purchase_touchpoints=DEFAULT_PURCHASES
) -> dict[str, np.ndarray]:
    """The two baselines' expected spend over the horizon after the cutoff, per customer.

    Fitted on the purchases up to the cutoff only (no labels), in weeks.

    Parameters
    ----------
    log : EventLog
        Events with an ``amount`` column; purchases after the cutoff are ignored.
    cutoff : str or Timestamp
        End of the calibration period.
    customer_ids : array-like
        The customers to predict for, in the order wanted; customers without
        a purchase by the cutoff get 0 from both baselines.
    horizon : str or Timedelta
        Length of the forecast period (e.g. ``"30D"``).
    purchase_touchpoints : tuple of str, default ("purchase",)
        Touchpoints that are purchases (see :func:`rfm_summary`).

    Returns
    -------
    dict of str to ndarray
        ``"BG/NBD x Gamma-Gamma"`` and ``"spend per week"``, each aligned with
        ``customer_ids``; without the first when the log has too few repeat
        buyers to fit it.
    """
    from cjml._durations import to_timedelta

    t = to_timedelta(horizon).total_seconds() / (7 * 86400.0)
    summary = rfm_summary(log, cutoff, unit="W", purchase_touchpoints=purchase_touchpoints)
    ids = pd.Index(customer_ids)
    out: dict[str, np.ndarray] = {}
    x, t_x, age, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
    try:
        with np.errstate(all="ignore"):  # the optimiser probes far-off parameters
            model = BetaGeoGammaGamma().fit(x, t_x, age, m)
            btyd = pd.Series(model.expected_spend(x, t_x, age, m, t), index=summary.index)
        out[BTYD_NAME] = btyd.reindex(ids).fillna(0.0).to_numpy(dtype=float)
    except (ValueError, RuntimeError):
        pass  # too few (repeat) buyers to fit: the report shows the other baselines
    if len(summary):
        rate = spend_rate_forecast(summary["total_spend"], summary["T"], t)
        spend = pd.Series(rate, index=summary.index).reindex(ids).fillna(0.0)
    else:
        spend = pd.Series(0.0, index=ids)
    out[SPEND_RATE_NAME] = spend.to_numpy(dtype=float)
    return out
