"""The ``hf`` and ``run`` model loaders and the ``hf`` data source: anything ``transformers`` /
``datasets`` can load, and the models stored runs saved.

Hub ids work for users who are online; offline, give a local directory (or a
local file with ``path = "json"`` and ``data_files``). Heavy imports live in
:mod:`.loader` and :mod:`.data`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import Field

import harness


class HFLoader(harness.ModelLoader):
    """``AutoModelForCausalLM`` + ``AutoTokenizer`` from a hub id or a local directory."""

    name = "hf"
    description = "Any transformers causal LM: a hub id (online) or a local directory"

    class Params(harness.Params):
        path: str = Field(description="hub id ('org/name') or a local directory with config.json")
        revision: Optional[str] = None
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
        device: str = "auto"
        trust_remote_code: bool = False

    def fingerprint(self) -> str | None:
        """A local folder's files (weights hashed at disk speed, config, tokenizer, chat template) and the
        parameters, without loading; None for a hub id (its files are known only once fetched)."""
        from .loader import looks_local

        folder = Path(self.params.path).expanduser()
        if not looks_local(self.params.path) or not (folder / "config.json").is_file():
            return None
        params = {k: v for k, v in self.params_dict().items() if k != "path"}
        # the folder is in the key too: the record names the model after it
        return harness.content_hash({"loader": self.name, "folder": str(folder.resolve()),
                                     "files": harness.folder_fingerprint(folder),
                                     "params": params, "code": self.code_fingerprint()})

    def load(self) -> harness.ModelHandle:
        from .loader import load_hf

        return load_hf(self.params)


class RunLoader(harness.ModelLoader):
    """The model a stored run saved (its final one, or a stage's): ``--model run:ID``."""

    name = "run"
    description = "The model a stored run saved: run = 'RUN_ID' or 'latest' (--model run:ID)"

    class Params(harness.Params):
        run: str = Field("latest", description="run id, unique id prefix, run name, or 'latest'")
        store: Optional[str] = Field(None, description="store directory (default: $HARNESS_STORE or ./runs)")
        stage: Optional[str] = Field(None, description="a train stage's model (needs [output] save = 'stages')")
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
        device: str = "auto"

    @classmethod
    def validate_params(cls, params):
        """The run must exist and have saved a model: checked before any run starts."""
        from .loader import find_run_model

        p = super().validate_params(params)
        find_run_model(p)
        return p

    def fingerprint(self) -> str | None:
        """The saved model folder's files, without loading (None for a LoRA adapter: its base is loaded too)."""
        from .loader import find_run_model

        try:
            _, entry, folder = find_run_model(self.params)
        except harness.ParamError:
            return None
        if entry.get("kind") != "model":
            return None
        params = {k: v for k, v in self.params_dict().items() if k in ("dtype", "device")}
        return harness.content_hash({"loader": self.name, "folder": str(folder), "files": harness.folder_fingerprint(folder),
                                     "params": params, "code": self.code_fingerprint()})

    def load(self) -> harness.ModelHandle:
        from .loader import load_run

        return load_run(self.params)


class HFDataSource(harness.DataSource):
    """Rows of any ``datasets.load_dataset`` data set, columns renamed to a format's keys."""

    name = "hf"
    description = "A datasets.load_dataset data set (hub id online, or path='json' + data_files)"

    class Params(harness.Params):
        path: str = Field(description="hub id, or a builder such as 'json'/'csv'/'parquet' with data_files")
        name: Optional[str] = None
        split: str = "train"
        data_files: Optional[Union[str, list[str], dict[str, Union[str, list[str]]]]] = None
        revision: Optional[str] = None
        format: str = Field(description="a registered data format: text, chat, prompt_completion, preference, "
                                        "unpaired_preference, prompt_only, ...")
        columns: dict[str, str] = Field(default_factory=dict,
                                        description="{format key: dataset column}, e.g. {prompt = 'question'}")
        limit: Optional[int] = Field(None, ge=1)
        shuffle: bool = Field(False, description="shuffle with the run seed before applying limit")

    @classmethod
    def validate_params(cls, params: dict[str, Any]):
        p = super().validate_params(params)
        if p.format not in harness.registered_formats():
            raise harness.ParamError([("format", f"unknown data format {p.format!r}; loaded formats: "
                                                 f"{', '.join(harness.registered_formats())}")])
        keys = harness.DATA_FORMATS[p.format]
        bad = [(f"columns.{k}", f"'{k}' is not a key of format '{p.format}' (keys: {', '.join(keys)})")
               for k in p.columns if k not in keys]
        if bad:
            raise harness.ParamError(bad)
        return p

    def data_format(self) -> str:
        return self.params.format

    @classmethod
    def local_paths(cls, params: dict[str, Any]) -> dict[str, str]:
        return {}  # `path` is a hub id or a builder name; datasets reports a missing data_files itself

    def load(self, *, seed: int = 0) -> list[dict[str, Any]]:
        from .data import load_rows

        return load_rows(self.params, seed=seed)


@harness.hookimpl
def register_models(register):
    register(HFLoader)
    register(RunLoader)


@harness.hookimpl
def register_data_sources(register):
    register(HFDataSource)
