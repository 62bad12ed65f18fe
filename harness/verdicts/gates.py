"""Pass/fail gates on a run's metrics (recipe ``[gates]`` table).

A gate bounds a metric's value (``min`` / ``max``) or its change from a base
(``max_drop`` / ``max_increase``). The value is the run's final evaluation
(``after``, or ``before`` for an eval-only run); the base is the run's own
``before``, or a baseline run (``reference``).

Change rules follow the metric's good direction (``higher_is_better``):

* **drop** = change in the *bad* direction. ``max_drop = 0.02`` on
  ``openbookqa/acc`` allows accuracy to fall by 0.02; on
  ``advbench/harmful_compliance`` (lower is better) it allows the compliance
  rate to *rise* by 0.02. ``max_drop = 0`` allows no drop at all.
* **gain** = change in the *good* direction: ``min_gain = 0.05`` demands an
  improvement of at least 0.05 (what a negative ``max_drop`` meant before bounds
  had to be 0 or more).
* **increase** = rise of the raw value. On a lower-is-better metric a rise is
  the bad direction, so ``"xstest/over_refusal" = { max_increase = 0.05 }`` reads
  as it should: over-refusal may go up by at most 5 points (the same rule as
  ``max_drop = 0.05`` there). On a higher-is-better metric it caps a jump (an
  implausible one often means contamination or a broken scorer).

Bounds are finite numbers, change bounds 0 or more, and a bound on a rate (a
metric whose name says accuracy or a rate, or whose items score 0/1) lies in
[0, 1]: anything else is a recipe error (:func:`bound_problem`, :func:`range_problem`).

A gate's ``tier`` is ``critical`` (the default: it decides the run) or
``advisory`` (judged and shown, never fails the run).

Verdicts are three-valued, judged on an interval, never on the point estimate
alone: ``pass`` when the whole interval is on the good side of the bound,
``fail`` when it is all on the bad side, ``inconclusive`` when it straddles the
bound (non-inferiority: "the drop is at most 2 points with 95% confidence").
Change rules use the paired-bootstrap interval of ``compare``; ``min`` / ``max``
use an interval on the final value's mean from the per-item scores
(Clopper-Pearson for 0/1 scores, bootstrap otherwise).

The policy keys of ``[gates]`` (:class:`GatePolicy`) say how: ``confidence``
(0.95; a gate's own ``confidence`` overrides it), ``multiplicity``
(``"all-must-pass"``: every critical gate at the plain level, advisory gates
Holm-adjusted among themselves; ``"holm"``: Holm's step-down across every rule;
the old ``adjust = "holm" | "none"`` maps to ``"holm"`` / ``"all-must-pass"``),
``on_inconclusive`` (``"fail"``, the default, fails closed; ``"pass"``; ``"warn"``
passes with a warning) and ``power`` (0.8, for the minimum detectable effect each
rule reports, with a warning when its bound is smaller than that).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal, Mapping, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..contract.record import final_phase
from ..errors import RecipeError

VERDICTS = ("pass", "fail", "inconclusive")
RULES = ("min", "max", "max_drop", "max_increase", "min_gain")
CHANGE_RULES = ("max_drop", "max_increase", "min_gain")
TIERS = ("critical", "advisory")

class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_increase: float | None = None
    min_gain: float | None = None    # the change in the good direction must be at least this
    confidence: float | None = None  # e.g. 0.95: judge change gates on the interval bound
    #: critical gates decide the run; an advisory one is judged and shown but never fails it
    tier: Literal["critical", "advisory"] = "critical"

    @model_validator(mode="before")
    @classmethod
    def _in_range(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for value in data.values():
                if isinstance(value, _OutOfRange):
                    raise ValueError(value.problem)
        return data

    @model_validator(mode="after")
    def _one_rule_at_least(self):
        if all(getattr(self, r) is None for r in RULES):
            raise ValueError(f"a gate needs at least one of {', '.join(RULES)}")
        for rule in RULES:
            problem = bound_problem(rule, getattr(self, rule))
            if problem:
                raise ValueError(problem)
        if self.confidence is not None and not 0 < self.confidence < 1:
            raise ValueError("confidence must be between 0 and 1, e.g. 0.95")
        return self


MULTIPLICITY = ("all-must-pass", "holm")


class GatePolicy(BaseModel):
    """How a run's gates are judged: the ``[gates]`` keys that are not metrics.

    ``multiplicity``: ``"all-must-pass"`` (the default) tests every critical gate at the plain
    level: the run passes only if all of them pass, an intersection-union test that is already
    level-alpha for that claim (Berger 1982); advisory gates, claims made one by one, are
    Holm-adjusted among themselves. ``"holm"``: every gate, critical and advisory, in one Holm
    family (the behaviour before ``multiplicity`` existed). ``adjust`` is the old key:
    ``adjust = "holm"`` reads as ``multiplicity = "holm"``, ``adjust = "none"`` as
    ``"all-must-pass"``.
    """

    model_config = ConfigDict(extra="forbid")

    on_inconclusive: Literal["fail", "pass", "warn"] = "fail"
    multiplicity: Literal["all-must-pass", "holm"] = "all-must-pass"
    adjust: Literal["holm", "none"] | None = None  # old key, folded into multiplicity
    confidence: float = 0.95
    power: float = 0.8

    @model_validator(mode="before")
    @classmethod
    def _old_adjust(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("adjust") is not None:
            implied = {"holm": "holm", "none": "all-must-pass"}.get(data["adjust"])
            given = data.get("multiplicity")
            if implied and given is not None and given != implied:
                raise ValueError(f'adjust = "{data["adjust"]}" (the old key) means multiplicity = "{implied}", '
                                 f'but multiplicity = "{given}" is also set: keep only multiplicity')
            if implied:
                data = {**data, "multiplicity": implied}
        return data

    @model_validator(mode="after")
    def _levels(self):
        for key in ("confidence", "power"):
            if not 0 < getattr(self, key) < 1:
                raise ValueError(f"{key} must be between 0 and 1, e.g. {0.95 if key == 'confidence' else 0.8}")
        return self


def bound_problem(rule: str, value: float | None) -> str | None:
    """What is wrong with a rule's bound on its own (not a finite number; a negative change bound)."""
    if value is None:
        return None
    if not math.isfinite(value):
        return (f"{rule} = {value}: a bound must be a finite number (nan or inf can never be judged, or always "
                f"holds)")
    if rule in CHANGE_RULES and value < 0:
        if rule == "max_drop":
            return (f"max_drop = {value:g}: a drop bound is 0 or more (0: no worse at all); to demand an "
                    f"improvement write min_gain = {-value:g}")
        if rule == "max_increase":
            return (f"max_increase = {value:g}: a rise bound is 0 or more; to demand a fall on a "
                    f"lower-is-better metric write min_gain = {-value:g}")
        return f"min_gain = {value:g}: a gain bound is 0 or more; to allow a drop write max_drop = {-value:g}"
    return None


