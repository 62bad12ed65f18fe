"""Convert a GGUF file to a cached safetensors model once, then load the copy."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import harness
from harness import pick_device, torch_dtype

from .cache import cache_root, file_sha256

MARKER = "gguf-source.json"  # written inside the copy before it is renamed into place


def convert(gguf: Path, out_dir: Path) -> None:
    """De-quantise with transformers, rebuild a plain model from the config, save it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    # The GGUF-loaded model carries a quantization_config and refuses save_pretrained.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = gguf.stem
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if k not in _tied_keys(model)]
    if missing or unexpected:
        raise RuntimeError(f"{gguf}: state dict does not match its config (missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]})")
    model.generation_config = quantized.generation_config
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def _tied_keys(model) -> set[str]:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return set(tied) if not isinstance(tied, dict) else set(tied.keys())


def cached_copy(gguf: Path, root: Path) -> tuple[Path, str, bool, float]:
    """``(folder, sha256, cache_hit, convert_seconds)``; converts atomically on a miss."""
    digest = file_sha256(gguf, root)
    final = root / digest
    if (final / MARKER).is_file():
        return final, digest, True, 0.0
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{digest[:12]}-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    start = time.perf_counter()
    try:
        convert(gguf, tmp)
        seconds = round(time.perf_counter() - start, 2)
        (tmp / MARKER).write_text(json.dumps({"gguf": str(gguf.resolve()), "sha256": digest,
                                              "convert_s": seconds}, indent=1))
        try:
            tmp.rename(final)
        except OSError:  # another process finished first (or a broken copy without a marker)
            if not (final / MARKER).is_file():
                shutil.rmtree(final, ignore_errors=True)
                tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final, digest, False, seconds


def load_gguf(path: str, params, *, loader: str, name: str | None = None) -> harness.ModelHandle:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(path).expanduser()
    if not gguf.is_file():
        raise harness.ParamError([("path", f"GGUF file '{path}' does not exist")])
    if gguf.suffix.lower() != ".gguf":
        raise harness.ParamError([("path", f"'{path}' is not a .gguf file (for a transformers "
                                           "directory use loader = 'hf')")])
    folder, digest, hit, convert_s = cached_copy(gguf, cache_root(params.cache_dir))
    device, dtype = pick_device(None if params.device == "auto" else params.device, params.dtype)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype(dtype))
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    meta = {"source_file": str(gguf.resolve()), "sha256": digest, "cache": str(folder),
            "cache_hit": hit}
    if not hit:
        meta["convert_s"] = convert_s
    return harness.ModelHandle(model, tokenizer, name=name or gguf.stem, loader=loader, device=device,
                               dtype=dtype, meta=meta)
