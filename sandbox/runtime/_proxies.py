"""Curated module proxies, the guarded ``__import__`` and plain-math ``sympify``.

Sandboxed code never holds a real module: ``import numpy as np`` binds a
:class:`ModuleProxy` whose attributes are exactly the names in
``_modules.EXPOSED`` (looked up once, at worker start). A proxy is immutable,
holds no reference to its module, and raises fresh errors: an allowed name
that is missing says so as ``AttributeError``; a name the real module has but
the proxy hides is a violation whose message says why (``numpy.fromfile is
not available in the sandbox (file I/O)``).

sympy evaluates strings with Python's ``eval`` in many places (``sympify``,
``S``, ``solve("...")``, ``expr.subs("...")``). :func:`patch_sympy` replaces
``sympy.parsing.sympy_parser.parse_expr`` — which every one of them imports at
call time — with a version that accepts only plain math text (letters, digits,
spaces, ``+-*/^()[],.<>=!%&|~``; no quotes, no ``__``, no leading ``_``, no
``.name``) and evaluates it with a namespace of the exposed sympy names and
empty ``__builtins__``. ``eval_expr`` is patched to empty ``__builtins__``
again, in case any other caller reaches it.

Shared state: a proxy serves module-level ``dict``/``list``/``set`` values
frozen (``MappingProxyType``/``tuple``/``frozenset``), so ``np.typecodes``
or ``sympy.FU`` cannot be changed for later calls. ``functools.wraps`` and
``total_ordering`` are served as versions that only touch sandbox functions
and classes: the real ``wraps(w, assigned=..., updated=...)`` is an unguarded
``getattr``/``setattr`` of any names on any objects (``updated=
('__builtins__',)`` merged the real builtins into the sandbox's, for every
later call in the worker). sympy's ``Function('f', **attrs)`` may not set
``_`` attributes (they become class attributes such as ``__repr__`` or
lambdify's ``_imp_``), nor pass ``bases`` or ``__dict__``.

The guarded ``__import__`` also serves imports made *by C code* running on
behalf of sandboxed code: ``PyImport_Import`` looks ``__import__`` up in the
current (sandboxed) frame's builtins, e.g. ``ndarray.sum`` importing
``numpy._core._methods`` or ``datetime.strptime`` importing ``_strptime``.
Those calls pass ``fromlist`` as a list, which bytecode ``import`` never does
(``None`` or a tuple), and sandboxed code cannot call ``__import__`` itself
(``_`` names do not compile), so list-``fromlist`` calls go to the real
import and their module is handed back to the C caller only.
"""

from __future__ import annotations

import builtins
import collections
import functools
import importlib
import re
import types
from collections.abc import Callable, Iterable
from typing import Any  # Any: objects of learned code, checked at run time rather than typed

from fnforge.sandbox.runtime._codegen import install as install_codegen_guard
from fnforge.sandbox.runtime._monitor import Monitor
from fnforge.sandbox.runtime._modules import DENIED, EXPOSED, SUBMODULES

__all__ = ["ModuleProxy", "build_proxies", "make_importer", "patch_sympy", "plain_math", "stdlib_overrides"]

_MATH_TEXT = re.compile(r"[A-Za-z0-9_\s+\-*/^()\[\],.<>=!%&|~]*")
_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z_]")
_PRIVATE = re.compile(r"(?<![A-Za-z0-9_])_|__")
_MAX_MATH_TEXT = 10_000


