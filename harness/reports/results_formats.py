"""A stored run's scores in the formats other tools read.

- ``lm-eval``: the layout of lm-evaluation-harness's ``results_*.json`` (``results``,
  ``versions``, ``n-shot``, ``higher_is_better``, ``n-samples``, ``config``...), so tools that
  read lm-eval results read ours, and ``harness import lm-eval`` reads it back.
- ``eee``: one Every Eval Ever aggregate record (schema vendored in ``schemas/every_eval_ever``).
- ``model-index``: the Hugging Face Hub's ``model-index`` metadata (README front matter).
- ``inspect``: inspect_ai ``EvalLog`` files, one per suite and phase (:mod:`.inspect_log`;
  files, not one document, so :func:`export` does not build it).

Pure Python, no ML import. Metric keys are the harness's ``suite/metric``; a metric that
carries an lm-eval filter (``exact_match,strict-match``) keeps it, every other one gets
lm-eval's ``none`` filter.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..contract.record import final_phase
from ..errors import StoreError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "every_eval_ever"
FORMATS = ("lm-eval", "eee", "model-index", "inspect")


class ExportError(StoreError, ValueError):
    pass


def pick_phase(record: dict[str, Any], phase: str | None) -> str:
    """``phase`` if the run has metrics for it; default the final one (``after``, else ``before``)."""
    metrics = record.get("metrics") or {}
    if phase is None:
        phase = final_phase(record) or "before"
    if not metrics.get(phase):
        have = ", ".join(p for p in ("before", "after") if metrics.get(p)) or "none"
        raise ExportError(f"run {record.get('id')!r} has no '{phase}' metrics (phases with metrics: {have}); "
                          "pick one with --phase")
    return phase


def by_suite(record: dict[str, Any], phase: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``{suite: {metric: metric_dict}}`` of one phase."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for key, m in sorted((record.get("metrics") or {}).get(phase, {}).items()):
        suite, _, metric = key.partition("/")
        out.setdefault(suite, {})[metric or suite] = m
    return out


def _split_filter(metric: str) -> tuple[str, str]:
    name, _, filt = metric.partition(",")
    return name, filt or "none"


def _model_name(record: dict[str, Any]) -> str:
    model = record.get("model") or {}
    return str(model.get("path") or model.get("name") or "unknown")


def _timestamp(record: dict[str, Any]) -> float:
    when = str(record.get("finished_at") or record.get("created_at") or "")
    try:
        return datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return datetime.now(timezone.utc).timestamp()


def _harness_block(record: dict[str, Any], phase: str) -> dict[str, Any]:
    return {"run_id": record.get("id"), "run_name": record.get("name"), "phase": phase,
            "status": record.get("status"), "model_fingerprint": (record.get("model") or {}).get(
                "fingerprint_after" if phase == "after" else "fingerprint")}


# ------------------------------------------------------------------ lm-eval


def _version(version: Any) -> Any:
    """lm-eval writes task versions as numbers (``1.0``); the record keeps them as text."""
    try:
        return float(version)
    except (TypeError, ValueError):
        return version if version not in (None, "") else 1.0


def to_lm_eval(record: dict[str, Any], phase: str | None = None) -> dict[str, Any]:
    """The run's metrics of one phase as an lm-eval ``results_*.json`` dict."""
    phase = pick_phase(record, phase)
    tasks = record.get("tasks") or {}
    results: dict[str, Any] = {}
    versions: dict[str, Any] = {}
    n_shot: dict[str, Any] = {}
    hib: dict[str, dict[str, bool]] = {}
    n_samples: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for suite, metrics in by_suite(record, phase).items():
        entry: dict[str, Any] = {}
        hib[suite] = {}
        n = None
        for metric, m in metrics.items():
            name, filt = _split_filter(metric)
            entry[f"{name},{filt}"] = m.get("value")
            entry[f"{name}_stderr,{filt}"] = m.get("stderr") if m.get("stderr") is not None else "N/A"
            hib[suite][name] = bool(m.get("higher_is_better", True))
            n = m.get("n") if m.get("n") is not None else n
        info = tasks.get(suite) or {}
        settings = info.get("settings") or {}
        n = n if n is not None else info.get("n")
        results[suite] = {"name": suite, "alias": suite, "sample_len": n, **entry}
        versions[suite] = _version(info.get("version"))
        n_shot[suite] = settings.get("num_fewshot") or 0
        n_samples[suite] = {"original": n, "effective": n}
        configs[suite] = {"task": suite, "output_type": settings.get("output_type"),
                          "num_fewshot": n_shot[suite],
                          "metadata": {"version": versions[suite], "content_hash": info.get("content_hash"),
                                       "harness_evaluator": info.get("evaluator")}}
    model = _model_name(record)
    libs = (record.get("environment") or {}).get("libraries") or {}
    return {
        "results": results, "group_subtasks": {s: [] for s in results}, "configs": configs,
        "versions": versions, "n-shot": n_shot, "higher_is_better": hib, "n-samples": n_samples,
        "config": {"model": "posttrain-harness", "model_args": f"run={record.get('id')},phase={phase}",
                   "batch_size": None, "device": (record.get("model") or {}).get("device"),
                   "limit": None, "bootstrap_iters": None, "random_seed": record.get("seed")},
        "git_hash": ((record.get("environment") or {}).get("git_sha") or "")[:7] or None,
        "date": _timestamp(record),
        "lm_eval_version": libs.get("lm_eval") or libs.get("lm-eval"),
        "transformers_version": libs.get("transformers"),
        "model_name": model, "model_name_sanitized": re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model),
        "harness": _harness_block(record, phase),
    }


