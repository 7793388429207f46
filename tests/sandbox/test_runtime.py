"""Ordinary math and table code works in the guarded runtime, and outcomes are reported precisely."""

from __future__ import annotations

import pytest

from fnforge.functions import Function, FunctionSet
from fnforge.sandbox import FunctionError, SandboxCheckError, SandboxViolation, UnknownFunctionError
from tests.sandbox.conftest import RawSet, fn, one

TABLE = """\
| name  | price | qty |
|-------|-------|-----|
| apple | 1.25  | 4   |
| pear  | 0.80  | 10  |
| plum  | 2.10  | 3   |
"""


def test_sympy_solves_a_system_of_equations(sandbox) -> None:
    body = """
    import sympy as sp
    x, y = sp.symbols('x y')
    solution = sp.solve([sp.Eq(x + y, 10), sp.Eq(x - y, 2)], [x, y])
    return {str(k): v for k, v in solution.items()}
    """
    assert sandbox.call(one(body), "f").value == {"x": "6", "y": "4"}


def test_sympy_factors_simplifies_and_sympifies_plain_math(sandbox) -> None:
    body = """
    import sympy
    x = sympy.Symbol('x')
    expr = sympy.sympify('x**2 - 5*x + 6')
    return [sympy.factor(expr), sympy.simplify(sympy.sin(x)**2 + sympy.cos(x)**2), sympy.isprime(97)]
    """
    assert sandbox.call(one(body), "f").value == ["(x - 3)*(x - 2)", "1", True]


def test_sympy_function_subclass_and_mutable_matrix_work(sandbox) -> None:
    body = """
    import sympy
    class Twice(sympy.Function):
        @classmethod
        def eval(cls, a):
            if a.is_Number:
                return 2 * a
    m = sympy.Matrix([[1, 2], [3, 4]])
    m[0, 0] = 5
    return [Twice(sympy.Integer(3)), m.det()]
    """
    assert sandbox.call(one(body), "f").value == ["6", "14"]


@pytest.mark.parametrize(("expression", "expected"), [
    ("round(float(sympy.nsolve(sympy.cos(x) - x, 1)), 6)", 0.739085),
    ("[float(v) for v in sympy.nsolve([x + y - 3, x - y - 1], [x, y], [1, 1])]", [2.0, 1.0]),
    ("str(sympy.Sum(1 / n**2, (n, 1, sympy.oo)).evalf(15))", "1.64493406684823"),
    ("str(sympy.Integral(sympy.exp(-x**2), (x, 0, 1)).evalf(10))", "0.7468241328"),
])
def test_sympy_numeric_paths_that_generate_code_work(sandbox, expression: str, expected: object) -> None:
    header = "import sympy\nx, y = sympy.symbols('x y')\nn = sympy.Symbol('n', integer=True)\n"
    assert sandbox.call(one(header + "return " + expression), "f").value == expected


def test_numpy_arrays_become_lists(sandbox) -> None:
    body = """
    import numpy as np
    a = np.arange(6).reshape(2, 3)
    a[0, 0] += 10
    return {"sum": a.sum(), "mean": float(a.mean()), "rows": a, "dtype": str(a.dtype)}
    """
    value = sandbox.call(one(body), "f").value
    assert value == {"sum": 25, "mean": 25 / 6, "rows": [[10, 1, 2], [3, 4, 5]], "dtype": "int64"}


def test_fractions_decimals_and_statistics_work(sandbox) -> None:
    body = """
    from fractions import Fraction
    from decimal import Decimal, getcontext
    import statistics
    getcontext().prec = 40
    third = Decimal(1) / Decimal(3)
    return [Fraction(1, 3) + Fraction(1, 6), len(str(third)), statistics.median([3, 1, 4, 1, 5]),
            statistics.stdev([2, 4, 4, 4, 5, 5, 7, 9]) > 2]
    """
    assert sandbox.call(one(body), "f").value == ["1/2", 42, 3, True]


def test_decimal_context_is_reset_between_calls(sandbox) -> None:
    change = one("from decimal import getcontext\ngetcontext().prec = 3\nreturn 1")
    read = one("from decimal import Decimal\nreturn str(Decimal(1) / Decimal(7))")
    for _ in range(4):
        sandbox.call(change, "f")
    assert {sandbox.call(read, "f").value for _ in range(4)} == {"0.1428571428571428571428571429"}


