"""JSON from outside, read once: bounded depth, finite numbers, text that is Unicode.

Pure; no I/O. Every body a node receives goes through :func:`loads` (the HTTP edge,
``chalicelib.api.routing``; the raw webhook body, ``chalicelib.trackers.webhook``), so
nothing below ever meets:

- nesting deeper than :data:`MAX_DEPTH` (Python's recursion limit is about 1000 frames;
  ``json``, ``copy.deepcopy`` and the format converters recurse per level). Real bodies
  stay far below 64: an ADF document nests about four levels per list level, and Jira's
  editor allows six list levels;
- ``NaN``, ``Infinity`` or a number outside a float's range (``1e400``): not JSON
  (RFC 8259), and ``int(inf)`` raises wherever a number is expected;
- a string (or an object key) holding a lone UTF-16 surrogate (``"\\ud800"``): a valid
  JSON escape of something that is not a character, which no UTF-8 store (DynamoDB,
  SQS, the tracker) can encode.

:func:`check_text` is the same text check for headers and path or query parameters.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64


class UnsafeJson(ValueError):
    """The input is refused; ``code`` is the contract's error code for it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def too_deep(max_depth: int = MAX_DEPTH) -> UnsafeJson:
    return UnsafeJson(f"The JSON is nested deeper than {max_depth} levels.", "too_deep")


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` parsed, or :class:`UnsafeJson` (``invalid_json``, ``too_deep``,
    ``invalid_text``)."""
    try:
        value = json.loads(raw, parse_constant=_constant, parse_float=_float)
    except RecursionError as exc:
        raise too_deep(max_depth) from exc
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise UnsafeJson(f"The body is not valid JSON: {exc}", "invalid_json") from exc
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed value nested deeper than ``max_depth`` or holding text that is not
    Unicode (iterative: a deep value cannot exhaust the stack here)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise too_deep(max_depth)
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def check_text(text: str, where: str = "The JSON") -> None:
    """Refuse ``text`` if it cannot be encoded as UTF-8 (a lone surrogate)."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsafeJson(
            f"{where} holds a lone UTF-16 surrogate ({text[exc.start]!r}), which is not a "
            "character; send text as valid Unicode.",
            "invalid_text",
        ) from exc
