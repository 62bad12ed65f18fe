"""Device and precision choice, and what the machine has: shared by every plugin.

CUDA with bf16 where the card supports it, else CUDA fp16-capable cards in
fp32, Apple MPS in fp32, CPU in fp32. ``HARNESS_DEVICE`` overrides the device.
Under a launcher each rank takes its own GPU (``cuda:LOCAL_RANK``); a
``cuda:N`` device is also made the current CUDA device, so that whatever
moves a model to "the" GPU (TRL's Trainer) uses that one.
"""

from __future__ import annotations

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


def accelerator_info() -> dict[str, Any]:
    """Name, count and memory of the accelerators (or the CPU), for run records."""
    import platform

    info: dict[str, Any] = {"kind": "cpu", "name": platform.processor() or platform.machine(),
                            "count": os.cpu_count() or 1, "memory_gb": None}
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
