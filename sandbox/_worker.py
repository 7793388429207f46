"""The worker process: lock itself down, then answer requests until its pipe closes.

Started by ``_pool.py`` as ``python -I -B -c <boot> <config-json>`` with an
empty temporary working directory, a scrubbed environment, stdin/stdout
connected to ``/dev/null`` and stderr to a log file; the protocol runs on
two inherited pipe descriptors only.

Start-up order matters (each step needs privileges the next one removes):
network namespace -> imports, proxies and a warm-up -> Landlock -> rlimits ->
capabilities dropped -> seccomp -> audit hook -> "ready". Only then is
untrusted code read from the pipe.

Per request: load the request's files (kept in memory, see ``_files.py``)
for the curated ``open``; reset the violation record, captured output and
``decimal`` context; set the CPU-time soft limit and a ``SIGALRM`` timer;
run; encode the result, describe an error (``str(exc)``) and drop both while
still under the timer, so a returned generator's ``finally`` or an object's
special methods run inside the window. The audit hook enforces from "ready"
on, between requests too (only the worker's own ``setrlimit`` is exempt):
untrusted code can also run from a finalizer at any later time. If the code swallows
the timer's ``SoftTimeout``, a second alarm 0.1 s later answers "timeout"
itself and exits; if the code is stuck in C, the parent's hard kill at
``timeout_s + kill_grace_s`` ends it. After the window the files are dropped
and every handle opened on them is closed.
"""

from __future__ import annotations

import decimal
import json
import math
import os
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

from fnforge.sandbox._audit import AuditHook
from fnforge.sandbox._files import decode_files
from fnforge.sandbox._oslayer import apply_landlock, apply_rlimits, apply_seccomp, drop_capabilities, unshare_network
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox._protocol import read_message, write_message
from fnforge.sandbox._runtime import LoadedSet, Runtime, SoftTimeout, check_error

__all__ = ["main"]

_REQUEST_LIMIT = 64 * 1024 * 1024


