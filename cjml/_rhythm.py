"""How often customers come back: the silences between their visits.

The shared piece of :class:`cjml.EventLog`'s summary (``Returns: ...``) and
:func:`cjml.labels.cadence_advice`, which compares these silences with a churn
horizon. A log is read only through ``timestamps_ns``, ``customer_codes`` and
``activity_mask``, so this module imports neither.
"""

from __future__ import annotations

import numpy as np

_DAY_NS = 86_400_000_000_000


def return_gaps(log, *, with_customers: bool = False):
    """Days between consecutive days with an event of the customer's own (not what the
    business sent: :attr:`EventLog.activity_mask`), over every customer: the silences of
    customers who came back; with ``with_customers``, also each silence's customer code."""
    ts, cust = log.timestamps_ns, log.customer_codes
    own = log.activity_mask
    if own is not None:
        ts, cust = ts[own], cust[own]
    day = ts // _DAY_NS
    new = np.r_[True, (cust[1:] != cust[:-1]) | (day[1:] != day[:-1])]
    day, cust = day[new], cust[new]
    same = cust[1:] == cust[:-1]
    gaps = (day[1:] - day[:-1])[same]
    return (gaps, cust[1:][same]) if with_customers else gaps


def silent_share(gaps: np.ndarray, days: float) -> float:
    """The share of the time between customers' returns spent in silences longer than
    ``days``: the chance that a cutoff taken at random while a customer is still there
    finds no event of theirs within ``days`` after it."""
    total = float(gaps.sum())
    return float(np.maximum(gaps - days, 0).sum()) / total if total else 0.0


def half_silence(gaps: np.ndarray) -> int:
    """The silence (days) half of the time between returns is spent in longer ones: not
    half of the silences, where a visit's few days apart would hide the months between
    visits. 0 without any return."""
    if not len(gaps):
        return 0
    time_in = np.bincount(gaps) * np.arange(int(gaps.max()) + 1)  # whole days: no sort
    return int(np.searchsorted(np.cumsum(time_in), time_in.sum() / 2))
