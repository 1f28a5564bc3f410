"""Point-in-time labels and training sets.

For a cutoff and a horizon, a customer's labels look only at the window
``(cutoff, cutoff + horizon]``; their features look only at events at or before
the cutoff. :func:`make_training_set` stacks several cutoffs into one table,
reusing one sorted log.

- **churn** is 1 when the customer has no event in the window, or, when the
  journey map marks a touchpoint ``churn`` (or ``churn_touchpoint`` names one,
  e.g. ``"cancellation"``), when that touchpoint occurs in the window.
- **next_stage** is the stage of the customer's last event in the window, or
  ``"dropped"`` when they churn.
- The population at a cutoff is every customer with an event in
  ``(cutoff - lookback, cutoff]`` who has not already churned explicitly
  (a churn touchpoint at or before the cutoff, and no purchase since).

"Event" here means one of the customer's own: events of the journey map's
``outbound`` touchpoints (a newsletter sent) record the business reaching out,
so they neither keep a customer in the population nor count as activity in the
window (:attr:`cjml.EventLog.activity_mask`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjml._durations import to_timedelta
from cjml._rhythm import half_silence, return_gaps, silent_share
from cjml.events import EventLog, to_utc_timestamp
from cjml.features._base import as_log
from cjml.features._featurizer import JourneyFeaturizer
from cjml.features._windows import build_windows
from cjml.journey import DROPPED

__all__ = [
    "churn_suspects",
    "customer_folds",
    "make_labels",
    "make_training_set",
    "outbound_suspects",
    "rolling_cutoffs",
    "to_timedelta",
]


def _cutoff_list(log: EventLog, cutoffs) -> list[pd.Timestamp]:
    if isinstance(cutoffs, str | pd.Timestamp) or not isinstance(
        cutoffs, Sequence | pd.Index | np.ndarray
    ):
        cutoffs = [cutoffs]
    out = [to_utc_timestamp(c, log.timezone) for c in cutoffs]
    if not out:
        raise ValueError("Give at least one cutoff.")
    if len(set(out)) != len(out):
        raise ValueError(f"The cutoffs repeat a date: {[str(c) for c in out]!r}.")
    return sorted(out)


def _data_end(log: EventLog, data_end) -> pd.Timestamp:
    if data_end is not None:
        return to_utc_timestamp(data_end, log.timezone)
    return log.data_end  # as read (read_events' data_end), or the day of its last event


def _check_complete(cutoffs: list[pd.Timestamp], horizon: pd.Timedelta, end: pd.Timestamp) -> None:
    late = [c for c in cutoffs if c + horizon > end]
    if late:
        raise ValueError(
            f"The label window of cutoff(s) {[str(c.date()) for c in late]!r} ends after the "
            f"data does ({end}): a customer could look churned only because the log stops. Use "
            f"cutoffs no later than {(end - horizon)}, a shorter horizon, or, if the log "
            "covers more time than its last event shows, say when it ends "
            "(read_events(..., data_end=...); --data-end DATE)."
        )


def make_labels(
    log, cutoff, *, horizon="30D", lookback="90D", churn_touchpoint=None, data_end=None
) -> pd.DataFrame:
    """Compute churn and next-stage labels at one or several cutoffs.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    cutoff : date or list of dates
        The cutoff(s).
    horizon : duration, default "30D"
        Length of the label window ``(cutoff, cutoff + horizon]``.
    lookback : duration or None, default "90D"
        Only customers with an event in ``(cutoff - lookback, cutoff]`` get
        labels; None for every customer seen before the cutoff.
    churn_touchpoint : str or list of str, optional
        Touchpoints that mark churn explicitly (e.g. a cancellation); default
        the journey map's ``churn`` touchpoints. Then churn = silence or one of
        them in the window, and customers who had one at or before the cutoff,
        and no purchase since, are left out (they are gone already;
        :meth:`EventLog.gone_at`).
    data_end : date, optional
        When the log's coverage ends (default: :attr:`EventLog.data_end`, the
        ``data_end`` the log was read with, else the end of the day of its last
        event). Cutoffs whose window passes it are refused.

    Returns
    -------
    DataFrame
        Indexed by ``(cutoff, customer_id)``; ``churn`` (int 0/1) and
        ``next_stage`` (categorical: the map's stages then ``"dropped"``).

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import read_events
    >>> from cjml.labels import make_labels
    >>> log = read_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 2],
    ...     "timestamp": ["2024-01-05", "2024-01-20", "2024-01-06"],
    ...     "touchpoint": ["website_visit", "purchase", "website_visit"]}))
    >>> # the log was extracted on 2024-02-01, so the 15-day window is complete
    >>> make_labels(log, "2024-01-10", horizon="15D", data_end="2024-02-01")["churn"].tolist()
    [0, 1]
    """
    log = as_log(log)
    cutoffs = _cutoff_list(log, cutoff)
    h = to_timedelta(horizon)
    lb = None if lookback is None else to_timedelta(lookback, "lookback")
    _check_complete(cutoffs, h, _data_end(log, data_end))
    stages = list(log.journey_map.stages)
    churn_events = _churn_events(log, churn_touchpoint)
    ts, cust, stage_codes = log.timestamps_ns, log.customer_codes, log.stage_codes
    acts = log.activity_mask
    n = log.n_customers
    frames = []
    for c in cutoffs:
        c_ns, end_ns = c.value, (c + h).value
        before = ts <= c_ns
        recent = before if lb is None else before & (ts > (c - lb).value)
        window = (ts > c_ns) & (ts <= end_ns)
        if acts is not None:  # what the business sent shows nothing of the customer
            recent = recent & acts
            window &= acts
        population = np.bincount(cust[recent], minlength=n) > 0
        churned = ~(np.bincount(cust[window], minlength=n) > 0)
        gone = log.gone_at(c_ns, churn_events)
        if churn_events is not None and gone is not None:  # a cancellation counts as silence
            population &= ~gone
            churned |= np.bincount(cust[window & churn_events], minlength=n) > 0
        # Stage of each customer's last event in the window (the log is sorted by time).
        pos = np.flatnonzero(window)
        last_stage = np.full(n, -1, dtype=np.int64)
        if len(pos):
            wc = cust[pos]
            edge = np.append(wc[1:] != wc[:-1], True)
            last_stage[wc[edge]] = stage_codes[pos[edge]]
        rows = np.flatnonzero(population)
        next_code = np.where(churned[rows] | (last_stage[rows] < 0), len(stages), last_stage[rows])
        frames.append(
            pd.DataFrame(
                {
                    "cutoff": c,
                    "customer_id": np.asarray(log.customer_ids)[rows],
                    "churn": churned[rows].astype(np.int64),
                    "next_stage": pd.Categorical.from_codes(
                        next_code, categories=pd.Index([*stages, DROPPED])
                    ),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).set_index(["cutoff", "customer_id"])


def _churn_events(log: EventLog, names) -> np.ndarray | None:
    """Which events mark churn: those of ``names`` (one or several), else the map's."""
    if names is None:
        return log.churn_mask
    names = [names] if isinstance(names, str) else list(names)
    cats = log.frame["touchpoint"].cat.categories.tolist()
    for name in names:
        if name not in cats:
            import difflib

            close = difflib.get_close_matches(str(name), cats, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"churn_touchpoint {name!r} is not a touchpoint of this log or its journey "
                f"map.{hint}"
            )
    return log._events_of(names)


