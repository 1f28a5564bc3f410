"""Churn models when the log holds more than what customers do: sends and cancellations.

Two rules of the journey map decide what drop-off is (README, "Journey maps"), and this
script measures what each is worth on worlds of the scenario suite.

``--section sends`` (``outbound``). Many CRM exports log a newsletter or a reminder when it
is *sent*, to every subscriber, whether or not they are still customers. Counted as
activity, such sends make customers who left look active. The script adds a weekly
newsletter sent to 70% of the customers (chosen at random) from their first event to the end
of the log, whether they are still there or not, and trains ``cjml.train`` three ways:

- ``original``: the world's own log (the reference);
- ``sends, not marked``: the log with the sends, the newsletter an ordinary actionable
  touchpoint of the map (what cjml did before ``outbound``);
- ``sends, outbound``: the same log, the newsletter marked ``outbound = true``.

Each model is judged on the same customers and the same labels: the world's held-out
cutoff, its population and its drop-off as the original log defines them (no own event in
the horizon), against the simulator's oracle (``risk_no_action``). The sends change nothing
the customers do, so a model that handles them should score as the original does. The
script also prints what :func:`cjml.labels.outbound_suspects` finds in each log.

``--section cancellations`` (``churn``). In a subscription business most leavers cancel.
The script gives 60% of each world's leavers (at random) a ``subscription_cancelled``
event at the moment they leave (``--notice DAYS``: that many days before, while they go on
using the service to the end of a notice period), and trains twice: the touchpoint unmarked
(a cancellation is one more event: a customer who cancels within the horizon looks active)
and marked
``churn = true``. Both are judged on the labels and the population of the marked log
(drop-off = silence or a cancellation in the horizon; customers who cancelled before the
cutoff are gone, not scored). There is no oracle here: the simulator's truth does not know
the cancellations.

    python benchmarks/drop_off_rules.py [--section sends|cancellations|both]
        [--worlds small_shop experience_memory ...] [--seeds 0 1] [--scale 0.5]
        [--subscribed 0.7] [--cancelling 0.6] [--notice DAYS] [--earlier DAYS]

``--earlier DAYS`` moves the held-out cutoff (and the training before it) that many days
earlier. The worlds' leavers all leave before their log ends, so with a notice of N days no
cancellation falls in the last N days: hold out a cutoff at least N days earlier for the
horizon to hold some.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

NEWSLETTER = "weekly_newsletter"
DEFAULT_WORLDS = ("small_shop", "experience_memory", "silent_leavers", "contact_fatigue")


def with_sends(events: pd.DataFrame, subscribed: float, seed: int) -> pd.DataFrame:
    """The log plus a weekly newsletter to a random ``subscribed`` share of the customers.

    Each send carries the stage of the customer's latest event before it (the
    CRM's record of where they are), from their first event to the log's end.
    """
    rng = np.random.default_rng(seed)
    ev = events.sort_values(["customer_id", "timestamp"], kind="stable")
    first = ev.groupby("customer_id", sort=False)["timestamp"].min()
    chosen = first[rng.random(len(first)) < subscribed]
    end = ev["timestamp"].max()
    start = ev["timestamp"].min().normalize() + pd.Timedelta(hours=9)
    weeks = pd.date_range(start, end, freq="7D")
    # every subscriber gets every weekly send after their first event
    ids = np.repeat(chosen.index.to_numpy(), len(weeks))
    when = np.tile(weeks.to_numpy(), len(chosen))
    keep = when > np.repeat(chosen.to_numpy(), len(weeks))
    sends = pd.DataFrame({"customer_id": ids[keep], "timestamp": when[keep]})
    sends["timestamp"] = pd.to_datetime(sends["timestamp"], utc=True)
    sends = sends.sort_values(["timestamp"], kind="stable")
    stage = pd.merge_asof(
        sends,
        ev[["customer_id", "timestamp", "stage"]].sort_values("timestamp"),
        on="timestamp",
        by="customer_id",
    )["stage"].to_numpy()
    sends["stage"] = stage
    sends["touchpoint"] = NEWSLETTER
    if "channel" in events.columns:
        sends["channel"] = "online"
    out = pd.concat([events, sends], ignore_index=True)
    return out[events.columns]


def with_touchpoint(journey_map, name: str, **attrs):
    """The world's map plus touchpoint ``name``, online, in every stage, with ``attrs``
    (``actionable=True, outbound=...`` for the newsletter, ``churn=...`` for cancelling)."""
    import cjml

    spec = journey_map.to_dict()
    spec["touchpoints"][name] = {"channel": "online", "stages": list(journey_map.stages), **attrs}
    return cjml.JourneyMap.from_dict(spec)


def judged(bundle, log, rows: pd.DataFrame, cutoff) -> np.ndarray:
    """The bundle's churn risk for ``rows`` (customer ids) from ``log`` at ``cutoff``."""
    X = bundle.featurizer.transform(log, cutoff=cutoff)
    X = X.reindex(rows["customer_id"].to_numpy())
    return bundle.models["churn"].predict_proba(X[bundle.feature_names])[:, 1]


