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
from typing import Any, ClassVar, Iterable, Iterator

from ..errors import StoreError

RECORD_FILE = "run.json"
PARTIAL_FILE = "record.partial.json"
OWNER_FILE = ".owner.json"  # host and pid of the process writing an unfinished run
QUARANTINE_DIR = "quarantine"
INDEX_DIR = "index"  # a remote store's derived index (harness.store.index); never a run folder
UNPACK_PREFIX = ".unpack-"  # temporary folders of `harness unpack`, renamed into place when complete
SCHEMA_VERSION = 1
#: random bits in a run id: 64 (16 hex digits)
ID_RANDOM_HEX = 16


class RunNotFound(StoreError, LookupError):
    pass


class CorruptRecord(StoreError, ValueError):
    """A stored file of a run cannot be read; the message names the file and what is wrong."""


def default_store_path() -> str:
    return os.environ.get("HARNESS_STORE") or "runs"


def is_remote_url(root: Any) -> bool:
    """Whether ``root`` names a store through fsspec (``s3://``, ``gs://``, ``memory://`` …) rather
    than a local folder (a plain path or ``file://``)."""
    return isinstance(root, str) and "://" in root and not root.startswith(("file://", "local://"))


def _local_path(root: str | os.PathLike) -> str | os.PathLike:
    if isinstance(root, str) and root.startswith(("file://", "local://")):
        return root.split("://", 1)[1]
    return root


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


NUM = (int, float)
TEXT = (str,)
OPT_TEXT = (str, type(None))
OPT_NUM = (int, float, type(None))
OPT_BOOL = (bool, type(None))


class Shape:
    """The JSON shape readers rely on: ``types`` of the value, and for objects the ``fields``
    (``required`` ones must be present), for lists/objects the shape of every ``item``."""

    def __init__(self, types: tuple[type, ...], fields: dict[str, "Shape"] | None = None,
                 required: tuple[str, ...] = (), item: "Shape | None" = None):
        self.types, self.fields, self.required, self.item = types, fields or {}, required, item

    def problem(self, value: Any, where: str) -> str | None:
        if not isinstance(value, self.types) or (isinstance(value, bool) and bool not in self.types):
            return f"{where} should be {_type_name(self.types)}, got {_json_type(value)}"
        if isinstance(value, dict):
            for key in self.required:
                if key not in value:
                    return f"{where} lacks '{key}'" if where else f"the record lacks '{key}'"
            for key, shape in self.fields.items():
                if key in value:
                    problem = shape.problem(value[key], f"{where}.{key}" if where else key)
                    if problem:
                        return problem
            if self.item is not None:
                for key, v in value.items():
                    problem = self.item.problem(v, f"{where}.{key}")
                    if problem:
                        return problem
        elif isinstance(value, list) and self.item is not None:
            for i, v in enumerate(value):
                problem = self.item.problem(v, f"{where}[{i}]")
                if problem:
                    return problem
        return None


def _obj(fields: dict[str, Shape] | None = None, required: tuple[str, ...] = (), *, null: bool = True,
         item: Shape | None = None) -> Shape:
    return Shape((dict, type(None)) if null else (dict,), fields, required, item)


def _list(item: Shape | None = None, *, null: bool = True) -> Shape:
    return Shape((list, type(None)) if null else (list,), item=item)


_T, _OT, _ON, _OB = Shape(TEXT), Shape(OPT_TEXT), Shape(OPT_NUM), Shape(OPT_BOOL)
_METRIC = _obj({"value": _ON, "stderr": _ON, "n": _ON, "higher_is_better": _OB, "concern": _OT},
               ("value",), null=False)

