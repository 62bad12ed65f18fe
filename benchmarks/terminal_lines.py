"""How much a run prints: terminal lines, per-step loss dicts and library warnings, by verbosity.

    python benchmarks/terminal_lines.py [--recipe recipes/quickstart.toml] [--modes default,-v,--quiet]

Runs ``harness run RECIPE`` once per mode into a temporary store (the evaluation
cache is shared, so later modes skip re-evaluating the same weights) and counts
what a terminal would show: a progress bar redraws its line with ``\\r``, so each
line counts once, however often the bar moved.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def terminal_lines(text: str) -> list[str]:
    return [part.rsplit("\r", 1)[-1] for part in text.split("\n") if part.rsplit("\r", 1)[-1].strip()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", default=str(REPO / "recipes" / "quickstart.toml"))
    ap.add_argument("--modes", default="default,-v,--quiet")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="terminal-lines-"))
    env = {**os.environ, "HARNESS_STORE": str(tmp / "runs"), "HARNESS_CACHE_DIR": str(tmp / "cache")}
    print(f"recipe {args.recipe}")
    print(f"{'mode':<10} {'lines':>6} {'loss dicts':>10} {'warnings':>9} {'exit':>5} {'wall s':>7}")
    for mode in args.modes.split(","):
        extra = [] if mode == "default" else [mode]
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", args.recipe, *extra], env=env,
                              capture_output=True, cwd=REPO)
        wall = time.perf_counter() - t0
        text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        lines = terminal_lines(text)
        loss = sum(1 for line in lines if "{'loss'" in line or "'loss':" in line)
        warn = sum(1 for line in lines if "Warning" in line or "`pretrained`" in line)
        print(f"{mode:<10} {len(lines):>6} {loss:>10} {warn:>9} {proc.returncode:>5} {wall:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
