"""The support journey: from ticket opened to resolved, and what happened after.

:func:`support_journey` follows every support ticket of an event log through
four steps, *Opened* -> *First response* -> *Resolved* -> *After*, for all
customers and per persona (a column such as ``segment``), and counts the
*silent unhappy*: customers who had a bad experience, opened no ticket and
went silent. The result, a :class:`SupportJourneyReport`, holds plain
DataFrames and draws the steps as a diagram (HTML for notebooks and the
canvas page, a matplotlib figure for PNG and PDF).

Everything is computed with numpy over the sorted log (no Python loop over
customers or tickets).
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cjml._intervals import newcombe_interval, wilson_interval
from cjml.events import to_utc_timestamp
from cjml.exceptions import NoSupportTicketsError
from cjml.i18n import format_duration, format_number, format_percent, label_text, language, ngettext
from cjml.i18n import gettext as _
from cjml.io._write import write_atomic, write_csv

__all__ = ["SupportJourneyReport", "support_journey"]

_NS_PER_HOUR = 3_600 * 10**9
_NS_PER_DAY = 24 * _NS_PER_HOUR
#: Satisfaction answers this long after a resolution (or at it) are the CSAT after the ticket.
CSAT_WITHIN = pd.Timedelta(days=7)
#: The confidence of the churn rates' Wilson intervals (the canvas's intervals are 90% too).
CONFIDENCE = 0.9
#: Bad experience (the contract of issue 20): CSAT at most 2, effort at least 5, NPS 0-6.
BAD_CSAT, BAD_EFFORT, BAD_NPS = 2.0, 5.0, 6.0
_TABLES = ("steps", "tickets", "channels", "unhappy")
_SUFFIXES = (".html", ".png", ".pdf")
_DASH = "\u2013"
_GREY = "#9a9a9a"


# =========================================================================== the data
def _names(value, name: str) -> tuple[str, ...]:
    """A touchpoint name or a list of them, as a tuple."""
    out = (value,) if isinstance(value, str) else tuple(value) if _iterable(value) else ()
    if not out or not all(isinstance(v, str) for v in out):
        raise ValueError(f"{name} must be a touchpoint name or a list of them, got {value!r}.")
    return out


def _iterable(value) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _ticket_touchpoints(bundle, opened, resolved) -> tuple[tuple, tuple, str]:
    """The touchpoints that open and resolve tickets, and where they came from."""
    from cjml.features._support import SupportFeatures

    families = getattr(getattr(bundle, "featurizer", None), "families_", ())
    fitted = next((f for f in families if isinstance(f, SupportFeatures)), None)
    # The bundle's fitted family, else the family's own defaults (one home for them).
    family = fitted if fitted is not None else SupportFeatures()
    source = "the defaults" if fitted is None else "the model bundle"
    if opened is not None or resolved is not None:
        source = "the arguments"
    opened = (
        _names(opened, "opened")
        if opened is not None
        else tuple(getattr(family, "ticket_touchpoints_", family.ticket_touchpoints))
    )
    resolved = (
        _names(resolved, "resolved")
        if resolved is not None
        else tuple(getattr(family, "resolution_touchpoints_", family.resolution_touchpoints))
    )
    both = sorted(set(opened) & set(resolved))
    if both:
        raise ValueError(
            f"The touchpoint(s) {both!r} both open and resolve tickets; a touchpoint does one "
            "or the other. Fix: pass opened= and resolved= with separate touchpoints."
        )
    return opened, resolved, source


def _no_tickets(log, opened, resolved, end) -> NoSupportTicketsError:
    """The error for a log without tickets: what was looked for, and the fix."""
    names = [str(c) for c in log.frame["touchpoint"].cat.categories]
    looks = [n for n in names if any(w in n.lower() for w in ("ticket", "support", "case"))]
    close = [m for o in opened for m in difflib.get_close_matches(o, names, n=2)]
    hint = sorted(set(looks) | set(close))
    suggest = f" Touchpoints of this log that may be tickets: {hint!r}." if hint else ""
    error = NoSupportTicketsError(
        f"No support ticket in the event log up to {end}: no event has the ticket touchpoints "
        f"{list(opened)!r} (resolved by {list(resolved)!r}).{suggest} Fix: name the "
        "touchpoints that open and resolve tickets in this log (in Python: "
        "support_journey(log, opened=[...], resolved=[...]); a bundle trained with "
        "JourneyFeaturizer(ticket_touchpoints=..., resolution_touchpoints=...) keeps them), or "
        "leave the support journey out (the canvases without --support draw without it)."
    )
    error.opened = tuple(opened)
    return error


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """Each element's position within its run of equal ``keys`` (``keys`` grouped)."""
    n = len(keys)
    start = np.ones(n, dtype=bool)
    start[1:] = keys[1:] != keys[:-1]
    first = np.flatnonzero(start)
    return np.arange(n) - np.repeat(first, np.diff(np.append(first, n)))


def _first_from(mask: np.ndarray) -> np.ndarray:
    """``out[i]``: the first index ``j >= i`` with ``mask[j]``, or ``n``; length ``n + 1``."""
    n = len(mask)
    idx = np.where(mask, np.arange(n), n)
    return np.append(np.minimum.accumulate(idx[::-1])[::-1], n)


def _last_upto(mask: np.ndarray) -> np.ndarray:
    """``out[i]``: the last index ``j <= i`` with ``mask[j]``, or -1."""
    return np.maximum.accumulate(np.where(mask, np.arange(len(mask)), -1))


class _Events:
    """The log's events up to the cutoff, as arrays, with the time-tie structure.

    Customers are numbered by position ``0..P-1`` among those with an event at
    or before the cutoff; ``pos`` gives each event's. (The journey map's
    ``_Prepared`` numbers them the same way but also builds its stage runs and
    touchpoint triples, which the support journey does not need.)
    """

    def __init__(self, log, end_ns: int):
        keep = log.timestamps_ns <= end_ns
        self.rows = np.flatnonzero(keep)
        n = self.n = len(self.rows)
        if n == 0:
            first = pd.Timestamp(int(log.timestamps_ns.min()), tz="UTC")
            raise ValueError(
                f"No event happened at or before the cutoff {pd.Timestamp(end_ns, tz='UTC')}: "
                f"the log starts at {first}. Pass a later cutoff."
            )
        self.log = log
        self._columns: dict[str, np.ndarray | None] = {}
        self.ts = log.timestamps_ns[self.rows]
        self.tp = log.touchpoint_codes[self.rows]
        codes = log.customer_codes[self.rows]
        new = np.ones(n, dtype=bool)
        new[1:] = codes[1:] != codes[:-1]
        self.pos = np.cumsum(new) - 1
        self.first_row = np.flatnonzero(new)
        self.last_row = np.append(self.first_row[1:], n) - 1
        self.codes = codes[self.first_row]
        # Ties: events of one customer at the same instant. "After t" means later in time.
        tie = new.copy()
        tie[1:] |= self.ts[1:] != self.ts[:-1]
        starts = np.flatnonzero(tie)
        which = np.cumsum(tie) - 1
        self.tie_start = starts[which]
        self.later = np.append(starts[1:], n)[which]  # the first event after i's instant

    def column(self, name: str) -> np.ndarray | None:
        """A numeric column as float64 up to the cutoff (read once), or None when absent."""
        if name not in self._columns:
            frame = self.log.frame
            self._columns[name] = (
                frame[name].to_numpy(dtype=np.float64, na_value=np.nan)[self.rows]
                if name in frame.columns
                else None
            )
        return self._columns[name]

    def codes_of(self, names) -> list[int]:
        cats = self.log.frame["touchpoint"].cat.categories.tolist()
        return [cats.index(t) for t in names if t in cats]

    def within(self, j: np.ndarray, i: np.ndarray, ns: int) -> np.ndarray:
        """Whether event ``j`` (``n``: none) is of ``i``'s customer, ``ns`` or less after it."""
        jc = np.minimum(j, self.n - 1)
        return (j < self.n) & (self.pos[jc] == self.pos[i]) & (self.ts[jc] - self.ts[i] <= ns)


