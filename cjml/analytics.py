"""The data-driven journey map: funnel, drop-off, touchpoints and gaps per stage.

:func:`journey_map` reads an event log and describes each journey stage as the
customers lived it: how many reached it, how many moved on and how many went
silent there, how long they stayed, which touchpoints they met, how satisfied
they were, and, given a model, which actionable touchpoints would lower the
drop-off risk most but are rarely used there (the *missing touchpoints* of
DOMAIN.md). The result, a :class:`JourneyMapReport`, holds plain DataFrames,
renders as an HTML table in notebooks, exports to CSV and HTML, and draws a
stage funnel and a Sankey-style stage-to-stage flow with matplotlib.

Everything is computed with numpy over the sorted log (no Python loop over
customers), so a log of ten million events takes seconds.
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cjml.events import EventLog, to_utc_timestamp
from cjml.exceptions import SchemaError
from cjml.i18n import (
    N_,
    current,
    format_currency,
    format_duration,
    format_moment,
    format_number,
    format_percent,
    format_points,
    label_text,
    language,
    ngettext,
)
from cjml.i18n import gettext as _
from cjml.io._write import write_atomic, write_csv
from cjml.journey import DROPPED

__all__ = ["JourneyMapReport", "journey_map"]

#: Defaults when neither the call nor a model bundle gives them.
DEFAULT_HORIZON = "30D"
DEFAULT_LOOKBACK = "90D"

_NS_PER_DAY = 86_400 * 10**9
_TOP_TOUCHPOINTS = 3
_ACTIVE = "still active"
_EFFECT_COLUMNS = ("customer_id", "stage", "touchpoint", "risk_reduction")
_TABLES = ("stages", "touchpoints", "flows", "opportunities", "value")
_VALUE_SCORE_COLUMNS = ("customer_id", "expected_value", "value_at_risk")
_DASH = "\u2013"


def _warn_horizon_beyond_log(prep, end: pd.Timestamp, horizon: pd.Timedelta) -> None:
    """Say so when no customer can have been silent for a whole horizon before the cutoff.

    Then every drop-off rate is 0 by construction, not because nobody left (a two-week
    app log with the default 30 days).
    """
    from cjml.labels import _duration_code, _duration_words

    first = pd.Timestamp(int(prep.ts.min()), tz="UTC")
    if end - horizon >= first or prep.dropped.any():
        return
    shorter = max((end - first) / 4, pd.Timedelta(hours=1))
    shorter = shorter.floor("D") if shorter >= pd.Timedelta(days=1) else shorter.floor("h")
    warnings.warn(
        f"Dropping off is {_duration_words(horizon)} of silence, and the log covers "
        f"{_duration_words((end - first).ceil('h'))} before the cutoff, so no customer can "
        "be seen to drop off and every drop-off rate is 0. Pass a shorter horizon, e.g. "
        f"horizon='{_duration_code(shorter)}' (--horizon {_duration_code(shorter)}).",
        UserWarning,
        stacklevel=3,
    )


def _warn_horizon_within_visits(log, horizon: pd.Timedelta) -> None:
    """Say so when customers who come back are mostly silent longer than the horizon
    (yearly renewals with 30 days): the drop-off rates then count their quiet months."""
    from cjml.labels import silences_beyond

    found = silences_beyond(log, horizon)
    if found is None:
        return
    facts, days = found
    warnings.warn(
        f"{facts}: a customer counts as dropped off after {_days(horizon)} of silence, so "
        "the drop-off rates count customers between two visits. Pass a horizon that fits "
        f"them, e.g. horizon='{days}D' (--horizon {days}D).",
        UserWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------- the data
class _Prepared:
    """The log's events up to the cutoff, as arrays, with per-customer facts.

    Customers are numbered by *position* ``0..P-1`` among those with an event
    at or before the cutoff; ``pos`` gives each event's position.
    """

    def __init__(self, log: EventLog, cutoff_ns: int, horizon_ns: int):
        ts_all = log.timestamps_ns
        keep = ts_all <= cutoff_ns
        self.rows = None if keep.all() else np.flatnonzero(keep)
        ts, codes = self.take(ts_all), self.take(log.customer_codes)
        n = len(ts)
        if n == 0:
            first = pd.Timestamp(int(ts_all.min()), tz="UTC")
            raise ValueError(
                f"No event happened at or before the cutoff {pd.Timestamp(cutoff_ns, tz='UTC')}: "
                f"the log starts at {first}. Pass a later cutoff."
            )
        self.log = log
        self.n_stages = len(log.journey_map.stages)
        self.n_touchpoints = len(log.frame["touchpoint"].cat.categories)
        self.ts = ts
        self.stage = self.take(log.stage_codes)
        self.tp = self.take(log.touchpoint_codes)
        starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
        ends = np.append(starts[1:], n)
        self.codes = codes[starts]  # customer code of each position
        self.n = len(starts)
        self.pos = np.repeat(np.arange(self.n, dtype=np.int64), ends - starts)
        self.first_row = starts
        self.last_row = ends - 1
        self.furthest = np.maximum.reduceat(self.stage, starts)
        self.last_stage = self.stage[self.last_row]
        last_own = ts[self.last_row]
        if log.activity_mask is not None:  # what the business sent does not keep anyone
            own = np.where(self.take(log.activity_mask), ts, np.iinfo(np.int64).min)
            last_own = np.maximum.reduceat(own, starts)
        self.dropped = last_own <= cutoff_ns - horizon_ns
        gone = log.gone_at(cutoff_ns)
        if gone is not None:  # a customer who cancelled left, however recently
            self.dropped |= gone[codes[starts]]

        # Runs: maximal stretches of consecutive events of one customer in one stage.
        S = self.n_stages
        pos, stage = self.pos, self.stage
        new = np.ones(n, dtype=bool)
        new[1:] = (pos[1:] != pos[:-1]) | (stage[1:] != stage[:-1])
        run = np.flatnonzero(new)
        nxt = np.append(run[1:], n)
        nxt_c = np.minimum(nxt, n - 1)
        same = (nxt < n) & (pos[nxt_c] == pos[run])  # the customer's next event is in another stage
        end_ts = np.where(same, ts[nxt_c], ts[nxt - 1])
        run_pos, run_stage = pos[run], stage[run]
        # Days in stage, summed over the customer's stays in it.
        pairs, inverse = _unique(run_pos * S + run_stage, inverse=True)
        self.pair_pos, self.pair_stage = pairs // S, pairs % S
        self.pair_days = (
            np.bincount(inverse, weights=(end_ts - ts[run]).astype(np.float64)) / _NS_PER_DAY
        )
        # Stage-to-stage moves, each (customer, from, to) once.
        to = stage[nxt_c[same]]
        moves = _unique((run_pos[same] * S + run_stage[same]) * S + to)
        self.move_pos = moves // (S * S)
        self.move_from = (moves // S) % S
        self.move_to = moves % S
        # (customer, stage, touchpoint) triples, each once.
        T = self.n_touchpoints
        key = (pos * S + stage) * T + self.tp
        if n > 1:
            key = key[np.concatenate([[True], key[1:] != key[:-1]])]
        triples = _unique(key)
        self.triple_pos = triples // (S * T)
        self.triple_stage = (triples // T) % S
        self.triple_tp = triples % T

    def take(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per log row) restricted to the events up to the cutoff."""
        return values if self.rows is None else values[self.rows]

    def column(self, name: str) -> np.ndarray | None:
        """A numeric column of the log as float64 up to the cutoff, or None when absent."""
        frame = self.log.frame
        if name not in frame.columns:
            return None
        return self.take(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))


def _unique(keys: np.ndarray, inverse: bool = False):
    """Sorted distinct ``keys`` (and each key's index among them).

    The keys here lead with the customer position, so they come almost sorted:
    a stable sort (timsort on runs) beats :func:`numpy.unique`'s hashing.
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    distinct = ordered[first]
    if not inverse:
        return distinct
    where = np.empty(len(keys), dtype=np.int64)
    where[order] = np.cumsum(first) - 1
    return distinct, where


def _resolve_by(log: EventLog, by) -> str | None:
    if by is None:
        return None
    allowed = [*log.extra_columns, *(["channel"] if "channel" in log.frame.columns else [])]
    if by in allowed:
        return by
    close = difflib.get_close_matches(str(by), [str(a) for a in allowed], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    if not allowed:
        raise SchemaError(
            f"by={by!r} (--by {by}) is not a column of the event log, which has no column to "
            "group "
            "customers by. Fix: add a segment or persona column to the events (it is carried "
            "along) and pass its name."
        )
    raise SchemaError(
        f"by={by!r} (--by {by}) is not a column of the event log.{hint} Columns to group by: "
        f"{allowed!r}. Fix: pass one of them, or add the column to the events."
    )


def _groups(prep: _Prepared, by: str | None) -> tuple[np.ndarray, list]:
    """Each customer's group (its value of ``by`` at its last event) and the group labels."""
    if by is None:
        return np.zeros(prep.n, dtype=np.int64), [None]
    rows = prep.last_row if prep.rows is None else prep.rows[prep.last_row]
    values = prep.log.frame[by].iloc[rows]
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    return codes.astype(np.int64), list(uniques)


# --------------------------------------------------------------------------- the tables
def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _count(keys: np.ndarray, size: int, weights=None) -> np.ndarray:
    return np.bincount(keys, weights=weights, minlength=size)[:size]


