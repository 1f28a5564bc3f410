"""The actions view: approve, override or skip, keep every decision, export the approved ones.

:class:`ActionBook` keeps the marketer's decisions (the latest per customer
counts); with a :class:`DecisionLog` it appends each one to an append-only
JSON Lines file beside the scores and replays that file when the app starts
again, so decisions survive a restart. :meth:`ActionBook.plan_bulk` says
what a bulk approval would do (:class:`BulkPlan`) before it is done, and
:meth:`ActionBook.export_csv` writes the approved ones to a new,
spreadsheet-safe CSV; the reason of each action is
:func:`~cjml.panel._data._common.effect_reason`'s.
"""

from __future__ import annotations

import getpass
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjml.i18n import format_number, format_probabilities, ngettext
from cjml.i18n import gettext as _
from cjml.panel._data._common import PanelError, effect_reason, label, points_of, worth_of

__all__ = ["ActionBook", "BulkPlan", "DecisionLog", "DecisionLogWarning", "control_share"]

_DECISIONS = ("approved", "overridden", "skipped")
_ALL_DECISIONS = (*_DECISIONS, "reset")
_SOURCES = ("panel", "bulk", "api")
#: The customer's value and the approved touchpoint's value saved, as shown when decided
#: (missing without a value model).
_VALUE_FIELDS = ("expected_value_saved", "expected_value", "value_at_risk")
_EXPORT_COLUMNS = (
    "customer_id",
    "touchpoint",
    "expected_risk_reduction_shown",
    "expected_risk_reduction",
    "churn_risk_shown",
    "churn_risk",
    *(f"{name}{kind}" for name in _VALUE_FIELDS for kind in ("_shown", "")),
    "reason",
    "decision",
    "approved_by",
    "approved_at",
    "note",
)
#: The campaign of a held-out customer: ``arm`` ("control") and ``campaign`` (its id). Written
#: only on the lines that mark customers held out, so older logs (and readers) are unchanged.
_CAMPAIGN_FIELDS = ("arm", "campaign")
#: One record of the decision log, in the order of its fields.
_LOG_FIELDS = (
    "customer_id",
    "decision",
    "touchpoint",
    "override",
    "note",
    "churn_risk",
    "expected_risk_reduction",
    "risk_after",
    *_VALUE_FIELDS,
    "uncertain",
    "decided_by",
    "decided_at",
    "source",
    "bundle",
    *_CAMPAIGN_FIELDS,
)
_FLOAT_FIELDS = ("churn_risk", "expected_risk_reduction", "risk_after", *_VALUE_FIELDS)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than fail
        return "unknown"


class DecisionLogWarning(UserWarning):
    """Something in a decision log was skipped or is worth knowing (the message says what)."""


