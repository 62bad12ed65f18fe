"""Choosing a checkpoint, or a sweep's run, on dev metrics: the ``[select]`` rule.

One rule serves the in-run selection (a ``[[train]]`` stage with ``evaluate_every``,
see :mod:`harness.run.pipeline`) and ``harness select SWEEP``. A *point* is one
candidate (a checkpoint, a run) with its dev metrics and its gate verdicts on dev.

* ``rule = "gates"``: the points whose dev metrics pass every gate; ``prefer =
  "earliest"`` (default) takes the first of them, ``prefer = "best"`` the one with
  the best ``metric``.
* ``rule = "metric"``: the best ``metric`` (``mode = "max" | "min"``, default:
  the metric's good direction) among the points that pass every gate (all
  points when the recipe has no gates).
* ``on_inconclusive = "pass" | "fail"`` (default: the ``[gates]`` policy) says whether a
  gate that is *inconclusive on dev* keeps a point in the running. Dev sets are often too
  small to show a bound; ``"pass"`` then means "not shown to fail on dev", while the
  verdict on test stays under the ``[gates]`` policy (fail closed by default).
* No point qualifies: ``on_none = "final"`` (default) keeps the last point and
  records ``fallback = true`` with the reason (the final gates on ``test`` still
  decide the verdict); ``on_none = "fail"`` fails the stage.

Light to import (recipe validation uses it): the standard library, pydantic and
:mod:`harness.verdicts.gates` (itself no heavier); the statistics are imported when used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, model_validator

from ..errors import HarnessError
from .gates import _per_item, _value, evaluate_gates

#: What every report says next to a selection.
SELECTION_NOTE = ("selection used dev items only; the final evaluation and the gates ran once, "
                  "on each [[evaluate]] table's own split")


class SelectSpec(BaseModel):
    """The recipe's ``[select]`` table (also built from ``harness select`` options)."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["gates", "metric"] = "gates"
    prefer: Literal["earliest", "best"] = "earliest"
    metric: str | None = None
    mode: Literal["max", "min"] | None = None
    on_none: Literal["final", "fail"] = "final"
    #: what an inconclusive gate on DEV counts as when choosing (None: the [gates] policy)
    on_inconclusive: Literal["pass", "fail"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _metric_means_metric_rule(cls, data: Any) -> Any:
        # `metric = "x"` alone asks to optimise it (under the gates), not to be ignored
        if isinstance(data, Mapping) and data.get("metric") and "rule" not in data and "prefer" not in data:
            return {**data, "rule": "metric"}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if self.metric is not None and "/" not in self.metric:
            raise ValueError(f"metric: names are 'suite/metric', e.g. 'quick_mc/acc' (got {self.metric!r})")
        if self.rule == "metric" and self.metric is None:
            raise ValueError('metric: rule = "metric" needs metric = "suite/metric" to optimise')
        if self.rule == "gates" and self.prefer == "best" and self.metric is None:
            raise ValueError('metric: prefer = "best" needs metric = "suite/metric" to rank the passing points')
        if self.rule == "metric" and self.prefer != "earliest":
            raise ValueError('prefer: only with rule = "gates" (rule = "metric" always takes the best)')
        if self.rule == "gates" and self.prefer == "earliest" and (self.metric or self.mode):
            raise ValueError('metric: rule = "gates" with prefer = "earliest" uses no metric; add '
                             'prefer = "best" to rank by it')
        return self

    def describe(self) -> str:
        lenient = " (inconclusive on dev counts as passing)" if self.on_inconclusive == "pass" else ""
        if self.rule == "gates" and self.prefer == "earliest":
            return f"earliest point passing every gate on dev{lenient}"
        mode = self.mode or "its good direction"
        under = "among points passing every gate on dev" if self.rule == "gates" else "under the gates on dev"
        return f"best {self.metric} ({mode}) {under}{lenient}"

    def dev_policy(self, policy: Any) -> Any:
        """The ``[gates]`` policy (a GatePolicy) with this table's ``on_inconclusive`` for dev."""
        return policy if self.on_inconclusive is None else policy.model_copy(
            update={"on_inconclusive": self.on_inconclusive})


@dataclass
class Point:
    """One candidate: ``order`` ranks "earliest" (a step, a sweep index); ``passed`` is
    whether its dev metrics pass every gate (None: there are no gates)."""

    label: str
    order: int
    metrics: dict[str, Any]
    passed: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Choice:
    point: Point | None
    reason: str
    fallback: bool = False
    qualifying: list[str] = field(default_factory=list)
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"selected": self.point.label if self.point else None, "reason": self.reason,
                "fallback": self.fallback, "qualifying": self.qualifying, "mode": self.mode}


