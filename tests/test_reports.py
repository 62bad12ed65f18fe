"""JUnit XML and markdown summary shapes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.reports.junit import build_junit, write_junit
from harness.reports.summary import render_summary, write_summary
from harness.verdicts.compare import compare_records
from harness.verdicts.gates import GateResult
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
    assert "| ✅ pass | `qa/acc` | min | 0.5 | 0.75 | — | — | — |" in text
    assert "| ❌ fail | `qa/acc` | max_increase | 0.1 | 0.5 | 0.9 | — | — |" in text
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


# ------------------------------------------------------------------ every report: verdict, confidence, MDE


def _three_verdicts(policy: dict | None = None):
    """A real run's gates judged by harness.verdicts.gates: one fail, one pass, one inconclusive (Holm, 3 checks)."""
    from harness.verdicts.gates import evaluate_gates, gating_summary, parse_gates_table
    from tests.test_metric_table import DIRS, QA, SAFE_A, SAFE_B, XS_A, XS_B, _record

    before, after = SAFE_B + XS_B + QA, SAFE_A + XS_A + QA
    rec = _record(before, after, DIRS)
    specs = parse_gates_table({"xs/over_refusal": {"max_increase": 0.1}, "adv/harmful_compliance": {"max": 0.5},
                               "qa/acc": {"max_drop": 0.01}})
    results = evaluate_gates(specs, rec, before_samples=before, after_samples=after, policy=policy)
    rec.update(gates=[g.to_dict() for g in results], gating=gating_summary(results, policy),
               gates_passed=all(g.passed for g in results), status="completed")
    return rec, compare_records(rec, before, rec, after, phase_a="before", phase_b="after")


POLICY = "verdicts: 1 pass, 1 fail, 1 inconclusive · on_inconclusive = fail · confidence Holm-adjusted across 3 checks"


def test_every_gate_report_shows_the_verdict_the_adjusted_confidence_and_the_mde(tmp_path):
    import sys

    from harness.cli.runs_cmd import format_record
    from harness.reports.html import render_html
    from harness.reports.junit import build_junit
    from harness.reports.metric_table import gate_cells
    from harness.reports.model_card import model_card
    from harness.reports.render import gate_lines, rows_for

    rec, comp = _three_verdicts()
    by = {g["metric"]: g for g in rec["gates"]}
    inc = by["qa/acc"]
    assert inc["verdict"] == "inconclusive" and inc["adjust"] == "holm" and inc["confidence_adjusted"] == 0.975
    assert gate_cells(inc)["confidence"] == "97.5% (Holm)" and gate_cells(inc)["mde"] == f"{inc['mde']:.4g}"
    assert gate_cells(by["adv/harmful_compliance"])["confidence"] == "98.33% (Holm)"
    mde = gate_cells(inc)["mde"]

    summary = render_summary(rec, rec["gates"], comp)
    assert "| Verdict | Metric | Rule | Threshold | Observed | Bound | Confidence | MDE | Detail |" in summary
    assert f"| ❔ inconclusive (counts as failed) | `qa/acc` | max_drop | 0.01 | 0 | 0.0245 | 97.5% (Holm) | {mde} |" \
        in summary
    html = render_html(comp, rows_for(comp, rec["gates"], rec, rec), title="t", gates=rec["gates"],
                       gating=rec["gating"])
    show = format_record(rec, comp)
    quiet = format_record(rec, comp, quiet=True)   # what `harness run --quiet` prints
    card = model_card(rec, comp)
    lines = "\n".join(gate_lines(rec["gates"]))    # `harness gate` and the run log
    for name, text in [("summary", summary), ("html", html), ("show", show), ("quiet", quiet), ("card", card)]:
        assert "inconclusive" in text.lower() and "97.5% (Holm)" in text and mde in text, name
        assert POLICY in text, name
    assert f"straddles max_drop 0.01 · MDE {mde}" in lines and "97.5% (Holm-adjusted from 95%)" in lines
    assert '<td class="gate-inconclusive">inconclusive (counts as failed)</td>' in html
    assert f"| `qa/acc` | max_drop | 0.01 | 0 | 0.0245 | 97.5% (Holm) | {mde} | inconclusive (counts as failed) |" in card
    assert "gates NOT passed: 1 pass, 1 fail, 1 inconclusive" in card

    root = build_junit(rec, rec["gates"], comp)
    suite = root.find("testsuite")
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["gating"].startswith(POLICY)
    case = next(c for c in suite.iter("testcase") if c.get("name") == "qa/acc max_drop")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props == {"gate_verdict": "inconclusive (counts as failed)", "confidence": "97.5% (Holm)", "mde": mde}
    assert case.find("failure").get("type") == "GateInconclusive" and "on_inconclusive = fail" in \
        case.find("failure").get("message")
    assert suite.get("failures") == "2" and suite.get("skipped") == "0"

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
    from harness_dash.comparing import gates_frame

    frame = gates_frame(rec).set_index("metric")
    assert frame.loc["qa/acc", "verdict"] == "? inconclusive (counts as failed)"
    assert frame.loc["qa/acc", "confidence"] == "97.5% (Holm)" and frame.loc["qa/acc", "mde"] == inc["mde"]


