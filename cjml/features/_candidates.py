"""Candidate rows: what ``JourneyFeaturizer.with_event`` checks and resolves before the families.

``transform`` records in ``X.attrs`` which featurizer made the frame and at which
cutoff, so that ``with_event`` places the new event at that cutoff without being
told, and refuses a frame another featurizer made. The families then update
their own columns (``FeatureFamily._with_event``).
"""

from __future__ import annotations

import difflib
import hashlib
import weakref
from typing import Any

import numpy as np
import pandas as pd

from cjml.events import to_utc_timestamp
from cjml.features._windows import NS_PER_DAY, Windows, resolve_cutoffs

__all__ = ["ATTRS_KEY", "cutoff_record", "fingerprint"]

#: Key of the record ``transform`` leaves in ``DataFrame.attrs`` (JSON-safe values only,
#: so that ``to_parquet`` keeps it).
ATTRS_KEY = "cjml.features"


def _did_you_mean(value, allowed) -> str:
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _plain(value):
    """Fitted state as plain Python values, so that its repr is complete and stable."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "to_dict") and not isinstance(value, pd.DataFrame | pd.Series):
        return _plain(value.to_dict())
    return value


#: Each featurizer's fingerprint, with the fitted objects it was computed from: transform
#: records it on every part, and its fitted state (thousands of touchpoints' counts on a
#: page log) takes a while to write out.
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fingerprint(featurizer) -> str:
    """A short hash of everything a fitted featurizer's output depends on."""
    fitted = (
        featurizer.families_,
        featurizer.feature_names_out_,
        getattr(featurizer, "journey_map_", None),
    )
    known = _FINGERPRINTS.get(featurizer)
    if known is not None and all(a is b for a, b in zip(known[0], fitted, strict=True)):
        return known[1]
    value = _fingerprint(featurizer)
    _FINGERPRINTS[featurizer] = (fitted, value)
    return value


def _fingerprint(featurizer) -> str:
    state = [
        _plain(list(featurizer.feature_names_out_)),
        _plain(getattr(featurizer, "journey_map_", None)),
    ]
    for fam in featurizer.families_:
        fitted = {
            k: _plain(v)
            for k, v in sorted(vars(fam).items())
            if k.endswith("_") and not k.startswith("_")
        }
        state.append([type(fam).__name__, _plain(fam.get_params()), fitted])
    return hashlib.sha256(repr(state).encode()).hexdigest()[:16]


def cutoff_record(featurizer, windows: Windows, cutoff) -> dict:
    """What ``transform`` records about the frame it returns.

    ``cutoff`` is "index" when the rows carry it (several cutoffs), "per customer"
    for a Series of cutoffs, else the cutoff (ISO text, UTC). ``time_of_day_ns``
    (ns since midnight UTC) is all ``with_event`` needs of the cutoff itself, for
    the active-days count; None when the rows differ. ``timezone`` reads naive
    dates given to ``with_event`` as ``transform`` read them.
    """
    record: dict[str, Any] = {
        "featurizer": fingerprint(featurizer),
        "cutoff": "index",
        "time_of_day_ns": None,
        "timezone": str(windows.log.timezone),
    }
    if windows.several_cutoffs:
        return record
    # read from the rows themselves, so that a caller's own windows are recorded right
    cut = np.asarray(windows.cutoff_ns, dtype=np.int64)
    if not len(cut):  # no row: record the cutoff asked for
        if isinstance(cutoff, pd.Series):
            record.update(cutoff="per customer")
            return record
        cut = np.asarray([resolve_cutoffs(windows.log, cutoff)[1]], dtype=np.int64)
    tod = cut % NS_PER_DAY
    if isinstance(cutoff, pd.Series) or np.any(cut != cut[0]):
        record.update(
            cutoff="per customer", time_of_day_ns=int(tod[0]) if np.all(tod == tod[0]) else None
        )
    else:
        record.update(
            cutoff=pd.Timestamp(int(cut[0]), tz="UTC").isoformat(), time_of_day_ns=int(tod[0])
        )
    return record


