"""Reading the store, cached.

Every cached reader is keyed by the store path plus a cheap *version* of what
it reads (the name and mtime of a run's ``run.json`` / ``record.partial.json``;
on a remote store its index entry's tag), so a new or finished run shows up on the
next rerun and only that run is re-read. A remote store (``s3://…``) is listed from
its index (``Store.run_versions`` / ``Store.summaries_of``): two listings and one
concurrent batch of small reads, not one request per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from harness.store.local import Store, default_store_path, is_remote_url, read_jsonl

from .runs_table import rows_to_frame, run_row


def store_root() -> str:
    """The store this app shows: ``$HARNESS_STORE`` or ``./runs``, absolute (a URL as given)."""
    given = default_store_path()
    return given if is_remote_url(given) else str(Path(given).expanduser().resolve())


def store_label(root: str) -> str:
    """The store as the page shows it (a URL without any ``user:password@``)."""
    return Store(root).location


def run_version(root: str, run_id: str) -> str:
    """Which record file a run has and when it last changed ("" when neither exists)."""
    return Store(root).run_version(run_id)


def signature(root: str) -> tuple[tuple[str, str], ...]:
    """Every run id with its version, newest first: the cache key of the run list."""
    return tuple(Store(root).run_versions())


@st.cache_resource(show_spinner=False)
def _row_memo() -> dict[tuple[str, str, str], dict[str, Any]]:
    return {}


@st.cache_data(show_spinner=False, max_entries=8)
def runs_frame(root: str, sig: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """One row per run (see ``runs_table.run_row``); re-reads only runs whose version changed."""
    memo = _row_memo()
    store = Store(root)
    rows, live = [], set()
    missing = [run_id for run_id, version in sig if (root, run_id, version) not in memo]
    for run_id, summary in store.summaries_of(missing).items() if missing else ():
        memo[(root, run_id, dict(sig)[run_id])] = run_row(summary)
    for run_id, version in sig:
        key = (root, run_id, version)
        live.add(key)
        rows.append(memo[key])
    for key in [k for k in memo if k[0] == root and k not in live]:
        memo.pop(key, None)
    return rows_to_frame(rows)


def load_runs() -> tuple[str, pd.DataFrame]:
    root = store_root()
    return root, runs_frame(root, signature(root))


@st.cache_data(show_spinner=False, max_entries=64)
def _record(root: str, run_id: str, version: str) -> dict[str, Any]:
    return Store(root).load(run_id)


def record(root: str, run_id: str) -> dict[str, Any]:
    """A run's record as ``Store.load`` returns it (status incomplete/corrupt included)."""
    return _record(root, run_id, run_version(root, run_id))


@st.cache_data(show_spinner=False, max_entries=64)
def _samples(root: str, run_id: str, phase: str, version: str) -> list[dict[str, Any]]:
    return Store(root).samples(run_id, phase)


def samples(root: str, run_id: str, phase: str) -> list[dict[str, Any]]:
    """Per-sample rows of a run's ``before`` / ``after`` evaluation ([] when absent)."""
    return _samples(root, run_id, phase, run_version(root, run_id))


@st.cache_data(show_spinner=False, max_entries=32)
def _train_log(root: str, run_id: str, log: str, version: str) -> list[dict[str, Any]]:
    store = Store(root)
    folder = (store.root / run_id).resolve()
    path = (folder / log).resolve()
    if not path.is_relative_to(folder):  # a record must not make the app read outside its run
        raise ValueError(f"training log {log!r} points outside run folder {folder}")
    return read_jsonl(store.local_file(run_id, log) if store.is_remote else path)


def train_log(root: str, run_id: str, log: str) -> list[dict[str, Any]]:
    """Rows of a training log named in ``record["training"][i]["log"]``."""
    return _train_log(root, run_id, log, run_version(root, run_id))


def logs_folder(root: str, record: dict[str, Any]) -> Path:
    """The run's folder with its training logs in it (a remote store downloads just those)."""
    return Store(root).logs_dir(record)
