"""Churn and next-stage models (LightGBM), and the baselines they must beat.

Both models are scikit-learn classifiers over the featurizer's columns
(``fit``, ``predict``, ``predict_proba``, ``classes_``, ``get_params``).
What they add to a bare LightGBM:

- **Early stopping on a later time slice.** Given the cutoff of every training
  row (``fit(X, y, cutoffs=...)``, as :func:`cjml.make_training_set` provides),
  the rows of the latest cutoff are held out; trees are added while they
  improve the loss on that slice. Training rows whose label window reaches
  into the held-out cutoff's window are left out of the inner fit
  (``horizon``), so the slice's outcomes are never seen while training.
  When no earlier row ends its label window by the latest cutoff (a horizon
  longer than the cutoffs span), the slice is the latest cutoff of a random
  ``validation_fraction`` of the customers (``fit(..., customer_ids=...)``),
  fitted on the other customers' rows.
  Without cutoffs, a stratified random ``validation_fraction`` is used.
- **Calibration on the held-out slice**, never on training rows, chosen there
  by cross-validation (churn: a regularised Platt scaling of the log-odds whose
  slope cannot turn negative, the raw scores, or isotonic regression, with the
  training base rate as the fallback, or, when the trees rank the slice better
  than chance beyond noise, their order shrunk toward the base rate; next
  stage: temperature scaling, with the training class shares as the fallback),
  so a model never predicts worse than the base rate on that slice beyond noise
  and never inverts its ranking.
- **A linear start for the churn trees, on request** (``ChurnModel(start="rfm")``
  or ``"auto"``; the default is ``"zero"``). The trees can start from an L2
  logistic regression on recency, frequency and amount (``log1p``,
  :class:`RFMBaseline`'s columns), whose log-odds become every row's initial
  score so the trees only correct it; "auto" grows both and keeps the start
  when its held-out log loss is lower beyond one standard error. On small
  purchase logs this narrows the gap to the RFM logistic; on simulated
  journeys the held-out slice preferred the start where a later cutoff did
  not (see ``_START_Z``), so it is not the default. Predictions and
  explanations include the start (its exact terms land on its columns).
- **Small data.** The leaf size adapts to the rows (``min_child_samples="auto"``)
  and a :class:`~cjml.exceptions.SmallDataWarning` says what was adapted, or that
  a model predicts only its base rate.
- **Refit.** With ``refit=True`` (default below 500,000 rows) the trees are grown again on all
  rows, held-out slice included, with 1.1 times the rounds early stopping
  chose, so the newest period is not wasted; the calibration learned on the
  slice is applied to the refitted trees.
- **Class imbalance.** ``class_weight="auto"`` weighs classes inversely to
  their frequency only when the rarest class is under ``imbalance_threshold``
  of the rows; calibration then restores honest probabilities.

The baselines (:class:`PriorBaseline`, :class:`MarkovBaseline`,
:class:`RFMBaseline`) read the same feature table, so they are always scored on
the same rows as the models.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    column_or_1d,
)

from cjml._durations import utc_datetimes

if TYPE_CHECKING:
    from sklearn.isotonic import IsotonicRegression

__all__ = [
    "ChurnModel",
    "MarkovBaseline",
    "NextStageModel",
    "PriorBaseline",
    "RFMBaseline",
]

_EPS = 1e-6
#: From this many rows on, "auto" settings favour speed: a learning rate of 0.1
#: instead of 0.03 and no refit (the held-out slice is then a small share).
_LARGE_ROWS = 500_000
#: The conditional next-stage model's "auto" learning rate from ``_LARGE_ROWS``
#: rows: at 0.1 its trees need ~250 rounds where 0.25 needs ~30 and ends lower
#: (held-out log loss 0.2765 vs 0.2756 after 250 rounds, on 1M simulated rows).
_CONDITIONAL_LARGE_RATE = 0.25
#: Refit rounds, relative to the rounds early stopping chose.
_REFIT_ROUNDS = 1.1
#: Below this many rows LightGBM runs on one thread (see ``_default_threads``).
_THREADS_FROM_ROWS = 50_000
_IDLE_ENOUGH = 0.25  # of a core: what the others may use of a core we still take
#: The "auto" leaf size (``min_child_samples``): this many rows, lowered on small data
#: to a ``_ROWS_PER_LEAF``-th of the inner fit's rows (at least ``_MIN_LEAF_SIZE``), so
#: the trees can split at all: 100 rows per leaf cannot split 120 rows. Small trees
#: (``num_leaves=7``) with large leaves were chosen on the development worlds of the
#: scenario suite and CDNOW (issue 17): against 31 leaves x 100 rows, the churn ROC AUC
#: gap to the oracle on the active customers shrank by 0.001-0.008 on all five worlds,
#: next-stage log loss by 0.3-1.3 points of the oracle's, CDNOW's AUC rose 0.7692 -> 0.7717.
_LEAF_SIZE = 200
_ROWS_PER_LEAF = 20
#: A ``SmallDataWarning`` is given when the "auto" leaf size falls below this (under 1,000
#: inner-fit rows), not for every lowering: cross-validating 3,000 customers gave a dozen.
_WARN_LEAF_SIZE = 50
_MIN_LEAF_SIZE = 5
#: "auto" calibration (see ``_choose_calibration``): the prior standard deviation of the
#: Platt slope around 1 (no change), which keeps a few held-out rows from stretching the
#: scores (slopes of 81 were seen on 59 rows); folds and held-out rows of the choice;
#: held-out rows from which isotonic regression is a candidate.
_SLOPE_PRIOR_SD = 0.5
_CHOICE_FOLDS = 5
_CHOICE_MAX_ROWS = 20_000
_ISOTONIC_FROM_ROWS = 1000
#: A churn model whose probabilities do not beat the base rate beyond noise keeps its order
#: (a sigmoid shrunk toward the base rate) when the one-sided lower bound of its held-out
#: ROC AUC, this many standard errors below it, is above 0.5: a Brier gain is a weak test
#: of a modest ranking (on 508 rows of a 600-user clickstream an AUC of 0.69 gained 0.0005).
_RANKING_Z = 1.645


def _check_n_jobs(n_jobs, name: str = "n_jobs") -> int | None:
    """``n_jobs`` as an int, or None (cjml's default); a clear error for anything else.

    Parameters
    ----------
    n_jobs : int or None
        Threads asked for.
    name : str, default "n_jobs"
        How the caller calls it, for the message (e.g. "--jobs").

    Returns
    -------
    int or None
        The number of threads, or None.
    """
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs < 1:
        raise ValueError(
            f"{name} must be a whole number of threads, at least 1, or None for "
            f"cjml's default (one thread, more only on many rows and idle cores); "
            f"got {n_jobs!r}. For every core pass os.cpu_count()."
        )
    return int(n_jobs)


def _default_threads(n_rows: int) -> int:
    """LightGBM's threads when the caller did not choose: one unless rows are many and cores idle.

    Below 50,000 rows threads cost more than they give. On a busy machine a
    thread per core is much slower than one thread: LightGBM's OpenMP threads
    meet at every split, so one thread the system deschedules stalls the others
    (the next-stage model took 42.6 s on both cores of a loaded 2-core machine
    and 2.5 s on one; ``python benchmarks/models.py --load 2``). So from 50,000
    rows only the cores idle now are taken: the cores this process may run on,
    less those the others keep busy (:func:`_machine_load`), rounded down, at
    least one; a core the others use under a quarter of the time counts as
    idle (the system's own daemons). A load that starts during the fit is not
    seen; pass ``n_jobs`` to decide.

    Parameters
    ----------
    n_rows : int
        Rows to fit or predict.

    Returns
    -------
    int
        Threads, at least 1.
    """
    if n_rows < _THREADS_FROM_ROWS:
        return 1
    cores, others = _machine_load()
    if others is None:  # the load cannot be read: one thread is never the slow choice
        return 1
    return int(max(1, min(cores, np.floor(cores - others + _IDLE_ENOUGH))))


class _CpuWindow:
    """The cores the other processes kept busy lately: machine CPU time less this process's.

    The kernel's load average cannot tell this process's threads from the
    others', nor a load that has just ended: after a minute of this (or the
    previous) cjml run on one core it reads 1 on an idle machine, and taking
    that as the others' load kept a 10M-event recommendation on one thread.
    Busy CPU time from ``/proc/stat`` (user, nice, system, interrupts, and
    steal: the hypervisor's other guests) less this process's own CPU time,
    over the time since the previous reading (the first is taken at import),
    is what the others used, in cores. A window shorter than ``MIN_WINDOW``
    gives the previous figure: too few clock ticks to count.
    """

    MIN_WINDOW = 0.5  # seconds

    def __init__(self) -> None:
        self.time: float | None = None
        self.busy = 0.0
        self.own = 0.0
        self.others: float | None = None

    def update(self, now: float, busy: float, own: float) -> float | None:
        """Take a reading (monotonic, machine busy and process CPU seconds); the others' cores."""
        if self.time is None:
            self.time, self.busy, self.own = now, busy, own
            return self.others
        elapsed = now - self.time
        if own < self.own:  # a forked child: its CPU time starts afresh, so must the window
            self.time, self.busy, self.own, self.others = now, busy, own, None
            return None
        if elapsed < self.MIN_WINDOW:
            return self.others
        others = (busy - self.busy) - (own - self.own)
        self.others = max(others / elapsed, 0.0)
        self.time, self.busy, self.own = now, busy, own
        return self.others

    def read(self) -> float | None:
        """Update with this instant's readings; None where ``/proc/stat`` cannot be read.

        The first figure needs a window: asked for sooner than ``MIN_WINDOW``
        after the first reading (or a fork), it waits out the rest (once per
        process, and only for work of 50,000 rows or more).
        """
        import time

        def reading() -> tuple[float, float, float] | None:
            try:
                # "cpu user nice system idle iowait irq softirq steal ...", in clock ticks
                with open("/proc/stat") as handle:
                    ticks = [float(v) for v in handle.readline().split()[1:9]]
                per_second = float(os.sysconf("SC_CLK_TCK"))
            except (OSError, ValueError, AttributeError):
                return None
            times = os.times()
            busy = (sum(ticks[:3]) + sum(ticks[5:8])) / per_second
            return time.monotonic(), busy, times.user + times.system

        now = reading()
        if now is None:
            return None
        first = self.time is None  # the import's reading: the reference, no wait
        others = self.update(*now)
        since = self.time
        if others is None and not first and since is not None:  # a reference, no figure yet
            time.sleep(max(self.MIN_WINDOW - (now[0] - since), 0.0) + 0.01)
            later = reading()
            others = self.update(*later) if later is not None else None
        return others


_CPU_WINDOW = _CpuWindow()
_CPU_WINDOW.read()  # the first reading: the window counts from the import on


def _own_running() -> int:
    """This process's threads running now (state R in ``/proc/self/task``), at least 1."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    running = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat") as handle:
                # "PID (COMM) STATE ...": the name may hold spaces, the state follows its ")"
                running += handle.read().rpartition(")")[2].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return max(running, 1)


def _machine_load() -> tuple[int, float | None]:
    """The cores this process may use, and how many of them the others keep busy.

    The others' load is the larger of what they used since the previous
    reading (:class:`_CpuWindow`; on systems without ``/proc/stat``, the
    1-minute load average less one for this thread) and the tasks runnable
    this instant (``/proc/loadavg``: a load that just started) less this
    process's running threads; None when unreadable.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    lately = _CPU_WINDOW.read()
    if lately is None:
        try:
            lately = max(os.getloadavg()[0] - 1.0, 0.0)
        except (AttributeError, OSError):
            return cores, None
    now = 0.0
    try:
        with open("/proc/loadavg") as handle:  # "1.0 0.9 0.8 RUNNING/TOTAL LAST_PID"
            now = float(handle.read().split()[3].split("/")[0]) - _own_running()
    except (OSError, IndexError, ValueError):
        pass
    return cores, max(lately, now, 0.0)


@contextlib.contextmanager
def _threads_of(n_jobs, *objects):
    """Within the block, ``n_jobs`` is the ``n_jobs`` of each object that has one.

    For a call's own ``n_jobs=`` (``cjml.evaluate``, the recommender) on a
    fitted bundle's featurizer and models; their own values come back after.
    Nothing changes when ``n_jobs`` is None.
    """
    n_jobs = _check_n_jobs(n_jobs)
    unique = {id(obj): obj for obj in objects if obj is not None and hasattr(obj, "n_jobs")}
    touched = [] if n_jobs is None else [(obj, obj.n_jobs) for obj in unique.values()]
    for obj, _ in touched:
        obj.n_jobs = n_jobs
    try:
        yield
    finally:
        for obj, before in touched:
            obj.n_jobs = before


def _with_threads(bundle, n_jobs):
    """A shallow copy of a model bundle whose featurizer and models use ``n_jobs`` threads.

    The bundle itself is left as it was (its objects are copied, their fitted
    arrays and trees shared); returned unchanged when ``n_jobs`` is None.
    """
    import copy
    import dataclasses

    n_jobs = _check_n_jobs(n_jobs)
    if n_jobs is None:
        return bundle
    copies = {}

    def threaded(obj):
        if obj is None or not hasattr(obj, "n_jobs"):
            return obj
        if id(obj) not in copies:
            copies[id(obj)] = copy.copy(obj)
            copies[id(obj)].n_jobs = n_jobs
        return copies[id(obj)]

    models = {name: threaded(model) for name, model in bundle.models.items()}
    for model in copies.values():  # a model that holds another (P(dropped), the risk) follows
        for attr in ("churn_model_", "risk_model"):
            if getattr(model, attr, None) is not None and id(getattr(model, attr)) in copies:
                setattr(model, attr, copies[id(getattr(model, attr))])
    return dataclasses.replace(bundle, featurizer=threaded(bundle.featurizer), models=models)


def _cache_folder():
    """cjml's cache folder: ``$CJML_CACHE``, or ``$XDG_CACHE_HOME/cjml`` (``~/.cache/cjml``)."""
    from pathlib import Path

    if os.environ.get("CJML_CACHE"):
        return Path(os.environ["CJML_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cjml"


# --------------------------------------------------------------------------- input handling
def _feature_matrix(estimator, X, *, fitting: bool) -> np.ndarray:
    """Numeric float32 matrix in the order the estimator was fitted with.

    DataFrames are matched by column name (extra columns are ignored, missing
    ones refused by name); arrays by position. Always float32, the precision
    the trees were grown on: a float64 value a hair from a split threshold
    would otherwise fall on the other side of it (measured: 0.1% of rows).
    Prediction does not search for infinite values (LightGBM sends them to
    the far side of every split); :meth:`_LightGBMClassifier.feature_matrix`
    converts once for several models.
    """
    dtype = np.float32
    if isinstance(X, pd.DataFrame):
        if fitting:
            bad = [
                c
                for c in X.columns
                if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
            ]
            if bad:
                raise ValueError(
                    f"Feature columns must be numeric; {bad[:5]!r} are not. Pass only the "
                    "featurizer's columns (featurizer.feature_names_out_), not customer_id, "
                    "cutoff or the labels."
                )
        if not fitting and hasattr(estimator, "feature_names_in_"):
            missing = [c for c in estimator.feature_names_in_ if c not in X.columns]
            if missing:
                raise ValueError(
                    f"X lacks {len(missing)} feature column(s) the model was trained on, e.g. "
                    f"{missing[:5]!r}. Build the features with the featurizer the model was "
                    "trained with (bundle.featurizer)."
                )
            if not np.array_equal(X.columns.to_numpy(dtype=object), estimator.feature_names_in_):
                X = X[list(estimator.feature_names_in_)]
        names = np.asarray(X.columns, dtype=object)
        # LightGBM reads the column-major result as it is (a row-major copy would
        # cost more than the prediction). ``na_value`` only matters for nullable
        # extension dtypes (pd.NA) and costs a full masked pass.
        plain = all(isinstance(t, np.dtype) for t in X.dtypes)
        X = X.to_numpy(dtype=dtype) if plain else X.to_numpy(dtype=dtype, na_value=np.nan)
    else:
        names = None
    array = check_array(
        X,
        accept_sparse=False,
        dtype=dtype,
        ensure_all_finite="allow-nan" if fitting else False,
        input_name="X",
    )
    if fitting:
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        estimator.n_features_in_ = array.shape[1]
    elif array.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {array.shape[1]} features, but {type(estimator).__name__} "
            f"is expecting {estimator.n_features_in_} features as input."
        )
    return array


def _unique_labels(y) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True)``, by hashing: on 1.3M stage names the sort of
    ``np.unique`` took about 2 s, a hash and a sort of the few classes take 0.1 s."""
    codes, classes = pd.factorize(np.asarray(y), sort=True)
    return np.asarray(classes), codes.astype(np.intp, copy=False)


def _labels(y, n_rows: int) -> np.ndarray:
    if y is None:
        raise ValueError("This estimator requires y to be passed, but the target y is None.")
    y = column_or_1d(y, warn=True)
    # sklearn's check sorts every label of an object array; its verdict (continuous,
    # multi-output, ...) is the same on the distinct labels
    check_classification_targets(pd.unique(y) if y.dtype == object else y)
    if len(y) != n_rows:
        raise ValueError(f"y must be one label per row of X ({n_rows}), got {len(y)}.")
    return y


def _time_split(
    n_rows: int,
    cutoffs,
    horizon,
    validation_fraction: float,
    y_codes,
    random_state,
    customer_ids=None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Row positions for the inner fit and for the later held-out slice.

    The held-out slice is the latest cutoff's rows, fitted on the rows whose label
    windows end by it. When none do (a horizon longer than the cutoffs span, e.g.
    182 days over 20 weekly cutoffs) and ``customer_ids`` are given, it is the
    latest cutoff's rows of a random ``validation_fraction`` of the customers,
    fitted on the other customers' earlier rows: a random share of the rows would
    put each customer's neighbouring cutoffs, nearly the same row, on both sides,
    so early stopping would never stop (on CDNOW with a 182-day horizon: 2,198
    rounds, held-out ROC AUC 0.689; by customers: 311 rounds, 0.716).
    """
    rows = np.arange(n_rows)
    if cutoffs is not None:
        cut = utc_datetimes(cutoffs).astype(np.int64)
        if len(cut) != n_rows:
            raise ValueError(f"cutoffs must give one date per row of X ({n_rows}), got {len(cut)}.")
        distinct = np.unique(cut)
        if len(distinct) >= 2:
            last = distinct[-1]
            when = f"the latest cutoff ({pd.Timestamp(last, tz='UTC')})"
            fit_mask = cut < last
            if horizon is not None:
                # Leave out rows whose label window overlaps the held-out one.
                fit_mask &= cut + pd.Timedelta(horizon).value <= last
            if fit_mask.any():
                return rows[fit_mask], rows[cut == last], when
            if customer_ids is not None and validation_fraction > 0:
                split = _customer_split(
                    cut, last, customer_ids, validation_fraction, random_state, n_rows
                )
                if split is not None:
                    return (
                        *split,
                        f"{when}, a random {validation_fraction:.0%} of the customers",
                    )
            elif validation_fraction > 0 and n_rows >= 40:
                from cjml.io._messages import _user_stacklevel

                warnings.warn(
                    f"No earlier cutoff ends its label window by the latest one "
                    f"({pd.Timestamp(last, tz='UTC').date()}), so early stopping holds out a "
                    f"random {validation_fraction:.0%} of the rows, and a customer's rows at "
                    "neighbouring cutoffs fall on both sides. Pass customer_ids= (the "
                    "customer_id column of make_training_set) to hold out customers instead.",
                    UserWarning,
                    stacklevel=_user_stacklevel(),
                )
    if validation_fraction <= 0 or n_rows < 40:
        return rows, rows[:0], "none"
    rng = np.random.default_rng(random_state)
    hold = np.zeros(n_rows, dtype=bool)
    for code in np.unique(y_codes):  # stratified, so every class is in both parts
        members = rows[y_codes == code]
        k = int(round(len(members) * validation_fraction))
        hold[rng.choice(members, size=min(k, len(members) - 1), replace=False)] = True
    return rows[~hold], rows[hold], f"a random {validation_fraction:.0%} of rows"


def _customer_split(
    cut: np.ndarray, last, customer_ids, validation_fraction: float, random_state, n_rows: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The latest cutoff's rows of a random share of its customers, and the other
    customers' earlier rows; None when either side would be empty."""
    ids = pd.Index(np.asarray(customer_ids))
    if len(ids) != n_rows:
        raise ValueError(f"customer_ids must give one id per row of X ({n_rows}), got {len(ids)}.")
    at_last = cut == last
    latest_ids = ids[at_last].unique()
    n_held = int(round(len(latest_ids) * validation_fraction))
    if n_held < 1 or n_held >= len(latest_ids):
        return None
    rng = np.random.default_rng(random_state)
    held = ids.isin(latest_ids[rng.choice(len(latest_ids), size=n_held, replace=False)])
    fit_rows = np.flatnonzero(~at_last & ~held)
    held_rows = np.flatnonzero(at_last & held)
    if not len(fit_rows):
        return None
    return fit_rows, held_rows


# --------------------------------------------------------------------------- linear start
#: Recency, frequency and monetary columns of the default featurizer: what
#: :class:`RFMBaseline` reads, and what a churn model's trees may start from.
_RFM_COLUMNS = ("days_since_last_event", "events_last_90d", "n_events", "total_amount")
#: ``start="auto"`` keeps the RFM start only when its held-out log loss is lower by more
#: than this many standard errors of the paired difference (the rule of the calibration
#: choice). Measured on the development worlds with "auto" as the default: with any lower
#: loss (0) the start won on 5 of 18 world-seeds and lost on the later test cutoff every
#: time (Brier +0.1% to +1.1%); with 1 it won on none, and on 2 of 15 held-out world-seeds
#: (worse there too), and on the bundled sample (3,000 customers) it won and the test
#: cutoff's Brier rose 4.5%. On random samples of CDNOW's customers it helped. So the
#: default start is "zero": on time-split journeys the early-stopping slice is not a
#: trustworthy judge of the start.
_START_Z = 1.0


def _rfm_design(matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``log1p`` of the RFM columns (missing as 0), then an indicator of each missing.

    An infinite value (which prediction accepts) counts as missing, so the log-odds
    stay finite.
    """
    values = np.asarray(matrix[:, columns], dtype=float)
    absent = ~np.isfinite(values)
    values = np.log1p(np.clip(np.where(absent, 0.0, values), 0, None))
    return np.hstack([values, absent.astype(float)])


def _fit_linear_start(matrix: np.ndarray, columns, codes: np.ndarray, weights) -> dict:
    """An L2 logistic regression of ``codes`` on the RFM design, as plain arrays.

    Stored as arrays (not a fitted scikit-learn object) so that a bundle keeps
    numbers only and the terms of each column can be added to explanations.
    """
    from sklearn.linear_model import LogisticRegression

    columns = np.asarray(columns, dtype=np.int64)
    design = _rfm_design(matrix, columns)
    mean = design.mean(axis=0)
    scale = design.std(axis=0)
    scale[scale == 0] = 1.0  # a constant column (no missing values) adds nothing
    model = LogisticRegression(C=1.0, max_iter=500)
    model.fit((design - mean) / scale, codes, sample_weight=weights)
    return {
        "columns": columns,
        "mean": mean,
        "scale": scale,
        "coef": model.coef_[0].astype(float),
        "intercept": float(model.intercept_[0]),
    }


def _linear_terms(start: dict, matrix: np.ndarray) -> np.ndarray:
    """Each design column's term of the linear start's log-odds, (n_rows, 2 * n_columns)."""
    design = _rfm_design(matrix, start["columns"])
    return (design - start["mean"]) / start["scale"] * start["coef"]


def _linear_logit(start: dict, matrix: np.ndarray) -> np.ndarray:
    """The linear start's log-odds of each row."""
    return _linear_terms(start, matrix).sum(axis=1) + start["intercept"]


def _linear_contributions(start: dict, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """The linear start's terms by feature column (a column's value and missing
    indicator together), shape (n_rows, n_features), and its intercept."""
    terms = _linear_terms(start, matrix)
    k = len(start["columns"])
    out = np.zeros((len(matrix), matrix.shape[1]))
    out[:, start["columns"]] = terms[:, :k] + terms[:, k:]  # distinct columns
    return out, start["intercept"]


# --------------------------------------------------------------------------- calibration
def _with_calibration(name: str) -> str:
    """ "with sigmoid calibration", or "without calibration" for the trees' own scores."""
    return "without calibration" if name == "none" else f"with {name} calibration"


def _platt(raw: np.ndarray, y: np.ndarray, *, prior_slope: float = 1.0) -> tuple[float, float]:
    """Platt scaling ``logit p = a * raw + b`` with ``a >= 0``, ``a`` shrunk toward 1.

    The maximum a posteriori fit under a normal prior of standard deviation
    ``_SLOPE_PRIOR_SD`` on the slope around ``prior_slope`` (1: the trees' own
    scores) and a flat one on the intercept: on a few rows the slope stays near
    1 instead of stretching small differences (or turning negative, which
    would invert the ranking); on many the data decide. With ``prior_slope=0``
    the slope must earn its size from the rows: the risks stay near the base
    rate in the trees' order (the "shrunk" calibration).
    """
    from scipy.optimize import minimize

    raw = np.asarray(raw, dtype=float)
    y = np.asarray(y, dtype=float)
    precision = 1.0 / _SLOPE_PRIOR_SD**2

    def objective(theta):
        a, b = theta
        z = a * raw + b
        residual = expit(z) - y
        gap = a - prior_slope
        loss = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * precision * gap**2
        return loss, np.array([residual @ raw + precision * gap, residual.sum()])

    rate = np.clip(y.mean(), _EPS, 1 - _EPS)
    start = np.array([prior_slope, np.log(rate / (1 - rate)) - prior_slope * raw.mean()])
    result = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None), (-50.0, 50.0)]
    )
    return float(result.x[0]), float(result.x[1])


def _isotonic(raw: np.ndarray, y: np.ndarray):
    """Isotonic regression of the outcome on the score (non-decreasing: never inverts)."""
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip").fit(raw, y)


def _choice_rows(n_rows: int, random_state) -> np.ndarray:
    """The held-out rows a calibration is chosen on: all, or a random ``_CHOICE_MAX_ROWS``."""
    if n_rows <= _CHOICE_MAX_ROWS:
        return np.arange(n_rows)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_rows, size=_CHOICE_MAX_ROWS, replace=False))


