"""Recipe parameters of the TRL trainers, checked against TRL's and PEFT's own dataclasses.

The schema is not copied here: the keys are the fields of ``trl.SFTConfig`` /
``trl.DPOConfig`` (and ``peft.LoraConfig`` for the ``lora`` table) in the
installed versions, their types come from the dataclass annotations, and the
cross-field rules run by building the real config once. All three are read from
the real classes on first use and cached per installed version (:mod:`.schema`),
so a warm ``validate`` imports neither TRL nor torch.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import tempfile
import typing
from typing import Any

import harness

from . import schema as _schema
from .schema import trl_class, trl_config_class, trl_label

#: Config keys the harness sets; a recipe may not.
HARNESS_OWNED = {
    "output_dir": "set by the harness to the stage's folder in the run record; remove it",
}

#: LoraConfig fields PEFT or the harness fills in.
LORA_OWNED = {
    "peft_type": "always LORA for the `lora` table",
    "auto_mapping": "filled in by PEFT",
    "peft_version": "filled in by PEFT",
    "base_model_name_or_path": "filled in by PEFT from the model",
    "revision": "the model is already loaded; no hub revision applies",
    "inference_mode": "the adapter is trained, then merged; it is never in inference mode",
}

CHECKPOINTING_ALIASES = ("gradient_checkpointing", "activation_checkpointing")


@functools.lru_cache(maxsize=None)
def field_types(dataclass_type) -> dict[str, Any]:
    """``{field name: type annotation}`` of a dataclass's init fields."""
    hints = typing.get_type_hints(dataclass_type)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(dataclass_type) if f.init}


@functools.lru_cache(maxsize=None)
def field_choices(dataclass_type) -> dict[str, tuple]:
    """Allowed values a field declares in its metadata (TRL's ``loss_type``, ``packing_strategy``...)."""
    return {f.name: tuple(f.metadata["choices"]) for f in dataclasses.fields(dataclass_type)
            if f.init and f.metadata.get("choices")}


def _suggest(key: str, known) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def config_schema(trainer_cls) -> _schema.Schema:
    """The cached schema of the trainer's TRL config (generated from the real class on a miss)."""
    name = trainer_cls.config_class
    return _schema.cached_schema(name, lambda: trl_class(name), trl_label(name))


def lora_schema() -> _schema.Schema:
    def load():
        from peft import LoraConfig

        return LoraConfig

    return _schema.cached_schema("peft.LoraConfig", load, "peft.LoraConfig")


def _types(schema: _schema.Schema, keys, load_class) -> tuple[dict[str, Any], dict[str, str]]:
    """Annotations to check ``keys`` against: the cached ones, or the real class's when a key is opaque."""
    if schema.opaque & set(keys):
        real = field_types(load_class())
        return real, {k: _schema.type_label(t) for k, t in real.items()}
    return schema.types, schema.labels


def _type_error(annotation: Any, value: Any, label: str | None = None) -> str | None:
    """Check ``value`` against a dataclass annotation (pydantic, lax). ``None`` when it fits.

    A single value where a list is expected is accepted (TRL itself wraps
    ``loss_type = "ipo"`` into ``["ipo"]``).
    """
    from pydantic import ValidationError

    try:
        adapter = _adapter(annotation)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot model: let TRL check it
        return None
    for candidate in (value, [value]):
        try:
            adapter.validate_python(candidate)
            return None
        except ValidationError:
            continue
    return f"expected {label or _schema.type_label(annotation)}, got {value!r}"


@functools.lru_cache(maxsize=None)
def _adapter(annotation):
    from pydantic import TypeAdapter

    return TypeAdapter(annotation)


