"""The Compare and Items pages' view of ``harness.verdicts.compare`` (the one implementation
of the paired statistics): cached comparisons, the one metric table, gates."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from harness.reports.metric_table import gate_confidence, gate_outcome, gate_verdict, metric_rows
from harness.verdicts import compare as hc

from . import loading


@st.cache_data(show_spinner=False, max_entries=32)
def _comparison(root: str, id_a: str, ver_a: str, phase_a: str, id_b: str, ver_b: str, phase_b: str,
                confidence: float, allow_mismatch: bool) -> hc.Comparison:
    rec_a, rec_b = loading.record(root, id_a), loading.record(root, id_b)
    return hc.compare_records(rec_a, loading.samples(root, id_a, phase_a), rec_b,
                              loading.samples(root, id_b, phase_b), phase_a=phase_a, phase_b=phase_b,
                              confidence=confidence, allow_mismatch=allow_mismatch)


def comparison(root: str, id_a: str, phase_a: str, id_b: str, phase_b: str, *,
               confidence: float = 0.95, allow_mismatch: bool = False) -> hc.Comparison:
    """B against A, paired; raises ``harness.verdicts.compare.CompareError`` / ``ComparisonMismatch``."""
    return _comparison(root, id_a, loading.run_version(root, id_a), phase_a, id_b,
                       loading.run_version(root, id_b), phase_b, confidence, allow_mismatch)


def phases(record: dict[str, Any]) -> list[str]:
    """The phases a record has metrics for, in order."""
    metrics = record.get("metrics") or {}
    return [p for p in hc.PHASES if metrics.get(p)]


def rows(comp: hc.Comparison, gates: list[dict[str, Any]], record_a: dict[str, Any],
         record_b: dict[str, Any]) -> list:
    """The one metric table (``harness.reports.metric_table``) of this comparison."""
    return metric_rows(comp, gates, record_a=record_a, record_b=record_b)


def table(rows_: list) -> pd.DataFrame:
    """The metric rows as a frame: concern, suite, metric, good direction, A, B, B − A,
    interval, McNemar p, change, gate; the same numbers as every other renderer."""
    out = []
    for r in rows_:
        out.append({
            "group": r.concern, "suite": r.suite, "metric": r.name, "key": r.metric,
            "good": "↑" if r.higher_is_better else "↓",
            "A": r.a, "B": r.b, "B − A": r.diff, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "p": r.p_value, "significant": r.significant,
            "change": r.change + (" (significant)" if r.significant else ""),
            "n paired": r.n, "improved": r.improved, "regressed": r.regressed,
            "gate": {"passed": "✓ passed", "failed": "✗ failed", "inconclusive": "? inconclusive"}.get(r.gate or "", "")
            + ("" if not r.gate_messages else ": " + "; ".join(r.gate_messages)),
            "parent": r.parent or "", "hidden": r.hidden,
        })
    return pd.DataFrame(out)


GATE_FRAME_COLUMNS = ["verdict", "metric", "rule", "threshold", "observed", "bound", "confidence", "mde", "message"]


def gates_frame(record_or_gates: dict[str, Any] | list[dict[str, Any]]) -> pd.DataFrame:
    """One row per gate rule: the three-valued verdict (an inconclusive one with what it counted
    as), the bound's numbers and the MDE (numbers), the adjusted confidence (``97.5% (Holm)``)."""
    gates = record_or_gates.get("gates") or [] if isinstance(record_or_gates, dict) else record_or_gates
    marks = {"passed": "✓ ", "failed": "✗ ", "inconclusive": "? "}
    rows = [{"verdict": marks[gate_outcome(g)] + gate_verdict(g),
             "metric": g.get("metric"), "rule": g.get("rule"), "threshold": g.get("threshold"),
             "observed": g.get("observed"), "bound": g.get("bound"), "confidence": gate_confidence(g),
             "mde": g.get("mde"), "message": g.get("message")} for g in gates]
    return pd.DataFrame(rows, columns=GATE_FRAME_COLUMNS)


def gating_line(rec_a: dict[str, Any], rec_b: dict[str, Any], gates: list[dict[str, Any]]) -> str | None:
    """The policy line of :func:`gates_for`' gates (verdict counts, on_inconclusive, the adjustment)."""
    from harness.reports.gating import comparison_gating, policy_line

    return policy_line(comparison_gating(rec_a, rec_b, gates))


def gates_for(root: str, comp: hc.Comparison, rec_a: dict[str, Any], rec_b: dict[str, Any]) -> list[dict[str, Any]]:
    """The gates that speak for this comparison (see ``harness compare``): the run's own
    for before → after, else B's recipe gates judged with A as the baseline."""
    from harness.reports.gating import comparison_gates
    from harness.store.local import Store

    gates = comparison_gates(Store(root), comp, rec_a, rec_b)
    return [g.to_dict() if hasattr(g, "to_dict") else dict(g) for g in gates]


def higher_is_better(record: dict[str, Any], metric: str) -> bool:
    """The metric's good direction as the record states it (default: higher)."""
    for phase in ("after", "before"):
        entry = ((record.get("metrics") or {}).get(phase) or {}).get(metric)
        if isinstance(entry, dict) and "higher_is_better" in entry:
            return bool(entry["higher_is_better"])
    return True


def has_metric(record: dict[str, Any], metric: str) -> bool:
    return any(metric in ((record.get("metrics") or {}).get(p) or {}) for p in hc.PHASES)
