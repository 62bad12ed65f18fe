"""The Run page of a run with an ``evaluate_every`` stage: one dev curve per metric with the
selected checkpoint marked, the checkpoint table, and the note that selection used dev only
(Streamlit AppTest over a store made by the real pipeline, ~10 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from harness.run.recipe import load_recipe  # noqa: E402
from harness.store.local import Store  # noqa: E402
from harness.testing import load_host  # noqa: E402
from tests.test_dashboard import _rows  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "dashboards" / "app.py"


@pytest.fixture
def selected_run(tmp_path, monkeypatch):
    import streamlit as st

    from harness.run.pipeline import run_recipe

    store = Store(tmp_path / "runs")
    loaded = load_recipe(REPO / "recipes" / "quickstart-select.toml",
                         ["train.0.max_steps=6", "train.0.evaluate_every=2"])
    record = run_recipe(loaded, load_host(), store)
    monkeypatch.setenv("HARNESS_STORE", str(store.root))
    st.cache_data.clear()
    yield record
    st.cache_data.clear()


def test_run_page_shows_dev_curves_with_the_selected_checkpoint(selected_run):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.query_params.update({"run": selected_run["id"]})
    at.switch_page("views/run.py").run()
    assert not at.exception, [e.value for e in at.exception]
    stage = next(s for s in selected_run["stages"] if s.get("checkpoints"))
    chosen = stage["selection"]["step"]
    charts = {json.loads(c.proto.spec).get("title"): c for c in at.get("vega_lite_chart")}
    metrics = sorted(stage["checkpoints"][0]["metrics"])
    assert {f"{m} (dev, by checkpoint)" for m in metrics} <= set(charts)
    chart = charts[f"{metrics[0]} (dev, by checkpoint)"]
    assert "strokeDash" in chart.proto.spec  # the chosen point is marked, with its label
    rows = [r for ds in chart.proto.datasets for r in _rows(ds)]
    assert {"step": chosen, "label": f"selected: step {chosen}"} in rows
    assert sorted(r["step"] for r in rows if "value" in r) == [2, 4, 6]
    table = next(df.value for df in at.dataframe if "gates on dev" in df.value.columns)
    assert list(table["step"]) == [2, 4, 6] and list(table[table["selected"]]["step"]) == [chosen]
    captions = " ".join(c.value for c in at.caption)
    assert "selection used dev items only" in captions.replace("\\", "")
