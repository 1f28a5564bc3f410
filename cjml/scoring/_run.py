"""The run folder beside the output: lock, state, resume fingerprint, chunks.

:class:`_RunDir` opens (or resumes, or refuses to mix) the folder
``.NAME.cjml-run`` keyed by the fingerprint of the inputs and options, and
holds its ``state.json``. A finished chunk's files are written atomically
(:func:`_write_chunk`, by whichever thread or worker scored it); only the
calling thread records it as done (:func:`_record_chunk`), so a resumed run
continues exactly where the state says.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cjml.bundle import BundleError
from cjml.exceptions import CjmlError
from cjml.io._write import WriteError, write_error
from cjml.scoring._chunk import _chunk_schema, _Plan

_STATE, _LOCK = "state.json", "lock"
#: Rows per row group of a finished chunk: what the merge holds per chunk at a time.
MERGE_GROUP_ROWS = 32_768


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
                        "start again."
                    )
                elif not resume:
                    done = len(old.get("chunks", {}))
                    raise CjmlError(
                        f"An unfinished scoring run of {str(out)!r} is in {str(path)!r} ({done} "
                        f"of {old.get('n_parts', '?')} chunks done). Pass --resume "
                        "(resume=True) to continue it, or --force (force=True) to start again."
                    )
                elif old.get("fingerprint") != fingerprint:
                    changed = _changes(old.get("parts", {}), parts)
                    raise BundleError(
                        f"Cannot resume the unfinished run in {str(path)!r}: it was started "
                        f"with different {changed}. Resuming would mix two runs in one output. "
                        "Run again with the original inputs and options, or pass --force "
                        "(force=True) instead of --resume to start afresh."
                    )
                else:
                    return cls(path, old, temporary=False, lock=lock)
            run = cls(
                path, {"fingerprint": fingerprint, "parts": parts}, temporary=False, lock=lock
            )
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
        raise CjmlError(
            f"Another cjml score run is writing {str(out)!r} right now (it holds "
            f"{str(path / _LOCK)!r}). Wait for it to finish, or choose another "
            "--out."
        ) from None
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
    labels = {
        "events": "input events (names, sizes or modification times)",
        "bundle": "model bundle",
        "customers": "customer list",
        "cjml": "cjml version",
    }
    out = []
    for key in ("events", "bundle", "customers", "cjml"):
        if old.get(key) != new.get(key):
            out.append(labels[key])
    old_opt, new_opt = old.get("options", {}), new.get("options", {})
    opts = [k for k in sorted(set(old_opt) | set(new_opt)) if old_opt.get(k) != new_opt.get(k)]
    if opts:
        out.append(
            "options ("
            + ", ".join(f"{k}: {old_opt.get(k)!r} then, {new_opt.get(k)!r} now" for k in opts)
            + ")"
        )
    return " and ".join(out) if out else "inputs"


def _text_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: text (bands, stages, statuses).
    Ids and probabilities are nearly all distinct: trying costs time and space."""
    return [f.name for f in schema if pa.types.is_string(f.type)]


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # small row groups: the merge holds one per chunk in memory at a time
        pq.write_table(
            table,
            tmp,
            compression="lz4",
            row_group_size=MERGE_GROUP_ROWS,
            use_dictionary=_text_columns(table.schema),
        )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a half-written chunk must not fill the disk further
        raise


def _commit_chunk(
    run: _RunDir,
    part: int,
    scores: pd.DataFrame,
    rejects: pd.DataFrame,
    counts: dict,
    plan: _Plan,
    reject_schema: pa.Schema,
) -> None:
    """Write a finished chunk, then record it: a chunk counts as done only once recorded."""
    _write_chunk(
        run.chunk_file("scored", part),
        run.chunk_file("rejects", part),
        scores,
        rejects,
        plan,
        reject_schema,
    )
    _record_chunk(run, part, counts)


def _write_chunk(
    scored_path: Path,
    rejects_path: Path,
    scores: pd.DataFrame,
    rejects: pd.DataFrame,
    plan: _Plan,
    reject_schema: pa.Schema,
) -> None:
    """A chunk's files, each written atomically (by whichever thread or Dask worker scored it)."""
    path = scored_path
    try:
        _write_atomic(
            pa.Table.from_pandas(scores, schema=_chunk_schema(plan), preserve_index=False),
            scored_path,
        )
        if len(rejects):
            path = rejects_path
            _write_atomic(
                pa.Table.from_pandas(
                    rejects[reject_schema.names], schema=reject_schema, preserve_index=False
                ),
                rejects_path,
            )
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


def _writing_error(exc: BaseException, run: _RunDir) -> WriteError | None:
    """The one-line error for a failure to write (disk full...), naming the file; or None."""
    if isinstance(exc, WriteError):
        return exc
    if (
        isinstance(exc, OSError)
        and not isinstance(exc, CjmlError)
        and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    ):
        return write_error(exc.filename or run.path, exc)
    return None
