"""The ``trl`` plugin: ``sft`` and ``dpo`` trainers built on TRL's ``SFTTrainer``/``DPOTrainer``.

Every field of ``trl.SFTConfig`` / ``trl.DPOConfig`` is a recipe key, plus a
``lora`` table of ``peft.LoraConfig`` fields. This module stays light: TRL is
imported by :mod:`.params` (validation) and :mod:`.training` (training) only
when they are called.
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

    config_class: ClassVar[str] = ""   # attribute of ``trl`` holding the config dataclass
    trainer_class: ClassVar[str] = ""  # attribute of ``trl`` holding the trainer
    docs_url: ClassVar[str] = ""

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        from .params import validate_params

        return validate_params(cls, params)

    def train(self, model: harness.ModelHandle, data: harness.TrainData,
              context: harness.TrainContext) -> harness.TrainResult:
        from .training import run_training

        return run_training(self, model, data, context)


class SFT(TRLTrainer):
    name = "sft"
    description = "Supervised fine-tuning with trl.SFTTrainer (text, chat or prompt/completion data; optional LoRA)"
    formats = ("text", "chat", "prompt_completion")
    config_class = "SFTConfig"
    trainer_class = "SFTTrainer"
    docs_url = "https://huggingface.co/docs/trl/sft_trainer#trl.SFTConfig"


class DPO(TRLTrainer):
    name = "dpo"
    description = "Direct preference optimisation with trl.DPOTrainer (preference pairs; optional LoRA)"
    formats = ("preference",)
    config_class = "DPOConfig"
    trainer_class = "DPOTrainer"
    docs_url = "https://huggingface.co/docs/trl/dpo_trainer#trl.DPOConfig"


@harness.hookimpl
def register_trainers(register):
    register(SFT)
    register(DPO)
