"""Explanations: each customer's top drivers of a LightGBM prediction, in words.

A LightGBM model's raw score for a customer (log-odds of churn, or the score of
one next stage) is split into one *contribution* per feature plus a *bias*
(the model's average raw score), and the contributions add up exactly to the
raw score. :func:`explain` turns them into drivers:

1. contributions are summed per feature family (activity, support, value, ...);
2. the families are ranked by that sum, largest first, and only families that
   push towards the outcome (sum above ``min_contribution``, default 0) are
   kept, at most ``top_n`` per customer;
3. each kept family is described by its single most contributing feature,
   worded with that customer's value ("no contact for 41 days",
   "3 unresolved support tickets").

Grouping by family keeps one aspect of a journey from filling every slot
(``days_since_last_event``, ``events_last_30d`` and ``events_last_90d`` often
all say "inactive"), and a family's sum is a steadier signal than any one of
its correlated columns.

Two ways of computing contributions, chosen with ``method``:

- ``"shap"`` (default): exact TreeSHAP values, LightGBM's
  ``predict(pred_contrib=True)``. Cost grows with trees x leaves x depth
  squared: a few hundred customers per second for a 400-tree, 31-leaf model.
- ``"saabas"``: path attributions (Saabas): along each tree's path for the
  customer, every split credits its feature with the change in the expected
  output (the leaf-count-weighted mean of the leaves below) from the node to
  the child taken. Same bias and same exact sum as SHAP, computed from
  ``predict(pred_leaf=True)`` and one sparse product (split over two
  threads), at a few times the cost of a prediction; an approximation of SHAP
  that agrees with it on the leading drivers for most customers (it can
  over-credit features split near the root). The choice for batch scoring of
  large customer lists.

:func:`describe_feature` words one feature value; :func:`top_drivers_text`
joins each customer's drivers into one line for a scoring table.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from cjml.i18n import NP_, current, fill, label_text, ngettext, number_symbols
from cjml.i18n import gettext as _
from cjml.models import _feature_matrix, _linear_contributions

__all__ = ["contributions", "describe_feature", "explain", "feature_aliases", "top_drivers_text"]

#: Rows explained at a time: bounds the contribution matrices in memory.
CHUNK_ROWS = 16_384
#: At most this many (row, tree) leaves per chunk (multiclass models have many trees).
CHUNK_LEAVES = 8_000_000
METHODS = ("shap", "saabas")


# ============================================================================ public API
def contributions(model, X, *, class_index=None, method="shap") -> pd.DataFrame:
    """Per-feature contributions to each row's raw score, plus the bias.

    Parameters
    ----------
    model : lightgbm.Booster or lightgbm.LGBMModel
        A fitted model (a scikit-learn wrapper is used through ``booster_``).
    X : DataFrame or 2-D array
        The features, columns as the model was trained on (a DataFrame is
        reordered to the model's feature names).
    class_index : int, label or array-like, optional
        Multiclass models: the class explained, one for all rows or one per
        row (a class position, or a label of the wrapper's ``classes_``);
        default: each row's predicted class. Binary models: 1 (default,
        the positive class) or 0, whose contributions are the negatives.
    method : {"shap", "saabas"}, default "shap"
        Exact TreeSHAP, or the much faster path attributions (see the module
        documentation).

    Returns
    -------
    DataFrame
        Indexed like ``X``: one column per feature, then ``bias``; each row
        sums to the raw score (log-odds for a binary model) of its class.
    """
    booster, X, names = _prepare(model, X)
    parts = _contribution_chunks(model, booster, X, class_index, method)
    blocks = [np.column_stack([c, b]) for _, c, b, _, _ in parts]
    data = np.concatenate(blocks) if blocks else np.empty((0, len(names) + 1))
    return pd.DataFrame(data, index=_index(X), columns=[*names, "bias"])


def explain(
    model,
    X,
    *,
    feature_families=None,
    class_index=None,
    top_n=3,
    min_contribution=0.0,
    method="shap",
) -> pd.DataFrame:
    """Each row's top drivers of the model's prediction, grouped by feature family.

    Contributions are in raw-score units (log-odds for churn, the softmax
    score of the explained class for next stage): positive ones push the
    customer towards the outcome explained. For every row the families are
    ranked by the sum of their features' contributions, and the ``top_n``
    families above ``min_contribution`` become drivers, each described by its
    single most contributing feature and that feature's value. Features the
    mapping does not know form one family, ``"other"``. The numbers come from
    vectorised array operations; only the wording loops, over the distinct
    features chosen.

    Parameters
    ----------
    model : lightgbm.Booster or lightgbm.LGBMModel
        A fitted model (a scikit-learn wrapper is used through ``booster_``).
    X : DataFrame or 2-D array
        The features, e.g. from :meth:`cjml.JourneyFeaturizer.transform`.
    feature_families : JourneyFeaturizer or mapping, optional
        Column name to family name, e.g. ``featurizer.feature_families_``; a
        fitted :class:`cjml.JourneyFeaturizer` gives the same, plus the
        touchpoint and stage names behind category codes
        (``last_touchpoint_1`` as "email as the last touchpoint"). None: every
        feature is a group of its own (family None).
    class_index : int, label or array-like, optional
        Multiclass models: the class explained, for all rows or one per row;
        default: each row's predicted class. Binary models: 1 (default) or 0.
    top_n : int, default 3
        Drivers per row at most.
    min_contribution : float, default 0.0
        Keep families whose summed contribution is above this; 0 keeps every
        family pushing towards the outcome. Rows with no such family have no
        driver.
    method : {"shap", "saabas"}, default "shap"
        Exact TreeSHAP (LightGBM's ``pred_contrib``), or path attributions:
        same sums, about as fast as a prediction (see the module documentation).

    Returns
    -------
    DataFrame
        One row per (row of ``X``, driver), ordered by row then rank, indexed
        by ``X``'s index (repeated). Columns: ``row`` (position in ``X``),
        ``rank`` (1 = strongest), ``family``, ``contribution`` (the family's
        sum), ``feature`` (the family's most contributing feature),
        ``feature_contribution``, ``value`` (the customer's value of it) and
        ``text`` (its wording); ``family`` and ``feature`` are categoricals.
        For multiclass models also ``class_index``, the class explained, and
        ``class``, its label when the model is a wrapper with ``classes_``.

    See Also
    --------
    top_drivers_text : One line of text per row from this table.
    describe_feature : The wording of one feature value.
    """
    top_n = int(top_n)
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n!r}.")
    booster, X, names = _prepare(model, X)
    groups, group_family = _groups(names, feature_families)
    twin_of = _twins(names, feature_families)
    vocab = _vocabulary(feature_families)
    onehot = np.zeros((len(names), len(groups)))
    for g, cols in enumerate(groups):
        onehot[cols, g] = 1.0
    multiclass = booster.num_model_per_iteration() > 1
    keys = (
        "row",
        "rank",
        "group",
        "contribution",
        "feature",
        "feature_contribution",
        "value",
        "class_index",
    )
    out: dict[str, list] = {k: [] for k in keys}
    for start, C, _bias, cls, Xc in _contribution_chunks(model, booster, X, class_index, method):
        sums = C @ onehot
        order = np.argsort(-sums, axis=1, kind="stable")[:, :top_n]
        top = np.take_along_axis(sums, order, axis=1)
        best = np.empty((len(C), len(groups)), dtype=np.int64)
        for j, cols in enumerate(groups):
            if len(cols) == 1:
                best[:, j] = cols[0]
            elif cols[-1] - cols[0] == len(cols) - 1:  # contiguous: a view, no copy
                best[:, j] = cols[0] + np.argmax(C[:, cols[0] : cols[-1] + 1], axis=1)
            else:
                best[:, j] = cols[np.argmax(C[:, cols], axis=1)]
        r, k = np.nonzero(top > min_contribution)  # row-major: by row, then rank
        grp = order[r, k]
        f = best[r, grp]
        if twin_of is not None and len(r):  # a fact a stronger driver said is not said again
            fact = r * len(names) + twin_of[f]
            first = np.zeros(len(fact), dtype=bool)
            first[np.unique(fact, return_index=True)[1]] = True
            r, grp, f = r[first], grp[first], f[first]
            starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
            k = np.arange(len(r)) - np.repeat(starts, np.diff(np.r_[starts, len(r)]))
        contribution = sums[r, grp]
        for key, part in zip(
            keys,
            (start + r, k + 1, grp, contribution, f, C[r, f], _values(Xc, r, f), cls[r]),
            strict=True,
        ):
            out[key].append(part)
    cat = {k: np.concatenate(v) if v else np.empty(0, dtype=np.int64) for k, v in out.items()}
    if not out["value"]:
        cat["value"] = np.empty(0)
    frame = pd.DataFrame(
        {
            "row": cat["row"].astype(np.int64),
            "rank": cat["rank"].astype(np.int64),
            "family": _categories(cat["group"], group_family),
            "contribution": cat["contribution"].astype(np.float64),
            "feature": _categories(cat["feature"], names),
            "feature_contribution": cat["feature_contribution"].astype(np.float64),
            "value": cat["value"],
            "text": _phrases_by_feature(
                names, cat["feature"].astype(np.int64), cat["value"], vocab
            ),
        },
        index=_index(X).take(cat["row"].astype(np.int64)),
    )
    if multiclass:
        outputs = cat["class_index"].astype(np.int64)
        labels, positions = _output_classes(model, booster)
        frame["class_index"] = outputs if positions is None else positions[outputs]
        if labels is not None:
            frame["class"] = labels[outputs]
    return frame


def feature_aliases(X: pd.DataFrame) -> dict[str, str]:
    """Find the columns that say the same thing: equal on every row of ``X``.

    In a log of purchases only, "no contact for 63 days" and "no purchase for 63
    days" are one fact, and so are the event and purchase counts. The trees split
    their credit between such twins at random, so a customer's drivers would name
    the fact twice. :func:`cjml.train` records the twins of its training rows on the
    featurizer (``feature_aliases_``), and :func:`explain` drops a driver whose
    feature copies a stronger driver's: one driver per fact. Constant columns are
    left out (the trees never split on them).

    Parameters
    ----------
    X : DataFrame
        Feature rows, e.g. the training rows (thousands of rows: on a handful,
        unrelated columns can agree by chance).

    Returns
    -------
    dict
        Column -> the earlier column it equals (missing values equal missing ones).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"days_since_last_event": [3.0, 40.0, None],
    ...                   "days_since_last_purchase": [3.0, 40.0, None],
    ...                   "n_events": [1.0, 2.0, 2.0]})
    >>> feature_aliases(X)
    {'days_since_last_purchase': 'days_since_last_event'}
    """
    names = [str(c) for c in X.columns]
    values = [np.asarray(X.iloc[:, j], dtype=np.float64) for j in range(X.shape[1])]
    by_print: dict[tuple, list[int]] = {}
    for j, v in enumerate(values):
        finite = v[~np.isnan(v)]
        if len(finite) == 0 or finite.min() == finite.max() and len(finite) == len(v):
            continue  # constant
        # a cheap fingerprint first; equal fingerprints are then compared in full
        key = (int(np.isnan(v).sum()), float(finite.sum()), float(np.square(finite).sum()))
        by_print.setdefault(key, []).append(j)
    aliases: dict[str, str] = {}
    for members in by_print.values():
        for k, j in enumerate(members):
            if names[j] in aliases:
                continue
            for i in members[k + 1 :]:
                if names[i] not in aliases and np.array_equal(values[i], values[j], equal_nan=True):
                    aliases[names[i]] = names[j]
    return aliases


def describe_feature(name, value, *, featurizer=None) -> str:
    """Word one feature value for a reader, e.g. "3 unresolved support tickets".

    Every column of the default feature families has a wording (see the
    families' docstrings in :mod:`cjml.features`); missing values read as
    their meaning ("no support ticket yet"). Other columns read as their name
    in words and the value ("support score 4"), never a code. Words and
    numbers are in the current language (:mod:`cjml.i18n`).

    Parameters
    ----------
    name : str
        The feature (column) name.
    value : float, int or str
        The customer's value of it.
    featurizer : JourneyFeaturizer, optional
        A fitted featurizer: its touchpoint and stage names word category
        codes ("email as the last touchpoint", "in the researcher segment").

    Returns
    -------
    str
        The phrase.

    Examples
    --------
    >>> describe_feature("days_since_last_event", 41.3)
    'no contact for 41 days'
    >>> describe_feature("tickets_unresolved", 3.0)
    '3 unresolved support tickets'
    >>> describe_feature("days_since_last_purchase", float("nan"))
    'no purchase yet'
    >>> describe_feature("segment", 2.0)
    'segment 2'
    """
    values = np.asarray([value])
    if values.dtype.kind in "biuf":
        values = values.astype(np.float64)
    else:
        values = values.astype(object)
    return str(_phrases(str(name), values, _vocabulary(featurizer))[0])


def top_drivers_text(explanation, index=None, *, sep="; ") -> pd.Series:
    """Join each row's driver phrases, strongest first, into one line.

    Parameters
    ----------
    explanation : DataFrame
        The output of :func:`explain`.
    index : Index, optional
        The index of the ``X`` explained (e.g. ``X.index``): the result then
        has one entry per row of ``X``, ``""`` where a row has no driver.
        Default: one entry per row that has a driver.
    sep : str, default "; "
        Between phrases.

    Returns
    -------
    Series of str
        E.g. "no contact for 41 days; 3 unresolved support tickets".
    """
    rows = explanation["row"].to_numpy(dtype=np.int64)
    ranks = explanation["rank"].to_numpy(dtype=np.int64)
    texts = explanation["text"].to_numpy(dtype=object)
    n = len(index) if index is not None else (int(rows.max()) + 1 if len(rows) else 0)
    if len(rows) and rows.max() >= n:
        raise ValueError(
            f"The explanation has rows up to {rows.max()} but index has only {n} "
            "entries; pass the index of the X that was explained."
        )
    width = int(ranks.max()) if len(ranks) else 0
    grid = np.full((n, max(width, 1)), None, dtype=object)
    grid[rows, ranks - 1] = texts
    line = np.full(n, "", dtype=object)
    has = np.zeros(n, dtype=bool)
    for k in range(width):
        col = grid[:, k]
        present = col != None  # noqa: E711 (elementwise)
        line[present] = np.where(has[present], line[present] + sep, line[present]) + col[present]
        has |= present
    if index is not None:
        return pd.Series(line, index=index, name="top_drivers", dtype=object)
    labels = explanation.index[np.unique(rows, return_index=True)[1]] if len(rows) else None
    keep = np.flatnonzero(has)
    return pd.Series(
        line[keep],
        index=labels if labels is not None else pd.RangeIndex(0),
        name="top_drivers",
        dtype=object,
    )


def _categories(codes: np.ndarray, labels) -> pd.Categorical:
    """Codes into ``labels`` as a categorical (None labels stay missing)."""
    codes = codes.astype(np.int64)
    known = [lab for lab in dict.fromkeys(labels) if lab is not None]
    position = np.asarray(
        [known.index(lab) if lab is not None else -1 for lab in labels] + [-1], dtype=np.int64
    )
    return pd.Categorical.from_codes(position[codes], categories=pd.Index(known))


# ============================================================================ inputs
def _booster(model):
    booster = getattr(model, "booster_", model)
    if not (hasattr(booster, "predict") and hasattr(booster, "num_model_per_iteration")):
        raise TypeError(
            f"Expected a fitted lightgbm.Booster or LGBMClassifier, got {type(model).__name__}."
        )
    return booster


def _prepare(model, X):
    booster = _booster(model)
    names = [str(n) for n in booster.feature_name()]
    if isinstance(X, pd.DataFrame):
        columns = [str(c) for c in X.columns]
        if columns != names:
            missing = [n for n in names if n not in set(columns)]
            if missing:
                raise ValueError(
                    f"X lacks {len(missing)} of the model's features: {missing[:10]!r}."
                )
            X = X[[X.columns[columns.index(n)] for n in names]]
    else:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(
                f"X must be 2-D with the model's {len(names)} features, got shape {X.shape}."
            )
    return booster, X, names


def _index(X) -> pd.Index:
    return X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))


def _chunk(X, start: int, stop: int):
    """Rows start:stop, as a float array when every column is numeric (no copy for the model)."""
    if not isinstance(X, pd.DataFrame):
        return X[start:stop]
    part = X.iloc[start:stop]
    if all(dtype.kind in "biuf" for dtype in part.dtypes):
        return part.to_numpy(dtype=np.float64, na_value=np.nan)
    return part  # categorical columns: the model maps them itself


def _values(Xc, r: np.ndarray, f: np.ndarray) -> np.ndarray:
    """The values Xc[r, f]: floats, or objects where a column is not numeric."""
    if not isinstance(Xc, pd.DataFrame):
        values = Xc[r, f]
        return values.astype(np.float64) if values.dtype.kind in "biuf" else values
    out = np.empty(len(r), dtype=object)
    numeric = True
    for j in np.unique(f):
        col = Xc.iloc[:, j]
        sel = f == j
        if col.dtype.kind in "biuf":
            out[sel] = col.to_numpy(dtype=np.float64, na_value=np.nan)[r[sel]]
        else:
            numeric = False
            out[sel] = col.to_numpy(dtype=object)[r[sel]]
    return out.astype(np.float64) if numeric else out


def _groups(names, feature_families):
    """Groups of column positions, and each group's family name."""
    if feature_families is None:
        return [np.asarray([j]) for j in range(len(names))], [None] * len(names)
    mapping = getattr(feature_families, "feature_families_", feature_families)
    if not isinstance(mapping, Mapping):
        raise TypeError(
            "feature_families must be a fitted JourneyFeaturizer or a mapping from "
            f"column to family, got {type(feature_families).__name__}."
        )
    family_of = [str(mapping.get(n, "other")) for n in names]
    order = list(dict.fromkeys(family_of))  # first appearance, for stable tie-breaking
    groups = [np.flatnonzero(np.asarray(family_of, dtype=object) == fam) for fam in order]
    return groups, order


def _twins(names, feature_families) -> np.ndarray | None:
    """Each column's position, or that of the column it copies (``feature_aliases_`` of
    the featurizer, see :func:`feature_aliases`); None when no column copies another."""
    aliases = getattr(feature_families, "feature_aliases_", None) or {}
    position = {str(n): j for j, n in enumerate(names)}
    twin_of = np.arange(len(names))
    for j, n in enumerate(names):
        if str(n) in aliases and aliases[str(n)] in position:
            twin_of[j] = position[aliases[str(n)]]
    return twin_of if (twin_of != np.arange(len(names))).any() else None


def _output_classes(model, booster) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A multiclass wrapper's labels of the booster's class outputs, and their positions
    in ``classes_`` (a next-stage model has no trees for classes it never trained on,
    nor for ``dropped`` when the churn model gives that); (None, None) otherwise."""
    labels = getattr(model, "classes_", None)
    K = booster.num_model_per_iteration()
    if labels is None or K == 1:
        return None, None
    positions = np.asarray(getattr(model, "observed_classes_", np.arange(len(labels))))
    if len(positions) != K or positions.dtype.kind not in "iu":
        return None, None
    return np.asarray(labels, dtype=object)[positions], positions.astype(np.int64)


def _class_positions(model, booster, class_index, raw: Callable[[], np.ndarray], start, n):
    """Each row's class output; ``raw()`` gives the raw scores (n, K) when needed."""
    K = booster.num_model_per_iteration()
    if class_index is None:
        return np.ones(n, dtype=np.int64) if K == 1 else np.argmax(raw(), axis=1)
    values = np.asarray(class_index)
    if values.ndim == 1:
        values = values[start : start + n]
        if len(values) != n:
            raise ValueError("class_index must be one class for all rows or one per row of X.")
    elif values.ndim > 1:
        raise ValueError("class_index must be one class for all rows or one per row of X.")
    labels = getattr(model, "classes_", None)
    outputs, positions = _output_classes(model, booster)
    if values.dtype.kind in "iub" and positions is not None and labels is not None:
        values = (
            np.asarray(labels, dtype=object)[values.astype(np.int64)]
            if values.size and 0 <= values.min() and values.max() < len(labels)
            else values
        )
    if values.dtype.kind not in "iub":
        if labels is None:
            raise ValueError(f"class_index must be class positions, got {class_index!r}.")
        lookup = {v: i for i, v in enumerate(list(labels if outputs is None else outputs))}

        def output_of(v):
            if v in lookup:
                return lookup[v]
            if v in list(labels):
                raise ValueError(
                    f"Class {v!r} has no trees of its own to explain (its "
                    "probability comes from the churn model, or it never "
                    "occurred in training); explain the churn model instead."
                )
            raise ValueError(f"Unknown class {v!r}; the classes are {list(labels)!r}.")

        values = np.vectorize(output_of, otypes=[np.int64])(values)
    values = np.broadcast_to(values.astype(np.int64), (n,))
    top = 2 if K == 1 else K
    if values.size and (values.min() < 0 or values.max() >= top):
        raise ValueError(
            f"class_index must be between 0 and {top - 1}, got "
            f"{np.unique(values[(values < 0) | (values >= top)])[:5].tolist()}."
        )
    return values


# ============================================================================ contributions
def _contribution_chunks(model, booster, X, class_index, method):
    """Yield (start, C (m, F), bias (m,), class (m,), rows) for consecutive row chunks."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS!r}, got {method!r}.")
    K = booster.num_model_per_iteration()
    F = booster.num_feature()
    tables = _path_tables(booster) if method == "saabas" else None
    step = max(256, min(CHUNK_ROWS, CHUNK_LEAVES // max(booster.num_trees(), 1)))
    for start in range(0, max(len(X), 1), step):
        Xc = _chunk(X, start, start + step)
        m = len(Xc)
        if m == 0:
            return
        if tables is None:
            full = np.asarray(booster.predict(Xc, pred_contrib=True)).reshape(m, K, F + 1)
            cls = _class_positions(
                model, booster, class_index, lambda full=full: full.sum(axis=2), start, m
            )
            picked = full[np.arange(m), 0 if K == 1 else cls]
            C, bias = picked[:, :F], picked[:, F]
        else:
            C, bias, cls = tables.contributions(model, booster, Xc, class_index, start)
        linear = getattr(model, "linear_start_", None)
        if linear is not None:  # the churn trees grew from an RFM logistic: its exact terms
            terms, intercept = _linear_contributions(
                linear, _feature_matrix(model, Xc, fitting=False)
            )
            C, bias = C + terms, bias + intercept
        if K == 1:
            sign = np.where(cls == 0, -1.0, 1.0)
            C, bias = C * sign[:, None], bias * sign
        yield start, np.ascontiguousarray(C), bias, cls, Xc


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _path_tables(booster) -> _PathTables:
    key = booster.num_trees()
    cached = _TABLES.get(booster)
    if cached is None or cached.n_trees != key:
        cached = _PathTables(booster)
        _TABLES[booster] = cached
    return cached


class _PathTables:
    """Each leaf's path attributions, as sparse (leaf, feature) matrices per class."""

    def __init__(self, booster):
        import scipy.sparse as sp

        K = booster.num_model_per_iteration()
        F = booster.num_feature()
        trees = _parse_trees(booster.model_to_string(num_iteration=-1))
        self.n_trees = len(trees)
        self.offsets = np.zeros(len(trees), dtype=np.int64)
        self.tree_bias = np.zeros(len(trees))
        rows, cols, vals, leaf_values = [], [], [], []
        offset = 0
        for t, tree in enumerate(trees):
            self.offsets[t] = offset
            bias, r, c, v = _tree_paths(tree)
            self.tree_bias[t] = bias
            rows.append(r + offset), cols.append(c + F * (t % K)), vals.append(v)
            leaf_values.append(tree["leaf_value"])
            offset += len(tree["leaf_value"])
        self.n_leaves = offset
        r, c, v = (np.concatenate(a) if a else np.empty(0) for a in (rows, cols, vals))
        both = sp.csr_matrix((v, (r.astype(np.int64), c.astype(np.int64))), shape=(offset, F * K))
        # one matrix per class: columns of that class, rows of all leaves (others empty)
        self.by_class = [both[:, k * F : (k + 1) * F].tocsr() for k in range(K)]
        tree_class = np.arange(len(trees)) % K
        leaf_class = np.repeat(tree_class, [len(x) for x in leaf_values])
        self.leaf_raw = sp.csr_matrix(
            (
                np.concatenate(leaf_values) if leaf_values else np.empty(0),
                (np.arange(offset), leaf_class),
            ),
            shape=(offset, K),
        )
        self.tree_class = tree_class
        self.K, self.F = K, F

    def contributions(self, model, booster, Xc, class_index, start):
        import scipy.sparse as sp

        leaves = np.asarray(booster.predict(Xc, pred_leaf=True))
        m, T = leaves.shape
        # one-hot of the leaf each row reaches in each tree (int32 indices: half the memory)
        cols = (leaves + self.offsets[:T].astype(leaves.dtype)).ravel()
        indptr = np.arange(0, m * T + 1, T, dtype=cols.dtype)
        hit = sp.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(m, self.n_leaves))
        del leaves, cols
        bias_k = np.bincount(self.tree_class[:T], weights=self.tree_bias[:T], minlength=self.K)
        cls = _class_positions(
            model, booster, class_index, lambda: _product(hit, self.leaf_raw), start, m
        )
        if self.K == 1:
            return _product(hit, self.by_class[0]), np.full(m, bias_k[0]), cls
        C = np.empty((m, self.F))
        for k in np.unique(cls):
            sel = np.flatnonzero(cls == k)
            C[sel] = _product(hit[sel], self.by_class[k])
        return C, bias_k[cls], cls


def _product(hit, table) -> np.ndarray:
    """Dense ``hit @ table``, the rows split over two threads (scipy releases the GIL)."""
    m = hit.shape[0]
    if m < 2048 or (os.cpu_count() or 1) < 2:
        return (hit @ table).toarray()
    half = m // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(
            pool.map(lambda rows: (hit[rows] @ table).toarray(), (slice(0, half), slice(half, m)))
        )
    return np.vstack(parts)


def _parse_trees(text: str) -> list[dict]:
    """The trees of a LightGBM model string: children, split features, leaf values and counts."""
    trees = []
    for block in text.split("\nTree=")[1:]:
        block = block.split("\nend of trees", 1)[0]
        kv = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        if kv.get("is_linear", "0") not in ("0", ""):
            raise ValueError("method='saabas' does not support linear trees; use method='shap'.")
        leaf_value = np.asarray(kv["leaf_value"].split(), dtype=np.float64)
        tree = {"leaf_value": leaf_value}
        if len(leaf_value) > 1:
            tree.update(
                split_feature=np.asarray(kv["split_feature"].split(), dtype=np.int64),
                left=np.asarray(kv["left_child"].split(), dtype=np.int64),
                right=np.asarray(kv["right_child"].split(), dtype=np.int64),
                leaf_count=np.asarray(kv["leaf_count"].split(), dtype=np.float64),
            )
        trees.append(tree)
    return trees


def _tree_paths(tree: dict):
    """Bias and the (leaf, feature, change) triples of one tree's path attributions.

    A node's expected value is the leaf-count-weighted mean of the leaves below
    (the expectation TreeSHAP uses); each split credits its feature with the
    change from the node to the child taken. Per leaf these add up to the leaf
    value minus the root's expected value, the tree's bias.
    """
    lv = tree["leaf_value"]
    if len(lv) == 1:
        return float(lv[0]), *(np.empty(0, dtype=np.int64),) * 2, np.empty(0)
    left, right, feature = tree["left"], tree["right"], tree["split_feature"]
    n_int = len(left)
    count = tree["leaf_count"]
    # preorder from the root; reversed, children come before their parent
    order, stack, parent = [], [0], np.full(n_int, -1, dtype=np.int64)
    leaf_parent = np.full(len(lv), -1, dtype=np.int64)
    while stack:
        i = stack.pop()
        order.append(i)
        for child in (left[i], right[i]):
            if child >= 0:
                parent[child] = i
                stack.append(child)
            else:
                leaf_parent[~child] = i
    mean = np.zeros(n_int)
    weight = np.zeros(n_int)
    for i in reversed(order):
        vals, wts = [], []
        for child in (left[i], right[i]):
            if child >= 0:
                vals.append(mean[child])
                wts.append(weight[child])
            else:
                vals.append(lv[~child])
                wts.append(count[~child])
        w = wts[0] + wts[1]
        weight[i] = w
        mean[i] = (vals[0] * wts[0] + vals[1] * wts[1]) / w if w > 0 else 0.5 * (vals[0] + vals[1])
    rows, cols, vals = [], [], []
    for leaf in range(len(lv)):
        node_value, p = lv[leaf], leaf_parent[leaf]
        while p >= 0:
            rows.append(leaf)
            cols.append(feature[p])
            vals.append(node_value - mean[p])
            node_value, p = mean[p], parent[p]
    return (
        float(mean[0]),
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        np.asarray(vals, dtype=np.float64),
    )


# ============================================================================ wording
# Every phrase is a whole message of the catalogue (cjml.i18n) with named
# placeholders: {n} a count, {value} a number, {duration} a number of days,
# {touchpoint}/{stage}/{attribute} names. The wording table is built per
# language, when first used in it.


def _vocabulary(featurizer) -> dict:
    """Touchpoint and stage names behind the category codes, from a fitted featurizer."""
    vocab: dict[str, Any] = {}
    for fam in getattr(featurizer, "families_", ()) or ():
        if getattr(fam, "family", None) == "sequences" and hasattr(fam, "touchpoints_"):
            vocab["touchpoints"] = [*fam.touchpoints_, None]  # the last code: a new touchpoint
        if getattr(fam, "family", None) == "stages" and hasattr(fam, "stages_"):
            vocab["stages"] = list(fam.stages_)
        if getattr(fam, "family", None) == "attributes" and hasattr(fam, "categories_"):
            # feature name -> the attribute's category labels (None: a numeric attribute)
            vocab["attributes"] = {
                name: (None if cats is None else [*map(str, cats), None])
                for name, cats in zip(
                    fam.feature_names_out_,
                    (fam.categories_.get(c) for c in fam.attributes_),
                    strict=False,
                )
            }
    return vocab


def _phrases_by_feature(names, features, values, vocab) -> np.ndarray:
    """Word ``values[i]`` of feature ``names[features[i]]``, one feature at a time."""
    text = np.empty(len(features), dtype=object)
    if not len(features):
        return text
    order = np.argsort(features, kind="stable")
    cut = np.flatnonzero(np.diff(features[order])) + 1
    for sel in np.split(order, cut):
        text[sel] = _phrases(names[features[sel[0]]], values[sel], vocab)
    return text


def _phrases(name: str, values: np.ndarray, vocab: Mapping) -> np.ndarray:
    if values.dtype == object:
        numeric = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(numeric).any() and not pd.isna(pd.Series(values)).all():
            return _fallback(name, values)
        values = numeric
    template, nan_text = _template(name, current().language)
    out = np.empty(len(values), dtype=object)
    missing = np.isnan(values)
    if missing.any():
        out[missing] = nan_text
    if (~missing).any():
        out[~missing] = template(values[~missing], vocab)
    return out


# ---------------------------------------------------------------- number formatting
_TABLE = 20_000  # integers (after scaling) worded by table lookup; others one by one


def _localised(word: str) -> str:
    """'1,234.5' in the current locale's symbols ('1.234,5' in vi)."""
    decimal, group, _pattern = number_symbols(current().language)
    return word.replace(",", "\0").replace(".", decimal).replace("\0", group)


@lru_cache(maxsize=32)
def _number_table(decimals: int, strip: bool, lang: str) -> np.ndarray:
    scale = 10**decimals
    words = [f"{k / scale:,.{decimals}f}" for k in range(-_TABLE, _TABLE + 1)]
    if strip and decimals:
        words = [w.rstrip("0").rstrip(".") for w in words]
    return np.asarray([_localised(w) for w in words], dtype=object)


def _num(v: np.ndarray, decimals: int = 0, strip: bool = False) -> np.ndarray:
    """Numbers as text in the current locale, with thousands separators, to ``decimals``."""
    k = np.rint(v * 10**decimals)
    ok = np.abs(k) <= _TABLE
    out = np.empty(len(v), dtype=object)
    out[ok] = _number_table(decimals, strip, current().language)[(k[ok] + _TABLE).astype(np.int64)]
    for i in np.flatnonzero(~ok):  # large numbers: rare
        word = f"{v[i]:,.{decimals}f}"
        word = word.rstrip("0").rstrip(".") if strip and decimals and "." in word else word
        out[i] = _localised(word)
    return out


def _percent_text(v: np.ndarray) -> np.ndarray:
    """Shares as whole percentages in the current locale ('37%')."""
    a, b = number_symbols(current().language)[2].split("{}")
    return a + _num(100.0 * v) + b


def _pick(cond: np.ndarray, yes: str, no: str) -> np.ndarray:
    out = np.full(len(cond), no, dtype=object)
    out[cond] = yes
    return out


def _plural(forms: tuple[str, str], v: np.ndarray, **ctx: Any) -> np.ndarray:
    """``forms`` (singular, plural msgids) translated, the form of each count, filled."""
    one, many = ngettext(forms[0], forms[1], 1), ngettext(forms[0], forms[1], 2)
    text = _num(v)
    out = fill(many, n=text, **ctx)
    single = np.rint(v) == 1
    if single.any():
        out[single] = fill(one, n=text[single], **ctx)
    return out


def _days(v: np.ndarray) -> np.ndarray:
    """'41 days', '1 day', 'less than a day'."""
    out = _plural(NP_("{n} day", "{n} days"), v)
    out[np.rint(v) == 0] = _("less than a day")
    return out


# ---------------------------------------------------------------- template builders
Template = Callable[[np.ndarray, Mapping], np.ndarray]


def _count(forms: tuple[str, str], zero: str | None = None, **ctx: Any) -> Template:
    """'3 unresolved support tickets': ``{n}`` in the forms is the number; ``zero`` for 0."""

    def word(v, vocab):
        out = _plural(forms, v, **ctx)
        if zero is not None:
            out[np.rint(v) == 0] = zero
        return out

    return word


def _with(text: str, key: str, fmt: Callable[[np.ndarray], np.ndarray], **ctx: Any) -> Template:
    """``text`` with ``{key}`` filled by ``fmt(values)``."""
    return lambda v, vocab: fill(text, **{key: fmt(v)}, **ctx)


def _value(text: str, decimals: int = 0, **ctx: Any) -> Template:
    return _with(text, "value", lambda v: _num(v, decimals), **ctx)


def _in_days(text: str, **ctx: Any) -> Template:
    return _with(text, "duration", _days, **ctx)


def _percent(text: str, **ctx: Any) -> Template:
    return _with(text, "share", _percent_text, **ctx)


def _ratio(text: str, tiny: str, same: str, **ctx: Any) -> Template:
    """A ratio to one decimal in ``text`` (``{value}``); ``tiny`` where that rounds to 0
    ("0.0 times the usual gap" reads as none) and ``same`` where it rounds to 1."""

    def word(v, vocab):
        out = fill(text, value=_num(v, 1), **ctx)
        tenths = np.rint(v * 10)
        out[tenths == 0] = tiny
        out[tenths == 10] = same
        return out

    return word


def _signed(more: tuple[str, str], fewer: tuple[str, str], same: str, **ctx: Any) -> Template:
    """A change: ``more``/``fewer`` (plural forms) take the size ``{n}``; ``same`` for none."""

    def word(v, vocab):
        up = _plural(more, np.abs(v), **ctx)
        down = _plural(fewer, np.abs(v), **ctx)
        out = np.where(v < 0, down, up).astype(object)
        out[np.rint(v) == 0] = same
        return out

    return word


def _names(names, new: str) -> np.ndarray:
    """Category labels as people read them; None (a category new since fitting) as ``new``."""
    words = [new if n is None else label_text(n, lower=True) for n in names]
    return np.asarray(words, dtype=object)


def _code_words(
    v: np.ndarray, names, known_text: str, unknown_text: str, new_text: str | None = None, **ctx
) -> np.ndarray:
    """Codes worded by ``known_text`` with ``{name}`` the name at that position; codes past
    the names by ``unknown_text`` with ``{n}`` the code; the category new since fitting
    (a None name) by ``new_text`` when given."""
    codes = np.rint(v).astype(np.int64)
    out = fill(unknown_text, n=_num(v), **ctx)
    if names:
        table = _names(names, _("a touchpoint new since fitting"))
        known = (codes >= 0) & (codes < len(table))
        out[known] = fill(known_text, name=table[codes[known]], **ctx)
        if new_text is not None:
            new = np.asarray([n is None for n in names])[np.clip(codes, 0, len(names) - 1)] & known
            out[new] = fill(new_text, **ctx)
    return out


def _code(kind: str, known_text: str, unknown_text: str) -> Template:
    """A category code worded by the featurizer's names, else by its number."""
    return lambda v, vocab: _code_words(v, vocab.get(kind), known_text, unknown_text)


def _nps_class(v, vocab):
    classes = np.asarray(
        [
            _("a detractor (last NPS 0-6)"),
            _("a passive (last NPS 7-8)"),
            _("a promoter (last NPS 9-10)"),
        ],
        dtype=object,
    )
    code = np.rint(v) + 1
    known = (code >= 0) & (code <= 2)
    out = fill(_("NPS class {n}"), n=_num(v))
    out[known] = classes[code[known].astype(np.int64)]
    return out


def _fallback_numbers(v: np.ndarray) -> np.ndarray:
    """Whole numbers as such, others to 2-3 significant digits, trailing zeros dropped."""
    out = np.empty(len(v), dtype=object)
    big = (np.abs(v) >= 100) | (v == np.rint(v))
    mid = ~big & (np.abs(v) >= 10)
    small = ~big & ~mid
    out[big] = _num(v[big])
    out[mid] = _num(v[mid], 1, strip=True)
    out[small] = _num(v[small], 2, strip=True)
    return out


def _feature_words(name: str) -> str:
    """A column name without a wording of its own, as words ('support_score' -> 'support score')."""
    return name.replace("_", " ").strip()


def _fallback(name: str, values: np.ndarray) -> np.ndarray:
    """'support score 4' for a column without a wording of its own."""
    what = _feature_words(name)
    if values.dtype != object:
        return fill(_("{feature} {value}"), feature=what, value=_fallback_numbers(values))
    return np.asarray(
        [
            _("{feature} unknown").format(feature=what)
            if pd.isna(x)
            else _("{feature} {value}").format(feature=what, value=str(x).replace("_", " "))
            for x in values
        ],
        dtype=object,
    )


def _thing(tp: str) -> str:
    """A touchpoint name inside a sentence ('live chat', in the current language)."""
    return label_text(tp, lower=True)


# ---------------------------------------------------------------- the wording table
@lru_cache(maxsize=4)
def _exact(lang: str) -> dict[str, tuple[Template, str]]:
    """The wording of each default feature column, in ``lang`` (the current language)."""
    no_events = _("no events yet")
    no_stage = _("no stage yet")
    no_csat = _("no CSAT answer yet")
    no_survey = _("no survey answer yet")
    no_nps = _("no NPS answer yet")
    no_ticket = _("no support ticket yet")
    no_purchase = _("no purchase yet")
    few_events = _("fewer than 2 events")
    no_visit = _("no visit yet")
    no_btyd = _("no visit yet, or too few customers to judge visit rhythms")
    return {
        # activity
        "n_events": (_count(NP_("{n} event in all", "{n} events in all"), no_events), no_events),
        "days_since_first_event": (_in_days(_("customer for {duration}")), no_events),
        "days_since_last_event": (_in_days(_("no contact for {duration}")), no_events),
        "active_days": (_count(NP_("active on {n} day", "active on {n} days")), no_events),
        "mean_days_between_events": (
            _in_days(_("an event every {duration} on average")),
            few_events,
        ),
        "events_per_week": (_value(_("{value} events per week"), 1), no_events),
        # touchpoints
        "count_other": (
            _count(
                NP_(
                    "{n} event of a touchpoint new since fitting",
                    "{n} events of touchpoints new since fitting",
                ),
                _("no events of touchpoints new since fitting"),
            ),
            no_events,
        ),
        "share_other": (
            _percent(_("{share} of events are touchpoints new since fitting")),
            no_events,
        ),
        "distinct_touchpoints": (
            _count(NP_("{n} kind of touchpoint", "{n} different touchpoints")),
            _("no touchpoints yet"),
        ),
        # stages
        "current_stage": (_code("stages", _("in the {name} stage"), _("in stage {n}")), no_stage),
        "furthest_stage": (
            _code("stages", _("got as far as the {name} stage"), _("got as far as stage {n}")),
            no_stage,
        ),
        "days_in_current_stage": (_in_days(_("in the current stage for {duration}")), no_stage),
        "events_in_current_stage": (
            _count(NP_("{n} event in the current stage", "{n} events in the current stage")),
            no_stage,
        ),
        "stage_progressions": (
            _count(
                NP_("{n} move forward a stage", "{n} moves forward a stage"),
                _("never moved forward a stage"),
            ),
            no_events,
        ),
        "stage_regressions": (
            _count(
                NP_("{n} move back a stage", "{n} moves back a stage"),
                _("never moved back a stage"),
            ),
            no_events,
        ),
        "stages_per_30d": (_value(_("{value} stages forward per 30 days"), 1), no_stage),
        # experience
        "csat_count": (
            _count(NP_("{n} CSAT answer", "{n} CSAT answers"), no_csat),
            no_csat,
        ),
        "csat_mean": (_value(_("average CSAT {value}"), 1), no_csat),
        "csat_min": (_value(_("lowest CSAT {value}"), 0), no_csat),
        "csat_last": (_value(_("last CSAT {value}"), 0), no_csat),
        "csat_top_box_share": (_percent(_("{share} of CSAT answers top marks")), no_csat),
        "positive_experiences": (
            _count(
                NP_("{n} positive experience", "{n} positive experiences"),
                _("no positive experience yet"),
            ),
            no_survey,
        ),
        "negative_experiences": (
            _count(
                NP_("{n} negative experience", "{n} negative experiences"),
                _("no negative experience"),
            ),
            no_survey,
        ),
        "experience_balance": (
            _value(_("experience balance {value} (negatives weigh more)"), 0),
            no_survey,
        ),
        "peak_end_csat": (_value(_("peak-end CSAT {value}"), 1), no_csat),
        "nps_last": (_value(_("last NPS answer {value}"), 0), no_nps),
        "nps_mean": (_value(_("average NPS answer {value}"), 1), no_nps),
        "nps_class_last": (_nps_class, no_nps),
        "nps_trend": (
            _signed(
                NP_(
                    "NPS up {n} point since the first answer",
                    "NPS up {n} points since the first answer",
                ),
                NP_(
                    "NPS down {n} point since the first answer",
                    "NPS down {n} points since the first answer",
                ),
                _("NPS unchanged since the first answer"),
            ),
            no_nps,
        ),
        "ces_mean": (_value(_("average effort score {value}"), 1), _("no effort score yet")),
        "ces_max": (_value(_("highest effort score {value}"), 0), _("no effort score yet")),
        "days_since_negative_experience": (
            _in_days(_("negative experience {duration} ago")),
            _("no negative experience"),
        ),
        "events_since_negative_experience": (
            _count(
                NP_(
                    "{n} event since a negative experience",
                    "{n} events since a negative experience",
                ),
                _("no event since a negative experience"),
            ),
            _("no negative experience"),
        ),
        # support
        "tickets_opened": (
            _count(
                NP_("{n} support ticket opened", "{n} support tickets opened"),
                no_ticket,
            ),
            no_ticket,
        ),
        "tickets_resolved": (
            _count(
                NP_("{n} support ticket resolved", "{n} support tickets resolved"),
                _("no support ticket resolved"),
            ),
            no_ticket,
        ),
        "tickets_unresolved": (
            _count(
                NP_("{n} unresolved support ticket", "{n} unresolved support tickets"),
                _("no unresolved support tickets"),
            ),
            no_ticket,
        ),
        "tickets_last_30d": (
            _count(
                NP_(
                    "{n} support ticket in the last 30 days",
                    "{n} support tickets in the last 30 days",
                ),
                _("no support ticket in the last 30 days"),
            ),
            no_ticket,
        ),
        "days_since_last_ticket": (_in_days(_("last support ticket {duration} ago")), no_ticket),
        "oldest_open_ticket_days": (
            _in_days(_("a support ticket open for {duration}")),
            _("no open support ticket"),
        ),
        # value
        "purchases": (_count(NP_("{n} purchase", "{n} purchases"), no_purchase), no_purchase),
        "total_amount": (_value(_("spent {value} in all")), no_purchase),
        "mean_amount": (_value(_("average purchase {value}")), _("no purchase amount yet")),
        "max_amount": (_value(_("largest purchase {value}")), _("no purchase amount yet")),
        "days_since_last_purchase": (_in_days(_("no purchase for {duration}")), no_purchase),
        "days_since_first_purchase": (_in_days(_("first purchase {duration} ago")), no_purchase),
        "mean_days_between_purchases": (
            _in_days(_("a purchase every {duration} on average")),
            _("fewer than 2 purchases"),
        ),
        # memory
        "last_gap_days": (_in_days(_("last gap between events {duration}")), few_events),
        "max_gap_days": (_in_days(_("longest silence between events {duration}")), few_events),
        "last_gap_vs_mean": (
            _ratio(
                _("last gap {value} times the usual gap"),
                _("last gap far shorter than the usual gap"),
                _("last gap about the usual gap"),
            ),
            _("fewer than 2 events at different times"),
        ),
        "silence_vs_mean_gap": (
            _ratio(
                _("silent for {value} times the usual gap between events"),
                _("silent for a small part of the usual gap between events"),
                _("silent for about the usual gap between events"),
            ),
            _("fewer than 2 events at different times"),
        ),
        "silence_vs_longest_gap": (
            _ratio(
                _("silent for {value} times the longest gap so far"),
                _("silent for a small part of the longest gap so far"),
                _("silent for about the longest gap so far"),
            ),
            few_events,
        ),
        "csat_trend": (
            _value(_("CSAT trend {value} (last answer minus the earlier average)"), 1),
            _("fewer than 2 CSAT answers"),
        ),
        # btyd
        "btyd_repeat_days": (
            _count(
                NP_(
                    "came back on {n} day after the first", "came back on {n} days after the first"
                ),
                _("never came back after the first day"),
            ),
            no_visit,
        ),
        "btyd_days_since_first_visit": (_in_days(_("first visit {duration} ago")), no_visit),
        "btyd_days_since_last_visit": (_in_days(_("no visit for {duration}")), no_visit),
        "btyd_p_alive": (
            _percent(_("{share} chance of still being a customer, judged by their visit rhythm")),
            no_btyd,
        ),
        "btyd_silence_vs_expected_gap": (
            _value(_("silent for {value} times their expected gap between visits"), 1),
            no_btyd,
        ),
    }


def _decayed(kind: str, h: str) -> tuple[Template, str]:
    texts = {
        "events": _("recency-weighted events {value} (half-life {days} days)"),
        "contacts": _("recency-weighted business contacts {value} (half-life {days} days)"),
        "negative": _("recency-weighted negative experiences {value} (half-life {days} days)"),
        "positive": _("recency-weighted positive experiences {value} (half-life {days} days)"),
    }
    days = _localised(h.replace("_", "."))
    return _value(texts[kind], 1, days=days), _("no events yet")


def _expected_visits(h: str) -> tuple[Template, str]:
    days = _localised(h.replace("_", "."))
    return (
        _value(_("{value} visit days expected in the next {days} days"), 1, days=days),
        _("no visit yet, or too few customers to judge visit rhythms"),
    )


def _no_visit(h: str) -> tuple[Template, str]:
    days = _localised(h.replace("_", "."))
    return (
        _percent(_("{share} chance of no visit in the next {days} days"), days=days),
        _("no visit yet, or too few customers to judge visit rhythms"),
    )


def _transition(a: str, b: str) -> tuple[Template, str]:
    ctx = {"first": _thing(a), "then": _thing(b)}
    return (
        _count(
            NP_("went from {first} to {then} {n} time", "went from {first} to {then} {n} times"),
            _("never went from {first} to {then}").format(**ctx),
            **ctx,
        ),
        _("no events yet"),
    )


def _last(k: str) -> tuple[Template, str]:
    """'email 2 touchpoints before the last' (the k-th touchpoint from the end)."""
    k_ = int(k)
    before = k_ - 1
    if before == 0:
        known, unknown = _("{name} as the last touchpoint"), _("an unnamed touchpoint as the last")
        nan_text = _("no touchpoint yet")
    elif before == 1:  # "1 touchpoint before the last" reads as a count
        known = _("{name} just before the last touchpoint")
        unknown = _("an unnamed touchpoint just before the last")
    else:
        known = ngettext(
            "{name} {before} touchpoint before the last",
            "{name} {before} touchpoints before the last",
            before,
        )
        unknown = ngettext(
            "an unnamed touchpoint {before} touchpoint before the last",
            "an unnamed touchpoint {before} touchpoints before the last",
            before,
        )
    if before:
        nan_text = ngettext(
            "fewer than {k} touchpoint yet", "fewer than {k} touchpoints yet", k_
        ).format(k=k_)
    return _code(
        "touchpoints",
        known.replace("{before}", str(before)),
        unknown.replace("{before}", str(before)),
    ), nan_text


def _attribute(col: str) -> tuple[Template, str]:
    name = f"attribute_{col}"
    what = _feature_words(col)

    def word(v, vocab):
        attrs = vocab.get("attributes", {})
        if name in attrs and attrs[name] is not None:
            return _code_words(
                v,
                attrs[name],
                _("in the {name} {attribute}"),
                _("in {attribute} group {n}"),
                _("in a {attribute} new since fitting"),
                attribute=what,
            )
        return fill(_("{attribute} {value}"), attribute=what, value=_fallback_numbers(v))

    return word, _("{attribute} unknown").format(attribute=what)


def _window_count(kind: str, w: str) -> tuple[Template, str]:
    forms, zero = {
        "events": (
            NP_("{n} event in the last {days} days", "{n} events in the last {days} days"),
            _("no events in the last {days} days"),
        ),
        "contacts": (
            NP_(
                "{n} business contact in the last {days} days",
                "{n} business contacts in the last {days} days",
            ),
            _("no business contacts in the last {days} days"),
        ),
        "purchases": (
            NP_("{n} purchase in the last {days} days", "{n} purchases in the last {days} days"),
            _("no purchases in the last {days} days"),
        ),
    }[kind]
    nan_text = _("no purchase yet") if kind == "purchases" else _("no events yet")
    return _count(forms, zero.format(days=w), days=w), nan_text


def _channel_contacts(ch: str, w: str) -> tuple[Template, str]:
    ctx = {"channel": _thing(ch), "days": w}
    return (
        _count(
            NP_(
                "{n} {channel} contact in the last {days} days",
                "{n} {channel} contacts in the last {days} days",
            ),
            _("no {channel} contacts in the last {days} days").format(**ctx),
            **ctx,
        ),
        _("{channel} contacts unknown").format(**ctx),
    )


def _trend(w: str) -> tuple[Template, str]:
    return (
        _signed(
            NP_(
                "{n} more event than in the {days} days before",
                "{n} more events than in the {days} days before",
            ),
            NP_(
                "{n} fewer event than in the {days} days before",
                "{n} fewer events than in the {days} days before",
            ),
            _("as many events as in the {days} days before").format(days=w),
            days=w,
        ),
        _("no events yet"),
    )


def _touchpoint_count(tp: str) -> tuple[Template, str]:
    ctx = {"touchpoint": _thing(tp)}
    return (
        _count(
            NP_("{n} {touchpoint} event", "{n} {touchpoint} events"),
            _("no {touchpoint} events").format(**ctx),
            **ctx,
        ),
        _("no events yet"),
    )


def _touchpoint_share(tp: str) -> tuple[Template, str]:
    return _percent(_("{share} of events are {touchpoint}"), touchpoint=_thing(tp)), _(
        "no events yet"
    )


def _touchpoint_since(tp: str) -> tuple[Template, str]:
    ctx = {"touchpoint": _thing(tp)}
    return _in_days(_("no {touchpoint} for {duration}"), **ctx), _("no {touchpoint} yet").format(
        **ctx
    )


_PATTERNS: list[tuple[re.Pattern, Callable[..., tuple[Template, str]]]] = [
    (re.compile(r"decayed_events_hl(.+)d"), lambda h: _decayed("events", h)),
    (re.compile(r"decayed_contacts_hl(.+)d"), lambda h: _decayed("contacts", h)),
    (re.compile(r"decayed_negative_hl(.+)d"), lambda h: _decayed("negative", h)),
    (re.compile(r"decayed_positive_hl(.+)d"), lambda h: _decayed("positive", h)),
    (re.compile(r"btyd_expected_visits_(.+)d"), _expected_visits),
    (re.compile(r"btyd_p_no_visit_(.+)d"), _no_visit),
    (re.compile(r"events_last_(\d+)d"), lambda w: _window_count("events", w)),
    (re.compile(r"events_trend_(\d+)d"), _trend),
    (re.compile(r"contacts_last_(\d+)d"), lambda w: _window_count("contacts", w)),
    (re.compile(r"contacts_(.+)_last_(\d+)d"), _channel_contacts),
    (re.compile(r"purchases_last_(\d+)d"), lambda w: _window_count("purchases", w)),
    (
        re.compile(r"amount_last_(\d+)d"),
        lambda w: (
            _value(_("spent {value} in the last {days} days"), days=w),
            _("no purchase yet"),
        ),
    ),
    (re.compile(r"transition_(.+?)__(.+)"), _transition),
    (re.compile(r"last_touchpoint_(\d+)"), _last),
    (re.compile(r"attribute_(.+)"), _attribute),
    (re.compile(r"count_(.+)"), _touchpoint_count),
    (re.compile(r"share_(.+)"), _touchpoint_share),
    (re.compile(r"days_since_(.+)"), _touchpoint_since),
]


@lru_cache(maxsize=4096)
def _template(name: str, lang: str) -> tuple[Template, str]:
    """The wording of column ``name`` in ``lang`` (the current language), and its NaN text."""
    exact = _exact(lang)
    if name in exact:
        return exact[name]
    for pattern, build in _PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            return build(*match.groups())
    what = _feature_words(name)
    return (lambda v, vocab: _fallback(name, v)), _("{feature} unknown").format(feature=what)
