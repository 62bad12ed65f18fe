"""The tiny quickstart, end to end through the CLI, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    env = {**os.environ, "HARNESS_STORE": str(store),
           "HARNESS_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    proc = cli("run", "recipes/quickstart.toml", "--json", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    result = json.loads(proc.stdout)
    record = json.loads((Path(result["run_dir"]) / "run.json").read_text())
    return env, result, record


@pytest.mark.slow
def test_record_structure(quickstart):
    _, result, record = quickstart
    assert record["status"] == "completed" and record["gates_passed"] is True
    assert [s["name"] for s in record["stages"]] == \
        ["load", "data", "evaluate-before", "train-0-sft", "train-1-dpo", "evaluate-after", "gates"]
    assert all(s["status"] == "ok" and s["duration_s"] >= 0 for s in record["stages"])
    for phase in ("before", "after"):
        assert {"quick_mc/acc", "quick-safety/refusal_rate", "quick-safety/over_refusal"} <= set(record["metrics"][phase])
        assert record["metrics"][phase]["quick_mc/acc"]["stderr"] > 0
    assert record["model"]["fingerprint"] != record["model"]["fingerprint_after"]
    roles = {c["role"] for c in record["components"]}
    assert {"model", "train:0", "train:1", "evaluate:lm-eval", "evaluate:safety"} <= roles
    assert all(c["distribution"] == "posttrain-harness" and c["version"] for c in record["components"])
    env = record["environment"]
    assert env["libraries"]["trl"] and env["libraries"]["lm_eval"] and env["accelerator"]["kind"] in ("cpu", "cuda")
    assert record["tasks"]["quick_mc"]["content_hash"] and record["tasks"]["quick-safety"]["n"] > 0
    run_dir = Path(result["run_dir"])
    dpo_log = [json.loads(x) for x in (run_dir / record["training"][1]["log"]).read_text().splitlines()]
    assert any("rewards/margins" in row for row in dpo_log)
    before = [json.loads(x) for x in (run_dir / "samples" / "before.jsonl").read_text().splitlines()]
    assert {r["evaluator"] for r in before} == {"lm-eval", "safety"}
    assert (run_dir / "summary.md").exists()  # the markdown reporter ran


@pytest.mark.slow
def test_sft_raised_the_benchmark(quickstart):
    _, _, record = quickstart
    before = record["metrics"]["before"]["quick_mc/acc"]
    after = record["metrics"]["after"]["quick_mc/acc"]
    # a real improvement, far outside the noise of either estimate
    assert after["value"] - before["value"] > 2 * (before["stderr"] + after["stderr"])


@pytest.mark.slow
def test_show_and_runs_print_it(quickstart):
    env, result, record = quickstart
    shown = cli("show", result["id"], env=env)
    assert shown.returncode == 0
    assert "quick_mc/acc" in shown.stdout and "train-0-sft" in shown.stdout and record["id"] in shown.stdout
    listed = json.loads(cli("runs", "--json", env=env).stdout)
    assert listed[0]["id"] == record["id"] and listed[0]["status"] == "completed"
