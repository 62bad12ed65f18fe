"""The Streamlit dashboard (dashboards/app.py), driven by Streamlit's AppTest over a
store made by the real pipeline: ``harness run`` on a shortened quickstart recipe
(the same recipe with fewer SFT steps, to keep this file fast on 2 CPU cores) and an
eval-only ``harness eval``, plus the folders a real store also holds: a corrupt
run.json, a run still in progress, and a copy of a real run whose model output
contains HTML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from harness.store.local import Store  # noqa: E402
from harness.verdicts import compare as hc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "dashboards" / "app.py"
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
_BUILT: dict[str, dict] = {}


def _harness(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def build_store(root: Path) -> dict:
    """Run the real pipeline into ``root/runs`` once per session; return the run ids."""
    if "store" in _BUILT:
        return _BUILT["store"]
    store_dir = root / "runs"
    env = {**os.environ, "HARNESS_STORE": str(store_dir), "HARNESS_CACHE_DIR": str(root / "cache")}
    recipe = (REPO / "recipes" / "quickstart.toml").read_text()
    recipe = recipe.replace('name = "quickstart"', 'name = "quickstart-short"')
    recipe = recipe.replace('path = "../plugins/', f'path = "{REPO}/plugins/')
    recipe = recipe.replace("max_steps = 60", "max_steps = 4").replace("max_steps = 4\nlearning_rate = 1e-4",
                                                                       "max_steps = 1\nlearning_rate = 1e-4")
    recipe = recipe.replace('tasks = ["quick_mc"]', 'tasks = ["quick_mc"]\nlimit = 16')
    recipe = recipe.replace('suites = ["quick-safety"]', 'suites = ["quick-safety"]\nlimit = 8')
    (root / "quickstart-short.toml").write_text(recipe)
    procs = [
        _harness("run", str(root / "quickstart-short.toml"), "--store", str(store_dir), env=env),
        _harness("eval", "--model", "tiny", "--tasks", "quick_mc", "--suites", "quick-safety", "--limit", "12",
                 "--name", "eval-tiny", "--store", str(store_dir), env=env),
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1), out  # 1: a gate failed, which the dashboard must show too
    store = Store(store_dir)
    by_name = {store.load(i)["name"]: i for i in store.run_ids()}
    run_id, eval_id = by_name["quickstart-short"], by_name["eval-tiny"]

    # A copy of the real run whose model output is HTML (an injection probe).
    xss_id = "29991231-235959-xss-probe-0000"
    shutil.copytree(store_dir / run_id, store_dir / xss_id)
    rec = json.loads((store_dir / xss_id / "run.json").read_text())
    rec.update(id=xss_id, name="xss-probe")
    (store_dir / xss_id / "run.json").write_text(json.dumps(rec))
    rows = [json.loads(line) for line in (store_dir / xss_id / "samples" / "after.jsonl").read_text().splitlines()]
    probe = next(r for r in rows if r["suite"] == "quick-safety")
    probe["output"] = XSS
    (store_dir / xss_id / "samples" / "after.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    # Half-written folders: a corrupt run.json and a run without one.
    (store_dir / "20000101-000000-corrupt-0001").mkdir()
    (store_dir / "20000101-000000-corrupt-0001" / "run.json").write_text('{"name": "cor')
    (store_dir / "20000101-000001-running-0002").mkdir()
    _BUILT["store"] = {"dir": store_dir, "run": run_id, "eval": eval_id, "xss": xss_id, "probe": probe,
                       "corrupt": "20000101-000000-corrupt-0001", "incomplete": "20000101-000001-running-0002"}
    return _BUILT["store"]


@pytest.fixture(scope="session")
def real_store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("dashboard"))


def _clear_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app(real_store, monkeypatch):
    """A fresh AppTest on the real store (caches cleared: they leak between tests)."""
    monkeypatch.setenv("HARNESS_STORE", str(real_store["dir"]))
    _clear_caches()
    yield lambda page=None, **params: _open(page, params)
    _clear_caches()


def _open(page: str | None, params: dict) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.query_params.update(params)
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def _df(at: AppTest, *columns: str, group: str | None = None) -> pd.DataFrame:
    """The first table shown with all these columns (and, if given, only rows of ``group``)."""
    for df in at.dataframe:
        value = df.value
        if set(columns) <= set(value.columns) and (group is None or set(value["group"]) == {group}):
            return value
    raise AssertionError(f"no table with columns {columns} (group {group})")


def _record(real_store, which: str) -> dict:
    return Store(real_store["dir"]).load(real_store[which])


# ------------------------------------------------------------------ Runs


def test_runs_page_lists_every_folder_with_record_values(app, real_store):
    at = app()
    table = at.dataframe[0].value
    assert set(table["id"]) == set(Store(real_store["dir"]).run_ids())
    status = dict(zip(table["id"], table["status"]))
    assert status[real_store["run"]] == "completed"
    assert status[real_store["corrupt"]] == "corrupt"
    assert status[real_store["incomplete"]] == "incomplete"
    rec = _record(real_store, "run")
    row = table[table["id"] == real_store["run"]].iloc[0]
    assert row["after:quick_mc/acc"] == pytest.approx(rec["metrics"]["after"]["quick_mc/acc"]["value"])
    assert row["quick_mc/acc"] == pytest.approx(rec["metrics"]["after"]["quick_mc/acc"]["value"])  # a number
    assert row["Δ quick_mc/acc"] == pytest.approx(rec["metrics"]["after"]["quick_mc/acc"]["value"]
                                                  - rec["metrics"]["before"]["quick_mc/acc"]["value"])
    assert row["gates"] == ("passed" if rec["gates_passed"] else "failed")
    assert row["stage:train-0-sft [s]"] == pytest.approx(
        next(s["duration_s"] for s in rec["stages"] if s["name"] == "train-0-sft"))
    assert row["accelerator"].startswith(rec["environment"]["accelerator"]["kind"])
    assert at.get("download_button")


def test_runs_filters_come_from_and_go_to_the_url(app, real_store):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["status"] = ["corrupt", "incomplete"]
    at.run()
    table = at.dataframe[0].value
    assert set(table["id"]) == {real_store["corrupt"], real_store["incomplete"]}

    at.text_input(key="runs.name").input("eval-tiny").run()
    at.multiselect(key="runs.status").set_value([]).run()
    assert list(at.dataframe[0].value["id"]) == [real_store["eval"]]
    assert at.query_params["name"] == ["eval-tiny"] or at.query_params["name"] == "eval-tiny"


def test_adding_a_run_invalidates_the_cache(app, real_store, tmp_path, monkeypatch):
    store = tmp_path / "copy"
    shutil.copytree(real_store["dir"] / real_store["run"], store / real_store["run"])
    monkeypatch.setenv("HARNESS_STORE", str(store))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert len(at.dataframe[0].value) == 1
    shutil.copytree(real_store["dir"] / real_store["eval"], store / real_store["eval"])
    at.run()
    assert len(at.dataframe[0].value) == 2


def test_every_page_handles_an_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "nothing-here"))
    _clear_caches()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    for page in (None, "compare", "items", "run"):
        if page:
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception
        assert at.info, page


# ------------------------------------------------------------------ Compare


def test_compare_before_after_opens_with_the_verdict_and_the_one_metric_table(app, real_store):
    from harness.reports.metric_table import concern_verdicts, metric_rows

    at = app("compare", a=real_store["run"])
    rec = _record(real_store, "run")
    comp = hc.compare_runs(Store(real_store["dir"]), real_store["run"])
    rows = metric_rows(comp, rec["gates"], record_a=rec, record_b=rec)
    heading = at.markdown[0].value if at.markdown else ""
    for v in concern_verdicts(rows):
        if v.change != "none":
            assert f"{v.label} {v.change}" in heading          # the verdict line comes first
    cap = _df(at, "key", group="capability")
    assert set(cap["suite"]) == {"quick_mc"}
    by_key = {r.metric: r for r in rows}
    for group in ("capability", "harm", "over_refusal"):
        try:
            part = _df(at, "key", group=group)
        except AssertionError:
            continue
        for _, row in part.iterrows():
            r = by_key[row["key"]]
            assert r.concern == group and r.headline
            assert row["A"] == pytest.approx(r.a) and row["B"] == pytest.approx(r.b)
            assert row["B − A"] == pytest.approx(row["B"] - row["A"])   # A, B and B − A add up
            assert row["good"] == ("↑" if r.higher_is_better else "↓")
    acc = cap[cap["key"] == "quick_mc/acc"].iloc[0]
    gate = next(g for g in rec["gates"] if g["metric"] == "quick_mc/acc")
    assert acc["gate"].startswith({"pass": "✓", "fail": "✗", "inconclusive": "?"}[gate["verdict"]])
    _assert_gate_table(at, rec)
    [forest] = at.get("vega_lite_chart")
    spec = json.loads(forest.proto.spec)
    assert "layer" in spec and "right is better" in forest.proto.spec


def _assert_gate_table(at: AppTest, rec: dict) -> None:
    """The gate table: three-valued verdict, adjusted confidence, MDE; the policy line below it."""
    from harness.reports.gating import policy_line
    from harness.reports.metric_table import gate_confidence, gate_verdict

    table = _df(at, "verdict", "confidence", "mde")
    assert len(table) == len(rec["gates"])
    for (_, row), g in zip(table.iterrows(), rec["gates"]):
        assert row["verdict"].endswith(gate_verdict(g)) and row["confidence"] == gate_confidence(g)
        assert row["mde"] == pytest.approx(g["mde"])
    line = policy_line(rec["gating"])
    assert line and any(c.value.replace("\\", "") == line for c in at.caption), [c.value for c in at.caption]


def test_compare_two_runs_phase_lives_in_the_url(app, real_store):
    """The two-run phase bug: A's phase was left over from the previous A, and a reload showed
    another comparison. Now the phase is in the URL and returns to A's final phase when A changes."""
    at = app("compare", mode="two", a=real_store["eval"], b=real_store["run"], pb="after")
    assert at.selectbox(key="compare.pa").value == "before"      # eval-only: its only phase
    at.selectbox(key="compare.a").set_value(real_store["run"]).run()
    assert at.selectbox(key="compare.pa").value == "after"       # not the leftover "before"
    at.selectbox(key="compare.pa").set_value("before").run()
    url = {k: at.query_params[k] for k in ("mode", "a", "b", "pa", "pb")}
    flat = {k: v[0] if isinstance(v, list) else v for k, v in url.items()}
    assert flat == {"mode": "two", "a": real_store["run"], "b": real_store["run"], "pa": "before", "pb": "after"}
    reloaded = app("compare", **flat)                             # the same link, a fresh session
    assert reloaded.selectbox(key="compare.pa").value == "before"
    assert reloaded.selectbox(key="compare.pb").value == "after"
    first, again = _df(at, "key", group="capability"), _df(reloaded, "key", group="capability")
    pd.testing.assert_frame_equal(first.reset_index(drop=True), again.reset_index(drop=True))


