"""inspect_ai both ways, with inspect_ai from PyPI and nothing from the network.

In: the ``inspect`` evaluator runs a tiny local inspect task (tests/data/inspect_tiny: four
samples, ``generate()``, ``includes()``) on the in-memory tiny model inside a harness run with a
train stage, so its scores are compared paired and gated. Out: ``harness export-results --format
inspect`` writes logs that ``inspect_ai.log.read_eval_log`` reads back with the record's samples,
scores, model and run id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness

pytest.importorskip("inspect_ai")

pytestmark = pytest.mark.slow

TASK_DIR = Path(__file__).parent / "data" / "inspect_tiny"
TASK = f"{TASK_DIR / 'tiny_task.py'}@tiny_includes"
SUITE, METRIC = "tiny_includes", "tiny_includes/includes"
MAX_NEW = 8

RECIPE = """
[run]
name = "inspect-tiny"

[model]
loader = "tiny"

[[data]]
name = "d"
source = "jsonl"
path = "{data}"
format = "prompt_completion"

[[train]]
trainer = "nudge"
data = "d"

[[evaluate]]
evaluator = "inspect"
task = "{task}"
max_new_tokens = {max_new}

[gates]
"{metric}" = {{ max_drop = 1.0 }}
"""


class Nudge(harness.Trainer):
    """A real, deterministic in-place weight update (the 'after' model differs from 'before')."""

    name = "nudge"
    formats = ("prompt_completion",)

    def train(self, model, data, context):
        import torch

        with torch.no_grad():
            for p in model.model.parameters():
                p.add_(0.05 * torch.sign(p))
        model.weights_changed()
        return harness.TrainResult(model=model, log=[{"step": 1, "loss": 0.0}])


class Extras:
    @harness.hookimpl
    def register_trainers(self, register):
        register(Nudge)


@pytest.fixture(scope="module")
def inspect_run(tmp_path_factory):
    """A stored before/after run scored by the inspect task; inspect's own logs in a tmp folder."""
    from harness.testing import run_recipe, temp_store

    root = tmp_path_factory.mktemp("inspect")
    data = root / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    recipe = RECIPE.format(data=data, task=TASK, max_new=MAX_NEW, metric=METRIC)
    with pytest.MonkeyPatch.context() as mp, temp_store(root) as store:
        mp.setenv("INSPECT_LOG_DIR", str(root / "inspect-logs"))
        # inspect's only outbound paths are opt-in hooks named by these variables: keep them off
        for var in ("INSPECT_TELEMETRY", "INSPECT_API_KEY_OVERRIDE", "INSPECT_REQUIRED_HOOKS"):
            mp.delenv(var, raising=False)
        record = run_recipe(recipe, store=store, plugins=[("extras", Extras())], log=lambda *_: None)
        yield store, record, root


def test_inspect_task_scores_inside_a_harness_run_and_enters_the_gates(inspect_run):
    from inspect_ai.dataset import json_dataset

    store, record, root = inspect_run
    assert record["status"] == "completed", record.get("error")
    targets = {s.id: s.target for s in json_dataset(str(TASK_DIR / "samples.jsonl"))}
    for phase in ("before", "after"):
        rows = [r for r in store.samples(record["id"], phase) if r["suite"] == SUITE]
        assert sorted(r["item_id"] for r in rows) == sorted(targets)
        for r in rows:
            assert r["target"] == targets[r["item_id"]]
            # includes(): correct iff the target occurs in the reply, ignoring case
            assert r["scores"]["includes"] == float(r["target"].lower() in r["output"].lower())
        m = record["metrics"][phase][METRIC]
        assert m["n"] == 4 and m["stderr"] is not None
        assert m["value"] == pytest.approx(sum(r["scores"]["includes"] for r in rows) / 4)
    # the replies are the in-memory model's own greedy ones, chat-templated like the harness's
    from harness.testing import make_tiny_model

    before = {r["item_id"]: r["output"] for r in store.samples(record["id"], "before")}
    ids = sorted(before)
    prompts = {s.id: s.input for s in json_dataset(str(TASK_DIR / "samples.jsonl"))}
    assert make_tiny_model().generate([prompts[i] for i in ids], max_new_tokens=MAX_NEW) == [before[i] for i in ids]
    # 'after' was scored on the trained weights in memory: its replies differ from 'before'
    assert any(before[r["item_id"]] != r["output"] for r in store.samples(record["id"], "after"))
    # the gate compared the two phases item by item on the four paired samples
    gate = next(g for g in record["gates"] if g["metric"] == METRIC)
    drop = record["metrics"]["before"][METRIC]["value"] - record["metrics"]["after"][METRIC]["value"]
    assert gate["n"] == 4 and gate["observed"] == pytest.approx(drop)
    assert gate["verdict"] == "pass" and gate["interval"][0] <= drop <= gate["interval"][1]
    # inspect wrote its own logs where INSPECT_LOG_DIR points, one per phase
    assert len(list((root / "inspect-logs").glob("*.eval"))) == 2


