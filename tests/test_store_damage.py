"""A store with damaged records of every kind lists its good runs; `harness store check [--fix]`."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from click.testing import CliRunner

from harness.cli.runs_cmd import runs, show
from harness.cli.store_cmd import store_group
from harness.store.local import PARTIAL_FILE, QUARANTINE_DIR, RECORD_FILE, CorruptRecord, Store, write_json
from tests.test_hostile_archives import finished_run, record

GOOD = "20261201-000000-good-0123456789abcdef"

DAMAGE: dict[str, bytes | None] = {
    "list": b"[]",
    "null": b"null",
    "string": b'"hello"',
    "number": b"3",
    "invalid utf-8": b'{"id": "\xff\xfe"}',
    "truncated": b'{"id": "x", "sta',
    "empty": b"",
    "metrics a list": None,  # filled per run id below
    "status a number": None,
    "gates not objects": None,
    "stages missing keys": None,
    "metric value text": None,
    "claims another id": None,
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


def damaged_text(kind: str, run_id: str) -> bytes:
    if DAMAGE[kind] is not None:
        return DAMAGE[kind]
    rec = record(run_id)
    if kind == "metrics a list":
        rec["metrics"] = []
    elif kind == "status a number":
        rec["status"] = 1
    elif kind == "gates not objects":
        rec["gates"] = ["pass"]
    elif kind == "stages missing keys":
        rec["stages"] = [{"name": "load"}]
    elif kind == "metric value text":
        rec["metrics"] = {"before": {"t/acc": {"value": "high"}}}
    elif kind == "claims another id":
        rec["id"] = GOOD
    return json.dumps(rec).encode()


@pytest.fixture
def damaged(tmp_path) -> tuple[Store, list[str]]:
    store = Store(tmp_path / "runs")
    finished_run(store, GOOD)
    bad = []
    for i, kind in enumerate(sorted(DAMAGE)):
        run_id = f"20261201-0001{i:02d}-bad-{i:016x}"
        (store.root / run_id).mkdir(parents=True)
        (store.root / run_id / RECORD_FILE).write_bytes(damaged_text(kind, run_id))
        bad.append(run_id)
    folder_id = "20261201-000200-dir-00000000000000aa"
    (store.root / folder_id / RECORD_FILE).mkdir(parents=True)  # a folder named run.json
    bad.append(folder_id)
    return store, bad


def test_every_damaged_record_is_listed_corrupt_with_a_reason(damaged):
    store, bad = damaged
    records = {r["id"]: r for r in store.iter_records()}
    assert records[GOOD]["status"] == "completed"
    for run_id in bad:
        r = records[run_id]
        assert r["status"] == "corrupt", run_id
        assert RECORD_FILE in r["error"]["message"] and r["error"]["message"].strip()
    claimed = records[bad[sorted(DAMAGE).index("claims another id")]]
    assert "is not its folder's name" in claimed["error"]["message"]


def test_cli_lists_good_and_damaged_runs_without_a_traceback(damaged):
    store, bad = damaged
    out = CliRunner().invoke(runs, ["--store", str(store.root)])
    assert out.exit_code == 0, out.output
    assert GOOD in out.output and all(b in out.output for b in bad)
    as_json = CliRunner().invoke(runs, ["--store", str(store.root), "--json"])
    assert {r["status"] for r in json.loads(as_json.output)} == {"completed", "corrupt"}
    one = CliRunner().invoke(show, [bad[0], "--store", str(store.root)])
    assert one.exit_code == 0 and "corrupt" in one.output and "CorruptRecord" in one.output


def test_damaged_samples_name_the_file_and_line(tmp_path):
    store = Store(tmp_path / "runs")
    folder = finished_run(store, GOOD)
    (folder / "samples" / "after.jsonl").write_text('{"item_id": "1"}\n{broken\n')
    with pytest.raises(CorruptRecord, match=r"after\.jsonl, line 2: not valid JSON"):
        store.samples(GOOD, "after")


def test_store_check_reports_then_quarantines_without_deleting(damaged):
    store, bad = damaged
    half = "20261201-000300-half-00000000000000bb"
    (store.root / half).mkdir()
    write_json(store.root / half / PARTIAL_FILE, {"id": half, "status": "running",
                                                  "stages": [{"name": "load", "status": "ok"}]})
    (store.root / GOOD / f".{RECORD_FILE}.abc.tmp").write_text("{")  # a write killed half-way
    report = CliRunner().invoke(store_group, ["check", "--store", str(store.root)])
    assert report.exit_code == 2
    assert f"incomplete {half}" in report.output and "completed stages: load" in report.output
    assert sum(1 for line in report.output.splitlines() if line.strip().startswith("corrupt")) == len(bad)
    assert "duplicate" in report.output and "--fix" in report.output
    assert sorted(os.listdir(store.root)) == sorted([GOOD, half, *bad])  # check alone changes nothing

    fixed = CliRunner().invoke(store_group, ["check", "--fix", "--store", str(store.root)])
    assert fixed.exit_code == 0, fixed.output
    assert sorted(os.listdir(store.root)) == sorted([GOOD, QUARANTINE_DIR])
    assert sorted(os.listdir(store.root / QUARANTINE_DIR)) == sorted([half, *bad])  # moved, not deleted
    assert not (store.root / GOOD / f".{RECORD_FILE}.abc.tmp").exists()
    assert [r["id"] for r in store.iter_records()] == [GOOD]
    clean = CliRunner().invoke(store_group, ["check", "--store", str(store.root)])
    assert clean.exit_code == 0 and "0 problem(s)" in clean.output


def test_a_run_in_progress_is_never_quarantined(tmp_path):
    store = Store(tmp_path / "runs")
    run_id, _ = store.new_run_dir("live")  # owned by this (living) process
    out = CliRunner().invoke(store_group, ["check", "--fix", "--store", str(store.root)])
    assert out.exit_code == 0 and "still running" in out.output
    assert (store.root / run_id).is_dir()


def test_run_ids_carry_64_random_bits_and_sort_by_time(tmp_path):
    store = Store(tmp_path / "runs")
    ids = [store.new_run_dir("same name")[0] for _ in range(200)]
    assert len(set(ids)) == 200
    for run_id in ids:
        assert re.fullmatch(r"\d{8}-\d{6}-same-name-[0-9a-f]{16}", run_id)


def test_record_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
        os.umask(0o077)
        write_json(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