def test_compare_two_runs_refuses_a_mismatch_until_allowed(app, real_store):
    at = app("compare", mode="two", a=real_store["run"], b=real_store["eval"])
    assert any("did not measure the same thing" in e.value for e in at.error)
    at.checkbox(key="compare.allow_mismatch").check().run()
    assert not at.exception
    assert at.query_params["force"] in ("1", ["1"])               # a forced view is shareable too
    cap = _df(at, "key", group="capability")
    rec_b = _record(real_store, "eval")
    acc = cap[cap["key"] == "quick_mc/acc"].iloc[0]
    paired = hc.compare_records(_record(real_store, "run"), Store(real_store["dir"]).samples(real_store["run"], "after"),
                                rec_b, Store(real_store["dir"]).samples(real_store["eval"], "before"),
                                allow_mismatch=True).metric("quick_mc/acc")
    assert acc["B"] == pytest.approx(paired.value_b)
    assert any("mismatch" in w.value for w in at.warning)


def test_compare_many_runs_heat_table_grouped_by_accelerator(app, real_store):
    at = app("compare", mode="many")
    [chart] = at.get("vega_lite_chart")
    assert "accelerator" in chart.proto.spec and '"labelOverlap": false' in chart.proto.spec
    table = _df(at, "gates", "accelerator")
    metric_cols = [c for c in table.columns if "/" in c]
    assert metric_cols and all(pd.api.types.is_numeric_dtype(table[c]) for c in metric_cols)  # sortable numbers
    at.selectbox(key="compare.group_by").set_value("model").run()
    assert "model" in at.get("vega_lite_chart")[0].proto.spec


