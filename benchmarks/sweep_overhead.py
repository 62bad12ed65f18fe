"""What a sweep costs per point on top of ``harness run`` of the same point, and Ray's start-up.

    python benchmarks/sweep_overhead.py [--repeat 3] [--ray]

* ``harness run RECIPE --set ...`` vs ``harness sweep RECIPE --grid run.seed=0 --set ...`` (one
  point, local executor), each a fresh process with its own empty store and cache, alternated,
  ``--repeat`` times: the ratio of medians is the sweep's per-point overhead (the grid, the sweep
  record fields, the table) including the process start both pay;
* ``--ray``: ``ray.init(num_cpus=2)`` + ``ray.shutdown()`` alone (what ``--executor ray`` without
  ``--address`` adds once per sweep), then the same one-point sweep with ``--executor ray``.

The recipe is the tiny quickstart shortened to 2 SFT steps and 1 DPO step (about 10 s a point).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = [sys.executable, "-m", "harness.cli"]
SHORT = ["--set", "train.0.max_steps=2", "--set", "train.1.max_steps=1"]


def timed(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HARNESS_STORE": f"{tmp}/runs", "HARNESS_CACHE_DIR": f"{tmp}/cache"}
        t0 = time.perf_counter()
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
        took = time.perf_counter() - t0
    if done.returncode not in (0, 1):  # 1: the shortened quickstart fails its accuracy gate, as expected
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ray", action="store_true", help="also measure Ray's start-up and a Ray point")
    a = ap.parse_args()
    recipe = "recipes/quickstart.toml"
    run = [*HARNESS, "run", recipe, "--set", "run.seed=0", *SHORT, "--quiet"]
    sweep = [*HARNESS, "sweep", recipe, "--grid", "run.seed=0", *SHORT]
    timed(run)  # warm the page cache (torch, transformers) before anything is measured
    runs, sweeps = [], []
    for _ in range(a.repeat):
        runs.append(timed(run))
        sweeps.append(timed(sweep))
    r, s = statistics.median(runs), statistics.median(sweeps)
    print(f"one point, local executor, median of {a.repeat} (each a fresh process, own store and cache)")
    print(f"{'harness run':<28}{r:8.2f} s   ({', '.join(f'{x:.2f}' for x in runs)})")
    print(f"{'harness sweep (1 point)':<28}{s:8.2f} s   ({', '.join(f'{x:.2f}' for x in sweeps)})")
    print(f"ratio sweep / run: {s / r:.3f} (median); {min(sweeps) / min(runs):.3f} (best)")
    if a.ray:
        import ray

        starts = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False)
            ray.shutdown()
            starts.append(time.perf_counter() - t0)
        rays = [timed([*sweep, "--executor", "ray"]) for _ in range(a.repeat)]
        print(f"{'ray.init + shutdown':<28}{statistics.median(starts):8.2f} s   "
              f"({', '.join(f'{x:.2f}' for x in starts)})")
        print(f"{'harness sweep --executor ray':<28}{statistics.median(rays):8.2f} s   "
              f"({', '.join(f'{x:.2f}' for x in rays)})  ratio to run {statistics.median(rays) / r:.3f}")


if __name__ == "__main__":
    main()
