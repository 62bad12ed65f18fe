"""Checking a store: corrupt, incomplete and duplicate-id runs, and leftover scratch files.

``check_store`` only reads. ``fix_store`` moves every damaged run into
``quarantine/`` (never deletes a run) and removes what only the harness's own
interrupted writes leave behind: ``.run.json.*.tmp`` files of an atomic write
and ``.unpack-*`` folders of an unpack that was killed.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .local import QUARANTINE_DIR, RECORD_FILE, TEMP_SUFFIX, UNPACK_PREFIX, Store

#: an ``.unpack-*`` folder older than this is a killed unpack, not one in progress
STALE_UNPACK_S = 3600


@dataclass
class Problem:
    run_id: str
    kind: str  # "corrupt", "incomplete", "duplicate"
    reason: str
    running: bool = False  # an incomplete run whose process still runs: never moved


@dataclass
class CheckReport:
    root: str
    runs: int = 0
    ok: int = 0
    problems: list[Problem] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)  # temp files / folders of interrupted writes
    moved: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _leftovers(store: Store, running: set[str]) -> list[Path]:
    if store.is_remote or not store.root.is_dir():  # a remote store's temp files stay in local staging
        return []
    now = time.time()
    out = [p for p in store.root.iterdir()
           if p.name.startswith(UNPACK_PREFIX) and now - p.stat().st_mtime > STALE_UNPACK_S]
    for run_id in store.run_ids():
        if run_id in running:
            continue
        folder = store.root / run_id
        try:
            out += [p for p in folder.rglob(f".*{TEMP_SUFFIX}") if p.is_file()]
        except OSError:
            continue
    return sorted(out)


def check_store(store: Store) -> CheckReport:
    report = CheckReport(root=store.location)
    claimed: dict[str, list[str]] = {}
    for run_id in store.run_ids():
        report.runs += 1
        record = store.load(run_id)
        status = record.get("status")
        if status == "corrupt":
            reason = (record.get("error") or {}).get("message", "")
            report.problems.append(Problem(run_id, "corrupt", reason))
            claimed_id = _claimed_id(store.root / run_id / RECORD_FILE)
            if claimed_id and claimed_id != run_id:
                claimed.setdefault(claimed_id, []).append(run_id)
        elif status in ("incomplete", "running"):
            running = store.owner_alive(run_id)
            stages = [s.get("name") for s in record.get("stages") or [] if s.get("status") == "ok"]
            reason = ("still running" if running else "no run.json: the run was killed or crashed") + (
                f"; completed stages: {', '.join(stages)}" if stages else "; no stage completed")
            report.problems.append(Problem(run_id, "incomplete", reason, running=running))
        else:
            report.ok += 1
    for claimed_id, holders in claimed.items():
        if claimed_id in store.run_ids() or len(holders) > 1:
            for run_id in holders:
                report.problems.append(Problem(run_id, "duplicate", f"its run.json claims id '{claimed_id}', "
                                                                    "which another folder holds"))
    live = {p.run_id for p in report.problems if p.running}
    report.leftovers = [str(p) for p in _leftovers(store, live)]
    return report


def _claimed_id(path: Path) -> str | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def fix_store(store: Store, report: CheckReport | None = None) -> CheckReport:
    """Move corrupt, dead incomplete and duplicate runs to ``quarantine/``; remove leftovers."""
    report = report or check_store(store)
    for path in map(Path, report.leftovers):  # first: a quarantined run keeps only what it had
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        report.removed.append(str(path))
    quarantine = store.root / QUARANTINE_DIR
    for run_id in dict.fromkeys(p.run_id for p in report.problems if not p.running):
        src = store.root / run_id
        if not src.is_dir():
            continue
        quarantine.mkdir(exist_ok=True)
        dest = quarantine / run_id
        if dest.exists():
            dest = quarantine / f"{run_id}.{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        src.rename(dest)
        report.moved.append(run_id)
    return report
