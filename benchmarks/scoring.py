"""Speed and memory of batch scoring (``cjml.score``), streaming against in memory.

The logs are the shuffled Parquet logs of ``events.py`` (``make_journeys(120_000,
random_state=1)`` tiled with fresh customer ids, about 8.5 events per
customer), built once and cached in ``benchmarks/.cache``. The bundle is
trained once with ``cjml.train`` defaults on ``make_journeys(45_000,
random_state=11)`` (no holdout) and cached too. Each case runs in a fresh
process (peak RSS is that process's high-water mark):

- ``score risk + stage``: ``cjml.score(bundle, path, out=...parquet,
  drivers=False, recommend=False)``: the partition pass, then chunk by chunk
  validation, features, churn risk, band and next stage, then the merge into
  the output file;
- ``score + drivers``: the same with ``top_drivers`` (the churn model's path
  attributions, in words);
- ``score + recommend``: every column, recommendations included (reported as
  not available when ``cjml.recommend`` cannot score yet);
- ``score risk + stage, compiled``: ``compile=True`` (treelite; the ~20 s
  compilation is inside the time);
- ``in memory (reference)``: ``read_events`` of the whole file, ``transform``
  at the same cutoff, the population's churn risk and next-stage
  probabilities, nothing written: what scoring costs without streaming.

From 500,000 events the partition pass and the chunks run on one thread per
core (the default ``n_jobs``). ``peak MB`` is the summed RSS of the whole
process tree (sampled every 50 ms; one process since scoring moved from worker
processes to threads); ``cpu s`` is the process's CPU time plus its finished
children's.

customers/s counts every customer of the input (each gets one output row);
scored/s only the customers in the models' population (an event within the
bundle's 90-day lookback), the ones whose models are run. ``cpu s`` is the
process's CPU time (all threads): on a shared machine the wall time can be
far above it.

Goals (issue 6): at least 100,000 customers/s for risk and next stage, 20,000/s
with recommendations; peak RSS under 3 GB at 10M events, and no more at 30M.

    python benchmarks/scoring.py [--events 1000000 10000000] [--repeats 1]
                                 [--cases risk drivers recommend compiled reference]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from _measure import CACHE, repeat

GOAL_RISK = 100_000
GOAL_RECOMMEND = 20_000
GOAL_PEAK_MB = 3 * 1024
CASES = {
    "risk": ("score risk + stage", {"drivers": False, "recommend": False}),
    "drivers": ("score + drivers", {"drivers": True, "recommend": False}),
    "recommend": ("score + recommend", {"drivers": True, "recommend": True}),
    "compiled": (
        "score risk + stage, compiled",
        {"drivers": False, "recommend": False, "compile": True},
    ),
}


def bundle_path() -> str:
    """Train (once) and cache the bundle the cases score with."""
    path = CACHE / "scoring_bundle.cjml"
    if path.exists():
        return str(path)
    import cjml
    from cjml.datasets import make_journeys

    CACHE.mkdir(exist_ok=True)
    events = make_journeys(45_000, random_state=11).events
    bundle, _ = cjml.train(events, holdout=False)
    bundle.save(path)
    return str(path)


def _out(tag: str) -> Path:
    folder = CACHE / f"scoring_out_{tag}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder / "scores.parquet"


def _cpu() -> float:
    """CPU seconds of this process, all threads (the machine may be shared: see the notes)."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def score_case(bundle: str, events: str, tag: str, options: dict) -> dict:
    import cjml

    cpu = _cpu()
    out = _out(tag)
    try:
        summary = cjml.score(bundle, events, out=out, **options)
    except Exception as exc:  # noqa: BLE001 - reported in the table, e.g. recommender not ready
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"}
    result = {
        "customers": summary.n_customers,
        "scored": summary.n_scored,
        "chunks": summary.n_chunks,
        "cpu": _cpu() - cpu,
    }
    shutil.rmtree(out.parent, ignore_errors=True)
    return result


def reference_case(bundle: str, events: str) -> dict:
    import numpy as np
    import pandas as pd

    import cjml

    cpu = _cpu()
    b = cjml.ModelBundle.load(bundle)
    log = cjml.read_events(events, journey_map=b.journey_map)
    cutoff = pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC")
    X = b.featurizer.transform(log, cutoff)
    lookback = pd.Timedelta(b.metadata["lookback"]).value
    last = np.maximum.reduceat(log.timestamps_ns, log.offsets[:-1])
    X = X[last > cutoff.value - lookback]
    risk = b.models["churn"].predict_proba(X)[:, 1]
    b.models["next_stage"].predict_proba(X, churn_risk=risk)
    return {"customers": log.n_customers, "scored": len(X), "cpu": _cpu() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["risk", "drivers", "recommend", "reference"],
        choices=[*CASES, "reference"],
    )
    args = parser.parse_args()
    from events import _log_path  # the same cached logs as events.py

    bundle = bundle_path()
    print(
        f"cjml.score on shuffled Parquet logs; median of {args.repeats} run(s) in fresh "
        "processes; output Parquet"
    )
    print(
        f"{'events':>11} {'case':30} {'seconds':>8} {'cpu s':>7} {'customers/s':>12} "
        f"{'scored/s':>10} {'peak MB':>8}  notes"
    )
    for n in args.events:
        path = _log_path(n)
        for case in args.cases:
            if case == "reference":
                label = "in memory (reference)"
                r = repeat("scoring", "reference_case", args.repeats, bundle=bundle, events=path)
            else:
                label, options = CASES[case]
                r = repeat(
                    "scoring",
                    "score_case",
                    args.repeats,
                    bundle=bundle,
                    events=path,
                    tag=f"{case}_{n}",
                    options=options,
                )
            res = r["result"]
            if "error" in res:
                print(
                    f"{n:11,} {label:30} {'-':>8} {'-':>7} {'-':>12} {'-':>10} {'-':>8}  "
                    f"not available: {res['error']}"
                )
                continue
            rate = res["customers"] / r["seconds"]
            notes = [f"{res['customers']:,} customers, {res['scored']:,} scored"]
            if "chunks" in res:
                notes.append(f"{res['chunks']} chunks")
            if case in ("risk", "compiled"):
                notes.append(
                    f"goal >= {GOAL_RISK:,}/s: {'met' if rate >= GOAL_RISK else 'NOT met'}"
                )
            if case == "recommend":
                notes.append(
                    f"goal >= {GOAL_RECOMMEND:,}/s: "
                    f"{'met' if rate >= GOAL_RECOMMEND else 'NOT met'}"
                )
            peak = r["tree_peak_mb"]
            if case != "reference":
                notes.append(f"peak < 3 GB: {'met' if peak < GOAL_PEAK_MB else 'NOT met'}")
            print(
                f"{n:11,} {label:30} {r['seconds']:8.1f} {res['cpu']:7.1f} {rate:12,.0f} "
                f"{res['scored'] / r['seconds']:10,.0f} {peak:8.0f}  "
                f"{'; '.join(notes)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
