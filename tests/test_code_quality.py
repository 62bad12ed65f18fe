"""The code's boundaries and hygiene, checked by the tools configured in pyproject.toml.

- import-linter: the core's layers (cli -> run -> reports -> verdicts | store -> contract ->
  base modules), the core never imports a first-party plugin; first-party plugins never
  import each other and use only the public API (``import harness``);
- no import cycles anywhere in the core or the first-party plugins;
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
    modules = {f"harness.{m.name}" for m in pkgutil.iter_modules(harness.__path__)}  # subpackages and modules
    assert modules - set(contract["forbidden_modules"]) == set(), "add these to [tool.importlinter] in pyproject.toml"


#: ``harness.__all__`` as promised to plugin authors: only ever extended (add a name here when
#: you add it to the public API; removing or renaming one breaks every plugin that uses it).
PUBLIC_API = {
    "AdapterOnly", "ArtifactNotFound", "COMPONENT_KINDS", "CONCERNS", "Component", "DATA_FORMATS", "DataError",
    "DataFormat", "DataSource", "EvalContext", "EvalResult", "Evaluator", "GateResult", "HarnessError", "HookFailed",
    "Metric", "ModelHandle", "ModelLoader", "ParamError", "Params", "PluginError", "PluginUnavailable",
    "RECORD_FILE", "RecipeError", "Reporter", "RewardFunction", "RunEnded", "RunNotFound", "RunStarted",
    "SCHEMA_VERSION", "SPLITS", "SafetyFilter", "SafetySuite", "StageEnded", "StageError", "Store", "StoreError",
    "TaskInfo", "TrainContext", "TrainData", "TrainResult", "Trainer", "UnknownComponent", "Verdict",
    "__version__", "assign_splits", "compare_records", "content_hash", "create_component", "default_cache_dir",
    "distributed", "find_model", "folder_fingerprint", "get_format", "get_host", "hookimpl", "items_hash", "pick_device", "read_jsonl",
    "registered_formats", "render_summary", "subsample", "to_conversational", "torch_dtype", "with_splits",
    "write_json", "write_jsonl", "write_summary",
}


def test_public_api_is_unchanged():
    import harness

    assert PUBLIC_API - set(harness.__all__) == set(), "a public name was removed: plugins use these"
    assert set(harness.__all__) - PUBLIC_API == set(), "a new public name: add it to PUBLIC_API on purpose"


def import_cycles(*packages: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's strongly
    connected components over grimp's graph; imports inside functions and under
    ``TYPE_CHECKING`` count too)."""
    import grimp

    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)  # no stale cache
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in graph.find_modules_directly_imported_by(module):
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return cycles


def test_no_import_cycles():
    assert import_cycles("harness", "harness_plugins") == []


def test_import_cycles_are_found(tmp_path):
    """The check itself: two modules importing each other (one lazily) are one cycle."""
    import importlib

    pkg = tmp_path / "cycle_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    sys.path.insert(0, str(pkg.parent))
    try:
        importlib.invalidate_caches()
        assert import_cycles("cycle_probe") == [["cycle_probe.a", "cycle_probe.b"]]
    finally:
        sys.path.remove(str(pkg.parent))


def test_core_is_grouped_into_subpackages():
    """The top of ``harness/`` holds the public API and the base modules every layer uses; the rest
    lives in the subpackage of its concern (docs/architecture.md)."""
    import harness

    top = sorted(m.name for m in pkgutil.iter_modules(harness.__path__) if not m.ispkg)
    assert len(top) <= 10, top
    packages = {m.name for m in pkgutil.iter_modules(harness.__path__) if m.ispkg}
    assert {"cli", "contract", "reports", "run", "store", "verdicts"} <= packages


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