def check_keys(params: dict[str, Any], types: dict[str, Any], *, owned: dict[str, str],
               unknown_msg: str, prefix: str = "", extra_known=(),
               choices: dict[str, tuple] | None = None,
               labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Errors for unknown, harness-owned, ill-typed and out-of-choice keys."""
    choices = choices or {}
    labels = labels or {}
    errors = []
    for key, value in params.items():
        path = f"{prefix}{key}"
        if key in owned:
            errors.append((path, f"not a recipe key: {owned[key]}"))
        elif key not in types:
            errors.append((path, unknown_msg + _suggest(key, set(types) | set(extra_known))))
        else:
            problem = _type_error(types[key], value, labels.get(key))
            if not problem and key in choices and value not in choices[key]:
                problem = f"expected one of {', '.join(map(repr, choices[key]))}, got {value!r}"
            if problem:
                errors.append((path, problem))
    return errors


def validate_lora(lora: Any) -> list[tuple[str, str]]:
    if lora is True:
        return []
    if not isinstance(lora, dict):
        return [("lora", f"expected a table of peft.LoraConfig fields (e.g. {{r = 8, lora_alpha = 16, "
                         f"target_modules = \"all-linear\"}}), got {lora!r}")]
    def load():
        from peft import LoraConfig

        return LoraConfig

    types, labels = _types(lora_schema(), lora, load)
    errors = check_keys(lora, types, owned=LORA_OWNED, prefix="lora.", labels=labels,
                        unknown_msg="unknown key (not a field of peft.LoraConfig)")
    task = lora.get("task_type", "CAUSAL_LM")
    if str(getattr(task, "value", task)) != "CAUSAL_LM":
        errors.append(("lora.task_type", f"only CAUSAL_LM adapters train a causal LM; got {task!r}"))
    if not errors:
        def build() -> str | None:
            try:
                lora_config(lora)
            except Exception as exc:  # noqa: BLE001 - PEFT raises ValueError/TypeError with a useful text
                return str(exc)
            return None

        problem = _schema.cached_outcome("lora", {"lora": lora}, build)
        if problem is not None:
            errors.append(("lora", f"peft.LoraConfig rejected it: {problem}"))
    return errors


def lora_config(lora: dict | bool):
    """A ``peft.LoraConfig`` for a causal LM from the recipe's ``lora`` table."""
    from peft import LoraConfig

    kwargs = {} if lora is True else dict(lora)
    kwargs.setdefault("task_type", "CAUSAL_LM")
    return LoraConfig(**copy.deepcopy(kwargs))


def validate_params(trainer_cls, params: dict[str, Any]) -> dict[str, Any]:
    """Check recipe keys against the TRL config; return them unchanged (JSON-able) for the record."""
    schema = config_schema(trainer_cls)
    params = copy.deepcopy(dict(params))
    lora = params.pop("lora", None)
    types, labels = _types(schema, params, lambda: trl_config_class(trainer_cls))
    errors = check_keys(
        params, types, owned=HARNESS_OWNED, extra_known=("lora",), choices=schema.choices, labels=labels,
        unknown_msg=f"unknown key for trainer '{trainer_cls.name}' (not a field of {trl_label(trainer_cls.config_class)})")
    both = [k for k in CHECKPOINTING_ALIASES if k in params]
    if len(both) == 2 and params[both[0]] != params[both[1]]:
        errors.append(("gradient_checkpointing", "contradicts activation_checkpointing (its new name in "
                                                 "transformers 5); set only one of them"))
    if lora is not None:
        errors += validate_lora(lora)
    if not errors:
        errors += _build_check(trainer_cls, params)
    if errors:
        raise harness.ParamError(errors)
    if lora is not None:
        params["lora"] = lora
    return params


def device_and_defaults() -> dict[str, Any]:
    """This machine's device, dtype and the harness's device defaults (cached: no torch import when warm)."""
    def probe() -> dict[str, Any]:
        from harness import pick_device

        from .config import device_defaults

        device, dtype = pick_device()
        return {"device": device, "dtype": dtype, "defaults": device_defaults(device, dtype)}

    return _schema.cached_device(probe)


def _build_check(trainer_cls, params: dict[str, Any]) -> list[tuple[str, str]]:
    """Build the real config once (with this machine's defaults) so TRL's own cross-field rules run.

    The outcome is remembered per exact keyword arguments (device defaults included) and
    installed versions, so validating the same stage again does not import TRL.
    """
    from .config import build_config, resolve_kwargs

    machine = device_and_defaults()
    device, dtype = machine["device"], machine["dtype"]
    kwargs, _ = resolve_kwargs(params, device=device, dtype=dtype, output_dir="<output_dir>", seed=0,
                               defaults=machine["defaults"])

    def build() -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                build_config(trainer_cls, params, device=device, dtype=dtype, output_dir=tmp, seed=0,
                             defaults=machine["defaults"])
            except Exception as exc:  # noqa: BLE001 - TrainingArguments raises ValueError/TypeError/...
                return str(exc)
        return None

    text = _schema.cached_outcome("config", {"class": trainer_cls.config_class, "kwargs": kwargs}, build)
    if text is None:
        return []
    keys = [k for k, v in params.items()
            if k in text or (isinstance(v, str) and len(v) > 2 and v in text)] or [""]
    return [(keys[0], f"{trl_label(trainer_cls.config_class)} rejected the parameters: {text}")]
