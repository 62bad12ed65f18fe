"""A tracker that cannot be reached costs seconds, not minutes (issue 23, item 1).

Before the first stage each tracker reporter probes its server: a ``required = true`` one that
cannot reach it stops the run (exit 2, naming the URI and the error), an optional one is disabled
with one warning and the run goes on. Against a closed port on 127.0.0.1, a port that accepts and
never answers, and a real ``mlflow server`` stopped in the middle of a run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc" / "train.jsonl"
LIMIT_S = 15  # the bound: a run with an unreachable tracker ends (or goes on) within 15 s

EVAL_ONLY = """
[run]
name = "tracker-probe"

[model]
loader = "tiny"

[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
limit = 4
batch_size = 4
"""

TRAIN_AND_EVAL = EVAL_ONLY + f"""
[[data]]
name = "facts"
source = "jsonl"
path = "{FACTS}"
format = "prompt_completion"

[[train]]
trainer = "sft"
data = "facts"
max_steps = 1
per_device_train_batch_size = 4
max_length = 32
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: one [[report]] table per tracker, each aimed at ``{url}``, and the environment it needs to try
TRACKERS = {
    "mlflow": ('reporter = "mlflow"\ntracking_uri = "{url}"', {}),
    "wandb": ('reporter = "wandb"\nmode = "online"', {"WANDB_BASE_URL": "{url}", "WANDB_API_KEY": "x" * 40}),
    "trackio": ('reporter = "trackio"\nserver_url = "{url}"', {"TRACKIO_WRITE_TOKEN": "harness-test"}),
}


def _report_table(tracker: str, url: str, required: bool, extra: str = "") -> tuple[str, dict[str, str]]:
    table, env = TRACKERS[tracker]
    text = f"\n[[report]]\n{table.format(url=url)}\nrequired = {'true' if required else 'false'}\n{extra}"
    return text, {k: v.format(url=url) for k, v in env.items()}


def _only_run(store_dir: Path) -> dict:
    (run_json,) = store_dir.glob("*/run.json")
    return json.loads(run_json.read_text())


@pytest.mark.parametrize("tracker", sorted(TRACKERS))
def test_a_required_unreachable_tracker_stops_the_run_with_exit_2_in_seconds(tracker, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    table, env = _report_table(tracker, url, required=True)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(EVAL_ONLY + table)
    env = {**os.environ, **env, "WANDB_DIR": str(tmp_path), "TRACKIO_DIR": str(tmp_path / "trackio"),
           "WANDB_SILENT": "true"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", str(recipe), "--store", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert elapsed < LIMIT_S, f"{elapsed:.1f} s\n{out}"
    assert f"cannot reach {url}" in out and "connection refused" in out, out
    assert "required = false" in out, out  # the way out is named
    record = _only_run(tmp_path / "runs")
    assert record["status"] == "failed"
    assert [s["name"] for s in record["stages"]] == []  # stopped before the first stage: no model was loaded
    assert url in record["error"]["message"]


@pytest.fixture(autouse=True)
def _tracker_env_restored():
    """A tracker server stopped mid-run can leave TRL's MLFLOW_RUN_ID set in this process (a known
    gap, see the session note): put the variables back so later tests start clean."""
    keys = ("MLFLOW_RUN_ID", "WANDB_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")
    before = {k: os.environ.get(k) for k in keys}
    yield
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _run_in_process(text: str, tmp_path: Path, *plugins) -> tuple[dict, list[str], float]:
    from harness.contract.plugins import load_plugins
    from harness.run.pipeline import run_recipe
    from harness.run.recipe import parse_recipe
    from harness.store.local import Store

    host = load_plugins()
    for plugin in plugins:
        host.pm.register(plugin, name=type(plugin).__name__)
    messages: list[str] = []
    started = time.monotonic()
    record = run_recipe(parse_recipe(text, path=tmp_path / "r.toml"), host, Store(tmp_path / "runs"),
                        log=messages.append)
    return record, messages, time.monotonic() - started


def _overhead(record: dict, elapsed: float) -> float:
    """Seconds of the run not spent in its stages: probes, tracker calls, reporting."""
    return elapsed - sum(s.get("duration_s") or 0 for s in record["stages"])


@pytest.mark.parametrize("tracker", ["mlflow"])
def test_an_optional_unreachable_tracker_is_disabled_with_one_warning_and_the_run_goes_on(tracker, tmp_path,
                                                                                          capfd, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}"
    table, env = _report_table(tracker, url, required=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    record, messages, elapsed = _run_in_process(EVAL_ONLY + table, tmp_path)
    lines = messages + capfd.readouterr().err.splitlines()
    assert record["status"] == "completed" and record["metrics"]["before"]
    warnings = [m for m in lines if "cannot reach" in m]
    assert len(warnings) == 1, lines
    assert url in warnings[0] and "disabled" in warnings[0]
    (entry,) = record["reporters_disabled"]  # the record says why the tracker holds nothing
    assert entry["reporter"] == tracker and url in entry["message"]
    assert "post_run_errors" not in record
    assert _overhead(record, elapsed) < LIMIT_S
    assert not (tmp_path / "mlruns").exists() and "MLFLOW_RUN_ID" not in os.environ


def test_a_server_that_accepts_but_never_answers_is_given_up_on_after_the_probe_timeout(monkeypatch):
    from harness.contract.plugins import load_plugins

    monkeypatch.setenv("HARNESS_TRACKER_PROBE_TIMEOUT", "1")
    with socket.socket() as silent:  # the kernel accepts the connection; nobody ever reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        reporter = load_plugins().create("reporter", "mlflow", {"tracking_uri": url})
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="no answer within 1 s") as info:
            reporter.check({"id": "20260101-000000-x-0000", "name": "x"})
        assert time.monotonic() - started < 5
    assert url in str(info.value)


def test_the_probe_names_the_uri_without_its_credentials(monkeypatch):
    from harness.contract.plugins import load_plugins

    port = _closed_port()
    reporter = load_plugins().create("reporter", "trackio",
                                     {"server_url": f"http://user:secret@127.0.0.1:{port}/?write_token=tok"})
    with pytest.raises(RuntimeError) as info:
        reporter.check({"id": "20260101-000000-x-0000", "name": "x"})
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "secret" not in message and "tok" not in message


def test_offline_and_local_trackers_are_not_probed(monkeypatch, tmp_path):
    from harness.contract.plugins import load_plugins

    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TRACKIO_SERVER_URL", raising=False)
    monkeypatch.delenv("TRACKIO_SPACE_ID", raising=False)
    host = load_plugins()
    run = {"id": "20260101-000000-x-0000", "name": "x"}
    host.create("reporter", "wandb", {"mode": "offline"}).check(run)
    host.create("reporter", "mlflow", {"tracking_uri": f"sqlite:///{tmp_path / 'm.db'}"}).check(run)
    host.create("reporter", "trackio", {}).check(run)
    with pytest.raises(RuntimeError, match="cannot reach"):  # the same URL, online: probed
        host.create("reporter", "wandb", {"mode": "online"}).check(run)


# ------------------------------------------------------------------ a real server that dies mid-run


class StopServerAfter:
    """A test plugin: stops the MLflow server once a given stage has ended (after the reporter logged it)."""

    def __init__(self, proc: subprocess.Popen, stage: str):
        self.proc, self.stage = proc, stage

    @harness.hookimpl(trylast=True)
    def on_stage_end(self, event):
        if event.stage == self.stage and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture
def mlflow_server(tmp_path):
    port = _closed_port()
    script = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(script), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                             "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            cwd=tmp_path, stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300  # a loaded 2-core machine: minutes; an idle one: seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                import urllib.request

                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_a_tracker_server_stopped_mid_run_costs_seconds_and_keeps_the_run(mlflow_server, tmp_path, capfd,
                                                                          monkeypatch):
    """The server is up at the start (the tracker run opens and logs the first evaluation), then stops:
    the train stage is not pointed at it, the run finishes every stage, the optional reporter's failure
    is a post-run error and the required one's fails the run, all in seconds of tracker time."""
    url, proc = mlflow_server
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    optional, _ = _report_table("mlflow", url, required=False, extra='experiment = "optional"')
    required, _ = _report_table("mlflow", url, required=True, extra='experiment = "required"')
    record, messages, elapsed = _run_in_process(TRAIN_AND_EVAL + optional + required, tmp_path,
                                                StopServerAfter(proc, "evaluate-before"))
    err = capfd.readouterr().err
    assert proc.poll() is not None  # the server really stopped
    assert err.count(f"logging to {url}/#/experiments/") == 2, err  # both tracker runs were open and live
    stages = {s["name"]: s["status"] for s in record["stages"]}
    assert stages == {"load": "ok", "data": "ok", "evaluate-before": "ok", "train-0-sft": "ok",
                      "evaluate-after": "ok"}, stages  # the run went on
    assert "report_to" not in record["training"][0]["metrics"]["config"]  # TRL was not sent to a dead server
    assert record["status"] == "failed" and record["error"]["required"] is True  # the required tracker failed it
    entries = record["post_run_errors"]
    assert sorted(e["required"] for e in entries) == [False, True]
    assert all(url in e["message"] for e in entries), entries
    # opening two tracker runs costs seconds; one uncapped MLflow call to a dead server alone takes over
    # 4 minutes (7 retries, backoff factor 2): a bound that a loaded 2-core machine still meets
    assert _overhead(record, elapsed) < 120, (elapsed, record["stages"])
