"""Drawing the canvas: one matplotlib figure, saved as SVG, PNG, PDF or HTML."""

from __future__ import annotations

__all__ = [
    "canvas_figure",
    "canvas_html",
    "canvas_svg",
    "canvas_text",
    "canvas_title",
    "comparison_figure",
    "comparison_html",
    "write_canvases",
]


def canvas_title(canvas) -> str:
    """The canvas's title: the persona's name, or "All customers"."""
    raise NotImplementedError


def canvas_text(canvas) -> str:
    """The canvas as plain text."""
    raise NotImplementedError


def canvas_figure(canvas, *, lang=None):
    """The canvas as a matplotlib figure, A4 landscape."""
    raise NotImplementedError


def canvas_svg(canvas, *, lang=None) -> str:
    """The canvas as an SVG document with hover titles."""
    raise NotImplementedError


def canvas_html(canvas) -> str:
    """The canvas as an HTML fragment (inline SVG) for notebooks and the app."""
    raise NotImplementedError


def comparison_figure(comparison, *, lang=None):
    """Two canvases side by side, the differences underneath."""
    raise NotImplementedError


def comparison_html(comparison) -> str:
    """The comparison as an HTML fragment."""
    raise NotImplementedError


def write_canvases(canvases, path, *, force=False, lang=None, support=None, comparisons=()):
    """Write canvases (and optionally the support journey and comparisons) to files."""
    raise NotImplementedError