class NoPointPasses(HarnessError, ValueError):
    """``on_none = "fail"`` and no point qualifies (the message says why)."""


def _mode(spec: SelectSpec, points: Sequence[Point]) -> str:
    if spec.mode:
        return spec.mode
    for p in points:
        entry = p.metrics.get(spec.metric or "")
        if isinstance(entry, Mapping) and "higher_is_better" in entry:
            return "max" if entry["higher_is_better"] else "min"
    return "max"


def choose(points: Sequence[Point], spec: SelectSpec, *, has_gates: bool, noun: str = "checkpoint") -> Choice:
    """Apply the rule; ``Choice.point`` is None when no point qualifies (see :func:`choose_or_fallback`)."""
    if spec.rule == "gates" and not has_gates:
        raise ValueError('[select] rule = "gates" needs a [gates] table')
    ordered = sorted(points, key=lambda p: p.order)
    qualifying = [p for p in ordered if p.passed] if has_gates else list(ordered)
    labels = [p.label for p in qualifying]
    lenient = ", inconclusive counted as passing" if spec.on_inconclusive == "pass" else ""
    of = f"{len(qualifying)} of {len(ordered)} {noun}s pass every gate on dev{lenient}" if has_gates else \
        f"{len(ordered)} {noun}s, no gates"
    if not qualifying:
        return Choice(None, f"no {noun} passes every gate on dev ({of})", qualifying=labels)
    if spec.rule == "gates" and spec.prefer == "earliest":
        return Choice(qualifying[0], f"earliest {noun} whose dev metrics pass every gate ({of})", qualifying=labels)
    metric = spec.metric or ""
    mode = _mode(spec, ordered)
    scored = [(p, v) for p in qualifying if (v := _value(p.metrics.get(metric))) is not None]
    if not scored:
        return Choice(None, f"no qualifying {noun} reports {metric} ({of})", qualifying=labels, mode=mode)
    best_value = (max if mode == "max" else min)(v for _, v in scored)
    best = next(p for p, v in scored if v == best_value)  # ties: the earliest
    return Choice(best, f"best {metric} ({mode}) = {best_value:.4g} among the qualifying {noun}s ({of})",
                  qualifying=labels, mode=mode)


def choose_or_fallback(points: Sequence[Point], spec: SelectSpec, *, has_gates: bool,
                       noun: str = "checkpoint") -> Choice:
    """:func:`choose`, then what ``on_none`` says when nothing qualifies: the last point
    (``fallback``), or :class:`NoPointPasses`."""
    choice = choose(points, spec, has_gates=has_gates, noun=noun)
    if choice.point is not None or not points:
        if not points:
            raise NoPointPasses(f"no {noun} to choose from")
        return choice
    if spec.on_none == "fail":
        raise NoPointPasses(f"{choice.reason}; [select] on_none = \"fail\"")
    last = max(points, key=lambda p: p.order)
    return Choice(last, f"{choice.reason}: kept the final {noun} ({last.label}) as [select] on_none = "
                        f"\"final\" says; the gates on test decide the verdict", fallback=True,
                  qualifying=choice.qualifying, mode=choice.mode)


# ------------------------------------------------------------------ dev gates and intervals


