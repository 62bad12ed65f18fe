"""`harness sweep` / `harness submit`: a grid of --set overrides, each point an ordinary run in the
store tagged with the sweep id; local and Ray executors; one point's failure never stops the others."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from harness.run.sweep import SweepError, expand, parse_grid, split_values
from harness.store.local import Store

QUICKSTART = "recipes/quickstart.toml"
# each point in seconds: 2 SFT steps, 1 DPO step (the evaluations are the quickstart's own)
SHORT = ["--set", "train.0.max_steps=2", "--set", "train.1.max_steps=1"]


def _cli(args: list[str]):
    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    return CliRunner().invoke(cli, args)


def _sweep_id(output: str) -> str:
    ids = set(re.findall(r"sweep (sw-\d{8}-\d{6}-[0-9a-f]{4})", output))
    assert len(ids) == 1, output
    return ids.pop()


def _points(store: Store, sweep_id: str) -> list[dict]:
    return [r for r in store.iter_records() if (r.get("sweep") or {}).get("id") == sweep_id]


def test_grid_values_are_toml_and_every_combination_runs():
    grid = parse_grid(["train.0.learning_rate=1e-3,3e-3", 'evaluate.0.tasks=["a","b"],["c"]', "run.name=x,y"])
    assert grid[1] == ("evaluate.0.tasks", ['["a","b"]', '["c"]'])
    points = expand(QUICKSTART, grid, ["run.seed=1"])
    assert len(points) == 8 and [p.index for p in points] == list(range(8))
    assert points[0].values == {"train.0.learning_rate": 1e-3, "evaluate.0.tasks": ["a", "b"], "run.name": "x"}
    assert points[-1].values == {"train.0.learning_rate": 3e-3, "evaluate.0.tasks": ["c"], "run.name": "y"}
    # the base --set first, then the point's own values (a grid key wins over the same --set)
    assert points[1].overrides == ["run.seed=1", "train.0.learning_rate=1e-3", 'evaluate.0.tasks=["a","b"]',
                                   "run.name=y"]
    assert split_values('"a,b",c') == ['"a,b"', "c"]


@pytest.mark.parametrize("grid, message", [
    (["train.0.max_steps"], "expected KEY=V1,V2"),
    (["=1,2"], "expected KEY=V1,V2"),
    (["train.0.max_steps=1,,2"], "an empty value"),
    (["train.0.max_steps=1,1"], "given twice"),
    (["a..b=1"], "empty key"),
    (["run.seed=1", "run.seed=2"], "given twice"),
    ([], "at least one --grid"),
])
def test_bad_grid_is_a_clear_error(grid, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(grid)


def test_bad_grid_on_the_command_line_exits_2_before_any_run(tmp_path):
    result = _cli(["sweep", QUICKSTART, "--grid", "train.0.max_steps=1,,2"])
    assert result.exit_code == 2 and "--grid train.0.max_steps=1,,2: an empty value" in result.output
    result = _cli(["sweep", QUICKSTART, "--grid", "run.seed=1,2", "--address", "ray://x:10001"])
    assert result.exit_code == 2 and "--address needs --executor ray" in result.output
    assert not Store(tmp_path / "runs").run_ids()


def test_local_sweep_2x2_gives_4_runs_grouped_by_the_sweep_id(tmp_path):
    store = Store(tmp_path / "runs")
    result = _cli(["sweep", QUICKSTART, "--grid", "train.0.learning_rate=1e-3,3e-3", "--grid", "run.seed=0,1",
                   *SHORT])
    # two SFT steps teach the tiny model nothing: every point runs and fails its accuracy gate
    assert result.exit_code == 1, result.output
    sweep_id = _sweep_id(result.output)
    points = _points(store, sweep_id)
    assert len(points) == 4 and len(store.run_ids()) == 4
    assert all(r["status"] == "completed" and f"sweep:{sweep_id}" in r["tags"] for r in points)
    got = {(r["sweep"]["point"]["train.0.learning_rate"], r["sweep"]["point"]["run.seed"]) for r in points}
    assert got == {(1e-3, 0), (1e-3, 1), (3e-3, 0), (3e-3, 1)}
    for r in points:  # each point is an ordinary run: its recipe took the point's values
        resolved = r["recipe"]["resolved"]
        assert resolved["train"][0]["learning_rate"] == r["sweep"]["point"]["train.0.learning_rate"]
        assert resolved["run"]["seed"] == r["sweep"]["point"]["run.seed"] == r["seed"]
    assert result.output.count("GATE FAILED") == 4
    listed = _cli(["runs", "--sweep", sweep_id, "--json"])
    assert listed.exit_code == 0
    assert {r["id"] for r in json.loads(listed.output)} == {r["id"] for r in points}
    table = _cli(["runs", "--sweep", sweep_id]).output
    assert "train.0.learning_rate=0.003 run.seed=1" in table
    assert "no runs of sweep sw-x" in _cli(["runs", "--sweep", "sw-x"]).output


def test_a_failing_point_does_not_stop_the_others_and_exits_2(tmp_path):
    store = Store(tmp_path / "runs")
    result = _cli(["sweep", QUICKSTART, "--grid", 'train.0.max_steps="many",2', *SHORT[2:]])
    assert result.exit_code == 2, result.output
    assert re.search(r"0\s+train\.0\.max_steps=many\s+NOT RUN\s+-", result.output)
    assert "train[0].max_steps" in result.output  # the recipe error, named
    points = _points(store, _sweep_id(result.output))
    assert [r["sweep"]["point"] for r in points] == [{"train.0.max_steps": 2}]
    assert points[0]["status"] == "completed"


def test_submit_runs_a_list_of_recipes_as_one_sweep(tmp_path):
    store = Store(tmp_path / "runs")
    result = _cli(["submit", QUICKSTART, str(tmp_path / "missing.toml"), *SHORT])
    assert result.exit_code == 2, result.output
    points = _points(store, _sweep_id(result.output))
    assert [r["sweep"]["point"] for r in points] == [{"recipe": QUICKSTART}]
    assert "missing.toml" in result.output and "NOT RUN" in result.output


def test_ray_sweep_2x2_on_a_local_ray(tmp_path):
    ray = pytest.importorskip("ray")
    store = Store(tmp_path / "runs")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        result = _cli(["sweep", QUICKSTART, "--grid", "train.0.learning_rate=1e-3,3e-3", "--grid", "run.seed=0,1",
                       *SHORT, "--executor", "ray"])
        # the sweep used this Ray, it did not start (or stop) its own
        assert ray.is_initialized()
        nodes = ray.nodes()
    finally:
        ray.shutdown()
    assert result.exit_code == 1, result.output
    points = _points(store, _sweep_id(result.output))
    assert len(points) == 4 and all(r["status"] == "completed" for r in points)
    assert {(r["sweep"]["point"]["train.0.learning_rate"], r["sweep"]["point"]["run.seed"]) for r in points} == {
        (1e-3, 0), (1e-3, 1), (3e-3, 0), (3e-3, 1)}
    # the points ran in Ray worker processes, not in this one
    import os

    assert {r["process"]["pid"] for r in points}.isdisjoint({os.getpid()})
    assert len(nodes) == 1
