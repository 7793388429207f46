"""Landlock: a second, independent file rule under the private root (and TCP and signal scoping).

The mount namespace already shows the worker nothing but its read roots,
read-only (``_confine.py``); Landlock repeats that as an access rule the
kernel checks on every open (read beneath the roots only, nothing written or
created anywhere), denies TCP bind/connect (ABI 4) and signals or abstract
Unix sockets outside the worker's own domain (ABI 6). It is an extra layer:
a kernel without Landlock reports ``off`` and fnforge still runs.
"""

from __future__ import annotations

import ctypes
import os
import struct

from fnforge.sandbox.worker._syscalls import current

__all__ = ["apply_landlock"]

_PR_SET_NO_NEW_PRIVS = 38
_VERSION_FLAG = 1
_RULE_PATH_BENEATH = 1
_READ_FILE = 1 << 2
_READ_DIR = 1 << 3
_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture (asm-generic)
_LANDLOCK_ADD_RULE = 445
_LANDLOCK_RESTRICT_SELF = 446


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= 1 << 14  # truncate
    if abi >= 5:
        rights |= 1 << 15  # ioctl_dev
    return rights


def apply_landlock(read_only_paths: list[str]) -> str:
    """Allow reading beneath ``read_only_paths`` only; deny all writes, TCP and outside signals."""
    if current() is None:
        return "off: no syscall table for this architecture"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_LANDLOCK_CREATE_RULESET, None, 0, _VERSION_FLAG)
    if abi < 1:
        return f"off: landlock unavailable: {os.strerror(ctypes.get_errno())}"
    net_rights = 0b11 if abi >= 4 else 0  # bind_tcp | connect_tcp
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets | signals
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = ctypes.create_string_buffer(struct.pack("QQQ", _fs_rights(abi), net_rights, scoped)[:size])
    ruleset = libc.syscall(_LANDLOCK_CREATE_RULESET, attr, size, 0)
    if ruleset < 0:
        return f"off: landlock_create_ruleset: {os.strerror(ctypes.get_errno())}"
    try:
        for path in sorted(set(read_only_paths)):
            problem = _add_rule(libc, int(ruleset), path)
            if problem is not None:
                return f"off: {problem}"
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"off: no_new_privs: {os.strerror(ctypes.get_errno())}"
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return f"off: landlock_restrict_self: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(int(ruleset))
    return f"on (ABI {abi})"


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: str) -> str | None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return None  # a root that does not exist grants nothing
    try:
        rights = _READ_FILE | (_READ_DIR if os.path.isdir(path) else 0)
        rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd))
        if libc.syscall(_LANDLOCK_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
            return f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(fd)
    return None
