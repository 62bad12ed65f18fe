"""Fault suite: a real `harness run` killed with SIGKILL or SIGTERM at a stage, while other
writers use the same store. Afterwards the killed run is listed as incomplete with the
stages it completed, every other run is untouched, and `harness store check --fix` sets the
dead run aside and cleans the scratch files. The full stage x signal matrix is `slow`."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.store_cmd import store_group
from harness.store.local import PARTIAL_FILE, QUARANTINE_DIR, RECORD_FILE, Store, write_json
from harness.store.packing import pack_run, unpack
from tests.test_hostile_archives import finished_run, snapshot

REPO = Path(__file__).resolve().parents[1]
RECIPE = f"""
[run]
name = "fault"

[model]
loader = "tiny"

[[data]]
name = "facts"
source = "jsonl"
path = "{REPO}/plugins/lm_eval_plugin/tasks/quick_mc/train.jsonl"
format = "prompt_completion"

[[train]]
trainer = "sft"
data = "facts"
max_steps = 400
per_device_train_batch_size = 4
max_length = 32
logging_steps = 1

[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
limit = 8

[gates]
"quick_mc/acc" = {{ min = 0.0 }}
"""
STAGES = ["load", "data", "evaluate-before", "train-0-sft"]
OTHER = "20261201-000000-other-0123456789abcdef"


def _writer(root: str, n: int) -> None:
    """Another process writing finished runs into the same store (a colleague's machine)."""
    store = Store(root)
    for i in range(n):
        run_id, folder = store.new_run_dir(f"writer-{os.getpid()}")
        write_json(folder / "samples" / "before.jsonl", {"i": i})
        write_json(folder / RECORD_FILE, {"id": run_id, "name": "writer", "status": "completed", "metrics": {},
                                          "stages": [], "gates": []})


def kill_at(tmp_path: Path, stage: str, sig: int, *, writers: int = 0) -> tuple[Store, str, dict]:
    store = Store(tmp_path / "runs")
    finished_run(store, OTHER)
    other_before = snapshot(store.root / OTHER)
    recipe = tmp_path / "fault.toml"
    recipe.write_text(RECIPE)
    env = {**os.environ, "HARNESS_STORE": str(store.root), "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(recipe), "--no-cache"], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(store.root), 3)) for _ in range(writers)]
    try:
        for line in proc.stderr:
            if line.strip() == f"==> {stage}":
                break
        else:
            pytest.fail(f"the run ended before stage {stage}: rc={proc.wait()}")
        for p in procs:
            p.start()
        # while the run is in progress: another run arrives by unpack
        archive = pack_run(store, OTHER, tmp_path / "other.tar.gz")
        assert unpack(Store(tmp_path / "second"), archive).added
        assert not unpack(store, archive).added  # identical: a no-op, the run's folder untouched
        time.sleep(0.5 if stage != "train-0-sft" else 3)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in procs:
            p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    killed = [i for i in store.run_ids() if "-fault-" in i]
    assert len(killed) == 1
    assert snapshot(store.root / OTHER) == other_before  # other runs untouched
    return store, killed[0], {"writers": writers}


@pytest.mark.parametrize("stage, sig", [
    ("train-0-sft", signal.SIGKILL),  # ~35 s on 2 cores, with 8 concurrent writers and an unpack
    pytest.param("evaluate-before", signal.SIGTERM, marks=pytest.mark.slow),
])
def test_a_killed_run_is_incomplete_and_the_store_recovers(tmp_path, stage, sig):
    store, run_id, info = kill_at(tmp_path, stage, sig, writers=8 if sig == signal.SIGKILL else 0)
    record = store.load(run_id)
    assert record["status"] == "incomplete"
    done = [s["name"] for s in record.get("stages", []) if s.get("status") == "ok"]
    assert done == STAGES[:STAGES.index(stage)]  # every earlier stage kept in the partial record
    assert (store.root / run_id / PARTIAL_FILE).is_file() and not (store.root / run_id / RECORD_FILE).exists()
    # the 8 concurrent writers' runs are all there, complete, with distinct ids
    writers = [r for r in store.iter_records() if r.get("name") == "writer"]
    assert len(writers) == 3 * info["writers"] and all(r["status"] == "completed" for r in writers)
    (store.root / run_id / f".{PARTIAL_FILE}.x{os.getpid()}.tmp").write_text("{")  # a write cut short
    out = CliRunner().invoke(store_group, ["check", "--store", str(store.root)])
    assert out.exit_code == 2 and f"incomplete {run_id}" in out.output and "killed or crashed" in out.output
    fixed = CliRunner().invoke(store_group, ["check", "--fix", "--store", str(store.root)])
    assert fixed.exit_code == 0, fixed.output
    assert (store.root / QUARANTINE_DIR / run_id / PARTIAL_FILE).is_file()  # set aside, not deleted
    assert not list((store.root / QUARANTINE_DIR / run_id).glob(".*.tmp"))
    assert store.load(OTHER)["status"] == "completed"
    assert CliRunner().invoke(store_group, ["check", "--store", str(store.root)]).exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("stage", STAGES)
def test_kill_at_every_stage(tmp_path, stage, sig):
    """~15 s each on 2 CPU cores."""
    store, run_id, _ = kill_at(tmp_path, stage, sig)
    record = store.load(run_id)
    assert record["status"] == "incomplete"
    done = [s["name"] for s in record.get("stages", []) if s.get("status") == "ok"]
    i = STAGES.index(stage)
    # every stage before the signalled one is kept, in order; short stages (a cached model loads
    # in milliseconds) may finish before the signal lands, so the prefix may be longer
    assert done == STAGES[:len(done)] and len(done) >= i, done
    assert json.loads((store.root / run_id / PARTIAL_FILE).read_text())["id"] == run_id \
        if (store.root / run_id / PARTIAL_FILE).exists() else stage == "load"