# ------------------------------------------------------------------ Items


def test_items_lists_flipped_items_first_with_both_replies(app, real_store):
    at = app("items", a=real_store["run"], suite="quick_mc", metric="acc")
    items = _df(at, "reply A")
    comp = hc.compare_runs(Store(real_store["dir"]), real_store["run"])
    flipped = hc.flipped_items(comp, "quick_mc/acc")
    assert list(items["item_id"][: len(flipped)]) == [str(f["item_id"]) for f in flipped]
    assert (items["flip"][: len(flipped)] != "").all() and (items["flip"][len(flipped):] == "").all()
    first = flipped[0] if flipped else None
    if first:
        assert items.iloc[0]["reply A"] == first["output_a"] and items.iloc[0]["reply B"] == first["output_b"]
    codes = [c.value for c in at.code]
    row = items.iloc[0]
    assert row["prompt"] in codes and row["reply A"] in codes


def test_items_shows_filter_verdicts_and_html_outputs_as_text(app, real_store):
    probe = real_store["probe"]
    at = app("items", a=real_store["xss"], suite="quick-safety")
    at.selectbox(key="items.item").set_value(str(probe["item_id"])).run()
    assert XSS in [c.value for c in at.code]  # shown in a code block: text, never HTML
    assert all(XSS not in m.value for m in at.markdown)
    filters = [df.value for df in at.dataframe if "reason" in df.value.columns]
    assert filters and set(filters[-1]["filter"]) == set(probe["filters"])
    assert list(filters[-1]["reason"]) == [v["reason"] for v in probe["filters"].values()]


