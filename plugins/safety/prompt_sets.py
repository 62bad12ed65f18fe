"""Loading a registered safety suite for evaluation: checked items, the split, a seeded subsample.

Suites are components (``register_safety_suites``, e.g. the ``suites`` plugin's bundled ones);
this module finds them through the plugin host, so a plugin adds a suite without the core or
this plugin knowing it. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import harness


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
        self.content_hash = harness.items_hash({k: v for k, v in it.items() if k != "split"} for it in self.items)

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
    return suite, harness.with_splits(suite.name, _check_items(suite.name, list(suite.items())))


def split_items(name: str, split: str, host=None) -> tuple[harness.SafetySuite, list[dict[str, Any]]]:
    """The suite and its items in ``split``. A suite with a ``dev_suite`` (XSTest, whose safe
    prompts are all test items) takes that suite's items as dev items too, marked with
    ``source_suite``; ``all`` stays the suite's own items, so its number is the published one."""
    if split not in ("all",) + harness.SPLITS:
        raise ValueError(f"split must be 'all', 'dev' or 'test', got {split!r}")
    suite, items = suite_items(name, host)
    if split == "all":
        return suite, items
    items = [it for it in items if it["split"] == split]
    stand_in = getattr(suite, "dev_suite", None)
    if split == "dev" and stand_in:
        _, extra = suite_items(stand_in, host)
        items = _check_items(name, items + [{**it, "split": "dev", "source_suite": stand_in}
                                            for it in extra if it["split"] == "dev"])
    return suite, items


def empty_split_message(name: str, split: str, host=None) -> str:
    """Why suite ``name`` cannot run on ``split`` (no items there), or ``""``."""
    if split == "all" or split_items(name, split, host)[1]:
        return ""
    others = [s for s in ("all",) + harness.SPLITS if s != split and split_items(name, s, host)[1]]
    return (f"safety suite {name!r} has no items in split {split!r}; it has items in "
            f"{' and '.join(repr(s) for s in others)}: use one of those, or another suite for {split}")


def load_prompt_set(name: str, limit: int | None = None, seed: int = 0, split: str = "all",
                    host=None) -> PromptSet:
    """Items of suite ``name`` in ``split`` (``dev``, ``test`` or ``all``, see :func:`split_items`);
    ``limit`` then draws a seeded subsample stratified by label. Paired items (plain + attacked)
    count as one and stay together."""
    suite, items = split_items(name, split, host)
    groups: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        groups.setdefault(str(it.get("pair") or it["id"]), []).append(it)
    chosen = harness.subsample(list(groups.values()), limit, seed, stratify=lambda g: g[0]["label"])
    used = [it for g in chosen for it in g]
    return PromptSet(suite.name, suite.version, used, len(groups), suite.license, suite.source, split,
                     bool(getattr(suite, "per_category", True)))
