"""Compare: one run's before → after, run A against run B, or many runs side by side.

Every difference, interval and p-value comes from ``harness.verdicts.compare``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness import CONCERNS
from harness.reports.metric_table import concern_verdicts
from harness.verdicts import compare as hc
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


CONCERN_TITLES = {"capability": "Capability", "harm": "Harm (harmful compliance)",
                  "over_refusal": "Over-refusal", "other": "Other metrics"}
CHANGE_STYLE = {"better": "green", "worse": "red", "unchanged": "gray", "inconclusive": "orange", "none": "gray"}


def show_gates(gates: list[dict], caption: str, policy: str | None = None) -> None:
    frame = comparing.gates_frame(gates)
    if frame.empty:
        st.caption("No gates apply to this comparison.")
        return
    failed = not all(g.get("passed") for g in gates)
    (st.error if failed else st.success)(f"Gates {'FAILED' if failed else 'passed'} · {caption}")
    st.dataframe(frame.style.map(_gate_color, subset=["verdict"]).format(
        {c: _num for c in ("threshold", "observed", "bound", "mde")}), hide_index=True, key="compare.gates")
    if policy:
        st.caption(md(policy))


def _num(v) -> str:
    return "—" if v is None or (isinstance(v, float) and pd.isna(v)) else f"{v:.4g}"


def _gate_color(v: str) -> str:
    return "background-color: #fff3cd; color: #7a5b00" if "inconclusive" in str(v) else (
        "background-color: #fdd; color: #900" if "failed" in str(v) or "✗" in str(v) else (
            "background-color: #dfd; color: #060" if v else ""))


def verdict_markdown(verdicts) -> str:
    parts = []
    for v in verdicts:
        if v.change == "none":
            continue
        gate = " (gate failed)" if v.gate == "failed" else " (gate inconclusive)" if v.gate == "inconclusive" else ""
        parts.append(f":{CHANGE_STYLE[v.change]}[**{v.label} {v.change}{gate}**]")
    return " · ".join(parts) or "no metrics to compare"


def show_comparison(id_a: str, phase_a: str, id_b: str, phase_b: str, la: str, lb: str) -> None:
    c1, c2 = st.columns([1, 3])
    confidence = c1.selectbox("confidence", [0.90, 0.95, 0.99], index=1, key="compare.conf")
    if "compare.allow_mismatch" not in st.session_state:  # ?force=1 makes a forced comparison shareable
        st.session_state["compare.allow_mismatch"] = st.query_params.get("force") == "1"
    allow = c2.checkbox("compare even if what is measured differs (items, suite version, generation settings)",
                        key="compare.allow_mismatch")
    if allow:
        st.query_params["force"] = "1"
    elif "force" in st.query_params:
        del st.query_params["force"]
    try:
        comp = comparing.comparison(root, id_a, phase_a, id_b, phase_b, confidence=confidence,
                                    allow_mismatch=allow)
    except hc.ComparisonMismatch as exc:
        st.error("These evaluations did not measure the same thing:")
        st.code("\n".join(exc.problems), language=None)
        st.caption("Tick the box above to compare anyway (the differences then measure the benchmark "
                   "change as well as the model change). Runs from other machines (device, dtype, host, "
                   "library versions) compare without it.")
        return
    except hc.CompareError as exc:
        st.error("Cannot compare:")
        st.code(str(exc), language=None)
        return
    rec_a, rec_b = loading.record(root, id_a), loading.record(root, id_b)
    gates = comparing.gates_for(root, comp, rec_a, rec_b)
    rows = comparing.rows(comp, gates, rec_a, rec_b)
    verdicts = concern_verdicts(rows)
    st.markdown("### " + verdict_markdown(verdicts))
    movers = [f"{md(v.label)}: {md(v.mover.metric)} {v.mover.a:.3f} → {v.mover.b:.3f}" for v in verdicts
              if v.mover is not None and v.change in ("better", "worse") and v.mover.a is not None
              and v.mover.b is not None]
    if movers:
        st.caption("Biggest movers · " + " · ".join(movers))
    if comp.environment:
        st.info(f"**Ran differently** — A = {md(hc.accelerator_label(rec_a))}, B = {md(hc.accelerator_label(rec_b))}."
                " Compared anyway (these do not change what is measured): "
                + " · ".join(md(d) for d in comp.environment))
    for w in comp.warnings:
        st.warning(md(w))
    if not rows:
        st.info("The two sides have no metric in common.")
        return
    pct = round(confidence * 100)
    headline = [r for r in rows if r.headline]
    st.altair_chart(charts.forest(headline), width="stretch")
    st.caption(f"A = {md(la)} · B = {md(lb)} · point: B − A (paired mean difference); bar: {pct}% paired-bootstrap "
               f"interval ({comp.n_boot} resamples, seed {comp.seed}); right is better for every metric; ticks: "
               "gate bounds (red: failing gate). ↑ higher is better, ↓ lower is better.")
    table = comparing.table(rows)
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
             "change", "gate", "improved", "regressed", "n paired"]
    show_all = st.toggle("show redundant complements (e.g. refusal_rate = 1 − harmful_compliance)",
                         key="compare.show_all")
    for group in CONCERNS:
        part = table[(table["group"] == group) & (table["parent"] == "") & (show_all | ~table["hidden"])]
        if part.empty:
            continue
        st.subheader(CONCERN_TITLES[group])
        styled = part.style.map(_gate_color, subset=["gate"]).map(_change_color, subset=["change"])
        st.dataframe(styled, column_order=order, column_config=config, hide_index=True,
                     key=f"compare.table.{group}")
        for parent in part["key"]:
            kids = table[table["parent"] == parent]
            if not kids.empty:
                with st.expander(f"{parent}: {len(kids)} categories"):
                    st.dataframe(kids.style.map(_change_color, subset=["change"]), column_order=order,
                                 column_config=config, hide_index=True, key=f"compare.kids.{parent}")
    st.subheader("Gates")
    same = id_a == id_b
    show_gates(gates, f"run {md(id_b)}" + ("" if same else f", judged with {md(id_a)} as the baseline"),
               comparing.gating_line(rec_a, rec_b, gates))
    c1, c2 = st.columns(2)
    c1.page_link("views/items.py", label="Flipped items of this comparison", icon=":material/search:",
                 query_params={"a": id_a, **({"b": id_b} if id_b != id_a else {})})
    c2.download_button("Download this comparison as one HTML file", _html_report(comp, rows, gates, rec_a, rec_b),
                       file_name=f"{id_b}-report.html", mime="text/html", key="compare.html")


def _html_report(comp, rows, gates, rec_a, rec_b) -> bytes:
    from harness.reports import curves
    from harness.reports.gating import comparison_gating, same_run
    from harness.reports.html import render_html

    flips = {r.metric: hc.flipped_items(comp, r.metric) for r in rows if r.headline and (r.improved or r.regressed)}
    panels: dict = {}
    sides = [("", rec_b)] if same_run(rec_a, rec_b) else [("A ", rec_a), ("B ", rec_b)]
    for prefix, rec in sides:
        for panel, series in curves.series(curves.training_logs(loading.logs_folder(root, rec), rec), prefix).items():
            panels.setdefault(panel, {}).update(series)
    title = f"{rec_b.get('name')} ({comp.b['phase']}) vs {rec_a.get('name')} ({comp.a['phase']})"
    return render_html(comp, rows, title=title, gates=gates, flips=flips, curves=panels,
                       gating=comparison_gating(rec_a, rec_b, gates),
                       checkpoint_records=[rec for _, rec in sides]).encode("utf-8")


def _change_color(v: str) -> str:
    if "significant" not in str(v):
        return "color: #7a5b00" if str(v).startswith("inconclusive") else ""
    return "color: #060; font-weight: bold" if v.startswith("better") else "color: #900; font-weight: bold"


def phase_select(col, side: str, run_id: str, record: dict) -> str:
    """The phase of one side, kept in the URL (``pa`` / ``pb``); it returns to the run's
    final phase whenever the side's run changes (never a phase left over from another run)."""
    options = comparing.phases(record)[::-1]  # final phase first
    key = urlstate.seed(P, side, kind="one", options=options)
    owner = f"compare.{side}_for"
    if st.session_state.get(owner) not in (None, run_id) or key not in st.session_state:
        st.session_state[key] = options[0]
    st.session_state[owner] = run_id
    return col.selectbox(f"phase of {side[-1].upper()}", options, key=key)


