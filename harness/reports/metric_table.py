"""The one metric table: a comparison as rows, and the verdict per concern.

Every renderer — ``harness compare`` / ``show``, the markdown summary, JSON,
JUnit, the HTML report and the dashboard — draws these rows, so they cannot
disagree: ``a`` and ``b`` are the paired means when items were paired (else the
records' aggregates) and ``diff`` is always ``b − a``.

Each row is judged ``better`` / ``worse`` (the paired interval excludes 0),
``unchanged`` (the interval includes 0 and lies within ±``equivalence``, in the
metric's units: 0.05 = 5 points of a rate) or
``inconclusive`` (the interval includes 0 but is wider than that, or there is no
interval and the values differ). A concern (capability, harm, over-refusal,
other) takes the verdict of its headline rows: any worse → worse, else any
better → better, else any inconclusive → inconclusive, else unchanged.

Core module: standard library only.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..contract.components import CONCERNS

CONCERN_LABELS = {"capability": "capability", "harm": "harm", "over_refusal": "over-refusal", "other": "other"}
EQUIVALENCE = 0.05  # an interval within ±this (metric units) that includes 0 reads "unchanged"

# Fallback for records made before metrics carried a concern: by metric name.
_NAME_CONCERNS = (
    (re.compile(r"over_?refus|false_refus|overrefus"), "over_refusal"),
    (re.compile(r"harm|jailbreak|attack_success|\basr\b|unsafe|toxic|refusal_rate|compliance"), "harm"),
    (re.compile(r"^(acc|acc_norm|exact_match|em|f1|mc1|mc2|bleu|rouge|pass@|accuracy|score)"), "capability"),
)
# A metric that is one minus another of the same suite says the same thing twice.
COMPLEMENTS = {"refusal_rate": "harmful_compliance"}


def concern_of(metric: str, entry: Mapping[str, Any] | None = None) -> str:
    """The concern of ``metric`` ("suite/name"): the record's own ``concern`` field when
    set (records from before evaluators declared one lack it), else derived from the name
    (``harmful_compliance`` → harm, ``over_refusal`` → over_refusal, ``acc`` → capability),
    else ``other``."""
    declared = (entry or {}).get("concern")
    if declared in CONCERNS:
        return str(declared)
    name = metric.partition("/")[2] or metric
    for pattern, concern in _NAME_CONCERNS:
        if pattern.search(name):
            return concern
    return "other"


@dataclass
class MetricRow:
    """One metric of a comparison, as every renderer shows it."""

    metric: str
    suite: str
    name: str
    concern: str
    higher_is_better: bool
    n: int                       # paired items (0: aggregates only)
    a: float | None
    b: float | None
    diff: float | None           # b − a
    ci_low: float | None         # paired interval on diff
    ci_high: float | None
    p_value: float | None        # McNemar exact (0/1 scores)
    improved: int
    regressed: int
    significant: bool
    change: str                  # better | worse | unchanged | inconclusive
    parent: str | None = None    # "xstest/over_refusal" for "xstest/over_refusal/homonyms"
    hidden: bool = False         # a redundant complement (refusal_rate beside harmful_compliance)
    gate: str | None = None      # passed | failed | inconclusive | None (no gate)
    gate_messages: list[str] = field(default_factory=list)
    gate_bounds: list[dict[str, Any]] = field(default_factory=list)  # {"rule", "threshold"} per rule

    @property
    def improvement(self) -> float | None:
        """``diff`` signed so that positive is better."""
        return None if self.diff is None else (self.diff if self.higher_is_better else -self.diff)

    def improvement_interval(self) -> tuple[float, float] | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_low, self.ci_high) if self.higher_is_better else (-self.ci_high, -self.ci_low)

    @property
    def headline(self) -> bool:
        return self.parent is None and not self.hidden

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ConcernVerdict:
    concern: str
    change: str                  # better | worse | unchanged | inconclusive | none (no metric)
    mover: MetricRow | None      # the biggest mover in the direction of the verdict
    gate: str | None             # passed | failed | inconclusive | None (no gate on this concern)
    n_metrics: int

    @property
    def label(self) -> str:
        return CONCERN_LABELS.get(self.concern, self.concern)

    def text(self, with_mover: bool = False) -> str:
        out = f"{self.label} {self.change}"
        extras = []
        if self.gate == "failed":
            extras.append("gate failed")
        elif self.gate == "inconclusive":
            extras.append("gate inconclusive")
        if with_mover and self.mover is not None and self.mover.diff is not None and self.change != "unchanged":
            extras.append(f"{self.mover.metric} {_num(self.mover.a)} → {_num(self.mover.b)}")
        return out + (f" ({'; '.join(extras)})" if extras else "")

    def to_dict(self) -> dict[str, Any]:
        return {"concern": self.concern, "change": self.change, "gate": self.gate, "n_metrics": self.n_metrics,
                "mover": self.mover.metric if self.mover else None,
                "text": self.text(with_mover=True)}


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _change(diff: float | None, interval: tuple[float, float] | None, significant: bool,
            improvement: float | None, moved: int, equivalence: float) -> str:
    if diff is None:
        return "inconclusive"
    if interval is not None:
        if significant:
            return "better" if (improvement or 0) > 0 else "worse"
        if moved == 0 or max(abs(interval[0]), abs(interval[1])) <= equivalence:
            return "unchanged"
        return "inconclusive"
    return "unchanged" if abs(diff) < 1e-12 else "inconclusive"


def gate_outcome(gate: Mapping[str, Any]) -> str:
    """passed / failed / inconclusive for one gate rule: its three-valued ``verdict`` (pass,
    fail, inconclusive), or ``passed`` for records made before gates had verdicts."""
    named = {"pass": "passed", "fail": "failed", "inconclusive": "inconclusive"}
    return named.get(str(gate.get("verdict")), "passed" if gate.get("passed") else "failed")


def gate_word(gate: Mapping[str, Any]) -> str:
    """``PASS`` / ``FAIL`` / ``INCONCLUSIVE``: the verdict as the text reports print it."""
    return {"passed": "PASS", "failed": "FAIL", "inconclusive": "INCONCLUSIVE"}[gate_outcome(gate)]


def gate_verdict(gate: Mapping[str, Any]) -> str:
    """``pass`` / ``fail`` / ``inconclusive``; an inconclusive one says what the run's
    ``on_inconclusive`` counted it as: ``inconclusive (counts as failed)``."""
    state = gate_outcome(gate)
    if state == "inconclusive":
        return f"inconclusive (counts as {'passed' if gate.get('passed') else 'failed'})"
    return {"passed": "pass", "failed": "fail"}[state]


def gate_number(x: Any) -> str:
    """A gate's number (threshold, observed, bound, MDE) in a table: 4 significant digits, ``—`` when absent."""
    if x is None:
        return "—"
    return f"{x:.4g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def gate_confidence(gate: Mapping[str, Any]) -> str:
    """The level a gate's interval was judged at and how it was reached: ``97.5% (Holm)``,
    ``95% (unadjusted)``; ``—`` for a gate without an interval (it could not be judged, or
    the record is from before gates had intervals)."""
    level = gate.get("confidence_adjusted")
    if not isinstance(level, (int, float)):
        return "—"
    adjust = gate.get("adjust")
    base = gate.get("confidence")
    if adjust is None and isinstance(base, (int, float)) and abs(level - base) > 1e-12:
        adjust = "holm"  # records from before gates kept ``adjust``: only Holm moves the level
    return f"{level * 100:.4g}%" + {"holm": " (Holm)", "none": " (unadjusted)"}.get(str(adjust), "")


