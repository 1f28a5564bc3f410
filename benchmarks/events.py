"""Speed and memory of reading and validating an event log.

``cjml.read_events`` on a Parquet log of N events (canonicalise: validate every
column, derive codes, sort by customer then time), beside two references
computed in the same run, with no validation:

- pyarrow read + sort: ``pyarrow.parquet.read_table``, then the table sorted by
  (customer_id, timestamp) (``pyarrow.compute.sort_indices``, then ``take``);
- pandas read + sort: ``pandas.read_parquet``, then a stable ``sort_values``.

Runs are interleaved (cjml, pyarrow, pandas, cjml, ...), each in a fresh
process, so a busy spell of a shared machine falls on every case alike.

Goals (issue 21): ``read_events`` of 10M events at most half of 10.3 s (the
figure before the issue) on 2 cores, and never more than 1.3x pyarrow's read
plus sort. On a busy machine the seconds say little; ``--before DIR`` adds the
case ``read_events before``: the same call with cjml imported from DIR (e.g.
``git archive 0340982 cjml | tar -x -C DIR``), so that old and new are
compared in the same run.

    python benchmarks/events.py [--events 1000000 10000000] [--repeats 3] [--before DIR]

``--json N`` times instead a JSON Lines export of the first N events of the 1M log
(nested properties as Segment writes them, ids alternately numbers and text, absent
keys for missing values): ``read_events`` of it, of the same events as Parquet, and
the pandas reference ``read_json(lines=True)`` + ``json_normalize`` + a stable sort.

    python benchmarks/events.py --json 200000 [--repeats 3]

``--csv`` times the same logs written as CSV files (ISO 8601 times with an offset, as
pandas' ``to_csv`` writes them) against pyarrow's CSV reader (every core) plus the same sort,
and pandas' ``read_csv`` plus the sort; the goal is the same 1.3x of pyarrow's.

    python benchmarks/events.py --csv [--text-ids] [--events 1000000] [--repeats 3] [--before DIR]

``--text-ids`` writes each customer id as a UUID (text ids, as CRMs export them).

``--excel N`` times the first N events of the 1M log as an Excel workbook (needs openpyxl):
``read_events`` of it against ``pandas.read_excel`` of the same sheet (which checks nothing).

    python benchmarks/events.py --excel 50000 [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import CACHE, run_case

BEFORE_SECONDS = 10.3  # read_events of 10M events before issue 21, this machine
GOAL_EVENTS = 10_000_000
GOAL_VS_PYARROW = 1.3


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


# Each case imports its libraries in its setup, which is not timed: the clock covers the
# reading and the sorting only.
def setup_cjml_read(path: str) -> None:
    import cjml.events  # noqa: F401


def cjml_read(state: None, path: str) -> dict:
    import cjml

    log = cjml.read_events(path)
    return {"events": log.n_events, "customers": log.n_customers, "cjml": cjml.__file__}


def setup_pyarrow_reference(path: str) -> None:
    import pyarrow.compute  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def _sorted_by_arrow(table) -> dict:
    """The references' sort: by (customer_id, timestamp), as read_events orders a log."""
    import pyarrow.compute as pc

    order = pc.sort_indices(
        table, sort_keys=[("customer_id", "ascending"), ("timestamp", "ascending")]
    )
    table = table.take(order)
    return {"events": table.num_rows, "customers": len(pc.unique(table["customer_id"]))}


def pyarrow_reference(state: None, path: str) -> dict:
    import pyarrow.parquet as pq

    return _sorted_by_arrow(pq.read_table(path))


def setup_pandas_reference(path: str) -> None:
    import pyarrow.parquet  # noqa: F401  (pandas reads Parquet through it)


def pandas_reference(state: None, path: str) -> dict:
    frame = pd.read_parquet(path).sort_values(["customer_id", "timestamp"], kind="stable")
    return {"events": len(frame), "customers": int(frame["customer_id"].nunique())}


def _csv_path(n_events: int, text_ids: bool = False) -> str:
    """The Parquet log of ``n_events`` events as a CSV file; built once and cached.

    ``text_ids``: each customer id written as a UUID (as CRMs and analytics tools export
    them), the same customers and events otherwise."""
    path = CACHE / f"events_{n_events}{'_uuid' if text_ids else ''}.csv"
    if not path.exists():
        frame = pd.read_parquet(_log_path(n_events))
        if text_ids:
            frame["customer_id"] = _uuids(frame["customer_id"].to_numpy())
        frame.to_csv(path, index=False)
    return str(path)