def with_intervals(metrics: Mapping[str, dict], samples: Sequence[dict], confidence: float = 0.95,
                   seed: int = 0) -> dict[str, dict]:
    """Each metric with ``interval`` = its ``confidence`` interval from the per-item scores
    (Clopper-Pearson for 0/1 scores, bootstrap otherwise; absent without per-item scores)."""
    from .stats import bootstrap_means, percentile_interval, proportion_interval

    out = {}
    for key, m in metrics.items():
        ys = _per_item(samples, key)
        entry = dict(m)
        if ys:
            if all(y in (0.0, 1.0) for y in ys):
                low, high = proportion_interval(int(sum(ys)), len(ys), confidence)
            else:
                low, high = percentile_interval(bootstrap_means(ys, seed=seed), confidence)
            entry["interval"] = [round(float(low), 6), round(float(high), 6)]
            entry["confidence"] = confidence
        out[key] = entry
    return out


def dev_gates(gates: Mapping[str, Any], policy: Any, *, base_metrics: dict, base_samples: list[dict],
              base_tasks: dict, metrics: dict, samples: list[dict], tasks: dict) -> list[dict[str, Any]]:
    """The recipe's gates judged on dev: this point's dev evaluation against the base model's
    (change gates are paired on the dev items; ``min``/``max`` on this point's dev interval)."""
    # "before" here is the run's starting model on the same dev items
    pseudo = {"metrics": {"before": base_metrics, "after": metrics}, "tasks": {**base_tasks, **tasks}}
    results = evaluate_gates(gates, pseudo, before_samples=base_samples, after_samples=samples, policy=policy)
    keep = ("metric", "rule", "threshold", "observed", "verdict", "passed", "interval", "confidence_adjusted",
            "message")
    return [{k: r.to_dict()[k] for k in keep} for r in results]


def passed(gates: Sequence[Mapping[str, Any]], on_inconclusive: str | None = None) -> bool | None:
    """Whether every gate passed (None: no gates); ``on_inconclusive`` re-judges the recorded
    verdicts under another policy (``harness select --on-inconclusive``)."""
    if not gates:
        return None
    if on_inconclusive is None:
        return all(g.get("passed") for g in gates)
    return all(g.get("verdict") == "pass" or (g.get("verdict") == "inconclusive" and on_inconclusive != "fail")
               for g in gates)


# ------------------------------------------------------------------ across a sweep's runs


def run_point(record: Mapping[str, Any], order: int, on_inconclusive: str | None = None
              ) -> tuple[Point | None, str]:
    """A sweep run as a point: its last selecting stage's chosen checkpoint (dev metrics and
    dev gate verdicts, re-judged under ``on_inconclusive`` when given); ``(None, why)`` for a
    run that has none."""
    if record.get("status") != "completed":
        return None, f"status {record.get('status')}"
    stages = [s for s in record.get("stages") or [] if s.get("checkpoints")]
    if not stages:
        return None, "no dev metrics: none of its [[train]] stages has evaluate_every"
    stage = stages[-1]
    step = (stage.get("selection") or {}).get("step")
    row = next((r for r in stage["checkpoints"] if r.get("step") == step), None) or stage["checkpoints"][-1]
    ok = row.get("passed") if on_inconclusive is None else passed(row.get("gates") or [], on_inconclusive)
    return Point(str(record.get("id")), order, row.get("metrics") or {}, ok,
                 {"name": record.get("name"), "stage": stage.get("name"), "step": row.get("step"),
                  "values": (record.get("sweep") or {}).get("point") or {}, "gates": row.get("gates") or []}), ""


def sweep_points(records: Sequence[Mapping[str, Any]], sweep_id: str, on_inconclusive: str | None = None
                 ) -> tuple[list[Point], list[dict[str, str]], dict[str, Any] | None]:
    """``(points, skipped runs with the reason, the first run's [select] table)`` of one sweep,
    in the order its runs were created; ``on_inconclusive`` re-judges their dev gates."""
    runs = sorted((r for r in records if (r.get("sweep") or {}).get("id") == sweep_id), key=lambda r: str(r.get("id")))
    points, skipped, spec = [], [], None
    for i, rec in enumerate(runs):
        point, why = run_point(rec, i, on_inconclusive)
        if point is None:
            skipped.append({"run": str(rec.get("id")), "reason": why})
        else:
            points.append(point)
        if spec is None:
            spec = ((rec.get("recipe") or {}).get("resolved") or {}).get("select")
    return points, skipped, spec
