"""``--set KEY=VALUE``: change any recipe key by dotted path before the recipe is validated.

``train.1.max_steps=4`` (list entries by index), ``'evaluate.0.tasks=["openbookqa"]'``,
``run.seed=3``, ``'gates."quick_mc/acc".min=0.6'`` (quote a key that holds dots).
Values are TOML values (``4``, ``1e-5``, ``true``, ``["a", "b"]``, ``{ min = 0.5 }``,
``"text"``); a value that is not valid TOML is taken as a plain string (``run.name=my-run``).
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from ..errors import HarnessError


class OverrideError(HarnessError, ValueError):
    def __init__(self, expr: str, message: str):
        self.expr = expr
        self.message = message
        super().__init__(f"--set {expr}: {message}")


def split_path(path: str, expr: str) -> list[str]:
    """``a.b."c.d".0`` → ``["a", "b", "c.d", "0"]``."""
    parts, cur, quoted, was_quoted = [], "", False, False
    for ch in path:
        if ch == '"':
            quoted = not quoted
            was_quoted = True
        elif ch == "." and not quoted:
            parts.append((cur, was_quoted))
            cur, was_quoted = "", False
        else:
            cur += ch
    if quoted:
        raise OverrideError(expr, "unbalanced quote in the key path")
    parts.append((cur, was_quoted))
    if any(not p and not q for p, q in parts):
        raise OverrideError(expr, "empty key in the path (write KEY.SUBKEY=VALUE, e.g. train.0.max_steps=2)")
    return [p for p, _ in parts]


def parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse(expr: str) -> tuple[list[str], Any]:
    key, sep, value = expr.partition("=")
    if not sep or not key.strip():
        raise OverrideError(expr, "expected KEY=VALUE (e.g. --set train.0.max_steps=2)")
    return split_path(key.strip(), expr), parse_value(value.strip())


def apply(data: dict[str, Any], exprs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of the parsed recipe ``data`` with every override applied, in order."""
    out = copy.deepcopy(data)
    for expr in exprs:
        path, value = parse(expr)
        node: Any = out
        for depth, key in enumerate(path):
            last = depth == len(path) - 1
            where = ".".join(path[:depth]) or "the recipe"
            if isinstance(node, list):
                if not key.isdigit():
                    raise OverrideError(expr, f"'{where}' is a list: index it by number (0–{len(node) - 1}), "
                                              f"not '{key}'")
                index = int(key)
                if index > len(node):
                    raise OverrideError(expr, f"'{where}' has {len(node)} entries (indices 0–{len(node) - 1}; "
                                              f"{len(node)} adds one)")
                if index == len(node):  # one past the end adds an entry
                    node.append(None if last else {})
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[key] = value
                else:
                    if key not in node:
                        node[key] = [] if path[depth + 1].isdigit() else {}
                    node = node[key]
            else:
                raise OverrideError(expr, f"'{where}' is a value ({node!r}), not a table or a list")
    return out
