"""Spend labels over the horizon, point-in-time correct, on the churn labels' population."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjml.events import EventLog
from cjml.features._base import as_log
from cjml.labels import _cutoff_list, make_labels, to_timedelta

__all__ = ["has_amounts", "value_targets"]


def has_amounts(log: EventLog) -> bool:
    """Whether the log has an ``amount`` column with at least one positive value.

    Parameters
    ----------
    log : EventLog
        The events.

    Returns
    -------
    bool
        True when a value model can learn from the log's amounts.
    """
    frame = log.frame
    if "amount" not in frame.columns:
        return False
    amounts = pd.to_numeric(frame["amount"], errors="coerce")
    return bool((amounts > 0).any())


def event_values(log: EventLog, margin=None) -> np.ndarray:
    """Each event's value: its amount (0 when missing), times the margin when given.

    Parameters
    ----------
    log : EventLog
        The events; needs an ``amount`` column.
    margin : float, str or None, default None
        None for revenue; a rate (e.g. 0.3 for a 30% margin) applied to every
        amount; or the name of an event column holding each event's margin
        rate (missing rates count as 0).

    Returns
    -------
    ndarray of float
        One value per event of the log, in its order.
    """
    frame = log.frame
    if "amount" not in frame.columns:
        raise ValueError(
            "The events have no 'amount' column, so there is no spend to learn a value "
            "from. Add the purchase amounts to the events (an 'amount' column), or train "
            "without the value model (value=False, --no-value)."
        )
    values = pd.to_numeric(frame["amount"], errors="coerce").to_numpy(dtype=float)
    values = np.where(np.isfinite(values), values, 0.0)
    rate = margin_rates(log, margin)
    return values if rate is None else values * rate


def margin_rates(log: EventLog, margin) -> np.ndarray | float | None:
    """The margin as a rate per event (an array), one rate (a float) or None.

    Parameters
    ----------
    log : EventLog
        The events (for a margin column).
    margin : float, str or None
        See :func:`event_values`.

    Returns
    -------
    ndarray, float or None
        None without a margin.
    """
    if margin is None:
        return None
    if isinstance(margin, str):
        if margin not in log.frame.columns:
            raise ValueError(
                f"The margin column {margin!r} is not a column of the events "
                f"(they have {list(map(str, log.frame.columns))!r}). Name a column of "
                "per-event margin rates, or give one rate such as 0.3 (--margin 0.3)."
            )
        rates = pd.to_numeric(log.frame[margin], errors="coerce").to_numpy(dtype=float)
        bad = np.isfinite(rates) & (rates < 0)
        if bad.any():
            raise ValueError(
                f"The margin column {margin!r} has {int(bad.sum())} negative rate(s), e.g. "
                f"{float(rates[bad][0])!r}; margins are rates of at least 0 (0.3 for 30%)."
            )
        return np.where(np.isfinite(rates), rates, 0.0)
    if isinstance(margin, bool) or not isinstance(margin, int | float | np.integer | np.floating):
        raise ValueError(
            f"margin must be a rate such as 0.3 (30% of each amount), the name of an event "
            f"column of rates, or None; got {margin!r}."
        )
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(
            f"margin must be a rate of at least 0 (0.3 keeps 30% of each amount), got {margin!r}."
        )
    return float(margin)


def value_targets(
    log, cutoffs, *, horizon="30D", lookback="90D", margin=None, data_end=None
) -> pd.DataFrame:
    """Each customer's spend over the horizon after each cutoff.

    The population is :func:`cjml.make_labels`' (customers with an event in
    ``(cutoff - lookback, cutoff]``), so the rows line up with the churn
    labels; only the window ``(cutoff, cutoff + horizon]`` is looked at.

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events, with an ``amount`` column.
    cutoffs : date or list of dates
        The cutoff(s).
    horizon : duration, default "30D"
        Length of the window.
    lookback : duration or None, default "90D"
        Activity needed before a cutoff to be in the population.
    margin : float, str or None, default None
        None for revenue; a rate applied to every amount; or an event column
        of per-event margin rates (see :func:`event_values`).
    data_end : date, optional
        End of the log's coverage; see :func:`cjml.make_labels`.

    Returns
    -------
    DataFrame
        Indexed by ``(cutoff, customer_id)``: ``spend`` (float, the summed
        value of the window's events) and ``bought`` (int 0/1: an event with a
        positive amount in the window).

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import read_events
    >>> from cjml.value import value_targets
    >>> log = read_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 2],
    ...     "timestamp": ["2024-01-05", "2024-01-20", "2024-01-06"],
    ...     "touchpoint": ["website_visit", "purchase", "website_visit"],
    ...     "amount": [None, 40.0, None]}))
    >>> value_targets(log, "2024-01-10", horizon="10D")["spend"].tolist()
    [40.0, 0.0]
    """
    log = as_log(log)
    cutoff_list = _cutoff_list(log, cutoffs)
    values = event_values(log, margin)
    labels = make_labels(log, cutoff_list, horizon=horizon, lookback=lookback, data_end=data_end)

    h = to_timedelta(horizon)
    amounts = pd.to_numeric(log.frame["amount"], errors="coerce").to_numpy(dtype=float)
    purchase = np.isfinite(amounts) & (amounts > 0)
    ts, cust, n = log.timestamps_ns, log.customer_codes, log.n_customers
    ids = pd.Index(np.asarray(log.customer_ids))
    frames = []
    for c in cutoff_list:
        window = (ts > c.value) & (ts <= (c + h).value)
        spend = np.bincount(cust[window], weights=values[window], minlength=n)
        bought = np.bincount(cust[window & purchase], minlength=n) > 0
        try:
            rows = labels.xs(c, level="cutoff").index
        except KeyError:
            continue
        codes = ids.get_indexer(rows)
        frames.append(
            pd.DataFrame(
                {
                    "cutoff": c,
                    "customer_id": rows,
                    "spend": spend[codes].astype(float),
                    "bought": bought[codes].astype(np.int64),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {"spend": pd.Series(dtype=float), "bought": pd.Series(dtype=np.int64)},
            index=labels.index,
        )
    return pd.concat(frames, ignore_index=True).set_index(["cutoff", "customer_id"])
