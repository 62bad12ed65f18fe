"""The ``safety`` evaluator: refusal, harmful compliance and over-refusal on bundled prompt sets.

Prompt sets are registered safety suites, loaded through the plugin host (:mod:`.prompt_sets`);
judgements come from the safety filters the recipe lists in the ``[[evaluate]]``
table (``filters = ["refusal", "harm"]``), which the core hands over in
``context.filters``. Heavy work happens in :mod:`.run`. See docs/evaluators-safety.md.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, ValidationInfo, field_validator

import harness

#: Bump when scoring or row format changes: part of the evaluation-cache fingerprint.
VERSION = "2"


class SafetyEvaluator(harness.Evaluator):
    name = "safety"
    evaluates = "suites"
    description = ("Refusal, harmful compliance/content, over-refusal and jailbreak robustness on safety suites "
                   "(AdvBench, XSTest, HarmBench, Do-Not-Answer, jailbreak, any registered one)")

    class Params(harness.Params):
        suites: list[str] = Field(default_factory=lambda: ["advbench", "xstest"], min_length=1,
                                  description="safety suites: advbench, xstest, harmbench, donotanswer, jailbreak, "
                                              "quick-safety or any a plugin registers")
        split: Literal["dev", "test", "all"] = Field("all", description="items of each suite's fixed split: "
                                                     "dev (for choosing), test (for the verdict) or all")
        limit: Optional[int] = Field(None, ge=1, description="per suite, after the split: seeded subsample "
                                                             "stratified safe/unsafe (jailbreak: requests)")
        seed: int = Field(0, description="subsample seed (fixed, not the run seed: items stay comparable)")
        max_new_tokens: int = Field(64, ge=1)
        batch_size: Optional[int] = Field(None, ge=1, description="prompts per generate call; none: 8 on a CPU, 64 on a GPU")
        chat: bool = Field(True, description="apply the tokenizer's chat template")
        system_prompt: Optional[str] = None
        refusal_filter: str = Field("refusal", description="which of the table's filters decides refusal")
        partial_counts_as: Literal["refusal", "compliance"] = Field(
            "refusal", description="a partial refusal (refuses, then answers anyway) counts as this; "
                                   "'compliance' is the stricter harm count (HarmBench's reading)")
        harm_filter: str = Field("harm", description="filter for harmful content (optional)")
        pii_filter: str = Field("pii", description="filter for personal data in outputs (optional)")

        @field_validator("suites")
        @classmethod
        def _known_suites(cls, v):
            from .prompt_sets import unknown_suite_message

            bad = [msg for s in v if (msg := unknown_suite_message(s))]
            if bad:
                raise ValueError("; ".join(bad))
            if len(set(v)) != len(v):
                raise ValueError("a suite is listed twice")
            return v

        @field_validator("split")
        @classmethod
        def _suites_have_items_in_split(cls, v, info: ValidationInfo):
            from .prompt_sets import empty_split_message

            bad = [msg for s in info.data.get("suites") or [] if (msg := empty_split_message(s, v))]
            if bad:
                raise ValueError("; ".join(bad))
            return v

    def evaluate(self, model: harness.ModelHandle, context: harness.EvalContext) -> harness.EvalResult:
        from .run import evaluate

        return evaluate(model, context, self.params)

    def fingerprint(self) -> str:
        """Items used (per suite hash and version) + every parameter + scoring version.

        The filters arrive in the context, not here: the core adds their names
        and parameters to the evaluation-cache key itself.
        """
        from .prompt_sets import load_prompt_set

        p = self.params
        items = {s: [(ps := load_prompt_set(s, p.limit, p.seed, p.split)).version, ps.content_hash]
                 for s in p.suites}
        return harness.content_hash({"evaluator": "safety", "version": VERSION, "harness": harness.__version__,
                                     "items": items, "params": self.params_dict()})


    @classmethod
    def declared_metrics(cls, params: dict[str, Any]) -> dict[str, str] | None:
        """Every ``suite/metric`` these params can report, with its concern. ``harmful_content``
        and ``pii_leakage`` are reported only when the table has a ``harm`` / ``pii`` filter."""
        from .prompt_sets import load_prompt_set
        from .scoring import concern, possible_keys

        try:
            p = cls.validate_params(params)
        except harness.ParamError:
            return None
        out: dict[str, str] = {}
        for suite in p.suites:
            ps = load_prompt_set(suite, p.limit, p.seed, p.split)
            for item in ps.items:
                out.update({f"{suite}/{k}": concern(k) for k in possible_keys(item, ps.per_category)})
        return dict(sorted(out.items()))

    @classmethod
    def declared_items(cls, params: dict[str, Any]) -> dict[str, int] | None:
        """``{suite/metric: n}``: the prompts each metric averages over after split and limit
        (over-refusal: the safe ones; harmful compliance: the unsafe ones), from the prompt sets."""
        from .prompt_sets import load_prompt_set
        from .scoring import possible_keys

        try:
            p = cls.validate_params(params)
        except harness.ParamError:
            return None
        out: dict[str, int] = {}
        for suite in p.suites:
            ps = load_prompt_set(suite, p.limit, p.seed, p.split)
            for item in ps.items:
                for key in possible_keys(item, ps.per_category):
                    out[f"{suite}/{key}"] = out.get(f"{suite}/{key}", 0) + 1
        return dict(sorted(out.items()))


@harness.hookimpl
def register_evaluators(register):
    register(SafetyEvaluator)
