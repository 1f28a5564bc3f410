"""The canvas's tables, computed from a journey map report."""

from __future__ import annotations

__all__ = ["build_canvas"]


def build_canvas(report, persona=None):
    """The :class:`~cjml.canvas.JourneyCanvas` of ``persona`` (None: all customers).

    Parameters
    ----------
    report : JourneyMapReport
        The journey map, made by :func:`cjml.journey_map`.
    persona : object, optional
        A value of the report's ``by`` column; None for all customers.

    Returns
    -------
    JourneyCanvas
        The canvas.
    """
    raise NotImplementedError("build_canvas: being built (issue 20)")
