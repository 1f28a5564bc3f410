"""Speed of the marketer's panel: the what-if selector and the at-risk list at 1M customers.

Two parts, each beside a reference computed in the same run:

1. **What-if latency** on the sample (a small bundle trained once with
   ``cjml.train(load_sample(), n_cutoffs=4, step="15D", holdout=False)`` and
   cached). For ``--customers`` scored customers, through the widgets (a
   headless ``MarketerPanel``, no browser):

   - *open*: ``app.open_customer(id)``: the customer's profile (features,
     risk, next stage, drivers, recommendations, and the expected risk after
     every eligible touchpoint) plus the timeline plot;
   - *what-if*: ``app.whatif.value = touchpoint`` for every eligible
     touchpoint: the lookup and the HTML update the browser receives. Goal
     (issue 7): under 200 ms.
   - reference: re-scoring one touchpoint from scratch
     (``recommender.effects`` on the customer's events), what a what-if would
     cost without the precomputation; and computing every customer's effects
     at start (``effects`` over the whole log).

2. **At-risk list at 1M customers**: the sample's scored customers tiled to
   ``--rows`` rows (new ids, same values), in a ``CustomerList`` and in the
   widgets:

   - first query of a sort order (computes and keeps it), then filtered and
     sorted pages, and the next page of the same query;
   - the widget refresh after a filter change (only the page's rows become
     HTML: its size is printed beside the whole table's);
   - bulk approval of every matching customer and the CSV export;
   - the decision log (issue 19): a bulk approval of every customer appended to
     it, beside the same approval kept in memory only, and its replay when the
     app starts again;
   - reference: the same filter, sort and page with plain pandas
     (``table[mask].sort_values(...).iloc[...]``), and with DuckDB when it is
     installed (the ``bench`` extra).

    python benchmarks/panel.py [--customers 40] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import CACHE

GOAL_MS = 200


def bundle_path() -> Path:
    """Train (once) and cache the small sample bundle."""
    path = CACHE / "panel_bundle.cjml"
    if not path.exists():
        import cjml
        from cjml.datasets import load_sample

        CACHE.mkdir(exist_ok=True)
        bundle, _ = cjml.train(load_sample(), n_cutoffs=4, step="15D", holdout=False)
        bundle.save(path, force=True)
    return path


def _ms(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000
    return (
        f"median {np.median(ms):7.1f} ms   p95 {np.percentile(ms, 95):7.1f} ms   "
        f"max {ms.max():7.1f} ms   (n={len(ms)})"
    )


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def what_if_latency(n_customers: int) -> None:
    from cjml.datasets import load_sample
    from cjml.events import EventLog
    from cjml.panel import PanelData
    from cjml.panel._app import MarketerPanel
    from cjml.panel._data._customer import _customer_slice

    data = PanelData.from_inputs(bundle_path(), load_sample(), report=None)
    app = MarketerPanel(data)
    table = data.table
    rng = np.random.default_rng(0)
    ids = table["customer_id"].to_numpy()[
        rng.choice(len(table), size=min(n_customers, len(table)), replace=False)
    ]
    opens, switches, rescore = [], [], []
    n_options = []
    for cid in ids:
        data._profiles.clear()  # measure the work, not the cache
        seconds, _ = _timed(app.open_customer, cid)
        notice = app.customer_notice
        assert "cjml-notice-error" not in notice._dom_classes, notice.value
        opens.append(seconds)
        options = list(app.profile.options["touchpoint"])
        n_options.append(len(options))
        for tp in options[::-1]:  # start from the far end: every assignment changes the value
            before = app.whatif_result.value
            seconds, _ = _timed(setattr, app.whatif, "value", tp)
            switches.append(seconds)
            assert app.whatif_result.value != before or len(options) == 1
        # reference: re-score the current touchpoint from scratch
        start, stop, _ = _customer_slice(data.log, cid)
        sub = EventLog.from_frame(data.log.frame.iloc[start:stop], journey_map=data.log.journey_map)
        seconds, _ = _timed(data.recommender.effects, sub, cutoff=data.cutoff)
        rescore.append(seconds)
    all_at_start, effects = _timed(
        data.recommender.effects,
        data.log,
        cutoff=data.cutoff,
        lookback=data.bundle.metadata["lookback"],
    )
    print(
        f"What-if on the sample: {len(ids)} customers, {statistics.mean(n_options):.1f} "
        f"eligible touchpoints each"
    )
    print(f"  open a customer (profile + timeline)      {_ms(opens)}")
    print(
        f"  what-if: change the touchpoint (widgets)  {_ms(switches)}   goal < {GOAL_MS} ms: "
        f"{'met' if np.percentile(switches, 95) * 1000 < GOAL_MS else 'NOT met'}"
    )
    print(f"  reference: re-score from scratch          {_ms(rescore)}")
    print(
        f"  reference: every customer's effects at start: {all_at_start:.2f} s for "
        f"{effects['customer_id'].nunique():,} customers ({len(effects):,} rows)"
    )


def big_list(rows: int) -> None:
    from cjml.datasets import load_sample
    from cjml.panel import ActionBook, CustomerList, DecisionLog, PanelData
    from cjml.panel._app import MarketerPanel

    data = PanelData.from_inputs(bundle_path(), load_sample(), report=None)
    small = data.table
    reps = -(-rows // len(small))
    big = pd.concat([small] * reps, ignore_index=True).iloc[:rows]
    big["customer_id"] = np.arange(1, rows + 1)
    big.attrs = dict(small.attrs)
    for c in big.columns:  # concat keeps categories equal, so the dtypes survive
        if isinstance(small[c].dtype, pd.CategoricalDtype):
            assert isinstance(big[c].dtype, pd.CategoricalDtype), c
    print(f"\nAt-risk list: {rows:,} customers (the sample's {len(small):,} tiled)")
    lst = CustomerList(big)
    first, _ = _timed(lst.query)
    print(f"  first query (computes the default order)  {first * 1000:7.1f} ms")
    # touchpoints the bundle's policy recommends (one for everyone under some policies)
    common = big["recommended_touchpoint"].astype(object).dropna().value_counts().index
    queries = [
        dict(risk_band=["high", "very high"]),
        dict(stage="retention", segment="regular"),
        dict(touchpoint=common[0], risk_band="very high"),
        dict(stage="awareness"),
        dict(risk_band="medium", touchpoint=common[-1], stage="retention"),
    ]
    cases = []
    for sort_by in ("churn_risk", "expected_risk_reduction"):
        lst.query(sort_by=sort_by)  # the sort order, computed once per key
        for q in queries:
            lst._last = None
            seconds, page = _timed(lst.query, **q, sort_by=sort_by, page=3, page_size=25)
            cases.append(seconds)
    print(f"  filtered, sorted page (5 filters x 2 sorts) {_ms(cases)}")
    nxt = []
    for p in range(4, 14):
        seconds, _ = _timed(lst.query, **queries[0], sort_by="churn_risk", page=p)
        nxt.append(seconds)
    print(f"  next page of the same query               {_ms(nxt)}")

    ref = []
    for sort_by in ("churn_risk", "expected_risk_reduction"):
        for q in queries:
            start = time.perf_counter()
            mask = np.ones(len(big), dtype=bool)
            for col, key in (
                ("risk_band", "risk_band"),
                ("stage", "stage"),
                ("segment", "segment"),
                ("recommended_touchpoint", "touchpoint"),
            ):
                if key in q:
                    values = q[key] if isinstance(q[key], list) else [q[key]]
                    mask &= big[col].isin(values).to_numpy()
            expect = (
                big[mask]
                .sort_values(sort_by, ascending=False, kind="stable", na_position="last")
                .iloc[75:100]
            )
            ref.append(time.perf_counter() - start)
            got = lst.query(**q, sort_by=sort_by, page=3, page_size=25).rows
            assert got["customer_id"].tolist() == expect["customer_id"].tolist()
    print(f"  reference: pandas filter + sort + page    {_ms(ref)}   (same rows: checked)")
    try:
        import duckdb
    except ImportError:
        print("  reference: DuckDB not installed (pip install -e '.[bench]')")
    else:
        con = duckdb.connect()
        con.register(
            "t", big[["customer_id", "churn_risk", "risk_band", "stage", "expected_risk_reduction"]]
        )
        duck = []
        for _ in range(5):
            seconds, _ = _timed(
                con.execute(
                    "select * from t where risk_band in ('high', 'very high') order by churn_risk "
                    "desc, customer_id limit 25 offset 75"
                ).fetchdf
            )
            duck.append(seconds)
        print(f"  reference: DuckDB, same query             {_ms(duck)}")

    big_data = PanelData(
        bundle=data.bundle,
        log=data.log,
        table=big,
        cutoff=data.cutoff,
        segment_col=data.segment_col,
        report=None,
        actions=ActionBook(user="bench"),
    )
    seconds, app = _timed(MarketerPanel, big_data)
    print(f"  build the widgets on {rows:,} customers     {seconds * 1000:7.1f} ms")
    changes = []
    for value in ("very high", "high", "medium", "low", ""):
        seconds, _ = _timed(setattr, app.risk_band, "value", value)
        changes.append(seconds)
    print(f"  widgets: change a filter, show the page   {_ms(changes)}")
    page_html = sum(len(h.value) for h in app.row_html)
    print(
        f"  sent to the browser per page: {page_html / 1024:.1f} kB of row HTML "
        f"(the whole list as an HTML table: "
        f"{len(big.head(20_000).to_html()) / 1024 * rows / 20_000 / 1024:,.0f} MB)"
    )
    seconds, _ = _timed(app.approve_matching.click)
    seconds2, _ = _timed(app.confirm_yes.click)
    n = big_data.actions.counts()["approved"]
    print(f"  approve all matching ({n:,} approved)    {(seconds + seconds2) * 1000:7.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        seconds, path = _timed(big_data.actions.export_csv, Path(folder) / "actions.csv")
        print(
            f"  export {n:,} approved actions to CSV   {seconds * 1000:7.1f} ms "
            f"({path.stat().st_size / 2**20:.0f} MB)"
        )

    # the decision log: every decision appended (one write of many lines, then fsync)
    everyone = big.assign(uncertain=False, reach_probability=np.nan)  # no row left out
    seconds_memory, n = _timed(ActionBook(user="bench").approve, everyone, bulk=True)
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "decisions.jsonl"
        book = ActionBook(user="bench", log=DecisionLog(log_path))
        seconds_log, _ = _timed(book.approve, everyone, bulk=True)
        print(
            f"  bulk approval of {n:,}, decision log        {seconds_log * 1000:7.1f} ms "
            f"(in memory only: {seconds_memory * 1000:.1f} ms; "
            f"{log_path.stat().st_size / 2**20:.0f} MB of JSON Lines)"
        )
        seconds, again = _timed(ActionBook, user="bench", log=DecisionLog(log_path))
        assert again.counts()["approved"] == n
        print(f"  replay the decision log at restart        {seconds * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    what_if_latency(args.customers)
    big_list(args.rows)


if __name__ == "__main__":
    main()
