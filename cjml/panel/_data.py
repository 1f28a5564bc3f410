"""The headless twin of the marketer's panel: every table, number and state it shows.

The widgets in :mod:`cjml.panel._app` only lay these out and wire them to
buttons; everything here is plain pandas and numpy, tested on its own, and
usable from a script:

- :func:`customer_table`: one row per scored customer, with the current stage
  and the segment column beside the scores;
- :func:`filter_customers`, :func:`sort_customers`, :func:`paginate` and the
  cached :class:`CustomerList`, which answers a filtered, sorted page of a
  million customers in milliseconds;
- :func:`overview_data`: risk distribution and counts per band, stage and
  recommended touchpoint;
- :func:`timeline_data` and :func:`customer_profile`: one customer's events,
  risk, next-stage probabilities, drivers, recommendations, and the expected
  risk after every eligible touchpoint, so that :func:`what_if` is a lookup;
- :class:`ActionBook`: approve, override, skip, and the safe CSV export.
"""

from __future__ import annotations

import difflib
import getpass
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml.exceptions import CjmlError

__all__ = [
    "NO_TOUCHPOINT",
    "SORT_KEYS",
    "ActionBook",
    "CustomerList",
    "CustomerPage",
    "CustomerProfile",
    "Overview",
    "PanelData",
    "WhatIf",
    "customer_profile",
    "customer_table",
    "filter_customers",
    "label",
    "overview_data",
    "paginate",
    "sort_customers",
    "timeline_data",
    "what_if",
]

#: The touchpoint filter value that selects customers with no recommendation.
NO_TOUCHPOINT = "(none)"
#: Columns the at-risk list sorts by, and whether each sorts descending by default.
SORT_KEYS: dict[str, bool] = {
    "churn_risk": True,
    "expected_risk_reduction": True,
    "next_stage_proba": True,
    "customer_id": False,
    "stage": False,
}
_REQUIRED = ("customer_id", "churn_risk", "risk_band", "recommended_touchpoint",
             "expected_risk_reduction")
_DECISIONS = ("approved", "overridden", "skipped")
_EXPORT_COLUMNS = ("customer_id", "touchpoint", "expected_risk_reduction", "reason",
                   "approved_by", "approved_at", "decision")


class PanelError(CjmlError, ValueError):
    """A panel input or action that cannot be carried out (the message says why)."""


# --------------------------------------------------------------------------- wording
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


