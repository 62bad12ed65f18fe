"""posttrain-harness: evaluate -> post-train -> evaluate, compare paired, gate, record.

This module is the public API a plugin may use: everything in ``__all__`` is
promised (only ever extended); every other module of ``harness`` is internal and
may change. First-party plugins import nothing else (import-linter checks it,
see docs/architecture.md). Importing it imports no ML library: helpers that
need torch (``pick_device``, ``torch_dtype``) import it when called.
"""

from typing import TYPE_CHECKING, Any

from .contract.chat import to_conversational
from .contract.components import (
    CONCERNS,
    Component,
    DataSource,
    EvalContext,
    EvalResult,
    Evaluator,
    Metric,
    ModelHandle,
    ModelLoader,
    ParamError,
    Params,
    Reporter,
    RewardFunction,
    SafetyFilter,
    SafetySuite,
    TaskInfo,
    TrainContext,
    Trainer,
    TrainResult,
    Verdict,
)
from .contract.data import DATA_FORMATS, TrainData, get_format, registered_formats
from .contract.events import RunEnded, RunStarted, StageEnded
from .contract.formats import DataFormat
from .contract.hookspecs import hookimpl
from .contract.kinds import COMPONENT_KINDS
from .contract.plugins import PluginUnavailable, UnknownComponent, create_component, get_host
from .errors import DataError, HarnessError, HookFailed, PluginError, RecipeError, StageError, StoreError
from .fingerprint import content_hash, folder_fingerprint, items_hash

# What plugins define their components with is imported above; what they call while running
# (the store, the statistics, the reports) is imported on first use, so `harness plugins` and a
# plugin's import stay light. `from harness import Store` works as before.
_LAZY = {
    "distributed": (".distributed", None),
    "render_summary": (".reports.summary", "render_summary"),
    "write_summary": (".reports.summary", "write_summary"),
    "pick_device": (".runtime", "pick_device"),
    "torch_dtype": (".runtime", "torch_dtype"),
    "AdapterOnly": (".store.artifacts", "AdapterOnly"),
    "ArtifactNotFound": (".store.artifacts", "ArtifactNotFound"),
    "find_model": (".store.artifacts", "find_model"),
    "default_cache_dir": (".store.cache", "default_cache_dir"),
    "RECORD_FILE": (".store", "RECORD_FILE"),
    "SCHEMA_VERSION": (".store", "SCHEMA_VERSION"),
    "RunNotFound": (".store", "RunNotFound"),
    "Store": (".store", "Store"),
    "read_jsonl": (".store", "read_jsonl"),
    "write_json": (".store", "write_json"),
    "write_jsonl": (".store", "write_jsonl"),
    "compare_records": (".verdicts.compare", "compare_records"),
    "GateResult": (".verdicts.gates", "GateResult"),
    "SPLITS": (".verdicts.sampling", "SPLITS"),
    "assign_splits": (".verdicts.sampling", "assign_splits"),
    "subsample": (".verdicts.sampling", "subsample"),
    "with_splits": (".verdicts.sampling", "with_splits"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from . import distributed
    from .reports.summary import render_summary, write_summary
    from .runtime import pick_device, torch_dtype
    from .store import RECORD_FILE, SCHEMA_VERSION, RunNotFound, Store, read_jsonl, write_json, write_jsonl
    from .store.artifacts import AdapterOnly, ArtifactNotFound, find_model
    from .store.cache import default_cache_dir
    from .verdicts.compare import compare_records
    from .verdicts.gates import GateResult
    from .verdicts.sampling import SPLITS, assign_splits, subsample, with_splits

__version__ = "0.1.0"

__all__ = [
    # components and what they exchange
    "COMPONENT_KINDS", "CONCERNS", "DATA_FORMATS", "Component", "DataSource", "EvalContext", "EvalResult",
    "Evaluator", "Metric", "DataFormat", "RewardFunction", "get_format", "registered_formats",
    "ModelHandle", "ModelLoader", "ParamError", "Params", "Reporter",
    "SafetyFilter", "SafetySuite", "TaskInfo", "TrainContext", "TrainData", "Trainer", "TrainResult", "Verdict",
    # hooks and lifecycle events
    "hookimpl", "RunEnded", "RunStarted", "StageEnded",
    # errors
    "HarnessError", "RecipeError", "PluginError", "DataError", "StageError", "StoreError", "HookFailed",
    "PluginUnavailable", "UnknownComponent",
    # helpers plugins share
    "content_hash", "items_hash", "folder_fingerprint", "to_conversational", "pick_device", "torch_dtype",
    "create_component",
    "get_host", "default_cache_dir", "subsample", "with_splits", "assign_splits", "SPLITS",
    "GateResult", "write_summary", "render_summary", "compare_records",
    # the run store, for plugins that read or write runs (importers, trackers)
    "Store", "RECORD_FILE", "SCHEMA_VERSION", "RunNotFound", "read_jsonl", "write_json", "write_jsonl",
    "find_model", "ArtifactNotFound", "AdapterOnly",
    # one run across N processes: rank, sharding and gathering (harness.distributed)
    "distributed",
    "__version__",
]
