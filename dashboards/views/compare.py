"""Compare: one run's before → after, run A against run B, or many runs side by side.

Every difference, interval and p-value comes from ``harness.compare``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness import compare as hc
from harness_dash import charts, comparing, loading, urlstate
from harness_dash.text import md

P = "compare"
MODES = {"one": "one run: before → after", "two": "run A vs run B", "many": "many runs side by side"}
GROUP_BY = ["accelerator", "model", "recipe", "name", "host", "loader", "none"]

root, frame = loading.load_runs()
st.title("Compare")
usable = frame[frame["status"].isin(["completed", "failed"])]
has = {p: usable[[c for c in usable.columns if c.startswith(p + ":")]].notna().any(axis=1)
       for p in ("before", "after")}
with_metrics = usable[has["before"] | has["after"]]
if with_metrics.empty:
    st.info("No run in this store has metrics yet. Run `harness run recipes/quickstart.toml` "
            "or `harness eval ...` first.")
    st.stop()

ids = list(with_metrics["id"])
names = dict(zip(with_metrics["id"], with_metrics["name"]))
label = lambda i: f"{i}  ({names.get(i) or '?'})"  # noqa: E731

if "a" in st.query_params and "mode" not in st.query_params:
    st.query_params["mode"] = "two" if "b" in st.query_params else "one"
mode_key = urlstate.seed(P, "mode", kind="one", options=list(MODES))
st.session_state.setdefault(mode_key, "one")
mode = st.segmented_control("what to compare", list(MODES), format_func=MODES.get, key=mode_key) or "one"


def show_gates(record: dict) -> None:
    gates = comparing.gates_frame(record)
    if gates.empty:
        st.caption("This run's recipe has no gates.")
        return
    verdict = "passed" if record.get("gates_passed") else "FAILED"
    (st.success if record.get("gates_passed") else st.error)(f"Gates {verdict} (run {md(record.get('id'))})")
    st.dataframe(gates.style.map(_gate_color, subset=["verdict"]), hide_index=True, key="compare.gates")


def _gate_color(v: str) -> str:
    return "background-color: #fdd; color: #900" if "failed" in str(v) or "✗" in str(v) else (
        "background-color: #dfd; color: #060" if v else "")


def show_comparison(id_a: str, phase_a: str, id_b: str, phase_b: str, la: str, lb: str) -> None:
    c1, c2 = st.columns([1, 3])
    confidence = c1.selectbox("confidence", [0.90, 0.95, 0.99], index=1, key="compare.conf")
    allow = c2.checkbox("compare even if the suites' content, version or settings differ",
                        key="compare.allow_mismatch")
    try:
        comp = comparing.comparison(root, id_a, phase_a, id_b, phase_b, confidence=confidence,
                                    allow_mismatch=allow)
    except hc.ComparisonMismatch as exc:
        st.error("These evaluations are not comparable:")
        st.code("\n".join(exc.problems), language=None)
        st.caption("Tick the box above to compare anyway (the differences then measure the benchmark "
                   "change as well as the model change).")
        return
    except hc.CompareError as exc:
        st.error("Cannot compare:")
        st.code(str(exc), language=None)
        return
    rec_b = loading.record(root, id_b)
    table = comparing.table(comp, rec_b, loading.samples(root, id_b, phase_b))
    for w in comp.warnings:
        st.warning(md(w))
    if table.empty:
        st.info("The two sides have no metric in common.")
        return
    pct = round(confidence * 100)
    st.caption(f"A = {md(la)} · B = {md(lb)} · B − A with a {pct}% paired-bootstrap interval "
               f"({comp.n_boot} resamples, seed {comp.seed}); p: McNemar exact test on flipped items "
               "(0/1 scores). ↑ higher is better, ↓ lower is better.")
    config = {
        "A": st.column_config.NumberColumn(la, format="%.4f"),
        "B": st.column_config.NumberColumn(lb, format="%.4f"),
        "B − A": st.column_config.NumberColumn(format="%+.4f"),
        "ci_low": st.column_config.NumberColumn(f"{pct}% CI low", format="%+.4f"),
        "ci_high": st.column_config.NumberColumn(f"{pct}% CI high", format="%+.4f"),
        "p": st.column_config.NumberColumn("McNemar p", format="%.3g"),
        "significant": st.column_config.CheckboxColumn("significant"),
    }
    order = ["suite", "metric", "good", "A", "B", "B − A", "ci_low", "ci_high", "p", "significant",
             "verdict", "gate", "improved", "regressed", "n paired"]
    for group in ("benchmark", "safety"):
        part = table[table["group"] == group]
        if part.empty:
            continue
        st.subheader("Benchmarks (capability)" if group == "benchmark" else "Safety")
        styled = part.style.map(_gate_color, subset=["gate"]).map(_verdict_color, subset=["verdict"])
        st.dataframe(styled, column_order=order, column_config=config, hide_index=True,
                     key=f"compare.table.{group}")
    st.subheader("Gates")
    show_gates(rec_b)
    st.subheader("Charts")
    # headline metrics only: per-category breakdowns (xstest/over_refusal/<type>) stay in the tables
    headline = table[~table["metric"].str.contains("/")]
    st.altair_chart(charts.grouped_bars(headline, la, lb))
    g1, _ = st.columns([2, 1])
    g1.altair_chart(charts.radar(headline, la, lb))
    st.page_link("views/items.py", label="Flipped items of this comparison", icon=":material/search:",
                 query_params={"a": id_a, **({"b": id_b} if id_b != id_a else {})})


def _verdict_color(v: str) -> str:
    if "significant" not in str(v):
        return ""
    return "color: #060; font-weight: bold" if v.startswith("better") else "color: #900; font-weight: bold"


if mode == "one":
    both = list(usable.loc[has["before"] & has["after"], "id"])
    if not both:
        st.info("No run has both a before and an after evaluation; compare two runs instead.")
        st.stop()
    key = urlstate.seed(P, "a", kind="one", options=both)
    run_id = st.selectbox("run", both, format_func=label, key=key)
    urlstate.publish(P, ["mode", "a"])
    if "b" in st.query_params:
        del st.query_params["b"]
    show_comparison(run_id, "before", run_id, "after", "before", "after")

elif mode == "two":
    c1, c2 = st.columns(2)
    ka = urlstate.seed(P, "a", kind="one", options=ids)
    id_a = c1.selectbox("run A (reference)", ids, format_func=label, key=ka)
    kb = urlstate.seed(P, "b", kind="one", options=ids)
    if kb not in st.session_state:
        st.session_state[kb] = ids[1] if len(ids) > 1 and ids[0] == id_a else ids[0]
    id_b = c2.selectbox("run B", ids, format_func=label, key=kb)
    urlstate.publish(P, ["mode", "a", "b"])
    ra, rb = loading.record(root, id_a), loading.record(root, id_b)
    pa = c1.selectbox("phase of A", comparing.phases(ra)[::-1], key="compare.phase_a")
    pb = c2.selectbox("phase of B", comparing.phases(rb)[::-1], key="compare.phase_b")
    show_comparison(id_a, pa, id_b, pb, f"A: {id_a} ({pa})", f"B: {id_b} ({pb})")

else:
    metrics = sorted({c.split(":", 1)[1] for c in with_metrics.columns if c.startswith(("before:", "after:"))})
    c1, c2, c3 = st.columns([3, 2, 1])
    chosen = c1.multiselect("runs", ids, default=ids[: min(8, len(ids))], format_func=label, key="compare.runs")
    picked = c2.multiselect("metrics", metrics, default=metrics[: min(6, len(metrics))], key="compare.metrics")
    group_by = c3.selectbox("group by", GROUP_BY, key="compare.group_by")
    phase = c3.radio("value", ["after", "before", "change"], key="compare.phase", horizontal=True)
    urlstate.publish(P, ["mode"])
    if not chosen or not picked:
        st.info("Choose at least one run and one metric.")
        st.stop()
    sub = with_metrics[with_metrics["id"].isin(chosen)]
    short = {i: f"{n} · {i.rsplit('-', 1)[-1]}" for i, n in zip(sub["id"], sub["name"])}
    if len(set(short.values())) < len(short):  # suffix clash: fall back to full ids
        short = {i: i for i in short}
    rows = []
    for _, r in sub.iterrows():
        for m in picked:
            b, a = r.get(f"before:{m}"), r.get(f"after:{m}")
            value = (a - b) if phase == "change" and pd.notna(a) and pd.notna(b) else (
                a if phase == "after" else b if phase == "before" else None)
            if value is None or pd.isna(value):
                continue
            group = r[group_by] if group_by != "none" else ""
            rows.append({"run": short[r["id"]], "id": r["id"], "metric": m, "title": m, "phase": phase, "value": float(value),
                         "sort_key": f"{group}|{r['id']}", **({group_by: group} if group_by != "none" else {})})
    long = pd.DataFrame(rows)
    if long.empty:
        st.info(f"None of these runs has a '{phase}' value for these metrics.")
        st.stop()
    st.altair_chart(charts.runs_side_by_side(long, group_by))
    wide = long.pivot_table(index="id", columns="metric", values="value", aggfunc="first").reset_index()
    if group_by != "none":
        wide = wide.merge(sub[["id", group_by]], on="id", how="left")
    st.dataframe(wide, hide_index=True, key="compare.many")
