"""The loop: load model → prepare data → evaluate before → train stages → evaluate after
→ gates → store the record → reporters.

Every stage is timed and recorded as it ends (``record.partial.json``); a stage
that raises marks the run failed with the stage, the error and the results of
the stages before it kept. ``run.json`` is written last, atomically.

Each train stage's model is saved in the run folder (see :mod:`harness.store.artifacts`);
``Run(..., resume=RUN_ID)`` continues a failed or killed run in its own folder,
reusing the stages that completed (see :meth:`Run._reusable`).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import distributed
from ..contract.components import EvalContext, EvalResult, ModelHandle, TrainContext
from ..contract.events import RunEnded, RunStarted, StageEnded
from ..errors import HookFailed, RecipeError, StageError, StoreError
from ..fingerprint import code_fingerprint
from ..store import artifacts
from ..store.cache import EvalCache
from ..store.local import PARTIAL_FILE, RECORD_FILE, SCHEMA_VERSION, Store, read_jsonl, write_json, write_jsonl
from . import data_prep
from .checkpoints import CheckpointSelection
from .environment import environment, library_versions
from .recipe import EvaluateSection, LoadedRecipe


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class StageFailed(StageError):
    def __init__(self, stage: str, exc: BaseException):
        super().__init__(f"stage '{stage}' failed: {type(exc).__name__}: {exc}")
        self.stage = stage
        self.original = exc


class Run(CheckpointSelection):
    """One execution of a recipe against a store."""

    def __init__(self, loaded: LoadedRecipe, host, store: Store, *, use_cache: bool = True,
                 kind: str = "run", baseline: str | None = None, log: Callable[[str], None] = _echo,
                 resume: str | None = None, sweep: dict[str, Any] | None = None):
        self.loaded = loaded
        self.recipe = loaded.recipe
        self.host = host
        self.store = store
        self.cache = EvalCache() if use_cache else None
        self.log = log
        self.kind = kind
        self.baseline = baseline or (self.recipe.baseline.run if self.recipe.baseline else None)
        self.previous: dict[str, Any] | None = None
        distributed.init()  # under a launcher: the process group (accelerate), before any collective
        if distributed.is_distributed() and self._selects():
            # snapshots are written by rank 0 into its run folder; the other ranks could not load them
            raise RecipeError(str(loaded.path or "recipe"), [(
                "train.evaluate_every", f"checkpoint selection runs in one process; this run has "
                f"{distributed.world_size()} ranks. Run it without a launcher, or drop evaluate_every "
                "and [select] (docs/selection.md)")])
        if resume:
            self.previous = store.load(resume)
            _refuse_if_running(self.previous)
            self.run_id, self.dir = self.previous["id"], store.run_dir(self.previous["id"])
            self.kind = self.previous.get("kind", kind)
        else:
            # one run folder: rank 0 creates it, the other ranks write nothing into it
            self.run_id, self.dir = distributed.from_main(lambda: store.new_run_dir(self.recipe.run.name))
        # a sweep point (harness.run.sweep): its sweep id and grid values; a resumed point keeps them
        self.sweep = sweep or (self.previous or {}).get("sweep")
        self.started = time.time()
        self.components: list[dict[str, Any]] = list((self.previous or {}).get("components") or [])
        self.record: dict[str, Any] = self._skeleton()
        self.model_root = artifacts.artifact_root(self.dir, self.run_id, self.recipe.output.path)
        # a resume decides what it keeps before anything is written (a completed run is refused)
        self.reused, self.reload_from = self._reusable(self._plan()) if self.previous else ([], None)

    # ------------------------------------------------------------ record

    def _skeleton(self) -> dict[str, Any]:
        r = self.recipe
        tags = list(r.run.tags) + ([f"sweep:{self.sweep['id']}"] if self.sweep else [])
        return {
            "schema_version": SCHEMA_VERSION, "id": self.run_id, "name": r.run.name, "kind": self.kind,
            "description": r.run.description, "tags": tags, "status": "running", "gates_passed": None,
            "created_at": _now(), "finished_at": None, "duration_s": None, "seed": r.run.seed,
            "recipe": {"path": str(self.loaded.path) if self.loaded.path else None, "text": self.loaded.text,
                       "overrides": list(getattr(self.loaded, "overrides", []) or []),
                       "resolved": r.model_dump(mode="json")},
            "baseline": self.baseline,
            "components": self.components, "environment": self._environment(),
            "model": {}, "data": [], "stages": [], "metrics": {}, "tasks": {}, "samples": {},
            "training": [], "artifacts": [], "gates": [], "error": None,
            # who writes this folder: `harness resume` refuses a run whose process is still alive
            "process": {"host": socket.gethostname(), "pid": os.getpid()},
        } | ({"sweep": self.sweep} if self.sweep else {})

    def _environment(self) -> dict[str, Any]:
        env = environment(cwd=self.loaded.base_dir)
        device = None
        if distributed.is_distributed():
            from ..runtime import pick_device

            device = pick_device()[0]
        env["distributed"] = distributed.describe(device)
        return env

    def _save_partial(self) -> None:
        if not distributed.is_main():
            return
        write_json(self.dir / PARTIAL_FILE, self.record)
        try:  # a remote store uploads what the stage wrote; a failed upload is retried at the next one
            self.store.publish(self.run_id)
        except StoreError as exc:
            self.log(f"    warning: {exc}")

    def _use(self, role: str, kind: str, name: str, params: dict) -> Any:
        comp = self.host.create(kind, name, params)
        entry = {"role": role, **comp.registered_as.describe(self.host), "params": comp.params_dict()}
        if entry not in self.components:  # evaluators are created again for the "after" phase
            self.components.append(entry)
        return comp

    # ------------------------------------------------------------ stages

    def _stage(self, name: str, kind: str, fn: Callable[[], dict[str, Any] | None]) -> None:
        self.log(f"==> {name}")
        entry: dict[str, Any] = {"name": name, "kind": kind, "status": "running", "started_at": _now()}
        self.record["stages"].append(entry)
        t0 = time.perf_counter()
        try:
            summary = fn() or {}
        except BaseException as exc:
            if isinstance(exc, Exception):  # every rank stops here, not only this one
                distributed.failed_ranks(exc)
            self._stage_failed(entry, name, kind, t0, exc)
        entry.update(status="ok", duration_s=round(time.perf_counter() - t0, 3), **summary)
        self._save_partial()
        hook_failures = self._main_hooks(
            "on_stage_end", event=StageEnded(self.run_id, name, kind, "ok", entry["duration_s"], summary))
        peer = distributed.peers_failed(hook_failures[0] if hook_failures else None)
        if peer is not None:
            self._stage_failed(entry, name, kind, t0, peer)
        self._raise_first(hook_failures, name)
        self.log(f"    {name}: {entry['duration_s']:.1f}s")

    def _stage_failed(self, entry: dict[str, Any], name: str, kind: str, t0: float, exc: BaseException):
        entry.update(status="failed", duration_s=round(time.perf_counter() - t0, 3),
                     error=f"{type(exc).__name__}: {exc}")
        self.record["error"] = {"stage": name, "type": type(exc).__name__, "message": str(exc),
                                "traceback": "".join(traceback.format_exception(exc))}
        self._save_partial()
        # the stage's own error is the run's error; a hook failing on top of it is only noted
        self._note_hook_failures(self._main_hooks(
            "on_stage_end", event=StageEnded(self.run_id, name, kind, "failed", entry["duration_s"], {},
                                             str(exc))))
        raise StageFailed(name, exc) from exc

    def _main_hooks(self, hook: str, **kwargs: Any) -> list[HookFailed]:
        """Lifecycle hooks run on rank 0 only (trackers, notifiers: one run, one call)."""
        return self.host.call_each(hook, **kwargs) if distributed.is_main() else []

    def _load_model(self) -> dict[str, Any]:
        m = self.recipe.model
        self.model: ModelHandle = self._use("model", "model", m.loader, m.params()).load()
        # no weight hashing when the cache is off: the fingerprint is recorded if something computes it
        self.record["model"] = self.model.describe(fingerprint=self.cache is not None and distributed.is_main())
        return {"device": self.model.device, "dtype": self.model.dtype}

    def _reload_saved(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Resume: the model the last reused train stage saved, on the base model's device/dtype."""
        folder = artifacts.resolve_path(entry, self.dir)
        base = (self.previous or {}).get("model") or {}
        self.model = artifacts.load_saved(folder, name=base.get("name") or folder.name,
                                          loader=base.get("loader") or "run", device=base.get("device", "cpu"),
                                          dtype=base.get("dtype", "float32"),
                                          meta={"reloaded_from": entry["path"]})
        self.model.use_saved(folder, entry["fingerprint"])
        return {"device": self.model.device, "dtype": self.model.dtype, "resumed": "reloaded",
                "reloaded_from": entry["path"]}

    def _prepare_data(self) -> dict[str, Any]:
        self.datasets = {}
        self.record["data"] = []  # a resumed run prepares its data again
        for d in self.recipe.data:
            source = self._use(f"data:{d.name}", "data_source", d.source, d.params())
            examples = source.load(seed=self.recipe.run.seed)
            filters: list[tuple[Any, str, str]] = [
                (self._use(f"data:{d.name}:filter", "safety_filter", f.filter, f.params()), f.action, f.on)
                for f in d.filters]
            data, report = data_prep.prepare(d.name, d.source, source.data_format(), examples, filters,
                                             d.pair_checks, self.host.filter_detecting,
                                             formats=lambda n: self.host.resolve("data_format", n).cls)
            self.datasets[d.name] = data
            if getattr(source, "stats", None):  # e.g. rows a bundled source skipped, and why
                report["source_stats"] = source.stats
            self.record["data"].append(report)
            self.log(f"    {d.name}: {report['rows_in']} rows in, {report['rows_out']} kept")
        return {"rows": {name: len(ds.examples) for name, ds in self.datasets.items()}}

    def _run_sections(self, sections: list[EvaluateSection], phase: str
                      ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], int, list[bool]]:
        """Every section on the current model: ``(metrics, samples, tasks, items, cache hits)``."""
        metrics: dict[str, Any] = {}
        samples: list[dict[str, Any]] = []
        tasks: dict[str, Any] = {}
        n_items, cached = 0, []
        for i, section in enumerate(sections):
            result, hit = self._evaluate_one(i, section, phase)
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

    def _evaluate(self, phase: str) -> dict[str, Any]:
        metrics, samples, tasks, n_items, cached = self._run_sections(self.recipe.evaluate, phase)
        self.record["tasks"].update(tasks)
        self.record["metrics"][phase] = metrics
        rel = f"samples/{phase}.jsonl"
        if distributed.is_main():
            write_jsonl(self.dir / rel, samples)
        self.record["samples"][phase] = rel
        for key, m in sorted(metrics.items()):
            err = f" ± {m['stderr']:.3f}" if m.get("stderr") is not None else ""
            self.log(f"    {key:<40} {m['value']:.3f}{err}")
        return {"items": n_items, "cached": all(cached) if cached else False}

    def _evaluate_one(self, i: int, section: EvaluateSection, phase: str) -> tuple[EvalResult, bool]:
        role = f"evaluate:{section.name or section.evaluator}"
        evaluator = self._use(role, "evaluator", section.evaluator, section.params())
        filters = {f.filter.split("/")[-1]: self._use(f"{role}:filter", "safety_filter", f.filter, f.params())
                   for f in section.filters}
        # rank 0 alone reads (and later writes) the cache; every rank follows its hit or miss
        key, hit = distributed.from_main(lambda: self._cache_lookup(evaluator, filters, section, phase))
        if hit is not None:
            self.log(f"    {evaluator.registered_as.fullname}: cache hit ({key})")
            return hit, True
        ctx = EvalContext(phase=phase, seed=self.recipe.run.seed, work_dir=self.dir / "work" / f"{phase}-{i}",
                          filters=filters, log=self.log, recipe_dir=self.loaded.path and self.loaded.base_dir)
        result = evaluator.evaluate(self.model, ctx)
        # data-parallel evaluators gather on rank 0; rank 0's result is the run's on every rank
        result = distributed.broadcast_object(result)
        if key is not None and self.cache is not None and distributed.is_main():
            self.cache.put(key, result, {"run": self.run_id, "model": self.model.name})
        return result, False

    def _cache_lookup(self, evaluator, filters: dict[str, Any], section: EvaluateSection,
                      phase: str) -> tuple[str | None, EvalResult | None]:
        """The evaluation's cache key (None: not cached) and the cached result (None: a miss)."""
        if self.cache is None or not section.cache:
            return None, None
        item_fp = evaluator.fingerprint()
        if item_fp is None:
            return None, None
        info = evaluator.registered_as
        version = self.host.plugins[info.plugin].version if info.plugin in self.host.plugins else None
        # a filter's code and weights decide verdicts too: an updated filter must miss the cache
        filter_fp = {n: [f.registered_as.fullname, f.params_dict(), type(f).code_fingerprint(), f.fingerprint()]
                     for n, f in filters.items()}
        key = self.cache.key(model_fingerprint=self.model.fingerprint(),
                             tokenizer_fingerprint=self.model.tokenizer_fingerprint(),
                             generation=self.model.generation_settings(),
                             evaluator=info.fullname, evaluator_version=version,
                             evaluator_code=code_fingerprint(info.cls),
                             evaluator_fingerprint=f"{item_fp}:{filter_fp}",
                             libraries=library_versions())
        if self.record["model"].get("fingerprint") is None and phase == "before":
            self.record["model"]["fingerprint"] = self.model.fingerprint()
        return key, self.cache.get(key)

    def _train(self, i: int) -> dict[str, Any]:
        section = self.recipe.train[i]
        trainer = self._use(f"train:{i}", "trainer", section.trainer, section.params())
        data = self.datasets[section.data]
        stage = section.name or f"train-{i}-{section.trainer}"
        final = i == len(self.recipe.train) - 1
        save = self.recipe.output.save == "stages" or (self.recipe.output.save == "final" and final)
        work = self.dir / "work" / stage
        checkpoint = self._checkpoint(work) if self.previous else None
        ctx = TrainContext(stage=stage, seed=self.recipe.run.seed, output_dir=work, log=self.log,
                           resume_from_checkpoint=str(checkpoint) if checkpoint else None,
                           adapter_dir=work / "adapter-written" if save and distributed.is_main() else None,
                           recipe_dir=self.loaded.path and self.loaded.base_dir,
                           rewards=self._rewards(i, section),
                           weights_dtype=_explicit_dtype(self.recipe.model.params()), **self._tracker_context(),
                           **self._snapshot_context(stage, work, section.evaluate_every))
        if checkpoint:
            self.log(f"    resuming {stage} from {checkpoint.relative_to(self.dir)}")
        result = trainer.train(self.model, data, ctx)
        self.model = result.model
        self.model.weights_changed()
        summary: dict[str, Any] = {}
        if section.evaluate_every:  # the [select]ed checkpoint becomes this stage's model
            summary.update(self._select_checkpoint(stage, work, self.record["stages"][-1]))
        if checkpoint:
            summary["resumed"] = "from_checkpoint"
            summary["resumed_from_checkpoint"] = checkpoint.relative_to(self.dir).as_posix()
        if save and distributed.is_main():  # the ranks hold the same weights: one copy is saved
            summary["saved"] = self._save_stage(stage, final, self._selected_adapter(summary, ctx.adapter_dir))
        if section.evaluate_every:
            self._drop_snapshots(work, saved=save)
        rel = f"train/{i}-{section.trainer}.jsonl"
        if distributed.is_main():
            write_jsonl(self.dir / rel, result.log)
        self.record["training"].append({"stage": stage, "trainer": section.trainer, "data": section.data,
                                        "examples": len(data.examples), "log": rel,
                                        "metrics": result.metrics})
        throughput = {k: v for k, v in result.metrics.items()
                      if k in ("train_samples_per_second", "train_steps_per_second", "tokens_per_second")}
        return {"throughput": throughput, **summary}

    def _save_stage(self, stage: str, final: bool, adapter_written: Path | None) -> list[str]:
        """Keep this stage's model (and LoRA adapter); a failed save fails the stage."""
        folder = artifacts.stage_folder(self.model_root, stage, final=final)
        entries = []
        adapter = adapter_written is not None and (adapter_written / "adapter_config.json").is_file()
        if adapter and adapter_written is not None:
            entries.append(artifacts.keep_adapter(adapter_written, folder / "adapter", stage=stage,
                                                  run_dir=self.dir))
        if self.recipe.output.merge or not adapter:
            entries.append(artifacts.save_model(self.model, folder / "model", stage=stage, run_dir=self.dir))
        self.record["artifacts"] = [a for a in self.record["artifacts"] if a["stage"] != stage] + entries
        for e in entries:
            self.log(f"    saved {e['kind']} → {e['path']} ({e['bytes'] / 1e6:.1f} MB, {e['fingerprint']})")
        return [e["path"] for e in entries]

    @staticmethod
    def _checkpoint(work: Path) -> Path | None:
        """The newest complete Trainer checkpoint a killed stage left (``save_steps``)."""
        found = [p for p in work.glob("checkpoint-*") if (p / "trainer_state.json").is_file()
                 and p.name.split("-")[-1].isdigit()]
        return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None

    def _evaluate_after(self) -> dict[str, Any]:
        summary = self._evaluate("after")
        # the saved files' hash when the model was saved; else hashed only if the cache needed it
        self.record["model"]["fingerprint_after"] = (self.model.fingerprint() if self.model.files
                                                     else self.model.fingerprint_known)
        return summary

    def _tracker_context(self) -> dict[str, Any]:
        """TrainContext fields from the recipe's tracker reporters: training lands in their runs."""
        report_to, extra = [], {}
        for section in self.recipe.report:
            try:
                reporter = self._use("report", "reporter", section.reporter, section.params())
            except Exception:  # noqa: BLE001 - a reporter that cannot be created fails when reported
                continue
            wanted = reporter.train_report_to({"id": self.run_id, "name": self.recipe.run.name})
            if wanted:
                wanted = dict(wanted)
                report_to.append(wanted.pop("report_to"))
                extra.update(wanted)
        return {"report_to": report_to, "run_name": self.run_id, "tracker_args": extra} if report_to else {}

    def _rewards(self, i: int, section) -> list:
        """The stage's reward functions, created through the host with the safety filters they ask for."""
        rewards = []
        for ref in section.rewards:
            reward = self._use(f"train:{i}:reward", "reward_function", ref.reward, ref.params())
            reward.bind({slot: self._use(f"train:{i}:reward:filter", "safety_filter", name, {})
                         for slot, name in reward.filters_needed().items()})
            rewards.append(reward)
        return rewards

    # ------------------------------------------------------------ gates

    def _gates(self) -> dict[str, Any]:
        if not self.recipe.gates or not distributed.is_main():  # rank 0's verdict is every rank's
            return {}
        from ..reports.render import gate_lines
        from ..verdicts.gates import describe_gating, evaluate_gates, gating_summary

        reference = None
        if self.baseline:
            ref_store = Store(self.recipe.baseline.store) if self.recipe.baseline and self.recipe.baseline.store \
                else self.store
            ref = ref_store.load(self.baseline)
            ref_phase = "after" if ref.get("metrics", {}).get("after") else "before"
            reference = (ref, ref_store.samples(ref["id"], ref_phase))
        results = evaluate_gates(self.recipe.gates, self.record,
                                 before_samples=read_jsonl(self.dir / "samples" / "before.jsonl"),
                                 after_samples=read_jsonl(self.dir / "samples" / "after.jsonl"),
                                 reference=reference, policy=self.recipe.gating)
        self.record["gates"] = [g.to_dict() for g in results]
        self.record["gates_passed"] = all(g.passed for g in results)
        self.record["gating"] = gating_summary(results, self.recipe.gating)
        for line in gate_lines(results):
            self.log(f"    gate {line}" if not line.startswith(" ") else f"    {line.strip()}")
        self.log(f"    {describe_gating(self.record['gating'])}")
        return {}

    # ------------------------------------------------------------ run

    def execute(self) -> dict[str, Any]:
        """Run every stage; the record is always finalised (``completed`` or ``failed``, never ``running``).

        One rule for failures: anything raised (a stage, a lifecycle hook, a required
        reporter) fails the run, with the stage, hook and plugin named in ``error``;
        an ``on_run_end`` hook or an optional reporter failing is recorded in
        ``post_run_errors`` and leaves the verdict alone.
        """
        self.log(f"run {self.run_id} → {self.dir}")
        self._save_partial()
        try:
            failures = self._main_hooks(
                "on_run_start", event=RunStarted(self.run_id, self.dir, self.recipe.model_dump(mode="json"),
                                                 self.components))
            peer = distributed.peers_failed(failures[0] if failures else None)
            if peer is not None:
                raise peer
            self._raise_first(failures, None)
            plan, reused, reload_from = self._plan(), self.reused, self.reload_from
            todo = [(n, k) for n, k, _ in plan if n not in reused and k not in ("load", "data")]
            for name, kind, fn in plan:
                if name in reused:
                    self._reuse(name)
                elif kind == "load":
                    if any(k in ("train", "evaluate") for _, k in todo):
                        self._stage("load", "load", (lambda: self._reload_saved(reload_from)) if reload_from
                                    else fn)
                elif kind == "data" and reused and not any(k == "train" for _, k in todo):
                    self._reuse(name)
                else:
                    self._stage(name, kind, fn)
            self.record["status"] = "completed"
        except StageFailed as exc:
            self.record["status"] = "failed"
            self.log(f"run failed in stage '{exc.stage}': {exc.original}")
        except HookFailed as exc:
            self.record["status"] = "failed"
            self.log(f"run failed: {exc}")
        except KeyboardInterrupt:
            self.record["status"] = "failed"
            self.record["error"] = {"stage": None, "type": "KeyboardInterrupt", "message": "interrupted"}
            raise
        except Exception as exc:  # a bug in the loop itself: still leave a finalised record
            self.record["status"] = "failed"
            self.record["error"] = _error_entry(None, exc)
            self.log(f"run failed: {type(exc).__name__}: {exc}")
        finally:
            self._finalise()
        if not distributed.is_main():  # rank 0 reports; this rank ends with rank 0's verdict
            verdict: dict[str, Any] = distributed.broadcast_object({})
            self.record.update(verdict)
            return self.record
        post = self._report()
        post += [_error_entry(None, f, hook=f.hook, plugin=f.plugin) for f in self.host.call_each(
            "on_run_end", event=RunEnded(self.run_id, self.dir, self.record["status"], self.record))]
        distributed.broadcast_object({k: self.record[k] for k in ("status", "gates_passed", "error")})
        if post:
            for entry in post:
                self.log(f"after the run: {entry['type']}: {entry['message']}")
            self.record["post_run_errors"] = post
            write_json(self.dir / RECORD_FILE, self.record)  # the same record plus what failed after it
            self.store.publish(self.run_id)
        return self.record

    def _finalise(self) -> None:
        if self.record["status"] == "running":
            self.record["status"] = "failed"
        self.record["finished_at"] = _now()
        self.record["duration_s"] = round(time.time() - self.started, 3)
        if not distributed.is_main():
            return
        write_json(self.dir / RECORD_FILE, self.record)
        (self.dir / PARTIAL_FILE).unlink(missing_ok=True)
        _remove_if_empty(self.dir / "work")
        self.store.publish(self.run_id)  # a remote store: every file, run.json last, then its index entry

    def _raise_first(self, failures: list[HookFailed], stage: str | None) -> None:
        """A lifecycle hook that raised fails the run: the record's error names hook and plugin."""
        if not failures:
            return
        first = failures[0]
        self.record["error"] = _error_entry(stage, first, hook=first.hook, plugin=first.plugin)
        self._note_hook_failures(failures[1:])
        raise first

    def _note_hook_failures(self, failures: list[HookFailed]) -> None:
        for f in failures:
            self.log(f"    {f}")
            self.record.setdefault("hook_errors", []).append(
                _error_entry(None, f, hook=f.hook, plugin=f.plugin))

    def _plan(self) -> list[tuple[str, str, Callable[[], dict[str, Any] | None]]]:
        """The stages of this recipe, in order: ``(name, kind, function)``."""
        plan: list[tuple[str, str, Callable[[], dict[str, Any] | None]]] = [("load", "load", self._load_model)]
        if self.recipe.data:
            plan.append(("data", "data", self._prepare_data))
        if self.recipe.evaluate:
            plan.append(("evaluate-before", "evaluate", lambda: self._evaluate("before")))
        if self.recipe.evaluate and self._selects():
            plan.append(("evaluate-before-dev", "evaluate", self._evaluate_dev_base))
        for i, t in enumerate(self.recipe.train):
            plan.append((t.name or f"train-{i}-{t.trainer}", "train", functools.partial(self._train, i)))
        if self.recipe.train and self.recipe.evaluate:
            plan.append(("evaluate-after", "evaluate", self._evaluate_after))
        if self.recipe.gates:
            plan.append(("gates", "gates", lambda: self._gates() or {}))
        return plan

    def _reusable(self, plan) -> tuple[list[str], dict[str, Any] | None]:
        """Which completed stages of the previous attempt a resume keeps, and the saved model to
        reload (None: the base model).

        The completed prefix of the stages is kept up to the last train stage whose model was
        saved (train stages after it only ever held their model in memory: they run again),
        plus the non-train stages right after it.
        """
        prev = self.previous or {}
        old = {s["name"]: s for s in prev.get("stages") or []}
        names = [n for n, k, _ in plan if k not in ("load", "data")]
        trains = {n for n, k, _ in plan if k == "train"}
        prefix = []
        for n in names:
            if old.get(n, {}).get("status") != "ok":
                break
            prefix.append(n)
        saved = {a["stage"]: a for a in prev.get("artifacts") or []
                 if a.get("kind") == "model" and artifacts.resolve_path(a, self.dir).is_dir()}
        cut = next((j for j, n in enumerate(prefix) if n in trains), len(prefix))
        reload_from = None
        for j, n in enumerate(prefix):
            if n in saved:
                reload_from = saved[n]
                cut = j + 1
                while cut < len(prefix) and prefix[cut] not in trains:
                    cut += 1
        keep = prefix[:cut]
        if keep and len(keep) == len(names) and prev.get("status") == "completed":
            raise ValueError(f"run {self.run_id} is completed: nothing to resume")
        self._restore(keep, old)
        self.log(f"resuming {self.run_id}: reusing {', '.join(keep) or 'no stage'}; "
                 f"model from {reload_from['path'] if reload_from else 'the base model'}")
        return keep, reload_from

    def _restore(self, keep: list[str], old: dict[str, dict]) -> None:
        """Carry the kept stages' results from the previous attempt into this record."""
        prev, rec = self.previous or {}, self.record
        rec["created_at"] = prev.get("created_at", rec["created_at"])
        rec["attempts"] = list(prev.get("attempts") or []) + [
            {k: prev.get(k) for k in ("status", "created_at", "finished_at", "error")}
            | {"stages": [{k: s.get(k) for k in ("name", "status", "duration_s")} for s in prev.get("stages") or []]}]
        rec["model"] = dict(prev.get("model") or {})
        rec["data"] = list(prev.get("data") or [])
        for phase, stage in (("before", "evaluate-before"), ("after", "evaluate-after")):
            if stage in keep:
                rec["metrics"][phase] = prev["metrics"][phase]
                rec["samples"][phase] = prev["samples"][phase]
        rec["tasks"] = dict(prev.get("tasks") or {}) if "evaluate-before" in keep else {}
        if "evaluate-before-dev" in keep and prev.get("selection"):
            rec["selection"] = prev["selection"]
        rec["training"] = [t for t in prev.get("training") or [] if t.get("stage") in keep]
        rec["artifacts"] = [a for a in prev.get("artifacts") or [] if a.get("stage") in keep]
        rec["resumed"] = {"at": _now(), "reused": keep, "attempt": len(rec["attempts"]) + 1}

    def _reuse(self, name: str) -> None:
        old = next(s for s in reversed((self.previous or {}).get("stages") or []) if s["name"] == name)
        self.record["stages"].append({**old, "resumed": "reused"})
        self.log(f"==> {name} (reused from the previous attempt)")
        self._save_partial()

    def _report(self) -> list[dict[str, Any]]:
        """Run the recipe's reporters; a failing ``required`` one fails the run (exit 2)."""
        failures = []
        for section in self.recipe.report:
            try:
                self._use("report", "reporter", section.reporter, section.params()).report(self.record, self.dir)
            except Exception as exc:  # a reporter never loses the stored run
                required = section.required
                entry = _error_entry("report", exc, reporter=section.reporter, required=required)
                failures.append(entry)
                if required and self.record["status"] == "completed":
                    self.record["status"] = "failed"
                    self.record["error"] = entry
        return failures


