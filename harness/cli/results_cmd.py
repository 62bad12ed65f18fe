"""``harness export-results``: a stored run's scores in lm-eval's, Every Eval Ever's, the Hub's or inspect_ai's format.

Exit codes: 0 written, 2 could not be done (unknown run, no metrics for the phase).
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import fail, store_option


@click.command("export-results")
@click.argument("run")
@click.option("--format", "fmt", type=click.Choice(["lm-eval", "eee", "model-index", "inspect"]),
              required=True, help="lm-eval: a results_*.json; eee: an Every Eval Ever record; model-index: Hub "
                                  "YAML; inspect: one inspect_ai .eval log per suite and phase (for `inspect view`).")
@click.option("--phase", type=click.Choice(["before", "after"]), default=None,
              help="Which evaluation to export (default: the final one, 'after' if the run trained).")
@click.option("-o", "--output", "--out", type=click.Path(dir_okay=True, path_type=Path), default=None,
              help="File to write (a folder: lm-eval's results_<date>.json inside it); default stdout. "
                   "inspect: the folder for its logs (default $INSPECT_LOG_DIR, else ./logs).")
@store_option
def export_results(run: str, fmt: str, phase: str | None, output: Path | None, store) -> None:
    """Write RUN's metrics (id, unique prefix, run name or `latest`) in another tool's format."""
    from ..reports.results_formats import ExportError, dump, export

    try:
        record = store.load(run)
    except (KeyError, LookupError, FileNotFoundError, ValueError) as exc:
        fail(f"{exc}; list runs with `harness runs`")
    if fmt == "inspect":
        _export_inspect(store, record, output, phase)
        return
    try:
        doc = export(record, fmt, phase)
    except ExportError as exc:
        fail(str(exc))
    text = dump(doc, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    if output.is_dir() or str(output).endswith("/"):
        # lm-eval names its files results_<ISO time with '-' for ':'>.json; its readers parse that
        stamp = str(record.get("finished_at") or record.get("created_at") or "").rstrip("Z").replace(":", "-")
        name = {"lm-eval": f"results_{stamp}.json", "eee": f"{record.get('id')}.json",
                "model-index": "model-index.yaml"}[fmt]
        output = output / name
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {fmt} results of {record['id']} to {output}", err=True)


def _export_inspect(store, record: dict, output: Path | None, phase: str | None) -> None:
    from ..reports.inspect_log import write_inspect_logs
    from ..reports.results_formats import ExportError

    def samples(ph: str) -> list[dict]:
        try:
            return store.samples(record["id"], ph)
        except FileNotFoundError:  # a run stored without per-item rows: the logs hold its metrics only
            return []

    try:
        paths = write_inspect_logs(record, samples, output, phase)
    except ExportError as exc:
        fail(str(exc))
    for path in paths:
        click.echo(str(path))
    where = paths[0].parent if paths else output
    click.echo(f"wrote {len(paths)} inspect log(s) of {record['id']} to {where}; view them with "
               f"`inspect view --log-dir {where}`", err=True)
