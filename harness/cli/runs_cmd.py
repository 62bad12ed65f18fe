"""``harness runs``, ``harness show`` and ``harness cache``: reading the store."""

from __future__ import annotations

import json

import click

from ._common import fail, store_option


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _fmt(metric: dict | None) -> str:
    if not metric or metric.get("value") is None:
        return "-"
    err = metric.get("stderr")
    return f"{metric['value']:.3f}" + (f" ± {err:.3f}" if err is not None else "")


def format_record(record: dict, comparison=None, *, quiet: bool = False, show_all: bool = False,
                  brief: bool = False) -> str:
    """A run as readable text: the verdict per concern, header, stages, metrics
    before → after (the paired metric table when ``comparison`` is given), gates.
    ``quiet``: only the verdict line and the gate table; ``brief``: no stage and data
    lines (the end of `harness run`, which just printed them)."""
    from ..reports.gating import run_gate_outcome
    from ..reports.metric_table import concern_verdicts, verdict_line
    from ..reports.render import rows_for, text_lines

    rows = rows_for(comparison, record.get("gates") or [], record, record) if comparison is not None else None
    verdict = [verdict_line(concern_verdicts(rows))] if rows is not None else []
    if quiet:
        return "\n".join(verdict + _gate_table(record) + _error_lines(record))
    outcome = run_gate_outcome(record)
    out = verdict + [f"run      {record.get('id')}  ({record.get('name')})",
           f"status   {record.get('status')}"
           + ("" if outcome is None else f"  gates {'FAILED' if outcome == 'failed' else outcome}")]
    model = record.get("model") or {}
    if model:
        out.append(f"model    {model.get('name')} [{model.get('loader')}] on {model.get('device')} "
                   f"{model.get('dtype')}, {model.get('parameters') or '?'} parameters")
    env = record.get("environment") or {}
    acc = env.get("accelerator") or {}
    if env:
        out.append(f"machine  {env.get('host')} · {acc.get('kind')} {acc.get('name') or ''} ×{acc.get('count')}"
                   f" · git {str(env.get('git_sha') or '-')[:10]}")
    if record.get("duration_s") is not None:
        out.append(f"time     {record['duration_s']:.1f}s")
    stages = [] if brief else record.get("stages") or []
    if stages:
        out += ["", _table([[s["name"], s["status"], f"{s.get('duration_s', 0):.1f}s",
                             "cached" if s.get("cached") else ""] for s in stages],
                           ["stage", "status", "time", ""])]
    for d in [] if brief else record.get("data") or []:
        filt = ", ".join(f"{f['filter']}:{f['action']} {f['flagged']} flagged" for f in d.get("filters", []))
        out.append(f"data     {d['name']}: {d['rows_in']} → {d.get('rows_out', '?')} rows"
                   + (f" ({filt})" if filt else ""))
    metrics = record.get("metrics") or {}
    before, after = metrics.get("before") or {}, metrics.get("after") or {}
    if rows is not None:
        out += [""] + text_lines(comparison, rows, show_all=show_all, verdict=False, sides=False)
    elif before or after:
        table = []
        for key in sorted(set(before) | set(after)):
            b, a = before.get(key), after.get(key)
            ref = a or b or {}
            arrow = "↑" if ref.get("higher_is_better", True) else "↓"
            delta = f"{a['value'] - b['value']:+.3f}" if a and b and None not in (a["value"], b["value"]) else ""
            table.append([key, arrow, _fmt(b), _fmt(a), delta])
        out += ["", _table(table, ["metric", "good", "before", "after", "change"])]
    out += _checkpoint_tables(record) + _gate_table(record) + _error_lines(record)
    return "\n".join(out)


def _checkpoint_tables(record: dict) -> list[str]:
    from ..reports.checkpoints import checkpoint_lines, selecting_stages

    out: list[str] = []
    for entry in selecting_stages(record):
        out += [""] + checkpoint_lines(entry)
    return out


