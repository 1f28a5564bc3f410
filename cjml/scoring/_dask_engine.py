"""The Dask engine: the same partitions and chunks on a dask.distributed cluster.

The workers read the input's pieces, the events are shuffled by partition so
that each customer's history is whole in one, and each partition is scored
there (:func:`_score_frame`); the client writes and records the chunks it
receives. The cluster helpers (connecting, faults) are :mod:`cjml._dask`.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cjml.bundle import ModelBundle
from cjml.exceptions import SchemaError
from cjml.io._batches import _PART, _RAW_TS, _REJECT, _ROW, _merge_stats, _prepare, _Reader
from cjml.io._messages import TEXT_KINDS
from cjml.io._source import _Piece, _pieces, _read_piece, _Source, _target_schema
from cjml.scoring._chunk import (
    _empty_scores,
    _finish_plan,
    _Plan,
    _rejects_schema,
    _score_partition,
)
from cjml.scoring._run import _commit_chunk, _RunDir


def _run_dask(
    src: _Source,
    reader: _Reader,
    plan: _Plan,
    bundle: ModelBundle,
    run: _RunDir,
    scheduler,
    progress: bool,
) -> tuple[_Plan, list[dict], int]:
    """Score on a dask.distributed cluster: read by the workers, shuffle by customer, score.

    A worker lost mid-run costs only time: dask runs its tasks again elsewhere (the
    shuffle included), and the client alone writes and records chunks, each once. A
    fault of the cluster itself (the scheduler gone, no worker left, workers dying on one
    task) raises :class:`~cjml.ClusterError` in one line that says how many chunks
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
            bounds = np.cumsum([0] + [pq.ParquetFile(f).metadata.num_rows for f in src.files])
            reader.starts = tuple(int(x) for x in bounds[:-1])
        if not state.get("partitioned"):
            # First pass: rows per piece (row numbers), the latest timestamp, the id type,
            # the blank rows (no id, timestamp or touchpoint).
            ids = [str(reader.resolved[c]) for c in ("customer_id", "timestamp", "touchpoint")]
            light = replace(
                reader,
                read_columns=[c for c in reader.read_columns if str(c) in ids],
                schema=pa.schema([f for f in reader.schema if f.name in ids]),
                customers=reader.customers,
                strict=False,
            )
            futures = client.map(_piece_stats, pieces, reader=light, pure=False)
            for _ in completed(client, futures):  # gives up on a cluster without workers
                pass
            stats = client.gather(futures)
            total: dict = {}
            for st in stats:
                total = _merge_stats(total, st)
            if not total.get("rows"):
                raise SchemaError(
                    f"The event log has no rows (columns: {list(src.columns)!r}). "
                    "Fix: pass a log with at least one event (customer_id, "
                    "timestamp, touchpoint)."
                )
            state.update(
                {
                    "partitioned": True,
                    "n_parts": reader.n_parts,
                    "pass1": total,
                    "piece_rows": [int(st["rows"]) for st in stats],
                    "event_columns": [
                        reader.rename.get(str(c), str(c)) for c in reader.read_columns
                    ],
                }
            )
            run.save()
        first, file_no = 0, -1
        starts: list[int] = []
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
        prepared = dd.from_map(
            _prepare_piece, pieces, reader=reader, meta=meta, enforce_metadata=False
        )
        # Every row of a customer has the same __cjml_part: one partition holds it all.
        shuffled = prepared.shuffle(on=_PART, npartitions=state["n_parts"])
        parts = shuffled.to_delayed()
        done = state.setdefault("chunks", {})
        n_resumed = len(done)
        todo = [p for p in range(len(parts)) if str(p) not in done]
        # The bundle is a node of the graph, not scattered data: the scheduler keeps it and
        # sends it again if every worker holding it dies (scattered data dies with its last
        # holder, and every chunk still to score with it is cancelled).
        remote_bundle = dask.delayed(bundle, name=f"cjml-bundle-{uuid.uuid4().hex}", traverse=False)
        score_task = dask.delayed(_score_frame, pure=True)
        futures = client.compute([score_task(parts[p], remote_bundle, plan, schema) for p in todo])
        part_of = {f.key: p for f, p in zip(futures, todo, strict=True)}
        bar = tqdm(
            total=len(parts),
            initial=n_resumed,
            unit="chunk",
            desc="scoring (dask)",
            disable=not progress,
            file=sys.stderr,
            mininterval=0.5,
        )
        started, customers = time.perf_counter(), 0
        try:
            for future in completed(client, futures):
                scores, rejects, counts = future.result()
                future.release()
                _commit_chunk(
                    run, part_of[future.key], scores, rejects, counts, plan, reject_schema
                )
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
_DASK_TASKS = {
    "piece_stats": "counting the events",
    "prepare_piece": "reading the events",
    "p2pshuffle": "sorting the events by customer",
    "shuffle": "sorting the events by customer",
    "shuffle-transfer": "sorting the events by customer",
    "cjml-bundle": "sending the model bundle",
    "score_frame": "scoring a chunk",
}


