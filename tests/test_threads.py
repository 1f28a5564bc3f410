"""Threads: ``--jobs`` / ``n_jobs=`` reach every model, and the default never oversubscribes.

No timing here (see ``benchmarks/models.py --load N`` for the measured effect).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import cjml
import cjml.models
from cjml.cli import main
from cjml.datasets import sample_path
from cjml.features._featurizer import JourneyFeaturizer
from cjml.models import ChurnModel, NextStageModel, _default_threads
from cjml.recommend import TouchpointRecommender
from tests._boosters import trained_params


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bundle trained by ``cjml train --jobs 1`` on the sample (the default is None).

    One thread: more would make this fixture many times slower on a busy test machine.
    """
    model = tmp_path_factory.mktemp("threads") / "sample.cjml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        code = main(
            [
                "train",
                str(sample_path()),
                "--out",
                str(model),
                "--n-cutoffs",
                "5",
                "--step",
                "15D",
                "--jobs",
                "1",
                "--quiet",
            ]
        )
    assert code == 0
    return model, cjml.ModelBundle.load(model)


def test_jobs_reaches_the_featurizer_both_models_and_the_effects(trained):
    _, bundle = trained
    for name in ("churn", "next_stage"):
        model = bundle.models[name]
        assert model.n_jobs == 1
        assert trained_params(model.booster_)["num_threads"] == "1"
    assert bundle.featurizer.n_jobs == 1
    assert bundle.models["touchpoint_effects"].n_jobs == 1
    assert bundle.metadata["params"]["churn"]["n_jobs"] == 1
    assert cjml.ChurnModel().n_jobs is None and JourneyFeaturizer().n_jobs is None


@pytest.fixture
def spies(monkeypatch):
    """The threads each LightGBM prediction and each feature pass ran with."""
    seen = {"models": [], "featurizer": []}
    raw_score = ChurnModel._raw_score
    featurizer_threads = JourneyFeaturizer._threads

    def model_spy(self, X):
        seen["models"].append((type(self).__name__, self._threads(len(X))))
        return raw_score(self, X)

    def featurizer_spy(self, windows):
        seen["featurizer"].append(featurizer_threads(self, windows))
        return seen["featurizer"][-1]

    monkeypatch.setattr(ChurnModel, "_raw_score", model_spy)
    monkeypatch.setattr(NextStageModel, "_raw_score", model_spy)
    monkeypatch.setattr(JourneyFeaturizer, "_threads", featurizer_spy)
    return seen


@pytest.mark.parametrize("command", ["evaluate", "recommend"])
def test_jobs_of_evaluate_and_recommend_reach_the_models_for_that_run(
    trained, spies, tmp_path, capsys, command
):
    model, _ = trained
    extra = ["--out", str(tmp_path / "actions.csv")] if command == "recommend" else []
    assert main([command, str(model), str(sample_path()), *extra, "--jobs", "2"]) == 0, (
        capsys.readouterr().err
    )
    assert {name for name, _ in spies["models"]} >= {"ChurnModel"}
    assert {threads for _, threads in spies["models"]} == {2}  # the bundle itself says 1
    assert set(spies["featurizer"]) == {2}


def test_n_jobs_of_the_api_leaves_the_callers_bundle_as_it_was(trained, spies):
    _, bundle = trained
    log = cjml.read_events(sample_path())
    cjml.evaluate(log, bundle, n_jobs=2)
    TouchpointRecommender.from_bundle(bundle, n_jobs=2).recommend(log, lookback="90D")
    assert {threads for _, threads in spies["models"]} == {2}
    assert bundle.models["churn"].n_jobs == 1 and bundle.featurizer.n_jobs == 1
    assert bundle.models["next_stage"].churn_model_ is bundle.models["churn"]
    assert bundle.models["touchpoint_effects"].n_jobs == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_n_jobs_that_is_not_a_positive_whole_number_is_refused_clearly(trained, bad):
    _, bundle = trained
    message = (
        r"n_jobs must be a whole number of threads, at least 1, or None for cjml's "
        r"default .*got " + repr(bad).replace(".", r"\.") + r"\. For every core pass "
        r"os\.cpu_count\(\)"
    )
    X, y = np.arange(40.0).reshape(-1, 1), np.arange(40) % 2
    with pytest.raises(ValueError, match=message):
        ChurnModel(n_jobs=bad).fit(X, y)
    log = cjml.read_events(sample_path())
    with pytest.raises(ValueError, match=message):
        cjml.train(log, n_jobs=bad)
    with pytest.raises(ValueError, match=message):
        cjml.evaluate(log, bundle, n_jobs=bad)
    with pytest.raises(ValueError, match=message):
        TouchpointRecommender.from_bundle(bundle, n_jobs=bad).recommend(log)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "expected a number >= 1, got 0"),
        ("-2", "expected a number >= 1, got -2"),
        ("two", "expected a whole number, got 'two'"),
    ],
)
def test_jobs_option_refuses_what_is_not_a_positive_whole_number(capsys, tmp_path, value, message):
    for command in (
        ["train", str(sample_path()), "--out", str(tmp_path / "m.cjml")],
        ["evaluate", "m.cjml", str(sample_path())],
        ["recommend", "m.cjml", str(sample_path()), "--out", "a.csv"],
    ):
        with pytest.raises(SystemExit) as usage:
            main([*command, "--jobs", value])
        assert usage.value.code == 2
        assert f"--jobs: {message}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("cores", "busy", "expected"),
    [
        (2, 0.0, 2),  # a quiet machine: both cores
        (2, 0.3, 1),  # a load that started a few seconds ago: one core is not free
        (2, 1.0, 1),
        (2, 5.8, 1),  # the loaded 2-core machine of issue 17
        (16, 3.5, 12),  # a large machine: the idle cores
        (8, None, 1),  # the load cannot be read: one thread
    ],
)
def test_default_threads_takes_only_idle_cores_from_50000_rows(monkeypatch, cores, busy, expected):
    monkeypatch.setattr(cjml.models, "_machine_load", lambda: (cores, busy))
    assert _default_threads(49_999) == 1
    assert _default_threads(50_000) == expected


