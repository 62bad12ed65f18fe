"""Gate semantics: three-valued verdicts on intervals, direction-aware change bounds, baselines,
Holm's adjustment and the minimum detectable effect, checked against scipy / statsmodels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import binomtest, norm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from harness.store.local import Store
from harness.verdicts.compare import compare_records
from harness.verdicts.gates import (
    GatePolicy,
    GateResult,
    GateSpec,
    GateSpecError,
    Reference,
    evaluate_gates,
    gates_passed,
    gating_summary,
    load_reference,
    parse_gate_option,
    parse_gates_table,
)
from harness.verdicts.stats import minimum_detectable_effect, paired_proportion_interval, tango_statistic
from tests.test_compare import TASK, agg, make_run, rows


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
ALONE = {"adjust": "none"}


def one(gates: dict, record=REC, before=BEFORE, after=AFTER, **kw):
    [result] = judge(gates, record, before, after, **kw)
    return result


def binary(suite: str, metric: str, k: int, n: int) -> list[dict]:
    return rows(suite, metric, [1] * k + [0] * (n - k))


def test_value_gates_use_the_clopper_pearson_interval_of_scipy():
    samples = binary("adv", "harmful", 40, 200)                   # 0.20 on 200 items
    rec = run(samples, None, HIB)
    ci = binomtest(40, 200).proportion_ci(0.95, method="exact")
    r = one({"adv/harmful": {"max": 0.3}}, rec, samples, [])
    assert r.verdict == "pass" and r.passed and r.interval == pytest.approx([ci.low, ci.high])
    assert r.bound == pytest.approx(ci.high) and r.observed == pytest.approx(0.2) and r.n == 200
    assert r.p_value == pytest.approx(2 * binomtest(40, 200, 0.3, alternative="less").pvalue)
    r = one({"adv/harmful": {"max": 0.1}}, rec, samples, [])      # the whole interval above 0.1
    assert r.verdict == "fail" and not r.passed and "> max 0.1" in r.message
    r = one({"adv/harmful": {"max": 0.22}}, rec, samples, [])     # 0.20 <= 0.22 but the interval straddles it
    assert r.verdict == "inconclusive" and not r.passed and "straddles max 0.22" in r.message
    assert one({"adv/harmful": {"min": 0.12}}, rec, samples, []).verdict == "pass"
    assert one({"adv/harmful": {"min": 0.3}}, rec, samples, []).verdict == "fail"


def test_small_samples_are_inconclusive_and_the_policy_decides():
    # 10 items: the point estimate 0.5 meets min 0.5, the interval [0.19, 0.81] cannot tell
    for policy, passed in (("fail", False), ("pass", True), ("warn", True)):
        r = one({"qa/acc": {"min": 0.5}}, policy={"on_inconclusive": policy})
        assert r.verdict == "inconclusive" and r.passed is passed and r.on_inconclusive == policy
    # the observed change keeps its direction rules
    r = one({"qa/acc": {"max_drop": 0.1}})
    assert r.observed == pytest.approx(0.1) and r.verdict == "inconclusive"
    r = one({"adv/harmful": {"max_drop": 0.0}})
    assert r.observed == pytest.approx(-0.5) and "lower is better" in r.message
    r = one({"xs/over": {"max_drop": 0.1}})
    assert r.observed == pytest.approx(0.2) and "worsened by 0.2" in r.message
    r = one({"xs/over": {"max_increase": 0.1}})
    assert r.observed == pytest.approx(0.2) and "rose by 0.2" in r.message
    assert one({"adv/harmful": {"max_increase": 0.0}}).observed == pytest.approx(-0.5)


def test_change_gate_on_continuous_scores_uses_the_comparison_interval():
    rng = np.random.default_rng(0)
    a = rng.normal(0.6, 0.2, 300)
    b = a - 0.02 + rng.normal(0, 0.05, 300)                        # true drop 0.02
    before, after = rows("qa", "score", a), rows("qa", "score", b)
    rec = run(before, after)
    m = compare_records(rec, before, rec, after, phase_a="before", phase_b="after").metric("qa/score")
    assert not m.binary
    r = one({"qa/score": {"max_drop": 0.025}}, rec, before, after)
    assert r.interval == pytest.approx([-m.ci_high, -m.ci_low]) and r.bound == pytest.approx(-m.ci_low)
    assert r.observed == pytest.approx(-m.diff) and r.verdict == "inconclusive"
    assert "95% interval on the drop" in r.message
    assert one({"qa/score": {"max_drop": 0.05}}, rec, before, after).verdict == "pass"
    assert one({"qa/score": {"max_drop": 0.0}}, rec, before, after).verdict == "fail"
    # lower is better: the worst end is the interval's upper end of the raw change
    before, after = rows("adv", "score", a), rows("adv", "score", b)
    rec = run(before, after, {"adv/score": False})
    r = one({"adv/score": {"max_drop": 1.0, "confidence": 0.9}}, rec, before, after)
    m = compare_records(rec, before, rec, after, phase_a="before", phase_b="after",
                        confidence=0.9).metric("adv/score")
    assert r.bound == pytest.approx(m.ci_high) and r.observed == pytest.approx(m.diff) and r.confidence == 0.9


def test_change_gate_on_0_1_scores_uses_tangos_score_interval():
    # the score statistic at "no change" is McNemar's (statsmodels), for any table
    for up, down, n in ((12, 4, 50), (3, 0, 27), (40, 10, 200)):
        table = [[n - up - down, up], [down, 0]]
        chi2 = mcnemar(table, exact=False, correction=False).statistic
        assert tango_statistic(up, down, n, 0.0) ** 2 == pytest.approx(chi2)
        low, high = paired_proportion_interval(up, down, n, 0.95)
        z = norm.ppf(0.975)  # the interval's ends are where the statistic crosses ±z
        assert tango_statistic(up, down, n, low) == pytest.approx(z) and tango_statistic(up, down, n, high) == pytest.approx(-z)
    # the published example (Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables",
    # ch. 8: Cavo et al. 2012, table [[59, 6], [16, 80]]): estimate -0.0621, 95% CI -0.1240 to -0.0054
    low, high = paired_proportion_interval(6, 16, 161, 0.95)
    assert (round(low, 4), round(high, 4)) == (-0.1240, -0.0054)
    # nobody flipped on 27 items: not the point [0, 0] a bootstrap gives, but ±z²/(n + z²)
    z = norm.ppf(0.975)
    assert paired_proportion_interval(0, 0, 27, 0.95) == pytest.approx((-z * z / (27 + z * z), z * z / (27 + z * z)))
    before = rows("xs", "over", [0] * 27)
    rec = run(before, before, {"xs/over": False})
    r = one({"xs/over": {"max_increase": 0.05}}, rec, before, before)
    assert r.verdict == "inconclusive" and r.interval == pytest.approx([-z * z / (27 + z * z), z * z / (27 + z * z)])
    # on 200 items it agrees with the paired bootstrap of compare to about a point
    rng = np.random.default_rng(3)
    a = (rng.random(200) < 0.4).astype(float)
    b = a.copy()
    b[rng.choice(np.flatnonzero(a == 0), 40, replace=False)] = 1.0
    b[rng.choice(np.flatnonzero(a == 1), 10, replace=False)] = 0.0
    before, after = rows("qa", "acc", a), rows("qa", "acc", b)
    rec = run(before, after)
    m = compare_records(rec, before, rec, after, phase_a="before", phase_b="after").metric("qa/acc")
    r = one({"qa/acc": {"max_increase": 0.25}}, rec, before, after)
    assert r.interval == pytest.approx([m.ci_low, m.ci_high], abs=0.012) and r.verdict == "pass"
    assert r.p_value == pytest.approx(2 * norm.cdf(tango_statistic(40, 10, 200, 0.25)))
    assert one({"qa/acc": {"max_drop": 0.0}}, rec, before, after).verdict == "pass"     # clearly better
    assert one({"qa/acc": {"max_drop": -0.25}}, rec, before, after).verdict == "fail"   # not by 0.25
    assert one({"qa/acc": {"max_drop": -0.1}}, rec, before, after).verdict == "inconclusive"


def test_holm_adjustment_matches_statsmodels():
    # five rate gates "max = 0.5" on 60 items each, from clearly below to borderline
    ks = [12, 18, 21, 23, 25]
    samples = [row for i, k in enumerate(ks) for row in binary(f"s{i}", "rate", k, 60)]
    rec = run(samples, None, {f"s{i}/rate": False for i in range(len(ks))})
    gates = {f"s{i}/rate": {"max": 0.5} for i in range(len(ks))}
    holm = judge(gates, rec, samples, [])
    p = [2 * binomtest(k, 60, 0.5, alternative="less").pvalue for k in ks]
    reject, p_adj, *_ = multipletests(p, alpha=0.05, method="holm")
    assert [r.verdict == "pass" for r in holm] == list(reject)
    assert [r.p_value for r in holm] == pytest.approx(p) and [r.p_adjusted for r in holm] == pytest.approx(p_adj)
    ranks = np.argsort(p, kind="stable")
    for rank, i in enumerate(ranks):  # the k-th smallest p is tested at alpha / (m - k)
        assert holm[i].confidence_adjusted == pytest.approx(1 - 0.05 / (len(ks) - rank))
    unadjusted = judge(gates, rec, samples, [], policy=ALONE)
    assert all(r.confidence_adjusted == 0.95 for r in unadjusted)
    # the adjustment is what turned at least one pass into inconclusive
    flipped = [i for i in range(len(ks)) if unadjusted[i].verdict == "pass" and holm[i].verdict != "pass"]
    assert flipped and all(holm[i].verdict == "inconclusive" for i in flipped)
    summary = gating_summary(holm, GatePolicy())
    assert summary["adjust"] == "holm" and summary["adjusted_over"] == 5 and summary["on_inconclusive"] == "fail"
    assert summary["verdicts"]["pass"] == sum(reject) and summary["passed"] is False


def test_mde_is_the_closed_form_and_small_suites_warn():
    # hand-worked: (1.959964 + 0.841621) * 0.5 / sqrt(27)
    assert minimum_detectable_effect(0.5, 27, 0.95) == pytest.approx(0.269583, abs=1e-6)
    for sd, n, conf, power in ((0.5, 27, 0.95, 0.8), (0.3, 200, 0.99, 0.9), (1.2, 5, 0.9, 0.5)):
        mde = minimum_detectable_effect(sd, n, conf, power)
        closed = (norm.ppf(1 - (1 - conf) / 2) + norm.ppf(power)) * sd / math.sqrt(n)
        assert mde == pytest.approx(closed, rel=1e-12)
        # statsmodels: a one-sample one-sided test at (1 - conf) / 2 has exactly that power at the MDE
        # (up to the far tail the closed form leaves out)
        achieved = NormalIndPower().power(effect_size=mde / sd, nobs1=n, alpha=(1 - conf) / 2, ratio=0.0,
                                          alternative="larger")
        assert achieved == pytest.approx(power, abs=1e-9)
    assert minimum_detectable_effect(0.0, 10, 0.95) == 0.0
    # 27 safe prompts, 3 more refused after training: can a 5-point budget be shown? No.
    before = rows("xstest", "over_refusal", [0] * 27)
    after = rows("xstest", "over_refusal", [1] * 3 + [0] * 24)
    rec = run(before, after, {"xstest/over_refusal": False})
    r = one({"xstest/over_refusal": {"max_increase": 0.05}}, rec, before, after)
    # the spread under the bound (a rise Δ = 0.05) is the score test's: √(2q + Δ(1 − Δ)), with q the
    # restricted estimate of the 1→0 rate; with no item down (Tango 1998) q = (up − (2n − up)Δ) / 2n
    q = (3 - (54 - 3) * 0.05) / 54
    sd = math.sqrt(2 * q + 0.05 * 0.95)
    closed = (norm.ppf(0.975) + norm.ppf(0.8)) * sd / math.sqrt(27)
    assert r.mde == pytest.approx(closed, rel=1e-6) and r.n == 27
    assert r.underpowered.startswith("27 items cannot reliably show a rise of at most 0.05 on xstest/over_refusal: "
                                     "at 95% confidence they detect changes of 0.")
    assert r.verdict == "inconclusive"   # rose by 0.11, but 27 items cannot tell
    # a zero margin is a superiority test by design: its MDE is recorded, no warning
    r = one({"xstest/over_refusal": {"max_drop": 0.0}}, rec, before, after)
    assert r.mde > 0.1 and r.underpowered is None
    # nor does a rule that failed: 12 of 27 refused now, far beyond a 5-point budget
    after = rows("xstest", "over_refusal", [1] * 12 + [0] * 15)
    rec = run(before, after, {"xstest/over_refusal": False})
    r = one({"xstest/over_refusal": {"max_increase": 0.05}}, rec, before, after)
    assert r.verdict == "fail" and r.mde > 0.05 and r.underpowered is None
    # 2000 items detect a 5-point rise: no warning
    big_b, big_a = rows("xstest", "over_refusal", [0] * 2000), rows("xstest", "over_refusal", [1] * 20 + [0] * 1980)
    rec = run(big_b, big_a, {"xstest/over_refusal": False})
    r = one({"xstest/over_refusal": {"max_increase": 0.05}}, rec, big_b, big_a)
    assert r.verdict == "pass" and r.underpowered is None and r.mde < 0.05


def test_baseline_reference_replaces_before():
    base_after = rows("qa", "acc", [1] * 7 + [0] * 3)
    base = run(BEFORE, base_after, HIB)
    base["id"], base["name"] = "B0", "accepted"
    r = one({"qa/acc": {"max_drop": 0.1}}, reference=Reference(base, base_after, "after"))
    assert r.observed == pytest.approx(0.2) and "vs baseline accepted" in r.message
    # against a baseline that evaluated other items: fails closed with the reason, whatever the policy
    other = dict(base, tasks={"qa": {**TASK, "content_hash": "other"}, "adv": TASK, "xs": TASK})
    r = one({"qa/acc": {"max_drop": 0.5}}, reference=Reference(other, base_after, "after"), policy={"on_inconclusive": "pass"})
    assert r.verdict == "fail" and not r.passed and "content_hash differs" in r.message


def test_unknown_metric_missing_base_and_missing_items():
    r = one({"qa/accuracy": {"min": 0.1}}, policy={"on_inconclusive": "pass"})
    assert r.verdict == "fail" and not r.passed and r.observed is None and "close names: qa/acc" in r.message
    eval_only = run(BEFORE, None, HIB)
    r = one({"qa/acc": {"max_drop": 0.1}}, eval_only, BEFORE, [])
    assert r.verdict == "fail" and "give a baseline" in r.message
    # aggregates without per-item scores: no interval, so inconclusive (not judged on the point)
    r = one({"qa/acc": {"min": 0.1}}, REC, BEFORE, [])
    assert r.verdict == "inconclusive" and "no per-item scores" in r.message


def test_each_rule_is_one_result_and_old_records_still_load():
    samples = binary("qa", "acc", 150, 200)
    rec = run(samples, samples)
    results = judge({"qa/acc": {"min": 0.6, "max": 0.65}}, rec, samples, samples)
    assert [(r.rule, r.verdict) for r in results] == [("min", "pass"), ("max", "fail")]
    assert gates_passed(results) is False and gates_passed(results[:1]) is True and gates_passed([]) is None
    d = results[0].to_dict()
    assert {"verdict", "mde", "confidence_adjusted", "interval", "p_value", "on_inconclusive"} <= set(d)
    assert GateResult(**d) == results[0]
    old = {"metric": "qa/acc", "rule": "min", "threshold": 0.5, "observed": 0.7, "bound": None,
           "passed": True, "message": "qa/acc = 0.7 >= 0.5"}
    assert GateResult(**old).verdict == "pass" and GateResult(**{**old, "passed": False}).verdict == "fail"


def test_gate_specs_and_policy_parse_with_clear_errors():
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
    assert set(parse_gates_table({"qa/acc": {"min": 0.1}, "on_inconclusive": "warn", "adjust": "none"})) == {"qa/acc"}


def test_recipe_gates_policy_keys(tmp_path):
    from harness.run.recipe import load_recipe

    path = tmp_path / "r.toml"
    base = '[run]\nname = "r"\n[model]\nloader = "tiny"\n[gates]\n"qa/acc" = { min = 0.5 }\n'
    path.write_text(base + 'on_inconclusive = "warn"\nadjust = "none"\nconfidence = 0.9\n')
    recipe = load_recipe(path).recipe
    assert set(recipe.gates) == {"qa/acc"}
    assert (recipe.gating.on_inconclusive, recipe.gating.adjust, recipe.gating.confidence) == ("warn", "none", 0.9)
    assert load_recipe(path).recipe.model_dump(mode="json")["gating"]["on_inconclusive"] == "warn"
    path.write_text(base)
    assert load_recipe(path).recipe.gating == GatePolicy()   # fail closed, Holm, 95%
    path.write_text(base + 'on_inconclusive = "maybe"\n')
    with pytest.raises(ValueError, match="gates.on_inconclusive: Input should be .fail., .pass. or .warn."):
        load_recipe(path)


def test_gate_command_on_inconclusive_sets_the_exit_code(tmp_path):
    from harness.cli.compare_cmd import gate

    store = Store(tmp_path / "runs")
    run_id = make_run(store, "small", rows("qa", "acc", [1] * 6 + [0] * 4), rows("qa", "acc", [1] * 6 + [0] * 4),
                      gates={"qa/acc": {"min": 0.5}})
    cli = CliRunner()
    base = [run_id, "--store", str(store.root)]
    strict = cli.invoke(gate, base)
    assert strict.exit_code == 1 and "INCONCLUSIVE (counts as failed: on_inconclusive = fail)" in strict.output
    assert "on_inconclusive = fail" in strict.output and "warning: 10 items cannot reliably tell qa/acc = 0.6 from its min bound 0.5" in strict.output
    warn = cli.invoke(gate, base + ["--on-inconclusive", "warn", "--json"])
    assert warn.exit_code == 0, warn.output
    out = json.loads(warn.output)
    assert out["passed"] is True and out["gating"]["on_inconclusive"] == "warn"
    assert out["gates"][0]["verdict"] == "inconclusive" and out["gates"][0]["mde"] > 0.1
    assert out["gates"][0]["confidence_adjusted"] == 0.95
    both = cli.invoke(gate, base + ["--gate", "qa/acc:min=0.5,max=0.99", "--adjust", "none", "--json"])
    assert [g["confidence_adjusted"] for g in json.loads(both.output)["gates"]] == [0.95, 0.95]


def test_baseline_without_metrics_fails_change_gates_with_the_reason():
    """A baseline that never evaluated (a failed run) cannot be a base: every change gate fails, naming it."""
    dead = {"id": "B1", "name": "dead", "status": "failed", "metrics": {}}
    r = one({"qa/acc": {"max_drop": 0.1}}, reference=load_reference(_OneRunStore(dead), "B1"))
    assert r.verdict == "fail" and not r.passed and "B1" in r.message and "no metrics" in r.message


class _OneRunStore:
    """What load_reference needs of a store: load and samples."""

    def __init__(self, record):
        self.record = record

    def load(self, run_id):
        assert run_id == self.record["id"]
        return self.record

    def samples(self, run_id, phase):
        raise AssertionError("a baseline without metrics has no samples to read")
