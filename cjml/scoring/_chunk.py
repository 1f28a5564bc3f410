"""Scoring one customer-complete partition (a chunk).

:class:`_Plan` holds everything a chunk needs besides the bundle (and is
picklable, for Dask workers); :func:`_out_schema` and :func:`_chunk_schema`
give the output's columns. :func:`_score_partition` validates a partition as
an :class:`~cjml.EventLog` (rejecting or raising on bad rows), and
:func:`_score_log` gives every customer a status and scores the population:
risk, band, next stage, drivers and recommendations. Warnings are recorded
per thread (:func:`_recorded_warnings`), so chunks scored side by side keep
their own.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cjml.bundle import ModelBundle
from cjml.events import EventLog
from cjml.exceptions import CjmlError, SchemaError
from cjml.io._batches import _PART, _RAW_TS, _REJECT, _ROW, _check_times, _id_kind, _Reader
from cjml.io._columns import _count_histogram, _crowded_candidates, _placeholder_ids
from cjml.io._messages import _Origin
from cjml.io._rejects import REJECT_COLUMNS, build_with_rejects, rejects_frame

#: The values of the ``status`` column.
STATUSES: tuple[str, ...] = ("scored", "inactive", "no_events", "cancelled")
_COST = "__cjml_cost"  # in finished chunks under a budget: the first-ranked touchpoint's cost


@dataclass
class _Plan:
    """Everything scoring a chunk needs besides the bundle (picklable)."""

    cutoff: pd.Timestamp | None
    lookback_ns: int | None
    top_k: int
    drivers: bool
    recommend: bool
    band_labels: tuple[str, ...]
    band_edges: tuple[float, ...]
    on_error: str
    timezone: Any
    drop_duplicates: bool
    csv: bool
    user_names: dict
    origin: _Origin
    id_kind: str = "str"
    next_stages: tuple[str, ...] = ()
    rules: Any = None  # RecommendationRules of the chunks (no budget), or None
    budget: float | None = None  # applied over the whole run, when the chunks are merged
    rank_key: str = "reduction"  # what orders customers under the budget (rank_key of the rules)
    missing_ids: tuple[str, ...] = ()
    include_inactive: bool = False  # write inactive / no-event customers after the scored ones
    value: bool = False  # the bundle has a value model: value columns
    horizons: tuple[int, ...] = ()  # days of the churn_risk_{d}d columns (survival model)
    horizon_days: float = 30.0  # the bundle's horizon, where the survival curve meets churn_risk
    reach: bool = False  # fill reach_probability without recommending (a bundle that cannot)
    # the listed ids as written, when some rows were kept only because their ids match as
    # whole numbers ('42.0' and '42') and the ids stayed text: those rows are dropped
    listed_exact: pa.Array | None = None


#: The output's number columns besides the expected reductions and values.
_FLOAT_COLUMNS = ("churn_risk", "reach_probability", "next_stage_proba")
#: The value columns (with a value model), after ``reach_probability``.
VALUE_COLUMNS = ("expected_value", "expected_value_low", "expected_value_high", "value_at_risk")


def _is_float_column(name: str) -> bool:
    return (
        name in _FLOAT_COLUMNS
        or name in VALUE_COLUMNS
        or name.startswith(("expected_risk_reduction", "expected_value_saved", "churn_risk_"))
    )


def _horizon_columns(horizons: Sequence[int]) -> list[str]:
    return [f"churn_risk_{d}d" for d in horizons]


def _out_columns(plan: _Plan) -> list[str]:
    cols = [
        "customer_id",
        "churn_risk",
        *_horizon_columns(plan.horizons),
        "risk_band",
        "reach_probability",
        *(VALUE_COLUMNS if plan.value else ()),
        "next_stage",
        "next_stage_proba",
        "top_drivers",
        *_recommendation_columns(plan.top_k, value=plan.value),
    ]
    return [*cols, "status"]


def _out_schema(plan: _Plan) -> pa.Schema:
    fields = []
    for c in _out_columns(plan):
        if c == "customer_id":
            t = pa.int64() if plan.id_kind == "int" else pa.string()
        elif _is_float_column(c):
            t = pa.float64()
        elif c == "uncertain":
            t = pa.bool_()
        else:
            t = pa.string()
        fields.append(pa.field(c, t))
    return pa.schema(fields)


def _chunk_schema(plan: _Plan) -> pa.Schema:
    """A finished chunk's columns: the output's, and under a budget the cost of each
    customer's first-ranked touchpoint, which the run-wide budget pass reads."""
    schema = _out_schema(plan)
    if plan.budget is not None:
        schema = schema.append(pa.field(_COST, pa.float64()))
    return schema


