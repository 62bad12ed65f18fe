"""One flat row per run record: what the Runs page lists, filters and exports.

Fixed columns are in ``COLUMNS``; per-stage, per-metric and sweep-grid columns are
added with prefixes: ``stage:<name> [s]``, ``stage:<name> [<throughput key>]``,
``before:<suite/metric>``, ``after:<suite/metric>``, ``grid:<recipe key>`` (a sweep
point's value of that key; ``sweep`` holds the sweep id).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterable

import pandas as pd

COLUMNS = ["id", "name", "kind", "recipe", "model", "loader", "tags", "status", "gates", "date",
           "git_sha", "host", "accelerator", "wall_s", "sweep"]
STATUSES = ["completed", "failed", "incomplete", "corrupt"]


def accelerator_label(acc: dict[str, Any] | None) -> str:
    """``cuda × 8 · NVIDIA A100`` from a record's ``environment.accelerator``."""
    if not acc:
        return ""
    kind, count, name = acc.get("kind") or "?", acc.get("count") or 1, acc.get("name") or ""
    label = f"{kind} × {count}"
    return f"{label} · {name}" if name and name != kind else label


GATE_LABELS = ["passed", "failed", "inconclusive (fail-closed)", "none"]


def gates_label(record: dict[str, Any]) -> str:
    """The run's three-valued gate outcome as its verdict line gives it (``passed``, ``failed``,
    ``inconclusive (fail-closed)``, ``passed (1 inconclusive: on_inconclusive = warn)``), ``none``
    without gates."""
    from harness.reports.gating import run_gate_outcome

    return run_gate_outcome(record) or "none"


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flatten one record; tolerant of the partial records of incomplete/corrupt runs."""
    env = record.get("environment") or {}
    model = record.get("model") or {}
    recipe = record.get("recipe") or {}
    created = str(record.get("created_at") or "")
    row: dict[str, Any] = {
        "id": record.get("id", ""),
        "name": record.get("name") or "",
        "kind": record.get("kind") or "",
        "recipe": recipe.get("path") or "",
        "model": model.get("name") or "",
        "loader": model.get("loader") or "",
        "tags": ", ".join(str(t) for t in record.get("tags") or []),
        "status": record.get("status") or "incomplete",
        "gates": gates_label(record),
        "date": created.replace("T", " ").rstrip("Z")[:16],
        "git_sha": str(env.get("git_sha") or "")[:12],
        "host": env.get("host") or "",
        "accelerator": accelerator_label(env.get("accelerator")),
        "wall_s": _num(record.get("duration_s")),
        "sweep": str((record.get("sweep") or {}).get("id") or ""),
    }
    for key, value in ((record.get("sweep") or {}).get("point") or {}).items():
        row[f"grid:{key}"] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)
    for stage in record.get("stages") or []:
        name = stage.get("name") or stage.get("kind") or "?"
        row[f"stage:{name} [s]"] = _num(stage.get("duration_s"))
        for key, value in (stage.get("throughput") or {}).items():
            row[f"stage:{name} [{key}]"] = _num(value)
    for phase in ("before", "after"):
        for metric, m in ((record.get("metrics") or {}).get(phase) or {}).items():
            row[f"{phase}:{metric}"] = _num(m.get("value") if isinstance(m, dict) else m)
    return row


def rows_to_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    for col in COLUMNS:
        if col not in frame:
            frame[col] = pd.Series(dtype=object)
    extra = sorted(c for c in frame.columns if c not in COLUMNS)
    stage_cols = [c for c in extra if c.startswith("stage:")]
    grid_cols = [c for c in extra if c.startswith("grid:")]
    metric_cols = [c for c in extra if not c.startswith(("stage:", "grid:"))]
    return frame[COLUMNS + grid_cols + stage_cols + metric_cols]


def grid_columns(frame: pd.DataFrame) -> list[str]:
    """The ``grid:<key>`` columns that some row of ``frame`` fills (the shown sweeps' grid keys)."""
    return [c for c in frame.columns if c.startswith("grid:") and frame[c].notna().any()]


def sweep_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep in ``frame``: its points, how they ended, the grid keys, when it started."""
    swept = frame[frame["sweep"].fillna("") != ""]
    rows = []
    for sweep_id, points in swept.groupby("sweep", sort=False):
        rows.append({"sweep": sweep_id, "points": len(points),
                     "completed": int((points["status"] == "completed").sum()),
                     "gates passed": int(points["gates"].astype(str).str.startswith("passed").sum()),
                     "gates failed": int((points["gates"] == "failed").sum()),
                     "gates inconclusive": int(points["gates"].astype(str).str.startswith("inconclusive").sum()),
                     "not finished": int(points["status"].isin(["failed", "incomplete", "corrupt"]).sum()),
                     "grid": ", ".join(c.removeprefix("grid:") for c in grid_columns(points)),
                     "started": str(points["date"].min())})
    return pd.DataFrame(rows, columns=["sweep", "points", "completed", "gates passed", "gates failed",
                                       "gates inconclusive", "not finished", "grid", "started"])


def metric_names(frame: pd.DataFrame) -> list[str]:
    names = {c.split(":", 1)[1] for c in frame.columns if c.startswith(("before:", "after:"))}
    return sorted(names)


def headline_metrics(frame: pd.DataFrame) -> list[str]:
    """Metrics worth a column: no per-category breakdowns, no redundant refusal_rate."""
    return [m for m in metric_names(frame) if m.count("/") == 1 and not m.endswith("/refusal_rate")]


def headline(frame: pd.DataFrame) -> pd.DataFrame:
    """Add two numeric (sortable) columns per headline metric: the final value (``after``,
    else ``before``) under the metric's name, and ``Δ <metric>`` (after − before)."""
    out = frame.copy()
    for metric in headline_metrics(frame):
        b = frame.get(f"before:{metric}", pd.Series(index=frame.index, dtype=float)).astype(float)
        a = frame.get(f"after:{metric}", pd.Series(index=frame.index, dtype=float)).astype(float)
        out[metric] = a.where(a.notna(), b)
        out[f"Δ {metric}"] = a - b
    return out


def tag_set(tags: str) -> set[str]:
    return {t.strip() for t in tags.split(",") if t.strip()}


# Filters: name → (kind, column). "text" matches a case-insensitive substring,
# "prefix" a prefix, "multi" membership ("tags": any of the chosen tags).
FILTERS: dict[str, tuple[str, str]] = {
    "name": ("text", "name"),
    "recipe": ("multi", "recipe"),
    "model": ("multi", "model"),
    "loader": ("multi", "loader"),
    "tags": ("multi", "tags"),
    "status": ("multi", "status"),
    "gates": ("multi", "gates"),
    "host": ("multi", "host"),
    "accelerator": ("multi", "accelerator"),
    "sha": ("prefix", "git_sha"),
    "sweep": ("multi", "sweep"),
}


def filter_options(frame: pd.DataFrame, name: str) -> list[str]:
    _, col = FILTERS[name]
    if name == "tags":
        return sorted(set().union(*(tag_set(t) for t in frame["tags"].fillna(""))) if len(frame) else set())
    if name == "status":
        return STATUSES + sorted(set(frame[col].dropna()) - set(STATUSES))
    if name == "gates":
        return GATE_LABELS + sorted(set(frame[col].dropna()) - set(GATE_LABELS))
    return sorted({v for v in frame[col].dropna() if v != ""})


def apply_filters(frame: pd.DataFrame, chosen: dict[str, Any],
                  date_from: date | None = None, date_to: date | None = None) -> pd.DataFrame:
    """Rows matching every non-empty filter in ``chosen`` (filter name → value)."""
    mask = pd.Series(True, index=frame.index)
    for name, value in chosen.items():
        if not value:
            continue
        kind, col = FILTERS[name]
        values = frame[col].fillna("").astype(str)
        if kind == "text":
            mask &= values.str.contains(str(value), case=False, regex=False)
        elif kind == "prefix":
            mask &= values.str.startswith(str(value))
        elif name == "tags":
            wanted = set(value)
            mask &= values.map(lambda t: bool(tag_set(t) & wanted))  # noqa: B023 - map() calls it right here
        else:
            mask &= values.isin(list(value))
    day = frame["date"].fillna("").astype(str).str[:10]
    if date_from:
        mask &= (day != "") & (day >= date_from.isoformat())
    if date_to:
        mask &= (day != "") & (day <= date_to.isoformat())
    return frame[mask]
