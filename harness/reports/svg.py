"""Inline SVG charts for the static report: no script, no font, no network.

``forest`` draws B − A per metric with its paired interval, oriented so that right
is always better, the gate bounds on it, failing/inconclusive gates coloured.
``lines`` draws training curves (one panel per quantity).
"""

from __future__ import annotations

import math
from html import escape
from typing import Mapping, Sequence

from .metric_table import MetricRow

COLORS = {"better": "#1a7f37", "worse": "#cf222e", "unchanged": "#57606a", "inconclusive": "#9a6700"}
GATE_COLORS = {"failed": "#cf222e", "inconclusive": "#bf8700", "passed": "#8c959f"}
PALETTE = ("#0969da", "#e16f24", "#1a7f37", "#8250df", "#cf222e", "#57606a", "#bf3989", "#116329")


def gate_marks(row: MetricRow) -> list[tuple[float, str]]:
    """Gate bounds on the improvement axis (right = better): ``(x, rule)``.

    ``max_drop = t`` allows the improvement down to −t; ``max_increase = t`` caps the
    raw rise at t, i.e. the improvement at +t (↑ metrics) or −t (↓ metrics); ``min_gain = t``
    asks the improvement to reach +t.
    ``min`` / ``max`` bound values, not differences, and are not drawn here.
    """
    out = []
    for g in row.gate_bounds:
        t = g.get("threshold")
        if not isinstance(t, (int, float)):
            continue
        if g.get("rule") == "max_drop":
            out.append((-float(t), "max_drop"))
        elif g.get("rule") == "max_increase":
            out.append((float(t) if row.higher_is_better else -float(t), "max_increase"))
        elif g.get("rule") == "min_gain":
            out.append((float(t), "min_gain"))
    return out


def _nice(x: float) -> float:
    if x <= 0:
        return 0.05
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if x <= m * exp:
            return m * exp
    return 10 * exp


def forest(rows: Sequence[MetricRow], *, width: int = 820, row_h: int = 26, label_w: int = 300) -> str:
    """The forest plot as an ``<svg>`` string (empty rows → a short note)."""
    rows = [r for r in rows if r.improvement is not None]
    if not rows:
        return "<p><em>No metric with values on both sides.</em></p>"
    extent = 0.0
    for r in rows:
        iv = r.improvement_interval()
        extent = max([extent, abs(r.improvement or 0.0)] + ([abs(iv[0]), abs(iv[1])] if iv else [])
                     + [abs(x) for x, _ in gate_marks(r)])
    extent = _nice(extent * 1.05)
    plot_w = width - label_w - 90
    top, h = 28, row_h * len(rows) + 40
    x0 = label_w

    def sx(v: float) -> float:
        return x0 + (v + extent) / (2 * extent) * plot_w

    parts = [f'<svg role="img" class="forest" width="{width}" height="{h}" '
             f'viewBox="0 0 {width} {h}" font-family="sans-serif" font-size="12">',
             f'<text x="{sx(-extent):.1f}" y="14" fill="#57606a">← worse</text>',
             f'<text x="{sx(extent):.1f}" y="14" text-anchor="end" fill="#57606a">better →</text>',
             f'<text x="{sx(0):.1f}" y="14" text-anchor="middle" fill="#57606a">B − A (right is better)</text>']
    for tick in (-extent, -extent / 2, 0.0, extent / 2, extent):
        x = sx(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{h - 18}" '
                     f'stroke="{"#57606a" if tick == 0 else "#d0d7de"}" stroke-width="1"/>')
        parts.append(f'<text x="{x:.1f}" y="{h - 4}" text-anchor="middle" fill="#57606a">{tick:+.3g}</text>')
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        color = COLORS.get(r.change, "#57606a")
        label = escape(f"{r.metric} {'↑' if r.higher_is_better else '↓'}")
        weight = ' font-weight="bold"' if r.gate in ("failed", "inconclusive") else ""
        lab_color = GATE_COLORS[r.gate] if r.gate in ("failed", "inconclusive") else "#1f2328"
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{lab_color}"{weight}>'
                     f'<title>{escape(r.change)}; {escape("; ".join(r.gate_messages))}</title>{label}</text>')
        for gx, rule in gate_marks(r):
            gc = GATE_COLORS.get(r.gate or "passed", "#8c959f")
            parts.append(f'<line class="gate-bound" x1="{sx(gx):.1f}" y1="{y - row_h / 2 + 3:.1f}" '
                         f'x2="{sx(gx):.1f}" y2="{y + row_h / 2 - 3:.1f}" stroke="{gc}" stroke-width="3">'
                         f'<title>{escape(rule)} bound</title></line>')
        iv = r.improvement_interval()
        if iv:
            parts.append(f'<line x1="{sx(iv[0]):.1f}" y1="{y:.1f}" x2="{sx(iv[1]):.1f}" y2="{y:.1f}" '
                         f'stroke="{color}" stroke-width="2"/>')
        parts.append(f'<circle cx="{sx(r.improvement or 0.0):.1f}" cy="{y:.1f}" r="4.5" fill="{color}">'
                     f'<title>{escape(r.metric)}: B − A {r.diff:+.4f}</title></circle>')
        parts.append(f'<text x="{width - 84}" y="{y + 4:.1f}" fill="{color}">{r.diff:+.3f}'
                     f'{" *" if r.significant else ""}</text>')
    parts.append("</svg>")
    return "".join(parts)


def lines(title: str, series: Mapping[str, list[tuple[float, float]]], *, width: int = 400, height: int = 220) -> str:
    """One panel of curves; a legend below names each series."""
    pts = [p for s in series.values() for p in s]
    if not pts:
        return ""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    xmin, xmax = min(xs), max(xs)
    ymin, ymax = min(ys), max(ys)
    if xmax == xmin:
        xmax = xmin + 1
    if ymax == ymin:
        ymax, ymin = ymax + abs(ymax) * 0.05 + 1e-9, ymin - abs(ymin) * 0.05 - 1e-9
    left, right, top, bottom = 56, 10, 22, 26
    pw, ph = width - left - right, height - top - bottom

    def sx(v: float) -> float:
        return left + (v - xmin) / (xmax - xmin) * pw

    def sy(v: float) -> float:
        return top + ph - (v - ymin) / (ymax - ymin) * ph

    legend_h = 16 * len(series)
    out = [f'<svg role="img" class="curve" width="{width}" '
           f'height="{height + legend_h}" viewBox="0 0 {width} {height + legend_h}" font-family="sans-serif" '
           f'font-size="11"><text x="{left}" y="14" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#d0d7de"/>']
    for v in (ymin, (ymin + ymax) / 2, ymax):
        out.append(f'<text x="{left - 4}" y="{sy(v) + 4:.1f}" text-anchor="end" fill="#57606a">{v:.3g}</text>')
    for v in (xmin, xmax):
        out.append(f'<text x="{sx(v):.1f}" y="{height - 8}" text-anchor="middle" fill="#57606a">{v:.0f}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" fill="#57606a">step</text>')
    for i, (label, s) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        ly = height + 12 + 16 * i
        out.append(f'<rect x="{left}" y="{ly - 9}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{left + 14}" y="{ly}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
