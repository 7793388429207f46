"""Operating-system layers a worker applies to itself before untrusted code runs.

Each function applies one layer and returns a short status: ``"on"`` or
``"off: <reason>"``. A layer that the kernel refuses is reported, never fatal:
the layers above and below still hold (DESIGN.md §4, each layer assumes the
one above it has failed). Linux x86-64 only for seccomp; everything degrades
to ``off`` elsewhere.

Decisions (why each layer exists, since we run as root):

- **network namespace** (``unshare(CLONE_NEWNET | CLONE_NEWIPC)``): a fresh
  namespace has only a down loopback, so every connect fails with "Network is
  unreachable"; SysV IPC is private too.
- **capabilities dropped** (bounding, ambient, effective, permitted): uid 0
  stays (``/root`` is mode 0700 and holds the interpreter, so a non-root uid
  could not lazily import), but without ``CAP_SYS_RESOURCE`` the rlimits
  cannot be raised, without ``CAP_DAC_*`` other users' files are closed, and
  without ``CAP_SYS_ADMIN`` namespaces cannot be left.
- **rlimits**: address space (``memory_mb``), file size 0 (``SIGXFSZ``
  ignored, writes fail with ``EFBIG``), no core files, few open files.
  ``RLIMIT_NPROC`` does not bind uid 0, so it is not relied on.
- **Landlock**: read-only access beneath the interpreter prefixes and the
  project's package directories; nothing else can be read, nothing at all
  written; TCP bind/connect denied (ABI 4); signals to processes outside the
  worker's own domain denied (ABI 6).
- **seccomp** (a deny-list, since numpy and sympy need a wide syscall surface):
  no fork/clone of processes (threads stay allowed), no exec, no sockets, no
  ptrace or cross-process memory access, no signals except to itself, no
  namespace/mount/module/keyring/bpf/io_uring calls, no ``open`` for writing,
  no chmod/chown/link/unlink/rename/mkdir/truncate. Anything from the x32 ABI
  or another architecture is denied.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import struct

__all__ = [
    "apply_landlock",
    "apply_rlimits",
    "apply_seccomp",
    "drop_capabilities",
    "unshare_network",
]

_CLONE_NEWNET = 0x40000000
_CLONE_NEWIPC = 0x08000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _err(what: str) -> str:
    return f"off: {what}: {os.strerror(ctypes.get_errno())}"


def unshare_network() -> str:
    """Move this process into new network and IPC namespaces."""
    if platform.system() != "Linux":
        return "off: not Linux"
    if _libc().unshare(_CLONE_NEWNET | _CLONE_NEWIPC) != 0:
        return _err("unshare")
    return "on"


def drop_capabilities() -> str:
    """Drop every Linux capability (bounding, ambient, effective, permitted)."""
    if platform.system() != "Linux":
        return "off: not Linux"
    libc = _libc()
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this pid
    data = bytes(24)  # two {effective, permitted, inheritable} = 0
    hbuf = ctypes.create_string_buffer(header)
    dbuf = ctypes.create_string_buffer(data)
    if libc.syscall(126, hbuf, dbuf) != 0:  # capset
        return _err("capset")
    return "on"


def apply_rlimits(*, memory_mb: int, max_open_files: int = 64) -> str:
    """Limit address space, file size, core dumps and open files."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NOFILE, max_open_files),
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
    ]
    for which, value in limits:
        resource.setrlimit(which, (value, value))
    return "on"


# --- Landlock -------------------------------------------------------------

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_READ_FILE = 1 << 2
_READ_DIR = 1 << 3


def _landlock_fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= 1 << 14  # truncate
    if abi >= 5:
        rights |= 1 << 15  # ioctl_dev
    return rights


