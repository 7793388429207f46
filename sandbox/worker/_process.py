"""The parent's handle on one worker process: start, handshake, request, kill.

A worker starts with ``python -I -B`` (no user site, no ``PYTHON*`` variables,
no bytecode writes), an empty private temporary directory as its working
directory and ``HOME``, a tiny fixed environment (no ``OPENAI_API_KEY`` or any
other inherited variable), ``stdin``/``stdout`` on ``/dev/null``, ``stderr``
in a log file (start-up errors only), and its own session (so one ``killpg``
ends everything it started). The protocol runs on two pipes passed by
descriptor number.

- **Start-up never counts against a call**: a request first waits for the
  worker's "ready" (up to 60 s, its own limit), and only then starts the
  call's clock.
- **Isolation or refusal**: "ready" lists the OS layers the worker could
  apply. When a core layer (:data:`CORE_LAYERS`) is off and isolation is
  required, the worker is killed before it is sent any code and
  :class:`SandboxIsolationError` says which layer and why.
- **Request ids**: each request carries 128 random bits the reply must echo;
  any other reply is a protocol error (:class:`Broken`), after which the
  worker is never believed again (the pool kills it).
- **Workers die with their parent**: each worker sets ``PR_SET_PDEATHSIG``
  itself; since that signal follows the *thread* that started the process,
  :class:`Spawner` starts every worker of a sandbox from one long-lived thread.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any  # Any: messages as JSON

from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.boundary._errors import SandboxCrash, SandboxIsolationError
from fnforge.sandbox.boundary._protocol import Broken, Overrun, Stale, read_message, write_message

__all__ = ["CORE_LAYERS", "Spawner", "WorkerProcess"]

CORE_LAYERS = ("filesystem", "uid", "seccomp")
"""Layers without which untrusted code does not run (unless the caller opts out)."""

# The worker imports fnforge from the installation, like any other module: the
# folders of the three packages it loads are its only read roots outside Python.
_PACKAGES = ("fnforge", "fnforge.functions", "fnforge.sandbox")
_BOOT = "from fnforge.sandbox.worker._worker import main; main()"
_DIRECTORY_PREFIX = "fnforge-sandbox-"  # then the parent's pid, so that orphans can be told apart
_START_TIMEOUT_S = 60.0
_HELLO_LIMIT = 1 << 16
_ENV = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}


# Worker directories not yet removed. A reaper is a daemon thread, which
# interpreter exit stops mid-wait: this exit handler removes what it left.
_UNREMOVED: set[str] = set()


@atexit.register
def _remove_unremoved() -> None:
    for directory in tuple(_UNREMOVED):
        _remove(directory)


def _remove(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    _UNREMOVED.discard(directory)


def _remove_orphans() -> None:
    """Remove the worker directories of parents that died without cleaning up (SIGKILL runs no exit handler)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_DIRECTORY_PREFIX}*-*"):
        owner = path.name[len(_DIRECTORY_PREFIX):].partition("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _package_dirs() -> list[str]:
    return [str(Path(importlib.import_module(name).__file__ or "").resolve().parent) for name in _PACKAGES]


class Spawner:
    """Starts worker processes from one thread that lives as long as the sandbox (see the module docstring)."""

    def __init__(self) -> None:
        _remove_orphans()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fnforge-sandbox-spawner")

    def start(self, **options: Any) -> WorkerProcess:
        return self._executor.submit(WorkerProcess, **options).result()

    def stop(self) -> None:
        self._executor.shutdown(wait=False)


class WorkerProcess:
    """The parent's handle on one worker process."""

    def __init__(self, policy: SandboxPolicy, *, probes: bool, audit: bool, require_isolation: bool,
                 skip_layers: tuple[str, ...] = (), extra_roots: tuple[str, ...] = ()) -> None:
        self.policy = policy
        self.require_isolation = require_isolation
        self.directory = tempfile.mkdtemp(prefix=f"{_DIRECTORY_PREFIX}{os.getpid()}-")
        _UNREMOVED.add(self.directory)
        to_worker, self.wfd = os.pipe()
        self.rfd, from_worker = os.pipe()
        internal = _package_dirs()
        roots = sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, *internal, *extra_roots})
        config = {"policy": policy.to_dict(), "fds": [to_worker, from_worker], "read_roots": roots,
                  "internal": internal, "probes": probes, "audit": audit, "parent": os.getpid(),
                  "skip": list(skip_layers)}
        env = dict(_ENV, HOME=self.directory, TMPDIR=self.directory)
        with open(os.path.join(self.directory, "stderr.log"), "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOT, json.dumps(config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd=self.directory,
                env=env, pass_fds=(to_worker, from_worker), start_new_session=True, close_fds=True,
            )
        os.close(to_worker)
        os.close(from_worker)
        self.ready = False
        self.layers: dict[str, str] = {}
        self.known: OrderedDict[str, None] = OrderedDict()
        self.sets: set[str] = set()  # every set this worker ever ran (its tenants)
        self.calls = 0
        self.killed = False
        self._previous_id: str | None = None

    def wait_ready(self) -> None:
        """Wait for "ready" and check the isolation it reports.

        Raises:
            SandboxCrash: the worker did not start.
            SandboxIsolationError: a core layer is off and isolation is required.
        """
        if self.ready:
            return
        try:
            hello = read_message(self.rfd, limit=_HELLO_LIMIT, deadline=time.monotonic() + _START_TIMEOUT_S)
            layers = hello.get("layers")
            if hello.get("ready") is not True or not isinstance(layers, dict) \
                    or not all(isinstance(k, str) and isinstance(v, str) for k, v in layers.items()):
                raise Broken("the worker's first message is not a ready message")
        except (Overrun, Broken) as exc:
            self.kill()
            raise SandboxCrash(f"the worker did not start ({exc or 'timed out'}){self.log_tail()}") from None
        self.layers = dict(layers)
        missing = tuple(name for name in CORE_LAYERS if not self.layers.get(name, "off").startswith("on"))
        if missing and self.require_isolation:
            self.kill()
            raise SandboxIsolationError(self.layers, missing)
        self.ready = True

    def request(self, message: dict[str, Any], *, timeout_s: float, limit: int) -> tuple[dict[str, Any], float]:
        """Send one request and wait at most ``timeout_s`` for its reply; return it and the seconds it took.

        Raises:
            Overrun: no reply in time.
            Stale: what came back is a second reply to the previous request (not an answer to this one).
            Broken: the pipe closed, or the reply is malformed or answers another request.
        """
        self.wait_ready()
        request_id = secrets.token_hex(16)
        previous, self._previous_id = self._previous_id, request_id
        write_message(self.wfd, {**message, "id": request_id})
        started = time.monotonic()
        reply = read_message(self.rfd, limit=limit, deadline=started + timeout_s)
        if reply.get("id") != request_id:
            if previous is not None and reply.get("id") == previous:
                raise Stale("the worker sent a second reply to an earlier request")
            raise Broken("the worker answered another request")
        return reply, time.monotonic() - started

    def has_unread(self) -> bool:
        """Whether the worker wrote something nobody asked for (it is then never believed again)."""
        if self.killed or not self.ready:
            return False
        poller = select.poll()  # not select.select: a busy parent's descriptors may pass 1024
        poller.register(self.rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(0))

    def kill(self, *, wait: bool = False) -> None:
        """Kill the worker's process group now; reap it and remove its directory in the background."""
        if self.killed:
            return
        self.killed = True
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)  # now: the process may outlive a daemon reaper
        if wait:
            self._reap()
        else:
            threading.Thread(target=self._reap, name="fnforge-sandbox-reaper", daemon=True).start()

    def _reap(self) -> None:
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        _remove(self.directory)  # again: a dying worker may have written after the first removal

    def exit_status(self) -> int | None:
        try:
            return self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self) -> str:
        try:
            text = Path(self.directory, "stderr.log").read_text(errors="replace").strip()
        except OSError:
            return ""
        return f": {text.splitlines()[-1]}" if text else ""
