"""`harness resume`: a failed or killed run continues in its own folder from its last completed stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness
from harness.contract.plugins import load_plugins
from harness.run.pipeline import run_recipe
from harness.run.recipe import parse_recipe
from harness.store.local import PARTIAL_FILE, RECORD_FILE, Store, read_jsonl
from tests.conftest import FIRST_PARTY
from tests.test_artifacts import FACTS, PROBE, Probe

ROOT = Path(__file__).resolve().parents[1]


class Nudge(harness.Trainer):
    """A real, deterministic in-place update (fast)."""

    name = "nudge"
    formats = ("prompt_completion",)

    def train(self, model, data, context):
        import torch

        with torch.no_grad():
            for p in model.model.parameters():
                p.mul_(1.01)
        return harness.TrainResult(model=model, log=[{"step": 1, "loss": 0.0}])


class Flaky(Nudge):
    """Fails while ``broken`` is set: the crash a resume recovers from."""

    name = "flaky"
    broken = True

    def train(self, model, data, context):
        if Flaky.broken:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        import torch

        with torch.no_grad():
            next(model.model.parameters()).add_(0.05)
        return harness.TrainResult(model=model, log=[{"step": 1, "loss": 0.0}])


class FlakyAfter(Probe):
    """Crashes in the "after" phase while ``broken`` is set."""

    name = "flaky-after"
    broken = True

    def evaluate(self, model, context):
        if context.phase == "after" and FlakyAfter.broken:
            raise MemoryError("CUDA out of memory")
        return super().evaluate(model, context)


class Extras:
    @harness.hookimpl
    def register_trainers(self, register):
        register(Nudge)
        register(Flaky)

    @harness.hookimpl
    def register_evaluators(self, register):
        register(Probe)
        register(FlakyAfter)


@pytest.fixture(scope="module")
def host():
    return load_plugins(allow=FIRST_PARTY, extra=[("extras", Extras())])


TWO_STAGES = f"""
[run]
name = "two"

[model]
loader = "tiny"

[[data]]
name = "facts"
source = "jsonl"
path = "{FACTS}"
format = "prompt_completion"

[[train]]
trainer = "nudge"
data = "facts"

[[train]]
trainer = "flaky"
data = "facts"

[output]
save = "stages"
""" + PROBE


def test_failed_run_resumes_from_the_last_saved_stage(tmp_path, host):
    store = Store(tmp_path / "runs")
    Probe.calls, Flaky.broken = 0, True
    failed = run_recipe(parse_recipe(TWO_STAGES), host, store)
    assert failed["status"] == "failed" and failed["error"]["stage"] == "train-1-flaky"
    assert Probe.calls == 1

    Flaky.broken = False
    resumed = run_recipe(parse_recipe(TWO_STAGES), host, store, resume=failed["id"])
    assert resumed["id"] == failed["id"] and store.run_ids() == [failed["id"]]  # one run, one record
    assert resumed["status"] == "completed"
    stages = {s["name"]: s for s in resumed["stages"]}
    assert stages["evaluate-before"]["resumed"] == "reused" and stages["train-0-nudge"]["resumed"] == "reused"
    assert stages["load"]["reloaded_from"] == "stages/train-0-nudge/model"
    assert "resumed" not in stages["train-1-flaky"] and stages["train-1-flaky"]["status"] == "ok"
    assert Probe.calls == 2  # only "after" ran again
    assert resumed["attempts"][0]["status"] == "failed" and "illegal memory" in resumed["attempts"][0]["error"]["message"]
    assert resumed["error"] is None and resumed["metrics"]["before"] == failed["metrics"]["before"]
    assert [d["name"] for d in resumed["data"]] == ["facts"]  # prepared again, recorded once
    assert [a["stage"] for a in resumed["artifacts"]] == ["train-0-nudge", "train-1-flaky"]
    on_disk = json.loads((store.root / failed["id"] / RECORD_FILE).read_text())
    assert on_disk["status"] == "completed" and not (store.root / failed["id"] / PARTIAL_FILE).exists()

    # the same recipe run straight through gets the same "after" result
    straight = run_recipe(parse_recipe(TWO_STAGES), host, Store(tmp_path / "other"), use_cache=False)
    assert straight["metrics"]["after"] == resumed["metrics"]["after"]
    assert straight["model"]["fingerprint_after"] == resumed["model"]["fingerprint_after"]

    with pytest.raises(ValueError, match="completed: nothing to resume"):
        run_recipe(parse_recipe(TWO_STAGES), host, store, resume=failed["id"])


def test_resume_without_saved_models_starts_training_from_the_base_model(tmp_path, host):
    store = Store(tmp_path / "runs")
    Flaky.broken = True
    failed = run_recipe(parse_recipe(TWO_STAGES.replace('save = "stages"', 'save = "final"')), host, store)
    Flaky.broken = False
    resumed = run_recipe(parse_recipe(TWO_STAGES.replace('save = "stages"', 'save = "final"')), host, store,
                         resume=failed["id"])
    stages = {s["name"]: s for s in resumed["stages"]}
    assert stages["evaluate-before"]["resumed"] == "reused"
    assert "resumed" not in stages["train-0-nudge"] and "reloaded_from" not in stages["load"]  # ran again
    assert resumed["status"] == "completed"


def test_run_that_failed_after_training_reloads_the_final_model_and_only_evaluates(tmp_path, host):
    recipe = TWO_STAGES.replace('save = "stages"', 'save = "final"').replace('trainer = "flaky"', 'trainer = "nudge"')
    recipe = recipe.replace('evaluator = "probe"', 'evaluator = "flaky-after"')
    store = Store(tmp_path / "runs")
    FlakyAfter.broken = True
    failed = run_recipe(parse_recipe(recipe), host, store, use_cache=False)
    assert failed["error"]["stage"] == "evaluate-after"
    FlakyAfter.broken = False
    resumed = run_recipe(parse_recipe(recipe), host, store, resume=failed["id"], use_cache=False)
    stages = {s["name"]: s for s in resumed["stages"]}
    assert resumed["status"] == "completed"
    assert [stages[n].get("resumed") for n in ("evaluate-before", "train-0-nudge", "train-1-nudge")] == ["reused"] * 3
    assert stages["load"]["reloaded_from"] == "model" and stages["data"]["resumed"] == "reused"
    assert resumed["model"]["fingerprint_after"] == failed["artifacts"][0]["fingerprint"]
    straight = run_recipe(parse_recipe(recipe), host, Store(tmp_path / "other"), use_cache=False)
    assert straight["metrics"]["after"] == resumed["metrics"]["after"]


KILLED = f"""
[run]
name = "killed"