def _dask_fault_message(run: _RunDir, what: str, fix: str) -> str:
    """A cluster fault in one line: what happened, what the run keeps, how to continue."""
    if run.temporary:
        return f"{what}. Nothing was kept: {fix} and score again (with out= a run resumes)."
    if not run.state.get("partitioned"):
        return (
            f"{what}. No chunk had been scored, so nothing was kept: {fix} and run the "
            "command again."
        )
    done, total = len(run.state.get("chunks", {})), run.state.get("n_parts", "?")
    return (
        f"{what}. Finished chunks: {done} of {total}, kept in {str(run.path)!r}: {fix} "
        "and rerun the same command with --resume (resume=True) to continue; "
        "--scheduler may name a new address."
    )


def _piece_stats(piece: _Piece, reader: _Reader) -> dict:
    """Rows, the latest timestamp and what the ids look like (rejects are not raised here)."""
    table = _read_piece(piece, reader)
    if table.num_rows == 0:
        return {"rows": 0, "kept": 0, "max_ns": None}
    if reader.kind in TEXT_KINDS:  # rows are not counted yet: name them by file and line
        reader = replace(reader, names=(reader.names[piece.file_no],), starts=(0,))
    return _prepare(table, piece.first_row, reader, strict=False)[1]


def _prepare_piece(piece: _Piece, reader: _Reader) -> pd.DataFrame:
    schema = _prepared_schema(reader)
    table = _read_piece(piece, reader)
    if not table.num_rows:
        return schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    prepared = _prepare(table, piece.first_row, reader)[0]
    plain = [
        pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c
        for c in prepared.columns
    ]  # shuffled as plain text, encoded again to score
    return (
        pa.table(plain, names=prepared.column_names)
        .cast(schema)
        .to_pandas(types_mapper=pd.ArrowDtype)
    )


def _prepared_schema(reader: _Reader) -> pa.Schema:
    assert reader.schema is not None  # set by _run_dask before the pieces are read
    fields = [
        pa.field(
            reader.rename.get(f.name, f.name),
            pa.timestamp("ns", tz="UTC") if f.name == str(reader.resolved["timestamp"]) else f.type,
        )
        for f in reader.schema
    ]
    return pa.schema(
        [
            *fields,
            pa.field(_ROW, pa.int64()),
            pa.field(_PART, pa.int32()),
            pa.field(_REJECT, pa.string()),
            pa.field(_RAW_TS, pa.string()),
        ]
    )


def _score_frame(
    frame: pd.DataFrame, bundle: ModelBundle, plan: _Plan, schema: pa.Schema
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Score one shuffled dask partition (a pandas frame of Arrow columns)."""
    table = pa.Table.from_pandas(frame, preserve_index=False).select(schema.names).cast(schema)
    if table.num_rows == 0:
        return _empty_scores(plan), pd.DataFrame(), {"status": {}, "events": 0}
    scores, rejects, counts = _score_partition(table, bundle, plan)
    counts["events"] = table.num_rows
    return scores, rejects, counts
