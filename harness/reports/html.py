"""``harness report --html``: one self-contained HTML file for a pull request or a CI artefact.

Verdict per concern, who is A and B (and where they ran differently), the forest
plot, the metric table (per-category rows folded under their parent), gates
(three-valued verdict, adjusted confidence, MDE, the run's policy line), the
per-checkpoint table of an ``evaluate_every`` stage, flipped items and training
curves. Everything is inline (CSS, SVG); the file loads nothing: no script, no
web font, no image URL, and a Content-Security-Policy that forbids any request,
so it opens the same offline.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import checkpoints, svg
from .gating import policy_line
from .metric_table import (
    GATE_COLUMNS,
    ConcernVerdict,
    MetricRow,
    concern_verdicts,
    gate_cells,
    gate_outcome,
    verdict_line,
)
from .render import cells, side_label

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#1f2328;
padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de}
.verdicts{display:flex;gap:10px;flex-wrap:wrap;margin:12px 0}
.verdict{border-radius:6px;padding:8px 12px;border:1px solid #d0d7de;min-width:180px}
.verdict b{display:block;font-size:15px}.verdict small{color:#57606a}
.better{background:#dafbe1}.worse{background:#ffebe9}.unchanged{background:#f6f8fa}.inconclusive{background:#fff8c5}
.none{background:#fff}.verdict.gate-fail{border:2px solid #cf222e}.banner{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:8px 12px}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:6px 0}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#ffebe9}tr.inconclusive td{background:#fff8c5}tr.chosen td{background:#dafbe1;font-weight:bold}
.gate-failed{color:#cf222e;font-weight:bold}.gate-passed{color:#1a7f37}.gate-inconclusive{color:#9a6700}
pre{white-space:pre-wrap;background:#f6f8fa;padding:6px;margin:2px 0;font-size:12px}
.curves{display:flex;flex-wrap:wrap;gap:12px}details{margin:6px 0}summary{cursor:pointer}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _e(x: Any) -> str:
    return escape("" if x is None else str(x))


def _verdict_boxes(verdicts: Sequence[ConcernVerdict]) -> str:
    out = ['<div class="verdicts">']
    for v in verdicts:
        mover = ""
        if v.mover is not None and v.change not in ("unchanged", "none"):
            mover = f"<small>biggest mover: {_e(v.mover.metric)} {_e(cells(v.mover, 95)['A'])} → " \
                    f"{_e(cells(v.mover, 95)['B'])}</small><br>"
        gate = {"failed": '<small class="gate-failed">gate failed</small>',
                "inconclusive": '<small class="gate-inconclusive">gate inconclusive</small>',
                "passed": '<small class="gate-passed">gates passed</small>'}.get(v.gate or "", "<small>no gate</small>")
        fail_cls = " gate-fail" if v.gate == "failed" else ""
        out.append(f'<div class="verdict {_e(v.change)}{fail_cls}"><b>{_e(v.label)}: {_e(v.change)}</b>{mover}{gate}</div>')
    out.append("</div>")
    return "".join(out)


def _metric_table(rows: Sequence[MetricRow], pct: int) -> str:
    head = ["metric", "dir", "n", "A", "B", "B−A", f"{pct}% CI", "p", "flips +/−", "change", "gate"]
    children: dict[str, list[MetricRow]] = {}
    for r in rows:
        if r.parent:
            children.setdefault(r.parent, []).append(r)

    def tr(r: MetricRow) -> str:
        c = cells(r, pct)
        tds = "".join(f'<td class="{"" if k in ("metric", "change", "gate") else "n"}">{_e(c[k])}</td>' for k in head)
        return f'<tr class="{_e(r.gate or "")}">{tds}</tr>'

    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    out += [tr(r) for r in rows if r.headline]
    out.append("</table>")
    for parent, kids in children.items():
        out.append(f"<details><summary>{_e(parent)}: {len(kids)} categories</summary><table><tr>"
                   + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" + "".join(tr(k) for k in kids)
                   + "</table></details>")
    hidden = [r for r in rows if r.hidden]
    if hidden:
        out.append(f"<details><summary>{len(hidden)} redundant complement(s) hidden "
                   f"({_e(', '.join(r.metric for r in hidden))})</summary><table><tr>"
                   + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" + "".join(tr(r) for r in hidden)
                   + "</table></details>")
    return "".join(out)


def _gates(gates: Iterable[Mapping[str, Any]], label: str, gating: Mapping[str, Any] | None = None) -> str:
    gates = list(gates)
    if not gates:
        return "<p>No gates.</p>"
    out = [f"<p>{_e(label)}</p><table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in GATE_COLUMNS) + "</tr>"]
    for g in gates:
        state, c = gate_outcome(g), gate_cells(g)
        classes = {"verdict": f"gate-{state}", "tier": f"tier-{c['tier']}", "metric": "", "rule": "", "detail": ""}
        tds = "".join(f'<td class="{classes.get(k, "n")}">{_e(c[k])}</td>' for k in GATE_COLUMNS)
        out.append(f'<tr class="{_e(state)}">{tds}</tr>')
    out.append("</table>")
    line = policy_line(dict(gating) if gating else None)
    if line:
        out.append(f'<p class="policy">{_e(line)}</p>')
    return "".join(out)


def _checkpoints(records: Sequence[Mapping[str, Any]]) -> str:
    """One table per selecting stage (``evaluate_every``) of each record: the chosen row
    marked, the selection's reason and the note that it used dev items only."""
    out = []
    for rec in records:
        for entry in checkpoints.selecting_stages(dict(rec)):
            headers, body = checkpoints.table(entry)
            headers[0] = "chosen"
            who = f" of {rec.get('name') or rec.get('id')}" if len(records) > 1 else ""
            out.append(f"<h3>{_e(entry.get('name'))}{_e(who)}</h3><table><tr>"
                       + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>")
            for row in body:
                chosen = bool(row[0])
                cells_ = ["✓" if chosen else "", *row[1:]]
                out.append(f'<tr class="{"chosen" if chosen else ""}">'
                           + "".join(f'<td class="{"n" if 0 < i < len(row) - 1 else ""}">{_e(x)}</td>'
                                     for i, x in enumerate(cells_)) + "</tr>")
            out.append(f"</table><p><b>{_e(checkpoints.selected_line(entry))}</b></p>"
                       f"<p><small>{_e(checkpoints.note(entry))}</small></p>")
    return "".join(out)


def _flips(flips: Mapping[str, list[dict[str, Any]]], limit: int) -> str:
    if not flips:
        return "<p>No item changed its score.</p>"
    out = []
    for metric, items in flips.items():
        regressed = sum(1 for i in items if i["direction"] == "regressed")
        out.append(f"<details{' open' if regressed else ''}><summary>{_e(metric)}: {len(items)} items changed "
                   f"({regressed} regressed)</summary>")
        for it in items[:limit]:
            out.append(f"<p><b>[{_e(it['direction'])}] {_e(it['item_id'])}</b> {_e(it['change'])}</p>"
                       f"<pre>prompt: {_e(it.get('prompt'))}</pre><pre>A: {_e(it.get('output_a'))}</pre>"
                       f"<pre>B: {_e(it.get('output_b'))}</pre>")
        if len(items) > limit:
            out.append(f"<p>… {len(items) - limit} more (harness compare --flips {_e(metric)})</p>")
        out.append("</details>")
    return "".join(out)


def render_html(comparison: Any, rows: Sequence[MetricRow], *, title: str, gates: Iterable[Mapping[str, Any]] = (),
                gates_label: str = "", flips: Mapping[str, list[dict[str, Any]]] | None = None,
                curves: Mapping[str, Mapping[str, list[tuple[float, float]]]] | None = None,
                flip_limit: int = 20, gating: Mapping[str, Any] | None = None,
                checkpoint_records: Sequence[Mapping[str, Any]] = ()) -> str:
    """The whole report as one HTML string. ``gating``: the run-level policy summary of
    ``gates`` (``record["gating"]``, :func:`harness.reports.gating.comparison_gating`);
    ``checkpoint_records``: the records whose ``evaluate_every`` checkpoint tables to show."""
    pct = round(comparison.confidence * 100)
    verdicts = concern_verdicts(rows)
    body = [f"<h1>{_e(title)}</h1>", f"<p><b>{_e(verdict_line(verdicts))}</b></p>", _verdict_boxes(verdicts),
            f"<p>A = {_e(side_label(comparison.a))}<br>B = {_e(side_label(comparison.b))}</p>"]
    if comparison.environment:
        body.append('<div class="banner"><b>Ran differently</b> (compared anyway; these do not change what is '
                    "measured):<ul>" + "".join(f"<li>{_e(d)}</li>" for d in comparison.environment) + "</ul></div>")
    body += [f'<div class="warn">⚠ {_e(w)}</div>' for w in comparison.warnings]
    body += ["<h2>B − A per metric</h2>",
             f"<p>Point: paired mean difference; bar: its {pct}% paired-bootstrap interval; oriented so that right "
             "is better for every metric; thick ticks: gate bounds (red: failing gate). * the interval excludes 0.</p>",
             svg.forest([r for r in rows if r.headline])]
    kids = [r for r in rows if r.parent]
    if kids:
        body.append(f"<details><summary>per-category breakdown ({len(kids)} rows)</summary>"
                    + svg.forest(kids) + "</details>")
    body += ["<h2>Metrics</h2>", _metric_table(rows, pct), "<h2>Gates</h2>", _gates(gates, gates_label, gating)]
    picked = _checkpoints(checkpoint_records)
    if picked:
        body += ["<h2>Checkpoints (dev items)</h2>", picked]
    body += ["<h2>Items that flipped</h2>", _flips(flips or {}, flip_limit)]
    if curves:
        body.append("<h2>Training</h2><div class=\"curves\">"
                    + "".join(svg.lines(t, s) for t, s in curves.items()) + "</div>")
    body.append(f"<p><small>posttrain-harness · paired bootstrap {comparison.n_boot} resamples, seed "
                f"{comparison.seed} · p: McNemar exact test on flipped items</small></p>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")


def write_html(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
