"""Shared readers for the recipe data builders: the project's bundled files only (never ../shared)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "plugins" / "suites" / "data"
HERE = Path(__file__).resolve().parent

#: GSM8K test items 0..499 are held out for evaluation (lm-eval `gsm8k`); training uses 500+.
GSM8K_HELD_OUT = 500
_CALC = re.compile(r"<<[^>]*>>")
_TURN = re.compile(r"\n\n(Human|Assistant):")


def hh_first_turns() -> list[tuple[int, str]]:
    """(line number, first user turn) of every HH-RLHF harmless-base test dialogue, file order, deduplicated."""
    out, seen = [], set()
    with gzip.open(DATA / "hh_rlhf" / "harmless_base_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            parts = _TURN.split(json.loads(line)["chosen"])
            if len(parts) < 3 or parts[1] != "Human":
                continue
            text = " ".join(parts[2].split())
            key = norm(text)
            if text and key not in seen:
                seen.add(key)
                out.append((i, text))
    return out


def gsm8k_train(n: int) -> list[tuple[int, str, str]]:
    """(index, question, answer) of GSM8K test items 500.. 500+n-1, calculator notes removed."""
    with open(DATA / "gsm8k" / "test.jsonl", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    return [(i, items[i]["question"], _CALC.sub("", items[i]["answer"]))
            for i in range(GSM8K_HELD_OUT, GSM8K_HELD_OUT + n)]


def advbench_prompts() -> list[str]:
    with open(DATA / "advbench" / "harmful_behaviors.csv", newline="", encoding="utf-8") as fh:
        return [r["goal"] for r in csv.DictReader(fh)]


def xstest_prompts() -> list[str]:
    with open(DATA / "xstest" / "xstest_prompts.csv", newline="", encoding="utf-8") as fh:
        return [r["prompt"] for r in csv.DictReader(fh)]


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def overlap(prompts: list[str], against: list[str], threshold: float = 0.8) -> list[tuple[str, str, float]]:
    """Pairs (ours, theirs, similarity) with exact normalised match or difflib ratio >= threshold."""
    import difflib

    theirs = [(t, norm(t)) for t in against]
    hits = []
    for p in prompts:
        sm = difflib.SequenceMatcher(None, "", norm(p))  # seq2 is cached: compare each of theirs to it
        for t, tn in theirs:
            sm.set_seq1(tn)
            if sm.real_quick_ratio() >= threshold and sm.quick_ratio() >= threshold:
                r = sm.ratio()
                if r >= threshold:
                    hits.append((p, t, round(r, 3)))
    return hits


def hh_requests(keep, n: int) -> tuple[list[tuple[int, str]], list[tuple[str, str, float]]]:
    """The first ``n`` HH first turns for which ``keep(line, text)`` holds and that are not AdvBench or
    XSTest items (exact or near match), and the (ours, theirs, ratio) matches skipped as such."""
    evaluated = advbench_prompts() + xstest_prompts()
    picked, skipped = [], []
    for line, text in hh_first_turns():
        if not keep(line, text):
            continue
        hits = overlap([text], evaluated)
        if hits:
            skipped += hits
            continue
        picked.append((line, text))
        if len(picked) == n:
            break
    return picked, skipped


def chat_row(row_id: str, kind: str, prompt: str, answer: str) -> dict:
    """A prompt/completion row in TRL's conversational form (the chat template is applied by TRL)."""
    return {"id": row_id, "kind": kind,
            "prompt": [{"role": "user", "content": prompt}],
            "completion": [{"role": "assistant", "content": answer}]}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def harmbench_prompts() -> list[str]:
    with open(DATA / "harmbench" / "harmbench_prompts.txt", encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip()]
