#!/usr/bin/env bash
# The GPU check of issue 12, one prepared script (under 8 minutes on one H100/H200):
#   1. the SmolLM2 quickstart loop, as `make quickstart` runs it (device and precision picked by the harness);
#   2. benchmarks/gpu_throughput.py on a ~1.07B-parameter model built from a config (random weights):
#      training tokens/s and MFU, generation tokens/s and memory-bandwidth share at batch 64 (beside plain
#      model.generate), lm-eval requests/s;
#   3. with 2+ GPUs, the tiny quickstart as one run across 2 processes (--launcher accelerate).
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]   (PYTHON=... to pick the interpreter; default .venv/bin/python
# when it exists, else python3). Figures go to stdout and OUT_DIR (default ./gpu-check): the packed quickstart
# record (add it to a store with `harness unpack`), throughput.json and the log. Record them in docs/benchmarks.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-check}"
mkdir -p "$OUT"
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export HARNESS_STORE="${HARNESS_STORE:-$OUT/store}" PYTHONUNBUFFERED=1
harness() { "$PY" -m harness.cli "$@"; }
step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi: not a CUDA machine"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus', torch.cuda.device_count())"
GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count())")

step "SmolLM2 quickstart (recipes/smollm2-quickstart.toml)"
start=$(date +%s)
harness run recipes/smollm2-quickstart.toml --summary "$OUT/quickstart-summary.md"; rc=$?
echo "quickstart: exit $rc (1 = a gate did not pass) in $(( $(date +%s) - start )) s"
harness pack latest -o "$OUT/quickstart-run.tar.gz" || true

step "throughput, ~1B model from a config"
"$PY" benchmarks/gpu_throughput.py --preset 1b --json-out "$OUT/throughput.json"

if [ "${GPUS:-0}" -ge 2 ]; then
  step "one run across 2 GPUs (tiny quickstart, --launcher accelerate)"
  start=$(date +%s)
  harness run recipes/quickstart.toml --launcher accelerate --num-processes 2
  echo "2-process quickstart: exit $? in $(( $(date +%s) - start )) s"
fi
step "done: $OUT"
