"""The kinds of component, in one table: the interface each implements, the hook that registers
it, and what people call it. The plugin host, the recipe checks, ``harness plugins`` and the
scaffold all read this table; a new kind is one row here and one hook spec."""

from __future__ import annotations

from dataclasses import dataclass

from .component import Component
from .components import (
    DataSource,
    Evaluator,
    ModelLoader,
    Reporter,
    RewardFunction,
    SafetyFilter,
    SafetySuite,
    Trainer,
)
from .formats import DataFormat


@dataclass(frozen=True)
class Kind:
    name: str                    #: what the host, the recipe and the record call it: ``"safety_filter"``
    interface: type[Component]   #: the class a registered component must subclass
    hook: str                    #: the registration hook: ``"register_safety_filters"``
    label: str                   #: for people: ``"safety filter"``


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("model", ModelLoader, "register_models", "model loader"),
    Kind("data_source", DataSource, "register_data_sources", "data source"),
    Kind("trainer", Trainer, "register_trainers", "trainer"),
    Kind("safety_filter", SafetyFilter, "register_safety_filters", "safety filter"),
    Kind("evaluator", Evaluator, "register_evaluators", "evaluator"),
    Kind("reporter", Reporter, "register_reporters", "reporter"),
    Kind("safety_suite", SafetySuite, "register_safety_suites", "safety suite"),
    Kind("data_format", DataFormat, "register_data_formats", "data format"),
    Kind("reward_function", RewardFunction, "register_reward_functions", "reward function"),
)}

#: ``{kind: interface}``: the public view of the table (``harness.COMPONENT_KINDS``)
COMPONENT_KINDS: dict[str, type[Component]] = {name: kind.interface for name, kind in KINDS.items()}
#: ``{registration hook: kind}``
REGISTER_HOOKS: dict[str, str] = {kind.hook: name for name, kind in KINDS.items()}
