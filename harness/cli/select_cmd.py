"""``harness select SWEEP``: choose a sweep's run by the ``[select]`` rule on the runs' dev metrics.

Each run contributes the checkpoint its own ``[select]`` kept (dev metrics and the gates'
verdicts on dev, from its checkpoint table); the rule then picks among the runs. Exit codes:
0 a run was chosen, 1 none passes, 2 bad input (unknown sweep, no run with dev metrics, a bad option).
"""

from __future__ import annotations

import json

import click

from ._common import EXIT_GATE_FAILED, fail, store_option


@click.command("select")
@click.argument("sweep_id")
@click.option("--rule", type=click.Choice(["gates", "metric"]), default=None,
              help="default: the runs' own [select] rule")
@click.option("--prefer", type=click.Choice(["earliest", "best"]), default=None)
@click.option("--metric", default=None, help="suite/metric to rank by (prefer best, or rule metric)")
@click.option("--mode", type=click.Choice(["max", "min"]), default=None,
              help="default: the metric's good direction")
@click.option("--on-inconclusive", type=click.Choice(["pass", "fail"]), default=None,
              help="what a gate inconclusive on dev counts as (default: as each run's own [select] judged it)")
@click.option("--json", "as_json", is_flag=True, help="print the points and the choice as JSON")
@store_option
def select(sweep_id, rule, prefer, metric, mode, on_inconclusive, as_json, store):
    """Choose the run of sweep SWEEP_ID whose dev metrics pass the gates (earliest, or best on a metric).

    Selection reads dev metrics only (the checkpoint tables of `evaluate_every` stages);
    the chosen run's test verdict is its own gates.
    """
    from pydantic import ValidationError

    from ..reports.checkpoints import metric_cell
    from ..verdicts.selection import SELECTION_NOTE, SelectSpec, choose, sweep_points

    points, skipped, recorded = sweep_points(list(store.iter_records()), sweep_id, on_inconclusive)
    if not points and not skipped:
        fail(f"no run of sweep '{sweep_id}' in {store.root} (the sweep id is printed by `harness sweep` and kept "
             f"as the tag sweep:<id>)")
    if not points:
        fail(f"no run of sweep '{sweep_id}' has dev metrics: " + "; ".join(f"{s['run']}: {s['reason']}" for s in skipped))
    given = {k: v for k, v in (("rule", rule), ("prefer", prefer), ("metric", metric), ("mode", mode)) if v}
    table = given or {k: v for k, v in (recorded or {}).items() if k != "on_none"}
    try:
        spec = SelectSpec.model_validate({**table, **({"on_inconclusive": on_inconclusive} if on_inconclusive else {})})
    except ValidationError as exc:
        fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))
    has_gates = any(p.passed is not None for p in points)
    try:
        choice = choose(points, spec, has_gates=has_gates, noun="run")
    except ValueError as exc:
        fail(str(exc))
    chosen = choice.point.label if choice.point else None
    if as_json:
        click.echo(json.dumps({"sweep": sweep_id, "rule": spec.model_dump(), "chosen": chosen, "reason": choice.reason,
                               "note": SELECTION_NOTE,
                               "points": [{"run": p.label, **p.extra, "passed": p.passed, "metrics": p.metrics}
                                          for p in points], "skipped": skipped}, indent=2, default=str))
    else:
        names = sorted({g["metric"] for p in points for g in p.extra["gates"]} | ({spec.metric} if spec.metric else set()))
        rows = [["→" if p.label == chosen else "", p.label, " ".join(f"{k}={v}" for k, v in p.extra["values"].items()),
                 str(p.extra["step"]), *[metric_cell(p.metrics.get(n)) for n in names],
                 "-" if p.passed is None else "pass" if p.passed else "no"] for p in points]
        headers = ["", "run", "sweep point", "step", *[f"{n} (dev)" for n in names], "gates on dev"]
        widths = [max(len(x) for x in col) for col in zip(headers, *rows)]
        for r in [headers, ["-" * w for w in widths], *rows]:
            click.echo("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip())
        for s in skipped:
            click.echo(f"skipped  {s['run']}: {s['reason']}")
        click.echo(f"chosen   {chosen or 'none'}: {choice.reason}")
        click.echo(f"Note: {SELECTION_NOTE}.")
    if chosen is None:
        raise SystemExit(EXIT_GATE_FAILED)