# ======================================================================== the decision log
class DecisionLog:
    """An append-only JSON Lines file of decisions: one line per decision, never rewritten.

    Every :class:`ActionBook` change is appended as whole lines in one write,
    flushed to the disk (``os.fsync``) before the book shows it, so a crash
    loses at most the decision being made. The file is created with mode
    ``0666 & ~umask`` and is never truncated or rewritten: a reset is a new
    line too. A line cut off by a crash is reported (with its line number) and
    skipped when the log is read.

    Parameters
    ----------
    path : str or Path
        The file, conventionally ``decisions.jsonl`` beside the scores.
    bundle : str, optional
        A fingerprint of the model bundle the decisions are made with; written
        with each decision, and decisions made with another bundle are
        reported (and still loaded) by :meth:`read`.

    Notes
    -----
    Fields of each line: ``customer_id, decision`` (approved, overridden,
    skipped or reset), ``touchpoint, override, note``, the ``churn_risk`` and
    ``expected_risk_reduction`` shown at that moment, ``risk_after`` (the
    what-if risk), ``expected_value_saved, expected_value, value_at_risk``
    (null without a value model), ``uncertain, decided_by, decided_at`` (UTC, ISO 8601),
    ``source`` (panel, bulk or api) and ``bundle``; a customer held out as a
    campaign's control group gets a copy of their decision with ``arm``
    ("control") and ``campaign`` (its id), fields written only on those lines
    (older logs, and older readers, are unaffected).
    """

    def __init__(self, path, *, bundle: str | None = None):
        self.path = Path(path).expanduser()
        self.bundle = bundle

    def __repr__(self) -> str:
        return f"DecisionLog({str(self.path)!r})"

    def append(self, records: pd.DataFrame) -> int:
        """Append decisions as whole lines, in one write, synced to the disk.

        Parameters
        ----------
        records : DataFrame
            One row per decision, with the fields of the log (missing ones
            are written as null; ``bundle`` defaults to the log's).

        Returns
        -------
        int
            Decisions written.

        Raises
        ------
        WriteError
            When the file cannot be written (the message names it); nothing
            of the batch then counts as decided.
        """
        from cjml.io._write import write_error

        if not len(records):
            return 0
        if "bundle" not in records.columns or records["bundle"].isna().all():
            records = records.assign(bundle=self.bundle)
        data = _json_lines(records).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: every write lands at the end, whoever else appends; 0o666 & ~umask
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
            fd = os.open(self.path, flags, 0o666)
            try:
                if _ends_mid_line(fd):  # a crash cut the last line: end it, keep ours whole
                    data = b"\n" + data
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        return len(records)

    def read(self) -> pd.DataFrame:
        """Every decision in the log, in the order they were made.

        A line that is not a whole decision (cut off by a crash, edited by
        hand) is skipped with a :class:`DecisionLogWarning` naming its line;
        decisions made with another model bundle are loaded, with a warning
        that says so.

        Returns
        -------
        DataFrame
            One row per decision, the log's fields as columns; empty when the
            file does not exist.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _frame({})
        except OSError as exc:
            raise PanelError(
                _(
                    "Cannot read the decision log {path}: {reason}. Check that the file is "
                    "readable, or start the app with another decisions file (--decisions)."
                ).format(path=repr(str(self.path)), reason=exc.strerror or exc)
            ) from None
        frame = _read_fast(raw)
        if frame is None:  # a line is not a whole decision: find which, line by line
            lines = raw.split(b"\n")
            number = [i + 1 for i, line in enumerate(lines) if line.strip()]
            kept = [lines[i - 1] for i in number]
            records, bad = [], []
            for n, line in zip(number, kept, strict=True):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if _is_record(record):
                    records.append(record)
                else:
                    bad.append(n)
            if bad:  # (Arrow may also refuse a log of mixed id types: all whole, no warning)
                warnings.warn(
                    ngettext(
                        "Decision log {path}: line {lines} is not a whole decision (cut off by a "
                        "crash or edited by hand) and was skipped; the other {n} decisions were "
                        "loaded.",
                        "Decision log {path}: lines {lines} are not whole decisions (cut off by a "
                        "crash or edited by hand) and were skipped; the other {n} decisions were "
                        "loaded.",
                        len(bad),
                    ).format(
                        path=repr(str(self.path)),
                        lines=", ".join(format_number(b) for b in bad[:10])
                        + ("\u2026" if len(bad) > 10 else ""),
                        n=format_number(len(records)),
                    ),
                    DecisionLogWarning,
                    stacklevel=2,
                )
            frame = _frame({f: [r.get(f) for r in records] for f in _LOG_FIELDS})
        if self.bundle is not None and len(frame):
            other = frame["bundle"].notna() & (frame["bundle"] != self.bundle)
            if other.any():
                warnings.warn(
                    ngettext(
                        "Decision log {path}: {n} decision was made with another model bundle "
                        "than this app's; it is loaded as it was made. Start the app with "
                        "another decisions file (--decisions) to keep them apart.",
                        "Decision log {path}: {n} decisions were made with another model bundle "
                        "than this app's; they are loaded as they were made. Start the app with "
                        "another decisions file (--decisions) to keep them apart.",
                        int(other.sum()),
                    ).format(path=repr(str(self.path)), n=format_number(int(other.sum()))),
                    DecisionLogWarning,
                    stacklevel=2,
                )
        return frame


def _read_fast(raw: bytes) -> pd.DataFrame | None:
    """All of a log's decisions, parsed by Arrow in one call; None when a line is not a
    whole decision (the caller then finds which)."""
    import pyarrow as pa
    from pyarrow import json as pa_json

    if not raw or raw.isspace():
        return _frame({})
    schema = pa.schema(
        [(f, pa.float64()) for f in _FLOAT_FIELDS]
        + [(f, pa.bool_()) for f in ("override", "uncertain")]
        + [
            (f, pa.string())
            for f in ("decision", "touchpoint", "note", "decided_by", "decided_at", "source")
        ]
        + [(f, pa.string()) for f in ("bundle", *_CAMPAIGN_FIELDS)]
    )  # customer_id is inferred: whole numbers or text
    try:
        table = pa_json.read_json(
            pa.py_buffer(raw),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    names = set(table.column_names)
    if "customer_id" not in names or table.column("customer_id").null_count:
        return None
    ids = table.column("customer_id")
    if not (pa.types.is_integer(ids.type) or pa.types.is_string(ids.type)):
        return None
    columns = {f: table.column(f).to_numpy(zero_copy_only=False) for f in _LOG_FIELDS if f in names}
    if not pd.Index(columns["decision"]).isin(_ALL_DECISIONS).all():
        return None
    return _frame(columns)


def _ends_mid_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    if not size:
        return False
    os.lseek(fd, size - 1, os.SEEK_SET)  # (O_APPEND still writes at the end)
    return os.read(fd, 1) != b"\n"


def _is_record(record) -> bool:
    return (
        isinstance(record, dict)
        and record.get("decision") in _ALL_DECISIONS
        and isinstance(record.get("customer_id"), int | str)
        and not isinstance(record.get("customer_id"), bool)
    )


def _frame(columns: dict) -> pd.DataFrame:
    """The log's records as a frame with one set of dtypes, however they were made."""
    n = len(next(iter(columns.values()))) if columns else 0
    out: dict[str, Any] = {}
    for f in _LOG_FIELDS:
        values = columns.get(f)
        if values is None:
            values = np.full(n, None, dtype=object)
        if f in _FLOAT_FIELDS:
            if not (isinstance(values, np.ndarray) and values.dtype.kind == "f"):
                values = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            out[f] = np.asarray(values, dtype=float)
        elif f == "override":
            flag = pd.Series(np.asarray(values, dtype=object), dtype=object)
            out[f] = flag.where(flag.notna(), False).to_numpy(dtype=bool)
        elif f == "customer_id":
            out[f] = _id_column(values)
        else:  # object, not pandas' str: the same dtype whatever the batch holds
            text = pd.Series(np.asarray(values, dtype=object), dtype=object)
            out[f] = text.where(text.notna(), None)
    return pd.DataFrame(out)


