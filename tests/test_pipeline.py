"""The loop itself: stages, failure handling, lifecycle hooks, the evaluation cache."""

from __future__ import annotations

import json

import pytest

import harness
from harness.contract.plugins import load_plugins
from harness.run.pipeline import run_recipe
from harness.run.recipe import parse_recipe
from harness.store.local import RECORD_FILE, Store
from tests.conftest import FIRST_PARTY


class Boom(harness.Trainer):
    name = "boom"
    formats = ("prompt_completion",)

    def train(self, model, data, context):
        raise RuntimeError("the GPU caught fire")


class Nudge(harness.Trainer):
    """Changes the weights a little, deterministically (a real in-place update)."""

    name = "nudge"
    formats = ("prompt_completion",)

    def train(self, model, data, context):
        import torch

        with torch.no_grad():
            next(model.model.parameters()).add_(0.01)
        return harness.TrainResult(model=model, log=[{"step": 1, "loss": 0.0}])


class Count(harness.Evaluator):
    """Counts its own calls, so cache hits are observable."""

    name = "count"
    calls = 0

    class Params(harness.Params):
        items: list[str] = ["a", "b", "c"]

    def fingerprint(self):
        return harness.content_hash(self.params_dict())

    def evaluate(self, model, context):
        Count.calls += 1
        import torch

        ids = model.tokenizer(self.params.items, return_tensors="pt", padding=True)["input_ids"]
        with torch.no_grad():
            logits = model.model(ids).logits
        value = float(logits.mean())
        return harness.EvalResult(
            metrics={"count/mean_logit": harness.Metric(value, 0.0, len(self.params.items))},
            samples=[{"suite": "count", "item_id": str(i), "scores": {"mean_logit": value}}
                     for i in range(len(self.params.items))],
            tasks={"count": harness.TaskInfo(harness.items_hash(self.params.items), "1", len(self.params.items))})


class Events:
    def __init__(self):
        self.seen = []

    @harness.hookimpl
    def on_run_start(self, event):
        self.seen.append(("start", event.run_id))

    @harness.hookimpl
    def on_stage_end(self, event):
        self.seen.append(("stage", event.stage, event.status))

    @harness.hookimpl
    def on_run_end(self, event):
        self.seen.append(("end", event.status))


class Extras:
    @harness.hookimpl
    def register_trainers(self, register):
        register(Boom)
        register(Nudge)

    @harness.hookimpl
    def register_evaluators(self, register):
        register(Count)


RECIPE = """
[run]
name = "unit"

[model]
loader = "tiny"

[[data]]
name = "d"
source = "jsonl"
path = "{path}"
format = "prompt_completion"

[[train]]
trainer = "{trainer}"
data = "d"

[[evaluate]]
evaluator = "count"
items = {items}
"""


def make(tmp_path, trainer="nudge", items='["a", "b", "c"]'):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    return parse_recipe(RECIPE.format(path=data, trainer=trainer, items=items))


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def host_with_extras(events):
    return load_plugins(allow=FIRST_PARTY, extra=[("extras", Extras()), ("events", events)])


def test_failed_stage_keeps_completed_stages(tmp_path, host_with_extras, events):
    store = Store(tmp_path / "runs")
    record = run_recipe(make(tmp_path, trainer="boom"), host_with_extras, store)
    assert record["status"] == "failed"
    assert record["error"]["stage"] == "train-0-boom"
    assert "the GPU caught fire" in record["error"]["message"]
    assert [s["status"] for s in record["stages"]] == ["ok", "ok", "ok", "failed"]
    assert "count/mean_logit" in record["metrics"]["before"]  # the "before" results survive
    stored = json.loads((store.root / record["id"] / RECORD_FILE).read_text())
    assert stored["status"] == "failed" and stored["metrics"]["before"]
    assert not (store.root / record["id"] / "record.partial.json").exists()
    assert ("stage", "train-0-boom", "failed") in events.seen and events.seen[-1] == ("end", "failed")


def test_lifecycle_hooks_fire_in_order(tmp_path, host_with_extras, events):
    record = run_recipe(make(tmp_path), host_with_extras, Store(tmp_path / "runs"), use_cache=False)
    assert record["status"] == "completed"
    assert events.seen[0] == ("start", record["id"])
    assert [e[1] for e in events.seen if e[0] == "stage"] == \
        ["load", "data", "evaluate-before", "train-0-nudge", "evaluate-after"]
    assert events.seen[-1] == ("end", "completed")
    assert record["model"]["fingerprint"] != record["model"]["fingerprint_after"]


