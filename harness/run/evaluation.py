"""Evaluating the current model: every ``[[evaluate]]`` table through its evaluator, looked up
in the evaluation cache first (keyed by everything that changes a score)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import distributed
from ..contract.components import EvalContext, EvalResult
from ..fingerprint import code_fingerprint
from .environment import library_versions
from .recipe import EvaluateSection

if TYPE_CHECKING:
    from .pipeline import Run


class Evaluations:
    """Runs a recipe's evaluate sections on the run's current model (``run.model``)."""

    def __init__(self, run: "Run"):
        self.run = run

    def run_sections(self, sections: list[EvaluateSection], phase: str
                      ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], int, list[bool]]:
        """Every section on the current model: ``(metrics, samples, tasks, items, cache hits)``."""
        metrics: dict[str, Any] = {}
        samples: list[dict[str, Any]] = []
        tasks: dict[str, Any] = {}
        n_items, cached = 0, []
        for i, section in enumerate(sections):
            result, hit = self.evaluate_one(i, section, phase)
            label = section.name or section.evaluator
            cached.append(hit)
            for key, metric in result.metrics.items():
                metrics[key] = metric.to_dict()
            for suite, task in result.tasks.items():
                tasks[suite] = {**vars(task), "evaluator": label}
            for row in result.samples:
                samples.append({"evaluator": label, **row})
            n_items += len(result.samples)
        return metrics, samples, tasks, n_items, cached

    def evaluate_one(self, i: int, section: EvaluateSection, phase: str) -> tuple[EvalResult, bool]:
        role = f"evaluate:{section.name or section.evaluator}"
        evaluator = self.run.use(role, "evaluator", section.evaluator, section.params())
        filters = {f.filter.split("/")[-1]: self.run.use(f"{role}:filter", "safety_filter", f.filter, f.params())
                   for f in section.filters}
        # rank 0 alone reads (and later writes) the cache; every rank follows its hit or miss
        key, hit = distributed.from_main(lambda: self.cache_lookup(evaluator, filters, section, phase))
        if hit is not None:
            self.run.log(f"    {evaluator.registered_as.fullname}: cache hit ({key})")
            return hit, True
        ctx = EvalContext(phase=phase, seed=self.run.recipe.run.seed, work_dir=self.run.dir / "work" / f"{phase}-{i}",
                          filters=filters, log=self.run.log, recipe_dir=self.run.loaded.path and self.run.loaded.base_dir)
        result = evaluator.evaluate(self.run.model, ctx)
        # data-parallel evaluators gather on rank 0; rank 0's result is the run's on every rank
        result = distributed.broadcast_object(result)
        if key is not None and self.run.cache is not None and distributed.is_main():
            self.run.cache.put(key, result, {"run": self.run.run_id, "model": self.run.model.name})
        return result, False

    def cache_lookup(self, evaluator, filters: dict[str, Any], section: EvaluateSection,
                      phase: str) -> tuple[str | None, EvalResult | None]:
        """The evaluation's cache key (None: not cached) and the cached result (None: a miss)."""
        if self.run.cache is None or not section.cache:
            return None, None
        item_fp = evaluator.fingerprint()
        if item_fp is None:
            return None, None
        info = evaluator.registered_as
        version = self.run.host.plugins[info.plugin].version if info.plugin in self.run.host.plugins else None
        # a filter's code and weights decide verdicts too: an updated filter must miss the cache
        filter_fp = {n: [f.registered_as.fullname, f.params_dict(), type(f).code_fingerprint(), f.fingerprint()]
                     for n, f in filters.items()}
        key = self.run.cache.key(model_fingerprint=self.run.model.fingerprint(),
                             tokenizer_fingerprint=self.run.model.tokenizer_fingerprint(),
                             generation=self.run.model.generation_settings(),
                             evaluator=info.fullname, evaluator_version=version,
                             evaluator_code=code_fingerprint(info.cls),
                             evaluator_fingerprint=f"{item_fp}:{filter_fp}",
                             libraries=library_versions())
        if self.run.record["model"].get("fingerprint") is None and phase == "before":
            self.run.record["model"]["fingerprint"] = self.run.model.fingerprint()
        return key, self.run.cache.get(key)
