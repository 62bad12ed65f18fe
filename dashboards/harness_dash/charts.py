"""Altair (Vega-Lite) charts: offline, bundled with Streamlit, no plotly/matplotlib."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

SIDE_COLORS = alt.Scale(range=["#9aa5b1", "#1f77b4", "#ff7f0e", "#2ca02c"])


def grouped_bars(table: pd.DataFrame, label_a: str, label_b: str) -> alt.Chart:
    """A and B side by side per metric, benchmark and safety metrics in separate panels."""
    long = pd.concat([
        pd.DataFrame({"metric": table["key"] + " " + table["good"], "group": table["group"],
                      "side": label, "value": table[col]})
        for label, col in ((label_a, "A"), (label_b, "B"))
    ]).dropna(subset=["value"])
    return (alt.Chart(long).mark_bar().encode(
        x=alt.X("metric:N", title=None, axis=alt.Axis(labelAngle=-30, labelLimit=220)),
        xOffset=alt.XOffset("side:N", sort=[label_a, label_b]),
        y=alt.Y("value:Q", title="value"),
        color=alt.Color("side:N", sort=[label_a, label_b], scale=SIDE_COLORS, title=None),
        tooltip=["metric", "side", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=280, width=alt.Step(28))
        .facet(column=alt.Column("group:N", title=None, sort=["benchmark", "safety"]))
        .resolve_scale(x="independent"))


def radar(table: pd.DataFrame, label_a: str, label_b: str) -> alt.LayerChart:
    """A radar of every metric, oriented so that outward is better (``1 − x`` for ↓
    metrics) and clipped to [0, 1]; capability axes on the right, safety on the left.

    Vega-Lite has no radar mark: points are placed with x = r·sin θ, y = r·cos θ.
    """
    rows = table.sort_values(["group", "key"]).reset_index(drop=True)
    n = len(rows)
    angles = [2 * math.pi * i / n for i in range(n)]
    axes = pd.DataFrame({
        "axis": [f"{k} {g}" + (" (1−x)" if g == "↓" else "") for k, g in zip(rows["key"], rows["good"])],
        "group": rows["group"], "angle": angles,
    })
    pts = []
    for label, col in ((label_a, "A"), (label_b, "B")):
        for i, (axis, angle, v, good) in enumerate(zip(axes["axis"], angles, rows[col], rows["good"])):
            if v is None or pd.isna(v):
                continue
            r = min(max((1 - v) if good == "↓" else v, 0.0), 1.0)
            pts.append({"side": label, "axis": axis, "order": i, "score": r, "value": v,
                        "x": r * math.sin(angle), "y": r * math.cos(angle)})
    if pts:  # close each polygon
        first = pd.DataFrame(pts).groupby("side", sort=False).first().reset_index()
        first["order"] = n
        poly = pd.concat([pd.DataFrame(pts), first], ignore_index=True)
    else:
        poly = pd.DataFrame(columns=["side", "axis", "order", "score", "value", "x", "y"])
    rings = pd.DataFrame([{"ring": r, "order": i, "x": r * math.sin(2 * math.pi * i / 72),
                           "y": r * math.cos(2 * math.pi * i / 72)}
                          for r in (0.25, 0.5, 0.75, 1.0) for i in range(73)])
    spokes = pd.DataFrame([{"axis": a, "order": o, "x": o * math.sin(t), "y": o * math.cos(t)}
                           for a, t in zip(axes["axis"], angles) for o in (0, 1)])
    labels = axes.assign(x=[1.06 * math.sin(t) for t in angles], y=[1.1 * math.cos(t) for t in angles])
    scale = alt.Scale(domain=[-2.2, 2.2], nice=False)
    enc = {"x": alt.X("x:Q", scale=scale, axis=None), "y": alt.Y("y:Q", scale=scale, axis=None)}
    base_ring = alt.Chart(rings).mark_line(color="#ddd", strokeWidth=1).encode(
        **enc, detail="ring:N", order="order:Q")
    base_spoke = alt.Chart(spokes).mark_line(color="#ddd", strokeWidth=1).encode(
        **enc, detail="axis:N", order="order:Q")
    labels["align"] = ["left" if x > 0.05 else "right" if x < -0.05 else "center" for x in labels["x"]]
    label_color = alt.Color("group:N", scale=alt.Scale(domain=["benchmark", "safety"], range=["#444", "#b22222"]),
                            legend=alt.Legend(title="axis"))
    text = alt.layer(*[alt.Chart(labels[labels["align"] == a]).mark_text(fontSize=10, align=a).encode(
        **enc, text="axis:N", color=label_color) for a in ("left", "right", "center")])
    shape = alt.Chart(poly).mark_line(point=True, strokeWidth=2).encode(
        **enc, order="order:Q",
        color=alt.Color("side:N", sort=[label_a, label_b], scale=SIDE_COLORS, title=None),
        tooltip=["side", "axis", alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("score:Q", format=".3f")])
    return (base_ring + base_spoke + shape + text).resolve_scale(color="independent").properties(
        width=420, height=420)


def runs_side_by_side(long: pd.DataFrame, group_by: str) -> alt.Chart:
    """One panel per metric, one bar per run, coloured by ``group_by``.

    ``long`` has columns run, metric, good, value, phase and the group-by column.
    """
    color = (alt.Color(f"{group_by}:N", title=group_by, legend=alt.Legend(labelLimit=320, orient="bottom"))
             if group_by != "none" else alt.value("#1f77b4"))
    return (alt.Chart(long).mark_bar().encode(
        x=alt.X("run:N", sort=alt.EncodingSortField(field="sort_key", order="ascending"), title=None,
                axis=alt.Axis(labelAngle=-40, labelLimit=160)),
        y=alt.Y("value:Q", title=None),
        color=color,
        tooltip=["id", "metric", "phase", alt.Tooltip("value:Q", format=".3f")]
        + ([group_by] if group_by != "none" else []),
    ).properties(width=alt.Step(22), height=220)
        .facet(facet=alt.Facet("title:N", title=None), columns=3)
        .resolve_scale(x="independent", y="independent"))


def stage_durations(stages: pd.DataFrame) -> alt.Chart:
    return alt.Chart(stages).mark_bar().encode(
        y=alt.Y("stage:N", sort=None, title=None), x=alt.X("duration_s:Q", title="seconds"),
        color=alt.Color("status:N", scale=alt.Scale(domain=["ok", "failed", "skipped"],
                                                    range=["#2ca02c", "#d62728", "#9aa5b1"])),
        tooltip=["stage", "kind", "status", alt.Tooltip("duration_s:Q", format=".2f")],
    ).properties(height=alt.Step(22))


def training_curves(log: pd.DataFrame, keys: list[str], x: str, title: str) -> alt.Chart:
    long = log.melt(id_vars=[x], value_vars=keys, var_name="series", value_name="value").dropna()
    return alt.Chart(long, title=title).mark_line(point=len(log) < 60).encode(
        x=alt.X(f"{x}:Q", title=x), y=alt.Y("value:Q", title=None), color=alt.Color("series:N", title=None),
        tooltip=[x, "series", alt.Tooltip("value:Q", format=".4g")],
    ).properties(height=260)
