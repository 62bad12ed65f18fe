"""Data-parallel evaluation: 2 processes (gloo on the CPU, torchrun) vs 1 process, same evaluations.

Each side is a fresh process tree running this file with ``--worker``: it sets up the process
group through the harness (accelerate's ``PartialState``), loads the model, then runs the
evaluators the quickstart uses (lm-eval on ``quick_mc``; the safety suite ``quick-safety`` with
the refusal and harm filters), exactly as the pipeline calls them, ``--repeat`` times. Rank 0
reports the best evaluation time (between barriers, so the slowest rank counts), the process
group's set-up time, and the whole command's wall time (launcher, imports and model load
included). It also checks that both sides got the same metrics.

    python benchmarks/distributed_eval.py [--model tiny|smollm2] [--repeat 3] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVALUATIONS = [("lm-eval", {"tasks": ["quick_mc"]}, []),
               ("safety", {"suites": ["quick-safety"], "max_new_tokens": 16}, ["refusal", "harm"])]


def worker(model_name: str, repeat: int, out: str) -> None:
    import accelerate  # noqa: F401 - imported before the clock starts: the group's set-up alone is timed
    import torch  # noqa: F401

    from harness import EvalContext, distributed
    from harness.contract.plugins import load_plugins

    t0 = time.perf_counter()
    distributed.init()
    t_group = time.perf_counter() - t0
    host = load_plugins()
    model = host.create("model", model_name, {}).load()
    times, metrics = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, params, filter_names in EVALUATIONS:
            evaluator = host.create("evaluator", name, params)
            filters = {f: host.create("safety_filter", f, {}) for f in filter_names}
            best = float("inf")
            for _ in range(repeat):
                ctx = EvalContext(phase="before", seed=0, work_dir=Path(tmp), filters=filters, log=lambda m: None)
                distributed.barrier()
                t = time.perf_counter()
                result = distributed.broadcast_object(evaluator.evaluate(model, ctx))
                distributed.barrier()
                best = min(best, time.perf_counter() - t)
            times[name] = best
            metrics.update({k: m.value for k, m in result.metrics.items()})
    if distributed.is_main():
        Path(out).write_text(json.dumps({"group_s": t_group, "eval_s": times, "metrics": metrics,
                                         "world_size": distributed.world_size()}))


def side(processes: int, model: str, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        args = [__file__, "--worker", "--model", model, "--repeat", str(repeat), "--out", str(out)]
        launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(processes)] if processes > 1 else [sys.executable])
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
               "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        t = time.perf_counter()
        proc = subprocess.run(launch + args, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"{processes} process(es) failed:\n{proc.stderr[-4000:]}")
        return {**json.loads(out.read_text()), "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.worker:
        worker(a.model, a.repeat, a.out)
        return
    one, many = side(1, a.model, a.repeat), side(a.processes, a.model, a.repeat)
    n = a.processes
    print(f"model {a.model}, best of {a.repeat}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'evaluation':<12} {'1 process':>10} {f'{n} processes':>12} {'ratio':>7}")
    for name in one["eval_s"]:
        t1, tn = one["eval_s"][name], many["eval_s"][name]
        print(f"{name:<12} {t1:>9.2f}s {tn:>11.2f}s {tn / t1:>7.2f}")
    e1, en = sum(one["eval_s"].values()), sum(many["eval_s"].values())
    print(f"{'both':<12} {e1:>9.2f}s {en:>11.2f}s {en / e1:>7.2f}")
    print(f"process group set-up (gloo through accelerate's PartialState, rendezvous included): "
          f"{many['group_s']:.2f}s (1 process: {one['group_s']:.3f}s, no group)")
    print(f"whole command (launcher, imports, model load, {a.repeat}x evaluations): "
          f"{one['wall_s']:.1f}s vs {many['wall_s']:.1f}s, ratio {many['wall_s'] / one['wall_s']:.2f}")
    same = one["metrics"] == many["metrics"]
    print(f"metrics identical: {same}")
    if not same:
        sys.exit(f"metrics differ: {one['metrics']} vs {many['metrics']}")


if __name__ == "__main__":
    main()
