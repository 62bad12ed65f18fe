"""Run: one record in full — recipe, components, environment, timings, metrics,
gates and training curves from the logs the record references."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from harness.reports import curves
from harness.reports.curves import panel_columns
from harness.reports.gating import policy_line
from harness_dash import charts, checkpoints, comparing, loading, urlstate
from harness_dash.runs_table import accelerator_label
from harness_dash.text import md

P = "run"

root, frame = loading.load_runs()
st.title("Run")
if frame.empty:
    st.info("This store has no runs yet.")
    st.stop()
ids = list(frame["id"])
names = dict(zip(frame["id"], frame["name"]))
key = urlstate.seed(P, "run", kind="one", options=ids)
if key not in st.session_state:  # default: the newest run that finished (completed or failed)
    done = [i for i, s in zip(frame["id"], frame["status"]) if s in ("completed", "failed")]
    st.session_state[key] = done[0] if done else ids[0]
run_id = st.selectbox("run", ids, format_func=lambda i: f"{i}  ({names.get(i) or '?'})", key=key)
urlstate.publish(P, ["run"])
record = loading.record(root, run_id)
status = record.get("status") or "incomplete"

st.header(md(record.get("name") or run_id))
env = record.get("environment") or {}
model = record.get("model") or {}
cols = st.columns(3)
cols[0].metric("status", status)
cols[1].metric("gates", {True: "passed", False: "failed"}.get(record.get("gates_passed"), "none"))
cols[2].metric("wall time", f"{record['duration_s']:.1f} s" if isinstance(record.get("duration_s"), (int, float))
               else "–")
# long names (model, accelerator) as text: st.metric truncates them ("SmolLM2-1…")
st.markdown(f"**model** {md(model.get('name') or '–')} · **on** {md(accelerator_label(env.get('accelerator')) or '–')}"
            f" · **host** {md(env.get('host') or '–')} · {md(model.get('device') or '')} {md(model.get('dtype') or '')}")

if status == "corrupt":
    st.error("run.json of this run cannot be parsed:")
    st.code(str((record.get("error") or {}).get("message")), language=None)
    st.stop()
if status == "incomplete":
    st.warning("This run has no run.json: it is still running or it died. What it recorded so far is below.")
error = record.get("error")
if error:
    st.error(f"Stage {md(error.get('stage'))} failed: {md(error.get('type'))}")
    st.code(str(error.get("message") or ""), language=None, wrap_lines=True)
    if error.get("traceback"):
        with st.expander("traceback"):
            st.code(str(error["traceback"]), language=None)

tabs = st.tabs(["Overview", "Training", "Recipe", "Components", "Environment", "Data", "Raw record"])

with tabs[0]:
    st.caption(f"id {md(run_id)} · created {md(record.get('created_at') or '–')} · "
               f"finished {md(record.get('finished_at') or '–')} · seed {md(record.get('seed'))}")
    st.subheader("Metrics")
    metrics = record.get("metrics") or {}
    keys = sorted(set(metrics.get("before") or {}) | set(metrics.get("after") or {}))
    if keys:
        def val(phase, k, field="value"):
            m = (metrics.get(phase) or {}).get(k)
            return m.get(field) if isinstance(m, dict) else None

        mt = pd.DataFrame([{
            "metric": k, "good": "↑" if ((metrics.get("after") or {}).get(k) or (metrics.get("before") or {})
                                         .get(k) or {}).get("higher_is_better", True) else "↓",
            "before": val("before", k), "± before": val("before", k, "stderr"),
            "after": val("after", k), "± after": val("after", k, "stderr"), "n": val("after", k, "n")
            if val("after", k, "n") is not None else val("before", k, "n"),
        } for k in keys])
        st.dataframe(mt, hide_index=True, key="run.metrics", column_config={
            c: st.column_config.NumberColumn(format="%.4f") for c in ("before", "± before", "after", "± after")})
        if len(comparing.phases(record)) == 2:
            st.page_link("views/compare.py", label="Paired comparison of before → after",
                         icon=":material/compare_arrows:", query_params={"a": run_id})
    else:
        st.caption("No metrics recorded.")
    st.subheader("Gates")
    gates = comparing.gates_frame(record)
    if gates.empty:
        st.caption("No gates.")
    else:
        st.dataframe(gates, hide_index=True, key="run.gates", column_config={
            c: st.column_config.NumberColumn(format="%.4g") for c in ("threshold", "observed", "bound", "mde")})
        policy = policy_line(record.get("gating"))
        if policy:
            st.caption(md(policy))
    st.subheader("Stages")
    stages = pd.DataFrame([{
        "stage": s.get("name"), "kind": s.get("kind"), "status": s.get("status"),
        "duration_s": s.get("duration_s"), "cached": s.get("cached"),
        "throughput": ", ".join(f"{k}={v:.3g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                for k, v in (s.get("throughput") or {}).items()),
    } for s in record.get("stages") or []])
    if stages.empty:
        st.caption("No stage finished.")
    else:
        st.dataframe(stages, hide_index=True, key="run.stages")
        st.altair_chart(charts.stage_durations(stages.dropna(subset=["duration_s"])))

with tabs[1]:
    training = record.get("training") or []
    if not training:
        st.caption("This run has no training stage.")
    checkpoints.render(st, record)  # evaluate_every stages: dev curves, the selected checkpoint marked
    train_cols = [c for c in frame.columns if c.startswith("stage:train")]  # from the runs table: no extra reads
    trained = [i for i, has in zip(frame["id"], frame[train_cols].notna().any(axis=1)) if has and i != run_id] \
        if training and train_cols else []
    if trained:
        k_with = urlstate.seed(P, "with", kind="multi", options=trained)
        overlay = st.multiselect("overlay the curves of other runs", trained, key=k_with,
                                 format_func=lambda i: f"{i}  ({names.get(i) or '?'})")
        urlstate.publish(P, ["run", "with"])
        if overlay:
            panels: dict = {}
            for other in [run_id, *overlay]:
                rec = loading.record(root, other)
                logs = [(f"{t.get('stage')} ({t.get('trainer')})", loading.train_log(root, other, str(t["log"])))
                        for t in rec.get("training") or [] if t.get("log")]
                for panel, series in curves.series(logs, prefix=f"{names.get(other) or other} · ").items():
                    panels.setdefault(panel, {}).update(series)
            for panel, series in panels.items():
                long = pd.DataFrame([{"step": x, "value": y, "series": label}
                                     for label, pts in series.items() for x, y in pts])
                st.altair_chart(charts.overlay_curves(long, f"{panel} (runs overlaid)"))
    for t_i, t in enumerate(training):
        st.subheader(f"{md(t.get('stage'))} · {md(t.get('trainer'))} on {md(t.get('data'))}")
        if t.get("metrics"):
            st.dataframe(pd.DataFrame([t["metrics"]]), hide_index=True, key=f"run.train.metrics.{t_i}")
        if not t.get("log"):
            continue
        try:
            log = pd.DataFrame(loading.train_log(root, run_id, str(t["log"])))
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            st.warning(f"Cannot read training log {md(t['log'])}: {md(exc)}")
            continue
        if log.empty:
            st.caption(f"Training log {md(t['log'])} is empty.")
            continue
        x = "step" if "step" in log else "epoch" if "epoch" in log else None
        if x is None:
            log = log.reset_index(names="row")
            x = "row"
        numeric = [c for c in log.columns if c != x and pd.api.types.is_numeric_dtype(log[c])
                   and log[c].notna().any()]
        # one panel per quantity (loss, rewards/margins, learning rate, grad norm): counters such
        # as num_tokens never share an axis with the losses; every column stays in the log table
        for title, series in panel_columns(numeric).items():
            st.altair_chart(charts.training_curves(log, series, x, title))
        with st.expander(f"log rows ({len(log)})"):
            st.dataframe(log, hide_index=True)

with tabs[2]:
    recipe = record.get("recipe") or {}
    st.caption(f"path: {md(recipe.get('path') or '–')}")
    st.markdown("**As given**")
    st.code(str(recipe.get("text") or ""), language="toml")
    st.markdown("**Resolved**")
    st.json(recipe.get("resolved") or {}, expanded=2)

with tabs[3]:
    comps = pd.DataFrame([{**{k: c.get(k) for k in ("role", "kind", "name", "fullname", "plugin", "distribution",
                                                     "version")},
                           "params": json.dumps(c.get("params") or {}, sort_keys=True, default=str)}
                          for c in record.get("components") or []])
    if comps.empty:
        st.caption("No components recorded.")
    else:
        st.dataframe(comps, hide_index=True, key="run.components")

with tabs[4]:
    st.markdown("**Model**")
    st.json(model, expanded=True)
    st.markdown("**Environment**")
    st.json(env, expanded=2)

with tabs[5]:
    for d in record.get("data") or []:
        st.markdown(f"**{md(d.get('name'))}** · source {md(d.get('source'))} · "
                    f"{md(d.get('rows_in'))} rows in → {md(d.get('rows_out'))} kept")
        if d.get("filters"):
            st.dataframe(pd.DataFrame([{k: (json.dumps(v, default=str) if isinstance(v, (list, dict)) else v)
                                        for k, v in f.items()} for f in d["filters"]]), hide_index=True)
    if not record.get("data"):
        st.caption("No training data.")
    tasks = record.get("tasks") or {}
    if tasks:
        st.markdown("**Evaluated suites**")
        st.dataframe(pd.DataFrame([{"suite": s, **{k: (json.dumps(v, default=str) if isinstance(v, (dict, list))
                                                       else v) for k, v in t.items()}}
                                   for s, t in tasks.items()]), hide_index=True, key="run.tasks")

with tabs[6]:
    st.json(record, expanded=1)
