"""Speed and memory of drafting a journey map from a log of thousands of touchpoints.

Web-analytics exports often name events by page or URL, so a first `cjml draft-map`
meets thousands of touchpoints. The log: ``--events`` page views (default 2M) of
``--customers`` (100,000) over a year, on 5,000 pages with Zipf-like popularity
(exponent 1.1), no stage column; built once and cached. Each case runs in a fresh
process:

- ``draft_journey_map``: ``cjml.draft_journey_map(path, columns={"touchpoint": "page"})``
  (reading included): the journey order of the touchpoints, the stages, the outbound
  and purchase checks;
- ``reference``: reading the same file and each customer's first view of each page
  (``groupby(...).min()``), the least any journey order needs.

``--before DIR`` adds the same call with cjml imported from DIR (e.g. ``git archive
COMMIT cjml | tar -x -C DIR``), in the same run.

    python benchmarks/draft_map.py [--events 2000000] [--customers 100000] [--repeats 3]
                                   [--before DIR]
"""

from __future__ import annotations

import argparse

from _measure import CACHE, repeat


def log_path(events: int, customers: int) -> str:
    """Build (once) and cache the page-view log."""
    path = CACHE / f"pages_{events}_{customers}.parquet"
    if path.exists():
        return str(path)
    import numpy as np
    import pandas as pd

    CACHE.mkdir(exist_ok=True)
    rng = np.random.default_rng(6)
    popularity = 1.0 / np.arange(1, 5001) ** 1.1
    pages = np.array([f"/p/{i}" for i in range(5000)])
    pd.DataFrame(
        {
            "customer_id": rng.integers(0, customers, events),
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.uniform(0, 365, events), unit="D"),
            "page": pages[rng.choice(5000, events, p=popularity / popularity.sum())],
        }
    ).to_parquet(path)
    return str(path)


def draft_case(path: str, before: str | None = None) -> dict:
    import sys
    import warnings

    if before:
        sys.path.insert(0, before)
    import cjml

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "5,000 touchpoints" advice
        drafted = cjml.draft_journey_map(path, columns={"touchpoint": "page"})
    return {"touchpoints": len(drafted.touchpoints), "stages": list(drafted.stages)}


def reference_case(path: str, before: str | None = None) -> dict:
    import pandas as pd

    frame = pd.read_parquet(path)
    first = frame.groupby(["customer_id", "page"], observed=True)["timestamp"].min()
    return {"pairs": len(first)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", metavar="DIR")
    args = parser.parse_args()
    path = log_path(args.events, args.customers)
    cases = [("draft_journey_map", "draft_case", None), ("reference", "reference_case", None)]
    if args.before:
        cases.append(("draft_journey_map before", "draft_case", args.before))
    print(
        f"draft_journey_map of {args.events:,} page views, {args.customers:,} customers, "
        f"5,000 pages; median of {args.repeats} run(s) in fresh processes"
    )
    print(f"{'case':28} {'seconds':>8} {'peak MB':>8}  notes")
    timed = {}
    for label, func, before in cases:
        r = repeat("draft_map", func, args.repeats, path=path, before=before)
        timed[label] = r
        notes = f"{r['result']}; runs {r['all_seconds']}"
        print(f"{label:28} {r['seconds']:8.2f} {r['peak_mb']:8.0f}  {notes}")
    ref = timed["reference"]
    for label in timed:
        if label != "reference":
            ratio = timed[label]["seconds"] / ref["seconds"]
            memory = timed[label]["peak_mb"] / ref["peak_mb"]
            print(f"{label + ' / reference':40} {ratio:6.2f}x time, {memory:6.2f}x peak MB")


if __name__ == "__main__":
    main()
