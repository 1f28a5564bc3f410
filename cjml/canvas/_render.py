"""Drawing the canvas: one matplotlib figure, saved as SVG, PNG, PDF or HTML.

The canvas is an A4 landscape page: a title, the stages as column headers,
the five rows under them (labels on the left), a legend and a footnote. Every
cell's words are made once (:func:`_cells`) and drawn by the figure and by
:func:`canvas_text` alike.

Text is laid out here, not by matplotlib: each cell's items are wrapped to
the cell's width measured with the font's own advances (the widths a browser
and a PDF viewer use), shrunk within limits, then cut with an ellipsis, and
every line is its own text artist on a baseline grid of 1.32 em, so no two
lines overlap in the PNG, the PDF or a browser showing the SVG. Every text
artist has a gid ``<figure>.<area>.<item>.<line>`` (its cell's rectangle is
``<figure>.<area>.cell``); the SVG gives the numbers' artists a ``<title>``
with the counts behind them, shown on hover.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml.canvas._text import ELLIPSIS, FONT, ellipsize, text_width, wrap_lines
from cjml.i18n import (
    N_,
    current,
    format_days,
    format_duration,
    format_moment,
    format_number,
    format_percent,
    format_tenths,
    label_text,
    language,
    ngettext,
)
from cjml.i18n import gettext as _

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

#: A4 landscape, in inches.
PAGE = (11.69, 8.27)
_RC: Any = {
    "font.family": FONT,
    "svg.fonttype": "none",
    "svg.hashsalt": "cjml-canvas",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}
#: Smallest text on the page, in points: still readable on paper.
MIN_SIZE = 5.5
# Baseline to baseline, in em: more than the font's ascent + descent (1.164 em, a browser's
# box) and than the ink of a Vietnamese line (stacked accents reach 1.08 em, descenders 0.22).
_LINE = 1.32
_ASCENT, _DESCENT = 1.1, 0.24  # room above the first baseline and below the last, in em

_INK = "#222222"
_MUTED = "#5f5f5f"
_RULE = "#c8c8c8"
_FEW_FACE = "#e9e9e9"
_FEW_INK = "#7a7a7a"
_HEAD_FACE = "#24476b"
_ONLINE = "#1f77b4"
_OFFLINE = "#8c564b"
_GOOD = "#2a8a3e"
_BAD = "#c0392b"
_FLOW_COLORS = ("#2ca02c", "#d62728", "#b9b9b9")  # moved on, dropped off, pending
_BAND = "#9ecae1"
_CURVE = "#24476b"

_ROW_NAMES = {
    "doing": N_("Doing"),
    "feeling": N_("Feeling"),
    "pains": N_("Pain points"),
    "opportunities": N_("Opportunities"),
    "flow": N_("Time and flow"),
}
_ROW_WEIGHTS = {"doing": 0.75, "feeling": 1.4, "pains": 1.05, "opportunities": 1.0, "flow": 0.8}
_SYMBOL = {"online": "\u25cf", "offline": "\u25a0"}
_PEAK_MARK, _END_MARK = "\u2605", "\u25c6"
_DASH = "\u2013"
_MINUS = "\u2212"


def _prefix(*parts: Any) -> str:
    """The ids' prefix of one picture: the same picture, the same ids (a page keeps them
    unique by adding a counter when a picture comes twice)."""
    digest = hashlib.sha1("\x1f".join(repr(p) for p in parts).encode("utf-8")).hexdigest()
    return f"cj{digest[:8]}"


def _canvas_prefix(canvas) -> str:
    return _prefix("canvas", canvas.persona, canvas.by, tuple(canvas.stages), current().language)


def _comparison_prefix(comparison) -> str:
    return _prefix(
        "comparison",
        _canvas_prefix(comparison.left),
        _canvas_prefix(comparison.right),
        current().language,
    )


# =========================================================================== words
def _missing_persona(persona) -> bool:
    return bool(_missing(persona))


def canvas_title(canvas) -> str:
    """The canvas's title: the persona's name, or "All customers".

    Parameters
    ----------
    canvas : JourneyCanvas
        The canvas.

    Returns
    -------
    str
        The persona as a person reads it ("Deal seekers"), in the current
        language.
    """
    if _missing_persona(canvas.persona):
        return _("All customers")
    return label_text(str(canvas.persona))


def _heading(canvas) -> str:
    return _("Journey canvas: {persona}").format(persona=canvas_title(canvas))


def _subtitle(canvas) -> str:
    info = canvas.info or {}
    n = int(info.get("n_customers") or 0)
    parts = {"customers": format_number(n), "cutoff": _DASH, "horizon": _DASH}
    if info.get("cutoff") is not None:
        parts["cutoff"] = format_moment(info["cutoff"])
    if info.get("horizon") is not None:
        from cjml.labels import to_timedelta

        parts["horizon"] = format_days(to_timedelta(info["horizon"]))
    return ngettext(
        "{customers} customer, cutoff {cutoff}, churn horizon {horizon}",
        "{customers} customers, cutoff {cutoff}, churn horizon {horizon}",
        n,
    ).format(**parts)


def _missing(value) -> bool:
    return value is None or (np.ndim(value) == 0 and pd.isna(value))


def _count(value: Any) -> int:
    return 0 if _missing(value) else int(value)


def _float(value: Any) -> float:
    return float(value)


def _share(value: Any) -> str:
    """A share as a whole percentage ("34%"), an en dash when missing."""
    return _DASH if _missing(value) else format_percent(float(value), 0)


def _signed(value: float) -> str:
    """An emotion as "+0.42" / "−0.42" in the locale."""
    text = format_number(abs(float(value)), 2)
    if round(float(value), 2) == 0:
        return text
    return ("+" if value > 0 else _MINUS) + text


def _few_item(canvas, n: int, **style) -> _Item:
    """The grey words of a cell with thin evidence, its rule on hover."""
    limit = int((canvas.info or {}).get("min_customers", 30) or 30)
    title = _("{n} behind this cell, fewer than {limit}: read it with care.").format(
        n=_customers(n), limit=format_number(limit)
    )
    style.setdefault("color", _FEW_INK)
    return _Item(_few_text(n), title=title, **style)


def _few_text(n: int) -> str:
    return _("few customers: {n}").format(n=format_number(n))


def _customers(n: int) -> str:
    return ngettext("{n} customer", "{n} customers", n).format(n=format_number(n))


def round_to_100(shares: Sequence[float]) -> list[int]:
    """Shares as whole percentages that add up to 100 (largest remainders).

    Parameters
    ----------
    shares : sequence of float
        Shares adding up to 1 (or all zero / missing: then all 0).

    Returns
    -------
    list of int
        Percentages, adding up to 100 unless every share is 0.
    """
    values = np.nan_to_num(np.asarray(shares, dtype=float)).clip(0, None)
    total = values.sum()
    if total <= 0:
        return [0] * len(values)
    raw = values / total * 100
    out = np.floor(raw).astype(int)
    order = np.argsort(-(raw - out), kind="stable")
    for i in order[: 100 - int(out.sum())]:
        out[i] += 1
    return [int(v) for v in out]


@dataclass
class _Item:
    """One paragraph of a cell: its words, how they look, the evidence behind them."""

    text: str
    title: str | None = None
    color: str = _INK
    weight: str = "normal"  # or "bold", "italic"
    marker: str | None = None
    marker_color: str = _INK
    scale: float = 1.0
    max_lines: int = 2


@dataclass
class _Cell:
    """What one cell shows: its items, whether its evidence is thin, its bar."""

    items: list[_Item] = field(default_factory=list)
    few: bool = False
    title: str | None = None
    bar: list[tuple[float, str, str]] | None = None  # flow: share, colour, title per segment
    top: list[_Item] = field(default_factory=list)  # feeling: above the curve
    bottom: list[_Item] = field(default_factory=list)  # feeling: below it


def _all_few(rows: pd.DataFrame) -> bool:
    """Every row of a cell rests on few customers."""
    return bool(len(rows)) and "few" in rows and bool(rows["few"].astype(bool).all())


def _by_stage(frame: pd.DataFrame | None, stage) -> pd.DataFrame:
    if frame is None or frame.empty or "stage" not in frame:
        return pd.DataFrame()
    return frame[frame["stage"] == stage]


def _doing_cell(canvas, stage, few: int | None) -> _Cell:
    rows = _by_stage(canvas.doing, stage)
    if "rank" in rows:
        rows = rows.sort_values("rank")
    cell = _Cell(few=few is not None)
    for row in rows.head(3).itertuples(index=False):
        channel = getattr(row, "channel", None)
        channel = None if _missing(channel) else str(channel)
        name = label_text(row.touchpoint)
        customers = _count(getattr(row, "customers", None))
        share = _share(row.share)
        title = ngettext(
            "{touchpoint}: {share} of the stage's events; {n} customer met it here",
            "{touchpoint}: {share} of the stage's events; {n} customers met it here",
            customers,
        ).format(touchpoint=name, share=share, n=format_number(customers))
        cell.items.append(
            _Item(
                _("{touchpoint} {share}").format(touchpoint=name, share=share),
                title=title,
                marker=_SYMBOL.get(channel or "", "\u00b7"),
                marker_color={"online": _ONLINE, "offline": _OFFLINE}.get(channel or "", _MUTED),
            )
        )
    if not cell.items:
        cell.items.append(_Item(_("no events"), color=_MUTED))
    if few is not None:
        cell.items.append(_few_item(canvas, few, scale=0.9, max_lines=1))
    return cell


def _feeling_cell(canvas, stage) -> _Cell:
    rows = _by_stage(canvas.feeling, stage)
    cell = _Cell()
    if rows.empty or _missing(rows["emotion"].iloc[0]):
        cell.top.append(_Item(_("no answers"), color=_MUTED, max_lines=2))
        customers = _count(rows["customers"].iloc[0]) if not rows.empty else 0
        cell.title = _("No survey answers from the stage's {n}.").format(n=_customers(customers))
        return cell
    r = rows.iloc[0]
    value = _signed(r["emotion"])
    peak, end = bool(r.get("peak", False)), bool(r.get("end", False))
    if peak and end:
        top = _("{value} peak and end").format(value=value)
    elif peak:
        top = _("{value} peak").format(value=value)
    elif end:
        top = _("{value} end").format(value=value)
    else:
        top = value
    respondents = _count(r.get("respondents"))
    answers = _count(r.get("answers"))
    evidence = [
        ngettext(
            "{n} customer answered ({share} of the stage's customers).",
            "{n} customers answered ({share} of the stage's customers).",
            respondents,
        ).format(n=format_number(respondents), share=_share(r.get("answered_share"))),
        ngettext("{n} answer in all.", "{n} answers in all.", answers).format(
            n=format_number(answers)
        ),
        _("Emotion {value}, 90% interval {low} to {high}.").format(
            value=value,
            low=_signed(r.get("emotion_low", r["emotion"])),
            high=_signed(r.get("emotion_high", r["emotion"])),
        ),
    ]
    if not _missing(r.get("negative_share")):
        evidence.append(_("Negative answers: {share}.").format(share=_share(r["negative_share"])))
    cell.title = "\n".join(evidence)
    cell.few = bool(r.get("few", False))
    color = _BAD if float(r["emotion"]) < 0 else _GOOD
    cell.top.append(
        _Item(top, title=cell.title, color=_FEW_INK if cell.few else color, weight="bold")
    )
    if cell.few:
        cell.bottom.append(_few_item(canvas, respondents))
    else:
        cell.bottom.append(
            _Item(
                _("{share} answered ({n})").format(
                    share=_share(r.get("answered_share")),
                    n=format_number(respondents),
                ),
                title=cell.title,
                color=_MUTED,
            )
        )
    return cell


def _pains_cell(canvas, stage) -> _Cell:
    rows = _by_stage(canvas.pains, stage)
    if "rank" in rows:
        rows = rows.sort_values("rank")
    cell = _Cell()
    by_model = (canvas.info or {}).get("pains_ranked_by") == "churn model"
    shown = rows.head(3)
    all_few = _all_few(shown)  # then the cell is grey and says so once
    for row in shown.itertuples(index=False):
        customers = _count(getattr(row, "customers", None))
        few = bool(getattr(row, "few", False))
        explained = getattr(row, "churn_explained", np.nan)
        if by_model and not _missing(explained):
            title = ngettext(
                "Rank {rank}: explains {share} of the churn model's push towards drop-off; "
                "{n} customer behind it.",
                "Rank {rank}: explains {share} of the churn model's push towards drop-off; "
                "{n} customers behind it.",
                customers,
            ).format(
                rank=_count(row.rank),
                share=format_percent(float(explained), 0),
                n=format_number(customers),
            )
        else:
            title = ngettext(
                "Rank {rank} by size; {n} customer behind it.",
                "Rank {rank} by size; {n} customers behind it.",
                customers,
            ).format(rank=_count(row.rank), n=format_number(customers))
        text = str(row.text)
        if few and not all_few:
            text = _("{pain} ({few})").format(pain=text, few=_few_text(customers))
        cell.items.append(
            _Item(
                text,
                title=title,
                color=_FEW_INK if few else _INK,
                marker=format_number(_count(row.rank)),
                marker_color=_FEW_INK if few else _BAD,
                max_lines=3,
            )
        )
    cell.few = all_few
    if all_few:
        cell.items.append(_few_item(canvas, int(shown["customers"].max()), max_lines=1))
    if not cell.items:
        cell.items.append(_Item(_("none found"), color=_MUTED))
    return cell


def _points(values) -> list[str]:
    """Risk differences as points with one decimal, a true minus sign when negative."""
    return [str(t).replace("-", _MINUS) for t in format_tenths(np.asarray(values) * 100)]


#: The statuses of ``canvas.opportunities``: proven missing touchpoints, then those worth a test.
MISSING, WORTH_TESTING = "missing", "worth testing"


def _opportunities_cell(canvas, stage) -> _Cell:
    rows = _by_stage(canvas.opportunities, stage)
    cell = _Cell()
    if (canvas.info or {}).get("opportunities_from") is None and (
        canvas.opportunities is None or canvas.opportunities.empty
    ):
        cell.items.append(_Item(_("needs a model"), color=_MUTED))
        return cell
    if not rows.empty:
        status = rows["status"] if "status" in rows else pd.Series(MISSING, index=rows.index)
        rows = rows.assign(testing_=(status == WORTH_TESTING).to_numpy())
        rows = rows.sort_values(["testing_", "risk_reduction"], ascending=[True, False])
        # proven ones first (at most 3), then at most 2 worth testing, 3 in all
        rows = pd.concat([rows[~rows["testing_"]].head(3), rows[rows["testing_"]].head(2)])
        rows = rows.head(3)
    note = False
    all_few = _all_few(rows)
    for row in rows.itertuples(index=False):
        testing = bool(row.testing_)
        if testing and not note:  # heads the uncertain ones: cut last, if at all
            note = True
            cell.items.append(
                _Item(
                    _("not enough evidence: test it with a control group"),
                    color=_FEW_INK,
                    weight="italic",
                    scale=0.9,
                    max_lines=3,
                )
            )
        name = label_text(row.touchpoint)
        evidence = _count(getattr(row, "evidence", None))
        covered = _count(getattr(row, "customers", None))
        points, low, high = _points(
            [row.risk_reduction, row.risk_reduction_low, row.risk_reduction_high]
        )
        few = bool(getattr(row, "few", False))
        # "2.0–6.2"; "−0.3 to 1.2" when the interval reaches below zero (a dash beside a
        # minus sign misreads)
        interval = (
            _("{low} to {high}").format(low=low, high=high)
            if low.startswith(_MINUS)
            else f"{low}{_DASH}{high}"
        )
        text = ngettext(
            "{touchpoint}\n{points} pts ({interval}), {n} customer",
            "{touchpoint}\n{points} pts ({interval}), {n} customers",
            evidence,
        ).format(
            touchpoint=name,
            points=points,
            interval=interval,
            n=format_number(evidence),
        )
        values = {
            "touchpoint": label_text(row.touchpoint, lower=True),
            "points": points,
            "low": low,
            "high": high,
            "covered": _customers(covered),
            "n": format_number(evidence),
        }
        if testing:
            title = ngettext(
                "Worth testing: adding {touchpoint} might cut churn risk by {points} points for "
                "{covered}, but the 90% interval ({low} to {high}) includes no effect; learned "
                "from {n} customer who had it.",
                "Worth testing: adding {touchpoint} might cut churn risk by {points} points for "
                "{covered}, but the 90% interval ({low} to {high}) includes no effect; learned "
                "from {n} customers who had it.",
                evidence,
            ).format(**values)
        else:
            title = ngettext(
                "Adding {touchpoint} would cut churn risk by {points} points (90% interval "
                "{low} to {high}) for {covered}; learned from {n} customer who had it.",
                "Adding {touchpoint} would cut churn risk by {points} points (90% interval "
                "{low} to {high}) for {covered}; learned from {n} customers who had it.",
                evidence,
            ).format(**values)
        if few and not all_few:
            text = _("{opportunity} ({few})").format(opportunity=text, few=_few_text(evidence))
        grey = few or testing
        cell.items.append(
            _Item(
                text,
                title=title,
                color=_FEW_INK if grey else _INK,
                weight="italic" if testing else "normal",
                marker="?" if testing else "+",
                marker_color=_FEW_INK if grey else _GOOD,
                max_lines=4,
            )
        )
    cell.few = all_few
    if all_few:
        cell.items.append(_few_item(canvas, int(rows["evidence"].max()), max_lines=1))
    if not cell.items:
        cell.items.append(_Item(_("none found"), color=_MUTED))
    return cell


def _flow_cell(canvas, stage) -> _Cell:
    rows = _by_stage(canvas.flow, stage)
    cell = _Cell()
    if rows.empty:
        cell.items.append(_Item(_("no customers"), color=_MUTED))
        return cell
    r = rows.iloc[0]
    reached = _count(r.get("reached", r.get("customers")))
    counts = [_count(r.get(k)) for k in ("moved_on", "dropped_off", "pending")]
    shares = [r.get(f"{k}_share", np.nan) for k in ("moved_on", "dropped_off", "pending")]
    percents = round_to_100(shares)
    shown = [format_percent(p / 100, 0) for p in percents]
    title = _(
        "Of {reached} who reached the stage: {moved} moved on, {dropped} dropped off, "
        "{pending} pending."
    ).format(
        reached=format_number(reached),
        moved=format_number(counts[0]),
        dropped=format_number(counts[1]),
        pending=format_number(counts[2]),
    )
    names = (_("moved on"), _("dropped off"), _("pending"))
    cell.bar = [
        (
            float(np.nan_to_num(s)),
            c,
            _("{what}: {share} ({n})").format(what=name, share=text, n=format_number(n)),
        )
        for s, c, name, text, n in zip(shares, _FLOW_COLORS, names, shown, counts, strict=True)
    ]
    cell.few = bool(r.get("few", False))
    cell.title = title
    cell.items.append(
        _Item(
            _("moved on {moved} · dropped off {dropped} · pending {pending}").format(
                moved=shown[0], dropped=shown[1], pending=shown[2]
            ),
            title=title,
            color=_FEW_INK if cell.few else _INK,
            max_lines=3,
        )
    )
    median = r.get("median_days")
    if not _missing(median):
        cell.items.append(
            _Item(
                _("median {days}").format(
                    days=format_duration(
                        median
                        if isinstance(median, pd.Timedelta)
                        else pd.Timedelta(days=_float(median))
                    )
                ),
                title=title,
                color=_FEW_INK if cell.few else _MUTED,
            )
        )
    if cell.few:
        cell.items.append(_few_item(canvas, reached, max_lines=1))
    return cell


def _cells(canvas) -> dict[tuple[str, int], _Cell]:
    """Every cell of the canvas, by (row, stage position): the words the figure and text show."""
    flow_few: dict[Any, int] = {}
    if canvas.flow is not None and not canvas.flow.empty and "few" in canvas.flow:
        for r in canvas.flow.itertuples(index=False):
            if bool(r.few):
                flow_few[r.stage] = _count(getattr(r, "reached", getattr(r, "customers", 0)))
    out: dict[tuple[str, int], _Cell] = {}
    for k, stage in enumerate(canvas.stages):
        out["doing", k] = _doing_cell(canvas, stage, flow_few.get(stage))
        out["feeling", k] = _feeling_cell(canvas, stage)
        out["pains", k] = _pains_cell(canvas, stage)
        out["opportunities", k] = _opportunities_cell(canvas, stage)
        out["flow", k] = _flow_cell(canvas, stage)
    return out


def _row_notes(canvas, row: str) -> list[str]:
    info = canvas.info or {}
    if row == "feeling":
        weight = float(info.get("negative_weight", 12.0) or 12.0)
        shown = format_number(weight, 0 if weight.is_integer() else 1)
        return [_("negative answers weigh {weight}×").format(weight=shown)]
    if row == "pains":
        if info.get("pains_ranked_by") == "churn model":
            return [_("1 = explains most churn")]
        return [_("1 = largest (no churn model)")]
    if row == "opportunities":
        return [_("churn risk cut, 90% interval, customers")]
    if row == "doing":
        return [_("top touchpoints, share of events")]
    return []


def _footnotes(canvas) -> list[str]:
    info = canvas.info or {}
    notes = [
        _(
            "Grey: fewer than {n} customers behind the number, read with care. Hover a number "
            "in the HTML page for its counts."
        ).format(n=format_number(int(info.get("min_customers", 30) or 30)))
    ]
    if info.get("pains_ranked_by") == "churn model":
        notes.append(_("Pain points are ranked by how much churn they explain in the churn model."))
    else:
        notes.append(_("Pain points are ranked by size: no churn model was given."))
    if info.get("cutoff") is not None:
        notes.append(_("Data up to {cutoff}.").format(cutoff=format_moment(info["cutoff"])))
    return notes


# =========================================================================== text
def _row_line(row: str, words: Sequence[str]) -> str:
    return _("{row}: {items}").format(row=_(_ROW_NAMES[row]), items="; ".join(words))


def canvas_text(canvas) -> str:
    """The canvas as plain text, one block per stage.

    Parameters
    ----------
    canvas : JourneyCanvas
        The canvas.

    Returns
    -------
    str
        The title, the subtitle, then per stage its five rows, then the notes.
    """
    cells = _cells(canvas)
    lines = [_heading(canvas), _subtitle(canvas), ""]
    for k, stage in enumerate(canvas.stages):
        lines.append(label_text(stage))
        for row in _ROW_NAMES:
            cell = cells[row, k]
            items = cell.top + cell.bottom + cell.items
            words = []
            for item in items:  # the marker (rank, +, ?) before the words; one line each
                marker = f"{item.marker} " if item.marker and item.marker != "\u00b7" else ""
                words.append(marker + item.text.replace("\n", " "))
            lines.append("  " + _row_line(row, words))
        lines.append("")
    for row in ("feeling", "pains"):
        lines.append(_row_line(row, _row_notes(canvas, row)))
    lines.extend(_footnotes(canvas))
    return "\n".join(lines)


@dataclass
class _Placed:
    item: _Item
    size: float
    lines: list[str]
    indent: float  # points from the box's left edge to the text


def _fit(
    items: Sequence[_Item], width: float, height: float, size_max: float, size_min: float
) -> tuple[list[_Placed], float]:
    """Lay out ``items`` in a box (points): wrap, shrink down to ``size_min``, then cut.

    Text shrinks until it fits the box's height (down to ``size_min``) and
    until no item needs more than its ``max_lines`` lines (down to 2 points
    less than ``size_max`` only: a long name is cut rather than made tiny).
    Each item keeps at most ``max_lines`` lines, the last one ellipsised;
    items that do not fit at the smallest size are cut or left out. Returns
    the lines and the size chosen.
    """
    size_min = max(size_min, MIN_SIZE)
    size = max(size_max, size_min)
    lines_floor = max(size_min, size - 2)
    while True:
        placed = []
        total = 0.0
        cut = broken = False  # lines cut short; words cut in two (worse: shrink further)
        for item in items:
            s = size * item.scale
            indent = 0.0
            if item.marker:
                indent = text_width(item.marker, s, "bold") + 0.35 * s
            room = max(width - indent, s)
            lines, broke = wrap_lines(item.text, room, s, item.weight)
            broken = broken or broke
            if len(lines) > item.max_lines:
                cut = True
                kept = lines[: item.max_lines]
                kept[-1] = ellipsize(kept[-1], room, s, item.weight)
                lines = kept
            placed.append(_Placed(item, s, lines, indent))
            total += _block(len(lines), s) + _gap(s)
        total -= _gap(size) if placed else 0.0
        fits = total <= height and not broken and (not cut or size <= lines_floor)
        if fits or size <= size_min:
            break
        size = max(size_min, size - 0.5)
    if total <= height:
        return placed, size
    kept_items: list[_Placed] = []
    used = 0.0
    for p in placed:
        room = height - used
        n = 0
        while n < len(p.lines) and _block(n + 1, p.size) <= room:
            n += 1
        if n == 0:
            break
        if n < len(p.lines):
            width_room = max(width - p.indent, p.size)
            p.lines = p.lines[:n]
            p.lines[-1] = ellipsize(p.lines[-1], width_room, p.size, p.item.weight)
            kept_items.append(p)
            break
        kept_items.append(p)
        used += _block(n, p.size) + _gap(p.size)
    if len(kept_items) < len(placed) and kept_items:
        last = kept_items[-1]
        if not last.lines[-1].endswith(ELLIPSIS):
            width_room = max(width - last.indent, last.size)
            last.lines[-1] = ellipsize(last.lines[-1], width_room, last.size, last.item.weight)
    return kept_items, size


def _block(n_lines: int, size: float) -> float:
    """The height of ``n_lines`` lines at ``size`` points, in points."""
    return ((n_lines - 1) * _LINE + _ASCENT + _DESCENT) * size if n_lines else 0.0


def _gap(size: float) -> float:
    return 0.3 * size


# =========================================================================== drawing
class _Painter:
    """Draws on one figure in inches from the top-left corner; keeps the hover titles."""

    def __init__(self, fig, prefix: str):
        self.fig = fig
        self.width, self.height = fig.get_size_inches()
        self.prefix = prefix
        self.titles: dict[str, str] = {}

    def gid(self, area: str, *parts) -> str:
        return ".".join([self.prefix, area, *(str(p) for p in parts)])

    def rect(self, box, *, area: str | None = None, gid: str | None = None, title=None, **style):
        from matplotlib.patches import Rectangle

        x0, y0, x1, y1 = box
        style.setdefault("linewidth", 0)
        patch = Rectangle(
            (x0 / self.width, 1 - y1 / self.height),
            (x1 - x0) / self.width,
            (y1 - y0) / self.height,
            transform=self.fig.transFigure,
            **style,
        )
        name = gid or (self.gid(area, "cell") if area else None)
        if name:
            patch.set_gid(name)
            if title:
                self.titles[name] = title
        self.fig.add_artist(patch)
        return patch

    def polygon(self, points, **style):
        from matplotlib.patches import Polygon

        xy = [(x / self.width, 1 - y / self.height) for x, y in points]
        patch = Polygon(xy, closed=True, transform=self.fig.transFigure, **style)
        self.fig.add_artist(patch)
        return patch

    def text(self, x: float, y: float, text: str, *, size: float, gid: str, **style):
        artist = self.fig.text(
            x / self.width,
            1 - y / self.height,
            text,
            fontsize=size,
            va="baseline",
            parse_math=False,
            gid=gid,
            **style,
        )
        return artist

    def cell(
        self,
        box,
        items: Sequence[_Item],
        *,
        area: str,
        size_max: float,
        size_min: float = MIN_SIZE,
        pad: float = 0.05,
        align: str = "left",
        valign: str = "top",
        first: int = 0,
    ) -> int:
        """Fit ``items`` into ``box`` (inches) and draw them; returns the next item number."""
        x0, y0, x1, y1 = box
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 - pad, y1 - pad
        width, height = (x1 - x0) * 72, (y1 - y0) * 72
        if width <= 0 or height <= 0:
            return first
        placed, _size = _fit(items, width, height, size_max, size_min)
        used = sum(_block(len(p.lines), p.size) + _gap(p.size) for p in placed)
        used -= _gap(placed[-1].size) if placed else 0.0
        y = y0 * 72
        if valign == "center":
            y += max(0.0, (height - used) / 2)
        number = first
        for p in placed:
            item = p.item
            baseline = y + _ASCENT * p.size
            for i, line in enumerate(p.lines):
                gid = self.gid(area, number, i)
                if item.title:
                    self.titles[gid] = item.title
                if align == "center":
                    x, ha = (x0 + x1) / 2 * 72, "center"
                else:
                    x, ha = x0 * 72 + p.indent, "left"
                self.text(
                    x / 72,
                    (baseline + i * _LINE * p.size) / 72,
                    line,
                    size=p.size,
                    gid=gid,
                    color=item.color,
                    fontweight="bold" if item.weight == "bold" else "normal",
                    fontstyle="italic" if item.weight == "italic" else "normal",
                    ha=ha,
                )
            if item.marker and align == "left":
                gid = self.gid(area, number, "m")
                if item.title:
                    self.titles[gid] = item.title
                self.text(
                    x0,
                    baseline / 72,
                    item.marker,
                    size=p.size,
                    gid=gid,
                    color=item.marker_color,
                    fontweight="bold",
                    ha="left",
                )
            y += _block(len(p.lines), p.size) + _gap(p.size)
            number += 1
        return number

    def row(self, jobs: Sequence[tuple[Any, Sequence[_Item], str]], *, size_max: float, **style):
        """Draw cells ``(box, items, area)`` of one row at one size: the smallest any needs,
        but not more than 2 points under ``size_max`` (a crowded cell shrinks alone)."""
        pad = style.get("pad", 0.05)
        size_min = style.get("size_min", MIN_SIZE)
        own = []
        for (x0, y0, x1, y1), items, _area in jobs:
            width, height = (x1 - x0 - 2 * pad) * 72, (y1 - y0 - 2 * pad) * 72
            fits = items and width > 0 and height > 0
            own.append(_fit(items, width, height, size_max, size_min)[1] if fits else size_max)
        size = max(min(own, default=size_max), max(size_min, size_max - 2))
        numbers: dict[str, int] = {}
        for (box, items, area), wanted in zip(jobs, own, strict=True):
            # cells that fit at the row's size stay at it; a crowded one shrinks on its own
            cell_style = {**style, "size_min": size if wanted >= size else size_min}
            numbers[area] = self.cell(
                box, items, area=area, size_max=size, first=numbers.get(area, 0), **cell_style
            )
        return size


@dataclass
class _Sizes:
    """Font sizes (points) and the left label column's width (inches) of one layout."""

    title: float = 15.0
    subtitle: float = 9.0
    header: float = 9.5
    label: float = 10.0
    body: float = 8.5
    note: float = 6.5
    label_width: float = 1.3


