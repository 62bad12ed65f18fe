"""Run lm-eval on an in-memory model: task resolution, ``HFLM``, ``simple_evaluate``.

Never passes ``use_cache``: lm-eval's request cache is keyed by the model's name,
not its weights (lm-eval #2715), so it would return the "before" answers after
training. The harness caches whole evaluations by weight hash instead.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import random
import tempfile
from pathlib import Path

import harness

from .convert import to_eval_result
from .suites import bundled_suites, materialize, with_members


def _index_names(paths: list[Path]) -> set[str]:
    """Task, group and tag names defined in ``paths`` (without lm-eval's own tasks: milliseconds)."""
    from lm_eval.tasks import TaskManager

    if not paths:
        return set()
    return set(TaskManager(include_path=[str(p) for p in paths], include_defaults=False).all_tasks)


def _unknown_task_error(unknown: list[str], bundled: list[str], user_path: str | None,
                        user_names: set[str], known: list[str]) -> harness.ParamError:
    lines = [f"lm-eval task(s) not found: {', '.join(unknown)}.",
             f"Bundled suites: {', '.join(bundled) or 'none (use_bundled = false)'}."]
    if user_path:
        lines.append(f"In include_path {user_path}: {', '.join(sorted(user_names)) or 'no task YAMLs'}.")
    lines.append(f"lm-eval knows {len(known)} task, group and tag names (list them with `lm_eval ls tasks`); "
                 "names that are not bundled need a dataset hub, or a task YAML in include_path.")
    close = sorted({m for name in unknown for m in difflib.get_close_matches(name, known + bundled, n=3)})
    if close:
        lines.append(f"Did you mean: {', '.join(close)}?")
    return harness.ParamError([("tasks", " ".join(lines))])


def task_manager(tasks: list[str], include: list[Path], *, user_path: str | None, bundled: list[str]):
    """A ``TaskManager`` that knows every requested name.

    lm-eval's own ~15k task YAMLs are indexed (seconds) only when a name is
    neither bundled nor in ``include_path``. Later include paths win over
    earlier ones and both over lm-eval's own tasks (its index lets later paths
    override), so a bundled ``openbookqa`` replaces lm-eval's hub one.
    """
    from lm_eval.tasks import TaskManager

    local = _index_names(include)
    missing = [t for t in tasks if t not in local and not Path(t).is_file()]
    if not missing:
        return TaskManager(include_path=[str(p) for p in include] or None, include_defaults=False)
    tm = TaskManager(include_path=[str(p) for p in include] or None, include_defaults=True)
    unknown = [t for t in missing if t not in tm.all_tasks]
    if unknown:
        user_names = _index_names([Path(user_path).expanduser()]) if user_path else set()
        raise _unknown_task_error(unknown, bundled, user_path, user_names, tm.all_tasks)
    return tm


def doc_indices(tm, tasks: list[str], *, split: str, limit: int | None, sample: int | None,
                seed: int) -> dict[str, list[int]] | None:
    """Document indices per leaf task for lm-eval's ``samples`` argument (its ``--samples``), or
    None when lm-eval's own ``limit`` says it all (every document, or the first ``limit``).

    ``split`` keeps the task's fixed ``dev`` or ``test`` half (:func:`harness.assign_splits` over
    document indices, seeded by the task's name, stratified by a document's ``category`` where it
    has one); then ``limit`` keeps the first N of those, or ``sample`` draws N with
    ``random.Random(f"{seed}:{task}")``.
    """
    if split == "all" and sample is None:
        return None
    out = {}
    for name, task in sorted(tm.load(tasks)["tasks"].items()):
        docs = list(task.eval_docs)
        kept = list(range(len(docs)))
        if split != "all":
            items = [{"id": str(i), "category": _category(doc)} for i, doc in enumerate(docs)]
            splits = harness.assign_splits(name, items)
            kept = [i for i in kept if splits[str(i)] == split]
        if sample is not None:
            kept = sorted(random.Random(f"{seed}:{name}").sample(kept, min(sample, len(kept))))
        elif limit is not None:
            kept = kept[:limit]
        if not kept:
            raise harness.ParamError([("split", f"lm-eval task {name!r} has no documents in split {split!r} "
                                                f"({len(docs)} in all); use split = \"all\" for it")])
        out[name] = kept
    return out


def _category(doc) -> str | None:
    category = doc.get("category") if isinstance(doc, dict) else None
    return category if isinstance(category, str) else None


@contextlib.contextmanager
def _global_rng_kept(device: str):
    """lm-eval seeds python, numpy and torch globally; put their states back afterwards
    so that evaluating does not change what a later training stage draws.

    Only the model's own GPU's generator is saved: forking every visible GPU's would open
    a CUDA context on each of them (every rank of an 8-GPU job on all 8 cards)."""
    import numpy as np
    import torch

    py, npy = random.getstate(), np.random.get_state()
    index = torch.device(device).index if device.startswith("cuda") else None
    devices = [] if not device.startswith("cuda") else [index if index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)


def resolve_batch_size(asked: int | str | None, device: str) -> int | str:
    """What the recipe asked for, else lm-eval's own ``auto`` search on a GPU (the largest batch
    that fits, found once per run) and 8 on a CPU, where a larger batch only pads more."""
    if asked is not None:
        return asked
    return "auto" if device.startswith("cuda") else 8


def data_parallel(lm) -> None:
    """Under a launcher, lm-eval's own data parallelism over the in-memory model.

    ``HFLM(pretrained=model)`` assumes one process ("custom distributed integration");
    this is that integration: the rank, world size and an ``accelerate.Accelerator``
    (on the process group the harness set up) are what lm-eval's evaluator reads to
    shard the requests, pad the ranks to equal batches and gather the results on rank 0.
    The global rank, not HFLM's ``local_process_index``, so that it holds across machines.
    """
    if not harness.distributed.is_distributed():
        return
    from accelerate import Accelerator

    lm.accelerator = Accelerator()
    lm._rank, lm._world_size = harness.distributed.rank(), harness.distributed.world_size()


def run(evaluator, handle: harness.ModelHandle, context: harness.EvalContext) -> harness.EvalResult:
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    p = evaluator.params
    bundled = evaluator.bundled_names()
    was_training = bool(getattr(handle.model, "training", False))
    batch_size = resolve_batch_size(p.batch_size, str(handle.device))
    with tempfile.TemporaryDirectory(prefix="harness-lm-eval-") as tmp:
        include = [materialize(bundled, Path(tmp) / "bundled")] if bundled else []
        if p.include_path:
            include.append(Path(p.include_path).expanduser().resolve())
        tm = task_manager(p.tasks, include, user_path=p.include_path,
                          bundled=sorted(bundled_suites()) if p.use_bundled else [])
        user_names = _index_names(include[-1:]) if p.include_path else set()
        samples = doc_indices(tm, list(p.tasks), split=p.split, limit=p.limit, sample=p.sample, seed=p.seed)
        try:
            # A copy: HFLM may set a pad token on the tokenizer it is given.
            lm = HFLM(pretrained=handle.model, tokenizer=copy.deepcopy(handle.tokenizer), batch_size=batch_size)
            data_parallel(lm)
            with _global_rng_kept(str(handle.model.device)):
                results = lm_eval.simple_evaluate(
                    model=lm, tasks=list(p.tasks), task_manager=tm,
                    num_fewshot=p.num_fewshot, limit=None if samples else p.limit, samples=samples,
                    apply_chat_template=p.apply_chat_template, fewshot_as_multiturn=p.fewshot_as_multiturn,
                    system_instruction=p.system_instruction,
                    gen_kwargs={"max_gen_toks": p.max_gen_toks} if p.max_gen_toks else None,
                    log_samples=True, use_cache=None, cache_requests=False,
                    random_seed=p.seed, numpy_random_seed=p.seed, torch_random_seed=p.seed,
                    fewshot_random_seed=p.seed,
                )
        finally:
            handle.model.train(was_training)  # HFLM switched it to eval mode
    if results is None:  # another rank than 0: lm-eval gathered this rank's share on rank 0
        return harness.EvalResult(metrics={})
    sources = {t: "include_path" if t in user_names else "bundled" if t in with_members(bundled) else "lm-eval"
               for t in [*p.tasks, *with_members(bundled)]}
    settings = {"apply_chat_template": p.apply_chat_template, "fewshot_as_multiturn": p.fewshot_as_multiturn,
                "system_instruction": p.system_instruction, "split": p.split, "limit": p.limit, "sample": p.sample,
                "seed": p.seed, "max_gen_toks": p.max_gen_toks, "batch_size": batch_size,
                "lm_eval": lm_eval.__version__, "device": handle.device, "dtype": handle.dtype}
    result = to_eval_result(results, settings, sources)
    for name, info in result.tasks.items():
        context.log(f"lm-eval {name}: n={info.n} " + ", ".join(
            f"{k.split('/', 1)[1]}={m.value:.4f}" for k, m in result.metrics.items() if k.startswith(name + "/")))
    return result

