"""Shared fixtures. Tests load only this project's own plugins, never whatever
else happens to be installed in the environment (pytest -p no:... style)."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

import pytest

FIRST_PARTY = sorted(ep.name for ep in entry_points(group="harness")
                     if ep.dist is not None and ep.dist.name == "posttrain-harness")

os.environ["HARNESS_LOAD_PLUGINS"] = ",".join(FIRST_PARTY)
os.environ.pop("HARNESS_DISABLE_PLUGINS", None)
os.environ.pop("HARNESS_STRICT_PLUGINS", None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Each test gets its own store and caches: no state leaks between tests."""
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "runs"))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def host():
    from harness.contract.plugins import load_plugins

    return load_plugins()


@pytest.fixture(scope="session")
def tiny_model(host):
    """A fresh deterministic tiny model (session-wide: do not train it in place)."""
    return host.create("model", "tiny", {}).load()
