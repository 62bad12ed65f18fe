"""First-party reporters: a markdown summary beside the record, and a JSON-lines log of runs.

Reporters run after ``run.json`` is stored; a failing reporter never loses the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import harness


class MarkdownReporter(harness.Reporter):
    name = "markdown"
    description = "Write summary.md (status, metrics before/after, gates) into the run folder or `path`."

    class Params(harness.Params):
        path: str | None = None

    def report(self, record, run_dir: Path) -> None:
        from harness import GateResult, write_summary

        gates = [GateResult(**g) for g in record.get("gates", [])]
        write_summary(record, gates, self.params.path or str(Path(run_dir) / "summary.md"))


class JsonlReporter(harness.Reporter):
    name = "jsonl"
    description = "Append one line per run (id, status, gates, metrics) to a JSON-lines file."

    class Params(harness.Params):
        path: str

    def report(self, record, run_dir: Path) -> None:
        line = {k: record.get(k) for k in ("id", "name", "status", "gates_passed", "metrics", "finished_at")}
        path = Path(self.params.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


@harness.hookimpl
def register_reporters(register):
    register(MarkdownReporter)
    register(JsonlReporter)
