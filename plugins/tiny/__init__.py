"""The ``tiny`` model loader: a deterministic tiny Llama built from a config.

No download: the weights come from ``torch.manual_seed(seed)`` and the
tokenizer is byte-level and built locally, so any text tokenizes. Used by
every test and by the quickstart. Heavy imports live in :mod:`.build`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

import harness


class TinyLoader(harness.ModelLoader):
    """Tiny Llama (default 2 layers x 64 hidden, 4 heads) with a byte-level ChatML tokenizer."""

    name = "tiny"
    description = "Deterministic tiny Llama from a seed, byte-level ChatML tokenizer (no download)"

    class Params(harness.Params):
        seed: int = 0
        layers: int = Field(2, ge=1, le=32)
        hidden_size: int = Field(64, ge=8)
        heads: int = Field(4, ge=1)
        intermediate_size: Optional[int] = Field(None, ge=1, description="default: 2 x hidden_size")
        max_position_embeddings: int = Field(1024, ge=1024)
        path: Optional[str] = Field(None, description="a directory written by ModelHandle.save()")
        device: str = "auto"
        dtype: str = "auto"

    @classmethod
    def validate_params(cls, params):
        p = super().validate_params(params)
        if p.hidden_size % p.heads:
            raise harness.ParamError([("heads", f"hidden_size {p.hidden_size} is not divisible "
                                                f"by heads {p.heads}")])
        if p.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise harness.ParamError([("dtype", f"unknown dtype {p.dtype!r}; use auto, float32, "
                                                "bfloat16 or float16")])
        return p

    def fingerprint(self) -> str | None:
        """What ``load()`` returns, without building it: the weights come from the seed and the
        shape, the tokenizer from this plugin's code; a saved folder is its files."""
        if self.params.path:
            folder = Path(self.params.path).expanduser()
            files = harness.folder_fingerprint(folder) if (folder / "config.json").is_file() else None
            return files and harness.content_hash({"loader": self.name, "files": files,
                                                   "params": self.params_dict(), "code": self.code_fingerprint()})
        return harness.content_hash({"loader": self.name, "params": self.params_dict(),
                                     "code": self.code_fingerprint()})

    def load(self) -> harness.ModelHandle:
        from .build import load_tiny

        return load_tiny(self.params)


@harness.hookimpl
def register_models(register):
    register(TinyLoader)
