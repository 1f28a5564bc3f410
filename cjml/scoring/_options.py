"""Checking what :func:`cjml.score` is given, before any work.

The options (:func:`_check_options`), risk bands (:func:`_risk_bands`),
business rules against the bundle's journey map (:func:`_check_rules`), the
bundle's models and the event columns it needs, the columns to read (nested
ones refused or left out, :func:`_flat_columns`), the customer list, and the
fingerprints a run folder is keyed by (:func:`_bundle_id`,
:func:`_rules_fingerprint`, :func:`_hash_values`).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cjml.bundle import BundleError, ModelBundle
from cjml.exceptions import CjmlError, InputFileError, SchemaError
from cjml.io._columns import _nested_kind, _warn_nested_left_out
from cjml.io._files import _id_text, _read_id_list
from cjml.io._messages import TEXT_KINDS
from cjml.io._source import _plain_type, _Source

#: Risk bands by lower bound of the churn risk: ``low`` below 0.2, ``medium``
#: from 0.2, ``high`` from 0.5, ``very high`` from 0.8.
DEFAULT_RISK_BANDS: dict[str, float] = {"low": 0.0, "medium": 0.2, "high": 0.5, "very high": 0.8}
#: Events per chunk of the scoring pass (a target: partitions are made by hash).
DEFAULT_CHUNK_EVENTS = 1_000_000
_ENGINES = ("local", "dask")
_ON_ERROR = ("raise", "quarantine")
_OUT_SUFFIXES = (".parquet", ".csv")
_MAX_SHOWN = 5


def _check_options(
    *, top_k, on_error, engine, risk_bands, chunk_events, out, resume, timestamp_unit, n_jobs=None
) -> dict:
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ValueError(f"top_k must be a whole number of at least 1, got {top_k!r}.")
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {list(_ON_ERROR)!r}, got {on_error!r}.")
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {list(_ENGINES)!r}, got {engine!r}.")
    if (
        isinstance(chunk_events, bool)
        or not isinstance(chunk_events, int | np.integer)
        or chunk_events < 1
    ):
        raise ValueError(
            f"chunk_events must be a whole number of at least 1, got {chunk_events!r}."
        )
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs < 1
    ):
        raise ValueError(
            f"n_jobs must be a whole number of at least 1 (or None: one per core), got {n_jobs!r}."
        )
    if timestamp_unit is not None and timestamp_unit not in ("s", "ms", "us", "ns"):
        raise ValueError(
            f"timestamp_unit={timestamp_unit!r} is not allowed; use one of "
            "['s', 'ms', 'us', 'ns'] (or None for dates)."
        )
    if out is not None:
        suffix = Path(out).suffix.lower()
        if suffix not in _OUT_SUFFIXES:
            raise InputFileError(
                f"Cannot write {str(out)!r}: the output must end in .parquet "
                f"or .csv, not {suffix or '(no suffix)'!r}."
            )
    elif resume:
        raise ValueError(
            "resume=True needs out=...: only a run that writes a file keeps its "
            "finished chunks to resume from."
        )
    return {"bands": _risk_bands(risk_bands)}


def _recommend_if_possible(bundle: ModelBundle, recommend: bool, rules) -> bool:
    """Whether to fill the recommendation columns: ``recommend``, unless the bundle
    cannot recommend, which a warning then says (scores are still worth having);
    with business rules, which only apply to recommendations, that is an error."""
    if not recommend:
        return False
    from cjml.io._messages import _user_stacklevel
    from cjml.recommend import why_no_recommendations

    why = why_no_recommendations(bundle)
    if why is None:
        return True
    if rules is not None:
        raise CjmlError(
            f"{why} Business rules (rules=..., --rules) apply to the recommendations: "
            "drop them to score without recommendations."
        )
    warnings.warn(
        f"{why} The recommendation columns are left empty; reach_probability is still "
        "filled (recommend=False, --no-recommend, leaves both empty without this warning).",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )
    return False


def _check_rules(rules, bundle: ModelBundle, recommend: bool):
    """The business rules as RecommendationRules, checked against the bundle's map; or None."""
    if rules is None:
        return None
    if not recommend:
        raise ValueError(
            "Business rules (rules=..., --rules) apply to the recommendations, but "
            "recommend=False (--no-recommend) leaves them out. Fix: drop the "
            "rules, or score with recommendations."
        )
    from cjml.recommend import RecommendationRules, TouchpointRecommender

    parsed = RecommendationRules.coerce(rules)
    # the map and the checks the recommender itself applies, before any work is done
    recommender = TouchpointRecommender(
        bundle.models["churn"],
        bundle.featurizer,
        bundle.journey_map,
        rules=parsed,
        value_model=bundle.models.get("value"),
    )
    recommender._rules(recommender._map())
    return parsed


