"""Public helpers for testing plugins (and recipes) against the real harness.

Use them from a plugin's test suite::

    # conftest.py
    pytest_plugins = ["harness.testing"]        # fixtures: harness_store, tiny_model

    # test_my_plugin.py
    from harness.testing import load_host, run_recipe

    def test_my_evaluator_in_a_run(harness_store):
        record = run_recipe(RECIPE, store=harness_store, plugins=[("mine", my_plugin)])
        assert record["status"] == "completed"

Everything runs the real code path: plugins load through the same host as the CLI, the
model is the deterministic ``tiny`` model (built from a config, no download), and
``run_recipe`` executes the same pipeline as ``harness run`` and returns its record.
Importing this module imports no ML library; the fixtures do, when used.
"""

from __future__ import annotations

import contextlib
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Iterable, Iterator

try:
    import pytest
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("harness.testing needs pytest: pip install 'posttrain-harness[test]'") from exc

from .contract.components import ModelLoader
from .contract.plugins import ENTRY_POINT_GROUP, PluginHost, load_plugins
from .run.recipe import LoadedRecipe, check_recipe, load_recipe, parse_recipe
from .store.local import Store

FIRST_PARTY_DISTRIBUTION = "posttrain-harness"


def first_party_plugins() -> list[str]:
    """Entry-point names of the harness's own plugins (models, data, trainers, evaluators, ...)."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)
                  if ep.dist is not None and ep.dist.name == FIRST_PARTY_DISTRIBUTION)


def load_host(*names: str, plugins: Iterable[tuple[str, Any]] = ()) -> PluginHost:
    """A plugin host with the first-party plugins plus the installed plugins ``names`` and the
    in-process ``plugins`` (``(name, module)`` pairs) and nothing else installed, so other
    plugins in the environment cannot change what a test sees. Load errors are fatal."""
    return load_plugins(strict=True, allow=[*first_party_plugins(), *names], block=[], extra=list(plugins))


def make_tiny_model(host: PluginHost | None = None, **params: Any):
    """A fresh, deterministic tiny model (a ``harness.ModelHandle``), built from a config."""
    host = host or load_host()
    loader = host.create("model", "tiny", params)
    assert isinstance(loader, ModelLoader)
    return loader.load()


@contextlib.contextmanager
def temp_store(root: str | os.PathLike) -> Iterator[Store]:
    """A run store (and evaluation cache) in folder ``root``, as ``HARNESS_STORE`` for the duration."""
    root = Path(root)
    saved = {k: os.environ.get(k) for k in ("HARNESS_STORE", "HARNESS_CACHE_DIR")}
    os.environ["HARNESS_STORE"] = str(root / "runs")
    os.environ["HARNESS_CACHE_DIR"] = str(root / "cache")
    try:
        yield Store(root / "runs")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_recipe(recipe: str | os.PathLike | LoadedRecipe, *, store: Store,
               host: PluginHost | None = None, plugins: Iterable[tuple[str, Any]] = (),
               **kwargs: Any) -> dict[str, Any]:
    """Check and run a recipe exactly as ``harness run`` does; return the stored run record.

    ``recipe`` is a file path, a bundled recipe name, TOML text (when it contains a newline)
    or a loaded recipe. A recipe that does not check raises ``harness.run.recipe.RecipeError``.
    """
    from .run.pipeline import run_recipe as execute

    host = host or load_host(plugins=plugins)
    if isinstance(recipe, LoadedRecipe):
        loaded = recipe
    elif isinstance(recipe, str) and "\n" in recipe:
        loaded = parse_recipe(recipe)
    else:
        loaded = load_recipe(os.fspath(recipe))
    check_recipe(loaded, host)
    record = execute(loaded, host, store, **kwargs)
    return store.load(record["id"])


@pytest.fixture
def harness_store(tmp_path) -> Iterator[Store]:
    """A run store in a temporary folder (also ``HARNESS_STORE``; the cache beside it)."""
    with temp_store(tmp_path / "harness") as store:
        yield store


@pytest.fixture(scope="session")
def tiny_model():
    """A deterministic tiny model, shared by the session: do not train it in place."""
    return make_tiny_model()


__all__ = ["first_party_plugins", "load_host", "make_tiny_model", "temp_store", "run_recipe",
           "harness_store", "tiny_model"]
