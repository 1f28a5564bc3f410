"""Plots of the panel, drawn with matplotlib without pyplot (no global state, no GUI)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from cjml.i18n import gettext as _
from cjml.panel._data import label

__all__ = ["plot_timeline"]

_LOW_CSAT, _HIGH_CSAT = 2, 4


def _figure_axes(ax, figsize):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    # fixed margins (labels left, legend right): a layout engine would double the drawing time;
    # a white face whatever the notebook's rcParams (matplotlib-inline makes it transparent,
    # and dark labels on a dark page cannot be read)
    return Figure(figsize=figsize, facecolor="white").add_axes((0.14, 0.12, 0.70, 0.78))


def plot_timeline(timeline: pd.DataFrame, *, stages=None, cutoff=None, ax=None):
    """Draw one customer's journey: touchpoints over time, coloured by stage.

    Each event is a dot on its touchpoint's row, in the colour of its stage
    (the colours of :meth:`cjml.JourneyMapReport.plot_funnel`); purchases are
    diamonds, satisfaction answers are written beside their event (red when
    low, green when high), and a dashed line marks the cutoff.

    Parameters
    ----------
    timeline : DataFrame
        :func:`cjml.panel.timeline_data`.
    stages : sequence of str, optional
        The journey's stages in order, for the colours and the legend; default
        the stages in the timeline, in order of appearance.
    cutoff : Timestamp, optional
        Where to draw the cutoff line.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure (not registered with pyplot).

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    from matplotlib.lines import Line2D

    from cjml.analytics import _colors

    ax = _figure_axes(ax, (9, 3.4))
    stages = list(stages) if stages is not None else list(pd.unique(timeline["stage"]))
    colors = dict(zip(stages, _colors(len(stages)), strict=True))
    order = list(pd.unique(timeline["touchpoint"]))  # rows in order of first use
    y = np.asarray([order.index(t) for t in timeline["touchpoint"]], dtype=float)
    x = pd.DatetimeIndex(timeline["timestamp"]).tz_convert("UTC").tz_localize(None)
    point_colors = [colors.get(s, "#7f7f7f") for s in timeline["stage"]]
    purchase = timeline["purchase"].to_numpy(dtype=bool)
    ax.scatter(
        x[~purchase],
        y[~purchase],
        c=[c for c, p in zip(point_colors, purchase, strict=True) if not p],
        s=36,
        zorder=3,
        edgecolors="white",
        linewidths=0.5,
    )
    if purchase.any():
        ax.scatter(
            x[purchase],
            y[purchase],
            c=[c for c, p in zip(point_colors, purchase, strict=True) if p],
            marker="D",
            s=64,
            zorder=4,
            edgecolors="black",
            linewidths=0.8,
        )
    if "satisfaction" in timeline.columns:
        for xi, yi, score in zip(x, y, timeline["satisfaction"], strict=True):
            if pd.isna(score):
                continue
            color = (
                "#d62728" if score <= _LOW_CSAT else "#2ca02c" if score >= _HIGH_CSAT else "dimgray"
            )
            ax.annotate(
                _("CSAT {score}").format(score=f"{score:g}"),
                (xi, yi),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize="x-small",
                color=color,
                zorder=5,
            )
    if cutoff is not None:
        ax.axvline(
            pd.Timestamp(cutoff).tz_convert("UTC").tz_localize(None),
            color="gray",
            linestyle="--",
            linewidth=1,
        )
    ax.set_yticks(range(len(order)), [label(t) for t in order], fontsize="small")
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.grid(axis="x", color="#eee")
    ax.tick_params(axis="x", labelsize="small")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colors[s], label=label(s))
        for s in stages
        if s in set(timeline["stage"])
    ]
    handles.append(
        Line2D(
            [],
            [],
            marker="D",
            linestyle="",
            color="white",
            markeredgecolor="black",
            label=_("purchase"),
        )
    )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize="small",
        frameon=False,
        title=_("stage"),
        title_fontsize="small",
    )
    ax.set_facecolor("white")
    ax.set_title(_("Journey timeline"), fontsize="medium", loc="left")
    return ax


def png_bytes(ax, dpi: int = 96) -> bytes:
    """The figure of ``ax`` as PNG bytes on white (for an image widget, readable on dark pages)."""
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", transparent=False)
    return buffer.getvalue()