_REJECT_FIXED = list(REJECT_COLUMNS)


def _rejects_schema(plan: _Plan, event_columns: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [pa.field("row", pa.int64())]
        + [pa.field(c, pa.string()) for c in _REJECT_FIXED[1:]]
        + [pa.field(plan.user_names.get(c, str(c)), pa.string()) for c in event_columns]
    )


def _finish_plan(plan: _Plan, reader: _Reader, state: dict) -> _Plan:
    """The plan with what the partition pass learnt: cutoff, id type, file starts."""
    total = state["pass1"]
    cutoff = plan.cutoff
    if cutoff is None:
        if total.get("max_ns") is None:
            raise SchemaError(
                "No event of the input has a valid timestamp, so there is no "
                "default cutoff. Fix the timestamps (see the rejects), or pass "
                "a cutoff."
            )
        cutoff = pd.Timestamp(int(total["max_ns"]), tz="UTC")
    _check_times(total, reader, default_cutoff=plan.cutoff is None)
    id_kind = _id_kind(reader, total)
    exact = reader.customers if total.get("loose_ids") and id_kind == "str" else None
    return replace(
        plan, cutoff=cutoff, id_kind=id_kind, origin=reader.origin(None), listed_exact=exact
    )


def _score_partition(
    table: pa.Table, bundle: ModelBundle, plan: _Plan
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Validate, featurize and score one customer-complete partition.

    Returns the scores (one row per customer, sorted by id), the rejected rows
    and counts (statuses, rejects, duplicates, unknown touchpoints, warnings).
    """
    frame = _as_categories(table).to_pandas()
    rows = frame.pop(_ROW).to_numpy(dtype=np.int64)
    reasons = frame.pop(_REJECT)
    raw_ts = frame.pop(_RAW_TS)
    frame.pop(_PART)
    event_cols = list(frame.columns)
    rejected = reasons.notna().to_numpy()
    rejects = []
    if rejected.any():
        raw = frame.loc[rejected].copy()
        raw["timestamp"] = raw_ts[rejected]
        rejects.append(
            _reject_rows(
                raw, rows[rejected], "timestamp", reasons[rejected].to_numpy(dtype=object), plan
            )
        )
        frame, rows = frame.loc[~rejected].reset_index(drop=True), rows[~rejected]
    frame = _convert_ids(frame, plan.id_kind)
    if plan.listed_exact is not None:
        frame, rows = _listed_only(frame, rows, plan.listed_exact)
    counts: dict[str, Any] = {"rejected": int(rejected.sum()), "warnings": []}

    def build(keep: np.ndarray) -> EventLog:
        data = frame if len(keep) == len(frame) else frame.iloc[keep].reset_index(drop=True)
        with _recorded_warnings(ignore=UserWarning):  # counted below, reported once
            return EventLog._from_source(
                data,
                replace(plan.origin, rows=rows[keep]),
                text_ints=plan.csv and plan.id_kind == "int",
                columns=None,
                journey_map=None if bundle.journey_map is None else bundle.journey_map,
                timezone=plan.timezone,
                timestamp_unit=None,
                drop_duplicates=plan.drop_duplicates,
                missing_ids=plan.missing_ids,
                log_checks=False,
            )  # made once over the input (_check_times)

    try:
        log, set_aside = build_with_rejects(
            len(frame), build, quarantine=plan.on_error == "quarantine"
        )
    except SchemaError as err:
        if err.positions is None:
            raise
        raise SchemaError(
            f"{err}\n(Rows are numbered from 0 over the whole input. Only the "
            "chunk of customers being scored was checked; pass "
            "on_error='quarantine' (--on-error quarantine) to set all such rows "
            "aside and score the rest.)"
        ) from None
    for hit, column, problem in set_aside:
        rejects.append(
            _reject_rows(
                frame.iloc[hit],
                rows[hit],
                column,
                np.full(len(hit), f"{column}: {problem}", dtype=object),
                plan,
            )
        )
        counts["rejected"] += len(hit)
    if log is None:
        scores = _empty_scores(plan)
        counts["status"] = {}
    else:
        bundle.check_events(log)
        with _recorded_warnings() as caught:
            scores = _score_log(log, bundle, plan)
        counts["warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
        counts["status"] = {k: int(v) for k, v in scores["status"].value_counts().items()}
        counts["duplicates"] = int(log.duplicates_found)
        counts["unknown"] = sorted(log.unknown_touchpoints)
        counts["spaced_ids"] = _spaced_ids(log, plan)
        per_customer = np.bincount(log.customer_codes, minlength=log.n_customers)
        counts["crowded_ids"] = _crowded_candidates(per_customer, log.customer_ids)
        counts["event_counts"] = _count_histogram(per_customer)
        text_ids = plan.id_kind != "int"
        counts["placeholder_ids"] = _placeholder_ids(log.customer_ids) if text_ids else []
    names = [plan.user_names.get(c, c) for c in event_cols]
    reject_frame = (
        pd.concat(rejects, ignore_index=True)
        if rejects
        else pd.DataFrame(columns=[*_REJECT_FIXED, *names])
    )
    if len(reject_frame):
        reject_frame = reject_frame.sort_values("row", kind="stable").reset_index(drop=True)
    return scores, reject_frame, counts


#: Threads recording their warnings (see :func:`_recorded_warnings`).
_RECORDING = threading.local()
_RECORDING_LOCK = threading.Lock()
_RECORDING_STATE: dict[str, Any] = {"threads": 0, "context": None, "show": None}


@contextlib.contextmanager
def _recorded_warnings(ignore: type[Warning] | tuple = ()) -> Iterator[list]:
    """The warnings this thread raises in the block, in a list (``ignore``'s dropped).

    ``warnings.catch_warnings`` is process-wide: two threads scoring chunks
    would swap each other's filters and records. While any thread records,
    ``warnings.showwarning`` is :func:`_dispatch_warning` and every warning is
    let through ("always"); a recording thread's go to its list, other
    threads' to the handler that was there before.
    """
    caught: list = []
    outer = getattr(_RECORDING, "sink", None)
    _RECORDING.sink = (caught, ignore)
    with _RECORDING_LOCK:
        if _RECORDING_STATE["threads"] == 0:
            context = warnings.catch_warnings()  # restores filters and showwarning on exit
            context.__enter__()
            _RECORDING_STATE.update(context=context, show=warnings.showwarning)
            warnings.simplefilter("always")
            warnings.showwarning = _dispatch_warning
        _RECORDING_STATE["threads"] += 1
    try:
        yield caught
    finally:
        _RECORDING.sink = outer
        with _RECORDING_LOCK:
            _RECORDING_STATE["threads"] -= 1
            if _RECORDING_STATE["threads"] == 0:
                _RECORDING_STATE["context"].__exit__(None, None, None)


def _dispatch_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sink = getattr(_RECORDING, "sink", None)
    if sink is None:
        _RECORDING_STATE["show"](message, category, filename, lineno, file, line)
    elif not issubclass(category, sink[1]):
        sink[0].append(warnings.WarningMessage(message, category, filename, lineno, file, line))


def _as_categories(table: pa.Table) -> pa.Table:
    """Text columns (but the ids) dictionary-encoded: read_events codes categoricals fastest."""
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) and f.name not in ("customer_id", _REJECT, _RAW_TS):
            table = table.set_column(i, f.name, pc.dictionary_encode(table.column(i)))
    return table


def _listed_only(
    frame: pd.DataFrame, rows: np.ndarray, listed: pa.Array
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows whose id is listed as written: ids that stayed text are not numbers, so
    '42.0' is not the listed '42' (the partition pass kept both, not knowing yet)."""
    ids = pa.array(frame["customer_id"].astype(object).to_numpy(), type=pa.string())
    keep = pc.is_in(ids, value_set=listed).fill_null(False).to_numpy(zero_copy_only=False)
    if keep.all():
        return frame, rows
    return frame.loc[keep].reset_index(drop=True), rows[keep]


def _convert_ids(frame: pd.DataFrame, id_kind: str) -> pd.DataFrame:
    """Customer ids that would become text in one chunk and numbers in another: text."""
    col = frame["customer_id"]
    if id_kind == "str" and pd.api.types.is_float_dtype(col.dtype):
        text = np.array(pd.Index(col.to_numpy()).astype(str), dtype=object)
        text[col.isna().to_numpy()] = None
        frame = frame.assign(customer_id=text)
    return frame


def _reject_rows(
    raw: pd.DataFrame, rows: np.ndarray, column, reasons: np.ndarray, plan: _Plan
) -> pd.DataFrame:
    return rejects_frame(
        raw, rows, plan.user_names.get(column, column), reasons, plan.origin, plan.user_names
    )


#: Ids with spaces around them kept per chunk, for the run's warning (a count beyond it is
#: a lower bound, and the message shows a few anyway).
_SPACED_KEPT = 10_000


def _spaced_ids(log: EventLog, plan: _Plan) -> list[str]:
    """The chunk's text ids with spaces around them (' 42'). A customer's rows all land in
    one chunk, but ' 42' and '42' may land in two: the run checks them together, after
    the last chunk (:func:`cjml.scoring._merge._spaced_twins`)."""
    if plan.id_kind == "int":
        return []
    try:
        ids = pa.array(log.customer_ids, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: as text
        ids = pa.array(pd.Index(log.customer_ids).astype(str), type=pa.string())
    spaced = pc.filter(ids, pc.not_equal(ids, pc.utf8_trim_whitespace(ids)))
    return spaced.slice(0, _SPACED_KEPT).to_pylist()


def _empty_scores(plan: _Plan) -> pd.DataFrame:
    return _chunk_schema(plan).empty_table().to_pandas()


def _score_log(log: EventLog, bundle: ModelBundle, plan: _Plan) -> pd.DataFrame:
    """One row per customer of ``log``: scores for the population, a status for all."""
    from cjml.explanations import explain, top_drivers_text
    from cjml.features._windows import build_windows

    cutoff = plan.cutoff
    assert cutoff is not None  # the plan is finished (_finish_plan) before chunks are scored
    n = log.n_customers
    seen = np.bincount(log.customer_codes[log.timestamps_ns <= cutoff.value], minlength=n) > 0
    windows = build_windows(log, cutoff, lookback_ns=plan.lookback_ns)
    population = windows.customer
    status = np.where(seen, "inactive", "no_events").astype(object)
    gone = log.gone_at(cutoff.value)  # None unless the map marks a churn touchpoint
    if gone is not None:
        status[seen & gone] = "cancelled"  # never in the population: build_windows leaves them out
    status[population] = "scored"
    out: dict[str, Any] = {"customer_id": log.customer_ids}
    churn_risk = np.full(n, np.nan)
    band = np.full(n, None, dtype=object)
    reach = np.full(n, np.nan)  # the recommender's estimate, or without it still_there's
    next_stage = np.full(n, None, dtype=object)
    next_proba = np.full(n, np.nan)
    top_drivers = np.full(n, None, dtype=object)
    horizon_cols = _horizon_columns(plan.horizons)
    horizon_risk = {c: np.full(n, np.nan) for c in horizon_cols}
    values = {c: np.full(n, np.nan) for c in (VALUE_COLUMNS if plan.value else ())}
    rec_cols = _recommendation_columns(plan.top_k, value=plan.value)
    recs = {
        c: (np.full(n, np.nan) if c.startswith("expected") else np.full(n, None, dtype=object))
        for c in rec_cols
    }
    first_cost = np.full(n, np.nan)
    if len(population):
        X = _featurize(bundle.featurizer, windows, cutoff)
        churn, stage = bundle.models["churn"], bundle.models["next_stage"]
        matrix = churn.feature_matrix(X)  # converted once for both models
        risk = churn.predict_proba(matrix)[:, 1]
        proba = stage.predict_proba(matrix, churn_risk=risk)
        del matrix
        best = np.argmax(proba, axis=1)
        churn_risk[population] = risk
        edges = np.asarray(plan.band_edges)
        labels = np.asarray(plan.band_labels, dtype=object)
        band[population] = labels[
            np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, len(labels) - 1)
        ]
        next_stage[population] = np.asarray(stage.classes_, dtype=object)[best]
        next_proba[population] = proba[np.arange(len(best)), best]
        if plan.horizons:
            curve = _risk_by_horizon(bundle, X, risk, plan)
            for c in horizon_cols:
                horizon_risk[c][population] = curve[c]
        value_if_retained = None
        if plan.value:
            worth = bundle.models["value"].predict_value(X, risk)
            for c in VALUE_COLUMNS:
                values[c][population] = worth[c].to_numpy(dtype=np.float64, na_value=np.nan)
            value_if_retained = worth["value_if_retained"].to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        if plan.drivers:
            explanation = explain(
                churn, X, feature_families=bundle.featurizer, top_n=3, method="saabas"
            )
            top_drivers[population] = top_drivers_text(explanation, X.index).to_numpy(dtype=object)
        if plan.recommend:
            rec = _recommend(
                bundle,
                log,
                X,
                risk,
                cutoff,
                plan.top_k,
                plan.rules,
                with_cost=plan.budget is not None,
                value=value_if_retained,
            )
            for c in rec_cols:
                recs[c][population] = (
                    rec[c].to_numpy(dtype=np.float64, na_value=np.nan)
                    # pandas-stubs leave out na_value=None, which pandas takes
                    if c.startswith("expected")
                    else rec[c].to_numpy(  # type: ignore[call-overload]
                        dtype=object, na_value=None
                    )
                )
            # no recommendation: nothing to be uncertain about
            uncertain = rec["uncertain"].to_numpy(dtype=object, copy=True)
            uncertain[rec["recommended_touchpoint"].isna().to_numpy()] = None
            recs["uncertain"][population] = uncertain
            reach[population] = rec["reach_probability"].to_numpy(dtype=np.float64, na_value=np.nan)
            if plan.budget is not None:
                first_cost[population] = rec["cost"].to_numpy(dtype=np.float64, na_value=np.nan)
        elif plan.reach:
            from cjml.recommend import still_there

            reach[population] = still_there(bundle.featurizer, churn, log, X.index, risk, cutoff)[2]
    out.update(
        {
            "churn_risk": churn_risk,
            **horizon_risk,
            "risk_band": band,
            "reach_probability": reach,
            **values,
            "next_stage": next_stage,
            "next_stage_proba": next_proba,
            "top_drivers": top_drivers,
            **recs,
            "status": status,
        }
    )
    if plan.budget is not None:
        out[_COST] = first_cost
    frame = pd.DataFrame(out)
    return frame[_chunk_schema(plan).names]


def _featurize(featurizer, windows, cutoff) -> pd.DataFrame:
    """``featurizer.transform`` for an explicit population (the rows of ``windows``)."""
    X = featurizer._transform_windows(windows)
    try:  # the record transform leaves, which the recommender's candidate rows read
        from cjml.features._candidates import ATTRS_KEY, cutoff_record
    except ImportError:
        return X
    X.attrs[ATTRS_KEY] = cutoff_record(featurizer, windows, cutoff)
    return X


#: What qualifies the first recommendation: the interval on its reduction, and whether that
#: interval includes no effect.
_QUALIFIERS = ("expected_risk_reduction_low", "expected_risk_reduction_high", "uncertain")


def _recommendation_columns(top_k: int, *, value: bool = False) -> list[str]:
    """The recommendation columns; with values, ``expected_value_saved{suffix}`` right
    after each ``expected_risk_reduction{suffix}``."""
    saved = ["expected_value_saved"] if value else []
    cols = ["recommended_touchpoint", "expected_risk_reduction", *saved, *_QUALIFIERS]
    for r in range(2, top_k + 1):
        cols += [f"recommended_touchpoint_{r}", f"expected_risk_reduction_{r}"]
        cols += [f"{c}_{r}" for c in saved]
    return cols


def _risk_by_horizon(
    bundle: ModelBundle, X: pd.DataFrame, risk: np.ndarray, plan: _Plan
) -> dict[str, np.ndarray]:
    """``churn_risk_{d}d`` for the plan's horizons, from the survival curve anchored so
    that it passes through ``churn_risk`` at the bundle's horizon.

    The bundle's own horizon is ``churn_risk`` itself, and the others are held on
    its side of it: the curve never increases with the days, whatever the rounding.
    """
    curve = bundle.models["survival"].predict_risk(
        X, list(plan.horizons), anchor=(plan.horizon_days, risk)
    )
    out = {}
    for d in plan.horizons:
        c = f"churn_risk_{d}d"
        values = curve[c].to_numpy(dtype=np.float64, na_value=np.nan)
        if d == plan.horizon_days:
            values = risk
        elif d < plan.horizon_days:
            values = np.fmax(values, risk)
        else:
            values = np.fmin(values, risk)
        out[c] = np.asarray(values, dtype=np.float64)
    return out


def _recommend(
    bundle,
    log_chunk,
    features,
    churn_risk,
    cutoff,
    top_k,
    rules=None,
    *,
    with_cost=False,
    value=None,
) -> pd.DataFrame:
    """The recommended touchpoints of the customers of ``features`` (one row each).

    Returns a DataFrame indexed like ``features`` (by customer id) with
    ``reach_probability`` (the chance the customer is still there to receive a
    touchpoint), ``recommended_touchpoint, expected_risk_reduction``, the first one's
    interval and ``uncertain`` flag, and, for ranks
    ``r = 2..top_k``, ``recommended_touchpoint_r, expected_risk_reduction_r``
    (and ``cost``, the first-ranked touchpoint's, with ``with_cost``), under
    the business ``rules`` (the chunks' rules: a budget is applied run-wide,
    in :func:`_write_output`). With ``value`` (each customer's value if
    retained), ``expected_value_saved{suffix}`` too. Missing values where
    :mod:`cjml.recommend` is not available.
    """
    columns = (
        ["reach_probability"]
        + _recommendation_columns(top_k, value=value is not None)
        + (["cost"] if with_cost else [])
    )
    try:
        from cjml.recommend import TouchpointRecommender
    except ImportError:
        numeric = ("expected", "cost", "reach")  # expected_value_saved too
        return pd.DataFrame(
            {
                c: (
                    np.full(len(features), np.nan)
                    if c.startswith(numeric)
                    else np.full(len(features), None, dtype=object)
                )
                for c in columns
            },
            index=features.index,
        )
    try:
        rec = TouchpointRecommender.from_bundle(bundle, rules=rules).recommend(
            log_chunk,
            cutoff=cutoff,
            features=features,
            churn_risk=churn_risk,
            top_k=top_k,
            **({} if value is None else {"value_if_retained": value}),
        )
    except CjmlError as err:  # e.g. a bundle without what the recommender needs
        raise type(err)(
            f"{err} Or score without recommendations: recommend=False (--no-recommend)."
        ) from err
    return rec.reindex(features.index)[columns]
