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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .components import ParamError, pydantic_errors
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


class RewardRef(_Component):
    """A reward function for an online-RL stage; extra keys are its parameters."""

    reward: str


def _as_reward_refs(value):
    return [RewardRef(reward=x) if isinstance(x, str) else x for x in (value or [])]


class TrainSection(_Component):
    trainer: str
    data: str
    name: str | None = None
    #: ``["gsm8k-exact", { reward = "length", max_chars = 200 }]`` for trainers that use rewards
    rewards: Annotated[list[RewardRef], BeforeValidator(_as_reward_refs)] = Field(default_factory=list)


class EvaluateSection(_Component):
    evaluator: str
    name: str | None = None
    filters: FilterList = Field(default_factory=list)
    cache: bool = True


class ReportSection(_Component):
    reporter: str


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
        raise RecipeError(str(path), [("", "recipe file not found")])
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
        data_formats[d.name] = _source_format(info, d.params(), host, errors, where) if info else None
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
            errors.append((f"{where}.data", _format_mismatch(info, t.data, data_formats[t.data], host)))
        if info:
            errors += _check_rewards(t, info, where, component)

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


def _source_format(info, params: dict, host, errors: list, where: str) -> str | None:
    from .plugins import UnknownComponent

    try:
        fmt = info.cls(**params).data_format()
    except Exception:  # noqa: BLE001 - the parameter check reports the cause
        return None
    try:
        host.resolve("data_format", fmt)
    except UnknownComponent as exc:
        errors.append((f"{where}.source", f"data source '{info.name}' declares format '{fmt}': {exc.message}"))
        return None
    return fmt


def _format_mismatch(trainer, data_name: str, fmt: str, host) -> str:
    """Which trainers would take this data, so the fix is in the message."""
    fits = sorted(c.name for c in host.available("trainer") if fmt in c.cls.formats)
    hint = f"; trainers that take {fmt} data: {', '.join(fits)}" if fits else ""
    return f"trainer '{trainer.name}' takes {', '.join(trainer.cls.formats)} data; '{data_name}' is {fmt}{hint}"


def _check_rewards(section, trainer, where: str, component) -> list[tuple[str, str]]:
    """Trainers that score their own generations need rewards; the others take none."""
    if not trainer.cls.uses_rewards:
        if section.rewards:
            return [(f"{where}.rewards", f"trainer '{trainer.name}' does not use reward functions; remove "
                                         f"`rewards` (online-RL trainers such as 'grpo' do)")]
        return []
    if not section.rewards:
        return [(f"{where}.rewards", f"trainer '{trainer.name}' needs reward functions: add e.g. "
                                     f"rewards = [\"gsm8k-exact\"] (see `harness plugins` for the loaded ones)")]
    errors: list[tuple[str, str]] = []
    for j, ref in enumerate(section.rewards):
        info = component("reward_function", ref.reward, ref.params(), f"{where}.rewards[{j}]", "reward")
        try:
            needed = info.cls(**ref.params()).filters_needed() if info else {}
        except Exception:  # noqa: BLE001 - the parameter check reports the cause
            needed = {}
        for slot, name in needed.items():  # fail closed: a reward's safety filter must be loaded
            component("safety_filter", name, {}, f"{where}.rewards[{j}]", f"{slot}_filter")
    weights = section.params().get("reward_weights")
    if isinstance(weights, list) and len(weights) != len(section.rewards):
        errors.append((f"{where}.reward_weights", f"{len(weights)} weights for {len(section.rewards)} rewards; "
                                                  f"give one weight per reward, in the same order"))
    return errors


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
