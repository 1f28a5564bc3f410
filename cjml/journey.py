"""Journey maps: the ordered stages and the touchpoint catalogue.

A :class:`JourneyMap` says which stages a customer moves through and, for each
touchpoint, its channel (online or offline), the stages where it can be
delivered, an optional unit cost and whether the business can trigger it
(*actionable*) or only observe it. Every other part of cjml reads stage order,
eligibility and costs from here.
"""

from __future__ import annotations

import collections
import difflib
import html
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cjml.exceptions import JourneyMapError

__all__ = ["Touchpoint", "JourneyMap", "DEFAULT_STAGES", "DROPPED"]

#: The default stage order, from awareness to advocacy (see DOMAIN.md).
DEFAULT_STAGES: tuple[str, ...] = (
    "awareness",
    "consideration",
    "conversion",
    "retention",
    "loyalty",
)

#: The label for a customer with no event in the prediction horizon. It is
#: reserved: no stage may carry this name.
DROPPED = "dropped"

_CHANNELS = ("online", "offline")
_TOUCHPOINT_KEYS = (
    "name",
    "channel",
    "stages",
    "actionable",
    "cost",
    "description",
    "purchase",
    "outbound",
    "churn",
)


def _did_you_mean(value: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Touchpoint:
    """One touchpoint of the catalogue.

    Parameters
    ----------
    name : str
        Unique name, as it appears in the event log's touchpoint column.
    channel : {"online", "offline"}
        Where the customer meets the brand.
    stages : tuple of str
        Stages in which the touchpoint can be delivered or observed.
    actionable : bool
        True when the business can trigger it (email, call, offer...), False
        when it can only be observed (ad seen, purchase, ticket opened).
    cost : float or None
        Unit cost of delivering it once, in the user's currency; None when
        unknown.
    description : str
        A short human-readable description.
    purchase : bool
        True when an event of it is a purchase (``payment_done``,
        ``order_placed``...): the value features and the BTYD baseline count
        them, with or without an amount. Without any marked, a touchpoint named
        ``purchase`` is, else whatever carries an amount.
    outbound : bool
        True when an event of it only records that the business reached out (a
        newsletter or reminder sent, a letter mailed), whether or not the
        customer responded. Such events do not show that the customer is still
        there: drop-off labels, the population of a cutoff and the activity
        features count only the customer's other events. Leave it False for
        touchpoints logged when the customer takes part (a chat, a call
        answered, an offer redeemed).
    churn : bool
        True when an event of it is the customer leaving explicitly (a
        subscription cancelled, an account closed). Drop-off then counts it as
        well as silence: a customer who has it in the label window churned,
        and a customer who had it by a cutoff has left and is in no
        population, whatever they do after it, until a purchase brings them
        back (:meth:`EventLog.gone_at`).
    """

    name: str
    channel: str
    stages: tuple[str, ...]
    actionable: bool = False
    cost: float | None = None
    description: str = ""
    purchase: bool = False
    outbound: bool = False
    churn: bool = False


@dataclass(frozen=True)
class JourneyMap:
    """Ordered journey stages and the touchpoint catalogue.

    Build one with :meth:`default`, :meth:`from_dict` or :meth:`from_file`;
    the constructor validates its input and raises
    :class:`~cjml.exceptions.JourneyMapError` with a message that names the
    offending entry.

    Parameters
    ----------
    stages : sequence of str
        Stage names, in journey order (earliest first).
    touchpoints : sequence of Touchpoint
        The touchpoint catalogue.
    name : str, default "custom"
        A label for reports.

    Examples
    --------
    >>> from cjml import JourneyMap
    >>> jm = JourneyMap.from_dict({
    ...     "stages": ["visitor", "trial", "paying"],
    ...     "touchpoints": {
    ...         "signup": {"channel": "online", "stages": ["visitor", "trial"]},
    ...         "onboarding_email": {"channel": "online", "stages": ["trial"],
    ...                              "actionable": True, "cost": 0.1},
    ...     },
    ... })
    >>> jm.stages
    ('visitor', 'trial', 'paying')
    >>> jm.eligible_touchpoints("trial")
    ('onboarding_email',)
    """

    stages: tuple[str, ...]
    touchpoints: tuple[Touchpoint, ...]
    name: str = "custom"
    _by_name: dict[str, Touchpoint] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stages = tuple(str(s) for s in self.stages)
        if not stages:
            raise JourneyMapError(
                "The journey map has an empty stage list. Give at least one stage, "
                f"in journey order, e.g. stages = {list(DEFAULT_STAGES)!r}."
            )
        dup = sorted({s for s in stages if stages.count(s) > 1})
        if dup:
            raise JourneyMapError(
                f"Duplicate stage names in the journey map: {dup!r}. Each stage must appear once."
            )
        if DROPPED in stages:
            raise JourneyMapError(
                f"{DROPPED!r} cannot be a stage name: cjml reserves it for customers with no "
                "event in the prediction horizon. Rename that stage."
            )
        tps = tuple(self.touchpoints)
        names = [t.name for t in tps]
        dup = sorted(n for n, k in collections.Counter(names).items() if k > 1)
        if dup:
            raise JourneyMapError(
                f"Duplicate touchpoint names in the journey map: {dup!r}. Each touchpoint "
                "must appear once; list all its stages in its 'stages' entry."
            )
        for tp in tps:
            if not tp.name or not isinstance(tp.name, str):
                raise JourneyMapError(f"A touchpoint has an empty or non-text name: {tp.name!r}.")
            if tp.channel not in _CHANNELS:
                raise JourneyMapError(
                    f"Touchpoint {tp.name!r} has channel {tp.channel!r}; allowed: "
                    f"{list(_CHANNELS)!r}.{_did_you_mean(tp.channel, _CHANNELS)}"
                )
            if not tp.stages:
                raise JourneyMapError(
                    f"Touchpoint {tp.name!r} lists no stages. Name the stages where it can "
                    f"be delivered, from {list(stages)!r}."
                )
            for s in tp.stages:
                if s not in stages:
                    raise JourneyMapError(
                        f"Touchpoint {tp.name!r} names unknown stage {s!r}; the map's stages "
                        f"are {list(stages)!r}.{_did_you_mean(s, stages)} Add the stage to "
                        "'stages' or correct the touchpoint."
                    )
            if tp.churn and tp.outbound:
                raise JourneyMapError(
                    f"Touchpoint {tp.name!r} is marked both churn and outbound: a churn event "
                    "is the customer leaving, an outbound one only the business sending. "
                    "Fix: keep the one it is."
                )
            if tp.cost is not None and (not np.isfinite(tp.cost) or tp.cost < 0):
                raise JourneyMapError(
                    f"Touchpoint {tp.name!r} has cost {tp.cost!r}; a cost must be a "
                    "non-negative number, or left out when unknown."
                )
        object.__setattr__(self, "stages", stages)
        object.__setattr__(self, "touchpoints", tps)
        object.__setattr__(self, "_by_name", {t.name: t for t in tps})

    # ------------------------------------------------------------------ builders
    @classmethod
    def default(cls) -> JourneyMap:
        """The default five-stage map with 16 touchpoints, drawn from DOMAIN.md.

        Nine touchpoints are actionable (email, live chat, free trial,
        consultation, follow-up call, renewal reminder, personalised offer,
        loyalty reward, referral invite); the rest are observed.

        Returns
        -------
        JourneyMap
        """
        return cls.from_dict(_DEFAULT_MAP)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> JourneyMap:
        """Build a map from a plain dict, as read from TOML or JSON.

        Parameters
        ----------
        spec : mapping
            ``{"stages": [...], "touchpoints": {...}}`` where ``touchpoints`` is
            either a mapping from name to attributes or a list of attribute
            mappings each with a ``name``. Attributes: ``channel`` ("online" or
            "offline", required), ``stages`` (list, required), ``actionable``
            (bool, default False), ``cost`` (number, optional),
            ``description`` (text, optional), ``purchase`` (bool, default
            False: its events are purchases), ``outbound`` (bool, default
            False: its events record the business reaching out, not the
            customer acting; see :class:`Touchpoint`), ``churn`` (bool,
            default False: its events are the customer leaving, such as a
            cancellation). An optional ``name`` labels the map.

        Returns
        -------
        JourneyMap
        """
        if not isinstance(spec, Mapping):
            raise JourneyMapError(
                f"A journey map must be a mapping with 'stages' and 'touchpoints', got "
                f"{type(spec).__name__}."
            )
        unknown = sorted(set(spec) - {"stages", "touchpoints", "name"})
        if unknown:
            raise JourneyMapError(
                f"Unknown journey map keys {unknown!r}; allowed: ['name', 'stages', "
                f"'touchpoints'].{_did_you_mean(unknown[0], ['name', 'stages', 'touchpoints'])}"
            )
        for key in ("stages", "touchpoints"):
            if key not in spec:
                raise JourneyMapError(f"The journey map has no {key!r} entry.")
        stages = spec["stages"]
        if isinstance(stages, str) or not isinstance(stages, Iterable):
            raise JourneyMapError(
                f"'stages' must be a list of stage names in journey order, got {stages!r}."
            )
        raw = spec["touchpoints"]
        if isinstance(raw, Mapping):
            items = []
            for name, attrs in raw.items():
                if not isinstance(attrs, Mapping):
                    raise JourneyMapError(
                        f"Touchpoint {name!r} must map to a table of attributes, got {attrs!r}."
                    )
                items.append({"name": name, **attrs})
        elif isinstance(raw, Iterable) and not isinstance(raw, str):
            items = [dict(a) if isinstance(a, Mapping) else a for a in raw]
        else:
            raise JourneyMapError(
                "'touchpoints' must be a table of name -> attributes or a list of tables."
            )
        touchpoints = []
        for attrs in items:
            if not isinstance(attrs, Mapping) or "name" not in attrs:
                raise JourneyMapError(f"Every touchpoint needs a 'name'; got {attrs!r}.")
            name = str(attrs["name"])
            bad = sorted(set(attrs) - set(_TOUCHPOINT_KEYS))
            if bad:
                raise JourneyMapError(
                    f"Touchpoint {name!r} has unknown attribute {bad[0]!r}; allowed: "
                    f"{list(_TOUCHPOINT_KEYS[1:])!r}.{_did_you_mean(bad[0], _TOUCHPOINT_KEYS)}"
                )
            for key in ("channel", "stages"):
                if key not in attrs:
                    raise JourneyMapError(f"Touchpoint {name!r} has no {key!r}.")
            tp_stages = attrs["stages"]
            if isinstance(tp_stages, str):
                tp_stages = [tp_stages]
            if not isinstance(tp_stages, Iterable) or isinstance(tp_stages, Mapping):
                raise JourneyMapError(
                    f"Touchpoint {name!r} has stages = {tp_stages!r}; give a list of stage "
                    f"names, e.g. stages = {list(stages)[:2]!r}."
                )
            if not isinstance(attrs["channel"], str):
                raise JourneyMapError(
                    f"Touchpoint {name!r} has channel = {attrs['channel']!r}; use "
                    f"{' or '.join(repr(c) for c in _CHANNELS)}."
                )
            cost = attrs.get("cost")
            if cost is not None:
                try:
                    if isinstance(cost, bool | str):
                        raise TypeError
                    cost = float(cost)
                except (TypeError, ValueError):
                    raise JourneyMapError(
                        f"Touchpoint {name!r} has cost {cost!r}, which is not a number. Fix: "
                        "write the unit cost without quotes, e.g. cost = 0.5, or leave it out."
                    ) from None
            flags = {
                key: attrs.get(key, False)
                for key in ("actionable", "purchase", "outbound", "churn")
            }
            for key, flag in flags.items():
                if not isinstance(flag, bool | np.bool_):
                    raise JourneyMapError(
                        f"Touchpoint {name!r} has {key} = {flag!r}; use true or false."
                    )
            touchpoints.append(
                Touchpoint(
                    name=name,
                    channel=str(attrs["channel"]),
                    stages=tuple(str(s) for s in tp_stages),
                    actionable=bool(flags["actionable"]),
                    cost=cost,
                    description=str(attrs.get("description", "")),
                    purchase=bool(flags["purchase"]),
                    outbound=bool(flags["outbound"]),
                    churn=bool(flags["churn"]),
                )
            )
        return cls(
            stages=tuple(str(s) for s in stages),
            touchpoints=tuple(touchpoints),
            name=str(spec.get("name", "custom")),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> JourneyMap:
        """Load a map from a ``.toml`` or ``.json`` file.

        Parameters
        ----------
        path : str or Path
            The file. TOML layout::

                name = "gym"
                stages = ["awareness", "consideration", "conversion"]

                [touchpoints.email]
                channel = "online"
                stages = ["consideration", "conversion"]
                actionable = true
                cost = 0.05

        Returns
        -------
        JourneyMap
        """
        from cjml.exceptions import InputFileError
        from cjml.io._csv import read_text_file, syntax_error_text

        path = Path(path)
        if not path.exists():
            raise JourneyMapError(
                f"Journey map file {str(path)!r} does not exist. Fix: check the path."
            )
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise JourneyMapError(
                f"Journey map file {str(path)!r} must end in .toml or .json, not "
                f"{suffix or '(no suffix)'!r}."
            )
        kind = "TOML" if suffix == ".toml" else "JSON"
        try:
            text = read_text_file(path, "the journey map file", kind)
        except InputFileError as exc:
            raise JourneyMapError(str(exc)) from None
        try:
            spec = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise JourneyMapError(
                f"Journey map file {str(path)!r} is not valid {kind}: "
                f"{syntax_error_text(text, exc)}\nFix: see the layout in the README "
                "('Journey maps')."
            ) from None
        try:
            return cls.from_dict(spec)
        except JourneyMapError as exc:
            text = str(exc)
            raise JourneyMapError(
                f"In the journey map file {str(path)!r}: {text[:1].lower()}{text[1:]}"
            ) from None

    @classmethod
    def coerce(cls, value: JourneyMap | Mapping[str, Any] | str | Path | None) -> JourneyMap:
        """Return ``value`` as a journey map.

        Parameters
        ----------
        value : JourneyMap, mapping, str, Path or None
            A map (returned as is), a dict for :meth:`from_dict`, a ``.toml`` or
            ``.json`` path for :meth:`from_file`, or None for :meth:`default`.

        Returns
        -------
        JourneyMap
        """
        if value is None:
            return cls.default()
        if isinstance(value, JourneyMap):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        if isinstance(value, str | Path):
            return cls.from_file(value)
        raise JourneyMapError(
            f"Expected a JourneyMap, a dict or a .toml/.json path, got {type(value).__name__}."
        )

    def to_dict(self) -> dict[str, Any]:
        """The map as a plain dict that :meth:`from_dict` reads back.

        Returns
        -------
        dict
            ``{"name": ..., "stages": [...], "touchpoints": {name: attributes}}``.
        """
        tps = {}
        for t in self.touchpoints:
            attrs: dict[str, Any] = {
                "channel": t.channel,
                "stages": list(t.stages),
                "actionable": t.actionable,
            }
            if t.cost is not None:
                attrs["cost"] = t.cost
            if t.description:
                attrs["description"] = t.description
            if t.purchase:  # said only when marked: maps without it are as before
                attrs["purchase"] = True
            if t.outbound:  # likewise: bundles and their fingerprints stay as they were
                attrs["outbound"] = True
            if t.churn:
                attrs["churn"] = True
            tps[t.name] = attrs
        return {"name": self.name, "stages": list(self.stages), "touchpoints": tps}

    def to_toml(self, header: str = "") -> str:
        """The map as TOML text that :meth:`from_file` reads back (a ``.toml`` file).

        Parameters
        ----------
        header : str, optional
            Comment lines put first (each line prefixed with ``# ``).

        Returns
        -------
        str
            ``name`` and ``stages``, then one ``[touchpoints.NAME]`` table each.
        """

        def text(value: str) -> str:
            # a TOML basic string: JSON's escapes are TOML's (json never writes "\/"), and
            # TOML also refuses DEL unescaped
            return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")

        lines = [f"# {line}".rstrip() for line in header.splitlines()]
        if lines:
            lines.append("")
        lines.append(f"name = {text(self.name)}")
        lines.append(f"stages = [{', '.join(text(s) for s in self.stages)}]")
        for t in self.touchpoints:
            lines += ["", f"[touchpoints.{text(t.name)}]", f"channel = {text(t.channel)}"]
            lines.append(f"stages = [{', '.join(text(s) for s in t.stages)}]")
            lines.append(f"actionable = {'true' if t.actionable else 'false'}")
            if t.cost is not None:
                lines.append(f"cost = {float(t.cost)!r}")
            if t.description:
                lines.append(f"description = {text(t.description)}")
            if t.purchase:
                lines.append("purchase = true")
            if t.outbound:
                lines.append("outbound = true")
            if t.churn:
                lines.append("churn = true")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ queries
    @property
    def touchpoint_names(self) -> tuple[str, ...]:
        """Names of all touchpoints, in catalogue order."""
        return tuple(t.name for t in self.touchpoints)

    @property
    def actionable_touchpoints(self) -> tuple[str, ...]:
        """Names of the touchpoints the business can trigger."""
        return tuple(t.name for t in self.touchpoints if t.actionable)

    @property
    def outbound_touchpoints(self) -> tuple[str, ...]:
        """Names of the touchpoints whose events do not show the customer is there."""
        return tuple(t.name for t in self.touchpoints if t.outbound)

    @property
    def churn_touchpoints(self) -> tuple[str, ...]:
        """Names of the touchpoints whose events are the customer leaving (a cancellation)."""
        return tuple(t.name for t in self.touchpoints if t.churn)

    @property
    def purchase_touchpoints(self) -> tuple[str, ...]:
        """Names of the touchpoints marked as purchases (``purchase = true``)."""
        return tuple(t.name for t in self.touchpoints if t.purchase)

    def __getitem__(self, name: str) -> Touchpoint:
        try:
            return self._by_name[name]
        except KeyError:
            raise JourneyMapError(
                f"Unknown touchpoint {name!r}.{_did_you_mean(name, self._by_name)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def stage_index(self, stage: str) -> int:
        """Position of a stage in the journey order.

        Parameters
        ----------
        stage : str
            A stage name of this map.

        Returns
        -------
        int
            0 for the first stage.
        """
        try:
            return self.stages.index(stage)
        except ValueError:
            raise JourneyMapError(
                f"Unknown stage {stage!r}; the map's stages are {list(self.stages)!r}."
                f"{_did_you_mean(stage, self.stages)}"
            ) from None

    def eligible_touchpoints(self, stage: str) -> tuple[str, ...]:
        """Actionable touchpoints deliverable to a customer in a stage.

        Parameters
        ----------
        stage : str
            A stage name of this map.

        Returns
        -------
        tuple of str
            Touchpoint names, in catalogue order.
        """
        self.stage_index(stage)
        return tuple(t.name for t in self.touchpoints if t.actionable and stage in t.stages)

    def eligibility_matrix(self) -> np.ndarray:
        """Which touchpoint can happen in which stage.

        Returns
        -------
        ndarray of bool, shape (n_stages, n_touchpoints)
            True where the touchpoint (column, catalogue order) belongs to the
            stage (row, journey order).
        """
        out = np.zeros((len(self.stages), len(self.touchpoints)), dtype=bool)
        for j, t in enumerate(self.touchpoints):
            for s in t.stages:
                out[self.stages.index(s), j] = True
        return out

    def stage_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Earliest and latest stage of each touchpoint.

        Returns
        -------
        lo : ndarray of int, shape (n_touchpoints,)
            Earliest stage index of each touchpoint, in catalogue order.
        hi : ndarray of int, shape (n_touchpoints,)
            Latest stage index of each touchpoint, in catalogue order.
        """
        elig = self.eligibility_matrix()
        idx = np.arange(len(self.stages))[:, None]
        lo = np.where(elig, idx, len(self.stages)).min(axis=0)
        hi = np.where(elig, idx, -1).max(axis=0)
        return lo, hi

    def costs(self) -> dict[str, float | None]:
        """Unit cost of each touchpoint.

        Returns
        -------
        dict
            Touchpoint name to cost, None where unknown.
        """
        return {t.name: t.cost for t in self.touchpoints}

    def __repr__(self) -> str:
        return (
            f"JourneyMap(name={self.name!r}, stages={list(self.stages)!r}, "
            f"touchpoints={len(self.touchpoints)}, actionable={len(self.actionable_touchpoints)})"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(s)}</th>" for s in self.stages)
        rows = []
        for t in self.touchpoints:
            cells = "".join(
                f"<td style='text-align:center'>{'●' if s in t.stages else ''}</td>"
                for s in self.stages
            )
            cost = "" if t.cost is None else f"{t.cost:g}"
            kind = "actionable" if t.actionable else "observed"
            if t.outbound:
                kind += ", outbound"
            if t.churn:
                kind += ", churn"
            rows.append(
                f"<tr><th title='{esc(t.description)}'>{esc(t.name)}</th>"
                f"<td>{t.channel}</td><td>{kind}</td><td>{cost}</td>{cells}</tr>"
            )
        return (
            f"<div><b>Journey map {esc(repr(self.name))}</b>: {len(self.stages)} stages, "
            f"{len(self.touchpoints)} touchpoints ({len(self.actionable_touchpoints)} actionable)"
            f"<table><thead><tr><th>touchpoint</th><th>channel</th><th>kind</th><th>cost</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


_A, _CO, _CV, _R, _L = DEFAULT_STAGES
_DEFAULT_MAP: dict[str, Any] = {
    "name": "default",
    "stages": list(DEFAULT_STAGES),
    "touchpoints": {
        # observed: the customer does something, the business only sees it
        "paid_ad": {"channel": "online", "stages": [_A], "description": "Saw or clicked a paid ad"},
        "online_review": {
            "channel": "online",
            "stages": [_A, _CO],
            "description": "Read reviews or social posts about the brand",
        },
        "website_visit": {
            "channel": "online",
            "stages": [_CO, _CV, _R],
            "description": "Visited the website or app",
        },
        "store_visit": {
            "channel": "offline",
            "stages": [_CV, _R, _L],
            "description": "Visited a store, branch or facility",
        },
        "purchase": {
            "channel": "online",
            "stages": [_CV, _R, _L],
            "description": "Bought or renewed (online or in store)",
        },
        "support_ticket": {
            "channel": "online",
            "stages": [_CV, _R, _L],
            "description": "Opened a support ticket",
        },
        "ticket_resolved": {
            "channel": "online",
            "stages": [_CV, _R, _L],
            "description": "A support ticket was resolved",
        },
        # actionable: the business can trigger them
        "email": {
            "channel": "online",
            "stages": [_CO, _CV, _R, _L],
            "actionable": True,
            "cost": 0.05,
            "description": "Marketing or nurture email",
        },
        "live_chat": {
            "channel": "online",
            "stages": [_CO, _CV, _R],
            "actionable": True,
            "cost": 1.5,
            "description": "Proactive live chat on the website",
        },
        "free_trial": {
            "channel": "online",
            "stages": [_CO],
            "actionable": True,
            "cost": 5.0,
            "description": "Free-trial offer",
        },
        "consultation": {
            "channel": "offline",
            "stages": [_CO, _CV, _R],
            "actionable": True,
            "cost": 20.0,
            "description": "One-to-one consultation or tour",
        },
        "follow_up_call": {
            "channel": "offline",
            "stages": [_CV, _R],
            "actionable": True,
            "cost": 4.0,
            "description": "Follow-up phone call",
        },
        "renewal_reminder": {
            "channel": "online",
            "stages": [_R],
            "actionable": True,
            "cost": 0.1,
            "description": "Reminder before a plan or trial ends",
        },
        "personalised_offer": {
            "channel": "online",
            "stages": [_CV, _R, _L],
            "actionable": True,
            "cost": 8.0,
            "description": "Personalised discount or renewal offer",
        },
        "loyalty_reward": {
            "channel": "online",
            "stages": [_R, _L],
            "actionable": True,
            "cost": 6.0,
            "description": "Loyalty-programme reward",
        },
        "referral_invite": {
            "channel": "online",
            "stages": [_L],
            "actionable": True,
            "cost": 2.0,
            "description": "Invitation to the referral programme",
        },
    },
}