#: What every reader (``runs``, ``show``, ``compare``, ``gate``, reports, the dashboard) may rely on.
RECORD_SHAPE = _obj({
    "id": _T, "name": _OT, "kind": _OT, "status": _T, "description": _OT, "tags": _list(_OT),
    "gates_passed": _OB, "created_at": _OT, "finished_at": _OT, "duration_s": _ON, "seed": _ON,
    "recipe": _obj({"path": _OT, "text": _OT, "resolved": _obj()}), "baseline": _OT, "components": _list(_obj()),
    "environment": _obj({"host": _OT, "git_sha": _OT, "python": _OT, "platform": _OT,
                         "accelerator": _obj({"kind": _OT, "name": _OT, "count": _ON, "memory_gb": _ON}),
                         "libraries": _obj(item=_OT)}),
    "model": _obj({"name": _OT, "loader": _OT, "device": _OT, "dtype": _OT, "parameters": _ON,
                   "fingerprint": _OT, "fingerprint_after": _OT}),
    "data": _list(_obj({"name": _T, "source": _OT, "format": _OT, "rows_in": _ON, "rows_out": _ON,
                        "filters": _list(_obj({"filter": _T, "action": _T, "flagged": Shape(NUM)},
                                              ("filter", "action", "flagged"), null=False), null=False),
                        "pair_checks": _obj()}, ("name", "rows_in"), null=False)),
    "stages": _list(_obj({"name": _T, "kind": _OT, "status": _T, "duration_s": Shape(NUM), "cached": _OB,
                          "throughput": _obj(item=_ON)}, ("name", "status"), null=False)),
    "metrics": _obj(item=_obj(item=_METRIC)),
    "tasks": _obj(item=_obj({"content_hash": _OT, "n": _ON})),
    "samples": _obj(item=_OT), "training": _list(_obj()),
    "gates": _list(_obj({"metric": _T, "rule": _T, "threshold": _ON, "observed": _ON, "bound": _ON,
                         "passed": Shape((bool,)), "message": _OT},
                        ("metric", "rule", "passed", "message"), null=False)),
    "error": _obj({"stage": _OT, "type": _OT, "message": _OT}),
    "sweep": _obj({"id": _T, "point": _obj()}, ("id",)),
}, ("status",), null=False)


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join(dict.fromkeys(_json_type(t()) if t is not type(None) else "null" for t in types))


def record_problem(record: Any, run_id: str) -> str | None:
    """Why ``record`` is not a readable run record (None when it is): the shape and field types
    every reader relies on, and an ``id`` equal to its folder's name."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {_json_type(record)}"
    problem = RECORD_SHAPE.problem(record, "")
    if problem:
        return problem
    if "id" in record and record["id"] != run_id:
        return f"its id '{record['id']}' is not its folder's name '{run_id}' (copied or renamed?)"
    return None


def read_record(path: Path, run_id: str) -> dict[str, Any]:
    """A record file as a dict; :class:`CorruptRecord` with the reason when unreadable or ill-shaped."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise CorruptRecord(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise CorruptRecord(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_record(data, path, run_id)


