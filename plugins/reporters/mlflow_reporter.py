"""The ``mlflow`` reporter: the run, live, in an MLflow tracking server (or a local store).

``[[report]] reporter = "mlflow"`` with ``tracking_uri`` (default: ``MLFLOW_TRACKING_URI`` or
MLflow's own default) and ``experiment`` (default: the recipe's run name). TRL's
``MLflowCallback`` writes the per-step training curves into the same MLflow run: the
harness hands it the run through ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID``.
"""

from __future__ import annotations

import os
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Optional

from pydantic import Field

import harness

from . import probe, tracking

if find_spec("mlflow") is None:
    raise harness.PluginUnavailable("the mlflow reporter needs the `mlflow` package", install=tracking.INSTALL)

BATCH = 100  # MLflow's log_batch accepts at most 100 params and 1000 metrics per call


class MlflowSession(tracking.TrackerSession):
    def __init__(self, tracking_uri: str | None, experiment: str, run_name: str, tags: dict[str, str]):
        import mlflow
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri or mlflow.get_tracking_uri()
        self.client = MlflowClient(self.tracking_uri)
        exp = self.client.get_experiment_by_name(experiment)
        self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(experiment)
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        base = self.tracking_uri.rstrip("/")
        self.link = (f"{base}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
                     if base.startswith("http") else f"{base} (run {self.run_id})")

    def log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k[:250], v) for k, v in params.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[i:i + BATCH])

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in metrics.items()]
        for i in range(0, len(items), 10 * BATCH):
            self.client.log_batch(self.run_id, metrics=items[i:i + 10 * BATCH])

    def log_gates(self, rows: list[dict[str, Any]]) -> None:
        if rows:  # an MLflow table artefact: the UI shows it as a table
            self.client.log_table(self.run_id, data={k: [r[k] for r in rows] for k in rows[0]},
                                  artifact_file="gates.json")

    def log_files(self, paths: list[Path]) -> None:
        for path in paths:
            self.client.log_artifact(self.run_id, str(path), artifact_path="harness")

    def train_env(self) -> dict[str, str]:
        # MLFLOW_MAX_LOG_PARAMS=0: the harness logs the recipe itself; TRL's callback would log every
        # TrainingArguments field again, and a second train stage with another learning rate is an
        # error in MLflow (a param cannot change within a run).
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_RUN_ID": self.run_id,
                "MLFLOW_MAX_LOG_PARAMS": "0"}

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.run_id, "FINISHED" if status == "completed" else "FAILED")


class MlflowReporter(tracking.TrackerReporter):
    name = "mlflow"
    description = ("Log the run live to MLflow: recipe, tags, training curves (TRL), metrics before/after "
                   "with intervals, gates, run.json + summary.md")
    trl_report_to = "mlflow"

    class Params(harness.Params):
        tracking_uri: Optional[str] = Field(None, description="MLflow tracking URI; default MLFLOW_TRACKING_URI")
        experiment: Optional[str] = Field(None, description="experiment name; default the recipe's run name")
        tags: dict[str, str] = Field(default_factory=dict, description="extra tags on the MLflow run")

    def tracking_uri(self) -> str | None:
        return self.params.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")

    def probe(self) -> None:
        uri = self.tracking_uri()
        if probe.is_http(uri):  # a local path or sqlite file has no server to wait for
            probe.probe_http(self.name, uri.rstrip("/") + "/health", shown=uri,
                             fix="Check `tracking_uri` in the recipe's [[report]] table (or MLFLOW_TRACKING_URI) "
                                 "and that `mlflow server` runs there")

    def client_env(self) -> dict[str, str]:
        # MLflow's defaults (7 retries, backoff factor 2, 120 s per request) spend minutes on a dead
        # server; these spend seconds, and a request that reached the server is still retried twice.
        return {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}

    def open_session(self, record: dict[str, Any]) -> MlflowSession:
        p = self.params
        return MlflowSession(self.tracking_uri(), p.experiment or record.get("name") or "harness", record["id"],
                             {**tracking.run_tags(record), **p.tags})


@harness.hookimpl
def register_reporters(register):
    register(MlflowReporter)


@harness.hookimpl
def on_run_start(event):
    tracking.run_started(MlflowReporter, event)


@harness.hookimpl
def on_stage_end(event):
    tracking.stage_ended(MlflowReporter, event)


@harness.hookimpl
def on_run_end(event):
    tracking.run_ended(MlflowReporter, event)
