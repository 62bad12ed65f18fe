"""The one metric table (harness.reports.metric_table): rows, concerns, verdicts, and
that every text renderer (compare, markdown, summary, JUnit, show) prints the same rows.
Also: cross-machine comparisons compare by default, with a banner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.reports.junit import build_junit
from harness.reports.metric_table import concern_of, concern_verdicts, metric_rows, verdict_line
from harness.reports.render import markdown_lines, text_lines
from harness.reports.summary import render_summary
from harness.verdicts.compare import ComparisonMismatch, compare_records, environment_differences
from tests.test_compare import TASK

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "runs"
H100, CPU = "20261126-185752-naive-refusal-92b4", "20261126-185941-naive-refusal-c1b8"


def _rows(suite: str, scores: dict[str, list[float]]) -> list[dict]:
    n = len(next(iter(scores.values())))
    return [{"suite": suite, "item_id": str(i), "scores": {k: float(v[i]) for k, v in scores.items()}}
            for i in range(n)]


def _agg(samples: list[dict], directions: dict[str, bool], concerns: dict[str, str] | None = None) -> dict:
    out: dict[str, dict] = {}
    for r in samples:
        for k, v in r["scores"].items():
            out.setdefault(f"{r['suite']}/{k}", []).append(v)
    return {m: {"value": sum(v) / len(v), "n": len(v), "higher_is_better": directions[m],
                **({"concern": concerns[m]} if concerns and m in concerns else {})} for m, v in out.items()}


def _record(before: list[dict], after: list[dict], directions: dict[str, bool], **extra) -> dict:
    suites = {r["suite"] for r in before}
    return {"id": "R", "name": "r", "status": "completed", "tasks": {s: dict(TASK) for s in suites},
            "metrics": {"before": _agg(before, directions), "after": _agg(after, directions)}, **extra}


SAFE_B = _rows("adv", {"harmful_compliance": [1] * 20, "refusal_rate": [0] * 20})
SAFE_A = _rows("adv", {"harmful_compliance": [1] * 2 + [0] * 18, "refusal_rate": [0] * 2 + [1] * 18})
XS_B = _rows("xs", {"over_refusal": [0] * 30, "over_refusal/homonyms": [0] * 30})
XS_A = _rows("xs", {"over_refusal": [1] * 25 + [0] * 5, "over_refusal/homonyms": [1] * 25 + [0] * 5})
QA = _rows("qa", {"acc": [1, 0] * 100})
DIRS = {"adv/harmful_compliance": False, "adv/refusal_rate": True, "xs/over_refusal": False,
        "xs/over_refusal/homonyms": False, "qa/acc": True}


def _naive_refusal_like():
    rec = _record(SAFE_B + XS_B + QA, SAFE_A + XS_A + QA, DIRS)
    rec["gates"] = [{"metric": "xs/over_refusal", "rule": "max_increase", "threshold": 0.1, "observed": 0.83,
                     "bound": None, "passed": False, "message": "xs/over_refusal rose by 0.833"}]
    comp = compare_records(rec, SAFE_B + XS_B + QA, rec, SAFE_A + XS_A + QA, phase_a="before", phase_b="after")
    return rec, comp


def test_concern_from_record_else_from_the_name():
    assert concern_of("adv/harmful_compliance") == "harm"
    assert concern_of("xs/over_refusal") == "over_refusal"
    assert concern_of("openbookqa/acc_norm") == "capability"
    assert concern_of("mine/fluency") == "other"
    assert concern_of("mine/fluency", {"concern": "harm"}) == "harm"   # the evaluator's declaration wins


def test_rows_add_up_hide_complements_and_nest_categories():
    rec, comp = _naive_refusal_like()
    rows = {r.metric: r for r in metric_rows(comp, rec["gates"], record_a=rec, record_b=rec)}
    for r in rows.values():
        assert r.diff == pytest.approx(r.b - r.a)          # A, B and B − A always add up
    assert rows["adv/refusal_rate"].hidden and not rows["adv/harmful_compliance"].hidden
    assert rows["xs/over_refusal/homonyms"].parent == "xs/over_refusal"
    assert rows["xs/over_refusal/homonyms"].concern == "over_refusal"
    assert rows["xs/over_refusal"].gate == "failed" and rows["qa/acc"].gate is None
    assert rows["adv/harmful_compliance"].change == "better"
    assert rows["xs/over_refusal"].change == "worse"
    assert rows["qa/acc"].change == "unchanged"


def test_verdict_line_per_concern():
    rec, comp = _naive_refusal_like()
    verdicts = concern_verdicts(metric_rows(comp, rec["gates"], record_a=rec, record_b=rec))
    assert verdict_line(verdicts) == "capability unchanged · harm better · over-refusal worse (gate failed)"
    by = {v.concern: v for v in verdicts}
    assert by["harm"].mover.metric == "adv/harmful_compliance"
    assert by["over_refusal"].mover.metric == "xs/over_refusal"


def test_three_valued_verdicts_reach_the_gate_column_and_the_verdict_line():
    """The verdicts harness.verdicts.gates really gives (pass / fail / inconclusive), not only `passed`."""
    from harness.verdicts.gates import evaluate_gates, parse_gates_table

    rec = _record(SAFE_B + XS_B + QA, SAFE_A + XS_A + QA, DIRS)
    gates = parse_gates_table({"xs/over_refusal": {"max_increase": 0.1}, "adv/harmful_compliance": {"max": 0.5},
                               "qa/acc": {"max_drop": 0.01}})
    results = [g.to_dict() for g in evaluate_gates(gates, rec, before_samples=SAFE_B + XS_B + QA,
                                                   after_samples=SAFE_A + XS_A + QA)]
    assert {g["metric"]: g["verdict"] for g in results} == {
        "xs/over_refusal": "fail", "adv/harmful_compliance": "pass", "qa/acc": "inconclusive"}
    comp = compare_records(rec, SAFE_B + XS_B + QA, rec, SAFE_A + XS_A + QA, phase_a="before", phase_b="after")
    rows = {r.metric: r for r in metric_rows(comp, results, record_a=rec, record_b=rec)}
    assert (rows["xs/over_refusal"].gate, rows["adv/harmful_compliance"].gate, rows["qa/acc"].gate) == (
        "failed", "passed", "inconclusive")
    assert verdict_line(concern_verdicts(list(rows.values()))) == (
        "capability unchanged (gate inconclusive) · harm better · over-refusal worse (gate failed)")
    # the HTML report and the dashboard's gate table name the same outcomes
    from harness.reports.html import _gates

    html = _gates(results, "gates")
    assert all(f'class="gate-{state}"' in html for state in ("failed", "passed", "inconclusive")), html
    sys.path.insert(0, str(REPO / "dashboards"))
    from harness_dash.comparing import gates_frame

    assert sorted(gates_frame(results)["verdict"]) == ["? inconclusive (counts as failed)", "✓ pass", "✗ fail"]


def test_inconclusive_when_the_interval_is_wide():
    a = _rows("qa", {"acc": [1, 0, 1, 0, 1, 0]})
    b = _rows("qa", {"acc": [0, 1, 1, 0, 0, 1]})
    rec = _record(a, b, {"qa/acc": True})
    comp = compare_records(rec, a, rec, b, phase_a="before", phase_b="after")
    [row] = metric_rows(comp)
    assert row.change == "inconclusive" and not row.significant


def test_every_renderer_prints_the_same_rows():
    rec, comp = _naive_refusal_like()
    rows = metric_rows(comp, rec["gates"], record_a=rec, record_b=rec)
    line = verdict_line(concern_verdicts(rows))
    text = "\n".join(text_lines(comp, rows))
    md = "\n".join(markdown_lines(comp, rows))
    summary = render_summary(rec, rec["gates"], comp)
    junit = build_junit(rec, rec["gates"], comp)
    out = junit.find("testsuite/system-out").text
    for rendered in (text, md, summary, out):
        assert line in rendered
        assert "adv/refusal_rate" not in rendered                # redundant complement hidden
        assert "xs/over_refusal/homonyms" not in rendered        # per-category row collapsed
        assert "+0.833" in rendered and "-0.900" in rendered     # the same B − A everywhere
    assert {p.get("name"): p.get("value") for p in junit.iter("property")}["verdict"] == line
    assert "xs/over_refusal/homonyms" in "\n".join(text_lines(comp, rows, show_all=True))


def test_other_machine_compares_with_banner_but_measurement_changes_refuse():
    a = _rows("qa", {"acc": [1, 0, 1, 1]})
    env_a = {"host": "gpu-node-7", "python": "3.12.3", "libraries": {"torch": "2.11.0"},
             "accelerator": {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 1}}
    env_b = {"host": "laptop", "python": "3.12.3", "libraries": {"torch": "2.13.0+cpu"},
             "accelerator": {"kind": "cpu"}}
    task_a = {**TASK, "settings": {"num_fewshot": 0, "device": "cuda", "dtype": "bfloat16"}}
    task_b = {**TASK, "settings": {"num_fewshot": 0, "device": "cpu", "dtype": "float32"}}
    ra = {"id": "A", "metrics": {"before": _agg(a, {"qa/acc": True})}, "tasks": {"qa": task_a},
          "environment": env_a, "model": {"device": "cuda", "dtype": "bfloat16"}}
    rb = {"id": "B", "metrics": {"before": _agg(a, {"qa/acc": True})}, "tasks": {"qa": task_b},
          "environment": env_b, "model": {"device": "cpu", "dtype": "float32"}}
    comp = compare_records(ra, a, rb, a)                      # no --force needed
    banner = "; ".join(comp.environment)
    assert "accelerator: A 1× NVIDIA H100 80GB HBM3 vs B cpu" in banner
    assert "host: A gpu-node-7 vs B laptop" in banner and "torch: A 2.11.0 vs B 2.13.0+cpu" in banner
    assert "qa: device A 'cuda' vs B 'cpu'" in banner
    assert not any("mismatch" in w for w in comp.warnings)
    assert "ran differently:" in "\n".join(text_lines(comp, metric_rows(comp)))
    rb["tasks"]["qa"]["settings"]["max_new_tokens"] = 48     # changes what is measured
    with pytest.raises(ComparisonMismatch, match="--force"):
        compare_records(ra, a, rb, a)
    assert environment_differences(ra, ra) == []


@pytest.fixture(scope="module")
def example_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("examples") / "runs"
    for name in (H100, CPU):
        subprocess.run([sys.executable, "-m", "harness.cli", "unpack", "--store", str(root),
                        str(EXAMPLES / f"{name}.tar.gz")], check=True, capture_output=True)
    return root


def _harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_compare_cli_opens_with_the_verdict_on_the_real_h100_run(example_store):
    out = _harness("compare", H100, "--store", str(example_store))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "capability unchanged · harm better · over-refusal worse (gate failed)"
    data = json.loads(_harness("compare", H100, "--store", str(example_store), "--json").stdout)
    assert [v["change"] for v in data["verdicts"]] == ["unchanged", "better", "worse"]
    assert {r["metric"] for r in data["rows"] if r["hidden"]} >= {"advbench/refusal_rate"}


def test_h100_against_cpu_names_each_side_and_says_what_needs_force(example_store):
    refused = _harness("compare", H100, CPU, "--store", str(example_store))
    assert refused.returncode == 2 and "max_new_tokens" in refused.stderr and "--force" in refused.stderr
    assert "device" not in refused.stderr.split("max_new_tokens")[0].split("\n", 1)[1]  # device is not a reason
    forced = _harness("compare", H100, CPU, "--store", str(example_store), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "on 1× NVIDIA H100 80GB HBM3" in forced.stdout and "ran differently: accelerator:" in forced.stdout
