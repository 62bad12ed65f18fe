"""Read a local data file cheaply, row by row, and say exactly where it does not fit.

``datasets`` reports a malformed line as "An error occurred while generating
the dataset" and an empty file as ``StopIteration``. This module reads JSON
Lines and CSV files with the standard library first (a UTF-8 byte-order mark
is accepted) and raises :class:`DataFileError` naming the file, the line, the
column and what was expected: undecodable bytes, a line that is not a JSON
object, a CSV row with the wrong number of fields, a missing column, a field
of the wrong type, a column whose type changes between rows, an empty file.
``harness validate`` runs it before any model is loaded; the file source runs
it again before ``datasets`` loads the file.

Light module: no ``datasets`` import.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any, Iterator

from harness import DATA_FORMATS, ParamError, registered_formats


class DataFileError(ParamError):
    """A data file does not fit; the message names file, line, column and what was expected."""

    def __init__(self, message: str, key: str = "path"):
        self.message = message
        super().__init__([(key, message)])


def _json_type(value: Any) -> str:
    return {dict: "object", list: "list", str: "text", bool: "true/false", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def read_text(path: Path) -> str:
    """The file as text: gzip opened, a UTF-8 BOM dropped, bad bytes reported with their line."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataFileError(f"{path}: cannot be read ({exc})") from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataFileError(f"{path}, line {line}: NUL byte at offset {nul}: a binary file, or text saved as "
                            "UTF-16? save it as UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataFileError(f"{path}, line {line}, column {col}: byte 0x{raw[exc.start]:02x} is not UTF-8 text "
                            "(is it a binary file, or saved as Latin-1/UTF-16? save it as UTF-8)") from None


def jsonl_rows(path: Path, text: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a JSON Lines file."""
    text = read_text(path) if text is None else text
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{path}, line {lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                                "each line must be one JSON object, e.g. {\"prompt\": \"...\", "
                                "\"completion\": \"...\"}") from None
        except RecursionError:
            raise DataFileError(f"{path}, line {lineno}: JSON nested too deeply") from None
        if not isinstance(row, dict):
            raise DataFileError(f"{path}, line {lineno}: expected a JSON object {{\"column\": value, ...}}, "
                                f"got {_json_type(row)}")
        yield lineno, row


def csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The header and ``(line number, row)`` of a CSV file; rows must have as many fields as the header."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DataFileError(f"{path}, line 1: not a CSV header ({exc})") from None
    if not header or not any(h.strip() for h in header):
        return [], iter(())
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataFileError(f"{path}, line 1: column name(s) {', '.join(map(repr, dupes))} appear twice in the header")

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataFileError(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from None
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataFileError(f"{path}, line {reader.line_num}: {len(fields)} field(s), but the header has "
                                    f"{len(header)} ({', '.join(header)}); quote fields that contain commas")
            yield reader.line_num, dict(zip(header, fields))

    return header, rows()


def infer_order() -> list[str]:
    """Registered formats, most specific (most keys) first: the order a format is inferred in."""
    formats = registered_formats()
    return sorted(formats, key=lambda name: -len(formats[name].keys()))


def infer_format(columns: list[str], mapping: dict[str, str], where: Path) -> str:
    check_mapped(columns, mapping, where)
    present = set(columns) | set(mapping)
    order = infer_order()
    for fmt in order:
        if all(k in present for k in DATA_FORMATS[fmt]):
            return fmt
    wanted = "; ".join(f"{f}: {', '.join(DATA_FORMATS[f])}" for f in order)
    raise ParamError([("format", f"cannot infer the format of {where}: its columns are "
                                 f"{', '.join(columns) or 'none'}. Formats need ({wanted}). Set `format` and "
                                 "map your columns, e.g. columns = {prompt = \"question\", completion = \"answer\"}")])


def check_mapped(columns: list[str], mapping: dict[str, str], where: Path) -> None:
    errors = [(f"columns.{key}", f"column {col!r} not found in {where}; available columns: "
                                 f"{', '.join(columns) or 'none'}")
              for key, col in mapping.items() if col not in columns]
    if errors:
        raise ParamError(errors)


def field_problem(value: Any, key: str, role: str = "") -> str | None:
    """Why ``value`` cannot be the format key ``key`` with that role (None when it can)."""
    if role == "label":
        return None if isinstance(value, bool) else f"expected true or false, got {_json_type(value)}: {value!r}"
    if isinstance(value, str) and key != "messages":
        return None
    if key == "text":
        return f"expected text, got {_json_type(value)}"
    if isinstance(value, list) and value and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value):
        return None
    wanted = "a non-empty list of {role, content} messages" if key == "messages" else \
        "text or a non-empty list of {role, content} messages"
    return f"expected {wanted}, got {_json_type(value)}: {str(value)[:60]!r}"


def scan(builder: str, path: Path, fmt: str | None, mapping: dict[str, str]) -> tuple[str, int]:
    """Check every row of a JSONL/CSV file against the format; return ``(format, rows)``.

    Parquet files are typed already: only the column names are checked here.
    """
    if builder == "parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
            n = pq.read_metadata(path).num_rows
        except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid/OSError for a bad file
            raise DataFileError(f"{path}: not a Parquet file ({exc})") from None
        columns = list(schema.names)
        fmt = fmt or infer_format(columns, mapping, path)
        check_columns(fmt, columns, mapping, path)
        if n == 0:
            raise DataFileError(f"{path}: no rows; a data file needs at least one example")
        return fmt, n
    if builder == "csv":
        header, rows = csv_rows(path)
        if not header:
            raise DataFileError(f"{path}: empty file; a CSV data file needs a header line and at least one row")
    else:
        rows = jsonl_rows(path)
        header = []
    count, types = 0, {}
    for lineno, row in rows:
        where = f"{path}, line {lineno}"
        if count == 0:
            columns = header or list(row)
            fmt = fmt or infer_format(columns, mapping, path)
            full = {k: mapping.get(k, k) for k in DATA_FORMATS[fmt]}
        count += 1
        check_columns(fmt, list(row), mapping, f"{path}, line {lineno}")
        roles = registered_formats()[fmt].fields
        for key, col in full.items():
            problem = field_problem(row[col], key, roles.get(key, ""))
            if builder == "csv" and key == "messages":
                problem = "a CSV field holds text, not a list of messages: use JSONL for format 'chat'"
            if problem:
                raise DataFileError(f"{where}, column {col!r} (format '{fmt}' key {key!r}): {problem}")
        if builder != "csv":  # datasets needs one type per column
            for col, value in row.items():
                kind = _json_type(value)
                if kind == "null":
                    continue
                first = types.setdefault(col, (kind, lineno))
                if first[0] != kind:
                    raise DataFileError(f"{where}, column {col!r}: {kind}, but line {first[1]} has "
                                        f"{first[0]}; a column must hold one type in every row")
    if count == 0:
        raise DataFileError(f"{path}: no rows (the file is empty or blank); a data file needs at least one "
                            "example" + (" under its header" if builder == "csv" else ", one JSON object a line"))
    return fmt, count


def check_columns(fmt: str, columns: list[str], mapping: dict[str, str], where: Path | str) -> dict[str, str]:
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
