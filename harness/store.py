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
listed as ``incomplete`` and never hides the others. A ``run.json`` that cannot
be read or does not have the record's shape (a list, invalid UTF-8, a folder,
ill-typed fields, an ``id`` that is not its folder's name) is listed as
``corrupt`` with the reason, and the rest of the store is read as usual.
Nothing here ever rewrites a finished run's files; ``harness store check
--fix`` moves damaged runs into ``quarantine/``, it never deletes one.

Files are written with the permissions the umask allows (a store on a shared
disk stays readable to colleagues). Run ids are ``UTCSTAMP-name-RANDOM`` with
64 random bits: sortable by time, and unique across thousands of machines
whose stores are merged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

RECORD_FILE = "run.json"
PARTIAL_FILE = "record.partial.json"
OWNER_FILE = ".owner.json"  # host and pid of the process writing an unfinished run
QUARANTINE_DIR = "quarantine"
UNPACK_PREFIX = ".unpack-"  # temporary folders of `harness unpack`, renamed into place when complete
SCHEMA_VERSION = 1
#: random bits in a run id: 64 (16 hex digits)
ID_RANDOM_HEX = 16


class RunNotFound(LookupError):
    pass


class CorruptRecord(ValueError):
    """A stored file of a run cannot be read; the message names the file and what is wrong."""


def default_store_path() -> str:
    return os.environ.get("HARNESS_STORE") or "runs"


def file_mode() -> int:
    """The mode a new file gets under the current umask (``mkstemp`` alone gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


TEMP_SUFFIX = ".tmp"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
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
    """Rows of a JSON Lines file written by the store ([] when absent); :class:`CorruptRecord`
    naming the file and line when one cannot be read."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorruptRecord(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise CorruptRecord(f"{path}, line {lineno}: expected a JSON object, "
                                        f"got {type(row).__name__}")
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise CorruptRecord(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except IsADirectoryError:
        raise CorruptRecord(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise CorruptRecord(f"{path}: cannot be read ({exc.strerror})") from None
    return rows


#: Top-level fields of a record and the JSON types they may hold (None: null allowed).
_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "name": (str, type(None)), "kind": (str, type(None)), "status": (str,),
    "description": (str, type(None)), "tags": (list, type(None)), "gates_passed": (bool, type(None)),
    "created_at": (str, type(None)), "finished_at": (str, type(None)),
    "duration_s": (int, float, type(None)), "recipe": (dict, type(None)), "components": (list, type(None)),
    "environment": (dict, type(None)), "model": (dict, type(None)), "data": (list, type(None)),
    "stages": (list, type(None)), "metrics": (dict, type(None)), "tasks": (dict, type(None)),
    "samples": (dict, type(None)), "training": (list, type(None)), "gates": (list, type(None)),
    "error": (dict, type(None)),
}


def _type_name(types: tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def record_problem(record: Any, run_id: str) -> str | None:
    """Why ``record`` is not a readable run record (None when it is): shape and field types
    that every reader (``runs``, ``show``, ``compare``, ``gate``, the dashboard) relies on."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    for key, types in _RECORD_TYPES.items():
        if key in record and (not isinstance(record[key], types)
                              or (isinstance(record[key], bool) and bool not in types)):
            return f"field '{key}' should be {_type_name(types)}, got {type(record[key]).__name__}"
    if "id" in record and record["id"] != run_id:
        return f"its id '{record['id']}' is not its folder's name '{run_id}' (copied or renamed?)"
    for phase, metrics in (record.get("metrics") or {}).items():
        if not isinstance(metrics, dict):
            return f"metrics.{phase} should be an object, got {type(metrics).__name__}"
        for key, m in metrics.items():
            if not isinstance(m, dict) or not isinstance(m.get("value"), (int, float, type(None))) \
                    or isinstance(m.get("value"), bool):
                return f"metrics.{phase}.{key} should be an object with a numeric 'value'"
    for field, needs in (("stages", ("name", "status")), ("gates", ("metric", "passed")), ("data", ("name",))):
        for i, entry in enumerate(record.get(field) or []):
            if not isinstance(entry, dict) or any(k not in entry for k in needs):
                return f"{field}[{i}] should be an object with {', '.join(needs)}"
    return None


def read_record(path: Path, run_id: str) -> dict[str, Any]:
    """A record file as a dict; :class:`CorruptRecord` with the reason when unreadable or ill-shaped."""
    try:
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise CorruptRecord(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise CorruptRecord(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CorruptRecord(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptRecord(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise CorruptRecord(f"{path}: nested too deeply to be a record") from None
    problem = record_problem(record, run_id)
    if problem:
        raise CorruptRecord(f"{path}: {problem}")
    return record


def corrupt_record(run_id: str, reason: str) -> dict[str, Any]:
    """What :meth:`Store.load` returns for a damaged run: every reader lists it and goes on."""
    return {"id": run_id, "name": None, "status": "corrupt", "gates_passed": None, "metrics": {},
            "stages": [], "gates": [], "error": {"stage": None, "type": "CorruptRecord", "message": reason}}


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
            run_id = f"{stamp}-{_slug(name)}-{secrets.token_hex(ID_RANDOM_HEX // 2)}"
            path = self.root / run_id
            try:
                path.mkdir()
            except FileExistsError:
                continue
            write_json(path / OWNER_FILE, {"host": socket.gethostname(), "pid": os.getpid(),
                                           "started": time.time()})
            return run_id, path

    # ---------------------------------------------------------------- reading

    def run_ids(self) -> list[str]:
        """Folder names of every run, newest first."""
        if not self.root.is_dir():
            return []
        return sorted((p.name for p in self.root.iterdir()
                       if p.is_dir() and not p.name.startswith(".") and p.name != QUARANTINE_DIR),
                      reverse=True)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every run's record, newest first; unfinished folders as ``status: incomplete``."""
        for run_id in self.run_ids():
            yield self.load(run_id)

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, ``latest``, or a run name (newest wins)."""
        if (ref and ref != "latest" and "/" not in ref and "\\" not in ref and not ref.startswith(".")
                and ref != QUARANTINE_DIR and (self.root / ref).is_dir()):
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
            return read_record(path, run_id).get("name")
        except CorruptRecord:
            return None

    def run_dir(self, ref: str) -> Path:
        return self.root / self.resolve(ref)

    def load(self, ref: str) -> dict[str, Any]:
        run_id = self.resolve(ref)
        folder = self.root / run_id
        record_path = folder / RECORD_FILE
        if record_path.exists() or record_path.is_symlink():
            try:
                record = read_record(record_path, run_id)
            except CorruptRecord as exc:
                return corrupt_record(run_id, str(exc))
            record.setdefault("id", run_id)
            return record
        record = {}
        partial = folder / PARTIAL_FILE
        if partial.exists():
            try:  # whatever of the partial record is readable; the run is incomplete either way
                record = read_record(partial, run_id)
            except CorruptRecord:
                record = {}
        record.update({"id": run_id, "status": "incomplete"})
        return record

    def samples(self, ref: str, phase: str) -> list[dict[str, Any]]:
        """Per-sample rows of a run's ``before`` or ``after`` evaluation."""
        return read_jsonl(self.run_dir(ref) / "samples" / f"{phase}.jsonl")

    def owner_alive(self, run_id: str) -> bool:
        """Whether the process that created an unfinished run still runs (on this host)."""
        try:
            owner = json.loads((self.root / run_id / OWNER_FILE).read_text(encoding="utf-8"))
            if owner.get("host") != socket.gethostname():
                return True  # another machine's run on a shared disk: cannot tell, assume alive
            os.kill(int(owner["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False
        return True
