"""``harness plugins new``: write a ready-to-install plugin package.

What it writes (for ``demo`` with ``--hooks evaluator,filter``)::

    demo/pyproject.toml              distribution harness-demo, entry point demo = "harness_demo"
    demo/README.md
    demo/harness_demo/__init__.py    the hook implementations (light: imports only harness)
    demo/harness_demo/evaluator.py   one module per chosen hook, as in docs/plugins.md
    demo/harness_demo/safety_filter.py
    demo/tests/conftest.py           uses harness.testing's fixtures
    demo/tests/test_demo.py          one test per hook, on the tiny model; they pass as generated

The templates are files in ``harness/contract/scaffold_templates/`` (``$name``-style placeholders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..errors import HarnessError
from ..resources import package_file

#: hook name on the command line -> (hookspec implemented, template module)
HOOKS: dict[str, tuple[str, str]] = {
    "evaluator": ("register_evaluators", "evaluator"),
    "filter": ("register_safety_filters", "safety_filter"),
    "data": ("register_data_sources", "data_source"),
    "trainer": ("register_trainers", "trainer"),
    "model": ("register_models", "model"),
    "reporter": ("register_reporters", "reporter"),
    "command": ("register_commands", "command"),
}
DEFAULT_HOOKS = ("evaluator",)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


class ScaffoldError(HarnessError, ValueError):
    """The plugin cannot be written: a bad name, an unknown hook, or a folder in the way."""


@dataclass(frozen=True)
class PluginSkeleton:
    name: str  # entry-point name and component prefix: "demo"

    @property
    def distribution(self) -> str:
        return f"harness-{self.name}"

    @property
    def package(self) -> str:
        return "harness_" + self.name.replace("-", "_")


def parse_hooks(text: str | None) -> list[str]:
    hooks = [h.strip() for h in (text or ",".join(DEFAULT_HOOKS)).split(",") if h.strip()]
    unknown = [h for h in hooks if h not in HOOKS]
    if unknown or not hooks:
        raise ScaffoldError(f"unknown hook(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(HOOKS)}")
    return list(dict.fromkeys(hooks))


def _template(name: str) -> Template:
    return Template(package_file("harness.contract", "scaffold_templates", name).read_text(encoding="utf-8"))


def render(name: str, hooks: list[str]) -> dict[str, str]:
    """The files of the plugin, relative path -> text (nothing is written)."""
    if name.startswith("harness-") or name.startswith("harness_"):
        name = name[len("harness-"):]
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(f"plugin name {name!r}: use lower-case letters, digits and '-' "
                            "(it becomes the entry-point name; the package is harness-NAME)")
    sk = PluginSkeleton(name)
    values = {"name": sk.name, "distribution": sk.distribution, "package": sk.package,
              "hooks": ", ".join(hooks), "harness_version": _installed_version()}
    modules = [HOOKS[h][1] for h in hooks]
    init_lines = [f"from .{m} import {HOOKS[h][0]}  # noqa: F401" for h, m in zip(hooks, modules)]
    files = {
        "pyproject.toml": _template("pyproject.toml.tmpl").substitute(values),
        "README.md": _template("README.md.tmpl").substitute(
            values, hook_list="\n".join(f"- `{h}`: `{sk.package}/{m}.py` ({HOOKS[h][0]})" for h, m in zip(hooks, modules))),
        f"{sk.package}/__init__.py": _template("__init__.py.tmpl").substitute(values, imports="\n".join(init_lines)),
        "tests/conftest.py": _template("conftest.py.tmpl").substitute(values),
        f"tests/test_{sk.package}.py": _template("test_header.py.tmpl").substitute(values)
        + "".join(_template(f"test_{m}.py.tmpl").substitute(values) for m in modules),
    }
    for m in modules:
        files[f"{sk.package}/{m}.py"] = _template(f"{m}.py.tmpl").substitute(values)
    return files


def write_plugin(name: str, dest: Path, hooks: list[str]) -> list[Path]:
    """Write the plugin into ``dest`` (a new or empty folder). Returns the files written."""
    files = render(name, hooks)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ScaffoldError(f"{dest} already exists and is not an empty folder: choose another path")
    written = []
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _installed_version() -> str:
    """The installed harness's version, which a new plugin requires at least. Read from the
    distribution's metadata: importing ``harness`` itself from here would import every layer."""
    from importlib.metadata import version

    return version("posttrain-harness")
