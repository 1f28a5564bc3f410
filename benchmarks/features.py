"""Speed and memory of building the default feature set from an event log.

``cjml.JourneyFeaturizer`` (all seven families, 113 features on the default
journey map) on a shuffled Parquet log of N events, at one cutoff, in three
cases, each run in a fresh process:

- ``cjml transform``: ``transform`` on an already read ``EventLog`` with an
  already fitted featurizer (reading and fitting are set up outside the timing);
- ``cjml end to end``: ``read_events`` + ``fit`` + ``transform``, all timed;
- ``DuckDB``: the reference, in the same run: one SQL query over the same
  Parquet file computing a comparable core feature set (60 columns, named as
  cjml names them and defined as cjml's family docstrings define them) per
  customer at the same cutoff, fetched into a pandas DataFrame, on both cores.

And the command line, end to end, each timed from the start of a new Python
process to its exit, the features file written:

- ``cjml features CLI``: ``python -m cjml features LOG --cutoff DATE --out
  features.parquet --force`` (all its features);
- ``CLI, core families``: the same with ``--families`` the six families the
  DuckDB query takes its columns from (``CORE_FAMILIES``; 100 columns, the
  query's 60 among them);
- ``DuckDB CLI-like``: the same query in a new ``python`` process, written with
  ``COPY (query) TO 'features.parquet'``: what a DuckDB command line does, the
  fair reference for the command (both start a process and write a file).

Peak MB of these is the child process's peak RSS. cjml's modules are compiled to
bytecode before the first run (``compile_bytecode``), as an installed package's are.

Peak MB is the process's peak RSS; for ``cjml transform`` it is counted from
the end of the setup (Linux), so it is the peak while transforming, with the
log and the featurizer in memory; reading the log peaks higher, as
``cjml end to end`` shows.

For the smallest size, DuckDB's values are compared with cjml's on every
shared column (joined on ``customer_id``), so the two compute the same thing.

Goals: (issue "features") the featurizer at least as fast as DuckDB at 10M events
on 2 cores, with peak memory under 4 GB; (issue 21) ``cjml features`` on the
command line, end to end, no slower than the DuckDB CLI-like query at 10M events
and at most 1.5x it at 1M.

    python benchmarks/features.py [--events 1000000 10000000] [--repeats 3]
                                  [--cutoff YYYY-MM-DD]

The cutoff defaults to the log's last day (midnight UTC starting it, so that
day's events fall after the cutoff and the point-in-time selection is at work).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import run_case

NS_PER_DAY = 86_400 * 10**9
GOAL_EVENTS = 10_000_000
GOAL_PEAK_MB = 4096
CLI_GOAL = {1_000_000: 1.5, 10_000_000: 1.0}  # cjml features CLI / DuckDB CLI-like, at most
CROSS_CHECK_SHOWN = (
    "n_events",
    "events_last_30d",
    "count_email",
    "days_since_last_event",
    "current_stage",
    "purchases",
    "total_amount",
    "csat_mean",
)


# --------------------------------------------------------------------- the cases
def _shape(frame: pd.DataFrame) -> dict:
    return {"rows": int(len(frame)), "features": int(frame.shape[1])}


def _read_and_fit(path: str):
    import cjml

    log = cjml.read_events(path)
    return log, cjml.JourneyFeaturizer().fit(log)


def _reset_peak() -> None:
    """Restart the peak-RSS count here (Linux), so it covers what follows only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # elsewhere the peak includes reading the log
        pass


def setup_cjml_transform(path: str, cutoff: str):
    state = _read_and_fit(path)
    _reset_peak()
    return state


def cjml_transform(state, path: str, cutoff: str) -> dict:
    log, featurizer = state
    return _shape(featurizer.transform(log, cutoff=cutoff))


def cjml_end_to_end(path: str, cutoff: str) -> dict:
    log, featurizer = _read_and_fit(path)
    return _shape(featurizer.transform(log, cutoff=cutoff))


def duckdb_reference(path: str, cutoff: str) -> dict:
    return _shape(duckdb_features(path, cutoff).set_index("customer_id"))


