"""The hostile-input campaign: bad recipes, data files, damaged records, crafted archives and
hostile run references against the `harness` CLI, each case classified as

* clear      exit code != 0 and the message names what and where (the case's pattern)
* unclear    exit code != 0 but the message does not say what/where
* traceback  a Python traceback reached the user
* silent     exit code 0 for input that should have been refused
* lost       something already stored (or outside the store) changed

Usage::

    python benchmarks/hostile_inputs.py            # all categories, a table of counts
    python benchmarks/hostile_inputs.py --only archives,records --json

Runs in-process through click's CliRunner (the same commands a user types), in a
temporary folder; nothing outside it is touched (checked: a marker file outside
the store must stay as it was).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

GOOD_ID = "20261201-000000-good-0123456789abcdef"
NEW_ID = "20261201-000001-new-fedcba9876543210"


@dataclass
class Case:
    category: str
    name: str
    args: Callable[[Path], list[str]]  # CLI arguments, given the case's folder
    expect: str  # regex the output must contain for a clear error ("" = must succeed)
    ok_exit: tuple[int, ...] = ()  # exit codes that mean "accepted" for a case that must succeed


def _record(run_id: str) -> dict:
    return {"schema_version": 1, "id": run_id, "name": "good", "status": "completed", "gates_passed": True,
            "metrics": {"before": {"t/acc": {"value": 0.5, "stderr": 0.1}}},
            "stages": [{"name": "load", "status": "ok"}], "gates": []}


def _store(root: Path) -> Path:
    store = root / "runs"
    (store / GOOD_ID / "samples").mkdir(parents=True, exist_ok=True)
    (store / GOOD_ID / "run.json").write_text(json.dumps(_record(GOOD_ID)))
    (store / GOOD_ID / "samples" / "before.jsonl").write_text('{"suite": "t", "item_id": "1"}\n')
    return store


# ------------------------------------------------------------------ recipes

TINY = """
[run]
name = "campaign"

