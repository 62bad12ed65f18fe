"""The code's boundaries and hygiene, checked by the tools configured in pyproject.toml.

- import-linter: the core never imports a first-party plugin; first-party plugins never
  import each other and use only the public API (``import harness``);
- ruff: pyflakes, pycodestyle, bugbear and import order over the whole tree;
- mypy: the core (``harness/``), not strict.
"""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    exe = BIN / name if (BIN / name).exists() else shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_import_contracts_hold():
    proc = tool("lint-imports", "--no-cache")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_public_api_contract_names_every_core_module():
    """A core module missing from the 'public API only' contract would be silently importable by plugins."""
    import harness

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in config if c.get("source_modules") == ["harness_plugins"]]
    modules = {f"harness.{m.name}" for m in pkgutil.iter_modules(harness.__path__)}
    assert modules - set(contract["forbidden_modules"]) == set(), "add these to [tool.importlinter] in pyproject.toml"


def test_public_api_is_what_plugins_use():
    import harness

    assert all(hasattr(harness, name) for name in harness.__all__)
    for name in ("hookimpl", "pick_device", "to_conversational", "HarnessError", "create_component"):
        assert name in harness.__all__


def test_ruff_passes():
    proc = tool("ruff", "check", "--no-cache", ".")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_passes_on_the_core():
    proc = tool("mypy")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
