"""The overview view: the risk distribution and the customers per band, stage and touchpoint.

:func:`overview_data` counts the customer table into an :class:`Overview`;
the journey map beside it comes from :func:`cjml.journey_map`, read for
people by :func:`funnel_data` (converted, dropped off and still pending per
stage, shares that add up to 100%, each explained in a sentence) and
:func:`opportunities_data` (missing touchpoints: positive, not uncertain
reductions only; :func:`flag_rule` says what the flag means).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjml.i18n import fill, format_number, format_percent, label_text
from cjml.i18n import gettext as _
from cjml.panel._data._common import NO_TOUCHPOINT, pct

__all__ = [
    "Overview",
    "flag_rule",
    "funnel_data",
    "funnel_notes",
    "opportunities_data",
    "overview_data",
]

#: The flag of a missing touchpoint in the overview.
FLAG = "\u2691"


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
    total_expected_value : float, default NaN
        Sum of the customers' expected value over the horizon (NaN when the
        scores have no values: a bundle without a value model).
    total_value_at_risk : float, default NaN
        Sum of the value at risk: what drop-off is expected to cost.
    total_value_saved : float, default NaN
        Sum of the expected value saved by each customer's first-ranked
        touchpoint, net of its cost (alternatives are never added to it).
    top_value_saved : DataFrame or None, default None
        The customers whose first-ranked touchpoint saves the most value:
        ``customer_id, recommended_touchpoint, expected_value_saved,
        expected_value, value_at_risk, churn_risk``, most first (None without
        values).
    touchpoints_without_cost : tuple of str, default ()
        First-ranked touchpoints with no unit cost: their customers have no
        value saved (it is net of cost), so they are not in the two above.
    """

    n_customers: int
    n_not_scored: int
    mean_risk: float
    n_with_recommendation: int
    bands: pd.DataFrame
    touchpoints: pd.DataFrame
    stages: pd.DataFrame
    risk_histogram: pd.DataFrame
    total_expected_value: float = float("nan")
    total_value_at_risk: float = float("nan")
    total_value_saved: float = float("nan")
    top_value_saved: pd.DataFrame | None = None
    touchpoints_without_cost: tuple[str, ...] = ()


#: The columns of :attr:`Overview.top_value_saved`.
TOP_VALUE_COLUMNS = (
    "customer_id",
    "recommended_touchpoint",
    "expected_value_saved",
    "expected_value",
    "value_at_risk",
    "churn_risk",
)


def _value_facts(table: pd.DataFrame, top: int) -> dict:
    """The overview's value numbers and its top customers by value saved (none without values)."""
    facts: dict = {}
    for name, column in (
        ("total_expected_value", "expected_value"),
        ("total_value_at_risk", "value_at_risk"),
        ("total_value_saved", "expected_value_saved"),  # the first rank only: one per customer
    ):
        if column in table.columns:
            facts[name] = float(np.nansum(table[column].to_numpy(dtype=float)))
    if "expected_value_saved" in table.columns:
        saved = table["expected_value_saved"].to_numpy(dtype=float)
        known = np.flatnonzero(~np.isnan(saved))
        if "recommended_touchpoint" in table.columns:
            chosen = table["recommended_touchpoint"]
            no_cost = chosen[chosen.notna().to_numpy() & np.isnan(saved)]
            facts["touchpoints_without_cost"] = tuple(sorted({str(t) for t in no_cost}))
        order = known[np.argsort(-saved[known], kind="stable")]  # ties keep the table order
        rows = table.iloc[order[: int(top)]]
        facts["top_value_saved"] = pd.DataFrame(
            {
                c: (rows[c].astype(object) if c == "recommended_touchpoint" else rows[c])
                if c in rows.columns
                else np.nan
                for c in TOP_VALUE_COLUMNS
            }
        ).reset_index(drop=True)
    return facts


