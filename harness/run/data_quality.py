"""Degenerate training data, counted and shown on the console before training starts.

A data set where most rows are duplicates, or preference pairs whose chosen and
rejected replies are the same (or one is empty), trains without error and teaches
nothing. :func:`check` counts these in the prepared rows, records the counts
and prints one warning line naming the data set; ``pair_checks = "drop"`` (see
:mod:`harness.run.data_prep`) removes bad pairs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..contract.data import DATA_FORMATS


def _keys(fmt: str) -> tuple[str, ...]:
    return DATA_FORMATS[fmt] if fmt in DATA_FORMATS else ()


def _key(example: dict[str, Any], fmt: str) -> str:
    return json.dumps([example.get(k) for k in _keys(fmt)], sort_keys=True, default=str)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
    return "" if value is None else str(value)


def counts(fmt: str, examples: list[dict[str, Any]]) -> dict[str, int]:
    """``duplicates`` (rows identical to an earlier one in the format's fields), ``empty`` (a format
    field with no text) and, for preference data, ``identical_pairs`` (chosen == rejected)."""
    seen: set[str] = set()
    out = {"rows": len(examples), "duplicates": 0, "empty": 0}
    if fmt == "preference":
        out["identical_pairs"] = 0
    for ex in examples:
        key = _key(ex, fmt)
        if key in seen:
            out["duplicates"] += 1
        seen.add(key)
        if any(not _text(ex.get(k)).strip() for k in _keys(fmt)):
            out["empty"] += 1
        if fmt == "preference" and _text(ex.get("chosen")).strip() == _text(ex.get("rejected")).strip():
            out["identical_pairs"] += 1
    return out


def warning(name: str, c: dict[str, int]) -> str | None:
    parts = [f"{c[k]} of {c['rows']} {label}" for k, label in
             (("duplicates", "rows are duplicates"), ("empty", "rows have an empty field"),
              ("identical_pairs", "pairs have chosen == rejected")) if c.get(k)]
    if not parts:
        return None
    return f"    warning: data set '{name}': {'; '.join(parts)} (they teach nothing; see docs/data.md)"


def check(name: str, fmt: str, examples: list[dict[str, Any]]) -> dict[str, int]:
    """Count degenerate rows, print one warning line when there are any; return the counts."""
    c = counts(fmt, examples)
    line = warning(name, c)
    if line:
        print(line, file=sys.stderr, flush=True)
    return c
