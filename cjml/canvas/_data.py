"""The canvas's tables, computed from a journey map report.

:func:`build_canvas` only selects and reshapes what :func:`cjml.journey_map`
computed (vectorised, once for every persona): the per-stage tables of the
report, its ``canvas_stages`` (emotion, pain metrics, attributions) and its
opportunities. Building a canvas is therefore cheap, whatever the log's size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjml.canvas._canvas import JourneyCanvas
from cjml.i18n import format_duration, format_number, format_percent, format_points, label_text
from cjml.i18n import gettext as _

__all__ = ["DOING_TOP", "TESTING_PER_STAGE", "WAIT_MIN", "build_canvas"]

#: Touchpoints shown per stage in the *Doing* row.
DOING_TOP = 4
#: A touchpoint is worth a test only if its effect could matter: the interval's upper end
#: (or, without an interval, the estimate) cuts the risk by at least this much (1 point).
TESTING_MIN_EFFECT = 0.01

#: Opportunities "worth testing" (positive but uncertain) shown per stage at most.
TESTING_PER_STAGE = 2
#: A stage's median time over the other stages' from which it is a *wait* pain point.
WAIT_MIN = 1.25

_PAIN_COLUMNS = ["stage", "kind", "text", "metric", "customers", "churn_explained", "rank", "few"]
_OPPORTUNITY_COLUMNS = [
    "stage",
    "touchpoint",
    "risk_reduction",
    "risk_reduction_low",
    "risk_reduction_high",
    "customers",
    "evidence",
    "current_use",
    "text",
    "status",
    "few",
]


def build_canvas(report, persona=None) -> JourneyCanvas:
    """The :class:`~cjml.canvas.JourneyCanvas` of ``persona`` (None: all customers).

    The rows, per stage of the report's journey map:

    - *Doing*: the stage's ``DOING_TOP`` touchpoints with the most events,
      their share of the stage's events and their channel in the journey map.
    - *Feeling*: the emotion of :func:`cjml.journey_map` ("The canvas"), with
      the peak (the stage with the largest absolute emotion among those with
      answers; ties: the later) and the end (the last stage with answers).
    - *Pain points*: one row per stage and kind where the pain shows:
      ``drop_off`` (share who went silent in the stage, of those whose
      outcome there is known; in the last stage, of all its customers),
      ``wait`` (median days in the stage over the median in the other stages,
      from ``WAIT_MIN``), ``effort`` (share of the
      effort answers of 5 or more), ``unresolved`` (share of the tickets
      opened in the stage still open at the cutoff), ``bad_experience``
      (share of the satisfaction answers of 1-2). With a model they are
      ranked by ``churn_explained``, else by size: the customers they touch
      (the metric times the customers behind it; for ``wait``, the stage's
      customers who stayed longer than the other stages' median).
    - *Opportunities*: first the flagged missing touchpoints (``status``
      "missing": a positive, not uncertain estimated risk reduction, low
      current use), then per stage at most ``TESTING_PER_STAGE`` touchpoints
      "worth testing" (a positive mean reduction whose interval includes no
      effect but reaches ``TESTING_MIN_EFFECT``, one point, so that a test
      could find an effect worth having; current use under the report's
      ``low_use``), highest mean first.
    - *Time and flow*: of the customers who reached the stage, those who
      moved on (reached the next stage), dropped off (went silent with this
      as their furthest stage) and are pending (still active there; in the
      last stage, every active customer): they add up to ``reached``.

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

    Raises
    ------
    ValueError
        When ``persona`` is not one of the report's personas, the report is not
        split by persona, or it lacks the canvas's inputs.
    """
    tables = _select(report, persona)
    stages_table, touchpoints, opportunities, canvas = tables
    info = report.info
    minimum = int(info.get("min_customers", 30))
    stages = tuple(str(s) for s in stages_table["stage"])
    ranked_by = info.get("pains_ranked_by", "size")
    survey = list(info.get("survey_columns", info.get("columns", [])))
    notes = []
    if not survey:
        notes.append(
            _("The events have no satisfaction, NPS or effort column: the feeling row is empty.")
        )
    if ranked_by == "size":
        notes.append(
            _(
                "Pain points are ranked by the customers they touch: rank them by churn "
                "with a model."
            )
        )
    if opportunities is None:
        notes.append(_("Opportunities (missing touchpoints) need a model."))
    flow = _flow(stages_table, minimum)
    return JourneyCanvas(
        stages=stages,
        persona=persona,
        by=info.get("by") if persona is not None else None,
        doing=_doing(touchpoints, stages, info.get("touchpoint_channels", {})),
        feeling=_feeling(stages_table, canvas, minimum),
        pains=_pains(stages_table, canvas, minimum, ranked_by),
        opportunities=_opportunities(
            opportunities, minimum, stages, float(info.get("low_use", 0.1))
        ),
        flow=flow,
        info={
            "cutoff": info.get("cutoff"),
            "horizon": info.get("horizon"),
            "n_customers": int(flow["reached"].iloc[0]) if len(flow) else 0,
            "n_events": int(canvas["events"].sum()),
            "journey_map": info.get("journey_map"),
            "negative_weight": info.get("negative_weight"),
            "min_customers": minimum,
            "pains_ranked_by": ranked_by,
            "opportunities_from": None if opportunities is None else info.get("opportunities_from"),
            "columns": survey,
            "ticket_touchpoints": info.get("ticket_touchpoints", ()),
            "notes": notes,
        },
    )


# --------------------------------------------------------------------------- selecting
def _select(report, persona):
    """The report's stage, touchpoint, opportunity and canvas tables of ``persona``."""
    if report.canvas_stages is None:
        raise ValueError(
            "This journey map has no canvas inputs (it was made by an older cjml or built "
            "by hand); make it again with cjml.journey_map (cjml journey-map)."
        )
    if persona is None:
        return report.stages, report.touchpoints, report.opportunities, report.canvas_stages
    by = report.info.get("by")
    if not by or report.group_canvas_stages is None:
        raise ValueError(
            f"persona={persona!r}: this journey map is not split by persona. Fix: make it with "
            "by= naming the persona column (cjml journey-map --by segment), or leave the "
            "persona out for all customers."
        )
    known = report.personas
    missing = _is_missing(persona)
    if not any((_is_missing(k) if missing else k == persona) for k in known):
        raise ValueError(
            f"persona={persona!r} is not a value of {by!r}; the personas are {known!r}. "
            "Fix: pass one of them (--persona), or none for all customers."
        )

    def rows(frame):
        if frame is None:
            return None
        mask = frame[by].isna() if missing else frame[by] == persona
        return frame[mask.to_numpy(dtype=bool)].drop(columns=by).reset_index(drop=True)

    return (
        rows(report.group_stages),
        rows(report.group_touchpoints),
        rows(report.group_opportunities),
        rows(report.group_canvas_stages),
    )


def _is_missing(value) -> bool:
    return value is None or (np.ndim(value) == 0 and bool(pd.isna(value)))


# --------------------------------------------------------------------------- the rows
def _doing(touchpoints: pd.DataFrame, stages: tuple, channels: dict) -> pd.DataFrame:
    """The top touchpoints per stage (the table lists each stage's most events first)."""
    order = {s: k for k, s in enumerate(stages)}
    top = touchpoints.groupby("stage", sort=False).head(DOING_TOP).copy()
    top["_s"] = top["stage"].map(order)
    top = top.sort_values("_s", kind="stable")
    return pd.DataFrame(
        {
            "stage": top["stage"].to_numpy(dtype=object),
            "rank": (top.groupby("stage", sort=False).cumcount() + 1).to_numpy(dtype=np.int64),
            "touchpoint": top["touchpoint"].to_numpy(dtype=object),
            "channel": np.asarray([channels.get(t) for t in top["touchpoint"]], dtype=object),
            "share": top["event_share"].to_numpy(dtype=float),
            "customers": top["customers"].to_numpy(dtype=np.int64),
        }
    )


def _feeling(stages_table: pd.DataFrame, canvas: pd.DataFrame, minimum: int) -> pd.DataFrame:
    emotion = canvas["emotion"].to_numpy(dtype=float)
    answered = ~np.isnan(emotion)
    peak = np.zeros(len(emotion), dtype=bool)
    end = np.zeros(len(emotion), dtype=bool)
    if answered.any():
        size = np.where(answered, np.abs(emotion), -1.0)
        peak[len(size) - 1 - int(np.argmax(size[::-1]))] = True  # ties: the later stage
        end[int(np.flatnonzero(answered)[-1])] = True
    respondents = canvas["respondents"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "stage": canvas["stage"].to_numpy(dtype=object),
            "emotion": emotion,
            "emotion_low": canvas["emotion_low"].to_numpy(dtype=float),
            "emotion_high": canvas["emotion_high"].to_numpy(dtype=float),
            "answers": canvas["answers"].to_numpy(dtype=np.int64),
            "respondents": respondents,
            "customers": canvas["customers"].to_numpy(dtype=np.int64),
            "answered_share": canvas["answered_share"].to_numpy(dtype=float),
            "csat_mean": canvas["csat_mean"].to_numpy(dtype=float),
            "nps": stages_table["nps"].to_numpy(dtype=float),
            "ces_mean": canvas["ces_mean"].to_numpy(dtype=float),
            "negative_share": canvas["negative_share"].to_numpy(dtype=float),
            "few": respondents < minimum,
            "peak": peak,
            "end": end,
        }
    )