def test_regex_parses_a_table_string(sandbox) -> None:
    body = r"""
    import re
    from collections import Counter
    rows = re.findall(r"^\|\s*(\w+)\s*\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|$", table, re.M)
    total = sum(float(price) * int(qty) for _, price, qty in rows)
    letters = Counter()
    for name, _, _ in rows:
        letters[name[0]] += 1
    return {"total": round(total, 2), "letters": letters, "names": sorted(n for n, _, _ in rows)}
    """
    value = sandbox.call(one(body, params="table"), "f", {"table": TABLE}).value
    assert value == {"total": 19.3, "letters": {"a": 1, "p": 2}, "names": ["apple", "pear", "plum"]}


def test_everyday_python_works(sandbox) -> None:
    body = """
    import itertools, functools, heapq, bisect, math, json, datetime
    from collections import namedtuple, defaultdict, deque
    Point = namedtuple('Point', 'x y')
    @functools.total_ordering
    class Money:
        def __init__(self, cents):
            self.cents = cents
        def __eq__(self, other):
            return self.cents == other.cents
        def __lt__(self, other):
            return self.cents < other.cents
    groups = defaultdict(list)
    for k, v in [('a', 1), ('b', 2), ('a', 3)]:
        groups[k].append(v)
    first, *rest = sorted(zip('cba', range(3)), key=lambda kv: kv[0])
    q = deque([1, 2]); q.appendleft(0)
    def gen(n):
        yield from range(n)
    return {"point": Point(1, 2), "money": max(Money(5), Money(9)).cents, "groups": groups,
            "first": first, "rest": len(rest), "combos": len(list(itertools.combinations(range(5), 2))),
            "heap": heapq.nsmallest(2, [5, 1, 4]), "pos": bisect.bisect([1, 3, 5], 4),
            "reduce": functools.reduce(lambda a, b: a * b, range(1, 6)), "gcd": math.gcd(12, 18),
            "json": json.loads(json.dumps({"k": [1, 2]})), "gen": tuple(gen(3)), "deque": q,
            "bytes": list(bytes([104, 105])), "rev": list(reversed([1, 2])), "fstr": f"{math.pi:.2f}",
            "date": datetime.datetime.strptime("2024-02-29", "%Y-%m-%d").strftime("%j")}
    """
    assert sandbox.call(one(body), "f").value == {
        "point": [1, 2], "money": 9, "groups": {"a": [1, 3], "b": [2]}, "first": ["a", 2], "rest": 2,
        "combos": 10, "heap": [1, 4], "pos": 2, "reduce": 120, "gcd": 6, "json": {"k": [1, 2]},
        "gen": [0, 1, 2], "deque": [0, 1, 2], "bytes": [104, 105], "rev": [2, 1], "fstr": "3.14",
        "date": "060"}


def test_functions_of_a_set_can_call_each_other(sandbox) -> None:
    fs = RawSet(double=fn("return 2 * x", params="x", name="double"),
                quad=fn("return double(double(x))", params="x", name="quad"))
    assert sandbox.call(fs, "quad", {"x": 5}).value == 20


def test_a_broken_function_does_not_break_the_rest_of_its_set(sandbox) -> None:
    fs = RawSet(bad=fn("import os\nreturn 1", name="bad"), good=fn("return 7", name="good"))
    assert sandbox.call(fs, "good").value == 7


def test_call_of_a_function_that_fails_the_check_raises_check_error(sandbox) -> None:
    with pytest.raises(SandboxCheckError) as caught:
        sandbox.call(one("import os\nreturn os.getcwd()"), "f")
    assert caught.value.function == "f"
    assert [(p.rule, p.line) for p in caught.value.problems] == [("import", 2)]


def test_call_of_an_unknown_function_names_the_available_ones(sandbox) -> None:
    with pytest.raises(UnknownFunctionError, match=r"no function named 'g' in this set; available: f"):
        sandbox.call(one("return 1"), "g")


def test_function_error_carries_type_message_line_and_own_traceback(sandbox) -> None:
    source = fn("def helper(n):\n    return 10 // n\nreturn helper(x)", params="x")
    with pytest.raises(FunctionError) as caught:
        sandbox.call(RawSet(f=source), "f", {"x": 0})
    error = caught.value
    assert (error.exc_type, error.message, error.line) == ("ZeroDivisionError", "integer division or modulo by zero", 3)
    assert error.traceback == ('  File "f.py", line 4, in f\n    return helper(x)\n'
                               '  File "f.py", line 3, in helper\n    return 10 // n')
    assert str(error) == "ZeroDivisionError: integer division or modulo by zero (line 3)"


