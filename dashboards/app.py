"""posttrain-harness dashboard: runs, paired comparisons, per-item drill-down, run records.

Start it with ``harness dashboard [--store PATH]`` or ``streamlit run dashboards/app.py``
(the store is ``$HARNESS_STORE``, default ``./runs``). It reads the store and nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helper package beside this file
    sys.path.insert(0, str(HERE))

# The tab's icon stays an emoji: a ":material/…:" page_icon makes Streamlit fetch the favicon from
# fonts.gstatic.com, and the app requests nothing outside 127.0.0.1. In-page icons are Material Symbols
# (Streamlit serves that font itself), so a Chromium without emoji fonts draws no empty boxes.
st.set_page_config(page_title="posttrain-harness", page_icon="📊", layout="wide")

PAGES = [
    st.Page(HERE / "views" / "runs.py", title="Runs", icon=":material/table_rows:", url_path="runs", default=True),
    st.Page(HERE / "views" / "compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(HERE / "views" / "items.py", title="Items", icon=":material/search:", url_path="items"),
    st.Page(HERE / "views" / "run.py", title="Run", icon=":material/description:", url_path="run"),
]

page = st.navigation(PAGES)
page.run()
