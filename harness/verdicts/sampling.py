"""Seeded subsamples and fixed dev/test splits: shared by every plugin that draws items.

Subsamples keep the file's order, so a ``limit`` picks the same items on every machine and the
items read in their original order. Splits send every item of a suite to ``dev`` or ``test``
once and for all (see :func:`assign_splits`). Standard library only.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Callable, Sequence


def subsample(items: Sequence[Any], limit: int | None, seed: int,
              stratify: Callable[[Any], Any] | None = None) -> list[Any]:
    """``limit`` items drawn with ``random.Random(seed)``, in original order.

    With ``stratify`` (a key function, e.g. the safe/unsafe label) each group
    gets its proportional share (largest remainder, at least one item per group
    when ``limit`` allows), so a small limit on a mixed suite still has both kinds.
    """
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    rng = random.Random(seed)
    if stratify is None:
        return [items[i] for i in sorted(rng.sample(range(len(items)), limit))]
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[stratify(item)].append(i)
    keys = sorted(groups, key=str)
    exact = {k: limit * len(groups[k]) / len(items) for k in keys}
    quota = {k: int(exact[k]) for k in keys}
    if limit >= len(keys):
        for k in keys:
            quota[k] = max(quota[k], 1)
    # Hand out what is left by largest remainder; take back from the largest groups if over.
    for k in sorted(keys, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(quota.values()) >= limit:
            break
        quota[k] += 1
    while sum(quota.values()) > limit:
        k = max(keys, key=lambda k: quota[k])
        quota[k] -= 1
    chosen: list[int] = []
    for k in keys:
        chosen += rng.sample(groups[k], min(quota[k], len(groups[k])))
    return [items[i] for i in sorted(chosen)]


SPLITS = ("dev", "test")
#: Share of each stratum that goes to dev (rounded down: test is never the smaller half).
DEV_FRACTION = 0.5
#: Bump only together with every suite's version: it moves items between splits.
SPLIT_SALT = "split-v1"


def stratum(item: dict[str, Any]) -> str:
    return f"{item.get('label')}|{item.get('category') or ''}"


def assign_splits(suite: str, items: list[dict[str, Any]]) -> dict[str, str]:
    """``group -> "dev" | "test"`` for every group (an item's ``pair``, else its ``id``).

    Within each stratum (label and category) the groups are shuffled by a generator seeded
    with the suite's name and the stratum, and the first half (rounded down) is ``dev``. The
    split does not depend on ``limit``, the run seed or the machine, and a group keeps its
    split when other strata change; items that share a ``pair`` land in the same split; an
    item that carries ``split`` keeps it.
    """
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
