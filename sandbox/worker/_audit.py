"""The worker's ``sys.addaudithook``: deny OS-level actions once untrusted code may run.

Installed last, just before the worker says "ready"; an audit hook cannot be
removed, and this one holds no switch: it enforces from then on, between
calls too (a finalizer of an untrusted object can run at any time). Only the
worker refers to it, and no object sandboxed code can reach refers to the
worker, so there is nothing to flip (issue 11 turned the old hook off
through a ``Monitor.untrusted`` flag it reached through the guards' closures;
the frame paths to the worker are denied below). The worker's own
audited steps are allowed by rule: the per-call ``RLIMIT_CPU`` (the kernel
refuses raising a hard limit anyway) and reading the frames of the one
traceback it is describing (:meth:`AuditHook.reading`). Every denial is
recorded on the Monitor with ``retire=True``: reaching this layer means
something got past the guards, so the worker is replaced after the call.

Denied (rule in brackets):

- [process] ``os.system``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn``,
  ``os.fork``/``forkpty``, ``subprocess.Popen``, ``pty.spawn``, signals to
  other processes (``os.kill``, ``os.killpg``, ``signal.pthread_kill``).
- [network] every ``socket.*`` event, ``urllib.Request``, ``http.client.connect``.
- [native] every ``ctypes.*`` event, ``mmap.__new__``.
- [file-write] ``open`` with a writing mode or flags; [file-read] ``open`` of a
  path outside the read roots (the interpreter prefixes) or of a bare file
  descriptor; [filesystem] removing, renaming, creating, linking, chmod/chown,
  xattrs, ``chdir``, environment changes, listing a directory outside the read roots.
- [introspection] every way to a frame: ``object.__getattr__`` of
  ``tb_frame``/``gi_frame``/``cr_frame``/``ag_frame``/``f_back``,
  ``sys._getframe`` returning a frame that is not a library's (sandboxed
  code, the worker itself), ``sys._current_frames``; tracing/profiling hooks,
  new audit hooks, ``gc`` object walks, building code or function objects,
  ``pickle.find_class``, ``input``, ``breakpoint``, ``resource.setrlimit``
  of anything but ``RLIMIT_CPU``, ``resource.prlimit``.

Allowed on purpose, because library code needs them during ordinary calls:
``import``, ``compile``/``exec`` (sympy's parser), ``marshal.loads`` and
reading files under the prefixes (lazy imports), ``sys._getframe`` of a
library's own frame (``sympy.multipledispatch`` at import),
``object.__getattr__`` of ``__code__``/``__defaults__`` (``inspect.signature``
in sympy), ``object.__setattr__`` on classes (``functools.total_ordering``).
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator
from typing import Any  # Any: audit-hook arguments, which CPython does not type

from fnforge.sandbox.runtime._monitor import Monitor

__all__ = ["AuditHook"]

_PROCESS = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
    "os.killpg", "subprocess.Popen", "pty.spawn", "os.startfile", "signal.pthread_kill",
    "os.setuid", "os.setgid", "os.setgroups", "os.setsid", "os.setpgid", "os.setns",
    "os.unshare", "os.pidfd_open", "os.pidfd_send_signal",
})
_FILESYSTEM = frozenset({
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
    "os.symlink", "os.truncate", "os.utime", "os.chdir", "os.chflags", "os.lchflags",
    "os.lchmod", "os.lchown", "os.chroot", "os.mkfifo", "os.mknod", "os.putenv", "os.unsetenv",
    "os.fchmod", "os.fchown", "os.fchdir", "os.ftruncate", "os.fsetxattr",
    "os.setxattr", "os.removexattr", "os.getxattr", "os.listxattr", "shutil.copyfile",
    "shutil.copymode", "shutil.copystat", "shutil.copytree", "shutil.move", "shutil.rmtree",
    "shutil.make_archive", "shutil.unpack_archive", "tempfile.mkstemp", "tempfile.mkdtemp",
    "os.memfd_create",
})
_LISTING = frozenset({"os.listdir", "os.scandir", "glob.glob", "glob.glob/2"})
_INTROSPECTION = frozenset({
    "sys._current_frames", "sys._current_exceptions", "sys.settrace", "sys.setprofile",
    "sys.addaudithook", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "function.__new__", "code.__new__", "pickle.find_class", "builtins.input",
    "builtins.breakpoint", "resource.prlimit", "sys.excepthook",
    "sys.unraisablehook", "cpython.run_command", "cpython.run_file", "cpython.run_module",
    "cpython.run_stdin", "cpython.run_startup", "cpython.run_interactivehook",
    "cpython._PySys_ClearAuditHooks", "sys.set_asyncgen_hooks_firstiter",
    "sys.set_asyncgen_hooks_finalizer", "webbrowser.open", "sqlite3.connect",
})
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class AuditHook:
    """Callable for ``sys.addaudithook``; ``enforce=False`` only records (the post-escape tests)."""

    def __init__(self, monitor: Monitor, read_roots: list[str], *, enforce: bool = True,
                 internal_roots: list[str] = ()) -> None:  # type: ignore[assignment]
        self.monitor = monitor
        self.roots = tuple(os.path.join(os.path.realpath(r), "") for r in read_roots)
        self.internal = tuple(os.path.join(os.path.realpath(r), "") for r in internal_roots)
        self.enforce = enforce
        self._readable_tracebacks: list[Any] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        rule = self.rule(event, args)
        if rule is not None and self.enforce:
            self.monitor.refuse(rule, f"{event} is not allowed in the sandbox", retire=True)

    @contextlib.contextmanager
    def reading(self, exc: BaseException) -> Iterator[None]:
        """Allow reading the frames of ``exc``'s traceback chain (the worker describing an error)."""
        tracebacks = []
        tb = exc.__traceback__
        while tb is not None:
            tracebacks.append(tb)
            tb = tb.tb_next
        self._readable_tracebacks = tracebacks
        try:
            yield
        finally:
            self._readable_tracebacks = []

    def rule(self, event: str, args: tuple[Any, ...]) -> str | None:
        """The rule ``event`` breaks, or None."""
        if event == "open":
            return self._open_rule(args)
        if event in _PROCESS:
            return "process"
        if event.startswith("socket.") or event in ("urllib.Request", "http.client.connect"):
            return "network"
        if event.startswith("ctypes.") or event == "mmap.__new__":
            return "native"
        if event in _FILESYSTEM:
            return "filesystem"
        if event in _LISTING:
            return None if self._readable(args[0] if args else ".") else "filesystem"
        return self._introspection_rule(event, args)

    def _introspection_rule(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event in _INTROSPECTION:
            return "introspection"
        if event == "resource.setrlimit":
            return None if args and args[0] == resource.RLIMIT_CPU else "introspection"
        if event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRIBUTES:
            owner = args[0]
            return None if any(owner is tb for tb in self._readable_tracebacks) else "introspection"
        if event == "sys._getframe":
            return None if args and self._library_frame(args[0]) else "introspection"
        return None

    def _library_frame(self, frame: Any) -> bool:
        """Whether ``frame`` runs a library file under the read roots (not fnforge, not sandboxed code).

        A best effort: code compiled with a forged file name passes too, which is why the frame
        paths above it (``tb_frame``, ``gi_frame``...) are closed and the OS layer is the boundary.
        """
        filename = frame.f_code.co_filename
        if not isinstance(filename, str):
            return False
        if filename.startswith("<frozen "):
            return True  # the frozen import machinery, during a lazy import
        if not filename.startswith("/"):
            return False
        full = os.path.realpath(filename)
        return any(full.startswith(r) for r in self.roots) and not any(full.startswith(r) for r in self.internal)

    def _open_rule(self, args: tuple[Any, ...]) -> str | None:
        path = args[0] if args else None
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 else 0
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return "file-write"
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            return "file-write"
        if not isinstance(path, (str, bytes, os.PathLike)) or not self._readable(path):
            return "file-read"
        return None

    def _readable(self, path: Any) -> bool:
        try:
            text = os.fsdecode(path)
        except TypeError:
            return False
        full = os.path.join(os.path.realpath(text), "")
        return any(full.startswith(root) for root in self.roots)
