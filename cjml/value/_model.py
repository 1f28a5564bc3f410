"""The value model: expected spend over the horizon if the customer stays.

:class:`ValueModel` reads the featurizer's columns, like the churn model, and
predicts ``V`` = the expected spend (or margin) over the bundle's horizon of a
customer who does not drop off. With the churn model's risk it gives

- ``expected_value = (1 - churn_risk) * V``, with an interval;
- ``value_at_risk = churn_risk * V`` (what drop-off is expected to cost), so
  ``expected_value + value_at_risk == V``.

Two methods:

- ``"two-part"`` (default): ``V = P(buy | retained) * E[spend | buy]``, a
  binary LightGBM on the retained rows times a LightGBM with the Poisson loss
  (log link) on the spend of the rows that bought. The Poisson loss's
  estimating equations make the predicted total equal the realised one; the
  gamma loss weighs each row's error by 1/prediction and under-predicted the
  largest buyers (B2B spend on the sample: realised / predicted 1.46 with
  gamma, 1.22 with Poisson; the sample simulator's total: 0.86 -> 0.94 of the
  true expected value, CDNOW cross-validated 0.95 -> 1.00, Gini unchanged);
- ``"tweedie"``: one LightGBM with the Tweedie loss on the retained rows' spend.

Both are early-stopped on the latest cutoff's rows when several cutoffs are
given (as :class:`cjml.ChurnModel`; rows whose window overlaps it are left out
of the inner fit), else on a random ``validation_fraction`` of the rows, then
grown again on every row with a tenth more rounds.

**Other horizons.** The trees learn the spend over the horizon they were
trained on. For a forecast over another horizon ``h`` (e.g. 39 weeks from a
model whose labels could only span 13), ``predict_value(..., horizon=h)``
rescales each customer's values by their own time profile: the BG/NBD
expected purchases over ``h`` divided by those over the training horizon,
given the customer's purchase history at the cutoff (frequency, recency and
age, read from the featurizer's purchase columns). BG/NBD's parameters are
fitted, without labels, on the training rows of the latest cutoff. So the
trees set each customer's level and BG/NBD how it unfolds in time: an older,
steady customer keeps buying at nearly the same pace, a new one slows down as
the chance that they have dropped out grows. On CDNOW at 1997-09-30 the
profile's ratio of 273-day to 91-day purchases is 2.65 and the actual spend's
2.60 (182 to 273 days: 1.42 and 1.38). Without the purchase columns, or when
BG/NBD cannot be fitted, the values are scaled in proportion to time.

**Calibration (off by default).** ``calibrate=True`` maps ``V`` through
``scale * V ** power`` fitted on the held-out rows (the latest cutoff's,
predicted by the early-stopped trees) against their realised spend, shrunk
to the identity by its standard error and keeping the trees' total (see
``_fit_calibration``). Measured on cjml's simulator against the true
expected value (``benchmarks/value_quality.py``, 3,000 customers, seeds
0-5; deciles holding 95% of the true value judged), it moved the deciles
further from the truth: 10 of 23 within 10% with it, 16 of 22 without (a
ten-bin monotone map shrunk the same way did no better: at 6,000 customers,
seeds 0-1, 3 of 8 against 6 of 8). The errors it was meant to fix are not a
shape the held-out window shows: per world the total is off by -9% to +15%
with no common sign, and one window's spend (the held-out rows share it)
bends the map more than the trees' shrinkage does.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from cjml._durations import utc_datetimes
from cjml.labels import to_timedelta
from cjml.models import (
    _LEAF_SIZE,
    _MIN_LEAF_SIZE,
    _REFIT_ROUNDS,
    _ROWS_PER_LEAF,
    _WARN_LEAF_SIZE,
    _check_n_jobs,
    _default_threads,
    _feature_matrix,
    _time_split,
)

__all__ = ["ValueModel", "value_baselines", "value_section"]

_METHODS = ("two-part", "tweedie")
#: Fewer buyers than this and the spend-if-buying part is their mean (with a warning).
_MIN_BUYERS = 20


#: A lower bound below this share of its mean is written as 0.
_NEGLIGIBLE = 1e-9


def _gamma_interval(mean: np.ndarray, cv2: np.ndarray, level: float):
    """The central ``level`` interval of gamma distributions with these means and cv^2.

    The bounds hold the mean (a very skewed gamma's upper quantile can fall
    below its mean); a mean of 0 or a spread of 0 gives the mean itself, and a lower
    bound under a billionth of the mean is 0.
    """
    from scipy.stats import gamma

    mean = np.asarray(mean, dtype=float)
    low, high = mean.copy(), mean.copy()
    wide = (np.asarray(cv2) > 1e-12) & (mean > 0)
    shape = 1.0 / np.asarray(cv2)[wide]
    tail = (1.0 - level) / 2
    with np.errstate(all="ignore"):
        low[wide] = gamma.ppf(tail, shape, scale=mean[wide] / shape)
        high[wide] = gamma.isf(tail, shape, scale=mean[wide] / shape)
    low = np.minimum(np.nan_to_num(low, nan=0.0), mean)
    # a very skewed gamma's lower quantile can be 1e-239: no money, and unreadable in a CSV
    low[low < _NEGLIGIBLE * mean] = 0.0
    high = np.maximum(np.nan_to_num(high, nan=0.0, posinf=0.0), mean)
    return low, high


#: Fewer held-out rows with a positive ``V`` than this and the calibration is the identity.
_CALIBRATION_ROWS = 100
#: The calibration's power is kept within these bounds.
_POWER_BOUNDS = (0.5, 2.0)


def _fit_calibration(f: np.ndarray, actual: np.ndarray) -> dict | None:
    """A power map ``V -> scale * V ** power`` fitted on held-out rows, shrunk to the identity.

    The power is the slope of a Poisson regression (log link) of the held-out
    rows' realised spend on ``log V``: above 1 when the trees shrank
    towards the mean (the big values too small, the small ones too big). Its
    sandwich standard error ``se`` (window spend is heavy-tailed) shrinks
    it towards 1 by ``max(0, 1 - se^2 / (power - 1)^2)``: a slope within the
    noise is ignored, one three standard errors away is kept at 8/9. The
    scale then keeps the held-out rows' total ``V``: the rows of one cutoff
    share one window, so their level is a single draw of the calendar's ups
    and downs, while the trees' level is learned from every cutoff. One
    parameter, not a curve: a handful of big spenders in a bin would bend a
    curve. A power above 0 never reorders or ties customers, and 0 stays 0.

    Parameters
    ----------
    f : ndarray
        ``V`` of the held-out rows, predicted by trees grown without them.
    actual : ndarray
        Their realised spend.

    Returns
    -------
    dict or None
        ``{"power": ..., "scale": ...}``, or None (the identity) with fewer
        than ``_CALIBRATION_ROWS`` rows of positive ``V`` or a degenerate fit.
    """
    f, actual = np.asarray(f, dtype=float), np.asarray(actual, dtype=float)
    rows = f > 0
    if rows.sum() < _CALIBRATION_ROWS or actual[rows].sum() <= 0:
        return None
    x = np.log(f[rows])
    z = np.column_stack([np.ones(len(x)), x - x.mean()])
    y = actual[rows]
    theta = np.array([np.log(y.mean()), 1.0])
    with np.errstate(all="ignore"):
        for _ in range(50):  # Newton on the Poisson log-likelihood
            mu = np.exp(z @ theta)
            step = np.linalg.solve((z * mu[:, None]).T @ z, z.T @ (y - mu))
            theta = theta + step
            if not np.all(np.isfinite(theta)):
                return None
            if np.abs(step).max() < 1e-8:
                break
        mu = np.exp(z @ theta)
        bread = np.linalg.inv((z * mu[:, None]).T @ z)
        meat = (z * ((y - mu) ** 2)[:, None]).T @ z
        se2 = float((bread @ meat @ bread)[1, 1])
    gap = float(theta[1]) - 1.0
    if not np.isfinite(gap) or not np.isfinite(se2):
        return None
    keep = max(0.0, 1.0 - se2 / gap**2) if gap != 0 else 0.0
    power = float(np.clip(1.0 + keep * gap, *_POWER_BOUNDS))
    scale = float(f.sum() / np.sum(f**power))
    return {"power": power, "scale": scale}


def _calibrate(value: np.ndarray, calibration: dict | None) -> np.ndarray:
    """``value`` through the calibration map ``scale * value ** power`` (None: the identity)."""
    value = np.asarray(value, dtype=float)
    if calibration is None:
        return value
    return float(calibration["scale"]) * np.power(value, float(calibration["power"]))


class _Rounds:
    """A booster that predicts with its first ``rounds`` trees (an early-stopped fit)."""

    def __init__(self, booster, rounds: int):
        self.booster, self.rounds = booster, rounds

    def predict(self, matrix, num_threads=1):
        return self.booster.predict(matrix, num_iteration=self.rounds, num_threads=num_threads)


class ValueModel(BaseEstimator):
    """Expected spend (or margin) over the horizon if the customer does not drop off.

    Parameters
    ----------
    horizon : duration, default "30D"
        The window the spend labels cover (the bundle's horizon); rows whose
        window overlaps the held-out cutoff's are left out of the inner fit.
    method : {"two-part", "tweedie"}, default "two-part"
        ``P(buy | retained) x E[spend | buy]``, or one Tweedie regression.
    level : float, default 0.8
        Coverage of the interval ``expected_value_low`` .. ``_high``.
    n_bootstrap : int, default 0
        Refits on resampled rows whose spread widens the interval (the
        estimate's own noise); the interval's main part is the spread of the
        truth around ``V`` measured on the held-out rows (``dispersion_``).
    n_estimators : int, default 1000
        Most boosting rounds per part; early stopping usually ends far earlier.
    learning_rate : float, default 0.05
        LightGBM's learning rate.
    num_leaves : int, default 7
        Leaves per tree.
    min_child_samples : int or "auto", default "auto"
        Rows per leaf; "auto" is 200 lowered on small data, as for
        :class:`cjml.ChurnModel`.
    colsample_bytree, subsample : float, default 0.8
        Feature and row sampling per tree.
    reg_lambda : float, default 1.0
        L2 regularisation.
    tweedie_variance_power : float, default 1.5
        The Tweedie power (``method="tweedie"``), between 1 and 2.
    early_stopping_rounds : int, default 50
        Rounds without improvement on the held-out rows before stopping.
    validation_fraction : float, default 0.2
        Held-out share of the rows when there is only one cutoff.
    categorical_features : sequence of str, default ()
        Feature columns LightGBM treats as categories.
    n_jobs : int, optional
        LightGBM threads; default one below 50,000 rows (see
        :func:`cjml.models._default_threads`).
    random_state : int, default 0
        Seed of LightGBM, the validation split and the resampling.
    lgbm_params : dict, optional
        Extra LightGBM parameters, applied last.
    time_profile : {"bgnbd", "linear"}, default "bgnbd"
        How :meth:`predict_value` scales to another horizon: each customer's
        BG/NBD time profile, or in proportion to time.
    risk_concentration : float, default 10.0
        How firmly the interval of the expected value trusts the churn risk:
        the chance of staying is read as Beta distributed around
        ``1 - churn_risk`` with this many pseudo-customers (chosen on the
        sample simulator; 2 to 20 cover the true value alike).
    calibrate : bool, default False
        Correct the shape of ``V`` on the held-out rows (``calibration_``,
        ``scale * V ** power``): it keeps the trees' order and their overall
        level. Off by default: on cjml's simulator it moved the decile
        calibration further from the truth (see the module notes).

    Attributes
    ----------
    boosters_ : dict of str to lightgbm.Booster
        ``"buy"`` and ``"spend"`` (two-part) or ``"tweedie"``.
    bootstrap_boosters_ : list of dict
        The same parts refitted on resampled rows, for the interval.
    constants_ : dict of str to float
        A part's constant when it had too few rows to learn (e.g. ``"spend"``).
    best_iterations_ : dict of str to int
        Rounds kept per part.
    calibration_ : dict or None
        The held-out calibration of ``V``, ``scale * V ** power`` (see
        ``_fit_calibration``); None is the identity.
    dispersion_ : float
        Squared coefficient of variation of the true value if retained
        around ``V``, measured on the held-out rows; behind the interval.
    n_train_rows_ : int
        Retained rows the model learned from.
    time_profile_ : dict of str to float or None
        BG/NBD's ``r, alpha, a, b`` (time in weeks) for other horizons; None
        when values scale in proportion to time.
    horizon_days_ : float
        The training horizon in days.
    """

    def __init__(
        self,
        *,
        horizon="30D",
        method="two-part",
        level=0.8,
        n_bootstrap=0,
        n_estimators=1000,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples="auto",
        colsample_bytree=0.8,
        subsample=0.8,
        reg_lambda=1.0,
        tweedie_variance_power=1.5,
        early_stopping_rounds=50,
        validation_fraction=0.2,
        categorical_features=(),
        n_jobs=None,
        random_state=0,
        lgbm_params=None,
        time_profile="bgnbd",
        risk_concentration=10.0,
        calibrate=False,
    ):
        self.horizon = horizon
        self.method = method
        self.level = level
        self.n_bootstrap = n_bootstrap
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.tweedie_variance_power = tweedie_variance_power
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.categorical_features = categorical_features
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.lgbm_params = lgbm_params
        self.time_profile = time_profile
        self.risk_concentration = risk_concentration
        self.calibrate = calibrate

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {list(_METHODS)!r}, got {self.method!r}.")
        if self.time_profile not in ("bgnbd", "linear"):
            raise ValueError(
                f"time_profile must be 'bgnbd' or 'linear', got {self.time_profile!r}."
            )
        if not 0 < float(self.level) < 1:
            raise ValueError(f"level must lie between 0 and 1 (0.8 for 80%), got {self.level!r}.")
        if (
            isinstance(self.n_bootstrap, bool)
            or not isinstance(self.n_bootstrap, int | np.integer)
            or self.n_bootstrap < 0
        ):
            raise ValueError(
                f"n_bootstrap must be a whole number of at least 0, got {self.n_bootstrap!r}."
            )
        _check_n_jobs(self.n_jobs)

    def _leaf_size(self, n_rows: int) -> int:
        value = self.min_child_samples
        if isinstance(value, str) and value == "auto":
            return int(min(_LEAF_SIZE, max(_MIN_LEAF_SIZE, n_rows // _ROWS_PER_LEAF)))
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(
                f"min_child_samples must be 'auto' or a whole number of at least 1, got {value!r}."
            )
        return int(value)

    def _threads(self, n_rows: int) -> int:
        n_jobs = _check_n_jobs(self.n_jobs)
        return _default_threads(n_rows) if n_jobs is None else n_jobs

    def _params(self, objective: str, n_fit_rows: int, n_rows: int) -> dict:
        params = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self._leaf_size(n_fit_rows),
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "lambda_l2": self.reg_lambda,
            "num_threads": self._threads(n_rows),
            "seed": 0 if self.random_state is None else int(self.random_state),
            "deterministic": True,
            "verbosity": -1,
        }
        if objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        params.update(self.lgbm_params or {})
        return params

    def _feature_names(self):
        """The trees' feature names: the columns', so explanations speak the featurizer's words."""
        names = [str(c) for c in getattr(self, "feature_names_in_", [])]
        return names or "auto"

    def _categorical(self) -> list[int]:
        names = [str(c) for c in getattr(self, "feature_names_in_", [])]
        out = []
        for c in self.categorical_features or ():
            if isinstance(c, int | np.integer):
                out.append(int(c))
            elif str(c) in names:
                out.append(names.index(str(c)))
            else:
                raise ValueError(f"categorical feature {c!r} is not a column of X.")
        return out

    # ------------------------------------------------------------------ fitting
    def fit(self, X, spend, *, retained=None, cutoffs=None, customer_ids=None):
        """Learn the expected spend of customers who stay.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows (the featurizer's columns only).
        spend : array-like of shape (n_rows,)
            Spend (or margin) over the horizon after each row's cutoff, at
            least 0 (:func:`cjml.value.value_targets`).
        retained : array-like of shape (n_rows,), optional
            1 when the customer had an event in the window (``1 - churn``);
            only these rows are learned from. Default: every row.
        cutoffs : array-like of dates, optional
            Each row's cutoff; the latest cutoff's rows are held out for early
            stopping (see :class:`cjml.ChurnModel`).
        customer_ids : array-like of shape (n_rows,), optional
            The customer of each row, for a held-out slice by customers when no
            earlier row ends its label window by the latest cutoff (see
            :meth:`cjml.ChurnModel.fit`).

        Returns
        -------
        self
            The fitted model.
        """
        self._check_params()
        matrix = _feature_matrix(self, X, fitting=True)
        y = np.asarray(spend, dtype=float).reshape(-1)
        if len(y) != len(matrix):
            raise ValueError(
                f"spend must give one value per row of X ({len(matrix)}), got {len(y)}."
            )
        if not np.isfinite(y).all() or (y < 0).any():
            bad = y[~np.isfinite(y) | (y < 0)]
            raise ValueError(
                f"spend must be finite and at least 0; {len(bad)} row(s) are not, e.g. "
                f"{float(bad[0])!r}. Refunds larger than the purchases of a window are not "
                "a spend: clip them at 0."
            )
        keep = np.ones(len(y), dtype=bool)
        if retained is not None:
            keep = np.asarray(retained).reshape(-1).astype(bool)
            if len(keep) != len(y):
                raise ValueError(
                    f"retained must give one value per row of X ({len(y)}), got {len(keep)}."
                )
        rows = np.flatnonzero(keep)
        if not len(rows):
            raise ValueError(
                "No row is retained (every customer churned), so there is no spend of "
                "customers who stay to learn from. Use more cutoffs or customers."
            )
        row_cutoffs = None if cutoffs is None else utc_datetimes(cutoffs)[rows]
        row_customers = None if customer_ids is None else np.asarray(customer_ids)[rows]
        horizon = self._horizon()
        self.horizon_days_ = float("nan") if horizon is None else horizon / pd.Timedelta(days=1)
        self.time_profile_ = self._fit_time_profile(matrix, cutoffs)
        matrix, y = matrix[rows], y[rows]
        self.n_train_rows_ = len(rows)
        self.constants_: dict[str, float] = {}
        self.best_iterations_: dict[str, int] = {}
        self.boosters_ = {}
        self.__dict__.pop("min_child_samples_", None)  # the smallest over this fit's parts
        self._notes: list[str] = []
        self._inner: dict = {}
        self._leaves: dict = {}
        categorical = self._categorical()
        if self.method == "tweedie":
            self.boosters_["tweedie"] = self._fit_part(
                "tweedie", "tweedie", matrix, y, row_cutoffs, categorical, row_customers
            )
        else:
            bought = (y > 0).astype(float)
            self.boosters_["buy"] = self._fit_part(
                "buy", "binary", matrix, bought, row_cutoffs, categorical, row_customers
            )
            buyers = np.flatnonzero(bought > 0)
            if len(buyers) < _MIN_BUYERS:
                self.constants_["spend"] = float(y[buyers].mean()) if len(buyers) else 0.0
                self._notes.append(
                    f"only {len(buyers)} rows with a purchase: the spend of a buyer is "
                    f"their mean ({self.constants_['spend']:.2f}) for every customer"
                )
            else:
                self.boosters_["spend"] = self._fit_part(
                    "spend",
                    "poisson",
                    matrix[buyers],
                    y[buyers],
                    None if row_cutoffs is None else row_cutoffs[buyers],
                    categorical,
                    None if row_customers is None else row_customers[buyers],
                )
        self.boosters_ = {k: v for k, v in self.boosters_.items() if v is not None}
        self._fit_bootstrap(matrix, y, categorical)
        f, actual = self._held_out(matrix, y)
        self.calibration_ = _fit_calibration(f, actual) if self.calibrate else None
        self.dispersion_ = self._fit_dispersion(_calibrate(f, self.calibration_), actual)
        self._warn_small_data(matrix)
        del self._notes, self._inner, self._leaves
        return self

    def _held_out(self, matrix: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``V`` of the held-out rows by the trees grown without them, and their spend.

        Without held-out rows (no early stopping), every row in-sample.
        """
        lead = "tweedie" if self.method == "tweedie" else "buy"
        if lead in self._inner:
            booster, held, best = self._inner[lead]
            parts = {lead: (booster, best)}
            if "spend" in self._inner:
                parts["spend"] = self._inner["spend"][0], self._inner["spend"][2]
            f = self._value(
                matrix[held],
                {k: _Rounds(b, r) for k, (b, r) in parts.items()},
            )
            return np.maximum(f, 0.0), y[held]
        return np.maximum(self._value(matrix, self.boosters_), 0.0), y

    def _fit_dispersion(self, f: np.ndarray, actual: np.ndarray) -> float:
        """How far the true expected spend strays from ``V``: its squared coefficient of variation.

        On the held-out rows (``f``, their calibrated ``V`` by the trees grown
        without them; ``actual``, their spend), in
        bins of ``V``: the realised spend's variance is the spread of the true
        expected spend among the bin's customers plus the purchase noise
        around it. Purchases in a window are close to compound Poisson, whose
        noise variance is ``m * E[A^2] / E[A]`` for expected spend ``m`` and
        amounts ``A`` (read from the bin's own spends), so the spread of the
        truth is what remains (never below 0), plus the bin's squared bias;
        pooled over the bins and divided by the bins' squared mean ``V``.
        :meth:`predict_interval` reads a gamma distribution with that
        spread around ``V``.
        """
        f = np.maximum(f, 0.0)
        n_bins = int(min(10, max(1, len(f) // 50)))
        order = np.argsort(f, kind="mergesort")
        excess, scale = 0.0, 0.0
        for rows in np.array_split(order, n_bins):
            mean_f, mean_y = float(f[rows].mean()), float(actual[rows].mean())
            # E[A^2] / E[A] of this bin's window spends: the amounts differ with the level
            spent = actual[rows][actual[rows] > 0]
            noise = float((spent**2).sum() / spent.sum()) if len(spent) else 0.0
            excess += max(float(actual[rows].var()) - mean_y * noise, 0.0) + (mean_y - mean_f) ** 2
            scale += mean_f**2
        # pooled over the bins: a bin of ~50 rows alone gives a noisy variance
        return float(excess / scale) if scale > 0 else 0.0

    def _history(self, matrix: np.ndarray):
        """Frequency, recency and age in weeks from the purchase columns, or None without them."""
        names = [str(c) for c in getattr(self, "feature_names_in_", [])]
        needed = ("purchases", "days_since_first_purchase", "days_since_last_purchase")
        if not all(c in names for c in needed):
            return None
        count, first, last = (matrix[:, names.index(c)].astype(float) for c in needed)
        bought = np.isfinite(first) & (count > 0)
        if "days_since_first_event" in names:  # a customer who never bought: age since arrival
            arrival = matrix[:, names.index("days_since_first_event")].astype(float)
        else:
            arrival = np.zeros(len(matrix))
        x = np.where(bought, np.maximum(np.nan_to_num(count) - 1, 0), 0.0)
        age = np.where(bought, first, np.nan_to_num(arrival)) / 7.0
        t_x = np.where(bought & (x > 0), np.nan_to_num(first - last), 0.0) / 7.0
        return x, np.clip(t_x, 0, None), np.maximum(age, t_x)

    def _fit_time_profile(self, matrix: np.ndarray, cutoffs) -> dict | None:
        """BG/NBD's parameters, fitted on the latest cutoff's rows (no labels), or None."""
        if self.time_profile != "bgnbd":
            return None
        history = self._history(matrix)
        if history is None:
            return None
        from scipy.optimize import minimize

        from cjml.value._btyd import _bgnbd_loglik

        latest = np.ones(len(matrix), dtype=bool)
        if cutoffs is not None:
            dates = utc_datetimes(cutoffs)
            latest = dates == dates.max()
        x, t_x, age = (h[latest] for h in history)
        keep = age > 0
        if int((x[keep] > 0).sum()) < 10:  # too few repeat buyers to learn a time profile
            return None
        # in half weeks: far fewer distinct histories to fit, the same profile (to ~1%)
        t_x, age = np.round(t_x * 2) / 2, np.round(age * 2) / 2
        rows, weights = np.unique(
            np.column_stack([x[keep], t_x[keep], np.maximum(age, t_x)[keep]]),
            axis=0,
            return_counts=True,
        )
        data = (rows[:, 0], rows[:, 1], rows[:, 2], weights.astype(float))

        def loss(theta):
            value = -_bgnbd_loglik(theta, *data)
            return value if np.isfinite(value) else 1e10

        # L-BFGS-B in bounded log-parameters: a profile, not a reference fit (Nelder-Mead ran
        # 20,000 evaluations on the sample's 300 repeat buyers)
        with np.errstate(all="ignore"):
            result = minimize(loss, np.zeros(4), method="L-BFGS-B", bounds=[(-10.0, 10.0)] * 4)
        theta = result.x
        if not np.all(np.isfinite(theta)) or result.fun >= 1e10:
            return None
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        if abs(a - 1) < 1e-6:  # BG/NBD's expected purchases divide by a - 1
            return None
        return {"r": r, "alpha": alpha, "a": a, "b": b}

    def horizon_ratio(self, X, horizon) -> np.ndarray:
        """Each customer's expected spend over ``horizon`` relative to the training horizon.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.
        horizon : duration
            The forecast horizon (e.g. ``"273D"``).

        Returns
        -------
        ndarray of shape (n_rows,)
            1 at the training horizon; from BG/NBD's time profile of each
            customer (see the module notes), or ``horizon / training horizon``.
        """
        check_is_fitted(self, "boosters_")
        target = to_timedelta(horizon) / pd.Timedelta(days=1)
        matrix = _feature_matrix(self, X, fitting=False)
        linear = np.full(len(matrix), target / self.horizon_days_)
        if self.time_profile_ is None or not np.isfinite(self.horizon_days_):
            return linear
        from cjml.value._btyd import BetaGeoGammaGamma

        history = self._history(matrix)
        if history is None:
            return linear
        x, t_x, age = history
        profile = BetaGeoGammaGamma()
        profile.params_ = dict(self.time_profile_)
        with np.errstate(all="ignore"):
            ahead = profile.expected_purchases(x, t_x, age, target / 7.0)
            trained = profile.expected_purchases(x, t_x, age, self.horizon_days_ / 7.0)
        ratio = np.where(trained > 1e-12, ahead / np.maximum(trained, 1e-12), linear)
        return np.where(np.isfinite(ratio), ratio, linear)

    def _fit_part(self, name, objective, matrix, y, row_cutoffs, categorical, row_customers=None):
        """One part's booster: early-stopped on a later slice, grown again on every row."""
        import lightgbm as lgb

        if objective == "binary" and (y.min() == y.max()):
            self.constants_[name] = float(y[0])
            self._notes.append(
                f"every retained row {'bought' if y[0] else 'bought nothing'}, so "
                f"P(buy) is {y[0]:.0f} for every customer"
            )
            return None
        codes = (y > 0).astype(np.int64)
        fit_rows, held_rows, _ = _time_split(
            len(y),
            row_cutoffs,
            self._horizon(),
            self.validation_fraction,
            codes,
            self.random_state,
            row_customers,
        )
        params = self._params(objective, len(fit_rows), len(y))
        self.min_child_samples_ = min(
            params["min_child_samples"], getattr(self, "min_child_samples_", _LEAF_SIZE)
        )
        self._leaves[name] = (params["min_child_samples"], len(fit_rows))
        names = self._feature_names()

        def dataset(idx, reference=None):
            return lgb.Dataset(
                matrix[idx],
                label=y[idx],
                categorical_feature=categorical or "auto",
                feature_name=names,
                reference=reference,
                params={"verbosity": -1},
                free_raw_data=True,
            )

        if len(held_rows) and self.early_stopping_rounds:
            train_set = dataset(fit_rows)
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[dataset(held_rows, reference=train_set)],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            best = max(int(booster.best_iteration or booster.current_iteration()), 1)
            rounds = int(np.ceil(best * _REFIT_ROUNDS))
            self._inner[name] = (booster, held_rows, best)
        else:
            rounds = min(int(self.n_estimators), 200)
        booster = lgb.train(params, dataset(np.arange(len(y))), num_boost_round=rounds)
        self.best_iterations_[name] = rounds
        self._part_setup = getattr(self, "_part_setup", {})
        self._part_setup[name] = (objective, params)
        return booster

    def _horizon(self) -> pd.Timedelta | None:
        return None if self.horizon is None else to_timedelta(self.horizon)

    def _fit_bootstrap(self, matrix, y, categorical) -> None:
        """The parts grown again, with the rounds chosen, on rows drawn with replacement."""
        import lightgbm as lgb

        self.bootstrap_boosters_: list[dict] = []
        setup = self.__dict__.pop("_part_setup", {})
        if not self.n_bootstrap or not setup:
            return
        rng = np.random.default_rng(self.random_state)
        names = self._feature_names()
        for b in range(int(self.n_bootstrap)):
            draw = rng.integers(0, len(y), size=len(y))
            refits = {}
            for name in self.boosters_:
                _, params = setup[name]
                rows = draw if name != "spend" else draw[y[draw] > 0]
                label = (y[rows] > 0).astype(float) if name == "buy" else y[rows]
                if name == "buy" and label.min() == label.max():
                    continue
                refits[name] = lgb.train(
                    {**params, "seed": int(params["seed"]) + b + 1},
                    lgb.Dataset(
                        matrix[rows],
                        label=label,
                        categorical_feature=categorical or "auto",
                        feature_name=names,
                        params={"verbosity": -1},
                    ),
                    num_boost_round=self.best_iterations_[name],
                )
            self.bootstrap_boosters_.append(refits)

    def _warn_small_data(self, matrix) -> None:
        from cjml.exceptions import SmallDataWarning
        from cjml.io._messages import _user_stacklevel

        notes = list(self._notes)
        parts = {
            "buy": "P(buy) part",
            "spend": "spend-if-buying part (buyers only)",
            "tweedie": "Tweedie part",
        }
        for name, (leaf, rows) in self._leaves.items():
            if self.min_child_samples == "auto" and leaf < _WARN_LEAF_SIZE:
                notes.append(
                    f"the {parts[name]} has only {rows:,} training rows: min_child_samples "
                    f"lowered from {_LEAF_SIZE} to {leaf} so the trees can split"
                )
        probe = matrix[:: max(1, len(matrix) // 2000)]
        if len(probe) > 1 and float(np.ptp(self._value(probe, self.boosters_))) < 1e-9:
            notes.append(
                f"its trees found no split in {self.n_train_rows_:,} retained rows, so it "
                "predicts the same value for every customer; add customers or cutoffs"
            )
        if notes:
            warnings.warn(
                "ValueModel: " + "; ".join(notes) + ".",
                SmallDataWarning,
                stacklevel=_user_stacklevel(),
            )

    # ------------------------------------------------------------------ prediction
    def _value(self, matrix: np.ndarray, boosters: dict) -> np.ndarray:
        """V from one set of boosters (the model's or a resample's)."""
        threads = self._threads(len(matrix))

        def part(name: str) -> np.ndarray:
            if name in boosters:
                return np.asarray(boosters[name].predict(matrix, num_threads=threads), dtype=float)
            if name in self.boosters_:  # a resample that could not refit this part
                return np.asarray(
                    self.boosters_[name].predict(matrix, num_threads=threads), dtype=float
                )
            return np.full(len(matrix), self.constants_.get(name, 0.0))

        if self.method == "tweedie":
            return part("tweedie")
        return part("buy") * part("spend")

    def predict(self, X) -> np.ndarray:
        """Expected spend over the horizon if the customer does not drop off (``V``).

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows,)
            ``value_if_retained``, at least 0.
        """
        check_is_fitted(self, "boosters_")
        matrix = _feature_matrix(self, X, fitting=False)
        return self._calibrated(matrix, self.boosters_)

    def _calibrated(self, matrix: np.ndarray, boosters: dict) -> np.ndarray:
        """V from these boosters through the held-out calibration (``calibration_``)."""
        raw = np.maximum(self._value(matrix, boosters), 0.0)
        return _calibrate(raw, getattr(self, "calibration_", None))

    def _value_cv2(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``V`` and the squared coefficient of variation of the true value around it."""
        check_is_fitted(self, "boosters_")
        matrix = _feature_matrix(self, X, fitting=False)
        value = self._calibrated(matrix, self.boosters_)
        cv2 = np.full(len(value), float(self.dispersion_))
        if len(self.bootstrap_boosters_) > 1:  # the estimate's own noise, from the refits
            floor = max(float(np.mean(value)) * 1e-3, 1e-12)
            logs = np.log(
                np.column_stack(
                    [
                        np.maximum(self._calibrated(matrix, b), floor)
                        for b in self.bootstrap_boosters_
                    ]
                )
            )
            cv2 = cv2 + logs.var(axis=1, ddof=1)
        return value, cv2

    def predict_interval(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``V`` and the interval at ``level`` where the true value if retained should lie.

        The truth is read as gamma distributed around ``V``, with the squared
        coefficient of variation measured on the held-out rows
        (``dispersion_``; see ``_fit_dispersion``), plus, with
        ``n_bootstrap``, the variance of ``log V`` over the refits.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        value : ndarray of shape (n_rows,)
            ``V``, as :meth:`predict`.
        low : ndarray of shape (n_rows,)
            The lower bound, at most ``value``.
        high : ndarray of shape (n_rows,)
            The upper bound, at least ``value``.
        """
        value, cv2 = self._value_cv2(X)
        low, high = _gamma_interval(value, cv2, float(self.level))
        return value, low, high

    def predict_value(self, X, churn_risk, *, horizon=None) -> pd.DataFrame:
        """Value if retained, expected value with its interval, and value at risk.

        The interval of the expected value joins two uncertainties: the value
        if retained (:meth:`predict_interval`'s spread) and the chance of
        staying, read as Beta distributed around ``1 - churn_risk`` with
        ``risk_concentration`` pseudo-customers (its relative variance
        ``risk / ((1 - risk) (concentration + 1))`` is what lets the interval
        of an almost certainly lapsed customer reach down to nearly 0).

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.
        churn_risk : array-like of shape (n_rows,)
            The churn model's risk for these rows (P(no event in the horizon)).
        horizon : duration, optional
            Forecast another horizon than the training one: every value is
            multiplied by :meth:`horizon_ratio` (the churn risk stays the
            training horizon's, so the identity below holds).

        Returns
        -------
        DataFrame
            Index ``X.index`` (a range for arrays); columns
            ``value_if_retained`` (V), ``expected_value`` ((1 - risk) V),
            ``expected_value_low``, ``expected_value_high`` (its interval at
            ``level``) and ``value_at_risk`` (risk V), so that
            ``expected_value + value_at_risk == value_if_retained``.
        """
        value, cv2 = self._value_cv2(X)
        risk = np.asarray(churn_risk, dtype=float).reshape(-1)
        if len(risk) != len(value):
            raise ValueError(
                f"churn_risk must give one value per row of X ({len(value)}), got {len(risk)}."
            )
        if not np.all((risk >= 0) & (risk <= 1)):
            raise ValueError("churn_risk must be probabilities between 0 and 1.")
        if horizon is not None:
            value = value * self.horizon_ratio(X, horizon)
        stay = 1.0 - risk
        with np.errstate(divide="ignore", invalid="ignore"):
            stay_cv2 = np.where(
                stay > 0, risk / (np.maximum(stay, 1e-12) * (self.risk_concentration + 1.0)), 0.0
            )
        expected = stay * value
        low, high = _gamma_interval(
            expected, (1.0 + cv2) * (1.0 + stay_cv2) - 1.0, float(self.level)
        )
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(value))
        return pd.DataFrame(
            {
                "value_if_retained": value,
                "expected_value": expected,
                "expected_value_low": low,
                "expected_value_high": high,
                "value_at_risk": risk * value,
            },
            index=index,
        )


# ---------------------------------------------------------------------- the report's section
def value_baselines(log, cutoff, customer_ids, horizon, margin=None) -> dict[str, np.ndarray]:
    """The baselines' expected spend over the horizon, for the report (BG/NBD and others).

    Parameters
    ----------
    log : EventLog
        The events (only those up to ``cutoff`` are used).
    cutoff : Timestamp
        The calibration end.
    customer_ids : array-like
        The customers to predict, in the report's row order.
    horizon : Timedelta
        The forecast window.
    margin : float, str or None, default None
        The value model's margin: a rate scales the baselines' revenue; with a
        margin column there is no comparable baseline.

    Returns
    -------
    dict of str to ndarray
        One prediction per customer by baseline name; empty when the
        baselines are unavailable.
    """
    if isinstance(margin, str):
        return {}
    btyd_predictions = _optional("cjml.value._btyd", "btyd_predictions")
    if btyd_predictions is None:
        return {}
    predictions = btyd_predictions(log, cutoff, customer_ids, horizon)
    rate = 1.0 if margin is None else float(margin)
    return {name: np.asarray(p, dtype=float) * rate for name, p in predictions.items()}


def value_section(actual, predictions: dict, baselines=None, info=None) -> dict:
    """The evaluation report's value section: the model beside its baselines.

    Parameters
    ----------
    actual : array-like
        Realised spend over the horizon per row.
    predictions : dict of str to ndarray
        The model's expected spend (``(1 - risk) * V``) per row, as ``{"model": ...}``.
    baselines : dict of str to ndarray, optional
        The baselines' expected spend on the same rows.
    info : dict, optional
        Plain facts shown beside the metrics (cutoff, horizon, folds).

    Returns
    -------
    dict
        Plain values (:func:`cjml.value.value_report`), or, without it, the
        totals and the row count.
    """
    actual = np.asarray(actual, dtype=float)
    every = {**predictions, **(baselines or {})}
    value_report = _optional("cjml.value._metrics", "value_report")
    if value_report is None:
        return {
            "n": int(len(actual)),
            "actual_total": float(actual.sum()),
            "predicted_total": {k: float(np.sum(v)) for k, v in every.items()},
        }
    return value_report(actual, every, info=info)


def _optional(module: str, name: str):
    """``module.name``, or None when the module or the name is not there."""
    from importlib import import_module

    try:
        return getattr(import_module(module), name, None)
    except ImportError:
        return None
