"""A stored run as inspect_ai ``EvalLog`` files: one per suite and phase, for ``inspect view``.

Built from inspect's own log classes and written with ``write_eval_log`` (inspect_ai is imported
inside the functions only). Each log holds the suite's samples (input = the prompt, output = the
model's reply, the target where the evaluator knew one, a score per metric the row carries), the
suite's metrics with their standard errors, the model's name, and the harness run id as the
eval's ``run_id`` and in its metadata (with the phase and the model fingerprint).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

from .results_formats import ExportError, _harness_block, _model_name, by_suite, pick_phase

#: inspect's metrics that describe spread; a harness metric's stderr is written under this name
STDERR = "stderr"


def default_log_dir() -> Path:
    """Where ``inspect view`` looks when given no folder: ``$INSPECT_LOG_DIR``, else ``./logs``."""
    return Path(os.environ.get("INSPECT_LOG_DIR") or "logs")


def phases_to_export(record: dict[str, Any], phase: str | None) -> list[str]:
    """``[phase]`` when given (it must have metrics), else every phase that has metrics."""
    if phase is not None:
        return [pick_phase(record, phase)]
    have = [p for p in ("before", "after") if (record.get("metrics") or {}).get(p)]
    if not have:
        pick_phase(record, None)  # raises the "no metrics" error
    return have


def _iso(when: Any) -> str:
    text = str(when or "")
    return text.replace("Z", "+00:00") if text else ""


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _target(row: dict[str, Any]) -> str | list[str]:
    target = row.get("target")
    if isinstance(target, list):
        return [str(t) for t in target]
    return "" if target is None else str(target)


def _sample(row: dict[str, Any], model: str) -> Any:
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    prompt = str(row.get("prompt") or "")
    output = str(row.get("output") or "")
    scores = {name: Score(value=v, answer=output) for name, value in (row.get("scores") or {}).items()
              if (v := _float(value)) is not None}
    meta = {k: row[k] for k in ("evaluator", "category", "split", "label", "filters") if row.get(k) is not None}
    return EvalSample(id=str(row.get("item_id")), epoch=1, input=prompt, target=_target(row),
                      messages=[ChatMessageUser(content=prompt), ChatMessageAssistant(content=output, model=model)],
                      output=ModelOutput.from_content(model=model, content=output), scores=scores, metadata=meta)


def suite_log(record: dict[str, Any], phase: str, suite: str, rows: list[dict[str, Any]]) -> Any:
    """One inspect ``EvalLog`` of ``suite`` in ``phase``: its metrics and its ``rows``."""
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalMetric, EvalResults, EvalScore, EvalSpec, EvalStats

    model = _model_name(record)
    metrics = by_suite(record, phase).get(suite) or {}
    info = (record.get("tasks") or {}).get(suite) or {}
    scores = []
    for name, m in metrics.items():
        value = _float(m.get("value"))
        if value is None:
            continue
        entries = {name: EvalMetric(name=name, value=value)}
        if (stderr := _float(m.get("stderr"))) is not None:
            entries[STDERR] = EvalMetric(name=STDERR, value=stderr)
        scores.append(EvalScore(name=name, scorer=name, scored_samples=m.get("n") if m.get("n") is not None
                                else len(rows), metrics=entries,
                                metadata={"higher_is_better": bool(m.get("higher_is_better", True)),
                                          "concern": m.get("concern")}))
    run_id = str(record.get("id"))
    meta = {f"harness_{k}": v for k, v in _harness_block(record, phase).items() if v is not None}
    spec = EvalSpec(
        run_id=run_id, eval_id=f"{run_id}-{phase}-{suite}", task_id=task_id(record, phase), created=_iso(
            record.get("created_at")) or _iso(record.get("finished_at")), task=suite,
        task_version=str(info.get("version") or 0), dataset=EvalDataset(name=suite, samples=len(rows),
                                                                      sample_ids=[str(r.get("item_id")) for r in rows]),
        model=model, config=EvalConfig(), metadata={**meta, "harness_evaluator": info.get("evaluator"),
                                                    "harness_content_hash": info.get("content_hash"),
                                                    "harness_settings": info.get("settings") or {}},
        packages={"posttrain-harness": str(((record.get("environment") or {}).get("libraries") or {})
                                           .get("posttrain-harness") or "")})
    return EvalLog(status="success", eval=spec, results=EvalResults(total_samples=len(rows),
                                                                    completed_samples=len(rows), scores=scores),
                   stats=EvalStats(started_at=_iso(record.get("created_at")),
                                   completed_at=_iso(record.get("finished_at"))),
                   samples=[_sample(r, model) for r in rows], metadata=meta)


def _file_name(record: dict[str, Any], phase: str, suite: str) -> str:
    """``<time>_<task>_<id>.eval`` as inspect names its logs: `inspect view` lists a log by the task
    and id it reads from the name, split at ``_`` (so neither part may hold one)."""
    stamp = re.sub(r"[:+]", "-", _iso(record.get("created_at")) or "run")
    task = re.sub(r"[^A-Za-z0-9.-]+", "-", suite)
    return f"{stamp}_{task}_{task_id(record, phase)}.eval"


def task_id(record: dict[str, Any], phase: str) -> str:
    """The log's ``task_id``, also the id part of its file name: the run id and phase, with no
    ``-`` or ``_`` (inspect ends the id at the first ``-``)."""
    return re.sub(r"[^A-Za-z0-9]+", "", str(record.get("id"))) + f".{phase}"


def write_inspect_logs(record: dict[str, Any], samples: Callable[[str], list[dict[str, Any]]],
                       out_dir: str | Path | None = None, phase: str | None = None) -> list[Path]:
    """Write one ``.eval`` log per suite and phase into ``out_dir`` (default :func:`default_log_dir`);
    ``samples(phase)`` returns the phase's stored rows. Returns the files written."""
    try:
        from inspect_ai.log import write_eval_log
    except ImportError as exc:
        raise ExportError("--format inspect needs inspect_ai: pip install 'posttrain-harness[inspect]'") from exc
    out = Path(out_dir) if out_dir is not None else default_log_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ph in phases_to_export(record, phase):
        rows = samples(ph)
        for suite in by_suite(record, ph):
            mine = [r for r in rows if r.get("suite") == suite]
            path = (out / _file_name(record, ph, suite)).resolve()
            write_eval_log(suite_log(record, ph, suite, mine), str(path), format="eval")
            written.append(path)
    return written
