"""Wall time of `harness validate` on each shipped recipe, and how much of it is imports.

Each recipe is validated in a fresh process (as a user or CI runs it), ``--repeat`` times,
twice over: **cold**, each run with an empty ``$HARNESS_CACHE_DIR`` (no TRL schema cache:
the trl plugin imports TRL to read its config classes and build the config), and
**warm**, each run against a cache the cold runs filled. The script prints the median
and minimum wall times and, from one ``python -X importtime`` run per mode, the seconds
spent importing the heaviest top-level packages (cumulative, so nested imports count
once under the package that pulled them in), and the load average it ran under.

    python benchmarks/validate_time.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "lm_eval", "pyarrow", "pandas")


def validate_once(recipe: Path, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(recipe)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{recipe}: validate failed:\n{proc.stderr}")
    return time.perf_counter() - t0


def import_seconds(recipe: Path, env: dict) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "harness.cli", "validate", str(recipe)],
                          env=env, capture_output=True, text=True)
    out: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        cumulative, indent, name = int(m.group(1)), len(m.group(2)), m.group(3)
        top = name.split(".")[0]
        if top in HEAVY:
            # the outermost import of a package carries its whole cost
            out[top] = max(out.get(top, 0.0), cumulative / 1e6) if indent <= 20 else out.get(top, 0.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="validate-time-"))
    base = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'recipe':<30} {'mode':<5} {'median s':>8} {'min s':>6}  heaviest imports (s, cumulative)")
    # the same quickstart without its [[train]] tables: what every check but the trainers' costs
    text = (REPO / "recipes" / "quickstart.toml").read_text().replace('path = "../', f'path = "{REPO}/')
    no_train = re.sub(r"\[\[train\]\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
    (tmp / "quickstart-without-train.toml").write_text(no_train)
    for recipe in [*sorted((REPO / "recipes").glob("*.toml")), tmp / "quickstart-without-train.toml"]:
        cache = tmp / f"cache-{recipe.stem}"
        env = {**base, "HARNESS_CACHE_DIR": str(cache)}
        cold = []
        for _ in range(args.repeat):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(validate_once(recipe, env))
        shutil.rmtree(cache, ignore_errors=True)
        cold_imports = import_seconds(recipe, env)  # also leaves the cache warm
        warm = [validate_once(recipe, env) for _ in range(args.repeat)]
        warm_imports = import_seconds(recipe, env)
        for mode, times, imports in (("cold", cold, cold_imports), ("warm", warm, warm_imports)):
            heavy = ", ".join(f"{k} {v:.1f}" for k, v in sorted(imports.items(), key=lambda kv: -kv[1])[:4])
            print(f"{recipe.name:<30} {mode:<5} {statistics.median(times):>8.2f} {min(times):>6.2f}  "
                  f"{heavy or '(none of ' + '/'.join(HEAVY) + ')'}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
