"""One training stage: check the data, build the TRL trainer, train, hand back a plain model.

The handle's model is trained in place (no copy of the policy is kept). What
TRL leaves on the model for its own use is removed afterwards so the next stage
(an evaluation, another trainer) gets an ordinary ``transformers`` model:
a merged LoRA adapter instead of a ``PeftModel``, the original ``forward``
instead of TRL's fused-LM-head patch, the original ``requires_grad`` flags,
checkpointing and ``use_cache`` settings, and eval mode.
"""

from __future__ import annotations

import copy
import gc
from typing import Any

import harness
from harness.runtime import pick_device

from .config import build_config, differs_from_defaults
from .params import lora_config

CONVERSATIONAL_KEYS = ("messages", "prompt", "completion", "chosen", "rejected")
FORMAT_KEYS = {"text": "text", "chat": "messages", "prompt_completion": "prompt/completion",
               "preference": "prompt/chosen/rejected"}


def check_data(trainer, handle: harness.ModelHandle, data: harness.TrainData) -> None:
    """Refuse data this trainer cannot use, before any work, saying what would fit."""
    if data.format not in trainer.formats:
        takes = ", ".join(f"{f} ({FORMAT_KEYS[f]})" for f in trainer.formats)
        others = {"preference": "dpo"}.get(data.format, "sft")
        raise harness.ParamError([("data", (
            f"trainer '{trainer.name}' cannot train on data set '{data.name}': it is {data.format} data "
            f"({FORMAT_KEYS.get(data.format, '?')}) but '{trainer.name}' takes {takes}. Use trainer "
            f"'{others}' for it, or a data source in one of those formats."))])
    if not data.examples:
        raise harness.ParamError([("data", f"data set '{data.name}' is empty (after safety filters); "
                                           f"nothing to train on")])
    first = data.examples[0]
    if any(isinstance(first.get(k), list) for k in CONVERSATIONAL_KEYS) and not handle.has_chat_template():
        raise harness.ParamError([("data", (
            f"data set '{data.name}' holds chat messages but the tokenizer of model '{handle.name}' has no "
            f"chat template; use plain-text examples or a model whose tokenizer has one"))])


def ensure_pad_token(tokenizer) -> str | None:
    """Pad with EOS when the tokenizer has no pad token (TRL masks padding by position, not by id,
    so EOS is still learned; generation pads left with an attention mask). Returns what was done."""
    if tokenizer.pad_token is not None:
        return None
    if tokenizer.eos_token is None:
        raise ValueError("the tokenizer has neither a pad token nor an EOS token; set tokenizer.pad_token "
                         "in the model loader")
    tokenizer.pad_token = tokenizer.eos_token
    return "set to eos_token"


def frozen_copy(model):
    """The DPO reference: a copy of the starting policy that never trains."""
    ref = copy.deepcopy(model)
    ref.requires_grad_(False)
    return ref.eval()


class _ModelState:
    """What TRL changes on a model that the next stage must not inherit."""

    def __init__(self, model):
        self.own_forward = "forward" in model.__dict__
        self.requires_grad = {n: p.requires_grad for n, p in model.named_parameters()}
        self.checkpointing = _checkpointing(model)
        self.use_cache = getattr(model.config, "use_cache", None)

    def restore(self, model) -> None:
        if not self.own_forward:
            model.__dict__.pop("forward", None)  # TRL's add_fused_lm_head patch, bound to this object
        if getattr(model, "_require_grads_hooks", None) or getattr(model, "_require_grads_hook", None):
            model.disable_input_require_grads()  # TRL's PEFT + checkpointing hook on the embeddings
        if _checkpointing(model) and not self.checkpointing:
            (getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable)()
        if self.use_cache is not None:
            model.config.use_cache = self.use_cache
        for name, param in model.named_parameters():  # PEFT froze the base weights
            param.requires_grad_(self.requires_grad.get(name, True))
        model.eval()


def _checkpointing(model) -> bool:
    """Activation checkpointing on? (transformers 5 renamed it from gradient checkpointing.)"""
    if hasattr(type(model), "is_activation_checkpointing"):
        return bool(model.is_activation_checkpointing)
    return bool(getattr(model, "is_gradient_checkpointing", False))