def test_cache_hits_for_unchanged_model_and_misses_for_changed_weights_items_or_settings(tmp_path, host_with_extras):
    store = Store(tmp_path / "runs")
    Count.calls = 0
    first = run_recipe(make(tmp_path), host_with_extras, store)
    assert Count.calls == 2  # before and after: weights changed in between → miss
    second = run_recipe(make(tmp_path), host_with_extras, store)
    assert Count.calls == 2  # same weights, same items, same settings → both hits
    assert [s.get("cached") for s in second["stages"] if s["kind"] == "evaluate"] == [True, True]
    assert second["metrics"] == first["metrics"]
    run_recipe(make(tmp_path, items='["a", "b", "d"]'), host_with_extras, store)
    assert Count.calls == 4  # items changed → miss twice
    run_recipe(make(tmp_path), host_with_extras, store, use_cache=False)
    assert Count.calls == 6  # --no-cache


def test_cache_clear_command(tmp_path, host_with_extras):
    from click.testing import CliRunner

    from harness.cli.runs_cmd import cache
    from harness.store.cache import EvalCache

    run_recipe(make(tmp_path), host_with_extras, Store(tmp_path / "runs"))
    assert EvalCache().size() == 2
    out = CliRunner().invoke(cache, ["clear"])
    assert out.exit_code == 0 and "removed 2" in out.output
    assert EvalCache().size() == 0


def test_store_lists_incomplete_and_corrupt_runs(tmp_path, host_with_extras):
    store = Store(tmp_path / "runs")
    done = run_recipe(make(tmp_path), host_with_extras, store, use_cache=False)
    _, half = store.new_run_dir("half")
    (half / "record.partial.json").write_text(json.dumps({"name": "half", "stages": [{"name": "load"}]}))
    _, broken = store.new_run_dir("broken")
    (broken / RECORD_FILE).write_text("{not json")
    statuses = {r["id"]: r["status"] for r in store.iter_records()}
    assert statuses[done["id"]] == "completed"
    assert statuses[half.name] == "incomplete"
    assert statuses[broken.name] == "corrupt"
    assert store.load("latest")["id"] == max(statuses)
    assert store.load("unit")["id"] == done["id"]  # by name


def test_pack_and_unpack_move_a_run_between_stores_without_overwriting(tmp_path, host_with_extras):
    from harness.store.packing import PackError, pack_run, unpack_run

    src, dst = Store(tmp_path / "a"), Store(tmp_path / "b")
    record = run_recipe(make(tmp_path), host_with_extras, src, use_cache=False)
    archive = pack_run(src, record["id"], tmp_path / "run.tar.gz")
    assert unpack_run(dst, archive) == record["id"]
    assert dst.load(record["id"])["metrics"] == record["metrics"]
    assert dst.samples(record["id"], "after") == src.samples(record["id"], "after")
    assert unpack_run(dst, archive) == record["id"]  # identical content again: a no-op
    (dst.root / record["id"] / "summary.extra").write_text("changed")
    with pytest.raises(PackError, match="already in"):
        unpack_run(dst, archive)  # different content: refused
    assert dst.load(record["id"])["status"] == "completed"  # untouched
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(PackError, match="not a packed run"):
        unpack_run(dst, bogus)


def test_example_records_unpack_with_their_device_and_precision(tmp_path):
    from pathlib import Path

    from harness.store.packing import unpack_run

    store = Store(tmp_path / "runs")
    devices = []
    for archive in sorted((Path(__file__).parents[1] / "examples" / "runs").glob("*.tar.gz")):
        record = store.load(unpack_run(store, archive))
        assert record["status"] == "completed"
        model, acc = record["model"], record["environment"]["accelerator"]
        assert (model["device"], model["dtype"]) in (("cuda", "bfloat16"), ("cpu", "float32"))
        assert acc["kind"] == model["device"]
        devices.append(model["device"])
    assert {"cuda", "cpu"} <= set(devices)  # GPU runs beside CPU ones
