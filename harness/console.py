"""What a run prints on the terminal: verbosity, library chatter, progress bars.

Three levels, set once by the CLI (``harness run/eval -v / --quiet``):

* ``QUIET``: nothing while the run works (no bar, no stage line); the command
  prints only the verdict and the gate table at the end.
* ``NORMAL`` (default): a short line per stage (its time, headline metrics), one
  progress bar per stage that moves per item or per step with an ETA; library
  chatter is off: Python warnings, ``logging`` below ERROR (transformers'
  FutureWarnings, lm-eval's "``pretrained`` kwarg" notes), dataset-preparation
  bars, TRL's per-step loss dicts.
* ``VERBOSE``: everything the libraries say, as they say it.

Everything goes to stderr: stdout carries only a command's result (``--json``
stays parseable). Core module: imports tqdm lazily and no ML library.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from typing import Any

QUIET, NORMAL, VERBOSE = 0, 1, 2
_state: dict[str, Any] = {"verbosity": NORMAL, "prefix": ""}
# Detail shown with -v only: the pipeline's one line per metric ("    quick_mc/acc   0.313 ± 0.057"; each
# evaluator already printed its suite's headline line) and per-gate lines (the result ends with the gate table).
_DETAIL = re.compile(r"^\s{4}(\S+/\S+\s+(-?[\d.]+|nan|None)( ± \S+)?$|gate (PASS|FAIL|INCONCLUSIVE)\s)")
# Environment variables the libraries read when they are imported (set before that happens).
QUIET_LIBRARY_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def verbosity() -> int:
    return _state["verbosity"]


def configure(level: int = NORMAL, *, prefix: str = "") -> None:
    """Set the verbosity and silence (or restore) library chatter accordingly.

    ``prefix`` (e.g. ``"[rank 1] "``, for the ranks other than 0 of a multi-process run)
    starts every line and turns the progress bars off: one terminal, one set of bars."""
    _state["verbosity"], _state["prefix"] = level, prefix
    if prefix:  # libraries' own bars too (lm-eval's, datasets')
        os.environ["TQDM_DISABLE"] = "1"
    if level >= VERBOSE:
        logging.disable(logging.NOTSET)
        warnings.resetwarnings()
        return
    for key, value in QUIET_LIBRARY_ENV.items():
        os.environ.setdefault(key, value)
    if level <= QUIET:
        os.environ.setdefault("TQDM_DISABLE", "1")
        # transformers' own bars (e.g. "Writing model shards") follow huggingface_hub's switch
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if "transformers" in sys.modules:  # imported already: it read the switch at import
            sys.modules["transformers"].utils.logging.disable_progress_bar()
    # logging.disable holds whatever level a library sets on its own loggers at import
    logging.disable(logging.WARNING)
    for category in (FutureWarning, DeprecationWarning, UserWarning, RuntimeWarning):
        warnings.filterwarnings("ignore", category=category)
    if "datasets" in sys.modules:  # already imported: its env variable was read
        try:
            sys.modules["datasets"].disable_progress_bars()
        except AttributeError:
            pass


def log(message: str) -> None:
    """A pipeline/plugin line: shown at NORMAL (per-category detail only at VERBOSE)."""
    level = _state["verbosity"]
    if level <= QUIET or (level < VERBOSE and _DETAIL.match(message)):
        return
    print(_state["prefix"] + message, file=sys.stderr, flush=True)


class _NullBar:
    def update(self, n: float = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


class Progress:
    """``progress(total, desc, unit)`` → a bar; what :class:`harness.EvalContext` and
    :class:`harness.TrainContext` hand to plugins. ``replace_library_bars`` tells a plugin
    whether to swap a library's own output (TRL's bar and loss dicts) for this bar:
    yes, unless the user asked for the libraries' output with ``-v``."""

    def __call__(self, total: float | None, desc: str, unit: str = "it") -> Any:
        return progress_bar(total, desc, unit)

    @property
    def replace_library_bars(self) -> bool:
        return _state["verbosity"] < VERBOSE


def progress_bar(total: float | None, desc: str, unit: str = "it") -> Any:
    """One bar (``update(n)``, ``close()``) with an ETA on stderr; a no-op when quiet or
    when tqdm is missing."""
    if _state["verbosity"] <= QUIET or _state["prefix"]:
        return _NullBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NullBar()
    return tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total_fmt} {unit} "
                           "[{elapsed}<{remaining}{postfix}]")