def _gate_table(record: dict) -> list[str]:
    """The gate rules (three-valued verdict, adjusted confidence, MDE) and the run's policy line."""
    from ..reports.gating import policy_line
    from ..reports.metric_table import gate_cells, gate_word

    if not record.get("gates"):
        return []
    rows = [[gate_word(g), *(gate_cells(g)[k] for k in ("tier", "metric", "rule", "confidence", "mde", "detail"))]
            for g in record["gates"]]
    line = policy_line(record.get("gating"))
    return ["", _table(rows, ["gate", "tier", "metric", "rule", "confidence", "mde", "detail"]),
            *([line] if line else [])]


def _error_lines(record: dict) -> list[str]:
    if not record.get("error"):
        return []
    err = record["error"]
    return ["", f"error in stage '{err.get('stage')}': {err.get('type')}: {err.get('message')}"]


RUN_COLUMNS = ("id", "date", "name", "status", "gates", "accelerator", "host", "model", "kind", "tags", "time",
               "point")
DEFAULT_COLUMNS = ("id", "date", "name", "status", "gates", "accelerator")


def _accelerator(record: dict) -> str:
    from ..verdicts.compare import accelerator_label

    return accelerator_label(record) if record.get("environment") or record.get("model") else ""


def _final(record: dict, metric: str) -> str:
    metrics = record.get("metrics") or {}
    after, before = (metrics.get("after") or {}).get(metric), (metrics.get("before") or {}).get(metric)
    final = after or before
    if not final or final.get("value") is None:
        return "-"
    text = f"{final['value']:.3f}"
    if after and before and None not in (after.get("value"), before.get("value")):
        text += f" ({after['value'] - before['value']:+.3f})"
    return text


def run_cell(record: dict, column: str) -> str:
    """One cell of `harness runs`: a run field, or a metric's final value (change in brackets)."""
    if "/" in column:
        return _final(record, column)
    if column == "gates":  # three-valued, as the run's verdict line: pass, FAIL, inconclusive (fail-closed)
        from ..reports.gating import run_gate_outcome

        outcome = run_gate_outcome(record)
        return {None: "", "passed": "pass", "failed": "FAIL"}.get(outcome, outcome or "")
    if column == "date":
        return str(record.get("created_at") or "").replace("T", " ")[:16]
    if column == "accelerator":
        return _accelerator(record)
    if column == "host":
        return str((record.get("environment") or {}).get("host") or "")
    if column == "model":
        return str((record.get("model") or {}).get("name") or "")
    if column == "tags":
        return ",".join(map(str, record.get("tags") or []))
    if column == "point":  # a sweep point's grid values
        point = (record.get("sweep") or {}).get("point") or {}
        return " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in point.items())
    if column == "time":
        return f"{record['duration_s']:.0f}s" if record.get("duration_s") is not None else ""
    return str(record.get(column) or "")


def headline_metrics(records: list[dict], limit: int = 4) -> list[str]:
    """The metrics gated most often across these runs (what their recipes care about)."""
    counts: dict[str, int] = {}
    for r in records:
        for g in {g.get("metric") for g in r.get("gates") or [] if g.get("metric")}:
            counts[g] = counts.get(g, 0) + 1
    return sorted(counts, key=lambda m: (-counts[m], m))[:limit]


@click.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, with its id.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Show at most N runs.")
@click.option("--columns", metavar="COL,...",
              help="Columns to show, comma-separated: " + ", ".join(RUN_COLUMNS) + ", or any metric "
                   "(suite/metric: its final value, the change in brackets). Default: "
                   + ",".join(DEFAULT_COLUMNS) + " and the most-gated metrics.")
@click.option("--sweep", "sweep_id", metavar="ID", help="Only the points of this sweep (harness sweep/submit).")
@click.option("--no-index", is_flag=True,
              help="A remote store: read every run.json instead of the index (same rows; slower).")
