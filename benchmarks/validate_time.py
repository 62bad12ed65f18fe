"""Wall time of `harness validate` on each shipped recipe, and how much of it is imports.

Each recipe is validated in a fresh process (as a user or CI runs it), ``--repeat`` times;
the script prints the median wall time and, from one ``python -X importtime`` run, the
seconds spent importing the heaviest top-level packages (cumulative, so nested imports
count once under the package that pulled them in).

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
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    print(f"{'recipe':<28} {'median s':>8} {'min s':>6}  heaviest imports (s, cumulative)")
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="validate-time-"))
    # the same quickstart without its [[train]] tables: what every check but the trainers' costs
    text = (REPO / "recipes" / "quickstart.toml").read_text().replace('path = "../', f'path = "{REPO}/')
    no_train = re.sub(r"\[\[train\]\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
    (tmp / "quickstart-without-train.toml").write_text(no_train)
    for recipe in [*sorted((REPO / "recipes").glob("*.toml")), tmp / "quickstart-without-train.toml"]:
        times = [validate_once(recipe, env) for _ in range(args.repeat)]
        imports = import_seconds(recipe, env)
        heavy = ", ".join(f"{k} {v:.1f}" for k, v in sorted(imports.items(), key=lambda kv: -kv[1])[:4])
        print(f"{recipe.name:<28} {statistics.median(times):>8.2f} {min(times):>6.2f}  {heavy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
