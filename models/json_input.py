"""JSON from outside, parsed with bounds: NaN and Infinity refused, nesting at most
`MAX_DEPTH` levels (deeper input is refused with a clear reason instead of exhausting the
interpreter's recursion: no input, however deep, makes a 500)."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class JSONInputError(ValueError):
    """The input is not acceptable JSON; the message says why."""


def parse_json(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed JSON value, or `JSONInputError` naming the problem."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise JSONInputError(f"nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONInputError(str(exc)) from None
    if depth(value) > max_depth:
        raise JSONInputError(f"nested more than {max_depth} levels deep")
    return value


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed value (0 for a scalar); iterative."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