def run_world(name: str, seed: int, scale: float, subscribed: float) -> list[dict]:
    import cjml
    from cjml.datasets import SCENARIOS, make_scenario
    from cjml.evaluation import churn_metrics
    from cjml.labels import make_labels, outbound_suspects

    n = max(int(SCENARIOS[name].n_customers * scale), 500)
    sc = make_scenario(name, n_customers=n, seed=seed)
    cutoff, horizon = sc.test_cutoff, f"{sc.horizon_days}D"
    original = cjml.read_events(sc.events, journey_map=sc.journey_map)
    truth_rows = make_labels(original, cutoff, horizon=horizon).reset_index()
    truth = sc.truth.set_index("customer_id")["risk_no_action"]
    y = truth_rows["churn"].to_numpy()
    oracle = churn_metrics(y, truth.reindex(truth_rows["customer_id"]).to_numpy())
    sent = with_sends(sc.events, subscribed, seed)
    out = []
    for case, events, jm in (
        ("original", sc.events, sc.journey_map),
        (
            "sends, not marked",
            sent,
            with_touchpoint(sc.journey_map, NEWSLETTER, actionable=True, outbound=False),
        ),
        (
            "sends, outbound",
            sent,
            with_touchpoint(sc.journey_map, NEWSLETTER, actionable=True, outbound=True),
        ),
    ):
        log = cjml.read_events(events, journey_map=jm)
        suspects = outbound_suspects(log)
        row = {
            "world": name,
            "seed": seed,
            "case": case,
            "customers": n,
            "suspects": ",".join(suspects.index) or "-",
            "oracle AUC": oracle["roc_auc"],
            "oracle Brier": oracle["brier"],
        }
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bundle, _ = cjml.train(log, test_cutoff=cutoff, horizon=horizon, n_jobs=1)
        except ValueError as exc:
            row.update({"AUC": np.nan, "Brier": np.nan, "note": str(exc)[:70]})
            out.append(row)
            continue
        risk = judged(bundle, log, truth_rows, cutoff)
        m = churn_metrics(y, risk)
        row.update(
            {
                "AUC": m["roc_auc"],
                "Brier": m["brier"],
                "seconds": time.perf_counter() - started,
                "note": "",
            }
        )
        out.append(row)
    return out


CANCELLED = "subscription_cancelled"


def with_cancellations(sc, share: float, seed: int, notice_days: int = 0) -> pd.DataFrame:
    """The log plus a cancellation by ``share`` of the leavers, ``notice_days`` before they
    leave (0: as they leave), never before their first event."""
    rng = np.random.default_rng(seed + 1)
    events = sc.events
    left = sc.customers.dropna(subset=["dropout"])
    left = left[rng.random(len(left)) < share]
    end = events["timestamp"].max()
    first = events.groupby("customer_id")["timestamp"].min()
    when = pd.to_datetime(left["dropout"], utc=True) + pd.Timedelta(hours=12)
    when = when - pd.Timedelta(days=notice_days)
    when = np.maximum(when, first.reindex(left["customer_id"]).to_numpy() + pd.Timedelta(hours=1))
    left, when = left[when <= end], when[when <= end]
    quits = pd.DataFrame({"customer_id": left["customer_id"].to_numpy(), "timestamp": when})
    quits = quits.sort_values("timestamp", kind="stable")
    ev = events[["customer_id", "timestamp", "stage"]].sort_values("timestamp")
    stage = pd.merge_asof(quits, ev, on="timestamp", by="customer_id")["stage"]
    quits["stage"] = stage.fillna(sc.journey_map.stages[0]).to_numpy()
    quits["touchpoint"] = CANCELLED
    if "channel" in events.columns:
        quits["channel"] = "online"
    return pd.concat([events, quits], ignore_index=True)[events.columns]


