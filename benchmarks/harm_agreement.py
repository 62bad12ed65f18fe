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

Replies of a real model:

    python benchmarks/harm_agreement.py --export-run RUNS/ID --out replies.jsonl   # rows to label
    python benchmarks/harm_agreement.py --replies benchmarks/data/base_model_replies/smollm2.jsonl

``--export-run`` writes the harmful-request rows of a run's ``samples/before.jsonl``
(``suite``, ``item_id``, ``category``, ``prompt``, ``reply``, ``harmful: null``) for a
person to label; ``--replies`` scores a labeled file (``harmful`` 0/1, by the rule in
its README) and lists where the filter and the label part.
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
    from harness.contract.plugins import load_plugins

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


def export_run(run_dir: Path, out: Path, phase: str = "before") -> int:
    """Unlabeled rows (harmful requests only) of a stored run, for annotation."""
    path = run_dir / "samples" / f"{phase}.jsonl"
    if not path.is_file():
        raise SystemExit(f"error: {path}: no such file (a completed run's per-sample rows)")
    n = 0
    with path.open(encoding="utf-8") as fh, out.open("w", encoding="utf-8") as dst:
        for line in fh:
            row = json.loads(line)
            if row.get("label") != "unsafe" or "prompt" not in row:
                continue
            # jailbreak rows: keep the request, not the ~4,800-character template
            prompt = row["prompt"].rsplit("\n\n", 1)[-1] if row.get("attack") else row["prompt"]
            dst.write(json.dumps({"suite": row["suite"], "item_id": row["item_id"], "category": row.get("category"),
                                  "attack": row.get("attack"), "prompt": prompt, "reply": row["output"],
                                  "harmful": None}, ensure_ascii=False) + "\n")
            n += 1
    return n


def run_replies(path: Path) -> dict:
    """Precision/recall of the harm filter against labeled replies (``harmful`` 0/1)."""
    from harness.contract.plugins import load_plugins

    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    unlabeled = [i for i, r in enumerate(rows, start=1) if r.get("harmful") not in (0, 1, True, False)]
    if unlabeled:
        raise SystemExit(f"error: {path}: line(s) {unlabeled[:5]} have no `harmful` label (0 or 1)")
    filt = load_plugins().create("safety_filter", "harm", {})
    verdicts = filt.score([r["reply"] for r in rows], [r["prompt"] for r in rows])
    gold = [bool(r["harmful"]) for r in rows]
    pred = [v.flagged for v in verdicts]

    def scores(idx):
        tp = sum(pred[i] and gold[i] for i in idx)
        fp = sum(pred[i] and not gold[i] for i in idx)
        pos = sum(gold[i] for i in idx)
        return {"rows": len(idx), "harmful": pos, "flagged": sum(pred[i] for i in idx),
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                "recall": round(tp / pos, 4) if pos else None,
                "accuracy": round(sum(pred[i] == gold[i] for i in idx) / len(idx), 4) if idx else None}

    suites = dict.fromkeys(r["suite"] for r in rows)
    by_suite = {s: scores([i for i, r in enumerate(rows) if r["suite"] == s]) for s in suites}
    misses = [{"suite": r["suite"], "item_id": r["item_id"], "gold": g, "filter": p, "reply": r["reply"][:200],
               "reason": v.reason[:120]} for r, g, p, v in zip(rows, gold, pred, verdicts) if g != p]
    return {"replies": str(path), "all": scores(list(range(len(rows)))), "by_suite": by_suite, "disagreements": misses}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Precision/recall of the harm filter (AdvBench targets vs XSTest).")
    ap.add_argument("--advbench", type=Path, default=DEFAULT_ADVBENCH)
    ap.add_argument("--xstest", type=Path, nargs="+", default=DEFAULT_XSTEST)
    ap.add_argument("--split", choices=("all", "dev", "held-out"), default="all")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--replies", type=Path, help="score labeled model replies (JSONL with `harmful`) instead")
    ap.add_argument("--export-run", type=Path, metavar="RUN_DIR", help="write a run's harmful-request rows to --out")
    ap.add_argument("--out", type=Path, help="where --export-run writes")
    args = ap.parse_args(argv)
    if args.export_run:
        if not args.out:
            ap.error("--export-run needs --out FILE")
        print(f"wrote {export_run(args.export_run, args.out)} rows to {args.out}")
        return 0
    if args.replies:
        res = run_replies(args.replies)
        if args.json:
            print(json.dumps(res))
            return 0
        print(f"{res['replies']}: harm filter vs labeled replies")
        for scope, d in [("all", res["all"])] + list(res["by_suite"].items()):
            print(f"  {scope:12s} rows {d['rows']:3d}  harmful {d['harmful']:3d}  flagged {d['flagged']:3d}  "
                  f"precision {d['precision']}  recall {d['recall']}  accuracy {d['accuracy']}")
        for m in res["disagreements"]:
            kind = "missed" if m["gold"] else "false positive"
            print(f"  {kind} [{m['suite']} {m['item_id']}]: {m['reply'][:140]!r}")
        return 0
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
