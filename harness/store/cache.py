"""The evaluation cache: results keyed by what decides them, never by a model's name.

Key = hash of everything that changes a score: the model's weights fingerprint, its
tokenizer (files and chat template), its generation settings (generation config,
dtype, device type), the evaluator component, its plugin's version and a hash of
the plugin's code, the evaluator's own fingerprint of its items and settings, the
safety filters it is given (name, parameters, code and ``fingerprint()``: their
weights), and library versions. Changed weights, template, items or settings miss; an unchanged
"before" model hits.
A second, cheaper key stands for the same entry: the model *loader's* fingerprint (files hashed
at disk speed, no model built) in place of the loaded weights, tokenizer and generation settings.
It is written as an alias beside the entry when a run has both; a later run that finds every
section's alias evaluates without loading the model (:meth:`EvalCache.get_alias`).
Location: ``$HARNESS_CACHE_DIR`` or ``${XDG_CACHE_HOME:-~/.cache}/posttrain-harness/eval``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..contract.components import EvalResult, Metric, TaskInfo
from ..fingerprint import content_hash
from .local import write_json

#: the folder of the aliases, beside the two-letter folders of the entries
ALIASES = "by-loader"


def default_cache_dir() -> Path:
    if os.environ.get("HARNESS_CACHE_DIR"):
        return Path(os.environ["HARNESS_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "posttrain-harness" / "eval"


class EvalCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_cache_dir()

    @staticmethod
    def key(*, model_fingerprint: str, evaluator: str, evaluator_version: str | None,
            evaluator_fingerprint: str, libraries: dict[str, str], tokenizer_fingerprint: str | None = None,
            generation: dict[str, Any] | None = None, evaluator_code: str | None = None) -> str:
        return content_hash({"model": model_fingerprint, "tokenizer": tokenizer_fingerprint,
                             "generation": generation, "evaluator": evaluator, "version": evaluator_version,
                             "code": evaluator_code, "items": evaluator_fingerprint, "libraries": libraries})

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _alias_path(self, alias: str) -> Path:
        return self.root / ALIASES / alias[:2] / f"{alias}.json"

    def get(self, key: str) -> EvalResult | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is a miss, never an error
        return EvalResult(
            metrics={k: Metric(**v) for k, v in data["metrics"].items()},
            samples=data["samples"],
            tasks={k: TaskInfo(**v) for k, v in data["tasks"].items()},
        )

    def get_alias(self, alias: str) -> tuple[EvalResult, dict[str, Any]] | None:
        """The entry an alias points to and the alias's meta (the loaded model's record); None: a
        miss (no alias, a damaged one, or an entry since cleared)."""
        try:
            data = json.loads(self._alias_path(alias).read_text(encoding="utf-8"))
            key, meta = data["alias_of"], data.get("meta") or {}
        except (OSError, ValueError, KeyError, TypeError):
            return None
        result = self.get(key) if isinstance(key, str) else None
        return (result, meta) if result is not None else None

    def put_alias(self, alias: str, key: str, meta: dict[str, Any] | None = None) -> None:
        """Make ``alias`` stand for the entry ``key`` (written first)."""
        write_json(self._alias_path(alias), {"alias_of": key, "meta": meta or {}})

    def put(self, key: str, result: EvalResult, meta: dict[str, Any] | None = None) -> None:
        write_json(self._path(key), {
            "meta": meta or {},
            "metrics": {k: m.to_dict() for k, m in result.metrics.items()},
            "samples": result.samples,
            "tasks": {k: vars(t) for k, t in result.tasks.items()},
        })

    def clear(self) -> int:
        """Delete every entry (and alias); return how many entries there were."""
        if not self.root.exists():
            return 0
        n = self.size()
        shutil.rmtree(self.root)
        return n

    def size(self) -> int:
        """How many results are stored (aliases not counted)."""
        if not self.root.exists():
            return 0
        return sum(1 for p in self.root.rglob("*.json") if p.relative_to(self.root).parts[0] != ALIASES)
