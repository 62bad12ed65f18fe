"""One base class for every error the harness raises on purpose.

The CLI turns any :class:`HarnessError` into exit code 2 and prints its message
alone (the traceback only with ``harness --debug``). Anything else that escapes
is a bug and is reported as one. The hierarchy is small on purpose::

    HarnessError
    ├── RecipeError     the recipe (or a component's parameters, a gate) is wrong
    ├── PluginError     a plugin failed to load, a component is unknown or ambiguous
    ├── DataError       data rows are malformed or a data set cannot be prepared
    ├── StageError      a stage or a lifecycle hook raised while the run was going
    └── StoreError      a run is missing, an archive is bad, runs cannot be compared

Concrete classes (``ParamError``, ``UnknownComponent``, ``RunNotFound``...) live
next to the code that raises them and derive from one of these; they also keep
the builtin base they always had (``ValueError``, ``LookupError``...), so old
``except ValueError`` code still catches them. This module imports nothing.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every deliberate harness error: the message says what, where, and what to do."""

    #: the exit code the CLI uses for it: "the run could not be done"
    exit_code = 2


class RecipeError(HarnessError, ValueError):
    """A recipe is invalid. ``errors`` holds ``(key_path, message)`` pairs, all of them at once."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = errors
        lines = [f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in errors]
        super().__init__("\n".join(lines))


class PluginError(HarnessError):
    """A plugin cannot be used: it failed to load, collides with another, or is missing."""


class DataError(HarnessError, ValueError):
    """Data rows are malformed, or a data set cannot be prepared for its trainer."""


class StageError(HarnessError, RuntimeError):
    """Something raised while a run was going (a stage, or a plugin's lifecycle hook)."""


class StoreError(HarnessError):
    """The store cannot give what was asked: a missing run, a bad archive, incomparable runs."""


class HookFailed(StageError):
    """A plugin's hook implementation raised. Names the hook and the plugin it came from."""

    def __init__(self, hook: str, plugin: str, exc: BaseException):
        super().__init__(f"hook '{hook}' of plugin '{plugin}' raised {type(exc).__name__}: {exc}")
        self.hook = hook
        self.plugin = plugin
        self.original = exc


__all__ = ["HarnessError", "RecipeError", "PluginError", "DataError", "StageError", "StoreError", "HookFailed"]