def _id_column(values) -> pd.Series:
    """Customer ids as int64 when they are all whole numbers, else as objects."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return pd.Series(values.astype("int64", copy=False))
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":  # 1042.0 is customer 1042
        if np.isfinite(values).all() and (values == np.round(values)).all():
            return pd.Series(values.astype("int64"))
    ids = pd.Series(np.asarray(values, dtype=object), dtype=object)
    if len(ids) and pd.api.types.infer_dtype(ids, skipna=False) == "integer":
        return ids.astype("int64")
    return ids


def _json_text(values) -> list:
    """JSON texts of text-like values (one json.dumps per distinct value)."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)), sort=False)
    texts = [
        json.dumps(u.item() if isinstance(u, np.generic) else u, ensure_ascii=False)
        for u in uniques
    ] + ["null"]
    return [texts[c] for c in codes.tolist()]


def _json_lines(records: pd.DataFrame) -> str:
    """The records as JSON Lines, encoded column by column: a field with one value in the
    whole batch is encoded once (a bulk approval of a million customers is one pass of
    string formatting, not a million json.dumps)."""
    n = len(records)
    parts, args = [], []
    for f in _LOG_FIELDS:
        col = records[f] if f in records.columns else pd.Series([None] * n, dtype=object)
        if f in _CAMPAIGN_FIELDS and col.isna().all():
            continue  # a plain decision: its line is as before campaigns
        values: list
        if f in _FLOAT_FIELDS:
            a = np.asarray(col, dtype=float)
            finite = np.isfinite(a)
            values = a.tolist()  # str(float) is its shortest exact repr
            if not finite.all():
                values = [
                    v if ok else "null" for v, ok in zip(values, finite.tolist(), strict=True)
                ]
        elif f == "customer_id" and pd.api.types.is_integer_dtype(col.dtype):
            values = col.to_numpy().tolist()
        elif f in ("override", "uncertain"):  # true, false or null
            flag = col.to_numpy(dtype=object)
            missing = pd.isna(flag)
            truth = np.where(missing, False, flag).astype(bool)
            values = np.where(missing, "null", np.where(truth, "true", "false")).tolist()
        else:
            values = _json_text(col)
        key = json.dumps(f)
        if n and values.count(values[0]) == n:  # one value in the batch: written as is
            parts.append(f"{key}:{str(values[0]).replace('%', '%%')}")
        else:
            parts.append(f"{key}:%s")
            args.append(values)
    template = "{" + ",".join(parts) + "}\n"
    if not args:
        return (template % ()) * n
    return "".join([template % row for row in zip(*args, strict=True)])


# ======================================================================== bulk approval
@dataclass(frozen=True)
class BulkPlan:
    """What a bulk approval of some rows would do, counted before it is done.

    Every row is counted once, in this order: a customer who already has a
    decision is kept as is; of the others, inactive ones (outside the scored
    population), likely gone ones (reach below the threshold), uncertain
    recommendations and rows without a recommendation are left out; the rest
    are added.

    Parameters
    ----------
    add : int
        Customers the approval would approve.
    keep : int
        Customers whose decision (manual or bulk) stays as it is.
    likely_gone : int
        Left out: the chance they are still there is below the threshold.
    uncertain : int
        Left out: their recommendation is flagged uncertain.
    inactive : int
        Left out: outside the scored population.
    no_recommendation : int
        Left out: nothing to approve.
    """

    add: int = 0
    keep: int = 0
    likely_gone: int = 0
    uncertain: int = 0
    inactive: int = 0
    no_recommendation: int = 0

    @property
    def left_out(self) -> int:
        """Customers the approval leaves out (not counting the decisions kept)."""
        return self.likely_gone + self.uncertain + self.inactive + self.no_recommendation

    @property
    def text(self) -> str:
        """The confirmation: "Approve 412 customers? 3 decisions already made stay as they
        are. 57 likely gone and 12 uncertain are left out." """
        from babel.lists import format_list

        from cjml.i18n import current

        if self.add:
            sentences = [
                ngettext("Approve {n} customer?", "Approve {n} customers?", self.add).format(
                    n=format_number(self.add)
                )
            ]
        else:
            sentences = [_("There is nobody to approve.")]
        if self.keep:
            sentences.append(
                ngettext(
                    "{n} decision already made stays as it is.",
                    "{n} decisions already made stay as they are.",
                    self.keep,
                ).format(n=format_number(self.keep))
            )
        groups = [
            (self.likely_gone, _("{n} likely gone")),
            (self.uncertain, _("{n} uncertain")),
            (self.inactive, _("{n} inactive")),
            (self.no_recommendation, _("{n} without a recommendation")),
        ]
        items = [text.format(n=format_number(n)) for n, text in groups if n]
        if items:
            sentences.append(
                ngettext("{items} is left out.", "{items} are left out.", self.left_out).format(
                    items=format_list(items, locale=current().language)
                )
            )
        return " ".join(sentences)


