"""Static validation of one function: each rule names itself and the line."""

from __future__ import annotations

from typing import Any

import pytest

from fnforge.functions import Function, FunctionSpecError, validate_function

OBJECT = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


def problems(code: str, parameters: Any = OBJECT, name: str = "f") -> list[str]:
    return [
        str(p)
        for p in validate_function(name=name, description="d", parameters=parameters, packages=(), code=code)
    ]


def test_valid_function_has_no_problems() -> None:
    assert problems("import math\n\ndef f(x):\n    return math.sqrt(x)\n") == []


def test_nested_helpers_are_allowed() -> None:
    assert problems("def f(x):\n    def g(y):\n        return y\n    return g(x)\n") == []


def test_rejects_name_that_is_not_an_identifier() -> None:
    assert problems("def f(x): pass", name="solve-it") == [
        "name 'solve-it' must be a Python identifier of at most 64 characters that starts with a letter and is not a keyword"
    ]


def test_rejects_reserved_tool_name() -> None:
    code = "def run_python(x):\n    return x\n"
    assert problems(code, name="run_python") == ["name 'run_python' is reserved for a built-in tool"]


def test_rejects_syntax_error_with_its_line() -> None:
    assert problems("def f(x):\n    return (\n") == ["line 2: syntax error: '(' was never closed"]


def test_rejects_code_without_the_named_def() -> None:
    assert problems("def g(x):\n    return x\n") == [
        "line 1: the code must define exactly one top-level function, 'def f'; found 'def g' (nest helpers inside 'def f')",
        "line 1: the code must define 'def f(...)' at top level",
    ]


def test_rejects_second_top_level_def_naming_its_line() -> None:
    found = problems("def f(x):\n    return x\n\ndef helper():\n    pass\n")
    assert found == [
        "line 4: the code must define exactly one top-level function, 'def f'; found 'def helper' (nest helpers inside 'def f')"
    ]


def test_rejects_async_def() -> None:
    assert "line 1: async def is not supported; use def" in problems("async def f(x):\n    return x\n")


def test_rejects_invalid_json_schema_by_metaschema() -> None:
    found = problems("def f(x):\n    return x\n", {"type": "object", "properties": {"x": {"type": 5}}})
    assert len(found) == 1 and found[0].startswith("parameters is not a valid JSON Schema at properties/x/type")


def test_rejects_schema_that_is_not_an_object_type() -> None:
    assert problems("def f():\n    return 1\n", {"type": "array", "items": {}}) == [
        'parameters must have "type": "object"'
    ]


def test_rejects_array_property_without_items() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "array"}}, "required": ["x"]}
    assert problems("def f(x):\n    return x\n", schema) == ["array property 'x' needs an \"items\" schema"]


def test_rejects_parameter_missing_from_schema() -> None:
    assert problems("def f(x, y):\n    return x\n") == [
        "line 1: parameter 'y' is missing from the schema's properties"
    ]


def test_rejects_schema_property_not_in_signature() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}, "z": {"type": "string"}}, "required": ["x"]}
    assert problems("def f(x):\n    return x\n", schema) == [
        "line 1: schema property 'z' is not a parameter of the def"
    ]


def test_rejects_required_mismatch_with_defaults() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}}}
    assert problems("def f(x):\n    return x\n", schema) == [
        "line 1: parameter 'x' has no default, so the schema must list it in \"required\""
    ]
    assert problems("def f(x=1):\n    return x\n") == [
        "line 1: parameter 'x' has a default, so the schema must not list it in \"required\""
    ]


def test_rejects_star_args() -> None:
    schema = {"type": "object", "properties": {}}
    assert problems("def f(*args, **kw):\n    return 1\n", schema) == [
        "line 1: use named parameters only (no *args, **kwargs or positional-only '/')"
    ]


def test_keyword_only_parameters_with_defaults_are_optional() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}, "k": {"type": "integer"}}, "required": ["x"]}
    assert problems("def f(x, *, k=2):\n    return x * k\n", schema) == []


@pytest.mark.parametrize("description", ["", "   "])
def test_rejects_empty_description(description: str) -> None:
    found = validate_function(name="f", description=description, parameters=OBJECT, packages=(), code="def f(x): pass")
    assert [str(p) for p in found] == ["description must be a non-empty string"]


def test_building_an_invalid_function_raises_with_every_problem() -> None:
    with pytest.raises(FunctionSpecError) as info:
        Function(name="f", description="d", parameters={"type": "object", "properties": {}}, code="def g():\n    pass\n")
    assert info.value.name == "f"
    assert len(info.value.problems) == 2
    assert str(info.value).startswith("function 'f': line 1: the code must define exactly one top-level function")