# --------------------------------------------------------------------------- the table
def _last_rows(log, cutoff_ns: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Row of each customer's last event at or before the cutoff (-1 when none)."""
    keep = log.timestamps_ns <= cutoff_ns
    if valid is not None:
        keep &= valid
    pos = np.flatnonzero(keep)
    last = np.full(log.n_customers, -1, dtype=np.int64)
    if len(pos):
        codes = log.customer_codes[pos]
        is_last = np.r_[codes[1:] != codes[:-1], True]  # rows are sorted by (customer, time)
        last[codes[is_last]] = pos[is_last]
    return last


def _log_cutoff(log, cutoff) -> pd.Timestamp:
    from cjml.events import to_utc_timestamp

    if cutoff is None:
        return pd.Timestamp(int(log.timestamps_ns.max()), tz="UTC")
    return to_utc_timestamp(cutoff, log.timezone)


def customer_table(scores, log=None, *, segment_col=None, cutoff=None) -> pd.DataFrame:
    """One row per scored customer: the scores, the current stage and the segment.

    Parameters
    ----------
    scores : DataFrame
        The output of :func:`cjml.score` (``customer_id, churn_risk,
        risk_band, recommended_touchpoint, expected_risk_reduction``, and
        usually ``next_stage, next_stage_proba, top_drivers, status``).
        Customers whose ``status`` is not ``"scored"`` (or whose risk is
        missing) are left out: they have nothing to act on.
    log : EventLog, optional
        The events: each customer's **stage** is the stage of their last event
        at or before the cutoff, and the segment their last known value of
        ``segment_col``. Without it, the ``stage`` and segment columns are
        taken from ``scores`` when it has them.
    segment_col : str, optional
        A segment or persona column of the events (or of ``scores``).
    cutoff : date, optional
        The scoring cutoff; default the log's last event (as :func:`cjml.score`).

    Returns
    -------
    DataFrame
        ``customer_id, churn_risk, risk_band, stage, [segment_col],
        next_stage, next_stage_proba, recommended_touchpoint,
        expected_risk_reduction, top_drivers`` and any further rank columns,
        with categorical bands, stages, segments and touchpoints, in the order
        of ``scores``; ``attrs["segment_col"]`` names the segment column.

    Raises
    ------
    PanelError
        When ``scores`` lacks a required column or ``segment_col`` is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import customer_table
    >>> scores = pd.DataFrame({"customer_id": [1, 2, 3], "churn_risk": [0.9, 0.1, None],
    ...     "risk_band": ["very high", "low", None], "status": ["scored", "scored", "inactive"],
    ...     "recommended_touchpoint": ["email", None, None],
    ...     "expected_risk_reduction": [0.02, None, None]})
    >>> customer_table(scores)[["customer_id", "churn_risk", "recommended_touchpoint"]]
       customer_id  churn_risk recommended_touchpoint
    0            1         0.9                  email
    1            2         0.1                    NaN

    Customer 3 was not scored (inactive), so it is not in the table.
    """
    if not isinstance(scores, pd.DataFrame):
        raise PanelError(f"scores must be a DataFrame from cjml.score, got "
                         f"{type(scores).__name__}.")
    missing = [c for c in _REQUIRED if c not in scores.columns]
    if missing:
        raise PanelError(f"scores lacks the columns {missing!r}; pass the output of "
                         f"cjml.score(bundle, events) (it has {list(scores.columns)!r}).")
    keep = scores["churn_risk"].notna().to_numpy().copy()
    if "status" in scores.columns:
        keep &= (scores["status"].astype(object) == "scored").to_numpy()
    src = scores.loc[keep]
    out = pd.DataFrame({"customer_id": src["customer_id"].to_numpy(),
                        "churn_risk": src["churn_risk"].to_numpy(dtype=float)})
    bands = _band_order(src["risk_band"])
    out["risk_band"] = pd.Categorical(src["risk_band"].astype(object).to_numpy(),
                                      categories=bands, ordered=True)
    stages = None
    if log is not None:
        stages = list(log.journey_map.stages)
        cut = _log_cutoff(log, cutoff)
        where = pd.Index(log.customer_ids).get_indexer(out["customer_id"])
        last = _last_rows(log, cut.value)
        rows = np.where(where >= 0, last[np.maximum(where, 0)], -1)
        codes = np.where(rows >= 0, log.stage_codes[np.maximum(rows, 0)], -1)
        out["stage"] = pd.Categorical.from_codes(codes, categories=stages, ordered=True)
    elif "stage" in src.columns:
        out["stage"] = pd.Categorical(src["stage"].astype(object).to_numpy())
    else:
        out["stage"] = pd.Categorical([None] * len(out), categories=[])
    if segment_col is not None:
        out[segment_col] = _segment_values(src, log, segment_col, cutoff, out["customer_id"])
    for name in ("next_stage", "next_stage_proba"):
        if name in src.columns:
            out[name] = src[name].to_numpy()
    if "next_stage" in out.columns:
        out["next_stage"] = pd.Categorical(out["next_stage"].astype(object))
    rank_cols = [c for c in src.columns
                 if c.startswith(("recommended_touchpoint", "expected_risk_reduction"))]
    if "uncertain" in src.columns:  # the first recommendation's flag (None without one)
        rank_cols.append("uncertain")
    for name in rank_cols:
        values = src[name].to_numpy()
        if name.startswith("recommended_touchpoint"):
            values = pd.Categorical(pd.Series(values, dtype=object).where(
                pd.notna(values), None))
        out[name] = values
    out["top_drivers"] = (src["top_drivers"].astype(object).to_numpy()
                          if "top_drivers" in src.columns else None)
    out.attrs["segment_col"] = segment_col
    out.attrs["stages"] = stages
    return out


def _band_order(bands: pd.Series) -> list:
    from cjml.scoring import DEFAULT_RISK_BANDS

    present = [b for b in pd.unique(bands.astype(object)) if b is not None and not (
        isinstance(b, float) and math.isnan(b))]
    if isinstance(bands.dtype, pd.CategoricalDtype):
        order = [b for b in bands.cat.categories if b in present]
    else:
        order = [b for b in DEFAULT_RISK_BANDS if b in present]
    return order + sorted(str(b) for b in present if b not in order)


def _segment_values(src, log, segment_col, cutoff, ids) -> pd.Categorical:
    if log is not None and segment_col in log.frame.columns:
        column = log.frame[segment_col]
        cut = _log_cutoff(log, cutoff)
        last = _last_rows(log, cut.value, column.notna().to_numpy())
        where = pd.Index(log.customer_ids).get_indexer(ids)
        rows = np.where(where >= 0, last[np.maximum(where, 0)], -1)
        values = column.astype(object).to_numpy()[np.maximum(rows, 0)]
        values = np.where(rows >= 0, values, None)
    elif segment_col in src.columns:
        values = src[segment_col].astype(object).to_numpy()
    else:
        known = sorted(set(src.columns) | (set(log.frame.columns) if log is not None else set()))
        raise PanelError(f"segment_col={segment_col!r} is neither a column of the events nor of "
                         f"the scores; the columns are {known!r}."
                         f"{_did_you_mean(segment_col, known)}")
    values = pd.Series(values, dtype=object)
    categories = sorted({str(v) for v in values.dropna()})
    return pd.Categorical(values.where(values.isna(), values.astype(str)), categories=categories)


# --------------------------------------------------------------------------- the list
def _as_list(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _code_mask(column: pd.Series, wanted: list, what: str, none_value=None) -> np.ndarray:
    categories = list(column.cat.categories)
    codes = []
    for value in wanted:
        if none_value is not None and value == none_value:
            codes.append(-1)
        elif value in categories:
            codes.append(categories.index(value))
        else:
            allowed = categories + ([none_value] if none_value is not None else [])
            raise PanelError(f"Unknown {what} {value!r}; the {what} values are {allowed!r}."
                             f"{_did_you_mean(value, allowed)}")
    return np.isin(column.cat.codes.to_numpy(), codes)


def filter_customers(table: pd.DataFrame, *, risk_band=None, stage=None, segment=None,
                     touchpoint=None, segment_col=None) -> np.ndarray:
    """Which rows of the customer table match the filters.

    Every filter takes one value or a list of values (any of them matches);
    None leaves that column unfiltered.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    risk_band : str or list, optional
        Risk bands, e.g. ``["high", "very high"]``.
    stage : str or list, optional
        Current journey stages.
    segment : str or list, optional
        Values of the segment column.
    touchpoint : str or list, optional
        Recommended touchpoints; :data:`NO_TOUCHPOINT` matches customers with
        none.
    segment_col : str, optional
        The segment column; default ``table.attrs["segment_col"]``.

    Returns
    -------
    ndarray of bool
        One entry per row of ``table``.

    Raises
    ------
    PanelError
        For a value the column does not have (with a suggestion), or a segment
        filter on a table without a segment column.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import customer_table, filter_customers
    >>> table = customer_table(pd.DataFrame({"customer_id": [1, 2, 3],
    ...     "churn_risk": [0.9, 0.1, 0.6], "risk_band": ["very high", "low", "high"],
    ...     "recommended_touchpoint": ["email", None, "live_chat"],
    ...     "expected_risk_reduction": [0.02, None, 0.01]}))
    >>> filter_customers(table, risk_band=["high", "very high"], touchpoint="email")
    array([ True, False, False])
    """
    mask = np.ones(len(table), dtype=bool)
    for column, value, what in (("risk_band", risk_band, "risk band"),
                                ("stage", stage, "stage"),
                                ("recommended_touchpoint", touchpoint, "touchpoint")):
        wanted = _as_list(value)
        if wanted is not None:
            mask &= _code_mask(table[column], wanted, what,
                               NO_TOUCHPOINT if column == "recommended_touchpoint" else None)
    wanted = _as_list(segment)
    if wanted is not None:
        segment_col = segment_col or table.attrs.get("segment_col")
        if not segment_col or segment_col not in table.columns:
            raise PanelError("A segment filter needs a segment column: build the table with "
                             "customer_table(..., segment_col='segment').")
        mask &= _code_mask(table[segment_col], wanted, segment_col)
    return mask


def sort_customers(table: pd.DataFrame, by: str = "churn_risk", *, ascending=None) -> np.ndarray:
    """Row positions of the customer table in sorted order.

    Missing values go last in either direction; ties keep the table's order
    (by customer id for :func:`cjml.score` output).

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    by : str, default "churn_risk"
        A key of :data:`SORT_KEYS` or the segment column.
    ascending : bool, optional
        Default: descending for risk, reduction and probability; ascending
        for ids, stages and segments.

    Returns
    -------
    ndarray of int
        Positions into ``table``.

    Raises
    ------
    PanelError
        When ``by`` is not a sortable column.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import customer_table, sort_customers
    >>> table = customer_table(pd.DataFrame({"customer_id": [1, 2, 3],
    ...     "churn_risk": [0.2, 0.9, 0.6], "risk_band": ["medium", "very high", "high"],
    ...     "recommended_touchpoint": ["email", None, "live_chat"],
    ...     "expected_risk_reduction": [0.02, None, 0.03]}))
    >>> sort_customers(table), sort_customers(table, "expected_risk_reduction")
    (array([1, 2, 0]), array([2, 0, 1]))

    Customer 2 has no recommendation, so it sorts last by reduction.
    """
    allowed = [k for k in SORT_KEYS if k in table.columns]
    segment_col = table.attrs.get("segment_col")
    if segment_col and segment_col in table.columns:
        allowed.append(segment_col)
    if by not in allowed:
        raise PanelError(f"Cannot sort by {by!r}; choose one of {allowed!r}."
                         f"{_did_you_mean(by, allowed)}")
    if ascending is None:
        ascending = not SORT_KEYS.get(by, False)
    column = table[by]
    if isinstance(column.dtype, pd.CategoricalDtype):
        key = column.cat.codes.to_numpy().astype(np.int64)
        missing = key < 0
    elif pd.api.types.is_numeric_dtype(column):
        key = column.to_numpy(dtype=float)
        missing = np.isnan(key)
        key = np.where(missing, 0.0, key)
    else:  # text ids: rank them first
        values = column.astype(object)
        missing = values.isna().to_numpy()
        key = pd.Series(values.where(~missing, "").astype(str)).rank(method="dense").to_numpy()
    if not ascending:
        key = -key
    return np.lexsort((key, missing))  # lexsort is stable: ties keep the table order


def paginate(order: np.ndarray, *, page: int = 0, page_size: int = 25
             ) -> tuple[np.ndarray, int, int]:
    """One page of a sorted, filtered list of row positions.

    Parameters
    ----------
    order : ndarray of int
        Row positions in display order.
    page : int, default 0
        0-based page number; clamped to the pages there are.
    page_size : int, default 25
        Rows per page.

    Returns
    -------
    rows : ndarray of int
        The positions on the page.
    page : int
        The page shown (after clamping).
    n_pages : int
        Number of pages (at least 1, even when ``order`` is empty).

    Raises
    ------
    PanelError
        When ``page_size`` is not a positive whole number.

    Examples
    --------
    >>> import numpy as np
    >>> from cjml.panel import paginate
    >>> paginate(np.arange(7), page=5, page_size=3)
    (array([6]), 2, 3)

    Page 5 does not exist: the last page (2 of 0..2) is shown.
    """
    if isinstance(page_size, bool) or int(page_size) != page_size or page_size < 1:
        raise PanelError(f"page_size must be a whole number of at least 1, got {page_size!r}.")
    page_size = int(page_size)
    n_pages = max(1, -(-len(order) // page_size))
    page = min(max(int(page), 0), n_pages - 1)
    return order[page * page_size:(page + 1) * page_size], page, n_pages


@dataclass(frozen=True)
class CustomerPage:
    """One page of the at-risk list.

    Parameters
    ----------
    rows : DataFrame
        The customers on the page, in display order.
    n_matching : int
        Customers that match the filters.
    n_total : int
        Customers in the list.
    page : int
        0-based page number.
    n_pages : int
        Number of pages.
    page_size : int
        Rows per page.
    """

    rows: pd.DataFrame
    n_matching: int
    n_total: int
    page: int
    n_pages: int
    page_size: int

    @property
    def is_empty(self) -> bool:
        """True when no customer matches the filters."""
        return self.n_matching == 0

    def caption(self) -> str:
        """Where the page is, in words ("Customers 26-50 of 1,204 · page 2 of 49").

        Returns
        -------
        str
            The caption; says so when no customer matches.
        """
        if self.is_empty:
            return "No customers match these filters."
        first = self.page * self.page_size + 1
        last = first + len(self.rows) - 1
        of = f"{self.n_matching:,}"
        if self.n_matching != self.n_total:
            of += f" matching (of {self.n_total:,})"
        return f"Customers {first:,}\u2013{last:,} of {of} \u00b7 page {self.page + 1:,} of " \
               f"{self.n_pages:,}"


class CustomerList:
    """The at-risk list: filter, sort and page a customer table, fast at a million rows.

    Sort orders are computed once per key and direction and kept; a query
    then costs one boolean mask per filter and one pass over the sorted
    positions, and only the rows of the page are materialised. The last
    filtered order is kept too, so paging through it costs only the page.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    segment_col : str, optional
        The segment column; default ``table.attrs["segment_col"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import CustomerList, customer_table
    >>> table = customer_table(pd.DataFrame({"customer_id": [1, 2, 3],
    ...     "churn_risk": [0.2, 0.9, 0.6], "risk_band": ["medium", "very high", "high"],
    ...     "recommended_touchpoint": ["email", None, "live_chat"],
    ...     "expected_risk_reduction": [0.02, None, 0.03]}))
    >>> page = CustomerList(table).query(risk_band=["high", "very high"], page_size=1)
    >>> page.rows["customer_id"].tolist(), page.caption()
    ([2], 'Customers 1–1 of 2 matching (of 3) · page 1 of 2')
    """

    def __init__(self, table: pd.DataFrame, *, segment_col=None):
        self.table = table
        self.segment_col = segment_col or table.attrs.get("segment_col")
        self._orders: dict[tuple, np.ndarray] = {}
        self._last: tuple[tuple, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.table)

    def options(self) -> dict[str, list]:
        """The values each filter can take, in display order.

        Returns
        -------
        dict
            ``risk_band``, ``stage``, ``segment`` (empty without a segment
            column) and ``touchpoint`` (those recommended to someone, then
            :data:`NO_TOUCHPOINT` when some customers have none).
        """
        t = self.table

        def present(column):
            counts = np.bincount(column.cat.codes.to_numpy() + 1,
                                 minlength=len(column.cat.categories) + 1)
            return [c for c, n in zip(column.cat.categories, counts[1:], strict=True) if n]

        touchpoints = present(t["recommended_touchpoint"])
        if t["recommended_touchpoint"].isna().any():
            touchpoints.append(NO_TOUCHPOINT)
        return {
            "risk_band": present(t["risk_band"]),
            "stage": present(t["stage"]),
            "segment": present(t[self.segment_col]) if self.segment_col else [],
            "touchpoint": touchpoints,
        }

    def order(self, *, risk_band=None, stage=None, segment=None, touchpoint=None,
              sort_by="churn_risk", ascending=None) -> np.ndarray:
        """Give the positions of the matching rows, sorted.

        Parameters
        ----------
        risk_band, stage, segment, touchpoint : str or list, optional
            Filters, as for :func:`filter_customers`.
        sort_by : str, default "churn_risk"
            As ``by`` of :func:`sort_customers`.
        ascending : bool, optional
            As for :func:`sort_customers`.

        Returns
        -------
        ndarray of int
            Positions into the table.
        """
        if ascending is None:
            ascending = not SORT_KEYS.get(sort_by, False)
        key = tuple(None if v is None else tuple(_as_list(v)) for v in
                    (risk_band, stage, segment, touchpoint)) + (sort_by, bool(ascending))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        sort_key = (sort_by, bool(ascending))
        if sort_key not in self._orders:
            self._orders[sort_key] = sort_customers(self.table, sort_by, ascending=ascending)
        ordered = self._orders[sort_key]
        if any(v is not None for v in (risk_band, stage, segment, touchpoint)):
            mask = filter_customers(self.table, risk_band=risk_band, stage=stage,
                                    segment=segment, touchpoint=touchpoint,
                                    segment_col=self.segment_col)
            ordered = ordered[mask[ordered]]
        self._last = (key, ordered)
        return ordered

    def query(self, *, risk_band=None, stage=None, segment=None, touchpoint=None,
              sort_by="churn_risk", ascending=None, page=0, page_size=25) -> CustomerPage:
        """One page of the filtered, sorted list.

        Parameters
        ----------
        risk_band, stage, segment, touchpoint : str or list, optional
            Filters, as for :func:`filter_customers`.
        sort_by : str, default "churn_risk"
            As ``by`` of :func:`sort_customers`.
        ascending : bool, optional
            As for :func:`sort_customers`.
        page : int, default 0
            0-based page; clamped to the pages there are.
        page_size : int, default 25
            Rows per page.

        Returns
        -------
        CustomerPage
            The rows of the page and where it is.
        """
        ordered = self.order(risk_band=risk_band, stage=stage, segment=segment,
                             touchpoint=touchpoint, sort_by=sort_by, ascending=ascending)
        rows, page, n_pages = paginate(ordered, page=page, page_size=page_size)
        return CustomerPage(rows=self.table.iloc[rows], n_matching=len(ordered),
                            n_total=len(self.table), page=page, n_pages=n_pages,
                            page_size=int(page_size))


# --------------------------------------------------------------------------- overview
@dataclass(frozen=True)
class Overview:
    """The numbers of the panel's overview (see :func:`overview_data`).

    Parameters
    ----------
    n_customers : int
        Scored customers.
    n_not_scored : int
        Customers of the events outside the models' population (no event in
        the lookback, or none before the cutoff).
    mean_risk : float
        Mean churn risk of the scored customers.
    n_with_recommendation : int
        Scored customers with a recommended touchpoint.
    bands : DataFrame
        ``risk_band, customers, share, mean_risk``, lowest band first.
    touchpoints : DataFrame
        ``touchpoint, customers, share, mean_expected_reduction``: customers per
        recommended touchpoint, most first, then :data:`NO_TOUCHPOINT`.
    stages : DataFrame
        ``stage, customers, share, mean_risk``: customers per current stage.
    risk_histogram : DataFrame
        ``bin_start, bin_end, customers``: the risk distribution.
    """

    n_customers: int
    n_not_scored: int
    mean_risk: float
    n_with_recommendation: int
    bands: pd.DataFrame
    touchpoints: pd.DataFrame
    stages: pd.DataFrame
    risk_histogram: pd.DataFrame


def _counts(column: pd.Series, risk: np.ndarray, name: str) -> pd.DataFrame:
    codes = column.cat.codes.to_numpy()
    k = len(column.cat.categories)
    n = np.bincount(codes + 1, minlength=k + 1)[1:]
    total = np.bincount(codes + 1, weights=risk, minlength=k + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    frame = pd.DataFrame({name: list(column.cat.categories), "customers": n,
                          "share": n / max(len(column), 1), "mean_risk": mean})
    return frame[frame["customers"] > 0].reset_index(drop=True)


def overview_data(table: pd.DataFrame, *, n_not_scored: int = 0, bins: int = 10) -> Overview:
    """Risk distribution and counts per risk band, stage and recommended touchpoint.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    n_not_scored : int, default 0
        Customers left out of the table (reported, not counted).
    bins : int, default 10
        Equal-width bins of the risk histogram over [0, 1].

    Returns
    -------
    Overview
        The headline numbers and tables.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import customer_table, overview_data
    >>> table = customer_table(pd.DataFrame({"customer_id": [1, 2, 3],
    ...     "churn_risk": [0.2, 0.9, 0.6], "risk_band": ["medium", "very high", "high"],
    ...     "recommended_touchpoint": ["email", None, "email"],
    ...     "expected_risk_reduction": [0.02, None, 0.04]}))
    >>> overview_data(table).touchpoints
      touchpoint  customers     share  mean_expected_reduction
    0      email          2  0.666667                     0.03
    1     (none)          1  0.333333                      NaN
    """
    risk = table["churn_risk"].to_numpy(dtype=float)
    n = len(table)
    bands = _counts(table["risk_band"], risk, "risk_band")
    stages = _counts(table["stage"], risk, "stage")
    tp = table["recommended_touchpoint"]
    codes = tp.cat.codes.to_numpy()
    k = len(tp.cat.categories)
    counts = np.bincount(codes + 1, minlength=k + 1)
    red = np.nan_to_num(table["expected_risk_reduction"].to_numpy(dtype=float))
    sums = np.bincount(codes + 1, weights=red, minlength=k + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    tps = pd.DataFrame({"touchpoint": list(tp.cat.categories), "customers": counts[1:],
                        "share": counts[1:] / max(n, 1), "mean_expected_reduction": means[1:]})
    tps = tps[tps["customers"] > 0].sort_values(["customers", "touchpoint"],
                                                ascending=[False, True], kind="stable")
    if counts[0]:
        tps = pd.concat([tps, pd.DataFrame({"touchpoint": [NO_TOUCHPOINT],
                                            "customers": [counts[0]],
                                            "share": [counts[0] / max(n, 1)],
                                            "mean_expected_reduction": [np.nan]})])
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    hist = np.histogram(np.clip(risk, 0, 1), bins=edges)[0]
    return Overview(
        n_customers=n, n_not_scored=int(n_not_scored),
        mean_risk=float(risk.mean()) if n else float("nan"),
        n_with_recommendation=int(n - counts[0]), bands=bands,
        touchpoints=tps.reset_index(drop=True), stages=stages,
        risk_histogram=pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:],
                                     "customers": hist}))


# --------------------------------------------------------------------------- one customer
def _customer_slice(log, customer_id) -> tuple[int, int, Any]:
    """The rows of one customer in the sorted log (ids are sorted), and the id as stored."""
    ids = log.customer_ids
    candidates = [customer_id]
    if isinstance(customer_id, str) and np.issubdtype(ids.dtype, np.integer):
        try:  # a text box gives text; the log may hold integers
            candidates.append(int(customer_id.strip()))
        except ValueError:
            pass
    elif not isinstance(customer_id, str) and ids.dtype == object:
        candidates.append(str(customer_id))
    for cid in candidates:
        try:
            k = int(np.searchsorted(ids, cid))
        except TypeError:
            continue
        if k < len(ids) and ids[k] == cid:
            offsets = log.offsets
            return int(offsets[k]), int(offsets[k + 1]), ids[k]
    raise PanelError(f"Customer {customer_id!r} is not in the events. Pick a customer from the "
                     f"at-risk list, or check the id (e.g. {_plain(ids[0])!r}).")


def _plain(value):
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def timeline_data(log, customer_id, *, cutoff=None) -> pd.DataFrame:
    """One customer's journey: their events in time order, for the timeline.

    Parameters
    ----------
    log : EventLog
        The events.
    customer_id : int or str
        The customer (text that spells an integer id is accepted).
    cutoff : date, optional
        Events after it are marked ``after_cutoff``; default the log's last
        event.

    Returns
    -------
    DataFrame
        ``timestamp, touchpoint, stage, channel, satisfaction, nps, amount``
        (the columns the log has), ``purchase`` (a purchase touchpoint or a
        positive amount) and ``after_cutoff``.

    Raises
    ------
    PanelError
        When the customer is not in the events.
    """
    start, stop, _ = _customer_slice(log, customer_id)
    frame = log.frame.iloc[start:stop]
    cols = [c for c in ("timestamp", "touchpoint", "stage", "channel", "satisfaction", "nps",
                        "amount") if c in frame.columns]
    out = frame[cols].reset_index(drop=True)
    for c in ("touchpoint", "stage", "channel"):
        if c in out.columns:
            out[c] = out[c].astype(object)
    purchase = (out["touchpoint"] == "purchase").to_numpy().copy()
    if "amount" in out.columns:
        purchase |= (out["amount"].fillna(0) > 0).to_numpy()
    out["purchase"] = purchase
    cut = _log_cutoff(log, cutoff)
    out["after_cutoff"] = (out["timestamp"] > cut).to_numpy()
    return out


@dataclass
class CustomerProfile:
    """Everything the customer view shows about one customer (see :func:`customer_profile`).

    Parameters
    ----------
    customer_id : object
        The customer.
    cutoff : Timestamp
        The moment the customer is scored at.
    stage : str or None
        Current stage (of the last event at or before the cutoff).
    segment : str or None
        Last known value of the segment column.
    churn_risk : float
        Calibrated churn risk.
    risk_band : str
        Its band.
    next_stage : Series
        Probability of each next stage (``dropped`` included), in journey order.
    drivers : list of str
        The top drivers of the churn risk, in words, strongest first.
    recommendations : DataFrame
        ``rank, touchpoint, expected_risk, risk_reduction, cost``: the
        recommended touchpoints, best first (empty when none helps).
    options : DataFrame
        Every eligible actionable touchpoint: ``touchpoint, expected_risk,
        risk_reduction, cost, allowed, blocked_by``, most helpful first; the
        what-if selector's choices.
    reason : str
        The recommender's one-line reason.
    timeline : DataFrame
        :func:`timeline_data`.
    """

    customer_id: Any
    cutoff: pd.Timestamp
    stage: str | None
    segment: str | None
    churn_risk: float
    risk_band: str
    next_stage: pd.Series
    drivers: list[str]
    recommendations: pd.DataFrame
    options: pd.DataFrame
    reason: str
    timeline: pd.DataFrame


def _band_of(risk: float, bands: dict[str, float]) -> str:
    names = list(bands)
    edges = np.asarray(list(bands.values()), dtype=float)
    return names[int(np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, len(names) - 1))]


def customer_profile(bundle, log, customer_id, *, cutoff=None, rules=None, top_k=3,
                     segment_col=None, risk_bands=None, recommender=None) -> CustomerProfile:
    """Score one customer in full: risk, next stage, drivers, and every touchpoint's effect.

    The customer's events are scored exactly as :func:`cjml.score` scores them
    (same models, same cutoff, same fast attributions for the drivers), and
    the recommender's expected risk after **every** eligible touchpoint is
    computed now, so that :func:`what_if` is a lookup. For one customer this
    takes tens of milliseconds.

    Parameters
    ----------
    bundle : ModelBundle
        A bundle trained by :func:`cjml.train`.
    log : EventLog
        The events (only this customer's are used).
    customer_id : int or str
        The customer.
    cutoff : date, optional
        Score as of this moment; default the log's last event (as
        :func:`cjml.score`).
    rules : RecommendationRules, dict, path or None
        Business rules for the recommendations.
    top_k : int, default 3
        Recommended touchpoints listed.
    segment_col : str, optional
        A segment column of the events, reported as ``segment``.
    risk_bands : mapping, optional
        Band name to its lowest risk; default :data:`cjml.scoring.DEFAULT_RISK_BANDS`.
    recommender : TouchpointRecommender, optional
        Reuse one already built from the bundle and rules.

    Returns
    -------
    CustomerProfile
        The customer's scores, recommendations, what-if options and timeline.

    Raises
    ------
    PanelError
        When the customer is not in the events or has no event at or before
        the cutoff.
    """
    from cjml.events import EventLog
    from cjml.explanations import explain
    from cjml.recommend import TouchpointRecommender
    from cjml.scoring import DEFAULT_RISK_BANDS

    start, stop, cid = _customer_slice(log, customer_id)
    cut = _log_cutoff(log, cutoff)
    timeline = timeline_data(log, cid, cutoff=cut)
    if not (~timeline["after_cutoff"]).any():
        raise PanelError(f"Customer {cid!r} has no event at or before the cutoff "
                         f"{cut:%Y-%m-%d %H:%M}: there is nothing to score yet.")
    sub = EventLog.from_frame(log.frame.iloc[start:stop], journey_map=log.journey_map,
                              timezone="UTC")
    featurizer = bundle.featurizer
    X = featurizer.transform(sub, cutoff=cut)
    X = X.loc[[cid]] if cid in X.index else X
    churn, stage_model = bundle.models["churn"], bundle.models["next_stage"]
    risk = churn.predict_proba(X)[:, 1]
    proba = stage_model.predict_proba(X, churn_risk=risk)[0]
    classes = [str(c) for c in stage_model.classes_]
    next_stage = pd.Series(proba, index=pd.Index(classes, name="next_stage"), name="probability")
    drivers = explain(churn, X, feature_families=featurizer, top_n=3, method="saabas")
    rec = recommender or TouchpointRecommender.from_bundle(bundle, rules=rules, top_k=top_k)
    effects = rec.effects(sub, cutoff=cut, features=X, churn_risk=risk)
    top = rec.recommend(sub, cutoff=cut, features=X, churn_risk=risk, top_k=top_k)
    rows = []
    if len(top):
        first = top.iloc[0]
        for k in range(top_k):
            suffix = "" if k == 0 else f"_{k + 1}"
            name = first.get(f"recommended_touchpoint{suffix}")
            if name is None or (isinstance(name, float) and math.isnan(name)):
                continue
            rows.append({"rank": k + 1, "touchpoint": name,
                         "expected_risk": float(first[f"expected_risk{suffix}"]),
                         "risk_reduction": float(first[f"expected_risk_reduction{suffix}"]),
                         "cost": float(first[f"cost{suffix}"])})
    recommendations = pd.DataFrame(rows, columns=["rank", "touchpoint", "expected_risk",
                                                  "risk_reduction", "cost"])
    options = (effects[["touchpoint", "expected_risk", "risk_reduction", "cost", "allowed",
                        "blocked_by"]]
               .sort_values(["allowed", "risk_reduction"], ascending=[False, False],
                            kind="stable").reset_index(drop=True))
    segment = None
    if segment_col is not None and segment_col in sub.frame.columns:
        known = sub.frame.loc[(sub.frame["timestamp"] <= cut).to_numpy(), segment_col].dropna()
        segment = None if known.empty else str(known.iloc[-1])
    last = timeline.loc[~timeline["after_cutoff"]].iloc[-1]
    return CustomerProfile(
        customer_id=cid, cutoff=cut, stage=last["stage"], segment=segment,
        churn_risk=float(risk[0]),
        risk_band=_band_of(float(risk[0]), dict(risk_bands or DEFAULT_RISK_BANDS)),
        next_stage=next_stage, drivers=list(drivers["text"].astype(str)),
        recommendations=recommendations, options=options,
        reason=str(top["reason"].iloc[0]) if len(top) else "", timeline=timeline)


@dataclass(frozen=True)
class WhatIf:
    """The re-scored risk if one touchpoint were triggered now (see :func:`what_if`).

    Parameters
    ----------
    touchpoint : str
        The touchpoint.
    baseline_risk : float
        The churn risk now.
    expected_risk : float
        The expected churn risk after the touchpoint.
    risk_reduction : float
        ``baseline_risk - expected_risk`` (negative when it would hurt).
    cost : float
        Unit cost of the touchpoint.
    allowed : bool
        False when the business rules rule it out.
    blocked_by : str
        Why it is ruled out (empty when allowed).
    """

    touchpoint: str
    baseline_risk: float
    expected_risk: float
    risk_reduction: float
    cost: float
    allowed: bool
    blocked_by: str

    def text(self) -> str:
        """The result in one sentence.

        Returns
        -------
        str
            For example: With live chat, churn risk 62.4% -> 58.5% (3.9 points
            lower), cost 1.50.
        """
        change = self.risk_reduction
        how = ("lower" if change > 0 else "higher") if abs(change) >= 0.0005 else "about the same"
        amount = points(abs(change)) + " " if how != "about the same" else ""
        text = (f"With {label(self.touchpoint).lower()}, churn risk "
                f"{pct(self.baseline_risk)} \u2192 {pct(self.expected_risk)} ({amount}{how}), "
                f"cost {self.cost:,.2f}.")
        if not self.allowed:
            text += f" Not allowed: {self.blocked_by}."
        return text


def what_if(profile: CustomerProfile, touchpoint: str) -> WhatIf:
    """The customer's churn risk if ``touchpoint`` were triggered now.

    A lookup in the effects :func:`customer_profile` computed, so it is
    instant.

    Parameters
    ----------
    profile : CustomerProfile
        From :func:`customer_profile`.
    touchpoint : str
        One of ``profile.options["touchpoint"]``.

    Returns
    -------
    WhatIf
        The baseline and re-scored risk, the reduction, cost and rules.

    Raises
    ------
    PanelError
        When the touchpoint is not eligible for this customer.
    """
    options = profile.options
    hit = np.flatnonzero((options["touchpoint"] == touchpoint).to_numpy())
    if not len(hit):
        allowed = list(options["touchpoint"])
        raise PanelError(f"{touchpoint!r} is not an eligible touchpoint for customer "
                         f"{profile.customer_id!r} in stage {profile.stage!r}; the eligible "
                         f"ones are {allowed!r}.{_did_you_mean(touchpoint, allowed)}")
    row = options.iloc[int(hit[0])]
    return WhatIf(touchpoint=str(touchpoint), baseline_risk=profile.churn_risk,
                  expected_risk=float(row["expected_risk"]),
                  risk_reduction=float(row["risk_reduction"]), cost=float(row["cost"]),
                  allowed=bool(row["allowed"]), blocked_by=str(row["blocked_by"] or ""))


# --------------------------------------------------------------------------- decisions
def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than fail
        return "unknown"


def effect_reason(touchpoint, risk, reduction) -> np.ndarray:
    """Why an action: "Live chat is expected to lower the drop-off risk from 62.4% to 58.5%"."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(touchpoint, dtype=object)))
    names = [label(u) for u in uniques] + [label(None)]  # code -1 (missing) takes the last
    risk = np.asarray(risk, dtype=float).tolist()
    reduction = np.asarray(reduction, dtype=float).tolist()

    def one(name, r, d):  # plain float formatting: a bulk approval words a million of these
        if r != r or d != d:  # NaN
            return f"{name} (no estimate)"
        return (f"{name} is expected to lower the drop-off risk from {100 * r:.1f}% to "
                f"{100 * (r - d):.1f}% ({points(d)})")

    return np.asarray([one(names[c], r, d) for c, r, d in zip(codes.tolist(), risk, reduction,
                                                              strict=True)], dtype=object)


class ActionBook:
    """The marketer's decisions: approve, override or skip each customer's recommendation.

    The latest decision per customer counts. Decisions are stored as batches
    of rows (a bulk approval of a million customers is one batch) and merged
    when read.

    Parameters
    ----------
    user : str, optional
        Who decides, recorded as ``approved_by``; default the login name.
    clock : callable, optional
        Returns the current time (a timezone-aware datetime); for tests.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import ActionBook
    >>> book = ActionBook(user="lan")
    >>> rows = pd.DataFrame({"customer_id": [1, 2], "churn_risk": [0.6, 0.7],
    ...     "recommended_touchpoint": ["live_chat", "email"],
    ...     "expected_risk_reduction": [0.04, 0.01]})
    >>> book.approve(rows), book.skip([2]), book.counts()
    (2, 1, {'approved': 1, 'overridden': 0, 'skipped': 1})
    >>> book.approved()[["customer_id", "touchpoint", "approved_by"]]
       customer_id touchpoint approved_by
    0            1  live_chat         lan
    """

    _COLUMNS = ("customer_id", "decision", "touchpoint", "expected_risk_reduction", "reason",
                "decided_by", "decided_at")

    def __init__(self, *, user=None, clock: Callable[[], datetime] | None = None):
        self.user = user
        self.clock = clock
        self._batches: list[pd.DataFrame] = []
        self._merged: pd.DataFrame | None = None

    def _add(self, customer_id, decision, touchpoint, reduction, reason, by) -> int:
        n = len(customer_id)
        if not n:
            return 0
        when = (self.clock or _now)()
        self._batches.append(pd.DataFrame({
            "customer_id": np.asarray(customer_id),
            "decision": np.full(n, decision, dtype=object),
            "touchpoint": np.asarray(touchpoint, dtype=object),
            "expected_risk_reduction": np.asarray(reduction, dtype=float),
            "reason": np.asarray(reason, dtype=object),
            "decided_by": np.full(n, by or self.user or _default_user(), dtype=object),
            "decided_at": np.full(n, when.isoformat().replace("+00:00", "Z"), dtype=object),
        }))
        self._merged = None
        return n

    def approve(self, rows: pd.DataFrame, *, by=None, note=None) -> int:
        """Approve the recommended touchpoint of each row.

        Parameters
        ----------
        rows : DataFrame
            Rows of the customer table (``customer_id, churn_risk,
            recommended_touchpoint, expected_risk_reduction``). Rows without a
            recommendation are left out.
        by : str, optional
            Who approves; default the book's user.
        note : str, optional
            Added to each reason.

        Returns
        -------
        int
            Customers approved.
        """
        has = rows["recommended_touchpoint"].notna().to_numpy()
        rows = rows.loc[has]
        reason = effect_reason(rows["recommended_touchpoint"], rows["churn_risk"],
                               rows["expected_risk_reduction"])
        if note:
            reason = reason + f"; {note}"
        return self._add(rows["customer_id"].to_numpy(), "approved",
                         rows["recommended_touchpoint"].astype(object).to_numpy(),
                         rows["expected_risk_reduction"].to_numpy(dtype=float), reason, by)

    def override(self, customer_id, touchpoint: str, *, expected_risk_reduction: float,
                 baseline_risk: float | None = None, note=None, by=None) -> int:
        """Replace a customer's recommendation with another touchpoint, approved.

        Parameters
        ----------
        customer_id : object
            The customer.
        touchpoint : str
            The touchpoint chosen instead.
        expected_risk_reduction : float
            Its expected risk reduction (from :func:`what_if`).
        baseline_risk : float, optional
            The customer's risk now, for the reason's wording.
        note : str, optional
            Why; added to the reason.
        by : str, optional
            Who overrides; default the book's user.

        Returns
        -------
        int
            1.
        """
        if baseline_risk is None:
            reason = f"{label(touchpoint)} chosen instead of the recommendation"
        else:
            reason = str(effect_reason([touchpoint], [baseline_risk],
                                       [expected_risk_reduction])[0]) + " (override)"
        if note:
            reason += f"; {note}"
        return self._add([customer_id], "overridden", [touchpoint], [expected_risk_reduction],
                         [reason], by)

    def skip(self, customer_ids, *, by=None, note=None) -> int:
        """Skip customers: no action for them.

        Parameters
        ----------
        customer_ids : list-like
            The customers.
        by : str, optional
            Who decides; default the book's user.
        note : str, optional
            Why.

        Returns
        -------
        int
            Customers skipped.
        """
        ids = np.asarray(list(customer_ids) if not isinstance(customer_ids, np.ndarray)
                         else customer_ids)
        n = len(ids)
        return self._add(ids, "skipped", np.full(n, None), np.full(n, np.nan),
                         np.full(n, note or "skipped", dtype=object), by)

    def reset(self, customer_ids) -> int:
        """Forget the decisions on these customers.

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        int
            Customers reset.
        """
        ids = np.asarray(list(customer_ids))
        n = len(ids)
        return self._add(ids, "reset", np.full(n, None), np.full(n, np.nan),
                         np.full(n, None), None)

    def to_frame(self) -> pd.DataFrame:
        """The latest decision per customer, in the order they were first decided.

        Returns
        -------
        DataFrame
            ``customer_id, decision, touchpoint, expected_risk_reduction,
            reason, decided_by, decided_at``.
        """
        if self._merged is None:
            if not self._batches:
                merged = pd.DataFrame({c: pd.Series(dtype=object if c != "expected_risk_"
                                                    "reduction" else float)
                                       for c in self._COLUMNS})
            else:
                frame = pd.concat(self._batches, ignore_index=True)
                merged = frame.drop_duplicates("customer_id", keep="last")
                merged = merged[merged["decision"] != "reset"].reset_index(drop=True)
            self._merged = merged
        return self._merged

    def decisions(self, customer_ids) -> pd.Series:
        """The current decision of each customer (None when undecided).

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        Series
            Indexed by the ids given.
        """
        frame = self.to_frame()
        ids = pd.Index(list(customer_ids), dtype=object)
        where = pd.Index(frame["customer_id"].astype(object)).get_indexer(ids)
        values = frame["decision"].to_numpy(dtype=object)
        return pd.Series(np.where(where >= 0, values[np.maximum(where, 0)] if len(values)
                                  else None, None), index=ids, name="decision", dtype=object)

    def counts(self) -> dict[str, int]:
        """Count the customers per decision.

        Returns
        -------
        dict
            ``approved``, ``overridden`` and ``skipped``.
        """
        counts = self.to_frame()["decision"].value_counts()
        return {d: int(counts.get(d, 0)) for d in _DECISIONS}

    def approved(self) -> pd.DataFrame:
        """The approved action list: approved and overridden customers.

        Returns
        -------
        DataFrame
            ``customer_id, touchpoint, expected_risk_reduction, reason,
            approved_by, approved_at, decision``.
        """
        frame = self.to_frame()
        frame = frame[frame["decision"].isin(["approved", "overridden"])]
        out = frame.rename(columns={"decided_by": "approved_by", "decided_at": "approved_at"})
        return out[list(_EXPORT_COLUMNS)].reset_index(drop=True)

    def export_csv(self, path, *, force: bool = False, inputs=None) -> Path:
        """Write the approved action list to CSV, safe for spreadsheets.

        See :func:`cjml.panel.write_csv`: formula-like text is escaped, the
        file is UTF-8 with a byte-order mark, written atomically, and an
        existing file is kept unless ``force=True``.

        Parameters
        ----------
        path : str or Path
            A ``.csv`` file.
        force : bool, default False
            Replace an existing file.
        inputs : mapping of str to path, optional
            The files the panel was built from (:attr:`PanelData.inputs`):
            ``path`` may not be one of them (or inside an input folder), even
            with ``force``.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        PanelError
            When nothing is approved.
        InputFileError
            When the file exists (without ``force``), is not ``.csv``, is a
            folder or is one of ``inputs``.
        """
        from cjml._io import check_output, write_csv

        check_output(path, inputs=inputs, force=force, suffixes=(".csv",), option="file name")
        actions = self.approved()
        if actions.empty:
            raise PanelError("No approved actions to export yet: approve or override some "
                             "recommendations first.")
        return write_csv(actions, path, force=force)


# --------------------------------------------------------------------------- all of it
@dataclass
class PanelData:
    """Everything the panel shows, computed once from a bundle, events and scores.

    Build it with :meth:`from_inputs`; the widgets of :func:`cjml.panel` only
    read it and call its methods.

    Parameters
    ----------
    bundle : ModelBundle
        The models.
    log : EventLog
        The events.
    table : DataFrame
        :func:`customer_table`.
    cutoff : Timestamp
        The scoring cutoff.
    segment_col : str or None
        The segment column.
    rules : RecommendationRules, dict, path or None
        Business rules of the recommendations.
    report : JourneyMapReport or None
        The journey map (funnel, drop-off, missing touchpoints).
    n_not_scored : int
        Customers of the scores outside the models' population.
    top_k : int
        Recommended touchpoints listed per customer.
    actions : ActionBook
        The decisions.
    inputs : dict
        What each input file is to its path (the bundle, events, scores and
        rules given as paths to :meth:`from_inputs`): the export never writes
        over them.
    """

    bundle: Any
    log: Any
    table: pd.DataFrame
    cutoff: pd.Timestamp
    segment_col: str | None = None
    rules: Any = None
    report: Any = None
    n_not_scored: int = 0
    top_k: int = 3
    actions: ActionBook = field(default_factory=ActionBook)
    inputs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.customers = CustomerList(self.table, segment_col=self.segment_col)
        self._profiles: dict[Any, CustomerProfile] = {}
        self._recommender = None
        self._overview: Overview | None = None

    @classmethod
    def from_inputs(cls, bundle, events, scores=None, *, rules=None, cutoff=None,
                    segment_col="auto", report="auto", top_k=3, user=None) -> PanelData:
        """Load, score (when needed) and prepare everything the panel shows.

        Parameters
        ----------
        bundle : ModelBundle or path
            A bundle trained by :func:`cjml.train`, or its file.
        events : EventLog, DataFrame or path
            The events, as for :func:`cjml.read_events` (read with the
            bundle's journey map).
        scores : DataFrame or path, optional
            The output of :func:`cjml.score` for these events (a DataFrame,
            or its Parquet or CSV file); default: scored now.
        rules : RecommendationRules, dict, path or None
            Business rules. Given, the recommendations of the list are
            recomputed with them (scores from :func:`cjml.score` follow no
            rules).
        cutoff : date, optional
            The scoring cutoff; default the one the scores were made at when
            known, else the last event (as :func:`cjml.score`).
        segment_col : str, None or "auto", default "auto"
            The segment or persona column; "auto" takes the first customer
            attribute the models use (e.g. ``segment``), None for none.
        report : JourneyMapReport, None or "auto", default "auto"
            The journey map of the overview; "auto" builds it with
            :func:`cjml.journey_map`, None leaves it out.
        top_k : int, default 3
            Recommended touchpoints listed per customer.
        user : str, optional
            Who approves, for the export; default the login name.

        Returns
        -------
        PanelData
            Ready for :func:`cjml.panel`.
        """
        import cjml
        from cjml.bundle import ModelBundle
        from cjml.events import EventLog
        from cjml.scoring import score

        inputs = {name: value for name, value in (("bundle", bundle), ("events", events),
                                                  ("scores", scores), ("rules", rules))
                  if isinstance(value, str | os.PathLike)}
        if "bundle" in inputs:
            inputs["bundle's manifest"] = str(inputs["bundle"]) + ".manifest.json"
        if not isinstance(bundle, ModelBundle):
            bundle = ModelBundle.load(bundle)
        log = events if isinstance(events, EventLog) else cjml.read_events(
            events, journey_map=bundle.journey_map,
            timezone=bundle.metadata.get("timezone", "UTC"))
        if scores is None:
            scores = score(bundle, log, cutoff=cutoff, top_k=top_k)
        elif not isinstance(scores, pd.DataFrame):
            path = Path(scores)
            scores = (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
                      else pd.read_csv(path))
        summary = scores.attrs.get("summary")  # ScoreSummary.to_dict() of cjml.score
        if cutoff is None and isinstance(summary, dict) and summary.get("cutoff") is not None:
            cutoff = summary["cutoff"]  # ISO text, UTC
        cut = _log_cutoff(log, cutoff)
        if segment_col == "auto":
            attrs = bundle.metadata.get("event_columns", [])
            extra = [c for c in attrs if c not in ("channel", "satisfaction", "nps", "effort",
                                                   "amount") and c in log.frame.columns]
            segment_col = extra[0] if extra else None
        table = customer_table(scores, log, segment_col=segment_col, cutoff=cut)
        if rules is not None and len(table):
            table = _with_rules(table, bundle, log, cut, rules, top_k)
        if isinstance(report, str) and report == "auto":
            report = cjml.journey_map(log, bundle, cutoff=cut)
        return cls(bundle=bundle, log=log, table=table, cutoff=cut, segment_col=segment_col,
                   rules=rules, report=report, n_not_scored=len(scores) - len(table),
                   top_k=top_k, actions=ActionBook(user=user), inputs=inputs)

    @property
    def recommender(self):
        """The bundle's :class:`~cjml.TouchpointRecommender` with the panel's rules."""
        if self._recommender is None:
            from cjml.recommend import TouchpointRecommender

            self._recommender = TouchpointRecommender.from_bundle(self.bundle, rules=self.rules,
                                                                  top_k=self.top_k)
        return self._recommender

    @property
    def overview(self) -> Overview:
        """:func:`overview_data` of the table (computed once)."""
        if self._overview is None:
            self._overview = overview_data(self.table, n_not_scored=self.n_not_scored)
        return self._overview

    def profile(self, customer_id) -> CustomerProfile:
        """:func:`customer_profile` of one customer (kept for the next time).

        Parameters
        ----------
        customer_id : int or str
            The customer.

        Returns
        -------
        CustomerProfile
            Their profile at the panel's cutoff.
        """
        key = customer_id
        if key not in self._profiles:
            profile = customer_profile(self.bundle, self.log, customer_id, cutoff=self.cutoff,
                                       rules=self.rules, top_k=self.top_k,
                                       segment_col=self.segment_col,
                                       recommender=self.recommender)
            if len(self._profiles) >= 256:  # a small cache: a marketer browses, not crawls
                self._profiles.pop(next(iter(self._profiles)))
            self._profiles[key] = profile
        return self._profiles[key]

    def rows_of(self, customer_ids) -> pd.DataFrame:
        """The table rows of these customers (unknown ids are left out).

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        DataFrame
            Their rows of the customer table.
        """
        where = pd.Index(self.table["customer_id"]).get_indexer(list(customer_ids))
        return self.table.iloc[where[where >= 0]]


def _with_rules(table, bundle, log, cutoff, rules, top_k) -> pd.DataFrame:
    """The table with its recommendation columns recomputed under the business rules."""
    from cjml.recommend import TouchpointRecommender

    rec = TouchpointRecommender.from_bundle(bundle, rules=rules, top_k=top_k).recommend(
        log, cutoff=cutoff, customers=table["customer_id"].to_numpy())
    table = table.copy()
    for k in range(top_k):
        src = "" if k == 0 else f"_{k + 1}"
        tp = pd.Series(rec[f"recommended_touchpoint{src}"].to_numpy(), dtype=object)
        table[f"recommended_touchpoint{src}"] = pd.Categorical(tp.where(tp.notna(), None))
        table[f"expected_risk_reduction{src}"] = rec[f"expected_risk_reduction{src}"].to_numpy(
            dtype=float)
    # the first recommendation's interval and flag (from cjml.score) follow the rules too
    for name in ("expected_risk_reduction_low", "expected_risk_reduction_high"):
        if name in table.columns:
            table[name] = rec[name].to_numpy(dtype=float)
    if "uncertain" in table.columns:
        table["uncertain"] = pd.Series(rec["uncertain"].to_numpy(dtype=object)).where(
            rec["recommended_touchpoint"].notna().to_numpy(), None).to_numpy(dtype=object)
    return table