def make_training_set(
    log,
    cutoffs,
    *,
    horizon="30D",
    lookback="90D",
    featurizer=None,
    churn_touchpoint=None,
    data_end=None,
) -> pd.DataFrame:
    """Stack features and labels at several cutoffs into one training table.

    Each row is a (customer, cutoff) pair from :func:`make_labels`' population:
    its features use only events at or before the cutoff, its labels only the
    window after it. The sorted log is reused for every cutoff.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    cutoffs : date or list of dates
        The cutoffs; see :func:`rolling_cutoffs`.
    horizon : duration, default "30D"
        Label window length.
    lookback : duration or None, default "90D"
        Activity needed before a cutoff to be in the population.
    featurizer : JourneyFeaturizer, optional
        Used as is when fitted; fitted on events up to the last cutoff when not
        (fitting learns column vocabularies only, never values). Default: a new
        :class:`~cjml.JourneyFeaturizer`.
    churn_touchpoint : str or list of str, optional
        Explicit churn touchpoint; see :func:`make_labels`.
    data_end : date, optional
        End of the log's coverage; see :func:`make_labels`.

    Returns
    -------
    DataFrame
        Columns ``customer_id, cutoff``, the features, ``churn`` and
        ``next_stage``; sorted by cutoff then customer.
    """
    log = as_log(log)
    cutoff_list = _cutoff_list(log, cutoffs)
    labels = make_labels(
        log,
        cutoff_list,
        horizon=horizon,
        lookback=lookback,
        churn_touchpoint=churn_touchpoint,
        data_end=data_end,
    )
    featurizer = JourneyFeaturizer() if featurizer is None else featurizer
    if not hasattr(featurizer, "feature_names_out_"):
        featurizer.fit(log, cutoff=cutoff_list[-1])
    lb = None if lookback is None else to_timedelta(lookback, "lookback").value
    windows = build_windows(
        log, cutoff_list if len(cutoff_list) > 1 else cutoff_list[0], lookback_ns=lb
    )
    features = featurizer._transform_windows(windows)
    if not isinstance(features.index, pd.MultiIndex):
        features.index = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex([cutoff_list[0]] * len(features)), features.index],
            names=["cutoff", "customer_id"],
        )
    table = features.join(labels, how="inner")
    return table.reset_index()[["customer_id", "cutoff", *features.columns, "churn", "next_stage"]]


