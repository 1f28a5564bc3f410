"""Train both models from an event log in one call, with an honest evaluation.

:func:`train` builds the training set on rolling cutoffs, keeps the latest
cutoff out as a test period, fits the featurizer, :class:`~cjml.ChurnModel` and
:class:`~cjml.NextStageModel` on the earlier cutoffs, scores them beside the
baselines on the held-out cutoff, and returns a :class:`~cjml.ModelBundle`
ready to save, with the evaluation in its metadata.

With ``cv=K`` (single-cutoff data, or a horizon too long for a later held-out
cutoff) the evaluation is a customer-level K-fold cross-validation at one
cutoff instead (:func:`cjml.evaluation.cross_validate`), and the bundle holds
the models refitted on every customer at that cutoff.

:func:`evaluate` runs the same held-out test on its own: of a trained bundle,
on a cutoff after the period it was trained on (or by folds), or, without a
bundle, of models trained here as :func:`train` does. It lives beside
:func:`train` because it uses it; :mod:`cjml.evaluation` holds what both
measure with (metrics, baselines, the paired bootstrap, the report) and
imports nothing from here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone

from cjml.bundle import ModelBundle, fingerprint
from cjml.evaluation import (
    EvaluationReport,
    _progress,
    active_within,
    build_report,
    cross_validate,
    duration_text,
)
from cjml.events import EventLog, to_utc_timestamp
from cjml.explanations import feature_aliases
from cjml.features._attributes import attribute_record
from cjml.features._base import as_log
from cjml.features._featurizer import JourneyFeaturizer
from cjml.journey import DROPPED
from cjml.labels import (
    _data_end,
    _days_text,
    _first_event,
    _holdout_advice,
    _holdout_fits,
    _latest_training_cutoff,
    _longest_holdout_horizon,
    _span_text,
    cadence_advice,
    churn_advice,
    churn_suspects,
    make_training_set,
    outbound_advice,
    outbound_suspects,
    rolling_cutoffs,
    to_timedelta,
)
from cjml.models import ChurnModel, NextStageModel, _check_n_jobs, _with_threads
from cjml.value._model import value_baselines, value_section

__all__ = [
    "CLUSTER_ROUNDS",
    "DEFAULT_MAX_TRAINING_ROWS",
    "DEFAULT_N_CUTOFFS",
    "DEFAULT_STEP",
    "evaluate",
    "event_columns_used",
    "train",
]

#: Rolling cutoffs used when none are given: this many, this far apart.
DEFAULT_N_CUTOFFS = 20
DEFAULT_STEP = "7D"
#: How far before the last training cutoff the recommender's anchor events begin.
ANCHOR_PERIOD = "180D"
#: Training rows (customers x cutoffs) above which ``train`` keeps a random share of the
#: customers. Measured with ``cjml train`` on two cores: the 1M-event benchmark log (116,574
#: customers, 1.33M rows over 19 cutoffs) takes 3.6 GB and 3 minutes; the 10M-event one
#: (13.2M rows) would need about ten times both, and with this limit takes 6.2 GB and 6 minutes.
#: Six times the customers left the models' gap to the oracle unchanged on the suite
#: (benchmarks/README.md, "quality.py --suite --models-only"): beyond this size more rows
#: cost memory and time, not quality.
DEFAULT_MAX_TRAINING_ROWS = 2_000_000
#: A training row's features are computed from the customer's whole history, so memory
#: grows with the events those histories hold as much as with the rows: the limit on rows
#: is also one on events, this many per row allowed. The 10M-event benchmark log holds 7
#: a row; a product log of 1,000 accounts with 4,000 events each holds 3,400 a row, and
#: 40M events of history take about as much memory (5.5 GB) as 2M rows of the first.
HISTORY_EVENTS_PER_ROW = 20
#: The training table takes memory in proportion to its features as well as its rows: the
#: limit on rows assumes at most this many features a row (the default journey map gives
#: 129). A featurizer with more (a map of hundreds of touchpoints, each with a count and a
#: share) is allowed proportionally fewer rows: 2M page views on 5,000 pages (283 features,
#: 1.9M rows) took 11.8 GB where the 10M-event log's 2M rows of 129 take 6.2 GB.
FEATURES_PER_ROW = 130
#: Rounds grown per model on a Dask cluster, where LightGBM cannot stop early
#: (the simulator's models keep under 100 at learning rate 0.1, a few hundred at 0.03).
CLUSTER_ROUNDS = 400

_OPTIONAL_COLUMNS = ("channel", "satisfaction", "nps", "effort", "amount")


def event_columns_used(log, featurizer=None) -> list[str]:
    """The optional event columns a model trained on ``log`` relies on.

    Parameters
    ----------
    log : EventLog
        The training events.
    featurizer : JourneyFeaturizer, optional
        The fitted featurizer; its customer-attribute columns are added.

    Returns
    -------
    list of str
        Optional canonical columns present with at least one value, then the
        attribute columns the featurizer uses; events scored later must have
        them too.
    """
    frame = log.frame
    used = [c for c in _OPTIONAL_COLUMNS if c in frame.columns and frame[c].notna().any()]
    for family in getattr(featurizer, "families_", ()):
        used += [c for c in getattr(family, "attributes_", ()) if c not in used]
    return used


def _training_sample(
    log: EventLog,
    cutoffs,
    lookback,
    max_rows: int | None,
    random_state: int = 0,
    n_features: int | None = None,
) -> tuple[EventLog, dict | None]:
    """The log of a random share of the customers when the training set would exceed
    ``max_rows`` rows (fewer with more than :data:`FEATURES_PER_ROW` ``n_features``: the
    table's cells are what take memory), or its histories ``max_rows *
    HISTORY_EVENTS_PER_ROW`` events, and what was kept; else the log itself and None.

    A row is a customer with an event in the lookback before a cutoff (every earlier
    event without a lookback), and its history the customer's events up to the cutoff:
    both counted from the event times alone, before any feature is computed. Whole
    customers are kept, each with every cutoff and its whole history, so their features
    and labels are those of the whole log.
    """
    if max_rows is None:
        return log, None
    ts, codes = log.timestamps_ns, log.customer_codes
    rows = np.zeros(log.n_customers, dtype=np.int64)
    events = np.zeros(log.n_customers, dtype=np.int64)
    for cutoff in cutoffs:
        at = pd.Timestamp(cutoff).value
        seen = ts <= at
        history = np.bincount(codes[seen], minlength=log.n_customers)
        if lookback is not None:
            seen &= ts > at - to_timedelta(lookback, "lookback").value
        row = np.bincount(codes[seen], minlength=log.n_customers) > 0
        rows += row
        events += history * row
    total, total_events = int(rows.sum()), int(events.sum())
    max_events = max_rows * HISTORY_EVENTS_PER_ROW
    wide = n_features is not None and n_features > FEATURES_PER_ROW
    allowed_rows = max_rows * FEATURES_PER_ROW // (n_features or 1) if wide else max_rows
    if total <= allowed_rows and total_events <= max_events:
        return log, None
    present = np.flatnonzero(rows)
    share = min(allowed_rows / total, max_events / max(total_events, 1))
    k = max(1, int(np.ceil(len(present) * share)))
    chosen = np.sort(np.random.default_rng(random_state).choice(present, size=k, replace=False))
    return log._customer_subset(chosen), {
        "customers": int(k),
        "of_customers": int(len(present)),
        "rows": int(rows[chosen].sum()),
        "of_rows": total,
        "max_rows": int(max_rows),
        "history_events": int(events[chosen].sum()),
        "of_history_events": total_events,
        "max_history_events": int(max_events),
        "random_state": int(random_state),
        # said only when the features lowered the limit on rows
        **(
            {
                "features": int(n_features),
                "features_per_row": FEATURES_PER_ROW,
                "max_rows_for_features": int(allowed_rows),
            }
            if wide and n_features is not None
            else {}
        ),
    }


def _check_max_rows(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1_000:
        raise ValueError(
            f"max_training_rows must be a whole number of at least 1,000, or None for every "
            f"row, got {value!r}."
        )
    return int(value)


def train(
    log,
    *,
    horizon="30D",
    lookback="90D",
    cutoffs=None,
    n_cutoffs=DEFAULT_N_CUTOFFS,
    step=DEFAULT_STEP,
    test_cutoff=None,
    holdout=True,
    featurizer=None,
    churn_params=None,
    stage_params=None,
    response_params=None,
    recommender=True,
    survival=True,
    engine="local",
    scheduler=None,
    cv=None,
    progress=False,
    n_jobs=None,
    value="auto",
    margin=None,
    value_params=None,
    experiments=None,
    max_training_rows=DEFAULT_MAX_TRAINING_ROWS,
) -> tuple[ModelBundle, EvaluationReport | None]:
    """Train the churn and next-stage models, evaluated on a held-out later cutoff.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    horizon : duration, default "30D"
        How far ahead the labels look.
    lookback : duration, default "90D"
        Customers with an event this far before a cutoff form its population.
    cutoffs : list of dates, optional
        The cutoffs; default ``n_cutoffs`` rolling cutoffs ``step`` apart,
        ending at the latest date whose label window the log covers.
    n_cutoffs : int, default 20
        Number of rolling cutoffs when ``cutoffs`` is not given. With a held-out
        cutoff, the other ``n_cutoffs - 1`` train: the latest ones ``step`` apart
        whose label windows end by the held-out cutoff (fewer where the log's
        history is shorter), so a long horizon does not leave only a few. A
        horizon longer than the cutoffs span, or a ``test_cutoff`` early in the
        log, is accepted when at least half of those training cutoffs follow
        the first event (and trains on those).
    step : duration, default "7D"
        Spacing of the rolling cutoffs.
    test_cutoff : date, optional
        The held-out cutoff; default the latest cutoff.
    holdout : bool, default True
        Keep the test cutoff (and any cutoff whose label window overlaps it)
        out of training and evaluate on it. With ``False`` every cutoff is
        used for training and no evaluation is made.
    featurizer : JourneyFeaturizer, optional
        Feature settings (cloned and fitted); default all families.
    churn_params, stage_params : dict, optional
        Parameters of :class:`~cjml.ChurnModel` and :class:`~cjml.NextStageModel`.
    response_params : dict, optional
        Settings of the recommender's models (:mod:`cjml.effects`): the
        anchors (``max_rows``, ``random_state``, ``design``, ``window``), the
        response model (``C``, ``min_deliveries``) and the doubly robust
        effects (``folds``, ``rounds``, ``overlap``, ``prior_sd``, ``level``),
        and how the policies are tested (``policy_test``: "normalised", the
        default, "inverse" or "overlap"; :func:`cjml.effects.choose_policy`).
        They are stored as ``bundle.models["touchpoint_response"]``,
        ``["touchpoint_effects"]`` and ``["touchpoint_policy"]`` (the policy
        chosen by off-policy value, also in ``metadata["recommendation_policy"]``).
    recommender : bool, default True
        Fit the recommender's models. False trains the churn and next-stage
        models only (faster; the bundle then scores but recommends nothing,
        as for a journey map without actionable touchpoints).
    survival : bool, default True
        Fit the time-to-churn curve (:class:`cjml.survival.SurvivalModel`) on
        the churn model's training rows, followed up to the held-out cutoff
        (so no later outcome is seen), as ``bundle.models["survival"]``
        (always here, also with ``engine="dask"``); the held-out report then
        measures it (``report.survival``; not with ``cv``). Left out, with a
        :class:`~cjml.exceptions.SmallDataWarning`, when too few customers
        are followed up to learn it.
    engine : {"local", "dask"}, default "local"
        Grow the trees of both models here, or on a dask.distributed cluster
        (LightGBM's Dask estimators; ``pip install "cjml[dask]"``). The
        features and the evaluation are computed here either way. LightGBM
        cannot stop early on a cluster: the models grow ``n_estimators``
        rounds (default :data:`CLUSTER_ROUNDS` on a cluster) and keep the
        rounds a local early stopping would have kept.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler address or a connected client;
        default a new LocalCluster.
    cv : int, optional
        Evaluate by customer-level cross-validation in this many folds at one
        cutoff instead of on a later held-out cutoff: the cutoff is
        ``test_cutoff``, the one date in ``cutoffs``, or by default the
        latest whose label window the log covers. Each fold is scored by
        fresh models fitted on the other folds (locally); the bundle then
        holds the models refitted on every customer at that cutoff, with the
        cross-validated report in its metadata. For calibration/holdout data
        such as CDNOW, or a horizon too long for a later held-out cutoff.
    progress : bool, default False
        Show a progress bar.
    n_jobs : int, optional
        Threads of the featurizer, of both models' LightGBM and of the
        recommender's effects fit (they are kept with the bundle); default
        each one's own (one thread for LightGBM below 50,000 rows, from there
        the cores idle at the time: see :class:`~cjml.ChurnModel`).
    value : bool or "auto", default "auto"
        Fit the value model (:class:`~cjml.ValueModel`: expected spend over the
        horizon if the customer stays) as ``models["value"]``. "auto" fits it
        when the events have positive amounts and says in
        ``metadata["value"]`` why not otherwise; True requires amounts.
    margin : float, str or None, default None
        Learn margin instead of revenue: a rate applied to every amount (0.3
        for 30%), or the name of an event column of per-event margin rates.
    value_params : dict, optional
        Parameters of :class:`~cjml.ValueModel`.
    experiments : str, Path or list of them, optional
        Campaign manifests (``<name>.campaign.json``, written by
        :func:`cjml.export_campaign` with a control group), or folders of
        them. Each campaign is measured on these events
        (:func:`cjml.measure_campaign`) and its measured effects correct the
        recommender's (:mod:`cjml.experiments`); campaigns whose horizon has
        not passed in the events, or whose files were altered, are skipped
        with a warning and listed in ``metadata["experiments"]``.
    max_training_rows : int or None, default 2,000,000
        When the training set (customers x cutoffs) would be larger, or its
        rows' histories would hold more than ``HISTORY_EVENTS_PER_ROW`` (20)
        events per allowed row (40 million by default: a log of few customers
        with thousands of events each); rows of more than ``FEATURES_PER_ROW``
        (130) features are allowed in proportion (a map of thousands of pages
        gives about 280), a random share of the customers is
        kept (each with every cutoff and its whole history; seed 0), so that
        a log of tens of millions of events trains in bounded memory and time;
        the report's first line and ``metadata["training_sample"]`` say how
        many. None keeps every row.
        The held-out evaluation scores every customer of the test cutoff;
        cross-validation (``cv``) at one cutoff is cut the same way, and
        :func:`evaluate` cuts the bundle's rows by the same limit.

    Returns
    -------
    bundle : ModelBundle
        Featurizer, ``models["churn"]``, ``models["next_stage"]``, the value
        model (``models["value"]``) when the events have amounts, the journey
        map and metadata (cutoffs, horizon, lookback, event columns, data
        fingerprint, evaluation metrics, the value model's margin or why
        there is none, ``effect_evidence``: per touchpoint, the evidence its
        effect rests on, and with ``experiments`` the campaigns used and
        skipped).
    report : EvaluationReport or None
        The held-out (or, with ``cv``, cross-validated) evaluation; None when
        ``holdout=False``.
    """
    if engine not in ("local", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}.")
    if scheduler is not None and engine != "dask":
        raise ValueError(
            "A scheduler (--scheduler) is for training on a cluster: pass engine='dask' "
            "(--engine dask) with it, or leave it out."
        )
    n_jobs = _check_n_jobs(n_jobs)
    max_training_rows = _check_max_rows(max_training_rows)
    if recommender:
        _checked_response_params(response_params)  # a typo is refused before any training
    log = as_log(log)
    horizon = to_timedelta(horizon)
    lookback_td = None if lookback is None else to_timedelta(lookback, "lookback")
    sent = outbound_suspects(log)
    if len(sent):  # sends counted as activity make the labels wrong: say so before training
        warnings.warn(outbound_advice(sent), UserWarning, stacklevel=2)
    leaving = churn_suspects(log)
    if len(leaving):  # so do cancellations counted as activity
        warnings.warn(churn_advice(leaving), UserWarning, stacklevel=2)
    rhythm = cadence_advice(log, horizon, n_cutoffs=n_cutoffs, step=step, last=test_cutoff)
    if rhythm is not None:  # customers who come back less often than the horizon look churned
        warnings.warn(rhythm, UserWarning, stacklevel=2)
    value_plan = _value_plan(log, value, margin)
    rolling = cutoffs is None and cv is None  # cjml's own rolling cutoffs, not the user's
    if cv is not None:
        if not holdout:
            raise ValueError(
                "Cross-validation over customers (--cv) is an evaluation, and "
                "holdout=False (--no-holdout) asks for no evaluation: pass one or "
                "the other."
            )
        cutoffs = [_cv_cutoff(log, cutoffs, test_cutoff, horizon)]
    elif cutoffs is None:
        last = None if test_cutoff is None else to_utc_timestamp(test_cutoff, log.timezone)
        end = _data_end(log, None)
        if (
            holdout
            and (last is None or last + horizon <= end)  # else make_labels explains
            and not _holdout_fits(
                _first_event(log), end, horizon, n_cutoffs, to_timedelta(step, "step"), last
            )
        ):
            raise ValueError(
                _holdout_advice(log, horizon, n_cutoffs=n_cutoffs, step=step, last=last)
            )
        # held out: the test cutoff alone here; its training cutoffs follow below
        cutoffs = rolling_cutoffs(
            log, horizon=horizon, n=1 if holdout else n_cutoffs, step=step, last=test_cutoff
        )
    else:
        cutoffs = sorted(
            pd.Timestamp(c)
            if pd.Timestamp(c).tzinfo
            else pd.Timestamp(c, tz=log.timezone).tz_convert("UTC")
            for c in cutoffs
        )
    test = None
    train_cutoffs = list(cutoffs)
    if holdout and cv is None:
        test = max(cutoffs) if test_cutoff is None else pd.Timestamp(test_cutoff)
        if test.tzinfo is None:
            test = test.tz_localize(log.timezone).tz_convert("UTC")
        if rolling:
            step_td = to_timedelta(step, "step")
            train_cutoffs = _rolling_training_cutoffs(
                _latest_training_cutoff(test, horizon, step_td),
                n_cutoffs - 1,
                step_td,
                _first_event(log),
            )
        else:
            train_cutoffs = [c for c in cutoffs if c + horizon <= test]
        if not train_cutoffs:
            raise ValueError(
                _holdout_advice(
                    log,
                    horizon,
                    n_cutoffs=n_cutoffs,
                    step=step,
                    last=test,
                    cutoffs=None if rolling else cutoffs,
                )
            )
    steps = _progress(progress, 6 if holdout else 5, "train")
    featurizer = JourneyFeaturizer() if featurizer is None else clone(featurizer)
    if n_jobs is not None:
        featurizer.set_params(n_jobs=n_jobs)
    featurizer.fit(log, cutoff=max(train_cutoffs))
    train_log, sample = _training_sample(
        log,
        train_cutoffs,
        lookback_td,
        max_training_rows,
        n_features=len(featurizer.feature_names_out_),
    )
    with warnings.catch_warnings():
        # An empty population at an early cutoff is reported by make_training_set; the
        # remaining cutoffs still train.
        warnings.simplefilter("ignore", UserWarning)
        train_set = make_training_set(
            train_log, train_cutoffs, horizon=horizon, lookback=lookback_td, featurizer=featurizer
        )
    if train_set.empty or train_set["churn"].nunique() < 2:
        why = _one_class_message(train_set, train_cutoffs, horizon, log)
        raise ValueError(f"{why} {outbound_advice(sent)}" if len(sent) else why)
    steps.update()
    names = list(featurizer.feature_names_out_)
    common = {"horizon": horizon, "categorical_features": list(featurizer.categorical_features_)}
    if n_jobs is not None:
        common["n_jobs"] = n_jobs
    if engine == "dask":
        common["n_estimators"] = CLUSTER_ROUNDS  # all are grown there (no early stopping)
    X, row_cutoffs = train_set[names], train_set["cutoff"]
    # twins on every training row (a purchase-only log's "no contact" and "no purchase")
    # are one driver in the explanations
    featurizer.feature_aliases_ = feature_aliases(X)
    customers = train_set["customer_id"].to_numpy()  # held-out slice by customers if need be
    client, owned = (None, None)
    if engine == "dask":
        from cjml._dask import connect

        client, owned = connect(scheduler)
    try:
        churn = ChurnModel(**{**common, **(churn_params or {})})
        churn.fit(X, train_set["churn"], cutoffs=row_cutoffs, client=client, customer_ids=customers)
        steps.update()
        stage = NextStageModel(
            **{**common, "classes": [*log.journey_map.stages, DROPPED], **(stage_params or {})}
        )
        stage.fit(
            X,
            train_set["next_stage"].astype(str),
            cutoffs=row_cutoffs,
            client=client,
            customer_ids=customers,
        )
    finally:
        for obj in owned or ():
            obj.close()
    stage.attach_churn_model(churn)  # P(dropped) = the calibrated churn risk
    steps.update()
    models = {"churn": churn, "next_stage": stage}
    spend = None
    if value_plan["fit"]:
        spend = _spend(log, train_set, horizon, lookback_td, margin)
        models["value"] = _value_model(common, value_params).fit(
            X,
            spend,
            retained=1 - train_set["churn"].to_numpy(),
            cutoffs=row_cutoffs,
            customer_ids=customers,
        )
    if survival:
        curve = _fit_survival(log, train_set, names, test, lookback_td, common)
        if curve is not None:
            models["survival"] = curve
    recommender_models, recommender_note = (
        _fit_recommender(log, featurizer, churn, train_cutoffs, horizon, response_params, n_jobs)
        if recommender
        else ({}, "not asked for (recommender=False)")
    )
    models.update(recommender_models)
    evidence, experiment_summary = _experiments(log, featurizer, models, experiments, horizon)
    steps.update()
    report = None
    if cv is not None:
        # fresh, unfitted copies of the models just fitted, one pair per fold
        report = cross_validate(
            clone(churn),
            clone(stage),
            featurizer,
            train_set,
            cv=cv,
            info={
                "horizon": duration_text(horizon),
                "lookback": duration_text(lookback_td),
                **({} if sample is None else {"training_sample": sample}),
            },
            active=active_within(log, train_set, horizon),
            value_model=clone(models["value"]) if "value" in models else None,
            spend=spend,
            value_baselines=(
                value_baselines(
                    log, cutoffs[0], train_set["customer_id"].to_numpy(), horizon, margin
                )
                if "value" in models
                else None
            ),
        )
    elif test is not None:  # holdout without cv: the held-out cutoff
        test_set = make_training_set(
            log, [test], horizon=horizon, lookback=lookback_td, featurizer=featurizer
        )
        report = build_report(
            churn,
            stage,
            featurizer,
            train_set,
            test_set,
            {
                "test_cutoff": test.date(),
                "horizon": duration_text(horizon),
                "lookback": duration_text(lookback_td),
                "train_cutoffs": [c.date() for c in train_cutoffs],
                **({} if sample is None else {"training_sample": sample}),
            },
            active=active_within(log, test_set, horizon),
        )
        if "value" in models:
            report.value = _held_out_value(
                log, models["value"], churn, test_set[names], test_set, horizon, lookback_td, margin
            )
        if "survival" in models:
            report.survival = _survival_section(log, models, test_set, names, lookback_td, horizon)
    if report is not None:
        if "touchpoint_policy" in models:
            report.policy = models["touchpoint_policy"].to_dict()
        steps.update()
    metadata = {
        "horizon": str(horizon),
        "lookback": None if lookback_td is None else str(lookback_td),
        "train_cutoffs": [c.isoformat() for c in train_cutoffs],
        "test_cutoff": None if test is None else test.isoformat(),
        "cv": None if cv is None else int(cv),
        "n_train_rows": len(train_set),
        # a random share of the customers when the training set was larger than allowed
        "max_training_rows": max_training_rows,
        "training_sample": sample,
        "event_columns": event_columns_used(log, featurizer),
        # the extra columns used as customer attributes, and those left out with why
        "attributes": attribute_record(featurizer),
        # the user's names of the canonical columns, so that later reads need no --columns
        "column_names": {k: str(v) for k, v in log.columns.items() if str(v) != k},
        # said only when given: bundles of logs with a touchpoint column are as before
        **(
            {"constant_touchpoint": log.constant_touchpoint}
            if log.constant_touchpoint is not None
            else {}
        ),
        "timezone": str(log.timezone),
        "training_data": {
            "fingerprint": fingerprint(log),
            "n_events": log.n_events,
            "n_customers": log.n_customers,
        },
        "params": {
            name: _plain(model.get_params())
            for name, model in models.items()
            if hasattr(model, "get_params")
        },
        "recommendation_policy": (
            models["touchpoint_policy"].to_dict() if "touchpoint_policy" in models else None
        ),
        "engine": engine,
        # what the churn trees grew from, and the held-out log loss that chose it
        "churn_start": {
            "start": getattr(churn, "start_", "zero"),
            "held_out_log_loss": dict(getattr(churn, "start_scores_", {})),
        },
        "evaluation": None if report is None else report.to_dict(),
        "value": {
            "fitted": "value" in models,
            "margin": margin,
            "note": value_plan["note"],
        },
        "effect_evidence": evidence,
        "experiments": experiment_summary,
        # why the bundle cannot recommend, for score and recommend to say so
        "recommender": {
            "fitted": bool(recommender_models),
            "note": recommender_note,
            # how often each actionable touchpoint was delivered by the last training
            # cutoff: what the churn model alone (method="s-learner") may estimate
            "deliveries": _deliveries(log, max(train_cutoffs)),
        },
    }
    bundle = ModelBundle(
        featurizer=featurizer, journey_map=log.journey_map, models=models, metadata=metadata
    )
    steps.update()
    steps.close()
    return bundle, report


def evaluate(
    log,
    bundle=None,
    *,
    test_cutoff=None,
    cutoffs=None,
    horizon="30D",
    lookback="90D",
    churn_params=None,
    stage_params=None,
    cv=None,
    progress=False,
    n_jobs=None,
) -> EvaluationReport:
    """Evaluate churn and next-stage models against baselines on a later cutoff, or by folds.

    With a ``bundle``, its models are scored on a cutoff after the period they
    were trained on (by default the latest cutoff whose label window the log
    covers) and the baselines are fitted on the bundle's training cutoffs.
    Without one, models are trained on earlier cutoffs and tested on the
    latest (what :func:`train` does).

    With ``cv=K``, customers are split into K folds at one cutoff instead
    (:func:`cjml.evaluation.cross_validate`): for single-cutoff data, or a horizon too long
    for a later held-out cutoff. With a bundle, fresh copies of its models
    (same settings, same featurizer) are fitted fold by fold: this evaluates
    how the bundle was made, not the fitted bundle itself.

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
    cv : int, optional
        Cross-validate over customers in this many folds at one cutoff
        (``test_cutoff``, default the latest complete one) instead of
        testing on a later cutoff.
    progress : bool, default False
        Show a progress bar.
    n_jobs : int, optional
        Threads of the featurizer and the models' LightGBM for this call
        (with a bundle, its own objects are left as they are); default each
        one's own (see :class:`ChurnModel`).

    Returns
    -------
    EvaluationReport
        Metrics of the models and the baselines on the same test rows.
    """
    log = as_log(log)
    if bundle is None:
        report = train(
            log,
            cutoffs=cutoffs,
            test_cutoff=test_cutoff,
            horizon=horizon,
            lookback=lookback,
            churn_params=churn_params,
            stage_params=stage_params,
            cv=cv,
            progress=progress,
            n_jobs=n_jobs,
        )[1]
        assert report is not None  # train evaluates unless holdout=False
        return report
    bundle.check_events(log)
    bundle = _with_threads(bundle, n_jobs)  # a copy: the caller's bundle keeps its threads
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
    featurizer = bundle.featurizer
    cap = meta.get("max_training_rows", DEFAULT_MAX_TRAINING_ROWS)  # the bundle's own limit
    if cv is not None:
        cv_log, sample = _training_sample(
            log, [test_cutoff], lookback, cap, n_features=len(featurizer.feature_names_out_)
        )
        data = make_training_set(
            cv_log, [test_cutoff], horizon=horizon, lookback=lookback, featurizer=featurizer
        )
        value_model = bundle.models.get("value")
        margin = (meta.get("value") or {}).get("margin")
        report = cross_validate(
            clone(bundle.models["churn"]),
            clone(bundle.models["next_stage"]),
            featurizer,
            data,
            cv=cv,
            info={
                "horizon": duration_text(horizon),
                "lookback": duration_text(lookback),
                **({} if sample is None else {"training_sample": sample}),
            },
            active=active_within(log, data, horizon),
            progress=progress,
            value_model=None if value_model is None else clone(value_model),
            spend=None if value_model is None else _spend(log, data, horizon, lookback, margin),
            value_baselines=(
                None
                if value_model is None
                else value_baselines(
                    log, test_cutoff, data["customer_id"].to_numpy(), horizon, margin
                )
            ),
        )
        report.policy = meta.get("recommendation_policy")
        return report
    if test_cutoff < earliest:
        raise ValueError(_inside_training_message(log, test_cutoff, train_cutoffs, horizon))
    steps = _progress(progress, 2, "evaluate")
    # the baselines' training rows, cut as train cuts them
    train_log, sample = _training_sample(
        log, train_cutoffs, lookback, cap, n_features=len(featurizer.feature_names_out_)
    )
    train_set = make_training_set(
        train_log, train_cutoffs, horizon=horizon, lookback=lookback, featurizer=featurizer
    )
    test_set = make_training_set(
        log, [test_cutoff], horizon=horizon, lookback=lookback, featurizer=featurizer
    )
    steps.update()
    report = build_report(
        bundle.models["churn"],
        bundle.models["next_stage"],
        featurizer,
        train_set,
        test_set,
        {
            "test_cutoff": test_cutoff.date(),
            "horizon": duration_text(horizon),
            "lookback": duration_text(lookback),
            "train_cutoffs": [c.date() for c in train_cutoffs],
            **({} if sample is None else {"training_sample": sample}),
        },
        active=active_within(log, test_set, horizon),
    )
    if "value" in bundle.models:
        report.value = _held_out_value(
            log,
            bundle.models["value"],
            bundle.models["churn"],
            test_set[list(featurizer.feature_names_out_)],
            test_set,
            horizon,
            lookback,
            (meta.get("value") or {}).get("margin"),
        )
    report.policy = meta.get("recommendation_policy")  # chosen at training, shown as it was
    if "survival" in bundle.models:
        names = list(featurizer.feature_names_out_)
        report.survival = _survival_section(log, bundle.models, test_set, names, lookback, horizon)
    steps.update()
    steps.close()
    return report


def _inside_training_message(log, test_cutoff, train_cutoffs, horizon) -> str:
    """Why a bundle cannot be tested at ``test_cutoff``, and what this log does allow."""
    end = _data_end(log, None)
    latest = (end - horizon).floor("D")  # the latest cutoff with a complete label window
    last_train = max(train_cutoffs)
    earliest = last_train + horizon
    message = (
        f"The test cutoff {test_cutoff.date()} falls inside the period this bundle was "
        f"trained on: its last training cutoff is {last_train.date()} and its labels look "
        f"{duration_text(horizon)} ahead, to {earliest.date()}. An honest "
        f"evaluation needs a test cutoff on or after {earliest.date()}, with events up to "
        f"{(earliest + horizon).date()}."
    )
    if latest >= earliest:
        return message + (
            f" This log allows test cutoffs from {earliest.date()} to "
            f"{latest.date()}: pass one (test_cutoff='{latest.date()}', "
            f"--test-cutoff {latest.date()}), or leave it out for the latest."
        )
    if len(train_cutoffs) >= 2:
        n, step = len(train_cutoffs), min(np.diff(sorted(train_cutoffs)))
    else:
        n, step = DEFAULT_N_CUTOFFS, to_timedelta(DEFAULT_STEP, "step")
    options = [
        f"cross-validate this bundle's settings over customers at the cutoff "
        f"{latest.date()}: fresh copies of its models are fitted on 4/5 of the customers "
        "and score the other fifth, fold by fold (evaluate(log, bundle, cv=5); cjml "
        "evaluate MODEL EVENTS --cv 5)",
        f"pass events up to {(earliest + horizon).date()}",
    ]
    if _holdout_fits(_first_event(log), end, horizon, n, step):
        options.append(
            "retrain with the latest cutoff held out, which this log allows with "
            "the bundle's horizon (cjml train without --no-holdout)"
        )
    else:
        longest = _longest_holdout_horizon(log, end, n, step)
        if longest >= 1:
            options.append(
                f"retrain with a held-out cutoff and a horizon of at most {_days_text(longest)}"
            )
    return (
        f"{message} {_span_text(log, end)}, so no later cutoff has a complete label "
        f"window. Either " + "; or ".join(options) + "."
    )


def _rolling_training_cutoffs(
    latest: pd.Timestamp, n: int, step: pd.Timedelta, first_event: pd.Timestamp
) -> list[pd.Timestamp]:
    """The ``n`` training cutoffs ``step`` apart that end at ``latest``, the latest
    rolling cutoff whose label window ends by the held-out one, all after the first
    event; oldest first.

    Rolling cutoffs that fall within the horizon of the held-out cutoff cannot
    train (their labels overlap its), so with a long horizon most of ``n_cutoffs``
    rolling cutoffs would be lost: with 90 days, 7 of 20 weekly cutoffs remain.
    Extending the same grid further back keeps ``n_cutoffs - 1`` of them where
    the log's history allows; on CDNOW with a 90-day horizon that lifted the
    forward churn AUC from 0.704 to 0.729 (the RFM logistic baseline: 0.728).
    """
    cutoffs = [latest - k * step for k in range(max(n, 1))]
    return [c for c in cutoffs if c > first_event][::-1]


def _cv_cutoff(log, cutoffs, test_cutoff, horizon) -> pd.Timestamp:
    """The one cutoff of a cross-validation: ``test_cutoff``, the one date in ``cutoffs``, or
    the latest whose label window the log covers."""
    given = (
        None
        if cutoffs is None
        else [
            to_utc_timestamp(c, log.timezone)
            for c in ([cutoffs] if isinstance(cutoffs, str | pd.Timestamp) else cutoffs)
        ]
    )
    test = None if test_cutoff is None else to_utc_timestamp(test_cutoff, log.timezone)
    if given is not None and (len(given) != 1 or (test is not None and test != given[0])):
        latest = max([*given, *([test] if test is not None else [])])
        raise ValueError(
            f"cv= cross-validates over customers at one cutoff, but "
            f"{[str(c.date()) for c in given]!r} were given as cutoffs"
            + ("" if test is None else f" and {test.date()} as the test cutoff")
            + f". Pass one, e.g. cutoffs=['{latest.date()}'] (--cutoffs {latest.date()}), or "
            "leave cutoffs out for the latest cutoff whose label window the log covers."
        )
    if given is not None:
        return given[0]
    if test is not None:
        return test
    return rolling_cutoffs(log, horizon=horizon, n=1)[0]


#: The recommender's settings (``response_params``), by the part of it they go to.
_RESPONSE_KEYS = frozenset({"C", "min_deliveries"})
_EFFECT_KEYS = frozenset({"folds", "rounds", "overlap", "prior_sd", "level"})
_ANCHOR_KEYS = frozenset({"max_rows", "random_state", "window", "design", "max_history_events"})
_POLICY_KEYS = frozenset({"policy_test"})


def _checked_response_params(params) -> dict:
    """``response_params`` as a dict, refused before any training if a key or value is wrong."""
    from cjml.effects import POLICY_TESTS

    params = dict(params or {})
    known = _RESPONSE_KEYS | _EFFECT_KEYS | _ANCHOR_KEYS | _POLICY_KEYS
    unknown = set(params) - known
    if unknown:
        raise ValueError(f"Unknown response_params {sorted(unknown)!r}; known: {sorted(known)!r}.")
    if params.get("policy_test", "normalised") not in POLICY_TESTS:
        raise ValueError(
            "response_params['policy_test'] must be one of "
            f"{', '.join(map(repr, POLICY_TESTS))}, got {params['policy_test']!r}."
        )
    return params


def _deliveries(log, until: pd.Timestamp) -> dict[str, int]:
    """Events of each actionable touchpoint at or before ``until``."""
    categories = log.frame["touchpoint"].cat.categories.tolist()
    codes = log.touchpoint_codes[log.timestamps_ns <= until.value]
    counts = np.bincount(codes[codes >= 0], minlength=len(categories))
    return {
        t: int(counts[categories.index(t)]) if t in categories else 0
        for t in log.journey_map.actionable_touchpoints
    }


def _fit_recommender(
    log, featurizer, churn, train_cutoffs, horizon, params, n_jobs=None
) -> tuple[dict, str | None]:
    """The recommender's models: ``touchpoint_response``, ``touchpoint_effects`` and
    ``touchpoint_policy`` (see :mod:`cjml.effects`), and None; when unlearnable, no
    models (with a warning) and the reason.

    Anchors are the events of the :data:`ANCHOR_PERIOD` before the last
    training cutoff (or from one horizon before the first, if earlier) until
    one horizon before the last training label window ends, so no outcome
    reaches past the training labels (nor into a held-out test period). The
    latest third of that period is kept out of the fits: the candidate
    policies are compared on it (off-policy, doubly robust), and the effects
    are then refitted on every anchor.
    """
    from cjml.effects import build_anchors, choose_policy, fit_effects
    from cjml.exceptions import CjmlError
    from cjml.recommend import fit_response_on_anchors

    if not log.journey_map.actionable_touchpoints:
        return {}, (
            "the journey map marks no touchpoint as actionable. Mark the touchpoints the "
            "business delivers as actionable in the journey map (README: 'Journey maps')."
        )
    params = _checked_response_params(params)
    start = min(min(train_cutoffs) - horizon, max(train_cutoffs) - to_timedelta(ANCHOR_PERIOD))
    end = max(train_cutoffs) + horizon
    try:
        anchors = build_anchors(
            log,
            featurizer,
            start=start,
            end=end,
            horizon=horizon,
            **{k: v for k, v in params.items() if k in _ANCHOR_KEYS},
        )
        response_params = {k: v for k, v in params.items() if k in _RESPONSE_KEYS}
        effect_params = {k: v for k, v in params.items() if k in _EFFECT_KEYS}
        if "min_deliveries" in params:
            effect_params["min_deliveries"] = params["min_deliveries"]
        effect_params["n_jobs"] = n_jobs
        # the latest third of the anchors' period is held out for the policy choice
        t0, t1 = int(anchors.time_ns.min()), int(anchors.time_ns.max())
        split = t0 + int(0.67 * (t1 - t0))
        fit_part = anchors.subset(anchors.time_ns <= split)
        held_out = anchors.subset(anchors.time_ns > split)
        try:
            response = fit_response_on_anchors(fit_part, churn, **response_params)
            effects = fit_effects(fit_part, base_model=response, risk_model=churn, **effect_params)
        except CjmlError:
            fit_part = anchors  # too little history to hold a period out: no policy choice
            held_out = anchors.subset(np.zeros(len(anchors), dtype=bool))
            response = fit_response_on_anchors(fit_part, churn, **response_params)
            effects = fit_effects(fit_part, base_model=response, risk_model=churn, **effect_params)
        choice = choose_policy(
            effects,
            held_out,
            fit_part,
            log.journey_map,
            response_model=response,
            churn_model=churn,
            test=params.get("policy_test", "normalised"),
        )
        if len(held_out):  # refit on every anchor now that the policy is chosen
            response = fit_response_on_anchors(anchors, churn, **response_params)
            effects = fit_effects(anchors, base_model=response, risk_model=churn, **effect_params)
        models = {
            "touchpoint_response": response,
            "touchpoint_effects": effects,
            "touchpoint_policy": choice,
        }
    except CjmlError as exc:
        warnings.warn(
            f"No touchpoint recommendations from this bundle: {exc}", UserWarning, stacklevel=3
        )
        return {}, str(exc)
    return models, None


def _experiments(log, featurizer, models, experiments, horizon) -> tuple[dict, dict | None]:
    """``metadata["effect_evidence"]`` and ``metadata["experiments"]``: what each
    touchpoint's effect rests on (empty without a recommender), and the campaigns
    measured on ``log`` that correct it (:mod:`cjml.experiments`; None without
    ``experiments``)."""
    from cjml.experiments import effect_evidence, find_manifests, learn_from_experiments
    from cjml.recommend import TouchpointRecommender

    effects = models.get("touchpoint_effects")
    if experiments is not None and isinstance(experiments, list | tuple) and not experiments:
        experiments = None
    if effects is None and "touchpoint_response" not in models:
        if experiments is not None:
            find_manifests(experiments)  # a wrong path is refused all the same
            warnings.warn(
                "The campaigns passed as experiments are not used: this bundle has no "
                "recommender to correct (recommender=False, or too few deliveries of "
                "actionable touchpoints to learn their effects).",
                UserWarning,
                stacklevel=3,
            )
        return {}, None
    if experiments is None:
        return effect_evidence(effects, {}), None
    recommender = TouchpointRecommender(
        models["churn"],
        featurizer,
        log.journey_map,
        response_model=models.get("touchpoint_response"),
        effects_model=effects,
        policy=models.get("touchpoint_policy"),
    )
    measured, summary = learn_from_experiments(
        log,
        recommender,
        experiments,
        horizon=horizon,
        level=0.9 if effects is None else effects.level,
    )
    return effect_evidence(effects, measured), summary


def _value_plan(log, value, margin) -> dict:
    """Whether ``train`` fits the value model (``fit``) and, when not, why (``note``)."""
    from cjml.value._targets import has_amounts, margin_rates

    if not (isinstance(value, bool) or value == "auto"):
        raise ValueError(f"value must be True, False or 'auto', got {value!r}.")
    if value is False:
        return {"fit": False, "note": "not asked for (value=False, --no-value)"}
    if not has_amounts(log):
        if value is True:
            raise ValueError(
                "value=True asks for the value model, but the events have no positive "
                "'amount', so there is no spend to learn from. Add the purchase amounts "
                "(an 'amount' column), or train without it (value=False, --no-value)."
            )
        return {"fit": False, "note": "the events have no positive amounts"}
    margin_rates(log, margin)  # a bad margin is refused before any model is fitted
    return {"fit": True, "note": None}


def _spend(
    log, table: pd.DataFrame, horizon, lookback, margin, rows: str = "training rows"
) -> np.ndarray:
    """Each row's spend over the horizon after its cutoff, in the order of ``table``.

    A window's net spend below zero (refunds of purchases made before it) counts as no
    spend: the value model predicts what a customer will spend, and the report's ranking
    measures need spends of at least zero. A warning says how many ``rows`` it touched.
    """
    from cjml.value._targets import value_targets

    cutoffs = sorted(pd.DatetimeIndex(table["cutoff"]).unique())
    targets = value_targets(log, cutoffs, horizon=horizon, lookback=lookback, margin=margin)
    keys = pd.MultiIndex.from_arrays([table["cutoff"], table["customer_id"]])
    spend = targets["spend"].reindex(keys).fillna(0.0).to_numpy(dtype=float)
    negative = spend < 0
    if negative.any():
        from cjml.io._messages import _user_stacklevel

        warnings.warn(
            f"{int(negative.sum()):,} of {len(spend):,} {rows} have a negative net spend "
            f"over the horizon (refunds of earlier purchases, down to "
            f"{float(spend.min()):,.2f}); they count as no spend (0) in the value model "
            "and its evaluation, which are about what customers will spend.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    return np.maximum(spend, 0.0)


def _held_out_value(log, value_model, churn, X, test_set, horizon, lookback, margin) -> dict:
    """The report's value section at a held-out cutoff: the model beside its baselines."""
    cutoff = pd.Timestamp(test_set["cutoff"].max())
    risk = churn.predict_proba(X)[:, 1]
    return value_section(
        _spend(log, test_set, horizon, lookback, margin, rows="held-out customers"),
        {"model": value_model.predict_value(X, risk)["expected_value"].to_numpy()},
        value_baselines(log, cutoff, test_set["customer_id"].to_numpy(), horizon, margin),
        {"cutoff": str(cutoff.date()), "horizon": duration_text(horizon)},
    )


def _value_model(common: dict, params):
    """A new :class:`~cjml.ValueModel` with the churn model's shared settings."""
    from cjml.value._model import ValueModel

    shared = {k: v for k, v in common.items() if k != "n_estimators"}
    return ValueModel(**{**shared, **(params or {})})


def _fit_survival(log, train_set, names, test, lookback, common):
    """The time-to-churn curve on the churn model's training rows, followed up to the
    held-out cutoff ``test`` (or the data's end without one); None, with a warning, when
    too few customers are followed up to learn it."""
    from cjml.exceptions import SmallDataWarning
    from cjml.io._messages import _user_stacklevel
    from cjml.survival import SurvivalModel, survival_targets

    cutoffs = sorted(train_set["cutoff"].unique())
    targets = survival_targets(log, cutoffs, lookback=lookback, data_end=test)
    index = pd.MultiIndex.from_frame(train_set[["cutoff", "customer_id"]])
    targets = targets.reindex(index)
    shared = ("horizon", "categorical_features", "n_jobs")
    settings = {k: v for k, v in common.items() if k in shared}
    try:
        return SurvivalModel(**settings).fit(
            train_set[names],
            targets["days_to_next"].to_numpy(),
            targets["observed"].to_numpy(dtype=bool),
            cutoffs=train_set["cutoff"],
            customer_ids=train_set["customer_id"],
        )
    except ValueError as err:
        warnings.warn(
            f"No time-to-churn curve in this bundle (scores give the risk at the horizon "
            f"only): {err}",
            SmallDataWarning,
            stacklevel=_user_stacklevel(),
        )
        return None


def _survival_section(log, models, test_set, names, lookback, horizon) -> dict:
    """The survival curve's held-out evaluation (:func:`cjml.survival.survival_report`)
    at the test cutoff, followed up to the end of the data."""
    from cjml.survival import survival_report, survival_targets

    if test_set.empty:
        return {}
    test_cutoff = test_set["cutoff"].iloc[0]
    targets = survival_targets(log, [test_cutoff], lookback=lookback)
    targets = targets.reindex(pd.MultiIndex.from_frame(test_set[["cutoff", "customer_id"]]))
    X = test_set[names]
    return survival_report(
        models["survival"],
        X,
        targets["days_to_next"].to_numpy(),
        targets["observed"].to_numpy(dtype=bool),
        churn_risk=models["churn"].predict_proba(X)[:, 1],
        horizon=horizon,
    )


def _plain(params: dict) -> dict:
    """Parameters as JSON-friendly values."""
    return {
        k: (v if isinstance(v, int | float | str | bool | type(None)) else str(v))
        for k, v in params.items()
    }


def _one_class_message(
    train_set: pd.DataFrame, cutoffs, horizon: pd.Timedelta, log: EventLog | None = None
) -> str:
    """Why training rows that all churn, or all stay, cannot train, and what would help."""
    n_days = horizon / pd.Timedelta(days=1)
    days = f"{n_days:g}"
    shorter, longer = f"{max(1, round(n_days / 2))}D", f"{round(n_days * 2)}D"
    shown = [str(c.date()) for c in cutoffs]
    cuts = f"{shown[0]} to {shown[-1]} ({len(shown)} cutoffs)" if len(shown) > 3 else str(shown)
    if train_set.empty:
        return (
            f"The training cutoffs {cuts} give no row: no customer was active in the lookback "
            "before any of them. Fix: a longer lookback (--lookback; lookback= in Python), or "
            "cutoffs within the log's period."
        )
    n = len(train_set)
    if int(train_set["churn"].iloc[0]) == 0:
        return (
            f"The training cutoffs {cuts} give {n:,} rows and no churner: every customer "
            f"had an event within {days} days after every cutoff, so there is no drop-off to "
            "learn. Both churners and stayers are needed. Fix: a shorter horizon if "
            f"customers come back more often than that, e.g. --horizon {shorter} "
            f"(horizon={shorter!r}), or a log that runs longer, where some customers stop."
        )
    if log is not None and log.n_events == log.n_customers:  # no horizon would help
        return (
            f"Every customer has one event in the log ({log.n_customers:,} customers, "
            f"{log.n_events:,} events): nobody comes back, so there is nothing to learn about "
            "who stays. Fix: export every event of each customer, not only the first or the "
            "latest (a table of customers, one row each, is not an event log)."
        )
    return (
        f"The training cutoffs {cuts} give {n:,} rows and every one churned: no customer had "
        f"an event within {days} days after a cutoff. Both churners and stayers are needed. "
        f"Fix: a longer horizon if customers come back less often than that, e.g. --horizon "
        f"{longer} (horizon={longer!r}), or more customers."
    )
