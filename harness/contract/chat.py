"""Plain-text examples to TRL's conversational form (so TRL applies the chat template).

``prompt`` becomes ``[{"role": "user", ...}]`` (after an optional system
message); ``completion``/``chosen``/``rejected`` become ``[{"role": "assistant", ...}]``;
``messages`` gets the system message prepended when it has none. Fields that
are already message lists are left as they are.
"""

from __future__ import annotations

from typing import Any

_ASSISTANT_KEYS = ("completion", "chosen", "rejected")


def to_conversational(example: dict[str, Any], fmt: str, system_prompt: str | None = None) -> dict[str, Any]:
    if fmt == "text":
        raise ValueError("format 'text' has no roles: it cannot be turned into chat messages")
    out = dict(example)
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    if fmt == "chat":
        msgs = list(out["messages"])
        if system and not (msgs and msgs[0].get("role") == "system"):
            msgs = system + msgs
        out["messages"] = msgs
        return out
    prompt = out["prompt"]
    if isinstance(prompt, str):
        out["prompt"] = system + [{"role": "user", "content": prompt}]
    elif system and not (prompt and prompt[0].get("role") == "system"):
        out["prompt"] = system + list(prompt)
    for key in _ASSISTANT_KEYS:
        if isinstance(out.get(key), str):
            out[key] = [{"role": "assistant", "content": out[key]}]
    return out
