"""Plugin loading: entry points one at a time, errors isolated, components catalogued.

One broken plugin must not brick the CLI (llm #1280, httpie #1204): each entry
point is imported and asked to register inside its own ``try``; a failure is
recorded on the plugin and shown by ``harness plugins`` with a fix. Strict mode
(``--strict`` or ``HARNESS_STRICT_PLUGINS=1``) makes any failure fatal.

Environment:

``HARNESS_LOAD_PLUGINS``     comma-separated entry-point names: load only these
``HARNESS_DISABLE_PLUGINS``  comma-separated entry-point names: never load these
``HARNESS_STRICT_PLUGINS``   ``1``: a plugin that fails to load is an error
``HARNESS_TRACE_PLUGINS``    ``1``: print every hook call to stderr
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .components import COMPONENT_KINDS, Component, ParamError

ENTRY_POINT_GROUP = "harness"

#: registration hook -> component kind it registers
REGISTER_HOOKS = {
    "register_models": "model",
    "register_data_sources": "data_source",
    "register_trainers": "trainer",
    "register_safety_filters": "safety_filter",
    "register_evaluators": "evaluator",
    "register_reporters": "reporter",
    "register_data_formats": "data_format",
    "register_reward_functions": "reward_function",
}

KIND_LABELS = {
    "model": "model loader",
    "data_source": "data source",
    "trainer": "trainer",
    "safety_filter": "safety filter",
    "evaluator": "evaluator",
    "reporter": "reporter",
    "data_format": "data format",
    "reward_function": "reward function",
}


class PluginUnavailable(ImportError):
    """Raise from a plugin module when an optional dependency is missing.

    ``install`` is the command that fixes it; ``harness plugins`` shows it and the
    plugin is listed as ``unavailable`` instead of failing the CLI.
    """

    def __init__(self, message: str, install: str | None = None):
        super().__init__(message)
        self.install = install


class PluginLoadError(RuntimeError):
    """A plugin failed to load while strict mode was on."""


class UnknownComponent(LookupError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded | error | unavailable | disabled
    error: str | None = None
    fix: str | None = None
    components: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in
                ("name", "module", "distribution", "version", "hooks", "status", "error", "fix", "components")}


@dataclass
class ComponentInfo:
    kind: str
    name: str
    plugin: str
    cls: type
    aliases: tuple[str, ...] = ()

    @property
    def fullname(self) -> str:
        return f"{self.plugin}/{self.name}"

    def describe(self, host: "PluginHost") -> dict[str, Any]:
        info = host.plugins.get(self.plugin)
        return {"kind": self.kind, "name": self.name, "fullname": self.fullname, "plugin": self.plugin,
                "distribution": info.distribution if info else None,
                "version": info.version if info else None}


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [x.strip() for x in raw.split(",") if x.strip()]


def _strict_from_env() -> bool:
    return os.environ.get("HARNESS_STRICT_PLUGINS", "").lower() in ("1", "true", "yes")


class PluginHost:
    """The loaded plugins, their components and the pluggy hook relay."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("harness")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.components: dict[str, list[ComponentInfo]] = {k: [] for k in COMPONENT_KINDS}
        from .formats import set_active_host

        set_active_host(self)  # data sources look formats up in the newest host
        if os.environ.get("HARNESS_TRACE_PLUGINS", "") not in ("", "0"):
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            self.pm.enable_tracing()

    @property
    def hook(self):
        return self.pm.hook

    # ------------------------------------------------------------ loading

    def add_plugin(self, plugin: Any, info: PluginInfo, *, strict: bool = False) -> None:
        """Register one plugin object and collect its components; isolate failures."""
        try:
            self.pm.register(plugin, name=info.name)
            info.hooks = sorted(hc.name for hc in (self.pm.get_hookcallers(plugin) or []))
            registered = self._collect_components(plugin, info)
        except Exception as exc:  # noqa: BLE001 - a plugin may raise anything
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(info, exc, strict)
            self.plugins[info.name] = info
            return
        for comp in registered:
            self.components[comp.kind].append(comp)
        info.components = [f"{c.kind}:{c.name}" for c in registered]
        self.plugins[info.name] = info

    def _collect_components(self, plugin: Any, info: PluginInfo) -> list[ComponentInfo]:
        registered: list[ComponentInfo] = []
        for hook_name, kind in REGISTER_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                impl.function(register=self._register_callback(kind, info.name, registered))
        return registered

    def _register_callback(self, kind: str, plugin_name: str, sink: list[ComponentInfo]):
        base = COMPONENT_KINDS[kind]

        def register(cls: type, *, aliases: Iterable[str] = ()) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"register_{kind}s: {cls!r} is not a subclass of harness.{base.__name__}")
            if not cls.name:
                raise TypeError(f"{cls.__name__} has no `name` class attribute")
            if any(c.name == cls.name for c in sink if c.kind == kind):
                raise ValueError(f"{KIND_LABELS[kind]} '{cls.name}' registered twice")
            sink.append(ComponentInfo(kind, cls.name, plugin_name, cls, tuple(aliases)))

        return register

    def _fail(self, info: PluginInfo, exc: BaseException, strict: bool) -> None:
        if isinstance(exc, PluginUnavailable):
            info.status, info.error, info.fix = "unavailable", str(exc), exc.install
        else:
            info.status = "error"
            info.error = f"{type(exc).__name__}: {exc}"
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            if where:
                info.error += f" ({where.filename}:{where.lineno})"
            dist = info.distribution or info.module
            info.fix = (f"fix or upgrade '{dist}', or skip it with "
                        f"HARNESS_DISABLE_PLUGINS={info.name}")
        if strict:
            raise PluginLoadError(f"plugin '{info.name}' failed to load: {info.error}") from exc

    # ------------------------------------------------------------ lookup

    def available(self, kind: str) -> list[ComponentInfo]:
        return list(self.components[kind])

    def resolve(self, kind: str, name: str) -> ComponentInfo:
        """Find a component by ``plugin/name``, ``name`` or alias; errors say what exists."""
        comps = self.components[kind]
        if "/" in name:
            plugin, short = name.split("/", 1)
            matches = [c for c in comps if c.plugin == plugin and (c.name == short or short in c.aliases)]
        else:
            matches = [c for c in comps if c.name == name] or [c for c in comps if name in c.aliases]
        if len(matches) == 1:
            return matches[0]
        label = KIND_LABELS[kind]
        if len(matches) > 1:
            raise UnknownComponent(f"{label} '{name}' is ambiguous: write one of "
                                   + ", ".join(repr(c.fullname) for c in matches))
        known = sorted({c.name for c in comps} | {c.fullname for c in comps})
        msg = f"unknown {label} '{name}'"
        close = difflib.get_close_matches(name, known, n=3)
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elif known:
            msg += f"; available: {', '.join(sorted({c.name for c in comps}))}"
        broken = [p for p in self.plugins.values() if p.status in ("error", "unavailable")]
        if broken:
            msg += ". Plugins that failed to load: " + "; ".join(
                f"{p.name} ({p.status}: {p.error}{'; fix: ' + p.fix if p.fix else ''})" for p in broken)
        raise UnknownComponent(msg)

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Component:
        """Instantiate a component with validated parameters (raises ParamError)."""
        info = self.resolve(kind, name)
        comp = info.cls(**(params or {}))
        comp.registered_as = info  # type: ignore[attr-defined]
        return comp

    def check_params(self, kind: str, name: str, params: dict[str, Any]) -> None:
        self.resolve(kind, name).cls.validate_params(params)

    def problems(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status in ("error", "unavailable")]


