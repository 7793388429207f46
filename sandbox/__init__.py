"""Where learned functions run: a static check, a guarded runtime and locked-down workers.

Layers, each assuming the one above it has failed (DESIGN.md §4):

1. :func:`check` — the static gate (size, shape, imports, RestrictedPython 9);
2. the guarded runtime — RestrictedPython hooks, curated builtins, module
   proxies, plain-math ``sympify``, a check of sympy's generated code and a
   read-only ``open`` over the call's in-memory files (``_guards``,
   ``_proxies``, ``_modules``, ``_codegen``, ``_files``);
3. worker processes — network namespace, Landlock, seccomp, rlimits, dropped
   capabilities, an audit hook, timers and hard kills (``_worker``, ``_oslayer``,
   ``_audit``, ``_pool``);
4. the boundary — JSON only, capped (``_boundary``, ``_protocol``).

Example:
    >>> from sandbox import Sandbox, SandboxPolicy, check
    >>> check("def f(x):\\n    return x + 1\\n", "f", SandboxPolicy())
    []
"""

from __future__ import annotations

from fnforge.sandbox._check import check
from fnforge.sandbox._exceptions import (
    FunctionError,
    SandboxCheckError,
    SandboxCrash,
    SandboxError,
    SandboxMemoryError,
    SandboxTimeout,
    SandboxViolation,
    UnknownFunctionError,
)
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox._pool import CallResult, Sandbox

__all__ = [
    "CallResult",
    "FunctionError",
    "Sandbox",
    "SandboxCheckError",
    "SandboxCrash",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxPolicy",
    "SandboxTimeout",
    "SandboxViolation",
    "UnknownFunctionError",
    "check",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = "fnforge.sandbox"
del _name, _obj
