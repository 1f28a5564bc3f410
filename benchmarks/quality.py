"""Model quality against the simulator's ground truth, beside the baselines.

For each simulator seed: simulate N customers with the exact ground truth at a
held-out cutoff (2024-07-29, 30-day horizon), train with ``cjml.train`` exactly
as a user would (rolling cutoffs before the held-out one; the held-out cutoff
is never trained on), then score on the held-out customers and labels:

- ``model``: cjml's ChurnModel / NextStageModel;
- ``prior``, ``markov``, ``rfm_logistic``: the baselines of the evaluation report;
- ``oracle``: the simulator's informed truth (``risk_no_action``,
  ``p_next_*``): everything about each customer except whether a silent one
  has already left, weighed by its exact posterior. The bar to reach.
- ``oracle (full)``: also knows who has silently left; a bound no model can
  reach from the log (churn only).

Goals (issue "models", point 3), on every seed: churn ROC AUC within 0.02 of
the oracle's, churn Brier within 7% of the oracle's, next-stage log loss within
5% of the oracle's.

Policy value (issue "recommender", point 3): the mean true drop-off
probability of the test customers when the 20% with the highest predicted risk
each receive a touchpoint (everyone else unchanged), for these policies:
no action; a random eligible touchpoint; the single most common actionable
touchpoint (the most common eligible one where it is not); the touchpoint with
the best raw historical retention rate in the customer's stage; cjml's
recommendation (response model, the default, and the S-learner alternative);
and the oracle's best touchpoint. Eligibility is the journey map's for the
customer's observed stage, the same for every policy; a policy may also give
nothing (cjml does when no touchpoint is expected to help; the oracle when
none truly does). Regret share = (policy - oracle) / (no action - oracle).
Goal: cjml's regret share at most 0.35 and below every naive policy's on every
seed. A second line gives the regret shares when every test customer is
treated (more customers, so less noise: the top 20% are mostly customers who
have almost surely left already, and a few hundred of them carry the result).

    python benchmarks/quality.py [--customers 30000] [--seeds 0 1 2]

``--suite`` runs the scenario suite instead (``benchmarks/_suite.py``): every
world of ``cjml.datasets.SCENARIOS`` plus ``default_simulator`` (this
simulator), one table per split:

    python benchmarks/quality.py --suite [--models-only] [--worlds NAME ...]
        [--split development|held_out|all] [--scale 0.25] [--seeds 0 1]

Simulated data is cached in ``benchmarks/.cache``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from _measure import CACHE

TEST_CUTOFF = "2024-07-29"
GOALS = {"auc_gap": 0.02, "brier_ratio": 0.07, "stage_log_loss_ratio": 0.05}
GOAL_REGRET_SHARE = 0.35
TARGET_SHARE = 0.2


def simulated(
    customers: int, seed: int, cache: str = "quality"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and truth at the test cutoff for one seed, simulated once and cached.

    ``cache`` names the cached files: a script that needs truth columns added later
    (value_quality.py's ``expected_value``) keeps its own, never an older cache's.
    """
    from cjml.datasets import make_journeys

    events_path = CACHE / f"{cache}_{customers}_{seed}_events.parquet"
    truth_path = CACHE / f"{cache}_{customers}_{seed}_truth.parquet"
    if not (events_path.exists() and truth_path.exists()):
        CACHE.mkdir(exist_ok=True)
        data = make_journeys(customers, n_days=240, truth_cutoffs=[TEST_CUTOFF], random_state=seed)
        data.events.to_parquet(events_path)
        data.truth.to_parquet(truth_path)
    return pd.read_parquet(events_path), pd.read_parquet(truth_path)


def evaluate_seed(customers: int, seed: int) -> dict:
    """Train on one seed and compare model, baselines and oracles on the held-out cutoff."""
    import cjml
    from cjml.evaluation import churn_metrics, stage_metrics

    events, truth = simulated(customers, seed)
    started = time.perf_counter()
    log = cjml.read_events(events)
    bundle, report = cjml.train(log, test_cutoff=TEST_CUTOFF)
    seconds = time.perf_counter() - started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        test = cjml.make_training_set(log, [TEST_CUTOFF], featurizer=bundle.featurizer)
    test = test.join(
        truth.set_index("customer_id").drop(columns=["cutoff", "stage"]),
        on="customer_id",
        validate="one_to_one",
    )
    if test["risk_no_action"].isna().any():
        raise RuntimeError(
            "Some test customers have no ground truth; the comparison would not "
            "be on the same rows."
        )
    classes = list(bundle.models["next_stage"].classes_)
    y, stages = test["churn"].to_numpy(), test["next_stage"].astype(str).to_numpy()
    churn = report.churn[["roc_auc", "brier", "log_loss"]].copy()
    stage = report.next_stage[["log_loss", "accuracy", "macro_f1"]].copy()
    # The report's model row must be what the bundle predicts on these rows.
    risk = bundle.models["churn"].predict_proba(test[bundle.feature_names])[:, 1]
    assert np.isclose(churn_metrics(y, risk)["brier"], churn.loc["model", "brier"])
    for name, column in (("oracle", "risk_no_action"), ("oracle (full)", "risk_full_no_action")):
        m = churn_metrics(y, test[column].to_numpy())
        churn.loc[name] = [m["roc_auc"], m["brier"], m["log_loss"]]
    oracle_proba = test[[f"p_next_{c}" for c in classes]].to_numpy()
    m = stage_metrics(stages, oracle_proba, classes)
    stage.loc["oracle"] = [m["log_loss"], m["accuracy"], m["macro_f1"]]
    policy = policy_values(bundle, log, test, risk)
    return {
        "churn": churn,
        "stage": stage,
        "seconds": seconds,
        "n_test": len(test),
        "n_train": report.info["n_train"],
        "churn_rate": float(y.mean()),
        "policy": policy,
    }


