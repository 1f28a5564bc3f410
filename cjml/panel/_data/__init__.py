"""The headless twin of the marketer's panel: every table, number and state it shows.

The widgets in :mod:`cjml.panel._app` only lay these out and wire them to
buttons; everything here is plain pandas and numpy, tested on its own, and
usable from a script. One module per view of the panel, plus what they share:

========================  ==============================================================
``_common.py``            :class:`PanelError`, the wording (:func:`label`, ``pct``,
                          ``points``), :data:`NO_TOUCHPOINT` and the scoring cutoff.
``_table.py``             :func:`customer_table`: one row per scored customer, with the
                          current stage and the segment column beside the scores; the
                          overview and the list both read it.
``_overview.py``          Overview tab: :func:`overview_data` (:class:`Overview`), the
                          risk distribution and counts per band, stage and touchpoint.
``_canvas.py``            Overview tab's journey canvas: :func:`persona_choices` (the
                          persona selector) and :func:`canvas_note`; the canvases and
                          the support journey are :class:`PanelData`'s, computed once.
``_list.py``              At-risk list tab: :func:`filter_customers`,
                          :func:`sort_customers`, :func:`paginate` and the cached
                          :class:`CustomerList` (:class:`CustomerPage`), which answers a
                          filtered, sorted page of a million customers in milliseconds.
``_customer.py``          Customer tab: :func:`timeline_data`, :func:`customer_profile`
                          (:class:`CustomerProfile`: risk, next stage, drivers,
                          recommendations and the expected risk after every eligible
                          touchpoint) and :func:`what_if` (:class:`WhatIf`), a lookup.
``_actions.py``           Actions tab: :class:`ActionBook`, approve, override, skip (in
                          bulk after :meth:`~ActionBook.plan_bulk`, :class:`BulkPlan`),
                          the append-only :class:`DecisionLog` replayed at restart, and
                          the safe CSV export to a new dated file.
``_panel_data.py``        :class:`PanelData`: loads, scores and prepares all of the above
                          once, for :func:`cjml.panel`.
========================  ==============================================================

Each module imports only ``_common`` and the modules named before it (never
this package), so the parts stay free of import cycles.
"""

from cjml.panel._data._actions import ActionBook, BulkPlan, DecisionLog, DecisionLogWarning
from cjml.panel._data._canvas import canvas_note, persona_choices
from cjml.panel._data._common import NO_TOUCHPOINT, PanelError, label, pct, points
from cjml.panel._data._customer import (
    CustomerProfile,
    WhatIf,
    customer_profile,
    timeline_data,
    what_if,
)
from cjml.panel._data._list import (
    DEFAULT_REACH_THRESHOLD,
    SORT_KEYS,
    CustomerList,
    CustomerPage,
    default_sort,
    filter_customers,
    likely_gone,
    paginate,
    sort_customers,
)
from cjml.panel._data._overview import (
    Overview,
    flag_rule,
    funnel_data,
    opportunities_data,
    overview_data,
)
from cjml.panel._data._panel_data import PanelData
from cjml.panel._data._table import customer_table

__all__ = [
    "DEFAULT_REACH_THRESHOLD",
    "NO_TOUCHPOINT",
    "SORT_KEYS",
    "ActionBook",
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
    "filter_customers",
    "flag_rule",
    "funnel_data",
    "label",
    "likely_gone",
    "opportunities_data",
    "overview_data",
    "paginate",
    "pct",
    "persona_choices",
    "points",
    "sort_customers",
    "timeline_data",
    "what_if",
]
