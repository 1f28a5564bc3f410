"""Measured uplift: the realised drop-off of the treated against the control group."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml._intervals import newcombe_interval
from cjml.campaign._record import Campaign, as_campaign
from cjml.exceptions import CampaignError
from cjml.i18n import (
    current,
    format_currency,
    format_date,
    format_number,
    format_percent,
    format_points,
    format_tenths,
    label_text,
    language,
    ngettext,
)
from cjml.i18n import gettext as _
from cjml.io._write import write_atomic, write_csv

__all__ = ["EFFECT_COLUMNS", "FEW", "UpliftReport", "measure_campaign", "newcombe_interval"]

#: Fewer customers than this in either arm: the row is flagged ``few``.
FEW = 30
#: The columns of :attr:`UpliftReport.effects`, in order.
EFFECT_COLUMNS = (
    "group",
    "value",
    "n_treated",
    "n_control",
    "dropoff_treated",
    "dropoff_control",
    "reduction",
    "reduction_low",
    "reduction_high",
    "nnt",
    "cost_per_retained",
    "predicted_reduction",
    "few",
)
_GROUPS = ("touchpoint", "risk_band", "segment")


def _read_log(events, journey_map):
    from cjml.events import EventLog, read_events

    if isinstance(events, EventLog):
        return events
    return read_events(events, journey_map=journey_map)


def _active(campaign: Campaign, log, end: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Per assigned customer: whether they had an event in (cutoff, end], not counting
    events of their intended touchpoint or of outbound touchpoints, and no churn event
    (a cancellation) there; and whether they appear in the log at all."""
    from cjml.io._files import _ids_like

    table = campaign.assignments
    ids = _ids_like(
        table["customer_id"].to_numpy(dtype=object),
        log.customer_ids,
        f"campaign {campaign.campaign_id}",
    )
    position = pd.Index(log.customer_ids).get_indexer(pd.Index(ids))
    present = position >= 0
    start_ns, end_ns = campaign.cutoff.value, end.value
    ts = log.timestamps_ns
    in_window = (ts > start_ns) & (ts <= end_ns)
    if log.activity_mask is not None:  # nor is anything else the business sent (outbound)
        in_window &= log.activity_mask
    codes = log.customer_codes[in_window]
    touch = np.asarray(log.frame["touchpoint"].astype(object))[in_window]
    # the intended touchpoint per log customer (-1: not assigned)
    owner = np.full(len(log.customer_ids), -1, dtype=np.int64)
    owner[position[present]] = np.flatnonzero(present)
    row = owner[codes]
    mine = row >= 0
    intended = table["touchpoint"].to_numpy(dtype=object)
    # the delivery of the campaign's touchpoint is not the customer's activity; the rule
    # holds for both arms, so the comparison stays fair when control customers get the
    # same touchpoint on their own
    counts = mine.copy()
    counts[mine] = touch[mine] != intended[row[mine]]
    active = np.zeros(len(table), dtype=bool)
    active[row[counts]] = True
    if log.churn_mask is not None:  # a cancellation in the window is a drop-off, as in the labels
        left = mine & log.churn_mask[in_window]
        active[row[left]] = False
    return active, present