# ======================================================================== the book
class ActionBook:
    """The marketer's decisions: approve, override or skip each customer's recommendation.

    The latest decision per customer counts. Decisions are stored as batches
    of rows (a bulk approval of a million customers is one batch, and one
    write to the log) and merged when read. Every view of the panel observes
    the one book (:meth:`observe`).

    Parameters
    ----------
    user : str, optional
        Who decides, recorded as ``decided_by``; default the login name.
    clock : callable, optional
        Returns the current time (a timezone-aware datetime); for tests.
    log : DecisionLog, optional
        Where every decision is appended; an existing log is replayed first,
        so the decisions of an earlier session count again.
    population : list-like, optional
        The ids of the scored (active) customers; others are inactive and
        cannot be approved. Default: everyone counts as active.
    reach_threshold : float, default 0.05
        Customers whose ``reach_probability`` is below it are likely gone,
        and bulk approvals leave them out.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjml.panel import ActionBook
    >>> book = ActionBook(user="lan")
    >>> rows = pd.DataFrame({"customer_id": [1, 2], "churn_risk": [0.6, 0.7],
    ...     "recommended_touchpoint": ["live_chat", "email"],
    ...     "expected_risk_reduction": [0.04, 0.01]})
    >>> book.approve(rows), book.skip([2]), book.counts()
    (2, 1, {'approved': 1, 'overridden': 0, 'skipped': 1})
    >>> book.approved()[["customer_id", "touchpoint", "approved_by"]]
       customer_id touchpoint approved_by
    0            1  live_chat         lan
    """

    _COLUMNS = (
        "customer_id",
        "decision",
        "touchpoint",
        "override",
        "note",
        "churn_risk",
        "expected_risk_reduction",
        "risk_after",
        *_VALUE_FIELDS,
        "uncertain",
        "reason",
        "decided_by",
        "decided_at",
        "source",
        *_CAMPAIGN_FIELDS,
    )

    def __init__(
        self,
        *,
        user=None,
        clock: Callable[[], datetime] | None = None,
        log: DecisionLog | None = None,
        population=None,
        reach_threshold: float = 0.05,
    ):
        self.user = user
        self.clock = clock
        self.log = log
        self.population = None if population is None else pd.Index(population).unique()
        self.reach_threshold = float(reach_threshold)
        self._batches: list[pd.DataFrame] = []
        self._merged: pd.DataFrame | None = None
        self._approved: pd.DataFrame | None = None
        self._held: pd.DataFrame | None = None
        self._observers: list[Callable[[], None]] = []
        #: The campaign of the latest export with a control group (None before one).
        self.last_campaign: Any = None
        if log is not None:
            replayed = log.read()
            if len(replayed):
                self._batches.append(_with_reasons(replayed))

    def observe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every change of the decisions; returns the unsubscribe.

        Every view of the panel observes the one book, so a decision made in
        any of them, or through the Python API, shows everywhere at once.

        Parameters
        ----------
        callback : callable
            Called with no arguments after each change.

        Returns
        -------
        callable
            Call it to stop observing.
        """
        self._observers.append(callback)
        return lambda: self._observers.remove(callback) if callback in self._observers else None

    def _changed(self) -> None:
        for callback in list(self._observers):
            callback()

    def _add(self, batch: dict, decision: str, by, source: str) -> int:
        """Record one batch of decisions: to the log first (synced), then in memory."""
        n = len(batch["customer_id"])
        if not n:
            return 0
        when = (self.clock or _now)().astimezone(UTC).replace(microsecond=0)
        records = _frame(
            {
                "customer_id": np.asarray(batch["customer_id"]),
                "decision": np.full(n, decision, dtype=object),
                "decided_by": np.full(n, by or self.user or _default_user(), dtype=object),
                "decided_at": np.full(n, when.isoformat().replace("+00:00", "Z"), dtype=object),
                "source": np.full(n, source, dtype=object),
                **{k: v for k, v in batch.items() if k not in ("customer_id", "reason")},
            }
        )
        if self.log is not None:
            self.log.append(records)
        records = records.drop(columns="bundle")
        records["reason"] = pd.Series(np.asarray(batch["reason"], dtype=object), dtype=object)
        self._batches.append(records[list(self._COLUMNS)])
        self._merged = self._approved = self._held = None
        self._changed()
        return n

    def _inactive(self, ids) -> np.ndarray:
        if self.population is None:
            return np.zeros(len(ids), dtype=bool)
        return ~pd.Index(np.asarray(ids)).isin(self.population)

    def _refuse_inactive(self, ids) -> None:
        ids = np.asarray(ids)
        out = ids[self._inactive(ids)]
        if len(out) == 1:
            raise PanelError(
                _(
                    "Customer {id} is inactive (outside the scored population): there is "
                    "nothing to approve."
                ).format(id=out[0])
            )
        if len(out):
            raise PanelError(
                _(
                    "Customers {ids} are inactive (outside the scored population): there is "
                    "nothing to approve for them. Leave them out of the selection."
                ).format(
                    ids=", ".join(str(i) for i in out[:5]) + ("\u2026" if len(out) > 5 else "")
                )
            )

    def _bulk_masks(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each row's group in a bulk approval (see :class:`BulkPlan`), as boolean masks."""
        n = len(rows)
        ids = rows["customer_id"].to_numpy()
        decided = self.decisions(ids).notna().to_numpy() if n else np.zeros(0, dtype=bool)
        inactive = self._inactive(ids) & ~decided
        free = ~decided & ~inactive
        reach = _column(rows, "reach_probability", np.nan, float)
        gone = free & (reach < self.reach_threshold)  # NaN (unknown) is never likely gone
        free &= ~gone
        uncertain = free & (_column(rows, "uncertain", False, object) == True)  # noqa: E712
        free &= ~uncertain
        none = free & rows["recommended_touchpoint"].isna().to_numpy()
        free &= ~none
        if free.any():  # a customer listed twice is approved once
            first = np.zeros(n, dtype=bool)
            where = np.flatnonzero(free)
            first[where[~pd.Index(ids[where]).duplicated()]] = True
            free = first
        return {
            "add": free,
            "keep": decided,
            "likely_gone": gone,
            "uncertain": uncertain,
            "inactive": inactive,
            "no_recommendation": none,
        }

    def plan_bulk(self, rows: pd.DataFrame) -> BulkPlan:
        """What ``approve(rows, bulk=True)`` would do, for its confirmation.

        Parameters
        ----------
        rows : DataFrame
            Rows of the customer table.

        Returns
        -------
        BulkPlan
            The counts, and :attr:`BulkPlan.text` to show.
        """
        return BulkPlan(**{k: int(m.sum()) for k, m in self._bulk_masks(rows).items()})

    def approve(
        self, rows: pd.DataFrame, *, by=None, note=None, bulk: bool = False, source=None
    ) -> int:
        """Approve the recommended touchpoint of each row.

        Parameters
        ----------
        rows : DataFrame
            Rows of the customer table (``customer_id, churn_risk,
            recommended_touchpoint, expected_risk_reduction``, and, when
            known, ``reach_probability`` and ``uncertain``). Rows without a
            recommendation are left out.
        by : str, optional
            Who approves; default the book's user.
        note : str, optional
            Why; kept beside the decision (and in the export).
        bulk : bool, default False
            A bulk approval: customers who already have a decision are left
            as they are, and likely gone, uncertain and inactive rows are left
            out (see :meth:`plan_bulk`). Otherwise each row is a deliberate
            decision, replacing the customer's earlier one.
        source : {"panel", "bulk", "api"}, optional
            Where the decision was made, for the log; default "bulk" for a
            bulk approval, else "api".

        Returns
        -------
        int
            Customers approved.

        Raises
        ------
        PanelError
            When a row (not in bulk) is an inactive customer.
        """
        if bulk:
            rows = rows.loc[self._bulk_masks(rows)["add"]]
        else:
            rows = rows.loc[rows["recommended_touchpoint"].notna().to_numpy()]
            self._refuse_inactive(rows["customer_id"].to_numpy())
        risk = _column(rows, "churn_risk", np.nan, float)
        reduction = _column(rows, "expected_risk_reduction", np.nan, float)
        touchpoint = rows["recommended_touchpoint"].astype(object).to_numpy()
        n = len(rows)
        uncertain = _column(rows, "uncertain", None, object)
        return self._add(
            {
                "customer_id": rows["customer_id"].to_numpy(),
                "touchpoint": touchpoint,
                "override": np.zeros(n, dtype=bool),
                "note": np.full(n, note or None, dtype=object),
                "churn_risk": risk,
                "expected_risk_reduction": reduction,
                "risk_after": risk - reduction,
                **{f: _column(rows, f, np.nan, float) for f in _VALUE_FIELDS},
                "uncertain": [None if v is None or v != v else bool(v) for v in uncertain],
                "reason": effect_reason(touchpoint, risk, reduction),
            },
            "approved",
            by,
            _source(source, "bulk" if bulk else "api"),
        )

    def override(
        self,
        customer_id,
        touchpoint: str,
        *,
        expected_risk_reduction: float,
        baseline_risk: float | None = None,
        uncertain: bool | None = None,
        note=None,
        by=None,
        source=None,
        expected_value_saved: float | None = None,
        expected_value: float | None = None,
        value_at_risk: float | None = None,
    ) -> int:
        """Replace a customer's recommendation with another touchpoint, approved.

        Parameters
        ----------
        customer_id : object
            The customer.
        touchpoint : str
            The touchpoint chosen instead.
        expected_risk_reduction : float
            Its expected risk reduction (from :func:`what_if`); negative when
            the touchpoint raises the risk.
        baseline_risk : float, optional
            The customer's risk now: the risk after (``risk_after``) is
            recorded and the reason worded with it.
        uncertain : bool, optional
            Whether the estimate is flagged uncertain, for the log.
        note : str, optional
            Why; kept beside the decision.
        by : str, optional
            Who overrides; default the book's user.
        source : {"panel", "bulk", "api"}, optional
            Where the decision was made; default "api".
        expected_value_saved : float, optional
            The value the chosen touchpoint is expected to save, net of its
            cost (:attr:`WhatIf.value_saved`), for the log and the export.
        expected_value : float, optional
            The customer's expected value, for the log and the export.
        value_at_risk : float, optional
            The customer's value at risk, for the log and the export.

        Returns
        -------
        int
            1.

        Raises
        ------
        PanelError
            When the customer is inactive.
        """
        self._refuse_inactive([customer_id])
        risk = np.nan if baseline_risk is None else float(baseline_risk)
        reduction = float(expected_risk_reduction)
        return self._add(
            {
                "customer_id": [customer_id],
                "touchpoint": [touchpoint],
                "override": [True],
                "note": [note or None],
                "churn_risk": [risk],
                "expected_risk_reduction": [reduction],
                "risk_after": [risk - reduction],
                **{
                    f: [np.nan if v is None else float(v)]
                    for f, v in zip(
                        _VALUE_FIELDS,
                        (expected_value_saved, expected_value, value_at_risk),
                        strict=True,
                    )
                },
                "uncertain": [None if uncertain is None else bool(uncertain)],
                "reason": _override_reason([touchpoint], np.asarray([risk]), [reduction]),
            },
            "overridden",
            by,
            _source(source, "api"),
        )

    def skip(self, customer_ids, *, by=None, note=None, bulk: bool = False, source=None) -> int:
        """Skip customers: no action for them.

        Parameters
        ----------
        customer_ids : list-like
            The customers.
        by : str, optional
            Who decides; default the book's user.
        note : str, optional
            Why.
        bulk : bool, default False
            A bulk skip: customers who already have a decision keep it.
        source : {"panel", "bulk", "api"}, optional
            Where the decision was made; default "bulk" for a bulk skip,
            else "api".

        Returns
        -------
        int
            Customers skipped.
        """
        ids = _ids(customer_ids)
        if bulk and len(ids):
            ids = ids[self.decisions(ids).isna().to_numpy()]
            ids = ids[~pd.Index(ids).duplicated()]
        return self._plain(ids, "skipped", note, by, _source(source, "bulk" if bulk else "api"))

    def reset(self, customer_ids, *, by=None, source=None) -> int:
        """Forget the decisions on these customers (the log keeps both, in order).

        Parameters
        ----------
        customer_ids : list-like
            The customers.
        by : str, optional
            Who resets; default the book's user.
        source : {"panel", "bulk", "api"}, optional
            Where the decision was made; default "api".

        Returns
        -------
        int
            Customers reset.
        """
        return self._plain(_ids(customer_ids), "reset", None, by, _source(source, "api"))

    def _plain(self, ids, decision, note, by, source) -> int:
        n = len(ids)
        return self._add(
            {
                "customer_id": ids,
                "touchpoint": np.full(n, None),
                "override": np.zeros(n, dtype=bool),
                "note": np.full(n, note or None, dtype=object),
                "churn_risk": np.full(n, np.nan),
                "expected_risk_reduction": np.full(n, np.nan),
                "risk_after": np.full(n, np.nan),
                "uncertain": np.full(n, None),
                "reason": np.full(n, None),
            },
            decision,
            by,
            source,
        )

    def to_frame(self) -> pd.DataFrame:
        """The latest decision per customer, in the order they were first decided.

        Returns
        -------
        DataFrame
            ``customer_id, decision, touchpoint, override, note, churn_risk,
            expected_risk_reduction, risk_after, uncertain, reason,
            decided_by, decided_at, source, arm, campaign``: the risk and
            reduction are those shown when the decision was made; ``arm`` is
            "control" (and ``campaign`` its id) for a customer held out of
            an exported campaign, else None.
        """
        if self._merged is None:
            if not self._batches:
                merged = _frame({}).drop(columns="bundle").assign(reason=None)
                merged = merged[list(self._COLUMNS)]
            else:
                frame = pd.concat(self._batches, ignore_index=True)
                merged = frame.drop_duplicates("customer_id", keep="last")
                merged = merged[merged["decision"] != "reset"].reset_index(drop=True)
            self._merged = merged
        return self._merged

    def decisions(self, customer_ids) -> pd.Series:
        """The current decision of each customer (None when undecided).

        Parameters
        ----------
        customer_ids : list-like
            The customers.

        Returns
        -------
        Series
            Indexed by the ids given.
        """
        frame = self.to_frame()
        ids = pd.Index(list(customer_ids), dtype=object)
        where = pd.Index(frame["customer_id"].astype(object)).get_indexer(ids)
        values = frame["decision"].to_numpy(dtype=object)
        return pd.Series(
            np.where(where >= 0, values[np.maximum(where, 0)] if len(values) else None, None),
            index=ids,
            name="decision",
            dtype=object,
        )

    def counts(self) -> dict[str, int]:
        """Count the customers per decision.

        Returns
        -------
        dict
            ``approved``, ``overridden`` and ``skipped``.
        """
        counts = self.to_frame()["decision"].value_counts()
        return {d: int(counts.get(d, 0)) for d in _DECISIONS}

    def approved(self) -> pd.DataFrame:
        """The approved action list: approved and overridden customers.

        Returns
        -------
        DataFrame
            The export's columns: ``customer_id, touchpoint,
            expected_risk_reduction_shown`` (as the panel shows it),
            ``expected_risk_reduction`` (exact), ``churn_risk_shown,
            churn_risk``, with a value model ``expected_value_saved_shown,
            expected_value_saved, expected_value_shown, expected_value,
            value_at_risk_shown, value_at_risk`` (money in whole units beside
            the exact amount), then ``reason, decision, approved_by,
            approved_at, note``.
        """
        if self._approved is None:  # kept until the next change: every view reads it
            frame = self.to_frame()
            frame = frame[frame["decision"].isin(["approved", "overridden"])]
            out = frame.rename(columns={"decided_by": "approved_by", "decided_at": "approved_at"})
            # worded by columns, not per row: approving 40,000 customers must stay instant
            risk = pd.to_numeric(out["churn_risk"], errors="coerce").to_numpy(dtype=float)
            shown = {
                "expected_risk_reduction_shown": points_of(
                    pd.to_numeric(out["expected_risk_reduction"], errors="coerce"), risk
                ),
                "churn_risk_shown": format_probabilities(risk),
                **{
                    f"{f}_shown": worth_of(pd.to_numeric(out[f], errors="coerce"))
                    for f in _VALUE_FIELDS
                },
            }
            out = out.assign(
                **{k: pd.Series(v, index=out.index, dtype=object) for k, v in shown.items()}
            )
            # without a value model (older scores) the value columns are left out
            unknown = {f for f in _VALUE_FIELDS if out[f].isna().all()}
            columns = [c for c in _EXPORT_COLUMNS if c.removesuffix("_shown") not in unknown]
            self._approved = out[columns].reset_index(drop=True)
        return self._approved

    def held_out(self) -> pd.DataFrame:
        """The approved customers held out as the control group of an exported campaign.

        Their latest decision is kept with the campaign's id (and in the
        decision log, so a restart shows them too); a later export leaves
        them out, so the earlier campaign's control group stays untreated,
        until a new decision on the customer.

        Returns
        -------
        DataFrame
            Rows of :meth:`to_frame` with ``arm == "control"``.
        """
        if self._held is None:  # kept until the next change: the Actions tab reads it
            frame = self.to_frame()
            self._held = frame[(frame["arm"] == "control").to_numpy()].reset_index(drop=True)
        return self._held

    def export_csv(
        self,
        path,
        *,
        force: bool = False,
        inputs=None,
        control=None,
        seed: int | None = None,
        campaign_id: str | None = None,
        bundle=None,
        cutoff=None,
        horizon=None,
        rules=None,
        segments=None,
    ) -> Path:
        """Write the approved action list to a new CSV file, safe for spreadsheets.

        An existing file is never replaced: given a folder, or a file that
        exists, the export goes to a new dated name beside it
        (``approved_actions-2026-12-02-0805.csv``, then ``-2``, ``-3``...).
        See :func:`cjml.panel.write_csv`: formula-like text is escaped, the
        file is UTF-8 with a byte-order mark, written atomically, with mode
        ``0666 & ~umask``.

        With ``control``, the export is a campaign (:func:`cjml.export_campaign`):
        a seeded random share of the approved customers, stratified by
        approved touchpoint x risk band, is held out with ``arm = control``
        and no touchpoint (the columns stay those of the export without a
        control group, plus ``arm``), and the assignments
        (``<name>.assignments.parquet``) and the manifest
        (``<name>.campaign.json``) are written beside the export; a dated
        name is taken only when all three are free, and a manifest is never
        replaced, even with ``force``. The held-out customers are recorded
        in the book (and its log, see :meth:`held_out`); customers held out
        in an earlier campaign are left out of the export. The campaign is
        :attr:`last_campaign`.

        Parameters
        ----------
        path : str or Path
            A ``.csv`` file, or a folder (not named ``*.csv``).
        force : bool, default False
            Replace ``path`` when it is an existing file, rather than writing
            a dated name beside it (never a campaign's manifest).
        inputs : mapping of str to path, optional
            The files the panel was built from (:attr:`PanelData.inputs`):
            the export may not be one of them (or inside an input folder),
            even with ``force``.
        control : float, str or None, default None
            The share held out as a control group (``0.1`` or ``"10%"``);
            None, 0 or "off" exports without one.
        seed : int, optional
            With ``control``: the seed of the assignment (default a fresh one, recorded).
        campaign_id : str, optional
            With ``control``: the campaign's id (default the cutoff date and 6 hex digits).
        bundle : ModelBundle or path, optional
            With ``control``: the bundle the recommendations came from (its
            fingerprint is recorded; its horizon and costs are the defaults).
        cutoff : date, optional
            With ``control``: when the customers were scored (required).
        horizon : duration, optional
            With ``control``: how long after the cutoff the campaign is
            measured; default the bundle's horizon.
        rules : RecommendationRules, dict or path, optional
            With ``control``: the business rules, recorded in the manifest.
        segments : Series, optional
            With ``control``: each customer's segment (indexed by customer
            id), recorded in the assignments so the uplift can be split by it.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        PanelError
            When nothing is approved.
        InputFileError
            When ``path`` is not ``.csv`` (nor a folder), is a folder named
            ``*.csv``, or is one of ``inputs`` (or inside an input folder).
        CampaignError
            With ``control``: when the cutoff or horizon is unknown, or
            ``force`` would replace a campaign's manifest.
        """
        from cjml.io._write import check_output, write_csv

        share = control_share(control)
        path = Path(path).expanduser()
        # a folder named like a file ("out.csv/") is a slip, refused by check_output
        folder = path.is_dir() and path.suffix.lower() != ".csv"
        if not folder:
            check_output(path, inputs=inputs, force=True, suffixes=(".csv",), option="file name")
        actions = self.approved()
        held = self.held_out()["customer_id"]
        if len(held):  # an earlier campaign's control group stays untreated
            actions = actions[~actions["customer_id"].isin(held).to_numpy()]
        if actions.empty:
            raise PanelError(
                _(
                    "No approved actions to export yet: approve or override some "
                    "recommendations first."
                )
            )

        def write(target: Path) -> Path:
            if share is None:
                return write_csv(actions, target, force=True)
            frame = actions
            if segments is not None:
                frame = frame.assign(segment=frame["customer_id"].map(segments).to_numpy())
            from cjml.campaign import export_campaign

            campaign = export_campaign(
                frame,
                target,
                control=share,
                seed=seed,
                campaign_id=campaign_id,
                bundle=bundle,
                cutoff=cutoff,
                horizon=horizon,
                rules=rules,
                force=True,  # the export is our claim; the manifest is never replaced
            )
            self.last_campaign = campaign
            a = campaign.assignments
            self._hold_out(a.loc[a["arm"] == "control", "customer_id"], campaign.campaign_id)
            return target

        if force and not folder:
            return write(path)
        stamp = (self.clock or _now)().astimezone().strftime("%Y-%m-%d-%H%M")
        if folder:
            stem, parent = "approved_actions", path
        elif path.exists() or (share is not None and _campaign_beside(path)):
            stem, parent = path.stem, path.parent
        else:
            stem, parent = None, path.parent
        for k in range(1, 10_000):
            target = (
                path
                if stem is None and k == 1
                else parent / f"{stem or path.stem}-{stamp}{'' if k == 1 else f'-{k}'}.csv"
            )
            check_output(target, inputs=inputs, force=True, suffixes=(".csv",), option="file name")
            if share is not None and _campaign_beside(target):
                continue  # the export, its assignments and its manifest go together
            try:  # claim the name: nobody else's file can be replaced, even in a race
                parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            try:
                return write(target)  # replaces only our empty claim
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        raise PanelError(
            _(
                "Cannot find a free file name for the export in {folder}: choose another folder."
            ).format(folder=repr(str(parent)))
        )

    def _hold_out(self, customer_ids, campaign_id: str) -> None:
        """Record customers as held out in a campaign: their latest decision, marked."""
        frame = self.to_frame()
        rows = frame[frame["customer_id"].isin(pd.Index(customer_ids)).to_numpy()]
        if not len(rows):
            return
        rows = rows.assign(arm="control", campaign=campaign_id)
        if self.log is not None:  # the decision as it was made, with its campaign
            self.log.append(_frame({f: rows[f].to_numpy() for f in _LOG_FIELDS if f in rows}))
        self._batches.append(rows[list(self._COLUMNS)].reset_index(drop=True))
        self._merged = self._approved = self._held = None
        self._changed()


