"""Every dashboard page opens on a store holding damaged records of every kind."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.test_store_damage import GOOD, damaged  # noqa: E402,F401 - the fixture

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"


def test_every_page_opens_on_a_damaged_store(damaged, monkeypatch):  # noqa: F811
    import streamlit as st

    store, bad = damaged
    monkeypatch.setenv("HARNESS_STORE", str(store.root))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    assert GOOD in set(shown["id"]) and set(bad) <= set(shown["id"])
    for page, params in (("run", {"run": bad[0]}), ("run", {"run": GOOD}), ("compare", {"a": GOOD}),
                         ("compare", {"a": bad[1]}), ("items", {"a": GOOD}), ("items", {"a": bad[2]})):
        at.query_params.clear()
        at.query_params.update(params)
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, params, [e.value for e in at.exception])
    st.cache_data.clear()
    st.cache_resource.clear()
