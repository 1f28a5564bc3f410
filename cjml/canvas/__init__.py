"""The journey-map canvas: the one picture of a journey, drawn from the data.

A :class:`JourneyCanvas` shows, per persona (or for all customers), the stages
as columns and five rows under them: what customers do there (*Doing*), how
they feel (*Feeling*, an emotion curve from CSAT, NPS and CES), where it hurts
(*Pain points*), the missing touchpoints (*Opportunities*) and how long they
stay and where they go (*Time and flow*). Build one with
:meth:`cjml.JourneyMapReport.canvas`; compare two personas with
:meth:`cjml.JourneyMapReport.compare`.

Layout of the package: ``_data`` computes the canvas's tables from a journey
map, ``_compare`` finds the differences between two personas, ``_render``
draws the figure (matplotlib: SVG, PNG, PDF, HTML) and ``_canvas`` holds the
object users get.
"""

from cjml.canvas._canvas import JourneyCanvas
from cjml.canvas._compare import PersonaComparison
from cjml.canvas._render import write_canvases

__all__ = ["JourneyCanvas", "PersonaComparison", "write_canvases"]