# ------------------------------------------------------------------ Every Eval Ever


def eee_schema() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "eval.schema.json").read_text(encoding="utf-8"))


def to_eee(record: dict[str, Any], phase: str | None = None) -> dict[str, Any]:
    """One Every Eval Ever aggregate record for the run's metrics of one phase."""
    phase = pick_phase(record, phase)
    schema = eee_schema()
    model = record.get("model") or {}
    when = str(int(_timestamp(record)))
    env = record.get("environment") or {}
    libs = env.get("libraries") or {}
    results = []
    for suite, metrics in by_suite(record, phase).items():
        info = (record.get("tasks") or {}).get(suite) or {}
        source = {"dataset_name": suite, "source_type": "other",
                  "additional_details": {k: str(v) for k, v in (("content_hash", info.get("content_hash")),
                                                                 ("version", info.get("version")),
                                                                 ("evaluator", info.get("evaluator")))
                                         if v is not None}}
        for metric, m in metrics.items():
            if m.get("value") is None:
                continue
            name, filt = _split_filter(metric)
            uncertainty: dict[str, Any] = {}
            if m.get("stderr") is not None:
                uncertainty["standard_error"] = {"value": float(m["stderr"]), "method": "analytic"}
            if m.get("n") is not None:
                uncertainty["num_samples"] = int(m["n"])
            score: dict[str, Any] = {"score": float(m["value"])}
            if uncertainty:
                score["uncertainty"] = uncertainty
            results.append({
                "evaluation_result_id": f"{suite}/{metric}",
                "evaluation_name": suite if filt == "none" else f"{suite}/{filt}",
                "source_data": source,
                "evaluation_timestamp": when,
                "metric_config": {"evaluation_description": name if filt == "none" else f"{name} (filter: {filt})",
                                  "metric_name": name, "metric_id": f"{suite}/{metric}",
                                  "lower_is_better": not bool(m.get("higher_is_better", True)),
                                  **({"additional_details": {"concern": m["concern"]}} if m.get("concern") else {})},
                "score_details": score,
            })
    details = {k: str(v) for k, v in (("fingerprint", model.get("fingerprint_after" if phase == "after"
                                                                   else "fingerprint")),
                                      ("loader", model.get("loader")), ("dtype", model.get("dtype")),
                                      ("parameters", model.get("parameters")), ("harness_phase", phase))
               if v is not None}
    name = _model_name(record)
    return {
        "schema_version": schema["version"],
        "evaluation_id": f"posttrain-harness/{record.get('id')}/{phase}",
        "evaluation_timestamp": when,
        "retrieved_timestamp": str(int(datetime.now(timezone.utc).timestamp())),
        "source_metadata": {"source_name": "posttrain-harness run record", "source_type": "evaluation_run",
                            "source_organization_name": "posttrain-harness user",
                            "evaluator_relationship": "first_party",
                            "additional_details": {k: str(v) for k, v in _harness_block(record, phase).items()
                                                   if v is not None}},
        "eval_library": {"name": "posttrain-harness", "version": str(libs.get("posttrain-harness") or "0.1.0"),
                         "additional_details": {k: str(v) for k, v in libs.items()
                                                if k in ("lm_eval", "lm-eval", "transformers", "trl", "torch")}},
        "model_info": {"name": name, "id": name,
                       "additional_details": {"deployment_type": "self_deployed", "model_availability": "unknown",
                                              **details}},
        "evaluation_results": results,
    }


def validate_eee(doc: dict[str, Any]) -> None:
    """Raise :class:`ExportError` naming the first place ``doc`` breaks the EEE schema."""
    import jsonschema

    errors = sorted(jsonschema.Draft7Validator(eee_schema()).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise ExportError(f"EEE schema: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")


# ------------------------------------------------------------------ Hub model-index


def to_model_index(record: dict[str, Any], phase: str | None = None, *, model_name: str | None = None) -> dict:
    """``{"model-index": [...]}`` for a model card's front matter: one result per suite.

    Interim builder until the model card (``harness/reports/model_card.py``) owns one.
    """
    phase = pick_phase(record, phase)
    results = []
    for suite, metrics in by_suite(record, phase).items():
        results.append({
            "task": {"type": "text-generation", "name": "Text Generation"},
            "dataset": {"name": suite, "type": suite},
            "metrics": [{"type": name, "value": m["value"], "name": metric,
                         **({"verified": False})} for metric, m in metrics.items()
                        if m.get("value") is not None for name in [_split_filter(metric)[0]]],
            "source": {"name": "posttrain-harness", "url": f"harness://runs/{record.get('id')}"},
        })
    return {"model-index": [{"name": model_name or record.get("name") or _model_name(record),
                             "results": results}]}


def dump(doc: dict[str, Any], fmt: str) -> str:
    """The text of an exported document: JSON, or YAML for ``model-index``."""
    if fmt == "model-index":
        import yaml

        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def export(record: dict[str, Any], fmt: str, phase: str | None = None) -> dict[str, Any]:
    if fmt == "lm-eval":
        return to_lm_eval(record, phase)
    if fmt == "eee":
        doc = to_eee(record, phase)
        try:
            validate_eee(doc)
        except ImportError:  # jsonschema is optional: the document is still written
            pass
        return doc
    if fmt == "model-index":
        return to_model_index(record, phase)
    if fmt == "inspect":
        raise ExportError("the inspect format writes one file per suite and phase: use "
                          "harness.reports.inspect_log.write_inspect_logs")
    raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
