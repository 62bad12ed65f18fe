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


#: every built-in command: name -> (module in this package, attribute). A command's module is
#: imported when that command runs or a help page lists it, so `harness plugins` does not import
#: the code of `harness run`, `compare`, `sweep` ...
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run_cmd", "run"), "eval": ("run_cmd", "eval_"), "validate": ("run_cmd", "validate"),
    "resume": ("run_cmd", "resume"), "plan": ("plan_cmd", "plan"),
    "plugins": ("plugins_cmd", "plugins"),
    "runs": ("runs_cmd", "runs"), "show": ("runs_cmd", "show"), "cache": ("runs_cmd", "cache"),
    "pack": ("runs_cmd", "pack"), "unpack": ("runs_cmd", "unpack"),
    "compare": ("compare_cmd", "compare"), "gate": ("compare_cmd", "gate"), "report": ("report_cmd", "report"),
    "dashboard": ("dashboard_cmd", "dashboard"), "recipes": ("recipes_cmd", "recipes"),
    "export-results": ("results_cmd", "export_results"), "store": ("store_cmd", "store_group"),
    "export": ("export_cmd", "export"), "sweep": ("sweep_cmd", "sweep"), "submit": ("sweep_cmd", "submit"),
    "select": ("select_cmd", "select"),
}


class HarnessGroup(click.Group):
    """The top-level group: built-in commands are resolved by name on first use; plugins'
    commands (``register_commands``) are added as usual."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(BUILTIN_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN_COMMANDS and cmd_name not in self.commands:
            self.add_command(_builtin(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


def _builtin(name: str) -> click.Command:
    import importlib

    module, attr = BUILTIN_COMMANDS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    """Register every built-in command now (what the group otherwise does on first use)."""
    for name in BUILTIN_COMMANDS:
        if name not in cli.commands:
            cli.add_command(_builtin(name), name)


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
