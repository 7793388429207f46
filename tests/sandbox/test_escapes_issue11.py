"""Issue 11, "a boundary that holds after the guards fall": each finding as a class, with variants.

Rows in ``ATTACKS`` run in a worker like ``test_escapes.py``; ``layer``
adds ``class`` (library classes cannot be subclassed), ``screen`` (the value
screen of ``runtime/_screen.py``), ``numpy-guard`` and ``worker`` (the
worker's timer and outcome rules). The value screen is also proved
in-process on every path a value takes between library and sandboxed code,
with every kind of object that must never cross. What escaped code can do
inside the OS layers is ``test_post_escape.py``; the parent's side of the
protocol is ``test_protocol.py``.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from fnforge.sandbox import FunctionError, SandboxMemoryError, SandboxPolicy, SandboxTimeout, SandboxViolation
from fnforge.sandbox.runtime._monitor import PolicyViolation
from fnforge.sandbox.runtime._runtime import Runtime
from tests.sandbox.conftest import RawSet, one
from tests.sandbox.test_escapes import CHECK, VIOLATION, Attack, a, assert_blocked

REPRODUCER = '''import sympy
import json

def grab_builtins():
    class S(str):
        def keys(self):
            return []
    class P(sympy.StrPrinter, str):
        printmethod = '__getattribute__'
    def pick(d, key):
        for k, v in d.items():
            if k == key:
                return v
    g = P(S('__globals__')).parenthesize(json.dumps, 0)
    B = pick(g, '__builtins__')
    rg, imp = pick(B, 'getattr'), pick(B, '__import__')
    return rg(imp('os'), 'getpid')()
'''

ATTACKS = [
    # --- finding 1: library code reflecting on a name the sandbox chose (subclassing library classes) ---
    a("printer-subclass-printmethod-getattribute", "import sympy\nclass P(sympy.StrPrinter):\n"
      "    printmethod = '__getattribute__'\nreturn 1", VIOLATION, "class", "class"),
    a("printer-subclass-through-type", "import sympy\nclass P(type(sympy.StrPrinter())):\n"
      "    printmethod = '__reduce_ex__'\nreturn 1", VIOLATION, "class", "class"),
    a("printer-subclass-printmethod-globals", "import sympy, json\nclass P(sympy.StrPrinter, str):\n"
      "    printmethod = '__init__'\nreturn P('x').parenthesize(json.dumps, 0)", VIOLATION, "class", "class"),
    a("library-exception-subclass", "import json\nclass E(json.JSONDecodeError):\n    pass\nreturn 1", VIOLATION,
      "class", "class"),
    a("fraction-subclass", "import fractions\nclass F(fractions.Fraction):\n    pass\nreturn 1", VIOLATION,
      "class", "class"),
    a("symbol-subclass", "import sympy\nclass X(sympy.Symbol):\n    pass\nreturn 1", VIOLATION, "class", "class"),
    # --- finding 4: numpy over raw memory --------------------------------------------------------------
    a("ndarray-negative-offset", "import numpy as np\n"
      "return np.ndarray((16,), np.uint8, buffer=bytearray(16), offset=-16).tolist()", VIOLATION, "numpy-guard",
      "numpy-memory"),
    a("ndarray-offset-into-buffer", "import numpy as np\n"
      "return np.ndarray((8,), np.uint8, buffer=bytearray(16), offset=8).tolist()", VIOLATION, "numpy-guard",
      "numpy-memory"),
    a("ndarray-zero-strides", "import numpy as np\nreturn np.ndarray((4,), np.int64, strides=(0,)).tolist()",
      VIOLATION, "numpy-guard", "numpy-memory"),
    a("ndarray-buffer-bytes-via-type", "import numpy as np\nA = type(np.zeros(1))\n"
      "return A((4,), np.uint8, buffer=b'abcd').tolist()", VIOLATION, "numpy-guard", "numpy-memory"),
    a("ndarray-offset-keyword-only", "import numpy as np\nreturn np.ndarray((2,), np.uint8, offset=4).tolist()",
      VIOLATION, "numpy-guard", "numpy-memory"),
    a("frombuffer", "import numpy as np\nreturn np.frombuffer(bytearray(8), dtype=np.uint8)", CHECK, "check"),
    a("frombuffer-computed", "import numpy as np\nreturn getattr(np, 'from' + 'buffer')(bytearray(8))", VIOLATION,
      "guard", "module-attribute"),
    a("stride-tricks-computed", "import numpy as np\nreturn getattr(np, 'l' + 'ib').stride_tricks.as_strided",
      VIOLATION, "guard", "module-attribute"),
    a("dtype-negative-field-offset", "import numpy as np\n"
      "d = np.dtype({'names': ['a'], 'formats': ['i8'], 'offsets': [-8], 'itemsize': 8})\n"
      "return np.zeros(1, dtype=d).tolist()", FunctionError, "python"),
    # --- finding 5: outcomes the function can fake ------------------------------------------------------
    a("fake-memory-error-with-message", "raise MemoryError('fake')", FunctionError, "worker"),
    a("fake-memory-error-bare", "raise MemoryError", FunctionError, "worker"),
    a("fake-memory-error-subclass", "class Boom(MemoryError):\n    pass\nraise Boom()", FunctionError, "worker"),
    a("fake-memory-error-from-helper", "def g():\n    raise MemoryError()\ntry:\n    g()\nexcept MemoryError:\n"
      "    raise", FunctionError, "worker"),
    a("timeout-swallowed-then-return", "try:\n    while True:\n        pass\nexcept BaseException:\n    return 'done'",
      SandboxTimeout, "worker"),
    a("timeout-swallowed-in-helper", "def spin():\n    try:\n        while True:\n            pass\n"
      "    except BaseException:\n        return 0\nreturn spin() + 1", SandboxTimeout, "worker"),
]


def test_reproducer_of_the_issue_does_not_reach_real_builtins(sandbox) -> None:
    with pytest.raises(SandboxViolation) as caught:
        sandbox.call(RawSet(grab_builtins=REPRODUCER), "grab_builtins")
    assert caught.value.rule == "class"


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.id for attack in ATTACKS])
def test_attack_is_blocked_with_expected_error(sandbox, attack: Attack) -> None:
    assert_blocked(sandbox, attack)


def test_fake_memory_error_reports_the_functions_own_exception(sandbox) -> None:
    with pytest.raises(FunctionError) as caught:
        sandbox.call(one("raise MemoryError('fake')"), "f")
    assert (caught.value.exc_type, caught.value.message) == ("MemoryError", "fake")


def test_real_memory_exhaustion_is_still_a_memory_error(sandbox) -> None:
    with pytest.raises(SandboxMemoryError):
        sandbox.call(one("import numpy as np\nreturn np.ones((10**5, 10**5))"), "f")


@pytest.mark.parametrize("base", ["dict", "list", "Exception", "ValueError", "collections.Counter",
                                  "collections.defaultdict", "sympy.Function", "Point"])
def test_classes_may_still_subclass_builtins_collections_sympy_function_and_namedtuples(sandbox, base: str) -> None:
    body = ("import collections, sympy\nPoint = collections.namedtuple('Point', 'x y')\n"
            f"class C({base}):\n    def tag(self):\n        return 'ok'\nreturn C.tag(None)")
    assert sandbox.call(one(body), "f").value == "ok"


# --- the value screen on every path, in-process ----------------------------------------------------


class Holder:
    """A library-like object: holds a value the way library state would."""

    def __init__(self, value: object) -> None:
        self.value = value


def _frame() -> Any:
    return sys._getframe()


def _traceback() -> Any:
    try:
        raise ValueError
    except ValueError as exc:
        return exc.__traceback__


def _cell() -> Any:
    hidden = 1
    return (lambda: hidden).__closure__[0]  # type: ignore[index]


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime(SandboxPolicy(allowed_modules=("json", "math")))


BAD: dict[str, Callable[[Runtime], object]] = {
    "module-globals": lambda rt: json.__dict__,
    "real-builtins": lambda rt: builtins.__dict__,
    "sandbox-globals": lambda rt: dict(rt.template),
    "eval": lambda rt: builtins.eval,
    "real-import": lambda rt: builtins.__import__,
    "real-getattr": lambda rt: builtins.getattr,
    "module": lambda rt: os,
    "os-function": lambda rt: os.system,
    "io-open": lambda rt: __import__("io").open,
    "frame": lambda rt: _frame(),
    "code": lambda rt: _frame.__code__,
    "traceback": lambda rt: _traceback(),
    "cell": lambda rt: _cell(),
    "getattribute-wrapper": lambda rt: json.dumps.__getattribute__,
    "partial-eval": lambda rt: functools.partial(eval, "1"),
    "type": lambda rt: type,
    "object": lambda rt: object,
    "monitor": lambda rt: rt.monitor,
    "monitor-method": lambda rt: rt.monitor.refuse,
    "runtime": lambda rt: rt,
    "runtime-class": lambda rt: Runtime,
}
SPEC = {"childs": (), "min_len": 2, "star": False}
PATHS: dict[str, Callable[[dict[str, Any], object], object]] = {
    "attribute-value": lambda ns, bad: ns["_getattr_"](Holder(bad), "value"),
    "attribute-owner": lambda ns, bad: ns["_getattr_"](bad, "keys"),
    "item": lambda ns, bad: ns["_getitem_"]([bad], 0),
    "iteration": lambda ns, bad: list(ns["_getiter_"]([1, bad])),
    "iteration-of-a-generator": lambda ns, bad: list(ns["_getiter_"](x for x in [bad])),
    "unpacking": lambda ns, bad: ns["_unpack_sequence_"]((1, bad), SPEC),
    "unpacking-in-a-loop": lambda ns, bad: list(ns["_iter_unpack_sequence_"]([(1, bad)], SPEC)),
    "call-result": lambda ns, bad: ns["_call_"](lambda: bad)(),
    "call-argument": lambda ns, bad: ns["_call_"](functools.reduce)(lambda x, y: y, [1], bad),
    "call-keyword-argument": lambda ns, bad: ns["_call_"](sorted)([1], key=bad),
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("value", sorted(BAD))
def test_screen_refuses_what_must_never_cross_on_every_path(runtime: Runtime, value: str, path: str) -> None:
    with pytest.raises(PolicyViolation) as caught:
        PATHS[path](runtime.template, BAD[value](runtime))
    assert caught.value.rule == "unsafe-value"
    runtime.monitor.reset()


@pytest.mark.parametrize("value", ["eval", "real-getattr", "os-function", "getattribute-wrapper", "partial-eval",
                                   "monitor-method", "runtime-class"])
def test_screen_refuses_to_call_what_must_never_be_called(runtime: Runtime, value: str) -> None:
    with pytest.raises(PolicyViolation):
        runtime.template["_call_"](BAD[value](runtime))
    runtime.monitor.reset()


@pytest.mark.parametrize("value", ["module-globals", "real-builtins", "sandbox-globals"])
def test_write_guard_refuses_a_namespace(runtime: Runtime, value: str) -> None:
    with pytest.raises(PolicyViolation) as caught:
        runtime.template["_write_"](BAD[value](runtime))
    assert caught.value.rule in ("write", "unsafe-value")
    runtime.monitor.reset()


ORDINARY = {"attribute-value": 7, "item": 7, "iteration": [1, 7], "iteration-of-a-generator": [7],
            "unpacking": (1, 7), "unpacking-in-a-loop": [(1, 7)], "call-result": 7}


@pytest.mark.parametrize("path", sorted(ORDINARY))
def test_screen_lets_ordinary_values_through_every_path(runtime: Runtime, path: str) -> None:
    assert PATHS[path](runtime.template, 7) == ORDINARY[path]
