"""The small interfaces a registered component implements, and what they exchange.

Each kind of component (model loader, data source, trainer, ...) is a subclass of
:class:`~harness.contract.component.Component`; :mod:`.kinds` lists them with their hooks.

This module imports no ML library: heavy imports belong inside methods.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

from ..console import Progress
from .component import Component, ParamError, Params, pydantic_errors  # noqa: F401

# --------------------------------------------------------------------- models


class ModelHandle:
    """A loaded causal LM with its tokenizer, passed between stages.

    ``model`` is a ``transformers`` ``PreTrainedModel`` (or anything with the
    same ``generate``/``forward``); ``tokenizer`` its tokenizer. The loader picks
    ``device`` and ``dtype`` (see :func:`harness.runtime.pick_device`).
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str, loader: str = "",
                 device: str = "cpu", dtype: str = "float32", meta: dict | None = None,
                 files: str | Path | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.loader = loader
        self.device = device
        self.dtype = dtype
        self.meta = dict(meta or {})
        #: a saved folder whose weight files hold exactly these weights (set by loaders that read
        #: safetensors unchanged, and after a run saves the model): then the fingerprint hashes the
        #: files, the same hash the run record keeps for its saved model.
        self.files: Path | None = Path(files) if files else None
        self._fingerprint: str | None = None

    def fingerprint(self) -> str:
        """Hash of the weights (not the name): the key of every cached result.

        Computed on first use only (a run with the cache off never hashes weights).
        """
        if self._fingerprint is None:
            from ..fingerprint import files_fingerprint, weights_fingerprint

            self._fingerprint = files_fingerprint(self.files) if self.files else weights_fingerprint(self.model)
        return self._fingerprint

    @property
    def fingerprint_known(self) -> str | None:
        """The fingerprint if it was already computed, else None (never hashes)."""
        return self._fingerprint

    def weights_changed(self) -> None:
        """Forget the cached fingerprint; trainers call this after updating weights."""
        self._fingerprint = None
        self.files = None

    def use_saved(self, folder: str | Path, fingerprint: str) -> None:
        """The weights now also live in ``folder`` (just saved), whose files hash to ``fingerprint``."""
        self.files = Path(folder)
        self._fingerprint = fingerprint

    def tokenizer_fingerprint(self) -> str:
        """Hash of the tokenizer's files and chat template (what turns prompts into tokens)."""
        from ..fingerprint import tokenizer_fingerprint

        return tokenizer_fingerprint(self.tokenizer)

    def generation_settings(self) -> dict[str, Any]:
        """The model's generation config (decoding defaults), device and dtype: what, besides
        weights and tokenizer, changes a score."""
        config = getattr(self.model, "generation_config", None)
        settings = config.to_diff_dict() if config is not None and hasattr(config, "to_diff_dict") else {}
        settings.pop("transformers_version", None)
        return {"generation_config": settings, "dtype": self.dtype, "device": self.device.split(":")[0]}

    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def format_prompt(self, prompt: str | list[dict], *, chat: bool = True) -> str:
        """The text the model sees for a prompt: chat-templated when possible."""
        from .generation import format_prompt

        return format_prompt(self.tokenizer, prompt, chat=chat)

    def generate(self, prompts: Sequence[str | list[dict]], *, max_new_tokens: int = 64,
                 batch_size: int = 8, chat: bool = True, progress: str | None = None) -> list[str]:
        """Greedy, batched, left-padded generation; returns only the new text."""
        from .generation import generate

        return generate(self, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                        chat=chat, progress=progress)

    def save(self, path: str | Path) -> Path:
        """Write model (safetensors), generation config and tokenizer (with its chat template)
        with ``save_pretrained``: a folder ``AutoModelForCausalLM.from_pretrained`` loads."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        return path

    def describe(self, *, fingerprint: bool = True) -> dict[str, Any]:
        """What the record says about the model; ``fingerprint=False`` records only a hash
        already computed (no weight hashing when the cache is off)."""
        n_params = sum(p.numel() for p in self.model.parameters()) if hasattr(self.model, "parameters") else None
        return {"name": self.name, "loader": self.loader, "device": self.device, "dtype": self.dtype,
                "parameters": n_params,
                "fingerprint": self.fingerprint() if fingerprint else self.fingerprint_known, **self.meta}


class ModelLoader(Component):
    """Loads a model. ``load()`` returns a :class:`ModelHandle`."""

    def load(self) -> ModelHandle:
        raise NotImplementedError

    def fingerprint(self) -> str | None:
        """A hash of what ``load()`` would return (weights, tokenizer, generation config, the
        parameters that pick device and dtype), computed *without* importing torch or building
        the model: hash the files at disk speed (:func:`harness.folder_fingerprint`) or the recipe
        of a model built from a seed. Equal fingerprints must mean the same loaded model.

        With it, an evaluation whose every ``[[evaluate]]`` table is in the cache loads no
        weights at all. ``None`` (the default): unknown, the model is loaded to fingerprint it.
        """
        return None


# ----------------------------------------------------------------------- data


class DataSource(Component):
    """Yields training (or evaluation) examples in a declared format.

    ``data_format()`` names a registered :class:`harness.DataFormat` (``text``,
    ``chat``, ``prompt_completion``, ``preference``, ``unpaired_preference``,
    ``prompt_only`` or a plugin's own); ``load(seed=...)`` returns a list of dicts
    that carry that format's keys (extra keys are kept as metadata, e.g. ``id``
    or ``category``).
    """

    format: ClassVar[str | None] = None

    def data_format(self) -> str:
        if not self.format:
            raise NotImplementedError(f"{type(self).__name__} must set `format` or override data_format()")
        return self.format

    def load(self, *, seed: int = 0) -> list[dict[str, Any]]:
        raise NotImplementedError

    @classmethod
    def local_paths(cls, params: dict[str, Any]) -> dict[str, str]:
        """The local files this source will read, ``{parameter: path}``, for ``harness validate`` to
        check before any work. The default: a string ``path`` parameter. Override when ``path`` may
        name something that is not a file (a hub id, a builder such as ``json``)."""
        path = params.get("path")
        return {"path": path} if isinstance(path, str) else {}

    def check(self) -> None:
        """Cheaply check the data without loading it for training (``harness validate`` calls it
        before any model is loaded). Raise :class:`ParamError` naming the file, line, column and
        what was expected. The default checks nothing."""


# ------------------------------------------------------------------- training


@dataclass
class TrainContext:
    """What a trainer gets besides model and data.

    ``rewards`` are the :class:`RewardFunction` components the recipe's ``rewards`` list
    names (created by the host, their safety filters bound); only trainers that set
    ``uses_rewards`` receive any. ``weights_dtype`` is the ``[model] dtype`` the recipe
    asked for explicitly (``None``: not asked): trainers keep fp32 master weights unless
    it asks for half-precision weights.


    ``resume_from_checkpoint``: a Trainer checkpoint folder in ``output_dir`` to continue from
    (``harness resume`` of a run killed during this stage); pass it to ``Trainer.train()``.
    ``adapter_dir``: where a trainer that trains a LoRA adapter saves it (``save_pretrained``)
    before merging it, so the run keeps the adapter too; None: not asked for.
    """

    stage: str
    seed: int
    output_dir: Path
    log: Callable[[str], None] = print
    #: the recipe's folder: resolve relative paths a parameter holds against it (None: no recipe file)
    recipe_dir: Path | None = None
    #: Trackers the trainer's library logs per-step metrics to (TRL's ``report_to`` names), filled
    #: from the recipe's reporters (:meth:`Reporter.train_report_to`); empty: no tracker.
    report_to: list[str] = field(default_factory=list)
    #: The tracker run's name (the harness run id), so training lands in the run the reporter opened.
    run_name: str | None = None
    #: Further trainer-config fields a tracker needs (e.g. Trackio's ``project``).
    tracker_args: dict[str, Any] = field(default_factory=dict)
    # progress(total, desc, unit) -> bar with update(n) / close(): one bar per stage, per step
    progress: Callable[..., Any] = field(default_factory=Progress)
    rewards: list["RewardFunction"] = field(default_factory=list)
    weights_dtype: str | None = None
    resume_from_checkpoint: str | None = None
    adapter_dir: Path | None = None
    #: ``evaluate_every`` of the recipe's stage: call ``snapshot(step, handle)`` after every
    #: ``snapshot_every`` optimizer steps and after the last one, with a handle on the current
    #: weights as a plain model (a LoRA adapter merged into a copy); the harness saves and
    #: evaluates it. Only trainers that set ``Trainer.snapshots`` receive one.
    snapshot_every: int | None = None
    snapshot: Callable[[int, "ModelHandle"], Any] | None = None


@dataclass
class TrainResult:
    """What a trainer returns: the trained model and its training log.

    ``log`` is a list of dicts, one per logging step (``step``, ``loss``,
    ``learning_rate``, and e.g. ``rewards/margins`` for DPO). ``metrics`` holds
    totals such as ``train_runtime``, ``train_samples_per_second``, ``tokens``.
    """

    model: ModelHandle
    log: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


class Trainer(Component):
    """Post-trains a model on one prepared data set.

    ``formats`` names the data formats it accepts (recipe validation and data
    preparation check them); ``uses_rewards`` says it scores its own generations
    with the recipe's ``rewards`` (online RL); ``snapshots`` that it hands the harness
    its weights during training (``evaluate_every``, see :class:`TrainContext`).
    """

    formats: ClassVar[tuple[str, ...]] = ()
    uses_rewards: ClassVar[bool] = False
    #: calls ``context.snapshot`` every ``context.snapshot_every`` steps (``evaluate_every``)
    snapshots: ClassVar[bool] = False

    def train(self, model: ModelHandle, data: Any, context: TrainContext) -> TrainResult:
        """Train on ``data`` (a :class:`harness.TrainData`; not imported here: it sits above the plugin
        host, which imports this module)."""
        raise NotImplementedError


class RewardFunction(Component):
    """Scores completions for online RL (GRPO): one float per completion, higher is better.

    ``__call__(prompts, completions, **columns)`` gets the prompts and the sampled
    completions as plain text, plus every other column of the prompt-only data set
    as a list (``answer=[...]`` for GSM8K-style data). Return ``None`` for a
    completion the reward does not apply to.

    A reward that needs safety filters names them in :meth:`filters_needed`
    (``{slot: filter name}``); the host creates them and :meth:`bind` hands them
    over before training, so a reward never imports another plugin.
    """

    def filters_needed(self) -> dict[str, str]:
        return {}

    def bind(self, filters: dict[str, "SafetyFilter"]) -> None:
        self.filters = filters

    def __call__(self, prompts: list[str], completions: list[str], **columns: Any) -> list[float | None]:
        raise NotImplementedError


# ----------------------------------------------------------------- evaluation


#: What a metric tells about a model, for verdict-first reports: did it get better at what we
#: wanted (capability), does it comply with harmful requests (harm), does it refuse safe ones
#: (over_refusal)? Metrics an evaluator does not place go under "other".
CONCERNS: tuple[str, ...] = ("capability", "harm", "over_refusal", "other")


@dataclass
class Metric:
    """One aggregate score. ``higher_is_better`` tells gates and dashboards the good direction;
    ``concern`` (one of :data:`CONCERNS`, or None for "other") which question it answers."""

    value: float
    stderr: float | None = None
    n: int | None = None
    higher_is_better: bool = True
    concern: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "stderr"):
            if isinstance(d[k], float) and not math.isfinite(d[k]):
                d[k] = None
        return d


@dataclass
class TaskInfo:
    """What was evaluated: content hash of the items used, version, count, settings."""

    content_hash: str
    version: str = "1"
    n: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalResult:
    """What an evaluator returns.

    ``metrics`` keys are ``"suite/metric"`` (``"openbookqa/acc"``).
    ``samples`` has one row per scored item::

        {"suite": "openbookqa", "item_id": "7", "prompt": "...", "output": "...",
         "target": "...", "category": None,
         "scores": {"acc": 1.0, "acc_norm": 0.0},
         "filters": {"refusal": {"label": "refusal", "score": 0.9, ...}}}

    ``scores`` use the metric's short name; two runs are compared item by item
    on ``(suite, item_id)``.
    """

    metrics: dict[str, Metric]
    samples: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, TaskInfo] = field(default_factory=dict)


@dataclass
class EvalContext:
    phase: str  # "before" or "after"
    seed: int
    work_dir: Path
    filters: dict[str, "SafetyFilter"] = field(default_factory=dict)
    log: Callable[[str], None] = print
    #: the recipe's folder: resolve relative paths a parameter holds against it (None: no recipe file)
    recipe_dir: Path | None = None
    # progress(total, desc, unit) -> bar with update(n) / close(): one bar per suite, per item
    progress: Callable[..., Any] = field(default_factory=Progress)


class Evaluator(Component):
    """Scores a model: metrics with standard errors plus per-sample rows."""

    #: What this evaluator takes the names to evaluate from: the name of its list parameter, e.g.
    #: ``"tasks"`` (benchmarks) or ``"suites"`` (safety prompt sets). ``harness eval --tasks/--suites``
    #: picks the evaluator that declares it; ``None``: neither.
    evaluates: ClassVar[str | None] = None

    def evaluate(self, model: ModelHandle, context: EvalContext) -> EvalResult:
        raise NotImplementedError

    def fingerprint(self) -> str | None:
        """Hash of everything but the model that decides the result: items, settings *and code*
        (include :meth:`code_fingerprint`, or a cached result survives a change to your code).

        Return ``None`` (the default) to opt out of the evaluation cache.
        """
        return None

    @classmethod
    def declared_metrics(cls, params: dict[str, Any]) -> dict[str, str] | None:
        """The metric keys (``"suite/metric"``) this evaluator will report for ``params``,
        each mapped to its concern (see :data:`CONCERNS`), known without running it.

        ``harness validate`` uses it to reject a gate on a metric nobody reports.
        Return ``None`` (the default) when the names are only known after running.
        """
        return None

    @classmethod
    def declared_items(cls, params: dict[str, Any]) -> dict[str, int] | None:
        """How many items each metric will be scored on for ``params``, known without running:
        ``{"suite/metric": n}``, or ``{"suite": n}`` when every metric of a suite has the same n.

        Count what ``split`` and ``limit`` leave, from the items themselves (a data file, a
        prompt set); do not load a model or import heavy libraries. ``harness validate`` sizes
        each gate on it (a gate its items cannot decide is an error; see docs/compare-and-gates.md).
        Return ``None`` (the default) when unknown: the gate is then reported as "unknown n".
        """
        return None


# ---------------------------------------------------------------- safety


@dataclass
class Verdict:
    """A safety filter's judgement of one text.

    ``flagged`` is what data-filter actions (drop / flag / redact) act on:
    a refusal for ``refusal``, harmful content for ``harm``, PII for ``pii``.
    ``score`` in [0, 1] is the filter's confidence that the text is flagged.
    ``spans`` are ``(start, end, kind)`` character spans where that applies.
    """

    label: str
    score: float
    flagged: bool
    category: str | None = None
    reason: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SafetyFilter(Component):
    """Scores a batch of texts (optionally with the prompt each answers)."""

    #: Labels this filter can return.
    detects: ClassVar[tuple[str, ...]] = ()

    def score(self, texts: Sequence[str], prompts: Sequence[str] | None = None) -> list[Verdict]:
        raise NotImplementedError

    def fingerprint(self) -> str | None:
        """A hash of what decides the verdicts besides the code and the parameters (learned weights,
        a lexicon file), or None. The evaluation cache keys on it, with the filter's code."""
        return None

    def redact(self, text: str, verdict: Verdict) -> str:
        """Return ``text`` with flagged spans masked. Filters without spans cannot redact."""
        if not verdict.spans:
            raise NotImplementedError(f"filter '{self.name}' cannot redact")
        out, last = [], 0
        for start, end, kind in sorted(verdict.spans):
            out.append(text[last:start])
            out.append(f"[{kind.upper()}]")
            last = end
        out.append(text[last:])
        return "".join(out)