def runs(store, as_json, limit, columns, sweep_id, no_index):
    """List stored runs, newest first."""
    import itertools

    listed = store.iter_records() if no_index else store.summaries(first=None if sweep_id else limit)
    records = list(itertools.islice((r for r in listed if not sweep_id or (r.get("sweep") or {}).get("id") == sweep_id),
                                    limit))
    if as_json:
        from ..reports.gating import run_gate_outcome

        keep = ("id", "name", "kind", "status", "gates_passed", "created_at", "duration_s", "tags", "sweep")
        click.echo(json.dumps([{k: r.get(k) for k in keep} | {"gates": run_gate_outcome(r),
                                                               "model": (r.get("model") or {}).get("name"),
                                                               "accelerator": _accelerator(r),
                                                               "host": (r.get("environment") or {}).get("host")}
                               for r in records], indent=2))
        return
    if not records:
        click.echo(f"no runs of sweep {sweep_id} in {store.location}" if sweep_id else f"no runs in {store.location}")
        return
    if columns:
        cols = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in cols if c not in RUN_COLUMNS and "/" not in c]
        if unknown:
            fail(f"--columns: unknown column(s) {', '.join(unknown)}; choose from {', '.join(RUN_COLUMNS)} "
                 "or a metric written suite/metric")
    else:
        cols = list(DEFAULT_COLUMNS) + (["point"] if sweep_id else []) + headline_metrics(records)
    click.echo(_table([[run_cell(r, c) for c in cols] for r in records], cols))
    stopped = [r["id"] for r in records if r.get("status") in ("incomplete", "failed") and r.get("recipe")]
    for run_id in stopped:  # killed (incomplete: no run.json) or failed: both can continue
        click.echo(f"resume {run_id}: harness resume {run_id}"
                   + ("  (unless it is still running)" if next(r for r in records if r["id"] == run_id)
                      ["status"] == "incomplete" else ""))


@click.command()
@click.argument("run_ref", metavar="RUN")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also show per-category and redundant metric rows.")
def show(run_ref, store, as_json, show_all):
    """Show one run (an id, an id prefix, a run name or 'latest')."""
    from ..store.local import RunNotFound

    try:
        record = store.load(run_ref)
    except RunNotFound as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    click.echo(format_record(record, own_comparison(record, store), show_all=show_all))


def own_comparison(record: dict, store):
    """A run's before vs after, paired (None for an eval-only or unreadable run)."""
    from ..verdicts.compare import CompareError, compare_records

    if not ((record.get("metrics") or {}).get("after") and (record.get("metrics") or {}).get("before")):
        return None
    try:
        return compare_records(record, store.samples(record["id"], "before"), record,
                               store.samples(record["id"], "after"), phase_a="before", phase_b="after")
    except (CompareError, OSError, ValueError):
        return None


@click.group()
def cache():
    """The evaluation cache (results keyed by model weights, items and settings)."""


@cache.command(name="info")
def cache_info():
    """Where the cache is and how many results it holds."""
    from ..store.cache import EvalCache

    c = EvalCache()
    click.echo(f"{c.root}: {c.size()} cached evaluation(s)")


@cache.command(name="clear")
def cache_clear():
    """Delete every cached evaluation result."""
    from ..store.cache import EvalCache

    c = EvalCache()
    click.echo(f"removed {c.clear()} cached evaluation(s) from {c.root}")


@click.command()
@click.argument("run_ref", metavar="RUN")
@store_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Archive path (default RUN_ID.tar.gz).")
def pack(run_ref, store, output):
    """Pack one finished run into a single .tar.gz (to move it to another store)."""
    from ..store.local import RunNotFound
    from ..store.packing import PackError, pack_run

    try:
        click.echo(pack_run(store, run_ref, output))
    except (PackError, RunNotFound) as exc:
        fail(str(exc))


@click.command()
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@store_option
def unpack(archives, store):
    """Add packed runs (from `harness pack`) to the store; never overwrites a run."""
    from ..store.packing import PackError
    from ..store.packing import unpack as unpack_archive

    failed = False
    for archive in archives:
        try:
            done = unpack_archive(store, archive)
            click.echo(f"{archive} -> {store.run_location(done.run_id)}" if done.added else
                       f"{archive}: run {done.run_id} is already in {store.location} with identical content; "
                       "nothing to do")
        except PackError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
    if failed:
        raise SystemExit(2)
