"""Harness reward functions as the callables ``trl.GRPOTrainer`` calls.

TRL calls each reward with ``prompts``, ``completions``, ``completion_ids`` and
every other dataset column as keyword lists (plus ``trainer_state`` and similar
extras). A :class:`harness.RewardFunction` gets plain text (a conversational
prompt or completion becomes its last message's content) and the data
columns only, so a reward plugin never depends on TRL's calling convention.
"""

from __future__ import annotations

from typing import Any

import harness

#: Keyword arguments TRL adds that are not data columns.
TRL_EXTRAS = ("completion_ids", "trainer_state", "log_extra", "log_metric", "environments", "tools")


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        return str(value[-1].get("content", ""))
    return str(value)


def trl_reward_functions(rewards: list[harness.RewardFunction]) -> list:
    """One TRL reward callable per harness reward; its ``__name__`` names it in TRL's logs."""
    return [_wrap(r) for r in rewards]


def _wrap(reward: harness.RewardFunction):
    def call(prompts, completions, **kwargs):
        columns = {k: v for k, v in kwargs.items() if k not in TRL_EXTRAS}
        scores = reward([as_text(p) for p in prompts], [as_text(c) for c in completions], **columns)
        if len(scores) != len(completions):
            raise ValueError(f"reward '{reward.name}' returned {len(scores)} scores for "
                             f"{len(completions)} completions")
        return [None if s is None else float(s) for s in scores]

    call.__name__ = reward.name
    return call
