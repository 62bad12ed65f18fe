"""``registry.toml``: the catalogue of known plugins (first-party and vetted third-party).

Each ``[plugins.NAME]`` table gives the pip ``requirement``, the ``entry_point``
name, the ``hooks`` it provides and a one-line ``description``.
The catalogue ships inside the package (:func:`harness.resources.registry_file`);
``HARNESS_REGISTRY`` points at another catalogue file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PluginError


@dataclass
class CatalogEntry:
    name: str
    requirement: str
    entry_point: str
    description: str = ""
    hooks: list[str] = field(default_factory=list)
    first_party: bool = False


class CatalogError(PluginError):
    """The catalogue file is missing or unreadable (an exit code 2 error, not an empty list)."""


def registry_path() -> Path:
    if os.environ.get("HARNESS_REGISTRY"):
        return Path(os.environ["HARNESS_REGISTRY"])
    from ..resources import registry_file

    return registry_file()


def load_catalog(path: Path | None = None) -> dict[str, CatalogEntry]:
    path = path or registry_path()
    if not path.is_file():
        if os.environ.get("HARNESS_REGISTRY"):
            raise CatalogError(f"plugin catalogue not found: HARNESS_REGISTRY={path} is not a file; "
                               "point it at a registry.toml or unset it to use the bundled catalogue")
        raise CatalogError(f"plugin catalogue not found: no file {path} in the installed package; "
                           "reinstall posttrain-harness (pip install --force-reinstall posttrain-harness)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"plugin catalogue {path} is not valid TOML ({exc}); fix the file "
                           + ("or unset HARNESS_REGISTRY" if os.environ.get("HARNESS_REGISTRY")
                              else "or reinstall posttrain-harness")) from None
    catalog = {}
    for name, entry in data.get("plugins", {}).items():
        try:
            catalog[name] = CatalogEntry(name=name, **entry)
        except TypeError as exc:  # an unknown or missing key
            raise CatalogError(f"{path}: [plugins.{name}]: {exc}; keys: requirement, entry_point, "
                               "description, hooks, first_party") from None
    return catalog


def requirement_for(name: str, catalog: dict[str, CatalogEntry] | None = None) -> str:
    """A catalogue name becomes its requirement; anything else is a plain pip requirement."""
    catalog = load_catalog() if catalog is None else catalog
    return catalog[name].requirement if name in catalog else name


def pip(*args: str) -> int:
    """Run pip in the running interpreter's environment (where the plugins load from)."""
    return subprocess.call([sys.executable, "-m", "pip", *args])
