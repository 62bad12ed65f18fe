"""The evaluation cache keys on a safety filter's weights: refitted weights under the same name miss."""

from __future__ import annotations

import json
from pathlib import Path

import harness
from harness.contract.plugins import load_plugins
from harness.run.pipeline import run_recipe
from harness.run.recipe import parse_recipe
from harness.store.local import Store
from tests.conftest import FIRST_PARTY

WEIGHTS = Path(__file__).resolve().parents[1] / "plugins" / "filters" / "refusal_weights" / "xstest-odd.json"


class CountFiltered(harness.Evaluator):
    """Counts its calls and runs the refusal filter it is given, so a cache hit is observable."""

    name = "count-filtered"
    calls = 0

    def fingerprint(self):
        return "fixed"

    def evaluate(self, model, context):
        CountFiltered.calls += 1
        flagged = context.filters["refusal"].score(["I can't help with that."])[0].flagged
        return harness.EvalResult(metrics={"count/refused": harness.Metric(float(flagged), 0.0, 1)})


class Extras:
    @harness.hookimpl
    def register_evaluators(self, register):
        register(CountFiltered)


RECIPE = """
[run]
name = "filter-cache"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "count-filtered"
filters = [{{ filter = "refusal", weights = "{weights}" }}]
"""


def test_refitted_weights_under_the_same_path_miss_the_cache(tmp_path):
    host = load_plugins(allow=FIRST_PARTY, extra=[("extras", Extras())])
    weights = tmp_path / "w.json"
    weights.write_text(WEIGHTS.read_text())
    recipe = parse_recipe(RECIPE.format(weights=weights))
    store = Store(tmp_path / "runs")
    CountFiltered.calls = 0
    run_recipe(recipe, host, store)
    run_recipe(recipe, host, store)
    assert CountFiltered.calls == 1                      # same model, same filter, same weights: a hit
    data = json.loads(weights.read_text())
    data["threshold"] = 0.6                               # refitted/recalibrated in place, same name
    weights.write_text(json.dumps(data))
    run_recipe(recipe, host, store)
    assert CountFiltered.calls == 2


def test_refusal_fingerprint_is_the_weights_content():
    host = load_plugins(allow=FIRST_PARTY)
    a, b = (host.create("safety_filter", "refusal", {"weights": w}) for w in ("llama2orig", "llama2orig"))
    c = host.create("safety_filter", "refusal", {"weights": "mistralinstruct"})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert host.create("safety_filter", "pii", {}).fingerprint() is None


def test_judge_fingerprint_is_its_weights_and_prompt():
    host = load_plugins(allow=FIRST_PARTY)
    spec = {"model": {"loader": "tiny"}, "rubric": "S1: Violence.\nS2: Crime.", "max_new_tokens": 4}
    a, b = host.create("safety_filter", "judge", spec), host.create("safety_filter", "judge", spec)
    other_rubric = host.create("safety_filter", "judge", {**spec, "rubric": "S1: Violence."})
    other_weights = host.create("safety_filter", "judge", {**spec, "model": {"loader": "tiny", "seed": 1}})
    assert a.fingerprint() == b.fingerprint()
    assert len({a.fingerprint(), other_rubric.fingerprint(), other_weights.fingerprint()}) == 3
