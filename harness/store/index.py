"""The listing index of a remote store: one small summary of each finished run.

``index/<run_id>.json`` holds what ``harness runs`` and the dashboard's Runs page
show (id, name, status, verdict, dates, model, machine, sweep point, stage timings,
metric values, gate lines), so listing the newest runs reads a few hundred bytes per
run instead of each whole ``run.json`` (recipe text, environment, training logs).
It is derived: the run's writer puts it after ``run.json``; ``harness store
reindex`` rebuilds every entry from the records. A summary has the record's shape
(every listing reader takes either) plus ``"summary": true``.
"""

from __future__ import annotations

from typing import Any

INDEX_VERSION = 1

_FIELDS = ("schema_version", "id", "name", "kind", "status", "description", "tags", "gates_passed",
           "created_at", "finished_at", "duration_s", "seed", "baseline", "sweep")
_METRIC_KEYS = ("value", "stderr", "n", "higher_is_better", "concern")
_STAGE_KEYS = ("name", "kind", "status", "duration_s", "cached", "throughput")
_GATE_KEYS = ("metric", "rule", "threshold", "observed", "bound", "passed", "verdict", "message")


def _pick(obj: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: obj[k] for k in keys if k in obj} if isinstance(obj, dict) else {}


def summary_of(record: dict[str, Any]) -> dict[str, Any]:
    """The index entry of ``record``."""
    out = _pick(record, _FIELDS)
    env = record.get("environment") or {}
    out["environment"] = _pick(env, ("host", "git_sha", "accelerator"))
    out["model"] = _pick(record.get("model"), ("name", "loader", "device", "dtype", "parameters"))
    out["recipe"] = _pick(record.get("recipe"), ("path",))
    out["stages"] = [_pick(s, _STAGE_KEYS) for s in record.get("stages") or [] if isinstance(s, dict)]
    out["metrics"] = {phase: {name: _pick(m, _METRIC_KEYS) for name, m in (metrics or {}).items()}
                      for phase, metrics in (record.get("metrics") or {}).items() if isinstance(metrics, dict)}
    out["gates"] = [_pick(g, _GATE_KEYS) for g in record.get("gates") or [] if isinstance(g, dict)]
    out["error"] = _pick(record.get("error"), ("stage", "type", "message")) or None
    return out | {"summary": True, "index_version": INDEX_VERSION}
