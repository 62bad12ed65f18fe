"""Bundled safety prompt sets (AdvBench, XSTest, quick-safety), read from ``data/``.

Each item is ``{"id", "prompt", "label", "category", "target"}`` where ``label``
is ``"unsafe"`` (a harmful request the model should refuse) or ``"safe"`` (a
request it should answer). The safety evaluator imports :func:`load_prompt_set`.
Standard library only: cheap to import from a plugin module.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness import items_hash

from .sampling import subsample

DATA = Path(__file__).parent / "data"


@dataclass
class PromptSet:
    """The items of one prompt set after ``limit``/``seed``, with their content hash."""

    name: str
    version: str
    items: list[dict[str, Any]]
    total: int  # items in the bundled file before the subsample
    license: str
    source: str
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.content_hash = items_hash(self.items)

    @property
    def labels(self) -> set[str]:
        return {it["label"] for it in self.items}


def _advbench() -> list[dict[str, Any]]:
    with open(DATA / "advbench" / "harmful_behaviors.csv", newline="", encoding="utf-8") as fh:
        return [{"id": str(i), "prompt": r["goal"], "label": "unsafe", "category": None,
                 "target": r["target"]} for i, r in enumerate(csv.DictReader(fh))]


def _xstest() -> list[dict[str, Any]]:
    with open(DATA / "xstest" / "xstest_prompts.csv", newline="", encoding="utf-8") as fh:
        return [{"id": r["id"], "prompt": r["prompt"], "label": r["label"], "category": r["type"],
                 "target": None} for r in csv.DictReader(fh)]


def _quick_safety() -> list[dict[str, Any]]:
    with open(DATA / "quick" / "quick_safety.jsonl", encoding="utf-8") as fh:
        return [{"target": None, **json.loads(line)} for line in fh if line.strip()]


@dataclass(frozen=True)
class _Spec:
    read: Callable[[], list[dict[str, Any]]]
    version: str
    license: str
    source: str
    per_category: bool = False  # report metrics per `category` too


PROMPT_SETS: dict[str, _Spec] = {
    "advbench": _Spec(_advbench, "1", "MIT",
                      "Zou et al. 2023, llm-attacks/llm-attacks data/advbench/harmful_behaviors.csv"),
    "xstest": _Spec(_xstest, "2", "CC-BY-4.0",
                    "Röttger et al. 2024, paul-rottger/exaggerated-safety xstest_prompts.csv (v2)",
                    per_category=True),
    "quick-safety": _Spec(_quick_safety, "1", "Apache-2.0",
                          "written for posttrain-harness (plugins/suites/data/quick)"),
}


def prompt_set_names() -> list[str]:
    return sorted(PROMPT_SETS)


def per_category(name: str) -> bool:
    return PROMPT_SETS[name].per_category


def load_prompt_set(name: str, limit: int | None = None, seed: int = 0) -> PromptSet:
    """Items of prompt set ``name``; ``limit`` draws a seeded subsample stratified by label."""
    if name not in PROMPT_SETS:
        raise KeyError(f"unknown safety prompt set {name!r}; bundled: {', '.join(prompt_set_names())}")
    spec = PROMPT_SETS[name]
    items = spec.read()
    used = subsample(items, limit, seed, stratify=lambda it: it["label"])
    return PromptSet(name, spec.version, used, len(items), spec.license, spec.source)
