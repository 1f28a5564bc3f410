"""The marketer's panel as ipywidgets: layout and wiring only.

Every number comes from :mod:`cjml.panel._data`; this module turns it into
widgets and HTML and calls back into it when a marketer clicks. It is imported
only when a panel is built, so ``import cjml`` never imports ipywidgets.

Every view observes the one :class:`~cjml.panel.ActionBook`
(``book.observe``): a decision made by a click anywhere, or through the Python
API (``app.data.actions``), shows in the list, the customer view and the
Actions tab at once. Messages appear beside the control that caused them and
clear at the next action.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd

from cjml.exceptions import NoSupportTicketsError
from cjml.i18n import (
    format_currency,
    format_date,
    format_datetime,
    format_number,
    format_percent,
    label_text,
    ngettext,
)
from cjml.i18n import gettext as _
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
from cjml.panel._data._actions import control_share
from cjml.panel._data._canvas import canvas_note, persona_choices
from cjml.panel._data._common import shown_change, worth
from cjml.panel._data._list import DEFAULT_REACH_THRESHOLD, default_sort
from cjml.panel._data._overview import flag_rule, funnel_data, funnel_notes, opportunities_data

__all__ = ["MarketerPanel"]

_log = logging.getLogger("cjml.panel")
_PAGE_SIZES = (10, 25, 50, 100)
_GONE_ROWS = 25  # the likely-gone group shows this many; the bulk actions skip them all
_ALL = ""
_BAND_COLORS = {"very high": "#b2182b", "high": "#d6604d", "medium": "#b8860b", "low": "#4393c3"}
_DOWNLOAD_LIMIT = 5 * 2**20  # bigger exports are offered as a file path only
# One column template for the list's header and every row, so they line up at any
# width: minimums that keep each word whole (at 934 px, JupyterLab with the file
# browser open, they still fit), shares of the rest beyond them; text wraps, never cut.
# Customer, segment, stage (and next), churn risk (and band), recommended, expected
# reduction, reach, decision, top drivers.
_GRID = (
    "minmax(72px,.6fr) minmax(82px,.8fr) minmax(96px,1fr) minmax(66px,.6fr) "
    "minmax(96px,1fr) minmax(66px,.6fr) minmax(46px,.45fr) minmax(78px,.7fr) "
    "minmax(120px,2fr)"
)
# Narrower than this, the top drivers take a line of their own under each row (the
# header's too), so they wrap to one or two lines rather than five.
_GRID_NARROW = (
    "minmax(72px,.7fr) minmax(82px,1fr) minmax(96px,1.1fr) minmax(66px,.8fr) "
    "minmax(96px,1.2fr) minmax(66px,.8fr) minmax(46px,.6fr) minmax(78px,.9fr)"
)
# With values (a bundle with a value model), three more columns: the value and the value
# at risk after the churn risk, the value saved after the expected reduction.
_GRID_VALUED = (
    "minmax(72px,.6fr) minmax(82px,.8fr) minmax(96px,1fr) minmax(66px,.6fr) "
    "minmax(58px,.5fr) minmax(58px,.5fr) minmax(96px,1fr) minmax(66px,.6fr) "
    "minmax(58px,.5fr) minmax(46px,.45fr) minmax(78px,.7fr) minmax(120px,2fr)"
)
# Narrow, the minimums are those of the longest words (JupyterLab at 1024 px leaves the
# grid about 690 px; the gaps shrink to 4 px).
_GRID_VALUED_NARROW = (
    "minmax(52px,.7fr) minmax(66px,1fr) minmax(80px,1.1fr) minmax(64px,.8fr) "
    "minmax(44px,.6fr) minmax(44px,.6fr) minmax(72px,1.2fr) minmax(56px,.8fr) "
    "minmax(44px,.6fr) minmax(42px,.6fr) minmax(62px,.9fr)"
)
_CHECK_WIDTH, _OPEN_WIDTH = "28px", "84px"


def _headers(segment_name: str, valued: bool = False) -> tuple[str, ...]:
    if valued:
        return (
            _("Customer"),
            segment_name,
            _("Stage, next"),
            _("Churn risk"),
            _("Value"),
            _("Value at risk"),
            _("Recommended"),
            _("Exp. reduction"),
            _("Value saved"),
            _("Reach"),
            _("Decision"),
            _("Top drivers"),
        )
    return (
        _("Customer"),
        segment_name,
        _("Stage, next"),
        _("Churn risk"),
        _("Recommended"),
        _("Exp. reduction"),
        _("Reach"),
        _("Decision"),
        _("Top drivers"),
    )


def _sorts(table: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """The list's orders, the default first: value saved when the table has values."""
    valued = []
    if table is not None and "expected_value_saved" in table.columns:
        valued.append((_("Value saved, most first"), "value_saved:desc"))
    if table is not None and "expected_value" in table.columns:
        valued.append((_("Expected value, highest first"), "expected_value:desc"))
    if table is not None and "value_at_risk" in table.columns:
        valued.append((_("Value at risk, highest first"), "value_at_risk:desc"))
    sorts = [
        (_("Expected customers retained, most first"), "expected_retained:desc"),
        (_("Churn risk, highest first"), "churn_risk:desc"),
        (_("Churn risk, lowest first"), "churn_risk:asc"),
        (_("Expected reduction, largest first"), "expected_risk_reduction:desc"),
        (_("Reach, highest first"), "reach_probability:desc"),
        (_("Next-stage probability, highest first"), "next_stage_proba:desc"),
        (_("Journey stage"), "stage:asc"),
        (_("Customer id"), "customer_id:asc"),
    ]
    options = sorts[:1] + valued + sorts[1:]
    if table is not None:  # the default first
        first = f"{default_sort(table)}:desc"
        options.sort(key=lambda option: option[1] != first)
    return options


# Colours from JupyterLab's theme variables (with fallbacks for Voila and plain
# Notebook), so the panel reads in the light and the dark theme; notices tint the
# background translucently and keep the theme's text colour.
_CSS = """
<style>
.cjml-panel {font-family: var(--jp-ui-font-family, system-ui, -apple-system, 'Segoe UI',
             sans-serif); color: var(--jp-ui-font-color1, #222);
             background: var(--jp-layout-color1, white); max-width: 100%;
             --jp-widgets-horizontal-tab-width: 184px;}  /* "Danh sách có rủi ro" whole */
.cjml-panel .cjml-title {font-size: 1.35em; font-weight: 600; margin: 0;}
.cjml-panel .cjml-sub {color: var(--jp-ui-font-color2, #555); font-size: 0.9em;}
.cjml-panel h4 {color: var(--jp-ui-font-color1, #222); margin: 10px 0 4px;}
.cjml-notice {border-left: 4px solid #2ca02c; background: rgba(44, 160, 44, 0.14);
              color: var(--jp-ui-font-color1, #222); padding: 4px 10px; font-size: 0.92em;
              white-space: normal;}
.cjml-notice.cjml-notice-error {border-left-color: #d62728;
                                background: rgba(214, 39, 40, 0.14);}
.cjml-notice a, .cjml-notice code {color: inherit; overflow-wrap: anywhere;}
.cjml-notice a {text-decoration: underline; font-weight: 600;}
.cjml-confirm {border: 1px solid #e6a23c; background: rgba(230, 162, 60, 0.14);
               padding: 4px 8px; border-radius: 4px; align-items: center;}
.cjml-confirm .widget-html-content {white-space: normal;}
.cjml-cards {display: flex; gap: 10px; flex-wrap: wrap; margin: 4px 0 8px;}
.cjml-card {border: 1px solid var(--jp-border-color2, #e3e3e3); border-radius: 6px;
            padding: 8px 14px; min-width: 130px;}
.cjml-card b {display: block; font-size: 1.45em;}
.cjml-card span {color: var(--jp-ui-font-color2, #555); font-size: 0.85em;}
.cjml-table {border-collapse: collapse; font-size: 0.88em; margin: 4px 0 10px;}
.cjml-table th, .cjml-table td {border-bottom: 1px solid var(--jp-border-color2, #e6e6e6);
                                padding: 3px 8px; text-align: right;}
.cjml-table th {background: var(--jp-layout-color2, #f3f3f3);}
.cjml-table .l {text-align: left;}
.cjml-grid {display: grid; grid-template-columns: GRID; column-gap: 6px; align-items: center;
            font-size: 0.88em; line-height: 1.25; width: 100%; min-width: 0;}
.cjml-grid.cjml-valued {grid-template-columns: VALUED;}
.cjml-cell {min-width: 0; white-space: normal; overflow-wrap: break-word;}
.cjml-list-header .cjml-grid {font-weight: 600; color: var(--jp-ui-font-color1, #333);}
.cjml-list-header {border-bottom: 1px solid var(--jp-border-color1, #bbb);}
.cjml-row {border-bottom: 1px solid var(--jp-border-color3, #eee); align-items: center;}
.cjml-row > .widget-html, .cjml-list-header > .widget-html {flex: 1 1 0%; min-width: 0;
    container-type: inline-size;}
@container (max-width: 1000px) {
  .cjml-grid {grid-template-columns: NARROW;}
  .cjml-grid.cjml-valued {grid-template-columns: VNARROW; column-gap: 4px;}
  .cjml-cell.cjml-drivers {grid-column: 1 / -1; padding: 1px 0 3px;
                           color: var(--jp-ui-font-color2, #555);}
}
.cjml-row > .widget-checkbox, .cjml-list-header > .widget-checkbox,
.cjml-row > .jupyter-button, .cjml-list-header > .jupyter-button {flex: 0 0 auto;}
.cjml-cell .cjml-sub {font-size: 0.95em;}
.cjml-next {display: block;}
.cjml-row .widget-html-content, .cjml-list-header .widget-html-content {
    white-space: normal; line-height: 1.25; width: 100%;}
.cjml-placeholder {visibility: hidden;}
.cjml-chip {border-radius: 9px; padding: 0 7px; color: white; font-size: 0.85em;
            white-space: nowrap; display: inline-block;}
.cjml-uncertain {background: #6a51a3;}
.cjml-bar {display: flex; align-items: center; gap: 6px; font-size: 0.86em; margin: 2px 0;}
.cjml-bar .name {flex: 0 0 130px; text-align: right; overflow-wrap: break-word;}
.cjml-bar .track {flex: 1 1 auto; min-width: 40px;}
.cjml-bar .fill {height: 12px; background: #1f77b4; border-radius: 2px;}
.cjml-bar .num {flex: 0 0 auto; white-space: nowrap;}
.cjml-empty {color: var(--jp-ui-font-color2, #555); padding: 18px; text-align: center;
             border: 1px dashed var(--jp-border-color1, #bbb); font-size: 0.95em;}
.cjml-risk {font-size: 2em; font-weight: 600; white-space: nowrap;}
.cjml-inactive {font-weight: 600; color: #b2182b;}
.cjml-whatif-result {font-size: 1.05em; padding: 6px 0;}
.cjml-whatif-risk {font-weight: 700; font-size: 1.3em; white-space: nowrap;}
.cjml-panel .widget-html-content {white-space: normal;}
.cjml-panel .jupyter-button {flex: 0 0 auto; min-width: max-content; overflow: visible;}
.cjml-panel img {background: white;}
.cjml-canvas {max-width: 100%; min-width: 0; overflow-x: auto; background: white; color: #222;
              border-radius: 6px; padding: 2px 6px;}  /* drawn for paper: light on dark pages too */
.cjml-canvas svg, .cjml-canvas img {max-width: 100%; height: auto;}
.cjml-panel .cjml-canvas h4, .cjml-panel .cjml-canvas h5 {color: #222;}
</style>
""".replace("VNARROW", _GRID_VALUED_NARROW).replace("VALUED", _GRID_VALUED)
_CSS = _CSS.replace("NARROW", _GRID_NARROW).replace("GRID", _GRID)


