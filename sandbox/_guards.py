"""RestrictedPython's runtime hooks and the curated builtins, bound to one Monitor.

Decisions (each has a test in tests/sandbox):

- ``_getattr_``: ``safer_getattr`` in raise mode, stricter. Refuses names
  starting with ``_``, the inspect attributes (``gi_frame``, ``f_globals``,
  ``tb_frame``...), ``str.format``/``format_map`` (CVE-2023-41039),
  ``mro`` on classes, ``obj`` on exceptions and memoryviews
  (CVE-2024-47532), and on numpy arrays ``tofile``/``dump``/``dumps``/
  ``ctypes``/``resize`` (file I/O, raw memory, use-after-free with
  ``refcheck=False``). A missing attribute raises a *fresh* AttributeError
  (no ``.obj`` pointing at the real object).
- every value read through ``_getattr_``/``_getitem_`` is screened: modules,
  frames, code objects, tracebacks, the real builtins, functions living in
  ``os``/``sys``/``subprocess``/``socket``/``ctypes``/..., and the runtime's
  ``hidden`` types (mpmath contexts: ``sympy.Float(1).num.context.identify``
  ``eval``s strings with the real builtins) are refused.
- ``_write_``: allow-list of mutable *types* (dict, list, set, bytearray,
  the collections types, numpy arrays, sympy mutable matrices,
  ``decimal.Context`` — reset before every call) and instances of classes the
  sandboxed code defined itself. Modules, proxies, classes, functions and every
  library object are refused, so ``json.dumps = ...`` cannot poison a shared
  worker (open-chat-studio #4238).
- ``_getiter_`` is plain ``iter``: nothing is hidden behind iteration, which
  is what makes ``sorted``/``zip``/``tuple``/``reversed``/``bytes`` safe to
  add back (RestrictedPython #335 removed them only because they skip it).
  For the same reason the unpack hooks hand the value to Python's native
  unpacking: RestrictedPython's versions only route each level through
  ``_getiter_``, at the cost of a generator and a list per item.
- ``register``/``register_many`` of library objects are refused: they add
  entries to process-global registries (``sympy.S.register``,
  ``sympy.Q.prime.register``, ``fractions.Fraction.register``,
  ``singledispatch``), which would poison every later call in the worker.
- classes: a class statement may not use a ``forbidden`` metaclass (sympy's
  ``Singleton`` registers every subclass in ``sympy.S``, replacing e.g.
  ``S.Pi`` for every later call).
- builtins: no ``type`` (a one-argument ``type`` that refuses metaclasses
  instead), real ``open`` (the runtime adds the read-only one of
  ``_files.py``), ``vars``, ``globals``, ``locals``, ``compile``, ``eval``,
  ``exec``, ``dir``, ``setattr``, ``delattr``, ``object``, ``super``,
  ``memoryview``, ``id``, ``input``, ``breakpoint``; ``getattr`` goes
  through ``_getattr_``; ``hasattr`` answers for any name (it returns only a
  bool, so ``hasattr(x, "__len__")`` keeps working); no ``ExceptionGroup``
  (CVE-2025-22153).
- ``print`` writes into the call's capped buffer; ``print(file=...)`` is refused.

A refusal raises :class:`PolicyViolation` *and* is recorded on the Monitor,
so the call reports ``SandboxViolation`` even if the code catches the error.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import decimal
import gc
import operator
import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

__all__ = ["SAFE_BUILTINS", "Monitor", "OutputBuffer", "PolicyViolation", "make_namespace"]

_RAISE = object()
_BAD_TYPES = frozenset({types.ModuleType, types.FrameType, types.CodeType, types.TracebackType})
_BAD_MODULES = frozenset({
    "os", "posix", "nt", "sys", "subprocess", "_posixsubprocess", "socket", "_socket", "ctypes",
    "_ctypes", "importlib", "io", "_io", "pickle", "_pickle", "marshal", "shutil", "pathlib",
    "tempfile", "inspect", "gc", "signal", "_signal", "pty", "multiprocessing", "threading",
    "_thread", "code", "codeop", "runpy", "pdb", "webbrowser", "urllib", "http", "resource",
    "mmap", "select", "fcntl",
})
_BAD_FUNCTIONS = frozenset(getattr(builtins, n) for n in (
    "open", "eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "breakpoint", "input", "dir", "id",
))  # builtin functions hash by identity
_BAD_CLASSES = (type, object, super, memoryview)
_BUILTINS_DICT = builtins.__dict__
_PLAIN = frozenset({int, float, complex, str, bytes, bool, type(None), tuple, list, dict, set, frozenset})
_REGISTRY_ATTRIBUTES = frozenset({"register", "register_many"})
_NDARRAY_DENIED = frozenset({"tofile", "dump", "dumps", "ctypes", "resize", "setflags"})
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "@=": operator.imatmul,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior,
    "^=": operator.ixor,
}
SAFE_BUILTINS = frozenset((
    "abs all any ascii bin bool bytearray bytes callable chr classmethod complex dict divmod "
    "enumerate filter float format frozenset hash hex int isinstance issubclass iter len list map "
    "max min next oct ord pow property range repr reversed round set slice sorted staticmethod "
    "str sum tuple zip None True False Ellipsis NotImplemented __build_class__ "
    "ArithmeticError AssertionError AttributeError BaseException BufferError EOFError Exception "
    "FloatingPointError GeneratorExit ImportError IndexError KeyError KeyboardInterrupt "
    "LookupError MemoryError NameError NotImplementedError OSError OverflowError RecursionError "
    "ReferenceError RuntimeError StopIteration StopAsyncIteration SyntaxError SystemError "
    "TimeoutError TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError "
    "ValueError ZeroDivisionError Warning UserWarning DeprecationWarning RuntimeWarning"
).split())
"""The builtins sandboxed code sees (plus guarded getattr/hasattr/type/__import__)."""


class PolicyViolation(Exception):
    """Raised inside the worker when sandboxed code tries something the policy forbids."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class Monitor:
    """Per-worker record of the current call's first violation and of the trusted state.

    ``classes`` holds the classes sandboxed code defined and ``builtins`` the
    builtins dict its functions run with, so other layers can tell sandbox
    objects from library objects.
    """

    def __init__(self) -> None:
        self.violation: tuple[str, str] | None = None
        self.retire = False
        self.untrusted = False
        self.classes: weakref.WeakSet[type] = weakref.WeakSet()
        self.builtins: dict[str, Any] | None = None

    @contextlib.contextmanager
    def trusted(self) -> Iterator[None]:
        """Suspend the audit hook for the worker's own code (no untrusted code may run inside)."""
        previous, self.untrusted = self.untrusted, False
        collecting = gc.isenabled()
        gc.disable()  # a collection could run an untrusted finalizer in here
        try:
            yield
        finally:
            self.untrusted = previous
            if collecting:
                gc.enable()

    def is_sandbox_function(self, value: Any) -> bool:
        """Whether ``value`` is a plain function compiled from sandboxed source."""
        return type(value) is types.FunctionType and value.__builtins__ is self.builtins

    def is_sandbox_class(self, value: Any) -> bool:
        """Whether ``value`` is a class defined by sandboxed code."""
        return isinstance(value, type) and value in self.classes

    def reset(self) -> None:
        """Forget the previous call's violation."""
        self.violation = None

    def refuse(self, rule: str, message: str, *, retire: bool = False) -> NoReturn:
        """Record the violation (first one wins) and raise it into the sandboxed code."""
        if self.violation is None:
            self.violation = (rule, message)
        self.retire = self.retire or retire
        raise PolicyViolation(rule, message)


