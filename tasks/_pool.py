r"""MATH scoring in worker processes that the kernel stops when an answer uses up its CPU time.

math-verify turns model-written LaTeX into sympy expressions, and sympy
evaluates integer arithmetic as it builds them: ``(3^{99999})^{99999}`` is one
C-level power that runs for hours, which no in-process limit can interrupt.
:class:`ScoringPool` runs the comparison in long-lived workers, started from the
``forkserver`` (the host has threads, so never ``fork``) with math-verify
preloaded. Before each answer a worker sets its own ``RLIMIT_CPU`` to the CPU
time it has used plus the answer's limit (rounded up to a whole second, the
rlimit's unit), so the kernel ends it with SIGXCPU however the machine is
loaded; the parent also kills a worker that outlives a generous wall-clock
backstop. Either way the answer has no verdict (:class:`~tasks.ScoringTimeout`,
recorded as *unscored*, not wrong); the worker is replaced on next use.

Requests and replies cross the pipe as JSON bytes (never pickles): the parent
reads nothing from a worker but ``true`` / ``false`` or a short error string.
"""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import queue
import resource
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any  # Any: scoring arguments passed to a worker process

from fnforge.tasks._deadline import backstop_s
from fnforge.tasks._exceptions import ScoringTimeout, TaskError
from fnforge.tasks._math import equivalent, prepare_math
from fnforge.tasks._model import Task
from fnforge.tasks._score import score_with

__all__ = ["ScoringPool"]

# The forkserver imports these once (tasks._warm also runs a few comparisons);
# each worker forks from it with math-verify loaded and warm, so a replacement
# starts in milliseconds. "__main__" is multiprocessing's own default.
_PRELOAD = ["__main__", "math_verify", "fnforge.tasks._pool", "fnforge.tasks._warm"]
_MAX_REPLY_BYTES = 4096
_REAP_S = 5.0


class ScoringPool:
    r"""1..``workers`` processes that score MATH answers; other scorers run in the caller.

    Workers start on the first MATH answer that needs one (a pool that scores
    nothing starts no process) and live until :meth:`close`. Thread-safe: each
    call takes an idle worker, or waits for one. An answer that runs past its
    CPU-time limit (or the wall-clock backstop) raises :class:`~tasks.ScoringTimeout`;
    one that crashes its worker is wrong. Either way that worker is gone and a
    fresh one takes its place on next use. As with any non-fork start method, a
    script that scores MATH answers needs ``if __name__ == "__main__":``.

    Args:
        workers: most processes at once (and most MATH answers compared at once).
        start_timeout_s: limit on one worker's start (preloading math-verify).

    Raises:
        ValueError: ``workers < 1`` or ``start_timeout_s <= 0``.

    Example:
        >>> with ScoringPool() as pool:
        ...     pool.score(Task(id="1", question="?", answer=r"\frac12", domain="math"), "0.5")
        True
    """

    def __init__(self, workers: int = 2, *, start_timeout_s: float = 60.0) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if not start_timeout_s > 0:
            raise ValueError(f"start_timeout_s must be > 0, got {start_timeout_s!r}")
        self._start_timeout_s = start_timeout_s
        self._closed = False
        self._close_lock = threading.Lock()
        self._slots = tuple(_Slot(self) for _ in range(workers))
        # Last in, first out: sequential use keeps reusing one warm worker.
        self._idle: queue.LifoQueue[_Slot] = queue.LifoQueue()
        for slot in self._slots:
            self._idle.put(slot)

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    @property
    def workers(self) -> int:
        """The most processes (and MATH answers compared at once) of this pool."""
        return len(self._slots)

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the workers running now (none before the first MATH answer)."""
        return tuple(pid for slot in self._slots if (pid := slot.pid) is not None)

    def score(self, task: Task, answer_text: str, *, timeout_s: float = 5.0, wall_s: float | None = None) -> bool:
        """Whether ``answer_text`` is correct for ``task``: :func:`~tasks.score`'s rules, MATH in a worker.

        Args:
            task: the task; its domain (or ``metadata["scorer"]``) picks the scorer.
            answer_text: the extracted answer.
            timeout_s: CPU-time limit on a MATH comparison (rounded up to a whole second).
            wall_s: wall-clock backstop (default: 20 times ``timeout_s``, at least 60 s).

        Raises:
            ScoringTimeout: the comparison ran out of time: no verdict.
            TaskError: the task names an unknown scorer, the pool is closed, or a
                worker cannot start (math-verify fails to import).
            ValueError: ``timeout_s`` or ``wall_s`` is not positive.
        """
        math_scorer = functools.partial(self.score_math, timeout_s=timeout_s, wall_s=wall_s)
        return score_with(task, answer_text, math=math_scorer)

    def score_math(self, reference: str, answer: str, *, timeout_s: float = 5.0, wall_s: float | None = None) -> bool:
        """:func:`~tasks.score_math` in a worker: the same verdicts, and limits that stop C code too.

        Raises:
            ScoringTimeout: the comparison ran out of time: no verdict.
            TaskError: the pool is closed, or a worker cannot start.
            ValueError: ``timeout_s`` or ``wall_s`` is not positive.
        """
        wall = backstop_s(timeout_s) if wall_s is None else wall_s
        if not timeout_s > 0 or not wall > 0:
            raise ValueError(f"timeout_s and wall_s must be > 0, got {timeout_s!r} and {wall_s!r}")
        if self._closed:
            raise TaskError("scoring pool is closed")
        prepared = prepare_math(reference, answer)
        if prepared is None:
            return False
        request = json.dumps([*prepared, timeout_s]).encode()
        slot = self._idle.get()
        try:
            return slot.ask(request, timeout_s, wall)
        finally:
            self._idle.put(slot)

    def close(self) -> None:
        """Kill every worker (an answer being compared now raises :class:`TaskError`) and wait for them to exit.

        Idempotent; later MATH answers raise :class:`TaskError`.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            for slot in self._slots:
                slot.kill()
            # Callers holding a slot see their worker die at once and hand it back.
            slots = [self._idle.get() for _ in self._slots]
            for slot in slots:
                slot.reap()
            for slot in slots:
                self._idle.put(slot)


