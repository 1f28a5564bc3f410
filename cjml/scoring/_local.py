"""The local engine: the partition pass and the scoring pass, on threads.

:func:`_partition` (or, for Parquet input on several threads,
:func:`_partition_in_threads`) writes every row to the partition of its
customer; :func:`_run_local` then scores the partitions one by one, or side
by side on :class:`_ChunkThreads`, and records the finished chunks.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cjml.bundle import ModelBundle
from cjml.exceptions import SchemaError
from cjml.io._batches import _PART, _merge_stats, _prepare, _Reader
from cjml.io._source import (
    BATCH_ROWS,
    _iter_batches,
    _Piece,
    _pieces,
    _read_piece,
    _Source,
    _target_schema,
)
from cjml.scoring._chunk import (
    _empty_scores,
    _finish_plan,
    _Plan,
    _rejects_schema,
    _score_partition,
)
from cjml.scoring._run import _record_chunk, _RunDir, _write_chunk

#: From this many input rows, ``n_jobs=None`` scores on one thread per core.
PARALLEL_FROM_EVENTS = 500_000


def _n_parts(n_rows: int, chunk_events: int, n_jobs: int | None, engine: str) -> int:
    """Partitions: about ``chunk_events`` events each, and two per local thread at least
    (so that the threads share the work evenly; the output does not depend on it)."""
    parts = max(1, int(np.ceil(n_rows / chunk_events)))
    if engine == "local":
        workers = (
            n_jobs
            if n_jobs is not None
            else (os.cpu_count() or 1 if n_rows >= PARALLEL_FROM_EVENTS else 1)
        )
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


def _run_local(
    src: _Source,
    reader: _Reader,
    plan: _Plan,
    bundle: ModelBundle,
    run: _RunDir,
    progress: bool,
    n_jobs: int | None = 1,
) -> tuple[_Plan, list[dict], int]:
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
        bar = tqdm(
            total=state["pass1"]["kept"],
            unit="event",
            unit_scale=True,
            desc="scoring",
            disable=not progress,
            file=sys.stderr,
            mininterval=0.5,
        )
        bar.update(sum(c.get("events", 0) for c in done.values()))
        started, customers = time.perf_counter(), 0
        tasks = [
            (
                run.chunk_file("input", p),
                run.chunk_file("scored", p),
                run.chunk_file("rejects", p),
                plan,
                reject_schema,
            )
            for p in todo
        ]
        if pool is not None and len(todo) > 1:
            results = pool.map_unordered(todo, tasks)
        else:
            results = (
                (p, _score_chunk_file(*task, bundle=bundle))
                for p, task in zip(todo, tasks, strict=True)
            )
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


def _score_chunk_file(
    in_path: Path,
    scored_path: Path,
    rejects_path: Path,
    plan: _Plan,
    reject_schema: pa.Schema,
    *,
    bundle: ModelBundle,
) -> dict:
    """Score one partition file into its chunk files; returns the chunk's counts."""
    table = _read_partition(in_path) if in_path.exists() else None
    if table is None or table.num_rows == 0:
        counts: dict[str, Any] = {"status": {}}
        scores, rejects = _empty_scores(plan), pd.DataFrame()
        n_events = 0
    else:
        n_events = table.num_rows
        scores, rejects, counts = _score_partition(table, bundle, plan)
        del table
    _write_chunk(scored_path, rejects_path, scores, rejects, plan, reject_schema)
    return {**counts, "events": n_events, "customers": len(scores)}


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

    def map_unordered(
        self, parts: list[int], tasks: list[tuple], func=None
    ) -> Iterator[tuple[int, dict]]:
        """(part, result) of each task as it finishes; the first error stops the rest.

        ``func`` is :func:`_score_chunk_file` (with this thread's bundle) unless given."""
        from concurrent.futures import as_completed

        func = self._score if func is None else func
        futures = {
            self.executor.submit(func, *task): part for part, task in zip(parts, tasks, strict=True)
        }
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
        library = (
            getattr(model, "compiled_library_", None)
            if getattr(model, "_compiled", None) is not None
            else None
        )
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
    bar = tqdm(
        total=src.estimate_rows(),
        unit="row",
        unit_scale=True,
        desc="partitioning",
        disable=not progress,
        file=sys.stderr,
        mininterval=0.5,
    )
    schema = None
    try:
        for file_no, table in _iter_batches(
            src, reader.read_columns, BATCH_ROWS, as_written=[reader.resolved["customer_id"]]
        ):
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
                    writers[p] = pa.ipc.new_stream(
                        run.chunk_file("input", p), schema, options=options
                    )
                writers[p].write_table(piece.cast(schema))
            bar.update(table.num_rows)
    finally:
        for w in writers.values():
            w.close()
        bar.close()
    while len(starts) < max(len(src.files), 1):
        starts.append(first_row)
    _record_partitioning(src, reader, run, starts, total)


def _record_partitioning(
    src: _Source, reader: _Reader, run: _RunDir, starts: list[int], total: dict
) -> None:
    """Refuse an input without rows; else mark the run partitioned, with what the pass saw."""
    if not total.get("rows"):
        where = f" from {', '.join(src.names)!r}" if src.names else ""
        raise SchemaError(
            f"The event log{where} has no rows (columns: {list(src.columns)!r}). "
            "Fix: pass a log with at least one event (customer_id, timestamp, "
            "touchpoint)."
        )
    run.state.update(
        {
            "partitioned": True,
            "n_parts": reader.n_parts,
            "starts": starts,
            "pass1": total,
            "event_columns": [reader.rename.get(str(c), str(c)) for c in reader.read_columns],
        }
    )
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


def _partition_in_threads(
    src: _Source, reader: _Reader, run: _RunDir, pool: _ChunkThreads, progress: bool
) -> None:
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
    assert reader.schema is not None  # set by _run_local before partitioning
    schema = _prepare(reader.schema.empty_table(), 0, reader)[0].schema
    bar = tqdm(
        total=src.estimate_rows(),
        unit="row",
        unit_scale=True,
        desc="partitioning",
        disable=not progress,
        file=sys.stderr,
        mininterval=0.5,
    )
    stats: dict[int, dict] = {}
    try:
        tasks = [(piece, i, reader, schema, run.path / "input") for i, piece in enumerate(pieces)]
        for i, piece_stats in pool.map_unordered(
            list(range(len(pieces))), tasks, func=_partition_piece
        ):
            stats[i] = piece_stats
            bar.update(piece_stats.get("rows", 0))
    finally:
        bar.close()
    total: dict = {}
    for i in range(len(pieces)):  # in input order, as the sequential pass merges them
        total = _merge_stats(total, stats[i])
    _record_partitioning(src, reader, run, starts, total)


def _partition_piece(
    piece: _Piece, index: int, reader: _Reader, schema: pa.Schema, folder: Path
) -> dict:
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