def _out_of_fold(candidates: dict, codes: np.ndarray, random_state) -> dict[str, np.ndarray]:
    """Each candidate's loss on every row, fitted on the other folds.

    ``candidates`` maps a name to ``f(fit_rows, eval_rows) -> loss of each eval row``.
    Folds are stratified by class (a class of m rows lies in m folds, so a
    fit without it needs m = 1); on fewer than 2,000 rows the folds are drawn
    several times and the losses averaged, so the choice rests on more than
    one random split.
    """
    n = len(codes)
    counts = np.bincount(codes) if n else np.zeros(1, dtype=np.int64)
    n_folds = int(min(_CHOICE_FOLDS, n // 2))
    repeats = 1 if n >= 2000 else int(min(10, np.ceil(2000 / max(n, 1))))
    seed = 0 if random_state is None else int(random_state)
    losses = {name: np.zeros(n) for name in candidates}
    for repeat in range(repeats if n_folds >= 2 else 1):
        if n_folds < 2:
            folds = [(np.arange(n), np.arange(n))]
        else:
            rng = np.random.default_rng(seed + repeat)
            fold = np.empty(n, dtype=np.int64)
            for code in np.flatnonzero(counts):
                members = rng.permutation(np.flatnonzero(codes == code))
                fold[members] = (np.arange(len(members)) + rng.integers(n_folds)) % n_folds
            folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_folds)]
        for fit_rows, eval_rows in folds:
            if not len(fit_rows) or not len(eval_rows):  # (a fold a handful of rows missed)
                continue
            for name, loss in candidates.items():
                losses[name][eval_rows] += loss(fit_rows, eval_rows)
    used = repeats if n_folds >= 2 else 1
    return {name: value / used for name, value in losses.items()}