def _fifo(ev: _Events, is_open: np.ndarray, is_res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each ticket's opening event and the event that resolved it (-1: still open).

    The rule of :class:`cjml.features.SupportFeatures`: a resolution closes the
    oldest open ticket (first in, first out) and a resolution with no open
    ticket is ignored. With S the running sum of +1 (opened) and -1 (resolved)
    per customer, the open tickets are ``S - min(0, min S so far)``, so a
    resolution is ignored exactly when it lowers that floor. The k-th
    resolution that is not ignored closes the customer's k-th ticket.
    """
    sub = np.flatnonzero(is_open | is_res)
    c = ev.pos[sub]
    step = pd.Series(np.where(is_open[sub], 1, -1), dtype=np.int64)
    running = step.groupby(c).cumsum()
    floor = np.minimum(running.groupby(c).cummin().to_numpy(), 0)
    before = np.zeros(len(sub), dtype=np.int64)
    before[1:] = floor[:-1]
    first = np.ones(len(sub), dtype=bool)
    first[1:] = c[1:] != c[:-1]
    before[first] = 0
    closes = ~is_open[sub] & (floor == before)
    opens, closing = sub[is_open[sub]], sub[closes]
    width = ev.n + 1
    key_open = ev.pos[opens] * width + _rank_within(ev.pos[opens])
    key_close = ev.pos[closing] * width + _rank_within(ev.pos[closing])
    if not len(closing):
        return opens, np.full(len(opens), -1, dtype=np.int64)
    j = np.minimum(np.searchsorted(key_close, key_open), len(closing) - 1)
    return opens, np.where(key_close[j] == key_open, closing[j], -1)


def _bad_experience(ev: _Events) -> tuple[np.ndarray, np.ndarray]:
    """Which events are bad experiences, and the survey that says so (0 CSAT, 1 effort, 2 NPS)."""
    bad = np.zeros(ev.n, dtype=bool)
    kind = np.full(ev.n, -1, dtype=np.int64)
    for k, (name, is_bad) in enumerate(
        (
            ("satisfaction", lambda v: v <= BAD_CSAT),
            ("effort", lambda v: v >= BAD_EFFORT),
            ("nps", lambda v: v <= BAD_NPS),
        )
    ):
        values = ev.column(name)
        if values is None:
            continue
        with np.errstate(invalid="ignore"):
            hit = is_bad(values) & ~np.isnan(values)
        kind[hit & ~bad] = k
        bad |= hit
    return bad, kind


def _tickets(
    ev: _Events,
    opened,
    resolved,
    responses,
    *,
    end_ns: int,
    horizon_ns: int,
    reopen_ns: int,
) -> dict[str, np.ndarray]:
    """One entry per ticket: its events, times, answers and outcomes."""
    is_open = np.isin(ev.tp, ev.codes_of(opened))
    is_res = np.isin(ev.tp, ev.codes_of(resolved)) & ~is_open
    o, r = _fifo(ev, is_open, is_res)
    done = r >= 0
    rc = np.where(done, r, o)  # the resolution, or the opening where none
    ts_o, ts_r = ev.ts[o], ev.ts[rc]
    # First response: the first brand-side event at or after the opening's instant (a
    # response touchpoint), or the ticket's own resolution when that comes first.
    is_resp = np.isin(ev.tp, ev.codes_of(responses)) & ~is_open & ~is_res
    f = _first_from(is_resp)[ev.tie_start[o]]
    f = np.where(ev.within(f, o, np.iinfo(np.int64).max), f, ev.n)
    f = np.where(done & (r < f), r, f)
    answered = f < ev.n
    fc = np.where(answered, f, o)
    # CSAT after: each answer at or within CSAT_WITHIN after a resolution belongs to the
    # ticket of the latest resolution at or before its instant (counted once).
    ticket_of = np.full(ev.n, -1, dtype=np.int64)
    ticket_of[r[done]] = np.flatnonzero(done)
    csat = ev.column("satisfaction")
    n_tickets = len(o)
    answers = csat_sum = top = np.zeros(n_tickets, dtype=np.float64)
    if csat is not None:
        given = np.flatnonzero(~np.isnan(csat))
        last = _last_upto(ticket_of >= 0)[ev.later[given] - 1]
        lc = np.maximum(last, 0)
        near = (last >= 0) & (ev.pos[lc] == ev.pos[given])
        near &= ev.ts[given] - ev.ts[lc] <= CSAT_WITHIN.value
        t, v = ticket_of[lc[near]], csat[given[near]]
        answers = np.bincount(t, minlength=n_tickets).astype(float)
        csat_sum = np.bincount(t, weights=v, minlength=n_tickets).astype(float)
        top = np.bincount(t, weights=(v >= 5).astype(float), minlength=n_tickets).astype(float)
    # Reopened: another ticket opened in (resolution, resolution + reopen_within].
    next_open = _first_from(is_open)[ev.later[rc]]
    reopen_known = done & (ts_r + reopen_ns <= end_ns)
    reopened = reopen_known & ev.within(next_open, rc, reopen_ns)
    # Churn: no event in (t, t + horizon]; t is the resolution for tickets resolved within
    # the horizon, else the opening. Known only when the window ended by the cutoff.
    in_time = done & (ts_r - ts_o <= horizon_ns)
    t_at = np.where(in_time, rc, o)
    churn_known = ev.ts[t_at] + horizon_ns <= end_ns
    churned = churn_known & ~ev.within(ev.later[t_at], t_at, horizon_ns)
    return {
        "open": o,
        "res": r,
        "first": np.where(answered, f, -1),
        "resolved": done,
        "first_response_hours": np.where(answered, (ev.ts[fc] - ts_o) / _NS_PER_HOUR, np.nan),
        "resolution_hours": np.where(done, (ts_r - ts_o) / _NS_PER_HOUR, np.nan),
        "open_days": np.where(done, np.nan, (end_ns - ts_o) / _NS_PER_DAY),
        "csat_answers": answers,
        "csat_sum": csat_sum,
        "csat_top": top,
        "reopen_known": reopen_known,
        "reopened": reopened,
        "resolved_in_time": in_time,
        "churn_known": churn_known,
        "churned": churned,
    }


def _unhappy(ev: _Events, opened, *, end_ns: int, horizon_ns: int) -> dict[str, np.ndarray]:
    """Per customer with a bad experience whose horizon ended: what they did next.

    Each customer's latest such bad experience counts: "complained" (a ticket
    opened in the horizon after it), "silent" (no event at all in the horizon
    after it: the silent unhappy) or "stayed" (other events, no ticket).
    """
    bad, kind = _bad_experience(ev)
    known = bad & (ev.ts + horizon_ns <= end_ns)
    idx = np.flatnonzero(known)
    last = np.ones(len(idx), dtype=bool)
    last[:-1] = ev.pos[idx[1:]] != ev.pos[idx[:-1]]
    b = idx[last]
    is_open = np.isin(ev.tp, ev.codes_of(opened))
    complained = ev.within(_first_from(is_open)[ev.later[b]], b, horizon_ns)
    silent = ~ev.within(ev.later[b], b, horizon_ns)
    pending = np.setdiff1d(np.unique(ev.pos[bad]), ev.pos[b])
    return {
        "event": b,
        "kind": kind[b],
        "outcome": np.where(complained, 0, np.where(silent, 1, 2)),
        "pending_pos": pending,
    }


def _groupwise(values: np.ndarray, group: np.ndarray, n_groups: int, q: float) -> np.ndarray:
    """The ``q`` quantile of ``values`` (NaN skipped) per group ``0..n_groups-1``."""
    s = pd.Series(values).groupby(group).quantile(q)
    return s.reindex(range(n_groups)).to_numpy(dtype=float)


def _steps(
    t: pd.DataFrame,
    u: pd.DataFrame,
    g_ticket: np.ndarray,
    g_unhappy: np.ndarray,
    g_customers: np.ndarray,
    g_pending: np.ndarray,
    n_groups: int,
    min_customers: int,
) -> pd.DataFrame:
    """The journey's figures per group (one row each)."""
    from cjml.analytics import _count, _ratio

    def count(mask=None, group=g_ticket) -> np.ndarray:
        """How many (of ``mask``) per group, as whole numbers."""
        weights = None if mask is None else np.asarray(mask, dtype=float)
        return np.rint(_count(group, n_groups, weights)).astype(np.int64)

    def total(values) -> np.ndarray:
        return _count(g_ticket, n_groups, np.asarray(values, dtype=float))

    tickets = count()
    first = np.ones(len(t), dtype=bool)
    cust = t["customer"].to_numpy()
    first[1:] = cust[1:] != cust[:-1]
    with_tickets = count(first)
    resolved = count(t["status"].to_numpy() == "resolved")
    answers = count(t["csat_after_answers"].to_numpy())
    out = {
        "customers": _count(g_customers, n_groups),
        "customers_with_tickets": with_tickets,
        "tickets": tickets,
    }
    out["ticket_share"] = _ratio(with_tickets, out["customers"])
    fr, rh = t["first_response_hours"].to_numpy(), t["resolution_hours"].to_numpy()
    out["responded"] = count(~np.isnan(fr))
    out["first_response_hours_median"] = _groupwise(fr, g_ticket, n_groups, 0.5)
    out["first_response_hours_p90"] = _groupwise(fr, g_ticket, n_groups, 0.9)
    out["resolved"] = resolved
    out["still_open"] = tickets - resolved
    out["resolved_share"] = _ratio(resolved, tickets)
    out["resolution_hours_median"] = _groupwise(rh, g_ticket, n_groups, 0.5)
    out["resolution_hours_p90"] = _groupwise(rh, g_ticket, n_groups, 0.9)
    out["open_days_median"] = _groupwise(t["open_days"].to_numpy(), g_ticket, n_groups, 0.5)
    out["csat_after_answers"] = answers
    out["csat_after_mean"] = _ratio(total(t["_csat_sum"]), answers)
    out["csat_after_top_box"] = _ratio(total(t["_csat_top"]), answers)
    known = t["reopened"].notna().to_numpy()
    out["reopen_known"] = count(known)
    out["reopened"] = count(t["reopened"].fillna(False).to_numpy(dtype=bool))
    out["reopen_rate"] = _ratio(out["reopened"], out["reopen_known"])
    churned = t["churned"].fillna(False).to_numpy(dtype=bool)
    side = t["churn_group"].to_numpy(dtype=object)
    for name in ("resolved", "unresolved"):
        n = count(side == name)
        k = count((side == name) & churned)
        out[f"churn_{name}_tickets"] = n
        out[f"churn_{name}_churned"] = k
        p, lo, hi = wilson_interval(k, n, CONFIDENCE)
        out[f"churn_{name}"], out[f"churn_{name}_low"], out[f"churn_{name}_high"] = p, lo, hi
    out["churn_not_yet_known"] = count(pd.isna(side))
    # unresolved minus resolved, with Newcombe's interval
    (
        out["churn_difference"],
        out["churn_difference_low"],
        out["churn_difference_high"],
    ) = newcombe_interval(
        out["churn_unresolved_churned"],
        out["churn_unresolved_tickets"],
        out["churn_resolved_churned"],
        out["churn_resolved_tickets"],
        CONFIDENCE,
    )
    outcome = u["outcome"].to_numpy(dtype=object)
    unhappy = count(group=g_unhappy)
    out["unhappy_customers"] = unhappy
    for name, column in (("complained", "complained"), ("silent", "silent_unhappy")):
        k = count(outcome == name, g_unhappy)
        p, lo, hi = wilson_interval(k, unhappy, CONFIDENCE)
        out[column], out[f"{column}_share"] = k, p
        out[f"{column}_low"], out[f"{column}_high"] = lo, hi
    out["unhappy_stayed"] = count(outcome == "stayed", g_unhappy)
    out["unhappy_not_yet_known"] = _count(g_pending, n_groups)
    frame = pd.DataFrame(out)
    frame["few"] = frame["customers_with_tickets"] < min_customers
    return frame