def _gate_color_word(v: str) -> str:
    return "background-color: #fdd; color: #900" if v == "failed" else (
        "background-color: #dfd; color: #060" if v == "passed" else "")


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
    pa = phase_select(c1, "pa", id_a, ra)
    pb = phase_select(c2, "pb", id_b, rb)
    urlstate.publish(P, ["mode", "a", "b", "pa", "pb"])
    show_comparison(id_a, pa, id_b, pb, f"A: {id_a} ({pa})", f"B: {id_b} ({pb})")

else:
    metrics = sorted({c.split(":", 1)[1] for c in with_metrics.columns if c.startswith(("before:", "after:"))})
    c1, c2, c3 = st.columns([3, 2, 1])
    chosen = c1.multiselect("runs", ids, default=ids[: min(8, len(ids))], format_func=label, key="compare.runs")
    headline_metrics = [m for m in metrics if m.count("/") == 1 and not m.endswith("/refusal_rate")] or metrics
    picked = c2.multiselect("metrics", metrics, default=headline_metrics[:8], key="compare.metrics")
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
    records = [loading.record(root, i) for i in sub["id"]]
    goods = {m: "↑" if comparing.higher_is_better(next((r for r in records if comparing.has_metric(r, m)),
                                                       records[0]), m) else "↓" for m in picked}
    rows = []
    for _, r in sub.iterrows():
        for m in picked:
            b, a = r.get(f"before:{m}"), r.get(f"after:{m}")
            value = (a - b) if phase == "change" and pd.notna(a) and pd.notna(b) else (
                a if phase == "after" else b if phase == "before" else None)
            if value is None or pd.isna(value):
                continue
            group = r[group_by] if group_by != "none" else ""
            good = goods.get(m, "↑")
            rows.append({"run": (f"{group} · " if group else "") + short[r["id"]], "id": r["id"], "metric": m,
                         "metric_label": f"{m} {good}", "good": good, "phase": phase, "value": float(value),
                         "sort_key": f"{group}|{r['id']}", **({group_by: group} if group_by != "none" else {})})
    long = pd.DataFrame(rows)
    if long.empty:
        st.info(f"None of these runs has a '{phase}' value for these metrics.")
        st.stop()
    st.altair_chart(charts.heat_table(long, group_by, change=phase == "change"))
    wide = long.pivot_table(index="id", columns="metric", values="value", aggfunc="first").reset_index()
    keep = ["id", "name", "gates"] + ([group_by] if group_by not in ("none", "name") else [])
    wide = sub[keep].merge(wide, on="id", how="right").sort_values([c for c in (group_by, "id") if c in keep])
    st.dataframe(wide.style.map(_gate_color_word, subset=["gates"]), hide_index=True, key="compare.many",
                 column_config={m: st.column_config.NumberColumn(m, format="%.3f") for m in picked})

