"""The bundle's file format: fitted state as JSON, numpy arrays, Parquet and LightGBM text.

A bundle must never run code when it is loaded, so it is not a pickle. The
object graph (featurizer, models, journey map, metadata) is written as one zip
file holding

- ``state.json``: the graph as JSON. Every JSON object in it is a tagged node
  (``{"$": "dict", ...}``, ``{"$": "object", "class": ..., "state": ...}``, ...);
  lists, strings, numbers, booleans and null stand for themselves;
- ``arrays/N.npy``: numeric, boolean, text and datetime arrays, read with
  ``numpy.load(allow_pickle=False)``;
- ``frames/N.parquet``: pandas tables;
- ``boosters/N.txt``: LightGBM models as LightGBM's own text dump.

Objects are rebuilt only for the classes listed in :data:`_ALLOWED_CLASSES`
(cjml's fitted classes and a few scikit-learn estimators), by creating a bare
instance and restoring its attributes: a class name in the file that is not on
the list is refused, and nothing in the file is ever evaluated or imported.
Saving fails loudly, naming the attribute, when a fitted object holds anything
else (a function, a file handle, a type this codec does not know), so a new
model cannot silently become unsaveable.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

__all__ = ["CodecError", "read_state", "write_state"]

STATE_ENTRY = "state.json"
_ENTRY = re.compile(r"^(arrays/\d+\.npy|frames/\d+\.parquet|boosters/\d+\.txt)$")
_MAX_DEPTH = 200
# The numpy dtype kinds an array entry may have: no objects, no void/structured.
_ARRAY_KINDS = set("biufcmMUS")
# Nodes that keep their identity: a second reference to the same object reads back as it.
_SHAREABLE = ("object", "booster", "journey_map")

# Classes a bundle may rebuild: (module, qualified name). The module is imported
# by this code, never because a file names it.
_ALLOWED_CLASSES = (
    ("cjml.features._featurizer", "JourneyFeaturizer"),
    ("cjml.features._activity", "ActivityFeatures"),
    ("cjml.features._attributes", "AttributeFeatures"),
    ("cjml.features._btyd", "BtydFeatures"),
    ("cjml.features._experience", "ExperienceFeatures"),
    ("cjml.features._memory", "MemoryFeatures"),
    ("cjml.features._sequences", "SequenceFeatures"),
    ("cjml.features._stages", "StageFeatures"),
    ("cjml.features._support", "SupportFeatures"),
    ("cjml.features._touchpoints", "TouchpointFeatures"),
    ("cjml.features._value", "ValueFeatures"),
    ("cjml.journey", "Touchpoint"),
    ("cjml.models", "ChurnModel"),
    ("cjml.models", "NextStageModel"),
    ("cjml.survival", "SurvivalModel"),
    ("cjml.recommend", "TouchpointResponseModel"),
    ("cjml.effects", "DoublyRobustEffects"),
    ("cjml.effects", "PolicyChoice"),
    ("cjml.value._model", "ValueModel"),
    ("lightgbm.sklearn", "LGBMClassifier"),
    ("lightgbm.sklearn", "LGBMRegressor"),
    ("sklearn.isotonic", "IsotonicRegression"),
    ("sklearn.preprocessing._label", "LabelEncoder"),
    ("sklearn.linear_model._logistic", "LogisticRegression"),
    ("sklearn.preprocessing._data", "StandardScaler"),
    ("sklearn.pipeline", "Pipeline"),
)


class CodecError(ValueError):
    """The object graph cannot be written safely, or a file is not a valid bundle."""


def _allowed() -> dict[str, type[Any]]:
    return {
        f"{module}.{name}": getattr(importlib.import_module(module), name)
        for module, name in _ALLOWED_CLASSES
    }


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ----------------------------------------------------------------------------- writing


class _Writer:
    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.allowed = {cls: name for name, cls in _allowed().items()}
        self._active: set[int] = set()
        # Objects met before, by id, with the object (kept alive so ids stay unique): a
        # model shared by two others (the next-stage model's churn model) stays shared.
        self._shared: dict[int, tuple[int, Any]] = {}

    def _entry(self, folder: str, suffix: str, data: bytes) -> str:
        name = f"{folder}/{sum(e.startswith(folder) for e in self.entries)}.{suffix}"
        self.entries[name] = data
        return name

    def encode(self, obj: Any, where: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise CodecError(f"{where} is nested more than {_MAX_DEPTH} levels deep.")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and type(obj) is int:
            return obj
        if isinstance(obj, float) and type(obj) is float:
            return obj if np.isfinite(obj) else {"$": "float", "value": repr(obj)}
        if id(obj) in self._active:
            raise CodecError(f"{where} refers back to itself; a bundle holds a tree of values.")
        self._active.add(id(obj))
        try:
            return self._encode_compound(obj, where, depth)
        finally:
            self._active.discard(id(obj))

    def _encode_compound(self, obj: Any, where: str, depth: int) -> Any:
        if id(obj) in self._shared:
            return {"$": "ref", "id": self._shared[id(obj)][0]}
        node = self._encode_value(obj, where, depth)
        if isinstance(node, dict) and node["$"] in _SHAREABLE:
            number = len(self._shared)
            self._shared[id(obj)] = (number, obj)
            node["id"] = number
        return node

    def _encode_value(self, obj: Any, where: str, depth: int) -> Any:
        sub = depth + 1
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]", sub) for i, v in enumerate(obj)]
        if isinstance(obj, tuple) and type(obj) is tuple:
            return {
                "$": "tuple",
                "items": [self.encode(v, f"{where}[{i}]", sub) for i, v in enumerate(obj)],
            }
        if isinstance(obj, (set, frozenset)):
            items = sorted(obj, key=repr)
            return {
                "$": type(obj).__name__,
                "items": [self.encode(v, f"{where}{{}}", sub) for v in items],
            }
        if isinstance(obj, dict):
            return {
                "$": "dict",
                "items": [
                    [self.encode(k, f"{where} key", sub), self.encode(v, f"{where}[{k!r}]", sub)]
                    for k, v in obj.items()
                ],
            }
        if isinstance(obj, np.ndarray):
            return self._array(obj, where, sub)
        if isinstance(obj, np.generic):
            if obj.dtype.kind not in _ARRAY_KINDS | {"b"}:
                raise CodecError(
                    f"{where} is a numpy {obj.dtype} scalar, which a bundle cannot hold."
                )
            return {"$": "scalar", "entry": self._npy(np.asarray(obj))}
        if isinstance(obj, pd.DataFrame):
            return {"$": "frame", "entry": self._parquet(obj, where)}
        if isinstance(obj, pd.Series):
            frame = obj.to_frame(name="values")
            return {
                "$": "series",
                "entry": self._parquet(frame, where),
                "name": self.encode(obj.name, f"{where}.name", sub),
            }
        if isinstance(obj, pd.Index):
            return {"$": "index", "entry": self._parquet(pd.DataFrame(index=obj), where)}
        if isinstance(obj, pd.Timedelta):
            return {"$": "timedelta", "ns": int(obj.value)}
        if isinstance(obj, pd.Timestamp):
            return {
                "$": "timestamp",
                "ns": int(obj.value),
                "tz": None if obj.tz is None else str(obj.tz),
            }
        if _is_booster(obj):
            return {
                "$": "booster",
                "entry": self._entry(
                    "boosters", "txt", obj.model_to_string(num_iteration=-1).encode()
                ),
                "best_iteration": int(getattr(obj, "best_iteration", 0) or 0),
            }
        from cjml.journey import JourneyMap

        if type(obj) is JourneyMap:
            return {"$": "journey_map", "value": self.encode(obj.to_dict(), where, sub)}
        name = self.allowed.get(type(obj))
        if name is None:
            raise CodecError(
                f"{where} is a {_class_name(type(obj))}, which a bundle cannot "
                "hold safely. Store its data as numbers, text, arrays or tables, "
                "or add the class to cjml._bundle_codec._ALLOWED_CLASSES."
            )
        state = obj.__getstate__()
        if not isinstance(state, dict):
            raise CodecError(f"{where} ({name}) has a state that is not a dictionary.")
        return {
            "$": "object",
            "class": name,
            "state": self.encode(state, f"{where}.{type(obj).__name__}", sub),
        }

    def _npy(self, array: np.ndarray) -> str:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return self._entry("arrays", "npy", buffer.getvalue())

    def _array(self, array: np.ndarray, where: str, depth: int) -> Any:
        if array.dtype.kind in _ARRAY_KINDS or array.dtype == bool:
            return {"$": "array", "entry": self._npy(array)}
        if array.dtype.kind == "O":
            return {
                "$": "object_array",
                "shape": list(array.shape),
                "items": [
                    self.encode(v, f"{where}[{i}]", depth)
                    for i, v in enumerate(array.ravel().tolist())
                ],
            }
        raise CodecError(f"{where} is a numpy array of {array.dtype}, which a bundle cannot hold.")

    def _parquet(self, frame: pd.DataFrame, where: str) -> str:
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=True, compression="zstd")
        except (TypeError, ValueError, ImportError) as err:
            raise CodecError(f"{where} is a table that Parquet cannot hold: {err}") from None
        return self._entry("frames", "parquet", buffer.getvalue())


def _is_booster(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "Booster" and cls.__module__.startswith("lightgbm")


def write_state(root: Any, path: str | Path) -> None:
    """Write ``root`` (the bundle's object graph) to a new zip file at ``path``.

    Parameters
    ----------
    root : object
        Dictionaries, lists, tuples, sets, scalars, numpy arrays, pandas
        objects, LightGBM boosters, journey maps and instances of the allowed
        classes, nested.
    path : str or Path
        The file to write (created or truncated).

    Raises
    ------
    CodecError
        When the graph holds anything else; the message names where.
    """
    writer = _Writer()
    state = writer.encode(root, "bundle")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(
            STATE_ENTRY, json.dumps({"$": "cjml-bundle", "root": state}, separators=(",", ":"))
        )
        for name, data in writer.entries.items():
            zf.writestr(name, data)


# ----------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, classes: dict[str, type[Any]]) -> None:
        self.zf = zf
        self.classes = classes
        self.names = set(zf.namelist())
        self.shared: dict[int, Any] = {}

    def _bytes(self, entry: Any) -> bytes:
        if not isinstance(entry, str) or not _ENTRY.match(entry) or entry not in self.names:
            raise CodecError(f"it refers to an entry {str(entry)[:80]!r} that it does not hold")
        return self.zf.read(entry)

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise CodecError(f"it is nested more than {_MAX_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        sub = depth + 1
        if isinstance(node, list):
            return [self.decode(v, sub) for v in node]
        if not isinstance(node, dict):
            raise CodecError(f"it holds a {type(node).__name__} where a value belongs")
        tag = node.get("$")
        # a tag that is not text (e.g. a list) names no kind: refused like an unknown one
        handler = self._handlers.get(tag) if isinstance(tag, str) else None
        if handler is None:
            raise CodecError(f"it holds an unknown kind of value {str(tag)[:40]!r}")
        try:
            value = handler(self, node, sub)
        except KeyError as missing:
            raise CodecError(f"a {tag!r} value lacks its {missing} field") from None
        if tag in _SHAREABLE and "id" in node:
            if not isinstance(node["id"], int) or node["id"] in self.shared:
                raise CodecError("two values claim the same id")
            self.shared[node["id"]] = value
        return value

    def _ref(self, node: dict, depth: int) -> Any:
        number = node["id"]
        if not isinstance(number, int) or isinstance(number, bool) or number not in self.shared:
            raise CodecError("a reference points to no earlier value")
        return self.shared[number]

    def _items(self, node: dict, depth: int) -> list:
        items = node["items"]
        if not isinstance(items, list):
            raise CodecError(f"a {node['$']!r} value has items that are not a list")
        return [self.decode(v, depth) for v in items]

    def _dict(self, node: dict, depth: int) -> dict:
        out = {}
        for pair in node["items"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError("a dictionary entry is not a [key, value] pair")
            key = self.decode(pair[0], depth)
            try:
                out[key] = self.decode(pair[1], depth)
            except TypeError:
                raise CodecError("a dictionary key is not hashable") from None
        return out

    def _float(self, node: dict, depth: int) -> float:
        if node["value"] not in ("nan", "inf", "-inf"):
            raise CodecError(f"a float is {str(node['value'])[:20]!r}")
        return float(node["value"])

    def _load_npy(self, node: dict) -> np.ndarray:
        try:
            array = np.load(io.BytesIO(self._bytes(node["entry"])), allow_pickle=False)
        except ValueError as err:  # numpy refuses object arrays without pickle
            raise CodecError(f"an array entry is not a plain numpy array ({err})") from None
        if not isinstance(array, np.ndarray) or not (
            array.dtype.kind in _ARRAY_KINDS or array.dtype == bool
        ):
            raise CodecError("an array entry is not a plain numeric or text array")
        return array

    def _array(self, node: dict, depth: int) -> np.ndarray:
        return self._load_npy(node)

    def _scalar(self, node: dict, depth: int) -> Any:
        array = self._load_npy(node)
        if array.ndim != 0:
            raise CodecError("a scalar entry holds an array")
        return array[()]

    def _object_array(self, node: dict, depth: int) -> np.ndarray:
        items = self._items(node, depth)
        shape = node["shape"]
        if not (
            isinstance(shape, list)
            and all(isinstance(s, int) and s >= 0 for s in shape)
            and int(np.prod(shape)) == len(items)
        ):
            raise CodecError("an object array's shape does not match its items")
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)

    def _read_parquet(self, node: dict) -> pd.DataFrame:
        try:
            return pd.read_parquet(io.BytesIO(self._bytes(node["entry"])))
        except CodecError:
            raise
        except Exception as err:  # pyarrow's errors are of many kinds; all mean "damaged"
            raise CodecError(f"a table entry is not valid Parquet ({type(err).__name__})") from None

    def _frame(self, node: dict, depth: int) -> pd.DataFrame:
        return self._read_parquet(node)

    def _series(self, node: dict, depth: int) -> pd.Series:
        frame = self._read_parquet(node)
        if list(frame.columns) != ["values"]:
            raise CodecError("a series entry does not hold one column")
        return frame["values"].rename(self.decode(node["name"], depth))

    def _index(self, node: dict, depth: int) -> pd.Index:
        return self._read_parquet(node).index

    def _timedelta(self, node: dict, depth: int) -> pd.Timedelta:
        if not isinstance(node["ns"], int):
            raise CodecError("a time span is not a whole number of nanoseconds")
        return pd.Timedelta(node["ns"], unit="ns")

    def _timestamp(self, node: dict, depth: int) -> pd.Timestamp:
        if not isinstance(node["ns"], int) or not isinstance(node["tz"], (str, type(None))):
            raise CodecError("a timestamp is malformed")
        tz = node["tz"]
        try:
            return pd.Timestamp(node["ns"], unit="ns", tz=tz)
        except Exception:
            where = "" if tz is None else f" or has an unknown time zone {tz[:40]!r}"
            raise CodecError(f"a timestamp is out of range{where}") from None

    def _booster(self, node: dict, depth: int) -> Any:
        import lightgbm as lgb

        text = self._bytes(node["entry"]).decode("utf-8", errors="strict")
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as err:
            raise CodecError(f"a LightGBM model entry does not parse ({err})") from None
        best = node.get("best_iteration", 0)
        booster.best_iteration = best if isinstance(best, int) else 0
        return booster

    def _journey_map(self, node: dict, depth: int) -> Any:
        from cjml.journey import JourneyMap

        return JourneyMap.from_dict(self.decode(node["value"], depth))

    def _object(self, node: dict, depth: int) -> Any:
        name = node["class"]
        cls = self.classes.get(name) if isinstance(name, str) else None
        if cls is None:
            raise CodecError(f"it asks for a class {str(name)[:80]!r} that bundles may not hold")
        state = self.decode(node["state"], depth)
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise CodecError(f"the state of a {name} is not a dictionary of attributes")
        # mypy reads __new__ on a type[Any] as the metaclass's type.__new__
        obj = cls.__new__(cls)  # type: ignore[call-overload]
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)  # e.g. scikit-learn's, which checks versions
        else:
            obj.__dict__.update(state)
        return obj

    _handlers: ClassVar[dict[str, Callable[[_Reader, dict, int], Any]]] = {
        "dict": _dict,
        "tuple": lambda self, n, d: tuple(self._items(n, d)),
        "set": lambda self, n, d: set(self._items(n, d)),
        "frozenset": lambda self, n, d: frozenset(self._items(n, d)),
        "float": _float,
        "array": _array,
        "scalar": _scalar,
        "object_array": _object_array,
        "frame": _frame,
        "series": _series,
        "index": _index,
        "timedelta": _timedelta,
        "timestamp": _timestamp,
        "booster": _booster,
        "journey_map": _journey_map,
        "object": _object,
        "ref": _ref,
    }


def read_state(path: str | Path) -> Any:
    """Read the object graph of a bundle file written by :func:`write_state`.

    Parameters
    ----------
    path : str or Path
        The bundle file (a zip).

    Returns
    -------
    object
        The graph; objects only of the allowed classes.

    Raises
    ------
    CodecError
        When the file is not such a zip, or anything in it is malformed or of a
        kind a bundle may not hold. Nothing in the file is evaluated.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                document = json.loads(zf.read(STATE_ENTRY).decode("utf-8"))
            except KeyError:
                raise CodecError(f"it has no {STATE_ENTRY}") from None
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raise CodecError(f"its {STATE_ENTRY} is not valid JSON") from None
            if not isinstance(document, dict) or document.get("$") != "cjml-bundle":
                raise CodecError(f"its {STATE_ENTRY} is not a cjml bundle's")
            try:
                return _Reader(zf, _allowed()).decode(document.get("root"))
            except CodecError:
                raise
            except RecursionError:
                raise CodecError("it is nested too deeply") from None
            except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
                # e.g. a journey map or an estimator's state that does not validate
                raise CodecError(
                    f"a value in it is malformed ({type(err).__name__}: {str(err)[:200]})"
                ) from None
    except zipfile.BadZipFile:
        raise CodecError("it is not a zip file") from None
    except (zipfile.LargeZipFile, NotImplementedError, EOFError) as err:
        raise CodecError(f"its zip is not readable ({err})") from None
