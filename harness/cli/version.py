"""``harness --version``: the harness's version and the ML libraries it finds.

Versions come from installed distributions' metadata (``importlib.metadata``):
nothing is imported, so this stays as fast as ``harness --help``.
"""

from __future__ import annotations

import platform

import click


def version_text() -> str:
    from .. import __version__
    from ..run.environment import library_versions

    found = library_versions()
    found.pop("posttrain-harness", None)
    lines = [f"harness (posttrain-harness) {__version__}, Python {platform.python_version()}"]
    lines += [f"  {name:<13} {version}" for name, version in found.items()]
    return "\n".join(lines)


def print_version(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit()


version_option = click.option("--version", is_flag=True, expose_value=False, is_eager=True,
                              callback=print_version, help="Show the version and the ML libraries found, then exit.")