def load_plugins(*, strict: bool | None = None, allow: list[str] | None = None,
                 block: list[str] | None = None, extra: Iterable[tuple[str, Any]] = ()) -> PluginHost:
    """Discover and load plugins from the ``harness`` entry-point group.

    ``extra`` adds in-process plugins as ``(name, object)`` pairs (tests, notebooks).
    """
    strict = _strict_from_env() if strict is None else strict
    allow = allow if allow is not None else _env_list("HARNESS_LOAD_PLUGINS")
    block = block if block is not None else (_env_list("HARNESS_DISABLE_PLUGINS") or [])
    host = PluginHost()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(name=ep.name, module=ep.value,
                          distribution=dist.name if dist else None,
                          version=dist.version if dist else None)
        if ep.name in host.plugins:
            continue  # the same distribution seen twice on sys.path
        if (allow is not None and ep.name not in allow) or ep.name in block:
            info.status = "disabled"
            host.plugins[ep.name] = info
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001
            host._fail(info, exc, strict)
            host.plugins[ep.name] = info
            continue
        host.add_plugin(plugin, info, strict=strict)
    for name, plugin in extra:
        host.add_plugin(plugin, PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin))),
                        strict=strict)
    return host


__all__ = ["ENTRY_POINT_GROUP", "PluginHost", "PluginInfo", "ComponentInfo", "PluginUnavailable",
           "PluginLoadError", "UnknownComponent", "ParamError", "load_plugins"]


_HOST: PluginHost | None = None


def get_host(*, reload: bool = False) -> PluginHost:
    """The process-wide plugin host (loaded once; ``reload=True`` after installs)."""
    global _HOST
    if _HOST is None or reload:
        _HOST = load_plugins()
    return _HOST
