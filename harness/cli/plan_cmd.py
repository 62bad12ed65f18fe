"""``harness plan``: per gate, the items it has, the items it needs, and what getting them costs."""

from __future__ import annotations

import json

import click

from ._common import fail


def _cost(g) -> str:
    """Items to add for each need: ``—`` (enough), ``+0 / +241`` or ``+131 / +7662: more than the task has (250)``."""
    if g.n is None:
        return "unknown n"
    needs = [x for x in (g.n_zero, g.n_power) if x is not None]
    if not needs or all(g.n >= x for x in needs):
        return "—"
    text = " / ".join(f"+{max(0, x - g.n)}" for x in needs)
    if g.available is not None and max(needs) > g.available:
        text += f": more than the task has ({g.available} in this split)"
    return text


COLUMNS = ["gate", "rule", "bound", "n", "±0 flips", "MDE@f", "needs: unchanged", "80% power", "to add", "status"]


def _row(g) -> list[str]:
    return [g.metric, g.rule, f"{g.threshold:g}", "unknown" if g.n is None else str(g.n),
            f"{g.half_width_zero:.4f}" if g.half_width_zero is not None else "—",
            f"{g.mde:.4f}" if g.mde is not None else "—",
            "—" if g.n_zero is None else str(g.n_zero), "—" if g.n_power is None else str(g.n_power),
            _cost(g), g.status]


def format_plan(report, *, flip_rate: float, power: float) -> str:
    """The readable table, one line per gate rule, then what the columns mean and each finding."""
    rows = [_row(g) for g in report.gates]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    lines += ["",
              "n: items the gate's metric will be scored on (after split and limit); ±0 flips: the paired "
              "interval's half-width when no item changes.",
              f"MDE@f: the smallest change detected with power {power:.0%} when a share f = {flip_rate:g} of "
              "the items flips, half up and half down.",
              f"needs: items for an unchanged model to pass (min/max: for a perfect score to pass), and for "
              f"{power:.0%} power at f; to add: the items each need adds,",
              "'more than the task has' when the evaluator's data in this split (without limit) cannot "
              "provide them."]
    for g in report.gates:
        if g.status != "ok":
            lines.append(f"{g.status}: {g.metric} {g.rule}: {g.message}")
    return "\n".join(lines)


@click.command(name="plan")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--flip-rate", type=click.FloatRange(0, 1, min_open=True),
              help="Share of paired items assumed to change (default: the recipe's [gates] flip_rate, 0.1).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key (as in run).")
@click.option("--json", "as_json", is_flag=True, help="Print the sizing as JSON.")
@click.option("--strict", is_flag=True, envvar="HARNESS_STRICT_PLUGINS")
def plan(recipe, flip_rate, overrides, as_json, strict):
    """Size a recipe's gates before running it: per gate, the items it has, the items it needs
    (to pass unchanged and for 80% power at the flip rate), and the cost of getting them."""
    from ..run.recipe import RecipeError, check_recipe, load_recipe, power_report
    from .run_cmd import _host

    host = _host(strict)
    try:
        loaded = load_recipe(recipe, overrides)
        check_recipe(loaded, host, power=False)  # the plan shows undecidable gates instead of refusing them
    except RecipeError as exc:
        fail(str(exc))
    r = loaded.recipe
    evaluators = []
    for i, e in enumerate(r.evaluate):
        evaluators.append((f"evaluate[{i}]", host.resolve("evaluator", e.evaluator), e.params()))
    f = r.power_check.flip_rate if flip_rate is None else flip_rate
    report = power_report(r, evaluators, flip_rate=f)
    if as_json:
        click.echo(json.dumps({"recipe": recipe, "flip_rate": f, "power": r.gating.power,
                               "allow_undecidable": r.power_check.allow_undecidable, **report.to_dict()}, indent=2))
        return
    if not report.gates:
        click.echo(f"{recipe}: no gates to size")
        return
    click.echo(format_plan(report, flip_rate=f, power=r.gating.power))
