"""The check of sympy's generated code (in-process units; nothing is patched here)."""

from __future__ import annotations

import builtins
import math

import mpmath  # type: ignore[import-untyped]
import numpy
import pytest

from fnforge.sandbox.runtime._codegen import _Allowed, _problem
from fnforge.sandbox.runtime._monitor import Monitor

ALLOWED = _Allowed(numpy, Monitor())
MPMATH = {name: getattr(mpmath, name) for name in dir(mpmath) if not name.startswith("_")}
NUMPY = {name: getattr(numpy, name) for name in dir(numpy) if not name.startswith("_")}


def ns(base: dict, **extra: object) -> dict:
    return {**base, "numpy": numpy, "builtins": builtins, "range": range, **extra}


@pytest.mark.parametrize(("source", "namespace"), [
    ("def _lambdifygenerated(x):\n    return sqrt(x) + exp(x)*sin(x)\n", ns(MPMATH)),
    ("def _lambdifygenerated(x, n):\n    return (builtins.sum(x**n/factorial(n) for n in range(0, 5+1)))\n",
     ns(MPMATH)),
    ("def _lambdifygenerated(x):\n    return quad(lambda y: y*sin(x), (0, 1))\n", ns(MPMATH)),
    ("def _lambdifygenerated(x):\n    return select([greater(x, 0),True], [x,-x], default=nan)\n", ns(NUMPY)),
    ("def _lambdifygenerated(M):\n    return numpy.linalg.inv(M) + (M.T).dot(M)\n", ns(NUMPY)),
    ("def _lambdifygenerated(_Dummy_38):\n    x0 = _Dummy_38**2\n    return x0 + x0\n", ns({"math": math})),
])
def test_generated_code_of_ordinary_expressions_passes(source: str, namespace: dict) -> None:
    assert _problem(source, namespace, ALLOWED) is None


@pytest.mark.parametrize(("source", "namespace", "reason"), [
    ("def _lambdifygenerated(x):\n    return __import__('os').system('id')\n", ns(MPMATH), "attribute 'system'"),
    ("def _lambdifygenerated(x):\n    return sin('1')\n", ns(MPMATH), "a string constant"),
    ("def _lambdifygenerated(x):\n    return (builtins.print(1) or sin)(x)\n", ns(MPMATH), "builtins.print"),
    ("def _lambdifygenerated(x):\n    return libmp.backend.sys.exit(x)\n", ns(MPMATH),
     "attribute libmp.backend.sys.exit"),
    ("def _lambdifygenerated(x):\n    return load(x)\n", ns(NUMPY), "name 'load'"),
    ("def _lambdifygenerated(x):\n    return numpy.fromfile(x)\n", ns(NUMPY), "attribute numpy.fromfile"),
    ("def _lambdifygenerated(x):\n    return x.tofile(x)\n", ns(NUMPY), "attribute 'tofile'"),
    ("def _lambdifygenerated(x):\n    return (1).__class__\n", ns(MPMATH), "attribute '__class__'"),
    ("def _lambdifygenerated(x):\n    import os\n    return x\n", ns(MPMATH), "Import node"),
    ("def _lambdifygenerated(x):\n    return identify(x)\n", ns(MPMATH), "name 'identify'"),
    ("x = 1\ndef _lambdifygenerated(x):\n    return x\n", ns(MPMATH), "unexpected shape"),
])
def test_generated_code_that_escapes_is_refused(source: str, namespace: dict, reason: str) -> None:
    assert _problem(source, namespace, ALLOWED) == reason
