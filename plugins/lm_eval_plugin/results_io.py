"""``harness import lm-eval RESULTS_DIR``: an lm-evaluation-harness output folder as a stored run.

The folder is what ``lm_eval --output_path DIR`` writes (``DIR/<model>/results_<time>.json``,
plus ``samples_<task>_<time>.jsonl`` with ``--log_samples``), or the ``<model>`` folder, or one
results file. The newest results file is read; the per-sample files of the same time make the
imported run **paired** (every item keeps its score, so ``harness compare`` pairs it with a
harness run of the same task); without them it is stored **unpaired** (aggregates only, labelled
so). Metrics and rows are converted by the same code as the ``lm-eval`` evaluator
(:mod:`.convert`), so an imported run and a harness run name their metrics alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import harness

from .convert import metrics_of, to_eval_result

UNPAIRED_HASH = "unknown: imported without per-sample logs (lm_eval --log_samples)"


class ImportFailed(ValueError):
    pass


@dataclass
class LmEvalOutput:
    results_file: Path
    results: dict[str, Any]
    sample_files: dict[str, Path] = field(default_factory=dict)

    @property
    def unpaired_tasks(self) -> list[str]:
        return sorted(t for t in self.results.get("results", {}) if t not in self.sample_files
                      and not self.results.get("group_subtasks", {}).get(t))


def find_output(path: str | Path) -> LmEvalOutput:
    """The newest ``results_*.json`` under ``path`` and the sample files written with it."""
    from lm_eval.utils import get_file_datetime, get_file_task_name, get_latest_filename

    path = Path(path).expanduser()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.rglob("results_*.json"))
    else:
        raise ImportFailed(f"{path}: no such file or folder; give the folder lm_eval --output_path wrote")
    if not files:
        raise ImportFailed(f"{path}: no results_*.json in it (is it an lm_eval --output_path folder?)")
    folders = {f.parent for f in files}
    if len(folders) > 1:
        raise ImportFailed(f"{path}: results of several models ({', '.join(sorted(p.name for p in folders))}); "
                           "give one of these folders")
    results_file = Path(get_latest_filename([str(f) for f in files]))
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportFailed(f"{results_file}: not readable JSON ({exc})") from exc
    if not isinstance(results, dict) or not isinstance(results.get("results"), dict):
        raise ImportFailed(f"{results_file}: no 'results' table; not an lm-eval results file")
    stamp = get_file_datetime(results_file.name).replace(".json", "")
    samples = {}
    for f in sorted(results_file.parent.glob("samples_*.jsonl")):
        if get_file_datetime(f.name) == stamp:
            samples[get_file_task_name(f.name)] = f
    return LmEvalOutput(results_file, results, {t: f for t, f in samples.items() if t in results["results"]})


def _index(key: str) -> int:
    tail = key.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _as_logged(sample: dict[str, Any], output_type: str | None) -> dict[str, Any]:
    """A line of lm-eval's samples file back in the shape lm-eval keeps in memory: ``arguments``
    as tuples (the file has ``{"gen_args_0": {"arg_0": ..}}``), a multiple-choice target as int."""
    args = sample.get("arguments")
    if isinstance(args, dict):
        sample["arguments"] = [tuple(v[k] for k in sorted(v, key=_index)) if isinstance(v, dict) else v
                               for _, v in sorted(args.items(), key=lambda kv: _index(kv[0]))]
    target = sample.get("target")
    if output_type == "multiple_choice" and isinstance(target, str) and target.lstrip("-").isdigit():
        sample["target"] = int(target)
    return sample


def _read_samples(path: Path, output_type: str | None) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(_as_logged(json.loads(line), output_type))
            except (ValueError, TypeError, KeyError) as exc:
                raise ImportFailed(f"{path}:{n}: not an lm-eval sample line ({exc})") from exc
    return rows


def _settings(results: dict[str, Any]) -> dict[str, Any]:
    """The evaluator's settings, as far as lm-eval records them (same keys as a harness run)."""
    config = results.get("config") or {}
    model_args = config.get("model_args") or ""
    args = dict(kv.split("=", 1) for kv in model_args.split(",") if "=" in kv) if isinstance(model_args, str) \
        else dict(model_args)
    return {"apply_chat_template": bool(results.get("chat_template")),
            "fewshot_as_multiturn": bool(results.get("fewshot_as_multiturn")),
            "system_instruction": results.get("system_instruction"), "limit": config.get("limit"),
            "sample": None, "seed": config.get("random_seed"),
            "max_gen_toks": (config.get("gen_kwargs") or {}).get("max_gen_toks")
            if isinstance(config.get("gen_kwargs"), dict) else None,
            "batch_size": config.get("batch_size"), "lm_eval": results.get("lm_eval_version"),
            "device": config.get("device"), "dtype": args.get("dtype")}


