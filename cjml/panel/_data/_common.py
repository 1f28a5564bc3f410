"""What every view of the panel shares: the error, the wording, the cutoff.

- :class:`PanelError`: the panel's one error (its message says why and what to do);
- :func:`label`, :func:`pct`, :func:`points`, :func:`money`, :func:`worth`: names,
  probabilities, risk differences, costs and customer values as a marketer reads
  them, in the current language (the one rounding rule is :mod:`cjml.i18n`'s);
- :func:`effect_reason`: why an action, in one sentence;
- :data:`NO_TOUCHPOINT`: the filter value for "no recommendation";
- ``_log_cutoff``: the scoring cutoff of an event log (default its last event),
  as :func:`cjml.score` takes it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjml.exceptions import CjmlError
from cjml.i18n import (
    SMALL_POINTS,
    fill,
    format_currency,
    format_points,
    format_probabilities,
    label_text,
    rounded_change,
)
from cjml.i18n import gettext as _

__all__ = [
    "NO_TOUCHPOINT",
    "PanelError",
    "effect_reason",
    "label",
    "money",
    "pct",
    "points",
    "worth",
]

#: The touchpoint filter value that selects customers with no recommendation.
NO_TOUCHPOINT = "(none)"


class PanelError(CjmlError, ValueError):
    """A panel input or action that cannot be carried out (the message says why)."""


def label(name) -> str:
    """A stage, touchpoint or band name as a person reads it, in the current language.

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
    return label_text(name)


def pct(value, digits: int = 1) -> str:
    """A probability as a percentage with one decimal ("62.4%"), an en dash when missing.

    The one rounding rule: never "100%" or "0%" for a probability that is not
    exactly 1 or 0 (">99.9%", "<0.1%"); the locale's symbols ("62,4%" in vi).
    ``digits`` is kept for callers of the old signature and ignored: one
    decimal everywhere.
    """
    if value is None or pd.isna(value):
        return "\u2013"
    return str(format_probabilities(np.array([value], dtype=float))[0])


def shown_change(before, after) -> float:
    """A change of probability as the two rounded percentages beside it show it.

    "from 16.0% to 6.2%" is 9.8 points even when the exact drop is 9.74: every
    view words a change from the same rounding (:func:`cjml.i18n.rounded_change`).

    Parameters
    ----------
    before, after : float
        Probabilities.

    Returns
    -------
    float
        ``before - after`` of the percentages rounded to one decimal (0.098
        for 9.8 points); NaN when either is missing.
    """
    if before is None or after is None or pd.isna(before) or pd.isna(after):
        return float("nan")
    return float((np.round(float(before) * 1000) - np.round(float(after) * 1000)) / 1000)


def points(value, risk=None) -> str:
    """A risk difference in percentage points ("3.9 points", "under 0.5 points", "-3.9 points").

    The size rounds to one decimal; under half a point reads "under 0.5
    points" whatever the sign (a sentence around it says up or down).

    Parameters
    ----------
    value : float
        The drop in probability (negative: a rise).
    risk : float, optional
        The probability before the change. Given, the points are those of
        the two rounded percentages (:func:`shown_change`), so a reduction
        reads the same in the list, the customer view, the reasons and the
        export.

    Returns
    -------
    str
        The points in words; an en dash when missing.
    """
    if value is None or pd.isna(value):
        return "\u2013"
    if risk is not None and not pd.isna(risk):
        value = shown_change(risk, float(risk) - float(value))
    return str(format_points(float(value), signed=True))


def points_of(values, risks=None) -> np.ndarray:
    """:func:`points` for whole columns at once (an export of 40,000 approvals).

    Parameters
    ----------
    values : array-like of float
        Drops in probability (negative: a rise).
    risks : array-like of float, optional
        The probabilities before each change; where given and not missing,
        the points are those of the two rounded percentages.

    Returns
    -------
    ndarray of object
        The points in words, as :func:`points` words each one.
    """
    v = np.asarray(values, dtype=float)
    if risks is not None:
        r = np.asarray(risks, dtype=float)
        # the rounding of shown_change, on whole columns
        shown = rounded_change(r, r - v)[3]
        v = np.where(np.isnan(r), v, np.where(np.isnan(v), np.nan, shown))
    return np.asarray(format_points(v, signed=True), dtype=object)


def money(value, currency: str | None = None) -> str:
    """A cost in the current locale and currency ("$20.00", "20.000 ₫"), en dash when unknown.

    Parameters
    ----------
    value : float or None
        The amount.
    currency : str, optional
        ISO 4217 code; default the one set with :func:`cjml.i18n.set_language`.
    """
    if value is None or pd.isna(value):
        return "\u2013"
    return format_currency(float(value), currency)


