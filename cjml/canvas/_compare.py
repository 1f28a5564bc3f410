"""Two personas side by side: the differences that matter, in words."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjml.canvas._canvas import JourneyCanvas
from cjml.i18n import format_number, format_percent, label_text
from cjml.i18n import gettext as _

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


#: The smallest differences worth a sentence.
RATIO_MIN = 1.5  # drop-off and median days, one side over the other
CONVERSION_MIN = 0.10  # conversion, in shares (10 points)
EMOTION_MIN = 0.2  # emotion, on its -1 to 1 scale

_COLUMNS = ["stage", "kind", "left", "right", "ratio", "text", "customers"]


def compare_canvases(
    left: JourneyCanvas, right: JourneyCanvas, *, top: int = 6
) -> PersonaComparison:
    """Find the differences between two canvases that matter (see :class:`PersonaComparison`).

    Per stage, a difference is kept only where both canvases have at least
    ``min_customers`` customers behind the two numbers:

    - ``drop_off``: one drop-off rate at least 1.5 times the other;
    - ``conversion``: conversion rates at least 10 points apart;
    - ``emotion``: emotions at least 0.2 apart (respondents on both sides);
    - ``days``: one median time in the stage at least 1.5 times the other;
    - ``missing``: a missing touchpoint of one persona (an opportunity with
      the status "missing") that the other does not have; when that persona
      also drops off more in the same stage, the two make one sentence ("... drop off 2.3x more in
      consideration; live chat is missing for them");
    - ``pain``: a pain point one persona has in a stage and the other not.

    Importance: each difference's size over its threshold (ratios on a log
    scale); a drop-off difference counts one more, and one more again with
    its missing touchpoint; a difference in days counts half (losing
    customers matters more than slowness); among equals, the most customers
    first.

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

    Raises
    ------
    ValueError
        When the canvases have different stages, or ``top`` is not a whole
        number of 1 or more.
    """
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise ValueError(f"top must be a whole number of 1 or more, got {top!r}.")
    if tuple(left.stages) != tuple(right.stages):
        raise ValueError(
            f"The two canvases have different stages ({list(left.stages)!r} and "
            f"{list(right.stages)!r}); compare personas of one journey map."
        )
    minimum = max(int(left.info.get("min_customers", 30)), int(right.info.get("min_customers", 30)))
    sides = (left, right)
    rows: list[dict] = []
    lf, rf = (c.flow.set_index("stage").to_dict("index") for c in sides)
    le, re_ = (c.feeling.set_index("stage").to_dict("index") for c in sides)
    for stage in left.stages:
        a, b = lf[stage], rf[stage]
        enough = min(int(a["customers"]), int(b["customers"]))
        if enough >= minimum:
            rows += _ratio_row(stage, "drop_off", a["drop_off"], b["drop_off"], enough, sides)
            rows += _ratio_row(stage, "days", a["median_days"], b["median_days"], enough, sides)
            rows += _conversion_row(stage, a, b, sides, minimum)
        ea, eb = le[stage], re_[stage]
        answered = min(int(ea["respondents"]), int(eb["respondents"]))
        gap = float(ea["emotion"]) - float(eb["emotion"])
        if answered >= minimum and abs(gap) >= EMOTION_MIN:
            worse = 0 if gap < 0 else 1
            rows.append(
                {
                    "stage": stage,
                    "kind": "emotion",
                    "left": float(ea["emotion"]),
                    "right": float(eb["emotion"]),
                    "ratio": np.nan,
                    "text": _(
                        "{persona} feel worse in {stage}: {worse} against {better} (from -1 to 1)"
                    ).format(
                        persona=_subject(sides[worse]),
                        stage=label_text(stage, lower=True),
                        worse=format_number(min(ea["emotion"], eb["emotion"]), 2),
                        better=format_number(max(ea["emotion"], eb["emotion"]), 2),
                    ),
                    "customers": answered,
                    "_score": abs(gap) / EMOTION_MIN,
                }
            )
    rows += _missing_rows(sides, lf, rf, minimum, rows)
    rows += _pain_rows(sides, lf, rf, minimum)
    frame = pd.DataFrame(rows, columns=[*_COLUMNS, "_score"])
    frame = frame.sort_values(
        ["_score", "customers"], ascending=[False, False], kind="stable"
    ).head(top)
    frame = frame[_COLUMNS].reset_index(drop=True)
    frame["customers"] = frame["customers"].astype(np.int64)
    return PersonaComparison(left=left, right=right, differences=frame)


def _subject(canvas: JourneyCanvas, *, lower: bool = False) -> str:
    """The persona as the subject of a sentence: "Deal seeker customers", "All customers"."""
    if canvas.persona is None:
        return _("all customers") if lower else _("All customers")
    return _("{persona} customers").format(persona=label_text(str(canvas.persona), lower=lower))


def _ratio_row(stage, kind, a, b, customers, sides) -> list[dict]:
    a, b = float(a), float(b)
    if not (a > 0 and b > 0):
        return []
    ratio = max(a, b) / min(a, b)
    if ratio < RATIO_MIN:
        return []
    more = 0 if a > b else 1
    text = (
        _("{persona} drop off {ratio}\u00d7 more in {stage}")
        if kind == "drop_off"
        else _("{persona} stay {ratio}\u00d7 longer in {stage}")
    ).format(
        persona=_subject(sides[more]),
        ratio=format_number(ratio, 1),
        stage=label_text(stage, lower=True),
    )
    return [
        {
            "stage": stage,
            "kind": kind,
            "left": a,
            "right": b,
            "ratio": a / b,
            "text": text,
            "customers": customers,
            # losing customers weighs more than taking longer
            "_score": (
                math.log(ratio) / math.log(RATIO_MIN) + 1.0
                if kind == "drop_off"
                else 0.5 * math.log(ratio) / math.log(RATIO_MIN)
            ),
            "_more": more,
        }
    ]


def _conversion_row(stage, a, b, sides, minimum) -> list[dict]:
    ca, cb = float(a["conversion"]), float(b["conversion"])
    known = min(int(a["reached"] - a["pending"]), int(b["reached"] - b["pending"]))
    if np.isnan(ca) or np.isnan(cb) or known < minimum or abs(ca - cb) < CONVERSION_MIN:
        return []
    lower = 0 if ca < cb else 1
    return [
        {
            "stage": stage,
            "kind": "conversion",
            "left": ca,
            "right": cb,
            "ratio": ca / cb if cb > 0 else np.nan,
            "text": _("{persona} move on from {stage} less often: {low} against {high}").format(
                persona=_subject(sides[lower]),
                stage=label_text(stage, lower=True),
                low=format_percent(min(ca, cb), 0),
                high=format_percent(max(ca, cb), 0),
            ),
            "customers": known,
            "_score": abs(ca - cb) / (2 * CONVERSION_MIN),  # drop-off tells it better
        }
    ]


def _missing_rows(sides, lf, rf, minimum, rows) -> list[dict]:
    """Missing touchpoints one persona has and the other not; joined to its drop-off row."""
    out = []
    flows = (lf, rf)
    opps = []
    for c in sides:
        o = c.opportunities
        if "status" in o.columns:  # "worth testing" ones are not known to be missing
            o = o[o["status"] == "missing"]
        opps.append(
            {
                (stage, tp): rr
                for stage, tp, rr in zip(
                    o["stage"], o["touchpoint"], o["risk_reduction"], strict=True
                )
            }
        )
    for side in (0, 1):
        other = 1 - side
        for (stage, tp), rr in opps[side].items():
            if (stage, tp) in opps[other]:
                continue
            enough = min(int(f[stage]["customers"]) for f in flows)
            if enough < minimum:
                continue
            drop = next(
                (
                    r
                    for r in rows
                    if r["stage"] == stage and r["kind"] == "drop_off" and r.get("_more") == side
                ),
                None,
            )
            if drop is not None:
                drop["text"] = _("{drop_off}; {touchpoint} is missing for them").format(
                    drop_off=drop["text"], touchpoint=label_text(tp, lower=True)
                )
                drop["_score"] += 1.0
                continue
            out.append(
                {
                    "stage": stage,
                    "kind": "missing",
                    "left": rr if side == 0 else np.nan,
                    "right": rr if side == 1 else np.nan,
                    "ratio": np.nan,
                    "text": _("{touchpoint} is missing for {persona} in {stage}").format(
                        touchpoint=label_text(tp),
                        persona=_subject(sides[side], lower=True),
                        stage=label_text(stage, lower=True),
                    ),
                    "customers": enough,
                    "_score": 1.0 + 10 * float(rr),
                }
            )
    return out


def _pain_rows(sides, lf, rf, minimum) -> list[dict]:
    """Pain points one persona has in a stage (on enough customers) and the other not."""
    out = []
    flows = (lf, rf)
    pains = [
        {
            (s, k): (m, c, t)
            for s, k, m, c, t in zip(
                p.pains["stage"],
                p.pains["kind"],
                p.pains["metric"],
                p.pains["customers"],
                p.pains["text"],
                strict=True,
            )
        }
        for p in sides
    ]
    for side in (0, 1):
        other = 1 - side
        for (stage, kind), (metric, customers, text) in pains[side].items():
            if (stage, kind) in pains[other] or customers < minimum:
                continue
            if int(flows[other][stage]["customers"]) < minimum:
                continue
            out.append(
                {
                    "stage": stage,
                    "kind": "pain",
                    "left": metric if side == 0 else np.nan,
                    "right": metric if side == 1 else np.nan,
                    "ratio": np.nan,
                    "text": _("{persona} in {stage}: {pain}; not so for {other}").format(
                        persona=_subject(sides[side]),
                        stage=label_text(stage, lower=True),
                        pain=text,
                        other=_subject(sides[other], lower=True),
                    ),
                    "customers": int(customers),
                    "_score": 1.0,
                }
            )
    return out
