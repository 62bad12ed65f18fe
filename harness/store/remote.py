"""A run store behind fsspec: ``s3://bucket/runs``, ``gs://bucket/runs``, ``memory://runs`` …

The layout is a local store's (one folder per run, ``run.json`` written last) plus
``index/<run_id>.json``, one small summary per finished run. How it works:

- **Writing** goes to a local staging folder, the store's *mirror*
  (``$HARNESS_STORE_CACHE/<name>-<hash of the URL>``, default
  ``~/.cache/posttrain-harness/stores/…``), exactly as into a local store. The pipeline
  calls :meth:`RemoteStore.publish` after every stage and at the end: it uploads the
  files that changed since the last upload, ``record.partial.json`` after the others
  and ``run.json`` last (an object PUT is atomic), then removes the remote
  ``record.partial.json`` and writes the run's index entry. A killed run leaves its
  completed stages on the store, listed as ``incomplete``.
- **Reading**: record files are read through fsspec on every call (small); samples,
  training logs and model folders are downloaded on demand into the mirror and reused
  while their remote size is unchanged.
- **The index** is derived, never the source of truth. Each entry is written once, by
  its run's own writer, after that run's ``run.json`` (no shared object that concurrent
  writers overwrite); ``harness store reindex`` rebuilds all of them from the
  ``run.json`` files. Listings list the run folders (one request per 1,000 runs on S3)
  and read the index entries of the newest runs concurrently instead of each
  ``run.json``; a run without an entry is read in full, an entry whose run folder is gone
  is ignored.
- **Credentials** come from where fsspec's backends look (``AWS_*``, ``~/.aws``,
  ``GOOGLE_APPLICATION_CREDENTIALS`` …) or from ``$HARNESS_STORE_OPTIONS``, a JSON object
  of fsspec storage options (``{"client_kwargs": {"endpoint_url": "http://…"}}``). None
  is ever written to a record: records hold the store's URL only, without any
  ``user:password@`` part.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from ..errors import StoreError
from .index import summary_of
from .local import (
    INDEX_DIR,
    OWNER_FILE,
    PARTIAL_FILE,
    RECORD_FILE,
    TEMP_SUFFIX,
    CorruptRecord,
    Store,
    corrupt_record,
    default_store_path,
    parse_record,
    record_problem,
)

#: a run's scratch folder (checkpoints of a stage in progress): stays in the local staging folder
SCRATCH_DIR = "work"
#: index entries read per concurrent batch while listing
INDEX_BATCH = 200
#: ``index/snapshot-<YYYYMM>-<stamp>-<random>.jsonl``: a month's entries in one object
SNAPSHOT_PREFIX = "snapshot-"
#: entries of one month a full listing read one by one before it writes that month's snapshot
SNAPSHOT_AFTER = 50


def _tag(entry: dict[str, Any]) -> str:
    """What changes when an object is rewritten, from its listing entry (ETag on S3 and GCS)."""
    version = entry.get("ETag") or entry.get("etag") or entry.get("LastModified") or entry.get("mtime") \
        or entry.get("created")
    return f"{version}:{entry.get('size')}"


def _month(run_id: str) -> str:
    """The snapshot a run's index entry goes to: its id's year and month (ids start UTCSTAMP)."""
    return run_id[:6] if run_id[:6].isdigit() else "other"


def storage_options() -> dict[str, Any]:
    """fsspec storage options from ``$HARNESS_STORE_OPTIONS`` (a JSON object; {} when unset)."""
    text = os.environ.get("HARNESS_STORE_OPTIONS", "").strip()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"HARNESS_STORE_OPTIONS is not valid JSON ({exc.msg} at character {exc.pos}); "
                         "give a JSON object of fsspec storage options, e.g. "
                         "'{\"client_kwargs\": {\"endpoint_url\": \"http://127.0.0.1:9000\"}}'") from None
    if not isinstance(options, dict):
        raise StoreError("HARNESS_STORE_OPTIONS must be a JSON object of fsspec storage options, "
                         f"got {type(options).__name__}")
    return options


def redact(url: str) -> str:
    """``url`` without a ``user:password@`` part (what a record or a message may show)."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", url)


