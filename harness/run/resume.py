"""Resuming a failed or killed run in its own folder: which completed stages are kept, and
carrying their results into the new attempt's record. Pure functions of the two records."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..store import artifacts


class ResumeRefused(StoreError, ValueError):
    """The run cannot be resumed: it completed, or its process is still running."""


def refuse_if_running(previous: dict[str, Any]) -> None:
    """An incomplete run whose process is alive on this host is still running, not killed."""
    proc = previous.get("process") or {}
    if previous.get("status") != "incomplete" or proc.get("host") != socket.gethostname() or not proc.get("pid"):
        return
    try:
        os.kill(int(proc["pid"]), 0)
    except (ProcessLookupError, PermissionError, ValueError, OverflowError):
        return
    raise ResumeRefused(f"run {previous['id']} is still running (pid {proc['pid']} on this host); "
                        f"resume it once that process has stopped")


def reusable(previous: dict[str, Any], plan: list[tuple[str, str]], run_dir: Path
             ) -> tuple[list[str], dict[str, Any] | None]:
    """Which completed stages of the previous attempt a resume keeps, and the saved model to
    reload (None: the base model). ``plan``: this recipe's stages as ``(name, kind)``.

    The completed prefix of the stages is kept up to the last train stage whose model was
    saved (train stages after it only ever held their model in memory: they run again),
    plus the non-train stages right after it.
    """
    old = {s["name"]: s for s in previous.get("stages") or []}
    names = [n for n, k in plan if k not in ("load", "data")]
    trains = {n for n, k in plan if k == "train"}
    prefix = []
    for n in names:
        if old.get(n, {}).get("status") != "ok":
            break
        prefix.append(n)
    saved = {a["stage"]: a for a in previous.get("artifacts") or []
             if a.get("kind") == "model" and artifacts.resolve_path(a, run_dir).is_dir()}
    cut = next((j for j, n in enumerate(prefix) if n in trains), len(prefix))
    reload_from = None
    for j, n in enumerate(prefix):
        if n in saved:
            reload_from = saved[n]
            cut = j + 1
            while cut < len(prefix) and prefix[cut] not in trains:
                cut += 1
    keep = prefix[:cut]
    if keep and len(keep) == len(names) and previous.get("status") == "completed":
        raise ResumeRefused(f"run {previous['id']} is completed: nothing to resume")
    return keep, reload_from


def restore(record: dict[str, Any], previous: dict[str, Any], keep: list[str]) -> None:
    """Carry the kept stages' results from the previous attempt into ``record``."""
    prev, rec = previous, record
    rec["created_at"] = prev.get("created_at", rec["created_at"])
    rec["attempts"] = list(prev.get("attempts") or []) + [
        {k: prev.get(k) for k in ("status", "created_at", "finished_at", "error")}
        | {"stages": [{k: s.get(k) for k in ("name", "status", "duration_s")} for s in prev.get("stages") or []]}]
    rec["model"] = dict(prev.get("model") or {})
    rec["data"] = list(prev.get("data") or [])
    for phase, stage in (("before", "evaluate-before"), ("after", "evaluate-after")):
        if stage in keep:
            rec["metrics"][phase] = prev["metrics"][phase]
            rec["samples"][phase] = prev["samples"][phase]
    rec["tasks"] = dict(prev.get("tasks") or {}) if "evaluate-before" in keep else {}
    if "evaluate-before-dev" in keep and prev.get("selection"):
        rec["selection"] = prev["selection"]
    rec["training"] = [t for t in prev.get("training") or [] if t.get("stage") in keep]
    rec["artifacts"] = [a for a in prev.get("artifacts") or [] if a.get("stage") in keep]
    rec["resumed"] = {"at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "reused": keep,
                      "attempt": len(rec["attempts"]) + 1}


def last_checkpoint(work: Path) -> Path | None:
    """The newest complete Trainer checkpoint a killed stage left (``save_steps``)."""
    found = [p for p in work.glob("checkpoint-*") if (p / "trainer_state.json").is_file()
             and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None
