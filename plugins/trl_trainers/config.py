"""The TRL config a stage trains with: harness defaults for the device, then the recipe on top.

TRL 1.x defaults suit a GPU (``bf16=True``, ``gradient_checkpointing=True``,
reports to every installed tracker). The harness picks defaults from
:func:`harness.runtime.pick_device` so the same recipe trains on a laptop CPU
and on a CUDA card, and records what it picked.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

import harness

from .schema import trl_config_class, trl_label


def device_defaults(device: str, dtype: str) -> dict[str, Any]:
    """Defaults the harness sets instead of TRL's, by device. The recipe overrides any of them."""
    defaults: dict[str, Any] = {
        "report_to": "none",          # no tracker unless asked: the run record is the log
        "save_strategy": "no",        # no checkpoints unless asked: the trained model is returned
        "logging_steps": 1,           # a log row per step: small recipes still get a curve
        "dataloader_num_workers": 0,  # in-memory data; workers only cost start-up time
        "disable_tqdm": False,        # progress bars on (transformers hides them at WARN level)
    }
    if harness.distributed.is_distributed():
        # DDP's search for unused parameters costs a graph traversal per step; a causal LM uses them
        # all (LoRA's frozen weights are not DDP's). A recipe sets it back for a model that needs it.
        defaults["ddp_find_unused_parameters"] = False
    if device.startswith("cuda"):
        import torch

        defaults.update(bf16=torch.cuda.is_bf16_supported() and dtype != "float16", fp16=False)
    else:
        # CPU (and MPS): fp32; mixed precision on CPU is slow and TRL's bf16 default is an error there.
        defaults.update(bf16=False, fp16=False, activation_checkpointing=False)
        if device == "cpu":
            defaults.update(use_cpu=True, dataloader_pin_memory=False)
            if harness.distributed.is_distributed():
                defaults["ddp_backend"] = "gloo"  # the group harness.distributed.init set up on the CPU
    return defaults


def resolve_kwargs(params: dict[str, Any], *, device: str, dtype: str, output_dir: str,
                   seed: int, defaults: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Keyword arguments for the TRL config and the names the harness (not the recipe) set.

    ``defaults``: :func:`device_defaults` for this device, when the caller already has them.
    """
    recipe = {k: v for k, v in params.items() if k != "lora"}
    # transformers 5 renamed gradient_checkpointing -> activation_checkpointing; the new name wins,
    # so a recipe's old-name value must travel under the new name.
    if "gradient_checkpointing" in recipe:
        recipe["activation_checkpointing"] = recipe.pop("gradient_checkpointing")
    if defaults is None:
        defaults = device_defaults(device, dtype)
    harness_set = {"output_dir": output_dir, "seed": seed, **defaults}
    harness_set = {k: v for k, v in harness_set.items() if k not in recipe}
    return {**harness_set, **recipe}, sorted(harness_set)


def build_config(trainer_cls, params: dict[str, Any], *, device: str, dtype: str, output_dir: str,
                 seed: int, defaults: dict[str, Any] | None = None):
    """``(config, record)``: the TRL config object and what to record about it."""
    config_cls = trl_config_class(trainer_cls)
    kwargs, harness_set = resolve_kwargs(params, device=device, dtype=dtype, output_dir=str(output_dir),
                                         seed=seed, defaults=defaults)
    config = config_cls(**kwargs)
    record = {
        "trl_config": trl_label(trainer_cls.config_class),
        "device": device,
        "dtype": dtype,
        "precision": "bf16" if config.bf16 else "fp16" if config.fp16 else "fp32",
        "set_by_harness": harness_set,
        "set_by_recipe": sorted(k for k in params if k != "lora"),
        "differs_from_trl_defaults": differs_from_defaults(config),
    }
    return config, record


#: Never copied into a run record.
SECRET_FIELDS = ("hub_token",)


def _json(value: Any) -> Any:
    """JSON-able form of a config value: enums by value, nested dataclasses as dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        value = value.value
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "value", None) or repr(v)))


def _plain(value: Any) -> Any:
    """For comparing: empties that ``__post_init__`` normalises ("" -> []) count as equal."""
    value = _json(value)
    return None if value in ("", [], {}) else value


def _default(f: dataclasses.Field, value: Any) -> Any:
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None
    # __post_init__ turns some dict defaults into objects (accelerator_config): compare like with like.
    if default is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        default = type(value)()
    return default


def differs_from_defaults(config) -> dict[str, Any]:
    """Every resolved field whose value differs from the dataclass default TRL declares."""
    out = {}
    for f in dataclasses.fields(config):
        if not f.init or f.name in SECRET_FIELDS:
            continue
        value = getattr(config, f.name)
        if _plain(value) != _plain(_default(f, value)):
            out[f.name] = _json(value)
    return out
