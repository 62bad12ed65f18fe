"""Chance-corrected agreement between raters: Cohen's kappa and Krippendorff's alpha (nominal).

Pure Python, used by the refusal benchmark (filter vs human labels) and the judge panel
(judges vs each other). A rater's missing value is ``None``.
"""

from __future__ import annotations

from collections import Counter
from itertools import permutations
from typing import Hashable, Optional, Sequence


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters over the same items (1 = perfect, 0 = chance)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"cohen_kappa: need two equally long, non-empty label lists (got {len(a)} and {len(b)})")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def krippendorff_alpha(ratings: Sequence[Sequence[Optional[Hashable]]]) -> float:
    """Krippendorff's alpha, nominal metric. ``ratings[r][i]`` is rater r's label of item i (None: missing).

    Items with fewer than two labels are left out (Krippendorff 2011, "Computing Krippendorff's
    Alpha-Reliability"). 1 = perfect agreement, 0 = chance; the value is nan when all labels agree
    on one category (no variation to explain)."""
    if not ratings or len({len(r) for r in ratings}) != 1:
        raise ValueError("krippendorff_alpha: need one equally long label list per rater")
    coincidence: Counter = Counter()
    for i in range(len(ratings[0])):
        values = [r[i] for r in ratings if r[i] is not None]
        m = len(values)
        if m < 2:
            continue
        for x, y in permutations(values, 2):
            coincidence[(x, y)] += 1 / (m - 1)
    n_c: Counter = Counter()
    for (x, _), w in coincidence.items():
        n_c[x] += w
    n = sum(n_c.values())
    if n <= 1:
        return float("nan")
    disagree_observed = sum(w for (x, y), w in coincidence.items() if x != y)
    disagree_expected = sum(n_c[x] * n_c[y] for x in n_c for y in n_c if x != y) / (n - 1)
    return float("nan") if disagree_expected == 0 else 1 - disagree_observed / disagree_expected
