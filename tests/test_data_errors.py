"""Bad data files: `harness validate` names the file, the line, the column and what was expected,
before any model is loaded; a UTF-8 BOM is accepted."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.run_cmd import validate

RECIPE = """
[run]
name = "data-check"

[model]
loader = "tiny"

[[data]]
name = "d"
source = "{source}"
path = "{path}"
{extra}

[[train]]
trainer = "sft"
data = "d"
max_steps = 1

[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
"""

GOOD = b'{"prompt": "a", "completion": "b"}\n'

#: (file name, bytes, extra recipe lines, what the error must say)
BAD = {
    "malformed line": ("d.jsonl", GOOD + b'{"prompt": "c", "completion": }\n', "",
                       r"d\.jsonl, line 2, column 31: not valid JSON"),
    "not an object": ("d.jsonl", GOOD + b'["prompt", "completion"]\n', "", r"line 2: expected a JSON object"),
    "wrong type": ("d.jsonl", GOOD + b'{"prompt": "c", "completion": 7}\n', "",
                   r"line 2, column 'completion'.*expected text .* got number"),
    "missing column": ("d.jsonl", GOOD + b'{"prompt": "c"}\n', 'format = "prompt_completion"',
                       r"column 'completion' not found in .*d\.jsonl, line 2"),
    "column changes type": ("d.jsonl", b'{"prompt": "a", "completion": "b", "n": 1}\n'
                                       b'{"prompt": "a", "completion": "b", "n": "x"}\n', "",
                            r"line 2, column 'n': text, but line 1 has number"),
    "empty file": ("d.jsonl", b"", 'format = "prompt_completion"', r"d\.jsonl: no rows"),
    "blank lines only": ("d.jsonl", b"\n\n  \n", 'format = "prompt_completion"', r"no rows"),
    "latin-1 bytes": ("d.jsonl", GOOD + b'{"prompt": "caf\xe9", "completion": "b"}\n', "",
                      r"line 2, column 16: byte 0xe9 is not UTF-8"),
    "binary garbage": ("d.jsonl", bytes(range(256)) * 4, 'format = "text"', r"line 1: NUL byte"),
    "csv short row": ("d.csv", b"prompt,completion\na,b\nc\n", "", r"d\.csv, line 3: 1 field\(s\), but the header has 2"),
    "csv empty": ("d.csv", b"", 'format = "prompt_completion"', r"d\.csv: empty file"),
    "csv header only": ("d.csv", b"prompt,completion\n", "", r"d\.csv: no rows"),
    "csv duplicate header": ("d.csv", b"prompt,prompt,completion\na,b,c\n", "", r"line 1: .*'prompt'.* twice"),
    "csv nul byte": ("d.csv", b"prompt,completion\na\x00,b\n", "", r"d\.csv, line 2: NUL byte"),
    "gzip not gzip": ("d.jsonl.gz", b"plain text", 'format = "text"', r"cannot be read"),
    "parquet not parquet": ("d.parquet", b"PAR1garbage", 'format = "text"', r"not a Parquet file"),
}


def _validate(tmp_path: Path, name: str, data: bytes, extra: str):
    path = tmp_path / name
    path.write_bytes(data)
    source = {".csv": "csv", ".parquet": "parquet"}.get(path.suffix, "jsonl")
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.format(source=source, path=path, extra=extra))
    return CliRunner().invoke(validate, [str(recipe)])


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_names_file_line_and_what_was_expected(case, tmp_path):
    import re

    name, data, extra, pattern = BAD[case]
    out = _validate(tmp_path, name, data, extra)
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output and out.exception is None or isinstance(out.exception, SystemExit)
    assert "data[0]" in out.output and re.search(pattern, out.output), out.output


@pytest.mark.parametrize("name, data", [
    ("bom.jsonl", b"\xef\xbb\xbf" + GOOD),
    ("bom.csv", b"\xef\xbb\xbfprompt,completion\na,b\n"),
    ("ok.jsonl.gz", gzip.compress(GOOD * 3)),
])
def test_a_byte_order_mark_and_gzip_are_accepted(name, data, tmp_path):
    out = _validate(tmp_path, name, data, "")
    assert out.exit_code == 0, out.output


def test_a_bom_file_loads_with_clean_column_names(host, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt,completion\na,b\n")
    rows = host.create("data_source", "csv", {"path": str(path)}).load()
    assert rows[0]["prompt"] == "a" and rows[0]["completion"] == "b"


def test_load_reports_the_line_too(host, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(GOOD * 3 + b"{oops\n")
    with pytest.raises(ValueError, match=r"d\.jsonl, line 4"):
        host.create("data_source", "jsonl", {"path": str(path), "format": "prompt_completion"}).load()
    assert json.loads(GOOD)  # the good rows are fine
