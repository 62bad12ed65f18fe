"""Items: per-item drill-down of one suite — flipped items first, prompt and replies
side by side, each safety filter's label and reason. Model outputs are shown as text."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness.verdicts import compare as hc
from harness_dash import comparing, loading, urlstate
from harness_dash.text import md

P = "items"

root, frame = loading.load_runs()
st.title("Items")
ids = [i for i, s in zip(frame["id"], frame["status"]) if s in ("completed", "failed")]
ids = [i for i in ids if comparing.phases(loading.record(root, i))] if len(ids) <= 50 else ids
if not ids:
    st.info("No run in this store has evaluated items yet.")
    st.stop()
names = dict(zip(frame["id"], frame["name"]))
label = lambda i: f"{i}  ({names.get(i) or '?'})"  # noqa: E731

c1, c2 = st.columns(2)
ka = urlstate.seed(P, "a", kind="one", options=ids)
id_a = c1.selectbox("run", ids, format_func=label, key=ka)
others = ["(its own before → after)"] + [i for i in ids if i != id_a]
kb = urlstate.seed(P, "b", kind="one", options=others)
id_b = c2.selectbox("against run", others, format_func=lambda i: i if i.startswith("(") else label(i), key=kb)
if id_b.startswith("("):
    id_b = None

rec_a = loading.record(root, id_a)
phases_a = comparing.phases(rec_a)
if not phases_a:
    st.info(f"Run {id_a} has no evaluation results (status: {rec_a.get('status')}).")
    st.stop()
if id_b is None:
    side_a = (id_a, "before") if len(phases_a) == 2 else (id_a, phases_a[0])
    side_b = (id_a, "after") if len(phases_a) == 2 else None
else:
    rec_b = loading.record(root, id_b)
    side_a = (id_a, phases_a[-1])
    side_b = (id_b, comparing.phases(rec_b)[-1]) if comparing.phases(rec_b) else None
la = f"{side_a[1]}" if id_b is None else f"A {id_a} ({side_a[1]})"
lb = "" if side_b is None else (f"{side_b[1]}" if id_b is None else f"B {id_b} ({side_b[1]})")

rows_a = loading.samples(root, *side_a)
suites = sorted({str(r.get("suite")) for r in rows_a})
if not suites:
    st.info("No per-sample rows were recorded for this run.")
    st.stop()
ks = urlstate.seed(P, "suite", kind="one", options=suites)
c1, c2, c3 = st.columns([2, 2, 3])
suite = c1.selectbox("suite", suites, key=ks)
shorts = sorted({k for r in rows_a if r.get("suite") == suite for k in (r.get("scores") or {})})
km = urlstate.seed(P, "metric", kind="one", options=shorts)
short = c2.selectbox("metric", shorts, key=km) if shorts else None
search = c3.text_input("search prompt and replies", key=urlstate.seed(P, "q")).strip()
urlstate.publish(P, ["a", "b", "suite", "metric", "q"])

comp = None
if side_b is not None and short:
    allow = st.checkbox("compare even if the suites differ in content, version or settings", key="items.allow")
    try:
        comp = comparing.comparison(root, side_a[0], side_a[1], side_b[0], side_b[1], allow_mismatch=allow)
    except hc.ComparisonMismatch as exc:
        st.error("These evaluations are not comparable (tick the box to pair them anyway):")
        st.code("\n".join(exc.problems), language=None)
    except hc.CompareError as exc:
        st.error("Cannot compare:")
        st.code(str(exc), language=None)

metric = f"{suite}/{short}" if short else None
by_key_b = {}
if side_b is not None:
    by_key_b = {(str(r.get("suite")), str(r.get("item_id"))): r for r in loading.samples(root, *side_b)}
flips = {}
if comp is not None and metric in comp.metric_names:
    flips = {str(f["item_id"]): f for f in hc.flipped_items(comp, metric)}
    m = comp.metric(metric)
    st.caption(f"{len(flips)} flipped items: {m.improved} improved, {m.regressed} regressed "
               f"({'higher' if m.higher_is_better else 'lower'} is better)"
               + (f" · McNemar p = {m.p_value:.3g}" if m.p_value is not None else ""))

table = []
for r in rows_a:
    if r.get("suite") != suite:
        continue
    item = str(r.get("item_id"))
    other = by_key_b.get((suite, item), {})
    flip = flips.get(item)
    table.append({
        "item_id": item, "category": r.get("category") or "",
        "flip": flip["direction"] if flip else "", "change": str(flip["change"]) if flip else "",
        "score A": (r.get("scores") or {}).get(short), "score B": (other.get("scores") or {}).get(short),
        "prompt": str(r.get("prompt") or ""), "reply A": str(r.get("output") or ""),
        "reply B": str(other.get("output") or ""), "target": "" if r.get("target") is None else str(r["target"]),
    })
items = pd.DataFrame(table)
items["_rank"] = items["flip"].map({"regressed": 0, "improved": 1}).fillna(2)
items = items.sort_values(["_rank", "item_id"], kind="stable").drop(columns="_rank")

cats = sorted({c for c in items["category"] if c})
c1, c2 = st.columns([3, 1])
kc = urlstate.seed(P, "category", kind="multi", options=cats)
chosen_cats = c1.multiselect("category", cats, key=kc) if cats else []
only_flipped = c2.toggle("flipped only", key="items.flipped")
urlstate.publish(P, ["category"])
if chosen_cats:
    items = items[items["category"].isin(chosen_cats)]
if only_flipped:
    items = items[items["flip"] != ""]
if search:
    needle = search.lower()
    hit = items[["prompt", "reply A", "reply B"]].apply(lambda col: col.str.lower().str.contains(needle, regex=False))
    items = items[hit.any(axis=1)]

st.dataframe(items, hide_index=True, key="items.table", column_config={
    "score A": st.column_config.NumberColumn(f"score {la}", format="%.3g"),
    "score B": st.column_config.NumberColumn(f"score {lb}", format="%.3g"),
    "reply A": st.column_config.TextColumn(f"reply {la}"),
    "reply B": st.column_config.TextColumn(f"reply {lb}"),
})
st.caption(f"{len(items)} items shown")

if items.empty:
    st.stop()
st.subheader("Item")
ki = urlstate.seed(P, "item", kind="one", options=list(items["item_id"]))
item_id = st.selectbox("item", list(items["item_id"]), key=ki,
                       format_func=lambda i: f"{i} · {flips[i]['direction']}" if i in flips else i)
urlstate.publish(P, ["item"])
row_a = next(r for r in rows_a if r.get("suite") == suite and str(r.get("item_id")) == item_id)
row_b = by_key_b.get((suite, item_id))
st.markdown("**Prompt**")
st.code(str(row_a.get("prompt") or ""), language=None, wrap_lines=True)
if row_a.get("target") is not None:
    st.markdown("**Target**")
    st.code(str(row_a["target"]), language=None, wrap_lines=True)


def side(col, title: str, row: dict | None) -> None:
    col.markdown(f"**{md(title)}**")
    if row is None:
        col.caption("not evaluated on this side")
        return
    col.code(str(row.get("output") or ""), language=None, wrap_lines=True)
    col.dataframe(pd.DataFrame([{"score": k, "value": v} for k, v in (row.get("scores") or {}).items()]),
                  hide_index=True)
    filters = [{"filter": name, "label": v.get("label"), "flagged": v.get("flagged"), "score": v.get("score"),
                "category": v.get("category"), "reason": v.get("reason")}
               for name, v in (row.get("filters") or {}).items() if isinstance(v, dict)]
    if filters:
        col.dataframe(pd.DataFrame(filters), hide_index=True)


cols = st.columns(2 if side_b is not None else 1)
side(cols[0], f"Reply {la}", row_a)
if side_b is not None:
    side(cols[1], f"Reply {lb}", row_b)
