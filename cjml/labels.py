"""Point-in-time labels and training sets.

For a cutoff and a horizon, a customer's labels look only at the window
``(cutoff, cutoff + horizon]``; their features look only at events at or before
the cutoff. :func:`make_training_set` stacks several cutoffs into one table,
reusing one sorted log.

- **churn** is 1 when the customer has no event in the window, or, when a
  ``churn_touchpoint`` is named (e.g. ``"cancellation"``), when that touchpoint
  occurs in the window.
- **next_stage** is the stage of the customer's last event in the window, or
  ``"dropped"`` when they churn.
- The population at a cutoff is every customer with an event in
  ``(cutoff - lookback, cutoff]`` who has not already churned explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjml.events import EventLog, to_utc_timestamp
from cjml.features._base import as_log
from cjml.features._featurizer import JourneyFeaturizer
from cjml.features._windows import build_windows
from cjml.journey import DROPPED

__all__ = ["make_labels", "make_training_set", "rolling_cutoffs", "to_timedelta"]


def to_timedelta(value, name: str = "horizon") -> pd.Timedelta:
    """Read a duration: a number of days, ``"30D"``, ``"4W"`` or a Timedelta.

    Parameters
    ----------
    value : int, float, str or Timedelta
        The duration; bare numbers are days.
    name : str, default "horizon"
        Parameter name for the error message.

    Returns
    -------
    Timedelta
        A positive duration.
    """
    try:
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
            delta = pd.Timedelta(days=float(value))
        else:
            delta = pd.Timedelta(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a duration; use a number of days or a text "
                         "such as '30D' or '4W'.") from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value!r}.")
    return delta


def _cutoff_list(log: EventLog, cutoffs) -> list[pd.Timestamp]:
    if isinstance(cutoffs, str | pd.Timestamp) or not isinstance(cutoffs, Sequence | pd.Index
                                                                 | np.ndarray):
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
    # The log is taken to cover whole days up to the day of its last event.
    last = pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC")
    return last.floor("D") + pd.Timedelta(days=1)


def _check_complete(cutoffs: list[pd.Timestamp], horizon: pd.Timedelta, end: pd.Timestamp) -> None:
    late = [c for c in cutoffs if c + horizon > end]
    if late:
        raise ValueError(
            f"The label window of cutoff(s) {[str(c.date()) for c in late]!r} ends after the "
            f"data does ({end}): a customer could look churned only because the log stops. Use "
            f"cutoffs no later than {(end - horizon)}, a shorter horizon, or pass data_end if the "
            "log covers more time than its last event shows.")


def make_labels(log, cutoff, *, horizon="30D", lookback="90D", churn_touchpoint=None,
                data_end=None) -> pd.DataFrame:
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
    churn_touchpoint : str, optional
        A touchpoint that marks churn explicitly (e.g. a cancellation). Then
        churn = that touchpoint in the window, and customers who had it at or
        before the cutoff are left out (they are gone already).
    data_end : date, optional
        When the log's coverage ends (default: the end of the day of its last
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
    >>> make_labels(log, "2024-01-10", horizon="15D")["churn"].tolist()
    [0, 1]
    """
    log = as_log(log)
    cutoffs = _cutoff_list(log, cutoff)
    h = to_timedelta(horizon)
    lb = None if lookback is None else to_timedelta(lookback, "lookback")
    _check_complete(cutoffs, h, _data_end(log, data_end))
    stages = list(log.journey_map.stages)
    churn_code = _touchpoint_code(log, churn_touchpoint)
    ts, cust, stage_codes = log.timestamps_ns, log.customer_codes, log.stage_codes
    n = log.n_customers
    frames = []
    for c in cutoffs:
        c_ns, end_ns = c.value, (c + h).value
        before = ts <= c_ns
        recent = before if lb is None else before & (ts > (c - lb).value)
        population = np.bincount(cust[recent], minlength=n) > 0
        window = (ts > c_ns) & (ts <= end_ns)
        if churn_code is None:
            churned = ~(np.bincount(cust[window], minlength=n) > 0)
        else:
            gone = np.bincount(cust[before & (log.touchpoint_codes == churn_code)],
                               minlength=n) > 0
            population &= ~gone
            churned = np.bincount(cust[window & (log.touchpoint_codes == churn_code)],
                                  minlength=n) > 0
            churned |= ~(np.bincount(cust[window], minlength=n) > 0)
        # Stage of each customer's last event in the window (the log is sorted by time).
        pos = np.flatnonzero(window)
        last_stage = np.full(n, -1, dtype=np.int64)
        if len(pos):
            wc = cust[pos]
            edge = np.append(wc[1:] != wc[:-1], True)
            last_stage[wc[edge]] = stage_codes[pos[edge]]
        rows = np.flatnonzero(population)
        next_code = np.where(churned[rows] | (last_stage[rows] < 0), len(stages), last_stage[rows])
        frames.append(pd.DataFrame({
            "cutoff": c,
            "customer_id": np.asarray(log.customer_ids)[rows],
            "churn": churned[rows].astype(np.int64),
            "next_stage": pd.Categorical.from_codes(next_code, categories=[*stages, DROPPED]),
        }))
    return pd.concat(frames, ignore_index=True).set_index(["cutoff", "customer_id"])


def _touchpoint_code(log: EventLog, name) -> int | None:
    if name is None:
        return None
    cats = list(log.frame["touchpoint"].cat.categories)
    if name not in cats:
        import difflib

        close = difflib.get_close_matches(str(name), cats, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"churn_touchpoint {name!r} is not a touchpoint of this log or its "
                         f"journey map.{hint}")
    return cats.index(name)


def make_training_set(log, cutoffs, *, horizon="30D", lookback="90D", featurizer=None,
                      churn_touchpoint=None, data_end=None) -> pd.DataFrame:
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
    churn_touchpoint : str, optional
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
    labels = make_labels(log, cutoff_list, horizon=horizon, lookback=lookback,
                         churn_touchpoint=churn_touchpoint, data_end=data_end)
    featurizer = JourneyFeaturizer() if featurizer is None else featurizer
    if not hasattr(featurizer, "feature_names_out_"):
        featurizer.fit(log, cutoff=cutoff_list[-1])
    lb = None if lookback is None else to_timedelta(lookback, "lookback").value
    windows = build_windows(log, cutoff_list if len(cutoff_list) > 1 else cutoff_list[0],
                            lookback_ns=lb)
    features = featurizer._transform_windows(windows)
    if not isinstance(features.index, pd.MultiIndex):
        features.index = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex([cutoff_list[0]] * len(features)), features.index],
            names=["cutoff", "customer_id"])
    table = features.join(labels, how="inner")
    return table.reset_index()[["customer_id", "cutoff", *features.columns, "churn", "next_stage"]]


def rolling_cutoffs(log, *, horizon="30D", n=4, step=None, last=None,
                    data_end=None) -> list[pd.Timestamp]:
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
    if cutoffs[0] <= first_event:
        raise ValueError(f"{n} cutoffs spaced {s} before {latest} start before the first event "
                         f"({first_event}); ask for fewer cutoffs or a smaller step.")
    return cutoffs
