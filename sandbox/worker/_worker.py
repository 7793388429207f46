"""The worker process: confine itself, then answer requests until its pipe closes.

Started by ``_process.py`` as ``python -I -B -c <boot> <config-json>`` in an
empty temporary directory with a scrubbed environment, stdin/stdout on
``/dev/null`` and stderr in a log file; the protocol runs on two inherited
pipe descriptors only.

Start-up order matters (each step needs something the next one removes):
parent-death signal -> imports, proxies and a warm-up (lazy imports still
see the whole filesystem) -> namespaces -> private read-only root -> uid ->
capabilities -> rlimits -> parent-death signal again (a credential change
clears it) -> stray descriptors closed, stderr to ``/dev/null`` -> Landlock
-> SIGALRM handler -> seccomp -> audit hook -> "ready". Only then is
untrusted code read from the pipe. ``_confine.py`` explains each layer.

Requests (``op``): ``load`` defines a function set, ``call`` calls one of
its functions, ``run`` runs a ``run_python`` snippet, ``probe`` runs raw
code (test workers only). Each reply echoes the request's ``id``.

Per request: load the request's files (kept in memory, see
``runtime/_files.py``) for the curated ``open``; reset the violation record,
captured output, the record of called functions and the ``decimal``
context; set the CPU-time soft limit and a ``SIGALRM`` timer; run; encode
the result, describe an error and drop both while still under the timer, so
a returned generator's ``finally`` or an object's special methods run inside
the window. Once the timer has fired the reply is a timeout, whatever the
code did after it (catching ``SoftTimeout`` and returning does not turn a
timeout into a result). If the code swallows the timer's ``SoftTimeout`` and
keeps running, a second alarm 0.1 s later answers "timeout" itself and
exits; if the code is stuck in C, the parent's hard kill at ``timeout_s +
kill_grace_s`` ends it.
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
from typing import Any  # Any: messages as JSON and learned code's values

from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.boundary._encoder import clean_text
from fnforge.sandbox.boundary._protocol import read_message, write_message
from fnforge.sandbox.runtime._files import decode_files
from fnforge.sandbox.runtime._outcomes import SoftTimeout
from fnforge.sandbox.runtime._runtime import LoadedSet, Runtime, check_error
from fnforge.sandbox.worker._audit import AuditHook
from fnforge.sandbox.worker._confine import (apply_rlimits, drop_capabilities, drop_uid, enter_namespaces,
                                             private_root, set_parent_death)
from fnforge.sandbox.worker._landlock import apply_landlock
from fnforge.sandbox.worker._seccomp import install_seccomp

__all__ = ["main"]

_REQUEST_LIMIT = 64 * 1024 * 1024
_SKIPPED = "off: skipped (test worker)"


class _Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.policy = SandboxPolicy.from_dict(config["policy"])
        self.rfd, self.wfd = config["fds"]
        self.probes = bool(config.get("probes", False))
        self.parent = int(config["parent"])
        self.layers: dict[str, str] = {"parent_death": set_parent_death(self.parent)}
        self.runtime = Runtime(self.policy)
        self.monitor = self.runtime.monitor
        self.alarms = 0
        self.request_id: object = None
        self._warm_up()
        self._confine(config)

    def _warm_up(self) -> None:
        """Exercise the common lazy paths once, before the filesystem is closed."""
        code = ("import sympy\nimport numpy\nx = sympy.Symbol('x')\n"
                "sympy.solve(x**2 - 2, x)\nsympy.sympify('x + 1')\nnumpy.array([1.0]).sum()\n"
                "sympy.nsolve(sympy.cos(x) - x, 1)\n")
        modules = self.policy.allowed_modules
        if "sympy" in modules and "numpy" in modules:
            compiled = self.runtime.snippet(code)
            if compiled.body is not None:
                self.runtime.run(LoadedSet(), compiled, code)
        self.runtime.output.reset()

    def _confine(self, config: dict[str, Any]) -> None:
        roots: list[str] = config["read_roots"]
        skip = set(config.get("skip", ()))
        layers = self.layers

        def layer(name: str, apply: Callable[[], str]) -> None:
            layers[name] = _SKIPPED if name in skip else apply()

        layer("namespaces", enter_namespaces)
        layer("filesystem", lambda: private_root(roots, os.getcwd()) if layers["namespaces"].startswith("on")
              else "off: needs the namespaces layer")
        layer("uid", drop_uid)
        layer("capabilities", drop_capabilities)
        layer("rlimits", lambda: apply_rlimits(memory_mb=self.policy.memory_mb))
        layers["parent_death"] = set_parent_death(self.parent)
        _close_stray_descriptors(keep=(self.rfd, self.wfd))
        layer("landlock", lambda: apply_landlock(roots))
        signal.signal(signal.SIGALRM, self._on_alarm)  # before seccomp: no new handlers after it
        layer("seccomp", lambda: install_seccomp(os.getpid()))
        hook = AuditHook(self.monitor, roots, enforce=config.get("audit", True), internal_roots=config["internal"])
        sys.addaudithook(hook)
        self.runtime.read_frames = hook.reading
        self.monitor.enforcing = True
        layers["audit_hook"] = "on" if hook.enforce else "off: recording only (post-escape tests)"

    def _on_alarm(self, signum: int, frame: Any) -> None:
        self.alarms += 1
        if self.alarms == 1:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            raise SoftTimeout()
        # The code caught the SoftTimeout: answer for it and end this process.
        self._send({"ok": False, "error": {"kind": "timeout"}, "retire": True,
                    "stdout": clean_text(self.runtime.output.text())})
        os._exit(0)

    def serve(self) -> None:
        self._send({"ready": True, "pid": os.getpid(), "layers": self.layers})
        while True:
            try:
                request = read_message(self.rfd, limit=_REQUEST_LIMIT)
            except Exception:  # noqa: BLE001 - the parent went away or broke the protocol
                os._exit(0)
            self.request_id = request.get("id")
            self._send(self.handle(request))

    def _send(self, reply: dict[str, Any]) -> None:
        reply["id"] = self.request_id
        reply.setdefault("retire", False)
        try:
            write_message(self.wfd, reply)
        except (ValueError, TypeError) as exc:  # never expected: the encoder makes every reply JSON-safe
            write_message(self.wfd, {"id": self.request_id, "ok": False, "retire": True,
                                     "error": {"kind": "crash", "message": f"unencodable reply: {exc}"}})

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "probe" and self.probes:
            code = str(request.get("code", ""))
            return self._window(LoadedSet(), lambda: _raw(code, self.wfd))
        if op == "load":
            return self._load(str(request.get("set")), request.get("functions"))
        if op not in ("call", "run"):
            return {"ok": False, "error": {"kind": "crash", "message": f"unknown op {op!r}"}}
        loaded = self.runtime.cached(str(request.get("set")))
        if loaded is None:
            return {"ok": False, "error": {"kind": "need_set"}}
        if op == "call":
            return self._call(request, loaded)
        code = str(request.get("code"))
        compiled = self.runtime.snippet(code)
        if compiled.problems:
            return {"ok": False, "error": check_error("<run_python>", compiled), "stdout": ""}
        return self._with_files(request, loaded, lambda: self.runtime.run(loaded, compiled, code))

    def _load(self, set_id: str, functions: Any) -> dict[str, Any]:
        if not isinstance(functions, list):
            return {"ok": False, "error": {"kind": "crash", "message": "a load request needs the functions"}}
        return self._window(LoadedSet(), lambda: self.runtime.load(set_id, functions) and None)

    def _call(self, request: dict[str, Any], loaded: LoadedSet) -> dict[str, Any]:
        name = str(request.get("name"))
        if name not in loaded.functions:
            error = self.runtime.failure(loaded, name) or {"kind": "unknown", "name": name}
            return {"ok": False, "error": error, "stdout": "", "retire": self.monitor.retire}
        kwargs = request.get("kwargs") or {}
        return self._with_files(request, loaded, lambda: self.runtime.call(loaded, name, kwargs))

    def _with_files(self, request: dict[str, Any], loaded: LoadedSet, action: Callable[[], Any]) -> dict[str, Any]:
        """Run ``action`` in a window with the request's files readable by ``open``, then drop them.

        The files stay in memory (``runtime/_files.py``): nothing is written, so no OS layer is loosened.
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
        runtime.called.clear()
        self.alarms = 0
        decimal.setcontext(decimal.Context())
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = used.ru_utime + used.ru_stime + self.policy.timeout_s + self.policy.kill_grace_s + 1
        resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(cpu), resource.RLIM_INFINITY))
        signal.setitimer(signal.ITIMER_REAL, self.policy.timeout_s)
        try:
            reply = self._outcome(loaded, action)
        except BaseException as exc:  # noqa: BLE001 - a timeout while describing or finalizing
            kind = "timeout" if isinstance(exc, SoftTimeout) else "crash"
            reply = {"ok": False, "error": {"kind": kind, "message": f"{type(exc).__name__} while finishing the call"}}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if monitor.violation is not None:
            rule, message = monitor.violation
            reply = {"ok": False, "error": {"kind": "violation", "rule": rule, "message": message}}
        elif self.alarms:
            reply = {"ok": False, "error": {"kind": "timeout"}}
        kind = reply.get("error", {}).get("kind")
        reply["stdout"] = clean_text(runtime.output.text())
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


def _close_stray_descriptors(*, keep: tuple[int, ...]) -> None:
    """Close every descriptor but stdin/stdout and the pipes; stderr goes to /dev/null."""
    os.dup2(1, 2)  # stdout is /dev/null: nothing written after this reaches a host file
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _raw(code: str, protocol_fd: int) -> Any:
    """Run unguarded code (``_probes`` workers only: the post-escape tests); return ``result``.

    The code sees real builtins and ``PROTOCOL_FD``, the descriptor replies go out on.
    """
    namespace: dict[str, Any] = {"PROTOCOL_FD": protocol_fd}
    exec(code, namespace)  # noqa: S102 - test-only raw probe, still inside every OS layer
    return namespace.get("result")


def main() -> None:
    """Entry point of a worker process (argv[1] is the JSON config)."""
    config = json.loads(sys.argv[1])
    _Worker(config).serve()
