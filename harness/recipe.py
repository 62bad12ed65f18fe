"""The recipe: one TOML file describes a run. Validated before any work starts.

Every error names the file, the key path and what was expected, e.g.::

    recipes/x.toml: train[0].learning_rat: unknown key for trainer 'sft'; did you mean 'learning_rate'?

Component tables (``[model]``, ``[[data]]``, ``[[train]]``, ``[[evaluate]]``,
``[[report]]``) have a few keys the harness owns; every other key is a
parameter of the named component and is validated by that component.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .components import DATA_FORMATS, ParamError, pydantic_errors
from .gates import GateSpec


class RecipeError(ValueError):
    """A recipe is invalid. ``errors`` holds ``(key_path, message)`` pairs."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = errors
        lines = [f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in errors]
        super().__init__("\n".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Component(BaseModel):
    """A table naming a component; extra keys are that component's parameters."""

    model_config = ConfigDict(extra="allow")

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class FilterRef(_Component):
    filter: str
    action: Literal["drop", "flag", "redact"] = "drop"
    #: which fields of an example the filter reads: completions (default) or prompts too
    on: Literal["completion", "prompt", "all"] = "completion"


def _as_filter_refs(value):
    return [FilterRef(filter=x) if isinstance(x, str) else x for x in (value or [])]


#: ``["pii"]`` or ``[{ filter = "pii", action = "redact" }]``
FilterList = Annotated[list[FilterRef], BeforeValidator(_as_filter_refs)]


class RunSection(_Strict):
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    seed: int = 0


class ModelSection(_Component):
    loader: str


class DataSection(_Component):
    name: str
    source: str
    filters: FilterList = Field(default_factory=list)
    #: preference-data sanity checks: "report" (default) or "drop" bad pairs
    pair_checks: Literal["report", "drop", "off"] = "report"


class TrainSection(_Component):
    trainer: str
    data: str
    name: str | None = None


class EvaluateSection(_Component):
    evaluator: str
    name: str | None = None
    filters: FilterList = Field(default_factory=list)
    cache: bool = True


class ReportSection(_Component):
    reporter: str


class OutputSection(_Strict):
    """What a run keeps of the models it trained (see docs/recipes.md, ``[output]``)."""

    #: "final": the last train stage's model in ``model/``; "stages": every train stage's
    #: (``stages/<stage>/``, the last one in ``model/``); "none": nothing
    save: Literal["final", "stages", "none"] = "final"
    #: a folder outside the store for the models (``<path>/<run id>/...``); default: the run folder
    path: str | None = None
    #: LoRA stages: keep the merged weights next to the adapter (false: the adapter only)
    merge: bool = True


class BaselineSection(_Strict):
    run: str
    store: str | None = None


class Recipe(_Strict):
    run: RunSection
    model: ModelSection
    requires: list[str] = Field(default_factory=list)
    data: list[DataSection] = Field(default_factory=list)
    train: list[TrainSection] = Field(default_factory=list)
    evaluate: list[EvaluateSection] = Field(default_factory=list)
    gates: dict[str, GateSpec] = Field(default_factory=dict)
    report: list[ReportSection] = Field(default_factory=list)
    baseline: BaselineSection | None = None
    output: OutputSection = Field(default_factory=OutputSection)


@dataclass
class LoadedRecipe:
    recipe: Recipe
    path: Path | None
    text: str
    #: ``--set KEY=VALUE`` overrides applied to ``text`` before validation (the record keeps both)
    overrides: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        where = str(self.path) if self.path else "<recipe>"
        return f"{where} (with --set {' --set '.join(self.overrides)})" if self.overrides else where

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


# ---------------------------------------------------------------- parsing


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedRecipe:
    """Read and schema-check a recipe file (components are checked by :func:`check_recipe`);
    ``overrides`` are ``--set KEY=VALUE`` expressions (see :mod:`harness.overrides`)."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(str(path), [("", "recipe file not found")])
    text = path.read_text(encoding="utf-8")
    return parse_recipe(text, path=path, overrides=overrides)


def parse_recipe(text: str, *, path: Path | None = None,
                 overrides: list[str] | tuple[str, ...] = ()) -> LoadedRecipe:
    from .overrides import OverrideError, apply

    source = str(path) if path else "<recipe>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(source, [("", f"not valid TOML: {exc}")]) from None
    if overrides:
        try:
            data = apply(data, overrides)
        except OverrideError as exc:
            raise RecipeError(source, [(f"--set {exc.expr}", exc.message)]) from None
        source = f"{source} (with --set {' --set '.join(overrides)})"
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(source, _schema_errors(exc)) from None
    loaded = LoadedRecipe(recipe, path, text, list(overrides))
    _resolve_paths(loaded)
    return loaded


def _schema_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for path, msg in pydantic_errors(exc):
        # pydantic writes list items as "train.0.x" and union branches as "str"/"FilterRef": tidy
        parts = [p for p in path.split(".") if p not in ("str", "FilterRef")]
        tidy = ""
        for p in parts:
            tidy += f"[{p}]" if p.isdigit() else (f".{p}" if tidy else p)
        if msg == "unknown key":
            msg = "unknown key (see docs/recipes.md for the keys of this table)"
        out.append((tidy, msg))
    return out


def _resolve_paths(loaded: LoadedRecipe) -> None:
    """Relative local paths in component tables are relative to the recipe's folder."""
    tables: list[_Component] = [loaded.recipe.model, *loaded.recipe.data]
    for table in tables:
        extra = table.model_extra or {}
        for key in ("path", "data_files"):
            value = extra.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                candidate = loaded.base_dir / value
                if value.startswith(".") or candidate.exists():
                    extra[key] = str(candidate.resolve())
    out = loaded.recipe.output
    if out.path and not Path(out.path).expanduser().is_absolute():
        out.path = str((loaded.base_dir / out.path).resolve())


# ---------------------------------------------------------------- checking


def check_recipe(loaded: LoadedRecipe, host) -> None:
    """Check everything that can be checked without doing work; raise RecipeError.

    Components must exist and accept their parameters; ``requires`` must be
    installed and loaded; every safety filter named must be loaded (fail closed);
    train stages must name a data set of a format the trainer accepts.
    """
    from .plugins import UnknownComponent

    r = loaded.recipe
    errors: list[tuple[str, str]] = []

    errors += _check_requires(r.requires, host)

    def component(kind: str, name: str, params: dict, where: str, name_key: str):
        try:
            info = host.resolve(kind, name)
        except UnknownComponent as exc:
            errors.append((f"{where}.{name_key}", exc.message))
            return None
        try:
            info.cls.validate_params(params)
        except ParamError as exc:
            label = f"{info.kind.replace('_', ' ')} '{info.name}'"
            for key, msg in exc.errors:
                errors.append((f"{where}.{key}" if key else where, f"{msg} (parameter of {label})"))
        return info

    component("model", r.model.loader, r.model.params(), "model", "loader")

    data_formats: dict[str, str | None] = {}
    seen: set[str] = set()
    for i, d in enumerate(r.data):
        where = f"data[{i}]"
        if d.name in seen:
            errors.append((f"{where}.name", f"data set name '{d.name}' is used twice"))
        seen.add(d.name)
        info = component("data_source", d.source, d.params(), where, "source")
        data_formats[d.name] = _source_format(info, d.params()) if info else None
        path = d.params().get("path")
        if d.source != "hf" and isinstance(path, str) and not Path(path).exists():
            errors.append((f"{where}.path", f"data file not found: {path}"))
        for j, f in enumerate(d.filters):
            component("safety_filter", f.filter, f.params(), f"{where}.filters[{j}]", "filter")

    for i, t in enumerate(r.train):
        where = f"train[{i}]"
        info = component("trainer", t.trainer, t.params(), where, "trainer")
        if t.data not in data_formats:
            known = ", ".join(data_formats) or "none"
            errors.append((f"{where}.data", f"no [[data]] named '{t.data}' (defined: {known})"))
        elif info and info.cls.formats and data_formats[t.data] and data_formats[t.data] not in info.cls.formats:
            errors.append((f"{where}.data", f"trainer '{info.name}' takes {', '.join(info.cls.formats)} data; "
                                            f"'{t.data}' is {data_formats[t.data]}"))

    for i, e in enumerate(r.evaluate):
        where = f"evaluate[{i}]"
        component("evaluator", e.evaluator, e.params(), where, "evaluator")
        for j, f in enumerate(e.filters):
            component("safety_filter", f.filter, f.params(), f"{where}.filters[{j}]", "filter")

    for i, rep in enumerate(r.report):
        component("reporter", rep.reporter, rep.params(), f"report[{i}]", "reporter")

    if r.train and not r.evaluate:
        errors.append(("evaluate", "a recipe that trains needs at least one [[evaluate]] to compare before/after"))
    if errors:
        raise RecipeError(loaded.source, errors)


def _source_format(info, params: dict) -> str | None:
    try:
        fmt = info.cls(**params).data_format()
    except Exception:  # noqa: BLE001 - the parameter check reports the cause
        return None
    return fmt if fmt in DATA_FORMATS else None


def _check_requires(requires: list[str], host) -> list[tuple[str, str]]:
    errors = []
    for i, spec in enumerate(requires):
        where = f"requires[{i}]"
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            errors.append((where, f"not a valid requirement '{spec}': {exc}"))
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            errors.append((where, f"required plugin package '{req.name}' is not installed; "
                                  f"run: harness plugins install '{spec}'"))
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            errors.append((where, f"'{req.name}' {version} is installed but the recipe requires '{spec}'; "
                                  f"run: harness plugins install '{spec}'"))
            continue
        norm = req.name.lower().replace("_", "-")
        plugins = [p for p in host.plugins.values()
                   if (p.distribution or "").lower().replace("_", "-") == norm]
        if not plugins:
            errors.append((where, f"'{req.name}' is installed but registers no harness plugin"))
        for p in plugins:
            if p.status != "loaded":
                errors.append((where, f"required plugin '{p.name}' from '{req.name}' is {p.status}"
                                      + (f": {p.error}" if p.error else "")
                                      + (f"; fix: {p.fix}" if p.fix else "")))
    return errors
