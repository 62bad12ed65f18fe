"""``harness report RUN [RUN_B] --html FILE``: the comparison as one self-contained HTML file."""

from __future__ import annotations

import click

from ._common import fail, store_option


@click.command("report")
@click.argument("run_a")
@click.argument("run_b", required=False)
@store_option
@click.option("--html", "html_path", required=True, type=click.Path(dir_okay=False),
              help="Write the report here (one file: no network, no script).")
@click.option("--force", "allow_mismatch", is_flag=True,
              help="Compare even if what is measured differs (items, suite version, generation settings).")
@click.option("--flips", "flip_limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Flipped items shown per metric.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the paired bootstrap.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Confidence level of the interval on the difference.")
def report(run_a: str, run_b: str | None, store, html_path: str, allow_mismatch: bool, flip_limit: int,
           seed: int, confidence: float) -> None:
    """Write RUN's before → after (or RUN_B against RUN) as a static HTML report.

    \b
    The file holds the verdict per concern, the forest plot of B − A with the
    gate bounds, the metric table, gates (verdict, adjusted confidence, MDE),
    the checkpoint table of an evaluate_every stage, flipped items and training
    curves; attach it to a pull request or upload it as a CI artefact.
    """
    from ..reports import curves
    from ..reports.gating import comparison_gates, comparison_gating
    from ..reports.html import render_html, write_html
    from ..reports.render import rows_for
    from ..store.local import RunNotFound
    from ..verdicts.compare import CompareError, compare_runs, flipped_items

    try:
        comp = compare_runs(store, run_a, run_b, seed=seed, confidence=confidence, allow_mismatch=allow_mismatch)
        rec_a = store.load(comp.a["id"])
        rec_b = rec_a if comp.b["id"] == comp.a["id"] else store.load(comp.b["id"])
    except (RunNotFound, CompareError) as exc:
        fail(str(exc))
    gates = [g.to_dict() if hasattr(g, "to_dict") else dict(g) for g in comparison_gates(store, comp, rec_a, rec_b)]
    rows = rows_for(comp, gates, rec_a, rec_b)
    flips = {}
    for r in rows:
        if r.headline and r.n and (r.improved or r.regressed):
            flips[r.metric] = flipped_items(comp, r.metric)
    panels: dict = {}
    sides = [("", rec_b)] if rec_a is rec_b else [("A ", rec_a), ("B ", rec_b)]
    for prefix, rec in sides:
        logs = curves.training_logs(store.logs_dir(rec), rec)
        for panel, series in curves.series(logs, prefix).items():
            panels.setdefault(panel, {}).update(series)
    same = rec_a is rec_b
    title = (f"{rec_b.get('name')}: before → after" if same
             else f"{rec_b.get('name')} ({rec_b['id']}) vs {rec_a.get('name')} ({rec_a['id']})")
    label = ("gates of the run's recipe, as recorded" if same
             else "B's recipe gates, judged with A as the baseline")
    text = render_html(comp, rows, title=title, gates=gates, gates_label=label, flips=flips, curves=panels,
                       flip_limit=flip_limit, gating=comparison_gating(rec_a, rec_b, gates),
                       checkpoint_records=[rec for _, rec in sides])
    click.echo(write_html(html_path, text))