def control_share(value) -> float | None:
    """The control group's share, or None for none: None, 0, "0", "0%" and "off" are none.

    Parameters
    ----------
    value : float, str or None
        ``0.1``, ``"10%"``, ``"0.1"``; or no control group.

    Returns
    -------
    float or None
        Strictly between 0 and 1, or None.

    Raises
    ------
    ValueError
        When it is neither a share between 0 and 1 nor "off".
    """
    from cjml.campaign import parse_share

    if value is None or value is False:
        return None
    text = str(value).strip().lower()
    try:
        number = float(text.removesuffix("%"))
    except ValueError:
        number = None
    if text in ("off", "none", "no") or number == 0:
        return None
    return parse_share(value)


def _campaign_beside(export: Path) -> bool:
    """Whether a campaign's assignments or manifest already sit where ``export``'s would."""
    from cjml.campaign import assignments_path, manifest_path

    return manifest_path(export).exists() or assignments_path(export).exists()


def _source(source, default: str) -> str:
    source = default if source is None else source
    if source not in _SOURCES:
        raise PanelError(
            _("source={source} is not known; use one of {allowed}.").format(
                source=repr(source), allowed=", ".join(_SOURCES)
            )
        )
    return source


def _ids(customer_ids) -> np.ndarray:
    if isinstance(customer_ids, np.ndarray):
        return customer_ids
    if isinstance(customer_ids, pd.Series | pd.Index):
        return customer_ids.to_numpy()
    return np.asarray(list(customer_ids))