class ModuleProxy:
    """A read-only view of the allow-listed names of one module."""

    __slots__ = ("_fnforge_names", "_fnforge_hidden", "_fnforge_module", "_fnforge_refuse")

    def __init__(self, module: str, names: dict[str, Any], hidden: Iterable[str],
                 refuse: Callable[[str, str], Any]) -> None:
        object.__setattr__(self, "_fnforge_module", module)
        object.__setattr__(self, "_fnforge_names", dict(names))
        object.__setattr__(self, "_fnforge_hidden", frozenset(hidden))
        object.__setattr__(self, "_fnforge_refuse", refuse)

    def __getattr__(self, attr: str) -> Any:
        names = object.__getattribute__(self, "_fnforge_names")
        if attr in names:
            return names[attr]
        module = object.__getattribute__(self, "_fnforge_module")
        if attr in object.__getattribute__(self, "_fnforge_hidden") or attr.startswith("_"):
            why = DENIED.get(f"{module}.{attr}", "not on the sandbox allow-list")
            refuse = object.__getattribute__(self, "_fnforge_refuse")
            refuse("module-attribute", f"{module}.{attr} is not available in the sandbox ({why})")
        raise AttributeError(f"module {module!r} has no attribute {attr!r}")

    def __setattr__(self, attr: str, value: Any) -> None:
        raise TypeError("sandbox modules are read-only")

    def __delattr__(self, attr: str) -> None:
        raise TypeError("sandbox modules are read-only")

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_fnforge_names"))

    def __repr__(self) -> str:
        return f"<sandbox module {object.__getattribute__(self, '_fnforge_module')!r}>"


def build_proxies(allowed: Iterable[str], monitor: Monitor,
                  overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, ModuleProxy]:
    """Import every allowed module and wrap it; sub-proxies first so parents can expose them."""
    overrides = overrides or {}
    proxies: dict[str, ModuleProxy] = {}
    for module in sorted(allowed, key=lambda m: -m.count(".")):
        real = importlib.import_module(module)
        names = {name: _frozen(getattr(real, name)) for name in EXPOSED[module]}
        names.update(overrides.get(module, {}))
        for sub in SUBMODULES.get(module, ()):
            if f"{module}.{sub}" in proxies:
                names[sub] = proxies[f"{module}.{sub}"]
        hidden = {n for n in dir(real) if n not in names}
        proxies[module] = ModuleProxy(module, names, hidden, monitor.refuse)
    proxies["__future__"] = ModuleProxy("__future__", {"annotations": True}, (), monitor.refuse)
    return proxies


