"""Running an inspect task on the harness model and turning its log into harness rows and metrics."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import harness

from . import model_api
from .tasks import dataset_rows, load_task

#: inspect's metrics that describe spread, not a score
SPREAD = ("stderr", "std", "var")


def run_task(model: harness.ModelHandle, params: Any, log_dir: Path) -> tuple[Any, Any, Path | None]:
    """``(the inspect EvalLog, the Task, its file)`` of one inspect evaluation of ``model``."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    task, path = load_task(params.task, params.task_file, params.task_args)
    api = model_api.register()
    log_dir.mkdir(parents=True, exist_ok=True)
    with model_api.lend(model, max_new_tokens=params.max_new_tokens, chat=params.chat) as key:
        inspect_model = get_model(f"{api}/{model.name}", memoize=False, handle=key)
        logs = inspect_eval(task, model=inspect_model, log_dir=str(log_dir), display="none", limit=params.limit,
                            epochs=params.epochs, max_connections=1, max_samples=1, fail_on_error=True,
                            log_samples=True, log_realtime=False, score_display=False,
                            metadata={"harness_model": model.name})
    log = logs[0]
    if log.status != "success":
        error = getattr(log.error, "message", None) or log.status
        raise RuntimeError(f"inspect task {params.task!r} ended with status {log.status!r}: {error} "
                           f"(inspect log in {log_dir})")
    return log, task, path


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(m.text if hasattr(m, "text") else str(m) for m in value)
    return "" if value is None else str(value)


def sample_rows(log: Any, suite: str, epochs: int) -> list[dict[str, Any]]:
    """One harness sample row per inspect sample (per epoch when ``epochs > 1``)."""
    from inspect_ai.scorer import value_to_float

    to_float = value_to_float()
    rows = []
    for s in log.samples or []:
        scores = {name: float(to_float(score.value)) for name, score in (s.scores or {}).items()}
        item_id = str(s.id) if epochs == 1 else f"{s.id}#{s.epoch}"
        rows.append({"suite": suite, "item_id": item_id, "prompt": _text(s.input),
                     "output": s.output.completion if s.output else "", "target": _text(s.target),
                     "category": (s.metadata or {}).get("category"), "scores": scores,
                     "answers": {name: score.answer for name, score in (s.scores or {}).items()
                                 if score.answer is not None}})
    return rows


def _mean_stderr(values: list[float]) -> tuple[float, float | None]:
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    if n < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def metrics(log: Any, rows: list[dict[str, Any]], suite: str, params: Any) -> dict[str, harness.Metric]:
    """``suite/<scorer>``: inspect's headline metric of each scorer (its first that is not a spread)
    with inspect's ``stderr`` when the scorer reports one, else the standard error of the item scores."""
    out: dict[str, harness.Metric] = {}
    for es in (log.results.scores if log.results else []):
        values = [r["scores"][es.name] for r in rows if es.name in r["scores"]]
        headline = next((m for name, m in es.metrics.items() if name not in SPREAD), None)
        mean, se = _mean_stderr(values)
        value = float(headline.value) if headline is not None else mean
        stderr = float(es.metrics["stderr"].value) if "stderr" in es.metrics else se
        out[f"{suite}/{es.name}"] = harness.Metric(value=value, stderr=stderr, n=len(values),
                                                  higher_is_better=params.higher_is_better, concern=params.concern)
    return out


def evaluate(model: harness.ModelHandle, context: harness.EvalContext, params: Any) -> harness.EvalResult:
    log_dir = Path(params.log_dir or os.environ.get("INSPECT_LOG_DIR") or context.work_dir / "inspect")
    log, task, path = run_task(model, params, log_dir)
    suite = params.suite or task.name
    rows = sample_rows(log, suite, params.epochs)
    result = harness.EvalResult(metrics=metrics(log, rows, suite, params), samples=rows)
    items = dataset_rows(task)
    result.tasks[suite] = harness.TaskInfo(
        content_hash=harness.items_hash(items), version=str(getattr(task, "version", None) or "1"), n=len(rows),
        settings={"inspect_task": params.task, "task_file": str(path) if path else None,
                  "task_args": params.task_args, "limit": params.limit, "epochs": params.epochs,
                  "max_new_tokens": params.max_new_tokens, "chat": params.chat and model.has_chat_template(),
                  "decoding": "greedy", "scorers": [es.name for es in (log.results.scores if log.results else [])],
                  "inspect_log": log.location, "inspect_ai": log.eval.packages.get("inspect_ai")})
    headline = ", ".join(f"{k.split('/', 1)[1]}={m.value:.3f}" for k, m in result.metrics.items())
    context.log(f"inspect/{suite}: n={len(rows)} {headline}")
    return result