def _new_figure(size=PAGE):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, facecolor="white")
    FigureCanvasAgg(fig)  # fig.canvas.get_renderer() works, and savefig needs no pyplot
    return fig


def _draw_canvas(
    painter: _Painter,
    canvas,
    box,
    *,
    rows: Sequence[str],
    sizes: _Sizes,
    prefix: str = "",
) -> None:
    """Draw the stage headers, the rows and their labels of ``canvas`` in ``box`` (inches)."""
    x0, y0, x1, y1 = box
    stages = list(canvas.stages)
    n = len(stages)
    if n == 0:
        raise ValueError("The canvas has no stages to draw; the journey map must name its stages.")
    cells = _cells(canvas)
    label_w = sizes.label_width
    col_w = (x1 - x0 - label_w) / n
    header_h = max(0.34, sizes.header * 2 * _LINE / 72 + 0.12)
    top = y0 + header_h
    weights = [_ROW_WEIGHTS[r] for r in rows]
    unit = (y1 - top) / sum(weights)
    row_boxes = {}
    y = top
    for row, w in zip(rows, weights, strict=True):
        row_boxes[row] = (y, y + w * unit)
        y += w * unit

    def col(k: int) -> tuple[float, float]:
        return x0 + label_w + k * col_w, x0 + label_w + (k + 1) * col_w

    # stage headers: chevrons pointing along the journey
    tip = min(0.12, col_w * 0.12)
    heads = []
    for k, stage in enumerate(stages):
        a, b = col(k)
        hy0, hy1 = y0, y0 + header_h - 0.06
        mid = (hy0 + hy1) / 2
        points = [(a, hy0), (b - tip, hy0), (b, mid), (b - tip, hy1), (a, hy1)]
        if k > 0:
            points.append((a + tip, mid))
        painter.polygon(points, facecolor=_HEAD_FACE, edgecolor="white", linewidth=1.5)
        area = f"{prefix}head-{k}"
        inner = (a + tip + 0.01, hy0, b - tip - 0.01, hy1)
        painter.rect(inner, area=area, fill=False)
        heads.append((inner, [_Item(label_text(stage), color="white", weight="bold")], area))
    painter.row(heads, size_max=sizes.header, align="center", valign="center", pad=0.03)
    labels = []

    for r, row in enumerate(rows):
        ry0, ry1 = row_boxes[row]
        # the band behind the row and its label
        painter.rect((x0, ry0, x1, ry1), facecolor="#f6f8fa" if r % 2 == 0 else "white", zorder=-2)
        label_box = (x0, ry0, x0 + label_w, ry1)
        area = f"{prefix}label-{row}"
        painter.rect(label_box, area=area, fill=False)
        label_items = [_Item(_(_ROW_NAMES[row]), weight="bold", color=_HEAD_FACE)]
        label_items += [
            _Item(note, color=_MUTED, scale=sizes.note / sizes.label, max_lines=3)
            for note in _row_notes(canvas, row)
        ]
        labels.append((label_box, label_items, area))
        jobs = []
        for k in range(n):
            a, b = col(k)
            cell = cells[row, k]
            area = f"{prefix}{row}-{k}"
            face = _FEW_FACE if cell.few else "none"
            painter.rect(
                (a + 0.015, ry0 + 0.015, b - 0.015, ry1 - 0.015),
                area=area,
                facecolor=face,
                edgecolor="none",
                zorder=-1,
                title=cell.title,
            )
            if row == "feeling":
                continue
            body = (a, ry0, b, ry1)
            if row == "flow" and cell.bar:
                bar_h = min(0.16, (ry1 - ry0) * 0.22)
                _flow_bar(painter, cell, (a + 0.06, ry0 + 0.07, b - 0.06, ry0 + 0.07 + bar_h), area)
                body = (a, ry0 + 0.07 + bar_h, b, ry1)
            jobs.append((body, cell.items, area))
        painter.row(jobs, size_max=sizes.body)
        # rules between the rows
        painter.rect((x0, ry1 - 0.004, x1, ry1 + 0.004), facecolor=_RULE, zorder=-1)
    painter.row(labels, size_max=sizes.label, pad=0.06)
    if "feeling" in rows:
        _feeling_row(painter, canvas, cells, row_boxes["feeling"], col, n, sizes, prefix)
    for k in range(1, n):
        a, _b = col(k)
        ry0 = row_boxes[rows[0]][0]
        painter.rect((a - 0.004, ry0, a + 0.004, y1), facecolor=_RULE, zorder=-1)


