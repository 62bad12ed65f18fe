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
