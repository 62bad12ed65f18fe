"""What a run ran on: library versions, git sha, host. Recorded in every run."""

from __future__ import annotations

import platform
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


def environment(cwd: str | Path | None = None) -> dict[str, Any]:
    from .runtime import accelerator_info

    git = git_state(cwd)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "git_sha": git["sha"],
        "git_dirty": git["dirty"],
        "libraries": library_versions(),
        "accelerator": accelerator_info(),
    }
