"""What an evaluation costs when every result is already in the cache, next to the CLI's own start-up.

    python benchmarks/cache_hit.py [--model tiny|smollm2|hf:DIR|gguf:FILE] [--tasks quick_mc]
                                   [--suites advbench] [--limit 4] [--repeat 3]

Runs ``harness eval`` once cold (an empty evaluation cache: the model is loaded and evaluated),
then ``--repeat`` times on the full cache, and ``harness plugins`` ``--repeat`` times; each in a
fresh process, as a user runs them. A hit needs the loader's fingerprint (files hashed, nothing
built), not the model: it must stay within 3x of ``harness plugins`` whatever the model's size.
Also checks that the hit imported neither torch nor transformers and returned the cold run's
metrics. Prints seconds (median of the repeats) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: runs the CLI in this process, then says on stderr which heavy libraries it imported
PROBE = ("import atexit, json, sys\n"
         "atexit.register(lambda: sys.stderr.write('HEAVY ' + json.dumps(sorted(m for m in "
         "('torch', 'transformers', 'lm_eval', 'trl') if m in sys.modules)) + '\\n'))\n"
         "from harness.cli import main\n"
         "sys.argv = ['harness'] + sys.argv[1:]\n"
         "main()\n")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # 1: a gate failed; the run itself worked
        sys.exit(f"`harness {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return elapsed, proc


def heavy(proc: subprocess.CompletedProcess) -> list[str]:
    line = next(x for x in proc.stderr.splitlines()[::-1] if x.startswith("HEAVY "))
    return json.loads(line[len("HEAVY "):])


def metrics(proc: subprocess.CompletedProcess, store: Path) -> dict:
    run_id = json.loads(proc.stdout)["id"]
    return json.loads((store / run_id / "run.json").read_text())["metrics"]["before"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--tasks", default="quick_mc")
    ap.add_argument("--suites", default="advbench")
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="harness-cache-hit-"))
    store = work / "runs"
    env = {**os.environ, "HARNESS_CACHE_DIR": str(work / "cache"), "HARNESS_STORE": str(store),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    evaluate = ["eval", "--model", args.model, "--limit", str(args.limit), "--json", "--quiet",
                *(["--tasks", args.tasks] if args.tasks else []), *(["--suites", args.suites] if args.suites else [])]

    cold_s, cold = timed(evaluate, env)
    hits, plugins = [], []
    for _ in range(args.repeat):  # interleaved: the machine's load falls on both alike
        seconds, hit = timed(evaluate, env)
        hits.append(seconds)
        plugins.append(timed(["plugins"], env)[0])
        loaded = heavy(hit)
        if loaded:
            sys.exit(f"a cache hit imported {', '.join(loaded)}: the model was loaded")
        if metrics(hit, store) != metrics(cold, store):
            sys.exit("a cache hit returned other metrics than the cold run")
    hit_s, plugins_s = statistics.median(hits), statistics.median(plugins)

    print(f"harness {' '.join(evaluate)}")
    print(f"{'cold (empty cache)':<28} {cold_s:8.2f} s   imported: {', '.join(heavy(cold)) or '-'}")
    print(f"{'hit (median of ' + str(args.repeat) + ')':<28} {hit_s:8.2f} s   imported: -")
    print(f"{'harness plugins (median)':<28} {plugins_s:8.2f} s")
    print(f"hit / harness plugins = {hit_s / plugins_s:.2f}x (target <= 3x); cold / hit = {cold_s / hit_s:.1f}x")


if __name__ == "__main__":
    main()
