"""Gate tiers (issue #25): an advisory gate is judged and shown but never fails the run, and the
verdict line and every report say which tier each gate is."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from harness.store.local import Store
from harness.verdicts.compare import compare_records
from harness.verdicts.gates import GateSpec, evaluate_gates, gating_summary, parse_gate_option, parse_gates_table
from tests.test_compare import make_run, rows
from tests.test_metric_table import DIRS, QA, SAFE_A, SAFE_B, XS_A, XS_B, _record

# harm falls 1.0 → 0.1 (critical max 0.5: pass); acc 0.5 (critical min 0.2: pass);
# over-refusal rises 0 → 0.83 (advisory max_increase 0.1: fail)
GATES = {"adv/harmful_compliance": {"max": 0.5}, "qa/acc": {"min": 0.2},
         "xs/over_refusal": {"max_increase": 0.1, "tier": "advisory"}}


def _judged(gates=GATES, policy=None):
    before, after = SAFE_B + XS_B + QA, SAFE_A + XS_A + QA
    rec = _record(before, after, DIRS)
    results = evaluate_gates(parse_gates_table(gates), rec, before_samples=before, after_samples=after, policy=policy)
    rec.update(gates=[g.to_dict() for g in results], gating=gating_summary(results, policy),
               gates_passed=all(g.passed for g in results))
    return rec, results, compare_records(rec, before, rec, after, phase_a="before", phase_b="after")


def test_an_advisory_gate_is_judged_but_never_fails_the_run():
    rec, results, _ = _judged()
    by = {r.metric: r for r in results}
    assert by["xs/over_refusal"].verdict == "fail" and by["xs/over_refusal"].tier == "advisory"
    assert by["xs/over_refusal"].passed and rec["gates_passed"] is True
    assert {by[m].tier for m in ("adv/harmful_compliance", "qa/acc")} == {"critical"}
    assert rec["gating"]["tiers"] == {"critical": 2, "advisory": 1} and rec["gating"]["outcome"] == "passed"
    # the same gate as critical fails the run
    rec2, _, _ = _judged({**GATES, "xs/over_refusal": {"max_increase": 0.1}})
    assert rec2["gates_passed"] is False and rec2["gating"]["outcome"] == "failed"
    assert GateSpec(min=0.1).tier == "critical"
    assert parse_gate_option("qa/acc:min=0.1,tier=advisory")[1].tier == "advisory"


def test_every_report_says_each_gates_tier():
    from harness.cli.runs_cmd import format_record
    from harness.reports.html import render_html
    from harness.reports.junit import build_junit
    from harness.reports.model_card import model_card
    from harness.reports.render import gate_lines, rows_for
    from harness.reports.summary import render_summary

    rec, _, comp = _judged()
    verdict = "over-refusal worse (advisory gate failed)"
    lines = "\n".join(gate_lines(rec["gates"]))
    assert "FAIL [advisory: never fails the run]  xs/over_refusal rose by" in lines
    assert "PASS [critical]  adv/harmful_compliance" in lines

    show = format_record(rec, comp)
    assert verdict in show.splitlines()[0] and "gates passed" in show
    table = [line.split() for line in show.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert {(t[0], t[1], t[2]) for t in table} == {("PASS", "critical", "adv/harmful_compliance"),
                                                   ("PASS", "critical", "qa/acc"),
                                                   ("FAIL", "advisory", "xs/over_refusal")}

    summary = render_summary(rec, rec["gates"], comp)
    assert "| ❌ fail (advisory: never fails the run) | advisory | `xs/over_refusal` | max_increase |" in summary
    assert "✅ **r** (R): all 2 critical gate checks passed (1 advisory, 1 of them not passed" in summary
    assert verdict in summary and "(2 critical, 1 advisory: never fail the run)" in summary

    html = render_html(comp, rows_for(comp, rec["gates"], rec, rec), title="t", gates=rec["gates"],
                       gating=rec["gating"])
    assert '<td class="tier-advisory">advisory</td>' in html and '<td class="tier-critical">critical</td>' in html
    assert verdict in html

    card = model_card(rec, comp)
    assert "| `xs/over_refusal` | advisory | max_increase |" in card and "all critical gates passed" in card

    root = build_junit(rec, rec["gates"], comp)
    suite = root.find("testsuite")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "xs/over_refusal max_increase")
    assert {p.get("name"): p.get("value") for p in case.iter("property")}["tier"] == "advisory"
    assert case.find("failure") is None and "advisory" in case.find("skipped").get("message")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "1")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
    from harness_dash.comparing import gates_frame

    frame = gates_frame(rec).set_index("metric")
    assert frame.loc["xs/over_refusal", "tier"] == "advisory" and frame.loc["qa/acc", "tier"] == "critical"
    assert frame.loc["xs/over_refusal", "verdict"] == "✗ fail (advisory: never fails the run)"


def test_harness_gate_exits_0_when_only_an_advisory_gate_fails(tmp_path):
    from harness.cli.compare_cmd import gate

    store = Store(tmp_path / "runs")
    same = rows("qa", "acc", [1, 0] * 20)
    run_id = make_run(store, "r", same, same, gates={"qa/acc": {"min": 0.2}})
    base = [run_id, "--store", str(store.root), "--gate", "qa/acc:min=0.9,tier=advisory"]
    out = CliRunner().invoke(gate, base)
    assert out.exit_code == 0, out.output
    assert "FAIL [advisory: never fails the run]" in out.output and "gates passed" in out.output
    crit = CliRunner().invoke(gate, [run_id, "--store", str(store.root), "--gate", "qa/acc:min=0.9", "--json"])
    assert crit.exit_code == 1 and json.loads(crit.output)["gates"][0]["tier"] == "critical"
    junit = tmp_path / "g.xml"
    CliRunner().invoke(gate, base + ["--junit", str(junit)])
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "0"
