"""Reading tool-call arguments: native JSON (tolerant) and ReAct Action Input."""

from __future__ import annotations

import pytest

from fnforge.agents._tools import ArgumentsError, parse_action_input, parse_arguments
from fnforge.functions import FunctionSet
from tests.agents.conftest import make_function

FS = FunctionSet((
    make_function("square", {"x": "number"}, "return x * x"),
    make_function("add", {"a": "number", "b": "number"}, "return a + b"),
))


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"a": 1, "b": 2}', {"a": 1, "b": 2}),
    ('"{\\"a\\": 1}"', {"a": 1}),  # double-encoded
    ("", {}),
    ("  ", {}),
])
def test_parse_arguments_does_accept_json_objects(raw: str, expected: dict[str, object]) -> None:
    assert parse_arguments(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    ('{"a": 1,', "ends before it is complete"),
    ("[1, 2]", "must be a JSON object, not an array"),
    ('"just text"', "must be a JSON object, not a string"),
    ("3", "must be a JSON object, not a number"),
    ("{oops}", "not valid JSON"),
    ('{"a": NaN}', "NaN is not a JSON value"),
    ('{"a": 1e999}', "too large for a JSON number"),
])
def test_parse_arguments_rejects_non_objects(raw: str, message: str) -> None:
    with pytest.raises(ArgumentsError, match=message):
        parse_arguments(raw)


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1, "b": 2}', {"a": 1, "b": 2}),
    ('```json\n{"a": 1, "b": 2}\n```', {"a": 1, "b": 2}),
    ("{'a': 1, 'b': (2, 3)}", {"a": 1, "b": [2, 3]}),
])
def test_parse_action_input_does_accept_object_forms(text: str, expected: dict[str, object]) -> None:
    assert parse_action_input(text, "add", FS) == expected


def test_parse_action_input_does_wrap_bare_value_for_single_parameter() -> None:
    assert parse_action_input("4", "square", FS) == {"x": 4}


def test_parse_action_input_does_take_code_for_run_python() -> None:
    assert parse_action_input("```python\nprint(1)\n```", "run_python", FS) == {"code": "print(1)\n"}
    assert parse_action_input('{"code": "print(2)"}', "run_python", FS) == {"code": "print(2)"}
    assert parse_action_input("print(3)", "run_python", FS) == {"code": "print(3)"}


@pytest.mark.parametrize("text", ["4", "a=1, b=2", "{'a': {1, 2}}", "{'a': 1e999}"])
def test_parse_action_input_rejects_unreadable_input(text: str) -> None:
    with pytest.raises(ArgumentsError):
        parse_action_input(text, "add", FS)