def run_training(trainer, handle: harness.ModelHandle, data: harness.TrainData,
                 context: harness.TrainContext) -> harness.TrainResult:
    import torch
    import trl

    check_data(trainer, handle, data)
    params = copy.deepcopy(dict(trainer.params))
    lora = params.pop("lora", None)
    device, dtype = pick_device(handle.device, handle.dtype)
    config, record = build_config(type(trainer), params, device=device, dtype=dtype,
                                  output_dir=str(context.output_dir), seed=context.seed)
    model, tokenizer = handle.model, handle.tokenizer
    record["pad_token"] = ensure_pad_token(tokenizer) or "kept"
    dataset = data.to_dataset()
    state = _ModelState(model)

    kwargs: dict[str, Any] = {"model": model, "args": config, "train_dataset": dataset,
                              "processing_class": tokenizer}
    if lora is not None:
        kwargs["peft_config"] = peft_config = lora_config(lora)
        record["lora"] = {"r": peft_config.r, "lora_alpha": peft_config.lora_alpha,
                          "lora_dropout": peft_config.lora_dropout, **differs_from_defaults(peft_config)}
    if trainer.name == "dpo":
        if lora is not None:
            record["reference_model"] = "starting model = policy with the LoRA adapter disabled (no copy)"
        elif config.precompute_ref_log_probs:
            record["reference_model"] = "log-probs of the starting model, precomputed before training (no copy)"
        else:
            kwargs["ref_model"] = frozen_copy(model)
            record["reference_model"] = "frozen copy of the starting model"

    context.log(f"{context.stage}: {trainer.name} on '{data.name}' ({len(dataset)} {data.format} examples), "
                f"{device} {record['precision']}" + (f", LoRA r={record['lora']['r']}" if lora is not None else ""))
    trl_trainer = getattr(trl, trainer.trainer_class)(**kwargs)
    if lora is not None:
        targets = trl_trainer.model.peft_config["default"].target_modules
        # module names PEFT matched, without the layer prefix ("q_proj", not "model.layers.0.self_attn.q_proj")
        record["lora"]["resolved_target_modules"] = sorted({t.rsplit(".", 1)[-1] for t in targets or ()})
    trainable = sum(p.numel() for p in trl_trainer.model.parameters() if p.requires_grad)
    output = trl_trainer.train(resume_from_checkpoint=context.resume_from_checkpoint)

    trained = trl_trainer.accelerator.unwrap_model(trl_trainer.model)
    if lora is not None:
        if context.adapter_dir is not None:  # the run keeps the adapter as well as the merged weights
            trained.save_pretrained(context.adapter_dir)
        trained = trained.merge_and_unload()
    record["merged_adapter"] = lora is not None
    state.restore(trained)

    log = [_row(r) for r in trl_trainer.state.log_history if "train_runtime" not in r]
    metrics = {k: _number(v) for k, v in output.metrics.items()}
    metrics.update(examples=len(dataset), steps=trl_trainer.state.global_step,
                   tokens=max((r["num_tokens"] for r in log if "num_tokens" in r), default=None),
                   trainable_parameters=trainable, config=record)
    if metrics["tokens"] and metrics.get("train_runtime"):
        metrics["tokens_per_second"] = round(metrics["tokens"] / metrics["train_runtime"], 3)
    del trl_trainer, kwargs
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()

    handle.weights_changed()  # trained in place: the input handle's cached fingerprint is stale
    history = list(handle.meta.get("post_trained", [])) + [
        {"stage": context.stage, "trainer": trainer.name, "data": data.name, "lora": lora is not None,
         "merged": lora is not None}]
    result = harness.ModelHandle(trained, tokenizer, name=handle.name, loader=handle.loader,
                                 device=handle.device, dtype=handle.dtype,
                                 meta={**handle.meta, "post_trained": history})
    context.log(f"{context.stage}: done in {metrics.get('train_runtime', 0):.1f}s, "
                f"{metrics['steps']} steps, train_loss {metrics.get('train_loss', float('nan')):.4f}")
    return harness.TrainResult(model=result, log=log, metrics=metrics)


def _number(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _number(v) for k, v in row.items()}
