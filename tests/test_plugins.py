"""The plugin loader, through real entry points discovered by importlib.metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.contract.plugins import PluginLoadError, UnknownComponent, load_plugins
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


# ------------------------------------------------------------------ registration through pluggy

MISSPELLED = '''
import harness

@harness.hookimpl
def register_trainerz(register):
    pass
'''

UNDECORATED = '''
import harness

class Quiet(harness.Evaluator):
    name = "quiet"

def register_evaluators(register):
    register(Quiet)
'''


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Write installed-looking distributions (dist-info + module) into a folder on sys.path."""
    folder = tmp_path / "extra-site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))

    def install(dist: str, ep_name: str, source: str, module: str | None = None) -> str:
        module = module or f"fake_{dist.replace('-', '_')}"
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
        info = folder / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[harness]\n{ep_name} = {module}\n")
        sys.modules.pop(module, None)
        return module

    return install


def test_misspelled_hook_is_a_load_error_with_its_fix(site):
    site("fake-misspelled", "misspelled", MISSPELLED)
    host = load_plugins(allow=["misspelled"])
    info = host.plugins["misspelled"]
    assert info.status == "error"
    assert "unknown hook 'register_trainerz'" in info.error
    assert info.fix == "rename 'register_trainerz' to 'register_trainers'"
    assert not host.pm.get_plugins()  # nothing of it stays registered
    host.pm.check_pending()  # pluggy itself finds nothing pending
    with pytest.raises(PluginLoadError, match="register_trainerz"):
        load_plugins(allow=["misspelled"], strict=True)


def test_hook_function_without_hookimpl_is_a_load_error(site):
    site("fake-undecorated", "undecorated", UNDECORATED)
    info = load_plugins(allow=["undecorated"]).plugins["undecorated"]
    assert info.status == "error" and "not decorated with @harness.hookimpl" in info.error
    assert info.fix == "add @harness.hookimpl above 'def register_evaluators'"


