"""Speed and memory of training and predicting with the churn and next-stage models.

A training table of about 1M rows (customers x cutoffs) by the default feature
set (113 columns) is built once from the simulator and cached as Parquet in
``benchmarks/.cache``. Each case then runs in a fresh process with the table
loaded outside the timing:

- ``cjml train both``: ``ChurnModel`` + ``NextStageModel`` with their defaults
  (early stopping on the latest cutoff, calibration, refit on all rows);
- ``reference``: in the same run, plain ``lightgbm.LGBMClassifier()`` with its
  defaults (100 rounds, no early stopping, no calibration) for both targets;
- ``cjml predict both, compiled``: the same after ``model.compile()`` (treelite
  and tl2cgen; compiling is set up outside the timing), the features converted
  once and the churn risk passed to the next-stage model;
- ``cjml predict``: churn risk and next-stage probabilities of 1M rows with the
  models the training case fitted (the frame converted to float32 once with
  ``feature_matrix`` and the risk passed to the next-stage model, as scoring
  does), customers/s; beside it, the raw ``Booster.predict`` alone.

Goals (issue "models"): training both models on 1M customers x about 100
features under 3 minutes on 2 cores; prediction at least 200,000 customers/s.

``--load N`` measures threads instead (issue 17): N processes busy-loop for the
duration (a loaded machine), and both models are fitted with ``n_jobs=1``, with
every core and with the default, each in a fresh process, the three in turn;
the table prints the median fit time of each and its ratio to one thread.
``--load 0`` is the machine as it is.

    python benchmarks/models.py [--rows 1000000] [--repeats 3] [--predict-only]
    python benchmarks/models.py --load 2 [--rows 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import pandas as pd
from _measure import CACHE, repeat, run_case

GOAL_TRAIN_SECONDS = 180
GOAL_PREDICT_PER_SECOND = 200_000


def training_table(rows: int) -> Path:
    """Build (once) a training table of at least ``rows`` rows; returns its Parquet path."""
    path = CACHE / f"training_{rows}.parquet"
    if path.exists():
        return path
    import cjml
    from cjml.datasets import make_journeys

    CACHE.mkdir(exist_ok=True)
    # About 4.3 rows per customer with 8 cutoffs 15 days apart and a 90-day lookback.
    customers = int(rows / 4.3) + 1
    data = make_journeys(customers, n_days=240, random_state=0)
    log = cjml.read_events(data.events)
    del data
    cutoffs = cjml.rolling_cutoffs(log, n=8, step="15D")
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=cutoffs[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = cjml.make_training_set(log, cutoffs, featurizer=featurizer)
    table = table.iloc[:rows] if len(table) > rows else table
    table["next_stage"] = table["next_stage"].astype(str)
    table.to_parquet(path)
    return path


def _load(path: str):
    table = pd.read_parquet(path)
    names = [c for c in table.columns if c not in ("customer_id", "cutoff", "churn", "next_stage")]
    return table, names


def setup_train_cjml(path: str):
    return _load(path)


def train_cjml(state, path: str) -> dict:
    import cjml

    table, names = state
    categorical = [c for c in names if c.startswith("last_touchpoint_")]
    churn = cjml.ChurnModel(horizon="30D", categorical_features=categorical)
    churn.fit(table[names], table["churn"], cutoffs=table["cutoff"])
    stage = cjml.NextStageModel(horizon="30D", categorical_features=categorical)
    stage.fit(table[names], table["next_stage"], cutoffs=table["cutoff"])
    stage.attach_churn_model(churn)
    joblib.dump((churn, stage), _models_path(path))  # for the prediction cases
    return {
        "rows": len(table),
        "features": len(names),
        "churn_rounds": churn.best_iteration_,
        "stage_rounds": stage.best_iteration_,
    }


def setup_fit_threads(path: str, n_jobs):
    return _load(path)


def fit_threads(state, path: str, n_jobs) -> dict:
    """Both models with ``n_jobs`` (None: cjml's default); the threads LightGBM was given."""
    import cjml

    table, names = state
    categorical = [c for c in names if c.startswith("last_touchpoint_")]
    threads = []
    for model, target in ((cjml.ChurnModel, "churn"), (cjml.NextStageModel, "next_stage")):
        fitted = model(horizon="30D", categorical_features=categorical, n_jobs=n_jobs)
        fitted.fit(table[names], table[target], cutoffs=table["cutoff"])
        threads.append(int(fitted.booster_.params["num_threads"]))
    return {"rows": len(table), "threads": threads}


def busy_loops(n: int) -> list[subprocess.Popen]:
    """``n`` processes that spin on a core each until terminated: a competing load."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def measure_threads(path: str, rows: int, load: int, repeats: int) -> None:
    """Fit time at one thread, every core and the default, under ``load`` busy loops."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"threads under load: {rows:,} rows, {cores} cores, {load} busy-looping "
        f"process(es) for the duration, {repeats} runs each (both models)"
    )
    print(f"{'n_jobs':18} {'median s':>9} {'runs':>24} {'threads':>8} {'vs 1 thread':>12}")
    cases = (("1", 1), (f"{cores} (all cores)", cores), ("default", None))
    runs = {label: [] for label, _ in cases}
    loops = busy_loops(load)
    try:
        # in turn, so that a change in the machine's other load falls on every case alike
        for _ in range(repeats):
            for label, n_jobs in cases:
                runs[label].append(run_case("models", "fit_threads", path=path, n_jobs=n_jobs))
        one = statistics.median(r["seconds"] for r in runs["1"])
        for label, _ in cases:
            seconds = statistics.median(r["seconds"] for r in runs[label])
            threads = "/".join(str(t) for t in runs[label][-1]["result"]["threads"])
            every = str([round(r["seconds"], 2) for r in runs[label]])
            print(f"{label:18} {seconds:9.2f} {every:>24} {threads:>8} {seconds / one:11.2f}x")
    finally:
        for loop in loops:
            loop.terminate()
        for loop in loops:
            loop.wait()


