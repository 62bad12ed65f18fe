"""Bounds that are not numbers, negative change bounds and bounds outside a rate's range are
recipe errors at validate time (issue #23 item 2), and a Holm-stopped gate says it was not
tested (issue #23 item 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.verdicts.gates import (
    GateSpecError,
    evaluate_gates,
    is_rate_metric,
    parse_gate_option,
    parse_gates_table,
    range_problem,
)
from tests.test_compare import rows
from tests.test_gates import run

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "recipes" / "quickstart.toml"


def _validate(*overrides: str):
    from harness.cli.run_cmd import validate

    args = [str(QUICKSTART)] + [a for o in overrides for a in ("--set", o)]
    return CliRunner().invoke(validate, args)


@pytest.mark.parametrize("override, needle", [
    ('gates."quick_mc/acc".min=nan', "min = nan: a bound must be a finite number"),
    ('gates."quick_mc/acc".min=-inf', "min = -inf: a bound must be a finite number"),
    ('gates."quick_mc/acc".max=inf', "max = inf: a bound must be a finite number"),
    ('gates."quick_mc/acc_norm".max_drop=nan', "max_drop = nan: a bound must be a finite number"),
    ('gates."quick_mc/acc_norm".max_drop=-0.05', "to demand an improvement write min_gain = 0.05"),
    ('gates."quick_mc/acc_norm".max_increase=-0.1', "max_increase = -0.1: a rise bound is 0 or more"),
    ('gates."quick_mc/acc_norm".min_gain=-0.02', "to allow a drop write max_drop = 0.02"),
    ('gates."quick_mc/acc".min=1.5', "min = 1.5 is outside the range of quick_mc/acc, a rate in [0, 1]"),
    ('gates."quick_mc/acc".max=-0.1', "max = -0.1 is outside the range of quick_mc/acc"),
    ('gates."quick-safety/harmful_compliance".max_drop=2', "max_drop = 2 is beyond any change of"),
    ('gates."quick_mc/acc".tier="optional"', "Input should be 'critical' or 'advisory'"),
    ('gates.multiplicity="bonferroni"', "Input should be 'all-must-pass' or 'holm'"),
    ('gates.adjust="holm"', 'adjust = "holm" (the old key) means multiplicity = "holm"'),
])
def test_validate_refuses_bounds_that_cannot_be_judged(override, needle):
    extra = ['gates.multiplicity="all-must-pass"'] if override == 'gates.adjust="holm"' else []
    out = _validate(override, *extra)
    assert out.exit_code == 2, out.output
    assert needle in out.output, out.output
    key = override.split("=")[0]
    if "quick" in key:   # the message names the gate's key path
        assert "gates." + key.split('"')[1] in out.output.replace('"', ""), out.output


def test_validate_accepts_the_bounds_a_user_means():
    for ok in ('gates."quick_mc/acc".min=0', 'gates."quick_mc/acc".max_drop=0', 'gates."quick_mc/acc".max=1',
               'gates."quick_mc/acc_norm".min_gain=0.05', 'gates."quick_mc/acc".tier="advisory"',
               'gates.multiplicity="holm"', 'gates.adjust="none"'):
        out = _validate(ok)
        assert out.exit_code == 0, (ok, out.output)


def test_the_command_line_exits_2_on_a_nan_bound():
    out = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(QUICKSTART),
                          "--set", 'gates."quick_mc/acc".min=nan'], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and 'gates.quick_mc/acc' in out.stderr and "finite number" in out.stderr


def test_gate_options_and_tables_refuse_the_same():
    for text, needle in [("qa/acc:min=nan", "finite number"), ("qa/acc:max_drop=-0.1", "min_gain = 0.1"),
                         ("qa/acc:max=1.2", "outside the range"), ("adv/harmful_compliance:max_increase=3",
                                                                   "beyond any change")]:
        with pytest.raises(GateSpecError, match=needle):
            parse_gate_option(text)
    with pytest.raises(GateSpecError, match=r"r.toml: gates.'xs/over_refusal': .*outside the range"):
        parse_gates_table({"xs/over_refusal": {"max": 5}}, where="r.toml: gates")
    # a metric whose name says nothing about its range (a perplexity, a score) may take any finite bound
    assert parse_gates_table({"wiki/perplexity": {"max": 30.0}, "mt/bleu": {"min": 20}})
    assert not is_rate_metric("wiki/perplexity") and is_rate_metric("gsm8k/exact_match,strict")
    assert is_rate_metric("x/score", concern="harm") and range_problem("wiki/ppl", "min", 5.0) is None


def test_a_bound_outside_0_1_on_0_1_items_fails_at_judgement_with_the_reason():
    """Old records or a metric named like a score: the 0/1 items themselves say it is a rate."""
    before = rows("qa", "score", [1, 0] * 20)
    rec = run(before, before)
    [r] = evaluate_gates(parse_gates_table({"qa/score": {"min": 1.5}}), rec, before_samples=before,
                         after_samples=before)
    assert r.verdict == "fail" and "outside the range of qa/score" in r.message and "0/1" in r.message
    [r] = evaluate_gates(parse_gates_table({"qa/score": {"max_drop": 1.5}}), rec, before_samples=before,
                         after_samples=before)
    assert r.verdict == "fail" and "beyond any change" in r.message


def test_a_gate_after_holm_stops_is_not_tested_and_keeps_its_interval():
    """Issue #23 item 3: with one gate not passed, Holm stops; the next gate's detail must not
    claim its interval straddles a bound it lies wholly on the good side of.

    Two rate gates ``max = 0.5`` whose p-values both lie in (0.025, 0.05): 21 of 60 (p 0.027)
    is tested first at alpha / 2 = 0.025 and does not pass; 30 of 80 (p 0.033) would pass at
    0.05, but Holm stopped."""
    samples = rows("s0", "rate", [1] * 21 + [0] * 39) + rows("s1", "rate", [1] * 30 + [0] * 50)
    rec = run(samples, None, {"s0/rate": False, "s1/rate": False})
    gates = parse_gates_table({"s0/rate": {"max": 0.5}, "s1/rate": {"max": 0.5}})
    first, second = evaluate_gates(gates, rec, before_samples=samples, after_samples=[],
                                   policy={"multiplicity": "holm"})
    assert first.p_value < second.p_value < 0.05 and first.p_value > 0.025
    assert first.verdict == "inconclusive" and first.tested and "straddles max 0.5" in first.message
    assert second.verdict == "inconclusive" and not second.tested and not second.passed
    assert "not tested: Holm stops at the first gate that does not pass" in second.message
    assert "straddles" not in second.message
    assert second.interval is not None and second.interval[1] <= 0.5     # the interval is kept, and true
    assert f"[{second.interval[0]:.4g}, {second.interval[1]:.4g}]" in second.message
    # the same gates under all-must-pass: each at the plain 95% level, both pass
    plain = evaluate_gates(gates, rec, before_samples=samples, after_samples=[])
    assert [r.verdict for r in plain] == ["pass", "pass"] and all(r.tested for r in plain)
