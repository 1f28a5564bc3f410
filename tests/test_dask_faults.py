"""Faults on the distributed engine: `cjml score --engine dask` on a real cluster (a
scheduler and two workers on localhost, each its own process) that loses a worker, both
workers or the scheduler mid-run."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

import cjml  # noqa: E402
import cjml._dask  # noqa: E402
import cjml.scoring._dask_engine  # noqa: E402
from cjml.cli import main  # noqa: E402
from tests._panel_bundle import sample_bundle_path  # noqa: E402

ROOT = Path(cjml.__file__).resolve().parents[1]
#: 8,000 customers (about 68,000 events) in chunks of about 4,000 events: 17 chunks.
CUSTOMERS, CHUNK_EVENTS = 8000, 4000
#: Seconds allowed for a cluster to start, and for a run, on a busy 2-core machine.
START_TIMEOUT, RUN_TIMEOUT = 90, 180


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The bundle, the events (a folder of 4 Parquet files) and the local engine's output."""
    folder = tmp_path_factory.mktemp("dask-faults")
    generated = folder / "generated.parquet"
    assert main(["generate", "--customers", str(CUSTOMERS), "--out", str(generated)]) == 0
    events = pd.read_parquet(generated)
    (folder / "events").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(events)), 4)):
        events.iloc[rows].to_parquet(folder / "events" / f"part-{i}.parquet", index=False)
    bundle = sample_bundle_path()
    local = folder / "local.parquet"
    assert (
        main(
            [
                "score",
                str(bundle),
                str(folder / "events"),
                "--out",
                str(local),
                "--chunk-events",
                str(CHUNK_EVENTS),
                "--quiet",
            ]
        )
        == 0
    )
    return {"bundle": bundle, "events": folder / "events", "local": _read(local)}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("customer_id").reset_index(drop=True)


