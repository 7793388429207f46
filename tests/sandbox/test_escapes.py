"""Every escape we know of, each proved blocked with the error type we expect.

One row per attack (DESIGN.md §4: "every escape ever found is a row here").
``layer`` names what stops it: ``check`` (static gate, incl. RestrictedPython
compile), ``guard`` (runtime hooks and proxies), ``sympy-patch``, ``timer``
(soft SIGALRM), ``kill`` (parent's hard kill), ``rlimit`` (address space),
``python`` (the interpreter's own limits), ``codegen`` (the check of sympy's generated
code, ``_codegen.py``). The OS layers beneath are proved
by raw-code probes in ``test_oslayers.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fnforge.sandbox import (FunctionError, SandboxCheckError, SandboxError, SandboxMemoryError, SandboxTimeout,
                     SandboxViolation)
from tests.sandbox.conftest import RawSet, fn, one

CHECK, VIOLATION, TIMEOUT, MEMORY, FUNCTION = (SandboxCheckError, SandboxViolation, SandboxTimeout,
                                               SandboxMemoryError, FunctionError)


@dataclass(frozen=True)
class Attack:
    id: str
    source: str
    error: type[SandboxError] | tuple[type[SandboxError], ...]
    layer: str
    rule: str | None = None


def a(id: str, body: str, error: type[SandboxError] | tuple[type[SandboxError], ...], layer: str,
      rule: str | None = None, header: str = "") -> Attack:
    return Attack(id, fn(body, header=header), error, layer, rule)


ATTACKS = [
    # --- object graph walks and computed attribute names ------------------------------------
    a("mro-subclasses-walk", "return ().__class__.__mro__[-1].__subclasses__()", CHECK, "check"),
    a("object-subclasses", "return object.__subclasses__()", CHECK, "check"),
    a("object-new", "return object.__new__(int)", CHECK, "check"),
    a("getattr-computed-dunder", "return getattr((), '__cl' + 'ass__')", VIOLATION, "guard",
      "private-attribute"),
    a("hasattr-hidden-module-name", "import statistics\nreturn hasattr(statistics, 's' + 'ys')", VIOLATION,
      "guard", "module-attribute"),
    a("getattr-mro", "return getattr(int, 'mro')()[-1]", VIOLATION, "guard", "denied-attribute"),
    a("type-of-type", "return type(type(1))", VIOLATION, "guard", "type"),
    a("type-three-args", "return type('X', (), {})", CHECK, "check"),
    # --- str.format and string.Formatter (CVE-2023-41039, CVE-2026-76825) -------------------
    a("cve-2023-41039-str-format", "return '{0.__class__}'.format(1)", VIOLATION, "guard", "str-format"),
    a("cve-2023-41039-format-map", "return '{a.__class__}'.format_map({'a': 1})", VIOLATION, "guard",
      "str-format"),
    a("str-format-unbound", "return str.format('{0.__class__}', 1)", VIOLATION, "guard", "str-format"),
    a("fstring-dunder", "return f'{x.__class__}'", CHECK, "check", header="x = 1"),
    a("cve-2026-76825-string-formatter", "import string\nreturn string.Formatter().get_field('0.__class__', [1], {})",
      CHECK, "check"),
    a("string-formatter-computed", "import string\nF = getattr(string, 'Form' + 'atter')\n"
      "return F().get_field('0.__class__', [1], {})", VIOLATION, "guard", "module-attribute"),
    # --- frames, generators, tracebacks (CVE-2023-37271) -------------------------------------
    a("cve-2023-37271-gi-frame", "g = (i for i in [1])\nreturn g.gi_frame.f_back.f_globals", CHECK, "check"),
    a("gi-frame-computed", "g = (i for i in [1])\nreturn getattr(g, 'gi_' + 'frame')", VIOLATION, "guard",
      "frame-attribute"),
    a("traceback-frame", "try:\n    1 / 0\nexcept Exception as e:\n    return e.__traceback__.tb_frame",
      CHECK, "check"),
    a("traceback-computed", "try:\n    1 / 0\nexcept Exception as e:\n    return getattr(e, 'tb' + '_frame')",
      VIOLATION, "guard", "frame-attribute"),
    a("cve-2024-47532-attributeerror-obj",
      "try:\n    getattr([], 'no' + 'pe')\nexcept AttributeError as e:\n    return e.obj",
      VIOLATION, "guard", "denied-attribute"),
    # --- builtins, namespaces, code generation ------------------------------------------------
    a("builtins-subscript", "return __builtins__['open']", CHECK, "check"),
    a("dunder-import", "return __import__('os')", CHECK, "check"),
    a("eval", "return eval('1 + 1')", CHECK, "check"),
    a("exec", "exec('y = 1')", CHECK, "check"),
    a("compile", "return compile('1', 'x', 'eval')", CHECK, "check"),
    a("open-etc-passwd", "return open('/etc/passwd').read()", CHECK, "check"),
    a("globals", "return globals()", CHECK, "check"),
    a("vars", "return vars()", CHECK, "check"),
    a("locals", "return locals()", CHECK, "check"),
    a("breakpoint", "breakpoint()", CHECK, "check"),
    a("cve-2026-55830-posonly-guard-shadow", "def g(_getattr_, /):\n    return 1\nreturn g(getattr)",
      CHECK, "check"),
    a("guard-rebind", "_getattr_ = getattr\nreturn 1", CHECK, "check"),
    a("cve-2025-22153-except-star", "try:\n    pass\nexcept* ValueError:\n    pass", CHECK, "check"),
    a("getattribute-override", "class A:\n    def __getattribute__(self, n):\n        return 1\nreturn A()",
      CHECK, "check"),
    a("del-time-bomb", "class A:\n    def __del__(self):\n        pass\nreturn A()", CHECK, "check"),
    # --- imports --------------------------------------------------------------------------
    a("import-os", "import os\nreturn os.getcwd()", CHECK, "check"),
    a("import-os-environ", "import os\nreturn dict(os.environ)", CHECK, "check"),
    a("import-importlib", "import importlib\nreturn importlib.import_module('os')", CHECK, "check"),
    a("import-sys-modules", "import sys\nreturn sys.modules['os']", CHECK, "check"),
    a("import-subprocess", "import subprocess\nreturn subprocess.run(['id'])", CHECK, "check"),
    a("import-os-system", "import os\nreturn os.system('id')", CHECK, "check"),
    a("import-os-fork-bomb", "import os\nwhile True:\n    os.fork()", CHECK, "check"),
    a("import-socket", "import socket\nreturn socket.create_connection(('1.1.1.1', 80))", CHECK, "check"),
    a("import-ctypes", "import ctypes\nreturn ctypes.CDLL(None)", CHECK, "check"),
    a("import-signal-handler", "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)", CHECK,
      "check"),
    a("relative-import", "from . import x\nreturn x", CHECK, "check"),
    a("import-sympy-parsing", "from sympy.parsing.sympy_parser import parse_expr\nreturn parse_expr('1')",
      CHECK, "check"),
    # --- reaching os/sys through allowed modules ----------------------------------------------
    a("statistics-sys", "import statistics\nreturn statistics.sys.modules['os']", CHECK, "check"),
    a("statistics-sys-computed", "import statistics\nm = statistics\nreturn getattr(m, 's' + 'ys')",
      VIOLATION, "guard", "module-attribute"),
    a("fractions-sys-modules", "import fractions\nreturn getattr(fractions, 'sy' + 's').modules",
      VIOLATION, "guard", "module-attribute"),
    a("re-enum-sys", "import re\nreturn getattr(re, 'en' + 'um').sys", VIOLATION, "guard", "module-attribute"),
    a("json-codecs-builtins", "import json\nreturn getattr(json, 'co' + 'decs').builtins", VIOLATION, "guard",
      "module-attribute"),
    a("collections-abc", "import collections\nreturn getattr(collections, 'a' + 'bc')", VIOLATION, "guard",
      "module-attribute"),
    a("functools-singledispatch", "import functools\nreturn getattr(functools, 'single' + 'dispatch')",
      VIOLATION, "guard", "module-attribute"),
    a("operator-attrgetter", "import operator\nreturn getattr(operator, 'attr' + 'getter')('__class__')(1)",
      VIOLATION, "guard", "module-attribute"),
    a("module-private-name", "import numpy as np\nreturn getattr(np, '_co' + 're')", VIOLATION, "guard",
      "private-attribute"),
    a("numpy-ctypeslib", "import numpy as np\nreturn np.ctypeslib.ctypes.CDLL(None)", CHECK, "check"),
    a("numpy-ctypeslib-computed", "import numpy as np\nreturn getattr(np, 'ctypes' + 'lib')", VIOLATION,
      "guard", "module-attribute"),
    a("numpy-f2py-os", "import numpy as np\nreturn getattr(np, 'f2' + 'py').os", VIOLATION, "guard",
      "module-attribute"),
    a("numpy-fromfile", "import numpy as np\nreturn getattr(np, 'from' + 'file')('/etc/passwd')", VIOLATION,
      "guard", "module-attribute"),
    a("numpy-load-pickle", "import numpy as np\nreturn getattr(np, 'lo' + 'ad')('x.npy', allow_pickle=True)",
      VIOLATION, "guard", "module-attribute"),
    a("numpy-lib-datasource", "import numpy as np\nreturn getattr(np, 'l' + 'ib').npyio.DataSource()",
      VIOLATION, "guard", "module-attribute"),
    a("ndarray-tofile", "import numpy as np\nnp.zeros(3).tofile('/tmp/fnforge-pwned')", VIOLATION, "guard",
      "denied-attribute"),
    a("ndarray-ctypes", "import numpy as np\nreturn np.zeros(3).ctypes.data", VIOLATION, "guard",
      "denied-attribute"),
    a("ndarray-resize-use-after-free", "import numpy as np\na = np.zeros(3)\nv = a[:]\n"
      "a.resize(10**6, refcheck=False)\nreturn v[0]", VIOLATION, "guard", "denied-attribute"),
    a("sympy-lambdify", "import sympy\nreturn getattr(sympy, 'lamb' + 'dify')([], '__import__(\"os\")')",
      VIOLATION, "guard", "module-attribute"),
    a("sympy-external-import-module", "import sympy\nreturn getattr(sympy, 'exter' + 'nal').import_module('os')",
      VIOLATION, "guard", "module-attribute"),
    a("sympy-var", "import sympy\nreturn getattr(sympy, 'v' + 'ar')('zz')", VIOLATION, "guard",
      "module-attribute"),
    # --- sympy's string eval ------------------------------------------------------------------
    a("sympify-import-os", "import sympy\nreturn sympy.sympify(\"__import__('os').getpid()\")", VIOLATION,
      "sympy-patch", "sympify"),
    a("sympify-attribute", "import sympy\nreturn sympy.sympify('x.__class__')", VIOLATION, "sympy-patch",
      "sympify"),
    a("sympy-S-string", "import sympy\nreturn sympy.S(\"__import__('os')\")", VIOLATION, "sympy-patch",
      "sympify"),
    a("sympy-solve-string", "import sympy\nreturn sympy.solve(\"__import__('os').system('id')\")",
      VIOLATION, "sympy-patch", "sympify"),
    a("sympify-dotted-builtin", "import sympy\nreturn sympy.sympify('(1).real')", VIOLATION, "sympy-patch",
      "sympify"),
    # --- sympy's code generation (lambdify, reached through nsolve and evalf) ---------------------
    a("sympy-codegen-function-name", "import sympy\nx = sympy.Symbol('x')\n"
      "F = sympy.Function(\"(__import__('builtins').print('pwned') or sin)\")\nreturn sympy.nsolve(F(x) - x, 1)",
      VIOLATION, "codegen", "sympy-codegen"),
    a("sympy-codegen-module-chain", "import sympy\nx = sympy.Symbol('x')\n"
      "F = sympy.Function('libmp.backend.sys.exit')\nreturn sympy.nsolve(F(x) - x, 1)", VIOLATION, "codegen",
      "sympy-codegen"),
    a("sympy-codegen-builtins-open", "import sympy\nx = sympy.Symbol('x')\n"
      "F = sympy.Function('builtins.open')\nreturn sympy.nsolve(F(x) - x, 1)", VIOLATION, "codegen",
      "sympy-codegen"),
    a("mpmath-identify-eval", "import sympy\nctx = sympy.Float(1.5).num.context\n"
      "return ctx.identify(1.5, ['().__class__'])", VIOLATION, "guard", "unsafe-value"),
    a("mpmath-context-computed", "import sympy\nreturn getattr(sympy.Float(1.5).num, 'con' + 'text').plot",
      VIOLATION, "guard", "unsafe-value"),
    # --- writes and cross-call poisoning --------------------------------------------------------
    a("json-dumps-poisoning", "import json\njson.dumps = lambda *a: 'PWNED'", VIOLATION, "guard", "write"),
    a("class-attribute-write", "class A:\n    pass\nA.x = 1", VIOLATION, "guard", "write"),
    a("function-attribute-write", "f.x = 1", VIOLATION, "guard", "write"),
    a("sympy-symbol-poisoning", "import sympy\ns = sympy.Symbol('s')\ns.name = 'evil'", VIOLATION, "guard",
      "write"),
    a("print-to-file-object", "print('x', file=[])", VIOLATION, "guard", "print-file"),
    a("swallowed-violation", "try:\n    getattr(1, '__cla' + 'ss__')\nexcept Exception:\n    pass\nreturn 1",
      VIOLATION, "guard", "private-attribute"),
    # --- resources ----------------------------------------------------------------------------
    a("infinite-loop", "while True:\n    pass", TIMEOUT, "timer"),
    a("loop-swallowing-timeout", "while True:\n    try:\n        while True:\n            pass\n"
      "    except BaseException:\n        pass", TIMEOUT, "timer"),
    a("memory-string-bomb", "return 'x' * 10**10", MEMORY, "rlimit"),
    a("memory-list-growth", "s = [0]\nwhile True:\n    s = s + s", (MEMORY, TIMEOUT), "rlimit"),
    a("memory-numpy-ones", "import numpy as np\nreturn np.ones((10**5, 10**5))", MEMORY, "rlimit"),
    a("huge-power", "return 10 ** 10 ** 10", (TIMEOUT, MEMORY), "timer"),
    a("deep-recursion", "def g(n):\n    return g(n + 1)\nreturn g(0)", FUNCTION, "python"),
    a("huge-int-to-str", "return str(10 ** 100000)", FUNCTION, "python"),
    a("regex-backtracking", "import re\nreturn re.match('(a+)+$', 'a' * 40 + 'b')", TIMEOUT, "timer"),
    a("print-gigabytes", "while True:\n    print('x' * 10**6)", TIMEOUT, "timer"),
    # --- static limits --------------------------------------------------------------------------
    Attack("oversized-source", fn("return 1") + "#" * 30_000 + "\n", CHECK, "check"),
    Attack("deep-nesting", fn("return " + "-" * 100_000 + "1"), CHECK, "check"),
    Attack("top-level-loop", "for i in range(10**9):\n    pass\n" + fn("return 1"), CHECK, "check"),
    Attack("async-def", "async def f():\n    return 1\n", CHECK, "check"),
]


def test_attack_table_has_at_least_forty_distinct_attacks() -> None:
    ids = [attack.id for attack in ATTACKS]
    assert len(set(ids)) == len(ids) >= 40


def assert_blocked(sandbox, attack: Attack) -> None:  # type: ignore[no-untyped-def]
    """The attack's call raises its error (and, for a violation, names its rule)."""
    with pytest.raises(attack.error) as caught:
        sandbox.call(RawSet(f=attack.source), "f")
    if attack.rule is not None:
        assert isinstance(caught.value, SandboxViolation) and caught.value.rule == attack.rule


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_attack_is_blocked_with_expected_error(sandbox, attack: Attack) -> None:
    assert_blocked(sandbox, attack)


