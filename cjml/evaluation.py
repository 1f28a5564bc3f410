"""Honest evaluation: models beside baselines on a later cutoff.

Training rows come from earlier cutoffs; the test rows from one later cutoff
whose label window starts after every training label window has ended. Never
random rows from the same period: customers' futures are correlated, so a
random split leaks. The churn and next-stage models are always reported beside
three baselines fitted on the same training rows and scored on the same test
rows: the class prior, a first-order Markov model on the last stage and
touchpoint, and a logistic regression on recency, frequency and monetary value.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjml.models import MarkovBaseline, PriorBaseline, RFMBaseline

__all__ = ["EvaluationReport", "churn_metrics", "evaluate", "stage_metrics"]

_EPS = 1e-15

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
    rows = np.arange(len(codes))
    p_true = np.clip(proba[rows, codes] / proba.sum(axis=1), _EPS, 1)
    return {
        "accuracy": float(np.mean(predicted == codes)),
        "macro_f1": float(f1_score(codes, predicted, average="macro")),
        "top2_accuracy": float(np.mean((top2 == codes[:, None]).any(axis=1))),
        "log_loss": float(-np.mean(np.log(p_true))),
    }


def _stage_proba(model, X, classes) -> np.ndarray:
    """A model's next-stage probabilities, reindexed to ``classes``."""
    p = pd.DataFrame(model.predict_proba(X), columns=list(model.classes_))
    return p.reindex(columns=list(classes), fill_value=0.0).to_numpy()


