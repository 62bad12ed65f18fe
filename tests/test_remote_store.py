"""A team store on S3: the real pipeline, CLI and dashboard against moto's S3 server on 127.0.0.1.

One server for the module; two shortened quickstart runs go into ``s3://…/runs`` with
credentials given only through the environment (``AWS_*``) and ``HARNESS_STORE_OPTIONS``.
Then: ``runs``, ``show``, ``compare``, ``gate``, ``export`` and the dashboard read it;
``pack`` and ``unpack`` go through it; the listing index is used, rebuildable and never
the source of truth; no credential is in any stored object.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

import harness  # noqa: E402
from harness.store.local import Store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = "recipes/quickstart.toml"
SHORT = ["--set", "train.0.max_steps=2", "--set", "train.1.max_steps=1"]
BUCKET = "team-bucket"
URL = f"s3://{BUCKET}/runs"
KEY_ID = "AKIAHARNESSTESTKEY01"
SECRET = "harness-test-secret-never-stored-9f3b"  # noqa: S105 - a fake credential the test looks for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str):
    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server on a free port, a bucket, and the environment that reaches it."""
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
           "HARNESS_STORE_OPTIONS": json.dumps({"client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"}}),
           "HARNESS_STORE_CACHE": str(tmp_path_factory.mktemp("store-cache"))}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        store = Store(URL)
        store.fs.mkdir(BUCKET)
        yield {"env": env, "fs": store.fs, "port": port}
    server.stop()


