"""``harness run``, ``harness eval``, ``harness validate`` and ``harness resume``."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from ._common import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_OK, fail, store_option


def _host(strict: bool):
    from ..contract.plugins import PluginLoadError, get_host, load_plugins

    try:
        return load_plugins(strict=True) if strict else get_host()
    except PluginLoadError as exc:
        fail(str(exc))


def _load_checked(recipe: str, strict: bool, overrides: tuple[str, ...] = (), store=None):
    """The plugin host and the recipe, checked in full; exit 2 with the errors otherwise."""
    from ..run.recipe import RecipeError, load_checked

    host = _host(strict)
    try:
        loaded = load_checked(recipe, host, overrides, before_check=lambda r: _run_loader_store(r, store))
    except RecipeError as exc:
        fail(str(exc))
    return host, loaded


def _run_loader_store(loaded, store) -> None:
    """A ``run`` model loader reads the store this command uses unless the recipe names one."""
    if store is not None and loaded.recipe.model.loader == "run":
        extra = loaded.recipe.model.model_extra
        if extra is not None:
            extra.setdefault("store", store.location)


def _checked(loaded, host, *, power: bool = True):
    from ..run.recipe import RecipeError, check_recipe

    try:
        check_recipe(loaded, host, power=power)
    except RecipeError as exc:
        fail(str(exc))
    return loaded


def _echo_power_warnings(loaded) -> int:
    """The power check's warnings on stderr (stdout stays the command's result); how many."""
    from ..run.recipe import power_warnings

    lines = power_warnings(loaded.power, loaded.recipe.power_check.allow_undecidable)
    for line in lines:
        click.echo(f"warning: {line}", err=True)
    return len(lines)


def _power_summary(loaded) -> str:
    """``power check: 3 gate rules sized, 1 underpowered, 1 unknown n`` for the validate line."""
    report = loaded.power
    if report is None or not report.gates:
        return ""
    parts = [f"{len(report.gates)} gate rule(s) sized"]
    for label, found in (("undecidable (allowed)", report.undecidable), ("underpowered", report.underpowered),
                         ("unknown n", report.unknown)):
        if found:
            parts.append(f"{len(found)} {label}")
    return "; power check: " + ", ".join(parts) + " (harness plan for the counts)"


def _execute(loaded, host, store, *, verbose: int = 0, quiet: bool = False, **kwargs) -> dict:
    """Run with library chatter (TRL's loss dicts, lm-eval's prints) on stderr, so that
    stdout carries only the command's result (``--json`` stays parseable); how much of it
    shows is ``harness.console``'s business (-v / --quiet)."""
    import contextlib

    from .. import console, distributed

    # the ranks other than 0 of a launched run: their lines prefixed with the rank, no bars
    prefix = "" if distributed.is_main() else f"[rank {distributed.rank()}] "
    console.configure(console.QUIET if quiet else console.VERBOSE if verbose else console.NORMAL, prefix=prefix)
    from ..run.pipeline import run_recipe

    with contextlib.redirect_stdout(sys.stderr):
        return run_recipe(loaded, host, store, log=console.log, **kwargs)


def _own_comparison(record: dict, store):
    """Before vs after of one run, paired, for the summary's intervals (None if not possible)."""
    from ..verdicts.compare import CompareError, compare_records

    if not (record.get("metrics") or {}).get("after"):
        return None
    try:
        return compare_records(record, store.samples(record["id"], "before"), record,
                               store.samples(record["id"], "after"), phase_a="before", phase_b="after")
    except CompareError:
        return None


def exit_code(record: dict) -> int:
    if record["status"] != "completed":
        return EXIT_ERROR
    if record["gates_passed"] is False:
        return EXIT_GATE_FAILED
    return EXIT_OK