def test_missing_attribute_raises_attribute_error_not_none(sandbox) -> None:
    with pytest.raises(FunctionError) as caught:
        sandbox.call(one("return [].nope"), "f")
    assert caught.value.exc_type == "AttributeError"


def test_print_is_captured_as_stdout(sandbox) -> None:
    result = sandbox.call(one("print('a', 1, sep='-')\nprint('b', end='!')\nreturn None"), "f")
    assert (result.stdout, result.value, result.truncated) == ("a-1\nb!", None, False)


def test_print_output_is_capped_and_says_so(sandbox) -> None:
    result = sandbox.call(one("for i in range(2000):\n    print('y' * 100)\nreturn 1"), "f")
    assert (len(result.stdout), result.truncated, result.value) == (10_000, True, 1)


def test_result_values_are_converted_to_json(sandbox) -> None:
    body = """
    from fractions import Fraction
    from decimal import Decimal
    return {"fraction": Fraction(2, 4), "decimal": Decimal("1.50"), "complex": 1 + 2j,
            "nan": float("nan"), "inf": -float("inf"), "set": {3, 1, 2}, "tuple": (1, "a"),
            1: "int key", "big": 2 ** 20000, "none": None}
    """
    result = sandbox.call(one(body), "f")
    assert result.value == {"fraction": "1/2", "decimal": "1.50", "complex": "(1+2j)", "nan": "nan",
                            "inf": "-inf", "set": [1, 2, 3], "tuple": [1, "a"], "1": "int key",
                            "big": "<int with 20001 bits>", "none": None}
    assert result.truncated


def test_deep_results_are_cut_and_say_so(sandbox) -> None:
    result = sandbox.call(one("v = []\nfor i in range(100):\n    v = [v]\nreturn v"), "f")
    assert result.truncated and "…[cut]" in str(result.value)


def test_large_results_are_cut_to_the_size_limit(sandbox) -> None:
    result = sandbox.call(one("return list(range(10 ** 6))"), "f")
    assert result.truncated and len(str(result.value)) < 1_100_000


def test_run_code_returns_last_expression_and_prints(sandbox) -> None:
    fs = RawSet(solve=fn("return 2 * x", params="x", name="solve"))
    result = sandbox.run_code(fs, "x = solve(2)\nprint(x)\nx + 1")
    assert (result.value, result.stdout) == (5, "4\n")


def test_run_code_without_a_final_expression_returns_none(sandbox) -> None:
    result = sandbox.run_code(RawSet(), "import math\nprint(math.factorial(5))")
    assert (result.value, result.stdout) == (None, "120\n")


def test_run_code_starts_from_fresh_globals(sandbox) -> None:
    sandbox.run_code(RawSet(), "leak = 1")
    with pytest.raises(FunctionError) as caught:
        sandbox.run_code(RawSet(), "leak")
    assert caught.value.exc_type == "NameError"


def test_run_code_rejects_a_bad_snippet_with_its_line(sandbox) -> None:
    with pytest.raises(SandboxCheckError) as caught:
        sandbox.run_code(RawSet(), "x = 1\nimport os")
    assert caught.value.function == "<run_python>"
    assert [(p.rule, p.line) for p in caught.value.problems] == [("import", 2)]


def test_run_code_reports_the_snippets_own_traceback(sandbox) -> None:
    with pytest.raises(FunctionError) as caught:
        sandbox.run_code(RawSet(), "a = 1\nb = a / 0")
    assert caught.value.traceback == '  File "<run_python>", line 2, in <module>\n    b = a / 0'


def test_run_code_refuses_module_writes(sandbox) -> None:
    with pytest.raises(SandboxViolation) as caught:
        sandbox.run_code(RawSet(), "import math\nmath.pi = 3")
    assert caught.value.rule == "write"


def test_real_function_sets_run(sandbox) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    code = "import sympy\n\n\ndef divisors(n):\n    \"\"\"Divisors of n.\"\"\"\n    return sympy.divisors(n)\n"
    fs = FunctionSet((Function(name="divisors", description="Divisors.", parameters=schema, code=code),))
    assert sandbox.call(fs, "divisors", {"n": 12}).value == [1, 2, 3, 4, 6, 12]
