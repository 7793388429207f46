"""RestrictedPython's runtime hooks and the curated builtins, bound to one Monitor.

Every point where a value moves between sandboxed code and library code
goes through a hook here, and every hook asks the value screen
(``_screen.py``) about the value: so library code that reflects on names
sandboxed code chose (sympy's printer did, issue 11) cannot hand out real
builtins, module globals, frames, code or sandbox internals by *any* path.

- ``_getattr_`` (and ``getattr``): ``safer_getattr`` in raise mode, stricter.
  Refuses names starting with ``_``, the inspect attributes (``gi_frame``,
  ``f_globals``...), ``str.format``/``format_map`` (CVE-2023-41039), ``mro``
  on classes, ``obj`` on exceptions and memoryviews (CVE-2024-47532),
  ``register``/``register_many`` of library objects (process-global
  registries), and on numpy arrays ``tofile``/``dump``/``dumps``/``ctypes``/
  ``resize``/``setflags``. The owner and the value are screened; a missing
  attribute raises a *fresh* AttributeError (no ``.obj``).
- ``_getitem_``: the owner and the item are screened.
- ``_getiter_`` (``for``, comprehensions) and the unpack hooks: every item is
  screened. Ranges, strings and containers whose items all have known
  harmless types (checked in one pass in C) are iterated natively.
- ``_call_`` (every call in sandboxed code, see ``gate/_transformer.py``):
  a sandboxed function, a method of a sandboxed class, a sandboxed class,
  ``lru_cache``/``partial`` of a sandboxed function or a pure builtin
  (``len``, ``math.sqrt``, ``str.split``...) is called as it is (no extra
  frame: recursion keeps its depth). Anything else is library code: the callee, each argument and the
  result are screened, so a refused value can be neither called nor passed on.
- ``_write_``: allow-list of mutable *types* (dict, list, set, bytearray,
  the collections types, numpy arrays, sympy mutable matrices,
  ``decimal.Context``) and instances of sandbox classes; module namespaces,
  modules, proxies, classes, functions and library objects are refused
  (open-chat-studio #4238).
- classes: bases must be sandbox classes, ``object``, builtin value and
  exception types, the ``collections`` containers or an allow-listed
  library class (``sympy.Function``); subclassing any other library class
  is refused (rule ``class``): library code reads attributes of its own
  classes as names (``Printer.printmethod``), so a subclass could choose
  them. ``forbidden`` metaclasses (sympy's ``Singleton`` registers every
  subclass in ``sympy.S``) are refused too.
- builtins: no ``type`` (a one-argument ``type`` that refuses metaclasses
  instead), real ``open`` (the runtime adds the read-only one of
  ``_files.py``), ``vars``, ``globals``, ``locals``, ``compile``, ``eval``,
  ``exec``, ``dir``, ``setattr``, ``delattr``, ``object``, ``super``,
  ``memoryview``, ``id``, ``input``, ``breakpoint``; ``hasattr`` answers
  for any name (only a bool comes back); no ``ExceptionGroup`` (CVE-2025-22153).
- ``print`` writes into the call's capped buffer; ``print(file=...)`` is refused.

Not screened, on purpose: results of operators (``a + b``) and of in-place
operators, which would cost a call per arithmetic step; the OS layer below is
the boundary for anything that still gets through (DESIGN.md §4).
"""

from __future__ import annotations

import builtins
import cmath
import collections
import decimal
import functools
import itertools
import math
import operator
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any  # Any: objects of learned code, checked at run time rather than typed

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from fnforge.sandbox.runtime._modules import SAFE_BUILTINS
from fnforge.sandbox.runtime._monitor import Monitor, OutputBuffer, PrintSink
from fnforge.sandbox.runtime._screen import Screen, is_namespace

__all__ = ["Libraries", "make_namespace"]

