"""Where a sweep's cells run: the :class:`Engine` contract and the local engine.

An engine runs :class:`~optimizer._sweep_worker.CellJob` attempts and hands
back their outcomes as they finish; the sweep decides what to start next. It
never shares Python objects of state with a cell: a job goes in as plain data,
an outcome comes back as plain data, and everything a cell learned travels
through git. :class:`LocalEngine` runs up to ``parallel`` cells at once on
this machine, each in its own ``fnforge train`` process and its own clone;
the Ray engine (:mod:`optimizer._sweep_ray`) runs each as a Ray task.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol

from fnforge.optimizer._sweep_worker import CellJob, CellOutcome, run_cell

__all__ = ["Engine", "LocalEngine", "StartHook"]

StartHook = Callable[[CellJob, int], None]
"""``on_start(job, pid)``: an attempt's ``fnforge train`` process started (local engine only)."""


class Engine(Protocol):
    """Runs cell attempts; the sweep keeps at most :attr:`slots` of them in flight.

    Attributes:
        name: ``local`` or ``ray``.
        slots: attempts in flight at once.
    """

    name: str
    slots: int

    def submit(self, job: CellJob) -> None:
        """Start one attempt."""

    def next_outcome(self) -> CellOutcome:
        """Block until an attempt in flight finishes; its outcome (a lost worker is an outcome too)."""

    def cancel(self) -> None:
        """Stop every attempt in flight (their committed steps stay in their clones)."""

    def close(self) -> None:
        """Release the engine's resources."""


class LocalEngine:
    """Up to ``parallel`` cells at once on this machine, each a ``fnforge train`` process of its own.

    Args:
        parallel: cells in flight at once.
        on_start: called with each attempt's job and process id.

    Raises:
        ValueError: ``parallel`` < 1.
    """

    name = "local"

    def __init__(self, parallel: int, *, on_start: StartHook | None = None) -> None:
        if parallel < 1:
            raise ValueError(f"LocalEngine needs parallel >= 1, got {parallel}")
        self.slots = parallel
        self._on_start = on_start
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fnforge-cell")
        self._futures: dict[Future[CellOutcome], CellJob] = {}
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, job: CellJob) -> None:
        self._futures[self._pool.submit(self._run, job)] = job

    def next_outcome(self) -> CellOutcome:
        if not self._futures:
            raise RuntimeError("no attempt in flight")
        done, _ = wait(self._futures, return_when=FIRST_COMPLETED)
        future = next(iter(done))
        job = self._futures.pop(future)
        error = future.exception()
        if error is not None:  # a bug in the worker, not a failed run: report it like a lost worker
            return CellOutcome(cell=job.cell, attempt=job.attempt, returncode=None,
                               error=f"the worker failed: {type(error).__name__}: {error}")
        return future.result()

    def cancel(self) -> None:
        with self._lock:
            pids = list(self._pids.values())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: CellJob) -> CellOutcome:
        def started(pid: int) -> None:
            with self._lock:
                self._pids[job.cell] = pid
            if self._on_start is not None:
                self._on_start(job, pid)

        try:
            return run_cell(job, on_start=started)
        finally:
            with self._lock:
                self._pids.pop(job.cell, None)
