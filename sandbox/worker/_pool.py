"""The warm pool behind a Sandbox: start, lend, replace and stop worker processes.

``workers`` processes serve calls, plus ``spares`` pre-warmed ones that
replace a killed worker at once (a new spare starts warming in the
background). A worker runs at most ``max_sets_per_worker`` distinct function
sets: a call prefers an idle worker that already ran its set, and a worker
with no room left for another set is replaced first (libraries keep
process-global state that one set could poison for the next). Every worker
is started from the pool's :class:`Spawner` thread, so all of them die with
the process (``_process.py``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any  # Any: messages as JSON

from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.worker._process import Spawner, WorkerProcess

__all__ = ["Pool"]


def _shutdown(workers: set[WorkerProcess], spawner: Spawner) -> None:
    for worker in list(workers):
        worker.kill(wait=True)
    workers.clear()
    spawner.stop()


class Pool:
    """Worker processes for one Sandbox (thread-safe)."""

    def __init__(self, policy: SandboxPolicy, *, workers: int, spares: int, options: dict[str, Any]) -> None:
        self.policy = policy
        self.workers = workers
        self.spares = spares
        self.options = options  # WorkerProcess keyword arguments: probes, audit, isolation...
        self.closed = False
        self.all: set[WorkerProcess] = set()
        self._idle: list[WorkerProcess] = []
        self._available = threading.Condition()
        self._spare_pool: list[WorkerProcess] = []
        self._lock = threading.Lock()
        self._started = False
        self._spawner = Spawner()
        self._finalizer = weakref.finalize(self, _shutdown, self.all, self._spawner)

    def start(self) -> None:
        """Start the worker processes (they warm up in the background); idempotent."""
        with self._lock:
            if self.closed:
                raise RuntimeError("this Sandbox is closed")
            if not self._started:
                self._started = True
                for _ in range(self.workers):
                    self._put_idle(self._spawn())
                self._spare_pool.extend(self._spawn() for _ in range(self.spares))

    def close(self) -> None:
        """Kill every worker and stop the spawner thread."""
        with self._lock:
            self.closed = True
        self._finalizer()

    def _spawn(self) -> WorkerProcess:
        worker = self._spawner.start(policy=self.policy, **self.options)
        self.all.add(worker)
        return worker

    def acquire(self, set_id: str | None = None) -> WorkerProcess:
        """An idle worker for ``set_id`` (waiting for one), replaced first if it has no room for the set."""
        if self.closed:
            raise RuntimeError("this Sandbox is closed")
        self.start()
        with self._available:
            while not self._idle:
                if self.closed:
                    raise RuntimeError("this Sandbox is closed")
                self._available.wait(1.0)
            chosen = next((w for w in self._idle if set_id in w.sets), None)
            chosen = chosen or next((w for w in self._idle if not w.sets), None) or self._idle[0]
            self._idle.remove(chosen)
        if set_id is not None and set_id not in chosen.sets and len(chosen.sets) >= self.policy.max_sets_per_worker:
            chosen.kill()  # it ran other sets: their state must not reach this one
            self.all.discard(chosen)
            fresh = self._replacement()
            if fresh is None:
                raise RuntimeError("this Sandbox is closed")
            chosen = fresh
        return chosen

    def release(self, worker: WorkerProcess) -> None:
        """Give ``worker`` back; a killed one is replaced by a spare."""
        if worker.killed or self.closed:
            worker.kill()
            self.all.discard(worker)
            replacement = self._replacement()
            if replacement is None:
                return
            worker = replacement
        self._put_idle(worker)

    def _put_idle(self, worker: WorkerProcess) -> None:
        with self._available:
            self._idle.append(worker)
            self._available.notify()

    def _replacement(self) -> WorkerProcess | None:
        with self._lock:
            if self.closed:
                return None
            worker = self._spare_pool.pop(0) if self._spare_pool else self._spawn()
            while len(self._spare_pool) < self.spares:
                self._spare_pool.append(self._spawn())
            return worker
