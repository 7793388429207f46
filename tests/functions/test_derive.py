"""derive_function: a function's spec read from its code, as smolagents' get_json_schema."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnforge.functions import RESERVED_NAMES, FunctionSpecError, derive_function, function_stub, plural

CODE = '''import math
from fractions import Fraction


def solve(a: float, b: list[int], mode: Literal["exact", "float"] = "exact", note: str | None = None) -> float:
    """Solve a x = sum(b).

    Returns the root.

    Args:
        a: The coefficient,
            never zero.
        b: The terms.
        mode: How to answer.

    Returns:
        The root.
    """
    return sum(b) / a
'''


def test_derive_function_reads_description_types_and_required() -> None:
    function = derive_function(CODE, "solve")
    assert function.description == "Solve a x = sum(b).\n\nReturns the root."
    assert function.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "number", "description": "The coefficient, never zero."},
            "b": {"type": "array", "items": {"type": "integer"}, "description": "The terms."},
            "mode": {"type": "string", "enum": ["exact", "float"], "description": "How to answer.",
                     "default": "exact"},
            "note": {"type": ["string", "null"], "default": None},
        },
        "required": ["a", "b"],
    }


def test_derive_function_takes_packages_from_the_imports() -> None:
    assert derive_function(CODE).packages == ("fractions", "math")


def test_derive_function_rejects_a_parameter_without_a_type_hint() -> None:
    with pytest.raises(FunctionSpecError, match="parameter 'x' needs a type hint"):
        derive_function('def f(x):\n    """Doc."""\n    return x\n')


def test_derive_function_rejects_code_without_a_docstring() -> None:
    with pytest.raises(FunctionSpecError, match="needs a docstring"):
        derive_function("def f(x: int) -> int:\n    return x\n")


def test_derive_function_rejects_code_that_does_not_parse() -> None:
    with pytest.raises(FunctionSpecError, match="syntax error"):
        derive_function("def f(:\n")


def test_derive_function_rejects_a_missing_named_def() -> None:
    with pytest.raises(FunctionSpecError, match="found: g"):
        derive_function('def g(x: int) -> int:\n    """Doc."""\n    return x\n', "f")


@given(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n) and not keyword.issoftkeyword(n) and n not in RESERVED_NAMES))
def test_function_stub_derives_to_a_function_of_its_name(name: str) -> None:
    function = derive_function(function_stub(name))
    assert function.name == name and function.parameters["required"] == ["x"]


def test_plural_counts_one_as_singular_and_others_as_plural() -> None:
    assert (plural(0, "step"), plural(1, "step"), plural(2, "branch", "branches")) == ("0 steps", "1 step",
                                                                                       "2 branches")
