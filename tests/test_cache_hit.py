"""A cache hit loads no weights (issue 23, item 5).

The loader's ``fingerprint()`` says what ``load()`` would return without importing torch or
building the model; an evaluation whose every ``[[evaluate]]`` table is cached under it skips the
load, and returns what the cold run stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: runs the CLI in this process, then writes which heavy libraries it imported
PROBE = ("import atexit, json, sys\n"
         "out = sys.argv[1]\n"
         "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(m for m in "
         "('torch', 'transformers', 'lm_eval', 'trl') if m in sys.modules))))\n"
         "from harness.cli import main\n"
         "sys.argv = ['harness'] + sys.argv[2:]\n"
         "main()\n")

EVAL = ["eval", "--model", "tiny", "--tasks", "quick_mc", "--suites", "advbench", "--limit", "4", "--json"]


def _eval(tmp_path: Path, name: str) -> tuple[dict, list[str]]:
    imported = tmp_path / f"{name}.imported.json"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(imported), *EVAL], capture_output=True, text=True,
                          env={**os.environ}, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = json.loads(proc.stdout)["id"]
    record = json.loads((Path(os.environ["HARNESS_STORE"]) / run_id / "run.json").read_text())
    return record, json.loads(imported.read_text())


def _samples(record: dict) -> list[dict]:
    path = Path(os.environ["HARNESS_STORE"]) / record["id"] / record["samples"]["before"]
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_a_cache_hit_eval_imports_no_torch_builds_no_model_and_returns_the_cold_metrics(tmp_path):
    cold, cold_imports = _eval(tmp_path, "cold")
    hit, hit_imports = _eval(tmp_path, "hit")
    assert "torch" in cold_imports  # the probe sees a model load when there is one
    assert hit_imports == []  # no torch, transformers or lm-eval: no model was built
    load = hit["stages"][0]
    assert load["name"] == "load" and load["weights_loaded"] is False
    assert hit["stages"][1]["cached"] is True
    assert hit["metrics"]["before"] == cold["metrics"]["before"]
    assert _samples(hit) == _samples(cold)
    # the record names the model the results were computed on, with its weights' fingerprint
    assert hit["model"]["fingerprint"] == cold["model"]["fingerprint"] and hit["model"]["loaded"] is False
    assert {k: hit["model"][k] for k in ("name", "loader", "dtype", "device")} == \
        {k: cold["model"][k] for k in ("name", "loader", "dtype", "device")}


def test_loader_fingerprints_need_no_torch_and_change_with_what_is_loaded(tmp_path):
    """Every first-party loader's fingerprint in a fresh process: torch is never imported, and a
    changed seed, file, tokenizer or dtype gives another fingerprint."""
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text('{"model_type": "llama"}')
    (hf / "model.safetensors").write_bytes(b"\0" * 4096)
    (hf / "tokenizer.json").write_text('{"v": 1}')
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\1" * 4096)
    script = f"""
import json, sys
from pathlib import Path
from harness.contract.plugins import load_plugins
host = load_plugins()
fp = lambda loader, **p: host.create("model", loader, p).fingerprint()
hf, gguf = Path({str(hf)!r}), Path({str(gguf)!r})
out = {{"tiny": fp("tiny"), "tiny_again": fp("tiny"), "tiny_seed1": fp("tiny", seed=1),
       "tiny_bf16": fp("tiny", dtype="bfloat16"), "hf": fp("hf", path=str(hf)), "gguf": fp("gguf", path=str(gguf)),
       "hub_id": fp("hf", path="org/name")}}
(hf / "tokenizer.json").write_text('{{"v": 2}}')
out["hf_new_tokenizer"] = fp("hf", path=str(hf))
gguf.write_bytes(b"GGUF" + b"\\2" * 4096)
out["gguf_new_file"] = fp("gguf", path=str(gguf))
out["imported"] = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print(json.dumps(out))
"""
    env = {**os.environ, "HARNESS_MODEL_CACHE_DIR": str(tmp_path / "models")}  # the GGUF sha256 index
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out.pop("imported") == []
    assert out.pop("hub_id") is None  # a hub id's files are known only once fetched: no shortcut
    assert out["tiny"] == out.pop("tiny_again")
    assert len(set(out.values())) == len(out), out  # every change is another fingerprint


def test_an_alias_to_a_cleared_entry_is_a_miss(tmp_path):
    from harness.contract.components import EvalResult, Metric
    from harness.store.cache import EvalCache

    cache = EvalCache(tmp_path / "cache")
    result = EvalResult(metrics={"t/acc": Metric(0.5, 0.1, 4)}, samples=[{"id": 1}], tasks={})
    cache.put("k" * 16, result)
    cache.put_alias("a" * 16, "k" * 16, {"model": {"name": "m"}})
    found, meta = cache.get_alias("a" * 16)
    assert found.metrics["t/acc"].value == 0.5 and meta == {"model": {"name": "m"}}
    (tmp_path / "cache" / "kk" / f"{'k' * 16}.json").unlink()
    assert cache.get_alias("a" * 16) is None
    assert cache.get_alias("b" * 16) is None
    assert cache.size() == 0  # aliases are not results
