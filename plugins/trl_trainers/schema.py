"""TRL / PEFT config schemas cached per installed version, so ``validate`` need not import TRL.

Importing ``trl.SFTConfig`` pulls in transformers' TrainingArguments, torch and peft
(5-20 s). The checks :mod:`.params` runs need far less: each config class's field
names, their type annotations, declared choices, and the outcome of building the real
config once. Those are computed from the real classes the first time (cold) and stored
as small JSON files under the harness cache dir, in a folder keyed by the installed
``trl``, ``transformers``, ``peft``, ``accelerate`` and ``torch`` versions and a hash of
this plugin's code. Another version, or edited plugin code, is another folder (a miss);
an unreadable or malformed file is regenerated.

What is stored:

* ``<Class>.schema``: per field, its annotation as a small type tree (``int``,
  ``list[str] | None``, a ``Literal``, an enum as the ``Literal`` of its values) that
  :func:`annotation` rebuilds without importing anything, the text messages name it
  by, its default (when JSON-able) and its declared choices. A field whose type the
  tree cannot express (a nested dataclass such as ``peft.LoraRuntimeConfig``) is
  marked opaque: a recipe that sets it is checked against the real class.
* ``builds/<hash>.schema``: the result (no error, or the error) of building the real
  config from exactly these keyword arguments. The arguments include the device
  defaults, so a different device is a different entry.
* ``device-<hash>.schema``: :func:`harness.pick_device`'s answer and the device
  defaults, keyed by what decides them without importing torch (``HARNESS_DEVICE``,
  ``*_VISIBLE_DEVICES``, the platform, the ``/dev/nvidia*`` nodes, torch's version).

``harness cache clear`` removes it all; the next ``validate`` regenerates it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
import platform
import sys
import typing
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Union

import harness

#: Bump when the stored layout changes.
FORMAT = 1
LIBRARIES = ("trl", "transformers", "peft", "accelerate", "torch")
_HERE = Path(__file__).resolve().parent
_CODE = ("params.py", "config.py", "schema.py")


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:20]


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a schema depends on, read without importing them."""
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def version_key(versions: dict[str, str | None] | None = None) -> str:
    """The cache folder's name: format, Python, library versions and this plugin's code."""
    return _installed_key() if versions is None else _key(versions)


@functools.lru_cache(maxsize=1)
def _installed_key() -> str:
    return _key(library_versions())


def _key(versions: dict[str, str | None]) -> str:
    code = {name: hashlib.sha256((_HERE / name).read_bytes()).hexdigest() for name in _CODE}
    return _hash({"format": FORMAT, "python": sys.version_info[:2], "versions": versions,
                  "code": code})


def schema_dir(versions: dict[str, str | None] | None = None) -> Path:
    """``<harness cache dir>/trl-schemas/<key of the installed versions>``."""
    return harness.default_cache_dir() / "trl-schemas" / version_key(versions)


def _read(path: Path) -> Any:
    """The stored JSON, or ``None`` when missing or unreadable (then the caller regenerates it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _write(path: Path, data: dict) -> None:
    """Atomic write; a cache that cannot be written is only a slower next run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, **data}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


# ------------------------------------------------------------------ type trees

_SIMPLE: dict[Any, str] = {bool: "bool", int: "int", float: "float", str: "str", type(None): "none",
                           dict: "dict", list: "list", tuple: "tuple", Any: "any"}
_BY_NAME = {v: k for k, v in _SIMPLE.items()}


class Opaque(Exception):
    """An annotation the type tree cannot express."""


