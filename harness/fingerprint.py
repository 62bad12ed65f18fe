"""Content hashes: model weights, saved model folders, tokenizers, data sets, items. Short, stable, hex.

Weights are hashed with xxHash (XXH3-128) in parallel threads over fixed-size
chunks (a tree hash: chunk digests are combined in order), so the result does
not depend on the thread count and a 7B model hashes in seconds, not 30 s.
"""

from __future__ import annotations

import functools
import hashlib
import json
import mmap
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

CHUNK = 64 << 20  # bytes per hashed chunk: the unit of parallel work

#: files of a saved model folder that decide its weights (tokenizer files are hashed separately)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def content_hash(obj: Any) -> str:
    """Stable hash of JSON-able data (keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def items_hash(items: Iterable[Any]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for item in items:
        h.update(json.dumps(item, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def _threads() -> int:
    return max(1, min(16, os.cpu_count() or 1))


def _chunk_digest(buf) -> bytes:
    import xxhash  # the GIL is released while hashing a large buffer

    return xxhash.xxh3_128_digest(buf)


def _tree_hash(labels: list[bytes], buffers: list[memoryview]) -> str:
    """Hash ``(label, buffer)`` pairs: every buffer split in ``CHUNK`` pieces hashed in parallel."""
    jobs: list[memoryview] = []
    owners: list[int] = []
    for i, buf in enumerate(buffers):
        for start in range(0, max(len(buf), 1), CHUNK):
            jobs.append(buf[start:start + CHUNK])
            owners.append(i)
    if len(jobs) > 1:
        with ThreadPoolExecutor(_threads()) as pool:
            digests = list(pool.map(_chunk_digest, jobs))
    else:
        digests = [_chunk_digest(j) for j in jobs]
    per_buffer: list[list[bytes]] = [[] for _ in labels]
    for digest, owner in zip(digests, owners, strict=True):
        per_buffer[owner].append(digest)
    h = hashlib.blake2b(digest_size=8)
    for label, parts in zip(labels, per_buffer, strict=True):
        h.update(label)
        h.update(b"".join(parts))
    return h.hexdigest()


def weights_fingerprint(model: Any) -> str:
    """Hash of every parameter and buffer (name, dtype, shape, bytes) of an in-memory model.

    Keyed by weights, not the model's name: lm-eval's request cache is keyed by
    name and returns stale results after training (lm-eval #2715).
    """
    import torch

    labels, buffers = [], []
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            t = tensor.detach()
            labels.append(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
            t = t.cpu().contiguous()
            if t.numel() == 0:
                buffers.append(memoryview(b""))
                continue
            # raw bytes without a copy (bf16 has no numpy dtype: view it as bytes first)
            buffers.append(memoryview(t.view(torch.uint8).reshape(-1).numpy()) if t.dtype != torch.uint8
                           else memoryview(t.reshape(-1).numpy()))
    return _tree_hash(labels, buffers)


def weight_files(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def files_fingerprint(folder: str | os.PathLike) -> str:
    """Hash of the weight files of a saved model folder (names and bytes, memory-mapped).

    The "after" fingerprint of a run is this hash of the files it saved, so a model
    reloaded from them (``loader = "run"``) has the same fingerprint.
    """
    folder = Path(folder)
    files = weight_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder} holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    return _files_hash(folder, files)


def _files_hash(folder: Path, files: list[Path]) -> str:
    labels, buffers, maps = [], [], []
    try:
        for path in files:
            size = path.stat().st_size
            labels.append(f"{path.relative_to(folder).as_posix()}|{size}".encode())
            if size == 0:
                buffers.append(memoryview(b""))
                continue
            with path.open("rb") as fh:
                m = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            maps.append(m)
            buffers.append(memoryview(m))
        return _tree_hash(labels, buffers)
    finally:
        for buf in buffers:
            buf.release()
        for m in maps:
            m.close()


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """Hash of every file of a model folder (weights, config, tokenizer, chat template): names,
    sizes and bytes, memory-mapped and hashed in parallel at disk speed. Hidden files and folders
    (``.cache``, ``.git``) are left out. For a loader's :meth:`~harness.ModelLoader.fingerprint`."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return _files_hash(folder, files)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of what a tokenizer turns text into: vocabulary/merges, special and added tokens,
    chat template, padding and truncation sides. Not its name or folder."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        table: Any = json.loads(backend.to_str())
        # padding/truncation are per-call state a tokenizer call leaves behind, not its files
        table.pop("padding", None)
        table.pop("truncation", None)
    else:
        table = sorted(tokenizer.get_vocab().items()) if hasattr(tokenizer, "get_vocab") else None
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return content_hash({
        "class": type(tokenizer).__name__,
        "table": table,
        "special": {k: str(v) for k, v in (getattr(tokenizer, "special_tokens_map", {}) or {}).items()},
        "added": {str(k): str(v) for k, v in added.items()},
        "chat_template": getattr(tokenizer, "chat_template", None),
        "padding_side": getattr(tokenizer, "padding_side", None),
        "truncation_side": getattr(tokenizer, "truncation_side", None),
        "model_max_length": getattr(tokenizer, "model_max_length", None),
    })


@functools.lru_cache(maxsize=None)
def code_fingerprint(cls: type) -> str:
    """Hash of the source files of the package that defines ``cls`` (an evaluator plugin's code):
    an edited evaluator misses the cache even when its version number did not change."""
    import inspect

    try:
        source = Path(inspect.getfile(cls)).resolve()
    except (TypeError, OSError):
        return "unknown"
    root = source.parent if (source.parent / "__init__.py").exists() else None
    files = sorted(root.rglob("*.py")) if root else [source]
    h = hashlib.blake2b(digest_size=8)
    for path in files:
        try:
            h.update(path.relative_to(root or source.parent).as_posix().encode())
            h.update(path.read_bytes())
        except OSError:
            continue
    return h.hexdigest()
