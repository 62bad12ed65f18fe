"""`harness unpack` against crafted archives: nothing is written outside the new run's folder,
no other run changes, a refused archive leaves no trace, on every Python version."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.runs_cmd import pack
from harness.cli.runs_cmd import unpack as unpack_cmd
from harness.store.local import RECORD_FILE, Store, write_json
from harness.store.packing import PackError, pack_run, unpack, unpack_run

RUN = "20261201-000000-victim-0123456789abcdef"
NEW = "20261201-000001-new-fedcba9876543210"


def record(run_id: str, **extra) -> dict:
    return {"schema_version": 1, "id": run_id, "name": "unit", "status": "completed",
            "gates_passed": True, "metrics": {"before": {"t/acc": {"value": 0.5, "stderr": 0.1}}},
            "stages": [{"name": "load", "status": "ok"}], "gates": [], **extra}


def finished_run(store: Store, run_id: str) -> Path:
    folder = store.root / run_id
    write_json(folder / RECORD_FILE, record(run_id))
    (folder / "samples").mkdir()
    (folder / "samples" / "before.jsonl").write_text('{"suite": "t", "item_id": "1"}\n')
    return folder


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` with its bytes (files) or kind: to prove nothing changed."""
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "link" if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
    return out


def craft(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def f(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def d(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def good_record(run_id: str = NEW) -> tuple[tarfile.TarInfo, bytes]:
    return f(f"{run_id}/{RECORD_FILE}", json.dumps(record(run_id)).encode())


def special(name: str, kind) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


HOSTILE = {
    "absolute path": [d(NEW), good_record(), f("/tmp/harness-pwned")],
    "dotdot escape": [d(NEW), good_record(), f(f"{NEW}/../../outside.txt")],
    "dotdot into other run": [d(NEW), good_record(), f(f"{NEW}/../{RUN}/{RECORD_FILE}", b"{}")],
    "symlink to parent then write through it": [d(NEW), good_record(), link(f"{NEW}/up", ".."),
                                                f(f"{NEW}/up/{RUN}/{RECORD_FILE}", b"[]")],
    "absolute symlink": [d(NEW), good_record(), link(f"{NEW}/etc", "/etc")],
    "hard link to another run's record plus same-named file": [
        d(NEW), good_record(), link(f"{NEW}/h", f"{RUN}/{RECORD_FILE}", tarfile.LNKTYPE), f(f"{NEW}/h", b"[]")],
    "hard link inside the run": [d(NEW), good_record(), link(f"{NEW}/h", f"{NEW}/{RECORD_FILE}", tarfile.LNKTYPE)],
    "device": [d(NEW), good_record(), special(f"{NEW}/dev", tarfile.CHRTYPE)],
    "fifo": [d(NEW), good_record(), special(f"{NEW}/fifo", tarfile.FIFOTYPE)],
    "setuid file": [d(NEW), good_record(), f(f"{NEW}/tool", b"#!/bin/sh\n", mode=0o4755)],
    "two top folders": [d(NEW), good_record(), f("other/file")],
    "duplicate member": [d(NEW), good_record(), f(f"{NEW}/a", b"1"), f(f"{NEW}/a", b"2")],
    "no run.json": [d(NEW), f(f"{NEW}/samples/before.jsonl")],
    "run.json not JSON": [d(NEW), f(f"{NEW}/{RECORD_FILE}", b"{nope")],
    "run.json a list": [d(NEW), f(f"{NEW}/{RECORD_FILE}", b"[]")],
    "run.json claims another run's id": [d(NEW), f(f"{NEW}/{RECORD_FILE}", json.dumps(record(RUN)).encode())],
    "top folder not a run id": [d(".hidden"), f(f".hidden/{RECORD_FILE}", json.dumps(record(".hidden")).encode())],
    "top folder is the quarantine": [d("quarantine"), good_record("quarantine")],
    "backslash path": [d(NEW), good_record(), f(f"{NEW}\\..\\x")],
    "file under a file": [d(NEW), good_record(), f(f"{NEW}/a"), f(f"{NEW}/a/b")],
}


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "store" / "runs")
    finished_run(s, RUN)
    return s


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused_and_changes_nothing(case, store, tmp_path):
    archive = craft(tmp_path / "evil.tar.gz", HOSTILE[case])
    before = snapshot(tmp_path / "store")
    with pytest.raises(PackError) as exc:
        unpack_run(store, archive)
    assert str(exc.value).startswith(str(archive)) and len(str(exc.value).splitlines()) == 1
    assert snapshot(tmp_path / "store") == before  # nothing written, no half-unpacked folder
    assert not Path("/tmp/harness-pwned").exists()
    assert not (tmp_path / "store" / "outside.txt").exists() and not (tmp_path / "outside.txt").exists()
    assert store.load(RUN)["status"] == "completed"


def test_cli_reports_a_refused_archive_in_one_line_with_exit_2(store, tmp_path):
    archive = craft(tmp_path / "evil.tar.gz", HOSTILE["symlink to parent then write through it"])
    not_tar = tmp_path / "notes.txt"
    not_tar.write_text("hello")
    for bad in (archive, not_tar):
        out = CliRunner().invoke(unpack_cmd, [str(bad), "--store", str(store.root)])
        assert out.exit_code == 2
        assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output
        assert str(bad) in out.output


def test_pack_round_trips_every_file_and_reunpacking_is_a_noop(store, tmp_path):
    folder = store.root / RUN
    (folder / "train").mkdir()
    (folder / "train" / "workload.jsonl").write_text('{"a": 1}\n')  # '/work' in the path: kept
    (folder / "model").mkdir()
    (folder / "model" / "config.json").write_text("{}")
    (folder / "work").mkdir()
    (folder / "work" / "checkpoint.bin").write_bytes(b"scratch")  # the scratch folder: left out
    archive = pack_run(store, RUN, tmp_path / "run.tar.gz")
    other = Store(tmp_path / "other")
    assert unpack(other, archive).added
    theirs = snapshot(other.root / RUN)
    ours = {k: v for k, v in snapshot(folder).items() if not k.startswith("work") and not k.startswith(".")}
    assert theirs == ours
    again = CliRunner().invoke(unpack_cmd, [str(archive), "--store", str(other.root)])
    assert again.exit_code == 0 and "identical content" in again.output
    (other.root / RUN / "samples" / "before.jsonl").write_text("changed\n")
    changed = CliRunner().invoke(unpack_cmd, [str(archive), "--store", str(other.root)])
    assert changed.exit_code == 2 and "different content" in changed.output
    assert (other.root / RUN / "samples" / "before.jsonl").read_text() == "changed\n"


def test_pack_refuses_a_symlink_in_the_run(store, tmp_path):
    (store.root / RUN / "evil").symlink_to("/etc/passwd")
    out = CliRunner().invoke(pack, [RUN, "--store", str(store.root), "-o", str(tmp_path / "x.tar.gz")])
    assert out.exit_code == 2 and "symbolic link" in out.output


def test_unpacked_files_honour_the_umask(store, tmp_path):
    archive = pack_run(store, RUN, tmp_path / "run.tar.gz")
    old = os.umask(0o022)
    try:
        other = Store(tmp_path / "other")
        unpack_run(other, archive)
    finally:
        os.umask(old)
    mode = stat.S_IMODE((other.root / RUN / RECORD_FILE).stat().st_mode)
    assert mode == 0o644


def test_sizes_and_member_counts_are_bounded(store, tmp_path, monkeypatch):
    import harness.store.packing as packing

    archive = craft(tmp_path / "big.tar.gz", [d(NEW), good_record(), f(f"{NEW}/big", b"x" * 5000)])
    monkeypatch.setattr(packing, "MAX_TOTAL_BYTES", 4096)
    with pytest.raises(PackError, match="more than the 4096 allowed"):
        unpack_run(store, archive)
    monkeypatch.setattr(packing, "MAX_TOTAL_BYTES", 1 << 30)
    monkeypatch.setattr(packing, "MAX_MEMBERS", 2)
    with pytest.raises(PackError, match="more than the 2 members allowed"):
        unpack_run(store, archive)
    assert not (store.root / NEW).exists()
