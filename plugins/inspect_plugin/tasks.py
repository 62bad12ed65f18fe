"""Finding the inspect ``Task`` a recipe names, and hashing what it evaluates.

``task`` is ``"path/to/file.py@task_name"`` (a relative file is found from the working
directory, as ``inspect eval`` does), a file given by ``task_file`` (relative to the recipe's
folder) plus the task's name in ``task``, or a registered task name (``inspect_evals/xstest``).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import harness


def task_spec(task: str, task_file: str | None) -> tuple[str, Path | None]:
    """``(spec for inspect, the task's file or None)``; the spec's file is made absolute."""
    if task_file:
        path = Path(task_file).expanduser().resolve()
        if not path.is_file():
            raise harness.ParamError([("task_file", f"inspect task file not found: {path}")])
        return f"{path}@{task}", path
    file, sep, name = task.rpartition("@")
    if sep and file.endswith(".py"):
        path = Path(file).expanduser().resolve()
        if not path.is_file():
            raise harness.ParamError([("task", f"inspect task file not found: {path} (from {task!r}; a relative "
                                               "file is found from the working directory: use task_file for one "
                                               "beside the recipe)")])
        return f"{path}@{name}", path
    return task, None


def load_task(task: str, task_file: str | None, task_args: dict[str, Any]) -> tuple[Any, Path | None]:
    """The inspect ``Task`` object and its file (None for a registered task)."""
    from inspect_ai._eval.loader import load_tasks  # what `inspect eval` resolves task specs with

    spec, path = task_spec(task, task_file)
    try:
        tasks = load_tasks([spec], dict(task_args))
    except Exception as exc:  # noqa: BLE001 - inspect raises many kinds; the message says which task
        raise harness.ParamError([("task", f"inspect could not load task {spec!r}: {type(exc).__name__}: {exc}")]) \
            from exc
    if len(tasks) != 1:
        raise harness.ParamError([("task", f"{spec!r} names {len(tasks)} inspect tasks; name exactly one "
                                           "(file.py@task_name)")])
    return tasks[0], path


def dataset_rows(task: Any) -> list[dict[str, Any]]:
    """The task's samples as plain data (what the content hash covers)."""
    rows = []
    for i, s in enumerate(task.dataset):
        prompt = s.input if isinstance(s.input, str) else [[m.role, m.text] for m in s.input]
        rows.append({"id": s.id if s.id is not None else i + 1, "input": prompt, "target": s.target,
                     "choices": s.choices})
    return rows


def task_fingerprint(task: Any, path: Path | None) -> dict[str, Any]:
    """What decides the task's scores besides the model: its samples, its code (the task file,
    or the package that registered it), its version and inspect's version."""
    module = type(task).__module__
    if path is not None:
        code = harness.content_hash(path.read_bytes().decode("utf-8", "replace"))
    else:
        code = _package_version(getattr(task, "name", "") or "") or module
    return {"name": task.name, "version": getattr(task, "version", None),
            "items": harness.items_hash(dataset_rows(task)), "code": code,
            "inspect_ai": importlib.metadata.version("inspect_ai")}


def _package_version(name: str) -> str | None:
    package = name.split("/", 1)[0] if "/" in name else None
    if not package:
        return None
    try:
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return None
