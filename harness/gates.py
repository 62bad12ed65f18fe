"""Pass/fail gates on a run's metrics (recipe ``[gates]`` table).

A gate bounds a metric's value (``min`` / ``max``) or its change from a base
(``max_drop`` / ``max_increase``). The value is the run's final evaluation
(``after``, or ``before`` for an eval-only run); the base is the run's own
``before``, or a baseline run (``reference``).

Change rules follow the metric's good direction (``higher_is_better``):

* **drop** = change in the *bad* direction. ``max_drop = 0.02`` on
  ``openbookqa/acc`` allows accuracy to fall by 0.02; on
  ``advbench/harmful_compliance`` (lower is better) it allows the compliance
  rate to *rise* by 0.02. A negative ``max_drop`` demands an improvement.
* **increase** = rise of the raw value. On a lower-is-better metric a rise is
  the bad direction, so ``"xstest/over_refusal" = { max_increase = 0.05 }`` reads
  as it should: over-refusal may go up by at most 5 points (the same rule as
  ``max_drop = 0.05`` there). On a higher-is-better metric it caps a jump (an
  implausible one often means contamination or a broken scorer).

With ``confidence`` set, a change gate is judged on the paired interval's
bound instead of the point estimate (non-inferiority: "the drop is at most 2
points with 95% confidence"): it passes only if the whole interval satisfies
the rule. ``min`` / ``max`` are plain bounds on the raw value.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import RecipeError


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_increase: float | None = None
    confidence: float | None = None  # e.g. 0.95: judge change gates on the interval bound

    @model_validator(mode="after")
    def _one_rule_at_least(self):
        if all(v is None for v in (self.min, self.max, self.max_drop, self.max_increase)):
            raise ValueError("a gate needs at least one of min, max, max_drop, max_increase")
        if self.confidence is not None and not 0 < self.confidence < 1:
            raise ValueError("confidence must be between 0 and 1, e.g. 0.95")
        return self


RULES = ("min", "max", "max_drop", "max_increase")
CHANGE_RULES = ("max_drop", "max_increase")


class GateSpecError(RecipeError):
    """A gate specification (recipe table or ``--gate`` option) is malformed."""

    def __init__(self, message: str):
        self.source, self.errors = "", [("", message)]
        Exception.__init__(self, message)


@dataclass
class GateResult:
    """One rule of one gate, judged. ``observed`` is in the rule's units: the value for
    ``min``/``max``, the drop (bad-direction change) for ``max_drop``, the
    raw rise for ``max_increase``; ``bound`` the interval's worst end in the same
    units, when the gate has ``confidence``."""

    metric: str
    rule: str
    threshold: float
    observed: float | None
    bound: float | None
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ parsing


def parse_gates_table(table: Mapping[str, Any], where: str = "gates") -> dict[str, GateSpec]:
    """``{"suite/metric": {rule: value}}`` (a recipe's ``[gates]``) → GateSpecs, errors with key paths."""
    if not isinstance(table, Mapping):
        raise GateSpecError(f"{where}: expected a table of metric = {{rule = value}}, got {type(table).__name__}")
    return {metric: _spec(metric, spec, f"{where}.{metric!r}") for metric, spec in table.items()}


def _spec(metric: str, spec: Any, label: str) -> GateSpec:
    if "/" not in metric:
        raise GateSpecError(f"{label}: metric names are 'suite/metric', e.g. 'openbookqa/acc'")
    if isinstance(spec, GateSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise GateSpecError(f"{label}: expected a table of rules like {{ min = 0.5 }}, got {spec!r}")
    try:
        return GateSpec.model_validate(spec)
    except ValidationError as exc:
        raise GateSpecError(f"{label}: {_describe(exc)} (rules: {', '.join(RULES)}; option: confidence)") from None


def _describe(exc: ValidationError) -> str:
    msgs = []
    for e in exc.errors():
        key = ".".join(map(str, e["loc"]))
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, RULES + ("confidence",), n=1)
            msgs.append(f"unknown rule '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""))
        else:
            msgs.append(f"{key}: {e['msg']}" if key else e["msg"].removeprefix("Value error, "))
    return "; ".join(msgs)


def parse_gate_option(text: str) -> tuple[str, GateSpec]:
    """``"openbookqa/acc:min=0.5,max_drop=0.02"`` → ``("openbookqa/acc", GateSpec(...))``."""
    metric, sep, rules = text.rpartition(":")
    if not sep or not metric or not rules:
        raise GateSpecError(f"--gate {text!r}: expected METRIC:rule=value[,rule=value], "
                            "e.g. openbookqa/acc:min=0.5,max_drop=0.02")
    spec: dict[str, float] = {}
    for part in rules.split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise GateSpecError(f"--gate {text!r}: {part!r} is not rule=value")
        try:
            spec[key] = float(value)
        except ValueError:
            raise GateSpecError(f"--gate {text!r}: {key} needs a number, got {value!r}") from None
    metric = metric.strip()
    return metric, _spec(metric, spec, f"--gate {text!r}")


# ------------------------------------------------------------------ evaluation


def _value(entry: Any) -> float | None:
    v = entry.get("value") if isinstance(entry, Mapping) else entry
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _missing(metric: str, available: Iterable[str], phase: str) -> str:
    available = sorted(available)
    close = difflib.get_close_matches(metric, available, n=5, cutoff=0.4)
    suite = metric.split("/", 1)[0]
    close += [m for m in available if m.startswith(suite + "/") and m not in close]
    hint = f"; close names: {', '.join(close[:6])}" if close else (
        f"; the run has: {', '.join(available[:10])}" if available else "; the run has no metrics")
    return f"no metric '{metric}' in the run's {phase} metrics{hint}"


def evaluate_gates(gates: Mapping[str, GateSpec], record: dict[str, Any], *,
                   before_samples: list[dict], after_samples: list[dict],
                   reference: tuple | None = None) -> list[GateResult]:
    """Judge every rule of every gate on ``record``; one :class:`GateResult` per rule.

    ``reference`` = ``(baseline_record, baseline_samples[, phase])`` replaces the
    run's own ``before`` as the base of change gates (``phase`` defaults to the
    baseline's final evaluation). A gate that cannot be judged (unknown metric, no
    base to compare with, incomparable tasks) fails, with the reason as message.
    """
    from .compare import CompareError, compare_records, final_phase

    metrics = record.get("metrics") or {}
    phase = "after" if metrics.get("after") else "before"
    current = metrics.get(phase) or {}
    current_samples = after_samples if phase == "after" else before_samples

    base_phase: str | None
    base_error: str | None
    if reference is not None:
        base_rec, base_samples, *rest = reference
        try:
            base_phase = rest[0] if rest else final_phase(base_rec)
        except CompareError as exc:
            base_rec, base_samples, base_phase, base_error = None, [], None, str(exc)
        else:
            base_error = None
        base_label = f"baseline {base_rec.get('name') or base_rec.get('id')}" if base_rec else "baseline"
    elif phase == "after":
        base_rec, base_samples, base_phase, base_error = record, before_samples, "before", None
        base_label = "before"
    else:
        base_rec, base_samples, base_phase = None, [], None
        base_error = "an eval-only run has no before/after change; give a baseline run"
        base_label = "base"

    comparisons: dict[float, Any] = {}

    def comparison(confidence: float):
        if confidence not in comparisons:
            try:
                comparisons[confidence] = compare_records(
                    base_rec, base_samples, record, current_samples, confidence=confidence,
                    phase_a=base_phase, phase_b=phase)
            except CompareError as exc:
                comparisons[confidence] = exc
        return comparisons[confidence]

    results: list[GateResult] = []
    for metric, spec in gates.items():
        if isinstance(spec, Mapping):
            spec = parse_gates_table({metric: spec})[metric]
        rules = [(r, getattr(spec, r)) for r in RULES if getattr(spec, r) is not None]
        if metric not in current:
            msg = _missing(metric, current, phase)
            results += [GateResult(metric, r, t, None, None, False, msg) for r, t in rules]
            continue
        value = _value(current[metric])
        hib = bool(current[metric].get("higher_is_better", True))
        for rule, threshold in rules:
            if rule in ("min", "max"):
                results.append(_value_gate(metric, rule, threshold, value, phase))
                continue
            if base_error:
                results.append(GateResult(metric, rule, threshold, None, None, False, base_error))
                continue
            comp = comparison(spec.confidence or 0.95)
            if isinstance(comp, Exception):
                results.append(GateResult(metric, rule, threshold, None, None, False,
                                          f"cannot compare with {base_label}: {comp}"))
                continue
            results.append(_change_gate(metric, rule, threshold, spec.confidence, comp, hib, base_label))
    return results


def _value_gate(metric: str, rule: str, threshold: float, value: float | None, phase: str) -> GateResult:
    if value is None:
        return GateResult(metric, rule, threshold, None, None, False, f"{metric} has no value ({phase})")
    passed = value >= threshold if rule == "min" else value <= threshold
    op = (">=" if passed else "<") if rule == "min" else ("<=" if passed else ">")
    return GateResult(metric, rule, threshold, value, None, passed,
                      f"{metric} = {value:.4g} {op} {threshold:.4g} ({rule}, {phase})")


def _change_gate(metric: str, rule: str, threshold: float, confidence: float | None,
                 comp: Any, hib: bool, base_label: str) -> GateResult:
    try:
        mc = comp.metric(metric)
    except KeyError:
        return GateResult(metric, rule, threshold, None, None, False,
                          _missing(metric, comp.metric_names, f"{base_label} comparison"))
    if mc.improvement is None:
        return GateResult(metric, rule, threshold, None, None, False,
                          f"{metric}: no value on the {base_label} side to compute a change from")
    interval = mc.improvement_interval()
    if rule == "max_drop":
        observed = -mc.improvement + 0.0          # + 0.0: no "-0" in messages
        bound = -interval[0] if interval else None       # the largest drop the interval allows
        noun = "worsened by" if observed > 0 else "improved by"
        shown = abs(observed)
    else:
        observed = mc.diff + 0.0                          # the raw rise, whatever the direction
        bound = mc.ci_high if interval else None          # the largest rise the interval allows
        noun = "rose by" if observed >= 0 else "fell by"
        shown = abs(observed)
    if observed == 0:
        noun, shown = "unchanged", None
    direction = "higher is better" if hib else "lower is better"
    if confidence is not None and bound is None:
        return GateResult(metric, rule, threshold, observed, None, False,
                          f"{metric}: confidence {confidence} needs per-item scores on both sides "
                          f"to compute an interval; none were paired")
    judged = (observed if confidence is None or bound is None else bound) + 0.0
    passed = judged <= threshold
    what = "drop" if rule == "max_drop" else "rise"
    change = noun if shown is None else f"{noun} {shown:.4g}"
    msg = f"{metric} {change} vs {base_label} ({direction}, n={mc.n_paired}); "
    msg += f"{round(confidence * 100)}% worst-case {what}" if confidence is not None else what
    msg += f" {judged:+.4g} {'<=' if passed else '>'} {rule} {threshold:.4g}"
    return GateResult(metric, rule, threshold, observed, bound if confidence is not None else None,
                      passed, msg)


def gates_passed(results: Iterable[GateResult]) -> bool | None:
    """True if every result passed, False if one failed, None when there were no gates."""
    results = list(results)
    return None if not results else all(r.passed for r in results)
