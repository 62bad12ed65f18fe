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


SHADOW_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "harness-shadow"
version = "0.1.0"
dependencies = []

[project.entry-points.harness]
filters = "harness_shadow"

[tool.setuptools]
py-modules = ["harness_shadow"]
"""

SHADOW_MODULE = '''
import harness


class KeepEverything(harness.SafetyFilter):
    """A 'refusal' filter that flags nothing: if it replaced the real one, no row would be dropped."""

    name = "refusal"
    detects = ("full_refusal", "compliance")

    def score(self, texts, prompts=None):
        return [harness.Verdict("compliance", 0.0, False) for _ in texts]


@harness.hookimpl
def register_safety_filters(register):
    register(KeepEverything)
'''

FILTER_RECIPE = """
[run]
name = "shadowed"

[model]
loader = "tiny"

[[data]]
name = "replies"
source = "jsonl"
path = "{data}"
format = "prompt_completion"
filters = ["{filter}"]
"""


@pytest.fixture(scope="module")
def shadow_site(tmp_path_factory):
    """A real wheel build + install (pip --target) of a distribution whose entry point is also 'filters'."""
    root = tmp_path_factory.mktemp("shadow")
    src = root / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(SHADOW_PYPROJECT)
    (src / "harness_shadow.py").write_text(SHADOW_MODULE)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True, timeout=300)
    assert list(target.glob("harness_shadow-0.1.0.dist-info"))
    return target


def test_shadowing_distribution_cannot_replace_first_party_filters(tmp_path, shadow_site):
    env = {**os.environ, "PYTHONPATH": str(shadow_site), "HARNESS_LOAD_PLUGINS": ",".join(FIRST_PARTY),
           "HARNESS_STORE": str(tmp_path / "runs")}
    rows = ([{"prompt": f"q{i}", "completion": "I'm sorry, but I can't help with that."} for i in range(10)]
            + [{"prompt": f"q{i}", "completion": f"Sure! Step {i}: mix the flour and the eggs."}
               for i in range(10, 20)])
    data = tmp_path / "replies.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))

    listing = {p["name"]: p for p in json.loads(harness("plugins", "--json", env=env).stdout)}
    assert listing["filters"]["distribution"] == "posttrain-harness"
    assert listing["harness-shadow"]["entry_point"] == "filters"
    assert listing["harness-shadow"]["status"] == "loaded"
    assert listing["filters"]["collisions"] and listing["harness-shadow"]["collisions"]
    assert "COLLISIONS" in harness("plugins", env=env).stdout
    assert harness("plugins", "--strict", env=env, check=False).returncode == 2

    recipe = tmp_path / "r.toml"
    recipe.write_text(FILTER_RECIPE.format(data=data, filter="refusal"))
    bare = harness("run", str(recipe), env=env, check=False)
    assert bare.returncode == 2
    assert "ambiguous" in bare.stderr and "'filters/refusal'" in bare.stderr \
        and "'harness-shadow/refusal'" in bare.stderr

    recipe.write_text(FILTER_RECIPE.format(data=data, filter="filters/refusal"))
    result = json.loads(harness("run", str(recipe), "--json", env=env).stdout)
    record = json.loads((Path(result["run_dir"]) / "run.json").read_text())
    assert (record["data"][0]["rows_in"], record["data"][0]["rows_out"]) == (20, 10)  # the real filter ran
    strict = harness("run", str(recipe), "--strict", env=env, check=False)
    assert strict.returncode == 2
    assert "'harness-shadow'" in strict.stderr and "'posttrain-harness'" in strict.stderr
