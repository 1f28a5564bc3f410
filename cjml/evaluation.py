"""Honest evaluation: models beside baselines on a later cutoff.

Training rows come from earlier cutoffs; the test rows from one later cutoff
whose label window starts after every training label window has ended. Never
random rows from the same period: customers' futures are correlated, so a
random split leaks. The churn and next-stage models are always reported beside
three baselines fitted on the same training rows and scored on the same test
rows: the class prior, a first-order Markov model on the last stage and
touchpoint, and a logistic regression on recency, frequency and monetary value.

The report leads with the customers **active within the horizon before the
cutoff** (an event in ``(cutoff - horizon, cutoff]``: the ones a campaign can
still reach), then the whole lookback population. For each, the model's ROC
AUC and Brier score (churn) and log loss (next stage) are compared with each
baseline's by a **paired bootstrap** over the customers (the same resampled
customers score both; 400 resamples, seeded): the difference and its 95%
interval, and a plain sentence whenever the model is not better beyond noise.

For single-cutoff data (a calibration period and a holdout period, as with
CDNOW), :func:`cross_validate` and ``cjml.evaluate(..., cv=5)`` split the customers
into folds instead of time: fresh copies of the models and the baselines are
fitted on the other folds and score each fold, and the same report is made
from these out-of-fold predictions, with the spread over folds.

This module measures: it fits no bundle and imports nothing from
:mod:`cjml.training`. :func:`cjml.evaluate` and :func:`cjml.train`, which
make the training and test sets and fit the models, live there and call in
here.
"""

from __future__ import annotations

import contextlib
import html
import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjml.models import MarkovBaseline, PriorBaseline, RFMBaseline

__all__ = [
    "EvaluationReport",
    "PopulationMetrics",
    "active_within",
    "churn_metrics",
    "compare_with_baselines",
    "cross_validate",
    "stage_metrics",
]

_EPS = 1e-15

#: The paired bootstrap behind the report's intervals: resamples, seed, level.
N_RESAMPLES = 400
RANDOM_STATE = 0
LEVEL = 0.95
#: How far (in churn-rate points, beyond sampling noise) the held-out cutoff's churn rate
#: may lie outside every training cutoff's before the report warns of a changed world.
SHIFT_POINTS = 0.10
#: The metrics on which the model is compared with each baseline:
#: (table, column, whether higher is better, name in sentences).
COMPARED = (
    ("churn", "roc_auc", True, "ROC AUC"),
    ("churn", "brier", False, "Brier score"),
    ("next_stage", "log_loss", False, "next-stage log loss"),
)
#: How the populations are named in sentences.
_POPULATION_WORDS = {"active": "the active customers", "lookback": "the whole lookback population"}

#: Display names of the baselines, in report order.
BASELINES = {
    "prior": PriorBaseline,
    "markov": MarkovBaseline,
    "rfm_logistic": RFMBaseline,
}


