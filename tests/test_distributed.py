"""One run across N processes: `harness run --launcher accelerate --num-processes 2` on the CPU (gloo).

The 2-process run must leave exactly one run folder, written by rank 0 alone, whose "before"
metrics equal the 1-process run's and whose training loss curve follows it. The 2-process run
uses half the per-device batch, so the global batch (and, through accelerate's seedable sampler,
the examples of every step) is the 1-process run's: the losses then differ only by float
summation order (measured: < 1e-6 relative). The tolerance is 1e-4 relative. Both stages stay
within their first epoch: at the epoch's incomplete last batch accelerate pads the ranks to even
batches with repeated examples, and the curves part by ~1% from there on (measured; expected).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import distributed
from harness.cli.launch import launcher_command, strip_launcher_options

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "recipes" / "quickstart.toml")
# SFT: 4 steps of 16 of the 67 facts, DPO: 2 steps of 8 of the 32 pairs: inside the first epoch
SHORT = ["--set", "train.0.max_steps=4", "--set", "train.1.max_steps=2"]
HALF_BATCH = ["--set", "train.0.per_device_train_batch_size=8", "--set", "train.1.per_device_train_batch_size=4"]


# ---------------------------------------------------------------- sharding and gathering, one process

@pytest.mark.parametrize("n", [0, 1, 5, 8, 13])
@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_shards_are_round_robin_and_unshard_restores_the_order(monkeypatch, n, world):
    items = [f"item-{i}" for i in range(n)]
    parts = []
    monkeypatch.setenv("WORLD_SIZE", str(world))
    for r in range(world):
        monkeypatch.setenv("RANK", str(r))
        parts.append(distributed.shard(items))
    assert [len(p) for p in parts] == [len(range(r, n, world)) for r in range(world)]
    assert sorted(sum(parts, [])) == sorted(items)
    assert [p[0] for p in parts if p] == items[:world]  # rank r starts at item r
    assert distributed.unshard(parts) == items


def test_one_process_helpers_are_no_ops(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    distributed.init()
    distributed.barrier()
    assert distributed.gather_objects({"a": 1}) == [{"a": 1}]
    assert distributed.broadcast_object([1, 2]) == [1, 2]
    assert distributed.failed_ranks(None) == []
    assert distributed.failed_ranks(ValueError("bad")) == [(0, "ValueError: bad")]
    assert distributed.peers_failed(None) is None and distributed.peers_failed(ValueError("bad")) is None
    assert distributed.map_sharded(lambda xs: [x * 2 for x in xs], [3, 1, 2]) == [6, 2, 4]
    assert distributed.describe("cpu") == {"world_size": 1}
    with pytest.raises(ZeroDivisionError):
        distributed.from_main(lambda: 1 / 0)


def test_launcher_options_are_dropped_from_the_relaunched_command():
    args = ["run", "r.toml", "--launcher", "accelerate", "--num-processes=2", "--set", "a=1",
            "--accelerate-config", "cfg.yaml", "--json"]
    assert strip_launcher_options(args) == ["run", "r.toml", "--set", "a=1", "--json"]
    torchrun = launcher_command("torchrun", 4, None, ["run", "r.toml"])
    assert torchrun[1:4] == ["-m", "torch.distributed.run", "--nnodes"]
    assert "--nproc-per-node" in torchrun and torchrun[-4:] == ["-m", "harness", "run", "r.toml"]
    with_config = launcher_command("accelerate", None, "cfg.yaml", ["run", "r.toml"])
    assert "--config_file" in with_config and "--multi_gpu" not in with_config
    with pytest.raises(ValueError, match="--num-processes"):
        launcher_command("torchrun", None, None, ["run"])


def _cli(args: list[str]):
    from click.testing import CliRunner

    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    return CliRunner().invoke(cli, args)


def test_launcher_options_need_a_launcher():
    result = _cli(["run", RECIPE, "--num-processes", "2"])
    assert result.exit_code == 2 and "go with --launcher" in result.output


RANKS_SCRIPT = """
import json, sys
from harness import distributed

