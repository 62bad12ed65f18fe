"""Text and markdown renderings of the one metric table (:mod:`.metric_table`).

``harness compare``, ``harness show``, ``harness run`` and the markdown summary
all print through here: the verdict line first, then who is A and B (and where
they ran differently), then the rows.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .metric_table import MetricRow, concern_verdicts, gate_number, gate_word, metric_rows, verdict_line, visible


def num(x: Any, spec: str = ".3f") -> str:
    """A number for a table cell: ``—`` for missing, no ``0.200000`` / ``None``."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, (int, float)):
        return format(x, spec) if isinstance(x, float) else str(x)
    return str(x)


def signed(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def side_label(side: dict) -> str:
    where = side.get("accelerator")
    host = side.get("host")
    extra = ", ".join(str(v) for v in (where, host if host and host != "vm" else None, side.get("dtype")) if v)
    return (f"{side.get('name') or '?'} ({side.get('id') or '?'}, {side.get('phase')})"
            + (f" on {extra}" if extra else ""))


def cells(r: MetricRow, pct: int) -> dict[str, str]:
    ci = "—" if r.ci_low is None else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
    gate = {"passed": "pass", "failed": "FAIL", "inconclusive": "inconclusive"}.get(r.gate or "", "")
    return {"metric": ("  " if r.parent else "") + r.metric, "dir": "↑" if r.higher_is_better else "↓",
            "n": str(r.n or "—"), "A": num(r.a), "B": num(r.b), "B−A": signed(r.diff), f"{pct}% CI": ci,
            "p": "—" if r.p_value is None else f"{r.p_value:.3g}",
            "flips +/−": f"+{r.improved}/−{r.regressed}" if r.n else "—",
            "change": r.change + (" *" if r.significant else ""), "gate": gate}


def rows_for(comparison: Any, gates: Iterable[Any] = (), record_a: dict | None = None,
             record_b: dict | None = None) -> list[MetricRow]:
    return metric_rows(comparison, gates, record_a=record_a, record_b=record_b)


def text_lines(comparison: Any, rows: Sequence[MetricRow], *, show_all: bool = False,
               verdict: bool = True, sides: bool = True) -> list[str]:
    """Verdict line, sides, environment banner, aligned table, footnotes."""
    pct = round(comparison.confidence * 100)
    shown = visible(rows, show_all=show_all)
    table = [cells(r, pct) for r in shown]
    cols = list(cells(rows[0], pct)) if rows else ["metric"]
    widths = {c: max([len(c)] + [len(t[c]) for t in table]) for c in cols}
    left = ("metric", "change", "gate")

    def line(t: dict) -> str:
        return "  ".join(t[c].ljust(widths[c]) if c in left else t[c].rjust(widths[c]) for c in cols).rstrip()

    out = []
    if verdict:
        out += [verdict_line(concern_verdicts(rows)), ""]
    if sides:
        out += [f"A: {side_label(comparison.a)}", f"B: {side_label(comparison.b)}"]
        if comparison.environment:
            out.append("ran differently: " + "; ".join(comparison.environment))
        out.append("")
    out += [line({c: c for c in cols})]
    out += [line(t) for t in table] or ["(no common metrics)"]
    hidden = len(rows) - len(shown)
    out.append("")
    out.append(f"↑/↓ good direction · CI: paired bootstrap ({comparison.n_boot} resamples, seed "
               f"{comparison.seed}) · p: McNemar exact (0/1 scores) · * interval excludes 0")
    if hidden:
        out.append(f"{hidden} per-category or redundant rows hidden (--all shows them)")
    out += [f"warning: {w}" for w in comparison.warnings]
    return out


def md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_lines(comparison: Any, rows: Sequence[MetricRow], *, show_all: bool = False,
                   verdict: bool = True) -> list[str]:
    pct = round(comparison.confidence * 100)
    shown = visible(rows, show_all=show_all)
    out = []
    if verdict:
        out += [f"**{verdict_line(concern_verdicts(rows))}**", ""]
    out += [f"**A**: {md_cell(side_label(comparison.a))}  ", f"**B**: {md_cell(side_label(comparison.b))}", ""]
    if comparison.environment:
        out += ["> ℹ️ ran differently: " + md_cell("; ".join(comparison.environment)), ""]
    head = ["Metric", "", "n", "A", "B", "B − A", f"{pct}% CI", "McNemar p", "improved / regressed",
            "change", "gate"]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in shown:
        c = cells(r, pct)
        gate = {"passed": "✅", "failed": "❌", "inconclusive": "❔"}.get(r.gate or "", "")
        out.append("| " + " | ".join([f"`{r.metric}`", c["dir"], c["n"], c["A"], c["B"], c["B−A"],
                                      c[f"{pct}% CI"], c["p"], f"{r.improved} / {r.regressed}" if r.n else "—",
                                      c["change"].replace("*", "\\*"), gate]) + " |")
    out.append("")
    out.append("↑/↓: the good direction. \\*: the paired interval excludes 0.")
    if len(rows) > len(shown):
        out.append(f"{len(rows) - len(shown)} per-category or redundant rows not shown.")
    out += [f"> ⚠️ {md_cell(w)}" for w in comparison.warnings]
    return out


def gate_lines(gates: Iterable[Any]) -> list[str]:
    """``PASS|FAIL|INCONCLUSIVE  message · MDE x`` per gate rule (an inconclusive one says how
    the policy counted it; the message holds the adjusted confidence), with the gate's
    under-power warning below it."""
    out = []
    for g in gates:
        d = g.to_dict() if hasattr(g, "to_dict") else dict(g)
        word = gate_word(d)
        if word == "INCONCLUSIVE":
            word += (f" (counts as {'passed' if d.get('passed') else 'failed'}: "
                     f"on_inconclusive = {d.get('on_inconclusive')})")
        mde = f" · MDE {gate_number(d['mde'])}" if d.get("mde") is not None else ""
        out.append(f"{word}  {d.get('message')}{mde}")
        if d.get("underpowered"):
            out.append(f"  warning: {d['underpowered']}")
    return out


def format_table(comparison: Any, gates: Iterable[Any] = (), *, show_all: bool = False,
                 record_a: dict | None = None, record_b: dict | None = None) -> str:
    """Verdict line per concern, then an aligned table. ↑/↓: the good direction; ``*``: the
    interval excludes 0. Per-category and redundant rows only with ``show_all``."""
    rows = rows_for(comparison, gates, record_a, record_b)
    return "\n".join(text_lines(comparison, rows, show_all=show_all))


def format_markdown(comparison: Any, gates: Iterable[Any] = (), *, show_all: bool = False,
                    record_a: dict | None = None, record_b: dict | None = None) -> str:
    """The same as :func:`format_table`, as GitHub-flavoured markdown."""
    rows = rows_for(comparison, gates, record_a, record_b)
    return "\n".join(markdown_lines(comparison, rows, show_all=show_all)) + "\n"
