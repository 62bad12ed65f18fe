"""Results out (``harness export-results``) and in (``harness import lm-eval``), checked against
the real ``lm_eval`` CLI: its output folder for the bundled ``quick_mc`` task on the saved tiny
model imports as a paired run that compares item by item with a harness run of the same task,
and our lm-eval export has the keys and values of the file ``lm_eval`` writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# One harness evaluation and one lm_eval CLI run of 20 quick_mc items feed the module.
pytestmark = pytest.mark.slow

TASK, LIMIT = "quick_mc", 20
EVAL_RECIPE = f"""
[run]
name = "eval-quick-mc"
seed = 0

[model]
loader = "tiny"

[[evaluate]]
evaluator = "lm-eval"
tasks = ["{TASK}"]
limit = {LIMIT}
batch_size = 1
"""


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory):
    """A stored harness evaluation of quick_mc on the tiny model."""
    from harness.contract.plugins import load_plugins
    from harness.run.pipeline import run_recipe
    from harness.run.recipe import parse_recipe
    from harness.store.local import Store

    root = tmp_path_factory.mktemp("store")
    store = Store(root / "runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE_DIR", str(root / "cache"))
        record = run_recipe(parse_recipe(EVAL_RECIPE), load_plugins(), store, log=lambda *_: None)
    assert record["status"] == "completed", record.get("error")
    return store, record


@pytest.fixture(scope="module")
def cli_output(tiny_model, tmp_path_factory):
    """What ``lm_eval --log_samples`` writes for quick_mc on the same (saved) tiny model."""
    root = tmp_path_factory.mktemp("lm_eval_cli")
    model_dir = tiny_model.save(root / "model")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "harness_plugins.lm_eval_plugin.export", str(root / "tasks"), TASK],
                   check=True, cwd=root, env=env, capture_output=True)
    script = Path(sys.executable).with_name("lm_eval")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "lm_eval"]
    cli = subprocess.run(
        [*cmd, "--model", "hf", "--model_args", f"pretrained={model_dir},dtype={tiny_model.dtype}",
         "--device", tiny_model.device, "--tasks", TASK, "--include_path", str(root / "tasks"),
         "--batch_size", "1", "--limit", str(LIMIT), "--seed", "0", "--output_path", str(root / "out"),
         "--log_samples"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr[-3000:]
    (results_file,) = (root / "out").rglob("results_*.json")
    return root / "out", json.loads(results_file.read_text())


def _store(tmp_path):
    from harness.store.local import Store

    return Store(tmp_path / "imported")


# ------------------------------------------------------------------ import


def test_lm_eval_cli_folder_imports_paired_and_compares_with_the_harness_run(harness_run, cli_output, tmp_path):
    from harness.verdicts.compare import compare_records
    from harness_plugins.lm_eval_plugin.results_io import import_run

    store, ours = harness_run
    out_dir, cli_results = cli_output
    imported = import_run(out_dir, _store(tmp_path))
    assert imported["import"]["paired"] is True and "paired" in imported["tags"]
    for metric in ("acc", "acc_norm"):
        m = imported["metrics"]["before"][f"{TASK}/{metric}"]
        assert m["value"] == cli_results["results"][TASK][f"{metric},none"]
        assert m["stderr"] == pytest.approx(cli_results["results"][TASK][f"{metric}_stderr,none"])
        assert m["n"] == LIMIT
    samples = _store(tmp_path).samples(imported["id"], "before")
    assert len(samples) == LIMIT
    # same items (content hash), same model: every item pairs and nothing moves
    assert imported["tasks"][TASK]["content_hash"] == ours["tasks"][TASK]["content_hash"]
    comparison = compare_records(ours, store.samples(ours["id"], "before"), imported, samples,
                                 allow_mismatch=True)
    assert not [w for w in comparison.warnings if "content_hash" in w or "version" in w], comparison.warnings
    acc = comparison.metric(f"{TASK}/acc")
    assert acc.n_paired == LIMIT and acc.diff == 0.0 and acc.regressed == acc.improved == 0


def test_lm_eval_folder_without_sample_logs_imports_unpaired_and_says_so(cli_output, tmp_path):
    from harness_plugins.lm_eval_plugin.results_io import UNPAIRED_HASH, import_run

    out_dir, cli_results = cli_output
    copy = tmp_path / "no-samples"
    shutil.copytree(out_dir, copy, ignore=shutil.ignore_patterns("samples_*"))
    imported = import_run(copy, _store(tmp_path))
    assert imported["import"] == {**imported["import"], "paired": False, "unpaired_tasks": [TASK]}
    assert "UNPAIRED" in imported["description"] and "unpaired" in imported["tags"]
    assert imported["tasks"][TASK]["content_hash"] == UNPAIRED_HASH
    assert imported["metrics"]["before"][f"{TASK}/acc"]["value"] == cli_results["results"][TASK]["acc,none"]
    assert _store(tmp_path).samples(imported["id"], "before") == []


def test_import_of_a_folder_without_results_names_the_folder(tmp_path):
    from harness.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["import", "lm-eval", str(tmp_path / "empty"), "--store", str(tmp_path / "s")]) == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results_2026-01-01T00-00-00.json").write_text("{not json")
    from harness_plugins.lm_eval_plugin.results_io import ImportFailed, import_run

    with pytest.raises(ImportFailed, match="results_2026-01-01T00-00-00.json: not readable JSON"):
        import_run(broken, _store(tmp_path))
    with pytest.raises(ImportFailed, match="no results_\\*.json"):
        import_run(tmp_path / "empty", _store(tmp_path))


# ------------------------------------------------------------------ export


def test_export_lm_eval_has_the_keys_and_values_lm_eval_writes(harness_run, cli_output):
    from lm_eval.utils import make_table

    from harness.reports.results_formats import to_lm_eval

    _, ours = harness_run
    _, cli_results = cli_output
    exported = to_lm_eval(ours, "before")
    assert set(exported["results"][TASK]) == set(cli_results["results"][TASK])
    for key, value in cli_results["results"][TASK].items():
        assert exported["results"][TASK][key] == (pytest.approx(value) if isinstance(value, float) else value)
    for table in ("versions", "n-shot", "higher_is_better", "n-samples", "configs", "config", "date", "model_name"):
        assert table in cli_results, table  # every table we write is one lm-eval writes
    assert exported["higher_is_better"][TASK] == cli_results["higher_is_better"][TASK]
    assert exported["n-samples"][TASK]["effective"] == cli_results["n-samples"][TASK]["effective"]
    assert str(exported["versions"][TASK]) == str(cli_results["versions"][TASK])
    table = make_table(exported)  # lm-eval's own results renderer reads it
    row = next(line for line in table.splitlines() if line.startswith(f"|{TASK}"))
    assert f"{exported['results'][TASK]['acc,none']:.2f}" in row
    assert f"{exported['results'][TASK]['acc_stderr,none']:.4f}" in row


def test_export_lm_eval_round_trips_through_import(harness_run, tmp_path):
    from harness.cli import main
    from harness_plugins.lm_eval_plugin.results_io import import_run

    store, ours = harness_run
    out = tmp_path / "export"
    out.mkdir()
    assert main(["export-results", ours["id"], "--format", "lm-eval", "-o", str(out),
                 "--store", str(store.root)]) == 0
    (written,) = out.glob("results_*.json")
    back = import_run(out, _store(tmp_path))
    assert back["import"]["paired"] is False  # aggregates only: the export writes no sample logs
    assert set(back["metrics"]["before"]) == set(ours["metrics"]["before"])
    for key, m in ours["metrics"]["before"].items():
        got = back["metrics"]["before"][key]
        assert (got["value"], got["n"], got["higher_is_better"]) == (m["value"], m["n"], m["higher_is_better"])
        assert got["stderr"] == pytest.approx(m["stderr"])
    assert json.loads(written.read_text())["harness"]["run_id"] == ours["id"]


def test_export_eee_validates_against_the_every_eval_ever_schema(harness_run):
    from harness.reports.results_formats import ExportError, to_eee, validate_eee

    _, ours = harness_run
    doc = to_eee(ours, "before")
    validate_eee(doc)
    by_id = {r["evaluation_result_id"]: r for r in doc["evaluation_results"]}
    acc = ours["metrics"]["before"][f"{TASK}/acc"]
    assert by_id[f"{TASK}/acc"]["score_details"]["score"] == acc["value"]
    assert by_id[f"{TASK}/acc"]["score_details"]["uncertainty"]["standard_error"]["value"] == acc["stderr"]
    assert by_id[f"{TASK}/acc"]["metric_config"]["lower_is_better"] is False
    assert doc["source_metadata"]["additional_details"]["run_id"] == ours["id"]
    broken = {**doc, "model_info": {"name": "x"}}
    with pytest.raises(ExportError, match="model_info"):
        validate_eee(broken)


def test_export_model_index_is_hub_yaml_and_a_missing_phase_is_a_clear_error(harness_run, tmp_path, capsys):
    import yaml

    from harness.cli import main

    store, ours = harness_run
    assert main(["export-results", ours["id"], "--format", "model-index", "--store", str(store.root)]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    (result,) = doc["model-index"][0]["results"]
    assert result["dataset"]["name"] == TASK
    assert {m["name"]: m["value"] for m in result["metrics"]}[
        "acc"] == ours["metrics"]["before"][f"{TASK}/acc"]["value"]
    assert main(["export-results", ours["id"], "--format", "eee", "--phase", "after",
                 "--store", str(store.root)]) == 2
    assert "no 'after' metrics" in capsys.readouterr().err