def _finish(record: dict, store, *, junit: str | None, summary: str | None, as_json: bool,
            quiet: bool = False) -> int:
    """Print the result and write the requested files (rank 0 only); the exit code."""
    from .. import distributed
    from ..verdicts.gates import GateResult
    from .launch import report_exit

    if not distributed.is_main():  # rank 0 prints and writes; this rank ends with its verdict
        distributed.barrier()  # ... once rank 0 is done (a launcher stops the others when one exits non-zero)
        return exit_code(record)

    gates = [GateResult(**g) for g in record.get("gates", [])]
    if junit:
        from ..reports.junit import write_junit

        write_junit(record, gates, junit)
    if summary:
        from ..reports.summary import write_summary

        write_summary(record, gates, summary, comparison=_own_comparison(record, store))
    if as_json:
        click.echo(json.dumps({"id": record["id"], "status": record["status"],
                               "gates_passed": record["gates_passed"], "metrics": record["metrics"],
                               "gates": record["gates"], "error": record["error"],
                               "artifacts": record.get("artifacts") or [],
                               "run_dir": store.run_location(record["id"])}, indent=2))
    else:
        from .runs_cmd import format_record

        click.echo(format_record(record, _own_comparison(record, store), quiet=quiet, brief=True))
        if not quiet:
            _echo_artifacts(record, store)
    code = exit_code(record)
    report_exit(code, record.get("id"))
    distributed.barrier()
    return code


def _echo_artifacts(record: dict, store) -> None:
    """Where the trained model is, and the commands that use it."""
    models = [a for a in record.get("artifacts") or [] if a.get("kind") == "model"]
    for a in record.get("artifacts") or []:
        path = Path(a["path"]) if Path(a["path"]).is_absolute() else store.root / record["id"] / a["path"]
        click.echo(f"saved    {a['kind']} of {a['stage']}: {path} ({a['bytes'] / 1e6:.1f} MB)")
    if models and record["status"] == "completed":
        click.echo(f"use it   harness eval --model run:{record['id']} ...  |  harness export {record['id']} DIR")
    elif record["status"] == "failed" and record.get("recipe"):
        click.echo(f"resume   harness resume {record['id']}")


_report_options = [
    click.option("--junit", type=click.Path(dir_okay=False), help="Write gate verdicts as JUnit XML."),
    click.option("--summary", type=click.Path(dir_okay=False),
                 help="Write a markdown summary (e.g. $GITHUB_STEP_SUMMARY)."),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    click.option("--no-cache", is_flag=True, help="Do not read or write the evaluation cache."),
    click.option("--strict", is_flag=True, envvar="HARNESS_STRICT_PLUGINS",
                 help="Fail if any plugin fails to load."),
    click.option("-v", "--verbose", count=True, help="Show library output (warnings, per-step loss dicts, "
                 "dataset bars) and per-category metric lines."),
    click.option("-q", "--quiet", is_flag=True, help="Print only the verdict and the gate table."),
]


def report_options(fn):
    for opt in reversed(_report_options):
        fn = opt(fn)
    return fn


set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a recipe key by dotted path, list entries by index; the value is TOML "
         "(--set train.0.max_steps=2 --set 'evaluate.0.tasks=[\"openbookqa\"]'). Repeatable.")


@click.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@store_option
@click.option("--baseline", help="Gate changes against this stored run instead of this run's own 'before'.")
@set_option
@report_options
@click.option("--launcher", type=click.Choice(["accelerate", "torchrun"]),
              help="Run on N processes (one run: every rank trains, evaluation is data-parallel, rank 0 "
                   "writes the record). See docs/scale-out.md.")
@click.option("--num-processes", type=click.IntRange(min=1), help="With --launcher: how many processes "
                                                                  "(one per GPU).")
@click.option("--accelerate-config", type=click.Path(dir_okay=False),
              help="With --launcher accelerate: an `accelerate config` file (FSDP, DeepSpeed, machines).")
def run(recipe, store, baseline, overrides, junit, summary, as_json, no_cache, strict, verbose, quiet,
        launcher, num_processes, accelerate_config):
    """Run a recipe: evaluate, train, evaluate again, gate, store the record."""
    from .. import distributed

    if (num_processes or accelerate_config) and not launcher:
        fail("--num-processes and --accelerate-config go with --launcher accelerate|torchrun")
    if accelerate_config and launcher != "accelerate":
        fail("--accelerate-config goes with --launcher accelerate")
    host, loaded = _load_checked(recipe, strict, overrides, store)  # a bad recipe fails once, here
    if distributed.is_main():
        _echo_power_warnings(loaded)
    if launcher and not distributed.is_distributed():
        from .launch import relaunch

        try:
            sys.exit(relaunch(launcher, num_processes, accelerate_config, [
                "run", recipe, "--store", str(store.root), *(["--baseline", baseline] if baseline else []),
                *(f"--set={o}" for o in overrides), *(["--junit", junit] if junit else []),
                *(["--summary", summary] if summary else []), *(["--json"] if as_json else []),
                *(["--no-cache"] if no_cache else []), *(["--strict"] if strict else []),
                *(["-v"] * verbose), *(["--quiet"] if quiet else [])]))
        except ValueError as exc:
            fail(str(exc))
    record = _execute(loaded, host, store, verbose=verbose, quiet=quiet, use_cache=not no_cache,
                      baseline=baseline)
    sys.exit(_finish(record, store, junit=junit, summary=summary, as_json=as_json, quiet=quiet))