def parse_record(data: bytes, path: Any, run_id: str) -> dict[str, Any]:
    """The bytes of a record file (``path`` names it in errors) as a dict; see :func:`read_record`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptRecord(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
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
    """A directory of run folders. ``Store("s3://bucket/runs")`` (any fsspec URL but ``file://``)
    gives a :class:`harness.store.remote.RemoteStore`: the same layout behind fsspec."""

    #: whether the runs live behind fsspec (the local ``root`` is then a staging folder and cache)
    is_remote = False

    #: the subclass that serves URLs (``harness.store.remote.RemoteStore`` names itself here when
    #: its module is imported, which ``harness.store``'s ``__init__`` does): this module never imports it
    url_store: ClassVar[type["Store"] | None] = None

    def __init_subclass__(cls, *, serves_urls: bool = False, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if serves_urls:
            Store.url_store = cls

    def __new__(cls, root: str | os.PathLike | None = None):
        if cls is Store and is_remote_url(root if root is not None else default_store_path()):
            if Store.url_store is None:
                raise StoreError("no store class serves URLs: import harness.store, not harness.store.local")
            return super().__new__(Store.url_store)
        return super().__new__(cls)

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(_local_path(root if root is not None else default_store_path())).expanduser()

    def __getnewargs__(self) -> tuple[str]:  # pickle/copy: the same kind of store, whatever $HARNESS_STORE says
        return (self.location,)

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    @property
    def location(self) -> str:
        """Where the store is, as ``--store`` / ``HARNESS_STORE`` accept it (a path or a URL)."""
        return str(self.root)

    def run_location(self, run_id: str) -> str:
        """Where a run's folder is, as text (a path, or a URL on a remote store)."""
        return str(self.root / run_id)

    def publish(self, run_id: str) -> None:
        """Make what a run wrote so far visible to readers: nothing to do in a local folder
        (a remote store uploads the run's new files, ``run.json`` last)."""

    def local_file(self, run_id: str, rel: str) -> Path:
        """A file of a run as a local path (a remote store downloads it first; absent: a path
        that does not exist)."""
        return self.root / run_id / rel

    def logs_dir(self, record: dict[str, Any]) -> Path:
        """The run's folder with the training logs its record names in it (a remote store
        downloads just those, never the model)."""
        if self.is_remote:
            for t in record.get("training") or []:
                if isinstance(t, dict) and t.get("log"):
                    self.local_file(record["id"], str(t["log"]))
        return self.root / record["id"]

    def summaries(self, first: int | None = None) -> Iterator[dict[str, Any]]:
        """What listings show (``harness runs``, the dashboard's Runs page), newest first: every
        record here; a remote store reads its index instead (small per-run summaries), the
        first ``first`` in one batch (what ``--limit`` will show)."""
        return self.iter_records()

    def summaries_of(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The listing summaries of these runs (see :meth:`summaries`)."""
        return {run_id: self.load(run_id) for run_id in run_ids}

    def run_version(self, run_id: str) -> str:
        """Which record file a run has and when it last changed ("" when neither exists): a
        cheap key for caches of what was read from the run."""
        for name in (RECORD_FILE, PARTIAL_FILE):
            try:
                return f"{name}:{os.stat(os.path.join(self.root, run_id, name)).st_mtime_ns}"
            except OSError:
                continue
        return ""

    def run_versions(self) -> list[tuple[str, str]]:
        """Every run id with its :meth:`run_version`, newest first."""
        return [(run_id, self.run_version(run_id)) for run_id in self.run_ids()]

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
                       if p.is_dir() and not p.name.startswith(".") and p.name not in (QUARANTINE_DIR, INDEX_DIR)),
                      reverse=True)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every run's record, newest first; unfinished folders as ``status: incomplete``."""
        for run_id in self.run_ids():
            yield self.load(run_id)

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, ``latest``, or a run name (newest wins)."""
        if not ref or not ref.strip():
            raise RunNotFound(f"no run '' in store {self.location}: give a run id, an id prefix, a name "
                              "or 'latest'")
        if (ref and ref != "latest" and "/" not in ref and "\\" not in ref and not ref.startswith(".")
                and ref not in (QUARANTINE_DIR, INDEX_DIR) and self.has_folder(ref)):
            return ref  # an exact id: no listing (keeps iterating a large store linear)
        ids = self.run_ids()
        if ref == "latest":
            if not ids:
                raise RunNotFound(f"store {self.location} has no runs")
            return ids[0]
        if ref in ids:
            return ref
        prefixed = [i for i in ids if i.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise RunNotFound(f"run '{ref}' is ambiguous in {self.location}: {', '.join(prefixed[:5])}")
        named = [i for i in ids if self._name_of(i) == ref]
        if named:
            return named[0]
        raise RunNotFound(f"no run '{ref}' in store {self.location} (see `harness runs`)")

    def has_folder(self, name: str) -> bool:
        return (self.root / name).is_dir()

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
        return read_jsonl(self.local_file(self.resolve(ref), f"samples/{phase}.jsonl"))

    def owner_alive(self, run_id: str) -> bool:
        """Whether the process that created an unfinished run still runs (on this host)."""
        try:
            owner = json.loads(self._owner_text(run_id))
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

    def _owner_text(self, run_id: str) -> str:
        return (self.root / run_id / OWNER_FILE).read_text(encoding="utf-8")
