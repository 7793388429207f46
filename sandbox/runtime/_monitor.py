"""The runtime's record of one worker's calls: violations, sandbox classes, captured output.

A refusal raises :class:`PolicyViolation` *and* is recorded on the
:class:`Monitor`, so the call reports ``SandboxViolation`` even if the code
catches the error. The Monitor holds nothing that switches a layer off: the
audit hook keeps its own state where no object sandboxed code can reach
points to it (``worker/_audit.py``), and the value screen refuses the Monitor,
its methods and every other runtime object (``_screen.py``).
"""

from __future__ import annotations

import types
import weakref
from typing import Any, NoReturn  # Any: objects of learned code, checked at run time rather than typed

__all__ = ["Monitor", "OutputBuffer", "PolicyViolation", "PrintSink"]


class PolicyViolation(Exception):
    """Raised inside the worker when sandboxed code tries something the policy forbids."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class Monitor:
    """Per-worker record of the current call's first violation and of what sandboxed code defined.

    ``classes`` holds the classes sandboxed code defined (and the namedtuple
    classes it asked for), ``builtins`` the builtins dict its functions run
    with, ``exposed`` the runtime's own callables that are handed to
    sandboxed code on purpose (guards, overrides); ``enforcing`` turns on the
    checks that must not fire while the worker warms up its libraries.
    """

    def __init__(self) -> None:
        self.violation: tuple[str, str] | None = None
        self.retire = False
        self.enforcing = False
        self.classes: weakref.WeakSet[type] = weakref.WeakSet()
        self.builtins: dict[str, Any] | None = None
        self.exposed: set[Any] = set()

    def is_sandbox_function(self, value: Any) -> bool:
        """Whether ``value`` is a plain function compiled from sandboxed source."""
        return type(value) is types.FunctionType and getattr(value, "__builtins__", None) is self.builtins

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


class PrintSink:
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
