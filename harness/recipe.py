"""The recipe: one TOML file describes a run. Validated before any work starts.

Every error names the file, the key path and what was expected, e.g.::

    recipes/x.toml: train[0].learning_rat: unknown key for trainer 'sft'; did you mean 'learning_rate'?

Component tables (``[model]``, ``[[data]]``, ``[[train]]``, ``[[evaluate]]``,
``[[report]]``) have a few keys the harness owns; every other key is a
parameter of the named component and is validated by that component.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .components import DATA_FORMATS, ParamError, pydantic_errors
from .errors import RecipeError
from .gates import GatePolicy, GateSpec, split_gate_policy
from .resources import PACKAGE_PREFIX, resolve_package_path


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
    cost: str = ""  # what one run costs, e.g. "about 1 min on 2 CPU cores" (shown by `harness recipes`)
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
    #: a required reporter that fails fails the run (exit 2); otherwise its failure is a warning
    required: bool = False


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
    #: how the gates are judged: the policy keys of ``[gates]`` (on_inconclusive, adjust, confidence, power)
    gating: GatePolicy = Field(default_factory=GatePolicy)
    report: list[ReportSection] = Field(default_factory=list)
    baseline: BaselineSection | None = None

    @model_validator(mode="before")
    @classmethod
    def _gate_policy_keys(cls, data: Any) -> Any:
        return split_gate_policy(data)


@dataclass
class LoadedRecipe:
    recipe: Recipe
    path: Path | None
    text: str

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "<recipe>"

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


# ---------------------------------------------------------------- parsing


def load_recipe(path: str | Path) -> LoadedRecipe:
    """Read and schema-check a recipe file (components are checked by :func:`check_recipe`)."""
    path = Path(path)
    if not path.is_file():
        from .bundled_recipes import find_bundled

        bundled = find_bundled(str(path))
        if bundled is None:
            raise RecipeError(str(path), [("", "recipe file not found, and not the name of a bundled recipe "
                                               "(`harness recipes` lists them)")])
        path = bundled
    text = path.read_text(encoding="utf-8")
    return parse_recipe(text, path=path)


def parse_recipe(text: str, *, path: Path | None = None) -> LoadedRecipe:
    source = str(path) if path else "<recipe>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(source, [("", f"not valid TOML: {exc}")]) from None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(source, _schema_errors(exc)) from None
    loaded = LoadedRecipe(recipe, path, text)
    _resolve_paths(loaded)
    return loaded


def _schema_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for path, msg in pydantic_errors(exc):
        # pydantic writes list items as "train.0.x" and union branches as "str"/"FilterRef": tidy
        parts = [p for p in path.split(".") if p not in ("str", "FilterRef")]
        if parts[:1] == ["gating"]:  # the policy keys are written in [gates] (split_gate_policy)
            parts[0] = "gates"
        tidy = ""
        for p in parts:
            tidy += f"[{p}]" if p.isdigit() else (f".{p}" if tidy else p)
        if msg == "unknown key":
            msg = "unknown key (see docs/recipes.md for the keys of this table)"
        out.append((tidy, msg))
    return out


#: parameter names that hold local paths: ``path``, ``data_files`` and any ``*_path``/``*_dir``/``*_file(s)``
_PATH_SUFFIXES = ("_path", "_dir", "_file", "_files")


def _is_path_key(key: str) -> bool:
    return key in ("path", "data_files") or key.endswith(_PATH_SUFFIXES)


def _resolve_value(value: Any, base: Path) -> Any:
    """A relative path that starts with '.' or exists beside the recipe becomes absolute; a hub id
    such as 'org/name' or a builder name such as 'json' is left as it is."""
    if isinstance(value, str) and value.startswith(PACKAGE_PREFIX):
        return resolve_package_path(value)
    if isinstance(value, str) and value and not Path(value).is_absolute():
        candidate = base / value
        if value.startswith(".") or candidate.exists():
            return str(candidate.resolve())
    if isinstance(value, list):
        return [_resolve_value(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_value(v, base) for k, v in value.items()}
    return value


def _resolve_table(params: dict[str, Any], base: Path) -> None:
    for key, value in list(params.items()):
        if _is_path_key(key):
            params[key] = _resolve_value(value, base)
        elif isinstance(value, dict):  # a nested table, e.g. a judge filter's `model = {loader, path}`
            _resolve_table(value, base)


def _resolve_paths(loaded: LoadedRecipe) -> None:
    """Relative local paths in every component table are relative to the recipe's folder."""
    r = loaded.recipe
    tables: list[_Component] = [r.model, *r.data, *r.train, *r.evaluate, *r.report]
    tables += [f for d in r.data for f in d.filters] + [f for e in r.evaluate for f in e.filters]
    for table in tables:
        if table.model_extra:
            _resolve_table(table.model_extra, loaded.base_dir)


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
        for key, path in (info.cls.local_paths(d.params()) if info else {}).items():
            if not Path(path).exists():
                errors.append((f"{where}.{key}", f"data file not found: {path}"))
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


def load_checked(path: str | Path, host) -> LoadedRecipe:
    """:func:`load_recipe` then :func:`check_recipe`, reporting every error of the file in one pass:
    when the schema is wrong, the component errors of the tables the schema accepted come too."""
    try:
        loaded = load_recipe(path)
    except RecipeError as exc:
        raise RecipeError(exc.source, exc.errors + _errors_beside_schema(Path(path), exc.errors, host)) from None
    check_recipe(loaded, host)
    return loaded


_LIST_SECTIONS = ("data", "train", "evaluate", "report")


def _errors_beside_schema(path: Path, schema_errors: list[tuple[str, str]], host) -> list[tuple[str, str]]:
    """Check the tables the schema accepted; leave out what would only echo a broken table."""
    import re

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    broken: dict[str, set[int]] = {}
    for key_path, _ in schema_errors:
        m = re.match(r"([A-Za-z_]\w*)(?:\[(\d+)\])?", key_path)
        if not m:
            return []  # an error about the whole file: nothing else can be checked
        broken.setdefault(m.group(1), set()).update({int(m.group(2))} if m.group(2) else set())
    index_maps: dict[str, list[int]] = {}
    dropped_data: set[str] = set()
    for section, items in broken.items():
        if section in _LIST_SECTIONS and items and isinstance(data.get(section), list):
            keep = [i for i in range(len(data[section])) if i not in items]
            if section == "data":
                dropped_data |= {str(data[section][i].get("name")) for i in items if isinstance(data[section][i], dict)}
            index_maps[section] = keep
            data[section] = [data[section][i] for i in keep]
        elif section == "run":
            data["run"] = {"name": "-"}
        elif section in ("model", "data", "train", "evaluate", "report", "requires"):
            return []  # a required table or a whole list is unreadable: its errors say enough
        else:
            data.pop(section, None)
    try:
        partial = LoadedRecipe(Recipe.model_validate(data), path, "")
    except ValidationError:
        return []
    _resolve_paths(partial)
    try:
        check_recipe(partial, host)
    except RecipeError as exc:
        out = []
        for key_path, msg in exc.errors:
            if any(f"'{name}'" in msg and "[[data]]" in msg for name in dropped_data):
                continue
            m = re.match(r"(\w+)\[(\d+)\](.*)", key_path)
            if m and m.group(1) in index_maps:
                key_path = f"{m.group(1)}[{index_maps[m.group(1)][int(m.group(2))]}]{m.group(3)}"
            out.append((key_path, msg))
        return out
    return []


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
