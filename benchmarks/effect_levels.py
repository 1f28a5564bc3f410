"""Each touchpoint's estimated mean drop-off reduction against the scenario world's truth.

For each world given as ``NAME:CUSTOMERS:SEED``, ``cjml.train`` as the suite does
(held-out test cutoff, one thread per model), then, over the customers active within
the horizon before the test cutoff and eligible for the touchpoint: the true mean
reduction of drop-off (``risk_no_action - risk_<touchpoint>``) beside the bundle's
effects model's estimate (``DoublyRobustEffects.predict``, every customer estimated),
in points. Below, the policy comparison the bundle kept (``touchpoint_policy.table``;
differences in points of drop-off per held-out decision).

    python benchmarks/effect_levels.py experience_memory:10000:1 price_sensitivity:5000:0
    python benchmarks/effect_levels.py --design decision price_sensitivity:5000:0
    python benchmarks/effect_levels.py --design decision --window 12h price_sensitivity:5000:2
    python benchmarks/effect_levels.py --version revealed price_sensitivity:5000:2

A systematic gap between the two columns is the level of the effects against doing
nothing (their comparison arm is customers' own events), not their order.
``--version persona`` or ``revealed`` trains on the log with the latent state
shown (``information_ceiling.make_version``: the true persona, every experience
rated): if the gap stays, it is not hidden confounding.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _suite import _eligibility, load_world, train_as_suite


def world_levels(
    name: str,
    n_customers: int,
    seed: int,
    design: str = "events",
    window: str | None = None,
    version: str = "log",
) -> tuple[pd.DataFrame, object]:
    """Per touchpoint: true and estimated mean reduction (points), and the policy kept.

    ``design``: the anchors of the recommender's fit (:func:`cjml.effects.build_anchors`);
    ``version``: what the log reveals (:data:`information_ceiling.VERSIONS`).
    """
    if version == "log":
        data = load_world(name, n_customers, seed)
    else:
        from information_ceiling import make_version

        data = make_version(name, n_customers, seed, version)
    params = {"design": design} | ({} if window is None else {"window": window})
    _, bundle, test = train_as_suite(data, response_params=params)
    truth = data.truth.drop(columns=[c for c in ("cutoff", "stage") if c in data.truth.columns])
    truth = truth.set_index("customer_id")
    test = test[test["customer_id"].isin(truth.index)].reset_index(drop=True)
    true_rows = truth.loc[test["customer_id"]]
    X = test.set_index("customer_id")[bundle.feature_names]
    effects = bundle.models["touchpoint_effects"]
    risk = bundle.models["churn"].predict_proba(X)[:, 1]
    estimate = effects.predict(X, base_risk=risk, overlap=False)[0]
    touchpoints = list(bundle.journey_map.actionable_touchpoints)
    eligible = _eligibility(bundle.journey_map, test, touchpoints)
    active = test["days_since_last_event"].to_numpy(dtype=float) <= int(data.horizon_days)
    rows = []
    for j, t in enumerate(touchpoints):
        who = eligible[:, j] & active
        true = (true_rows["risk_no_action"] - true_rows[f"risk_{t}"]).to_numpy(dtype=float)
        est = (
            -estimate[:, effects.touchpoints.index(t)]
            if t in effects.touchpoints
            else np.full(len(X), np.nan)
        )
        rows.append(
            {
                "touchpoint": t,
                "true": 100 * np.nanmean(true[who]) if who.any() else np.nan,
                # NaN: not estimated (too rarely delivered), said as such, not warned about
                "estimated": 100 * np.nanmean(est[who]) if np.isfinite(est[who]).any() else np.nan,
                "customers": int(who.sum()),
            }
        )
    return pd.DataFrame(rows), bundle.models["touchpoint_policy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worlds", nargs="+", metavar="NAME:CUSTOMERS:SEED")
    parser.add_argument(
        "--design",
        choices=("events", "decision"),
        default="events",
        help="the recommender's anchors (cjml.effects.build_anchors)",
    )
    parser.add_argument(
        "--window",
        default=None,
        help="with --design decision: how soon after the customer's event a delivery is its "
        "answer (default the recommender's, 1D)",
    )
    parser.add_argument(
        "--version",
        choices=("log", "persona", "revealed"),
        default="log",
        help="what the log reveals of the latent state (information_ceiling.py)",
    )
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    below = total = 0
    for spec in args.worlds:
        name, n, seed = spec.split(":")
        levels, policy = world_levels(
            name, int(n), int(seed), args.design, args.window, args.version
        )
        print(
            f"== {name}, {int(n):,} customers, seed {seed}, {args.design} anchors, "
            f"{args.version} version: "
            f"policy {policy.policy}"
        )
        print("mean drop-off reduction over the active eligible customers, points")
        print(levels.round(3).to_string(index=False))
        cols = ["value", "vs_no_action", "vs_no_action_high", "share_acted", "confirmed"]
        table = policy.table[cols].copy()
        table[["vs_no_action", "vs_no_action_high"]] *= 100
        print(table.round(3).to_string())
        known = levels.dropna(subset=["true", "estimated"])
        below += int((known["estimated"] < known["true"]).sum())
        total += len(known)
    print(f"estimated below the truth: {below} of {total} touchpoints")


if __name__ == "__main__":
    main()
