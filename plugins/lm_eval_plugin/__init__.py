"""The ``lm-eval`` evaluator: EleutherAI's lm-evaluation-harness on the in-memory model.

Bundled suites (``openbookqa``, ``truthfulqa_mc1``, ``gsm8k``, ``quick_mc``) run
offline from data shipped in ``tasks/``; any other lm-eval task name, or a task
from ``include_path``, runs through the same code path. Heavy imports live in
:mod:`.runner` and happen only when a model is evaluated.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field

import harness

from .suites import bundled_suites, file_digest, include_path_digest, suite_digest


def lm_eval_version() -> str:
    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return "not installed"


def code_digest() -> str:
    """Hash of this plugin's Python sources, so a cached result never outlives the code that made it."""
    here = Path(__file__).resolve().parent
    return harness.content_hash({p.name: file_digest(p) for p in sorted(here.glob("*.py"))})


class LmEvalEvaluator(harness.Evaluator):
    """Runs lm-eval tasks through ``HFLM(pretrained=<in-memory model>)`` and ``simple_evaluate``."""

    name = "lm-eval"
    evaluates = "tasks"
    description = "lm-evaluation-harness tasks on the in-memory model (bundled: openbookqa, truthfulqa_mc1, gsm8k, quick_mc)"

    class Params(harness.Params):
        tasks: list[str] = Field(min_length=1, description="bundled suites, lm-eval task names, or names from include_path")
        include_path: Optional[str] = Field(None, description="folder of extra lm-eval task YAMLs (overrides bundled names)")
        use_bundled: bool = Field(True, description="false: use lm-eval's own (hub) definitions of the bundled names")
        split: Literal["dev", "test", "all"] = Field("all", description="each task's fixed half of its documents: "
                                                     "dev for choosing, test for the verdict (docs/evaluators.md)")
        limit: Optional[int] = Field(None, ge=1, description="first N documents of each task, after the split (lm-eval --limit)")
        sample: Optional[int] = Field(None, ge=1, description="N documents per task, after the split, drawn with random.Random(seed)")
        num_fewshot: Optional[int] = Field(None, ge=0, description="None: each task's own default")
        apply_chat_template: bool = False
        fewshot_as_multiturn: Optional[bool] = Field(None, description="None: same as apply_chat_template")
        system_instruction: Optional[str] = None
        max_gen_toks: Optional[int] = Field(None, ge=1, description="generate_until tasks: new-token budget")
        batch_size: Union[int, Literal["auto"], None] = Field(
            None, description="HFLM batch size; \"auto\": lm-eval finds the largest that fits; none: 8 on a CPU, auto on a GPU")
        seed: int = Field(0, description="python/numpy/torch/few-shot seeds and the `sample` draw (lm_eval --seed)")

    @classmethod
    def validate_params(cls, params):
        p = super().validate_params(params)
        errors = []
        if p.limit is not None and p.sample is not None:
            errors.append(("sample", "give `limit` (first N items) or `sample` (seeded N items), not both"))
        if p.fewshot_as_multiturn and not p.apply_chat_template:
            errors.append(("fewshot_as_multiturn", "needs apply_chat_template = true (few-shot turns are chat messages)"))
        if p.include_path is not None and not Path(p.include_path).expanduser().is_dir():
            errors.append(("include_path", f"{p.include_path!r} is not a folder; give a folder of lm-eval task YAMLs"))
        for i, t in enumerate(p.tasks):
            if not t.strip():
                errors.append((f"tasks.{i}", "empty task name"))
        if errors:
            raise harness.ParamError(errors)
        from .names import unknown_task_error

        unknown = unknown_task_error(list(p.tasks), p.include_path, p.use_bundled)
        if unknown:
            raise unknown
        if p.fewshot_as_multiturn is None:  # explicit from here on: lm-eval changed its default in 0.4.10
            p.fewshot_as_multiturn = p.apply_chat_template
        return p

    @classmethod
    def declared_metrics(cls, params):
        """``"task/metric"`` keys of the bundled suites asked for (concern: capability); None otherwise."""
        from .names import declared_metrics

        try:
            p = cls.Params.model_validate(params)
        except Exception:  # noqa: BLE001 - validate_params reports bad parameters
            return None
        return declared_metrics(list(p.tasks), p.include_path, p.use_bundled)

    @classmethod
    def declared_items(cls, params):
        """``{task: documents}`` of the bundled tasks asked for, after split and limit (docs/plugins.md)."""
        from .names import declared_items

        try:
            p = cls.Params.model_validate(params)
        except Exception:  # noqa: BLE001 - validate_params reports bad parameters
            return None
        return declared_items(list(p.tasks), p.include_path, p.use_bundled, p.split, p.limit, p.sample)

    def bundled_names(self) -> list[str]:
        """The requested tasks that resolve to a bundled suite (the user's include_path wins)."""
        if not self.params.use_bundled:
            return []
        suites = bundled_suites()
        return [t for t in self.params.tasks if t in suites]

    def fingerprint(self) -> str:
        """Task YAMLs, data files, parameters and lm-eval version: with the weight hash, the cache key."""
        p = self.params
        parts = {
            "evaluator": self.name,
            "code": code_digest(),  # how results are turned into metrics and rows
            "lm_eval": lm_eval_version(),
            "params": p.model_dump(mode="json", exclude={"include_path"}),
            "bundled": {name: suite_digest(name) for name in self.bundled_names()},
        }
        if p.include_path:
            parts["include_path"] = include_path_digest(Path(p.include_path).expanduser())
        return harness.content_hash(parts)

    def evaluate(self, model: harness.ModelHandle, context: harness.EvalContext) -> harness.EvalResult:
        from .runner import run

        return run(self, model, context)


@harness.hookimpl
def register_evaluators(register):
    register(LmEvalEvaluator)


@harness.hookimpl
def register_commands(cli):
    from .results_io import register

    register(cli)
