"""What every view of the panel shares: the error, the wording, the cutoff.

- :class:`PanelError`: the panel's one error (its message says why and what to do);
- :func:`label`, :func:`pct`, :func:`points`: names, probabilities and risk
  differences as a marketer reads them;
- :data:`NO_TOUCHPOINT`: the filter value for "no recommendation";
- ``_log_cutoff``: the scoring cutoff of an event log (default its last event),
  as :func:`cjml.score` takes it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import pandas as pd

from cjml.exceptions import CjmlError

__all__ = ["NO_TOUCHPOINT", "PanelError", "label", "pct", "points"]

#: The touchpoint filter value that selects customers with no recommendation.
NO_TOUCHPOINT = "(none)"


class PanelError(CjmlError, ValueError):
    """A panel input or action that cannot be carried out (the message says why)."""


def label(name) -> str:
    """A stage, touchpoint or band name as a person reads it.

    Parameters
    ----------
    name : str or None
        ``"live_chat"``, ``"very high"``...

    Returns
    -------
    str
        ``"Live chat"``; an en dash for a missing name.

    Examples
    --------
    >>> from cjml.panel import label
    >>> label("personalised_offer"), label(None)
    ('Personalised offer', '–')
    """
    if name is None or (not isinstance(name, str) and pd.isna(name)):
        return "\u2013"
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "\u2013"


def pct(value, digits: int = 1) -> str:
    """A probability as a percentage ("62.4%"), an en dash when missing."""
    if value is None or pd.isna(value):
        return "\u2013"
    return f"{100 * float(value):.{digits}f}%"


def points(value) -> str:
    """A risk difference in percentage points ("3.9 points", "<0.1 points")."""
    if value is None or value != value:  # None or NaN (value != value is the fast NaN test)
        return "\u2013"
    d = 100 * float(value)
    if abs(d) < 0.05:
        return "<0.1 points" if d >= 0 else "-<0.1 points"
    return f"{d:.1f} points"


def _did_you_mean(value, allowed: Sequence) -> str:
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _log_cutoff(log, cutoff) -> pd.Timestamp:
    """The scoring cutoff: ``cutoff`` in UTC, default the log's last event (as cjml.score)."""
    from cjml.events import to_utc_timestamp

    if cutoff is None:
        return pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC")
    return to_utc_timestamp(cutoff, log.timezone)