def measure_campaign(
    campaign_or_manifest_path: Campaign | str | Path,
    events,
    *,
    level: float = 0.9,
    by: Sequence[str] = _GROUPS,
    journey_map=None,
) -> UpliftReport:
    """Measure what a campaign did: realised drop-off of the treated against the control group.

    A customer dropped off when they have no event in (cutoff, cutoff +
    horizon], not counting events of the touchpoint the campaign meant for
    them (its delivery is not the customer's activity; the rule holds for
    both arms, so that control customers who get that touchpoint on their own
    are counted alike). Customers of the campaign absent from the events count
    as dropped off. Since the arms were assigned at random, the difference of
    the drop-off rates estimates the campaign's average effect on the treated.

    Parameters
    ----------
    campaign_or_manifest_path : Campaign or str or Path
        A :class:`Campaign`, or its manifest (checked by :func:`read_campaign`).
    events : EventLog, DataFrame, str or path
        The event log after the campaign, covering (cutoff, cutoff + horizon],
        with the same customer ids; a log that also holds earlier events is fine.
    level : float, default 0.9
        Coverage of the intervals.
    by : sequence of str, default ("touchpoint", "risk_band", "segment")
        The assignments' columns to break the effect down by, after the
        overall row; a column without values (segment, when the export had
        none) is skipped.
    journey_map : JourneyMap, optional
        Passed to :func:`cjml.read_events` when ``events`` is not an EventLog.

    Returns
    -------
    UpliftReport
        The effects per group with intervals, the number needed to treat, the
        cost per customer retained and the predicted reduction beside the
        realised one.

    Raises
    ------
    CampaignError
        When the events end before cutoff + horizon (the message gives the
        date it can run from), or hold none of the campaign's customers (a
        different log), or start after the campaign's cutoff.
    """
    if not 0 < float(level) < 1:
        raise ValueError(f"level={level!r} must be between 0 and 1, e.g. 0.9.")
    campaign = as_campaign(campaign_or_manifest_path)
    log = _read_log(events, journey_map)
    from cjml.labels import _data_end

    end = campaign.cutoff + campaign.horizon
    data_end = _data_end(log, None)
    if data_end < end:
        # the log covers whole days up to its last event's: the horizon's last day is needed
        run_from = end.ceil("D")
        error = CampaignError(
            f"Campaign {campaign.campaign_id} cannot be measured yet: its horizon ends on "
            f"{end.date()} (cutoff {campaign.cutoff.date()} + {campaign.horizon.days} days), "
            f"but the events end on {(data_end - pd.Timedelta(days=1)).date()}. It can run "
            f"from {run_from.date()}, with events up to "
            f"{(run_from - pd.Timedelta(days=1)).date()}."
        )
        error.can_run_from = run_from
        raise error
    first = pd.Timestamp(int(log.timestamps_ns.min()), tz="UTC")
    if first > campaign.cutoff.floor("D") + pd.Timedelta(days=1):
        raise CampaignError(
            f"The events start on {first.date()}, after campaign {campaign.campaign_id}'s "
            f"cutoff {campaign.cutoff.date()}: the window from the cutoff is not covered. "
            "Give events from the cutoff on (earlier events may stay)."
        )
    active, present = _active(campaign, log, end)
    if not present.any():
        raise CampaignError(
            f"None of the {len(present):,} customers of campaign {campaign.campaign_id} appear "
            "in the events: they are from another log, or the ids were renamed. Give the "
            "events of the same customers (with --columns if the id column has another name)."
        )
    table = campaign.assignments.assign(dropped=~active)
    rows = [_effect(table, "all", "all", level)]
    for column in by:
        if column not in _GROUPS:
            raise ValueError(f"by={column!r}: choose among {list(_GROUPS)!r}.")
        values = table[column]
        if values.isna().all():
            continue
        for value in _ordered(values.dropna().unique(), column):
            rows.append(_effect(table[values == value], column, value, level))
    effects = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))
    info = {
        "campaign_id": campaign.campaign_id,
        "cutoff": campaign.cutoff,
        "horizon": campaign.horizon,
        "end": end,
        "data_end": data_end,
        "level": float(level),
        "manifest": str(campaign.path),
        "n_absent": int((~present).sum()),
        "n_customers": len(table),
    }
    return UpliftReport(effects=effects, info=info)


def _ordered(values: np.ndarray, column: str) -> list:
    if column == "risk_band":
        from cjml.campaign._export import RISK_BANDS

        return [b for b in RISK_BANDS if b in set(values)]
    return sorted(values, key=str)


def _effect(table: pd.DataFrame, group: str, value, level: float) -> dict[str, Any]:
    treated = table["arm"] == "treatment"
    control = table["arm"] == "control"
    n_t, n_c = int(treated.sum()), int(control.sum())
    k_t = int(table.loc[treated, "dropped"].sum())
    k_c = int(table.loc[control, "dropped"].sum())
    d, low, high = (float(x) for x in newcombe_interval(k_c, n_c, k_t, n_t, level))
    excludes_zero = bool(np.isfinite(low) and (low > 0 or high < 0))
    nnt = 1 / d if excludes_zero and d != 0 else float("nan")
    cost = pd.to_numeric(table.loc[treated, "cost"], errors="coerce")
    known = len(cost) > 0 and bool(cost.notna().all())
    per_retained = float(cost.mean()) * nnt if known and nnt > 0 else float("nan")
    predicted = pd.to_numeric(table.loc[treated, "expected_risk_reduction"], errors="coerce")
    return {
        "group": group,
        "value": value,
        "n_treated": n_t,
        "n_control": n_c,
        "dropoff_treated": k_t / n_t if n_t else float("nan"),
        "dropoff_control": k_c / n_c if n_c else float("nan"),
        "reduction": d,
        "reduction_low": low,
        "reduction_high": high,
        "nnt": nnt,
        "cost_per_retained": per_retained,
        "predicted_reduction": float(predicted.mean()) if predicted.notna().any() else np.nan,
        "few": min(n_t, n_c) < FEW,
    }