def mirror_dir(url: str) -> Path:
    """The local staging folder and download cache of the store at ``url``."""
    base = os.environ.get("HARNESS_STORE_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "posttrain-harness" / "stores"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", url.split("://", 1)[-1]).strip("-")[-40:] or "store"
    return Path(base).expanduser() / f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


class RemoteStore(Store, serves_urls=True):
    """The run store at an fsspec URL (see the module's docstring)."""

    is_remote = True

    def __init__(self, root: str | os.PathLike | None = None):
        url = str(root if root is not None else default_store_path()).rstrip("/")
        self.url = redact(url)
        try:
            import fsspec

            self.fs, base = fsspec.core.url_to_fs(url, **storage_options())
        except ImportError as exc:
            raise StoreError(f"store {self.url}: {exc} (`pip install 'posttrain-harness[remote]'` installs "
                             "fsspec and s3fs; gs:// needs gcsfs)") from None
        except (ValueError, TypeError) as exc:
            raise StoreError(f"store {self.url}: cannot open it with fsspec ({exc})") from None
        self.base = str(base).rstrip("/")
        self.root = mirror_dir(self.url)
        self._uploaded: dict[str, dict[str, tuple[int, int]]] = {}  # run id -> file -> (size, mtime)
        self._names: dict[str, str | None] = {}  # run id -> name, for lookups by name

    @property
    def location(self) -> str:
        return self.url

    def run_location(self, run_id: str) -> str:
        return f"{self.url}/{run_id}"

    # ---------------------------------------------------------------- fsspec primitives

    def _path(self, run_id: str, rel: str = "") -> str:
        return f"{self.base}/{run_id}" + (f"/{rel}" if rel else "")

    def _index_path(self, run_id: str) -> str:
        return f"{self.base}/{INDEX_DIR}/{run_id}.json"

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"store {self.url}: cannot {what} ({type(exc).__name__}: {exc}); check the URL, "
                          "the credentials in the environment and $HARNESS_STORE_OPTIONS")

    def _cat(self, path: str) -> bytes | None:
        try:
            return self.fs.cat_file(path)
        except (FileNotFoundError, IsADirectoryError):
            return None
        except Exception as exc:  # noqa: BLE001 - backends raise their own errors (botocore, aiohttp …)
            raise self._fail(f"read {path}", exc) from exc

    def _entries(self, path: str) -> list[dict[str, Any]]:
        self.fs.invalidate_cache(path)  # another machine may have written since the last listing
        try:
            return list(self.fs.ls(path, detail=True))
        except FileNotFoundError:
            return []
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"list {path}", exc) from exc

    @staticmethod
    def _basename(entry: dict[str, Any]) -> str:
        return str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]

    def _put(self, local: Path, remote: str) -> None:
        try:
            self.fs.put_file(str(local), remote)
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"upload {local} to {remote}", exc) from exc

    # ---------------------------------------------------------------- reading

    def run_ids(self) -> list[str]:
        return sorted((name for e in self._entries(self.base) if e.get("type") == "directory"
                       and not (name := self._basename(e)).startswith(".") and name not in self._reserved()),
                      reverse=True)

    @staticmethod
    def _reserved() -> tuple[str, ...]:
        from .local import QUARANTINE_DIR

        return (QUARANTINE_DIR, INDEX_DIR)

    def has_folder(self, name: str) -> bool:
        self.fs.invalidate_cache(self._path(name))
        try:
            return bool(self.fs.isdir(self._path(name)))
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"look up {self._path(name)}", exc) from exc

    def _name_of(self, run_id: str) -> str | None:
        if run_id not in self._names:  # a lookup by name: one listing (the index), not a read per run
            self._names = {r["id"]: None if r.get("status") in ("incomplete", "corrupt") else r.get("name")
                           for r in self.summaries()}
        return self._names.get(run_id)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        for run_id in self.run_ids():  # ids from the listing: no lookup per run
            yield self._load_id(run_id)

    def load(self, ref: str) -> dict[str, Any]:
        return self._load_id(self.resolve(ref))

    def _load_id(self, run_id: str) -> dict[str, Any]:
        where = f"{self.url}/{run_id}/{RECORD_FILE}"
        data = self._cat(self._path(run_id, RECORD_FILE))
        if data is not None:
            try:
                record = parse_record(data, where, run_id)
            except CorruptRecord as exc:
                return corrupt_record(run_id, str(exc))
            record.setdefault("id", run_id)
            return record
        record = {}
        partial = self._cat(self._path(run_id, PARTIAL_FILE))
        if partial is not None:
            try:
                record = parse_record(partial, f"{self.url}/{run_id}/{PARTIAL_FILE}", run_id)
            except CorruptRecord:
                record = {}
        record.update({"id": run_id, "status": "incomplete"})
        return record

    def _owner_text(self, run_id: str) -> str:
        data = self._cat(self._path(run_id, OWNER_FILE))
        if data is None:
            raise FileNotFoundError(OWNER_FILE)
        return data.decode("utf-8")

    def _local(self, run_id: str, rel: str) -> Path:
        folder = (self.root / run_id).resolve()
        rel_path = PurePosixPath(rel)
        local = (folder / rel_path).resolve()
        if rel_path.is_absolute() or ".." in rel_path.parts or not local.is_relative_to(folder):
            raise StoreError(f"{self.url}/{run_id}: file {rel!r} points outside its run folder")
        return self.root / run_id / rel_path

    def _download(self, remote: str, local: Path, size: int | None) -> None:
        if local.is_file() and (size is None or local.stat().st_size == size):
            return  # a run's files do not change once written: the copy is current
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{os.getpid()}{TEMP_SUFFIX}")
        try:
            self.fs.get_file(remote, str(tmp))
            os.replace(tmp, local)
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"download {remote}", exc) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def local_file(self, run_id: str, rel: str) -> Path:
        local = self._local(run_id, rel)
        remote = self._path(run_id, rel)
        try:
            info = self.fs.info(remote)
        except FileNotFoundError:
            return local  # not uploaded (yet): the staging copy, if this machine writes the run
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"look up {remote}", exc) from exc
        if info.get("type") == "file":
            self._download(remote, local, info.get("size"))
        return local

    def run_dir(self, ref: str) -> Path:
        """The run's folder, downloaded into the mirror (model weights included)."""
        run_id = self.resolve(ref)
        prefix = self._path(run_id)
        try:
            found = self.fs.find(prefix, detail=True)
        except FileNotFoundError:
            found = {}
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"list {prefix}", exc) from exc
        for path, info in found.items():
            rel = str(path)[len(prefix):].lstrip("/")
            if rel and info.get("type") == "file":
                self._download(str(path), self._local(run_id, rel), info.get("size"))
        return self.root / run_id

    # ---------------------------------------------------------------- writing

    def new_run_dir(self, name: str) -> tuple[str, Path]:
        run_id, path = super().new_run_dir(name)
        self.publish(run_id)  # the owner file: the run shows up (incomplete) at once
        return run_id, path

    def publish(self, run_id: str) -> None:
        """Upload what changed in the run's staging folder: the other files, then
        ``record.partial.json``, then ``run.json``; once ``run.json`` is up, remove the
        remote partial record and write the run's index entry."""
        folder = self.root / run_id
        done = self._uploaded.setdefault(run_id, {})
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                       if p.is_file() and not p.is_symlink() and p.relative_to(folder).parts[0] != SCRATCH_DIR
                       and not (p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)))
        last = [f for f in (PARTIAL_FILE, RECORD_FILE) if f in files]
        for rel in [f for f in files if f not in last] + last:
            st = (folder / rel).stat()
            signature = (st.st_size, st.st_mtime_ns)
            if done.get(rel) != signature:
                self._put(folder / rel, self._path(run_id, rel))
                done[rel] = signature
        if RECORD_FILE in last:
            try:
                self.fs.rm_file(self._path(run_id, PARTIAL_FILE))
            except FileNotFoundError:
                pass
            except Exception as exc:  # noqa: BLE001
                raise self._fail(f"remove {self._path(run_id, PARTIAL_FILE)}", exc) from exc
            self._write_index_entry(run_id, json.loads((folder / RECORD_FILE).read_text(encoding="utf-8")))

    def _write_index_entry(self, run_id: str, record: dict[str, Any]) -> None:
        data = json.dumps(summary_of(record), ensure_ascii=False, default=str).encode()
        try:
            self.fs.pipe_file(self._index_path(run_id), data)
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"write {self._index_path(run_id)}", exc) from exc

    # ---------------------------------------------------------------- the index

    def index_ids(self) -> set[str]:
        """Runs with an index entry (stale ones included)."""
        return {name[:-5] for e in self._entries(f"{self.base}/{INDEX_DIR}")
                if e.get("type") != "directory" and (name := self._basename(e)).endswith(".json")}

    def _read_index(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Index entries of ``run_ids`` that exist and are readable, fetched concurrently."""
        if not run_ids:
            return {}
        paths = {self._index_path(i): i for i in run_ids}
        try:
            raw = self.fs.cat(list(paths), on_error="omit")
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"read the index {self.base}/{INDEX_DIR}", exc) from exc
        by_name = {p.rsplit("/", 1)[-1]: i for p, i in paths.items()}
        out = {}
        for path, data in raw.items():
            run_id = by_name.get(str(path).rsplit("/", 1)[-1])
            if run_id is None or not isinstance(data, bytes):
                continue
            try:
                out[run_id] = parse_record(data, path, run_id)
            except CorruptRecord:
                continue  # a damaged entry is not trusted: the run is read in full
        return out

    def _index_listing(self) -> tuple[dict[str, str], dict[str, str]]:
        """One listing of ``index/``: run id -> its entry's tag, month -> its newest snapshot."""
        tags: dict[str, str] = {}
        snapshots: dict[str, str] = {}
        for e in self._entries(f"{self.base}/{INDEX_DIR}"):
            name = self._basename(e)
            if e.get("type") == "directory":
                continue
            if name.startswith(SNAPSHOT_PREFIX) and name.endswith(".jsonl"):
                month = name[len(SNAPSHOT_PREFIX):].split("-", 1)[0]
                if name > snapshots.get(month, ""):
                    snapshots[month] = name
            elif name.endswith(".json"):
                tags[name[:-5]] = _tag(e)
        return tags, snapshots

    def _read_snapshot(self, name: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """A snapshot's entries (run id -> (tag of the entry it copied, entry)); {} if unreadable."""
        data = self._cat(f"{self.base}/{INDEX_DIR}/{name}")
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            try:
                row = json.loads(line)
                entry = row["entry"]
                if record_problem(entry, entry["id"]) is None:
                    out[entry["id"]] = (str(row["tag"]), entry)
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line: that run is read from its own entry
        return out

    def _summaries_of(self, run_ids: list[str], listing: tuple[dict[str, str], dict[str, str]],
                      snapshots: dict[str, dict[str, tuple[str, dict[str, Any]]]],
                      fresh: dict[str, dict[str, tuple[str, dict[str, Any]]]]) -> dict[str, dict[str, Any]]:
        """Summaries of ``run_ids``: from a month's snapshot where it holds the entry's current tag,
        else the entry itself (read concurrently, noted in ``fresh``), else the record."""
        tags, names = listing
        got: dict[str, dict[str, Any]] = {}
        need = []
        for run_id in run_ids:
            if run_id not in tags:
                continue
            month = _month(run_id)
            if month in names and month not in snapshots:
                snapshots[month] = self._read_snapshot(names[month])
            held = snapshots.get(month, {}).get(run_id)
            if held and held[0] == tags[run_id]:
                got[run_id] = held[1]
            else:
                need.append(run_id)
        for run_id, entry in self._read_index(need).items():
            fresh.setdefault(_month(run_id), {})[run_id] = (tags[run_id], entry)
            got[run_id] = entry
        return {i: got.get(i) or self._load_id(i) for i in run_ids}

    def _write_snapshots(self, listing: tuple[dict[str, str], dict[str, str]],
                         snapshots: dict[str, dict[str, tuple[str, dict[str, Any]]]],
                         fresh: dict[str, dict[str, tuple[str, dict[str, Any]]]], at_least: int) -> None:
        """Where a listing read ``at_least`` entries of a month one by one, write that month's
        snapshot (what it read, tagged as listed) and remove the one it replaces. Best effort:
        a reader without write access just lists the slower way."""
        tags, names = listing
        for month, entries in fresh.items():
            if len(entries) < at_least:
                continue
            rows = {i: v for i, v in snapshots.get(month, {}).items() if tags.get(i) == v[0]} | entries
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            name = f"{SNAPSHOT_PREFIX}{month}-{stamp}-{secrets.token_hex(4)}.jsonl"
            data = "".join(json.dumps({"tag": t, "entry": e}, ensure_ascii=False, default=str) + "\n"
                           for _, (t, e) in sorted(rows.items()))
            try:
                self.fs.pipe_file(f"{self.base}/{INDEX_DIR}/{name}", data.encode())
                if month in names:
                    self.fs.rm_file(f"{self.base}/{INDEX_DIR}/{names[month]}")
            except Exception:  # noqa: BLE001 - read-only credentials, a concurrent compaction, …
                continue

    def summaries(self, first: int | None = None, snapshot_after: int | None = None) -> Iterator[dict[str, Any]]:
        ids, listing = self.run_ids(), self._index_listing()
        snapshots: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        fresh: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        start = 0
        while start < len(ids):
            size = (first or INDEX_BATCH) if start == 0 else INDEX_BATCH
            chunk, start = ids[start:start + size], start + size
            yield from self._summaries_of(chunk, listing, snapshots, fresh).values()
        at_least = SNAPSHOT_AFTER if snapshot_after is None else snapshot_after
        self._write_snapshots(listing, snapshots, fresh, at_least)  # only after a full listing

    def summaries_of(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        listing = self._index_listing()
        snapshots: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        fresh: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        out = self._summaries_of(run_ids, listing, snapshots, fresh)
        self._write_snapshots(listing, snapshots, fresh, SNAPSHOT_AFTER)
        return out

    def run_version(self, run_id: str) -> str:
        for name in (RECORD_FILE, PARTIAL_FILE):
            try:
                info = self.fs.info(self._path(run_id, name))
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001
                raise self._fail(f"look up {self._path(run_id, name)}", exc) from exc
            return f"{name}:{info.get('ETag') or info.get('LastModified') or info.get('mtime') or info.get('size')}"
        return ""

    def run_versions(self) -> list[tuple[str, str]]:
        """Two listings, no per-run request: an indexed run's version is its index entry's
        tag; a run without one (in progress, damaged) is re-read every few seconds."""
        tags = self._index_listing()[0]
        live = f"live:{int(time.time() // 5)}"
        return [(i, f"index:{tags[i]}" if i in tags else live) for i in self.run_ids()]

    def reindex(self) -> tuple[int, int]:
        """Rewrite every run's index entry from its ``run.json``; remove entries of runs that have
        none; rebuild the snapshots. Returns (entries written, entries removed)."""
        ids, written, keep = self.run_ids(), 0, set()
        for run_id in ids:
            data = self._cat(self._path(run_id, RECORD_FILE))
            if data is None:
                continue
            try:
                record = parse_record(data, f"{self.url}/{run_id}/{RECORD_FILE}", run_id)
            except CorruptRecord:
                continue
            record.setdefault("id", run_id)
            self._write_index_entry(run_id, record)
            keep.add(run_id)
            written += 1
        stale = sorted(self.index_ids() - keep)
        for run_id in stale:
            try:
                self.fs.rm_file(self._index_path(run_id))
            except FileNotFoundError:
                pass
        snapshots = [n for e in self._entries(f"{self.base}/{INDEX_DIR}")
                     if (n := self._basename(e)).startswith(SNAPSHOT_PREFIX)]
        for name in snapshots:  # rebuilt too, from the entries just written
            try:
                self.fs.rm_file(f"{self.base}/{INDEX_DIR}/{name}")
            except FileNotFoundError:
                pass
        for _ in self.summaries(snapshot_after=1):
            pass
        return written, len(stale)