def _frozen(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return types.MappingProxyType(dict(value))
    if kind is list:
        return tuple(value)
    if kind is set:
        return frozenset(value)
    return value


def stdlib_overrides(monitor: Monitor) -> dict[str, dict[str, Any]]:
    """Proxy entries that replace stdlib helpers able to write attributes of any object."""

    def wraps(wrapped: Any, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        if args or kwargs:
            monitor.refuse("write", "functools.wraps takes only the wrapped function in the sandbox")
        return _Wraps(wrapped, monitor)

    def total_ordering(cls: Any) -> Any:
        if not monitor.is_sandbox_class(cls):
            monitor.refuse("write", "functools.total_ordering can only decorate classes defined in the sandbox")
        return functools.total_ordering(cls)

    def namedtuple(typename: Any, field_names: Any, *, rename: bool = False, defaults: Any = None) -> type:
        # ``module=`` spares namedtuple its ``sys._getframe`` (the audit hook refuses frames);
        # the class counts as the sandbox's own, so it may be subclassed.
        make: Callable[..., type] = collections.namedtuple  # the typename is a runtime value, not a literal
        cls = make(typename, field_names, rename=rename, defaults=defaults, module="sandboxed")
        monitor.classes.add(cls)
        return cls

    overrides: dict[str, dict[str, Any]] = {"functools": {"wraps": wraps, "total_ordering": total_ordering},
                 "collections": {"namedtuple": namedtuple}}
    monitor.exposed.update(f for table in overrides.values() for f in table.values())
    return overrides


class _Wraps:
    """``functools.wraps(wrapped)``: copies the name, qualified name, module and docstring only."""

    __slots__ = ("_wrapped", "_monitor")

    def __init__(self, wrapped: Any, monitor: Monitor) -> None:
        self._wrapped = wrapped
        self._monitor = monitor

    def __call__(self, wrapper: Any) -> Any:
        if not self._monitor.is_sandbox_function(wrapper):
            self._monitor.refuse("write", "functools.wraps can only decorate functions defined in the sandbox")
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            value = getattr(self._wrapped, attr, None)
            if type(value) is str or (value is None and attr == "__doc__"):
                setattr(wrapper, attr, value)
        return wrapper


def make_importer(proxies: dict[str, ModuleProxy], monitor: Monitor) -> Callable[..., Any]:
    """The ``__import__`` sandboxed code sees: proxies of allowed modules only."""
    shown = ", ".join(sorted(m for m in proxies if m != "__future__"))

    def guarded_import(name: str, globals: Any = None, locals: Any = None,
                       fromlist: Any = (), level: int = 0) -> Any:
        if type(fromlist) is list and level == 0:
            # PyImport_Import from C (numpy's ndarray.sum, datetime.strptime...) finds
            # ``__import__`` in the calling sandbox frame's builtins and passes a list;
            # bytecode ``import`` passes None or a tuple. The module goes back to C.
            return builtins.__import__(name, globals, locals, fromlist, level)
        if level != 0:
            monitor.refuse("import", "relative imports are not allowed")
        if not isinstance(name, str) or name not in proxies:
            monitor.refuse("import", f"import of {name!r} is not allowed; allowed modules: {shown}")
        if fromlist:
            return proxies[name]
        return proxies[name.split(".")[0]]

    return guarded_import


def plain_math(text: str, monitor: Monitor) -> str:
    """Return ``text`` if it is plain math; otherwise record and raise a violation."""
    if len(text) > _MAX_MATH_TEXT:
        monitor.refuse("sympify", f"math text is limited to {_MAX_MATH_TEXT} characters")
    if not _MATH_TEXT.fullmatch(text) or _ATTRIBUTE.search(text) or _PRIVATE.search(text):
        monitor.refuse("sympify", "sympify accepts only plain math text such as '2*x**2 + 1' "
                                  "(no quotes, attributes or names starting with '_')")
    return text


def patch_sympy(monitor: Monitor) -> dict[str, Any]:
    """Make every sympy string entry point plain-math-only; return the proxy overrides."""
    import sympy  # type: ignore[import-untyped]
    from sympy.parsing import sympy_parser  # type: ignore[import-untyped]

    namespace: dict[str, Any] = {name: getattr(sympy, name) for name in EXPOSED["sympy"]
                                 if name not in ("sympify", "S")}
    namespace.update(max=sympy.Max, min=sympy.Min)
    original_parse = sympy_parser.parse_expr
    original_eval = sympy_parser.eval_expr

    def parse_expr(s: str, local_dict: Any = None, transformations: Any = sympy_parser.standard_transformations,
                   global_dict: Any = None, evaluate: bool = True) -> Any:
        if not isinstance(s, str):
            raise TypeError("parse_expr needs a string")
        plain_math(s, monitor)
        fresh = dict(namespace)
        fresh["__builtins__"] = {}
        return original_parse(s, local_dict=local_dict, transformations=transformations,
                              global_dict=fresh, evaluate=evaluate)

    def eval_expr(code: Any, local_dict: Any, global_dict: Any) -> Any:
        global_dict["__builtins__"] = {}
        return original_eval(code, local_dict, global_dict)

    sympy_parser.parse_expr = parse_expr
    sympy_parser.eval_expr = eval_expr
    install_codegen_guard(monitor)
    _guard_undefined_functions(monitor)

    def sympify(a: Any, locals: Any = None, convert_xor: bool = True, strict: bool = False,
                rational: bool = False, evaluate: Any = None) -> Any:
        if isinstance(a, str):
            plain_math(a, monitor)
        return sympy.sympify(a, locals=locals, convert_xor=convert_xor, strict=strict,
                             rational=rational, evaluate=evaluate)

    monitor.exposed.add(sympify)
    return {"sympy": {"sympify": sympify}}


def _guard_undefined_functions(monitor: Monitor) -> None:
    """``Function('f', **attrs)``: no ``_`` attributes, ``bases`` or ``__dict__`` from sandboxed code."""
    from sympy.core.function import UndefinedFunction  # type: ignore[import-untyped]

    original = UndefinedFunction.__new__

    def new(mcl: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        if monitor.enforcing and (args or "__dict__" in kwargs or "bases" in kwargs
                                  or any(key.startswith("_") for key in kwargs)):
            monitor.refuse("sympy-function", "sympy.Function(name, ...) takes only assumptions such as "
                                             "real=True in the sandbox")
        return original(mcl, name, *args, **kwargs)

    UndefinedFunction.__new__ = new
