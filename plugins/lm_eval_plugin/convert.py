"""lm-eval's results dict -> :class:`harness.EvalResult` (metrics, per-sample rows, task info).

Metric keys are ``"<task>/<metric>"``: lm-eval's ``<metric>,<filter>`` with the
filter suffix dropped when the task has one filter, kept (``exact_match,strict-match``)
when it has several.

A group (lm-eval's ``group_subtasks``) whose metric is the mean over every item of its
tasks (``weight_by_size: true``, e.g. the bundled ``capability``) also gets per-item rows:
its tasks' rows concatenated under ``suite = <group>``, ``item_id = "<task>/<doc_id>"``, so
a gate on ``capability/acc`` is paired over all of them. Pure Python: no lm-eval import.
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


def leaf_tasks(group: str, group_subtasks: dict[str, list[str]]) -> list[str]:
    """The tasks under ``group``, through nested groups, in lm-eval's order, each once."""
    out: list[str] = []
    for child in group_subtasks.get(group, []):
        for leaf in leaf_tasks(child, group_subtasks) if child in group_subtasks else [child]:
            if leaf not in out:
                out.append(leaf)
    return out


def metrics_of(results: dict[str, Any]) -> dict[str, harness.Metric]:
    """Every aggregate in ``results["results"]`` (tasks and groups) with its stderr, n, direction."""
    out: dict[str, harness.Metric] = {}
    n_samples = results.get("n-samples", {})
    for task, entries in results.get("results", {}).items():
        filters = _filters(entries)
        direction = results.get("higher_is_better", {}).get(task, {})
        n = n_samples.get(task, {}).get("effective")
        if n is None:  # a group: the sum of its leaf tasks
            leaves = leaf_tasks(task, results.get("group_subtasks", {}))
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


def _multiple_input_target(s: dict[str, Any], choices: list[str], best: int | None) -> str | None:
    """The right context of a two-way multiple-input item: lm-eval logs the shared continuation as
    its target, but ``acc`` says whether the best-scored context was the right one."""
    acc = _number(s.get("acc"))
    if best is None or acc is None or len(choices) != 2:
        return None
    return choices[best] if acc == 1.0 else choices[1 - best]


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
                best = max(range(len(lls)), key=lls.__getitem__) if lls else None
                multiple_input = len(args) > 1 and len({a[1] for a in args}) == 1
                if multiple_input:  # WinoGrande: the contexts differ, the scored continuation is shared
                    choices = [a[0] for a in args]
                    row["prompt"] = None
                    row["continuation"] = _choice_text(args[0][1], delimiter)
                row["choices"] = choices
                row["loglikelihoods"] = lls
                row["output"] = choices[best] if best is not None else None
                row["target"] = (_multiple_input_target(s, choices, best) if multiple_input
                                 else _target_text(s["target"], choices))
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


#: Per-item fields a pooled row carries (the choices and log-likelihoods stay in the task's own row).
_POOLED_FIELDS = ("split", "prompt", "output", "target")


def pooled_rows(group: str, leaves: list[str], rows: list[dict[str, Any]],
                metrics: dict[str, harness.Metric]) -> list[dict[str, Any]]:
    """The leaves' rows as rows of ``group`` (item ``"<task>/<doc_id>"``, category: the task), with
    those of the group's metrics whose value is the plain mean of the items' scores (a group
    weighted by size); ``[]`` when none is (a mean of task means has no per-item list)."""
    by_task: dict[str, list[dict[str, Any]]] = {t: [] for t in leaves}
    for row in rows:
        if row["suite"] in by_task:
            by_task[row["suite"]].append(row)
    items = [row for t in leaves for row in by_task[t]]
    pooled_metrics = []
    for key, metric in metrics.items():
        name, _, short = key.partition("/")
        if name != group or metric.value is None:
            continue
        scores = [row["scores"].get(short) for row in items]
        if items and None not in scores and math.isclose(sum(scores) / len(scores), metric.value, abs_tol=1e-9):
            pooled_metrics.append(short)
    if not pooled_metrics:
        return []
    return [{"suite": group, "item_id": f"{row['suite']}/{row['item_id']}", "category": row["suite"],
             **{k: row.get(k) for k in _POOLED_FIELDS}, "scores": {m: row["scores"][m] for m in pooled_metrics}}
            for row in items]


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
    group_subtasks = results.get("group_subtasks") or {}
    for group in group_subtasks:
        leaves = [t for t in leaf_tasks(group, group_subtasks) if t in tasks]
        pooled = pooled_rows(group, leaves, samples, metrics)
        if not pooled:
            continue
        samples.extend(pooled)
        tasks[group] = harness.TaskInfo(
            content_hash=harness.items_hash({"task": t, "content_hash": tasks[t].content_hash} for t in leaves),
            version=str(results.get("versions", {}).get(group, "")),
            n=len(pooled),
            settings={**settings, "item_ids": [r["item_id"] for r in pooled], "tasks": leaves,
                      "num_fewshot": {t: tasks[t].settings.get("num_fewshot") for t in leaves},
                      "output_type": "pooled", "source": sources.get(group, "lm-eval")})
    return harness.EvalResult(metrics=metrics, samples=samples, tasks=tasks)