def _points(x: float) -> str:
    """A signed difference of probabilities in points, one decimal ("-9.5 points")."""
    if not np.isfinite(x):
        return "\u2013"
    return _("{points} points").format(points=format_tenths([x * 100])[0])


_CSS = (
    ".cjml-uplift table{border-collapse:collapse;font-size:13px}"
    ".cjml-uplift th,.cjml-uplift td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    ".cjml-uplift th:first-child,.cjml-uplift td:first-child{text-align:left}"
    ".cjml-uplift .few{color:#777}"
)


@dataclass
class UpliftReport:
    """The measured effect of a campaign, overall and per group, beside what was predicted.

    Parameters
    ----------
    effects : DataFrame
        One row per group level, the overall row first, then per touchpoint,
        risk band and segment: ``group, value, n_treated, n_control,
        dropoff_treated, dropoff_control, reduction`` (control drop-off minus
        treated: positive when the touchpoint kept customers),
        ``reduction_low, reduction_high`` (Newcombe's hybrid score interval at
        ``info["level"]``), ``nnt`` (customers treated per customer kept,
        1 / reduction, when the interval excludes zero; negative: per customer
        lost), ``cost_per_retained`` (mean unit cost of the treated x nnt,
        when every cost is known and the touchpoint helped),
        ``predicted_reduction`` (the mean expected risk reduction the
        recommender gave the treated) and ``few`` (either arm under 30).
    info : dict
        ``campaign_id, cutoff, horizon, end`` (cutoff + horizon),
        ``data_end, level, manifest, n_absent`` (campaign customers without
        any event in the log) and ``n_customers``.
    """

    effects: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The effects table, a copy.

        Returns
        -------
        DataFrame
            See :attr:`effects`.
        """
        return self.effects.copy()

    def to_csv(self, path, *, force: bool = False) -> Path:
        """Write the effects to CSV for spreadsheets: formula-safe, UTF-8 with BOM, atomic.

        Parameters
        ----------
        path : str or Path
            The ``.csv`` file.
        force : bool, default False
            Replace an existing file; without it an existing file is an error.

        Returns
        -------
        Path
            The file written.
        """
        frame = self.to_frame()
        frame.insert(0, "campaign_id", self.info.get("campaign_id"))
        frame["level"] = self.info.get("level")
        return write_csv(frame, path, force=force)

    def to_html(self, path, *, force: bool = False, lang: str | None = None) -> Path:
        """Write the report as a self-contained HTML page.

        Parameters
        ----------
        path : str or Path
            The ``.html`` file.
        force : bool, default False
            Replace an existing file; without it an existing file is an error.
        lang : {"en", "vi"}, optional
            The page's language; default the current one.

        Returns
        -------
        Path
            The file written.
        """
        page = self.html_page(lang)
        return write_atomic(
            path,
            lambda tmp: Path(tmp).write_text(page, encoding="utf-8"),
            force=force,
            suffixes=(".html",),
        )

    def html_page(self, lang: str | None = None) -> str:
        """The report as a complete HTML page.

        Parameters
        ----------
        lang : {"en", "vi"}, optional
            The page's language; default the current one.

        Returns
        -------
        str
            The page, with no external resources.
        """
        if lang is not None:
            with language(lang):
                return self.html_page()
        title = _("Measured uplift of campaign {campaign_id}").format(
            campaign_id=self.info.get("campaign_id", "")
        )
        return (
            f"<!DOCTYPE html><html lang='{current().language}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h2>{html.escape(title)}</h2>{self._repr_html_()}</body></html>"
        )

    # -- words
    def _headline(self) -> str:
        i = self.info
        return _(
            "Campaign {campaign_id}: drop-off within {days} days after {cutoff} (to {end}), "
            "{customers} customers; intervals at {level}."
        ).format(
            campaign_id=i["campaign_id"],
            days=format_number(pd.Timedelta(i["horizon"]).days),
            cutoff=format_date(i["cutoff"]),
            end=format_date(i["end"]),
            customers=format_number(i["n_customers"]),
            level=format_percent(i["level"], 0),
        )

    def _verdict(self) -> str:
        row = self.effects.iloc[0]
        if not np.isfinite(row.reduction_low):
            return _("Not measurable: an arm is empty.")
        if row.reduction_low > 0:
            text = _(
                "The campaign lowered drop-off by {points} (between {low} and {high}); "
                "{nnt} customers treated per customer kept."
            )
        elif row.reduction_high < 0:
            text = _(
                "The campaign raised drop-off by {points} (between {low} and {high} lower): "
                "it lost customers."
            )
        else:
            text = _(
                "No clear effect: the reduction of drop-off is {signed}, between {low} and "
                "{high}, an interval that includes no effect."
            )
        return text.format(
            points=format_points(abs(row.reduction)),
            signed=_points(row.reduction),
            low=_points(row.reduction_low),
            high=_points(row.reduction_high),
            nnt=format_number(row.nnt, 1) if np.isfinite(row.nnt) else "\u2013",
        )

    def _value_text(self, group: str, value) -> str:
        if group == "all":
            return _("All customers")
        if group == "risk_band":
            return {
                "low": _("lowest third of risk"),
                "middle": _("middle third of risk"),
                "high": _("highest third of risk"),
            }.get(str(value), str(value))
        if group == "touchpoint":
            return label_text(value)
        return str(value)

    def _cells(self, row) -> list[str]:
        def pct(x: float) -> str:
            return format_percent(x) if np.isfinite(x) else "\u2013"

        def money(x: float) -> str:
            return format_currency(x) if np.isfinite(x) else "\u2013"

        return [
            self._value_text(row.group, row.value),
            format_number(row.n_treated),
            format_number(row.n_control),
            pct(row.dropoff_treated),
            pct(row.dropoff_control),
            _points(row.reduction),
            _("{low} to {high}").format(
                low=_points(row.reduction_low), high=_points(row.reduction_high)
            ),
            format_number(row.nnt, 1) if np.isfinite(row.nnt) else "\u2013",
            money(row.cost_per_retained),
            _points(row.predicted_reduction),
        ]

    def _header(self) -> list[str]:
        return [
            _("Group"),
            _("Treated"),
            _("Control"),
            _("Drop-off, treated"),
            _("Drop-off, control"),
            _("Reduction"),
            _("Interval ({level})").format(level=format_percent(self.info["level"], 0)),
            _("Treated per customer kept"),
            _("Cost per customer kept"),
            _("Predicted reduction"),
        ]

    def to_text(self) -> str:
        """The report in plain text, for terminals and logs.

        Returns
        -------
        str
            The headline, the verdict and one line per group.
        """
        lines = [self._headline(), self._verdict()]
        header = self._header()
        rows = []
        for row in self.effects.itertuples(index=False):
            cells = self._cells(row)
            if row.few:
                cells[0] += " *"
            rows.append(cells)
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
        for cells in [header, *rows]:
            lines.append(
                "  "
                + "  ".join(
                    str(c).ljust(w) if i == 0 else str(c).rjust(w)
                    for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                )
            )
        if self.effects["few"].any():
            lines.append(self._few_note())
        if self.info.get("n_absent"):
            lines.append(self._absent_note())
        return "\n".join(lines)

    def _few_note(self) -> str:
        return _(
            "Rows marked * have fewer than {few} customers in an arm: their intervals are wide."
        ).format(few=FEW)

    def _absent_note(self) -> str:
        n = int(self.info["n_absent"])
        return ngettext(
            "{n} customer of the campaign has no event in the log at all: counted as dropped "
            "off. If the log leaves out whole groups of customers, give the complete log.",
            "{n} customers of the campaign have no event in the log at all: counted as dropped "
            "off. If the log leaves out whole groups of customers, give the complete log.",
            n,
        ).format(n=format_number(n))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._header())
        body = []
        for row in self.effects.itertuples(index=False):
            cells = self._cells(row)
            if row.few:
                cells[0] += " *"
            klass = " class='few'" if row.few else ""
            body.append(
                f"<tr{klass}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
            )
        parts = [
            f"<div class='cjml-uplift'><style>{_CSS}</style>",
            f"<p>{html.escape(self._headline())}</p>",
            f"<p><strong>{html.escape(self._verdict())}</strong></p>",
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        ]
        if self.effects["few"].any():
            parts.append(f"<p>{html.escape(self._few_note())}</p>")
        if self.info.get("n_absent"):
            parts.append(f"<p>{html.escape(self._absent_note())}</p>")
        parts.append(
            "<p>"
            + html.escape(
                _(
                    "Reduction: drop-off of the control group minus that of the treated, in "
                    "points; positive when the touchpoint kept customers. Predicted: what the "
                    "recommender expected for the same treated customers."
                )
            )
            + "</p></div>"
        )
        return "".join(parts)
