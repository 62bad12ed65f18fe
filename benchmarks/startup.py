"""Start-up: `harness plugins --json` (every plugin loaded) against `lm_eval --help`, the
command-line start-up of the library our users already run, measured paired.

Both commands run in the same venv, interleaved (A, B, A, B, ...) so machine load hits both
alike; the figure is the median of each and their ratio. Also prints where `harness`'s own
import time goes (`python -X importtime`, top modules by self time).

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def import_profile(top: int = 8) -> list[tuple[float, str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "harness", "plugins", "--json"],
                          capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m and m.group(2).startswith("harness"):
            rows.append((int(m.group(1)) / 1e3, m.group(2)))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    harness_cmd = [str(BIN / "harness"), "plugins", "--json"]
    lm_eval_cmd = [str(BIN / "lm_eval"), "--help"]
    timed(harness_cmd), timed(lm_eval_cmd)  # warm the page cache and .pyc files
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(timed(harness_cmd))
        theirs.append(timed(lm_eval_cmd))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"{'command':<28} {'median s':>9} {'min s':>7}  ({args.runs} paired runs)")
    print(f"{'harness plugins --json':<28} {a:9.3f} {min(ours):7.3f}")
    print(f"{'lm_eval --help':<28} {b:9.3f} {min(theirs):7.3f}")
    print(f"ratio (harness / lm_eval): {a / b:.2f}x median, {min(ours) / min(theirs):.2f}x min")
    print("\nharness's own modules by import self time (ms, one run):")
    for ms, name in import_profile():
        print(f"  {ms:7.1f}  {name}")


if __name__ == "__main__":
    main()