def _models_path(path: str) -> Path:
    return Path(path).with_suffix(".models.cjml")


def setup_train_reference(path: str):
    return _load(path)


def train_reference(state, path: str) -> dict:
    import lightgbm as lgb

    table, names = state
    X = table[names].to_numpy("float32", na_value=float("nan"))
    lgb.LGBMClassifier(verbose=-1).fit(X, table["churn"].to_numpy())
    lgb.LGBMClassifier(verbose=-1).fit(X, table["next_stage"].to_numpy())
    return {"rows": len(table)}


def setup_predict(path: str):
    table, names = _load(path)
    churn, stage = joblib.load(_models_path(path))  # trained by the train_cjml case
    return table[names], churn, stage


def predict(state, path: str) -> dict:
    X, churn, stage = state
    matrix = churn.feature_matrix(X)  # converted once, for both models (as scoring does)
    risk = churn.predict_proba(matrix)[:, 1]
    stage.predict_proba(matrix, churn_risk=risk)  # P(dropped) is the churn risk: not twice
    return {"rows": len(X), "trees": churn.booster_.num_trees() + stage.booster_.num_trees()}


def setup_predict_churn(path: str):
    return setup_predict(path)


def predict_churn(state, path: str) -> dict:
    X, churn, _ = state
    churn.predict_proba(X)
    return {"rows": len(X), "trees": churn.booster_.num_trees()}


def setup_predict_compiled(path: str):
    X, churn, stage = setup_predict(path)
    churn.compile()
    stage.compile()
    return X, churn, stage


def predict_compiled(state, path: str) -> dict:
    X, churn, stage = state
    matrix = churn.feature_matrix(X)  # converted once, for both models
    risk = churn.predict_proba(matrix)[:, 1]
    stage.predict_proba(matrix, churn_risk=risk)
    return {"rows": len(X), "trees": churn.booster_.num_trees() + stage.booster_.num_trees()}


def setup_predict_reference(path: str):
    return setup_predict(path)


def predict_reference(state, path: str) -> dict:
    X, churn, stage = state
    matrix = X.to_numpy("float32")
    churn.booster_.predict(matrix, raw_score=True)
    stage.booster_.predict(matrix, raw_score=True)
    return {"rows": len(X), "trees": churn.booster_.num_trees() + stage.booster_.num_trees()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--predict-only",
        action="store_true",
        help="skip the training cases (reuses the models a full run saved)",
    )
    parser.add_argument(
        "--load",
        type=int,
        metavar="N",
        help="measure threads instead: fit time at 1 thread, every core and the "
        "default while N processes busy-loop",
    )
    args = parser.parse_args()
    path = str(training_table(args.rows))
    rows = len(pd.read_parquet(path, columns=["churn"]))
    if args.load is not None:
        measure_threads(path, rows, args.load, args.repeats)
        return
    print(f"training table: {rows:,} rows (customers x cutoffs) from {path}")
    print(f"{'case':28} {'median s':>9} {'runs':>24} {'peak MB':>8}  notes")
    for label, func in (
        ("cjml train both", "train_cjml"),
        ("reference LGBM defaults", "train_reference"),
        ("cjml predict both", "predict"),
        ("cjml predict churn only", "predict_churn"),
        ("cjml predict both, compiled", "predict_compiled"),
        ("reference Booster.predict", "predict_reference"),
    ):
        if args.predict_only and func.startswith("train"):
            continue
        r = repeat("models", func, args.repeats, path=path)
        note = ""
        if func == "train_cjml":
            res = r["result"]
            note = (
                f"{res['features']} features; rounds churn {res['churn_rounds']}, stage "
                f"{res['stage_rounds']}; goal < {GOAL_TRAIN_SECONDS} s: "
                f"{'met' if r['seconds'] < GOAL_TRAIN_SECONDS else 'NOT met'}"
            )
        if func.startswith("predict"):
            rate = rows / r["seconds"]
            note = f"{rate:,.0f} customers/s; {r['result'].get('trees', '')} trees"
            if func in ("predict", "predict_churn", "predict_compiled"):
                note += (
                    f"; goal >= {GOAL_PREDICT_PER_SECOND:,}/s: "
                    f"{'met' if rate >= GOAL_PREDICT_PER_SECOND else 'NOT met'}"
                )
        print(
            f"{label:28} {r['seconds']:9.2f} {str(r['all_seconds']):>24} "
            f"{r['peak_mb']:8.0f}  {note}",
            flush=True,
        )


if __name__ == "__main__":
    main()
