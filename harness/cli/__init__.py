"""The ``harness`` command line. Each subcommand lives in its own module here;
plugins add more through the ``register_commands(cli)`` hook.

Importing this package must stay light (no torch): heavy imports happen inside
the command functions.

One rule for exit codes: 0 passed, 1 a gate failed, 2 anything else. A
:class:`harness.errors.HarnessError` prints its message alone; any other
exception is a bug and prints one line naming it. ``--debug`` (or
``HARNESS_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from ..errors import HarnessError
from ._common import EXIT_ERROR
from .version import version_option


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("HARNESS_DEBUG", "") not in ("", "0")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@click.option("--debug", is_flag=True, help="Show tracebacks (also HARNESS_DEBUG=1).")
def cli(debug: bool) -> None:
    """Evaluate a model, post-train it, evaluate again, compare paired, gate, record.

    \b
    Exit codes: 0 success / all gates passed, 1 a gate failed,
                2 the run could not be done (bad recipe, missing plugin, crashed stage,
                  a raising lifecycle hook, a failed required reporter).
    """


def _add_builtin_commands() -> None:
    from . import (
        compare_cmd,
        dashboard_cmd,
        export_cmd,
        plan_cmd,
        plugins_cmd,
        plugins_new_cmd,
        recipes_cmd,
        report_cmd,
        results_cmd,
        run_cmd,
        runs_cmd,
        select_cmd,
        store_cmd,
        sweep_cmd,
    )

    for module in (run_cmd, plugins_cmd, runs_cmd, compare_cmd, report_cmd, dashboard_cmd, recipes_cmd, results_cmd,
                   store_cmd, export_cmd, sweep_cmd, select_cmd, plan_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)
    plugins_cmd.plugins.add_command(plugins_new_cmd.new)


def _add_plugin_commands() -> None:
    from ..contract.plugins import get_host

    try:
        host = get_host()
    except HarnessError as exc:  # strict mode: report, keep the built-in commands usable
        click.echo(f"harness: {exc}", err=True)
        return
    for failure in host.call_each("register_commands", cli=cli):
        click.echo(f"harness: {failure} (its commands are missing)", err=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    _add_builtin_commands()
    _add_plugin_commands()
    try:
        cli.main(args=args, prog_name="harness", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
    except HarnessError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if debug:
            traceback.print_exc()
        click.echo(f"error: internal error {type(exc).__name__}: {exc} "
                   "(rerun with --debug for the traceback, and please report it)", err=True)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
