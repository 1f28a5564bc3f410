"""Time to churn: the survival curve against Kaplan-Meier, anchored or not, and what it costs.

    python benchmarks/survival.py [--worlds default_simulator,small_shop,contact_fatigue]
                                  [--customers 4000] [--follow-up 90] [--repeats 3]
                                  [--held-out] [--no-timing]

**Quality.** For each world (cjml's simulator and development worlds of the
scenario suite; held-out worlds only with ``--held-out``, run once at the end
of the work, never tuned on): the evaluation cutoff is ``--follow-up`` days
before the data ends, so every customer is followed up that long. ``cjml.train``
(defaults, one thread, no recommender, ``holdout=False``) sees only the events
up to that cutoff (the log is cut there): its churn model is trained on
cutoffs whose 30-day windows end by then, and its survival curve on the same
rows, followed up to the cutoff. On the population at the cutoff (the churn
model's), against their real next events:

- integrated Brier score (IPCW) over days 1..90 and the Brier score at 7, 30
  and 90 days, of the curve, of the curve anchored to the churn model's risk
  at 30 days, and of one Kaplan-Meier curve (the training rows') for everyone;
- Uno's concordance truncated at 7, 30 and 90 days, also of the churn
  model's 30-day risk used as the ranking at every horizon;
- the mean absolute difference between the curve's 30-day point and the
  churn model's risk.

**Cost.** ``cjml.train`` on the sample (``cjml.datasets.load_sample()``, one
thread, cjml's defaults) with and without the survival curve, interleaved,
``--repeats`` times each: medians of the wall-clock and of the CPU time (one
thread, so the CPU time is the work done, less disturbed by a busy machine) and
the overhead; and, timed inside the same runs, the survival steps' own seconds
(fit and held-out report) against the rest of ``train``: the steadiest figure
on a shared machine.

Figures (issue 22; 4,000 customers per world, seed 0, 90 days of follow-up;
integrated Brier score over days 1-90, lower is better; Uno's C at 30 days):

=====================  =======  ========  ============  ======  ========  ========
world                  IBS      anchored  Kaplan-Meier  C 30d   churn C   MAD 30d
=====================  =======  ========  ============  ======  ========  ========
default_simulator      0.0872   0.0870    0.2232        0.8568  0.8573    0.027
small_shop             0.1633   0.1613    0.2327        0.6861  0.6913    0.035
contact_fatigue        0.1299   0.1292    0.2240        0.7084  0.7080    0.030
fixed_lifecycle (h)    0.1645   0.1624    0.2161        0.6222  0.6241    0.073
silent_leavers (h)     0.1355   0.1342    0.2206        0.6799  0.6833    0.031
=====================  =======  ========  ============  ======  ========  ========

(h): held-out worlds, run once after the settings were chosen. The anchored
curve has the lower IBS on every world, so scoring anchors. The curve ranks
like the churn risk (its C equals the churn model's within 0.005): its gain is
the time profile, not the order. At 90 days, the end of the follow-up, the
curve is better than Kaplan-Meier's on every world (fixed_lifecycle 0.138,
anchored 0.132, against 0.207). (Before 4 December 2026 the Brier score left
out the customers censored at exactly the day scored, so at the follow-up's
last day it scored the returns alone: fixed_lifecycle's 90-day figures read
0.025, 0.038 and 0.011, and every integrated score was 0.0003-0.001 lower.)

Cost on the sample: the survival steps take 4.0 s beside 38.4 s for the rest
of ``train`` (+10.7%, median of 3; wall time +5.6%, CPU time +7.6%).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEVELOPMENT = ("default_simulator", "small_shop", "contact_fatigue")
HELD_OUT = ("fixed_lifecycle", "silent_leavers")


def measure_world(name: str, n_customers: int, follow_up: int, seed: int = 0) -> dict:
    """Train on the events up to ``follow_up`` days before the data's end; score the curves."""
    import importlib

    import cjml
    from cjml.labels import _data_end
    from cjml.survival import survival_report, survival_targets

    # the suite's cached worlds (imported by name: its own types are not this file's check)
    data = importlib.import_module("_suite").load_world(name, n_customers, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = cjml.read_events(data.events, journey_map=data.journey_map)
        cutoff = (_data_end(full, None) - pd.Timedelta(days=follow_up)).floor("D")
        events = data.events[pd.to_datetime(data.events["timestamp"], utc=True) <= cutoff]
        log = cjml.read_events(events, journey_map=data.journey_map)
        start = time.perf_counter()
        bundle, _ = cjml.train(
            log, holdout=False, recommender=False, n_jobs=1, n_cutoffs=_cutoffs_that_fit(log)
        )
        seconds = time.perf_counter() - start
        test = cjml.make_training_set(full, [cutoff], featurizer=bundle.featurizer)
    targets = survival_targets(full, [cutoff], max_days=follow_up).reindex(
        pd.MultiIndex.from_frame(test[["cutoff", "customer_id"]])
    )
    X = test[bundle.feature_names]
    model = bundle.models["survival"]
    churn = bundle.models["churn"].predict_proba(X)[:, 1]
    report = survival_report(
        model,
        X,
        targets["days_to_next"].to_numpy(),
        targets["observed"].to_numpy(dtype=bool),
        churn_risk=churn,
        horizon="30D",
        horizons=[d for d in (7, 30, 90) if d <= min(model.max_days_, follow_up)],
    )
    at_30 = model.predict_risk(X, 30)["churn_risk_30d"].to_numpy()
    row = {
        "world": name,
        "customers": len(X),
        "max_days": model.max_days_,
        "train_s": seconds,
        "mad_30d_vs_churn": float(np.abs(at_30 - churn).mean()),
    }
    for curve, metrics in report["curves"].items():
        if "ibs" in metrics:
            row[f"{curve}:ibs"] = metrics["ibs"]
            for h, v in metrics["brier"].items():
                row[f"{curve}:brier_{h}d"] = v
        for h, v in metrics["concordance"].items():
            row[f"{curve}:c_{h}d"] = v
    return row


def _cutoffs_that_fit(log, horizon_days: int = 30, step_days: int = 7, most: int = 20) -> int:
    from cjml.labels import _data_end, _first_event

    room = (_data_end(log, None) - _first_event(log)).days - horizon_days
    return int(max(2, min(most, room // step_days - 1)))


def measure_cost(repeats: int) -> dict:
    """Median seconds of ``cjml.train`` on the sample without and with the survival curve."""
    import cjml
    from cjml.datasets import load_sample

    events = load_sample()
    assert isinstance(events, pd.DataFrame)
    log = cjml.read_events(events)
    import cjml.training

    seconds: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    parts: list[float] = []  # the survival steps' own seconds inside each train(survival=True)
    originals = {f: getattr(cjml.training, f) for f in ("_fit_survival", "_survival_section")}

    def timed(func):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                parts[-1] += time.perf_counter() - start

        return run

    for name, func in originals.items():
        setattr(cjml.training, name, timed(func))
    try:
        for _ in range(repeats):
            for survival in (False, True):
                parts.append(0.0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    cjml.train(log, n_jobs=1, survival=survival)
                    seconds[survival].append(time.perf_counter() - start)
                    cpu[survival].append(time.process_time() - start_cpu)
                if not survival:
                    parts.pop()
    finally:
        for name, func in originals.items():
            setattr(cjml.training, name, func)
    share = [p / (t - p) for p, t in zip(parts, seconds[True], strict=True)]
    out: dict[str, dict] = {
        "steps": {
            "survival_s": statistics.median(parts),
            "rest_s": statistics.median(t - p for p, t in zip(parts, seconds[True], strict=True)),
            "overhead": statistics.median(share),
        }
    }
    for name, runs in (("wall", seconds), ("cpu", cpu)):
        without, with_ = statistics.median(runs[False]), statistics.median(runs[True])
        out[name] = {
            "without_s": without,
            "with_s": with_,
            "overhead": with_ / without - 1,
            "runs": {str(k): [round(v, 1) for v in r] for k, r in runs.items()},
        }
    return out


def _table(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows).set_index("world")
    parts = []
    for block in ("ibs", "brier", "c_"):
        cols = [c for c in frame.columns if c.split(":")[-1].startswith(block)]
        if cols:
            sub = frame[cols].T
            parts.append(sub.to_string(float_format=lambda v: f"{v:.4f}"))
    head = frame[["customers", "max_days", "train_s", "mad_30d_vs_churn"]]
    return head.to_string(float_format=lambda v: f"{v:.3f}") + "\n\n" + "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default=",".join(DEVELOPMENT))
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--follow-up", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--held-out", action="store_true", help="also the held-out worlds (once, at the end)"
    )
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    worlds = [w for w in args.worlds.split(",") if w]
    rows = []
    for world in worlds:
        rows.append(measure_world(world, args.customers, args.follow_up))
        print(f"{world}: done", flush=True)
    if rows:
        print("\ndevelopment worlds\n" + _table(rows), flush=True)
    if args.held_out:
        held = [measure_world(w, args.customers, args.follow_up) for w in HELD_OUT]
        print("\nheld-out worlds (reported once, never tuned on)\n" + _table(held), flush=True)
    if not args.no_timing:
        costs = measure_cost(args.repeats)
        steps = costs.pop("steps")
        print(
            f"\ncjml.train on the sample with the survival curve, median of {args.repeats}: "
            f"its steps (fit, held-out report) took {steps['survival_s']:.1f} s beside "
            f"{steps['rest_s']:.1f} s for the rest ({steps['overhead']:+.1%})"
        )
        for name, cost in costs.items():
            print(
                f"\ncjml.train on the sample, median {name} time of {args.repeats}: "
                f"{cost['without_s']:.1f} s without the survival curve, {cost['with_s']:.1f} s "
                f"with it ({cost['overhead']:+.1%}); runs {cost['runs']}"
            )


if __name__ == "__main__":
    main()
