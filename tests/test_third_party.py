"""A real `pip install` of a third-party plugin package makes it appear and usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIRST_PARTY

EXAMPLE = Path(__file__).parent / "example_plugin"

RECIPE = """
[run]
name = "hello-run"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "hello/reply-length"
max_new_tokens = 6
filters = ["shouting"]
"""


def harness(*args, env, check=True):
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.slow
def test_pip_install_plugin_then_use_it_then_uninstall(tmp_path):
    env = {**os.environ, "HARNESS_LOAD_PLUGINS": ",".join(FIRST_PARTY + ["hello"]),
           "HARNESS_STORE": str(tmp_path / "runs")}
    harness("plugins", "install", str(EXAMPLE), env=env)
    try:
        listing = {p["name"]: p for p in json.loads(harness("plugins", "--json", env=env).stdout)}
        hello = listing["hello"]
        assert hello["status"] == "loaded"
        assert hello["distribution"] == "harness-hello" and hello["version"] == "0.1.0"
        assert hello["hooks"] == ["register_evaluators", "register_safety_filters"]

        recipe = tmp_path / "hello.toml"
        recipe.write_text(RECIPE)
        out = harness("run", str(recipe), "--json", env=env)
        result = json.loads(out.stdout)
        assert result["status"] == "completed"
        assert result["metrics"]["before"]["hello/reply_chars"]["n"] == 3
        record = json.loads((Path(result["run_dir"]) / "run.json").read_text())
        used = {c["name"]: c for c in record["components"]}
        assert used["reply-length"]["distribution"] == "harness-hello"
        assert used["shouting"]["params"] == {"threshold": 0.8}
        rows = [json.loads(line) for line in (Path(result["run_dir"]) / "samples" / "before.jsonl").open()]
        assert all(r["filters"]["shouting"]["label"] in ("shouting", "calm") for r in rows)
    finally:
        harness("plugins", "uninstall", "harness-hello", env=env)
    listing = {p["name"] for p in json.loads(harness("plugins", "--json", env=env).stdout)}
    assert "hello" not in listing
