"""Drafting a journey map from an event log's own stages and touchpoints.

Apart from :mod:`cjml.journey` because it reads the events (:func:`cjml.read_events`),
and the reader needs a journey map: the map cannot import the reader back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml.events import EventLog, read_events
from cjml.exceptions import SchemaError
from cjml.io._columns import _parse_columns, _resolve_columns
from cjml.io._files import _read_path
from cjml.journey import JourneyMap

__all__ = ["draft_journey_map"]


#: Words that mark a channel value of the log as offline (the map's channel is online or
#: offline; the log's is free text such as "branch" or "email").
_OFFLINE_WORDS = ("branch", "store", "shop", "phone", "call", "person", "offline", "post", "field")


def draft_journey_map(
    events,
    *,
    columns=None,
    name: str = "drafted",
    min_share: float = 0.01,
    timezone="UTC",
    timestamp_unit=None,
    drop_duplicates: bool = False,
    missing_ids=None,
) -> JourneyMap:
    """Draft a journey map from an event log's own stages and touchpoints.

    A start for a log whose vocabulary is not the default map's: the stages
    in journey order (each pair ordered as most customers first reached
    them), each touchpoint with the stages where at least ``min_share`` of its
    events happened, online or offline from its most common channel. No
    touchpoint is marked actionable: which ones the business delivers (and
    what they cost) is for the user to say, in the file :meth:`JourneyMap.to_toml`
    writes. The events are read with :func:`cjml.read_events` (the same
    checks, the same messages) under a provisional map of their own stages.

    Parameters
    ----------
    events : DataFrame or path
        The events, with a stage column (the stages cannot be drafted without one).
    columns : mapping or str, optional
        Your column names, as for :func:`cjml.read_events`.
    name : str, default "drafted"
        The map's name.
    min_share : float, default 0.01
        The smallest share of a touchpoint's events in a stage for that stage to
        be listed for it (its most common stage always is).
    timezone : str or tzinfo, default "UTC"
        Timezone of naive timestamps, as for :func:`cjml.read_events`.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) timestamps.
    drop_duplicates : bool, default False
        Remove exact duplicate events.
    missing_ids : sequence of str or str, optional
        Customer ids that mean "missing".

    Returns
    -------
    JourneyMap
        Reads ``events`` without errors about unknown stages or touchpoints.

    Raises
    ------
    SchemaError
        Without a stage column, and for whatever :func:`cjml.read_events` refuses.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import draft_journey_map
    >>> events = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2, 2],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01",
    ...                                  "2024-01-03", "2024-01-09"]),
    ...     "touchpoint": ["pricing_page", "signup", "invoice", "pricing_page", "signup"],
    ...     "stage": ["visitor", "trial", "paying", "visitor", "trial"],
    ... })
    >>> draft_journey_map(events).stages
    ('visitor', 'trial', 'paying')
    """
    if not 0 <= float(min_share) < 1:
        raise ValueError(f"min_share must be at least 0 and below 1, got {min_share!r}.")
    mapping = _parse_columns(columns)
    if isinstance(events, EventLog):
        raw, mapping = events.frame, {}
    elif isinstance(events, pd.DataFrame):
        raw = events
    else:
        raw, _origin = _read_path(Path(events), mapping)
    resolved = _resolve_columns(mapping, list(raw.columns))
    if "stage" not in resolved:
        raise SchemaError(
            "A journey map can only be drafted from a log with a stage column: the stages "
            "and their order come from it. Fix: give the stage column (--columns "
            "stage=COLUMN; in Python columns={'stage': 'COLUMN'}), or write the map by hand "
            "(see the README's 'Bring your own data')."
        )
    vocabulary = {
        key: sorted({str(v) for v in pd.unique(raw[resolved[key]].dropna())})
        for key in ("stage", "touchpoint")
    }
    if not vocabulary["stage"]:
        raise SchemaError(
            f"Column {str(resolved['stage'])!r} (stage) is empty: no stage to draft a map from."
        )
    provisional = JourneyMap.from_dict(
        {
            "name": name,
            "stages": vocabulary["stage"],
            "touchpoints": {
                t: {"channel": "online", "stages": vocabulary["stage"]}
                for t in vocabulary["touchpoint"]
            },
        }
    )
    log = read_events(
        events,
        columns=columns,
        journey_map=provisional,
        timezone=timezone,
        timestamp_unit=timestamp_unit,
        drop_duplicates=drop_duplicates,
        missing_ids=missing_ids,
    )
    frame = log.frame
    stages = _stage_order(frame)
    crosstab = pd.crosstab(frame["touchpoint"], frame["stage"]).reindex(
        columns=stages, fill_value=0
    )
    counts = crosstab.to_numpy(dtype=np.int64)
    totals, top = counts.sum(axis=1), counts.argmax(axis=1)
    names = [str(t) for t in crosstab.index]
    channels: dict[str, Any] = {}
    if "channel" in frame.columns:
        known = frame.dropna(subset=["channel"])
        most = known.groupby("touchpoint", observed=True)["channel"].agg(lambda c: c.mode().iloc[0])
        channels = {str(t): c for t, c in most.items()}
    touchpoints = {}
    # in journey order: by the stage most of a touchpoint's events are in, then the busiest
    for k in sorted(np.flatnonzero(totals > 0), key=lambda k: (top[k], -totals[k])):
        t, total = names[k], int(totals[k])
        kept = [s for j, s in enumerate(stages) if counts[k, j] >= min_share * total]
        channel = channels.get(t)
        offline = channel is not None and any(w in str(channel).lower() for w in _OFFLINE_WORDS)
        touchpoints[t] = {
            "channel": "offline" if offline else "online",
            "stages": kept or [stages[top[k]]],
            "description": f"{total:,} events"
            + (f", most via {channel}" if channel is not None else ""),
        }
    return JourneyMap.from_dict({"name": name, "stages": stages, "touchpoints": touchpoints})


def _stage_order(frame) -> list[str]:
    """The stages in journey order: each pair ordered as most customers first reached them.

    A Copeland ranking of the pairwise majorities (a stage ranks by how many others it
    comes before), ties broken by how many customers reached the stage (more first).
    """
    first = frame.groupby(["customer_id", "stage"], observed=True)["timestamp"].min().unstack()
    names = [str(s) for s in first.columns]
    times = first.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    times[first.isna().to_numpy()] = np.nan
    wins = np.zeros(len(names))
    for i in range(len(names)):
        for j in range(len(names)):
            if i != j:
                both = ~np.isnan(times[:, i]) & ~np.isnan(times[:, j])
                before = int((times[both, i] < times[both, j]).sum())
                after = int((times[both, i] > times[both, j]).sum())
                wins[i] += before > after
    reached = (~np.isnan(times)).sum(axis=0)
    order = sorted(range(len(names)), key=lambda k: (-wins[k], -reached[k], names[k]))
    return [names[k] for k in order]
