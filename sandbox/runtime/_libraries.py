"""What the guarded runtime needs from the allowed libraries, built once per worker.

numpy and sympy are imported only when the policy allows them. Decisions:

- sympy: mpmath contexts (``StandardBaseContext``: ``identify`` evaluates
  strings) and multipledispatch ``Dispatcher`` s (global registries such as
  ``Q.prime.handler``) are hidden; the ``Singleton`` metaclass is forbidden
  for sandbox classes (it registers them in ``sympy.S``); ``sympy.Function``
  may be subclassed (custom functions with ``eval``), no other sympy class;
  sympy's string entry points and code generation are patched
  (``_proxies.py``, ``_codegen.py``); mutable matrices are writable.
- numpy: arrays are writable through the array writer, ``numpy.ndarray`` is
  the guarded constructor (``_numpy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any  # Any: numpy and sympy, imported lazily

from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.runtime._hooks import Libraries
from fnforge.sandbox.runtime._monitor import Monitor
from fnforge.sandbox.runtime._numpy import ArrayWriter, guarded_ndarray
from fnforge.sandbox.runtime._proxies import patch_sympy, stdlib_overrides

__all__ = ["Loaded", "load_libraries"]


@dataclass(frozen=True, slots=True)
class Loaded:
    """The guards' view of the libraries, the proxies' overrides and what the encoder must know."""

    libraries: Libraries
    overrides: dict[str, dict[str, Any]]
    numpy: Any = None
    sympy_basic: Any = None


def load_libraries(policy: SandboxPolicy, monitor: Monitor) -> Loaded:
    """Import the allowed libraries and describe them for the guards (see the module docstring)."""
    overrides = stdlib_overrides(monitor)
    numpy: Any = None
    basic: Any = None
    writable: tuple[type, ...] = ()
    hidden: tuple[type, ...] = ()
    forbidden: tuple[type, ...] = ()
    bases: tuple[type, ...] = ()
    arrays: Any = None
    if "sympy" in policy.allowed_modules:
        import mpmath  # type: ignore[import-untyped]
        import sympy  # type: ignore[import-untyped]
        from sympy.core.singleton import Singleton  # type: ignore[import-untyped]
        from sympy.multipledispatch import Dispatcher  # type: ignore[import-untyped]

        hidden = (mpmath.ctx_base.StandardBaseContext, Dispatcher)
        forbidden = (Singleton,)
        bases = (sympy.Function,)
        overrides.update(patch_sympy(monitor))
        writable += (sympy.MutableDenseMatrix,)
        basic = sympy.Basic
    if "numpy" in policy.allowed_modules:
        import numpy as numpy_module

        numpy = numpy_module
        writable += (numpy.ndarray,)
        arrays = (guarded_ndarray(numpy, monitor), ArrayWriter)
        overrides["numpy"] = {"ndarray": arrays[0]}
    libraries = Libraries(numpy=numpy, writable=writable, hidden=hidden, forbidden=forbidden, bases=bases,
                          arrays=arrays)
    return Loaded(libraries=libraries, overrides=overrides, numpy=numpy, sympy_basic=basic)