def _rules_fingerprint(rules) -> dict | None:
    """The rules as plain values, for the run's fingerprint (and its "what changed")."""
    if rules is None:
        return None
    return {
        "exclude": [str(t) for t in rules.exclude],
        "caps": [[str(c.touchpoint), int(c.max_contacts), float(c.days)] for c in rules.caps],
        "min_risk": float(rules.min_risk),
        "min_reduction": float(rules.min_reduction),
        "budget": None if rules.budget is None else float(rules.budget),
        "costs": {str(k): float(v) for k, v in sorted(rules.costs.items())},
        "rank_by": str(rules.rank_by),
    }


def _rules_plan(rules, bundle: ModelBundle) -> dict:
    """What the plan carries of the rules: the chunks' rules, without the budget, which
    holds over the whole run and is applied when the chunks are merged (customers
    ordered by the same key as the touchpoints)."""
    if rules is None:
        return {}
    return {
        "rules": replace(rules, budget=None),
        "budget": rules.budget,
        "rank_key": rules.rank_key(bundle.journey_map, has_value="value" in bundle.models),
    }


def _parse_horizons(horizons) -> tuple[int, ...]:
    """The ``--horizons`` as whole days, ascending, without repeats: from text
    ("7D,30D,90D"; bare numbers are days) or a list of durations."""
    if horizons is None:
        return ()
    from cjml.labels import to_timedelta

    example = "7D,30D,90D"
    text = horizons if isinstance(horizons, str) else None
    parts = (
        [p.strip() for p in horizons.split(",")]
        if isinstance(horizons, str)
        else list(horizons)
        if isinstance(horizons, list | tuple | np.ndarray | pd.Index | pd.Series)
        else [horizons]
    )
    days = []
    for part in parts:
        shown = repr(part) + ("" if text is None else f" in {text!r}")
        if isinstance(part, str) and part.isdigit():
            part = int(part)
        try:
            delta = to_timedelta(part, "horizons")
        except ValueError:
            raise ValueError(
                f"Cannot read {shown} as a horizon of --horizons (horizons=): give "
                f"durations in days separated by commas, e.g. {example}."
            ) from None
        n_days = delta / pd.Timedelta(days=1)
        if n_days != int(n_days):
            raise ValueError(
                f"The horizon {shown} of --horizons (horizons=) is not a whole number of "
                f"days ({n_days:g} days): the columns are churn_risk_7d and so on. Give "
                f"whole days, e.g. {example}."
            )
        days.append(int(n_days))
    if not days:
        raise ValueError(f"--horizons (horizons=) names no horizon; give e.g. {example}.")
    return tuple(sorted(set(days)))


def _check_horizons(days: tuple[int, ...], bundle: ModelBundle) -> None:
    """Refuse, before any work, horizons the bundle's survival model cannot give."""
    if not days:
        return
    shown = ",".join(f"{d}D" for d in days)
    model = bundle.models.get("survival")
    if model is None:
        raise BundleError(
            f"--horizons {shown} needs the bundle's survival model (time to churn), but this "
            f"bundle has none (it has {sorted(bundle.models)!r}). Fix: retrain it with "
            "cjml train, which fits one unless --no-survival (survival=False), or score without "
            "--horizons."
        )
    longest = int(getattr(model, "max_days_", 0))
    too_long = [d for d in days if d > longest]
    if too_long:
        raise ValueError(
            f"--horizons asks for {too_long[-1]} days, but the bundle's survival model "
            f"reaches {longest} days at most (max_days_: as far as its training data followed "
            f"customers). Fix: ask for at most {longest}D, or train on a longer history."
        )


