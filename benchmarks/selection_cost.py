"""What ``evaluate_every`` + ``[select]`` costs on top of the same run without it.

    python benchmarks/selection_cost.py [--repeat 1]

Three variants of ``recipes/quickstart-select.toml`` (tiny model, SFT 100 steps), each a fresh
``harness run`` process with its own empty store and cache, alternated ``--repeat`` times:

* ``select``: as shipped: a snapshot every 25 steps (4), each evaluated on the dev items of both
  ``[[evaluate]]`` tables, the best passing one kept;
* ``trainer-saves``: no ``evaluate_every``/``[select]``, but transformers' own checkpointing of
  the same steps (``save_strategy = "steps"``, ``save_steps = 25``, ``save_only_model = true``):
  the library doing the saving part of the work, configured the same way;
* ``plain``: neither.

Printed: the median wall time of each, the train stage's median duration (where the
checkpoints are saved and evaluated), and the extra seconds per checkpoint.
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

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "quickstart-select.toml"
CHECKPOINTS = 4


def variant(name: str) -> str:
    text = RECIPE.read_text()
    if name == "select":
        return text
    text = text.replace("evaluate_every = 25\n", "")
    text = text[:text.index("\n[select]\n") + 1] + text[text.index("\n[[report]]\n") + 1:]
    if name == "trainer-saves":
        text = text.replace("max_length = 64\n", 'max_length = 64\nsave_strategy = "steps"\nsave_steps = 25\n'
                                                 "save_only_model = true\n")
    return text


def timed(name: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.toml"
        path.write_text(variant(name))
        env = {**os.environ, "HARNESS_STORE": f"{tmp}/runs", "HARNESS_CACHE_DIR": f"{tmp}/cache"}
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        took = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{name} exited {done.returncode}:\n{done.stderr[-2000:]}")
        [run] = [p for p in Path(tmp, "runs").iterdir() if (p / "run.json").is_file()]
        record = json.loads((run / "run.json").read_text())
    train = next(s["duration_s"] for s in record["stages"] if s["kind"] == "train")
    return took, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    names = ["plain", "trainer-saves", "select"]
    wall: dict[str, list[float]] = {n: [] for n in names}
    train: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.repeat):
        for n in names:
            w, t = timed(n)
            wall[n].append(w)
            train[n].append(t)
    med = {n: (statistics.median(wall[n]), statistics.median(train[n])) for n in names}
    print(f"quickstart-select, {CHECKPOINTS} checkpoints, {args.repeat} repeat(s), OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '-')}")
    print(f"{'variant':<15} {'wall s':>8} {'train stage s':>14}")
    for n in names:
        print(f"{n:<15} {med[n][0]:>8.1f} {med[n][1]:>14.1f}")
    extra = med["select"][1] - med["plain"][1]
    saving = med["trainer-saves"][1] - med["plain"][1]
    print(f"train stage: select - plain = {extra:.1f} s ({extra / CHECKPOINTS:.2f} s per checkpoint: "
          f"save, load, evaluate on dev, gates); trainer-saves - plain = {saving:.1f} s "
          f"({saving / CHECKPOINTS:.2f} s per checkpoint: transformers saving only)")
    print(f"wall ratio select / plain = {med['select'][0] / med['plain'][0]:.2f}, "
          f"trainer-saves / plain = {med['trainer-saves'][0] / med['plain'][0]:.2f}")


if __name__ == "__main__":
    main()
