"""Where converted GGUF models live, and the sha256 of a GGUF file (remembered by
path, size and mtime so a 100 MB file is not re-hashed on every load)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def cache_root(override: str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    if os.environ.get("HARNESS_MODEL_CACHE_DIR"):
        return Path(os.environ["HARNESS_MODEL_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "posttrain-harness" / "models"


def file_sha256(path: Path, root: Path) -> str:
    """sha256 of ``path``; looked up first in ``root/gguf-sha256.json``."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    index_file = root / "gguf-sha256.json"
    index = _read_json(index_file)
    if key in index:
        return index[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    index = _read_json(index_file)  # re-read: another process may have added entries
    index[key] = digest
    write_json_atomic(index_file, index)
    return digest


def write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
