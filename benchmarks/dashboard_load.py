"""How long does the dashboard's Runs page take to open on a store of many runs?

Generates a store of N realistic run records (default 500: every record field of
docs/record-format.md, per-sample rows, training logs; some failed, incomplete
and corrupt runs) in a temp dir, then times

* reading every record with ``harness.store.local.Store`` (the floor any UI pays),
* the Runs page's first (cold-cache) load through Streamlit's ``AppTest``,
* a second load (warm cache, what every rerun/filter change costs).

Usage::

    python benchmarks/dashboard_load.py            # 500 runs
    python benchmarks/dashboard_load.py --runs 2000 --keep /tmp/bigstore

``make_store`` is also used by tests/test_dashboard.py for the edge cases a real
run cannot produce on demand (corrupt and half-written folders, many runs).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from harness.store.local import Store, write_json, write_jsonl

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"

SUITES = {  # suite → (evaluator, {short metric: higher_is_better})
    "quick-mc": ("lm-eval", {"acc": True}),
    "openbookqa": ("lm-eval", {"acc": True, "acc_norm": True}),
    "advbench": ("safety", {"harmful_compliance": False, "refusal": True}),
    "xstest": ("safety", {"over_refusal": False}),
}
RECIPES = ["recipes/quickstart.toml", "recipes/safety-dpo.toml", "recipes/sft-only.toml"]
ACCELERATORS = [
    {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 1, "memory_gb": 79.6},
    {"kind": "cuda", "name": "NVIDIA A100-SXM4-40GB", "count": 8, "memory_gb": 39.4},
    {"kind": "cpu", "name": "cpu", "count": 1, "memory_gb": None},
]
N_ITEMS = 8  # per suite and phase
T0 = 1_790_000_000  # first run's start (epoch seconds)


def _samples(rng: random.Random, quality: float) -> list[dict]:
    rows = []
    for suite, (evaluator, metrics) in SUITES.items():
        for i in range(N_ITEMS):
            scores = {}
            for short, higher in metrics.items():
                good = rng.random() < quality
                scores[short] = float(good if higher else not good)
            refused = scores.get("refusal", 0.0) == 1.0
            rows.append({
                "evaluator": evaluator, "suite": suite, "item_id": str(i),
                "category": ["cyber", "violence", "privacy", None][i % 4] if evaluator == "safety" else None,
                "prompt": f"{suite} prompt #{i}: " + "lorem ipsum " * rng.randint(2, 12),
                "output": ("I can't help with that." if refused else f"Sure, here is answer {i}. " * rng.randint(1, 4)),
                "target": None if evaluator == "safety" else "A",
                "scores": scores,
                "filters": ({"refusal": {"label": "refusal" if refused else "compliance",
                                         "score": 0.9 if refused else 0.1, "flagged": refused, "category": None,
                                         "reason": "refusal phrase" if refused else "no refusal phrase"}}
                            if evaluator == "safety" else {}),
            })
    return rows


def _metrics(rows: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for suite, (_, metrics) in SUITES.items():
        for short, higher in metrics.items():
            vals = [r["scores"][short] for r in rows if r["suite"] == suite]
            mean = sum(vals) / len(vals)
            se = (mean * (1 - mean) / max(len(vals) - 1, 1)) ** 0.5
            out[f"{suite}/{short}"] = {"value": mean, "stderr": se, "n": len(vals), "higher_is_better": higher}
    return out


def make_record(i: int, run_id: str, rng: random.Random, status: str = "completed") -> dict:
    """One realistic record (the shape of docs/record-format.md)."""
    recipe = RECIPES[i % len(RECIPES)]
    acc = ACCELERATORS[i % len(ACCELERATORS)]
    model = ["tiny", "smollm2", "hf"][i % 3]
    trainer = ["sft", "dpo"][i % 2]
    name = Path(recipe).stem
    t0 = T0 + i * 600
    stages = [
        {"name": "load", "kind": "load", "status": "ok", "duration_s": round(rng.uniform(0.5, 3), 2)},
        {"name": "evaluate-before", "kind": "evaluate", "status": "ok", "duration_s": round(rng.uniform(5, 30), 2),
         "throughput": {"items_per_s": round(rng.uniform(2, 20), 2)}, "cached": False},
        {"name": f"train-0-{trainer}", "kind": "train", "status": "ok", "duration_s": round(rng.uniform(20, 300), 2),
         "throughput": {"train_samples_per_second": round(rng.uniform(1, 40), 2)}},
        {"name": "evaluate-after", "kind": "evaluate", "status": "ok", "duration_s": round(rng.uniform(5, 30), 2),
         "throughput": {"items_per_s": round(rng.uniform(2, 20), 2)}, "cached": False},
    ]
    error = None
    if status == "failed":
        stages[2]["status"] = "failed"
        stages = stages[:3]
        error = {"stage": stages[2]["name"], "type": "RuntimeError", "message": "CUDA out of memory",
                 "traceback": "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory"}
    text = (f'[run]\nname = "{name}"\ntags = ["bench"]\nseed = {i}\n\n[model]\nloader = "{model}"\n\n'
            f'[[train]]\ntrainer = "{trainer}"\ndata = "d"\n')
    return {
        "schema_version": 1, "id": run_id, "name": name, "kind": "run",
        "tags": ["bench", ["safety", "capability"][i % 2]] + (["nightly"] if i % 5 == 0 else []),
        "status": status, "gates_passed": None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 400)),
        "duration_s": round(sum(s["duration_s"] for s in stages), 2), "seed": i,
        "recipe": {"path": recipe, "text": text,
                   "resolved": {"run": {"name": name, "tags": ["bench"], "seed": i}, "model": {"loader": model},
                                "train": [{"trainer": trainer, "data": "d", "params": {"lr": 1e-5}}]}},
        "components": [
            {"role": "model", "kind": "model", "name": model, "fullname": f"{model}/{model}", "plugin": model,
             "distribution": "posttrain-harness", "version": "0.1.0", "params": {}},
            {"role": "train-0", "kind": "trainer", "name": trainer, "fullname": f"trl/{trainer}", "plugin": "trl",
             "distribution": "posttrain-harness", "version": "0.1.0", "params": {"beta": 0.1}},
        ],
        "environment": {"python": "3.11.7", "platform": "Linux-6.1-x86_64", "host": f"node-{i % 7}",
                        "git_sha": f"{rng.getrandbits(40):010x}",
                        "libraries": {"torch": "2.13.0", "transformers": "5.0.0", "trl": "1.16.0"},
                        "accelerator": dict(acc)},
        "model": {"name": model, "loader": model, "device": acc["kind"], "dtype": "bfloat16",
                  "parameters": 134_515_008, "fingerprint": f"{rng.getrandbits(64):016x}",
                  "fingerprint_after": f"{rng.getrandbits(64):016x}"},
        "data": [{"name": "d", "source": "jsonl", "format": "preference", "fingerprint": "ab12", "rows_in": 200,
                  "rows_out": 196, "filters": [{"filter": "pii", "action": "redact", "flagged": 4, "dropped": 0,
                                                "redacted": 4, "examples": [{"index": 3, "reason": "email"}]}]}],
        "stages": stages,
        "metrics": {}, "tasks": {s: {"content_hash": f"hash-{s}", "version": "1", "n": N_ITEMS,
                                     "settings": {"num_fewshot": 0}, "evaluator": ev}
                                 for s, (ev, _) in SUITES.items()},
        "samples": {}, "training": [], "gates": [], "error": error,
    }


def write_run(store: Store, i: int, rng: random.Random, status: str = "completed") -> str:
    """Write one run folder; ``status`` completed | failed | incomplete | corrupt."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(T0 + i * 600))
    run_id = f"{stamp}-{Path(RECIPES[i % len(RECIPES)]).stem}-{i:04x}"
    folder = store.root / run_id
    folder.mkdir(parents=True)
    record = make_record(i, run_id, rng, "failed" if status == "failed" else "completed")
    if status == "incomplete":
        write_json(folder / "record.partial.json", {**record, "stages": record["stages"][:1], "metrics": {}})
        return run_id
    if status == "corrupt":
        (folder / "run.json").write_text('{"name": "half-writ')
        return run_id
    before = _samples(rng, 0.4)
    write_jsonl(folder / "samples" / "before.jsonl", before)
    record["samples"]["before"] = "samples/before.jsonl"
    record["metrics"]["before"] = _metrics(before)
    if status == "completed":
        after = _samples(rng, 0.7)
        write_jsonl(folder / "samples" / "after.jsonl", after)
        record["samples"]["after"] = "samples/after.jsonl"
        record["metrics"]["after"] = _metrics(after)
        trainer = record["components"][1]["name"]
        log = f"train/0-{trainer}.jsonl"
        write_jsonl(folder / log, [{"step": s, "epoch": s / 20, "loss": 2.0 / (1 + s / 5) + rng.random() * 0.1,
                                    "learning_rate": 1e-5, **({"rewards/margins": s / 10, "rewards/chosen": s / 20,
                                                               "rewards/rejected": -s / 20} if trainer == "dpo" else {})}
                                   for s in range(1, 21)])
        record["training"] = [{"stage": f"train-0-{trainer}", "trainer": trainer, "data": "d", "log": log,
                               "metrics": {"train_runtime": 30.0, "train_loss": 0.8}}]
        after_hc = record["metrics"]["after"]["advbench/harmful_compliance"]["value"]
        record["gates"] = [{"metric": "advbench/harmful_compliance", "rule": "max", "threshold": 0.4,
                            "observed": after_hc, "bound": None, "passed": after_hc <= 0.4,
                            "message": f"{after_hc:.3f} {'<=' if after_hc <= 0.4 else '>'} 0.400"}]
        record["gates_passed"] = after_hc <= 0.4
    write_json(folder / "run.json", record)
    return run_id


