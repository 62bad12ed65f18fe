"""The plugin author's guide documents every hook, and its example is the real one."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from harness.contract import hookspecs

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text()
SPECS = [name for name, fn in vars(hookspecs).items()
         if callable(fn) and hasattr(fn, "harness_spec")]


def test_there_are_hooks_to_document():
    assert {"register_models", "register_commands", "on_run_start", "on_stage_end", "on_run_end"} <= set(SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_is_documented_with_its_signature(name):
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"### `{name}({params})`" in GUIDE, f"docs/plugins.md lacks a section for {name}({params})"


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_has_a_docstring(name):
    assert len((getattr(hookspecs, name).__doc__ or "").strip()) > 40


def test_example_plugin_in_guide_is_the_tested_package():
    blocks = re.findall(r"`harness_hello/__init__.py`\n\n```python\n(.*?)```", GUIDE, re.S)
    assert blocks, "docs/plugins.md must show harness_hello/__init__.py"
    source = (ROOT / "tests" / "example_plugin" / "harness_hello" / "__init__.py").read_text()
    code = source.split('"""', 2)[2].lstrip()  # the file minus its docstring
    strip = lambda s: [line.split("#")[0].rstrip() for line in s.strip().splitlines() if line.split("#")[0].strip()]  # noqa: E731
    assert strip(blocks[0]) == strip(code)
