"""Sequences: frequent touchpoint-to-touchpoint transitions and the last few touchpoints."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cjml.events import EventLog
from cjml.features._base import (
    AddedEvent,
    ColumnBlock,
    ColumnSink,
    FeatureFamily,
    most_used_touchpoints,
    safe_name,
    unique_names,
    vocabulary_codes,
)
from cjml.features._windows import Windows

__all__ = ["SequenceFeatures"]


class SequenceFeatures(FeatureFamily):
    """Counts of the most frequent transitions, and the last touchpoints as categories.

    ``fit`` learns the ``top_k`` most frequent transitions "touchpoint a, then
    touchpoint b" between consecutive events of a customer (ties broken by
    name). Features:

    - ``transition_<a>__<b>``: how often the customer went from a to b.
    - ``last_touchpoint_1`` ... ``last_touchpoint_{last_k}``: the last, second
      to last, ... touchpoint, as a category code (the position in
      ``touchpoints_``; ``len(touchpoints_)`` is ``other``); NaN where the
      history is shorter. They are listed in ``categorical_features_``.

    A log of pages or URLs has thousands of touchpoints: beyond
    ``max_touchpoints`` the rarest are ``other`` here too (as in
    :class:`~cjml.features.TouchpointFeatures`, which warns about them), so that
    a category never has thousands of levels and the transition table stays
    small.

    Parameters
    ----------
    top_k : int, default 10
        Number of transitions to count.
    last_k : int, default 3
        Number of last touchpoints.
    max_touchpoints : int, default 100
        Touchpoints that keep a category of their own: the actionable ones
        first, then the most frequent in the fit data.
    """

    family = "sequences"
    relative_cost = 3
    # bundles fitted before max_touchpoints existed kept every touchpoint
    max_touchpoints = None
    folded_: Sequence[str] = ()

    def __init__(self, top_k=10, last_k=3, max_touchpoints=100):
        self.top_k = top_k
        self.last_k = last_k
        self.max_touchpoints = max_touchpoints

    def _check_params(self) -> None:
        for name in ("top_k", "last_k"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}.")
        limit = self.max_touchpoints
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1
        ):
            raise ValueError(f"max_touchpoints must be a whole number >= 1, got {limit!r}.")

    #: Above this many touchpoint categories the fit counts the transitions seen (a list
    #: of (pairs, counts) arrays, one per part, which add up by joining) rather than a
    #: table of every pair of categories (n² counts per part).
    _DENSE_PAIRS = 512

    def _fit_counts(self, w: Windows, log: EventLog) -> dict:
        n_cats = len(log.frame["touchpoint"].cat.categories)
        codes = w.touchpoint.astype(np.int64)
        pairs = codes[:-1] * n_cats
        pairs += codes[1:]
        across = w.row[1:] != w.row[:-1]  # a pair across two rows is no transition
        counts: dict = {"events": np.bincount(w.touchpoint, minlength=n_cats)}
        if n_cats <= self._DENSE_PAIRS:
            # across rows to an extra bin, dropped: no compacted copy
            pairs[across] = n_cats * n_cats
            counts["pairs"] = np.bincount(pairs, minlength=n_cats * n_cats + 1)[: n_cats * n_cats]
        else:
            keys, numbers = np.unique(pairs[~across], return_counts=True)
            counts["pairs"] = [(keys, numbers)]
        return counts

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        cats = log.frame["touchpoint"].cat.categories.tolist()
        events = counts["events"]
        vocabulary = [c for i, c in enumerate(cats) if c in log.journey_map or events[i] > 0]
        self.touchpoints_, self.folded_ = most_used_touchpoints(
            vocabulary,
            list(log.journey_map.actionable_touchpoints),
            dict(zip(cats, events.tolist(), strict=True)),
            len(vocabulary) if self.max_touchpoints is None else self.max_touchpoints,
        )
        # the transitions between categories, counted again between the kept touchpoints
        # (the folded ones and any other as ``other``)
        voc = vocabulary_codes(log, self.touchpoints_, np.flatnonzero(events), folded=self.folded_)
        pairs = counts["pairs"]
        if isinstance(pairs, list):  # a pair seen in several parts is added up by add.at
            seen = np.concatenate([keys for keys, _ in pairs])
            number = np.concatenate([numbers for _, numbers in pairs])
        else:
            seen = np.flatnonzero(pairs)
            number = pairs[seen]
        n = len(self.touchpoints_) + 1
        table = np.zeros(n * n, dtype=np.int64)
        np.add.at(table, voc[seen // len(cats)] * n + voc[seen % len(cats)], number)
        found = [
            (-int(table[p]), self._name(p // n), self._name(p % n))
            for p in np.flatnonzero(table).tolist()
        ]
        # most frequent first, ties broken by the names (a, then b)
        self.transitions_ = [(a, b) for _, a, b in sorted(found)[: self.top_k]]

    def _categorical(self) -> list[str]:
        return [f"last_touchpoint_{k}" for k in range(1, self.last_k + 1)]

    def _name(self, code: int) -> str:
        return self.touchpoints_[code] if code < len(self.touchpoints_) else "other"

    def _names(self) -> list[str]:
        # touchpoints that read alike ("=x", "＝x") give suffixed names, never one name twice
        return [
            *unique_names(
                [f"transition_{safe_name(a)}__{safe_name(b)}" for a, b in self.transitions_]
            ),
            *[f"last_touchpoint_{k}" for k in range(1, self.last_k + 1)],
        ]

    def _codes(self, w: Windows, log: EventLog) -> np.ndarray:
        """Each selected event's code in ``touchpoints_`` (``other`` last)."""
        return vocabulary_codes(log, self.touchpoints_, w.touchpoint, folded=self.folded_)[
            w.touchpoint
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        voc = self._codes(w, w.log)
        names = list(self.feature_names_out_)
        n = len(self.touchpoints_) + 1
        index = {a: i for i, a in enumerate([*self.touchpoints_, "other"])}
        same = np.zeros(len(voc), dtype=bool)
        same[1:] = w.row[1:] == w.row[:-1]
        # each selected transition's number (-1: a transition not selected, or none)
        number = np.full(n * n, -1, dtype=np.int64)
        for j, (a, b) in enumerate(self.transitions_):
            number[index[a] * n + index[b]] = j
        pair = np.full(len(voc), -1, dtype=np.int64)
        pair[1:] = number[voc[:-1] * n + voc[1:]]
        pair[~same] = -1
        counts = w.count_codes(pair, len(self.transitions_))
        for name, row_counts in zip(names, counts, strict=False):
            out[name] = row_counts
        last = w.last_position
        for k in range(1, self.last_k + 1):
            pos = last - (k - 1)
            ok = (last >= 0) & (pos >= 0)
            ok[ok] &= w.row[pos[ok]] == np.flatnonzero(ok)
            values = np.full(w.n_rows, np.nan)
            values[ok] = voc[pos[ok]]
            out[f"last_touchpoint_{k}"] = values

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        if self.transitions_ and self.last_k < 1:
            # checked up front by JourneyFeaturizer.with_event; a safeguard here
            raise ValueError("Transition counts need the last touchpoint: use last_k >= 1.")
        index = {a: i for i, a in enumerate([*self.touchpoints_, "other"])}
        own_code = np.asarray(
            [index.get(t, index["other"]) for t in event.vocabulary], dtype=np.float64
        )
        code = own_code[event.touchpoint]
        names = list(self.feature_names_out_)
        if self.transitions_:
            # the one new transition: from the last touchpoint to the new one
            last = b["last_touchpoint_1"]
            for name, (a, c) in zip(names, self.transitions_, strict=False):
                b[name] = b[name] + ((last == index[a]) & (code == index[c]))
        for k in range(self.last_k, 1, -1):
            b[f"last_touchpoint_{k}"] = b[f"last_touchpoint_{k - 1}"]
        if self.last_k:
            b["last_touchpoint_1"] = code
