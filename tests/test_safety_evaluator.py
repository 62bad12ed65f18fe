"""The ``safety`` evaluator on the tiny model, with small safety filters written here.

The filters are real components through the public API (``harness.SafetyFilter``):
they judge deterministically from the text, so the evaluator's bookkeeping
(rows, metrics, directions, stderr, per-type metrics) can be checked exactly.
"""

from __future__ import annotations

import math

import pytest

import harness
from harness_plugins.safety.prompt_sets import load_prompt_set


class ParityRefusal(harness.SafetyFilter):
    """Calls an output a refusal when prompt and output lengths sum to an even number."""

    name = "parity-refusal"

    def score(self, texts, prompts=None):
        out = []
        for text, prompt in zip(texts, prompts):
            refused = (len(text) + len(prompt)) % 2 == 0
            out.append(harness.Verdict("refusal" if refused else "compliance", float(refused), refused))
        return out


class AlwaysRefuse(harness.SafetyFilter):
    name = "always-refuse"

    def score(self, texts, prompts=None):
        return [harness.Verdict("refusal", 1.0, True) for _ in texts]


class PromptWordHarm(harness.SafetyFilter):
    """Flags harm when the prompt has an 'e' in its third word (deterministic, mixed)."""

    name = "word-harm"

    def score(self, texts, prompts=None):
        flags = ["e" in (p.split() + ["", "", ""])[2] for p in prompts]
        return [harness.Verdict("harmful" if f else "safe", float(f), f) for f in flags]


class LengthPII(harness.SafetyFilter):
    name = "length-pii"

    def score(self, texts, prompts=None):
        return [harness.Verdict("pii" if len(t) % 3 == 0 else "none", 0.5, len(t) % 3 == 0) for t in texts]


PARAMS = {"suites": ["quick-safety", "xstest"], "limit": 12, "max_new_tokens": 4, "batch_size": 6}


def _ctx(tmp_path, **filters):
    return harness.EvalContext(phase="before", seed=0, work_dir=tmp_path, filters=filters, log=lambda _: None)


@pytest.fixture(scope="module")
def result(host, tiny_model, tmp_path_factory):
    ev = host.create("evaluator", "safety", PARAMS)
    ctx = _ctx(tmp_path_factory.mktemp("safety"), refusal=ParityRefusal(), harm=PromptWordHarm(),
               pii=LengthPII())
    return ev.evaluate(tiny_model, ctx)


def _rows(result, suite):
    return [r for r in result.samples if r["suite"] == suite]


def test_metrics_have_directions_stderr_and_n(result):
    m = result.metrics
    expected = {"refusal_rate": True, "harmful_compliance": False, "harmful_content": False,
                "over_refusal": False, "pii_leakage": False}
    for suite in ("quick-safety", "xstest"):
        for short, higher in expected.items():
            metric = m[f"{suite}/{short}"]
            assert metric.higher_is_better is higher, short
            assert metric.stderr == pytest.approx(math.sqrt(metric.value * (1 - metric.value) / metric.n))
    # 12 of quick-safety's 20/20 split → 6 unsafe, 6 safe; pii covers every row.
    assert m["quick-safety/refusal_rate"].n == m["quick-safety/over_refusal"].n == 6
    assert m["quick-safety/pii_leakage"].n == 12
    assert m["quick-safety/refusal_rate"].value + m["quick-safety/harmful_compliance"].value == pytest.approx(1)


def test_every_metric_is_the_mean_of_its_row_scores(result):
    """What paired comparison relies on: suite/K == mean of scores[K] over the suite's rows."""
    keys_from_rows = set()
    for suite in ("quick-safety", "xstest"):
        rows = _rows(result, suite)
        assert len(rows) == 12 and result.tasks[suite].n == 12
        for row in rows:
            for key in row["scores"]:
                keys_from_rows.add(f"{suite}/{key}")
    assert keys_from_rows == set(result.metrics)
    for key, metric in result.metrics.items():
        suite, short = key.split("/", 1)
        values = [r["scores"][short] for r in _rows(result, suite) if short in r["scores"]]
        assert metric.n == len(values) and metric.value == pytest.approx(sum(values) / len(values)), key


def test_rows_follow_the_filters(result):
    for row in result.samples:
        refused = row["filters"]["refusal"]["flagged"]
        assert set(row["filters"]) == {"refusal", "harm", "pii"}
        assert row["scores"]["pii_leakage"] == float(row["filters"]["pii"]["flagged"])
        if row["label"] == "unsafe":
            assert row["scores"]["refusal_rate"] == float(refused)
            assert row["scores"]["harmful_compliance"] == float(not refused)
            # harmful content = answered AND flagged harmful: never more than compliance
            assert row["scores"]["harmful_content"] == float(not refused and row["filters"]["harm"]["flagged"])
            assert "over_refusal" not in row["scores"]
        else:
            assert row["scores"]["over_refusal"] == float(refused)
            assert "refusal_rate" not in row["scores"] and "harmful_content" not in row["scores"]
    # With these filters both outcomes occur, so the checks above saw both branches.
    assert {r["filters"]["refusal"]["flagged"] for r in result.samples} == {True, False}
    assert result.metrics["xstest/harmful_content"].value <= result.metrics["xstest/harmful_compliance"].value


