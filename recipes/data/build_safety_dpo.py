"""Build the safety-dpo training data: where to help and where to refuse, by contrast.

* helpful: the 160 benign-but-scary-sounding prompts of contrast_prompts.py
  (XSTest-like categories, written for this project) with their short answers;
* refuse: 120 first user turns of HH-RLHF harmless-base that name a clearly
  harmful intent (HARMFUL below, file order; self-harm excluded, since a bare
  refusal is the wrong answer there; NOT_HARMFUL lists matches read by hand
  and dropped as benign questions), answered with short refusal templates.

Two files, same prompts:

* safety_sft.jsonl  prompt/completion (chat): helpful answers and refusals;
* safety_dpo.jsonl  preference (chat): helpful answer over a refusal on the
  benign prompts, a refusal over a compliant opening on the harmful ones.

Never evaluation items: every prompt is checked against AdvBench (520) and
XSTest (450) for exact and near matches (normalised difflib ratio >= 0.8);
HH prompts that do are skipped (and printed), and the build stops if
any written prompt still overlaps. Deterministic: same bytes every run.

    python recipes/data/build_safety_dpo.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, advbench_prompts, chat_row, hh_requests, overlap, write_jsonl, xstest_prompts  # noqa: E402
from contrast_prompts import CONTRAST  # noqa: E402

N_REFUSE = 120
#: A first user turn with one of these is a harmful request (checked by hand on the 120 used).
HARMFUL = re.compile(
    r"\b(steal|stole|rob|robbing|shoplift|kill (him|her|them|someone|my|a person|people)|murder|"
    r"poison (him|her|them|someone|my)|hurt (him|her|them|someone|people)|bomb|explosive|"
    r"shoot (him|her|them|someone|people|my)|hack into|break into|drugs? (to|without)|meth\b|cocaine|heroin|"
    r"weapon|stab|kidnap|torture|burn (down|his|her)|revenge|blackmail|launder|counterfeit|"
    r"fake (id|money|passport)|without (them|him|her) (knowing|noticing|finding out)|get away with|scam|"
    r"smuggle|traffick|embezzle|vandal|spy on|stalk|bully|insults? for|slur|beat (up|him|her|my)|arson|"
    r"credit card number|social security number|home address|residential address|cheat on)", re.I)
#: Matches that are not harmful requests (questions about history, news, stereotypes): read by hand, excluded.
NOT_HARMFUL = {96, 162, 209, 224, 395, 407, 430, 512}
SELF_HARM = re.compile(r"\b(kill myself|suicide|hurt myself|end my life)\b", re.I)
REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I can't help with that. It could hurt someone.",
    "Sorry, I can't assist with that request.",
    "I won't help with that, because it could cause real harm.",
    "I can't help with that, since it's harmful or illegal.",
]
#: The "rejected" side of a harmful prompt: the compliant openings SmolLM2 gives AdvBench requests.
COMPLIANT = [
    "Sure! Here's how you can do that:",
    "Of course. Here are some ways to do it:",
    "Great question! Here's a step-by-step guide:",
    "Sure, here is what you need to do:",
]


def harmful_turns() -> tuple[list[tuple[int, str]], list[tuple[str, str, float]]]:
    """The first N_REFUSE harmful first turns that are not evaluation items, and the ones skipped as such."""
    return hh_requests(lambda line, t: bool(HARMFUL.search(t)) and not SELF_HARM.search(t) and len(t) <= 300
                       and line not in NOT_HARMFUL, N_REFUSE)


def check_no_overlap(prompts: list[str]) -> None:
    for name, items in (("AdvBench", advbench_prompts()), ("XSTest", xstest_prompts())):
        hits = overlap(prompts, items)
        if hits:
            raise SystemExit(f"{len(hits)} training prompt(s) overlap {name}, e.g. {hits[0]}: fix before training")


def build() -> tuple[list[dict], list[dict]]:
    helpful = [(f"contrast-{cat}-{k}", p, a) for cat, pairs in CONTRAST.items() for k, (p, a) in enumerate(pairs)]
    turns, skipped = harmful_turns()
    for ours, theirs, r in skipped:
        print(f"skipped HH prompt {ours!r}: it is (ratio {r}) the evaluation item {theirs!r}")
    harmful = [(f"hh-{line}", t) for line, t in turns]
    check_no_overlap([p for _, p, _ in helpful] + [t for _, t in harmful])
    sft = [chat_row(i, "help", p, a) for i, p, a in helpful]
    sft += [chat_row(i, "refuse", t, REFUSALS[k % len(REFUSALS)]) for k, (i, t) in enumerate(harmful)]
    dpo = [{"id": i, "kind": "help", "prompt": [{"role": "user", "content": p}],
            "chosen": [{"role": "assistant", "content": a}],
            "rejected": [{"role": "assistant", "content": REFUSALS[k % len(REFUSALS)]}]}
           for k, (i, p, a) in enumerate(helpful)]
    dpo += [{"id": i, "kind": "refuse", "prompt": [{"role": "user", "content": t}],
             "chosen": [{"role": "assistant", "content": REFUSALS[k % len(REFUSALS)]}],
             "rejected": [{"role": "assistant", "content": COMPLIANT[k % len(COMPLIANT)]}]}
            for k, (i, t) in enumerate(harmful)]
    return interleave(sft), interleave(dpo)


def interleave(rows: list[dict]) -> list[dict]:
    """Alternate help/refuse rows so any prefix (a `limit`, a few steps) has both kinds."""
    help_, refuse = [r for r in rows if r["kind"] == "help"], [r for r in rows if r["kind"] == "refuse"]
    out, i, j = [], 0, 0
    while i < len(help_) or j < len(refuse):
        # 4 helpful : 3 refusals, the ratio of the whole set (160 : 120)
        for _ in range(4):
            if i < len(help_):
                out.append(help_[i])
                i += 1
        for _ in range(3):
            if j < len(refuse):
                out.append(refuse[j])
                j += 1
    return out


if __name__ == "__main__":
    sft, dpo = build()
    write_jsonl(HERE / "safety_sft.jsonl", sft)
    write_jsonl(HERE / "safety_dpo.jsonl", dpo)
    print(f"wrote {len(sft)} rows to recipes/data/safety_sft.jsonl and {len(dpo)} pairs to recipes/data/safety_dpo.jsonl "
          f"({sum(r['kind'] == 'help' for r in sft)} helpful, {sum(r['kind'] == 'refuse' for r in sft)} refusals); "
          f"no exact or near (ratio >= 0.8) overlap with AdvBench or XSTest")
