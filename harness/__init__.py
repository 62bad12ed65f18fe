"""posttrain-harness: evaluate -> post-train -> evaluate, compare paired, gate, record.

This module is the public API a plugin may use: everything in ``__all__`` is
promised (only ever extended); every other module of ``harness`` is internal and
may change. First-party plugins import nothing else (import-linter checks it,
see docs/architecture.md). Importing it imports no ML library: helpers that
need torch (``pick_device``, ``torch_dtype``) import it when called.
"""

from . import distributed
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
from .fingerprint import content_hash, items_hash
from .reports.summary import render_summary, write_summary
from .runtime import pick_device, torch_dtype
from .store.artifacts import AdapterOnly, ArtifactNotFound, find_model
from .store.cache import default_cache_dir
from .store.local import RECORD_FILE, SCHEMA_VERSION, RunNotFound, Store, read_jsonl, write_json, write_jsonl
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
    "content_hash", "items_hash", "to_conversational", "pick_device", "torch_dtype", "create_component",
    "get_host", "default_cache_dir", "subsample", "with_splits", "assign_splits", "SPLITS",
    "GateResult", "write_summary", "render_summary", "compare_records",
    # the run store, for plugins that read or write runs (importers, trackers)
    "Store", "RECORD_FILE", "SCHEMA_VERSION", "RunNotFound", "read_jsonl", "write_json", "write_jsonl",
    "find_model", "ArtifactNotFound", "AdapterOnly",
    # one run across N processes: rank, sharding and gathering (harness.distributed)
    "distributed",
    "__version__",
]