class _Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.policy = SandboxPolicy.from_dict(config["policy"])
        self.rfd, self.wfd = config["fds"]
        self.probes = bool(config.get("probes", False))
        self.layers: dict[str, str] = {"network": unshare_network()}
        self.runtime = Runtime(self.policy)
        self.monitor = self.runtime.monitor
        self.alarms = 0
        self._warm_up()
        self.layers["landlock"] = apply_landlock(config["read_roots"])
        self.layers["rlimits"] = apply_rlimits(memory_mb=self.policy.memory_mb)
        self.layers["capabilities"] = drop_capabilities()
        self.layers["seccomp"] = apply_seccomp()
        hook = AuditHook(self.monitor, config["read_roots"], enforce=config.get("audit", True))
        sys.addaudithook(hook)
        self.layers["audit_hook"] = "on" if hook.enforce else "off: disabled for OS-layer probes"
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _warm_up(self) -> None:
        """Exercise the common lazy paths once, before the filesystem is closed."""
        code = ("import sympy\nimport numpy\nx = sympy.Symbol('x')\n"
                "sympy.solve(x**2 - 2, x)\nsympy.sympify('x + 1')\nnumpy.array([1.0]).sum()\n"
                "sympy.nsolve(sympy.cos(x) - x, 1)\n")
        modules = self.policy.allowed_modules
        if "sympy" in modules and "numpy" in modules:
            loaded = LoadedSet()
            compiled = self.runtime.snippet(code)
            if compiled.body is not None:
                self.runtime.run(loaded, compiled, code)
        self.runtime.output.reset()

    def _on_alarm(self, signum: int, frame: Any) -> None:
        self.alarms += 1
        if self.alarms == 1:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            raise SoftTimeout()
        # The code caught the SoftTimeout: answer for it and end this process.
        write_message(self.wfd, {"ok": False, "error": {"kind": "timeout"}, "retire": True,
                                 "stdout": self.runtime.output.text()})
        os._exit(0)

    def serve(self) -> None:
        self.monitor.untrusted = True  # from now on, for good (see the module docstring)
        write_message(self.wfd, {"ready": True, "pid": os.getpid(), "layers": self.layers})
        while True:
            try:
                request = read_message(self.rfd, limit=_REQUEST_LIMIT)
            except Exception:  # noqa: BLE001 - the parent went away or broke the protocol
                os._exit(0)
            write_message(self.wfd, self.handle(request))

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "probe" and self.probes:
            code = str(request.get("code", ""))
            return self._window(LoadedSet(), lambda: _raw(code))
        if op not in ("call", "run"):
            return {"ok": False, "error": {"kind": "crash", "message": f"unknown op {op!r}"}}
        set_id = str(request["set"])
        loaded = self.runtime.cached(set_id)
        if loaded is None:
            functions = request.get("functions")
            if functions is None:
                return {"ok": False, "error": {"kind": "need_set"}}
            holder: list[LoadedSet] = []
            reply = self._window(LoadedSet(), lambda: holder.append(self.runtime.load(set_id, functions)))
            if not holder:
                return reply
            loaded = holder[0]
        if op == "call":
            name = str(request["name"])
            if name not in loaded.functions:
                error = self.runtime.failure(loaded, name) or {"kind": "unknown", "name": name}
                return {"ok": False, "error": error, "stdout": "", "retire": self.monitor.retire}
            kwargs = request.get("kwargs") or {}
            return self._with_files(request, loaded, lambda: self.runtime.call(loaded, name, kwargs))
        code = str(request["code"])
        compiled = self.runtime.snippet(code)
        if compiled.problems:
            return {"ok": False, "error": check_error("<run_python>", compiled), "stdout": ""}
        return self._with_files(request, loaded, lambda: self.runtime.run(loaded, compiled, code))

    def _with_files(self, request: dict[str, Any], loaded: LoadedSet, action: Callable[[], Any]) -> dict[str, Any]:
        """Run ``action`` in a window with the request's files readable by ``open``, then drop them.

        The files stay in memory (``_files.py``): nothing is written, so no OS layer is loosened.
        """
        try:
            files = decode_files(request.pop("files", None), self.policy.max_attachment_bytes)
        except ValueError as exc:
            return {"ok": False, "error": {"kind": "crash", "message": f"bad files: {exc}"}, "stdout": ""}
        self.runtime.files.load(files)
        del files
        try:
            return self._window(loaded, action)
        finally:
            self.runtime.files.clear()

    def _window(self, loaded: LoadedSet, action: Callable[[], Any]) -> dict[str, Any]:
        """Run ``action`` as untrusted code under every per-call limit; return the reply."""
        runtime, monitor = self.runtime, self.monitor
        monitor.reset()
        runtime.output.reset()
        self.alarms = 0
        decimal.setcontext(decimal.Context())
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = used.ru_utime + used.ru_stime + self.policy.timeout_s + self.policy.kill_grace_s + 1
        with monitor.trusted():  # our own setrlimit is the one audited event we need
            resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(cpu), resource.RLIM_INFINITY))
        signal.setitimer(signal.ITIMER_REAL, self.policy.timeout_s)
        try:
            reply = self._outcome(loaded, action)
            if monitor.violation is not None:
                rule, message = monitor.violation
                reply = {"ok": False, "error": {"kind": "violation", "rule": rule, "message": message}}
        except BaseException as exc:  # noqa: BLE001 - a timeout while describing or finalizing
            reply = {"ok": False, "error": {"kind": "timeout" if isinstance(exc, SoftTimeout) else "crash",
                                            "message": f"{type(exc).__name__} while finishing the call"}}
            if monitor.violation is not None:
                rule, message = monitor.violation
                reply["error"] = {"kind": "violation", "rule": rule, "message": message}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        kind = reply.get("error", {}).get("kind")
        reply["stdout"] = runtime.output.text()
        reply["retire"] = monitor.retire or kind in ("timeout", "memory", "crash")
        return reply

    def _outcome(self, loaded: LoadedSet, action: Callable[[], Any]) -> dict[str, Any]:
        """Run, then encode or describe, dropping every reference to untrusted objects here."""
        try:
            value = action()
            return self.runtime.success(value)  # ``value`` dies with this frame, under the timer
        except BaseException as exc:  # noqa: BLE001 - every outcome of untrusted code is a reply
            error = self.runtime.describe(exc, loaded)
            chained: BaseException | None = exc
            for _ in range(100):  # the frames hold untrusted locals: finalize them now
                if chained is None:
                    break
                chained.__traceback__ = None
                chained = chained.__context__
            return {"ok": False, "error": error}


def _raw(code: str) -> Any:
    """Run unguarded code (``_probes`` workers only: tests of the OS layers); return ``result``."""
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - test-only raw probe, still inside every OS layer
    return namespace.get("result")


def main() -> None:
    """Entry point of a worker process (argv[1] is the JSON config)."""
    config = json.loads(sys.argv[1])
    _Worker(config).serve()