def _auc_lower_bound(score: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The ROC AUC of ``score`` for the 0/1 ``y`` and its one-sided lower bound.

    The bound is ``_RANKING_Z`` standard errors below (Hanley and McNeil, 1982);
    NaN for both without rows of each class.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=float)
    pos = float(y.sum())
    neg = float(len(y) - pos)
    if pos < 1 or neg < 1:
        return float("nan"), float("nan")
    auc = float(roc_auc_score(y, score))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (pos - 1) * (q1 - auc**2) + (neg - 1) * (q2 - auc**2)) / (pos * neg)
    return auc, auc - _RANKING_Z * float(np.sqrt(max(var, 0.0)))


def _gain(losses: dict[str, np.ndarray], a: str, b: str) -> float:
    """How far a's mean loss is below b's, less one standard error (positive: better)."""
    d = losses[b] - losses[a]
    if len(d) < 4:  # no folds to fit on: no evidence against the fallback
        return -np.inf
    return float(d.mean() - d.std(ddof=1) / np.sqrt(len(d)))


def _choose_calibration(losses: dict[str, np.ndarray], default: str, fallback: str) -> str:
    """The calibration to keep, from each candidate's out-of-fold loss per row.

    ``default`` is kept unless another candidate's loss is lower by more than
    one standard error of the paired difference; the result gives way to
    ``fallback`` (the base rate, the class priors) unless it beats it by more
    than one standard error. On a few rows that prefers the simple answer.
    """

    def gain(a: str, b: str) -> float:
        return _gain(losses, a, b)

    chosen, best = default, 0.0
    for name in losses:
        if name not in (default, fallback) and default in losses and gain(name, default) > best:
            chosen, best = name, gain(name, default)
    if chosen not in losses or gain(chosen, fallback) <= 0:
        chosen = fallback
    return chosen


