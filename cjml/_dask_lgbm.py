"""Training a LightGBM booster on a dask.distributed cluster, early-stopped after the fact.

cjml's models grow their trees with ``lgb.train(..., valid_sets=[held_out],
callbacks=[lgb.early_stopping(n)])``: trees are added while they improve the
loss on a later time slice. :func:`train_booster_on_cluster` grows the same
kind of booster with LightGBM's Dask estimator
(:class:`lightgbm.DaskLGBMClassifier`, data-parallel over the workers).

**Why early stopping happens after the fact.** LightGBM's Dask interface does
not support early stopping (LightGBM issues #3712, #4189, #5963, #6351): each
worker decides on its own, on the eval rows it holds, when to stop; once one
stops, the others wait on the network (up to ``time_out``, two hours by
default) or fail with socket errors.
So all ``num_boost_round`` rounds are grown, the held-out loss of every round
is measured, the round a local ``lgb.early_stopping(early_stopping_rounds)``
would have kept is picked from that curve (:func:`_best_round`), and the trees
after it are cut off. The booster is the same as with early stopping; the
price is the rounds grown past the best one.

**Why the curve is not the estimator's ``evals_result_``.** In distributed
LightGBM every worker evaluates only the eval rows it holds, and the Dask
estimator returns one worker's model: its ``evals_result_`` is the loss on that
worker's share of the held-out slice, not on the slice. (Measured with two
workers: the recorded loss after 50 rounds was 0.4855, the loss on the whole
slice 0.4927, the loss on the first worker's half 0.5000.) So no eval set is
given to the training at all; once the trees are grown, the workers holding the
held-out rows compute every round's loss on their rows from the leaves each row
falls in (one ``pred_leaf`` prediction), and the sums are added up: the loss of
each round over the whole slice, as LightGBM's metric would report it locally.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import lightgbm

__all__ = ["train_booster_on_cluster"]

#: LightGBM's ``kEpsilon``: its log-loss metrics count at most ``-log(1e-15)`` per row.
_EPS = 1e-15
#: Elements of the (rows, rounds, classes) score block computed at a time.
_BLOCK_ELEMENTS = 2_000_000

_OBJECTIVE_ALIASES = ("objective", "objective_type", "app", "application", "loss")
_NUM_CLASS_ALIASES = ("num_class", "num_classes")
#: LightGBM parameter -> DaskLGBMClassifier constructor argument of the same meaning.
_CONSTRUCTOR_NAMES = {
    "feature_fraction": "colsample_bytree",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "lambda_l2": "reg_lambda",
    "lambda_l1": "reg_alpha",
    "min_data_in_leaf": "min_child_samples",
    "min_sum_hessian_in_leaf": "min_child_weight",
    "min_gain_to_split": "min_split_gain",
    "seed": "random_state",
    "boosting": "boosting_type",
    "bin_construct_sample_cnt": "subsample_for_bin",
}
#: Parameters left out: the workers' thread counts come from the cluster,
#: rounds from ``num_boost_round``, and early stopping / metrics are done here.
_THREAD_PARAMS = ("num_threads", "num_thread", "nthread", "nthreads", "n_jobs")
_DROPPED = frozenset(
    {
        *_THREAD_PARAMS,
        "num_iterations",
        "num_iteration",
        "n_iter",
        "num_tree",
        "num_trees",
        "num_round",
        "num_rounds",
        "nrounds",
        "num_boost_round",
        "n_estimators",
        "max_iter",
        "early_stopping_round",
        "early_stopping_rounds",
        "early_stopping",
        "n_iter_no_change",
        "early_stopping_min_delta",
        "first_metric_only",
        "metric",
        "metrics",
        "metric_types",
    }
)
#: Lines of a model string's parameter section written by the training network:
#: kept, ``Booster.refit`` (which reuses them) would look for the long-gone
#: workers ("Cannot find any ip and port").
_NETWORK_LINE = re.compile(
    r"^\[(machines|machine_list_filename|num_machines|local_listen_port"
    r"|time_out): .*\]\n",
    flags=re.MULTILINE,
)
_THREADS_LINE = re.compile(r"^\[num_threads: .*\]\n", flags=re.MULTILINE)
_TREE_LEARNER_LINE = re.compile(r"^\[tree_learner: .*\]$", flags=re.MULTILINE)


def train_booster_on_cluster(
    client,
    params: dict,
    X,
    y,
    weight=None,
    *,
    valid=None,
    num_boost_round: int,
    early_stopping_rounds: int | None = 50,
    categorical: list[int] | None = None,
    feature_names: list[str] | None = None,
) -> tuple[lightgbm.Booster, int, list[float]]:
    """Grow a LightGBM classifier on a dask.distributed cluster, early-stopped on ``valid``.

    The cluster counterpart of the ``lgb.train`` call in cjml's models: the
    same parameters, row weights, categorical features and feature names, and
    early stopping on a held-out slice (done after the fact; see the module
    docstring). Numpy inputs are spread over the workers, one share each,
    with every class in every share.

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster that trains.
    params : dict
        LightGBM parameters as cjml builds them (``objective``, ``num_class``,
        ``learning_rate``, ``num_leaves``, ``feature_fraction``, ``seed``, ...).
        ``num_threads`` is left out (each worker uses its own threads), as are
        rounds, early-stopping and metric settings (given by the arguments).
        Only the ``"binary"`` and ``"multiclass"`` objectives are supported;
        without one, the labels decide.
    X : ndarray or dask.array.Array of shape (n_rows, n_features)
        Feature rows (numpy arrays are converted to float32).
    y : array-like or dask.array.Array of shape (n_rows,)
        Class codes 0 .. K-1 (as cjml encodes classes), every class present.
    weight : array-like or dask.array.Array of shape (n_rows,), optional
        Non-negative row weights.
    valid : tuple, optional
        The held-out slice ``(X_valid, y_valid)`` or ``(X_valid, y_valid,
        weight_valid)``, numpy or dask arrays; its log loss picks the rounds.
    num_boost_round : int
        Rounds grown (the most kept).
    early_stopping_rounds : int or None, default 50
        Rounds without improvement on ``valid`` after which a local early
        stopping would have stopped; None (or 0) keeps all rounds.
    categorical : list of int, optional
        Positions of the columns holding category codes.
    feature_names : list of str, optional
        Column names, kept in the booster.

    Returns
    -------
    booster : lightgbm.Booster
        The trees of the kept rounds only (``num_model_per_iteration()`` trees
        a round), with the feature names and categorical features, and
        without the training network's settings in its parameters.
    best_iteration : int
        Rounds kept: those ``lgb.early_stopping(early_stopping_rounds)`` would
        have kept on ``valid_curve``, or all rounds grown without ``valid`` or
        early stopping.
    valid_curve : list of float
        The (weighted) ``binary_logloss`` or ``multi_logloss`` on ``valid``
        after each round grown; empty without ``valid``.

    Raises
    ------
    ImportError
        If dask or distributed is not installed.
    ValueError
        If the inputs are inconsistent: labels that are not the codes 0 .. K-1
        of the objective's classes, lengths or column counts that do not
        match, negative weights, a cluster without workers, ...
    """
    da = _import_dask()
    import lightgbm as lgb
    from lightgbm.dask import DaskLGBMClassifier

    if not isinstance(num_boost_round, int | np.integer) or num_boost_round < 1:
        raise ValueError(f"num_boost_round must be a positive integer, got {num_boost_round!r}.")
    if early_stopping_rounds is not None and (
        not isinstance(early_stopping_rounds, int | np.integer) or early_stopping_rounds < 0
    ):
        raise ValueError(
            "early_stopping_rounds must be None or a non-negative integer, got "
            f"{early_stopping_rounds!r}."
        )
    workers = _worker_addresses(client)
    if not workers:
        raise ValueError("The dask cluster has no workers; start some before training.")

    X = _matrix(X, da, "X")
    n_rows, n_features = X.shape
    objective, y, n_classes, ctor = _constructor_args(params, y, n_rows, da)
    weight = None if weight is None else _weights(weight, n_rows, da, "weight")
    categorical = _categorical(categorical, n_features)
    if feature_names is not None:
        feature_names = [str(name) for name in feature_names]
        if len(feature_names) != n_features:
            raise ValueError(
                f"feature_names has {len(feature_names)} names but X has {n_features} columns."
            )
        if len(set(feature_names)) != n_features:
            raise ValueError("feature_names must be unique.")
    if valid is not None:
        valid = _valid_slice(valid, n_features, n_classes, da)

    futures: list = []  # keeps the scattered shares alive until training is over
    if isinstance(X, np.ndarray):
        y = y.compute() if isinstance(y, da.Array) else y
        weight = weight.compute() if isinstance(weight, da.Array) else weight
        shares = _stratified_shares(y, n_classes, len(workers))
        X, y, weight = _spread(client, workers, shares, [X, y, weight], da, futures)
    else:
        X, y, weight = _dask_training_arrays(client, X, y, weight, n_classes, da)

    model = DaskLGBMClassifier(client=client, n_estimators=int(num_boost_round), **ctor)
    with warnings.catch_warnings():
        # lightgbm.dask always says it ignores n_jobs: each worker's thread count wins.
        warnings.filterwarnings("ignore", message=r"Parameter \w+ will be ignored")
        model.fit(
            X,
            y,
            sample_weight=weight,
            feature_name=feature_names if feature_names is not None else "auto",
            categorical_feature=categorical or "auto",
        )
    grown = model.booster_
    rounds = grown.current_iteration()  # fewer than asked if no split was left to make
    del futures, X, y, weight

    curve: list[float] = []
    best = rounds
    if valid is not None:
        curve = _valid_curve(client, workers, grown, valid, objective, params, da)
        if early_stopping_rounds:
            best = _best_round(curve, int(early_stopping_rounds))
    text = _NETWORK_LINE.sub("", grown.model_to_string(num_iteration=best))
    text = _TREE_LEARNER_LINE.sub("[tree_learner: serial]", text)
    # The threads the caller asked for, as a local lgb.train would record them,
    # not those of the worker that returned the model (refit and predictions
    # without num_threads use this).
    threads = next((params[a] for a in _THREAD_PARAMS if a in params), None)
    text = _THREADS_LINE.sub("" if threads is None else f"[num_threads: {int(threads)}]\n", text)
    return lgb.Booster(model_str=text), int(best), curve


# --------------------------------------------------------------------------- round picking
def _best_round(curve, early_stopping_rounds: int) -> int:
    """The rounds ``lgb.early_stopping(early_stopping_rounds)`` would keep on this loss curve.

    The first round sets the best loss; a later round replaces it only when
    strictly lower (a tie keeps the earlier round); training stops once
    ``early_stopping_rounds`` rounds in a row have not improved, so a lower
    loss after that never counts. Returns a count (1-based), like
    ``Booster.best_iteration``.
    """
    if len(curve) == 0:
        raise ValueError("The validation curve is empty.")
    best_index, best_loss = 0, curve[0]
    for i in range(1, len(curve)):
        if curve[i] < best_loss:
            best_index, best_loss = i, curve[i]
        elif i - best_index >= early_stopping_rounds:
            break
    return best_index + 1


# --------------------------------------------------------------------------- inputs
def _import_dask():
    try:
        import dask.array as da
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError(
            'Training on a dask cluster needs dask and distributed: pip install "cjml[dask]".'
        ) from None
    return da


def _constructor_args(params: dict, y, n_rows: int, da) -> tuple[str, np.ndarray, int, dict]:
    """The objective, the checked labels, the number of classes and the estimator's arguments."""
    objective = next((params[a] for a in _OBJECTIVE_ALIASES if a in params), None)
    if objective not in (None, "binary", "multiclass", "softmax"):
        raise ValueError(
            f"objective must be 'binary' or 'multiclass' (cjml's classifiers), got {objective!r}."
        )
    num_class = next((params[a] for a in _NUM_CLASS_ALIASES if a in params), None)
    if objective == "binary":
        if num_class not in (None, 1):
            raise ValueError(
                f"objective 'binary' with num_class={num_class!r}; use "
                "'multiclass' for more than two classes."
            )
        n_classes = 2
    elif num_class not in (None, 1):
        if not isinstance(num_class, int | np.integer) or num_class < 3:
            raise ValueError(
                f"objective 'multiclass' needs num_class >= 3, got {num_class!r}; "
                "use 'binary' for two classes."
            )
        n_classes = int(num_class)
    else:
        n_classes = None  # the labels tell, as in cjml's models
    y, n_classes = _labels(y, n_rows, n_classes, da, "y", every_class=True)
    if objective is None:
        objective = "binary" if n_classes == 2 else "multiclass"
    elif objective != "binary" and n_classes < 3:
        raise ValueError(
            "objective 'multiclass' needs at least three classes; y has two (use 'binary')."
        )
    objective = "binary" if objective == "binary" else "multiclass"

    ctor = {"objective": objective, "verbosity": -1}
    for key, value in params.items():
        if key in _DROPPED or key in _OBJECTIVE_ALIASES or key in _NUM_CLASS_ALIASES:
            continue
        ctor[_CONSTRUCTOR_NAMES.get(key, key)] = value
    if objective == "multiclass":
        ctor["num_class"] = n_classes
    return objective, y, n_classes, ctor


