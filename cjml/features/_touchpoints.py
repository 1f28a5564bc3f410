"""Touchpoint mix, recency of actionable touchpoints and contact fatigue."""

from __future__ import annotations

import warnings

import numpy as np

from cjml.events import EventLog
from cjml.features._base import (
    AddedEvent,
    ColumnBlock,
    ColumnSink,
    FeatureFamily,
    _stacklevel,
    most_used_touchpoints,
    safe_name,
    unique_names,
    vocabulary_codes,
    warn_shared_names,
)
from cjml.features._windows import Windows

__all__ = ["TouchpointFeatures"]


class TouchpointFeatures(FeatureFamily):
    """Counts and shares per touchpoint, recency of actionable ones, contact fatigue.

    Features (``<tp>`` is a sanitised touchpoint name; ``other`` collects
    touchpoints not seen in ``fit``, with a warning):

    - ``count_<tp>``, ``count_other``: events per touchpoint.
    - ``share_<tp>``, ``share_other``: the same as shares of all events (0 with
      no events).
    - ``distinct_touchpoints``: how many different touchpoints.
    - ``days_since_<tp>`` for each actionable touchpoint of the journey map:
      NaN if it never happened.
    - ``contacts_last_{n}d``: actionable touchpoints (business contacts) in the
      last ``fatigue_days`` days.
    - ``contacts_<channel>_last_{n}d``: the same per channel seen carrying
      contacts in ``fit``: the log's ``channel`` column when it has one, else
      the map's online/offline (NaN when fitted with a channel column and
      transforming a log without one).
    - ``distinct_touchpoints`` counts touchpoint names as logged, so two
      touchpoints unseen in ``fit`` count as two.

    Parameters
    ----------
    fatigue_days : int, default 7
        Window of the contact-fatigue counts.
    max_touchpoints : int, default 100
        Touchpoints with their own count and share at most. A log of page views
        or URLs can hold thousands, each two columns that almost no customer
        fills: beyond this many, the actionable touchpoints and then the most
        frequent in ``fit`` keep theirs and the rest are counted in
        ``count_other`` and ``share_other``, with a warning that says how many.
    """

    family = "touchpoints"
    relative_cost = 5
    # the default for families restored from bundles saved before the parameter existed
    max_touchpoints = 100

    def __init__(self, fatigue_days=7, max_touchpoints=100):
        self.fatigue_days = fatigue_days
        self.max_touchpoints = max_touchpoints

    def _check_params(self) -> None:
        if not isinstance(self.fatigue_days, int | np.integer) or self.fatigue_days < 1:
            raise ValueError(
                f"fatigue_days must be a whole number of days >= 1, got {self.fatigue_days!r}."
            )
        if (
            isinstance(self.max_touchpoints, bool)
            or not isinstance(self.max_touchpoints, int | np.integer)
            or self.max_touchpoints < 1
        ):
            raise ValueError(
                f"max_touchpoints must be a whole number >= 1, got {self.max_touchpoints!r}."
            )

    def _fit_counts(self, w: Windows, log: EventLog) -> dict:
        cats = log.frame["touchpoint"].cat.categories
        counts = {"events": np.bincount(w.touchpoint, minlength=len(cats))}
        if "channel" in log.frame.columns:
            # one count of (touchpoint, channel) pairs, channel -1 (none) in slot 0: a
            # single pass over the events instead of a mask, a gather and a filter
            ch = log.frame["channel"]
            n_ch = len(ch.cat.categories)
            pair = w.touchpoint.astype(np.int64)
            pair *= n_ch + 1
            pair += w.take(ch.cat.codes.to_numpy())
            pair += 1
            counts["channels"] = np.bincount(pair, minlength=len(cats) * (n_ch + 1))
        return counts

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        cats = log.frame["touchpoint"].cat.categories.tolist()
        events = counts["events"]
        jm = log.journey_map
        # The map's touchpoints always get columns (stable names across data sets);
        # touchpoints outside the map only when seen in the fit data.
        self.touchpoints_ = [c for i, c in enumerate(cats) if c in jm or events[i] > 0]
        self.actionable_ = list(jm.actionable_touchpoints)
        self.folded_ = self._fold(cats, events)
        if "channels" in counts:
            # one column per channel that carried business contacts in the fit data
            self.channel_source_ = "channel"
            channels = log.frame["channel"].cat.categories
            pairs = counts["channels"].reshape(len(cats), len(channels) + 1)[:, 1:]
            contact = [cats.index(t) for t in self.actionable_ if t in cats]
            present = pairs[contact].sum(axis=0) > 0
            self.channels_ = [c for c, p in zip(channels, present, strict=True) if p]
        else:
            self.channel_source_ = "map"
            self.channels_ = ["online", "offline"]
        warn_shared_names(self.touchpoints_, "touchpoints", reserved=("other",))
        warn_shared_names(self.channels_, "channels")

    def _fold(self, cats: list, events: np.ndarray) -> list:
        """Cut ``touchpoints_`` to ``max_touchpoints``; return the ones folded into other."""
        count = dict(zip(cats, events.tolist(), strict=True))
        kept, folded = most_used_touchpoints(
            self.touchpoints_, self.actionable_, count, self.max_touchpoints
        )
        if not folded:
            return []
        share = sum(count.get(t, 0) for t in folded) / max(int(events.sum()), 1)
        self.touchpoints_ = kept
        warnings.warn(
            f"The log has {len(kept) + len(folded):,} touchpoints: the {len(folded):,} least "
            f"frequent ({share:.1%} of the events) are counted together in count_other and "
            "share_other (and are 'other' in the sequence features), so that "
            f"{self.max_touchpoints} keep a count and a share of their "
            "own (max_touchpoints). Fix: if they are pages or URLs, group them into the steps "
            "of the journey before reading (one touchpoint per kind of page), or raise "
            "max_touchpoints (JourneyFeaturizer(max_touchpoints=...)).",
            UserWarning,
            stacklevel=_stacklevel(),
        )
        return folded

    def _names(self) -> list[str]:
        # "other" is the bucket of touchpoints unseen in fit: a touchpoint of that name is
        # suffixed, never merged with it
        tps = unique_names([safe_name(t) for t in self.touchpoints_], reserved=("other",))
        n = self.fatigue_days
        chans = unique_names([safe_name(c) for c in self.channels_])
        return [
            *[f"count_{t}" for t in tps],
            "count_other",
            *[f"share_{t}" for t in tps],
            "share_other",
            "distinct_touchpoints",
            *self._days_since().values(),
            f"contacts_last_{n}d",
            *[f"contacts_{c}_last_{n}d" for c in chans],
        ]

    def _days_since(self) -> dict[str, str]:
        """Actionable touchpoint -> its ``days_since_`` column (never two alike)."""
        names = unique_names([safe_name(t) for t in self.actionable_])
        return {t: f"days_since_{name}" for t, name in zip(self.actionable_, names, strict=True)}

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        names = list(self.feature_names_out_)
        n_tp = len(self.touchpoints_)
        voc = vocabulary_codes(
            w.log, self.touchpoints_, w.touchpoint, folded=getattr(self, "folded_", ())
        )[w.touchpoint]
        # touchpoint-major: each touchpoint's counts are contiguous (a row-major table
        # read column by column cost a third of this family's time in cache misses)
        voc *= w.n_rows
        voc += w.row
        counts = np.bincount(voc, minlength=w.n_rows * (n_tp + 1)).reshape(n_tp + 1, w.n_rows)
        del voc
        total = np.maximum(w.n_events, 1)
        for j in range(n_tp + 1):
            out[names[j]] = counts[j]
            out[names[n_tp + 1 + j]] = counts[j] / total
        del counts
        # distinct names as logged (two touchpoints unseen in fit count as two)
        n_cat = len(w.log.frame["touchpoint"].cat.categories)
        out["distinct_touchpoints"] = _distinct_per_row(w.row, w.touchpoint, w.n_rows, n_cat)
        age = w.age_days
        cats = w.log.frame["touchpoint"].cat.categories.tolist()
        actionable_codes = [cats.index(t) if t in cats else -1 for t in self.actionable_]
        # each event's place among the actionable touchpoints (-1: not one of them)
        place = np.full(len(cats), -1, dtype=np.int16)
        for k, code in enumerate(actionable_codes):
            if code >= 0:
                place[code] = k
        event_place = place[w.touchpoint]
        since = self._days_since_each(w, event_place, len(actionable_codes))
        for k, (t, code) in enumerate(zip(self.actionable_, actionable_codes, strict=True)):
            out[self._days_since()[t]] = since[k] if code >= 0 else np.full(w.n_rows, np.nan)
        n = self.fatigue_days
        contact = (event_place >= 0) & (age < n)
        recent = np.flatnonzero(contact)  # a few events of many: count those alone
        out[f"contacts_last_{n}d"] = np.bincount(w.row[recent], minlength=w.n_rows).astype(
            np.float64
        )
        if self.channel_source_ == "channel" and "channel" in w.log.frame.columns:
            ch = w.log.frame["channel"]
            lookup = np.append(
                np.asarray(
                    [
                        self.channels_.index(c) if c in self.channels_ else -1
                        for c in ch.cat.categories
                    ],
                    dtype=np.int64,
                ),
                -1,
            )
            chan = lookup[w.take(ch.cat.codes.to_numpy())]
        elif self.channel_source_ == "map":
            jm = w.log.journey_map
            online = np.asarray([jm[c].channel == "online" if c in jm else True for c in cats])
            chan = np.where(online[w.touchpoint], 0, 1)
        else:
            chan = None  # fitted with a channel column this log lacks: unknown, not zero
        if self.channels_:
            by_channel = (
                None if chan is None else w.count_codes(chan, len(self.channels_), mask=contact)
            )
            for k, cname in enumerate(names[-len(self.channels_) :]):
                out[cname] = np.full(w.n_rows, np.nan) if by_channel is None else by_channel[k]

    @staticmethod
    def _days_since_each(w: Windows, event_place: np.ndarray, n_places: int) -> np.ndarray:
        """Age of each row's last event of each place, shape ``(n_places, n_rows)``, NaN if none.

        What ``w.last(w.age_days, event_place == k)`` gives for every ``k``, in one pass: a
        stable sort by place (a radix sort on 16-bit keys) keeps each place's events in
        (row, time) order, so a row's last event of a place ends its run.
        """
        out = np.full((n_places, w.n_rows), np.nan)
        pos = np.flatnonzero(event_place >= 0)
        if len(pos) == 0:
            return out
        place = event_place[pos]
        order = np.argsort(place, kind="stable")
        pos, place = pos[order], place[order]
        row = w.row[pos]
        end = np.ones(len(pos), dtype=bool)
        end[:-1] = (row[1:] != row[:-1]) | (place[1:] != place[:-1])
        out[place[end], row[end]] = w.age_days[pos[end]]
        return out

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        names = list(self.feature_names_out_)
        n_tp = len(self.touchpoints_)
        count_cols, share_cols = names[: n_tp + 1], names[n_tp + 1 : 2 * n_tp + 2]
        # every event is counted in exactly one count column: their sum is n_events
        total = np.zeros(len(event.touchpoint))
        for c in count_cols:
            total += b[c]
        total += 1.0
        column = {t: j for j, t in enumerate(self.touchpoints_)}
        actionable = set(self.actionable_)
        for tp, rows in event.by_touchpoint():
            count = b[count_cols[column.get(tp, n_tp)]]  # a folded one counts as other
            b["distinct_touchpoints"] = b["distinct_touchpoints"] + (rows & (count == 0))
            count[rows] += 1.0
            if tp in actionable:
                b[self._days_since()[tp]][rows] = 0.0
        for count, share in zip(count_cols, share_cols, strict=True):
            b[share] = b[count] / np.maximum(total, 1.0)
        n = self.fatigue_days
        contact = event.is_one_of(self.actionable_)
        b[f"contacts_last_{n}d"] = b[f"contacts_last_{n}d"] + contact
        chan_cols = names[len(names) - len(self.channels_) :] if self.channels_ else []
        if self.channel_source_ == "map":
            jm = event.journey_map
            offline = event.is_one_of(
                [t for t in event.vocabulary if t in jm and jm[t].channel != "online"]
            )
            chan = offline.astype(np.int64)  # the columns are online, offline
        else:
            lookup = np.append(
                np.asarray(
                    [
                        self.channels_.index(c) if c in self.channels_ else -1
                        for c in event.channels
                    ],
                    dtype=np.int64,
                ),
                -1,
            )
            chan = lookup[event.channel]
            # NaN columns come from a log without a channel column; a log with the new event's
            # channel has one, where the other events count as having no channel
            has_channel = event.channel >= 0
        for k, cname in enumerate(chan_cols):
            col = b[cname]
            if self.channel_source_ != "map":
                col = np.where(np.isnan(col) & has_channel, 0.0, col)
            b[cname] = col + (contact & (chan == k))


