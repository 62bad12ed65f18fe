"""Gate semantics: value bounds, direction-aware change bounds, interval bounds, baselines."""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare import compare_records
from harness.gates import GateSpec, GateSpecError, evaluate_gates, gates_passed, parse_gate_option, parse_gates_table
from tests.test_compare import TASK, agg, rows


def run(before: list[dict], after: list[dict] | None, hib: dict | None = None, **extra) -> dict:
    metrics = {"before": agg(before, hib)}
    if after is not None:
        metrics["after"] = agg(after, hib)
    suites = {r["suite"] for r in before}
    return {"id": "R", "name": "r", "metrics": metrics, "tasks": {s: dict(TASK) for s in suites}, **extra}


def judge(gates: dict, record: dict, before, after, **kw):
    return evaluate_gates(parse_gates_table(gates), record, before_samples=before, after_samples=after, **kw)


# acc 0.6 → 0.5 (drop 0.1); harmful 0.8 → 0.3 (improves by 0.5); over_refusal 0.1 → 0.3 (worse by 0.2)
ACC_B, ACC_A = [1] * 6 + [0] * 4, [1] * 5 + [0] * 5
HARM_B, HARM_A = [1] * 8 + [0] * 2, [1] * 3 + [0] * 7
OVER_B, OVER_A = [1] + [0] * 9, [1] * 3 + [0] * 7
HIB = {"adv/harmful": False, "xs/over": False}
BEFORE = rows("qa", "acc", ACC_B) + rows("adv", "harmful", HARM_B) + rows("xs", "over", OVER_B)
AFTER = rows("qa", "acc", ACC_A) + rows("adv", "harmful", HARM_A) + rows("xs", "over", OVER_A)
REC = run(BEFORE, AFTER, HIB)


def one(gates: dict, record=REC, before=BEFORE, after=AFTER, **kw):
    [result] = judge(gates, record, before, after, **kw)
    return result


def test_min_max_bound_the_final_value():
    assert one({"qa/acc": {"min": 0.5}}).passed
    r = one({"qa/acc": {"min": 0.55}})
    assert not r.passed and r.observed == pytest.approx(0.5) and r.bound is None and "0.5 < 0.55" in r.message
    assert one({"adv/harmful": {"max": 0.3}}).passed
    assert not one({"adv/harmful": {"max": 0.29}}).passed
    # eval-only run: the value is its "before"
    eval_only = run(BEFORE, None, HIB)
    assert one({"qa/acc": {"min": 0.6}}, eval_only, BEFORE, []).observed == pytest.approx(0.6)


def test_max_drop_is_the_bad_direction_change():
    # higher is better: acc fell by 0.1
    r = one({"qa/acc": {"max_drop": 0.1}})
    assert r.passed and r.observed == pytest.approx(0.1) and r.rule == "max_drop"
    assert not one({"qa/acc": {"max_drop": 0.05}}).passed
    # lower is better and it went down: that is an improvement, a negative drop
    r = one({"adv/harmful": {"max_drop": 0.0}})
    assert r.passed and r.observed == pytest.approx(-0.5) and "lower is better" in r.message
    # a negative max_drop demands an improvement of at least that much
    assert one({"adv/harmful": {"max_drop": -0.4}}).passed
    assert not one({"adv/harmful": {"max_drop": -0.6}}).passed
    # lower is better and it went UP: a drop of 0.2
    r = one({"xs/over": {"max_drop": 0.1}})
    assert not r.passed and r.observed == pytest.approx(0.2) and "worsened by 0.2" in r.message


def test_max_increase_bounds_the_raw_rise():
    # lower is better and it rose by 0.2: the natural "over-refusal may rise by at most x"
    r = one({"xs/over": {"max_increase": 0.1}})
    assert not r.passed and r.observed == pytest.approx(0.2) and "rose by 0.2" in r.message
    assert one({"xs/over": {"max_increase": 0.25}}).passed
    # harmful compliance fell by 0.5: a fall never breaks a bound on the rise
    r = one({"adv/harmful": {"max_increase": 0.0}})
    assert r.passed and r.observed == pytest.approx(-0.5)
    # on a higher-is-better metric it caps a jump
    r = one({"qa/acc": {"max_increase": 0.0}})  # acc fell by 0.1
    assert r.passed and r.observed == pytest.approx(-0.1)


