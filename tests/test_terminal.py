"""The quiet terminal (harness.console), `harness runs` columns and the recorded host name.

The line-budget tests run a shortened copy of the tiny quickstart (SFT 6 steps, DPO 2)
through the real CLI: about a minute on 2 loaded CPU cores, both runs together (the
second one hits the evaluation cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import console
from harness.run.environment import host_name
from tests.test_metric_table import CPU, H100, _harness, example_store  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]


def _short_quickstart(folder: Path) -> Path:
    text = (REPO / "recipes" / "quickstart.toml").read_text()
    text = text.replace('path = "../plugins/', f'path = "{REPO}/plugins/')
    text = text.replace("max_steps = 100", "max_steps = 6").replace("max_steps = 4", "max_steps = 2")
    text = text.replace('[[report]]\nreporter = "markdown"', "")
    path = folder / "quickstart-short.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("terminal")
    recipe = _short_quickstart(root)
    env = {**os.environ, "HARNESS_STORE": str(root / "runs"), "HARNESS_CACHE_DIR": str(root / "cache")}
    env.pop("TQDM_DISABLE", None)

    def run(*extra: str) -> subprocess.CompletedProcess:
        # bytes, decoded by hand: text mode would turn the bars' \r into line breaks
        out = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(recipe), *extra], env=env,
                             capture_output=True, cwd=REPO, timeout=900)
        out.stdout, out.stderr = out.stdout.decode(), out.stderr.decode()
        return out

    return run(), run("--quiet")


def test_default_output_fits_the_budget_without_library_chatter(two_runs):
    normal, _ = two_runs
    assert normal.returncode in (0, 1), normal.stderr[-3000:]
    # what a terminal shows: a bar redraws its line with \r, so each \n-line shows its last \r part
    lines = [part.rsplit("\r", 1)[-1] for part in (normal.stdout + normal.stderr).split("\n")]
    assert len(lines) <= 60, "\n".join(lines)
    err = normal.stderr
    assert "'loss':" not in err and "{'loss'" not in err                 # no per-step loss dicts
    assert "`pretrained` model kwarg" not in err and "FutureWarning" not in err
    assert "Map:" not in err and "Tokenizing train dataset" not in err   # no dataset-preparation bars
    for stage in ("load", "data", "evaluate-before", "train-0-sft", "train-1-dpo", "evaluate-after", "gates"):
        assert f"==> {stage}" in err
    assert normal.stdout.splitlines()[0].startswith("capability ")     # the verdict opens the result


def test_quiet_prints_only_the_verdict_and_the_gate_table(two_runs):
    _, quiet = two_runs
    assert quiet.returncode in (0, 1), quiet.stderr[-3000:]
    assert quiet.stderr.strip() == ""
    out = quiet.stdout.strip().splitlines()
    assert out[0].startswith("capability ") and "harm" in out[0]
    assert out[2].split() == ["gate", "metric", "rule", "confidence", "mde", "detail"]
    assert {line.split()[0] for line in out[4:-1]} <= {"PASS", "FAIL", "INCONCLUSIVE"} and len(out) == 4 + 2 + 1
    assert out[-1].startswith("verdicts: ") and "on_inconclusive = " in out[-1]  # two gates, then the policy


def test_console_levels():
    try:
        console.configure(console.QUIET)
        assert isinstance(console.progress_bar(3, "x"), console._NullBar)
        console.configure(console.NORMAL)
        import logging

        assert logging.root.manager.disable == logging.WARNING
    finally:
        console.configure(console.VERBOSE)
        console.configure(console.NORMAL)
        import logging

        logging.disable(logging.NOTSET)


def test_host_name_prefers_harness_host_and_flags_generic_names(monkeypatch):
    monkeypatch.setenv("HARNESS_HOST", "gpu-node-7")
    assert host_name() == ("gpu-node-7", "HARNESS_HOST")
    for var in ("HARNESS_HOST", "SLURMD_NODENAME", "NODE_NAME", "KUBERNETES_NODE_NAME", "HOSTNAME_HOST"):
        monkeypatch.delenv(var, raising=False)
    import platform
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "vm")
    monkeypatch.setattr(socket, "getfqdn", lambda: "vm")
    monkeypatch.setattr(platform, "node", lambda: "vm")
    assert host_name() == ("vm", "generic")
    monkeypatch.setattr(socket, "gethostname", lambda: "a100-box")
    assert host_name() == ("a100-box", "hostname")


def test_runs_lists_date_gates_accelerator_and_metrics(example_store):  # noqa: F811
    out = _harness("runs", "--store", str(example_store))
    assert out.returncode == 0, out.stderr
    head, _, *rows = out.stdout.splitlines()
    assert head.split()[:6] == ["id", "date", "name", "status", "gates", "accelerator"]
    assert "xstest/over_refusal" in head and "advbench/harmful_compliance" in head  # the gated metrics
    h100 = next(r for r in rows if r.startswith(H100))
    assert "1× NVIDIA H100 80GB HBM3" in h100 and "FAIL" in h100 and "1.000 (+0.988)" in h100
    picked = _harness("runs", "--store", str(example_store), "--columns", "name,openbookqa/acc")
    assert picked.stdout.splitlines()[0].split() == ["name", "openbookqa/acc"]
    bad = _harness("runs", "--store", str(example_store), "--columns", "nmae")
    assert bad.returncode == 2 and "unknown column(s) nmae" in bad.stderr