def test_export_inspect_round_trips_through_read_eval_log(inspect_run, tmp_path, capsys):
    from inspect_ai.log import list_eval_logs, read_eval_log

    from harness.cli import main

    store, record, root = inspect_run
    out = tmp_path / "logs"
    assert main(["export-results", record["id"], "--format", "inspect", "--out", str(out),
                 "--store", str(store.root)]) == 0
    files = sorted(out.glob("*.eval"))
    assert len(files) == 2  # one suite, two phases
    # `inspect view` lists logs by the task and id it parses from their names: ours parse like
    # the log inspect itself wrote during the run
    listed, own = list_eval_logs(str(out)), list_eval_logs(str(root / "inspect-logs"))
    assert len(listed) == 2 and {info.task for info in listed} == {info.task for info in own}
    headers = [read_eval_log(str(f), header_only=True) for f in files]
    assert {info.task_id for info in listed} == {h.eval.task_id for h in headers}
    assert len({h.eval.task_id for h in headers}) == 2
    for phase in ("before", "after"):
        path = next(f for f in files if f.name.endswith(f".{phase}.eval"))
        log = read_eval_log(str(path))
        rows = {r["item_id"]: r for r in store.samples(record["id"], phase) if r["suite"] == SUITE}
        assert log.status == "success"
        assert log.eval.task == SUITE
        assert log.eval.run_id == record["id"] and log.eval.metadata["harness_run_id"] == record["id"]
        assert log.eval.metadata["harness_phase"] == phase
        assert log.eval.model == record["model"]["name"]
        assert len(log.samples) == len(rows) == 4
        for s in log.samples:
            row = rows[s.id]
            assert (s.input, s.output.completion, s.target) == (row["prompt"], row["output"], row["target"])
            assert s.scores["includes"].value == row["scores"]["includes"]
        (score,) = log.results.scores
        m = record["metrics"][phase][METRIC]
        assert score.metrics["includes"].value == pytest.approx(m["value"])
        assert score.metrics["stderr"].value == pytest.approx(m["stderr"])


def test_export_inspect_of_a_missing_phase_is_a_clear_error(inspect_run, tmp_path, capsys):
    from harness.cli import main

    store, record, _ = inspect_run
    bare = dict(record, id=record["id"], metrics={"before": record["metrics"]["before"]})
    from harness.reports.inspect_log import phases_to_export
    from harness.reports.results_formats import ExportError

    assert phases_to_export(bare, None) == ["before"]
    with pytest.raises(ExportError, match="no 'after' metrics"):
        phases_to_export(bare, "after")
    assert main(["export-results", "no-such-run", "--format", "inspect", "--out", str(tmp_path),
                 "--store", str(store.root)]) == 2
    assert "harness runs" in capsys.readouterr().err


def test_without_inspect_ai_the_plugin_is_unavailable_with_the_install_command():
    import subprocess
    import sys

    code = ("import importlib.util as u; real = u.find_spec\n"
            "u.find_spec = lambda name, *a, **k: None if name == 'inspect_ai' else real(name, *a, **k)\n"
            "from harness.contract.plugins import load_plugins\n"
            "info = load_plugins(strict=False).plugins['inspect']\n"
            "print(info.status, '|', info.error, '|', info.fix)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    status, error, fix = (part.strip() for part in out.stdout.strip().splitlines()[-1].split("|"))
    assert status == "unavailable" and "inspect_ai" in error
    assert fix == "pip install 'posttrain-harness[inspect]'"


def test_a_missing_task_file_is_named_when_the_recipe_is_checked(tmp_path):
    from harness.testing import load_host

    host = load_host()
    info = host.resolve("evaluator", "inspect")
    with pytest.raises(harness.ParamError, match="inspect task file not found: .*nope.py"):
        info.cls.validate_params({"task": f"{tmp_path / 'nope.py'}@t"})
    with pytest.raises(harness.ParamError, match="task_file"):
        info.cls.validate_params({"task": "t", "task_file": str(tmp_path / "nope.py")})


def test_task_file_is_relative_to_the_recipe_folder(tmp_path, monkeypatch):
    from harness.run.recipe import check_recipe, load_recipe
    from harness.testing import load_host

    folder = tmp_path / "recipes"
    (folder / "tasks").mkdir(parents=True)
    for name in ("tiny_task.py", "samples.jsonl"):
        (folder / "tasks" / name).write_text((TASK_DIR / name).read_text())
    (folder / "r.toml").write_text('[run]\nname = "r"\n[model]\nloader = "tiny"\n[[evaluate]]\n'
                                   'evaluator = "inspect"\ntask_file = "tasks/tiny_task.py"\ntask = "tiny_includes"\n')
    monkeypatch.chdir(tmp_path)  # not the recipe's folder
    loaded = load_recipe(str(folder / "r.toml"))
    check_recipe(loaded, load_host())
    assert loaded.recipe.evaluate[0].params()["task_file"] == str((folder / "tasks" / "tiny_task.py").resolve())


def test_fingerprint_follows_the_task_file_its_samples_and_settings(tmp_path):
    """The evaluation cache key changes when the task's samples, its code or a setting change."""
    from harness.testing import load_host

    for name in ("tiny_task.py", "samples.jsonl"):
        (tmp_path / name).write_text((TASK_DIR / name).read_text())
    host = load_host()
    task = f"{tmp_path / 'tiny_task.py'}@tiny_includes"

    def fp(**params):
        return host.create("evaluator", "inspect", {"task": task, **params}).fingerprint()

    first = fp()
    assert fp() == first
    assert fp(log_dir=str(tmp_path / "elsewhere")) == first  # where logs go changes no score
    assert fp(max_new_tokens=MAX_NEW + 1) != first
    samples = tmp_path / "samples.jsonl"
    samples.write_text(samples.read_text().replace('"target": "4"', '"target": "four"'))
    second = fp()
    assert second != first
    code = tmp_path / "tiny_task.py"
    code.write_text(code.read_text().replace("includes()", "includes(ignore_case=False)"))
    assert fp() != second

