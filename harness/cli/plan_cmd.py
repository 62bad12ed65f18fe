"""``harness plan``: per gate, the items it has, the items it needs, and what getting them costs."""

from __future__ import annotations

import json

import click

from ._common import fail


def _cost(have: int | None, need: int | None, available: int | None) -> str:
    """``ok``, ``+131`` or ``+131: more than the task has (250)``."""
    if need is None or have is None:
        return "—"
    if have >= need:
        return "ok"
    text = f"+{need - have}"
    if available is not None and need > available:
        text += f": more than the task has ({available} in this split)"
    return text


def _row(g) -> dict[str, str]:
    change = g.rule in ("max_drop", "max_increase")
    return {
        "gate": g.metric, "rule": g.rule, "bound": f"{g.threshold:g}",
        "n": "unknown" if g.n is None else str(g.n),
        "±zero": f"{g.half_width_zero:.4f}" if g.half_width_zero is not None else "—",
        "MDE@f": f"{g.mde:.4f}" if g.mde is not None else "—",
        "needs (unchanged)" if change else "needs": "—" if g.n_zero is None else str(g.n_zero),
        "needs (power)": "—" if g.n_power is None else str(g.n_power),
        "cost (unchanged)": _cost(g.n, g.n_zero, g.available),
        "cost (power)": _cost(g.n, g.n_power, g.available),
        "status": g.status,
    }


def format_plan(report, *, flip_rate: float, power: float) -> str:
    """The readable table, one line per gate rule, then what the columns mean."""
    rows = [_row(g) for g in report.gates]
    cols = ["gate", "rule", "bound", "n", "±zero", "MDE@f", "needs (unchanged)", "needs (power)",
            "cost (unchanged)", "cost (power)", "status"]
    for r in rows:  # value gates say "needs" for their one count
        if "needs" in r:
            r["needs (unchanged)"] = r.pop("needs")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip(),
             "  ".join("-" * widths[c] for c in cols)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols).rstrip() for r in rows]
    lines += ["",
              "n: items the gate's metric will be scored on (after split and limit). ±zero: the paired interval's "
              "half-width with zero flips.",
              f"MDE@f: minimum detectable change at flip rate f = {flip_rate:g} (half the flipped items up, half "
              f"down) and power {power:.0%}.",
              "needs (unchanged): items for an unchanged model to pass (value gates: for a perfect score to pass); "
              f"needs (power): items for {power:.0%} power at f.",
              "cost: items to add; 'more than the task has' when the evaluator's data in this split (no limit) "
              "cannot provide them."]
    for g in report.gates:
        if g.status in ("undecidable", "underpowered", "unknown", "superiority"):
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


COMMANDS = [plan]
