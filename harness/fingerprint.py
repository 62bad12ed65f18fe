"""Content hashes: model weights, data sets, items. Short, stable, hex."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable


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


def weights_fingerprint(model: Any) -> str:
    """Hash of every parameter and buffer (name, dtype, shape, bytes).

    Keyed by weights, not the model's name: lm-eval's request cache is keyed by
    name and returns stale results after training (lm-eval #2715).
    """
    import torch

    h = hashlib.blake2b(digest_size=8)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            t = tensor.detach()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
            if t.dtype == torch.bfloat16:
                t = t.view(torch.int16)
            h.update(t.cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
