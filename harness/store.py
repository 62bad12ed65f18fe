"""The run store: one immutable folder per run, ``run.json`` written last and atomically.

Layout of a store (a local directory; copy folders between machines to merge)::

    runs/
      20261126-183000-quickstart-3fa2/
        run.json                 the record (written last, atomically)
        record.partial.json      the record so far, rewritten after every stage
        samples/before.jsonl     per-sample rows of the "before" evaluation
        samples/after.jsonl      per-sample rows of the "after" evaluation
        train/0-sft.jsonl        training log of train stage 0

A folder without ``run.json`` is a run in progress or one that died; it is
listed as ``incomplete`` and never hides the others. Nothing here ever
rewrites a finished run's files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import StoreError

RECORD_FILE = "run.json"
PARTIAL_FILE = "record.partial.json"
SCHEMA_VERSION = 1


class RunNotFound(StoreError, LookupError):
    pass


def default_store_path() -> str:
    return os.environ.get("HARNESS_STORE") or "runs"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    _atomic_write(Path(path), json.dumps(obj, indent=2, ensure_ascii=False, default=str).encode())


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    lines = (json.dumps(r, ensure_ascii=False, default=str) for r in rows)
    _atomic_write(Path(path), ("\n".join(lines) + "\n").encode())


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "run"


class Store:
    """A directory of run folders."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root if root is not None else default_store_path()).expanduser()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ---------------------------------------------------------------- writing

    def new_run_dir(self, name: str) -> tuple[str, Path]:
        """Create an empty folder for a new run; its id sorts by creation time."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        while True:
            run_id = f"{stamp}-{_slug(name)}-{secrets.token_hex(2)}"
            path = self.root / run_id
            try:
                path.mkdir()
                return run_id, path
            except FileExistsError:
                continue

    # ---------------------------------------------------------------- reading

    def run_ids(self) -> list[str]:
        """Folder names of every run, newest first."""
        if not self.root.is_dir():
            return []
        return sorted((p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      reverse=True)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every run's record, newest first; unfinished folders as ``status: incomplete``."""
        for run_id in self.run_ids():
            yield self.load(run_id)

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, ``latest``, or a run name (newest wins)."""
        if ref and ref != "latest" and "/" not in ref and not ref.startswith(".") and (self.root / ref).is_dir():
            return ref  # an exact id: no listing (keeps iterating a large store linear)
        ids = self.run_ids()
        if ref == "latest":
            if not ids:
                raise RunNotFound(f"store {self.root} has no runs")
            return ids[0]
        if ref in ids:
            return ref
        prefixed = [i for i in ids if i.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise RunNotFound(f"run '{ref}' is ambiguous in {self.root}: {', '.join(prefixed[:5])}")
        named = [i for i in ids if self._name_of(i) == ref]
        if named:
            return named[0]
        raise RunNotFound(f"no run '{ref}' in store {self.root} (see `harness runs`)")

    def _name_of(self, run_id: str) -> str | None:
        path = self.root / run_id / RECORD_FILE
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text()).get("name")
        except (OSError, json.JSONDecodeError):
            return None

    def run_dir(self, ref: str) -> Path:
        return self.root / self.resolve(ref)

    def load(self, ref: str) -> dict[str, Any]:
        run_id = self.resolve(ref)
        folder = self.root / run_id
        record_path = folder / RECORD_FILE
        if record_path.exists():
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                return {"id": run_id, "status": "corrupt", "error": {"message": f"{record_path}: {exc}"}}
            record.setdefault("id", run_id)
            return record
        partial = folder / PARTIAL_FILE
        if partial.exists():
            try:
                record = json.loads(partial.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                record = {}
        else:
            record = {}
        record.update({"id": run_id, "status": "incomplete"})
        return record

    def samples(self, ref: str, phase: str) -> list[dict[str, Any]]:
        """Per-sample rows of a run's ``before`` or ``after`` evaluation."""
        return read_jsonl(self.run_dir(ref) / "samples" / f"{phase}.jsonl")