@dataclass
class EvaluationReport:
    """Models and baselines on the same held-out later cutoff.

    Made by :func:`evaluate` and :func:`cjml.train`.

    Parameters
    ----------
    churn : DataFrame
        One row per model (``model`` first, then the baselines), columns from
        :func:`churn_metrics`.
    next_stage : DataFrame
        One row per model, columns from :func:`stage_metrics`.
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
    """

    churn: pd.DataFrame
    next_stage: pd.DataFrame
    confusion: pd.DataFrame
    importance: pd.Series
    info: dict
    y_churn: np.ndarray = field(repr=False, default=None)
    risks: dict = field(repr=False, default_factory=dict)
    policy: dict | None = None

    def policy_table(self) -> pd.DataFrame | None:
        """The candidate recommendation policies and their held-out values, or None.

        Returns
        -------
        DataFrame or None
            One row per policy: ``value`` (estimated drop-off rate under the
            policy), ``vs_no_action`` and ``vs_default`` with their intervals,
            ``share_acted`` and ``chosen``.
        """
        if not self.policy or not self.policy.get("table"):
            return None
        return pd.DataFrame(self.policy["table"]).set_index("policy")

    def _policy_text(self) -> str:
        table = self.policy_table()
        if self.policy is None:
            return ""
        head = (f"\n\nrecommendation policy: {self.policy['policy']}"
                + (f" ({self.policy['touchpoint']})" if self.policy["policy"] == "single" else "")
                + f": {self.policy['reason']}")
        if table is None:
            return head + "\n"
        cols = ["value", "vs_no_action", "vs_no_action_low", "vs_no_action_high", "share_acted",
                "chosen"]
        return (head + f"\n(off-policy values on {self.policy['n_anchors']:,} held-out "
                "decisions: estimated drop-off rate, and the difference with no action)\n"
                + table[cols].to_string(float_format=lambda v: f"{v:.4f}") + "\n")

    # -- text and html
    def to_text(self) -> str:
        """The report as a plain-text table, for terminals and logs.

        Returns
        -------
        str
            The header line and both metric tables.
        """
        i = self.info
        head = (f"test cutoff {i['test_cutoff']} (horizon {i['horizon']}): {i['n_test']:,} customers, "
                f"churn rate {i['churn_rate']:.1%}; trained on {i['n_train']:,} rows from "
                f"{len(i['train_cutoffs'])} earlier cutoffs ({i['train_cutoffs'][0]} .. "
                f"{i['train_cutoffs'][-1]})")
        churn = self.churn.to_string(float_format=lambda v: f"{v:.4f}")
        stage = self.next_stage.to_string(float_format=lambda v: f"{v:.4f}")
        return f"{head}\n\nchurn\n{churn}\n\nnext stage\n{stage}\n{self._policy_text()}"

    def _repr_html_(self) -> str:
        i = self.info
        churn = _metric_table_html(self.churn, lower_is_better=("brier", "log_loss"))
        stage = _metric_table_html(self.next_stage, lower_is_better=("log_loss",))
        return (
            "<div class='cjml-evaluation'>"
            f"<p><b>Held-out cutoff {html.escape(str(i['test_cutoff']))}</b>, horizon "
            f"{html.escape(str(i['horizon']))}: {i['n_test']:,} customers, churn rate "
            f"{i['churn_rate']:.1%}. Trained on {i['n_train']:,} rows from "
            f"{len(i['train_cutoffs'])} earlier cutoffs. Best value per column in bold.</p>"
            f"<h4>Churn</h4>{churn}<h4>Next stage</h4>{stage}"
            f"<h4>Next-stage confusion (rows: realised, columns: predicted)</h4>"
            f"{self.confusion.to_html()}{self._policy_html()}</div>")

    def _policy_html(self) -> str:
        if self.policy is None:
            return ""
        table = self.policy_table()
        body = "" if table is None else table.to_html(float_format=lambda v: f"{v:.4f}")
        return (f"<h4>Recommendation policy: {html.escape(str(self.policy['policy']))}</h4>"
                f"<p>{html.escape(str(self.policy['reason']))}.</p>{body}")

    def to_dict(self) -> dict:
        """Plain metrics (JSON-serialisable), as stored in bundle metadata.

        Returns
        -------
        dict
            Metric tables and split facts as plain values.
        """
        def table(frame):
            return {k: {c: (None if pd.isna(v) else float(v)) for c, v in row.items()}
                    for k, row in frame.to_dict(orient="index").items()}
        return {"churn": table(self.churn), "next_stage": table(self.next_stage),
                "policy": self.policy,
                "info": {k: (list(map(str, v)) if isinstance(v, list) else
                             v if isinstance(v, int | float) else str(v))
                         for k, v in self.info.items()}}

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
                true, pred = calibration_curve(self.y_churn, self.risks[name], n_bins=n_bins,
                                               strategy="quantile")
                ax.plot(pred, true, marker="o", label=name)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="mean predicted churn risk", ylabel="realised churn rate",
               title="Calibration")
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
        ax.plot(share, np.minimum(share * len(y) / max(y.sum(), 1), 1), color="black",
                linestyle="--", linewidth=1, label="perfect")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
        for cut in (0.1, 0.2):
            ax.axvline(cut, color="grey", linewidth=0.5)
        ax.set(xlabel="share of customers contacted (highest risk first)",
               ylabel="share of churners found", title="Gain")
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
    best = {c: (frame[c].idxmin() if c in lower_is_better else frame[c].idxmax())
            for c in frame.columns}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for idx, row in frame.iterrows():
        cells = "".join(
            f"<td style='font-weight:bold'>{v:.4f}</td>" if best[c] == idx else f"<td>{v:.4f}</td>"
            for c, v in row.items())
        rows.append(f"<tr><th>{html.escape(str(idx))}</th>{cells}</tr>")
    return (f"<table class='cjml-metrics'><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


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
    by_family = gain.groupby(pd.Series(names, index=names).map(feature_families).fillna("other")).sum()
    total = by_family.sum()
    return (by_family / total if total > 0 else by_family).sort_values(ascending=False)


def build_report(churn_model, stage_model, featurizer, train: pd.DataFrame, test: pd.DataFrame,
                 info: dict) -> EvaluationReport:
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
    churn = pd.DataFrame({k: churn_metrics(y, v) for k, v in risks.items()}).T
    stage = pd.DataFrame({k: stage_metrics(s_test, v, classes) for k, v in stage_probas.items()}).T
    predicted = np.asarray(classes, dtype=object)[np.argmax(stage_probas["model"], axis=1)]
    confusion = (pd.crosstab(pd.Categorical(s_test, categories=classes),
                             pd.Categorical(predicted, categories=classes),
                             rownames=["realised"], colnames=["predicted"], dropna=False))
    info = {**info, "n_train": len(train), "n_test": len(test),
            "churn_rate": float(y.mean()) if len(y) else math.nan}
    return EvaluationReport(churn=churn.rename_axis("churn"),
                            next_stage=stage.rename_axis("next stage"),
                            confusion=confusion,
                            importance=family_importance(churn_model, featurizer.feature_families_),
                            info=info, y_churn=y, risks=risks)


def _positive_proba(model, X) -> np.ndarray:
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(X))


