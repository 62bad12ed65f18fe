"""Pack a run folder into one file and unpack it into another store, safely.

Runs made on many machines merge by copying folders; a packed run is that
folder as one ``.tar.gz`` (the scratch ``work/`` folder left out).

Unpacking trusts nothing in the archive and does not rely on ``tarfile``'s
extraction filters (Pythons before the mid-2025 security releases let crafted
archives through them, CVE-2025-4517). Every member is checked before anything
is written: regular files and folders only (no symlinks, hard links, devices,
FIFOs, sparse files), relative names without ``..``, no setuid/setgid/sticky
bits, all under one top-level folder named like a run id, sizes bounded. The
files are then written by this module (``O_EXCL``, never through a link) into
a temporary folder inside the store, and that folder is renamed into place only
when the whole archive was written and its ``run.json`` is a readable record
whose ``id`` is the folder's name. An existing run is never replaced: the same
content again is a no-op, different content is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import StoreError
from .local import (
    OWNER_FILE,
    QUARANTINE_DIR,
    RECORD_FILE,
    TEMP_SUFFIX,
    UNPACK_PREFIX,
    CorruptRecord,
    Store,
    file_mode,
    record_problem,
)

#: Scratch folder of a run, never packed (checkpoints, lm-eval temp files).
SCRATCH_DIR = "work"

MAX_MEMBERS = int(os.environ.get("HARNESS_UNPACK_MAX_MEMBERS", 100_000))
MAX_TOTAL_BYTES = int(os.environ.get("HARNESS_UNPACK_MAX_BYTES", 256 * 2**30))
MAX_RECORD_BYTES = 256 * 2**20

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_SPECIAL_BITS = 0o7000  # setuid, setgid, sticky


class PackError(StoreError, ValueError):
    """An archive cannot be packed or unpacked; the message says what was wrong and where."""


@dataclass(frozen=True)
class Unpacked:
    run_id: str
    added: bool  # False: the store already held this run with identical content


# ---------------------------------------------------------------- packing


def _packable(folder: Path) -> list[Path]:
    """Every file and folder of a run that belongs in its archive, sorted; refuses links."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] == SCRATCH_DIR or rel.name == OWNER_FILE or (
                rel.name.startswith(".") and rel.name.endswith(TEMP_SUFFIX)):
            continue
        if path.is_symlink():
            raise PackError(f"{path}: is a symbolic link; a packed run holds only regular files "
                            "(replace the link by the file it points to)")
        if not (path.is_file() or path.is_dir()):
            raise PackError(f"{path}: is not a regular file or folder")
        out.append(path)
    return out


