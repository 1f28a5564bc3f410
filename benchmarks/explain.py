"""Throughput of explanations: top drivers per customer, from a LightGBM model.

Two models of realistic size, trained once on the sample's features at
rolling cutoffs and cached under ``benchmarks/.cache/``: churn (binary) and
next stage (6 classes), each 400 boosting rounds of 31-leaf trees (the
next-stage model is 2,400 trees). The customers are the sample's features at
one cutoff, tiled to N rows. Cases, each in a fresh process, the time
including the model call:

- ``predict`` (reference): ``booster.predict(X)``, the probabilities alone;
- ``pred_leaf``: ``booster.predict(X, pred_leaf=True)``, what ``saabas`` needs;
- ``pred_contrib``: ``booster.predict(X, pred_contrib=True)`` alone (TreeSHAP),
  also on 1 thread, on float32 input, and with the first 100 rounds only;
- ``explain saabas``: ``cjml.explanations.explain(..., method="saabas")`` then
  ``top_drivers_text``: contributions, families, top 3, wording, one line per
  customer;
- ``explain shap``: the same with exact TreeSHAP (``method="shap"``).

TreeSHAP is far slower than the rest, so its cases run on ``--shap-customers``
rows (default 1,000); rates are per second either way.

Then the same for the models ``cjml`` itself trains at scale: the churn and
next-stage models ``models.py`` fits on its 1M-row training table (run it
first), explained on the first ``--customers`` rows of that table:
``predict both`` (the reference: churn risk, then next-stage probabilities),
``explain churn`` and ``explain next stage`` (saabas + text), each in a
fresh process. ``--trained-only`` runs only this part.

Goal (issue "explanations"): at least 50,000 customers/s on 2 cores.

    python benchmarks/explain.py [--customers 200000] [--shap-customers 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
from _measure import CACHE, repeat, run_case

GOAL = 50_000
CUTOFF = "2024-07-29"
PARAMS = {
    "n_estimators": 400,
    "learning_rate": 0.03,
    "num_leaves": 31,
    "min_child_samples": 20,
    "verbose": -1,
    "random_state": 0,
}


# --------------------------------------------------------------------- data and models
def _paths() -> dict[str, str]:
    return {"churn": str(CACHE / "explain_churn.txt"), "stage": str(CACHE / "explain_stage.txt")}


def train_models() -> dict:
    """Train and cache both models (once); returns their sizes."""
    import lightgbm as lgb

    import cjml
    from cjml.datasets import load_sample

    paths = _paths()
    if not all(os.path.exists(p) for p in paths.values()):
        CACHE.mkdir(exist_ok=True)
        log = cjml.read_events(load_sample())
        featurizer = cjml.JourneyFeaturizer().fit(log)
        cutoffs = cjml.rolling_cutoffs(log, n=4, step="15D")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            train = cjml.make_training_set(log, cutoffs, featurizer=featurizer)
        X = train[list(featurizer.feature_names_out_)]
        cats = list(featurizer.categorical_features_)
        for name, y in (("churn", train["churn"]), ("stage", train["next_stage"].astype(str))):
            model = lgb.LGBMClassifier(**PARAMS).fit(X, y, categorical_feature=cats)
            model.booster_.save_model(paths[name])
    sizes = {}
    for name, path in paths.items():
        b = lgb.Booster(model_file=path)
        sizes[name] = {
            "trees": b.num_trees(),
            "classes": b.num_model_per_iteration(),
            "features": b.num_feature(),
        }
    return sizes


def _load(model: str, n: int, dtype: str = "float64"):
    import lightgbm as lgb
    import pandas as pd

    import cjml
    from cjml.datasets import load_sample

    log = cjml.read_events(load_sample())
    featurizer = cjml.JourneyFeaturizer().fit(log)
    booster = lgb.Booster(model_file=_paths()[model])
    base = featurizer.transform(log, CUTOFF)[booster.feature_name()]
    reps = -(-n // len(base))
    X = pd.DataFrame(
        np.tile(base.to_numpy(), (reps, 1))[:n],
        columns=base.columns,
        index=pd.RangeIndex(n, name="customer_id"),
    )
    return booster, X.astype(dtype), featurizer


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# --------------------------------------------------------------------- the cases
def _setup(model: str, n: int, dtype: str = "float64", **_):
    state = _load(model, n, dtype)
    _reset_peak()
    return state


setup_predict = setup_pred_leaf = setup_pred_contrib = setup_explain_case = _setup


def predict(state, model: str, n: int, **_) -> dict:
    booster, X, _ = state
    booster.predict(X)
    return {"rows": n}


def pred_leaf(state, model: str, n: int, **_) -> dict:
    booster, X, _ = state
    booster.predict(X, pred_leaf=True)
    return {"rows": n}


def pred_contrib(
    state, model: str, n: int, dtype: str = "float64", threads: int = 0, rounds: int = 0
) -> dict:
    booster, X, _ = state
    kwargs = {"num_threads": threads} if threads else {}
    if rounds:
        kwargs["num_iteration"] = rounds
    booster.predict(X.to_numpy(), pred_contrib=True, **kwargs)
    return {"rows": n}


def explain_case(state, model: str, n: int, method: str, **_) -> dict:
    from cjml.explanations import explain, top_drivers_text

    booster, X, featurizer = state
    e = explain(booster, X, feature_families=featurizer, top_n=3, method=method)
    line = top_drivers_text(e, X.index)
    return {"rows": n, "drivers": int(len(e)), "example": str(line.iloc[0])}


# ------------------------------------------------- the models cjml trains at 1M rows
def _trained_paths():
    return CACHE / "training_1000000.parquet", CACHE / "training_1000000.models.cjml"


def setup_trained(n: int, **_):
    import joblib
    import pandas as pd

    table_path, models_path = _trained_paths()
    churn, stage = joblib.load(models_path)
    X = pd.read_parquet(table_path, columns=list(churn.feature_names_in_)).iloc[:n]
    X.index = pd.RangeIndex(len(X), name="customer_id")
    import cjml
    from cjml.datasets import load_sample

    # The wording needs a fitted featurizer of the same feature set (names and codes).
    featurizer = cjml.JourneyFeaturizer().fit(cjml.read_events(load_sample()))
    _reset_peak()
    return X, churn, stage, featurizer


def trained(state, n: int, what: str) -> dict:
    from cjml.explanations import explain, top_drivers_text

    X, churn, stage, featurizer = state
    if what == "predict":
        risk = churn.predict_proba(X)[:, 1]
        stage.predict_proba(X, churn_risk=risk)
        return {"rows": len(X)}
    model = churn if what == "churn" else stage
    e = explain(model, X, feature_families=featurizer, top_n=3, method="saabas")
    line = top_drivers_text(e, X.index)
    return {"rows": len(X), "trees": model.booster_.num_trees(), "example": str(line.iloc[0])}


def report_trained(n: int, repeats: int) -> None:
    table_path, models_path = _trained_paths()
    if not models_path.exists():
        print(f"\n(no {models_path.name}: run benchmarks/models.py first for cjml's own models)")
        return
    print(f"\ncjml's models from models.py (1M training rows), saabas + text, {n:,} customers")
    print(f"{'case':34} {'customers':>10} {'seconds':>8} {'customers/s':>12} {'peak MB':>8}  runs")
    for label, what in (
        ("predict both (reference)", "predict"),
        ("explain churn", "churn"),
        ("explain next stage", "stage"),
    ):
        r = repeat("explain", "trained", repeats, n=n, what=what)
        rate = r["result"]["rows"] / r["seconds"]
        note = (
            ""
            if what == "predict"
            else (
                f"  {r['result']['trees']} trees; goal {GOAL:,}/s: "
                f"{'met' if rate >= GOAL else 'NOT met'}"
            )
        )
        print(
            f"{label:34} {r['result']['rows']:10,} {r['seconds']:8.2f} {rate:12,.0f} "
            f"{r['peak_mb']:8.0f}  {r['all_seconds']}{note}"
        )
        if what == "stage":
            print(f"  e.g. next-stage drivers: {r['result']['example']!r}")


# --------------------------------------------------------------------- report
def agreement(n: int = 1000) -> dict:
    """How often the fast method's top family and top-3 families match exact SHAP's."""
    from cjml.explanations import explain

    out = {}
    for model in ("churn", "stage"):
        booster, X, featurizer = _load(model, 3000)
        X = X.sample(n, random_state=0)
        a = explain(booster, X, feature_families=featurizer, method="shap")
        b = explain(booster, X, feature_families=featurizer, method="saabas")
        top_a = a[a["rank"] == 1].set_index("row")["family"].astype(str)
        top_b = b[b["rank"] == 1].set_index("row")["family"].astype(str).reindex(top_a.index)
        sets_a = a.groupby("row")["family"].agg(lambda s: frozenset(map(str, s)))
        sets_b = b.groupby("row")["family"].agg(lambda s: frozenset(map(str, s)))
        out[model] = {
            "top1": float((top_a == top_b).mean()),
            "top3_set": float((sets_a == sets_b.reindex(sets_a.index)).mean()),
            "top_feature": float(
                (
                    a[a["rank"] == 1].set_index("row")["feature"].astype(str)
                    == b[b["rank"] == 1]
                    .set_index("row")["feature"]
                    .astype(str)
                    .reindex(top_a.index)
                ).mean()
            ),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--shap-customers", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--trained-only", action="store_true", help="only cjml's own models from models.py"
    )
    args = parser.parse_args()
    if args.trained_only:
        report_trained(args.customers, args.repeats)
        return
    sizes = run_case("explain", "train_models")["result"]
    n, m = args.customers, args.shap_customers
    print(
        f"explanations on {os.cpu_count()} cores; median of {args.repeats} runs in fresh "
        "processes; model call included"
    )
    for model in ("churn", "stage"):
        s = sizes[model]
        print(
            f"\n{model}: {s['trees']} trees ({s['classes']} per round), {s['features']} "
            "features, 31 leaves"
        )
        print(
            f"{'case':34} {'customers':>10} {'seconds':>8} {'customers/s':>12} {'peak MB':>8}  runs"
        )
        cases = [
            ("predict (reference)", "predict", n, {}),
            ("pred_leaf", "pred_leaf", n, {}),
            ("explain saabas + text", "explain_case", n, {"method": "saabas"}),
            ("pred_contrib (TreeSHAP)", "pred_contrib", m, {}),
            ("pred_contrib, 1 thread", "pred_contrib", m, {"threads": 1}),
            ("pred_contrib, float32 input", "pred_contrib", m, {"dtype": "float32"}),
            ("pred_contrib, first 100 rounds", "pred_contrib", m, {"rounds": 100}),
            ("explain shap + text", "explain_case", m, {"method": "shap"}),
        ]
        rates = {}
        for label, func, rows, kwargs in cases:
            r = repeat("explain", func, args.repeats, model=model, n=rows, **kwargs)
            rates[label] = rows / r["seconds"]
            print(
                f"{label:34} {rows:10,} {r['seconds']:8.2f} {rates[label]:12,.0f} "
                f"{r['peak_mb']:8.0f}  {r['all_seconds']}"
            )
            if func == "explain_case" and kwargs["method"] == "saabas":
                example = r["result"]["example"]
        ref = rates["predict (reference)"]
        for label in ("explain saabas + text", "explain shap + text"):
            ok = "met" if rates[label] >= GOAL else "NOT met"
            print(
                f"  {label}: {rates[label] / ref:.2f}x the speed of predict; goal {GOAL:,}/s: {ok}"
            )
        print(f"  e.g. top_drivers: {example!r}")
    report_trained(n, args.repeats)
    agree = run_case("explain", "agreement")["result"]
    print("\nsaabas vs exact SHAP on 1,000 customers (same drivers?):")
    for model, a in agree.items():
        print(
            f"  {model}: top family {a['top1']:.1%}, top feature {a['top_feature']:.1%}, "
            f"same set of top-3 families {a['top3_set']:.1%}"
        )


if __name__ == "__main__":
    main()
