"""Power before the run: what each gate's items can decide, known from the recipe alone.

For a change gate ("drop <= m", "rise <= m") on ``n`` paired 0/1 items the run will judge
the paired change on Tango's score interval (:func:`harness.verdicts.stats.paired_proportion_interval`,
the interval the gates use). Two questions have answers before any model runs:

* **Can it pass at all?** With zero flips (an unchanged model) the interval is
  ``±z² / (n + z²)``; if that half-width exceeds ``m`` the gate is inconclusive whatever
  the training does: an *undecidable* gate (``harness validate`` rejects it).
* **Will it pass for a model that is unchanged on average but not item for item?**
  Real training flips items both ways. At an assumed flip rate ``f`` (``f·n/2`` items up,
  ``f·n/2`` down) the minimum detectable effect at the run's power
  (:func:`harness.verdicts.stats.minimum_detectable_effect`, with the score test's spread under
  the bound, as the gates compute it) must not exceed ``m``; otherwise an *underpowered* gate
  (a warning: it passes only when few items flip).

Value gates (``min`` / ``max``) are checked at their best case: even a perfect score on ``n``
items (Clopper-Pearson, the gates' interval) must clear the bound.

The confidence is each gate's own (its ``confidence``, else ``[gates] confidence``), unadjusted:
the level an all-must-pass verdict judges each gate at. Holm's step-down tests the first gate at
``α/m``, so under ``multiplicity = "holm"`` these counts are a necessary condition, not a sufficient one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, TypeVar

from .gates import RULES, GatePolicy, GateSpec

#: ``status`` of a :class:`GatePower`
STATUSES = ("ok", "underpowered", "undecidable", "unknown", "superiority")

_T = TypeVar("_T")


@dataclass
class GatePower:
    """One rule of one gate, sized before the run. Counts are items; widths in the rule's units."""

    metric: str
    rule: str
    threshold: float
    confidence: float
    n: int | None                      # items the gate's metric will be scored on (None: unknown n)
    available: int | None = None       # items the evaluator could give in this split without a limit
    flip_rate: float | None = None     # the assumed share of items that change (change rules)
    power: float | None = None
    half_width_zero: float | None = None   # change rules: interval half-width with zero flips at n
    half_width_flips: float | None = None  # ... with flip_rate·n items flipped, half each way
    mde: float | None = None           # change rules: minimum detectable effect at flip_rate and power
    n_zero: int | None = None          # items for the gate to pass with zero change (value: a perfect score)
    n_power: int | None = None         # items for the MDE at flip_rate to fit the bound
    status: str = "unknown"
    message: str = ""
    where: str = ""                    # the evaluator table the count came from, e.g. "evaluate[0]"

    @property
    def needed(self) -> int | None:
        """The larger of the two needs (what a decidable and powered gate takes)."""
        needs = [x for x in (self.n_zero, self.n_power) if x is not None]
        return max(needs) if needs else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "needed": self.needed}


@dataclass
class PowerReport:
    gates: list[GatePower] = field(default_factory=list)

    @property
    def undecidable(self) -> list[GatePower]:
        return [g for g in self.gates if g.status == "undecidable"]

    @property
    def underpowered(self) -> list[GatePower]:
        return [g for g in self.gates if g.status == "underpowered"]

    @property
    def unknown(self) -> list[GatePower]:
        return [g for g in self.gates if g.status == "unknown"]

    def to_dict(self) -> dict[str, Any]:
        return {"gates": [g.to_dict() for g in self.gates]}


# ------------------------------------------------------------------ the numbers


def _z(confidence: float) -> float:
    from .stats import _require

    return float(_require("scipy.stats").norm.ppf(1 - (1 - confidence) / 2))


def zero_change_half_width(n: int, confidence: float) -> float:
    """Half-width of the paired-change interval when no item flips (its upper end)."""
    from .stats import paired_proportion_interval

    return paired_proportion_interval(0, 0, n, confidence)[1]


