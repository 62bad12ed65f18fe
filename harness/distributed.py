"""Rank awareness for one run across N processes (``accelerate launch`` / ``torchrun``).

The launcher starts the processes and sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init` has ``accelerate``'s ``PartialState`` set up the
process group (gloo on CPU, NCCL on CUDA, each rank pinned to its own GPU) —
the harness never builds one itself. Every helper here reads the environment
when called, and is a no-op in a single process. torch is imported lazily.

What the pipeline does with it: every rank trains and evaluates (its shard);
rank 0 alone writes the store, cache, artefacts and reports
(:func:`is_main`), and the other ranks follow rank 0's run id and verdict
(:func:`from_main`). After every stage the ranks agree on whether it failed
(:func:`failed_ranks`), so one rank's error fails the stage everywhere instead
of leaving the others waiting in a collective.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import socket
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from .errors import StageError

T = TypeVar("T")

#: set by ``harness run --launcher``: which launcher started this run, and its accelerate config file
LAUNCHER_ENV = "HARNESS_LAUNCHER"
ACCELERATE_CONFIG_ENV = "HARNESS_ACCELERATE_CONFIG"


class PeerFailed(StageError):
    """Another rank failed: this rank stops at the same point."""


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def rank() -> int:
    return _env_int("RANK", 0)


def world_size() -> int:
    return max(1, _env_int("WORLD_SIZE", 1))


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0)


def is_distributed() -> bool:
    return world_size() > 1


def is_main() -> bool:
    """Rank 0 (or a single process): the one process that writes."""
    return rank() == 0


def _initialised() -> bool:
    if not is_distributed():
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def init() -> None:
    """Under a launcher: the process group, through accelerate (idempotent; no-op in one process).

    ``accelerate.PartialState`` picks the backend (gloo on CPU) and pins this rank's
    CUDA device (``LOCAL_RANK``); TRL's Trainer reuses the same state.
    """
    if not is_distributed() or _initialised():
        return
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available() or os.environ.get("HARNESS_DEVICE", "").startswith("cpu")
    state = PartialState(cpu=cpu, **({"backend": "gloo"} if cpu else {}))
    atexit.register(_shutdown, state)


def _shutdown(state: Any) -> None:
    """Tear the group down at exit (gloo aborts the process when it is left up)."""
    try:
        state.destroy_process_group()
    except Exception:  # noqa: BLE001 - exiting anyway
        pass


def barrier() -> None:
    if _initialised():
        import torch.distributed as dist

        dist.barrier()


def gather_objects(obj: T) -> list[T]:
    """Every rank's ``obj``, in rank order (``[obj]`` in one process)."""
    if not _initialised():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank."""
    if not _initialised():
        return obj
    import torch.distributed as dist

    box: list[Any] = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def from_main(fn: Callable[[], T]) -> T:
    """``fn()`` computed on rank 0 only and handed to every rank. When it raises on rank 0,
    rank 0 re-raises and the others raise :class:`PeerFailed` (nobody waits forever)."""
    if not _initialised():
        return fn()
    outcome: tuple[str, Any] = ("ok", None)
    error: BaseException | None = None
    if is_main():
        try:
            outcome = ("ok", fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the others
            error, outcome = exc, ("error", f"{type(exc).__name__}: {exc}")
    outcome = broadcast_object(outcome)
    if error is not None:
        raise error
    if outcome[0] == "error":
        raise PeerFailed(f"rank 0 failed: {outcome[1]}")
    return outcome[1]


def failed_ranks(error: BaseException | None) -> list[tuple[int, str]]:
    """Collective: ``(rank, error)`` of every rank that failed at this point ([] in one process
    when ``error`` is None). Every rank must call it at the same point of the run."""
    mine = None if error is None else f"{type(error).__name__}: {error}"
    return [(r, e) for r, e in enumerate(gather_objects(mine)) if e is not None]


def peers_failed(error: BaseException | None) -> PeerFailed | None:
    """Collective (:func:`failed_ranks`): when this rank did not fail here but others did, the
    :class:`PeerFailed` to stop with, naming them; else None."""
    peers = failed_ranks(error)
    if error is not None or not peers:
        return None
    return PeerFailed("; ".join(f"rank {r} failed: {e}" for r, e in peers))


def shard(items: Sequence[T]) -> list[T]:
    """This rank's items, round-robin: rank r takes items r, r+W, r+2W, …"""
    return list(items[rank()::world_size()])


def unshard(parts: Sequence[Sequence[T]]) -> list[T]:
    """The inverse of :func:`shard`: per-rank lists (rank order) back in the original order."""
    total = sum(len(p) for p in parts)
    out: list[Any] = [None] * total
    width = len(parts)
    for r, part in enumerate(parts):
        for j, item in enumerate(part):
            out[r + j * width] = item
    return out


def map_sharded(fn: Callable[[list[T]], list[Any]], items: Sequence[T]) -> list[Any]:
    """``fn`` over this rank's shard of ``items``; every rank gets all results in ``items`` order."""
    part = shard(items)
    mine = fn(part)
    if len(mine) != len(part):
        raise RuntimeError(f"rank {rank()}: {len(mine)} results for {len(part)} items")
    return unshard(gather_objects(mine))


def cuda_device() -> str:
    """The CUDA device this process owns: ``cuda:LOCAL_RANK`` under a launcher (``cuda:0`` when
    the launcher left one visible device per rank), else ``cuda``."""
    if not is_distributed():
        return "cuda"
    import torch

    count = torch.cuda.device_count()
    return f"cuda:{local_rank() if count > 1 else 0}"


def launcher() -> str | None:
    """Which launcher started this process: ours (``harness run --launcher``), accelerate, torchrun."""
    if os.environ.get(LAUNCHER_ENV):
        return os.environ[LAUNCHER_ENV]
    if any(k.startswith("ACCELERATE_") for k in os.environ) and is_distributed():
        return "accelerate"
    if os.environ.get("TORCHELASTIC_RUN_ID"):
        return "torchrun"
    return "unknown" if is_distributed() else None


def _accelerate_config() -> dict[str, Any] | None:
    path = os.environ.get(ACCELERATE_CONFIG_ENV) or os.environ.get("ACCELERATE_CONFIG_FILE")
    if not path:
        return None
    p = Path(path)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.is_file() else None
    return {"path": str(p.resolve()), "sha256": digest}


def _sharding() -> str | None:
    """FSDP or DeepSpeed, when ``accelerate launch`` was configured for it (its environment). What
    the Trainer then did is in each train stage's ``config.distributed_type`` (on a CPU accelerate
    runs such a config as plain DDP)."""
    for name, var in (("fsdp", "ACCELERATE_USE_FSDP"), ("deepspeed", "ACCELERATE_USE_DEEPSPEED")):
        if os.environ.get(var, "").lower() in ("1", "true", "yes"):
            return name
    return None


def describe(device: str | None) -> dict[str, Any]:
    """The record's ``environment.distributed``. Collective under a launcher (gathers every
    rank's host and device): every rank calls it at the same point."""
    out: dict[str, Any] = {"world_size": world_size()}
    if not is_distributed():
        return out
    from accelerate import PartialState

    state = PartialState()
    out.update(launcher=launcher(), distributed_type=str(state.distributed_type).split(".")[-1],
               backend=state.backend, accelerate_config=_accelerate_config(),
               **({"sharding_requested": sharding} if (sharding := _sharding()) else {}),
               ranks=gather_objects({"rank": rank(), "local_rank": local_rank(),
                                     "host": socket.gethostname(), "device": device}))
    return out