def _flow_bar(painter: _Painter, cell: _Cell, box, area: str) -> None:
    x0, y0, x1, y1 = box
    x = x0
    for i, (share, color, title) in enumerate(cell.bar or []):
        w = (x1 - x0) * share
        if w <= 0:
            continue
        painter.rect(
            (x, y0, x + w, y1),
            gid=painter.gid(area, "bar", i),
            title=title,
            facecolor=_FEW_INK if cell.few and i == 0 else color,
            alpha=0.55 if cell.few else 1.0,
        )
        x += w


def _feeling_row(painter: _Painter, canvas, cells, rows_y, col, n: int, sizes, prefix) -> None:
    """The emotion curve across the stage centres, its band, and the values above and below."""
    ry0, ry1 = rows_y
    # one line above the curve (the value), two below (who answered)
    top = min(sizes.body * (_ASCENT + _DESCENT) / 72 + 0.12, (ry1 - ry0) * 0.2)
    bottom = min(sizes.body * (_LINE + _ASCENT + _DESCENT) / 72 + 0.12, (ry1 - ry0) * 0.3)
    jobs = []
    for k in range(n):
        a, b = col(k)
        cell = cells["feeling", k]
        area = f"{prefix}feeling-{k}"
        jobs.append(((a, ry0, b, ry0 + top), cell.top, area))
        jobs.append(((a, ry1 - bottom, b, ry1), cell.bottom, area))
    painter.row(jobs, size_max=sizes.body)
    # the curve, in an axes over the columns between the two strips
    frame = canvas.feeling.set_index("stage") if not canvas.feeling.empty else pd.DataFrame()
    xs, ys, lows, highs, fews, peaks, ends = [], [], [], [], [], [], []
    for k, stage in enumerate(canvas.stages):
        if stage not in frame.index or _missing(frame.loc[stage, "emotion"]):
            continue
        r = frame.loc[stage]
        xs.append(k + 0.5)
        ys.append(float(r["emotion"]))
        lows.append(_float(r.get("emotion_low", r["emotion"])))
        highs.append(_float(r.get("emotion_high", r["emotion"])))
        fews.append(bool(r.get("few", False)))
        peaks.append(bool(r.get("peak", False)))
        ends.append(bool(r.get("end", False)))
    x_left, _ = col(0)
    _, x_right = col(n - 1)
    y_top, y_bottom = ry0 + top + 0.02, ry1 - bottom - 0.02
    if y_bottom - y_top < 0.1:
        return
    # a symmetric scale that fits the data (at least ±0.5, at most ±1) fills the band:
    # a dip must look like a dip
    reach = np.nanmax(np.abs([*ys, *lows, *highs])) if xs else 0.0
    lim = float(min(1.0, max(0.5, np.ceil(np.nan_to_num(reach) * 4) / 4)))
    span = lim * 1.1
    W, H = painter.width, painter.height
    ax = painter.fig.add_axes(
        (x_left / W, 1 - y_bottom / H, (x_right - x_left) / W, (y_bottom - y_top) / H)
    )
    ax.set_axis_off()
    ax.set_xlim(0, n)
    ax.set_ylim(-span, span)
    ax.axhline(0, color=_MUTED, linewidth=0.8, linestyle=(0, (2, 2)), clip_on=False)
    for v in (-lim, lim):
        ax.axhline(v, color=_RULE, linewidth=0.6, linestyle=(0, (1, 2)), clip_on=False)
    _feeling_scale(painter, col(0), (y_top, y_bottom), lim, span, f"{prefix}feeling-0")
    if not xs:
        return
    ax.fill_between(xs, lows, highs, color=_BAND, alpha=0.45, linewidth=0, clip_on=False)
    for i in range(len(xs) - 1):
        if xs[i + 1] - xs[i] > 1:  # a stage without answers between: no line through it
            continue
        dashed = fews[i] or fews[i + 1]
        ax.plot(
            xs[i : i + 2],
            ys[i : i + 2],
            color=_CURVE,
            linewidth=1.8,
            linestyle=(0, (3, 2)) if dashed else "-",
            clip_on=False,
        )
    for x, y, few, peak, end in zip(xs, ys, fews, peaks, ends, strict=True):
        marker, size = ("*", 13) if peak else ("D", 7) if end else ("o", 6)
        color = _BAD if y < 0 else _GOOD
        ax.plot(
            [x],
            [y],
            marker=marker,
            markersize=size,
            markeredgecolor=_FEW_INK if few else color,
            markerfacecolor="white" if few else color,
            markeredgewidth=1.3,
            linestyle="none",
            clip_on=False,
            zorder=3,
        )


