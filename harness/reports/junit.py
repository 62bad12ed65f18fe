"""JUnit XML for CI: each gate rule a test case, a crashed run an error.

CI systems (GitHub Actions test reporters, GitLab, Jenkins) render this format
natively, so a failed gate shows up as a failed test with its message. An
inconclusive gate is a failure (``GateInconclusive``) when the run's
``on_inconclusive`` counts it as failed, else a skipped test; every gate case
carries its verdict, adjusted confidence and MDE as properties (``gate_verdict``,
``confidence``, ``mde``), the suite the
run's policy line as its ``gating`` property.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable

from .gating import policy_line
from .metric_table import gate_cells, gate_outcome


def _as_dict(result: Any) -> dict[str, Any]:
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def _gate_case(case: ET.Element, gate: dict[str, Any]) -> str:
    """Fill one gate's ``<testcase>``: its verdict, adjusted confidence and MDE as properties
    (``gate_verdict``, ``confidence``, ``mde``);
    a ``<failure>`` when it counts as failed (type ``GateInconclusive`` for an inconclusive one
    under ``on_inconclusive = fail``), ``<skipped>`` for an inconclusive one that the policy
    counts as passed or an advisory gate that did not pass (it never fails the run; ``tier``
    is a property of every case). Returns ``failure`` / ``skipped`` / ``passed``."""
    cells = gate_cells(gate)
    props = ET.SubElement(case, "properties")
    for name, key in (("gate_verdict", "verdict"), ("tier", "tier"), ("confidence", "confidence"), ("mde", "mde")):
        ET.SubElement(props, "property", name=name, value=cells[key])  # "verdict" is the suite's, per concern
    inconclusive = gate_outcome(gate) == "inconclusive"
    message = str(gate.get("message") or "gate failed")
    if inconclusive:
        message = f"{cells['verdict']}: on_inconclusive = {gate.get('on_inconclusive')}; {message}"
    advisory = cells["tier"] == "advisory" and gate_outcome(gate) != "passed"
    if advisory:
        message = f"{cells['verdict']}; {gate.get('message') or ''}"
    detail = (f"metric: {gate['metric']}\ntier: {cells['tier']}\nrule: {gate['rule']} {gate.get('threshold')}\n"
              f"observed: {gate.get('observed')}\nbound: {gate.get('bound')}\nverdict: {cells['verdict']}\n"
              f"confidence: {cells['confidence']}\nmde: {cells['mde']}\n{gate.get('message', '')}")
    if gate.get("passed"):
        if not inconclusive and not advisory:
            return "passed"
        ET.SubElement(case, "skipped", message=message).text = detail
        return "skipped"
    el = ET.SubElement(case, "failure", message=message, type="GateInconclusive" if inconclusive else "GateFailed")
    el.text = detail
    return "failure"


def build_junit(record: dict[str, Any], gate_results: Iterable[Any], comparison: Any = None) -> ET.Element:
    """The ``<testsuites>`` element for one run. With ``comparison``, the verdict per
    concern is a ``verdict`` property and the metric table the suite's ``system-out``."""
    run = str(record.get("name") or record.get("id") or "run")
    results = [_as_dict(r) for r in gate_results]
    status = record.get("status", "completed")
    time_s = f"{float(record.get('duration_s') or 0.0):.3f}"

    suite = ET.Element("testsuite", name=run, timestamp=str(record.get("created_at") or ""), time=time_s)
    props = ET.SubElement(suite, "properties")
    for key in ("id", "status", "kind"):
        if record.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=str(record[key]))

    errors = failures = skipped = 0
    if status != "completed":
        err = record.get("error") or {}
        stage = err.get("stage")
        message = (f"run {status}" + (f" at stage {stage}" if stage else "")
                   + (f": {err.get('message')}" if err.get("message") else ""))
        case = ET.SubElement(suite, "testcase", classname=run, name="run", time=time_s)
        el = ET.SubElement(case, "error", message=message, type=str(err.get("type") or status))
        el.text = err.get("traceback") or message
        errors = 1
    elif not results:
        ET.SubElement(suite, "testcase", classname=run, name="run completed (no gates)", time=time_s)
    else:
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=run, name=f"{r['metric']} {r['rule']}", time="0")
            kind = _gate_case(case, r)
            failures += kind == "failure"
            skipped += kind == "skipped"
        line = policy_line(record.get("gating"))
        if line:
            ET.SubElement(props, "property", name="gating", value=line)
    if comparison is not None:
        from .metric_table import concern_verdicts, verdict_line
        from .render import rows_for, text_lines

        rows = rows_for(comparison, results, record, record)
        ET.SubElement(props, "property", name="verdict", value=verdict_line(concern_verdicts(rows)))
        ET.SubElement(suite, "system-out").text = "\n".join(text_lines(comparison, rows))
    tests = len(suite.findall("testcase"))
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))

    root = ET.Element("testsuites", name="harness", tests=str(tests), failures=str(failures),
                      errors=str(errors), time=time_s)
    root.append(suite)
    return root


def write_junit(record: dict[str, Any], gate_results: Iterable[Any], path: str | Path,
                comparison: Any = None) -> Path:
    """Write the JUnit XML report of ``record``'s gates to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_junit(record, gate_results, comparison))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