def test_sympify_of_builtin_names_evaluates_to_inert_symbols(sandbox) -> None:
    result = sandbox.call(one("import sympy\nreturn sympy.sympify('exec(chr(49))')"), "f")
    assert result.value == "exec(chr(49))"


def test_sympy_subs_treats_code_strings_as_symbol_names(sandbox) -> None:
    code = "import sympy\nx = sympy.Symbol('x')\nreturn (x + 1).subs(\"__import__('os')\", 1)"
    assert sandbox.call(one(code), "f").value == "x + 1"


def test_hasattr_answers_for_private_names_without_returning_them(sandbox) -> None:
    assert sandbox.call(one("return [hasattr(x, '__len__'), hasattr(x, '__nope__')]", params="x=[1]"),
                        "f").value == [True, False]


def test_str_formatting_of_private_fields_is_refused_in_run_code(sandbox) -> None:
    with pytest.raises(SandboxViolation):
        sandbox.run_code(RawSet(), "'{0.__globals__}'.format(print)")


def test_json_is_not_poisoned_for_later_calls_after_the_attack_suite(sandbox) -> None:
    fs = one("import json\nreturn json.dumps({'a': [1, 2]})")
    assert {sandbox.call(fs, "f").value for _ in range(6)} == {'{"a": [1, 2]}'}


def test_pool_answers_normal_calls_correctly_after_the_attack_suite(sandbox) -> None:
    fs = RawSet(
        area=fn("return width * height", params="width, height", name="area"),
        solve=fn("import sympy\nx = sympy.Symbol('x')\nreturn sympy.solve(x**2 - n, x)", params="n",
                 name="solve"),
    )
    assert [sandbox.call(fs, "area", {"width": 3, "height": k}).value for k in range(8)] == [
        3 * k for k in range(8)]
    assert sandbox.call(fs, "solve", {"n": 9}).value == ["-3", "3"]