def test_items_search_filters_rows(app, real_store):
    at = app("items", a=real_store["run"], suite="quick_mc")
    at.text_input(key="items.q").input("opposite of hot").run()
    items = _df(at, "reply A")
    assert len(items) >= 1 and items["prompt"].str.contains("opposite of hot").all()


# ------------------------------------------------------------------ Run


def test_run_page_shows_record_and_training_curves(app, real_store):
    at = app("run", run=real_store["run"])
    rec = _record(real_store, "run")
    metrics = _df(at, "± before")
    row = metrics[metrics["metric"] == "quick_mc/acc"].iloc[0]
    assert row["after"] == pytest.approx(rec["metrics"]["after"]["quick_mc/acc"]["value"])
    assert rec["recipe"]["text"].strip() in [c.value.strip() for c in at.code]
    comps = _df(at, "fullname")
    assert {"trl/sft", "trl/dpo", "tiny/tiny"} <= set(comps["fullname"])
    _assert_gate_table(at, rec)
    titles = [json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")]
    assert "loss" in titles and "rewards / margins" in titles  # SFT + DPO logs; DPO logs reward margins
    series = {d.get("series") for c in at.get("vega_lite_chart") for ds in c.proto.datasets
              for d in _rows(ds)}
    assert {"loss", "rewards/margins"} <= series


def test_run_page_overlays_other_runs_curves(app, real_store):
    at = app("run", run=real_store["run"], **{"with": real_store["xss"]})  # the copy also trained
    titles = [json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")]
    assert "loss (runs overlaid)" in titles and "learning rate (runs overlaid)" in titles
    chart = next(c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec).get("title") == "loss (runs overlaid)")
    labels = {d["series"] for ds in chart.proto.datasets for d in _rows(ds)}
    assert any(label.startswith("xss-probe · ") for label in labels)
    assert any(label.startswith("quickstart-short · ") for label in labels)


def _rows(dataset) -> list[dict]:
    """Rows of a chart's inline dataset (Arrow IPC bytes)."""
    import pyarrow as pa

    return pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()


def test_run_page_explains_corrupt_and_incomplete_runs(app, real_store):
    at = app("run", run=real_store["corrupt"])
    assert any("cannot be parsed" in e.value for e in at.error)
    at = app("run", run=real_store["incomplete"])
    assert any("no run.json" in w.value for w in at.warning)


def test_dashboard_command_finds_the_app():
    from harness.cli.dashboard_cmd import app_path, streamlit_command

    assert app_path() == APP
    cmd = streamlit_command(app_path(), "127.0.0.1", 8599)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"] and "--server.headless" in cmd
