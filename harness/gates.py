"""Pass/fail gates on a run's metrics (recipe ``[gates]`` table).

A gate bounds a metric after training (``min`` / ``max``) or its change from
before (``max_drop`` / ``max_increase``). With ``confidence`` set, a change gate is
judged on the paired interval's bound instead of the point estimate
(non-inferiority: "the drop is at most 2 points with 95% confidence").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_increase: float | None = None
    confidence: float | None = None  # e.g. 0.95: judge change gates on the interval bound

    @model_validator(mode="after")
    def _one_rule_at_least(self):
        if all(v is None for v in (self.min, self.max, self.max_drop, self.max_increase)):
            raise ValueError("a gate needs at least one of min, max, max_drop, max_increase")
        if self.confidence is not None and not 0 < self.confidence < 1:
            raise ValueError("confidence must be between 0 and 1, e.g. 0.95")
        return self
