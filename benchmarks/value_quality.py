"""Customer value against the simulators' true expected spend (issue 22).

For each world and seed: simulate it with its ground truth at a held-out
cutoff, train with ``cjml.train`` as a user would (rolling cutoffs before the
held-out one, ``recommender=False``: the value does not depend on it), then
predict, for the customers the churn model scores at the held-out cutoff
(``make_training_set``: active within the lookback):

- ``cjml``: ``bundle.models["value"].predict_value(X, churn risk)["expected_value"]``,
  the expected spend over the horizon, ``(1 - risk) * V``;
- ``BG/NBD x Gamma-Gamma``: cjml's scipy fit on the purchases up to the cutoff
  (:func:`cjml.value._btyd.btyd_predictions`), and ``spend per week``;

against the truth's ``expected_value``: the expected spend in the horizon
under business as usual, knowing everything about each customer but whether a
silent one has already left (the simulators' oracle). Reported: Spearman with
the truth, normalised Gini and top-20% capture of the *true* value by each
ordering, total predicted / true, and calibration by decile of the prediction
(mean predicted / mean true value in each tenth of the customers by
prediction; goal, as in the issue: within 10%). The verdict judges the top
deciles that together hold ``JUDGED_SHARE`` (95%) of the true value: on
cjml's simulator about half the scored customers are long gone (true value
~0.01, churn risk ~0.998), and the decile at the edge of that group holds
under 1% of the value, a ratio of two tiny means set by a handful of
customers; every ratio is printed all the same. Under cjml's row, its decile
ratios split into their two factors (:func:`decompose`): the chance of
staying, ``1 - risk`` against ``1 - risk_no_action``, and the value if
retained, ``V`` against ``expected_value / (1 - risk_no_action)``.

Worlds: cjml's own simulator (``make_journeys``, sample-like: 240 days,
held-out cutoff 2024-07-29, 30-day horizon) over ``--seeds``; with
``--suite``, every world of the scenario suite (development and held-out) whose
truth has ``expected_value`` (worlds without purchase amounts are skipped, and
said so).

With ``--saved``, ``cjml.train`` also fits the recommender, and a last table
sets the value saved by each customer's first-ranked touchpoint
(``expected_value_saved`` = reduction x ``value_if_retained`` - cost) against
the truth's ``(risk_no_action - risk_<touchpoint>) x V_true - cost``, ``V_true``
= ``expected_value / (1 - risk_no_action)``: totals over the customers given a
touchpoint, Spearman, the share whose true value saved is below 0, and the
mean predicted and true risk reduction;
development and held-out worlds apart, for the policy chosen at training
(``auto``) and for the doubly robust ranking as if its gate were off (``dr``),
each with the reductions scaled as trained (the share of the method's
predicted gain that the held-out period bears out,
:meth:`cjml.effects.PolicyChoice.confirmed`), unscaled (as before that share
existed) and scaled by the share the inverse-weighted difference gives.

    python benchmarks/value_quality.py [--customers 6000] [--seeds 0 1 2]
        [--suite] [--suite-seeds 0] [--scale 0.25] [--saved]

Simulated data is cached in ``benchmarks/.cache``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

TEST_CUTOFF = "2024-07-29"
#: calibration goal: mean predicted / mean true value within 10% in every decile
GOAL_DECILE = 0.10
#: the verdict judges the top deciles (by prediction) that together hold this share of the
#: true value
JUDGED_SHARE = 0.95


def simulated(customers: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and truth (with ``expected_value``) of cjml's simulator, cached."""
    from quality import simulated as quality_simulated

    return quality_simulated(customers, seed, cache="value")


