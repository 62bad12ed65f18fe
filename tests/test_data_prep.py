"""Training-data preparation: filter actions, preference-pair checks, and what the record counts."""

from __future__ import annotations

import json

import pytest

from harness.run.data_prep import DataError, prepare
from harness.run.pipeline import run_recipe
from harness.run.recipe import parse_recipe
from harness.store.local import Store


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


# ------------------------------------------------------- registered formats

UNPAIRED = [
    {"prompt": "Contact?", "completion": "Write to jane.doe@example.com.", "label": True},
    {"prompt": "Contact?", "completion": "Mail bob@example.org for it.", "label": False},
    {"prompt": "Capital of France?", "completion": "Paris.", "label": True},
]


def test_unpaired_preference_filters_only_desirable_completions(host):
    """An undesirable completion is trained away from: like a rejected reply, a filter leaves it alone."""
    data, report = _prepare(host, UNPAIRED, "unpaired_preference", [("pii", "drop", "completion")])
    assert [ex["completion"] for ex in data.examples] == ["Mail bob@example.org for it.", "Paris."]
    assert report["filters"][0]["flagged"] == 1 and "pair_checks" not in report


def test_unpaired_preference_label_must_be_a_boolean(host):
    with pytest.raises(DataError, match="example 1 field 'label' must be true or false, got 'yes'"):
        _prepare(host, [UNPAIRED[0], {**UNPAIRED[1], "label": "yes"}], "unpaired_preference")


def test_prompt_only_keeps_reward_columns_for_the_trainer(host):
    rows = [{"prompt": "2+2?", "answer": "4", "id": "a", "_flags": ["x"]},
            {"prompt": "3+3?", "answer": "6", "id": "b", "nested": {"no": 1}}]
    data, report = _prepare(host, rows, "prompt_only", [("pii", "drop", "completion")])
    assert report["filters"][0]["flagged"] == 0  # no completion to read
    ds = data.to_dataset()
    assert sorted(ds.column_names) == ["answer", "id", "prompt"]  # shared scalar columns only
    assert ds[1] == {"prompt": "3+3?", "answer": "6", "id": "b"}
    pc = _prepare(host, PC, "prompt_completion")[0].to_dataset()
    assert sorted(pc.column_names) == ["completion", "prompt"]  # other formats: their keys only


class QuestionAnswer:
    """A third-party format: one registered object, no other change."""

    import harness as _h

    class QA(_h.DataFormat):
        name = "question_answer"
        description = "a question and its answer"
        fields = {"question": "prompt", "answer": "reply"}
        trl_type = "prompt-completion"

        @classmethod
        def to_trl(cls, example):
            return {"prompt": example["question"], "completion": example["answer"]}

    @staticmethod
    @_h.hookimpl
    def register_data_formats(register):
        register(QuestionAnswer.QA)


def test_a_third_party_format_is_one_registered_object(tmp_path):
    from harness.contract.plugins import load_plugins
    from harness.run.recipe import check_recipe

    qa_host = load_plugins(extra=[("qa-format", QuestionAnswer)])
    rows = [{"question": "Mail?", "answer": "a@b.co"}, {"question": "Sky?", "answer": "Blue."}]
    data, report = prepare("d", "test", "question_answer", rows,
                           [(qa_host.create("safety_filter", "pii", {}), "drop", "completion")], "report",
                           lambda _n: None, formats=lambda n: qa_host.resolve("data_format", n).cls)
    assert [ex["answer"] for ex in data.examples] == ["Blue."]  # the filter read the `reply` role
    assert data.to_dataset()[0] == {"prompt": "Sky?", "completion": "Blue."}
    with pytest.raises(DataError, match="example 0 lacks answer"):
        prepare("d", "test", "question_answer", [{"question": "x"}], [], "report", lambda _n: None,
                formats=lambda n: qa_host.resolve("data_format", n).cls)

    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = qa_host.create("data_source", "jsonl", {"path": str(path)})
    assert source.data_format() == "question_answer"  # inferred from the columns
    assert source.load()[1]["answer"] == "Blue."
    recipe = parse_recipe(f"""
[run]
name = "qa"
[model]
loader = "tiny"
[[data]]
name = "d"
source = "jsonl"
path = "{path}"
[[train]]
trainer = "sft"
data = "d"
[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
""")
    from harness.run.recipe import RecipeError

    with pytest.raises(RecipeError, match="trainer 'sft' takes text, chat, prompt_completion data; "
                                          "'d' is question_answer"):
        check_recipe(recipe, qa_host)


def test_a_source_declaring_an_unknown_format_is_a_recipe_error(tmp_path, host):
    from harness.run.recipe import RecipeError, check_recipe

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"question": "x"}) + "\n")
    recipe = parse_recipe(f"""
[run]
name = "x"
[model]
loader = "tiny"
[[data]]
name = "d"
source = "jsonl"
path = "{path}"
format = "question_answer"
""")
    with pytest.raises(RecipeError, match="unknown format 'question_answer'; use one of text, chat"):
        check_recipe(recipe, host)


def test_data_formats_table_is_a_view_of_the_registered_formats(host):
    import harness

    assert harness.DATA_FORMATS["unpaired_preference"] == ("prompt", "completion", "label")
    assert {"text", "chat", "prompt_completion", "preference", "unpaired_preference", "prompt_only"} <= \
        set(harness.DATA_FORMATS)
    assert harness.get_format("prompt_only").trl_type == "prompt-only"
    with pytest.raises(LookupError, match="unknown data format 'pairs'; available: chat, preference"):
        harness.get_format("pairs")
