"""One bounded JSON loader for every piece of JSON fnforge did not write itself.

``json.loads`` recurses once per nesting level and raises ``RecursionError``
(not ``ValueError``) on a document nested a few thousand levels deep; it
accepts ``NaN``/``Infinity``, turns ``1e999`` into ``inf`` and ``"\\ud800"``
into a lone surrogate that later breaks printing, encoding and Git. Function
spec files, ``--args``, git notes from a cloned toolset and the replies of a
sandbox worker are all untrusted, so they go through :func:`load_json`:

- at most ``max_bytes`` of UTF-8;
- nesting depth at most ``max_depth``, measured before parsing without
  recursion (strings are stripped first, so brackets inside them do not count);
- no ``NaN``, ``Infinity``, numbers that overflow to infinity, or integers
  longer than Python's digit limit;
- no lone surrogates in strings or keys.

The checks that cost more than a scan run only when a cheap search of the text
says they might fail, so the common case stays at ``json.loads`` speed.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any  # Any: any JSON value

__all__ = ["JSONInputError", "load_json"]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte except brackets: deleted
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_BIG_NUMBER = re.compile(rb"\d{300}|[eE][+-]?\d{3}")


class JSONInputError(ValueError):
    """Raised by :func:`load_json` when untrusted JSON is malformed or breaks a limit."""


def load_json(data: str | bytes, *, max_bytes: int = 1 << 20, max_depth: int = 64) -> Any:
    """Parse untrusted JSON text within size and depth limits.

    Args:
        data: the document, as text or UTF-8 bytes.
        max_bytes: the largest document accepted (its UTF-8 size).
        max_depth: the deepest nesting of arrays and objects accepted.

    Returns:
        The parsed value (dicts, lists, str, int, finite float, bool, None).

    Raises:
        JSONInputError: too large, too deep, not UTF-8, not JSON, a non-finite
            number, or a lone surrogate. The message says which, in one line.

    Example:
        >>> load_json('{"x": [1, 2]}')
        {'x': [1, 2]}
    """
    raw = _as_bytes(data)
    if len(raw) > max_bytes:
        raise JSONInputError(f"the JSON text has {len(raw)} bytes; the limit is {max_bytes}")
    _check_depth(raw, max_depth)
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise JSONInputError(f"the JSON text is not UTF-8 ({exc.reason})") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # JSONDecodeError, int digit limit
        raise JSONInputError(f"not valid JSON: {_first_line(exc)}") from None
    if _BIG_NUMBER.search(raw):
        _check_finite(value)
    if _SURROGATE_ESCAPE.search(raw):
        _check_text(value)
    return value


def _as_bytes(data: str | bytes) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if not isinstance(data, str):
        raise TypeError(f"load_json takes str or bytes, not {type(data).__name__}")
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONInputError("the JSON text contains a lone surrogate") from None


def _check_depth(raw: bytes, max_depth: int) -> None:
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= max_depth:
        return
    deepest = max(accumulate(_DEPTH_STEP[b] for b in brackets))
    if deepest > max_depth:
        raise JSONInputError(f"the JSON text nests deeper than {max_depth} levels")


def _refuse_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not a JSON number")


def _check_finite(value: Any) -> None:
    """Refuse floats that overflowed to infinity (``1e999``); the depth is already bounded."""
    if isinstance(value, float) and not math.isfinite(value):
        raise JSONInputError("a number is too large (it overflows to infinity)")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in children:
        _check_finite(item)


def _check_text(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise JSONInputError("a string contains a lone surrogate (an unpaired \\ud800-\\udfff escape)") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
