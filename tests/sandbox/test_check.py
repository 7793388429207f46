"""The static gate: each rule reports a Problem with its line, in words an LLM can act on."""

from __future__ import annotations

import pytest

from fnforge.functions import Problem
from fnforge.sandbox import SandboxPolicy, check
from tests.sandbox.conftest import fn

POLICY = SandboxPolicy()


def rules(source: str, name: str = "f", policy: SandboxPolicy | None = POLICY) -> list[str]:
    return [p.rule for p in check(source, name, policy)]


def test_check_accepts_a_plain_function() -> None:
    assert check("def f(x):\n    return x + 1\n", "f", POLICY) == []


def test_check_uses_the_strict_default_policy_when_none_is_given() -> None:
    assert rules("import random\ndef f():\n    return random.random()\n", "f", None) == ["import"]


def test_check_accepts_imports_docstring_and_constants_at_top_level() -> None:
    source = ('"""Doc."""\nfrom __future__ import annotations\nimport math\nfrom fractions import Fraction\n'
              "LIMIT = 10\nTABLE = {'a': (1, 2), 'b': -math.pi}\n" + fn("return LIMIT", params="x: int"))
    assert check(source, "f", POLICY) == []


def test_check_rejects_import_of_os_naming_line_and_allowed_modules() -> None:
    (problem,) = check("import os\ndef f():\n    return 1\n", "f", POLICY)
    assert problem == Problem(rule="import", line=1, message=(
        "import of 'os' is not allowed; allowed modules: bisect, cmath, collections, datetime, decimal, "
        "fractions, functools, heapq, itertools, json, math, numpy, operator, re, statistics, string, sympy"))
    assert str(problem).startswith("line 1: import of 'os' is not allowed")


def test_check_rejects_imports_inside_the_function_too() -> None:
    assert rules(fn("import subprocess\nreturn 1")) == ["import"]


def test_check_rejects_a_missing_def() -> None:
    (problem,) = check("def g():\n    return 1\n", "f", POLICY)[-1:]
    assert problem.rule == "missing-def" and "def f(...)" in problem.message


def test_check_rejects_a_second_top_level_def_with_a_hint() -> None:
    (problem,) = check(fn("return 1") + "def helper():\n    return 2\n", "f", POLICY)
    assert (problem.rule, problem.line) == ("top-level", 3)
    assert "move helper 'helper' inside 'f'" in problem.message


def test_check_accepts_nested_helpers_and_classes() -> None:
    body = "def helper(y):\n    return y * 2\nclass Acc:\n    def __init__(self):\n        self.n = 0\nreturn helper(1)"
    assert check(fn(body), "f", POLICY) == []


def test_check_rejects_a_top_level_call() -> None:
    assert rules("import sympy\nx = sympy.Symbol('x')\n" + fn("return x")) == ["top-level"]


def test_check_rejects_a_top_level_loop() -> None:
    assert rules("for i in range(3):\n    pass\n" + fn("return 1")) == ["top-level"]


def test_check_rejects_top_level_async_def() -> None:
    assert "top-level" in rules("async def f():\n    return 1\n")


def test_check_reports_a_syntax_error_with_its_line() -> None:
    (problem,) = check("def f():\n    return (\n", "f", POLICY)
    assert problem.rule == "syntax" and problem.line == 2


def test_check_rejects_a_nul_character() -> None:
    assert rules("def f():\n    return '\0'\n") == ["syntax"]


def test_check_rejects_source_over_the_size_limit() -> None:
    (problem,) = check(fn("return 1") + "#" * 20_000, "f", POLICY)
    assert problem.rule == "size" and "the limit is 20000" in problem.message


def test_check_rejects_too_many_syntax_nodes() -> None:
    source = fn("return [" + ", ".join(["1"] * 3000) + "]")
    assert rules(source, policy=SandboxPolicy(max_ast_nodes=1000)) == ["size"]


def test_check_rejects_deep_nesting() -> None:
    assert rules(fn("return " + "[" * 70 + "]" * 70)) == ["depth"]


def test_check_rejects_unparseable_nesting_without_crashing() -> None:
    assert rules(fn("return " + "-" * 15_000 + "1")) == ["depth"]


def test_check_rejects_a_hidden_module_name_through_an_alias() -> None:
    (problem,) = check("import numpy as np\n" + fn("return np.fromfile('/etc/passwd')"), "f", POLICY)
    assert problem == Problem(rule="module-attribute", line=3,
                              message="numpy.fromfile is not available in the sandbox (file I/O)")


def test_check_rejects_a_hidden_name_in_from_import() -> None:
    assert rules("from numpy import ctypeslib\n" + fn("return 1")) == ["module-attribute"]


def test_check_rejects_a_submodule_that_the_policy_does_not_allow() -> None:
    assert rules(fn("import numpy.linalg\nreturn numpy.linalg.inv([[1.0]])")) == ["import"]


def test_check_accepts_a_submodule_that_the_policy_allows() -> None:
    policy = SandboxPolicy(allowed_modules=(*POLICY.allowed_modules, "numpy.linalg"))
    source = fn("import numpy as np\nfrom numpy.linalg import det\nreturn np.linalg.inv([[2.0]]), det([[1.0]])")
    assert check(source, "f", policy) == []


def test_check_rejects_relative_imports() -> None:
    assert rules(fn("from . import helpers\nreturn 1")) == ["import"]


def test_check_names_a_builtin_the_sandbox_does_not_provide() -> None:
    (problem,) = check(fn("return open('/etc/passwd')"), "f", POLICY)
    assert str(problem) == "line 2: 'open' is not available in the sandbox (no file access)"


def test_check_allows_a_local_variable_named_like_a_missing_builtin() -> None:
    assert check(fn("id = 3\nreturn id + input", params="input"), "f", POLICY) == []


def test_check_rejects_three_argument_type() -> None:
    assert rules(fn("return type('X', (), {})")) == ["name"]


def test_check_rejects_underscore_names_through_restrictedpython() -> None:
    (problem,) = check(fn("return x.__class__", params="x"), "f", POLICY)
    assert (problem.rule, problem.line) == ("restricted", 2)
    assert '"__class__" is an invalid attribute name' in problem.message


def test_check_accepts_augmented_item_and_attribute_assignment() -> None:
    body = ("counts = {}\nfor w in words:\n    counts[w] = counts.get(w, 0)\n    counts[w] += 1\n"
            "class Box:\n    def __init__(self):\n        self.n = 0\nb = Box()\nb.n += 2\nreturn counts")
    assert check(fn(body, params="words"), "f", POLICY) == []


def test_check_rejects_augmented_assignment_to_a_slice_with_a_hint() -> None:
    (problem,) = check(fn("a = [1]\na[0:1] += [2]\nreturn a"), "f", POLICY)
    assert problem.rule == "restricted" and "a[i:j] = a[i:j] + b" in problem.message


def test_check_rejects_augmented_assignment_to_a_private_attribute() -> None:
    assert rules(fn("x.__dict__ += 1", params="x")) == ["restricted"]


def test_check_reports_problems_sorted_by_line() -> None:
    source = "import os\nimport socket\n" + fn("return open('x')")
    assert [p.line for p in check(source, "f", POLICY)] == [1, 2, 4]


def test_check_rejects_non_string_source() -> None:
    with pytest.raises(TypeError):
        check(b"def f(): pass", "f", POLICY)  # type: ignore[arg-type]
