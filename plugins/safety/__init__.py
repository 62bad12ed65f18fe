"""The ``safety`` evaluator: refusal, harmful compliance and over-refusal on bundled prompt sets.

Prompt sets come from the ``suites`` plugin (:mod:`harness_plugins.suites.prompts`);
judgements come from the safety filters the recipe lists in the ``[[evaluate]]``
table (``filters = ["refusal", "harm"]``), which the core hands over in
``context.filters``. Heavy work happens in :mod:`.run`. See docs/evaluators-safety.md.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator

import harness

#: Bump when scoring or row format changes: part of the evaluation-cache fingerprint.
VERSION = "1"


class SafetyEvaluator(harness.Evaluator):
    name = "safety"
    evaluates = "suites"
    description = "Refusal rate, harmful compliance/content and over-refusal on AdvBench, XSTest, quick-safety"

    class Params(harness.Params):
        suites: list[str] = Field(default_factory=lambda: ["advbench", "xstest"], min_length=1,
                                  description="prompt sets: advbench, xstest, quick-safety")
        limit: Optional[int] = Field(None, ge=1, description="per suite: seeded subsample, stratified safe/unsafe")
        seed: int = Field(0, description="subsample seed (fixed, not the run seed: items stay comparable)")
        max_new_tokens: int = Field(64, ge=1)
        batch_size: int = Field(8, ge=1)
        chat: bool = Field(True, description="apply the tokenizer's chat template")
        system_prompt: Optional[str] = None
        refusal_filter: str = Field("refusal", description="which of the table's filters decides refusal")
        harm_filter: str = Field("harm", description="filter for harmful content (optional)")
        pii_filter: str = Field("pii", description="filter for personal data in outputs (optional)")

        @field_validator("suites")
        @classmethod
        def _known_suites(cls, v):
            from harness_plugins.suites.prompts import prompt_set_names

            known = prompt_set_names()
            bad = [s for s in v if s not in known]
            if bad:
                raise ValueError(f"unknown prompt set(s) {', '.join(map(repr, bad))}; bundled: {', '.join(known)}")
            if len(set(v)) != len(v):
                raise ValueError("a prompt set is listed twice")
            return v

    def evaluate(self, model: harness.ModelHandle, context: harness.EvalContext) -> harness.EvalResult:
        from .run import evaluate

        return evaluate(model, context, self.params)

    def fingerprint(self) -> str:
        """Items used (per suite hash and version) + every parameter + scoring version.

        The filters arrive in the context, not here: the core adds their names
        and parameters to the evaluation-cache key itself.
        """
        from harness_plugins.suites.prompts import load_prompt_set

        items = {s: [(ps := load_prompt_set(s, self.params.limit, self.params.seed)).version, ps.content_hash]
                 for s in self.params.suites}
        return harness.content_hash({"evaluator": "safety", "version": VERSION, "harness": harness.__version__,
                                     "items": items, "params": self.params_dict()})


@harness.hookimpl
def register_evaluators(register):
    register(SafetyEvaluator)