def make_store(root: str | Path, n_runs: int = 500, seed: int = 0) -> Store:
    """A store of ``n_runs`` runs: mostly completed, every 25th failed, one incomplete, one corrupt."""
    store = Store(root)
    store.root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(n_runs):
        status = "failed" if i % 25 == 24 else "completed"
        if i == n_runs - 2:
            status = "incomplete"
        if i == n_runs - 1:
            status = "corrupt"
        write_run(store, i, rng, status)
    return store


def _time(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--keep", help="write the store here (kept) instead of a temp dir")
    args = parser.parse_args(argv)

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    tmp = tempfile.TemporaryDirectory()
    root = Path(args.keep or tmp.name) / "runs"
    t = time.perf_counter()
    store = make_store(root, args.runs)
    print(f"generated {args.runs} runs in {root} ({time.perf_counter() - t:.1f} s)")

    raw = _time(lambda: list(store.iter_records()))
    print(f"read every record with Store.iter_records (the dashboard's reader): {raw:.3f} s")

    import os
    os.environ["HARNESS_STORE"] = str(root)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    cold = _time(at.run)
    assert not at.exception, at.exception
    shown = len(at.dataframe[0].value)
    warm = _time(at.run, repeat=3)
    print(f"Runs page, cold cache (AppTest, {shown} rows shown): {cold:.3f} s")
    print(f"Runs page, warm cache (rerun): {warm:.3f} s")
    print(f"cold page / raw reading by id: {cold / raw:.1f}x ({cold - raw:.3f} s of Streamlit and table work)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
