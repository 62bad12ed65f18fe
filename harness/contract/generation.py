"""Greedy, batched, left-padded generation for any ``transformers`` causal LM.

Batched output equals one-prompt-at-a-time output: padding is on the left with
an attention mask, so every prompt's last real token sits at the same position
and greedy decoding is unaffected by its neighbours. That holds exactly in
float32; in bfloat16 padding changes the matrix shapes and their rounding, so a
near-tie between two tokens can flip (measured: 2 of 16 prompts on an H100 with
the tiny model when batches are not sorted by length).
"""

from __future__ import annotations

import math
from typing import Any, Sequence


def format_prompt(tokenizer: Any, prompt: str | list[dict], *, chat: bool = True) -> str:
    """The text the model sees: the chat template with a generation prompt when the
    tokenizer has one and ``chat`` is set, otherwise the raw text."""
    messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
    if chat and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if isinstance(prompt, list):
        return "\n".join(m["content"] for m in prompt)
    return prompt


def generate(handle: Any, prompts: Sequence[str | list[dict]], *, max_new_tokens: int = 64,
             batch_size: int = 8, chat: bool = True, progress: str | None = None) -> list[str]:
    import torch

    model, tok = handle.model, handle.tokenizer
    texts = [format_prompt(tok, p, chat=chat) for p in prompts]
    # A chat template writes its own BOS; raw text needs the tokenizer's special tokens.
    templated = chat and bool(getattr(tok, "chat_template", None))
    pad_side, tok.padding_side = tok.padding_side, "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    # Sort by token count so each batch pads little; restore order at the end.
    lengths = [len(ids) for ids in tok(texts, add_special_tokens=not templated)["input_ids"]] if texts else []
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    outputs: list[str] = [""] * len(texts)
    bar = _progress(len(texts), progress)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=not templated).to(model.device)
            tick = _tick(bar, _dyadic(len(idx) / max(1, max_new_tokens)), cap=len(idx))
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id, temperature=None, top_p=None,
                                     top_k=None, **({"stopping_criteria": [tick]} if tick else {}))
            new = out[:, enc["input_ids"].shape[1]:]
            for i, row in zip(idx, new):
                outputs[i] = tok.decode(row, skip_special_tokens=True).strip()
            if bar is not None:  # the batch is done: whatever its ticks did not count yet
                bar.update(len(idx) - (tick.counted if tick else 0))
    finally:
        tok.padding_side = pad_side
        if was_training:
            model.train()
        if bar is not None:
            bar.close()
    return outputs


def _progress(total: int, desc: str | None):
    if not desc:
        return None
    from ..console import progress_bar

    return progress_bar(total, desc, "prompt")


def _dyadic(x: float) -> float:
    """``x`` rounded down to a multiple of 2**-20. Sums and differences of such numbers are exact
    in a float, so the bar's count lands exactly on its total; 8/48 per token summed 48 times
    is 8.000000000000005, past the total, and tqdm then warns "clamping frac to range [0, 1]",
    printing its own source line (``full_bar = Bar(frac,``) into the run's output."""
    return math.floor(x * 2**20) / 2**20


def _tick(bar, per_token: float, *, cap: float):
    """A stopping criterion that never stops: it moves the bar a fraction of a prompt per
    generated token, so a batch of 8 long replies does not sit at 0/8 (an ETA from the start).
    It never counts more than the batch's ``cap`` prompts (generate may call it once more than
    ``max_new_tokens``), so the bar never runs past its total."""
    if bar is None:
        return None
    from transformers import StoppingCriteria

    class Tick(StoppingCriteria):
        counted = 0.0

        def __call__(self, input_ids, scores, **kwargs):
            step = min(per_token, cap - self.counted)
            if step > 0:
                self.counted += step
                bar.update(step)
            return False

    return Tick()