def test_misspelled_hook_shows_in_harness_plugins(site, tmp_path):
    site("fake-misspelled", "misspelled", MISSPELLED)
    env = {**__import__("os").environ, "HARNESS_LOAD_PLUGINS": "misspelled",
           "PYTHONPATH": str(tmp_path / "extra-site")}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "plugins"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0
    assert "ERROR" in proc.stdout and "unknown hook 'register_trainerz'" in proc.stdout
    assert "fix: rename 'register_trainerz' to 'register_trainers'" in proc.stdout
    strict = subprocess.run([sys.executable, "-m", "harness.cli", "plugins", "--strict"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert strict.returncode == 2


def test_registration_goes_through_pluggy_and_is_traced(monkeypatch, capsys):
    import harness

    class Plain(harness.Reporter):
        name = "plain"

    class One:
        @harness.hookimpl
        def register_reporters(self, register):
            register(Plain)

    monkeypatch.setenv("HARNESS_TRACE_PLUGINS", "1")
    host = load_plugins(allow=[], extra=[("one", One())])
    assert host.resolve("reporter", "plain").plugin == "one"
    assert "register_reporters" in capsys.readouterr().err  # the registration call was traced


def test_one_plugins_registration_never_reaches_another():
    """Each plugin is asked to register through its own subset caller: the callback it gets
    attributes every component to it, whatever order pluggy would call the others in."""
    import harness

    def evaluator(n):
        return type(f"E{n}", (harness.Evaluator,), {"name": f"e{n}"})

    def plugin(n):
        class P:
            @harness.hookimpl
            def register_evaluators(self, register):
                register(evaluator(n))
        return P()

    host = load_plugins(allow=[], extra=[(f"p{n}", plugin(n)) for n in range(3)])
    assert {c.name: c.plugin for c in host.available("evaluator")} == {"e0": "p0", "e1": "p1", "e2": "p2"}


# ------------------------------------------------------------------ no silent shadowing

SHADOW_FILTER = '''
import harness

class KeepEverything(harness.SafetyFilter):
    name = "refusal"
    detects = ("full_refusal", "compliance")
    def score(self, texts, prompts=None):
        return [harness.Verdict("compliance", 0.0, False) for _ in texts]

@harness.hookimpl
def register_safety_filters(register):
    register(KeepEverything)
'''


def test_same_entry_point_name_loads_both_and_never_replaces_first_party_filters(site):
    site("harness-shadow", "filters", SHADOW_FILTER)
    host = load_plugins(allow=FIRST_PARTY)
    assert host.plugins["filters"].distribution == "posttrain-harness"
    shadow = host.plugins["harness-shadow"]
    assert shadow.status == "loaded" and shadow.entry_point == "filters"
    assert any("entry point 'filters'" in c for c in host.plugins["filters"].collisions)
    with pytest.raises(UnknownComponent, match="ambiguous.*'filters/refusal'.*'harness-shadow/refusal'"):
        host.resolve("safety_filter", "refusal")
    assert host.resolve("safety_filter", "filters/refusal").cls.__module__.startswith("harness_plugins")
    assert any("safety filter 'refusal' is offered by plugins" in c for c in host.collisions())
    with pytest.raises(PluginLoadError, match="entry point 'filters' of 'harness-shadow' is also the entry "
                                              "point of 'posttrain-harness'"):
        load_plugins(allow=FIRST_PARTY, strict=True)


def test_component_collision_fails_strict_mode():
    import harness

    class A(harness.Evaluator):
        name = "same"

    def plugin():
        class P:
            @harness.hookimpl
            def register_evaluators(self, register):
                register(A)
        return P()

    assert load_plugins(allow=[], extra=[("one", plugin()), ("two", plugin())]).collisions()
    with pytest.raises(PluginLoadError, match="evaluator 'same' is offered by plugins 'one' and 'two'"):
        load_plugins(allow=[], extra=[("one", plugin()), ("two", plugin())], strict=True)


def test_disabled_plugin_is_named_when_its_component_is_unknown():
    host = load_plugins(allow=[p for p in FIRST_PARTY if p != "tiny"])
    with pytest.raises(UnknownComponent, match="Disabled plugins.*tiny"):
        host.resolve("model", "tiny")


# ------------------------------------------------------------------ failure semantics: one rule

HOOKS = '''
import os
import harness

class Const(harness.Evaluator):
    name = "const"
    def evaluate(self, model, context):
        return harness.EvalResult(metrics={"const/value": harness.Metric(1.0, 0.0, 1)})

class Broken(harness.Reporter):
    name = "broken"
    def report(self, record, run_dir):
        raise OSError("disk full")

@harness.hookimpl
def register_evaluators(register):
    register(Const)

@harness.hookimpl
def register_reporters(register):
    register(Broken)

def _maybe_break(hook):
    if os.environ.get("BREAK_HOOK") == hook:
        raise RuntimeError(f"{hook} broke")

@harness.hookimpl
def on_run_start(event):
    _maybe_break("on_run_start")

@harness.hookimpl
def on_stage_end(event):
    _maybe_break("on_stage_end")

@harness.hookimpl
def on_run_end(event):
    _maybe_break("on_run_end")
'''

HOOK_RECIPE = """
[run]
name = "hooks"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "const"
{report}
"""


@pytest.fixture
def hook_cli(site, tmp_path, monkeypatch):
    """Run ``harness run`` in-process with the 'hooky' plugin installed; return (exit code, record)."""
    import harness.contract.plugins
    from harness.cli import main

    site("harness-hooky", "hooky", HOOKS)
    monkeypatch.setenv("HARNESS_LOAD_PLUGINS", ",".join(FIRST_PARTY + ["hooky"]))

    calls = iter(range(100))

    def run(report: str = "", *args: str):
        monkeypatch.setattr(harness.contract.plugins, "_HOST", None)
        recipe = tmp_path / "hooks.toml"
        recipe.write_text(HOOK_RECIPE.format(report=report))
        store = tmp_path / f"runs-{next(calls)}"
        code = main(["run", str(recipe), "--no-cache", "--store", str(store), *args])
        [run_dir] = store.iterdir()
        return code, json.loads((run_dir / "run.json").read_text())

    return run


@pytest.mark.parametrize("hook", ["on_run_start", "on_stage_end"])
def test_raising_lifecycle_hook_fails_the_run_with_exit_2_and_names_the_plugin(hook_cli, monkeypatch, hook):
    monkeypatch.setenv("BREAK_HOOK", hook)
    code, record = hook_cli()
    assert code == 2
    assert record["status"] == "failed" and record["finished_at"]
    assert record["error"]["hook"] == hook and record["error"]["plugin"] == "hooky"
    assert record["error"]["message"] == f"hook '{hook}' of plugin 'hooky' raised RuntimeError: {hook} broke"


def test_raising_on_run_end_is_recorded_and_keeps_the_verdict(hook_cli, monkeypatch):
    monkeypatch.setenv("BREAK_HOOK", "on_run_end")
    code, record = hook_cli()
    assert code == 0
    assert record["status"] == "completed" and record["error"] is None
    [failure] = record["post_run_errors"]
    assert failure["hook"] == "on_run_end" and failure["plugin"] == "hooky"


def test_failing_reporter_warns_unless_required(hook_cli, monkeypatch, capsys):
    monkeypatch.delenv("BREAK_HOOK", raising=False)
    code, record = hook_cli('\n[[report]]\nreporter = "broken"\n')
    assert code == 0 and record["status"] == "completed"
    assert "OSError: reporter 'broken' failed: disk full" in capsys.readouterr().err
    assert record["post_run_errors"][0]["required"] is False
    code, record = hook_cli('\n[[report]]\nreporter = "broken"\nrequired = true\n')
    assert code == 2 and record["status"] == "failed"
    assert record["error"]["reporter"] == "broken" and record["error"]["stage"] == "report"


def test_harness_errors_exit_2_with_the_message_alone_and_traceback_only_with_debug(monkeypatch, capsys):
    import click

    import harness
    import harness.contract.plugins
    from harness.cli import main

    class Commands:
        @harness.hookimpl
        def register_commands(self, cli):
            @cli.command(name="bad-data")
            def bad_data():
                raise harness.DataError("rows.jsonl:3: 'chosen' is missing; add it or drop the row")

            @cli.command(name="buggy")
            def buggy():
                raise KeyError("oops")

            assert isinstance(cli, click.Group)

    monkeypatch.setattr(harness.contract.plugins, "_HOST", load_plugins(allow=[], extra=[("cmds", Commands())]))
    assert main(["bad-data"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: rows.jsonl:3: 'chosen' is missing; add it or drop the row"
    assert main(["--debug", "bad-data"]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["buggy"]) == 2
    err = capsys.readouterr().err
    assert "internal error KeyError" in err and "--debug" in err and "Traceback" not in err


# ------------------------------------------------------------------ no first-party names in the core

def test_harness_eval_picks_evaluators_and_filters_by_declared_capability(monkeypatch, tmp_path, capsys):
    """`harness eval --tasks/--suites` finds the evaluators that declare `evaluates`, and the
    refusal filter by what it detects: a third-party set works with the first-party ones disabled."""
    import harness
    import harness.contract.plugins
    from harness.cli import main

    class Benchmarks(harness.Evaluator):
        name = "my-bench"
        evaluates = "tasks"

        class Params(harness.Params):
            tasks: list[str]

        def evaluate(self, model, context):
            return harness.EvalResult(metrics={f"{t}/acc": harness.Metric(0.5, 0.1, 4) for t in self.params.tasks})

    class Suites(harness.Evaluator):
        name = "my-safety"
        evaluates = "suites"

        class Params(harness.Params):
            suites: list[str]

        def evaluate(self, model, context):
            [refusals] = context.filters.values()
            flagged = refusals.score(["I cannot help with that."])[0].flagged
            return harness.EvalResult(metrics={f"{s}/refused": harness.Metric(float(flagged), 0.0, 1)
                                               for s in self.params.suites})

    class Refusals(harness.SafetyFilter):
        name = "my-refusals"
        detects = ("full_refusal", "compliance")

        def score(self, texts, prompts=None):
            return [harness.Verdict("full_refusal", 1.0, True) for _ in texts]

    class Mine:
        @harness.hookimpl
        def register_evaluators(self, register):
            register(Benchmarks)
            register(Suites)

        @harness.hookimpl
        def register_safety_filters(self, register):
            register(Refusals)

    host = load_plugins(allow=["tiny"], extra=[("mine", Mine())])
    monkeypatch.setattr(harness.contract.plugins, "_HOST", host)
    code = main(["eval", "--model", "tiny", "--tasks", "a,b", "--suites", "s", "--json", "--no-cache",
                 "--store", str(tmp_path / "runs")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert set(out["metrics"]["before"]) == {"a/acc", "b/acc", "s/refused"}
    assert out["metrics"]["before"]["s/refused"]["value"] == 1.0
    record = json.loads((tmp_path / "runs" / out["id"] / "run.json").read_text())
    assert {c["name"] for c in record["components"]} == {"tiny", "my-bench", "my-safety", "my-refusals"}


def test_harness_eval_says_what_is_missing_without_a_capable_evaluator(monkeypatch, tmp_path, capsys):
    import harness.contract.plugins
    from harness.cli import main

    monkeypatch.setattr(harness.contract.plugins, "_HOST", load_plugins(allow=["tiny"]))
    assert main(["eval", "--model", "tiny", "--tasks", "a", "--store", str(tmp_path / "runs")]) == 2
    assert "no loaded evaluator evaluates tasks" in capsys.readouterr().err


def test_core_names_no_first_party_plugin():
    """No core module spells a first-party plugin's entry-point or component name as a string."""
    import ast
    from pathlib import Path

    core = Path(__file__).resolve().parents[1] / "harness"
    # ("harm" is also one of harness.CONCERNS, so it is not on the list)
    names = {"lm-eval", "safety", "refusal", "hf", "gguf", "smollm2", "pii", "judge", "sft", "dpo", "tiny"}
    hits = []
    # harness.testing is the documented exception: its tiny-model fixture is built on the first-party
    # `tiny` loader on purpose (plugin authors' tests need a real model that costs nothing).
    # results_formats / results_cmd name lm-eval's *results file layout* (another tool's file format,
    # `--format lm-eval`), not our plugin.
    exempt = {"testing.py", "results_formats.py", "results_cmd.py"}
    for path in (p for p in core.rglob("*.py") if p.name not in exempt):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                hits.append(f"{path.relative_to(core.parent)}:{node.lineno}: {node.value!r}")
    assert not hits, hits


# ------------------------------------------------------------------ what a plugin author tripped on

def test_paths_in_every_component_table_resolve_relative_to_the_recipe(tmp_path):
    from harness.run.recipe import load_recipe

    folder = tmp_path / "project"
    (folder / "tasks").mkdir(parents=True)
    (folder / "judge").mkdir()
    recipe = folder / "r.toml"
    recipe.write_text("""
[run]
name = "paths"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "lm-eval"
tasks = ["x"]
include_path = "tasks"
filters = [{ filter = "judge", model = { loader = "hf", path = "./judge" } }]

[[evaluate]]
evaluator = "safety"
suites = ["xstest"]
base_dir = "org/not-here"

[[report]]
reporter = "jsonl"
path = "./out/runs.jsonl"
""")
    r = load_recipe(recipe).recipe
    assert r.evaluate[0].params()["include_path"] == str(folder / "tasks")
    assert r.evaluate[0].filters[0].params()["model"] == {"loader": "hf", "path": str(folder / "judge")}
    assert r.evaluate[1].params()["base_dir"] == "org/not-here"  # not a local path: left for the component
    assert r.report[0].params()["path"] == str(folder / "out" / "runs.jsonl")


def test_parameter_typo_suggests_the_close_name():
    import harness

    class Pick(harness.Evaluator):
        name = "pick"

        class Params(harness.Params):
            max_new_tokens: int = 8

    with pytest.raises(harness.ParamError) as err:
        Pick.validate_params({"max_new_token": 4})
    assert err.value.errors == [("max_new_token", "unknown key; did you mean 'max_new_tokens'?")]


def test_code_fingerprint_follows_the_plugin_source(site):
    import importlib

    module = site("fake-coded", "coded", "import harness\n\nclass E(harness.Evaluator):\n    name = 'e'\n")
    first = importlib.import_module(module).E.code_fingerprint()
    assert first == importlib.import_module(module).E.code_fingerprint()
    path = Path(sys.modules[module].__file__)
    path.write_text(path.read_text() + "\nX = 1  # a code change\n")
    sys.modules.pop(module)
    assert importlib.import_module(module).E.code_fingerprint() != first


def test_bare_filter_name_cannot_fall_through_to_a_stand_in_while_first_party_is_missing(site):
    import harness

    class Upper(harness.SafetyFilter):
        name = "upper"

    class Mine:
        @harness.hookimpl
        def register_safety_filters(self, register):
            register(Upper)

    """With the first-party filters disabled (or broken), a third-party 'refusal' is used only when
    the recipe names it with its plugin: it must never stand in for the missing one implicitly."""
    site("harness-shadow", "filters", SHADOW_FILTER)
    host = load_plugins(allow=FIRST_PARTY, block=[])
    assert host.plugins["filters"].status == "loaded"
    host = load_plugins(allow=[p for p in FIRST_PARTY if p != "filters"] + ["harness-shadow"])
    assert host.plugins["filters"].status == "disabled" and host.plugins["harness-shadow"].status == "loaded"
    with pytest.raises(UnknownComponent, match="third-party plugin 'harness-shadow' while first-party plugin"):
        host.resolve("safety_filter", "refusal")
    assert host.resolve("safety_filter", "harness-shadow/refusal").plugin == "harness-shadow"
    # disabling an unrelated first-party plugin leaves third-party filters usable by their bare name
    host = load_plugins(allow=[p for p in FIRST_PARTY if p not in ("filters", "gguf")], extra=[("mine", Mine())])
    assert host.resolve("safety_filter", "upper").plugin == "mine"


def test_all_recipe_errors_in_one_pass(tmp_path):
    """A schema error does not hide the component errors of the tables the schema accepted."""
    from harness.run.recipe import RecipeError, load_checked

    recipe = tmp_path / "r.toml"
    recipe.write_text("""
[run]
nme = "typo"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "safety"
name = 3

[[evaluate]]
evaluator = "lm-evl"
tasks = ["x"]

[[report]]
reporter = "markdown"
colour = "red"
""")
    with pytest.raises(RecipeError) as err:
        load_checked(recipe, load_plugins(allow=FIRST_PARTY))
    paths = [p for p, _ in err.value.errors]
    assert "run.nme" in paths and "run.name" in paths       # schema
    assert "evaluate[0].name" in paths                       # schema, the broken table
    assert "evaluate[1].evaluator" in paths                  # component, original index kept
    assert "report[0].colour" in paths                       # component parameter
    assert not any(p.startswith("evaluate[0].") and p != "evaluate[0].name" for p in paths)


def test_one_pass_leaves_out_echoes_of_a_broken_table(tmp_path):
    from harness.run.recipe import RecipeError, load_checked

    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "p", "completion": "c"}\n')
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""
[run]
name = "x"

[model]
loader = "tiny"

[[data]]
name = "d"
source = "jsonl"
path = "{data}"
format = "prompt_completion"
pair_checks = "sometimes"

[[train]]
trainer = "stf"
data = "d"

[[evaluate]]
evaluator = "safety"
suites = ["quick-safety"]
""")
    with pytest.raises(RecipeError) as err:
        load_checked(recipe, load_plugins(allow=FIRST_PARTY))
    paths = [p for p, _ in err.value.errors]
    assert "data[0].pair_checks" in paths and "train[0].trainer" in paths
    assert "train[0].data" not in paths  # the data set exists; only its table is broken