def to_result(output: LmEvalOutput) -> harness.EvalResult:
    """Metrics of every task; per-sample rows and content hashes where sample logs exist."""
    results = dict(output.results)
    configs = results.get("configs") or {}
    results["samples"] = {t: _read_samples(f, (configs.get(t) or {}).get("output_type"))
                          for t, f in output.sample_files.items()}
    settings = _settings(results)
    result = to_eval_result(results, settings, {t: "lm-eval import" for t in results["results"]})
    result.metrics = metrics_of(results)
    for task in output.unpaired_tasks:
        n = (results.get("n-samples", {}).get(task) or {}).get("effective") or 0
        result.tasks[task] = harness.TaskInfo(
            content_hash=UNPAIRED_HASH, version=str(results.get("versions", {}).get(task, "")), n=n,
            settings={**settings, "num_fewshot": results.get("n-shot", {}).get(task), "source": "lm-eval import",
                      "output_type": (results.get("configs", {}).get(task) or {}).get("output_type")})
    return result


def import_run(path: str | Path, store, *, name: str | None = None) -> dict[str, Any]:
    """Store an lm-eval output folder as an evaluation run (phase ``before``); returns the record."""
    output = find_output(path)
    result = to_result(output)
    if not result.metrics:
        raise ImportFailed(f"{output.results_file}: no numeric metrics in 'results'")
    results = output.results
    model = results.get("model_name") or (results.get("config") or {}).get("model_args") or "unknown"
    paired = not output.unpaired_tasks
    name = name or f"lm-eval-{Path(str(model)).name}"
    run_id, run_dir = store.new_run_dir(name)
    label = ("paired: per-sample logs for every task" if paired else
             f"UNPAIRED for {', '.join(output.unpaired_tasks)}: no per-sample logs (run lm_eval with "
             "--log_samples to pair items); compared on aggregate values only")
    samples = [{"evaluator": "lm-eval", **row} for row in result.samples]
    harness.write_jsonl(run_dir / "samples" / "before.jsonl", samples)
    date = results.get("date")
    created = (datetime.fromtimestamp(float(date), timezone.utc) if isinstance(date, (int, float))
               else datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {
        "schema_version": harness.SCHEMA_VERSION, "id": run_id, "name": name, "kind": "import",
        "description": f"imported from lm-eval results {output.results_file.name} ({label})",
        "tags": ["imported", "lm-eval", "paired" if paired else "unpaired"],
        "status": "completed", "gates_passed": None, "created_at": created,
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_s": None,
        "seed": (results.get("config") or {}).get("random_seed"),
        "recipe": {"path": None, "text": None, "resolved": {}}, "baseline": None,
        "components": [{"role": "evaluate:lm-eval", "kind": "evaluator", "name": "lm-eval",
                        "plugin": "lm-eval (import)", "params": {"source": str(output.results_file)}}],
        "environment": {"git_sha": results.get("git_hash"), "libraries": {
            "lm_eval": results.get("lm_eval_version"), "transformers": results.get("transformers_version")}},
        "model": {"name": str(model), "loader": "lm-eval import",
                  "model_args": (results.get("config") or {}).get("model_args"),
                  "fingerprint": None},
        "data": [], "stages": [{"name": "import", "kind": "import", "status": "ok", "duration_s": 0.0}],
        "metrics": {"before": {k: m.to_dict() for k, m in result.metrics.items()}},
        "tasks": {t: {**vars(info), "evaluator": "lm-eval"} for t, info in result.tasks.items()},
        "samples": {"before": "samples/before.jsonl"}, "training": [], "gates": [], "error": None,
        "import": {"source": "lm-eval", "path": str(output.results_file), "paired": paired,
                   "unpaired_tasks": output.unpaired_tasks,
                   "sample_files": {t: str(f) for t, f in output.sample_files.items()}},
    }
    harness.write_json(run_dir / harness.RECORD_FILE, record)
    store.publish(run_id)  # a remote store (s3://…) uploads it, run.json last
    return record


def register(cli) -> None:
    """``harness import lm-eval``: added to the CLI by this plugin's ``register_commands``."""
    import click

    group = cli.commands.get("import")
    if group is None:
        @cli.group("import")
        def group() -> None:
            """Bring results made by other tools into the store as runs."""

    @group.command("lm-eval")
    @click.argument("results_dir", type=click.Path(path_type=Path))
    @click.option("--name", default=None, help="Run name (default: lm-eval-<model>).")
    @click.option("--store", envvar="HARNESS_STORE", default=None, help="Run store directory.")
    def import_lm_eval(results_dir: Path, name: str | None, store: str | None) -> None:
        """Store an lm_eval --output_path folder (results + --log_samples files) as an evaluation run."""
        try:
            record = import_run(results_dir, harness.Store(store), name=name)
        except ImportFailed as exc:
            raise click.ClickException(str(exc)) from None
        info = record["import"]
        click.echo(f"imported {len(record['metrics']['before'])} metrics of "
                   f"{len(record['tasks'])} task(s) as run {record['id']} "
                   f"({'paired' if info['paired'] else 'UNPAIRED: ' + ', '.join(info['unpaired_tasks'])})")
        click.echo(record["id"])
