"""The recipe: one TOML file describes a run. Validated before any work starts.

Every error names the file, the key path and what was expected, e.g.::

    recipes/x.toml: train[0].learning_rat: unknown key for trainer 'sft'; did you mean 'learning_rate'?

Component tables (``[model]``, ``[[data]]``, ``[[train]]``, ``[[evaluate]]``,
``[[report]]``) have a few keys the harness owns; every other key is a
parameter of the named component and is validated by that component.
"""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..contract.component import ParamError, pydantic_errors
from ..errors import RecipeError
from ..resources import PACKAGE_PREFIX, resolve_package_path
from ..verdicts.gates import GatePolicy, GateSpec, split_gate_policy
from ..verdicts.selection import SelectSpec


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
    if not isinstance(value, (list, tuple)):
        return value or []  # not a list (`filters = 1`): pydantic's own "should be a valid list" error
    return [FilterRef(filter=x) if isinstance(x, str) else x for x in value]


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
    #: save and evaluate (on dev) a checkpoint every N optimizer steps and at the end (docs/selection.md)
    evaluate_every: int | None = Field(None, ge=1)


class EvaluateSection(_Component):
    evaluator: str
    name: str | None = None
    filters: FilterList = Field(default_factory=list)
    cache: bool = True


class ReportSection(_Component):
    reporter: str
    #: a required reporter that fails fails the run (exit 2); otherwise its failure is a warning
    required: bool = False


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


class PowerCheck(_Strict):
    """The ``[gates]`` keys of the power check before the run (:mod:`harness.verdicts.power`)."""

    #: the share of paired items assumed to change (half up, half down) when sizing change gates
    flip_rate: float = Field(0.1, gt=0, le=1)
    #: true: a gate its items cannot decide is a warning, not an error (say why in a comment)
    allow_undecidable: bool = False


#: ``[gates]`` keys that belong to the power check, not to a metric or the gate policy
POWER_KEYS = tuple(PowerCheck.model_fields)


def _split_power_keys(data: Any) -> Any:
    """A recipe mapping with the power-check keys of ``[gates]`` moved to ``power_check``."""
    if not isinstance(data, dict) or not isinstance(data.get("gates"), dict):
        return data
    gates = data["gates"]
    keys = {k: v for k, v in gates.items() if k in POWER_KEYS}
    if not keys:
        return data
    return {**data, "gates": {k: v for k, v in gates.items() if k not in POWER_KEYS},
            "power_check": {**(data.get("power_check") or {}), **keys}}


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
    #: the power check's keys of ``[gates]`` (flip_rate, allow_undecidable)
    power_check: PowerCheck = Field(default_factory=lambda: PowerCheck.model_validate({}))
    report: list[ReportSection] = Field(default_factory=list)
    baseline: BaselineSection | None = None
    output: OutputSection = Field(default_factory=OutputSection)
    #: which checkpoint of an ``evaluate_every`` stage becomes its output (docs/selection.md)
    select: SelectSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _gate_policy_keys(cls, data: Any) -> Any:
        return split_gate_policy(_split_power_keys(data))


