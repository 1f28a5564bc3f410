"""The marketer's panel as ipywidgets: layout and wiring only.

Every number comes from :mod:`cjml.panel._data`; this module turns it into
widgets and HTML and calls back into it when a marketer clicks. It is imported
only when a panel is built, so ``import cjml`` never imports ipywidgets.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
from pathlib import Path

import ipywidgets as W
import pandas as pd

from cjml.panel._data import (
    NO_TOUCHPOINT,
    CustomerPage,
    CustomerProfile,
    PanelData,
    label,
    pct,
    points,
    what_if,
)

__all__ = ["MarketerPanel"]

_log = logging.getLogger("cjml.panel")
_PAGE_SIZES = (10, 25, 50, 100)
_ALL = ""
_SORTS = (
    ("Churn risk, highest first", "churn_risk:desc"),
    ("Churn risk, lowest first", "churn_risk:asc"),
    ("Expected reduction, largest first", "expected_risk_reduction:desc"),
    ("Next-stage probability, highest first", "next_stage_proba:desc"),
    ("Journey stage", "stage:asc"),
    ("Customer id", "customer_id:asc"),
)
_BAND_COLORS = {"very high": "#b2182b", "high": "#ef8a62", "medium": "#f4c542", "low": "#67a9cf"}
_DOWNLOAD_LIMIT = 5 * 2**20  # bigger exports are offered as a file path only
_GRID = "90px 110px 110px 78px 86px 150px 150px 92px 92px minmax(200px, 1fr)"
_HEADERS = (
    "Customer",
    "Segment",
    "Stage",
    "Churn risk",
    "Band",
    "Next stage",
    "Recommended",
    "Exp. reduction",
    "Decision",
    "Top drivers",
)

_CSS = """
<style>
.cjml-panel {font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222;}
.cjml-panel .cjml-title {font-size: 1.35em; font-weight: 600; margin: 0;}
.cjml-panel .cjml-sub {color: #666; font-size: 0.9em;}
.cjml-error {background: #fdecea; border-left: 4px solid #b2182b; padding: 6px 10px;
             color: #7a1020; font-size: 0.92em;}
.cjml-notice {background: #eef6ee; border-left: 4px solid #2ca02c; padding: 6px 10px;
              font-size: 0.92em;}
.cjml-cards {display: flex; gap: 10px; flex-wrap: wrap; margin: 4px 0 8px;}
.cjml-card {border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 14px; min-width: 150px;}
.cjml-card b {display: block; font-size: 1.45em;}
.cjml-card span {color: #666; font-size: 0.85em;}
.cjml-table {border-collapse: collapse; font-size: 0.88em; margin: 4px 0 10px;}
.cjml-table th, .cjml-table td {border-bottom: 1px solid #e6e6e6; padding: 3px 8px;
                                text-align: right;}
.cjml-table th {background: #f5f5f5;}
.cjml-table .l {text-align: left;}
.cjml-row {display: grid; grid-template-columns: GRID; gap: 6px; align-items: center;
           font-size: 0.88em; line-height: 1.25;}
.cjml-row > div {overflow: hidden; text-overflow: ellipsis; white-space: nowrap;}
.cjml-row.cjml-head {font-weight: 600; color: #444; border-bottom: 1px solid #ccc;}
.cjml-chip {border-radius: 9px; padding: 0 7px; color: white; font-size: 0.85em;}
.cjml-bar {display: flex; align-items: center; gap: 6px; font-size: 0.86em; margin: 2px 0;}
.cjml-bar .name {width: 150px; text-align: right; color: #333;}
.cjml-bar .fill {height: 12px; background: #1f77b4; border-radius: 2px;}
.cjml-empty {color: #555; padding: 18px; border: 1px dashed #ccc; text-align: center;
             font-size: 0.95em;}
.cjml-risk {font-size: 2em; font-weight: 600;}
.cjml-whatif-result {font-size: 1.05em; padding: 6px 0;}
.cjml-whatif-risk {font-weight: 700; font-size: 1.3em;}
</style>
""".replace("GRID", _GRID)


def _guarded(method):
    """Run a callback; show any error in the panel's error box, never as a traceback."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._clear_error()
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # the panel's contract: errors go to the error box
            _log.debug("panel callback failed", exc_info=True)
            self.show_error(exc)
            return None

    return wrapper


def _esc(value) -> str:
    return html.escape(
        "\u2013" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    )


def _chip(band) -> str:
    if band is None or (not isinstance(band, str) and pd.isna(band)):
        return "\u2013"
    color = _BAND_COLORS.get(str(band), "#888")
    return f"<span class='cjml-chip' style='background:{color}'>{_esc(label(band))}</span>"


def _bars(items, *, fmt) -> str:
    """Horizontal HTML bars: ``items`` is a list of (name, value, share of the widest)."""
    top = max([v for _, v in items] + [1e-12])
    out = []
    for name, value in items:
        width = max(1, int(220 * value / top)) if value > 0 else 0
        out.append(
            f"<div class='cjml-bar'><div class='name'>{_esc(name)}</div>"
            f"<div class='fill' style='width:{width}px'></div><div>{fmt(value)}</div>"
            "</div>"
        )
    return "".join(out)


def _table(headers, rows, align_left=(0,), cls="cjml-table") -> str:
    head = "".join(
        f"<th class='{'l' if i in align_left else ''}'>{_esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td class='{'l' if i in align_left else ''}'>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _button(description, *, style="", icon="", tooltip="", width=None):
    b = W.Button(description=description, button_style=style, icon=icon, tooltip=tooltip)
    b.layout.width = width or "auto"  # the default width cuts long labels
    return b


class MarketerPanel(W.VBox):
    """The marketer's panel: overview, at-risk list, customer view and actions.

    Built by :func:`cjml.panel`; display it in a notebook or a Voilà page. The
    widgets are attributes (``risk_band``, ``stage``, ``segment``,
    ``touchpoint``, ``sort``, ``whatif``, ``export_button``...), so a script
    or a test can drive it as a person would.

    Parameters
    ----------
    data : PanelData
        Everything the panel shows.
    page_size : int, default 25
        Rows per page of the at-risk list.
    export_path : str or Path, default "approved_actions.csv"
        Where the action list is exported to, unless changed in the panel.
    """

    def __init__(self, data: PanelData, *, page_size=25, export_path="approved_actions.csv"):
        self.data = data
        self.page: CustomerPage | None = None
        self.profile: CustomerProfile | None = None
        self._page_number = 0
        self._confirm_action: str | None = None
        self.error = W.HTML(layout=W.Layout(display="none"))
        self.error.add_class("cjml-error")
        self.notice = W.HTML(layout=W.Layout(display="none"))
        self.notice.add_class("cjml-notice")
        header = W.HTML(self._header_html())
        self.tabs = W.Tab()
        overview = self._build_overview()
        at_risk = self._build_list(page_size)
        customer = self._build_customer()
        actions = self._build_actions(export_path)
        self.tabs.children = [overview, at_risk, customer, actions]
        self.tabs.titles = ("Overview", "At-risk list", "Customer", "Actions")
        super().__init__([W.HTML(_CSS), header, self.error, self.notice, self.tabs])
        self.add_class("cjml-panel")
        self.refresh_list()
        self._refresh_actions()

    # ------------------------------------------------------------------ messages
    def show_error(self, exc) -> None:
        """Show an error in the panel's error box (instead of a traceback).

        Parameters
        ----------
        exc : Exception or str
            What went wrong.
        """
        text = str(exc) if isinstance(exc, str) else (f"{exc}" if str(exc) else type(exc).__name__)
        self.error.value = f"<b>That did not work.</b> {_esc(text)}"
        self.error.layout.display = None

    def _clear_error(self) -> None:
        self.error.value = ""
        self.error.layout.display = "none"

    def _notify(self, text: str) -> None:
        self.notice.value = _esc(text)
        self.notice.layout.display = None

    def _header_html(self) -> str:
        d = self.data
        cut = d.cutoff.strftime("%d %b %Y")
        return (
            f"<div class='cjml-title'>Customer journeys: who is about to drop off</div>"
            f"<div class='cjml-sub'>{len(d.table):,} customers scored as of {cut}"
            f" \u00b7 journey map '{_esc(d.log.journey_map.name)}'"
            + (f" \u00b7 segment column '{_esc(d.segment_col)}'" if d.segment_col else "")
            + "</div>"
        )

    # ------------------------------------------------------------------ overview
    def _build_overview(self):
        d, ov = self.data, self.data.overview
        at_risk = int(
            ov.bands.loc[ov.bands["risk_band"].isin(["high", "very high"]), "customers"].sum()
        )
        cards = [
            ("customers scored", f"{ov.n_customers:,}"),
            ("high or very high risk", f"{at_risk:,} ({pct(at_risk / max(ov.n_customers, 1), 0)})"),
            ("mean churn risk", pct(ov.mean_risk)),
            ("with a recommended touchpoint", f"{ov.n_with_recommendation:,}"),
            ("not scored (inactive)", f"{ov.n_not_scored:,}"),
        ]
        self.overview_cards = W.HTML(
            "<div class='cjml-cards'>"
            + "".join(
                f"<div class='cjml-card'><b>{v}</b><span>{_esc(k)}</span></div>" for k, v in cards
            )
            + "</div>"
        )
        hist = ov.risk_histogram
        risk_html = "<h4>Churn risk distribution</h4>" + _bars(
            [
                (f"{100 * a:.0f}\u2013{100 * b:.0f}%", n)
                for a, b, n in zip(
                    hist["bin_start"], hist["bin_end"], hist["customers"], strict=True
                )
            ],
            fmt=lambda v: f"{int(v):,}",
        )
        band_html = "<h4>Customers per risk band</h4>" + _bars(
            [
                (label(b), n)
                for b, n in zip(
                    ov.bands["risk_band"][::-1], ov.bands["customers"][::-1], strict=True
                )
            ],
            fmt=lambda v: f"{int(v):,}",
        )
        tp_html = "<h4>Customers per recommended touchpoint</h4>" + _bars(
            [
                (label(t) if t != NO_TOUCHPOINT else "no recommendation", n)
                for t, n in zip(
                    ov.touchpoints["touchpoint"], ov.touchpoints["customers"], strict=True
                )
            ],
            fmt=lambda v: f"{int(v):,}",
        )
        self.overview_risk = W.HTML(risk_html + band_html)
        self.overview_touchpoints = W.HTML(tp_html)
        self.overview_funnel = W.Image(format="png", layout=W.Layout(max_width="560px"))
        self.overview_stages = W.HTML()
        self.overview_opportunities = W.HTML()
        report = d.report
        if report is None:
            self.overview_stages.value = (
                "<div class='cjml-empty'>No journey map: the panel "
                "was opened with report=None.</div>"
            )
        else:
            self._draw_funnel(report)
            rows = [
                [
                    f"<b>{_esc(label(r.stage))}</b>",
                    f"{int(r.reached):,}",
                    pct(r.reached_share, 0),
                    pct(r.conversion),
                    pct(r.drop_off),
                    _esc(
                        ", ".join(label(x) for x in str(r.missing_touchpoints).split(", "))
                        if isinstance(getattr(r, "missing_touchpoints", None), str)
                        else "\u2013"
                    ),
                ]
                for r in report.stages.itertuples(index=False)
            ]
            self.overview_stages.value = "<h4>Funnel and drop-off per stage</h4>" + _table(
                ("Stage", "Reached", "Share", "Conversion", "Drop-off", "Missing touchpoints"),
                rows,
                align_left=(0, 5),
            )
            opp = report.opportunities
            if opp is None or opp.empty:
                self.overview_opportunities.value = (
                    "<h4>Missing-touchpoint opportunities</h4><div class='cjml-empty'>None "
                    "found: no stage has a helpful touchpoint that is rarely used.</div>"
                )
            else:
                rows = [
                    [
                        _esc(label(r.stage)),
                        _esc(label(r.touchpoint)),
                        f"{int(r.customers):,}",
                        points(r.mean_risk_reduction),
                        pct(r.current_use),
                        "\u2691 missing" if r.missing else "",
                    ]
                    for r in opp.itertuples(index=False)
                ]
                self.overview_opportunities.value = (
                    "<h4>Missing-touchpoint opportunities</h4><div class='cjml-sub'>Flagged: a "
                    "touchpoint that would lower the risk most in the stage but is rarely used "
                    "there.</div>"
                    + _table(
                        (
                            "Stage",
                            "Touchpoint",
                            "Customers",
                            "Mean risk reduction",
                            "Current use",
                            "",
                        ),
                        rows,
                        align_left=(0, 1, 5),
                    )
                )
        left = W.VBox(
            [self.overview_funnel, self.overview_stages, self.overview_opportunities],
            layout=W.Layout(width="60%"),
        )
        right = W.VBox(
            [self.overview_risk, self.overview_touchpoints], layout=W.Layout(width="40%")
        )
        return W.VBox([self.overview_cards, W.HBox([left, right])])

    def _draw_funnel(self, report) -> None:
        from matplotlib.figure import Figure

        from cjml.panel._plots import png_bytes

        ax = Figure(figsize=(6.5, 3.6), layout="constrained").subplots()
        report.plot_funnel(ax=ax)
        ax.set_yticks(ax.get_yticks(), [label(t.get_text()) for t in ax.get_yticklabels()])
        self.overview_funnel.value = png_bytes(ax)

    # ------------------------------------------------------------------ the list
    def _build_list(self, page_size):
        opts = self.data.customers.options()
        self.risk_band = W.Dropdown(
            options=[("All risk bands", _ALL)] + [(label(b), b) for b in opts["risk_band"][::-1]],
            value=_ALL,
            description="Risk band",
        )
        self.stage = W.Dropdown(
            options=[("All stages", _ALL)] + [(label(s), s) for s in opts["stage"]],
            value=_ALL,
            description="Stage",
        )
        seg_name = label(self.data.segment_col) if self.data.segment_col else "Segment"
        self.segment = W.Dropdown(
            options=[(f"All ({seg_name.lower()})", _ALL)]
            + [(label(s), s) for s in opts["segment"]],
            value=_ALL,
            description=seg_name,
        )
        if not self.data.segment_col:
            self.segment.layout.display = "none"
        self.touchpoint = W.Dropdown(
            options=[("All touchpoints", _ALL)]
            + [
                (label(t) if t != NO_TOUCHPOINT else "No recommendation", t)
                for t in opts["touchpoint"]
            ],
            value=_ALL,
            description="Recommended",
        )
        self.sort = W.Dropdown(options=list(_SORTS), value=_SORTS[0][1], description="Sort by")
        self.page_size = W.Dropdown(
            options=[(str(n), n) for n in _PAGE_SIZES],
            value=page_size if page_size in _PAGE_SIZES else 25,
            description="Per page",
        )
        for w in (
            self.risk_band,
            self.stage,
            self.segment,
            self.touchpoint,
            self.sort,
            self.page_size,
        ):
            w.style.description_width = "100px"
            w.layout.width = "330px"
            w.observe(self._on_filter, names="value")
        self.clear_filters = _button("Clear filters", icon="times")
        self.clear_filters.on_click(self._on_clear_filters)

        self.list_header = W.HTML(
            "<div class='cjml-row cjml-head'>"
            + "".join(f"<div>{h}</div>" for h in _HEADERS)
            + "</div>"
        )
        self.list_empty = W.HTML(
            "<div class='cjml-empty'>No customers match these filters. "
            "Widen them, or clear them.</div>",
            layout=W.Layout(display="none"),
        )
        self.row_checks, self.row_html, self.row_open, self.row_boxes = [], [], [], []
        for _ in range(max(_PAGE_SIZES)):  # a fixed pool: paging only changes values
            check = W.Checkbox(value=False, indent=False, layout=W.Layout(width="26px"))
            cell = W.HTML(layout=W.Layout(width="100%"))
            opener = _button("Open", icon="user", width="80px", tooltip="Open the customer view")
            opener.on_click(self._on_open_row)
            opener.add_class("cjml-open")
            self.row_checks.append(check)
            self.row_html.append(cell)
            self.row_open.append(opener)
            box = W.HBox(
                [check, opener, cell], layout=W.Layout(display="none", align_items="center")
            )
            self.row_boxes.append(box)
        self.prev_button = _button("Previous", icon="chevron-left")
        self.next_button = _button("Next", icon="chevron-right")
        self.prev_button.on_click(self._on_prev)
        self.next_button.on_click(self._on_next)
        self.page_caption = W.HTML()
        self.select_page = W.Checkbox(
            value=False, description="Select the whole page", indent=False
        )
        self.select_page.observe(self._on_select_page, names="value")
        self.approve_selected = _button("Approve selected", style="success", icon="check")
        self.skip_selected = _button("Skip selected", icon="forward")
        self.approve_matching = _button(
            "Approve all matching", style="success", icon="check-double"
        )
        self.skip_matching = _button("Skip all matching", icon="forward")
        self.approve_selected.on_click(self._on_approve_selected)
        self.skip_selected.on_click(self._on_skip_selected)
        self.approve_matching.on_click(self._on_approve_matching)
        self.skip_matching.on_click(self._on_skip_matching)
        self.confirm_text = W.HTML()
        self.confirm_yes = _button("Confirm", style="warning")
        self.confirm_no = _button("Cancel")
        self.confirm_yes.on_click(self._on_confirm)
        self.confirm_no.on_click(self._on_cancel)
        self.confirm_box = W.HBox(
            [self.confirm_text, self.confirm_yes, self.confirm_no], layout=W.Layout(display="none")
        )
        filters = W.VBox(
            [
                W.HBox([self.risk_band, self.stage, self.segment]),
                W.HBox([self.touchpoint, self.sort, self.page_size, self.clear_filters]),
            ]
        )
        pager = W.HBox(
            [self.prev_button, self.page_caption, self.next_button],
            layout=W.Layout(align_items="center"),
        )
        bulk = W.HBox(
            [
                self.select_page,
                self.approve_selected,
                self.skip_selected,
                self.approve_matching,
                self.skip_matching,
            ]
        )
        header = W.HBox(
            [W.HTML(layout=W.Layout(width="110px")), self.list_header],
            layout=W.Layout(width="100%"),
        )
        self.list_header.layout.width = "100%"
        return W.VBox(
            [filters, pager, bulk, self.confirm_box, header, self.list_empty, *self.row_boxes]
        )

    def _filters(self) -> dict:
        return {
            "risk_band": self.risk_band.value or None,
            "stage": self.stage.value or None,
            "segment": self.segment.value or None,
            "touchpoint": self.touchpoint.value or None,
        }

    def _sort(self) -> tuple[str, bool]:
        key, direction = self.sort.value.split(":")
        return key, direction == "asc"

    @_guarded
    def _on_filter(self, change=None):
        self._page_number = 0
        self.refresh_list()

    @_guarded
    def _on_clear_filters(self, _=None):
        with self.hold_trait_notifications():
            for w in (self.risk_band, self.stage, self.segment, self.touchpoint):
                w.unobserve(self._on_filter, names="value")
                w.value = _ALL
                w.observe(self._on_filter, names="value")
        self._page_number = 0
        self.refresh_list()

    @_guarded
    def _on_prev(self, _=None):
        self._page_number = max(0, self._page_number - 1)
        self.refresh_list()

    @_guarded
    def _on_next(self, _=None):
        self._page_number += 1
        self.refresh_list()

    def go_to_page(self, page: int) -> None:
        """Show a page of the at-risk list (0-based; clamped to the pages there are).

        Parameters
        ----------
        page : int
            The page.
        """
        self._page_number = int(page)
        self.refresh_list()

    def refresh_list(self) -> None:
        """Query the current page and show it; only its rows reach the browser."""
        key, ascending = self._sort()
        page = self.data.customers.query(
            **self._filters(),
            sort_by=key,
            ascending=ascending,
            page=self._page_number,
            page_size=self.page_size.value,
        )
        self.page = page
        self._page_number = page.page
        self.page_caption.value = f"<span style='padding:0 10px'>{_esc(page.caption())}</span>"
        self.prev_button.disabled = page.page == 0
        self.next_button.disabled = page.page >= page.n_pages - 1
        self.list_empty.layout.display = None if page.is_empty else "none"
        for b in (self.approve_matching, self.skip_matching):
            b.disabled = page.is_empty
        self.approve_matching.description = f"Approve all matching ({page.n_matching:,})"
        self.skip_matching.description = f"Skip all matching ({page.n_matching:,})"
        rows = page.rows
        decisions = self.data.actions.decisions(rows["customer_id"]).to_numpy()
        seg = self.data.segment_col
        for i, box in enumerate(self.row_boxes):
            if i >= len(rows):
                box.layout.display = "none"
                self.row_checks[i].value = False
                continue
            r = rows.iloc[i]
            cells = [
                _esc(r["customer_id"]),
                _esc(label(r[seg]) if seg else "\u2013"),
                _esc(label(r["stage"])),
                f"<b>{pct(r['churn_risk'])}</b>",
                _chip(r["risk_band"]),
                _esc(f"{label(r.get('next_stage'))} ({pct(r.get('next_stage_proba'), 0)})"),
                _esc(label(r["recommended_touchpoint"])),
                _esc(points(r["expected_risk_reduction"])),
                _esc(label(decisions[i]) if decisions[i] else "\u2013"),
                f"<span title='{_esc(r['top_drivers'])}'>{_esc(r['top_drivers'])}</span>",
            ]
            self.row_html[i].value = (
                "<div class='cjml-row'>" + "".join(f"<div>{c}</div>" for c in cells) + "</div>"
            )
            self.row_open[i].tooltip = f"Open customer {r['customer_id']}"
            self.row_checks[i].value = False
            box.layout.display = None
        self.select_page.value = False

    def _row_index(self, button) -> int:
        return self.row_open.index(button)

    @_guarded
    def _on_open_row(self, button):
        i = self._row_index(button)
        self.open_customer(self.page.rows["customer_id"].iloc[i])

    @_guarded
    def _on_select_page(self, change):
        for i in range(len(self.page.rows) if self.page is not None else 0):
            self.row_checks[i].value = bool(change["new"])

    def selected_ids(self) -> list:
        """The customers ticked on the current page.

        Returns
        -------
        list
            Their ids.
        """
        if self.page is None:
            return []
        ids = self.page.rows["customer_id"].tolist()
        return [ids[i] for i in range(len(ids)) if self.row_checks[i].value]

    @_guarded
    def _on_approve_selected(self, _=None):
        ids = self.selected_ids()
        if not ids:
            raise ValueError("Tick one or more customers first (or use Approve all matching).")
        self._approve(self.data.rows_of(ids))

    @_guarded
    def _on_skip_selected(self, _=None):
        ids = self.selected_ids()
        if not ids:
            raise ValueError("Tick one or more customers first (or use Skip all matching).")
        n = self.data.actions.skip(ids, by=self._user())
        self._after_decision(f"Skipped {n:,} customers.")

    def _matching_rows(self) -> pd.DataFrame:
        key, ascending = self._sort()
        order = self.data.customers.order(**self._filters(), sort_by=key, ascending=ascending)
        return self.data.table.iloc[order]

    @_guarded
    def _on_approve_matching(self, _=None):
        n = self.page.n_matching
        self._ask(
            f"Approve the recommended touchpoint for all {n:,} matching customers?", "approve"
        )

    @_guarded
    def _on_skip_matching(self, _=None):
        self._ask(f"Skip all {self.page.n_matching:,} matching customers?", "skip")

    def _ask(self, question: str, action: str) -> None:
        self._confirm_action = action
        self.confirm_text.value = f"<b style='padding-right:8px'>{_esc(question)}</b>"
        self.confirm_box.layout.display = None

    @_guarded
    def _on_confirm(self, _=None):
        action, self._confirm_action = self._confirm_action, None
        self.confirm_box.layout.display = "none"
        rows = self._matching_rows()
        if action == "approve":
            self._approve(rows)
        elif action == "skip":
            n = self.data.actions.skip(rows["customer_id"].to_numpy(), by=self._user())
            self._after_decision(f"Skipped {n:,} customers.")

    @_guarded
    def _on_cancel(self, _=None):
        self._confirm_action = None
        self.confirm_box.layout.display = "none"

    def _approve(self, rows: pd.DataFrame) -> None:
        n = self.data.actions.approve(rows, by=self._user())
        left = len(rows) - n
        text = f"Approved {n:,} recommendations."
        if left:
            text += f" {left:,} customers have no recommended touchpoint and were left out."
        self._after_decision(text)

    def _after_decision(self, text: str) -> None:
        self._notify(text)
        self.refresh_list()
        self._refresh_actions()
        if self.profile is not None:
            self._show_decision()

    # ------------------------------------------------------------------ one customer
    def _build_customer(self):
        # continuous_update=False: the value arrives on Enter or when the box loses focus
        self.customer_id = W.Text(
            placeholder="customer id",
            description="Customer",
            continuous_update=False,
            layout=W.Layout(width="260px"),
        )
        self.customer_id.style.description_width = "70px"
        self.customer_id.add_class("cjml-customer-id")
        self.open_button = _button("Open", icon="search")
        self.open_button.on_click(self._on_open_typed)
        self.customer_id.observe(self._on_id_typed, names="value")
        self.customer_empty = W.HTML(
            "<div class='cjml-empty'>Pick a customer in the at-risk "
            "list (Open), or type an id above.</div>"
        )
        self.customer_summary = W.HTML()
        self.customer_summary.add_class("cjml-customer-summary")
        self.next_stage_html = W.HTML()
        self.drivers_html = W.HTML()
        self.timeline = W.Image(format="png", layout=W.Layout(max_width="900px"))
        self.recommendations_html = W.HTML()
        self.whatif = W.Dropdown(description="What if", options=[], layout=W.Layout(width="560px"))
        self.whatif.style.description_width = "70px"
        self.whatif.add_class("cjml-whatif")
        self.whatif.observe(self._on_whatif, names="value")
        self.whatif_result = W.HTML()
        self.whatif_result.add_class("cjml-whatif-result")
        self.note = W.Text(placeholder="note (optional): why", layout=W.Layout(width="300px"))
        self.approve_button = _button("Approve recommended", style="success", icon="check")
        self.override_button = _button(
            "Approve the what-if touchpoint instead", style="warning", icon="exchange-alt"
        )
        self.skip_button = _button("Skip", icon="forward")
        self.reset_button = _button("Undo decision", icon="undo")
        self.approve_button.on_click(self._on_approve_customer)
        self.override_button.on_click(self._on_override_customer)
        self.skip_button.on_click(self._on_skip_customer)
        self.reset_button.on_click(self._on_reset_customer)
        self.decision_html = W.HTML()
        self.customer_body = W.VBox(
            [
                self.customer_summary,
                W.HBox(
                    [
                        W.VBox([self.next_stage_html], layout=W.Layout(width="45%")),
                        W.VBox([self.drivers_html], layout=W.Layout(width="55%")),
                    ]
                ),
                self.timeline,
                self.recommendations_html,
                W.HTML("<h4>What if: re-scored risk for any eligible touchpoint</h4>"),
                self.whatif,
                self.whatif_result,
                W.HTML("<h4>Decision</h4>"),
                self.decision_html,
                W.HBox(
                    [
                        self.note,
                        self.approve_button,
                        self.override_button,
                        self.skip_button,
                        self.reset_button,
                    ]
                ),
            ],
            layout=W.Layout(display="none"),
        )
        return W.VBox(
            [W.HBox([self.customer_id, self.open_button]), self.customer_empty, self.customer_body]
        )

    @_guarded
    def _on_open_typed(self, _=None):
        text = self.customer_id.value.strip()
        if not text:
            raise ValueError("Type a customer id first.")
        self.open_customer(text)

    @_guarded
    def _on_id_typed(self, change):
        text = str(change["new"]).strip()
        if text and (self.profile is None or text != str(self.profile.customer_id)):
            self.open_customer(text)

    def open_customer(self, customer_id) -> None:
        """Show one customer in the customer view (and switch to it).

        The customer's full profile, including the expected risk after every
        eligible touchpoint, is computed here, so the what-if selector answers
        at once.

        Parameters
        ----------
        customer_id : int or str
            The customer.
        """
        try:
            profile = self.data.profile(customer_id)
        except Exception as exc:
            self.show_error(exc)
            return
        self._clear_error()
        self.profile = profile
        p = profile
        self.customer_id.unobserve(self._on_id_typed, names="value")
        self.customer_id.value = str(p.customer_id)
        self.customer_id.observe(self._on_id_typed, names="value")
        seg = (
            f" \u00b7 {label(self.data.segment_col)}: {_esc(label(p.segment))}"
            if self.data.segment_col
            else ""
        )
        self.customer_summary.value = (
            f"<div class='cjml-sub'>Customer <b>{_esc(p.customer_id)}</b>{seg} \u00b7 stage "
            f"<b>{_esc(label(p.stage))}</b> \u00b7 as of {p.cutoff:%d %b %Y}</div>"
            f"<div><span class='cjml-risk'>{pct(p.churn_risk)}</span> churn risk "
            f"{_chip(p.risk_band)}</div><div class='cjml-sub'>"
            f"{_esc(p.reason[:1].upper() + p.reason[1:])}</div>"
        )
        probs = p.next_stage
        self.next_stage_html.value = "<h4>Next stage in the horizon</h4>" + _bars(
            [(label(s), float(v)) for s, v in probs.items()], fmt=lambda v: pct(v)
        )
        drivers = "".join(f"<li>{_esc(t)}</li>" for t in p.drivers) or (
            "<li>No single driver stands out.</li>"
        )
        self.drivers_html.value = f"<h4>Why: the top drivers of the risk</h4><ul>{drivers}</ul>"
        self._draw_timeline(p)
        if p.recommendations.empty:
            self.recommendations_html.value = (
                "<h4>Recommended touchpoints</h4><div class='cjml-empty'>No allowed touchpoint "
                "is expected to lower this customer's risk.</div>"
            )
        else:
            rows = [
                [
                    f"{r.rank:.0f}",
                    _esc(label(r.touchpoint)),
                    pct(r.expected_risk),
                    _esc(points(r.risk_reduction)),
                    f"{r.cost:,.2f}",
                ]
                for r in p.recommendations.itertuples(index=False)
            ]
            self.recommendations_html.value = "<h4>Recommended touchpoints</h4>" + _table(
                ("#", "Touchpoint", "Risk after", "Expected reduction", "Cost"),
                rows,
                align_left=(1,),
            )
        options = [(self._option_label(r), r.touchpoint) for r in p.options.itertuples(index=False)]
        first = (
            p.recommendations["touchpoint"].iloc[0]
            if not p.recommendations.empty
            else (options[0][1] if options else None)
        )
        self.whatif.unobserve(self._on_whatif, names="value")
        try:
            self.whatif.options = options
            self.whatif.value = first
        finally:
            self.whatif.observe(self._on_whatif, names="value")
        self.whatif.disabled = not options
        self.override_button.disabled = not options
        self.approve_button.disabled = p.recommendations.empty
        self._show_whatif()
        self._show_decision()
        self.customer_empty.layout.display = "none"
        self.customer_body.layout.display = None
        self.tabs.selected_index = 2

    @staticmethod
    def _option_label(r) -> str:
        how = "lower" if r.risk_reduction >= 0 else "higher"
        text = (
            f"{label(r.touchpoint)}: risk {pct(r.expected_risk)} "
            f"({points(abs(r.risk_reduction))} {how}), cost {r.cost:,.2f}"
        )
        return text if r.allowed else f"{text} \u2013 not allowed: {r.blocked_by}"

    def _draw_timeline(self, p: CustomerProfile) -> None:
        from cjml.panel._plots import plot_timeline, png_bytes

        ax = plot_timeline(p.timeline, stages=self.data.log.journey_map.stages, cutoff=p.cutoff)
        self.timeline.value = png_bytes(ax)

    @_guarded
    def _on_whatif(self, change=None):
        self._show_whatif()

    def _show_whatif(self) -> None:
        p, tp = self.profile, self.whatif.value
        if p is None or tp is None:
            self.whatif_result.value = (
                "<div class='cjml-empty'>No eligible touchpoint for this customer's stage.</div>"
            )
            return
        w = what_if(p, tp)
        change = w.risk_reduction
        arrow = "#2ca02c" if change > 0 else "#b2182b" if change < 0 else "#666"
        blocked = (
            f"<div class='cjml-sub'>Not allowed by the rules: {_esc(w.blocked_by)}</div>"
            if not w.allowed
            else ""
        )
        self.whatif_result.value = (
            f"<div>Churn risk now <b>{pct(w.baseline_risk)}</b> \u2192 with "
            f"{_esc(label(w.touchpoint).lower())}: <span class='cjml-whatif-risk' "
            f"style='color:{arrow}'>{pct(w.expected_risk)}</span> "
            f"({_esc(points(abs(change)))} {'lower' if change >= 0 else 'higher'}) "
            f"\u00b7 cost {w.cost:,.2f}</div>{blocked}"
        )

    def _show_decision(self) -> None:
        p = self.profile
        if p is None:  # no customer open yet
            return
        frame = self.data.actions.to_frame()
        hit = frame[frame["customer_id"].astype(object) == p.customer_id]
        if hit.empty:
            self.decision_html.value = "<div class='cjml-sub'>No decision yet.</div>"
            return
        r = hit.iloc[-1]
        what = label(r["decision"])
        if r["decision"] != "skipped":
            what += f": {label(r['touchpoint'])}"
        self.decision_html.value = (
            f"<div><b>{_esc(what)}</b> by {_esc(r['decided_by'])} at {_esc(r['decided_at'])}</div>"
        )

    @_guarded
    def _on_approve_customer(self, _=None):
        rows = self.data.rows_of([self.profile.customer_id])
        if rows.empty:  # opened by id but outside the scored population
            p = self.profile
            rows = pd.DataFrame(
                {
                    "customer_id": [p.customer_id],
                    "churn_risk": [p.churn_risk],
                    "recommended_touchpoint": [p.recommendations["touchpoint"].iloc[0]],
                    "expected_risk_reduction": [p.recommendations["risk_reduction"].iloc[0]],
                }
            )
        n = self.data.actions.approve(rows, by=self._user(), note=self.note.value or None)
        if not n:
            raise ValueError(
                "This customer has no recommended touchpoint to approve; choose "
                "one in the what-if selector and approve it instead."
            )
        self._after_decision(
            f"Approved the recommendation for customer {self.profile.customer_id}."
        )

    @_guarded
    def _on_override_customer(self, _=None):
        p = self.profile
        w = what_if(p, self.whatif.value)
        if not w.allowed:
            raise ValueError(
                f"{label(w.touchpoint)} is not allowed for this customer: {w.blocked_by}."
            )
        self.data.actions.override(
            p.customer_id,
            w.touchpoint,
            expected_risk_reduction=w.risk_reduction,
            baseline_risk=p.churn_risk,
            note=self.note.value or None,
            by=self._user(),
        )
        self._after_decision(
            f"Approved {label(w.touchpoint).lower()} for customer "
            f"{p.customer_id} instead of the recommendation."
        )

    @_guarded
    def _on_skip_customer(self, _=None):
        self.data.actions.skip(
            [self.profile.customer_id], by=self._user(), note=self.note.value or None
        )
        self._after_decision(f"Skipped customer {self.profile.customer_id}.")

    @_guarded
    def _on_reset_customer(self, _=None):
        self.data.actions.reset([self.profile.customer_id])
        self._after_decision(f"Cleared the decision on customer {self.profile.customer_id}.")

    # ------------------------------------------------------------------ actions
    def _build_actions(self, export_path):
        self.user = W.Text(
            value=self.data.actions.user or "",
            placeholder="your name",
            description="Approved by",
            layout=W.Layout(width="320px"),
        )
        self.user.style.description_width = "90px"
        self.actions_summary = W.HTML()
        self.actions_table = W.HTML()
        self.export_path = W.Text(
            value=str(export_path), description="File", layout=W.Layout(width="420px")
        )
        self.export_path.style.description_width = "90px"
        self.export_force = W.Checkbox(
            value=False, description="Replace the file if it exists", indent=False
        )
        self.export_button = _button(
            "Export approved actions (CSV)", style="primary", icon="download"
        )
        self.export_button.on_click(self._on_export)
        self.export_status = W.HTML()
        return W.VBox(
            [
                self.user,
                self.actions_summary,
                self.actions_table,
                W.HTML(
                    "<h4>Export for the campaign team</h4><div class='cjml-sub'>UTF-8 CSV that "
                    "Excel opens as is; cells that could run as spreadsheet formulas are "
                    "escaped; an existing file is never replaced unless you tick the box."
                    "</div>"
                ),
                W.HBox([self.export_path, self.export_force]),
                self.export_button,
                self.export_status,
            ]
        )

    def _user(self) -> str | None:
        return self.user.value.strip() or None

    def _refresh_actions(self) -> None:
        counts = self.data.actions.counts()
        self.actions_summary.value = (
            "<div class='cjml-cards'>"
            + "".join(
                f"<div class='cjml-card'><b>{counts[k]:,}</b><span>{k}</span></div>"
                for k in ("approved", "overridden", "skipped")
            )
            + "</div>"
        )
        approved = self.data.actions.approved()
        if approved.empty:
            self.actions_table.value = (
                "<div class='cjml-empty'>No approved actions yet: "
                "approve recommendations in the at-risk list or the "
                "customer view.</div>"
            )
            return
        shown = approved.tail(50).iloc[::-1]
        rows = [
            [
                _esc(r.customer_id),
                _esc(label(r.touchpoint)),
                _esc(points(r.expected_risk_reduction)),
                _esc(r.reason),
                _esc(r.approved_by),
                _esc(r.approved_at),
            ]
            for r in shown.itertuples(index=False)
        ]
        more = (
            f"<div class='cjml-sub'>The latest 50 of {len(approved):,} approved actions.</div>"
            if len(approved) > 50
            else ""
        )
        self.actions_table.value = more + _table(
            (
                "Customer",
                "Touchpoint",
                "Expected reduction",
                "Reason",
                "Approved by",
                "Approved at",
            ),
            rows,
            align_left=(1, 3, 4),
        )

    @_guarded
    def _on_export(self, _=None):
        path = Path(self.export_path.value.strip() or "approved_actions.csv").expanduser()
        if path.exists() and not self.export_force.value:
            raise ValueError(
                f"{path} already exists and was left untouched. Choose another "
                "file name, or tick 'Replace the file if it exists'."
            )
        written = self.data.actions.export_csv(
            path, force=self.export_force.value, inputs=self.data.inputs
        )
        n = len(self.data.actions.approved())
        link = ""
        size = written.stat().st_size
        if size <= _DOWNLOAD_LIMIT:  # a browser download too, for Voilà users
            data = base64.b64encode(written.read_bytes()).decode("ascii")
            link = (
                f" <a download='{_esc(written.name)}' href='data:text/csv;base64,{data}'>"
                "Download it</a>"
            )
        self.export_status.value = (
            f"<div class='cjml-notice'>Wrote {n:,} approved actions to "
            f"<code>{_esc(written.resolve())}</code>.{link}</div>"
        )
        self.export_force.value = False
