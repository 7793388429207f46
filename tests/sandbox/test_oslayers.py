"""The OS layers as the parent sees them: reported, required, refused when missing, built per architecture.

What escaped code can still do inside them is ``test_post_escape.py``. The
seccomp program is checked here without a kernel, by running it on a small
BPF interpreter, for every architecture fnforge has a syscall table for.
"""

from __future__ import annotations

import platform
import struct

import pytest

from fnforge.sandbox import (FunctionError, Sandbox, SandboxIsolationError, SandboxMemoryError, SandboxPolicy,
                             SandboxViolation)
from fnforge.sandbox.worker._seccomp import ALLOWED, program
from fnforge.sandbox.worker._syscalls import AARCH64, X86_64, Architecture
from tests.sandbox.conftest import one, require_layers

LAYERS = {"parent_death", "namespaces", "filesystem", "uid", "capabilities", "rlimits", "landlock", "seccomp",
          "audit_hook"}
LIGHT = SandboxPolicy(allowed_modules=("math",), timeout_s=5.0, kill_grace_s=1.0)
linux_only = pytest.mark.skipif(platform.system() != "Linux", reason="the OS layers exist on Linux only")

# --- what the parent is told ------------------------------------------------------------------------


def test_isolation_reports_every_layer_as_on_or_off_with_a_reason(sandbox) -> None:
    layers = sandbox.isolation
    assert set(layers) == LAYERS
    assert all(state == "on" or state.startswith(("on (", "off: ")) for state in layers.values())


@linux_only
@pytest.mark.parametrize("layer", ["namespaces", "filesystem", "uid", "capabilities", "rlimits", "parent_death",
                                   "landlock", "seccomp", "audit_hook"])
def test_each_layer_is_on_where_the_host_provides_it(sandbox, layer: str) -> None:
    require_layers(sandbox, layer)  # skips, naming the kernel's reason, where the host cannot
    assert sandbox.isolation[layer].startswith("on")


@linux_only
@pytest.mark.parametrize("layer", ["filesystem", "uid", "seccomp"])
def test_sandbox_refuses_untrusted_code_when_a_core_layer_is_off(layer: str) -> None:
    with Sandbox(LIGHT, workers=1, spares=0, _skip_layers=(layer,)) as sb:
        with pytest.raises(SandboxIsolationError) as caught:
            sb.call(one("return 1"), "f")
    assert layer in caught.value.missing and "FNFORGE_SANDBOX_ISOLATION=best-effort" in str(caught.value)


@linux_only
def test_opt_out_runs_code_with_a_core_layer_missing_and_says_so() -> None:
    with Sandbox(LIGHT, workers=1, spares=0, require_isolation=False, _skip_layers=("seccomp",)) as sb:
        assert sb.call(one("return 41 + 1"), "f").value == 42
        assert sb.isolation["seccomp"].startswith("off: ")


# --- the audit hook (a Python layer above the kernel's) --------------------------------------------

