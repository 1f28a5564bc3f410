"""The journey featurizer: every feature family in one vectorised pass."""

from __future__ import annotations

import copy
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import pandas as pd

from cjml.events import EventLog
from cjml.features import _candidates
from cjml.features._activity import ActivityFeatures
from cjml.features._attributes import AttributeFeatures
from cjml.features._base import (
    AddedEvent,
    ColumnBlock,
    ColumnSink,
    FeatureFamily,
    add_counts,
    as_log,
    new_output,
    output_frame,
)
from cjml.features._btyd import BtydFeatures
from cjml.features._estimator import Transformer, check_fitted
from cjml.features._experience import ExperienceFeatures
from cjml.features._memory import MemoryFeatures
from cjml.features._sequences import SequenceFeatures
from cjml.features._stages import StageFeatures
from cjml.features._support import SupportFeatures
from cjml.features._touchpoints import TouchpointFeatures
from cjml.features._value import ValueFeatures
from cjml.features._windows import NS_PER_DAY, Windows, build_windows, resolve_cutoffs

__all__ = ["DEFAULT_FAMILIES", "FAMILIES", "JourneyFeaturizer"]

#: The feature families, by name, in the order their columns appear.
FAMILIES: dict[str, type[FeatureFamily]] = {
    "activity": ActivityFeatures,
    "touchpoints": TouchpointFeatures,
    "stages": StageFeatures,
    "sequences": SequenceFeatures,
    "experience": ExperienceFeatures,
    "support": SupportFeatures,
    "value": ValueFeatures,
    "memory": MemoryFeatures,
    "btyd": BtydFeatures,
    "attributes": AttributeFeatures,
}

#: Events per part of :meth:`JourneyFeaturizer.transform_parts` by default: small parts
#: let writing overlap computing, and their temporaries (a few MB) are reused from one
#: part to the next instead of being mapped afresh (page faults took a third of the time
#: of a 10M-event transform in one piece); large enough to stay vectorised.
_EVENTS_PER_PART = 200_000

#: The families a default featurizer computes: all but "btyd", which is opt-in (it did
#: not help on most development worlds; see BtydFeatures).
DEFAULT_FAMILIES: tuple[str, ...] = tuple(name for name in FAMILIES if name != "btyd")