#: metric names (the part after "suite/") whose values are rates in [0, 1]
_RATE_NAME = re.compile(r"^(acc|acc_norm|accuracy|exact_match|em|mc1|mc2|pass@\d+)(\b|_|,|$)"
                        r"|rate|compliance|refusal")


def is_rate_metric(metric: str, concern: str | None = None) -> bool:
    """Whether ``metric`` ("suite/name") is known to lie in [0, 1] before a run: its name says
    accuracy or a rate (``acc``, ``exact_match``, ``*_rate``, ``harmful_compliance``,
    ``over_refusal``), or its declared concern is harm or over-refusal (both rates of prompts).
    After a run, 0/1 per-item scores also say so (:func:`evaluate_gates`)."""
    name = metric.partition("/")[2] or metric
    return bool(_RATE_NAME.search(name)) or concern in ("harm", "over_refusal")


def range_problem(metric: str, rule: str, value: float, *, rate: bool | None = None) -> str | None:
    """What is wrong with ``rule = value`` on a metric in [0, 1] (``rate``: known to be; None: by
    its name): a ``min``/``max`` outside [0, 1], a change bound above 1."""
    if not (is_rate_metric(metric) if rate is None else rate):
        return None
    if rule in ("min", "max") and not 0 <= value <= 1:
        return f"{rule} = {value:g} is outside the range of {metric}, a rate in [0, 1]: write a bound from 0 to 1"
    if rule in CHANGE_RULES and value > 1:
        return (f"{rule} = {value:g} is beyond any change of {metric}, a rate in [0, 1] (changes lie in "
                f"[-1, 1]): write a bound from 0 to 1, e.g. 0.02 for 2 points")
    return None


class _OutOfRange(float):
    """A bound :func:`split_gate_policy` found outside its metric's range: GateSpec's own
    validation raises its ``problem``, so the error carries the gate's key path."""

    problem: str = ""


