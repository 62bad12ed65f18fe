"""What a tracker reporter (mlflow, wandb, trackio) logs, and when: live, as the run goes.

- ``on_run_start`` opens one tracker run named after the harness run id, logs the recipe's
  resolved parameters, tags and environment, and sets the environment variables through
  which TRL's own ``report_to`` integration finds that same run (per-step training curves
  are TRL's, not re-implemented here).
- ``on_stage_end`` logs what the finished stage added to ``record.partial.json``: its
  duration, the metrics of an evaluation phase, gate verdicts.
- ``report()`` (after ``run.json`` is stored) logs the rest: before → after differences with
  their paired intervals, the final status, ``run.json`` and ``summary.md`` as artefacts; then
  closes the tracker run.

Before any of that, ``check()`` probes the tracker's server (one short request, see ``probe.py``):
a ``required = true`` reporter that cannot reach it stops the run before the first stage, an
optional one is disabled with one warning. While the run goes on, the tracker client's retries
are capped (``client_env()``), so a server that dies mid-run costs seconds, not minutes.

A tracker error during the run does not stop the run: it is kept and raised by ``report()``,
where the harness's reporter failure rules apply (``required = true`` fails the run).
The tracker libraries are imported only inside the session classes.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import harness

from .probe import TrackerUnreachable

PARTIAL_FILE = "record.partial.json"
RECORD_FILE = "run.json"
INSTALL = "pip install 'posttrain-harness[trackers]'"
MAX_PARAM_CHARS = 500


def _warn(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ what is logged


def metric_key(key: str) -> str:
    """A key every tracker accepts: letters, digits, ``_ - . / :`` and spaces."""
    return re.sub(r"[^A-Za-z0-9_\-./: ]", "_", key)


def flat_params(obj: Any, prefix: str = "") -> dict[str, str]:
    """Nested recipe values as ``a.b.c -> "value"`` strings (long values cut to a tracker's limit)."""
    out: dict[str, str] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flat_params(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        for i, v in enumerate(obj):
            out.update(flat_params(v, f"{prefix}.{i}"))
    elif obj is not None:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        out[metric_key(prefix)] = text[:MAX_PARAM_CHARS]
    return out


def run_tags(record: dict[str, Any]) -> dict[str, str]:
    """Tags that link the tracker run back to the harness run and say where it ran."""
    env = record.get("environment") or {}
    acc = env.get("accelerator") or {}
    tags = {
        "harness.run_id": record.get("id"),
        "harness.run_name": record.get("name"),
        "harness.kind": record.get("kind"),
        "harness.status": record.get("status"),
        "harness.run.recipe": (record.get("recipe") or {}).get("path"),
        "harness.git_sha": env.get("git_sha"),
        "harness.host": env.get("host"),
        "harness.accelerator": " ".join(str(x) for x in (acc.get("kind"), acc.get("name"), acc.get("count"))
                                        if x not in (None, "")),
    }
    if record.get("gates_passed") is not None:
        tags["harness.gates_passed"] = str(record["gates_passed"]).lower()
    for tag in record.get("tags") or []:
        tags[f"tag.{metric_key(tag)}"] = "true"
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


def environment_params(record: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in (record.get("environment") or {}).items() if k != "libraries"}
    libs = (record.get("environment") or {}).get("libraries") or {}
    return {**flat_params(env, "env"), **flat_params(libs, "lib")}


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def phase_metrics(record: dict[str, Any], phase: str) -> dict[str, float]:
    """``before/quick_mc/acc`` and ``before/quick_mc/acc_stderr`` for every metric of a phase."""
    out: dict[str, float] = {}
    for key, m in ((record.get("metrics") or {}).get(phase) or {}).items():
        value, stderr = _finite(m.get("value")), _finite(m.get("stderr"))
        if value is not None:
            out[metric_key(f"{phase}/{key}")] = value
        if stderr is not None:
            out[metric_key(f"{phase}/{key}_stderr")] = stderr
    return out


def gate_metrics(record: dict[str, Any]) -> dict[str, float]:
    """``gate/<metric>/<rule>``: 1.0 passed, 0.0 failed; ``gates/passed`` for the run."""
    out = {metric_key(f"gate/{g['metric']}/{g['rule']}"): 1.0 if g.get("passed") else 0.0
           for g in record.get("gates") or []}
    if record.get("gates_passed") is not None:
        out["gates/passed"] = 1.0 if record["gates_passed"] else 0.0
    return out


def gate_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("metric", "rule", "verdict", "threshold", "observed", "bound", "confidence_adjusted", "adjust", "mde",
            "passed", "message")
    return [{k: g.get(k) for k in keys} for g in record.get("gates") or []]


def change_metrics(record: dict[str, Any], run_dir: Path) -> dict[str, float]:
    """``change/<metric>`` (after − before, paired on the same items) with its interval and p-value."""
    metrics = record.get("metrics") or {}
    if not metrics.get("before") or not metrics.get("after"):
        return {}
    samples = {p: harness.read_jsonl(Path(run_dir) / "samples" / f"{p}.jsonl") for p in ("before", "after")}
    comparison = harness.compare_records(record, samples["before"], record, samples["after"], phase_a="before",
                                 phase_b="after", allow_mismatch=True, seed=record.get("seed") or 0)
    out: dict[str, float] = {}
    for m in comparison.metrics:
        for suffix, value in (("", m.diff), ("_ci_low", m.ci_low), ("_ci_high", m.ci_high),
                              ("_p_value", m.p_value)):
            if _finite(value) is not None:
                out[metric_key(f"change/{m.metric}{suffix}")] = float(value)
    return out


def stage_metrics(stage: dict[str, Any]) -> dict[str, float]:
    out = {}
    if _finite(stage.get("duration_s")) is not None:
        out[metric_key(f"stage/{stage['name']}/duration_s")] = float(stage["duration_s"])
    for k, v in (stage.get("throughput") or {}).items():
        if _finite(v) is not None:
            out[metric_key(f"stage/{stage['name']}/{k}")] = float(v)
    return out


def summary_file(record: dict[str, Any], run_dir: Path) -> Path:
    """``summary.md`` of the run: the markdown reporter's file when it wrote one, else rendered now."""
    existing = Path(run_dir) / "summary.md"
    if existing.is_file():
        return existing
    text = harness.render_summary(record, [harness.GateResult(**g) for g in record.get("gates") or []])
    path = Path(tempfile.mkdtemp(prefix="harness-summary-")) / "summary.md"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ sessions


class TrackerSession:
    """One open run in a tracker. Subclasses wrap one library; all values arrive already flat."""

    #: a URL or path where a person finds the run
    link: str = ""

    def log_params(self, params: dict[str, str]) -> None:
        raise NotImplementedError

    def set_tags(self, tags: dict[str, str]) -> None:
        raise NotImplementedError

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def log_gates(self, rows: list[dict[str, Any]]) -> None:
        """The gate table as the tracker shows tables (default: a JSON artefact)."""
        if rows:
            folder = Path(tempfile.mkdtemp(prefix="harness-gates-"))
            (folder / "gates.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
            self.log_files([folder / "gates.json"])

    def log_files(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def train_env(self) -> dict[str, str]:
        """Environment variables through which TRL's integration writes into this run."""
        return {}

    def finish(self, status: str) -> None:
        raise NotImplementedError


class LiveRun:
    """A tracker run kept open across the stages of one harness run."""

    def __init__(self, reporter: "TrackerReporter", run_dir: Path):
        self.reporter = reporter
        self.run_dir = Path(run_dir)
        self.session: TrackerSession | None = None
        self.error: str | None = None
        #: the probe's error when the tracker was unreachable at the start (nothing is logged then)
        self.disabled: TrackerUnreachable | None = None
        self.step = 0
        self._logged_stages: set[int] = set()
        self._logged_phases: set[str] = set()
        self._gates_logged = False
        self._saved_env: dict[str, str | None] = {}  # TRL's variables (MLFLOW_RUN_ID, ...)
        self._client_env: list[str] = []  # the client's capped retries: set until the run is finished

    def guard(self, what: str, fn, *args) -> None:
        """Run a tracker call; keep the first error for ``report()`` instead of failing the run."""
        if self.error is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - any tracker failure is reported, not fatal here
            self.error = f"{what}: {type(exc).__name__}: {exc}"
            _warn(f"reporter '{self.reporter.name}': {self.error} (raised again when the run is reported)")

    def open(self, record: dict[str, Any]) -> None:
        self._client_env = _hold_client_env(self.reporter.client_env())
        self.session = self.reporter.open_session(record)
        self.session.log_params({**flat_params((record.get("recipe") or {}).get("resolved") or {}, "recipe"),
                                 **environment_params(record)})
        self.session.set_tags(run_tags(record))
        self.point_trl_at_session()
        _warn(f"    {self.reporter.name}: logging to {self.session.link}")

    def point_trl_at_session(self) -> None:
        if self.session is None:
            return
        for key, value in self.session.train_env().items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _drop_client_env(self) -> None:
        _release_client_env(self._client_env)
        self._client_env = []

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def sync(self, record: dict[str, Any]) -> None:
        """Log what the record gained since the last call (stages, phases, gates)."""
        metrics: dict[str, float] = {}
        for i, stage in enumerate(record.get("stages") or []):
            if i not in self._logged_stages and stage.get("status") in ("ok", "failed", "cached"):
                self._logged_stages.add(i)
                metrics.update(stage_metrics(stage))
        for phase in ("before", "after"):
            if phase not in self._logged_phases and (record.get("metrics") or {}).get(phase):
                self._logged_phases.add(phase)
                metrics.update(phase_metrics(record, phase))
        if not self._gates_logged and record.get("gates"):
            self._gates_logged = True
            metrics.update(gate_metrics(record))
            self.session.log_gates(gate_rows(record))
        if metrics:
            self.step += 1
            self.session.log_metrics(metrics, self.step)

    def close(self, record: dict[str, Any]) -> None:
        """Final metrics, status tags, artefacts; then end the tracker run."""
        try:
            self.sync(record)
            self.step += 1
            changes = change_metrics(record, self.run_dir)
            if changes:
                self.session.log_metrics(changes, self.step)
            self.session.set_tags(run_tags(record))
            self.session.log_files([self.run_dir / RECORD_FILE, summary_file(record, self.run_dir)])
        finally:
            self._restore_env()
            try:
                self.session.finish(record.get("status") or "completed")
            finally:
                self._drop_client_env()

    def abandon(self, status: str) -> None:
        self._restore_env()
        if self.session is not None:
            try:
                self.session.finish(status)
            except Exception as exc:  # noqa: BLE001 - already failing; say so and move on
                _warn(f"reporter '{self.reporter.name}': could not close the tracker run: {exc}")
        self._drop_client_env()


#: client settings the open tracker runs set (retries, timeouts), and how many runs hold each
_CLIENT_ENV: dict[str, int] = {}


def _hold_client_env(env: dict[str, str]) -> list[str]:
    """Set the variables the user has not set; the ones this run holds."""
    held = []
    for key, value in env.items():
        if key in _CLIENT_ENV:
            _CLIENT_ENV[key] += 1
        elif key not in os.environ:
            os.environ[key] = value
            _CLIENT_ENV[key] = 1
        else:
            continue
        held.append(key)
    return held


def _release_client_env(keys: list[str]) -> None:
    for key in keys:
        _CLIENT_ENV[key] -= 1
        if not _CLIENT_ENV[key]:
            del _CLIENT_ENV[key]
            os.environ.pop(key, None)


#: open tracker runs, by (reporter name, harness run id, parameters)
_LIVE: dict[tuple[str, str, str], LiveRun] = {}
#: what ``check()`` found, by the same key: None (reachable) or the error
_CHECKED: dict[tuple[str, str, str], TrackerUnreachable | None] = {}


def _key(reporter: "TrackerReporter", run_id: str) -> tuple[str, str, str]:
    return reporter.name, run_id, json.dumps(reporter.params_dict(), sort_keys=True)


def _read_partial(run_dir: Path) -> dict[str, Any]:
    for name in (PARTIAL_FILE, RECORD_FILE):
        path = Path(run_dir) / name
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
    return {}


class TrackerReporter(harness.Reporter):
    """Base of the tracker reporters: live logging through the lifecycle hooks, closed by ``report()``."""

    #: the name TRL's ``report_to`` uses for this tracker
    trl_report_to: ClassVar[str] = ""

    def open_session(self, record: dict[str, Any]) -> TrackerSession:
        raise NotImplementedError

    def probe(self) -> None:
        """Raise :class:`TrackerUnreachable` when the tracker's server does not answer (default: nothing
        to reach, e.g. a local store)."""

    def client_env(self) -> dict[str, str]:
        """Environment for the tracker client while the run is open (retries and timeouts capped);
        a variable the user has set is left alone."""
        return {}

    def check(self, run: dict[str, Any]) -> None:
        """Before the first stage: can this reporter reach its tracker? Raises :class:`TrackerUnreachable`."""
        try:
            self.probe()
        except TrackerUnreachable as exc:
            _CHECKED[_key(self, run["id"])] = exc
            raise
        _CHECKED[_key(self, run["id"])] = None

    def train_report_to(self, run: dict[str, Any]) -> dict[str, Any] | None:
        """What a train stage passes to TRL so its per-step curves land in this tracker's run;
        None when no tracker run is open for ``run`` (TRL would log to a default location),
        or when the server stopped answering (TRL's client would fail the train stage)."""
        live = _LIVE.get(_key(self, run["id"]))
        if live is None or live.session is None or live.error is not None:
            return None
        live.guard("reaching the tracker before a train stage", self.probe)
        if live.error is not None:
            return None
        return {"report_to": self.trl_report_to}

    def report(self, record: dict[str, Any], run_dir: Path) -> None:
        live = _LIVE.pop(_key(self, record["id"]), None)
        if live is None:  # not started live (a reporter used on a stored run): open a run now
            self.probe()
            live = LiveRun(self, run_dir)
            live.open(record)
        if live.disabled is not None:  # unreachable at the start; a core that calls check() never gets here
            raise live.disabled
        if live.error is not None:
            live.abandon("failed")
            raise RuntimeError(f"{self.name} reporter failed during the run: {live.error}")
        live.close(record)


# ------------------------------------------------------------------ lifecycle hooks


def sections_for(cls: type[TrackerReporter], recipe: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """``(parameters, required)`` of every ``[[report]]`` table of the recipe that names this reporter."""
    out = []
    for table in recipe.get("report") or []:
        if str(table.get("reporter", "")).split("/")[-1] == cls.name:
            out.append(({k: v for k, v in table.items() if k not in ("reporter", "required")},
                        bool(table.get("required"))))
    return out


def _reachable(reporter: TrackerReporter, run_id: str, required: bool) -> TrackerUnreachable | None:
    """The probe's verdict for this run. When the core has called ``check()`` it has already stopped
    the run (required) or warned and disabled the reporter; otherwise probe and do the same here."""
    key = _key(reporter, run_id)
    if key in _CHECKED:
        return _CHECKED.pop(key)
    try:
        reporter.probe()
    except TrackerUnreachable as exc:
        if required:
            raise TrackerUnreachable(exc.reporter, exc.url, exc.error,
                                     f"{exc.fix + '; ' if exc.fix else ''}or set required = false in its [[report]] "
                                     "table to run without it") from None
        _warn(f"warning: reporter '{reporter.name}' is disabled for this run: {exc}")
        return exc
    return None


def run_started(cls: type[TrackerReporter], event: harness.RunStarted) -> None:
    sections = sections_for(cls, event.recipe)
    if not sections:
        return
    record = _read_partial(event.run_dir) or {"id": event.run_id, "name": event.recipe.get("run", {}).get("name")}
    for params, required in sections:
        try:
            reporter = cls(**params)
        except Exception:  # noqa: BLE001 - bad parameters are reported when the reporter is created
            continue
        live = LiveRun(reporter, event.run_dir)
        live.disabled = _reachable(reporter, event.run_id, required)
        _LIVE[_key(reporter, event.run_id)] = live
        if live.disabled is not None:
            continue
        if not required:
            live.guard("opening the tracker run", live.open, record)
            continue
        try:  # a required tracker that refuses the run stops it before any work
            live.open(record)
        except Exception as exc:
            _LIVE.pop(_key(reporter, event.run_id)).abandon("failed")
            raise RuntimeError(f"required reporter '{reporter.name}' could not open its tracker run: "
                               f"{type(exc).__name__}: {exc}") from exc


def stage_ended(cls: type[TrackerReporter], event: harness.StageEnded) -> None:
    for (name, run_id, _), live in list(_LIVE.items()):
        if name == cls.name and run_id == event.run_id and live.session is not None:
            live.guard(f"logging stage '{event.stage}'", live.sync, _read_partial(live.run_dir))
            live.point_trl_at_session()  # again: MLflow's start_run consumes MLFLOW_RUN_ID


def run_ended(cls: type[TrackerReporter], event: harness.RunEnded) -> None:
    """Close tracker runs that ``report()`` never closed (the reporter could not be created)."""
    for key in [k for k in _LIVE if k[0] == cls.name and k[1] == event.run_id]:
        _LIVE.pop(key).abandon(event.status)
