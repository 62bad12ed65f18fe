"""Local data files as data sources: ``jsonl``, ``csv`` and ``parquet``.

All three load through ``datasets.load_dataset`` (heavy imports happen in
:mod:`.loading`, inside ``load()``), map file columns onto a format's keys and
can turn plain text into chat messages for TRL. See docs/data.md.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, field_validator, model_validator

import harness


def _known_format_keys() -> list[str]:
    """Every key of every registered format, plus ``id`` (looked up when a recipe is checked)."""
    return sorted({k for fmt in harness.registered_formats().values() for k in fmt.keys()} | {"id"})


class FileSource(harness.DataSource):
    """Base of the file sources; subclasses set ``name`` and the ``datasets`` builder."""

    builder = ""

    class Params(harness.Params):
        path: str = Field(description="the file; relative paths are relative to the recipe's folder")
        format: Optional[str] = Field(None, description="a registered data format (text, chat, prompt_completion, "
                                                        "preference, unpaired_preference, prompt_only, ...); "
                                                        "inferred from the columns when left out")
        columns: dict[str, str] = Field(default_factory=dict,
                                        description="{format key = file column}, e.g. {prompt = \"question\"}")
        limit: Optional[int] = Field(None, ge=1, description="use at most this many rows")
        shuffle: bool = Field(False, description="seeded shuffle before `limit` (a random subsample)")
        seed: Optional[int] = Field(None, description="shuffle seed; default: the run's seed")
        chat: bool = Field(False, description="turn text fields into chat messages (TRL conversational)")
        system_prompt: Optional[str] = Field(None, description="system message to add (needs chat = true)")

        @field_validator("format")
        @classmethod
        def _known_format(cls, v):
            if v is not None and v not in harness.DATA_FORMATS:
                raise ValueError(f"unknown format {v!r}; use one of {', '.join(harness.DATA_FORMATS)}")
            return v

        @field_validator("columns")
        @classmethod
        def _known_keys(cls, v):
            known = _known_format_keys()
            bad = [k for k in v if k not in known]
            if bad:
                raise ValueError(f"unknown format key(s) {', '.join(map(repr, bad))} in columns; "
                                 f"keys are {', '.join(known)} (the value is your file's column)")
            return v

        @model_validator(mode="after")
        def _consistent(self):
            if self.format:
                extra = [k for k in self.columns if k != "id" and k not in harness.DATA_FORMATS[self.format]]
                if extra:
                    raise ValueError(f"columns {', '.join(map(repr, extra))} are not keys of format "
                                     f"'{self.format}' ({', '.join(harness.DATA_FORMATS[self.format])})")
            if self.chat and self.format == "text":
                raise ValueError("chat = true needs a format with roles (prompt_completion, preference, chat), "
                                 "not 'text'")
            if self.system_prompt and not self.chat:
                raise ValueError("system_prompt is added as a chat message: set chat = true as well")
            return self

    def data_format(self) -> str:
        """The declared format, or the one inferred from the file's header / first row."""
        if self.params.format:
            return self.params.format
        if getattr(self, "_format", None) is None:
            self.check()
        return self._format

    def check(self) -> None:
        """Read every row once (standard library, no ``datasets``): errors name file, line and column."""
        from .loading import resolve_path
        from .scan import scan

        try:
            path = resolve_path(self.params.path)
        except FileNotFoundError as exc:
            raise harness.ParamError([("path", str(exc))]) from None
        self._format, self._rows = scan(self.builder, path, self.params.format, self.params.columns)

    def load(self, *, seed: int = 0) -> list[dict[str, Any]]:
        from .loading import load_rows

        self._format, rows = load_rows(self.builder, self.params, seed=seed)
        return rows


class JsonlSource(FileSource):
    name = "jsonl"
    description = "A local JSON Lines file (also .json, .jsonl.gz), through datasets"
    builder = "json"


class CsvSource(FileSource):
    name = "csv"
    description = "A local CSV file, through datasets"
    builder = "csv"


class ParquetSource(FileSource):
    name = "parquet"
    description = "A local Parquet file, through datasets"
    builder = "parquet"


@harness.hookimpl
def register_data_sources(register):
    register(JsonlSource)
    register(CsvSource)
    register(ParquetSource)