def _uuids(ids: np.ndarray) -> np.ndarray:
    """A UUID-shaped text per distinct whole-number id (random draws of a fixed seed)."""
    import uuid

    distinct, codes = np.unique(ids, return_inverse=True)
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**63, size=(len(distinct), 2), dtype=np.int64).astype(np.uint64)
    text = np.array([str(uuid.UUID(int=(int(a) << 64) | int(b))) for a, b in words], dtype=object)
    return text[codes]


def setup_pyarrow_csv_reference(path: str) -> None:
    import pyarrow.compute  # noqa: F401
    import pyarrow.csv  # noqa: F401


def pyarrow_csv_reference(state: None, path: str) -> dict:
    import pyarrow.csv as pacsv

    return _sorted_by_arrow(pacsv.read_csv(path))


def setup_pandas_csv_reference(path: str) -> None:
    pass


def pandas_csv_reference(state: None, path: str) -> dict:
    frame = pd.read_csv(path, parse_dates=["timestamp"])
    frame = frame.sort_values(["customer_id", "timestamp"], kind="stable")
    return {"events": len(frame), "customers": int(frame["customer_id"].nunique())}


JSON_COLUMNS = {
    "touchpoint": "event",
    "stage": "properties.stage",
    "channel": "context.channel",
    "satisfaction": "properties.survey.csat",
    "amount": "properties.revenue",
}


def _json_paths(n_events: int) -> tuple[str, str]:
    """The first ``n_events`` events of the 1M log as a JSON Lines export and as Parquet;
    built once and cached."""
    import json

    jsonl = CACHE / f"export_{n_events}.jsonl"
    parquet = CACHE / f"export_{n_events}.parquet"
    if jsonl.exists() and parquet.exists():
        return str(jsonl), str(parquet)
    frame = pd.read_parquet(_log_path(1_000_000)).iloc[:n_events]
    frame = frame[["customer_id", "timestamp", "touchpoint", "stage", "channel"]].assign(
        satisfaction=frame["satisfaction"], amount=frame["amount"]
    )
    with open(jsonl, "w", encoding="utf-8") as out:
        for i, row in enumerate(frame.itertuples(index=False)):
            props: dict = {"stage": row.stage}
            if row.satisfaction == row.satisfaction:
                props["survey"] = {"csat": row.satisfaction}
            if row.amount == row.amount:
                props["revenue"] = row.amount
            obj = {
                "customer_id": int(row.customer_id) if i % 2 else str(row.customer_id),
                "timestamp": row.timestamp.isoformat(),
                "event": row.touchpoint,
                "context": {"channel": row.channel},
                "properties": props,
            }
            out.write(json.dumps(obj) + "\n")
    frame.to_parquet(parquet, index=False)
    return str(jsonl), str(parquet)


def cjml_read_json(state: None, path: str) -> dict:
    import cjml

    log = cjml.read_events(path, columns=JSON_COLUMNS)
    return {"events": log.n_events, "customers": log.n_customers, "cjml": cjml.__file__}


def setup_cjml_read_json(path: str) -> None:
    import cjml.events  # noqa: F401


def pandas_json_reference(path: str) -> dict:
    import json

    with open(path, encoding="utf-8") as lines:
        frame = pd.json_normalize([json.loads(line) for line in lines])
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame = frame.sort_values(["customer_id", "timestamp"], kind="stable")
    return {"events": len(frame), "customers": int(frame["customer_id"].nunique())}


def pandas_read_json_reference(path: str) -> dict:
    frame = pd.read_json(path, lines=True, dtype=False)
    return {"events": len(frame), "customers": int(frame["customer_id"].astype(str).nunique())}


def _file_cases(cases: dict[str, tuple[str, str]], n_events: int, repeats: int, title: str):
    """Run ``cases`` (label: (function, path)) in turn, print them; the median seconds."""
    runs: dict[str, list] = {label: [] for label in cases}
    for i in range(repeats):
        order = list(cases.items())
        for label, (func, path) in order if i % 2 == 0 else order[::-1]:
            runs[label].append(run_case("events", func, path=path))
    print(
        f"reading {n_events:,} events {title}; median of {repeats} interleaved runs in fresh "
        "processes"
    )
    print(f"{'case':38} {'seconds':>8} {'events/s':>12} {'peak MB':>8}  runs")
    medians = {}
    for label, rs in runs.items():
        medians[label] = statistics.median(r["seconds"] for r in rs)
        print(
            f"{label:38} {medians[label]:8.2f} {n_events / medians[label]:12,.0f} "
            f"{max(r['peak_mb'] for r in rs):8.0f}  {[round(r['seconds'], 2) for r in rs]}"
        )
    return medians


