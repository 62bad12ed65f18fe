"""The ``trl`` plugin: ``sft``, ``dpo``, ``orpo``, ``kto`` and ``grpo`` trainers built on TRL.

Every field of the trainer's TRL config (``trl.SFTConfig``, ``trl.DPOConfig``,
``trl.experimental.orpo.ORPOConfig``, ``trl.KTOConfig``, ``trl.GRPOConfig``) is a
recipe key, plus a ``lora`` table of ``peft.LoraConfig`` fields. A trainer is one
class here: the TRL classes it wraps, the data formats it takes and, where TRL
needs more than model, data and config, what :meth:`TRLTrainer.trainer_kwargs`
adds. This module stays light: TRL is imported by :mod:`.params` (validation)
and :mod:`.training` (training) only when they are called.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import harness

# find_spec locates a package without importing it: the plugin stays light.
_missing = [m for m in ("trl", "peft", "datasets") if importlib.util.find_spec(m) is None]
if _missing:
    raise harness.PluginUnavailable(f"the trl trainers need {', '.join(_missing)}, which is not installed",
                                    install="pip install 'posttrain-harness[ml]'")


class TRLTrainer(harness.Trainer):
    """Shared plumbing; subclasses name the TRL config and trainer classes."""

    config_class: ClassVar[str] = ""   # the config dataclass: ``trl.X`` or a dotted path (``trl.experimental...``)
    trainer_class: ClassVar[str] = ""  # the trainer class, named the same way
    docs_url: ClassVar[str] = ""
    snapshots = True  # evaluate_every: see .snapshots

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        from .params import validate_params

        return validate_params(cls, params)

    def train(self, model: harness.ModelHandle, data: harness.TrainData,
              context: harness.TrainContext) -> harness.TrainResult:
        from .training import run_training

        return run_training(self, model, data, context)

    def trainer_kwargs(self, model, config, lora, context: harness.TrainContext, record: dict) -> dict[str, Any]:
        """Arguments for the TRL trainer beyond model, args, data and tokenizer; notes go in ``record``."""
        return {}


class _WithReference(TRLTrainer):
    """Trainers that compare against the starting model (a frozen copy, the disabled adapter, or
    precomputed log-probs): TRL would otherwise reload it from the hub by name."""

    def trainer_kwargs(self, model, config, lora, context, record):
        from .training import frozen_copy

        if lora is not None:
            record["reference_model"] = "starting model = policy with the LoRA adapter disabled (no copy)"
        elif getattr(config, "precompute_ref_log_probs", False):
            record["reference_model"] = "log-probs of the starting model, precomputed before training (no copy)"
        else:
            record["reference_model"] = "frozen copy of the starting model"
            return {"ref_model": frozen_copy(model)}
        return {}


class SFT(TRLTrainer):
    name = "sft"
    description = "Supervised fine-tuning with trl.SFTTrainer (text, chat or prompt/completion data; optional LoRA)"
    formats = ("text", "chat", "prompt_completion")
    config_class = "SFTConfig"
    trainer_class = "SFTTrainer"
    docs_url = "https://huggingface.co/docs/trl/sft_trainer#trl.SFTConfig"


class DPO(_WithReference):
    name = "dpo"
    description = "Direct preference optimisation with trl.DPOTrainer (preference pairs; optional LoRA)"
    formats = ("preference",)
    config_class = "DPOConfig"
    trainer_class = "DPOTrainer"
    docs_url = "https://huggingface.co/docs/trl/dpo_trainer#trl.DPOConfig"


class ORPO(TRLTrainer):
    name = "orpo"
    description = ("Odds-ratio preference optimisation with trl.experimental.orpo.ORPOTrainer "
                   "(preference pairs, no reference model; optional LoRA)")
    formats = ("preference",)
    config_class = "trl.experimental.orpo.ORPOConfig"
    trainer_class = "trl.experimental.orpo.ORPOTrainer"
    docs_url = "https://huggingface.co/docs/trl/orpo_trainer"


class KTO(_WithReference):
    name = "kto"
    description = ("Kahneman-Tversky optimisation with trl.KTOTrainer (unpaired preference: prompt, completion, "
                   "label; optional LoRA)")
    formats = ("unpaired_preference",)
    config_class = "KTOConfig"
    trainer_class = "KTOTrainer"
    docs_url = "https://huggingface.co/docs/trl/kto_trainer#trl.KTOConfig"


class GRPO(TRLTrainer):
    name = "grpo"
    description = ("Group relative policy optimisation with trl.GRPOTrainer: online RL on prompts, scored by the "
                   "recipe's reward functions (optional LoRA)")
    formats = ("prompt_only",)
    uses_rewards = True
    config_class = "GRPOConfig"
    trainer_class = "GRPOTrainer"
    docs_url = "https://huggingface.co/docs/trl/grpo_trainer#trl.GRPOConfig"

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("beta", 0.0) and params.get("lora") is None:
            raise harness.ParamError([("beta", (
                "a KL penalty (beta > 0) needs a reference model, which trl.GRPOTrainer would reload from the hub "
                "by name; keep beta = 0 (TRL's default) or train with a `lora` table (the disabled adapter is the "
                "reference)"))])
        return super().validate_params(params)

    def trainer_kwargs(self, model, config, lora, context, record):
        from .rewards import trl_reward_functions

        if not context.rewards:
            raise harness.ParamError([("rewards", f"trainer '{self.name}' needs reward functions: add e.g. "
                                                  f"rewards = [\"gsm8k-exact\"] to the stage")])
        record["rewards"] = [r.registered_as.fullname if hasattr(r, "registered_as") else r.name
                             for r in context.rewards]
        record["reference_model"] = ("none (beta = 0)" if not config.beta
                                     else "starting model = policy with the LoRA adapter disabled (no copy)")
        return {"reward_funcs": trl_reward_functions(context.rewards)}


TRAINERS = (SFT, DPO, ORPO, KTO, GRPO)


@harness.hookimpl
def register_trainers(register):
    for trainer in TRAINERS:
        register(trainer)