# ------------------------------------------------------------------ checks of X
def check_frame(featurizer, X) -> dict | None:
    """Refuse what is not this featurizer's output; return the frame's record, if any."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be the DataFrame that transform returned, got {type(X).__name__}.")
    expected = [str(c) for c in featurizer.feature_names_out_]
    got = [str(c) for c in X.columns]
    if got != expected:
        missing = [c for c in expected if c not in set(got)]
        extra = [c for c in got if c not in set(expected)]
        if missing or extra:
            diff = f"missing {len(missing)}: {missing[:8]!r}" if missing else "none missing"
            diff += f"; not features of this featurizer: {extra[:8]!r}" if extra else ""
            raise ValueError(
                f"X does not have this featurizer's {len(expected)} feature columns ({diff}). "
                "Pass the output of this featurizer's transform (a subset of its rows is fine)."
            )
        raise ValueError(
            "X has this featurizer's columns in another order; pass "
            "X[featurizer.feature_names_out_]."
        )
    bad = {c: dt for c, dt in X.dtypes.items() if dt != np.float64}
    if bad:
        raise ValueError(
            f"X's feature columns must be float64 as transform returns them; "
            f"{list(bad)[:8]!r} are not (e.g. {next(iter(bad.values()))}). Pass "
            "transform's output unconverted."
        )
    record = X.attrs.get(ATTRS_KEY)
    if record is not None and record.get("featurizer") != fingerprint(featurizer):
        raise ValueError(
            "X was computed by another featurizer (or this one fitted differently): same "
            "columns, other vocabularies or journey map. Compute X with this featurizer's "
            "transform."
        )
    return record


def _customer_ids(X: pd.DataFrame) -> pd.Index:
    if isinstance(X.index, pd.MultiIndex) and "customer_id" in X.index.names:
        return X.index.get_level_values("customer_id")
    return X.index


def _given_time_of_day(cutoff, X: pd.DataFrame, timezone: str) -> np.ndarray:
    """Per-row cutoff times of day (ns since midnight UTC) from ``with_event``'s ``cutoff``."""
    if isinstance(cutoff, pd.Series):
        # as transform reads per-customer cutoffs: naive dates are UTC
        values = pd.to_datetime(cutoff, utc=True, errors="coerce")
        values = values[~values.index.duplicated()].reindex(_customer_ids(X))
        if values.isna().any():
            lost = list(_customer_ids(X)[np.asarray(values.isna())][:5])
            raise ValueError(
                f"cutoff has no date for the customers {lost!r} of X; give one "
                "date per customer of X."
            )
        return pd.DatetimeIndex(values).as_unit("ns").asi8 % NS_PER_DAY
    if isinstance(cutoff, np.ndarray | pd.Index | list | tuple):  # one date per row of X
        dates = pd.DatetimeIndex(pd.to_datetime(cutoff, utc=True, errors="coerce"))
        if len(dates) != len(X) or dates.hasnans:
            raise ValueError(
                f"cutoff as an array needs one date per row of X ({len(X)} rows), "
                f"got {len(dates)} values with "
                f"{np.count_nonzero(dates.isna())} missing."
            )
        return dates.as_unit("ns").asi8 % NS_PER_DAY
    ns = to_utc_timestamp(cutoff, timezone).value
    return np.full(len(X), ns % NS_PER_DAY, dtype=np.int64)


def time_of_day(X: pd.DataFrame, record: dict | None, cutoff) -> np.ndarray:
    """Each row's cutoff as ns since midnight UTC, from X's own record when it has one.

    ``cutoff`` is needed only when the record is lost; when both are there they
    must agree, so a wrong cutoff is an error, never a silent shift.
    """
    timezone = "UTC" if record is None else record.get("timezone", "UTC")
    given = None if cutoff is None else _given_time_of_day(cutoff, X, timezone)
    kind = None if record is None else record.get("cutoff")
    own = None
    if kind == "index" and "cutoff" in (X.index.names or []):
        cut = pd.DatetimeIndex(X.index.get_level_values("cutoff"))
        cut = cut.tz_convert("UTC") if cut.tz is not None else cut
        own = cut.as_unit("ns").asi8 % NS_PER_DAY
    elif record is not None and record.get("time_of_day_ns") is not None:
        own = np.full(len(X), int(record["time_of_day_ns"]), dtype=np.int64)
        if (
            isinstance(kind, str)
            and kind != "per customer"
            and cutoff is not None
            and not isinstance(cutoff, pd.Series)
            and to_utc_timestamp(cutoff, timezone) != pd.Timestamp(kind)
        ):
            raise ValueError(
                f"cutoff={cutoff!r} is not the cutoff X was computed at ({kind}). "
                "The new event is always at X's own cutoff: leave cutoff out."
            )
    if own is None:
        if given is None:
            why = {
                None: "X does not record the cutoff it was computed at (it was not made by "
                "transform, or pandas dropped its attrs, e.g. in a concat of frames "
                "from different cutoffs)",
                "index": "X was computed at several cutoffs but its index no longer holds "
                "them (no 'cutoff' level)",
            }.get(kind, "X was computed at per-customer cutoffs at different times of day")
            raise ValueError(
                f"{why}. Pass cutoff=, the date given to transform (or the Series "
                "of dates per customer, or an array of one date per row)."
            )
        return given
    if given is not None and not np.array_equal(given, own):
        raise ValueError(
            "cutoff does not match the cutoff X was computed at. The new event is "
            "always at X's own cutoff: leave cutoff out."
        )
    return own


