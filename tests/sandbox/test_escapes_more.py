"""Second red-team round: attacks through library helpers, shared state, raw memory and the window.

Same table style as ``test_escapes.py``. Rows marked *was an escape* got
through before the fix named in the row's comment; every other row records
an idea that the existing layers already stopped. ``layer`` adds
``numpy-guard`` (``_numpy.py``), ``registry`` (``register`` and shared
registries refused) and ``window`` (finalizers run inside the call's limits).
"""

from __future__ import annotations

import concurrent.futures

import pytest

from fnforge.sandbox import Sandbox, SandboxCrash, SandboxPolicy, SandboxTimeout, SandboxViolation
from tests.sandbox.conftest import RawSet, fn, one
from tests.sandbox.test_escapes import CHECK, FUNCTION, TIMEOUT, VIOLATION, Attack, a

SYMPY_PI = "import sympy\nclass Pi(type(sympy.pi)):\n    def evalf(self, *a, **k):\n        return 3\nreturn 1"

ATTACKS = [
    # --- functools.wraps(assigned=, updated=) is an unguarded getattr/setattr (was an escape) ----------
    a("wraps-updated-builtins-merges-real-builtins", "import functools, json\ndef g():\n    return 1\n"
      "functools.wraps(json.dumps, assigned=(), updated=('__builtins__',))(g)\nreturn getattr(1, '__class__')",
      VIOLATION, "guard", "write"),
    a("wraps-updated-globals-brings-sys", "import functools, statistics\ndef g():\n    return 1\n"
      "functools.wraps(statistics.mean, assigned=(), updated=('__globals__',))(g)\nreturn 1",
      VIOLATION, "guard", "write"),
    a("wraps-assigned-code-forges-protocol", "import functools, json\n"
      "functools.wraps(lambda *a, **k: 'PWNED', assigned=('__code__',), updated=())(json.dumps)\nreturn 1",
      VIOLATION, "guard", "write"),
    a("wraps-default-onto-library-function", "import functools, json\n"
      "functools.wraps(lambda: 0)(json.dumps)\nreturn 1", VIOLATION, "guard", "write"),
    a("total-ordering-on-library-class", "import functools, fractions\n"
      "functools.total_ordering(fractions.Fraction)\nreturn 1", VIOLATION, "guard", "write"),
    # --- higher-order helpers only ever see the guarded getattr -------------------------------------
    a("reduce-getattr", "import functools\nreturn functools.reduce(getattr, ['__class__'], 1)", VIOLATION,
      "guard", "private-attribute"),
    a("partial-getattr", "import functools\nreturn functools.partial(getattr, 1)('__class__')", VIOLATION,
      "guard", "private-attribute"),
    a("map-getattr", "return list(map(getattr, [1], ['__class__']))", VIOLATION, "guard", "private-attribute"),
    a("starmap-getattr", "import itertools\nreturn list(itertools.starmap(getattr, [(1, '__class__')]))",
      VIOLATION, "guard", "private-attribute"),
    a("sorted-key-getattr", "return sorted([1, 2], key=lambda v: getattr(v, '__class__'))", VIOLATION, "guard",
      "private-attribute"),
    a("re-sub-callback-getattr", "import re\nreturn re.sub('a', lambda m: getattr(m, '__class__'), 'a')",
      VIOLATION, "guard", "private-attribute"),
    a("json-object-hook-getattr", "import json\nreturn json.loads('{}', object_hook=lambda d: getattr(d, '__class__'))",
      VIOLATION, "guard", "private-attribute"),
    a("frompyfunc-getattr", "import numpy as np\nreturn np.frompyfunc(getattr, 2, 1)(1, '__class__')", VIOLATION,
      "guard", "private-attribute"),
    a("namedtuple-field-injection", "import collections\n"
      "return collections.namedtuple('P', \"x, y=__import__('os')\")", FUNCTION, "python"),
    a("template-attribute-placeholder", "import string\nreturn string.Template('${a.__class__}').substitute(a=1)",
      FUNCTION, "python"),
    # --- process-global registries and shared containers (were poisonings of later calls) -----------
    a("sympy-singleton-subclass-replaces-S-Pi", SYMPY_PI, VIOLATION, "guard", "class"),
    a("sympy-S-register", "import sympy\nclass GoldenRatio:\n    pass\n"
      "sympy.S.register(GoldenRatio)", VIOLATION, "registry", "denied-attribute"),
    a("sympy-Q-register-handler", "import sympy\nsympy.Q.prime.register(sympy.Integer)(lambda e, a: False)",
      VIOLATION, "registry", "denied-attribute"),
    a("sympy-Q-handler-dispatcher-add", "import sympy\nreturn sympy.Q.prime.handler", VIOLATION, "registry",
      "unsafe-value"),
    a("abc-register-fraction", "import fractions\nclass C:\n    pass\nfractions.Fraction.register(C)", VIOLATION,
      "registry", "denied-attribute"),
    a("singledispatch-register", "import sympy\nsympy.shape.register(int)(lambda x: 1)", VIOLATION, "registry",
      "denied-attribute"),
    a("numpy-typecodes-item-write", "import numpy as np\nnp.typecodes['All'] = 'x'", VIOLATION, "guard", "write"),
    a("numpy-typecodes-method-write", "import numpy as np\nnp.typecodes.update({'All': 'x'})", FUNCTION, "guard"),
    a("sympy-FU-item-write", "import sympy\nsympy.FU['TR1'] = len", VIOLATION, "guard", "write"),
    # --- classes with arbitrary special methods (the smolagents #2395 time bomb) -------------------
    a("sympy-functionclass-dunders", "import sympy\nreturn sympy.FunctionClass('E', (), {'__repr__': len})",
      CHECK, "check"),
    a("sympy-functionclass-computed", "import sympy\nreturn getattr(sympy, 'Function' + 'Class')", VIOLATION,
      "guard", "module-attribute"),
    a("sympy-function-kwargs-dunder", "import sympy\nreturn sympy.Function('F', **{'__repr__': len})", VIOLATION,
      "sympy-patch", "sympy-function"),
    a("sympy-function-imp-implementation", "import sympy\nreturn sympy.Function('F', **{'_imp_': len})",
      VIOLATION, "sympy-patch", "sympy-function"),
    a("sympy-function-bases", "import sympy\nreturn sympy.Function('F', bases=(ValueError,))", VIOLATION,
      "sympy-patch", "sympy-function"),
    a("generator-finally-after-return", "def g():\n    try:\n        yield 1\n    finally:\n"
      "        getattr(1, '__cla' + 'ss__')\nx = g()\nnext(x)\nreturn x", VIOLATION, "window", "private-attribute"),
    a("finally-continue-swallows-timeout", "while True:\n    try:\n        while True:\n            pass\n"
      "    finally:\n        continue", TIMEOUT, "timer"),
    # --- numpy raw memory: forged PyObject pointers (were SIGSEGV, i.e. memory corruption) ------------
    a("numpy-object-array-over-bytes", "import numpy as np\nb = bytearray(b'\\x01' * 8)\n"
      "return np.ndarray((1,), dtype=np.object_, buffer=b)[0]", VIOLATION, "numpy-guard", "numpy-memory"),
    a("numpy-type-of-array-constructor", "import numpy as np\nA = type(np.zeros(1))\n"
      "return A((1,), dtype=np.object_, buffer=bytearray(8))", VIOLATION, "numpy-guard", "numpy-memory"),
    a("numpy-object-array-misaligned-strides", "import numpy as np\n"
      "return np.ndarray((2,), dtype=np.object_, strides=(4,))", VIOLATION, "numpy-guard", "numpy-memory"),
    a("numpy-structured-object-field-buffer", "import numpy as np\nd = np.dtype([('a', np.int64), ('b', np.object_)])\n"
      "return np.ndarray((1,), dtype=d, buffer=bytearray(b'\\x01' * 16))", VIOLATION, "numpy-guard", "numpy-memory"),
    a("numpy-set-strides-object-array", "import numpy as np\na = np.array([1.5, 2.5], dtype=np.object_)\n"
      "a.strides = (4,)\nreturn a[1]", VIOLATION, "numpy-guard", "numpy-memory"),
    a("numpy-subclass-set-strides", "import numpy as np\nclass A(np.ndarray):\n    pass\n"
      "a = np.array([1.5, 2.5], dtype=np.object_).view(A)\na.strides = (4,)\nreturn a[1]", VIOLATION,
      "guard", "class"),  # library classes cannot be subclassed any more (issue 11)
    a("numpy-subclass-object-buffer", "import numpy as np\nclass A(np.ndarray):\n    pass\n"
      "return A((1,), dtype=np.object_, buffer=bytearray(8))", VIOLATION, "guard", "class"),
    a("numpy-flags-writeable", "import numpy as np\na = np.broadcast_to(np.zeros(1), (4,))\n"
      "a.flags.writeable = True", VIOLATION, "guard", "write"),
    a("numpy-dtype-assign-object", "import numpy as np\na = np.zeros(2, dtype=np.int64)\na.dtype = np.object_",
      FUNCTION, "python"),
    a("numpy-view-as-object", "import numpy as np\nreturn np.zeros(2, dtype=np.int64).view(np.object_)", FUNCTION,
      "python"),
    a("numpy-getfield-object", "import numpy as np\nreturn np.zeros(2, dtype=np.int64).getfield(np.object_, 0)",
      FUNCTION, "python"),
    a("numpy-fromstring-object", "import numpy as np\nreturn np.fromstring('1 2', dtype=np.object_, sep=' ')",
      FUNCTION, "python"),
    # --- sympy string entry points ----------------------------------------------------------------
    a("sympy-poly-string", "import sympy\nreturn sympy.Poly(\"__import__('os').getpid()\")", VIOLATION,
      "sympy-patch", "sympify"),
    a("sympy-solve-list-of-strings", "import sympy\nreturn sympy.solve([\"__import__('os').getpid()\"])",
      VIOLATION, "sympy-patch", "sympify"),
    a("sympy-N-string", "import sympy\nreturn sympy.N(\"__import__('os').getpid()\")", VIOLATION, "sympy-patch",
      "sympify"),
    # --- Unicode identifiers are NFKC-normalised before any check ---------------------------------
    a("unicode-fullwidth-eval", "return \uff45\uff56\uff41\uff4c('1')", CHECK, "check"),
    a("unicode-fullwidth-dunder-import", "return __\uff49\uff4d\uff50\uff4f\uff52\uff54__('os')", CHECK, "check"),
    a("unicode-fullwidth-open", "return \uff4f\uff50\uff45\uff4e('/etc/passwd').read()", CHECK, "check"),
    a("unicode-fullwidth-getattr-string", "return getattr(1, '__\uff43\uff4c\uff41\uff53\uff53__')", VIOLATION,
      "guard", "private-attribute"),
    # --- crashes stay inside the worker -------------------------------------------------------------
    a("deep-tuple-hash-overflows-c-stack", "x = ()\nfor i in range(200000):\n    x = (x,)\nreturn {x}",
      SandboxCrash, "worker"),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_attack_is_blocked_with_expected_error(sandbox, attack: Attack) -> None:
    with pytest.raises(attack.error) as caught:
        sandbox.call(RawSet(f=attack.source), "f")
    if attack.rule is not None:
        assert isinstance(caught.value, SandboxViolation) and caught.value.rule == attack.rule


def test_attack_ids_do_not_repeat_the_first_table() -> None:
    from tests.sandbox.test_escapes import ATTACKS as FIRST

    ids = [attack.id for attack in ATTACKS + FIRST]
    assert len(set(ids)) == len(ids)


def test_later_calls_see_unpoisoned_sympy_and_numpy_after_the_attacks(sandbox) -> None:
    for attack in ("sympy-singleton-subclass-replaces-S-Pi", "sympy-Q-register-handler", "numpy-typecodes-item-write"):
        with pytest.raises(SandboxViolation):
            sandbox.call(RawSet(f=next(x.source for x in ATTACKS if x.id == attack)), "f")
    body = "import sympy, numpy as np\nreturn [str(sympy.S.Pi.evalf(5)), sympy.ask(sympy.Q.prime(7)), np.typecodes['All']]"
    assert sandbox.call(one(body), "f").value == ["3.1416", True, "?bhilqnpBHILQNPefdgFDGSUVOMm"]


def test_functools_wraps_still_copies_the_name_onto_a_sandbox_function(sandbox) -> None:
    body = """
    import functools
    def deco(g):
        @functools.wraps(g)
        def inner(*a):
            return 2 * g(*a)
        return inner
    @deco
    def square(v):
        return v * v
    @functools.total_ordering
    class Box:
        def __init__(self, v):
            self.v = v
        def __eq__(self, o):
            return self.v == o.v
        def __lt__(self, o):
            return self.v < o.v
    return [square(3), repr(square).split()[1].endswith(".square"), Box(2) >= Box(1)]
    """
    assert sandbox.call(one(body), "f").value == [18, True, True]


def test_numpy_arrays_keep_working_through_the_guarded_ndarray(sandbox) -> None:
    body = """
    import numpy as np
    a = np.arange(6, dtype=np.float64)
    a.shape = (2, 3)
    a[0, 0] += 5
    b = np.ndarray((2,), dtype=np.int64)
    b[0] = 0
    b[1] = 7
    objs = np.array([1, 'x'], dtype=np.object_)
    return [a, b, type(a) is np.ndarray, isinstance(b, np.ndarray), issubclass(type(b), np.ndarray), list(objs)]
    """
    assert sandbox.call(one(body), "f").value == [
        [[5.0, 1.0, 2.0], [3.0, 4.0, 5.0]], [0, 7], True, True, True, [1, "x"]]


def test_sympy_function_assumptions_still_work(sandbox) -> None:
    body = "import sympy\nF = sympy.Function('F', real=True)\nreturn [F(1).is_real, str(F(sympy.Symbol('x')))]"
    assert sandbox.call(one(body), "f").value == [True, "F(x)"]


def test_deeply_nested_results_are_cut_not_crashed(sandbox) -> None:
    result = sandbox.call(one("x = []\nfor i in range(100000):\n    x = [x]\nreturn x"), "f")
    assert result.truncated and str(result.value).count("[") == 21  # 20 levels and the cut's own


def test_an_unprintable_result_is_described_instead_of_raising(sandbox) -> None:
    body = "import functools\nx = []\nfor i in range(100000):\n    x = [x]\nreturn functools.partial(len, x)"
    assert sandbox.call(one(body), "f").value == "<unprintable partial: RecursionError>"


def test_a_huge_string_result_is_cut_to_a_string_not_json_text(sandbox) -> None:
    result = sandbox.call(one("return 'x' * 3_000_000"), "f")
    assert result.truncated and result.value.startswith("xxx") and len(result.value) <= 1_000_000


def test_output_that_looks_like_protocol_frames_comes_back_verbatim(sandbox) -> None:
    frame = '\\x00\\x00\\x00\\x0b{"ok":true}'
    result = sandbox.call(one(f"print('{frame}')\nreturn '{frame}'"), "f")
    assert result.value == '\x00\x00\x00\x0b{"ok":true}' and result.stdout == '\x00\x00\x00\x0b{"ok":true}\n'


def test_run_code_globals_do_not_leak_into_the_next_snippet(sandbox) -> None:
    fs = RawSet(f=fn("return 1"))
    sandbox.run_code(fs, "leaked = 41\nf = None")
    with pytest.raises(FUNCTION) as caught:
        sandbox.run_code(fs, "leaked + 1")
    assert caught.value.exc_type == "NameError" and sandbox.run_code(fs, "f()").value == 1


def test_concurrent_timeouts_do_not_exhaust_the_pool(sandbox) -> None:
    hang = one("while True:\n    pass")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(lambda _: _outcome(sandbox, hang), range(3)))
    assert outcomes == ["timeout"] * 3 and sandbox.call(one("return 2"), "f").value == 2


