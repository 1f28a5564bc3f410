"""Memory: recency-weighted activity, contact fatigue and experience, and the rhythm of visits."""

from __future__ import annotations

import numpy as np

from cjml.events import EventLog
from cjml.features._base import AddedEvent, ColumnBlock, ColumnSink, FeatureFamily
from cjml.features._windows import NS_PER_DAY, Windows

__all__ = ["MemoryFeatures"]


def _check_half_lives(name: str, value) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in value)
    except TypeError:
        out = ()
    if not out or any(not np.isfinite(v) or v <= 0 for v in out) or len(set(out)) < len(out):
        raise ValueError(f"{name} must be distinct positive numbers of days, got {value!r}.")
    return out


def _per_gap(value: np.ndarray, mean_gap: np.ndarray) -> np.ndarray:
    """``value / mean_gap``, NaN where the mean gap is 0 (every event at one instant) or NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean_gap > 0, value / mean_gap, np.nan)


def _decay(age_days: np.ndarray, half_life: float) -> np.ndarray:
    """``0.5 ** (age / half_life)``: 1 at the cutoff, 1/2 one half-life before.

    As ``exp2`` of a product: twice as fast as the power on this machine, equal
    to within one unit in the last place, and exactly 1 at age 0 (what
    ``with_event`` adds for a new event).
    """
    return np.exp2(age_days * (-1.0 / half_life))


def _label(days: float) -> str:
    return f"{days:g}".replace(".", "_")


class MemoryFeatures(FeatureFamily):
    """What a customer remembers and how regularly they come back.

    Windows count an event fully until it leaves them; memory fades. Each
    event here weighs ``0.5 ** (age / half_life)`` (1 at the cutoff, 1/2 one
    half-life before), so a bad experience last week weighs more than one last
    quarter, and several half-lives let the trees pick the one a world runs on.
    Features (0 for the decayed sums of a customer without such events, NaN
    for the rest where undefined):

    - ``decayed_events_hl{h}d`` for each of ``half_lives``: recency-weighted
      event count.
    - ``decayed_contacts_hl{h}d`` for each of ``contact_half_lives``:
      recency-weighted business contacts (the journey map's actionable
      touchpoints), i.e. contact fatigue.
    - ``decayed_negative_hl{h}d`` and ``decayed_positive_hl{h}d`` for each of
      ``experience_half_lives``: recency-weighted negative experiences (CSAT of
      ``negative_csat`` or less, or CES of ``negative_effort`` or more) and
      positive ones (CSAT 4 or 5, not negative), as
      :class:`~cjml.features.ExperienceFeatures` defines them.
    - ``last_gap_days``: days between the last two events; ``max_gap_days``:
      the longest silence between two events so far (NaN below 2 events).
    - ``last_gap_vs_mean``: the last gap over the mean gap (above 1: slowing
      down); ``silence_vs_mean_gap`` and ``silence_vs_longest_gap``: days since
      the last event over the mean gap and over the longest gap (at least a
      day), so "overdue for this customer" is one split. NaN where the mean
      gap is 0 (all events at one instant): never infinite.
    - ``csat_trend``: the last CSAT answer minus the mean of the earlier ones
      (NaN below 2 answers).

    Parameters
    ----------
    half_lives : tuple of float, default (3, 10, 30)
        Half-lives, in days, of the decayed event counts.
    contact_half_lives : tuple of float, default (3, 10)
        Half-lives of the decayed business contacts.
    experience_half_lives : tuple of float, default (10, 60)
        Half-lives of the decayed negative and positive experiences.
    negative_csat : float, default 2
        CSAT at or below which an answer is negative.
    negative_effort : float, default 5
        CES at or above which an answer is negative.
    """

    family = "memory"
    relative_cost = 7

    def __init__(
        self,
        half_lives=(3, 10, 30),
        contact_half_lives=(3, 10),
        experience_half_lives=(10, 60),
        negative_csat=2.0,
        negative_effort=5.0,
    ):
        self.half_lives = half_lives
        self.contact_half_lives = contact_half_lives
        self.experience_half_lives = experience_half_lives
        self.negative_csat = negative_csat
        self.negative_effort = negative_effort

    def _check_params(self) -> None:
        self.half_lives_ = _check_half_lives("half_lives", self.half_lives)
        self.contact_half_lives_ = _check_half_lives("contact_half_lives", self.contact_half_lives)
        self.experience_half_lives_ = _check_half_lives(
            "experience_half_lives", self.experience_half_lives
        )

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        self.actionable_ = list(log.journey_map.actionable_touchpoints)

    def _names(self) -> list[str]:
        return [
            *[f"decayed_events_hl{_label(h)}d" for h in self.half_lives_],
            *[f"decayed_contacts_hl{_label(h)}d" for h in self.contact_half_lives_],
            *[
                f"decayed_{kind}_hl{_label(h)}d"
                for kind in ("negative", "positive")
                for h in self.experience_half_lives_
            ],
            "last_gap_days",
            "max_gap_days",
            "last_gap_vs_mean",
            "silence_vs_mean_gap",
            "silence_vs_longest_gap",
            "csat_trend",
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        age = w.age_days
        weights = {h: _decay(age, h) for h in {*self.half_lives_, *self.contact_half_lives_}}
        for h in self.half_lives_:
            out[f"decayed_events_hl{_label(h)}d"] = w.sum(weights[h])
        contact = w.touchpoint_in(self.actionable_)
        # summed over the contacts alone: the same sums (the other events added 0.0), less work
        at = np.flatnonzero(contact)
        contact_rows = w.row[at]
        for h in self.contact_half_lives_:
            out[f"decayed_contacts_hl{_label(h)}d"] = np.bincount(
                contact_rows, weights=weights[h][at], minlength=w.n_rows
            )
        self._experience(w, out)
        self._rhythm(w, out)

    def _experience(self, w: Windows, out: ColumnSink) -> None:
        # only the answered events matter: work on those (a small share; an NPS-only
        # answer is neither negative nor positive here and adds 0 to every sum)
        e, scores = w.answers
        nan = np.full(len(e.ev), np.nan)
        csat = scores.get("satisfaction", nan)
        ces = scores.get("effort", nan)
        negative = (csat <= self.negative_csat) | (ces >= self.negative_effort)
        positive = (csat >= 4) & ~negative
        age = e.age_days
        for h in self.experience_half_lives_:
            weight = _decay(age, h)
            out[f"decayed_negative_hl{_label(h)}d"] = e.sum(np.where(negative, weight, 0.0))
            out[f"decayed_positive_hl{_label(h)}d"] = e.sum(np.where(positive, weight, 0.0))
        has = ~np.isnan(csat)
        n, total, last = e.count(has), e.sum(csat), e.last(csat, has)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["csat_trend"] = np.where(
                n >= 2, last - (total - last) / np.maximum(n - 1, 1), np.nan
            )

    def _rhythm(self, w: Windows, out: ColumnSink) -> None:
        w = w.own_events()  # the customer's silences, whatever the business sent meanwhile
        n = w.count()
        age = w.age_days
        first_age, last_age = w.first(age), w.last(age)
        # gap before each event from the previous event of the same row (the first has none)
        gap = np.full(len(w.row), np.nan)
        if len(w.row) > 1:
            same = w.row[1:] == w.row[:-1]
            gap[1:] = np.where(same, (w.ts[1:] - w.ts[:-1]) / NS_PER_DAY, np.nan)
        last_gap = w.last(gap)
        longest = w.maximum(gap)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_gap = np.where(n >= 2, (first_age - last_age) / np.maximum(n - 1, 1), np.nan)
            out.update(
                {
                    "last_gap_days": last_gap,
                    "max_gap_days": longest,
                    "last_gap_vs_mean": _per_gap(last_gap, mean_gap),
                    "silence_vs_mean_gap": _per_gap(last_age, mean_gap),
                    "silence_vs_longest_gap": last_age / np.maximum(longest, 1.0),
                }
            )

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        # The new event is 0 days old: it weighs 1 in every decayed sum, and the sums add
        # it last, as transform does, so they stay exact. It carries no survey answer.
        for h in self.half_lives_:
            name = f"decayed_events_hl{_label(h)}d"
            b[name] = b[name] + 1.0
        contact = event.is_one_of(self.actionable_)
        for h in self.contact_half_lives_:
            name = f"decayed_contacts_hl{_label(h)}d"
            b[name] = b[name] + np.where(contact, 1.0, 0.0)
        # Rhythm: the silence so far becomes the last gap; the silence is now 0. What the
        # business sent (outbound) leaves the customer's rhythm as it was.
        rhythm = (
            "last_gap_days",
            "max_gap_days",
            "last_gap_vs_mean",
            "silence_vs_mean_gap",
            "silence_vs_longest_gap",
        )
        kept = {name: b[name].copy() for name in rhythm} if event.outbound.any() else {}
        had = event.n_before > 0
        last_age = event.last_age
        n = event.n_before + 1.0
        first_age = np.where(had, event.first_age, 0.0)
        last_gap = np.where(had, last_age, np.nan)
        longest = np.where(had, np.fmax(b["max_gap_days"], last_age), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            # the same expressions as _rhythm, with a last age of 0.0, so the same floats
            mean_gap = np.where(n >= 2, (first_age - 0.0) / np.maximum(n - 1, 1), np.nan)
            b["last_gap_days"] = last_gap
            b["max_gap_days"] = longest
            b["last_gap_vs_mean"] = _per_gap(last_gap, mean_gap)
            b["silence_vs_mean_gap"] = _per_gap(np.zeros_like(mean_gap), mean_gap)
            b["silence_vs_longest_gap"] = 0.0 / np.maximum(longest, 1.0)
        for name, before in kept.items():
            b[name] = np.where(event.outbound, before, b[name])
