"""``evaluate_every``: hand the harness the weights every N optimizer steps and at the end.

A ``transformers`` TrainerCallback (the library's own hook into the loop) calls
``context.snapshot(step, handle)``; the harness saves the folder and evaluates it after
training. The handle holds the model being trained (a LoRA adapter is merged into a copy,
so training goes on unchanged); saving does not touch the training state.
"""

from __future__ import annotations

import copy
from typing import Any

import harness


def add_snapshot_callback(trl_trainer: Any, handle: harness.ModelHandle, context: harness.TrainContext) -> None:
    if not context.snapshot_every or context.snapshot is None:
        return
    from transformers.trainer_callback import TrainerCallback

    every, save = int(context.snapshot_every), context.snapshot

    def snapshot(step: int) -> None:
        model = trl_trainer.accelerator.unwrap_model(trl_trainer.model)
        if hasattr(model, "merge_and_unload"):  # a PeftModel: the merged weights of a copy
            model = copy.deepcopy(model).merge_and_unload()
        save(step, harness.ModelHandle(model, handle.tokenizer, name=handle.name, loader=handle.loader,
                                       device=handle.device, dtype=handle.dtype, meta=dict(handle.meta)))

    class Snapshots(TrainerCallback):
        last = None

        def take(self, step: int) -> None:
            if step and step != self.last:
                snapshot(step)
                self.last = step

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                self.take(state.global_step)

        def on_train_end(self, args, state, control, **kwargs):
            self.take(state.global_step)  # the last step, e.g. when the epochs ended before max_steps

    trl_trainer.add_callback(Snapshots())