def _risk_bands(risk_bands) -> dict[str, float]:
    if risk_bands is None:
        return dict(DEFAULT_RISK_BANDS)
    example = "{'low': 0.0, 'medium': 0.3, 'high': 0.6}"
    if isinstance(risk_bands, str):
        parsed = {}
        for part in risk_bands.split(","):
            name, sep, text = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(
                    f"Cannot read {part.strip()!r} in risk bands {risk_bands!r}: "
                    "expected name=lowest_risk pairs, e.g. "
                    "'low=0,medium=0.3,high=0.6'."
                )
            parsed[name.strip()] = text.strip()
        risk_bands = parsed
    if not isinstance(risk_bands, Mapping) or not risk_bands:
        raise ValueError(
            f"risk_bands must map band names to their lowest churn risk, e.g. "
            f"{example}; got {risk_bands!r}."
        )
    bands = {}
    for name, low in risk_bands.items():
        try:
            value = float(low)
        except (TypeError, ValueError):
            raise ValueError(
                f"The lowest risk of band {name!r} must be a number from 0 to 1, got {low!r}."
            ) from None
        if not 0 <= value <= 1:
            raise ValueError(
                f"The lowest risk of band {name!r} must be from 0 to 1, got {value!r}."
            )
        bands[str(name)] = value
    values = list(bands.values())
    if values != sorted(values) or len(set(values)) != len(values):
        raise ValueError(
            f"Risk bands must be listed from lowest to highest with distinct lower "
            f"bounds, got {bands!r}; e.g. {example}."
        )
    if values[0] != 0:
        raise ValueError(
            f"The first risk band must start at 0 so that every risk has a band, "
            f"got {bands!r}; e.g. {example}."
        )
    return bands


def _input_paths(bundle, events, customers, rules) -> dict:
    """The run's inputs given as paths, which its outputs must never overwrite."""
    inputs = {}
    if isinstance(events, str | os.PathLike):
        inputs["events file"] = events
    if isinstance(bundle, str | os.PathLike):
        inputs["bundle"] = bundle
        inputs["bundle's manifest"] = Path(bundle).with_name(Path(bundle).name + ".manifest.json")
    if isinstance(customers, str | os.PathLike):
        inputs["customer list"] = customers
    if isinstance(rules, str | os.PathLike):
        inputs["rules file"] = rules
    return inputs


def _rejects_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.rejects{out.suffix}")


def _cjml_version() -> str:
    from cjml._version import __version__

    return __version__


def _bundle_id(bundle) -> str:
    """A fingerprint of the bundle: its manifest digest, or a hash of its content."""
    if isinstance(bundle, ModelBundle):
        import joblib

        return "content:" + joblib.hash(
            (bundle.models, bundle.featurizer, bundle.journey_map.to_dict())
        )
    path = Path(bundle)
    manifest = path.with_name(path.name + ".manifest.json")
    try:
        return "sha256:" + str(json.loads(manifest.read_text(encoding="utf-8"))["sha256"])
    except (OSError, ValueError, KeyError, TypeError):  # e.g. a manifest that is a list
        return f"path:{path.resolve()}"  # ModelBundle.load refuses it next, with the reason


def _check_bundle(bundle: ModelBundle) -> None:
    missing = [m for m in ("churn", "next_stage") if m not in bundle.models]
    if missing:
        raise BundleError(
            f"The bundle has no {' and no '.join(map(repr, missing))} model; "
            f"it has {sorted(bundle.models)!r}. Score with a bundle made by "
            "cjml.train (cjml train)."
        )


def _lookback_ns(bundle: ModelBundle) -> int | None:
    lookback = bundle.metadata.get("lookback")
    return None if lookback in (None, "None") else int(pd.Timedelta(lookback).value)


def _attribute_columns(bundle: ModelBundle) -> list[str]:
    out = []
    for family in getattr(bundle.featurizer, "families_", ()):
        out += [str(c) for c in getattr(family, "attributes_", ()) if str(c) not in out]
    return out


