"""The loop: load model → prepare data → evaluate before → train stages → evaluate after
→ gates → store the record → reporters.

Every stage is timed and recorded as it ends (``record.partial.json``); a stage
that raises marks the run failed with the stage, the error and the results of
the stages before it kept. ``run.json`` is written last, atomically.

What each stage does is in :mod:`.stages` (evaluations through :mod:`.evaluation`,
checkpoint selection through :mod:`.checkpoints`); this module orders, times and records
them. ``Run(..., resume=RUN_ID)`` continues a failed or killed run in its own folder,
reusing the stages that completed (:mod:`.resume`).
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
from ..contract.components import ModelHandle
from ..contract.events import RunEnded, RunStarted, StageEnded
from ..errors import HookFailed, RecipeError, StageError, StoreError
from ..store import artifacts
from ..store.cache import EvalCache
from ..store.local import PARTIAL_FILE, RECORD_FILE, SCHEMA_VERSION, Store, write_json
from . import resume as resuming
from .checkpoints import CheckpointSelector
from .environment import environment
from .evaluation import Evaluations
from .recipe import LoadedRecipe
from .stages import Stages


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class StageFailed(StageError):
    def __init__(self, stage: str, exc: BaseException):
        super().__init__(f"stage '{stage}' failed: {type(exc).__name__}: {exc}")
        self.stage = stage
        self.original = exc


class ReporterCannotRun(StageError):
    """A ``required`` reporter's ``check()`` failed before the first stage (its tracker does not answer)."""