def json_cases(n_events: int, repeats: int) -> None:
    """Time reading a JSON Lines export against the same events as Parquet and pandas."""
    jsonl, parquet = _json_paths(n_events)
    cases = {
        "cjml.read_events, JSON Lines": ("cjml_read_json", jsonl),
        "cjml.read_events, Parquet": ("cjml_read", parquet),
        "json + json_normalize + sort (ref.)": ("pandas_json_reference", jsonl),
        "pandas read_json, flat (ref.)": ("pandas_read_json_reference", jsonl),
    }
    medians = _file_cases(cases, n_events, repeats, "as a JSON Lines export (nested keys)")
    ours = medians["cjml.read_events, JSON Lines"]
    for label in list(cases)[1:]:
        print(f"{'ratio cjml JSON Lines / ' + label:60} {ours / medians[label]:6.2f}x")


def _excel_path(n_events: int) -> str:
    """The first ``n_events`` events of the 1M log as a workbook; built once and cached."""
    path = CACHE / f"book_{n_events}.xlsx"
    if not path.exists():
        frame = pd.read_parquet(_log_path(1_000_000)).iloc[:n_events]
        frame = frame.assign(timestamp=frame["timestamp"].dt.tz_localize(None))
        frame.to_excel(path, index=False)
    return str(path)


def setup_cjml_read_excel(path: str) -> None:
    import openpyxl  # noqa: F401

    import cjml.events  # noqa: F401


def cjml_read_excel(state: None, path: str) -> dict:
    import cjml

    log = cjml.read_events(path)
    return {"events": log.n_events, "customers": log.n_customers}


def setup_pandas_excel_reference(path: str) -> None:
    import openpyxl  # noqa: F401


def pandas_excel_reference(state: None, path: str) -> dict:
    frame = pd.read_excel(path)
    return {"events": len(frame), "customers": int(frame["customer_id"].nunique())}


def excel_cases(n_events: int, repeats: int) -> None:
    """Time reading a workbook against pandas' reader of the same sheet."""
    book = _excel_path(n_events)
    cases = {
        "cjml.read_events, Excel": ("cjml_read_excel", book),
        "pandas read_excel (ref.)": ("pandas_excel_reference", book),
    }
    medians = _file_cases(cases, n_events, repeats, "from an Excel workbook")
    ratio = medians["cjml.read_events, Excel"] / medians["pandas read_excel (ref.)"]
    print(f"{'ratio cjml / pandas read_excel':60} {ratio:6.2f}x")


CASES = {
    "cjml.read_events": "cjml_read",
    "pyarrow read+sort (reference)": "pyarrow_reference",
    "pandas read+sort (reference)": "pandas_reference",
}


BEFORE = "read_events before"


CSV_CASES = {
    "cjml.read_events": "cjml_read",
    "pyarrow read+sort (reference)": "pyarrow_csv_reference",
    "pandas read+sort (reference)": "pandas_csv_reference",
}


