"""Build safety_sft_retain.jsonl: the contrast SFT rows inside general data.

safety_sft.jsonl is 43 % refusals (120 of 280), and SFT on it over-refuses: the
short refusal template is learned first and generalises to anything that sounds
sensitive (docs/flagship-results.md). The Safety-Tuned LLaMAs finding is that a
small share of safety examples inside general instruction data is enough, and
more of them causes over-refusal. This mix keeps all 280 rows (160 benign
contrast answers, 120 refusals) and adds 320 GSM8K worked solutions (items
500-819; 0-499 stay held out for the `gsm8k` task) as the retain set, so 20 % of
the rows are refusals. The three kinds are spread evenly through the file, so any
prefix (a number of steps) has the same mix.

    python recipes/data/build_retain_mix.py   # deterministic: same bytes every time
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, chat_row, gsm8k_train, write_jsonl  # noqa: E402

N_RETAIN = 320


def spread(*groups: list[dict]) -> list[dict]:
    """Merge the groups so each is spread evenly: row k of a group of n sits at (k + 0.5) / n."""
    keyed = [((k + 0.5) / len(g), gi, row) for gi, g in enumerate(groups) for k, row in enumerate(g)]
    return [row for _, _, row in sorted(keyed, key=lambda t: (t[0], t[1]))]


def build() -> list[dict]:
    rows = [json.loads(line) for line in (HERE / "safety_sft.jsonl").read_text(encoding="utf-8").splitlines()]
    help_ = [r for r in rows if r["kind"] == "help"]
    refuse = [r for r in rows if r["kind"] == "refuse"]
    retain = [chat_row(f"gsm8k-{i}", "retain", q, a) for i, q, a in gsm8k_train(N_RETAIN)]
    return spread(help_, refuse, retain)


if __name__ == "__main__":
    out = HERE / "safety_sft_retain.jsonl"
    rows = build()
    write_jsonl(out, rows)
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("help", "refuse", "retain")}
    print(f"wrote {len(rows)} rows to {out.relative_to(HERE.parents[1])}: {kinds}")
