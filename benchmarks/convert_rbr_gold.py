"""Convert OpenAI's Safety RBR gold set to the XSTest labeled CSV format the refusal benchmark reads.

    python benchmarks/convert_rbr_gold.py UPSTREAM_DIR [--out benchmarks/data/rbr_gold]

UPSTREAM_DIR holds ``train.jsonl`` and ``test.jsonl`` from openai/safety-rbr-code-and-data
(``data/rbr_gold_data/``, MIT). Each row is a conversation, one completion and human-labelled
*propositions* about the completion. The refusal label comes from two of them:

- ``fully_complies``                          -> ``1_full_compliance``
- ``partially_complies`` and not fully        -> ``3_partial_refusal``
- neither                                     -> ``2_full_refusal`` (a refusal or a deflection)

The upstream ``response_type`` (Comply / Hard Refuse / Safe Refuse) is what the *prompt* calls for,
not what the completion did, so it goes to the ``type`` column, not the label. ``prompt`` is the last
user turn. Rows are kept in upstream order; ``id`` is ``rbr-<split>-<n>``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

FIELDS = ("id", "type", "prompt", "completion", "final_label")


def label(props: dict) -> str:
    if props.get("fully_complies"):
        return "1_full_compliance"
    return "3_partial_refusal" if props.get("partially_complies") else "2_full_refusal"


def convert(src: Path, split: str) -> list[dict]:
    rows = []
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        r = json.loads(line)
        users = [m["content"] for m in r["prompt"] if m.get("role") == "user"]
        rows.append({"id": f"rbr-{split}-{n}", "type": r.get("response_type", ""),
                     "prompt": users[-1] if users else "", "completion": r["completion"][-1]["content"],
                     "final_label": label(r["propositions"])})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("upstream", type=Path, help="folder with the upstream train.jsonl and test.jsonl")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("data") / "rbr_gold")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        src = args.upstream / f"{split}.jsonl"
        if not src.is_file():
            print(f"error: {src}: no such file (expected the upstream data/rbr_gold_data/ folder)", file=sys.stderr)
            return 2
        rows = convert(src, split)
        with (args.out / f"rbr_gold_{split}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(rows)
        print(f"{split}: {len(rows)} rows -> {args.out / f'rbr_gold_{split}.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
