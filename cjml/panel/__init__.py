"""The marketer's panel: review at-risk customers and approve the touchpoints that keep them.

``cjml.panel(bundle, events)`` builds an ipywidgets application for
JupyterLab, Jupyter Notebook and Voilà with four tabs:

- **Overview**: the data-driven journey map (funnel, drop-off per stage,
  missing-touchpoint opportunities), the churn-risk distribution, the
  customers per risk band and per recommended touchpoint, and the journey
  canvas (one per persona, chosen in a selector) with the support journey;
- **At-risk list**: every scored customer, filtered by risk band, stage,
  segment and recommended touchpoint, sorted (by default, where a touchpoint
  saves the most value net of its cost when the scores have values, else who
  can be saved first: the expected customers retained), and paged so that only the
  visible page reaches the browser; customers whose chance of still being
  there is below ``reach_threshold`` wait in a collapsed "Likely gone" group
  that bulk actions skip;
- **Customer**: one customer's journey timeline, churn risk, next-stage
  probabilities, top drivers in words, recommended touchpoints, and a what-if
  selector that re-scores the risk for any eligible touchpoint at once;
- **Actions**: approve, override or skip, per customer or in bulk (a bulk
  approval never changes a decision already made), and export the approved
  actions to a new, spreadsheet-safe CSV file.

Nothing is decided until the marketer clicks. Every decision goes to an
append-only decision log, replayed when the panel opens again, and every view
shows the decisions of the one :class:`ActionBook`, whether they were made
by a click or through ``app.data.actions``.

Everything the panel shows comes from plain functions of this package, usable
without widgets (the headless twin): :func:`customer_table`,
:func:`filter_customers`, :func:`sort_customers`, :func:`default_sort`, :func:`likely_gone`,
:func:`paginate`,
:class:`CustomerList`, :func:`overview_data`, :func:`timeline_data`,
:func:`funnel_data`, :func:`opportunities_data`, :func:`flag_rule`,
:func:`persona_choices`, :func:`canvas_note`,
:func:`plot_timeline`, :func:`customer_profile`, :func:`what_if`,
:class:`ActionBook` (its :class:`DecisionLog`, :class:`BulkPlan`), and the
CSV writer :func:`write_csv`. ipywidgets is imported only when a panel is built.

:func:`serve` serves the panel alone as a web page (``cjml app`` on the command
line), the marketers' way in.

The module itself is callable: ``cjml.panel(...)`` is :func:`panel`.
"""

import inspect
import sys
import types

from cjml.panel._csv import FORMULA_PREFIXES, escape_formula, write_csv
from cjml.panel._data import (
    DEFAULT_REACH_THRESHOLD,
    NO_TOUCHPOINT,
    SORT_KEYS,
    ActionBook,
    BulkPlan,
    CustomerList,
    CustomerPage,
    CustomerProfile,
    DecisionLog,
    DecisionLogWarning,
    Overview,
    PanelData,
    PanelError,
    WhatIf,
    canvas_note,
    customer_profile,
    customer_table,
    default_sort,
    filter_customers,
    flag_rule,
    funnel_data,
    label,
    likely_gone,
    opportunities_data,
    overview_data,
    paginate,
    persona_choices,
    sort_customers,
    timeline_data,
    what_if,
)
from cjml.panel._data._actions import control_share
from cjml.panel._plots import plot_timeline
from cjml.panel._serve import AppServer, serve

__all__ = [
    "DEFAULT_REACH_THRESHOLD",
    "FORMULA_PREFIXES",
    "NO_TOUCHPOINT",
    "SORT_KEYS",
    "ActionBook",
    "AppServer",
    "BulkPlan",
    "CustomerList",
    "CustomerPage",
    "CustomerProfile",
    "DecisionLog",
    "DecisionLogWarning",
    "Overview",
    "PanelData",
    "PanelError",
    "WhatIf",
    "canvas_note",
    "customer_profile",
    "customer_table",
    "default_sort",
    "escape_formula",
    "filter_customers",
    "flag_rule",
    "funnel_data",
    "label",
    "likely_gone",
    "opportunities_data",
    "overview_data",
    "paginate",
    "panel",
    "persona_choices",
    "plot_timeline",
    "serve",
    "sort_customers",
    "timeline_data",
    "what_if",
    "write_csv",
]


