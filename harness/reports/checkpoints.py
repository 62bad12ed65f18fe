"""The per-checkpoint table of an ``evaluate_every`` stage (text for ``harness show`` and the
run log, markdown for the summary): step, dev metrics with intervals, gate verdicts on
dev, the selected checkpoint marked, and the sentence that selection used dev only."""

from __future__ import annotations

from typing import Any


def selecting_stages(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in record.get("stages") or [] if s.get("checkpoints")]


def _metric_names(entry: dict[str, Any]) -> list[str]:
    """The gated metrics and the one [select] ranks by (every metric when there are none)."""
    rows = entry.get("checkpoints") or []
    every = {k for r in rows for k in (r.get("metrics") or {})}
    rule = (entry.get("selection") or {}).get("rule") or {}
    wanted = {g["metric"] for r in rows for g in r.get("gates") or []} | ({rule["metric"]} if rule.get("metric") else set())
    return sorted(wanted & every) or sorted(every)


def metric_cell(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    iv = m.get("interval")
    return f"{m['value']:.3f}" + (f" [{iv[0]:.2f}, {iv[1]:.2f}]" if iv else "")


def _verdicts(row: dict[str, Any]) -> str:
    gates = row.get("gates") or []
    if not gates:
        return "no gates"
    counts = {v: sum(g.get("verdict") == v for g in gates) for v in ("pass", "fail", "inconclusive")}
    text = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    if row.get("passed") and counts["inconclusive"]:  # only [select] on_inconclusive = "pass" gets here
        text += " counted as passing"
    return ("passes" if row.get("passed") else "does not pass") + f" ({text})"


def note(entry: dict[str, Any]) -> str:
    from ..verdicts.selection import SELECTION_NOTE

    sel = entry.get("selection") or {}
    return "Note: " + (sel.get("note") or SELECTION_NOTE) + "."


def selected_line(entry: dict[str, Any]) -> str:
    sel = entry.get("selection") or {}
    if sel.get("step") is None:
        return f"selected: none — {sel.get('reason', '?')}"
    return f"selected: step {sel['step']}" + (" (fallback)" if sel.get("fallback") else "") + \
        f" — {sel.get('reason', '')}"


def table(entry: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = entry.get("checkpoints") or []
    names = _metric_names(entry)
    chosen = (entry.get("selection") or {}).get("step")
    body = [["→" if r.get("step") == chosen else "", str(r.get("step")),
             *[metric_cell((r.get("metrics") or {}).get(n)) for n in names], _verdicts(r)] for r in rows]
    return ["", "step", *[f"{n} (dev)" for n in names], "gates on dev"], body


def checkpoint_lines(entry: dict[str, Any]) -> list[str]:
    """Plain-text table of one stage's checkpoints."""
    headers, body = table(entry)
    widths = [max(len(x) for x in col) for col in zip(headers, *body)]
    line = lambda r: "  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return [f"checkpoints of {entry.get('name')} (metric [95% interval] on dev items):",
            line(headers), line(["-" * w for w in widths]), *map(line, body), selected_line(entry), note(entry)]


def markdown_lines(record: dict[str, Any]) -> list[str]:
    """A ``### Checkpoints`` section per selecting stage (empty when none)."""
    out: list[str] = []
    for entry in selecting_stages(record):
        headers, body = table(entry)
        headers[0] = "chosen"
        out += [f"### Checkpoints: `{entry.get('name')}`", "", "| " + " | ".join(headers) + " |",
                "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in (["✅" if r[0] else "", *r[1:]])) + " |"
                for r in body]
        out += ["", f"**{selected_line(entry)}**", "", f"_{note(entry)}_", ""]
    return out
