"""Runs: every run in the store as one row, filterable, shareable by URL, exportable."""

from __future__ import annotations

import streamlit as st

from harness_dash import urlstate
from harness_dash.loading import load_runs
from harness_dash.loading import store_label as loading_label
from harness_dash.runs_table import (
    FILTERS,
    apply_filters,
    filter_options,
    grid_columns,
    headline,
    headline_metrics,
    sweep_table,
)
from harness_dash.text import md

P = "runs"  # session-state prefix of this page's widgets

root, frame = load_runs()
st.title("Runs")
st.caption(f"Store: {md(loading_label(root))} · {len(frame)} run folders")

if frame.empty:
    st.info("This store has no runs yet. Make one with `harness run recipes/quickstart.toml` "
            "(or point the dashboard at another store: `harness dashboard --store PATH`).")
    st.stop()

with st.sidebar:
    st.header("Filters")
    chosen = {}
    for name, (kind, _) in FILTERS.items():
        if kind == "multi":
            opts = filter_options(frame, name)
            key = urlstate.seed(P, name, kind="multi", options=opts)
            chosen[name] = st.multiselect(name, opts, key=key)
        else:
            key = urlstate.seed(P, name)
            label = "name contains" if kind == "text" else "git sha starts with"
            chosen[name] = st.text_input(label, key=key).strip()
    key_from = urlstate.seed(P, "from", kind="date")
    date_from = st.date_input("from date", key=key_from, format="YYYY-MM-DD")
    key_to = urlstate.seed(P, "to", kind="date")
    date_to = st.date_input("to date", key=key_to, format="YYYY-MM-DD")
    urlstate.publish(P, [*FILTERS, "from", "to"])
    st.caption("The filters are kept in the URL: copy it to share this view.")

shown = apply_filters(frame, chosen, date_from or None, date_to or None)
metrics = headline_metrics(frame)
view = headline(shown)

counts = shown["status"].value_counts()
cols = st.columns(5)
cols[0].metric("runs shown", f"{len(shown)} / {len(frame)}")
for col, status in zip(cols[1:], ["completed", "failed", "incomplete", "corrupt"]):
    col.metric(status, int(counts.get(status, 0)))

sweeps = sweep_table(shown)
if not sweeps.empty:  # runs of `harness sweep`: one row per sweep; filter by it for its points' grid values
    st.subheader("Sweeps")
    st.dataframe(sweeps, hide_index=True, key="runs.sweeps")
    st.caption("Choose a sweep in the sidebar's *sweep* filter to list its points with their grid values.")

stage_cols = [c for c in shown.columns if c.startswith("stage:")]
grid_cols = grid_columns(shown)
# what tells runs apart first: when, verdict, where, then the headline metrics (numbers: sortable);
# the points of a sweep: their grid values right after the name
order = ["name", *(["sweep", *grid_cols] if grid_cols else []), "date", "status", "gates", "accelerator",
         *[c for m in metrics for c in (m, f"Δ {m}")],
         "model", "recipe", "host", "wall_s", "id", "loader", "tags", "git_sha", *stage_cols]
config = {
    "name": st.column_config.TextColumn("name", pinned=True),
    "wall_s": st.column_config.NumberColumn("wall [s]", format="%.1f"),
    "git_sha": st.column_config.TextColumn("git sha"),
    "accelerator": st.column_config.TextColumn("accelerator", width="medium"),
    **{m: st.column_config.NumberColumn(m, format="%.3f", help=f"{m}: final value (after, else before)")
       for m in metrics},
    **{f"Δ {m}": st.column_config.NumberColumn(f"Δ {m.split('/', 1)[1]}", format="%+.3f",
                                               help=f"{m}: after − before") for m in metrics},
    **{c: st.column_config.NumberColumn(c.removeprefix("stage:"), format="%.2f") for c in stage_cols},
    **{c: st.column_config.Column(c.removeprefix("grid:"), help=f"sweep grid value of {c.removeprefix('grid:')}")
       for c in grid_cols},
}


def _gate_cell(v: str) -> str:
    return {"failed": "background-color: #fdd; color: #900; font-weight: bold",
            "passed": "background-color: #dfd; color: #060"}.get(str(v), "")


st.dataframe(view.style.map(_gate_cell, subset=["gates"]), column_order=order, column_config=config,
             hide_index=True, key="runs.table")

st.download_button("Download these runs as CSV", shown.to_csv(index=False).encode(),
                   file_name="runs.csv", mime="text/csv")

st.subheader("Open a run")
ids = list(shown["id"])
if ids:
    labels = dict(zip(shown["id"], shown["name"]))
    run_id = st.selectbox("run", ids, format_func=lambda i: f"{i}  ({labels.get(i) or '?'})", key="runs.open")
    c1, c2, c3 = st.columns(3)
    c1.page_link("views/run.py", label="Record", icon=":material/description:", query_params={"run": run_id})
    c2.page_link("views/compare.py", label="Compare before → after", icon=":material/compare_arrows:",
                 query_params={"a": run_id})
    c3.page_link("views/items.py", label="Items", icon=":material/search:", query_params={"a": run_id})
else:
    st.info("No run matches these filters.")