def rolling_cutoffs(
    log, *, horizon="30D", n=4, step=None, last=None, data_end=None
) -> list[pd.Timestamp]:
    """Space cutoffs evenly, ending at the last one whose label window is complete.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    horizon : duration, default "30D"
        Label window length.
    n : int, default 4
        Number of cutoffs.
    step : duration, optional
        Spacing; default the horizon (label windows do not overlap).
    last : date, optional
        The latest cutoff; default ``data_end - horizon`` at midnight UTC.
    data_end : date, optional
        End of the log's coverage; see :func:`make_labels`.

    Returns
    -------
    list of Timestamp
        Oldest first.
    """
    log = as_log(log)
    h = to_timedelta(horizon)
    s = h if step is None else to_timedelta(step, "step")
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}.")
    end = _data_end(log, data_end)
    latest = (end - h).floor("D") if last is None else to_utc_timestamp(last, log.timezone)
    cutoffs = [latest - k * s for k in range(n)][::-1]
    first_event = pd.Timestamp(int(log.timestamps_ns.min()), tz="UTC")
    if latest <= first_event:
        raise ValueError(
            f"{_span_text(log, end)}: with a {_days(h)} horizon the latest cutoff whose label "
            f"window the log covers is {latest.date()}, before the first event, so no cutoff "
            f"has both a history and a complete label window. Use a horizon of at most "
            f"{_days_text(_longest_single_cutoff_horizon(log, end))} or a log that covers more "
            "time."
        )
    if cutoffs[0] <= first_event:
        fit = int(np.ceil((latest - first_event) / s))  # cutoffs latest - k*s after the first event
        raise ValueError(
            f"{n} cutoffs {_step_text(s)} apart up to {latest.date()} start before the first "
            f"event ({first_event.date()}); ask for {fit} cutoffs or fewer, or a smaller step."
        )
    return cutoffs


