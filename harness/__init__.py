"""posttrain-harness: evaluate -> post-train -> evaluate, compare paired, gate, record.

This module is the public API a plugin may use: everything in ``__all__`` is
promised (only ever extended); every other module of ``harness`` is internal and
may change. First-party plugins import nothing else (import-linter checks it,
see docs/architecture.md). Importing it imports no ML library: helpers that
need torch (``pick_device``, ``torch_dtype``) import it when called.
"""

from . import distributed
from .artifacts import AdapterOnly, ArtifactNotFound, find_model
from .cache import default_cache_dir
from .chat import to_conversational
from .compare import compare_records
from .components import (
    COMPONENT_KINDS,
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
    TrainData,
    Trainer,
    TrainResult,
    Verdict,
)
from .errors import DataError, HarnessError, HookFailed, PluginError, RecipeError, StageError, StoreError
from .events import RunEnded, RunStarted, StageEnded
from .fingerprint import content_hash, items_hash
from .formats import DATA_FORMATS, DataFormat, get_format, registered_formats
from .gates import GateResult
from .hookspecs import hookimpl
from .plugins import PluginUnavailable, UnknownComponent, create_component, get_host
from .reports.summary import render_summary, write_summary
from .runtime import pick_device, torch_dtype
from .sampling import SPLITS, assign_splits, subsample, with_splits
from .store import RECORD_FILE, SCHEMA_VERSION, RunNotFound, Store, read_jsonl, write_json, write_jsonl

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