def evaluate(log, bundle=None, *, test_cutoff=None, cutoffs=None, horizon="30D", lookback="90D",
             churn_params=None, stage_params=None, progress=False) -> EvaluationReport:
    """Evaluate churn and next-stage models against baselines on a later cutoff.

    With a ``bundle``, its models are scored on a cutoff after the period they
    were trained on (by default the latest cutoff whose label window the log
    covers) and the baselines are fitted on the bundle's training cutoffs.
    Without one, models are trained on earlier cutoffs and tested on the
    latest (what :func:`cjml.train` does).

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    bundle : ModelBundle, optional
        A trained bundle to evaluate.
    test_cutoff : date, optional
        The held-out cutoff; default the latest complete one.
    cutoffs : list of dates, optional
        Without a bundle: all cutoffs, the latest being the test cutoff.
    horizon, lookback : duration
        Without a bundle: label horizon and population lookback (a bundle
        brings its own).
    churn_params, stage_params : dict, optional
        Without a bundle: parameters of :class:`ChurnModel` and
        :class:`NextStageModel`.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    EvaluationReport
        Metrics of the models and the baselines on the same test rows.
    """
    from cjml.features._base import as_log
    from cjml.labels import make_training_set, rolling_cutoffs, to_timedelta
    from cjml.training import train

    log = as_log(log)
    if bundle is None:
        return train(log, cutoffs=cutoffs, test_cutoff=test_cutoff, horizon=horizon,
                     lookback=lookback, churn_params=churn_params, stage_params=stage_params,
                     progress=progress)[1]
    bundle.check_events(log)
    meta = bundle.metadata
    horizon = to_timedelta(meta["horizon"])
    lookback = meta.get("lookback")
    lookback = None if lookback is None else to_timedelta(lookback, "lookback")
    train_cutoffs = [pd.Timestamp(c) for c in meta["train_cutoffs"]]
    earliest = max(train_cutoffs) + horizon
    if test_cutoff is None:
        test_cutoff = rolling_cutoffs(log, horizon=horizon, n=1)[0]
    test_cutoff = pd.Timestamp(test_cutoff)
    if test_cutoff.tzinfo is None:
        test_cutoff = test_cutoff.tz_localize("UTC")
    if test_cutoff < earliest:
        raise ValueError(
            f"The test cutoff {test_cutoff.date()} falls inside the period this bundle was "
            f"trained on: its last training cutoff is {max(train_cutoffs).date()} and its labels "
            f"look {horizon.days} days ahead, to {earliest.date()}. An honest evaluation needs "
            f"a test cutoff on or after {earliest.date()}, with events up to "
            f"{(earliest + horizon).date()}. Pass newer events, or train with a held-out cutoff "
            "(cjml train keeps the latest cutoff out by default).")
    featurizer = bundle.featurizer
    steps = _progress(progress, 2, "evaluate")
    train_set = make_training_set(log, train_cutoffs, horizon=horizon, lookback=lookback,
                                  featurizer=featurizer)
    test_set = make_training_set(log, [test_cutoff], horizon=horizon, lookback=lookback,
                                 featurizer=featurizer)
    steps.update()
    report = build_report(bundle.models["churn"], bundle.models["next_stage"], featurizer,
                          train_set, test_set,
                          {"test_cutoff": test_cutoff.date(), "horizon": duration_text(horizon),
                           "lookback": duration_text(lookback),
                           "train_cutoffs": [c.date() for c in train_cutoffs]})
    report.policy = meta.get("recommendation_policy")  # chosen at training, shown as it was
    steps.update()
    steps.close()
    return report


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