_RAISE = object()
_REGISTRY_ATTRIBUTES = frozenset({"register", "register_many"})
_NDARRAY_DENIED = frozenset({"tofile", "dump", "dumps", "ctypes", "resize", "setflags"})
_NATIVE_ITERATION = frozenset({range, str, bytes, bytearray})
_CONTAINERS = frozenset({list, tuple, set, frozenset, dict, collections.deque})
_SCALAR_OWNERS = frozenset({str, bytes, int, float, complex, bool})
_PURE_BUILTINS = (
    "abs all any ascii bin bool bytearray bytes callable chr complex dict divmod enumerate float "
    "frozenset hash hex int isinstance issubclass len list oct ord pow range repr reversed round set "
    "slice str tuple zip"
).split()
_PURE_OPERATORS = (
    "abs add and_ contains countOf eq floordiv ge gt index indexOf inv invert is_ is_not le lshift lt "
    "matmul mod mul ne neg not_ or_ pos pow rshift sub truediv truth xor"
).split()
_WRAPPERS: dict[type, Callable[[Any], Any]] = {
    functools._lru_cache_wrapper: lambda f: f.__wrapped__,  # what @lru_cache and @cache return
    functools.partial: lambda f: f.func,  # its bound arguments were screened when it was made
}
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "@=": operator.imatmul,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior,
    "^=": operator.ixor,
}
_BUILTIN_BASES = frozenset({
    object, int, float, complex, str, bytes, tuple, list, dict, set, frozenset,
    collections.Counter, collections.OrderedDict, collections.defaultdict, collections.deque,
    *(getattr(builtins, n) for n in SAFE_BUILTINS
      if isinstance(getattr(builtins, n, None), type) and issubclass(getattr(builtins, n), BaseException)),
})


def _pure_callables() -> frozenset[Any]:
    """Callables that only compute a fresh value from their arguments: called without screening."""
    found = [getattr(builtins, n) for n in _PURE_BUILTINS]
    found += [getattr(operator, n) for n in _PURE_OPERATORS]
    found += [v for m in (math, cmath) for v in vars(m).values() if isinstance(v, types.BuiltinFunctionType)]
    return frozenset(found)


_PURE = _pure_callables()


@dataclass(frozen=True, slots=True)
class Libraries:
    """What the guards need to know about the allowed libraries (see ``_runtime.py``).

    ``numpy`` is the module (or None); ``writable`` adds types ``_write_``
    accepts; ``hidden`` types are refused wherever they would be handed out;
    ``forbidden`` metaclasses may not build sandbox classes; ``bases`` are the
    library classes sandboxed code may subclass; ``arrays`` is numpy's guarded
    ``ndarray`` (what ``type(array)`` answers) and the writer ``_write_``
    returns for arrays (``_numpy.py``).
    """

    numpy: Any = None
    writable: tuple[type, ...] = ()
    hidden: tuple[type, ...] = ()
    forbidden: tuple[type, ...] = ()
    bases: tuple[type, ...] = ()
    arrays: tuple[type, Callable[[Any, Monitor], Any]] | None = None


