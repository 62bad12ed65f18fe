"""`harness eval`: evaluation without training, stored as a run, cached by weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc"


def harness(*args, env):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "HARNESS_STORE": str(tmp_path / "runs"), "HARNESS_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.slow
def test_eval_suites_json_stored_and_cached(env, tmp_path):
    args = ["eval", "--model", "tiny", "--tasks", "quick_mc", "--suites", "quick-safety", "--limit", "8", "--json"]
    first = harness(*args, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    out = json.loads(first.stdout)
    metrics = out["metrics"]["before"]
    assert metrics["quick_mc/acc"]["n"] == 8 and metrics["quick_mc/acc"]["stderr"] > 0
    assert "quick-safety/refusal_rate" in metrics
    record = json.loads((Path(out["run_dir"]) / "run.json").read_text())
    assert record["kind"] == "eval" and record["status"] == "completed" and "after" not in record["metrics"]
    second = json.loads(harness(*args, env=env).stdout)
    assert second["metrics"] == out["metrics"]
    rec2 = json.loads((Path(second["run_dir"]) / "run.json").read_text())
    assert [s.get("cached") for s in rec2["stages"] if s["kind"] == "evaluate"] == [True]
    listed = json.loads(harness("runs", "--json", env=env).stdout)
    assert len(listed) == 2 and all(r["kind"] == "eval" for r in listed)


@pytest.mark.slow
def test_eval_include_path_task_yaml(env, tmp_path):
    tasks = tmp_path / "my_tasks"
    tasks.mkdir()
    shutil.copy(QUICK / "quick_mc.jsonl", tasks / "items.jsonl")
    yaml = (QUICK / "quick_mc.yaml").read_text().replace("task: quick_mc", "task: my_mc")
    yaml = yaml.replace("test: quick_mc.jsonl", f"test: {tasks / 'items.jsonl'}")
    (tasks / "my_mc.yaml").write_text(yaml)
    proc = harness("eval", "--model", "tiny", "--include-path", str(tasks), "--tasks", "my_mc", "--limit", "5",
                   "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["metrics"]["before"]["my_mc/acc"]["n"] == 5


def test_eval_without_model_or_tasks_is_a_clear_error(env):
    proc = harness("eval", "--tasks", "quick_mc", env=env)
    assert proc.returncode == 2 and "give a recipe or --model" in proc.stderr
    proc = harness("eval", "--model", "tiny", env=env)
    assert proc.returncode == 2 and "nothing to evaluate" in proc.stderr
    proc = harness("eval", "--model", "nope", "--tasks", "quick_mc", env=env)
    assert proc.returncode == 2 and "model.loader: unknown model loader 'nope'" in proc.stderr


def test_eval_split_reaches_every_evaluator(env):
    proc = harness("eval", "--model", "tiny", "--tasks", "quick_mc", "--suites", "quick-safety", "--split", "test",
                   "--json", "--no-cache", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["metrics"]["before"]["quick_mc/acc"]["n"] == 34  # quick_mc's test half of 67
    record = json.loads((Path(out["run_dir"]) / "run.json").read_text())
    splits = {task: info["settings"]["split"] for task, info in record["tasks"].items()}
    assert splits == {"quick_mc": "test", "quick-safety": "test"}, splits