def decile_ratios(predicted: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean predicted / mean true value per tenth of the customers by prediction.

    Returns the ratios and a mask of the deciles that count: the fewest top
    deciles whose true value makes up at least ``JUDGED_SHARE`` of the total.
    """
    order = np.argsort(predicted, kind="stable")
    groups = np.array_split(order, 10)
    pred_mean = np.array([predicted[g].mean() for g in groups])
    true_mean = np.array([true[g].mean() for g in groups])
    share = np.array([true[g].sum() for g in groups]) / max(true.sum(), 1e-12)
    above = np.cumsum(share[::-1])[::-1] - share  # the true value of the deciles above each
    counts = above < JUDGED_SHARE
    with np.errstate(divide="ignore", invalid="ignore"):
        return pred_mean / true_mean, counts


def decompose(
    predicted: np.ndarray,
    stay: np.ndarray,
    retained: np.ndarray,
    true: np.ndarray,
    true_risk: np.ndarray,
) -> dict:
    """cjml's decile ratios split into its two factors, ``expected_value = (1 - risk) x V``.

    Per tenth of the customers by predicted value (as :func:`decile_ratios`): the mean
    predicted chance of staying over the true one (``1 - risk_no_action``), and cjml's
    value if retained over the true one (``expected_value / (1 - risk_no_action)``), each
    weighted by the chance of staying (its own, then the true one), so that their
    product is close to the decile's ratio. Which factor misses says where to look.
    """
    order = np.argsort(predicted, kind="stable")
    stay_ratio, value_ratio = [], []
    true_stay = 1 - true_risk
    for g in np.array_split(order, 10):
        stay_ratio.append(stay[g].mean() / max(true_stay[g].mean(), 1e-12))
        ours = np.sum(retained[g] * stay[g]) / max(stay[g].sum(), 1e-12)
        theirs = true[g].sum() / max(true_stay[g].sum(), 1e-12)
        value_ratio.append(ours / theirs if theirs > 0 else np.nan)
    return {"stay": np.array(stay_ratio), "retained": np.array(value_ratio)}


def judge(predicted: np.ndarray, true: np.ndarray) -> dict:
    """The value metrics of a forecast against the true expected value, and its decile check."""
    from cjml.value import value_metrics

    m = value_metrics(true, predicted)
    ratios, counts = decile_ratios(predicted, true)
    judged = ratios[counts]
    return {
        "spearman": m["spearman"],
        "gini": m["normalised_gini"],
        "top20": m["top20_capture"],
        "ratio": m["revenue_ratio"],
        "deciles": ratios,
        "counted": counts,
        "judged": int(counts.sum()),
        "within": int(np.sum(np.abs(judged - 1) <= GOAL_DECILE)),
        "worst": float(np.max(np.abs(judged - 1))) if len(judged) else np.nan,
    }


#: the recommender's methods whose value saved is compared with the truth: the policy chosen
#: at training ("auto": often "no action" when no method beat doing nothing on the held-out
#: period) and the doubly robust ranking itself, as if that gate were off
SAVED_METHODS = ("auto", "dr")
#: how the reductions are scaled (PolicyChoice.confirmed): as trained (the share of each
#: method's predicted gain the overlap-weighted held-out difference bears out), not at all
#: (the recommender before the share existed), or by the inverse-weighted difference's share
SAVED_SHARES = ("trained", "unscaled", "inverse")


def _with_shares(policy, share: str):
    """The bundle's policy with its ``confirmed`` column replaced as ``share`` says."""
    from dataclasses import replace

    from scipy.stats import norm

    from cjml.effects import confirmed_share

    table = policy.table.copy()
    if share == "unscaled":
        table["confirmed"] = 1.0
    elif share == "inverse":
        z = norm.ppf(0.9)  # the bounds in the table are one-sided at cjml.train's level 0.9
        table["confirmed"] = [
            confirmed_share(
                -r.vs_no_action, (r.vs_no_action_high - r.vs_no_action) / z, r.predicted_gain
            )
            for r in table.itertuples()
        ]
    return replace(policy, table=table)


def value_saved(
    bundle, log, truth: pd.DataFrame, cutoff, method: str = "auto", share: str = "trained"
) -> dict:
    """The recommender's first-ranked touchpoints: predicted against true value saved.

    True value saved = ``(risk_no_action - risk_<touchpoint>) * V_true - cost``,
    ``V_true`` = ``expected_value / (1 - risk_no_action)`` (the expected spend
    of a customer who stays: the truth's counterpart of ``value_if_retained``;
    both reductions count the chance of reaching the customer). Over the
    customers given a touchpoint: their number, the totals, the Spearman
    correlation, the share whose true value saved is below 0, and the mean
    predicted and true risk reduction.
    """
    from scipy.stats import spearmanr

    from cjml.recommend import TouchpointRecommender

    recommender = TouchpointRecommender.from_bundle(bundle, method=method)
    if share != "trained" and recommender.policy is not None:
        recommender.policy = _with_shares(recommender.policy, share)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        recs = recommender.recommend(log, cutoff=cutoff, lookback=bundle.metadata.get("lookback"))
    given = recs[recs["recommended_touchpoint"].notna()]
    out = {"n": len(given), "predicted": np.nan, "true": np.nan}
    out.update(spearman=np.nan, negative=np.nan, reduction=np.nan, true_reduction=np.nan)
    if not len(given) or "expected_value_saved" not in given.columns:
        return out
    t = truth.set_index("customer_id").reindex(given.index)
    base = t["risk_no_action"].to_numpy(dtype=float)
    arm = np.array(
        [
            t[f"risk_{tp}"].iloc[i] if f"risk_{tp}" in t.columns else np.nan
            for i, tp in enumerate(given["recommended_touchpoint"].astype(str))
        ],
        dtype=float,
    )
    stay = 1.0 - base
    spend = t["expected_value"].to_numpy(dtype=float)
    v_true = np.where(stay > 1e-12, spend / np.maximum(stay, 1e-12), 0.0)
    cost = given["cost"].to_numpy(dtype=float) if "cost" in given.columns else np.zeros(len(given))
    true = (base - arm) * v_true - np.nan_to_num(cost)
    predicted = given["expected_value_saved"].to_numpy(dtype=float)
    known = np.isfinite(true) & np.isfinite(predicted)
    reduction = given["expected_risk_reduction"].to_numpy(dtype=float)
    out.update(
        predicted=float(predicted[known].sum()),
        true=float(true[known].sum()),
        spearman=float(spearmanr(predicted[known], true[known])[0]) if known.sum() > 2 else np.nan,
        negative=float(np.mean(true[known] < 0)) if known.any() else np.nan,
        # mean risk reduction, predicted and true: where the value saved's gap comes from
        reduction=float(np.mean(reduction[known])) if known.any() else np.nan,
        true_reduction=float(np.mean((base - arm)[known])) if known.any() else np.nan,
        unknown=int((~known).sum()),
    )
    return out


def evaluate(log, truth: pd.DataFrame, cutoff, horizon: str, saved: bool = False) -> dict:
    """Train cjml before ``cutoff``; cjml's and the baselines' value against the truth."""
    import cjml
    from cjml.value._btyd import btyd_predictions

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bundle, _ = cjml.train(log, horizon=horizon, test_cutoff=cutoff, recommender=saved)
        test = cjml.make_training_set(log, [cutoff], horizon=horizon, featurizer=bundle.featurizer)
    seconds = time.perf_counter() - started
    if "value" not in bundle.models:
        raise RuntimeError(
            f"cjml.train fitted no value model ({bundle.metadata.get('value')}): "
            "merge the value model's branch first"
        )
    truth_columns = ["expected_value", "risk_no_action"]
    test = test.join(truth.set_index("customer_id")[truth_columns], on="customer_id")
    if test["expected_value"].isna().any():
        raise RuntimeError("some test customers have no ground truth: the rows are not aligned")
    X = test[bundle.feature_names]
    risk = bundle.models["churn"].predict_proba(X)[:, 1]
    value = bundle.models["value"].predict_value(X, risk)
    ours = value["expected_value"].to_numpy()
    true = test["expected_value"].to_numpy()
    parts = decompose(
        ours,
        1 - risk,
        value["value_if_retained"].to_numpy(),
        true,
        test["risk_no_action"].to_numpy(dtype=float),
    )
    baselines = btyd_predictions(log, cutoff, test["customer_id"].to_numpy(), horizon)
    rows = {"cjml ValueModel": judge(ours, true)}
    rows.update({name: judge(np.asarray(p), true) for name, p in baselines.items()})
    out = {
        "rows": rows,
        "n": len(test),
        "true_total": float(true.sum()),
        "seconds": seconds,
        "decomposition": parts,
    }
    if saved:
        out["saved"] = {
            (m, share): value_saved(bundle, log, truth, cutoff, m, share)
            for m in SAVED_METHODS
            for share in SAVED_SHARES
        }
    return out


def print_world(name: str, result: dict) -> None:
    print(
        f"-- {name}: {result['n']:,} customers scored, true expected spend "
        f"{result['true_total']:,.0f} in all; trained in {result['seconds']:.0f} s"
    )
    print(
        f"   {'model':22} {'Spearman':>8} {'Gini':>6} {'top-20%':>7} {'pred/true':>9} "
        f"{'deciles within 10%':>18} {'worst':>6}  predicted/true by decile (low .. high; "
        f"* judged: the top deciles holding {JUDGED_SHARE:.0%} of the true value)"
    )
    for model, r in result["rows"].items():
        deciles = " ".join(
            ("  -  " if not np.isfinite(v) else f"{v:5.2f}") + ("*" if judged else " ")
            for v, judged in zip(r["deciles"], r["counted"], strict=True)
        )
        print(
            f"   {model:22} {r['spearman']:8.3f} {r['gini']:6.3f} {r['top20']:7.3f} "
            f"{r['ratio']:9.3f} {r['within']:>11} of {r['judged']:<4} {r['worst']:6.2f}  {deciles}"
        )
    parts = result.get("decomposition")
    if parts is not None:
        counted = result["rows"]["cjml ValueModel"]["counted"]
        for label, key in (
            ("cjml: chance of staying", "stay"),
            ("cjml: value if retained", "retained"),
        ):
            ratios = " ".join(
                ("  -  " if not np.isfinite(v) else f"{v:5.2f}") + ("*" if judged else " ")
                for v, judged in zip(parts[key], counted, strict=True)
            )
            print(f"   {label + ', predicted/true':>{22 + 57}}  {ratios}")


def simulator_worlds(
    customers: int, seeds: list[int], saved: bool = False
) -> list[tuple[str, dict]]:
    import cjml

    out = []
    for seed in seeds:
        events, truth = simulated(customers, seed)
        result = evaluate(
            cjml.read_events(events), truth, pd.Timestamp(TEST_CUTOFF, tz="UTC"), "30D", saved
        )
        result["split"] = "development"
        name = f"make_journeys({customers}, n_days=240, random_state={seed})"
        print_world(name, result)
        out.append((name, result))
    return out


def suite_worlds(scale: float, seeds: list[int], saved: bool = False) -> list[tuple[str, dict]]:
    import cjml
    from cjml.datasets import DEVELOPMENT_SCENARIOS, HELD_OUT_SCENARIOS, SCENARIOS, make_scenario

    out = []
    for split, names in (("development", DEVELOPMENT_SCENARIOS), ("held_out", HELD_OUT_SCENARIOS)):
        print(f"== scenario suite, {split} worlds")
        for world in names:
            for seed in seeds:
                n = max(500, int(SCENARIOS[world].n_customers * scale))
                data = make_scenario(world, n_customers=n, seed=seed)
                if "expected_value" not in data.truth.columns:
                    print(f"-- {world}: its truth has no expected_value: skipped")
                    break
                if not (data.events["amount"] > 0).any():
                    print(f"-- {world}: no purchase amounts: skipped")
                    break
                log = cjml.read_events(data.events, journey_map=data.journey_map)
                result = evaluate(
                    log, data.truth, data.test_cutoff, f"{int(data.horizon_days)}D", saved
                )
                result["split"] = split
                name = f"{world} ({split}, {n:,} customers, seed {seed})"
                print_world(name, result)
                out.append((name, result))
    return out


def summary(results: list[tuple[str, dict]]) -> None:
    """The verdicts over every world: Spearman and decile calibration, cjml beside BG/NBD."""
    print(
        "== summary (cjml ValueModel, then BG/NBD x Gamma-Gamma; judged: the top deciles "
        f"by prediction holding {JUDGED_SHARE:.0%} of the true value)"
    )
    for name, result in results:
        ours = result["rows"]["cjml ValueModel"]
        bg = result["rows"].get("BG/NBD x Gamma-Gamma")
        verdict = "PASS" if ours["within"] == ours["judged"] else "FAIL"
        line = (
            f"   {name:60} Spearman {ours['spearman']:.3f}, deciles within 10%: "
            f"{ours['within']}/{ours['judged']} {verdict}"
        )
        if bg is not None:
            line += f"; BG/NBD Spearman {bg['spearman']:.3f}, {bg['within']}/{bg['judged']}"
        print(line)


def saved_summary(results: list[tuple[str, dict]]) -> None:
    """Predicted against true value saved by the first-ranked touchpoints, per split."""
    print(
        "== value saved by the first-ranked touchpoints: predicted against the truth's "
        "(risk_no_action - risk_<touchpoint>) x V_true - cost, over the customers given one"
    )
    print(
        f"   {'world':60} {'method':6} {'shares':8} {'customers':>9} {'predicted':>10} "
        f"{'true':>10} {'Spearman':>8} {'true < 0':>8} {'reduction':>9} {'true red.':>9}"
    )
    for split in ("development", "held_out"):
        rows = [(n, r["saved"]) for n, r in results if r.get("split") == split and "saved" in r]
        if not rows:
            continue
        print(f"   -- {split}")
        for method in SAVED_METHODS:
            for share in SAVED_SHARES:
                key = (method, share)
                for name, by_method in rows:
                    v = by_method[key]
                    print(
                        f"   {name:60} {method:6} {share:8} {v['n']:9,} {v['predicted']:10,.0f} "
                        f"{v['true']:10,.0f} {v['spearman']:8.3f} {v['negative']:8.1%} "
                        f"{v['reduction']:9.4f} {v['true_reduction']:9.4f}"
                    )
                done = [r[key] for _, r in rows if np.isfinite(r[key]["predicted"])]
                print(
                    f"   {'all ' + split:60} {method:6} {share:8} "
                    f"{sum(v['n'] for v in done):9,} {sum(v['predicted'] for v in done):10,.0f} "
                    f"{sum(v['true'] for v in done):10,.0f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=6000, help="simulator customers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--suite", action="store_true", help="also every world of the scenario suite"
    )
    parser.add_argument(
        "--scale", type=float, default=0.25, help="suite worlds' size, share of the default"
    )
    parser.add_argument(
        "--suite-seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds of the suite worlds (default: the first of --seeds)",
    )
    parser.add_argument(
        "--saved",
        action="store_true",
        help="also train the recommender and compare its value saved with the truth's",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"== cjml's simulator: {args.customers:,} customers over 240 days, held-out cutoff "
        f"{TEST_CUTOFF}, 30-day horizon"
    )
    results = simulator_worlds(args.customers, args.seeds, args.saved)
    if args.suite:
        results += suite_worlds(args.scale, args.suite_seeds or args.seeds[:1], args.saved)
    summary(results)
    if args.saved:
        saved_summary(results)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
