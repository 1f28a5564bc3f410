"""Merging the finished chunks into the output, a batch at a time.

:func:`_write_output` merges the chunks (each sorted by customer) and the
listed customers absent from the events by customer id
(:func:`_merge_sorted`), applies a run-wide budget (:func:`_past_budget`),
and writes the scores and the rejects through :class:`_TableSink` (Parquet,
or CSV through cjml's one CSV encoder) under a temporary name, renamed into
place; or returns them as a DataFrame.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cjml.exceptions import CjmlError, InputFileError, SchemaError
from cjml.io._files import _id_text
from cjml.io._write import CsvStream, publish, write_error
from cjml.scoring._chunk import (
    _COST,
    STATUSES,
    _empty_scores,
    _is_float_column,
    _out_columns,
    _out_schema,
    _Plan,
    _recommendation_columns,
    _rejects_schema,
)
from cjml.scoring._options import _MAX_SHOWN
from cjml.scoring._run import MERGE_GROUP_ROWS, _RunDir, _text_columns

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

#: Rows per batch when merging the chunks into the output.
MERGE_ROWS = 65_536


def _write_output(
    run: _RunDir,
    plan: _Plan,
    absent: pd.DataFrame,
    out: Path | None,
    rejects_path: Path | None,
    *,
    force: bool,
) -> tuple[pd.DataFrame | None, bool, dict[str, Any]]:
    """Merge the chunks (and absent listed customers) into the output, atomically.

    Under a budget, the customers it leaves out (see :func:`_past_budget`) lose
    their recommendations on the way. Also returns, with a value model, the
    totals as written: ``value_at_risk`` and ``value_saved`` (each customer's
    first-ranked touchpoint only: the next ranks are alternatives to it), and
    ``no_cost``: the first-ranked touchpoints whose value saved is unknown, for want
    of a unit cost, and ``n_saved``: the customers whose value saved is known.
    """
    totals: dict[str, Any] = {
        "value_at_risk": 0.0,
        "value_saved": 0.0,
        "no_cost": set(),
        "n_saved": 0,
    }
    n_parts = run.state["n_parts"]
    score_files = [f for f in (run.chunk_file("scored", p) for p in range(n_parts)) if f.exists()]
    past = _past_budget(score_files, plan)

    def sources() -> list[Iterator[pa.Table]]:
        found = [_batches_of(f) for f in score_files]
        if len(absent):
            found.append(
                _tables_of(
                    pa.Table.from_pandas(absent, schema=_out_schema(plan), preserve_index=False)
                )
            )
        return found

    reject_files = [f for f in (run.chunk_file("rejects", p) for p in range(n_parts)) if f.exists()]
    reject_schema = _rejects_schema(plan, run.state["event_columns"])
    sink = _TableSink(out, _out_schema(plan), run.path)
    reject_sink = None
    try:
        # The scored customers first, each group by customer id: a second pass over the
        # chunks writes the others, when asked for (the file no longer opens with empty rows)
        for scored in (True, False) if plan.include_inactive else (True,):
            for piece in _merge_sorted(sources(), "customer_id"):
                piece = piece.filter(_is_scored(piece) if scored else pc.invert(_is_scored(piece)))
                if not piece.num_rows:
                    continue
                if len(past):
                    piece = _without_recommendations(piece, past, plan)
                if plan.value:
                    for name, column in (
                        ("value_at_risk", "value_at_risk"),
                        ("value_saved", "expected_value_saved"),
                    ):
                        total = pc.sum(piece.column(column)).as_py()
                        totals[name] += 0.0 if total is None else float(total)
                    if "recommended_touchpoint" in piece.column_names:
                        totals["no_cost"] |= _without_value_saved(piece)
                        totals["n_saved"] += _count_finite(piece.column("expected_value_saved"))
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
            reject_schema,
        )
    return frame, reject_sink is not None, totals if plan.value else {}


def _absent_customers(listed: np.ndarray | None, run: _RunDir, plan: _Plan) -> pd.DataFrame:
    """Listed customers with no row in any chunk, as ``no_events`` rows, sorted."""
    if listed is None:
        return _empty_scores(plan).iloc[:0]
    if plan.id_kind == "int":
        ids = pd.to_numeric(
            pd.Series(listed, dtype=object).astype(str).str.strip(), errors="coerce"
        ).to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(ids) | (ids != np.round(ids))
        if bad.any():
            shown = listed[bad][:_MAX_SHOWN].tolist()
            raise SchemaError(
                f"The customer list has ids that are not whole numbers "
                f"({shown!r}), but every customer id of the events is one: they "
                "could match no customer. Fix: correct the list."
            )
        ids = ids.astype(np.int64)
    else:
        ids = np.asarray([_id_text(v) for v in listed], dtype=object)
    seen = list(_run_ids(run))
    seen_ids = np.concatenate(seen) if seen else np.empty(0, dtype=ids.dtype)
    absent = np.sort(ids[~np.isin(ids, seen_ids)]) if len(ids) else ids
    frame = pd.DataFrame(
        {c: pd.Series([None] * len(absent), dtype=object) for c in _out_columns(plan)}
    )
    frame["customer_id"] = absent
    frame["status"] = "no_events"
    for c in frame.columns:
        if _is_float_column(c):
            frame[c] = np.nan
    return frame


def _run_ids(run: _RunDir) -> Iterator[np.ndarray]:
    """The customer ids of each scored chunk of the run (every status), one chunk at a time."""
    for f in sorted((run.path / "scored").glob("part-*.parquet")):
        yield pq.read_table(f, columns=["customer_id"]).column(0).to_numpy(zero_copy_only=False)


def _spaced_twins(run: _RunDir, spaced: set[str]) -> pd.Index:
    """``spaced`` (ids with spaces around them, from every chunk) and the ids of the run
    they equal once stripped (' 42' and '42'), which usually sit in another chunk: what
    :func:`cjml.io._columns._warn_spaced_ids` needs, read one chunk at a time."""
    if not spaced:
        return pd.Index([], dtype=object)
    stripped = {s.strip() for s in spaced}
    found: set[str] = set()
    for ids in _run_ids(run):
        chunk = pd.Index(ids, dtype=object)
        found.update(chunk[chunk.isin(stripped)])
    return pd.Index(sorted(spaced | found), dtype=object)


def _case_twins_of_run(run: _RunDir, plan: _Plan) -> pd.Index:
    """The ids of the run that differ from another only in letter case ('Anna' and
    'anna'), which a hash usually puts in different chunks: what
    :func:`cjml.io._columns._warn_case_ids` needs. Whole-number ids have no case."""
    if plan.id_kind == "int":
        return pd.Index([], dtype=object)
    from cjml.io._columns import _case_twins

    seen = list(_run_ids(run))
    return _case_twins(np.concatenate(seen)) if seen else pd.Index([], dtype=object)


def _is_scored(piece: pa.Table) -> pa.ChunkedArray:
    return pc.equal(piece.column("status"), "scored")


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
        piece = (
            pa.concat_tables(pieces, promote_options="default") if len(pieces) > 1 else pieces[0]
        )
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

    CSV goes through cjml's one CSV encoder (:class:`cjml.io._write.CsvStream`:
    formula-safe, UTF-8 with BOM). A batch is encoded and written on a second
    thread while the merge prepares the next (Arrow releases the GIL); one
    batch at most is in flight. The finished file gets the umask's mode and is
    renamed into place; an error while writing names the output file.
    """

    def __init__(self, path: Path | None, schema: pa.Schema, tmp_dir: Path):
        self.path, self.schema = path, schema
        self.tables: list[pa.Table] = []
        self.writer: Any = None  # a CsvStream, or a pyarrow ParquetWriter
        self.handle: BinaryIO | None = None
        self.rows = 0
        self.pending: Future | None = None
        self.thread: ThreadPoolExecutor | None = None
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
                    self.writer = pq.ParquetWriter(
                        str(self.tmp),
                        schema,
                        compression="zstd",
                        use_dictionary=_text_columns(schema),
                    )
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
        assert self.path is not None  # a writer writes to a file
        try:
            self._wait()
            self._stop()
            try:
                self._close_writer()
            except OSError as exc:
                raise write_error(self.path, exc) from exc
            if self.path.exists() and not force:
                raise InputFileError(
                    f"{str(self.path)!r} appeared while scoring and was left "
                    "untouched. Choose another --out, or pass --force."
                )
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


