"""``harness plugins new``: scaffold a plugin package (see :mod:`harness.contract.scaffold`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="new")
@click.argument("name")
@click.option("--hooks", help="Comma-separated: evaluator, filter, data, trainer, model, reporter, command "
                              "(default: evaluator).")
@click.option("--path", "dest", type=click.Path(path_type=Path),
              help="Folder to write (default: ./NAME). Must not exist or be empty.")
def new(name, hooks, dest):
    """Write a new plugin package NAME: pyproject with the entry point, a module per hook, tests, README."""
    from ..contract.scaffold import ScaffoldError, parse_hooks, render, write_plugin

    try:
        chosen = parse_hooks(hooks)
        render(name, chosen)  # validates the name before anything is written
        dest = dest or Path(name)
        written = write_plugin(name, dest, chosen)
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {len(written)} files to {dest}/")
    click.echo(f"next:  pip install -e \"{dest}[test]\"   # then `harness plugins` lists it")
    click.echo(f"       python -m pytest {dest}/tests")
