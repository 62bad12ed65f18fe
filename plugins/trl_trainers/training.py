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
from harness import pick_device

from .config import build_config, differs_from_defaults
from .params import lora_config
from .schema import trl_class
from .snapshots import add_snapshot_callback


def _keys(fmt: str) -> str:
    try:
        return "/".join(harness.get_format(fmt).keys())
    except LookupError:
        return "?"


def check_data(trainer, handle: harness.ModelHandle, data: harness.TrainData) -> None:
    """Refuse data this trainer cannot use, before any work, saying what would fit."""
    if data.format not in trainer.formats:
        takes = ", ".join(f"{f} ({_keys(f)})" for f in trainer.formats)
        raise harness.ParamError([("data", (
            f"trainer '{trainer.name}' cannot train on data set '{data.name}': it is {data.format} data "
            f"({_keys(data.format)}) but '{trainer.name}' takes {takes}. Use a trainer that takes "
            f"{data.format} data (`harness validate` lists them), or a data source in one of those formats."))])
    if not data.examples:
        raise harness.ParamError([("data", f"data set '{data.name}' is empty (after safety filters); "
                                           f"nothing to train on")])
    first = data.examples[0]
    if any(isinstance(v, list) and v and isinstance(v[0], dict) for v in first.values()) \
            and not handle.has_chat_template():
        raise harness.ParamError([("data", (
            f"data set '{data.name}' holds chat messages but the tokenizer of model '{handle.name}' has no "
            f"chat template; use plain-text examples or a model whose tokenizer has one"))])


def count_long_prompts(data: harness.TrainData, tokenizer, max_length: int | None) -> dict[str, Any] | None:
    """Prompts whose tokens fill ``max_length`` on their own (TRL truncates the reply away).

    Returns ``{count, of, max_length, examples}`` when any, else None."""
    if not max_length:
        return None
    keys = data.format_class().keys_with("prompt")
    if not keys:
        return None
    long, total = [], 0
    for i, example in enumerate(data.examples):
        for key in keys:
            value = example.get(key)
            if isinstance(value, list):  # chat messages: check_data made sure there is a chat template
                ids = tokenizer.apply_chat_template(value, tokenize=True)
            elif isinstance(value, str):
                ids = tokenizer(value)["input_ids"]
            else:
                continue
            total += 1
            if len(ids) >= max_length:
                long.append(i)
    if not long:
        return None
    return {"count": len(long), "of": total, "max_length": max_length, "examples": long[:5]}


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

    check_data(trainer, handle, data)
    params = copy.deepcopy(dict(trainer.params))
    lora = params.pop("lora", None)
    device, _ = pick_device(handle.device, handle.dtype)
    model, tokenizer = handle.model, handle.tokenizer
    weights = master_weights(model, requested=context.weights_dtype)
    config, record = build_config(type(trainer), params, device=device, dtype=weights["dtype"],
                                  output_dir=str(context.output_dir), seed=context.seed)
    record["weights"] = weights
    if context.report_to and "report_to" not in params:  # trackers of the recipe's [[report]] tables
        config.report_to, config.run_name = list(context.report_to), context.run_name
        for key, value in context.tracker_args.items():
            setattr(config, key, value)
        record["report_to"] = config.report_to
    if weights.get("warning"):
        context.log(f"{context.stage}: WARNING {weights['warning']}")
    record["pad_token"] = ensure_pad_token(tokenizer) or "kept"
    long_prompts = count_long_prompts(data, tokenizer, getattr(config, "max_length", None))
    if long_prompts:
        record["long_prompts"] = long_prompts
        context.log(f"{context.stage}: WARNING {long_prompts['count']} of {long_prompts['of']} prompts are at least "
                    f"max_length = {long_prompts['max_length']} tokens: truncation leaves them nothing to learn "
                    "from; raise max_length or shorten them")
    dataset = data.to_dataset()
    state = _ModelState(model)

    kwargs: dict[str, Any] = {"model": model, "args": config, "train_dataset": dataset,
                              "processing_class": tokenizer}
    if lora is not None:
        kwargs["peft_config"] = peft_config = lora_config(lora)
        record["lora"] = {"r": peft_config.r, "lora_alpha": peft_config.lora_alpha,
                          "lora_dropout": peft_config.lora_dropout, **differs_from_defaults(peft_config)}
    kwargs.update(trainer.trainer_kwargs(model, config, lora, context, record))

    context.log(f"{context.stage}: {trainer.name} on '{data.name}' ({len(dataset)} {data.format} examples), "
                f"{device} {record['precision']}" + (f", LoRA r={record['lora']['r']}" if lora is not None else ""))
    trl_trainer = trl_class(trainer.trainer_class)(**kwargs)
    _quiet_progress(trl_trainer, context)
    add_snapshot_callback(trl_trainer, handle, context)
    if lora is not None:
        targets = trl_trainer.model.peft_config["default"].target_modules
        # module names PEFT matched, without the layer prefix ("q_proj", not "model.layers.0.self_attn.q_proj")
        record["lora"]["resolved_target_modules"] = sorted({t.rsplit(".", 1)[-1] for t in targets or ()})
    if harness.distributed.is_distributed():  # what accelerate made of the launcher's config
        record["distributed_type"] = str(trl_trainer.accelerator.distributed_type).split(".")[-1]
        record["processes"] = trl_trainer.accelerator.num_processes
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
                                 device=handle.device, dtype=weights["dtype"],
                                 meta={**handle.meta, "post_trained": history})
    context.log(f"{context.stage}: done in {metrics.get('train_runtime', 0):.1f}s, "
                f"{metrics['steps']} steps, train_loss {metrics.get('train_loss', float('nan')):.4f}")
    return harness.TrainResult(model=result, log=log, metrics=metrics)