#: Largest rows x touchpoint categories that :func:`_distinct_per_row` counts in a table of
#: flags (one byte each); above it (pages or URLs as touchpoints: 2M rows x 5,000 names
#: would be 10 GB) it sorts the distinct (row, touchpoint) pairs instead.
_DENSE_DISTINCT_CELLS = 1 << 26
#: ... and only while the table has at most this many cells per event: clearing and
#: summing a sparse table costs more than sorting the events' pairs (measured on parts of
#: 200,000 events: even at about 20 cells an event; 7x slower at 250).
_DENSE_CELLS_PER_EVENT = 16


def _distinct_per_row(row: np.ndarray, code: np.ndarray, n_rows: int, n_codes: int) -> np.ndarray:
    """How many distinct codes each row's events hold, as float64."""
    cells = n_rows * n_codes
    if cells <= min(_DENSE_DISTINCT_CELLS, max(_DENSE_CELLS_PER_EVENT * len(row), 4096)):
        seen = np.zeros(cells, dtype=bool)
        seen[row * n_codes + code] = True
        return np.count_nonzero(seen.reshape(n_rows, n_codes), axis=1).astype(np.float64)
    pairs = np.sort(row.astype(np.int64) * n_codes + code)  # (np.unique hashes: 10x slower)
    first = np.r_[True, pairs[1:] != pairs[:-1]] if len(pairs) else np.zeros(0, dtype=bool)
    return np.bincount(pairs[first] // n_codes, minlength=n_rows).astype(np.float64)
