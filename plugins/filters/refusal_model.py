"""The refusal classifier's weights: two logistic heads over refusal_features.

``refusal`` gives P(the reply refuses, fully or partly); ``partial`` gives
P(partial | refusal). Weights live in small JSON files under
``refusal_weights/`` written by ``refusal_train.py``; each records which rows
it was fitted on (hashes of the completions), so a benchmark can keep those
rows out of a held-out figure. Inference is a dot product: no ML import.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from .refusal_features import feature_names, vector

WEIGHTS_DIR = Path(__file__).with_name("refusal_weights")


def row_key(text: str) -> str:
    """Stable key of one completion (whitespace-normalised sha1, 16 hex chars)."""
    return hashlib.sha1(" ".join((text or "").split()).encode()).hexdigest()[:16]


def bundled_weights() -> list[str]:
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))


@dataclass
class Head:
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def prob(self, x: list[float]) -> float:
        z = self.intercept + sum(c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


class RefusalModel:
    def __init__(self, data: dict, source: str):
        names = feature_names()
        if data.get("features") != names:
            raise ValueError(f"refusal weights {source} were trained on other features than this code computes; "
                             "retrain them with `python -m harness_plugins.filters.refusal_train`")
        self.source = source
        #: hash of the weights' content (the evaluation cache keys on it)
        self.digest = hashlib.blake2b(json.dumps(data, sort_keys=True).encode(), digest_size=8).hexdigest()
        self.refusal = Head(**data["refusal"])
        self.partial = Head(**data["partial"])
        self.threshold = float(data.get("threshold", 0.5))
        self.trained_on: list[str] = list(data.get("trained_on", []))
        self.row_keys: set[str] = set(data.get("row_keys", []))

    @classmethod
    def load(cls, spec: str) -> "RefusalModel":
        """``spec``: a bundled weights name (``llama2orig``) or a path to a JSON file."""
        path = Path(spec)
        if not path.suffix:
            path = WEIGHTS_DIR / f"{spec}.json"
        if not path.is_file():
            raise FileNotFoundError(f"refusal weights '{spec}' not found; bundled: {', '.join(bundled_weights())} "
                                    "(or give a path to a JSON written by refusal_train.py)")
        return cls(json.loads(path.read_text()), str(path))

    def predict(self, text: str, prompt: str | None = None) -> tuple[float, float]:
        """(P(refusal), P(partial | refusal))."""
        x = vector(text, prompt)
        return self.refusal.prob(x), self.partial.prob(x)