def test_an_inconclusive_gate_the_policy_passes_is_a_skipped_junit_case():
    rec, _ = _three_verdicts({"on_inconclusive": "warn", "adjust": "none"})
    suite = build_junit(rec, rec["gates"]).find("testsuite")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "qa/acc max_drop")
    assert case.find("failure") is None
    assert case.find("skipped").get("message").startswith("inconclusive (counts as passed): on_inconclusive = warn")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    # without Holm every interval is at the gate's own level, and the report says so
    assert {p.get("value") for p in suite.iter("property") if p.get("name") == "confidence"} == {"95% (unadjusted)"}
    assert "no multiplicity adjustment (95% per check)" in render_summary(rec, rec["gates"])


def test_old_gate_records_render_with_dashes():
    from harness.reports.metric_table import gate_cells

    old = {"metric": "qa/acc", "rule": "min", "threshold": 0.5, "observed": 0.7, "bound": None, "passed": True,
           "message": "qa/acc = 0.7 >= 0.5"}
    assert gate_cells(old) == {"verdict": "pass", "metric": "qa/acc", "rule": "min", "threshold": "0.5",
                               "observed": "0.7", "bound": "—", "confidence": "—", "mde": "—",
                               "detail": "qa/acc = 0.7 >= 0.5"}
    # before gates recorded ``adjust``: a level that moved was Holm's
    assert gate_cells({**old, "confidence": 0.95, "confidence_adjusted": 0.975})["confidence"] == "97.5% (Holm)"
    assert gate_cells({**old, "confidence": 0.95, "confidence_adjusted": 0.95})["confidence"] == "95%"
    assert "| ✅ pass | `qa/acc` | min | 0.5 | 0.7 | — | — | — |" in render_summary(RECORD, [old])


def test_two_run_html_report_judges_with_bs_policy(tmp_path):
    """`harness report A B`: B's recipe gates, judged with A as the baseline under B's [gates] policy."""
    from click.testing import CliRunner

    from harness.cli.report_cmd import report
    from harness.store.local import Store
    from tests.test_compare import make_run

    store = Store(tmp_path / "runs")
    same = rows("qa", "acc", [1, 0] * 20)
    a = make_run(store, "a", same)
    b = make_run(store, "b", same, same, gates={"qa/acc": {"max_drop": 0.01}, "on_inconclusive": "warn"})
    out = tmp_path / "r.html"
    res = CliRunner().invoke(report, [a, b, "--store", str(store.root), "--html", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "inconclusive (counts as passed)" in html and "95% (Holm)" in html
    assert "verdicts: 0 pass, 0 fail, 1 inconclusive · on_inconclusive = warn · confidence Holm-adjusted across " \
        "1 check (95% family-wise)" in html
