"""Training curves from a run's logs: which quantities get a panel, read from the store.

One panel per quantity — loss, reward/margins, learning rate, grad norm — with the
step on x; counters such as ``num_tokens`` (tens of thousands) never share an axis
with the losses. Shared by the HTML report and the dashboard's Run page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

PANELS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("loss", lambda c: c == "loss" or c.endswith("_loss") or c.startswith("loss/")),
    ("rewards / margins", lambda c: c.startswith("rewards/") or c.startswith("reward") or "margin" in c),
    ("learning rate", lambda c: c == "learning_rate"),
    ("grad norm", lambda c: c == "grad_norm"),
)


def panel_columns(columns: Iterable[str]) -> dict[str, list[str]]:
    """``{panel title: [log columns]}`` for the panels that have data, in panel order."""
    cols = list(columns)
    out: dict[str, list[str]] = {}
    for title, belongs in PANELS:
        mine = [c for c in cols if belongs(c) and c != "rewards/accuracies"]
        if mine:
            out[title] = mine
    return out


def _read(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def training_logs(run_dir: Path, record: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """``[(stage label, log rows)]`` for each train stage whose log is readable inside the run folder."""
    out = []
    root = Path(run_dir).resolve()
    for t in record.get("training") or []:
        log = t.get("log")
        if not log:
            continue
        path = (root / str(log)).resolve()
        if root not in path.parents or not path.is_file():
            continue
        out.append((f"{t.get('stage')} ({t.get('trainer')})", _read(path)))
    return out


def series(logs: list[tuple[str, list[dict[str, Any]]]], prefix: str = "") -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``{panel: {series label: [(step, value)]}}``; a series is one column of one stage."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for stage, rows in logs:
        cols = sorted({k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        for panel, columns in panel_columns(cols).items():
            for col in columns:
                pts = [(float(r.get("step", i + 1)), float(r[col])) for i, r in enumerate(rows)
                       if isinstance(r.get(col), (int, float)) and not isinstance(r.get(col), bool)]
                if pts:
                    label = f"{prefix}{stage}" + ("" if col in ("loss", "learning_rate", "grad_norm") else f" {col}")
                    out.setdefault(panel, {})[label] = pts
    return out
