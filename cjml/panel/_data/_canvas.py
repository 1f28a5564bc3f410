"""The Overview tab's journey canvas: the persona selector's choices and the note under it.

The canvases and the support journey themselves come from :mod:`cjml.canvas` and
:mod:`cjml.support`, computed once per panel by :class:`~cjml.panel.PanelData`
(:meth:`~cjml.panel.PanelData.canvas`, :attr:`~cjml.panel.PanelData.support_journey`);
this module says how the tab offers and explains them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cjml.i18n import format_number
from cjml.i18n import gettext as _
from cjml.panel._data._common import label

__all__ = ["canvas_note", "persona_choices"]


def persona_choices(personas: Sequence) -> list[tuple[str, object]]:
    """The persona selector's choices: all customers first, then each persona.

    Parameters
    ----------
    personas : sequence
        The journey map's personas (:attr:`cjml.JourneyMapReport.personas`).

    Returns
    -------
    list of (str, object)
        ``(name shown, persona)`` pairs; the first is "All customers" with
        the persona None.

    Examples
    --------
    >>> from cjml.panel._data._canvas import persona_choices
    >>> persona_choices(["deal_seeker", "regular"])
    [('All customers', None), ('Deal seeker', 'deal_seeker'), ('Regular', 'regular')]
    """
    return [(_("All customers"), None)] + [(label(p), p) for p in personas]


def canvas_note(info: dict) -> str:
    """How to read the canvas, in one paragraph of the current language.

    Parameters
    ----------
    info : dict
        :attr:`cjml.canvas.JourneyCanvas.info` (``negative_weight``,
        ``min_customers``).

    Returns
    -------
    str
        The note: the five rows, the weight of negative answers, the hover
        evidence and the grey cells.
    """
    weight = float(info.get("negative_weight", 12.0))
    return _(
        "Stages run left to right. Under each: what customers do there, how they feel (one "
        "negative answer weighs like {weight} positive ones; the peak and the end are marked), "
        "the pain points ranked by the churn they explain, the missing touchpoints, and time "
        "and flow. Hover a number to see the customers behind it; grey cells rest on fewer "
        "than {few} customers."
    ).format(
        weight=format_number(weight, 0 if weight.is_integer() else 1),
        few=format_number(int(info.get("min_customers", 30))),
    )
