"""Sandbox: run untrusted functions in a warm pool of confined worker processes.

A call borrows an idle worker (``_pool.py``), sends the function set's
sources only if that worker has not loaded the set (keyed by ``tree_hash``;
loading is a request of its own, so defining the set never eats into the
call's time), and waits at most ``timeout_s + kill_grace_s``. Then:

- a reply that arrives after ``timeout_s`` is a timeout, whatever it says;
- a reply that is malformed, too deep, too large, answers another request
  or does not fit the protocol is a :class:`SandboxCrash`;
- a worker that overran, died, hit a limit, tripped the audit hook, broke the
  protocol or served ``max_calls_per_worker`` calls is killed with its whole
  process group and replaced by a spare at once.

Whatever happens to a worker, the caller gets a typed :class:`SandboxError`
and the pool keeps serving; nothing a worker sent after a protocol error is
ever delivered to anyone.
"""

from __future__ import annotations

import json
import signal
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol  # Any: JSON arguments and results

from fnforge.functions import JSONInputError, load_json
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.boundary._errors import SandboxCrash, SandboxTimeout, UnknownFunctionError
from fnforge.sandbox.boundary._protocol import Broken, Closed, Overrun, Stale
from fnforge.sandbox.boundary._replies import CallResult, ProtocolError, error_of, result_of
from fnforge.sandbox.runtime._files import encode_files
from fnforge.sandbox.worker._pool import Pool
from fnforge.sandbox.worker._process import WorkerProcess

__all__ = ["Sandbox"]

_MAX_ARGUMENT_DEPTH = 64
_ATTEMPTS = 3  # a request a misbehaving worker did not answer goes to a fresh worker
_KNOWN_SETS = 32  # per worker; the worker's runtime keeps as many (an LRU each)


class _Function(Protocol):
    name: str
    code: str


class _FunctionSet(Protocol):
    """What the sandbox needs of ``functions.FunctionSet``."""

    @property
    def tree_hash(self) -> str: ...
    def __iter__(self) -> Any: ...
    def __contains__(self, name: object) -> bool: ...


