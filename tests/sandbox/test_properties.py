"""Invariants on arbitrary input: only documented errors, and the host never crashes or hangs.

Generated programs mix ordinary code with the pieces of known attacks
(dunder attributes, frame attributes, computed ``getattr``, hidden module
names, forbidden imports), so each example lands somewhere in the layers.
"""

from __future__ import annotations

import json
import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnforge.functions import Problem
from fnforge.sandbox import CallResult, SandboxError, SandboxPolicy, check
from fnforge.sandbox.boundary._encoder import Encoder
from tests.sandbox.conftest import RawSet

ATOMS = ["x", "1", "0", "-3", "2.5", "'s'", "[1, 2]", "{'k': 1}", "(1,)", "None", "True", "math", "np",
         "sympy", "statistics", "f", "len", "getattr", "type", "sorted", "str", "range(5)",
         "(i for i in [1])", "err"]
ATTRS = ["__class__", "__mro__", "__subclasses__", "__globals__", "gi_frame", "f_back", "mro", "format",
         "obj", "sys", "pi", "sqrt", "append", "real", "tofile", "ctypes", "sympify", "Symbol", "array",
         "mean", "keys", "fromfile", "enum", "lambdify", "items"]
STATEMENTS = ["import math", "import numpy as np", "import sympy", "import statistics", "import os",
              "import re", "y = [1]\ny[0] += 1", "z = {}\nz['a'] = 1", "pass", "y = sympy.sympify('x**2')"]

expressions = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(ATTRS)).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(inner, st.lists(inner, max_size=2)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, st.sampled_from(["+", "*", "-", "/", "%", "//", "==", "and", "or"]), inner)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, st.sampled_from(ATTRS)).map(lambda t: f"getattr({t[0]}, {t[1]!r})"),
    ),
    max_leaves=6,
)
statements = st.one_of(
    expressions.map(lambda e: f"y = {e}"),
    expressions.map(lambda e: f"return {e}"),
    expressions.map(lambda e: f"print({e})"),
    expressions.map(lambda e: f"for i in range(3):\n    y = {e}"),
    expressions.map(lambda e: f"try:\n    y = {e}\nexcept Exception as err:\n    y = str(err)"),
    expressions.map(lambda e: f"if {e}:\n    y = 1"),
    st.sampled_from(STATEMENTS),
)
programs = st.lists(statements, min_size=1, max_size=5).map(
    lambda body: "def f(x=1):\n" + textwrap.indent("\n".join(body), "    ") + "\n")
snippets = st.lists(statements.filter(lambda s: not s.startswith("return")), min_size=1, max_size=4).map(
    "\n".join)

SANDBOX_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])


def outcome(action) -> object:  # type: ignore[no-untyped-def]
    try:
        return action()
    except SandboxError as exc:
        return exc


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=400))
def test_check_returns_problems_for_any_text(source: str) -> None:
    problems = check(source, "f", SandboxPolicy())
    assert all(isinstance(p, Problem) for p in problems)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(programs)
def test_check_returns_problems_for_any_generated_program(source: str) -> None:
    assert all(isinstance(p, Problem) for p in check(source, "f", SandboxPolicy()))


@SANDBOX_SETTINGS
@given(st.text(max_size=300))
def test_call_raises_only_sandbox_errors_for_any_text(sandbox, source: str) -> None:
    assert isinstance(outcome(lambda: sandbox.call(RawSet(f=source), "f")), (CallResult, SandboxError))


@SANDBOX_SETTINGS
@given(programs)
def test_call_raises_only_sandbox_errors_for_any_generated_program(sandbox, source: str) -> None:
    assert isinstance(outcome(lambda: sandbox.call(RawSet(f=source), "f")), (CallResult, SandboxError))


@settings(SANDBOX_SETTINGS, max_examples=40)
@given(snippets)
def test_run_code_raises_only_sandbox_errors_for_any_generated_snippet(sandbox, code: str) -> None:
    assert isinstance(outcome(lambda: sandbox.run_code(RawSet(), code)), (CallResult, SandboxError))


def test_pool_still_answers_after_the_generated_programs(sandbox) -> None:
    fs = RawSet(f="def f(x):\n    return x * 3\n")
    assert [sandbox.call(fs, "f", {"x": k}).value for k in range(4)] == [0, 3, 6, 9]


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=50)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=5),
                            st.frozensets(st.integers(), max_size=5)),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(values)
def test_encoder_output_is_strict_json_within_the_size_limit(value: object) -> None:
    data, _ = Encoder(max_chars=2_000, max_depth=5).encode(value)
    assert len(json.dumps(data, allow_nan=False, ensure_ascii=False)) <= 2_100
