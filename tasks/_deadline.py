"""A time limit on a pure computation, in any thread, without signals.

math-verify's own timeout uses ``signal.alarm``: it raises ``ValueError`` off
the main thread and, on the main thread, replaces whatever SIGALRM timer the
process had (pytest-timeout's, an application's). Instead we run the work in
the calling thread and let a timer thread raise :class:`DeadlineExceeded` in it
through CPython's ``PyThreadState_SetAsyncExc``. Like a signal, the exception
lands between bytecodes, so it interrupts sympy's Python loops but not one long
C call (a huge integer power): such inputs are cut by size before they get here.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DeadlineExceeded", "call_with_deadline"]

T = TypeVar("T")


class DeadlineExceeded(BaseException):
    """Raised inside the worker when its time is up.

    A BaseException, so that libraries' ``except Exception`` blocks (math-verify
    has several) do not swallow it and carry on.
    """


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # exc=None passes NULL, which clears a pending exception.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


def call_with_deadline(func: Callable[[], T], seconds: float) -> T:
    """Call ``func()`` in this thread; raise :class:`DeadlineExceeded` if it runs past ``seconds``.

    The exception is delivered at most once and never after this function
    returns: a delivery still pending when ``func`` finishes is cancelled.

    Args:
        func: the computation; it must tolerate being interrupted at any bytecode.
        seconds: the limit, > 0.

    Returns:
        What ``func`` returned.

    Raises:
        DeadlineExceeded: ``func`` ran out of time.
        ValueError: ``seconds`` is not positive.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, not {seconds!r}")
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"finished": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["finished"]:
                state["fired"] = True
                _set_async_exc(target, DeadlineExceeded)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        return func()
    finally:
        # Once "finished" is set under the lock, fire() cannot inject any more;
        # if it already did and the exception is still pending, clear it. Should
        # it land inside this block instead, it propagates to our caller, which
        # is still inside call_with_deadline's contract.
        with lock:
            state["finished"] = True
            if state["fired"]:
                _set_async_exc(target, None)
        timer.cancel()