def _mark_out_of_range(gates: Any) -> Any:
    if not isinstance(gates, Mapping):
        return gates
    out = dict(gates)
    for metric, spec in gates.items():
        if metric in POLICY_KEYS + POWER_KEYS or not isinstance(spec, Mapping):
            continue
        marked = dict(spec)
        for rule in RULES:
            value = spec.get(rule)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                problem = range_problem(metric, rule, float(value))
                if problem:
                    marked[rule] = _OutOfRange(value)
                    marked[rule].problem = problem
        out[metric] = marked
    return out


POLICY_KEYS = tuple(GatePolicy.model_fields)
#: ``[gates]`` keys of the power check before a run (``harness.run.recipe.PowerCheck``): no metrics either
POWER_KEYS = ("flip_rate", "allow_undecidable")


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
    passed: bool                       # counts as passed for the run: on_inconclusive; always for advisory
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
    tier: str = "critical"             # critical: decides the run; advisory: shown, never fails it
    multiplicity: str | None = None    # all-must-pass / holm: the run's policy (None in old records)
    tested: bool = True                # False: Holm's step-down stopped before this gate (interval kept)

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
            if metric not in POLICY_KEYS + POWER_KEYS}


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
    gates = _mark_out_of_range(data["gates"])
    data = {**data, "gates": gates}
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
        parsed = GateSpec.model_validate(spec)
    except ValidationError as exc:
        raise GateSpecError(f"{label}: {_describe(exc)} (rules: {', '.join(RULES)}; options: confidence, "
                            f"tier)") from None
    problems = [range_problem(metric, r, getattr(parsed, r)) for r in RULES if getattr(parsed, r) is not None]
    if any(problems):
        raise GateSpecError(f"{label}: " + "; ".join(p for p in problems if p))
    return parsed


def _describe(exc: ValidationError) -> str:
    msgs = []
    for e in exc.errors():
        key = ".".join(map(str, e["loc"]))
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, RULES + ("confidence", "tier"), n=1)
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
    spec: dict[str, Any] = {}
    for part in rules.split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise GateSpecError(f"--gate {text!r}: {part!r} is not rule=value")
        if key == "tier":
            spec[key] = value.strip()
            continue
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
    what: str = "value"                # the interval is on: value / drop / rise / gain
    tier: str = "critical"
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
    (at its confidence, Holm-adjusted where ``policy.multiplicity`` says: see
    :func:`_families`) against its bound; ``passed`` says whether it counts as passed
    for the run: under ``policy.on_inconclusive``, and always for an advisory gate. A :class:`Reference` replaces the run's own
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
        first = len(checks)
        if metric not in current:
            msg = _missing(metric, current, phase)
            checks += [_decided(metric, r, t, alpha, None, "fail", msg) for r, t in rules]
            for c in checks[first:]:
                c.tier = spec.tier
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
        for c in checks[first:]:
            c.tier = spec.tier
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
    binary = all(y in (0.0, 1.0) for y in ys)
    if binary and (problem := range_problem(metric, rule, threshold, rate=True)):
        return _decided(metric, rule, threshold, alpha, value, "fail", f"{problem} (its items are 0/1): "
                        "fix the bound in the recipe")
    check = _Check(metric, rule, threshold, value, alpha, bad_above=rule == "max", n=len(ys),
                   describe=f"{metric} = {value:.4g} ({phase}, n={len(ys)})")
    if binary:
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
    if mc.binary and (problem := range_problem(metric, rule, threshold, rate=True)):
        return _decided(metric, rule, threshold, alpha, None, "fail", f"{problem} (its items are 0/1): "
                        "fix the bound in the recipe")
    if rule == "max_drop":
        observed = -mc.improvement + 0.0          # + 0.0: no "-0" in messages
        noun = "worsened by" if observed > 0 else "improved by"
        sign = -1.0 if hib else 1.0               # per-item drop = sign * (after - before)
    elif rule == "min_gain":
        observed = mc.improvement + 0.0
        noun = "improved by" if observed >= 0 else "worsened by"
        sign = 1.0 if hib else -1.0               # per-item gain = sign * (after - before)
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
    check = _Check(metric, rule, threshold, observed, alpha, bad_above=rule != "min_gain", n=len(raw), sign=sign,
                   seed=comp.seed, n_boot=comp.n_boot, describe=describe,
                   what={"max_drop": "drop", "min_gain": "gain"}.get(rule, "rise"))
    if mc.binary:   # 0/1 scores: Tango's score interval, which a few flips do not collapse
        check.flips = (sum(d > 0 for d in raw), sum(d < 0 for d in raw))
    else:           # the paired bootstrap of ``compare``
        check.values = [sign * d for d in raw]
    return check


