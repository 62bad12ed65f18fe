"""The ``lm-eval`` evaluator on the tiny model: metric names, stderr, per-sample rows,
limit/sample, content hashes, fingerprint, errors, bundled suites from any cwd."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness

QUICK_MC = Path(harness.__file__).resolve().parents[1] / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Two threads on a shared 2-core box spend most of their time waiting on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(host, **params):
    return host.create("evaluator", "lm-eval", params)


def ctx(tmp_path):
    return harness.EvalContext(phase="before", seed=0, work_dir=tmp_path, log=lambda *_: None)


def my_task(folder: Path, items: list[dict], name: str = "my_mc") -> Path:
    """A user task folder: quick_mc's YAML under a new name, pointing at absolute data."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in items))
    yaml = (QUICK_MC / "quick_mc.yaml").read_text().replace("task: quick_mc", f"task: {name}")
    (folder / f"{name}.yaml").write_text(yaml.replace("test: quick_mc.jsonl", f"test: {data}"))
    return folder


def quick_items(n: int) -> list[dict]:
    return [json.loads(line) for line in (QUICK_MC / "quick_mc.jsonl").read_text().splitlines()[:n]]


def test_module_is_light():
    code = ("import sys, harness_plugins.lm_eval_plugin; "
            "assert not {'lm_eval', 'torch', 'transformers', 'datasets'} & set(sys.modules), sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mc_metrics_rows_and_task_info_from_unrelated_cwd(host, tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)  # lm-eval resolves relative data_files from the cwd
    handle = host.create("model", "tiny", {}).load()
    handle.model.train()
    rng_before = random.getstate(), torch.random.get_rng_state()
    result = make(host, tasks=["quick_mc", "openbookqa"], limit=12).evaluate(handle, ctx(tmp_path))

    assert handle.model.training, "HFLM switched the model to eval mode and it was not restored"
    # lm-eval seeds the global generators; a later training stage must not see that
    assert random.getstate() == rng_before[0] and torch.equal(torch.random.get_rng_state(), rng_before[1])
    assert set(result.metrics) == {"quick_mc/acc", "quick_mc/acc_norm", "openbookqa/acc", "openbookqa/acc_norm"}
    for key, metric in result.metrics.items():
        suite, short = key.split("/")
        rows = [r for r in result.samples if r["suite"] == suite]
        assert [r["item_id"] for r in rows] == [str(i) for i in range(12)]  # limit = the first N docs
        scores = [r["scores"][short] for r in rows]
        assert set(scores) <= {0.0, 1.0}
        assert metric.value == pytest.approx(sum(scores) / len(scores), abs=1e-12)
        # lm-eval's stderr of a mean: sample standard deviation / sqrt(n)
        p = metric.value
        assert metric.stderr == pytest.approx(math.sqrt(p * (1 - p) * 12 / 11 / 12), abs=1e-12)
        assert metric.n == 12 and metric.higher_is_better is True

    row = next(r for r in result.samples if r["suite"] == "quick_mc" and r["item_id"] == "0")
    first = quick_items(1)[0]
    assert row["prompt"] == f"Q: {first['question']}\nA:"
    assert row["choices"] == first["choices"] and row["target"] == first["choices"][first["label"]]
    assert row["output"] == row["choices"][max(range(4), key=row["loglikelihoods"].__getitem__)]
    assert row["scores"]["acc"] == float(row["output"] == row["target"])

    info = result.tasks["quick_mc"]
    assert info.n == 12 and info.version == "1.0" and len(info.content_hash) == 16
    assert info.settings["limit"] == 12 and info.settings["num_fewshot"] == 0
    assert info.settings["apply_chat_template"] is False and info.settings["fewshot_as_multiturn"] is False
    assert info.settings["source"] == "bundled"


def test_seeded_sample_is_reproducible(host, tiny_model, tmp_path):
    def ids(seed):
        result = make(host, tasks=["quick_mc"], sample=5, seed=seed).evaluate(tiny_model, ctx(tmp_path))
        assert result.metrics["quick_mc/acc"].n == 5
        return [r["item_id"] for r in result.samples]

    first = ids(1)
    assert len(set(first)) == 5 and all(0 <= int(i) < 67 for i in first)
    assert ids(1) == first
    assert ids(2) != first


def test_split_halves_are_fixed_disjoint_and_scored_as_in_the_whole(host, tiny_model, tmp_path):
    def run(**params):
        result = make(host, tasks=["quick_mc"], **params).evaluate(tiny_model, ctx(tmp_path))
        return result, {r["item_id"]: r for r in result.samples}

    whole, all_rows = run()
    dev, dev_rows = run(split="dev")
    test, test_rows = run(split="test")
    assert not set(dev_rows) & set(test_rows) and set(dev_rows) | set(test_rows) == set(all_rows)
    assert (len(dev_rows), len(test_rows)) == (33, 34)  # 67 documents: dev is the smaller half
    assert sorted(dev_rows, key=int) != [str(i) for i in range(33)], "a split is a shuffle, not a prefix"
    assert {r["split"] for r in dev_rows.values()} == {"dev"} and dev.tasks["quick_mc"].settings["split"] == "dev"
    assert dev.tasks["quick_mc"].settings["item_ids"] == sorted(dev_rows, key=int)
    # item ids are the documents' own indices: each is scored exactly as in the whole task
    for item_id, row in dev_rows.items():
        assert row["prompt"] == all_rows[item_id]["prompt"] and row["scores"] == all_rows[item_id]["scores"]
    assert dev.metrics["quick_mc/acc"].n == 33
    assert dev.metrics["quick_mc/acc"].value == pytest.approx(
        sum(r["scores"]["acc"] for r in dev_rows.values()) / 33, abs=1e-12)
    assert dev.tasks["quick_mc"].content_hash != test.tasks["quick_mc"].content_hash

    _, first = run(split="test", limit=5)  # limit and sample apply within the split
    assert sorted(first, key=int) == sorted(test_rows, key=int)[:5]
    _, drawn = run(split="dev", sample=4, seed=3)
    assert len(drawn) == 4 and set(drawn) <= set(dev_rows)
    assert make(host, tasks=["quick_mc"], split="dev").fingerprint() != make(host, tasks=["quick_mc"], split="test").fingerprint()


def test_generation_task_with_chat_template(host, tiny_model, tmp_path):
    result = make(host, tasks=["gsm8k"], limit=2, max_gen_toks=4, apply_chat_template=True,
                  system_instruction="Answer with a number.").evaluate(tiny_model, ctx(tmp_path))
    assert set(result.metrics) == {"gsm8k/exact_match"}
    assert result.tasks["gsm8k"].settings["fewshot_as_multiturn"] is True  # follows apply_chat_template
    for row in result.samples:
        assert row["prompt"].startswith("<|im_start|>system\nAnswer with a number.")
        assert row["target"].split("####")[-1].strip().isdigit()
        assert isinstance(row["response"], str) and isinstance(row["output"], str)
        assert row["scores"]["exact_match"] in (0.0, 1.0)


def test_include_path_task_content_hash_and_fingerprint_follow_items(host, tiny_model, tmp_path):
    items = quick_items(3)
    folder = my_task(tmp_path / "tasks", items)
    evaluator = make(host, tasks=["my_mc"], include_path=str(folder))
    fp_before = evaluator.fingerprint()
    first = evaluator.evaluate(tiny_model, ctx(tmp_path))
    assert set(first.metrics) == {"my_mc/acc", "my_mc/acc_norm"}
    assert first.tasks["my_mc"].settings["source"] == "include_path"

    again = make(host, tasks=["my_mc"], include_path=str(folder)).evaluate(tiny_model, ctx(tmp_path))
    assert again.tasks["my_mc"].content_hash == first.tasks["my_mc"].content_hash

    items[1] = {**items[1], "question": items[1]["question"] + " (reworded)"}
    my_task(folder.parent / "tasks", items)
    changed = make(host, tasks=["my_mc"], include_path=str(folder))
    assert changed.fingerprint() != fp_before
    result = changed.evaluate(tiny_model, ctx(tmp_path))
    assert result.tasks["my_mc"].content_hash != first.tasks["my_mc"].content_hash
    assert "(reworded)" in next(r["prompt"] for r in result.samples if r["item_id"] == "1")


def test_include_path_overrides_a_bundled_name(host, tiny_model, tmp_path):
    folder = my_task(tmp_path / "tasks", quick_items(2), name="quick_mc")
    result = make(host, tasks=["quick_mc"], include_path=str(folder)).evaluate(tiny_model, ctx(tmp_path))
    assert result.tasks["quick_mc"].n == 2 and result.tasks["quick_mc"].settings["source"] == "include_path"


def test_fingerprint_is_stable_and_tracks_params(host, tmp_path):
    base = make(host, tasks=["openbookqa"]).fingerprint()
    assert make(host, tasks=["openbookqa"]).fingerprint() == base
    for change in ({"limit": 5}, {"num_fewshot": 2}, {"apply_chat_template": True}, {"seed": 1},
                   {"tasks": ["truthfulqa_mc1"]}, {"use_bundled": False}):
        assert make(host, **{"tasks": ["openbookqa"], **change}).fingerprint() != base, change
    # hub task names (not bundled) still get a fingerprint from names, params and lm-eval version
    assert make(host, tasks=["hellaswag"]).fingerprint() != make(host, tasks=["arc_easy"]).fingerprint()


def test_bundled_suite_data_change_changes_fingerprint(host, tmp_path, monkeypatch):
    from harness_plugins.lm_eval_plugin import suites

    fake = tmp_path / "tasks"
    shutil.copytree(suites.TASKS_DIR / "quick_mc", fake / "quick_mc")
    monkeypatch.setattr(suites, "TASKS_DIR", fake)
    base = make(host, tasks=["quick_mc"]).fingerprint()
    data = fake / "quick_mc" / "quick_mc.jsonl"
    data.write_text(data.read_text().replace("opposite of hot", "opposite of warm"))
    assert make(host, tasks=["quick_mc"]).fingerprint() != base


def test_unknown_task_names_what_exists(host, tiny_model, tmp_path):
    with pytest.raises(harness.ParamError) as err:
        make(host, tasks=["quick_mcq"]).evaluate(tiny_model, ctx(tmp_path))
    message = str(err.value)
    assert err.value.errors[0][0] == "tasks"
    assert "quick_mcq" in message
    assert ("arc_challenge, arc_easy, boolq, capability, gsm8k, openbookqa, piqa, quick_mc, truthfulqa_mc1, "
            "winogrande") in message  # the bundled suites
    assert "lm_eval ls tasks" in message and "Did you mean" in message and "quick_mc" in message


@pytest.mark.parametrize("params, key", [
    ({"tasks": ["quick_mc"], "limit": 3, "sample": 3}, "sample"),
    ({"tasks": ["quick_mc"], "fewshot_as_multiturn": True}, "fewshot_as_multiturn"),
    ({"tasks": ["quick_mc"], "include_path": "/no/such/folder"}, "include_path"),
    ({"tasks": []}, "tasks"),
    ({"tasks": ["quick_mc"], "limit": 0}, "limit"),
    ({"tasks": ["quick_mc"], "use_cache": "x.db"}, "use_cache"),
])
def test_bad_params_name_the_key(host, params, key):
    with pytest.raises(harness.ParamError) as err:
        make(host, **params)
    assert key in [k for k, _ in err.value.errors], err.value.errors


def test_fewshot_as_multiturn_is_explicit_in_params(host):
    assert make(host, tasks=["quick_mc"]).params.fewshot_as_multiturn is False
    assert make(host, tasks=["quick_mc"], apply_chat_template=True).params.fewshot_as_multiturn is True
    params = make(host, tasks=["quick_mc"], apply_chat_template=True, fewshot_as_multiturn=False).params_dict()
    assert params["fewshot_as_multiturn"] is False


def test_quick_mc_is_learnable_with_sft(host, tmp_path):
    """The quickstart's claim: SFT on quick_mc/train.jsonl raises quick_mc accuracy."""
    handle = host.create("model", "tiny", {}).load()
    evaluator = make(host, tasks=["quick_mc"])
    before = evaluator.evaluate(handle, ctx(tmp_path)).metrics["quick_mc/acc"].value
    rows = [json.loads(line) for line in (QUICK_MC / "train.jsonl").read_text().splitlines()]
    trainer = host.create("trainer", "sft", {"max_steps": 100, "learning_rate": 3e-3,
                                             "per_device_train_batch_size": 8, "lr_scheduler_type": "constant"})
    trained = trainer.train(handle, harness.TrainData("quick_mc", "prompt_completion", rows),
                            harness.TrainContext(stage="sft", seed=0, output_dir=tmp_path / "sft",
                                                 log=lambda *_: None)).model
    after = evaluator.evaluate(trained, ctx(tmp_path)).metrics["quick_mc/acc"].value
    assert after - before >= 0.25, (before, after)


def test_batch_size_fills_a_gpu_and_stays_small_on_a_cpu(host, tiny_model, tmp_path):
    from harness_plugins.lm_eval_plugin.runner import resolve_batch_size

    assert resolve_batch_size(None, "cuda:3") == "auto" and resolve_batch_size(None, "cpu") == 8
    assert resolve_batch_size(16, "cuda:0") == 16 and resolve_batch_size("auto", "cpu") == "auto"
    result = make(host, tasks=["quick_mc"], limit=4).evaluate(tiny_model, ctx(tmp_path))
    assert result.tasks["quick_mc"].settings["batch_size"] == 8  # what ran is recorded, not "none"
    with pytest.raises(Exception, match="batch_size"):
        make(host, tasks=["quick_mc"], batch_size="big")
