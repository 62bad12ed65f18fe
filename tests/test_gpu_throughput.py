"""benchmarks/gpu_throughput.py (what benchmarks/gpu_check.sh runs on a GPU), on the CPU with the tiny preset:
the figures it prints follow from what it measured, and the harness's generation matches plain generate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_figures_on_the_cpu(tmp_path):
    args = ["--preset", "tiny", "--train-steps", "2", "--train-rows", "16", "--seq-len", "48", "--gen-batch", "4",
            "--new-tokens", "8", "--lm-eval-docs", "8", "--lm-eval-batch", "8", "--peak-tflops", "2", "--peak-gbs", "3",
            "--json", "--json-out", str(tmp_path / "figures.json")]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_throughput.py"), *args], text=True,
                          capture_output=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    f = json.loads(proc.stdout)
    assert json.loads((tmp_path / "figures.json").read_text()) == f  # what gpu_check.sh keeps
    t, g, e = f["training"], f["generation"], f["lm_eval"]
    assert f["device_name"] == "cpu" and f["parameters"] > 0
    assert t["tokens_per_s"] > 0 and t["weights_dtype"] == "torch.float32"
    assert t["mfu"] == pytest.approx(6 * f["parameters"] * t["tokens_per_s"] / 2e12)
    assert g["tokens_per_s"] > 0 and g["outputs_matching_plain"] == "4/4", g  # fp32 greedy: identical outputs
    assert g["ratio_vs_plain"] == pytest.approx(g["tokens_per_s"] / g["plain_generate_tokens_per_s"])
    assert 0 < g["bandwidth_share"] and g["dtype"] == "float32"
    assert e["requests_per_s"] > 0 and e["docs"] == 8


def test_gpu_check_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu_check.sh")], check=True)
