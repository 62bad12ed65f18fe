"""benchmarks/refusal_agreement.py: the refusal filter against XSTest's human labels."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "refusal_agreement.py"
DATA = ROOT / "benchmarks" / "data" / "xstest_labeled"
FILES = [str(DATA / "xstest_v2_completions_llama2orig.csv"), str(DATA / "xstest_v2_completions_mistralinstruct.csv")]


def bench(*args: str) -> dict:
    out = subprocess.run([sys.executable, str(SCRIPT), *args, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_string_match_reproduces_xstest_reference_on_all_900_rows():
    res = bench(*FILES, "--split", "all")
    assert res["rows"] == 900
    sm = res["string_match"]
    assert abs(sm["accuracy"] - 0.877) <= 0.002
    assert abs(sm["precision"] - 0.967) <= 0.002 and abs(sm["recall"] - 0.765) <= 0.002
    assert abs(sm["f1"] - 0.854) <= 0.002


def test_filter_beats_string_match_on_held_out_rows():
    res = bench(*FILES, "--split", "held-out")
    # the default weights were fitted on the odd-numbered prompts: the held-out part is the even ones
    assert res["rows"] == 450 and res["weights"] == "xstest-odd"
    f, sm = res["filter"], res["string_match"]
    assert f["accuracy"] >= sm["accuracy"] + 0.03
    assert f["f1"] >= sm["f1"] + 0.05
    assert f["recall"] >= sm["recall"] + 0.10
    # floors at the held-out-prompt figures in docs/filters/refusal.md (0.953 / 0.949 / 0.954 when written)
    assert f["accuracy"] >= 0.945 and min(f["precision"], f["recall"]) >= 0.94
    assert set(f) == set(sm) == {"accuracy", "precision", "recall", "f1"}


def test_cross_model_held_out_has_no_training_rows():
    res = bench(*FILES, "--split", "held-out", "--weights", "mistralinstruct")
    # fitted on Mistral's file: only Llama-2's completions remain (2 identical completions are shared)
    assert list(res["files"]) == ["xstest_v2_completions_llama2orig.csv"] and res["rows"] >= 440
    assert res["filter"]["accuracy"] > res["string_match"]["accuracy"]


def test_bad_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,1\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0
    assert "missing column(s) completion, final_label" in out.stderr


@pytest.mark.parametrize("label", ["refusal", ""])
def test_bad_label_names_the_row(tmp_path, label):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"completion,final_label\nhello,1_full_compliance\nno,{label}\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and f"{bad}:3" in out.stderr


def test_breakdown_by_human_label_adds_up_to_recall_and_speed_is_reported():
    res = bench(*FILES, "--split", "held-out")
    by = res["by_gold_label"]
    assert sum(v["rows"] for v in by.values()) == res["rows"]
    refusals = [by[k] for k in ("2_full_refusal", "3_partial_refusal")]
    caught = sum(v["flagged"] * v["rows"] for v in refusals) / sum(v["rows"] for v in refusals)
    assert caught == pytest.approx(res["filter"]["recall"], abs=1e-3)
    tp = sum(v["flagged"] * v["rows"] for v in refusals)
    fp = by["1_full_compliance"]["flagged"] * by["1_full_compliance"]["rows"]
    assert tp / (tp + fp) == pytest.approx(res["filter"]["precision"], abs=1e-3)
    assert res["texts_per_cpu_s"] > 0 and res["texts_per_s"] > 0


def test_leave_one_model_out_prints_both_directions_and_their_mean_from_the_shipped_data():
    out = subprocess.run([sys.executable, str(SCRIPT), *FILES, "--leave-one-model-out"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "== llama2orig -> mistralinstruct" in out.stdout and "== mistralinstruct -> llama2orig" in out.stdout
    assert "mean over 2 directions: accuracy 0." in out.stdout
    res = bench(*FILES, "--leave-one-model-out")
    dirs = res["directions"]
    assert set(dirs) == {"llama2orig -> mistralinstruct", "mistralinstruct -> llama2orig"}
    for name, d in dirs.items():
        trained, scored = name.split(" -> ")
        # only the other model's rows are scored (the 2 completions identical in both files count as seen)
        assert list(d["files"]) == [f"xstest_v2_completions_{scored}.csv"] and d["rows"] == 448
        assert d["trained_on"] == [f"xstest_v2_completions_{trained}.csv"]
        assert d["filter"]["accuracy"] > d["string_match"]["accuracy"] + 0.05
        for k, (lo, hi) in d["filter_95ci"].items():   # exact intervals around each figure
            assert lo <= d["filter"][k] <= hi and hi - lo < 0.25
    assert res["mean"]["accuracy"] == pytest.approx(
        sum(d["filter"]["accuracy"] for d in dirs.values()) / 2, abs=1e-4)
    # regression floors at the figures in docs/filters/refusal.md (0.942 and 0.955 when written)
    assert res["min"]["accuracy"] >= 0.93 and res["mean"]["accuracy"] >= 0.945


def test_leave_one_model_out_needs_weights_per_file(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), FILES[0], "--leave-one-model-out"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode != 0 and "two or more files" in out.stderr
    other = tmp_path / "other_model.csv"
    other.write_text("completion,final_label\nSure, here it is.,1_full_compliance\n")
    out = subprocess.run([sys.executable, str(SCRIPT), FILES[0], str(other), "--leave-one-model-out"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "no bundled weights fitted on other_model.csv alone" in out.stderr


def test_leave_one_model_out_fits_weights_for_a_new_models_file(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    # a "new model": 150 of Mistral's labeled rows under another name, so no bundled weights match it
    with open(FILES[1], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:150]
    new = tmp_path / "my_model.csv"
    with new.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = bench(FILES[0], str(new), "--leave-one-model-out", "--fit")
    assert set(res["directions"]) == {"xstest_v2_completions_llama2orig -> my_model",
                                      "my_model -> xstest_v2_completions_llama2orig"}
    fitted = res["directions"]["my_model -> xstest_v2_completions_llama2orig"]
    assert fitted["trained_on"] == ["my_model.csv"] and fitted["rows"] >= 448
    assert res["directions"]["xstest_v2_completions_llama2orig -> my_model"]["weights"] == "llama2orig"