def _column(rows: pd.DataFrame, name: str, default, dtype) -> np.ndarray:
    """A column of ``rows`` as an array, or ``default`` everywhere when it is missing."""
    if name in rows.columns:
        return (
            rows[name].to_numpy(dtype=dtype)
            if dtype is float
            else rows[name].to_numpy(dtype=object)
        )
    return np.full(len(rows), default, dtype=dtype)


def _override_reason(touchpoint, risk: np.ndarray, reduction) -> np.ndarray:
    """The reason of overrides: their effect when the risk is known, else what was chosen."""
    reason = effect_reason(touchpoint, risk, reduction)
    for i in np.flatnonzero(np.isnan(risk)):
        reason[i] = _("{touchpoint} chosen instead of the recommendation").format(
            touchpoint=label(touchpoint[i])
        )
    return reason


def _with_reasons(records: pd.DataFrame) -> pd.DataFrame:
    """Replayed records as the book keeps them, with their reasons worded again."""
    out = records.drop(columns="bundle")
    reason = np.full(len(out), None, dtype=object)
    tp = out["touchpoint"].to_numpy(dtype=object)
    risk = out["churn_risk"].to_numpy(dtype=float)
    red = out["expected_risk_reduction"].to_numpy(dtype=float)
    for decision, word in (("approved", effect_reason), ("overridden", _override_reason)):
        m = (out["decision"] == decision).to_numpy()
        if m.any():
            reason[m] = word(tp[m], risk[m], red[m])
    out["reason"] = pd.Series(reason, dtype=object)
    return out[list(ActionBook._COLUMNS)]
