"""Speed of full recommendations: customers/s with 13 candidate touchpoints.

The journey map is the default one with four more touchpoints made actionable
(paid ads, online reviews, website visits and store visits as if the business
could trigger them), so every customer has up to 13 candidate touchpoints. The
bundle is trained once with ``cjml.train`` on ``make_journeys(20_000,
random_state=11)`` read with that map (no holdout) and cached. The logs are the
shuffled Parquet logs of ``events.py`` (about 8.5 events per customer): 10M
events are about 1.2M customers. Each case runs in a fresh process; reading
the log is outside the timing:

- ``recommend``: ``TouchpointRecommender.from_bundle(bundle,
  method="dr-point").recommend(log, top_k=3)`` for every customer of the log
  (features at the cutoff, churn risk, features at each customer's last
  event, the probability of still being there, every eligible candidate's
  effect: the response model's contrast, the doubly robust correction of the
  customer's stage, the overlap check by the propensity model, then rules,
  ranking, intervals and reasons). ``dr-point`` ranks every customer whatever
  policy the bundle chose, so the whole path is timed;
- with ``--budget AMOUNT``, the same with ``rules={"budget": AMOUNT, "rank_by":
  "reduction"}``: the customers are ranked against each other across the parts
  of 200,000 the recommender takes at a time;
- ``reference``: in the same run, what scoring risk alone costs:
  ``featurizer.transform`` and the churn model's ``predict_proba`` for the same
  customers.

Goal (issue "recommender", point 6): at least 20,000 customers/s with full
recommendations among 12 or more candidates, on 2 cores.

    python benchmarks/recommend.py [--events 1000000 10000000] [--repeats 3] [--budget AMOUNT]
"""

from __future__ import annotations

import argparse

from _measure import CACHE, repeat

GOAL = 20_000
EXTRA_ACTIONABLE = ("paid_ad", "online_review", "website_visit", "store_visit")


def journey_map():
    """The default map with four more actionable touchpoints (13 in all)."""
    import cjml

    spec = cjml.JourneyMap.default().to_dict()
    for name in EXTRA_ACTIONABLE:
        spec["touchpoints"][name] = {**spec["touchpoints"][name], "actionable": True, "cost": 1.0}
    spec["name"] = "benchmark-13-actionable"
    return cjml.JourneyMap.from_dict(spec)


def bundle_path() -> str:
    """Train (once) and cache the bundle the cases recommend with."""
    path = CACHE / "recommend_bundle_dr.cjml"  # bundles with doubly robust effects
    if path.exists():
        return str(path)
    import cjml
    from cjml.datasets import make_journeys

    CACHE.mkdir(exist_ok=True)
    events = make_journeys(20_000, random_state=11).events
    bundle, _ = cjml.train(cjml.read_events(events, journey_map=journey_map()), holdout=False)
    bundle.save(path)
    return str(path)


def setup_recommend_case(bundle: str, events: str, budget: float | None = None):
    import cjml

    b = cjml.ModelBundle.load(bundle)
    return b, cjml.read_events(events, journey_map=b.journey_map)


def recommend_case(state, bundle: str, events: str, budget: float | None = None) -> dict:
    from cjml.recommend import TouchpointRecommender

    b, log = state
    rules = None if budget is None else {"budget": budget, "rank_by": "reduction"}
    out = TouchpointRecommender.from_bundle(b, top_k=3, method="dr-point", rules=rules).recommend(
        log
    )
    candidates = len(b.models["touchpoint_response"].touchpoints_)
    return {
        "customers": len(out),
        "with_recommendation": int(out["recommended_touchpoint"].notna().sum()),
        "candidates": candidates,
    }


def setup_reference_case(bundle: str, events: str):
    return setup_recommend_case(bundle, events)


def reference_case(state, bundle: str, events: str) -> dict:
    b, log = state
    X = b.featurizer.transform(log)
    b.models["churn"].predict_proba(X[b.feature_names])
    return {"customers": len(X)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, metavar="AMOUNT")
    args = parser.parse_args()
    from events import _log_path  # the same cached logs as events.py

    bundle = bundle_path()
    print(
        f"TouchpointRecommender.recommend, every customer of the log, top 3 of up to 13 "
        f"candidates; median of {args.repeats} run(s) in fresh processes"
    )
    if args.budget is not None:
        print(f"rules: budget {args.budget:,.0f}, customers ranked by expected reduction")
    print(f"{'events':>11} {'case':34} {'seconds':>8} {'customers/s':>12} {'peak MB':>8}  notes")
    for n in args.events:
        path = _log_path(n)
        rec = repeat(
            "recommend",
            "recommend_case",
            args.repeats,
            bundle=bundle,
            events=path,
            budget=args.budget,
        )
        ref = repeat("recommend", "reference_case", args.repeats, bundle=bundle, events=path)
        case = "recommend (full)" if args.budget is None else "recommend (budget)"
        for label, r in ((case, rec), ("features + churn risk (reference)", ref)):
            res = r["result"]
            rate = res["customers"] / r["seconds"]
            notes = f"{res['customers']:,} customers; runs {r['all_seconds']}"
            if "candidates" in res:
                notes += (
                    f"; {res['candidates']} candidates; "
                    f"{res['with_recommendation']:,} get one; goal {GOAL:,}/s "
                    f"{'met' if rate >= GOAL else 'NOT met'}"
                )
            print(
                f"{n:11,} {label:34} {r['seconds']:8.2f} {rate:12,.0f} {r['peak_mb']:8.0f}  {notes}"
            )
        print(f"{'':11} {'recommend / reference time':34} {rec['seconds'] / ref['seconds']:8.2f}x")


if __name__ == "__main__":
    main()
