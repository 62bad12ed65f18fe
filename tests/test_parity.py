"""Parity: the ``lm-eval`` evaluator on the in-memory model scores exactly what the
real ``lm_eval`` command scores on the same model saved to disk, with the same
task YAMLs (written by ``python -m harness_plugins.lm_eval_plugin.export``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

# every bundled multiple-choice suite; `capability` is the group over arc_easy, arc_challenge, piqa
# and winogrande (so those four run once, inside it)
TASKS = ["openbookqa", "truthfulqa_mc1", "quick_mc", "capability", "boolq"]
GROUPS = {"capability": ["arc_easy", "arc_challenge", "piqa", "winogrande"]}
LEAVES = [leaf for t in TASKS for leaf in GROUPS.get(t, [t])]
LIMIT = 20


@pytest.fixture(scope="module")
def one_thread():
    """Two threads on a shared 2-core box spend most of their time waiting on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def both_runs(tiny_model, tmp_path_factory, one_thread):
    import harness
    from harness.contract.plugins import load_plugins

    root = tmp_path_factory.mktemp("parity")
    model_dir = tiny_model.save(root / "model")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "harness_plugins.lm_eval_plugin.export", str(root / "tasks"), *TASKS],
                   check=True, cwd=root, env=env, capture_output=True)
    script = Path(sys.executable).with_name("lm_eval")  # the console script of this environment
    lm_eval_cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "lm_eval"]
    cli = subprocess.run(
        [*lm_eval_cmd, "--model", "hf",
         "--model_args", f"pretrained={model_dir},dtype={tiny_model.dtype}", "--device", tiny_model.device,
         "--tasks", ",".join(TASKS), "--include_path", str(root / "tasks"), "--batch_size", "1",
         "--limit", str(LIMIT), "--seed", "0", "--output_path", str(root / "out"), "--log_samples"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr[-3000:]
    (results_file,) = (root / "out").rglob("results_*.json")
    cli_results = json.loads(results_file.read_text())
    cli_samples = {t: [json.loads(line) for line in next((root / "out").rglob(f"samples_{t}_*.jsonl")).open()]
                   for t in LEAVES}

    evaluator = load_plugins().create("evaluator", "lm-eval", {"tasks": TASKS, "limit": LIMIT, "batch_size": 1})
    ours = evaluator.evaluate(tiny_model, harness.EvalContext(phase="before", seed=0, work_dir=root,
                                                              log=lambda *_: None))
    return cli_results, cli_samples, ours


@pytest.mark.parametrize("task", LEAVES)
def test_aggregates_identical_to_lm_eval_cli(both_runs, task):
    cli_results, _, ours = both_runs
    cli = cli_results["results"][task]
    metrics = [k.split(",")[0] for k in cli if "," in k and "_stderr" not in k]
    assert metrics, cli
    for metric in metrics:
        mine = ours.metrics[f"{task}/{metric}"]
        assert mine.value == cli[f"{metric},none"]
        assert abs(mine.stderr - cli[f"{metric}_stderr,none"]) <= 1e-12
        assert mine.n == cli_results["n-samples"][task]["effective"] == LIMIT
        assert mine.higher_is_better is cli_results["higher_is_better"][task][metric]
    assert ours.tasks[task].version == str(cli_results["versions"][task])


@pytest.mark.parametrize("task", LEAVES)
def test_per_item_scores_and_loglikelihoods_identical(both_runs, task):
    _, cli_samples, ours = both_runs
    rows = {r["item_id"]: r for r in ours.samples if r["suite"] == task}
    assert sorted(rows, key=int) == [str(s["doc_id"]) for s in cli_samples[task]]
    for s in cli_samples[task]:
        row = rows[str(s["doc_id"])]
        for metric in s["metrics"]:
            assert row["scores"][metric] == s[metric], (task, s["doc_id"], metric)
        cli_lls = [float(resp[0]) for resp in s["filtered_resps"]]
        assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-5) for a, b in zip(row["loglikelihoods"], cli_lls))
        contexts = [arg["arg_0"] for arg in s["arguments"].values()]
        if task == "winogrande":  # partial scoring: one context per option, the continuation shared
            assert row["choices"] == contexts and row["prompt"] is None
        else:
            assert row["prompt"] == contexts[0]


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_pooled_group_matches_lm_eval_and_is_the_concatenation_of_its_tasks(both_runs, group):
    cli_results, cli_samples, ours = both_runs
    members = GROUPS[group]
    cli = cli_results["results"][group]
    mine = ours.metrics[f"{group}/acc"]
    assert math.isclose(mine.value, cli["acc,none"], abs_tol=1e-12)
    assert math.isclose(mine.stderr, cli["acc_stderr,none"], abs_tol=1e-12)
    pooled = [r for r in ours.samples if r["suite"] == group]
    # one row per item of every member task, in lm-eval's task order, scored as the task scored it
    assert [r["item_id"] for r in pooled] == [f"{t}/{s['doc_id']}" for t in members for s in cli_samples[t]]
    assert [r["scores"]["acc"] for r in pooled] == [s["acc"] for t in members for s in cli_samples[t]]
    assert mine.n == len(pooled) == LIMIT * len(members)
    assert math.isclose(sum(r["scores"]["acc"] for r in pooled) / len(pooled), mine.value, abs_tol=1e-12)
    info = ours.tasks[group]
    assert info.n == len(pooled) and info.settings["tasks"] == members
    assert info.settings["item_ids"] == [r["item_id"] for r in pooled]