def test_confidence_judges_the_interval_worst_end():
    rng = np.random.default_rng(0)
    a = (rng.random(300) < 0.6).astype(float)
    b = a.copy()
    b[rng.choice(np.flatnonzero(a == 1), 6, replace=False)] = 0.0   # true drop 0.02
    before, after = rows("qa", "acc", a), rows("qa", "acc", b)
    rec = run(before, after)
    point = one({"qa/acc": {"max_drop": 0.03}}, rec, before, after)
    assert point.passed and point.bound is None and point.observed == pytest.approx(0.02)
    ci = one({"qa/acc": {"max_drop": 0.03, "confidence": 0.95}}, rec, before, after)
    m = compare_records(rec, before, rec, after, phase_a="before", phase_b="after").metric("qa/acc")
    assert ci.bound == pytest.approx(-m.ci_low) and ci.bound > 0.03
    assert not ci.passed and "95% worst-case drop" in ci.message
    assert one({"qa/acc": {"max_drop": 0.05, "confidence": 0.95}}, rec, before, after).passed
    # for a lower-is-better metric the worst end is the interval's upper end of the raw change
    hib = {"adv/harmful": False}
    before, after = rows("adv", "harmful", a), rows("adv", "harmful", 1 - b)
    rec = run(before, after, hib)
    r = one({"adv/harmful": {"max_drop": 1.0, "confidence": 0.9}}, rec, before, after)
    m = compare_records(rec, before, rec, after, phase_a="before", phase_b="after", confidence=0.9).metric("adv/harmful")
    assert r.bound == pytest.approx(m.ci_high) and r.observed == pytest.approx(m.diff)


def test_baseline_reference_replaces_before():
    base_after = rows("qa", "acc", [1] * 7 + [0] * 3)
    base = run(BEFORE, base_after, HIB)
    base["id"], base["name"] = "B0", "accepted"
    r = one({"qa/acc": {"max_drop": 0.1}}, reference=(base, base_after))
    assert not r.passed and r.observed == pytest.approx(0.2) and "vs baseline accepted" in r.message
    # against a baseline that evaluated other items: fails closed with the reason
    other = dict(base, tasks={"qa": {**TASK, "content_hash": "other"}, "adv": TASK, "xs": TASK})
    r = one({"qa/acc": {"max_drop": 0.5}}, reference=(other, base_after))
    assert not r.passed and "content_hash differs" in r.message


def test_unknown_metric_and_missing_base_fail_with_reasons():
    r = one({"qa/accuracy": {"min": 0.1}})
    assert not r.passed and r.observed is None and "close names: qa/acc" in r.message
    eval_only = run(BEFORE, None, HIB)
    r = one({"qa/acc": {"max_drop": 0.1}}, eval_only, BEFORE, [])
    assert not r.passed and "give a baseline" in r.message


def test_each_rule_is_one_result_and_gates_passed():
    results = judge({"qa/acc": {"min": 0.4, "max_drop": 0.05}}, REC, BEFORE, AFTER)
    assert [(r.rule, r.passed) for r in results] == [("min", True), ("max_drop", False)]
    assert gates_passed(results) is False and gates_passed(results[:1]) is True and gates_passed([]) is None
    assert set(results[0].to_dict()) == {"metric", "rule", "threshold", "observed", "bound", "passed", "message"}


def test_gate_specs_parse_with_clear_errors():
    assert parse_gate_option("openbookqa/acc:min=0.5,max_drop=0.02") == (
        "openbookqa/acc", GateSpec(min=0.5, max_drop=0.02))
    assert parse_gate_option("gsm8k/exact_match,strict:min=0.1")[0] == "gsm8k/exact_match,strict"
    for bad, needle in [("qa/acc", "METRIC:rule=value"), ("qa/acc:mni=1", "did you mean 'min'"),
                        ("qa/acc:min=x", "needs a number"), ("acc:min=1", "'suite/metric'"),
                        ("qa/acc:min=1,confidence=1.5", "between 0 and 1")]:
        with pytest.raises(GateSpecError, match=needle):
            parse_gate_option(bad)
    with pytest.raises(GateSpecError, match=r"r.toml: gates.'qa/acc': unknown rule 'max_dorp'"):
        parse_gates_table({"qa/acc": {"max_dorp": 0.1}}, where="r.toml: gates")
