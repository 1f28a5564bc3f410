"""Simulated customer journeys with ground truth, and the bundled sample.

- :func:`make_journeys` simulates touchpoint histories for several personas and,
  at the cutoffs you ask for, the true drop-off risk with no action and after
  each actionable touchpoint, and the true distribution of the next stage.
- :func:`make_scenario` simulates one of several structurally different worlds
  (:data:`SCENARIOS`, split into :data:`DEVELOPMENT_SCENARIOS` and
  :data:`HELD_OUT_SCENARIOS`) with exact counterfactual truth at a test cutoff.
- :func:`simulate_campaign` delivers a campaign (treatment and control arms) in
  such a world and returns the log after it and the campaign's true effect.
- :func:`load_sample` loads the small sample that ships with cjml (made by
  :func:`make_journeys` with :data:`SAMPLE_PARAMS`).

The simulator's mechanics and their limits are described in
``cjml/datasets/_simulator.py``; its parameters are fixed so that results are
comparable across releases.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cjml.datasets._campaign import simulate_campaign
from cjml.datasets._scenarios import (
    DEVELOPMENT_SCENARIOS,
    HELD_OUT_SCENARIOS,
    SCENARIOS,
    ScenarioSpec,
    make_scenario,
)
from cjml.datasets._simulator import PERSONAS, SEGMENTS, simulate
from cjml.exceptions import InputFileError
from cjml.journey import DEFAULT_STAGES, JourneyMap

if TYPE_CHECKING:  # scikit-learn takes 0.65 s to import; only a simulation needs it
    from sklearn.utils import Bunch

__all__ = [
    "DEVELOPMENT_SCENARIOS",
    "HELD_OUT_SCENARIOS",
    "PERSONAS",
    "SAMPLE_PARAMS",
    "SCENARIOS",
    "SEGMENTS",
    "TRUTH_STAGES",
    "ScenarioSpec",
    "load_sample",
    "make_journeys",
    "make_scenario",
    "sample_path",
    "simulate_campaign",
    "write_sample",
]

#: Parameters that made ``data/sample_events.parquet``; ``cjml generate --sample``
#: and ``python -m cjml.datasets`` rebuild it from these.
SAMPLE_PARAMS: dict = {
    "n_customers": 3000,
    "n_days": 240,
    "start": "2024-01-01",
    "truth_cutoffs": ["2024-05-30", "2024-06-29", "2024-07-29"],
    "horizon_days": 30,
    "random_state": 7,
}


def make_journeys(
    n_customers: int = 2000,
    *,
    n_days: int = 240,
    start: str | pd.Timestamp = "2024-01-01",
    truth_cutoffs: Sequence[str | pd.Timestamp] | str | None = None,
    horizon_days: int = 30,
    n_draws: int = 16,
    n_rollouts: int = 64,
    random_state: int | None = None,
) -> Bunch:
    """Simulate customer journeys, with ground truth at chosen cutoffs.

    Customers of five personas (bargain hunter, loyal regular, careful
    researcher, impulse buyer, B2B buyer) arrive over the first two thirds of the
    period and move through the default journey map
    (:meth:`cjml.JourneyMap.default`). Touchpoints move their latent health,
    grudges, contact fatigue, open support tickets and stage; a daily hazard
    built from that state decides when they drop off, after which they emit
    nothing. Business touchpoints follow a confounded business-as-usual policy.

    Parameters
    ----------
    n_customers : int, default 2000
        Number of customers.
    n_days : int, default 240
        Length of the simulated period in days.
    start : str or Timestamp, default "2024-01-01"
        First day of the period (UTC).
    truth_cutoffs : sequence of dates, "last" or None, default None
        Cutoffs (midnight UTC, within the period and at least ``horizon_days``
        before its end) at which to compute ground truth; ``"last"`` for the
        latest one the period allows; None for no truth.
    horizon_days : int, default 30
        The prediction horizon of the ground truth.
    n_draws : int, default 16
        Stratified draws over the random outcome of a touchpoint delivered at
        the cutoff (experience quality, stage move, ticket fix).
    n_rollouts : int, default 64
        Monte Carlo rollouts per customer for the next-stage distribution.
    random_state : int, optional
        Seed; the same seed gives the same events, customers and truth, and
        asking for truth never changes the events.

    Returns
    -------
    Bunch
        ``events``
            One row per event, sorted by customer then time: ``customer_id``
            (int), ``timestamp`` (UTC), ``touchpoint``, ``stage`` (the stage the
            customer was in at the event), ``channel`` (web, app, email, phone,
            chat, store, social, search), ``satisfaction`` (CSAT 1-5 on about a
            third of service interactions), ``nps`` (0-10, occasional surveys),
            ``effort`` (CES 1-7 on most ticket resolutions), ``amount``
            (purchases only), and ``segment`` (the CRM's persona label, right for
            85% of customers).
        ``customers``
            One row per customer: ``customer_id``, ``persona`` (true), ``segment``,
            ``baseline_health``, ``arrival``, ``dropout`` (latent drop-off day,
            NaT if still active at the end).
        ``truth``
            One row per (cutoff, customer seen before the cutoff): ``cutoff``,
            ``customer_id``, ``persona``, ``stage`` (current), ``active`` (False if
            already gone, which the log cannot show), ``p_active`` (the exact
            posterior of still being there, given the silence since the last
            event), ``risk_no_action`` (the probability of no event in
            ``(cutoff, cutoff + horizon]`` under business as usual, knowing
            everything about the customer but whether they have left: the
            oracle to measure models against), ``risk_full_no_action`` (the same
            knowing that too: 1 for customers gone), ``risk_<touchpoint>`` for
            each actionable touchpoint delivered at the cutoff (NaN where the map
            does not allow it in the current stage), ``p_next_<stage>`` and
            ``p_next_dropped`` (the next-stage label's distribution),
            ``expected_value`` (the expected spend in ``(cutoff, cutoff +
            horizon]`` under business as usual, 0 for customers gone: the
            oracle for value models), ``realised_churn`` and
            ``realised_next_stage`` (what the simulation then did).
        ``journey_map``
            The :class:`~cjml.JourneyMap` used.
        ``horizon_days``, ``params``
            The horizon and all arguments, for reproducibility.

    Examples
    --------
    >>> from cjml.datasets import make_journeys
    >>> data = make_journeys(200, n_days=120, truth_cutoffs=["2024-03-01"],
    ...                      random_state=0)
    >>> list(data.events.columns[:4])
    ['customer_id', 'timestamp', 'touchpoint', 'stage']
    >>> bool(data.truth["risk_no_action"].between(0, 1).all())
    True
    """
    n_customers = _check_int("n_customers", n_customers, 1)
    n_days = _check_int("n_days", n_days, 2)
    horizon_days = _check_int("horizon_days", horizon_days, 1)
    n_draws = _check_int("n_draws", n_draws, 1)
    n_rollouts = _check_int("n_rollouts", n_rollouts, 1)
    start_ts = _utc_midnight(start, "start")
    if isinstance(truth_cutoffs, str) and truth_cutoffs == "last":
        truth_cutoffs = [start_ts + pd.Timedelta(days=n_days - horizon_days)]
    elif isinstance(truth_cutoffs, str):
        truth_cutoffs = [truth_cutoffs]
    truth_days = []
    for cutoff in truth_cutoffs or []:
        ts = _utc_midnight(cutoff, "truth_cutoffs")
        day = (ts - start_ts).days
        if not 1 <= day <= n_days - horizon_days:
            last = start_ts + pd.Timedelta(days=n_days - horizon_days)
            raise ValueError(
                f"truth cutoff {str(cutoff)!r} must lie after the start {start_ts.date()} and at "
                f"least horizon_days={horizon_days} (--horizon {horizon_days}) before the end, "
                f"i.e. no later than {last.date()}. Choose an earlier cutoff or a longer "
                f"simulation (n_days={day + horizon_days}, --days {day + horizon_days} or more)."
            )
        truth_days.append(day)
    events, customers, truth = simulate(
        n_customers,
        n_days,
        start_ts,
        sorted(set(truth_days)),
        horizon_days,
        n_draws,
        n_rollouts,
        random_state,
    )
    params = {
        "n_customers": n_customers,
        "n_days": n_days,
        "start": str(start_ts.date()),
        "truth_cutoffs": [
            str((start_ts + pd.Timedelta(days=d)).date()) for d in sorted(set(truth_days))
        ],
        "horizon_days": horizon_days,
        "n_draws": n_draws,
        "n_rollouts": n_rollouts,
        "random_state": random_state,
    }
    from sklearn.utils import Bunch

    return Bunch(
        events=events,
        customers=customers,
        truth=truth,
        journey_map=JourneyMap.default(),
        horizon_days=horizon_days,
        params=params,
    )


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _utc_midnight(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a date; use e.g. '2024-01-01'.") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.normalize():
        raise ValueError(f"{name}: {value!r} must be a date at midnight UTC, e.g. '2024-03-01'.")
    return ts


_SAMPLE_FILES = {"events": "sample_events.parquet", "truth": "sample_truth.parquet"}


def sample_path(kind: str = "events") -> Path:
    """Path of a bundled sample file.

    Wheels carry the sample inside the package; a source checkout (editable
    install) reads it from the repository's ``data/`` folder.

    Parameters
    ----------
    kind : {"events", "truth"}, default "events"
        Which file.

    Returns
    -------
    Path
        The file's location.
    """
    if kind not in _SAMPLE_FILES:
        raise ValueError(f"kind must be one of {sorted(_SAMPLE_FILES)}, got {kind!r}.")
    name = _SAMPLE_FILES[kind]
    packaged = resources.files("cjml.datasets").joinpath("_data", name)
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "data" / name
    if checkout.is_file():
        return checkout
    raise InputFileError(
        f"The bundled sample {name!r} was not found "
        f"(looked in the package and in {checkout.parent}). "
        "Rebuild it with `python -m cjml.datasets --out data/` from a source checkout, or "
        "reinstall cjml."
    )


def load_sample(*, truth: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Load the bundled sample event log (3,000 simulated customers, 8 months).

    Parameters
    ----------
    truth : bool, default False
        Also return the ground truth at the sample's three cutoffs.

    Returns
    -------
    events : DataFrame
        The columns of ``make_journeys(...).events``.
    truth : DataFrame
        Only when ``truth=True``: the columns of ``make_journeys(...).truth``.

    Examples
    --------
    >>> from cjml.datasets import load_sample
    >>> events = load_sample()
    >>> int(events["customer_id"].nunique())
    3000
    """
    events = pd.read_parquet(sample_path("events"))
    if truth:
        return events, pd.read_parquet(sample_path("truth"))
    return events


def write_sample(folder: str | Path) -> tuple[Path, Path]:
    """Regenerate the bundled sample from :data:`SAMPLE_PARAMS`.

    Parameters
    ----------
    folder : str or Path
        Where to write ``sample_events.parquet`` and ``sample_truth.parquet``.

    Returns
    -------
    tuple of Path
        The events and truth files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = make_journeys(**SAMPLE_PARAMS)
    paths = folder / _SAMPLE_FILES["events"], folder / _SAMPLE_FILES["truth"]
    data.events.to_parquet(paths[0], index=False, compression="zstd")
    data.truth.to_parquet(paths[1], index=False, compression="zstd")
    return paths


# The stage names the ground-truth columns use, for readers of ``truth``.
TRUTH_STAGES = (*DEFAULT_STAGES, "dropped")