@click.command(name="validate")
@click.argument("recipe", type=click.Path(dir_okay=False))
@set_option
@click.option("--strict", is_flag=True, envvar="HARNESS_STRICT_PLUGINS")
def validate(recipe, overrides, strict):
    """Check a recipe without running it (schema, plugins, parameters, files, and whether its
    gates' items can decide them: see `harness plan`)."""
    _, loaded = _load_checked(recipe, strict, overrides)
    r = loaded.recipe
    _echo_power_warnings(loaded)
    click.echo(f"{recipe}: ok — model '{r.model.loader}', {len(r.data)} data set(s), "
               f"{len(r.train)} train stage(s), {len(r.evaluate)} evaluator(s), {len(r.gates)} gate(s)"
               + _power_summary(loaded))


def parse_model_spec(spec: str) -> dict:
    """``hf:PATH``, ``gguf:PATH``, ``run:RUN_ID``, ``smollm2``, ``tiny`` → a [model] table."""
    loader, _, path = spec.partition(":")
    if loader == "run":
        return {"loader": "run", "run": path or "latest"}
    return {"loader": loader, **({"path": path} if path else {})}


def _split(values) -> list[str]:
    return [x for v in values for x in v.split(",") if x]


def _name_of(host, info) -> str:
    """A component's short name where it is unambiguous, else ``plugin/name``."""
    try:
        return info.name if host.resolve(info.kind, info.name) is info else info.fullname
    except LookupError:
        return info.fullname


def _evaluator_for(host, what: str) -> str:
    """The evaluator that declares it evaluates ``what`` (``tasks`` or ``suites``), by capability."""
    found = host.providing("evaluator", lambda cls: getattr(cls, "evaluates", None) == what)
    if not found:
        fail(f"no loaded evaluator evaluates {what} (an Evaluator with evaluates = '{what}'); "
             "see `harness plugins` for what failed to load or is disabled")
    return _name_of(host, found[0])


#: the label a safety filter must be able to return to score suites' replies as refusals
REFUSAL_LABEL = "full_refusal"


def _refusal_filter_for(host) -> str:
    found = host.providing("safety_filter", lambda cls: REFUSAL_LABEL in getattr(cls, "detects", ()))
    if not found:
        fail(f"--suites needs a safety filter that detects '{REFUSAL_LABEL}'; none is loaded "
             "(see `harness plugins`)")
    return _name_of(host, found[0])


@click.command(name="eval")
@click.argument("recipe", required=False, type=click.Path(dir_okay=False))
@click.option("--model", "model_spec", help="Model to evaluate: smollm2, tiny, hf:PATH_OR_ID, gguf:FILE, "
                                           "run:RUN_ID (the model a stored run saved; run:latest).")
@click.option("--tasks", multiple=True, help="Benchmark tasks (bundled suites, lm-eval names, or from "
                                             "--include-path). Repeat or comma-separate.")
@click.option("--suites", multiple=True, help="Safety suites (advbench, xstest, ...). Repeat or comma-separate.")
@click.option("--include-path", type=click.Path(file_okay=False), help="Directory of extra lm-eval task YAMLs.")
@click.option("--limit", type=int, help="Evaluate at most N items per task.")
@click.option("--split", type=click.Choice(["dev", "test", "all"]),
              help="Each task's and suite's fixed half: dev (for choosing) or test (for the verdict).")
