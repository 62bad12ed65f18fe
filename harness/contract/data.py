"""Data formats as the loaded plugins offer them, and the prepared data set a trainer gets.

:mod:`.formats` defines what a format is; this module finds the registered ones (in the
newest plugin host, see :func:`harness.contract.plugins.active_host`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import PluginError
from .formats import DataFormat
from .plugins import UnknownComponent, active_host


def _host(host: Any = None) -> Any:
    return host if host is not None else active_host()


def registered_formats(host: Any = None) -> dict[str, type[DataFormat]]:
    """``{name: format class}`` of every loaded format (of ``host``, default: the active host)."""
    return {c.name: c.cls for c in _host(host).available("data_format")}


class UnknownFormat(PluginError, LookupError):
    """No loaded data format has this name."""


def get_format(name: str, host: Any = None) -> type[DataFormat]:
    """The format class registered as ``name``; the error lists the loaded ones."""
    formats = registered_formats(host)
    if name in formats:
        return formats[name]
    try:
        return _host(host).resolve("data_format", name).cls
    except UnknownComponent as exc:
        hint = "" if formats else " (no data formats are loaded: is the 'formats' plugin disabled?)"
        raise UnknownFormat(exc.message + hint) from None


class _FormatKeys:
    """``{format name: keys}`` of the active host's formats: a live, read-only view.

    Kept as ``harness.DATA_FORMATS`` for code written against the old closed table;
    new code should use :func:`get_format` / :func:`registered_formats`.
    """

    def _table(self) -> dict[str, tuple[str, ...]]:
        return {name: fmt.keys() for name, fmt in registered_formats().items()}

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return get_format(name).keys()

    def __contains__(self, name: object) -> bool:
        return name in self._table()

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def keys(self):
        return self._table().keys()

    def values(self):
        return self._table().values()

    def items(self):
        return self._table().items()


DATA_FORMATS = _FormatKeys()


@dataclass
class TrainData:
    """A prepared data set handed to a trainer (after safety filters ran)."""

    name: str
    format: str
    examples: list[dict[str, Any]]
    fingerprint: str = ""
    #: the resolved :class:`harness.DataFormat` (set by data preparation; looked up by name otherwise)
    format_cls: Any = field(default=None, repr=False, compare=False)

    def format_class(self) -> type[DataFormat]:
        """The registered :class:`harness.DataFormat` named by ``format``."""
        return self.format_cls or get_format(self.format)

    def to_dataset(self):
        """As a ``datasets.Dataset`` of TRL's matching type (the format's :meth:`~harness.DataFormat.to_trl`).

        A format that ``keeps_columns`` (prompt-only data for online RL) also keeps every other
        scalar column all examples share, e.g. ``answer`` for a reward function.
        """
        import datasets

        fmt = self.format_class()
        rows = [fmt.to_trl(ex) for ex in self.examples]
        if fmt.keeps_columns and self.examples:
            shared = set.intersection(*(set(ex) for ex in self.examples)) - set(rows[0])
            extra = sorted(k for k in shared if not k.startswith("_")
                           and all(isinstance(ex[k], (str, int, float, bool)) for ex in self.examples))
            rows = [{**row, **{k: ex[k] for k in extra}} for row, ex in zip(rows, self.examples)]
        return datasets.Dataset.from_list(rows)
