"""GPU throughput through the harness's own components, beside the library doing the same work.

    python benchmarks/gpu_throughput.py --preset 1b          # on a GPU (benchmarks/gpu_check.sh runs it)
    python benchmarks/gpu_throughput.py --preset tiny --json # seconds on a CPU: the code path only

One model built from a config (random weights: throughput does not depend on them) by the
``tiny`` loader, then:

* **training** — the ``sft`` trainer plugin (TRL's SFTTrainer, fp32 master weights, bf16
  autocast on CUDA) on fixed-length rows: tokens/s from the trainer's own count, and
  MFU = 6 · parameters · tokens/s ÷ the accelerator's dense bf16 peak;
* **generation** — ``ModelHandle.generate`` (greedy, left-padded batches) at ``--gen-batch``
  against plain ``model.generate`` on the same batch: new tokens/s, and the share of memory
  bandwidth reached (each decode step reads every weight once: bytes of weights × steps/s ÷
  the peak bandwidth; the KV cache is left out, so the share is a lower bound);
* **lm-eval** — the ``lm-eval`` evaluator on bundled OpenBookQA: loglikelihood requests/s.

Peaks are looked up by device name (H100/H200 SXM; ``--peak-tflops``/``--peak-gbs`` override);
on a CPU or an unknown device MFU and bandwidth share print as n/a.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness.testing import load_host

PRESETS = {  # the tiny loader's own parameters
    "tiny": {"layers": 2, "hidden_size": 64, "heads": 4},
    "1b": {"layers": 16, "hidden_size": 2048, "heads": 16, "intermediate_size": 8192},  # ~1.07B parameters
    "0.5b": {"layers": 24, "hidden_size": 1024, "heads": 16, "intermediate_size": 4096},
}
#: dense bf16 TFLOP/s and HBM GB/s (NVIDIA data sheets, SXM parts)
PEAKS = {"H200": (989.0, 4800.0), "H100": (989.0, 3350.0), "A100": (312.0, 2039.0)}


def peaks(device_name: str, args) -> tuple[float | None, float | None]:
    found = next((v for k, v in PEAKS.items() if k in device_name), (None, None))
    return args.peak_tflops or found[0], args.peak_gbs or found[1]


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def train_figures(host, args, n_params: int, tflops: float | None) -> dict:
    handle = host.create("model", "tiny", PRESETS[args.preset]).load()
    words = " ".join(f"w{i % 97}" for i in range(args.seq_len * 2))
    rows = [{"prompt": f"row {i}:", "completion": words} for i in range(args.train_rows)]
    data = harness.TrainData(name="throughput", format="prompt_completion", examples=rows)
    params = {"max_steps": args.train_steps, "per_device_train_batch_size": args.train_batch,
              "max_length": args.seq_len, "learning_rate": 1e-5, "logging_steps": 1}
    trainer = host.create("trainer", "sft", params)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = harness.TrainContext(stage="throughput", seed=0, output_dir=Path(tmp), log=lambda *_: None)
        result = trainer.train(handle, data, ctx)
    tps = result.metrics["tokens_per_second"]
    return {"tokens_per_s": tps, "mfu": 6 * n_params * tps / (tflops * 1e12) if tflops else None,
            "steps": args.train_steps, "batch": args.train_batch, "seq_len": args.seq_len,
            "weights_dtype": str(next(handle.model.parameters()).dtype)}


def generation_figures(handle, args, gbs: float | None) -> dict:
    import torch

    tok, model = handle.tokenizer, handle.model
    prompts = [f"question {i}: " + " ".join(f"w{(i * 7 + j) % 89}" for j in range(48)) for i in range(args.gen_batch)]
    kwargs = dict(max_new_tokens=args.new_tokens, batch_size=args.gen_batch, chat=False)
    handle.generate(prompts[:2], **{**kwargs, "batch_size": 2, "max_new_tokens": 4})  # warm-up
    sync()
    start = time.perf_counter()
    outputs = handle.generate(prompts, **kwargs)
    sync()
    ours = time.perf_counter() - start

    side, tok.padding_side = tok.padding_side, "left"
    enc = tok(prompts, return_tensors="pt", padding=True).to(model.device)
    tok.padding_side = side
    sync()
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=args.new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    sync()
    plain = time.perf_counter() - start
    new = out[:, enc.input_ids.shape[1]:]
    new_tokens = int((new != tok.pad_token_id).sum())  # the same greedy work for both when the outputs match
    matches = sum(a.strip() == b.strip() for a, b in zip(outputs, tok.batch_decode(new, skip_special_tokens=True)))

    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    steps_per_s = args.new_tokens / ours
    return {"tokens_per_s": new_tokens / ours, "plain_generate_tokens_per_s": new_tokens / plain,
            "ratio_vs_plain": plain / ours, "outputs_matching_plain": f"{matches}/{len(prompts)}", "batch": args.gen_batch, "new_tokens": args.new_tokens,
            "bandwidth_share": weight_bytes * steps_per_s / (gbs * 1e9) if gbs else None,
            "dtype": handle.dtype, "device": handle.device}


def lm_eval_figures(host, handle, args) -> dict:
    evaluator = host.create("evaluator", "lm-eval", {"tasks": ["openbookqa"], "limit": args.lm_eval_docs,
                                                     "batch_size": args.lm_eval_batch})
    with tempfile.TemporaryDirectory() as tmp:
        ctx = harness.EvalContext(phase="before", seed=0, work_dir=Path(tmp), log=lambda *_: None)
        start = time.perf_counter()
        evaluator.evaluate(handle, ctx)
        seconds = time.perf_counter() - start
    requests = 4 * args.lm_eval_docs  # one loglikelihood request per answer choice
    return {"requests_per_s": requests / seconds, "docs": args.lm_eval_docs, "batch": args.lm_eval_batch}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="1b")
    ap.add_argument("--train-steps", type=int, default=30)
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--train-rows", type=int, default=512)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--gen-batch", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--lm-eval-docs", type=int, default=200)
    ap.add_argument("--lm-eval-batch", type=int, default=64)
    ap.add_argument("--peak-tflops", type=float, help="dense bf16 peak of this accelerator")
    ap.add_argument("--peak-gbs", type=float, help="memory bandwidth of this accelerator, GB/s")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    ap.add_argument("--json-out", type=Path, help="also write the figures as JSON to this file")
    args = ap.parse_args(argv)

    host = load_host()
    name = device_name()
    tflops, gbs = peaks(name, args)
    handle = host.create("model", "tiny", PRESETS[args.preset]).load()  # evaluation precision: bf16 on CUDA
    n_params = sum(p.numel() for p in handle.model.parameters())
    figures = {"device_name": name, "preset": args.preset, "parameters": n_params,
               "peak_tflops": tflops, "peak_gbs": gbs,
               "generation": generation_figures(handle, args, gbs),
               "lm_eval": lm_eval_figures(host, handle, args)}
    del handle
    figures["training"] = train_figures(host, args, n_params, tflops)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    t, g, e = figures["training"], figures["generation"], figures["lm_eval"]
    print(f"{name}, preset {args.preset}: {n_params / 1e6:,.1f}M parameters")
    print(f"training    {t['tokens_per_s']:>10,.0f} tokens/s  MFU {pct(t['mfu'])}  "
          f"(batch {t['batch']} x {t['seq_len']} tokens, weights {t['weights_dtype']})")
    print(f"generation  {g['tokens_per_s']:>10,.0f} tokens/s  memory bandwidth {pct(g['bandwidth_share'])}  "
          f"(batch {g['batch']}, {g['new_tokens']} new tokens, {g['dtype']}); plain model.generate "
          f"{g['plain_generate_tokens_per_s']:,.0f} tokens/s, ours {g['ratio_vs_plain']:.2f}x its speed, "
          f"outputs matching {g['outputs_matching_plain']}")
    print(f"lm-eval     {e['requests_per_s']:>10,.1f} requests/s (OpenBookQA, {e['docs']} docs, batch {e['batch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
