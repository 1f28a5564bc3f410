"""Speed of the journey simulator and its ground truth.

Goal (issue "Foundation"): 20,000 customers with ground truth in about a minute
on 2 cores. The reference, in the same run, is the simulation alone (no truth),
so the cost of the ground truth is visible.

    python benchmarks/simulator.py [--customers 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse

from _measure import repeat


def simulate(customers: int, truth: bool) -> dict:
    from cjml.datasets import make_journeys

    data = make_journeys(customers, truth_cutoffs=["2024-06-28"] if truth else None, random_state=0)
    return {"events": len(data.events), "truth_rows": len(data.truth)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for label, truth in (
        ("simulation only (reference)", False),
        ("simulation + ground truth", True),
    ):
        r = repeat("simulator", "simulate", args.repeats, customers=args.customers, truth=truth)
        rows.append((label, r))
    print(
        f"make_journeys, {args.customers:,} customers, 240 days; median of {args.repeats} runs "
        "in fresh processes"
    )
    print(f"{'case':32} {'seconds':>8} {'customers/s':>12} {'events':>10} {'peak MB':>8}  runs")
    for label, r in rows:
        print(
            f"{label:32} {r['seconds']:8.1f} {args.customers / r['seconds']:12,.0f} "
            f"{r['result']['events']:10,} {r['peak_mb']:8.0f}  {r['all_seconds']}"
        )
    ratio = rows[1][1]["seconds"] / rows[0][1]["seconds"]
    print(
        f"ground truth costs {ratio:.2f}x the simulation alone; goal: about 60 s in all "
        f"-> {'met' if rows[1][1]['seconds'] <= 75 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