@dataclass
class LoadedRecipe:
    recipe: Recipe
    path: Path | None
    text: str
    #: ``--set KEY=VALUE`` overrides applied to ``text`` before validation (the record keeps both)
    overrides: list[str] = field(default_factory=list)
    #: the power check's findings (:class:`harness.verdicts.power.PowerReport`), set by :func:`check_recipe`
    power: Any = None

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
    ``overrides`` are ``--set KEY=VALUE`` expressions (see :mod:`harness.run.overrides`)."""
    path = Path(path)
    if not path.is_file():
        from .bundled_recipes import find_bundled

        bundled = find_bundled(str(path))
        if bundled is None:
            raise RecipeError(str(path), [("", "recipe file not found, and not the name of a bundled recipe "
                                               "(`harness recipes` lists them)")])
        path = bundled
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is accepted
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise RecipeError(str(path), [("", f"line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 text; "
                                           "save the recipe as UTF-8")]) from None
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
        if parts[:1] in (["gating"], ["power_check"]):  # these keys are written in [gates]
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
    out = loaded.recipe.output
    if out.path and not Path(out.path).expanduser().is_absolute():
        out.path = str((loaded.base_dir / out.path).resolve())


# ---------------------------------------------------------------- checking


def check_recipe(loaded: LoadedRecipe, host, *, power: bool = True) -> None:
    """Check everything that can be checked without doing work; raise RecipeError.

    Components must exist and accept their parameters; ``requires`` must be
    installed and loaded; every safety filter named must be loaded (fail closed);
    train stages must name a data set of a format the trainer accepts. With ``power``,
    every gate must be decidable on the items its evaluator will score (the findings,
    warnings included, are left in ``loaded.power``).
    """
    from ..contract.plugins import UnknownComponent

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
        n_errors = len(errors)
        info = component("data_source", d.source, d.params(), where, "source")
        for key, path in (info.cls.local_paths(d.params()) if info else {}).items():
            if not Path(path).exists():
                errors.append((f"{where}.{key}", f"data file not found: {path}"))
        data_formats[d.name] = None
        if info and len(errors) == n_errors:
            fmt, problems = _checked_source(info, d.params(), host)
            data_formats[d.name] = fmt
            errors += [(f"{where}.{key}" if key else where, msg) for key, msg in problems]
        for j, f in enumerate(d.filters):
            component("safety_filter", f.filter, f.params(), f"{where}.filters[{j}]", "filter")

    for i, t in enumerate(r.train):
        where = f"train[{i}]"
        errors += _check_max_steps(t.params(), where)
        info = component("trainer", t.trainer, t.params(), where, "trainer")
        if t.data not in data_formats:
            known = ", ".join(data_formats) or "none"
            errors.append((f"{where}.data", f"no [[data]] named '{t.data}' (defined: {known})"))
        elif info and info.cls.formats and (fmt := data_formats[t.data]) and fmt not in info.cls.formats:
            errors.append((f"{where}.data", _format_mismatch(info, t.data, fmt, host)))
        if info:
            errors += _check_rewards(t, info, where, component)

    declared: dict[str, str] = {}
    undeclared = False  # an evaluator that knows its metric names only after running
    evaluators = []  # (where, component info, params) of the tables whose parameters are valid
    for i, e in enumerate(r.evaluate):
        where = f"evaluate[{i}]"
        n_errors = len(errors)
        info = component("evaluator", e.evaluator, e.params(), where, "evaluator")
        metrics = info.cls.declared_metrics(e.params()) if info and len(errors) == n_errors else None
        if info and len(errors) == n_errors:
            evaluators.append((where, info, e.params()))
        if metrics is None:
            undeclared = True
        else:
            declared.update(metrics)
        for j, f in enumerate(e.filters):
            component("safety_filter", f.filter, f.params(), f"{where}.filters[{j}]", "filter")
    if r.evaluate and not any(p.startswith("evaluate") for p, _ in errors):
        gate_errors = _check_gate_metrics(list(r.gates), declared, undeclared)
        errors += gate_errors
        if power and r.gates and not gate_errors:
            loaded.power = power_report(r, evaluators)
            errors += power_errors(loaded.power, r.power_check.allow_undecidable)
    errors += _check_selection(r, host, declared, undeclared)

    for i, rep in enumerate(r.report):
        component("reporter", rep.reporter, rep.params(), f"report[{i}]", "reporter")

    if r.train and not r.evaluate:
        errors.append(("evaluate", "a recipe that trains needs at least one [[evaluate]] to compare before/after"))
    if errors:
        raise RecipeError(loaded.source, errors)


def load_checked(path: str | Path, host, overrides: list[str] | tuple[str, ...] = (), *,
                 before_check: Callable[[LoadedRecipe], None] | None = None) -> LoadedRecipe:
    """:func:`load_recipe` then :func:`check_recipe`, reporting every error of the file in one pass:
    when the schema is wrong, the component errors of the tables the schema accepted come too.
    ``before_check`` may complete the recipe first (the CLI gives a ``run`` loader its store)."""
    try:
        loaded = load_recipe(path, overrides)
    except RecipeError as exc:
        if overrides:  # the file alone is not what was asked for: its other errors could mislead
            raise
        raise RecipeError(exc.source, exc.errors + _errors_beside_schema(Path(path), exc.errors, host)) from None
    if before_check is not None:
        before_check(loaded)
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


def declared_items(evaluators, *, unlimited: bool = False) -> tuple[dict[str, int], dict[str, str]]:
    """``{metric_or_suite: n}`` merged over the evaluator tables (``Evaluator.declared_items``), and
    which table each count came from. ``unlimited``: the counts without ``limit`` / ``sample``
    (what the split could give). An evaluator that raises counts as unknown: sizing never fails a recipe."""
    items: dict[str, int] = {}
    where: dict[str, str] = {}
    for table, info, params in evaluators:
        if unlimited:
            params = {k: v for k, v in params.items() if k not in ("limit", "sample")}
        try:
            found = info.cls.declared_items(params)
        except Exception:  # noqa: BLE001 - counting is advisory: an evaluator that cannot count is "unknown n"
            found = None
        for key, n in (found or {}).items():
            if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
                items[key], where[key] = n, table
    return items, where


def power_report(r: Recipe, evaluators, flip_rate: float | None = None):
    """:func:`harness.verdicts.power.size_gates` for the recipe's gates on its evaluators' items."""
    from ..verdicts.power import size_gates

    items, where = declared_items(evaluators)
    available, _ = declared_items(evaluators, unlimited=True)
    return size_gates(r.gates, r.gating, items, available=available, where=where,
                      flip_rate=r.power_check.flip_rate if flip_rate is None else flip_rate)


def power_errors(report, allow_undecidable: bool) -> list[tuple[str, str]]:
    """An undecidable gate is an error, unless ``[gates] allow_undecidable = true``."""
    if allow_undecidable:
        return []
    return [(f'gates."{g.metric}"', f"{g.message} (power check; fix: more items, a bound they can decide, or "
                                    f"[gates] allow_undecidable = true with a comment saying why)")
            for g in report.undecidable]


def power_warnings(report, allow_undecidable: bool) -> list[str]:
    """The lines ``harness validate`` / ``run`` print before starting: underpowered gates, and
    undecidable ones a recipe allows."""
    if report is None:
        return []
    out = [f'gates."{g.metric}" {g.rule}: {g.message}' for g in report.underpowered]
    if allow_undecidable:
        out += [f'gates."{g.metric}" {g.rule}: {g.message} (allowed: [gates] allow_undecidable = true)'
                for g in report.undecidable]
    return out


def _check_selection(r: Recipe, host, declared: dict[str, str], undeclared: bool) -> list[tuple[str, str]]:
    """``evaluate_every`` and ``[select]``: checkpoints need a trainer that snapshots and
    evaluators that can be asked for dev items; the verdict must then be on test only."""
    from ..contract.plugins import UnknownComponent

    errors: list[tuple[str, str]] = []
    every = [(i, t) for i, t in enumerate(r.train) if t.evaluate_every]
    for i, t in every:
        where = f"train[{i}].evaluate_every"
        try:
            info = host.resolve("trainer", t.trainer)
        except UnknownComponent:
            continue  # reported at train[i].trainer
        if not info.cls.snapshots:
            errors.append((where, f"trainer '{info.name}' cannot hand over checkpoints during training "
                                  f"(it does not set Trainer.snapshots; the bundled TRL trainers do)"))
        steps = t.params().get("max_steps")
        if isinstance(steps, int) and steps > 0 and t.evaluate_every and t.evaluate_every >= steps:
            errors.append((where, f"{t.evaluate_every} is not below max_steps = {steps}: only the final "
                                  f"checkpoint would be evaluated; choose N < {steps}"))
    if every:
        for j, e in enumerate(r.evaluate):
            try:
                info = host.resolve("evaluator", e.evaluator)
                info.cls.validate_params({**e.params(), "split": "dev"})
            except UnknownComponent:
                continue
            except ParamError:
                errors.append((f"evaluate[{j}]", f"evaluator '{info.name}' takes no split = \"dev\": checkpoints "
                                                 f"(train[{every[0][0]}].evaluate_every) are evaluated on the dev "
                                                 f"items of every [[evaluate]] table; remove this table or "
                                                 f"evaluate_every"))
    if r.select is None:
        return errors
    if not every:
        errors.append(("select", "[select] chooses among checkpoints: give a [[train]] stage evaluate_every = N"))
    if r.select.rule == "gates" and not r.gates:
        errors.append(("select.rule", 'rule = "gates" needs a [gates] table; or use rule = "metric" with metric = ...'))
    for j, e in enumerate(r.evaluate):
        if every and e.params().get("split") != "test":
            errors.append((f"evaluate[{j}].split", f"is {e.params().get('split', 'all')!r}: with [select] the "
                                                   f"checkpoints are chosen on dev items, so the verdict must not "
                                                   f"see them; set split = \"test\""))
    if r.select.metric and r.evaluate:  # the gates' own check: no evaluator reports it (did you mean ...)
        errors += [("select.metric", msg) for _, msg in _check_gate_metrics([r.select.metric], declared, undeclared)]
    return errors


def _check_max_steps(params: dict, where: str) -> list[tuple[str, str]]:
    """TRL trains ``num_train_epochs`` when ``max_steps`` is -1 (its default); 0 or below -1 is a typo."""
    steps = params.get("max_steps")
    if isinstance(steps, int) and not isinstance(steps, bool) and (steps == 0 or steps < -1):
        return [(f"{where}.max_steps", f"must be a positive number of optimizer steps, or -1 to train "
                                       f"num_train_epochs (got {steps})")]
    return []


def _check_gate_metrics(gates: list[str], declared: dict[str, str], undeclared: bool) -> list[tuple[str, str]]:
    """A gate on a metric no configured evaluator reports would only fail after the whole run.

    When some evaluator cannot say its metric names in advance, only gates on the suites of
    evaluators that can are checked.
    """
    import difflib

    suites = {key.split("/", 1)[0] for key in declared}
    errors = []
    for metric in gates:
        if metric in declared or (undeclared and metric.split("/", 1)[0] not in suites):
            continue
        known = sorted(declared)
        close = difflib.get_close_matches(metric, known, n=3, cutoff=0.5)
        errors.append((f'gates."{metric}"', f"no configured evaluator reports '{metric}'"
                       + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
                       + (f" The [[evaluate]] tables report: {', '.join(known)}" if known else "")))
    return errors


def _checked_source(info, params: dict, host) -> tuple[str | None, list[tuple[str, str]]]:
    """The source's data format (a registered one), after its own cheap check of the data
    (file, line, column)."""
    from ..contract.plugins import UnknownComponent

    try:
        source = info.cls(**params)
        source.check()
        fmt = source.data_format()
    except ParamError as exc:
        return None, list(exc.errors)
    except Exception as exc:  # noqa: BLE001 - a plugin's check failed in an unexpected way: say so, do not hide it
        return None, [("", f"data source '{info.name}' could not check its data: {type(exc).__name__}: {exc}")]
    try:
        host.resolve("data_format", fmt)
    except UnknownComponent as exc:
        return None, [("source", f"data source '{info.name}' declares format '{fmt}': {exc.message}")]
    return fmt, []


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
                                  f"run: harness plugins install {shlex.quote(spec)}"))
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            errors.append((where, f"'{req.name}' {version} is installed but the recipe requires '{spec}'; "
                                  f"run: harness plugins install {shlex.quote(spec)}"))
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
