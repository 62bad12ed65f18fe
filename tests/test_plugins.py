"""The plugin loader, through real entry points discovered by importlib.metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from harness.plugins import PluginLoadError, UnknownComponent, load_plugins
from tests.conftest import FIRST_PARTY

GOOD = '''
import harness

class Upper(harness.SafetyFilter):
    name = "upper"
    def score(self, texts, prompts=None):
        return [harness.Verdict("upper" if t.isupper() else "ok", float(t.isupper()), t.isupper()) for t in texts]

@harness.hookimpl
def register_safety_filters(register):
    register(Upper)
'''

BROKEN_IMPORT = "raise RuntimeError('boom at import')\n"

BROKEN_HOOK = '''
import harness

@harness.hookimpl
def register_evaluators(register):
    raise ValueError("boom in hook")
'''

UNAVAILABLE = '''
import harness
raise harness.PluginUnavailable("needs the 'nonexistent' package", install="pip install nonexistent")
'''

NOT_A_COMPONENT = '''
import harness

@harness.hookimpl
def register_trainers(register):
    register(object)
'''


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Write installed-looking distributions (dist-info + module) onto sys.path."""
    site = tmp_path / "site"
    site.mkdir()

    def install(dist: str, ep_name: str, source: str) -> None:
        module = f"fake_{ep_name.replace('-', '_')}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[harness]\n{ep_name} = {module}\n")

    install("fake-good", "good", GOOD)
    install("fake-broken-import", "broken-import", BROKEN_IMPORT)
    install("fake-broken-hook", "broken-hook", BROKEN_HOOK)
    install("fake-unavailable", "unavailable", UNAVAILABLE)
    install("fake-not-component", "not-component", NOT_A_COMPONENT)
    monkeypatch.syspath_prepend(str(site))
    for name in list(sys.modules):
        if name.startswith("fake_"):
            del sys.modules[name]
    return ["good", "broken-import", "broken-hook", "unavailable", "not-component"]


def test_broken_plugins_are_isolated(fake_plugins):
    host = load_plugins(allow=FIRST_PARTY + fake_plugins)
    p = host.plugins
    assert p["good"].status == "loaded" and p["good"].distribution == "fake-good"
    assert host.resolve("safety_filter", "upper").plugin == "good"
    assert p["broken-import"].status == "error" and "boom at import" in p["broken-import"].error
    assert p["broken-hook"].status == "error" and "boom in hook" in p["broken-hook"].error
    assert "HARNESS_DISABLE_PLUGINS=broken-hook" in p["broken-hook"].fix
    assert p["not-component"].status == "error" and "not a subclass" in p["not-component"].error
    assert p["unavailable"].status == "unavailable" and p["unavailable"].fix == "pip install nonexistent"
    # the first-party plugins still work beside the broken ones
    assert host.resolve("model", "tiny").plugin == "tiny"
    # a plugin that failed in its hook contributes no lifecycle hooks either
    assert not host.pm.is_registered(sys.modules.get("fake_broken_hook"))


def test_strict_mode_makes_failures_fatal(fake_plugins):
    with pytest.raises(PluginLoadError, match="broken-hook|broken-import"):
        load_plugins(allow=fake_plugins, strict=True)


def test_strict_mode_from_environment(fake_plugins, monkeypatch):
    monkeypatch.setenv("HARNESS_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError):
        load_plugins(allow=fake_plugins)


def test_block_list_and_allow_list(fake_plugins, monkeypatch):
    monkeypatch.setenv("HARNESS_LOAD_PLUGINS", "good,tiny")
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "tiny")
    host = load_plugins()
    assert host.plugins["good"].status == "loaded"
    assert host.plugins["tiny"].status == "disabled"
    assert host.plugins["broken-import"].status == "disabled"  # not on the allow-list
    with pytest.raises(UnknownComponent, match="unknown model loader 'tiny'"):
        host.resolve("model", "tiny")


def test_unknown_component_suggests_and_names_broken_plugins(fake_plugins):
    host = load_plugins(allow=FIRST_PARTY + fake_plugins)
    with pytest.raises(UnknownComponent) as err:
        host.resolve("safety_filter", "uper")
    assert "did you mean 'upper'" in err.value.message
    assert "broken-import" in err.value.message


def test_namespaced_names_and_ambiguity():
    import harness

    class A(harness.Evaluator):
        name = "same"

    class One:
        @harness.hookimpl
        def register_evaluators(self, register):
            register(A)

    class Two:
        @harness.hookimpl
        def register_evaluators(self, register):
            register(A)

    host = load_plugins(allow=[], extra=[("one", One()), ("two", Two())])
    with pytest.raises(UnknownComponent, match="ambiguous.*'one/same'.*'two/same'"):
        host.resolve("evaluator", "same")
    assert host.resolve("evaluator", "two/same").plugin == "two"


def test_lifecycle_hooks_receive_frozen_events():
    import dataclasses

    import harness

    seen = []

    class Watcher:
        @harness.hookimpl
        def on_stage_end(self, event):
            seen.append(event)

    host = load_plugins(allow=[], extra=[("watcher", Watcher())])
    host.hook.on_stage_end(event=harness.StageEnded("r1", "load", "load", "ok", 0.1))
    assert seen[0].stage == "load"
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].stage = "other"


def test_plugins_cli_lists_json_fast_without_torch():
    code = ("import sys, time, json; t=time.perf_counter(); from harness.cli import main; "
            "rc = main(['plugins', '--json']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr); "
            "print(f'SECONDS {time.perf_counter()-t:.3f}', file=sys.stderr)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    by_name = {p["name"]: p for p in listing}
    assert set(FIRST_PARTY) <= set(by_name)
    assert by_name["trl"]["hooks"] == ["register_trainers"]
    assert "trainer:sft" in by_name["trl"]["components"]
    assert all(p["status"] == "loaded" for p in listing), [p for p in listing if p["status"] != "loaded"]
    assert "NO-TORCH" in proc.stderr
    assert wall < 5  # interpreter start included; the in-process figure is printed for the record
