"""Linux syscall numbers and seccomp architecture tokens, per architecture.

Generated once from the kernel headers (``asm/unistd_64.h`` for x86-64,
``asm-generic/unistd.h`` with arm64's ``__ARCH_WANT_*`` switches for
aarch64) for the syscalls the seccomp filter and its tests name; a
syscall an architecture does not have (aarch64 has no ``open``, ``fork``,
``chmod``...) is simply absent. ``fchmodat2`` (Linux 6.6) was added by hand.
"""

from __future__ import annotations

import platform

__all__ = ["ARCHITECTURES", "Architecture", "current"]


class Architecture:
    """One architecture: its seccomp ``AUDIT_ARCH_*`` token and syscall numbers by name."""

    def __init__(self, name: str, audit_arch: int, numbers: dict[str, int], *, x32_bit: int = 0) -> None:
        self.name = name
        self.audit_arch = audit_arch
        self.numbers = numbers
        self.x32_bit = x32_bit  # x86-64's x32 ABI shares the arch token: its numbers carry this bit

    def __getitem__(self, name: str) -> int:
        return self.numbers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.numbers


X86_64 = Architecture("x86_64", 0xC000003E, {
    "accept": 43, "accept4": 288, "access": 21, "add_key": 248, "alarm": 37, "arch_prctl": 158, "bind": 49,
    "bpf": 321, "brk": 12, "capget": 125, "capset": 126, "chdir": 80, "chmod": 90, "chown": 92, "chroot": 161,
    "clock_getres": 229, "clock_gettime": 228, "clock_nanosleep": 230, "clone": 56, "clone3": 435, "close": 3,
    "close_range": 436, "connect": 42, "creat": 85, "dup": 32, "dup2": 33, "dup3": 292, "execve": 59,
    "execveat": 322, "exit": 60, "exit_group": 231, "faccessat": 269, "faccessat2": 439, "fchdir": 81,
    "fchmod": 91, "fchmodat": 268, "fchown": 93, "fchownat": 260, "fcntl": 72, "fork": 57, "fremovexattr": 199,
    "fsetxattr": 190, "fstat": 5, "fstatfs": 138, "ftruncate": 77, "futex": 202, "futimesat": 261,
    "get_mempolicy": 239, "getcwd": 79, "getdents64": 217, "getegid": 108, "geteuid": 107, "getgid": 104,
    "getgroups": 115, "getitimer": 36, "getpgid": 121, "getpgrp": 111, "getpid": 39, "getppid": 110,
    "getrandom": 318, "getresgid": 120, "getresuid": 118, "getrlimit": 97, "getrusage": 98, "getsid": 124,
    "gettid": 186, "gettimeofday": 96, "getuid": 102, "getxattr": 191, "io_uring_setup": 425, "ioctl": 16,
    "keyctl": 250, "kill": 62, "landlock_add_rule": 445, "landlock_create_ruleset": 444,
    "landlock_restrict_self": 446, "lchown": 94, "link": 86, "linkat": 265, "listen": 50, "listxattr": 194,
    "lremovexattr": 198, "lseek": 8, "lsetxattr": 189, "lstat": 6, "madvise": 28, "mbind": 237,
    "membarrier": 324, "memfd_create": 319, "mkdir": 83, "mkdirat": 258, "mknod": 133, "mknodat": 259,
    "mmap": 9, "mount": 165, "mprotect": 10, "mremap": 25, "munmap": 11, "nanosleep": 35, "newfstatat": 262,
    "open": 2, "openat": 257, "openat2": 437, "perf_event_open": 298, "pidfd_open": 434,
    "pidfd_send_signal": 424, "pipe": 22, "pipe2": 293, "pivot_root": 155, "poll": 7, "ppoll": 271,
    "prctl": 157, "pread64": 17, "preadv": 295, "prlimit64": 302, "process_vm_readv": 310,
    "process_vm_writev": 311, "pselect6": 270, "ptrace": 101, "pwrite64": 18, "read": 0, "readlink": 89,
    "readlinkat": 267, "readv": 19, "recvfrom": 45, "recvmsg": 47, "removexattr": 197, "rename": 82,
    "renameat": 264, "renameat2": 316, "restart_syscall": 219, "rmdir": 84, "rseq": 334, "rt_sigaction": 13,
    "rt_sigprocmask": 14, "rt_sigqueueinfo": 129, "rt_sigreturn": 15, "rt_tgsigqueueinfo": 297,
    "sched_getaffinity": 204, "sched_yield": 24, "seccomp": 317, "select": 23, "sendmsg": 46, "sendto": 44,
    "set_mempolicy": 238, "set_robust_list": 273, "set_tid_address": 218, "setgid": 106, "setgroups": 116,
    "setitimer": 38, "setns": 308, "setresgid": 119, "setresuid": 117, "setrlimit": 160, "setuid": 105,
    "setxattr": 188, "sigaltstack": 131, "socket": 41, "socketpair": 53, "stat": 4, "statfs": 137,
    "statx": 332, "symlink": 88, "symlinkat": 266, "sysinfo": 99, "tgkill": 234, "time": 201,
    "timer_create": 222, "times": 100, "tkill": 200, "truncate": 76, "umount2": 166, "uname": 63, "unlink": 87,
    "unlinkat": 263, "unshare": 272, "userfaultfd": 323, "utime": 132, "utimensat": 280, "utimes": 235,
    "vfork": 58, "write": 1, "writev": 20,
    "fchmodat2": 452,
}, x32_bit=0x40000000)