def _pains(
    stages_table: pd.DataFrame, canvas: pd.DataFrame, minimum: int, ranked_by: str
) -> pd.DataFrame:
    """One row per stage and pain kind where the pain shows, ranked on the whole canvas."""
    st, cv = stages_table, canvas
    known = (st["customers"] - st["active"]).to_numpy(dtype=float)
    if len(known):  # the last stage's drop-off is of all its customers (cjml.journey_map)
        known[-1] = float(st["customers"].iloc[-1])
    kinds = {
        # kind: (metric, customers behind it, customers it touches)
        "drop_off": (st["drop_off"], known, st["dropped"]),
        "wait": (cv["wait_ratio"], cv["customers"], cv["wait_share"] * cv["customers"]),
        "effort": (
            cv["ces_bad_share"],
            cv["ces_respondents"],
            cv["ces_bad_share"] * cv["ces_respondents"],
        ),
        "unresolved": (
            cv["unresolved_share"],
            cv["ticket_customers"],
            cv["unresolved_share"] * cv["ticket_customers"],
        ),
        "bad_experience": (
            cv["csat_bad_share"],
            cv["csat_respondents"],
            cv["csat_bad_share"] * cv["csat_respondents"],
        ),
    }
    parts = []
    for k, (kind, (values, customers, touched)) in enumerate(kinds.items()):
        metric = np.asarray(values, dtype=float)
        shows = ~np.isnan(metric) & (metric >= WAIT_MIN if kind == "wait" else metric > 0.0)
        parts.append(
            pd.DataFrame(
                {
                    "stage": cv["stage"].to_numpy(dtype=object)[shows],
                    "kind": kind,
                    "metric": metric[shows],
                    "customers": np.asarray(customers, dtype=float)[shows].astype(np.int64),
                    "churn_explained": cv[f"churn_{kind}"].to_numpy(dtype=float)[shows],
                    "_size": np.nan_to_num(np.asarray(touched, dtype=float)[shows]),
                    "_kind": k,
                    "_s": np.flatnonzero(shows),
                    "_days": cv["median_days"].to_numpy(dtype=float)[shows],
                }
            )
        )
    pains = pd.concat(parts, ignore_index=True)
    keys = ["churn_explained", "_size"] if ranked_by != "size" else ["_size"]
    pains = pains.sort_values(
        [*keys, "_s", "_kind"],
        ascending=[False] * len(keys) + [True, True],
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
    pains["rank"] = np.arange(1, len(pains) + 1, dtype=np.int64)
    pains["few"] = pains["customers"].to_numpy() < minimum
    pains["text"] = [
        _pain_text(kind, metric, days)
        for kind, metric, days in zip(pains["kind"], pains["metric"], pains["_days"], strict=True)
    ]
    return pains[_PAIN_COLUMNS]


def _pain_text(kind: str, metric: float, days: float) -> str:
    share = format_percent(metric, 0)
    if kind == "drop_off":
        # the journey map's drop-off: of those in the stage whose outcome there is known (they
        # left it, went silent in it or, in the last stage, stay active); not the flow row's
        # share of those who reached it
        return _("{share} of those with a known outcome here went silent").format(share=share)
    if kind == "wait":
        return _("median {time} here, {ratio}\u00d7 the other stages").format(
            time=format_duration(days), ratio=format_number(metric, 1)
        )
    if kind == "effort":
        return _("{share} of effort answers are high (5 or more)").format(share=share)
    if kind == "unresolved":
        return _("{share} of tickets opened here stay unresolved").format(share=share)
    return _("{share} of satisfaction answers are 1-2 of 5").format(share=share)


def _opportunities(
    opportunities: pd.DataFrame | None, minimum: int, stages: tuple, low_use: float
) -> pd.DataFrame:
    """The flagged missing touchpoints, then per stage the best two worth testing."""
    if opportunities is None or opportunities.empty:
        return pd.DataFrame({c: [] for c in _OPPORTUNITY_COLUMNS}).astype(
            {"risk_reduction": float, "customers": np.int64, "few": bool}
        )
    o = opportunities
    positive = (o["mean_risk_reduction"] > 0).to_numpy(dtype=bool)
    uncertain = o["uncertain"].to_numpy(dtype=bool)
    missing = o["missing"].to_numpy(dtype=bool) & positive & ~uncertain
    could = (
        o["risk_reduction_high"].fillna(o["mean_risk_reduction"])
        if "risk_reduction_high" in o
        else o["mean_risk_reduction"]
    ).to_numpy(dtype=float) >= TESTING_MIN_EFFECT
    testing = positive & uncertain & could & (o["current_use"] < low_use).to_numpy(dtype=bool)
    o = o.assign(
        status=np.where(missing, "missing", "worth testing"),
        _first=np.where(missing, 0, 1),
        _s=o["stage"].map({s: k for k, s in enumerate(stages)}),
    )[missing | testing]
    o = o.sort_values(
        ["_first", "_s", "mean_risk_reduction", "touchpoint"],
        ascending=[True, True, False, True],
        kind="stable",
    )
    o = o[(o["_first"] == 0) | (o.groupby(["_first", "_s"]).cumcount() < TESTING_PER_STAGE)]
    low = o.get("risk_reduction_low", pd.Series(np.nan, index=o.index)).to_numpy(dtype=float)
    high = o.get("risk_reduction_high", pd.Series(np.nan, index=o.index)).to_numpy(dtype=float)
    evidence = o.get("evidence", pd.Series(np.nan, index=o.index)).to_numpy(dtype=float)
    rr = o["mean_risk_reduction"].to_numpy(dtype=float)
    customers = o["customers"].to_numpy(dtype=np.int64)
    points = np.atleast_1d(format_points(rr))
    texts = []
    for tp, pts, lo, hi in zip(o["touchpoint"], points, low, high, strict=True):
        name = label_text(tp)
        if np.isnan(lo) or np.isnan(hi):
            texts.append(
                _("{touchpoint}: {points} less drop-off risk").format(touchpoint=name, points=pts)
            )
        else:
            texts.append(
                _("{touchpoint}: {points} less drop-off risk ({low} to {high})").format(
                    touchpoint=name,
                    points=pts,
                    low=format_number(100 * lo, 1),
                    high=format_number(100 * hi, 1),
                )
            )
    behind = np.where(np.isnan(evidence), customers, np.fmin(customers, evidence))
    return pd.DataFrame(
        {
            "stage": o["stage"].to_numpy(dtype=object),
            "touchpoint": o["touchpoint"].to_numpy(dtype=object),
            "risk_reduction": rr,
            "risk_reduction_low": low,
            "risk_reduction_high": high,
            "customers": customers,
            "evidence": evidence,
            "current_use": o["current_use"].to_numpy(dtype=float),
            "text": np.asarray(texts, dtype=object),
            "status": o["status"].to_numpy(dtype=object),
            "few": behind < minimum,
        }
    )


def _flow(stages_table: pd.DataFrame, minimum: int) -> pd.DataFrame:
    st = stages_table
    reached = st["reached"].to_numpy(dtype=np.int64)
    dropped = st["went_silent"].to_numpy(dtype=np.int64)
    moved = st["converted"].to_numpy(dtype=float, na_value=0.0).astype(np.int64)
    pending = reached - moved - dropped  # in the last stage: every active customer
    with np.errstate(invalid="ignore", divide="ignore"):
        share = {
            name: np.where(reached > 0, counts / np.maximum(reached, 1), np.nan)
            for name, counts in (
                ("moved_on", moved),
                ("dropped_off", dropped),
                ("pending", pending),
            )
        }
    return pd.DataFrame(
        {
            "stage": st["stage"].to_numpy(dtype=object),
            "customers": st["customers"].to_numpy(dtype=np.int64),
            "reached": reached,
            "median_days": st["median_days"].to_numpy(dtype=float),
            "moved_on": moved,
            "dropped_off": dropped,
            "pending": pending,
            "moved_on_share": share["moved_on"],
            "dropped_off_share": share["dropped_off"],
            "pending_share": share["pending"],
            "conversion": st["conversion"].to_numpy(dtype=float),
            "drop_off": st["drop_off"].to_numpy(dtype=float),
            "few": reached < minimum,
        }
    )
