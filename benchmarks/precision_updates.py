"""How many weights 5 small SFT steps change: fp32, bf16-held (fp32 master weights), pure bf16.

The harness trains fp32 master weights with bf16 autocast unless the recipe asks for
pure bf16 weights; this prints the share of weights each setting changes, and the same
share for TRL trained on the bf16 model directly (what happens without the harness's
upcast). The input embedding is left out: rows of bytes the data never uses get no
gradient in any precision.

    python benchmarks/precision_updates.py [--lr 1e-5] [--steps 5]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import harness
from harness.contract.plugins import load_plugins

DATA = [{"prompt": f"What is {i} plus {i}?", "completion": f" {2 * i}."} for i in range(16)]


def changed_share(start, model) -> float:
    changed = total = 0
    for name, p in model.named_parameters():
        if "embed_tokens" in name:
            continue
        changed += int((p.detach().float() != start[name].float()).sum())
        total += p.numel()
    return changed / total


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    host = load_plugins()
    base = host.create("model", "tiny", {}).load()
    lines = [f"tiny model, SFT {args.steps} steps at lr {args.lr:g}, batch 4, {base.device}",
             f"{'weights held in':<18}{'[model] dtype':<16}{'trained as':<22}{'weights changed':>16}"]
    for held, requested in (("float32", None), ("bfloat16", None), ("bfloat16", "bfloat16")):
        model = copy.deepcopy(base)
        model.model.to(getattr(torch, held))
        model.dtype = held
        start = {n: p.detach().clone() for n, p in model.model.named_parameters()}
        trainer = host.create("trainer", "sft", {"learning_rate": args.lr, "max_steps": args.steps,
                                                 "per_device_train_batch_size": 4, "max_length": 64})
        with tempfile.TemporaryDirectory() as tmp:
            ctx = harness.TrainContext(stage="p", seed=0, output_dir=Path(tmp), log=lambda _m: None,
                                       weights_dtype=requested)
            result = trainer.train(model, harness.TrainData(name="pc", format="prompt_completion",
                                                            examples=DATA), ctx)
        weights = result.metrics["config"]["weights"]
        trained_as = f"{weights['master']} master" + (" (upcast)" if weights.get("upcast_from") else "")
        lines.append(f"{held:<18}{requested or 'unset':<16}{trained_as:<22}"
                     f"{changed_share(start, result.model.model):>15.1%}")
    print("\n".join(lines))  # after TRL's own log lines


if __name__ == "__main__":
    main()