def flips_half_width(n: int, confidence: float, flip_rate: float) -> float:
    """Half-width (the bad-side end) with ``flip_rate·n`` items flipped, half up and half down."""
    from .stats import paired_proportion_interval

    each = int(round(flip_rate * n / 2))
    low, high = paired_proportion_interval(each, each, n, confidence)
    return max(high, -low)


def n_for_zero_change(margin: float, confidence: float) -> int:
    """The fewest paired items on which an unchanged model (zero flips) passes ``change <= margin``.

    From ``z² / (n + z²) <= margin``, then checked against the interval itself so the count
    agrees with what the gate computes."""
    z2 = _z(confidence) ** 2
    n = max(1, math.ceil(z2 * (1 - margin) / margin))
    while zero_change_half_width(n, confidence) > margin:
        n += 1
    while n > 1 and zero_change_half_width(n - 1, confidence) <= margin:
        n -= 1
    return n


def _flip_sd(flip_rate: float, margin: float) -> float:
    """The score test's per-item spread of the change under the bound at a flip rate (independent of n);
    the larger of the two signs of the bound, since a drop may be a rise of the raw value."""
    from .stats import tango_sd

    n = 1_000_000  # the spread depends on flips / n only
    each = round(flip_rate * n / 2)
    return max(tango_sd(each, each, n, margin), tango_sd(each, each, n, -margin))


def mde_at(n: int, confidence: float, power: float, flip_rate: float, margin: float) -> float:
    from .stats import minimum_detectable_effect

    return minimum_detectable_effect(_flip_sd(flip_rate, margin), n, confidence, power)


def n_for_power(margin: float, confidence: float, power: float, flip_rate: float) -> int:
    """The fewest paired items whose MDE at ``flip_rate`` and ``power`` is at most ``margin``."""
    from .stats import _require

    norm = _require("scipy.stats").norm
    sd = _flip_sd(flip_rate, margin)
    n = max(1, math.ceil(((norm.ppf(1 - (1 - confidence) / 2) + norm.ppf(power)) * sd / margin) ** 2))
    while n > 1 and mde_at(n - 1, confidence, power, flip_rate, margin) <= margin:
        n -= 1
    while mde_at(n, confidence, power, flip_rate, margin) > margin:
        n += 1
    return n


def n_for_value(rule: str, threshold: float, confidence: float) -> int | None:
    """The fewest items on which a perfect score passes a ``min``/``max`` bound (Clopper-Pearson);
    None when no number of items does (``max <= 0``, ``min >= 1``)."""
    alpha_half = (1 - confidence) / 2
    if rule == "max":
        if threshold >= 1:
            return 1
        if threshold <= 0:
            return None
        n = math.ceil(math.log(alpha_half) / math.log(1 - threshold))
    else:
        if threshold <= 0:
            return 1
        if threshold >= 1:
            return None
        n = math.ceil(math.log(alpha_half) / math.log(threshold))
    from .stats import proportion_interval

    def passes(m: int) -> bool:
        low, high = proportion_interval(0 if rule == "max" else m, m, confidence)
        return high <= threshold if rule == "max" else low >= threshold

    n = max(1, n)
    while not passes(n):
        n += 1
    while n > 1 and passes(n - 1):
        n -= 1
    return n


# ------------------------------------------------------------------ per gate


def items_for(metric: str, items: Mapping[str, _T]) -> _T | None:
    """The item count of ``metric`` from an evaluator's ``declared_items`` (the metric's own
    key, else its suite's)."""
    if metric in items:
        return items[metric]
    return items.get(metric.split("/", 1)[0])


