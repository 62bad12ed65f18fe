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

Verdicts are three-valued, judged on an interval, never on the point estimate
alone: ``pass`` when the whole interval is on the good side of the bound,
``fail`` when it is all on the bad side, ``inconclusive`` when it straddles the
bound (non-inferiority: "the drop is at most 2 points with 95% confidence").
Change rules use the paired-bootstrap interval of ``compare``; ``min`` / ``max``
use an interval on the final value's mean from the per-item scores
(Clopper-Pearson for 0/1 scores, bootstrap otherwise).

The policy keys of ``[gates]`` (:class:`GatePolicy`) say how: ``confidence``
(0.95; a gate's own ``confidence`` overrides it), ``adjust`` (``"holm"``: Holm's
step-down across the run's rules, or ``"none"``), ``on_inconclusive``
(``"fail"``, the default, fails closed; ``"pass"``; ``"warn"`` passes with a
warning) and ``power`` (0.8, for the minimum detectable effect each rule reports,
with a warning when its bound is smaller than that).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal, Mapping, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..contract.record import final_phase
from ..errors import RecipeError


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


class GatePolicy(BaseModel):
    """How a run's gates are judged: the ``[gates]`` keys that are not metrics."""

    model_config = ConfigDict(extra="forbid")

    on_inconclusive: Literal["fail", "pass", "warn"] = "fail"
    adjust: Literal["holm", "none"] = "holm"
    confidence: float = 0.95
    power: float = 0.8

    @model_validator(mode="after")
    def _levels(self):
        for key in ("confidence", "power"):
            if not 0 < getattr(self, key) < 1:
                raise ValueError(f"{key} must be between 0 and 1, e.g. {0.95 if key == 'confidence' else 0.8}")
        return self


POLICY_KEYS = tuple(GatePolicy.model_fields)
VERDICTS = ("pass", "fail", "inconclusive")
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
    passed: bool                       # counts as passed under the run's on_inconclusive policy
    message: str
    verdict: str = ""                  # pass / fail / inconclusive ("" in old records: from ``passed``)
    interval: list[float] | None = None  # [low, high] in the rule's units, at confidence_adjusted
    confidence: float | None = None    # the gate's level before adjustment
    confidence_adjusted: float | None = None  # the level its interval was computed at (Holm)
    p_value: float | None = None       # p-value of "the rule holds" (doubled one-sided test)
    p_adjusted: float | None = None    # Holm-adjusted (statsmodels); = p_value with adjust = "none"
    n: int | None = None               # items behind the interval
    mde: float | None = None           # minimum detectable effect at confidence_adjusted and the power
    underpowered: str | None = None    # the warning when the bound is smaller than the MDE
    on_inconclusive: str = "fail"      # the policy ``passed`` was decided under
    adjust: str | None = None          # holm / none: how confidence_adjusted was reached (None in old records)

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ parsing


def parse_gates_table(table: Mapping[str, Any], where: str = "gates") -> dict[str, GateSpec]:
    """``{"suite/metric": {rule: value}}`` (a recipe's ``[gates]``) → GateSpecs, errors with key paths."""
    if not isinstance(table, Mapping):
        raise GateSpecError(f"{where}: expected a table of metric = {{rule = value}}, got {type(table).__name__}")
    return {metric: _spec(metric, spec, f"{where}.{metric!r}") for metric, spec in table.items()
            if metric not in POLICY_KEYS}


def parse_gate_policy(table: Any, where: str = "gates") -> GatePolicy:
    """The policy keys of a ``[gates]`` table (metric entries ignored) → :class:`GatePolicy`."""
    if isinstance(table, GatePolicy):
        return table
    if not isinstance(table, Mapping):
        raise GateSpecError(f"{where}: expected a table, got {type(table).__name__}")
    try:
        return GatePolicy.model_validate({k: v for k, v in table.items() if k in POLICY_KEYS})
    except ValidationError as exc:
        msgs = [f"{where}.{'.'.join(map(str, e['loc']))}: {e['msg']}".rstrip(": ").replace("Value error, ", "")
                for e in exc.errors()]
        raise GateSpecError("; ".join(msgs)) from None


def split_gate_policy(data: Any) -> Any:
    """A recipe mapping with its ``[gates]`` policy keys moved to ``gating`` (for the Recipe model)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("gates"), Mapping):
        return data
    gates = data["gates"]
    policy = {k: v for k, v in gates.items() if k in POLICY_KEYS}
    if not policy:
        return data
    return {**data, "gates": {k: v for k, v in gates.items() if k not in POLICY_KEYS},
            "gating": {**(data.get("gating") or {}), **policy}}


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


@dataclass
class _Check:
    """One rule, ready to be judged on an interval (``values`` or ``k``/``n`` set) or
    already decided (``result`` set: it could not be judged)."""

    metric: str
    rule: str
    threshold: float
    observed: float | None
    alpha: float                       # 1 - the gate's unadjusted confidence
    bad_above: bool = True             # values above the threshold break the rule (all but ``min``)
    values: list[float] | None = None  # per-item values in the rule's units (bootstrap)
    k: int | None = None               # 0/1 items: successes of n (Clopper-Pearson)
    flips: tuple[int, int] | None = None  # 0/1 paired items: (went up, went down) of n (Tango)
    sign: float = 1.0                  # rule units = sign * (after - before), for ``flips``
    n: int = 0
    seed: int = 0
    n_boot: int = 2000
    describe: str = ""                 # "qa/acc = 0.5 (after, n=10)"
    what: str = "value"                # the interval is on: value / drop / rise
    result: GateResult | None = None
    _means: Any = None

    def interval(self, confidence: float) -> tuple[float, float]:
        from .stats import bootstrap_means, paired_proportion_interval, percentile_interval, proportion_interval

        if self.flips is not None:
            low, high = paired_proportion_interval(*self.flips, self.n, confidence)
            return (low, high) if self.sign > 0 else (-high, -low)
        if self.k is not None:
            return proportion_interval(self.k, self.n, confidence)
        if self._means is None:
            self._means = bootstrap_means(self.values or [], seed=self.seed, n_boot=self.n_boot)
        return percentile_interval(self._means, confidence)

    def p_value(self) -> float:
        from .stats import bootstrap_means, bootstrap_p_value, paired_proportion_p_value, proportion_p_value

        if self.flips is not None:  # in units of the raw change: threshold and bad side flip with sign
            return paired_proportion_p_value(*self.flips, self.n, self.sign * self.threshold,
                                             self.bad_above == (self.sign > 0))
        if self.k is not None:
            return proportion_p_value(self.k, self.n, self.threshold, self.bad_above)
        if self._means is None:
            self._means = bootstrap_means(self.values or [], seed=self.seed, n_boot=self.n_boot)
        return bootstrap_p_value(self._means, self.threshold, self.bad_above)

    def sd(self) -> float:
        from .stats import sample_sd, tango_sd

        if self.flips is not None:  # the spread of the change under the bound
            return tango_sd(*self.flips, self.n, min(1.0, max(-1.0, self.sign * self.threshold)))
        if self.k is not None:  # the spread under the bound: a rate at the threshold
            t = min(1.0, max(0.0, self.threshold))
            return math.sqrt(t * (1 - t))
        return sample_sd(self.values or [])


class Reference(NamedTuple):
    """A baseline run whose final evaluation replaces a run's own ``before`` as the base of its
    change gates (``[baseline] run``, ``harness gate --baseline``). ``phase`` is None when the
    baseline has no metrics: every change gate then fails, saying so."""

    record: dict[str, Any]
    samples: list[dict]
    phase: str | None


def load_reference(store: Any, run_id: str) -> Reference:
    """The baseline ``run_id`` of ``store`` (any object with ``load`` and ``samples``) at its final evaluation."""
    base = store.load(run_id)
    phase = final_phase(base)
    return Reference(base, store.samples(base["id"], phase) if phase else [], phase)


def evaluate_gates(gates: Mapping[str, GateSpec], record: dict[str, Any], *,
                   before_samples: list[dict], after_samples: list[dict],
                   reference: Reference | None = None,
                   policy: GatePolicy | Mapping[str, Any] | None = None) -> list[GateResult]:
    """Judge every rule of every gate on ``record``; one :class:`GateResult` per rule.

    Each verdict is ``pass`` / ``fail`` / ``inconclusive`` from the rule's interval
    (at its confidence, Holm-adjusted across the rules unless ``policy.adjust`` is
    ``"none"``) against its bound; ``passed`` says whether it counts as passed under
    ``policy.on_inconclusive``. A :class:`Reference` replaces the run's own
    ``before`` as the base of change gates. A gate that
    cannot be judged (unknown metric, no base to compare with, incomparable tasks)
    fails, with the reason as message; one without per-item scores is inconclusive.
    """
    from .compare import CompareError, compare_records

    policy = parse_gate_policy(policy or {})
    metrics = record.get("metrics") or {}
    phase = final_phase(record) or "before"
    current = metrics.get(phase) or {}
    current_samples = after_samples if phase == "after" else before_samples

    base_rec: dict[str, Any] | None
    base_phase: str | None
    base_error: str | None
    if reference is not None:
        base_rec, base_samples, base_phase = reference
        base_error = None
        if base_phase is None:
            base_error = (f"baseline run {reference.record.get('id')!r} has no metrics "
                          f"(status: {reference.record.get('status', 'unknown')})")
            base_rec, base_samples = None, []
        base_label = f"baseline {base_rec.get('name') or base_rec.get('id')}" if base_rec else "baseline"
    elif phase == "after":
        base_rec, base_samples, base_phase, base_error = record, before_samples, "before", None
        base_label = "before"
    else:
        base_rec, base_samples, base_phase = None, [], None
        base_error = "an eval-only run has no before/after change; give a baseline run"
        base_label = "base"

    cached: list[Any] = []

    def comparison():
        if not cached:
            try:
                cached.append(compare_records(base_rec, base_samples, record, current_samples,
                                              phase_a=base_phase, phase_b=phase))
            except CompareError as exc:
                cached.append(exc)
        return cached[0]

    checks: list[_Check] = []
    for metric, spec in gates.items():
        if isinstance(spec, Mapping):
            spec = parse_gates_table({metric: spec})[metric]
        alpha = 1.0 - (spec.confidence or policy.confidence)
        rules = [(r, getattr(spec, r)) for r in RULES if getattr(spec, r) is not None]
        if metric not in current:
            msg = _missing(metric, current, phase)
            checks += [_decided(metric, r, t, alpha, None, "fail", msg) for r, t in rules]
            continue
        value = _value(current[metric])
        hib = bool(current[metric].get("higher_is_better", True))
        for rule, threshold in rules:
            if rule in ("min", "max"):
                checks.append(_value_check(metric, rule, threshold, alpha, value, phase, current_samples))
            elif base_error:
                checks.append(_decided(metric, rule, threshold, alpha, None, "fail", base_error))
            elif isinstance(comp := comparison(), Exception):
                checks.append(_decided(metric, rule, threshold, alpha, None, "fail",
                                       f"cannot compare with {base_label}: {comp}"))
            else:
                checks.append(_change_check(metric, rule, threshold, alpha, comp, hib, base_label))
    return _judge(checks, policy)


def _decided(metric: str, rule: str, threshold: float, alpha: float, observed: float | None,
             verdict: str, message: str) -> _Check:
    check = _Check(metric, rule, threshold, observed, alpha)
    check.result = GateResult(metric, rule, threshold, observed, None, verdict == "pass", message,
                              verdict=verdict, confidence=1 - alpha)
    return check


def _per_item(samples: Iterable[dict], metric: str) -> list[float]:
    from .compare import _number

    suite, _, short = metric.partition("/")
    out = []
    for row in samples:
        if str(row.get("suite")) == suite:
            x = _number((row.get("scores") or {}).get(short))
            if x is not None:
                out.append(x)
    return out


def _value_check(metric: str, rule: str, threshold: float, alpha: float, value: float | None,
                 phase: str, samples: list[dict]) -> _Check:
    if value is None:
        return _decided(metric, rule, threshold, alpha, None, "fail", f"{metric} has no value ({phase})")
    ys = _per_item(samples, metric)
    if not ys:
        return _decided(metric, rule, threshold, alpha, value, "inconclusive",
                        f"{metric} = {value:.4g} ({phase}): no per-item scores, so no interval to judge "
                        f"the {rule} {threshold:.4g} bound on")
    check = _Check(metric, rule, threshold, value, alpha, bad_above=rule == "max", n=len(ys),
                   describe=f"{metric} = {value:.4g} ({phase}, n={len(ys)})")
    if all(y in (0.0, 1.0) for y in ys):
        check.k = int(sum(ys))
    else:
        check.values = ys
    return check


def _change_check(metric: str, rule: str, threshold: float, alpha: float, comp: Any, hib: bool,
                  base_label: str) -> _Check:
    try:
        mc = comp.metric(metric)
    except KeyError:
        return _decided(metric, rule, threshold, alpha, None, "fail",
                        _missing(metric, comp.metric_names, f"{base_label} comparison"))
    if mc.improvement is None:
        return _decided(metric, rule, threshold, alpha, None, "fail",
                        f"{metric}: no value on the {base_label} side to compute a change from")
    if rule == "max_drop":
        observed = -mc.improvement + 0.0          # + 0.0: no "-0" in messages
        noun = "worsened by" if observed > 0 else "improved by"
        sign = -1.0 if hib else 1.0               # per-item drop = sign * (after - before)
    else:
        observed = mc.diff + 0.0                  # the raw rise, whatever the direction
        noun = "rose by" if observed >= 0 else "fell by"
        sign = 1.0
    change = "unchanged" if observed == 0 else f"{noun} {abs(observed):.4g}"
    direction = "higher is better" if hib else "lower is better"
    describe = f"{metric} {change} vs {base_label} ({direction}, n={mc.n_paired})"
    if not mc.paired:
        return _decided(metric, rule, threshold, alpha, observed, "inconclusive",
                        f"{describe}: no per-item scores paired on both sides, so no interval to judge "
                        f"the {rule} {threshold:.4g} bound on")
    short = mc.name
    pa, pb = comp._pairs[metric]
    raw = [float((b["scores"])[short]) - float((a["scores"])[short]) for a, b in zip(pa, pb)]
    check = _Check(metric, rule, threshold, observed, alpha, bad_above=True, n=len(raw), sign=sign,
                   seed=comp.seed, n_boot=comp.n_boot, describe=describe,
                   what="drop" if rule == "max_drop" else "rise")
    if mc.binary:   # 0/1 scores: Tango's score interval, which a few flips do not collapse
        check.flips = (sum(d > 0 for d in raw), sum(d < 0 for d in raw))
    else:           # the paired bootstrap of ``compare``
        check.values = [sign * d for d in raw]
    return check


def _pct(confidence: float) -> str:
    return f"{confidence * 100:.4g}%"


def _judge(checks: list[_Check], policy: GatePolicy) -> list[GateResult]:
    """Holm step-down over the checks that have an interval; verdicts; MDE and power warnings."""
    from .stats import holm_adjusted_p, holm_order, minimum_detectable_effect

    testable = [c for c in checks if c.result is None]
    p_values = [c.p_value() for c in testable]
    if policy.adjust == "holm":
        order = holm_order(p_values, [c.alpha for c in testable])
        p_adjusted = holm_adjusted_p(p_values)
    else:
        order = [(i, c.alpha) for i, c in enumerate(testable)]
        p_adjusted = list(p_values)
    stopped = False
    for i, level in order:
        c = testable[i]
        confidence, adjusted = 1 - c.alpha, 1 - level
        low, high = c.interval(adjusted)
        good = high <= c.threshold if c.bad_above else low >= c.threshold
        bad = low > c.threshold if c.bad_above else high < c.threshold
        verdict = "pass" if good and not stopped else "fail" if bad else "inconclusive"
        if policy.adjust == "holm" and verdict != "pass":
            stopped = True                   # Holm: no later (weaker-evidence) gate may pass
        relation = {"pass": "<=" if c.bad_above else ">=", "fail": ">" if c.bad_above else "<",
                    "inconclusive": "straddles"}[verdict]
        level_text = _pct(adjusted) + (f" (Holm-adjusted from {_pct(confidence)})"
                                       if not math.isclose(adjusted, confidence) else "")
        fmt = ".4g" if c.what == "value" else "+.4g"
        message = (f"{c.describe}; {level_text} interval on the {c.what} "
                   f"[{low:{fmt}}, {high:{fmt}}] {relation} {c.rule} {c.threshold:.4g}")
        if good and verdict != "pass":
            message += "; Holm: not passed, a gate with stronger evidence did not pass"
        mde = minimum_detectable_effect(c.sd(), c.n, adjusted, policy.power)
        margin = abs(c.threshold) if c.what != "value" else abs((c.observed or 0.0) - c.threshold)
        warning = None
        # a zero change margin is a superiority test: only a clear improvement passes it, by design;
        # a failed rule needs no warning: its whole interval already lies beyond the bound
        if margin < mde and verdict != "fail" and not (c.what != "value" and c.threshold == 0):
            detect = (f"at {_pct(adjusted)} confidence they detect {'differences' if c.what == 'value' else 'changes'}"
                      f" of {mde:.3g} or more (power {policy.power:.0%})")
            if c.what == "value":
                warning = (f"{c.n} items cannot reliably tell {c.metric} = {c.observed:.4g} from its {c.rule} "
                           f"bound {c.threshold:.4g}: {detect}")
            else:
                claim = (f"an improvement of at least {-c.threshold:.4g}" if c.threshold < 0
                         else f"a {c.what} of at most {c.threshold:.4g}")
                warning = f"{c.n} items cannot reliably show {claim} on {c.metric}: {detect}"
        c.result = GateResult(c.metric, c.rule, c.threshold, c.observed,
                              high if c.bad_above else low, verdict == "pass", message, verdict=verdict,
                              interval=[low, high], confidence=confidence, confidence_adjusted=adjusted,
                              p_value=p_values[i], p_adjusted=p_adjusted[i], n=c.n, mde=mde,
                              underpowered=warning)
    results = [c.result for c in checks if c.result is not None]
    for r in results:
        r.on_inconclusive = policy.on_inconclusive
        r.adjust = policy.adjust
        r.passed = r.verdict == "pass" or (r.verdict == "inconclusive" and policy.on_inconclusive != "fail")
    return results


def gating_summary(results: Iterable[GateResult], policy: GatePolicy | Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """What the record keeps about how the gates were judged (``record["gating"]``)."""
    policy = parse_gate_policy(policy or {})
    results = list(results)
    verdicts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    return {"on_inconclusive": policy.on_inconclusive, "adjust": policy.adjust,
            "confidence": policy.confidence, "power": policy.power, "checks": len(results),
            "adjusted_over": sum(r.confidence_adjusted is not None for r in results) if policy.adjust != "none" else 0,
            "verdicts": verdicts, "underpowered": [r.underpowered for r in results if r.underpowered],
            "passed": gates_passed(results)}


def describe_gating(gating: Mapping[str, Any]) -> str:
    """One line saying how a run's gates were judged (from :func:`gating_summary`)."""
    v = gating.get("verdicts") or {}
    conf = f"{gating.get('confidence', 0.95) * 100:.4g}%"
    m = gating.get("adjusted_over", 0)
    how = (f"confidence Holm-adjusted across {m} check{'' if m == 1 else 's'} ({conf} family-wise)"
           if gating.get("adjust") == "holm" else f"no multiplicity adjustment ({conf} per check)")
    return (f"verdicts: {v.get('pass', 0)} pass, {v.get('fail', 0)} fail, {v.get('inconclusive', 0)} inconclusive"
            f" · on_inconclusive = {gating.get('on_inconclusive')} · {how}")


def gates_passed(results: Iterable[GateResult]) -> bool | None:
    """True if every result passed, False if one failed, None when there were no gates."""
    results = list(results)
    return None if not results else all(r.passed for r in results)
