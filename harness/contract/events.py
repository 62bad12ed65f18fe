"""Frozen event objects passed to lifecycle hooks.

New fields are only ever added (with defaults), so a plugin written today keeps
working when the core grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    run_dir: Path
    recipe: dict[str, Any]
    components: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class StageEnded:
    run_id: str
    stage: str
    kind: str
    status: str  # "ok" | "failed" | "cached"
    duration_s: float
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class RunEnded:
    run_id: str
    run_dir: Path
    status: str
    record: dict[str, Any] = field(default_factory=dict)