def _child_run(argv: list[str], out: Path, before: str | None = None) -> dict:
    """Run a command in a new process to its end; its output file must exist.

    With ``before``, cjml is imported from that folder: it goes first on PYTHONPATH and
    the child runs in the temporary folder, where no ``cjml`` folder shadows it.
    """
    out.unlink(missing_ok=True)
    env, cwd = None, None
    if before:
        env = {**os.environ, "PYTHONPATH": str(Path(before).resolve())}
        cwd = tempfile.gettempdir()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    if not out.exists():
        raise RuntimeError(f"{argv[:4]} wrote no {out}")
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(out).metadata
    out.unlink()
    # the children's peak RSS (KB on Linux); this runner process started no other child
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "rows": int(meta.num_rows),
        "features": int(meta.num_columns) - 1,
        "child_peak_mb": peak,
    }


def compile_bytecode(before: str | None) -> list[Path]:
    """Write the bytecode of the cjml packages the command-line cases run, once.

    An installed package has it: pip compiles a package's modules as it installs
    them, and an editable install writes them at its first import. A machine with
    ``PYTHONDONTWRITEBYTECODE`` set (as the one these figures come from) would
    otherwise compile cjml from source in every timed process: 0.09 s of each
    ``cjml features`` run (1M events: 1.09 s against 1.00 s), which DuckDB's
    compiled package never pays. ``compileall`` writes bytecode whatever that
    variable says; the ``__pycache__`` folders it makes are ignored by git.
    """
    import compileall

    import cjml

    folders = [Path(cjml.__file__).parent]
    if before:
        folders.append(Path(before) / "cjml")
    for folder in folders:
        if not compileall.compile_dir(str(folder), quiet=1):
            raise RuntimeError(f"Could not compile the modules of {folder} to bytecode.")
    return folders