class Run:
    """One execution of a recipe against a store: its record, its folder and its stages in order."""

    #: the current model: set by the load stage, replaced by each train stage
    model: ModelHandle

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
        self.datasets: dict[str, Any] = {}
        #: indexes of [[report]] tables left out of this run: their check() failed (_check_reporters)
        self.skipped_reporters: set[int] = set()
        self.stages = Stages(self)
        self.evaluations = Evaluations(self)
        self.checkpoints = CheckpointSelector(self)
        distributed.init()  # under a launcher: the process group (accelerate), before any collective
        if distributed.is_distributed() and self.checkpoints.selects():
            # snapshots are written by rank 0 into its run folder; the other ranks could not load them
            raise RecipeError(str(loaded.path or "recipe"), [(
                "train.evaluate_every", f"checkpoint selection runs in one process; this run has "
                f"{distributed.world_size()} ranks. Run it without a launcher, or drop evaluate_every "
                "and [select] (docs/selection.md)")])
        if resume:
            self.previous = store.load(resume)
            resuming.refuse_if_running(self.previous)
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
        self.reused, self.reload_from = self._resume_plan() if self.previous else ([], None)

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

    def save_partial(self) -> None:
        if not distributed.is_main():
            return
        write_json(self.dir / PARTIAL_FILE, self.record)
        try:  # a remote store uploads what the stage wrote; a failed upload is retried at the next one
            self.store.publish(self.run_id)
        except StoreError as exc:
            self.log(f"    warning: {exc}")

    def use(self, role: str, kind: str, name: str, params: dict) -> Any:
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
        except BaseException as exc:  # noqa: BLE001 - re-raised below after recording the failure
            if isinstance(exc, Exception):  # every rank stops here, not only this one
                distributed.failed_ranks(exc)
            self._stage_failed(entry, name, kind, t0, exc)
        entry.update(status="ok", duration_s=round(time.perf_counter() - t0, 3), **summary)
        self.save_partial()
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
        self.save_partial()
        # the stage's own error is the run's error; a hook failing on top of it is only noted
        self._note_hook_failures(self._main_hooks(
            "on_stage_end", event=StageEnded(self.run_id, name, kind, "failed", entry["duration_s"], {},
                                             str(exc))))
        raise StageFailed(name, exc) from exc

    def _main_hooks(self, hook: str, **kwargs: Any) -> list[HookFailed]:
        """Lifecycle hooks run on rank 0 only (trackers, notifiers: one run, one call)."""
        return self.host.call_each(hook, **kwargs) if distributed.is_main() else []















    # ------------------------------------------------------------ run

    def execute(self) -> dict[str, Any]:
        """Run every stage; the record is always finalised (``completed`` or ``failed``, never ``running``).

        One rule for failures: anything raised (a stage, a lifecycle hook, a required
        reporter) fails the run, with the stage, hook and plugin named in ``error``;
        an ``on_run_end`` hook or an optional reporter failing is recorded in
        ``post_run_errors`` and leaves the verdict alone.
        """
        self.log(f"run {self.run_id} → {self.dir}")
        self.save_partial()
        try:
            unusable = self._check_reporters() if distributed.is_main() else None
            peer = distributed.peers_failed(unusable)
            if peer is not None:
                raise peer
            if unusable is not None:
                raise unusable
            failures = self._main_hooks(
                "on_run_start", event=RunStarted(self.run_id, self.dir, self.recipe.model_dump(mode="json"),
                                                 self.components))
            peer = distributed.peers_failed(failures[0] if failures else None)
            if peer is not None:
                raise peer
            self._raise_first(failures, None)
            self.evaluations.preload()  # every evaluation in the cache: the model is not loaded
            plan, reused, reload_from = self._plan(), self.reused, self.reload_from
            todo = [(n, k) for n, k, _ in plan if n not in reused and k not in ("load", "data")]
            for name, kind, fn in plan:
                if name in reused:
                    self._reuse(name)
                elif kind == "load":
                    if self.evaluations.preloaded is not None:
                        self._stage("load", "load", self.stages.load_nothing)
                    elif any(k in ("train", "evaluate") for _, k in todo):
                        self._stage("load", "load", (lambda: self.stages.reload_saved(reload_from)) if reload_from
                                    else fn)
                elif kind == "data" and reused and not any(k == "train" for _, k in todo):
                    self._reuse(name)
                else:
                    self._stage(name, kind, fn)
            self.record["status"] = "completed"
        except StageFailed as exc:
            self.record["status"] = "failed"
            self.log(f"run failed in stage '{exc.stage}': {exc.original}")
        except (HookFailed, ReporterCannotRun) as exc:
            self.record["status"] = "failed"
            self.log(f"run failed: {exc}")
        except KeyboardInterrupt:
            self.record["status"] = "failed"
            self.record["error"] = {"stage": None, "type": "KeyboardInterrupt", "message": "interrupted"}
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in the loop itself: still leave a finalised record
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
        stages = self.stages
        plan: list[tuple[str, str, Callable[[], dict[str, Any] | None]]] = [("load", "load", stages.load_model)]
        if self.recipe.data:
            plan.append(("data", "data", stages.prepare_data))
        if self.recipe.evaluate:
            plan.append(("evaluate-before", "evaluate", lambda: stages.evaluate("before")))
        if self.recipe.evaluate and self.checkpoints.selects():
            plan.append(("evaluate-before-dev", "evaluate", self.checkpoints.evaluate_dev_base))
        for i, t in enumerate(self.recipe.train):
            plan.append((t.name or f"train-{i}-{t.trainer}", "train", functools.partial(stages.train, i)))
        if self.recipe.train and self.recipe.evaluate:
            plan.append(("evaluate-after", "evaluate", stages.evaluate_after))
        if self.recipe.gates:
            plan.append(("gates", "gates", stages.gates))
        return plan

    def _resume_plan(self) -> tuple[list[str], dict[str, Any] | None]:
        """What a resume keeps of the previous attempt (decided before anything is written)."""
        previous = self.previous or {}
        keep, reload_from = resuming.reusable(previous, [(n, k) for n, k, _ in self._plan()], self.dir)
        resuming.restore(self.record, previous, keep)
        self.log(f"resuming {self.run_id}: reusing {', '.join(keep) or 'no stage'}; "
                 f"model from {reload_from['path'] if reload_from else 'the base model'}")
        return keep, reload_from



    def _reuse(self, name: str) -> None:
        old = next(s for s in reversed((self.previous or {}).get("stages") or []) if s["name"] == name)
        self.record["stages"].append({**old, "resumed": "reused"})
        self.log(f"==> {name} (reused from the previous attempt)")
        self.save_partial()

    def _check_reporters(self) -> ReporterCannotRun | None:
        """Before the first stage, each reporter's ``check()`` (its tracker answers, in seconds): a
        ``required`` one that fails stops the run (the error returned, already in the record); an
        optional one is left out of the run with one warning, noted in ``reporters_disabled``."""
        run = {"id": self.run_id, "name": self.recipe.run.name}
        for i, section in enumerate(self.recipe.report):
            try:  # recorded among the components when it reports
                reporter = self.host.create("reporter", section.reporter, section.params())
            except Exception:  # noqa: BLE001 - a reporter that cannot be created fails when reported
                continue
            try:
                reporter.check(run)
            except Exception as exc:  # noqa: BLE001 - whatever it raises, the reporter cannot work
                self.skipped_reporters.add(i)
                entry = _error_entry("report", exc, reporter=section.reporter, required=section.required)
                if section.required:
                    entry["message"] += "; set required = false in its [[report]] table to run without it"
                    self.record["error"] = entry
                    return ReporterCannotRun(entry["message"])
                self.record.setdefault("reporters_disabled", []).append(entry)
                self.log(f"warning: reporter '{section.reporter}' is disabled for this run: {exc}")
        return None

    def _report(self) -> list[dict[str, Any]]:
        """Run the recipe's reporters; a failing ``required`` one fails the run (exit 2)."""
        failures = []
        for i, section in enumerate(self.recipe.report):
            if i in self.skipped_reporters:  # check() failed: its error is in the record already
                continue
            try:
                self.use("report", "reporter", section.reporter, section.params()).report(self.record, self.dir)
            except Exception as exc:  # noqa: BLE001 - a reporter never loses the stored run
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


def _remove_if_empty(folder: Path) -> None:
    """Drop the scratch folder when stages left nothing in it (no checkpoints asked for)."""
    if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder)


def run_recipe(loaded: LoadedRecipe, host, store: Store, **kwargs: Any) -> dict[str, Any]:
    return Run(loaded, host, store, **kwargs).execute()