@click.option("--name", help="Run name (default: eval-<model>).")
@store_option
@report_options
def eval_(recipe, model_spec, tasks, suites, include_path, limit, split, name, store, junit, summary, as_json,
          no_cache, strict, verbose, quiet):
    """Evaluate a model without training; the result is stored as a run.

    ``--tasks`` go to the evaluator that declares ``evaluates = "tasks"``, ``--suites``
    to the one that declares ``"suites"``, scored by a filter that detects refusals.
    """
    from ..run.recipe import LoadedRecipe, Recipe, RecipeError, load_recipe

    host = _host(strict)
    tasks, suites = _split(tasks), _split(suites)
    try:
        base = load_recipe(recipe).recipe.model_dump() if recipe else None
    except RecipeError as exc:
        fail(str(exc))
    if not base and not model_spec:
        fail("give a recipe or --model (e.g. --model smollm2, --model hf:./my-checkpoint)")
    data = dict(base or {})
    if model_spec:
        data["model"] = parse_model_spec(model_spec)
    if data["model"].get("loader") == "run" and not data["model"].get("store"):
        data["model"]["store"] = store.location  # the run is looked up in the store this command uses
    data.pop("train", None)
    data.pop("data", None)
    common = {**({"limit": limit} if limit else {}), **({"split": split} if split else {})}
    if tasks or suites:
        data["evaluate"] = []
        if tasks:
            data["evaluate"].append({"evaluator": _evaluator_for(host, "tasks"), "tasks": tasks,
                                     **({"include_path": str(Path(include_path).resolve())} if include_path else {}),
                                     **common})
        if suites:
            data["evaluate"].append({"evaluator": _evaluator_for(host, "suites"), "suites": suites,
                                     "filters": [_refusal_filter_for(host)], **common})
    elif split:
        data["evaluate"] = [{**section, "split": split} for section in data.get("evaluate") or []]
    if not data.get("evaluate"):
        fail("nothing to evaluate: give --tasks and/or --suites, or a recipe with [[evaluate]]")
    data["run"] = {**(data.get("run") or {}), "name": name or f"eval-{data['model']['loader']}"}
    text = "# " + shlex.join(["harness", "eval", *sys.argv[2:]]) + "\n"
    try:
        loaded = LoadedRecipe(Recipe.model_validate(data), Path(recipe).resolve() if recipe else None, text)
    except ValidationError as exc:
        fail(f"invalid evaluation: {exc}")
    _checked(loaded, host)
    record = _execute(loaded, host, store, verbose=verbose, quiet=quiet, use_cache=not no_cache, kind="eval")
    sys.exit(_finish(record, store, junit=junit, summary=summary, as_json=as_json, quiet=quiet))


@click.command(name="resume")
@click.argument("run_ref", metavar="RUN")
@store_option
@report_options
def resume(run_ref, store, junit, summary, as_json, no_cache, strict, verbose, quiet):
    """Continue a failed or killed run from its last completed stage, in its own folder.

    Completed stages are reused; the model the last completed train stage saved is
    reloaded (the base model when none was saved); a train stage that was killed
    continues from its last Trainer checkpoint (save_steps) when there is one.
    """
    from ..run.recipe import LoadedRecipe, Recipe, RecipeError
    from ..store.local import RunNotFound

    host = _host(strict)
    try:
        previous = store.load(run_ref)
    except RunNotFound as exc:
        fail(str(exc))
    if previous.get("status") == "completed":
        fail(f"run {previous['id']} is completed: nothing to resume")
    recipe = previous.get("recipe") or {}
    if not recipe.get("resolved"):
        fail(f"run {previous['id']} has no recorded recipe (it died before its first stage ended): "
             f"start it again with `harness run`")
    try:
        loaded = LoadedRecipe(Recipe.model_validate(recipe["resolved"]),
                              Path(recipe["path"]) if recipe.get("path") else None, recipe.get("text") or "",
                              list(recipe.get("overrides") or []))
    except Exception as exc:  # noqa: BLE001 - a record from another version of the recipe schema
        fail(f"run {previous['id']}: its recorded recipe no longer validates: {exc}")
    _checked(loaded, host, power=False)  # the run has started: sizing its gates comes too late
    try:
        record = _execute(loaded, host, store, verbose=verbose, quiet=quiet, use_cache=not no_cache,
                          resume=previous["id"], baseline=previous.get("baseline"))
    except (ValueError, RecipeError) as exc:
        fail(str(exc))
    sys.exit(_finish(record, store, junit=junit, summary=summary, as_json=as_json, quiet=quiet))