def _plain_columns(frame: pd.DataFrame, schema: pa.Schema) -> dict[str, list]:
    """Column name -> list of plain Python values (None when missing): JSON-friendly."""
    return pa.Table.from_pandas(
        frame[schema.names], schema=schema, preserve_index=False
    ).to_pydict()


def _without_value_saved(piece: pa.Table) -> set[str]:
    """The first-ranked touchpoints of ``piece`` whose value saved is missing (no unit cost)."""
    saved = piece.column("expected_value_saved")
    unknown = pc.and_(
        pc.is_valid(piece.column("recommended_touchpoint")),
        pc.or_kleene(pc.is_null(saved), pc.is_nan(saved)),
    )
    chosen = pc.filter(piece.column("recommended_touchpoint"), pc.fill_null(unknown, True))
    return {str(t) for t in pc.unique(chosen).to_pylist() if t is not None}


def _count_finite(column: pa.ChunkedArray) -> int:
    """How many values of a float column are neither missing nor NaN."""
    return int(pc.sum(pc.fill_null(pc.invert(pc.is_nan(column)), False)).as_py() or 0)


def _past_budget(files: list[Path], plan: _Plan) -> pd.Index:
    """The customers a run-wide budget leaves without a recommendation (their ids).

    The chunks were scored without the budget; each kept, per customer, the
    first-ranked touchpoint's expected reduction and cost. Here the budget is
    applied to all of them at once, by :func:`cjml.recommend._over_budget` (the
    recommender's own rule), in customer id order: the order of the
    recommender's rows on the whole log, so ties break as there. Holds one
    id and two numbers (three when ranking by value saved) per recommended customer.
    """
    if plan.budget is None:
        return pd.Index([])
    from cjml.recommend import _over_budget

    by_value = plan.rank_key == "value_saved"
    columns = ["customer_id", "expected_risk_reduction", _COST]
    if by_value:
        columns.append("expected_value_saved")
    frames = []
    for f in files:
        part = pq.read_table(f, columns=columns).to_pandas()
        frames.append(part[part["expected_risk_reduction"].notna().to_numpy()])
    if not frames:
        return pd.Index([])
    recommended = pd.concat(frames, ignore_index=True).sort_values("customer_id", kind="stable")
    over = _over_budget(
        recommended["expected_risk_reduction"].to_numpy(dtype=np.float64),
        recommended[_COST].to_numpy(dtype=np.float64),
        plan.budget,
        rank_by=plan.rank_key,
        value_saved=recommended["expected_value_saved"].to_numpy(dtype=np.float64)
        if by_value
        else None,
    )
    return pd.Index(recommended["customer_id"].to_numpy()[over])


def _without_recommendations(piece: pa.Table, past: pd.Index, plan: _Plan) -> pa.Table:
    """The piece with the recommendation columns of the ``past`` customers emptied."""
    hit = pc.is_in(piece.column("customer_id"), value_set=pa.array(past.to_numpy()))
    if not pc.any(hit).as_py():
        return piece
    for c in _recommendation_columns(plan.top_k, value=plan.value):
        i = piece.schema.get_field_index(c)
        column = piece.column(i)
        piece = piece.set_column(i, c, pc.if_else(hit, pa.nulls(len(column), column.type), column))
    return piece


def _finalize_frame(frame: pd.DataFrame, plan: _Plan) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["risk_band"] = pd.Categorical(
        frame["risk_band"], categories=list(plan.band_labels), ordered=True
    )
    frame["status"] = pd.Categorical(frame["status"], categories=list(STATUSES))
    frame["next_stage"] = pd.Categorical(frame["next_stage"], categories=list(plan.next_stages))
    return frame