def _matrix(X, da, name: str, *, min_rows: int = 2):
    if isinstance(X, da.Array):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (rows, features), got {X.ndim} dimensions.")
        if any(math.isnan(c) for c in X.chunks[0]):
            raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes().")
        if X.shape[0] < min_rows:
            raise ValueError(f"{name} needs at least {min_rows} row(s), got {X.shape[0]}.")
        # LightGBM's Dask code wants whole rows in each chunk
        return X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features), got {X.ndim} dimensions.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}.")
    if len(X) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} row(s), got {len(X)}.")
    return np.ascontiguousarray(X, dtype=np.float32)


def _labels(y, n_rows: int, n_classes: int | None, da, name: str, *, every_class: bool):
    """Class codes 0 .. n_classes-1 as int32 (``n_classes`` None: the largest code + 1).

    Returns the codes and the number of classes, or raises a ValueError naming the problem.
    """
    lazy = isinstance(y, da.Array)
    if not lazy:
        y = np.asarray(y)
    if y.dtype == bool:
        y = y.astype(np.int32)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class code per row), got shape {y.shape}.")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} must give one label per row ({n_rows}), got {y.shape[0]}.")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(
            f"{name} must hold integer class codes 0..K-1 (cjml encodes the classes "
            f"so), got dtype {y.dtype}."
        )
    stats = ((y < 0) | (y != np.floor(y))).any(), y.min(), y.max()
    bad, low, top = da.compute(*stats) if lazy else stats
    if bad or (n_classes is not None and top >= n_classes):
        expected = "0..K-1" if n_classes is None else f"0..{n_classes - 1}"
        raise ValueError(
            f"{name} must hold the class codes {expected} (cjml encodes the classes "
            f"so); it has other values (smallest {low.item()}, largest "
            f"{top.item()})."
        )
    if n_classes is None:
        n_classes = int(top) + 1
    y = y.astype(np.int32)
    if every_class:
        counts = (
            da.bincount(y, minlength=n_classes).compute()
            if lazy
            else np.bincount(y, minlength=n_classes)
        )
        if n_classes < 2:
            raise ValueError(f"{name} has only one class; a classifier needs at least two.")
        if (counts == 0).any():
            missing = np.flatnonzero(counts == 0).tolist()
            raise ValueError(
                f"{name} must hold every class code 0..{n_classes - 1}; class(es) "
                f"{missing} have no rows (cjml encodes only observed classes)."
            )
    return y, n_classes


