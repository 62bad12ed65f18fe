"""``harness sweep`` (a grid of --set overrides) and ``harness submit`` (a list of recipes)."""

from __future__ import annotations

import sys

import click

from ._common import fail, store_option
from .run_cmd import set_option

_executor_options = [
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="local: the points one after another in this process; ray: one Ray task per point."),
    click.option("--address", help="Ray cluster to submit to (ray://HOST:10001, auto); default: the local "
                                   "Ray, started for the sweep. The store must be reachable at the same path "
                                   "from every node."),
    click.option("--gpus-per-run", type=float, default=None, help="GPUs each Ray task asks for (default 0)."),
    click.option("--no-cache", is_flag=True, help="Do not read or write the evaluation cache."),
    click.option("-v", "--verbose", count=True, help="Show library output (local executor)."),
]


def executor_options(fn):
    for opt in reversed(_executor_options):
        fn = opt(fn)
    return fn


def _go(points, store, executor, address, gpus_per_run, no_cache, verbose, what: str) -> None:
    from .. import console
    from ..run.sweep import SweepError, exit_code, new_sweep_id, run_points, table

    if executor == "local" and (address or gpus_per_run):
        fail(f"--{'address' if address else 'gpus-per-run'} needs --executor ray")
    console.configure(console.VERBOSE if verbose else console.QUIET)
    sweep_id = new_sweep_id()
    click.echo(f"sweep {sweep_id}: {len(points)} {what} on the {executor} executor → {store.location}", err=True)

    def done(o) -> None:
        click.echo(f"  point {o.point.index}: {o.status}" + (f" ({o.run_id})" if o.run_id else "")
                   + (f": {o.error.splitlines()[0]}" if o.error else ""), err=True)

    extra = {"address": address, "gpus_per_run": gpus_per_run}  # refused by the local executor
    try:
        outcomes = run_points(points, store.location, sweep_id, executor=executor, use_cache=not no_cache,
                              on_done=done, **{k: v for k, v in extra.items() if v is not None})
    except SweepError as exc:
        fail(str(exc))
    click.echo(table(outcomes))
    counts = {c: sum(o.code == c for o in outcomes) for c in (0, 1, 2)}
    click.echo(f"\nsweep {sweep_id}: {counts[0]} passed, {counts[1]} gate failed, {counts[2]} could not run"
               f"  ·  harness runs --sweep {sweep_id}")
    sys.exit(exit_code(outcomes))


@click.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2,...",
              help="A recipe key (dotted path, as --set) and its values (TOML, comma-separated; commas inside "
                   "[...] stay). Repeat for more keys: every combination runs.")
@set_option
@store_option
@executor_options
def sweep(recipe, grid, overrides, store, executor, address, gpus_per_run, no_cache, verbose):
    """Run a recipe at every point of a grid, each point an ordinary run tagged sweep:<id>.

    \b
    Exit codes: 0 every point ran and passed its gates, 1 some gate failed,
                2 some point could not run (bad value, crashed stage, lost task).
    """
    from ..run.sweep import SweepError, expand, parse_grid

    try:
        points = expand(recipe, parse_grid(grid), overrides)
    except SweepError as exc:
        fail(str(exc))
    _go(points, store, executor, address, gpus_per_run, no_cache, verbose, "points")


@click.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@set_option
@store_option
@executor_options
def submit(recipes, overrides, store, executor, address, gpus_per_run, no_cache, verbose):
    """Run several recipes as one sweep (one Ray task each with --executor ray)."""
    from ..run.sweep import recipe_points

    _go(recipe_points(recipes, overrides), store, executor, address, gpus_per_run, no_cache, verbose, "recipes")
