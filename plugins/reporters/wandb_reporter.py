"""The ``wandb`` reporter: the run, live, in Weights & Biases (online, or offline with ``WANDB_MODE=offline``).

``[[report]] reporter = "wandb"`` with ``project`` (default: the recipe's run name), ``entity``,
``mode`` (``online``/``offline``; default W&B's own, i.e. ``WANDB_MODE``) and ``dir``. TRL's
``WandbCallback`` finds the run this reporter opened (``wandb.run``, and ``WANDB_RUN_ID`` /
``WANDB_PROJECT`` for other processes) and logs the training curves into it.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field

import harness

from . import probe, tracking

if find_spec("wandb") is None:
    raise harness.PluginUnavailable("the wandb reporter needs the `wandb` package", install=tracking.INSTALL)


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    """``a.b -> v`` back to nested dicts: W&B shows config as a tree."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                nxt = node[p] = {"": nxt}
            node = nxt
        node[leaf] = value
    return out


class WandbSession(tracking.TrackerSession):
    def __init__(self, *, project: str, entity: str | None, mode: str | None, dir: str | None,
                 run_id: str, tags: dict[str, str], extra_tags: list[str]):
        import wandb

        self.wandb = wandb
        tag_list = [k[4:] for k in tags if k.startswith("tag.")]
        self.run = wandb.init(project=project, entity=entity, mode=mode, dir=dir, id=tracking.metric_key(run_id),
                              name=run_id, tags=[*tag_list, *extra_tags][:64], resume="allow",
                              config={"harness": {k: v for k, v in tags.items() if not k.startswith("tag.")}})
        self.project = project
        self.link = self.run.url or str(Path(self.run.dir).parent)

    def log_params(self, params: dict[str, str]) -> None:
        self.run.config.update(_nest(params), allow_val_change=True)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.run.config.update({"harness": {k: v for k, v in tags.items() if not k.startswith("tag.")}},
                               allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        # TRL owns W&B's step axis (its training steps); harness values are logged without a step
        # and also kept in the run summary, where W&B tables and run comparisons read them.
        self.run.log(dict(metrics))
        self.run.summary.update(metrics)

    def log_gates(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            columns = list(rows[0])
            self.run.log({"gates": self.wandb.Table(columns=columns,
                                                    data=[[str(r[c]) if r[c] is not None else None for c in columns]
                                                          for r in rows])})

    def log_files(self, paths: list[Path]) -> None:
        artifact = self.wandb.Artifact(f"harness-record-{self.run.id}", type="harness-record")
        for path in paths:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def train_env(self) -> dict[str, str]:
        return {"WANDB_RUN_ID": self.run.id, "WANDB_PROJECT": self.project, "WANDB_RESUME": "allow"}

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "completed" else 1)


class WandbReporter(tracking.TrackerReporter):
    name = "wandb"
    description = ("Log the run live to Weights & Biases (offline with WANDB_MODE=offline): config, training "
                   "curves (TRL), metrics before/after with intervals, gates table, run.json + summary.md artifact")
    trl_report_to = "wandb"

    class Params(harness.Params):
        project: Optional[str] = Field(None, description="W&B project; default the recipe's run name")
        entity: Optional[str] = None
        mode: Optional[Literal["online", "offline", "disabled"]] = Field(None, description="default: WANDB_MODE")
        dir: Optional[str] = Field(None, description="where W&B writes its run folder; default WANDB_DIR or ./wandb")
        tags: list[str] = Field(default_factory=list)

    def online(self) -> bool:
        mode = (self.params.mode or os.environ.get("WANDB_MODE") or "online").lower()
        return mode in ("online", "run") and os.environ.get("WANDB_DISABLED", "").lower() not in ("true", "1")

    def probe(self) -> None:
        if self.online():
            base = os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai"
            probe.probe_http(self.name, base.rstrip("/") + "/healthz", shown=base,
                             fix="Check WANDB_BASE_URL and the network, run offline (mode = \"offline\" in the "
                                 "[[report]] table or WANDB_MODE=offline)")

    def client_env(self) -> dict[str, str]:
        return {"WANDB_INIT_TIMEOUT": "30"}  # W&B's default waits 90 s for a server that does not answer

    def open_session(self, record: dict[str, Any]) -> WandbSession:
        p = self.params
        return WandbSession(project=p.project or record.get("name") or "harness", entity=p.entity, mode=p.mode,
                            dir=p.dir, run_id=record["id"], tags=tracking.run_tags(record), extra_tags=p.tags)


@harness.hookimpl
def register_reporters(register):
    register(WandbReporter)


@harness.hookimpl
def on_run_start(event):
    tracking.run_started(WandbReporter, event)


@harness.hookimpl
def on_stage_end(event):
    tracking.stage_ended(WandbReporter, event)


@harness.hookimpl
def on_run_end(event):
    tracking.run_ended(WandbReporter, event)
