"""``harness export RUN DIR``: a run's saved model as a self-contained folder with a model card."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import click

from ._common import fail, store_option

RECORD_COPY = "posttrain-harness-run.json"


def export_run(store, ref: str, dest: Path, *, stage: str | None = None) -> Path:
    """Copy the run's model (and LoRA adapter) to ``dest`` with ``README.md`` and the record;
    written to a temporary sibling and renamed into place."""
    from ..reports.model_card import model_card
    from ..store.artifacts import AdapterOnly, find_model, resolve_path
    from .run_cmd import _own_comparison

    record = store.load(ref)
    run_dir = store.run_dir(record["id"])  # a remote store downloads it
    adapter_only = False
    try:
        entry, folder = find_model(record, run_dir, stage=stage)
    except AdapterOnly:
        entry, folder = find_model(record, run_dir, stage=stage, kind="adapter")  # merge = false
        adapter_only = True
    adapters = [] if adapter_only else [a for a in record.get("artifacts") or []
                                        if a.get("kind") == "adapter" and a["stage"] == entry["stage"]]
    dest = Path(dest).expanduser()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise click.UsageError(f"{dest} exists and is not empty: give a new folder (nothing was written)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
    try:
        shutil.copytree(folder, tmp, dirs_exist_ok=True)
        for a in adapters:
            shutil.copytree(resolve_path(a, run_dir), tmp / "adapter")
        comparison = _own_comparison(record, store) if stage is None else None
        (tmp / "README.md").write_text(model_card(record, comparison, adapter_only=adapter_only),
                                       encoding="utf-8")
        (tmp / RECORD_COPY).write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str),
                                       encoding="utf-8")
        tmp.chmod(0o755)
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def push_to_hub(folder: Path, repo: str, *, private: bool) -> str:
    """Upload the exported folder with ``huggingface_hub`` (token from the environment / login)."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo, private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo,
                             commit_message="Upload model exported by posttrain-harness")
    return str(getattr(info, "commit_url", repo))


@click.command(name="export")
@click.argument("run_ref", metavar="RUN")
@click.argument("dest", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--stage", help="Export a train stage's model (needs [output] save = 'stages').")
@click.option("--push-to-hub", "repo", metavar="REPO", help="Also upload the folder to this Hub repo (online).")
@click.option("--private", is_flag=True, help="With --push-to-hub: create the repo private.")
@store_option
def export(run_ref, dest, stage, repo, private, store):
    """Write a run's saved model to DIR: loadable by from_pretrained, with a README.md model card
    (before/after table, gates, data, stages, hardware) and the run record."""
    from ..store.artifacts import ArtifactNotFound
    from ..store.local import RunNotFound

    try:
        out = export_run(store, run_ref, Path(dest), stage=stage)
    except (RunNotFound, ArtifactNotFound) as exc:
        fail(str(exc))
    click.echo(f"exported to {out}")
    if repo:
        try:
            url = push_to_hub(out, repo, private=private)
        except Exception as exc:  # noqa: BLE001 - offline, no token, no permission: the folder is kept
            fail(f"upload to {repo} failed ({type(exc).__name__}: {exc}); the exported folder {out} is complete")
        click.echo(f"pushed to {url}")
