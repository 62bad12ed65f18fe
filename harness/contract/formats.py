"""Data formats as registered objects: the keys an example carries and what each key is for.

A format is a :class:`DataFormat` subclass offered through the
``register_data_formats`` hook (the first-party ones come from the ``formats``
plugin). Data sources declare one, data preparation checks examples against it
and reads the texts a safety filter should see from its key roles, recipe
validation checks a trainer accepts it, and :meth:`DataFormat.to_trl` gives the
trainer the columns of TRL's matching dataset type. The core names no format.

This module imports no ML library.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

from .component import Component

#: What a key of an example holds; a format maps each of its keys to one role.
ROLES = {
    "document": "plain text trained on as a whole (read by filters whatever `on` says)",
    "conversation": "a list of {role, content} messages (filters read assistant turns as completions)",
    "prompt": "what the model is given: text or a list of messages",
    "reply": "what the model is trained to say: text or a list of messages",
    "rejected": "a reply the model is trained away from (never filtered: a harmful rejected reply is the point)",
    "label": "a boolean: is this example's reply desirable?",
}


class DataFormat(Component):
    """One data format: its keys, how to check an example, and the columns a TRL trainer gets.

    Subclasses set ``name``, ``description``, ``fields`` (``{key: role}``, roles in
    :data:`ROLES`) and ``trl_type`` (the name of TRL's dataset type it is). Override
    :meth:`replies` when which replies are trained toward depends on the example.
    """

    fields: ClassVar[dict[str, str]] = {}
    trl_type: ClassVar[str] = ""
    #: keep other (scalar) columns for the trainer, e.g. ``answer`` for a reward function
    keeps_columns: ClassVar[bool] = False

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(cls.fields)

    @classmethod
    def keys_with(cls, *roles: str) -> tuple[str, ...]:
        return tuple(k for k, r in cls.fields.items() if r in roles)

    @classmethod
    def check_example(cls, example: dict[str, Any]) -> str | None:
        """``None`` when ``example`` fits, else what is wrong with it (one sentence)."""
        missing = [k for k in cls.fields if k not in example]
        if missing:
            return f"lacks {', '.join(missing)} (format '{cls.name}' needs {', '.join(cls.fields)}; " \
                   f"has {', '.join(example) or 'no keys'})"
        for key, role in cls.fields.items():
            problem = _value_problem(example[key], role)
            if problem:
                return f"field {key!r} {problem}"
        return None

    @classmethod
    def replies(cls, example: dict[str, Any]) -> tuple[str, ...]:
        """Keys of the replies this example trains the model toward (filters' ``on = "completion"``)."""
        return cls.keys_with("reply")

    @classmethod
    def to_trl(cls, example: dict[str, Any]) -> dict[str, Any]:
        """The example as one row of TRL's dataset type: only this format's keys."""
        return {k: example[k] for k in cls.fields}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"name": cls.name, "keys": list(cls.fields), "roles": dict(cls.fields), "trl_type": cls.trl_type,
                "description": cls.description}


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value)


def _value_problem(value: Any, role: str) -> str | None:
    if role == "label":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if role == "document":
        return None if isinstance(value, str) else f"must be text, got {type(value).__name__}"
    if role == "conversation":
        return None if _is_messages(value) else "must be a non-empty list of {role, content} messages"
    if isinstance(value, str) or _is_messages(value):
        return None
    return f"must be text or a non-empty list of {{role, content}} messages, got {type(value).__name__}"


def text_slots(fmt: type[DataFormat], example: dict[str, Any], on: str) -> Iterator[tuple[str, int | None]]:
    """``(key, message index or None)`` of every text a safety filter reads for ``on``.

    ``on`` is ``"completion"`` (what the model is trained to say), ``"prompt"`` or ``"all"``.
    """
    replies = fmt.replies(example)
    for key, role in fmt.fields.items():
        if role == "document":
            wanted = True
        elif role == "conversation":
            wanted = True
        elif role == "prompt":
            wanted = on in ("prompt", "all")
        elif role == "reply":
            wanted = on in ("completion", "all") and key in replies
        else:
            wanted = False
        if not wanted:
            continue
        value = example[key]
        if isinstance(value, str):
            yield key, None
            continue
        for i, msg in enumerate(value):
            is_reply = msg.get("role") == "assistant"
            if role == "conversation" and on != "all" and is_reply != (on == "completion"):
                continue
            yield key, i
