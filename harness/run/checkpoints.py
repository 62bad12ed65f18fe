"""Evaluation during training and checkpoint selection: what :class:`harness.run.pipeline.Run` asks
:class:`CheckpointSelector` for to serve ``[[train]] evaluate_every = N`` and ``[select]``.

* ``evaluate-before-dev`` (a stage after ``evaluate-before``): the starting model on the
  **dev** items of every ``[[evaluate]]`` table: the base the checkpoints' change gates
  are paired against (``record["selection"]["base"]``).
* During the stage the trainer hands over its weights every N steps and at the end
  (``TrainContext.snapshot``); each is saved, atomically and fingerprinted, in
  ``work/<stage>/snapshots/step-<N>``.
* After training every snapshot is evaluated on dev (the same evaluators, the same
  evaluation cache keyed by the snapshot's weights), judged by the recipe's gates on dev,
  and recorded as a row of ``stage["checkpoints"]``; the ``[select]`` rule
  (:mod:`harness.verdicts.selection`) picks one, which becomes the stage's model (saved by
  ``[output] save``, started from by the next stage). The snapshots are removed once the
  stage has ended.
* A resumed run reuses the rows of its previous attempt whose snapshot has the same
  fingerprint, without evaluating them again.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

from ..fingerprint import files_fingerprint
from ..store import artifacts
from ..store.local import read_jsonl, write_jsonl
from ..verdicts.selection import (
    SELECTION_NOTE,
    NoPointPasses,
    Point,
    SelectSpec,
    choose_or_fallback,
    dev_gates,
    passed,
    with_intervals,
)
from .recipe import EvaluateSection

SNAPSHOTS = "snapshots"


class CheckpointSelector:
    """Evaluation during training and the choice of a checkpoint, for one run: reads the run's
    recipe, record and previous attempt, evaluates through ``run.evaluations``, and hands back
    the chosen model."""

    def __init__(self, run: Any):  # the harness.run.pipeline.Run it serves (which imports this module)
        self.run = run
        self.snapshots: dict[int, dict[str, Any]] = {}

    def selects(self) -> bool:
        return any(t.evaluate_every for t in self.run.recipe.train)

    @staticmethod
    def dev_section(section: EvaluateSection) -> EvaluateSection:
        return EvaluateSection.model_validate({**section.model_dump(), "split": "dev"})

    def evaluate_dev(self, phase: str) -> tuple[dict, list[dict], dict, bool]:
        """Every ``[[evaluate]]`` table on its dev items: ``(metrics, samples, tasks, all cached)``."""
        sections = [self.dev_section(s) for s in self.run.recipe.evaluate]
        metrics, samples, tasks, _, cached = self.run.evaluations.run_sections(sections, phase)
        return metrics, samples, tasks, all(cached) if cached else False

    def evaluate_dev_base(self) -> dict[str, Any]:
        metrics, samples, tasks, cached = self.evaluate_dev("before-dev")
        rel = "samples/before-dev.jsonl"
        write_jsonl(self.run.dir / rel, samples)
        self.run.record["selection"] = {"split": "dev", "note": SELECTION_NOTE,
                                    "base": {"metrics": with_intervals(metrics, samples), "samples": rel,
                                             "tasks": tasks}}
        for key, m in sorted(metrics.items()):
            self.run.log(f"    {key + ' (dev)':<40} {m['value']:.3f}")
        return {"items": len(samples), "cached": cached, "split": "dev"}

    def snapshot_context(self, stage: str, work: Path, every: int | None) -> dict[str, Any]:
        """The TrainContext fields that ask the trainer for a snapshot every ``every`` steps."""
        if not every:
            return {}
        folder = work / SNAPSHOTS
        saved: dict[int, dict[str, Any]] = {}
        self.snapshots = saved

        def save(step: int, handle) -> None:
            entry = artifacts.save_model(handle, folder / f"step-{step:06d}", stage=stage, run_dir=self.run.dir)
            saved[step] = entry
            self.run.log(f"    checkpoint step {step} saved ({entry['fingerprint']})")

        return {"snapshot_every": every, "snapshot": save}

    def found_snapshots(self, work: Path) -> list[tuple[int, Path]]:
        """Complete snapshot folders (a killed attempt's included), by step."""
        folder = work / SNAPSHOTS
        found = [(int(p.name.split("-")[-1]), p) for p in folder.glob("step-*")
                 if p.is_dir() and p.name.split("-")[-1].isdigit()] if folder.is_dir() else []
        return sorted(found)

    def previous_rows(self, stage: str) -> dict[str, dict[str, Any]]:
        """Checkpoint rows the previous attempt recorded for this stage, by snapshot fingerprint."""
        rows: dict[str, dict[str, Any]] = {}
        for s in (self.run.previous or {}).get("stages") or []:
            if s.get("name") == stage:
                rows.update({r["fingerprint"]: r for r in s.get("checkpoints") or [] if r.get("fingerprint")})
        return rows

    def select(self, stage: str, work: Path, entry: dict[str, Any]) -> dict[str, Any]:
        """Evaluate every snapshot on dev, choose one, make it the stage's model; the stage
        summary's ``checkpoints`` and ``selection``."""
        trained = self.run.model
        snapshots = self.found_snapshots(work)
        if not snapshots:
            raise RuntimeError(f"stage '{stage}' asked for evaluate_every but the trainer saved no checkpoint")
        base = (self.run.record.get("selection") or {}).get("base") or {}
        base_samples = read_jsonl(self.run.dir / base["samples"]) if base.get("samples") else []
        previous = self.previous_rows(stage)
        dev_policy = self.run.recipe.select.dev_policy(self.run.recipe.gating) if self.run.recipe.select else self.run.recipe.gating
        known = {artifacts.resolve_path(e, self.run.dir): e["fingerprint"] for e in self.snapshots.values()}
        rows: list[dict[str, Any]] = []
        entry["checkpoints"] = rows
        for step, folder in snapshots:
            fingerprint = known.get(folder) or files_fingerprint(folder)
            if fingerprint in previous and previous[fingerprint].get("step") == step:
                rows.append({**previous[fingerprint], "reused": True})
                self.run.log(f"    checkpoint step {step}: dev results reused from the previous attempt")
                self.run.save_partial()
                continue
            self.run.model = self.load_snapshot(folder, fingerprint, trained, step)
            metrics, samples, tasks, cached = self.evaluate_dev(f"checkpoint-{step}")
            rel = f"samples/checkpoints/{stage}/step-{step}.jsonl"
            write_jsonl(self.run.dir / rel, samples)
            gates = dev_gates(self.run.recipe.gates, dev_policy, base_metrics=base.get("metrics") or {},
                              base_samples=base_samples, base_tasks=base.get("tasks") or {},
                              metrics=metrics, samples=samples, tasks=tasks) if self.run.recipe.gates else []
            rows.append({"step": step, "fingerprint": fingerprint, "metrics": with_intervals(metrics, samples),
                         "samples": rel, "gates": gates, "passed": passed(gates), "cached": cached})
            self.run.save_partial()
        points = [Point(f"step {r['step']}", r["step"], r["metrics"], r["passed"]) for r in rows]
        if self.run.recipe.select is None:
            selection: dict[str, Any] = {"rule": None, "reason": "no [select] table: the final checkpoint is the stage's output",
                         "fallback": False, "qualifying": []}
            chosen_step = rows[-1]["step"]
        else:
            spec: SelectSpec = self.run.recipe.select
            try:
                choice = choose_or_fallback(points, spec, has_gates=bool(self.run.recipe.gates))
            except NoPointPasses as exc:
                entry["selection"] = {"rule": spec.model_dump(), "step": None, "reason": str(exc),
                                      "note": SELECTION_NOTE}
                self.log_checkpoints(entry)
                raise
            assert choice.point is not None
            selection = {**choice.to_dict(), "rule": spec.model_dump()}
            chosen_step = choice.point.order
        row = next(r for r in rows if r["step"] == chosen_step)
        folder = dict(snapshots)[chosen_step]
        # checkpoints are evaluated on the device and in the precision the trained model had
        selection.update(step=chosen_step, fingerprint=row["fingerprint"], note=SELECTION_NOTE,
                         device=trained.device, dtype=trained.dtype)
        self.run.model = self.load_snapshot(folder, row["fingerprint"], trained, chosen_step)
        self.run.model.meta["selected_checkpoint"] = chosen_step
        del trained
        gc.collect()
        entry["selection"] = selection
        self.log_checkpoints(entry)
        return {"checkpoints": rows, "selection": selection}

    def load_snapshot(self, folder: Path, fingerprint: str, trained, step: int):
        model = artifacts.load_saved(folder, name=trained.name, loader=trained.loader, device=trained.device,
                                     dtype=trained.dtype, meta={**trained.meta, "checkpoint_step": step})
        model.use_saved(folder, fingerprint)
        return model

    @staticmethod
    def selected_adapter(summary: dict[str, Any], adapter_dir: Path | None) -> Path | None:
        """The LoRA adapter a trainer wrote is the final step's: kept only when that step was selected."""
        sel = summary.get("selection")
        if adapter_dir is None or sel is None or sel["step"] == summary["checkpoints"][-1]["step"]:
            return adapter_dir
        if (adapter_dir / "adapter_config.json").is_file():
            sel["adapter"] = "not kept: it is the final step's; the selected checkpoint is kept as merged weights"
        shutil.rmtree(adapter_dir, ignore_errors=True)
        return None

    def drop_snapshots(self, work: Path, *, saved: bool) -> None:
        """The selected weights now live in the stage's output (or in memory only): the snapshots go."""
        if not saved:
            self.run.model.files = None  # its folder goes; the fingerprint stays known
        shutil.rmtree(work / SNAPSHOTS, ignore_errors=True)

    def log_checkpoints(self, entry: dict[str, Any]) -> None:
        from ..reports.checkpoints import checkpoint_lines

        for line in checkpoint_lines(entry):
            self.run.log(f"    {line}")
