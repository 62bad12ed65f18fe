"""``harness store check [--fix]``: find damaged runs and set them aside."""

from __future__ import annotations

import json
import sys

import click

from ._common import EXIT_ERROR, EXIT_OK, fail, store_option


@click.group(name="store")
def store_group():
    """Look after the run store (damaged and unfinished runs, a remote store's index)."""


@store_group.command(name="check")
@store_option
@click.option("--fix", is_flag=True,
              help="Move corrupt, dead incomplete and duplicate-id runs to quarantine/ (never deletes a run) "
                   "and remove temp files of interrupted writes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(store, fix, as_json):
    """Report corrupt, incomplete and duplicate-id runs. Exit 0 when the store is clean (or was fixed)."""
    from ..store.check import check_store, fix_store

    if fix and store.is_remote:
        fail(f"--fix works on a local store only; {store.location} is remote (rebuild its index with "
             "`harness store reindex`; move a damaged run aside with your storage's own tools)")
    report = check_store(store)
    if fix:
        report = fix_store(store, report)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"{report.root}: {report.runs} run(s), {report.ok} ok, {len(report.problems)} problem(s)")
        for p in report.problems:
            click.echo(f"  {p.kind:<10} {p.run_id}: {p.reason}")
        for path in report.leftovers:
            click.echo(f"  leftover   {path}")
        for run_id in report.moved:
            click.echo(f"  moved      {run_id} -> quarantine/{run_id}")
        if report.removed:
            click.echo(f"  removed {len(report.removed)} leftover temp file(s)/folder(s)")
        if (report.problems or report.leftovers) and not fix:
            click.echo("fix: harness store check --fix  (moves damaged runs to quarantine/, deletes nothing)")
    damaged = [p for p in report.problems if not p.running]  # a run in progress is not a problem
    if fix:
        damaged = [p for p in damaged if p.run_id not in report.moved]
    sys.exit(EXIT_ERROR if damaged or (report.leftovers and not fix) else EXIT_OK)

@store_group.command(name="reindex")
@store_option
def reindex(store):
    """Rebuild a remote store's index (index/<run>.json) from every run.json; drop stale entries."""
    if not store.is_remote:
        click.echo(f"{store.location}: a local store has no index (listing reads the run folders); nothing to do")
        return
    written, removed = store.reindex()
    click.echo(f"{store.location}: {written} index entr{'y' if written == 1 else 'ies'} written, "
               f"{removed} stale removed")
