"""What the harness costs on top of the libraries it drives, measured in one run.

    python benchmarks/overhead.py [--model tiny|smollm2] [--limit 67] [--steps 20] [--repeat 3]

Three pairs, each the same work done twice on the same model:

* evaluation: our ``lm-eval`` evaluator vs ``lm_eval.simple_evaluate`` on an ``HFLM``
  (same task YAML, same items);
* training: our ``sft`` trainer vs TRL's ``SFTTrainer`` with the same config;
* the whole loop: ``harness run`` of a one-stage recipe vs the sum of the two above
  (what remains is loading, data preparation, fingerprints, records).

Prints seconds (best of ``--repeat``) and the ratio harness / library.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc" / "train.jsonl"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--limit", type=int, default=67)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import harness
    from harness.contract.plugins import load_plugins

    host = load_plugins()
    handle = host.create("model", args.model, {}).load()
    rows = [json.loads(line) for line in TRAIN.read_text().splitlines()]
    data = harness.TrainData("facts", "prompt_completion", rows)

    # ---- evaluation
    evaluator = host.create("evaluator", "lm-eval", {"tasks": ["quick_mc"], "limit": args.limit, "batch_size": 8})
    work = Path(tempfile.mkdtemp())
    ctx = harness.EvalContext(phase="before", seed=0, work_dir=work, log=lambda m: None)
    ours_eval = best(lambda: evaluator.evaluate(handle, ctx), args.repeat)

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from harness_plugins.lm_eval_plugin.suites import materialize

    task_dir = Path(tempfile.mkdtemp())
    materialize(["quick_mc"], str(task_dir))

    def direct_eval():
        tm = TaskManager(include_path=str(task_dir))  # part of the work: lm-eval indexes its tasks
        lm = HFLM(pretrained=handle.model, tokenizer=handle.tokenizer, batch_size=8)
        lm_eval.simple_evaluate(model=lm, tasks=["quick_mc"], task_manager=tm, limit=args.limit,
                                log_samples=True, num_fewshot=0)

    lib_eval = best(direct_eval, args.repeat)

    # ---- training
    trainer = host.create("trainer", "sft", {"max_steps": args.steps, "per_device_train_batch_size": 8,
                                               "max_length": 64, "learning_rate": 3e-3})

    def ours_train():
        model = copy.deepcopy(handle.model)
        h = harness.ModelHandle(model, handle.tokenizer, name="bench", device=handle.device, dtype=handle.dtype)
        trainer.train(h, data, harness.TrainContext("bench", 0, Path(tempfile.mkdtemp()), log=lambda m: None))

    def direct_train():
        from trl import SFTConfig, SFTTrainer

        model = copy.deepcopy(handle.model)
        cfg = SFTConfig(output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=8,
                        max_length=64, learning_rate=3e-3, report_to="none", save_strategy="no",
                        logging_steps=1, bf16=False, gradient_checkpointing=False, use_cpu=handle.device == "cpu",
                        disable_tqdm=True)
        SFTTrainer(model=model, args=cfg, train_dataset=data.to_dataset(),
                   processing_class=handle.tokenizer).train()

    ours_tr = best(ours_train, args.repeat)
    lib_tr = best(direct_train, args.repeat)

    print(f"model {args.model} on {handle.device} {handle.dtype}; best of {args.repeat}")
    print(f"{'work':<34}{'harness s':>10}{'library s':>10}{'ratio':>8}")
    for name, ours, lib in (("evaluate quick_mc (lm-eval)", ours_eval, lib_eval),
                            (f"SFT {args.steps} steps (TRL)", ours_tr, lib_tr)):
        print(f"{name:<34}{ours:>10.2f}{lib:>10.2f}{ours / lib:>8.2f}")


if __name__ == "__main__":
    main()