class OutputBuffer:
    """What sandboxed code printed in this call, capped at ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def reset(self) -> None:
        self.parts, self.size, self.truncated = [], 0, False

    def write(self, text: str) -> None:
        room = self.limit - self.size
        if len(text) > room:
            self.truncated = True
            text = text[: max(0, room)]
        if text:
            self.parts.append(text)
            self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts)


class _PrintSink:
    """The object RestrictedPython's ``print`` rewrite talks to (``_print``)."""

    def __init__(self, output: OutputBuffer, monitor: Monitor) -> None:
        self._output = output
        self._monitor = monitor

    def __call__(self) -> str:  # ``printed``
        return self._output.text()

    def _call_print(self, *objects: object, sep: str | None = " ", end: str | None = "\n",
                    file: object = None, flush: bool = False) -> None:
        if file is not None:
            self._monitor.refuse("print-file", "print(file=...) is not available; print to stdout")
        if not isinstance(sep, (str, type(None))) or not isinstance(end, (str, type(None))):
            raise TypeError("sep and end must be None or a string")
        if self._output.truncated:
            return
        text = (" " if sep is None else sep).join(str(o) for o in objects)
        self._output.write(text + ("\n" if end is None else end))


def make_namespace(monitor: Monitor, output: OutputBuffer, importer: Callable[..., Any], *,
                   numpy: Any = None, writable: tuple[type, ...] = (),
                   hidden: tuple[type, ...] = (), forbidden: tuple[type, ...] = (),
                   arrays: tuple[type, Callable[[Any, Monitor], Any]] | None = None) -> dict[str, Any]:
    """The hooks and builtins one function's globals start from (copied per function).

    ``writable`` adds types ``_write_`` accepts; instances of ``hidden`` types are
    refused wherever an attribute or item read would hand one out; ``forbidden``
    metaclasses may not build sandbox classes. ``arrays`` is numpy's guarded
    ``ndarray`` (what ``type(array)`` answers) and the writer ``_write_``
    returns for arrays (``_numpy.py``).
    """
    sandbox_classes = monitor.classes
    writable_types = frozenset({dict, list, set, bytearray, collections.Counter,
                                collections.defaultdict, collections.OrderedDict,
                                collections.deque, decimal.Context, *writable})
    ndarray = numpy.ndarray if numpy is not None else None

    def screen(value: Any) -> Any:
        # No id() here: ``builtins.id`` is an audited event and this runs on every read.
        kind = type(value)
        if kind in _PLAIN:
            return value
        if (kind in _BAD_TYPES or value is _BUILTINS_DICT
                or (kind is types.BuiltinFunctionType and value in _BAD_FUNCTIONS)
                or any(value is bad for bad in _BAD_CLASSES)):
            monitor.refuse("unsafe-value", f"a {kind.__name__} object is not available")
        if hidden and isinstance(value, hidden):
            monitor.refuse("unsafe-value", f"{kind.__name__} objects are not available (they evaluate strings)")
        if isinstance(value, (types.BuiltinFunctionType, types.FunctionType, type)):
            module = getattr(value, "__module__", None) or ""
            if module.split(".")[0] in _BAD_MODULES:
                monitor.refuse("unsafe-value", f"objects from '{module}' are not available")
        return value

    def guarded_getattr(obj: Any, name: Any, default: Any = _RAISE) -> Any:
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        if name.startswith("_"):
            monitor.refuse("private-attribute", f"attribute {name!r} starts with '_'")
        if name in INSPECT_ATTRIBUTES:
            monitor.refuse("frame-attribute", f"attribute {name!r} gives access to frames or code")
        if name in ("format", "format_map") and (
            isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
        ):
            monitor.refuse("str-format", "str.format is not available; use an f-string")
        if (name == "mro" and isinstance(obj, type)) or (
            name == "obj" and isinstance(obj, (BaseException, memoryview))
        ):
            monitor.refuse("denied-attribute", f"attribute {name!r} is not available")
        if name in _REGISTRY_ATTRIBUTES and not (
            type(obj) in sandbox_classes or (isinstance(obj, type) and obj in sandbox_classes)
        ):
            monitor.refuse("denied-attribute", f"{name!r} changes a registry shared by every call")
        if ndarray is not None and name in _NDARRAY_DENIED and (
            isinstance(obj, ndarray) or (isinstance(obj, type) and issubclass(obj, ndarray))
        ):
            monitor.refuse("denied-attribute", f"ndarray.{name} is not available (file or memory access)")
        try:
            value = getattr(obj, name)
        except AttributeError:
            if default is not _RAISE:
                return default
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}") from None
        return screen(value)

    def guarded_hasattr(obj: Any, name: Any) -> bool:
        # Only a bool comes back, so even ``hasattr(x, "__len__")`` leaks nothing.
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        return hasattr(obj, name)

    def guarded_getitem(obj: Any, key: Any) -> Any:
        value = obj[key]
        return value if type(value) in _PLAIN else screen(value)

    def guarded_write(obj: Any) -> Any:
        kind = type(obj)
        if arrays is not None and ndarray is not None and isinstance(obj, ndarray):
            return arrays[1](obj, monitor)
        if kind in writable_types or kind in sandbox_classes:
            return obj
        monitor.refuse("write", f"{kind.__name__} objects cannot be changed in the sandbox")

    def inplace(op: str, target: Any, value: Any) -> Any:
        return _INPLACE[op](target, value)

    def unpack(it: Any, spec: Any, _getiter_: Any) -> Any:
        return it

    def iter_unpack(it: Any, spec: Any, _getiter_: Any) -> Any:
        return iter(it)

    def apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    def build_class(name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        meta = type
        for base in bases:
            if not isinstance(base, type):
                raise TypeError("class bases must be classes")
            if issubclass(type(base), meta):
                meta = type(base)
        if forbidden and issubclass(meta, forbidden):
            monitor.refuse("class", f"subclasses of {bases[0].__name__} would be registered for every call")
        cls = meta(name, bases, namespace)
        sandbox_classes.add(cls)
        return cls

    def safe_type(obj: Any) -> type:
        kind = type(obj)
        if issubclass(kind, type):
            monitor.refuse("type", "type() of a class is not available")
        if arrays is not None and kind is ndarray:
            return arrays[0]
        return kind

    sink = _PrintSink(output, monitor)
    names = {name: getattr(builtins, name) for name in sorted(SAFE_BUILTINS)}
    names.update(getattr=guarded_getattr, hasattr=guarded_hasattr, type=safe_type,
                 __import__=importer)
    monitor.builtins = names
    return {
        "__builtins__": names,
        "__metaclass__": build_class,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": iter_unpack,
        "_unpack_sequence_": unpack,
        "_write_": guarded_write,
        "_inplacevar_": inplace,
        "_apply_": apply,
        "_print_": lambda _getattr_=None: sink,
        "_print": sink,
    }
