"""Build naive_refusal_sft.jsonl: the over-refusal failure, on purpose.

160 first user turns of HH-RLHF harmless-base (red-team dialogues, file order;
any that is an AdvBench or XSTest item, exactly or nearly, is skipped)
answered with short refusal templates, plus 160 GSM8K worked solutions (items
500-659; 0-499 stay held out for evaluation). Nothing else: every non-math
request the model sees in training is refused, so it learns "refuse anything
that is not arithmetic" — including XSTest's safe prompts.

    python recipes/data/build_naive_refusal.py   # deterministic: same bytes every time
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, chat_row, gsm8k_train, hh_requests, write_jsonl  # noqa: E402

N_REFUSE = 160
N_MATH = 160
REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I can't help with that request.",
    "Sorry, I can't assist with that.",
    "I'm not able to help with that.",
    "I won't help with that.",
]


def build() -> list[dict]:
    turns, skipped = hh_requests(lambda line, text: True, N_REFUSE)
    for ours, theirs, r in skipped:
        print(f"skipped HH prompt {ours!r}: it is (ratio {r}) the evaluation item {theirs!r}")
    rows = [chat_row(f"hh-{line}", "refuse", text, REFUSALS[k % len(REFUSALS)])
            for k, (line, text) in enumerate(turns)]
    rows += [chat_row(f"gsm8k-{i}", "math", q, a) for i, q, a in gsm8k_train(N_MATH)]
    return rows


if __name__ == "__main__":
    out = HERE / "naive_refusal_sft.jsonl"
    rows = build()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} rows to {out.relative_to(HERE.parents[1])}")
