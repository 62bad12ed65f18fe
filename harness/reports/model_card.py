"""A Hugging Face model card (``README.md``) for a run's saved model, built from its record.

:func:`model_index` builds the ``model-index`` metadata block (the evaluation results
the Hub shows) with ``huggingface_hub``'s own ``EvalResult``/``ModelCardData``;
:func:`model_card` writes the whole card: base model and fingerprints, recipe,
data, training stages, the paired before/after table with intervals, gate
verdicts, hardware and library versions.
"""

from __future__ import annotations

import json
from typing import Any

from ..contract.record import final_phase
from ..verdicts.compare import Comparison
from .render import format_markdown


def eval_results(record: dict[str, Any]) -> list:
    """One ``huggingface_hub.EvalResult`` per metric of the run's final evaluation."""
    from huggingface_hub import EvalResult

    phase = (final_phase(record) or "before")
    tasks = record.get("tasks") or {}
    out = []
    for key, metric in sorted((record.get("metrics") or {}).get(phase, {}).items()):
        if metric.get("value") is None:
            continue
        suite, _, short = key.partition("/")
        info = tasks.get(suite) or {}
        out.append(EvalResult(
            task_type="text-generation", task_name=info.get("evaluator") or suite,
            dataset_type=suite, dataset_name=suite,
            dataset_revision=info.get("content_hash"),
            metric_type=short or key, metric_name=key, metric_value=round(float(metric["value"]), 6),
            verified=False))
    return out


def model_index(record: dict[str, Any], model_name: str | None = None) -> list[dict[str, Any]]:
    """The ``model-index`` block (a list, as in the card's YAML) for a run's final metrics."""
    from huggingface_hub.repocard_data import eval_results_to_model_index

    results = eval_results(record)
    return eval_results_to_model_index(model_name or record.get("name") or "model", results) if results else []


def card_data(record: dict[str, Any], *, model_name: str | None = None):
    """``huggingface_hub.ModelCardData`` for the card's YAML header."""
    from huggingface_hub import ModelCardData

    model = record.get("model") or {}
    tags = ["posttrain-harness", *sorted({t["trainer"] for t in record.get("training") or []}),
            *(record.get("tags") or [])]
    base = model.get("source") if isinstance(model.get("source"), str) and "/" in str(model.get("source")) \
        and not str(model.get("source")).startswith("/") else None
    return ModelCardData(model_name=model_name or record.get("name"), library_name="transformers",
                         pipeline_tag="text-generation", tags=list(dict.fromkeys(tags)),
                         base_model=base, eval_results=eval_results(record) or None)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    cell = lambda v: "—" if v is None or v == "" else str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(cell(v) for v in r) + " |" for r in rows)]


def _settings(section: dict[str, Any]) -> str:
    skip = {"trainer", "data", "name"}
    return ", ".join(f"`{k} = {json.dumps(v)}`" for k, v in section.items() if k not in skip) or "defaults"


