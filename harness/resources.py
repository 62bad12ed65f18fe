"""Files the harness ships as package data, found with :mod:`importlib.resources`.

A checkout, an editable install and an installed wheel resolve them the same way:
never by a path relative to the repository.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def package_file(package: str, *parts: str) -> Path:
    """A file or folder inside an installed package, as a real path on disk.

    The harness is installed unzipped (wheels are), so ``as_file`` returns the file in place.
    """
    resource = files(package).joinpath(*parts)
    with as_file(resource) as path:
        return Path(path)


def registry_file() -> Path:
    """The plugin catalogue, ``registry.toml`` (shipped inside ``harness``)."""
    return package_file("harness", "registry.toml")


def dashboard_app() -> Path:
    """The Streamlit dashboard's entry script (``dashboards/app.py``, package ``harness_dashboard``)."""
    return package_file("harness_dashboard", "app.py")


def recipes_dir() -> Path:
    """The folder of bundled recipes (``recipes/``, package ``harness_recipes``)."""
    return package_file("harness_recipes")


PACKAGE_PREFIX = "pkg:"


def resolve_package_path(reference: str) -> str:
    """``pkg:PACKAGE/REL/PATH`` -> the absolute path of that file inside the installed package.

    Lets a recipe name data shipped in a package (``pkg:harness_plugins.lm_eval_plugin/tasks/…``)
    and run the same from a checkout, an installed wheel or a copy in any folder. A package that
    is not installed leaves the reference as written, so the recipe check reports the missing file.
    """
    package, _, rel = reference[len(PACKAGE_PREFIX):].partition("/")
    try:
        return str(package_file(package, *[p for p in rel.split("/") if p]))
    except (ModuleNotFoundError, ValueError, TypeError):
        return reference