def _tables(prep: _Prepared, g: np.ndarray, n_groups: int):
    """Per (group, stage) metrics, touchpoints and flows, with a group code column ``_g``."""
    S, T, G = prep.n_stages, prep.n_touchpoints, n_groups
    stages = list(prep.log.journey_map.stages)
    tp_names = [str(t) for t in prep.log.frame["touchpoint"].cat.categories]
    GS = G * S
    gs_rows = np.arange(GS)
    out: dict[str, object] = {"_g": gs_rows // S, "stage": [stages[s] for s in gs_rows % S]}

    in_group = np.bincount(g, minlength=G).astype(float)
    g_event = g[prep.pos] if G > 1 else np.zeros(len(prep.pos), dtype=np.int64)
    key_gs = g_event * S + prep.stage
    customers = _count(g[prep.pair_pos] * S + prep.pair_stage, GS)
    furthest = _count(g * S + prep.furthest, GS).reshape(G, S)
    reached = furthest[:, ::-1].cumsum(axis=1)[:, ::-1]
    active = ~prep.dropped
    pending = _count(g[active] * S + prep.furthest[active], GS).reshape(G, S)
    converted = np.full((G, S), np.nan)
    converted[:, :-1] = reached[:, 1:]
    dropped = _count(g[prep.dropped] * S + prep.last_stage[prep.dropped], GS)
    still = _count(g[active] * S + prep.last_stage[active], GS)
    back = prep.move_to < prep.move_from
    moved_back = _unique(prep.move_pos[back] * S + prep.move_from[back])
    moved_back = _count(g[moved_back // S] * S + moved_back % S, GS)

    out["customers"] = customers
    out["reached"] = reached.ravel()
    out["reached_share"] = _ratio(reached, in_group[:, None]).ravel()
    out["converted"] = pd.array(converted.ravel(), dtype="Int64")
    out["pending"] = np.where(np.arange(S) < S - 1, pending, 0).ravel()
    silent = _count(g[prep.dropped] * S + prep.furthest[prep.dropped], GS)
    out["went_silent"] = silent
    out["conversion"] = _ratio(converted, reached - pending).ravel()
    out["dropped"] = dropped
    out["active"] = still
    # The last stage has no next one to leave for: staying active is its known good outcome,
    # so its active customers count (otherwise a map nobody moves back in shows 100% there).
    known = (customers - still).reshape(G, S)
    known[:, -1] = customers.reshape(G, S)[:, -1]
    out["drop_off"] = _ratio(dropped, known.ravel())
    days = pd.Series(prep.pair_days).groupby(g[prep.pair_pos] * S + prep.pair_stage).median()
    out["median_days"] = days.reindex(gs_rows).to_numpy(dtype=float)
    out["moved_back"] = moved_back

    # Touchpoints per (group, stage): events and customers.
    tp_events = _count(key_gs * T + prep.tp, GS * T)
    tp_customers = _count((g[prep.triple_pos] * S + prep.triple_stage) * T + prep.triple_tp, GS * T)
    stage_events = tp_events.reshape(GS, T).sum(axis=1)
    nz = np.flatnonzero(tp_events)
    touchpoints = pd.DataFrame(
        {
            "_g": nz // (S * T),
            "stage": [stages[s] for s in (nz // T) % S],
            "touchpoint": [tp_names[t] for t in nz % T],
            "events": tp_events[nz],
            "customers": tp_customers[nz],
            "event_share": _ratio(tp_events[nz], stage_events[nz // T]),
            "customer_share": _ratio(tp_customers[nz], customers[nz // T]),
            "_gs": nz // T,
        }
    )
    touchpoints = touchpoints.sort_values(
        ["_gs", "events", "touchpoint"], ascending=[True, False, True], kind="stable"
    )
    top = (
        touchpoints.groupby("_gs", sort=False)
        .head(_TOP_TOUCHPOINTS)
        .assign(
            _text=lambda d: (
                d["touchpoint"] + " (" + d["event_share"].map(lambda v: f"{v:.0%}") + ")"
            )
        )
        .groupby("_gs")["_text"]
        .agg(", ".join)
    )
    out["top_touchpoints"] = top.reindex(gs_rows).to_numpy(dtype=object)

    # Satisfaction (mean over answers) and NPS (each customer's latest answer in the stage).
    sat = prep.column("satisfaction")
    if sat is not None:
        ok = ~np.isnan(sat)
        n_sat = _count(key_gs[ok], GS)
        out["mean_satisfaction"] = _ratio(_count(key_gs[ok], GS, weights=sat[ok]), n_sat)
        out["satisfaction_answers"] = n_sat
    else:
        out["mean_satisfaction"] = np.full(GS, np.nan)
        out["satisfaction_answers"] = np.zeros(GS, dtype=np.int64)
    nps = prep.column("nps")
    if nps is not None and (~np.isnan(nps)).any():
        at = np.flatnonzero(~np.isnan(nps))[::-1]  # latest first
        keys = prep.pos[at] * S + prep.stage[at]
        order = np.argsort(keys, kind="stable")  # stable: the latest answer leads each key
        first = np.ones(len(order), dtype=bool)
        first[1:] = keys[order][1:] != keys[order][:-1]
        at = at[order[first]]
        score, key = nps[at], key_gs[at]
        respondents = _count(key, GS)
        promoters = _ratio(_count(key[score >= 9], GS), respondents)
        passives = _ratio(_count(key[(score >= 7) & (score < 9)], GS), respondents)
        detractors = _ratio(_count(key[score < 7], GS), respondents)
    else:
        respondents = np.zeros(GS, dtype=np.int64)
        promoters = passives = detractors = np.full(GS, np.nan)
    out["nps_respondents"] = respondents
    out["promoters"] = promoters
    out["passives"] = passives
    out["detractors"] = detractors
    out["nps"] = 100 * (promoters - detractors)
    table = pd.DataFrame(out)

    # Flows: stage-to-stage moves, then where each customer's last stage led.
    move_key = (g[prep.move_pos] * S + prep.move_from) * S + prep.move_to
    move_n = _count(move_key, GS * S)
    nz = np.flatnonzero(move_n)
    frm, to = (nz // S) % S, nz % S
    parts = [
        pd.DataFrame(
            {
                "_g": nz // (S * S),
                "from_stage": [stages[s] for s in frm],
                "to_stage": [stages[s] for s in to],
                "kind": np.where(to > frm, "forward", "back"),
                "customers": move_n[nz],
                "_from": frm,
                "_order": 0,
            }
        )
    ]
    for kind, label, counts, place in (
        ("dropped", DROPPED, dropped, 1),
        ("active", _ACTIVE, still, 2),
    ):
        nz = np.flatnonzero(counts)
        parts.append(
            pd.DataFrame(
                {
                    "_g": nz // S,
                    "from_stage": [stages[s] for s in nz % S],
                    "to_stage": label,
                    "kind": kind,
                    "customers": counts[nz],
                    "_from": nz % S,
                    "_order": place,
                }
            )
        )
    flows = pd.concat(parts, ignore_index=True)
    flows = flows.sort_values(["_g", "_from", "_order"], kind="stable")
    flows = flows.drop(columns=["_from", "_order"]).reset_index(drop=True)
    flows["customers"] = flows["customers"].astype(np.int64)
    touchpoints = touchpoints.drop(columns="_gs").reset_index(drop=True)
    return table, touchpoints, flows


class _Effects:
    """The rows of an effects frame as codes: stage, touchpoint, customer position, use."""

    def __init__(self, effects, prep: _Prepared, cutoff_ns: int, lookback_ns: int | None):
        if not isinstance(effects, pd.DataFrame):
            raise TypeError(
                f"effects must be a DataFrame with columns "
                f"{list(_EFFECT_COLUMNS)!r}, got {type(effects).__name__}."
            )
        missing = [c for c in _EFFECT_COLUMNS if c not in effects.columns]
        if missing:
            raise ValueError(
                f"effects lacks column(s) {missing!r}; it needs {list(_EFFECT_COLUMNS)!r} (one "
                f"row per customer and eligible touchpoint) and has {list(effects.columns)!r}. "
                "Fix: pass the frame cjml.recommend.estimate_effects returns."
            )
        log = prep.log
        stages = list(log.journey_map.stages)
        s_codes, s_names = pd.factorize(effects["stage"])
        if (s_codes < 0).any():
            raise ValueError(
                f"effects has {int((s_codes < 0).sum()):,} row(s) without a stage; "
                "every row needs the customer's current stage at the cutoff."
            )
        stage_names = [str(v) for v in s_names]
        unknown = sorted(set(stage_names) - set(stages))
        if unknown:
            close = difflib.get_close_matches(unknown[0], stages, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"effects names stage(s) {unknown!r} that the journey map does not "
                f"have; its stages are {stages!r}.{hint}"
            )
        t_codes, t_names = pd.factorize(effects["touchpoint"], sort=True)
        if (t_codes < 0).any():
            raise ValueError(
                f"effects has {int((t_codes < 0).sum()):,} row(s) without a touchpoint."
            )
        rr = pd.to_numeric(effects["risk_reduction"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(rr)
        if bad.any():
            raise ValueError(
                f"effects['risk_reduction'] must hold finite numbers (a drop in churn "
                f"probability); {int(bad.sum()):,} row(s) do not, e.g. "
                f"{effects['risk_reduction'].to_numpy()[bad][0]!r}."
            )
        code = pd.Index(log.customer_ids).get_indexer(effects["customer_id"])
        position = np.full(log.n_customers, -1, dtype=np.int64)
        position[prep.codes] = np.arange(prep.n)
        pos = np.where(code >= 0, position[np.maximum(code, 0)], -1)
        if (pos < 0).any():
            strangers = pd.unique(effects["customer_id"].to_numpy()[pos < 0])
            raise ValueError(
                f"effects names {len(strangers):,} customer(s) without events at or before the "
                f"cutoff in this log, e.g. {list(strangers[:5])!r}. Fix: estimate the effects "
                "on the same log and cutoff."
            )
        # Current use: the customer had the touchpoint in the lookback before the cutoff.
        T = prep.n_touchpoints
        self.names = [str(t) for t in t_names]
        in_log = log.frame["touchpoint"].cat.categories.get_indexer(pd.Index(self.names))[t_codes]
        recent = slice(None) if lookback_ns is None else prep.ts > cutoff_ns - lookback_ns
        had = _unique(prep.pos[recent] * T + prep.tp[recent])
        keys = pos * T + np.maximum(in_log, 0)
        at = np.minimum(np.searchsorted(had, keys), max(len(had) - 1, 0))
        self.used = (in_log >= 0) & (had[at] == keys if len(had) else False)
        self.stage = pd.Index(stages).get_indexer(pd.Index(stage_names))[s_codes].astype(np.int64)
        self.tp = t_codes.astype(np.int64)
        self.pos = pos
        self.rr = rr
        # the interval and the evidence, when the effects have them (estimate_effects does)
        self.low, self.high, self.evidence = (
            pd.to_numeric(effects[c], errors="coerce").to_numpy(dtype=float)
            if c in effects.columns
            else None
            for c in ("risk_reduction_low", "risk_reduction_high", "evidence")
        )
        if self.evidence is not None:
            self.evidence[self.evidence < 0] = np.nan  # -1: not estimated


def _opportunities(
    prep: _Prepared, eff: _Effects, g: np.ndarray, n_groups: int, low_use: float
) -> pd.DataFrame:
    """Mean risk reduction and current use of each touchpoint per (group, stage)."""
    S, U = prep.n_stages, len(eff.names)
    stages = list(prep.log.journey_map.stages)
    key = (g[eff.pos] * S + eff.stage) * U + eff.tp
    size = n_groups * S * U
    rows = _count(key, size)
    nz = np.flatnonzero(rows)
    agg = pd.DataFrame(
        {
            "_g": nz // (S * U),
            "_s": (nz // U) % S,
            "touchpoint": [eff.names[t] for t in nz % U],
            "customers": rows[nz].astype(np.int64),
            "mean_risk_reduction": _count(key, size, weights=eff.rr)[nz] / rows[nz],
            "current_use": _count(key, size, weights=eff.used.astype(float))[nz] / rows[nz],
        }
    )
    # Uncertain: the mean of the intervals' lower ends is not above zero (the effect may
    # be none); unknown intervals leave it unknown, not uncertain.
    if eff.low is not None:
        known = ~np.isnan(eff.low)
        k_rows = _count(key[known], size)[nz]
        with np.errstate(invalid="ignore", divide="ignore"):
            low = _count(key[known], size, weights=eff.low[known])[nz] / k_rows
        agg["uncertain"] = (k_rows > 0) & ~(low > 0)
    else:
        agg["uncertain"] = False
    # The means of the intervals' ends and of the evidence (treated customers in the
    # stage the estimate rests on), over the rows that have them; NaN without.
    for column, values in (
        ("risk_reduction_low", eff.low),
        ("risk_reduction_high", eff.high),
        ("evidence", eff.evidence),
    ):
        if values is None:
            agg[column] = np.nan
            continue
        known = ~np.isnan(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            agg[column] = (
                _count(key[known], size, weights=values[known])[nz] / _count(key[known], size)[nz]
            )
    agg = agg.sort_values(
        ["_g", "_s", "mean_risk_reduction", "touchpoint"],
        ascending=[True, True, False, True],
        kind="stable",
    )
    per = agg.groupby(["_g", "_s"])["mean_risk_reduction"]
    rank = per.cumcount() + 1  # rows are ranked already; ties go by touchpoint name
    half = np.ceil(per.transform("size") / 2)
    agg["missing"] = (
        (agg["mean_risk_reduction"] > 0)
        & ~agg["uncertain"]
        & (rank <= half)
        & (agg["current_use"] < low_use)
    )
    agg.insert(1, "stage", [stages[s] for s in agg["_s"]])
    agg["_gs"] = agg["_g"] * S + agg["_s"]
    return agg.drop(columns="_s").reset_index(drop=True)


def _customer_values(prep: _Prepared, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer position's expected value and value at risk, and whether it was scored.

    Customers the scores leave out (not scored: inactive, or a row without a
    value) count as not scored; a scored customer without events at or before
    the cutoff means the scores are of another log or cutoff.
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(
            f"scores must be the DataFrame cjml.score returns, got {type(scores).__name__}."
        )
    missing = [c for c in _VALUE_SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(
            f"scores lacks column(s) {missing!r} for the journey map's values; they come from "
            "cjml.score with a bundle that has a value model (trained on events with an "
            "amount column). Fix: score with such a bundle, or leave scores= out."
        )
    keep = scores["expected_value"].notna().to_numpy().copy()
    if "status" in scores.columns:
        keep &= (scores["status"].astype(object) == "scored").to_numpy()
    rows = scores.loc[keep]
    code = pd.Index(prep.log.customer_ids).get_indexer(rows["customer_id"])
    position = np.full(prep.log.n_customers, -1, dtype=np.int64)
    position[prep.codes] = np.arange(prep.n)
    pos = np.where(code >= 0, position[np.maximum(code, 0)], -1)
    if (pos < 0).any():
        strangers = pd.unique(rows["customer_id"].to_numpy()[pos < 0])
        raise ValueError(
            f"scores names {len(strangers):,} customer(s) without events at or before the "
            f"cutoff in this log, e.g. {list(strangers[:5])!r}. Fix: score the same log at the "
            "same cutoff (cjml.score(bundle, events, cutoff=...))."
        )
    if pd.Index(pos).has_duplicates:
        raise ValueError(
            "scores lists a customer more than once; pass one row per customer, as "
            "cjml.score returns."
        )
    value = np.full(prep.n, np.nan)
    at_risk = np.full(prep.n, np.nan)
    value[pos] = pd.to_numeric(rows["expected_value"], errors="coerce").to_numpy(dtype=float)
    at_risk[pos] = pd.to_numeric(rows["value_at_risk"], errors="coerce").to_numpy(dtype=float)
    scored = np.zeros(prep.n, dtype=bool)
    scored[pos] = True
    return value, np.nan_to_num(at_risk), scored


def _value_table(
    prep: _Prepared, values: tuple, g: np.ndarray, n_groups: int, labels: list, by: str | None
) -> pd.DataFrame:
    """Per (group and) current stage: scored customers, their expected value and value at risk.

    A customer's stage is the stage of their last event at or before the
    cutoff; ``value_at_risk_share`` is of all the scored customers' value at
    risk, so it adds up to 1 over the whole table.
    """
    value, at_risk, scored = values
    S = prep.n_stages
    key = (g * S + prep.last_stage)[scored]
    size = n_groups * S
    customers = _count(key, size).astype(np.int64)
    total = _count(key, size, weights=value[scored])
    risk = _count(key, size, weights=at_risk[scored])
    grand = float(at_risk[scored].sum())
    stages = list(prep.log.journey_map.stages)
    frame = pd.DataFrame(
        {
            "stage": [stages[k % S] for k in range(size)],
            "customers": customers,
            "mean_expected_value": _ratio(total, customers),
            "expected_value": total,
            "value_at_risk": risk,
            "value_at_risk_share": risk / grand if grand > 0 else np.full(size, np.nan),
        }
    )
    if by is not None:
        frame.insert(0, by, [labels[k // S] for k in range(size)])
        frame = frame[frame["customers"] > 0]  # a group lists the stages its customers are in
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- canvas inputs
#: The pain kinds of the canvas, in the order they are shown when they tie.
PAIN_KINDS = ("drop_off", "wait", "effort", "unresolved", "bad_experience")
#: A survey answer at or above this effort (CES 1-7), or at or below this CSAT, is bad;
#: an NPS at or below ``_BAD_NPS`` too (the ExperienceFeatures defaults, detractors).
_HIGH_EFFORT, _LOW_CSAT, _BAD_NPS = 5.0, 2.0, 6.0
_Z90 = 1.6448536269514722  # the normal quantile of a two-sided 90% interval


def _valences(prep: _Prepared) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every survey answer as (event row, valence in [-1, 1]), and the score columns.

    CSAT (1-5) ``(csat - 3) / 2``; NPS (0-10) ``clip((nps - 7.5) / 2.5)``;
    CES (1-7, high = more effort) ``clip((4 - ces) / 3)``: one answer per
    survey column and event.
    """
    columns = {c: prep.column(c) for c in ("satisfaction", "nps", "effort")}
    rows, values = [], []
    for name, score in columns.items():
        if score is None:
            continue
        at = np.flatnonzero(~np.isnan(score))
        s = score[at]
        if name == "satisfaction":
            v = (s - 3.0) / 2.0
        elif name == "nps":
            v = (s - 7.5) / 2.5
        else:
            v = (4.0 - s) / 3.0
        rows.append(at)
        values.append(np.clip(v, -1.0, 1.0))
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0), columns
    return np.concatenate(rows), np.concatenate(values), columns


def _open_tickets(prep: _Prepared, opened: np.ndarray, resolved: np.ndarray) -> np.ndarray:
    """For each ticket-opening event (a row of ``opened``), whether it is still open.

    Tickets are followed per customer in time, as the support features do: a
    resolution closes the oldest open ticket (first in, first out) and one with
    no open ticket is ignored. So a customer's still-open tickets are their
    last ``still_open`` ones.
    """
    rows = np.flatnonzero(opened | resolved)
    if not opened.any():
        return np.zeros(0, dtype=bool)
    pos = prep.pos[rows]
    d = np.where(opened[rows], 1, -1).astype(np.int64)
    total = np.cumsum(d)
    first = np.flatnonzero(np.concatenate([[True], pos[1:] != pos[:-1]]))
    owner = np.repeat(np.arange(len(first)), np.diff(np.append(first, len(rows))))
    running = total - (total[first] - d[first])[owner]
    # x_t = S_t - min(0, min_{s<=t} S_s); shifting each customer below all earlier
    # ones restarts the running minimum per customer
    shift = 2 * (len(rows) + 1)
    lowest = np.minimum.accumulate(running - owner * shift) + owner * shift
    balance = running - np.minimum(lowest, 0)
    last = np.append(first[1:], len(rows)) - 1
    still_open = np.zeros(prep.n, dtype=np.int64)
    still_open[pos[last]] = balance[last]
    o = np.flatnonzero(opened)
    o_pos = prep.pos[o]
    n_opened = np.bincount(o_pos, minlength=prep.n)
    o_first = np.flatnonzero(np.concatenate([[True], o_pos[1:] != o_pos[:-1]]))
    rank = np.arange(len(o)) - np.repeat(o_first, np.diff(np.append(o_first, len(o))))
    after = n_opened[o_pos] - 1 - rank  # the customer's tickets opened after this one
    return after < still_open[o_pos]


def _pain_kind(name: str, family: str) -> str | None:
    """The pain kind whose features ``name`` (of ``family``) belongs to, or None."""
    if family == "support":
        return "unresolved"
    if name.startswith("ces_"):
        return "effort"
    if family == "experience" or name.startswith(("decayed_negative", "decayed_positive", "csat_")):
        return "bad_experience"
    if family == "stages" and ("days" in name or "per_30d" in name):
        return "wait"
    if family == "activity" or (
        family == "memory" and name.startswith(("decayed_events", "last_gap", "max_gap", "silence"))
    ):
        return "drop_off"
    return None


class _SharedFeatures:
    """The bundle's features at the cutoff, computed once for everything the map needs.

    The rows are the customers with an event in the wider of the two
    lookbacks: the bundle's (the models' population, as :func:`cjml.score`
    has it: the attributions and the values) and the map's (``lookback``: the
    effects' population).
    """

    def __init__(self, prep: _Prepared, bundle, end: pd.Timestamp, lookback):
        from cjml.features._windows import build_windows
        from cjml.scoring._chunk import _featurize
        from cjml.scoring._options import _lookback_ns

        self.prep, self.bundle, self.end = prep, bundle, end
        self.names = [str(c) for c in bundle.featurizer.get_feature_names_out()]
        model_ns = _lookback_ns(bundle)
        map_ns = None if lookback is None else int(lookback.value)
        self.map_ns = map_ns
        wider = None if model_ns is None or map_ns is None else max(model_ns, map_ns)
        windows = build_windows(prep.log, end, lookback_ns=wider)
        self.X = _featurize(bundle.featurizer, windows, end)
        last = prep.ts[prep.last_row[_positions(prep, self.X.index)]]
        self.in_model = np.ones(len(self.X), dtype=bool)
        if model_ns is not None:
            self.in_model = last > end.value - model_ns
        self.in_map = np.ones(len(self.X), dtype=bool)
        if map_ns is not None:
            self.in_map = last > end.value - map_ns
        self.X_model = self.X[self.in_model] if not self.in_model.all() else self.X
        churn = bundle.models["churn"]
        self.risk = (
            churn.predict_proba(self.X_model[self.names])[:, 1]
            if len(self.X_model)
            else np.empty(0)
        )

    def effects(self) -> pd.DataFrame:
        """:func:`cjml.recommend.estimate_effects` from these features."""
        from cjml.recommend import TouchpointRecommender

        rec = TouchpointRecommender.from_bundle(self.bundle)
        if (self.in_map == self.in_model).all():  # the usual case: the same population
            return rec.effects(
                self.prep.log,
                cutoff=self.end,
                features=self.X_model,
                churn_risk=self.risk,
            )
        lookback = None if self.map_ns is None else pd.Timedelta(self.map_ns)
        return rec.effects(self.prep.log, cutoff=self.end, features=self.X, lookback=lookback)

    def values(self) -> pd.DataFrame:
        """The value columns of :func:`cjml.score` (no drivers, no recommendations)."""
        X = self.X_model
        worth = self.bundle.models["value"].predict_value(X[self.names], self.risk)
        return pd.DataFrame(
            {
                "customer_id": X.index.to_numpy(),
                "expected_value": worth["expected_value"].to_numpy(dtype=float),
                "value_at_risk": worth["value_at_risk"].to_numpy(dtype=float),
            }
        )


class _Attribution:
    """Per customer position: the churn model's positive pushes, summed per pain kind.

    ``push[:, k]`` is the sum of the positive Saabas contributions (log-odds
    towards drop-off) of the features of pain kind ``k``; ``total`` the sum of
    all positive contributions; ``known`` marks the customers explained (the
    model's population at the cutoff).
    """

    def __init__(self, prep: _Prepared, bundle, X: pd.DataFrame):
        from cjml.explanations import contributions

        featurizer = bundle.featurizer
        names = [str(c) for c in featurizer.get_feature_names_out()]
        families = getattr(featurizer, "feature_families_", {})
        self.push = np.zeros((prep.n, len(PAIN_KINDS)))
        self.total = np.zeros(prep.n)
        self.known = np.zeros(prep.n, dtype=bool)
        if not len(X):
            return
        C = contributions(bundle.models["churn"], X[names], method="saabas")
        positive = np.maximum(C[names].to_numpy(dtype=float), 0.0)
        kinds = np.zeros((len(names), len(PAIN_KINDS)))
        for j, name in enumerate(names):
            kind = _pain_kind(name, families.get(name, ""))
            if kind is not None:
                kinds[j, PAIN_KINDS.index(kind)] = 1.0
        pos = _positions(prep, X.index)
        self.push[pos] = positive @ kinds
        self.total[pos] = positive.sum(axis=1)
        self.known[pos] = True


def _positions(prep: _Prepared, customer_ids) -> np.ndarray:
    """The positions of customers (all with an event at or before the cutoff)."""
    code = pd.Index(prep.log.customer_ids).get_indexer(pd.Index(customer_ids))
    position = np.full(prep.log.n_customers, -1, dtype=np.int64)
    position[prep.codes] = np.arange(prep.n)
    return position[code]


class _CanvasFacts:
    """The per-event and per-customer facts the canvas needs, computed once.

    :meth:`table` aggregates them per (group, stage) for one grouping.
    """

    def __init__(
        self,
        prep: _Prepared,
        negative_weight: float,
        tickets: tuple[tuple[str, ...], tuple[str, ...]],
        attribution: _Attribution | None,
    ):
        self.prep = prep
        self.attribution = attribution
        rows, v, self.scores = _valences(prep)
        self.answer_row, self.valence = rows, v
        self.weight = np.where(v < 0, float(negative_weight), 1.0)
        answered = _unique(prep.pos[rows] * prep.n_stages + prep.stage[rows])
        self.resp_pos, self.resp_stage = answered // prep.n_stages, answered % prep.n_stages
        cats = prep.log.frame["touchpoint"].cat.categories.tolist()
        opened_codes = [cats.index(t) for t in tickets[0] if t in cats]
        resolved_codes = [cats.index(t) for t in tickets[1] if t in cats]
        opened = np.isin(prep.tp, opened_codes)
        resolved = np.isin(prep.tp, resolved_codes) & ~opened
        self.ticket_rows = np.flatnonzero(opened)
        self.ticket_open = _open_tickets(prep, opened, resolved)

    def table(self, g: np.ndarray, n_groups: int) -> pd.DataFrame:
        """Per (group, stage), group code ``_g``: emotion, pain metrics and attributions."""
        prep = self.prep
        S, G = prep.n_stages, n_groups
        GS = G * S
        out: dict[str, object] = {"_g": np.arange(GS) // S}
        out["events"] = _count(g[prep.pos] * S + prep.stage, GS).astype(np.int64)
        customers = _count(g[prep.pair_pos] * S + prep.pair_stage, GS)

        # Emotion: the weighted mean of the valences and its 90% interval.
        r = self.answer_row
        key = g[prep.pos[r]] * S + prep.stage[r]
        v, w = self.valence, self.weight
        n = _count(key, GS)
        sw = _count(key, GS, weights=w)
        mean = _ratio(_count(key, GS, weights=w * v), sw)
        sw2 = _count(key, GS, weights=w * w)
        sw2v = _count(key, GS, weights=w * w * v)
        sw2v2 = _count(key, GS, weights=w * w * v * v)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.maximum(sw2v2 - 2 * mean * sw2v + mean * mean * sw2, 0.0)
            var = spread / (sw * sw) * n / np.maximum(n - 1, 1)
            half = np.where(n > 1, _Z90 * np.sqrt(var), np.inf)
        out["emotion"] = mean
        out["emotion_low"] = np.where(n > 0, np.clip(mean - half, -1.0, 1.0), np.nan)
        out["emotion_high"] = np.where(n > 0, np.clip(mean + half, -1.0, 1.0), np.nan)
        out["answers"] = n.astype(np.int64)
        respondents = _count(g[self.resp_pos] * S + self.resp_stage, GS).astype(np.int64)
        out["respondents"] = respondents
        out["customers"] = customers.astype(np.int64)
        out["answered_share"] = _ratio(respondents, customers)
        out["negative_share"] = _ratio(_count(key[v < 0], GS), n)

        key_event = g[prep.pos] * S + prep.stage
        for name, column, bad in (
            ("csat", "satisfaction", lambda s: s <= _LOW_CSAT),
            ("ces", "effort", lambda s: s >= _HIGH_EFFORT),
        ):
            score = self.scores[column]
            if score is None:
                out[f"{name}_mean"] = np.full(GS, np.nan)
                out[f"{name}_answers"] = np.zeros(GS, dtype=np.int64)
                out[f"{name}_bad_share"] = np.full(GS, np.nan)
                out[f"{name}_respondents"] = np.zeros(GS, dtype=np.int64)
                continue
            ok = ~np.isnan(score)
            answers = _count(key_event[ok], GS)
            out[f"{name}_mean"] = _ratio(_count(key_event[ok], GS, weights=score[ok]), answers)
            out[f"{name}_answers"] = answers.astype(np.int64)
            out[f"{name}_bad_share"] = _ratio(_count(key_event[ok & bad(score)], GS), answers)
            pairs = _unique(prep.pos[ok] * S + prep.stage[ok])
            out[f"{name}_respondents"] = _count(g[pairs // S] * S + pairs % S, GS).astype(np.int64)

        # Wait: the median stay here against the median stay in the group's other stages.
        pair_g = g[prep.pair_pos]
        days = pd.Series(prep.pair_days)
        here = days.groupby(pair_g * S + prep.pair_stage).median().reindex(np.arange(GS))
        other = np.full((G, S), np.nan)
        for s in range(S):  # a loop over stages, not customers
            rest = prep.pair_stage != s
            med = days[rest].groupby(pair_g[rest]).median()
            other[med.index.to_numpy(dtype=np.int64), s] = med.to_numpy(dtype=float)
        other_days = other.ravel()
        out["median_days"] = here.to_numpy(dtype=float)
        out["other_median_days"] = other_days
        with np.errstate(invalid="ignore", divide="ignore"):
            out["wait_ratio"] = np.where(
                other_days > 0, out["median_days"] / np.where(other_days > 0, other_days, 1), np.nan
            )
            longer = prep.pair_days > other_days[pair_g * S + prep.pair_stage]
        out["wait_share"] = _ratio(_count((pair_g * S + prep.pair_stage)[longer], GS), customers)

        # Tickets opened in the stage, and how many are still open at the cutoff.
        t = self.ticket_rows
        t_key = g[prep.pos[t]] * S + prep.stage[t]
        tickets = _count(t_key, GS)
        unresolved = _count(t_key[self.ticket_open], GS).astype(np.int64)
        out["tickets"] = tickets.astype(np.int64)
        out["unresolved_tickets"] = unresolved
        out["unresolved_share"] = _ratio(unresolved, tickets)
        pairs = _unique(prep.pos[t] * S + prep.stage[t])
        out["ticket_customers"] = _count(g[pairs // S] * S + pairs % S, GS).astype(np.int64)

        # Attributions: per stage of each explained customer's last event.
        a = self.attribution
        if a is not None:
            known = np.flatnonzero(a.known)
            c_key = g[known] * S + prep.last_stage[known]
            total = _count(c_key, GS, weights=a.total[known])
            out["explained_customers"] = _count(c_key, GS).astype(np.int64)
            for k, kind in enumerate(PAIN_KINDS):
                out[f"churn_{kind}"] = _ratio(_count(c_key, GS, weights=a.push[known, k]), total)
        else:
            out["explained_customers"] = np.zeros(GS, dtype=np.int64)
            for kind in PAIN_KINDS:
                out[f"churn_{kind}"] = np.full(GS, np.nan)
        stages = list(prep.log.journey_map.stages)
        frame = pd.DataFrame(out)
        frame.insert(1, "stage", [stages[k % S] for k in range(GS)])
        return frame


def _ticket_touchpoints(bundle) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The touchpoints that open and resolve tickets: the bundle's support features', or
    the defaults."""
    from cjml.features._support import SupportFeatures

    for family in getattr(getattr(bundle, "featurizer", None), "families_", ()):
        if isinstance(family, SupportFeatures):
            return tuple(family.ticket_touchpoints_), tuple(family.resolution_touchpoints_)
    default = SupportFeatures()
    return tuple(default.ticket_touchpoints), tuple(default.resolution_touchpoints)


def _finish(
    table: pd.DataFrame,
    touchpoints: pd.DataFrame,
    flows: pd.DataFrame,
    opportunities: pd.DataFrame | None,
    by: str | None,
    labels: list,
):
    """Replace the group code ``_g`` by the ``by`` column (or drop it), add the gap list."""
    if opportunities is not None:
        flagged = (
            opportunities[opportunities["missing"]].groupby("_gs")["touchpoint"].agg(", ".join)
        )
        table["missing_touchpoints"] = flagged.reindex(np.arange(len(table))).to_numpy(dtype=object)
        opportunities = opportunities.drop(columns="_gs")
    return [
        None if frame is None else _label_groups(frame, by, labels)
        for frame in (table, touchpoints, flows, opportunities)
    ]


def _label_groups(frame: pd.DataFrame, by: str | None, labels: list) -> pd.DataFrame:
    """``frame`` with its group code ``_g`` replaced by the ``by`` column (or dropped)."""
    frame = frame.copy()
    if by is not None:
        frame.insert(0, by, [labels[i] for i in frame["_g"]])
    return frame.drop(columns="_g").reset_index(drop=True)


# --------------------------------------------------------------------------- public API
def journey_map(
    log,
    bundle=None,
    *,
    by=None,
    cutoff=None,
    horizon=None,
    lookback=None,
    effects=None,
    low_use=0.1,
    scores=None,
    negative_weight=12.0,
    min_customers=30,
) -> JourneyMapReport:
    """Build the data-driven journey map: each stage as customers lived it.

    Only events at or before ``cutoff`` are used. A customer **went silent**
    (dropped) when their last event is at least ``horizon`` before the cutoff,
    the same rule as the churn label (events of ``outbound`` touchpoints, which
    the business sent, do not count), or when their latest event is one of a
    ``churn`` touchpoint (a cancellation); otherwise they are **still active** and
    their outcome is not known yet (censored). A customer's **furthest stage**
    is the latest stage, in journey order, of any of their events; journeys
    may skip stages and move back.

    Per stage (and per group of ``by``), the columns of
    :attr:`JourneyMapReport.stages` are:

    - ``customers``: customers with at least one event in the stage.
    - ``reached``: customers whose furthest stage is this one or a later one
      (a customer who skipped a stage passed it). Never increases along the
      journey: this is the funnel.
    - ``reached_share``: ``reached`` over all customers (of the group).
    - ``converted``: customers who reached the next stage (``reached`` of the
      next row); missing for the last stage.
    - ``pending``: customers whose furthest stage is this one and who are
      still active: they may yet move on (0 for the last stage).
    - ``went_silent``: customers whose furthest stage is this one and who
      went silent: they dropped off the funnel here. ``converted``,
      ``pending`` and ``went_silent`` add up to ``reached`` (in the last
      stage, ``reached - went_silent`` are still active).
    - ``conversion``: ``converted / (reached - pending)``: among customers who
      reached the stage and whose outcome is known (they moved on, or went
      silent before doing so), the share who reached the next stage. Pending
      customers are left out rather than counted as failures; the funnel ratio
      ``converted / reached`` is the lower bound that counts them as failures.
    - ``dropped``: customers whose last event is in this stage and who went
      silent.
    - ``active``: customers whose last event is in this stage and who are
      still active (censored).
    - ``drop_off``: ``dropped / (customers - active)``: among customers who
      were in the stage and whose outcome there is known (they left it for
      another stage, or went silent in it), the share who went silent in it.
      In the last stage, which has no next stage to leave for, staying active
      is the known good outcome: ``dropped / customers``.
    - ``median_days``: median over the stage's customers of the days spent
      in it: each stay runs from its first event to the customer's next event
      in another stage, or, for the last stay, to the customer's last event;
      a customer's stays are summed. Stays of active customers are still
      running, so for them it is a lower bound.
    - ``moved_back``: customers who moved from this stage to an earlier one
      at least once.
    - ``top_touchpoints``: the three touchpoints with the most events in the
      stage, each with its share of the stage's events.
    - ``mean_satisfaction``, ``satisfaction_answers``: mean and number of the
      satisfaction (CSAT) answers given in the stage.
    - ``nps_respondents``, ``promoters``, ``passives``, ``detractors``,
      ``nps``: each customer's latest NPS answer in the stage, classed as
      promoter (9-10), passive (7-8) or detractor (0-6); the shares and the
      score ``100 * (promoters - detractors)``.
    - ``missing_touchpoints`` (only with a model or ``effects``): the flagged
      opportunities of the stage, see below.

    Rates with an empty denominator, and score columns the log lacks, are NaN.

    **Value** (:attr:`JourneyMapReport.value`, ``report.to_frame("value")``),
    when the bundle has a value model or ``scores`` has the value columns of
    :func:`cjml.score`: per current stage (the stage of each customer's last
    event at or before the cutoff; and per group of ``by`` in
    :attr:`~JourneyMapReport.group_value`), the scored ``customers``, their
    ``mean_expected_value`` and total ``expected_value`` over the horizon,
    the ``value_at_risk`` (what drop-off is expected to cost) and
    ``value_at_risk_share`` (of all the value at risk). The totals are the
    sums of the scores' columns, so the stages add up to them.

    Because moving on shows at once while going silent shows only a full
    horizon after the last event, the rates lean towards progress when many
    customers are still pending or active: read them beside those counts.

    **Touchpoints that lower the drop-off risk, by stage**, the missing ones
    flagged (:attr:`JourneyMapReport.opportunities`), come from ``effects``:
    one row per customer and eligible touchpoint with
    the estimated drop in churn risk if the business triggered it now, the
    stage being the customer's current stage at the cutoff. Per stage and
    touchpoint: ``customers`` (rows), ``mean_risk_reduction``,
    ``current_use`` (the share of those customers who had the touchpoint in
    the ``lookback`` before the cutoff), ranked by mean risk reduction (ties
    by name). ``uncertain``: the effects give intervals and the mean of their
    lower ends is not above zero (the touchpoint may not help). A touchpoint
    is flagged ``missing`` when its mean risk reduction is positive and not
    uncertain, it ranks in the top half of the stage's touchpoints (the first
    ``ceil(n / 2)`` of ``n``), and its current use is below ``low_use``;
    the table also has the means of the intervals' ends
    (``risk_reduction_low``, ``risk_reduction_high``) and of the ``evidence``
    (treated customers in the stage the estimate rests on), NaN when the
    effects lack them.

    **The canvas** (:meth:`JourneyMapReport.canvas`) reads
    :attr:`~JourneyMapReport.canvas_stages`: per (group and) stage,
    ``events``, ``customers``, and

    - the emotion: every survey answer given in the stage is a valence in
      [-1, 1] (CSAT 1-5: ``(csat - 3) / 2``; NPS 0-10:
      ``clip((nps - 7.5) / 2.5, -1, 1)``; effort 1-7:
      ``clip((4 - effort) / 3, -1, 1)``); negative valences weigh
      ``negative_weight``, the others 1. ``emotion`` is their weighted mean,
      ``emotion_low`` / ``emotion_high`` its 90% interval (normal
      approximation, the weighted mean's variance
      ``n / (n - 1) * sum(w**2 (v - mean)**2) / sum(w)**2``, clipped to
      [-1, 1]; [-1, 1] for a single answer); ``answers``, ``respondents``
      (customers who answered in the stage), ``answered_share`` (of the
      stage's customers), ``negative_share`` (of the answers);
      ``csat_mean``, ``csat_answers``, ``csat_respondents``, ``csat_bad_share``
      (share of the answers of 1-2), ``ces_mean``, ``ces_answers``,
      ``ces_respondents``, ``ces_bad_share`` (answers of 5 or more).
    - the wait: ``median_days`` (as in the stages table),
      ``other_median_days`` (the median of the stays in the group's other
      stages), ``wait_ratio`` (their ratio) and ``wait_share`` (share of the
      stage's customers who stayed longer than ``other_median_days``).
    - the tickets opened in the stage (by the bundle's support touchpoints,
      default ``support_ticket``, resolved by ``ticket_resolved`` first in
      first out): ``tickets``, ``unresolved_tickets`` (still open at the
      cutoff), ``unresolved_share``, ``ticket_customers``.
    - with a bundle, the churn model's attributions: the customers of its
      population (an event in the ``lookback`` before the cutoff) are
      featurized once at the cutoff and their Saabas contributions computed
      (:func:`cjml.explanations.contributions`). Each feature belongs to at
      most one pain kind: ``effort`` the ``ces_*`` features,
      ``bad_experience`` the rest of the experience family and the memory
      family's ``csat_*``/``decayed_negative*``/``decayed_positive*``,
      ``unresolved`` the support family, ``wait`` the stage-duration features
      (``days_in_current_stage``, ``stages_per_30d``), ``drop_off`` the
      activity family and the memory family's recency and gap features. For
      the ``explained_customers`` whose last event is in the stage,
      ``churn_<kind>`` is the sum over them of the positive contributions of
      the kind's features divided by the sum over them of all positive
      contributions: the share of the model's push towards drop-off that the
      pain carries (NaN without a bundle).

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events. With a ``bundle``, a DataFrame or path is read as the
        bundle's training log was: its journey map, time zone and column names.
    bundle : ModelBundle, optional
        A trained bundle. Its horizon and lookback become the defaults, and,
        when ``effects`` is not given, the effects are estimated with
        ``cjml.recommend.estimate_effects(bundle, log, cutoff=cutoff)``.
    by : str, optional
        A column of the log to split the map by, such as a segment or persona
        column (any extra column, or ``"channel"``). Each customer belongs to
        the group of their last event at or before the cutoff.
    cutoff : date, optional
        Only events at or before it are used; default the end of the day of
        the log's last event.
    horizon : duration, optional
        Silence that counts as dropping off; default the bundle's horizon, or
        30 days.
    lookback : duration, optional
        Window before the cutoff for the current use of a touchpoint; default
        the bundle's lookback, or 90 days.
    effects : DataFrame, optional
        Columns ``customer_id, stage, touchpoint, risk_reduction``. Without it
        and without a bundle, the report has no opportunity columns.
    low_use : float, default 0.1
        Current use below which a high-reduction touchpoint is flagged.
    scores : DataFrame, optional
        The output of :func:`cjml.score` for this log and cutoff, with
        ``expected_value`` and ``value_at_risk``: the values of the value
        table. Default: with a bundle that has a value model, the log is
        scored here (no drivers, no recommendations); otherwise the report
        has no value table.
    negative_weight : float, default 12
        For the canvas's emotion: how many positive answers one negative
        answer weighs ("it takes 12 positive experiences to make up for one
        negative"); 1 weighs them alike.
    min_customers : int, default 30
        Numbers of the canvas resting on fewer customers are marked ``few``.

    Returns
    -------
    JourneyMapReport
        The tables, with HTML, CSV and plot views.

    Raises
    ------
    SchemaError
        When ``by`` is not a column of the log.
    ValueError
        When no event happened at or before the cutoff, or ``effects`` does not
        fit its contract.

    See Also
    --------
    JourneyMapReport : The tables and their views.

    Examples
    --------
    >>> import pandas as pd
    >>> import cjml
    >>> log = cjml.read_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": ["2024-01-01", "2024-01-05", "2024-01-20", "2024-01-02",
    ...                   "2024-01-03", "2024-03-30"],
    ...     "touchpoint": ["paid_ad", "website_visit", "purchase", "paid_ad",
    ...                    "website_visit", "paid_ad"]}))
    >>> report = cjml.journey_map(log, horizon="30D")
    >>> report.stages[["stage", "reached", "conversion", "drop_off"]].head(3)
               stage  reached  conversion  drop_off
    0      awareness        3         1.0       0.0
    1  consideration        2         0.5       0.5
    2     conversion        1         0.0       1.0

    All three customers reached awareness; customer 3 is still active there
    (the log ends on 30 March), so awareness converts 2 of the 2 customers
    whose outcome is known. Of the two who reached consideration, customer 1
    moved on to conversion and customer 2 went silent there. Customer 1 then
    went silent in conversion: its conversion is 0 and its drop-off 1.
    """
    from cjml.features._base import as_log
    from cjml.labels import _data_end, to_timedelta

    log = as_log(log, bundle)  # events in the user's names: read as the bundle's were
    by = _resolve_by(log, by)
    meta = getattr(bundle, "metadata", None) or {}
    horizon_td = to_timedelta(
        horizon if horizon is not None else meta.get("horizon", DEFAULT_HORIZON)
    )
    lookback_td: pd.Timedelta | None
    if lookback is not None:
        lookback_td = to_timedelta(lookback, "lookback")
    elif bundle is not None and "lookback" in meta:
        lookback_td = (
            None if meta["lookback"] is None else to_timedelta(meta["lookback"], "lookback")
        )
    else:
        lookback_td = to_timedelta(DEFAULT_LOOKBACK, "lookback")
    if isinstance(low_use, bool) or not isinstance(low_use, int | float) or not (0 <= low_use <= 1):
        raise ValueError(f"low_use must be a share between 0 and 1, got {low_use!r}.")
    if (
        isinstance(negative_weight, bool)
        or not isinstance(negative_weight, int | float)
        or not np.isfinite(negative_weight)
        or negative_weight < 1
    ):
        raise ValueError(
            f"negative_weight must be a number of 1 or more (how many positive answers one "
            f"negative one weighs, e.g. 12), got {negative_weight!r}."
        )
    if (
        isinstance(min_customers, bool)
        or not isinstance(min_customers, int | np.integer)
        or (min_customers < 1)
    ):
        raise ValueError(
            f"min_customers must be a whole number of 1 or more (customers behind a number "
            f"below which it is marked as resting on few, e.g. 30), got {min_customers!r}."
        )
    end = to_utc_timestamp(cutoff, log.timezone) if cutoff is not None else _data_end(log, None)
    prep = _Prepared(log, end.value, horizon_td.value)
    _warn_horizon_beyond_log(prep, end, horizon_td)
    _warn_horizon_within_visits(log, horizon_td)
    source = None
    no_effects = None  # why a bundle given could not estimate effects
    attribution = None
    shared = None
    if bundle is not None:
        shared = _SharedFeatures(prep, bundle, end, lookback_td)
        attribution = _Attribution(prep, bundle, shared.X_model[shared.names])
        if effects is None:
            from cjml.recommend import why_no_recommendations

            why = why_no_recommendations(bundle)
            if why is None:
                effects = shared.effects()
                source = "the model bundle"
            else:  # the rest of the map needs no effects
                no_effects = why
                warnings.warn(
                    f"{why} The journey map leaves out the touchpoints that lower the "
                    "drop-off risk.",
                    UserWarning,
                    stacklevel=2,
                )
    if source is None and effects is not None:
        source = "the effects given"
    value_source = None
    if scores is not None and "expected_value" in getattr(scores, "columns", ()):
        value_source = "the scores given"
    elif scores is None and shared is not None and "value" in getattr(bundle, "models", {}):
        scores = shared.values()  # as cjml.score values them, from the same features
        value_source = "the model bundle"
    values = None if value_source is None else _customer_values(prep, scores)
    del shared  # the features are no longer needed: free them before the tables
    if effects is not None:
        effects = _Effects(
            effects, prep, end.value, None if lookback_td is None else lookback_td.value
        )
    tickets = _ticket_touchpoints(bundle)
    facts = _CanvasFacts(prep, float(negative_weight), tickets, attribution)
    results = {}
    for key, column in (("all", None), ("by", by)):
        if key == "by" and by is None:
            break
        g, labels = _groups(prep, column)
        table, touchpoints, flows = _tables(prep, g, len(labels))
        opps = None if effects is None else _opportunities(prep, effects, g, len(labels), low_use)
        canvas = facts.table(g, len(labels))
        results[key] = _finish(table, touchpoints, flows, opps, column, labels)
        results[key].append(
            None if values is None else _value_table(prep, values, g, len(labels), labels, column)
        )
        results[key].append(_label_groups(canvas, column, labels))
    info = {
        "cutoff": end,
        "horizon": horizon_td,
        "lookback": lookback_td,
        "n_customers": prep.n,
        "n_events": len(prep.ts),
        "journey_map": log.journey_map.name,
        "by": by,
        "low_use": float(low_use),
        "opportunities_from": source,
        "opportunities_note": no_effects,
        "value_from": value_source,
        "columns": [c for c in ("satisfaction", "nps") if c in log.frame.columns],
        "survey_columns": [
            c for c in ("satisfaction", "nps", "effort") if facts.scores.get(c) is not None
        ],
        "negative_weight": float(negative_weight),
        "min_customers": int(min_customers),
        "ticket_touchpoints": tickets[0],
        "resolution_touchpoints": tickets[1],
        "touchpoint_channels": {t.name: t.channel for t in log.journey_map.touchpoints},
        "pains_ranked_by": "size" if attribution is None else "churn model",
    }
    stages, touchpoints, flows, opportunities, value, canvas = results["all"]
    grouped = results.get("by", [None] * 6)
    return JourneyMapReport(
        stages=stages,
        touchpoints=touchpoints,
        flows=flows,
        opportunities=opportunities,
        group_stages=grouped[0],
        group_touchpoints=grouped[1],
        group_flows=grouped[2],
        group_opportunities=grouped[3],
        info=info,
        value=value,
        group_value=grouped[4],
        canvas_stages=canvas,
        group_canvas_stages=grouped[5],
    )


@dataclass
class JourneyMapReport:
    """The data-driven journey map made by :func:`journey_map`.

    Every table is a plain DataFrame; :func:`journey_map` defines each column.
    The ``group_*`` tables repeat the overall ones per group of ``by``, with
    the group as their first column; they are None without ``by``.

    Parameters
    ----------
    stages : DataFrame
        One row per stage, in journey order: the funnel, drop-off, time in
        stage, touchpoints, satisfaction and NPS columns.
    touchpoints : DataFrame
        One row per stage and touchpoint met there: ``events``, ``customers``,
        ``event_share`` (of the stage's events) and ``customer_share`` (of the
        stage's customers), most events first.
    flows : DataFrame
        Stage-to-stage moves: ``from_stage``, ``to_stage``, ``kind``
        (``"forward"``, ``"back"``, ``"dropped"`` or ``"active"``) and
        ``customers`` (each customer counted once per move). A ``"dropped"``
        row counts the customers who went silent in ``from_stage``, an
        ``"active"`` row those whose last event is there and who are still
        active.
    opportunities : DataFrame or None
        Per stage and eligible actionable touchpoint: ``customers``,
        ``mean_risk_reduction``, ``current_use`` and ``missing`` (the flag);
        None when neither a model nor effects were given.
    group_stages, group_touchpoints, group_flows, group_opportunities : DataFrame or None
        The same tables per group of ``by``.
    info : dict
        Cutoff, horizon, lookback, counts, the ``by`` column and where the
        opportunities and the values came from.
    value : DataFrame or None
        Per current stage: ``customers`` (scored), ``mean_expected_value``,
        ``expected_value``, ``value_at_risk`` and ``value_at_risk_share``;
        None without values (no value model, no ``scores``).
    group_value : DataFrame or None
        The same per group of ``by`` and stage (the stages its customers are in).
    canvas_stages : DataFrame or None
        Per stage, what the canvas (:meth:`canvas`) draws beyond the other
        tables: the emotion, the pain-point metrics and the churn model's
        attributions (see :func:`journey_map`, "The canvas"); None for reports
        made before it existed.
    group_canvas_stages : DataFrame or None
        The same per group of ``by``.
    """

    stages: pd.DataFrame
    touchpoints: pd.DataFrame
    flows: pd.DataFrame
    opportunities: pd.DataFrame | None = None
    group_stages: pd.DataFrame | None = None
    group_touchpoints: pd.DataFrame | None = None
    group_flows: pd.DataFrame | None = None
    group_opportunities: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)
    value: pd.DataFrame | None = None
    group_value: pd.DataFrame | None = None
    canvas_stages: pd.DataFrame | None = None
    group_canvas_stages: pd.DataFrame | None = None

    # -- the canvas
    @property
    def personas(self) -> list:
        """The personas: the values of the ``by`` column, in order ([] without ``by``)."""
        if not self.info.get("by") or self.group_stages is None:
            return []
        return list(pd.unique(self.group_stages[self.info["by"]]))

    def canvas(self, persona=None):
        """The journey-map canvas of one persona, or of all customers.

        Parameters
        ----------
        persona : object, optional
            One of :attr:`personas` (a value of the ``by`` column); None for
            all customers.

        Returns
        -------
        JourneyCanvas
            Its tables (doing, feeling, pains, opportunities, flow), figure
            and files.

        Raises
        ------
        ValueError
            When ``persona`` is not one of :attr:`personas`, or the map was not
            split with ``by``.
        """
        from cjml.canvas._data import build_canvas

        return build_canvas(self, persona)

    def compare(self, a, b, top: int = 6):
        """Two personas side by side, and the differences between them that matter.

        Parameters
        ----------
        a, b : object
            Two of :attr:`personas` (None: all customers).
        top : int, default 6
            Differences kept at most.

        Returns
        -------
        PersonaComparison
            The two canvases and the differences, in words, most important
            first.
        """
        from cjml.canvas._compare import compare_canvases

        return compare_canvases(self.canvas(a), self.canvas(b), top=top)

    # -- tables
    def to_frame(self, table: str = "stages") -> pd.DataFrame:
        """One of the tables; per group when the map was split with ``by``.

        Parameters
        ----------
        table : {"stages", "touchpoints", "flows", "opportunities", "value"}, default "stages"
            Which table.

        Returns
        -------
        DataFrame
            A copy of the table.
        """
        if table not in _TABLES:
            close = difflib.get_close_matches(str(table), _TABLES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown table {table!r}; choose one of {list(_TABLES)!r}.{hint}")
        frame = getattr(self, f"group_{table}" if self.info.get("by") else table)
        if frame is None and table == "value":
            raise ValueError(
                "This journey map has no values: they need a bundle with a value model "
                "(trained on events with an amount column) or scores= from cjml.score with "
                "one (cjml journey-map --model)."
            )
        if frame is None:
            raise ValueError(
                "This journey map has no opportunities: they need a model. Pass "
                "bundle= (cjml journey-map --model) or effects=."
            )
        return frame.copy()

    def to_csv(self, path, *, table: str = "stages", force: bool = False) -> Path:
        """Write a table to CSV for spreadsheets: formula-safe, UTF-8 with BOM, atomic.

        See :func:`cjml.panel.write_csv`: text cells that could run as a
        formula (a touchpoint named ``=x``) get a leading apostrophe, numbers
        stay numbers.

        Parameters
        ----------
        path : str or Path
            The ``.csv`` file.
        table : {"stages", "touchpoints", "flows", "opportunities", "value"}, default "stages"
            Which table (see :meth:`to_frame`).
        force : bool, default False
            Replace an existing file; without it an existing file is an error.

        Returns
        -------
        Path
            The file written.
        """
        return write_csv(self.to_frame(table), path, force=force)

    def to_html(self, path, *, force: bool = False, lang: str | None = None) -> Path:
        """Write a self-contained HTML page: the tables and both plots.

        Parameters
        ----------
        path : str or Path
            The ``.html`` file.
        force : bool, default False
            Replace an existing file; without it an existing file is an error.
        lang : {"en", "vi"}, optional
            The page's language; default the current one (:mod:`cjml.i18n`).

        Returns
        -------
        Path
            The file written.
        """
        page = self.html_page(lang)
        return _write_atomic(
            path, force, ".html", lambda tmp: Path(tmp).write_text(page, encoding="utf-8")
        )

    def html_page(self, lang: str | None = None) -> str:
        """The report as a complete HTML page, plots embedded as PNG.

        Parameters
        ----------
        lang : {"en", "vi"}, optional
            The page's language (words, numbers and dates); default the
            current one (:func:`cjml.i18n.set_language`).

        Returns
        -------
        str
            The page, with no external resources.
        """
        if lang is not None:
            with language(lang):
                return self.html_page()
        from matplotlib.figure import Figure

        images = []
        for draw, size in ((self.plot_funnel, (7.5, 4.5)), (self.plot_flow, (10, 5.5))):
            fig = Figure(figsize=size)
            draw(fig.add_subplot())
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=110)
            data = base64.b64encode(buffer.getvalue()).decode("ascii")
            images.append(
                f"<img alt='{html.escape(fig.axes[0].get_title())}' "
                f"src='data:image/png;base64,{data}'>"
            )
        title = _("Journey map {name}").format(name=self.info.get("journey_map", "")).strip()
        return (
            f"<!DOCTYPE html><html lang='{current().language}'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>"
            + _heading(2, _("Journey map"))
            + self._repr_html_()
            + _heading(3, _("Plots"))
            + "".join(images)
            + "</body></html>"
        )

    def to_text(self) -> str:
        """A short plain-text summary, for terminals and logs.

        Returns
        -------
        str
            The header line and one line per stage.
        """
        lines = [self._headline()]
        gaps = _missing_texts(self.opportunities, None)
        width = max([15, *(len(label_text(s)) + 1 for s in self.stages["stage"])])
        for row in self.stages.itertuples(index=False):
            line = _(
                "{stage} reached {reached}  conversion {conversion}  drop-off {drop_off}  "
                "median {median}"
            ).format(
                stage=label_text(row.stage).ljust(width),
                reached=_int(row.reached).rjust(8),
                conversion=_pct(row.conversion).rjust(6),
                drop_off=_pct(row.drop_off).rjust(6),
                median=_duration(row.median_days),
            )
            missing = gaps.get((None, row.stage))
            if missing:
                line += "  " + _("missing: {touchpoints}").format(touchpoints=missing)
            lines.append("  " + line)
        if self.opportunities is None and self.info.get("opportunities_note"):
            lines.append(
                "  "
                + _(
                    "(no touchpoint effects: this model cannot estimate them; the warning says why)"
                )
            )
        elif self.opportunities is None:
            lines.append(
                "  "
                + _(
                    "(missing-touchpoint opportunities need a model: pass bundle= or "
                    "effects=; on the command line, --model)"
                )
            )
        if self.value is not None:
            lines.append(self._value_headline())
            for row in self.value.itertuples(index=False):
                if not row.customers:
                    continue
                lines.append(
                    "  "
                    + _(
                        "{stage} customers {customers}  expected value {value}  "
                        "at risk {at_risk} ({share})"
                    ).format(
                        stage=label_text(row.stage).ljust(15),
                        customers=_int(row.customers).rjust(8),
                        value=_money(row.expected_value),
                        at_risk=_money(row.value_at_risk),
                        share=_pct(row.value_at_risk_share),
                    )
                )
        return "\n".join(lines)

    def _value_headline(self) -> str:
        """The value in one sentence: who is scored, what they are worth, what is at risk."""
        frame = self.value if self.value is not None else pd.DataFrame()
        n = int(frame["customers"].sum())
        return ngettext(
            "Over the next {horizon}, the {customers} scored customer is expected to spend "
            "{value}; drop-off is expected to cost {at_risk}.",
            "Over the next {horizon}, the {customers} scored customers are expected to spend "
            "{value}; drop-off is expected to cost {at_risk}.",
            n,
        ).format(
            horizon=_days(self.info["horizon"]),
            customers=_int(n),
            value=_money(frame["expected_value"].sum()),
            at_risk=_money(frame["value_at_risk"].sum()),
        )

    # -- html
    def _headline(self) -> str:
        i = self.info
        values = {
            "customers": _int(i["n_customers"]),
            "events": _int(i["n_events"]),
            "cutoff": format_moment(i["cutoff"]),
            "horizon": _days(i["horizon"]),
        }
        if i["lookback"] is None:
            return ngettext(
                "{customers} customer, {events} events up to {cutoff} UTC; silent for "
                "{horizon} = dropped; current use over all history",
                "{customers} customers, {events} events up to {cutoff} UTC; silent for "
                "{horizon} = dropped; current use over all history",
                i["n_customers"],
            ).format(**values)
        return ngettext(
            "{customers} customer, {events} events up to {cutoff} UTC; silent for "
            "{horizon} = dropped; current use over {lookback}",
            "{customers} customers, {events} events up to {cutoff} UTC; silent for "
            "{horizon} = dropped; current use over {lookback}",
            i["n_customers"],
        ).format(lookback=_days(i["lookback"]), **values)

    def _repr_html_(self) -> str:
        i = self.info
        by = i.get("by")
        parts = [
            f"<div class='cjml-journey-map'><p>{html.escape(self._headline())}.</p>",
            _heading(4, _("Stages")),
            _stage_table_html(self.stages, None, self.touchpoints, self.opportunities),
        ]
        if by and self.group_stages is not None:
            parts += [
                _heading(4, _("By {column}").format(column=by)),
                _stage_table_html(
                    self.group_stages, by, self.group_touchpoints, self.group_opportunities
                ),
            ]
        parts.append(_heading(4, _("Touchpoints that lower the drop-off risk, by stage")))
        if self.opportunities is None:
            parts.append(
                "<p>"
                + html.escape(
                    _(
                        "Not computed: they need a model. Pass {bundle} to {function} "
                        "({command}) or {effects}."
                    )
                ).format(
                    bundle="<code>bundle=</code>",
                    function="<code>cjml.journey_map</code>",
                    command="<code>cjml journey-map --model</code>",
                    effects="<code>effects=</code>",
                )
                + "</p>"
            )
        else:
            source = _SOURCES.get(str(i["opportunities_from"]))
            rule = (
                _(
                    "{flag} = top half by mean risk reduction and used by under {share} of "
                    "the stage's customers in all their history."
                )
                if i["lookback"] is None
                else _(
                    "{flag} = top half by mean risk reduction and used by under {share} of "
                    "the stage's customers in the last {days}."
                )
            )
            rule = html.escape(rule).format(
                flag="&#9873;",
                share=html.escape(format_percent(i["low_use"], 0)),
                days=html.escape(_days(i["lookback"])) if i["lookback"] is not None else "",
            )
            parts += [
                "<p>" + (html.escape(_(source)) + " " if source else "") + rule + "</p>",
                _opportunity_table_html(self.opportunities),
            ]
        if self.value is not None:
            parts += [
                _heading(4, _("Value by stage")),
                f"<p>{html.escape(self._value_headline())}</p>",
                _value_table_html(self.value, None),
            ]
            if by and self.group_value is not None:
                per_group = (
                    self.group_value.groupby(by, sort=False, dropna=False)[
                        ["customers", "expected_value", "value_at_risk", "value_at_risk_share"]
                    ]
                    .sum()
                    .reset_index()
                )
                per_group["mean_expected_value"] = _ratio(
                    per_group["expected_value"].to_numpy(dtype=float),
                    per_group["customers"].to_numpy(dtype=float),
                )
                parts += [
                    _heading(4, _("Value by {column}").format(column=by)),
                    _value_table_html(per_group, by),
                ]
        parts.append(_notes_html())
        parts.append("</div>")
        return "".join(parts)

    # -- plots
    def plot_funnel(self, ax=None, *, group=None):
        """The stage funnel: customers who reached each stage, with conversion.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when omitted.
        group : optional
            A value of the ``by`` column, to draw that group's funnel.

        Returns
        -------
        matplotlib Axes
            The axes drawn on.
        """
        ax = _axes(ax)
        rows = self._rows(self.stages, self.group_stages, group)
        n = len(rows)
        y = np.arange(n)[::-1]
        reached = rows["reached"].to_numpy(dtype=float)
        top = max(reached.max(), 1.0)
        colors = _colors(n)
        ax.barh(y, reached, left=-reached / 2, height=0.7, color=colors, edgecolor="white")
        for k, row in enumerate(rows.itertuples(index=False)):
            ax.text(
                0,
                y[k],
                f"{_int(row.reached)} ({_pct(row.reached_share)})",
                ha="center",
                va="center",
                fontsize="small",
            )
            if k < n - 1:
                ax.text(
                    top / 2 * 1.02,
                    y[k] - 0.5,
                    _("{share} convert").format(share=_pct(row.conversion)),
                    ha="left",
                    va="center",
                    fontsize="x-small",
                    color="dimgray",
                )
        ax.set_yticks(y, [label_text(s) for s in rows["stage"]])
        ax.set_xlim(-top / 2 * 1.05, top / 2 * 1.6)
        ax.set(
            xlabel=_("customers who reached the stage (bar width)"),
            ylabel=_("journey stage"),
            title=_("Stage funnel") + _group_title(self, group),
        )
        ax.set_xticks([])
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
        return ax

    def plot_flow(self, ax=None, *, group=None):
        """Sankey-style flow of customers between stages, and where they drop off.

        Each stage is a bar as tall as its customers. Bands leave a bar on the
        right towards later stages (forward moves, including skips), into a
        grey stub (still active there) and down into a red ``dropped`` block
        (went silent there); moves back to an earlier stage are arcs above
        the bars. Band heights are proportional to customers.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when omitted.
        group : optional
            A value of the ``by`` column, to draw that group's flow.

        Returns
        -------
        matplotlib Axes
            The axes drawn on.
        """
        from matplotlib.patches import FancyArrowPatch, Rectangle

        ax = _axes(ax, figsize=(10, 5.5))
        stages_table = self._rows(self.stages, self.group_stages, group)
        flows = self._rows(self.flows, self.group_flows, group)
        names = list(stages_table["stage"])
        index = {s: k for k, s in enumerate(names)}
        S = len(names)
        forward = flows[flows["kind"] == "forward"]
        back = flows[flows["kind"] == "back"]
        drops = dict(
            zip(
                flows.loc[flows["kind"] == "dropped", "from_stage"],
                flows.loc[flows["kind"] == "dropped", "customers"],
                strict=True,
            )
        )
        still = dict(
            zip(
                flows.loc[flows["kind"] == "active", "from_stage"],
                flows.loc[flows["kind"] == "active", "customers"],
                strict=True,
            )
        )
        out_sum = np.zeros(S)
        in_sum = np.zeros(S)
        for row in forward.itertuples(index=False):
            out_sum[index[row.from_stage]] += row.customers
            in_sum[index[row.to_stage]] += row.customers
        for s, name in enumerate(names):
            out_sum[s] += drops.get(name, 0) + still.get(name, 0)
        height = np.maximum.reduce(
            [stages_table["customers"].to_numpy(dtype=float), out_sum, in_sum]
        )
        scale = max(height.max(), 1.0)
        w, gap = 0.06, 0.12 * scale
        colors = _colors(S)
        # nodes: tops at 0, going down
        for s in range(S):
            ax.add_patch(
                Rectangle((s - w / 2, -height[s]), w, height[s], color=colors[s], zorder=3)
            )
            ax.text(
                s,
                0.03 * scale,
                f"{label_text(names[s])}\n{_int(stages_table['customers'].iloc[s])}",
                ha="center",
                va="bottom",
                fontsize="small",
            )
        out_top = np.zeros(S)  # next free y on each node's right edge (measured down from 0)
        in_top = np.zeros(S)
        for row in forward.sort_values(
            "to_stage", key=lambda c: c.map(index), kind="stable"
        ).itertuples(index=False):
            a, b = index[row.from_stage], index[row.to_stage]
            _band(
                ax,
                a + w / 2,
                -out_top[a],
                b - w / 2,
                -in_top[b],
                row.customers,
                colors[a],
                alpha=0.45,
            )
            out_top[a] += row.customers
            in_top[b] += row.customers
        sink_top = -(height.max() + gap)
        drop_color = "#d62728"
        for s, name in enumerate(names):
            n_still = still.get(name, 0)
            if n_still:
                _band(
                    ax,
                    s + w / 2,
                    -out_top[s],
                    s + 0.3,
                    -out_top[s],
                    n_still,
                    "lightgray",
                    alpha=0.9,
                )
                out_top[s] += n_still
            n_drop = drops.get(name, 0)
            if n_drop:
                x_sink = s + 0.45
                _band(ax, s + w / 2, -out_top[s], x_sink, sink_top, n_drop, drop_color, alpha=0.35)
                ax.add_patch(
                    Rectangle((x_sink, sink_top - n_drop), w, n_drop, color=drop_color, zorder=3)
                )
                ax.text(
                    x_sink + w / 2,
                    sink_top - n_drop - 0.02 * scale,
                    _("dropped\n{customers}").format(customers=_int(n_drop)),
                    ha="center",
                    va="top",
                    fontsize="x-small",
                    color=drop_color,
                )
                out_top[s] += n_drop
        for row in back.itertuples(index=False):
            a, b = index[row.from_stage], index[row.to_stage]
            lw = max(0.5, 12 * row.customers / scale)
            ax.add_patch(
                FancyArrowPatch(
                    (a, 0),
                    (b, 0),
                    connectionstyle="arc3,rad=0.35",
                    arrowstyle="-|>",
                    mutation_scale=8,
                    lw=lw,
                    color="dimgray",
                    alpha=0.7,
                    zorder=4,
                )
            )
            ax.text(
                (a + b) / 2,
                0.17 * scale * abs(a - b),
                _("back {customers}").format(customers=_int(row.customers)),
                ha="center",
                va="bottom",
                fontsize="x-small",
                color="dimgray",
            )
        lowest = min(sink_top - max(drops.values(), default=0), -height.max())
        ax.set_xlim(-0.5, S - 0.3)
        ax.set_ylim(lowest - 0.15 * scale, 0.25 * scale * max(1, S / 3))
        ax.set_xticks(range(S), [label_text(s) for s in names])
        ax.set_yticks([])
        ax.set(
            xlabel=_("journey stage (grey: still active; red: went silent)"),
            ylabel=_("customers (band height)"),
            title=_("Stage-to-stage flow") + _group_title(self, group),
        )
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        return ax

    def _rows(self, overall: pd.DataFrame, grouped: pd.DataFrame | None, group) -> pd.DataFrame:
        if group is None:
            return overall
        by = self.info.get("by")
        if not by or grouped is None or self.group_stages is None:
            raise ValueError("group= needs a map split with by=; this one is not.")
        labels = list(pd.unique(self.group_stages[by]))
        mask = grouped[by].isna() if _is_missing(group) else grouped[by] == group
        if not (
            labels
            and (group in labels or (_is_missing(group) and any(_is_missing(v) for v in labels)))
        ):
            raise ValueError(
                f"group={group!r} is not a value of {by!r}; the groups are {labels!r}."
            )
        return grouped[mask].drop(columns=by).reset_index(drop=True)


# --------------------------------------------------------------------------- helpers
def _is_missing(value) -> bool:
    return value is None or (np.ndim(value) == 0 and pd.isna(value))


def _group_title(report: JourneyMapReport, group) -> str:
    return "" if group is None else f": {report.info['by']} = {group}"


def _axes(ax, figsize=(7.5, 4.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


# tab10 without its red, which marks drop-off
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)


def _colors(n: int) -> list:
    return [_PALETTE[k % len(_PALETTE)] for k in range(n)]


def _band(ax, x0: float, top0: float, x1: float, top1: float, width: float, color, alpha):
    """A band of constant height ``width`` from (x0, top0) to (x1, top1), smooth in between."""
    t = np.linspace(0.0, 1.0, 40)
    ease = (1 - np.cos(np.pi * t)) / 2
    x = x0 + (x1 - x0) * t
    top = top0 + (top1 - top0) * ease
    ax.fill_between(x, top - width, top, color=color, alpha=alpha, linewidth=0, zorder=2)


def _write_atomic(path, force: bool, suffix: str, write) -> Path:
    return write_atomic(path, write, force=force, suffixes=(suffix,))


def _pct(value, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return _DASH
    return format_percent(value, digits)


def _num(value, digits: int = 1) -> str:
    if value is None or pd.isna(value):
        return _DASH
    return format_number(value, digits)


def _int(value) -> str:
    if value is None or pd.isna(value):
        return _DASH
    return format_number(int(value))


def _duration(days) -> str:
    """Days as a time a person reads ("12 minutes", "5.5 hours", "7.5 days")."""
    if days is None or pd.isna(days):
        return _DASH
    return format_duration(float(days))


def _days(delta) -> str:
    days = pd.Timedelta(delta) / pd.Timedelta(days=1)
    whole = float(days).is_integer()
    text = format_number(days, 0 if whole else 1)
    return ngettext("{n} day", "{n} days", int(days) if whole else 2).format(n=text)


def _cell(text: str, align: str = "right") -> str:
    return f"<td style='text-align:{align}'>{html.escape(text)}</td>"


#: Where the opportunities came from (``info["opportunities_from"]``, kept English), as a sentence.
_SOURCES = {
    "the effects given": N_("Estimated from the effects given."),
    "the model bundle": N_("Estimated from the model bundle."),
}


def _group_key(value):
    return None if _is_missing(value) else value


def _top_texts(touchpoints: pd.DataFrame | None, by: str | None) -> dict:
    """(group, stage) -> "Email (40%), Paid ad (33%)": each stage's top touchpoints, translated.

    The touchpoints table lists each stage's touchpoints most events first.
    """
    out: dict = {}
    if touchpoints is None or touchpoints.empty:
        return out
    groups = touchpoints[by].to_numpy(dtype=object) if by else [None] * len(touchpoints)
    seen: dict = {}
    for grp, stage, tp, share in zip(
        groups,
        touchpoints["stage"],
        touchpoints["touchpoint"],
        touchpoints["event_share"],
        strict=True,
    ):
        key = (_group_key(grp), stage)
        if seen.get(key, 0) >= _TOP_TOUCHPOINTS:
            continue
        seen[key] = seen.get(key, 0) + 1
        out.setdefault(key, []).append(
            _("{touchpoint} ({share})").format(touchpoint=label_text(tp), share=_pct(share))
        )
    return {key: ", ".join(texts) for key, texts in out.items()}


def _missing_texts(opportunities: pd.DataFrame | None, by: str | None) -> dict:
    """(group, stage) -> the flagged missing touchpoints' names, translated, comma-separated."""
    out: dict = {}
    if opportunities is None or opportunities.empty:
        return out
    flagged = opportunities[opportunities["missing"].astype(bool)]
    groups = flagged[by].to_numpy(dtype=object) if by else [None] * len(flagged)
    for grp, stage, tp in zip(groups, flagged["stage"], flagged["touchpoint"], strict=True):
        out.setdefault((_group_key(grp), stage), []).append(label_text(tp))
    return {key: ", ".join(names) for key, names in out.items()}


_STAGE_HEADERS = (
    (N_("stage"), N_("journey stage")),
    (N_("reached"), N_("customers who reached the stage (share of all)")),
    (N_("in stage"), N_("customers with an event in the stage")),
    (N_("conversion"), N_("reached the next stage, among those whose outcome is known")),
    (N_("drop-off"), N_("went silent in the stage, among those whose outcome there is known")),
    (N_("pending / active"), N_("outcome not known yet: still active")),
    (N_("median time"), N_("median time spent in the stage")),
    (N_("top touchpoints"), N_("most events in the stage (share of its events)")),
    (N_("CSAT"), N_("mean satisfaction (answers)")),
    (N_("NPS"), N_("score, and promoters / passives / detractors")),
)


def _stage_table_html(
    frame: pd.DataFrame,
    by: str | None = None,
    touchpoints: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
) -> str:
    gaps = "missing_touchpoints" in frame.columns
    heads = [(_(h), _(t)) for h, t in _STAGE_HEADERS]
    if by:
        heads.insert(0, (str(by), _("group ({column})").format(column=by)))
    if gaps:
        heads.append(
            (_("missing touchpoints"), _("high estimated risk reduction, low current use"))
        )
    head = "".join(f"<th title='{html.escape(t)}'>{html.escape(h)}</th>" for h, t in heads)
    tops = _top_texts(touchpoints, by)
    missing = _missing_texts(opportunities, by)
    rows = []
    for _i, r in frame.iterrows():
        group = _group_key(r[by]) if by else None
        key = (group, r["stage"])
        cells = []
        if by:
            cells.append(f"<th>{html.escape(_DASH if group is None else str(group))}</th>")
        cells.append(f"<th style='text-align:left'>{html.escape(label_text(r['stage']))}</th>")
        cells.append(_cell(f"{_int(r['reached'])} ({_pct(r['reached_share'])})"))
        cells.append(_cell(_int(r["customers"])))
        cells.append(_cell(_pct(r["conversion"], 1)))
        cells.append(_cell(_pct(r["drop_off"], 1)))
        cells.append(_cell(f"{_int(r['pending'])} / {_int(r['active'])}"))
        cells.append(_cell(_duration(r["median_days"])))
        cells.append(_cell(tops.get(key, _DASH), "left"))
        csat = (
            _DASH
            if pd.isna(r["mean_satisfaction"])
            else _("{mean} ({answers})").format(
                mean=_num(r["mean_satisfaction"], 2), answers=_int(r["satisfaction_answers"])
            )
        )
        cells.append(_cell(csat))
        if pd.isna(r["nps"]):
            nps = _DASH
        else:
            score = _num(abs(r["nps"]), 0)
            sign = "-" if r["nps"] < 0 and score != _num(0, 0) else "+"
            nps = _("{score} ({promoters} / {passives} / {detractors}, n={respondents})").format(
                score=sign + score,
                promoters=_pct(r["promoters"]),
                passives=_pct(r["passives"]),
                detractors=_pct(r["detractors"]),
                respondents=_int(r["nps_respondents"]),
            )
        cells.append(_cell(nps))
        if gaps:
            cells.append(_cell(missing.get(key, _DASH), "left"))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table class='cjml-journey-map-stages'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _money(value) -> str:
    """A value in whole units of the current currency (forecasts have no cents)."""
    if value is None or pd.isna(value):
        return _DASH
    return format_currency(float(value), whole=True)


def _value_table_html(frame: pd.DataFrame, by: str | None) -> str:
    """The value table: per stage, or per group of ``by`` (then without a stage column)."""
    heads = [
        _("customers"),
        _("mean expected value"),
        _("expected value"),
        _("value at risk"),
        _("share of value at risk"),
    ]
    heads.insert(0, str(by) if by else _("stage"))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    rows = []
    for _i, r in frame.iterrows():
        if by:
            name = _DASH if _is_missing(r[by]) else str(r[by])
        else:
            name = label_text(r["stage"])
        cells = [
            f"<th style='text-align:left'>{html.escape(name)}</th>",
            _cell(_int(r["customers"])),
            _cell(_money(r["mean_expected_value"])),
            _cell(_money(r["expected_value"])),
            _cell(_money(r["value_at_risk"])),
            _cell(_pct(r["value_at_risk_share"], 1)),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table class='cjml-journey-map-value'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _opportunity_table_html(frame: pd.DataFrame) -> str:
    heads = (
        _("stage"),
        _("touchpoint"),
        _("customers"),
        _("mean risk reduction"),
        _("current use"),
        "",
    )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    rows = []
    points = format_points(frame["mean_risk_reduction"].to_numpy(dtype=float), signed=True)
    for r, pts in zip(frame.itertuples(index=False), points, strict=True):
        flag = "&#9873; " + html.escape(_("missing")) if r.missing else ""
        style = " style='font-weight:bold'" if r.missing else ""
        rows.append(
            f"<tr{style}><th style='text-align:left'>{html.escape(label_text(r.stage))}</th>"
            f"{_cell(label_text(r.touchpoint), 'left')}{_cell(_int(r.customers))}"
            f"{_cell(str(pts))}"
            f"{_cell(_pct(r.current_use, 1))}<td>{flag}</td></tr>"
        )
    return (
        f"<table class='cjml-journey-map-opportunities'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


#: "How to read it": each term and what it means, translated where shown.
_NOTES = (
    (N_("dropped"), N_("no event for the horizon before the cutoff.")),
    (N_("active"), N_("an event within the horizon, so the outcome is not known yet.")),
    (N_("reached"), N_("furthest stage this one or later (skipping counts as passing).")),
    (
        N_("conversion"),
        N_(
            "share of those who reached the stage and whose outcome is known (not pending) who "
            "reached the next one."
        ),
    ),
    (
        N_("drop-off"),
        N_(
            "share of those who were in the stage and are not still active in it who went "
            "silent there."
        ),
    ),
    (
        N_("median time"),
        N_(
            "from entering the stage to the next event in another stage, or to the last event "
            "(a lower bound for active customers)."
        ),
    ),
    (
        N_("NPS"),
        N_(
            "each customer's latest answer in the stage; promoters 9-10, passives 7-8, "
            "detractors 0-6; score = % promoters - % detractors."
        ),
    ),
    (
        N_("mean risk reduction"),
        N_(
            "estimated drop in churn probability, in percentage points, if the touchpoint were "
            "triggered now."
        ),
    ),
)


def _notes_html() -> str:
    items = "".join(
        "<li><b>" + html.escape(_(term)) + "</b>: " + html.escape(_(text)) + "</li>"
        for term, text in _NOTES
    )
    summary = html.escape(_("How to read it"))
    return f"<details><summary>{summary}</summary><ul>{items}</ul></details>"


def _heading(level: int, text: str) -> str:
    return f"<h{level}>{html.escape(text)}</h{level}>"


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 8px}"
    "thead th{background:#f4f4f4;text-align:center}img{max-width:100%;display:block;"
    "margin:1em 0}"
)
