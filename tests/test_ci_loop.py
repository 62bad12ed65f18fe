"""The CI loop as a CI system runs it: subprocesses, exit codes, JUnit files.

The fast tests judge hand-made stored runs with ``harness gate`` / ``harness
compare``; the slow one runs ``examples/ci/recipe.toml`` end to end exactly as
``examples/ci/harness.yml`` does.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.store.local import Store
from tests.test_compare import _binary_pair, make_run, rows

ROOT = Path(__file__).resolve().parents[1]


def harness(*args: str, cwd: Path | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd or ROOT, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "runs")


def _junit(path: Path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    return suite, suite.findall("testcase")


def test_gate_exit_codes_junit_and_summary(store, tmp_path):
    a, b = _binary_pair(seed=3, n=120)   # accuracy 0.4 → 0.65 on the same 120 items
    run_id = make_run(store, "ci-fake", rows("qa", "acc", a), rows("qa", "acc", b),
                      gates={"qa/acc": {"min": 0.5, "max_drop": 0.0, "confidence": 0.95}})
    recipe = tmp_path / "strict.toml"
    recipe.write_text('[gates]\n"qa/acc" = { min = 0.9 }\n')

    # the run's own recipe gates: pass → 0
    ok = harness("gate", run_id, "--store", str(store.root), "--junit", str(tmp_path / "ok.xml"),
                 "--summary", str(tmp_path / "ok.md"))
    assert ok.returncode == 0, ok.stderr
    suite, cases = _junit(tmp_path / "ok.xml")
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert not any(c.find("failure") is not None for c in cases)
    assert "✅" in (tmp_path / "ok.md").read_text()

    # a stricter recipe and a deliberately failing --gate: 1, with a <failure>
    for extra in (["--recipe", str(recipe)], ["--gate", "qa/acc:max_increase=0.1"]):
        bad = harness("gate", "ci-fake", "--store", str(store.root), "--junit", str(tmp_path / "bad.xml"), *extra)
        assert bad.returncode == 1, bad.stdout + bad.stderr
        suite, cases = _junit(tmp_path / "bad.xml")
        assert suite.get("failures") == "1" and suite.get("name") == "ci-fake"
        [failure] = [c.find("failure") for c in cases if c.find("failure") is not None]
        assert "qa/acc" in failure.get("message")

    as_json = json.loads(harness("gate", run_id, "--store", str(store.root), "--json",
                                 "--gate", "qa/acc:min=0.99").stdout)
    assert as_json["passed"] is False and as_json["gates"][-1]["rule"] == "min"


def test_gate_cannot_be_done_exits_2(store, tmp_path):
    make_run(store, "fine", rows("qa", "acc", [1, 0]), rows("qa", "acc", [1, 1]))
    crashed = make_run(store, "crashed", rows("qa", "acc", [1, 0]), status="failed",
                       error={"stage": "train-0-sft", "type": "RuntimeError", "message": "boom"})
    s = str(store.root)
    unknown = harness("gate", "nope", "--store", s, "--gate", "qa/acc:min=0")
    assert unknown.returncode == 2 and "no run 'nope'" in unknown.stderr
    bad_spec = harness("gate", "fine", "--store", s, "--gate", "qa/acc:mni=0")
    assert bad_spec.returncode == 2 and "did you mean 'min'" in bad_spec.stderr
    no_gates = harness("gate", "fine", "--store", s)
    assert no_gates.returncode == 2 and "no gates" in no_gates.stderr
    crash = harness("gate", crashed, "--store", s, "--gate", "qa/acc:min=0", "--junit", str(tmp_path / "c.xml"))
    assert crash.returncode == 2 and "boom" in crash.stderr
    suite, [case] = _junit(tmp_path / "c.xml")
    assert case.find("error") is not None and suite.get("errors") == "1"


def test_compare_cli(store):
    a, b = _binary_pair(seed=4, n=80)
    one = make_run(store, "one", rows("qa", "acc", a), rows("qa", "acc", b))
    make_run(store, "two", rows("qa", "acc", b), tasks={"qa": {"content_hash": "x", "version": "1"}})
    s = str(store.root)
    out = harness("compare", one, "--store", s, "--json", "--flips", "qa/acc", "--seed", "5")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    [m] = data["metrics"]
    assert m["flips"] == {"0→1": 40, "1→0": 10} and data["seed"] == 5
    assert len(data["flips"]["items"]) == 50
    refused = harness("compare", "one", "two", "--store", s)
    assert refused.returncode == 2 and "content_hash differs" in refused.stderr
    allowed = harness("compare", "one", "two", "--store", s, "--allow-mismatch")
    assert allowed.returncode == 0 and "warning: mismatch: qa: content_hash differs" in allowed.stdout


def _workflow_steps() -> dict[str, dict]:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "harness.yml").read_text())
    [job] = workflow["jobs"].values()
    return {step.get("name") or step.get("uses"): step for step in job["steps"]}


def test_workflow_runs_the_recipe_and_keeps_reports_of_failed_runs():
    steps = _workflow_steps()
    cmd = steps["Evaluate, train, evaluate, gate"]["run"]
    assert cmd.split()[:3] == ["harness", "run", "examples/ci/recipe.toml"]
    assert "--junit results.xml" in cmd and '--summary "$GITHUB_STEP_SUMMARY"' in cmd
    assert steps["Upload the run store"]["if"] == "always()"
    publish = steps["Publish gate results"]
    assert publish["if"] == "always()" and publish["with"]["report_paths"] == "results.xml"
    assert 'pip install -e ".[all]"' in steps["Install"]["run"]


@pytest.mark.slow
def test_example_workflow_steps(tmp_path):
    """The steps of examples/ci/harness.yml, run locally: harness run → JUnit → gate → compare."""
    s = str(tmp_path / "runs")
    junit, summary = tmp_path / "results.xml", tmp_path / "summary.md"
    cmd = shlex.split(_workflow_steps()["Evaluate, train, evaluate, gate"]["run"].replace(
        '"$GITHUB_STEP_SUMMARY"', str(summary)).replace("results.xml", str(junit)))
    assert cmd[:2] == ["harness", "run"]
    run = harness(*cmd[1:], "--store", s, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    suite, cases = _junit(junit)
    assert suite.get("name") == "ci-tiny-sft" and int(suite.get("tests")) == len(cases) >= 3
    assert suite.get("failures") == "0"
    assert summary.read_text().count("✅") >= 3

    # the same stored run, judged again without re-running: a deliberately failing gate → 1
    fail = harness("gate", "ci-tiny-sft", "--store", s, "--gate", "quick_mc/acc_norm:min=0.99",
                   "--junit", str(tmp_path / "fail.xml"))
    assert fail.returncode == 1
    assert _junit(tmp_path / "fail.xml")[0].get("failures") == "1"
    for extra in ([], ["--recipe", "examples/ci/recipe.toml"]):  # the recipe's gates, recomputed
        again = harness("gate", "ci-tiny-sft", "--store", s, *extra)
        assert again.returncode == 0, again.stdout + again.stderr

    cmp = harness("compare", "latest", "--store", s, "--json")
    assert cmp.returncode == 0, cmp.stderr
    norm = {m["metric"]: m for m in json.loads(cmp.stdout)["metrics"]}["quick_mc/acc_norm"]
    assert norm["n_paired"] == 67 and norm["significant"] and norm["diff"] > 0