def _feeling_scale(painter: _Painter, column, band, lim: float, span: float, area: str) -> None:
    """The scale's words in the first column's left half, left of the first point."""
    a, b = column
    y_top, y_bottom = band
    size = 6.0
    half = size * (_ASCENT + _DESCENT) / 72 / 2 + 0.03  # a line and the cell's padding
    right = a + (b - a) / 2 - 0.09  # clear of the first point's marker
    if right - a < 0.12:
        return
    shown = format_number(lim, 2 if round(lim * 100) % 10 else 1 if round(lim * 10) % 10 else 0)
    neutral = _("0 neutral")
    if text_width(neutral, size) / 72 > right - a - 0.04:
        neutral = "0"
    title = _(
        "Emotion from −1 (every answer as bad as it gets) to +1 (every answer the best); "
        "0 is neutral. Negative answers weigh more."
    )
    ticks = [(0.0, neutral)]
    if (y_bottom - y_top) / 2 * lim / span > 2.2 * half:
        ticks += [(lim, "+" + shown), (-lim, _MINUS + shown)]
    for number, (value, text) in enumerate(ticks):
        y = y_top + (span - value) / (2 * span) * (y_bottom - y_top)
        y0 = min(max(y - 2 * half + 0.02, y_top), y_bottom - 2 * half)  # just above its line
        painter.cell(
            (a, y0, right, y0 + 2 * half),
            [_Item(text, title=title, color=_MUTED, max_lines=1)],
            area=area,
            size_max=size,
            size_min=size,
            pad=0.02,
            first=100 + number,
        )


