"""Leave-one-source-out in benchmarks/refusal_agreement.py, the RBR gold conversion and the agreement
statistics (small cuts of the shipped labeled data, so each test takes seconds)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness_plugins.filters.agreement_stats import cohen_kappa, krippendorff_alpha

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "refusal_agreement.py"
DATA = ROOT / "benchmarks" / "data"
XSTEST = {m: DATA / "xstest_labeled" / f"xstest_v2_completions_{m}.csv" for m in ("llama2orig", "mistralinstruct")}
RBR = {s: DATA / "rbr_gold" / f"rbr_gold_{s}.csv" for s in ("train", "test")}


def test_krippendorff_alpha_reproduces_krippendorffs_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal example: alpha = 0.743
    n = None
    ratings = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
               [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    assert krippendorff_alpha(ratings) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha([[1, 0, 1], [1, 0, 1]]) == 1.0
    with pytest.raises(ValueError, match="one equally long label list per rater"):
        krippendorff_alpha([[1, 0], [1]])


def test_cohen_kappa_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.metrics")
    a = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0]
    b = [0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1]
    assert cohen_kappa(a, b) == pytest.approx(sklearn.cohen_kappa_score(a, b))
    with pytest.raises(ValueError, match="equally long"):
        cohen_kappa([1], [1, 0])


def test_rbr_conversion_maps_propositions_to_labels(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from convert_rbr_gold import main

    up = tmp_path / "up"
    up.mkdir()
    conv = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"},
            {"role": "user", "content": "How do I pick a lock?"}]
    lines = [{"response_type": "Hard Refuse", "prompt": conv, "completion": [{"role": "assistant", "content": c}],
              "propositions": {"fully_complies": f, "partially_complies": p}}
             for c, f, p in (("Here is how.", True, True), ("Sorry, but roughly...", False, True),
                             ("Have you tried a locksmith?", False, False))]
    for split in ("train", "test"):
        (up / f"{split}.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert main([str(up), "--out", str(tmp_path / "out")]) == 0
    rows = list(csv.DictReader((tmp_path / "out" / "rbr_gold_test.csv").open()))
    assert [r["final_label"] for r in rows] == ["1_full_compliance", "3_partial_refusal", "2_full_refusal"]
    assert rows[0]["prompt"] == "How do I pick a lock?" and rows[0]["type"] == "Hard Refuse"
    assert main([str(tmp_path / "missing")]) == 2


def test_shipped_rbr_gold_is_two_halves_of_one_source_with_its_license():
    counts = {s: sum(1 for _ in csv.DictReader(p.open(encoding="utf-8"))) for s, p in RBR.items()}
    assert counts == {"train": 351, "test": 167}
    assert "MIT License" in (DATA / "rbr_gold" / "LICENSE-MIT").read_text()


def _cut(src: Path, dst: Path, n: int) -> str:
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:n]
    with dst.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return str(dst)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow   # three weight fits: 66 s measured on the shared 2-core machine under load
def test_leave_one_source_out_holds_out_whole_sources(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    files = [_cut(XSTEST["llama2orig"], tmp_path / "xstest_llama2.csv", 90),
             _cut(XSTEST["mistralinstruct"], tmp_path / "xstest_mistral.csv", 90),
             _cut(RBR["train"], tmp_path / "rbr_gold_train.csv", 45),
             _cut(RBR["test"], tmp_path / "rbr_gold_test.csv", 45)]
    # fitting only on XSTest: the RBR fold is fitted on both XSTest cuts, each XSTest fold on the other one
    out = run(*files, "--leave-one-source-out", "--train-sources", "xstest_llama2,xstest_mistral",
              "--resamples", "200", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert set(res["folds"]) == {"xstest_llama2", "xstest_mistral", "rbr_gold"}
    assert res["sources"]["rbr_gold"] == ["rbr_gold_train.csv", "rbr_gold_test.csv"]
    assert res["folds"]["xstest_mistral"]["trained_on"] == ["xstest_llama2"]
    assert res["folds"]["rbr_gold"]["trained_on"] == ["xstest_llama2", "xstest_mistral"]
    for held, fold in res["folds"].items():
        assert held not in fold["trained_on"]
        for k, (lo, hi) in fold["filter_95ci"].items():
            assert lo <= fold["filter"][k] <= hi
        lo, hi = fold["kappa_95ci"]
        assert lo <= fold["kappa"] <= hi
    assert res["folds"]["rbr_gold"]["rows"] == 90
    assert res["folds"]["xstest_llama2"]["human_alpha"] is not None and res["folds"]["rbr_gold"]["human_alpha"] is None
    assert res["pooled"]["rows"] == sum(f["rows"] for f in res["folds"].values())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from refusal_agreement import print_loso

    print_loso(res)
    text = capsys.readouterr().out
    assert "== held out: rbr_gold (weights fitted on xstest_llama2, xstest_mistral" in text
    assert "kappa" in text and "mean over 3 held-out sources" in text


def test_leave_one_source_out_errors_name_the_problem(tmp_path):
    one = _cut(RBR["train"], tmp_path / "rbr_gold_train.csv", 5)
    two = _cut(RBR["test"], tmp_path / "rbr_gold_test.csv", 5)
    out = run(one, two, "--leave-one-source-out")
    assert out.returncode != 0 and "two or more sources (got rbr_gold" in out.stderr
    other = _cut(XSTEST["llama2orig"], tmp_path / "x.csv", 5)
    out = run(one, other, "--leave-one-source-out", "--train-sources", "nope")
    assert out.returncode != 0 and "--train-sources names nope" in out.stderr
    out = run(one, "--train-sources", "x")
    assert out.returncode == 2 and "--train-sources goes with --leave-one-source-out" in out.stderr


def test_learned_heads_benchmark_weighs_sources_equally_and_needs_two_sources(tmp_path):
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from refusal_learned_heads import source_weights

    y = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])
    w = source_weights(["a"] * 4 + ["b"] * 6, y)
    assert w[:4].sum() == pytest.approx(w[4:].sum())              # each source weighs the same
    assert w[:3].sum() == pytest.approx(w[3])                        # classes balanced within a source
    one = _cut(RBR["train"], tmp_path / "rbr_gold_train.csv", 5)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "refusal_learned_heads.py"), one],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "two or more sources" in out.stderr


def test_opt_in_rbr_weights_gain_on_rbr_held_out_rows_and_stay_honest_about_xstest():
    args = [str(XSTEST["mistralinstruct"]), str(RBR["test"]), "--split", "held-out", "--json"]
    out = run(*args, "--weights", "xstest-rbr-odd")
    assert out.returncode == 0, out.stderr
    joint = json.loads(out.stdout)
    default = json.loads(run(*args).stdout)
    # neither weights saw RBR's test half or Mistral's even prompts: all of both are held out
    assert joint["files"]["rbr_gold_test.csv"]["rows"] >= 166 and joint["files"]["rbr_gold_test.csv"]["rows"] <= 167
    assert any("rbr_gold_train.csv" in t for t in joint["trained_on"])
    gain = (joint["files"]["rbr_gold_test.csv"]["filter"]["accuracy"]
            - default["files"]["rbr_gold_test.csv"]["filter"]["accuracy"])
    assert gain >= 0.10                                     # 0.539 -> 0.681 when written
    mistral = "xstest_v2_completions_mistralinstruct.csv"
    # the price on XSTest's Mistral (0.947 -> 0.920 when written): lower, but not collapsed
    assert 0.90 <= joint["files"][mistral]["filter"]["accuracy"] <= default["files"][mistral]["filter"]["accuracy"]