def _quiet_progress(trl_trainer: Any, context: Any) -> None:
    """One bar per stage that moves per step (the harness's console decides whether it shows)
    instead of transformers' bar plus a printed loss dict per logging step; the loss dicts
    still reach the run record through ``state.log_history``."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

    progress = getattr(context, "progress", None)
    if progress is None or not getattr(progress, "replace_library_bars", True):
        return  # -v: TRL's own bar and loss dicts

    class StepProgress(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = progress(state.max_steps, context.stage, "step")

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(1)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_postfix_str(f"loss {logs['loss']:.4f}")

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

    trl_trainer.remove_callback(ProgressCallback)
    trl_trainer.remove_callback(PrinterCallback)
    trl_trainer.add_callback(StepProgress())


#: bf16 keeps 8 bits of mantissa: an update smaller than ~1/256 of a weight rounds away.
PURE_BF16_WARNING = ("training pure {dtype} weights (the recipe's [model] dtype asks for it): updates below "
                     "{dtype} resolution (~1/256 of a weight) are lost; at lr 1e-5 only ~15% of the weights change "
                     "in 5 steps. Leave [model] dtype unset to train fp32 master weights with bf16 autocast.")


def master_weights(model, *, requested: str | None) -> dict[str, Any]:
    """Train fp32 master weights unless the recipe asked for half-precision weights explicitly.

    A model held in bf16/fp16 (the default on a CUDA card) is upcast in place; TRL's ``bf16=True``
    then autocasts the compute. The trained model stays fp32 (its weights are the result).
    Returns what the record says about the weights.
    """
    import torch

    held = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    held_name = str(held).removeprefix("torch.")
    if held == torch.float32:
        return {"dtype": "float32", "master": "float32"}
    if requested in ("bfloat16", "float16") and requested == held_name:
        return {"dtype": held_name, "master": held_name, "warning": PURE_BF16_WARNING.format(dtype=held_name)}
    model.to(torch.float32)
    return {"dtype": "float32", "master": "float32", "upcast_from": held_name}


def _number(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _number(v) for k, v in row.items()}