def support_journey(
    log,
    bundle=None,
    *,
    by=None,
    cutoff=None,
    horizon=None,
    opened=None,
    resolved=None,
    reopen_within="14D",
    min_customers=30,
    responses=None,
) -> SupportJourneyReport:
    """The support journey map: from ticket opened to resolved, and what came after.

    Only events at or before ``cutoff`` are used. **Tickets** are opened by
    the ``opened`` touchpoints and closed by the ``resolved`` ones, first in
    first out, as :class:`cjml.features.SupportFeatures` counts them: a
    resolution closes the customer's oldest open ticket, a resolution with no
    open ticket is ignored. Per ticket, and per group (all customers, then
    each persona of ``by``; a customer's persona is its value at its last
    event at or before the cutoff), the steps are:

    - **Opened**: tickets, customers with tickets (and their share of the
      customers), the opening channel (the log's ``channel`` column at the
      opening event).
    - **First response**: the first brand-side event at or after the opening:
      one of the ``responses`` touchpoints (default the journey map's
      actionable touchpoints: the ones the business triggers, such as a chat
      reply, call or email) or the ticket's own resolution, whichever comes
      first (the resolution of an older ticket does not answer this one).
      Hours to it, median and 90th percentile; tickets without one are left
      out of both.
    - **Resolved**: resolved share, hours to resolution (median and 90th
      percentile, over the resolved tickets), still open at the cutoff and the
      median age of the open ones, in days.
    - **After**: the CSAT after (satisfaction answers at the resolution or in
      the 7 days after it; each answer counts once, for the latest
      resolution before it): mean, top-box share (answers of 5) and answers.
      The **reopen rate**: the share of resolved tickets followed by another
      ticket of the customer within ``reopen_within`` (among those whose
      window ended by the cutoff). **Churn within the horizon** after resolved
      vs unresolved tickets: a ticket is *resolved* when it was resolved
      within ``horizon`` of its opening, then ``t`` is the resolution time;
      else it is *unresolved* and ``t`` is the opening time; the customer
      churned when they have no event in ``(t, t + horizon]``. Only tickets
      whose window ended by the cutoff count; the others are
      ``churn_not_yet_known``. Rates come with 90% Wilson intervals and the
      difference (unresolved minus resolved) with Newcombe's interval.
    - **The silent unhappy**: customers with a bad experience (a CSAT of 2 or
      less, an effort score of 5 or more, or an NPS of 0 to 6) whose horizon
      after it ended by the cutoff, classed by their latest such experience:
      *complained* (opened a ticket within the horizon after it), *silent*
      (no event at all within the horizon after it: the silent unhappy) or
      *stayed* (other events, no ticket). Customers whose bad experiences are
      all more recent are ``unhappy_not_yet_known``.

    Groups with fewer than ``min_customers`` customers with tickets are
    marked ``few`` (drawn grey).

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    bundle : ModelBundle, optional
        A trained bundle: its featurizer's support touchpoints and its
        horizon become the defaults.
    by : str, optional
        A column of the log to split by (a persona or segment column).
    cutoff : date, optional
        Only events at or before it are used; default the end of the day of
        the log's last event.
    horizon : duration, optional
        The churn window; default the bundle's horizon, or 30 days.
    opened : str or list of str, optional
        Touchpoints that open a ticket; default the bundle's, or
        ``"support_ticket"``.
    resolved : str or list of str, optional
        Touchpoints that resolve one; default the bundle's, or
        ``"ticket_resolved"``.
    reopen_within : duration, default "14D"
        A new ticket this soon after a resolution counts as a reopen.
    min_customers : int, default 30
        Groups with fewer customers with tickets are marked ``few``.
    responses : str or list of str, optional
        The brand-side touchpoints that count as a first response (the
        ticket's own resolution always counts); default the journey map's
        actionable touchpoints.

    Returns
    -------
    SupportJourneyReport
        The tables ("steps", "tickets", "channels", "unhappy") and their views.

    Raises
    ------
    ValueError
        When the log has no ticket up to the cutoff (the message names the
        touchpoints looked for), an option is not valid, or no event happened
        at or before the cutoff.
    SchemaError
        When ``by`` is not a column of the log.

    Examples
    --------
    >>> import pandas as pd
    >>> import cjml
    >>> log = cjml.read_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 1],
    ...     "timestamp": ["2024-01-01 09:00", "2024-01-01 12:00", "2024-01-02 09:00",
    ...                   "2024-03-01"],
    ...     "touchpoint": ["support_ticket", "live_chat", "ticket_resolved", "purchase"]}))
    >>> report = cjml.support_journey(log, horizon="30D")
    >>> report.steps[["tickets", "first_response_hours_median", "resolution_hours_median"]]
       tickets  first_response_hours_median  resolution_hours_median
    0        1                          3.0                     24.0
    """
    from cjml.analytics import DEFAULT_HORIZON, _resolve_by
    from cjml.features._base import as_log
    from cjml.labels import _data_end, to_timedelta

    log = as_log(log)
    by = _resolve_by(log, by)
    meta = getattr(bundle, "metadata", None) or {}
    horizon_td = to_timedelta(
        horizon if horizon is not None else meta.get("horizon", DEFAULT_HORIZON)
    )
    reopen_td = to_timedelta(reopen_within, "reopen_within")
    if isinstance(min_customers, bool) or not isinstance(min_customers, int | np.integer):
        raise ValueError(f"min_customers must be a whole number, got {min_customers!r}.")
    if min_customers < 0:
        raise ValueError(f"min_customers must be 0 or more, got {min_customers!r}.")
    end = to_utc_timestamp(cutoff, log.timezone) if cutoff is not None else _data_end(log, None)
    opened_tp, resolved_tp, source = _ticket_touchpoints(bundle, opened, resolved)
    if responses is None:
        responses_tp = tuple(log.journey_map.actionable_touchpoints)
    else:
        responses_tp = _names(responses, "responses")
    responses_tp = tuple(r for r in responses_tp if r not in opened_tp)
    ev = _Events(log, end.value)
    if not np.isin(ev.tp, ev.codes_of(opened_tp)).any():
        raise _no_tickets(log, opened_tp, resolved_tp, end)
    h, e = horizon_td.value, end.value
    tk = _tickets(
        ev, opened_tp, resolved_tp, responses_tp, end_ns=e, horizon_ns=h, reopen_ns=reopen_td.value
    )
    un = _unhappy(ev, opened_tp, end_ns=e, horizon_ns=h)

    # Personas: each customer's value of `by` at its last event up to the cutoff.
    if by is None:
        g_cust, labels = np.zeros(len(ev.codes), dtype=np.int64), [None]
    else:
        values = log.frame[by].iloc[ev.rows[ev.last_row]]
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
        g_cust, labels = codes.astype(np.int64), list(uniques)

    frame = log.frame
    o, r, f = tk["open"], tk["res"], tk["first"]

    def at(column: str, idx: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
        values = frame[column].iloc[ev.rows[np.maximum(idx, 0)]].reset_index(drop=True)
        if missing is not None and missing.any():
            values = values.astype(object).where(~missing, None)
        return values

    def moment(idx: np.ndarray) -> pd.Series:
        ts = pd.to_datetime(ev.ts[np.maximum(idx, 0)], utc=True)
        return pd.Series(ts).where(idx >= 0)

    cust_pos = ev.pos[o]
    persona = np.asarray(labels, dtype=object)[g_cust[cust_pos]] if by else None
    tickets = pd.DataFrame(
        {
            "customer_id": log.customer_ids[ev.codes[cust_pos]],
            **({"persona": persona} if by else {}),
            "ticket": _rank_within(cust_pos) + 1,
            "opened_at": moment(o),
            "touchpoint": at("touchpoint", o).astype(str),
            "channel": at("channel", o).astype(object) if "channel" in frame else None,
            "stage": at("stage", o).astype(str),
            "first_response_at": moment(f),
            "first_response_touchpoint": at("touchpoint", f, f < 0),
            "first_response_hours": tk["first_response_hours"],
            "resolved_at": moment(r),
            "resolution_hours": tk["resolution_hours"],
            "status": np.where(tk["resolved"], "resolved", "open"),
            "open_days": tk["open_days"],
            "csat_after": np.where(
                tk["csat_answers"] > 0, tk["csat_sum"] / np.maximum(tk["csat_answers"], 1), np.nan
            ),
            "csat_after_answers": tk["csat_answers"].astype(np.int64),
            "reopened": pd.array(
                np.where(tk["reopen_known"], tk["reopened"], False), dtype="boolean"
            ),
            "churn_group": pd.Series(
                np.where(tk["resolved_in_time"], "resolved", "unresolved"), dtype=object
            ).where(tk["churn_known"], None),
            "churned": pd.array(tk["churned"], dtype="boolean"),
        }
    )
    tickets.loc[~tk["reopen_known"], "reopened"] = pd.NA
    tickets.loc[~tk["churn_known"], "churned"] = pd.NA
    if tickets["first_response_touchpoint"].dtype != object:
        tickets["first_response_touchpoint"] = tickets["first_response_touchpoint"].astype(str)

    b = un["event"]
    kinds = np.array(["satisfaction", "effort", "nps"], dtype=object)
    outcomes = np.array(["complained", "silent", "stayed"], dtype=object)
    scores = np.full(len(b), np.nan)
    for k, name in enumerate(kinds):
        values = ev.column(name)
        if values is not None:
            scores = np.where(un["kind"] == k, values[b], scores)
    unhappy = pd.DataFrame(
        {
            "customer_id": log.customer_ids[ev.codes[ev.pos[b]]],
            **({"persona": np.asarray(labels, dtype=object)[g_cust[ev.pos[b]]]} if by else {}),
            "bad_experience_at": moment(b),
            "survey": kinds[un["kind"]],
            "score": scores,
            "touchpoint": at("touchpoint", b).astype(str),
            "outcome": outcomes[un["outcome"]],
        }
    )

    work = tickets.assign(
        customer=cust_pos,
        _resolved=tk["resolved"],
        _csat_sum=tk["csat_sum"],
        _csat_top=tk["csat_top"],
    )
    parts = []
    for groups, g_c, names in (
        (1, np.zeros_like(g_cust), [None]),
        *(((len(labels), g_cust, labels),) if by else ()),
    ):
        step = _steps(
            work,
            unhappy,
            g_c[cust_pos],
            g_c[ev.pos[b]],
            g_c,
            g_c[un["pending_pos"]],
            groups,
            int(min_customers),
        )
        step.insert(0, "persona", pd.Series(names, dtype=object))
        parts.append(step)
    steps = pd.concat(parts, ignore_index=True)
    channels = _channels(work, by)
    info = {
        "cutoff": end,
        "horizon": horizon_td,
        "reopen_within": reopen_td,
        "csat_within": CSAT_WITHIN,
        "confidence": CONFIDENCE,
        "by": by,
        "opened": opened_tp,
        "resolved": resolved_tp,
        "responses": responses_tp,
        "touchpoints_from": source,
        "n_customers": len(ev.codes),
        "n_events": ev.n,
        "n_tickets": len(tickets),
        "min_customers": int(min_customers),
        "journey_map": log.journey_map.name,
        "columns": [c for c in ("channel", "satisfaction", "effort", "nps") if c in frame.columns],
    }
    return SupportJourneyReport(
        steps=steps, tickets=tickets, channels=channels, unhappy=unhappy, info=info
    )


def _channels(work: pd.DataFrame, by) -> pd.DataFrame:
    """Tickets per opening channel, for all customers and per persona."""
    columns = ["persona", "channel", "tickets", "share", "resolved_share"]
    columns.append("resolution_hours_median")
    if work["channel"].isna().all():
        return pd.DataFrame(columns=columns)
    parts = []
    for key in (None, "persona") if by else (None,):
        g = work if key else work.assign(persona=None)
        grouped = g.groupby(["persona", "channel"], dropna=False, sort=True, observed=True)
        table = grouped.agg(
            tickets=("ticket", "size"),
            resolved=("_resolved", "sum"),
            resolution_hours_median=("resolution_hours", "median"),
        ).reset_index()
        if not key:
            table["persona"] = None
        totals = table.groupby("persona", dropna=False)["tickets"].transform("sum")
        table["share"] = table["tickets"] / totals
        table["resolved_share"] = table["resolved"] / table["tickets"]
        parts.append(table.sort_values(["persona", "tickets"], ascending=[True, False]))
    out = pd.concat(parts, ignore_index=True)[columns]
    out["persona"] = out["persona"].astype(object).where(out["persona"].notna(), None)
    return out


# =========================================================================== the report
@dataclass
class SupportJourneyReport:
    """The support journey map made by :func:`support_journey`.

    Every table is a plain DataFrame (see :meth:`to_frame`); :func:`support_journey`
    defines the figures.

    Parameters
    ----------
    steps : DataFrame
        One row per group: all customers first (``persona`` None), then each
        persona. ``customers``, ``customers_with_tickets``, ``tickets``,
        ``ticket_share``; ``responded``, ``first_response_hours_median``,
        ``first_response_hours_p90``; ``resolved``, ``still_open``,
        ``resolved_share``, ``resolution_hours_median``,
        ``resolution_hours_p90``, ``open_days_median``;
        ``csat_after_answers``, ``csat_after_mean``, ``csat_after_top_box``;
        ``reopen_known``, ``reopened``, ``reopen_rate``;
        ``churn_resolved_tickets``, ``churn_resolved_churned``,
        ``churn_resolved`` (the rate) with ``_low`` and ``_high``, the same for
        ``churn_unresolved``, ``churn_not_yet_known``, ``churn_difference``
        (unresolved minus resolved) with ``_low`` and ``_high``;
        ``unhappy_customers``, ``complained``, ``silent_unhappy`` (counts,
        with ``_share``, ``_low`` and ``_high``), ``unhappy_stayed``,
        ``unhappy_not_yet_known``; ``few``.
    tickets : DataFrame
        One row per ticket: ``customer_id``, ``persona`` (with ``by``),
        ``ticket`` (1 = the customer's first), ``opened_at``, ``touchpoint``,
        ``channel``, ``stage``, ``first_response_at``,
        ``first_response_touchpoint``, ``first_response_hours``,
        ``resolved_at``, ``resolution_hours``, ``status`` ("resolved" or
        "open"), ``open_days`` (age at the cutoff of an open ticket),
        ``csat_after`` (mean), ``csat_after_answers``, ``reopened`` (NA until
        known), ``churn_group`` ("resolved", "unresolved"; None until known),
        ``churned`` (NA until known).
    channels : DataFrame
        Per group and opening channel: ``tickets``, ``share`` (of the group's
        tickets), ``resolved_share``, ``resolution_hours_median``; empty when
        the log has no channel column.
    unhappy : DataFrame
        One row per customer with a known bad experience: ``customer_id``,
        ``persona`` (with ``by``), ``bad_experience_at``, ``survey``
        ("satisfaction", "effort" or "nps"), ``score``, ``touchpoint``,
        ``outcome`` ("complained", "silent" or "stayed").
    info : dict
        ``cutoff``, ``horizon``, ``reopen_within``, ``csat_within``,
        ``confidence``, ``by``, ``opened``, ``resolved``, ``responses`` (the
        touchpoints used), ``touchpoints_from``, ``n_customers``,
        ``n_events``, ``n_tickets``, ``min_customers``, ``journey_map``,
        ``columns`` (the optional columns the log has).
    """

    steps: pd.DataFrame
    tickets: pd.DataFrame
    channels: pd.DataFrame
    unhappy: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def personas(self) -> list:
        """The personas (values of ``by``), in order; [] without ``by``."""
        return list(self.steps["persona"].iloc[1:]) if self.info.get("by") else []

    def to_frame(self, table: str = "steps") -> pd.DataFrame:
        """One of the tables.

        Parameters
        ----------
        table : {"steps", "tickets", "channels", "unhappy"}, default "steps"
            Which table.

        Returns
        -------
        DataFrame
            A copy of the table (its columns are described in the class
            documentation).
        """
        if table not in _TABLES:
            close = difflib.get_close_matches(str(table), _TABLES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown table {table!r}; choose one of {list(_TABLES)!r}.{hint}")
        return getattr(self, table).copy()

    def to_csv(self, path, *, table: str = "steps", force: bool = False) -> Path:
        """Write a table to CSV for spreadsheets: formula-safe, UTF-8 with BOM, atomic.

        Parameters
        ----------
        path : str or Path
            The ``.csv`` file.
        table : {"steps", "tickets", "channels", "unhappy"}, default "steps"
            Which table (see :meth:`to_frame`).
        force : bool, default False
            Replace an existing file; without it an existing file is an error.

        Returns
        -------
        Path
            The file written.
        """
        return write_csv(self.to_frame(table), path, force=force)

    def _row(self, persona) -> pd.Series:
        """The steps row of a persona (None: all customers)."""
        if persona is None:
            return self.steps.iloc[0]
        if not self.info.get("by"):
            raise ValueError(
                f"persona={persona!r} needs personas: build the support journey with by= "
                "(--by on the command line), e.g. by='segment'."
            )
        known = self.personas
        for k, value in enumerate(known):
            if value == persona or str(value) == str(persona):
                return self.steps.iloc[k + 1]
        raise ValueError(
            f"Unknown persona {persona!r} of {self.info['by']!r}; the personas are {known!r}."
        )

    # -- words
    def headline(self) -> str:
        """The support journey in one sentence: tickets, customers, cutoff.

        Returns
        -------
        str
            The sentence.
        """
        from cjml.analytics import _int
        from cjml.i18n import format_moment

        row = self.steps.iloc[0]
        return ngettext(
            "{tickets} ticket from {customers} customers up to {cutoff} UTC",
            "{tickets} tickets from {customers} customers up to {cutoff} UTC",
            int(row["tickets"]),
        ).format(
            tickets=_int(row["tickets"]),
            customers=_int(row["customers_with_tickets"]),
            cutoff=format_moment(self.info["cutoff"]),
        )

    def steps_text(self, persona=None) -> dict:
        """The words of the step diagram of a persona: what every box says.

        Parameters
        ----------
        persona : object, optional
            A persona; None for all customers.

        Returns
        -------
        dict
            ``title``, ``few`` (the group has under ``min_customers``
            customers with tickets), ``few_text``, ``boxes`` (a list of four
            dicts with ``step``, ``lines`` and ``hover``, the counts behind the
            numbers), ``unhappy`` (the silent-unhappy sentence) and
            ``unhappy_hover`` (its counts).
        """
        return _step_words(self._row(persona), self.info, self.channels, persona)

    def to_text(self) -> str:
        """The support journey in plain text, for terminals and logs.

        Returns
        -------
        str
            A headline, then per group its four steps and the silent unhappy.
        """
        lines = [self.headline()]
        for persona in [None, *self.personas]:
            words = self.steps_text(persona)
            lines.append(words["title"] + (f" ({words['few_text']})" if words["few"] else ""))
            for box in words["boxes"]:
                lines.append(f"  {box['step']}: " + "; ".join(box["lines"]))
            lines.append("  " + words["unhappy"])
        return "\n".join(lines)

    # -- views
    def _repr_html_(self) -> str:
        return _html(self)

    def figure(self, persona=None, lang: str | None = None):
        """The support journey as a matplotlib figure, A4 landscape.

        The step diagram (Opened, First response, Resolved, After) of a
        persona or of all customers, churn after resolved vs unresolved
        tickets with intervals, the silent unhappy against those who
        complained, and, for all customers, a table of the personas.

        Parameters
        ----------
        persona : object, optional
            A persona; None for all customers.
        lang : {"en", "vi"}, optional
            The words' language; default the current one (:mod:`cjml.i18n`).

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not registered with pyplot).
        """
        if lang is not None:
            with language(lang):
                return self.figure(persona)
        return _figure(self, persona)

    def save(self, path, *, force: bool = False, lang: str | None = None) -> Path:
        """Write the support journey to a file, its format from the suffix.

        Parameters
        ----------
        path : str or Path
            ``.html`` (a self-contained page), ``.png`` (all customers) or
            ``.pdf`` (A4 landscape: all customers, then one page per persona).
        force : bool, default False
            Replace an existing file; without it an existing file is an error.
        lang : {"en", "vi"}, optional
            The words' language; default the current one.

        Returns
        -------
        Path
            The file written.
        """
        if lang is not None:
            with language(lang):
                return self.save(path, force=force)
        suffix = Path(path).suffix.lower()
        if suffix not in _SUFFIXES:
            raise ValueError(
                f"Cannot save the support journey as {str(path)!r}: name a file ending in "
                f"{', '.join(_SUFFIXES)}."
            )
        if suffix == ".html":
            page = _page(self)
            return write_atomic(
                path,
                lambda tmp: Path(tmp).write_text(page, encoding="utf-8"),
                force=force,
                suffixes=_SUFFIXES,
            )
        if suffix == ".png":
            fig = self.figure()
            return write_atomic(
                path,
                lambda tmp: fig.savefig(tmp, format="png", dpi=150),
                force=force,
                suffixes=_SUFFIXES,
            )
        figures = [self.figure(p) for p in [None, *self.personas]]

        def write_pdf(tmp: str) -> None:
            from matplotlib.backends.backend_pdf import PdfPages

            with PdfPages(tmp) as pdf:
                for fig in figures:
                    pdf.savefig(fig)

        return write_atomic(path, write_pdf, force=force, suffixes=_SUFFIXES)


# =========================================================================== words
def _duration(hours) -> str:
    """Hours in words: minutes under an hour, hours under two days, days from there."""
    if hours is None or pd.isna(hours):
        return _DASH
    return format_duration(pd.Timedelta(hours=float(hours)), hours_until=pd.Timedelta(hours=48))


def _difference(row: pd.Series) -> str:
    """Churn after unresolved minus after resolved tickets, with its interval, in points."""
    from cjml.i18n import format_points

    return _("Churn if unresolved minus if resolved: {diff}, 90% interval {low} to {high}.").format(
        diff=format_points(row["churn_difference"], signed=True),
        low=format_points(row["churn_difference_low"], signed=True),
        high=format_points(row["churn_difference_high"], signed=True),
    )


def _persona_title(persona, by) -> str:
    if persona is None:
        return _("All customers")
    return _("{persona} ({column})").format(
        column=label_text(by, lower=True), persona=label_text(persona)
    )


def _rules(info: dict) -> str:
    """What the figures count, in one sentence."""
    from cjml.analytics import _days
    from cjml.i18n import format_moment

    return _(
        "Events up to {cutoff} UTC. Churn: no event in the {horizon} after the ticket's "
        "resolution, or after its opening when it was not resolved within that time."
    ).format(cutoff=format_moment(info["cutoff"]), horizon=_days(info["horizon"]))


def _step_words(row: pd.Series, info: dict, channels: pd.DataFrame, persona) -> dict:
    """What each box of the step diagram says, and the counts behind it."""
    from cjml.analytics import _days, _int, _num, _pct

    n = int(row["tickets"])
    top = channels[
        channels["persona"].isna() if persona is None else channels["persona"] == persona
    ]
    opened = [
        ngettext(
            "{tickets} ticket from {customers} customers",
            "{tickets} tickets from {customers} customers",
            n,
        ).format(tickets=_int(n), customers=_int(row["customers_with_tickets"])),
        _("{share} of customers opened one").format(share=_pct(row["ticket_share"])),
    ]
    if len(top):
        first = top.sort_values("tickets", ascending=False).iloc[0]
        opened.append(
            _("top channel: {channel} ({share})").format(
                channel=label_text(first["channel"]), share=_pct(first["share"])
            )
        )
    response = [
        _("median {time}").format(time=_duration(row["first_response_hours_median"])),
        _("90% within {time}").format(time=_duration(row["first_response_hours_p90"])),
        _("{answered} of {tickets} answered").format(
            answered=_int(row["responded"]), tickets=_int(n)
        ),
    ]
    resolved = [
        _("{share} resolved").format(share=_pct(row["resolved_share"])),
        _("median {time}, 90% within {p90}").format(
            time=_duration(row["resolution_hours_median"]),
            p90=_duration(row["resolution_hours_p90"]),
        ),
        _("{open} still open, median age {age}").format(
            open=_int(row["still_open"]), age=_duration(row["open_days_median"] * 24)
        ),
    ]
    after = [
        _("CSAT after {mean} of 5, top box {top}").format(
            mean=_num(row["csat_after_mean"], 1), top=_pct(row["csat_after_top_box"])
        )
        if row["csat_after_answers"]
        else _("no CSAT answer after"),
        _("reopened within {days}: {rate}").format(
            days=_days(info["reopen_within"]), rate=_pct(row["reopen_rate"])
        ),
        _("churn within {days}: {resolved} if resolved, {unresolved} if not").format(
            days=_days(info["horizon"]),
            resolved=_pct(row["churn_resolved"]),
            unresolved=_pct(row["churn_unresolved"]),
        ),
    ]
    hover = [
        _("{tickets} tickets, {customers} customers with tickets of {all} customers").format(
            tickets=_int(n),
            customers=_int(row["customers_with_tickets"]),
            all=_int(row["customers"]),
        ),
        _("{answered} tickets with a response of {tickets}").format(
            answered=_int(row["responded"]), tickets=_int(n)
        ),
        _("{resolved} resolved, {open} still open of {tickets} tickets").format(
            resolved=_int(row["resolved"]), open=_int(row["still_open"]), tickets=_int(n)
        ),
        _(
            "{answers} CSAT answers; reopen known for {reopen} tickets; churn known for "
            "{resolved} resolved and {unresolved} unresolved tickets ({pending} not yet known)"
        ).format(
            answers=_int(row["csat_after_answers"]),
            reopen=_int(row["reopen_known"]),
            resolved=_int(row["churn_resolved_tickets"]),
            unresolved=_int(row["churn_unresolved_tickets"]),
            pending=_int(row["churn_not_yet_known"]),
        )
        + ". "
        + _difference(row),
    ]
    steps = (_("Opened"), _("First response"), _("Resolved"), _("After"))
    boxes = [
        {"step": s, "lines": lines, "hover": h}
        for s, lines, h in zip(steps, (opened, response, resolved, after), hover, strict=True)
    ]
    unhappy = ngettext(
        "Silent unhappy: {silent} of {unhappy} customer with a bad experience opened no "
        "ticket and went silent ({share}); {complained} complained.",
        "Silent unhappy: {silent} of {unhappy} customers with a bad experience opened no "
        "ticket and went silent ({share}); {complained} complained.",
        int(row["unhappy_customers"]),
    ).format(
        silent=_int(row["silent_unhappy"]),
        unhappy=_int(row["unhappy_customers"]),
        share=_pct(row["silent_unhappy_share"]),
        complained=_int(row["complained"]),
    )
    unhappy_hover = _(
        "{complained} complained, {silent} went silent, {stayed} stayed without a ticket; "
        "{pending} more with a bad experience too recent to know"
    ).format(
        complained=_int(row["complained"]),
        silent=_int(row["silent_unhappy"]),
        stayed=_int(row["unhappy_stayed"]),
        pending=_int(row["unhappy_not_yet_known"]),
    )
    few = bool(row["few"])
    return {
        "title": _persona_title(persona, info.get("by")),
        "few": few,
        "few_text": _("few customers: {n}").format(n=_int(row["customers_with_tickets"])),
        "boxes": boxes,
        "unhappy": unhappy,
        "unhappy_hover": unhappy_hover,
    }


# =========================================================================== html
_CSS = (
    ".cjml-support{font-family:'DejaVu Sans',system-ui,sans-serif;color:#222}"
    ".cjml-support .row{display:flex;align-items:stretch;gap:4px;margin:4px 0 2px}"
    ".cjml-support .box{flex:1;border:1px solid #4c72b0;border-radius:6px;padding:4px 8px;"
    "background:#eef3fb;font-size:0.85em}"
    ".cjml-support .box b{display:block;margin-bottom:2px}"
    ".cjml-support .arrow{align-self:center;font-size:1.4em;color:#4c72b0}"
    ".cjml-support .few{opacity:0.55;filter:grayscale(1)}"
    ".cjml-support .box div:first-of-type{font-weight:600}"
    ".cjml-support .note{font-size:0.85em;margin:6px 0 14px}"
    ".cjml-support h3{font-size:1em;margin:12px 0 4px}"
)


def _html(report: SupportJourneyReport) -> str:
    parts = [
        f"<div class='cjml-support'><style>{_CSS}</style>",
        f"<p>{html.escape(report.headline())}.</p>",
        f"<p class='note'>{html.escape(_rules(report.info))}</p>",
    ]
    for persona in [None, *report.personas]:
        words = report.steps_text(persona)
        title = html.escape(words["title"])
        if words["few"]:
            title += f" <small>({html.escape(words['few_text'])})</small>"
        cells = []
        for box in words["boxes"]:
            body = "".join(f"<div>{html.escape(line)}</div>" for line in box["lines"])
            cells.append(
                f"<div class='box' title='{html.escape(box['hover'], quote=True)}'>"
                f"<b>{html.escape(box['step'])}</b>{body}</div>"
            )
        arrow = "<div class='arrow' aria-hidden='true'>&#8594;</div>"
        grey = " few" if words["few"] else ""
        parts.append(
            f"<div class='group{grey}'><h3>{title}</h3><div class='row'>"
            + arrow.join(cells)
            + f"</div><p class='note' title='{html.escape(words['unhappy_hover'], quote=True)}'>"
            + f"{html.escape(words['unhappy'])}</p></div>"
        )
    parts.append("</div>")
    return "".join(parts)


def _page(report: SupportJourneyReport) -> str:
    from cjml.i18n import current

    title = html.escape(_("Support journey"))
    return (
        f"<!DOCTYPE html><html lang='{current().language}'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body><h1>{title}</h1>{report._repr_html_()}</body></html>"
    )


# =========================================================================== figure
def _figure(report: SupportJourneyReport, persona):
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    words = report.steps_text(persona)
    row = report._row(persona)
    table = persona is None and bool(report.personas)
    fig = Figure(figsize=(11.69, 8.27))
    fig.patch.set_facecolor("white")
    colour = _GREY if words["few"] else "#4c72b0"
    fill = "#f0f0f0" if words["few"] else "#eef3fb"
    page = fig.get_figwidth() * 72
    title = _("Support journey: {group}").format(group=words["title"])
    fig.text(0.04, 0.95, _wrap(title, 0.92 * page, 16, "bold"), fontsize=16, weight="bold")
    sub = _rules(report.info)
    if words["few"]:
        sub = words["few_text"] + ". " + sub
    fig.text(0.04, 0.925, _wrap(sub, 0.92 * page, 9), fontsize=9, color="#444", va="top")
    top = 0.6 if table else 0.55
    ax = fig.add_axes((0.03, top, 0.94, 0.86 - top))
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 1)
    ax.axis("off")
    # Points per data unit, to wrap the boxes' words to their measured width.
    unit_w = 0.94 * fig.get_figwidth() * 72 / 4
    unit_h = (0.86 - top) * fig.get_figheight() * 72
    ink = "#6a6a6a" if words["few"] else "#222222"
    for k, box in enumerate(words["boxes"]):
        x = k + 0.05
        patch = FancyBboxPatch(
            (x, 0.03),
            _BOX_W,
            0.94,
            boxstyle="round,pad=0.01,rounding_size=0.04",
            facecolor=fill,
            edgecolor=colour,
            linewidth=1.5,
            gid=f"support-box-{k}",
        )
        ax.add_patch(patch)
        inset = _BOX_PAD / unit_w
        blocks = _box_layout(box, _BOX_W * unit_w - 2 * _BOX_PAD, 0.94 * unit_h - 2 * _BOX_PAD)
        for j, (text, size, weight, offset) in enumerate(blocks):
            ax.text(
                x + inset,
                0.97 - (_BOX_PAD + offset) / unit_h,
                text,
                fontsize=size,
                weight=weight,
                color=colour if j == 0 else ink,
                va="top",
                linespacing=_LINE,
                gid=f"support-box-{k}-text",
            )
        if k < 3:
            arrow = FancyArrowPatch(
                (x + 0.8, 0.5), (x + 1.0, 0.5), arrowstyle="-|>", mutation_scale=18, color=colour
            )
            ax.add_patch(arrow)
    bottom = 0.36 if table else 0.2
    tall = 0.16 if table else 0.25
    _churn_axes(fig.add_axes((0.19, bottom, 0.28, tall)), row, report.info, colour)
    _unhappy_axes(fig.add_axes((0.68, bottom, 0.28, tall)), row, colour)
    page = fig.get_figwidth() * 72
    fig.text(0.04, bottom - 0.1, _wrap(words["unhappy"], 0.92 * page, 10), fontsize=10, va="top")
    if table:
        _personas_table(fig, report, height=bottom - 0.15)
    return fig


_BOX_W = 0.78  # a step box's width, of the 1 data unit each step has
_BOX_PAD = 8.0  # points between a box's edge and its words
_LINE = 1.2  # baseline to baseline, in em


def _box_layout(box: dict, width: float, height: float) -> list[tuple[str, float, str, float]]:
    """A step box's words wrapped to ``width`` points, shrunk until they fit ``height``.

    Returns (text, size, weight, offset from the top in points) per block:
    the step's name, its key figure in bold, then the other lines.
    """
    from cjml.canvas._text import wrap as wrap_to

    items = [(box["step"], 12.0, "bold")]
    for j, line in enumerate(box["lines"]):
        items.append((line, 10.0 if j == 0 else 9.0, "bold" if j == 0 else "normal"))
    for scale in np.linspace(1.0, 0.65, 8):
        wrapped = []
        for text, size, weight in items:
            size = round(size * scale, 2)
            wrapped.append((wrap_to(text, width, size, weight), size, weight))
        used = sum(len(lines) * size * _LINE for lines, size, _w in wrapped)
        gaps = sum(0.6 * size for _l, size, _w in wrapped[:-1])
        if used + gaps <= height:
            break
    # Room to spare spreads the blocks out a little (up to a line more between them).
    spare = max(height - used - gaps, 0.0) / max(len(wrapped) - 1, 1)
    blocks, offset = [], 0.0
    for lines, size, weight in wrapped:
        blocks.append(("\n".join(lines), size, weight, offset))
        offset += len(lines) * size * _LINE + 0.6 * size + min(spare, 1.2 * size)
    return blocks


def _personas_table(fig, report: SupportJourneyReport, height: float) -> None:
    """The personas side by side under the diagram; few ones grey and saying so."""
    from cjml.analytics import _int, _num, _pct

    heads = [
        label_text(report.info["by"]),
        _("Tickets"),
        _("Resolved"),
        _("Median time to resolution"),
        _("CSAT after"),
        _("Reopened"),
        _("Churn if resolved"),
        _("Churn if unresolved"),
        _("Silent unhappy"),
    ]
    from cjml.canvas._text import ellipsize, text_width

    xs = [0.04, 0.26, 0.35, 0.44, 0.53, 0.62, 0.71, 0.80, 0.89, 0.98]
    page = fig.get_figwidth() * 72
    rooms = [(b - a) * page - 6 for a, b in zip(xs[:-1], xs[1:], strict=True)]
    personas = report.personas
    # At most as many rows as fit at a readable size; the rest are counted below them.
    fits = max(int(height / 0.018) - 2, 1)
    shown = personas if len(personas) <= fits else personas[: fits - 1]
    step = min(height / (len(shown) + 2), 0.03)
    size = 9.0 if step >= 0.025 else 7.0
    y = 0.02 + step * (len(shown) + (len(shown) < len(personas)))
    for x, head, room in zip(xs[:-1], heads, rooms, strict=True):
        fig.text(x, y, _wrap(head, room, size - 1, "bold"), fontsize=size - 1, weight="bold")
    for persona in shown:
        y -= step
        row = report._row(persona)
        name = label_text(persona)
        if row["few"]:
            few = " (" + _("few customers: {n}").format(n=_int(row["customers_with_tickets"])) + ")"
            room = rooms[0] - text_width(few, size)
            if text_width(name, size) > room:
                name = ellipsize(name, room, size, "normal")
            name += few
        elif text_width(name, size) > rooms[0]:
            name = ellipsize(name, rooms[0], size, "normal")
        cells = [
            name,
            _int(row["tickets"]),
            _pct(row["resolved_share"]),
            _duration(row["resolution_hours_median"]),
            _num(row["csat_after_mean"], 1),
            _pct(row["reopen_rate"]),
            _pct(row["churn_resolved"]),
            _pct(row["churn_unresolved"]),
            _int(row["silent_unhappy"]),
        ]
        colour = _GREY if row["few"] else "#222"
        for x, cell in zip(xs[:-1], cells, strict=True):
            fig.text(x, y, cell, fontsize=size, color=colour)
    if len(shown) < len(personas):
        more = len(personas) - len(shown)
        fig.text(
            xs[0],
            y - step,
            _("and {n} more: see the HTML page or the CSV").format(n=_int(more)),
            fontsize=size,
            color="#444",
        )


def _wrap(text: str, width: float, size: float, weight: str = "normal") -> str:
    """``text`` wrapped to ``width`` points at ``size``, measured as the canvas measures."""
    from cjml.canvas._text import wrap as wrap_to

    return "\n".join(wrap_to(text, width, size, weight))


def _churn_axes(ax, row: pd.Series, info: dict, colour: str) -> None:
    from cjml.analytics import _days, _pct

    sides = ("resolved", "unresolved")
    rates = np.array([row[f"churn_{s}"] for s in sides], dtype=float)
    lows = np.array([row[f"churn_{s}_low"] for s in sides], dtype=float)
    highs = np.array([row[f"churn_{s}_high"] for s in sides], dtype=float)
    notes = [
        _("{rate} of {n} tickets").format(
            rate=_pct(row[f"churn_{s}"]), n=format_number(int(row[f"churn_{s}_tickets"]))
        )
        for s in sides
    ]
    title = _("Churn within {days} after the ticket (90% intervals)").format(
        days=_days(info["horizon"])
    )
    _bars(ax, [_("resolved"), _("unresolved")], rates, notes, [colour, "#c44e52"], title)
    width = 0.42 * ax.figure.get_figwidth() * 72
    ax.set_xlabel(_wrap(_difference(row), width, 9), fontsize=9, loc="left")
    ax.errorbar(
        np.nan_to_num(rates),
        np.arange(2),
        xerr=np.nan_to_num([rates - lows, highs - rates]),
        fmt="none",
        color="#222",
        capsize=4,
    )


def _unhappy_axes(ax, row: pd.Series, colour: str) -> None:
    from cjml.analytics import _pct

    counts = np.array(
        [row["complained"], row["silent_unhappy"], row["unhappy_stayed"]], dtype=float
    )
    shares = counts / max(counts.sum(), 1.0)
    notes = [
        _("{n} ({share})").format(n=format_number(int(c)), share=_pct(p))
        for c, p in zip(counts, shares, strict=True)
    ]
    title = _("After a bad experience: {n} customers").format(n=format_number(int(counts.sum())))
    labels = [_("complained"), _("silent unhappy"), _("stayed, no ticket")]
    _bars(ax, labels, shares, notes, [colour, "#c44e52", "#bbbbbb"], title)


def _bars(ax, labels, values, notes, colours, title: str) -> None:
    """Horizontal bars of shares, each labelled with its name and its numbers."""
    y = np.arange(len(labels))
    ax.barh(y, np.nan_to_num(values), color=colours, height=0.5)
    room = 0.14 * ax.figure.get_figwidth() * 72  # the labels' margin left of the axes
    ticks = [f"{_wrap(a, room, 9)}\n{b}" for a, b in zip(labels, notes, strict=True)]
    ax.set_yticks(y, ticks)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_percent_ticks())
    ax.set_title(_wrap(title, 0.36 * ax.figure.get_figwidth() * 72, 10), fontsize=10, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _percent_ticks():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: format_percent(v, 0))