def _error_entry(stage: str | None, exc: BaseException, **extra: Any) -> dict[str, Any]:
    """The record's description of a failure: where, what, and (for a hook) which plugin."""
    original = getattr(exc, "original", exc)
    message = str(exc)
    if "reporter" in extra:
        message = f"reporter '{extra['reporter']}' failed: {message}"
    return {"stage": stage, "type": type(exc).__name__, "message": message, **extra,
            "traceback": "".join(traceback.format_exception(original))}


def _explicit_dtype(model_params: dict[str, Any]) -> str | None:
    """The weight dtype a recipe's [model] table asks for by name ("auto" or unset: none)."""
    dtype = model_params.get("dtype")
    return dtype if isinstance(dtype, str) and dtype != "auto" else None


def _refuse_if_running(previous: dict[str, Any]) -> None:
    """An incomplete run whose process is alive on this host is still running, not killed."""
    proc = previous.get("process") or {}
    if previous.get("status") != "incomplete" or proc.get("host") != socket.gethostname() or not proc.get("pid"):
        return
    try:
        os.kill(int(proc["pid"]), 0)
    except (ProcessLookupError, PermissionError, ValueError, OverflowError):
        return
    raise ValueError(f"run {previous['id']} is still running (pid {proc['pid']} on this host); "
                     f"resume it once that process has stopped")


def _remove_if_empty(folder: Path) -> None:
    """Drop the scratch folder when stages left nothing in it (no checkpoints asked for)."""
    if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder)


def run_recipe(loaded: LoadedRecipe, host, store: Store, **kwargs: Any) -> dict[str, Any]:
    return Run(loaded, host, store, **kwargs).execute()

