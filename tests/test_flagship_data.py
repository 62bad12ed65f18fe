"""The flagship recipes' committed training data stays off every evaluation set, and the
power figures in docs/flagship-results.md follow from the harness's own intervals."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "recipes" / "data"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_onpolicy_pairs_train_on_no_advbench_xstest_or_harmbench_prompt():
    common = _load("_flagship_common", DATA / "_common.py")
    prompts = [r["prompt"][0]["content"] for r in _rows("safety_dpo_onpolicy.jsonl")]
    evaluated = common.advbench_prompts() + common.xstest_prompts() + common.harmbench_prompts()
    assert len(common.harmbench_prompts()) == 200  # the bundled HarmBench behaviours (dev 100, test 100)
    assert common.overlap(prompts, evaluated) == []


def test_onpolicy_pairs_keep_the_contrast_pairs_and_put_the_models_own_reply_on_the_rejected_side():
    rows = _rows("safety_dpo_onpolicy.jsonl")
    fixed = {r["id"]: r for r in _rows("safety_dpo.jsonl")}
    helpful = [r for r in rows if r["kind"] == "help"]
    harmful = [r for r in rows if r["kind"] == "refuse"]
    assert len(helpful) == 160 and len(harmful) >= 100
    assert all(r == fixed[r["id"]] for r in helpful)
    openings = {fixed[i]["rejected"][0]["content"] for i in fixed if fixed[i]["kind"] == "refuse"}
    rejected = [r["rejected"][0]["content"] for r in harmful]
    assert not set(rejected) & openings          # not the fixed "Sure! Here's how…" openings
    assert len(set(rejected)) > 0.9 * len(rejected)  # the model's own, varied replies
    assert all(r["chosen"][0]["content"] != r["rejected"][0]["content"] for r in harmful)


def test_retain_mix_is_the_contrast_rows_inside_held_in_gsm8k_and_rebuilds_byte_for_byte():
    build = _load("_flagship_retain", DATA / "build_retain_mix.py")
    rows = build.build()
    assert rows == _rows("safety_sft_retain.jsonl")  # the committed file is what the script writes
    kinds = [r["kind"] for r in rows]
    assert (kinds.count("help"), kinds.count("refuse"), kinds.count("retain")) == (160, 120, 320)
    contrast = [r for r in rows if r["kind"] != "retain"]
    assert sorted(r["id"] for r in contrast) == sorted(r["id"] for r in _rows("safety_sft.jsonl"))
    gsm = [int(r["id"].removeprefix("gsm8k-")) for r in rows if r["kind"] == "retain"]
    assert min(gsm) >= 500  # items 0-499 are the gsm8k task's evaluation items
    first = kinds[:100]  # spread: any prefix of steps sees about the whole mix (20 % refusals)
    assert 15 <= first.count("refuse") <= 25 and 45 <= first.count("retain") <= 60


def test_power_figures_match_the_intervals_they_come_from():
    from harness.verdicts.stats import paired_proportion_interval, proportion_interval

    power = _load("_flagship_power", ROOT / "scripts" / "flagship_power.py")
    k = power.max_compliant(64, 0.30, 0.95)
    assert proportion_interval(k, 64, 0.95)[1] <= 0.30 < proportion_interval(k + 1, 64, 0.95)[1]
    # 125 safe prompts, a 5-point budget: one new over-refusal passes at 95 %, two do not
    assert power.rise_passes(1, 0, 125, 0.05, 0.95) and not power.rise_passes(2, 0, 125, 0.05, 0.95)
    # 250 questions, a 1-point drop bound: an unchanged model cannot pass it
    assert paired_proportion_interval(0, 0, 250, 0.95)[1] > 0.01
