"""Turn what untrusted code did into a reply: a JSON-safe value, or a classified error.

- A violation wins over everything (it is sticky: the code may have caught it).
- ``SoftTimeout`` is a timeout; so is any outcome once the timer fired (the
  worker decides that, ``worker/_worker.py``).
- ``MemoryError`` is the memory limit only when the interpreter or a library
  ran out of memory: not a ``MemoryError`` subclass the code defined, not a
  ``MemoryError("...")`` with a message (the interpreter's has none), and
  not one the code raised itself (its own ``raise`` statement is the
  innermost frame). ``raise MemoryError('fake')`` is the code's own exception.
- Anything else is the function's exception, with a traceback of its own
  lines only (the first 3 and the last 12 frames) and a message cut to 2,000
  characters.

Reading a traceback's frames is an audited event the worker's audit hook
refuses; ``read_frames`` is the hook's permission to read the frames of one
exception (``worker/_audit.py``).
"""

from __future__ import annotations

import contextlib
import dis
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any  # Any: context managers of any value

from fnforge.sandbox.boundary._encoder import clean_text, cut_text
from fnforge.sandbox.runtime._monitor import Monitor, PolicyViolation

__all__ = ["SoftTimeout", "describe"]

_MAX_MESSAGE = 2_000
_MAX_FRAMES = 15
_RAISE = dis.opmap["RAISE_VARARGS"]

FrameReader = Callable[[BaseException], AbstractContextManager[Any]]


class SoftTimeout(BaseException):
    """Raised by the worker's SIGALRM handler; a BaseException so ``except Exception`` misses it."""


def no_audit(exc: BaseException) -> AbstractContextManager[Any]:
    """The frame reader outside a worker: nothing to ask."""
    return contextlib.nullcontext()


def describe(exc: BaseException, sources: dict[str, list[str]], monitor: Monitor,
             read_frames: FrameReader = no_audit) -> dict[str, Any]:
    """Classify an exception raised by untrusted code (see the module docstring)."""
    if monitor.violation is not None:
        rule, message = monitor.violation
        return {"kind": "violation", "rule": rule, "message": message}
    if isinstance(exc, PolicyViolation):
        return {"kind": "violation", "rule": exc.rule, "message": exc.message}
    if isinstance(exc, SoftTimeout):
        return {"kind": "timeout"}
    with read_frames(exc):
        frames = _own_frames(exc, sources)
        raised_here = _raised_by_own_statement(exc, sources)
    if isinstance(exc, MemoryError) and _is_exhaustion(exc, monitor, raised_here):
        return {"kind": "memory"}
    lines = []
    for filename, lineno, function in frames:
        lines.append(f'  File "{filename}", line {lineno}, in {function}')
        source = sources[filename]
        if 0 < lineno <= len(source):
            lines.append(f"    {source[lineno - 1].strip()}")
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a message that cannot be printed is still an error
        message = "<message cannot be shown>"
    return {"kind": "function", "exc_type": clean_text(type(exc).__name__),
            "message": clean_text(cut_text(message, _MAX_MESSAGE)[0]), "traceback": clean_text("\n".join(lines)),
            "line": frames[-1][1] if frames else None}


def _is_exhaustion(exc: MemoryError, monitor: Monitor, raised_here: bool) -> bool:
    kind = type(exc)
    if raised_here or kind in monitor.classes:
        return False
    return not (kind is MemoryError and exc.args)


def _own_frames(exc: BaseException, sources: dict[str, list[str]]) -> list[tuple[str, int, str]]:
    """(file, line, function) of the untrusted code's frames: the first 3 and the last 12."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in sources:
            frames.append((code.co_filename, tb.tb_lineno or 0, code.co_name))
        tb = tb.tb_next
    if len(frames) > _MAX_FRAMES:
        frames = frames[:3] + frames[-(_MAX_FRAMES - 3):]
    return frames


def _raised_by_own_statement(exc: BaseException, sources: dict[str, list[str]]) -> bool:
    """Whether the innermost frame is the untrusted code's own ``raise`` statement."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return code.co_filename in sources and code.co_code[tb.tb_lasti] == _RAISE
