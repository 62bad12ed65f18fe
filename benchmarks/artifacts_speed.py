"""Saving and fingerprinting what a run trained: figures for docs/benchmarks.md.

1. Weight-hash throughput (GB/s): the harness's parallel XXH3 tree hash of an in-memory
   state dict and of saved safetensors files, against the single-threaded blake2b over
   ``tensor.numpy().tobytes()`` the harness used before.
2. Save + reload of a real model (SmolLM2-135M-Instruct by default): the harness's
   atomic save with its fingerprint (``harness.store.artifacts.save_model``) and reload
   (``harness.store.artifacts.load_saved``) against ``save_pretrained`` + ``from_pretrained``
   called directly. Ratio = harness / direct (the target is <= 1.1).

    python benchmarks/artifacts_speed.py [--model smollm2|tiny] [--hash-mb 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def old_weights_fingerprint(model) -> str:
    """The previous implementation: one thread, blake2b, a bytes copy of every tensor."""
    import torch

    h = hashlib.blake2b(digest_size=8)
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        h.update(t.cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def hash_throughput(megabytes: int, repeat: int, work: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from harness.fingerprint import _threads, files_fingerprint, weights_fingerprint

    n_tensors = 16
    per = megabytes * 2**20 // 4 // n_tensors
    model = torch.nn.Module()
    gen = torch.Generator().manual_seed(0)
    for i in range(n_tensors):
        model.register_parameter(f"w{i}", torch.nn.Parameter(torch.randn(per, generator=gen), requires_grad=False))
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    folder = work / "hash"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors")
    files_fingerprint(folder)  # page cache warm, as right after a save
    gb = size / 1e9
    t_new = best(lambda: weights_fingerprint(model), repeat)
    t_files = best(lambda: files_fingerprint(folder), repeat)
    t_old = best(lambda: old_weights_fingerprint(model), repeat)
    print(f"weight hash, {gb:.2f} GB fp32 in {n_tensors} tensors, {_threads()} threads, best of {repeat}")
    print(f"{'method':<44} {'s':>7} {'GB/s':>7}")
    print(f"{'harness: in-memory tensors (XXH3, parallel)':<44} {t_new:7.3f} {gb / t_new:7.2f}")
    print(f"{'harness: safetensors files (XXH3, parallel)':<44} {t_files:7.3f} {gb / t_files:7.2f}")
    print(f"{'before: blake2b, 1 thread, tobytes() copy':<44} {t_old:7.3f} {gb / t_old:7.2f}")
    print(f"speed-up over before: {t_old / t_new:.1f}x (tensors), {t_old / t_files:.1f}x (files)")


def save_reload(model_name: str, repeat: int, work: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.contract.plugins import load_plugins
    from harness.store.artifacts import load_saved, save_model

    host = load_plugins()
    handle = host.create("model", model_name, {"device": "cpu", "dtype": "float32"}).load()
    n = 0

    def direct():
        nonlocal n
        n += 1
        dest = work / f"direct-{n}"
        handle.model.save_pretrained(dest, safe_serialization=True)
        handle.tokenizer.save_pretrained(dest)
        AutoModelForCausalLM.from_pretrained(dest, dtype="float32")
        AutoTokenizer.from_pretrained(dest)
        shutil.rmtree(dest)

    def harness_path():
        nonlocal n
        n += 1
        dest = work / f"harness-{n}"
        save_model(handle, dest, stage="bench", run_dir=work)
        load_saved(dest, name="bench", loader="run")
        shutil.rmtree(dest)

    def timed(fn) -> float:
        os.sync()  # start each measurement with no dirty pages left by the previous one
        return best(fn, 1)

    direct()  # warm-up: imports, page cache
    harness_path()
    t_h, t_d = [], []
    for i in range(repeat):  # interleaved, alternating which goes first, so load slows both alike
        for fn, out in ([(direct, t_d), (harness_path, t_h)] if i % 2 == 0 else
                        [(harness_path, t_h), (direct, t_d)]):
            out.append(timed(fn))
    params = sum(p.numel() for p in handle.model.parameters())
    print(f"\nsave + reload, {model_name} ({params / 1e6:.1f}M parameters, fp32), best of {repeat}")
    print(f"{'path':<58} {'s':>7}")
    print(f"{'transformers: save_pretrained + from_pretrained':<58} {min(t_d):7.3f}")
    print(f"{'harness: atomic save + fingerprint + load_saved':<58} {min(t_h):7.3f}")
    print(f"ratio harness / transformers: {min(t_h) / min(t_d):.2f} (best); "
          f"{sorted(t_h)[len(t_h) // 2] / sorted(t_d)[len(t_d) // 2]:.2f} (median)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--hash-mb", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hash_throughput(args.hash_mb, args.repeat, Path(tmp))
        save_reload(args.model, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
