"""The at-risk list view: filter, sort and page the customer table.

:func:`filter_customers`, :func:`sort_customers` and :func:`paginate` are the
plain steps; :class:`CustomerList` keeps the sort orders and the last filtered
order so that a page of a million customers costs milliseconds, and answers
a :class:`CustomerPage` (the rows and where they are, in words).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjml.i18n import format_number as num
from cjml.i18n import gettext as _
from cjml.panel._data._common import NO_TOUCHPOINT, PanelError, _did_you_mean

__all__ = [
    "DEFAULT_REACH_THRESHOLD",
    "SORT_KEYS",
    "CustomerList",
    "CustomerPage",
    "default_sort",
    "filter_customers",
    "likely_gone",
    "paginate",
    "sort_customers",
]

#: Keys the at-risk list sorts by, and whether each sorts descending by default.
#: ``value_saved`` (the default order when the scores have values: where a
#: touchpoint saves the most value for what it costs) is the first-ranked
#: touchpoint's ``expected_value_saved``, customers without one last.
#: ``expected_retained`` (the default order without values: who can be saved
#: first) is the expected drop in the customer's drop-off probability, which
#: already accounts for the chance they are still there
#: (``expected_risk_reduction``, no recommendation counting as 0).
SORT_KEYS: dict[str, bool] = {
    "value_saved": True,
    "expected_retained": True,
    "expected_value": True,
    "value_at_risk": True,
    "churn_risk": True,
    "expected_risk_reduction": True,
    "reach_probability": True,
    "next_stage_proba": True,
    "customer_id": False,
    "stage": False,
}

#: Customers whose reach probability is below this are "likely gone" (default 5%).
DEFAULT_REACH_THRESHOLD = 0.05

_GROUPS = ("reachable", "likely_gone")


#: Sort keys read from another column of the customer table.
_DERIVED = {"value_saved": "expected_value_saved", "expected_retained": "expected_risk_reduction"}


def _sort_column(table: pd.DataFrame, by: str) -> pd.Series:
    """The values a sort key orders by (``value_saved`` and ``expected_retained`` are derived)."""
    if by == "expected_retained":
        return table["expected_risk_reduction"].astype(float).fillna(0.0)
    if by == "value_saved":  # no recommendation: no value saved to rank by, so last
        return table["expected_value_saved"].astype(float)
    return table[by]


def default_sort(table: pd.DataFrame) -> str:
    """The at-risk list's default order for this table.

    ``"value_saved"`` (most value saved net of cost first) when the scores
    have ``expected_value_saved`` (a bundle with a value model) and some
    customer's is known (its touchpoint has a unit cost), else
    ``"expected_retained"`` (the largest expected drop in drop-off risk first).
    When no customer has a recommendation (a bundle that cannot recommend, or
    scores made without), those orders say nothing: ``"value_at_risk"`` when
    the table has values, else ``"churn_risk"``.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.

    Returns
    -------
    str
        A key of :data:`SORT_KEYS`.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import default_sort
    >>> default_sort(pd.DataFrame({"expected_risk_reduction": [0.1]}))
    'expected_retained'
    >>> default_sort(pd.DataFrame({"expected_value_saved": [3.5]}))
    'value_saved'
    >>> default_sort(pd.DataFrame({"churn_risk": [0.4], "expected_risk_reduction": [None]}))
    'churn_risk'

    Touchpoints without a unit cost have no value saved, which orders nothing:

    >>> no_cost = pd.DataFrame({"expected_risk_reduction": [0.1], "expected_value_saved": [None]})
    >>> default_sort(no_cost)
    'expected_retained'
    """
    recommended = [c for c in ("expected_risk_reduction", "expected_value_saved") if c in table]
    if not recommended or table[recommended].notna().any().any():
        # value saved needs a unit cost: touchpoints without one (a drafted map) have none
        saved = table.get("expected_value_saved")
        return "value_saved" if saved is not None and saved.notna().any() else "expected_retained"
    if "value_at_risk" in table.columns and table["value_at_risk"].notna().any():
        return "value_at_risk"
    return "churn_risk"


def likely_gone(table: pd.DataFrame, threshold: float = DEFAULT_REACH_THRESHOLD) -> np.ndarray:
    """Which customers are probably gone already: reach probability below ``threshold``.

    An unknown reach (NaN, e.g. scores made before ``reach_probability``
    existed) never counts as gone.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    threshold : float, default 0.05
        The lowest chance of still being there that is worth a touchpoint.

    Returns
    -------
    ndarray of bool
        One entry per row of ``table``.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import likely_gone
    >>> likely_gone(pd.DataFrame({"reach_probability": [0.01, 0.5, None]}))
    array([ True, False, False])
    """
    if "reach_probability" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    reach = table["reach_probability"].to_numpy(dtype=float)
    return np.less(reach, float(threshold), where=~np.isnan(reach), out=np.zeros(len(reach), bool))


def _as_list(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _code_mask(column: pd.Series, wanted: list, what: str, none_value=None) -> np.ndarray:
    categories = column.cat.categories.tolist()
    codes = []
    for value in wanted:
        if none_value is not None and value == none_value:
            codes.append(-1)
        elif value in categories:
            codes.append(categories.index(value))
        else:
            allowed = categories + ([none_value] if none_value is not None else [])
            raise PanelError(
                f"Unknown {what} {value!r}; the {what} values are {allowed!r}."
                f"{_did_you_mean(value, allowed)}"
            )
    return np.isin(column.cat.codes.to_numpy(), codes)


def filter_customers(
    table: pd.DataFrame,
    *,
    risk_band=None,
    stage=None,
    segment=None,
    touchpoint=None,
    segment_col=None,
) -> np.ndarray:
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
    for column, value, what in (
        ("risk_band", risk_band, "risk band"),
        ("stage", stage, "stage"),
        ("recommended_touchpoint", touchpoint, "touchpoint"),
    ):
        wanted = _as_list(value)
        if wanted is not None:
            mask &= _code_mask(
                table[column],
                wanted,
                what,
                NO_TOUCHPOINT if column == "recommended_touchpoint" else None,
            )
    wanted = _as_list(segment)
    if wanted is not None:
        segment_col = segment_col or table.attrs.get("segment_col")
        if not segment_col or segment_col not in table.columns:
            raise PanelError(
                "A segment filter needs a segment column: build the table with "
                "customer_table(..., segment_col='segment')."
            )
        mask &= _code_mask(table[segment_col], wanted, segment_col)
    return mask


def sort_customers(table: pd.DataFrame, by: str | None = None, *, ascending=None) -> np.ndarray:
    """Row positions of the customer table in sorted order.

    Missing values go last in either direction; ties keep the table's order
    (by customer id for :func:`cjml.score` output).

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    by : str, optional
        A key of :data:`SORT_KEYS` or the segment column; default
        :func:`default_sort`: the most value saved net of cost first when the
        table has ``expected_value_saved``, else the customers who can be
        saved first (the largest expected drop in their drop-off probability;
        no recommendation counts as 0).
    ascending : bool, optional
        Default: descending for value saved, retained customers, values,
        risk, reduction, reach and probability; ascending for ids, stages and
        segments.

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
    >>> sort_customers(table, "churn_risk"), sort_customers(table, "expected_risk_reduction")
    (array([1, 2, 0]), array([2, 0, 1]))
    >>> sort_customers(table)  # expected customers retained: none counts as 0
    array([2, 0, 1])

    Customer 2 has no recommendation, so it sorts last by reduction.
    """
    if by is None:
        by = default_sort(table)
    allowed = [k for k in SORT_KEYS if k in table.columns or _DERIVED.get(k) in table.columns]
    segment_col = table.attrs.get("segment_col")
    if segment_col and segment_col in table.columns:
        allowed.append(segment_col)
    if by not in allowed:
        raise PanelError(
            f"Cannot sort by {by!r}; choose one of {allowed!r}.{_did_you_mean(by, allowed)}"
        )
    if ascending is None:
        ascending = not SORT_KEYS.get(by, False)
    column = _sort_column(table, by)
    if isinstance(column.dtype, pd.CategoricalDtype):
        key: np.ndarray = column.cat.codes.to_numpy().astype(np.int64)
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


def paginate(
    order: np.ndarray, *, page: int = 0, page_size: int = 25
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
    return order[page * page_size : (page + 1) * page_size], page, n_pages


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
            return _("No customers match these filters.")
        first = self.page * self.page_size + 1
        last = first + len(self.rows) - 1
        places = {
            "first": num(first),
            "last": num(last),
            "n": num(self.n_matching),
            "total": num(self.n_total),
            "page": num(self.page + 1),
            "pages": num(self.n_pages),
        }
        if self.n_matching != self.n_total:
            text = _(
                "Customers {first}\u2013{last} of {n} matching (of {total}) \u00b7 "
                "page {page} of {pages}"
            )
        else:
            text = _("Customers {first}\u2013{last} of {n} \u00b7 page {page} of {pages}")
        return text.format(**places)


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
    ([3], 'Customers 1–1 of 2 matching (of 3) · page 1 of 2')
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
            counts = np.bincount(
                column.cat.codes.to_numpy() + 1, minlength=len(column.cat.categories) + 1
            )
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

    def order(
        self,
        *,
        risk_band=None,
        stage=None,
        segment=None,
        touchpoint=None,
        sort_by=None,
        ascending=None,
        group=None,
        reach_threshold=DEFAULT_REACH_THRESHOLD,
    ) -> np.ndarray:
        """Give the positions of the matching rows, sorted.

        Parameters
        ----------
        risk_band, stage, segment, touchpoint : str or list, optional
            Filters, as for :func:`filter_customers`.
        sort_by : str, optional
            As ``by`` of :func:`sort_customers` (default :func:`default_sort`).
        ascending : bool, optional
            As for :func:`sort_customers`.
        group : {None, "reachable", "likely_gone"}, optional
            Only the customers still likely there, or only those likely gone
            (:func:`likely_gone`); None for both.
        reach_threshold : float, default 0.05
            The reach probability below which a customer is likely gone.

        Returns
        -------
        ndarray of int
            Positions into the table.
        """
        if sort_by is None:
            sort_by = default_sort(self.table)
        if ascending is None:
            ascending = not SORT_KEYS.get(sort_by, False)
        if group is not None and group not in _GROUPS:
            raise PanelError(f"group={group!r} is not known; use None or one of {_GROUPS!r}.")
        key = tuple(
            None if v is None else tuple(_as_list(v) or ())
            for v in (risk_band, stage, segment, touchpoint)
        ) + (sort_by, bool(ascending), group, float(reach_threshold))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        sort_key = (sort_by, bool(ascending))
        if sort_key not in self._orders:
            self._orders[sort_key] = sort_customers(self.table, sort_by, ascending=ascending)
        ordered = self._orders[sort_key]
        if any(v is not None for v in (risk_band, stage, segment, touchpoint)):
            mask = filter_customers(
                self.table,
                risk_band=risk_band,
                stage=stage,
                segment=segment,
                touchpoint=touchpoint,
                segment_col=self.segment_col,
            )
            ordered = ordered[mask[ordered]]
        if group is not None:
            gone = likely_gone(self.table, reach_threshold)
            ordered = ordered[gone[ordered] == (group == "likely_gone")]
        self._last = (key, ordered)
        return ordered

    def query(
        self,
        *,
        risk_band=None,
        stage=None,
        segment=None,
        touchpoint=None,
        sort_by=None,
        ascending=None,
        page=0,
        page_size=25,
        group=None,
        reach_threshold=DEFAULT_REACH_THRESHOLD,
    ) -> CustomerPage:
        """One page of the filtered, sorted list.

        Parameters
        ----------
        risk_band, stage, segment, touchpoint : str or list, optional
            Filters, as for :func:`filter_customers`.
        sort_by : str, optional
            As ``by`` of :func:`sort_customers` (default :func:`default_sort`).
        ascending : bool, optional
            As for :func:`sort_customers`.
        page : int, default 0
            0-based page; clamped to the pages there are.
        page_size : int, default 25
            Rows per page.
        group : {None, "reachable", "likely_gone"}, optional
            As for :meth:`order`.
        reach_threshold : float, default 0.05
            As for :meth:`order`.

        Returns
        -------
        CustomerPage
            The rows of the page and where it is.
        """
        ordered = self.order(
            risk_band=risk_band,
            stage=stage,
            segment=segment,
            touchpoint=touchpoint,
            sort_by=sort_by,
            ascending=ascending,
            group=group,
            reach_threshold=reach_threshold,
        )
        rows, page, n_pages = paginate(ordered, page=page, page_size=page_size)
        return CustomerPage(
            rows=self.table.iloc[rows],
            n_matching=len(ordered),
            n_total=len(self.table),
            page=page,
            n_pages=n_pages,
            page_size=int(page_size),
        )
