"""posttrain-harness: evaluate -> post-train -> evaluate, compare paired, gate, record.

This module is the public API a plugin may use. Importing it imports no ML library.
"""

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
    TaskInfo,
    TrainContext,
    TrainData,
    Trainer,
    TrainResult,
    Verdict,
)
from .formats import DATA_FORMATS, DataFormat, get_format, registered_formats
from .events import RunEnded, RunStarted, StageEnded
from .fingerprint import content_hash, items_hash
from .hookspecs import hookimpl
from .plugins import PluginUnavailable

__version__ = "0.1.0"

__all__ = [
    "COMPONENT_KINDS", "CONCERNS", "DATA_FORMATS", "Component", "DataSource", "EvalContext", "EvalResult",
    "Evaluator", "Metric", "DataFormat", "RewardFunction", "get_format", "registered_formats", "ModelHandle", "ModelLoader", "ParamError", "Params", "Reporter",
    "SafetyFilter", "TaskInfo", "TrainContext", "TrainData", "Trainer", "TrainResult", "Verdict",
    "RunEnded", "RunStarted", "StageEnded", "content_hash", "items_hash", "hookimpl", "PluginUnavailable", "__version__",
]
