"""Paired comparison: pairing, bootstrap interval, McNemar, flips, mismatch refusal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from harness.reports.render import format_markdown, format_table
from harness.store.local import Store, write_json, write_jsonl
from harness.verdicts.compare import (
    Comparison,
    ComparisonMismatch,
    compare_records,
    compare_runs,
    flipped_items,
    mcnemar_exact,
    paired_bootstrap,
)

TASK = {"content_hash": "h-qa", "version": "1", "settings": {"num_fewshot": 0}}


def rows(suite: str, metric: str, scores, prefix: str = "out") -> list[dict]:
    return [{"suite": suite, "item_id": str(i), "prompt": f"q{i}", "output": f"{prefix}{i}",
             "scores": {metric: float(s)}} for i, s in enumerate(scores)]


def agg(samples: list[dict], hib: dict[str, bool] | None = None) -> dict:
    """Aggregate metrics (means) of per-sample rows, as an evaluator would record them."""
    vals: dict[str, list[float]] = {}
    for r in samples:
        for k, v in r["scores"].items():
            vals.setdefault(f"{r['suite']}/{k}", []).append(v)
    return {m: {"value": float(np.mean(v)), "stderr": None, "n": len(v),
                "higher_is_better": (hib or {}).get(m, True)} for m, v in vals.items()}


def make_run(store: Store, name: str, before: list[dict], after: list[dict] | None = None, *,
             tasks: dict | None = None, hib: dict[str, bool] | None = None, status: str = "completed",
             gates: dict | None = None, error: dict | None = None) -> str:
    """Write a hand-made run folder in the store format; returns its id."""
    run_id, folder = store.new_run_dir(name)
    suites = {r["suite"] for r in before}
    metrics = {"before": agg(before, hib)}
    write_jsonl(folder / "samples" / "before.jsonl", before)
    if after is not None:
        metrics["after"] = agg(after, hib)
        write_jsonl(folder / "samples" / "after.jsonl", after)
    recipe = {"path": "r.toml", "text": "", "resolved": {"gates": gates or {}}}
    write_json(folder / "run.json", {
        "schema_version": 1, "id": run_id, "name": name, "kind": "run" if after is not None else "eval",
        "status": status, "duration_s": 1.5, "created_at": "2026-01-01T00:00:00Z", "recipe": recipe,
        "metrics": metrics, "tasks": tasks or {s: dict(TASK) for s in suites}, "error": error})
    return run_id


def test_mcnemar_matches_scipy_and_hand_worked_case():
    # hand-worked: b=0, c=5 → p = 2 · (1/2)^5 = 0.0625
    assert mcnemar_exact(0, 5) == pytest.approx(0.0625)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    for b, c in [(1, 9), (7, 2), (12, 30), (40, 41), (0, 1), (150, 190)]:
        assert mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_paired_bootstrap_is_the_documented_resampling():
    rng = np.random.default_rng(7)
    d = rng.normal(0.1, 1.0, size=1500)  # > 1333 items: exercises the chunked path
    low, high = paired_bootstrap(d, seed=3, n_boot=2000, confidence=0.9)
    idx = np.random.default_rng(3).integers(0, d.size, size=(2000, d.size))
    ref = np.quantile(d[idx].mean(axis=1), [0.05, 0.95])
    assert (low, high) == pytest.approx(tuple(ref), abs=1e-12)
    # and close to the normal approximation mean ± z·sd/√n
    half = 1.6449 * d.std(ddof=1) / np.sqrt(d.size)
    assert low == pytest.approx(d.mean() - half, abs=0.01)
    assert high == pytest.approx(d.mean() + half, abs=0.01)


def _binary_pair(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    a = (rng.random(n) < 0.4).astype(float)
    b = a.copy()
    flip_up = rng.choice(np.flatnonzero(a == 0), 40, replace=False)
    flip_down = rng.choice(np.flatnonzero(a == 1), 10, replace=False)
    b[flip_up], b[flip_down] = 1.0, 0.0
    return a, b


def test_compare_records_binary_metric():
    a, b = _binary_pair()
    sa, sb = rows("qa", "acc", a), rows("qa", "acc", b, prefix="new")
    ra = {"id": "A", "name": "a", "metrics": {"before": agg(sa)}, "tasks": {"qa": TASK}}
    rb = {"id": "B", "name": "b", "metrics": {"before": agg(sb)}, "tasks": {"qa": TASK}}
    comp = compare_records(ra, sa, rb, sb, seed=1, n_boot=1000)
    m = comp.metric("qa/acc")
    assert m.n_paired == 200 and m.binary
    assert m.flips == {"0→1": 40, "1→0": 10}
    assert (m.improved, m.regressed) == (40, 10)
    assert m.p_value == pytest.approx(binomtest(40, 50, 0.5).pvalue)
    assert m.diff == pytest.approx(b.mean() - a.mean()) == pytest.approx(0.15)
    assert m.value_a == pytest.approx(a.mean()) and m.aggregate_b == pytest.approx(b.mean())
    assert m.ci_low < 0.15 < m.ci_high and m.ci_low > 0 and m.significant
    idx = np.random.default_rng(1).integers(0, 200, size=(1000, 200))
    assert (m.ci_low, m.ci_high) == pytest.approx(tuple(np.quantile((b - a)[idx].mean(1), [0.025, 0.975])))
    # same seed → same interval; to_dict is JSON-friendly
    assert compare_records(ra, sa, rb, sb, seed=1, n_boot=1000).metric("qa/acc").ci_low == m.ci_low
    assert comp.to_dict()["metrics"][0]["flips"] == {"0→1": 40, "1→0": 10}


def test_lower_is_better_counts_improvements_downwards():
    sa = rows("adv", "harmful", [1, 1, 1, 1, 0, 1])
    sb = rows("adv", "harmful", [0, 0, 0, 1, 1, 1])
    hib = {"adv/harmful": False}
    ra = {"id": "A", "metrics": {"before": agg(sa, hib)}, "tasks": {"adv": TASK}}
    rb = {"id": "B", "metrics": {"before": agg(sb, hib)}, "tasks": {"adv": TASK}}
    m = compare_records(ra, sa, rb, sb).metric("adv/harmful")
    assert m.higher_is_better is False
    assert m.flips == {"0→1": 1, "1→0": 3}
    assert (m.improved, m.regressed) == (3, 1)
    assert m.diff == pytest.approx(-2 / 6) and m.improvement == pytest.approx(2 / 6)
    lo, hi = m.improvement_interval()
    assert lo == pytest.approx(-m.ci_high) and hi == pytest.approx(-m.ci_low)
    flips = flipped_items(compare_records(ra, sa, rb, sb), "adv/harmful")
    assert [f["direction"] for f in flips] == ["regressed", "improved", "improved", "improved"]
    assert flips[0] == {"suite": "adv", "item_id": "4", "prompt": "q4", "output_a": "out4",
                        "output_b": "out4", "target": None, "score_a": 0.0, "score_b": 1.0,
                        "direction": "regressed", "change": "0→1"}


def test_pairs_only_common_items_and_continuous_scores():
    sa = rows("gen", "bleu", [0.1, 0.2, 0.3, 0.4])
    sb = rows("gen", "bleu", [0.3, 0.2, 0.1, 0.9, 0.5])  # item 4 is only in B
    ra = {"id": "A", "metrics": {"after": agg(sa)}, "tasks": {"gen": TASK}}
    rb = {"id": "B", "metrics": {"after": agg(sb)}, "tasks": {"gen": TASK}}
    comp = compare_records(ra, sa, rb, sb)
    m = comp.metric("gen/bleu")
    assert m.n_paired == 4 and not m.binary and m.p_value is None and m.flips == {}
    assert m.diff == pytest.approx((0.2 + 0 - 0.2 + 0.5) / 4)
    assert (m.improved, m.regressed) == (2, 1)
    assert any("4 items paired" in w for w in comp.warnings)
    assert {r["item_id"] for r in flipped_items((sa, sb), "gen/bleu")} == {"0", "2", "3"}


@pytest.mark.parametrize("field,value,needle", [
    ("content_hash", "other", "content_hash differs"),
    ("version", "2", "version differs"),
    ("settings", {"num_fewshot": 5}, "settings differ (num_fewshot: A 0 vs B 5)"),
])
def test_mismatch_is_refused_or_warned(field, value, needle):
    sa = rows("qa", "acc", [1, 0, 1])
    ra = {"id": "A", "metrics": {"before": agg(sa)}, "tasks": {"qa": TASK}}
    rb = {"id": "B", "metrics": {"before": agg(sa)}, "tasks": {"qa": {**TASK, field: value}}}
    with pytest.raises(ComparisonMismatch) as err:
        compare_records(ra, sa, rb, sa)
    assert "qa: " + needle in str(err.value)
    comp = compare_records(ra, sa, rb, sa, allow_mismatch=True)
    assert any(needle in w for w in comp.warnings)
    assert comp.metric("qa/acc").diff == 0 and not comp.metric("qa/acc").significant


def test_compare_runs_from_store_and_formatting():
    store = Store()
    a, b = _binary_pair(seed=2, n=60)
    one = make_run(store, "one", rows("qa", "acc", a), rows("qa", "acc", b))
    two = make_run(store, "two", rows("qa", "acc", b))  # eval-only: final phase is "before"
    own = compare_runs(store, one)
    assert (own.a["phase"], own.b["phase"]) == ("before", "after")
    assert own.metric("qa/acc").diff == pytest.approx(b.mean() - a.mean())
    across = compare_runs(store, one, two)
    assert (across.a["phase"], across.b["phase"]) == ("after", "before")
    assert across.metric("qa/acc").diff == 0
    with pytest.raises(Exception, match="no 'after' metrics"):
        compare_runs(store, two)
    table = format_table(own)
    assert "qa/acc" in table and "↑" in table and "95% CI" in table and " *" in table
    md = format_markdown(own)
    assert md.count("\n|") >= 3 and "`qa/acc`" in md
    assert isinstance(own, Comparison)


def test_compare_gates_and_reports_import_no_ml_library():
    import subprocess
    import sys

    code = ("import sys, harness.verdicts.compare, harness.verdicts.gates, harness.reports.junit, harness.reports.summary, "
            "harness.cli.compare_cmd; print(sorted(m for m in ('torch', 'transformers', 'numpy', 'scipy', "
            "'lm_eval', 'trl', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
