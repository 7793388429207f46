"""The parent's handle on one worker process: start, handshake, request, kill.

A worker starts with ``python -I -B`` (no user site, no ``PYTHON*`` variables,
no bytecode writes), an empty private temporary directory as its working
directory and ``HOME``, a tiny fixed environment (no ``OPENAI_API_KEY`` or any
other inherited variable), ``stdin``/``stdout`` on ``/dev/null``, ``stderr``
in a log file, and its own session (so one ``killpg`` ends everything it
started). The protocol runs on two pipes passed by descriptor number.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fnforge.sandbox._exceptions import SandboxCrash
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox._protocol import Broken, Overrun, read_message, write_message

__all__ = ["WorkerProcess"]

# The worker imports fnforge from the installation, like any other module: the
# folders of the three packages it loads are its only read roots outside Python.
_PACKAGES = ("fnforge", "fnforge.functions", "fnforge.sandbox")
_BOOT = "from fnforge.sandbox._worker import main; main()"
_START_TIMEOUT_S = 60.0
_ENV = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}


def _package_dirs() -> list[str]:
    return [str(Path(importlib.import_module(name).__file__ or "").resolve().parent) for name in _PACKAGES]


class WorkerProcess:
    """The parent's handle on one worker process."""

    def __init__(self, policy: SandboxPolicy, *, probes: bool, audit: bool) -> None:
        self.policy = policy
        self.directory = tempfile.mkdtemp(prefix="fnforge-sandbox-")
        to_worker, self.wfd = os.pipe()
        self.rfd, from_worker = os.pipe()
        roots = sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, *_package_dirs()})
        config = {"policy": policy.to_dict(), "fds": [to_worker, from_worker], "read_roots": roots,
                  "probes": probes, "audit": audit}
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

    def wait_ready(self) -> None:
        if self.ready:
            return
        try:
            hello = read_message(self.rfd, limit=1 << 20, deadline=time.monotonic() + _START_TIMEOUT_S)
        except (Overrun, Broken) as exc:
            self.kill()
            raise SandboxCrash(f"the worker did not start ({exc or 'timed out'}){self.log_tail()}") from None
        self.layers = dict(hello.get("layers", {}))
        self.ready = True

    def request(self, message: dict[str, Any], *, timeout_s: float, limit: int) -> dict[str, Any]:
        self.wait_ready()
        write_message(self.wfd, message)
        return read_message(self.rfd, limit=limit, deadline=time.monotonic() + timeout_s)

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
        if wait:
            self._reap()
        else:
            threading.Thread(target=self._reap, name="fnforge-sandbox-reaper", daemon=True).start()

    def _reap(self) -> None:
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)

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
