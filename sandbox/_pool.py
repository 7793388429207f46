"""Sandbox: a warm pool of locked-down worker processes, safe to share between threads.

``Sandbox(policy, workers=2)`` starts ``workers`` processes plus ``spares``
pre-warmed spares. A call borrows an idle worker, sends the function set's
sources only if that worker has not loaded the set (keyed by ``tree_hash``),
and waits at most ``timeout_s + kill_grace_s``. A worker that overruns is
killed with its whole process group and replaced by a spare at once (a new
spare starts warming in the background); so is a worker that died, hit a
memory or time limit, tripped the audit hook, or served
``max_calls_per_worker`` calls. A worker runs at most
``max_sets_per_worker`` distinct function sets: a call prefers an idle worker
that already ran its set, and a worker with no room left for another set is
replaced first (libraries keep process-global state that one set could
poison for the next). Whatever happens to a worker, the caller gets a typed
:class:`SandboxError` and the pool keeps serving.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fnforge.functions import Problem
from fnforge.sandbox._exceptions import (FunctionError, SandboxCheckError, SandboxCrash, SandboxMemoryError,
                                 SandboxTimeout, SandboxViolation, UnknownFunctionError)
from fnforge.sandbox._files import encode_files
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox._process import WorkerProcess
from fnforge.sandbox._protocol import Broken, Overrun

__all__ = ["CallResult", "Sandbox"]

class _Function(Protocol):
    name: str
    code: str


class _FunctionSet(Protocol):
    """What the sandbox needs of ``functions.FunctionSet``."""

    @property
    def tree_hash(self) -> str: ...
    def __iter__(self) -> Any: ...
    def __contains__(self, name: object) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """The outcome of a successful call: a JSON-safe value and what the code printed.

    ``truncated`` says the value or the output was cut to the policy's limits.
    """

    value: Any
    stdout: str
    duration_s: float
    truncated: bool


def _shutdown(workers: set[WorkerProcess]) -> None:
    for worker in list(workers):
        worker.kill(wait=True)
    workers.clear()


class Sandbox:
    """Run untrusted functions in a pool of locked-down worker processes.

    Thread-safe: any number of threads may call :meth:`call` and
    :meth:`run_code` at once; each call borrows one worker.

    Args:
        policy: limits and allow-lists (the strict default when omitted).
        workers: processes serving calls concurrently.
        spares: extra pre-warmed processes that replace a killed worker at once.

    Example:
        >>> with Sandbox(SandboxPolicy(), workers=2) as sb:          # doctest: +SKIP
        ...     sb.call(function_set, "solve", {"x": 1}).value
    """

    def __init__(self, policy: SandboxPolicy | None = None, *, workers: int = 2, spares: int = 1,
                 _probes: bool = False, _audit: bool = True) -> None:
        if workers < 1 or spares < 0:
            raise ValueError("workers must be at least 1 and spares at least 0")
        self.policy = policy or SandboxPolicy()
        self.workers = workers
        self.spares = spares
        self._probes, self._audit = _probes, _audit
        self._idle: list[WorkerProcess] = []
        self._available = threading.Condition()
        self._spare_pool: list[WorkerProcess] = []
        self._all: set[WorkerProcess] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._hashes: OrderedDict[int, tuple[object, str]] = OrderedDict()
        self._finalizer = weakref.finalize(self, _shutdown, self._all)

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> Sandbox:
        """Start the worker processes (they warm up in the background); idempotent."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Sandbox is closed")
            if not self._started:
                self._started = True
                for _ in range(self.workers):
                    self._put_idle(self._spawn())
                self._spare_pool.extend(self._spawn() for _ in range(self.spares))
        return self

    def close(self) -> None:
        """Kill every worker; later calls raise RuntimeError."""
        with self._lock:
            self._closed = True
        _shutdown(self._all)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def isolation(self) -> dict[str, str]:
        """Which OS layers the workers could apply: layer -> ``on`` or ``off: <reason>``."""
        worker = self._acquire()
        try:
            worker.wait_ready()
            return dict(worker.layers)
        finally:
            self._release(worker)

    def _spawn(self) -> WorkerProcess:
        worker = WorkerProcess(self.policy, probes=self._probes, audit=self._audit)
        self._all.add(worker)
        return worker

    def _acquire(self, set_id: str | None = None) -> WorkerProcess:
        if self._closed:
            raise RuntimeError("this Sandbox is closed")
        if not self._started:
            self.start()
        with self._available:
            while not self._idle:
                if self._closed:
                    raise RuntimeError("this Sandbox is closed")
                self._available.wait(1.0)
            chosen = next((w for w in self._idle if set_id in w.sets), None)
            chosen = chosen or next((w for w in self._idle if not w.sets), None) or self._idle[0]
            self._idle.remove(chosen)
        if set_id is not None and set_id not in chosen.sets and len(chosen.sets) >= self.policy.max_sets_per_worker:
            chosen.kill()  # it ran other sets: their state must not reach this one
            self._all.discard(chosen)
            fresh = self._replacement()
            if fresh is None:
                raise RuntimeError("this Sandbox is closed")
            chosen = fresh
        return chosen

    def _put_idle(self, worker: WorkerProcess) -> None:
        with self._available:
            self._idle.append(worker)
            self._available.notify()

    def _release(self, worker: WorkerProcess) -> None:
        if worker.killed or self._closed:
            worker.kill()
            self._all.discard(worker)
            replacement = self._replacement()
            if replacement is None:
                return
            worker = replacement
        self._put_idle(worker)

    def _replacement(self) -> WorkerProcess | None:
        with self._lock:
            if self._closed:
                return None
            worker = self._spare_pool.pop(0) if self._spare_pool else self._spawn()
            while len(self._spare_pool) < self.spares:
                self._spare_pool.append(self._spawn())
            return worker

    # --- calls ---------------------------------------------------------------

    def call(self, function_set: _FunctionSet, name: str, kwargs: dict[str, Any] | None = None, *,
             files: Mapping[str, bytes] | None = None) -> CallResult:
        """Call one function of ``function_set`` with keyword arguments in a worker.

        Args:
            function_set: the set whose functions are defined (and can call each other).
            name: which function to call.
            kwargs: JSON-serialisable keyword arguments.
            files: plain file name -> contents, readable during this call only with the
                sandbox's read-only ``open`` (``_files.py``); at most
                ``policy.max_attachment_bytes`` in total.

        Returns:
            The JSON-safe result, captured stdout, duration and whether anything was cut.

        Raises:
            UnknownFunctionError: ``name`` is not in the set.
            SandboxCheckError: the function's source fails the static gate.
            SandboxTimeout, SandboxMemoryError, SandboxViolation, FunctionError, SandboxCrash:
                the call failed; see each class.
            TypeError: ``kwargs`` is not a JSON object with string keys.
            ValueError: ``files`` has a name that is not plain, a value that is not
                bytes, or more bytes than the policy allows.
            RuntimeError: the sandbox is closed.

        Example:
            >>> sb.call(fs, "double", {"x": 21}).value                 # doctest: +SKIP
            42
        """
        if name not in function_set:
            raise UnknownFunctionError(name, tuple(sorted(f.name for f in function_set)))
        arguments = {} if kwargs is None else kwargs
        if not isinstance(arguments, dict) or not all(isinstance(k, str) for k in arguments):
            raise TypeError("kwargs must be a dict with string keys")
        try:
            arguments = json.loads(json.dumps(arguments, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"kwargs must be JSON-serialisable: {exc}") from None
        message = {"op": "call", "name": name, "kwargs": arguments}
        return self._dispatch(_with_files(message, files, self.policy), function_set)

    def run_code(self, function_set: _FunctionSet, code: str, *,
                 files: Mapping[str, bytes] | None = None) -> CallResult:
        """Run a snippet with the set's functions in scope (the agents' ``run_python`` tool).

        Returns what the snippet printed and the value of its last expression.
        Each snippet starts from fresh globals; ``files`` are readable with
        ``open(name)`` / ``open(name, "rb")`` during this call only (see :meth:`call`).

        Raises:
            ValueError: bad ``files`` (see :meth:`call`).
            SandboxCheckError: the snippet fails the static gate.
            SandboxTimeout, SandboxMemoryError, SandboxViolation, FunctionError, SandboxCrash:
                as for :meth:`call`.

        Example:
            >>> sb.run_code(fs, "x = double(2)\\nprint(x)\\nx + 1").value  # doctest: +SKIP
            5
        """
        if not isinstance(code, str):
            raise TypeError("code must be a string")
        return self._dispatch(_with_files({"op": "run", "code": code}, files, self.policy), function_set)

    def _probe(self, code: str) -> CallResult:
        """Run raw, unguarded code in a worker (tests of the OS layers; needs ``_probes=True``)."""
        if not self._probes:
            raise RuntimeError("probes are disabled")
        return self._dispatch({"op": "probe", "code": code}, None)

    def _tree_hash(self, function_set: _FunctionSet) -> str:
        key = id(function_set)
        with self._lock:
            cached = self._hashes.get(key)
            if cached is not None and cached[0] is function_set:
                return cached[1]
        digest = function_set.tree_hash
        with self._lock:
            self._hashes[key] = (function_set, digest)
            while len(self._hashes) > 64:
                self._hashes.popitem(last=False)
        return digest

    def _dispatch(self, message: dict[str, Any], function_set: _FunctionSet | None) -> CallResult:
        policy = self.policy
        set_id = self._tree_hash(function_set) if function_set is not None else "probe"
        limit = 2 * policy.max_result_chars + 4 * policy.max_output_chars + (1 << 16)
        worker = self._acquire(set_id)
        started = time.perf_counter()
        try:
            worker.sets.add(set_id)
            message["set"] = set_id
            if set_id not in worker.known and function_set is not None:
                message["functions"] = _sources(function_set)
            reply = self._exchange(worker, message, limit)
            if reply.get("error", {}).get("kind") == "need_set" and function_set is not None:
                message["functions"] = _sources(function_set)
                reply = self._exchange(worker, message, limit)
            worker.known[set_id] = None
            worker.known.move_to_end(set_id)
            while len(worker.known) > 32:
                worker.known.popitem(last=False)
            worker.calls += 1
            if reply.get("retire") or worker.calls >= policy.max_calls_per_worker:
                worker.kill()
        finally:
            self._release(worker)
        duration = time.perf_counter() - started
        if reply.get("ok"):
            return CallResult(value=reply.get("value"), stdout=str(reply.get("stdout", "")),
                              duration_s=duration, truncated=bool(reply.get("truncated")))
        raise _error(reply.get("error") or {}, policy)

    def _exchange(self, worker: WorkerProcess, message: dict[str, Any], limit: int) -> dict[str, Any]:
        timeout = self.policy.timeout_s + self.policy.kill_grace_s
        try:
            return worker.request(message, timeout_s=timeout, limit=limit)
        except Overrun:
            worker.kill()
            raise SandboxTimeout(self.policy.timeout_s, hard=True) from None
        except (Broken, OSError) as exc:
            if self._closed:
                raise RuntimeError("this Sandbox was closed during the call") from None
            status = worker.exit_status()
            worker.kill()
            raise _death(status, exc, self.policy) from None


def _with_files(message: dict[str, Any], files: Mapping[str, bytes] | None,
                policy: SandboxPolicy) -> dict[str, Any]:
    encoded = encode_files(files, policy.max_attachment_bytes)
    if encoded:
        message["files"] = encoded
    return message


def _sources(function_set: Iterable[_Function]) -> list[dict[str, str]]:
    return [{"name": f.name, "code": f.code} for f in function_set]


def _death(status: int | None, exc: BaseException, policy: SandboxPolicy) -> Exception:
    if status is not None and status < 0:
        number = -status
        if number == signal.SIGXCPU:
            return SandboxTimeout(policy.timeout_s, hard=True)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return SandboxCrash(f"the worker was killed by {name}")
    return SandboxCrash(f"the worker stopped answering ({exc or 'pipe closed'}; exit status {status})")


def _error(error: dict[str, Any], policy: SandboxPolicy) -> Exception:
    kind = error.get("kind")
    if kind == "check":
        problems = [Problem(rule=str(p.get("rule", "")), message=str(p.get("message", "")),
                            line=p.get("line")) for p in error.get("problems", [])]
        return SandboxCheckError(str(error.get("function", "?")), problems)
    if kind == "violation":
        return SandboxViolation(str(error.get("rule", "?")), str(error.get("message", "")))
    if kind == "timeout":
        return SandboxTimeout(policy.timeout_s)
    if kind == "memory":
        return SandboxMemoryError(policy.memory_mb)
    if kind == "function":
        return FunctionError(str(error.get("exc_type", "Exception")), str(error.get("message", "")),
                             str(error.get("traceback", "")), line=error.get("line"))
    if kind == "unknown":
        return UnknownFunctionError(str(error.get("name", "?")), ())
    return SandboxCrash(str(error.get("message", f"unexpected reply {kind!r}")))
