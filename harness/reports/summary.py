"""A markdown summary of a run for ``$GITHUB_STEP_SUMMARY`` (or any markdown file).

Status line, gate table, and the before/after metric table with the paired
difference and interval when a comparison is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable


def _as_dict(result: Any) -> dict[str, Any]:
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.4g}" if isinstance(x, (int, float)) else str(x)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_summary(record: dict[str, Any], gate_results: Iterable[Any], comparison: Any = None) -> str:
    results = [_as_dict(r) for r in gate_results]
    name = record.get("name") or "run"
    run_id = record.get("id") or "?"
    status = record.get("status", "completed")
    from ..verdicts.gates import run_outcome
    from .metric_table import gate_outcome, gate_tier

    outcome = run_outcome(results)
    counted = [r for r in results if not r.get("passed")]
    advisory = [r for r in results if gate_tier(r) == "advisory"]
    note = (f" ({len(advisory)} advisory, {sum(gate_outcome(r) != 'passed' for r in advisory)} of them not "
            "passed: advisory gates never fail the run)") if advisory else ""
    if status != "completed":
        err = record.get("error") or {}
        where = f" at stage `{err['stage']}`" if err.get("stage") else ""
        head = f"❌ **{name}** ({run_id}) {status}{where}: {err.get('message') or 'no error message recorded'}"
    elif outcome == "failed":
        head = f"❌ **{name}** ({run_id}): {len(counted)} of {len(results)} gate checks failed{note}"
    elif counted:
        head = (f"❔ **{name}** ({run_id}): gates {outcome}: {len(counted)} of {len(results)} gate checks "
                f"inconclusive, none failed; on_inconclusive = fail counts them as failed{note}")
    elif results:
        head = f"✅ **{name}** ({run_id}): all {len(results) - len(advisory)} critical gate checks passed{note}" \
            if advisory else f"✅ **{name}** ({run_id}): all {len(results)} gate checks passed"
    else:
        head = f"✅ **{name}** ({run_id}) completed (no gates)"
    lines = [f"## harness: {name}", "", head, ""]
    rows = None
    if comparison is not None:
        from .metric_table import concern_verdicts, verdict_line
        from .render import rows_for

        rows = rows_for(comparison, results, record, record)
        lines += [f"**{verdict_line(concern_verdicts(rows))}**", ""]

    if results:
        lines += _gate_section(results, record.get("gating"))

    lines += _metrics_section(record, comparison, rows)
    from .checkpoints import markdown_lines as checkpoint_sections

    lines += checkpoint_sections(record)
    return "\n".join(lines).rstrip() + "\n"


def _gate_section(results: list[dict[str, Any]], gating: dict[str, Any] | None) -> list[str]:
    """The gate table (three-valued verdict, bound, adjusted confidence, MDE) and the policy line."""
    from .gating import policy_line
    from .metric_table import GATE_COLUMNS, gate_cells, gate_outcome

    icon = {"passed": "✅", "failed": "❌", "inconclusive": "❔"}
    out = ["### Gates", "", "| " + " | ".join(c.capitalize() if c != "mde" else "MDE" for c in GATE_COLUMNS) + " |",
           "|" + "---|" * len(GATE_COLUMNS)]
    for r in results:
        c = gate_cells(r)
        c["verdict"] = f"{icon[gate_outcome(r)]} {c['verdict']}"
        c["metric"] = f"`{c['metric']}`"
        out.append("| " + " | ".join(_cell(c[k]) for k in GATE_COLUMNS) + " |")
    line = policy_line(gating)
    return out + (["", _cell(line)] if line else []) + [""]


def _metrics_section(record: dict[str, Any], comparison: Any, rows: list | None) -> list[str]:
    if comparison is not None:
        from .render import markdown_lines

        pct = round(comparison.confidence * 100)
        return ["### Metrics", "", f"{comparison.a.get('phase')} → {comparison.b.get('phase')}, paired on items; "
                f"interval: {pct}% paired bootstrap", ""] + markdown_lines(comparison, rows or [], verdict=False) + [""]
    metrics = record.get("metrics") or {}
    before, after = metrics.get("before") or {}, metrics.get("after") or {}
    names = sorted(set(before) | set(after))
    if not names:
        return []
    out = ["### Metrics", "", "| Metric | | before | after | Δ |", "|---|---|---|---|---|"]
    for n in names:
        b, a = before.get(n) or {}, after.get(n) or {}
        hib = (a or b).get("higher_is_better", True)
        vb, va = b.get("value"), a.get("value")
        diff = f"{va - vb:+.3f}" if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else "—"
        out.append(f"| `{n}` | {'↑' if hib else '↓'} | {_num(vb)} | {_num(va)} | {diff} |")
    return out + [""]


def write_summary(record: dict[str, Any], gate_results: Iterable[Any], path: str | Path,
                  comparison: Any = None, *, append: bool | None = None) -> Path:
    """Write the summary to ``path``. ``append`` defaults to True when ``path`` is
    ``$GITHUB_STEP_SUMMARY`` (other steps write there too), else the file is replaced."""
    path = Path(path)
    if append is None:
        step = os.environ.get("GITHUB_STEP_SUMMARY")
        append = step is not None and step != "" and Path(step).resolve() == path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        fh.write(render_summary(record, gate_results, comparison))
    return path
