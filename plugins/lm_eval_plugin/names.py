"""What a recipe's lm-eval task list resolves to, known before any model is loaded.

* :func:`unknown_task_error`: the task names that neither a bundled suite, the
  user's ``include_path`` nor lm-eval's own task index define, with did-you-mean.
  lm-eval's index (~15k YAMLs, seconds) is built only when a name is not bundled.
* :func:`declared_metrics`: the ``"task/metric"`` keys the bundled suites report
  (from their YAML ``metric_list``), so ``harness validate`` can reject a gate on a
  metric nobody reports. Tasks outside the bundle: unknown (None) until run.
"""

from __future__ import annotations

import functools
from pathlib import Path

import harness

from .suites import _load_yaml, bundled_suites, group_members


@functools.lru_cache(maxsize=1)
def lm_eval_task_names() -> tuple[str, ...]:
    """Every task, group and tag name lm-eval itself defines (its TaskManager index)."""
    from lm_eval.tasks import TaskManager

    return tuple(TaskManager(include_defaults=True).all_tasks)


def unknown_task_error(tasks: list[str], include_path: str | None, use_bundled: bool) -> harness.ParamError | None:
    from .runner import _index_names, _unknown_task_error

    bundled = sorted(bundled_suites()) if use_bundled else []
    rest = [t for t in tasks if t not in bundled and not Path(t).is_file()]
    user_names: set[str] = set()
    if rest and include_path:
        user_names = _index_names([Path(include_path).expanduser()])
        rest = [t for t in rest if t not in user_names]
    if not rest:
        return None
    known = list(lm_eval_task_names())
    unknown = [t for t in rest if t not in known]
    if not unknown:
        return None
    return _unknown_task_error(unknown, bundled, include_path, user_names, known)


def _filter_names(cfg: dict) -> list[str]:
    return [f.get("name", "none") for f in cfg.get("filter_list") or [] if isinstance(f, dict)] or ["none"]


@functools.lru_cache(maxsize=None)
def suite_metrics(name: str) -> tuple[str, ...]:
    """Metric keys a bundled suite reports (the names :mod:`.convert` gives them); a group's are its
    ``aggregate_metric_list`` plus those of its member tasks."""
    cfg = _load_yaml(bundled_suites()[name])
    if "group" in cfg:
        own = [m["metric"] for m in cfg.get("aggregate_metric_list") or [] if isinstance(m, dict) and "metric" in m]
        members = [key for member in group_members(name) for key in suite_metrics(member)]
        return tuple(f"{name}/{m}" for m in own) + tuple(members)
    metrics = [m["metric"] for m in cfg.get("metric_list") or [] if isinstance(m, dict) and "metric" in m]
    filters = _filter_names(cfg)
    if len(filters) <= 1:
        return tuple(f"{name}/{m}" for m in metrics)
    return tuple(f"{name}/{m},{f}" for m in metrics for f in filters)


def declared_metrics(tasks: list[str], include_path: str | None, use_bundled: bool) -> dict[str, str] | None:
    suites = bundled_suites() if use_bundled else {}
    if include_path or not all(t in suites for t in tasks):
        return None  # lm-eval's own or the user's tasks: their metric names are known after running
    return {key: "capability" for t in tasks for key in suite_metrics(t)}


def declared_items(tasks: list[str], include_path: str | None, use_bundled: bool, split: str,
                   limit: int | None, sample: int | None) -> dict[str, int] | None:
    """``{task: n}`` documents each bundled task scores after ``split`` then ``limit``/``sample``, counted
    from its data file as :func:`.runner.doc_indices` selects them (no lm-eval import); a bundled group
    counts the sum of its members (each split and limited on its own), which are listed too. Tasks
    outside the bundle, or whose YAML processes its documents, are left out (unknown n)."""
    import gzip
    import json

    suites = bundled_suites() if use_bundled and not include_path else {}
    out: dict[str, int] = {}

    def count(name: str) -> int | None:
        if name in out:
            return out[name]
        cfg = _load_yaml(suites[name])
        if "group" in cfg:
            parts = [count(m) if m in suites else None for m in group_members(name)]
            n = None if not parts or None in parts else sum(parts)
        else:
            files = (cfg.get("dataset_kwargs") or {}).get("data_files") or {}
            paths = files.get(cfg.get("test_split") or cfg.get("validation_split") or "") \
                if isinstance(files, dict) else None
            if cfg.get("dataset_path") != "json" or cfg.get("process_docs") or not isinstance(paths, (str, list)):
                return None
            docs = []
            for rel in [paths] if isinstance(paths, str) else paths:
                path = suites[name].parent / rel
                text = gzip.open(path, "rt", encoding="utf-8").read() if path.suffix == ".gz" \
                    else path.read_text(encoding="utf-8")
                docs += [json.loads(line) for line in text.splitlines() if line.strip()]
            n = len(docs)
            if split != "all":
                items = [{"id": str(i), "category": d.get("category") if isinstance(d, dict)
                          and isinstance(d.get("category"), str) else None} for i, d in enumerate(docs)]
                n = sum(v == split for v in harness.assign_splits(str(cfg.get("task") or name), items).values())
            n = min(n, limit or sample or n)
        if n is not None:
            out[name] = n
        return n

    for name in tasks:
        if name in suites:
            count(name)
    return out or None
