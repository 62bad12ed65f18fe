"""The bundled capability sets (ARC-Easy/Challenge, PIQA, WinoGrande, BoolQ) and the pooled
``capability`` group: item counts through lm-eval's own loader, the prompt formats of lm-eval's own
task YAMLs, licenses beside the data, dev/test halves, and when a group gets per-item rows.

Scores equal to the ``lm_eval`` command line on the same files: tests/test_parity.py."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

import harness

TASKS_DIR = Path(harness.__file__).resolve().parents[1] / "plugins" / "lm_eval_plugin" / "tasks"

#: bundled name -> (items, lm-eval's own YAML of that name, relative to lm_eval/tasks)
SETS = {
    "arc_easy": (2376, "arc/arc_easy.yaml"),
    "arc_challenge": (1172, "arc/arc_challenge.yaml"),
    "piqa": (1838, "piqa/piqa.yaml"),
    "winogrande": (1267, "winogrande/default.yaml"),
    "boolq": (3270, "super_glue/boolq/default.yaml"),
}
POOLED = ["arc_easy", "arc_challenge", "piqa", "winogrande"]
#: what decides a score: must be lm-eval's own
PROMPT_KEYS = ("output_type", "doc_to_text", "doc_to_target", "doc_to_choice", "target_delimiter", "fewshot_delimiter",
               "metric_list", "process_docs")


def _lm_eval_tasks() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).resolve().parent / "tasks"


def _lm_eval_config(rel: str) -> dict:
    """lm-eval's own task YAML with its ``include:`` resolved (tags kept as text)."""
    from harness_plugins.lm_eval_plugin.suites import _load_yaml

    path = _lm_eval_tasks() / rel
    cfg = _load_yaml(path)
    if "include" in cfg:
        cfg = {**_load_yaml(path.parent / cfg.pop("include")), **cfg}
    return cfg


def _rows(task: str) -> list[dict]:
    with gzip.open(TASKS_DIR / task / f"{task}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.mark.parametrize("task", sorted(SETS))
def test_prompt_format_is_lm_evals_own(task):
    from harness_plugins.lm_eval_plugin.suites import _load_yaml, bundled_suites

    ours, theirs = _load_yaml(bundled_suites()[task]), _lm_eval_config(SETS[task][1])
    assert ours["task"] == theirs["task"] == task
    for key in PROMPT_KEYS:  # a `!function` tag compares as its text: same module and function names
        assert ours.get(key) == theirs.get(key), (task, key)
    assert ours["metadata"]["version"] == theirs["metadata"]["version"]
    # the split lm-eval scores is the one whose data we ship
    split = theirs.get("test_split") or theirs.get("validation_split")
    assert list(ours["dataset_kwargs"]["data_files"]) == [split]


def test_winogrande_prompt_functions_equal_lm_evals_on_every_item():
    import importlib.util

    from lm_eval.tasks.winogrande import preprocess_winogrande as theirs

    spec = importlib.util.spec_from_file_location("bundled_wino", TASKS_DIR / "winogrande" / "preprocess_winogrande.py")
    ours = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ours)
    for doc in _rows("winogrande"):
        for fn in ("doc_to_text", "doc_to_target", "doc_to_choice"):
            assert getattr(ours, fn)(doc) == getattr(theirs, fn)(doc)


@pytest.mark.parametrize("task", sorted(SETS))
def test_every_row_is_scorable_and_ships_with_its_license(task):
    rows = _rows(task)
    assert len(rows) == SETS[task][0]
    if task.startswith("arc_"):
        assert all(r["answerKey"] in r["choices"]["label"] and len(r["choices"]["text"]) == len(r["choices"]["label"])
                   for r in rows)
    elif task == "piqa":
        assert {r["label"] for r in rows} == {0, 1}
    elif task == "winogrande":
        assert {r["answer"] for r in rows} == {"1", "2"} and all(r["sentence"].count("_") == 1 for r in rows)
    elif task == "boolq":
        assert {r["label"] for r in rows} == {0, 1} and [r["idx"] for r in rows] == list(range(len(rows)))
    licence = (TASKS_DIR / task / "LICENSE").read_text(encoding="utf-8")
    assert "Source:" in licence or "https://" in licence
    assert (TASKS_DIR / task / "CITATION.txt").is_file()
    # gzip written with a zero mtime: rebuilding gives the same bytes (and the same suite digest)
    assert (TASKS_DIR / task / f"{task}.jsonl.gz").read_bytes()[4:8] == b"\0\0\0\0"


@pytest.fixture(scope="module")
def task_manager(tmp_path_factory):
    """lm-eval's own TaskManager on the materialised bundled YAMLs (no hub, no default index)."""
    from lm_eval.tasks import TaskManager

    from harness_plugins.lm_eval_plugin.suites import materialize

    folder = materialize(["capability", "boolq"], tmp_path_factory.mktemp("tasks"))
    return TaskManager(include_path=[str(folder)], include_defaults=False), folder


def test_lm_eval_loads_every_item_from_the_gzipped_files(task_manager):
    tm, folder = task_manager
    assert sorted(p.stem for p in folder.glob("*.yaml")) == sorted([*SETS, "capability"])
    loaded = tm.load(["capability", "boolq"])
    assert loaded["group_map"]["capability"] == POOLED
    counts = {name: len(list(task.eval_docs)) for name, task in loaded["tasks"].items()}
    assert counts == {t: n for t, (n, _) in SETS.items()}
    assert sum(counts[t] for t in POOLED) == 6653


