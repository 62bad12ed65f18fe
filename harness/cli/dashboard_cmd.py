"""``harness dashboard``: start the Streamlit dashboard on a store.

The app (``dashboards/app.py`` in the repository) ships as the package
``harness_dashboard`` and is found with importlib.resources, so an installed wheel
and a checkout run the same app. Streamlit is imported only by the child process.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import click


def app_path() -> Path:
    from ..resources import dashboard_app

    return dashboard_app()


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
            "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false"]


@click.command("dashboard")
@click.option("--store", "store", default=None,
              help="Run store to show: a folder or an fsspec URL such as s3://bucket/runs "
                   "(default: $HARNESS_STORE or ./runs).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 0.0.0.0 exposes the dashboard to the network.")
def dashboard(store: str | None, port: int, host: str) -> None:
    """Open the Streamlit dashboard: runs, paired comparisons, flipped items, records."""
    try:
        app = app_path()
    except ModuleNotFoundError:
        app = None
    if app is None or not app.is_file():
        raise click.ClickException(
            f"dashboard app not found ({app or 'no package harness_dashboard'}): this installation of "
            "posttrain-harness is incomplete; reinstall it: pip install --force-reinstall 'posttrain-harness[dashboard]'")
    if importlib.util.find_spec("streamlit") is None:
        raise click.ClickException("streamlit is not installed: pip install 'posttrain-harness[dashboard]'")
    from ..store.local import is_remote_url
    from ..store.remote import redact

    env = dict(os.environ)
    given = store if store is not None else env.get("HARNESS_STORE") or "runs"
    if is_remote_url(given):  # read through fsspec by the app itself
        env["HARNESS_STORE"] = given
        click.echo(f"dashboard for store {redact(given)} at http://{host}:{port}", err=True)
        sys.exit(_run_forwarding_signals(streamlit_command(app, host, port), env))
    root = Path(given.split("://", 1)[1] if "://" in given else given).expanduser().resolve()
    env["HARNESS_STORE"] = str(root)
    if root.exists() and not root.is_dir():
        raise click.BadParameter(f"{root} is a file, not a store folder", param_hint="'--store'")
    if not root.is_dir():
        click.echo(f"note: store {root} does not exist yet; the dashboard will show it empty", err=True)
    click.echo(f"dashboard for store {root} at http://{host}:{port}", err=True)
    sys.exit(_run_forwarding_signals(streamlit_command(app, host, port), env))


def _run_forwarding_signals(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd``; a SIGTERM to this process is passed on, so no server is left orphaned."""
    proc = subprocess.Popen(cmd, env=env)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the child too; wait for it to stop
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
