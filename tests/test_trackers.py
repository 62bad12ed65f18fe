"""The mlflow, wandb and trackio reporters against the real trackers: one run of the tiny
quickstart (shortened training) with all three reporters, read back through each tracker's
own client or files. The MLflow server is a real ``mlflow server`` on 127.0.0.1 with a sqlite
backend; W&B runs offline and its run folder is parsed; Trackio's local store is read back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# One end-to-end quickstart run (shortened) feeds the whole module: ~1.5 min on 2 idle cores.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SFT_STEPS, DPO_STEPS = 6, 2


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """One real MLflow tracking server for the module (its start-up dominates the cost)."""
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    script = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(script), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                             "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            cwd=root, stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300  # minutes on a loaded 2-core machine, seconds on an idle one
    while True:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield uri
    proc.terminate()
    proc.wait(timeout=30)


def quickstart_text(reports: str) -> str:
    """The quickstart recipe with fewer training steps and items, and the given ``[[report]]`` tables."""
    text = (ROOT / "recipes" / "quickstart.toml").read_text()
    text = text.replace("max_steps = 100", f"max_steps = {SFT_STEPS}").replace("max_steps = 4",
                                                                               f"max_steps = {DPO_STEPS}")
    text = text.replace('tasks = ["quick_mc"]', 'tasks = ["quick_mc"]\nlimit = 30')
    assert f"max_steps = {SFT_STEPS}" in text and f"max_steps = {DPO_STEPS}" in text and "limit = 30" in text
    return text + "\n" + reports


@pytest.fixture(scope="module")
def tracked_run(mlflow_server, tmp_path_factory):
    from harness.contract.plugins import load_plugins
    from harness.run.pipeline import run_recipe
    from harness.run.recipe import parse_recipe
    from harness.store.local import Store

    root = tmp_path_factory.mktemp("tracked")
    reports = f"""
[[report]]
reporter = "mlflow"
tracking_uri = "{mlflow_server}"
experiment = "harness-quickstart"

[[report]]
reporter = "wandb"
mode = "offline"
dir = "{root / 'wandb'}"