def _outcome(sandbox, function_set: RawSet) -> str:
    try:
        sandbox.call(function_set, "f")
    except SandboxTimeout:
        return "timeout"
    return "returned"


POISON_ASSUMPTIONS = one("import sympy\nsympy.Integer.default_assumptions.update({'prime': True})\nreturn 1")
READ_ASSUMPTIONS = one("import sympy\nreturn [sympy.Integer(10**30 + 6).is_prime, sympy.Integer(9).is_prime]")


def test_a_set_that_mutates_library_state_through_methods_poisons_only_itself() -> None:
    # ``_write_`` sees assignments, not method calls: the sympy class-level table really changes.
    # The default policy gives each set its own workers, so another set never sees it.
    with Sandbox(SandboxPolicy(timeout_s=1.0, kill_grace_s=0.5), workers=1, spares=1) as box:
        box.call(POISON_ASSUMPTIONS, "f")
        assert box.call(READ_ASSUMPTIONS, "f").value == [False, False]


def test_a_worker_serves_only_as_many_sets_as_the_policy_allows() -> None:
    with Sandbox(SandboxPolicy(timeout_s=1.0, kill_grace_s=0.5, max_sets_per_worker=2), workers=1,
                 spares=0) as box:
        pids = []
        for body in ("return 1", "return 2", "return 1", "return 3"):
            box.call(one(body), "f")
            pids.append(box._all and next(iter(box._all)).process.pid)
    assert pids[0] == pids[1] == pids[2] != pids[3]
