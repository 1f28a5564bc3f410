"""Reading durations ("30D", "4W", a number of days): one rule for every option that takes one.

It lives apart from :mod:`cjml.labels` (which re-exports it) so that modules the
featurizer imports can read a duration without importing the labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["to_timedelta"]


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
