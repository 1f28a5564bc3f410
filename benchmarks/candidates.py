"""Speed and memory of deriving candidate rows with ``JourneyFeaturizer.with_event``.

The recommender scores "this customer, plus touchpoint t now" for about a dozen
candidate touchpoints per customer. ``with_event`` derives those rows from the
base feature rows, without the event log. Here: 12 candidates per customer
(the default map's 9 actionable touchpoints, plus purchase, support_ticket and
ticket_resolved, whose families have the most to update), on the shuffled
Parquet logs of ``events.py`` (about 116,000 customers for 1M events, 1.17M
customers for 10M events), at one cutoff, each case in a fresh process:

- ``transform (reference)``: ``featurizer.transform`` of the base log, with the
  log read and the featurizer fitted before the clock starts: the cost of one
  set of base rows;
- ``with_event, 12 calls``: the base rows computed before the clock starts,
  then one ``with_event`` call per candidate on all customers (each result is
  dropped after a checksum, as a scorer would drop it after predicting);
- ``with_event, stacked by B``: the base rows repeated once per candidate, in
  batches of B customers (12 B rows per call; ``cjml.recommend`` batches 50,000
  by default), the repetition (``X.iloc``) included in the time. Each batch
  holds two frames of 12 B rows (the repeated rows and the result): a process
  that must first grow by that much pays for fresh memory pages, which on a
  busy VM costs more than the derivation itself.

Rows/s counts derived rows (12 per customer) for ``with_event`` and base rows
for ``transform``. Peak MB is the process's peak RSS counted from the end of the
setup (Linux), so it is the peak while deriving, with the log (for
``transform``) or the base rows in memory.

At the smallest size, the candidate rows of 2,000 customers are checked against
``transform`` on their events with each candidate appended.

    python benchmarks/candidates.py [--events 1000000 10000000] [--repeats 3]
                                    [--cutoff YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from _measure import repeat, run_case
from features import _reset_peak, last_day

CANDIDATES = (
    "email",
    "live_chat",
    "free_trial",
    "consultation",
    "follow_up_call",
    "renewal_reminder",
    "personalised_offer",
    "loyalty_reward",
    "referral_invite",
    "purchase",
    "support_ticket",
    "ticket_resolved",
)
BATCHES = (50_000, 10_000)


# --------------------------------------------------------------------- the cases
def _read_and_fit(path: str):
    import cjml

    log = cjml.read_events(path)
    return log, cjml.JourneyFeaturizer().fit(log)


def setup_transform_reference(path: str, cutoff: str):
    state = _read_and_fit(path)
    _reset_peak()
    return state


def transform_reference(state, path: str, cutoff: str) -> dict:
    log, featurizer = state
    X = featurizer.transform(log, cutoff=cutoff)
    return {"rows": len(X), "customers": len(X)}


def _base_rows(path: str, cutoff: str, batch: int = 0):
    log, featurizer = _read_and_fit(path)
    X = featurizer.transform(log, cutoff=cutoff)
    del log  # with_event never needs the log
    _reset_peak()
    return featurizer, X


setup_with_event_calls = _base_rows
setup_with_event_stacked = _base_rows


def with_event_calls(state, path: str, cutoff: str) -> dict:
    featurizer, X = state
    rows, checksum = 0, 0.0
    for t in CANDIDATES:
        rows_t = featurizer.with_event(X, t)
        checksum += float(rows_t["n_events"].sum())
        rows += len(rows_t)
        del rows_t
    return {"rows": rows, "customers": len(X), "checksum": checksum}


def with_event_stacked(state, path: str, cutoff: str, batch: int) -> dict:
    featurizer, X = state
    k = len(CANDIDATES)
    candidates = np.asarray(CANDIDATES, dtype=object)
    rows, checksum = 0, 0.0
    for start in range(0, len(X), batch):
        stop = min(start + batch, len(X))
        take = np.repeat(np.arange(start, stop), k)  # each customer once per candidate
        rows_b = featurizer.with_event(X.iloc[take], np.tile(candidates, stop - start))
        checksum += float(rows_b["n_events"].sum())
        rows += len(rows_b)
        del rows_b
    return {"rows": rows, "customers": len(X), "checksum": checksum}


# --------------------------------------------------------------------- check and report
def cross_check(path: str, cutoff: str, n_customers: int = 2_000) -> None:
    """with_event against transform on the events with each candidate appended."""
    import cjml

    log, featurizer = _read_and_fit(path)
    cut = pd.Timestamp(cutoff, tz="UTC")
    X = featurizer.transform(log, cutoff=cut)
    X = X.iloc[np.random.default_rng(0).choice(len(X), n_customers, replace=False)]
    frame = log.frame[log.frame["customer_id"].isin(X.index)]
    stages = np.asarray(log.journey_map.stages, dtype=object)[X["current_stage"].astype(int)]
    cells = differ = 0
    for t in CANDIDATES:
        new = pd.DataFrame(
            {
                "customer_id": X.index,
                "timestamp": cut,
                "touchpoint": t,
                "stage": stages,
                "channel": log.journey_map[t].channel,
            }
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # exact duplicates, kept
            appended = cjml.read_events(
                pd.concat([frame, new], ignore_index=True), journey_map=log.journey_map
            )
        expected = featurizer.transform(appended, cutoff=cut).loc[X.index]
        got = featurizer.with_event(X, t)
        same = (got == expected) | (got.isna() & expected.isna())
        cells += same.size
        differ += int((~same).to_numpy().sum())
    print(
        f"cross-check: {n_customers:,} customers x {len(CANDIDATES)} candidates, "
        f"{X.shape[1]} columns: {differ} of {cells:,} cells differ from transform on the log "
        "with the event appended" + ("" if differ else " (bit-identical)")
    )


def _row(n: int, label: str, r: dict) -> str:
    res = r["result"]
    return (
        f"{n:11,} {label:32} {r['seconds']:8.2f} {res['rows'] / r['seconds']:12,.0f} "
        f"{r['peak_mb']:8.0f} {res['rows']:11,}  {r['all_seconds']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cutoff", default=None, help="YYYY-MM-DD (default: the log's last day)")
    args = parser.parse_args()
    paths = {n: run_case("events", "_log_path", n_events=n)["result"] for n in args.events}
    cutoffs = {n: args.cutoff or last_day(path) for n, path in paths.items()}
    print(
        f"{len(CANDIDATES)} candidate rows per customer at cutoff "
        f"{', '.join(sorted(set(cutoffs.values())))} (00:00 UTC); median of {args.repeats} "
        "runs in fresh processes"
    )
    print(
        f"{'customers':>11} {'case':32} {'seconds':>8} {'rows/s':>12} {'peak MB':>8} "
        f"{'rows':>11}  runs"
    )
    for n, path in paths.items():
        runs = [
            ("transform (reference)", "transform_reference", {}),
            ("with_event, 12 calls", "with_event_calls", {}),
            *[
                (f"with_event, stacked by {b:,}", "with_event_stacked", {"batch": b})
                for b in BATCHES
            ],
        ]
        cases = {
            label: repeat("candidates", func, args.repeats, path=path, cutoff=cutoffs[n], **kwargs)
            for label, func, kwargs in runs
        }
        customers = cases["transform (reference)"]["result"]["customers"]
        for label, r in cases.items():
            print(_row(customers, label, r))
        ref = cases["transform (reference)"]["seconds"]
        for label in [label for label, _, _ in runs[1:]]:
            s = cases[label]["seconds"]
            print(
                f"{'':11} {label}: {len(CANDIDATES)} candidates per customer in {s / ref:.2f}x "
                f"the time of one transform ({s / ref / len(CANDIDATES):.2f}x per candidate)"
            )
    n = min(paths)
    cross_check(paths[n], cutoffs[n])


if __name__ == "__main__":
    main()