[model]
loader = "tiny"
{data}
{train}
[[evaluate]]
evaluator = "lm-eval"
tasks = [{tasks}]
{gates}
"""
DATA = """
[[data]]
name = "d"
source = "{source}"
path = "{path}"
{extra}
"""
TRAIN = """
[[train]]
trainer = "sft"
data = "d"
max_steps = {steps}
"""


def _recipe(root: Path, text: str, raw: bytes | None = None) -> list[str]:
    path = root / "r.toml"
    path.write_bytes(raw if raw is not None else text.encode())
    return ["validate", str(path)]


def _tiny(tasks='"quick_mc"', gates="", data="", train="") -> str:
    return TINY.format(tasks=tasks, gates=gates, data=data, train=train)


QUICK_DATA = DATA.format(source="jsonl", path=f"{REPO}/plugins/lm_eval_plugin/tasks/quick_mc/train.jsonl",
                         extra='format = "prompt_completion"')


def recipe_cases() -> list[Case]:
    c = []

    def add(name, text, expect, raw=None):
        c.append(Case("recipes", name, lambda root, t=text, r=raw: _recipe(root, t, r), expect))

    add("not TOML", "[run\nname=", r"r\.toml: not valid TOML")
    add("empty file", "", r"r\.toml: run: required key")
    add("not UTF-8", "", r"r\.toml: line 3: byte 0xff is not UTF-8", raw=b'[run]\nname = "x"\n\xff\n')
    add("unknown top key", _tiny() + "\n[runn]\nx = 1\n", r"runn: unknown key")
    add("unknown run key", _tiny().replace('name = "campaign"', 'name = "c"\nseeed = 1'), r"run\.seeed: unknown key")
    add("seed not a number", _tiny().replace('name = "campaign"', 'name = "c"\nseed = "zero"'), r"run\.seed")
    add("unknown loader", _tiny().replace('loader = "tiny"', 'loader = "tinyy"'), r"model\.loader.*tinyy")
    add("unknown evaluator", _tiny().replace('evaluator = "lm-eval"', 'evaluator = "lm_evall"'),
        r"evaluate\[0\]\.evaluator")
    add("unknown lm-eval task", _tiny(tasks='"quick_mcc"'), r"evaluate\[0\]\.tasks: lm-eval task\(s\) not found: quick_mcc.*Did you mean")
    add("empty task list", _tiny(tasks=""), r"evaluate\[0\]\.tasks")
    add("gate on unreported metric", _tiny(gates='[gates]\n"quick_mc/accuracy" = { min = 0.5 }'),
        r"gates\.\"quick_mc/accuracy\": no configured evaluator reports.*did you mean 'quick_mc/acc'")
    add("gate without a rule", _tiny(gates='[gates]\n"quick_mc/acc" = {}'), r"gates.*at least one of")
    add("gate rule typo", _tiny(gates='[gates]\n"quick_mc/acc" = { minn = 0.5 }'), r"gates.*minn")
    add("max_steps -5", _tiny(data=QUICK_DATA, train=TRAIN.format(steps=-5)),
        r"train\[0\]\.max_steps: must be a positive number")
    add("max_steps 0", _tiny(data=QUICK_DATA, train=TRAIN.format(steps=0)), r"train\[0\]\.max_steps")
    add("train on undefined data", _tiny(data=QUICK_DATA, train=TRAIN.format(steps=1).replace('data = "d"',
                                                                                                'data = "dd"')),
        r"train\[0\]\.data: no \[\[data\]\] named 'dd'")
    add("unknown trainer", _tiny(data=QUICK_DATA, train=TRAIN.format(steps=1).replace('"sft"', '"sftt"')),
        r"train\[0\]\.trainer")
    add("trainer key typo", _tiny(data=QUICK_DATA, train=TRAIN.format(steps=1) + "learning_rat = 1e-4\n"),
        r"train\[0\]\.learning_rat.*did you mean 'learning_rate'")
    add("missing data file", _tiny(data=DATA.format(source="jsonl", path="/nonexistent/x.jsonl", extra="")),
        r"data\[0\]\.path: data file not found: /nonexistent/x\.jsonl")
    add("train without evaluate", _tiny(data=QUICK_DATA, train=TRAIN.format(steps=1)).replace(
        '[[evaluate]]\nevaluator = "lm-eval"\ntasks = ["quick_mc"]', ""), r"evaluate: a recipe that trains needs")
    add("requires with shell metacharacters",
        "requires = [\"harness-nope>=1; python_version>'3' \"]\n" + _tiny(),
        r"run: harness plugins install 'harness-nope>=1; python_version>'\"'\"'3'\"'\"' '")
    add("unknown safety suite", _tiny() + '[[evaluate]]\nevaluator = "safety"\nsuites = ["quick-safty"]\n',
        r"evaluate\[1\]\.suites: .*quick-safty")
    add("unknown safety filter", _tiny().replace('tasks = ["quick_mc"]', 'tasks = ["quick_mc"]\nfilters = ["nope"]'),
        r"evaluate\[0\]\.filters\[0\]\.filter")
    return c


# ------------------------------------------------------------------ data files

GOOD_ROW = b'{"prompt": "a", "completion": "b"}\n'
BAD_DATA = {
    "malformed JSON line": ("d.jsonl", GOOD_ROW + b'{"prompt": "c", "completion": }\n', "",
                            r"d\.jsonl, line 2, column \d+: not valid JSON"),
    "line not an object": ("d.jsonl", GOOD_ROW + b"[1, 2]\n", "", r"d\.jsonl, line 2: expected a JSON object"),
    "wrong field type": ("d.jsonl", GOOD_ROW + b'{"prompt": "c", "completion": 7}\n', "",
                         r"d\.jsonl, line 2, column 'completion'"),
    "missing column": ("d.jsonl", GOOD_ROW + b'{"prompt": "c"}\n', 'format = "prompt_completion"',
                       r"column 'completion' not found in .*d\.jsonl, line 2"),
    "column changes type": ("d.jsonl", b'{"prompt": "a", "completion": "b", "n": 1}\n'
                                       b'{"prompt": "a", "completion": "b", "n": "x"}\n', "",
                            r"d\.jsonl, line 2, column 'n'"),
    "empty JSONL": ("d.jsonl", b"", 'format = "prompt_completion"', r"d\.jsonl: no rows"),
    "blank JSONL": ("d.jsonl", b"\n \n", 'format = "prompt_completion"', r"d\.jsonl: no rows"),
    "Latin-1 bytes": ("d.jsonl", GOOD_ROW + b'{"prompt": "caf\xe9", "completion": "b"}\n', "",
                      r"d\.jsonl, line 2, column \d+: byte 0xe9 is not UTF-8"),
    "UTF-16 file": ("d.jsonl", GOOD_ROW.decode().encode("utf-16"), "", r"d\.jsonl, line 1: NUL byte"),
    "binary garbage": ("d.jsonl", bytes(range(256)) * 8, 'format = "text"', r"d\.jsonl, line 1: NUL byte"),
    "cannot infer format": ("d.jsonl", b'{"question": "a"}\n', "", r"cannot infer the format of .*d\.jsonl"),
    "mapped column absent": ("d.jsonl", GOOD_ROW, 'columns = { prompt = "question" }',
                             r"columns\.prompt: column 'question' not found"),
    "chat messages malformed": ("d.jsonl", b'{"messages": [{"role": "user"}]}\n', 'format = "chat"',
                                r"d\.jsonl, line 1, column 'messages'"),
    "CSV short row": ("d.csv", b"prompt,completion\na,b\nc\n", "", r"d\.csv, line 3: 1 field\(s\)"),
    "CSV long row": ("d.csv", b"prompt,completion\na,b,c\n", "", r"d\.csv, line 2: 3 field\(s\)"),
    "CSV empty": ("d.csv", b"", 'format = "prompt_completion"', r"d\.csv: empty file"),
    "CSV header only": ("d.csv", b"prompt,completion\n", "", r"d\.csv: no rows"),
    "CSV duplicate header": ("d.csv", b"prompt,prompt\na,b\n", 'format = "text"', r"d\.csv, line 1: .*twice"),
    "CSV chat format": ("d.csv", b"messages\nhello\n", 'format = "chat"', r"d\.csv, line 2.*use JSONL"),
    "gzip that is not": ("d.jsonl.gz", b"plain", 'format = "text"', r"d\.jsonl\.gz: cannot be read"),
    "Parquet that is not": ("d.parquet", b"PAR1 nope", 'format = "text"', r"d\.parquet: not a Parquet file"),
}
GOOD_DATA = {
    "JSONL with BOM": ("d.jsonl", b"\xef\xbb\xbf" + GOOD_ROW),
    "CSV with BOM": ("d.csv", b"\xef\xbb\xbfprompt,completion\na,b\n"),
    "gzipped JSONL": ("d.jsonl.gz", gzip.compress(GOOD_ROW * 2)),
    "CRLF line ends": ("d.jsonl", GOOD_ROW.replace(b"\n", b"\r\n") * 2),
}


def _data_case(root: Path, name: str, data: bytes, extra: str) -> list[str]:
    path = root / name
    path.write_bytes(data)
    source = {".csv": "csv", ".parquet": "parquet"}.get(path.suffix, "jsonl")
    return _recipe(root, _tiny(data=DATA.format(source=source, path=path, extra=extra)))


def data_cases() -> list[Case]:
    out = [Case("data", n, lambda root, v=v: _data_case(root, v[0], v[1], v[2]), v[3]) for n, v in BAD_DATA.items()]
    out += [Case("data", n, lambda root, v=v: _data_case(root, v[0], v[1], ""), "", ok_exit=(0,))
            for n, v in GOOD_DATA.items()]
    return out


# ------------------------------------------------------------------ damaged records

DAMAGED = {
    "list": b"[]", "null": b"null", "string": b'"x"', "number": b"1", "invalid UTF-8": b'{"id": "\xff"}',
    "truncated": b'{"id": "x", "st', "empty": b"", "deep nesting": b"[" * 50_000 + b"]" * 50_000,
    "metrics a list": json.dumps({**_record("X"), "metrics": []}).encode(),
    "status a number": json.dumps({**_record("X"), "status": 3}).encode(),
    "gate entries text": json.dumps({**_record("X"), "gates": ["pass"]}).encode(),
    "stage without status": json.dumps({**_record("X"), "stages": [{"name": "load"}]}).encode(),
    "metric value text": json.dumps({**_record("X"), "metrics": {"before": {"t/acc": {"value": "hi"}}}}).encode(),
    "data filters null": json.dumps({**_record("X"), "data": [{"name": "d", "rows_in": 1, "filters": None}]}).encode(),
    "claims another id": json.dumps(_record(GOOD_ID)).encode(),
    "run.json a folder": None,
}
BAD_ID = "20261201-000009-bad-00000000000000ff"


def _damage(root: Path, kind: str) -> Path:
    store = _store(root)
    folder = store / BAD_ID
    folder.mkdir()
    if DAMAGED[kind] is None:
        (folder / "run.json").mkdir()
    else:
        (folder / "run.json").write_bytes(DAMAGED[kind].replace(b'"X"', f'"{BAD_ID}"'.encode()))
    return store


def _damaged_samples(root: Path) -> Path:
    store = _store(root)
    rec = _record(GOOD_ID)
    rec["metrics"]["after"] = rec["metrics"]["before"]
    (store / GOOD_ID / "run.json").write_text(json.dumps(rec))
    (store / GOOD_ID / "samples" / "after.jsonl").write_text('{"suite": "t", "item_id": "1"}\n{broken\n')
    return store


def record_cases() -> list[Case]:
    out = [Case("records", f"{cmd}: damaged samples file",
                lambda root, c=cmd: [c, GOOD_ID, "--store", str(_damaged_samples(root))]
                + (["--gate", "t/acc:min=0.1"] if c == "gate" else []),
                r"samples/after\.jsonl, line 2: not valid JSON") for cmd in ("gate", "compare")]
    for kind in DAMAGED:
        out.append(Case("records", f"runs: {kind}", lambda root, k=kind: ["runs", "--store", str(_damage(root, k))],
                        rf"{BAD_ID}\s+corrupt", ok_exit=(0,)))
        out.append(Case("records", f"show: {kind}",
                        lambda root, k=kind: ["show", BAD_ID, "--store", str(_damage(root, k))],
                        r"status\s+corrupt.*CorruptRecord: .*run\.json", ok_exit=(0,)))
        out.append(Case("records", f"store check: {kind}",
                        lambda root, k=kind: ["store", "check", "--store", str(_damage(root, k))],
                        rf"corrupt\s+{BAD_ID}: .*run\.json"))
    return out


# ------------------------------------------------------------------ archives


def _tar(root: Path, members: list[tuple[str, bytes | None, int, str]]) -> Path:
    """members: (name, data or None for a dir/link, tar type, linkname)."""
    path = root / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data, kind, linkname in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, linkname, 0o644
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


REC = (f"{NEW_ID}/run.json", json.dumps(_record(NEW_ID)).encode(), tarfile.REGTYPE, "")
TOP = (NEW_ID, None, tarfile.DIRTYPE, "")
F = tarfile.REGTYPE
HOSTILE_ARCHIVES = {
    "absolute path": [TOP, REC, ("/tmp/harness-campaign-pwned", b"x", F, "")],
    "dotdot": [TOP, REC, (f"{NEW_ID}/../../outside", b"x", F, "")],
    "dotdot into another run": [TOP, REC, (f"{NEW_ID}/../{GOOD_ID}/run.json", b"[]", F, "")],
    "symlink to ..": [TOP, REC, (f"{NEW_ID}/up", None, tarfile.SYMTYPE, ".."),
                      (f"{NEW_ID}/up/{GOOD_ID}/run.json", b"[]", F, "")],
    "absolute symlink": [TOP, REC, (f"{NEW_ID}/etc", None, tarfile.SYMTYPE, "/etc")],
    "hard link + same-named file": [TOP, REC, (f"{NEW_ID}/h", None, tarfile.LNKTYPE, f"{GOOD_ID}/run.json"),
                                    (f"{NEW_ID}/h", b"[]", F, "")],
    "CVE-2025-4517 style deep symlink chain": [TOP, REC] + [
        (f"{NEW_ID}/" + "d" * 200 + f"/l{i}", None, tarfile.SYMTYPE, "../" * 3) for i in range(3)],
    "char device": [TOP, REC, (f"{NEW_ID}/dev", None, tarfile.CHRTYPE, "")],
    "FIFO": [TOP, REC, (f"{NEW_ID}/fifo", None, tarfile.FIFOTYPE, "")],
    "two top folders": [TOP, REC, ("other/x", b"x", F, "")],
    "duplicate member": [TOP, REC, (f"{NEW_ID}/a", b"1", F, ""), (f"{NEW_ID}/a", b"2", F, "")],
    "no run.json": [TOP, (f"{NEW_ID}/x", b"x", F, "")],
    "run.json not JSON": [TOP, (f"{NEW_ID}/run.json", b"{", F, "")],
    "run.json a list": [TOP, (f"{NEW_ID}/run.json", b"[]", F, "")],
    "run.json claims another id": [TOP, (f"{NEW_ID}/run.json", json.dumps(_record(GOOD_ID)).encode(), F, "")],
    "run.json ill-typed": [TOP, (f"{NEW_ID}/run.json", json.dumps({**_record(NEW_ID), "gates": [1]}).encode(),
                                 F, "")],
    "top folder hidden": [(".x", None, tarfile.DIRTYPE, ""), (".x/run.json", b"{}", F, "")],
    "empty archive": [],
}


def archive_cases() -> list[Case]:
    out = [Case("archives", n, lambda root, m=m: ["unpack", str(_tar(root, m)), "--store", str(_store(root))],
                r"error: .*a\.tar\.gz: ") for n, m in HOSTILE_ARCHIVES.items()]

    def not_archive(root: Path) -> list[str]:
        (root / "notes.txt").write_text("hello")
        return ["unpack", str(root / "notes.txt"), "--store", str(_store(root))]

    def truncated(root: Path) -> list[str]:
        path = _tar(root, [TOP, REC, (f"{NEW_ID}/big", os.urandom(20000), F, "")])
        path.write_bytes(path.read_bytes()[:-3000])
        return ["unpack", str(path), "--store", str(_store(root))]

    def again(root: Path) -> list[str]:
        store = _store(root)
        path = _tar(root, [TOP, REC])
        from harness.store.local import Store
        from harness.store.packing import unpack_run

        unpack_run(Store(store), path)
        return ["unpack", str(path), "--store", str(store)]

    def different(root: Path) -> list[str]:
        store = _store(root)
        path = _tar(root, [(GOOD_ID, None, tarfile.DIRTYPE, ""),
                           (f"{GOOD_ID}/run.json", json.dumps({**_record(GOOD_ID), "name": "other"}).encode(), F, "")])
        return ["unpack", str(path), "--store", str(store)]

    out += [Case("archives", "not an archive", not_archive, r"notes\.txt: not a packed run"),
            Case("archives", "truncated archive", truncated, r"a\.tar\.gz: (damaged|cannot be unpacked)"),
            Case("archives", "identical run again", again, r"identical content; nothing to do", ok_exit=(0,)),
            Case("archives", "same id, different content", different, r"already in .* with different content")]
    return out


# ------------------------------------------------------------------ run references


def ref_cases() -> list[Case]:
    out = []
    for ref in ("../runs", "../../etc", "/etc", ".", "..", "quarantine", "x;rm -rf ~", "$(touch /tmp/p)", ""):
        out.append(Case("refs", f"show {ref!r}", lambda root, r=ref: ["show", r, "--store", str(_store(root))],
                        r"error: no run"))
        out.append(Case("refs", f"pack {ref!r}", lambda root, r=ref: ["pack", r, "--store", str(_store(root)),
                                                                      "-o", str(root / "o.tar.gz")],
                        r"error: no run"))
    return out


CATEGORIES = {"recipes": recipe_cases, "data": data_cases, "records": record_cases, "archives": archive_cases,
              "refs": ref_cases}


# ------------------------------------------------------------------ running


def _snapshot(root: Path, skip: set[str]) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.split(os.sep)[0] in skip:
            continue
        out[rel] = "link" if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
    return out


def run_case(case: Case) -> tuple[str, str]:
    from click.testing import CliRunner

    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    with tempfile.TemporaryDirectory() as tmp:
        outer = Path(tmp)
        root = outer / "case"
        root.mkdir()
        marker = outer / "outside.txt"
        marker.write_text("keep")
        args = case.args(root)
        store = root / "runs"
        # what may change: the new run (archives), quarantine (never asked for here), nothing else
        before = _snapshot(store, {NEW_ID}) if store.exists() else {}
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
        output = result.output  # stdout and stderr, as a terminal shows them
        after = _snapshot(store, {NEW_ID}) if store.exists() else {}
        outside = sorted(p.name for p in outer.iterdir())
        lost = before != after or marker.read_text() != "keep" or outside != ["case", "outside.txt"] \
            or Path("/tmp/harness-campaign-pwned").exists()
        if lost:
            return "lost", output
        exc = result.exception
        if (exc is not None and not isinstance(exc, SystemExit)) or "Traceback" in output:
            return "traceback", f"{type(exc).__name__}: {exc}" if exc else output
        if case.ok_exit:
            ok = result.exit_code in case.ok_exit and (not case.expect or re.search(case.expect, output, re.S))
            return ("clear" if ok else "unclear"), output
        if result.exit_code == 0:
            return "silent", output
        return ("clear" if re.search(case.expect, output, re.S) else "unclear"), output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated categories: " + ", ".join(CATEGORIES))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case that is not clear")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CATEGORIES)
    counts: dict[str, Counter] = {}
    details = []
    t0 = time.perf_counter()
    for cat in names:
        counts[cat] = Counter()
        for case in CATEGORIES[cat]():
            verdict, output = run_case(case)
            counts[cat][verdict] += 1
            if verdict != "clear":
                details.append({"category": cat, "case": case.name, "verdict": verdict,
                                "output": output.strip()[-400:]})
    total = sum(counts.values(), Counter())
    cols = ["clear", "unclear", "traceback", "silent", "lost"]
    if args.json:
        print(json.dumps({"counts": {c: dict(v) for c, v in counts.items()}, "total": dict(total),
                          "not_clear": details, "seconds": round(time.perf_counter() - t0, 1)}, indent=2))
    else:
        print(f"{'category':<10} {'tried':>5} " + " ".join(f"{c:>9}" for c in cols))
        for cat, n in [*counts.items(), ("total", total)]:
            print(f"{cat:<10} {sum(n.values()):>5} " + " ".join(f"{n.get(c, 0):>9}" for c in cols))
        print(f"({time.perf_counter() - t0:.1f} s)")
        if args.verbose:
            for d in details:
                print(f"\n[{d['verdict']}] {d['category']}: {d['case']}\n{d['output']}")
    bad = sum(total.get(c, 0) for c in ("traceback", "silent", "lost"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
