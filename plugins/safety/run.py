"""The safety evaluation: prompts → batched greedy generation → filters → rows → metrics."""

from __future__ import annotations

from typing import Any

import harness
from harness import EvalContext, EvalResult, ModelHandle, SafetyFilter, TaskInfo

from .prompt_sets import load_prompt_set
from .scoring import add_pair_scores, aggregate, item_scores

#: filter roles the scores understand; any other filter in the context is run and recorded only
ROLES = ("refusal", "harm", "pii")


def pick_filters(filters: dict[str, SafetyFilter], names: dict[str, str]) -> dict[str, tuple[str, SafetyFilter]]:
    """``role -> (recipe key, filter)`` plus every other filter under its own key.

    A filter matches a role when the recipe key (or its part after ``plugin/``)
    equals the configured name, e.g. ``refusal`` or ``filters/refusal``.
    """
    by_short = {key.rsplit("/", 1)[-1]: key for key in filters}
    picked: dict[str, tuple[str, SafetyFilter]] = {}
    for role in ROLES:
        want = names[role]
        key = want if want in filters else by_short.get(want.rsplit("/", 1)[-1])
        if key is not None:
            picked[role] = (key, filters[key])
    if "refusal" not in picked:
        given = ", ".join(filters) or "none"
        raise ValueError(f"the 'safety' evaluator needs a refusal filter named {names['refusal']!r} "
                         f"(filters given: {given}). Add it to the recipe: [[evaluate]] evaluator = \"safety\" "
                         f"... filters = [\"{names['refusal']}\"], or set refusal_filter to the one you have.")
    used = {key for key, _ in picked.values()}
    for key, flt in filters.items():
        if key not in used:
            picked[key] = (key, flt)
    return picked


def describe_filter(key: str, flt: SafetyFilter) -> dict[str, Any]:
    info = getattr(flt, "registered_as", None)
    return {"key": key, "name": type(flt).name, "fullname": getattr(info, "fullname", None),
            "params": flt.params_dict()}


def _messages(prompt: str, system_prompt: str | None) -> str | list[dict[str, str]]:
    if not system_prompt:
        return prompt
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]


def _score(flt: SafetyFilter, key: str, outputs: list[str], prompts: list[str]) -> list:
    verdicts = list(flt.score(outputs, prompts))
    if len(verdicts) != len(outputs):
        raise RuntimeError(f"safety filter '{key}' returned {len(verdicts)} verdicts for {len(outputs)} texts")
    return verdicts


def batch_size(params: Any, model: ModelHandle) -> int:
    """The recipe's ``batch_size``, else one that keeps the device busy: decoding a small model
    at batch 8 leaves a GPU's memory bandwidth almost idle, and on a CPU larger batches only pad more."""
    return params.batch_size or (64 if str(model.device).startswith("cuda") else 8)


def generate_all(suite: str, model: ModelHandle, prompts: list[str], params: Any) -> list[str]:
    """Greedy replies to ``prompts``, in their order. Under a launcher each rank generates its
    round-robin share of the length-sorted prompts and every rank gets all replies back."""
    # Generate shortest first, so a batch holds prompts of like length: jailbreak's ~1,200-token
    # templates would otherwise pad their plain twins in the same batch to full length.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))

    def replies(indices: list[int]) -> list[str]:
        return model.generate([_messages(prompts[i], params.system_prompt) for i in indices],
                              max_new_tokens=params.max_new_tokens, batch_size=batch_size(params, model),
                              chat=params.chat, progress=f"safety/{suite}")

    outputs = [""] * len(prompts)
    for i, out in zip(order, harness.distributed.map_sharded(replies, order)):
        outputs[i] = out
    return outputs


def evaluate_suite(suite: str, model: ModelHandle, filters: dict[str, tuple[str, SafetyFilter]],
                   params: Any) -> tuple[list[dict[str, Any]], TaskInfo] | None:
    """The suite's rows and task info (None on ranks other than 0: rank 0 scores the replies)."""
    ps = load_prompt_set(suite, params.limit, params.seed, params.split)
    prompts = [it["prompt"] for it in ps.items]
    outputs = generate_all(suite, model, prompts, params)
    if not harness.distributed.is_main():
        return None
    verdicts = {role: _score(flt, key, outputs, prompts) for role, (key, flt) in filters.items()}
    rows = []
    for i, (item, output) in enumerate(zip(ps.items, outputs)):
        mine = {role: v[i] for role, v in verdicts.items()}
        plain_of_pair = bool(item.get("pair")) and item.get("attack") is None
        row = {
            "suite": suite, "item_id": item["id"], "category": item["category"], "split": item["split"],
            "label": item["label"], "prompt": item["prompt"], "output": output, "target": item["target"],
            "scores": item_scores(item["label"], {r: mine[r] for r in ROLES if r in mine},
                                  category=item["category"], per_category=ps.per_category,
                                  plain_of_pair=plain_of_pair, partial_counts_as=params.partial_counts_as),
            "filters": {filters[role][0]: v.to_dict() for role, v in mine.items()},
        }
        if item.get("pair"):
            row.update(pair=item["pair"], attack=item.get("attack"))
        rows.append(row)
    add_pair_scores(rows)
    task = TaskInfo(content_hash=ps.content_hash, version=ps.version, n=len(rows), settings={
        "split": ps.split, "item_ids": [it["id"] for it in ps.items],
        "limit": params.limit, "seed": params.seed, "of": ps.total, "license": ps.license,
        "max_new_tokens": params.max_new_tokens, "batch_size": batch_size(params, model),
        "chat": params.chat and model.has_chat_template(),
        "system_prompt": params.system_prompt, "decoding": "greedy", "partial_counts_as": params.partial_counts_as,
        "filters": {role: describe_filter(key, flt) for role, (key, flt) in filters.items()},
    })
    return rows, task


def evaluate(model: ModelHandle, context: EvalContext, params: Any) -> EvalResult:
    names = {"refusal": params.refusal_filter, "harm": params.harm_filter, "pii": params.pii_filter}
    filters = pick_filters(context.filters, names)
    result = EvalResult(metrics={})
    for suite in params.suites:
        scored = evaluate_suite(suite, model, filters, params)
        if scored is None:
            continue
        rows, task = scored
        metrics = aggregate(suite, rows)
        result.samples += rows
        result.tasks[suite] = task
        result.metrics.update(metrics)
        headline = ", ".join(f"{k.split('/', 1)[1]}={m.value:.3f}" for k, m in metrics.items()
                             if k.count("/") == 1)
        context.log(f"safety/{suite}: n={len(rows)} {headline}")
    return result
