"""What an installed harness offers without a checkout, tested fast in this environment:
package-data lookups, bundled recipes by name, ``harness recipes [copy]``, ``--version``,
the plugin scaffold and the public testing helpers. The built wheel itself: test_wheel.py."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness.resources import dashboard_app, recipes_dir, registry_file, resolve_package_path
from harness.run.bundled_recipes import bundled_recipes, relative_data_paths

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


# ------------------------------------------------------------------ package data


def test_package_data_resolves_to_the_repository_files_in_a_checkout():
    assert registry_file().read_bytes() == (REPO / "registry.toml").read_bytes()
    assert dashboard_app().samefile(REPO / "dashboards" / "app.py")
    assert recipes_dir().samefile(REPO / "recipes")


def test_package_reference_names_a_file_inside_an_installed_package():
    path = resolve_package_path("pkg:harness_plugins.lm_eval_plugin/tasks/quick_mc/train.jsonl")
    assert Path(path).samefile(REPO / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc" / "train.jsonl")
    assert resolve_package_path("pkg:no_such_package/x.jsonl") == "pkg:no_such_package/x.jsonl"


def test_recipe_with_a_missing_package_file_is_rejected_before_any_work(tmp_path, host):
    from harness.run.recipe import RecipeError, check_recipe, load_recipe

    recipe = (recipes_dir() / "quickstart.toml").read_text().replace(
        "pkg:harness_plugins.lm_eval_plugin/tasks/quick_mc/train.jsonl", "pkg:harness_plugins.lm_eval_plugin/nope.jsonl")
    (tmp_path / "r.toml").write_text(recipe)
    with pytest.raises(RecipeError) as err:
        check_recipe(load_recipe(tmp_path / "r.toml"), host)
    assert "data[0].path" in str(err.value) and "nope.jsonl" in str(err.value)


def test_missing_catalogue_is_an_error_not_an_empty_list(tmp_path):
    env = {**os.environ, "HARNESS_REGISTRY": str(tmp_path / "absent.toml")}
    proc = cli("plugins", "catalog", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "HARNESS_REGISTRY" in proc.stderr and "absent.toml" in proc.stderr


def test_broken_catalogue_names_the_file_and_the_fix(tmp_path):
    (tmp_path / "bad.toml").write_text("../registry.toml\n")  # what a checkout without symlinks would hold
    env = {**os.environ, "HARNESS_REGISTRY": str(tmp_path / "bad.toml")}
    proc = cli("plugins", "catalog", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "bad.toml is not valid TOML" in proc.stderr and "HARNESS_REGISTRY" in proc.stderr


def test_catalogue_entry_with_an_unknown_key_is_named(tmp_path):
    (tmp_path / "r.toml").write_text('[plugins.x]\nrequirement = "x"\nentry_point = "x"\nhoooks = []\n')
    env = {**os.environ, "HARNESS_REGISTRY": str(tmp_path / "r.toml")}
    proc = cli("plugins", "catalog", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "[plugins.x]" in proc.stderr and "hoooks" in proc.stderr


def test_version_names_the_ml_libraries_without_importing_them():
    code = ("import sys\nfrom harness.cli import main\ntry:\n    main(['--version'])\nfinally:\n"
            "    print('IMPORTED', sorted(m for m in ('torch', 'transformers', 'trl', 'lm_eval', 'streamlit')"
            " if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    import harness

    assert proc.stdout.startswith(f"harness (posttrain-harness) {harness.__version__}, Python ")
    for lib in ("torch", "transformers", "trl", "lm_eval"):
        assert f"  {lib} " in proc.stdout
    assert "IMPORTED []" in proc.stdout


def _imported_top_level_modules(folder: Path) -> dict[str, str]:
    """Top-level modules imported anywhere in ``folder`` (module -> first file importing it)."""
    import ast

    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def test_every_third_party_import_is_declared_in_pyproject():
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    declared = {canonicalize_name(Requirement(r).name) for r in requirements}
    own = {"harness", "harness_plugins", "harness_dashboard", "harness_recipes", "harness_dash"}
    providers = packages_distributions()
    undeclared = []
    for folder in ("harness", "plugins", "dashboards"):
        for module, where in _imported_top_level_modules(REPO / folder).items():
            if module in sys.stdlib_module_names or module in own or module == "__future__":
                continue
            dists = {canonicalize_name(d) for d in providers.get(module, [module])}
            if not dists & declared:
                undeclared.append(f"{module} ({where}; distribution {', '.join(sorted(dists))})")
    assert not undeclared, "imports no extra in pyproject.toml declares: " + "; ".join(undeclared)


# ------------------------------------------------------------------ bundled recipes


def test_every_bundled_recipe_states_what_it_does_and_costs():
    found = bundled_recipes()
    assert {"quickstart", "smollm2-quickstart"} <= set(found)
    lacking = [name for name, r in found.items() if not (r.description and r.cost)]
    assert not lacking, f"add [run] description and cost (e.g. cost = \"about 1 min on 2 CPU cores\") to {lacking}"


def test_bundled_recipes_keep_their_data_inside_the_package():
    """A bundled recipe runs installed and copies cleanly only if its relative paths stay in recipes/."""
    for r in bundled_recipes().values():
        for rel in relative_data_paths(r.path):
            assert ".." not in Path(rel).parts, f"{r.name}: {rel} leaves recipes/ (use pkg:PACKAGE/FILE)"
            assert (r.path.parent / rel).is_file(), f"{r.name}: {rel} does not exist"


def test_recipes_lists_each_with_its_cost(tmp_path):
    proc = cli("recipes", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name, r in bundled_recipes().items():
        assert f"{name}  " in proc.stdout and f"cost: {r.cost}" in proc.stdout


def test_a_bundled_name_loads_from_any_folder_and_a_bad_name_says_what_to_do(tmp_path, monkeypatch, host):
    from harness.run.recipe import RecipeError, check_recipe, load_recipe

    monkeypatch.chdir(tmp_path)
    loaded = load_recipe("quickstart")
    assert loaded.path.samefile(recipes_dir() / "quickstart.toml")
    check_recipe(loaded, host)
    with pytest.raises(RecipeError, match="harness recipes"):
        load_recipe("quickstrat")


def test_copy_writes_the_recipe_and_its_data_so_the_copy_resolves_them(tmp_path):
    proc = cli("recipes", "copy", "safety-dpo", "mine", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    copy = tmp_path / "mine" / "safety-dpo.toml"
    assert copy.read_text() == (recipes_dir() / "safety-dpo.toml").read_text()
    for rel in relative_data_paths(copy):
        assert (copy.parent / rel).read_bytes() == (recipes_dir() / rel).read_bytes()
    from harness.run.recipe import load_recipe

    loaded = load_recipe(copy)
    paths = [Path(d.params()["path"]) for d in loaded.recipe.data if "path" in d.params()]
    assert paths and all(p.is_relative_to(tmp_path / "mine") for p in paths)


def test_copy_never_overwrites_without_force(tmp_path, host):
    from harness.run.recipe import check_recipe, load_recipe

    target = tmp_path / "q.toml"
    target.write_text("# my edits\n")
    refused = cli("recipes", "copy", "quickstart", "q.toml", cwd=tmp_path)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert target.read_text() == "# my edits\n"
    forced = cli("recipes", "copy", "quickstart", "q.toml", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and target.read_text() == (recipes_dir() / "quickstart.toml").read_text()
    check_recipe(load_recipe(target), host)  # its data path is a package reference: it resolves here too


# ------------------------------------------------------------------ plugin scaffold


def test_scaffold_writes_an_installable_package_per_hook(tmp_path):
    proc = cli("plugins", "new", "my-plugin", "--hooks", "filter,data,command", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "my-plugin"
    project = tomllib.loads((root / "pyproject.toml").read_text())
    import harness

    assert project["project"]["name"] == "harness-my-plugin"
    assert project["project"]["dependencies"] == [f"posttrain-harness>={harness.__version__}"]
    assert project["project"]["entry-points"]["harness"] == {"my-plugin": "harness_my_plugin"}
    modules = sorted(p.name for p in (root / "harness_my_plugin").glob("*.py"))
    assert modules == ["__init__.py", "command.py", "data_source.py", "safety_filter.py"]
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_scaffolded_tests_pass_as_generated_before_install(tmp_path):
    """The cheap hooks here (no model); every hook, installed from the wheel: test_wheel.py."""
    assert cli("plugins", "new", "quick", "--hooks", "filter,data,command", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_LOAD_PLUGINS"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path / "quick",
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 passed, 1 skipped" in proc.stdout  # skipped: the entry-point test needs an install


@pytest.mark.parametrize("args, message", [
    (["Bad Name"], "lower-case"),
    (["ok", "--hooks", "evaluator,sampler"], "sampler"),
])
def test_scaffold_rejects_bad_input_and_writes_nothing(tmp_path, args, message):
    proc = cli("plugins", "new", *args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_scaffold_refuses_a_folder_that_holds_files(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    proc = cli("plugins", "new", "demo", cwd=tmp_path)
    assert proc.returncode == 2 and "not an empty folder" in proc.stderr
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["keep.txt"]


# ------------------------------------------------------------------ harness.testing


def test_temp_store_sets_and_restores_the_store_location(tmp_path, monkeypatch):
    from harness.testing import temp_store

    monkeypatch.setenv("HARNESS_STORE", "/before")
    with temp_store(tmp_path) as store:
        assert os.environ["HARNESS_STORE"] == str(store.root) == str(tmp_path / "runs")
    assert os.environ["HARNESS_STORE"] == "/before"


def test_load_host_keeps_other_installed_plugins_out(monkeypatch):
    import tests.example_plugin.harness_hello as hello
    from harness.testing import first_party_plugins, load_host

    host = load_host(plugins=[("hello", hello)])
    loaded = {name for name, info in host.plugins.items() if info.status == "loaded"}
    assert loaded == {*first_party_plugins(), "hello"}
    assert host.resolve("evaluator", "reply-length").plugin == "hello"


def test_catalogue_lists_every_first_party_plugin_with_the_hooks_it_implements():
    """registry.toml is the catalogue people read: a first-party entry must say what the plugin
    really provides, and every first-party entry point must be catalogued."""
    from harness.contract.catalog import load_catalog
    from harness.contract.plugins import load_plugins

    catalog = {n: e for n, e in load_catalog().items() if e.first_party}
    host = load_plugins(allow=None, block=[])
    loaded = {name: info for name, info in host.plugins.items()
              if info.distribution == "posttrain-harness" and info.status == "loaded"}
    assert set(loaded) <= set(catalog), f"not in registry.toml: {sorted(set(loaded) - set(catalog))}"
    for name, info in loaded.items():
        assert sorted(catalog[name].hooks) == sorted(info.hooks), name
