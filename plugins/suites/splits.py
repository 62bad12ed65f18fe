"""Fixed dev/test splits of safety suites: choose on dev, give the verdict on test.

Every item of a suite goes to ``dev`` or ``test`` once and for all: within each
stratum (label and category), the items are shuffled by a generator seeded with
the suite's name and the stratum, and the first half (rounded down) is ``dev``.
The split does not depend on ``limit``, the run seed or the machine, and an item
keeps its split when other strata change. Items that share a ``pair`` (one
request, plain and attacked) always land in the same split. An item that
carries ``split`` keeps it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

SPLITS = ("dev", "test")
#: Share of each stratum that goes to dev (rounded down: test is never the smaller half).
DEV_FRACTION = 0.5
#: Bump only together with every suite's version: it moves items between splits.
SPLIT_SALT = "split-v1"


def stratum(item: dict[str, Any]) -> str:
    return f"{item.get('label')}|{item.get('category') or ''}"


def assign_splits(suite: str, items: list[dict[str, Any]]) -> dict[str, str]:
    """``group -> "dev" | "test"`` for every group (an item's ``pair``, else its ``id``)."""
    fixed: dict[str, str] = {}
    strata: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for it in items:
        group = str(it.get("pair") or it["id"])
        if it.get("split") is not None:
            if it["split"] not in SPLITS:
                raise ValueError(f"suite {suite!r}: item {it['id']!r} has split {it['split']!r}; "
                                 f"expected one of {', '.join(SPLITS)}")
            fixed[group] = it["split"]
        elif group not in seen:  # a pair is stratified by its first item (the plain request)
            seen.add(group)
            strata[stratum(it)].append(group)
    out = dict(fixed)
    for key in sorted(strata):
        groups = [g for g in strata[key] if g not in fixed]
        random.Random(f"{suite}:{SPLIT_SALT}:{key}").shuffle(groups)
        n_dev = int(len(groups) * DEV_FRACTION)
        out.update({g: "dev" for g in groups[:n_dev]})
        out.update({g: "test" for g in groups[n_dev:]})
    return out


def with_splits(suite: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items, each with its ``split`` filled in."""
    splits = assign_splits(suite, items)
    return [{**it, "split": splits[str(it.get("pair") or it["id"])]} for it in items]
