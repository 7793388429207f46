"""The worker's seccomp filter: an allow-list, everything else fails with ``EPERM``.

What a warm worker does after lock-down is small and known: read and write
its pipes, map memory, stat and read files of its (read-only, private) root
for lazy imports, keep time, set its own timer and limits, and exit. Only
that is allowed (measured with ``strace`` over the test suite and the benign
corpus); every other syscall, including ones newer kernels add, returns
``EPERM``, and a syscall of another architecture or of x86-64's x32 ABI
kills the process.

Allowed with conditions (arguments are checked in the filter):

- ``open``/``openat``: no write, create, truncate or append flag (``O_TMPFILE``
  included); ``openat2`` and ``clone3`` answer ``ENOSYS`` so libc falls back
  to the checked forms;
- ``fcntl``: only get/set descriptor and status flags (never ``F_DUPFD``, nor
  ``F_SETOWN``/``F_SETSIG``, which direct signals at other processes);
- ``ioctl``: only ``TCGETS`` (``isatty``), ``FIONREAD``, ``FIONBIO``,
  ``FIOCLEX``/``FIONCLEX`` (never ``TIOCSTI``, which types into a terminal);
- ``kill``/``tgkill``: to the worker itself only (its own timer, ``abort``);
- ``prlimit64``: of the worker itself only (the per-call CPU limit; the
  kernel refuses raising a hard limit without privileges).

Not allowed, among everything else: any way to create a process or thread
(``clone``, ``fork``, ``execve``), sockets of any family, ``ptrace``,
cross-process memory, signals to others, every call that writes or changes
metadata (``chmod``, ``chown``, ``*xattr``, ``utimensat``, ``link``,
``rename``, ``truncate``, ``unlink``, ``mkdir``, ``mknod``), mounts,
namespaces, ``chdir``, new signal handlers (``rt_sigaction``: a handler would
receive the interrupted frame), ``dup*``, pipes, ``memfd_create``, ``bpf``,
``io_uring``, keyrings, ``prctl``.
"""

from __future__ import annotations

import ctypes
import struct

from fnforge.sandbox.worker._syscalls import Architecture, current

__all__ = ["ALLOWED", "install_seccomp", "program"]

ALLOWED = (
    "read", "readv", "pread64", "preadv", "write", "writev", "close", "close_range",
    "fstat", "newfstatat", "stat", "lstat", "statx", "lseek", "getdents64", "readlink", "readlinkat",
    "access", "faccessat", "faccessat2", "getcwd",
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk",
    "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "futex", "set_robust_list", "rseq", "set_tid_address",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgrp", "getpgid", "getsid", "uname",
    "sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
    "gettimeofday", "time", "getrandom", "getitimer", "setitimer", "alarm", "getrusage", "times",
    "getrlimit", "poll", "ppoll", "select", "pselect6", "exit", "exit_group", "restart_syscall",
)
"""Syscalls allowed with any arguments (those an architecture lacks are skipped)."""

_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_PR_SET_NO_NEW_PRIVS = 38
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_EPERM, _ENOSYS = 1, 38
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_NR, _ARCH = 0, 4


def _arg(index: int) -> int:
    return 16 + 8 * index  # low 32 bits of argument ``index`` (little-endian)


_OPEN_WRITE = 0x1 | 0x2 | 0x40 | 0x200 | 0x400 | 0x400000  # WRONLY RDWR CREAT TRUNC APPEND __O_TMPFILE
_FCNTL_ALLOWED = (1, 2, 3, 4)  # F_GETFD F_SETFD F_GETFL F_SETFL
_IOCTL_ALLOWED = (0x5401, 0x541B, 0x5421, 0x5451, 0x5450)  # TCGETS FIONREAD FIONBIO FIOCLEX FIONCLEX


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _ret(value: int) -> bytes:
    return _insn(_RET_K, 0, 0, value)


_ALLOW = _ret(_RET_ALLOW)
_DENY = _ret(_RET_ERRNO | _EPERM)


def _when(nr: int, block: list[bytes]) -> list[bytes]:
    """``if syscall == nr: <block>`` (the block ends in a return)."""
    return [_insn(_JEQ_K, 0, len(block), nr), *block]


def _arg_without(index: int, flags: int) -> list[bytes]:
    """Allow when argument ``index`` has none of ``flags``."""
    return [_insn(_LD_W_ABS, 0, 0, _arg(index)), _insn(_JSET_K, 0, 1, flags), _DENY, _ALLOW]


def _arg_in(index: int, values: tuple[int, ...]) -> list[bytes]:
    """Allow when argument ``index`` is one of ``values``."""
    block = [_insn(_LD_W_ABS, 0, 0, _arg(index))]
    for position, value in enumerate(values):
        block.append(_insn(_JEQ_K, len(values) - position, 0, value))
    return [*block, _DENY, _ALLOW]


def program(arch: Architecture, pid: int) -> bytes:
    """The BPF program for ``arch``, with ``pid`` as the only target of signals and limits."""
    numbers = arch.numbers
    body: list[bytes] = []
    for name in ALLOWED:
        if name in numbers:
            body += _when(numbers[name], [_ALLOW])
    if "open" in numbers:
        body += _when(numbers["open"], _arg_without(1, _OPEN_WRITE))
    body += _when(numbers["openat"], _arg_without(2, _OPEN_WRITE))
    body += _when(numbers["openat2"], [_ret(_RET_ERRNO | _ENOSYS)])
    body += _when(numbers["clone3"], [_ret(_RET_ERRNO | _ENOSYS)])
    body += _when(numbers["fcntl"], _arg_in(1, _FCNTL_ALLOWED))
    body += _when(numbers["ioctl"], _arg_in(1, _IOCTL_ALLOWED))
    body += _when(numbers["kill"], _arg_in(0, (pid, 0)))
    body += _when(numbers["tgkill"], _arg_in(0, (pid,)))
    body += _when(numbers["prlimit64"], _arg_in(0, (pid, 0)))
    if "setrlimit" in numbers:
        body += _when(numbers["setrlimit"], [_ALLOW])  # itself only, by definition
    head = [_insn(_LD_W_ABS, 0, 0, _ARCH), _insn(_JEQ_K, 1, 0, arch.audit_arch), _ret(_RET_KILL_PROCESS),
            _insn(_LD_W_ABS, 0, 0, _NR)]
    if arch.x32_bit:
        head += [_insn(_JSET_K, 0, 1, arch.x32_bit), _ret(_RET_KILL_PROCESS)]
    # Each ``_when`` re-tests the number loaded at the head: blocks that load an argument
    # end in a return, so the accumulator never reaches the next test changed.
    return b"".join([*head, *body, _DENY])


def install_seccomp(pid: int) -> str:
    """Set no_new_privs and install the filter for every thread; return the layer's status."""
    arch = current()
    if arch is None:
        return "off: no syscall table for this architecture"
    libc = ctypes.CDLL(None, use_errno=True)
    code = program(arch, pid)
    filt = ctypes.create_string_buffer(code)
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(filt)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"off: no_new_privs: {_errno()}"
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(arch["seccomp"], _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, fprog) != 0:
        return f"off: seccomp: {_errno()}"
    return f"on (allow-list, {arch.name})"


def _errno() -> str:
    import os

    return os.strerror(ctypes.get_errno())
