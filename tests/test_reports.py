"""JUnit XML and markdown summary shapes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.compare import compare_records
from harness.gates import GateResult
from harness.reports.junit import write_junit
from harness.reports.summary import render_summary, write_summary
from tests.test_compare import TASK, agg, rows

BEFORE = rows("qa", "acc", [1, 0, 0, 0])
AFTER = rows("qa", "acc", [1, 1, 1, 0])
RECORD = {"id": "20260101-000000-ci-ab12", "name": "ci", "status": "completed", "duration_s": 12.5,
          "metrics": {"before": agg(BEFORE), "after": agg(AFTER)}, "tasks": {"qa": TASK}}
PASS = GateResult("qa/acc", "min", 0.5, 0.75, None, True, "qa/acc = 0.75 >= 0.5")
FAIL = GateResult("qa/acc", "max_increase", 0.1, 0.5, 0.9, False, "qa/acc improved by 0.5 <too> & much")


def test_junit_gates_are_testcases_failures_carry_the_message(tmp_path):
    path = write_junit(RECORD, [PASS, FAIL], tmp_path / "out" / "results.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "1"
    [suite] = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("time")) \
        == ("ci", "2", "1", "0", "12.500")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("ci", "qa/acc min"), ("ci", "qa/acc max_increase")]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure.get("message") == "qa/acc improved by 0.5 <too> & much" and "bound: 0.9" in failure.text


def test_junit_crashed_run_is_one_error(tmp_path):
    crashed = dict(RECORD, status="failed", error={"stage": "train-0-sft", "type": "RuntimeError",
                                                   "message": "CUDA out of memory", "traceback": "Traceback..."})
    root = ET.parse(write_junit(crashed, [], tmp_path / "r.xml")).getroot()
    [case] = root.iter("testcase")
    err = case.find("error")
    assert err.get("type") == "RuntimeError" and "train-0-sft" in err.get("message")
    assert "CUDA out of memory" in err.get("message") and err.text == "Traceback..."
    assert root.find("testsuite").get("errors") == "1"
    # a completed run without gates still yields one (passing) test case
    root = ET.parse(write_junit(RECORD, [], tmp_path / "n.xml")).getroot()
    assert len(list(root.iter("testcase"))) == 1 and not list(root.iter("failure"))


def test_summary_status_gates_and_metrics(tmp_path):
    text = render_summary(RECORD, [PASS, FAIL])
    assert text.splitlines()[2].startswith("❌ **ci**") and "1 of 2 gate checks failed" in text
    assert "| ✅ | `qa/acc` | min | 0.5 | 0.75 | — |" in text
    assert "| ❌ | `qa/acc` | max_increase | 0.1 | 0.5 | 0.9 |" in text
    assert "| `qa/acc` | ↑ | 0.25 | 0.75 | +0.500 |" in text        # aggregates without a comparison
    ok = render_summary(RECORD, [PASS])
    assert "✅ **ci**" in ok and "all 1 gate checks passed" in ok
    comp = compare_records(RECORD, BEFORE, RECORD, AFTER, phase_a="before", phase_b="after")
    m = comp.metric("qa/acc")
    with_ci = render_summary(RECORD, [PASS], comp)
    assert f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]" in with_ci and "95% CI" in with_ci and "2 / 0" in with_ci
    crashed = render_summary(dict(RECORD, status="failed", error={"stage": "load", "message": "boom"}), [])
    assert crashed.startswith("## harness: ci") and "❌ **ci** (20260101-000000-ci-ab12) failed at stage `load`: boom" in crashed


def test_summary_appends_to_github_step_summary_only(tmp_path, monkeypatch):
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    write_summary(RECORD, [PASS], step)
    assert step.read_text().startswith("earlier step\n## harness: ci")
    other = tmp_path / "other.md"
    other.write_text("old\n")
    write_summary(RECORD, [PASS], other)
    assert other.read_text().startswith("## harness: ci")
