"""Batch scoring: every customer's churn risk, next stage, drivers and best touchpoint.

:func:`score` reads an event log (a DataFrame, a CSV or Parquet file, or a
folder of them), scores every customer with a :class:`~cjml.ModelBundle` at
one cutoff, and returns or writes one row per customer:

``customer_id, churn_risk, risk_band, next_stage, next_stage_proba,
top_drivers, recommended_touchpoint, expected_risk_reduction,
expected_risk_reduction_low, expected_risk_reduction_high, uncertain`` (the
interval on the first touchpoint's reduction and whether it includes no
effect; then ``recommended_touchpoint_r, expected_risk_reduction_r`` for ranks
``r = 2..k`` with ``top_k=k``), and ``status``:

- ``"scored"``: the customer had an event within the bundle's lookback before
  the cutoff, the population the models were trained on;
- ``"inactive"``: events at or before the cutoff, but none within the
  lookback: outside that population, so not scored (their columns are empty);
- ``"no_events"``: no usable event at or before the cutoff (a listed customer
  absent from the events, whose rows were all rejected, or whose events all
  come later).

Nobody goes missing silently: with a customer list every listed customer has a
row, and without one every customer of the events has one.

**Bounded memory (engine "local").** The events are read twice, in batches:

1. *Partition pass.* Each batch of rows is read (columns the bundle does not
   use are skipped), its timestamps are parsed, and each row goes to the
   temporary Parquet partition ``hash(customer_id) % n_partitions``. A
   customer's rows therefore all land in the same partition, wherever they
   sit in the input and in whatever order: a customer's history is never
   split between chunks, sorted input or not.
2. *Scoring pass.* Each partition (about ``chunk_events`` events) is
   validated as an :class:`~cjml.EventLog`, featurized, predicted, explained
   and written as a finished chunk, sorted by customer.

The chunks are then merged by customer id into the output, a batch at a time.
Memory depends on the batch and chunk sizes, not on the size of the input.

**Nothing lost.** The output is written to a temporary file and renamed into
place (CSV through cjml's one formula-safe writer, :func:`cjml.panel.write_csv`;
mode ``0666 & ~umask``), and an existing output is refused without
``force=True``. An output that is one of the inputs (events file or folder,
bundle, customer list, rules file) is refused even with ``force=True``, before
any work. Finished chunks and a small ``state.json`` live in a folder beside
the output (``.NAME.cjml-run``) until the run completes; ``resume=True``
continues an interrupted run from its finished chunks and gives the same
output as an uninterrupted run. A run that fails after finishing chunks keeps
them (a failure to write, such as a full disk, says so and names the file);
one that finished none leaves no folder. The state is keyed by a fingerprint of the inputs (file
names, sizes and modification times), the bundle and the options: resuming
with anything different is refused, naming what changed. Rows that fail
validation stop the run with their row numbers (``on_error="raise"``), or
(``on_error="quarantine"``) go to a rejects file beside the output
(``NAME.rejects.parquet`` or ``.csv``) with the reason, and are counted.

**Business rules** (``rules=``, as for :class:`cjml.TouchpointRecommender`)
apply to the recommendation columns. A ``budget`` must hold over the whole
run, so the chunks are scored without it, each keeping, per customer, the
first-ranked touchpoint's reduction and cost; the merge then applies the
recommender's own budget rule to all customers at once (in customer id order)
and empties the recommendations of those past the budget.

**Engine "dask".** The same per-partition scoring on a dask.distributed
cluster: the input is read by the workers (row groups of Parquet files, or
whole CSV files), shuffled by customer so that each customer's history is
whole in one partition, and scored there; the client writes the chunks it
receives, then merges them exactly like the local engine, so the outputs are
equal. Without a scheduler address, a LocalCluster is started.

**Engine "local" on several cores.** The partition pass of Parquet input
(piece by piece) and then the chunks run side by side on ``n_jobs`` threads
(default: one per core from :data:`PARALLEL_FROM_EVENTS` input rows); Arrow,
numpy and LightGBM release the GIL, and threads cost no start-up and no copy
of the bundle. A thread writes its chunk's files atomically; only the calling
thread records a chunk as done, so an interrupted run resumes exactly as a
sequential one, and the output does not depend on ``n_jobs``. For more than
one machine (or many cores), use the Dask engine.

**Speed.** Risk and next stage are LightGBM predictions (``compile=True``
compiles the trees first, see :meth:`cjml.ChurnModel.compile`; the library is
cached, so later runs only load it); the drivers use the fast path
attributions of :func:`cjml.explain` (``method="saabas"``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cjml._dask import ClusterError
from cjml._io import CsvStream, WriteError, check_output, publish, write_error
from cjml.bundle import BundleError, ModelBundle
from cjml.events import EventLog
from cjml.exceptions import CjmlError, InputFileError, SchemaError
from cjml.io._columns import _nested_kind, _parse_columns, _resolve_columns, _warn_nested_left_out
from cjml.io._csv import (
    NA_STRINGS,
    CsvRowCheck,
    csv_header,
    file_kind,
    not_this,
    open_csv,
    parse_missing_ids,
    read_head,
)
from cjml.io._files import _check_same_columns, _id_text, _input_files, _read_id_list
from cjml.io._messages import REQUIRED_COLUMNS, _Context, _Origin
from cjml.io._timestamps import (
    _NS_PER_UNIT,
    _day_counts,
    _epoch_error,
    _is_utc,
    _late_events_warning,
    _mixed_formats_error,
    _timestamps_ns,
    to_utc_timestamp,
)
from cjml.io._values import _TEXT_INT

__all__ = ["DEFAULT_RISK_BANDS", "STATUSES", "ScoreSummary", "score"]

#: Risk bands by lower bound of the churn risk: ``low`` below 0.2, ``medium``
#: from 0.2, ``high`` from 0.5, ``very high`` from 0.8.
DEFAULT_RISK_BANDS: dict[str, float] = {"low": 0.0, "medium": 0.2, "high": 0.5,
                                        "very high": 0.8}
#: The values of the ``status`` column.
STATUSES: tuple[str, ...] = ("scored", "inactive", "no_events")
#: Events per chunk of the scoring pass (a target: partitions are made by hash).
DEFAULT_CHUNK_EVENTS = 1_000_000
#: From this many input rows, ``n_jobs=None`` scores on one thread per core.
PARALLEL_FROM_EVENTS = 500_000
#: Rows read at a time in the partition pass.
BATCH_ROWS = 1_000_000
#: Rows per batch when merging the chunks into the output.
MERGE_ROWS = 65_536
#: Rows per row group of a finished chunk: what the merge holds per chunk at a time.
MERGE_GROUP_ROWS = 32_768

_ENGINES = ("local", "dask")
_ON_ERROR = ("raise", "quarantine")
_OUT_SUFFIXES = (".parquet", ".csv")
_ROW, _PART, _REJECT, _RAW_TS = "__cjml_row", "__cjml_part", "__cjml_reject", "__cjml_raw_ts"
_COST = "__cjml_cost"  # in finished chunks under a budget: the first-ranked touchpoint's cost
_STATE, _LOCK = "state.json", "lock"
# pandas' default missing-value markers, so a CSV reads as read_events reads it (but in the
# customer id column, where only an empty cell is missing).
_NA_SET = pa.array([v for v in NA_STRINGS if v], type=pa.string())
_MAX_SHOWN = 5


# =========================================================================== public API
@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did: counts, time and files.

    Parameters
    ----------
    n_customers : int
        Rows of the output (one per customer).
    n_scored : int
        Customers with status ``"scored"``.
    n_inactive : int
        Customers with status ``"inactive"`` (no event within the lookback).
    n_no_events : int
        Customers with status ``"no_events"``.
    n_listed : int or None
        Customers in the customer list, None without a list.
    n_listed_absent : int
        Listed customers with no row at all in the events (among ``n_no_events``).
    n_rows_read : int
        Input rows read.
    n_rows_rejected : int
        Rows that failed validation and went to the rejects (quarantine).
    n_duplicates : int
        Exact duplicate events found (on the columns scoring reads).
    unknown_touchpoints : tuple of str
        Touchpoints of the events that the journey map does not list.
    cutoff : pandas.Timestamp
        The scoring cutoff (UTC).
    seconds : float
        Wall time of the run.
    out : Path or None
        The output file; None when the scores were returned in memory.
    rejects : Path or None
        The rejects file; None when no row was rejected or nothing was written.
    n_chunks : int
        Chunks (partitions) scored.
    n_chunks_resumed : int
        Chunks taken from an interrupted run instead of being scored again.
    engine : str
        ``"local"`` or ``"dask"``.
    """

    n_customers: int
    n_scored: int
    n_inactive: int
    n_no_events: int
    n_listed: int | None
    n_listed_absent: int
    n_rows_read: int
    n_rows_rejected: int
    n_duplicates: int
    unknown_touchpoints: tuple[str, ...]
    cutoff: pd.Timestamp
    seconds: float
    out: Path | None
    rejects: Path | None
    n_chunks: int
    n_chunks_resumed: int
    engine: str

    @property
    def customers_per_second(self) -> float:
        """Customers (output rows) per second of wall time."""
        return self.n_customers / self.seconds if self.seconds > 0 else float("inf")

    def to_text(self) -> str:
        """The one-line summary the command line prints.

        Returns
        -------
        str
            Customers by status, rejected rows, time, throughput and files.
        """
        parts = [f"Scored {self.n_customers:,} customers at {_when(self.cutoff)} "
                 f"({self.n_scored:,} scored, {self.n_inactive:,} inactive, "
                 f"{self.n_no_events:,} without events"
                 + (f", of {self.n_listed:,} listed, {self.n_listed_absent:,} not in the events"
                    if self.n_listed is not None else "") + ")"]
        parts.append(f"{self.n_rows_read:,} rows read")
        if self.n_rows_rejected:
            where = f" -> {self.rejects}" if self.rejects is not None else ""
            parts.append(f"{self.n_rows_rejected:,} rejected{where}")
        resumed = (f", {self.n_chunks_resumed} of {self.n_chunks} chunks resumed"
                   if self.n_chunks_resumed else "")
        parts.append(f"{self.seconds:.1f} s ({self.customers_per_second:,.0f} customers/s, "
                     f"{self.engine}{resumed})")
        if self.out is not None:
            parts.append(f"wrote {self.out}")
        return "; ".join(parts)

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-friendly values.

        Returns
        -------
        dict
            Every field; paths and the cutoff as text.
        """
        out = asdict(self)
        out["cutoff"] = self.cutoff.isoformat()
        out["out"] = None if self.out is None else str(self.out)
        out["rejects"] = None if self.rejects is None else str(self.rejects)
        out["unknown_touchpoints"] = [str(t) for t in self.unknown_touchpoints]
        for name in _INT_FIELDS:
            if out[name] is not None:
                out[name] = int(out[name])
        out["seconds"] = float(self.seconds)
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ScoreSummary:
        """The summary back from :meth:`to_dict` (e.g. ``scores.attrs["summary"]``).

        Parameters
        ----------
        spec : mapping
            Every field of the summary, as :meth:`to_dict` gives them (the
            cutoff as ISO text, the files as text or None).

        Returns
        -------
        ScoreSummary

        Raises
        ------
        ValueError
            When fields are missing or unknown, naming them.

        Examples
        --------
        >>> scores = cjml.score(bundle, events)  # doctest: +SKIP
        >>> print(ScoreSummary.from_dict(scores.attrs["summary"]))  # doctest: +SKIP
        """
        if not isinstance(spec, Mapping):
            raise TypeError(f"ScoreSummary.from_dict needs the dict of ScoreSummary.to_dict() "
                            f"(e.g. scores.attrs['summary']), got {type(spec).__name__}.")
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in spec]
        unknown = [str(k) for k in spec if k not in names]
        if missing or unknown:
            what = "; ".join(part for part in (
                f"missing {missing!r}" if missing else "",
                f"unknown {unknown!r}" if unknown else "") if part)
            raise ValueError(f"Cannot rebuild a ScoreSummary: {what}. Pass the dict of "
                             "ScoreSummary.to_dict() (e.g. scores.attrs['summary']) as it is.")
        values = dict(spec)
        cutoff = pd.Timestamp(values["cutoff"])
        values["cutoff"] = cutoff.tz_localize("UTC") if cutoff.tz is None \
            else cutoff.tz_convert("UTC")
        for name in ("out", "rejects"):
            values[name] = None if values[name] is None else Path(values[name])
        values["unknown_touchpoints"] = tuple(str(t) for t in values["unknown_touchpoints"])
        return cls(**values)


#: The whole-number fields of a ScoreSummary (plain ``int`` in :meth:`ScoreSummary.to_dict`).
_INT_FIELDS = ("n_customers", "n_scored", "n_inactive", "n_no_events", "n_listed",
               "n_listed_absent", "n_rows_read", "n_rows_rejected", "n_duplicates",
               "n_chunks", "n_chunks_resumed")


def score(bundle, events, *, customers=None, cutoff=None, top_k=1, out=None, force=False,
          resume=False, on_error="raise", engine="local", scheduler=None, risk_bands=None,
          drivers=True, recommend=True, rules=None, columns=None, timezone="UTC",
          timestamp_unit=None, drop_duplicates=False, chunk_events=DEFAULT_CHUNK_EVENTS,
          compile=False, n_jobs=None, progress=False, missing_ids=None):
    """Score every customer (or the listed ones): risk, next stage, drivers, best touchpoint.

    Streams the events in customer-complete chunks, so memory stays flat as
    the input grows (see the module documentation for how, and for what
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
        Score as of this moment (UTC unless it has an offset or ``timezone``
        says otherwise); only events at or before it are used. Default: the
        last event of the input.
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
        Fill the recommendation columns (:mod:`cjml.recommend`).
    rules : RecommendationRules, dict, str or path-like, optional
        Business rules for the recommendations, as for
        :class:`cjml.TouchpointRecommender`: a
        :class:`~cjml.RecommendationRules`, its dict form or a TOML file
        (exclusions, contact caps, ``min_risk``, ``min_reduction``, ``budget``,
        costs, ``rank_by``). They are checked against the bundle's journey map
        before any work. A ``budget`` holds over the whole run, not per chunk:
        the chunks are scored without it, then customers are served in the
        recommender's order (best expected reduction first, or per unit cost
        with ``rank_by``; ties by customer id) until the first-ranked
        touchpoints' total cost would exceed the budget, and the
        recommendation columns of the rest are left empty, exactly as
        :meth:`cjml.TouchpointRecommender.recommend` on the whole log. Needs
        ``recommend=True``.
    columns : mapping or str, optional
        Canonical name -> your column name, as for :func:`cjml.read_events`.
    timezone : str, default "UTC"
        Timezone of naive timestamps and of a naive ``cutoff``.
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

    Returns
    -------
    DataFrame or ScoreSummary
        Without ``out``: one row per customer, sorted by ``customer_id``, with
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
    cjml._io.WriteError
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
    ['customer_id', 'churn_risk', 'risk_band', 'next_stage', 'next_stage_proba']
    >>> print(ScoreSummary.from_dict(scores.attrs["summary"]))  # doctest: +SKIP
    Scored 3,000 customers at 2024-08-31 ...
    >>> capped = cjml.score(bundle, load_sample(), rules={"budget": 500.0})  # doctest: +SKIP
    """
    started = time.perf_counter()
    options = _check_options(top_k=top_k, on_error=on_error, engine=engine,
                             risk_bands=risk_bands, chunk_events=chunk_events, out=out,
                             resume=resume, timestamp_unit=timestamp_unit, n_jobs=n_jobs)
    bands = options["bands"]
    out_path = None if out is None else Path(out)
    rejects_path = None if out_path is None else _rejects_path(out_path)
    if out_path is not None:  # before any work, and never over an input, even with force
        inputs = _input_paths(bundle, events, customers, rules)
        for path in (out_path, rejects_path):
            check_output(path, inputs=inputs, force=force)
    bundle_id = _bundle_id(bundle)
    bundle = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
    _check_bundle(bundle)
    rules = _check_rules(rules, bundle, recommend)
    missing_ids = parse_missing_ids(missing_ids)
    src = _open_source(events)
    mapping = _parse_columns(columns)
    resolved = _resolve_columns(mapping, src.columns)
    needed = _flat_columns(src, _needed_columns(bundle, resolved, src.columns, drop_duplicates),
                           resolved, bundle)
    _check_event_columns(bundle, resolved, src.columns)
    listed = None if customers is None else _read_customer_list(customers, resolved,
                                                                 missing_ids)
    cut = None if cutoff is None else to_utc_timestamp(cutoff, timezone)
    if compile:
        for name in ("churn", "next_stage"):
            bundle.models[name].compile()

    # The run folder: finished chunks and the state, beside the output.
    fingerprint_parts = {
        "cjml": _cjml_version(), "events": src.identity(), "bundle": bundle_id,
        "customers": None if listed is None else _hash_values(listed),
        "options": {"cutoff": None if cut is None else cut.isoformat(), "top_k": int(top_k),
                    "on_error": on_error, "engine": engine, "bands": list(bands.items()),
                    "drivers": bool(drivers), "recommend": bool(recommend),
                    "rules": _rules_fingerprint(rules),
                    "columns": {k: str(v) for k, v in mapping.items()},
                    "timezone": str(timezone), "timestamp_unit": timestamp_unit,
                    "drop_duplicates": bool(drop_duplicates),
                    "chunk_events": int(chunk_events), "missing_ids": list(missing_ids)},
    }
    run = _RunDir.open(out_path, fingerprint_parts, resume=resume, force=force)
    _small_pages(True)
    try:
        reader = _Reader(
            kind=src.kind, names=src.names, starts=(), resolved=resolved,
            read_columns=[c for c in src.columns if c in needed],
            rename={str(v): k for k, v in resolved.items()}, timezone=timezone,
            timestamp_unit=timestamp_unit, strict=on_error == "raise",
            n_parts=_n_parts(src.estimate_rows(), chunk_events, n_jobs, engine),
            customers=None if listed is None else _list_as_arrow(listed, src.customer_type(
                resolved["customer_id"]), resolved),
            index=src.index(), missing_ids=missing_ids)
        plan = _Plan(
            cutoff=cut, lookback_ns=_lookback_ns(bundle), top_k=int(top_k),
            drivers=bool(drivers), recommend=bool(recommend), band_labels=tuple(bands),
            band_edges=tuple(bands.values()), on_error=on_error, timezone=timezone,
            drop_duplicates=bool(drop_duplicates), csv=src.kind == "csv",
            next_stages=tuple(str(c) for c in bundle.models["next_stage"].classes_),
            user_names={k: str(v) for k, v in resolved.items()}, origin=_Origin(),
            missing_ids=missing_ids, **_rules_plan(rules))
        if engine == "dask":
            result = _run_dask(src, reader, plan, bundle, run, scheduler, progress)
        else:
            result = _run_local(src, reader, plan, bundle, run, progress, n_jobs)
        plan, chunk_counts, n_resumed = result
        absent = _absent_customers(listed, run, plan)
        frame, rejects_written = _write_output(run, plan, absent, out_path, rejects_path,
                                               force=force)
        counts = _add_counts(chunk_counts)
        status_counts = counts.get("status", {})
        summary = ScoreSummary(
            n_customers=int(sum(status_counts.values())) + len(absent),
            n_scored=int(status_counts.get("scored", 0)),
            n_inactive=int(status_counts.get("inactive", 0)),
            n_no_events=int(status_counts.get("no_events", 0)) + len(absent),
            n_listed=None if listed is None else len(listed),
            n_listed_absent=len(absent),
            n_rows_read=int(run.state["pass1"]["rows"]),
            n_rows_rejected=int(counts.get("rejected", 0)),
            n_duplicates=int(counts.get("duplicates", 0)),
            unknown_touchpoints=tuple(sorted(counts.get("unknown", set()))),
            cutoff=plan.cutoff, seconds=time.perf_counter() - started, out=out_path,
            rejects=rejects_path if rejects_written else None,
            n_chunks=int(run.state.get("n_parts", 0)), n_chunks_resumed=n_resumed,
            engine=engine)
        _emit_warnings(counts, summary, drop_duplicates)
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
                "(resume=True) to continue from them.")
        raise error from exc
    finally:
        _small_pages(False)
        pa.default_memory_pool().release_unused()  # what the run freed, back to the system
    if frame is None:
        return summary
    frame.attrs["summary"] = summary.to_dict()
    return frame


def _writing_error(exc: BaseException, run: _RunDir) -> WriteError | None:
    """The one-line error for a failure to write (disk full...), naming the file; or None."""
    if isinstance(exc, WriteError):
        return exc
    if isinstance(exc, OSError) and not isinstance(exc, CjmlError) and \
            exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return write_error(exc.filename or run.path, exc)
    return None


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
        from numpy._core.multiarray import _set_madvise_hugepage
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


# =========================================================================== options
def _check_options(*, top_k, on_error, engine, risk_bands, chunk_events, out, resume,
                   timestamp_unit, n_jobs=None) -> dict:
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ValueError(f"top_k must be a whole number of at least 1, got {top_k!r}.")
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {list(_ON_ERROR)!r}, got {on_error!r}.")
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {list(_ENGINES)!r}, got {engine!r}.")
    if isinstance(chunk_events, bool) or not isinstance(chunk_events, int | np.integer) \
            or chunk_events < 1:
        raise ValueError(f"chunk_events must be a whole number of at least 1, got "
                         f"{chunk_events!r}.")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer)
                               or n_jobs < 1):
        raise ValueError(f"n_jobs must be a whole number of at least 1 (or None: one per core), "
                         f"got {n_jobs!r}.")
    if timestamp_unit is not None and timestamp_unit not in ("s", "ms", "us", "ns"):
        raise ValueError(f"timestamp_unit={timestamp_unit!r} is not allowed; use one of "
                         "['s', 'ms', 'us', 'ns'] (or None for dates).")
    if out is not None:
        suffix = Path(out).suffix.lower()
        if suffix not in _OUT_SUFFIXES:
            raise InputFileError(f"Cannot write {str(out)!r}: the output must end in .parquet "
                                 f"or .csv, not {suffix or '(no suffix)'!r}.")
    elif resume:
        raise ValueError("resume=True needs out=...: only a run that writes a file keeps its "
                         "finished chunks to resume from.")
    return {"bands": _risk_bands(risk_bands)}


def _check_rules(rules, bundle: ModelBundle, recommend: bool):
    """The business rules as RecommendationRules, checked against the bundle's map; or None."""
    if rules is None:
        return None
    if not recommend:
        raise ValueError("Business rules (rules=..., --rules) apply to the recommendations, but "
                         "recommend=False (--no-recommend) leaves them out. Fix: drop the "
                         "rules, or score with recommendations.")
    from cjml.recommend import RecommendationRules, TouchpointRecommender

    parsed = RecommendationRules.coerce(rules)
    # the map and the checks the recommender itself applies, before any work is done
    recommender = TouchpointRecommender(bundle.models["churn"], bundle.featurizer,
                                        bundle.journey_map, rules=parsed)
    recommender._rules(recommender._map())
    return parsed