[[report]]
reporter = "trackio"
project = "harness-quickstart"
"""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKIO_DIR", str(root / "trackio"))
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("HARNESS_CACHE_DIR", str(root / "cache"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        import trackio.utils

        mp.setattr(trackio.utils, "TRACKIO_DIR", root / "trackio")  # read once at import
        loaded = parse_recipe(quickstart_text(reports), path=ROOT / "recipes" / "quickstart.toml")
        store = Store(root / "runs")
        messages: list[str] = []
        record = run_recipe(loaded, load_plugins(), store, log=messages.append)
        failures = [m for m in messages if "reporter" in m and "failed" in m]
        assert not failures, failures
        for key in ("MLFLOW_RUN_ID", "WANDB_RUN_ID"):
            assert key not in os.environ, f"{key} left set after the run"
        yield {"record": record, "root": root, "uri": mlflow_server, "run_dir": store.run_dir(record["id"])}


# ------------------------------------------------------------------ MLflow


@pytest.fixture(scope="module")
def mlflow_run(tracked_run):
    from mlflow import MlflowClient

    client = MlflowClient(tracked_run["uri"])
    exp = client.get_experiment_by_name("harness-quickstart")
    (run,) = client.search_runs([exp.experiment_id],
                                filter_string=f"tags.`harness.run_id` = '{tracked_run['record']['id']}'")
    return client, run


def test_mlflow_run_is_named_and_linked_to_the_harness_run(tracked_run, mlflow_run):
    _, run = mlflow_run
    record = tracked_run["record"]
    assert run.info.run_name == record["id"]
    assert run.info.status == "FINISHED"
    assert run.data.tags["harness.status"] == "completed"
    assert run.data.tags["harness.gates_passed"] == str(record["gates_passed"]).lower()
    assert run.data.tags["tag.tiny"] == "true"
    assert run.data.params["recipe.model.loader"] == "tiny"
    assert run.data.params["recipe.train.0.max_steps"] == str(SFT_STEPS)


def test_mlflow_holds_the_training_curve_from_trl(tracked_run, mlflow_run):
    client, run = mlflow_run
    history = client.get_metric_history(run.info.run_id, "loss")
    for stage in tracked_run["record"]["training"]:
        assert stage["metrics"]["config"]["report_to"] == ["mlflow", "wandb", "trackio"]
    # TRL's MLflowCallback logged one point per step of both stages into this same run
    assert len(history) == SFT_STEPS + DPO_STEPS
    assert sorted(h.step for h in history) == sorted([*range(1, SFT_STEPS + 1), *range(1, DPO_STEPS + 1)])
    sft_losses = [row["loss"] for row in _read_jsonl(tracked_run["run_dir"] / tracked_run["record"]["training"][0]["log"])
                  if "loss" in row]
    assert sorted(h.value for h in history[:SFT_STEPS]) == pytest.approx(sorted(sft_losses))


def test_mlflow_holds_before_after_metrics_with_intervals_and_gates(tracked_run, mlflow_run):
    _, run = mlflow_run
    record = tracked_run["record"]
    metrics = run.data.metrics
    for phase in ("before", "after"):
        for key, m in record["metrics"][phase].items():
            assert metrics[f"{phase}/{key}"] == pytest.approx(m["value"])
            if m.get("stderr") is not None:
                assert metrics[f"{phase}/{key}_stderr"] == pytest.approx(m["stderr"])
    acc = record["metrics"]["after"]["quick_mc/acc"]["value"] - record["metrics"]["before"]["quick_mc/acc"]["value"]
    assert metrics["change/quick_mc/acc"] == pytest.approx(acc)
    assert metrics["change/quick_mc/acc_ci_low"] <= metrics["change/quick_mc/acc"] <= metrics["change/quick_mc/acc_ci_high"]
    for gate in record["gates"]:
        assert metrics[f"gate/{gate['metric']}/{gate['rule']}"] == (1.0 if gate["passed"] else 0.0)
    assert metrics["gates/passed"] == (1.0 if record["gates_passed"] else 0.0)


def test_mlflow_holds_record_summary_and_gate_table_as_artefacts(tracked_run, mlflow_run, tmp_path):
    client, run = mlflow_run
    names = {a.path for a in client.list_artifacts(run.info.run_id, "harness")}
    assert names == {"harness/run.json", "harness/summary.md"}
    local = client.download_artifacts(run.info.run_id, "harness/run.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["id"] == tracked_run["record"]["id"]
    table = json.loads(Path(client.download_artifacts(run.info.run_id, "gates.json", str(tmp_path))).read_text())
    assert len(table["data"]) == len(tracked_run["record"]["gates"])
    assert {"verdict", "confidence_adjusted", "adjust", "mde"} <= set(table["columns"])  # three-valued, Holm, power


# ------------------------------------------------------------------ W&B offline


def _wandb_records(run_folder: Path) -> list:
    """The records of W&B's offline ``run-*.wandb`` file: a ``:W&B`` header, then LevelDB-log
    framing (32 KiB blocks; 7-byte headers: crc32, length, type FULL/FIRST/MIDDLE/LAST), each
    payload a ``wandb_internal_pb2.Record``."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_folder.glob("run-*.wandb")
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, pos, pending, payloads = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            payloads.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            payloads.append(pending + chunk)
    out = []
    for payload in payloads:
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(payload)
        out.append(rec)
    return out


def test_wandb_offline_folder_holds_curve_metrics_gates_and_artefact(tracked_run):
    record = tracked_run["record"]
    (folder,) = (tracked_run["root"] / "wandb" / "wandb").glob(f"offline-run-*-{record['id']}")
    history = []
    for rec in _wandb_records(folder):
        if rec.WhichOneof("record_type") == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in rec.history.item})
    losses = [h["train/loss"] for h in history if "train/loss" in h]
    assert len(losses) == SFT_STEPS + DPO_STEPS  # TRL's WandbCallback, in the run the reporter opened
    merged = {k: v for h in history for k, v in h.items()}
    assert merged["before/quick_mc/acc"] == pytest.approx(record["metrics"]["before"]["quick_mc/acc"]["value"])
    assert merged["after/quick_mc/acc"] == pytest.approx(record["metrics"]["after"]["quick_mc/acc"]["value"])
    assert "change/quick_mc/acc_ci_low" in merged
    assert merged["gates/passed"] == (1.0 if record["gates_passed"] else 0.0)
    assert merged["gates/_type"] == "table-file"  # a W&B Table of the gate verdicts
    (table,) = folder.glob("files/media/table/gates_*.table.json")
    assert len(json.loads(table.read_text())["data"]) == len(record["gates"])
    config = {item.key or "/".join(item.nested_key): item.value_json for rec in _wandb_records(folder)
              if rec.WhichOneof("record_type") == "config" for item in rec.config.update}
    assert json.loads(config["recipe"])["model"]["loader"] == "tiny"
    assert json.loads(config["harness"])["harness.run_id"] == record["id"]
    artefacts = [rec.artifact for rec in _wandb_records(folder) if rec.WhichOneof("record_type") == "artifact"]
    assert any(a.name == f"harness-record-{record['id']}" for a in artefacts)


