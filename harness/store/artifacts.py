"""The models a run keeps: Hugging Face folders in (or next to) the run folder.

Layout (``[output] save``): the last train stage's model in ``model/`` (its LoRA
adapter, if any, in ``adapter/``); with ``save = "stages"`` every earlier stage's
in ``stages/<stage>/model`` (and ``.../adapter``). ``[output] path`` moves them
to ``<path>/<run id>/`` (big models do not belong next to ``run.json``).

Each folder is written to a temporary sibling and renamed into place, so a
folder that exists is complete. The record lists every saved folder with its
path (relative to the run folder when inside it), the fingerprint of its weight
files, its size and the stage that produced it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..errors import StoreError
from ..fingerprint import files_fingerprint


class ArtifactNotFound(StoreError, LookupError):
    pass


class AdapterOnly(ArtifactNotFound):
    """The stage kept a LoRA adapter but no full model (``[output] merge = false``)."""


def artifact_root(run_dir: Path, run_id: str, output_path: str | None) -> Path:
    """Where a run's models go: the run folder, or ``<[output] path>/<run id>``."""
    return Path(output_path).expanduser() / run_id if output_path else Path(run_dir)


def stage_folder(root: Path, stage: str, *, final: bool) -> Path:
    return root if final else root / "stages" / stage


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _relative(path: Path, run_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def _replace_dir(tmp: Path, dest: Path) -> None:
    """Rename a finished temporary folder into place (replacing an older copy: a resumed stage)."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def _temp_beside(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; a store may be shared
    return tmp


def _install(dest: Path, fill: Callable[[Path], Any]) -> tuple[str, int]:
    """Fill a temporary folder beside ``dest``, fingerprint it, rename it into place (atomic);
    on failure nothing is left behind. Returns ``(fingerprint, bytes)``."""
    tmp = _temp_beside(dest)
    try:
        fill(tmp)
        fingerprint, size = files_fingerprint(tmp), folder_bytes(tmp)
        _replace_dir(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return fingerprint, size


def save_model(handle, dest: Path, *, stage: str, run_dir: Path) -> dict[str, Any]:
    """Save ``handle`` (model, generation config, tokenizer) to ``dest`` atomically; return the
    record entry. Afterwards the handle's fingerprint is that of the saved files."""
    dest = Path(dest)
    fingerprint, size = _install(dest, handle.save)
    handle.use_saved(dest, fingerprint)
    return {"stage": stage, "kind": "model", "path": _relative(dest, run_dir), "fingerprint": fingerprint,
            "bytes": size, "format": "safetensors"}


def keep_adapter(written: Path, dest: Path, *, stage: str, run_dir: Path) -> dict[str, Any]:
    """Move a LoRA adapter a trainer wrote (``save_pretrained``) into place; return its entry."""
    written, dest = Path(written), Path(dest)

    def move_into(tmp: Path) -> None:
        for item in written.iterdir():
            shutil.move(str(item), tmp / item.name)

    fingerprint, size = _install(dest, move_into)
    shutil.rmtree(written, ignore_errors=True)
    return {"stage": stage, "kind": "adapter", "path": _relative(dest, run_dir), "fingerprint": fingerprint,
            "bytes": size, "format": "peft"}


def resolve_path(entry: dict[str, Any], run_dir: Path) -> Path:
    path = Path(entry["path"])
    return path if path.is_absolute() else Path(run_dir) / path


def find_model(record: dict[str, Any], run_dir: Path, *, stage: str | None = None,
               kind: str = "model") -> tuple[dict[str, Any], Path]:
    """The saved ``kind`` of ``stage`` (default: the last stage that saved anything, i.e. the
    run's final model) and its folder."""
    saved = record.get("artifacts") or []
    run = record.get("id", Path(run_dir).name)
    if stage is None and saved:
        stage = saved[-1].get("stage")
    entries = [a for a in saved if a.get("kind") == kind and a.get("stage") == stage]
    if not entries and kind == "model" and any(a.get("kind") == "adapter" and a.get("stage") == stage
                                               for a in saved):
        raise AdapterOnly(f"run {run} saved only a LoRA adapter for stage '{stage}' ([output] merge = "
                               f"false): load it with peft.PeftModel.from_pretrained on the base model, or run "
                               f"with merge = true to keep the merged weights too")
    if not entries:
        stages = sorted({a.get("stage") for a in saved})
        if stages:
            raise ArtifactNotFound(f"run {run} saved no {kind} for stage '{stage}' (saved: {', '.join(stages)})")
        why = ("it has no train stage" if not (record.get("training") or [])
               else f"its [output] save = '{((record.get('recipe') or {}).get('resolved') or {}).get('output', {}).get('save', '?')}'"
               if record.get("status") == "completed" else f"it is {record.get('status')}")
        raise ArtifactNotFound(f"run {run} saved no {kind} ({why}); models are kept for runs that train "
                               f"with [output] save = 'final' or 'stages'")
    entry = entries[-1]
    folder = resolve_path(entry, run_dir)
    if not folder.is_dir():
        raise ArtifactNotFound(f"run {run}: saved {kind} folder {folder} is missing (moved or deleted?)")
    return entry, folder


def load_saved(folder: Path, *, name: str, loader: str, device: str = "cpu", dtype: str = "float32",
               meta: dict[str, Any] | None = None):
    """A saved model folder back as a :class:`~harness.ModelHandle` (transformers' Auto classes),
    with the saved files as its fingerprint source."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..contract.components import ModelHandle
    from ..runtime import torch_dtype

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype(dtype))
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)  # type: ignore[arg-type]  # transformers types .to() for its wrapper only
    model.eval()
    return ModelHandle(model, tokenizer, name=name, loader=loader, device=device, dtype=dtype,
                       meta=meta, files=folder)