def test_capability_splits_halve_each_task(task_manager):
    from harness_plugins.lm_eval_plugin.runner import doc_indices

    tm, _ = task_manager
    dev = doc_indices(tm, ["capability"], split="dev", limit=None, sample=None, seed=0)
    test = doc_indices(tm, ["capability"], split="test", limit=None, sample=None, seed=0)
    assert sorted(dev) == sorted(test) == sorted(POOLED)
    for t in POOLED:
        assert set(dev[t]).isdisjoint(test[t]) and len(dev[t]) + len(test[t]) == SETS[t][0]
        assert len(dev[t]) == SETS[t][0] // 2
    assert sum(len(v) for v in test.values()) == 3327  # of 6,653: each task's dev half is rounded down


def test_declared_metrics_name_the_pooled_gate(host):
    cls = host.resolve("evaluator", "lm-eval").cls
    declared = cls.declared_metrics({"tasks": ["capability"]})
    assert declared["capability/acc"] == "capability"
    assert {"arc_easy/acc", "arc_easy/acc_norm", "piqa/acc_norm", "winogrande/acc"} <= set(declared)
    assert "capability/acc_norm" not in declared and "winogrande/acc_norm" not in declared
    assert cls.declared_metrics({"tasks": ["boolq"]}) == {"boolq/acc": "capability"}


def test_group_fingerprint_follows_its_member_data(host, monkeypatch, tmp_path):
    import shutil

    from harness_plugins.lm_eval_plugin import suites

    before = make_fp(host)
    copy = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, copy)
    monkeypatch.setattr(suites, "TASKS_DIR", copy)
    assert make_fp(host) == before  # same bytes elsewhere: same fingerprint
    rows = _rows("piqa")
    rows[0]["label"] = 1 - rows[0]["label"]
    with gzip.open(copy / "piqa" / "piqa.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    assert make_fp(host) != before  # a member's data changed: the group's cached results are stale


def make_fp(host):
    return host.create("evaluator", "lm-eval", {"tasks": ["capability"]}).fingerprint()


@pytest.mark.slow  # builds lm-eval's own index of ~15k task YAMLs: 10-40 s on 2 shared cores
def test_hub_names_still_reach_lm_evals_own_definitions(host):
    ev = host.create("evaluator", "lm-eval", {"tasks": ["arc_easy", "piqa"], "use_bundled": False})
    assert ev.bundled_names() == []  # lm-eval's own (hub) arc_easy/piqa: same code path, a dataset hub needed
    bundled = host.create("evaluator", "lm-eval", {"tasks": ["arc_easy", "piqa"]})
    assert bundled.bundled_names() == ["arc_easy", "piqa"] and bundled.fingerprint() != ev.fingerprint()


def test_export_writes_a_group_with_its_member_tasks(tmp_path):
    from harness_plugins.lm_eval_plugin.export import main

    assert main([str(tmp_path), "capability"]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.yaml")) == sorted([*POOLED, "capability"])


# ------------------------------------------------------------------ pooled rows (pure Python)


def _fake_results(group_acc: float) -> dict:
    """lm-eval's results dict for two tasks (3 and 1 items) under group ``g``."""
    logged = {
        "t1": [{"doc_id": i, "doc": {"q": i}, "filter": "none", "metrics": ["acc"], "acc": float(v),
                "arguments": [["Q", " a"], ["Q", " b"]], "filtered_resps": [[-1.0, False], [-2.0, False]],
                "resps": [], "target": 0} for i, v in enumerate([1, 1, 0])],
        "t2": [{"doc_id": 0, "doc": {"q": 9}, "filter": "none", "metrics": ["acc"], "acc": 0.0,
                "arguments": [["Q", " a"], ["Q", " b"]], "filtered_resps": [[-2.0, False], [-1.0, False]],
                "resps": [], "target": 0}],
    }
    return {"results": {"t1": {"acc,none": 2 / 3}, "t2": {"acc,none": 0.0},
                        "g": {"acc,none": group_acc}},
            "n-samples": {"t1": {"effective": 3}, "t2": {"effective": 1}},
            "group_subtasks": {"g": ["t1", "t2"]}, "samples": logged,
            "configs": {t: {"output_type": "multiple_choice"} for t in logged}, "versions": {"g": 1}}


def test_a_size_weighted_group_gets_the_concatenated_rows():
    from harness_plugins.lm_eval_plugin.convert import to_eval_result

    res = to_eval_result(_fake_results(0.5), {"split": "all"}, {})  # (1+1+0+0)/4
    pooled = [r for r in res.samples if r["suite"] == "g"]
    assert [r["item_id"] for r in pooled] == ["t1/0", "t1/1", "t1/2", "t2/0"]
    assert [r["scores"] for r in pooled] == [{"acc": 1.0}, {"acc": 1.0}, {"acc": 0.0}, {"acc": 0.0}]
    assert res.metrics["g/acc"].n == 4 and res.tasks["g"].n == 4
    assert res.tasks["g"].settings["tasks"] == ["t1", "t2"]


def test_a_mean_of_task_means_gets_no_per_item_list():
    from harness_plugins.lm_eval_plugin.convert import to_eval_result

    res = to_eval_result(_fake_results((2 / 3 + 0) / 2), {"split": "all"}, {})  # not weighted by size
    assert not [r for r in res.samples if r["suite"] == "g"] and "g" not in res.tasks
    assert math.isclose(res.metrics["g/acc"].value, 1 / 3)  # the aggregate is still reported