# ------------------------------------------------------------------ Trackio


def test_trackio_store_holds_curve_metrics_gates_and_artefacts(tracked_run):
    from trackio.sqlite_storage import SQLiteStorage

    record = tracked_run["record"]
    logs = SQLiteStorage.get_logs("harness-quickstart", record["id"])
    losses = [row["train/loss"] for row in logs if "train/loss" in row]
    assert len(losses) == SFT_STEPS + DPO_STEPS
    merged = {k: v for row in logs for k, v in row.items()}
    assert merged["before/quick_mc/acc"] == pytest.approx(record["metrics"]["before"]["quick_mc/acc"]["value"])
    assert merged["after/quick_mc/acc"] == pytest.approx(record["metrics"]["after"]["quick_mc/acc"]["value"])
    assert merged["gates/passed"] == (1.0 if record["gates_passed"] else 0.0)
    config = SQLiteStorage.get_run_config("harness-quickstart", record["id"])
    assert config["recipe.model.loader"] == "tiny"
    linked = SQLiteStorage.get_run_artifacts("harness-quickstart", record["id"], None)["output"]
    assert {"harness-run", "harness-summary"} <= {a.get("name") for a in linked}, linked


# ------------------------------------------------------------------ failure


def test_unreachable_tracker_fails_the_reporter_not_the_stored_run(tmp_path, monkeypatch):
    from harness.contract.plugins import load_plugins

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    reporter = load_plugins().create("reporter", "mlflow", {"tracking_uri": f"http://127.0.0.1:{_free_port()}"})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = {"id": "20260101-000000-x-0000", "name": "x", "status": "completed", "metrics": {}, "gates": []}
    (run_dir / "run.json").write_text(json.dumps(record))
    with pytest.raises(Exception, match="127.0.0.1"):
        reporter.report(record, run_dir)
    assert json.loads((run_dir / "run.json").read_text()) == record


def test_a_missing_tracker_package_makes_only_that_reporter_unavailable(monkeypatch):
    import importlib.util

    from harness.contract.plugins import load_plugins

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    monkeypatch.delitem(sys.modules, "harness_plugins.reporters.wandb_reporter", raising=False)
    host = load_plugins()
    info = host.plugins["wandb"]
    assert info.status == "unavailable"
    assert "wandb" in info.error and info.fix == "pip install 'posttrain-harness[trackers]'"
    assert host.plugins["mlflow"].status == "loaded" and host.plugins["reporters"].status == "loaded"
    assert "wandb" not in {c.name for c in host.available("reporter")}


def test_tracker_down_from_the_start_keeps_the_run_and_disables_only_the_reporter(tmp_path, monkeypatch):
    """The server is unreachable from the start: the probe before the first stage disables the
    (optional) reporter with one warning; training and evaluation go on (TRL is not told to report
    anywhere), and run.json says why the tracker holds nothing (tests/test_tracker_probe.py: the rest)."""
    from harness.contract.plugins import load_plugins
    from harness.run.pipeline import run_recipe
    from harness.run.recipe import parse_recipe
    from harness.store.local import Store

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    facts = ROOT / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc" / "train.jsonl"
    text = f"""
[run]
name = "tracker-down"

[model]
loader = "tiny"

[[data]]
name = "facts"
source = "jsonl"
path = "{facts}"
format = "prompt_completion"

[[train]]
trainer = "sft"
data = "facts"
max_steps = 1
per_device_train_batch_size = 4
max_length = 32

[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
limit = 4
batch_size = 4

[[report]]
reporter = "mlflow"
tracking_uri = "http://127.0.0.1:{_free_port()}"
"""
    messages: list[str] = []
    store = Store(tmp_path / "runs")
    record = run_recipe(parse_recipe(text, path=tmp_path / "r.toml"), load_plugins(), store, log=messages.append)
    assert record["status"] == "completed"
    assert store.load(record["id"])["metrics"]["after"]
    (warning,) = [m for m in messages if "reporter 'mlflow'" in m]
    assert "disabled" in warning and "127.0.0.1" in warning and "connection refused" in warning
    (entry,) = store.load(record["id"])["reporters_disabled"]  # recorded, verdict untouched
    assert entry["reporter"] == "mlflow" and entry["required"] is False
    assert "post_run_errors" not in store.load(record["id"])
    assert "report_to" not in record["training"][0]["metrics"]["config"]  # TRL logged nowhere
    assert "MLFLOW_RUN_ID" not in os.environ and not (tmp_path / "mlruns").exists()
