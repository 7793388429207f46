"""The value screen: which objects sandboxed code may never read, call or pass on.

Library code can hand sandboxed code anything: sympy's printer once returned
``json``'s module globals because a sandbox class chose the attribute name
it looked up (issue 11). So the guards do not trust *where* a value comes
from; they look at *what* it is, at every point where a value moves between
sandboxed code and library code (``_hooks.py``): attribute and item reads,
iteration and unpacking, the callee, arguments and result of every call to
library code.

A value is refused (rule ``unsafe-value``) when it is:

- a module, frame, code object, traceback or closure cell;
- a namespace: the real builtins, any module's globals, the globals of
  sandboxed functions (a dict holding ``__builtins__``, or ``__name__`` and
  ``__spec__``);
- a dangerous builtin (``eval``, ``exec``, ``open``, the real ``getattr``,
  ``__import__``...) or any function, class or bound method living in a
  module sandboxed code may not import (``os``, ``sys``, ``io``, ``ctypes``...);
- a method or slot wrapper with a ``_`` name that sandboxed code did not
  define (``object.__getattribute__`` bound to anything is an unguarded
  ``getattr``), or a partial/staticmethod/classmethod/bound method wrapping
  anything refused here;
- ``type``, ``object``, ``super``, ``memoryview``;
- an object of the runtime itself (the Monitor, the output buffer, the
  runtime, their methods, the functions of ``fnforge.sandbox`` that were
  not handed out on purpose), or of a ``hidden`` library type (mpmath
  contexts evaluate strings; sympy's Dispatchers are global registries).

Most values are ints, strings, lists or library objects such as sympy
expressions: their *type* decides, and types found harmless are remembered,
so the screen costs one set lookup for them.
"""

from __future__ import annotations

import builtins
import functools
import types
from collections.abc import Iterable, Iterator
from typing import Any  # Any: objects of learned code, checked at run time rather than typed

from fnforge.sandbox.runtime._monitor import Monitor

__all__ = ["BAD_MODULES", "Screen", "is_namespace"]

BAD_MODULES = frozenset({
    "os", "posix", "nt", "sys", "subprocess", "_posixsubprocess", "socket", "_socket", "ctypes",
    "_ctypes", "importlib", "io", "_io", "pickle", "_pickle", "marshal", "shutil", "pathlib",
    "tempfile", "inspect", "gc", "signal", "_signal", "pty", "multiprocessing", "threading",
    "_thread", "code", "codeop", "runpy", "pdb", "webbrowser", "urllib", "http", "resource",
    "mmap", "select", "fcntl", "_frozen_importlib", "_frozen_importlib_external",
    "_imp", "posixpath", "genericpath", "zipimport", "atexit", "faulthandler", "_weakref",
})
"""Modules whose functions and classes are never handed to sandboxed code (by ``__module__`` root)."""

_BAD_TYPES = (types.ModuleType, types.FrameType, types.CodeType, types.TracebackType, types.CellType)
_BAD_FUNCTIONS = frozenset(getattr(builtins, n) for n in (
    "open", "eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "breakpoint", "input", "dir", "id", "__build_class__",
))  # builtin functions hash by identity
_BAD_CLASSES = (type, object, super, memoryview)
_WRAPPERS = (types.MethodWrapperType, types.WrapperDescriptorType, types.MethodDescriptorType,
             types.ClassMethodDescriptorType, types.BuiltinFunctionType)
_PER_OBJECT = (type, types.FunctionType, types.MethodType, functools.partial, staticmethod, classmethod,
               *_WRAPPERS, *_BAD_TYPES)
_PLAIN = (int, float, complex, str, bytes, bool, type(None), tuple, list, set, frozenset, range, slice,
          bytearray, type(Ellipsis), type(NotImplemented))
_MAX_REMEMBERED = 4096


def _module_root(value: Any) -> str:
    module = getattr(value, "__module__", None)
    return module.split(".")[0] if type(module) is str else ""


def is_namespace(value: dict[Any, Any]) -> bool:
    """Whether a dict is a module's (or sandboxed code's) globals."""
    return "__builtins__" in value or ("__name__" in value and "__spec__" in value)


