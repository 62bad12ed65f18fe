"""The ``formats`` plugin: the first-party data formats, one registered object each.

Each is one of TRL's dataset types (https://huggingface.co/docs/trl/dataset_formats);
``prompt``/``completion``/``chosen``/``rejected`` may be plain text or lists of chat
messages ``{"role", "content"}`` (TRL's conversational form). A third-party format
is one more :class:`harness.DataFormat` registered the same way.
"""

from __future__ import annotations

from typing import Any

import harness


class Text(harness.DataFormat):
    name = "text"
    description = "plain text documents (language modeling)"
    fields = {"text": "document"}
    trl_type = "language modeling"


class Chat(harness.DataFormat):
    name = "chat"
    description = "conversations as a list of {role, content} messages (conversational language modeling)"
    fields = {"messages": "conversation"}
    trl_type = "conversational language modeling"


class PromptCompletion(harness.DataFormat):
    name = "prompt_completion"
    description = "a prompt and the completion to learn"
    fields = {"prompt": "prompt", "completion": "reply"}
    trl_type = "prompt-completion"


class Preference(harness.DataFormat):
    name = "preference"
    description = "a prompt with a chosen and a rejected reply (paired preference: DPO, ORPO)"
    fields = {"prompt": "prompt", "chosen": "reply", "rejected": "rejected"}
    trl_type = "preference"


class UnpairedPreference(harness.DataFormat):
    name = "unpaired_preference"
    description = "a prompt, one completion and a label: is the completion desirable? (KTO)"
    fields = {"prompt": "prompt", "completion": "reply", "label": "label"}
    trl_type = "unpaired preference"

    @classmethod
    def replies(cls, example: dict[str, Any]) -> tuple[str, ...]:
        # an undesirable completion is trained away from: like a rejected reply, filters leave it alone
        return ("completion",) if example.get("label") else ()


class PromptOnly(harness.DataFormat):
    name = "prompt_only"
    description = "prompts only; the trainer samples completions and scores them (online RL: GRPO)"
    fields = {"prompt": "prompt"}
    trl_type = "prompt-only"
    keeps_columns = True  # e.g. `answer`, passed to reward functions


FORMATS = (Text, Chat, PromptCompletion, Preference, UnpairedPreference, PromptOnly)


@harness.hookimpl
def register_data_formats(register):
    for fmt in FORMATS:
        register(fmt)