def historical_retention(log, end: pd.Timestamp, horizon: pd.Timedelta) -> pd.DataFrame:
    """Share of deliveries of each actionable touchpoint, per stage, followed by another event.

    The naive "what worked before" rule: from the events whose horizon ends by
    ``end``, the raw rate at which customers had another event within the
    horizon after each touchpoint, by (stage, touchpoint). No adjustment for
    who got it.
    """
    f = log.frame[["customer_id", "timestamp", "touchpoint", "stage"]]
    nxt = f.groupby("customer_id", observed=True)["timestamp"].shift(-1)
    ok = f["timestamp"] + horizon <= end
    retained = (nxt - f["timestamp"]) <= horizon
    table = pd.DataFrame(
        {
            "stage": f["stage"].astype(str),
            "touchpoint": f["touchpoint"].astype(str),
            "retained": retained,
        }
    )[ok.to_numpy()]
    return table.groupby(["stage", "touchpoint"])["retained"].mean().unstack()


def policy_values(bundle, log, test: pd.DataFrame, risk: np.ndarray) -> pd.DataFrame:
    """True mean drop-off under each policy, and its regret share; see the module docstring."""
    from cjml.recommend import TouchpointRecommender

    jm = bundle.journey_map
    touchpoints = list(jm.actionable_touchpoints)
    names = bundle.feature_names
    X = test[names]
    stage = X["current_stage"].to_numpy(dtype=float)
    stage = np.where(np.isnan(stage), -1, stage).astype(int)
    columns = [list(jm.touchpoint_names).index(t) for t in touchpoints]
    eligible = jm.eligibility_matrix()[:, columns][np.maximum(stage, 0)] & (stage >= 0)[:, None]
    none = test["risk_no_action"].to_numpy()
    truth = test[[f"risk_{t}" for t in touchpoints]].to_numpy()
    truth = np.where(np.isnan(truth), none[:, None], truth)  # not deliverable: nothing changes
    rows = np.arange(len(X))
    n_target = int(round(TARGET_SHARE * len(X)))
    target = np.zeros(len(X), dtype=bool)
    target[np.argsort(-risk, kind="stable")[:n_target]] = True

    def by_name(chosen) -> np.ndarray:
        idx = pd.Index(touchpoints).get_indexer(pd.Series(chosen, dtype=object))
        return idx  # -1: nothing

    def value(choice: np.ndarray, who: np.ndarray) -> float:
        ok = who & (choice >= 0)
        out = none.copy()
        out[ok] = truth[rows[ok], choice[ok]]
        return float(out.mean())

    masked = np.where(eligible, truth, np.inf)
    oracle = np.where(masked.min(axis=1) < none, masked.argmin(axis=1), -1)
    rng = np.random.default_rng(0)
    random_choice = np.array([rng.choice(np.flatnonzero(e)) if e.any() else -1 for e in eligible])
    counts = log.frame["touchpoint"].astype(str).value_counts()
    popularity = np.array([counts.get(t, 0) for t in touchpoints], dtype=float)
    common = np.where(eligible.any(axis=1), np.where(eligible, popularity, -1.0).argmax(axis=1), -1)
    end = pd.Timestamp(TEST_CUTOFF, tz="UTC")
    rates = historical_retention(log, end, pd.Timedelta(bundle.metadata["horizon"]))
    rates = rates.reindex(index=list(jm.stages), columns=touchpoints).to_numpy()
    by_stage = np.where(eligible, np.nan_to_num(rates[np.maximum(stage, 0)], nan=-1.0), -2.0)
    best_raw = np.where(eligible.any(axis=1), by_stage.argmax(axis=1), -1)
    policies = {
        "no action": np.full(len(X), -1),
        "random eligible": random_choice,
        "most common": common,
        "best raw retention in stage": best_raw,
    }
    for label, method in (("cjml", "response"), ("cjml (S-learner)", "s-learner")):
        rec = TouchpointRecommender.from_bundle(bundle, method=method).recommend(
            log, cutoff=TEST_CUTOFF, features=X, churn_risk=risk, top_k=1
        )
        policies[label] = by_name(rec["recommended_touchpoint"].to_numpy())
    policies["oracle"] = oracle
    everyone = np.ones(len(X), dtype=bool)
    table = pd.DataFrame(
        {
            "top 20%": {k: value(c, target) for k, c in policies.items()},
            "everyone": {k: value(c, everyone) for k, c in policies.items()},
        }
    )
    for col in ("top 20%", "everyone"):
        gap = table.loc["no action", col] - table.loc["oracle", col]
        table[f"regret share ({col})"] = (table[col] - table.loc["oracle", col]) / gap
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (with --suite: 0)"
    )
    suite = parser.add_argument_group("scenario suite (benchmarks/_suite.py)")
    suite.add_argument(
        "--suite",
        action="store_true",
        help="run the scenario suite instead of the single simulator",
    )
    suite.add_argument("--worlds", nargs="+", metavar="NAME", help="default every world")
    suite.add_argument("--split", choices=["development", "held_out", "all"], default="all")
    suite.add_argument(
        "--scale", type=float, default=1.0, help="multiplies each world's default customer count"
    )
    suite.add_argument(
        "--models-only",
        action="store_true",
        help="train and measure the churn and next-stage models only (no recommender: much faster)",
    )
    suite.add_argument(
        "--policy-test",
        choices=["normalised", "inverse", "overlap"],
        default="normalised",
        help="how the bundle tests the candidate policies (cjml.effects.choose_policy test=)",
    )
    args = parser.parse_args()
    if args.suite:
        from _suite import run_suite

        run_suite(
            worlds=args.worlds,
            split=args.split,
            scale=args.scale,
            seeds=args.seeds if args.seeds is not None else [0],
            models_only=args.models_only,
            policy_test=args.policy_test,
        )
        return
    if args.seeds is None:
        args.seeds = [0, 1, 2]
    print(
        f"cjml.train vs baselines vs the simulator's oracle; {args.customers:,} customers per "
        f"seed, held-out cutoff {TEST_CUTOFF}, 30-day horizon"
    )
    verdicts = []
    for seed in args.seeds:
        r = evaluate_seed(args.customers, seed)
        table = pd.concat(
            [r["churn"].add_prefix("churn "), r["stage"].add_prefix("next-stage ")], axis=1
        )
        print(
            f"\nseed {seed}: {r['n_test']:,} test customers (churn rate {r['churn_rate']:.1%}), "
            f"{r['n_train']:,} training rows, trained and evaluated in {r['seconds']:.0f} s"
        )
        print(table.to_string(float_format=lambda v: f"{v:.4f}", na_rep=""))
        c, s = r["churn"], r["stage"]
        gaps = {
            "auc_gap": c.loc["oracle", "roc_auc"] - c.loc["model", "roc_auc"],
            "brier_ratio": c.loc["model", "brier"] / c.loc["oracle", "brier"] - 1,
            "stage_log_loss_ratio": s.loc["model", "log_loss"] / s.loc["oracle", "log_loss"] - 1,
        }
        ok = {k: v <= GOALS[k] for k, v in gaps.items()}
        p = r["policy"]
        print(
            f"\npolicy value: mean true drop-off probability of the {r['n_test']:,} test "
            f"customers when the top {TARGET_SHARE:.0%} by predicted risk (or everyone) get "
            f"the policy's touchpoint"
        )
        print(p.to_string(float_format=lambda v: f"{v:.7f}"))
        share = p["regret share (top 20%)"]
        naive = share.drop(["cjml", "cjml (S-learner)", "oracle", "no action"])
        ok["regret_share"] = share["cjml"] <= GOAL_REGRET_SHARE and (share["cjml"] < naive).all()
        print(
            f"goal: cjml regret share {share['cjml']:.3f} (<= {GOAL_REGRET_SHARE}, and below "
            f"every naive policy's: best naive {naive.min():.3f}) "
            f"{'met' if ok['regret_share'] else 'NOT met'}"
        )
        verdicts.append(all(ok.values()))
        print(
            f"goals: AUC {gaps['auc_gap']:+.4f} below the oracle (<= {GOALS['auc_gap']}) "
            f"{'met' if ok['auc_gap'] else 'NOT met'}; Brier {gaps['brier_ratio']:+.1%} "
            f"(<= +{GOALS['brier_ratio']:.0%}) {'met' if ok['brier_ratio'] else 'NOT met'}; "
            f"next-stage log loss {gaps['stage_log_loss_ratio']:+.1%} "
            f"(<= +{GOALS['stage_log_loss_ratio']:.0%}) "
            f"{'met' if ok['stage_log_loss_ratio'] else 'NOT met'}"
        )
    print(f"\nall goals met on {sum(verdicts)} of {len(verdicts)} seeds")


if __name__ == "__main__":
    main()