class Screen:
    """Refuse the objects in the module docstring; remember harmless types.

    Args:
        monitor: records refusals; its ``classes``, ``builtins`` and
            ``exposed`` say what sandboxed code made or was given.
        hidden: library types sandboxed code may not hold.
        internal: the runtime's own types (their instances are never handed out).
    """

    def __init__(self, monitor: Monitor, *, hidden: tuple[type, ...] = (),
                 internal: tuple[type, ...] = ()) -> None:
        self.monitor = monitor
        self.hidden = hidden
        self.internal = (Monitor, Screen, *internal)
        self.safe: set[type] = set(_PLAIN)

    # --- the decision ---------------------------------------------------------------------------

    def reason(self, value: Any) -> str | None:
        """Why ``value`` must not reach sandboxed code, or None."""
        kind = type(value)
        if kind in self.safe:
            return None
        if kind is dict:
            return "a module's namespace" if is_namespace(value) else None
        if issubclass(kind, _BAD_TYPES):
            return f"a {kind.__name__} object"
        if isinstance(value, self.internal) or (self.hidden and isinstance(value, self.hidden)):
            return f"{kind.__name__} objects (sandbox internals or string evaluators)"
        if not issubclass(kind, _PER_OBJECT):
            self._remember(kind)
            return None
        return self._callable_reason(value, kind)

    def _callable_reason(self, value: Any, kind: type) -> str | None:
        if self._exposed(value) or self.monitor.is_sandbox_function(value):
            return None
        if isinstance(value, type):
            return self._class_reason(value)
        if kind is types.FunctionType:
            return self._function_reason(value)
        if kind is types.MethodType:
            return self._method_reason(value)
        if kind is functools.partial:
            return self.reason(value.func)
        if kind in (staticmethod, classmethod):
            return self.reason(value.__func__)
        if kind is types.BuiltinFunctionType and value in _BAD_FUNCTIONS:
            return f"the builtin {value.__name__}"
        return self._wrapper_reason(value)

    def _exposed(self, value: Any) -> bool:
        try:
            return value in self.monitor.exposed
        except TypeError:  # a class whose metaclass makes it unhashable
            return False

    def _method_reason(self, value: types.MethodType) -> str | None:
        """A bound method: its object decides; the runtime's public types keep their public methods."""
        owner, func = value.__self__, value.__func__
        if self._exposed(owner):
            return None
        why = self.reason(owner)
        if why is not None:
            return why
        if type(func) is types.FunctionType and (func.__module__ or "").startswith("fnforge.sandbox"):
            return f"the private method {func.__name__}" if func.__name__.startswith("_") else None
        return self.reason(func)

    def _class_reason(self, value: type) -> str | None:
        try:
            if value in self.monitor.classes:
                return None
        except TypeError:
            pass
        if any(value is bad for bad in _BAD_CLASSES):
            return f"the class {value.__name__}"
        if issubclass(value, self.internal) or _module_root(value) in BAD_MODULES:
            return f"the class {value.__name__} from '{value.__module__}'"
        if _module_root(value) == "fnforge" and value.__module__.startswith("fnforge.sandbox"):
            return f"the class {value.__name__} (sandbox internals)"
        return None

    def _function_reason(self, value: types.FunctionType) -> str | None:
        module = value.__module__ or ""
        if module.split(".")[0] in BAD_MODULES:
            return f"functions from '{module}'"
        if module.startswith("fnforge.sandbox"):
            return "functions of the sandbox itself"
        if value.__name__.startswith("_"):
            return f"the private function {value.__name__}"
        return None

    def _wrapper_reason(self, value: Any) -> str | None:
        name = getattr(value, "__name__", "")
        if type(name) is str and name.startswith("_"):
            return f"the private method {name}"
        owner = getattr(value, "__self__", None)
        if isinstance(owner, types.ModuleType):
            return f"functions from '{owner.__name__}'" if owner.__name__.split(".")[0] in BAD_MODULES else None
        if owner is not None:
            return self.reason(owner)
        objclass = getattr(value, "__objclass__", None)
        return None if objclass is None else self.reason(objclass)

    def _remember(self, kind: type) -> None:
        if len(self.safe) > _MAX_REMEMBERED:
            self.safe = set(_PLAIN)
        self.safe.add(kind)

    # --- the checks the hooks call --------------------------------------------------------------

    def check(self, value: Any) -> Any:
        """Return ``value``, or record and raise a violation if it is refused."""
        why = self.reason(value)
        if why is not None:
            self.monitor.refuse("unsafe-value", f"{why} is not available in the sandbox")
        return value

    def all_safe(self, values: Iterable[Any]) -> bool:
        """Whether every item's type is known harmless (one pass in C: the common case)."""
        return set(map(type, values)) <= self.safe

    def items(self, iterator: Iterator[Any]) -> Iterator[Any]:
        """The items of ``iterator``, each screened as it is produced."""
        safe, check = self.safe, self.check
        for item in iterator:
            yield item if type(item) in safe else check(item)
