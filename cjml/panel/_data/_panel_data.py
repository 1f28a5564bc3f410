"""All of the panel's data: :class:`PanelData` loads, scores and prepares every view once.

:meth:`PanelData.from_inputs` reads the bundle, events and scores (scoring
when needed), builds the customer table (with the business rules'
recommendations when rules are given) and holds the list, the overview, the
customer profiles (cached) and the action book that the widgets show; the
book keeps its decisions in a log beside the scores, replayed at the next start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cjml.panel._data._actions import ActionBook, DecisionLog
from cjml.panel._data._common import PanelError, _log_cutoff
from cjml.panel._data._customer import CustomerProfile, customer_profile
from cjml.panel._data._list import CustomerList
from cjml.panel._data._overview import Overview, overview_data
from cjml.panel._data._table import customer_table

__all__ = ["PanelData"]


@dataclass
class PanelData:
    """Everything the panel shows, computed once from a bundle, events and scores.

    Build it with :meth:`from_inputs`; the widgets of :func:`cjml.panel` only
    read it and call its methods.

    Parameters
    ----------
    bundle : ModelBundle
        The models.
    log : EventLog
        The events.
    table : DataFrame
        :func:`customer_table`.
    cutoff : Timestamp
        The scoring cutoff.
    segment_col : str or None
        The segment column.
    rules : RecommendationRules, dict, path or None
        Business rules of the recommendations.
    report : JourneyMapReport or None
        The journey map (funnel, drop-off, missing touchpoints), split by the
        segment column: its groups are the personas of the journey canvas.
    n_not_scored : int
        Customers of the events outside the scored population (inactive or not scored).
    top_k : int
        Recommended touchpoints listed per customer.
    actions : ActionBook
        The decisions.
    inputs : dict
        What each input file is to its path (the bundle, events, scores and
        rules given as paths to :meth:`from_inputs`): the export never writes
        over them.
    decision_log_path : Path or None
        The decision log the action book appends to and was replayed from;
        None when decisions are kept in memory only.
    reach_threshold : float
        Customers whose chance to be reached is below it are "likely gone".
    """

    bundle: Any
    log: Any
    table: pd.DataFrame
    cutoff: pd.Timestamp
    segment_col: str | None = None
    rules: Any = None
    report: Any = None
    n_not_scored: int = 0
    top_k: int = 3
    actions: ActionBook = field(default_factory=ActionBook)
    inputs: dict = field(default_factory=dict)
    decision_log_path: Path | None = None
    reach_threshold: float = 0.05

    def __post_init__(self):
        self.customers = CustomerList(self.table, segment_col=self.segment_col)
        self._profiles: dict[Any, CustomerProfile] = {}
        self._recommender = None
        self._overview: Overview | None = None
        self._canvases: dict = {}
        self._canvas_html: dict = {}
        self._support: Any = None
        self._support_html: str | None = None

    @classmethod
    def from_inputs(
        cls,
        bundle,
        events,
        scores=None,
        *,
        rules=None,
        cutoff=None,
        segment_col="auto",
        report="auto",
        top_k=3,
        user=None,
        decisions="auto",
        reach_threshold=0.05,
        export_path=None,
        columns=None,
        timezone=None,
        timestamp_unit=None,
        drop_duplicates=False,
        missing_ids=None,
        encoding=None,
        on_error="raise",
        touchpoint=None,
    ) -> PanelData:
        """Load, score (when needed) and prepare everything the panel shows.

        Parameters
        ----------
        bundle : ModelBundle or path
            A bundle trained by :func:`cjml.train`, or its file.
        events : EventLog, DataFrame or path
            The events, as for :func:`cjml.read_events` (read with the
            bundle's journey map).
        scores : DataFrame or path, optional
            The output of :func:`cjml.score` for these events (a DataFrame,
            or its Parquet or CSV file); default: scored now.
        rules : RecommendationRules, dict, path or None
            Business rules. Given, the recommendations of the list are
            recomputed with them (scores from :func:`cjml.score` follow no
            rules).
        cutoff : date, optional
            The scoring cutoff; default the one the scores were made at when
            known, else the last event (as :func:`cjml.score`).
        segment_col : str, None or "auto", default "auto"
            The segment or persona column; "auto" takes the first customer
            attribute the models use (e.g. ``segment``), None for none.
        report : JourneyMapReport, None or "auto", default "auto"
            The journey map of the overview; "auto" builds it with
            :func:`cjml.journey_map`, split by ``segment_col`` (the personas of
            the journey canvas), None leaves it out.
        top_k : int, default 3
            Recommended touchpoints listed per customer.
        user : str, optional
            Who approves, for the export; default the login name.
        decisions : "auto", path or None, default "auto"
            The decision log (JSON Lines, append-only): every decision is
            added to it, and the decisions already in it count again. "auto"
            is ``decisions.jsonl`` beside the scores when ``scores`` is a
            file, else in the folder of ``export_path`` (none when neither
            is given); None keeps decisions in memory only.
        reach_threshold : float, default 0.05
            Customers whose ``reach_probability`` is below it are likely gone:
            listed apart and left out of bulk approvals.
        export_path : path, optional
            Where the approved actions are exported (a ``.csv`` file or a
            folder), for the "auto" decision log.
        columns : mapping or str, optional
            Your column names, as for :func:`cjml.read_events`; default the names
            the bundle was trained on, where the events have them.
        timezone : str, optional
            Timezone of naive timestamps and of ``cutoff``; default the events' own
            (:meth:`cjml.ModelBundle.timezone_for`), else the one the bundle was trained with.
        timestamp_unit : {"s", "ms", "us", "ns"}, optional
            Unit of numeric (epoch) timestamps.
        drop_duplicates : bool, default False
            Remove exact duplicate events.
        missing_ids : sequence of str or str, optional
            Customer ids that mean "missing".
        encoding : str, optional
            The text encoding of CSV events when it is not UTF-8 (``"cp1252"``).
        on_error : {"raise", "quarantine"}, default "raise"
            Rows of the events that break a rule raise, or are set aside (see
            :func:`cjml.read_events`).
        touchpoint : str, optional
            The touchpoint of every event, for events without a touchpoint column;
            default the bundle's, when it was trained so.

        Returns
        -------
        PanelData
            Ready for :func:`cjml.panel`.
        """
        from cjml.analytics import journey_map
        from cjml.bundle import ModelBundle
        from cjml.events import EventLog, read_events
        from cjml.io._files import read_written_table
        from cjml.scoring import score

        inputs = {
            name: value
            for name, value in (
                ("bundle", bundle),
                ("events", events),
                ("scores", scores),
                ("rules", rules),
            )
            if isinstance(value, str | os.PathLike)
        }
        if "bundle" in inputs:
            inputs["bundle's manifest"] = str(inputs["bundle"]) + ".manifest.json"
        if not isinstance(bundle, ModelBundle):
            bundle = ModelBundle.load(bundle)
        log = (
            events
            if isinstance(events, EventLog)
            else read_events(
                events,
                journey_map=bundle.journey_map,
                columns=bundle.columns_for(events, columns, encoding),
                timezone=bundle.timezone_for(events, timezone, columns),
                timestamp_unit=timestamp_unit,
                drop_duplicates=drop_duplicates,
                missing_ids=missing_ids,
                encoding=encoding,
                on_error=on_error,
                touchpoint=bundle.touchpoint_for(events, touchpoint, columns, encoding),
            )
        )
        if scores is None:
            scores = score(bundle, log, cutoff=cutoff, top_k=top_k)
        elif not isinstance(scores, pd.DataFrame):
            scores = read_written_table(scores)  # ids as written: "007" stays "007"
        summary = scores.attrs.get("summary")  # ScoreSummary.to_dict() of cjml.score
        if cutoff is None and isinstance(summary, dict) and summary.get("cutoff") is not None:
            cutoff = summary["cutoff"]  # ISO text, UTC
        cut = _log_cutoff(log, cutoff)
        if segment_col == "auto":
            attrs = bundle.metadata.get("event_columns", [])
            extra = [
                c
                for c in attrs
                if c not in ("channel", "satisfaction", "nps", "effort", "amount")
                and c in log.frame.columns
            ]
            segment_col = extra[0] if extra else None
        table = customer_table(scores, log, segment_col=segment_col, cutoff=cut)
        if rules is not None and len(table):
            table = _with_rules(table, bundle, log, cut, rules, top_k)
        if isinstance(report, str) and report == "auto":
            # one journey map for the funnel and the canvases: its groups are the personas
            report = journey_map(log, bundle, by=segment_col, cutoff=cut, scores=scores)
        log_path = _decision_log_path(decisions, inputs.get("scores"), export_path)
        actions = ActionBook(
            user=user,
            log=None if log_path is None else DecisionLog(log_path, bundle=_fingerprint(bundle)),
            population=table["customer_id"].to_numpy(),
            reach_threshold=reach_threshold,
        )
        return cls(
            bundle=bundle,
            log=log,
            table=table,
            cutoff=cut,
            segment_col=segment_col,
            rules=rules,
            report=report,
            # counted from the events: scores files are written without the inactive by default
            n_not_scored=int((~pd.Index(log.customer_ids).isin(table["customer_id"])).sum()),
            top_k=top_k,
            actions=actions,
            inputs=inputs,
            decision_log_path=log_path,
            reach_threshold=float(reach_threshold),
        )

    @property
    def population(self) -> pd.Index:
        """The ids of the scored customers: the others are inactive and cannot be approved."""
        return pd.Index(self.table["customer_id"])

    @property
    def recommender(self):
        """The bundle's :class:`~cjml.TouchpointRecommender` with the panel's rules."""
        if self._recommender is None:
            from cjml.recommend import TouchpointRecommender

            self._recommender = TouchpointRecommender.from_bundle(
                self.bundle, rules=self.rules, top_k=self.top_k
            )
        return self._recommender

    @property
    def overview(self) -> Overview:
        """:func:`overview_data` of the table (computed once)."""
        if self._overview is None:
            self._overview = overview_data(self.table, n_not_scored=self.n_not_scored)
        return self._overview

    @property
    def personas(self) -> list:
        """The personas of the journey canvas: the journey map's groups (none without them)."""
        return list(getattr(self.report, "personas", None) or [])

    def canvas(self, persona=None):
        """The journey-map canvas of one persona, or of all customers (computed once each).

        Parameters
        ----------
        persona : object, optional
            One of :attr:`personas`; None for all customers.

        Returns
        -------
        JourneyCanvas
            The canvas (:meth:`cjml.JourneyMapReport.canvas`).
        """
        if self.report is None:
            raise PanelError(
                "No journey map, so no journey canvas: the panel was opened with report=None; "
                'open it with report="auto".'
            )
        if persona not in self._canvases:
            self._canvases[persona] = self.report.canvas(persona)
        return self._canvases[persona]

    def canvas_html(self, persona=None) -> str:
        """The canvas of :meth:`canvas` as the Overview tab shows it (drawn once each).

        Parameters
        ----------
        persona : object, optional
            One of :attr:`personas`; None for all customers.

        Returns
        -------
        str
            An HTML fragment: the canvas as inline SVG, with the evidence of
            every number on hover.
        """
        if persona not in self._canvas_html:
            self._canvas_html[persona] = self.canvas(persona)._repr_html_()
        return self._canvas_html[persona]

    @property
    def support_html(self) -> str:
        """The support journey as the Overview tab shows it (an HTML fragment, drawn once)."""
        if self._support_html is None:
            self._support_html = self.support_journey._repr_html_()
        return self._support_html

    @property
    def support_journey(self):
        """The support journey of the panel's customers, per persona (computed once).

        :func:`cjml.support_journey` of the events with the panel's bundle, at
        its cutoff and with the journey map's horizon.
        """
        if self._support is None:
            from cjml.support import support_journey

            info = getattr(self.report, "info", None) or {}
            self._support = support_journey(
                self.log,
                self.bundle,
                by=self.segment_col,
                cutoff=self.cutoff,
                horizon=info.get("horizon"),
            )
        return self._support

    def profile(self, customer_id) -> CustomerProfile:
        """:func:`customer_profile` of one customer (kept for the next time).

        Parameters
        ----------
        customer_id : int or str
            The customer.

        Returns
        -------
        CustomerProfile
            Their profile at the panel's cutoff.
        """
        key = customer_id
        if key not in self._profiles:
            profile = customer_profile(
                self.bundle,
                self.log,
                customer_id,
                cutoff=self.cutoff,
                rules=self.rules,
                top_k=self.top_k,
                segment_col=self.segment_col,
                recommender=self.recommender,
            )
            if len(self._profiles) >= 256:  # a small cache: a marketer browses, not crawls
                self._profiles.pop(next(iter(self._profiles)))
            self._profiles[key] = profile
        return self._profiles[key]

    def rows_of(self, customer_ids) -> pd.DataFrame:
        """The table rows of these customers (unknown ids are left out).

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        DataFrame
            Their rows of the customer table.
        """
        where = pd.Index(self.table["customer_id"]).get_indexer(list(customer_ids))
        return self.table.iloc[where[where >= 0]]


def _decision_log_path(decisions, scores, export_path) -> Path | None:
    """Where the decision log is: ``decisions`` itself, or for "auto" beside the scores
    file, else in the export's folder."""
    if decisions is None:
        return None
    if not (isinstance(decisions, str) and decisions == "auto"):
        return Path(decisions).expanduser()
    if scores is not None:
        return Path(scores).expanduser().parent / "decisions.jsonl"
    if export_path is not None:
        export = Path(export_path).expanduser()
        return (export if export.is_dir() else export.parent) / "decisions.jsonl"
    return None


def _fingerprint(bundle) -> str | None:
    """A short fingerprint of the bundle from its metadata (cheap: the training data's
    fingerprint, cutoffs, horizon and parameters; the same before and after saving)."""
    import hashlib
    import json

    meta = getattr(bundle, "metadata", None) or {}
    facts = [meta.get(k) for k in ("training_data", "train_cutoffs", "horizon", "params")]
    if not any(facts):
        return None
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _with_rules(table, bundle, log, cutoff, rules, top_k) -> pd.DataFrame:
    """The table with its recommendation columns recomputed under the business rules."""
    from cjml.recommend import TouchpointRecommender

    rec = TouchpointRecommender.from_bundle(bundle, rules=rules, top_k=top_k).recommend(
        log, cutoff=cutoff, customers=table["customer_id"].to_numpy()
    )
    table = table.copy()
    for k in range(top_k):
        src = "" if k == 0 else f"_{k + 1}"
        tp = pd.Series(rec[f"recommended_touchpoint{src}"].to_numpy(), dtype=object)
        table[f"recommended_touchpoint{src}"] = pd.Categorical(tp.where(tp.notna(), None))
        table[f"expected_risk_reduction{src}"] = rec[f"expected_risk_reduction{src}"].to_numpy(
            dtype=float
        )
        saved = f"expected_value_saved{src}"
        if saved in rec.columns:  # the recommender values its touchpoints under the rules too
            table[saved] = rec[saved].to_numpy(dtype=float)
    # the first recommendation's interval and flag (from cjml.score) follow the rules too
    for name in ("expected_risk_reduction_low", "expected_risk_reduction_high"):
        if name in table.columns:
            table[name] = rec[name].to_numpy(dtype=float)
    if "uncertain" in table.columns:
        table["uncertain"] = (
            pd.Series(rec["uncertain"].to_numpy(dtype=object))
            .where(rec["recommended_touchpoint"].notna().to_numpy(), None)
            .to_numpy(dtype=object)
        )
    return table