def model_card(record: dict[str, Any], comparison: Comparison | None, *, model_name: str | None = None,
               adapter_only: bool = False) -> str:
    """The card's markdown, YAML header (with ``model-index``) included; ``adapter_only``: the folder
    holds a LoRA adapter (``[output] merge = false``), loaded on the base model with PEFT."""
    data = card_data(record, model_name=model_name)
    model = record.get("model") or {}
    env = record.get("environment") or {}
    recipe = record.get("recipe") or {}
    resolved = recipe.get("resolved") or {}
    name = model_name or record.get("name") or "model"
    verdict = {True: "all gates passed", False: "gates NOT passed", None: "no gates"}[record.get("gates_passed")]
    counts = (record.get("gating") or {}).get("verdicts")
    if counts and record.get("gates_passed") is not None:
        verdict += f": {counts.get('pass', 0)} pass, {counts.get('fail', 0)} fail, " \
                   f"{counts.get('inconclusive', 0)} inconclusive"
    lines = ["---", data.to_yaml(), "---", "", f"# {name}", "",
             f"Post-trained and evaluated with posttrain-harness "
             f"(run `{record.get('id')}`, {record.get('status')}, {verdict}).", ""]
    if record.get("description"):
        lines += [record["description"], ""]
    if adapter_only:
        lines += ["This folder holds a LoRA adapter; apply it to the base model below:", "",
                  "```python", "from peft import PeftModel", "from transformers import AutoModelForCausalLM", "",
                  'base = AutoModelForCausalLM.from_pretrained("path/to/the/base/model")',
                  'model = PeftModel.from_pretrained(base, "path/to/this/folder").merge_and_unload()', "```", ""]
    else:
        lines += ["```python", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                  'model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")',
                  'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")', "```", ""]

    lines += ["## Base model", ""]
    lines += _table(["", ""], [
        ["name", model.get("name")], ["loader", model.get("loader")], ["source", model.get("source")],
        ["parameters", model.get("parameters")], ["weights fingerprint (before)", model.get("fingerprint")],
        ["weights fingerprint (this model)", model.get("fingerprint_after")],
        ["device / dtype", f"{model.get('device')} / {model.get('dtype')}"]])
    lines.append("")

    if record.get("data"):
        lines += ["## Training data", ""]
        rows = []
        for d in record["data"]:
            filters = ", ".join(f"{f.get('filter')} ({f.get('action')}, {f.get('flagged', 0)} flagged)"
                                for f in d.get("filters") or []) or "none"
            rows.append([d.get("name"), d.get("source"), d.get("format"), d.get("rows_in"), d.get("rows_out"),
                         f"`{d.get('fingerprint')}`", filters])
        lines += _table(["data set", "source", "format", "rows in", "rows kept", "fingerprint", "filters"], rows)
        lines.append("")

    if record.get("training"):
        lines += ["## Training stages", ""]
        sections = resolved.get("train") or []
        rows = []
        for i, t in enumerate(record["training"]):
            m = t.get("metrics") or {}
            cfg = m.get("config") or {}
            section = sections[i] if i < len(sections) else {}
            rows.append([t.get("stage"), t.get("trainer"), t.get("data"), t.get("examples"), m.get("steps"),
                         None if m.get("train_loss") is None else f"{m['train_loss']:.4f}",
                         cfg.get("precision"), _settings(section)])
        lines += _table(["stage", "trainer", "data", "examples", "steps", "train loss", "precision", "settings"],
                        rows)
        lines.append("")

    lines += ["## Evaluation: before → after, paired", ""]
    if comparison is not None:
        lines.append(format_markdown(comparison))
    else:
        phase = (final_phase(record) or "before")
        lines += _table(["metric", "value", "stderr", "n"],
                        [[f"`{k}`", f"{m['value']:.4f}" if m.get("value") is not None else None,
                          None if m.get("stderr") is None else f"{m['stderr']:.4f}", m.get("n")]
                         for k, m in sorted((record.get("metrics") or {}).get(phase, {}).items())])
        lines.append("")

    lines += ["## Gates", ""]
    if record.get("gates"):
        from .gating import policy_line
        from .metric_table import gate_cells

        cols = ("metric", "rule", "threshold", "observed", "bound", "confidence", "mde", "verdict")
        lines += _table(["gate", "rule", "threshold", "observed", "interval bound", "confidence", "MDE", "verdict"],
                        [[f"`{c['metric']}`", *(c[k] for k in cols[1:])]
                         for c in map(gate_cells, record["gates"])])
        policy = policy_line(record.get("gating"))
        if policy:
            power = (record.get("gating") or {}).get("power", 0.8)
            lines += ["", f"{policy}. MDE: the smallest true effect these items detect at that confidence "
                          f"with {power:.0%} power."]
    else:
        lines.append("The recipe set no gates.")
    lines.append("")

    lines += ["## Recipe", ""]
    if recipe.get("overrides"):
        lines += ["Overrides: " + " ".join(f"`--set {o}`" for o in recipe["overrides"]), ""]
    lines += ["```toml", (recipe.get("text") or "").rstrip(), "```", ""]

    acc = env.get("accelerator") or {}
    lines += ["## Hardware and libraries", ""]
    lines += _table(["", ""], [
        ["accelerator", f"{acc.get('kind')}: {acc.get('name')} × {acc.get('count')}"
                        + (f", {acc.get('memory_gb')} GB" if acc.get("memory_gb") else "")],
        ["python", env.get("python")], ["platform", env.get("platform")], ["git", env.get("git_sha")],
        *[[lib, version] for lib, version in sorted((env.get("libraries") or {}).items())]])
    lines.append("")
    return "\n".join(lines)
