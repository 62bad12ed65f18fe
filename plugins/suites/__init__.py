"""Bundled data: safety prompt sets and training sets, shipped in ``data/`` with licenses.

Safety suites registered here: ``advbench``, ``xstest``, ``overrefusal-dev`` (XSTest's dev
stand-in), ``quick-safety``, ``harmbench``, ``donotanswer`` and ``jailbreak`` (see
:mod:`.prompts`; the ``safety`` evaluator runs them).
Data sources registered here: ``hh-rlhf-harmless`` (preference), ``gsm8k-sft``
(prompt_completion, disjoint from the evaluated GSM8K items) and
``quick-preference`` (preference, for the quickstart).
Nothing here reads outside the package; see docs/data.md.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

import harness


class _BundledSource(harness.DataSource):
    """Sets ``self.stats`` after ``load()``: rows read, skipped, used, content hash."""

    stats: dict[str, Any] | None = None

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> Any:
        p = super().validate_params(params)
        if getattr(p, "system_prompt", None) and not p.chat:
            raise harness.ParamError([("system_prompt", "a system prompt is a chat message: set chat = true")])
        return p

    def _seed(self, seed: int) -> int:
        return self.params.seed if self.params.seed is not None else seed


class HhRlhfHarmless(_BundledSource):
    name = "hh-rlhf-harmless"
    description = "Anthropic HH-RLHF harmless-base (test split, 2,312 dialogues) as chat preference pairs"
    format = "preference"

    class Params(harness.Params):
        limit: Optional[int] = Field(None, ge=1, description="seeded subsample of this many pairs")
        seed: Optional[int] = Field(None, description="subsample seed; default: the run's seed")
        max_turns: Optional[int] = Field(None, ge=1, description="skip dialogues with more user turns")

    def load(self, *, seed: int = 0) -> list[dict[str, Any]]:
        from .training import hh_rlhf_harmless

        rows, self.stats = hh_rlhf_harmless(self.params.limit, self._seed(seed), self.params.max_turns)
        return rows


class Gsm8kSft(_BundledSource):
    name = "gsm8k-sft"
    description = "GSM8K worked solutions for SFT: test items 500+ only (0-499 are held out for evaluation)"
    format = "prompt_completion"

    class Params(harness.Params):
        skip: int = Field(500, ge=500, description="first item used; items before it are held out "
                                                   "for evaluation (never below 500)")
        limit: Optional[int] = Field(None, ge=1)
        seed: Optional[int] = None
        chat: bool = Field(False, description="prompt/completion as chat messages")
        system_prompt: Optional[str] = None

    def load(self, *, seed: int = 0) -> list[dict[str, Any]]:
        from .training import gsm8k_sft

        p = self.params
        rows, self.stats = gsm8k_sft(p.skip, p.limit, self._seed(seed), p.chat, p.system_prompt)
        return rows


class QuickPreference(_BundledSource):
    name = "quick-preference"
    description = "32 small preference pairs: refuse harmful requests, answer benign ones (quickstart DPO)"
    format = "preference"

    class Params(harness.Params):
        limit: Optional[int] = Field(None, ge=1)
        seed: Optional[int] = None
        chat: bool = Field(True, description="prompt/chosen/rejected as chat messages")
        system_prompt: Optional[str] = None

    def load(self, *, seed: int = 0) -> list[dict[str, Any]]:
        from .training import quick_preference

        p = self.params
        rows, self.stats = quick_preference(p.limit, self._seed(seed), p.chat, p.system_prompt)
        return rows


@harness.hookimpl
def register_data_sources(register):
    register(HhRlhfHarmless)
    register(Gsm8kSft)
    register(QuickPreference)


@harness.hookimpl
def register_safety_suites(register):
    from .prompts import BUNDLED

    for suite in BUNDLED:
        register(suite)