class _Slot:
    """One worker place: its process (or none yet) and the lock over starting and stopping it."""

    def __init__(self, pool: ScoringPool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            process = self._process
            return process.pid if process is not None and process.is_alive() else None

    def ask(self, request: bytes, cpu_s: float, wall_s: float) -> bool:
        """Send one prepared pair and wait for the verdict; called only by the slot's holder.

        Raises:
            ScoringTimeout: the worker used up ``cpu_s`` (the kernel ended it) or outlived ``wall_s``.
            TaskError: the pool was closed meanwhile.
        """
        for _ in range(2):  # a worker that died while idle never saw the request: retry once on a fresh one
            conn = self._ready_conn()
            try:
                conn.send_bytes(request)
            except OSError:
                self.reap()
                continue
            try:
                if not conn.poll(wall_s):
                    self.reap()
                    raise ScoringTimeout(wall_s, "wall")
                return json.loads(conn.recv_bytes(_MAX_REPLY_BYTES)) is True
            except ValueError:
                self.reap()  # it wrote nonsense: a broken worker, and a wrong answer
                return False
            except (EOFError, OSError):
                signalled = self.reap(exited=True)  # it died on this answer
            if self._pool.closed:
                raise TaskError("scoring pool is closed")
            if signalled == signal.SIGXCPU:
                raise ScoringTimeout(cpu_s, "cpu")
            return False  # it crashed on this answer: wrong
        return False

    def kill(self) -> None:
        """SIGKILL the worker, without waiting (a holder of the slot sees its pipe close)."""
        with self._lock:
            if self._process is not None:
                self._process.kill()

    def reap(self, *, exited: bool = False) -> int | None:
        """Kill the worker if it runs, wait for it, and release its pipe; the slot is empty after.

        ``exited``: the worker is known to be dying (its pipe closed), so its own
        exit is awaited first. Returns the signal that ended it before any kill
        of ours (e.g. SIGXCPU), if one did.
        """
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        ended_by: int | None = None
        if process is not None:
            if exited:
                process.join(_REAP_S)
                code = process.exitcode
                ended_by = -code if code is not None and code < 0 else None
            process.kill()
            process.join(_REAP_S)
            if process.exitcode is not None:
                process.close()
        if conn is not None:
            conn.close()
        return ended_by

    def _ready_conn(self) -> Connection:
        with self._lock:
            if self._process is not None and self._process.is_alive() and self._conn is not None:
                return self._conn
        self.reap()
        with self._lock:
            if self._pool.closed:  # checked under the lock close() kills under: no worker outlives close()
                raise TaskError("scoring pool is closed")
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            parent, child = ctx.Pipe(duplex=True)
            process = ctx.Process(target=_serve, args=(child,), name="fnforge-math-scorer", daemon=True)
            process.start()
            child.close()
            self._process, self._conn = process, parent
        error = _await_ready(parent, self._pool._start_timeout_s)  # noqa: SLF001  # the pool's own setting
        if error is not None:
            self.reap()
            if self._pool.closed:
                raise TaskError("scoring pool is closed")
            raise TaskError(f"MATH scoring worker failed to start: {error}")
        return parent


def _await_ready(conn: Connection, timeout_s: float) -> str | None:
    """``None`` once the worker reports ready, else why it did not."""
    try:
        if not conn.poll(timeout_s):
            return f"not ready after {timeout_s:g} s"
        reply: Any = json.loads(conn.recv_bytes(_MAX_REPLY_BYTES))
    except (EOFError, OSError, ValueError) as exc:
        return f"it exited ({type(exc).__name__})"
    if reply == "ready":
        return None
    return str(reply)[:300] if isinstance(reply, str) else "it sent an unexpected reply"


def _limit_cpu(seconds: float) -> None:
    """Let the kernel end this process (SIGXCPU) once it used ``seconds`` more CPU time (whole seconds, up)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _serve(conn: Connection) -> None:
    """Worker process: answer ``[reference, answer, cpu_s]`` requests with ``true`` / ``false`` until the pipe closes.

    Each answer gets ``cpu_s`` seconds of CPU time (RLIMIT_CPU); the default
    action of SIGXCPU ends the process, without a core file (RLIMIT_CORE 0).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's to handle; it closes the pool
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        import math_verify  # noqa: F401, PLC0415  # preloaded by the forkserver
    except Exception as exc:  # noqa: BLE001  # reported to the parent, which raises
        conn.send_bytes(json.dumps(f"{type(exc).__name__}: {exc}").encode())
        return
    conn.send_bytes(b'"ready"')
    while True:
        try:
            request = conn.recv_bytes()
        except EOFError:
            return
        try:
            reference, answer, cpu_s = json.loads(request)
            _limit_cpu(float(cpu_s))
            verdict = equivalent(str(reference), str(answer))
        except Exception:  # noqa: BLE001  # a parser bug on hostile text is a wrong answer
            verdict = False
        conn.send_bytes(b"true" if verdict else b"false")
