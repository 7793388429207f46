"""Where learned functions run: a static gate, a guarded runtime, confined workers, a JSON boundary.

Four layers, each assuming the one above it has failed (DESIGN.md §4), one
subpackage each (internal: other packages use only the names below):

1. ``gate/`` — the static check (size, shape, imports, RestrictedPython 9;
   every call rewritten through the runtime's call guard);
2. ``runtime/`` — the guarded runtime: hooks that screen every value moving
   between sandboxed and library code, curated builtins, module proxies,
   plain-math ``sympify``, a check of sympy's generated code, numpy's
   raw-memory constructors closed, a read-only ``open`` over the call's
   in-memory files;
3. ``worker/`` — the OS boundary and the pool: worker processes in a private
   read-only root (mount namespace + ``pivot_root``), as an unprivileged uid,
   with no capabilities, no new privileges, a seccomp allow-list, Landlock,
   rlimits, an audit hook, timers and hard kills; workers die with their parent;
4. ``boundary/`` — the protocol (length-prefixed JSON with request ids,
   bounded decoding), the result encoder, the errors.

Example:
    >>> from fnforge.sandbox import Sandbox, SandboxPolicy, check
    >>> check("def f(x):\\n    return x + 1\\n", "f", SandboxPolicy())
    []
"""

from __future__ import annotations

from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.boundary._errors import (
    FunctionError,
    SandboxCheckError,
    SandboxCrash,
    SandboxError,
    SandboxIsolationError,
    SandboxMemoryError,
    SandboxTimeout,
    SandboxViolation,
    UnknownFunctionError,
)
from fnforge.sandbox.boundary._replies import CallResult
from fnforge.sandbox.gate._check import check
from fnforge.sandbox.worker._sandbox import Sandbox

__all__ = [
    "CallResult",
    "FunctionError",
    "Sandbox",
    "SandboxCheckError",
    "SandboxCrash",
    "SandboxError",
    "SandboxIsolationError",
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
