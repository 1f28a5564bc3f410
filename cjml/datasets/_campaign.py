"""A campaign delivered in a simulated world: the log after it, and its true effect.

:func:`simulate_campaign` takes a world (:func:`cjml.datasets.make_journeys`
with a truth cutoff, or :func:`cjml.datasets.make_scenario`) and a campaign's
assignments (customer, arm, touchpoint) and returns the event log as it would
be after the campaign, together with the campaign's true average effect.

The treated customers' futures are a real roll-forward of the simulator, not
draws from the truth's probabilities: the world is replayed with its own seed
up to the cutoff (the state is exactly the one the truth starts from), each
treated customer who is still there gets the touchpoint at the cutoff, with
its random outcome (experience quality, stage move, ticket fixed) drawn as the
truth integrates it, and then the simulator runs their days to the end of the
period under business as usual, on a random stream of its own (``seed``).
Everybody else keeps the world's own events: the control arm (unless
``redraw_control``, which rolls it forward too, without the delivery) and the
customers outside the campaign are untouched. So the treated customers' drop-off
in ``(cutoff, cutoff + horizon]`` is a draw with exactly the probability
``risk_<touchpoint>`` of the truth frame, and the control arm's one with
``risk_no_action``.

The delivery is logged as one event per treated customer (also for those who
have already left, whom it cannot reach: a CRM logs what it sent), one minute
after the cutoff. A ticket the delivery resolves is not logged as a separate
event: the truth counts the resolution as part of the delivery, not as the
customer's activity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cjml.datasets import _scenarios as sc
from cjml.datasets import _simulator as sim
from cjml.exceptions import CjmlError

if TYPE_CHECKING:  # scikit-learn takes 0.65 s to import; only a simulation needs it
    from sklearn.utils import Bunch

__all__ = ["DELIVERY_OFFSET", "simulate_campaign"]

#: When the campaign's delivery is logged, after the cutoff.
DELIVERY_OFFSET = pd.Timedelta(minutes=1)
_ARMS = ("treatment", "control")


def simulate_campaign(
    world: Bunch, assignments, *, cutoff=None, seed: int | None = None, redraw_control: bool = False
) -> Bunch:
    """Deliver a campaign in a simulated world and return the log after it.

    The treated customers' futures are rolled forward by the simulator itself
    from their exact state at the cutoff, with the touchpoint delivered (see
    the module notes in ``cjml/datasets/_campaign.py``); the control arm and
    everyone outside the campaign keep the world's own events.

    Parameters
    ----------
    world : Bunch
        What :func:`~cjml.datasets.make_journeys` (made with a
        ``random_state`` and the cutoff among its ``truth_cutoffs``) or
        :func:`~cjml.datasets.make_scenario` returned.
    assignments : DataFrame or Campaign
        One row per customer of the campaign: ``customer_id``, ``arm``
        ("treatment" or "control") and ``touchpoint`` (the one delivered to
        the treated; intended only, for the control arm). A
        :class:`~cjml.campaign.Campaign` gives its assignments and cutoff.
    cutoff : date, optional
        When the campaign is delivered (midnight UTC). Defaults to the
        campaign's cutoff, the scenario's ``test_cutoff`` or the world's only
        truth cutoff.
    seed : int, optional
        Seed of the rolled-forward futures; the same seed gives the same log.
    redraw_control : bool, default False
        Also roll the control arm's futures forward from the cutoff (under
        business as usual, no delivery) on the same seed, instead of keeping
        the world's own. Either is a draw from the same distribution; with
        True, campaigns with different seeds in one world have independent
        outcomes in both arms (for repeated-campaign checks such as
        ``benchmarks/campaign_truth.py``), with False the control arm keeps
        the world's own events exactly.

    Returns
    -------
    Bunch
        ``events``
            The whole log after the campaign, in the columns and order of
            ``world.events``: the world's events, with each treated
            customer's events from the cutoff on replaced by the delivery and
            their rolled-forward future.
        ``effects``
            The campaign's true average effect: one row for all treated
            customers (``group`` "all"), then one per touchpoint (``group``
            "touchpoint"), with ``value``, ``n_treated``, ``n_control``,
            ``true_dropoff_untreated`` (mean ``risk_no_action`` of the
            treated), ``true_dropoff_treated`` (mean ``risk_<touchpoint>``),
            ``true_reduction`` (their difference: positive means the
            touchpoint keeps customers) and ``n_unknown`` (treated customers
            whose true stage does not allow the touchpoint, so the truth has
            no ``risk_<touchpoint>``; left out of the means).
        ``outcomes``
            The assignments with each customer's truth:
            ``true_risk_no_action``, ``true_risk_treated`` (NaN for the
            control arm) and ``true_reduction``.
        ``cutoff``, ``horizon_days``
            When the campaign was delivered and the truth's horizon.

    Raises
    ------
    CjmlError
        When the assignments lack a column, name an unknown arm, touchpoint or
        customer, or the world cannot be replayed at that cutoff.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.datasets import make_journeys, simulate_campaign
    >>> world = make_journeys(300, n_days=120, truth_cutoffs=["2024-03-15"], random_state=0)
    >>> at = world.truth[world.truth["risk_email"].notna()].head(40)
    >>> plan = pd.DataFrame({"customer_id": at["customer_id"],
    ...                      "arm": ["treatment", "control"] * 20, "touchpoint": "email"})
    >>> after = simulate_campaign(world, plan, seed=1)
    >>> int(after.effects.loc[0, "n_treated"])
    20
    """
    frame, cutoff = _assignments(assignments, cutoff)
    cutoff = _world_cutoff(world, cutoff)
    truth = _truth_at(world, cutoff)
    frame = _check(world, frame, truth)
    rolled = frame if redraw_control else frame[frame["arm"] == "treatment"]
    deliver = (rolled["arm"] == "treatment").to_numpy()
    rng = np.random.default_rng(seed)
    if "spec" in world:
        new = _roll_scenario(world, rolled, deliver, cutoff, rng)
    else:
        new = _roll_journeys(world, rolled, deliver, cutoff, rng)
    events = world.events
    moved = events["customer_id"].isin(rolled["customer_id"]) & (events["timestamp"] >= cutoff)
    events = pd.concat([events[~moved], new[list(events.columns)]], ignore_index=True)
    events = events.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    outcomes, effects = _true_effects(frame, truth)
    from sklearn.utils import Bunch

    return Bunch(
        events=events,
        effects=effects,
        outcomes=outcomes,
        cutoff=cutoff,
        horizon_days=int(world.horizon_days),
    )


# ----------------------------------------------------------------------- inputs
def _assignments(assignments, cutoff) -> tuple[pd.DataFrame, object]:
    """The assignments frame and the cutoff a Campaign carries (duck-typed)."""
    if isinstance(assignments, pd.DataFrame):
        return assignments, cutoff
    frame = getattr(assignments, "assignments", None)
    manifest = getattr(assignments, "manifest", None)
    if not isinstance(frame, pd.DataFrame):
        raise CjmlError(
            f"assignments must be a DataFrame or a Campaign, got {type(assignments).__name__}."
        )
    if cutoff is None and isinstance(manifest, dict):
        cutoff = manifest.get("cutoff")
    return frame, cutoff


def _world_cutoff(world: Bunch, cutoff) -> pd.Timestamp:
    if "spec" in world:
        allowed = [pd.Timestamp(world.test_cutoff)]
    else:
        allowed = [pd.Timestamp(c, tz="UTC") for c in world.params["truth_cutoffs"]]
    if cutoff is None:
        if len(allowed) != 1:
            raise CjmlError(
                f"The world has truth at {[str(c.date()) for c in allowed]}: pass cutoff= "
                "to say when the campaign is delivered."
            )
        return allowed[0]
    ts = pd.Timestamp(cutoff)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts not in allowed:
        raise CjmlError(
            f"The campaign's cutoff {ts.date()} is not one of the world's truth cutoffs "
            f"{[str(c.date()) for c in allowed]}: export the campaign at one of them "
            "(make_journeys(..., truth_cutoffs=[...]))."
        )
    return ts


def _truth_at(world: Bunch, cutoff: pd.Timestamp) -> pd.DataFrame:
    truth = world.truth
    if "cutoff" in truth.columns:
        truth = truth[truth["cutoff"] == cutoff]
    return truth.set_index("customer_id")


def _check(world: Bunch, frame: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("customer_id", "arm", "touchpoint") if c not in frame.columns]
    if missing:
        raise CjmlError(
            f"The assignments lack the column(s) {missing}; they need customer_id, arm and "
            "touchpoint (the campaign's <name>.assignments.parquet has them)."
        )
    frame = frame[["customer_id", "arm", "touchpoint"]].copy()
    frame["arm"] = frame["arm"].astype(str)
    bad_arm = sorted(set(frame["arm"]) - set(_ARMS))
    if bad_arm:
        raise CjmlError(f"Unknown arm(s) {bad_arm} in the assignments; use {list(_ARMS)}.")
    if frame["customer_id"].duplicated().any():
        dup = frame.loc[frame["customer_id"].duplicated(), "customer_id"].iloc[0]
        raise CjmlError(f"Customer {dup} is assigned twice; give each customer one row.")
    unknown = frame.loc[~frame["customer_id"].isin(truth.index), "customer_id"]
    if len(unknown):
        raise CjmlError(
            f"{len(unknown)} assigned customer(s) (e.g. {unknown.iloc[0]}) have no event "
            "before the cutoff in this world; assign customers of world.truth at the cutoff."
        )
    treated = frame["arm"] == "treatment"
    actionable = set(world.journey_map.actionable_touchpoints)
    bad_tp = sorted(set(frame.loc[treated, "touchpoint"].astype(str)) - actionable)
    if bad_tp:
        raise CjmlError(
            f"Touchpoint(s) {bad_tp} cannot be delivered: the world's actionable touchpoints "
            f"are {sorted(actionable)}."
        )
    frame["touchpoint"] = frame["touchpoint"].astype(object)
    frame.loc[treated, "touchpoint"] = frame.loc[treated, "touchpoint"].astype(str)
    return frame.reset_index(drop=True)


# ----------------------------------------------------------------------- truth
def _true_effects(frame: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = truth.loc[frame["customer_id"]]
    none = rows["risk_no_action"].to_numpy(dtype=float)
    after = np.full(len(frame), np.nan)
    treated = (frame["arm"] == "treatment").to_numpy()
    for tp in frame.loc[treated, "touchpoint"].unique():
        sel = treated & (frame["touchpoint"] == tp).to_numpy()
        after[sel] = rows[f"risk_{tp}"].to_numpy(dtype=float)[sel]
    outcomes = frame.assign(
        true_risk_no_action=none, true_risk_treated=after, true_reduction=none - after
    )
    table = []
    groups = [("all", "all", np.ones(len(frame), dtype=bool))] + [
        ("touchpoint", tp, (frame["touchpoint"] == tp).to_numpy())
        for tp in sorted(frame.loc[treated, "touchpoint"].unique())
    ]
    for group, value, sel in groups:
        t = sel & treated
        known = t & ~np.isnan(after)
        table.append(
            {
                "group": group,
                "value": value,
                "n_treated": int(t.sum()),
                "n_control": int((sel & ~treated).sum()),
                "true_dropoff_untreated": float(none[known].mean()) if known.any() else np.nan,
                "true_dropoff_treated": float(after[known].mean()) if known.any() else np.nan,
                "true_reduction": float((none - after)[known].mean()) if known.any() else np.nan,
                "n_unknown": int((t & np.isnan(after)).sum()),
            }
        )
    return outcomes, pd.DataFrame(table)


# ----------------------------------------------------------------- roll-forward
def _delivery_frame(
    customer_id: np.ndarray,
    cutoff: pd.Timestamp,
    touchpoint: np.ndarray,
    stage: np.ndarray,
    channel: np.ndarray,
    columns: pd.Index,
) -> pd.DataFrame:
    """One logged delivery per treated customer (the other columns empty)."""
    out = pd.DataFrame(
        {
            "customer_id": customer_id.astype(np.int64),
            "timestamp": pd.Series(cutoff + DELIVERY_OFFSET, index=range(len(customer_id))),
            "touchpoint": touchpoint,
            "stage": stage,
            "channel": channel,
        }
    )
    for col in columns:
        if col not in out.columns:
            out[col] = np.nan
    return out


def _codes(rolled: pd.DataFrame, deliver: np.ndarray, names: list[str]) -> np.ndarray:
    """Each delivered touchpoint's index in ``names``; -1 for no delivery."""
    out = np.full(len(rolled), -1, dtype=np.int64)
    out[deliver] = pd.Index(names).get_indexer(rolled["touchpoint"].to_numpy()[deliver])
    return out


