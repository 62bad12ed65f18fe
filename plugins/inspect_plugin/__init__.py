"""The ``inspect`` evaluator: an inspect_ai ``Task`` (its dataset, solver and scorer) run on the
in-memory harness model, so its scores enter the paired comparison and the gates.

The model reaches inspect as a custom model API (:mod:`.model_api`); the task is found as
``inspect eval`` finds it (:mod:`.tasks`); the log becomes harness rows and metrics in
:mod:`.run`. See docs/evaluators.md ("inspect").
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal, Optional

from pydantic import Field, model_validator

import harness

if importlib.util.find_spec("inspect_ai") is None:
    raise harness.PluginUnavailable("the inspect evaluator needs the `inspect_ai` package, which is not installed",
                                    install="pip install 'posttrain-harness[inspect]'")

#: Bump when rows or metrics change: part of the evaluation-cache fingerprint.
VERSION = "1"


class InspectEvaluator(harness.Evaluator):
    name = "inspect"
    description = "An inspect_ai Task (file.py@task or a registered name) scored on the run's in-memory model"

    class Params(harness.Params):
        task: str = Field(description="'path/to/file.py@task_name' (relative: from the working directory), "
                                      "the task's name when task_file is given, or a registered task "
                                      "('inspect_evals/xstest')")
        task_file: Optional[str] = Field(None, description="the task's file, relative to the recipe's folder")
        task_args: dict[str, Any] = Field(default_factory=dict, description="arguments of the @task function")
        suite: Optional[str] = Field(None, description="the suite name in metrics and samples (default: the "
                                                       "task's name)")
        limit: Optional[int] = Field(None, ge=1, description="first N samples of the task's dataset")
        epochs: int = Field(1, ge=1, description="samples are run this many times (item ids gain '#epoch')")
        max_new_tokens: int = Field(64, ge=1, description="reply length when the task's config sets no max_tokens")
        chat: bool = Field(True, description="apply the tokenizer's chat template")
        higher_is_better: bool = Field(True, description="direction of every scorer's metric, for gates")
        concern: Optional[Literal["capability", "harm", "over_refusal"]] = Field(
            None, description="which question the task's scores answer (reports group by it)")
        log_dir: Optional[str] = Field(None, description="where inspect writes its .eval logs (default "
                                                         "$INSPECT_LOG_DIR, else the run's work folder)")

        @model_validator(mode="after")
        def _task_file_exists(self):
            from .tasks import task_spec

            try:
                task_spec(self.task, self.task_file)
            except harness.ParamError as exc:
                raise ValueError("; ".join(msg for _, msg in exc.errors)) from None
            return self

    def evaluate(self, model: harness.ModelHandle, context: harness.EvalContext) -> harness.EvalResult:
        from .run import evaluate

        return evaluate(model, context, self.params)

    def fingerprint(self) -> str:
        """The task's samples, code and version, inspect's version and every parameter but
        ``log_dir`` (where logs go does not change a score)."""
        from .tasks import load_task, task_fingerprint

        task, path = load_task(self.params.task, self.params.task_file, self.params.task_args)
        params = {k: v for k, v in self.params_dict().items() if k != "log_dir"}
        return harness.content_hash({"evaluator": "inspect", "version": VERSION, "harness": harness.__version__,
                                     "task": task_fingerprint(task, path), "params": params})


@harness.hookimpl
def register_evaluators(register):
    register(InspectEvaluator)