[model]
loader = "tiny"

[[data]]
name = "facts"
source = "jsonl"
path = "{FACTS}"
format = "prompt_completion"

[[train]]
trainer = "sft"
data = "facts"
max_steps = 40
learning_rate = 3e-3
per_device_train_batch_size = 4
max_length = 48
save_strategy = "steps"
save_steps = 3

[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
limit = 8
"""


def test_kill_9_during_training_then_resume_from_the_checkpoint(tmp_path):
    from harness.cli import _add_builtin_commands, cli

    store = tmp_path / "runs"
    recipe = tmp_path / "killed.toml"
    recipe.write_text(KILLED)
    env = {**os.environ, "HARNESS_STORE": str(store)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(recipe)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:
            if list(store.glob("*/work/train-0-sft/checkpoint-*/trainer_state.json")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "training ended before a checkpoint was seen"
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9: no handler runs, nothing is cleaned up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    [run_id] = [p.name for p in store.iterdir()]
    assert not (store / run_id / RECORD_FILE).exists() and (store / run_id / PARTIAL_FILE).exists()

    _add_builtin_commands()
    runner = CliRunner()
    listing = runner.invoke(cli, ["runs", "--store", str(store)])
    assert "incomplete" in listing.output and f"harness resume {run_id}" in listing.output

    out = runner.invoke(cli, ["resume", run_id, "--store", str(store), "--json"])
    assert out.exit_code == 0, out.output
    assert [p.name for p in store.iterdir()] == [run_id]
    record = json.loads((store / run_id / RECORD_FILE).read_text())
    assert record["status"] == "completed" and record["attempts"][0]["status"] == "incomplete"
    stages = {s["name"]: s for s in record["stages"]}
    assert stages["evaluate-before"]["resumed"] == "reused"
    train = stages["train-0-sft"]
    assert train["resumed"] == "from_checkpoint"
    step = int(train["resumed_from_checkpoint"].rsplit("-", 1)[1])
    assert train["resumed_from_checkpoint"].startswith("work/train-0-sft/checkpoint-") and step % 3 == 0
    assert record["training"][0]["metrics"]["steps"] == 40  # continued to max_steps, not restarted
    log = read_jsonl(store / run_id / record["training"][0]["log"])
    # one loss row per step: the checkpoint's history up to `step`, then the resumed steps
    assert sorted(r["step"] for r in log if "loss" in r) == list(range(1, 41))
    assert (store / run_id / "model" / "model.safetensors").is_file()
    assert not (store / run_id / PARTIAL_FILE).exists()


def test_resume_refuses_what_cannot_be_resumed(tmp_path, host):
    import socket

    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    out = CliRunner().invoke(cli, ["resume", "nope", "--store", str(tmp_path / "runs")])
    assert out.exit_code == 2 and "no run 'nope'" in out.output
    # a run whose process is alive is running, not killed: two writers would corrupt it
    store = Store(tmp_path / "runs")
    Flaky.broken = True
    failed = run_recipe(parse_recipe(TWO_STAGES), host, store, use_cache=False)
    folder = store.root / failed["id"]
    partial = {**failed, "status": "running", "process": {"host": socket.gethostname(), "pid": os.getpid()}}
    (folder / RECORD_FILE).unlink()
    (folder / PARTIAL_FILE).write_text(json.dumps(partial))
    with pytest.raises(ValueError, match=f"still running \\(pid {os.getpid()}"):
        run_recipe(parse_recipe(TWO_STAGES), host, store, resume=failed["id"])
    assert (folder / PARTIAL_FILE).exists() and not (folder / RECORD_FILE).exists()  # nothing touched