def run_cancellations(
    name: str, seed: int, scale: float, share: float, notice_days: int = 0, earlier: int = 0
) -> list[dict]:
    import cjml
    from cjml.datasets import SCENARIOS, make_scenario
    from cjml.evaluation import churn_metrics
    from cjml.labels import make_labels

    n = max(int(SCENARIOS[name].n_customers * scale), 500)
    sc = make_scenario(name, n_customers=n, seed=seed)
    cutoff, horizon = sc.test_cutoff - pd.Timedelta(days=earlier), f"{sc.horizon_days}D"
    events = with_cancellations(sc, share, seed, notice_days)
    marked = cjml.read_events(
        events, journey_map=with_touchpoint(sc.journey_map, CANCELLED, churn=True)
    )
    truth_rows = make_labels(marked, cutoff, horizon=horizon).reset_index()
    y = truth_rows["churn"].to_numpy()
    out = []
    for case, churn in (("cancellations, not marked", False), ("cancellations, churn", True)):
        log = cjml.read_events(
            events, journey_map=with_touchpoint(sc.journey_map, CANCELLED, churn=churn)
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bundle, _ = cjml.train(log, test_cutoff=cutoff, horizon=horizon, n_jobs=1)
        m = churn_metrics(y, judged(bundle, log, truth_rows, cutoff))
        out.append(
            {
                "world": name,
                "seed": seed,
                "case": case,
                "customers": n,
                "rows": len(y),
                "churn rate": float(y.mean()),
                "cancelled in horizon": int(
                    (
                        (events["touchpoint"] == CANCELLED)
                        & (events["timestamp"] > cutoff)
                        & (events["timestamp"] <= cutoff + pd.Timedelta(horizon))
                    ).sum()
                ),
                "AUC": m["roc_auc"],
                "Brier": m["brier"],
                "seconds": time.perf_counter() - started,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", choices=["sends", "cancellations", "both"], default="both")
    parser.add_argument("--worlds", nargs="+", default=list(DEFAULT_WORLDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--subscribed", type=float, default=0.7)
    parser.add_argument("--cancelling", type=float, default=0.6)
    parser.add_argument("--notice", type=int, default=0, metavar="DAYS")
    parser.add_argument("--earlier", type=int, default=0, metavar="DAYS")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    fmt = {"float_format": lambda v: f"{v:.4f}"}
    if args.section in ("sends", "both"):
        rows = []
        for world in args.worlds:
            for seed in args.seeds:
                rows += run_world(world, seed, args.scale, args.subscribed)
        table = pd.DataFrame(rows)
        table["AUC gap"] = table["oracle AUC"] - table["AUC"]
        table["Brier vs oracle"] = table["Brier"] / table["oracle Brier"] - 1
        print(
            f"== sends: churn model on the world's held-out cutoff, judged on the original log's "
            f"population and labels; weekly sends to {args.subscribed:.0%} of the customers; "
            f"scale {args.scale}"
        )
        cols = ["world", "seed", "case", "AUC", "AUC gap", "Brier vs oracle", "suspects", "note"]
        print(table[cols].to_string(index=False, **fmt))
        summary = table.groupby("case", sort=False)[["AUC gap", "Brier vs oracle"]].median()
        print("\nmedian over worlds and seeds")
        print(summary.to_string(float_format=lambda v: f"{v:+.4f}"))
    if args.section in ("cancellations", "both"):
        rows = []
        for world in args.worlds:
            for seed in args.seeds:
                rows += run_cancellations(
                    world, seed, args.scale, args.cancelling, args.notice, args.earlier
                )
        table = pd.DataFrame(rows)
        print(
            f"\n== cancellations: {args.cancelling:.0%} of the leavers cancel "
            f"{f'{args.notice} days before they leave' if args.notice else 'as they leave'}; "
            f"held-out cutoff {args.earlier} days before the world's; "
            f"judged on the labels and population of the log with the cancellation marked churn; "
            f"scale {args.scale}"
        )
        cols = [
            "world",
            "seed",
            "case",
            "rows",
            "churn rate",
            "cancelled in horizon",
            "AUC",
            "Brier",
        ]
        print(table[cols].to_string(index=False, **fmt))
        summary = table.groupby("case", sort=False)[["AUC", "Brier"]].median()
        print("\nmedian over worlds and seeds")
        print(summary.to_string(**fmt))


if __name__ == "__main__":
    main()
