"""The Run page's checkpoint section: an ``evaluate_every`` stage's dev metrics through
training, one chart per metric with the selected checkpoint marked, and its table."""

from __future__ import annotations

import pandas as pd

from harness.reports.checkpoints import note, selecting_stages

from . import charts
from .text import md


def dev_verdict(row: dict) -> str:
    """A checkpoint's gates on dev: pass, no, or - (the recipe has no gates)."""
    return "-" if row.get("passed") is None else "pass" if row["passed"] else "no"


def long_frame(entry: dict) -> pd.DataFrame:
    """One row per (checkpoint, metric): value, interval, the checkpoint's gate verdict on dev."""
    rows = []
    for r in entry.get("checkpoints") or []:
        verdict = dev_verdict(r)
        for metric, m in (r.get("metrics") or {}).items():
            if m.get("value") is None:
                continue
            low, high = (m.get("interval") or [m["value"], m["value"]])[:2]
            rows.append({"step": r["step"], "metric": metric, "value": m["value"], "low": low, "high": high,
                         "gates": verdict})
    return pd.DataFrame(rows)


def render(st, record: dict) -> None:
    for i, entry in enumerate(selecting_stages(record)):
        sel = entry.get("selection") or {}
        chosen = sel.get("step")
        st.subheader(f"Checkpoints of {md(entry.get('name'))} (dev items)")
        st.caption(f"Selected: {'step ' + str(chosen) if chosen is not None else 'none'}"
                   f"{' (fallback)' if sel.get('fallback') else ''} — {md(sel.get('reason', ''))}. {md(note(entry))}")
        table = pd.DataFrame([{"step": r["step"], "selected": r["step"] == chosen,
                               "gates on dev": dev_verdict(r),
                               **{k: m.get("value") for k, m in (r.get("metrics") or {}).items()}}
                              for r in entry.get("checkpoints") or []])
        st.dataframe(table, hide_index=True, key=f"run.checkpoints.{i}")
        long = long_frame(entry)
        for metric in sorted(set(long["metric"])) if not long.empty else []:
            st.altair_chart(charts.checkpoint_curve(long[long["metric"] == metric], metric, chosen))
