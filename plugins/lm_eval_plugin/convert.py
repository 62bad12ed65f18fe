"""lm-eval's results dict -> :class:`harness.EvalResult` (metrics, per-sample rows, task info).

Metric keys are ``"<task>/<metric>"``: lm-eval's ``<metric>,<filter>`` with the
filter suffix dropped when the task has one filter, kept (``exact_match,strict-match``)
when it has several. Pure Python: no lm-eval import.
"""

from __future__ import annotations

import math
from typing import Any

import harness


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _filters(entries: dict[str, Any]) -> set[str]:
    return {k.split(",", 1)[1] for k in entries if "," in k}


def _short(metric: str, filt: str, filters: set[str]) -> str:
    return metric if len(filters) <= 1 else f"{metric},{filt}"


def metrics_of(results: dict[str, Any]) -> dict[str, harness.Metric]:
    """Every aggregate in ``results["results"]`` (tasks and groups) with its stderr, n, direction."""
    out: dict[str, harness.Metric] = {}
    n_samples = results.get("n-samples", {})
    for task, entries in results.get("results", {}).items():
        filters = _filters(entries)
        direction = results.get("higher_is_better", {}).get(task, {})
        n = n_samples.get(task, {}).get("effective")
        if n is None:  # a group: the sum of its leaf tasks
            leaves = results.get("group_subtasks", {}).get(task, [])
            n = sum(n_samples.get(t, {}).get("effective", 0) for t in leaves) or None
        for key, value in entries.items():
            if "," not in key:
                continue
            metric, filt = key.split(",", 1)
            if metric.endswith("_stderr") or _number(value) is None:
                continue
            hib = direction.get(metric)
            out[f"{task}/{_short(metric, filt, filters)}"] = harness.Metric(
                value=_number(value), stderr=_number(entries.get(f"{metric}_stderr,{filt}")), n=n,
                higher_is_better=True if hib is None else bool(hib), concern="capability")
    return out


def _choice_text(continuation: str, delimiter: str) -> str:
    return continuation[len(delimiter):] if delimiter and continuation.startswith(delimiter) else continuation


def _target_text(target: Any, choices: list[str] | None) -> Any:
    if choices is not None and isinstance(target, int) and 0 <= target < len(choices):
        return choices[target]
    if choices is not None and isinstance(target, list):
        return [choices[t] if isinstance(t, int) and 0 <= t < len(choices) else t for t in target]
    return target if isinstance(target, (str, int, float, list)) or target is None else str(target)


def sample_rows(task: str, logged: list[dict[str, Any]], config: dict[str, Any],
                split: str | None = None) -> list[dict[str, Any]]:
    """One row per document (scores of every filter merged), in ``doc_id`` order (the document's
    index in the task, also under lm-eval's ``samples``)."""
    output_type = config.get("output_type")
    delimiter = config.get("target_delimiter", " ")
    filters = {s["filter"] for s in logged}
    rows: dict[int, dict[str, Any]] = {}
    for s in logged:
        args = s["arguments"]
        row = rows.get(s["doc_id"])
        if row is None:
            doc = s["doc"]
            row = rows[s["doc_id"]] = {
                "suite": task, "item_id": str(s["doc_id"]), "split": split,
                "category": doc.get("category") if isinstance(doc, dict) and isinstance(doc.get("category"), str) else None,
                "prompt": args[0][0] if args and isinstance(args[0][0], str) else None,
                "output": None, "target": None, "scores": {}}
            if output_type == "multiple_choice":
                choices = [_choice_text(a[1], delimiter) for a in args]
                lls = [float(r[0]) for r in s["filtered_resps"]]
                row["choices"] = choices
                row["loglikelihoods"] = lls
                row["output"] = choices[max(range(len(lls)), key=lls.__getitem__)] if lls else None
                row["target"] = _target_text(s["target"], choices)
            else:
                row["target"] = _target_text(s["target"], None)
                if output_type == "generate_until":
                    row["response"] = s["resps"][0][0] if s["resps"] and s["resps"][0] else None
        if output_type != "multiple_choice":
            value = s["filtered_resps"][0] if s["filtered_resps"] else None
            if len(filters) == 1:
                row["output"] = value
            else:
                row["output"] = row.get("response")
                row.setdefault("extracted", {})[s["filter"]] = value
        for metric in s.get("metrics", []):
            v = _number(s.get(metric))
            if v is not None:
                row["scores"][_short(metric, s["filter"], filters)] = v
    return [rows[k] for k in sorted(rows)]


def to_eval_result(results: dict[str, Any], settings: dict[str, Any], sources: dict[str, str]) -> harness.EvalResult:
    metrics = metrics_of(results)
    samples: list[dict[str, Any]] = []
    tasks: dict[str, harness.TaskInfo] = {}
    split = settings.get("split") if settings.get("split") != "all" else None
    for task, logged in results.get("samples", {}).items():
        config = results.get("configs", {}).get(task, {})
        samples.extend(sample_rows(task, logged, config, split))
        docs = {s["doc_id"]: s["doc"] for s in logged}
        tasks[task] = harness.TaskInfo(
            content_hash=harness.items_hash({"doc_id": k, "doc": docs[k]} for k in sorted(docs)),
            version=str(results.get("versions", {}).get(task, "")),
            n=len(docs),
            settings={**settings, "item_ids": [str(k) for k in sorted(docs)], "num_fewshot": results.get("n-shot", {}).get(task),
                      "output_type": config.get("output_type"), "source": sources.get(task, "lm-eval")})
    return harness.EvalResult(metrics=metrics, samples=samples, tasks=tasks)
