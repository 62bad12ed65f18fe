"""Rows of the bundled training sets (hh-rlhf-harmless, gsm8k-sft, quick-preference)."""

from __future__ import annotations

import json
import re
from typing import Any

from harness import items_hash, subsample

from .hh_rlhf import load_pairs
from .prompts import DATA

#: GSM8K test items [0, GSM8K_HELD_OUT) are kept for evaluation (lm-eval `gsm8k` with limit <= 500).
GSM8K_HELD_OUT = 500
_CALC = re.compile(r"<<[^>]*>>")


def _stats(used: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**extra, "used": len(used), "content_hash": items_hash(used)}


def hh_rlhf_harmless(limit: int | None, seed: int, max_turns: int | None):
    pairs, stats = load_pairs(DATA / "hh_rlhf" / "harmless_base_test.jsonl.gz", max_turns=max_turns)
    rows = subsample(pairs, limit, seed)
    return rows, _stats(rows, **stats)


def gsm8k_sft(skip: int, limit: int | None, seed: int, chat: bool, system_prompt: str | None):
    """GSM8K items from index ``skip`` on, in lm-eval's prompt format, calculator notes removed."""
    from harness import to_conversational

    with open(DATA / "gsm8k" / "test.jsonl", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    pool = [{"id": str(i), "prompt": f"Question: {it['question']}\nAnswer:",
             "completion": ("" if chat else " ") + _CALC.sub("", it["answer"])}
            for i, it in enumerate(items) if i >= skip]
    rows = subsample(pool, limit, seed)
    if chat:
        rows = [to_conversational(r, "prompt_completion", system_prompt) for r in rows]
    return rows, _stats(rows, rows=len(items), held_out=f"items 0..{skip - 1} (evaluation)", pool=len(pool))


def quick_preference(limit: int | None, seed: int, chat: bool, system_prompt: str | None):
    from harness import to_conversational

    with open(DATA / "quick" / "quick_preference.jsonl", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    rows = subsample(items, limit, seed, stratify=lambda r: r["label"])
    if chat:
        rows = [to_conversational(r, "preference", system_prompt) for r in rows]
    return rows, _stats(rows, rows=len(items))
