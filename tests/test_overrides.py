"""`--set KEY=VALUE`: dotted paths, list indices, TOML values, validated like the file, recorded."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.run.overrides import OverrideError, apply, parse
from harness.run.recipe import RecipeError, load_recipe

QUICKSTART = "recipes/quickstart.toml"


def test_paths_indices_and_toml_values():
    data = {"run": {"seed": 0}, "train": [{"max_steps": 1}, {"max_steps": 2}], "evaluate": [{"tasks": ["a"]}]}
    out = apply(data, ["train.1.max_steps=4", 'evaluate.0.tasks=["openbookqa"]', "run.seed=3",
                       'gates."quick_mc/acc".min=0.5', "run.name=my-run", "train.0.lora={ r = 8 }",
                       "train.0.learning_rate=1e-5", "output.save=\"none\""])
    assert out["train"][1]["max_steps"] == 4 and out["evaluate"][0]["tasks"] == ["openbookqa"]
    assert out["run"] == {"seed": 3, "name": "my-run"}
    assert out["gates"] == {"quick_mc/acc": {"min": 0.5}}
    assert out["train"][0] == {"max_steps": 1, "lora": {"r": 8}, "learning_rate": 1e-5}
    assert out["output"] == {"save": "none"}
    assert data["train"][1]["max_steps"] == 2  # the input is not changed
    assert parse("a.b=true") == (["a", "b"], True)


@pytest.mark.parametrize("expr, message", [
    ("train.5.max_steps=1", "has 2 entries"),
    ("train.x=1", "is a list: index it by number"),
    ("run.seed.x=1", "is a value"),
    ("nokey", "expected KEY=VALUE"),
    ("a..b=1", "empty key"),
    ('gates."x.min=1', "unbalanced quote"),
])
def test_bad_overrides_say_what_is_wrong(expr, message):
    data = {"run": {"seed": 0}, "train": [{}, {}]}
    with pytest.raises(OverrideError, match=message):
        apply(data, [expr])


def test_overrides_are_validated_like_the_file_and_recorded():
    loaded = load_recipe(QUICKSTART, ["train.0.max_steps=2", "run.seed=3"])
    assert loaded.recipe.train[0].params()["max_steps"] == 2 and loaded.recipe.run.seed == 3
    assert loaded.overrides == ["train.0.max_steps=2", "run.seed=3"]
    assert "max_steps = 100" in loaded.text  # the recipe as given is kept as it was
    with pytest.raises(RecipeError, match=r"with --set run\.sed=3.*run\.sed: unknown key"):
        load_recipe(QUICKSTART, ["run.sed=3"])
    with pytest.raises(RecipeError, match=r"--set train\.9\.max_steps=2: 'train' has 2 entries"):
        load_recipe(QUICKSTART, ["train.9.max_steps=2"])


def test_validate_and_run_take_set(host):
    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    runner = CliRunner()
    ok = runner.invoke(cli, ["validate", QUICKSTART, "--set", "train.0.max_steps=2"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(cli, ["validate", QUICKSTART, "--set", "train.0.learning_rat=1e-5"])
    assert bad.exit_code == 2 and "train[0].learning_rat" in bad.output and "--set" in bad.output