def _customer_parts(log: EventLog, parts: int) -> list[tuple[int, int]]:
    """``(start, stop)`` customer codes of up to ``parts`` consecutive parts of about the
    same number of events; one part for a log of fewer than two customers."""
    if parts <= 1 or log.n_customers < 2:
        return [(0, log.n_customers)]
    targets = np.linspace(0, log.n_events, parts + 1)[1:-1]
    inner = np.searchsorted(log.offsets, targets)
    bounds = np.unique(np.r_[0, np.clip(inner, 1, log.n_customers - 1), log.n_customers])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class JourneyFeaturizer(Transformer):
    """Turn an event log into one feature vector per customer at a cutoff.

    Combines the feature families (activity, touchpoints, stages, sequences,
    experience, support, value, memory, attributes) and computes them all from one
    selection of the events at or before the cutoff: point-in-time correct by
    construction, vectorised over all customers, several lookback windows and
    several cutoffs in one pass. Column names are stable and documented in each
    family's docstring; ``feature_families_`` maps each column to its family.

    Parameters
    ----------
    families : sequence of str or FeatureFamily, default ``DEFAULT_FAMILIES``
        Families to compute, by name (see ``FAMILIES``) or as configured
        instances (e.g. ``ActivityFeatures(windows=(14, 60))``). The default
        is every family but the opt-in "btyd" (:class:`~cjml.features.BtydFeatures`).
    windows : tuple of int, default (7, 30, 90)
        Lookback windows of the activity family, in days; the value family
        uses the longest.
    fatigue_days : int, default 7
        Window of the contact-fatigue counts.
    max_touchpoints : int, default 100
        Touchpoints with a count and a share of their own at most; the rest (the
        least frequent in ``fit``, never an actionable one) are counted as "other",
        with a warning (see :class:`~cjml.features.TouchpointFeatures`), and are
        "other" in the sequence family's transitions and last touchpoints too.
    top_k_transitions : int, default 10
        Transitions counted by the sequence family.
    last_k : int, default 3
        Last touchpoints kept as categories.
    negative_weight : float, default 12
        Weight of a negative experience in the experience balance.
    ticket_touchpoints, resolution_touchpoints : tuple of str
        Touchpoints that open and resolve support tickets.
    purchase_touchpoints : tuple of str, default ("purchase",)
        Touchpoints that are purchases; with the default and a journey map
        without ``purchase``, those that carry a positive amount (see
        :class:`~cjml.features.ValueFeatures`).
    attributes : "auto" or sequence of str, default "auto"
        Extra columns of the log that carry customer attributes (a CRM
        segment, a plan, a region), featured as their last known value at the
        cutoff; see :class:`~cjml.features.AttributeFeatures`. ``"auto"`` takes
        every text or categorical extra column with at most 50 distinct
        values; ``()`` none. A log without extra columns gives no attribute
        feature.
    n_jobs : int, optional
        Threads computing the families side by side; default: the machine's
        cores (at most 4) on large logs, 1 on small ones.

    Attributes
    ----------
    families_ : list of FeatureFamily
        The fitted families.
    feature_names_out_ : ndarray of str
        The output columns.
    feature_families_ : dict
        Column name to family name.
    categorical_features_ : tuple of str
        Columns that hold category codes (for LightGBM's categorical_feature).
    journey_map_ : JourneyMap
        The journey map of the log it was fitted on.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml import JourneyFeaturizer, read_events
    >>> log = read_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2],
    ...     "timestamp": ["2024-01-01", "2024-01-05", "2024-02-01", "2024-01-20"],
    ...     "touchpoint": ["website_visit", "purchase", "email", "paid_ad"],
    ...     "amount": [None, 30.0, None, None]}))
    >>> features = JourneyFeaturizer().fit(log).transform(log, cutoff="2024-01-31")
    >>> features.loc[1, ["n_events", "purchases", "days_since_last_event"]].tolist()
    [2.0, 1.0, 26.0]

    Customer 1's email on 1 February comes after the cutoff and is not seen.
    """

    # the default for featurizers restored from bundles saved before the parameter existed
    max_touchpoints = 100

    def __init__(
        self,
        *,
        families=DEFAULT_FAMILIES,
        windows=(7, 30, 90),
        fatigue_days=7,
        max_touchpoints=100,
        top_k_transitions=10,
        last_k=3,
        negative_weight=12.0,
        ticket_touchpoints=("support_ticket",),
        resolution_touchpoints=("ticket_resolved",),
        purchase_touchpoints=("purchase",),
        attributes="auto",
        n_jobs=None,
    ):
        self.families = families
        self.windows = windows
        self.fatigue_days = fatigue_days
        self.max_touchpoints = max_touchpoints
        self.top_k_transitions = top_k_transitions
        self.last_k = last_k
        self.negative_weight = negative_weight
        self.ticket_touchpoints = ticket_touchpoints
        self.resolution_touchpoints = resolution_touchpoints
        self.purchase_touchpoints = purchase_touchpoints
        self.attributes = attributes
        self.n_jobs = n_jobs

    def _build_families(self) -> list[FeatureFamily]:
        made = {
            "activity": lambda: ActivityFeatures(windows=self.windows),
            "touchpoints": lambda: TouchpointFeatures(
                fatigue_days=self.fatigue_days,
                max_touchpoints=getattr(self, "max_touchpoints", 100),
            ),
            "stages": StageFeatures,
            "sequences": lambda: SequenceFeatures(
                top_k=self.top_k_transitions,
                last_k=self.last_k,
                max_touchpoints=getattr(self, "max_touchpoints", 100),
            ),
            "experience": lambda: ExperienceFeatures(negative_weight=self.negative_weight),
            "support": lambda: SupportFeatures(
                self.ticket_touchpoints, self.resolution_touchpoints
            ),
            "value": lambda: ValueFeatures(
                self.purchase_touchpoints, window=max(int(w) for w in self.windows)
            ),
            "attributes": lambda: AttributeFeatures(attributes=self.attributes),
            "memory": MemoryFeatures,
            "btyd": BtydFeatures,
        }
        if isinstance(self.families, str) or not len(self.families):
            raise ValueError(
                f"families must be a non-empty list of family names or instances, "
                f"got {self.families!r}; the names are {list(FAMILIES)!r}."
            )
        out = []
        for fam in self.families:
            if isinstance(fam, FeatureFamily):
                from sklearn.base import clone

                out.append(clone(fam))
            elif fam in made:
                out.append(made[fam]())
            else:
                import difflib

                close = difflib.get_close_matches(str(fam), list(FAMILIES), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"Unknown feature family {fam!r}; the families are {list(FAMILIES)!r}.{hint}"
                )
        names = [f.family for f in out]
        if len(set(names)) != len(names):
            raise ValueError(f"A feature family is listed twice: {names!r}.")
        return out

    def fit(self, log, y=None, *, cutoff=None):
        """Learn vocabularies (touchpoints, channels, transitions, attribute values).

        Fitting learns which columns exist, never values: transform on any
        cutoff then uses only that cutoff's past.

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events.
        y : None
            Ignored; present for scikit-learn compatibility.
        cutoff : date, optional
            Learn only from events at or before this date (default: all).

        Returns
        -------
        self
            The fitted featurizer.
        """
        log = as_log(log)
        families = self._build_families()
        kind, value = resolve_cutoffs(log, cutoff)
        bounds = _customer_parts(log, max(1, log.n_events // _EVENTS_PER_PART))
        if kind == "single" and len(bounds) > 1 and all(f._fits_in_parts() for f in families):
            # counted in parts of customers, as transform_parts computes: a whole log's
            # selection maps hundreds of MB afresh (0.5 s of page faults at 10M events)
            for f in families:
                f._check_params()  # before any counting, as the whole log's fit does
            # per-event arrays every part reads, made once: the parts, and transform's
            # parts after them, take views of them (see EventLog._customer_range)
            log.timestamps_ns, log.touchpoint_codes, log.offsets, log.data_end  # noqa: B018
            at = pd.Timestamp(int(value), tz="UTC")

            def count(some: list[tuple[int, int]]) -> list[dict | None]:
                totals: list[dict | None] = [None] * len(families)
                for start, stop in some:
                    part = log._customer_range(start, stop)
                    windows = build_windows(part, at)
                    totals = [
                        add_counts(total, f._fit_counts(windows, part))
                        for total, f in zip(totals, families, strict=True)
                    ]
                return totals

            n_jobs = min(self._threads_for(log.n_events), len(bounds))
            if n_jobs > 1:
                # consecutive runs of parts on threads, their sums added in order: counts
                # are whole numbers, sets and lists, so the state is the same to the bit
                cut = np.linspace(0, len(bounds), n_jobs + 1).astype(int)
                with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                    runs = list(pool.map(count, [bounds[a:b] for a, b in pairwise(cut)]))
                totals = runs[0]
                for run in runs[1:]:
                    totals = [
                        t if r is None else add_counts(t, r)
                        for t, r in zip(totals, run, strict=True)
                    ]
            else:
                totals = count(bounds)
            families = [
                f._fit_counted(total or {}, log) for f, total in zip(families, totals, strict=True)
            ]
        else:
            windows = build_windows(log, cutoff)
            families = [f._fit_windows(windows, log) for f in families]
        names, owner = [], {}
        for fam in families:
            for name in fam.feature_names_out_:
                if name in owner:
                    raise ValueError(
                        f"Feature {name!r} is made by both the {owner[name]!r} and "
                        f"the {fam.family!r} families; drop one of them."
                    )
                owner[name] = fam.family
                names.append(name)
        self.families_ = families
        # columns that copy another on the training rows; set by cjml.train (see
        # cjml.explanations.feature_aliases), read by the explanations
        self.feature_aliases_: dict[str, str] = {}
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.feature_families_ = owner
        self.categorical_features_ = tuple(c for f in families for c in f.categorical_features_)
        self.journey_map_ = log.journey_map
        return self

    def transform(self, log, cutoff=None) -> pd.DataFrame:
        """Compute the features of every customer at the cutoff(s).

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events. Only events at or before each row's cutoff are used.
        cutoff : date, list of dates, Series of dates per customer, or None
            One date: one row per customer with an event at or before it.
            A list: one row per (cutoff, customer), indexed by both.
            A Series indexed by customer id: one row per listed customer, each
            at their own cutoff, including customers with no event yet (counts
            0, recencies and averages NaN). None: the log's last timestamp.

        Returns
        -------
        DataFrame
            Float features indexed by ``customer_id`` (or ``cutoff,
            customer_id``), columns ``feature_names_out_``. Its ``attrs``
            record the featurizer and the cutoff, for :meth:`with_event`.
        """
        check_fitted(self)
        windows = build_windows(as_log(log), cutoff)
        out = self._transform_windows(windows)
        out.attrs[_candidates.ATTRS_KEY] = _candidates.cutoff_record(self, windows, cutoff)
        return out

    def fit_transform(self, X, y=None, **fit_params) -> pd.DataFrame:
        """Fit on the events up to ``cutoff`` and return the features at that cutoff.

        The same as ``fit(X, cutoff=cutoff).transform(X, cutoff=cutoff)``, reading a
        path once.

        Parameters
        ----------
        X : EventLog, DataFrame or path
            The events.
        y : None
            Ignored; present for scikit-learn compatibility.
        **fit_params
            ``cutoff``: one date (default: the log's last timestamp).

        Returns
        -------
        DataFrame
            As :meth:`transform`.
        """
        log = as_log(X)
        return self.fit(log, y, **fit_params).transform(log, cutoff=fit_params.get("cutoff"))

    def transform_parts(self, log, cutoff=None, *, parts: int | None = None):
        """Compute the features in parts of customers, one DataFrame at a time.

        Concatenated, the parts are :meth:`transform`'s output exactly (same rows
        in the same order, same columns, same values to the last bit, same
        ``attrs``): every feature of a customer depends on that customer's events
        only. While the caller writes one part, the next is computed, and only
        one part's features are held at a time (see :func:`cjml.io._write.write_table`).

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events.
        cutoff : date or None
            One cutoff (None: the log's last timestamp). A list or a Series of
            cutoffs gives one part, :meth:`transform`'s output.
        parts : int, optional
            How many parts (customers split so that each has about the same number
            of events); default: one per 200,000 events.

        Yields
        ------
        DataFrame
            Features of consecutive customers, indexed by ``customer_id``.
        """
        check_fitted(self)
        log = as_log(log)
        kind, value = resolve_cutoffs(log, cutoff)
        if parts is None:
            parts = max(1, log.n_events // _EVENTS_PER_PART)
        if kind != "single" or parts <= 1 or log.n_customers < 2:
            yield self.transform(log, cutoff=cutoff)
            return
        at = pd.Timestamp(int(value), tz="UTC")  # type: ignore[arg-type]  # resolved once: None is the whole log's end
        issued: set[tuple] = set()
        for start, stop in _customer_parts(log, parts):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                part = self.transform(log._customer_range(start, stop), cutoff=at)
            said_before = set(issued)
            for w in caught:  # each part may warn what an earlier one did: say it once
                key = (str(w.message), w.category)
                if key not in said_before:
                    issued.add(key)
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            yield part

    def fit_transform_parts(self, log, cutoff=None, *, parts: int | None = None):
        """Fit up to ``cutoff``, then yield the features at that cutoff in parts.

        The same as ``fit(log, cutoff=cutoff).transform_parts(log, cutoff, parts=parts)``,
        reading a path once.

        Parameters
        ----------
        log : EventLog, DataFrame or path
            The events.
        cutoff : date or None
            One cutoff (None: the log's last timestamp).
        parts : int, optional
            As in :meth:`transform_parts`.

        Returns
        -------
        iterator of DataFrame
            The parts; their concatenation is ``fit_transform(log, cutoff=cutoff)``.
        """
        log = as_log(log)
        self.fit(log, cutoff=cutoff)
        return self.transform_parts(log, cutoff, parts=parts)

    def with_event(self, X, touchpoint, *, stage=None, channel=None, cutoff=None) -> pd.DataFrame:
        """Derive the features after one more event at the cutoff, from the base rows alone.

        For each row of ``X`` (a customer's features at a cutoff), returns the
        features the customer would have at that same cutoff had one more
        event happened exactly at it: ``touchpoint``, in ``stage``, through
        ``channel``, with no satisfaction, NPS, effort, amount or attribute
        value. It is what :meth:`transform` returns for those rows on the log
        with that event appended (see Notes for the exceptions), computed from
        ``X`` alone: each feature family updates its own columns, vectorised
        over the rows, without the event log. This is how the recommender
        scores "this customer, plus touchpoint t now" for every candidate
        touchpoint.

        Parameters
        ----------
        X : DataFrame
            Rows returned by this featurizer's :meth:`transform`: its columns
            in order, as float64; any subset, order or repetition of its rows
            (e.g. each customer repeated once per candidate touchpoint).
        touchpoint : str, int or array-like
            The new event's touchpoint: a name of the fitted touchpoint
            vocabulary (the journey map's touchpoints and others seen in fit),
            or its code (the position in that vocabulary, as in the
            ``last_touchpoint_*`` columns); one for all rows, or one per row of
            ``X`` in its order (a Series must have ``X``'s index).
        stage : str or array-like of str, optional
            The stage the new event is recorded in, one for all rows or one per
            row. Default: the customer's current stage (``current_stage``);
            for a customer with no event yet (possible with per-customer
            cutoffs) the touchpoint's earliest stage in the journey map, the
            stage :func:`~cjml.read_events` derives for a first event.
        channel : str or array-like, optional
            The new event's channel, as the log's ``channel`` column names it,
            one for all rows or one per row (missing values: no channel).
            Default: the touchpoint's channel in the journey map ("online" or
            "offline"); none for a touchpoint outside the map.
        cutoff : date, Series of dates or array of dates, optional
            Only needed when ``X`` has lost the record of its cutoff that
            :meth:`transform` leaves in ``X.attrs`` (e.g. after a
            ``pd.concat`` of frames from different cutoffs) or was computed
            at per-customer cutoffs at different times of day: the date given
            to :meth:`transform`, its Series of dates per customer, or an
            array of one date per row of ``X``. When ``X`` has the record, a
            ``cutoff`` that disagrees is an error.

        Returns
        -------
        DataFrame
            Same index, columns and dtypes as ``X``; ``X`` is not modified.

        Raises
        ------
        ValueError
            When ``X`` is not this featurizer's output (columns, dtypes, or
            made by another featurizer), a touchpoint or stage is unknown,
            ``cutoff`` disagrees with ``X``'s, or the featurizer lacks what the
            update needs (the activity family; ``last_k >= 1`` when transitions
            are counted).

        See Also
        --------
        transform : The features of the customers at a cutoff, from the log.

        Notes
        -----
        The new event is placed after every event the row saw, which is
        where :meth:`transform` places it unless the customer has events at
        exactly the cutoff: events at the same time are ordered by
        touchpoint (the journey map's order), so a new event whose
        touchpoint comes earlier lands among them. Only then can these
        order-dependent columns differ from :meth:`transform`: the stage
        dynamics (``current_stage``, ``days_in_current_stage``,
        ``events_in_current_stage``, ``stage_progressions``,
        ``stage_regressions``, ``stages_per_30d``), the ``transition_*`` counts
        and ``last_touchpoint_*``, ``events_since_negative_experience``, and,
        for a ticket touchpoint, ``tickets_unresolved`` and
        ``oldest_open_ticket_days``. All other columns are exact in every
        case, to the last bit. With timestamps to the second this is rare; to
        rule it out, score at a cutoff later than the last event.

        One column is an estimate: after a resolution that closes one of
        three or more open tickets, ``oldest_open_ticket_days`` is the age of
        the next oldest open ticket, which the row does not hold. It lies
        between the oldest and the newest open ticket's ages and is estimated
        as if the open tickets were evenly spaced (exact with two open).

        Families that the event cannot change say so: the attributes (the
        event carries none), the survey summaries (it carries no score),
        amounts (it carries none). Custom families need a ``_with_event``
        method.

        Examples
        --------
        >>> import pandas as pd
        >>> from cjml import JourneyFeaturizer, read_events
        >>> log = read_events(pd.DataFrame({
        ...     "customer_id": [1, 1, 2],
        ...     "timestamp": ["2024-01-01", "2024-01-20", "2024-01-25"],
        ...     "touchpoint": ["paid_ad", "website_visit", "website_visit"]}))
        >>> featurizer = JourneyFeaturizer().fit(log)
        >>> X = featurizer.transform(log, cutoff="2024-01-31")
        >>> cols = ["n_events", "days_since_last_event", "count_email", "events_last_7d"]
        >>> featurizer.with_event(X, "email").loc[1, cols].tolist()
        [3.0, 0.0, 1.0, 1.0]

        Customer 1 had two events, the last 11 days before the cutoff; with an
        email at the cutoff they have three, the last 0 days ago, one of them
        an email and in the last 7 days. To score several candidates in one
        call, repeat the rows, one touchpoint per row:

        >>> candidates = ["email", "live_chat"]
        >>> rows = X.loc[X.index.repeat(len(candidates))]
        >>> both = featurizer.with_event(rows, candidates * len(X))
        >>> both[["count_email", "count_live_chat"]].to_numpy().tolist()
        [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
        """
        check_fitted(self)
        record = _candidates.check_frame(self, X)
        jm = getattr(self, "journey_map_", None)
        if jm is None:
            raise ValueError(
                "This featurizer was fitted before cjml recorded its journey map "
                "(journey_map_); refit it to derive candidate rows."
            )
        by_family = {f.family: f for f in self.families_}
        if "activity" not in by_family:
            raise ValueError(
                f"with_event reads the event counts and ages of the 'activity' "
                f"family, which this featurizer lacks (its families: "
                f"{list(by_family)!r}); add it."
            )
        seq = by_family.get("sequences")
        if seq is not None and seq.transitions_ and seq.last_k < 1:
            raise ValueError(
                "with_event needs the last touchpoint to count the new transition: "
                "use last_k >= 1 (top_k_transitions > 0 with last_k=0 cannot be "
                "updated)."
            )
        vocabulary = next(
            (
                list(by_family[f].touchpoints_)
                for f in ("touchpoints", "sequences")
                if f in by_family
            ),
            list(jm.touchpoint_names),
        )
        code = _candidates.touchpoint_codes(touchpoint, vocabulary, X)
        data = np.asfortranarray(X.to_numpy(dtype=np.float64, copy=True))
        column = {c: j for j, c in enumerate(self.feature_names_out_)}
        current = data[:, column["current_stage"]].copy() if "stages" in by_family else None
        stage_code = _candidates.stage_codes(stage, code, vocabulary, current, jm, X)
        channel_code, channel_names = _candidates.channel_codes(channel, code, vocabulary, jm, X)
        if len(X):
            tod = _candidates.time_of_day(X, record, cutoff)
            n_before = data[:, column["n_events"]].copy()
            last_age = data[:, column["days_since_last_event"]]
            event = AddedEvent(
                touchpoint=code,
                vocabulary=vocabulary,
                stage=stage_code,
                channel=channel_code,
                channels=channel_names,
                journey_map=jm,
                n_before=n_before,
                first_age=data[:, column["days_since_first_event"]].copy(),
                last_age=last_age.copy(),
                # the last event is on the cutoff's day when it is at most the cutoff's time
                # of day old; both are computed as transform computes ages, so this is exact
                same_day=(n_before > 0) & (last_age <= tod / NS_PER_DAY),
            )
            starts = np.cumsum([0] + [len(f.feature_names_out_) for f in self.families_])
            for k, fam in enumerate(self.families_):
                fam._with_event(
                    ColumnBlock(data, list(fam.feature_names_out_), first=int(starts[k])), event
                )
        out = pd.DataFrame(data, index=X.index, columns=X.columns, copy=False)
        out.attrs = copy.deepcopy(X.attrs)
        return out

    def _transform_windows(self, windows: Windows) -> pd.DataFrame:
        """Compute the features for an explicit selection of rows and events."""
        check_fitted(self)
        names = list(self.feature_names_out_)
        data = new_output(windows.n_rows, len(names))
        starts = np.cumsum([0] + [len(f.feature_names_out_) for f in self.families_])

        def fill(k: int) -> None:
            fam = self.families_[k]
            sink = ColumnSink(data, list(fam.feature_names_out_), first=int(starts[k]))
            fam._compute(windows, sink)
            sink.check_complete(fam.family)

        windows.prepare()  # shared arrays first, so threads never race to build them
        n_jobs = self._threads(windows)
        if n_jobs > 1:
            # numpy releases the GIL in its kernels: families run side by side
            # costliest first (longest-processing-time order): the columns keep their places
            order = sorted(
                range(len(self.families_)), key=lambda k: -self.families_[k].relative_cost
            )
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                list(pool.map(fill, order))
        else:
            for k in range(len(self.families_)):
                fill(k)
        return output_frame(data, windows, names)

    def _threads(self, windows: Windows) -> int:
        return self._threads_for(len(windows.ev))

    def _threads_for(self, n_events: int) -> int:
        if self.n_jobs is not None:
            return max(1, int(self.n_jobs))
        # threads only pay off on large logs
        return min(os.cpu_count() or 1, 4) if n_events >= 200_000 else 1

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the names of the features ``transform`` returns, in order.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        ndarray of str
            The column names.
        """
        check_fitted(self)
        return self.feature_names_out_.copy()
