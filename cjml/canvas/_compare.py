"""Two personas side by side: the differences that matter, in words."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cjml.canvas._canvas import JourneyCanvas

__all__ = ["PersonaComparison", "compare_canvases"]


@dataclass
class PersonaComparison:
    """Two personas' canvases and the differences between them that matter.

    Made by :meth:`cjml.JourneyMapReport.compare`.

    Parameters
    ----------
    left, right : JourneyCanvas
        The two canvases.
    differences : DataFrame
        The differences, most important first: ``stage`` (None for the whole
        journey), ``kind`` ("drop_off", "conversion", "emotion", "days",
        "missing", "pain"), ``left``, ``right`` (the two values), ``ratio``,
        ``text`` (the sentence, e.g. "Deal seekers drop off 2.3x more in
        consideration; live chat is missing for them"), ``customers`` (the
        smaller of the two counts behind it).
    """

    left: JourneyCanvas
    right: JourneyCanvas
    differences: pd.DataFrame

    def to_text(self) -> str:
        """The differences as sentences, one per line.

        Returns
        -------
        str
            The text.
        """
        return "\n".join(str(t) for t in self.differences["text"])

    def figure(self, *, lang: str | None = None):
        """The two canvases side by side with the differences underneath.

        Parameters
        ----------
        lang : {"en", "vi"}, optional
            The words' language; default the current one.

        Returns
        -------
        matplotlib.figure.Figure
            The figure, ready to show or save.
        """
        from cjml.canvas._render import comparison_figure

        return comparison_figure(self, lang=lang)

    def _repr_html_(self) -> str:
        from cjml.canvas._render import comparison_html

        return comparison_html(self)


def compare_canvases(
    left: JourneyCanvas, right: JourneyCanvas, *, top: int = 6
) -> PersonaComparison:
    """Find the differences between two canvases that matter (see :class:`PersonaComparison`).

    Parameters
    ----------
    left, right : JourneyCanvas
        Canvases of the same journey map (same stages).
    top : int, default 6
        Differences kept at most.

    Returns
    -------
    PersonaComparison
        The two canvases and their differences.
    """
    raise NotImplementedError("compare_canvases: being built (issue 20)")
