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

    python benchmarks/quality.py [--customers 30000] [--seeds 0 1 2]

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


def simulated(customers: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and truth at the test cutoff for one seed, simulated once and cached."""
    from cjml.datasets import make_journeys

    events_path = CACHE / f"quality_{customers}_{seed}_events.parquet"
    truth_path = CACHE / f"quality_{customers}_{seed}_truth.parquet"
    if not (events_path.exists() and truth_path.exists()):
        CACHE.mkdir(exist_ok=True)
        data = make_journeys(customers, n_days=240, truth_cutoffs=[TEST_CUTOFF],
                             random_state=seed)
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
    test = test.join(truth.set_index("customer_id").drop(columns=["cutoff", "stage"]),
                     on="customer_id", validate="one_to_one")
    if test["risk_no_action"].isna().any():
        raise RuntimeError("Some test customers have no ground truth; the comparison would not "
                           "be on the same rows.")
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
    return {"churn": churn, "stage": stage, "seconds": seconds, "n_test": len(test),
            "n_train": report.info["n_train"], "churn_rate": float(y.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    print(f"cjml.train vs baselines vs the simulator's oracle; {args.customers:,} customers per "
          f"seed, held-out cutoff {TEST_CUTOFF}, 30-day horizon")
    verdicts = []
    for seed in args.seeds:
        r = evaluate_seed(args.customers, seed)
        table = pd.concat([r["churn"].add_prefix("churn "),
                           r["stage"].add_prefix("next-stage ")], axis=1)
        print(f"\nseed {seed}: {r['n_test']:,} test customers (churn rate {r['churn_rate']:.1%}), "
              f"{r['n_train']:,} training rows, trained and evaluated in {r['seconds']:.0f} s")
        print(table.to_string(float_format=lambda v: f"{v:.4f}", na_rep=""))
        c, s = r["churn"], r["stage"]
        gaps = {"auc_gap": c.loc["oracle", "roc_auc"] - c.loc["model", "roc_auc"],
                "brier_ratio": c.loc["model", "brier"] / c.loc["oracle", "brier"] - 1,
                "stage_log_loss_ratio": s.loc["model", "log_loss"] / s.loc["oracle", "log_loss"] - 1}
        ok = {k: v <= GOALS[k] for k, v in gaps.items()}
        verdicts.append(all(ok.values()))
        print(f"goals: AUC {gaps['auc_gap']:+.4f} below the oracle (<= {GOALS['auc_gap']}) "
              f"{'met' if ok['auc_gap'] else 'NOT met'}; Brier {gaps['brier_ratio']:+.1%} "
              f"(<= +{GOALS['brier_ratio']:.0%}) {'met' if ok['brier_ratio'] else 'NOT met'}; "
              f"next-stage log loss {gaps['stage_log_loss_ratio']:+.1%} "
              f"(<= +{GOALS['stage_log_loss_ratio']:.0%}) "
              f"{'met' if ok['stage_log_loss_ratio'] else 'NOT met'}")
    print(f"\nall goals met on {sum(verdicts)} of {len(verdicts)} seeds")


if __name__ == "__main__":
    main()