def _guarded(area: str):
    """Run a callback; show its error beside the control (the ``area``), never as a traceback.

    Every action clears the messages of the last one first.
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            self._clear_messages()
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # the panel's contract: errors go beside their control
                _log.debug("panel callback failed", exc_info=True)
                self.show_error(exc, area=area)
                return None

        return wrapper

    return decorate


def _esc(value) -> str:
    return html.escape(
        "\u2013" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    )


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _chip(band) -> str:
    if _missing(band):
        return "\u2013"
    color = _BAND_COLORS.get(str(band), "#777")
    return f"<span class='cjml-chip' style='background:{color}'>{_esc(label(band))}</span>"


def _uncertain_chip() -> str:
    tip = _("The expected reduction might be no reduction at all; approve it deliberately.")
    word = _esc(_("uncertain"))
    return f"<span class='cjml-chip cjml-uncertain' title='{_esc(tip)}'>{word}</span>"


def _money(value) -> str:
    return "\u2013" if _missing(value) else format_currency(float(value))


def _when(value) -> str:
    return "\u2013" if _missing(value) else format_datetime(pd.Timestamp(value))


def _bars(items, *, fmt) -> str:
    """Horizontal HTML bars: ``items`` is a list of (name, value).

    The largest bar fills its track, and the track leaves room for the number
    beside it at any width.
    """
    top = max([v for _n, v in items] + [1e-12])
    out = []
    for name, value in items:
        width = max(0.5, 100 * value / top) if value > 0 else 0
        out.append(
            f"<div class='cjml-bar'><div class='name'>{_esc(name)}</div>"
            f"<div class='track'><div class='fill' style='width:{width:.1f}%'></div></div>"
            f"<div class='num'>{fmt(value)}</div></div>"
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


def _grid(cells, extra=(), cls: str = "") -> str:
    """One row of the list's grid; ``extra`` maps a cell's position to more classes."""
    extra = dict(extra)
    return (
        f"<div class='{' '.join(['cjml-grid', *([cls] if cls else [])])}'>"
        + "".join(
            f"<div class='cjml-cell {extra.get(i, '')}'>{c}</div>" for i, c in enumerate(cells)
        )
        + "</div>"
    )


def _share_text(share: float) -> str:
    """A control share as people read it: "10%", "12.5%"."""
    whole = abs(share * 100 - round(share * 100)) < 1e-9
    return format_percent(share, 0 if whole else 1)


def _quoted(path: str) -> str:
    """A path as it is typed in a terminal: quoted when it holds spaces or quotes."""
    import shlex

    return shlex.quote(path)


def _button(description, *, style="", icon="", tooltip="", width=None, cls=None):
    b = W.Button(description=description, button_style=style, icon=icon, tooltip=tooltip)
    b.layout.width = width or "auto"  # the default width cuts long labels
    if cls:
        b.add_class(cls)
    return b


def _wrap(children, **layout) -> W.HBox:
    """A row of controls that wraps onto the next line rather than cutting them."""
    return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap", **layout))


def _empty(text: str) -> str:
    """A message in place of a view that has nothing to show."""
    return f"<div class='cjml-empty'>{_esc(text)}</div>"


def _notice() -> W.HTML:
    box = W.HTML(layout=W.Layout(display="none"))
    box.add_class("cjml-notice")
    return box


class _Confirm:
    """A question with Confirm/Cancel beside the control that asked it."""

    def __init__(self, on_yes, on_no):
        self.text = W.HTML(layout=W.Layout(flex="1 1 300px"))
        self.yes = _button(_("Confirm"), style="warning", cls="cjml-confirm-yes")
        self.no = _button(_("Cancel"), cls="cjml-confirm-no")
        self.yes.on_click(on_yes)
        self.no.on_click(on_no)
        self.box = _wrap([self.text, self.yes, self.no], display="none")
        self.box.add_class("cjml-confirm")
        self.action = None

    def ask(self, question: str, action) -> None:
        self.action = action
        self.text.value = f"<b>{_esc(question)}</b>"
        self.box.layout.display = None

    def take(self):
        action, self.action = self.action, None
        self.box.layout.display = "none"
        return action

    def close(self) -> None:
        self.action = None
        self.box.layout.display = "none"


class MarketerPanel(W.VBox):
    """The marketer's panel: overview, at-risk list, customer view and actions.

    Built by :func:`cjml.panel`; display it in a notebook or a Voilà page. The
    widgets are attributes (``risk_band``, ``stage``, ``segment``,
    ``touchpoint``, ``sort``, ``whatif``, ``export_button``...), so a script
    or a test can drive it as a person would. Nothing is decided until the
    marketer clicks (or calls ``app.data.actions``); every view shows the
    decisions of the one book.

    Parameters
    ----------
    data : PanelData
        Everything the panel shows.
    page_size : int, default 25
        Rows per page of the at-risk list.
    export_path : str or Path, default "approved_actions.csv"
        Where the action list is exported to (a file or a folder), unless
        changed in the panel; an existing file is never replaced.
    control : float, str or None, default 0.1
        The share of the approved customers the export holds out as a random
        control group (a campaign, :func:`cjml.export_campaign`), unless
        changed in the panel; None or 0 exports without one.
    """

    def __init__(
        self,
        data: PanelData,
        *,
        page_size=25,
        export_path="approved_actions.csv",
        control=0.1,
    ):
        self.data = data
        self._control = control_share(control)  # checked before any widget is built
        self.page: CustomerPage | None = None
        self.gone_page: CustomerPage | None = None
        self.profile: CustomerProfile | None = None
        self.reach_threshold = float(getattr(data, "reach_threshold", DEFAULT_REACH_THRESHOLD))
        self._page_number = 0
        self.notices = {area: _notice() for area in ("top", "list", "customer", "export")}
        header = W.HTML(self._header_html())
        self.tabs = W.Tab()
        overview = self._build_overview()
        at_risk = self._build_list(page_size)
        customer = self._build_customer()
        actions = self._build_actions(export_path)
        self.tabs.children = [overview, at_risk, customer, actions]
        self.tabs.titles = (_("Overview"), _("At-risk list"), _("Customer"), _("Actions"))
        super().__init__([W.HTML(_CSS), header, self.notices["top"], self.tabs])
        self.add_class("cjml-panel")
        self.refresh_list()
        self._refresh_actions()
        # one source of truth: every view follows the book, whoever changes it
        self._unobserve = data.actions.observe(self._on_book_changed)

    # ------------------------------------------------------------------ messages
    @property
    def list_notice(self) -> W.HTML:
        """The message beside the list's bulk actions."""
        return self.notices["list"]

    @property
    def customer_notice(self) -> W.HTML:
        """The message beside the customer view's decision buttons."""
        return self.notices["customer"]

    @property
    def export_notice(self) -> W.HTML:
        """The message beside the export button."""
        return self.notices["export"]

    def show_error(self, exc, area: str = "top") -> None:
        """Show an error beside the control that caused it (instead of a traceback).

        Parameters
        ----------
        exc : Exception or str
            What went wrong.
        area : {"top", "list", "customer", "export"}, default "top"
            Where: the list's bulk bar, the customer's decision buttons, the
            export button, or the top of the panel.
        """
        text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
        box = self.notices[area]
        box.value = _("That did not work: {reason}").format(reason=_esc(text))
        box.add_class("cjml-notice-error")
        box.layout.display = None

    def _notify(self, text: str, area: str, *, markup: bool = False) -> None:
        box = self.notices[area]
        box.value = text if markup else _esc(text)
        box.remove_class("cjml-notice-error")
        box.layout.display = None

    def _clear_messages(self) -> None:
        for box in self.notices.values():
            box.value = ""
            box.remove_class("cjml-notice-error")
            box.layout.display = "none"

    def _on_book_changed(self) -> None:
        """Show the book's decisions everywhere (called by the book after every change)."""
        try:
            self.refresh_list()
            self._refresh_actions()
            self._show_decision()
        except Exception as exc:  # an observer must not break the caller's decision
            _log.debug("panel refresh failed", exc_info=True)
            self.show_error(exc)

    def _header_html(self) -> str:
        d = self.data
        sub = _("{n} customers scored as of {date}").format(
            n=format_number(len(d.table)), date=format_date(d.cutoff)
        )
        journey = d.log.journey_map.name
        if journey != "default":  # a map of the team's own is worth naming; column names are not
            sub += " \u00b7 " + _("journey map: {journey}").format(journey=journey)
        return (
            f"<div class='cjml-title'>{_esc(_('Customer journeys: who can still be kept'))}"
            f"</div><div class='cjml-sub'>{_esc(sub)}</div>"
        )

    # ------------------------------------------------------------------ overview
    def _build_overview(self):
        d, ov = self.data, self.data.overview
        at_risk = int(
            ov.bands.loc[ov.bands["risk_band"].isin(["high", "very high"]), "customers"].sum()
        )
        cards = [
            (_("customers scored"), format_number(ov.n_customers)),
            (
                _("high or very high risk"),
                _("{n} ({share})").format(
                    n=format_number(at_risk), share=pct(at_risk / max(ov.n_customers, 1), 0)
                ),
            ),
            (_("mean churn risk"), pct(ov.mean_risk)),
            (_("with a recommended touchpoint"), format_number(ov.n_with_recommendation)),
            (_("not scored (inactive)"), format_number(ov.n_not_scored)),
        ]
        if ov.top_value_saved is not None or not pd.isna(ov.total_value_at_risk):
            cards[1:1] = [
                (_("expected value over the horizon"), worth(ov.total_expected_value)),
                (_("value at risk of drop-off"), worth(ov.total_value_at_risk)),
            ]
        self.overview_cards = W.HTML(
            "<div class='cjml-cards'>"
            + "".join(
                f"<div class='cjml-card'><b>{_esc(v)}</b><span>{_esc(k)}</span></div>"
                for k, v in cards
            )
            + "</div>"
        )
        hist = ov.risk_histogram
        count = lambda v: _esc(format_number(int(v)))  # noqa: E731
        risk_html = f"<h4>{_esc(_('Churn risk distribution'))}</h4>" + _bars(
            [
                (f"{pct(a, 0)}\u2013{pct(b, 0)}", n)
                for a, b, n in zip(
                    hist["bin_start"], hist["bin_end"], hist["customers"], strict=True
                )
            ],
            fmt=count,
        )
        band_html = f"<h4>{_esc(_('Customers per risk band'))}</h4>" + _bars(
            [
                (label(b), n)
                for b, n in zip(
                    ov.bands["risk_band"][::-1], ov.bands["customers"][::-1], strict=True
                )
            ],
            fmt=count,
        )
        tp_html = f"<h4>{_esc(_('Customers per recommended touchpoint'))}</h4>" + _bars(
            [
                (label(t) if t != NO_TOUCHPOINT else _("no recommendation"), n)
                for t, n in zip(
                    ov.touchpoints["touchpoint"], ov.touchpoints["customers"], strict=True
                )
            ],
            fmt=count,
        )
        self.overview_risk = W.HTML(risk_html + band_html)
        self.overview_touchpoints = W.HTML(tp_html)
        self.overview_funnel = W.Image(
            format="png",
            layout=W.Layout(max_width="calc(100% - 4px)", width="560px", height="auto"),
        )
        self.overview_stages = W.HTML()
        self.overview_opportunities = W.HTML()
        self.overview_value = W.HTML(self._top_value_html())
        self.overview_value.add_class("cjml-top-value")
        report = d.report
        if report is None:
            self.overview_stages.value = (
                "<div class='cjml-empty'>"
                + _esc(_("No journey map: the panel was opened with report=None."))
                + "</div>"
            )
        else:
            self._draw_funnel(report)
            self._fill_journey_tables(report)
        left = W.VBox(
            [
                self.overview_value,
                self.overview_funnel,
                self.overview_stages,
                self.overview_opportunities,
            ],
            layout=W.Layout(flex="1 1 520px", min_width="0"),
        )
        right = W.VBox(
            [self.overview_risk, self.overview_touchpoints],
            layout=W.Layout(flex="1 1 320px", min_width="0"),
        )
        return W.VBox([self.overview_cards, _wrap([left, right]), self._build_canvas()])

    # ------------------------------------------------------------------ journey canvas
    def _build_canvas(self) -> W.VBox:
        """The journey canvas (with its persona selector) and the support journey, under the
        overview; the panel's data computes each once, the widgets only show them."""
        choices = persona_choices(self.data.personas)
        self._canvas_personas = [persona for _name, persona in choices]
        self.canvas_persona = W.Dropdown(
            options=[(name, i) for i, (name, _persona) in enumerate(choices)],
            value=0,
            description=_("Persona"),
            disabled=len(choices) < 2,
            style={"description_width": "initial"},
        )
        self.canvas_persona.observe(self._on_canvas_persona, names="value")
        self.overview_canvas_note = W.HTML()
        self.overview_canvas_note.add_class("cjml-canvas-note")
        self.overview_canvas = W.HTML()
        self.overview_canvas.add_class("cjml-canvas")
        self.overview_support = W.HTML()
        self.overview_support.add_class("cjml-canvas")
        title = W.HTML(f"<h4>{_esc(_('Journey canvas'))}</h4>")
        self.overview_support_title = W.HTML(f"<h4>{_esc(_('Support journey'))}</h4>")
        self._show_canvas()
        self._show_support()
        self.overview_canvas_section = W.VBox(
            [
                title,
                self.canvas_persona,
                self.overview_canvas_note,
                self.overview_canvas,
                self.overview_support_title,
                self.overview_support,
            ],
            layout=W.Layout(width="100%", min_width="0"),
        )
        return self.overview_canvas_section

    @property
    def canvas_persona_value(self):
        """The persona the canvas shows (None: all customers)."""
        return self._canvas_personas[self.canvas_persona.value]

    def _on_canvas_persona(self, change) -> None:
        self._show_canvas()

    def _show_canvas(self) -> None:
        """Show the selected persona's canvas (an error in its place, never a traceback)."""
        persona = self.canvas_persona_value
        try:
            canvas = self.data.canvas(persona)
            shown = self.data.canvas_html(persona)
        except Exception as exc:  # the panel's contract: errors go beside their control
            _log.debug("journey canvas failed", exc_info=True)
            self.overview_canvas_note.value = ""
            self.overview_canvas.value = _empty(
                _("The journey canvas could not be drawn: {reason}").format(reason=exc)
            )
            return
        self.overview_canvas_note.value = (
            f"<div class='cjml-sub'>{_esc(canvas_note(canvas.info))}</div>"
        )
        self.overview_canvas.value = shown

    def _show_support(self) -> None:
        """Show the support journey (an error in its place, never a traceback)."""
        try:
            self.overview_support.value = self.data.support_html
        except NoSupportTicketsError as exc:  # many journeys have none: not an error
            self.overview_support.value = _empty(
                _(
                    "These events hold no support tickets ({touchpoints}), so there is no "
                    "support journey to draw."
                ).format(touchpoints=", ".join(label_text(t) for t in exc.opened))
            )
        except Exception as exc:  # the panel's contract: errors go beside their control
            _log.debug("support journey failed", exc_info=True)
            self.overview_support.value = _empty(
                _("The support journey could not be drawn: {reason}").format(reason=exc)
            )

    def _top_value_html(self) -> str:
        """The customers whose first-ranked touchpoint saves the most value ("" without values)."""
        ov = self.data.overview
        top = ov.top_value_saved
        if top is None:
            return ""
        title = f"<h4>{_esc(_('Top customers by value saved'))}</h4>"
        without_cost = ""
        if ov.touchpoints_without_cost:
            from cjml.recommend import _no_cost_text

            without_cost = (
                "<div class='cjml-empty'>"
                + _esc(
                    _("Value saved is unknown: {why}.").format(
                        why=_no_cost_text(ov.touchpoints_without_cost)
                    )
                )
                + "</div>"
            )
        if top.empty:
            return title + (
                without_cost
                or "<div class='cjml-empty'>"
                + _esc(_("No customer has a recommended touchpoint yet."))
                + "</div>"
            )
        note = _(
            "Value saved: the expected spend a touchpoint keeps, net of its cost; each "
            "customer counts once, with their first-ranked touchpoint. In all: {saved}."
        ).format(saved=worth(ov.total_value_saved))
        rows = [
            [
                _esc(r.customer_id),
                _esc(label(r.recommended_touchpoint)),
                f"<b>{_esc(worth(r.expected_value_saved))}</b>",
                _esc(worth(r.expected_value)),
                _esc(worth(r.value_at_risk)),
                _esc(pct(r.churn_risk)),
            ]
            for r in top.itertuples(index=False)
        ]
        return (
            title
            + f"<div class='cjml-sub'>{_esc(note)}</div>"
            + _table(
                (
                    _("Customer"),
                    _("Touchpoint"),
                    _("Value saved"),
                    _("Expected value"),
                    _("Value at risk"),
                    _("Churn risk"),
                ),
                rows,
                align_left=(0, 1),
            )
            + without_cost
        )

    def _fill_journey_tables(self, report) -> None:
        # the funnel read for people (converted, dropped off, still pending: shares that add
        # up to 100%) and only the opportunities worth showing, from the headless twin
        missing = {
            r.stage: ", ".join(label(x) for x in str(r.missing_touchpoints).split(", "))
            if isinstance(getattr(r, "missing_touchpoints", None), str)
            else "\u2013"
            for r in report.stages.itertuples(index=False)
        }
        title = f"<h4>{_esc(_('Funnel and drop-off per stage'))}</h4>"
        funnel: Any = funnel_data(report.stages)  # itertuples rows: plain values
        notes = funnel_notes()
        rows = [
            [
                f"<span title='{_esc(r.note)}'><b>{_esc(label(r.stage))}</b></span>",
                _esc(format_number(int(r.reached))),
                _esc(pct(r.converted_share)),
                _esc(pct(r.dropped_share)),
                _esc(pct(r.pending_share)),
                _esc(missing.get(r.stage, "\u2013")),
            ]
            for r in funnel.itertuples(index=False)
        ]
        headers = (
            _("Stage"),
            _("Reached"),
            _("Converted"),
            _("Dropped off"),
            _("Still pending"),
            _("Missing touchpoints"),
        )
        legend = "".join(
            f"<div class='cjml-sub'>{_esc(notes[k])}</div>"
            for k in ("converted", "dropped", "pending", "total")
        )
        self.overview_stages.value = (
            title
            + _table(headers, rows, align_left=(0, 5))
            + legend
            + self._stage_value_html(report)
        )

        title = f"<h4>{_esc(_('Touchpoints that lower the drop-off risk, by stage'))}</h4>"
        low_use = float(report.info.get("low_use", 0.1))
        opp: Any = opportunities_data(report.opportunities)
        rule = flag_rule(low_use)
        if opp is None or opp.empty:
            self.overview_opportunities.value = (
                title
                + "<div class='cjml-empty'>"
                + _esc(
                    _(
                        "None found: no touchpoint lowers the drop-off risk with confidence "
                        "in any stage."
                    )
                )
                + "</div>"
            )
            return
        rows = [
            [
                _esc(label(r.stage)),
                _esc(label(r.touchpoint)),
                _esc(format_number(int(r.customers))),
                _esc(points(r.mean_risk_reduction)),
                _esc(pct(r.current_use)),
                f"<span style='white-space:nowrap'>\u2691 {_esc(_('missing'))}</span>"
                if r.missing
                else "",
            ]
            for r in opp.itertuples(index=False)
        ]
        self.overview_opportunities.value = (
            title
            + f"<div class='cjml-sub'>{_esc(rule)}</div>"
            + _table(
                (
                    _("Stage"),
                    _("Touchpoint"),
                    _("Customers"),
                    _("Mean risk reduction"),
                    _("Current use"),
                    "",
                ),
                rows,
                align_left=(0, 1, 5),
            )
        )

    @staticmethod
    def _stage_value_html(report) -> str:
        """Value and value at risk per current stage, from the journey map ("" without)."""
        value = getattr(report, "value", None)
        if value is None or value.empty:
            return ""
        rows = [
            [
                f"<b>{_esc(label(r.stage))}</b>",
                _esc(format_number(int(r.customers))),
                _esc(worth(r.expected_value)),
                _esc(worth(r.value_at_risk)),
                _esc(pct(r.value_at_risk_share)),
            ]
            for r in value.itertuples(index=False)
        ]
        headers = (
            _("Stage"),
            _("Customers"),
            _("Expected value"),
            _("Value at risk"),
            _("Share of value at risk"),
        )
        return f"<h4>{_esc(_('Value by stage'))}</h4>" + _table(headers, rows)

    def _draw_funnel(self, report) -> None:
        from matplotlib.figure import Figure

        from cjml.panel._plots import png_bytes

        # an explicit light background: the labels stay readable on a dark page
        ax = Figure(figsize=(6.5, 3.6), layout="constrained", facecolor="white").subplots()
        report.plot_funnel(ax=ax)
        ax.set_yticks(ax.get_yticks(), [label(t.get_text()) for t in ax.get_yticklabels()])
        self.overview_funnel.value = png_bytes(ax)

    # ------------------------------------------------------------------ the list
    def _build_list(self, page_size):
        opts = self.data.customers.options()
        self.risk_band = W.Dropdown(
            options=[(_("All risk bands"), _ALL)]
            + [(label(b), b) for b in opts["risk_band"][::-1]],
            value=_ALL,
            description=_("Risk band"),
        )
        self.stage = W.Dropdown(
            options=[(_("All stages"), _ALL)] + [(label(s), s) for s in opts["stage"]],
            value=_ALL,
            description=_("Stage"),
        )
        seg_name = label(self.data.segment_col) if self.data.segment_col else _("Segment")
        self.segment = W.Dropdown(
            options=[(_("All"), _ALL)] + [(label(s), s) for s in opts["segment"]],
            value=_ALL,
            description=seg_name,
        )
        if not self.data.segment_col:
            self.segment.layout.display = "none"
        self.touchpoint = W.Dropdown(
            options=[(_("All touchpoints"), _ALL)]
            + [
                (label(t) if t != NO_TOUCHPOINT else _("No recommendation"), t)
                for t in opts["touchpoint"]
            ],
            value=_ALL,
            description=_("Recommended"),
        )
        sorts = _sorts(self.data.table)
        self.sort = W.Dropdown(options=sorts, value=sorts[0][1], description=_("Sort by"))
        self.page_size = W.Dropdown(
            options=[(str(n), n) for n in _PAGE_SIZES],
            value=page_size if page_size in _PAGE_SIZES else 25,
            description=_("Per page"),
        )
        for w in (
            self.risk_band,
            self.stage,
            self.segment,
            self.touchpoint,
            self.sort,
            self.page_size,
        ):
            w.style.description_width = "110px"
            w.layout.width = "310px"
            w.observe(self._on_filter, names="value")
        self.sort.layout.width = "420px"
        self.page_size.layout.width = "200px"
        self.clear_filters = _button(_("Clear filters"), icon="times")
        self.clear_filters.on_click(self._on_clear_filters)

        seg_header = seg_name if self.data.segment_col else _("Segment")
        # the header is built of the same widgets as a row (checkbox, button, grid), so
        # its columns sit exactly above the rows' at every width
        self.select_page = W.Checkbox(
            value=False,
            indent=False,
            tooltip=_("Select the whole page"),
            layout=W.Layout(width=_CHECK_WIDTH),
        )
        self.select_page.observe(self._on_select_page, names="value")
        self.list_header = W.HTML(
            self._header_grid(seg_header),
            layout=W.Layout(flex="1 1 0%", min_width="0"),
        )
        header = W.HBox(
            [self.select_page, self._placeholder_button(), self.list_header],
            layout=W.Layout(align_items="center"),
        )
        header.add_class("cjml-list-header")
        self.list_empty = W.HTML(
            "<div class='cjml-empty'>"
            + _esc(_("No customers match these filters. Widen them, or clear them."))
            + "</div>",
            layout=W.Layout(display="none"),
        )
        self.row_checks, self.row_html, self.row_open, self.row_boxes = [], [], [], []
        for _i in range(max(_PAGE_SIZES)):  # a fixed pool: paging only changes values
            check = W.Checkbox(value=False, indent=False, layout=W.Layout(width=_CHECK_WIDTH))
            box, cell, opener = self._row(check)
            self.row_checks.append(check)
            self.row_html.append(cell)
            self.row_open.append(opener)
            self.row_boxes.append(box)
        self.prev_button = _button(_("Previous"), icon="chevron-left")
        self.next_button = _button(_("Next"), icon="chevron-right")
        self.prev_button.on_click(self._on_prev)
        self.next_button.on_click(self._on_next)
        self.page_caption = W.HTML()
        self.approve_selected = _button(_("Approve selected"), style="success", icon="check")
        self.skip_selected = _button(_("Skip selected"), icon="forward")
        self.approve_matching = _button(
            _("Approve all matching"), style="success", icon="check-double"
        )
        self.approve_matching.add_class("cjml-approve-matching")
        self.skip_matching = _button(_("Skip all matching"), icon="forward")
        self.approve_selected.on_click(self._on_approve_selected)
        self.skip_selected.on_click(self._on_skip_selected)
        self.approve_matching.on_click(self._on_approve_matching)
        self.skip_matching.on_click(self._on_skip_matching)
        self.list_confirm = _Confirm(self._on_list_confirm, self._on_list_cancel)
        self.confirm_box = self.list_confirm.box
        self.confirm_yes, self.confirm_no = self.list_confirm.yes, self.list_confirm.no

        # the likely gone: their own collapsed group, which the bulk actions skip
        self.gone_caption = W.HTML()
        self.gone_html, self.gone_open, self.gone_boxes = [], [], []
        for _i in range(_GONE_ROWS):
            spacer = W.Checkbox(value=False, indent=False, layout=W.Layout(width=_CHECK_WIDTH))
            spacer.add_class("cjml-placeholder")
            box, cell, opener = self._row(spacer)
            self.gone_html.append(cell)
            self.gone_open.append(opener)
            self.gone_boxes.append(box)
        gone_header = W.HBox(
            [
                self._placeholder_check(),
                self._placeholder_button(),
                W.HTML(
                    self._header_grid(seg_header),
                    layout=W.Layout(flex="1 1 0%", min_width="0"),
                ),
            ],
            layout=W.Layout(align_items="center"),
        )
        gone_header.add_class("cjml-list-header")
        self.likely_gone = W.Accordion(
            children=[W.VBox([self.gone_caption, gone_header, *self.gone_boxes])],
            selected_index=None,
        )
        self.likely_gone.add_class("cjml-likely-gone")

        filters = _wrap(
            [
                self.risk_band,
                self.stage,
                self.segment,
                self.touchpoint,
                self.sort,
                self.page_size,
                self.clear_filters,
            ],
        )
        pager = _wrap([self.prev_button, self.page_caption, self.next_button], align_items="center")
        bulk = _wrap(
            [self.approve_selected, self.skip_selected, self.approve_matching, self.skip_matching],
        )
        return W.VBox(
            [
                filters,
                pager,
                bulk,
                self.confirm_box,
                self.list_notice,
                header,
                self.list_empty,
                *self.row_boxes,
                self.likely_gone,
            ],
        )

    @property
    def valued(self) -> bool:
        """True when the scores have values (a bundle with a value model): the list shows them."""
        return "expected_value" in self.data.table.columns

    def _header_grid(self, segment_name: str) -> str:
        headers = _headers(segment_name, self.valued)
        return _grid(
            [_esc(h) for h in headers],
            {len(headers) - 1: "cjml-drivers"},
            "cjml-valued" if self.valued else "",
        )

    @staticmethod
    def _placeholder_button() -> W.Button:
        b = _button(_("Open"), icon="user", width=_OPEN_WIDTH, cls="cjml-placeholder")
        b.disabled = True
        return b

    @staticmethod
    def _placeholder_check() -> W.Checkbox:
        c = W.Checkbox(value=False, indent=False, layout=W.Layout(width=_CHECK_WIDTH))
        c.add_class("cjml-placeholder")
        c.disabled = True
        return c

    def _row(self, check) -> tuple[W.HBox, W.HTML, W.Button]:
        # the cell takes the rest of the width whatever its content (basis 0), so every
        # row's columns start where the header's do
        cell = W.HTML(layout=W.Layout(flex="1 1 0%", min_width="0"))
        opener = _button(
            _("Open"), icon="user", width=_OPEN_WIDTH, tooltip=_("Open the customer view")
        )
        opener.on_click(self._on_open_row)
        opener.add_class("cjml-open")
        box = W.HBox(
            [check, opener, cell],
            layout=W.Layout(display="none", align_items="center"),
        )
        box.add_class("cjml-row")
        return box, cell, opener

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

    @_guarded("list")
    def _on_filter(self, change=None):
        self._page_number = 0
        self.list_confirm.close()
        self.refresh_list()

    @_guarded("list")
    def _on_clear_filters(self, _b=None):
        with self.hold_trait_notifications():
            for w in (self.risk_band, self.stage, self.segment, self.touchpoint):
                w.unobserve(self._on_filter, names="value")
                w.value = _ALL
                w.observe(self._on_filter, names="value")
        self._page_number = 0
        self.list_confirm.close()
        self.refresh_list()

    @_guarded("list")
    def _on_prev(self, _b=None):
        self._page_number = max(0, self._page_number - 1)
        self.refresh_list()

    @_guarded("list")
    def _on_next(self, _b=None):
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

    def _query(self, group: str, page: int, page_size: int) -> CustomerPage:
        key, ascending = self._sort()
        return self.data.customers.query(
            **self._filters(),
            sort_by=key,
            ascending=ascending,
            page=page,
            page_size=page_size,
            group=group,
            reach_threshold=self.reach_threshold,
        )

    def refresh_list(self) -> None:
        """Query the current page and show it; only its rows reach the browser.

        The customers likely gone (reach below the threshold) are listed apart,
        in the collapsed "Likely gone" group.
        """
        page = self._query("reachable", self._page_number, self.page_size.value)
        self.page = page
        self._page_number = page.page
        self.page_caption.value = f"<span style='padding:0 10px'>{_esc(page.caption())}</span>"
        self.prev_button.disabled = page.page == 0
        self.next_button.disabled = page.page >= page.n_pages - 1
        self.list_empty.layout.display = None if page.is_empty else "none"
        for b in (self.approve_matching, self.skip_matching):
            b.disabled = page.is_empty
        n = format_number(page.n_matching)
        self.approve_matching.description = _("Approve all matching ({n})").format(n=n)
        self.skip_matching.description = _("Skip all matching ({n})").format(n=n)
        self._show_rows(page.rows, self.row_boxes, self.row_html, self.row_open)
        for check in self.row_checks:
            check.value = False
        self.select_page.unobserve(self._on_select_page, names="value")
        self.select_page.value = False
        self.select_page.observe(self._on_select_page, names="value")

        gone = self._query("likely_gone", 0, _GONE_ROWS)
        self.gone_page = gone
        self.likely_gone.set_title(
            0, _("Likely gone ({n})").format(n=format_number(gone.n_matching))
        )
        why = _(
            "Customers whose chance of still being there is below {threshold}: a touchpoint "
            "would probably not reach them. Bulk actions leave them out; open one to decide "
            "on its own."
        ).format(threshold=pct(self.reach_threshold, 0))
        shown = (
            _("Showing the first {n} of {total}.").format(
                n=format_number(len(gone.rows)), total=format_number(gone.n_matching)
            )
            if gone.n_matching > len(gone.rows)
            else ""
        )
        self.gone_caption.value = f"<div class='cjml-sub'>{_esc(why)} {_esc(shown)}</div>"
        self._show_rows(gone.rows, self.gone_boxes, self.gone_html, self.gone_open)

    def _show_rows(self, rows: pd.DataFrame, boxes, cells, openers) -> None:
        decisions = self.data.actions.decisions(rows["customer_id"]).to_numpy()
        seg = self.data.segment_col
        has_uncertain = "uncertain" in rows.columns
        valued = self.valued
        names = {
            "approved": _("Approved"),
            "overridden": _("Overridden"),
            "skipped": _("Skipped"),
        }
        for i, box in enumerate(boxes):
            if i >= len(rows):
                box.layout.display = "none"
                continue
            r = rows.iloc[i]
            recommended = _esc(label(r["recommended_touchpoint"]))
            if has_uncertain and r["uncertain"] is True:
                recommended += " " + _uncertain_chip()
            decision = decisions[i]
            following = _("\u2192 {stage} ({share})").format(
                stage=label(r.get("next_stage")), share=pct(r.get("next_stage_proba"), 0)
            )
            row = [
                _esc(r["customer_id"]),
                _esc(label(r[seg]) if seg else "\u2013"),
                f"{_esc(label(r['stage']))} "
                f"<span class='cjml-sub cjml-next'>{_esc(following)}</span>",
                f"<b>{_esc(pct(r['churn_risk']))}</b> {_chip(r['risk_band'])}",
                recommended,
                _esc(points(r["expected_risk_reduction"], r["churn_risk"])),
                _esc(pct(r.get("reach_probability"), 0)),
                _esc(names.get(decision, label(decision)) if decision else "\u2013"),
                _esc(r["top_drivers"] or "\u2013"),  # an empty cell would have no height
            ]
            if valued:  # value and value at risk after the risk, value saved after the reduction
                row[4:4] = [_esc(worth(r.get(c))) for c in ("expected_value", "value_at_risk")]
                row.insert(8, _esc(worth(r.get("expected_value_saved"))))
            n = len(row)
            classes = {n - 2: "cjml-decision", n - 1: "cjml-drivers"}
            cells[i].value = _grid(row, classes, "cjml-valued" if valued else "")
            openers[i].tooltip = _("Open customer {id}").format(id=r["customer_id"])
            box.layout.display = None

    @_guarded("list")
    def _on_open_row(self, button):
        if button in self.row_open:
            cid = self.page.rows["customer_id"].iloc[self.row_open.index(button)]
        else:
            cid = self.gone_page.rows["customer_id"].iloc[self.gone_open.index(button)]
        self.open_customer(cid)

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

    def _matching_rows(self) -> pd.DataFrame:
        key, ascending = self._sort()
        order = self.data.customers.order(
            **self._filters(),
            sort_by=key,
            ascending=ascending,
            group="reachable",
            reach_threshold=self.reach_threshold,
        )
        return self.data.table.iloc[order]

    @_guarded("list")
    def _on_approve_selected(self, _b=None):
        ids = self.selected_ids()
        if not ids:
            raise ValueError(_("Tick one or more customers first (or use Approve all matching)."))
        rows = self.data.rows_of(ids)
        plan = self.data.actions.plan_bulk(rows)
        if plan.add == len(rows):
            self._approve_bulk(rows)
        else:  # some are left out: say which before acting
            self.list_confirm.ask(plan.text, functools.partial(self._approve_bulk, rows))

    @_guarded("list")
    def _on_approve_matching(self, _b=None):
        rows = self._matching_rows()
        self.list_confirm.ask(
            self.data.actions.plan_bulk(rows).text, functools.partial(self._approve_bulk, rows)
        )

    @_guarded("list")
    def _on_skip_selected(self, _b=None):
        ids = self.selected_ids()
        if not ids:
            raise ValueError(_("Tick one or more customers first (or use Skip all matching)."))
        self._skip_bulk(ids)

    @_guarded("list")
    def _on_skip_matching(self, _b=None):
        ids = self._matching_rows()["customer_id"].to_numpy()
        undecided = self._undecided(ids)
        kept = len(ids) - len(undecided)
        question = ngettext(
            "Skip {n} customer without a decision?",
            "Skip {n} customers without a decision?",
            len(undecided),
        ).format(n=format_number(len(undecided)))
        if kept:
            question += " " + ngettext(
                "{k} decision already made stays as it is.",
                "{k} decisions already made stay as they are.",
                kept,
            ).format(k=format_number(kept))
        self.list_confirm.ask(question, functools.partial(self._skip_bulk, ids))

    def _undecided(self, ids):
        decided = self.data.actions.decisions(ids).to_numpy(dtype=object)
        return [c for c, d in zip(ids, decided, strict=True) if d is None]

    @_guarded("list")
    def _on_list_confirm(self, _b=None):
        action = self.list_confirm.take()
        if action is not None:
            action()

    @_guarded("list")
    def _on_list_cancel(self, _b=None):
        self.list_confirm.close()

    def _approve_bulk(self, rows: pd.DataFrame) -> None:
        n = self.data.actions.approve(rows, by=self._user(), bulk=True)
        text = ngettext("Approved {n} customer.", "Approved {n} customers.", n).format(
            n=format_number(n)
        )
        left = len(rows) - n
        if left:
            text += " " + ngettext(
                "{k} was left as it was: already decided, uncertain, likely gone or "
                "without a recommendation.",
                "{k} were left as they were: already decided, uncertain, likely gone or "
                "without a recommendation.",
                left,
            ).format(k=format_number(left))
        self._notify(text, "list")

    def _skip_bulk(self, ids) -> None:
        # a bulk action never changes a decision already made
        n = self.data.actions.skip(ids, by=self._user(), bulk=True)
        text = ngettext("Skipped {n} customer.", "Skipped {n} customers.", n).format(
            n=format_number(n)
        )
        if len(ids) > n:
            k = len(ids) - n
            text += " " + ngettext(
                "{k} decision already made stays as it is.",
                "{k} decisions already made stay as they are.",
                k,
            ).format(k=format_number(k))
        self._notify(text, "list")

    # ------------------------------------------------------------------ one customer
    def _build_customer(self):
        # continuous_update=False: the value arrives on Enter or when the box loses focus
        self.customer_id = W.Text(
            placeholder=_("customer id"),
            description=_("Customer"),
            continuous_update=False,
            layout=W.Layout(width="260px"),
        )
        self.customer_id.style.description_width = "initial"  # "Khách hàng" whole
        self.customer_id.add_class("cjml-customer-id")
        self.open_button = _button(_("Open"), icon="search")
        self.open_button.on_click(self._on_open_typed)
        self.customer_id.observe(self._on_id_typed, names="value")
        self.customer_empty = W.HTML(
            "<div class='cjml-empty'>"
            + _esc(_("Pick a customer in the at-risk list (Open), or type an id above."))
            + "</div>"
        )
        self.inactive_label = W.HTML(
            _esc(_("Inactive: outside the scored population")), layout=W.Layout(display="none")
        )
        self.inactive_label.add_class("cjml-inactive")
        self.customer_summary = W.HTML()
        self.customer_summary.add_class("cjml-customer-summary")
        self.next_stage_html = W.HTML()
        self.drivers_html = W.HTML()
        self.timeline = W.Image(
            format="png",
            layout=W.Layout(max_width="calc(100% - 4px)", width="900px", height="auto"),
        )
        self.recommendations_html = W.HTML()
        self.whatif = W.Dropdown(
            description=_("What if"),
            options=[],
            layout=W.Layout(width="640px", max_width="calc(100% - 4px)"),
        )
        self.whatif.style.description_width = "70px"
        self.whatif.add_class("cjml-whatif")
        self.whatif.observe(self._on_whatif, names="value")
        self.whatif_result = W.HTML()
        self.whatif_result.add_class("cjml-whatif-result")
        self.note = W.Text(placeholder=_("note (optional): why"), layout=W.Layout(width="300px"))
        self.approve_button = _button(
            _("Approve recommended"), style="success", icon="check", cls="cjml-approve"
        )
        self.override_button = _button(
            _("Approve the what-if touchpoint instead"),
            style="warning",
            icon="exchange-alt",
            cls="cjml-override",
        )
        self.skip_button = _button(_("Skip"), icon="forward")
        self.reset_button = _button(_("Undo decision"), icon="undo")
        self.approve_button.on_click(self._on_approve_customer)
        self.override_button.on_click(self._on_override_customer)
        self.skip_button.on_click(self._on_skip_customer)
        self.reset_button.on_click(self._on_reset_customer)
        self._decision_buttons = (
            self.approve_button,
            self.override_button,
            self.skip_button,
            self.reset_button,
        )
        self.customer_confirm = _Confirm(self._on_customer_confirm, self._on_customer_cancel)
        self.decision_html = W.HTML()
        self.customer_body = W.VBox(
            [
                self.customer_summary,
                _wrap(
                    [
                        W.VBox([self.next_stage_html], layout=W.Layout(flex="1 1 300px")),
                        W.VBox([self.drivers_html], layout=W.Layout(flex="1 1 360px")),
                    ],
                ),
                self.timeline,
                self.recommendations_html,
                W.HTML(
                    f"<h4>{_esc(_('What if: re-scored risk for any eligible touchpoint'))}</h4>"
                ),
                self.whatif,
                self.whatif_result,
                W.HTML(f"<h4>{_esc(_('Decision'))}</h4>"),
                self.decision_html,
                _wrap([self.note, *self._decision_buttons]),
                self.customer_confirm.box,
                self.customer_notice,
            ],
            layout=W.Layout(display="none"),
        )
        view = W.VBox(
            [
                _wrap([self.customer_id, self.open_button], align_items="center"),
                self.inactive_label,
                self.customer_empty,
                self.customer_body,
            ],
        )
        view.add_class("cjml-customer-view")
        # the messages of an id that opens nothing sit under the id box, not in the hidden body
        self._id_notice_slot = view
        self._set_buttons(False)
        return view

    def _set_buttons(self, enabled: bool, *, active: bool = True) -> None:
        for b in self._decision_buttons:
            b.disabled = not enabled
        if enabled and not active:  # inactive customers cannot be approved
            self.approve_button.disabled = self.override_button.disabled = True

    def _clear_customer(self) -> None:
        """No customer open: nothing stale on screen, nothing to act on."""
        self.profile = None
        self.customer_confirm.close()
        self.customer_body.layout.display = "none"
        self.inactive_label.layout.display = "none"
        self.customer_empty.layout.display = None
        self.customer_summary.value = self.decision_html.value = ""
        self._set_buttons(False)
        self.whatif.unobserve(self._on_whatif, names="value")
        self.whatif.options = []
        self.whatif.observe(self._on_whatif, names="value")

    def _show_customer_error(self, text: str) -> None:
        # the body (and its notice) is hidden: the message goes under the id box
        box = self.customer_notice
        children = list(self._id_notice_slot.children)
        if box in self.customer_body.children:
            self.customer_body.children = [c for c in self.customer_body.children if c is not box]
            children.insert(1, box)
            self._id_notice_slot.children = children
        self.show_error(text, area="customer")

    @_guarded("customer")
    def _on_open_typed(self, _b=None):
        text = self.customer_id.value.strip()
        if not text:
            raise ValueError(_("Type a customer id first."))
        self.open_customer(text)

    @_guarded("customer")
    def _on_id_typed(self, change):
        text = str(change["new"]).strip()
        if text and (self.profile is None or text != str(self.profile.customer_id)):
            self.open_customer(text)

    def open_customer(self, customer_id) -> None:
        """Show one customer in the customer view (and switch to it).

        The customer's full profile, including the expected risk after every
        eligible touchpoint, is computed here, so the what-if selector answers
        at once. An id that is not in the events clears the view; a customer
        outside the scored population opens labelled inactive, and cannot be
        approved.

        Parameters
        ----------
        customer_id : int or str
            The customer.
        """
        from cjml.panel._data._common import PanelError
        from cjml.panel._data._customer import _customer_slice

        self.tabs.selected_index = 2
        try:
            _customer_slice(self.data.log, customer_id)
        except PanelError:
            self._clear_customer()
            self._show_customer_error(
                _(
                    "No customer '{id}' in these scores. Pick one in the at-risk list, or "
                    "check the id."
                ).format(id=customer_id)
            )
            return
        try:
            profile = self.data.profile(customer_id)
        except PanelError as exc:  # in the events, but nothing to score (outside the population)
            self._clear_customer()
            self.inactive_label.layout.display = None
            self._show_customer_error(str(exc))
            return
        self._place_customer_notice()
        self.customer_confirm.close()
        self.profile = p = profile
        active = not self.data.rows_of([p.customer_id]).empty
        self.customer_id.unobserve(self._on_id_typed, names="value")
        self.customer_id.value = str(p.customer_id)
        self.customer_id.observe(self._on_id_typed, names="value")
        self.inactive_label.layout.display = None if not active else "none"
        facts = [_("Customer {id}").format(id=p.customer_id)]
        if self.data.segment_col:
            facts.append(
                _("{column}: {value}").format(
                    column=label(self.data.segment_col), value=label(p.segment)
                )
            )
        facts.append(_("stage {stage}").format(stage=label(p.stage)))
        facts.append(_("as of {date}").format(date=format_date(p.cutoff)))
        reason = p.reason[:1].upper() + p.reason[1:]
        facts_text = " \u00b7 ".join(facts)
        self.customer_summary.value = (
            f"<div class='cjml-sub'>{_esc(facts_text)}</div>"
            f"<div><span class='cjml-risk'>{_esc(pct(p.churn_risk))}</span> "
            f"{_esc(_('churn risk'))} {_chip(p.risk_band)}</div>"
            f"<div class='cjml-sub'>{_esc(reason)}</div>"
        )
        if p.has_value:
            self.customer_summary.value += f"<div class='cjml-value'>{_esc(p.value_text())}</div>"
        self.next_stage_html.value = f"<h4>{_esc(_('Next stage in the horizon'))}</h4>" + _bars(
            [(label(s), float(v)) for s, v in p.next_stage.items()], fmt=lambda v: _esc(pct(v))
        )
        drivers = "".join(f"<li>{_esc(t)}</li>" for t in p.drivers) or (
            f"<li>{_esc(_('No single driver stands out.'))}</li>"
        )
        self.drivers_html.value = (
            f"<h4>{_esc(_('Why: the top drivers of the risk'))}</h4><ul>{drivers}</ul>"
        )
        self._draw_timeline(p)
        title = f"<h4>{_esc(_('Recommended touchpoints'))}</h4>"
        if p.recommendations.empty:
            self.recommendations_html.value = (
                title
                + "<div class='cjml-empty'>"
                + _esc(_("No allowed touchpoint is expected to lower this customer's risk."))
                + "</div>"
            )
        else:
            rows = [
                [
                    _esc(format_number(r.rank)),
                    _esc(label(r.touchpoint)),
                    _esc(pct(r.expected_risk)),
                    _esc(points(r.risk_reduction, p.churn_risk)),
                    _esc(_money(r.cost)),
                    *([_esc(worth(r.value_saved))] if p.has_value else []),
                ]
                for r in p.recommendations.itertuples(index=False)
            ]
            headers = ["#", _("Touchpoint"), _("Risk after"), _("Expected reduction"), _("Cost")]
            if p.has_value:
                headers.append(_("Value saved"))
            self.recommendations_html.value = title + _table(headers, rows, align_left=(1,))
        options = [
            (self._option_label(r, p.has_value), r.touchpoint)
            for r in p.options.itertuples(index=False)
        ]
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
        self._set_buttons(True, active=active)
        self.override_button.disabled |= not options
        self.approve_button.disabled |= p.recommendations.empty
        self._show_whatif()
        self._show_decision()
        self.customer_empty.layout.display = "none"
        self.customer_body.layout.display = None

    def _place_customer_notice(self) -> None:
        """Put the customer's notice back beside the decision buttons."""
        box = self.customer_notice
        if box not in self.customer_body.children:
            self._id_notice_slot.children = [
                c for c in self._id_notice_slot.children if c is not box
            ]
            self.customer_body.children = [*self.customer_body.children, box]

    @staticmethod
    def _option_label(r, valued: bool = False) -> str:
        if r.risk_reduction >= 0:
            text = _("{touchpoint}: risk {risk} ({points} lower), cost {cost}")
        else:
            text = _("{touchpoint}: risk {risk} ({points} higher), cost {cost}")
        text = text.format(
            touchpoint=label(r.touchpoint),
            risk=pct(r.expected_risk),
            points=points(abs(shown_change(r.expected_risk + r.risk_reduction, r.expected_risk))),
            cost=_money(r.cost),
        )
        if valued:
            saved = worth(r.value_saved)
            text = _("{option}, value saved {saved}").format(option=text, saved=saved)
        if r.allowed:
            return text
        return _("{option} \u2013 not allowed: {why}").format(option=text, why=r.blocked_by)

    def _draw_timeline(self, p: CustomerProfile) -> None:
        from cjml.panel._plots import plot_timeline, png_bytes

        ax = plot_timeline(p.timeline, stages=self.data.log.journey_map.stages, cutoff=p.cutoff)
        self.timeline.value = png_bytes(ax)

    @_guarded("customer")
    def _on_whatif(self, change=None):
        self.customer_confirm.close()
        self._show_whatif()

    def _show_whatif(self) -> None:
        p, tp = self.profile, self.whatif.value
        if p is None or tp is None:
            self.whatif_result.value = (
                "<div class='cjml-empty'>"
                + _esc(_("No eligible touchpoint for this customer's stage."))
                + "</div>"
            )
            return
        w = what_if(p, tp)
        change = shown_change(w.baseline_risk, w.expected_risk)  # as the two numbers show it
        color = "#2ca02c" if change > 0 else "#d62728" if change < 0 else "inherit"
        if change >= 0:
            text = _("Churn risk now {now} \u2192 with {touchpoint}: {after} ({points} lower)")
        else:
            text = _("Churn risk now {now} \u2192 with {touchpoint}: {after} ({points} higher)")
        text = _esc(text).format(
            now=f"<b>{_esc(pct(w.baseline_risk))}</b>",
            touchpoint=_esc(label(w.touchpoint).lower()),
            after=(
                f"<span class='cjml-whatif-risk' style='color:{color}'>"
                f"{_esc(pct(w.expected_risk))}</span>"
            ),
            points=_esc(points(abs(change))),
        )
        cost = _esc(_("cost {cost}").format(cost=_money(w.cost)))
        blocked = (
            f"<div class='cjml-sub'>"
            f"{_esc(_('Not allowed by the rules: {why}').format(why=w.blocked_by))}</div>"
            if not w.allowed
            else ""
        )
        value = (
            f"<div class='cjml-whatif-value'>{_esc(w.value_text())}</div>" if w.value_text() else ""
        )
        self.whatif_result.value = f"<div>{text} \u00b7 {cost}</div>{value}{blocked}"

    def _show_decision(self) -> None:
        p = self.profile
        if p is None:  # no customer open
            return
        frame = self.data.actions.to_frame()
        hit = frame[frame["customer_id"].astype(object) == p.customer_id]
        if hit.empty:
            self.decision_html.value = f"<div class='cjml-sub'>{_esc(_('No decision yet.'))}</div>"
            return
        r = hit.iloc[-1]
        places = {
            "touchpoint": label(r["touchpoint"]),
            "who": r.get("decided_by") or "\u2013",
            "when": _when(r.get("decided_at")),
        }
        texts = {
            "approved": _("Approved: {touchpoint}, by {who} on {when}."),
            "overridden": _("Overridden: {touchpoint}, by {who} on {when}."),
            "skipped": _("Skipped by {who} on {when}."),
        }
        text = texts.get(r["decision"], "{touchpoint}").format(**places)
        self.decision_html.value = f"<div><b>{_esc(text)}</b></div>"

    def _row_of_open(self) -> pd.DataFrame:
        """The open customer's row of the list; refuses a customer outside the population."""
        p = self.profile
        if p is None:
            raise ValueError(_("Open a customer first."))
        rows = self.data.rows_of([p.customer_id])
        if rows.empty:
            raise ValueError(
                _(
                    "Customer {id} is inactive (outside the scored population) and cannot be "
                    "approved; score them again when they are active."
                ).format(id=p.customer_id)
            )
        return rows

    @_guarded("customer")
    def _on_approve_customer(self, _b=None):
        rows = self._row_of_open()
        p = self.profile
        if rows["recommended_touchpoint"].isna().all():
            raise ValueError(
                _(
                    "Customer {id} has no recommended touchpoint to approve; choose one in the "
                    "what-if selector and approve it instead."
                ).format(id=p.customer_id)
            )
        if "uncertain" in rows.columns and rows["uncertain"].iloc[0] is True:
            self.customer_confirm.ask(
                _(
                    "The expected reduction of {touchpoint} for customer {id} is uncertain: it "
                    "might not lower the risk at all. Approve it anyway?"
                ).format(
                    touchpoint=label(rows["recommended_touchpoint"].iloc[0]).lower(),
                    id=p.customer_id,
                ),
                functools.partial(self._approve_one, rows),
            )
            return
        self._approve_one(rows)

    def _approve_one(self, rows: pd.DataFrame) -> None:
        cid = rows["customer_id"].iloc[0]
        self.data.actions.approve(
            rows, by=self._user(), note=self.note.value or None, source="panel"
        )
        self._notify(_("Approved the recommendation for customer {id}.").format(id=cid), "customer")

    @_guarded("customer")
    def _on_override_customer(self, _b=None):
        self._row_of_open()
        p = self.profile
        w = what_if(p, self.whatif.value)
        if not w.allowed:
            raise ValueError(
                _("{touchpoint} is not allowed for this customer: {why}.").format(
                    touchpoint=label(w.touchpoint), why=w.blocked_by
                )
            )
        if w.risk_reduction < 0:  # approving harm takes a deliberate second click
            self.customer_confirm.ask(
                _("This raises the drop-off risk by {points}. Approve anyway?").format(
                    points=points(-shown_change(w.baseline_risk, w.expected_risk))
                ),
                functools.partial(self._override_one, w),
            )
            return
        self._override_one(w)

    def _override_one(self, w) -> None:
        p = self.profile
        if p is None:
            raise ValueError(_("Open a customer first."))
        self.data.actions.override(
            p.customer_id,
            w.touchpoint,
            expected_risk_reduction=w.risk_reduction,
            baseline_risk=p.churn_risk,
            expected_value_saved=None if not p.has_value else w.value_saved,
            expected_value=None if not p.has_value else p.expected_value,
            value_at_risk=None if not p.has_value else p.value_at_risk,
            note=self.note.value or None,
            by=self._user(),
            source="panel",
        )
        self._notify(
            _("Approved {touchpoint} for customer {id} instead of the recommendation.").format(
                touchpoint=label(w.touchpoint).lower(), id=p.customer_id
            ),
            "customer",
        )

    @_guarded("customer")
    def _on_customer_confirm(self, _b=None):
        action = self.customer_confirm.take()
        if action is not None:
            action()

    @_guarded("customer")
    def _on_customer_cancel(self, _b=None):
        self.customer_confirm.close()

    @_guarded("customer")
    def _on_skip_customer(self, _b=None):
        if self.profile is None:
            raise ValueError(_("Open a customer first."))
        cid = self.profile.customer_id
        self.data.actions.skip([cid], by=self._user(), note=self.note.value or None, source="panel")
        self._notify(_("Skipped customer {id}.").format(id=cid), "customer")

    @_guarded("customer")
    def _on_reset_customer(self, _b=None):
        if self.profile is None:
            raise ValueError(_("Open a customer first."))
        cid = self.profile.customer_id
        self.data.actions.reset([cid], by=self._user(), source="panel")
        self._notify(_("Cleared the decision on customer {id}.").format(id=cid), "customer")

    # ------------------------------------------------------------------ actions
    def _build_actions(self, export_path):
        self.user = W.Text(
            value=self.data.actions.user or "",
            placeholder=_("your name"),
            description=_("Approved by"),
            layout=W.Layout(width="320px"),
        )
        self.user.style.description_width = "90px"
        self.actions_summary = W.HTML()
        self.actions_summary.add_class("cjml-actions-count")
        self.actions_table = W.HTML()
        self.export_path = W.Text(
            value=str(export_path),
            description=_("File"),
            layout=W.Layout(width="520px", max_width="calc(100% - 4px)"),
        )
        self.export_path.style.description_width = "90px"
        self.export_button = _button(
            _("Export approved actions (CSV)"), style="primary", icon="download", cls="cjml-export"
        )
        self.export_button.on_click(self._on_export)
        self.export_status = self.export_notice
        shares = [0.05, 0.1, 0.2, 0.5]
        if self._control is not None and self._control not in shares:
            shares = sorted([*shares, self._control])
        self.control = W.Dropdown(
            options=[(_("off"), 0.0)] + [(_share_text(v), v) for v in shares],
            value=self._control or 0.0,
            description=_("Control group"),
            layout=W.Layout(width="220px"),
        )
        self.control.style.description_width = "110px"
        self.control.add_class("cjml-control")
        control_why = _(
            "A random {share} of the approved customers get no action, so the next log can "
            "measure what the campaign really did."
        )
        self.control_why = W.HTML()
        self.control_why.add_class("cjml-sub")

        def show_why(_change=None):
            share = self.control.value
            self.control_why.value = _esc(
                control_why.format(share=_share_text(share))
                if share
                else _(
                    "No control group: nobody is held out, so what the campaign did cannot "
                    "be measured afterwards."
                )
            )

        self.control.observe(show_why, "value")
        show_why()
        how = _(
            "UTF-8 CSV that Excel opens as is; cells that could run as spreadsheet formulas "
            "are escaped; an existing file is never replaced: the export gets a new, dated "
            "name instead."
        )
        return W.VBox(
            [  # the export sits above the (long) table, so its message is in view
                self.user,
                self.actions_summary,
                W.HTML(
                    f"<h4>{_esc(_('Export for the campaign team'))}</h4>"
                    f"<div class='cjml-sub'>{_esc(how)}</div>"
                ),
                self.export_path,
                _wrap([self.control, self.control_why]),
                _wrap([self.export_button]),  # a row, so the button keeps its own width
                self.export_notice,
                self.actions_table,
            ],
        )

    def _user(self) -> str | None:
        return self.user.value.strip() or None

    def _refresh_actions(self) -> None:
        counts = self.data.actions.counts()
        held = self.data.actions.held_out()
        held_note = ""
        if len(held):
            held_note = (
                "<div class='cjml-sub cjml-held-out'>"
                + _esc(
                    ngettext(
                        "{n} approved customer is held out as a campaign's control group "
                        "({campaigns}): no action, and later exports leave them out.",
                        "{n} approved customers are held out as a campaign's control group "
                        "({campaigns}): no action, and later exports leave them out.",
                        len(held),
                    ).format(
                        n=format_number(len(held)),
                        campaigns=", ".join(dict.fromkeys(held["campaign"].astype(str))),
                    )
                )
                + "</div>"
            )
        names = {
            "approved": _("approved"),
            "overridden": _("overridden"),
            "skipped": _("skipped"),
        }
        self.actions_summary.value = (
            "<div class='cjml-cards'>"
            + "".join(
                f"<div class='cjml-card' data-decision='{k}'><b>{_esc(format_number(counts[k]))}"
                f"</b><span>{_esc(names[k])}</span></div>"
                for k in ("approved", "overridden", "skipped")
            )
            + "</div>"
            + held_note
        )
        approved = self.data.actions.approved()
        if approved.empty:
            self.actions_table.value = (
                "<div class='cjml-empty'>"
                + _esc(
                    _(
                        "No approved actions yet: approve recommendations in the at-risk list "
                        "or the customer view."
                    )
                )
                + "</div>"
            )
            return
        shown = approved.tail(50).iloc[::-1]
        valued = "expected_value_saved" in approved.columns
        rows = [
            [
                _esc(r.customer_id),
                _esc(label(r.touchpoint)),
                _esc(points(r.expected_risk_reduction, r.churn_risk)),
                *([_esc(r.expected_value_saved_shown)] if valued else []),
                _esc(r.reason),
                _esc(r.approved_by),
                f"<span style='white-space:nowrap'>{_esc(_when(r.approved_at))}</span>",
            ]
            for r in shown.itertuples(index=False)
        ]
        more = (
            "<div class='cjml-sub'>"
            + _esc(
                _("The latest 50 of {n} approved actions.").format(n=format_number(len(approved)))
            )
            + "</div>"
            if len(approved) > 50
            else ""
        )
        headers = [
            _("Customer"),
            _("Touchpoint"),
            _("Expected reduction"),
            _("Reason"),
            _("Approved by"),
            _("Approved at"),
        ]
        if valued:
            headers.insert(3, _("Value saved"))
        self.actions_table.value = more + _table(
            headers, rows, align_left=(1, 4, 5) if valued else (1, 3, 4)
        )

    @_guarded("export")
    def _on_export(self, _b=None):
        path = Path(self.export_path.value.strip() or ".").expanduser()
        book, panel = self.data.actions, self.data
        before = book.held_out()["customer_id"]
        approved = book.approved()["customer_id"]
        n = int((~approved.isin(before)).sum())  # an earlier control group is left out
        share = self.control.value or None
        segments = None
        if share and panel.segment_col and panel.segment_col in panel.table.columns:
            segments = panel.table.set_index("customer_id")[panel.segment_col]
        book.last_campaign = None
        written = book.export_csv(
            path,
            inputs=panel.inputs,
            control=share,
            bundle=panel.bundle if share else None,
            cutoff=panel.cutoff if share else None,
            rules=panel.rules if share else None,
            segments=segments,
        )
        link = ""
        if written.stat().st_size <= _DOWNLOAD_LIMIT:  # a browser download too, for Voila users
            data = base64.b64encode(written.read_bytes()).decode("ascii")
            link = (
                f" <a download='{_esc(written.name)}' href='data:text/csv;base64,{data}'>"
                f"{_esc(_('Download it'))}</a>"
            )
        text = ngettext(
            "Wrote {n} approved action to {file}.", "Wrote {n} approved actions to {file}.", n
        )
        self._notify(
            _esc(text).format(
                n=_esc(format_number(n)), file=f"<code>{_esc(written.resolve())}</code>"
            )
            + link
            + self._campaign_note(book.last_campaign),
            "export",
            markup=True,
        )

    @staticmethod
    def _campaign_note(campaign) -> str:
        """What the export's confirmation says of its campaign: the arms, the manifest, and
        how to measure it after the horizon (empty without a control group)."""
        if campaign is None:
            return ""
        arms = campaign.manifest["arms"]
        manifest = str(campaign.path.resolve())
        text = _(
            "Campaign {campaign_id}: {treated} customers to act on (treatment) and {control} "
            "held out as the control group, with no action. Its manifest is {manifest}; from "
            "{date}, {command} measures what the campaign really did."
        )
        return (
            "<div class='cjml-campaign'>"
            + _esc(text).format(
                campaign_id=f"<b>{_esc(campaign.campaign_id)}</b>",
                treated=_esc(format_number(int(arms.get("treatment", 0)))),
                control=_esc(format_number(int(arms.get("control", 0)))),
                manifest=f"<code>{_esc(manifest)}</code>",
                date=_esc(format_date(campaign.cutoff + campaign.horizon)),
                command=f"<code>cjml uplift {_esc(_quoted(manifest))} EVENTS</code>",
            )
            + "</div>"
        )