distributed.init()
out = {"rank": distributed.rank()}
# uneven shards: 5 items on 2 ranks; each rank tags its replies, the order must come back
out["mapped"] = distributed.map_sharded(lambda xs: [f"{x}@{distributed.rank()}" for x in xs], list("abcde"))
out["run_id"] = distributed.from_main(lambda: f"id-from-rank-{distributed.rank()}")
try:
    distributed.from_main(lambda: 1 / 0)
except ZeroDivisionError:
    out["from_main_error"] = "own"
except distributed.PeerFailed as exc:
    out["from_main_error"] = str(exc)
boom = ValueError("bad data") if distributed.rank() == 1 else None
out["failed"] = distributed.failed_ranks(boom)
peer = distributed.peers_failed(boom)  # the rank that did not fail learns who did; the failed one gets None
out["peer"] = None if peer is None else str(peer)
out["devices"] = distributed.describe("cpu")["ranks"]
open(sys.argv[1] + f"/rank{distributed.rank()}.json", "w").write(json.dumps(out))
"""


def test_two_real_ranks_gather_in_order_and_learn_each_others_failures(tmp_path):
    script = tmp_path / "ranks.py"
    script.write_text(RANKS_SCRIPT)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["mapped"] == r1["mapped"] == ["a@0", "b@1", "c@0", "d@1", "e@0"]
    assert r0["run_id"] == r1["run_id"] == "id-from-rank-0"
    assert r0["from_main_error"] == "own" and r1["from_main_error"] == "rank 0 failed: ZeroDivisionError: division by zero"
    assert r0["failed"] == r1["failed"] == [[1, "ValueError: bad data"]]
    assert r0["peer"] == "rank 1 failed: ValueError: bad data" and r1["peer"] is None
    assert [d["rank"] for d in r0["devices"]] == [0, 1]


# ---------------------------------------------------------------- the 2-process run

def _harness(args: list[str], cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _only_run(store: Path) -> tuple[Path, dict]:
    folders = [p for p in store.iterdir()]
    assert len(folders) == 1, f"expected one run folder, found {[p.name for p in folders]}"
    return folders[0], json.loads((folders[0] / "run.json").read_text())


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _losses(folder: Path, record: dict) -> list[list[float]]:
    return [[row["loss"] for row in map(json.loads, (folder / t["log"]).read_text().splitlines()) if "loss" in row]
            for t in record["training"]]


def _cache_entries(cache: Path) -> int:
    """Cached results; not the by-loader aliases, which only a one-process run writes (its cache
    hit needs no model, see harness/store/cache.py)."""
    return sum(1 for p in cache.rglob("*.json") if "by-loader" not in p.parts) if cache.exists() else 0


def test_two_processes_make_one_run_equal_to_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache-one"))
    one = _cli(["run", RECIPE, "--store", str(tmp_path / "one"), *SHORT])  # in this process: no start-up
    two = _harness(["run", RECIPE, "--store", str(tmp_path / "two"), *SHORT, *HALF_BATCH,
                    "--launcher", "accelerate", "--num-processes", "2", "--json"], tmp_path / "cache-two")
    assert one.exit_code in (0, 1), one.output[-3000:]
    assert two.returncode == one.exit_code, two.stderr[-5000:]  # rank 0's verdict, not the launcher's
    folder1, rec1 = _only_run(tmp_path / "one")
    folder2, rec2 = _only_run(tmp_path / "two")  # one folder: rank 1 made none

    assert rec2["status"] == "completed" and rec2["gates_passed"] == rec1["gates_passed"]
    assert rec2["metrics"]["before"] == rec1["metrics"]["before"]
    before1 = [json.loads(line) for line in (folder1 / "samples" / "before.jsonl").read_text().splitlines()]
    before2 = [json.loads(line) for line in (folder2 / "samples" / "before.jsonl").read_text().splitlines()]
    assert [(r["suite"], r["item_id"]) for r in before2] == [(r["suite"], r["item_id"]) for r in before1]
    # safety replies were generated on two ranks and gathered: same replies, same order
    assert [r.get("output") for r in before2] == [r.get("output") for r in before1]
    for a, b in zip(before1, before2):  # lm-eval's per-choice log-likelihoods: other batches, other rounding
        assert all(math.isclose(x, y, rel_tol=1e-5) for x, y in zip(a.get("loglikelihoods") or [],
                                                                      b.get("loglikelihoods") or []))

    # the same curve from half the per-device batch: rank 1's gradients were in every step
    curves1, curves2 = _losses(folder1, rec1), _losses(folder2, rec2)
    assert [len(c) for c in curves2] == [len(c) for c in curves1] == [4, 2]
    for c1, c2 in zip(curves1, curves2):
        assert all(math.isclose(a, b, rel_tol=1e-4) for a, b in zip(c1, c2)), (c1, c2)

    assert [t["metrics"]["config"]["distributed_type"] for t in rec2["training"]] == ["MULTI_CPU"] * 2
    assert [t["metrics"]["config"]["processes"] for t in rec2["training"]] == [2, 2]
    dist = rec2["environment"]["distributed"]
    assert dist["world_size"] == 2 and dist["launcher"] == "accelerate" and dist["backend"] == "gloo"
    assert [r["rank"] for r in dist["ranks"]] == [0, 1] and {r["device"] for r in dist["ranks"]} == {"cpu"}
    assert rec1["environment"]["distributed"] == {"world_size": 1}
    # what rank 0 wrote is exactly what the one process wrote (no second partial record, log or model)
    assert _files(folder2) == _files(folder1)
    assert _cache_entries(tmp_path / "cache-two") == _cache_entries(tmp_path / "cache-one") > 0
    assert "[rank 1]" in two.stderr
    assert json.loads(two.stdout)["id"] == folder2.name  # stdout: rank 0's result alone, parseable


# ---------------------------------------------------------------- device pinning (no GPU here: torch.cuda faked)

class _FakeCuda:
    """What pick_device asks torch.cuda, on an 8-GPU node (a GPU cannot run here)."""

    def __init__(self):
        self.current = None

    def is_available(self):
        return True

    def device_count(self):
        return 8

    def is_bf16_supported(self):
        return True

    def set_device(self, device):
        self.current = str(device)


def test_each_rank_takes_its_own_gpu_and_makes_it_current(monkeypatch):
    import torch

    from harness.runtime import pick_device

    fake = _FakeCuda()
    monkeypatch.setattr(torch, "cuda", fake)
    monkeypatch.delenv("HARNESS_DEVICE", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert pick_device() == ("cuda:3", "bfloat16") and fake.current == "cuda:3"
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("HARNESS_DEVICE", "cuda:5")  # one process pinned by hand: the Trainer's "cuda" is cuda:5
    assert pick_device() == ("cuda:5", "bfloat16") and fake.current == "cuda:5"


def test_the_lm_eval_rng_guard_forks_only_the_models_gpu(monkeypatch):
    import contextlib

    import torch

    from harness_plugins.lm_eval_plugin.runner import _global_rng_kept

    forked = []

    @contextlib.contextmanager
    def fork_rng(devices):
        forked.append(list(devices))
        yield

    fake = _FakeCuda()
    fake.current_device = lambda: 5
    monkeypatch.setattr(torch, "cuda", fake)
    monkeypatch.setattr(torch.random, "fork_rng", fork_rng)
    for device in ("cuda:3", "cuda", "cpu"):
        with _global_rng_kept(device):
            pass
    assert forked == [[3], [5], []]  # never every visible GPU (a CUDA context on each)


def test_the_launcher_is_recorded_from_the_environment(monkeypatch):
    for var in [k for k in os.environ if k.startswith(("ACCELERATE_", "TORCHELASTIC_", "HARNESS_LAUNCHER"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    assert distributed.launcher() == "torchrun"
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    assert distributed.launcher() == "accelerate"
    monkeypatch.setenv("HARNESS_LAUNCHER", "torchrun")  # harness run --launcher says which it used
    assert distributed.launcher() == "torchrun"
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert distributed._sharding() == "fsdp"


def test_checkpoint_selection_under_a_launcher_is_refused_before_any_work(tmp_path):
    store = tmp_path / "runs"
    proc = _harness(["run", str(ROOT / "recipes" / "quickstart-select.toml"), "--store", str(store),
                     "--launcher", "accelerate", "--num-processes", "2"], tmp_path / "cache")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "train.evaluate_every" in proc.stderr and "checkpoint selection runs in one process" in proc.stderr
    assert not store.exists() or not any(store.iterdir()), "a refused run left a folder"
