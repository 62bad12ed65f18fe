"""`harness validate` rejects what would otherwise fail after a run started: unknown lm-eval
task names, gates on metrics no evaluator reports, max_steps <= 0 other than -1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.run_cmd import validate

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / "recipes" / "quickstart.toml").read_text().replace(
    'path = "../plugins/', f'path = "{REPO}/plugins/')


def _validate(tmp_path: Path, text: str):
    recipe = tmp_path / "r.toml"
    recipe.write_text(text)
    return CliRunner().invoke(validate, [str(recipe)])


def test_the_shipped_quickstart_passes(tmp_path):
    out = _validate(tmp_path, BASE)
    assert out.exit_code == 0, out.output


@pytest.mark.parametrize("steps, ok", [(-5, False), (0, False), (-1, True), (3, True)])
def test_max_steps(tmp_path, steps, ok):
    out = _validate(tmp_path, BASE.replace("max_steps = 4\n", f"max_steps = {steps}\n"))
    assert (out.exit_code == 0) == ok, out.output
    if not ok:
        assert "train[1].max_steps: must be a positive number of optimizer steps, or -1" in out.output


def test_a_gate_on_a_metric_nobody_reports_is_rejected_with_did_you_mean(tmp_path):
    out = _validate(tmp_path, BASE.replace('"quick_mc/acc" = { min = 0.5 }', '"quick_mc/accuracy" = { min = 0.5 }'))
    assert out.exit_code == 2
    assert "gates.\"quick_mc/accuracy\": no configured evaluator reports 'quick_mc/accuracy'" in out.output
    assert "did you mean 'quick_mc/acc'" in out.output


def test_gates_on_suites_of_evaluators_that_cannot_declare_are_left_to_the_run(host):
    from harness.run.recipe import _check_gate_metrics

    declared = {"quick_mc/acc": "capability"}
    assert _check_gate_metrics(["quick-safety/refusal_rate"], declared, undeclared=True) == []
    assert _check_gate_metrics(["quick_mc/acc_nrom"], declared, undeclared=True)  # a declared suite: checked
    assert _check_gate_metrics(["quick-safety/refusal_rate"], declared, undeclared=False)


def test_lm_eval_declares_the_bundled_metrics_with_their_concern(host):
    ev = host.resolve("evaluator", "lm-eval").cls
    assert ev.declared_metrics({"tasks": ["quick_mc", "gsm8k"]}) == {
        "quick_mc/acc": "capability", "quick_mc/acc_norm": "capability", "gsm8k/exact_match": "capability"}
    assert ev.declared_metrics({"tasks": ["hellaswag"]}) is None  # lm-eval's own task: known after running


def test_an_unknown_lm_eval_task_is_rejected_with_did_you_mean(tmp_path):
    # indexes lm-eval's own ~15k task YAMLs once: ~7 s CPU
    out = _validate(tmp_path, BASE.replace('tasks = ["quick_mc"]', 'tasks = ["quick_mcc"]'))
    assert out.exit_code == 2
    assert "evaluate[0].tasks: lm-eval task(s) not found: quick_mcc" in out.output
    assert "Did you mean" in out.output and "quick_mc" in out.output