def _weights(w, n_rows: int, da, name: str):
    lazy = isinstance(w, da.Array)
    w = w.astype(np.float64) if lazy else np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"{name} must give one weight per row ({n_rows}), got shape {w.shape}.")
    bad, total = (~np.isfinite(w) | (w < 0)).any(), w.sum()
    if lazy:
        bad, total = da.compute(bad, total)
    if bad:
        raise ValueError(f"{name} must be finite and non-negative.")
    if not total > 0:
        raise ValueError(f"All of {name} are zero; at least one row must count.")
    return w


def _categorical(categorical, n_features: int) -> list[int]:
    out = []
    for c in categorical or []:
        if not isinstance(c, int | np.integer) or not 0 <= c < n_features:
            raise ValueError(
                f"categorical must be column positions 0..{n_features - 1}, got {c!r}."
            )
        out.append(int(c))
    return out


def _valid_slice(valid, n_features: int, n_classes: int, da):
    if not isinstance(valid, tuple | list) or len(valid) not in (2, 3):
        raise ValueError("valid must be (X_valid, y_valid) or (X_valid, y_valid, weight_valid).")
    Xv, yv, wv = (*valid, None) if len(valid) == 2 else valid
    Xv = _matrix(Xv, da, "X_valid", min_rows=1)
    if Xv.shape[1] != n_features:
        raise ValueError(f"X_valid has {Xv.shape[1]} columns but X has {n_features}.")
    # a held-out slice may lack a class: its loss is still defined
    yv, _ = _labels(yv, Xv.shape[0], n_classes, da, "y_valid", every_class=False)
    wv = None if wv is None else _weights(wv, Xv.shape[0], da, "weight_valid")
    return Xv, yv, wv