def _out_file(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"cjml_bench_{name}.parquet"


#: The families DuckDB's query takes its 60 columns from (``feature_sql``): with
#: ``--families`` these, ``cjml features`` computes 100 columns, those 60 among them.
CORE_FAMILIES = ("activity", "touchpoints", "stages", "experience", "support", "value")


def cjml_cli(
    path: str, cutoff: str, before: str | None = None, families: tuple[str, ...] = ()
) -> dict:
    name = "cli_before" if before else "cli_core" if families else "cli"
    out = _out_file(name)
    chosen = ["--families", ",".join(families)] if families else []
    argv = [sys.executable, "-m", "cjml", "features", path, "--cutoff", cutoff, *chosen]
    return _child_run([*argv, "--out", str(out), "--force"], out, before)


def cjml_cli_core(path: str, cutoff: str) -> dict:
    """``cjml features --families`` the families DuckDB's query covers (``CORE_FAMILIES``)."""
    return cjml_cli(path, cutoff, families=CORE_FAMILIES)


def cjml_cli_before(path: str, cutoff: str, before: str) -> dict:
    """``cjml features`` as it was: cjml imported from the folder ``before``."""
    return cjml_cli(path, cutoff, before)


def duckdb_cli(path: str, cutoff: str) -> dict:
    out = _out_file("duckdb")
    sql = f"COPY ({feature_sql(path, cutoff)}) TO {_text(str(out))} (FORMAT parquet)"
    return _child_run([sys.executable, "-c", f"import duckdb; duckdb.sql({sql!r})"], out)


# --------------------------------------------------------------------- the reference
def _text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _text_list(values) -> str:
    return ", ".join(_text(v) for v in values)


def feature_sql(path: str, cutoff: str) -> str:
    """One DuckDB query: cjml's core features per customer, from the Parquet file.

    Built from the default journey map; definitions follow the cjml family
    docstrings: only events at or before the cutoff, ages in fractional days,
    a window of w days is ``(cutoff - w, cutoff]``. Columns are named as cjml
    names them. Active days come from a ``SELECT DISTINCT`` CTE rather than
    ``count(DISTINCT ...)`` in the main aggregate, about twice as slow here.
    """
    from cjml import JourneyMap

    jm = JourneyMap.default()
    cut = pd.Timestamp(cutoff, tz="UTC").value
    tps = jm.touchpoint_names
    code = {t: i for i, t in enumerate(tps)}  # touchpoints compared as small integers
    buy, ticket, solved = (
        f"tp = {code[t]}" for t in ("purchase", "support_ticket", "ticket_resolved")
    )
    actionable = ", ".join(str(code[t]) for t in jm.actionable_touchpoints)
    aggregates = {  # over the visible events of each customer
        "n_events": "count(*)",
        "days_since_first_event": "max(age)",
        "days_since_last_event": "min(age)",
        **{f"events_last_{w}d": f"count(*) FILTER (WHERE age < {w})" for w in (7, 30, 90)},
        "events_30_to_60d": "count(*) FILTER (WHERE age >= 30 AND age < 60)",
        **{f"count_{t}": f"count(*) FILTER (WHERE tp = {code[t]})" for t in tps},
        "count_other": "count(*) FILTER (WHERE tp < 0)",
        **{
            f"days_since_{t}": f"min(age) FILTER (WHERE tp = {code[t]})"
            for t in jm.actionable_touchpoints
        },
        "contacts_last_7d": f"count(*) FILTER (WHERE age < 7 AND tp IN ({actionable}))",
        "current_stage": "arg_max(stage_code, ns)",
        "furthest_stage": "max(stage_code)",
        "csat_count": "count(satisfaction)",
        "csat_mean": "avg(satisfaction)",
        "csat_min": "min(satisfaction)",
        "csat_last": "arg_max(satisfaction, ns) FILTER (WHERE satisfaction IS NOT NULL)",
        "nps_last": "arg_max(nps, ns) FILTER (WHERE nps IS NOT NULL)",
        "nps_mean": "avg(nps)",
        "ces_mean": "avg(effort)",
        "ces_max": "max(effort)",
        "tickets_opened": f"count(*) FILTER (WHERE {ticket})",
        "tickets_resolved": f"count(*) FILTER (WHERE {solved})",
        "tickets_last_30d": f"count(*) FILTER (WHERE {ticket} AND age < 30)",
        "days_since_last_ticket": f"min(age) FILTER (WHERE {ticket})",
        "purchases": f"count(*) FILTER (WHERE {buy})",
        "purchases_last_90d": f"count(*) FILTER (WHERE {buy} AND age < 90)",
        "total_amount": f"coalesce(sum(amount) FILTER (WHERE {buy}), 0)",  # missing amount = 0
        "amount_last_90d": f"coalesce(sum(amount) FILTER (WHERE {buy} AND age < 90), 0)",
        "max_amount": f"max(coalesce(amount, 0)) FILTER (WHERE {buy})",
        "days_since_last_purchase": f"min(age) FILTER (WHERE {buy})",
    }
    derived = {  # from the aggregates; every other aggregate is output as it is
        "events_trend_30d": "events_last_30d - events_30_to_60d",
        "mean_days_between_events": "(days_since_first_event - days_since_last_event) "
        "/ nullif(n_events - 1, 0)",
        "events_per_week": "7.0 * n_events / greatest(days_since_first_event, 1.0)",
        "distinct_touchpoints": " + ".join(f"(count_{t} > 0)::INT" for t in (*tps, "other")),
        "tickets_unresolved": "greatest(tickets_opened - tickets_resolved, 0)",
        "mean_amount": "total_amount / nullif(purchases, 0)",
    }
    kept = [f'"{name}"' for name in aggregates if name != "events_30_to_60d"]
    return f"""
WITH ev AS (
    SELECT customer_id, satisfaction, nps, effort, amount,
           epoch_ns(timestamp) AS ns,
           ({cut} - epoch_ns(timestamp)) / {float(NS_PER_DAY)} AS age,
           coalesce(list_position([{_text_list(tps)}], touchpoint), 0) - 1 AS tp,
           list_position([{_text_list(jm.stages)}], stage) - 1 AS stage_code
    FROM read_parquet({_text(path)})
    WHERE epoch_ns(timestamp) <= {cut}
),
days AS (
    SELECT customer_id, count(*) AS active_days
    FROM (SELECT DISTINCT customer_id, ns // {NS_PER_DAY} FROM ev)
    GROUP BY customer_id
),
agg AS (
    SELECT customer_id,
           {_columns(aggregates)}
    FROM ev
    GROUP BY customer_id
)
SELECT customer_id, active_days, {", ".join(kept)},
       {_columns(derived)}
FROM agg JOIN days USING (customer_id)
"""


def _columns(expressions: dict[str, str]) -> str:
    return ",\n           ".join(f'{expr} AS "{name}"' for name, expr in expressions.items())


def duckdb_features(path: str, cutoff: str) -> pd.DataFrame:
    """Run :func:`feature_sql` with DuckDB's defaults (all cores) into pandas."""
    import duckdb

    with duckdb.connect() as con:
        return con.sql(feature_sql(path, cutoff)).df()


# --------------------------------------------------------------------- checks and report
def last_day(path: str) -> str:
    """The date (UTC) of the log's last event, from the Parquet statistics."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("timestamp")
    latest = max(meta.row_group(g).column(col).statistics.max for g in range(meta.num_row_groups))
    return pd.Timestamp(latest).tz_convert("UTC").date().isoformat()


def cross_check(path: str, cutoff: str) -> None:
    """Compare DuckDB's and cjml's values on every shared column, same customers."""
    import cjml

    ref = duckdb_features(path, cutoff).set_index("customer_id").sort_index()
    log = cjml.read_events(path)
    ours = cjml.JourneyFeaturizer().fit(log).transform(log, cutoff=cutoff)
    shared = [c for c in ref.columns if c in ours.columns]
    same_rows = ours.index.equals(ref.index)
    ours = ours.loc[ref.index, shared]
    ref = ref[shared].astype(np.float64)
    gap = (ours - ref).abs()
    both_nan = ours.isna() & ref.isna()
    one_nan = (ours.isna() ^ ref.isna()).sum()
    worst = gap.max().fillna(0.0)
    print(
        f"cross-check at {len(log):,} events: {len(ref):,} customers, same customers: "
        f"{same_rows}; {len(shared)} shared columns"
    )
    for c in CROSS_CHECK_SHOWN:
        print(f"  {c:26} max |cjml - DuckDB| = {worst[c]:.3g}   NaN in one only: {one_nan[c]}")
    agree = gap.le(1e-9 * (1.0 + ref.abs())) | both_nan  # float sums in another order
    bad = agree.columns[~agree.all()]
    print(
        f"  all {len(shared)} shared columns: max |diff| = {worst.max():.3g}, "
        f"cells that differ: {int((~agree).to_numpy().sum())} of {agree.size:,}"
        + (f"; differing columns: {', '.join(bad)}" if len(bad) else "; they agree")
    )


def _row(n: int, label: str, r: dict) -> str:
    res = r["result"]
    return (
        f"{n:11,} {label:18} {r['seconds']:8.2f} {n / r['seconds']:12,.0f} "
        f"{r['peak_mb']:8.0f} {res['features']:8} {res['rows']:9,}  {r['all_seconds']}"
    )


CASES = {
    "cjml transform": "cjml_transform",
    "cjml end to end": "cjml_end_to_end",
    "DuckDB": "duckdb_reference",
    "cjml features CLI": "cjml_cli",
    "CLI, core families": "cjml_cli_core",
    "DuckDB CLI-like": "duckdb_cli",
}
CLI_CASES = ("cjml features CLI", "CLI, core families", "DuckDB CLI-like")
BEFORE = "CLI before"


def interleaved(
    repeats: int, *, cli_only: bool = False, before: str | None = None, **kwargs
) -> dict[str, dict]:
    """Median seconds and largest peak of each case, runs taken in turn (a busy spell of
    a shared machine falls on every case alike)."""
    cases = {k: v for k, v in CASES.items() if k in CLI_CASES or not cli_only}
    if before:
        cases[BEFORE] = "cjml_cli_before"
    runs: dict[str, list] = {label: [] for label in cases}
    for _ in range(repeats):
        for label, func in cases.items():
            extra = {"before": before} if label == BEFORE else {}
            runs[label].append(run_case("features", func, **kwargs, **extra))
    out = {}
    for label, rs in runs.items():
        peaks = [r["result"].pop("child_peak_mb", r["peak_mb"]) for r in rs]
        out[label] = {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "peak_mb": max(peaks),
            "result": rs[-1]["result"],
            "all_seconds": [round(r["seconds"], 2) for r in rs],
        }
    return out


def report_size(n: int, cases: dict[str, dict]) -> None:
    for label, r in cases.items():
        print(_row(n, label, r))
    ref = cases.get("DuckDB")
    for label in ("cjml transform", "cjml end to end"):
        if ref is None:
            break
        print(
            f"{'':11} {label + ' / DuckDB':32} {cases[label]['seconds'] / ref['seconds']:5.2f}x "
            f"time, {cases[label]['peak_mb'] / ref['peak_mb']:5.2f}x peak MB"
        )
    cli, duck = cases["cjml features CLI"], cases["DuckDB CLI-like"]
    ratio = cli["seconds"] / duck["seconds"]
    print(
        f"{'':11} {'cjml features CLI / DuckDB CLI-like':36} {ratio:5.2f}x time, "
        f"{cli['peak_mb'] / duck['peak_mb']:5.2f}x peak MB"
    )
    # each round's own ratio: a busy spell of the shared host falls on both runs of a round
    rounds = [c / d for c, d in zip(cli["all_seconds"], duck["all_seconds"], strict=True)]
    print(
        f"{'':11} {'  the same, round by round':36} median {statistics.median(rounds):.2f}x, "
        f"{sum(r <= 1.0 for r in rounds)} of {len(rounds)} rounds at or below 1.0x "
        f"({min(rounds):.2f}-{max(rounds):.2f}x)"
    )
    core = cases["CLI, core families"]
    core_ratio = core["seconds"] / duck["seconds"]
    print(
        f"{'':11} {'CLI, core families / DuckDB CLI-like':36} {core_ratio:5.2f}x time, "
        f"{core['peak_mb'] / duck['peak_mb']:5.2f}x peak MB"
    )
    if ref is not None:
        to_ref = cli["seconds"] / ref["seconds"]
        print(f"{'':11} {'cjml features CLI / DuckDB':36} {to_ref:5.2f}x time")
    if BEFORE in cases:
        old = cases[BEFORE]
        print(
            f"{'':11} {'cjml features CLI / CLI before':36} "
            f"{cli['seconds'] / old['seconds']:5.2f}x time, "
            f"{cli['peak_mb'] / old['peak_mb']:5.2f}x peak MB; before / DuckDB CLI-like "
            f"{old['seconds'] / duck['seconds']:.2f}x"
        )
    if n in CLI_GOAL:
        print(
            f"{'':11} goal, cjml features CLI at most {CLI_GOAL[n]}x DuckDB CLI-like: "
            f"{'met' if ratio <= CLI_GOAL[n] else 'NOT met'} ({ratio:.2f}x; with the core "
            f"families only: {'met' if core_ratio <= CLI_GOAL[n] else 'NOT met'}, "
            f"{core_ratio:.2f}x)"
        )
    if n == GOAL_EVENTS and ref is not None:
        fast = cases["cjml transform"]["seconds"] <= ref["seconds"]
        e2e = cases["cjml end to end"]["seconds"] <= ref["seconds"]
        peak = cases["cjml end to end"]["peak_mb"]
        print(
            f"{'':11} goal, featurizer at least as fast as DuckDB: {'met' if fast else 'NOT met'}"
            f" (end to end, read included: {'met' if e2e else 'not met'}); "
            f"end-to-end peak {peak:,.0f} MB < {GOAL_PEAK_MB} MB: "
            f"{'met' if peak < GOAL_PEAK_MB else 'NOT met'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cutoff", default=None, help="YYYY-MM-DD (default: the log's last day)")
    parser.add_argument(
        "--before",
        default=None,
        metavar="DIR",
        help="a folder holding cjml as it was before (e.g. a checkout of main): its "
        "'cjml features' is timed too, interleaved, as 'CLI before'",
    )
    parser.add_argument(
        "--cli-only",
        action="store_true",
        help="only the command-line cases (and 'CLI before'); no cross-check",
    )
    args = parser.parse_args()
    # built in a child: a parent's peak RSS is inherited by the children it starts
    paths = {n: run_case("events", "_log_path", n_events=n)["result"] for n in args.events}
    cutoffs = {n: args.cutoff or last_day(path) for n, path in paths.items()}
    compiled = compile_bytecode(args.before)
    print(f"bytecode compiled first, as installing writes it: {', '.join(map(str, compiled))}")
    print(
        f"default features at cutoff {', '.join(sorted(set(cutoffs.values())))} (00:00 UTC) "
        f"from shuffled Parquet logs; median of {args.repeats} interleaved runs in fresh "
        "processes"
    )
    print(
        f"{'events':>11} {'case':18} {'seconds':>8} {'events/s':>12} {'peak MB':>8} "
        f"{'features':>8} {'rows':>9}  runs"
    )
    load = os.getloadavg()[0]
    for n, path in paths.items():
        report_size(
            n,
            interleaved(
                args.repeats,
                cli_only=args.cli_only,
                before=args.before,
                path=path,
                cutoff=cutoffs[n],
            ),
        )
    print(f"load average (1 min): {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    if args.cli_only:
        return
    n = min(paths)
    cross_check(paths[n], cutoffs[n])


if __name__ == "__main__":
    main()
