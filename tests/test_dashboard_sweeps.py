"""The Runs page's sweep grouping (dashboards/harness_dash/runs_table.py): a sweep id column,
one ``grid:<key>`` column per grid key, one summary row per sweep, a sweep filter. The page
itself is driven on a real sweep in tests/test_remote_store.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("pandas")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))

from harness_dash.runs_table import (  # noqa: E402
    apply_filters,
    filter_options,
    grid_columns,
    rows_to_frame,
    run_row,
    sweep_table,
)


def _point(run_id: str, sweep: str, status: str, passed, **grid) -> dict:
    return {"id": run_id, "name": "quickstart", "status": status, "gates_passed": passed,
            "created_at": f"2026-12-01T10:0{run_id[-1]}:00Z", "sweep": {"id": sweep, "point": grid}}


def test_runs_group_by_sweep_with_each_points_grid_values():
    frame = rows_to_frame(run_row(r) for r in [
        _point("r1", "sw-a", "completed", True, **{"train.0.learning_rate": 1e-3, "run.seed": 0}),
        _point("r2", "sw-a", "completed", False, **{"train.0.learning_rate": 3e-3, "run.seed": 0}),
        _point("r3", "sw-a", "failed", None, **{"train.0.learning_rate": 3e-3, "run.seed": 1}),
        _point("r4", "sw-b", "completed", True, **{"evaluate.0.tasks": ["a", "b"]}),
        {"id": "r5", "name": "plain", "status": "completed", "gates_passed": True},
    ])
    assert list(frame.loc[frame["id"] == "r5", "sweep"]) == [""]
    table = sweep_table(frame).set_index("sweep")
    assert table.loc["sw-a", ["points", "completed", "gates passed", "gates failed", "not finished"]].tolist() \
        == [3, 2, 1, 1, 1]
    assert table.loc["sw-a", "grid"] == "run.seed, train.0.learning_rate"
    assert table.loc["sw-b", "grid"] == "evaluate.0.tasks" and len(table) == 2  # the plain run is no sweep
    assert filter_options(frame, "sweep") == ["sw-a", "sw-b"]
    only_a = apply_filters(frame, {"sweep": ["sw-a"]})
    assert list(only_a["id"]) == ["r1", "r2", "r3"]
    assert grid_columns(only_a) == ["grid:run.seed", "grid:train.0.learning_rate"]
    assert only_a["grid:train.0.learning_rate"].tolist() == [1e-3, 3e-3, 3e-3]
    only_b = apply_filters(frame, {"sweep": ["sw-b"]})
    assert only_b["grid:evaluate.0.tasks"].tolist() == ['["a", "b"]']  # a list value shown as JSON
