"""Property-based tests (hypothesis) over the parser surfaces that read what users and other
machines hand us: recipes, data files, stored records, archives. Arbitrary bytes and
structured mutations never produce a traceback, only the harness's own errors with a
message, and never change what a store already holds. Sized for CI: a few seconds."""

from __future__ import annotations

import io
import json
import math
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from harness.cli.runs_cmd import format_record  # noqa: E402
from harness.run.recipe import RecipeError, parse_recipe  # noqa: E402
from harness.store.local import RECORD_FILE, Store  # noqa: E402
from harness.store.packing import PackError, pack_run, unpack  # noqa: E402
from tests.test_hostile_archives import finished_run, record, snapshot  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
from harness_dash.runs_table import run_row  # noqa: E402

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
REPO = Path(__file__).resolve().parents[1]
QUICKSTART = (REPO / "recipes" / "quickstart.toml").read_text()
RUN = "20261201-000000-victim-0123456789abcdef"

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


# ------------------------------------------------------------------ recipes


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if not isinstance(v, float) or math.isfinite(v) else ("nan" if v != v else
                                                                             ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return '""'


toml_values = st.recursive(st.one_of(st.booleans(), st.integers(-2**62, 2**62), st.floats(), st.text(max_size=20)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)


@FAST
@given(st.binary(max_size=400))
def test_recipe_bytes_give_a_recipe_error_or_a_recipe(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_recipe reads text; bytes that are not UTF-8 are tested below
    try:
        parse_recipe(text)
    except RecipeError as exc:
        assert str(exc).strip()


def test_a_recipe_file_that_is_not_utf8_is_a_recipe_error(tmp_path):
    from harness.run.recipe import load_recipe

    path = tmp_path / "r.toml"
    path.write_bytes(b"[run]\nname = \"\xff\"\n")
    with pytest.raises(RecipeError, match="r.toml"):
        load_recipe(path)


@FAST
@given(line=st.integers(0, len(QUICKSTART.splitlines()) - 1), value=toml_values)
def test_mutating_any_value_of_a_recipe_gives_a_recipe_error_or_a_recipe(line, value):
    lines = QUICKSTART.splitlines()
    if "=" in lines[line] and not lines[line].lstrip().startswith("#"):
        key = lines[line].split("=", 1)[0]
        lines[line] = f"{key}= {toml_value(value)}"
    try:
        parse_recipe("\n".join(lines))
    except RecipeError as exc:
        assert str(exc).strip()


# ------------------------------------------------------------------ data files


@FAST
@given(data=st.binary(max_size=300), builder=st.sampled_from(["jsonl", "csv"]),
       fmt=st.sampled_from([None, "text", "prompt_completion", "preference", "chat"]))
def test_data_file_bytes_give_a_param_error_with_the_file_or_pass(data, builder, fmt, host):
    import harness

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"d.{builder}"
        path.write_bytes(data)
        source = host.create("data_source", builder, {"path": str(path), **({"format": fmt} if fmt else {})})
        try:
            source.check()
        except harness.ParamError as exc:
            assert exc.errors and all(msg.strip() for _, msg in exc.errors)


rows = st.lists(st.dictionaries(st.sampled_from(["prompt", "completion", "chosen", "rejected", "text", "messages",
                                                 "id", "extra"]), json_values, max_size=5), max_size=5)


@FAST
@given(rows=rows)
def test_structured_jsonl_rows_give_a_param_error_naming_the_line_or_pass(rows, host):
    import harness

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows))
        try:
            host.create("data_source", "jsonl", {"path": str(path)}).check()
        except harness.ParamError as exc:
            assert str(path) in str(exc) or any(k == "format" for k, _ in exc.errors)


# ------------------------------------------------------------------ records


def _consumers_survive(store: Store, run_id: str) -> dict:
    rec = store.load(run_id)
    assert rec["id"] == run_id and isinstance(rec.get("status"), str)
    format_record(rec)  # `harness show`
    run_row(rec)  # the dashboard's runs table
    from click.testing import CliRunner

    from harness.cli.runs_cmd import runs

    out = CliRunner().invoke(runs, ["--store", str(store.root)])
    assert out.exit_code == 0, out.output
    return rec


@FAST
@given(st.binary(max_size=300))
def test_record_bytes_are_read_or_marked_corrupt(data):
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        (store.root / RUN).mkdir()
        (store.root / RUN / RECORD_FILE).write_bytes(data)
        rec = _consumers_survive(store, RUN)
        assert rec["status"] == "corrupt" or isinstance(json.loads(data), dict)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


EXAMPLE = json.loads(tarfile.open(sorted((REPO / "examples" / "runs").glob("*quickstart*.tar.gz"))[0])
                     .extractfile(f"{sorted((REPO / 'examples' / 'runs').glob('*quickstart*.tar.gz'))[0].name[:-7]}"
                                  f"/{RECORD_FILE}").read())
EXAMPLE_PATHS = [p for p in _paths(EXAMPLE) if p and p[0] not in ("recipe", "components")]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(EXAMPLE_PATHS), value=json_values)
def test_any_field_of_a_real_record_mutated_is_read_or_marked_corrupt(where, value):
    import copy

    rec = copy.deepcopy(EXAMPLE)
    rec["id"] = RUN
    target = rec
    for key in where[:-1]:
        target = target[key]
    if where == ("id",):
        return
    target[where[-1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        (store.root / RUN).mkdir()
        (store.root / RUN / RECORD_FILE).write_text(json.dumps(rec, default=str))
        _consumers_survive(store, RUN)


# ------------------------------------------------------------------ archives


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory) -> bytes:
    tmp = tmp_path_factory.mktemp("pack")
    store = Store(tmp / "src")
    finished_run(store, "20261201-000001-new-fedcba9876543210")
    return pack_run(store, "20261201-000001-new-fedcba9876543210", tmp / "run.tar.gz").read_bytes()


def _unpack_changes_nothing_else(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store(root / "store")
        finished_run(store, RUN)
        before = snapshot(root / "store")
        archive = root / "a.tar.gz"
        archive.write_bytes(data)
        try:
            done = unpack(store, archive)
        except PackError as exc:
            assert str(exc).strip() and "\n" not in str(exc)
            assert snapshot(root / "store") == before
            return
        after = snapshot(root / "store")
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        assert all(k.startswith(f"runs/{done.run_id}") or k.startswith(done.run_id) for k in changed) or \
            all(Path(k).parts[0] == done.run_id for k in changed), changed
        assert store.load(RUN)["status"] == "completed"
        assert sorted(p.name for p in root.iterdir()) == ["a.tar.gz", "store"]


@FAST
@given(st.binary(max_size=400))
def test_archive_bytes_are_refused_cleanly(data):
    _unpack_changes_nothing_else(data)


@FAST
@given(cut=st.integers(0, 4000), flip=st.integers(0, 4000), byte=st.integers(0, 255))
def test_damaged_real_archives_are_refused_or_unpacked_without_harm(good_archive, cut, flip, byte):
    data = bytearray(good_archive[:max(cut, 1)] if cut < len(good_archive) else good_archive)
    if flip < len(data):
        data[flip] = byte
    _unpack_changes_nothing_else(bytes(data))


names = st.lists(st.sampled_from(["..", ".", "", "run", "20261201-000001-new-fedcba9876543210", RUN, "run.json",
                                  "/", "a", "quarantine", "..\\x", "samples"]), min_size=1, max_size=4) \
    .map(lambda parts: "/".join(parts))
member_types = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                tarfile.FIFOTYPE, tarfile.CHRTYPE])


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(names, member_types, names, st.integers(0, 0o7777), st.binary(max_size=40)),
                min_size=1, max_size=6))
def test_crafted_tar_members_never_write_outside_the_new_run(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind, linkname, mode, data in members:
            info = tarfile.TarInfo(name or "x")
            info.type, info.linkname, info.mode = kind, linkname, mode
            if name.endswith("run.json") and kind == tarfile.REGTYPE:
                top = name.split("/")[0]
                data = json.dumps(record(top)).encode()
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    _unpack_changes_nothing_else(buf.getvalue())
