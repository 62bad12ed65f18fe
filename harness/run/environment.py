"""What a run ran on: library versions, git sha, host. Recorded in every run."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("posttrain-harness", "torch", "transformers", "trl", "peft", "accelerate", "datasets",
             "lm_eval", "tokenizers", "pluggy", "pydantic", "streamlit")


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_state(cwd: str | Path | None = None) -> dict[str, Any]:
    """The sha (and whether the tree is dirty) of the git checkout the run started in."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None}
    return {"sha": sha, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


# Names a container or VM gets by default, which tell machines apart no better than nothing.
_GENERIC_HOST = re.compile(r"^(vm|localhost|ubuntu|debian|runner|container|sandbox|[0-9a-f]{12}|[0-9a-f]{64})$")
# Where schedulers put the real machine's name inside a job or a pod.
HOST_VARIABLES = ("HARNESS_HOST", "SLURMD_NODENAME", "NODE_NAME", "KUBERNETES_NODE_NAME", "HOSTNAME_HOST")


def host_name() -> tuple[str, str]:
    """``(name, where it came from)``: ``$HARNESS_HOST`` (or a scheduler's node variable),
    else the machine name unless it is a generic container name such as ``vm``; a generic
    name is kept but marked ``generic`` so that readers know to set ``HARNESS_HOST``."""
    for var in HOST_VARIABLES:
        value = os.environ.get(var, "").strip()
        if value:
            return value, var
    names = [socket.gethostname(), socket.getfqdn(), platform.node()]
    for name in names:
        short = (name or "").split(".")[0].lower()
        if short and not _GENERIC_HOST.match(short):
            return name, "hostname"
    return names[0] or "unknown", "generic"


def environment(cwd: str | Path | None = None) -> dict[str, Any]:
    from ..runtime import accelerator_info

    git = git_state(cwd)
    host, source = host_name()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": host,
        "host_source": source,
        "git_sha": git["sha"],
        "git_dirty": git["dirty"],
        "libraries": library_versions(),
        "accelerator": accelerator_info(),
    }
