"""The OS confinement a worker applies to itself before untrusted code runs: the boundary.

Assume the guarded runtime is fully escaped (real builtins, ``os``,
``ctypes``): these layers alone must keep the promise (DESIGN.md §4). Each
function applies one layer and returns a short status, ``"on"`` or
``"off: <reason>"``; the parent refuses to run untrusted code when a core
layer is off (``worker/_process.py``).

- **namespaces**: new mount, network, IPC and UTS namespaces (and, when not
  started as root, a user namespace that maps only the caller's own uid):
  no network device but a down loopback, private SysV IPC, a hostname of
  its own.
- **filesystem**: a private root (``pivot_root``) on a small read-only
  tmpfs that holds nothing but read-only bind mounts of the read roots (the
  interpreter prefixes and fnforge's own package folders: exactly what lazy
  imports need). The host's root is unmounted from the namespace, so no path,
  ``..`` or ``stat`` reaches any other file; there is no ``/proc`` (no other
  process to see), no ``/dev``, no ``/tmp``, and every mount is read-only,
  ``nosuid``, ``nodev``.
- **uid**: started as root, the worker moves to ``nobody`` (65534) with no
  groups, so it owns no file (no ``chmod``/``chown``/ACL/xattr of root-owned
  files even if a write path existed). Started as another user, it keeps
  that uid, mapped alone in its user namespace.
- **capabilities**: none left (bounding, ambient, effective, permitted,
  inheritable), so no namespace, mount or limit can be changed back.
- **rlimits**: address space (``memory_mb``), file size 0 (``SIGXFSZ``
  ignored: writes fail with ``EFBIG``), no core files, 64 open files, no
  new processes.
- **parent_death**: ``PR_SET_PDEATHSIG`` = ``SIGKILL``, set again after every
  credential change (which clears it) and checked against the expected parent
  pid, so a worker never outlives the process that started it. The parent
  starts workers from one long-lived thread (the signal follows the thread).

seccomp (``_seccomp.py``), Landlock (``_landlock.py``) and the audit hook
(``_audit.py``) are applied by the worker after these.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import struct

__all__ = ["NOBODY", "apply_rlimits", "drop_capabilities", "drop_uid", "enter_namespaces", "private_root",
           "set_parent_death"]

NOBODY = 65534
_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 0x400, 0x800, 0x200000
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
_MNT_DETACH = 2
_ST_RELATIME = 0x1000
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 47, 4
_CAPABILITY_VERSION_3 = 0x20080522
_READ_ONLY = _MS_RDONLY | _MS_NOSUID | _MS_NODEV
_OLD_ROOT = ".old-root"


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.syscall.restype = ctypes.c_long
    return libc


class _Refused(Exception):
    """A kernel call failed; the message is the layer's ``off:`` reason."""


def _check(result: int, what: str) -> None:
    if result != 0:
        raise _Refused(f"{what}: {os.strerror(ctypes.get_errno())}")


def _status(action: object) -> str:
    if platform.system() != "Linux":
        return "off: not Linux"
    try:
        detail = action() if callable(action) else None
    except (_Refused, OSError) as exc:
        return f"off: {exc}"
    return f"on ({detail})" if detail else "on"


# --- parent death ---------------------------------------------------------------------------------


