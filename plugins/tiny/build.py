"""Build (or reload) the tiny model. Same seed and shape -> same weights in every process."""

from __future__ import annotations

from pathlib import Path

import harness
from harness import pick_device, torch_dtype

from .tokenizer import build_tokenizer


def build_model(params, tokenizer):
    """A ``LlamaForCausalLM`` initialised from ``params.seed`` (global RNG left untouched)."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=params.hidden_size,
        intermediate_size=params.intermediate_size or 2 * params.hidden_size,
        num_hidden_layers=params.layers,
        num_attention_heads=params.heads,
        num_key_value_heads=params.heads,
        max_position_embeddings=params.max_position_embeddings,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(params.seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, do_sample=False)
    return model


def _load_saved(path: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise harness.ParamError([("path", f"{folder} is not a saved model directory (no config.json); "
                                           "give a folder written by ModelHandle.save()")])
    return AutoModelForCausalLM.from_pretrained(folder, dtype="float32"), AutoTokenizer.from_pretrained(folder)


def load_tiny(params) -> harness.ModelHandle:
    device, dtype = pick_device(None if params.device == "auto" else params.device, params.dtype)
    if params.path:
        model, tokenizer = _load_saved(params.path)
        name = Path(params.path).expanduser().resolve().name
        meta = {"source": str(Path(params.path).expanduser().resolve())}
    else:
        tokenizer = build_tokenizer()
        model = build_model(params, tokenizer)
        name = f"tiny-llama-{params.layers}x{params.hidden_size}-seed{params.seed}"
        meta = {"source": "config", "seed": params.seed, "layers": params.layers,
                "hidden_size": params.hidden_size, "heads": params.heads}
    model.to(device=device, dtype=torch_dtype(dtype))
    model.eval()
    return harness.ModelHandle(model, tokenizer, name=name, loader="tiny", device=device,
                               dtype=dtype, meta=meta)