def test_a_large_fit_on_a_busy_machine_runs_on_one_thread(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 3)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=50_000) > 0).astype(int)
    monkeypatch.setattr(cjml.models, "_machine_load", lambda: (2, 2.0))
    busy = ChurnModel(n_estimators=3, early_stopping_rounds=0).fit(X, y)
    assert busy.booster_.params["num_threads"] == 1
    monkeypatch.setattr(cjml.models, "_machine_load", lambda: (2, 0.0))
    quiet = ChurnModel(n_estimators=3, early_stopping_rounds=0).fit(X, y)
    assert quiet.booster_.params["num_threads"] == 2
    monkeypatch.setattr(cjml.models, "_machine_load", lambda: (2, 2.0))
    chosen = ChurnModel(n_estimators=3, early_stopping_rounds=0, n_jobs=2).fit(X, y)
    assert chosen.booster_.params["num_threads"] == 2  # the user's choice, whatever the load


def test_cpu_window_counts_what_the_other_processes_used_since_the_last_reading():
    from cjml.models import _CpuWindow

    window = _CpuWindow()
    assert window.update(100.0, busy=50.0, own=5.0) is None  # the first reading: a reference
    # 10 s later the machine was busy 20 core-seconds, 19 of them this process's own
    assert window.update(110.0, busy=70.0, own=24.0) == pytest.approx(0.1)
    assert window.update(110.2, busy=72.0, own=24.0) == pytest.approx(0.1)  # too short: kept
    # 2 s on (from 110.0): another process used a whole core, this one nothing
    assert window.update(112.0, busy=72.0, own=24.0) == pytest.approx(1.0)
    assert window.update(113.0, busy=73.0, own=26.0) == 0.0  # never below zero
    # in a forked child the process's CPU time starts again from zero: a new reference
    assert window.update(114.0, busy=74.0, own=0.1) is None
    assert window.update(115.0, busy=75.0, own=1.1) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("lately", "running", "own_running", "expected"),
    [
        (0.02, 2, 2, 0.02),  # only this process runs: the others leave both cores
        (0.0, 3, 1, 2.0),  # two others just started: the instant count sees them
        (1.4, 1, 1, 1.4),
    ],
)
def test_machine_load_is_the_others_use_lately_or_their_tasks_running_now(
    monkeypatch, lately, running, own_running, expected
):
    import io

    monkeypatch.setattr(cjml.models._CPU_WINDOW, "read", lambda: lately)
    monkeypatch.setattr(cjml.models, "_own_running", lambda: own_running)
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path == "/proc/loadavg":
            return io.StringIO(f"0.9 0.8 0.7 {running}/300 12345\n")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    cores, others = cjml.models._machine_load()
    assert others == pytest.approx(expected)


def test_a_core_the_others_barely_use_counts_as_idle(monkeypatch):
    monkeypatch.setattr(cjml.models, "_machine_load", lambda: (2, 0.1))
    assert _default_threads(50_000) == 2


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_own_running_counts_this_processs_running_threads():
    import threading

    from cjml.models import _own_running

    stop, started = threading.Event(), threading.Event()
    a = np.random.default_rng(0).random((400, 400))

    def crunch():  # numpy lets go of the GIL: the thread stays runnable (state R)
        started.set()
        while not stop.is_set():
            a @ a

    worker = threading.Thread(target=crunch)
    worker.start()
    try:
        started.wait()
        counts = [_own_running() for _ in range(50)]
    finally:
        stop.set()
        worker.join()
    assert max(counts) >= 2  # this thread and the one crunching


@pytest.mark.skipif(not os.path.isfile("/proc/stat"), reason="needs Linux's /proc")
def test_the_first_figure_waits_for_a_window_long_enough_to_count():
    from cjml.models import _CpuWindow

    window = _CpuWindow()
    assert window.read() is None  # the reference reading
    assert window.read() is not None  # at once after: waits the window out, then counts
