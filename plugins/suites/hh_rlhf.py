"""Anthropic HH-RLHF dialogues (``\\n\\nHuman: … \\n\\nAssistant: …``) as TRL preference rows.

A row becomes ``prompt`` = every turn before the final assistant reply, as
chat messages (user/assistant alternating, user first and last), ``chosen`` and
``rejected`` = that final reply as one assistant message each. A row is skipped
(and counted by reason) when a dialogue does not parse into alternating turns,
when chosen and rejected do not share the same prompt, or when both replies
are the same text.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}


class ParseError(ValueError):
    pass


def parse_dialogue(text: str) -> list[dict[str, str]]:
    """Split one transcript into chat messages; raise :class:`ParseError` if malformed."""
    parts = _TURN.split(text)
    if parts[0].strip():
        raise ParseError("text before the first Human turn")
    messages = [{"role": _ROLE[role], "content": content.strip()}
                for role, content in zip(parts[1::2], parts[2::2])]
    if not messages:
        raise ParseError("no turns")
    for i, msg in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if msg["role"] != expected:
            raise ParseError(f"turn {i} is {msg['role']}, expected {expected}")
    if messages[-1]["role"] != "assistant":
        raise ParseError("does not end with an Assistant turn")
    if not messages[-1]["content"]:
        raise ParseError("empty final Assistant turn")
    return messages


def to_preference(chosen: str, rejected: str) -> dict[str, Any]:
    """One HH row as ``{"prompt", "chosen", "rejected"}`` conversational lists."""
    c, r = parse_dialogue(chosen), parse_dialogue(rejected)
    if c[:-1] != r[:-1]:
        raise ParseError("prefix_mismatch")
    return {"prompt": c[:-1], "chosen": c[-1:], "rejected": r[-1:]}


def load_pairs(path: Path, *, max_turns: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All usable pairs of a (gzipped) HH JSONL file, and counts of what was skipped.

    ``max_turns`` drops dialogues whose prompt has more user turns than that.
    Each pair carries ``id`` (its line number in the file) and ``turns``.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    pairs, skipped = [], Counter()
    rows = 0
    with opener(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            rows += 1
            raw = json.loads(line)
            try:
                pair = to_preference(raw["chosen"], raw["rejected"])
            except ParseError as exc:
                skipped["prefix_mismatch" if str(exc) == "prefix_mismatch" else "unparsable"] += 1
                continue
            if pair["chosen"] == pair["rejected"]:
                skipped["identical_replies"] += 1
                continue
            turns = sum(m["role"] == "user" for m in pair["prompt"])
            if max_turns is not None and turns > max_turns:
                skipped["over_max_turns"] += 1
                continue
            pairs.append({"id": str(i), **pair, "turns": turns})
    stats = {"rows": rows, "usable": len(pairs), "skipped": dict(sorted(skipped.items()))}
    return pairs, stats