def _legend(painter: _Painter, box, size: float, area: str, *, feeling: bool) -> None:
    """One line of symbols and their meanings, wrapped when the page is narrow."""
    entries = [
        (_SYMBOL["online"], _ONLINE, _("online")),
        (_SYMBOL["offline"], _OFFLINE, _("offline")),
    ]
    if feeling:
        entries += [
            (_PEAK_MARK, _CURVE, _("peak (most intense)")),
            (_END_MARK, _CURVE, _("end (last answers)")),
            ("\u25cb", _FEW_INK, _("hollow, dashed: few answers")),
            ("\u25ac", _BAND, _("band: 90% interval")),
        ]
    entries += [
        ("+", _GOOD, _("missing touchpoint")),
        ("?", _FEW_INK, _("worth testing")),
        ("\u25a0", _FLOW_COLORS[0], _("moved on")),
        ("\u25a0", _FLOW_COLORS[1], _("dropped off")),
        ("\u25a0", _FLOW_COLORS[2], _("pending")),
        ("\u25a0", _FEW_FACE, _("grey: few customers")),
    ]
    x0, y0, x1, y1 = box
    x, baseline = x0, y0 + _ASCENT * size / 72
    for i, (symbol, color, text) in enumerate(entries):
        need = (text_width(symbol, size, "bold") + 0.3 * size + text_width(text, size) + size) / 72
        if x + need > x1 and x > x0:
            x, baseline = x0, baseline + _LINE * size / 72
        if baseline + _DESCENT * size / 72 > y1:
            return
        painter.text(
            x,
            baseline,
            symbol,
            size=size,
            gid=painter.gid(area, i, "m"),
            color=color,
            fontweight="bold",
        )
        x += (text_width(symbol, size, "bold") + 0.3 * size) / 72
        painter.text(x, baseline, text, size=size, gid=painter.gid(area, i, 0), color=_MUTED)
        x += (text_width(text, size) + size) / 72


