"""A CPU-time limit on a pure computation, in any thread, without signals.

math-verify's own timeout uses ``signal.alarm``: it raises ``ValueError`` off
the main thread and, on the main thread, replaces whatever SIGALRM timer the
process had (pytest-timeout's, an application's). Instead we run the work in
the calling thread and let a watcher thread raise :class:`DeadlineExceeded` in
it through CPython's ``PyThreadState_SetAsyncExc``. Like a signal, the exception
lands between bytecodes, so it interrupts sympy's Python loops but not one long
C call (a huge integer power): such inputs are cut by size before they get here.

The limit is on the calling thread's **CPU time** (its POSIX per-thread clock),
so a loaded machine that gives the thread little of a core does not turn a
quick answer into a timeout; a generous wall-clock backstop still bounds a
thread that waits instead of computing. Where per-thread clocks are missing
(not POSIX), the limit falls back to wall-clock time.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DeadlineExceeded", "backstop_s", "call_with_deadline"]

T = TypeVar("T")


class DeadlineExceeded(BaseException):
    """Raised inside the worker when its time is up; ``clock`` is ``"cpu"`` or ``"wall"``.

    A BaseException, so that libraries' ``except Exception`` blocks (math-verify
    has several) do not swallow it and carry on.
    """

    clock = "cpu"


class _WallDeadlineExceeded(DeadlineExceeded):
    clock = "wall"


def backstop_s(cpu_s: float) -> float:
    """The default wall-clock backstop of a ``cpu_s`` CPU-time limit: 20 times it, at least a minute.

    A thread that gets a twentieth of a core (two cores shared by forty busy
    processes) still finishes inside it.
    """
    return max(60.0, 20.0 * cpu_s)


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # exc=None passes NULL, which clears a pending exception.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


def _cpu_clock(thread_id: int) -> Callable[[], float]:
    """Seconds of CPU time the thread has used, or wall-clock seconds where no per-thread clock exists."""
    try:
        clock_id = time.pthread_getcpuclockid(thread_id)
        time.clock_gettime(clock_id)
    except (AttributeError, OSError):  # no per-thread CPU clocks on this platform
        return time.monotonic
    return lambda: time.clock_gettime(clock_id)


def call_with_deadline(func: Callable[[], T], seconds: float, *, wall_s: float | None = None) -> T:
    """Call ``func()`` in this thread; raise :class:`DeadlineExceeded` once it used ``seconds`` of CPU time.

    The exception is delivered at most once and never after this function
    returns: a delivery still pending when ``func`` finishes is cancelled.

    Args:
        func: the computation; it must tolerate being interrupted at any bytecode.
        seconds: the CPU-time limit of this thread, > 0.
        wall_s: the wall-clock backstop (default :func:`backstop_s`).

    Returns:
        What ``func`` returned.

    Raises:
        DeadlineExceeded: ``func`` ran out of time (``.clock`` says which limit).
        ValueError: ``seconds`` or ``wall_s`` is not positive.
    """
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, not {seconds!r}")
    wall_limit = backstop_s(seconds) if wall_s is None else wall_s
    if not wall_limit > 0:
        raise ValueError(f"wall_s must be > 0, not {wall_s!r}")
    target = threading.get_ident()
    cpu = _cpu_clock(target)
    cpu_start, wall_start = cpu(), time.monotonic()
    lock = threading.Lock()
    done = threading.Event()
    state = {"finished": False, "fired": False}
    interval = min(0.01, max(0.0005, seconds / 10))

    def watch() -> None:
        while not done.wait(interval):
            try:
                over_cpu = cpu() - cpu_start >= seconds
            except OSError:  # the thread finished (and exited) since the wait: nothing left to limit
                return
            over_wall = time.monotonic() - wall_start >= wall_limit
            if over_cpu or over_wall:
                with lock:
                    if not state["finished"]:
                        state["fired"] = True
                        _set_async_exc(target, DeadlineExceeded if over_cpu else _WallDeadlineExceeded)
                return

    watcher = threading.Thread(target=watch, name="fnforge-deadline", daemon=True)
    watcher.start()
    try:
        return func()
    finally:
        # Once "finished" is set under the lock, watch() cannot inject any more;
        # if it already did and the exception is still pending, clear it. Should
        # it land inside this block instead, it propagates to our caller, which
        # is still inside call_with_deadline's contract.
        with lock:
            state["finished"] = True
            if state["fired"]:
                _set_async_exc(target, None)
        done.set()