# ------------------------------------------------------------------ the new event
def _per_row(values, n: int, what: str, X: pd.DataFrame):
    """A scalar as it is, or an array of one value per row of X."""
    if isinstance(values, pd.Series):
        if not values.index.equals(X.index):
            raise ValueError(
                f"{what} is a Series whose index is not X's; pass one value per row "
                "of X in X's order (e.g. a numpy array)."
            )
        values = values.to_numpy()
    if isinstance(values, str) or np.ndim(values) == 0:
        return values
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"{what} must be one value or one per row of X ({n} rows); got shape {arr.shape}."
        )
    return arr


def _lookup(values, n: int, allowed: list, what: str, fix: str) -> np.ndarray:
    """Codes of the names ``values`` (one, or one per row) in ``allowed``; unknown is an error."""
    many = isinstance(values, np.ndarray)
    codes, uniques = pd.factorize(values if many else np.asarray([values], dtype=object))
    if (codes < 0).any():
        raise ValueError(f"{what} has missing values; give a name on every row. {fix}")
    where = pd.Index(list(allowed), dtype=object).get_indexer(pd.Index(uniques, dtype=object))
    if (where < 0).any():
        bad = uniques[int(np.flatnonzero(where < 0)[0])]
        raise ValueError(
            f"Unknown {what} {bad!r}.{_did_you_mean(bad, allowed)} The "
            f"{what}s are {list(allowed)!r}. {fix}"
        )
    out = where[codes].astype(np.int64)
    return out if many else np.full(n, out[0], dtype=np.int64)


def touchpoint_codes(values, vocabulary: list, X: pd.DataFrame) -> np.ndarray:
    """The new event's touchpoint per row, as codes into ``vocabulary``."""
    n = len(X)
    arr = _per_row(values, n, "touchpoint", X)
    kind = np.asarray(arr).dtype.kind
    if kind in "iu":
        codes = np.asarray(arr, dtype=np.int64)
        bad = codes[(codes < 0) | (codes >= len(vocabulary))]
        if len(bad.ravel()):
            raise ValueError(
                f"Touchpoint code {int(bad.ravel()[0])} is out of range: codes are "
                f"positions in the touchpoint vocabulary, 0 to "
                f"{len(vocabulary) - 1} ({vocabulary!r}); {len(vocabulary)} is "
                "'other', which names no touchpoint."
            )
        return codes if codes.ndim else np.full(n, int(codes), dtype=np.int64)
    if kind not in "OUS":
        raise ValueError(f"touchpoint must be names (str) or integer codes, got {arr!r:.80}.")
    return _lookup(
        arr,
        n,
        vocabulary,
        "touchpoint",
        "Touchpoints outside the featurizer's vocabulary (the journey map's, and others "
        "seen in fit) have no columns: refit on data that has them.",
    )


def stage_codes(
    values,
    touchpoint: np.ndarray,
    vocabulary: list,
    current: np.ndarray | None,
    journey_map,
    X: pd.DataFrame,
) -> np.ndarray:
    """The new event's stage per row: given, or the row's current stage (or the default)."""
    if values is not None:
        arr = _per_row(values, len(X), "stage", X)
        return _lookup(
            arr,
            len(X),
            list(journey_map.stages),
            "stage",
            "Give stages of the journey map the featurizer was fitted with.",
        )
    # A customer without a current stage gets the touchpoint's earliest stage, the stage
    # read_events derives for a customer's first event.
    lo, _ = journey_map.stage_bounds()
    names = list(journey_map.touchpoint_names)
    earliest = np.asarray(
        [lo[names.index(t)] if t in names else -1 for t in vocabulary], dtype=np.int64
    )[touchpoint]
    if current is None:  # no stage family: the stage changes no column
        return np.maximum(earliest, 0)
    out = np.where(np.isnan(current), earliest, np.nan_to_num(current, nan=-1.0)).astype(np.int64)
    if (out < 0).any():
        t = vocabulary[int(touchpoint[np.flatnonzero(out < 0)[0]])]
        raise ValueError(
            f"Touchpoint {t!r} is not in the journey map, so a customer without a "
            "current stage has no default stage for it; pass stage=."
        )
    return out


def channel_codes(
    values, touchpoint: np.ndarray, vocabulary: list, journey_map, X: pd.DataFrame
) -> tuple[np.ndarray, list]:
    """The new event's channel per row as codes into a list of names, -1 for none."""
    if values is None:
        # the touchpoint's channel in the journey map; none for touchpoints outside it
        by_tp = [journey_map[t].channel if t in journey_map else None for t in vocabulary]
        names = sorted({c for c in by_tp if c is not None})
        lookup = np.asarray(
            [names.index(c) if c is not None else -1 for c in by_tp], dtype=np.int64
        )
        return lookup[touchpoint], names
    arr = _per_row(values, len(X), "channel", X)
    if not isinstance(arr, np.ndarray):
        if pd.isna(arr):
            return np.full(len(X), -1, dtype=np.int64), []
        return np.zeros(len(X), dtype=np.int64), [str(arr)]
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    return codes.astype(np.int64), [str(u) for u in uniques]