GATE_COLUMNS = ("verdict", "metric", "rule", "threshold", "observed", "bound", "confidence", "mde", "detail")


def gate_cells(gate: Mapping[str, Any]) -> dict[str, str]:
    """One gate rule as every gate table shows it (:data:`GATE_COLUMNS`): the three-valued
    verdict, the bound's numbers, the adjusted confidence, the minimum detectable effect."""
    return {"verdict": gate_verdict(gate), "metric": str(gate.get("metric") or ""), "rule": str(gate.get("rule") or ""),
            "threshold": gate_number(gate.get("threshold")), "observed": gate_number(gate.get("observed")),
            "bound": gate_number(gate.get("bound")), "confidence": gate_confidence(gate),
            "mde": gate_number(gate.get("mde")), "detail": str(gate.get("message") or "")}


def gate_state(gates: Sequence[Mapping[str, Any]]) -> str | None:
    """passed / failed / inconclusive for one metric's gate rules (None without any)."""
    if not gates:
        return None
    states = [gate_outcome(g) for g in gates]
    for s in ("failed", "inconclusive"):
        if s in states:
            return s
    return "passed"


def metric_rows(comparison: Any, gates: Iterable[Any] = (), *, record_a: Mapping | None = None,
                record_b: Mapping | None = None, equivalence: float = EQUIVALENCE) -> list[MetricRow]:
    """One :class:`MetricRow` per metric of ``comparison`` (a :class:`harness.verdicts.compare.Comparison`).

    ``gates``: gate results (``GateResult`` or their dicts) to attach to their metric;
    ``record_a`` / ``record_b``: the records compared, to read each metric's declared concern.
    """
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for g in gates:
        d = g.to_dict() if hasattr(g, "to_dict") else dict(g)
        by_metric.setdefault(str(d.get("metric")), []).append(d)
    entries = _metric_entries(record_a, comparison.a.get("phase")) | _metric_entries(record_b, comparison.b.get("phase"))
    names = {m.metric for m in comparison.metrics}
    rows = []
    for m in comparison.metrics:
        a = m.value_a if m.n_paired else m.aggregate_a
        b = m.value_b if m.n_paired else m.aggregate_b
        diff = m.diff if m.n_paired else (None if a is None or b is None else b - a)
        improvement = None if diff is None else (diff if m.higher_is_better else -diff)
        interval = m.improvement_interval() if m.n_paired else None
        parent = None
        if "/" in m.name:
            head = f"{m.suite}/{m.name.split('/', 1)[0]}"
            parent = head if head in names else None
        own = by_metric.get(m.metric, [])
        concern = getattr(m, "concern", None) or concern_of(m.metric, entries.get(m.metric))
        rows.append(MetricRow(
            metric=m.metric, suite=m.suite, name=m.name, concern=concern, higher_is_better=m.higher_is_better,
            n=m.n_paired, a=a, b=b, diff=diff, ci_low=m.ci_low if m.n_paired else None,
            ci_high=m.ci_high if m.n_paired else None, p_value=m.p_value, improved=m.improved,
            regressed=m.regressed, significant=bool(m.significant),
            change=_change(diff, interval, bool(m.significant), improvement, m.improved + m.regressed, equivalence),
            parent=parent, gate=gate_state(own), gate_messages=[str(g.get("message") or "") for g in own],
            gate_bounds=[{"rule": g.get("rule"), "threshold": g.get("threshold")} for g in own]))
    _hide_complements(rows)
    # children inherit the parent's concern (xstest/over_refusal/homonyms is over-refusal)
    concern = {r.metric: r.concern for r in rows}
    for r in rows:
        if r.parent:
            r.concern = concern.get(r.parent, r.concern)
    return rows


