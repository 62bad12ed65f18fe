"""Many runs: a grid of ``--set`` overrides (``harness sweep``) or a list of recipes
(``harness submit``), each point an ordinary run in the store.

Every point is loaded with :func:`harness.run.recipe.load_checked` (the ``--set`` path of
``harness run``) and run with :func:`harness.run.pipeline.run_recipe`; its record carries
``sweep = {"id", "point"}`` and the tag ``sweep:<id>``. Two executors:

* ``local``: the points one after another in this process;
* ``ray``: one Ray task per point (``num_gpus`` = ``--gpus-per-run``), scheduled by Ray
  itself: no scheduler of our own. Ray is the optional ``ray`` extra.

One point's failure never stops the others. Each point ends as one of ``passed`` (0),
``gate failed`` (1) or ``could not run`` (2: the recipe did not load or check, a stage
crashed, the task died); the sweep's exit code is the worst of them.

Core module: imports neither torch nor ray at import time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import HarnessError
from ..store.local import is_remote_url

EXECUTORS = ("local", "ray")
PASSED, GATE_FAILED, NOT_RUN = 0, 1, 2


class SweepError(HarnessError):
    """A grid or a sweep option is wrong (exit 2, before any point runs)."""


@dataclass
class Point:
    """One run of a sweep: a recipe, the ``--set`` overrides it is loaded with, the grid values."""

    index: int
    recipe: str
    overrides: list[str]
    values: dict[str, Any]


@dataclass
class Outcome:
    """How one point ended."""

    point: Point
    status: str  # completed | failed | not run
    run_id: str | None = None
    gates_passed: bool | None = None
    error: str | None = None
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> int:
        if self.status != "completed":
            return NOT_RUN
        return GATE_FAILED if self.gates_passed is False else PASSED


# ------------------------------------------------------------------ the grid

def split_values(text: str) -> list[str]:
    """``1,2,3`` → ``["1", "2", "3"]``; commas inside ``[...]``, ``{...}`` or quotes stay
    (``'["a","b"],["c"]'`` is two values)."""
    out, cur, depth, quote = [], "", 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def parse_grid(specs: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``--grid KEY=V1,V2`` options → ``[(KEY, ["V1", "V2"]), ...]``; :class:`SweepError` when one is
    malformed (no ``=``, a bad key path, an empty value, a key given twice)."""
    from .overrides import OverrideError, split_path

    grid: list[tuple[str, list[str]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SweepError(f"--grid {spec}: expected KEY=V1,V2,... (e.g. --grid train.0.learning_rate=1e-3,3e-3)")
        try:
            split_path(key, spec)
        except OverrideError as exc:
            raise SweepError(f"--grid {spec}: {exc.message}") from None
        items = split_values(values)
        if any(not v for v in items):
            raise SweepError(f"--grid {spec}: an empty value (write KEY=V1,V2 with no empty entry)")
        if len(set(items)) != len(items):
            raise SweepError(f"--grid {spec}: a value is given twice")
        if key in (k for k, _ in grid):
            raise SweepError(f"--grid {key}: given twice (put every value in one --grid {key}=V1,V2)")
        grid.append((key, items))
    if not grid:
        raise SweepError("give at least one --grid KEY=V1,V2,...")
    return grid


def expand(recipe: str, grid: list[tuple[str, list[str]]], overrides: Iterable[str] = ()) -> list[Point]:
    """Every combination of the grid (the first key varies slowest), each as the recipe's
    ``--set`` overrides followed by the point's own ``KEY=VALUE`` (values are TOML, as for ``--set``)."""
    from .overrides import parse_value

    keys = [k for k, _ in grid]
    return [Point(i, recipe, [*overrides, *(f"{k}={v}" for k, v in zip(keys, combo))],
                  {k: parse_value(v) for k, v in zip(keys, combo)})
            for i, combo in enumerate(itertools.product(*(vals for _, vals in grid)))]


def recipe_points(recipes: Iterable[str], overrides: Iterable[str] = ()) -> list[Point]:
    """``harness submit``: one point per recipe, all with the same ``--set`` overrides."""
    return [Point(i, r, list(overrides), {"recipe": r}) for i, r in enumerate(recipes)]


def new_sweep_id() -> str:
    """Sorts by start time, unique across machines: ``sw-20261201-105500-3f9a``."""
    return f"sw-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


# ------------------------------------------------------------------ one point

def run_point(point: dict[str, Any], store_root: str, sweep_id: str, use_cache: bool = True,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """Load, check and run one point as an ordinary run (what ``harness run RECIPE --set ...`` does);
    the same function runs in this process (local) or in a Ray task. Never raises for the point's own
    failure: the result says how it ended (an :class:`Outcome` as a dict)."""
    from .. import console
    from ..contract.plugins import get_host
    from ..store.local import Store
    from .pipeline import run_recipe
    from .recipe import load_checked

    os.environ.update(env or {})
    p = Point(**point)
    t0 = time.perf_counter()
    store = Store(store_root)

    def run_loader_store(loaded) -> None:  # as `harness run`: a `run` loader reads this store
        extra = loaded.recipe.model.model_extra
        if loaded.recipe.model.loader == "run" and extra is not None:
            extra.setdefault("store", store.location)

    try:
        host = get_host()
        loaded = load_checked(p.recipe, host, p.overrides, before_check=run_loader_store)
        record = run_recipe(loaded, host, store, use_cache=use_cache, log=console.log, sweep={"id": sweep_id, "point": p.values})
    except HarnessError as exc:
        return asdict(Outcome(p, "not run", error=str(exc), duration_s=time.perf_counter() - t0))
    except Exception as exc:  # noqa: BLE001 - one point's bug must not stop the sweep
        return asdict(Outcome(p, "not run", error=f"{type(exc).__name__}: {exc}",
                              duration_s=time.perf_counter() - t0))
    err = record.get("error") or {}
    return asdict(Outcome(p, record["status"], record["id"], record.get("gates_passed"),
                          f"stage '{err.get('stage')}': {err.get('type')}: {err.get('message')}" if err else None,
                          time.perf_counter() - t0))


def _outcome(d: dict[str, Any]) -> Outcome:
    return Outcome(**{**d, "point": Point(**d["point"])})


# ------------------------------------------------------------------ executors

def run_local(points: list[Point], store_root: str, sweep_id: str, *, use_cache: bool = True,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """The points one after another in this process (library chatter on stderr)."""
    outcomes = []
    for p in points:
        with contextlib.redirect_stdout(sys.stderr):
            o = _outcome(run_point(asdict(p), store_root, sweep_id, use_cache))
        outcomes.append(o)
        if on_done:
            on_done(o)
    return outcomes


def _forwarded_env() -> dict[str, str]:
    """The harness's own settings (plugins, cache, device) travel to every Ray worker."""
    return {k: v for k, v in os.environ.items() if k.startswith("HARNESS_")}


def _absolute(recipe: str) -> str:
    """A recipe file's absolute path; a bundled recipe's name (``quickstart``) as it is."""
    return str(Path(recipe).resolve()) if Path(recipe).is_file() else recipe


def run_ray(points: list[Point], store_root: str, sweep_id: str, *, address: str | None = None,
            gpus_per_run: float = 0, cpus_per_run: float = 1, use_cache: bool = True,
            on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """One Ray task per point, asking for ``gpus_per_run`` GPUs; Ray schedules them. Connects to
    ``address`` (``ray://host:10001``, ``auto``) or to the Ray this process already started, or
    starts a local one (and stops it at the end). The store must be the same path on every node."""
    try:
        import ray
    except ImportError:
        raise SweepError("--executor ray needs Ray: pip install 'posttrain-harness[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, configure_logging=False)
        except Exception as exc:  # noqa: BLE001 - Ray's own connection errors, named
            raise SweepError(f"could not start or reach Ray{f' at {address}' if address else ''}: "
                             f"{type(exc).__name__}: {exc}") from None
    try:
        task = ray.remote(run_point).options(num_gpus=gpus_per_run, num_cpus=cpus_per_run, max_retries=0,
                                             name=f"harness-{sweep_id}")
        env = _forwarded_env()
        # a worker's working folder is not this one: a recipe file goes by its absolute path
        pending = {task.remote({**asdict(p), "recipe": _absolute(p.recipe)}, store_root, sweep_id, use_cache, env): p
                   for p in points}
        done: dict[int, Outcome] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                p = pending.pop(ref)
                try:
                    o = _outcome(ray.get(ref))
                except Exception as exc:  # noqa: BLE001 - the task died (worker crash, node lost, OOM)
                    o = Outcome(p, "not run", error=f"Ray task: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                done[p.index] = o
                if on_done:
                    on_done(o)
        return [done[p.index] for p in points]
    finally:
        if started_here:
            ray.shutdown()


def run_points(points: list[Point], store_root: str | Path, sweep_id: str, *, executor: str = "local",
               **kwargs: Any) -> list[Outcome]:
    if executor not in EXECUTORS:
        raise SweepError(f"--executor {executor}: choose one of {', '.join(EXECUTORS)}")
    root = str(store_root) if is_remote_url(str(store_root)) else str(Path(store_root).resolve())
    if executor == "local":
        for k in ("address", "gpus_per_run", "cpus_per_run"):
            if kwargs.pop(k, None):
                raise SweepError(f"--{k.replace('_', '-')} needs --executor ray")
        return run_local(points, root, sweep_id, **kwargs)
    return run_ray(points, root, sweep_id, **kwargs)


# ------------------------------------------------------------------ the summary

def exit_code(outcomes: list[Outcome]) -> int:
    """0 every gate passed, 1 some gate failed, 2 some point could not run."""
    return max((o.code for o in outcomes), default=PASSED)


def _value(v: Any) -> str:
    import json

    return v if isinstance(v, str) else json.dumps(v)


def table(outcomes: list[Outcome]) -> str:
    word = {PASSED: "pass", GATE_FAILED: "GATE FAILED", NOT_RUN: "NOT RUN"}
    rows = [[str(o.point.index), " ".join(f"{k}={_value(v)}" for k, v in o.point.values.items()),
             word[o.code] if o.status in ("completed", "not run") else "FAILED", o.run_id or "-",
             f"{o.duration_s:.0f}s", (o.error or "").splitlines()[0][:100] if o.error else ""]
            for o in outcomes]
    headers = ["#", "point", "result", "run", "time", "error"]
    widths = [max(len(x) for x in col) for col in zip(headers, *rows)]
    line = lambda r: "  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
