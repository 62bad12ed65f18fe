"""The power check before a run: its counts agree with what the gates compute after it, the
evaluators count their items as they will score them, and `harness validate` refuses a gate
that cannot pass even for an unchanged model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli.run_cmd import validate
from harness.verdicts.gates import evaluate_gates, parse_gates_table
from harness.verdicts.power import (
    flips_half_width,
    mde_at,
    n_for_power,
    n_for_value,
    n_for_zero_change,
    size_gate,
    zero_change_half_width,
)
from harness.verdicts.stats import paired_proportion_interval, proportion_interval
from tests.test_compare import rows
from tests.test_gates import run

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.toml"))


def _verdict(gate: dict, before: list[float], after: list[float], hib: bool = True) -> str:
    b, a = rows("qa", "acc", before), rows("qa", "acc", after)
    rec = run(b, a, {"qa/acc": hib})
    [r] = evaluate_gates(parse_gates_table({"qa/acc": gate}), rec, before_samples=b, after_samples=a,
                         policy={"adjust": "none"})
    return r.verdict


@pytest.mark.parametrize("margin", [0.01, 0.02, 0.05, 0.1])
def test_items_needed_unchanged_is_where_the_gate_starts_to_pass(margin):
    n = n_for_zero_change(margin, 0.95)
    assert zero_change_half_width(n, 0.95) <= margin < zero_change_half_width(n - 1, 0.95)
    # the same count as the gate itself: an unchanged model passes on n items, not on n - 1
    for items, expected in ((n, "pass"), (n - 1, "inconclusive")):
        same = [1.0] * (items // 3) + [0.0] * (items - items // 3)
        assert _verdict({"max_drop": margin}, same, same) == expected, (margin, items)
    assert n_for_zero_change(0.01, 0.95) == 381  # OpenBookQA's 250 test questions are too few for 1 point


def test_items_needed_for_power_reach_the_power_in_a_simulation():
    margin, f, power = 0.05, 0.1, 0.8
    n = n_for_power(margin, 0.95, power, f)
    assert mde_at(n, 0.95, power, f, margin) <= margin < mde_at(n - 1, 0.95, power, f, margin)
    # unchanged on average: each item flips with probability f, half up, half down; the gate on the
    # drop passes when the interval's upper end is within the margin
    rng = np.random.default_rng(0)
    passed = []
    for _ in range(400):
        flips = rng.random(n) < f
        up = int((flips & (rng.random(n) < 0.5)).sum())
        down = int(flips.sum()) - up
        passed.append(paired_proportion_interval(down, up, n, 0.95)[1] <= margin)
    assert abs(np.mean(passed) - power) < 0.06
    # at a quarter of those items the gate mostly stays undecided
    quarter = n // 4
    assert size_gate("qa/acc", "max_drop", margin, n=quarter, confidence=0.95, power=power,
                     flip_rate=f).status == "underpowered"


def test_half_width_at_a_flip_rate_is_the_interval_with_those_flips():
    n, f = 400, 0.1
    low, high = paired_proportion_interval(20, 20, n, 0.95)
    assert flips_half_width(n, 0.95, f) == pytest.approx(max(high, -low))
    assert flips_half_width(n, 0.95, f) > zero_change_half_width(n, 0.95)  # flips widen it


@pytest.mark.parametrize("rule, bound", [("max", 0.1), ("max", 0.3), ("min", 0.5), ("min", 0.9)])
def test_value_gates_need_enough_items_for_a_perfect_score_to_pass(rule, bound):
    n = n_for_value(rule, bound, 0.95)

    def passes(m):
        low, high = proportion_interval(0 if rule == "max" else m, m, 0.95)
        return high <= bound if rule == "max" else low >= bound

    assert passes(n) and not passes(n - 1)
    assert n_for_value("max", 0.0, 0.95) is None and n_for_value("min", 1.0, 0.95) is None
    g = size_gate("adv/harm", rule, bound, n=n - 1, confidence=0.95, power=0.8, flip_rate=0.1)
    assert g.status == "undecidable" and f"at least {n} items" in g.message


def test_superiority_and_unknown_n_are_never_errors():
    g = size_gate("qa/acc", "max_drop", -0.05, n=50, confidence=0.95, power=0.8, flip_rate=0.1)
    assert g.status == "superiority"
    g = size_gate("qa/acc", "max_drop", 0.01, n=None, confidence=0.95, power=0.8, flip_rate=0.1)
    assert g.status == "unknown" and "unknown n" in g.message and g.n_zero == 381


# ---------------------------------------------------------------- counting items before the run


def test_lm_eval_counts_documents_as_the_runner_selects_them():
    from lm_eval.tasks import TaskManager

    from harness_plugins.lm_eval_plugin import LmEvalEvaluator
    from harness_plugins.lm_eval_plugin.runner import doc_indices
    from harness_plugins.lm_eval_plugin.suites import materialize

    tasks = ["openbookqa", "quick_mc"]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tm = TaskManager(include_path=[str(materialize(tasks, tmp))], include_defaults=False)
        for split, limit in (("test", None), ("dev", None), ("test", 100), ("dev", 10)):
            selected = doc_indices(tm, tasks, split=split, limit=limit, sample=None, seed=0)
            counted = LmEvalEvaluator.declared_items({"tasks": tasks, "split": split, "limit": limit})
            assert counted == {t: len(selected[t]) for t in tasks}, (split, limit)
        # the pooled group: each member split on its own, the group the sum of its members
        members = ["arc_easy", "arc_challenge", "piqa", "winogrande"]
        tm = TaskManager(include_path=[str(materialize(["capability"], tmp))], include_defaults=False)
        selected = doc_indices(tm, ["capability"], split="test", limit=None, sample=None, seed=0)
        counted = LmEvalEvaluator.declared_items({"tasks": ["capability"], "split": "test"})
        assert {m: counted[m] for m in members} == {m: len(selected[m]) for m in members}
        assert counted["capability"] == sum(len(selected[m]) for m in members)
    assert LmEvalEvaluator.declared_items({"tasks": ["capability"]})["capability"] == 6653
    assert LmEvalEvaluator.declared_items({"tasks": ["openbookqa"]}) == {"openbookqa": 500}
    assert LmEvalEvaluator.declared_items({"tasks": ["openbookqa"], "split": "test"}) == {"openbookqa": 250}


def test_safety_counts_the_prompts_each_metric_averages_over():
    from harness_plugins.safety import SafetyEvaluator
    from harness_plugins.safety.prompt_sets import load_prompt_set

    params = {"suites": ["xstest", "advbench"], "split": "test", "limit": 225}
    counted = SafetyEvaluator.declared_items(params)
    xs = load_prompt_set("xstest", 225, 0, "test").items
    safe = sum(it["label"] == "safe" for it in xs)
    assert 0 < safe < len(xs) and counted["xstest/over_refusal"] == safe
    assert counted["xstest/harmful_compliance"] == len(xs) - safe
    assert counted["advbench/harmful_compliance"] == len(load_prompt_set("advbench", 225, 0, "test").items)


# ---------------------------------------------------------------- harness validate


OPENBOOKQA = """
[run]
name = "obqa-gate"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "lm-eval"
tasks = ["openbookqa"]
split = "test"

