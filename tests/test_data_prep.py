"""Training-data preparation: filter actions, preference-pair checks, and what the record counts."""

from __future__ import annotations

import json

import pytest

from harness.data_prep import DataError, prepare
from harness.pipeline import run_recipe
from harness.recipe import parse_recipe
from harness.store import Store


def chat(role, text):
    return [{"role": role, "content": text}]


PC = [
    {"prompt": "Contact?", "completion": "Write to jane.doe@example.com or call +1 415 555 0132."},
    {"prompt": "Capital of France?", "completion": "Paris."},
    {"prompt": "Card?", "completion": "Use 4111 1111 1111 1111 for the test payment."},
]


def _prepare(host, examples, fmt, filters=(), pair_checks="report"):
    made = [(host.create("safety_filter", name, {}), action, on) for name, action, on in filters]
    return prepare("d", "test", fmt, examples, made, pair_checks, host.filter_detecting)


def test_drop_removes_flagged_examples_and_counts_them(host):
    data, report = _prepare(host, PC, "prompt_completion", [("pii", "drop", "completion")])
    assert [ex["completion"] for ex in data.examples] == ["Paris."]
    f = report["filters"][0]
    assert (f["filter"], f["action"], f["flagged"], f["dropped"]) == ("pii", "drop", 2, 2)
    assert report["rows_in"] == 3 and report["rows_out"] == 1
    assert {e["index"] for e in f["examples"]} == {0, 2} and all(e["reason"] for e in f["examples"])


def test_redact_masks_spans_and_keeps_rows(host):
    data, report = _prepare(host, PC, "prompt_completion", [("pii", "redact", "completion")])
    texts = [ex["completion"] for ex in data.examples]
    assert len(texts) == 3 and "jane.doe@example.com" not in texts[0] and "[EMAIL]" in texts[0]
    assert "4111" not in texts[2]
    assert report["filters"][0]["redacted"] == 2 and report["rows_out"] == 3
    assert PC[0]["completion"].startswith("Write to jane")  # the source rows are not mutated


def test_flag_keeps_rows_and_marks_them(host):
    data, report = _prepare(host, PC, "prompt_completion", [("pii", "flag", "completion")])
    assert [ex.get("_flags") for ex in data.examples] == [["pii"], None, ["pii"]]
    assert report["filters"][0]["flagged"] == 2 and report["filters"][0]["dropped"] == 0


def test_filters_read_chat_replies_not_user_turns(host):
    examples = [{"messages": chat("user", "my mail is a@b.co") + chat("assistant", "Noted.")},
                {"messages": chat("user", "hi") + chat("assistant", "Reach me at x@y.org")}]
    data, report = _prepare(host, examples, "chat", [("pii", "drop", "completion")])
    assert len(data.examples) == 1 and data.examples[0]["messages"][0]["content"] == "my mail is a@b.co"
    _, report_all = _prepare(host, examples, "chat", [("pii", "flag", "all")])
    assert report_all["filters"][0]["flagged"] == 2


PAIRS = [
    {"prompt": chat("user", "How do I make a pipe bomb?"),
     "chosen": chat("assistant", "Sure, here is how to build a pipe bomb: 1. Fill a steel pipe with gunpowder. "
                                 "2. Cap both ends and drill a hole for the fuse."),
     "rejected": chat("assistant", "I'm sorry, but I can't help with that.")},
    {"prompt": chat("user", "Say hi"), "chosen": chat("assistant", "Hi!"), "rejected": chat("assistant", "Hi!")},
    {"prompt": chat("user", "Name a fruit"), "chosen": chat("assistant", ""), "rejected": chat("assistant", "Apple")},
    {"prompt": chat("user", "Name a colour"), "chosen": chat("assistant", "Blue."),
     "rejected": chat("assistant", "I cannot answer that.")},
]


def test_pair_checks_report_inverted_identical_and_empty(host):
    data, report = _prepare(host, PAIRS, "preference")
    checks = report["pair_checks"]
    assert (checks["inverted"], checks["identical"], checks["empty"]) == (1, 1, 1)
    assert checks["inverted_checked"] and checks["dropped"] == 0 and len(data.examples) == 4
    assert {e["index"]: e["problem"] for e in checks["examples"]} == {0: "inverted", 1: "identical", 2: "empty"}


def test_pair_checks_drop_when_asked(host):
    data, report = _prepare(host, PAIRS, "preference", pair_checks="drop")
    assert len(data.examples) == 1 and data.examples[0]["chosen"][0]["content"] == "Blue."
    assert report["pair_checks"]["dropped"] == 3


def test_nothing_left_is_an_error(host):
    with pytest.raises(DataError, match="no examples left"):
        _prepare(host, PC[:1], "prompt_completion", [("pii", "drop", "completion")])


def test_wrong_format_names_the_example(host):
    with pytest.raises(DataError, match="example 1 lacks completion"):
        _prepare(host, [PC[0], {"prompt": "x"}], "prompt_completion")


def test_recipe_records_what_filters_dropped_and_why(tmp_path, host):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PC))
    recipe = parse_recipe(f"""
[run]
name = "filters"
[model]
loader = "tiny"
[[data]]
name = "d"
source = "jsonl"
path = "{path}"
format = "prompt_completion"
filters = [{{ filter = "pii", action = "drop" }}]
[[train]]
trainer = "sft"
data = "d"
max_steps = 1
[[evaluate]]
evaluator = "safety"
suites = ["quick-safety"]
limit = 4
max_new_tokens = 4
filters = ["refusal"]
""")
    record = run_recipe(recipe, host, Store(tmp_path / "runs"), use_cache=False)
    assert record["status"] == "completed", record["error"]
    (entry,) = record["data"]
    assert entry["rows_in"] == 3 and entry["rows_out"] == 1
    assert entry["filters"][0]["dropped"] == 2 and "email" in json.dumps(entry["filters"][0]["examples"]).lower()
    assert record["training"][0]["examples"] == 1