class Sandbox:
    """Run untrusted functions in a pool of confined worker processes.

    Thread-safe: any number of threads may call :meth:`call` and
    :meth:`run_code` at once; each call borrows one worker.

    Args:
        policy: limits and allow-lists (the strict default when omitted).
        workers: processes serving calls concurrently.
        spares: extra pre-warmed processes that replace a killed worker at once.
        require_isolation: refuse to run untrusted code (``SandboxIsolationError``)
            on a host where a core OS layer (private read-only root, unprivileged
            uid, seccomp allow-list) is unavailable. ``False`` is the documented
            opt-out: the code then runs behind the Python guards and whatever
            layers the host does provide.

    Example:
        >>> with Sandbox(SandboxPolicy(), workers=1) as sb:
        ...     sb.call(fs, "double", {"x": 21}).value
        42
    """

    def __init__(self, policy: SandboxPolicy | None = None, *, workers: int = 2, spares: int = 1,
                 require_isolation: bool = True, _probes: bool = False, _audit: bool = True,
                 _skip_layers: tuple[str, ...] = (), _extra_roots: tuple[str, ...] = ()) -> None:
        if workers < 1 or spares < 0:
            raise ValueError("workers must be at least 1 and spares at least 0")
        self.policy = policy or SandboxPolicy()
        self.workers = workers
        self.spares = spares
        self.require_isolation = require_isolation
        self._probes = _probes
        options = {"probes": _probes, "audit": _audit, "require_isolation": require_isolation,
                   "skip_layers": _skip_layers, "extra_roots": _extra_roots}
        self._pool = Pool(self.policy, workers=workers, spares=spares, options=options)
        self._hashes: OrderedDict[int, tuple[object, str]] = OrderedDict()
        self._hashes_lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> Sandbox:
        """Start the worker processes (they warm up in the background); idempotent."""
        self._pool.start()
        return self

    def close(self) -> None:
        """Kill every worker; later calls raise RuntimeError."""
        self._pool.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def _all(self) -> set[WorkerProcess]:
        return self._pool.all

    @property
    def isolation(self) -> dict[str, str]:
        """Which OS layers the workers apply: layer -> ``on ...`` or ``off: <reason>``.

        Raises:
            SandboxIsolationError: a core layer is off and isolation is required.
        """
        worker = self._pool.acquire()
        try:
            worker.wait_ready()
            return dict(worker.layers)
        finally:
            self._pool.release(worker)

    # --- calls ---------------------------------------------------------------

    def call(self, function_set: _FunctionSet, name: str, kwargs: dict[str, Any] | None = None, *,
             files: Mapping[str, bytes] | None = None) -> CallResult:
        """Call one function of ``function_set`` with keyword arguments in a worker.

        Args:
            function_set: the set whose functions are defined (and can call each other).
            name: which function to call.
            kwargs: JSON-serialisable keyword arguments (finite numbers, nested at most 64 deep).
            files: plain file name -> contents, readable during this call only with the
                sandbox's read-only ``open`` (``runtime/_files.py``); at most
                ``policy.max_attachment_bytes`` in total.

        Returns:
            The JSON-safe result, captured stdout, duration, whether anything was cut,
            and which of the set's functions the call used.

        Raises:
            UnknownFunctionError: ``name`` is not in the set.
            SandboxCheckError: the function's source fails the static gate.
            SandboxTimeout, SandboxMemoryError, SandboxViolation, FunctionError, SandboxCrash:
                the call failed; see each class.
            SandboxIsolationError: the host cannot isolate untrusted code (see ``require_isolation``);
                not a ``SandboxError``.
            TypeError: ``kwargs`` is not a JSON object with string keys.
            ValueError: ``files`` has a name that is not plain, a value that is not
                bytes, or more bytes than the policy allows.
            RuntimeError: the sandbox is closed.

        Example:
            >>> with Sandbox(SandboxPolicy(), workers=1) as sb:
            ...     sb.call(fs, "double", {"x": 21}).value
            42
        """
        if name not in function_set:
            raise UnknownFunctionError(name, tuple(sorted(f.name for f in function_set)))
        message = {"op": "call", "name": name, "kwargs": _json_arguments(kwargs)}
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
            SandboxTimeout, SandboxMemoryError, SandboxViolation, FunctionError, SandboxCrash,
            SandboxIsolationError: as for :meth:`call`.

        Example:
            >>> with Sandbox(SandboxPolicy(), workers=1) as sb:
            ...     sb.run_code(fs, "x = double(2)\\nprint(x)\\nx + 1").value
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
        with self._hashes_lock:
            cached = self._hashes.get(key)
            if cached is not None and cached[0] is function_set:
                return cached[1]
        digest = function_set.tree_hash
        with self._hashes_lock:
            self._hashes[key] = (function_set, digest)
            while len(self._hashes) > 64:
                self._hashes.popitem(last=False)
        return digest

    def _dispatch(self, message: dict[str, Any], function_set: _FunctionSet | None) -> CallResult:
        set_id = self._tree_hash(function_set) if function_set is not None else "probe"
        names = frozenset(f.name for f in function_set) if function_set is not None else frozenset()
        for _ in range(_ATTEMPTS - 1):
            try:
                return self._dispatch_once(message, function_set, set_id, names)
            except Stale:
                continue  # that worker is gone: the request goes to a fresh one
        try:
            return self._dispatch_once(message, function_set, set_id, names)
        except Stale:
            raise SandboxCrash("workers kept sending replies to earlier requests") from None

    def _dispatch_once(self, message: dict[str, Any], function_set: _FunctionSet | None, set_id: str,
                       names: frozenset[str]) -> CallResult:
        worker = self._acquire(set_id)
        try:
            worker.sets.add(set_id)
            reply, elapsed = self._request(worker, {**message, "set": set_id}, function_set)
            worker.calls += 1
            if reply.get("retire") is not False or worker.calls >= self.policy.max_calls_per_worker \
                    or worker.has_unread():
                worker.kill()
            return self._outcome(worker, reply, elapsed, names)
        finally:
            self._pool.release(worker)

    def _acquire(self, set_id: str) -> WorkerProcess:
        """An idle worker that has written nothing since its last reply (one that did is replaced)."""
        while True:
            worker = self._pool.acquire(set_id)
            if not worker.has_unread():
                return worker
            worker.kill()
            self._pool.release(worker)

    def _request(self, worker: WorkerProcess, message: dict[str, Any],
                 function_set: _FunctionSet | None) -> tuple[dict[str, Any], float]:
        if function_set is not None and message["set"] not in worker.known:
            self._load(worker, message["set"], function_set)
        reply, elapsed = self._exchange(worker, message)
        if _error_kind(reply) == "need_set" and function_set is not None:
            self._load(worker, message["set"], function_set)
            reply, elapsed = self._exchange(worker, message)
        return reply, elapsed

    def _load(self, worker: WorkerProcess, set_id: str, function_set: _FunctionSet) -> None:
        reply, elapsed = self._exchange(worker, {"op": "load", "set": set_id, "functions": _sources(function_set)})
        self._outcome(worker, reply, elapsed, frozenset())
        worker.known[set_id] = None
        while len(worker.known) > _KNOWN_SETS:
            worker.known.popitem(last=False)

    def _exchange(self, worker: WorkerProcess, message: dict[str, Any]) -> tuple[dict[str, Any], float]:
        policy = self.policy
        # UTF-8 takes at most 4 bytes a character; an error carries at most a traceback of source lines.
        limit = 4 * (policy.max_result_chars + policy.max_output_chars + policy.max_source_chars) + (1 << 16)
        try:
            return worker.request(message, timeout_s=policy.timeout_s + policy.kill_grace_s, limit=limit)
        except Stale:
            worker.kill()
            raise
        except Overrun:
            worker.kill()
            raise SandboxTimeout(policy.timeout_s, hard=True) from None
        except (Broken, OSError) as exc:
            if self._pool.closed:
                raise RuntimeError("this Sandbox was closed during the call") from None
            status = worker.exit_status() if isinstance(exc, (Closed, OSError)) else None
            worker.kill()
            raise _death(status, exc, policy) from None

    def _outcome(self, worker: WorkerProcess, reply: dict[str, Any], elapsed: float,
                 names: frozenset[str]) -> CallResult:
        """The reply as a result, or the error to raise (any protocol error retires the worker)."""
        if elapsed > self.policy.timeout_s:
            worker.kill()
            raise SandboxTimeout(self.policy.timeout_s)
        if reply.get("retire") not in (True, False):
            worker.kill()
        try:
            if reply.get("ok") is True:
                return result_of(reply, duration_s=elapsed, names=names)
            if reply.get("ok") is False:
                raise error_of(reply.get("error"), self.policy)
            raise ProtocolError("a reply is neither a result nor an error")
        except ProtocolError as exc:
            worker.kill()
            raise SandboxCrash(f"the worker broke the protocol ({exc})") from None


def _json_arguments(kwargs: dict[str, Any] | None) -> dict[str, Any]:
    arguments = {} if kwargs is None else kwargs
    if not isinstance(arguments, dict) or not all(isinstance(k, str) for k in arguments):
        raise TypeError("kwargs must be a dict with string keys")
    try:
        text = json.dumps(arguments, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        reason = exc if not isinstance(exc, RecursionError) else "nested too deeply"
        raise TypeError(f"kwargs must be JSON-serialisable: {reason}") from None
    try:
        value: dict[str, Any] = load_json(text, max_bytes=len(text) + 1, max_depth=_MAX_ARGUMENT_DEPTH)
    except JSONInputError as exc:
        raise TypeError(f"kwargs must be JSON-serialisable: {exc}") from None
    return value


def _error_kind(reply: dict[str, Any]) -> Any:
    error = reply.get("error")
    return error.get("kind") if isinstance(error, dict) else None


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
