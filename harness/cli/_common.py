"""Shared CLI bits: exit codes, the --store option, error exit."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_ERROR = 2


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _store(ctx, param, value):
    from ..errors import StoreError
    from ..store.local import Store

    try:
        return Store(value)
    except StoreError as exc:  # a URL fsspec cannot open, bad $HARNESS_STORE_OPTIONS
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


store_option = click.option("--store", envvar="HARNESS_STORE", default=None, callback=_store,
                            help="Run store: a folder or an fsspec URL such as s3://bucket/runs "
                                 "(default: $HARNESS_STORE or ./runs).")