# --------------------------------------------------------------------------- LightGBM models
class _LightGBMClassifier(ClassifierMixin, BaseEstimator):
    """Shared machinery of the two LightGBM models (see the module docstring)."""

    _objective = "binary"

    def __init__(
        self,
        *,
        n_estimators=2000,
        learning_rate="auto",
        num_leaves=7,
        min_child_samples="auto",
        colsample_bytree=0.8,
        subsample=0.8,
        reg_lambda=1.0,
        max_bin=255,
        early_stopping_rounds=50,
        validation_fraction=0.2,
        horizon=None,
        calibration="auto",
        refit="auto",
        class_weight="auto",
        imbalance_threshold=0.1,
        categorical_features=None,
        n_jobs=None,
        random_state=0,
        lgbm_params=None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.horizon = horizon
        self.calibration = calibration
        self.refit = refit
        self.class_weight = class_weight
        self.imbalance_threshold = imbalance_threshold
        self.categorical_features = categorical_features
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.lgbm_params = lgbm_params

    #: Rows that set the "auto" regime when the trees see fewer (NextStageModel).
    _regime_rows: int | None = None

    # -- parameters
    def _booster_params(self, n_classes: int, n_rows: int) -> dict:
        params = {
            "objective": "binary" if n_classes <= 2 else "multiclass",
            "learning_rate": (
                self.learning_rate
                if self.learning_rate != "auto"
                else 0.03
                if n_rows < _LARGE_ROWS
                else 0.1
            ),
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples_,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "lambda_l2": self.reg_lambda,
            "max_bin": self.max_bin,
            "num_threads": self._threads(n_rows),
            "seed": 0 if self.random_state is None else int(self.random_state),
            "deterministic": True,
            "verbosity": -1,
        }
        if n_classes > 2:
            params["num_class"] = n_classes
        params.update(self.lgbm_params or {})
        return params

    def _threads(self, n_rows: int) -> int:
        n_jobs = _check_n_jobs(self.n_jobs)
        return _default_threads(n_rows) if n_jobs is None else n_jobs

    def _categorical_indices(self) -> list[int]:
        if not self.categorical_features:
            return []
        names = list(getattr(self, "feature_names_in_", []))
        out = []
        for c in self.categorical_features:
            if isinstance(c, int | np.integer):
                out.append(int(c))
            elif c in names:
                out.append(names.index(c))
            else:
                raise ValueError(f"categorical feature {c!r} is not a column of X.")
        return out

    def _weights(self, codes: np.ndarray, n_classes: int, sample_weight) -> np.ndarray | None:
        weight = None
        if sample_weight is not None:
            weight = _check_sample_weight(
                sample_weight, np.empty((len(codes), 0)), ensure_non_negative=True
            )
            if not weight.any():
                raise ValueError("All sample weights are zero; at least one row must count.")
        mode = self.class_weight
        if mode == "auto":
            share = np.bincount(codes, minlength=n_classes) / len(codes)
            mode = "balanced" if share[share > 0].min() < self.imbalance_threshold else None
            self.class_weight_used_ = mode
        else:
            self.class_weight_used_ = mode
        if mode is None:
            return weight
        counts = np.bincount(codes, minlength=n_classes).astype(float)
        if mode == "balanced":
            per_class = len(codes) / (n_classes * np.maximum(counts, 1))
        elif isinstance(mode, dict):
            trained = np.asarray(self.classes_)[
                getattr(self, "observed_classes_", np.arange(len(self.classes_)))
            ]
            per_class = np.array([float(mode.get(c, 1.0)) for c in trained])
        else:
            raise ValueError(
                f"class_weight must be 'auto', 'balanced', None or a dict, got {mode!r}."
            )
        w = per_class[codes]
        return w if weight is None else w * weight

    # -- fitting
    def fit(self, X, y, *, cutoffs=None, sample_weight=None, client=None, customer_ids=None):
        """Fit the trees, early-stopped and calibrated on a later slice.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows (the featurizer's columns only).
        y : array-like of shape (n_rows,)
            Labels.
        cutoffs : array-like of dates, optional
            The cutoff of each row (the ``cutoff`` column of
            :func:`cjml.make_training_set`); the latest cutoff becomes the
            held-out slice for early stopping and calibration.
        sample_weight : array-like of shape (n_rows,), optional
            Row weights.
        client : distributed.Client, optional
            Grow the trees on this dask.distributed cluster (LightGBM's Dask
            estimator, data-parallel over the workers). LightGBM cannot stop
            early on a cluster, so all ``n_estimators`` rounds are grown and the
            round a local early stopping would keep is picked afterwards from
            the held-out loss (:mod:`cjml._dask_lgbm`); everything else
            (split, weights, calibration, refit) is as without it.
        customer_ids : array-like of shape (n_rows,), optional
            The customer of each row (the ``customer_id`` column of
            :func:`cjml.make_training_set`). Used only when no earlier row ends
            its label window by the latest cutoff (a horizon longer than the
            cutoffs span): the held-out slice is then the latest cutoff of a
            random ``validation_fraction`` of the customers, and the inner fit
            the other customers' rows, so no customer is on both sides.

        Returns
        -------
        self
            The fitted estimator.
        """
        import lightgbm as lgb

        matrix = _feature_matrix(self, X, fitting=True)
        y = _labels(y, len(matrix))
        self.classes_, codes = self._encode_classes(y)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0]!r}); a classifier needs "
                "at least two. Use more cutoffs or a longer horizon."
            )
        weights = self._weights(codes, n_classes, sample_weight)
        fit_rows, held_rows, self.validation_ = _time_split(
            len(matrix),
            cutoffs,
            self.horizon,
            self.validation_fraction,
            codes,
            self.random_state,
            customer_ids,
        )
        self.min_child_samples_ = self._leaf_size(len(fit_rows))
        # the "auto" regime (learning rate, refit) follows the rows the caller gave
        regime_rows = self._regime_rows or len(matrix)
        params = self._booster_params(n_classes, regime_rows)
        categorical = self._categorical_indices()

        # Named trees, so explanations and importances speak the featurizer's language.
        feature_names = (
            [str(c) for c in self.feature_names_in_]
            if hasattr(self, "feature_names_in_")
            else "auto"
        )

        def dataset(rows, reference=None, init_score=None):
            return lgb.Dataset(
                matrix[rows],
                label=codes[rows],
                weight=None if weights is None else weights[rows],
                init_score=init_score,
                categorical_feature=categorical or "auto",
                reference=reference,
                feature_name=feature_names,
                params={"max_bin": self.max_bin, "verbosity": -1},
                free_raw_data=True,
            )

        self._reset_start()
        if self.start not in ("auto", "zero", "rfm"):
            raise ValueError(f"start must be 'auto', 'zero' or 'rfm', got {self.start!r}.")
        if client is not None and self.start == "rfm":
            raise ValueError(
                "start='rfm' is not available on a Dask cluster (LightGBM's Dask estimator "
                "takes no initial scores); use start='auto' or 'zero' there."
            )
        if client is not None:
            booster = self._grow_on_cluster(
                client,
                params,
                matrix,
                codes,
                weights,
                fit_rows,
                held_rows,
                categorical,
                feature_names,
            )
        else:
            booster = self._grow(params, dataset, fit_rows, held_rows)
            if self._may_start(regime_rows, fit_rows, held_rows, codes):
                booster = self._grow_from_start(
                    booster, params, dataset, matrix, codes, weights, fit_rows, held_rows
                )
        held_raw = None
        if len(held_rows):
            held_raw = booster.predict(
                matrix[held_rows], num_iteration=self.best_iteration_, raw_score=True
            )
            if self.linear_start_ is not None:
                held_raw = held_raw + _linear_logit(self.linear_start_, matrix[held_rows])
        self._fit_calibration(held_raw, codes[held_rows], codes)
        refit = self.refit if self.refit != "auto" else regime_rows < _LARGE_ROWS
        if refit and len(held_rows):
            # A tenth more rounds for the larger data (measured on the simulator:
            # more overfits); the calibration carries over.
            rounds = int(np.ceil(self.best_iteration_ * _REFIT_ROUNDS))
            if client is not None:
                from cjml._dask_lgbm import train_booster_on_cluster

                booster, _, _ = train_booster_on_cluster(
                    client,
                    params,
                    matrix,
                    codes,
                    weights,
                    num_boost_round=rounds,
                    early_stopping_rounds=None,
                    categorical=categorical,
                    feature_names=None if feature_names == "auto" else feature_names,
                )
            else:
                everything = np.arange(len(matrix))
                init = None
                if self.linear_start_ is not None:  # the start, refitted on every row too
                    self.linear_start_ = _fit_linear_start(
                        matrix, self.linear_start_["columns"], codes, weights
                    )
                    init = _linear_logit(self.linear_start_, matrix)
                booster = lgb.train(
                    params, dataset(everything, init_score=init), num_boost_round=rounds
                )
            self.best_iteration_ = rounds
        else:
            booster.free_dataset()
        self.booster_ = booster
        self.n_train_rows_ = len(fit_rows)
        self.n_validation_rows_ = len(held_rows)
        self._warn_small_data(matrix, params)
        return self

    #: What the trees start from (ChurnModel: "auto" may start from an RFM logistic).
    start = "zero"
    linear_start_: dict | None
    start_scores_: dict[str, float]

    def _reset_start(self) -> None:
        self.start_ = "zero"
        self.linear_start_ = None
        self.start_scores_ = {}

    def _may_start(self, regime_rows: int, fit_rows, held_rows, codes) -> bool:
        """Whether to grow the trees a second time from a linear start (ChurnModel)."""
        return False

    def _grow_from_start(
        self, booster, params, dataset, matrix, codes, weights, fit_rows, held_rows
    ):
        return booster

    def _leaf_size(self, n_rows: int) -> int:
        """``min_child_samples``, or with "auto" 200 lowered to what ``n_rows`` can split."""
        value = self.min_child_samples
        if isinstance(value, str) and value == "auto":
            return int(min(_LEAF_SIZE, max(_MIN_LEAF_SIZE, n_rows // _ROWS_PER_LEAF)))
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(
                f"min_child_samples must be 'auto' or a whole number of at least 1, got {value!r}."
            )
        return int(value)

    def _warn_small_data(self, matrix: np.ndarray, params: dict) -> None:
        """Say what was adapted to few rows, and plainly when the model learned nothing."""
        import warnings

        from cjml.exceptions import SmallDataWarning
        from cjml.io._messages import _user_stacklevel

        name = type(self).__name__
        notes = []
        leaf = params.get("min_child_samples", self.min_child_samples_)
        # a moderate reduction (200 -> 134 on a few thousand rows) is routine, not news
        if self.min_child_samples == "auto" and self.min_child_samples_ < _WARN_LEAF_SIZE:
            notes.append(
                f"only {self.n_train_rows_:,} training rows: min_child_samples lowered "
                f"from {_LEAF_SIZE} to {self.min_child_samples_} so the trees can split"
            )
        # a strided probe of the rows: a model constant on it is constant
        probe = matrix[:: max(1, len(matrix) // 2000)]
        raw = np.asarray(self._with_start(self.booster_.predict(probe, raw_score=True), probe))
        constant = len(probe) > 1 and float(np.ptp(raw, axis=0).max()) < 1e-9
        fallback = self._fallback_note()
        if fallback:
            notes.append(fallback)
        elif constant:
            notes.append(
                f"its trees found no split in {self.n_train_rows_:,} training rows with "
                f"min_child_samples={leaf}, so it predicts the same probabilities for "
                "every row; add customers or cutoffs, or lower min_child_samples"
            )
        elif notes:
            notes.append(self._calibration_note())
        if notes:
            warnings.warn(
                f"{name}: " + "; ".join(n for n in notes if n) + ".",
                SmallDataWarning,
                stacklevel=_user_stacklevel(),
            )

    def _fallback_note(self) -> str:
        """Why the model predicts its base rate or priors, or "" when it does not."""
        return ""

    def _calibration_note(self) -> str:
        """The calibration chosen, and on how many rows, for a warning."""
        return ""

    def _grow(self, params, dataset, fit_rows, held_rows, init=(None, None)):
        """The trees, grown here with LightGBM's early stopping on the held-out rows.

        ``init``: the initial scores of the fit and held-out rows (a start), or Nones.
        """
        import lightgbm as lgb

        train_set = dataset(fit_rows, init_score=init[0])
        if len(held_rows) and self.early_stopping_rounds:
            valid_set = dataset(held_rows, reference=train_set, init_score=init[1])
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.best_iteration_ = max(
                int(booster.best_iteration or booster.current_iteration()), 1
            )
        else:
            booster = lgb.train(params, train_set, num_boost_round=self.n_estimators)
            self.best_iteration_ = booster.current_iteration()
        return booster

    def _grow_on_cluster(
        self,
        client,
        params,
        matrix,
        codes,
        weights,
        fit_rows,
        held_rows,
        categorical,
        feature_names,
    ):
        """The trees, grown on a dask.distributed cluster, early-stopped after the fact."""
        from cjml._dask_lgbm import train_booster_on_cluster

        valid = None
        if len(held_rows) and self.early_stopping_rounds:
            valid = (
                matrix[held_rows],
                codes[held_rows],
                None if weights is None else weights[held_rows],
            )
        booster, self.best_iteration_, self.validation_curve_ = train_booster_on_cluster(
            client,
            params,
            matrix[fit_rows],
            codes[fit_rows],
            None if weights is None else weights[fit_rows],
            valid=valid,
            num_boost_round=self.n_estimators,
            early_stopping_rounds=self.early_stopping_rounds if valid else None,
            categorical=categorical,
            feature_names=None if feature_names == "auto" else feature_names,
        )
        return booster

    def _encode_classes(self, y):
        classes, codes = _unique_labels(y)
        return classes, codes.astype(np.int32)

    # -- prediction
    def _raw_score(self, X) -> np.ndarray:
        """Uncalibrated LightGBM scores: log-odds, or logits of the observed classes."""
        check_is_fitted(self, "booster_")
        matrix = _feature_matrix(self, X, fitting=False)
        compiled = getattr(self, "_compiled", None)
        if compiled is not None:
            import tl2cgen

            raw = compiled.predict(tl2cgen.DMatrix(matrix), pred_margin=True)
            return self._with_start(
                raw.reshape(len(matrix), -1).squeeze(axis=1)
                if raw.size == len(matrix)
                else raw.reshape(len(matrix), -1),
                matrix,
            )
        raw = self.booster_.predict(matrix, raw_score=True, num_threads=self._threads(len(matrix)))
        return self._with_start(raw, matrix)

    def _with_start(self, raw: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The trees' raw scores plus the linear start they were grown from, if any."""
        start = getattr(self, "linear_start_", None)  # (bundles written before it have none)
        return raw if start is None else raw + _linear_logit(start, matrix)

    def feature_matrix(self, X) -> np.ndarray:
        """The float32 matrix this model predicts from, to convert once for several calls.

        Both of cjml's models (and their explanations) accept the result in
        place of ``X``; converting a large frame costs about as much as the
        churn model's trees.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows (DataFrames are matched by column name).

        Returns
        -------
        ndarray of shape (n_rows, n_features), float32
            The columns in the order the model was fitted with.
        """
        check_is_fitted(self, "booster_")
        return _feature_matrix(self, X, fitting=False)

    def compile(self, directory=None):
        """Compile the trees to native code for faster prediction (optional).

        Uses treelite and tl2cgen (``pip install "cjml[fast]"``) and a C
        compiler; predictions are identical to LightGBM's, two to three times
        faster. The compiled library is not saved with the model (a bundle
        never loads native code): call this again after loading a bundle.
        Libraries are cached by the trees' sha256, so compiling the same trees
        again only loads the library.

        Parameters
        ----------
        directory : str or Path, optional
            Where to keep the shared library; default the user's cache folder
            (``$CJML_CACHE`` or ``~/.cache/cjml``), under ``compiled/``.

        Returns
        -------
        self
            The same model, now predicting through the compiled library.
        """
        import hashlib
        from pathlib import Path

        try:
            import tl2cgen
            import treelite
        except ImportError:
            raise ImportError(
                "Compiling models needs treelite and tl2cgen: "
                'pip install "cjml[fast]" (and a C compiler).'
            ) from None
        check_is_fitted(self, "booster_")
        folder = Path(directory) if directory is not None else _cache_folder() / "compiled"
        folder.mkdir(parents=True, exist_ok=True)
        text = self.booster_.model_to_string(num_iteration=-1)
        key = hashlib.sha256(
            f"{tl2cgen.__version__}\n{treelite.__version__}\n{text}".encode()
        ).hexdigest()[:24]
        library = folder / f"{type(self).__name__.lower()}-{key}.so"
        if not library.exists():
            model = treelite.frontend.from_lightgbm(self.booster_)
            # built under a temporary name, then renamed: a half-built library is never loaded
            partial = folder / f".{library.name}.{os.getpid()}.tmp.so"
            tl2cgen.export_lib(
                model,
                toolchain="gcc",
                libpath=str(partial),
                params={"parallel_comp": 8},
                verbose=False,
            )
            os.replace(partial, library)
        return self.load_compiled(library)

    def load_compiled(self, library):
        """Predict through a library :meth:`compile` built for these same trees.

        Parameters
        ----------
        library : str or Path
            The shared library's path (``model.compiled_library_``).

        Returns
        -------
        self
            The same model.
        """
        import tl2cgen

        try:
            self._compiled = tl2cgen.Predictor(
                str(library), nthread=self._threads(_THREADS_FROM_ROWS), verbose=False
            )
        except tl2cgen.exception.TL2cgenError as err:
            if "cannot exceed" not in str(err):
                raise
            # OpenMP was limited in this process (e.g. by a Dask worker): one thread
            self._compiled = tl2cgen.Predictor(str(library), nthread=1, verbose=False)
        self.compiled_library_ = str(library)
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        # A native library handle, and its path: a pickle (or a bundle) never
        # loads native code; compile() or load_compiled() again after loading.
        state.pop("_compiled", None)
        state.pop("compiled_library_", None)
        return state

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows,)
            The predicted class of each row.
        """
        check_is_fitted(self, "booster_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def contributions(self, X) -> np.ndarray:
        """SHAP contributions of each feature to the raw score (LightGBM ``pred_contrib``).

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows, n_features + 1) or (n_rows, n_classes * (n_features + 1))
            The last column of each block is the bias; the calibration is not
            included (it is monotone, so it never reorders drivers). When the
            trees grew from a linear start (``ChurnModel.start_ == "rfm"``), its
            exact terms are added to their columns and intercept, so each row
            still sums to its raw score.
        """
        check_is_fitted(self, "booster_")
        matrix = _feature_matrix(self, X, fitting=False)
        out = self.booster_.predict(
            matrix, pred_contrib=True, num_threads=self._threads(len(matrix))
        )
        start = getattr(self, "linear_start_", None)
        if start is not None:
            terms, intercept = _linear_contributions(start, matrix)
            out = np.array(out, dtype=float)
            out[:, :-1] += terms
            out[:, -1] += intercept
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = self._objective != "binary"
        return tags


class ChurnModel(_LightGBMClassifier):
    """Probability that a customer drops off within the horizon (binary LightGBM).

    Early-stopped on a later time slice and calibrated on it; see
    :mod:`cjml.models` for the scheme. Labels are 0/1 (or any two classes; the
    second sorted class is the positive one).

    Parameters
    ----------
    n_estimators : int, default 2000
        Most boosting rounds; early stopping usually ends far earlier.
    learning_rate : float or "auto", default "auto"
        Shrinkage of each tree; "auto" is 0.03, or 0.1 from 500,000 rows.
    num_leaves : int, default 7
        Leaves per tree (small trees generalise better across worlds; see
        ``_LEAF_SIZE`` in the source).
    min_child_samples : int or "auto", default "auto"
        Fewest rows in a leaf; "auto" is 200, lowered to a twentieth of the
        inner fit's rows (at least 5) on small data, with a
        :class:`~cjml.exceptions.SmallDataWarning` below 1,000 rows.
    colsample_bytree : float, default 0.8
        Share of features drawn for each tree.
    subsample : float, default 0.8
        Share of rows drawn for each tree (bagging).
    reg_lambda : float, default 1.0
        L2 regularisation of leaf values.
    max_bin : int, default 255
        Histogram bins per feature.
    early_stopping_rounds : int, default 50
        Rounds without improvement on the held-out slice before stopping.
    validation_fraction : float, default 0.2
        Held-out share when no cutoffs are given.
    horizon : duration, optional
        The label horizon; training rows whose label window overlaps the
        held-out cutoff's are left out of the inner fit.
    calibration : {"auto", "sigmoid", "isotonic", None}, default "auto"
        How probabilities are calibrated on the held-out slice. "sigmoid" is
        Platt scaling of the log-odds, its slope kept >= 0 (so the ranking is
        never inverted) and shrunk toward 1 when the rows are few. "auto"
        chooses by cross-validated Brier score within the slice among
        "sigmoid", no calibration, "isotonic" (from 1,000 rows) and the
        training rows' base rate: another than "sigmoid" only when better
        beyond one standard error, and the base rate unless beaten the same
        way (then every row gets it, with a warning). Unless, in that case,
        the trees still rank the slice better than chance beyond noise (ROC
        AUC's one-sided 95% lower bound above 0.5): then "shrunk", a sigmoid
        whose slope is shrunk toward 0, keeps their order near the base rate
        (with a warning), as long as it is not worse than the base rate
        beyond one standard error.
    refit : bool or "auto", default "auto"
        Grow the trees again on all rows after early stopping; "auto" does
        below 500,000 rows, where the held-out slice is a large share.
    class_weight : {"auto", "balanced", None} or dict, default "auto"
        "auto" balances classes only when the rarer one is under
        ``imbalance_threshold`` of the rows.
    imbalance_threshold : float, default 0.1
        See ``class_weight``.
    categorical_features : list of str or int, optional
        Columns holding category codes (``featurizer.categorical_features_``).
    n_jobs : int, optional
        LightGBM's threads. By default one, and from 50,000 rows the cores
        idle when the fit starts (on a busy machine a thread per core is many
        times slower than one; see ``cjml.models._default_threads``).
    random_state : int, default 0
        Seed of bagging, feature sampling and the fallback split.
    lgbm_params : dict, optional
        Further LightGBM parameters, applied last.
    start : {"zero", "rfm", "auto"}, default "zero"
        What the trees add to. "zero": the training base rate, as LightGBM
        does. "rfm": an L2 logistic regression on recency, frequency and
        amount (``log1p``, the columns of :class:`RFMBaseline`), so the trees
        only correct it and early stopping keeps it when they cannot; on
        small purchase logs (random samples of CDNOW's customers) it narrowed
        the churn model's gap to the RFM logistic. "auto" grows both and keeps
        the RFM start only when its log loss on the held-out slice (the
        early-stopping slice) is lower by more than one standard error; it is
        "zero" without the RFM columns, without a held-out slice, from 500,000
        rows, and on a Dask cluster. Not the default: on simulated journeys
        that slice preferred the start where a later cutoff did not.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted trees.
    start_ : str
        What the trees were grown from: "zero" or "rfm".
    linear_start_ : dict or None
        The RFM logistic regression the trees start from (design columns,
        means, scales, coefficients, intercept), or None.
    start_scores_ : dict
        Held-out log loss of the trees grown from each start ("auto" only).
    classes_ : ndarray
        The two classes.
    best_iteration_ : int
        Boosting rounds kept.
    validation_ : str
        Which rows early stopping and calibration used.
    calibrator_ : tuple or IsotonicRegression or None
        The fitted calibration (``("sigmoid", slope, intercept)``; the base
        rate is a slope of 0).
    calibration_ : str
        The calibration in force: "sigmoid", "isotonic", "none", "shrunk" or
        "base rate".
    held_out_auc_ : tuple of float
        The held-out slice's ROC AUC of the trees' scores and its one-sided
        lower bound (NaN unless ``calibration="auto"``).
    calibration_scores_ : dict
        Cross-validated Brier score of each candidate on the held-out slice
        (empty unless ``calibration="auto"``).
    base_rate_ : float
        The share of the positive class in the training rows.
    min_child_samples_ : int
        The leaf size the trees were grown with.
    """

    def __init__(
        self,
        *,
        n_estimators=2000,
        learning_rate="auto",
        num_leaves=7,
        min_child_samples="auto",
        colsample_bytree=0.8,
        subsample=0.8,
        reg_lambda=1.0,
        max_bin=255,
        early_stopping_rounds=50,
        validation_fraction=0.2,
        horizon=None,
        calibration="auto",
        refit="auto",
        class_weight="auto",
        imbalance_threshold=0.1,
        categorical_features=None,
        n_jobs=None,
        random_state=0,
        lgbm_params=None,
        start="zero",
    ):
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            colsample_bytree=colsample_bytree,
            subsample=subsample,
            reg_lambda=reg_lambda,
            max_bin=max_bin,
            early_stopping_rounds=early_stopping_rounds,
            validation_fraction=validation_fraction,
            horizon=horizon,
            calibration=calibration,
            refit=refit,
            class_weight=class_weight,
            imbalance_threshold=imbalance_threshold,
            categorical_features=categorical_features,
            n_jobs=n_jobs,
            random_state=random_state,
            lgbm_params=lgbm_params,
        )
        self.start = start

    def _start_columns(self) -> np.ndarray | None:
        """Positions of the RFM columns in X, or None when X lacks them (or their names)."""
        names = list(getattr(self, "feature_names_in_", []))
        if not all(c in names for c in _RFM_COLUMNS):
            return None
        return np.array([names.index(c) for c in _RFM_COLUMNS], dtype=np.int64)

    def _may_start(self, regime_rows: int, fit_rows, held_rows, codes) -> bool:
        if self.start == "rfm" and self._start_columns() is None:
            names = set(getattr(self, "feature_names_in_", []))
            missing = [c for c in _RFM_COLUMNS if c not in names]
            raise ValueError(
                f"start='rfm' needs the feature columns {missing!r} by name (the default "
                "featurizer's activity and value families make them); pass X as a DataFrame "
                "with them, or use start='auto' or 'zero'."
            )
        if self.start == "zero" or self._start_columns() is None:
            return False
        if self.start == "auto" and (regime_rows >= _LARGE_ROWS or not len(held_rows)):
            return False
        return bool(np.unique(codes[fit_rows]).size == 2)

    def _grow_from_start(
        self, booster, params, dataset, matrix, codes, weights, fit_rows, held_rows
    ):
        """Grow the trees again from the RFM logistic; keep them if better beyond noise.

        With ``start="rfm"`` the started trees are kept whatever the slice says.
        The comparison is the held-out log loss of the uncalibrated scores
        (weighted like the training rows), the loss early stopping minimised,
        row by row: the start must win by more than ``_START_Z`` standard errors.
        """
        columns = self._start_columns()
        start = _fit_linear_start(
            matrix[fit_rows],
            columns,
            codes[fit_rows],
            None if weights is None else weights[fit_rows],
        )
        plain_rounds = self.best_iteration_
        held_init = _linear_logit(start, matrix[held_rows]) if len(held_rows) else None
        init = (_linear_logit(start, matrix[fit_rows]), held_init)
        started = self._grow(params, dataset, fit_rows, held_rows, init)
        started_rounds = self.best_iteration_
        better = False
        if len(held_rows):
            y = codes[held_rows].astype(float)
            w = np.ones(len(y)) if weights is None else weights[held_rows]

            def losses(z: np.ndarray) -> np.ndarray:  # each row's weighted log loss
                return (np.logaddexp(0.0, z) - y * z) * w / w.mean()

            held = matrix[held_rows]
            zero = losses(booster.predict(held, num_iteration=plain_rounds, raw_score=True))
            rfm = losses(
                started.predict(held, num_iteration=started_rounds, raw_score=True) + held_init
            )
            self.start_scores_ = {"zero": float(zero.mean()), "rfm": float(rfm.mean())}
            gain = zero - rfm
            spread = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else np.inf
            better = bool(gain.mean() > _START_Z * spread)
        if self.start == "rfm" or better:
            booster.free_dataset()
            self.start_, self.linear_start_ = "rfm", start
            return started
        started.free_dataset()
        self.best_iteration_ = plain_rounds
        return booster

    def _encode_classes(self, y):
        classes, codes = super()._encode_classes(y)
        if len(classes) > 2:
            raise ValueError(
                f"Only binary classification is supported. ChurnModel got "
                f"{len(classes)} classes: {list(classes[:6])!r}; use NextStageModel "
                "for stages."
            )
        return classes, codes

    def _fit_calibration(
        self, raw: np.ndarray | None, codes: np.ndarray, train_codes: np.ndarray
    ) -> None:
        method = self.calibration
        if method not in ("auto", "sigmoid", "isotonic", None):
            raise ValueError(
                f"calibration must be 'auto', 'sigmoid', 'isotonic' or None, "
                f"got {self.calibration!r}."
            )
        self.calibrator_: tuple[str, float, float] | IsotonicRegression | None = None
        self.calibration_ = "none"
        self.calibration_scores_ = {}
        self.n_calibration_rows_ = 0
        self.held_out_auc_ = (float("nan"), float("nan"))  # set with calibration="auto"
        # the base rate: the positive share of every row given to fit (PriorBaseline's)
        self.base_rate_ = float(np.mean(train_codes))
        if method is None or raw is None or len(codes) == 0:
            return
        raw = np.asarray(raw, dtype=float)
        y = codes.astype(float)
        both = 0 < y.sum() < len(y)
        if method in ("sigmoid", "isotonic"):
            if both:
                self._set_calibration(method, raw, y)
            return
        rows = _choice_rows(len(y), self.random_state)
        r, t = raw[rows], y[rows]
        base = self.base_rate_
        candidates = {
            "none": lambda fit, ev: (expit(r[ev]) - t[ev]) ** 2,
            "base rate": lambda fit, ev: (base - t[ev]) ** 2,
        }
        counts = np.bincount(codes[rows], minlength=2)
        if counts.min() >= 2:

            def platt(prior_slope):
                def loss(fit, ev):
                    a, b = _platt(r[fit], t[fit], prior_slope=prior_slope)
                    return (expit(a * r[ev] + b) - t[ev]) ** 2

                return loss

            candidates["sigmoid"] = platt(1.0)
            candidates["shrunk"] = platt(0.0)
            if len(rows) >= _ISOTONIC_FROM_ROWS:
                candidates["isotonic"] = lambda fit, ev: (
                    (_isotonic(r[fit], t[fit]).predict(r[ev]) - t[ev]) ** 2
                )
        losses = _out_of_fold(candidates, codes[rows], self.random_state)
        self.calibration_scores_ = {name: float(v.mean()) for name, v in losses.items()}
        shrunk = losses.pop("shrunk", None)  # only ever the fallback's alternative
        chosen = _choose_calibration(
            losses, "sigmoid" if "sigmoid" in losses else "none", "base rate"
        )
        self.held_out_auc_ = _auc_lower_bound(r, t)
        if chosen == "base rate" and shrunk is not None and self.held_out_auc_[1] > 0.5:
            # probabilities no better than the base rate, an order better than chance: keep
            # the order near the base rate, unless that is worse than it beyond noise
            if (
                _gain({"shrunk": shrunk, "base rate": losses["base rate"]}, "base rate", "shrunk")
                <= 0
            ):
                chosen = "shrunk"
        self._set_calibration(chosen, raw, y)

    def _set_calibration(self, method: str, raw: np.ndarray, y: np.ndarray) -> None:
        """Fit the chosen calibration on every held-out row."""
        self.calibration_ = method
        self.n_calibration_rows_ = len(y)
        if method == "sigmoid":
            self.calibrator_ = ("sigmoid", *_platt(raw, y))
        elif method == "shrunk":
            self.calibrator_ = ("sigmoid", *_platt(raw, y, prior_slope=0.0))
        elif method == "isotonic":
            self.calibrator_ = _isotonic(raw, y)
        elif method == "base rate":  # a flat line: every row gets the training rate
            rate = float(np.clip(self.base_rate_, _EPS, 1 - _EPS))
            self.calibrator_ = ("sigmoid", 0.0, float(np.log(rate / (1 - rate))))
        else:
            self.calibrator_ = None

    def _fallback_note(self) -> str:
        scores = self.calibration_scores_
        if self.calibration_ == "shrunk" and isinstance(self.calibrator_, tuple):
            best = min((v, k) for k, v in scores.items() if k not in ("base rate", "shrunk"))
            auc, low = self.held_out_auc_
            return (
                f"on {self.n_calibration_rows_:,} held-out rows its probabilities do not beat "
                f"the base rate beyond noise (cross-validated Brier {best[0]:.4f} "
                f"{_with_calibration(best[1])}, {scores['base rate']:.4f} for the base rate), but "
                f"its order does beat chance (ROC AUC {auc:.3f}, lower bound {low:.3f}), so "
                f"its risks are shrunk toward the base rate, {self.base_rate_:.3f}, keeping "
                f"that order (slope {self.calibrator_[1]:.2f}); add customers or cutoffs"
            )
        if self.calibration_ != "base rate":
            return ""
        best = min((v, k) for k, v in scores.items() if k not in ("base rate", "shrunk"))
        return (
            f"on {self.n_calibration_rows_:,} held-out rows its scores do not beat the "
            f"base rate beyond noise (cross-validated Brier {best[0]:.4f} "
            f"{_with_calibration(best[1])}, {scores['base rate']:.4f} for the base rate), so it "
            f"predicts the base rate, {self.base_rate_:.3f}, for every row; add customers or "
            "cutoffs"
        )

    def _calibration_note(self) -> str:
        if not self.calibration_scores_:
            return "" if self.n_validation_rows_ else "no held-out rows, so no calibration"
        what = {
            "sigmoid": "regularised sigmoid",
            "isotonic": "isotonic regression",
            "none": "none (the trees' own scores)",
            "shrunk": "a sigmoid shrunk toward the base rate",
        }[self.calibration_]
        if self.calibration_ == "sigmoid" and isinstance(self.calibrator_, tuple):
            what += f" (slope {self.calibrator_[1]:.2f})"
        scores = self.calibration_scores_
        start = ""
        if getattr(self, "start_", "zero") == "rfm" and self.start_scores_:
            start = (
                "trees grown from an RFM logistic regression (held-out log loss "
                f"{self.start_scores_['rfm']:.4f} against {self.start_scores_['zero']:.4f} "
                "from zero); "
            )
        return (
            f"{start}calibration by {what} chosen on "
            f"{self.n_calibration_rows_:,} held-out rows (cross-validated Brier "
            f"{scores[self.calibration_]:.4f} against {scores['base rate']:.4f} for the base "
            "rate)"
        )

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities; column 1 is the churn risk.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Probabilities, one column per class of ``classes_``.
        """
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def decision_function(self, X) -> np.ndarray:
        """Calibrated log-odds of churn (positive means ``predict`` says churn).

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows,)
            Scores that rank rows like ``predict_proba``.
        """
        raw = self._raw_score(X)
        cal = self.calibrator_
        if cal is None:
            return raw
        if isinstance(cal, tuple):
            return cal[1] * raw + cal[2]
        p = cal.predict(raw)  # isotonic: clipped to [_EPS, 1 - _EPS]
        return np.log(p) - np.log1p(-p)

    def predict_risk(self, X) -> np.ndarray:
        """Churn risk of each row (``predict_proba(X)[:, 1]``).

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows,)
            Calibrated churn probability of each row.
        """
        return self.predict_proba(X)[:, 1]


class NextStageModel(_LightGBMClassifier):
    """Probabilities of each customer's next journey stage, ``dropped`` included.

    A multiclass LightGBM, early-stopped on a later time slice, with
    temperature scaling fitted on that slice. Parameters are those of
    :class:`ChurnModel`, plus ``classes``, ``conditional`` and the calibration
    choices below.

    By default (``conditional="auto"`` with a ``dropped`` class among the
    labels) the trees learn only where the customers who *stay* go next,
    ``P(stage | not dropped)``, and ``P(dropped)`` comes from the churn model
    (:meth:`attach_churn_model`): ``P(stage) = (1 - churn risk) * P(stage | not
    dropped)``. The churn model answers "dropped?" better than one class among
    six, and leaving that class and its rows out gives fewer, better trees:
    measured on 1M simulated training rows, 140 trees instead of 546 and a
    held-out log loss of 0.2765 instead of 0.2786.

    Parameters
    ----------
    n_estimators : int, default 2000
        Most boosting rounds.
    learning_rate : float or "auto", default "auto"
        Shrinkage of each tree; "auto" is 0.03, or from 500,000 rows 0.1
        (0.25 for a conditional model, whose multiclass trees otherwise need
        hundreds of rounds to converge).
    num_leaves : int, default 7
        Leaves per tree (small trees generalise better across worlds; see
        ``_LEAF_SIZE`` in the source).
    min_child_samples : int or "auto", default "auto"
        Fewest rows in a leaf; "auto" is 200, lowered to a twentieth of the
        inner fit's rows (at least 5) on small data, with a
        :class:`~cjml.exceptions.SmallDataWarning` below 1,000 rows.
    colsample_bytree : float, default 0.8
        Share of features drawn for each tree.
    subsample : float, default 0.8
        Share of rows drawn for each tree.
    reg_lambda : float, default 1.0
        L2 regularisation.
    max_bin : int, default 255
        Histogram bins per feature.
    early_stopping_rounds : int, default 50
        Rounds without improvement before stopping.
    validation_fraction : float, default 0.2
        Held-out share when no cutoffs are given.
    horizon : duration, optional
        The label horizon (see :class:`ChurnModel`).
    calibration : {"auto", "temperature", None}, default "auto"
        "temperature" is temperature scaling: one divisor of all logits
        (between 0.25 and 4, so the order of the classes is kept), fitted by
        log loss on the held-out slice. "auto" is that, unless the training
        rows' class shares predict the slice as well (cross-validated log
        loss, not better beyond one standard error): then every row gets those
        shares, with a warning.
    refit : bool or "auto", default "auto"
        Grow the trees again on all rows after early stopping; "auto" does
        below 500,000 rows, where the held-out slice is a large share.
    class_weight : {"auto", "balanced", None} or dict, default None
        Class weights; off by default because they distort probabilities.
    imbalance_threshold : float, default 0.1
        Rarest-class share under which "auto" balances.
    categorical_features : list of str or int, optional
        Columns holding category codes.
    n_jobs : int, optional
        LightGBM's threads (see :class:`ChurnModel`).
    random_state : int, default 0
        Seed.
    lgbm_params : dict, optional
        Further LightGBM parameters.
    classes : sequence, optional
        All classes in the order ``predict_proba`` reports them (e.g. the
        journey map's stages then ``"dropped"``); classes missing from ``y``
        get probability 0. Default: the sorted labels of ``y``.
    dropped_class : str, default "dropped"
        The class meaning "churned", whose probability
        :meth:`attach_churn_model` takes from a churn model.
    conditional : bool or "auto", default "auto"
        Learn ``P(stage | not dropped)`` from the rows not labelled
        ``dropped_class``, and take ``P(dropped)`` from the churn model (which
        must then be attached, or its risk passed to :meth:`predict_proba`).
        "auto": when ``dropped_class`` is among the labels or ``classes``.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The fitted trees.
    classes_ : ndarray
        Classes, in column order of ``predict_proba``.
    temperature_ : float
        The fitted temperature (1.0 when not calibrated).
    calibration_ : str
        "temperature", "priors" (the class shares) or "none".
    class_prior_ : ndarray or None
        The class shares predicted instead of the trees' (``calibration_ ==
        "priors"``), else None.
    churn_model_ : ChurnModel or None
        The churn model P(dropped) comes from (:meth:`attach_churn_model`).
    """

    _objective = "multiclass"

    def __init__(
        self,
        *,
        n_estimators=2000,
        learning_rate="auto",
        num_leaves=7,
        min_child_samples="auto",
        colsample_bytree=0.8,
        subsample=0.8,
        reg_lambda=1.0,
        max_bin=255,
        early_stopping_rounds=50,
        validation_fraction=0.2,
        horizon=None,
        calibration="auto",
        refit="auto",
        class_weight=None,
        imbalance_threshold=0.1,
        categorical_features=None,
        n_jobs=None,
        random_state=0,
        lgbm_params=None,
        classes=None,
        dropped_class="dropped",
        conditional="auto",
    ):
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            colsample_bytree=colsample_bytree,
            subsample=subsample,
            reg_lambda=reg_lambda,
            max_bin=max_bin,
            early_stopping_rounds=early_stopping_rounds,
            validation_fraction=validation_fraction,
            horizon=horizon,
            calibration=calibration,
            refit=refit,
            class_weight=class_weight,
            imbalance_threshold=imbalance_threshold,
            categorical_features=categorical_features,
            n_jobs=n_jobs,
            random_state=random_state,
            lgbm_params=lgbm_params,
        )
        self.classes = classes
        self.dropped_class = dropped_class
        self.conditional = conditional

    def _encode_classes(self, y):
        if self.classes is None:
            classes = _unique_labels(y if self._all_labels is None else self._all_labels)[0]
        else:
            classes = np.asarray(list(self.classes), dtype=object)
        lookup = {c: i for i, c in enumerate(classes)}
        unknown = sorted({str(v) for v in pd.unique(y) if v not in lookup})
        if unknown:
            raise ValueError(f"y holds classes not in classes={list(classes)!r}: {unknown!r}.")
        all_codes = pd.Index(classes).get_indexer(np.asarray(y)).astype(np.int32)
        # LightGBM trains on the observed classes only (positions in classes_);
        # the rest get probability 0, or the churn model's risk for dropped.
        self.observed_classes_ = np.unique(all_codes)
        remap = np.full(len(classes), -1, dtype=np.int32)
        remap[self.observed_classes_] = np.arange(len(self.observed_classes_))
        return classes, remap[all_codes]

    def fit(self, X, y, *, cutoffs=None, sample_weight=None, client=None, customer_ids=None):
        """Fit the trees, early-stopped and calibrated on a later slice.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.
        y : array-like of shape (n_rows,)
            Next-stage labels.
        cutoffs : array-like of dates, optional
            The cutoff of each row; the latest is the held-out slice.
        sample_weight : array-like of shape (n_rows,), optional
            Row weights.
        client : distributed.Client, optional
            Grow the trees on this cluster (see :meth:`ChurnModel.fit`).
        customer_ids : array-like of shape (n_rows,), optional
            The customer of each row (see :meth:`ChurnModel.fit`).

        Returns
        -------
        self
            The fitted estimator.
        """
        if self.conditional not in ("auto", True, False):
            raise ValueError(
                f"conditional must be 'auto', True or False, got {self.conditional!r}."
            )
        if not isinstance(X, pd.DataFrame):
            X = check_array(
                X,
                accept_sparse=False,
                dtype=np.float32,
                ensure_all_finite="allow-nan",
                input_name="X",
            )
        labels = _labels(y, len(X))
        classes = _unique_labels(labels)[0] if self.classes is None else list(self.classes)
        has_dropped = self.dropped_class in list(classes)
        if self.conditional is True and not has_dropped:
            raise ValueError(
                f"conditional=True needs the {self.dropped_class!r} class among the "
                f"labels or classes; got {list(classes)!r}."
            )
        # "auto" also needs two destinations among those who stay to learn anything
        n_stay = len(pd.unique(labels[labels != self.dropped_class]))
        self.conditional_ = bool(
            has_dropped and n_stay >= 2 if self.conditional == "auto" else self.conditional
        )
        self._all_labels = labels
        self._regime_rows = len(labels)
        try:
            if not self.conditional_:
                return super().fit(
                    X,
                    labels,
                    cutoffs=cutoffs,
                    sample_weight=sample_weight,
                    client=client,
                    customer_ids=customer_ids,
                )
            stays = labels != self.dropped_class
            if stays.sum() < 2 or n_stay < 2:
                raise ValueError(
                    f"{int(stays.sum())} row(s) are not labelled "
                    f"{self.dropped_class!r}, going to {n_stay} stage(s): too few "
                    "to learn where the customers who stay go. Use more cutoffs "
                    "or customers, or conditional=False."
                )
            keep = np.flatnonzero(stays)
            X_kept = X.iloc[keep] if isinstance(X, pd.DataFrame) else X[keep]
            super().fit(
                X_kept,
                labels[keep],
                cutoffs=None if cutoffs is None else utc_datetimes(cutoffs)[keep],
                sample_weight=None if sample_weight is None else np.asarray(sample_weight)[keep],
                client=client,
                customer_ids=None if customer_ids is None else np.asarray(customer_ids)[keep],
            )
        finally:
            del self._all_labels, self._regime_rows
        return self

    _all_labels = None

    def _weights(self, codes, n_classes, sample_weight):
        return super()._weights(codes, int(codes.max()) + 1, sample_weight)

    def _booster_params(self, n_classes: int, n_rows: int) -> dict:
        params = super()._booster_params(len(self.observed_classes_), n_rows)
        if self.conditional_ and self.learning_rate == "auto" and n_rows >= _LARGE_ROWS:
            params["learning_rate"] = _CONDITIONAL_LARGE_RATE
            params.update(self.lgbm_params or {})
        return params

    def _fit_calibration(
        self, raw: np.ndarray | None, codes: np.ndarray, train_codes: np.ndarray
    ) -> None:
        method = self.calibration
        if method not in ("auto", "temperature", None):
            raise ValueError(
                f"calibration must be 'auto', 'temperature' or None, got {self.calibration!r}."
            )
        self.temperature_ = 1.0
        self.class_prior_ = None
        self.calibration_ = "none"
        self.calibration_scores_ = {}
        self.n_calibration_rows_ = 0
        if method is None or raw is None or len(codes) == 0:
            return
        logits = _as_logits(raw)
        self.n_calibration_rows_ = len(codes)

        def log_loss(t: float, rows: np.ndarray) -> np.ndarray:
            p = softmax(logits[rows] / t, axis=1)[np.arange(len(rows)), codes[rows]]
            return -np.log(np.clip(p, _EPS, 1))

        def temperature(rows: np.ndarray) -> float:
            return float(
                minimize_scalar(
                    lambda t: float(log_loss(t, rows).mean()), bounds=(0.25, 4.0), method="bounded"
                ).x
            )

        self.calibration_ = "temperature"
        if method == "temperature":
            self.temperature_ = temperature(np.arange(len(codes)))
            return
        # "auto": the temperature, unless the training rows' class shares predict as well
        prior = np.bincount(train_codes, minlength=logits.shape[1]) / max(len(train_codes), 1)
        rows = _choice_rows(len(codes), self.random_state)
        candidates = {
            "temperature": lambda fit, ev: log_loss(temperature(rows[fit]), rows[ev]),
            "priors": lambda fit, ev: -np.log(np.clip(prior[codes[rows[ev]]], _EPS, 1)),
        }
        losses = _out_of_fold(candidates, codes[rows], self.random_state)
        self.calibration_scores_ = {name: float(v.mean()) for name, v in losses.items()}
        self.calibration_ = _choose_calibration(losses, "temperature", "priors")
        if self.calibration_ == "priors":
            self.class_prior_ = prior
        else:
            self.temperature_ = temperature(np.arange(len(codes)))

    def _fallback_note(self) -> str:
        if self.calibration_ != "priors":
            return ""
        scores = self.calibration_scores_
        return (
            f"on {self.n_calibration_rows_:,} held-out rows its trees do not beat the "
            f"training rows' class shares beyond noise (cross-validated log loss "
            f"{scores['temperature']:.4f}, {scores['priors']:.4f} for the shares), so it "
            "predicts those shares for every row; add customers or cutoffs"
        )

    def _calibration_note(self) -> str:
        if not self.calibration_scores_:
            return "" if self.n_validation_rows_ else "no held-out rows, so no calibration"
        scores = self.calibration_scores_
        return (
            f"temperature {self.temperature_:.2f} chosen on {self.n_calibration_rows_:,} "
            f"held-out rows (cross-validated log loss {scores['temperature']:.4f} against "
            f"{scores['priors']:.4f} for the class shares)"
        )

    def predict_proba(self, X, churn_risk=None) -> np.ndarray:
        """Give the probability of each class, in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.
        churn_risk : array-like of shape (n_rows,), optional
            The attached churn model's risk for these rows, when already
            computed (saves predicting it twice); ignored without one.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Probabilities, one column per class of ``classes_``.
        """
        return np.exp(self._log_proba(X, churn_risk))

    def decision_function(self, X) -> np.ndarray:
        """Give the log-probability of each class (``-inf`` for classes never trained on).

        With two classes, scikit-learn's convention: the log-odds of the second.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Feature rows.

        Returns
        -------
        ndarray of shape (n_rows, n_classes), or (n_rows,) with two classes
            Scores that rank rows like ``predict_proba``.
        """
        log_p = self._log_proba(X)
        return log_p[:, 1] - log_p[:, 0] if log_p.shape[1] == 2 else log_p

    def attach_churn_model(self, churn_model) -> NextStageModel:
        """Take P(dropped) from a fitted churn model, rescaling the other stages.

        ``dropped`` is the next stage exactly when the customer churns, so a
        dedicated, calibrated churn model gives the better P(dropped); the
        stages keep their shares of the rest. This also makes the two models'
        outputs agree: ``P(next stage = dropped) == churn risk``.

        Parameters
        ----------
        churn_model : ChurnModel or None
            Fitted on the same features and horizon; None detaches it.

        Returns
        -------
        NextStageModel
            This model.
        """
        check_is_fitted(self, "booster_")
        if churn_model is not None:
            check_is_fitted(churn_model, "booster_")
            if self.dropped_class not in list(self.classes_):
                raise ValueError(
                    f"This model has no {self.dropped_class!r} class to take from the churn model."
                )
        self.churn_model_ = churn_model
        return self

    def _log_proba(self, X, churn_risk=None) -> np.ndarray:
        churn_model = getattr(self, "churn_model_", None)
        conditional = getattr(self, "conditional_", False)
        if churn_model is None and not conditional:
            return self._own_log_proba(X)
        if churn_risk is None:
            if churn_model is None:
                raise ValueError(
                    f"This next-stage model learned where the customers who stay go; "
                    f"P({self.dropped_class!r}) comes from a churn model. Attach one "
                    "(model.attach_churn_model(churn)) or pass churn_risk=."
                )
            churn_risk = churn_model.predict_proba(X)[:, 1]
        log_p = self._own_log_proba(X)
        drop = list(self.classes_).index(self.dropped_class)
        risk = np.clip(np.asarray(churn_risk, dtype=float), _EPS, 1 - _EPS)
        if len(risk) != len(log_p):
            raise ValueError(
                f"churn_risk must be one value per row of X ({len(log_p)}), got {len(risk)}."
            )
        if not conditional:
            # the stages keep their shares of what the trees left besides dropped
            with np.errstate(divide="ignore"):
                rest = np.log1p(-np.exp(np.minimum(log_p[:, drop], -_EPS)))
            log_p = log_p - rest[:, None]
        log_p = log_p + np.log1p(-risk)[:, None]
        log_p[:, drop] = np.log(risk)
        return log_p

    def _own_log_proba(self, X) -> np.ndarray:
        """The trees' log-probabilities (conditional on staying for a conditional model)."""
        check_is_fitted(self, "booster_")
        prior = getattr(self, "class_prior_", None)  # absent from models saved before it was
        if prior is not None:  # the trees were no better than the class shares
            n_rows = len(_feature_matrix(self, X, fitting=False))
            with np.errstate(divide="ignore"):
                observed = np.tile(np.log(prior), (n_rows, 1))
        else:
            observed = log_softmax(_as_logits(self._raw_score(X)) / self.temperature_, axis=1)
        if len(self.observed_classes_) == len(self.classes_):
            return observed
        out = np.full((len(observed), len(self.classes_)), -np.inf)
        out[:, self.observed_classes_] = observed
        return out


def _as_logits(raw: np.ndarray) -> np.ndarray:
    """LightGBM's binary raw score as two logits, multiclass scores as they are."""
    raw = np.asarray(raw, dtype=float)
    return np.column_stack([np.zeros(len(raw)), raw]) if raw.ndim == 1 else raw


# --------------------------------------------------------------------------- baselines
class _Baseline(ClassifierMixin, BaseEstimator):
    """What the baselines share: ``predict`` is the most probable class."""

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame or array
            Rows.

        Returns
        -------
        ndarray of shape (n_rows,)
            The predicted class of each row.
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class PriorBaseline(_Baseline):
    """The class frequencies of the training rows, for every customer.

    Its ``predict`` is the majority class.

    Attributes
    ----------
    classes_ : ndarray
        Classes, sorted.
    class_prior_ : ndarray
        Share of each class in the training rows.
    """

    def fit(self, X, y):
        """Learn the class frequencies.

        Parameters
        ----------
        X : DataFrame or array
            Ignored but for its length.
        y : array-like
            Labels.

        Returns
        -------
        self
            The fitted estimator.
        """
        y = _labels(y, len(X))
        self.classes_, codes = _unique_labels(y)
        counts = np.bincount(codes, minlength=len(self.classes_))
        self.class_prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The prior for every row.

        Parameters
        ----------
        X : DataFrame or array
            Rows.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Probabilities, one column per class of ``classes_``.
        """
        check_is_fitted(self, "class_prior_")
        return np.tile(self.class_prior_, (len(X), 1))


class MarkovBaseline(_Baseline):
    """A first-order Markov model: the outcome given the last stage and touchpoint.

    ``P(outcome | stage, last touchpoint)`` is counted on the training rows and
    smoothed towards ``P(outcome | stage)``, itself smoothed towards the prior
    (``smoothing`` pseudo-rows each), so rare states fall back gracefully.

    Parameters
    ----------
    state_features : tuple of str, default ("current_stage", "last_touchpoint_1")
        The feature columns that form the state, coarsest first.
    smoothing : float, default 10.0
        Pseudo-rows of the coarser estimate added to each state's counts.

    Attributes
    ----------
    classes_ : ndarray
        Classes, sorted.
    """

    def __init__(self, state_features=("current_stage", "last_touchpoint_1"), smoothing=10.0):
        self.state_features = state_features
        self.smoothing = smoothing

    def _states(self, X) -> list[np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                "MarkovBaseline needs the feature DataFrame (it reads "
                f"{list(self.state_features)!r} by name)."
            )
        missing = [c for c in self.state_features if c not in X.columns]
        if missing:
            raise ValueError(f"MarkovBaseline needs the feature columns {missing!r}.")
        keys, out = None, []
        for name in self.state_features:
            values = X[name].to_numpy(dtype=float, na_value=np.nan)
            values = np.where(np.isnan(values), -1, values).astype(np.int64)
            keys = values if keys is None else keys * 100_003 + values
            out.append(keys)
        return out

    def fit(self, X, y):
        """Count outcomes per state.

        Parameters
        ----------
        X : DataFrame
            Feature rows with the state columns.
        y : array-like
            Labels.

        Returns
        -------
        self
            The fitted estimator.
        """
        y = _labels(y, len(X))
        self.classes_, codes = _unique_labels(y)
        k = len(self.classes_)
        self.prior_ = np.bincount(codes, minlength=k) / len(codes)
        self.tables_ = []
        for keys in self._states(X):
            uniq, inverse = np.unique(keys, return_inverse=True)
            counts = np.zeros((len(uniq), k))
            np.add.at(counts, (inverse, codes), 1.0)
            self.tables_.append((uniq, counts))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Smoothed outcome frequencies of each row's state.

        Parameters
        ----------
        X : DataFrame
            Feature rows with the state columns.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Probabilities, one column per class of ``classes_``.
        """
        check_is_fitted(self, "tables_")
        p = np.tile(self.prior_, (len(X), 1))
        for keys, (uniq, counts) in zip(self._states(X), self.tables_, strict=True):
            pos = np.clip(np.searchsorted(uniq, keys), 0, len(uniq) - 1)
            found = uniq[pos] == keys
            n = np.where(found[:, None], counts[pos], 0.0)
            p = (n + self.smoothing * p) / (n.sum(axis=1, keepdims=True) + self.smoothing)
        return p


class RFMBaseline(_Baseline):
    """Logistic regression on recency, frequency and monetary value.

    The classic RFM model: ``log1p`` of days since the last event, events in
    the last 90 days, all events, and total amount, standardised (missing
    values as 0 with an indicator), then a (multinomial) logistic regression.

    Parameters
    ----------
    features : tuple of str
        The RFM columns of the feature table.
    C : float, default 1.0
        Inverse regularisation strength.

    Attributes
    ----------
    classes_ : ndarray
        Classes, sorted.
    """

    def __init__(self, features=_RFM_COLUMNS, C=1.0):
        self.features = features
        self.C = C

    def _design(self, X) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise ValueError("RFMBaseline needs the feature DataFrame (it reads columns by name).")
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise ValueError(f"RFMBaseline needs the feature columns {missing!r}.")
        values = X[list(self.features)].to_numpy(dtype=float, na_value=np.nan)
        absent = np.isnan(values)
        values = np.log1p(np.clip(np.where(absent, 0.0, values), 0, None))
        return np.hstack([values, absent.astype(float)])

    def fit(self, X, y):
        """Fit the scaler and the logistic regression.

        Parameters
        ----------
        X : DataFrame
            Feature rows with the RFM columns.
        y : array-like
            Labels.

        Returns
        -------
        self
            The fitted estimator.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        y = _labels(y, len(X))
        self.pipeline_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=500))
        self.pipeline_.fit(self._design(X), y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : DataFrame
            Feature rows with the RFM columns.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Probabilities, one column per class of ``classes_``.
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(self._design(X))
