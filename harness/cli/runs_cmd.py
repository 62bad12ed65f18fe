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


def format_record(record: dict) -> str:
    """A run as readable text: header, stages, metrics before → after, gates."""
    out = [f"run      {record.get('id')}  ({record.get('name')})",
           f"status   {record.get('status')}"
           + ("" if record.get("gates_passed") is None else
              f"  gates {'passed' if record['gates_passed'] else 'FAILED'}")]
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
    stages = record.get("stages") or []
    if stages:
        out += ["", _table([[s["name"], s["status"], f"{s.get('duration_s', 0):.1f}s",
                             "cached" if s.get("cached") else ""] for s in stages],
                           ["stage", "status", "time", ""])]
    for d in record.get("data") or []:
        filt = ", ".join(f"{f['filter']}:{f['action']} {f['flagged']} flagged" for f in d.get("filters", []))
        out.append(f"data     {d['name']}: {d['rows_in']} → {d.get('rows_out', '?')} rows"
                   + (f" ({filt})" if filt else ""))
    metrics = record.get("metrics") or {}
    before, after = metrics.get("before") or {}, metrics.get("after") or {}
    if before or after:
        rows = []
        for key in sorted(set(before) | set(after)):
            b, a = before.get(key), after.get(key)
            ref = a or b
            arrow = "↑" if ref.get("higher_is_better", True) else "↓"
            delta = f"{a['value'] - b['value']:+.3f}" if a and b and None not in (a["value"], b["value"]) else ""
            rows.append([key, arrow, _fmt(b), _fmt(a), delta])
        out += ["", _table(rows, ["metric", "good", "before", "after", "change"])]
    if record.get("gates"):
        out += ["", _table([["PASS" if g["passed"] else "FAIL", g["metric"], g["rule"], g["message"]]
                            for g in record["gates"]], ["gate", "metric", "rule", "detail"])]
    if record.get("error"):
        err = record["error"]
        out += ["", f"error in stage '{err.get('stage')}': {err.get('type')}: {err.get('message')}"]
    return "\n".join(out)


@click.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, with its id.")
@click.option("--limit", type=int, default=None, help="Show at most N runs.")
def runs(store, as_json, limit):
    """List stored runs, newest first."""
    records = list(store.iter_records())[:limit]
    if as_json:
        keep = ("id", "name", "kind", "status", "gates_passed", "created_at", "duration_s", "tags")
        click.echo(json.dumps([{k: r.get(k) for k in keep} | {"model": (r.get("model") or {}).get("name")}
                               for r in records], indent=2))
        return
    if not records:
        click.echo(f"no runs in {store.root}")
        return
    rows = []
    for r in records:
        gates = {None: "", True: "pass", False: "FAIL"}[r.get("gates_passed")]
        rows.append([r["id"], r.get("name") or "", r.get("status") or "", gates,
                     (r.get("model") or {}).get("name") or "",
                     f"{r['duration_s']:.0f}s" if r.get("duration_s") is not None else ""])
    click.echo(_table(rows, ["id", "name", "status", "gates", "model", "time"]))
    stopped = [r["id"] for r in records if r.get("status") in ("incomplete", "failed") and r.get("recipe")]
    for run_id in stopped:  # killed (incomplete: no run.json) or failed: both can continue
        click.echo(f"resume {run_id}: harness resume {run_id}"
                   + ("  (unless it is still running)" if next(r for r in records if r["id"] == run_id)
                      ["status"] == "incomplete" else ""))


@click.command()
@click.argument("run_ref", metavar="RUN")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
def show(run_ref, store, as_json):
    """Show one run (an id, an id prefix, a run name or 'latest')."""
    from ..store import RunNotFound

    try:
        record = store.load(run_ref)
    except RunNotFound as exc:
        fail(str(exc))
    click.echo(json.dumps(record, indent=2) if as_json else format_record(record))


@click.group()
def cache():
    """The evaluation cache (results keyed by model weights, items and settings)."""


@cache.command(name="info")
def cache_info():
    """Where the cache is and how many results it holds."""
    from ..cache import EvalCache

    c = EvalCache()
    click.echo(f"{c.root}: {c.size()} cached evaluation(s)")


@cache.command(name="clear")
def cache_clear():
    """Delete every cached evaluation result."""
    from ..cache import EvalCache

    c = EvalCache()
    click.echo(f"removed {c.clear()} cached evaluation(s) from {c.root}")


@click.command()
@click.argument("run_ref", metavar="RUN")
@store_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Archive path (default RUN_ID.tar.gz).")
def pack(run_ref, store, output):
    """Pack one finished run into a single .tar.gz (to move it to another store)."""
    from ..packing import PackError, pack_run
    from ..store import RunNotFound

    try:
        click.echo(pack_run(store, run_ref, output))
    except (PackError, RunNotFound) as exc:
        fail(str(exc))


@click.command()
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@store_option
def unpack(archives, store):
    """Add packed runs (from `harness pack`) to the store; never overwrites a run."""
    from ..packing import PackError, unpack_run

    failed = False
    for archive in archives:
        try:
            click.echo(f"{archive} -> {store.root / unpack_run(store, archive)}")
        except PackError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
    if failed:
        raise SystemExit(2)


COMMANDS = [runs, show, cache, pack, unpack]
