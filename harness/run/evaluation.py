"""Evaluating the current model: every ``[[evaluate]]`` table through its evaluator, looked up
in the evaluation cache first (keyed by everything that changes a score)."""

from __future__ import annotations

from typing import Any

from .. import distributed
from ..contract.components import EvalContext, EvalResult
from ..fingerprint import code_fingerprint
from ..runtime import machine_key
from .environment import library_versions
from .recipe import EvaluateSection


class Evaluations:
    """Runs a recipe's evaluate sections on the run's current model (``run.model``)."""

    def __init__(self, run: Any):  # the harness.run.pipeline.Run it serves (which imports this module)
        self.run = run
        #: per [[evaluate]] table, its cache key under the loader's fingerprint (see preload)
        self.preload_keys: dict[int, str] = {}
        #: every table's cached result, when all were found under those keys: the model is not loaded
        self.preloaded: dict[int, EvalResult] | None = None
        self.preloaded_model: dict[str, Any] = {}

    def preload(self) -> None:
        """Cache keys that need no model: the loader's :meth:`~harness.ModelLoader.fingerprint` (files
        hashed, nothing built) in place of the loaded weights, tokenizer and generation settings.

        Kept per [[evaluate]] table in ``preload_keys`` (the "before" evaluation writes them as
        aliases of its entries); when there is no train stage and every table is found, the
        results are ``preloaded`` and the model is never loaded. One process, no resume.
        """
        run = self.run
        if run.cache is None or not run.recipe.evaluate or run.previous or distributed.is_distributed():
            return
        m = run.recipe.model
        try:
            loader_fp = run.use("model", "model", m.loader, m.params()).fingerprint()
            if loader_fp is None:
                return
            machine = machine_key()
            found = {}
            for i, section in enumerate(run.recipe.evaluate):
                parts = self.key_parts(*self.section_components(section)) if section.cache else None
                if parts is None:
                    continue
                self.preload_keys[i] = run.cache.key(model_fingerprint=f"loader:{loader_fp}",
                                                     generation={"machine": machine}, **parts)
                hit = run.cache.get_alias(self.preload_keys[i])
                if hit is not None:
                    found[i] = hit
        except Exception as exc:  # noqa: BLE001 - no shortcut; loading the model names the real problem
            run.log(f"    cache: no key without loading the model ({type(exc).__name__}: {exc})")
            self.preload_keys = {}
            return
        if not run.recipe.train and len(found) == len(run.recipe.evaluate):
            self.preloaded = {i: result for i, (result, _) in found.items()}
            self.preloaded_model = dict(found[0][1].get("model") or {})

    def section_components(self, section: EvaluateSection) -> tuple[Any, dict[str, Any]]:
        """The evaluator of an [[evaluate]] table and its safety filters, by name."""
        role = f"evaluate:{section.name or section.evaluator}"
        evaluator = self.run.use(role, "evaluator", section.evaluator, section.params())
        filters = {f.filter.split("/")[-1]: self.run.use(f"{role}:filter", "safety_filter", f.filter, f.params())
                   for f in section.filters}
        return evaluator, filters

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
        base_table = phase == "before" and i < len(self.run.recipe.evaluate) and section is self.run.recipe.evaluate[i]
        if self.preloaded is not None and base_table:
            self.run.log(f"    {section.evaluator}: cache hit, model not loaded ({self.preload_keys[i]})")
            return self.preloaded[i], True
        evaluator, filters = self.section_components(section)
        # rank 0 alone reads (and later writes) the cache; every rank follows its hit or miss
        key, hit = distributed.from_main(lambda: self.cache_lookup(evaluator, filters, section, phase))
        alias = self.preload_keys.get(i) if base_table and key is not None else None
        if hit is not None:
            self.run.log(f"    {evaluator.registered_as.fullname}: cache hit ({key})")
            if alias is not None and key is not None and self.run.cache is not None:
                # an entry written before aliases existed gets one
                self.run.cache.put_alias(alias, key, {"model": self.run.record["model"]})
            return hit, True
        ctx = EvalContext(phase=phase, seed=self.run.recipe.run.seed, work_dir=self.run.dir / "work" / f"{phase}-{i}",
                          filters=filters, log=self.run.log, recipe_dir=self.run.loaded.path and self.run.loaded.base_dir)
        result = evaluator.evaluate(self.run.model, ctx)
        # data-parallel evaluators gather on rank 0; rank 0's result is the run's on every rank
        result = distributed.broadcast_object(result)
        if key is not None and self.run.cache is not None and distributed.is_main():
            self.run.cache.put(key, result, {"run": self.run.run_id, "model": self.run.model.name})
            if alias is not None:
                self.run.cache.put_alias(alias, key, {"model": self.run.record["model"]})
        return result, False

    def key_parts(self, evaluator, filters: dict[str, Any]) -> dict[str, Any] | None:
        """Everything but the model in an evaluation's cache key; None: the evaluator opts out."""
        item_fp = evaluator.fingerprint()
        if item_fp is None:
            return None
        info = evaluator.registered_as
        version = self.run.host.plugins[info.plugin].version if info.plugin in self.run.host.plugins else None
        # a filter's code and weights decide verdicts too: an updated filter must miss the cache
        filter_fp = {n: [f.registered_as.fullname, f.params_dict(), type(f).code_fingerprint(), f.fingerprint()]
                     for n, f in filters.items()}
        return {"evaluator": info.fullname, "evaluator_version": version, "evaluator_code": code_fingerprint(info.cls),
                "evaluator_fingerprint": f"{item_fp}:{filter_fp}",
                "libraries": self.run.record["environment"].get("libraries") or library_versions()}

    def cache_lookup(self, evaluator, filters: dict[str, Any], section: EvaluateSection,
                      phase: str) -> tuple[str | None, EvalResult | None]:
        """The evaluation's cache key (None: not cached) and the cached result (None: a miss)."""
        if self.run.cache is None or not section.cache:
            return None, None
        parts = self.key_parts(evaluator, filters)
        if parts is None:
            return None, None
        key = self.run.cache.key(model_fingerprint=self.run.model.fingerprint(),
                                 tokenizer_fingerprint=self.run.model.tokenizer_fingerprint(),
                                 generation=self.run.model.generation_settings(), **parts)
        if self.run.record["model"].get("fingerprint") is None and phase == "before":
            self.run.record["model"]["fingerprint"] = self.run.model.fingerprint()
        return key, self.run.cache.get(key)
