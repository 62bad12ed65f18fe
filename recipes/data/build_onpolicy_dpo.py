"""Build on-policy DPO pairs: the rejected reply to a harmful request is SmolLM2's own.

The fixed "Sure! Here's how you can do that:" of safety_dpo.jsonl is an opening
SmolLM2 never writes, so DPO separated it from the refusal within a few steps and
learned little (docs/flagship-results.md). Here the *rejected* side of each
harmful prompt is what SmolLM2-135M-Instruct itself answers (greedy, chat
template, MAX_NEW_TOKENS), kept only where the project's ``refusal`` filter says
it is not a refusal; the chosen side is a refusal template. The benign contrast
pairs are those of safety_dpo.jsonl (helpful answer over a refusal).

Harmful prompts: the first N_HARMFUL HH-RLHF harmless-base first turns that
build_safety_dpo.py's HARMFUL rule accepts (its 120 plus the next ones), none an
AdvBench, XSTest or HarmBench item (exact or near match; the build stops if one
is). Greedy decoding on CPU in float32: the same bytes on every run of the same
torch/transformers; the committed file is what the docs' runs trained on.

    python recipes/data/build_onpolicy_dpo.py   # ~3 min on 2 CPU cores -> safety_dpo_onpolicy.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, harmbench_prompts, hh_requests, overlap, write_jsonl  # noqa: E402
from build_safety_dpo import HARMFUL, NOT_HARMFUL, REFUSALS, SELF_HARM, build, check_no_overlap, interleave  # noqa: E402

N_HARMFUL = 200
MAX_NEW_TOKENS = 64


def harmful_prompts() -> list[tuple[str, str]]:
    turns, _ = hh_requests(lambda line, t: bool(HARMFUL.search(t)) and not SELF_HARM.search(t) and len(t) <= 300
                           and line not in NOT_HARMFUL, N_HARMFUL)
    prompts = [(f"hh-{line}", t) for line, t in turns]
    check_no_overlap([t for _, t in prompts])
    hits = overlap([t for _, t in prompts], harmbench_prompts())
    if hits:
        raise SystemExit(f"{len(hits)} training prompt(s) overlap HarmBench, e.g. {hits[0]}: fix before training")
    return prompts


def own_replies(prompts: list[str]) -> tuple[list[str], list[bool]]:
    """SmolLM2's greedy replies and whether the refusal filter calls each a refusal."""
    import harness

    host = harness.get_host()
    model = host.create("model", "smollm2").load()
    replies = model.generate(prompts, max_new_tokens=MAX_NEW_TOKENS, batch_size=16, chat=True,
                             progress="on-policy replies")
    verdicts = host.create("safety_filter", "refusal").score(replies, prompts)
    return [r.strip() for r in replies], [v.flagged for v in verdicts]


def main() -> None:
    _, dpo = build()
    helpful = [r for r in dpo if r["kind"] == "help"]
    harmful = harmful_prompts()
    replies, refused = own_replies([t for _, t in harmful])
    pairs = [{"id": i, "kind": "refuse", "prompt": [{"role": "user", "content": t}],
              "chosen": [{"role": "assistant", "content": REFUSALS[k % len(REFUSALS)]}],
              "rejected": [{"role": "assistant", "content": reply}]}
             for k, ((i, t), reply, no) in enumerate(zip(harmful, replies, refused)) if not no and reply]
    rows = interleave(helpful + pairs)
    write_jsonl(HERE / "safety_dpo_onpolicy.jsonl", rows)
    print(f"wrote {len(rows)} pairs to recipes/data/safety_dpo_onpolicy.jsonl: {len(helpful)} helpful, "
          f"{len(pairs)} harmful with SmolLM2's own reply as rejected ({sum(refused)} of {len(harmful)} "
          f"harmful prompts dropped: the model already refused)")


if __name__ == "__main__":
    main()
