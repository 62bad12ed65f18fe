"""Degenerate training data is counted, recorded and shown on the console."""

from __future__ import annotations

from harness.run import data_prep


def test_identical_and_empty_pairs_and_duplicates_are_warned_with_counts(capsys):
    pairs = [{"prompt": f"p{i % 5}", "chosen": "same", "rejected": "same"} for i in range(20)]
    _, report = data_prep.prepare("prefs", "jsonl", "preference", pairs, [], "report", lambda name: None)
    err = capsys.readouterr().err
    assert "warning: data set 'prefs'" in err
    assert "15 of 20 rows are duplicates" in err and "20 of 20 pairs have chosen == rejected" in err
    assert report["quality"] == {"rows": 20, "duplicates": 15, "empty": 0, "identical_pairs": 20}


def test_empty_fields_are_counted_and_clean_data_is_quiet(capsys):
    rows = [{"prompt": "a", "completion": ""}, {"prompt": [{"role": "user", "content": " "}], "completion": "b"},
            {"prompt": "c", "completion": "d"}]
    _, report = data_prep.prepare("sft", "jsonl", "prompt_completion", rows, [], "off", lambda name: None)
    assert report["quality"]["empty"] == 2 and "2 of 3 rows have an empty field" in capsys.readouterr().err
    data_prep.prepare("ok", "jsonl", "prompt_completion", rows[2:], [], "off", lambda name: None)
    assert capsys.readouterr().err == ""