@pytest.fixture(autouse=True)
def _s3_env(s3, monkeypatch):
    for k, v in s3["env"].items():  # conftest's per-test isolation resets the environment
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="module")
def sweep(s3, tmp_path_factory):
    """A 2-point sweep of the shortened quickstart written straight into the S3 store (the
    evaluation cache stays local): ``{"id": sweep id, "runs": [oldest, newest]}``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("eval-cache")))
        result = _cli("sweep", QUICKSTART, "--grid", "run.seed=0,1", "--store", URL, *SHORT)
    assert result.exit_code in (0, 1), result.output  # 1: a gate failed (2 SFT steps teach nothing)
    sweep_id = re.search(r"harness runs --sweep (sw-[0-9a-f-]+)", result.output).group(1)
    listed = json.loads(_cli("runs", "--store", URL, "--sweep", sweep_id, "--json").output)
    assert len(listed) == 2
    return {"id": sweep_id, "runs": sorted(r["id"] for r in listed)}


@pytest.fixture(scope="module")
def runs(sweep):
    return sweep["runs"]


def test_a_run_lands_in_s3_with_the_local_layout_and_an_index_entry(s3, runs):
    fs = s3["fs"]
    keys = {k.removeprefix(f"{BUCKET}/runs/") for k in fs.find(f"{BUCKET}/runs")}
    for run_id in runs:
        assert {f"{run_id}/run.json", f"{run_id}/samples/before.jsonl", f"{run_id}/samples/after.jsonl",
                f"index/{run_id}.json"} <= keys
        assert f"{run_id}/record.partial.json" not in keys  # removed once run.json is up
        assert not any(k.startswith(f"{run_id}/work/") for k in keys)  # scratch stays in local staging
        assert any(k.startswith(f"{run_id}/") and k.endswith("model.safetensors") for k in keys)
        entry = json.loads(fs.cat_file(f"{BUCKET}/runs/index/{run_id}.json"))
        record = json.loads(fs.cat_file(f"{BUCKET}/runs/{run_id}/run.json"))
        assert entry["summary"] is True and entry["id"] == run_id and entry["status"] == record["status"]
        assert entry["metrics"]["after"].keys() == record["metrics"]["after"].keys()
        assert len(json.dumps(entry)) < len(json.dumps(record)) / 3


def test_no_credential_is_in_any_stored_object(s3, runs):
    fs = s3["fs"]
    blobs = fs.cat(fs.find(BUCKET))
    assert blobs and all(KEY_ID.encode() not in b and SECRET.encode() not in b for b in blobs.values())
    record = json.loads(blobs[f"{BUCKET}/runs/{runs[0]}/run.json"])
    assert "HARNESS_STORE_OPTIONS" not in json.dumps(record) and "endpoint_url" not in json.dumps(record)


def test_runs_show_compare_gate_read_the_s3_store(runs):
    listing = _cli("runs", "--store", URL)
    assert listing.exit_code == 0 and all(i in listing.output for i in runs), listing.output
    shown = _cli("show", runs[0], "--store", URL)
    assert shown.exit_code == 0 and f"run      {runs[0]}" in shown.output and "status   completed" in shown.output
    compared = _cli("compare", runs[0], runs[1], "--store", URL)
    assert compared.exit_code in (0, 1) and "quick_mc/acc" in compared.output, compared.output
    gated = _cli("gate", runs[1], "--store", URL, "--gate", "quick_mc/acc:min=0.0", "--json")
    assert gated.exit_code == 0, gated.output
    assert json.loads(gated.output[gated.output.index("{"):])["gates"][0]["passed"] is True


def test_the_index_is_used_rebuildable_and_never_the_source_of_truth(s3, runs):
    fs, newest = s3["fs"], runs[1]
    entry_key = f"{BUCKET}/runs/index/{newest}.json"
    entry = json.loads(fs.cat_file(entry_key))
    fs.pipe_file(entry_key, json.dumps(entry | {"name": "name-from-the-index"}).encode())
    names = {r["id"]: r["name"] for r in json.loads(_cli("runs", "--store", URL, "--json").output)}
    assert names[newest] == "name-from-the-index"  # the listing read the index entry, not run.json
    full = {r["id"]: r["name"] for r in json.loads(_cli("runs", "--store", URL, "--json", "--no-index").output)}
    assert full[newest] == "quickstart"

    # a run that has no index entry (copied in by hand) is listed; an entry without its run is not
    added = "29990101-000000-copied-by-hand-0000000000000000"
    record = json.loads(fs.cat_file(f"{BUCKET}/runs/{runs[0]}/run.json")) | {"id": added, "name": "copied"}
    fs.pipe_file(f"{BUCKET}/runs/{added}/run.json", json.dumps(record).encode())
    gone = "29990101-000001-deleted-0000000000000000"
    fs.pipe_file(f"{BUCKET}/runs/index/{gone}.json", json.dumps(entry | {"id": gone, "name": "ghost"}).encode())
    listed = json.loads(_cli("runs", "--store", URL, "--json").output)
    assert [r["id"] for r in listed][:1] == [added] and gone not in {r["id"] for r in listed}
    one = _cli("runs", "--store", URL, "--limit", "1").output.strip().splitlines()
    assert len(one) == 3 and added in one[2]  # header, rule, the newest run

    rebuilt = _cli("store", "reindex", "--store", URL)
    assert rebuilt.exit_code == 0 and "3 index entries written, 1 stale removed" in rebuilt.output, rebuilt.output
    names = {r["id"]: r["name"] for r in json.loads(_cli("runs", "--store", URL, "--json").output)}
    assert names[newest] == "quickstart" and fs.exists(f"{BUCKET}/runs/index/{added}.json")
    assert not fs.exists(f"{BUCKET}/runs/index/{gone}.json")

    # reindex also wrote a snapshot per month of run ids: one object instead of one read per run ...
    snapshots = sorted(k.rsplit("/", 1)[1][:15] for k in fs.ls(f"{BUCKET}/runs/index", detail=False)
                       if "/snapshot-" in k)
    assert snapshots == [f"snapshot-{newest[:6]}", "snapshot-299901"]
    (snapshot,) = [k for k in fs.ls(f"{BUCKET}/runs/index", detail=False) if f"/snapshot-{newest[:6]}-" in k]
    lines = [json.loads(line) for line in fs.cat_file(snapshot).decode().splitlines()]
    assert sorted(row["entry"]["id"] for row in lines) == sorted(runs)
    for row in lines:
        row["entry"]["name"] = "name-from-the-snapshot" if row["entry"]["id"] == newest else row["entry"]["name"]
    fs.pipe_file(snapshot, "".join(json.dumps(row) + "\n" for row in lines).encode())
    names = {r["id"]: r["name"] for r in json.loads(_cli("runs", "--store", URL, "--json").output)}
    assert names[newest] == "name-from-the-snapshot"  # the listing read the snapshot
    # ... used only while it holds an entry's current version: a rewritten entry wins
    fs.pipe_file(entry_key, json.dumps(entry | {"name": "rewritten-entry"}).encode())
    names = {r["id"]: r["name"] for r in json.loads(_cli("runs", "--store", URL, "--json").output)}
    assert names[newest] == "rewritten-entry"

    fs.rm(f"{BUCKET}/runs/{added}", recursive=True)
    assert _cli("store", "reindex", "--store", URL).exit_code == 0
    names = {r["id"]: r["name"] for r in json.loads(_cli("runs", "--store", URL, "--json").output)}
    assert names == {runs[0]: "quickstart", runs[1]: "quickstart"}


def test_pack_and_unpack_through_s3(s3, runs, tmp_path):
    archive = tmp_path / "run.tar.gz"
    packed = _cli("pack", runs[0], "--store", URL, "--output", str(archive))
    assert packed.exit_code == 0 and archive.is_file(), packed.output
    other = f"s3://{BUCKET}/other-team"
    unpacked = _cli("unpack", str(archive), "--store", other)
    assert unpacked.exit_code == 0 and f"{other}/{runs[0]}" in unpacked.output, unpacked.output
    fs = s3["fs"]
    for name in ("run.json", "samples/after.jsonl"):
        assert fs.cat_file(f"{BUCKET}/other-team/{runs[0]}/{name}") == fs.cat_file(f"{BUCKET}/runs/{runs[0]}/{name}")
    assert fs.exists(f"{BUCKET}/other-team/index/{runs[0]}.json")
    again = _cli("unpack", str(archive), "--store", other)
    assert again.exit_code == 0 and "identical content" in again.output, again.output
    assert [r["id"] for r in json.loads(_cli("runs", "--store", other, "--json").output)] == [runs[0]]


def test_report_reads_training_logs_from_s3_without_the_model(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_STORE_CACHE", str(tmp_path / "fresh-cache"))  # another machine's view
    report = tmp_path / "report.html"
    result = _cli("report", runs[0], "--store", URL, "--html", str(report))
    assert result.exit_code == 0, result.output
    training = Store(URL).load(runs[0])["training"]
    html = report.read_text()
    assert all(f"{t['stage']} ({t['trainer']})" in html for t in training)  # its training curves
    mirror = Store(URL).root / runs[0]
    logs = [t["log"] for t in training]
    assert logs and all((mirror / log).is_file() for log in logs)
    assert not any(mirror.rglob("*.safetensors"))  # the model stays in the bucket


def test_export_downloads_the_model_from_s3(runs, tmp_path):
    dest = tmp_path / "exported"
    result = _cli("export", runs[0], str(dest), "--store", URL)
    assert result.exit_code == 0, result.output
    assert (dest / "config.json").is_file() and (dest / "README.md").is_file()
    assert any(dest.glob("*.safetensors"))


def test_the_dashboard_reads_the_s3_store_and_groups_the_sweep(sweep, runs, monkeypatch):
    pytest.importorskip("streamlit")
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HARNESS_STORE", URL)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        table = next(df.value for df in at.dataframe if "id" in df.value.columns)
        assert set(runs) <= set(table["id"]) and set(table.loc[table["id"].isin(runs), "status"]) == {"completed"}
        assert any("bucket/runs" in c.value and "s3" in c.value for c in at.caption)
        sweeps = next(df.value for df in at.dataframe if "points" in df.value.columns)
        assert sweeps.to_dict("records")[0] | {"started": None} == {
            "sweep": sweep["id"], "points": 2, "completed": 2, "gates passed": 0, "gates failed": 2,
            "gates inconclusive": 0, "not finished": 0, "grid": "run.seed", "started": None}
        at.multiselect(key="runs.sweep").set_value([sweep["id"]]).run()
        points = next(df.value for df in at.dataframe if "grid:run.seed" in df.value.columns)
        assert sorted(points["grid:run.seed"]) == [0, 1] and set(points["sweep"]) == {sweep["id"]}
        at.query_params.update({"a": runs[0], "b": runs[1]})
        at.switch_page("views/compare.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("quick_mc/acc" in set(df.value.get("metric", [])) for df in at.dataframe)
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()


def test_bad_store_options_are_a_clear_error(monkeypatch):
    from harness.errors import StoreError
    from harness.store.remote import redact

    monkeypatch.setenv("HARNESS_STORE_OPTIONS", "{not json")
    with pytest.raises(StoreError, match="HARNESS_STORE_OPTIONS is not valid JSON"):
        Store(URL)
    result = _cli("runs", "--store", URL)
    assert result.exit_code == 2 and "HARNESS_STORE_OPTIONS is not valid JSON" in result.output
    assert redact("s3://user:pass@bucket/runs") == "s3://bucket/runs"


def test_the_run_loader_reads_a_trained_model_from_s3(s3, runs):
    result = _cli("eval", "--model", f"run:{runs[0]}", "--tasks", "quick_mc", "--limit", "4", "--name",
                  "eval-from-s3", "--store", URL, "--json")
    assert result.exit_code == 0, result.output
    record = Store(URL).load(json.loads(result.output[result.output.index("{"):])["id"])
    assert record["status"] == "completed" and record["model"]["loader"] == "run"
    assert record["model"]["fingerprint"] == Store(URL).load(runs[0])["model"]["fingerprint_after"]
    assert record["recipe"]["resolved"]["model"]["store"] == URL  # the URL, never a credential
    s3["fs"].rm(f"{BUCKET}/runs/{record['id']}", recursive=True)
    s3["fs"].rm_file(f"{BUCKET}/runs/index/{record['id']}.json")


def test_store_check_reports_on_s3_and_fix_refuses(runs):
    checked = _cli("store", "check", "--store", URL)
    assert checked.exit_code == 0 and f"{URL}: " in checked.output and "0 problem(s)" in checked.output, \
        checked.output
    refused = _cli("store", "check", "--fix", "--store", URL)
    assert refused.exit_code == 2 and "--fix works on a local store only" in refused.output
    latest = _cli("show", "latest", "--store", URL)
    assert latest.exit_code == 0 and runs[1] in latest.output
    by_name = _cli("show", "quickstart", "--store", URL)  # a name: the newest run of that name
    assert by_name.exit_code == 0 and runs[1] in by_name.output, by_name.output


class _Observer:
    """After each stage, what a colleague reading the S3 store sees of the run in progress."""

    def __init__(self):
        self.seen: list[tuple[str, str, list[str], bool]] = []

    @harness.hookimpl
    def on_stage_end(self, event):
        record = Store(URL).load(event.run_id)
        ok = [s["name"] for s in record.get("stages") or [] if s.get("status") == "ok"]
        samples = Store(URL).fs.exists(f"{BUCKET}/runs/{event.run_id}/samples/before.jsonl")
        self.seen.append((event.stage, record["status"], ok, samples))


def test_a_run_in_progress_is_visible_stage_by_stage(s3):
    from harness.testing import run_recipe

    observer = _Observer()
    recipe = ('[run]\nname = "observed"\n\n[model]\nloader = "tiny"\n\n[[evaluate]]\nevaluator = "lm-eval"\n'
              'tasks = ["quick_mc"]\nlimit = 4\n')
    record = run_recipe(recipe, store=Store(URL), plugins=[("observer", observer)])
    assert record["status"] == "completed"
    # each stage's end: run.json not there yet (incomplete), the stages so far uploaded
    assert [(stage, status) for stage, status, _, _ in observer.seen] == [(s["name"], "incomplete")
                                                                         for s in record["stages"]]
    assert all(ok[-1] == stage for stage, _, ok, _ in observer.seen)
    assert observer.seen[-1][3] is True  # the "before" samples are up once that evaluation ended
    assert Store(URL).load(record["id"])["status"] == "completed"
    s3["fs"].rm(f"{BUCKET}/runs/{record['id']}", recursive=True)
    s3["fs"].rm_file(f"{BUCKET}/runs/index/{record['id']}.json")


def test_a_store_that_cannot_be_written_stops_the_run_with_a_clear_error(s3):
    result = _cli("run", QUICKSTART, "--store", "s3://no-such-bucket-here/runs", *SHORT)
    assert result.exit_code != 0
    message = str(result.exception) if result.exception else result.output
    assert "store s3://no-such-bucket-here/runs: cannot upload" in message and "credentials" in message
    assert SECRET not in message and KEY_ID not in message


def test_a_failed_run_resumes_on_another_machine_from_s3(s3, tmp_path, monkeypatch):
    from harness.contract.plugins import load_plugins
    from harness.run.pipeline import run_recipe
    from harness.run.recipe import parse_recipe
    from tests.conftest import FIRST_PARTY
    from tests.test_resume import TWO_STAGES, Extras, Flaky

    host = load_plugins(allow=FIRST_PARTY, extra=[("extras", Extras())])
    Flaky.broken = True
    failed = run_recipe(parse_recipe(TWO_STAGES), host, Store(URL))
    assert failed["status"] == "failed" and Store(URL).load(failed["id"])["status"] == "failed"

    Flaky.broken = False
    monkeypatch.setenv("HARNESS_STORE_CACHE", str(tmp_path / "another-machine"))  # nothing staged here
    elsewhere = Store(URL)
    assert not (elsewhere.root / failed["id"]).exists()
    resumed = run_recipe(parse_recipe(TWO_STAGES), host, elsewhere, resume=failed["id"])
    assert resumed["id"] == failed["id"] and resumed["status"] == "completed"
    stages = {s["name"]: s for s in resumed["stages"]}
    assert stages["train-0-nudge"]["resumed"] == "reused"  # its saved model came down from the bucket
    assert stages["load"]["reloaded_from"] == "stages/train-0-nudge/model"
    stored = Store(URL).load(failed["id"])
    assert stored["status"] == "completed" and [a["stage"] for a in stored["artifacts"]] == [
        "train-0-nudge", "train-1-flaky"]
    for artifact in stored["artifacts"]:  # both stages' models are in the bucket
        assert s3["fs"].exists(f"{BUCKET}/runs/{failed['id']}/{artifact['path']}/model.safetensors"), artifact
    s3["fs"].rm(f"{BUCKET}/runs/{failed['id']}", recursive=True)
    s3["fs"].rm_file(f"{BUCKET}/runs/index/{failed['id']}.json")


def test_a_store_pickles_as_the_same_kind_of_store(s3, tmp_path, monkeypatch):
    import pickle

    monkeypatch.setenv("HARNESS_STORE", URL)  # what a bare Store() opens: must not change a local one
    local = pickle.loads(pickle.dumps(Store(tmp_path / "runs")))
    assert type(local) is Store and local.root == tmp_path / "runs"
    remote = pickle.loads(pickle.dumps(Store(URL)))
    assert remote.is_remote and remote.location == URL and remote.run_ids() == Store(URL).run_ids()
