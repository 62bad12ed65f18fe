"""Load a local JSONL / CSV / Parquet file through ``datasets`` into format rows.

Steps: check the file exists → check every row (:mod:`.scan`) → ``load_dataset(builder, data_files={"train": path})``
→ map file columns to the format's keys → pick rows (``limit``, seeded
``shuffle``) → check each row's fields → optional conversion to chat messages.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from harness import DATA_FORMATS, registered_formats, to_conversational

from .scan import DataFileError, check_columns, field_problem, infer_format, scan


def resolve_path(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path.cwd() / p
    if not p.is_file():
        raise FileNotFoundError(f"data file not found: {p} (parameter `path` = {path!r}; relative paths "
                                f"are taken from the recipe's folder, or the working directory {Path.cwd()})")
    return p


def _check_field(value: Any, key: str, row: int, where: Path, role: str = "") -> None:
    problem = field_problem(value, key, role)
    if problem:
        raise DataFileError(f"{where}, row {row}: field {key!r}: {problem}")


def load_rows(builder: str, params: Any, *, seed: int) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(format, rows)``. ``params`` is the source's validated ``Params``."""
    import datasets

    path = resolve_path(params.path)
    scan(builder, path, params.format, params.columns)  # errors with file, line and column first
    try:
        ds = datasets.load_dataset(builder, data_files={"train": str(path)}, split="train")
    except Exception as exc:  # noqa: BLE001 - what the row check could not foresee (arrow types, ...)
        cause = exc.__cause__ or exc
        raise DataFileError(f"{path}: datasets could not read it after every row passed the harness's "
                            f"check: {type(cause).__name__}: {str(cause).strip().splitlines()[0][:300] if str(cause).strip() else ''}"
                            " (please report this file's shape)") from exc
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