def _page_header(painter: _Painter, title: str, subtitle: str, sizes: _Sizes, box) -> None:
    x0, y0, x1, _y1 = box
    title_h = sizes.title * (_ASCENT + _DESCENT) / 72 + 0.04
    painter.rect((x0, y0, x1, y0 + title_h), area="title", fill=False)
    painter.cell(
        (x0, y0, x1, y0 + title_h),
        [_Item(title, weight="bold", color=_HEAD_FACE, max_lines=1)],
        area="title",
        size_max=sizes.title,
        size_min=10,
        pad=0.0,
    )
    sub_box = (x0, y0 + title_h, x1, y0 + title_h + sizes.subtitle * 1.3 / 72 + 0.04)
    painter.rect(sub_box, area="subtitle", fill=False)
    painter.cell(
        sub_box,
        [_Item(subtitle, color=_MUTED, max_lines=1)],
        area="subtitle",
        size_max=sizes.subtitle,
        pad=0.0,
    )


def _canvas_figure(canvas, *, prefix: str | None = None) -> _Painter:
    """The canvas drawn: its painter holds the figure, the hover titles and the ids' prefix."""
    fig = _new_figure()
    painter = _Painter(fig, prefix or _canvas_prefix(canvas))
    sizes = _Sizes()
    width, height = PAGE
    margin = 0.35
    header = (margin, margin, width - margin, 1.0)
    _page_header(painter, _heading(canvas), _subtitle(canvas), sizes, header)
    bottom = height - 0.3
    body = (margin, 1.0, width - margin, bottom - 0.58)
    _draw_canvas(painter, canvas, body, rows=list(_ROW_NAMES), sizes=sizes)
    legend_box = (margin, bottom - 0.54, width - margin, bottom - 0.24)
    painter.rect(legend_box, area="legend", fill=False)
    _legend(painter, legend_box, sizes.note, "legend", feeling=True)
    notes_box = (margin, bottom - 0.23, width - margin, bottom)
    painter.rect(notes_box, area="notes", fill=False)
    painter.cell(
        notes_box,
        [_Item(" ".join(_footnotes(canvas)), color=_MUTED, max_lines=3)],
        area="notes",
        size_max=sizes.note,
        pad=0.0,
    )
    return painter


@contextlib.contextmanager
def _speaking(lang: str | None):
    """The language ``lang`` in the block (the current one when None), and the canvas's fonts."""
    import matplotlib as mpl

    with contextlib.ExitStack() as stack:
        if lang is not None:
            stack.enter_context(language(lang))
        stack.enter_context(mpl.rc_context(_RC))
        yield


def canvas_figure(canvas, *, lang=None):
    """The canvas as a matplotlib figure, A4 landscape.

    Parameters
    ----------
    canvas : JourneyCanvas
        The canvas.
    lang : {"en", "vi"}, optional
        The words' language; default the current one (:mod:`cjml.i18n`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (11.69 x 8.27 inches, not registered with pyplot); its
        text artists have gids naming their cell.
    """
    with _speaking(lang):
        return _canvas_figure(canvas).fig


