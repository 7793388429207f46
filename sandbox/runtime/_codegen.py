"""Guard sympy's code generation, which sandboxed code reaches without naming it.

``lambdify`` is hidden, but sympy calls it internally (``nsolve``,
``Sum(...).evalf()``, ``CRootOf``, number fields). It prints an expression
as Python source and ``exec``s it with the real builtins, and the printed
source contains the *names* of the expression's objects verbatim:
``Function("(__import__('os').system('id') or sin)")(x)`` inside ``nsolve``
runs arbitrary code outside RestrictedPython. (Found while building this
module; it is row ``sympy-codegen-*`` of ``tests/sandbox/test_escapes.py``.)

:func:`install` replaces the ``compile`` and ``exec`` that
``sympy.utilities.lambdify`` looks up in its module globals. Each generated
function's source is parsed and checked against the namespace it will run
in, before it is executed. Allowed:

- one ``def``; expressions, ``return``, assignments, ``lambda`` and
  generator expressions; no string constants, imports, classes, ``global``;
- names bound inside the code (parameters, assignment targets), and free
  names whose value in the namespace is a number, an allow-listed numpy
  object (``_modules.EXPOSED``), an mpmath/math/cmath function (not
  plotting or ``identify``), an exposed sympy object, a safe builtin, or a
  function the sandboxed code defined itself;
- attributes: ``builtins.<safe builtin>``, an exposed numpy name (including
  allowed sub-proxies), or ``T``/``dot``/``real``/``imag``/``conjugate``/
  ``transpose``/``reshape``/``shape`` of a bound value; never a ``_`` name.

Anything else is a violation (rule ``sympy-codegen``) and nothing runs.
"""

from __future__ import annotations

import ast
import builtins
import types
from typing import Any  # Any: objects of learned code, checked at run time rather than typed

from fnforge.sandbox.runtime._modules import EXPOSED, SAFE_BUILTINS
from fnforge.sandbox.runtime._monitor import Monitor

__all__ = ["install"]

_NODES = (ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.Expr,
          ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.comprehension, ast.IfExp, ast.BinOp,
          ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.keyword, ast.Name, ast.Attribute,
          ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Constant, ast.Starred, ast.operator,
          ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context)
_VALUE_ATTRIBUTES = frozenset({"T", "dot", "real", "imag", "conjugate", "transpose", "reshape", "shape"})
_MPMATH_DENIED = frozenset({"plot", "cplot", "splot", "identify", "findpoly", "pslq"})
_MATH_MODULES = frozenset({"math", "cmath"})
_NUMPY_MODULES = frozenset({"numpy", "numpy.linalg", "numpy.fft"})


def install(monitor: Monitor) -> None:
    """Patch ``sympy.utilities.lambdify`` so generated code is checked before it runs."""
    import importlib

    import numpy

    # Not ``from sympy.utilities import lambdify``: that name is the function.
    module = importlib.import_module("sympy.utilities.lambdify")

    allowed = _Allowed(numpy, monitor)
    sources: dict[str, str] = {}

    def checked_compile(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str) and str(filename).startswith("<lambdifygenerated"):
            sources[str(filename)] = source
        return builtins.compile(source, filename, mode, *args, **kwargs)

    def checked_exec(code: Any, namespace: Any = None, local: Any = None) -> None:
        if isinstance(code, types.CodeType) and code.co_filename in sources:
            problem = _problem(sources.pop(code.co_filename), namespace or {}, allowed)
            if problem is not None:
                monitor.refuse("sympy-codegen", f"sympy generated code that is not allowed to run ({problem})")
        builtins.exec(code, namespace, local)

    # lambdify looks ``compile`` and ``exec`` up in its module globals first.
    setattr(module, "compile", checked_compile)
    setattr(module, "exec", checked_exec)


class _Allowed:
    """Which namespace values generated code may use."""

    def __init__(self, numpy: Any, monitor: Monitor) -> None:
        self.monitor = monitor
        self.numpy: set[int] = set()
        for name, values in (("numpy", EXPOSED["numpy"]), ("numpy.linalg", EXPOSED["numpy.linalg"]),
                             ("numpy.fft", EXPOSED["numpy.fft"])):
            owner = numpy
            for part in name.split(".")[1:]:
                owner = getattr(owner, part)
            self.numpy.update(id(getattr(owner, n)) for n in values if hasattr(owner, n))
        self.builtins = {id(getattr(builtins, n)) for n in SAFE_BUILTINS if hasattr(builtins, n)}

    def value(self, value: Any) -> bool:
        if isinstance(value, (int, float, complex, bool)) or value is None:
            return True
        if id(value) in self.numpy or id(value) in self.builtins:
            return True
        module = getattr(value, "__module__", None) or ""
        name = getattr(value, "__name__", "")
        root = module.split(".")[0]
        if isinstance(value, types.ModuleType):
            return False
        if root == "mpmath" or type(value).__module__.split(".")[0] == "mpmath":
            return name not in _MPMATH_DENIED
        if root in _MATH_MODULES:
            return True
        if root == "sympy":
            return name in EXPOSED["sympy"]
        if self.monitor.is_sandbox_function(value):
            return True  # defined by sandboxed code, already guarded
        return False


def _problem(source: str, namespace: dict[str, Any], allowed: _Allowed) -> str | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "unparsable source"
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return "unexpected shape"
    nodes = list(ast.walk(tree))
    bound = {node.arg for node in nodes if isinstance(node, ast.arg)}
    bound |= {node.id for node in nodes if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)}
    roots = {id(node.value) for node in nodes if isinstance(node, ast.Attribute)}
    for node in nodes:
        if not isinstance(node, _NODES) or (isinstance(node, ast.FunctionDef) and node is not tree.body[0]):
            return f"{type(node).__name__} node"
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            return "a string constant"
        if isinstance(node, ast.Attribute):
            problem = _attribute(node, namespace, bound, allowed)
            if problem is not None:
                return problem
        elif isinstance(node, ast.Name) and node.id not in bound and id(node) not in roots:
            value = namespace[node.id] if node.id in namespace else builtins.__dict__.get(node.id)
            if "__" in node.id or not allowed.value(value):
                return f"name {node.id!r}"
    return None


def _attribute(node: ast.Attribute, namespace: dict[str, Any], bound: set[str], allowed: _Allowed) -> str | None:
    """Check one attribute chain ``root.a.b`` from its root, step by step."""
    chain: list[str] = []
    owner: ast.expr = node
    while isinstance(owner, ast.Attribute):
        chain.insert(0, owner.attr)
        owner = owner.value
    if any(attr.startswith("_") for attr in chain):
        return f"attribute {'.'.join(chain)!r}"
    if not isinstance(owner, ast.Name) or owner.id in bound:
        bad = [attr for attr in chain if attr not in _VALUE_ATTRIBUTES]
        return f"attribute {bad[0]!r}" if bad else None
    value = namespace.get(owner.id, builtins.__dict__.get(owner.id))
    if value is builtins:
        return None if len(chain) == 1 and chain[0] in SAFE_BUILTINS else f"builtins.{'.'.join(chain)}"
    for attr in chain:
        if not (isinstance(value, types.ModuleType) and value.__name__ in _NUMPY_MODULES):
            return f"attribute {owner.id}.{'.'.join(chain)}"
        value = getattr(value, attr, None)
        if not (id(value) in allowed.numpy or
                (isinstance(value, types.ModuleType) and value.__name__ in _NUMPY_MODULES)):
            return f"attribute {owner.id}.{'.'.join(chain)}"
    return None
