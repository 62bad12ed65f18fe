"""Device and precision choice, and what the machine has: shared by every plugin.

CUDA with bf16 where the card supports it, else CUDA fp16-capable cards in
fp32, Apple MPS in fp32, CPU in fp32. ``HARNESS_DEVICE`` overrides the device.
Under a launcher each rank takes its own GPU (``cuda:LOCAL_RANK``); a
``cuda:N`` device is also made the current CUDA device, so that whatever
moves a model to "the" GPU (TRL's Trainer) uses that one.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from .distributed import cuda_device


def pick_device(device: str | None = None, dtype: str | None = None) -> tuple[str, str]:
    """Return ``(device, dtype)`` names, e.g. ``("cuda", "bfloat16")`` or ``("cpu", "float32")``."""
    import torch

    device = device or os.environ.get("HARNESS_DEVICE") or None
    if device in (None, "auto"):
        if torch.cuda.is_available():
            device = cuda_device()  # under a launcher: this rank's own GPU
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    if device.startswith("cuda:"):
        # pin the default device too: TRL's Trainer moves the model to it, and "cuda" tensors land there
        torch.cuda.set_device(torch.device(device))
    if dtype in (None, "auto"):
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            dtype = "bfloat16"
        else:
            dtype = "float32"
    return device, dtype


def torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


@functools.cache
def nvidia_gpus() -> tuple[dict[str, Any], ...]:
    """The NVIDIA GPUs ``nvidia-smi`` lists, as ``{"name", "memory_gb"}`` (none without it): what the
    machine has, learnt without importing torch (asked once per process)."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    gpus = []
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        name, _, mib = line.rpartition(",")
        try:
            gpus.append({"name": name.strip(), "memory_gb": round(float(mib) / 1024, 1)})
        except ValueError:
            continue
    return tuple(gpus)


def machine_key() -> dict[str, Any]:
    """What, besides a loader's parameters, decides the device and dtype ``pick_device`` gives, learnt
    without torch: the GPUs, the CPU architecture and the variables that choose among them."""
    import platform

    return {"gpus": [g["name"] for g in nvidia_gpus()], "machine": platform.machine(),
            "system": platform.system(),
            **{k: os.environ.get(k) for k in ("HARNESS_DEVICE", "CUDA_VISIBLE_DEVICES", "LOCAL_RANK")}}


def accelerator_info() -> dict[str, Any]:
    """Name, count and memory of the accelerators (or the CPU), for run records.

    Asks torch only when something has imported it already (a model was loaded); otherwise
    ``nvidia-smi``: an evaluation served from the cache never imports torch.
    """
    import platform
    import sys

    info: dict[str, Any] = {"kind": "cpu", "name": platform.processor() or platform.machine(),
                            "count": os.cpu_count() or 1, "memory_gb": None}
    if "torch" not in sys.modules:
        gpus = nvidia_gpus()
        if gpus:
            info = {"kind": "cuda", "name": gpus[0]["name"], "count": len(gpus), "memory_gb": gpus[0]["memory_gb"]}
        return info
    try:
        import torch
    except ImportError:
        return info
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info = {"kind": "cuda", "name": props.name, "count": torch.cuda.device_count(),
                "memory_gb": round(props.total_memory / 2**30, 1),
                "bf16": torch.cuda.is_bf16_supported(), "cuda": torch.version.cuda}
    return info
