"""Buy-till-you-die: how likely a customer is still alive, from the rhythm of their visits."""

from __future__ import annotations

import warnings

import numpy as np

from cjml.events import EventLog
from cjml.features._base import AddedEvent, ColumnBlock, ColumnSink, FeatureFamily
from cjml.features._windows import Windows

__all__ = ["BtydFeatures"]

_WEEK = 7.0
#: Customers the population fit reads at most (a fixed random sample beyond): four
#: parameters need far fewer, and the fit's time stays bounded on large logs.
_FIT_CUSTOMERS = 5_000


class BtydFeatures(FeatureFamily):
    """BG/NBD's view of each customer: alive or gone, and how many visits to expect.

    In non-contractual data nobody says they leave: a customer goes quiet.
    The BG/NBD model (Fader, Hardie & Lee 2005) reads a silence against the
    customer's own pace: ten silent days mean little for a monthly buyer and
    much for a daily one. At fit time the population parameters are fitted
    (scipy, :class:`cjml.value.BetaGeoGammaGamma`'s likelihood) on the
    customers' repeat days, recency and age at the fit cutoff (a fixed random
    sample of 5,000 on larger logs); no label is used. At transform time each
    row gets the model's answers from its own events before the cutoff only.
    Not in the default featurizer (it did not help consistently on the
    development worlds nor on CDNOW): add ``"btyd"`` to ``families``.

    A *visit* is an event of one of the family's touchpoints (by default those
    the customer starts: every touchpoint the journey map does not list as
    actionable); visits count once per day, days counted back from the
    cutoff in whole 24-hour blocks (as BTYD counts purchase days). Features
    (all NaN for a customer without a visit):

    - ``btyd_repeat_days``: days with a visit after the first one.
    - ``btyd_days_since_first_visit``, ``btyd_days_since_last_visit``.
    - ``btyd_p_alive``: the probability that the customer has not dropped
      out (1 without a repeat day: BG/NBD drops customers out only after a
      visit).
    - ``btyd_expected_visits_{h}d``: expected visit days in the next
      ``horizon_days``.
    - ``btyd_p_no_visit_{h}d``: the probability of no visit at all in the next
      ``horizon_days`` (gone, or alive and quiet): BG/NBD's own churn risk.
    - ``btyd_silence_vs_expected_gap``: days since the last visit over the
      customer's expected gap between visit days while alive (the posterior
      mean of their visit rate); above 1: overdue.

    The last four are NaN when fewer than ``min_customers`` customers had a
    visit by the fit cutoff, or when the fit failed (a warning says so).

    Parameters
    ----------
    touchpoints : "customer", "all" or tuple of str, default "customer"
        The touchpoints that are visits: "customer" for the journey map's
        touchpoints that are not actionable (what the customer does), "all"
        for every touchpoint, or the names.
    horizon_days : float, default 30
        Period of the expected visit count, in days.
    min_customers : int, default 50
        Customers with a visit needed to fit the population parameters.
    """

    family = "btyd"
    relative_cost = 10

    def __init__(self, touchpoints="customer", horizon_days=30.0, min_customers=50):
        self.touchpoints = touchpoints
        self.horizon_days = horizon_days
        self.min_customers = min_customers

    def _check_params(self) -> None:
        t = self.touchpoints
        if not (
            t in ("customer", "all")
            or (not isinstance(t, str) and len(t) and all(isinstance(v, str) for v in t))
        ):
            raise ValueError(
                f"touchpoints must be 'customer', 'all' or a tuple of touchpoint names, got {t!r}."
            )
        h = self.horizon_days
        if isinstance(h, bool) or not isinstance(h, int | float) or not np.isfinite(h) or h <= 0:
            raise ValueError(f"horizon_days must be a positive number of days, got {h!r}.")
        m = self.min_customers
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise ValueError(f"min_customers must be a positive whole number, got {m!r}.")

    def _horizon_label(self) -> str:
        return f"{float(self.horizon_days):g}".replace(".", "_")

    def _fit(self, w: Windows, log: EventLog) -> None:
        jm = log.journey_map
        cats = [str(c) for c in log.frame["touchpoint"].cat.categories]
        known = list(dict.fromkeys([*jm.touchpoint_names, *cats]))
        if self.touchpoints == "all":
            chosen = known
        elif self.touchpoints == "customer":
            actionable = set(jm.actionable_touchpoints)
            chosen = [t for t in known if t not in actionable]
        else:
            chosen = list(self.touchpoints)
        self.touchpoints_ = chosen
        self.params_: dict[str, float] | None = None
        x, first, last = self._summary(w)
        seen = ~np.isnan(x)
        if seen.sum() < self.min_customers:
            return  # too few to fit a population: the model's columns stay NaN (documented)
        repeat, recency, age = _weeks(x[seen], first[seen], last[seen])
        try:
            theta = _fit_bgnbd(repeat, recency, age)
        except RuntimeError as err:
            warnings.warn(
                f"The btyd features could not fit BG/NBD ({err}); their p_alive, expected "
                "visits and silence columns are left empty (NaN).",
                UserWarning,
                stacklevel=4,
            )
            return
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        self.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}

    def _names(self) -> list[str]:
        return [
            "btyd_repeat_days",
            "btyd_days_since_first_visit",
            "btyd_days_since_last_visit",
            "btyd_p_alive",
            f"btyd_expected_visits_{self._horizon_label()}d",
            f"btyd_p_no_visit_{self._horizon_label()}d",
            "btyd_silence_vs_expected_gap",
        ]

    def _summary(self, w: Windows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Repeat visit days, days since the first and the last visit per row (NaN: none)."""
        cats = np.asarray(w.log.frame["touchpoint"].cat.categories, dtype=object)
        wanted = np.isin(cats, np.asarray(self.touchpoints_, dtype=object))
        e = w.subset(wanted[w.touchpoint])
        age = e.age_days
        # whole days back from the cutoff; a row's visits are in time order, so equal days
        # are neighbours and a new day starts where the row or the day changes
        day = np.floor(age)
        starts = np.ones(len(day), dtype=bool)
        if len(day) > 1:
            starts[1:] = (e.row[1:] != e.row[:-1]) | (day[1:] != day[:-1])
        days = e.count(starts)
        first, last = e.first(age), e.last(age)
        x = np.where(days > 0, days - 1.0, np.nan)
        return x, first, last

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        x, first, last = self._summary(w)
        self._write(out, x, first, last)

    def _write(self, out, x: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        """Write every column from the three summaries: transform and with_event share it."""
        out["btyd_repeat_days"] = x
        out["btyd_days_since_first_visit"] = first
        out["btyd_days_since_last_visit"] = last
        alive = np.full(len(x), np.nan)
        expected = np.full(len(x), np.nan)
        quiet = np.full(len(x), np.nan)
        silence = np.full(len(x), np.nan)
        seen = ~np.isnan(x)
        if self.params_ is not None and seen.any():
            from cjml.value._btyd import BetaGeoGammaGamma  # imports SciPy: only when used

            k = self.params_
            model = BetaGeoGammaGamma()
            model.params_ = dict(k)  # only BG/NBD's r, alpha, a, b are read below
            repeat, recency, age = _weeks(x[seen], first[seen], last[seen])
            t = float(self.horizon_days) / _WEEK
            with np.errstate(all="ignore"):
                alive[seen] = model.probability_alive(repeat, recency, age)
                expected[seen] = model.expected_purchases(repeat, recency, age, t)
            # no visit in the horizon: gone, or alive with no event of the Poisson process
            # (a customer drops out only right after a visit, so none happens in between)
            stays_quiet = ((k["alpha"] + age) / (k["alpha"] + age + t)) ** (k["r"] + repeat)
            quiet[seen] = 1.0 - alive[seen] + alive[seen] * stays_quiet
            # posterior mean visit rate while alive: Gamma(r + x, alpha + T), per week
            silence[seen] = (last[seen] / _WEEK) * (k["r"] + repeat) / (k["alpha"] + age)
        out["btyd_p_alive"] = alive
        out[f"btyd_expected_visits_{self._horizon_label()}d"] = expected
        out[f"btyd_p_no_visit_{self._horizon_label()}d"] = quiet
        out["btyd_silence_vs_expected_gap"] = silence

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        visit = event.is_one_of(self.touchpoints_)
        if not visit.any():
            return  # not a visit: nothing the model reads changes
        x = b["btyd_repeat_days"].copy()
        first = b["btyd_days_since_first_visit"].copy()
        last = b["btyd_days_since_last_visit"].copy()
        had = ~np.isnan(x)
        # the visit is 0 days old, in day block 0: a new day unless the last visit is in it
        new_x = np.where(had, x + (last >= 1.0), 0.0)
        new_first = np.where(had, first, 0.0)
        x = np.where(visit, new_x, x)
        first = np.where(visit, new_first, first)
        last = np.where(visit, 0.0, last)
        self._write(b, x, first, last)


def _weeks(x: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, ...]:
    """BG/NBD's frequency, recency and T, in weeks, from repeat days and visit ages in days."""
    recency = np.where(x > 0, (first - last) / _WEEK, 0.0)
    return x, recency, first / _WEEK


def _fit_bgnbd(repeat: np.ndarray, recency: np.ndarray, age: np.ndarray) -> np.ndarray:
    """BG/NBD's log-parameters (r, alpha, a, b) by bounded maximum likelihood, in bounded time.

    The likelihood is :mod:`cjml.value._btyd`'s; unlike its fitter, the search is capped
    (L-BFGS-B, log-parameters within +-10, at most 200 iterations), because a population
    that never drops out drives a and b to infinity and an unbounded search to minutes.
    """
    from scipy import optimize  # SciPy only when the opt-in family is fitted

    from cjml.value._btyd import _bgnbd_loglik

    if len(repeat) > _FIT_CUSTOMERS:
        keep = np.sort(np.random.default_rng(0).choice(len(repeat), _FIT_CUSTOMERS, replace=False))
        repeat, recency, age = repeat[keep], recency[keep], age[keep]
    rows, weights = np.unique(np.column_stack([repeat, recency, age]), axis=0, return_counts=True)
    args = (rows[:, 0], rows[:, 1], rows[:, 2], weights.astype(float))

    def loss(theta: np.ndarray) -> float:
        value = _bgnbd_loglik(theta, *args)
        return -value if np.isfinite(value) else 1e10

    with np.errstate(all="ignore"):  # the search probes far-off parameters
        best = optimize.minimize(
            loss,
            np.zeros(4),
            method="L-BFGS-B",
            bounds=[(-10.0, 10.0)] * 4,
            options={"maxiter": 200},
        )
    if not np.all(np.isfinite(best.x)) or best.fun >= 1e10:
        raise RuntimeError(f"the BG/NBD fit did not converge: {best.message}")
    return best.x
