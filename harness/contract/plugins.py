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
import re
import sys
import traceback
import weakref
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable

import pluggy

from ..errors import HookFailed, PluginError
from . import hookspecs
from .component import Component, ParamError
from .kinds import COMPONENT_KINDS, KINDS, REGISTER_HOOKS

ENTRY_POINT_GROUP = "harness"

class PluginUnavailable(PluginError, ImportError):
    """Raise from a plugin module when an optional dependency is missing.

    ``install`` is the command that fixes it; ``harness plugins`` shows it and the
    plugin is listed as ``unavailable`` instead of failing the CLI.
    """

    def __init__(self, message: str, install: str | None = None):
        super().__init__(message)
        self.install = install


class PluginLoadError(PluginError, RuntimeError):
    """A plugin failed to load, or two plugins collide, while strict mode was on."""


class UnknownComponent(PluginError, LookupError):
    """A recipe names a component no loaded plugin offers, or one that several offer."""

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
    #: entry-point name when the plugin is loaded under another name (a collision)
    entry_point: str | None = None
    #: what this plugin collides with (a plugin name, a component name), one sentence each
    collisions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in
                ("name", "module", "distribution", "version", "hooks", "status", "error", "fix", "components",
                 "entry_point", "collisions")}


@dataclass
class ComponentInfo:
    kind: str
    name: str
    plugin: str
    cls: type[Component]
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
    """The loaded plugins, their components and the pluggy hook relay.

    Every hook is called through pluggy (``pm.hook`` or a per-plugin subset of it),
    so tracing sees every call and arguments added to a spec later reach plugins.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("harness")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.components: dict[str, list[ComponentInfo]] = {k: [] for k in COMPONENT_KINDS}
        _set_active(self)  # data sources look formats up in the newest host
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
            _check_hook_names(plugin, info.hooks)
            registered = self._collect_components(plugin, info)
        except Exception as exc:  # noqa: BLE001 - a plugin may raise anything: record it, keep going
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(info, exc, strict)
            self.plugins[info.name] = info
            return
        for comp in registered:
            self.components[comp.kind].append(comp)
        info.components = [f"{c.kind}:{c.name}" for c in registered]
        self.plugins[info.name] = info

    def _only(self, hook_name: str, plugin: Any):
        """The hook caller restricted to one plugin's implementation (still through pluggy)."""
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _collect_components(self, plugin: Any, info: PluginInfo) -> list[ComponentInfo]:
        registered: list[ComponentInfo] = []
        for hook_name, kind in REGISTER_HOOKS.items():
            if hook_name in info.hooks:
                self._only(hook_name, plugin)(register=self._register_callback(kind, info.name, registered))
        return registered

    def _register_callback(self, kind: str, plugin_name: str, sink: list[ComponentInfo]):
        base = COMPONENT_KINDS[kind]

        def register(cls: type, *, aliases: Iterable[str] = ()) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"register_{kind}s: {cls!r} is not a subclass of harness.{base.__name__}")
            if not cls.name:
                raise TypeError(f"{cls.__name__} has no `name` class attribute")
            if "/" in cls.name:
                raise ValueError(f"{KINDS[kind].label} name '{cls.name}' may not contain '/'")
            if any(c.name == cls.name for c in sink if c.kind == kind):
                raise ValueError(f"{KINDS[kind].label} '{cls.name}' registered twice")
            sink.append(ComponentInfo(kind, cls.name, plugin_name, cls, tuple(aliases)))

        return register

    def _fail(self, info: PluginInfo, exc: BaseException, strict: bool) -> None:
        if isinstance(exc, PluginUnavailable):
            info.status, info.error, info.fix = "unavailable", str(exc), exc.install
        elif isinstance(exc, UnknownHook):
            info.status, info.error, info.fix = "error", str(exc), exc.fix
        else:
            info.status = "error"
            info.error = f"{type(exc).__name__}: {exc}"
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            if where:
                info.error += f" ({where.filename}:{where.lineno})"
            dist = info.distribution or info.module
            info.fix = (f"fix or upgrade '{dist}', or skip it with "
                        f"HARNESS_DISABLE_PLUGINS={info.entry_point or info.name}")
        if strict:
            raise PluginLoadError(f"plugin '{info.name}' failed to load: {info.error}") from exc

    # ------------------------------------------------------------ calling hooks

    def call_each(self, hook_name: str, **kwargs: Any) -> list[HookFailed]:
        """Call every plugin's implementation of a hook, one plugin at a time, through pluggy.

        One plugin raising does not stop the others; each failure comes back as a
        :class:`HookFailed` naming the hook and the plugin, for the caller to decide.
        """
        failures: list[HookFailed] = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):  # pluggy's own call order
            try:
                self._only(hook_name, impl.plugin)(**kwargs)
            except Exception as exc:  # noqa: BLE001 - the plugin's bug, attributed to it
                failures.append(HookFailed(hook_name, impl.plugin_name, exc))
        return failures

    # ------------------------------------------------------------ collisions

    def collisions(self) -> list[str]:
        """Every collision as one sentence: entry-point names taken twice, component names offered twice."""
        seen: list[str] = []
        for info in self.plugins.values():
            seen += [c for c in info.collisions if c not in seen]
        return seen + [sentence for sentence, _ in self._component_collisions() if sentence not in seen]

    def _component_collisions(self) -> list[tuple[str, list[str]]]:
        out = []
        for kind, comps in self.components.items():
            by_name: dict[str, list[ComponentInfo]] = {}
            for c in comps:
                for n in (c.name, *c.aliases):
                    by_name.setdefault(n, []).append(c)
            for name, offered in sorted(by_name.items()):
                owners = sorted({c.plugin for c in offered})
                if len(owners) > 1:
                    out.append((f"{KINDS[kind].label} '{name}' is offered by plugins "
                                + " and ".join(f"'{p}'" for p in owners) + "; a recipe must write "
                                + " or ".join(f"'{p}/{name}'" for p in owners), owners))
        return out

    def _note_component_collisions(self) -> None:
        for sentence, owners in self._component_collisions():
            for owner in owners:
                self.plugins[owner].collisions.append(sentence)

    # ------------------------------------------------------------ lookup

    def available(self, kind: str) -> list[ComponentInfo]:
        return list(self.components[kind])

    def providing(self, kind: str, test: Callable[[type], bool]) -> list[ComponentInfo]:
        """Components of a kind whose class passes ``test`` (a declared capability), in load order."""
        return [c for c in self.components[kind] if test(c.cls)]

    def filter_detecting(self, label: str) -> Any:
        """A safety filter (default parameters) that can return ``label``, found by what it
        ``detects``, not by its name; None when no loaded filter can. First loaded wins."""
        found = self.providing("safety_filter", lambda cls: label in getattr(cls, "detects", ()))
        return self.create("safety_filter", found[0].fullname, {}) if found else None

    def resolve(self, kind: str, name: str) -> ComponentInfo:
        """Find a component by ``plugin/name``, ``name`` or alias; errors say what exists."""
        comps = self.components[kind]
        if "/" in name:
            plugin, short = name.split("/", 1)
            matches = [c for c in comps if c.plugin == plugin and (c.name == short or short in c.aliases)]
        else:
            matches = [c for c in comps if c.name == name] or [c for c in comps if name in c.aliases]
        if len(matches) == 1:
            self._refuse_stand_in(kind, name, matches[0])
            return matches[0]
        label = KINDS[kind].label
        if len(matches) > 1:
            raise UnknownComponent(f"{label} '{name}' is ambiguous: plugins "
                                   + " and ".join(repr(c.plugin) for c in matches)
                                   + " both offer it; write one of "
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
        disabled = [p.name for p in self.plugins.values() if p.status == "disabled"]
        if disabled:
            msg += (". Disabled plugins (their components are unknown until enabled, see "
                    "HARNESS_LOAD_PLUGINS / HARNESS_DISABLE_PLUGINS): " + ", ".join(sorted(disabled)))
        raise UnknownComponent(msg)

    def _refuse_stand_in(self, kind: str, name: str, found: ComponentInfo) -> None:
        """Fail closed: while a first-party plugin failed to load (or the one whose entry-point name
        it took is disabled), a bare safety-filter name may not fall through to a third-party filter:
        it could be standing in for the missing one."""
        if kind != "safety_filter" or "/" in name or self._is_first_party(found.plugin):
            return
        taken = self.plugins[found.plugin].entry_point if found.plugin in self.plugins else None
        missing = sorted(p.name for p in self.plugins.values()
                         if p.distribution == CORE_DISTRIBUTION
                         and (p.status in ("error", "unavailable") or (p.status == "disabled" and p.name == taken)))
        if missing:
            raise UnknownComponent(
                f"safety filter '{name}' comes from third-party plugin '{found.plugin}' while first-party "
                f"plugin(s) {', '.join(missing)} did not load; write '{found.fullname}' to use it on purpose, "
                "or fix the first-party plugin (see `harness plugins`)")

    def _is_first_party(self, plugin: str) -> bool:
        info = self.plugins.get(plugin)
        return info is not None and info.distribution == CORE_DISTRIBUTION

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Component:
        """Instantiate a component with validated parameters (raises ParamError)."""
        info = self.resolve(kind, name)
        comp = info.cls(**(params or {}))
        comp.registered_as = info
        return comp

    def check_params(self, kind: str, name: str, params: dict[str, Any]) -> None:
        self.resolve(kind, name).cls.validate_params(params)

    def problems(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status in ("error", "unavailable")]


class UnknownHook(PluginError):
    """A plugin implements a hook that does not exist (a misspelling), or forgot ``@hookimpl``."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


def _check_hook_names(plugin: Any, hooks: list[str]) -> None:
    """pluggy's ``check_pending`` for one plugin, with the fix spelled out.

    A ``@hookimpl`` whose name matches no spec would otherwise load as "ok" and do
    nothing; a spec-named function without ``@hookimpl`` is never called at all.
    """
    specs = sorted(SPEC_NAMES)
    for name in hooks:
        if name not in SPEC_NAMES:
            close = difflib.get_close_matches(name, specs, n=1)
            fix = (f"rename '{name}' to '{close[0]}'" if close
                   else f"use one of the hooks in harness.contract.hookspecs: {', '.join(specs)}")
            raise UnknownHook(f"unknown hook '{name}': harness has no such hook", fix)
    for name in SPEC_NAMES - set(hooks):
        if callable(getattr(plugin, name, None)):
            raise UnknownHook(f"'{name}' is not decorated with @harness.hookimpl, so it is never called",
                              f"add @harness.hookimpl above 'def {name}'")


SPEC_NAMES = frozenset(n for n in dir(hookspecs) if getattr(getattr(hookspecs, n), "harness_spec", None))

#: the distribution whose plugins are the first-party ones (they keep their names in a collision)
CORE_DISTRIBUTION = "posttrain-harness"


def load_plugins(*, strict: bool | None = None, allow: list[str] | None = None,
                 block: list[str] | None = None, extra: Iterable[tuple[str, Any]] = ()) -> PluginHost:
    """Discover and load plugins from the ``harness`` entry-point group.

    ``extra`` adds in-process plugins as ``(name, object)`` pairs (tests, notebooks).
    Two distributions with the same entry-point name both load: the first-party
    one (or else the first found) keeps the name, the other is named after its
    distribution, and the collision is recorded (fatal in strict mode).
    """
    strict = _strict_from_env() if strict is None else strict
    allow = allow if allow is not None else _env_list("HARNESS_LOAD_PLUGINS")
    block = block if block is not None else (_env_list("HARNESS_DISABLE_PLUGINS") or [])
    host = PluginHost()
    seen: set[tuple[str, str | None, str]] = set()

    def first_party_first(ep):
        dist = getattr(ep, "dist", None)
        return (ep.name, (dist.name if dist else "") != CORE_DISTRIBUTION)

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=first_party_first):
        dist = getattr(ep, "dist", None)
        key = (ep.name, _normalized(dist.name) if dist else None, ep.value)
        if key in seen:
            continue  # the same distribution seen twice on sys.path (e.g. an egg-info beside its dist-info)
        seen.add(key)
        info = PluginInfo(name=ep.name, module=ep.value,
                          distribution=dist.name if dist else None,
                          version=dist.version if dist else None)
        if ep.name in host.plugins:
            _rename_colliding(host, info, strict)
        if (allow is not None and ep.name not in allow and info.name not in allow) \
                or ep.name in block or info.name in block:
            info.status = "disabled"
            host.plugins[info.name] = info
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - a plugin may raise anything at import
            host._fail(info, exc, strict)
            host.plugins[info.name] = info
            continue
        host.add_plugin(plugin, info, strict=strict)
    for name, plugin in extra:
        info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        existing = host.plugins.get(name)
        if existing is not None and existing.module == info.module:  # its own installed entry point
            if existing.status == "loaded":
                continue  # already loaded: the same plugin, not a collision
            del host.plugins[name]  # disabled by the allow-list: the in-process plugin takes its place
        if name in host.plugins:
            _rename_colliding(host, info, strict)
        host.add_plugin(plugin, info, strict=strict)
    host._note_component_collisions()
    host.pm.check_pending()  # belt and braces: plugins with unknown hooks were refused one by one above
    if strict and host.collisions():
        raise PluginLoadError("plugins collide (strict mode):\n  - " + "\n  - ".join(host.collisions()))
    return host


def _normalized(distribution: str) -> str:
    """PEP 503 name: 'harness_demo', 'harness-demo' and 'Harness.Demo' are one distribution."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _rename_colliding(host: PluginHost, info: PluginInfo, strict: bool) -> None:
    """A second plugin under a taken entry-point name loads as its distribution's name."""
    first = host.plugins[info.name]
    info.entry_point = info.name
    candidate = info.distribution or f"{info.name}-2"
    n = 2
    while candidate in host.plugins or "/" in candidate:
        candidate = f"{info.distribution or info.name}-{n}".replace("/", "-")
        n += 1
    sentence = (f"entry point '{info.name}' of '{info.distribution or info.module}' is also the entry point "
                f"of '{first.distribution or first.module}'; it keeps the name '{info.name}', the other loads "
                f"as '{candidate}'")
    info.name = candidate
    first.collisions.append(sentence)
    info.collisions.append(sentence)
    if strict:
        raise PluginLoadError(f"plugins collide (strict mode): {sentence}")


def create_component(kind: str, name: str, params: dict[str, Any] | None = None) -> Component:
    """Create a component of the process-wide plugin host (e.g. a judge filter loading a model)."""
    return get_host().create(kind, name, params)


__all__ = ["ENTRY_POINT_GROUP", "PluginHost", "PluginInfo", "ComponentInfo", "PluginUnavailable",
           "PluginLoadError", "UnknownComponent", "UnknownHook", "ParamError", "load_plugins",
           "create_component", "REGISTER_HOOKS"]


_HOST: PluginHost | None = None


def get_host(*, reload: bool = False) -> PluginHost:
    """The process-wide plugin host (loaded once; ``reload=True`` after installs)."""
    global _HOST
    if _HOST is None or reload:
        _HOST = load_plugins()
    return _HOST


_ACTIVE: "weakref.ReferenceType[PluginHost] | None" = None


def _set_active(host: PluginHost) -> None:
    global _ACTIVE
    _ACTIVE = weakref.ref(host)


def active_host() -> PluginHost:
    """The newest plugin host still alive (format lookups consult it), else the process-wide one."""
    host = _ACTIVE() if _ACTIVE is not None else None
    return host if host is not None else get_host()
