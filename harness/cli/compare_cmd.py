"""``harness compare`` (paired comparison of two evaluations) and ``harness gate``
(judge gates on a stored run without re-running anything).

Exit codes: 0 done / all gates passed, 1 a gate failed, 2 could not be done.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..reports.gating import comparison_gates, record_gates
from ._common import EXIT_GATE_FAILED, EXIT_OK, fail, store_option


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b", required=False)
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--markdown", is_flag=True, help="Print a markdown table.")
@click.option("--flips", metavar="METRIC", help="Also list the items whose METRIC score flipped.")
@click.option("--force", "--allow-mismatch", "allow_mismatch", is_flag=True,
              help="Compare even if what is measured differs (items, suite version, generation settings), "
                   "with warnings. Runs from other machines (device, dtype, host, library versions) "
                   "compare without it, under a banner saying what differs.")
@click.option("--all", "show_all", is_flag=True, help="Also show per-category rows and redundant complements "
              "(refusal_rate beside harmful_compliance).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the paired bootstrap.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Confidence level of the interval on the difference.")
@click.option("--n-boot", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Bootstrap resamples.")
def compare(run_a: str, run_b: str | None, store, as_json: bool, markdown: bool,
            flips: str | None, allow_mismatch: bool, show_all: bool, seed: int, confidence: float,
            n_boot: int) -> None:
    """Compare RUN_B against RUN_A item by item (or RUN_A's before against its after).

    \b
    Runs are ids, unique id prefixes, run names or `latest`. Each run's final
    evaluation is used ("after" if it trained, else "before"). The first line is
    the verdict per concern (capability, harm, over-refusal); then per metric:
    both means over the paired items, the difference B − A with a paired-bootstrap
    interval, McNemar's exact p for 0/1 scores, items improved/regressed, and
    the gates of B's recipe (judged against A).
    """
    from ..reports.metric_table import concern_verdicts
    from ..reports.render import markdown_lines, rows_for, text_lines
    from ..store.local import RunNotFound
    from ..verdicts.compare import CompareError, compare_runs, flipped_items

    try:
        comp = compare_runs(store, run_a, run_b, seed=seed, n_boot=n_boot, confidence=confidence,
                            allow_mismatch=allow_mismatch)
        flip_rows = flipped_items(comp, flips) if flips else None
        rec_a = store.load(comp.a["id"])
        rec_b = rec_a if comp.b["id"] == comp.a["id"] else store.load(comp.b["id"])
    except (RunNotFound, CompareError) as exc:
        fail(str(exc))
    except (KeyError, ValueError) as exc:
        fail(exc.args[0] if exc.args else str(exc))
    gates = comparison_gates(store, comp, rec_a, rec_b)
    rows = rows_for(comp, gates, rec_a, rec_b)
    if as_json:
        out: dict[str, Any] = comp.to_dict()
        out["verdicts"] = [v.to_dict() for v in concern_verdicts(rows)]
        out["rows"] = [r.to_dict() for r in rows]
        out["gates"] = [g.to_dict() if hasattr(g, "to_dict") else g for g in gates]
        if flips:
            out["flips"] = {"metric": flips, "items": flip_rows}
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    lines = (markdown_lines if markdown else text_lines)(comp, rows, show_all=show_all)
    click.echo("\n".join(lines))
    if flips and flip_rows is not None:
        click.echo(f"\nItems whose {flips} changed ({len(flip_rows)}):")
        for r in flip_rows:
            click.echo(f"\n[{r['direction']}] {r['suite']}/{r['item_id']}  {r['change']}")
            click.echo(f"  prompt: {_short(r['prompt'])}")
            click.echo(f"  A: {_short(r['output_a'])}")
            click.echo(f"  B: {_short(r['output_b'])}")


def _short(text: Any, n: int = 160) -> str:
    s = " ".join(str(text if text is not None else "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


# ------------------------------------------------------------------ gate


def recipe_gates(path: str | Path) -> dict[str, Any]:
    """The ``[gates]`` of a recipe file as GateSpecs.

    A full recipe is checked by the recipe loader; a file holding only a ``[gates]``
    table (a gate policy shared by several recipes) is read as such.
    """
    import tomllib

    from ..verdicts.gates import parse_gates_table

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    if set(data) - {"gates"}:
        try:
            from ..run.recipe import load_recipe
        except ImportError:  # pragma: no cover - the loader ships with the core
            load_recipe = None  # type: ignore[assignment]
        if load_recipe is not None:
            return parse_gates_table(dict(load_recipe(path).recipe.gates), where=f"{path}: gates")
    return parse_gates_table(data.get("gates") or {}, where=f"{path}: gates")


def gate_policy_of(path: str | Path | None = None, record: dict[str, Any] | None = None) -> Any:
    """The ``[gates]`` policy (on_inconclusive, adjust, ...) of a recipe file, else of the run's recipe."""
    import tomllib

    from ..reports.gating import record_policy
    from ..verdicts.gates import parse_gate_policy

    if path is not None:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return parse_gate_policy(data.get("gates") or {}, where=f"{path}: gates")
    return record_policy(record or {})


@click.command("gate")
@click.argument("run")
@store_option
@click.option("--recipe", "recipe_path", type=click.Path(dir_okay=False),
              help="Take the gates from this recipe's [gates] (or a file holding only a [gates] table).")
@click.option("--gate", "gate_opts", multiple=True, metavar="METRIC:rule=value[,...]",
              help="A gate, e.g. openbookqa/acc:min=0.5,max_drop=0.02 (repeatable; overrides the recipe's).")
@click.option("--baseline", metavar="RUN", help="Judge change gates against this run's final evaluation "
              "instead of the run's own before.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False),
              help="Write a markdown summary here (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--json", "as_json", is_flag=True, help="Print the gate results as JSON.")
@click.option("--on-inconclusive", type=click.Choice(["fail", "pass", "warn"]), default=None,
              help="What an inconclusive verdict (the interval straddles the bound) counts as for the exit "
                   "code; overrides the recipe's [gates] on_inconclusive (default: fail).")
@click.option("--multiplicity", type=click.Choice(["all-must-pass", "holm"]), default=None,
              help="all-must-pass: every critical gate at the plain level, advisory gates Holm-adjusted; holm: "
                   "Holm across every gate (default: the recipe's, all-must-pass).")
@click.option("--adjust", type=click.Choice(["holm", "none"]), default=None,
              help="The old name of --multiplicity: holm = holm, none = all-must-pass.")
def gate(run: str, store, recipe_path: str | None, gate_opts: tuple[str, ...],
         baseline: str | None, junit_path: str | None, summary_path: str | None, as_json: bool,
         on_inconclusive: str | None = None, multiplicity: str | None = None, adjust: str | None = None) -> None:
    """Judge gates on a stored RUN without re-running anything.

    \b
    Gates come from --recipe's [gates], then --gate options; with neither, from
    the recipe the run was made with.
    Each gate is pass, fail or inconclusive (its interval straddles the bound);
    --on-inconclusive says what inconclusive counts as.
    Exit codes: 0 all gates passed, 1 a gate failed, 2 could not be done
    (unknown run, bad recipe or gate spec, crashed run, no gates).
    """
    from ..reports.junit import write_junit
    from ..reports.summary import write_summary
    from ..store.local import CorruptRecord, RunNotFound
    from ..verdicts.compare import CompareError, compare_records
    from ..verdicts.gates import (
        GatePolicy,
        GateSpecError,
        describe_gating,
        evaluate_gates,
        gates_passed,
        gating_summary,
        load_reference,
        parse_gate_option,
        run_outcome,
    )

    try:
        record = store.load(run)
    except RunNotFound as exc:
        fail(str(exc))
    try:
        gates = recipe_gates(recipe_path) if recipe_path else {}
        for opt in gate_opts:
            metric, spec = parse_gate_option(opt)
            gates[metric] = spec
        if not recipe_path and not gate_opts:
            gates = record_gates(record)
        policy = gate_policy_of(recipe_path, record)
        if adjust and multiplicity and {"holm": "holm", "none": "all-must-pass"}[adjust] != multiplicity:
            fail(f"--adjust {adjust} means --multiplicity {'holm' if adjust == 'holm' else 'all-must-pass'}, "
                 f"not {multiplicity}: give only --multiplicity")
        multiplicity = multiplicity or {"holm": "holm", "none": "all-must-pass", None: None}[adjust]
        chosen = {k: v for k, v in (("on_inconclusive", on_inconclusive), ("multiplicity", multiplicity)) if v}
        if chosen:
            policy = GatePolicy.model_validate({**policy.model_dump(exclude={"adjust"}), **chosen})
    except (GateSpecError, FileNotFoundError, ValueError) as exc:  # RecipeError is a ValueError
        fail(str(exc))

    def reports(results: list, comparison: Any = None, gating: dict | None = None) -> None:
        judged = {**record, "gating": gating} if gating else record  # the policy of this judgement
        if junit_path:
            write_junit(judged, results, junit_path, comparison)
        if summary_path:
            write_summary(judged, results, summary_path, comparison)

    if record.get("status") != "completed":
        reports([])
        err = (record.get("error") or {}).get("message")
        fail(f"run {record['id']} is {record.get('status')}" + (f": {err}" if err else "")
             + "; gates are judged on completed runs only")
    if not gates:
        fail(f"no gates to judge: run {record['id']}'s recipe has no [gates]; pass --recipe or --gate")

    try:
        before = store.samples(record["id"], "before")
        after = store.samples(record["id"], "after")
    except CorruptRecord as exc:  # a damaged samples file: say which and where, judge nothing
        fail(str(exc))
    reference = None
    if baseline:
        try:
            reference = load_reference(store, baseline)
        except (RunNotFound, CorruptRecord) as exc:
            fail(f"baseline: {exc}")
        if reference.phase is None:
            fail(f"baseline: run {reference.record['id']!r} has no metrics "
                 f"(status: {reference.record.get('status', 'unknown')})")
    try:
        results = evaluate_gates(gates, record, before_samples=before, after_samples=after,
                                 reference=reference, policy=policy)
    except ImportError as exc:  # scipy / statsmodels missing: say which install gives them
        fail(str(exc))
    gating = gating_summary(results, policy)

    comparison = None
    if (summary_path or junit_path) and (record.get("metrics") or {}).get("after"):
        try:
            comparison = compare_records(record, before, record, after, phase_a="before", phase_b="after")
        except CompareError:
            comparison = None
    reports(results, comparison, gating)

    passed = gates_passed(results)
    if as_json:
        click.echo(json.dumps({"run": record["id"], "name": record.get("name"), "passed": passed,
                               "baseline": reference[0]["id"] if reference else None,
                               "gating": gating, "gates": [r.to_dict() for r in results]}, indent=2))
    else:
        from ..reports.render import gate_lines

        for line in gate_lines(results):
            click.echo(line)
        n_failed = sum(not r.passed for r in results)
        outcome = run_outcome([r.to_dict() for r in results])
        click.echo(f"\n{record.get('name') or record['id']}: gates {outcome}: "
                   + (f"{n_failed} of {len(results)} gate checks failed" if outcome == "failed" else
                      f"{n_failed} of {len(results)} gate checks inconclusive, none failed" if n_failed
                      else f"all {len(results)} gate checks passed"))
        click.echo(describe_gating(gating))
    sys.exit(EXIT_OK if passed else EXIT_GATE_FAILED)
