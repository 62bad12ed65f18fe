"""The stages of a run, each one step of the loop: load the model, prepare the data, evaluate,
train (saving the stage's model), judge the gates. :class:`harness.run.pipeline.Run` times,
records and orders them; each stage here returns its summary for the stage's record entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import distributed
from ..contract.components import TrainContext
from ..runtime import accelerator_info
from ..store import artifacts
from ..store.local import Store, read_jsonl, write_jsonl
from . import data_prep
from .resume import last_checkpoint


class Stages:
    """The stage bodies of one :class:`~harness.run.pipeline.Run` (its state: ``model``,
    ``datasets``, ``record``, ``dir``)."""

    def __init__(self, run: Any):  # the harness.run.pipeline.Run it serves (which imports this module)
        self.run = run

    def load_model(self) -> dict[str, Any]:
        m = self.run.recipe.model
        self.run.model = self.run.use("model", "model", m.loader, m.params()).load()
        # no weight hashing when the cache is off: the fingerprint is recorded if something computes it
        self.run.record["model"] = self.run.model.describe(fingerprint=self.run.cache is not None and distributed.is_main())
        # torch is imported now: the accelerator as torch sees it (bf16 support, CUDA version)
        self.run.record["environment"]["accelerator"] = accelerator_info()
        return {"device": self.run.model.device, "dtype": self.run.model.dtype}

    def load_nothing(self) -> dict[str, Any]:
        """Every [[evaluate]] table is in the cache under the loader's fingerprint: the model those
        entries were computed on is recorded, and no weights are read (see Evaluations.preload)."""
        self.run.record["model"] = {**self.run.evaluations.preloaded_model, "loaded": False}
        self.run.log("    not loaded: every [[evaluate]] table is in the cache under the loader's fingerprint")
        return {"cached": True, "weights_loaded": False}

    def reload_saved(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Resume: the model the last reused train stage saved, on the base model's device/dtype."""
        folder = artifacts.resolve_path(entry, self.run.dir)
        base = (self.run.previous or {}).get("model") or {}
        self.run.model = artifacts.load_saved(folder, name=base.get("name") or folder.name,
                                          loader=base.get("loader") or "run", device=base.get("device", "cpu"),
                                          dtype=base.get("dtype", "float32"),
                                          meta={"reloaded_from": entry["path"]})
        self.run.model.use_saved(folder, entry["fingerprint"])
        return {"device": self.run.model.device, "dtype": self.run.model.dtype, "resumed": "reloaded",
                "reloaded_from": entry["path"]}

    def prepare_data(self) -> dict[str, Any]:
        self.run.datasets = {}
        self.run.record["data"] = []  # a resumed run prepares its data again
        for d in self.run.recipe.data:
            source = self.run.use(f"data:{d.name}", "data_source", d.source, d.params())
            examples = source.load(seed=self.run.recipe.run.seed)
            filters: list[tuple[Any, str, str]] = [
                (self.run.use(f"data:{d.name}:filter", "safety_filter", f.filter, f.params()), f.action, f.on)
                for f in d.filters]
            data, report = data_prep.prepare(d.name, d.source, source.data_format(), examples, filters,
                                             d.pair_checks, self.run.host.filter_detecting,
                                             formats=lambda n: self.run.host.resolve("data_format", n).cls)
            self.run.datasets[d.name] = data
            if getattr(source, "stats", None):  # e.g. rows a bundled source skipped, and why
                report["source_stats"] = source.stats
            self.run.record["data"].append(report)
            self.run.log(f"    {d.name}: {report['rows_in']} rows in, {report['rows_out']} kept")
        return {"rows": {name: len(ds.examples) for name, ds in self.run.datasets.items()}}

    def evaluate(self, phase: str) -> dict[str, Any]:
        metrics, samples, tasks, n_items, cached = self.run.evaluations.run_sections(self.run.recipe.evaluate, phase)
        self.run.record["tasks"].update(tasks)
        self.run.record["metrics"][phase] = metrics
        rel = f"samples/{phase}.jsonl"
        if distributed.is_main():
            write_jsonl(self.run.dir / rel, samples)
        self.run.record["samples"][phase] = rel
        for key, m in sorted(metrics.items()):
            err = f" ± {m['stderr']:.3f}" if m.get("stderr") is not None else ""
            self.run.log(f"    {key:<40} {m['value']:.3f}{err}")
        return {"items": n_items, "cached": all(cached) if cached else False}

    def evaluate_after(self) -> dict[str, Any]:
        summary = self.evaluate("after")
        # the saved files' hash when the model was saved; else hashed only if the cache needed it
        self.run.record["model"]["fingerprint_after"] = (self.run.model.fingerprint() if self.run.model.files
                                                     else self.run.model.fingerprint_known)
        return summary

    def train(self, i: int) -> dict[str, Any]:
        section = self.run.recipe.train[i]
        trainer = self.run.use(f"train:{i}", "trainer", section.trainer, section.params())
        data = self.run.datasets[section.data]
        stage = section.name or f"train-{i}-{section.trainer}"
        final = i == len(self.run.recipe.train) - 1
        save = self.run.recipe.output.save == "stages" or (self.run.recipe.output.save == "final" and final)
        work = self.run.dir / "work" / stage
        checkpoint = last_checkpoint(work) if self.run.previous else None
        ctx = TrainContext(stage=stage, seed=self.run.recipe.run.seed, output_dir=work, log=self.run.log,
                           resume_from_checkpoint=str(checkpoint) if checkpoint else None,
                           adapter_dir=work / "adapter-written" if save and distributed.is_main() else None,
                           recipe_dir=self.run.loaded.path and self.run.loaded.base_dir,
                           rewards=self.rewards(i, section),
                           weights_dtype=explicit_dtype(self.run.recipe.model.params()), **self.tracker_context(),
                           **self.run.checkpoints.snapshot_context(stage, work, section.evaluate_every))
        if checkpoint:
            self.run.log(f"    resuming {stage} from {checkpoint.relative_to(self.run.dir)}")
        result = trainer.train(self.run.model, data, ctx)
        self.run.model = result.model
        self.run.model.weights_changed()
        summary: dict[str, Any] = {}
        if section.evaluate_every:  # the [select]ed checkpoint becomes this stage's model
            summary.update(self.run.checkpoints.select(stage, work, self.run.record["stages"][-1]))
        if checkpoint:
            summary["resumed"] = "from_checkpoint"
            summary["resumed_from_checkpoint"] = checkpoint.relative_to(self.run.dir).as_posix()
        if save and distributed.is_main():  # the ranks hold the same weights: one copy is saved
            summary["saved"] = self.save_stage(stage, final, self.run.checkpoints.selected_adapter(summary, ctx.adapter_dir))
        if section.evaluate_every:
            self.run.checkpoints.drop_snapshots(work, saved=save)
        rel = f"train/{i}-{section.trainer}.jsonl"
        if distributed.is_main():
            write_jsonl(self.run.dir / rel, result.log)
        self.run.record["training"].append({"stage": stage, "trainer": section.trainer, "data": section.data,
                                        "examples": len(data.examples), "log": rel,
                                        "metrics": result.metrics})
        throughput = {k: v for k, v in result.metrics.items()
                      if k in ("train_samples_per_second", "train_steps_per_second", "tokens_per_second")}
        return {"throughput": throughput, **summary}

    def save_stage(self, stage: str, final: bool, adapter_written: Path | None) -> list[str]:
        """Keep this stage's model (and LoRA adapter); a failed save fails the stage."""
        folder = artifacts.stage_folder(self.run.model_root, stage, final=final)
        entries = []
        adapter = adapter_written is not None and (adapter_written / "adapter_config.json").is_file()
        if adapter and adapter_written is not None:
            entries.append(artifacts.keep_adapter(adapter_written, folder / "adapter", stage=stage,
                                                  run_dir=self.run.dir))
        if self.run.recipe.output.merge or not adapter:
            entries.append(artifacts.save_model(self.run.model, folder / "model", stage=stage, run_dir=self.run.dir))
        self.run.record["artifacts"] = [a for a in self.run.record["artifacts"] if a["stage"] != stage] + entries
        for e in entries:
            self.run.log(f"    saved {e['kind']} → {e['path']} ({e['bytes'] / 1e6:.1f} MB, {e['fingerprint']})")
        return [e["path"] for e in entries]

    def tracker_context(self) -> dict[str, Any]:
        """TrainContext fields from the recipe's tracker reporters: training lands in their runs."""
        report_to, extra = [], {}
        for i, section in enumerate(self.run.recipe.report):
            if i in self.run.skipped_reporters:  # its check() failed before the first stage
                continue
            try:
                reporter = self.run.use("report", "reporter", section.reporter, section.params())
            except Exception:  # noqa: BLE001 - a reporter that cannot be created fails when reported
                continue
            wanted = reporter.train_report_to({"id": self.run.run_id, "name": self.run.recipe.run.name})
            if wanted:
                wanted = dict(wanted)
                report_to.append(wanted.pop("report_to"))
                extra.update(wanted)
        return {"report_to": report_to, "run_name": self.run.run_id, "tracker_args": extra} if report_to else {}

    def rewards(self, i: int, section) -> list:
        """The stage's reward functions, created through the host with the safety filters they ask for."""
        rewards = []
        for ref in section.rewards:
            reward = self.run.use(f"train:{i}:reward", "reward_function", ref.reward, ref.params())
            reward.bind({slot: self.run.use(f"train:{i}:reward:filter", "safety_filter", name, {})
                         for slot, name in reward.filters_needed().items()})
            rewards.append(reward)
        return rewards

    def gates(self) -> dict[str, Any]:
        if not self.run.recipe.gates or not distributed.is_main():  # rank 0's verdict is every rank's
            return {}
        from ..reports.render import gate_lines
        from ..verdicts.gates import describe_gating, evaluate_gates, gating_summary, load_reference

        reference = None
        if self.run.baseline:
            baseline = self.run.recipe.baseline
            ref_store = Store(baseline.store) if baseline and baseline.store else self.run.store
            reference = load_reference(ref_store, self.run.baseline)
        results = evaluate_gates(self.run.recipe.gates, self.run.record,
                                 before_samples=read_jsonl(self.run.dir / "samples" / "before.jsonl"),
                                 after_samples=read_jsonl(self.run.dir / "samples" / "after.jsonl"),
                                 reference=reference, policy=self.run.recipe.gating)
        self.run.record["gates"] = [g.to_dict() for g in results]
        self.run.record["gates_passed"] = all(g.passed for g in results)
        self.run.record["gating"] = gating_summary(results, self.run.recipe.gating)
        for line in gate_lines(results):
            self.run.log(f"    gate {line}" if not line.startswith(" ") else f"    {line.strip()}")
        self.run.log(f"    {describe_gating(self.run.record['gating'])}")
        return {}


def explicit_dtype(model_params: dict[str, Any]) -> str | None:
    """The weight dtype a recipe's [model] table asks for by name ("auto" or unset: none)."""
    dtype = model_params.get("dtype")
    return dtype if isinstance(dtype, str) and dtype != "auto" else None
