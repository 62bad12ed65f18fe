"""The hostile-input campaign (benchmarks/hostile_inputs.py): every crafted archive, damaged
record and hostile run reference gets a clear error; none gives a traceback, is silently
accepted or changes stored data. (Recipes and data files: the campaign's other categories
are covered case by case in test_validate_rejects.py and test_data_errors.py.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "hostile_inputs", Path(__file__).resolve().parents[1] / "benchmarks" / "hostile_inputs.py")
campaign = importlib.util.module_from_spec(SPEC)
sys.modules["hostile_inputs"] = campaign  # dataclasses look their module up there
SPEC.loader.exec_module(campaign)

CASES = [c for cat in ("archives", "records", "refs") for c in campaign.CATEGORIES[cat]()]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.name}" for c in CASES])
def test_case_gets_a_clear_error(case):
    verdict, output = campaign.run_case(case)
    assert verdict == "clear", output
