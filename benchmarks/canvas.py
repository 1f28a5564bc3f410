"""Time of the journey-map canvas: every persona's canvas of a 1M-event log, with a bundle.

The log is ``make_journeys`` with enough customers for about ``--events``
events (about 8.3 per customer), simulated once and cached as Parquet under
``--cache`` (default ``/tmp/cjml-bench-canvas``); the bundle is trained once
on its first ``--train-customers`` customers (not timed) and cached beside
it. Reading the log is setup, not timed. Cases, each in a fresh process:

- ``map, no bundle`` (reference): ``journey_map(log, by="segment")`` and
  the canvas of all customers and of every persona: the tables alone.
- ``map + canvases, bundle`` (the goal): ``journey_map(log, bundle,
  by="segment")`` then ``report.canvas(p)`` for all customers and every
  persona: one featurization at the cutoff shared by the effects and the
  churn attributions, the value model fed from it too.
- ``old path`` (reference): what ``journey_map`` with a bundle cost before
  the canvas: ``estimate_effects`` and ``score`` (no drivers, no
  recommendations), each featurizing the log, then the journey map from
  them.

Goal (issue 20): the canvas for 1M events in under 10 s on 2 cores.

    python benchmarks/canvas.py [--events 1000000] [--repeats 3] [--train-customers 20000]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _measure import repeat

GOAL_SECONDS = 10.0
EVENTS_PER_CUSTOMER = 8.3


def log_path(cache: str, n_events: int) -> str:
    """Simulate (once) and cache a log of about ``n_events`` events."""
    path = Path(cache) / f"canvas_{n_events}.parquet"
    if not path.exists():
        from cjml.datasets import make_journeys

        path.parent.mkdir(parents=True, exist_ok=True)
        events = make_journeys(int(n_events / EVENTS_PER_CUSTOMER), random_state=20).events
        tmp = path.with_suffix(".tmp")
        events.to_parquet(tmp)
        os.replace(tmp, path)
    return str(path)


def bundle_path(cache: str, events: str, customers: int) -> str:
    """Train (once) a bundle on the first ``customers`` customers of the log."""
    path = Path(cache) / f"canvas_bundle_{customers}.cjml"
    if not path.exists():
        import pandas as pd

        import cjml

        frame = pd.read_parquet(events)
        keep = frame["customer_id"].isin(frame["customer_id"].unique()[:customers])
        bundle, _ = cjml.train(frame[keep], holdout=False, n_cutoffs=6, step="15D", n_jobs=1)
        bundle.save(path)
    return str(path)


def setup_canvas_case(events: str, bundle: str | None) -> dict:
    import cjml

    b = cjml.ModelBundle.load(bundle) if bundle else None
    log = cjml.read_events(events, journey_map=b.journey_map if b else None)
    return {"log": log, "bundle": b}


def canvas_case(state: dict, events: str, bundle: str | None) -> dict:
    import cjml

    report = cjml.journey_map(state["log"], state["bundle"], by="segment")
    canvases = [report.canvas(p) for p in [None, *report.personas]]
    return {
        "events": state["log"].n_events,
        "customers": state["log"].n_customers,
        "canvases": len(canvases),
        "pains_ranked_by": canvases[0].info["pains_ranked_by"],
        "opportunities": int(sum(len(c.opportunities) for c in canvases)),
    }


def setup_old_path_case(events: str, bundle: str) -> dict:
    return setup_canvas_case(events, bundle)


def old_path_case(state: dict, events: str, bundle: str) -> dict:
    """journey_map with a bundle as it was: effects and scores, each featurizing."""
    import cjml
    from cjml.labels import _data_end, to_timedelta
    from cjml.recommend import estimate_effects

    log, b = state["log"], state["bundle"]
    end = _data_end(log, None)
    lookback = to_timedelta(b.metadata["lookback"], "lookback")
    effects = estimate_effects(b, log, cutoff=end, lookback=lookback)
    scores = cjml.score(b, log, cutoff=end, drivers=False, recommend=False)
    horizon = b.metadata["horizon"]
    cjml.journey_map(log, by="segment", effects=effects, scores=scores, horizon=horizon)
    return {"events": log.n_events, "customers": log.n_customers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-customers", type=int, default=20_000)
    parser.add_argument("--cache", default="/tmp/cjml-bench-canvas")
    parser.add_argument("--cases", nargs="+", default=["reference", "canvas", "old"])
    args = parser.parse_args()
    events = log_path(args.cache, args.events)
    bundle = bundle_path(args.cache, events, args.train_customers)
    print(
        f"journey_map + every persona's canvas; median of {args.repeats} run(s) in fresh "
        "processes; reading the log not timed"
    )
    print(f"{'case':28} {'seconds':>8} {'events/s':>11} {'peak MB':>8}  runs / notes")
    cases: dict[str, tuple[str, str, dict[str, str | None]]] = {
        "reference": ("map, no bundle (reference)", "canvas_case", {"bundle": None}),
        "canvas": ("map + canvases, bundle", "canvas_case", {"bundle": bundle}),
        "old": ("old path (reference)", "old_path_case", {"bundle": bundle}),
    }
    for key in args.cases:
        label, func, kwargs = cases[key]
        r = repeat("canvas", func, args.repeats, events=events, **kwargs)
        res = r["result"]
        notes = [str(r["all_seconds"]), f"{res['events']:,} events, {res['customers']:,} customers"]
        if key == "canvas":
            notes.append(f"{res['canvases']} canvases, pains by {res['pains_ranked_by']}")
            ok = r["seconds"] < GOAL_SECONDS
            notes.append(f"goal < {GOAL_SECONDS:.0f} s: {'met' if ok else 'NOT met'}")
        print(
            f"{label:28} {r['seconds']:8.1f} {res['events'] / r['seconds']:11,.0f} "
            f"{r['tree_peak_mb']:8.0f}  {'; '.join(notes)}"
        )


if __name__ == "__main__":
    main()
