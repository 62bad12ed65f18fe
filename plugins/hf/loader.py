"""Load a causal LM and its tokenizer with the Auto classes; clear errors offline."""

from __future__ import annotations

from pathlib import Path

import harness
from harness import pick_device, torch_dtype

NO_NETWORK = ("no network: give a local directory (one with config.json and the tokenizer files, "
              "e.g. written by ModelHandle.save() or `huggingface-cli download` on a machine online)")


def looks_local(path: str) -> bool:
    """A path, not a hub id: absolute, relative with ./ or ../, ~, or more than one '/'."""
    return (path.startswith(("/", ".", "~")) or "\\" in path or path.count("/") > 1
            or Path(path).expanduser().exists())


def resolve_source(path: str) -> str:
    """The local folder (checked) or the hub id to hand to ``from_pretrained``."""
    if not looks_local(path):
        return path
    folder = Path(path).expanduser()
    if not folder.exists():
        raise harness.ParamError([("path", f"local directory '{path}' does not exist "
                                           f"(looked in {folder.resolve()})")])
    if not (folder / "config.json").is_file():
        raise harness.ParamError([("path", f"{folder} has no config.json: not a transformers model "
                                           "directory (for a .gguf file use loader = 'gguf')")])
    return str(folder.resolve())


def load_hf(params) -> harness.ModelHandle:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_source(params.path)
    device, dtype = pick_device(None if params.device == "auto" else params.device, params.dtype)
    kwargs = {"revision": params.revision, "trust_remote_code": params.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype(dtype), **kwargs)
    except OSError as exc:
        if source != params.path:  # a local folder that transformers cannot read
            raise
        raise harness.ParamError([("path", f"'{params.path}' is not a local directory and could not be "
                                           f"fetched from the hub ({_first_line(exc)}). Offline? "
                                           f"{NO_NETWORK}")]) from exc
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    meta = {"source": source, "revision": params.revision,
            "commit": getattr(model.config, "_commit_hash", None)}
    name = Path(source).name if source != params.path else params.path
    return harness.ModelHandle(model, tokenizer, name=name, loader="hf", device=device, dtype=dtype,
                               meta={k: v for k, v in meta.items() if v is not None})


def load_run(params) -> harness.ModelHandle:
    """A stored run's saved model, through the ``hf`` path, named after the run."""
    from types import SimpleNamespace

    record, entry, folder = find_run_model(params)
    if entry["kind"] == "adapter":
        handle = _with_adapter(record, entry, folder, params)
    else:
        handle = load_hf(SimpleNamespace(path=str(folder), revision=None, dtype=params.dtype,
                                         device=params.device, trust_remote_code=False))
        handle.files = folder
    handle.loader = "run"
    handle.name = f"{record.get('name') or 'run'}@{record['id']}"
    handle.meta = {"source": str(folder), "run": record["id"], "stage": entry["stage"],
                   "saved_fingerprint": entry["fingerprint"], **({"adapter": True} if entry["kind"] == "adapter" else {})}
    return handle


def _with_adapter(record, entry, folder, params) -> harness.ModelHandle:
    """A run that kept only a LoRA adapter (``merge = false``): its base, the adapter merged in.

    The base is the model the adapter's stage started from: the run's own base model
    (first train stage, loaded from the recorded ``[model]`` table) or the previous
    stage's saved model (``save = "stages"``).
    """
    from types import SimpleNamespace

    from peft import PeftModel


    stages = [t["stage"] for t in record.get("training") or []]
    index = stages.index(entry["stage"]) if entry["stage"] in stages else -1
    if index == 0:
        table = dict(((record.get("recipe") or {}).get("resolved") or {}).get("model") or {})
        loader = table.pop("loader", None)
        if loader == "run" and table.get("run") in (None, "latest"):
            raise harness.ParamError([("run", f"run {record['id']} started from run 'latest'; which run that was "
                                              f"is not known any more")])
        base = harness.get_host().create("model", loader, table).load()
    elif index > 0:
        try:
            run_dir = harness.Store(params.store).run_dir(record["id"])
            _, base_dir = harness.find_model(record, run_dir, stage=stages[index - 1])
        except harness.ArtifactNotFound as exc:
            raise harness.ParamError([("run", f"run {record['id']} kept only the LoRA adapter of stage "
                                              f"'{entry['stage']}' and not the model it was trained on (stage "
                                              f"'{stages[index - 1]}'); use [output] save = 'stages' or merge = true")]
                                     ) from exc
        base = load_hf(SimpleNamespace(path=str(base_dir), revision=None, dtype=params.dtype, device=params.device,
                                       trust_remote_code=False))
    else:
        raise harness.ParamError([("run", f"run {record['id']}: stage '{entry['stage']}' is not among its train stages")])
    base.model = PeftModel.from_pretrained(base.model, folder).merge_and_unload()
    base.model.eval()
    base.weights_changed()
    return base


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def find_run_model(params):
    """``(record, artifact entry, folder)`` of the model ``params`` name; ParamError otherwise.
    Light (no ML import): ``harness validate`` calls it."""

    store = harness.Store(params.store)
    try:
        record = _latest_with_model(store) if params.run == "latest" else store.load(params.run)
        try:
            entry, folder = harness.find_model(record, store.run_dir(record["id"]), stage=params.stage)
        except harness.AdapterOnly:
            entry, folder = harness.find_model(record, store.run_dir(record["id"]), stage=params.stage,
                                               kind="adapter")
    except (harness.RunNotFound, harness.ArtifactNotFound) as exc:
        raise harness.ParamError([("stage" if params.stage and isinstance(exc, harness.ArtifactNotFound) else "run",
                                   str(exc))]) from exc
    return record, entry, folder


def _latest_with_model(store):
    """``latest`` = the newest run that saved a model (not the evaluation that asks for it)."""

    for record in store.iter_records():
        if any(a.get("kind") in ("model", "adapter") for a in record.get("artifacts") or []):
            return record
    raise harness.RunNotFound(f"no run in store {store.location} saved a model (runs that train save one by default)")