def set_parent_death(parent_pid: int) -> str:
    """Die with ``SIGKILL`` when the parent goes; exit now if it is already gone."""

    def apply() -> None:
        _check(_libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != parent_pid:
            os._exit(0)  # the parent died before the signal was armed

    return _status(apply)


# --- namespaces and the private root --------------------------------------------------------------


def enter_namespaces() -> str:
    """New mount, network, IPC and UTS namespaces (and a user namespace unless root)."""

    def apply() -> str:
        libc = _libc()
        flags = _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS
        if os.geteuid() == 0:
            _check(libc.unshare(flags), "unshare")
            kinds = "mount, network, IPC, UTS"
        else:
            uid, gid = os.getuid(), os.getgid()
            _check(libc.unshare(flags | _CLONE_NEWUSER), "unshare")
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as handle:
                    handle.write(text)
            kinds = "user, mount, network, IPC, UTS"
        hostname = b"fnforge-sandbox"
        _check(libc.sethostname(hostname, len(hostname)), "sethostname")
        return kinds

    return _status(apply)


def private_root(read_roots: list[str], mount_point: str) -> str:
    """Make a read-only tmpfs at ``mount_point`` holding only ``read_roots`` (read-only) and pivot into it."""

    def apply() -> str:
        libc = _libc()
        _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
        _check(libc.mount(b"tmpfs", mount_point.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                          b"mode=0755,size=1m"), "mount tmpfs")
        roots = _outermost(read_roots)
        for root in roots:
            _bind_read_only(libc, root, mount_point + root)
        os.mkdir(os.path.join(mount_point, _OLD_ROOT))
        os.chdir(mount_point)
        _check(libc.syscall(_pivot_root_number(), b".", _OLD_ROOT.encode()), "pivot_root")
        _check(libc.umount2(f"/{_OLD_ROOT}".encode(), _MNT_DETACH), "umount old root")
        os.rmdir(f"/{_OLD_ROOT}")
        _check(libc.mount(None, b"/", None, _MS_REMOUNT | _MS_BIND | _READ_ONLY | _MS_NOEXEC, None),
               "remount / read-only")
        os.chdir("/")
        return f"{len(roots)} read-only roots"

    return _status(apply)


def _outermost(paths: list[str]) -> list[str]:
    """Absolute and resolved forms of ``paths``, without any that lies inside another."""
    candidates = sorted({form for p in paths if os.path.isdir(p) for form in (os.path.abspath(p), os.path.realpath(p))})
    kept: list[str] = []
    for path in candidates:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _bind_read_only(libc: ctypes.CDLL, source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    if libc.mount(source.encode(), target.encode(), None, _MS_BIND, None) != 0:
        _check(libc.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None), f"bind {source}")
    _check(libc.mount(None, target.encode(), None, _MS_REMOUNT | _MS_BIND | _READ_ONLY | _locked_flags(source),
                      None), f"remount {source} read-only")


def _locked_flags(path: str) -> int:
    """Flags of the mount holding ``path`` that a user namespace may not clear on a bind remount."""
    flag = os.statvfs(path).f_flag
    locked = flag & (_MS_NOEXEC | _MS_NOATIME | _MS_NODIRATIME)
    return locked | (_MS_RELATIME if flag & _ST_RELATIME else 0)


def _pivot_root_number() -> int:
    from fnforge.sandbox.worker._syscalls import current

    arch = current()
    if arch is None:
        raise _Refused("pivot_root: no syscall table for this architecture")
    return arch["pivot_root"]


# --- credentials ------------------------------------------------------------------------------------


def drop_uid() -> str:
    """As root: become ``nobody`` with no groups. Otherwise: keep the caller's own (mapped) uid."""

    def apply() -> str:
        if os.geteuid() != 0:
            return f"uid {os.getuid()}, not root"
        libc = _libc()
        for cap in range(64):
            libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return f"uid {NOBODY}"

    return _status(apply)


def drop_capabilities() -> str:
    """Drop every Linux capability (bounding, ambient, effective, permitted, inheritable)."""

    def apply() -> None:
        libc = _libc()
        for cap in range(64):
            libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
        libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        header = ctypes.create_string_buffer(struct.pack("Ii", _CAPABILITY_VERSION_3, 0))
        data = ctypes.create_string_buffer(24)  # two {effective, permitted, inheritable} = 0
        from fnforge.sandbox.worker._syscalls import current

        arch = current()
        if arch is None:
            raise _Refused("capset: no syscall table for this architecture")
        _check(libc.syscall(arch["capset"], header, data), "capset")

    return _status(apply)


def apply_rlimits(*, memory_mb: int, max_open_files: int = 64) -> str:
    """Limit address space, file size, core dumps, open files and new processes."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NOFILE, max_open_files),
                  (resource.RLIMIT_AS, memory_mb * 1024 * 1024), (resource.RLIMIT_NPROC, 0)]
        for which, value in limits:
            resource.setrlimit(which, (value, value))

    return _status(apply)