def worth(value, currency: str | None = None) -> str:
    """A customer's value in whole units of the currency ("$120", "120 ₫"); en dash if unknown.

    Values are forecasts: cents would claim a precision they do not have, so
    they are rounded to whole units (costs keep theirs, see :func:`money`).

    Parameters
    ----------
    value : float or None
        The amount.
    currency : str, optional
        ISO 4217 code; default the one set with :func:`cjml.i18n.set_language`.

    Returns
    -------
    str
        The amount in the current locale; an en dash when missing.

    Examples
    --------
    >>> from cjml.panel._data._common import worth
    >>> worth(119.6), worth(-2.4), worth(None)
    ('$120', '-$2', '–')
    """
    if value is None or pd.isna(value):
        return "\u2013"
    return format_currency(float(value), currency, whole=True)


def worth_of(values, currency: str | None = None) -> np.ndarray:
    """:func:`worth` for whole columns at once: each distinct whole amount is worded once.

    Parameters
    ----------
    values : array-like of float
        The amounts.
    currency : str, optional
        ISO 4217 code; default the one set with :func:`cjml.i18n.set_language`.

    Returns
    -------
    ndarray of object
        The amounts in the current locale; an en dash where missing.
    """
    v = np.asarray(values, dtype=float)
    out = np.full(len(v), "\u2013", dtype=object)
    known = ~np.isnan(v)
    # rounded first: worth() shows whole units, so equal roundings read the same
    whole, inverse = np.unique(np.round(v[known]), return_inverse=True)
    words = np.array([worth(w, currency) for w in whole], dtype=object)
    out[known] = words[inverse.reshape(-1)] if len(whole) else []
    return out


def effect_reason(touchpoint, risk, reduction) -> np.ndarray:
    """Why an action, one sentence per customer, by the one rounding rule.

    "Live chat is expected to lower the drop-off risk from 62.4% to 58.5%
    (3.9 points)": both percentages rounded to one decimal and the points
    their difference, so the three agree; under half a point, "Email is
    expected to lower the drop-off risk by under 0.5 points" (never "from 6%
    to 6%"). A touchpoint that raises the risk says so.

    Parameters
    ----------
    touchpoint : array-like of str
        Touchpoint names (missing: an en dash).
    risk, reduction : array-like of float
        The drop-off risk now, and its expected drop with the touchpoint.

    Returns
    -------
    ndarray of object
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(touchpoint, dtype=object)))
    names = np.asarray([label(u) for u in uniques] + [label(None)], dtype=object)
    name = names[codes]  # code -1 (missing) takes the last
    risk = np.asarray(risk, dtype=float)
    reduction = np.asarray(reduction, dtype=float)
    before_text, after_text, size, shown = rounded_change(risk, risk - reduction)
    out = fill(
        _(
            "{touchpoint} is expected to lower the drop-off risk from {before} to {after} "
            "({points})"
        ),
        touchpoint=name,
        before=before_text,
        after=after_text,
        points=size,
    )
    up = shown < 0
    if up.any():
        out[up] = fill(
            _(
                "{touchpoint} is expected to raise the drop-off risk from {before} to {after} "
                "({points})"
            ),
            touchpoint=name[up],
            before=before_text[up],
            after=after_text[up],
            points=size[up],
        )
    small = np.abs(shown) < SMALL_POINTS
    lower = small & (reduction >= 0)
    if lower.any():
        out[lower] = fill(
            _("{touchpoint} is expected to lower the drop-off risk by under 0.5 points"),
            touchpoint=name[lower],
        )
    raise_ = small & (reduction < 0)
    if raise_.any():
        out[raise_] = fill(
            _("{touchpoint} is expected to raise the drop-off risk by under 0.5 points"),
            touchpoint=name[raise_],
        )
    unknown = np.isnan(risk) | np.isnan(reduction)
    if unknown.any():
        out[unknown] = fill(_("{touchpoint} (no estimate)"), touchpoint=name[unknown])
    return out


def _did_you_mean(value, allowed: Sequence) -> str:
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    return " " + _("Did you mean {value}?").format(value=repr(close[0])) if close else ""


def _log_cutoff(log, cutoff) -> pd.Timestamp:
    """The scoring cutoff: ``cutoff`` in UTC, default the log's last event (as cjml.score)."""
    from cjml.events import to_utc_timestamp

    if cutoff is None:
        return pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC")
    return to_utc_timestamp(cutoff, log.timezone)