def _rules_fingerprint(rules) -> dict | None:
    """The rules as plain values, for the run's fingerprint (and its "what changed")."""
    if rules is None:
        return None
    return {"exclude": [str(t) for t in rules.exclude],
            "caps": [[str(c.touchpoint), int(c.max_contacts), float(c.days)]
                     for c in rules.caps],
            "min_risk": float(rules.min_risk), "min_reduction": float(rules.min_reduction),
            "budget": None if rules.budget is None else float(rules.budget),
            "costs": {str(k): float(v) for k, v in sorted(rules.costs.items())},
            "rank_by": str(rules.rank_by)}


def _rules_plan(rules) -> dict:
    """What the plan carries of the rules: the chunks' rules, without the budget, which
    holds over the whole run and is applied when the chunks are merged."""
    if rules is None:
        return {}
    return {"rules": replace(rules, budget=None), "budget": rules.budget,
            "ranks_by_cost": bool(rules.ranks_by_cost)}


def _risk_bands(risk_bands) -> dict[str, float]:
    if risk_bands is None:
        return dict(DEFAULT_RISK_BANDS)
    example = "{'low': 0.0, 'medium': 0.3, 'high': 0.6}"
    if isinstance(risk_bands, str):
        parsed = {}
        for part in risk_bands.split(","):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"Cannot read {part.strip()!r} in risk bands {risk_bands!r}: "
                                 "expected name=lowest_risk pairs, e.g. "
                                 "'low=0,medium=0.3,high=0.6'.")
            parsed[name.strip()] = value.strip()
        risk_bands = parsed
    if not isinstance(risk_bands, Mapping) or not risk_bands:
        raise ValueError(f"risk_bands must map band names to their lowest churn risk, e.g. "
                         f"{example}; got {risk_bands!r}.")
    bands = {}
    for name, low in risk_bands.items():
        try:
            value = float(low)
        except (TypeError, ValueError):
            raise ValueError(f"The lowest risk of band {name!r} must be a number from 0 to 1, "
                             f"got {low!r}.") from None
        if not 0 <= value <= 1:
            raise ValueError(f"The lowest risk of band {name!r} must be from 0 to 1, got "
                             f"{value!r}.")
        bands[str(name)] = value
    values = list(bands.values())
    if values != sorted(values) or len(set(values)) != len(values):
        raise ValueError(f"Risk bands must be listed from lowest to highest with distinct lower "
                         f"bounds, got {bands!r}; e.g. {example}.")
    if values[0] != 0:
        raise ValueError(f"The first risk band must start at 0 so that every risk has a band, "
                         f"got {bands!r}; e.g. {example}.")
    return bands


def _input_paths(bundle, events, customers, rules) -> dict:
    """The run's inputs given as paths, which its outputs must never overwrite."""
    inputs = {}
    if isinstance(events, str | os.PathLike):
        inputs["events file"] = events
    if isinstance(bundle, str | os.PathLike):
        inputs["bundle"] = bundle
        inputs["bundle's manifest"] = Path(bundle).with_name(Path(bundle).name
                                                             + ".manifest.json")
    if isinstance(customers, str | os.PathLike):
        inputs["customer list"] = customers
    if isinstance(rules, str | os.PathLike):
        inputs["rules file"] = rules
    return inputs