def _pct(confidence: float) -> str:
    return f"{confidence * 100:.4g}%"


def _families(checks: list[_Check], policy: GatePolicy) -> list[tuple[list[_Check], bool]]:
    """The checks judged together and whether Holm's step-down runs over them.

    ``holm``: all of them, one family. ``all-must-pass``: the critical checks each at the plain
    level (the run's claim "every critical gate passes" is an intersection-union test, level
    alpha without adjustment), the advisory checks, claims made one by one, a Holm family.
    """
    if policy.multiplicity == "holm":
        return [(checks, True)]
    return [([c for c in checks if c.tier == "critical"], False), ([c for c in checks if c.tier != "critical"], True)]


def _judge(checks: list[_Check], policy: GatePolicy) -> list[GateResult]:
    """Verdicts on the checks that have an interval (Holm where their family asks), MDE and power warnings."""
    from .stats import holm_adjusted_p, holm_order

    for family, holm in _families([c for c in checks if c.result is None], policy):
        if not family:
            continue
        p_values = [c.p_value() for c in family]
        if holm:
            order = holm_order(p_values, [c.alpha for c in family])
            p_adjusted = holm_adjusted_p(p_values)
        else:
            order = [(i, c.alpha) for i, c in enumerate(family)]
            p_adjusted = list(p_values)
        stopped = False
        for i, level in order:
            c = family[i]
            verdict = _verdict(c, 1 - level, stopped, holm, policy)
            assert c.result is not None  # _verdict judged it
            c.result.p_value, c.result.p_adjusted = p_values[i], p_adjusted[i]
            c.result.adjust = "holm" if holm else "none"
            if holm and verdict != "pass":
                stopped = True                   # Holm: no later (weaker-evidence) gate is tested
    results = [c.result for c in checks if c.result is not None]
    for c, r in zip([c for c in checks if c.result is not None], results):
        r.tier = c.tier
        r.multiplicity = policy.multiplicity
        r.on_inconclusive = policy.on_inconclusive
        if r.adjust is None:
            r.adjust = "holm" if policy.multiplicity == "holm" or c.tier != "critical" else "none"
        r.passed = (c.tier != "critical" or r.verdict == "pass"
                    or (r.verdict == "inconclusive" and policy.on_inconclusive != "fail"))
    return results


def _verdict(c: _Check, adjusted: float, stopped: bool, holm: bool, policy: GatePolicy) -> str:
    """Judge one check at the level ``adjusted``; sets ``c.result``. ``stopped``: Holm's step-down
    already stopped at an earlier gate, so this one is not tested (its interval is kept)."""
    from .stats import minimum_detectable_effect

    confidence = 1 - c.alpha
    low, high = c.interval(adjusted)
    good = high <= c.threshold if c.bad_above else low >= c.threshold
    bad = low > c.threshold if c.bad_above else high < c.threshold
    verdict = "fail" if bad else "pass" if good and not stopped else "inconclusive"
    level_text = _pct(adjusted) + (f" (Holm-adjusted from {_pct(confidence)})"
                                   if not math.isclose(adjusted, confidence) else "")
    fmt = ".4g" if c.what == "value" else "+.4g"
    span = f"[{low:{fmt}}, {high:{fmt}}]"
    if stopped and not bad:
        message = (f"{c.describe}; not tested: Holm stops at the first gate that does not pass "
                   f"({level_text} interval on the {c.what} {span}, {c.rule} {c.threshold:.4g})")
    else:
        relation = {"pass": "<=" if c.bad_above else ">=", "fail": ">" if c.bad_above else "<",
                    "inconclusive": "straddles"}[verdict]
        message = f"{c.describe}; {level_text} interval on the {c.what} {span} {relation} {c.rule} {c.threshold:.4g}"
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
            claim = (f"a gain of at least {c.threshold:.4g}" if c.rule == "min_gain"
                     else f"a {c.what} of at most {c.threshold:.4g}")
            warning = f"{c.n} items cannot reliably show {claim} on {c.metric}: {detect}"
    c.result = GateResult(c.metric, c.rule, c.threshold, c.observed, high if c.bad_above else low,
                          verdict == "pass", message, verdict=verdict, interval=[low, high],
                          confidence=confidence, confidence_adjusted=adjusted, n=c.n, mde=mde,
                          underpowered=warning, tested=not (stopped and not bad))
    return verdict