def type_tree(annotation: Any) -> Any:
    """A JSON form of an annotation: ``"int"``, ``["union", ...]``, ``["list", x]``, ``["literal", ...]``."""
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [m.value for m in annotation]
        if all(isinstance(v, (str, int, float, bool)) for v in values):
            return ["literal", *values]
        raise Opaque(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        if all(isinstance(v, (str, int, float, bool)) or v is None for v in args):
            return ["literal", *args]
        raise Opaque(annotation)
    if origin is Union or (origin is not None and type(annotation).__name__ == "UnionType"):
        return ["union", *(type_tree(a) for a in args)]
    if origin in (list, dict, tuple) and args:
        return [_SIMPLE[origin], *("..." if a is Ellipsis else type_tree(a) for a in args)]
    raise Opaque(annotation)


def annotation(tree: Any) -> Any:
    """The annotation a type tree stands for (builtins, ``Union``, ``Literal``: nothing imported)."""
    if isinstance(tree, str):
        return _BY_NAME[tree]
    kind, *args = tree
    if kind == "literal":
        return Literal[tuple(args)]
    if kind == "union":
        return Union[tuple(annotation(a) for a in args)]
    params = tuple(Ellipsis if a == "..." else annotation(a) for a in args)
    return _BY_NAME[kind][params if len(params) > 1 else params[0]]


def type_label(annotation_: Any) -> str:
    """How a type error names the expected type (``int``, ``float | None``)."""
    return getattr(annotation_, "__name__", None) or str(annotation_).replace("typing.", "")


# ------------------------------------------------------------------ schemas

@dataclasses.dataclass(frozen=True)
class Schema:
    """The recipe-facing shape of one config dataclass."""

    label: str
    types: dict[str, Any]          # field -> rebuilt annotation (opaque fields: Any)
    labels: dict[str, str]         # field -> the real annotation's text, for messages
    choices: dict[str, tuple]
    defaults: dict[str, Any]
    opaque: frozenset[str]


def describe(dataclass_type, label: str) -> dict[str, Any]:
    """The JSON-able schema of a real config dataclass (the cold path: the class is imported)."""
    hints = typing.get_type_hints(dataclass_type)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(dataclass_type):
        if not f.init:
            continue
        ann = hints.get(f.name, Any)
        entry: dict[str, Any] = {"label": type_label(ann)}
        try:
            entry["type"] = type_tree(ann)
        except Opaque:
            entry["type"] = None
        if f.metadata.get("choices"):
            entry["choices"] = list(f.metadata["choices"])
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        try:
            entry["default"] = json.loads(json.dumps(getattr(default, "value", default)))
        except (TypeError, ValueError):
            entry["default"] = repr(default)
        fields[f.name] = entry
    return {"label": label, "fields": fields}


def _schema(data: dict[str, Any]) -> Schema:
    fields = data["fields"]
    return Schema(
        label=data["label"],
        types={k: Any if e["type"] is None else annotation(e["type"]) for k, e in fields.items()},
        labels={k: e["label"] for k, e in fields.items()},
        choices={k: tuple(e["choices"]) for k, e in fields.items() if e.get("choices")},
        defaults={k: e.get("default") for k, e in fields.items()},
        opaque=frozenset(k for k, e in fields.items() if e["type"] is None))


def cached_schema(name: str, load_class, label: str) -> Schema:
    """The schema of config class ``name``: from the cache, else from ``load_class()`` (then stored)."""
    path = schema_dir() / f"{name.replace('.', '_')}.schema"
    data = _read(path)
    if data is not None:
        try:
            return _schema(data)
        except (KeyError, TypeError, ValueError, IndexError):
            pass  # malformed: regenerate
    data = describe(load_class(), label)
    _write(path, data)
    return _schema(data)


# ------------------------------------------------------------------ build outcomes and the device

def cached_outcome(kind: str, key: Any, compute) -> Any:
    """``compute()`` (a JSON-able outcome of building a real config), remembered under ``key``."""
    path = schema_dir() / "builds" / f"{kind}-{_hash(key)}.schema"
    data = _read(path)
    if data is not None and data.get("key") == json.loads(json.dumps(key, sort_keys=True, default=repr)):
        return data["outcome"]
    outcome = compute()
    _write(path, {"key": key, "outcome": outcome})
    return outcome


def device_signature() -> dict[str, Any]:
    """What decides :func:`harness.pick_device`'s answer, read without importing torch."""
    try:
        nodes = sorted(n for n in os.listdir("/dev") if n.startswith(("nvidia", "kfd", "dri")))
    except OSError:
        nodes = []
    env = {k: os.environ.get(k) for k in ("HARNESS_DEVICE", "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
                                           "ROCR_VISIBLE_DEVICES", "PYTORCH_ENABLE_MPS_FALLBACK",
                                           "LOCAL_RANK", "WORLD_SIZE")}
    return {"env": env, "dev": nodes, "platform": [platform.system(), platform.machine()],
            "torch": library_versions()["torch"]}


def cached_device(compute) -> dict[str, Any]:
    """``{"device", "dtype", "defaults"}`` for this machine, recomputed when its signature changes."""
    return cached_outcome("device", device_signature(), compute)


# ------------------------------------------------------------------ TRL classes by name


def trl_class(name: str):
    """``"DPOConfig"`` -> ``trl.DPOConfig``; a dotted name (``trl.experimental.orpo.ORPOConfig``) as written."""
    import importlib

    module, _, attr = (name if "." in name else f"trl.{name}").rpartition(".")
    return getattr(importlib.import_module(module), attr)


def trl_label(name: str) -> str:
    """How messages name a TRL class: ``trl.DPOConfig``, ``trl.experimental.orpo.ORPOConfig``."""
    return name if "." in name else f"trl.{name}"


def trl_config_class(trainer_cls):
    return trl_class(trainer_cls.config_class)