def interleaved(
    repeats: int, before: str | None = None, cases_run: dict = CASES, **kwargs
) -> dict[str, dict]:
    """Median seconds and largest peak of each case, runs taken in turn.

    Every other repeat takes the cases in reverse order (A B C D, D C B A, ...), so
    that no case always runs in the same slot: on this machine the run right after
    another 10M-event read was measured 10-20% slower (caches, memory returned late).
    """
    cases = {**cases_run, **({BEFORE: "cjml_read"} if before else {})}
    runs: dict[str, list] = {label: [] for label in cases}
    for i in range(repeats):
        order = list(cases.items())
        for label, func in order if i % 2 == 0 else order[::-1]:
            if label == BEFORE:  # the child imports cjml from the old copy
                saved = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = str(before)
                # ... from a folder without a cjml package: ``python -c`` puts its working
                # folder ahead of PYTHONPATH, so a run from the checkout timed the new cjml
                here = os.getcwd()
                os.chdir(tempfile.gettempdir())
                try:
                    run = run_case("events", func, **kwargs)
                finally:
                    os.chdir(here)
                    if saved is None:
                        os.environ.pop("PYTHONPATH")
                    else:
                        os.environ["PYTHONPATH"] = saved
                imported = Path(run["result"]["cjml"]).resolve()
                if not imported.is_relative_to(Path(before).resolve()):
                    raise RuntimeError(f"'{BEFORE}' imported cjml from {imported}, not {before}")
                runs[label].append(run)
                continue
            runs[label].append(run_case("events", func, **kwargs))
    return {
        label: {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "peak_mb": max(r["peak_mb"] for r in rs),
            "result": rs[-1]["result"],
            "all_seconds": [round(r["seconds"], 2) for r in rs],
        }
        for label, rs in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--before",
        default=None,
        help="a folder holding cjml as it was before, to time in the same run",
    )
    parser.add_argument(
        "--json",
        type=int,
        default=None,
        metavar="N",
        help="time reading a JSON Lines export of N events instead",
    )
    parser.add_argument(
        "--excel",
        type=int,
        default=None,
        metavar="N",
        help="time reading an Excel workbook of N events instead",
    )
    parser.add_argument(
        "--csv", action="store_true", help="time the logs written as CSV files instead"
    )
    parser.add_argument(
        "--text-ids",
        action="store_true",
        help="with --csv: the customer ids written as UUIDs (text ids)",
    )
    args = parser.parse_args()
    if args.excel:
        excel_cases(args.excel, args.repeats)
        return
    if args.json:
        json_cases(args.json, args.repeats)
        return
    kind = ("CSV files" if args.csv else "Parquet logs") + (
        " with UUID customer ids" if args.text_ids else ""
    )
    if args.text_ids and not args.csv:
        parser.error("--text-ids goes with --csv")
    print(
        f"read_events on shuffled {kind}; median of {args.repeats} interleaved runs "
        "in fresh processes"
    )
    print(f"{'events':>11} {'case':30} {'seconds':>8} {'events/s':>12} {'peak MB':>8}  runs")
    for n in args.events:
        path = _csv_path(n, text_ids=args.text_ids) if args.csv else _log_path(n)
        cases = interleaved(
            args.repeats, before=args.before, cases_run=CSV_CASES if args.csv else CASES, path=path
        )
        for label, r in cases.items():
            print(
                f"{n:11,} {label:30} {r['seconds']:8.2f} {n / r['seconds']:12,.0f} "
                f"{r['peak_mb']:8.0f}  {r['all_seconds']}"
            )
        ours = cases["cjml.read_events"]
        for label, name in (
            ("pyarrow read+sort (reference)", "pyarrow"),
            ("pandas read+sort (reference)", "pandas"),
        ):
            ref = cases[label]
            print(
                f"{'':11} {'ratio cjml / ' + name:30} {ours['seconds'] / ref['seconds']:8.2f}x "
                f"{'':12} {ours['peak_mb'] / ref['peak_mb']:8.2f}x"
            )
        vs_arrow = ours["seconds"] / cases["pyarrow read+sort (reference)"]["seconds"]
        print(
            f"{'':11} goal, at most {GOAL_VS_PYARROW}x pyarrow read+sort: "
            f"{'met' if vs_arrow <= GOAL_VS_PYARROW else 'NOT met'} ({vs_arrow:.2f}x)"
        )
        if BEFORE in cases:
            speedup = ours["seconds"] / cases[BEFORE]["seconds"]
            print(
                f"{'':11} {'ratio cjml / cjml before':30} {speedup:8.2f}x "
                f"{'':12} {ours['peak_mb'] / cases[BEFORE]['peak_mb']:8.2f}x"
            )
        if n == GOAL_EVENTS and not args.csv:
            half = BEFORE_SECONDS / 2
            print(
                f"{'':11} goal, at most half of {BEFORE_SECONDS} s = {half:.2f} s: "
                f"{'met' if ours['seconds'] <= half else 'NOT met'} "
                f"({ours['seconds']:.2f} s)"
            )
            if BEFORE in cases:
                speedup = ours["seconds"] / cases[BEFORE]["seconds"]
                print(
                    f"{'':11} goal, at most half of read_events before, same run: "
                    f"{'met' if speedup <= 0.5 else 'NOT met'} ({speedup:.2f}x)"
                )


if __name__ == "__main__":
    main()