def size_gate(metric: str, rule: str, threshold: float, *, n: int | None, confidence: float,
              power: float, flip_rate: float, available: int | None = None, where: str = "") -> GatePower:
    """What ``n`` items can decide for one rule (see the module docstring)."""
    g = GatePower(metric, rule, threshold, confidence, n, available=available, where=where)
    pct = f"{confidence * 100:.4g}%"
    if rule in ("min", "max"):
        g.n_zero = n_for_value(rule, threshold, confidence)
        if g.n_zero is None:
            g.status = "undecidable"
            g.message = (f"{rule} {threshold:.4g} cannot be shown on any number of items: even a perfect score's "
                         f"{pct} interval reaches it")
        elif n is None:
            g.status = "unknown"
            g.message = "unknown n: the evaluator does not say how many items it scores (Evaluator.declared_items)"
        elif n < g.n_zero:
            g.status = "undecidable"
            best = "0" if rule == "max" else "1"
            g.message = (f"cannot pass on {n} items even with a perfect score ({metric} = {best}): its {pct} "
                         f"interval does not clear {rule} {threshold:.4g}; it needs at least {g.n_zero} items")
        else:
            g.status = "ok"
            g.message = f"{n} items: a perfect score passes from {g.n_zero} items"
        return g

    g.flip_rate, g.power = flip_rate, power
    if threshold <= 0 or rule == "min_gain":
        g.status = "superiority"
        g.message = (f"{rule} {threshold:.4g} demands a clear improvement: it never passes for an unchanged "
                     f"model, by design")
        return g
    g.n_zero = n_for_zero_change(threshold, confidence)
    g.n_power = n_for_power(threshold, confidence, power, flip_rate)
    if n is None:
        g.status = "unknown"
        g.message = ("unknown n: the evaluator does not say how many items it scores (Evaluator.declared_items); "
                     f"it needs {g.n_zero} paired items to pass unchanged, {g.n_power} for {power:.0%} power "
                     f"at flip rate {flip_rate:g}")
        return g
    g.half_width_zero = zero_change_half_width(n, confidence)
    g.half_width_flips = flips_half_width(n, confidence, flip_rate)
    g.mde = mde_at(n, confidence, power, flip_rate, threshold)
    if g.half_width_zero > threshold:
        g.status = "undecidable"
        g.message = (f"cannot pass on n = {n} paired items even if nothing changes: with zero flips the {pct} "
                     f"interval is ±{g.half_width_zero:.4f}, wider than {rule} {threshold:.4g}; it needs "
                     f"n >= {g.n_zero} (and {g.n_power} for {power:.0%} power at flip rate {flip_rate:g})")
    elif g.mde > threshold:
        g.status = "underpowered"
        g.message = (f"n = {n} paired items detect changes of {g.mde:.3g} or more at flip rate {flip_rate:g} "
                     f"({pct}, power {power:.0%}), more than {rule} {threshold:.4g}: it passes only if few items "
                     f"flip (±{g.half_width_flips:.4f} at that rate); {g.n_power} items give {power:.0%} power")
    else:
        g.status = "ok"
        g.message = (f"n = {n}: ±{g.half_width_zero:.4f} with zero flips, MDE {g.mde:.3g} at flip rate "
                     f"{flip_rate:g}")
    return g


def size_gates(gates: Mapping[str, GateSpec], policy: GatePolicy, items: Mapping[str, int],
               *, flip_rate: float, available: Mapping[str, int] | None = None,
               where: Mapping[str, str] | None = None) -> PowerReport:
    """Every rule of every gate, sized on ``items`` (``declared_items`` of the recipe's evaluators,
    merged). ``available``: the same counts without ``limit``, for what more items could cost."""
    report = PowerReport()
    for metric, spec in gates.items():
        confidence = spec.confidence or policy.confidence
        n = items_for(metric, items)
        avail = items_for(metric, available or {})
        src = items_for(metric, where or {}) if where else ""
        for rule in RULES:
            threshold = getattr(spec, rule)
            if threshold is not None:
                report.gates.append(size_gate(metric, rule, threshold, n=n, confidence=confidence,
                                              power=policy.power, flip_rate=flip_rate, available=avail,
                                              where=src or ""))
    return report