[gates]
"openbookqa/acc" = { max_drop = BOUND }
EXTRA
"""


def _validate(tmp_path: Path, bound: float, extra: str = ""):
    recipe = tmp_path / "r.toml"
    recipe.write_text(OPENBOOKQA.replace("BOUND", str(bound)).replace("EXTRA", extra))
    return CliRunner().invoke(validate, [str(recipe)])


def test_validate_rejects_a_one_point_gate_on_openbookqa_naming_the_n_it_needs(tmp_path):
    out = _validate(tmp_path, 0.01)
    assert out.exit_code == 2, out.output
    assert 'gates."openbookqa/acc": cannot pass on n = 250 paired items even if nothing changes' in out.output
    assert "±0.0151" in out.output and "it needs n >= 381" in out.output


def test_allow_undecidable_turns_the_error_into_a_warning(tmp_path):
    out = _validate(tmp_path, 0.01, "allow_undecidable = true")
    assert out.exit_code == 0, out.output
    assert "warning: gates.\"openbookqa/acc\" max_drop: cannot pass on n = 250" in out.output
    assert "(allowed: [gates] allow_undecidable = true)" in out.output


def test_an_underpowered_gate_is_a_warning_at_the_recipes_flip_rate(tmp_path):
    out = _validate(tmp_path, 0.02)  # decidable unchanged (189 items), not at 10% flips (2023)
    assert out.exit_code == 0, out.output
    assert "n = 250 paired items detect changes of" in out.output and "2023 items give 80% power" in out.output
    out = _validate(tmp_path, 0.05)  # 5 points on 250 items: underpowered at 10% flips (366 needed) ...
    assert out.exit_code == 0 and "366 items give 80% power" in out.output, out.output
    out = _validate(tmp_path, 0.05, "flip_rate = 0.01")  # ... not when hardly any item flips
    assert out.exit_code == 0 and "warning" not in out.output, out.output
    out = _validate(tmp_path, 0.02, "flip_rate = 2")
    assert out.exit_code == 2 and "gates.flip_rate" in out.output, out.output


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.name for p in RECIPES])
def test_every_shipped_recipe_validates_with_the_power_check_on(recipe):
    out = CliRunner().invoke(validate, [str(recipe)])
    assert out.exit_code == 0, out.output


def test_run_refuses_an_undecidable_gate_before_anything_starts(tmp_path):
    from harness.cli.run_cmd import run as run_command

    recipe = tmp_path / "r.toml"
    recipe.write_text(OPENBOOKQA.replace("BOUND", "0.01").replace("EXTRA", ""))
    store = tmp_path / "store"
    out = CliRunner().invoke(run_command, [str(recipe), "--store", str(store)])
    assert out.exit_code == 2 and "it needs n >= 381" in out.output, out.output
    assert not store.exists() or not any(store.iterdir())  # no run was started
