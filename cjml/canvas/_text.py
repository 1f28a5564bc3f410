"""Measuring and fitting text in points, the one way the canvas and the support journey do it.

Both figures place text themselves (wrapping, ellipsis) so that what fits on
screen also fits in the PDF and the PNG: widths come from the font's own
advances and from Agg's hinted ones, whichever is wider.
"""

from __future__ import annotations

import functools

FONT = "DejaVu Sans"
ELLIPSIS = "\u2026"
_SAFETY = 1.02  # measured widths are widened a little: renderers differ by a hair

#: The resolution whose hinted glyph widths are measured: the figure's (matplotlib's default).
_MEASURE_DPI = 100


@functools.cache
def _measurers():
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.textpath import TextToPath

    return TextToPath(), RendererAgg(1, 1, _MEASURE_DPI)


@functools.cache
def word_width(word: str, size: float, weight: str) -> float:
    """The width of ``word`` at ``size`` points, in points: the wider of two measures.

    The font's own (unhinted) advances are what a browser and a PDF viewer
    use; the PNG is drawn by Agg, whose hinting rounds each glyph to whole
    pixels, a few percent wider at small sizes.
    """

    if not word:
        return 0.0
    prop = _font(size, weight)
    outline, agg = _measurers()
    unhinted = outline.get_text_width_height_descent(word, prop, ismath=False)[0]
    hinted = agg.get_text_width_height_descent(word, prop, ismath=False)[0] * 72 / _MEASURE_DPI
    return float(max(unhinted, hinted))


def _font(size: float, weight: str):
    """The font of a text look: "normal", "bold" or "italic"."""
    from matplotlib.font_manager import FontProperties

    italic = weight == "italic"
    return FontProperties(
        family=FONT,
        size=size,
        weight="normal" if italic else weight,
        style="italic" if italic else "normal",
    )


@functools.cache
def _space_width(size: float, weight: str) -> float:
    return word_width("a a", size, weight) - word_width("aa", size, weight)


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """The width of ``text`` at ``size`` points, in points (words measured once, then added)."""
    words = text.split(" ")
    total = sum(word_width(w, size, weight) for w in words)
    total += (len(words) - 1) * _space_width(size, weight)
    return total * _SAFETY


def wrap(text: str, width: float, size: float, weight: str = "normal") -> list[str]:
    """``text`` wrapped to ``width`` points at ``size`` (the support journey's figure uses it
    too: one way to measure text)."""
    return wrap_lines(text, width, size, weight)[0]


def wrap_lines(text: str, width: float, size: float, weight: str) -> tuple[list[str], bool]:
    """Greedy wrapping of ``text`` to ``width`` points; and whether a word had to be cut.

    A word wider than the line gets a line of its own, cut with an ellipsis.
    """
    lines: list[str] = []
    broke = False
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}" if line else word
            if text_width(trial, size, weight) <= width:
                line = trial
                continue
            if line:
                lines.append(line)
            if text_width(word, size, weight) <= width:
                line = word
            else:  # a word wider than the line: cut with an ellipsis (read as cut, unlike "-")
                lines.append(ellipsize(word, width, size, weight))
                line = ""
                broke = True
        if line or not lines:
            lines.append(line)
    return lines, broke


def ellipsize(text: str, width: float, size: float, weight: str) -> str:
    """``text`` cut so that it and an ellipsis fit in ``width`` points."""
    text = text.rstrip()
    while text and text_width(text + ELLIPSIS, size, weight) > width:
        text = text[:-1].rstrip()
    return text + ELLIPSIS if text else ELLIPSIS