# =========================================================================== SVG and HTML
def _svg(painter: _Painter) -> str:
    """The picture as SVG text: text kept as ``<text>``, hover titles inside the gids'
    groups, and every id (matplotlib's too) under the picture's prefix, so that several
    pictures share a page without two elements of the same id."""
    buffer = io.StringIO()
    with _speaking(None):
        painter.fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    own = painter.prefix + "."
    names = {
        name: name if name.startswith(own) else f"{painter.prefix}-{name}"
        for name in re.findall(r'\sid="([^"]+)"', svg)
    }
    svg = re.sub(
        r'(\sid="|href="#|url\(#)([^")]+)',
        lambda m: m.group(1) + names.get(m.group(2), m.group(2)),
        svg,
    )

    def add_title(match: re.Match) -> str:
        title = painter.titles.get(html.unescape(match.group(1)))
        if not title:
            return match.group(0)
        return match.group(0) + f"\n   <title>{html.escape(title, quote=False)}</title>"

    return re.sub(r'<g id="([^"]+)">', add_title, svg)


def canvas_svg(canvas, *, lang=None) -> str:
    """The canvas as an SVG document with hover titles.

    Parameters
    ----------
    canvas : JourneyCanvas
        The canvas.
    lang : {"en", "vi"}, optional
        The words' language; default the current one.

    Returns
    -------
    str
        An SVG document: text is ``<text>`` in DejaVu Sans; every number's
        group has a ``<title>`` with the counts behind it.
    """
    with _speaking(lang):
        return _svg(_canvas_figure(canvas))