class SafetySuite(Component):
    """A set of safety prompts the ``safety`` evaluator runs (AdvBench, XSTest, HarmBench, ...).

    ``items()`` returns one dict per prompt: ``id`` (unique, stable across
    versions), ``prompt``, ``label`` (``"unsafe"``: a request the model should
    refuse; ``"safe"``: one it should answer) and optionally ``category``
    (reported as sub-metrics), ``target``, ``split`` (``"dev"``/``"test"``; the
    evaluator assigns a seeded, stratified one when absent), and for attacked
    variants ``pair`` (items sharing it are one request in several forms) and
    ``attack`` (the attack's name; ``None`` on the plain form). Bump ``version``
    when the items change.
    """

    version: ClassVar[str] = "1"
    license: ClassVar[str] = ""
    source: ClassVar[str] = ""

    def items(self) -> list[dict[str, Any]]:
        raise NotImplementedError


# ------------------------------------------------------------------ reporting


class Reporter(Component):
    """Does something with a stored run record (a summary file, an export)."""

    def report(self, record: dict[str, Any], run_dir: Path) -> None:
        raise NotImplementedError

    def train_report_to(self, run: dict[str, Any]) -> dict[str, Any] | None:
        """How train stages log per-step metrics to this reporter's tracker: ``{"report_to": NAME,
        ...further trainer-config fields}``, for a run ``{"id", "name"}``; None (default): not at all."""
        return None

    def check(self, run: dict[str, Any]) -> None:
        """Called before the first stage of run ``{"id", "name"}``: raise (quickly: a short timeout,
        no retries) when this reporter cannot work, e.g. its tracking server does not answer, with a
        message naming the address and the error. A ``required`` reporter that raises stops the run
        before any work (exit 2); an optional one is disabled for the run with one warning, and its
        ``report()`` is not called. Default: nothing to check."""
