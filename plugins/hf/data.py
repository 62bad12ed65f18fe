"""Rows from ``datasets.load_dataset``, renamed to a data format's keys."""

from __future__ import annotations

from typing import Any

import harness


def load_rows(params, *, seed: int = 0) -> list[dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_dataset(params.path, params.name, split=params.split,
                                   data_files=params.data_files, revision=params.revision)
    except (FileNotFoundError, ConnectionError, OSError, ValueError) as exc:
        hint = ("if this is a hub data set and there is no network: give a local file with "
                "path = 'json' (or 'csv', 'parquet') and data_files = '...'")
        raise harness.ParamError([("path", f"cannot load data set '{params.path}'"
                                           f"{' (' + params.name + ')' if params.name else ''} split "
                                           f"'{params.split}': {str(exc).strip().splitlines()[0]}; {hint}")]) from exc
    keys = harness.DATA_FORMATS[params.format]
    mapping = {key: params.columns.get(key, key) for key in keys}
    missing = [(f"columns.{key}", f"column '{col}' not in the data set (columns: {', '.join(ds.column_names)})")
               for key, col in mapping.items() if col not in ds.column_names]
    if missing:
        raise harness.ParamError(missing)
    if params.shuffle:
        ds = ds.shuffle(seed=seed)
    if params.limit is not None:
        ds = ds.select(range(min(params.limit, len(ds))))
    renamed = {col: key for key, col in mapping.items()}
    rows = []
    for row in ds:
        out = {renamed.get(col, col): value for col, value in row.items() if col not in keys or col in renamed}
        rows.append(out)
    return rows