def _env() -> dict:
    """The environment of the cluster and CLI processes: they import this cjml."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class Cluster:
    """A scheduler and workers on localhost, each started as its own process group
    (``dask scheduler``; ``dask worker``: a nanny and the worker process it restarts)."""

    def __init__(self, folder: Path, names=("w0", "w1")):
        self.folder = folder
        self.names = names
        self.procs: dict[str, subprocess.Popen] = {}
        self.client = None
        self.address = None

    def start(self) -> Cluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        info = self.folder / "scheduler.json"
        # Port 0: the system picks a free port, which the scheduler writes to its file.
        self._spawn(
            "scheduler",
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
                "--idle-timeout",
                "600s",
            ],
        )
        self.address = _wait(lambda: _address(info), "the scheduler to start", START_TIMEOUT, self)
        self.client = distributed.Client(self.address, timeout=START_TIMEOUT)
        return self.heal()

    def heal(self) -> Cluster:
        """Start again the workers killed for good, and wait until every worker is in."""
        for name in self.names:
            if name not in self.procs or self.procs[name].poll() is not None:
                # --preload: a worker imports cjml before it joins (restarted ones too),
                # so that a run's tasks start at once.
                self._spawn(
                    name,
                    [
                        "distributed.cli.dask_worker",
                        self.address,
                        "--name",
                        name,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--memory-limit",
                        "1GiB",
                        "--local-directory",
                        str(self.folder / name),
                        "--preload",
                        "cjml.scoring",
                        "--death-timeout",
                        "60s",
                    ],
                )
        _wait(
            lambda: sorted(self.workers()) == sorted(self.names),
            f"the workers {self.names} to join",
            START_TIMEOUT,
            self,
        )
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        with open(self.folder / f"{name}.log", "a") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=self.folder,
                start_new_session=True,
            )

    def workers(self) -> dict[str, str]:
        """Worker name -> address, of the workers the scheduler has now."""
        # asked afresh: scheduler_info() may return a cached reply without workers
        info = self.client.sync(self.client.scheduler.identity, n_workers=-1)["workers"]
        return {w["name"]: address for address, w in info.items()}

    def scoring_on(self) -> str | None:
        """A worker that has a chunk to score right now (its address), if any."""
        for address, keys in self.client.processing().items():
            if any(str(k).startswith("_score_frame") for k in keys):
                return address
        return None

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it started (a worker: its nanny and process)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.folder.glob("*.log"))
        )

    def stop(self) -> None:
        if self.client is not None:
            unhush = cjml._dask.hush_client()
            with contextlib.suppress(Exception):
                self.client.close(timeout=5)
            unhush()
        for name in self.procs:
            self.kill(name)


def _address(info: Path) -> str | None:
    try:
        return json.loads(info.read_text())["address"]
    except (OSError, ValueError, KeyError):  # not written yet, or half
        return None


def _wait(condition, what: str, timeout: float, cluster: Cluster, run=None):
    """Poll ``condition`` until it gives a true value; fail, saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if run is not None and run.proc.poll() is not None:
            pytest.fail(f"The run ended before {what}:\n{run.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"Waited {timeout} s for {what}.\n{cluster.logs()}")
        time.sleep(0.02)


@contextlib.contextmanager
def _started(folder: Path, names=("w0", "w1")):
    """A cluster, every process of which is killed at the end, whatever happened."""
    cluster = Cluster(folder, names)
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # this test's own client, when a scheduler is killed
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        logger.setLevel(level)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with _started(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture
def cluster(shared):
    """The module's cluster of two workers, whole again (the tests kill its workers)."""
    return shared.heal()


#: The runs started by the current test (killed at its end if still running).
_RUNS: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _reap_runs():
    yield
    while _RUNS:
        proc = _RUNS.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Run:
    """A ``cjml score --engine dask`` process, and its run folder."""

    def __init__(self, inputs: dict, cluster: Cluster, out: Path, *extra: str):
        self.cluster = cluster
        self.out = out
        self.folder = out.with_name(f".{out.name}.cjml-run")
        self.log = out.with_name(f"{out.name}.{len(list(out.parent.glob('*.log')))}.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-X",
                    "faulthandler",
                    "-m",
                    "cjml",
                    "score",
                    str(inputs["bundle"]),
                    str(inputs["events"]),
                    "--out",
                    str(out),
                    "--chunk-events",
                    str(CHUNK_EVENTS),
                    "--engine",
                    "dask",
                    "--scheduler",
                    cluster.address,
                    "--quiet",
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=out.parent,
            )
        _RUNS.append(self.proc)

    def chunks(self) -> int:
        """Chunks finished (written) so far."""
        return len(list((self.folder / "scored").glob("part-*.parquet")))

    def state(self) -> dict:
        return json.loads((self.folder / "state.json").read_text())

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def finish(self) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # -X faulthandler: every thread's stack
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            pytest.fail(
                f"The run did not finish in {RUN_TIMEOUT} s:\n{self.output()}\n"
                f"{self.cluster.logs()}"
            )
        return code, self.output()


def _kill_while_scoring(run: Run, cluster: Cluster) -> tuple[str, dict]:
    """Once a chunk is finished and a worker is scoring another: that worker (its name)
    and the run's state at that moment."""
    address = _wait(
        lambda: run.chunks() >= 1 and cluster.scoring_on(),
        "a chunk was finished and another being scored",
        RUN_TIMEOUT,
        cluster,
        run,
    )
    name = {a: n for n, a in cluster.workers().items()}[address]
    return name, run.state()


def test_a_worker_killed_mid_run_changes_nothing(inputs, cluster, tmp_path):
    run = Run(inputs, cluster, tmp_path / "scores.parquet")
    victim, state = _kill_while_scoring(run, cluster)
    cluster.kill(victim)  # the nanny with it: this worker is gone for good

    code, output = run.finish()
    assert code == 0, output
    assert len(state.get("chunks", {})) < state["n_parts"]  # it was mid-run
    assert list(cluster.workers()) == [n for n in ("w0", "w1") if n != victim]
    assert output.startswith("8,000 customers at") and output.count("\n") == 1, output
    pd.testing.assert_frame_equal(_read(run.out), inputs["local"])
    assert not run.folder.exists()


def test_workers_restarted_mid_run_get_the_bundle_again(inputs, cluster, tmp_path):
    # Both worker processes die at once; their nannies start new ones. The bundle was
    # scattered to the workers: with its last holder gone, every chunk not yet scored
    # was cancelled ("already forgotten", an internal error). It is now a node of the
    # graph, which the scheduler sends again.
    run = Run(inputs, cluster, tmp_path / "scores.parquet")
    pids = cluster.client.run(os.getpid)
    _, state = _kill_while_scoring(run, cluster)
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)

    code, output = run.finish()
    assert code == 0, output
    assert len(state.get("chunks", {})) < state["n_parts"]
    assert not set(cluster.client.run(os.getpid).values()) & set(pids.values())
    pd.testing.assert_frame_equal(_read(run.out), inputs["local"])


def test_the_scheduler_gone_mid_run_keeps_the_chunks_for_resume(inputs, cluster, tmp_path):
    out = tmp_path / "scores.parquet"
    with _started(tmp_path / "doomed", names=("w0",)) as doomed:
        run = Run(inputs, doomed, out)
        _kill_while_scoring(run, doomed)
        doomed.kill("scheduler")
        code, output = run.finish()
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1, output  # one line: no traceback of the client's reconnecting
    assert lines[0].startswith(
        f"error: Lost the connection to the Dask scheduler at {doomed.address}. Finished chunks: "
    ), output
    assert f"kept in {str(run.folder)!r}" in output and "with --resume" in output
    done = len(run.state()["chunks"])
    assert 1 <= done < run.state()["n_parts"]
    assert not out.exists()

    again = Run(inputs, cluster, out, "--resume")  # another cluster, at another address
    code, output = again.finish()
    assert code == 0, output
    assert f", {done} of " in output and " chunks resumed" in output
    pd.testing.assert_frame_equal(_read(out), inputs["local"])
    assert not run.folder.exists()


def test_workers_dying_on_one_task_is_one_line(inputs, tmp_path, monkeypatch):
    # After a task has killed allowed-failures + 1 workers in turn (usually out of memory),
    # the scheduler gives it up with KilledWorker. Raised here by the task itself: killing
    # workers for real while the shuffle restarts is the scheduler's business, not cjml's.
    real = cjml.scoring._dask_engine._score_frame

    def dying(frame, bundle, plan, schema):
        if frame["customer_id"].eq(1).any():
            raise distributed.KilledWorker(
                "_score_frame-0123456789abcdef0123456789abcdef",
                types.SimpleNamespace(address="tcp://10.1.2.3:4567"),
                3,
            )
        return real(frame, bundle, plan, schema)

    monkeypatch.setattr(cjml.scoring._dask_engine, "_score_frame", dying)
    out = tmp_path / "scores.parquet"
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(cjml.ClusterError) as caught,
    ):
        cjml.score(
            inputs["bundle"],
            inputs["events"],
            out=out,
            engine="dask",
            scheduler=client,
            chunk_events=CHUNK_EVENTS,
            progress=False,
        )
    folder = out.with_name(f".{out.name}.cjml-run")
    # no "chunks" yet when the task dies before any chunk has finished (it depends on timing)
    state = json.loads((folder / "state.json").read_text())
    assert str(caught.value) == (
        "4 Dask workers in turn died running one task of the run (scoring a chunk; the last "
        f"at tcp://10.1.2.3:4567): usually a worker out of memory. Finished chunks: "
        f"{len(state.get('chunks', {}))} of {state['n_parts']}, kept in {str(folder)!r}: give the "
        "workers more memory (dask worker --memory-limit) and rerun the same command with "
        "--resume (resume=True) to continue; --scheduler may name a new address."
    )
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_scheduler_at_the_address_is_one_line(inputs, tmp_path, capsys):
    import dask

    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "scores.parquet"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = main(
            [
                "score",
                str(inputs["bundle"]),
                str(inputs["events"]),
                "--out",
                str(out),
                "--engine",
                "dask",
                "--scheduler",
                address,
                "--quiet",
            ]
        )
    err = capsys.readouterr().err
    assert code == 1
    assert (
        err.startswith(f"error: No Dask scheduler answers at {address!r} (")
        and err.count("\n") == 1
    ), err
    assert "dask worker" in err and "--scheduler" in err
    assert not out.exists() and not list(tmp_path.glob(".*cjml-run"))


def test_a_cluster_without_workers_gives_up_instead_of_waiting_forever(
    inputs, tmp_path, monkeypatch
):
    monkeypatch.setattr(cjml._dask, "NO_WORKERS_TIMEOUT", 1.0)
    out = tmp_path / "scores.parquet"
    outcome: list = []

    def score():
        try:
            outcome.append(
                cjml.score(
                    inputs["bundle"],
                    inputs["events"],
                    out=out,
                    engine="dask",
                    scheduler=client,
                    progress=False,
                )
            )
        except Exception as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)

    with (
        distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        thread = threading.Thread(target=score, daemon=True)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive(), "score() still waits for a worker after 60 s"
    [exc] = outcome
    assert isinstance(exc, cjml.ClusterError) and isinstance(exc, ConnectionError)
    assert str(exc) == (
        f"The Dask scheduler at {cluster.scheduler_address} has had no worker "
        "for 1 s. No chunk had been scored, so nothing was kept: start workers "
        f"(dask worker {cluster.scheduler_address}) and run the command again."
    )
    assert not out.exists() and not list(tmp_path.glob(".*cjml-run"))
