"""The ``harness`` command line. Each subcommand lives in its own module here;
plugins add more through the ``register_commands(cli)`` hook.

Importing this package must stay light (no torch): heavy imports happen inside
the command functions.
"""

from __future__ import annotations

import sys

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """Evaluate a model, post-train it, evaluate again, compare paired, gate, record.

    \b
    Exit codes: 0 success / all gates passed, 1 a gate failed,
                2 the run could not be done (bad recipe, missing plugin, crashed stage).
    """


def _add_builtin_commands() -> None:
    from . import compare_cmd, dashboard_cmd, export_cmd, plugins_cmd, run_cmd, runs_cmd

    for module in (run_cmd, plugins_cmd, runs_cmd, compare_cmd, dashboard_cmd, export_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


def _add_plugin_commands() -> None:
    from ..plugins import get_host

    try:
        host = get_host()
    except Exception as exc:  # strict mode: report, keep the built-in commands usable
        click.echo(f"harness: {exc}", err=True)
        return
    host.hook.register_commands(cli=cli)


def main(argv: list[str] | None = None) -> int:
    _add_builtin_commands()
    _add_plugin_commands()
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
