"""Speed and memory of reading and validating an event log.

``cjml.read_events`` on a Parquet log of N events (canonicalise: validate every
column, derive codes, sort by customer then time), beside a reference computed
in the same run: plain pandas reading the same file and sorting it by
(customer_id, timestamp), with no validation.

    python benchmarks/events.py [--events 1000000 10000000] [--repeats 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _measure import CACHE, repeat


def _log_path(n_events: int) -> str:
    """A Parquet log of about ``n_events`` events, shuffled; built once and cached."""
    path = CACHE / f"events_{n_events}.parquet"
    if path.exists():
        return str(path)
    from cjml.datasets import make_journeys

    CACHE.mkdir(exist_ok=True)
    base = make_journeys(120_000, random_state=1).events  # ~1M events
    copies = int(np.ceil(n_events / len(base)))
    parts = []
    for k in range(copies):  # tile with fresh customer ids to reach the size
        part = base.copy()
        part["customer_id"] += k * 1_000_000
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True).iloc[:n_events]
    # real exports are unsorted
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame.to_parquet(path, index=False)
    return str(path)


def cjml_read(path: str) -> dict:
    import cjml

    log = cjml.read_events(path)
    return {"events": log.n_events, "customers": log.n_customers}


def pandas_reference(path: str) -> dict:
    frame = pd.read_parquet(path).sort_values(["customer_id", "timestamp"], kind="stable")
    return {"events": len(frame), "customers": int(frame["customer_id"].nunique())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"read_events on shuffled Parquet logs; median of {args.repeats} runs in fresh processes")
    print(f"{'events':>11} {'case':28} {'seconds':>8} {'events/s':>12} {'peak MB':>8}")
    for n in args.events:
        path = _log_path(n)
        ours = repeat("events", "cjml_read", args.repeats, path=path)
        ref = repeat("events", "pandas_reference", args.repeats, path=path)
        for label, r in (("cjml.read_events", ours), ("pandas read+sort (reference)", ref)):
            print(f"{n:11,} {label:28} {r['seconds']:8.2f} {n / r['seconds']:12,.0f} "
                  f"{r['peak_mb']:8.0f}")
        print(f"{'':11} {'ratio cjml / reference':28} {ours['seconds'] / ref['seconds']:8.2f}x "
              f"{'':12} {ours['peak_mb'] / ref['peak_mb']:8.2f}x")


if __name__ == "__main__":
    main()