# --------------------------------------------------------------------------- distributing
def _stratified_shares(y: np.ndarray, n_classes: int, n_workers: int) -> list[np.ndarray]:
    """Row positions of each worker's share: about n / n_workers rows, every class in each.

    LightGBM's Dask classifier encodes the labels on every worker from the
    labels that worker holds, so a worker without some class would train on
    shifted codes; dealing each class's rows out in turn avoids that. With a
    class rarer than the workers, fewer (all-class) shares are made.
    """
    counts = np.bincount(y, minlength=n_classes)
    n_shares = int(max(1, min(n_workers, counts.min(), len(y) // 2)))
    order = np.argsort(y, kind="stable")
    rank = np.empty(len(y), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank[order] = np.arange(len(y)) - np.repeat(starts, counts)
    share = rank % n_shares
    return [np.flatnonzero(share == s) for s in range(n_shares)]


def _spread(client, workers, shares, arrays, da, futures) -> list:
    """Scatter each share of each array to its own worker; dask arrays over those pieces."""
    pieces: list[list] = [[] for _ in arrays]
    for s, rows in enumerate(shares):
        worker = workers[s % len(workers)]
        present = [a for a in arrays if a is not None]
        # hash=False: equal pieces (e.g. all-ones weights) must stay separate futures
        scattered = iter(client.scatter([a[rows] for a in present], workers=[worker], hash=False))
        for i, a in enumerate(arrays):
            if a is None:
                continue
            f = next(scattered)
            futures.append(f)
            pieces[i].append(da.from_delayed(f, shape=(len(rows), *a.shape[1:]), dtype=a.dtype))
    return [da.concatenate(p) if p else None for p in pieces]


def _worker_addresses(client) -> list[str]:
    """The addresses of the cluster's workers now, asked of the scheduler.

    Not ``client.scheduler_info()``: it returns a cached reply that the client's
    periodic refresh replaces with one listing no workers, so it can read as an
    empty cluster while two workers are busy.
    """
    return sorted(client.nthreads())


def _dask_training_arrays(client, X, y, weight, n_classes: int, da):
    """Dask inputs, chunked alike, with every class in every chunk (see _stratified_shares)."""
    sizes = tuple(c for c in X.chunks[0] if c)  # empty chunks would be empty LightGBM datasets
    if min(sizes) < 2:
        sizes = _even_chunks(X.shape[0], len(_worker_addresses(client)))
    X = X.rechunk({0: sizes})
    y = (y if isinstance(y, da.Array) else da.from_array(np.asarray(y))).rechunk(sizes)
    if weight is not None:
        weight = (weight if isinstance(weight, da.Array) else da.from_array(weight)).rechunk(sizes)
    present = y.map_blocks(
        lambda b: (np.bincount(b, minlength=n_classes) > 0)[None, :],
        chunks=((1,) * y.numblocks[0], (n_classes,)),
        new_axis=1,
        dtype=bool,
    ).compute()
    if not present.all():
        chunk, cls = np.argwhere(~present)[0]
        raise ValueError(
            f"Chunk {chunk} of y has no rows of class {cls}. LightGBM's Dask classifier encodes "
            "the labels on each worker, so every chunk must hold every class: shuffle the rows, "
            "use larger chunks, or pass numpy arrays (spread with every class in every share)."
        )
    return X, y, weight


def _even_chunks(n: int, parts: int) -> tuple:
    parts = max(1, min(parts, n // 2))
    return tuple(len(c) for c in np.array_split(np.arange(n), parts))


# --------------------------------------------------------------------------- the curve
def _valid_curve(client, workers, booster, valid, objective: str, params: dict, da) -> list[float]:
    """The held-out loss after each round, summed over the workers holding the slice."""
    Xv, yv, wv = valid
    futures: list = []
    if isinstance(Xv, np.ndarray):
        # any row count works here, even fewer rows than workers
        shares = np.array_split(np.arange(len(Xv)), min(len(workers), len(Xv)))
        Xv, yv, wv = _spread(client, workers, shares, [Xv, yv, wv], da, futures)
    else:
        sizes = tuple(c for c in Xv.chunks[0] if c)
        Xv = Xv.rechunk({0: sizes})
        yv = (yv if isinstance(yv, da.Array) else da.from_array(yv)).rechunk(sizes)
        if wv is not None:
            wv = (wv if isinstance(wv, da.Array) else da.from_array(wv)).rechunk(sizes)
    xs = client.compute(list(Xv.to_delayed().ravel()))
    ys = client.compute(list(yv.to_delayed().ravel()))
    ws = client.compute(list(wv.to_delayed().ravel())) if wv is not None else [None] * len(xs)
    model = client.scatter(booster.model_to_string(), broadcast=True, hash=False)
    sigmoid = float(params.get("sigmoid", 1.0))
    parts = client.gather(
        [
            client.submit(_chunk_losses, model, x, y, w, objective, sigmoid, pure=False)
            for x, y, w in zip(xs, ys, ws, strict=True)
        ]
    )
    losses = np.sum([p[0] for p in parts], axis=0)
    total_weight = sum(p[1] for p in parts)
    return [float(v) for v in losses / total_weight]


def _chunk_losses(model_str: str, X, y, w, objective: str, sigmoid: float):
    """Summed (weighted) log loss of these rows after each round, and their summed weight."""
    import lightgbm as lgb

    if w is not None:
        # LightGBM keeps weights as float32; the same rounding gives its very numbers
        w = np.asarray(w, dtype=np.float32).astype(np.float64)
    booster = lgb.Booster(model_str=model_str)
    n_rounds, per_round = booster.current_iteration(), booster.num_model_per_iteration()
    leaf_values = _leaf_values(model_str, booster.num_trees())
    trees = np.arange(leaf_values.shape[0])
    threads = _worker_threads()
    losses = np.zeros(n_rounds)
    step = max(1, _BLOCK_ELEMENTS // leaf_values.shape[0])
    for start in range(0, len(X), step):
        block, labels = X[start : start + step], y[start : start + step]
        leaves = np.asarray(booster.predict(block, pred_leaf=True, num_threads=threads))
        leaves = leaves.reshape(len(block), -1).astype(np.intp)
        # the raw score after each round: the rows' leaf values summed round by round
        raw = np.cumsum(leaf_values[trees, leaves].reshape(len(block), n_rounds, per_round), axis=1)
        if start == 0:
            # LightGBM's own scores, on a few rows (not reproduced so for linear trees)
            few = min(len(block), 256)
            expect = np.asarray(booster.predict(block[:few], raw_score=True, num_threads=threads))
            if not np.allclose(
                raw[:few, -1, :], expect.reshape(few, per_round), rtol=1e-9, atol=1e-9
            ):
                raise RuntimeError(
                    "The leaf values do not add up to LightGBM's scores; "
                    "linear trees are not supported on the cluster."
                )
        if objective == "binary":
            prob = 1.0 / (1.0 + np.exp(-sigmoid * raw[:, :, 0]))
            prob = np.where(labels[:, None] > 0, prob, 1.0 - prob)
        else:  # softmax, shifted by the row's largest score
            raw -= raw.max(axis=2, keepdims=True)
            np.exp(raw, out=raw)
            prob = raw[np.arange(len(block)), :, labels] / raw.sum(axis=2)
        loss = -np.log(np.maximum(prob, _EPS))  # as LightGBM's metrics: at most -log(1e-15)
        losses += loss.sum(axis=0) if w is None else w[start : start + step] @ loss
    return losses, float(len(X) if w is None else np.sum(w))


def _leaf_values(model_str: str, n_trees: int) -> np.ndarray:
    """Every tree's leaf outputs, (n_trees, most leaves), zero-padded, from the model text."""
    rows = [
        np.array(line[len("leaf_value=") :].split(), dtype=np.float64)
        for line in model_str.splitlines()
        if line.startswith("leaf_value=")
    ]
    if len(rows) != n_trees:
        raise RuntimeError(
            f"Read {len(rows)} trees' leaf values from the model, expected {n_trees}."
        )
    table = np.zeros((n_trees, max(len(r) for r in rows)))
    for i, r in enumerate(rows):
        table[i, : len(r)] = r
    return table


def _worker_threads() -> int:
    """Threads of the dask worker running this task (1 outside a worker)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1
