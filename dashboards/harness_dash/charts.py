"""Altair (Vega-Lite) charts: offline, bundled with Streamlit, no plotly/matplotlib."""

from __future__ import annotations

import altair as alt
import pandas as pd

CHANGE_COLORS = alt.Scale(domain=["better", "worse", "unchanged", "inconclusive"],
                          range=["#1a7f37", "#cf222e", "#57606a", "#bf8700"])
GATE_COLORS = alt.Scale(domain=["failed", "inconclusive", "passed"], range=["#cf222e", "#bf8700", "#8c959f"])


def forest(rows: list) -> alt.LayerChart:
    """B − A per metric with its paired interval, right = better for every metric, the
    gate bounds as ticks (red: failing gate), every metric label visible."""
    from harness.reports.svg import gate_marks

    data, marks = [], []
    for i, r in enumerate(rows):
        if r.improvement is None:
            continue
        iv = r.improvement_interval()
        label = f"{r.metric} {'↑' if r.higher_is_better else '↓'}" + (" ✗ gate" if r.gate == "failed" else "")
        data.append({"metric": label, "order": i, "improvement": r.improvement, "diff": r.diff,
                     "low": iv[0] if iv else r.improvement, "high": iv[1] if iv else r.improvement,
                     "change": r.change, "gate": r.gate or "none", "A": r.a, "B": r.b})
        marks += [{"metric": label, "order": i, "bound": x, "rule": rule, "gate": r.gate or "passed"}
                  for x, rule in gate_marks(r)]
    frame = pd.DataFrame(data)
    extent = max([abs(v) for v in frame[["improvement", "low", "high"]].to_numpy().ravel()]
                 + [abs(m["bound"]) for m in marks] + [0.05]) * 1.1
    scale = alt.Scale(domain=[-extent, extent], nice=False)
    y = alt.Y("metric:N", sort=alt.EncodingSortField("order"), title=None,
              axis=alt.Axis(labelLimit=420, labelFontSize=12, labelOverlap=False,
                            labelColor=alt.ExprRef("indexof(datum.value, '✗') >= 0 ? '#cf222e' : '#31333f'")))
    x_title = "B − A, oriented so that right is better  (← worse · better →)"
    base = alt.Chart(frame)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#57606a").encode(x="x:Q")
    interval = base.mark_rule(strokeWidth=2).encode(
        y=y, x=alt.X("low:Q", scale=scale, title=x_title), x2="high:Q",
        color=alt.Color("change:N", scale=CHANGE_COLORS, title="change"))
    point = base.mark_circle(size=80, opacity=1).encode(
        y=y, x=alt.X("improvement:Q", scale=scale), color=alt.Color("change:N", scale=CHANGE_COLORS, legend=None),
        tooltip=["metric", "change", "gate", alt.Tooltip("A:Q", format=".3f"), alt.Tooltip("B:Q", format=".3f"),
                 alt.Tooltip("diff:Q", title="B − A", format="+.3f"), alt.Tooltip("low:Q", format="+.3f"),
                 alt.Tooltip("high:Q", format="+.3f")])
    layers = [zero, interval, point]
    if marks:
        layers.append(alt.Chart(pd.DataFrame(marks)).mark_tick(thickness=3, size=18).encode(
            y=y, x=alt.X("bound:Q", scale=scale),
            color=alt.Color("gate:N", scale=GATE_COLORS, title="gate bound"),
            tooltip=["metric", "rule", alt.Tooltip("bound:Q", format="+.3f"), "gate"]))
    return alt.layer(*layers).resolve_scale(color="independent").properties(
        height=alt.Step(26), width="container")


def heat_table(long: pd.DataFrame, group_by: str, change: bool = False) -> alt.Chart:
    """Metrics × runs, each cell the value (text) on a colour oriented so that green is
    better (``1 − x`` for ↓ metrics; for changes, the signed improvement); runs grouped
    by ``group_by`` (columns sorted by it); every label shown."""
    if change:
        score = [(-v if g == "↓" else v) for v, g in zip(long["value"], long["good"])]
        m = max([abs(v) for v in score] + [1e-9])
        domain = [-m, m]
    else:
        score = [(1 - v) if g == "↓" else v for v, g in zip(long["value"], long["good"])]
        domain = [0, 1]
    long = long.assign(score=score)
    x = alt.X("run:N", sort=alt.EncodingSortField(field="sort_key", order="ascending"), title=None,
              axis=alt.Axis(labelAngle=-35, labelLimit=260, labelOverlap=False, orient="top"))
    y = alt.Y("metric_label:N", title=None, axis=alt.Axis(labelLimit=360, labelOverlap=False))
    base = alt.Chart(long).encode(x=x, y=y)
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("score:Q", scale=alt.Scale(scheme="redyellowgreen", domain=domain),
                        title="better →"),
        tooltip=["id", "metric", "phase", alt.Tooltip("value:Q", format=".3f")]
        + ([group_by] if group_by != "none" else []))
    text = base.mark_text(fontSize=11).encode(text=alt.Text("value:Q", format=".3f"))
    chart = (cells + text).properties(width=alt.Step(90), height=alt.Step(24))
    return chart


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


def overlay_curves(long: pd.DataFrame, title: str) -> alt.Chart:
    """One quantity of several runs' training logs: step on x, one line per run and stage."""
    return alt.Chart(long, title=title).mark_line().encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("value:Q", title=None),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400, columns=1)),
        tooltip=["series", "step", alt.Tooltip("value:Q", format=".4g")],
    ).properties(height=260)


def checkpoint_curve(points: pd.DataFrame, metric: str, chosen: int | None) -> alt.LayerChart:
    """One dev metric through training: value per checkpoint with its interval, the selected
    checkpoint marked by a dashed rule."""
    x = alt.X("step:Q", title="step")
    base = alt.Chart(points)
    layers = [base.mark_rule(color="#8c959f").encode(x=x, y=alt.Y("low:Q", title=None), y2="high:Q"),
              base.mark_line(point=True).encode(
                  x=x, y=alt.Y("value:Q", title=None),
                  tooltip=["step", alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("low:Q", format=".3f"),
                           alt.Tooltip("high:Q", format=".3f"), "gates"])]
    if chosen is not None:
        mark = pd.DataFrame({"step": [chosen], "label": [f"selected: step {chosen}"]})
        layers += [alt.Chart(mark).mark_rule(strokeDash=[6, 4], color="#1a7f37", strokeWidth=2).encode(x=x),
                   alt.Chart(mark).mark_text(align="left", dx=4, dy=-120, color="#1a7f37").encode(x=x, text="label:N")]
    return alt.layer(*layers).properties(title=f"{metric} (dev, by checkpoint)", height=260)