def customer_folds(customer_ids, n_folds=5, *, y=None, random_state=0) -> np.ndarray:
    """Assign every customer to one fold, for cross-validation over customers.

    All rows of a customer share a fold, so a customer is never both trained
    on and scored. With ``y`` the folds are stratified: the customers of each
    label are shuffled and dealt out in turn, so every fold holds every label
    and the fold sizes differ by at most one.

    Parameters
    ----------
    customer_ids : array-like
        The customer of each row.
    n_folds : int, default 5
        Number of folds: 2 or more, at most the number of customers.
    y : array-like, optional
        A label per row (e.g. ``churn``) to stratify by; a customer counts
        with the label of their first row. Every label needs at least
        ``n_folds`` customers.
    random_state : int, default 0
        Seed of the shuffle.

    Returns
    -------
    ndarray of int64
        The fold (0 .. ``n_folds`` - 1) of each row.

    Examples
    --------
    >>> from cjml.labels import customer_folds
    >>> folds = customer_folds(["a", "b", "c", "d", "a"], 2, y=[1, 0, 1, 0, 1])
    >>> bool(folds[0] == folds[4]), sorted(folds[:4].tolist())
    (True, [0, 0, 1, 1])

    The two rows of customer ``"a"`` share a fold, and each fold holds one
    customer of each label.
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(customer_ids, dtype=object)))
    if (codes < 0).any():
        raise ValueError(
            f"customer_ids has {int((codes < 0).sum())} missing value(s); every row "
            "needs a customer to be put in a fold."
        )
    n = len(uniques)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int | np.integer) or n_folds < 2:
        raise ValueError(
            f"The number of folds must be a whole number of 2 or more, got {n_folds!r}; 5 is usual."
        )
    if n_folds > n:
        raise ValueError(
            f"{n_folds} folds need at least {n_folds} customers, and there are {n}. "
            f"Use {n} folds or fewer{'' if n >= 2 else ' (or more customers)'}."
        )
    first_row = np.unique(codes, return_index=True)[1]  # first row of each customer, by code
    if y is None:
        strata = np.zeros(n, dtype=np.int64)
    else:
        y = np.asarray(y)
        if len(y) != len(codes):
            raise ValueError(f"y must give one label per row ({len(codes)}), got {len(y)}.")
        strata, labels = pd.factorize(pd.Series(y[first_row], dtype=object))
        counts = np.bincount(strata, minlength=len(labels))
        if counts.min() < n_folds:
            rare = labels[int(np.argmin(counts))]
            fix = (
                f"Use {int(counts.min())} folds or fewer, or more customers"
                if counts.min() >= 2
                else "Use more customers"
            )
            raise ValueError(
                f"{n_folds} folds each need a customer of every label, but the label {rare!r} "
                f"has {int(counts.min())} customer(s) (of {n}; per label: "
                f"{dict(zip(map(str, labels), counts.tolist(), strict=True))}). {fix}."
            )
    rng = np.random.default_rng(random_state)
    # Shuffle the customers of each label and deal all of them out in turn, label after label.
    order = np.concatenate(
        [rng.permutation(np.flatnonzero(strata == k)) for k in range(int(strata.max()) + 1)]
    )
    fold_of_customer = np.empty(n, dtype=np.int64)
    fold_of_customer[order] = np.arange(n) % n_folds
    return fold_of_customer[codes]


# ------------------------------------------------------------------ sent, not done
def outbound_suspects(
    log, *, touchpoints=None, after="90D", min_share=0.2, min_customers=30
) -> pd.DataFrame:
    """Find the touchpoints that look sent to everyone rather than done by the customer.

    A newsletter or reminder logged when it is *sent* keeps arriving after a
    customer has left, so, unless the journey map marks it ``outbound``, it
    counts as activity: such customers never look gone, and the churn labels
    and activity features are wrong. For each touchpoint checked, this looks
    at the customers who did nothing else for ``after`` before the log ends,
    and counts how many of them the touchpoint still reached more than
    ``after`` past their last other event. Touchpoints delivered only to
    customers who are there rarely do (at most 1% of them on the scenario
    suite's worlds; a weekly newsletter to 70% of the customers reaches 70%).
    Found touchpoints are set aside one at a time, most reaching first, so two
    newsletters do not hide each other.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    touchpoints : list of str, optional
        The touchpoints to check; default the map's actionable ones (those the
        business delivers) and the log's touchpoints the map lacks. Touchpoints
        already marked ``outbound`` are never checked, and never count as a
        customer's own events; purchases (:meth:`cjml.EventLog.purchase_touchpoints`)
        are the customer acting, and are never checked either.
    after : duration, default "90D"
        How long without another event makes a customer silent.
    min_share : float, default 0.2
        Touchpoints that reach at least this share of the silent customers
        are returned...
    min_customers : int, default 30
        ... and at least this many of them.

    Returns
    -------
    DataFrame
        One row per suspect touchpoint, in the order found: ``silent``
        (customers with no other event in the last ``after`` of the log),
        ``reached`` (how many of them the touchpoint reached more than
        ``after`` past their last other event) and ``share``. Empty when none
        is suspect.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import read_events
    >>> from cjml.labels import outbound_suspects
    >>> weeks = pd.date_range("2024-01-01", periods=40, freq="7D")
    >>> visits = pd.DataFrame({"customer_id": [1, 2, 3], "timestamp": "2023-12-30",
    ...                        "touchpoint": "website_visit"})
    >>> sent = pd.DataFrame({"customer_id": [1, 2] * 40, "timestamp": weeks.repeat(2),
    ...                      "touchpoint": "email"})
    >>> found = outbound_suspects(read_events(pd.concat([visits, sent])), min_customers=1)
    >>> found.index.tolist(), int(found.loc["email", "reached"]), int(found.loc["email", "silent"])
    (['email'], 2, 3)
    """
    log = as_log(log)
    gap = to_timedelta(after, "after").value
    jm = log.journey_map
    cats = log.frame["touchpoint"].cat.categories.tolist()
    marked = set(jm.outbound_touchpoints)
    bought = set(log.purchase_touchpoints())  # the customer's own doing, and counted as such
    wanted = (
        (*jm.actionable_touchpoints, *log.unknown_touchpoints)
        if touchpoints is None
        else touchpoints
    )
    candidates = [
        t for t in dict.fromkeys(wanted) if t in cats and t not in marked and t not in bought
    ]
    found: list[tuple[str, int, int]] = []
    if log.n_events == 0:
        candidates = []
    tp, ts, cust = log.touchpoint_codes, log.timestamps_ns, log.customer_codes
    end = int(ts.max()) if len(ts) else 0
    code_of = {name: k for k, name in enumerate(cats)}
    while candidates:
        # every candidate's counts in one pass over the events (not one pass each: a log of
        # pages as touchpoints has thousands of candidates)
        n_silent, reached = _silence_reached(
            tp,
            ts,
            cust,
            [code_of[t] for t in (*marked, *(f[0] for f in found)) if t in code_of],
            end - gap,
            gap,
            len(cats),
        )
        best: tuple[str, int, int] | None = None
        for t in candidates:
            k = code_of[t]
            found_t = (t, int(n_silent[k]), int(reached[k]))
            if best is None or found_t[2] * max(best[1], 1) > best[2] * max(found_t[1], 1):
                best = found_t
        assert best is not None
        t, n_silent_t, reached_t = best
        if reached_t < min_customers or reached_t < min_share * max(n_silent_t, 1):
            break
        found.append(best)
        candidates.remove(t)
    table = pd.DataFrame(
        [(n_silent, reached) for _, n_silent, reached in found],
        columns=pd.Index(["silent", "reached"]),
        index=pd.Index([t for t, _, _ in found], name="touchpoint"),
    )
    table["share"] = table["reached"] / table["silent"].clip(lower=1)
    return table


def _silence_reached(tp, ts, cust, excluded, quiet_by: int, gap: int, n_codes: int):
    """For every touchpoint code t at once, what :func:`outbound_suspects` counts of it.

    ``silent[t]``: the customers whose last event other than t (and than the ``excluded``
    codes) is at or before ``quiet_by``; ``reached[t]``: those of them a t event reached
    more than ``gap`` after that event. A t event after a customer's last other event is
    in the run of t events that ends their history, so only each customer's final run of
    one touchpoint matters: its touchpoint F, its last time, and the time of the event
    before it. For t != F the last other event is the customer's last event; for t == F
    it is the one before the run.
    """
    keep = np.flatnonzero(~np.isin(tp, excluded)) if len(excluded) else np.arange(len(tp))
    c, code, t = cust[keep], tp[keep], ts[keep]
    n = len(c)
    if n == 0:
        return np.zeros(n_codes, dtype=np.int64), np.zeros(n_codes, dtype=np.int64)
    last = np.flatnonzero(np.r_[c[1:] != c[:-1], True])  # each customer's last event
    starts = np.r_[True, (c[1:] != c[:-1]) | (code[1:] != code[:-1])]  # runs of one touchpoint
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))[last]
    before = np.maximum(run_start - 1, 0)
    has_before = (run_start > 0) & (c[before] == c[last])
    final, t_last = code[last], t[last]
    quiet_before = has_before & (t[before] <= quiet_by)
    quiet_last = t_last <= quiet_by
    silent = (
        int(quiet_last.sum())
        - np.bincount(final[quiet_last], minlength=n_codes)
        + np.bincount(final[quiet_before], minlength=n_codes)
    )
    late = quiet_before & (t_last > t[before] + gap)
    return silent, np.bincount(final[late], minlength=n_codes)


def outbound_advice(suspects: pd.DataFrame, after="90D") -> str:
    """What :func:`outbound_suspects` found (with the same ``after``), and the fix, in words.

    For the warning of :func:`cjml.train` and the note of ``cjml validate``.
    """
    days = to_timedelta(after, "after").days
    parts = [f"{t!r} still reached {row.share:.0%}" for t, row in suspects.iterrows()]
    silent = int(suspects["silent"].iloc[0])
    tables = " ".join(
        f"[touchpoints.{json.dumps(str(t))}] outbound = true;" for t in suspects.index
    )
    return (
        f"Of the {silent:,} customers who did nothing else in the last {days} days of the log, "
        f"{', '.join(parts)} more than {days} days after their last other event. If "
        f"{'this touchpoint is' if len(suspects) == 1 else 'these touchpoints are'} logged when "
        "the business sends it (a newsletter, a reminder), customers who left look active. "
        f"Fix: mark {'it' if len(suspects) == 1 else 'them'} in the journey map ({tables} "
        "see 'Journey maps' in the README), so that only what customers do counts."
    )


#: Touchpoint names that say the customer left (``subscription_cancelled``, ``account_closed``,
#: ``churned``), and not an order or a ticket (``order_cancelled``, ``ticket_closed``).
_LEAVING_NAME = re.compile(
    r"^(cancel(s|led|ed|lation)?(_(subscription|plan|contract|account|membership))?|"
    r"churn(ed)?|terminat(ed|ion))$|"
    r"(^|_)((subscription|plan|contract|account|membership)_(cancel(led|ed|lation)?|closed?|"
    r"terminat(ed|ion))|close[d]?_account)$"
)


def says_leaving(name: str) -> bool:
    """Whether a touchpoint's name says the customer left: ``subscription_cancelled``,
    ``Account Closed``, ``churned``; not ``order_cancelled`` or ``ticket_closed``."""
    return bool(_LEAVING_NAME.search(re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")))


def churn_suspects(log) -> pd.DataFrame:
    """Find the touchpoints whose name says the customer left, unmarked ``churn`` in the map.

    Unmarked, a cancellation is one more event: a customer who cancels
    within the horizon looks active.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.

    Returns
    -------
    DataFrame
        One row per such touchpoint of the log: ``customers`` (who had it) and
        ``last`` (the share of them for whom it is their latest own event: near
        1 when it does end journeys). Empty when there is none.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import read_events
    >>> from cjml.labels import churn_suspects
    >>> log = read_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 2], "timestamp": ["2024-01-01", "2024-02-01", "2024-01-05"],
    ...     "touchpoint": ["website_visit", "subscription_cancelled", "website_visit"],
    ...     "stage": "retention"}))
    >>> churn_suspects(log)["last"].to_dict()
    {'subscription_cancelled': 1.0}
    """
    log = as_log(log)
    marked = set(log.journey_map.churn_touchpoints) | set(log.journey_map.outbound_touchpoints)
    cats = log.frame["touchpoint"].cat.categories.tolist()
    names = [t for t in cats if says_leaving(t) and t not in marked]
    table = pd.DataFrame(
        columns=pd.Index(["customers", "last"]), index=pd.Index([], name="touchpoint")
    )
    if not names or log.n_events == 0:
        return table
    cust, tp = log.customer_codes, log.touchpoint_codes
    own = np.flatnonzero(log.activity_mask) if log.activity_mask is not None else None
    last_pos = log.offsets[1:] - 1
    if own is not None:  # each customer's latest own event
        at = np.searchsorted(own, log.offsets[1:]) - 1
        last_pos = np.where(
            (at >= 0) & (cust[own[np.maximum(at, 0)]] == np.arange(log.n_customers)),
            own[np.maximum(at, 0)],
            -1,
        )
    has_last = last_pos >= 0
    last_tp = np.where(has_last, tp[np.maximum(last_pos, 0)], -1)
    rows = []
    for t in names:
        code = cats.index(t)
        had = np.bincount(cust[tp == code], minlength=log.n_customers) > 0
        n = int(had.sum())
        rows.append((t, n, float((last_tp[had] == code).mean()) if n else 0.0))
    found = pd.DataFrame(rows, columns=["touchpoint", "customers", "last"]).set_index("touchpoint")
    return found[found["customers"] > 0] if len(found) else table


def churn_advice(suspects: pd.DataFrame) -> str:
    """What :func:`churn_suspects` found, and the fix, in words."""
    parts = [
        f"{t!r} (the latest event of {row['last']:.0%} of the {int(row['customers']):,} customers "
        "who had it)"
        for t, row in suspects.iterrows()
    ]
    tables = " ".join(f"[touchpoints.{json.dumps(str(t))}] churn = true;" for t in suspects.index)
    one = len(suspects) == 1
    return (
        f"{'This touchpoint reads' if one else 'These touchpoints read'} like customers leaving: "
        f"{', '.join(parts)}. Unmarked, a cancellation is one more event, and a customer who "
        f"cancels within the horizon looks active. Fix: if {'it is' if one else 'they are'}, mark "
        f"{'it' if one else 'them'} in the journey map ({tables} see 'Journey maps' in the "
        "README)."
    )


# ------------------------------------------------------------------ what a log allows
def _first_event(log: EventLog) -> pd.Timestamp:
    return pd.Timestamp(int(log.timestamps_ns.min()), tz="UTC")


def _span_text(log: EventLog, end: pd.Timestamp) -> str:
    first = _first_event(log)
    return (
        f"The log spans {first.date()} to {(end - pd.Timedelta(days=1)).date()} "
        f"({(end - first.floor('D')).days} days)"
    )


def _days(delta: pd.Timedelta) -> str:
    """ "273-day" for whole days, else the Timedelta as text."""
    return f"{delta.days}-day" if delta == pd.Timedelta(days=delta.days) else str(delta)


def _step_text(step: pd.Timedelta) -> str:
    return f"{step.days} days" if step == pd.Timedelta(days=step.days) else str(step)


def _step_code(step: pd.Timedelta) -> str:
    """A step as the option takes it: "8D"."""
    if step == pd.Timedelta(days=step.days):
        return f"{step.days}D"
    return f"{int(step.total_seconds())}s"


def _days_text(days: int) -> str:
    return f"{days} days (horizon='{days}D', --horizon {days}D)"


def _longest_single_cutoff_horizon(log: EventLog, end: pd.Timestamp) -> int:
    """Whole days: the longest horizon with one cutoff after the first event."""
    return max(int(np.ceil((end - _first_event(log)) / pd.Timedelta(days=1))) - 1, 0)


def _latest_training_cutoff(
    test: pd.Timestamp, horizon: pd.Timedelta, step: pd.Timedelta
) -> pd.Timestamp:
    """The latest cutoff on the grid ``step`` apart that ends at ``test`` whose label
    window ends by ``test``: the newest cutoff ``train`` can learn from."""
    return test - int(np.ceil(horizon / step)) * step


def _holdout_fits(
    first: pd.Timestamp,
    end: pd.Timestamp,
    horizon: pd.Timedelta,
    n: int,
    step: pd.Timedelta,
    last=None,
) -> bool:
    """Whether ``train``'s default, ``n`` rolling cutoffs ``step`` apart with the latest
    held out, leaves enough cutoffs to train on.

    The held-out cutoff's label window must be in the log, and either the ``n``
    cutoffs that end at it start after the first event and span a horizon (so the
    earliest ends its label window by the held-out one), or at least half of the
    ``n - 1`` training cutoffs ``train`` takes on the same grid (the latest whose
    label window ends by the held-out one, and those ``step`` apart before it)
    fall after the first event; ``train`` keeps those
    (:func:`cjml.training._rolling_training_cutoffs`). The second is what lets a
    horizon longer than the ``n`` cutoffs span (CDNOW, 18 months, with a 182-day
    horizon), or a held-out cutoff early in the log, train on the cutoffs its
    history holds; half, so that a horizon the log barely holds is not trained
    on a week or two of its first customers.
    """
    test = (end - horizon).floor("D") if last is None else last
    if test + horizon > end or n < 2:
        return False
    spans = (n - 1) * step >= horizon and test - (n - 1) * step > first
    latest_training = _latest_training_cutoff(test, horizon, step)
    after_first = (
        0
        if latest_training <= first
        else min(n - 1, int(np.ceil((latest_training - first) / step)))
    )
    return spans or 2 * after_first >= n - 1


def _longest_holdout_horizon(
    log: EventLog, end: pd.Timestamp, n: int, step: pd.Timedelta, last=None
) -> int:
    """Whole days: the longest horizon :func:`_holdout_fits` accepts (0 when none)."""
    first = _first_event(log)
    for days in range((end - first).days, 0, -1):
        if _holdout_fits(first, end, pd.Timedelta(days=days), n, step, last):
            return days
    return 0


# ------------------------------------------------------------------ the customers' rhythm
#: Above this share of their time in silences longer than the horizon, customers who come
#: back look churned after most cutoffs (:func:`cadence_advice`). The scenario suite's worlds
#: and the sample spend 1% to 11% of it so at 30 days; CDNOW's buyers 70%.
SILENT_SHARE_WARNED = 0.5
#: The horizon advised leaves at most this share of that time in longer silences.
SILENT_SHARE_ADVISED = 0.2


def silences_beyond(log: EventLog, horizon: pd.Timedelta) -> tuple[str, int] | None:
    """When customers who come back spend more than :data:`SILENT_SHARE_WARNED` of the time
    between visits in silences longer than ``horizon``: that fact in words, and the
    shortest horizon (whole days, rounded up to tens past 60) that leaves at most
    :data:`SILENT_SHARE_ADVISED` of it so; else None (also with under 30 returns)."""
    gaps = return_gaps(log)
    days = horizon / pd.Timedelta(days=1)
    if len(gaps) < 30 or silent_share(gaps, days) <= SILENT_SHARE_WARNED:
        return None
    lo, hi = int(np.ceil(days)), int(gaps.max())
    while lo < hi:  # the shortest whole number of days the advice allows
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if silent_share(gaps, mid) <= SILENT_SHARE_ADVISED else (mid + 1, hi)
    advised = lo if lo <= 60 else int(np.ceil(lo / 10) * 10)
    half = half_silence(gaps)
    return (
        f"Customers who come back spend {silent_share(gaps, days):.0%} of the time between "
        f"their visits in silences longer than the {_days(horizon)} horizon, half of it in "
        f"silences of {half} days or more"
    ), advised


def cadence_advice(
    log, horizon, *, n_cutoffs: int = 20, step="7D", last=None, data_end=None
) -> str | None:
    """Why ``horizon`` is too short for how often this log's customers come back, and a
    horizon that fits them; None when it is long enough.

    A customer who returns after a silence longer than the horizon is labelled churned at
    every cutoff inside it. When more than :data:`SILENT_SHARE_WARNED` of the time between
    returns lies in such silences (customers renewing yearly, buying every few months),
    the labels follow the calendar of their visits rather than who leaves. The horizon
    named leaves at most :data:`SILENT_SHARE_ADVISED` of it so, with a lookback of two
    horizons; when this log cannot hold it with a held-out cutoff, cross-validation over
    customers at one cutoff (``cv``) is named instead, or a longer log.
    """
    log = as_log(log)
    h = to_timedelta(horizon)
    found = silences_beyond(log, h)
    if found is None:
        return None
    facts, advised = found
    facts += (
        ": a cutoff then labels them churned though they return, so the churn labels follow "
        "the calendar of their visits more than who leaves"
    )
    back = 2 * advised
    code, back_code = f"{advised}D", f"{back}D"
    end = _data_end(log, data_end)
    first = _first_event(log)
    if last is not None:
        last = to_utc_timestamp(last, log.timezone)
    H, s = pd.Timedelta(days=advised), to_timedelta(step, "step")
    test = (end - H).floor("D") if last is None else last
    if _holdout_fits(first, end, H, n_cutoffs, s, last):
        how = f"horizon='{code}', lookback='{back_code}'; --horizon {code} --lookback {back_code}"
    elif first < test and test + H <= end:
        how = (
            f"horizon='{code}', lookback='{back_code}', cv=5; --horizon {code} --lookback "
            f"{back_code} --cv 5: this log is too short to hold a later cutoff out with it, "
            "so the customers are cross-validated at one cutoff"
        )
    elif last is not None and last + H > end:  # the user's held-out cutoff is too late
        latest = (end - H).floor("D").date()
        return (
            f"{facts}. Fix: a horizon of {advised} days (a fifth of that time lies in longer "
            f"silences) and a lookback of {back} days, with a test cutoff on or before "
            f"{latest}, so that its label window ends in the log (horizon='{code}', "
            f"lookback='{back_code}', test_cutoff='{latest}'; --horizon {code} --lookback "
            f"{back_code} --test-cutoff {latest})."
        )
    else:
        span = (end - first.floor("D")).days
        return (
            f"{facts}. A horizon of {advised} days would leave a fifth of that time in "
            f"longer silences, but the log covers {span} days, too few to learn and test "
            "with it. Fix: a log that covers more time."
        )
    return (
        f"{facts}. Fix: a horizon of {advised} days (a fifth of that time lies in longer "
        f"silences) and a lookback of {back} days ({how})."
    )


#: Horizons and steps tried for a log too short for whole-day steps (an app's sessions, a
#: two-week trial): the longest horizon wins, with the longest step that keeps each label
#: window over at most four cutoffs (a shorter step only repeats nearly the same rows).
_SHORT_HORIZONS = tuple(pd.Timedelta(hours=x) for x in (12, 6, 3, 1))
_SHORT_STEPS = tuple(pd.Timedelta(hours=x) for x in (24, 12, 6, 3, 1))


def _short_log_plan(
    log: EventLog, end: pd.Timestamp, n_cutoffs: int, horizon: pd.Timedelta, last=None
) -> str | None:
    """A shorter horizon with closer cutoffs that this log can hold, in words; or None.

    The lookback named with it is three horizons, as the defaults are (90 and 30 days).
    """
    first = _first_event(log)
    days = [pd.Timedelta(days=d) for d in range(max((end - first).days, 0), 0, -1)]
    for h in [*days, *_SHORT_HORIZONS]:
        if h >= horizon:
            continue
        for step in _SHORT_STEPS:
            if step <= h and 4 * step >= h and _holdout_fits(first, end, h, n_cutoffs, step, last):
                code, step_code, back = (
                    _duration_code(h),
                    _duration_code(step),
                    _duration_code(3 * h),
                )
                return (
                    f"use a horizon of {_duration_words(h)} with cutoffs "
                    f"{_duration_words(step)} apart and a lookback of {_duration_words(3 * h)} "
                    f"(horizon='{code}', step='{step_code}', lookback='{back}'; "
                    f"--horizon {code} --step {step_code} --lookback {back})"
                )
    return None


def _duration_code(delta: pd.Timedelta) -> str:
    """A whole number of days or hours as the options take it: "2D", "12h"."""
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{delta.days}D"
    return f"{delta // pd.Timedelta(hours=1)}h"


def _duration_words(delta: pd.Timedelta) -> str:
    """ "1 day", "6 days", "12 hours"."""
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        n, unit = delta.days, "day"
    else:
        n, unit = delta // pd.Timedelta(hours=1), "hour"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _holdout_advice(
    log, horizon, *, n_cutoffs, step, last=None, cutoffs=None, data_end=None
) -> str:
    """Why a held-out test cutoff leaves nothing to train on, and what would work.

    Every value named is checked against this log: the longest horizon that
    leaves a training cutoff with the same cutoff settings, cutoffs spaced so
    that the horizon is kept, and cross-validation over customers at the one
    cutoff the horizon allows. None of them sends the user to another refusal.
    """
    log = as_log(log)
    h = to_timedelta(horizon)
    s = to_timedelta(step, "step")
    end = _data_end(log, data_end)
    first = _first_event(log)
    if last is not None:
        last = to_utc_timestamp(last, log.timezone)
    test = (end - h).floor("D") if last is None else last
    facts = f"{_span_text(log, end)}; with a {_days(h)} horizon the test cutoff is {test.date()}"
    options = []
    cv_flags = "cv=5, --cv 5"
    if cutoffs is not None:  # the user's own cutoffs
        cutoffs = sorted(cutoffs)
        facts += (
            f" and no other cutoff given ({', '.join(str(c.date()) for c in cutoffs)}) "
            "ends its label window by then, so nothing is left to train on"
        )
        if test - h > first:
            options.append(f"add a cutoff on or before {(test - h).date()}")
        room = (test - cutoffs[0]).days
        if room >= 1:
            options.append(f"use a horizon of at most {_days_text(room)}")
        cv_flags = f"cv=5 with cutoffs=['{test.date()}'], --cv 5 --cutoffs {test.date()}"
    else:
        latest_training = _latest_training_cutoff(test, h, s)
        earliest_training = latest_training - max(n_cutoffs - 2, 0) * s
        facts += (
            f", and the {max(n_cutoffs - 1, 1)} training cutoffs {_step_text(s)} apart whose "
            f"label windows end by then would run from {earliest_training.date()} to "
            f"{latest_training.date()}, "
            + (
                "all before the first event: nothing is left to train on"
                if latest_training <= first
                else f"the earliest before the first event ({first.date()})"
            )
        )
        longest = _longest_holdout_horizon(log, end, n_cutoffs, s, last)
        if 1 <= longest < h / pd.Timedelta(days=1):
            options.append(f"use a horizon of at most {_days_text(longest)}")
        whole = int(np.ceil(h / pd.Timedelta(days=1)))
        fit = int(np.ceil((test - first) / s))  # how many cutoffs s apart fit after the first event
        plans = [(int(np.ceil(h / s)) + 1, s), (fit, s), (2, pd.Timedelta(days=whole))]
        if n_cutoffs >= 2:
            plans.insert(0, (n_cutoffs, pd.Timedelta(days=int(np.ceil(whole / (n_cutoffs - 1))))))
        for n, step_ in plans:
            if (
                n >= 2
                and (n, step_) != (n_cutoffs, s)
                and _holdout_fits(first, end, h, n, step_, last)
            ):
                params = ([f"n_cutoffs={n}"] if n != n_cutoffs else []) + (
                    [f"step='{_step_code(step_)}'"] if step_ != s else []
                )
                flags = ([f"--n-cutoffs {n}"] if n != n_cutoffs else []) + (
                    [f"--step {_step_code(step_)}"] if step_ != s else []
                )
                options.append(
                    f"keep the {_days(h)} horizon with {n} cutoffs "
                    f"{_step_text(step_)} apart ({', '.join(params)}; "
                    f"{' '.join(flags)})"
                )
                break
    if first < test and test + h <= end:
        options.append(
            f"keep the {_days(h)} horizon and cross-validate over customers at the "
            f"one cutoff {test.date()} instead of holding a later cutoff out "
            f"({cv_flags})"
        )
    if not options and cutoffs is None:
        short = _short_log_plan(log, end, n_cutoffs, h, last)
        if short is not None:
            options.append(short)
    if not options:
        return (
            f"{facts}. This log is too short for a {_days(h)} horizon; use a log that "
            "covers more time."
        )
    if len(options) == 1:
        return f"{facts}. {options[0][:1].upper()}{options[0][1:]}."
    return f"{facts}. Either " + "; or ".join(options) + "."
