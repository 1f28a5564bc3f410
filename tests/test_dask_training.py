"""Training a booster on a dask.distributed cluster (cjml._dask_lgbm)."""

import logging
import sys

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from sklearn.metrics import roc_auc_score  # noqa: E402

from cjml._dask_lgbm import (  # noqa: E402
    _best_round,
    _chunk_losses,
    _stratified_shares,
    train_booster_on_cluster,
)
from tests._boosters import trained_params  # noqa: E402

NAMES = [f"f{i}" for i in range(10)]
CAT = 3  # the column holding category codes 0..5

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_child_samples": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "num_threads": 1,
    "seed": 0,
    "deterministic": True,
    "verbosity": -1,
}


@pytest.fixture(scope="module")
def client():
    # Worker processes, as on a real cluster: each LightGBM worker then has its
    # own process and network (about 2 s to start).
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _features(rng, n):
    X = rng.normal(size=(n, 10)).astype(np.float32)
    X[:, CAT] = rng.integers(0, 6, n)
    return X


def _binary(n, seed):
    rng = np.random.default_rng(seed)
    X = _features(rng, n)
    logit = 1.5 * X[:, 0] - X[:, 1] + 1.2 * (X[:, CAT] == 2) + rng.normal(size=n)
    return X, (logit > 0).astype(np.int32)


def _three_classes(n, seed):
    rng = np.random.default_rng(seed)
    X = _features(rng, n)
    scores = np.column_stack([X[:, 0], X[:, 1] + 1.5 * (X[:, CAT] == 4), 0.5 * X[:, 2]])
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1).astype(np.int32)


def _log_loss(proba, y, w=None):
    """LightGBM's binary/multi log loss of predicted probabilities."""
    if proba.ndim == 1:
        p_true = np.where(y == 1, proba, 1.0 - proba)
    else:
        p_true = proba[np.arange(len(y)), y]
    return float(np.average(-np.log(np.maximum(p_true, 1e-15)), weights=w))


# --------------------------------------------------------------------------- binary
def test_binary_booster_is_as_good_as_local_training(client):
    X, y = _binary(4000, 0)
    Xv, yv = _binary(1000, 1)
    Xt, yt = _binary(3000, 2)
    booster, best, curve = train_booster_on_cluster(
        client,
        PARAMS,
        X,
        y,
        valid=(Xv, yv),
        num_boost_round=200,
        early_stopping_rounds=20,
        categorical=[CAT],
        feature_names=NAMES,
    )

    assert isinstance(booster, lgb.Booster)
    assert len(curve) == 200 and 20 < best < 200
    assert best == _best_round(curve, 20)
    assert booster.num_trees() == best and booster.current_iteration() == best
    # the curve is the loss on the whole held-out slice, not on one worker's share
    assert curve[best - 1] == pytest.approx(_log_loss(booster.predict(Xv), yv), rel=1e-6)
    # the network the trees were grown on is not in the booster's parameters (refit works)
    params = trained_params(booster)
    assert "num_machines" not in params and "machines" not in params
    assert params["tree_learner"] == "serial"
    assert params["num_threads"] == str(PARAMS["num_threads"])  # the caller's, not a worker's
    booster.refit(X[:300], y[:300])

    local = lgb.train(
        PARAMS,
        lgb.Dataset(X, y, categorical_feature=[CAT], feature_name=NAMES),
        num_boost_round=best,
    )
    auc_cluster = roc_auc_score(yt, booster.predict(Xt))
    auc_local = roc_auc_score(yt, local.predict(Xt))
    print(f"best {best}, AUC cluster {auc_cluster:.4f}, local {auc_local:.4f}")
    assert auc_cluster > 0.85
    assert abs(auc_cluster - auc_local) < 0.02


def test_without_early_stopping_every_round_is_kept(client):
    X, y = _binary(1000, 3)
    Xv, yv = _binary(300, 4)
    booster, best, curve = train_booster_on_cluster(client, PARAMS, X, y, num_boost_round=15)
    assert (best, booster.num_trees(), curve) == (15, 15, [])
    booster, best, curve = train_booster_on_cluster(
        client, PARAMS, X, y, valid=(Xv, yv), num_boost_round=15, early_stopping_rounds=None
    )
    assert (best, booster.num_trees(), len(curve)) == (15, 15, 15)


