"""What every reader of a run record relies on beyond its JSON shape: which evaluation is final.

A record has metrics for ``before`` (the starting model) and, when it trained, ``after``; an
eval-only run has ``before`` alone. Every place that judges, compares, exports or describes a
run's result reads the final one through :func:`final_phase`.
"""

from __future__ import annotations

from typing import Any

PHASES = ("before", "after")


def final_phase(record: dict[str, Any]) -> str | None:
    """``after`` when the record has after-metrics, else ``before`` when it has before-metrics,
    else None (a run that failed before evaluating)."""
    metrics = record.get("metrics") or {}
    for phase in reversed(PHASES):
        if metrics.get(phase):
            return phase
    return None
