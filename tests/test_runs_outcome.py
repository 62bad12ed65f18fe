"""`harness runs`, `harness show` and the dashboard's Runs table give a run's three-valued gate
outcome (issue #23 item 4): a run whose critical gates were pass + inconclusive under fail-closed
is `inconclusive (fail-closed)`, not `failed`; a failed gate is `FAIL`/`failed`; a crashed run
stays `failed` in its status; an advisory gate that fails leaves the run passed.

The runs are hand-made store folders (tests.test_compare.make_run) whose gates are judged by the
real harness.verdicts.gates.evaluate_gates, written into the record as a run's gates stage does."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.store.local import Store
from harness.verdicts.gates import evaluate_gates, gating_summary, parse_gate_policy, parse_gates_table
from tests.test_compare import make_run, rows

SAME = rows("qa", "acc", [1, 0] * 20)          # acc 0.5 before and after, 40 items, nothing flips


def _judged(store: Store, name: str, gates: dict, policy: dict | None = None) -> str:
    run_id = make_run(store, name, SAME, SAME, gates=gates)
    path = store.run_dir(run_id) / "run.json"
    record = json.loads(path.read_text())
    results = evaluate_gates(parse_gates_table(gates), record, before_samples=SAME, after_samples=SAME,
                             policy=parse_gate_policy(policy or {}))
    record.update(gates=[g.to_dict() for g in results], gating=gating_summary(results, policy),
                  gates_passed=all(g.passed for g in results))
    path.write_text(json.dumps(record))
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Store, dict[str, str]]:
    s = Store(tmp_path_factory.mktemp("outcome") / "runs")
    ids = {
        # min 0.2 passes; max_drop 0.01 cannot be shown on 40 unchanged items: inconclusive, fail-closed
        "mixed": _judged(s, "mixed", {"qa/acc": {"min": 0.2, "max_drop": 0.01}}),
        "bad": _judged(s, "bad", {"qa/acc": {"min": 0.9}}),
        "advisory": _judged(s, "advisory", {"qa/acc": {"min": 0.2},
                                            "qa/acc_copy": {"min": 0.9, "tier": "advisory"}}),
        "warned": _judged(s, "warned", {"qa/acc": {"max_drop": 0.01}}, {"on_inconclusive": "warn"}),
        "crashed": make_run(s, "crashed", SAME, status="failed",
                            error={"stage": "train-0-sft", "type": "RuntimeError", "message": "out of memory"}),
    }
    return s, ids


def test_the_outcomes_come_from_real_gate_verdicts(store):
    s, ids = store
    mixed = s.load(ids["mixed"])
    assert [g["verdict"] for g in mixed["gates"]] == ["pass", "inconclusive"] and mixed["gates_passed"] is False
    assert [g["verdict"] for g in s.load(ids["bad"])["gates"]] == ["fail"]
    adv = s.load(ids["advisory"])
    assert adv["gates_passed"] is True  # the advisory gate failed (no such metric), the run still passes
    assert [(g["tier"], g["verdict"]) for g in adv["gates"]] == [("critical", "pass"), ("advisory", "fail")]


def test_harness_runs_and_show_print_the_three_valued_outcome(store):
    from harness.cli.runs_cmd import runs, show

    s, ids = store
    out = CliRunner().invoke(runs, ["--store", str(s.root), "--columns", "name,status,gates"])
    assert out.exit_code == 0, out.output
    cells = {line.split()[0]: line.split(None, 2)[1:] for line in out.output.splitlines()[2:] if line.strip()
             and not line.startswith("resume")}
    assert cells["mixed"] == ["completed", "inconclusive (fail-closed)"]
    assert cells["bad"] == ["completed", "FAIL"]
    assert cells["advisory"] == ["completed", "pass"]
    assert cells["warned"] == ["completed", "passed (1 inconclusive: on_inconclusive = warn)"]
    assert cells["crashed"] == ["failed"]                        # crashed: failed, and no gate verdict
    listed = {r["name"]: r["gates"] for r in json.loads(CliRunner().invoke(runs, ["--store", str(s.root),
                                                                                   "--json"]).output)}
    assert listed["mixed"] == "inconclusive (fail-closed)" and listed["bad"] == "failed"
    shown = CliRunner().invoke(show, [ids["mixed"], "--store", str(s.root)]).output
    assert "gates inconclusive (fail-closed)" in shown and "FAILED" not in shown
    assert "gates FAILED" in CliRunner().invoke(show, [ids["bad"], "--store", str(s.root)]).output


def test_the_dashboard_runs_table_shows_the_same_outcome(store, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from tests.test_dashboard import APP, _clear_caches

    s, ids = store
    monkeypatch.setenv("HARNESS_STORE", str(s.root))
    _clear_caches()
    try:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        table = at.dataframe[0].value
        gates = dict(zip(table["name"], table["gates"]))
        status = dict(zip(table["name"], table["status"]))
        assert gates["mixed"] == "inconclusive (fail-closed)" and gates["bad"] == "failed"
        assert gates["advisory"] == "passed" and gates["crashed"] == "none" and status["crashed"] == "failed"
        at.query_params["run"] = ids["mixed"]
        at.switch_page("views/run.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(m.value == "inconclusive (fail-closed)" for m in at.metric)
    finally:
        _clear_caches()
