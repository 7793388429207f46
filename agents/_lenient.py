"""Reading what models write where JSON or Python is expected: lenient, never guessing.

Models and servers send tool arguments that are not strict JSON: wrapped in a
Markdown fence, JSON-encoded twice, written as a Python literal (single quotes,
``True``/``None``), with trailing commas or raw newlines inside strings.
These functions recover the intended value when it is certain and otherwise
say precisely what is wrong, in words a model can act on. (Code sent in a
fence is read by :mod:`agents._fences`.)

The rule that keeps this safe: strict JSON always means what JSON says. Only
text that is not strict JSON is read another way, by two independent readers
(JSON with Python-style parts tolerated, and a Python literal); when both read
it and disagree (``"a\\/b"`` is ``a/b`` in JSON but ``a\\/b`` in Python), the
text is refused rather than guessed. Nothing is ever completed: a text cut
short (a reply that hit the token limit) is refused and named as such.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any  # Any: whatever JSON or Python literal the model wrote

from fnforge.agents._fences import fenced_blocks, parse_quietly
from fnforge.functions import load_json

__all__ = ["JSONRead", "read_call", "read_json_object", "read_json_value"]

_PY_CONSTANTS = {"True": "true", "False": "false", "None": "null"}
_JSON_NAMES = {"true": True, "false": False, "null": None}
_MAX_DEPTH = 2  # JSON inside a JSON string inside a JSON string
EXAMPLE = 'send one JSON object, e.g. {"x": 1}'


@dataclass(frozen=True, slots=True)
class JSONRead:
    """The result of :func:`read_json_object`: ``value``, or ``error`` to show the model.

    ``repairs`` names what was tolerated (``"Markdown fence"``, ``"double
    encoding"``, ``"Python literal"``, ``"trailing comma"``, ...).
    """

    value: dict[str, Any] | None
    error: str | None = None
    repairs: tuple[str, ...] = ()


class _Unreadable(ValueError):
    """One reader cannot read the text; the message says why."""


class _Refused(_Unreadable):
    """The text is readable but holds something JSON arguments must not (duplicate keys, NaN...)."""


def read_json_object(text: str) -> JSONRead:
    """Read a tool call's arguments: one JSON object, leniently where the meaning is certain.

    Accepted besides strict JSON: an empty text (no arguments); an object
    encoded as a JSON string (once or twice); one Markdown-fenced block, with
    or without text around it; a Python dict literal; JSON with trailing
    commas, ``True``/``False``/``None`` or raw control characters in strings.
    Refused, with the reason: anything else, duplicate keys, NaN/Infinity,
    values JSON cannot hold (sets, bytes, complex), texts that end before the
    object closes, and texts that read differently as JSON and as Python.

    Example:
        >>> read_json_object("{'a': 1, 'b': True,}").value
        {'a': 1, 'b': True}
        >>> read_json_object('{"a": [1, 2').error.split(";")[0]
        'the JSON ends before it is complete (2 brackets still open)'
    """
    return _read_object(text, depth=0, repairs=())


def _read_object(text: str, *, depth: int, repairs: tuple[str, ...]) -> JSONRead:
    body = text.strip()
    if not body:
        return JSONRead({}, repairs=repairs)
    try:
        value, how = _read_value(body)
    except _Unreadable as exc:
        fenced = fenced_blocks(body)
        if len(fenced) == 1:
            return _read_object(fenced[0][1], depth=depth, repairs=(*repairs, "Markdown fence"))
        if len(fenced) > 1:
            return JSONRead(None, f"the arguments hold {len(fenced)} Markdown code blocks; {EXAMPLE}, without fences")
        return JSONRead(None, str(exc))
    repairs = (*repairs, *how)
    if isinstance(value, str) and depth < _MAX_DEPTH and value.strip()[:1] in ("{", "`", '"'):
        return _read_object(value, depth=depth + 1, repairs=(*repairs, "double encoding"))
    if not isinstance(value, dict):
        return JSONRead(None, f"the arguments must be a JSON object, not {_type_name(value)}; {EXAMPLE}")
    try:  # the one bound on untrusted JSON (depth, size, finite numbers, no lone surrogates)
        load_json(json.dumps(value, allow_nan=False, default=_unserializable))
    except (ValueError, TypeError) as exc:
        return JSONRead(None, f"the arguments cannot be used: {exc}; {EXAMPLE}")
    return JSONRead(value, repairs=repairs)


def _unserializable(value: object) -> object:
    raise TypeError(f"{_type_name(value)} is not a JSON value")


def read_json_value(text: str) -> tuple[Any, str | None]:
    """``(value, None)`` for any JSON value read as leniently as :func:`read_json_object`
    reads objects (fences aside), or ``(None, reason)``."""
    try:
        value, _ = _read_value(text.strip())
    except _Unreadable as exc:
        return None, str(exc)
    return value, None


def _read_value(text: str) -> tuple[Any, tuple[str, ...]]:
    """The value of ``text`` and the repairs it needed; ``_Unreadable`` if none is certain."""
    try:
        return _strict_json(text), ()
    except _Refused:
        raise
    except _Unreadable as exc:
        strict_error = exc
    readings: list[tuple[Any, tuple[str, ...]]] = []
    for reader in (_relaxed_json, _python_literal):
        try:
            readings.append(reader(text))
        except _Refused:
            raise
        except _Unreadable:
            pass
    if len({_canonical(value) for value, _ in readings}) > 1:
        (a, _), (b, _) = readings
        raise _Unreadable(
            f"the arguments are not valid JSON and read two ways: as JSON {_preview(a)} and as a Python "
            f"literal {_preview(b)}; send strict JSON (double quotes, true/false/null, no trailing commas)")
    if readings:
        return readings[0]
    open_part = _unclosed(text) if text[:1] in "{[\"" else None
    if open_part:
        raise _Unreadable(
            f"the JSON ends before it is complete ({open_part} still open); the reply was probably "
            "cut off at the token limit: send the call again, shorter")
    raise _Unreadable(f"the arguments are not valid JSON ({strict_error}); {EXAMPLE}")


def _strict_json(text: str, *, strict: bool = True) -> Any:
    try:
        return json.loads(text, strict=strict, object_pairs_hook=_unique_keys,
                          parse_constant=_no_constant, parse_float=_finite_float)
    except _Unreadable:
        raise
    except RecursionError:
        raise _Refused("the arguments are nested too deeply") from None
    except ValueError as exc:
        raise _Unreadable(str(exc)) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key!r} appears twice in one object; give each argument once")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value; use a number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{text} is too large for a JSON number")
    return value


def _relaxed_json(text: str) -> tuple[Any, tuple[str, ...]]:
    """JSON with trailing commas, Python constants and raw control characters tolerated."""
    rewritten, repairs = _relax(text)
    value = _strict_json(rewritten, strict=False)
    if not repairs:
        repairs = ("control character in a string",)
    return value, repairs


def _relax(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with trailing commas dropped and True/False/None spelled as JSON, outside strings."""
    out: list[str] = []
    repairs: set[str] = set()
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        elif char == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                repairs.add("trailing comma")
            else:
                out.append(char)
            i += 1
        elif char.isalpha() or char == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in _PY_CONSTANTS:
                repairs.add("Python constant")
            out.append(_PY_CONSTANTS.get(word, word))
            i = j
        else:
            out.append(char)
            i += 1
    return "".join(out), tuple(sorted(repairs))


def _string_end(text: str, start: int) -> int:
    """Index after the double-quoted string starting at ``start`` (``len(text)`` if unterminated)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def _python_literal(text: str) -> tuple[Any, tuple[str, ...]]:
    try:
        tree = parse_quietly(text, "eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise _Unreadable("not a Python literal") from None
    try:
        return _literal(tree.body), ("Python literal",)
    except RecursionError:
        raise _Refused("the arguments are nested too deeply") from None


def _literal(node: ast.AST) -> Any:
    """A JSON value from a Python literal node; ``_Unreadable`` for anything JSON cannot hold."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        raise _Refused(f"{value!r} is not a JSON value")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
        number = _literal(node.operand)
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Set):
        for item in node.elts:
            _literal(item)  # a set of non-literals is no literal at all
        raise _Refused("a set is not a JSON value; use a list")
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for key, item in zip(node.keys, node.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise _Refused('object keys must be quoted strings, e.g. {"x": 1}')
            if key.value in out:
                raise _Refused(f"the key {key.value!r} appears twice in one object; give each argument once")
            out[key.value] = _literal(item)
        return out
    raise _Unreadable("not a Python literal")


def read_call(text: str, name: str, parameters: Sequence[str]) -> JSONRead | None:
    """Keyword arguments from a call written in Python, ``name(a=1, b="x")`` or ``name(1, "x")``.

    ``parameters`` are the function's parameter names in signature order (for
    positional arguments); one dict literal alone, ``name({"a": 1})``, is the
    arguments object. ``None`` when ``text`` is not a call of ``name``.

    Example:
        >>> read_call("f(2, b='x')", "f", ["a", "b"]).value
        {'a': 2, 'b': 'x'}
    """
    try:
        node = parse_quietly(text.strip(), "eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name):
        return None
    try:
        if len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Dict):
            return JSONRead(_literal(node.args[0]), repairs=("call syntax",))
        if len(node.args) > len(parameters):
            return JSONRead(None, f"{name} takes {len(parameters)} parameter(s) ({', '.join(parameters)}); "
                                  f"the call gives {len(node.args)} positional arguments")
        args = {param: _literal(value) for param, value in zip(parameters, node.args)}
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg in args:
                return JSONRead(None, f"the call gives {keyword.arg or '**'} twice or unpacks a mapping; "
                                      "give each argument once")
            args[keyword.arg] = _literal(keyword.value)
    except _Unreadable as exc:
        reason = "its arguments must be literal values (numbers, strings, lists, objects)"
        return JSONRead(None, f"the call {name}(...) cannot be read: {exc if isinstance(exc, _Refused) else reason}")
    except RecursionError:
        return JSONRead(None, "the arguments are nested too deeply")
    return JSONRead(args, repairs=("call syntax",))


def _unclosed(text: str) -> str | None:
    """What is still open at the end of ``text`` ("2 brackets", "a string"), or ``None``."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        char = text[i]
        if char in "\"'":
            end = _quoted_end(text, i)
            if end is None:
                return "a string"
            i = end
            continue
        depth += 1 if char in "{[" else -1 if char in "}]" else 0
        i += 1
    if depth <= 0:
        return None
    return f"{depth} bracket{'s' if depth > 1 else ''}"


def _quoted_end(text: str, start: int) -> int | None:
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            return i + 1
        else:
            i += 1
    return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def _preview(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    return {list: "an array", int: "a number", float: "a number", bool: "a boolean",
            type(None): "null", str: "a string"}.get(type(value), type(value).__name__)