def _rejects_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.rejects{out.suffix}")


def _when(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC") if (ts.hour or ts.minute or ts.second) \
        else ts.strftime("%Y-%m-%d 00:00 UTC")


def _cjml_version() -> str:
    import cjml

    return cjml.__version__


# =========================================================================== bundle
def _bundle_id(bundle) -> str:
    """A fingerprint of the bundle: its manifest digest, or a hash of its content."""
    if isinstance(bundle, ModelBundle):
        import joblib

        return "content:" + joblib.hash((bundle.models, bundle.featurizer,
                                         bundle.journey_map.to_dict()))
    path = Path(bundle)
    manifest = path.with_name(path.name + ".manifest.json")
    try:
        return "sha256:" + str(json.loads(manifest.read_text(encoding="utf-8"))["sha256"])
    except (OSError, ValueError, KeyError, TypeError):  # e.g. a manifest that is a list
        return f"path:{path.resolve()}"  # ModelBundle.load refuses it next, with the reason


def _check_bundle(bundle: ModelBundle) -> None:
    missing = [m for m in ("churn", "next_stage") if m not in bundle.models]
    if missing:
        raise BundleError(f"The bundle has no {' and no '.join(map(repr, missing))} model; "
                          f"it has {sorted(bundle.models)!r}. Score with a bundle made by "
                          "cjml.train (cjml train).")


def _lookback_ns(bundle: ModelBundle) -> int | None:
    lookback = bundle.metadata.get("lookback")
    return None if lookback in (None, "None") else int(pd.Timedelta(lookback).value)


def _attribute_columns(bundle: ModelBundle) -> list[str]:
    out = []
    for family in getattr(bundle.featurizer, "families_", ()):
        out += [str(c) for c in getattr(family, "attributes_", ()) if str(c) not in out]
    return out


def _needed_columns(bundle, resolved, available, drop_duplicates) -> set:
    """The user's columns to read: canonical ones, and the extras the features use."""
    if drop_duplicates:  # exact duplicates are judged on every column
        return set(available)
    needed = set(resolved.values())
    attributes = set(_attribute_columns(bundle))
    needed |= {c for c in available if str(c) in attributes}
    return needed


def _flat_columns(src: _Source, needed: set, resolved: dict, bundle: ModelBundle) -> set:
    """The columns to read without nested ones (structs, lists, maps): refused when the
    events or the features need them, left out with a warning (as read_events does) when
    only exact duplicates would have compared them."""
    if src.kind == "csv":
        return needed
    if src.kind == "frame":
        kinds = {c: _nested_kind(src.frame[c]) for c in needed}
    else:
        kinds = {}
        for f in src.files:
            schema = pq.read_schema(f)
            for c in needed:
                t = _plain_type(schema.field(str(c)).type)
                if pa.types.is_nested(t):
                    kinds[c] = "struct" if pa.types.is_struct(t) else (
                        "map" if pa.types.is_map(t) else "list")
    nested = {c: k for c, k in kinds.items() if k is not None}
    if not nested:
        return needed
    attributes = set(_attribute_columns(bundle))
    canonical = {str(v): k for k, v in resolved.items()}
    for c, kind in nested.items():
        if str(c) in canonical or str(c) in attributes:
            role = (f"the {canonical[str(c)]} column" if str(c) in canonical
                    else "a customer attribute of the model")
            raise SchemaError(
                f"Column {str(c)!r} holds nested values ({kind}), but it is {role}: cjml reads "
                "only plain values there (text, numbers, dates, true/false). Fix: flatten it "
                "into a plain column (e.g. df['plan'] = df['meta'].str['plan']) of the same "
                "name, or retrain without it.")
    _warn_nested_left_out(nested, stacklevel=3)
    return needed - set(nested)


def _check_event_columns(bundle, resolved, available) -> None:
    have = set(resolved) | {str(c) for c in available}
    missing = sorted(set(bundle.metadata.get("event_columns", [])) - have)
    if missing:
        raise BundleError(f"The events lack column(s) {missing!r} that the model was trained "
                          "with; its features from them would be empty. Add them (map your "
                          "names with columns=... / --columns), or retrain without them.")


# =========================================================================== input
@dataclass
class _Source:
    """The input: files of one format, or an in-memory frame."""

    kind: str  # "csv" | "parquet" | "frame"
    files: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    columns: list = field(default_factory=list)
    frame: pd.DataFrame | None = None
    folder: str | None = None

    def identity(self) -> Any:
        """What the fingerprint of a run records about the input."""
        if self.frame is not None:
            try:
                hashed = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
            except TypeError:  # unhashable cells (a column of dicts or lists): by their text
                hashed = pd.util.hash_pandas_object(self.frame.astype(str), index=False
                                                    ).to_numpy()
            return {"frame": hashlib.sha256(hashed.tobytes()).hexdigest(),
                    "rows": len(self.frame), "columns": [str(c) for c in self.frame.columns]}
        out = []
        for f in self.files:
            st = os.stat(f)
            out.append([str(Path(f).resolve()), st.st_size, st.st_mtime_ns])
        return out

    def estimate_rows(self) -> int:
        """Rows in the input: exact for Parquet and frames, estimated for CSV."""
        if self.frame is not None:
            return len(self.frame)
        if self.kind == "parquet":
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        total = 0
        for f in self.files:
            size = os.path.getsize(f)
            with open(f, "rb") as handle:
                head = handle.read(1 << 20)
            compressed = not f.lower().endswith(".csv")
            lines = max(head.count(b"\n"), 1)
            per_line = 20.0 if compressed else len(head) / lines
            total += int(size / max(per_line, 1.0))
        return max(total, 1)

    def index(self) -> pd.Index | None:
        """A DataFrame's index when it is not 0..n-1 (to name rows in messages)."""
        if self.frame is None or self.frame.index.equals(pd.RangeIndex(len(self.frame))):
            return None
        return self.frame.index

    def customer_type(self, column) -> pa.DataType:
        """The Arrow type of the customer column as read."""
        if self.kind == "csv":
            return pa.string()
        if self.kind == "frame":
            return _frame_schema(self.frame[[column]]).field(0).type
        return _plain_type(pq.read_schema(self.files[0]).field(str(column)).type)


def _open_source(events) -> _Source:
    if isinstance(events, EventLog):
        events = events.frame
    if isinstance(events, pd.DataFrame):
        if len(events.columns) != len(set(events.columns)):
            dup = sorted({str(c) for c in events.columns if list(events.columns).count(c) > 1})
            raise SchemaError(f"The input has several columns with the same name: {dup!r}. "
                              "Fix: rename them so each column name is unique.")
        return _Source(kind="frame", columns=list(events.columns), frame=events)
    if not isinstance(events, str | os.PathLike):
        raise InputFileError(f"Cannot score events from a {type(events).__name__}; give a "
                             "DataFrame, an EventLog, a CSV or Parquet file, or a folder of "
                             "them.")
    path = Path(events)
    kind, files = _input_files(path)
    if kind == "csv":
        columns_of = [_csv_header(f) for f in files]
    else:
        columns_of = [_parquet_columns(f) for f in files]
    for f, cols in zip(files[1:], columns_of[1:], strict=True):
        _check_same_columns(path, files[0], columns_of[0], f, cols)
    return _Source(kind=kind, files=tuple(str(f) for f in files),
                   names=tuple(f.name for f in files), columns=columns_of[0],
                   folder=str(path) if path.is_dir() else None)


def _csv_header(path: Path) -> list:
    """The header of a CSV file, under the CSV rules (as read_events reads it)."""
    return csv_header(path)[0]


def _parquet_columns(path: Path) -> list:
    kind = file_kind(read_head(path, "the Parquet file"))
    if kind != "parquet":
        fix = ("name it .csv (cjml reads CSV files by their suffix)." if kind is None else
               "export the events as Parquet or CSV.")
        raise not_this(path, "the Parquet file", kind or "text", f"a Parquet file. Fix: {fix}")
    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputFileError(f"Cannot read the Parquet file {str(path)!r}: {_first_line(exc)}. "
                             "Fix: check that it is a complete Parquet file (e.g. written by "
                             "DataFrame.to_parquet), or export the events as CSV.") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _plain_type(t: pa.DataType) -> pa.DataType:
    """Dictionary types as their values; large strings as strings."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    return t


def _frame_schema(frame: pd.DataFrame) -> pa.Schema:
    try:
        schema = pa.Schema.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise SchemaError(f"Cannot stream this DataFrame: {_first_line(exc)}. Fix: give each "
                          "column one type (e.g. df[col] = df[col].astype(str)).") from None
    return pa.schema([pa.field(f.name, _plain_type(f.type)) for f in schema])


def _target_schema(src: _Source, read_columns: list) -> pa.Schema:
    """One Arrow type per column for every batch (files may disagree: then text)."""
    if src.kind == "csv":
        return pa.schema([pa.field(str(c), pa.string()) for c in read_columns])
    if src.kind == "frame":
        return _frame_schema(src.frame[read_columns])
    types: dict[str, set] = {str(c): set() for c in read_columns}
    for f in src.files:
        schema = pq.read_schema(f)
        for c in types:
            types[c].add(_plain_type(schema.field(c).type))
    fields = []
    for c, ts in types.items():
        t = ts.pop() if len(ts) == 1 else pa.string()
        fields.append(pa.field(c, pa.string() if pa.types.is_null(t) else t))
    return pa.schema(fields)


def _iter_batches(src: _Source, read_columns: list, batch_rows: int
                  ) -> Iterator[tuple[int, pa.Table]]:
    """(file number, batch) for every batch of the input, in input order."""
    if src.frame is not None:
        frame = src.frame[read_columns]
        for start in range(0, len(frame), batch_rows):
            part = frame.iloc[start:start + batch_rows]
            try:
                yield 0, pa.Table.from_pandas(part, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise SchemaError(f"Cannot stream this DataFrame: {_first_line(exc)}. Fix: give "
                                  "each column one type (e.g. df[col] = df[col].astype(str)).") \
                    from None
        return
    for i, f in enumerate(src.files):
        if src.kind == "parquet":
            yield from ((i, t) for t in _parquet_batches(f, read_columns, batch_rows))
        else:
            yield from ((i, t) for t in _csv_batches(f, read_columns, batch_rows))


def _parquet_batches(path: str, read_columns: list, batch_rows: int,
                     row_groups: Sequence[int] | None = None) -> Iterator[pa.Table]:
    """A Parquet file a few row groups at a time (about ``batch_rows`` rows per batch).

    Row groups are read one by one: ``ParquetFile.iter_batches`` over a whole file
    keeps memory in proportion to the file, which would defeat streaming.
    """
    columns = [str(c) for c in read_columns]
    try:
        handle = pq.ParquetFile(path)
        groups = range(handle.metadata.num_row_groups) if row_groups is None else row_groups
        pending, rows = [], 0
        for g in groups:
            size = handle.metadata.row_group(g).num_rows
            if size > 2 * batch_rows:  # a huge row group: in slices
                for batch in handle.iter_batches(batch_size=batch_rows, row_groups=[g],
                                                 columns=columns):
                    yield pa.Table.from_batches([batch])
                continue
            pending.append(handle.read_row_group(g, columns=columns))
            rows += size
            if rows >= batch_rows:
                yield pa.concat_tables(pending) if len(pending) > 1 else pending[0]
                pending, rows = [], 0
        if pending:
            yield pa.concat_tables(pending) if len(pending) > 1 else pending[0]
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(f"Cannot read the Parquet file {path!r}: {_first_line(exc)}. Fix: "
                             "check that it is a complete Parquet file (e.g. written by "
                             "DataFrame.to_parquet), or export the events as CSV.") from None


def _csv_batches(path: str, read_columns: list, batch_rows: int) -> Iterator[pa.Table]:
    """A CSV file in batches, every column as text, under the CSV rules of read_events:
    compressed by content, every line as many fields as the header (else its line
    number), only empty cells missing here (the other markers in :func:`_conform`)."""
    import pyarrow.csv as pacsv

    names, header_lines = csv_header(Path(path))
    rows = CsvRowCheck(path, names, header_lines)
    wanted = [str(c) for c in read_columns]
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in wanted},
                                   include_columns=wanted, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=True)
    try:
        with open_csv(path) as raw:
            reader = pacsv.open_csv(raw, read_options=rows.read_options(),
                                    parse_options=rows.parse_options(), convert_options=convert)
            pending, count = [], 0
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                if count >= batch_rows:
                    yield pa.Table.from_batches(pending)
                    pending, count = [], 0
            if pending:
                yield pa.Table.from_batches(pending)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise rows.error(exc) from None
    except OSError as exc:
        raise InputFileError(f"Cannot read the CSV file {path!r}: {_first_line(exc)}.") from None


# =========================================================================== customer list
def _read_customer_list(customers, resolved, missing_ids=()) -> np.ndarray:
    """The listed ids as an object array of distinct values, in the order given."""
    user_col = resolved.get("customer_id", "customer_id")
    return _read_id_list(customers, user_col, missing_ids)[0]


def _list_as_arrow(listed: np.ndarray, raw_type: pa.DataType, resolved) -> pa.Array:
    """The listed ids in the type of the events' customer column, for filtering."""
    if pa.types.is_integer(raw_type) or pa.types.is_floating(raw_type):
        numbers = pd.to_numeric(pd.Series(listed, dtype=object).astype(str).str.strip(),
                                errors="coerce")
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(values)
        if pa.types.is_integer(raw_type):
            bad = bad | (values != np.round(values))
        if bad.any():
            shown = listed[bad][:_MAX_SHOWN].tolist()
            raise SchemaError(f"The customer list has ids that are not numbers ({shown!r}, "
                              f"{int(bad.sum()):,} in all), but the events' customer ids are "
                              "numbers: they could match no customer. Fix: correct the list.")
        if pa.types.is_integer(raw_type):
            return pa.array(values.astype(np.int64)).cast(raw_type)
        return pa.array(values).cast(raw_type)
    return pa.array([_id_text(v) for v in listed], type=pa.string())


def _hash_values(values: np.ndarray) -> str:
    text = "\x00".join(sorted(_id_text(v) for v in values))
    return hashlib.sha256(text.encode()).hexdigest()


# =========================================================================== partition pass
@dataclass
class _Reader:
    """What reading and partitioning a batch needs (picklable, for dask workers)."""

    kind: str
    names: tuple[str, ...]
    starts: tuple[int, ...]
    resolved: dict
    read_columns: list
    rename: dict
    timezone: Any
    timestamp_unit: str | None
    strict: bool
    n_parts: int
    customers: pa.Array | None = None
    index: pd.Index | None = None
    schema: pa.Schema | None = None
    missing_ids: tuple[str, ...] = ()

    def origin(self, rows: np.ndarray | None) -> _Origin:
        names = self.names if self.kind != "frame" else ()
        return _Origin(names=names, starts=self.starts, csv=self.kind == "csv",
                       index=self.index, rows=rows)


_TEXT = pa.dictionary(pa.int32(), pa.string())


def _conform(table: pa.Table, reader: _Reader) -> pa.Table:
    """The batch in the target types, canonical column names, text as dictionaries.

    Timestamps stay as read (they are parsed next). Text columns other than the
    customer id are dictionary-encoded: cheap to reorder, small to write, and
    read back as the categoricals read_events codes fastest.
    """
    cols, names = [], []
    ts_name = str(reader.resolved["timestamp"])
    for f in reader.schema:
        col = table.column(f.name)
        name = reader.rename.get(f.name, f.name)
        if pa.types.is_dictionary(col.type) and not (
                pa.types.is_string(f.type) and name != "customer_id"
                and pa.types.is_string(col.type.value_type)):
            col = pc.cast(col, col.type.value_type)
        if f.name != ts_name and not pa.types.is_dictionary(col.type) and col.type != f.type:
            try:
                col = pc.cast(col, f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                col = pc.cast(pc.cast(col, pa.string()), f.type)
        if reader.kind == "csv" and name != "customer_id" and pa.types.is_string(col.type):
            # pandas' missing-value markers ("NA", "null"...) are missing, as in read_events;
            # only the customer id keeps them as text
            col = pc.if_else(pc.is_in(col, value_set=_NA_SET), pa.scalar(None, pa.string()), col)
        if f.name != ts_name and pa.types.is_string(f.type) and name != "customer_id":
            if not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(col.combine_chunks())
            col = col.cast(_TEXT)
        cols.append(col)
        names.append(name)
    return pa.table(cols, names=names)


def _prepare(table: pa.Table, first_row: int, reader: _Reader, *, strict: bool | None = None
             ) -> tuple[pa.Table, dict]:
    """Parse the timestamps, keep the listed customers, and tag each row with its partition.

    Returns the rows to keep, with ``timestamp`` as UTC nanoseconds (missing on
    rejected rows), ``__cjml_row`` (the input row number), ``__cjml_part``,
    ``__cjml_reject`` (the reason a row is rejected, else missing) and
    ``__cjml_raw_ts`` (the rejected rows' timestamp as given); and statistics:
    rows read, the latest valid timestamp, and what the customer ids look like.
    """
    strict = reader.strict if strict is None else strict
    n = table.num_rows
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    table = _conform(table, reader)
    formats: dict = {}
    ns, bad, reasons = _parse_timestamps(table, rows, reader, formats)
    good_ts = ns[~bad]
    stats = {"rows": n, "max_ns": int(good_ts.max()) if len(good_ts) else None,
             "min_ns": int(good_ts.min()) if len(good_ts) else None,
             "days": {str(k): v for k, v in _day_counts(good_ts).items()},
             "formats": {k: list(v) for k, v in formats.items()}}
    if reader.customers is not None:
        keep = pc.is_in(table.column("customer_id"), value_set=reader.customers)
        keep = keep.fill_null(False).to_numpy(zero_copy_only=False)
    else:
        keep = np.ones(n, dtype=bool)
    if strict and (bad & keep).any():
        _raise_timestamp_error(table.filter(pa.array(keep)), rows[keep], reader)
    if not keep.all():
        table, ns, bad, rows = table.filter(pa.array(keep)), ns[keep], bad[keep], rows[keep]
        reasons = reasons[keep]
    stats["kept"] = len(rows)
    stats.update(_id_flags(table.column("customer_id"), ~bad, reader.missing_ids))
    raw_ts = table.column("timestamp")
    ts = pa.array(np.where(bad, 0, ns), type=pa.int64(), mask=bad).cast(
        pa.timestamp("ns", tz="UTC"))
    out = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", ts)
    out = out.append_column(_ROW, pa.array(rows, type=pa.int64()))
    out = out.append_column(_PART, pa.array(_hash_parts(table.column("customer_id"),
                                                        reader.n_parts), type=pa.int32()))
    if not bad.any():
        out = out.append_column(_REJECT, pa.nulls(len(rows), pa.string()))
        return out.append_column(_RAW_TS, pa.nulls(len(rows), pa.string())), stats
    out = out.append_column(_REJECT, pa.array(reasons, type=pa.string()))
    raw_text = np.full(len(rows), None, dtype=object)
    raw_text[bad] = [None if v is None else str(v) for v in
                     raw_ts.filter(pa.array(bad)).to_pylist()]
    return out.append_column(_RAW_TS, pa.array(raw_text, type=pa.string())), stats


def _parse_timestamps(table: pa.Table, rows: np.ndarray, reader: _Reader,
                      formats: dict | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC nanoseconds of each row, which rows failed, and why (read_events' own parser).

    ``formats`` receives the date formats of text timestamps (format -> rows,
    example), so that formats differing between batches are refused too.
    """
    fast = _arrow_timestamps_ns(table.column("timestamp"), reader.timezone)
    if fast is not None:
        n = len(fast)
        return fast, np.zeros(n, dtype=bool), np.full(n, None, dtype=object)
    user = reader.resolved["timestamp"]
    series = table.column("timestamp").to_pandas()
    n = len(series)
    keep = np.arange(n)
    bad = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    while True:
        values = series if len(keep) == n else series.iloc[keep].reset_index(drop=True)
        ctx = _Context(pd.DataFrame({user: values}), {"timestamp": user},
                       reader.origin(rows[keep]))
        try:
            ns_keep = _timestamps_ns(ctx, reader.timezone, reader.timestamp_unit, formats) \
                if len(keep) else np.empty(0, dtype=np.int64)
            break
        except SchemaError as err:
            if getattr(err, "positions", None) is None:
                _raise_timestamp_error(table.take(pa.array(keep)), rows[keep], reader)
                raise
            hit = keep[err.positions]
            bad[hit] = True
            reasons[hit] = f"timestamp: {err.problem}"
            keep = np.delete(keep, err.positions)
    ns = np.zeros(n, dtype=np.int64)
    ns[keep] = ns_keep
    return ns, bad, reasons


def _arrow_timestamps_ns(col: pa.ChunkedArray, timezone) -> np.ndarray | None:
    """UTC nanoseconds straight from an Arrow timestamp column, when nothing can fail:
    no missing value, a zone (or naive times read as UTC), and every date within
    what nanoseconds hold. None otherwise: the full parser then names what is wrong."""
    t = col.type
    if not pa.types.is_timestamp(t) or col.null_count or (t.tz is None and not _is_utc(timezone)):
        return None
    values = col.cast(pa.int64()).to_numpy()  # epoch in the column's unit (UTC if zoned)
    per_unit = _NS_PER_UNIT[t.unit]
    if per_unit > 1 and len(values):
        lo = -(-pd.Timestamp.min.value // per_unit)
        hi = pd.Timestamp.max.value // per_unit
        if values.min() < lo or values.max() > hi:
            return None
        values = values * per_unit
    return values.astype(np.int64, copy=False)


def _raise_timestamp_error(table: pa.Table, rows: np.ndarray, reader: _Reader) -> None:
    """Parse the timestamps of these rows again, strictly, with the columns shown."""
    shown = [c for c in REQUIRED_COLUMNS if c in table.column_names]
    data = pd.DataFrame({str(reader.resolved[c]): table.column(c).to_pandas() for c in shown})
    ctx = _Context(data, {c: str(reader.resolved[c]) for c in shown}, reader.origin(rows))
    _timestamps_ns(ctx, reader.timezone, reader.timestamp_unit)


_TEXT_INT_RE = f"^{_TEXT_INT}$"


def _id_flags(col: pa.ChunkedArray, valid: np.ndarray, missing_ids: Sequence[str] = ()
              ) -> dict:
    """Whether the (valid) customer ids are all whole numbers, as text or as floats
    (ids that are missing, empty or in ``missing_ids``, do not count)."""
    col = col.filter(pa.array(valid))
    if pa.types.is_string(col.type):
        trimmed = pc.utf8_trim_whitespace(col)
        given = pc.and_(pc.is_valid(trimmed), pc.not_equal(trimmed, ""))
        if missing_ids:
            said = pc.is_in(trimmed, value_set=pa.array(list(missing_ids), type=pa.string()))
            given = pc.and_(given, pc.invert(said.fill_null(False)))
        ints = pc.match_substring_regex(col, _TEXT_INT_RE)
        ok = pc.or_kleene(pc.invert(given.fill_null(False)), ints.fill_null(False))
        return {"text_ints": bool(pc.all(ok).as_py() is not False)}
    if pa.types.is_floating(col.type):
        values = col.drop_null().to_numpy()
        whole = bool(np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53))
        return {"whole_floats": whole}
    return {}


def _hash_parts(col: pa.ChunkedArray, n_parts: int) -> np.ndarray:
    """The partition of each row: a stable hash of its customer id, modulo ``n_parts``."""
    if n_parts == 1:
        return np.zeros(len(col), dtype=np.int32)
    t = col.type
    if pa.types.is_integer(t):
        values = col.fill_null(0).to_numpy().astype(np.int64, copy=False)
    elif pa.types.is_floating(t):
        values = col.fill_null(0).to_numpy().astype(np.float64, copy=False)
    else:
        values = pc.cast(col, pa.string()).fill_null("").to_numpy(zero_copy_only=False)
    return (pd.util.hash_array(values) % np.uint64(n_parts)).astype(np.int32)


def _merge_stats(total: dict, stats: dict) -> dict:
    total["rows"] = total.get("rows", 0) + stats["rows"]
    total["kept"] = total.get("kept", 0) + stats["kept"]
    if stats["max_ns"] is not None:
        total["max_ns"] = max(total.get("max_ns") or stats["max_ns"], stats["max_ns"])
    else:
        total.setdefault("max_ns", None)
    if stats.get("min_ns") is not None:
        low = total.get("min_ns")
        total["min_ns"] = stats["min_ns"] if low is None else min(low, stats["min_ns"])
    else:
        total.setdefault("min_ns", None)
    days = total.setdefault("days", {})
    for day, count in stats.get("days", {}).items():
        days[day] = days.get(day, 0) + count
    formats = total.setdefault("formats", {})
    for fmt, (rows, example) in stats.get("formats", {}).items():
        formats[fmt] = [formats[fmt][0] + rows, formats[fmt][1]] if fmt in formats else [
            rows, example]
    for flag in ("text_ints", "whole_floats"):
        if flag in stats:
            total[flag] = total.get(flag, True) and stats[flag]
    return total


def _id_kind(reader: _Reader, stats: dict) -> str:
    """"int" when the customer ids become whole numbers in an EventLog, else "str"."""
    t = reader.schema.field(str(reader.resolved["customer_id"])).type
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "int" if stats.get("whole_floats", True) else "str"
    if pa.types.is_string(t) and reader.kind == "csv":
        return "int" if stats.get("text_ints", True) else "str"
    return "str"


def _check_times(total: dict, reader: _Reader, *, default_cutoff: bool) -> None:
    """The rules on the whole input's times that read_events applies to a whole log: one
    date format, not all within a year of 1970, and (before they move the default cutoff)
    a warning on events far past the rest."""
    label = _label(reader, "timestamp")
    formats = total.get("formats") or {}
    if len(formats) > 1:
        raise _mixed_formats_error(label, {k: tuple(v) for k, v in formats.items()})
    if total.get("min_ns") is not None and total.get("max_ns") is not None:
        epoch = _epoch_error(label, int(total["min_ns"]), int(total["max_ns"]),
                             reader.timestamp_unit)
        if epoch is not None:
            raise epoch
    if default_cutoff and total.get("max_ns") is not None:
        late = _late_events_warning(label, {int(k): int(v) for k, v in
                                            (total.get("days") or {}).items()},
                                    int(total["max_ns"]))
        if late is not None:
            warnings.warn(late, UserWarning, stacklevel=2)


def _label(reader: _Reader, canon: str) -> str:
    user = str(reader.resolved.get(canon, canon))
    return f"column {canon!r}" if user == canon else f"column {canon!r} (your column {user!r})"


# =========================================================================== scoring a chunk
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
    ranks_by_cost: bool = False
    missing_ids: tuple[str, ...] = ()


def _out_columns(top_k: int) -> list[str]:
    cols = ["customer_id", "churn_risk", "risk_band", "next_stage", "next_stage_proba",
            "top_drivers", *_recommendation_columns(top_k)]
    return [*cols, "status"]


def _out_schema(plan: _Plan) -> pa.Schema:
    fields = []
    for c in _out_columns(plan.top_k):
        if c == "customer_id":
            t = pa.int64() if plan.id_kind == "int" else pa.string()
        elif c in ("churn_risk", "next_stage_proba") or c.startswith("expected_risk_reduction"):
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


_REJECT_FIXED = ["row", "location", "column", "reason"]


def _rejects_schema(plan: _Plan, event_columns: Sequence[str]) -> pa.Schema:
    return pa.schema([pa.field("row", pa.int64())]
                     + [pa.field(c, pa.string()) for c in _REJECT_FIXED[1:]]
                     + [pa.field(plan.user_names.get(c, str(c)), pa.string())
                        for c in event_columns])


def _score_partition(table: pa.Table, bundle: ModelBundle, plan: _Plan
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
        rejects.append(_reject_rows(raw, rows[rejected], "timestamp",
                                    reasons[rejected].to_numpy(dtype=object), plan))
        frame, rows = frame.loc[~rejected].reset_index(drop=True), rows[~rejected]
    frame = _convert_ids(frame, plan.id_kind)
    counts: dict[str, Any] = {"rejected": int(rejected.sum()), "warnings": []}
    log = None
    keep = np.arange(len(frame))
    while len(keep):
        data = frame if len(keep) == len(frame) else frame.iloc[keep].reset_index(drop=True)
        try:
            with _recorded_warnings(ignore=UserWarning):  # counted below, reported once
                log = EventLog._from_source(
                    data, replace(plan.origin, rows=rows[keep]),
                    text_ints=plan.csv and plan.id_kind == "int", columns=None,
                    journey_map=None if bundle.journey_map is None else bundle.journey_map,
                    timezone=plan.timezone, timestamp_unit=None,
                    drop_duplicates=plan.drop_duplicates, missing_ids=plan.missing_ids,
                    log_checks=False)  # made once over the input (_check_times)
            break
        except SchemaError as err:
            positions = getattr(err, "positions", None)
            if plan.on_error == "raise" or positions is None:
                if positions is not None:
                    raise SchemaError(f"{err}\n(Rows are numbered from 0 over the whole input. "
                                      "Only the chunk of customers being scored was checked; "
                                      "pass on_error='quarantine' (--on-error quarantine) to "
                                      "set all such rows aside and score the rest.)") from None
                raise
            hit = keep[positions]
            rejects.append(_reject_rows(frame.iloc[hit], rows[hit], err.column,
                                        np.full(len(hit), f"{err.column}: {err.problem}",
                                                dtype=object), plan))
            counts["rejected"] += len(hit)
            keep = np.delete(keep, positions)
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
    names = [plan.user_names.get(c, c) for c in event_cols]
    reject_frame = (pd.concat(rejects, ignore_index=True) if rejects
                    else pd.DataFrame(columns=[*_REJECT_FIXED, *names]))
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


def _convert_ids(frame: pd.DataFrame, id_kind: str) -> pd.DataFrame:
    """Customer ids that would become text in one chunk and numbers in another: text."""
    col = frame["customer_id"]
    if id_kind == "str" and pd.api.types.is_float_dtype(col.dtype):
        text = pd.Index(col.to_numpy()).astype(str)
        frame = frame.assign(customer_id=np.where(col.isna().to_numpy(), None,
                                                  np.asarray(text, dtype=object)))
    return frame


def _reject_rows(raw: pd.DataFrame, rows: np.ndarray, column, reasons: np.ndarray,
                 plan: _Plan) -> pd.DataFrame:
    origin = plan.origin
    out = {"row": rows.astype(np.int64),
           "location": [origin.where(int(r)) for r in rows],
           "column": np.full(len(rows), plan.user_names.get(column, column), dtype=object),
           "reason": reasons}
    for c in raw.columns:
        values = raw[c].to_numpy(dtype=object)
        out[plan.user_names.get(c, c)] = [None if _missing(v) else str(v) for v in values]
    return pd.DataFrame(out)


def _missing(value) -> bool:
    return value is None or (np.ndim(value) == 0 and bool(pd.isna(value)))


def _empty_scores(plan: _Plan) -> pd.DataFrame:
    return _chunk_schema(plan).empty_table().to_pandas()


def _score_log(log: EventLog, bundle: ModelBundle, plan: _Plan) -> pd.DataFrame:
    """One row per customer of ``log``: scores for the population, a status for all."""
    from cjml.explanations import explain, top_drivers_text
    from cjml.features._windows import build_windows

    cutoff = plan.cutoff
    n = log.n_customers
    seen = np.bincount(log.customer_codes[log.timestamps_ns <= cutoff.value], minlength=n) > 0
    windows = build_windows(log, cutoff, lookback_ns=plan.lookback_ns)
    population = windows.customer
    status = np.where(seen, "inactive", "no_events").astype(object)
    status[population] = "scored"
    out: dict[str, Any] = {"customer_id": log.customer_ids}
    churn_risk = np.full(n, np.nan)
    band = np.full(n, None, dtype=object)
    next_stage = np.full(n, None, dtype=object)
    next_proba = np.full(n, np.nan)
    top_drivers = np.full(n, None, dtype=object)
    rec_cols = _recommendation_columns(plan.top_k)
    recs = {c: (np.full(n, np.nan) if c.startswith("expected") else
                np.full(n, None, dtype=object)) for c in rec_cols}
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
        band[population] = labels[np.clip(np.searchsorted(edges, risk, side="right") - 1, 0,
                                          len(labels) - 1)]
        next_stage[population] = np.asarray(stage.classes_, dtype=object)[best]
        next_proba[population] = proba[np.arange(len(best)), best]
        if plan.drivers:
            explanation = explain(churn, X, feature_families=bundle.featurizer, top_n=3,
                                  method="saabas")
            top_drivers[population] = top_drivers_text(explanation, X.index).to_numpy(
                dtype=object)
        if plan.recommend:
            rec = _recommend(bundle, log, X, risk, cutoff, plan.top_k, plan.rules,
                             with_cost=plan.budget is not None)
            for c in rec_cols:
                recs[c][population] = rec[c].to_numpy(
                    dtype=np.float64 if c.startswith("expected") else object,
                    na_value=np.nan if c.startswith("expected") else None)
            # no recommendation: nothing to be uncertain about
            recs["uncertain"][population] = np.where(
                rec["recommended_touchpoint"].notna().to_numpy(),
                rec["uncertain"].to_numpy(dtype=object), None)
            if plan.budget is not None:
                first_cost[population] = rec["cost"].to_numpy(dtype=np.float64,
                                                              na_value=np.nan)
    out.update({"churn_risk": churn_risk, "risk_band": band, "next_stage": next_stage,
                "next_stage_proba": next_proba, "top_drivers": top_drivers, **recs,
                "status": status})
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


def _recommendation_columns(top_k: int) -> list[str]:
    cols = ["recommended_touchpoint", "expected_risk_reduction", *_QUALIFIERS]
    for r in range(2, top_k + 1):
        cols += [f"recommended_touchpoint_{r}", f"expected_risk_reduction_{r}"]
    return cols


def _recommend(bundle, log_chunk, features, churn_risk, cutoff, top_k, rules=None, *,
               with_cost=False) -> pd.DataFrame:
    """The recommended touchpoints of the customers of ``features`` (one row each).

    Returns a DataFrame indexed like ``features`` (by customer id) with
    ``recommended_touchpoint, expected_risk_reduction``, the first one's
    interval and ``uncertain`` flag, and, for ranks
    ``r = 2..top_k``, ``recommended_touchpoint_r, expected_risk_reduction_r``
    (and ``cost``, the first-ranked touchpoint's, with ``with_cost``), under
    the business ``rules`` (the chunks' rules: a budget is applied run-wide,
    in :func:`_write_output`). Missing values where :mod:`cjml.recommend` is
    not available.
    """
    columns = _recommendation_columns(top_k) + (["cost"] if with_cost else [])
    try:
        from cjml.recommend import TouchpointRecommender
    except ImportError:
        numeric = ("expected", "cost")
        return pd.DataFrame({c: (np.full(len(features), np.nan) if c.startswith(numeric)
                                 else np.full(len(features), None, dtype=object))
                             for c in columns}, index=features.index)
    try:
        rec = TouchpointRecommender.from_bundle(bundle, rules=rules).recommend(
            log_chunk, cutoff=cutoff, features=features, churn_risk=churn_risk, top_k=top_k)
    except CjmlError as err:  # e.g. a bundle without what the recommender needs
        raise type(err)(f"{err} Or score without recommendations: recommend=False "
                        "(--no-recommend).") from err
    return rec.reindex(features.index)[columns]


# =========================================================================== run folder
class _RunDir:
    """The folder of an unfinished run: partitions, finished chunks and ``state.json``.

    A lock file in it keeps two runs from writing the same output at once.
    """

    def __init__(self, path: Path, state: dict, temporary: bool, lock=None):
        self.path = path
        self.state = state
        self.temporary = temporary
        self.lock = lock

    @classmethod
    def open(cls, out: Path | None, parts: dict, *, resume: bool, force: bool) -> _RunDir:
        # As state.json will hold them (tuples become lists...): an unfinished run's parts
        # are read back from there, and comparing them with the raw ones would name
        # unchanged options (the risk bands) as changed.
        parts = json.loads(json.dumps(parts, sort_keys=True, default=str))
        fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
        if out is None:
            path = Path(tempfile.mkdtemp(prefix="cjml-score-"))
            return cls(path, {"fingerprint": fingerprint, "parts": parts}, temporary=True)
        path = out.with_name(f".{out.name}.cjml-run")
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        lock = _lock(path, out)
        try:
            existed = any(p.name != _LOCK for p in path.iterdir())
            try:
                old = json.loads((path / _STATE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = None
            if existed:
                if force or (old is None and not resume):
                    _clear(path)
                elif old is None:
                    raise CjmlError(
                        f"Cannot resume the unfinished run in {str(path)!r}: its state file is "
                        "missing or damaged. Pass --force (force=True) instead of --resume to "
                        "start again.")
                elif not resume:
                    done = len(old.get("chunks", {}))
                    raise CjmlError(
                        f"An unfinished scoring run of {str(out)!r} is in {str(path)!r} ({done} "
                        f"of {old.get('n_parts', '?')} chunks done). Pass --resume "
                        "(resume=True) to continue it, or --force (force=True) to start again.")
                elif old.get("fingerprint") != fingerprint:
                    changed = _changes(old.get("parts", {}), parts)
                    raise BundleError(
                        f"Cannot resume the unfinished run in {str(path)!r}: it was started "
                        f"with different {changed}. Resuming would mix two runs in one output. "
                        "Run again with the original inputs and options, or pass --force "
                        "(force=True) instead of --resume to start afresh.")
                else:
                    return cls(path, old, temporary=False, lock=lock)
            run = cls(path, {"fingerprint": fingerprint, "parts": parts}, temporary=False,
                      lock=lock)
            run.save()
            return run
        except BaseException:
            if created:
                shutil.rmtree(path, ignore_errors=True)
            if lock is not None:
                lock.close()
            raise

    def save(self) -> None:
        tmp = self.path / f".{_STATE}.tmp"
        tmp.write_text(json.dumps(self.state, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, self.path / _STATE)

    def folder(self, name: str) -> Path:
        p = self.path / name
        p.mkdir(exist_ok=True)
        return p

    def chunk_file(self, kind: str, part: int) -> Path:
        # Partitions are Arrow IPC streams (lz4): written and read several times
        # faster than Parquet, and only ever read back by cjml. Streams, not
        # IPC files: batches may bring new dictionaries (Parquet row groups do).
        suffix = ".arrow" if kind == "input" else ".parquet"
        return self.folder(kind) / f"part-{part:05d}{suffix}"

    def finish(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()

    def leave(self, keep: bool) -> None:
        """After a failure: keep the folder for --resume, or remove it."""
        if self.temporary or not keep:
            shutil.rmtree(self.path, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()


def _lock(path: Path, out: Path):
    """Hold the run folder's lock (an open file) or say which run holds it."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        return None
    handle = open(path / _LOCK, "a")  # noqa: SIM115 - held until the run ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise CjmlError(f"Another cjml score run is writing {str(out)!r} right now (it holds "
                        f"{str(path / _LOCK)!r}). Wait for it to finish, or choose another "
                        "--out.") from None
    return handle


def _clear(path: Path) -> None:
    for p in path.iterdir():
        if p.name == _LOCK:
            continue
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def _changes(old: dict, new: dict) -> str:
    labels = {"events": "input events (names, sizes or modification times)",
              "bundle": "model bundle", "customers": "customer list", "cjml": "cjml version"}
    out = []
    for key in ("events", "bundle", "customers", "cjml"):
        if old.get(key) != new.get(key):
            out.append(labels[key])
    old_opt, new_opt = old.get("options", {}), new.get("options", {})
    opts = [k for k in sorted(set(old_opt) | set(new_opt)) if old_opt.get(k) != new_opt.get(k)]
    if opts:
        out.append("options (" + ", ".join(
            f"{k}: {old_opt.get(k)!r} then, {new_opt.get(k)!r} now" for k in opts) + ")")
    return " and ".join(out) if out else "inputs"


def _text_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: text (bands, stages, statuses).
    Ids and probabilities are nearly all distinct: trying costs time and space."""
    return [f.name for f in schema if pa.types.is_string(f.type)]


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # small row groups: the merge holds one per chunk in memory at a time
        pq.write_table(table, tmp, compression="lz4", row_group_size=MERGE_GROUP_ROWS,
                       use_dictionary=_text_columns(table.schema))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a half-written chunk must not fill the disk further
        raise


def _commit_chunk(run: _RunDir, part: int, scores: pd.DataFrame, rejects: pd.DataFrame,
                  counts: dict, plan: _Plan, reject_schema: pa.Schema) -> None:
    """Write a finished chunk, then record it: a chunk counts as done only once recorded."""
    _write_chunk(run.chunk_file("scored", part), run.chunk_file("rejects", part), scores,
                 rejects, plan, reject_schema)
    _record_chunk(run, part, counts)


def _write_chunk(scored_path: Path, rejects_path: Path, scores: pd.DataFrame,
                 rejects: pd.DataFrame, plan: _Plan, reject_schema: pa.Schema) -> None:
    """A chunk's files, each written atomically (by whichever thread or Dask worker scored it)."""
    path = scored_path
    try:
        _write_atomic(pa.Table.from_pandas(scores, schema=_chunk_schema(plan),
                                           preserve_index=False), scored_path)
        if len(rejects):
            path = rejects_path
            _write_atomic(pa.Table.from_pandas(rejects[reject_schema.names],
                                               schema=reject_schema, preserve_index=False),
                          rejects_path)
    except OSError as exc:
        if isinstance(exc, CjmlError):
            raise
        raise write_error(path, exc) from exc


def _record_chunk(run: _RunDir, part: int, counts: dict) -> None:
    """Mark a written chunk as done in the run state (the calling thread only)."""
    counts = {**counts, "unknown": sorted(counts.get("unknown", []))}
    run.state.setdefault("chunks", {})[str(part)] = counts
    run.save()
    _after_chunk(part)


def _after_chunk(part: int) -> None:
    """Called after each finished chunk (tests interrupt runs here)."""


# =========================================================================== local engine
def _run_local(src: _Source, reader: _Reader, plan: _Plan, bundle: ModelBundle, run: _RunDir,
               progress: bool, n_jobs: int | None = 1) -> tuple[_Plan, list[dict], int]:
    from tqdm.auto import tqdm

    state = run.state
    pool = None
    try:
        workers = _n_workers(n_jobs, state, reader, src.estimate_rows())
        if workers > 1:
            pool = _ChunkThreads(bundle, workers)
        if not state.get("partitioned"):
            reader.schema = _target_schema(src, reader.read_columns)
            if pool is not None and src.kind == "parquet" and src.frame is None:
                _partition_in_threads(src, reader, run, pool, progress)
            else:
                _partition(src, reader, run, progress)
        reader.schema = _target_schema(src, reader.read_columns)
        reader.starts = tuple(state["starts"])
        plan = _finish_plan(plan, reader, state)
        reject_schema = _rejects_schema(plan, state["event_columns"])
        done = state.setdefault("chunks", {})
        n_resumed = len(done)
        todo = [p for p in range(state["n_parts"]) if str(p) not in done]
        bar = tqdm(total=state["pass1"]["kept"], unit="event", unit_scale=True, desc="scoring",
                   disable=not progress, file=sys.stderr, mininterval=0.5)
        bar.update(sum(c.get("events", 0) for c in done.values()))
        started, customers = time.perf_counter(), 0
        tasks = [(run.chunk_file("input", p), run.chunk_file("scored", p),
                  run.chunk_file("rejects", p), plan, reject_schema) for p in todo]
        if pool is not None and len(todo) > 1:
            results = pool.map_unordered(todo, tasks)
        else:
            results = ((p, _score_chunk_file(*task, bundle=bundle))
                       for p, task in zip(todo, tasks, strict=True))
        for part, counts in results:
            _record_chunk(run, part, counts)
            customers += counts["customers"]
            bar.update(counts["events"])
            elapsed = time.perf_counter() - started
            bar.set_postfix_str(f"{customers / max(elapsed, 1e-9):,.0f} customers/s")
        bar.close()
    finally:
        if pool is not None:
            pool.close()
    return plan, list(done.values()), n_resumed


def _score_chunk_file(in_path: Path, scored_path: Path, rejects_path: Path, plan: _Plan,
                      reject_schema: pa.Schema, *, bundle: ModelBundle) -> dict:
    """Score one partition file into its chunk files; returns the chunk's counts."""
    table = _read_partition(in_path) if in_path.exists() else None
    if table is None or table.num_rows == 0:
        scores, rejects, counts = _empty_scores(plan), pd.DataFrame(), {"status": {}}
        n_events = 0
    else:
        n_events = table.num_rows
        scores, rejects, counts = _score_partition(table, bundle, plan)
        del table
    _write_chunk(scored_path, rejects_path, scores, rejects, plan, reject_schema)
    return {**counts, "events": n_events, "customers": len(scores)}


def _n_parts(n_rows: int, chunk_events: int, n_jobs: int | None, engine: str) -> int:
    """Partitions: about ``chunk_events`` events each, and two per local thread at least
    (so that the threads share the work evenly; the output does not depend on it)."""
    parts = max(1, int(np.ceil(n_rows / chunk_events)))
    if engine == "local":
        workers = n_jobs if n_jobs is not None else (
            os.cpu_count() or 1 if n_rows >= PARALLEL_FROM_EVENTS else 1)
        if workers > 1:
            parts = max(parts, 2 * workers)
    return parts


def _n_workers(n_jobs: int | None, state: dict, reader: _Reader, n_rows: int) -> int:
    """Threads: ``n_jobs``, or (None) one per core for inputs worth it."""
    if n_jobs is not None:
        return max(1, int(n_jobs))
    if n_rows < PARALLEL_FROM_EVENTS:  # small chunks cost more than the threads give
        return 1
    n_parts = state.get("n_parts", reader.n_parts) - len(state.get("chunks", {}))
    return max(1, min(os.cpu_count() or 1, n_parts))


class _ChunkThreads:
    """Threads that partition and score chunks side by side (``n_jobs``).

    Threads, not processes: the heavy parts (Arrow reading and writing, numpy,
    LightGBM's predictions) release the GIL, and threads need no start-up, no
    second copy of the bundle and no imports; on two cores, loky processes took
    14.5 to 16.3 s where threads took 13.1 s for 10M events. Each thread scores with
    its own view of the bundle (:func:`_single_threaded`), writes its chunk's
    files atomically and returns its counts; the calling thread alone records
    chunks in the run state, in the order they finish.
    """

    def __init__(self, bundle: ModelBundle, n_workers: int):
        from concurrent.futures import ThreadPoolExecutor

        self.bundle = bundle
        self.views = threading.local()
        self.executor = ThreadPoolExecutor(n_workers, thread_name_prefix="cjml-score")

    def _bundle_view(self) -> ModelBundle:
        view = getattr(self.views, "bundle", None)
        if view is None:
            view = self.views.bundle = _single_threaded(self.bundle)
        return view

    def _score(self, *task) -> dict:
        return _score_chunk_file(*task, bundle=self._bundle_view())

    def map_unordered(self, parts: list[int], tasks: list[tuple], func=None
                      ) -> Iterator[tuple[int, dict]]:
        """(part, result) of each task as it finishes; the first error stops the rest.

        ``func`` is :func:`_score_chunk_file` (with this thread's bundle) unless given."""
        from concurrent.futures import as_completed

        func = self._score if func is None else func
        futures = {self.executor.submit(func, *task): part
                   for part, task in zip(parts, tasks, strict=True)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _single_threaded(bundle: ModelBundle) -> ModelBundle:
    """A view of ``bundle`` whose featurizer and models use one thread each.

    The chunks' threads already share the cores. The caller's bundle is left
    as it was: the view holds shallow copies (the trees are shared; LightGBM's
    predictions are thread-safe), and compiled models get their own predictor.
    """
    import copy

    featurizer = copy.copy(bundle.featurizer)
    if hasattr(featurizer, "n_jobs"):
        featurizer.n_jobs = 1
    models = {}
    for name, model in bundle.models.items():
        library = (getattr(model, "compiled_library_", None)
                   if getattr(model, "_compiled", None) is not None else None)
        view = copy.copy(model)  # a copy never keeps a compiled predictor (see __getstate__)
        if hasattr(view, "n_jobs"):
            view.n_jobs = 1
        if library:
            view.load_compiled(library)
        models[name] = view
    return replace(bundle, featurizer=featurizer, models=models)


def _partition(src: _Source, reader: _Reader, run: _RunDir, progress: bool) -> None:
    """The partition pass: every row to the partition of its customer (see module docs)."""
    from tqdm.auto import tqdm

    for kind in ("input", "scored", "rejects"):
        shutil.rmtree(run.path / kind, ignore_errors=True)
    run.folder("input")  # created afresh
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    total: dict = {}
    starts, counts = [], []
    first_row, current_file = 0, -1
    bar = tqdm(total=src.estimate_rows(), unit="row", unit_scale=True, desc="partitioning",
               disable=not progress, file=sys.stderr, mininterval=0.5)
    schema = None
    try:
        for file_no, table in _iter_batches(src, reader.read_columns, BATCH_ROWS):
            while current_file < file_no:
                current_file += 1
                starts.append(first_row)
                counts.append(0)
            reader.starts = tuple(starts)
            prepared, stats = _prepare(table, first_row, reader)
            first_row += table.num_rows
            counts[-1] += table.num_rows
            total = _merge_stats(total, stats)
            if schema is None:
                schema = prepared.schema
            for p, piece in _by_partition(prepared, reader.n_parts):
                if p not in writers:
                    writers[p] = pa.ipc.new_stream(run.chunk_file("input", p), schema,
                                                 options=options)
                writers[p].write_table(piece.cast(schema))
            bar.update(table.num_rows)
    finally:
        for w in writers.values():
            w.close()
        bar.close()
    while len(starts) < max(len(src.files), 1):
        starts.append(first_row)
    _record_partitioning(src, reader, run, starts, total)


def _record_partitioning(src: _Source, reader: _Reader, run: _RunDir, starts: list[int],
                         total: dict) -> None:
    """Refuse an input without rows; else mark the run partitioned, with what the pass saw."""
    if not total.get("rows"):
        where = f" from {', '.join(src.names)!r}" if src.names else ""
        raise SchemaError(f"The event log{where} has no rows (columns: {list(src.columns)!r}). "
                          "Fix: pass a log with at least one event (customer_id, timestamp, "
                          "touchpoint).")
    run.state.update({
        "partitioned": True, "n_parts": reader.n_parts, "starts": starts, "pass1": total,
        "event_columns": [reader.rename.get(str(c), str(c)) for c in reader.read_columns]})
    run.save()


def _read_partition(path: Path) -> pa.Table:
    """A partition the partition pass wrote: an Arrow IPC file, or (written piece by
    piece on threads) a folder of them, one per input piece, read in input order."""
    files = sorted(path.glob("piece-*.arrow")) if path.is_dir() else [path]
    tables = []
    for f in files:
        with pa.memory_map(str(f)) as source:
            tables.append(pa.ipc.open_stream(source).read_all())
    return pa.concat_tables(tables) if len(tables) != 1 else tables[0]


def _partition_in_threads(src: _Source, reader: _Reader, run: _RunDir, pool: _ChunkThreads,
                          progress: bool) -> None:
    """The partition pass of Parquet input, on the pool's threads, piece by piece.

    A piece (row groups of about :data:`BATCH_ROWS` rows) is read, checked and
    split by customer hash by one thread, which writes its rows of partition
    ``p`` to ``input/part-p.arrow/piece-i.arrow``; a partition is then its
    pieces in input order, the same rows in the same order as the sequential
    pass writes. Row numbers come from the files' metadata, so errors name
    the same rows.
    """
    from tqdm.auto import tqdm

    for kind in ("input", "scored", "rejects"):
        shutil.rmtree(run.path / kind, ignore_errors=True)
    run.folder("input")
    counts = [pq.ParquetFile(f).metadata.num_rows for f in src.files]
    starts = [int(x) for x in np.cumsum([0, *counts])[:-1]]
    reader.starts = tuple(starts)
    pieces = _pieces(src, reader)
    schema = _prepare(reader.schema.empty_table(), 0, reader)[0].schema
    bar = tqdm(total=src.estimate_rows(), unit="row", unit_scale=True, desc="partitioning",
               disable=not progress, file=sys.stderr, mininterval=0.5)
    stats: list[dict | None] = [None] * len(pieces)
    try:
        tasks = [(piece, i, reader, schema, run.path / "input") for i, piece in enumerate(pieces)]
        for i, piece_stats in pool.map_unordered(list(range(len(pieces))), tasks,
                                                 func=_partition_piece):
            stats[i] = piece_stats
            bar.update(piece_stats.get("rows", 0))
    finally:
        bar.close()
    total: dict = {}
    for st in stats:  # in input order, as the sequential pass merges them
        total = _merge_stats(total, st)
    _record_partitioning(src, reader, run, starts, total)


def _partition_piece(piece: _Piece, index: int, reader: _Reader, schema: pa.Schema,
                     folder: Path) -> dict:
    """One piece of the partition pass (on a thread): its rows to their partitions."""
    table = _read_piece(piece, reader)
    if table.num_rows == 0:
        return {"rows": 0, "kept": 0, "max_ns": None}
    prepared, stats = _prepare(table, piece.first_row, reader)
    del table
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    for p, rows in _by_partition(prepared, reader.n_parts):
        target = folder / f"part-{p:05d}.arrow"
        target.mkdir(exist_ok=True)
        with pa.ipc.new_stream(target / f"piece-{index:05d}.arrow", schema, options=options) as w:
            w.write_table(rows.cast(schema))
    return stats


def _by_partition(prepared: pa.Table, n_parts: int) -> Iterator[tuple[int, pa.Table]]:
    """(partition, its rows in input order) for each partition ``prepared`` has rows of."""
    parts = prepared.column(_PART).to_numpy()
    if n_parts <= 1 << 16:
        parts = parts.astype(np.uint16)  # numpy sorts 16-bit keys stably by radix: 5x faster
    sizes = np.bincount(parts, minlength=n_parts)
    ordered = prepared.take(pa.array(np.argsort(parts, kind="stable")))
    offset = 0
    for p in np.flatnonzero(sizes):
        yield int(p), ordered.slice(offset, int(sizes[p]))
        offset += int(sizes[p])


def _finish_plan(plan: _Plan, reader: _Reader, state: dict) -> _Plan:
    """The plan with what the partition pass learnt: cutoff, id type, file starts."""
    total = state["pass1"]
    cutoff = plan.cutoff
    if cutoff is None:
        if total.get("max_ns") is None:
            raise SchemaError("No event of the input has a valid timestamp, so there is no "
                              "default cutoff. Fix the timestamps (see the rejects), or pass "
                              "a cutoff.")
        cutoff = pd.Timestamp(int(total["max_ns"]), tz="UTC")
    _check_times(total, reader, default_cutoff=plan.cutoff is None)
    id_kind = _id_kind(reader, total)
    return replace(plan, cutoff=cutoff, id_kind=id_kind, origin=reader.origin(None))


# =========================================================================== output
def _absent_customers(listed: np.ndarray | None, run: _RunDir, plan: _Plan) -> pd.DataFrame:
    """Listed customers with no row in any chunk, as ``no_events`` rows, sorted."""
    if listed is None:
        return _empty_scores(plan).iloc[:0]
    if plan.id_kind == "int":
        ids = pd.to_numeric(pd.Series(listed, dtype=object).astype(str).str.strip(),
                            errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(ids) | (ids != np.round(ids))
        if bad.any():
            shown = listed[bad][:_MAX_SHOWN].tolist()
            raise SchemaError(f"The customer list has ids that are not whole numbers "
                              f"({shown!r}), but every customer id of the events is one: they "
                              "could match no customer. Fix: correct the list.")
        ids = ids.astype(np.int64)
    else:
        ids = np.asarray([_id_text(v) for v in listed], dtype=object)
    seen = [pq.read_table(f, columns=["customer_id"]).column(0).to_numpy()
            for f in sorted((run.path / "scored").glob("part-*.parquet"))]
    seen_ids = np.concatenate(seen) if seen else np.empty(0, dtype=ids.dtype)
    absent = np.sort(ids[~np.isin(ids, seen_ids)]) if len(ids) else ids
    frame = pd.DataFrame({c: pd.Series([None] * len(absent), dtype=object)
                          for c in _out_columns(plan.top_k)})
    frame["customer_id"] = absent
    frame["status"] = "no_events"
    for c in frame.columns:
        if c in ("churn_risk", "next_stage_proba") or c.startswith("expected_risk_reduction"):
            frame[c] = np.nan
    return frame


def _batches_of(path: Path) -> Iterator[pa.Table]:
    handle = pq.ParquetFile(path)
    for batch in handle.iter_batches(batch_size=MERGE_GROUP_ROWS):
        yield pa.Table.from_batches([batch])


def _tables_of(table: pa.Table) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, MERGE_ROWS):
        yield table.slice(start, MERGE_ROWS)


def _merge_sorted(sources: list[Iterator[pa.Table]], key: str) -> Iterator[pa.Table]:
    """Merge sources each sorted by ``key`` into batches sorted by ``key`` (bounded memory).

    At each step every source gives up its rows up to the smallest "last key"
    of the sources' current batches, so at least one batch is used up, and
    nothing later can sort before what was given. Arrow throughout: the
    output is written from Arrow, and pandas' text columns would cost a
    conversion each way.
    """
    heads: list[list] = []
    for it in sources:
        head = next((b for b in it if b.num_rows), None)
        if head is not None:
            heads.append([head, it])
    while heads:
        mark = min(h[0].column(key)[-1].as_py() for h in heads)
        pieces = []
        for h in heads:
            values = h[0].column(key).to_numpy()
            cut = int(np.searchsorted(values, mark, side="right"))
            if cut:
                pieces.append(h[0].slice(0, cut))
                h[0] = h[0].slice(cut)
        piece = (pa.concat_tables(pieces, promote_options="default") if len(pieces) > 1
                 else pieces[0])
        if len(pieces) > 1:
            piece = piece.take(pc.sort_indices(piece.column(key)))
        yield piece
        refilled = []
        for h in heads:
            if h[0].num_rows == 0:
                h[0] = next((b for b in h[1] if b.num_rows), None)
            if h[0] is not None:
                refilled.append(h)
        heads = refilled


class _TableSink:
    """Writes batches to a Parquet or CSV file under a temporary name, or keeps them.

    CSV goes through cjml's one CSV encoder (:class:`cjml._io.CsvStream`:
    formula-safe, UTF-8 with BOM). A batch is encoded and written on a second
    thread while the merge prepares the next (Arrow releases the GIL); one
    batch at most is in flight. The finished file gets the umask's mode and is
    renamed into place; an error while writing names the output file.
    """

    def __init__(self, path: Path | None, schema: pa.Schema, tmp_dir: Path):
        self.path, self.schema = path, schema
        self.tables: list[pa.Table] = []
        self.writer = None
        self.handle = None
        self.rows = 0
        self.pending = None
        self.thread = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # in the run folder (same filesystem, so the rename is atomic; removed with it)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=tmp_dir)
                os.close(fd)
                self.tmp = Path(tmp)
                if path.suffix.lower() == ".csv":
                    self.handle = open(self.tmp, "wb")  # noqa: SIM115 - closed in close/abort
                    self.writer = CsvStream(self.handle, schema.names)
                else:
                    self.writer = pq.ParquetWriter(str(self.tmp), schema, compression="zstd",
                                                   use_dictionary=_text_columns(schema))
            except OSError as exc:
                raise write_error(path, exc) from exc

    def _write_table(self, table: pa.Table) -> None:
        try:
            if self.handle is not None:
                self.writer.write(table)
            else:
                self.writer.write_table(table)
        except OSError as exc:
            if isinstance(exc, CjmlError):
                raise
            raise write_error(self.path, exc) from exc

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self.rows += table.num_rows
        if self.writer is None:
            self.tables.append(table)
            return
        if self.thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self.thread = ThreadPoolExecutor(1, thread_name_prefix="cjml-write")
        self._wait()
        self.pending = self.thread.submit(self._write_table, table)

    def _wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def _stop(self) -> None:
        if self.thread is not None:
            self.thread.shutdown(wait=True)
            self.thread = None

    def _close_writer(self) -> None:
        if self.handle is not None:
            self.writer.close()  # the header of an empty output
            self.handle.close()
        else:
            self.writer.close()

    def close(self, force: bool) -> pd.DataFrame | None:
        if self.writer is None:
            return pa.concat_tables([self.schema.empty_table(), *self.tables]).to_pandas()
        try:
            self._wait()
            self._stop()
            try:
                self._close_writer()
            except OSError as exc:
                raise write_error(self.path, exc) from exc
            if self.path.exists() and not force:
                raise InputFileError(f"{str(self.path)!r} appeared while scoring and was left "
                                     "untouched. Choose another --out, or pass --force.")
            try:
                publish(self.tmp, self.path)
            except OSError as exc:
                raise write_error(self.path, exc) from exc
        except BaseException:
            self.abort()
            raise
        return None

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self._wait()
            except Exception:  # noqa: BLE001 - the caller is already raising the cause
                pass
            self._stop()
            try:
                self._close_writer()
            except Exception:  # noqa: BLE001 - closing a half-written file must not mask the cause
                pass
            self.tmp.unlink(missing_ok=True)


def _write_output(run: _RunDir, plan: _Plan, absent: pd.DataFrame, out: Path | None,
                  rejects_path: Path | None, *, force: bool
                  ) -> tuple[pd.DataFrame | None, bool]:
    """Merge the chunks (and absent listed customers) into the output, atomically.

    Under a budget, the customers it leaves out (see :func:`_past_budget`) lose
    their recommendations on the way.
    """
    n_parts = run.state["n_parts"]
    score_files = [run.chunk_file("scored", p) for p in range(n_parts)]
    past = _past_budget([f for f in score_files if f.exists()], plan)
    sources = [_batches_of(f) for f in score_files if f.exists()]
    if len(absent):
        sources.append(_tables_of(pa.Table.from_pandas(absent, schema=_out_schema(plan),
                                                       preserve_index=False)))
    reject_files = [f for f in (run.chunk_file("rejects", p) for p in range(n_parts))
                    if f.exists()]
    reject_schema = _rejects_schema(plan, run.state["event_columns"])
    sink = _TableSink(out, _out_schema(plan), run.path)
    reject_sink = None
    try:
        for piece in _merge_sorted(sources, "customer_id"):
            if len(past):
                piece = _without_recommendations(piece, past, plan)
            sink.write(piece)
        if reject_files:
            reject_sink = _TableSink(rejects_path, reject_schema, run.path)
            for piece in _merge_sorted([_batches_of(f) for f in reject_files], "row"):
                reject_sink.write(piece)
    except BaseException:
        sink.abort()
        if reject_sink is not None:
            reject_sink.abort()
        raise
    rejects = None
    if reject_sink is not None:
        rejects = reject_sink.close(force)
    elif rejects_path is not None and rejects_path.exists() and force:
        rejects_path.unlink()  # a stale rejects file of an earlier run would mislead
    frame = sink.close(force)
    if frame is not None:
        frame = _finalize_frame(frame, plan)
        frame.attrs["rejects"] = _plain_columns(
            rejects if rejects is not None else reject_schema.empty_table().to_pandas(),
            reject_schema)
    return frame, reject_sink is not None


def _plain_columns(frame: pd.DataFrame, schema: pa.Schema) -> dict[str, list]:
    """Column name -> list of plain Python values (None when missing): JSON-friendly."""
    return pa.Table.from_pandas(frame[schema.names], schema=schema,
                                preserve_index=False).to_pydict()


def _past_budget(files: list[Path], plan: _Plan) -> pd.Index:
    """The customers a run-wide budget leaves without a recommendation (their ids).

    The chunks were scored without the budget; each kept, per customer, the
    first-ranked touchpoint's expected reduction and cost. Here the budget is
    applied to all of them at once, by :func:`cjml.recommend._over_budget` (the
    recommender's own rule), in customer id order: the order of the
    recommender's rows on the whole log, so ties break as there. Holds one
    id and two numbers per recommended customer.
    """
    if plan.budget is None:
        return pd.Index([])
    from cjml.recommend import _over_budget

    columns = ["customer_id", "expected_risk_reduction", _COST]
    frames = []
    for f in files:
        part = pq.read_table(f, columns=columns).to_pandas()
        frames.append(part[part["expected_risk_reduction"].notna().to_numpy()])
    if not frames:
        return pd.Index([])
    recommended = pd.concat(frames, ignore_index=True).sort_values("customer_id",
                                                                    kind="stable")
    over = _over_budget(recommended["expected_risk_reduction"].to_numpy(dtype=np.float64),
                        recommended[_COST].to_numpy(dtype=np.float64), plan.budget,
                        ranks_by_cost=plan.ranks_by_cost)
    return pd.Index(recommended["customer_id"].to_numpy()[over])


def _without_recommendations(piece: pa.Table, past: pd.Index, plan: _Plan) -> pa.Table:
    """The piece with the recommendation columns of the ``past`` customers emptied."""
    hit = pc.is_in(piece.column("customer_id"), value_set=pa.array(past.to_numpy()))
    if not pc.any(hit).as_py():
        return piece
    for c in _recommendation_columns(plan.top_k):
        i = piece.schema.get_field_index(c)
        column = piece.column(i)
        piece = piece.set_column(i, c, pc.if_else(hit, pa.nulls(len(column), column.type),
                                                  column))
    return piece


def _finalize_frame(frame: pd.DataFrame, plan: _Plan) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["risk_band"] = pd.Categorical(frame["risk_band"], categories=list(plan.band_labels),
                                        ordered=True)
    frame["status"] = pd.Categorical(frame["status"], categories=list(STATUSES))
    frame["next_stage"] = pd.Categorical(frame["next_stage"], categories=list(plan.next_stages))
    return frame


def _add_counts(chunks: list[dict]) -> dict:
    total: dict[str, Any] = {"status": {}, "rejected": 0, "duplicates": 0, "unknown": set(),
                             "warnings": []}
    for c in chunks:
        for k, v in c.get("status", {}).items():
            total["status"][k] = total["status"].get(k, 0) + v
        total["rejected"] += c.get("rejected", 0)
        total["duplicates"] += c.get("duplicates", 0)
        total["unknown"] |= set(c.get("unknown", []))
        total["warnings"] += c.get("warnings", [])
    total["warnings"] = list(dict.fromkeys(total["warnings"]))
    return total


def _emit_warnings(counts: dict, summary: ScoreSummary, drop_duplicates: bool) -> None:
    from cjml.io._messages import _user_stacklevel

    level = _user_stacklevel()
    if summary.n_duplicates:
        action = ("They were removed (drop_duplicates=True)." if drop_duplicates else
                  "They are kept. Fix: pass drop_duplicates=True (--drop-duplicates) to remove "
                  "them, if they are double-logged events.")
        warnings.warn(f"Found {summary.n_duplicates:,} exact duplicate events (equal to an "
                      f"earlier row in every column scoring reads). {action}", UserWarning,
                      stacklevel=level)
    if summary.unknown_touchpoints:
        warnings.warn(f"Touchpoints not in the bundle's journey map: "
                      f"{list(summary.unknown_touchpoints)[:10]!r}. They are kept, with the "
                      "stage given in the data, but cjml cannot recommend them.", UserWarning,
                      stacklevel=level)
    for message in counts["warnings"][:10]:
        warnings.warn(message, UserWarning, stacklevel=level)



# =========================================================================== dask engine
@dataclass
class _Piece:
    """A piece of the input a dask task reads: row groups of a Parquet file, a CSV file,
    or a slice of a DataFrame."""

    file_no: int
    path: str | None = None
    row_groups: list[int] | None = None
    first_row: int = 0
    table: pa.Table | None = None


def _pieces(src: _Source, reader: _Reader) -> list[_Piece]:
    if src.frame is not None:
        pieces, first = [], 0
        for _, table in _iter_batches(src, reader.read_columns, BATCH_ROWS):
            pieces.append(_Piece(0, first_row=first, table=table))
            first += table.num_rows
        return pieces
    if src.kind == "csv":
        return [_Piece(i, path=f) for i, f in enumerate(src.files)]
    pieces, first = [], 0
    for i, f in enumerate(src.files):
        meta = pq.ParquetFile(f).metadata
        group, rows = [], 0
        for g in range(meta.num_row_groups):
            group.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= BATCH_ROWS:
                pieces.append(_Piece(i, path=f, row_groups=group, first_row=first))
                first += rows
                group, rows = [], 0
        if group:
            pieces.append(_Piece(i, path=f, row_groups=group, first_row=first))
            first += rows
    return pieces


def _read_piece(piece: _Piece, reader: _Reader) -> pa.Table:
    columns = reader.read_columns
    if piece.table is not None:
        return piece.table
    if piece.row_groups is not None:
        batches = list(_parquet_batches(piece.path, columns, BATCH_ROWS, piece.row_groups))
    else:
        batches = list(_csv_batches(piece.path, columns, BATCH_ROWS))
    if not batches:
        return pa.schema([pa.field(str(c), reader.schema.field(str(c)).type)
                          for c in columns]).empty_table()
    return pa.concat_tables(batches, promote_options="permissive")


def _piece_stats(piece: _Piece, reader: _Reader) -> dict:
    """Rows, the latest timestamp and what the ids look like (rejects are not raised here)."""
    table = _read_piece(piece, reader)
    if table.num_rows == 0:
        return {"rows": 0, "kept": 0, "max_ns": None}
    if reader.kind == "csv":  # rows are not counted yet: name them by file and line
        reader = replace(reader, names=(reader.names[piece.file_no],), starts=(0,))
    return _prepare(table, piece.first_row, reader, strict=False)[1]


def _prepare_piece(piece: _Piece, reader: _Reader) -> pd.DataFrame:
    schema = _prepared_schema(reader)
    table = _read_piece(piece, reader)
    if not table.num_rows:
        return schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    prepared = _prepare(table, piece.first_row, reader)[0]
    plain = [pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c
             for c in prepared.columns]  # shuffled as plain text, encoded again to score
    return pa.table(plain, names=prepared.column_names).cast(schema).to_pandas(
        types_mapper=pd.ArrowDtype)


def _prepared_schema(reader: _Reader) -> pa.Schema:
    fields = [pa.field(reader.rename.get(f.name, f.name),
                       pa.timestamp("ns", tz="UTC") if f.name == str(reader.resolved["timestamp"])
                       else f.type) for f in reader.schema]
    return pa.schema([*fields, pa.field(_ROW, pa.int64()), pa.field(_PART, pa.int32()),
                      pa.field(_REJECT, pa.string()), pa.field(_RAW_TS, pa.string())])


def _score_frame(frame: pd.DataFrame, bundle: ModelBundle, plan: _Plan, schema: pa.Schema
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Score one shuffled dask partition (a pandas frame of Arrow columns)."""
    table = pa.Table.from_pandas(frame, preserve_index=False).select(schema.names).cast(schema)
    if table.num_rows == 0:
        return _empty_scores(plan), pd.DataFrame(), {"status": {}, "events": 0}
    scores, rejects, counts = _score_partition(table, bundle, plan)
    counts["events"] = table.num_rows
    return scores, rejects, counts


def _run_dask(src: _Source, reader: _Reader, plan: _Plan, bundle: ModelBundle, run: _RunDir,
              scheduler, progress: bool) -> tuple[_Plan, list[dict], int]:
    """Score on a dask.distributed cluster: read by the workers, shuffle by customer, score.

    A worker lost mid-run costs only time: dask runs its tasks again elsewhere (the
    shuffle included), and the client alone writes and records chunks, each once. A
    fault of the cluster itself (the scheduler gone, no worker left, workers dying on one
    task) raises :class:`~cjml._dask.ClusterError` in one line that says how many chunks
    are kept for ``resume=True``.
    """
    import dask
    import dask.dataframe as dd
    from tqdm.auto import tqdm

    from cjml._dask import ClusterError, close, cluster_fault, completed, connect, hush_client

    client, owned = connect(scheduler)
    unhush = hush_client()
    try:
        reader.schema = _target_schema(src, reader.read_columns)
        state = run.state
        pieces = _pieces(src, reader)
        if src.kind == "parquet":
            starts = np.cumsum([0] + [pq.ParquetFile(f).metadata.num_rows for f in src.files])
            reader.starts = tuple(int(x) for x in starts[:-1])
        if not state.get("partitioned"):
            # First pass: rows per piece (row numbers), the latest timestamp, the id type.
            ids = [str(reader.resolved["customer_id"]), str(reader.resolved["timestamp"])]
            light = replace(reader, read_columns=[c for c in reader.read_columns
                                                  if str(c) in ids],
                            schema=pa.schema([f for f in reader.schema if f.name in ids]),
                            customers=reader.customers, strict=False)
            futures = client.map(_piece_stats, pieces, reader=light, pure=False)
            for _ in completed(client, futures):  # gives up on a cluster without workers
                pass
            stats = client.gather(futures)
            total: dict = {}
            for st in stats:
                total = _merge_stats(total, st)
            if not total.get("rows"):
                raise SchemaError(f"The event log has no rows (columns: {list(src.columns)!r}). "
                                  "Fix: pass a log with at least one event (customer_id, "
                                  "timestamp, touchpoint).")
            state.update({"partitioned": True, "n_parts": reader.n_parts, "pass1": total,
                          "piece_rows": [int(st["rows"]) for st in stats],
                          "event_columns": [reader.rename.get(str(c), str(c))
                                            for c in reader.read_columns]})
            run.save()
        first, starts, file_no = 0, [], -1
        for piece, rows in zip(pieces, state["piece_rows"], strict=True):
            while file_no < piece.file_no:
                starts.append(first)
                file_no += 1
            piece.first_row = first
            first += rows
        while len(starts) < max(len(src.files), 1):
            starts.append(first)
        state["starts"] = starts
        reader.starts = tuple(starts)
        plan = _finish_plan(plan, reader, state)
        reject_schema = _rejects_schema(plan, state["event_columns"])
        schema = _prepared_schema(reader)
        meta = schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
        prepared = dd.from_map(_prepare_piece, pieces, reader=reader, meta=meta,
                               enforce_metadata=False)
        # Every row of a customer has the same __cjml_part: one partition holds it all.
        shuffled = prepared.shuffle(on=_PART, npartitions=state["n_parts"])
        parts = shuffled.to_delayed()
        done = state.setdefault("chunks", {})
        n_resumed = len(done)
        todo = [p for p in range(len(parts)) if str(p) not in done]
        # The bundle is a node of the graph, not scattered data: the scheduler keeps it and
        # sends it again if every worker holding it dies (scattered data dies with its last
        # holder, and every chunk still to score with it is cancelled).
        remote_bundle = dask.delayed(bundle, name=f"cjml-bundle-{uuid.uuid4().hex}",
                                     traverse=False)
        score_task = dask.delayed(_score_frame, pure=True)
        futures = client.compute([score_task(parts[p], remote_bundle, plan, schema)
                                  for p in todo])
        part_of = {f.key: p for f, p in zip(futures, todo, strict=True)}
        bar = tqdm(total=len(parts), initial=n_resumed, unit="chunk", desc="scoring (dask)",
                   disable=not progress, file=sys.stderr, mininterval=0.5)
        started, customers = time.perf_counter(), 0
        try:
            for future in completed(client, futures):
                scores, rejects, counts = future.result()
                future.release()
                _commit_chunk(run, part_of[future.key], scores, rejects, counts, plan,
                              reject_schema)
                customers += len(scores)
                bar.update(1)
                rate = customers / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix_str(f"{rate:,.0f} customers/s")
        finally:
            bar.close()  # before an error: its line must not run into the bar
        state["n_parts"] = len(parts)
        return plan, list(done.values()), n_resumed
    except Exception as exc:
        fault = cluster_fault(exc, client, _DASK_TASKS)
        if fault is None:
            raise
        raise ClusterError(_dask_fault_message(run, *fault)) from None
    finally:
        close(owned)
        unhush()


#: The Dask engine's tasks, by key prefix, as a fault message names them.
_DASK_TASKS = {"piece_stats": "counting the events", "prepare_piece": "reading the events",
               "p2pshuffle": "sorting the events by customer",
               "shuffle": "sorting the events by customer",
               "shuffle-transfer": "sorting the events by customer",
               "cjml-bundle": "sending the model bundle", "score_frame": "scoring a chunk"}


def _dask_fault_message(run: _RunDir, what: str, fix: str) -> str:
    """A cluster fault in one line: what happened, what the run keeps, how to continue."""
    if run.temporary:
        return f"{what}. Nothing was kept: {fix} and score again (with out= a run resumes)."
    if not run.state.get("partitioned"):
        return (f"{what}. No chunk had been scored, so nothing was kept: {fix} and run the "
                "command again.")
    done, total = len(run.state.get("chunks", {})), run.state.get("n_parts", "?")
    return (f"{what}. Finished chunks: {done} of {total}, kept in {str(run.path)!r}: {fix} "
            "and rerun the same command with --resume (resume=True) to continue; "
            "--scheduler may name a new address.")

