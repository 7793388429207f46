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

_SHOTS = 50
_RETRY_S = 0.1


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

    The exception is delivered again every 0.1 s while ``func`` runs on (one
    that lands where it is swallowed is lost), and never after this function
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
    done = threading.Event()
    state = {"finished": False, "fired": False}

    def fire() -> None:
        # Fire again while func runs on: an async exception that lands in code
        # that swallows it (a gc callback, a __del__) is lost, not re-raised.
        for _ in range(_SHOTS):
            with lock:
                if state["finished"]:
                    return
                state["fired"] = True
                _set_async_exc(target, DeadlineExceeded)
            if done.wait(_RETRY_S):
                return

    def stop() -> None:
        with lock:
            state["finished"] = True
            if state["fired"]:
                _set_async_exc(target, None)
        done.set()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        try:
            return func()
        finally:
            # Once "finished" is set under the lock, fire() injects no more; a
            # delivery still pending is cleared.
            stop()
    except DeadlineExceeded:
        # The exception may have landed inside the finally above, before it
        # stopped the timer: stop it here (again) so no shot outlives this call.
        stop()
        raise
    finally:
        timer.cancel()