def test_rows_sorted_by_class_still_train_right(client):
    # LightGBM's Dask classifier encodes labels per worker: a worker holding
    # only 1s would relabel them 0 and the model would predict ~0 everywhere
    # (seen with lightgbm 4.7). Every worker's share gets every class.
    X, y = _binary(2000, 8)
    Xt, yt = _binary(2000, 9)
    order = np.argsort(-y, kind="stable")
    shares = _stratified_shares(y[order], 2, 2)
    assert [np.bincount(y[order][s], minlength=2).min() > 0 for s in shares] == [True, True]
    assert sorted(np.concatenate(shares).tolist()) == list(range(len(y)))
    booster, _, _ = train_booster_on_cluster(client, PARAMS, X[order], y[order], num_boost_round=20)
    proba = booster.predict(Xt)
    assert roc_auc_score(yt, proba) > 0.85 and abs(proba.mean() - yt.mean()) < 0.05
    # a class with fewer rows than workers: fewer shares, each with every class
    assert len(_stratified_shares(np.array([0, 0, 0, 0, 1]), 2, 2)) == 1


# --------------------------------------------------------------------------- round picking
def _lightgbm_pick(curve, patience):
    """What lgb.early_stopping keeps when the held-out metric follows ``curve``."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)
    calls = iter(curve)
    booster = lgb.train(
        {
            "objective": "binary",
            "metric": "None",
            "verbosity": -1,
            "num_threads": 1,
            "min_data_in_leaf": 5,
        },
        lgb.Dataset(X, y),
        num_boost_round=len(curve),
        valid_sets=[lgb.Dataset(X[:20], y[:20])],
        feval=lambda preds, data: ("curve", next(calls), False),
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    return booster.best_iteration


CURVES = {
    "keeps improving": [1.0 - 0.01 * i for i in range(30)],
    "early minimum, then worse": [0.9, 0.7, 0.6, 0.5, 0.45, 0.5, 0.55, 0.6, 0.6, 0.7, 0.7, 0.2],
    "lower again just in time": [0.9, 0.5, 0.6, 0.6, 0.4, 0.7, 0.8, 0.9, 0.9, 0.9],
    "ties keep the first": [0.9, 0.5, 0.5, 0.6, 0.5, 0.5, 0.5, 0.5],
    "flat": [0.3] * 8,
    "one round": [0.4],
    "minimum at the last round": [0.5, 0.6, 0.55, 0.52, 0.45],
}


@pytest.mark.parametrize("patience", [1, 3, 4])
@pytest.mark.parametrize("name", list(CURVES))
def test_round_picking_equals_lightgbm_early_stopping(name, patience):
    curve = CURVES[name]
    assert _best_round(curve, patience) == _lightgbm_pick(curve, patience)


def test_round_picking_by_hand():
    assert _best_round(CURVES["keeps improving"], 3) == 30
    assert _best_round(CURVES["early minimum, then worse"], 3) == 5  # the late 0.2 is too late
    assert _best_round(CURVES["lower again just in time"], 3) == 5  # 2 worse rounds, then better
    assert _best_round(CURVES["lower again just in time"], 2) == 2
    assert _best_round(CURVES["ties keep the first"], 10) == 2


@pytest.mark.parametrize("objective", ["binary", "multiclass"])
def test_valid_curve_is_lightgbms_own_metric(objective):
    # the loss per round computed from the leaves equals LightGBM's binary/multi_logloss
    X, y = _binary(1500, 5) if objective == "binary" else _three_classes(1500, 5)
    Xv, yv = (_binary if objective == "binary" else _three_classes)(400, 6)
    wv = np.random.default_rng(7).uniform(0.2, 3.0, len(yv))
    params = {**PARAMS, "objective": objective, "learning_rate": 0.3}
    if objective == "multiclass":
        params["num_class"] = 3
    record = {}
    train = lgb.Dataset(X, y, categorical_feature=[CAT])
    booster = lgb.train(
        params,
        train,
        num_boost_round=40,
        valid_sets=[lgb.Dataset(Xv, yv, weight=wv, reference=train)],
        callbacks=[lgb.record_evaluation(record)],
    )
    losses, total = _chunk_losses(booster.model_to_string(), Xv, yv, wv, objective, 1.0)
    expected = record["valid_0"]["binary_logloss" if objective == "binary" else "multi_logloss"]
    np.testing.assert_allclose(losses / total, expected, rtol=1e-9)


# --------------------------------------------------------------------------- multiclass
def test_multiclass_keeps_classes_names_and_categories(client):
    X, y = _three_classes(4000, 10)
    Xv, yv = _three_classes(1000, 11)
    rng = np.random.default_rng(12)
    w, wv = rng.uniform(0.5, 2.0, len(y)), rng.uniform(0.5, 2.0, len(yv))
    params = {**PARAMS, "objective": "multiclass", "num_class": 3}
    booster, best, curve = train_booster_on_cluster(
        client,
        params,
        X,
        y,
        w,
        valid=(Xv, yv, wv),
        num_boost_round=120,
        early_stopping_rounds=10,
        categorical=[CAT],
        feature_names=NAMES,
    )

    print(f"multiclass: best {best} of {len(curve)}, loss {curve[0]:.4f} -> {curve[best - 1]:.4f}")
    assert booster.num_model_per_iteration() == 3
    assert booster.num_trees() == 3 * best and best == _best_round(curve, 10)
    proba = booster.predict(Xv)
    assert proba.shape == (len(yv), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert curve[best - 1] < curve[0]
    assert curve[best - 1] == pytest.approx(_log_loss(proba, yv, wv), rel=1e-6)
    assert booster.feature_name() == NAMES
    # the category column is split on as categories (==), the others by thresholds
    dump = booster.dump_model()
    infos = dump["feature_infos"]
    assert sorted(infos[NAMES[CAT]]["values"]) == [-1, 0, 1, 2, 3, 4, 5]  # categories (-1: other)
    assert infos[NAMES[0]]["values"] == []  # a numeric range
    decisions = set()

    def walk(node):
        if "split_feature" in node:
            decisions.add((node["split_feature"], node["decision_type"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"])
    assert (CAT, "==") in decisions
    assert all(kind == "<=" for feature, kind in decisions if feature != CAT)


# --------------------------------------------------------------------------- dask inputs
def test_dask_arrays_and_a_slice_smaller_than_the_cluster(client):
    X, y = _binary(2000, 20)
    Xv, yv = _binary(1, 21)  # one held-out row, two workers
    booster, best, curve = train_booster_on_cluster(
        client,
        PARAMS,
        da.from_array(X, chunks=(500, 5)),
        da.from_array(y, chunks=500),
        valid=(Xv, yv),
        num_boost_round=10,
        early_stopping_rounds=3,
    )
    assert len(curve) == 10 and booster.num_trees() == best == _best_round(curve, 3)
    assert curve[best - 1] == pytest.approx(_log_loss(booster.predict(Xv), yv), rel=1e-6)

    order = np.argsort(y, kind="stable")  # sorted by class: the first chunk has only 0s
    with pytest.raises(ValueError, match="Chunk 0 of y has no rows of class 1"):
        train_booster_on_cluster(
            client,
            PARAMS,
            da.from_array(X[order], chunks=(500, 10)),
            da.from_array(y[order], chunks=500),
            num_boost_round=5,
        )


# --------------------------------------------------------------------------- errors
def test_bad_inputs_are_refused_clearly(client):
    X, y = _binary(200, 30)

    def train(**changes):
        args = {"params": PARAMS, "X": X, "y": y, "num_boost_round": 5, **changes}
        return train_booster_on_cluster(client, **args)

    with pytest.raises(ValueError, match=r"class codes 0\.\.1"):
        train(y=y + 1)
    with pytest.raises(ValueError, match=r"class codes 0\.\.1 .*smallest -0\.5"):
        train(y=y - 0.5)
    with pytest.raises(ValueError, match=r"integer class codes"):
        train(y=np.array(["a", "b"])[y])
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no rows"):
        train(params={**PARAMS, "objective": "multiclass", "num_class": 3}, y=y * 2)
    with pytest.raises(ValueError, match="one label per row"):
        train(y=y[:-1])
    with pytest.raises(ValueError, match="X_valid has 9 columns but X has 10"):
        train(valid=(X[:20, :9], y[:20]))
    with pytest.raises(ValueError, match="y_valid must hold the class codes"):
        train(valid=(X[:20], y[:20] + 5))
    with pytest.raises(ValueError, match="weight must be finite and non-negative"):
        train(weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="objective must be 'binary' or 'multiclass'"):
        train(params={**PARAMS, "objective": "regression"})
    with pytest.raises(ValueError, match=r"categorical must be column positions 0\.\.9"):
        train(categorical=[10])
    with pytest.raises(ValueError, match="feature_names has 3 names but X has 10 columns"):
        train(feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="num_boost_round must be a positive integer"):
        train(num_boost_round=0)


def test_missing_dask_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(ImportError, match=r'pip install "cjml\[dask\]"'):
        train_booster_on_cluster(None, PARAMS, np.zeros((4, 2)), [0, 1, 0, 1], num_boost_round=1)


# ------------------------------------------------------- cjml.train on the cluster
def test_train_grows_both_models_on_the_cluster(client, tmp_path):
    import cjml
    from cjml.cli import main
    from cjml.datasets import load_sample

    events = load_sample()
    options = {"n_cutoffs": 4, "step": "15D"}
    # the recommender, the value model and the survival curve are fitted here whatever the
    # engine: left out, as the two models grown on the cluster are what is compared
    here_only = {"recommender": False, "value": False, "survival": False}
    local, local_report = cjml.train(events, **options, **here_only)
    bundle, report = cjml.train(events, engine="dask", scheduler=client, **options, **here_only)
    churn, stage = bundle.models["churn"], bundle.models["next_stage"]
    assert bundle.metadata["engine"] == "dask"
    # grown on the cluster: the held-out curve of every round, the kept rounds chosen from it
    for model in (churn, stage):
        assert len(model.validation_curve_) == cjml.training.CLUSTER_ROUNDS
        kept = model.booster_.num_trees() // model.booster_.num_model_per_iteration()
        assert kept == model.best_iteration_ <= cjml.training.CLUSTER_ROUNDS
        assert not hasattr(local.models["churn"], "validation_curve_")
    assert stage.conditional_ and stage.churn_model_ is churn
    # as good as the local models on the same held-out cutoff
    cluster_auc = report.churn.loc["model", "roc_auc"]
    local_auc = local_report.churn.loc["model", "roc_auc"]
    assert abs(cluster_auc - local_auc) < 0.02
    cluster_ll = report.next_stage.loc["model", "log_loss"]
    local_ll = local_report.next_stage.loc["model", "log_loss"]
    assert cluster_ll < 1.1 * local_ll
    with pytest.raises(ValueError, match="engine must be"):
        cjml.train(events, engine="spark", **options)
    with pytest.raises(ValueError, match="pass engine='dask'"):
        cjml.train(events, scheduler=client, **options)
    # the command line: --engine dask --scheduler ADDRESS
    path = tmp_path / "events.parquet"
    events.to_parquet(path, index=False)
    out = tmp_path / "model.cjml"
    assert (
        main(
            [
                "train",
                str(path),
                "--out",
                str(out),
                "--n-cutoffs",
                "4",
                "--step",
                "15D",
                "--engine",
                "dask",
                "--scheduler",
                client.scheduler.address,
                "--no-survival",
                "--no-value",
                "--quiet",
            ]
        )
        == 0
    )
    assert cjml.ModelBundle.load(out).metadata["engine"] == "dask"