def _needed_columns(bundle, resolved, available, drop_duplicates) -> set:
    """The user's columns to read: canonical ones, and the extras the features use."""
    if drop_duplicates:  # exact duplicates are judged on every column
        return set(available)
    needed = set(resolved.values())
    attributes = set(_attribute_columns(bundle))
    needed |= {c for c in available if str(c) in attributes}
    return needed


def _flat_columns(src: _Source, needed: set, resolved: dict, bundle: ModelBundle) -> set:
    """The columns to read without nested ones (structs, lists, maps): refused when the
    events or the features need them, left out with a warning (as read_events does) when
    only exact duplicates would have compared them."""
    if src.kind in TEXT_KINDS:  # text cells: nothing nested
        return needed
    if src.frame is not None:
        kinds = {c: _nested_kind(src.frame[c]) for c in needed}
    else:
        kinds = {}
        for i, f in enumerate(src.files):
            schema = pq.read_schema(f)
            for c in needed:
                if str(c) in src.partition(i):
                    continue  # text from the folder's name
                t = _plain_type(schema.field(str(c)).type)
                if pa.types.is_nested(t):
                    kinds[c] = (
                        "struct"
                        if pa.types.is_struct(t)
                        else ("map" if pa.types.is_map(t) else "list")
                    )
    nested = {c: k for c, k in kinds.items() if k is not None}
    if not nested:
        return needed
    attributes = set(_attribute_columns(bundle))
    canonical = {str(v): k for k, v in resolved.items()}
    for c, kind in nested.items():
        if str(c) in canonical or str(c) in attributes:
            role = (
                f"the {canonical[str(c)]} column"
                if str(c) in canonical
                else "a customer attribute of the model"
            )
            raise SchemaError(
                f"Column {str(c)!r} holds nested values ({kind}), but it is {role}: cjml reads "
                "only plain values there (text, numbers, dates, true/false). Fix: flatten it "
                "into a plain column (e.g. df['plan'] = df['meta'].str['plan']) of the same "
                "name, or retrain without it."
            )
    _warn_nested_left_out(nested, stacklevel=3)
    return needed - set(nested)


def _check_event_columns(bundle, resolved, available) -> None:
    have = set(resolved) | {str(c) for c in available}
    missing = sorted(set(bundle.metadata.get("event_columns", [])) - have)
    if missing:
        raise BundleError(
            f"The events lack column(s) {missing!r} that the model was trained "
            "with; its features from them would be empty. Add them (map your "
            "names with columns=... / --columns), or retrain without them."
        )


def _read_customer_list(customers, resolved, missing_ids=(), encoding=None) -> np.ndarray:
    """The listed ids as an object array of distinct values, in the order given (a CSV list
    in ``encoding``, as the events)."""
    user_col = resolved.get("customer_id", "customer_id")
    return _read_id_list(customers, user_col, missing_ids, encoding)[0]


def _list_as_arrow(listed: np.ndarray, raw_type: pa.DataType, resolved) -> pa.Array:
    """The listed ids in the type of the events' customer column, for filtering."""
    if pa.types.is_integer(raw_type) or pa.types.is_floating(raw_type):
        numbers = pd.to_numeric(
            pd.Series(listed, dtype=object).astype(str).str.strip(), errors="coerce"
        )
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(values)
        if pa.types.is_integer(raw_type):
            bad = bad | (values != np.round(values))
        if bad.any():
            shown = listed[bad][:_MAX_SHOWN].tolist()
            raise SchemaError(
                f"The customer list has ids that are not numbers ({shown!r}, "
                f"{int(bad.sum()):,} in all), but the events' customer ids are "
                "numbers: they could match no customer. Fix: correct the list."
            )
        if pa.types.is_integer(raw_type):
            return pa.array(values.astype(np.int64)).cast(raw_type)
        return pa.array(values).cast(raw_type)
    return pa.array([_id_text(v) for v in listed], type=pa.string())


def _hash_values(values: np.ndarray) -> str:
    text = "\x00".join(sorted(_id_text(v) for v in values))
    return hashlib.sha256(text.encode()).hexdigest()