class _Guards:
    """The hooks, as methods sharing one Monitor and Screen."""

    def __init__(self, monitor: Monitor, screen: Screen, libraries: Libraries) -> None:
        self.monitor = monitor
        self.screen = screen
        self.libraries = libraries
        self.ndarray = libraries.numpy.ndarray if libraries.numpy is not None else None
        self.writable = frozenset({dict, list, set, bytearray, collections.Counter, collections.defaultdict,
                                   collections.OrderedDict, collections.deque, decimal.Context,
                                   *libraries.writable})
        self.bases = _BUILTIN_BASES | frozenset(libraries.bases)
        self.names: dict[str, Any] = {}  # the builtins of sandboxed code, filled by make_namespace
        self.sink: PrintSink | None = None

    # --- reads --------------------------------------------------------------------------------

    def getattr(self, obj: Any, name: Any, default: Any = _RAISE) -> Any:
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        self._check_attribute(obj, name)
        self.screen.check(obj)
        try:
            value = getattr(obj, name)
        except AttributeError:
            if default is not _RAISE:
                return default
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}") from None
        return value if type(value) in self.screen.safe else self.screen.check(value)

    def _check_attribute(self, obj: Any, name: str) -> None:
        refuse = self.monitor.refuse
        if name.startswith("_"):
            refuse("private-attribute", f"attribute {name!r} starts with '_'")
        if name in INSPECT_ATTRIBUTES:
            refuse("frame-attribute", f"attribute {name!r} gives access to frames or code")
        if name in ("format", "format_map") and (
            isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
        ):
            refuse("str-format", "str.format is not available; use an f-string")
        if (name == "mro" and isinstance(obj, type)) or (
            name == "obj" and isinstance(obj, (BaseException, memoryview))
        ):
            refuse("denied-attribute", f"attribute {name!r} is not available")
        if name in _REGISTRY_ATTRIBUTES and not (
            type(obj) in self.monitor.classes or self.monitor.is_sandbox_class(obj)
        ):
            refuse("denied-attribute", f"{name!r} changes a registry shared by every call")
        ndarray = self.ndarray
        if ndarray is not None and name in _NDARRAY_DENIED and (
            isinstance(obj, ndarray) or (isinstance(obj, type) and issubclass(obj, ndarray))
        ):
            refuse("denied-attribute", f"ndarray.{name} is not available (file or memory access)")

    def hasattr(self, obj: Any, name: Any) -> bool:
        # Only a bool comes back, so even ``hasattr(x, "__len__")`` leaks nothing.
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        return hasattr(obj, name)

    def getitem(self, obj: Any, key: Any) -> Any:
        if type(obj) is dict and is_namespace(obj):
            self.screen.check(obj)
        value = obj[key]
        return value if type(value) in self.screen.safe else self.screen.check(value)

    # --- iteration and unpacking -----------------------------------------------------------------

    def getiter(self, obj: Any) -> Iterator[Any]:
        kind = type(obj)
        if kind in _NATIVE_ITERATION:
            return iter(obj)
        screen = self.screen
        if kind in _CONTAINERS:
            if kind is dict and is_namespace(obj):
                screen.check(obj)
            if screen.all_safe(obj):
                return iter(obj)
        elif self.ndarray is not None and isinstance(obj, self.ndarray) and not obj.dtype.hasobject:
            return iter(obj)
        else:
            screen.check(obj)
        return screen.items(iter(obj))

    def unpack(self, value: Any, spec: dict[str, Any], _getiter_: Any = None) -> Any:
        """``a, (b, *c) = value``: at most the needed items, each screened; Python checks the count."""
        wanted = spec["min_len"]
        if type(value) in (tuple, list) and not spec["childs"] and len(value) == wanted \
                and self.screen.all_safe(value):
            return value
        source = self.getiter(value)
        items = list(source if spec.get("star") else itertools.islice(source, wanted + 1))
        if len(items) >= wanted:
            for index, child in spec["childs"]:
                items[index] = self.unpack(items[index], child)
        return items

    def iter_unpack(self, iterable: Any, spec: dict[str, Any], _getiter_: Any = None) -> Iterator[Any]:
        """``for a, b in iterable``: each item unpacked as :meth:`unpack` does (its fast case inlined)."""
        unpack, safe, wanted = self.unpack, self.screen.safe, spec["min_len"]
        simple = not spec["childs"]
        for item in self.getiter(iterable):
            if simple and type(item) in (tuple, list) and len(item) == wanted and set(map(type, item)) <= safe:
                yield item
            else:
                yield unpack(item, spec)

    # --- calls ----------------------------------------------------------------------------------

    def call(self, func: Any) -> Any:
        """What the call ``func(...)`` in sandboxed code actually calls (see the module docstring)."""
        kind = type(func)
        if kind is types.FunctionType:
            if func.__builtins__ is self.names:
                return func
        elif kind is types.MethodType:
            if self.monitor.is_sandbox_function(func.__func__) or func.__self__ is self.sink:
                return func
        elif kind is types.BuiltinFunctionType:
            if func in _PURE or type(func.__self__) in _SCALAR_OWNERS:
                return func
        elif kind is type and (func in self.monitor.classes or func in _PURE):
            return func
        elif kind in _WRAPPERS and self.monitor.is_sandbox_function(_WRAPPERS[kind](func)):
            return func  # lru_cache/partial of a sandboxed function: recursion keeps its depth
        self.screen.check(func)
        return functools.partial(self._screened_call, func)

    def _screened_call(self, func: Any, /, *args: Any, **kwargs: Any) -> Any:
        safe, check = self.screen.safe, self.screen.check
        for value in args:
            if type(value) not in safe:
                check(value)
        for value in kwargs.values():
            if type(value) not in safe:
                check(value)
        result = func(*args, **kwargs)
        return result if type(result) in safe else check(result)

    # --- writes ---------------------------------------------------------------------------------

    def write(self, obj: Any) -> Any:
        kind = type(obj)
        arrays = self.libraries.arrays
        if arrays is not None and self.ndarray is not None and isinstance(obj, self.ndarray):
            return arrays[1](obj, self.monitor)
        if kind is dict and is_namespace(obj):
            self.monitor.refuse("write", "a module's namespace cannot be changed in the sandbox")
        if kind in self.writable or kind in self.monitor.classes:
            return obj
        self.monitor.refuse("write", f"{kind.__name__} objects cannot be changed in the sandbox")

    # --- classes and types ----------------------------------------------------------------------

    def build_class(self, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        meta: type = type
        for base in bases:
            if not isinstance(base, type):
                raise TypeError("class bases must be classes")
            if base not in self.bases and base not in self.monitor.classes:
                self.monitor.refuse("class", (
                    f"class {name} may not subclass {base.__module__}.{base.__qualname__}: learned code may "
                    f"subclass its own classes, object, builtin types and exceptions, and sympy.Function"))
            if issubclass(type(base), meta):
                meta = type(base)
        forbidden = self.libraries.forbidden
        if forbidden and issubclass(meta, forbidden):
            self.monitor.refuse("class", f"subclasses of {bases[0].__name__} would be registered for every call")
        cls: type = meta(name, bases, namespace)
        self.monitor.classes.add(cls)
        return cls

    def type(self, obj: Any) -> type:
        kind = type(obj)
        if issubclass(kind, type):
            self.monitor.refuse("type", "type() of a class is not available")
        arrays = self.libraries.arrays
        if arrays is not None and kind is self.ndarray:
            return arrays[0]
        return kind


def _inplace(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def make_namespace(monitor: Monitor, output: OutputBuffer, importer: Callable[..., Any],
                   libraries: Libraries, *, internal: tuple[type, ...] = ()) -> dict[str, Any]:
    """The hooks and builtins one function's globals start from (copied per function).

    ``internal`` lists the runtime's own types, whose objects are never handed out.
    """
    screen = Screen(monitor, hidden=libraries.hidden, internal=(OutputBuffer, PrintSink, *internal))
    guards = _Guards(monitor, screen, libraries)
    sink = guards.sink = PrintSink(output, monitor)
    names = guards.names
    names.update({name: getattr(builtins, name) for name in sorted(SAFE_BUILTINS)})
    names.update(getattr=guards.getattr, hasattr=guards.hasattr, type=guards.type, __import__=importer)
    monitor.builtins = names
    monitor.exposed.update((guards.getattr, guards.hasattr, guards.type, importer, sink))
    if libraries.arrays is not None:
        monitor.exposed.add(libraries.arrays[0])
    return {
        "__builtins__": names,
        "__metaclass__": guards.build_class,
        "_getattr_": guards.getattr,
        "_getitem_": guards.getitem,
        "_getiter_": guards.getiter,
        "_iter_unpack_sequence_": guards.iter_unpack,
        "_unpack_sequence_": guards.unpack,
        "_call_": guards.call,
        "_write_": guards.write,
        "_inplacevar_": _inplace,
        "_print_": lambda _getattr_=None: sink,
        "_print": sink,
    }
