"""Pack a run folder into one file and unpack it into another store.

Runs made on many machines merge by copying folders; a packed run is that
folder as one ``.tar.gz`` (the scratch ``work/`` folder left out). Unpacking
never overwrites a run already in the store and refuses archives that are not
exactly one finished run.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from .errors import StoreError
from .store import RECORD_FILE, Store


class PackError(StoreError, ValueError):
    pass


def pack_run(store: Store, ref: str, out: str | Path | None = None) -> Path:
    run_id = store.resolve(ref)
    folder = store.root / run_id
    if not (folder / RECORD_FILE).exists():
        raise PackError(f"run '{run_id}' has no {RECORD_FILE}: only finished runs can be packed")
    out = Path(out) if out else Path(f"{run_id}.tar.gz")
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname=run_id, filter=lambda m: None if "/work" in m.name else m)
    return out


def unpack_run(store: Store, archive: str | Path) -> str:
    """Extract one packed run into ``store``; return its id."""
    archive = Path(archive)
    try:
        tar = tarfile.open(archive, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise PackError(f"{archive}: not a packed run ({exc})") from None
    with tar:
        members = tar.getmembers()
        tops = {m.name.split("/", 1)[0] for m in members}
        if len(tops) != 1:
            raise PackError(f"{archive}: expected one run folder, found {sorted(tops)}")
        run_id = tops.pop()
        record = tar.extractfile(f"{run_id}/{RECORD_FILE}") if f"{run_id}/{RECORD_FILE}" in tar.getnames() else None
        if record is None:
            raise PackError(f"{archive}: no {run_id}/{RECORD_FILE} inside")
        try:
            json.loads(record.read())
        except json.JSONDecodeError as exc:
            raise PackError(f"{archive}: {RECORD_FILE} is not valid JSON ({exc})") from None
        target = store.root / run_id
        if target.exists():
            raise PackError(f"run '{run_id}' is already in {store.root}; nothing was changed")
        store.root.mkdir(parents=True, exist_ok=True)
        tar.extractall(store.root, filter="data")
    return run_id
