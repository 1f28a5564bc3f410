"""Rules that always act against cjml's recommendation methods, on the scenario worlds' truth.

For each world and seed, ``cjml.train`` as the suite does (held-out test cutoff, one thread
per model), then, over the 20% of the test customers with the highest predicted risk, the
regret share and the harmful share (of the targets, those given a touchpoint whose true risk is
above doing nothing, as the suite counts them) of:

- ``naive (suite)``: per stage, the touchpoint after which customers most often had another
  event within the horizon, in the whole log up to the test cutoff, given to every eligible
  customer (the suite's naive rule: no model, no test, always acts);
- ``stage rule, all``: the bundle's own naive rule (``PolicyChoice.stage_rule``, read from
  the recommender's fitting anchors) given to every eligible customer;
- ``..., unless surely harmful``: either rule, except where the effects model's interval
  (``method="dr-rank"``'s, as :meth:`TouchpointRecommender.effects` gives it) says the
  touchpoint surely raises the customer's risk;
- ``method=...``: cjml's recommender with that method (``naive``, ``dr-rank``,
  ``dr-point``), each touchpoint given only where the bundle's effects model expects a
  reduction above the floor, scaled by the share the held-out period confirmed;
- ``policy kept``: what ``cjml.train`` chose (``method="auto"``);
- ``best single``: the best single touchpoint in hindsight (chosen with the truth) and
  ``random``: a random eligible touchpoint.

Regret share = (V(policy) - V(oracle)) / (V(no action) - V(oracle)), V the mean true drop-off
over the targets: 0 is the oracle, 1 doing nothing. The question it answers: what does cjml's
caution (no touchpoint without evidence that it helps) cost against rules that always act,
and what does it save in harm.

    python benchmarks/acting_rules.py [--split development] [--scale 0.5] [--seeds 0 1 2]
                                      [--worlds NAME ...] [--jobs 2]

Each world-seed runs in its own process (``--jobs`` side by side).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from _suite import (
    TARGET_SHARE,
    _eligibility,
    action_stats,
    as_index,
    available_worlds,
    load_world,
    policy_table,
    train_as_suite,
)

METHODS = ("naive", "dr-rank", "dr-point", "auto")
COLUMNS = {
    "naive (suite)": "naive (suite)",
    "naive, unless surely harmful": "naive (suite), unless surely harmful",
    "stage rule, all": "stage rule, all",
    "stage rule, unless surely harmful": "stage rule, all, unless surely harmful",
    "method=naive": "naive",
    "method=dr-rank": "dr-rank",
    "method=dr-point": "dr-point",
    "policy kept": "auto",
    "best single": "best single",
    "random": "random eligible",
}


def run_one(name: str, n_customers: int, seed: int) -> dict:
    """Regret and harmful shares of every rule on one world-seed (see the module docstring)."""
    from quality import historical_retention

    from cjml.recommend import RecommendationRules, TouchpointRecommender

    data = load_world(name, n_customers, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log, bundle, test = train_as_suite(data)
    truth = data.truth.drop(columns=[c for c in ("cutoff", "stage") if c in data.truth.columns])
    test = test.join(truth.set_index("customer_id").add_prefix("truth:"), on="customer_id")
    test = test[test["truth:risk_no_action"].notna()].reset_index(drop=True)
    truth_rows = test[["customer_id"]].join(
        test.filter(like="truth:").rename(columns=lambda c: c[len("truth:") :])
    )
    X = test.set_index("customer_id")[bundle.feature_names]
    risk = bundle.models["churn"].predict_proba(X)[:, 1]
    jm = bundle.journey_map
    touchpoints = list(jm.actionable_touchpoints)
    eligible = _eligibility(jm, test, touchpoints)
    stage = test["current_stage"].to_numpy(dtype=float)
    stage = np.where(np.isnan(stage), 0, stage).astype(int)

    rates = historical_retention(log, data.test_cutoff, pd.Timedelta(f"{int(data.horizon_days)}D"))
    rates = rates.reindex(index=list(jm.stages), columns=touchpoints).to_numpy()
    by_stage = np.where(eligible, np.nan_to_num(rates[stage], nan=-1.0), -2.0)
    choices: dict[str, np.ndarray] = {
        "naive (suite)": np.where(eligible.any(axis=1), by_stage.argmax(axis=1), -1)
    }
    policy = bundle.models.get("touchpoint_policy")
    rule = np.full(len(test), -1)
    for st, t in (policy.stage_rule if policy is not None else {}).items():
        j = touchpoints.index(t)
        rule[(stage == int(st)) & eligible[:, j]] = j
    choices["stage rule, all"] = rule
    rules = RecommendationRules(rank_by="reduction")
    for method in METHODS:
        rec = (
            TouchpointRecommender.from_bundle(bundle, method=method, rules=rules)
            .recommend(log, cutoff=data.test_cutoff, features=X, churn_risk=risk, top_k=1)
            .reindex(X.index)
        )
        choices[method] = as_index(
            rec["recommended_touchpoint"].to_numpy(dtype=object), touchpoints
        )
    # the always-acting rules, except where the effects model's interval says the touchpoint
    # surely raises the risk (its reduction's upper bound below zero)
    effects = TouchpointRecommender.from_bundle(bundle, method="dr-rank", rules=rules).effects(
        log, cutoff=data.test_cutoff, features=X, churn_risk=risk
    )
    surely_harmful = np.zeros(eligible.shape, dtype=bool)
    if len(effects):
        row_of = pd.Index(X.index).get_indexer(effects["customer_id"])
        col_of = pd.Index(touchpoints).get_indexer(effects["touchpoint"])
        bad = (effects["risk_reduction_high"].to_numpy(dtype=float) < 0) & (row_of >= 0)
        surely_harmful[row_of[bad], col_of[bad]] = True
    for key in ("naive (suite)", "stage rule, all"):
        chosen = choices[key]
        rows = np.flatnonzero(chosen >= 0)
        keep = chosen.copy()
        keep[rows[surely_harmful[rows, chosen[rows]]]] = -1
        choices[f"{key}, unless surely harmful"] = keep
    table = policy_table(truth_rows, risk, eligible, touchpoints, choices, seed=seed)

    target = np.zeros(len(test), dtype=bool)
    target[np.argsort(-risk, kind="stable")[: int(round(TARGET_SHARE * len(test)))]] = True
    no_estimate = np.zeros(len(test))  # harm needs no estimate
    harm = {
        key: action_stats(truth_rows, chosen, no_estimate, target, touchpoints)["harmful"]
        for key, chosen in choices.items()
    }
    return {
        "world": name,
        "seed": seed,
        "kept": "-" if policy is None else policy.policy,
        "regret": {k: float(v) for k, v in table["regret_target"].items()},
        "harm": harm,
    }


def _in_subprocess(name: str, n: int, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, str(n), str(seed)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"{name} seed {seed} failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def format_rows(results: list[dict]) -> str:
    """One line per world-seed: regret share / harmful share of each rule, then medians."""
    rows = []
    for r in results:
        row = {"world": r["world"], "seed": r["seed"], "kept": r["kept"]}
        for label, key in COLUMNS.items():
            regret = r["regret"].get(key, np.nan)
            harm = r["harm"].get(key)
            row[label] = f"{regret:.2f}" + ("" if harm is None else f" / {harm:.0%}")
        rows.append(row)
    frame = pd.DataFrame(rows)
    median = {"world": "median", "seed": "", "kept": ""}
    worst = {"world": "largest harm", "seed": "", "kept": ""}
    for label, key in COLUMNS.items():
        regrets = [r["regret"].get(key, np.nan) for r in results]
        harms = [r["harm"][key] for r in results if key in r["harm"]]
        median[label] = f"{np.nanmedian(regrets):.2f}" + (
            f" / {np.median(harms):.0%}" if harms else ""
        )
        worst[label] = f"{max(harms):.0%}" if harms else ""
    frame = pd.concat([frame, pd.DataFrame([median, worst])], ignore_index=True)
    return frame.to_string(index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="development", choices=["development", "held_out"])
    parser.add_argument("--worlds", nargs="*", default=None)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, n, seed = args.one
        print(json.dumps(run_one(name, int(n), int(seed))))
        return
    worlds = available_worlds()
    names = args.worlds or [w for w, spec in worlds.items() if spec["split"] == args.split]
    runs = [
        (w, int(round(worlds[w]["n_customers"] * args.scale)), s) for w in names for s in args.seeds
    ]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda r: _in_subprocess(*r), runs))
    print(
        f"regret share / harmful share of the top {TARGET_SHARE:.0%} by predicted risk; "
        f"scale {args.scale}, seeds {args.seeds}"
    )
    print(format_rows(results))


if __name__ == "__main__":
    main()
