"""``harness recipes``: list the bundled recipes, copy one to edit."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
@click.pass_context
def recipes(ctx, as_json):
    """List the bundled recipes: name, what it does, what it costs on a CPU.

    \b
    Run one by name from any folder:  harness run quickstart
    Copy one to edit it:              harness recipes copy quickstart my-recipe.toml
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..run.bundled_recipes import bundled_recipes

    found = bundled_recipes()
    if as_json:
        click.echo(json.dumps([{"name": r.name, "description": r.description, "cost": r.cost,
                                "path": str(r.path)} for r in found.values()], indent=2))
        return
    width = max((len(n) for n in found), default=0)
    for r in found.values():
        click.echo(f"{r.name:<{width}}  {r.description}")
        click.echo(f"{'':<{width}}  cost: {r.cost or 'not stated'}")


@recipes.command(name="copy")
@click.argument("name")
@click.argument("dest", type=click.Path(path_type=Path), default=Path("."))
@click.option("--force", is_flag=True, help="Replace files that already exist.")
def copy_cmd(name, dest, force):
    """Copy bundled recipe NAME to DEST (a .toml file or a folder), with the data it reads."""
    from ..run.bundled_recipes import CopyError, copy_recipe

    try:
        written = copy_recipe(name, dest, force=force)
    except CopyError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {written[0]}" + (f" and {len(written) - 1} data file(s) beside it" if len(written) > 1 else ""))
    click.echo(f"run it: harness run {written[0]}")
