"""The base every registered component builds on: a name, a description, validated parameters.

Every component class has a ``name`` (what a recipe writes), a one-line
``description`` and an optional ``Params`` pydantic model that validates the
keyword arguments a recipe gives it (unknown keys are rejected by name). The
host instantiates ``Cls(**params)`` and the validated parameters are recorded
in every run record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import RecipeError


class Params(BaseModel):
    """Base for a component's parameters: unknown keys are errors."""

    # defer_build: a model's validation schema is built when it first validates, not when its class
    # is defined, so defining components (every plugin, at `harness plugins`) stays cheap
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)


class ParamError(RecipeError):
    """Parameters a recipe gave a component are wrong.

    ``errors`` is a list of ``(key_path, message)``; the key path is relative to
    the component's own table in the recipe.
    """

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        self.source = ""
        Exception.__init__(self, "; ".join(f"{k}: {m}" if k else m for k, m in errors))


class Component:
    """Base class of every registered component."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel] | None] = None
    #: set by the plugin host on every instance it creates: which plugin registered it, under what name
    registered_as: Any = None

    def __init__(self, **params: Any):
        self.params = self.validate_params(params)

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> Any:
        """Validate recipe parameters; return what ``self.params`` holds.

        The default uses ``Params`` (a pydantic model). Override for schemas
        that live elsewhere (a trainer checks keys against TRL's config).
        Raise :class:`ParamError` with key paths on bad input.
        """
        if cls.Params is None:
            if params:
                raise ParamError([(k, f"unknown key: '{cls.name}' takes no parameters") for k in params])
            return Params()
        try:
            return cls.Params.model_validate(params)
        except ValidationError as exc:
            raise ParamError(pydantic_errors(exc, known=list(cls.Params.model_fields))) from None

    @classmethod
    def code_fingerprint(cls) -> str:
        """Hash of the Python sources that define this component: every ``.py`` file in the folder
        of its module (its package), or the module file alone for a top-level module.

        Put it in an evaluator's :meth:`Evaluator.fingerprint`, so that a cached result never
        outlives the code that produced it (an editable install does not change the version).
        """
        import hashlib
        import sys

        file = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if not file:
            return ""
        path = Path(file).resolve()
        top_level = "." not in cls.__module__ and path.name != "__init__.py"
        files = [path] if top_level else sorted(path.parent.rglob("*.py"))
        digests = {str(f.relative_to(path.parent)): hashlib.blake2b(f.read_bytes(), digest_size=8).hexdigest()
                   for f in files}
        blob = "\n".join(f"{k} {v}" for k, v in sorted(digests.items())).encode()
        return hashlib.blake2b(blob, digest_size=8).hexdigest()

    def params_dict(self) -> dict[str, Any]:
        """The validated parameters as JSON-able data, for the run record."""
        if isinstance(self.params, BaseModel):
            return self.params.model_dump(mode="json")
        return dict(self.params)


def pydantic_errors(exc: ValidationError, known: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(key.path, message)`` pairs.

    ``known``: the top-level keys the model takes, to suggest the closest one for a typo.
    """
    import difflib

    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            close = difflib.get_close_matches(path, known, n=1) if len(err["loc"]) == 1 else []
            if close:
                msg += f"; did you mean '{close[0]}'?"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = f"{err['msg']} (got {err.get('input')!r})"
        out.append((path, msg))
    return out