def _metric_entries(record: Mapping | None, phase: str | None) -> dict[str, Mapping]:
    if not record or not phase:
        return {}
    return dict(((record.get("metrics") or {}).get(phase)) or {})


def _hide_complements(rows: list[MetricRow]) -> None:
    by_key = {r.metric: r for r in rows}
    for r in rows:
        other = COMPLEMENTS.get(r.name)
        twin = by_key.get(f"{r.suite}/{other}") if other else None
        if twin is None:
            continue
        sums = [x + y for x, y in ((r.a, twin.a), (r.b, twin.b)) if x is not None and y is not None]
        if sums and all(abs(s - 1) < 1e-9 for s in sums) and not r.gate:
            r.hidden = True
            r.concern = twin.concern


def concern_verdicts(rows: Sequence[MetricRow], *, include_empty: bool = True) -> list[ConcernVerdict]:
    """One verdict per concern in :data:`harness.CONCERNS` order (``other`` only when it has metrics)."""
    out = []
    for concern in CONCERNS:
        mine = [r for r in rows if r.concern == concern and r.headline]
        gates = [r.gate for r in rows if r.concern == concern and r.gate]
        gate = "failed" if "failed" in gates else "inconclusive" if "inconclusive" in gates else (
            "passed" if gates else None)
        if not mine:
            if include_empty and concern != "other":
                out.append(ConcernVerdict(concern, "none", None, gate, 0))
            continue
        changes = {r.change for r in mine}
        change = next((c for c in ("worse", "better", "inconclusive") if c in changes), "unchanged")
        candidates = [r for r in mine if r.change == change and r.improvement is not None] or \
                     [r for r in mine if r.improvement is not None]
        mover = None
        if candidates:
            sign = -1 if change == "worse" else 1
            mover = max(candidates, key=lambda r: sign * (r.improvement or 0.0) if change in ("better", "worse")
                        else abs(r.improvement or 0.0))
        out.append(ConcernVerdict(concern, change, mover, gate, len(mine)))
    return out


def verdict_line(verdicts: Sequence[ConcernVerdict], sep: str = " · ") -> str:
    """``capability unchanged · harm better · over-refusal worse (gate failed)``."""
    return sep.join(v.text() for v in verdicts if v.change != "none") or "no metrics to compare"


def visible(rows: Sequence[MetricRow], *, show_all: bool = False) -> list[MetricRow]:
    """The rows a renderer shows by default: headline rows (no per-category children,
    no redundant complements); all rows with ``show_all``."""
    return list(rows) if show_all else [r for r in rows if r.headline]
