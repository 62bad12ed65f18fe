"""The harness's in-memory model as an inspect model API: ``harness/<model name>``.

inspect creates model APIs from a name and JSON-able ``model_args`` (it writes them into every
log), so the live :class:`harness.ModelHandle` cannot travel as an argument: :func:`lend` keeps it
in a table under a key for the duration of one evaluation and the API looks it up by that key.
Generation is the handle's own greedy ``generate``, one sample at a time in a worker thread (the
event loop stays free for inspect's bookkeeping; one connection, so torch sees one caller).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Any, Iterator

import harness

#: the registered API's name: inspect model strings are ``harness/<model name>``
API_NAME = "harness"

_handles: dict[str, tuple[harness.ModelHandle, dict[str, Any]]] = {}
_counter = itertools.count()
_lock = threading.Lock()


@contextlib.contextmanager
def lend(model: harness.ModelHandle, *, max_new_tokens: int, chat: bool) -> Iterator[str]:
    """Make ``model`` reachable to the API under a fresh key (the ``handle`` model arg) while inside."""
    key = f"h{next(_counter)}"
    _handles[key] = (model, {"max_new_tokens": max_new_tokens, "chat": chat})
    try:
        yield key
    finally:
        _handles.pop(key, None)


def _messages(messages: list[Any]) -> list[dict[str, str]]:
    """inspect chat messages as the ``{"role", "content"}`` dicts a chat template takes."""
    return [{"role": m.role if m.role in ("system", "user", "assistant") else "user", "content": m.text}
            for m in messages]


_api_name: str | None = None


def register() -> str:
    """Register the ``harness`` model API with inspect (once; imports inspect_ai); return the name
    inspect registered it under (``harness``, or ``<package>/harness`` when inspect namespaces it
    by the installed distribution)."""
    global _api_name
    if _api_name is not None:
        return _api_name
    import anyio
    from inspect_ai.model import GenerateConfig, ModelAPI, ModelOutput, modelapi

    class HarnessModelAPI(ModelAPI):
        """Answers with the harness model lent under ``model_args["handle"]``."""

        def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                     config: GenerateConfig | None = None, **model_args: Any):
            super().__init__(model_name=model_name, base_url=base_url, api_key=api_key,
                             config=config or GenerateConfig())
            key = model_args.get("handle")
            if key not in _handles:
                raise harness.PluginError(
                    f"inspect model 'harness/{model_name}' has no harness model behind it (handle {key!r}): "
                    "it exists only inside a harness run's `inspect` evaluator, not from `inspect eval`")
            self.handle, self.settings = _handles[key]

        def max_connections(self) -> int:
            return 1

        async def generate(self, input, tools, tool_choice, config):  # noqa: ANN001 - inspect's signature
            max_new = config.max_tokens or self.settings["max_new_tokens"]
            prompt = _messages(input)

            def run() -> str:
                with _lock:
                    return self.handle.generate([prompt], max_new_tokens=max_new, batch_size=1,
                                                chat=self.settings["chat"])[0]

            text = await anyio.to_thread.run_sync(run)
            return ModelOutput.from_content(model=self.model_name, content=text)

    from inspect_ai._util.registry import registry_info

    registered = modelapi(name=API_NAME)(lambda: HarnessModelAPI)
    _api_name = registry_info(registered).name
    return _api_name