def test_xstest_per_type_metrics(result):
    rows = _rows(result, "xstest")
    assert all(r["category"] for r in rows)
    for row in rows:
        short = "over_refusal" if row["label"] == "safe" else "refusal_rate"
        assert row["scores"][f"{short}/{row['category']}"] == row["scores"][short]
        assert result.metrics[f"xstest/{short}/{row['category']}"].higher_is_better is (short == "refusal_rate")
    per_type = {k: m for k, m in result.metrics.items() if k.startswith("xstest/over_refusal/")}
    assert sum(m.n for m in per_type.values()) == result.metrics["xstest/over_refusal"].n
    assert not any(k.startswith("quick-safety/over_refusal/") for k in result.metrics)


def test_tasks_record_items_and_settings(result):
    for suite in ("quick-safety", "xstest"):
        task = result.tasks[suite]
        assert task.content_hash == load_prompt_set(suite, 12, 0).content_hash
        assert task.settings["max_new_tokens"] == 4 and task.settings["chat"] is True
        assert task.settings["batch_size"] == 6  # as asked, recorded
        assert set(task.settings["filters"]) == {"refusal", "harm", "pii"}
        assert task.settings["filters"]["refusal"]["name"] == "parity-refusal"
        ids = [r["item_id"] for r in _rows(result, suite)]
        assert ids == [it["id"] for it in load_prompt_set(suite, 12, 0).items]


def test_batch_size_defaults_to_the_device(host, tiny_model):
    from harness_plugins.safety.run import batch_size

    params = host.create("evaluator", "safety", {"suites": ["quick-safety"]}).params
    assert params.batch_size is None and batch_size(params, tiny_model) == 8  # a CPU: larger only pads more

    class OnGpu:
        device = "cuda:1"

    assert batch_size(params, OnGpu()) == 64


def test_all_refusals_and_a_renamed_refusal_filter(host, tiny_model, tmp_path):
    ev = host.create("evaluator", "safety", {"suites": ["advbench"], "limit": 5, "max_new_tokens": 2,
                                              "refusal_filter": "my-refuser", "system_prompt": "Be safe."})
    res = ev.evaluate(tiny_model, _ctx(tmp_path, **{"my-refuser": AlwaysRefuse()}))
    assert set(res.metrics) == {"advbench/refusal_rate", "advbench/harmful_compliance"}
    rr, hc = res.metrics["advbench/refusal_rate"], res.metrics["advbench/harmful_compliance"]
    assert (rr.value, rr.stderr, rr.n, hc.value) == (1.0, 0.0, 5, 0.0)
    assert all(set(r["filters"]) == {"my-refuser"} for r in res.samples)
    assert res.tasks["advbench"].settings["system_prompt"] == "Be safe."


def test_refusal_filter_is_required(host, tiny_model, tmp_path):
    ev = host.create("evaluator", "safety", {"suites": ["quick-safety"], "limit": 2})
    with pytest.raises(ValueError, match=r"needs a refusal filter named 'refusal' \(filters given: harm\)"):
        ev.evaluate(tiny_model, _ctx(tmp_path, harm=PromptWordHarm()))


@pytest.mark.parametrize("params, where, text", [
    ({"suites": ["advbenc"]}, "suites", "unknown safety suite 'advbenc'; did you mean 'advbench'"),
    ({"suites": ["xstest", "xstest"]}, "suites", "a suite is listed twice"),
    ({"split": "train"}, "split", "'dev', 'test' or 'all'"),
    ({"suites": []}, "suites", "at least 1"),
    ({"max_new_tokens": 0}, "max_new_tokens", "greater than or equal to 1"),
    ({"filters": ["refusal"]}, "filters", "unknown key"),
])
def test_bad_params(host, params, where, text):
    with pytest.raises(harness.ParamError) as err:
        host.create("evaluator", "safety", params)
    assert err.value.errors[0][0] == where and text in err.value.errors[0][1]


def test_fingerprint_follows_items_and_settings(host):
    def fp(**kw):
        return host.create("evaluator", "safety", {**PARAMS, **kw}).fingerprint()

    assert fp() == fp()
    assert len({fp(), fp(limit=13), fp(seed=1), fp(max_new_tokens=5), fp(chat=False),
                fp(suites=["xstest", "quick-safety"])}) == 6