def panel(
    bundle,
    events,
    scores=None,
    *,
    rules=None,
    cutoff=None,
    segment_col="auto",
    report="auto",
    top_k=3,
    user=None,
    page_size=25,
    export_path="approved_actions.csv",
    lang="en",
    currency=None,
    decisions="auto",
    reach_threshold=0.05,
    control=0.1,
    columns=None,
    timezone=None,
    timestamp_unit=None,
    drop_duplicates=False,
    missing_ids=None,
    encoding=None,
    on_error="raise",
    touchpoint=None,
):
    """Open the marketer's panel on a model bundle and its customers' events.

    Display the result in JupyterLab, Jupyter Notebook or a Voilà page (it is
    an ipywidgets box). Without ``scores`` the customers are scored first with
    :func:`cjml.score`; pass the scores of an earlier run to skip that.

    Parameters
    ----------
    bundle : ModelBundle or path
        A bundle trained by :func:`cjml.train`, or its file.
    events : EventLog, DataFrame or path
        The customers' events, as for :func:`cjml.read_events`.
    scores : DataFrame or path, optional
        :func:`cjml.score` output for these events (or its Parquet/CSV file).
    rules : RecommendationRules, dict, path or None
        Business rules for the recommendations (exclusions, contact caps,
        minimum risk, costs); given, the list's recommendations are recomputed
        with them.
    cutoff : date, optional
        The scoring cutoff; default that of the scores, else the last event.
    segment_col : str, None or "auto", default "auto"
        The segment or persona column to filter by; "auto" takes the first
        customer attribute the models use (such as ``segment``).
    report : JourneyMapReport, None or "auto", default "auto"
        The journey map of the overview (split by ``segment_col``: its groups
        are the personas of the journey canvas); "auto" builds it with
        :func:`cjml.journey_map`.
    top_k : int, default 3
        Recommended touchpoints per customer.
    user : str, optional
        The approver's name recorded in the export; editable in the panel;
        default the login name.
    page_size : int, default 25
        Rows per page of the at-risk list (10, 25, 50 or 100).
    export_path : str or path, default "approved_actions.csv"
        The export file (or folder) proposed in the Actions tab; an existing
        file is never replaced (the export gets a new, dated name).
    lang : {"en", "vi"}, default "en"
        The language of the panel, and the locale of its numbers and dates.
    currency : str, optional
        ISO 4217 code of the costs; default the language's (USD for en,
        VND for vi).
    decisions : "auto", path or None, default "auto"
        The decision log (append-only JSON Lines), replayed when the panel
        opens again: "auto" is ``decisions.jsonl`` beside the scores file,
        else in the export's folder; None keeps decisions in memory only.
    reach_threshold : float, default 0.05
        Customers whose chance of still being there is below it are listed
        apart as "likely gone", and bulk actions leave them out.
    control : float, str or None, default 0.1
        The share of the approved customers the export holds out as a random
        control group, stratified by touchpoint and risk band: they stay in
        the export with ``arm = control`` and no action, and the campaign's
        manifest and assignments are written beside it (see
        :func:`cjml.export_campaign`), so ``cjml uplift`` can measure what
        the campaign really did. Changeable in the Actions tab; None or 0
        exports without a control group.
    columns : mapping or str, optional
        Your column names, as for :func:`cjml.read_events`; default the names
        the bundle was trained on, where the events have them.
    timezone : str, optional
        Timezone of naive timestamps; default the one the bundle was trained with.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) timestamps.
    drop_duplicates : bool, default False
        Remove exact duplicate events.
    missing_ids : sequence of str or str, optional
        Customer ids that mean "missing".
    encoding : str, optional
        The text encoding of CSV events when it is not UTF-8 (``"cp1252"``).
    on_error : {"raise", "quarantine"}, default "raise"
        Rows of the events that break a rule stop the panel, or are set aside
        (see :func:`cjml.read_events`).
    touchpoint : str, optional
        The touchpoint of every event, for events without a touchpoint column;
        default the bundle's, when it was trained so.

    Returns
    -------
    MarketerPanel
        The application (an ``ipywidgets.VBox``); its ``data`` attribute is
        the headless :class:`PanelData`.

    See Also
    --------
    PanelData : The same numbers without widgets.

    Examples
    --------
    >>> import cjml
    >>> from cjml.datasets import load_sample
    >>> bundle, _ = cjml.train(load_sample(), holdout=False)  # doctest: +SKIP
    >>> cjml.panel(bundle, load_sample())  # doctest: +SKIP

    In a notebook the last line shows the panel; in Voilà the notebook
    becomes a web page with only the panel.
    """
    from cjml.i18n import set_language
    from cjml.panel._app import MarketerPanel  # ipywidgets only from here on

    set_language(lang, currency=currency)
    control_share(control)  # a wrong share is refused before the (slow) scoring
    data = PanelData.from_inputs(
        bundle,
        events,
        scores,
        rules=rules,
        cutoff=cutoff,
        segment_col=segment_col,
        report=report,
        top_k=top_k,
        user=user,
        decisions=decisions,
        reach_threshold=reach_threshold,
        export_path=export_path,
        columns=columns,
        timezone=timezone,
        timestamp_unit=timestamp_unit,
        drop_duplicates=drop_duplicates,
        missing_ids=missing_ids,
        encoding=encoding,
        on_error=on_error,
        touchpoint=touchpoint,
    )
    return MarketerPanel(data, page_size=page_size, export_path=export_path, control=control)


class _CallableModule(types.ModuleType):
    """Lets ``cjml.panel(...)`` call :func:`panel` while ``cjml.panel.X`` stays the module."""

    def __call__(self, *args, **kwargs):
        return panel(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
# so that help(cjml.panel) and notebooks' cjml.panel? show the call's signature
__signature__ = inspect.signature(panel)
