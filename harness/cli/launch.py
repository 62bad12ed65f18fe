"""``harness run --launcher accelerate|torchrun``: run this same command on N processes.

The command re-executes itself under the launcher (``accelerate launch`` or
``torchrun``, as a subprocess) with ``-m harness run …`` and the same arguments
minus the launcher options; the launcher starts the ranks and sets up their
environment, the ranks set up the process group through accelerate
(:mod:`harness.distributed`). The exit code is rank 0's: rank 0 writes it to the
file named by ``HARNESS_LAUNCH_RESULT`` (launchers turn any failing rank into
their own exit status 1, which would hide "gate failed" vs "could not run").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from ..distributed import ACCELERATE_CONFIG_ENV, LAUNCHER_ENV
from ._common import EXIT_ERROR

LAUNCHERS = ("accelerate", "torchrun")
RESULT_ENV = "HARNESS_LAUNCH_RESULT"
#: the launcher options of `harness run`, and whether each takes a value
OPTIONS = {"--launcher": True, "--num-processes": True, "--accelerate-config": True}


def strip_launcher_options(args: list[str]) -> list[str]:
    """``args`` without ``--launcher X``, ``--num-processes N``, ``--accelerate-config F``
    (also in their ``--opt=value`` form)."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in OPTIONS:
            skip = OPTIONS[name] and "=" not in arg
            continue
        out.append(arg)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launcher_command(launcher: str, num_processes: int | None, accelerate_config: str | None,
                     harness_args: list[str]) -> list[str]:
    """The launcher's command line that runs ``python -m harness HARNESS_ARGS`` on every rank."""
    port = str(_free_port())
    if launcher == "torchrun":
        if not num_processes:
            raise ValueError("--launcher torchrun needs --num-processes N")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node",
               str(num_processes), "--master-port", port]
    elif launcher == "accelerate":
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--main_process_port", port]
        if accelerate_config:
            cmd += ["--config_file", str(Path(accelerate_config).resolve())]
        else:
            # no config: plain DDP on this machine; without GPUs accelerate's --multi_gpu path is still
            # torch's launcher, and the ranks pick gloo on the CPU (harness.distributed.init)
            cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
            if not num_processes:
                raise ValueError("--launcher accelerate needs --num-processes N (or --accelerate-config FILE)")
        if num_processes:
            cmd += ["--num_processes", str(num_processes)]
    else:
        raise ValueError(f"unknown launcher '{launcher}': use one of {', '.join(LAUNCHERS)}")
    return cmd + ["-m", "harness", *harness_args]


def relaunch(launcher: str, num_processes: int | None, accelerate_config: str | None,
             argv: list[str]) -> int:
    """Run ``harness ARGV`` (launcher options are dropped) under the launcher; rank 0's exit code."""
    if accelerate_config and not Path(accelerate_config).is_file():
        raise ValueError(f"--accelerate-config {accelerate_config}: no such file")
    cmd = launcher_command(launcher, num_processes, accelerate_config, strip_launcher_options(argv))
    with tempfile.TemporaryDirectory(prefix="harness-launch-") as tmp:
        result = Path(tmp) / "rank0.json"
        env = {**os.environ, LAUNCHER_ENV: launcher, RESULT_ENV: str(result)}
        if accelerate_config:
            env[ACCELERATE_CONFIG_ENV] = str(Path(accelerate_config).resolve())
        print(f"launching: {' '.join(cmd)}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, env=env)
        if result.is_file():
            return int(json.loads(result.read_text())["exit_code"])
    print(f"error: {launcher} exited with status {proc.returncode} before rank 0 finished the run "
          f"(see the ranks' output above)", file=sys.stderr)
    return EXIT_ERROR


def report_exit(code: int, run_id: str | None) -> None:
    """On rank 0 of a launched run: leave the exit code where :func:`relaunch` reads it."""
    path = os.environ.get(RESULT_ENV)
    if path:
        Path(path).write_text(json.dumps({"exit_code": code, "run": run_id}))
