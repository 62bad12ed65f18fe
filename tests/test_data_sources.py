"""Data sources: local files (jsonl/csv/parquet) and the bundled sets of the ``suites`` plugin."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness_plugins.safety.prompt_sets import load_prompt_set, prompt_set_names
from harness_plugins.suites import hh_rlhf
from harness_plugins.suites.prompts import DATA

QA = [{"question": f"What is {i} + {i}?", "answer": str(2 * i), "topic": "math"} for i in range(10)]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _source(host, name, **params):
    return host.create("data_source", name, params)


# --------------------------------------------------------------- file sources


def test_jsonl_column_mapping_keeps_metadata_and_ids(host, tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", QA)
    src = _source(host, "jsonl", path=str(path), format="prompt_completion",
                  columns={"prompt": "question", "completion": "answer"})
    rows = src.load(seed=0)
    assert len(rows) == 10
    assert rows[3] == {"prompt": "What is 3 + 3?", "completion": "6", "id": "3", "topic": "math"}
    assert src.data_format() == "prompt_completion"


def test_jsonl_chat_conversion_with_system_prompt(host, tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", QA[:2])
    rows = _source(host, "jsonl", path=str(path), columns={"prompt": "question", "completion": "answer"},
                   chat=True, system_prompt="Answer briefly.").load()
    assert rows[1]["prompt"] == [{"role": "system", "content": "Answer briefly."},
                                 {"role": "user", "content": "What is 1 + 1?"}]
    assert rows[1]["completion"] == [{"role": "assistant", "content": "2"}]
    # The converted rows are what TRL takes: a datasets.Dataset with the format's columns.
    ds = harness.TrainData("qa", "prompt_completion", rows).to_dataset()
    assert ds.column_names == ["prompt", "completion"] and ds[0]["prompt"][0]["role"] == "system"


def test_chat_format_messages_get_system_message_once(host, tmp_path):
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    path = _jsonl(tmp_path / "chat.jsonl", [{"messages": msgs},
                                            {"messages": [{"role": "system", "content": "own"}] + msgs}])
    src = _source(host, "jsonl", path=str(path), chat=True, system_prompt="S")
    assert src.data_format() == "chat"  # inferred from the first row, before loading
    rows = src.load()
    assert [m["role"] for m in rows[0]["messages"]] == ["system", "user", "assistant"]
    assert rows[1]["messages"][0] == {"role": "system", "content": "own"}


def test_csv_infers_format_and_limits(host, tmp_path):
    path = tmp_path / "pc.csv"
    path.write_text("prompt,completion,id\n" + "".join(f"p{i},c{i},row-{i}\n" for i in range(6)))
    src = _source(host, "csv", path=str(path), limit=4)
    assert src.data_format() == "prompt_completion"
    rows = src.load()
    assert [r["id"] for r in rows] == ["row-0", "row-1", "row-2", "row-3"]
    assert rows[0]["prompt"] == "p0" and rows[0]["completion"] == "c0"


def test_parquet_preference_with_mapping(host, tmp_path):
    import datasets

    path = tmp_path / "pref.parquet"
    datasets.Dataset.from_list([{"q": f"q{i}", "good": f"g{i}", "bad": f"b{i}"} for i in range(5)]).to_parquet(path)
    src = _source(host, "parquet", path=str(path),
                  columns={"prompt": "q", "chosen": "good", "rejected": "bad"})
    assert src.data_format() == "preference"
    rows = src.load()
    assert rows[4] == {"prompt": "q4", "chosen": "g4", "rejected": "b4", "id": "4"}


def test_shuffle_is_a_seeded_subsample(host, tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", QA)
    base = {"path": str(path), "columns": {"prompt": "question", "completion": "answer"}, "limit": 4,
            "shuffle": True}

    def ids(run_seed=0, **kw):
        return [r["id"] for r in _source(host, "jsonl", **{**base, **kw}).load(seed=run_seed)]

    assert ids(1) == ids(1)           # the run seed decides when `seed` is not given
    assert ids(1) != ids(2)
    assert ids(5, seed=7) == ids(9, seed=7)  # an explicit seed wins
    assert len(set(ids(1))) == 4
    assert ids(shuffle=False) == ["0", "1", "2", "3"]
    rows = _source(host, "jsonl", **base).load(seed=3)
    assert harness.items_hash(rows) != harness.items_hash(_source(host, "jsonl", **base).load(seed=4))


def test_missing_file_names_the_path(host, tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        _source(host, "jsonl", path=str(missing), format="text").load()


def test_missing_column_names_it_and_lists_available(host, tmp_path):
    path = _jsonl(tmp_path / "qa.jsonl", QA)
    with pytest.raises(harness.ParamError) as err:
        _source(host, "jsonl", path=str(path), columns={"prompt": "questoin", "completion": "answer"}).load()
    assert err.value.errors[0][0] == "columns.prompt"
    assert "'questoin'" in str(err.value) and "question, answer, topic" in str(err.value)
    # A format's own key missing and not mapped: says which key and how to map it.
    with pytest.raises(harness.ParamError, match="needs column 'completion'.*available columns: question"):
        _source(host, "jsonl", path=str(path), format="prompt_completion", columns={"prompt": "question"}).load()
    # No format and nothing to infer from.
    with pytest.raises(harness.ParamError, match="cannot infer the format"):
        _source(host, "jsonl", path=str(path)).load()


@pytest.mark.parametrize("params, where, text", [
    ({"format": "qa"}, "format", "unknown format 'qa'"),
    ({"columns": {"question": "q"}}, "columns", "unknown format key"),
    ({"format": "text", "columns": {"prompt": "q"}}, "", "not keys of format 'text'"),
    ({"format": "text", "chat": True}, "", "needs a format with roles"),
    ({"system_prompt": "S"}, "", "set chat = true"),
    ({"limit": 0}, "limit", "greater than or equal to 1"),
    ({"colums": {}}, "colums", "unknown key"),
])
def test_bad_params_are_param_errors(host, tmp_path, params, where, text):
    with pytest.raises(harness.ParamError) as err:
        _source(host, "jsonl", path=str(tmp_path / "x.jsonl"), **params)
    assert err.value.errors[0][0] == where
    assert text in err.value.errors[0][1]


def test_bad_field_type_names_row(host, tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": 3}])
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2, column 'completion'.*expected text"):
        _source(host, "jsonl", path=str(path)).load()


def test_plugin_modules_are_light():
    code = ("import sys, harness_plugins.files, harness_plugins.suites, harness_plugins.safety;"
            "print(sorted(m for m in ('torch', 'datasets', 'transformers', 'trl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -------------------------------------------------------------- HH-RLHF parsing


def _hh(*turns: str) -> str:
    return "".join(f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns))


def test_hh_multi_turn_prompt_alternates_roles():
    pair = hh_rlhf.to_preference(_hh("hi", "hello", "how do I X?", "Like this."),
                                 _hh("hi", "hello", "how do I X?", "No."))
    assert [m["role"] for m in pair["prompt"]] == ["user", "assistant", "user"]
    assert pair["prompt"][2]["content"] == "how do I X?"
    assert pair["chosen"] == [{"role": "assistant", "content": "Like this."}]
    assert pair["rejected"] == [{"role": "assistant", "content": "No."}]


def test_hh_bad_rows_are_skipped_and_counted(tmp_path):
    rows = [
        {"chosen": _hh("q", "a1"), "rejected": _hh("q", "a2")},                    # good
        {"chosen": _hh("q", "x", "q2", "a1"), "rejected": _hh("q", "y", "q2", "a2")},  # prefixes differ
        {"chosen": "\n\nHuman: q\n\nAssistant: a\n\nAssistant: b", "rejected": _hh("q", "c")},  # two assistants
        {"chosen": _hh("q", ""), "rejected": _hh("q", "c")},                        # empty reply
        {"chosen": _hh("q", "same"), "rejected": _hh("q", "same")},                 # identical replies
        {"chosen": _hh("q", "a", "q2", "b"), "rejected": _hh("q", "a", "q2", "c")},  # 2 user turns
    ]
    path = tmp_path / "hh.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    pairs, stats = hh_rlhf.load_pairs(path)
    assert [p["id"] for p in pairs] == ["0", "5"]
    assert stats == {"rows": 6, "usable": 2,
                     "skipped": {"identical_replies": 1, "prefix_mismatch": 1, "unparsable": 2}}
    pairs, stats = hh_rlhf.load_pairs(path, max_turns=1)
    assert [p["id"] for p in pairs] == ["0"] and stats["skipped"]["over_max_turns"] == 1


def test_hh_rlhf_harmless_source(host):
    src = _source(host, "hh-rlhf-harmless", limit=40, seed=3)
    assert src.data_format() == "preference"
    rows = src.load(seed=0)
    assert len(rows) == 40 and rows == _source(host, "hh-rlhf-harmless", limit=40, seed=3).load(seed=99)
    for r in rows:
        roles = [m["role"] for m in r["prompt"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]
        assert [m["role"] for m in r["chosen"]] == [m["role"] for m in r["rejected"]] == ["assistant"]
        assert r["chosen"] != r["rejected"]
    assert any(r["turns"] > 1 for r in rows)
    stats = src.stats
    assert stats["rows"] == 2312 and stats["usable"] + sum(stats["skipped"].values()) == 2312
    assert stats["content_hash"] == harness.items_hash(rows)
    other = _source(host, "hh-rlhf-harmless", limit=40).load(seed=4)  # run seed when `seed` unset
    assert harness.items_hash(other) != stats["content_hash"]


# ------------------------------------------------------------- bundled sources


def test_gsm8k_sft_is_disjoint_from_evaluated_items(host):
    rows = _source(host, "gsm8k-sft").load()
    assert len(rows) == 1319 - 500 and min(int(r["id"]) for r in rows) == 500
    assert all("<<" not in r["completion"] and "#### " in r["completion"] for r in rows)
    assert rows[0]["prompt"].startswith("Question: ") and rows[0]["prompt"].endswith("\nAnswer:")
    chat = _source(host, "gsm8k-sft", limit=3, chat=True, system_prompt="Think step by step.").load()
    assert [m["role"] for m in chat[0]["prompt"]] == ["system", "user"]
    assert chat[0]["completion"][0]["role"] == "assistant"
    with pytest.raises(harness.ParamError) as err:
        _source(host, "gsm8k-sft", skip=100)
    assert err.value.errors[0][0] == "skip"


def test_quick_preference(host):
    rows = _source(host, "quick-preference").load()
    assert len(rows) == 32 and sum(r["label"] == "unsafe" for r in rows) == 16
    unsafe = next(r for r in rows if r["label"] == "unsafe")
    assert unsafe["rejected"][0]["content"].startswith("Sure")
    assert any(w in unsafe["chosen"][0]["content"] for w in ("can't", "won't"))
    safe = next(r for r in rows if r["label"] == "safe")
    assert safe["rejected"][0]["content"].startswith("I'm sorry")
    # Training prompts never overlap the quick-safety evaluation prompts.
    evaluated = {it["prompt"] for it in load_prompt_set("quick-safety").items}
    assert not evaluated & {r["prompt"][0]["content"] for r in rows}
    few = _source(host, "quick-preference", limit=4, chat=False).load()
    assert sorted(r["label"] for r in few) == ["safe", "safe", "unsafe", "unsafe"]
    assert isinstance(few[0]["prompt"], str)


# ------------------------------------------------------------------ prompt sets


def test_prompt_sets_contents():
    adv = load_prompt_set("advbench")
    assert adv.total == len(adv.items) == 520 and adv.labels == {"unsafe"}
    assert adv.items[0]["target"].startswith("Sure, here is")
    xs = load_prompt_set("xstest")
    assert len(xs.items) == 450 and sum(it["label"] == "safe" for it in xs.items) == 250
    assert {it["category"] for it in xs.items} >= {"homonyms", "contrast_homonyms", "privacy_public"}
    quick = load_prompt_set("quick-safety")
    assert sum(it["label"] == "unsafe" for it in quick.items) == 20 and len(quick.items) == 40
    assert prompt_set_names() == ["advbench", "donotanswer", "harmbench", "jailbreak", "overrefusal-dev",
                                  "quick-safety", "xstest"]


def test_prompt_set_subsample_is_seeded_stratified_and_hashed():
    a = load_prompt_set("xstest", limit=20, seed=1)
    assert a.items == load_prompt_set("xstest", limit=20, seed=1).items
    # the hash leaves out `split` (derived from the ids) so hashes stay those of runs made before splits
    assert a.content_hash == harness.items_hash({k: v for k, v in it.items() if k != "split"} for it in a.items)
    b = load_prompt_set("xstest", limit=20, seed=2)
    assert a.items != b.items and a.content_hash != b.content_hash
    assert sum(it["label"] == "safe" for it in a.items) == 11  # 250/450 of 20, rounded
    ids = [int(it["id"]) for it in a.items]
    assert ids == sorted(ids)  # file order kept
    assert len(load_prompt_set("quick-safety", limit=2).labels) == 2  # both kinds even when tiny


def test_bundled_data_ships_license_and_citation():
    for folder in ("advbench", "xstest", "hh_rlhf", "gsm8k", "quick"):
        assert (DATA / folder / "LICENSE").is_file(), folder
        assert (DATA / folder / "CITATION.md").is_file(), folder
    assert (DATA / "hh_rlhf" / "harmless_base_test.jsonl.gz").read_bytes()[:2] == b"\x1f\x8b"
