"""Preparing training data: format checks, safety filters with actions, preference-pair checks.

Runs before any training; the record counts what every filter and check did.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import errors
from ..contract.components import SafetyFilter
from ..contract.data import TrainData, get_format
from ..contract.formats import DataFormat, text_slots
from ..fingerprint import items_hash
from . import data_quality

MAX_EXAMPLES = 5  # examples of dropped/flagged rows kept in the record


DataError = errors.DataError  # kept importable from here


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


def _format(fmt: str | type[DataFormat]) -> type[DataFormat]:
    return get_format(fmt) if isinstance(fmt, str) else fmt


def check_format(name: str, fmt: str | type[DataFormat], examples: list[dict]) -> None:
    """Every example must fit the format (its ``check_example``); the error names the first that does not."""
    fmt = _format(fmt)
    for i, ex in enumerate(examples):
        problem = fmt.check_example(ex)
        if problem:
            raise DataError(f"data set '{name}': example {i} {problem}")


def apply_filter(examples: list[dict], fmt: str | type[DataFormat], flt: SafetyFilter, action: str,
                 on: str) -> tuple[list[dict], dict]:
    fmt = _format(fmt)
    slots = [(i, slot) for i, ex in enumerate(examples) for slot in text_slots(fmt, ex, on)]
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


def _is_paired(fmt: type[DataFormat]) -> bool:
    """Formats with ``chosen``/``rejected`` replies get the pair checks below."""
    return {"chosen", "rejected"} <= set(fmt.fields) and fmt.fields["rejected"] == "rejected"


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
            pair_filters: Callable[[str], SafetyFilter | None], *,
            formats: Callable[[str], type[DataFormat]] = get_format) -> tuple[TrainData, dict]:
    """Apply filters and checks; return the data set and its record entry.

    ``formats`` looks a format name up (the run's plugin host); pair checks run on formats
    with a ``reply`` and a ``rejected`` key (paired preference data).
    """
    try:
        fmt_cls = formats(fmt)
    except LookupError as exc:
        raise DataError(f"data set '{name}': source '{source_name}' declares format '{fmt}': {exc}") from None
    check_format(name, fmt_cls, examples)
    report: dict[str, Any] = {"name": name, "source": source_name, "format": fmt,
                              "rows_in": len(examples), "fingerprint_in": items_hash(examples), "filters": []}
    report["quality"] = data_quality.check(name, fmt, examples)
    for flt, action, on in filters:
        examples, filter_report = apply_filter(examples, fmt_cls, flt, action, on)
        report["filters"].append(filter_report)
    if _is_paired(fmt_cls) and pair_checks != "off":
        examples, report["pair_checks"] = check_pairs(examples, pair_checks, pair_filters("full_refusal"),
                                                      pair_filters("harmful"))
    if not examples:
        raise DataError(f"data set '{name}': no examples left after filters and checks")
    fingerprint = items_hash(examples)
    report.update(rows_out=len(examples), fingerprint=fingerprint)
    return TrainData(name=name, format=fmt, examples=examples, fingerprint=fingerprint,
                     format_cls=fmt_cls), report
