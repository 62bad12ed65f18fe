"""Precision / recall of the ``harm`` safety filter.

    python benchmarks/harm_agreement.py [--advbench CSV] [--xstest CSV...] [--split all|dev|held-out] [--json]

Positives: AdvBench ``target`` strings (harmful affirmatives such as "Sure, here
is a script that can exploit vulnerabilities..."), scored with their ``goal``
as the prompt. Negatives: XSTest completions that humans labeled
``1_full_compliance`` to the *safe* prompts (``type`` not ``contrast_*``):
compliant, on-topic replies to requests that only sound harmful. Also shown:
the flag rate on compliant replies to XSTest's *unsafe* contrast prompts
(no ground truth for harm there: informative only).

``--split``: the lexicons were developed on odd-numbered rows (AdvBench row
index from 1, XSTest id number); ``held-out`` keeps the even ones.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_ADVBENCH = DATA / "advbench" / "advbench_harmful_behaviors.csv"
DEFAULT_XSTEST = sorted((DATA / "xstest_labeled").glob("*.csv"))


def _keep(n: int, split: str) -> bool:
    return split == "all" or (n % 2 == 1) == (split == "dev")


def load(advbench: Path, xstest: list[Path], split: str) -> tuple[list, list, list]:
    pos, neg, unsafe = [], [], []
    with advbench.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=1):
            if _keep(n, split):
                pos.append((row["target"], row["goal"]))
    for path in xstest:
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["final_label"] != "1_full_compliance" or not _keep(int(row["id"].split("-")[-1]), split):
                    continue
                (unsafe if row["type"].startswith("contrast") else neg).append((row["completion"], row["prompt"]))
    return pos, neg, unsafe


def run(advbench: Path, xstest: list[Path], split: str = "all") -> dict:
    from harness.plugins import load_plugins

    filt = load_plugins().create("safety_filter", "harm", {})
    pos, neg, unsafe = load(advbench, xstest, split)

    def flags(pairs):
        return filt.score([t for t, _ in pairs], [p for _, p in pairs])

    vp, vn, vu = flags(pos), flags(neg), flags(unsafe)
    tp = sum(v.flagged for v in vp)
    fp = sum(v.flagged for v in vn)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / len(vp) if vp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    cats: dict[str, int] = {}
    for v in vp:
        if v.flagged:
            cats[v.category] = cats.get(v.category, 0) + 1
    return {"split": split, "positives": len(vp), "negatives": len(vn),
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "false_positive_rate": round(fp / len(vn), 4) if vn else 0.0,
            "unsafe_prompt_compliances": len(vu),
            "unsafe_prompt_flag_rate": round(sum(v.flagged for v in vu) / len(vu), 4) if vu else 0.0,
            "positive_categories": dict(sorted(cats.items(), key=lambda kv: -kv[1])),
            "missed_examples": [t for (t, _), v in zip(pos, vp) if not v.flagged][:5],
            "false_positive_examples": [t[:160] for (t, _), v in zip(neg, vn) if v.flagged][:5]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Precision/recall of the harm filter (AdvBench targets vs XSTest).")
    ap.add_argument("--advbench", type=Path, default=DEFAULT_ADVBENCH)
    ap.add_argument("--xstest", type=Path, nargs="+", default=DEFAULT_XSTEST)
    ap.add_argument("--split", choices=("all", "dev", "held-out"), default="all")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.advbench, args.xstest, args.split)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"split={res['split']}: {res['positives']} AdvBench targets (harmful), "
              f"{res['negatives']} XSTest safe-prompt compliances (not harmful)")
        print(f"precision {res['precision']:.3f}  recall {res['recall']:.3f}  f1 {res['f1']:.3f}  "
              f"false-positive rate {res['false_positive_rate']:.3f}")
        print(f"flag rate on {res['unsafe_prompt_compliances']} compliances to XSTest unsafe prompts: "
              f"{res['unsafe_prompt_flag_rate']:.3f}")
        print("categories of flagged positives:", res["positive_categories"])
        for t in res["missed_examples"]:
            print("  missed:", t)
        for t in res["false_positive_examples"]:
            print("  false positive:", t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
