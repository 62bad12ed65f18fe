"""The ``trackio`` reporter: the run, live, in a Trackio project (a local SQLite store by default).

``[[report]] reporter = "trackio"`` with ``project`` (default: the recipe's run name). The
store is Trackio's (``TRACKIO_DIR``, default ``~/.cache/huggingface/trackio``); ``trackio show``
opens its dashboard. TRL's ``TrackioCallback`` logs the training curves into the same
Trackio run: the harness passes it the project and the run name (the harness run id), and
it resumes that run.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Optional

from pydantic import Field

import harness

from . import probe, tracking

if find_spec("trackio") is None:
    raise harness.PluginUnavailable("the trackio reporter needs the `trackio` package", install=tracking.INSTALL)


class TrackioSession(tracking.TrackerSession):
    def __init__(self, project: str, run_name: str, tags: dict[str, str], server_url: str | None = None):
        import trackio

        self.trackio = trackio
        self.project, self.run_name, self.server_url = project, run_name, server_url
        self.config: dict[str, Any] = {"harness": dict(tags)}
        self._run = self._init(resume="allow")
        where = probe.redact(server_url) if server_url else trackio.utils.TRACKIO_DIR
        self.link = f"{where} (project {project!r}, run {run_name!r}; `trackio show`)"

    def _init(self, resume: str):
        return self.trackio.init(project=self.project, name=self.run_name, config=dict(self.config), resume=resume,
                                 server_url=self.server_url, auto_log_gpu=False, auto_log_cpu=False)

    def _current(self):
        """The open Trackio run; TRL's callback finishes the run at the end of each train stage."""
        run = self.trackio.context_vars.current_run.get()
        if run is None or run.name != self.run_name:
            self._run = self._init(resume="must")
        return self._run

    def log_params(self, params: dict[str, str]) -> None:
        self.config.update(params)
        self._current().config.update(params)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.config["harness"] = dict(tags)
        self._current().config.update({"harness": dict(tags)})

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._current()
        self.trackio.log(dict(metrics))

    def log_gates(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            import pandas as pd

            self._current()
            self.trackio.log({"gates": self.trackio.Table(dataframe=pd.DataFrame(rows).astype(str))})

    def log_files(self, paths: list[Path]) -> None:
        self._current()
        for path in paths:
            self.trackio.log_artifact(str(path), name=f"harness-{Path(path).stem}", type="harness-record")

    def train_env(self) -> dict[str, str]:
        # TRL's TrackioCallback passes no server URL: trackio.init reads it from the environment
        return {"TRACKIO_SERVER_URL": self.server_url} if self.server_url else {}

    def finish(self, status: str) -> None:
        run = self.trackio.context_vars.current_run.get()
        if run is not None and run.name == self.run_name:
            self.trackio.finish()


class TrackioReporter(tracking.TrackerReporter):
    name = "trackio"
    description = ("Log the run live to Trackio (local store): config, training curves (TRL), metrics "
                   "before/after with intervals, gates table, run.json + summary.md artifacts")
    trl_report_to = "trackio"

    class Params(harness.Params):
        project: Optional[str] = Field(None, description="Trackio project; default the recipe's run name")
        server_url: Optional[str] = Field(None, description="a self-hosted Trackio server; default "
                                                            "TRACKIO_SERVER_URL, else the local store")

    def project_for(self, name: str | None) -> str:
        return self.params.project or name or "harness"

    def train_report_to(self, run: dict[str, Any]) -> dict[str, Any]:
        # TRL's TrackioCallback opens (resumes) the Trackio run by project and run name.
        wanted = super().train_report_to(run)
        return wanted and {**wanted, "project": self.project_for(run.get("name"))}

    def server_url(self) -> str | None:
        return self.params.server_url or os.environ.get("TRACKIO_SERVER_URL")

    def probe(self) -> None:
        if os.environ.get("TRACKIO_SPACE_ID"):  # trackio logs to a Hugging Face Space, which wins over a server URL
            base = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
            probe.probe_http(self.name, base.rstrip("/") + "/api/whoami-v2", shown=base,
                             fix="Check the network or unset TRACKIO_SPACE_ID")
        elif probe.is_http(self.server_url()):
            url = self.server_url()
            probe.probe_http(self.name, url, shown=url,
                             fix="Check `server_url` in the recipe's [[report]] table (or TRACKIO_SERVER_URL) "
                                 "and that the Trackio server runs there")

    def open_session(self, record: dict[str, Any]) -> TrackioSession:
        return TrackioSession(self.project_for(record.get("name")), record["id"], tracking.run_tags(record),
                              server_url=self.params.server_url)


@harness.hookimpl
def register_reporters(register):
    register(TrackioReporter)


@harness.hookimpl
def on_run_start(event):
    tracking.run_started(TrackioReporter, event)


@harness.hookimpl
def on_stage_end(event):
    tracking.stage_ended(TrackioReporter, event)


@harness.hookimpl
def on_run_end(event):
    tracking.run_ended(TrackioReporter, event)
