"""Recipe validation: every error names the file, the key path and what was expected."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.contract.plugins import load_plugins
from harness.run.recipe import RecipeError, check_recipe, load_recipe
from tests.conftest import FIRST_PARTY

BASE = """
[run]
name = "t"

[model]
loader = "tiny"

[[data]]
name = "sft"
source = "jsonl"
path = "train.jsonl"
format = "prompt_completion"

[[train]]
trainer = "sft"
data = "sft"
max_steps = 1

[[evaluate]]
evaluator = "safety"
suites = ["quick-safety"]
filters = ["refusal"]
"""


@pytest.fixture
def recipe_dir(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n")
    return tmp_path


def check(recipe_dir: Path, text: str, host=None) -> None:
    path = recipe_dir / "recipe.toml"
    path.write_text(textwrap.dedent(text))
    check_recipe(load_recipe(path), host or load_plugins())


def errors_of(recipe_dir: Path, text: str, host=None) -> str:
    with pytest.raises(RecipeError) as err:
        check(recipe_dir, text, host)
    message = str(err.value)
    assert str(recipe_dir / "recipe.toml") in message  # the file is named
    return message


def test_base_recipe_is_valid(recipe_dir):
    check(recipe_dir, BASE)


def test_relative_data_path_is_relative_to_the_recipe(recipe_dir):
    path = recipe_dir / "recipe.toml"
    path.write_text(BASE)
    loaded = load_recipe(path)
    assert loaded.recipe.data[0].params()["path"] == str((recipe_dir / "train.jsonl").resolve())


def test_unknown_top_level_key(recipe_dir):
    msg = errors_of(recipe_dir, BASE + "\n[gatez]\nx = 1\n")
    assert "gatez: unknown key" in msg


def test_unknown_trainer_parameter_is_named(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace("max_steps = 1", "max_steps = 1\nlearning_rat = 0.1"))
    assert "train[0].learning_rat" in msg and "learning_rate" in msg


def test_wrong_type(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace('name = "t"', 'name = "t"\nseed = "zero"'))
    assert "run.seed" in msg


def test_a_filter_list_that_is_not_a_list_is_a_recipe_error(recipe_dir):
    """Found by tests/test_fuzz.py: `filters = 1` on a data table raised a TypeError."""
    msg = errors_of(recipe_dir, BASE.replace('format = "prompt_completion"', 'format = "prompt_completion"\nfilters = 1'))
    assert "data[0].filters" in msg and "valid list" in msg


def test_wrong_type_in_component_parameter(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace('suites = ["quick-safety"]', 'suites = ["quick-safety"]\nmax_new_tokens = "many"'))
    assert "evaluate[0].max_new_tokens" in msg


def test_unknown_plugin_component(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace('trainer = "sft"', 'trainer = "sfft"'))
    assert "train[0].trainer" in msg and "unknown trainer 'sfft'" in msg and "did you mean 'sft'" in msg


def test_missing_data_file(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace('path = "train.jsonl"', 'path = "./nope.jsonl"'))
    assert "data[0].path" in msg and "not found" in msg and "nope.jsonl" in msg


def test_train_stage_names_unknown_data(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace('data = "sft"', 'data = "other"'))
    assert "train[0].data" in msg and "no [[data]] named 'other'" in msg


def test_trainer_format_mismatch(recipe_dir):
    msg = errors_of(recipe_dir, BASE.replace('trainer = "sft"', 'trainer = "dpo"'))
    assert "train[0].data" in msg and "preference" in msg


def test_named_safety_filter_that_failed_to_load_refuses_the_run(recipe_dir):
    host = load_plugins(allow=[p for p in FIRST_PARTY if p != "filters"])
    msg = errors_of(recipe_dir, BASE, host)
    assert "evaluate[0].filters[0].filter" in msg and "unknown safety filter 'refusal'" in msg


def test_required_plugin_missing_or_too_old(recipe_dir):
    msg = errors_of(recipe_dir, 'requires = ["harness-not-installed>=1.0", "pluggy>=999"]\n' + BASE)
    assert "requires[0]" in msg and "not installed" in msg
    assert "requires[1]" in msg and "requires 'pluggy>=999'" in msg


def test_required_plugin_that_failed_to_load(recipe_dir):
    host = load_plugins(allow=[p for p in FIRST_PARTY if p != "trl"])
    msg = errors_of(recipe_dir, 'requires = ["posttrain-harness>=0.1"]\n' + BASE, host)
    assert "requires[0]" in msg and "'trl'" in msg and "disabled" in msg


def test_invalid_toml_names_the_line(recipe_dir):
    msg = errors_of(recipe_dir, "[run\nname=1")
    assert "not valid TOML" in msg and "line 1" in msg


def test_gate_needs_a_rule(recipe_dir):
    msg = errors_of(recipe_dir, BASE + '\n[gates]\n"quick-safety/over_refusal" = {}\n')
    assert "gates.quick-safety/over_refusal" in msg


def test_validate_command_exit_codes(recipe_dir):
    good = recipe_dir / "good.toml"
    good.write_text(BASE)
    bad = recipe_dir / "bad.toml"
    bad.write_text(BASE.replace('trainer = "sft"', 'trainer = "sfft"'))
    ok = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    ko = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(bad)], capture_output=True, text=True)
    assert ko.returncode == 2
    assert "train[0].trainer: unknown trainer 'sfft'" in ko.stderr
