"""Hook specifications: the whole contract between the core and a plugin.

A plugin is a module (or object) with functions decorated by
``harness.hookimpl`` whose names match the specs below. It is found through
the ``harness`` entry-point group. Registration hooks receive a ``register``
callback (the simonw/llm pattern); lifecycle hooks receive one frozen event
object so that new fields never break an old plugin (the inspect_ai pattern).

The host calls every hook through pluggy, one plugin at a time, so a failure
is attributed to its plugin. A ``@hookimpl`` whose name is not below (a typo
such as ``register_trainerz``) is a load error with the fix, not a silent no-op.

Only ever add arguments to these specs; deprecate with ``warn_on_impl``.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("harness")
hookimpl = pluggy.HookimplMarker("harness")


@hookspec
def register_models(register):
    """Register model loaders.

    Call ``register(LoaderClass)`` once per loader. ``LoaderClass`` subclasses
    :class:`harness.ModelLoader`; its ``name`` class attribute is the name a
    recipe uses (``[model] loader = "NAME"``) and its ``load()`` returns a
    :class:`harness.ModelHandle`. Optional keyword ``aliases=("other",)``.

    Keep the module that defines this hook light: import torch and
    transformers inside ``load()``, not at module level.
    """


@hookspec
def register_data_sources(register):
    """Register data sources.

    Call ``register(SourceClass)`` once per source. ``SourceClass`` subclasses
    :class:`harness.DataSource`; a recipe names it in ``[[data]] source =
    "NAME"``. Its ``load()`` returns a list of example dicts in the format it
    declares: the name of a registered :class:`harness.DataFormat` (see
    :func:`register_data_formats`).
    """


@hookspec
def register_data_formats(register):
    """Register data formats.

    Call ``register(FormatClass)`` once per format. ``FormatClass`` subclasses
    :class:`harness.DataFormat`: its ``name`` is what a data source declares
    (``[[data]] format = "NAME"``), ``fields`` maps each key an example carries to
    its role (``prompt``, ``reply``, ``rejected``, ``conversation``, ``document``,
    ``label``) and ``trl_type`` names the TRL dataset type it is. Data
    preparation checks examples with ``check_example``, safety filters read the
    texts its roles select, and trainers get rows from ``to_trl``. Trainers list
    the formats they accept in ``formats``.
    """


@hookspec
def register_trainers(register):
    """Register trainers.

    Call ``register(TrainerClass)`` once per trainer. ``TrainerClass``
    subclasses :class:`harness.Trainer`; a recipe names it in ``[[train]]
    trainer = "NAME"``. ``train(model, data, context)`` returns a
    :class:`harness.TrainResult` (the trained model handle and its log).
    """


@hookspec
def register_reward_functions(register):
    """Register reward functions for online RL trainers (``grpo``).

    Call ``register(RewardClass)`` once per reward. ``RewardClass`` subclasses
    :class:`harness.RewardFunction`; a recipe names it in a train stage's
    ``rewards = ["NAME", ...]`` (optional ``reward_weights``). Calling an
    instance with ``(prompts, completions, **columns)`` returns one float (or
    ``None``) per completion; ``filters_needed()`` asks the host for safety
    filters by name instead of importing another plugin.
    """


@hookspec
def register_safety_filters(register):
    """Register safety filters.

    Call ``register(FilterClass)`` once per filter. ``FilterClass`` subclasses
    :class:`harness.SafetyFilter`; ``score(texts, prompts=None)`` returns one
    :class:`harness.Verdict` per text. Filters are used on model outputs by
    evaluators and on training data by ``[[data]] filters``.
    """


@hookspec
def register_evaluators(register):
    """Register evaluators.

    Call ``register(EvaluatorClass)`` once per evaluator. ``EvaluatorClass``
    subclasses :class:`harness.Evaluator`; a recipe names it in
    ``[[evaluate]] evaluator = "NAME"``. ``evaluate(model, context)`` returns
    an :class:`harness.EvalResult`: metrics with standard errors and
    per-sample rows.
    """


@hookspec
def register_reporters(register):
    """Register reporters.

    Call ``register(ReporterClass)`` once per reporter. ``ReporterClass``
    subclasses :class:`harness.Reporter`; ``report(record, run_dir)`` is called
    after a run's record is stored (write a summary, export to a tracker...).
    A recipe enables one with ``[[report]] reporter = "NAME"``.
    """


@hookspec
def register_safety_suites(register):
    """Register safety prompt suites.

    Call ``register(SuiteClass)`` once per suite. ``SuiteClass`` subclasses
    :class:`harness.SafetySuite`; ``items()`` returns the prompts with their
    ``label`` (``safe``/``unsafe``) and optional ``category``. A recipe runs it
    with ``[[evaluate]] evaluator = "safety"`` and ``suites = ["NAME"]``; the
    evaluator gives it a seeded dev/test split and per-category metrics.
    """


@hookspec
def register_commands(cli):
    """Add subcommands to the ``harness`` command line.

    ``cli`` is the top-level :class:`click.Group`; decorate new commands with
    ``@cli.command()``.
    """


@hookspec
def on_run_start(event):
    """Called once before any stage runs.

    ``event`` is a frozen :class:`harness.RunStarted` with ``run_id``,
    ``run_dir``, ``recipe`` (the validated recipe as a dict) and
    ``components``. Return value is ignored. An exception fails the run before
    any work (exit 2): the record is stored as ``failed`` with ``error.hook`` and
    ``error.plugin`` naming this hook and your plugin.
    """


@hookspec
def on_stage_end(event):
    """Called after every stage (load, data, evaluate, train, ...), also a failed one.

    ``event`` is a frozen :class:`harness.StageEnded` with ``run_id``,
    ``stage`` (name), ``kind``, ``status`` (``"ok"`` or ``"failed"``),
    ``duration_s``, ``summary`` (metrics or counts of the stage) and ``error``.
    An exception after a stage that went well fails the run (exit 2, the record's
    ``error`` names the hook and your plugin); after a failed stage it is only
    noted in ``hook_errors`` (the stage's own error stays the run's error).
    """


@hookspec
def on_run_end(event):
    """Called once after the record is stored, whether the run passed, failed its gates or crashed.

    ``event`` is a frozen :class:`harness.RunEnded` with ``run_id``,
    ``run_dir``, ``status`` and the full ``record`` dict. An exception is
    reported and kept in the record's ``post_run_errors`` (with the plugin's
    name); it never changes a completed run's status or gate verdict.
    """