def _inline(svg: str, label: str) -> str:
    """An SVG document as an element for an HTML page: no prolog, no metadata, scalable."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(
        r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
        lambda m: f'<svg{m.group(1)} role="img" aria-label="{html.escape(label)}"',
        svg,
        count=1,
    )
    return svg.strip()


_HTML_CSS = (
    ".cjml-canvas{max-width:1400px;margin:0 0 1.5em}"
    ".cjml-canvas svg{display:block;width:100%;height:auto}"
    ".cjml-canvas-differences{font-size:0.95em;margin:0.4em 0 1.5em}"
)


def canvas_html(canvas) -> str:
    """The canvas as an HTML fragment (inline SVG) for notebooks and the app.

    Parameters
    ----------
    canvas : JourneyCanvas
        The canvas, drawn in the current language.

    Returns
    -------
    str
        A ``<div class="cjml-canvas">`` holding the SVG (scaling to the
        width of its container; hover a number for its counts). No network,
        no script. Its ids are the same for the same canvas, and start
        with a prefix of their own, so several canvases can share a page.
    """
    return _canvas_html(canvas)


def _canvas_html(canvas, prefix: str | None = None) -> str:
    with _speaking(None):
        svg = _svg(_canvas_figure(canvas, prefix=prefix))
    return (
        f"<div class='cjml-canvas' lang='{current().language}'>"
        f"<style>{_HTML_CSS}</style>{_inline(svg, _heading(canvas))}</div>"
    )


# =========================================================================== comparison
_COMPACT_ROWS = ("feeling", "pains", "opportunities", "flow")


def _comparison_title(comparison) -> str:
    return _("{left} compared with {right}").format(
        left=canvas_title(comparison.left), right=canvas_title(comparison.right)
    )


def _comparison_figure(comparison, *, prefix: str | None = None) -> _Painter:
    """The comparison drawn (see :func:`_canvas_figure`)."""
    fig = _new_figure()
    painter = _Painter(fig, prefix or _comparison_prefix(comparison))
    width, height = PAGE
    margin = 0.35
    sizes = _Sizes(title=14, header=8, label=8.5, body=6.5, note=6, label_width=0.85)
    subtitle = _("Two personas side by side: their key rows, then the differences that matter.")
    header = (margin, margin, width - margin, 1.0)
    _page_header(painter, _comparison_title(comparison), subtitle, sizes, header)
    diff_h = 0.35 + 0.19 * max(2, len(_difference_texts(comparison)))
    gap = 0.25
    half = (width - 2 * margin - gap) / 2
    bottom = height - margin - diff_h
    for side, canvas in enumerate((comparison.left, comparison.right)):
        x0 = margin + side * (half + gap)
        name_box = (x0, 0.95, x0 + half, 1.25)
        area = f"side{side}"
        painter.rect(name_box, area=area, fill=False)
        painter.cell(
            name_box,
            [_Item(canvas_title(canvas), weight="bold", color=_HEAD_FACE, max_lines=1)],
            area=area,
            size_max=11,
            pad=0.0,
        )
        _draw_canvas(
            painter,
            canvas,
            (x0, 1.3, x0 + half, bottom - 0.1),
            rows=_COMPACT_ROWS,
            sizes=sizes,
            prefix=f"s{side}",
        )
    diff_box = (margin, bottom, width - margin, height - margin)
    painter.rect(diff_box, area="differences", fill=False)
    texts = _difference_texts(comparison)
    items = [_Item(_("What differs"), weight="bold", color=_HEAD_FACE, max_lines=1)]
    items += [
        _Item(t, marker=format_number(i + 1), marker_color=_HEAD_FACE, max_lines=2)
        for i, t in enumerate(texts)
    ] or [_Item(_("No difference that matters was found."), color=_MUTED)]
    painter.cell(diff_box, items, area="differences", size_max=8)
    return painter


def _difference_texts(comparison) -> list[str]:
    frame = comparison.differences
    if frame is None or frame.empty or "text" not in frame:
        return []
    return [str(t) for t in frame["text"] if not _missing(t)]


def comparison_figure(comparison, *, lang=None):
    """Two canvases side by side, the differences underneath.

    Parameters
    ----------
    comparison : PersonaComparison
        The two personas' canvases and their differences.
    lang : {"en", "vi"}, optional
        The words' language; default the current one.

    Returns
    -------
    matplotlib.figure.Figure
        An A4 landscape figure: each canvas's key rows (feeling, pain
        points, opportunities, time and flow), and the differences in words.
    """
    with _speaking(lang):
        return _comparison_figure(comparison).fig


def comparison_html(comparison) -> str:
    """The comparison as an HTML fragment.

    Parameters
    ----------
    comparison : PersonaComparison
        The two personas' canvases and their differences.

    Returns
    -------
    str
        A ``<div class="cjml-canvas cjml-comparison">`` with the side by
        side SVG and the differences as a list.
    """
    return _comparison_html(comparison)


def _comparison_html(comparison, prefix: str | None = None) -> str:
    with _speaking(None):
        svg = _svg(_comparison_figure(comparison, prefix=prefix))
    items = "".join(f"<li>{html.escape(t)}</li>" for t in _difference_texts(comparison))
    differences = (
        f"<ol class='cjml-canvas-differences'>{items}</ol>"
        if items
        else f"<p class='cjml-canvas-differences'>"
        f"{html.escape(_('No difference that matters was found.'))}</p>"
    )
    return (
        f"<div class='cjml-canvas cjml-comparison' lang='{current().language}'>"
        f"<style>{_HTML_CSS}</style>{_inline(svg, _comparison_title(comparison))}"
        f"{differences}</div>"
    )


# =========================================================================== files
_SUFFIXES = (".html", ".pdf", ".png", ".svg")
_PNG_DPI = 150


def slug(value) -> str:
    """A persona as a file-name part: lower-case ASCII letters, digits and dashes.

    Parameters
    ----------
    value : object
        The persona ("Deal seekers", "Khách hàng mới").

    Returns
    -------
    str
        "deal-seekers", "khach-hang-moi"; "persona" when nothing is left.
    """
    text = str(value).replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:60].strip("-") or "persona"


def _targets(path: Path, names: Iterable[str]) -> list[Path]:
    """One file per picture: the first is ``path``, then ``map-<name>.png`` (made unique)."""
    out: list[Path] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        stem = _unique(path.stem if i == 0 else f"{path.stem}-{name}", seen)
        out.append(path.with_name(stem + path.suffix))
    return out


#: The page's own style: headings, contents, and one canvas per A4 landscape sheet in print.
_PAGE_CSS = (
    "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.5em;color:#24476b;margin:0 0 0.2em}"
    "h2{font-size:1.2em;color:#24476b;margin:1.2em 0 0.4em}"
    ".cjml-page-intro{color:#5f5f5f;margin:0 0 0.8em}"
    "nav ol{margin:0 0 1em;padding-left:1.4em;columns:2 18em}"
    "@page{size:A4 landscape;margin:8mm}"
    "@media print{body{margin:0}nav{display:none}"
    ".cjml-page{break-after:page;break-inside:avoid}"
    ".cjml-page>h2{margin:0 0 2mm;font-size:12pt}"
    # more specific than the fragments' own style, which comes later in the page
    ".cjml-page .cjml-canvas{max-width:none;margin:0}"
    ".cjml-page .cjml-canvas svg{width:auto;height:160mm;max-width:100%;margin:0 auto}"
    ".cjml-page .cjml-canvas-differences{display:none}}"
)


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when taken; now taken."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _anchors(prefix: str, names: Sequence[str], taken: set[str]) -> list[str]:
    """Unique element ids ``<prefix>-<name>``."""
    return [_unique(f"{prefix}-{name}", taken) for name in names]


def _page(canvases, comparisons, support) -> str:
    """One self-contained page: a heading, contents, then a section per picture."""
    first = canvases[0] if canvases else comparisons[0].left if comparisons else None
    info = (first.info or {}) if first is not None else {}
    name = str(info.get("journey_map") or "").strip()
    name = "" if name == "default" else label_text(name)  # the default map has no name to show
    title = _("Journey canvases: {name}").format(name=name) if name else _("Journey canvases")
    intro = ""
    if info.get("cutoff") is not None and info.get("horizon") is not None:
        from cjml.labels import to_timedelta

        intro = _("Data up to {cutoff}; churn means no activity within {horizon}.").format(
            cutoff=format_moment(info["cutoff"]), horizon=format_days(to_timedelta(info["horizon"]))
        )
    taken: set[str] = set()
    sections: list[tuple[str, str, str]] = []  # id, heading, body
    ids = _anchors(
        "canvas",
        ["all-customers" if _missing_persona(c.persona) else slug(c.persona) for c in canvases],
        taken,
    )
    prefixes: set[str] = set()
    sections += [
        (i, canvas_title(c), _canvas_html(c, _unique(_canvas_prefix(c), prefixes)))
        for i, c in zip(ids, canvases, strict=True)
    ]
    ids = _anchors(
        "comparison",
        [f"{slug(c.left.persona)}-vs-{slug(c.right.persona)}" for c in comparisons],
        taken,
    )
    sections += [
        (i, _comparison_title(c), _comparison_html(c, _unique(_comparison_prefix(c), prefixes)))
        for i, c in zip(ids, comparisons, strict=True)
    ]
    if support is not None:
        sections.append(
            (
                _anchors("support", ["journey"], taken)[0],
                _("Support journey"),
                support._repr_html_(),
            )
        )
    contents = "".join(
        f"<li><a href='#{anchor}'>{html.escape(heading)}</a></li>"
        for anchor, heading, _body in sections
    )
    body = "".join(
        f"<section class='cjml-page' id='{anchor}' aria-labelledby='{anchor}-h'>"
        f"<h2 id='{anchor}-h'>{html.escape(heading)}</h2>{content}</section>"
        for anchor, heading, content in sections
    )
    return (
        f"<!DOCTYPE html><html lang='{current().language}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        + (f"<p class='cjml-page-intro'>{html.escape(intro)}</p>" if intro else "")
        + f"<nav aria-label='{html.escape(_('Contents'), quote=True)}'><ol>{contents}</ol></nav>"
        f"</header><main>{body}</main></body></html>"
    )


def write_canvases(canvases, path, *, force=False, lang=None, support=None, comparisons=()):
    """Write canvases (and optionally the support journey and comparisons) to files.

    Parameters
    ----------
    canvases : sequence of JourneyCanvas
        The canvases, in the order shown (all customers first, usually).
    path : str or Path
        ``.html``: one self-contained page (no network): a heading, contents,
        then every canvas, the comparisons and the support journey, each a
        section with its heading (printed one per A4 landscape sheet).
        ``.pdf``: one A4 landscape page per canvas and comparison, then the
        support journey's pages (all customers, then each persona).
        ``.png`` / ``.svg``: one file per picture: ``map.png`` for the first
        (all customers, usually), then ``map-<persona>.png`` per persona,
        ``map-<a>-vs-<b>.png`` per comparison, ``map-support.png``.
    force : bool, default False
        Replace existing files; without it an existing target is an error and
        nothing is written (every target is checked first).
    lang : {"en", "vi"}, optional
        The words' language; default the current one.
    support : SupportJourneyReport, optional
        The support journey, added after the canvases.
    comparisons : sequence of PersonaComparison, default ()
        Persona comparisons, added after the canvases.

    Returns
    -------
    list of Path
        The files written, in order.

    Raises
    ------
    InputFileError
        When the suffix is not one of the above, a target is a folder, or it
        exists and ``force`` is False (then nothing is written).
    ValueError
        When there is nothing to write.
    """
    from cjml.io._write import check_output, write_atomic

    canvases, comparisons = list(canvases), list(comparisons)
    path = Path(path)
    suffix = path.suffix.lower()
    check_output(path, force=True, suffixes=_SUFFIXES)  # the suffix and a folder, first
    if not canvases and not comparisons and support is None:
        raise ValueError(
            "Nothing to write: give at least one canvas, comparison or support journey."
        )
    with _speaking(lang):
        if suffix in (".html", ".pdf"):
            check_output(path, force=force, suffixes=_SUFFIXES)
            if suffix == ".html":
                page = _page(canvases, comparisons, support)
                return [
                    write_atomic(
                        path,
                        lambda tmp: Path(tmp).write_text(page, encoding="utf-8"),
                        force=force,
                        suffixes=(".html",),
                    )
                ]
            return [
                write_atomic(
                    path,
                    lambda tmp: _pdf(tmp, canvases, comparisons, support, lang),
                    force=force,
                    suffixes=(".pdf",),
                )
            ]
        names = [
            "all-customers" if _missing_persona(c.persona) else slug(c.persona) for c in canvases
        ]
        names += [f"{slug(c.left.persona)}-vs-{slug(c.right.persona)}" for c in comparisons]
        if support is not None:
            names.append("support")
        targets = _targets(path, names)
        for target in targets:
            check_output(target, force=force, suffixes=(suffix,))
        figures = [_canvas_figure(c) for c in canvases]
        figures += [_comparison_figure(c) for c in comparisons]
        if support is not None:
            figures.append(_Painter(support.figure(lang=lang), "cjsupport"))
        written = []
        for target, painter in zip(targets, figures, strict=True):
            if suffix == ".svg":
                text = _svg(painter)
                written.append(
                    write_atomic(
                        target,
                        lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"),
                        force=force,
                        suffixes=(".svg",),
                    )
                )
            else:
                written.append(
                    write_atomic(
                        target,
                        lambda tmp, fig=painter.fig: fig.savefig(tmp, format="png", dpi=_PNG_DPI),
                        force=force,
                        suffixes=(".png",),
                    )
                )
        return written


def _pdf(tmp, canvases, comparisons, support, lang) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(tmp, metadata={"Creator": "cjml", "Title": _("Journey canvases")}) as pdf:
        for canvas in canvases:
            pdf.savefig(_canvas_figure(canvas).fig)
        for comparison in comparisons:
            pdf.savefig(_comparison_figure(comparison).fig)
        if support is not None:  # all customers, then each persona, as its own save does
            for persona in [None, *getattr(support, "personas", [])]:
                pdf.savefig(support.figure(persona, lang=lang))