def apply_landlock(read_only_paths: list[str]) -> str:
    """Allow reading beneath ``read_only_paths`` only; deny all writes and TCP."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return "off: needs Linux x86-64"
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)  # VERSION flag
    if abi < 1:
        return _err("landlock unavailable")
    fs_rights = _landlock_fs_rights(abi)
    net_rights = 0b11 if abi >= 4 else 0  # bind_tcp | connect_tcp
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets | signals
    attr = struct.pack("QQQ", fs_rights, net_rights, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    abuf = ctypes.create_string_buffer(attr[:size])
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, abuf, size, 0)
    if ruleset < 0:
        return _err("landlock_create_ruleset")
    try:
        for path in sorted(set(read_only_paths)):
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(path)
                rights = _READ_FILE | (_READ_DIR if is_dir else 0)
                rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd))
                if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, 1, rule, 0) != 0:
                    return _err(f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return _err("no_new_privs")
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return _err("landlock_restrict_self")
    finally:
        os.close(ruleset)
    return f"on (ABI {abi})"


# --- seccomp --------------------------------------------------------------

_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_ALLOW = 0x7FFF0000
_RET_KILL = 0x80000000
_EPERM, _ENOSYS = 1, 38
_LD_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_CLONE_THREAD = 0x00010000
_OPEN_WRITE_FLAGS = 0x1 | 0x2 | 0x40 | 0x200 | 0x400 | 0x400000  # WRONLY RDWR CREAT TRUNC APPEND TMPFILE

# x86-64 numbers, grouped by why they are denied (EPERM).
_DENIED = {
    "process": (57, 58, 59, 322, 101, 310, 311, 200, 424, 434, 438, 440, 129, 297),
    "network": (41, 42, 43, 49, 50, 53, 288, 299, 307),
    "system": (165, 166, 155, 161, 272, 308, 250, 248, 249, 321, 298, 323, 425, 426, 427,
               175, 313, 176, 246, 320, 169, 167, 168, 303, 304, 135, 172, 173, 163, 164,
               179, 103, 105, 106, 113, 114, 117, 119, 116, 126),
    "filesystem": (90, 91, 92, 93, 94, 268, 260, 452, 133, 259, 86, 88, 87, 82, 265, 266,
                   263, 264, 316, 83, 258, 84, 76, 85, 132, 235, 280, 261),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _seccomp_program(pid: int) -> bytes:
    eperm = (_RET, 0, 0, 0x00050000 | _EPERM)
    prog = [
        _insn(_LD_ABS, 0, 0, 4),  # arch
        _insn(_JEQ, 1, 0, _AUDIT_ARCH_X86_64),
        _insn(_RET, 0, 0, _RET_KILL),
        _insn(_LD_ABS, 0, 0, 0),  # syscall number
        _insn(_JGE, 0, 1, 0x40000000),  # x32 ABI
        _insn(*eperm),
        _insn(_JEQ, 0, 1, 435),  # clone3: ENOSYS so libc falls back to clone
        _insn(_RET, 0, 0, 0x00050000 | _ENOSYS),
        _insn(_JEQ, 0, 1, 437),  # openat2: flags are out of reach, make libc use openat
        _insn(_RET, 0, 0, 0x00050000 | _ENOSYS),
    ]
    for numbers in _DENIED.values():
        for nr in numbers:
            prog += [_insn(_JEQ, 0, 1, nr), _insn(*eperm)]
    # clone: threads only
    prog += [_insn(_JEQ, 0, 4, 56), _insn(_LD_ABS, 0, 0, 16),
             _insn(_JSET, 1, 0, _CLONE_THREAD), _insn(*eperm), _insn(_RET, 0, 0, _RET_ALLOW)]
    # open(path, flags) / openat(dirfd, path, flags): read-only
    for nr, arg in ((2, 1), (257, 2)):
        prog += [_insn(_JEQ, 0, 4, nr), _insn(_LD_ABS, 0, 0, 16 + 8 * arg),
                 _insn(_JSET, 0, 1, _OPEN_WRITE_FLAGS), _insn(*eperm),
                 _insn(_RET, 0, 0, _RET_ALLOW)]
    # kill(pid, sig): itself or its own process group only; tgkill: own threads
    prog += [_insn(_JEQ, 0, 5, 62), _insn(_LD_ABS, 0, 0, 16),
             _insn(_JEQ, 2, 0, pid), _insn(_JEQ, 1, 0, 0), _insn(*eperm),
             _insn(_RET, 0, 0, _RET_ALLOW)]
    prog += [_insn(_JEQ, 0, 4, 234), _insn(_LD_ABS, 0, 0, 16),
             _insn(_JEQ, 1, 0, pid), _insn(*eperm), _insn(_RET, 0, 0, _RET_ALLOW)]
    prog.append(_insn(_RET, 0, 0, _RET_ALLOW))
    return b"".join(prog)


def apply_seccomp() -> str:
    """Install the seccomp filter described in the module docstring."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return "off: needs Linux x86-64"
    libc = _libc()
    program = _seccomp_program(os.getpid())
    filt = ctypes.create_string_buffer(program)
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxP", len(program) // 8,
                                                    ctypes.addressof(filt)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return _err("no_new_privs")
    if libc.prctl(22, 2, fprog, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        return _err("seccomp")
    return "on"