def churn_metrics(y_true, risk) -> dict[str, float]:
    """Ranking, calibration and targeting metrics of churn risks.

    Parameters
    ----------
    y_true : array-like of 0/1
        Realised churn.
    risk : array-like of float
        Predicted churn probabilities.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss``,
        and for the top 10% and 20% by risk, ``lift_10``/``lift_20`` (churn
        rate there over the overall rate) and ``capture_10``/``capture_20``
        (share of all churners found there). AUCs are NaN with one class.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(risk, dtype=float), _EPS, 1 - _EPS)
    two_classes = 0 < y.sum() < len(y)
    out = {
        "roc_auc": roc_auc_score(y, p) if two_classes else math.nan,
        "pr_auc": average_precision_score(y, p) if two_classes else math.nan,
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
    }
    order = np.argsort(-p, kind="stable")
    base = y.mean() if len(y) else math.nan
    for share in (10, 20):
        top = y[order[: max(1, math.ceil(len(y) * share / 100))]]
        out[f"lift_{share}"] = float(top.mean() / base) if base > 0 else math.nan
        out[f"capture_{share}"] = float(top.sum() / y.sum()) if y.sum() > 0 else math.nan
    return out


def stage_metrics(y_true, proba, classes) -> dict[str, float]:
    """Accuracy, macro-F1, top-2 accuracy and log loss of next-stage probabilities.

    Parameters
    ----------
    y_true : array-like
        Realised next stages.
    proba : array of shape (n_rows, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : sequence
        The class of each column.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1`` (over the classes present in ``y_true`` or
        predicted), ``top2_accuracy`` and ``log_loss``.
    """
    from sklearn.metrics import f1_score

    classes = list(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    y = pd.Series(np.asarray(y_true, dtype=object))
    unknown = sorted(set(y) - set(lookup), key=str)
    if unknown:
        raise ValueError(f"y_true holds classes without a probability column: {unknown!r}.")
    codes = y.map(lookup).to_numpy(dtype=np.int64)
    proba = np.asarray(proba, dtype=float)
    predicted = np.argmax(proba, axis=1)
    top2 = np.argsort(-proba, axis=1, kind="stable")[:, :2]
    return {
        "accuracy": float(np.mean(predicted == codes)),
        "macro_f1": float(f1_score(codes, predicted, average="macro")),
        "top2_accuracy": float(np.mean((top2 == codes[:, None]).any(axis=1))),
        "log_loss": float(np.mean(_row_log_loss(codes, proba))),
    }


def _row_log_loss(codes: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's log loss: minus the log of the probability given to its class."""
    rows = np.arange(len(codes))
    return -np.log(np.clip(proba[rows, codes] / proba.sum(axis=1), _EPS, 1))


def _stage_codes(y_true, classes) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return pd.Series(np.asarray(y_true, dtype=object)).map(lookup).to_numpy(dtype=np.int64)


# --------------------------------------------------------------------------- paired bootstrap
def _resample_counts(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """How often each of ``n`` rows is drawn in each of ``size`` bootstrap resamples,
    shape ``(n, size)`` (a row's counts side by side, for fast gathers)."""
    draws = rng.integers(0, n, size=(size, n), dtype=np.int64 if n * size > 2**31 - 1 else np.int32)
    draws *= size
    draws += np.arange(size, dtype=draws.dtype)[:, None]
    return np.bincount(draws.ravel(), minlength=size * n).reshape(n, size).astype(np.float64)


class _AUCByWeights:
    """ROC AUC of one score under many resample weightings, ties counted half.

    AUC = sum over churners i of w_i x (weight of stayers scored below i, plus
    half of those tied with i), over (churner weight x stayer weight). Where
    each churner falls among the sorted stayers does not depend on the
    weights, so it is found once; a weighting then costs one cumulative sum
    over the stayers and one gather per churner. Columns of ``weights`` are
    resamples; NaN where a resample holds one class only.
    """

    def __init__(self, y: np.ndarray, score: np.ndarray):
        positive = y > 0.5
        self.pos = np.flatnonzero(positive)
        negatives = np.flatnonzero(~positive)
        self.neg = negatives[np.argsort(score[negatives], kind="stable")]
        ordered = score[self.neg]
        self.left = np.searchsorted(ordered, score[self.pos], side="left")
        self.right = np.searchsorted(ordered, score[self.pos], side="right")
        self.ties = bool((self.left != self.right).any())

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        below = np.zeros((len(self.neg) + 1, weights.shape[1]))
        np.cumsum(weights[self.neg], axis=0, out=below[1:])
        under = below[self.left]
        if self.ties:
            under += below[self.right]
            under *= 0.5
        w_pos = weights[self.pos]
        num = np.einsum("ij,ij->j", w_pos, under)
        den = w_pos.sum(axis=0) * below[-1]
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def compare_with_baselines(
    y_churn, risks, stage_losses, *, n_resamples=N_RESAMPLES, level=LEVEL, random_state=RANDOM_STATE
) -> pd.DataFrame:
    """The model minus each baseline, with paired bootstrap intervals over the customers.

    Each resample draws the customers with replacement; the model and every
    baseline are scored on the same draw, so the interval is that of the
    difference, not of each metric apart. The resamples are processed in
    blocks with one sort per model, so the cost grows like ``n_resamples x
    rows`` with no Python loop over either.

    Parameters
    ----------
    y_churn : array-like of 0/1
        Realised churn of the rows.
    risks : dict
        Predicted churn risk of the rows by name; ``"model"`` and the baselines.
    stage_losses : dict
        Each row's next-stage log loss by name (same names), or an empty dict.
    n_resamples : int, default 400
        Bootstrap resamples.
    level : float, default 0.95
        Coverage of the percentile intervals.
    random_state : int, default 0
        Seed of the resampling.

    Returns
    -------
    DataFrame
        One row per baseline and metric (ROC AUC and Brier score of churn,
        next-stage log loss): ``baseline``, ``metric``, ``model`` and
        ``value`` (the two metrics on all rows), ``difference`` (model minus
        baseline), ``low`` and ``high`` (the interval of the difference) and
        ``verdict``: "better" or "worse" when the interval excludes no
        difference, else "not distinguishable" ("not measured" when the
        metric is undefined, e.g. one class).

    Examples
    --------
    >>> import numpy as np
    >>> from cjml.evaluation import compare_with_baselines
    >>> y = np.array([1, 0, 1, 0, 1, 0, 0, 1])
    >>> risks = {"model": np.array([.9, .2, .8, .3, .7, .1, .4, .6]), "prior": np.full(8, .5)}
    >>> table = compare_with_baselines(y, risks, {}, n_resamples=200)
    >>> table[["metric", "difference"]].round(4).to_numpy().tolist()
    [['roc_auc', 0.5], ['brier', -0.175]]

    The model ranks every churner above every stayer (AUC 1 against the
    prior's 0.5) and its Brier score is 0.175 lower; the intervals and
    verdicts come from 200 paired resamples of the 8 customers.
    """
    y = np.asarray(y_churn, dtype=float)
    n = len(y)
    clipped = {k: np.clip(np.asarray(v, dtype=float), _EPS, 1 - _EPS) for k, v in risks.items()}
    per_row = {("brier", k): (p - y) ** 2 for k, p in clipped.items()}
    per_row.update({("log_loss", k): np.asarray(v, dtype=float) for k, v in stage_losses.items()})
    names = list(clipped)
    aucs = {k: _AUCByWeights(y, p) for k, p in clipped.items()}
    losses = np.column_stack(list(per_row.values())) if per_row else np.zeros((n, 0))
    rng = np.random.default_rng(random_state)
    auc_parts: list[np.ndarray] = []
    loss_parts: list[np.ndarray] = []
    block = max(1, min(n_resamples, 2_000_000 // max(n, 1)))  # about 16 MB of weights at a time
    done = 0
    while n and done < n_resamples:
        size = min(block, n_resamples - done)
        weights = _resample_counts(rng, n, size)
        auc_parts.append(np.column_stack([aucs[k](weights) for k in names]))
        loss_parts.append(weights.T @ losses / n)
        done += size
    auc_samples = np.concatenate(auc_parts) if auc_parts else np.zeros((0, len(names)))
    loss_samples = np.concatenate(loss_parts) if loss_parts else np.zeros((0, losses.shape[1]))
    samples = {("roc_auc", k): auc_samples[:, i] for i, k in enumerate(names)}
    samples.update({key: loss_samples[:, i] for i, key in enumerate(per_row)})
    two_classes = 0 < y.sum() < n
    point = {
        ("roc_auc", k): (float(aucs[k](np.ones((n, 1)))[0]) if two_classes else math.nan)
        for k in names
    }
    point.update({key: float(loss.mean()) if n else math.nan for key, loss in per_row.items()})
    tail = (1 - level) / 2 * 100
    rows = []
    for baseline in [k for k in names if k != "model"]:
        for _, metric, higher, _ in COMPARED:
            if (metric, baseline) not in point or (metric, "model") not in point:
                continue
            diff = samples[(metric, "model")] - samples[(metric, baseline)]
            ok = diff[np.isfinite(diff)]
            low, high = (
                np.percentile(ok, [tail, 100 - tail]) if len(ok) >= 10 else (math.nan, math.nan)
            )
            d = point[(metric, "model")] - point[(metric, baseline)]
            if not (np.isfinite(d) and np.isfinite(low)):
                verdict = "not measured"
            elif (low > 0) if higher else (high < 0):
                verdict = "better"
            elif (high < 0) if higher else (low > 0):
                verdict = "worse"
            else:
                verdict = "not distinguishable"
            rows.append(
                {
                    "baseline": baseline,
                    "metric": metric,
                    "model": point[(metric, "model")],
                    "value": point[(metric, baseline)],
                    "difference": d,
                    "low": float(low),
                    "high": float(high),
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["baseline", "metric", "model", "value", "difference", "low", "high", "verdict"],
    )


def _stage_proba(model, X, classes) -> np.ndarray:
    """A model's next-stage probabilities, reindexed to ``classes``."""
    p = pd.DataFrame(model.predict_proba(X), columns=list(model.classes_))
    return p.reindex(columns=list(classes), fill_value=0.0).to_numpy()


def _signed(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:+.4f}"


def _plain_table(frame: pd.DataFrame) -> dict:
    """A metric table as {row: {column: float or None}}."""
    return {
        str(k): {str(c): (None if pd.isna(v) else float(v)) for c, v in row.items()}
        for k, row in frame.to_dict(orient="index").items()
    }


def _table_from_plain(table: dict, name: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(table, orient="index", dtype=float)
    return frame.rename_axis(name)


@dataclass
class PopulationMetrics:
    """The models and baselines on one population of the test customers.

    Made by :func:`build_report` and :func:`cross_validate`; an
    :class:`EvaluationReport` holds one per population, the active customers
    first.

    Parameters
    ----------
    name : str
        ``"active"`` (an event within the horizon before the cutoff) or
        ``"lookback"`` (every customer of the lookback population).
    title : str
        Who they are, in words.
    n : int
        Number of customers.
    churn_rate : float
        Their realised churn rate.
    churn : DataFrame
        One row per model, columns from :func:`churn_metrics`.
    next_stage : DataFrame
        One row per model, columns from :func:`stage_metrics`.
    comparison : DataFrame
        The model minus each baseline with paired bootstrap intervals
        (:func:`compare_with_baselines`).
    """

    name: str
    title: str
    n: int
    churn_rate: float
    churn: pd.DataFrame
    next_stage: pd.DataFrame
    comparison: pd.DataFrame

    @property
    def words(self) -> str:
        """How sentences name this population ("the active customers")."""
        return _POPULATION_WORDS.get(self.name, f"the {self.name} customers")

    def sentences(self) -> list[str]:
        """Plain sentences for every comparison the model does not win beyond noise.

        Returns
        -------
        list of str
            For each baseline, one sentence naming the metrics on which the
            model is not distinguishable from it and one naming those on
            which it is worse, with the differences and their intervals; or
            a single sentence saying the model beats every baseline beyond
            noise.
        """
        names = {metric: name for _, metric, _, name in COMPARED}
        rows = self.comparison
        out = [
            f"On {self.words} the {names[metric]} cannot be compared with the baselines "
            "(one class only among these customers, or too few of them)."
            for metric in dict.fromkeys(rows.loc[rows["verdict"] == "not measured", "metric"])
        ]
        for baseline in dict.fromkeys(rows["baseline"]):
            for verdict, relation in (
                ("not distinguishable", "not distinguishable from"),
                ("worse", "worse than"),
            ):
                these = rows[(rows["baseline"] == baseline) & (rows["verdict"] == verdict)]
                if these.empty:
                    continue
                metrics = [names[m] for m in these["metric"]]
                numbers = [
                    f"difference {_signed(r.difference)}, {LEVEL:.0%} interval "
                    f"{_signed(r.low)} to {_signed(r.high)}"
                    for r in these.itertuples(index=False)
                ]
                if len(metrics) > 1:
                    numbers = [f"{m} {n}" for m, n in zip(metrics, numbers, strict=True)]
                subject = (
                    metrics[0]
                    if len(metrics) == 1
                    else ", ".join(metrics[:-1]) + f" and {metrics[-1]}"
                )
                out.append(
                    f"On {self.words} the model's {subject} "
                    f"{'is' if len(metrics) == 1 else 'are'} {relation} {baseline}'s"
                    f"{' beyond noise' if verdict == 'worse' else ''} "
                    f"({'; '.join(numbers)})."
                )
        if not out and len(rows):
            measured = ", ".join(dict.fromkeys(names[m] for m in rows["metric"]))
            out.append(
                f"On {self.words} the model is better than every baseline beyond noise "
                f"({measured}; {LEVEL:.0%} paired bootstrap intervals)."
            )
        return out

    def comparison_table(self) -> pd.DataFrame:
        """The comparison as a readable table: baselines by metric, "+d (low to high)".

        Returns
        -------
        DataFrame
            One row per baseline, one column per compared metric; each cell
            the model minus the baseline and its interval, as text.
        """
        if self.comparison.empty:
            return pd.DataFrame()
        cell = self.comparison.assign(
            text=[
                f"{_signed(d)} ({_signed(lo)} to {_signed(hi)})"
                for d, lo, hi in self.comparison[["difference", "low", "high"]].itertuples(
                    index=False
                )
            ]
        )
        labels = {"roc_auc": "roc_auc", "brier": "brier", "log_loss": "next-stage log_loss"}
        table = cell.pivot(index="baseline", columns="metric", values="text")
        order = [m for _, m, _, _ in COMPARED if m in table.columns]
        table = table.reindex(index=list(dict.fromkeys(self.comparison["baseline"])), columns=order)
        return table.rename(columns=labels).rename_axis(index=None, columns=None)

    def to_dict(self) -> dict:
        """Plain values (JSON-serialisable); :meth:`from_dict` rebuilds the population.

        Returns
        -------
        dict
            Name, title, size, churn rate, both metric tables and the
            comparison rows.
        """
        comparison = [
            {
                k: (
                    None
                    if isinstance(v, float) and not np.isfinite(v)
                    else v
                    if isinstance(v, str)
                    else float(v)
                )
                for k, v in row.items()
            }
            for row in self.comparison.to_dict(orient="records")
        ]
        return {
            "name": self.name,
            "title": self.title,
            "n": int(self.n),
            "churn_rate": None if pd.isna(self.churn_rate) else float(self.churn_rate),
            "churn": _plain_table(self.churn),
            "next_stage": _plain_table(self.next_stage),
            "comparison": comparison,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PopulationMetrics:
        """Rebuild a population from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict
            What :meth:`to_dict` returned (possibly through JSON).

        Returns
        -------
        PopulationMetrics
            The same population.
        """
        comparison = pd.DataFrame(
            data["comparison"],
            columns=[
                "baseline",
                "metric",
                "model",
                "value",
                "difference",
                "low",
                "high",
                "verdict",
            ],
        )
        for c in ("model", "value", "difference", "low", "high"):
            comparison[c] = comparison[c].astype(float)
        return cls(
            name=data["name"],
            title=data["title"],
            n=int(data["n"]),
            churn_rate=math.nan if data["churn_rate"] is None else data["churn_rate"],
            churn=_table_from_plain(data["churn"], "churn"),
            next_stage=_table_from_plain(data["next_stage"], "next stage"),
            comparison=comparison,
        )


def training_sample_text(sample: dict | None) -> str:
    """ ", of a random 15% of the customers (...)": how a training set too large was cut,
    or "" when it was not (``metadata["training_sample"]`` of :func:`cjml.train`)."""
    if not sample:
        return ""
    share = sample["customers"] / sample["of_customers"]
    limit = f"(max_training_rows={sample['max_rows']}, --max-training-rows {sample['max_rows']})"
    allowed = sample.get("max_rows_for_features", sample["max_rows"])
    if "max_rows_for_features" in sample and sample["of_rows"] > allowed:
        why = (
            f"{sample['of_rows']:,} rows of {sample['features']} features, more than the "
            f"{allowed:,} allowed: the limit of {sample['max_rows']:,} rows {limit} holds for "
            f"rows of at most {sample['features_per_row']} features, wider rows in proportion"
        )
    elif sample["of_rows"] > sample["max_rows"] or "of_history_events" not in sample:
        why = f"{sample['of_rows']:,} rows, more than the {sample['max_rows']:,} allowed {limit}"
    else:  # the rows fit, their histories did not
        why = (
            f"{sample['of_rows']:,} rows whose histories hold {sample['of_history_events']:,} "
            f"events, more than the {sample['max_history_events']:,} allowed "
            f"({sample['max_history_events'] // sample['max_rows']} events a row, with "
            f"{limit[1:-1]})"
        )
    return (
        f", of a random {share:.0%} of the customers: {sample['customers']:,} of "
        f"{sample['of_customers']:,}, since the whole training set would have had {why}"
    )


@dataclass
class EvaluationReport:
    """Models and baselines on the same held-out later cutoff (or out-of-fold rows).

    Made by :func:`cjml.evaluate`, :func:`cross_validate` and :func:`cjml.train`.
    The text and HTML views lead with :attr:`populations`, the customers
    active within the horizon before the cutoff first; ``churn``,
    ``next_stage``, ``y_churn`` and ``risks`` cover every test customer (the
    lookback population), as before.

    Parameters
    ----------
    churn : DataFrame
        One row per model (``model`` first, then the baselines), columns from
        :func:`churn_metrics`, on every test customer.
    next_stage : DataFrame
        One row per model, columns from :func:`stage_metrics`, on every test
        customer.
    confusion : DataFrame
        The model's next-stage confusion matrix: realised stage (rows) by
        predicted stage (columns), counts.
    importance : Series
        Share of the churn model's total gain by feature family.
    info : dict
        Test cutoff, training cutoffs, horizon, lookback and row counts.
    y_churn : ndarray
        Realised churn of the test rows (for the plots).
    risks : dict
        Predicted churn risk of the test rows, by model name.
    policy : dict, optional
        The recommendation policy chosen at training and the off-policy
        comparison behind it (:meth:`cjml.effects.PolicyChoice.to_dict`).
    populations : list of PopulationMetrics
        The same metrics per population, with the model's paired bootstrap
        differences from each baseline: the customers active within the
        horizon before the cutoff, then the whole lookback population (one
        entry when they are the same customers).
    folds : DataFrame, optional
        With cross-validation: per fold, its customers, churn rate and the
        model's ROC AUC, Brier score and next-stage log loss.
    value : dict, optional
        The value model against its baselines on the same customers (plain
        values, :func:`cjml.value.value_report`); None without a value model.
    survival : dict, optional
        The time-to-churn curve's integrated Brier score and concordance
        (plain values, :func:`cjml.survival.survival_report`); None without one.
    """

    churn: pd.DataFrame
    next_stage: pd.DataFrame
    confusion: pd.DataFrame
    importance: pd.Series
    info: dict
    y_churn: np.ndarray | None = field(repr=False, default=None)
    risks: dict = field(repr=False, default_factory=dict)
    policy: dict | None = None
    populations: list = field(default_factory=list)
    folds: pd.DataFrame | None = None
    value: dict | None = None
    survival: dict | None = None

    def sentences(self) -> list[str]:
        """The plain verdicts on the model against the baselines, population by population.

        Returns
        -------
        list of str
            For each population, active customers first, a sentence for
            every baseline and metric the model does not beat beyond noise
            (or one saying it beats them all).
        """
        return [line for pop in self.populations for line in pop.sentences()]

    def shift_sentence(self) -> str | None:
        """A warning when the held-out churn rate lies far outside the training cutoffs'.

        The training rows and the held-out rows are the same population (the
        lookback population) at different cutoffs. When the held-out one
        churns at a rate more than 10 points outside the range of every
        training cutoff's (and beyond its sampling noise), the period after the
        held-out cutoff behaves unlike the training periods: no model fitted on
        them can be calibrated there, and every figure of the report judges
        that change as much as the models.

        Returns
        -------
        str or None
            The sentence, or None when the rates agree, with cross-validation
            (one cutoff), or for reports saved before the training rates.
        """
        i = self.info
        rates = i.get("train_churn_rates")
        if i.get("cv") or not rates:
            return None
        rates = [float(r) for r in rates]  # text in a report read back from a bundle
        low, high = min(rates), max(rates)
        rate, n = float(i["churn_rate"]), max(int(i["n_test"]), 1)
        margin = SHIFT_POINTS + 3 * np.sqrt(max(rate * (1 - rate), 1e-12) / n)
        if low - margin <= rate <= high + margin:
            return None
        span = f"{low:.1%}" if len(rates) == 1 else f"{low:.1%} to {high:.1%}"
        return (
            f"The held-out cutoff's churn rate ({rate:.1%}) lies far outside the training "
            f"cutoffs' ({span}): the {i['horizon']} after {i['test_cutoff']} behave unlike the "
            "training periods (a new cohort, a change in the business, in the tracking, or a "
            "log that stops early?). Models fitted on the past cannot be calibrated there, so "
            "these figures judge that change as much as the models: look at the log around "
            "the held-out cutoff, or hold out another one (--test-cutoff), before trusting them."
        )

    def policy_table(self) -> pd.DataFrame | None:
        """The candidate recommendation policies and their held-out values, or None.

        Returns
        -------
        DataFrame or None
            One row per policy: ``value`` (estimated drop-off rate under the
            policy), ``vs_no_action`` and ``vs_default`` with their intervals,
            ``share_acted``, ``predicted_gain``, ``measured_gain`` and
            ``confirmed`` (:meth:`cjml.effects.PolicyChoice.confirmed`; not in
            reports from before them) and ``chosen``.
        """
        if not self.policy or not self.policy.get("table"):
            return None
        table = pd.DataFrame(self.policy["table"])
        if table.empty or "policy" not in table.columns:  # no held-out decision to value
            return None
        return table.set_index("policy")

    def _policy_text(self) -> str:
        table = self.policy_table()
        if self.policy is None:
            return ""
        head = (
            f"\n\nrecommendation policy: {self.policy['policy']}"
            + (f" ({self.policy['touchpoint']})" if self.policy["policy"] == "single" else "")
            + f": {self.policy['reason']}"
        )
        if table is None:
            return head + "\n"
        # said only when a value fell outside 0-1 (that candidate could pass no test)
        shown_range = "in_range" in table.columns and not table["in_range"].astype(bool).all()
        cols = [
            "value",
            *(["in_range"] if shown_range else []),
            "vs_no_action",
            "vs_no_action_low",
            "vs_no_action_high",
            "share_acted",
            *[c for c in ("predicted_gain", "confirmed") if c in table.columns],
            "chosen",
        ]
        return (
            head + f"\n(off-policy values on {self.policy['n_anchors']:,} held-out "
            "decisions: estimated drop-off rate, and the difference with no action, "
            + {
                "overlap": "overlap-weighted",
                "normalised": "inverse-propensity weighted, self-normalised",
            }.get(self.policy.get("test", "inverse"), "inverse-propensity weighted")
            + (
                "; predicted_gain: the drop-off reduction the policy's model expected, "
                "confirmed: the share of it the overlap-weighted difference bears out"
                if "confirmed" in table.columns
                else ""
            )
            + ")\n"
            + table[cols].to_string(float_format=lambda v: f"{v:.4f}")
            + "\n"
        )

    # -- text and html
    def _head(self) -> str:
        i = self.info
        lookback = str(i.get("lookback", "none"))
        who = (
            "customers seen before it"
            if lookback == "none"
            else f"customers with an event in the {lookback} before it"
        )
        head = (
            f"{'cutoff' if i.get('cv') else 'test cutoff'} {i['test_cutoff']} (horizon "
            f"{i['horizon']}): {i['n_test']:,} {who}, churn rate {i['churn_rate']:.1%}"
        )
        if i.get("cv"):
            k = int(i["cv"])
            return (
                head + f"; {k}-fold cross-validation over these customers: each fold scored "
                f"by the models and baselines fitted on the other "
                f"{'fold' if k == 2 else f'{k - 1}'} (folds stratified "
                f"by churn, seed {i.get('cv_random_state', RANDOM_STATE)})"
                + training_sample_text(i.get("training_sample"))
            )
        cutoffs = i["train_cutoffs"]
        if len(cutoffs) == 1:
            head += f"; trained on {i['n_train']:,} rows from 1 earlier cutoff ({cutoffs[0]})"
        else:
            head += (
                f"; trained on {i['n_train']:,} rows from {len(cutoffs)} earlier cutoffs "
                f"({cutoffs[0]} .. {cutoffs[-1]})"
            )
        return head + training_sample_text(i.get("training_sample"))

    def to_text(self) -> str:
        """The report as plain text, for terminals and logs.

        Returns
        -------
        str
            The header line, then for each population (the active customers
            first) its metric tables, the model's differences from each
            baseline with their intervals and the plain verdicts; the spread
            over folds with cross-validation; the recommendation policy.
        """

        def fmt(frame):
            return frame.to_string(float_format=lambda v: f"{v:.4f}")

        parts = [self._head()]
        shift = self.shift_sentence()
        if shift:
            parts.append(f"warning: {shift}")
        if not self.populations:  # a report saved before populations existed
            parts.append(f"churn\n{fmt(self.churn)}\n\nnext stage\n{fmt(self.next_stage)}")
        n_resamples = self.info.get("n_resamples", N_RESAMPLES)
        for pop in self.populations:
            block = (
                f"== {pop.title}: {pop.n:,} customers, churn rate {pop.churn_rate:.1%}\n\n"
                f"churn\n{fmt(pop.churn)}\n\nnext stage\n{fmt(pop.next_stage)}"
            )
            table = pop.comparison_table()
            if not table.empty:
                block += (
                    f"\n\nmodel minus baseline, {LEVEL:.0%} paired bootstrap interval "
                    f"({n_resamples} resamples of these customers)\n{table.to_string()}"
                )
            block += "".join(f"\n{line}" for line in pop.sentences())
            parts.append(block)
        if self.folds is not None and len(self.folds):
            spread = _with_spread(self.folds).to_string(
                formatters={"n": "{:,.0f}".format}, float_format=lambda v: f"{v:.4f}"
            )
            parts.append(f"per fold (the model, out-of-fold)\n{spread}")
        parts += [self._value_text(), self._survival_text()]
        return "\n\n".join(p for p in parts if p) + "\n" + self._policy_text()

    def _repr_html_(self) -> str:
        i = self.info
        what = (
            f"<b>Cross-validated at cutoff {html.escape(str(i['test_cutoff']))}</b>"
            if i.get("cv")
            else f"<b>Held-out cutoff {html.escape(str(i['test_cutoff']))}</b>"
        )
        parts = [f"<p>{what}. {html.escape(self._head())}. Best value per column in bold.</p>"]
        shift = self.shift_sentence()
        if shift:
            parts.append(f"<p><b>Warning:</b> {html.escape(shift)}</p>")
        if not self.populations:
            parts.append(
                f"<h4>Churn</h4>{_metric_table_html(self.churn, ('brier', 'log_loss'))}"
                f"<h4>Next stage</h4>{_metric_table_html(self.next_stage, ('log_loss',))}"
            )
        for pop in self.populations:
            table = pop.comparison_table()
            parts.append(
                f"<h3>{html.escape(pop.title[:1].upper() + pop.title[1:])}: {pop.n:,} customers, "
                f"churn rate {pop.churn_rate:.1%}</h3>"
                f"<h4>Churn</h4>{_metric_table_html(pop.churn, ('brier', 'log_loss'))}"
                f"<h4>Next stage</h4>{_metric_table_html(pop.next_stage, ('log_loss',))}"
                + (
                    ""
                    if table.empty
                    else f"<h4>Model minus baseline ({LEVEL:.0%} paired bootstrap interval)</h4>"
                    f"{table.to_html()}"
                )
                + "".join(f"<p>{html.escape(line)}</p>" for line in pop.sentences())
            )
        if self.folds is not None and len(self.folds):
            parts.append(
                "<h4>Per fold (the model, out-of-fold)</h4>"
                + _with_spread(self.folds).to_html(float_format=lambda v: f"{v:.4f}")
            )
        if len(self.confusion):
            parts.append(
                "<h4>Next-stage confusion (rows: realised, columns: predicted)</h4>"
                + self.confusion.to_html()
            )
        parts += [self._value_html(), self._survival_html()]
        return f"<div class='cjml-evaluation'>{''.join(parts)}{self._policy_html()}</div>"

    # The value and survival sections: rendered by their own modules' functions
    # (cjml.value, cjml.survival), which own their wording.
    def _value_text(self) -> str:
        if not self.value:
            return ""
        from cjml.value._metrics import value_text

        return value_text(self.value)

    def _value_html(self) -> str:
        if not self.value:
            return ""
        from cjml.value._metrics import value_html

        return value_html(self.value)

    def _survival_text(self) -> str:
        from cjml.survival import survival_text

        return survival_text(self.survival or {})

    def _survival_html(self) -> str:
        from cjml.survival import survival_html

        return survival_html(self.survival or {})

    def _policy_html(self) -> str:
        if self.policy is None:
            return ""
        table = self.policy_table()
        body = "" if table is None else table.to_html(float_format=lambda v: f"{v:.4f}")
        return (
            f"<h4>Recommendation policy: {html.escape(str(self.policy['policy']))}</h4>"
            f"<p>{html.escape(str(self.policy['reason']))}.</p>{body}"
        )

    def to_dict(self) -> dict:
        """Plain metrics (JSON-serialisable), as stored in bundle metadata.

        Returns
        -------
        dict
            Metric tables and split facts as plain values: ``churn`` and
            ``next_stage`` (every test customer), ``populations`` (active
            customers first, with the paired comparisons), ``folds``,
            ``confusion``, ``importance``, ``policy`` and ``info``.
            :meth:`from_dict` rebuilds the report from it.
        """
        folds = None
        if self.folds is not None:
            folds = [
                {
                    k: (None if pd.isna(v) else int(v) if k in ("fold", "n") else float(v))
                    for k, v in row.items()
                }
                for row in self.folds.reset_index().to_dict(orient="records")
            ]
        return {
            "churn": _plain_table(self.churn),
            "next_stage": _plain_table(self.next_stage),
            "populations": [pop.to_dict() for pop in self.populations],
            "folds": folds,
            "confusion": {
                "classes": [str(c) for c in self.confusion.index],
                "counts": self.confusion.to_numpy().astype(int).tolist(),
            },
            "importance": {str(k): float(v) for k, v in self.importance.items()},
            "policy": self.policy,
            "value": self.value,
            "survival": self.survival,
            "info": {
                k: (
                    list(map(str, v))
                    if isinstance(v, list)
                    else v
                    if isinstance(v, int | float)
                    else str(v)
                )
                for k, v in self.info.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> EvaluationReport:
        """Rebuild a report from :meth:`to_dict`'s output (e.g. a bundle's metadata).

        Parameters
        ----------
        data : dict
            What :meth:`to_dict` returned, possibly through JSON. Reports saved
            by earlier versions (without populations) are read too.

        Returns
        -------
        EvaluationReport
            The same tables, text and HTML; without the per-customer risks,
            so without the plots.
        """
        confusion = data.get("confusion") or {"classes": [], "counts": []}
        classes = confusion["classes"]
        folds = data.get("folds")
        return cls(
            churn=_table_from_plain(data["churn"], "churn"),
            next_stage=_table_from_plain(data["next_stage"], "next stage"),
            confusion=pd.DataFrame(
                np.asarray(confusion["counts"], dtype=np.int64).reshape(len(classes), len(classes)),
                index=pd.Index(classes, name="realised"),
                columns=pd.Index(classes, name="predicted"),
            ),
            importance=pd.Series(data.get("importance") or {}, dtype=float),
            info=dict(data["info"]),
            policy=data.get("policy"),
            populations=[PopulationMetrics.from_dict(p) for p in data.get("populations") or []],
            folds=None if folds is None else pd.DataFrame(folds).set_index("fold"),
            value=data.get("value"),
            survival=data.get("survival"),
        )

    # -- plots
    def plot_roc(self, ax=None):
        """ROC curves of the churn model and the baselines.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when omitted.

        Returns
        -------
        matplotlib Axes
            The axes drawn on.
        """
        from sklearn.metrics import roc_curve

        ax = _axes(ax)
        for name, risk in self.risks.items():
            if np.unique(risk).size > 1:
                fpr, tpr, _ = roc_curve(self.y_churn, risk)
                ax.plot(fpr, tpr, label=f"{name} (AUC {self.churn.loc[name, 'roc_auc']:.3f})")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Churn ROC")
        ax.legend(loc="lower right", fontsize="small")
        return ax

    def plot_calibration(self, ax=None, n_bins: int = 10):
        """Calibration curve: mean predicted risk against the realised churn rate.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.
        n_bins : int, default 10
            Quantile bins of predicted risk.

        Returns
        -------
        matplotlib Axes
            The axes drawn on.
        """
        from sklearn.calibration import calibration_curve

        ax = _axes(ax)
        for name in ("model", "rfm_logistic"):
            if name in self.risks:
                true, pred = calibration_curve(
                    self.y_churn, self.risks[name], n_bins=n_bins, strategy="quantile"
                )
                ax.plot(pred, true, marker="o", label=name)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set(
            xlabel="mean predicted churn risk", ylabel="realised churn rate", title="Calibration"
        )
        ax.legend(loc="upper left", fontsize="small")
        return ax

    def plot_lift(self, ax=None):
        """Cumulative gain: share of churners found in the top x% by risk.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.

        Returns
        -------
        matplotlib Axes
            The axes drawn on.
        """
        ax = _axes(ax)
        y = np.asarray(self.y_churn, dtype=float)
        share = np.arange(1, len(y) + 1) / len(y)
        for name, risk in self.risks.items():
            if name == "prior":
                continue
            found = np.cumsum(y[np.argsort(-risk, kind="stable")]) / max(y.sum(), 1)
            ax.plot(share, found, label=name)
        ax.plot(
            share,
            np.minimum(share * len(y) / max(y.sum(), 1), 1),
            color="black",
            linestyle="--",
            linewidth=1,
            label="perfect",
        )
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
        for cut in (0.1, 0.2):
            ax.axvline(cut, color="grey", linewidth=0.5)
        ax.set(
            xlabel="share of customers contacted (highest risk first)",
            ylabel="share of churners found",
            title="Gain",
        )
        ax.legend(loc="lower right", fontsize="small")
        return ax

    def plot_importance(self, ax=None):
        """The churn model's gain by feature family.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.

        Returns
        -------
        matplotlib Axes
            The axes drawn on.
        """
        ax = _axes(ax)
        imp = self.importance.sort_values()
        ax.barh(imp.index.astype(str), imp.to_numpy())
        ax.set(xlabel="share of total gain", title="Churn drivers by feature family")
        return ax

    def plot(self):
        """All four plots in one figure.

        Returns
        -------
        matplotlib Figure
            The figure with ROC, calibration, gain and importance panels.
        """
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 2, figsize=(11, 9))
        self.plot_roc(axes[0, 0])
        self.plot_calibration(axes[0, 1])
        self.plot_lift(axes[1, 0])
        self.plot_importance(axes[1, 1])
        fig.tight_layout()
        return fig


def _metric_table_html(frame: pd.DataFrame, lower_is_better=()) -> str:
    """A metrics table with the best value of each column in bold (no jinja2 needed)."""
    best: dict[Hashable, Any] = {
        c: (
            None
            if frame[c].isna().all()
            else frame[c].idxmin()
            if c in lower_is_better
            else frame[c].idxmax()
        )
        for c in frame.columns
    }
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for idx, row in frame.iterrows():
        cells = "".join(
            f"<td style='font-weight:bold'>{v:.4f}</td>" if best[c] == idx else f"<td>{v:.4f}</td>"
            for c, v in row.items()
        )
        rows.append(f"<tr><th>{html.escape(str(idx))}</th>{cells}</tr>")
    return (
        f"<table class='cjml-metrics'><thead><tr><th></th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _with_spread(folds: pd.DataFrame) -> pd.DataFrame:
    """The per-fold table with its mean and standard deviation below."""
    table = folds.astype(float)
    return pd.concat([table, table.mean().to_frame("mean").T, table.std().to_frame("sd").T])


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.5, 4.5))[1]


def family_importance(model, feature_families: dict) -> pd.Series:
    """Share of a LightGBM model's total split gain by feature family.

    Parameters
    ----------
    model : ChurnModel or NextStageModel
        A fitted model (``booster_``).
    feature_families : dict
        Column name to family name (``featurizer.feature_families_``).

    Returns
    -------
    Series
        Gain share per family, largest first.
    """
    booster = model.booster_
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name())
    names = list(getattr(model, "feature_names_in_", gain.index))
    gain.index = names
    family = pd.Series(names, index=names).map(feature_families).fillna("other")
    by_family = gain.groupby(family).sum()
    total = by_family.sum()
    return (by_family / total if total > 0 else by_family).sort_values(ascending=False)


def build_report(
    churn_model,
    stage_model,
    featurizer,
    train: pd.DataFrame,
    test: pd.DataFrame,
    info: dict,
    *,
    active=None,
    n_resamples=N_RESAMPLES,
    random_state=RANDOM_STATE,
) -> EvaluationReport:
    """Score models and freshly fitted baselines on the same test rows.

    Parameters
    ----------
    churn_model, stage_model : ChurnModel, NextStageModel
        Fitted models.
    featurizer : JourneyFeaturizer
        The fitted featurizer (for feature names and families).
    train, test : DataFrame
        Training and test sets from :func:`cjml.make_training_set`; the
        baselines are fitted on ``train``.
    info : dict
        Split description (test cutoff, training cutoffs, horizon, lookback).
    active : array-like of bool, optional
        Which test rows are customers active within the horizon before the
        cutoff; the report then leads with them. Without it, only the whole
        test population is reported.
    n_resamples : int, default 400
        Paired bootstrap resamples (:func:`compare_with_baselines`).
    random_state : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    EvaluationReport
        Metrics of the models and the baselines on the same test rows.
    """
    names = list(featurizer.feature_names_out_)
    X_train, X_test = train[names], test[names]
    y_train, y = train["churn"].to_numpy(), test["churn"].to_numpy()
    s_train, s_test = train["next_stage"].astype(str), test["next_stage"].astype(str).to_numpy()
    classes = list(stage_model.classes_)

    risks = {"model": churn_model.predict_proba(X_test)[:, 1]}
    stage_probas = {"model": _stage_proba(stage_model, X_test, classes)}
    for name, baseline in BASELINES.items():
        risks[name] = _positive_proba(baseline().fit(X_train, y_train), X_test)
        stage_probas[name] = _stage_proba(baseline().fit(X_train, s_train), X_test, classes)
    return _assemble_report(
        y,
        s_test,
        classes,
        risks,
        stage_probas,
        active=active,
        info={**info, "n_train": len(train), **_train_churn_rates(train)},
        importance=family_importance(churn_model, featurizer.feature_families_),
        n_resamples=n_resamples,
        random_state=random_state,
    )


def _train_churn_rates(train: pd.DataFrame) -> dict:
    """``train_churn_rates``: the churn rate of the training rows at each cutoff."""
    if "cutoff" not in train.columns or not len(train):
        return {}
    rates = train.groupby("cutoff", sort=True)["churn"].mean()
    return {"train_churn_rates": [round(float(r), 6) for r in rates]}


def _assemble_report(
    y,
    stages,
    classes,
    risks,
    stage_probas,
    *,
    active,
    info,
    importance,
    n_resamples,
    random_state,
    folds=None,
) -> EvaluationReport:
    """The report from predictions of the test rows: tables, populations, comparisons."""
    y = np.asarray(y)
    churn = pd.DataFrame({k: churn_metrics(y, v) for k, v in risks.items()}).T
    stage = pd.DataFrame({k: stage_metrics(stages, v, classes) for k, v in stage_probas.items()}).T
    codes = _stage_codes(stages, classes)
    row_loss = {k: _row_log_loss(codes, v) for k, v in stage_probas.items()}
    predicted = np.asarray(classes, dtype=object)[np.argmax(stage_probas["model"], axis=1)]
    confusion = pd.crosstab(
        pd.Categorical(stages, categories=classes),
        pd.Categorical(predicted, categories=classes),
        rownames=["realised"],
        colnames=["predicted"],
        dropna=False,
    )
    everyone = np.ones(len(y), dtype=bool)
    horizon, lookback = info.get("horizon", "horizon"), info.get("lookback")
    whole = (
        "every customer seen before the cutoff"
        if lookback == "none"
        else "every test customer"
        if lookback is None
        else f"every customer with an event in the {lookback} before the cutoff"
    )
    whole += " (the lookback population)"
    reach = f"active within the {horizon} before the cutoff"
    if active is None:
        groups = [("lookback", whole, everyone)]
    else:
        active = np.asarray(active, dtype=bool)
        if active.all():
            groups = [("active", f"{reach} (every customer of the lookback population)", everyone)]
        elif active.any():
            groups = [
                ("active", f"{reach} (the customers a campaign can still reach)", active),
                ("lookback", whole, everyone),
            ]
        else:
            groups = [
                (
                    "lookback",
                    f"{whole}; none of them active within the {horizon} before the cutoff",
                    everyone,
                )
            ]
    populations = []
    for name, title, rows in groups:
        same = rows is everyone
        populations.append(
            PopulationMetrics(
                name=name,
                title=title,
                n=int(rows.sum()),
                churn_rate=float(y[rows].mean()) if rows.any() else math.nan,
                churn=(
                    churn
                    if same
                    else pd.DataFrame(
                        {k: churn_metrics(y[rows], v[rows]) for k, v in risks.items()}
                    ).T
                ).rename_axis("churn"),
                next_stage=(
                    stage
                    if same
                    else pd.DataFrame(
                        {
                            k: stage_metrics(stages[rows], v[rows], classes)
                            for k, v in stage_probas.items()
                        }
                    ).T
                ).rename_axis("next stage"),
                comparison=compare_with_baselines(
                    y[rows],
                    {k: v[rows] for k, v in risks.items()},
                    {k: v[rows] for k, v in row_loss.items()},
                    n_resamples=n_resamples,
                    random_state=random_state,
                ),
            )
        )
    info = {
        **info,
        "n_test": len(y),
        "churn_rate": float(y.mean()) if len(y) else math.nan,
        "n_active": None if active is None else int(active.sum()),
        "n_resamples": int(n_resamples),
    }
    return EvaluationReport(
        churn=churn.rename_axis("churn"),
        next_stage=stage.rename_axis("next stage"),
        confusion=confusion,
        importance=importance,
        info=info,
        y_churn=y,
        risks=risks,
        populations=populations,
        folds=folds,
    )


def active_within(log, table: pd.DataFrame, within) -> np.ndarray:
    """Which rows of a training table are customers with an event in ``(cutoff - within, cutoff]``.

    Only the customer's own events count (:attr:`cjml.EventLog.activity_mask`).

    With ``within`` the horizon, these are the customers a campaign can still
    reach: the population the report leads with.

    Parameters
    ----------
    log : EventLog
        The events the table was made from.
    table : DataFrame
        Rows with ``customer_id`` and ``cutoff`` (:func:`cjml.make_training_set`).
    within : duration
        How recent the last event at or before the cutoff must be.

    Returns
    -------
    ndarray of bool
        One value per row of ``table``.
    """
    from cjml.features._base import as_log
    from cjml.labels import to_timedelta

    log = as_log(log)
    within = to_timedelta(within, "within")
    ts, cust = log.timestamps_ns, log.customer_codes
    codes = pd.Index(log.customer_ids).get_indexer(table["customer_id"])
    cutoffs = pd.DatetimeIndex(table["cutoff"])
    out = np.zeros(len(table), dtype=bool)
    for cutoff in cutoffs.unique():
        rows = np.asarray(cutoffs == cutoff) & (codes >= 0)
        recent = (ts > (cutoff - within).value) & (ts <= cutoff.value)
        if log.activity_mask is not None:  # what the business sent is not the customer's
            recent &= log.activity_mask
        active = np.bincount(cust[recent], minlength=log.n_customers) > 0
        out[rows] = active[codes[rows]]
    return out


@contextlib.contextmanager
def _small_data_once(unit: str, n: int):
    """Say each model's small-data adaptation once for ``n`` fits (one per fold), not ``n``
    times: the first fit's message, with how many of the others said the same.

    Other warnings pass through unchanged.
    """
    from cjml.exceptions import SmallDataWarning
    from cjml.io._messages import _user_stacklevel

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SmallDataWarning)
        yield
    first: dict[str, tuple[str, int]] = {}
    for w in caught:
        if not issubclass(w.category, SmallDataWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
            continue
        text = str(w.message)
        model = text.split(":", 1)[0]
        said, count = first.get(model, (text, 0))
        first[model] = (said, count + 1)
    for said, count in first.values():
        if count > 1:
            said = (
                f"{said.rstrip('.')} (said by {count} of the {n} {unit}s; this is the first, "
                "the others with figures of their own)."
            )
        warnings.warn(said, SmallDataWarning, stacklevel=_user_stacklevel())


def cross_validate(
    churn_model,
    stage_model,
    featurizer,
    data: pd.DataFrame,
    *,
    cv=5,
    info=None,
    active=None,
    random_state=RANDOM_STATE,
    n_resamples=N_RESAMPLES,
    progress=False,
    value_model=None,
    spend=None,
    value_baselines=None,
) -> EvaluationReport:
    """Customer-level K-fold cross-validation at one cutoff, reported like a held-out test.

    For data with one calibration period and one holdout period (CDNOW's
    classic split): each customer is put in exactly one of ``cv`` folds
    (stratified by churn, :func:`cjml.labels.customer_folds`); fresh copies
    of both models and the baselines are fitted on the other folds and
    predict the fold; the report is made from these out-of-fold predictions,
    with the spread over folds in ``report.folds``.

    Parameters
    ----------
    churn_model, stage_model : ChurnModel, NextStageModel
        The models to copy (cloned: unfitted copies with the same settings).
        The next-stage model takes P(dropped) from the churn model of its
        fold when it has a ``dropped`` class, as in :func:`cjml.train`.
    featurizer : JourneyFeaturizer
        The fitted featurizer that made ``data``.
    data : DataFrame
        The training set at one cutoff (:func:`cjml.make_training_set`).
    cv : int, default 5
        Number of folds: 2 or more, at most the number of customers, and at
        most the number of churners and of stayers (every fold needs both).
    info : dict, optional
        Split description: ``horizon`` and ``lookback`` as text (see
        :func:`duration_text`); the cutoff is taken from ``data``.
    active : array-like of bool, optional
        Which rows are customers active within the horizon before the cutoff
        (:func:`active_within`); the report then leads with them.
    random_state : int, default 0
        Seed of the fold assignment and of the bootstrap.
    n_resamples : int, default 400
        Paired bootstrap resamples.
    progress : bool, default False
        Show a progress bar over the folds.
    value_model : ValueModel, optional
        Copied and fitted fold by fold like the churn model (on ``spend``,
        without its interval); its out-of-fold expected spend,
        ``(1 - risk) * V`` with the fold's churn risk, is reported in
        ``report.value``.
    spend : array-like, optional
        With ``value_model``: each row's spend over the horizon.
    value_baselines : dict of str to ndarray, optional
        With ``value_model``: the value baselines' predictions per row
        (:func:`cjml.value._model.value_baselines`), reported beside it.

    Returns
    -------
    EvaluationReport
        Metrics of the models and the baselines on the out-of-fold
        predictions of every customer, per population, with the per-fold
        metrics of the model in ``folds``.
    """
    from sklearn.base import clone

    from cjml.labels import customer_folds

    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < 2:
        raise ValueError(f"cv must be a whole number of folds, 2 or more (5 is usual), got {cv!r}.")
    cutoffs = pd.DatetimeIndex(data["cutoff"]).unique()
    where = (
        f"at cutoff {cutoffs[0].date()}"
        if len(cutoffs) == 1
        else f"at cutoffs {', '.join(str(c.date()) for c in cutoffs)}"
    )
    first = data.drop_duplicates("customer_id")
    n_customers = len(first)
    churners = int(first["churn"].sum())
    stayers = n_customers - churners
    if cv > n_customers:
        raise ValueError(
            f"cv={cv} folds need at least {cv} customers; the training set {where} "
            f"has {n_customers}. Use cv={n_customers} (--cv {n_customers}) or fewer"
            + (" or more customers." if n_customers >= 2 else ": more customers.")
        )
    if min(churners, stayers) < cv:
        rare, more = (
            ("churners", "a longer horizon gives more")
            if churners < stayers
            else ("stayers", "a shorter horizon gives more")
        )
        fix = (
            f"Use cv={min(churners, stayers)} (--cv {min(churners, stayers)}) or fewer, or "
            f"more customers ({more} {rare})"
            if min(churners, stayers) >= 2
            else f"Too few {rare} to cross-validate: use more customers ({more} {rare}) or "
            "another cutoff"
        )
        raise ValueError(
            f"cv={cv} needs churners and stayers in every fold, so at least {cv} "
            f"of each; the training set {where} has {churners} churners and "
            f"{stayers} stayers among {n_customers} customers. {fix}."
        )
    folds = customer_folds(data["customer_id"], cv, y=data["churn"], random_state=random_state)
    names = list(featurizer.feature_names_out_)
    X, y = data[names], data["churn"].to_numpy()
    stages = data["next_stage"].astype(str)
    row_cutoffs = data["cutoff"]
    classes = list(getattr(stage_model, "classes", None) or sorted(stages.unique()))
    n = len(data)
    risks = {k: np.zeros(n) for k in ("model", *BASELINES)}
    probas = {k: np.zeros((n, len(classes))) for k in risks}
    importances, per_fold = [], []
    expected_spend = np.zeros(n) if value_model is not None else None
    bar = _progress(progress, int(cv), "cross-validate")
    with _small_data_once("cross-validation fold", int(cv)):
        for k in range(cv):
            held = np.flatnonzero(folds == k)
            fit = np.flatnonzero(folds != k)
            X_fit, X_held = X.iloc[fit], X.iloc[held]
            churn = clone(churn_model).fit(X_fit, y[fit], cutoffs=row_cutoffs.iloc[fit])
            stage = clone(stage_model).fit(X_fit, stages.iloc[fit], cutoffs=row_cutoffs.iloc[fit])
            if getattr(stage, "dropped_class", None) in list(stage.classes_):
                stage.attach_churn_model(churn)  # P(dropped) = the calibrated churn risk
            risks["model"][held] = churn.predict_proba(X_held)[:, 1]
            probas["model"][held] = _stage_proba(stage, X_held, classes)
            if expected_spend is not None:
                spend_fit = np.asarray(spend, dtype=float)[fit]
                value = clone(value_model).set_params(n_bootstrap=0)
                value.fit(X_fit, spend_fit, retained=1 - y[fit], cutoffs=row_cutoffs.iloc[fit])
                expected_spend[held] = (1 - risks["model"][held]) * value.predict(X_held)
            for name, baseline in BASELINES.items():
                risks[name][held] = _positive_proba(baseline().fit(X_fit, y[fit]), X_held)
                probas[name][held] = _stage_proba(
                    baseline().fit(X_fit, stages.iloc[fit]), X_held, classes
                )
            importances.append(family_importance(churn, featurizer.feature_families_))
            m = churn_metrics(y[held], risks["model"][held])
            per_fold.append(
                {
                    "fold": k,
                    "n": len(held),
                    "churn_rate": float(y[held].mean()),
                    "roc_auc": m["roc_auc"],
                    "brier": m["brier"],
                    "next_stage_log_loss": stage_metrics(
                        stages.iloc[held], probas["model"][held], classes
                    )["log_loss"],
                }
            )
            bar.update()
    bar.close()
    importance = (
        pd.concat(importances, axis=1).fillna(0.0).mean(axis=1).sort_values(ascending=False)
    )
    info = {
        "horizon": duration_text(getattr(churn_model, "horizon", None)),
        **(info or {}),
        "test_cutoff": cutoffs.max().date(),
        "train_cutoffs": [c.date() for c in cutoffs],
        "n_train": n,
        "cv": int(cv),
        "cv_random_state": random_state,
    }
    report = _assemble_report(
        y,
        stages.to_numpy(),
        classes,
        risks,
        probas,
        active=active,
        info=info,
        importance=importance,
        n_resamples=n_resamples,
        random_state=random_state,
        folds=pd.DataFrame(per_fold).set_index("fold"),
    )
    if expected_spend is not None:
        from cjml.value._model import value_section

        report.value = value_section(
            spend,
            {"model": expected_spend},
            value_baselines,
            {
                "cutoff": str(cutoffs.max().date()),
                "horizon": info["horizon"],
                "cross-validated": f"{int(cv)} folds",
            },
        )
    return report


def _positive_proba(model, X) -> np.ndarray:
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(X))


def duration_text(delta) -> str:
    """A duration as people write it: "30 days", "36 hours"; "none" for None.

    Parameters
    ----------
    delta : Timedelta or None
        The duration.

    Returns
    -------
    str
        The readable duration.
    """
    if delta is None or pd.isna(delta):
        return "none"
    delta = pd.Timedelta(delta)
    if delta == pd.Timedelta(days=delta.days):
        return f"{delta.days} day{'s' if delta.days != 1 else ''}"
    return str(delta)


def _progress(enabled: bool, total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)