def pack_run(store: Store, ref: str, out: str | Path | None = None) -> Path:
    """Write one finished run as ``RUN_ID.tar.gz`` (every file but its scratch folder)."""
    run_id = store.resolve(ref)
    folder = store.run_dir(run_id)  # a remote store downloads the run first
    if not (folder / RECORD_FILE).is_file():
        raise PackError(f"run '{run_id}' has no {RECORD_FILE}: only finished runs can be packed")
    out = Path(out) if out else Path(f"{run_id}.tar.gz")

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode &= 0o777
        return info

    tmp = out.with_name(f".{out.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(folder, arcname=run_id, recursive=False, filter=clean)
            for path in _packable(folder):
                tar.add(path, arcname=f"{run_id}/{path.relative_to(folder).as_posix()}", recursive=False,
                        filter=clean)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------- checking


def _member_path(archive: Path, m: tarfile.TarInfo) -> PurePosixPath:
    name = m.name
    where = f"{archive}: member {name!r}"
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise PackError(f"{where}: empty name or control characters in it")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise PackError(f"{where}: absolute path; a packed run holds relative paths only")
    if "\\" in name:
        raise PackError(f"{where}: backslash in the path; use '/' separators")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PackError(f"{where}: '..' in the path would write outside the run folder")
    if not parts:
        raise PackError(f"{where}: names no file")
    if not (m.isreg() or m.isdir()) or m.issparse():
        kind = ("a symbolic link" if m.issym() else "a hard link" if m.islnk() else
                "a device" if m.isdev() else "a FIFO" if m.isfifo() else "a sparse file" if m.issparse()
                else f"of type {m.type!r}")
        raise PackError(f"{where}: is {kind}; a packed run holds only regular files and folders")
    if m.mode & _SPECIAL_BITS:
        raise PackError(f"{where}: has setuid/setgid/sticky bits ({oct(m.mode)}); refused")
    if m.size < 0:
        raise PackError(f"{where}: negative size")
    return PurePosixPath(*parts)


def check_members(archive: Path, members: list[tarfile.TarInfo]) -> tuple[str, list[tuple[PurePosixPath,
                                                                                           tarfile.TarInfo]]]:
    """Validate every member; return the run id and ``(path, member)`` pairs. Raises :class:`PackError`."""
    if not members:
        raise PackError(f"{archive}: empty archive; expected one run folder")
    if len(members) > MAX_MEMBERS:
        raise PackError(f"{archive}: {len(members)} members, more than the {MAX_MEMBERS} allowed "
                        "(HARNESS_UNPACK_MAX_MEMBERS)")
    checked = [(_member_path(archive, m), m) for m in members]
    tops = sorted({p.parts[0] for p, _ in checked})
    if len(tops) != 1:
        raise PackError(f"{archive}: expected one run folder at the top, found {', '.join(tops[:5])}")
    run_id = tops[0]
    if not _RUN_ID.match(run_id) or run_id == QUARANTINE_DIR:
        raise PackError(f"{archive}: top folder {run_id!r} is not a run id (letters, digits, '_', '.', '-')")
    total, seen, dirs = 0, set(), set()
    for path, m in checked:
        if path in seen:
            raise PackError(f"{archive}: member {m.name!r} appears twice; refused (a later copy would "
                            "replace the first)")
        seen.add(path)
        if m.isdir():
            dirs.add(path)
        total += m.size
    if total > MAX_TOTAL_BYTES:
        raise PackError(f"{archive}: {total} bytes of files, more than the {MAX_TOTAL_BYTES} allowed "
                        "(HARNESS_UNPACK_MAX_BYTES)")
    for path, m in checked:
        if m.isreg() and any(parent in seen and parent not in dirs for parent in path.parents):
            raise PackError(f"{archive}: member {m.name!r} is inside a path that is a file")
        if m.isreg() and path in dirs:
            raise PackError(f"{archive}: {m.name!r} is both a file and a folder")
    # the scratch folder (older archives hold it, empty) is checked like the rest but not extracted
    return run_id, [(p, m) for p, m in checked if not (len(p.parts) > 1 and p.parts[1] == SCRATCH_DIR)]


def _read_member(tar: tarfile.TarFile, m: tarfile.TarInfo, limit: int | None = None) -> bytes:
    fh = tar.extractfile(m)
    data = fh.read(limit + 1 if limit else -1) if fh else b""
    if limit and len(data) > limit:
        raise PackError(f"member {m.name!r} is larger than {limit} bytes")
    return data


def _check_record(archive: Path, tar: tarfile.TarFile, run_id: str,
                  checked: list[tuple[PurePosixPath, tarfile.TarInfo]]) -> None:
    import json

    want = PurePosixPath(run_id, RECORD_FILE)
    member = next((m for p, m in checked if p == want), None)
    if member is None or not member.isreg():
        raise PackError(f"{archive}: no {run_id}/{RECORD_FILE} inside; only finished runs can be unpacked")
    try:
        record = json.loads(_read_member(tar, member, MAX_RECORD_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PackError(f"{archive}: {run_id}/{RECORD_FILE} is not a valid JSON record ({exc})") from None
    problem = record_problem(record, run_id)
    if problem:
        raise PackError(f"{archive}: {run_id}/{RECORD_FILE}: {problem}")
    if "id" not in record:
        raise PackError(f"{archive}: {run_id}/{RECORD_FILE} has no 'id'")


# ---------------------------------------------------------------- unpacking


def _digest_stream(fh, limit: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    read = 0
    for block in iter(lambda: fh.read(1 << 20), b""):
        read += len(block)
        if read > limit:
            break
        h.update(block)
    return h.hexdigest()


def _same_as_stored(tar: tarfile.TarFile, checked, folder: Path) -> bool:
    """Whether the stored run folder holds exactly the archive's files, byte for byte."""
    try:
        stored = {p.relative_to(folder).as_posix() for p in _packable(folder) if p.is_file()}
    except PackError:
        return False
    files = {PurePosixPath(*p.parts[1:]).as_posix(): m for p, m in checked if m.isreg()}
    if stored != set(files):
        return False
    for rel, m in files.items():
        path = folder / rel
        if path.stat().st_size != m.size:
            return False
        with path.open("rb") as fh:
            ours = _digest_stream(fh, m.size)
        if ours != _digest_stream(tar.extractfile(m), m.size):
            return False
    return True


def _write_members(tar: tarfile.TarFile, checked, dest: Path) -> None:
    """Create folders and regular files under ``dest`` ourselves: never follow or make a link."""
    mode = file_mode()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    base = dest.resolve()
    for path, m in checked:
        target = dest.joinpath(*path.parts)
        if base not in target.parent.resolve().parents and target.parent.resolve() != base:
            raise PackError(f"member {m.name!r} would be written outside the run folder")
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(m)
        fd = os.open(target, flags, mode)
        with os.fdopen(fd, "wb") as out:
            remaining = m.size
            while remaining > 0 and src is not None:
                block = src.read(min(1 << 20, remaining))
                if not block:
                    raise PackError(f"member {m.name!r} is truncated")
                out.write(block)
                remaining -= len(block)


def unpack(store: Store, archive: str | Path) -> Unpacked:
    """Check, then extract one packed run into ``store``. Raises :class:`PackError`; on any
    error nothing in the store has changed (the temporary folder is removed)."""
    archive = Path(archive)
    if not archive.is_file():
        raise PackError(f"{archive}: not a file")
    try:
        tar = tarfile.open(archive, "r:*")
    except Exception as exc:  # noqa: BLE001 - tarfile/gzip/bz2/lzma raise many kinds; all mean "not an archive"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PackError(f"{archive}: not a packed run: not a tar archive (plain, .gz, .bz2 or .xz) "
                        f"({first.rstrip(':')}); make one with `harness pack RUN`") from None
    with tar:
        try:
            members = []
            for member in tar:  # counted while reading: a tar bomb of headers is stopped early
                members.append(member)
                if len(members) > MAX_MEMBERS:
                    raise PackError(f"{archive}: more than the {MAX_MEMBERS} members allowed "
                                    "(HARNESS_UNPACK_MAX_MEMBERS)")
        except PackError:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated or damaged compressed stream
            raise PackError(f"{archive}: damaged archive ({type(exc).__name__}: {exc})") from None
        run_id, checked = check_members(archive, members)
        try:
            _check_record(archive, tar, run_id, checked)
            target = store.root / run_id
            if store.is_remote and store.has_folder(run_id):
                store.run_dir(run_id)  # the stored run, downloaded to compare it with the archive
            elif store.is_remote and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)  # a local copy of a run the remote store no longer holds
            if target.exists() or target.is_symlink():
                if target.is_dir() and not target.is_symlink() and _same_as_stored(tar, checked, target):
                    return Unpacked(run_id, added=False)
                raise PackError(f"{archive}: run '{run_id}' is already in {store.location} with different "
                                "content; nothing was changed (unpack into another store to compare them)")
            store.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=UNPACK_PREFIX, dir=store.root))
            try:
                _write_members(tar, checked, tmp)
                try:
                    (tmp / run_id / RECORD_FILE).stat()
                except OSError:
                    raise PackError(f"{archive}: {run_id}/{RECORD_FILE} was not written") from None
                if target.exists() or target.is_symlink():
                    raise PackError(f"{archive}: run '{run_id}' appeared in {store.root} while unpacking; "
                                    "nothing was changed")
                os.rename(tmp / run_id, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            store.publish(run_id)  # a remote store: upload it, run.json last
        except PackError:
            raise
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise PackError(f"{archive}: cannot be unpacked ({type(exc).__name__}: {exc}); "
                            "nothing was changed") from None
        except CorruptRecord as exc:  # pragma: no cover - defensive
            raise PackError(f"{archive}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a damaged compressed stream (zlib.error, ...)
            raise PackError(f"{archive}: damaged archive ({type(exc).__name__}: {exc}); "
                            "nothing was changed") from None
    return Unpacked(run_id, added=True)


def unpack_run(store: Store, archive: str | Path) -> str:
    """Extract one packed run into ``store``; return its id (see :func:`unpack`)."""
    return unpack(store, archive).run_id
