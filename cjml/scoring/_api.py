"""The public entry point of batch scoring, :func:`score`: options checked, the
run folder opened, an engine run, the chunks merged, the summary made.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from cjml._dask import ClusterError
from cjml.bundle import ModelBundle
from cjml.events import EventLog, to_utc_timestamp
from cjml.exceptions import CjmlError
from cjml.io._batches import _Reader
from cjml.io._columns import _parse_columns, _resolve_columns, _warn_variant_columns
from cjml.io._csv import encoding_name, parse_missing_ids
from cjml.io._messages import TEXT_KINDS, _Origin
from cjml.io._source import _decide_date_format, _open_source, _with_constant_touchpoint
from cjml.io._write import WriteError, check_output
from cjml.labels import to_timedelta
from cjml.scoring._chunk import _Plan
from cjml.scoring._dask_engine import _run_dask
from cjml.scoring._local import _n_parts, _run_local
from cjml.scoring._merge import (
    _absent_customers,
    _case_twins_of_run,
    _spaced_twins,
    _write_output,
)
from cjml.scoring._options import (
    DEFAULT_CHUNK_EVENTS,
    _bundle_id,
    _check_bundle,
    _check_event_columns,
    _check_horizons,
    _check_options,
    _check_rules,
    _cjml_version,
    _flat_columns,
    _hash_values,
    _input_paths,
    _list_as_arrow,
    _lookback_ns,
    _needed_columns,
    _parse_horizons,
    _read_customer_list,
    _recommend_if_possible,
    _rejects_path,
    _rules_fingerprint,
    _rules_plan,
)
from cjml.scoring._run import _RunDir, _writing_error
from cjml.scoring._summary import (
    ScoreSummary,
    _add_counts,
    _emit_warnings,
    _warn_unmatched_list,
)


def score(
    bundle,
    events,
    *,
    customers=None,
    cutoff=None,
    top_k=1,
    out=None,
    force=False,
    resume=False,
    on_error="raise",
    engine="local",
    scheduler=None,
    risk_bands=None,
    drivers=True,
    recommend=True,
    rules=None,
    columns=None,
    timezone=None,
    timestamp_unit=None,
    drop_duplicates=False,
    chunk_events=DEFAULT_CHUNK_EVENTS,
    compile=False,
    n_jobs=None,
    progress=False,
    missing_ids=None,
    include_inactive=False,
    horizons=None,
    encoding=None,
    touchpoint=None,
):
    """Score every customer (or the listed ones): risk, next stage, drivers, best touchpoint.

    Streams the events in customer-complete chunks, so memory stays flat as
    the input grows (see :mod:`cjml.scoring` for how, and for what
    ``resume`` and the engines guarantee).

    Parameters
    ----------
    bundle : ModelBundle or path
        A trained bundle (:func:`cjml.train`), or its file.
    events : DataFrame, EventLog, str or path-like
        The events, as for :func:`cjml.read_events`: a DataFrame, a CSV or
        Parquet file, or a folder of CSV or of Parquet files.
    customers : list-like or path, optional
        Score only these customer ids (a list, array or Series, or a CSV or
        Parquet file with a ``customer_id`` column, or with one column).
        Listed customers without events get a row with status ``"no_events"``.
    cutoff : date, optional
        Score as of this moment (in ``timezone`` unless it has an offset); only
        events at or before it are used. Default: the last event of the input.
    top_k : int, default 1
        Touchpoints recommended per customer.
    out : str or path-like, optional
        Write the scores to this ``.parquet`` or ``.csv`` file and return a
        :class:`ScoreSummary`. Default: return the scores as a DataFrame.
    force : bool, default False
        Replace an existing output (and rejects file), and discard an
        unfinished run of the same output.
    resume : bool, default False
        Continue the unfinished run of ``out`` from its last finished chunk.
    on_error : {"raise", "quarantine"}, default "raise"
        Rows that fail validation stop the run with their row numbers, or go
        to the rejects file beside ``out`` (in memory:
        ``result.attrs["rejects"]``), with the reason.
    engine : {"local", "dask"}, default "local"
        Score here, in chunks; or on a dask.distributed cluster.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler address (``"tcp://host:8786"``)
        or a connected client; default a new LocalCluster.
    risk_bands : mapping, optional
        Band name to the lowest churn risk of the band, e.g.
        ``{"low": 0, "high": 0.6}``; default :data:`DEFAULT_RISK_BANDS`. The
        lowest bound must be 0.
    drivers : bool, default True
        Fill ``top_drivers`` (the churn model's top three feature families,
        in words; see :func:`cjml.explain`).
    recommend : bool, default True
        Fill the recommendation columns (:mod:`cjml.recommend`) and
        ``reach_probability``; a bundle that cannot recommend (a warning says
        why) still fills ``reach_probability``.
    rules : RecommendationRules, dict, str or path-like, optional
        Business rules for the recommendations, as for
        :class:`cjml.TouchpointRecommender`: a
        :class:`~cjml.RecommendationRules`, its dict form or a TOML file
        (exclusions, contact caps, ``min_risk``, ``min_reduction``, ``budget``,
        costs, ``rank_by``). They are checked against the bundle's journey map
        before any work. A ``budget`` holds over the whole run, not per chunk:
        the chunks are scored without it, then customers are served in the
        recommender's order (best expected reduction first, or per unit cost,
        or largest value saved, as ``rank_by`` says; ties by customer id) until
        the first-ranked
        touchpoints' total cost would exceed the budget, and the
        recommendation columns of the rest are left empty, exactly as
        :meth:`cjml.TouchpointRecommender.recommend` on the whole log. Needs
        ``recommend=True``.
    columns : mapping or str, optional
        Canonical name -> your column name, as for :func:`cjml.read_events`;
        default the names the bundle was trained on, where the events have them
        (:meth:`ModelBundle.columns_for`).
    timezone : str, optional
        Timezone of naive timestamps and of a naive ``cutoff``. Default: the events'
        own (an EventLog's, the one a log saved by :meth:`cjml.EventLog.save` records,
        or the zone of a timezone-aware timestamp column), else the one the bundle was
        trained in
        (:meth:`ModelBundle.timezone_for`), else UTC.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Read numeric timestamps as epoch times in this unit.
    drop_duplicates : bool, default False
        Remove exact duplicate events (they are counted either way).
    chunk_events : int, default 1,000,000
        Events per chunk, about: memory grows with it, speed a little.
    compile : bool, default False
        Compile the models' trees first (needs the ``fast`` extra and a C
        compiler; about 20 s the first time, then cached).
    n_jobs : int, optional
        Threads of the local engine; default one per core for inputs of
        :data:`PARALLEL_FROM_EVENTS` rows or more, else 1.
        The output is the same for any value.
    progress : bool, default False
        Show progress bars (tqdm) with customers per second.
    missing_ids : sequence of str or str, optional
        Customer ids that mean "missing" (``["NA", "null"]``), in the events
        and the customer list; by default only empty ids are missing, as for
        :func:`cjml.read_events`.
    include_inactive : bool, default False
        Also write the customers that were not scored (status ``"inactive"``,
        ``"cancelled"`` or ``"no_events"``, their score columns empty), after the
        scored ones.
        By default only scored customers are written, and the summary says
        how many others were left out.
    horizons : str or list of durations, optional
        Also give the churn risk within each of these horizons, from the
        bundle's survival model: ``"7D,30D,90D"`` (bare numbers are days; whole
        days only) adds ``churn_risk_7d, churn_risk_30d, churn_risk_90d`` right
        after ``churn_risk``. Each customer's curve is anchored so that the
        bundle's own horizon equals ``churn_risk``, and it never rises with
        the days. Needs a bundle with a survival model, and horizons up to its
        ``max_days_`` (checked before any work).
    encoding : str, optional
        The text encoding of CSV events when it is not UTF-8 (``"cp1252"``), as
        for :func:`cjml.read_events`.
    touchpoint : str, optional
        The touchpoint of every event, for events without a touchpoint column
        (``"purchase"``), as for :func:`cjml.read_events`; default the one the
        bundle was trained with, when it was trained so and the events have no
        touchpoint column.

    Returns
    -------
    DataFrame or ScoreSummary
        Without ``out``: one row per scored customer, sorted by
        ``customer_id`` (with ``include_inactive``, then one per other
        customer, sorted the same way), with
        the columns listed in the module documentation. Its ``attrs`` hold
        plain JSON-friendly data, so the frame can be written with
        ``to_parquet`` (which keeps them) and sliced and concatenated freely:

        - ``attrs["summary"]``: :meth:`ScoreSummary.to_dict` of the run;
          ``ScoreSummary.from_dict(scores.attrs["summary"])`` gives the
          :class:`ScoreSummary` back (counts, cutoff, time, ``to_text()``);
        - ``attrs["rejects"]``: the rejected rows (``on_error="quarantine"``)
          as a dict of column name -> list of values (``row, location,
          column, reason`` and the event columns as read, as text);
          ``pd.DataFrame(scores.attrs["rejects"])`` rebuilds the table (no
          rows when nothing was rejected).

        With ``out``: the :class:`ScoreSummary`; the scores are in the file.

    Raises
    ------
    SchemaError
        When rows fail validation (``on_error="raise"``): the message names
        the column, the rows (numbered over the whole input, with file and
        line) and the fix.
    BundleError
        When the events lack columns the models were trained with, or a
        resumed run was started with different inputs, bundle or options.
    InputFileError
        When the output exists (without ``force``), is a folder, is one of the
        inputs or lies inside the events folder (even with ``force``), or an
        input cannot be read.
    cjml.io._write.WriteError
        When a file cannot be written (a full disk...): the message names it
        and, when chunks were finished, says that ``resume=True`` continues.

    See Also
    --------
    cjml.explain : The drivers behind ``top_drivers``.

    Examples
    --------
    >>> import cjml
    >>> from cjml.datasets import load_sample
    >>> bundle, _ = cjml.train(load_sample(), holdout=False)  # doctest: +SKIP
    >>> scores = cjml.score(bundle, load_sample(), top_k=2)  # doctest: +SKIP
    >>> scores.columns.tolist()[:5]  # doctest: +SKIP
    ['customer_id', 'churn_risk', 'risk_band', 'reach_probability', 'expected_value']
    >>> print(ScoreSummary.from_dict(scores.attrs["summary"]))  # doctest: +SKIP
    3,000 customers at 2024-08-31 ... (938 scored, 2,062 inactive, 0 without events) ...
    >>> capped = cjml.score(bundle, load_sample(), rules={"budget": 500.0})  # doctest: +SKIP
    """
    started = time.perf_counter()
    options = _check_options(
        top_k=top_k,
        on_error=on_error,
        engine=engine,
        risk_bands=risk_bands,
        chunk_events=chunk_events,
        out=out,
        resume=resume,
        timestamp_unit=timestamp_unit,
        n_jobs=n_jobs,
    )
    bands = options["bands"]
    horizon_days = _parse_horizons(horizons)
    out_path = None if out is None else Path(out)
    rejects_path = None if out_path is None else _rejects_path(out_path)
    if out_path is not None:  # before any work, and never over an input, even with force
        inputs = _input_paths(bundle, events, customers, rules)
        for path in (out_path, rejects_path):
            check_output(path, inputs=inputs, force=force)
    bundle_id = _bundle_id(bundle)
    bundle = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
    _check_bundle(bundle)
    _check_horizons(horizon_days, bundle)
    reach_only = bool(recommend)  # a bundle that cannot recommend still says who is reachable
    recommend = _recommend_if_possible(bundle, recommend, rules)
    reach_only = reach_only and not recommend
    rules = _check_rules(rules, bundle, recommend)
    timezone = bundle.timezone_for(events, timezone, columns)
    missing_ids = parse_missing_ids(missing_ids)
    encoding = encoding_name(encoding)
    mapping = _parse_columns(bundle.columns_for(events, columns, encoding))
    src = _open_source(events.frame if isinstance(events, EventLog) else events, encoding, mapping)
    touchpoint = bundle.touchpoint_for(events, touchpoint, columns, encoding)
    if touchpoint is not None and not isinstance(events, EventLog):  # a log has its own
        src = _with_constant_touchpoint(src, touchpoint, mapping)
    resolved = _resolve_columns(mapping, src.columns)
    _warn_variant_columns(resolved, src.columns)
    needed = _flat_columns(
        src, _needed_columns(bundle, resolved, src.columns, drop_duplicates), resolved, bundle
    )
    _check_event_columns(bundle, resolved, src.columns)
    listed = (
        None
        if customers is None
        else _read_customer_list(customers, resolved, missing_ids, encoding)
    )
    cut = None if cutoff is None else to_utc_timestamp(cutoff, timezone)
    if compile:
        for name in ("churn", "next_stage"):
            bundle.models[name].compile()

    # The run folder: finished chunks and the state, beside the output.
    fingerprint_parts = {
        "cjml": _cjml_version(),
        "events": src.identity(),
        "bundle": bundle_id,
        "customers": None if listed is None else _hash_values(listed),
        "options": {
            "cutoff": None if cut is None else cut.isoformat(),
            "top_k": int(top_k),
            "on_error": on_error,
            "engine": engine,
            "bands": list(bands.items()),
            "drivers": bool(drivers),
            "recommend": bool(recommend),
            "rules": _rules_fingerprint(rules),
            "columns": {k: str(v) for k, v in mapping.items()},
            "timezone": str(timezone),
            "timestamp_unit": timestamp_unit,
            "drop_duplicates": bool(drop_duplicates),
            "chunk_events": int(chunk_events),
            "missing_ids": list(missing_ids),
            "horizons": list(horizon_days),
            "encoding": encoding,
            "touchpoint": touchpoint,
        },
    }
    run = _RunDir.open(out_path, fingerprint_parts, resume=resume, force=force)
    _small_pages(True)
    try:
        reader = _Reader(
            kind=src.kind,
            names=src.names,
            starts=(),
            resolved=resolved,
            read_columns=[c for c in src.columns if c in needed],
            rename={str(v): k for k, v in resolved.items()},
            timezone=timezone,
            timestamp_unit=timestamp_unit,
            strict=on_error == "raise",
            n_parts=_n_parts(src.estimate_rows(), chunk_events, n_jobs, engine),
            customers=None
            if listed is None
            else _list_as_arrow(listed, src.customer_type(resolved["customer_id"]), resolved),
            index=src.index(),
            missing_ids=missing_ids,
        )
        _decide_date_format(src, reader)  # one reading of the dates for every batch
        plan = _Plan(
            cutoff=cut,
            lookback_ns=_lookback_ns(bundle),
            top_k=int(top_k),
            drivers=bool(drivers),
            recommend=bool(recommend),
            band_labels=tuple(bands),
            band_edges=tuple(bands.values()),
            on_error=on_error,
            timezone=timezone,
            drop_duplicates=bool(drop_duplicates),
            csv=src.kind in TEXT_KINDS,
            next_stages=tuple(str(c) for c in bundle.models["next_stage"].classes_),
            user_names={k: str(v) for k, v in resolved.items()},
            origin=_Origin(),
            missing_ids=missing_ids,
            include_inactive=bool(include_inactive),
            value="value" in bundle.models,
            horizons=horizon_days,
            horizon_days=to_timedelta(bundle.metadata.get("horizon", "30D")) / pd.Timedelta(days=1),
            reach=reach_only,
            **_rules_plan(rules, bundle),
        )
        if engine == "dask":
            result = _run_dask(src, reader, plan, bundle, run, scheduler, progress)
        else:
            result = _run_local(src, reader, plan, bundle, run, progress, n_jobs)
        plan, chunk_counts, n_resumed = result
        absent = _absent_customers(listed, run, plan)
        spaced = _spaced_twins(run, _add_counts(chunk_counts)["spaced_ids"])
        case_twins = _case_twins_of_run(run, plan)
        frame, rejects_written, totals = _write_output(
            run, plan, absent, out_path, rejects_path, force=force
        )
        counts = _add_counts(chunk_counts)
        status_counts = counts.get("status", {})
        summary = ScoreSummary(
            n_customers=int(sum(status_counts.values())) + len(absent),
            n_scored=int(status_counts.get("scored", 0)),
            n_inactive=int(status_counts.get("inactive", 0)),
            n_cancelled=int(status_counts.get("cancelled", 0)),
            n_no_events=int(status_counts.get("no_events", 0)) + len(absent),
            n_listed=None if listed is None else len(listed),
            n_listed_absent=len(absent),
            n_rows_read=int(run.state["pass1"]["rows"]),
            n_rows_rejected=int(counts.get("rejected", 0)),
            n_duplicates=int(counts.get("duplicates", 0)),
            unknown_touchpoints=tuple(sorted(counts.get("unknown", set()))),
            cutoff=plan.cutoff,
            seconds=time.perf_counter() - started,
            out=out_path,
            rejects=rejects_path if rejects_written else None,
            n_chunks=int(run.state.get("n_parts", 0)),
            n_chunks_resumed=n_resumed,
            engine=engine,
            n_not_written=0
            if include_inactive
            else int(status_counts.get("inactive", 0))
            + int(status_counts.get("cancelled", 0))
            + int(status_counts.get("no_events", 0))
            + len(absent),
            value_at_risk=totals.get("value_at_risk"),
            # none known: every first-ranked touchpoint lacks a cost (touchpoints_without_cost)
            value_saved=totals.get("value_saved") if recommend and totals.get("n_saved") else None,
            touchpoints_without_cost=tuple(sorted(totals.get("no_cost", ()))) if recommend else (),
        )
        counts["spaced_ids"] = spaced
        counts["case_ids"] = case_twins
        _emit_warnings(
            counts, summary, drop_duplicates, bundle.journey_map.touchpoint_names, resolved
        )
        if listed is not None and len(absent) == len(listed):
            _warn_unmatched_list(listed, run.state["pass1"].get("unlisted", []))
        run.finish()
    except BaseException as exc:
        # Keep what an interrupted run finished, for resume=True; not after bad input,
        # which must change first (and then no longer matches the run's fingerprint),
        # and not when no chunk was finished: there is nothing to resume from.
        done = len(run.state.get("chunks", {}))
        error = _writing_error(exc, run)
        keep = done > 0 and (error is not None or not isinstance(exc, CjmlError))
        # Once the events are partitioned, a cluster fault's message promises the run folder
        # for --resume, even before the first chunk was finished (_dask_fault_message).
        keep = keep or (isinstance(exc, ClusterError) and bool(run.state.get("partitioned")))
        run.leave(keep=keep)
        if error is None:
            raise
        if keep:
            error = WriteError(
                f"{error} The {done:,} finished chunk(s) of {run.state.get('n_parts', '?')} "
                f"are kept in {str(run.path)!r}: run the same command with --resume "
                "(resume=True) to continue from them."
            )
        raise error from exc
    finally:
        _small_pages(False)
        pa.default_memory_pool().release_unused()  # what the run freed, back to the system
    if frame is None:
        return summary
    frame.attrs["summary"] = summary.to_dict()
    return frame


_PAGES_LOCK = threading.Lock()
_PAGES: dict[str, Any] = {"runs": 0, "numpy_hugepages": None}


def _small_pages(start: bool) -> None:
    """Ask numpy for ordinary pages while runs are scoring; its own setting after.

    numpy asks the kernel for transparent huge pages for its large arrays. A
    run allocates and frees arrays of tens of MB chunk after chunk, and where
    huge pages are granted on request (THP "madvise", a common default),
    faulting them in (zeroing 2 MB at a time, compacting memory) cost up to
    2 s of system time per 10M events on our 2-core machine, and ordinary
    pages none of it. Counted, so that overlapping runs restore it once.
    """
    try:
        # private to numpy, so not in its stubs
        from numpy._core.multiarray import _set_madvise_hugepage  # type: ignore[attr-defined]
    except ImportError:  # not in this numpy: nothing to change
        return
    with _PAGES_LOCK:
        if start:
            if _PAGES["runs"] == 0:
                _PAGES["numpy_hugepages"] = _set_madvise_hugepage(False)
            _PAGES["runs"] += 1
        else:
            _PAGES["runs"] -= 1
            if _PAGES["runs"] == 0:
                _set_madvise_hugepage(bool(_PAGES["numpy_hugepages"]))
