"""Dummy arguments for a proposed function's smoke call, sampled from its JSON Schema.

Before an action is accepted, :func:`~optimizer._actions.validate_action` calls
the new function once in the sandbox with :func:`smoke_arguments`: values that
satisfy simple schemas (numbers 1, strings ``"1"``, one-item arrays, the
schema's own ``const``/``default``/``enum`` first), the same for the same
schema every time, so a smoke call is reproducible and cacheable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any  # Any: JSON Schemas the model wrote, and JSON values sampled from them

__all__ = ["smoke_arguments"]

_NOTHING = object()  # no value given by the schema itself


def _sample(schema: Any, depth: int = 0) -> Any:  # Any: a JSON Schema in, a JSON value out
    """A deterministic dummy value that satisfies simple JSON Schemas."""
    if not isinstance(schema, dict) or depth > 4:
        return "1"
    given = _given(schema)
    if given is not _NOTHING:
        return given
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _sample(schema[key][0], depth + 1)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    sampler = _SAMPLERS.get(kind, _string) if isinstance(kind, str) else _string
    return sampler(schema, kind, depth)


def _given(schema: dict[str, Any]) -> Any:  # Any: a JSON value, or _NOTHING
    """The schema's own value: ``const``, ``default``, or the first ``enum`` member."""
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    return _NOTHING


def _number(schema: dict[str, Any], kind: str, depth: int) -> int | float:
    value = 1
    if isinstance(schema.get("minimum"), (int, float)) and schema["minimum"] > value:
        value = schema["minimum"]
    if isinstance(schema.get("maximum"), (int, float)) and schema["maximum"] < value:
        value = schema["maximum"]
    return int(value) if kind == "integer" else value


def _array(schema: dict[str, Any], kind: str, depth: int) -> list[Any]:  # Any: JSON values
    count = max(1, int(schema.get("minItems", 1)) if isinstance(schema.get("minItems", 1), int) else 1)
    return [_sample(schema.get("items", {}), depth + 1) for _ in range(min(count, 3))]


def _object(schema: dict[str, Any], kind: str, depth: int) -> dict[str, Any]:  # Any: JSON values
    props = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(props, dict) or not isinstance(required, list):
        return {}
    return {k: _sample(props[k], depth + 1) for k in required if k in props}


def _string(schema: dict[str, Any], kind: str, depth: int) -> str:
    length = schema.get("minLength", 1)
    return "1" * (length if isinstance(length, int) and 0 < length <= 64 else 1)


_SAMPLERS: dict[str, Callable[[dict[str, Any], str, int], Any]] = {  # Any: a JSON value
    "integer": _number, "number": _number, "boolean": lambda *_: True, "null": lambda *_: None,
    "array": _array, "object": _object,
}


def smoke_arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """Deterministic dummy arguments for a smoke call: every required parameter.

    Numbers are 1, strings ``"1"``, booleans true, arrays one item, objects their
    required properties; ``const``/``default``/the first ``enum`` value win;
    optional parameters keep their defaults.

    Example:
        >>> smoke_arguments({"type": "object", "properties": {"n": {"type": "integer"}},
        ...                  "required": ["n"]})
        {'n': 1}
    """
    arguments = _sample({**parameters, "type": "object"})
    return arguments if isinstance(arguments, dict) else {}