AARCH64 = Architecture("aarch64", 0xC00000B7, {
    "accept": 202, "accept4": 242, "add_key": 217, "bind": 200, "bpf": 280, "brk": 214, "capget": 90,
    "capset": 91, "chdir": 49, "chroot": 51, "clock_getres": 114, "clock_gettime": 113, "clock_nanosleep": 115,
    "clone": 220, "clone3": 435, "close": 57, "close_range": 436, "connect": 203, "dup": 23, "dup3": 24,
    "execve": 221, "execveat": 281, "exit": 93, "exit_group": 94, "faccessat": 48, "faccessat2": 439,
    "fchdir": 50, "fchmod": 52, "fchmodat": 53, "fchown": 55, "fchownat": 54, "fcntl": 25, "fremovexattr": 16,
    "fsetxattr": 7, "fstat": 80, "fstatfs": 44, "ftruncate": 46, "futex": 98, "get_mempolicy": 236,
    "getcwd": 17, "getdents64": 61, "getegid": 177, "geteuid": 175, "getgid": 176, "getgroups": 158,
    "getitimer": 102, "getpgid": 155, "getpid": 172, "getppid": 173, "getrandom": 278, "getresgid": 150,
    "getresuid": 148, "getrlimit": 163, "getrusage": 165, "getsid": 156, "gettid": 178, "gettimeofday": 169,
    "getuid": 174, "getxattr": 8, "io_uring_setup": 425, "ioctl": 29, "keyctl": 219, "kill": 129,
    "landlock_add_rule": 445, "landlock_create_ruleset": 444, "landlock_restrict_self": 446, "linkat": 37,
    "listen": 201, "listxattr": 11, "lremovexattr": 15, "lseek": 62, "lsetxattr": 6, "madvise": 233,
    "mbind": 235, "membarrier": 283, "memfd_create": 279, "mkdirat": 34, "mknodat": 33, "mmap": 222,
    "mount": 40, "mprotect": 226, "mremap": 216, "munmap": 215, "nanosleep": 101, "newfstatat": 79,
    "openat": 56, "openat2": 437, "perf_event_open": 241, "pidfd_open": 434, "pidfd_send_signal": 424,
    "pipe2": 59, "pivot_root": 41, "ppoll": 73, "prctl": 167, "pread64": 67, "preadv": 69, "prlimit64": 261,
    "process_vm_readv": 270, "process_vm_writev": 271, "pselect6": 72, "ptrace": 117, "pwrite64": 68,
    "read": 63, "readlinkat": 78, "readv": 65, "recvfrom": 207, "recvmsg": 212, "removexattr": 14,
    "renameat": 38, "renameat2": 276, "restart_syscall": 128, "rseq": 293, "rt_sigaction": 134,
    "rt_sigprocmask": 135, "rt_sigqueueinfo": 138, "rt_sigreturn": 139, "rt_tgsigqueueinfo": 240,
    "sched_getaffinity": 123, "sched_yield": 124, "seccomp": 277, "sendmsg": 211, "sendto": 206,
    "set_mempolicy": 237, "set_robust_list": 99, "set_tid_address": 96, "setgid": 144, "setgroups": 159,
    "setitimer": 103, "setns": 268, "setresgid": 149, "setresuid": 147, "setrlimit": 164, "setuid": 146,
    "setxattr": 5, "sigaltstack": 132, "socket": 198, "socketpair": 199, "statfs": 43, "statx": 291,
    "symlinkat": 36, "sysinfo": 179, "tgkill": 131, "timer_create": 107, "times": 153, "tkill": 130,
    "truncate": 45, "umount2": 39, "uname": 160, "unlinkat": 35, "unshare": 97, "userfaultfd": 282,
    "utimensat": 88, "write": 64, "writev": 66,
    "fchmodat2": 452,
})

ARCHITECTURES = {"x86_64": X86_64, "amd64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}
"""``platform.machine()`` -> its table."""


def current() -> Architecture | None:
    """This machine's table, or None on an architecture without one (the seccomp layer is then off)."""
    return ARCHITECTURES.get(platform.machine().lower())
