"""The ``rewards`` plugin: first-party reward functions for online RL (``grpo``).

``gsm8k-exact``        1 when the completion's final number equals the data's ``answer`` (GSM8K style)
``exact-match``        1 when the completion's first words are the data's ``answer`` (normalised)
``answer-similarity``  partial credit: difflib ratio of the completion's first line and the ``answer``
``format-length``      1 inside a length window (and matching an optional pattern), falling off outside
``refuses-iff-harmful`` +1 for refusing a harmful prompt or answering a benign one, -1 otherwise,
                       judged by the safety filters the host hands over (``refusal`` and ``harm``)

Each is one registered :class:`harness.RewardFunction`; a recipe names them in a
train stage's ``rewards`` list. Pure Python: nothing heavy is imported.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import Field, model_validator

import harness

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> Optional[float]:
    """The answer a GSM8K-style text gives: after ``####`` when present, else its last number."""
    marked = "####" in text
    if marked:
        text = text.rsplit("####", 1)[1]
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[0 if marked else -1].replace(",", ""))
    except ValueError:
        return None


def _column(columns: dict[str, Any], name: str, reward: str, n: int) -> list:
    if name not in columns:
        raise ValueError(f"reward '{reward}' needs the data column '{name}' (the reference answer); the data "
                         f"has {', '.join(columns) or 'no other columns'}. Set `answer_column` or add it to "
                         f"the prompt-only data")
    values = list(columns[name])
    if len(values) != n:
        raise ValueError(f"reward '{reward}': column '{name}' has {len(values)} values for {n} completions")
    return values


class Gsm8kExact(harness.RewardFunction):
    name = "gsm8k-exact"
    description = "1.0 when the completion's final number equals the `answer` column's (GSM8K '#### N' style), else 0"

    class Params(harness.Params):
        answer_column: str = Field("answer", description="data column holding the reference answer")
        tolerance: float = Field(1e-6, ge=0, description="numbers closer than this count as equal")

    def __call__(self, prompts, completions, **columns):
        answers = _column(columns, self.params.answer_column, self.name, len(completions))
        out = []
        for completion, answer in zip(completions, answers):
            want, got = final_number(str(answer)), final_number(completion)
            out.append(1.0 if want is not None and got is not None and abs(want - got) <= self.params.tolerance
                       else 0.0)
        return out


_WORD = re.compile(r"[a-z0-9]+(?:[.,'-][a-z0-9]+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _first_line_words(completion: str) -> list[str]:
    """The words of a completion's first non-blank line (the answer part of a reply)."""
    lines = completion.strip().splitlines()
    return _words(lines[0]) if lines else []


class ExactMatch(harness.RewardFunction):
    name = "exact-match"
    description = ("1.0 when the completion's first words are the `answer` column's words (case and punctuation "
                   "ignored; with whole_line, nothing may follow on the first line), else 0")

    class Params(harness.Params):
        answer_column: str = Field("answer", description="data column holding the reference answer")
        whole_line: bool = Field(False, description="the first line must be the answer and nothing else")

    def __call__(self, prompts, completions, **columns):
        answers = _column(columns, self.params.answer_column, self.name, len(completions))
        out = []
        for completion, answer in zip(completions, answers):
            want = _words(str(answer))
            got = _first_line_words(completion)
            hit = bool(want) and (got == want if self.params.whole_line else got[:len(want)] == want)
            out.append(1.0 if hit else 0.0)
        return out


class AnswerSimilarity(harness.RewardFunction):
    name = "answer-similarity"
    description = ("partial credit: how close the completion's first line is to the `answer` column "
                   "(difflib ratio of the normalised texts, 0..1); 1.0 only for an exact match")

    class Params(harness.Params):
        answer_column: str = Field("answer", description="data column holding the reference answer")

    def __call__(self, prompts, completions, **columns):
        import difflib

        answers = _column(columns, self.params.answer_column, self.name, len(completions))
        out = []
        for completion, answer in zip(completions, answers):
            got, want = " ".join(_first_line_words(completion)), " ".join(_words(str(answer)))
            out.append(difflib.SequenceMatcher(None, got, want).ratio() if want else 0.0)
        return out


class FormatLength(harness.RewardFunction):
    name = "format-length"
    description = ("1.0 for a completion of min_chars..max_chars characters (matching `pattern` if given), "
                   "falling linearly to 0 at twice the limit")

    class Params(harness.Params):
        min_chars: int = Field(1, ge=0)
        max_chars: int = Field(200, ge=1)
        pattern: Optional[str] = Field(None, description="a regular expression the completion must contain "
                                                         "(re.search), e.g. '#### -?\\\\d+' for a final answer")

        @model_validator(mode="after")
        def _window(self):
            if self.min_chars > self.max_chars:
                raise ValueError(f"min_chars ({self.min_chars}) is above max_chars ({self.max_chars})")
            if self.pattern is not None:
                try:
                    re.compile(self.pattern)
                except re.error as exc:
                    raise ValueError(f"pattern is not a regular expression: {exc}") from None
            return self

    def __call__(self, prompts, completions, **columns):
        p = self.params
        pattern = re.compile(p.pattern) if p.pattern else None
        out = []
        for c in completions:
            n = len(c.strip())
            if n < p.min_chars:
                score = n / p.min_chars if p.min_chars else 1.0
            elif n <= p.max_chars:
                score = 1.0
            else:
                score = max(0.0, 1.0 - (n - p.max_chars) / p.max_chars)
            if pattern is not None and not pattern.search(c):
                score = 0.0
            out.append(score)
        return out


class RefusesIffHarmful(harness.RewardFunction):
    name = "refuses-iff-harmful"
    description = ("+1 for refusing a harmful prompt or answering a benign one, -1 for the opposite (and for a "
                   "harmful answer); judged by the refusal and harm safety filters")

    class Params(harness.Params):
        harmful_column: str = Field("harmful", description="data column saying whether the prompt is harmful "
                                                           "(true/false, or 'unsafe'/'safe'); when the data has "
                                                           "none, the harm filter judges the prompt")
        refusal_filter: str = Field("refusal", description="safety filter that detects refusals")
        harm_filter: str = Field("harm", description="safety filter that detects harmful content")

    def filters_needed(self) -> dict[str, str]:
        return {"refusal": self.params.refusal_filter, "harm": self.params.harm_filter}

    def __call__(self, prompts, completions, **columns):
        filters = getattr(self, "filters", None) or {}
        if "refusal" not in filters or "harm" not in filters:
            raise RuntimeError(f"reward '{self.name}' was not given its safety filters (bind() was not called)")
        if self.params.harmful_column in columns:
            harmful = [_is_harmful(v) for v in columns[self.params.harmful_column]]
        else:
            harmful = [v.flagged for v in filters["harm"].score(list(prompts))]
        refused = [v.flagged for v in filters["refusal"].score(list(completions), list(prompts))]
        harmful_reply = [v.flagged for v in filters["harm"].score(list(completions), list(prompts))]
        out = []
        for h, r, bad in zip(harmful, refused, harmful_reply):
            if bad and not r:
                out.append(-1.0)
            else:
                out.append(1.0 if r == h else -1.0)
        return out


def _is_harmful(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("unsafe", "harmful", "true", "yes", "1")
    return bool(value)


REWARDS = (Gsm8kExact, ExactMatch, AnswerSimilarity, FormatLength, RefusesIffHarmful)


@harness.hookimpl
def register_reward_functions(register):
    for reward in REWARDS:
        register(reward)
