"""Load a local JSONL / CSV / Parquet file through ``datasets`` into format rows.

Steps: check the file exists → ``load_dataset(builder, data_files={"train": path})``
→ map file columns to the format's keys → pick rows (``limit``, seeded
``shuffle``) → check each row's fields → optional conversion to chat messages.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

from harness import DATA_FORMATS, ParamError, registered_formats

from .chat import to_conversational

def infer_order() -> list[str]:
    """Registered formats, most specific (most keys) first: the order a format is inferred in."""
    formats = registered_formats()
    return sorted(formats, key=lambda name: -len(formats[name].keys()))


def resolve_path(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path.cwd() / p
    if not p.is_file():
        raise FileNotFoundError(f"data file not found: {p} (parameter `path` = {path!r}; relative paths "
                                f"are taken from the recipe's folder, or the working directory {Path.cwd()})")
    return p


def peek_columns(builder: str, path: Path) -> list[str]:
    """Column names without loading the file (for ``data_format()`` at recipe-check time)."""
    if builder == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        if builder == "csv":
            import csv

            return next(csv.reader(fh), [])
        for line in fh:
            if line.strip():
                row = json.loads(line)
                return list(row) if isinstance(row, dict) else []
    return []


def infer_format(columns: list[str], mapping: dict[str, str], where: Path) -> str:
    _check_mapped(columns, mapping, where)
    present = set(columns) | set(mapping)
    order = infer_order()
    for fmt in order:
        if all(k in present for k in DATA_FORMATS[fmt]):
            return fmt
    wanted = "; ".join(f"{f}: {', '.join(DATA_FORMATS[f])}" for f in order)
    raise ParamError([("format", f"cannot infer the format of {where}: its columns are "
                                 f"{', '.join(columns) or 'none'}. Formats need ({wanted}). Set `format` and "
                                 "map your columns, e.g. columns = {prompt = \"question\", completion = \"answer\"}")])


def _check_mapped(columns: list[str], mapping: dict[str, str], where: Path) -> None:
    errors = [(f"columns.{key}", f"column {col!r} not found in {where}; available columns: "
                                 f"{', '.join(columns) or 'none'}")
              for key, col in mapping.items() if col not in columns]
    if errors:
        raise ParamError(errors)


def check_columns(fmt: str, columns: list[str], mapping: dict[str, str], where: Path) -> dict[str, str]:
    """The full ``{format key: file column}`` map; errors name the missing column."""
    full = {k: mapping.get(k, k) for k in DATA_FORMATS[fmt]}
    if "id" in mapping or "id" in columns:
        full["id"] = mapping.get("id", "id")
    errors = []
    for key, col in full.items():
        if col not in columns:
            how = (f"`columns.{key}` = {col!r}" if key in mapping
                   else f"format '{fmt}' needs column {key!r}; map another with columns = {{{key} = \"...\"}}")
            errors.append((f"columns.{key}" if key in mapping else "format",
                           f"column {col!r} not found in {where} ({how}); available columns: "
                           f"{', '.join(columns) or 'none'}"))
    if errors:
        raise ParamError(errors)
    return full


def _check_field(value: Any, key: str, row: int, where: Path, role: str = "") -> None:
    if role == "label":
        if isinstance(value, bool):
            return
        raise ValueError(f"{where}, row {row}: field {key!r} must be true or false, got {value!r}")
    if isinstance(value, str) and key != "messages":
        return
    if key == "text":
        raise ValueError(f"{where}, row {row}: field 'text' must be text, got {type(value).__name__}")
    if isinstance(value, list) and value and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value):
        return
    raise ValueError(f"{where}, row {row}: field {key!r} must be text or a non-empty list of "
                     f"{{role, content}} messages, got {type(value).__name__}: {str(value)[:80]!r}")


def load_rows(builder: str, params: Any, *, seed: int) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(format, rows)``. ``params`` is the source's validated ``Params``."""
    import datasets

    path = resolve_path(params.path)
    ds = datasets.load_dataset(builder, data_files={"train": str(path)}, split="train")
    columns = list(ds.column_names)
    fmt = params.format or infer_format(columns, params.columns, path)
    mapping = check_columns(fmt, columns, params.columns, path)

    indices = list(range(len(ds)))
    if params.shuffle:
        random.Random(params.seed if params.seed is not None else seed).shuffle(indices)
    if params.limit is not None:
        indices = indices[:params.limit]
    picked = ds.select(indices).to_list()

    mapped_cols = set(mapping.values())
    rows = []
    for file_row, raw in zip(indices, picked):
        row = {key: raw[col] for key, col in mapping.items()}
        roles = registered_formats()[fmt].fields
        for key in DATA_FORMATS[fmt]:
            _check_field(row[key], key, file_row, path, roles.get(key, ""))
        row["id"] = str(row.get("id", file_row))
        for col, value in raw.items():  # other columns ride along as metadata
            if col not in mapped_cols and col not in row:
                row[col] = value
        if params.chat:
            row = to_conversational(row, fmt, params.system_prompt)
        rows.append(row)
    return fmt, rows