HOOK_PROBES = [
    ("fork", "import os\nos.fork()", "process"),
    ("subprocess", "import subprocess\nsubprocess.run(['/bin/true'])", "process"),
    ("socket", "import socket\nsocket.socket()", "network"),
    ("read-outside", "result = open('/etc/passwd').read()", "file-read"),
    ("write-cwd", "open('probe.txt', 'w').write('x')", "file-write"),
    ("chmod", "import os\nos.chmod('/', 0o777)", "filesystem"),
    ("setxattr", "import os\nos.setxattr('/', 'user.x', b'1')", "filesystem"),
    ("kill-parent", "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)", "process"),
    ("getframe", "import sys\nresult = sys._getframe()", "introspection"),
    ("raise-rlimit", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", "introspection"),
    ("ctypes", "import ctypes\nctypes.CDLL(None)", "native"),
    # the ways to a frame, and from a frame to the worker that holds the audit hook (issue 11, finding 2)
    ("traceback-frame", "try:\n    1 / 0\nexcept Exception as e:\n    result = e.__traceback__.tb_frame",
     "introspection"),
    ("generator-frame", "g = (x for x in [1])\nresult = g.gi_frame", "introspection"),
    ("getframe-caller", "import sys\nresult = sys._getframe(3)", "introspection"),
    ("gc-walk", "import gc\nresult = len(gc.get_objects())", "introspection"),
    ("gc-referrers", "import gc\nresult = len(gc.get_referrers(gc))", "introspection"),
    ("settrace", "import sys\nsys.settrace(lambda *a: None)", "introspection"),
    ("current-frames", "import sys\nresult = len(sys._current_frames())", "introspection"),
]


@pytest.mark.parametrize(("code", "rule"), [(p[1], p[2]) for p in HOOK_PROBES], ids=[p[0] for p in HOOK_PROBES])
def test_audit_hook_rejects_raw_escape(probe_sandbox, code: str, rule: str) -> None:
    with pytest.raises(SandboxViolation) as caught:
        probe_sandbox._probe(code)
    assert caught.value.rule == rule


def test_audit_hook_holds_no_switch_that_code_with_real_builtins_can_find(probe_sandbox) -> None:
    code = ("import sys\nfound = 0\n"
            "for name, module in list(sys.modules.items()):\n"
            "    if name.startswith('fnforge.sandbox'):\n"
            "        for value in list(vars(module).values()):\n"
            "            for flag in ('untrusted', 'enforce', 'enforcing'):\n"
            "                if hasattr(value, flag) and not isinstance(value, type):\n"
            "                    setattr(value, flag, False)\n"
            "                    found += 1\n"
            "result = (found, open('/etc/passwd').read())")
    with pytest.raises(SandboxViolation) as caught:
        probe_sandbox._probe(code)
    assert caught.value.rule == "file-read"


def test_a_new_signal_handler_cannot_be_installed(bare_sandbox) -> None:
    require_layers(bare_sandbox, "seccomp")
    code = "import signal\nsignal.signal(signal.SIGUSR1, lambda number, frame: None)"
    with pytest.raises(FunctionError) as caught:
        bare_sandbox._probe(code)
    assert caught.value.exc_type == "PermissionError"  # seccomp: a handler would be handed the interrupted frame


def test_address_space_limit_stops_raw_allocation(bare_sandbox) -> None:
    with pytest.raises(SandboxMemoryError):
        bare_sandbox._probe("b = bytearray(2 * 1024 ** 3)")


@linux_only
@pytest.mark.parametrize(("call", "prefix"), [("enter_namespaces()", "off: unshare"),
                                              ("drop_capabilities()", "off: capset")])
def test_a_layer_the_kernel_refuses_reports_off_with_the_reason(bare_sandbox, call: str, prefix: str) -> None:
    require_layers(bare_sandbox, "seccomp")
    code = f"from fnforge.sandbox.worker import _confine\nresult = _confine.{call}"
    assert bare_sandbox._probe(code).value.startswith(prefix)


# --- the seccomp program, on a BPF interpreter ----------------------------------------------------

EPERM = 0x00050001
ENOSYS = 0x00050026
ALLOW = 0x7FFF0000
KILL = 0x80000000
PID = 4242


def run_filter(code: bytes, arch: int, nr: int, *args: int) -> int:
    """Evaluate a classic BPF seccomp program on one ``seccomp_data``."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    insns = [struct.unpack("HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = insns[pc]
        if op == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
        elif op in (0x15, 0x45):
            taken = acc == k if op == 0x15 else bool(acc & k)
            pc += jt if taken else jf
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF instruction {op:#x}")
        pc += 1


ARCHES = [pytest.param(X86_64, id="x86_64"), pytest.param(AARCH64, id="aarch64")]


@pytest.mark.parametrize("arch", ARCHES)
def test_seccomp_allows_what_a_warm_worker_needs(arch: Architecture) -> None:
    code = program(arch, PID)
    for name in ALLOWED:
        if name in arch:
            assert run_filter(code, arch.audit_arch, arch[name]) == ALLOW, name


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", [
    "clone", "execve", "execveat", "socket", "socketpair", "connect", "ptrace", "process_vm_readv",
    "process_vm_writev", "setxattr", "fsetxattr", "removexattr", "fchmodat", "fchmod", "fchownat", "fchown",
    "utimensat", "linkat", "symlinkat", "renameat2", "truncate", "ftruncate", "unlinkat", "mkdirat", "mknodat",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "setuid", "setresuid", "capset",
    "memfd_create", "bpf", "perf_event_open", "userfaultfd", "keyctl", "io_uring_setup", "pidfd_open",
    "pidfd_send_signal", "rt_sigaction", "tkill", "dup", "dup3", "pipe2", "prctl", "seccomp", "chdir", "fchdir",
    "landlock_create_ruleset", "fchmodat2", "rt_sigqueueinfo",
])
def test_seccomp_denies_syscalls_escaped_code_would_need(arch: Architecture, name: str) -> None:
    assert run_filter(program(arch, PID), arch.audit_arch, arch[name]) == EPERM


@pytest.mark.parametrize("arch", ARCHES)
def test_seccomp_denies_syscalls_it_has_never_heard_of(arch: Architecture) -> None:
    assert run_filter(program(arch, PID), arch.audit_arch, 999) == EPERM


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize(("flags", "expected"), [(0, ALLOW), (0o2000000, ALLOW), (1, EPERM), (2, EPERM),
                                                 (0o100, EPERM), (0o1000, EPERM), (0o2000, EPERM),
                                                 (0o20200000, EPERM)])
def test_seccomp_allows_openat_for_reading_only(arch: Architecture, flags: int, expected: int) -> None:
    assert run_filter(program(arch, PID), arch.audit_arch, arch["openat"], -100 & 0xFFFFFFFF, 0, flags) == expected


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize(("name", "args", "expected"), [
    ("kill", (PID, 14), ALLOW), ("kill", (0, 14), ALLOW), ("kill", (1, 9), EPERM), ("kill", (PID + 1, 9), EPERM),
    ("kill", (0xFFFFFFFF, 9), EPERM), ("tgkill", (PID, PID, 6), ALLOW), ("tgkill", (1, 1, 9), EPERM),
    ("prlimit64", (0, 0), ALLOW), ("prlimit64", (1, 0), EPERM), ("fcntl", (3, 1), ALLOW), ("fcntl", (3, 8), EPERM),
    ("fcntl", (3, 10), EPERM), ("ioctl", (0, 0x5401), ALLOW), ("ioctl", (0, 0x5412), EPERM),
    ("openat2", (), ENOSYS), ("clone3", (), ENOSYS),
])
def test_seccomp_checks_the_arguments_of_conditional_syscalls(arch: Architecture, name: str, args: tuple[int, ...],
                                                               expected: int) -> None:
    assert run_filter(program(arch, PID), arch.audit_arch, arch[name], *args) == expected


@pytest.mark.parametrize("arch", ARCHES)
def test_seccomp_kills_a_syscall_of_another_architecture(arch: Architecture) -> None:
    other = AARCH64 if arch is X86_64 else X86_64
    assert run_filter(program(arch, PID), other.audit_arch, 0) == KILL


def test_seccomp_kills_x32_syscalls_on_x86_64() -> None:
    assert run_filter(program(X86_64, PID), X86_64.audit_arch, 0x40000000 | X86_64["read"]) == KILL


@pytest.mark.parametrize("arch", ARCHES)
def test_seccomp_program_fits_the_kernel_limits(arch: Architecture) -> None:
    code = program(arch, PID)
    assert len(code) % 8 == 0 and len(code) // 8 < 4096
    assert all(code[i + 2] < 256 and code[i + 3] < 256 for i in range(0, len(code), 8))