def _counts(column: pd.Series, risk: np.ndarray, name: str) -> pd.DataFrame:
    codes = column.cat.codes.to_numpy()
    k = len(column.cat.categories)
    n = np.bincount(codes + 1, minlength=k + 1)[1:]
    total = np.bincount(codes + 1, weights=risk, minlength=k + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    frame = pd.DataFrame(
        {
            name: column.cat.categories.tolist(),
            "customers": n,
            "share": n / max(len(column), 1),
            "mean_risk": mean,
        }
    )
    return frame[frame["customers"] > 0].reset_index(drop=True)


def overview_data(
    table: pd.DataFrame, *, n_not_scored: int = 0, bins: int = 10, top: int = 10
) -> Overview:
    """Risk distribution and counts per risk band, stage and recommended touchpoint.

    When the scores have values (a bundle with a value model), the overview
    also totals the expected value, the value at risk and the value saved,
    and lists the customers whose first-ranked touchpoint saves the most.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`customer_table`.
    n_not_scored : int, default 0
        Customers left out of the table (reported, not counted).
    bins : int, default 10
        Equal-width bins of the risk histogram over [0, 1].
    top : int, default 10
        Customers listed in :attr:`Overview.top_value_saved`.

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
    tps = pd.DataFrame(
        {
            "touchpoint": tp.cat.categories.tolist(),
            "customers": counts[1:],
            "share": counts[1:] / max(n, 1),
            "mean_expected_reduction": means[1:],
        }
    )
    tps = tps[tps["customers"] > 0].sort_values(
        ["customers", "touchpoint"], ascending=[False, True], kind="stable"
    )
    if counts[0]:
        tps = pd.concat(
            [
                tps,
                pd.DataFrame(
                    {
                        "touchpoint": [NO_TOUCHPOINT],
                        "customers": [counts[0]],
                        "share": [counts[0] / max(n, 1)],
                        "mean_expected_reduction": [np.nan],
                    }
                ),
            ]
        )
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    hist = np.histogram(np.clip(risk, 0, 1), bins=edges)[0]
    return Overview(
        n_customers=n,
        n_not_scored=int(n_not_scored),
        mean_risk=float(risk.mean()) if n else float("nan"),
        n_with_recommendation=int(n - counts[0]),
        bands=bands,
        touchpoints=tps.reset_index(drop=True),
        stages=stages,
        risk_histogram=pd.DataFrame(
            {"bin_start": edges[:-1], "bin_end": edges[1:], "customers": hist}
        ),
        **_value_facts(table, top),
    )


def funnel_data(stages: pd.DataFrame) -> pd.DataFrame:
    """Per stage of the funnel: who moved on, dropped off or is still pending, as shares.

    Of the customers who reached a stage (their furthest stage is it or a
    later one), each either *converted* (reached the next stage), *dropped
    off* (went silent with this stage as their furthest) or is *still
    pending* (still active with this stage as their furthest: the outcome is
    not known yet). The three shares add up to 1. The last stage has no next
    one: its customers dropped off or are still active (``converted_share``
    is NaN).

    Parameters
    ----------
    stages : DataFrame
        :attr:`cjml.JourneyMapReport.stages` (``stage, reached, converted,
        pending, went_silent``, in journey order).

    Returns
    -------
    DataFrame
        ``stage, reached, converted_share, dropped_share, pending_share,
        note`` (``note``: one sentence that reads the row, in the current
        language); shares NaN for a stage nobody reached.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel._data._overview import funnel_data
    >>> f = funnel_data(pd.DataFrame({"stage": ["visit", "trial"], "reached": [4, 2],
    ...     "converted": [2, None], "pending": [1, 0], "went_silent": [1, 1]}))
    >>> f[["converted_share", "dropped_share", "pending_share"]].to_numpy().tolist()
    [[0.5, 0.25, 0.25], [nan, 0.5, 0.5]]
    """
    reached = stages["reached"].to_numpy(dtype=float)
    converted = pd.to_numeric(stages["converted"], errors="coerce").to_numpy(dtype=float)
    silent = stages["went_silent"].to_numpy(dtype=float)
    last = np.arange(len(stages)) == len(stages) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        converted_share = np.where(last, np.nan, converted / reached)
        dropped_share = silent / reached
        # the rest: pending (still active, furthest stage here); in the last stage, active
        pending_share = (reached - np.nan_to_num(converted) * ~last - silent) / reached
    names = [label_text(x) for x in stages["stage"]]
    notes = []
    for i, name in enumerate(names):
        if not reached[i]:
            notes.append(_("No customer reached {stage}.").format(stage=name))
        elif last[i]:
            notes.append(
                _(
                    "Of the {reached} customers who reached {stage}, the last stage, {dropped} "
                    "dropped off and {pending} are still active."
                ).format(
                    reached=format_number(reached[i]),
                    stage=name,
                    dropped=pct(dropped_share[i]),
                    pending=pct(pending_share[i]),
                )
            )
        else:
            notes.append(
                _(
                    "Of the {reached} customers who reached {stage}, {converted} moved on to "
                    "{next}, {dropped} dropped off here and {pending} are still pending."
                ).format(
                    reached=format_number(reached[i]),
                    stage=name,
                    next=names[i + 1],
                    converted=pct(converted_share[i]),
                    dropped=pct(dropped_share[i]),
                    pending=pct(pending_share[i]),
                )
            )
    return pd.DataFrame(
        {
            "stage": stages["stage"].to_numpy(),
            "reached": stages["reached"].to_numpy(),
            "converted_share": converted_share,
            "dropped_share": dropped_share,
            "pending_share": pending_share,
            "note": notes,
        }
    )


def funnel_notes() -> dict[str, str]:
    """One sentence for each share of :func:`funnel_data`, and one for their sum.

    Returns
    -------
    dict
        ``converted, dropped, pending, total`` to a sentence in the current
        language, for the funnel table's headers and footnote.
    """
    return {
        "converted": _(
            "Converted: of the customers who reached the stage, the share who went on to "
            "reach the next one."
        ),
        "dropped": _(
            "Dropped off: the share who went silent (no event for the prediction horizon) "
            "with this stage the furthest they reached."
        ),
        "pending": _(
            "Still pending: the share who are still active with this stage the furthest they "
            "reached, so their outcome is not known yet (in the last stage, the customers "
            "still active)."
        ),
        "total": _(
            "For each stage, the three shares add up to 100% of the customers who reached it."
        ),
    }


def opportunities_data(opportunities: pd.DataFrame | None) -> pd.DataFrame:
    """The missing-touchpoint rows worth showing: positive, not uncertain reductions.

    Parameters
    ----------
    opportunities : DataFrame or None
        :attr:`cjml.JourneyMapReport.opportunities` (``stage, touchpoint,
        customers, mean_risk_reduction, current_use, missing`` and, with
        intervals, ``uncertain``).

    Returns
    -------
    DataFrame
        The rows with a positive mean risk reduction that is not uncertain,
        flagged ones first within each stage (journey order kept); empty when
        there are none.
    """
    if opportunities is None or opportunities.empty:
        columns = ["stage", "touchpoint", "customers", "mean_risk_reduction", "current_use"]
        return pd.DataFrame(columns=[*columns, "missing"])
    keep = opportunities["mean_risk_reduction"].to_numpy(dtype=float) > 0
    if "uncertain" in opportunities.columns:
        keep &= ~opportunities["uncertain"].to_numpy(dtype=bool)
    rows = opportunities[keep].copy()
    rows["_stage"] = pd.factorize(rows["stage"])[0]
    rows = rows.sort_values(["_stage", "missing"], ascending=[True, False], kind="stable")
    return rows.drop(columns="_stage").reset_index(drop=True)


def flag_rule(low_use: float = 0.1) -> str:
    """What the missing-touchpoint flag means, in one sentence of the current language.

    Parameters
    ----------
    low_use : float, default 0.1
        The report's ``low_use`` (``report.info["low_use"]``).

    Returns
    -------
    str
        The rule, naming the flag and the share of customers below which a
        touchpoint counts as rarely used.
    """
    return fill(
        _(
            "{flag} marks a touchpoint that is expected to lower the drop-off risk in the stage, "
            "with confidence, and ranks in the top half of the stage's touchpoints for it, yet "
            "fewer than {share} of the stage's customers had it recently."
        ),
        flag=FLAG,
        share=format_percent(low_use, 0),
    )
