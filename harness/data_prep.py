"""Preparing training data: format checks, safety filters with actions, preference-pair checks.

Runs before any training; the record counts what every filter and check did.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from . import data_quality, errors
from .components import DATA_FORMATS, SafetyFilter, TrainData
from .fingerprint import items_hash

MAX_EXAMPLES = 5  # examples of dropped/flagged rows kept in the record


DataError = errors.DataError  # kept importable from here


def _text_slots(example: dict, fmt: str, on: str) -> Iterator[tuple[str, int | None]]:
    """(key, message index or None) of every text a filter should read.

    ``on="completion"`` reads what the model is trained to say (for preference data:
    the chosen reply only: a harmful *rejected* reply is the point of safety data).
    """
    if fmt in ("text", "chat"):
        keys = [DATA_FORMATS[fmt][0]]
    else:
        reply = "completion" if fmt == "prompt_completion" else "chosen"
        keys = {"completion": [reply], "prompt": ["prompt"], "all": ["prompt", reply]}[on]
    for key in keys:
        value = example[key]
        if isinstance(value, str):
            yield key, None
            continue
        for i, msg in enumerate(value):
            is_reply = msg.get("role") == "assistant"
            if key == "messages" and on != "all" and is_reply != (on == "completion"):
                continue
            yield key, i


def _get(example: dict, slot: tuple[str, int | None]) -> str:
    key, idx = slot
    return example[key] if idx is None else example[key][idx]["content"]


def _set(example: dict, slot: tuple[str, int | None], text: str) -> None:
    key, idx = slot
    if idx is None:
        example[key] = text
    else:
        example[key] = [dict(m) for m in example[key]]
        example[key][idx]["content"] = text


def _reply_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "\n".join(m.get("content", "") for m in value if m.get("role", "assistant") == "assistant")


def check_format(name: str, fmt: str, examples: list[dict]) -> None:
    keys = DATA_FORMATS[fmt]
    for i, ex in enumerate(examples):
        missing = [k for k in keys if k not in ex]
        if missing:
            raise DataError(f"data set '{name}': example {i} lacks {', '.join(missing)} "
                            f"(format '{fmt}' needs {', '.join(keys)}; has {', '.join(ex)})")


def apply_filter(examples: list[dict], fmt: str, flt: SafetyFilter, action: str, on: str) -> tuple[list[dict], dict]:
    slots = [(i, slot) for i, ex in enumerate(examples) for slot in _text_slots(ex, fmt, on)]
    verdicts = flt.score([_get(examples[i], s) for i, s in slots]) if slots else []
    flagged: dict[int, list] = {}
    for (i, slot), verdict in zip(slots, verdicts):
        if verdict.flagged:
            flagged.setdefault(i, []).append((slot, verdict))
    report: dict[str, Any] = {"filter": flt.name, "action": action, "on": on, "flagged": len(flagged),
              "dropped": 0, "redacted": 0, "examples": []}
    for i in sorted(flagged)[:MAX_EXAMPLES]:
        v = flagged[i][0][1]
        report["examples"].append({"index": i, "label": v.label, "category": v.category, "reason": v.reason})
    kept = []
    for i, ex in enumerate(examples):
        if i not in flagged:
            kept.append(ex)
        elif action == "drop":
            report["dropped"] += 1
        elif action == "flag":
            kept.append({**ex, "_flags": [*ex.get("_flags", []), flt.name]})
        else:  # redact
            ex = dict(ex)
            for slot, verdict in flagged[i]:
                _set(ex, slot, flt.redact(_get(ex, slot), verdict))
            report["redacted"] += 1
            kept.append(ex)
    return kept, report


def check_pairs(examples: list[dict], action: str, refusal: SafetyFilter | None,
                harm: SafetyFilter | None) -> tuple[list[dict], dict]:
    """Identical chosen/rejected, empty replies, and inverted safety labels
    (chosen reply harmful while the rejected one refuses)."""
    problems: dict[int, str] = {}
    chosen = [_reply_text(ex["chosen"]) for ex in examples]
    rejected = [_reply_text(ex["rejected"]) for ex in examples]
    for i, (c, r) in enumerate(zip(chosen, rejected)):
        if not c.strip() or not r.strip():
            problems[i] = "empty"
        elif c.strip() == r.strip():
            problems[i] = "identical"
    inverted_checked = refusal is not None and harm is not None
    if refusal is not None and harm is not None and examples:
        harmful = harm.score(chosen)
        refused = refusal.score(rejected)
        for i, (h, rf) in enumerate(zip(harmful, refused)):
            if i not in problems and h.flagged and rf.flagged:
                problems[i] = "inverted"
    counts = {kind: sum(1 for p in problems.values() if p == kind) for kind in ("identical", "empty", "inverted")}
    report = {"action": action, **counts, "inverted_checked": inverted_checked,
              "dropped": len(problems) if action == "drop" else 0,
              "examples": [{"index": i, "problem": p} for i, p in sorted(problems.items())[:MAX_EXAMPLES]]}
    if action == "drop":
        examples = [ex for i, ex in enumerate(examples) if i not in problems]
    return examples, report


def prepare(name: str, source_name: str, fmt: str, examples: list[dict],
            filters: list[tuple[SafetyFilter, str, str]], pair_checks: str,
            pair_filters: Callable[[str], SafetyFilter | None]) -> tuple[TrainData, dict]:
    """Apply filters and checks; return the data set and its record entry."""
    check_format(name, fmt, examples)
    report: dict[str, Any] = {"name": name, "source": source_name, "format": fmt,
                              "rows_in": len(examples), "fingerprint_in": items_hash(examples), "filters": []}
    report["quality"] = data_quality.check(name, fmt, examples)
    for flt, action, on in filters:
        examples, filter_report = apply_filter(examples, fmt, flt, action, on)
        report["filters"].append(filter_report)
    if fmt == "preference" and pair_checks != "off":
        examples, report["pair_checks"] = check_pairs(examples, pair_checks, pair_filters("full_refusal"),
                                                      pair_filters("harmful"))
    if not examples:
        raise DataError(f"data set '{name}': no examples left after filters and checks")
    fingerprint = items_hash(examples)
    report.update(rows_out=len(examples), fingerprint=fingerprint)
    return TrainData(name=name, format=fmt, examples=examples, fingerprint=fingerprint), report