def _roll_journeys(
    world: Bunch,
    rolled: pd.DataFrame,
    deliver: np.ndarray,
    cutoff: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The futures of ``rolled`` from the cutoff; ``deliver`` marks who gets the touchpoint."""
    params = world.params
    if params.get("random_state") is None:
        raise CjmlError(
            "This world was made without random_state, so it cannot be replayed: make it "
            "with make_journeys(..., random_state=<int>)."
        )
    start = pd.Timestamp(params["start"], tz="UTC")
    day = (cutoff - start).days
    n_days = int(params["n_days"])
    st, cal = sim.state_at(
        int(params["n_customers"]), n_days, int(params["horizon_days"]), day, params["random_state"]
    )
    glob = rolled["customer_id"].to_numpy(dtype=np.int64) - 1
    tp = _codes(rolled, deliver, list(sim._MAP.touchpoint_names))
    sub = st.take(glob)
    m = len(glob)
    quality = np.full(m, np.nan)
    recorded = sub.stage.copy()  # the stage each delivery is logged in
    for code in np.unique(tp[deliver]):
        rows = np.flatnonzero((tp == code) & sub.active)
        if not len(rows):
            continue
        k = len(rows)
        z, u_move, u_fix = rng.standard_normal(k), rng.random(k), rng.random(k)
        touch = sim._touch(sub, rows, int(code), z, u_move, u_fix)
        quality[rows] = touch.quality
        recorded[rows] = touch.stage
        fixed = rows[touch.fixed]
        if len(fixed):  # resolved on the spot, as the truth has it
            ones = np.ones(len(fixed))
            z_res = rng.standard_normal(len(fixed))
            sim._touch(sub, fixed, sim._TP["ticket_resolved"], z_res, ones, ones)
    names = np.asarray(sim._MAP.touchpoint_names, dtype=object)
    stages = np.asarray(sim.DEFAULT_STAGES, dtype=object)
    sent = tp[deliver]
    delivered = _delivery_frame(
        glob[deliver] + 1,
        cutoff,
        names[sent],
        stages[recorded[deliver]],
        np.array([sim._CHANNELS[t][0][0] for t in names[sent]], dtype=object),
        world.events.columns,
    )
    alive = np.flatnonzero(sub.active)
    days, custs, tps, stg, quals, efforts, moods = [], [], [], [], [], [], []
    for d in range(day, n_days):
        alive, ev = sim._simulate_day(sub, alive, d, cal, rng, record=True)
        if len(ev["customer"]):
            days.append(np.full(len(ev["customer"]), d))
            custs.append(glob[ev["customer"]])
            tps.append(ev["touchpoint"])
            stg.append(ev["stage"])
            quals.append(ev["quality"])
            efforts.append(ev["effort"])
            moods.append(ev["mood"])
    frames = [delivered]
    if custs:
        future = sim._assemble_events(
            rng,
            start,
            st.persona,
            *(np.concatenate(a) for a in (days, custs, tps, stg, quals, efforts, moods)),
        )
        frames.append(future)
    out = pd.concat(frames, ignore_index=True)
    segment = world.customers.set_index("customer_id")["segment"]
    out["segment"] = segment.reindex(out["customer_id"]).to_numpy()
    return _like(out, world.events)


def _roll_scenario(
    world: Bunch,
    rolled: pd.DataFrame,
    deliver: np.ndarray,
    cutoff: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The futures of ``rolled`` from the cutoff; ``deliver`` marks who gets the touchpoint."""
    spec = world.spec
    n, seed = int(world.params["n_customers"]), int(world.params["seed"])
    w, _, _, _, seg, _, _, (st_c, alive_c) = sc._simulate(spec, n, seed)
    glob = rolled["customer_id"].to_numpy(dtype=np.int64) - 1
    tp = _codes(rolled, deliver, w.names)
    sub = {k: v[glob].copy() for k, v in st_c.items()}
    alive = alive_c[glob].copy()
    there = np.flatnonzero(alive & deliver)
    sc._deliver(w, sub, there, tp[there], spec.cutoff_day, rng)
    sent = tp[deliver]
    delivered = _delivery_frame(
        glob[deliver] + 1,
        cutoff,
        np.asarray(w.names, dtype=object)[sent],
        np.asarray(w.stages, dtype=object)[sub["s"][deliver]],
        w.log_channel[sent],
        world.events.columns,
    )
    logs: list[tuple] = []
    apply_events = sc._event_writer(w, sub, rng, logs)
    dropout = np.full(len(glob), -1, np.int64)
    for d in range(spec.cutoff_day, spec.n_days):
        sc._day(w, sub, alive, dropout, d, rng, apply_events)
    frames = [delivered]
    if logs:
        glob_logs = [(glob[lg[0]], *lg[1:]) for lg in logs]
        start = pd.Timestamp(spec.start, tz="UTC")
        frames.append(sc._events_frame(w, glob_logs, seg, start))
    out = pd.concat(frames, ignore_index=True)
    out["segment"] = np.asarray(w.personas, dtype=object)[seg[out["customer_id"] - 1]]
    return _like(out, world.events)


def _like(new: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``new`` in the columns and dtypes of ``events``."""
    new = new[list(events.columns)].copy()
    for col in events.columns:
        dtype = events[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            new[col] = pd.Categorical(new[col].astype(object), dtype=dtype)
        elif col == "timestamp":
            new[col] = pd.to_datetime(new[col], utc=True).astype(dtype)
        else:
            new[col] = new[col].astype(dtype)
    return new
