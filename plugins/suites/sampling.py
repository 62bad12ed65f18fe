"""Seeded subsamples that keep the file's order, so a ``limit`` picks the same
items on every machine and the items read in their original order."""

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