def gating_summary(results: Iterable[GateResult], policy: GatePolicy | Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """What the record keeps about how the gates were judged (``record["gating"]``)."""
    policy = parse_gate_policy(policy or {})
    results = list(results)
    verdicts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    critical = [r for r in results if r.tier == "critical"]
    return {"on_inconclusive": policy.on_inconclusive, "multiplicity": policy.multiplicity,
            "adjust": "holm" if policy.multiplicity == "holm" else "none",  # what readers before multiplicity read
            "confidence": policy.confidence, "power": policy.power, "checks": len(results),
            "adjusted_over": sum(r.adjust == "holm" and r.confidence_adjusted is not None for r in results),
            "tiers": {t: sum(r.tier == t for r in results) for t in TIERS},
            "verdicts": verdicts,
            "critical_verdicts": {v: sum(r.verdict == v for r in critical) for v in VERDICTS},
            "underpowered": [r.underpowered for r in results if r.underpowered],
            "passed": gates_passed(results), "outcome": run_outcome([r.to_dict() for r in results])}


def describe_gating(gating: Mapping[str, Any]) -> str:
    """One line saying how a run's gates were judged (from :func:`gating_summary`)."""
    v = gating.get("verdicts") or {}
    conf = f"{gating.get('confidence', 0.95) * 100:.4g}%"
    m = gating.get("adjusted_over", 0)
    tiers = gating.get("tiers") or {}
    holm = f"Holm-adjusted across {m} check{'' if m == 1 else 's'} ({conf} family-wise)"
    if gating.get("multiplicity") == "all-must-pass":
        n = tiers.get("critical", 0)
        how = (f"multiplicity = all-must-pass: {n} critical check{'' if n == 1 else 's'} each at {conf} "
               "(the run passes only if all pass)")
        if tiers.get("advisory"):
            how += f"; {tiers['advisory']} advisory, {holm}"
    elif gating.get("multiplicity") == "holm" or gating.get("adjust") == "holm":
        how = ("multiplicity = holm: " if gating.get("multiplicity") else "") + f"confidence {holm}"
    else:
        how = f"no multiplicity adjustment ({conf} per check)"
    counts = f"{v.get('pass', 0)} pass, {v.get('fail', 0)} fail, {v.get('inconclusive', 0)} inconclusive"
    if tiers.get("advisory"):
        counts += f" ({tiers.get('critical', 0)} critical, {tiers['advisory']} advisory: never fail the run)"
    return f"verdicts: {counts} · on_inconclusive = {gating.get('on_inconclusive')} · {how}"


def run_outcome(gates: Iterable[Mapping[str, Any]], gates_passed: bool | None = None) -> str | None:
    """The run's three-valued gate outcome from its gate rules (``record["gates"]``, or the index's):
    ``failed`` (a critical gate failed), ``inconclusive (fail-closed)`` (none failed, but one
    inconclusive counts as failed), ``passed``, or ``passed (N inconclusive: on_inconclusive = warn)``.
    ``gates_passed`` decides for records without gate rules; None when there were no gates.

    It reads ``passed`` (advisory gates always count as passed) and ``verdict`` of each rule, so
    it also works on index summaries made before gates had tiers."""
    gates = [g for g in gates if isinstance(g, Mapping)]
    if not gates:
        return None if gates_passed is None else "passed" if gates_passed else "failed"
    verdict = lambda g: str(g.get("verdict") or ("pass" if g.get("passed") else "fail"))  # noqa: E731
    counted = [g for g in gates if not g.get("passed")]
    if any(verdict(g) == "fail" for g in counted):
        return "failed"
    if counted:
        return "inconclusive (fail-closed)"
    allowed = [g for g in gates if g.get("tier", "critical") == "critical" and verdict(g) == "inconclusive"]
    if allowed:
        return f"passed ({len(allowed)} inconclusive: on_inconclusive = {allowed[0].get('on_inconclusive', 'warn')})"
    return "passed"


def gates_passed(results: Iterable[GateResult]) -> bool | None:
    """True if every result passed, False if one failed, None when there were no gates."""
    results = list(results)
    return None if not results else all(r.passed for r in results)
