"""The journey canvas object: its tables, and the figure and files made from them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["JourneyCanvas", "ROWS"]

#: The canvas's rows, top to bottom; each is a table of :class:`JourneyCanvas`.
ROWS: tuple[str, ...] = ("doing", "feeling", "pains", "opportunities", "flow")


@dataclass
class JourneyCanvas:
    """The journey-map canvas of one persona, or of all customers.

    Made by :meth:`cjml.JourneyMapReport.canvas`. Every row of the canvas is
    a plain DataFrame (see :meth:`to_frame`); ``figure``, ``save`` and the
    notebook display draw them as one picture, stages as columns.

    Parameters
    ----------
    stages : tuple of str
        The journey map's stages, in order: the canvas's columns.
    persona : object or None
        The persona (the value of ``by``), or None for all customers.
    by : str or None
        The column the personas come from (e.g. ``"segment"``).
    doing : DataFrame
        *Doing*: per stage the top touchpoints: ``stage``, ``rank``,
        ``touchpoint``, ``channel`` ("online", "offline" or None when the
        journey map does not know it), ``share`` (of the stage's events),
        ``customers`` (who met it in the stage).
    feeling : DataFrame
        *Feeling*: one row per stage: ``stage``, ``emotion`` (-1 to 1, negative
        answers weighted ``negative_weight`` times; NaN without answers),
        ``emotion_low``, ``emotion_high`` (its 90% interval), ``answers``,
        ``respondents`` (customers who answered any survey in the stage),
        ``customers`` (in the stage), ``answered_share``, ``csat_mean``,
        ``nps``, ``ces_mean``, ``negative_share`` (of answers),
        ``few`` (respondents under ``min_customers``), ``peak`` and ``end``
        (the peak-end marks: the most intense stage and the last one with
        answers).
    pains : DataFrame
        *Pain points*: ``stage``, ``kind`` ("drop_off", "wait", "effort",
        "unresolved", "bad_experience"), ``text`` (in words), ``metric``,
        ``customers`` (behind the number), ``churn_explained`` (share of the
        churn model's push towards drop-off for the stage's customers that
        this pain's features carry; NaN without a model), ``rank`` (1 = the
        pain that explains most churn on the whole canvas), ``few``.
    opportunities : DataFrame
        *Opportunities*: missing touchpoints with positive, non-uncertain
        estimated effects: ``stage``, ``touchpoint``, ``risk_reduction``,
        ``risk_reduction_low``, ``risk_reduction_high``, ``customers`` (the
        estimate covers), ``evidence`` (customers who had the touchpoint in
        the log, where the estimate learns from), ``current_use``, ``text``,
        ``few``. Empty without a model.
    flow : DataFrame
        *Time and flow*: one row per stage: ``stage``, ``customers``,
        ``reached``, ``median_days``, ``moved_on``, ``dropped_off``,
        ``pending`` (counts of the customers who reached the stage),
        ``moved_on_share``, ``dropped_off_share``, ``pending_share``
        (adding up to 1), ``conversion``, ``drop_off``, ``few``.
    info : dict
        ``cutoff``, ``horizon``, ``n_customers`` (of the persona),
        ``n_events``, ``journey_map`` (its name), ``negative_weight``,
        ``min_customers``, ``pains_ranked_by`` ("churn model" or "size"),
        ``opportunities_from`` (None without a model), ``columns`` (the survey
        columns the log has).
    """

    stages: tuple[str, ...]
    persona: object
    by: str | None
    doing: pd.DataFrame
    feeling: pd.DataFrame
    pains: pd.DataFrame
    opportunities: pd.DataFrame
    flow: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The canvas's title: the persona's name, or "All customers"."""
        from cjml.canvas._render import canvas_title

        return canvas_title(self)

    def to_frame(self, row: str = "flow") -> pd.DataFrame:
        """One row of the canvas as a table.

        Parameters
        ----------
        row : {"doing", "feeling", "pains", "opportunities", "flow"}, default "flow"
            Which row.

        Returns
        -------
        DataFrame
            A copy of the row's table (its columns are described in the class
            documentation).
        """
        if row not in ROWS:
            close = difflib.get_close_matches(str(row), ROWS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown canvas row {row!r}; choose one of {list(ROWS)!r}.{hint}")
        return getattr(self, row).copy()

    def to_text(self) -> str:
        """The canvas in plain text, one block per stage, for terminals and logs.

        Returns
        -------
        str
            The text.
        """
        from cjml.canvas._render import canvas_text

        return canvas_text(self)

    def figure(self, *, lang: str | None = None):
        """The canvas as a matplotlib figure, A4 landscape.

        Parameters
        ----------
        lang : {"en", "vi"}, optional
            The words' language; default the current one (:mod:`cjml.i18n`).

        Returns
        -------
        matplotlib.figure.Figure
            The figure, ready to show or save.
        """
        from cjml.canvas._render import canvas_figure

        return canvas_figure(self, lang=lang)

    def to_svg(self, *, lang: str | None = None) -> str:
        """The canvas as an SVG document, with the evidence of every number on hover.

        Parameters
        ----------
        lang : {"en", "vi"}, optional
            The words' language; default the current one.

        Returns
        -------
        str
            The text.
        """
        from cjml.canvas._render import canvas_svg

        return canvas_svg(self, lang=lang)

    def save(self, path, *, force: bool = False, lang: str | None = None) -> Path:
        """Write the canvas to a file, its format from the suffix.

        Parameters
        ----------
        path : str or Path
            ``.html`` (self-contained, no network), ``.svg``, ``.png`` or
            ``.pdf`` (A4 landscape).
        force : bool, default False
            Replace an existing file; without it an existing file is an error.
        lang : {"en", "vi"}, optional
            The words' language; default the current one.

        Returns
        -------
        Path
            The file written.
        """
        from cjml.canvas._render import write_canvases

        return write_canvases([self], path, force=force, lang=lang)[0]

    def _repr_html_(self) -> str:
        from cjml.canvas._render import canvas_html

        return canvas_html(self)
