"""The recipes shipped with the harness (``recipes/`` in the repository, package ``harness_recipes``).

A bundled recipe is named by its file stem (``quickstart``) and runs from any folder:
``harness run quickstart``. ``copy_recipe`` writes an editable copy together with the
data files its relative paths point at, so the copy resolves them the same way.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import HarnessError
from ..resources import PACKAGE_PREFIX, recipes_dir

PATH_KEYS = ("path", "data_files")  # the component keys the recipe loader resolves as local paths


@dataclass(frozen=True)
class BundledRecipe:
    name: str
    path: Path
    description: str
    cost: str


def bundled_recipes() -> dict[str, BundledRecipe]:
    """Every bundled recipe by name, sorted."""
    out = {}
    for path in sorted(recipes_dir().glob("*.toml")):
        run = tomllib.loads(path.read_text(encoding="utf-8")).get("run", {})
        out[path.stem] = BundledRecipe(path.stem, path, run.get("description", ""), run.get("cost", ""))
    return out


def find_bundled(name: str) -> Path | None:
    """The bundled recipe called ``name`` (a bare name, not a path), or None."""
    if not name or "/" in name or "\\" in name:
        return None
    recipe = bundled_recipes().get(name)
    return recipe.path if recipe else None


def relative_data_paths(path: Path) -> list[str]:
    """The relative local paths in a recipe's ``[model]`` and ``[[data]]`` tables."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = [data.get("model", {}), *data.get("data", [])]
    out = []
    for table in tables:
        for key in PATH_KEYS:
            value = table.get(key)
            if isinstance(value, str) and not value.startswith(PACKAGE_PREFIX) and not Path(value).is_absolute():
                out.append(value)
    return out


class CopyError(HarnessError, ValueError):
    """A recipe copy would overwrite a file or write outside its folder."""


def copy_recipe(name: str, dest: Path, *, force: bool = False) -> list[Path]:
    """Copy the bundled recipe ``name`` to ``dest`` (a ``.toml`` file, or a folder to put it in)
    with the data files it reads beside it, at the same relative paths. Returns the files written.

    Existing files are never overwritten unless ``force``; nothing is written if one would be.
    """
    source = find_bundled(name)
    if source is None:
        known = ", ".join(bundled_recipes()) or "none"
        raise CopyError(f"no bundled recipe called {name!r} (bundled: {known})")
    target = dest / f"{name}.toml" if dest.is_dir() or dest.suffix != ".toml" else dest
    plan = [(source, target)]
    for rel in relative_data_paths(source):
        if ".." in PurePosixPath(rel).parts:
            raise CopyError(f"{source.name}: data path {rel!r} leaves the recipe's folder; "
                            "bundled recipes must use paths inside it or pkg:PACKAGE/FILE")
        plan.append((source.parent / rel, target.parent / rel))
    clashes = [str(dst) for _, dst in plan if dst.exists()]
    if clashes and not force:
        raise CopyError(f"not overwriting {', '.join(clashes)} (pass --force to replace)")
    for src, dst in plan:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return [dst for _, dst in plan]
