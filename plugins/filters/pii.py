"""``pii``: personal data and secrets in a text, with spans for redaction."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from pydantic import Field, field_validator

import harness

from .pii_patterns import KINDS, find


class PiiFilter(harness.SafetyFilter):
    """Spans ``(start, end, kind)``; ``redact()`` (the base class) writes ``[EMAIL]``, ``[PHONE]``..."""

    name = "pii"
    description = "Finds e-mails, phones, Luhn-valid cards, SSN/NINO/IBAN, IP addresses, API keys and private keys"
    detects = ("pii", "clean")

    class Params(harness.Params):
        kinds: list[str] | None = Field(None, description=f"only these kinds (default: all of {', '.join(KINDS)})")

        @field_validator("kinds")
        @classmethod
        def _known(cls, v):
            if v is not None:
                bad = [k for k in v if k not in KINDS]
                if bad:
                    raise ValueError(f"unknown kinds {bad}; known: {', '.join(KINDS)}")
            return v

    def score(self, texts: Sequence[str], prompts: Sequence[str] | None = None) -> list[harness.Verdict]:
        kinds = set(self.params.kinds) if self.params.kinds is not None else None
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"pii filter: text #{i} is {type(text).__name__}, expected str")
            found = find(text, kinds)
            if not found:
                out.append(harness.Verdict("clean", 0.0, False, None, "no PII or secret found"))
                continue
            counts = Counter(k for _, _, k, _ in found)
            reason = "found " + ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counts.items())
            out.append(harness.Verdict("pii", max(c for *_, c in found), True, ",".join(sorted(counts)), reason,
                                       [(s, e, k) for s, e, k, _ in found]))
        return out
