"""How far an untuned LightGBM on the default features is from the simulator's oracle.

A reference point for the models issue (its ``benchmarks/quality.py`` replaces
this): simulate, build a training set on rolling cutoffs before a held-out later
cutoff, fit plain ``lightgbm.LGBMClassifier`` models for churn and next stage,
and compare them on the held-out cutoff with the ground truth on the same
customers and labels:

- the *informed* oracle (``risk_no_action``, ``p_next_*``): knows everything
  about each customer except whether a silent one has already left, weighed by
  its exact posterior; the bar a model is measured against;
- the *full* oracle (``risk_full_no_action``): also knows who has left; a bound
  no model can reach from the log.

    python benchmarks/oracle_gap.py [--customers 30000] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd


def gap(customers: int, seed: int) -> dict:
    """Metrics of the untuned models and of both oracles for one simulator seed."""
    import lightgbm as lgb
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    import cjml
    from cjml.datasets import make_journeys

    test_cutoff = pd.Timestamp("2024-07-29", tz="UTC")
    data = make_journeys(customers, n_days=240, truth_cutoffs=[test_cutoff], random_state=seed)
    log = cjml.read_events(data.events)
    cutoffs = cjml.rolling_cutoffs(log, n=6, step="15D")
    train_cutoffs = [c for c in cutoffs if c + pd.Timedelta(days=30) <= test_cutoff]
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=train_cutoffs[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        train = cjml.make_training_set(log, train_cutoffs, featurizer=featurizer)
        test = cjml.make_training_set(log, [test_cutoff], featurizer=featurizer)
    features = list(featurizer.feature_names_out_)
    params = {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 31,
              "min_child_samples": 50, "verbose": -1, "random_state": seed}
    churn = lgb.LGBMClassifier(**params).fit(train[features], train["churn"])
    stage = lgb.LGBMClassifier(**params).fit(train[features], train["next_stage"].astype(str))

    truth = data.truth.set_index("customer_id")
    test = test.join(truth.drop(columns=["cutoff", "stage"]), on="customer_id")
    y = test["churn"].to_numpy()
    classes = [*log.journey_map.stages, "dropped"]
    y_stage = test["next_stage"].astype(str).map({c: i for i, c in enumerate(classes)})
    p_model = churn.predict_proba(test[features])[:, 1]
    p_stage = (pd.DataFrame(stage.predict_proba(test[features]), columns=stage.classes_)
               .reindex(columns=classes, fill_value=0.0).to_numpy())
    q_stage = test[[f"p_next_{c}" for c in classes]].to_numpy()

    def stage_loss(p: np.ndarray) -> float:
        p = np.clip(p, 1e-6, 1)
        return log_loss(y_stage, p / p.sum(axis=1, keepdims=True), labels=range(len(classes)))

    return {
        "rows": (len(train), len(test)),
        "auc": [roc_auc_score(y, p) for p in (p_model, test["risk_no_action"],
                                              test["risk_full_no_action"])],
        "brier": [brier_score_loss(y, p) for p in (p_model, test["risk_no_action"],
                                                   test["risk_full_no_action"])],
        "stage_log_loss": [stage_loss(p_stage), stage_loss(q_stage)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    print(f"untuned LightGBM vs the simulator's oracles; {args.customers:,} customers, "
          "train on rolling cutoffs, test on 2024-07-29 (30-day horizon)")
    print(f"{'seed':>4} {'metric':16} {'model':>8} {'informed':>9} {'full':>8}  model vs informed")
    for seed in args.seeds:
        started = time.perf_counter()
        r = gap(args.customers, seed)
        a, b, s = r["auc"], r["brier"], r["stage_log_loss"]
        print(f"{seed:>4} {'churn ROC AUC':16} {a[0]:8.4f} {a[1]:9.4f} {a[2]:8.4f}  "
              f"{a[0] - a[1]:+.4f}")
        print(f"{'':>4} {'churn Brier':16} {b[0]:8.4f} {b[1]:9.4f} {b[2]:8.4f}  "
              f"{b[0] / b[1] - 1:+.1%}")
        print(f"{'':>4} {'next-stage logloss':16} {s[0]:8.4f} {s[1]:9.4f} {'':>8}  "
              f"{s[0] / s[1] - 1:+.1%}")
        print(f"{'':>4} rows train/test {r['rows'][0]:,}/{r['rows'][1]:,}; "
              f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
