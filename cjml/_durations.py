"""Reading durations ("30D", "4W", a number of days): one rule for every option that takes one.

It lives apart from :mod:`cjml.labels` (which re-exports it) so that modules the
featurizer imports can read a duration without importing the labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["to_timedelta", "utc_datetimes"]


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
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            delta = pd.Timedelta(days=float(value))
        else:
            delta = pd.Timedelta(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}={value!r} is not a duration; use a number of days or a text "
            "such as '30D' or '4W'."
        ) from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value!r}.")
    return delta


def utc_datetimes(values) -> np.ndarray:
    """Dates (a Series, an index or an array, zoned or naive) as ``datetime64[ns]`` in UTC.

    ``np.asarray`` of zoned dates makes an object array of Timestamps, one Python
    object per row: on the 1.3M training rows of a 1M-event log, each such call
    cost about 3 s. This keeps the values in numpy; naive dates are read as UTC.

    Parameters
    ----------
    values : Series, Index or array-like of dates
        One date per row, e.g. each training row's cutoff.

    Returns
    -------
    ndarray of datetime64[ns]
        The same instants, naive, in UTC.
    """
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.as_unit("ns").to_numpy()
