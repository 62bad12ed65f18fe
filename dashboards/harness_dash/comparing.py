"""The Compare and Items pages' view of ``harness.compare`` (the one implementation
of the paired statistics): cached comparisons, benchmark/safety grouping, gates."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from harness import compare as hc

from . import loading

SAFETY_WORDS = ("safety", "advbench", "xstest", "harmbench", "refusal", "toxic", "jailbreak")


@st.cache_data(show_spinner=False, max_entries=32)
def _comparison(root: str, id_a: str, ver_a: str, phase_a: str, id_b: str, ver_b: str, phase_b: str,
                confidence: float, allow_mismatch: bool) -> hc.Comparison:
    rec_a, rec_b = loading.record(root, id_a), loading.record(root, id_b)
    return hc.compare_records(rec_a, loading.samples(root, id_a, phase_a), rec_b,
                              loading.samples(root, id_b, phase_b), phase_a=phase_a, phase_b=phase_b,
                              confidence=confidence, allow_mismatch=allow_mismatch)


def comparison(root: str, id_a: str, phase_a: str, id_b: str, phase_b: str, *,
               confidence: float = 0.95, allow_mismatch: bool = False) -> hc.Comparison:
    """B against A, paired; raises ``harness.compare.CompareError`` / ``ComparisonMismatch``."""
    return _comparison(root, id_a, loading.run_version(root, id_a), phase_a, id_b,
                       loading.run_version(root, id_b), phase_b, confidence, allow_mismatch)


def phases(record: dict[str, Any]) -> list[str]:
    """The phases a record has metrics for, in order."""
    metrics = record.get("metrics") or {}
    return [p for p in hc.PHASES if metrics.get(p)]


def suite_group(record: dict[str, Any], suite: str, samples: list[dict] | None = None) -> str:
    """``safety`` or ``benchmark``: by the evaluator that scored the suite (its label,
    plugin or name mentions safety), by well-known safety suite names, or by safety
    filter verdicts on its items."""
    task = (record.get("tasks") or {}).get(suite) or {}
    label = str(task.get("evaluator") or "")
    names = [label, suite]
    for comp in record.get("components") or []:
        if comp.get("role") == f"evaluate:{label}":
            names += [str(comp.get("fullname") or ""), str(comp.get("plugin") or "")]
    if any(w in n.lower() for n in names for w in SAFETY_WORDS):
        return "safety"
    if samples and any(r.get("filters") for r in samples if r.get("suite") == suite):
        return "safety"
    return "benchmark"


def gates_by_metric(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for gate in record.get("gates") or []:
        out.setdefault(str(gate.get("metric")), []).append(gate)
    return out


def gate_label(gates: list[dict[str, Any]]) -> str:
    if not gates:
        return ""
    return "; ".join(("✓ " if g.get("passed") else "✗ ") + str(g.get("message") or g.get("rule") or "")
                     for g in gates)


def table(comp: hc.Comparison, record_b: dict[str, Any], samples_b: list[dict] | None = None) -> pd.DataFrame:
    """One row per metric: group, suite, metric, good direction, A, B, B − A, interval,
    McNemar p, significance, flips and the gate verdicts recorded by B's run."""
    gates = gates_by_metric(record_b)
    rows = []
    for m in comp.metrics:
        a = m.aggregate_a if m.aggregate_a is not None else m.value_a
        b = m.aggregate_b if m.aggregate_b is not None else m.value_b
        verdict = ""
        if m.improvement:
            verdict = ("better" if m.improvement > 0 else "worse") + (" (significant)" if m.significant else "")
        rows.append({
            "group": suite_group(record_b, m.suite, samples_b),
            "suite": m.suite, "metric": m.name, "key": m.metric,
            "good": "↑" if m.higher_is_better else "↓",
            "A": a, "B": b, "B − A": m.diff, "ci_low": m.ci_low, "ci_high": m.ci_high,
            "p": m.p_value, "significant": bool(m.significant), "verdict": verdict,
            "n paired": m.n_paired, "improved": m.improved, "regressed": m.regressed,
            "gate": gate_label(gates.get(m.metric, [])),
        })
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values(["group", "suite", "metric"], kind="stable").reset_index(drop=True)
    return frame


def gates_frame(record: dict[str, Any]) -> pd.DataFrame:
    rows = [{"verdict": "✓ passed" if g.get("passed") else "✗ failed", "metric": g.get("metric"),
             "rule": g.get("rule"), "threshold": g.get("threshold"), "observed": g.get("observed"),
             "bound": g.get("bound"), "message": g.get("message")} for g in record.get("gates") or []]
    return pd.DataFrame(rows)
