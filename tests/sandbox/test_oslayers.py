"""The OS layers, proved with raw unguarded code that simulates a full policy escape.

Each probe runs twice: in a worker with the audit hook enforcing (it must
report a violation) and in one whose hook only records (the kernel layers —
seccomp, Landlock, the network namespace, rlimits, dropped capabilities —
must stop it on their own, which surfaces as the code's own PermissionError).
"""

from __future__ import annotations

import pytest

from fnforge.sandbox import FunctionError, SandboxMemoryError, SandboxViolation

PROBES = [
    # id, code, audit-hook rule, what the kernel layers alone do
    ("fork", "import os\nos.fork()", "process", "PermissionError"),
    ("subprocess", "import subprocess\nsubprocess.run(['/bin/true'])", "process", "PermissionError"),
    ("socket", "import socket\nsocket.socket()", "network", "PermissionError"),
    ("connect", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)", "network",
     "PermissionError"),
    ("read-etc-passwd", "result = open('/etc/passwd').read()", "file-read", "PermissionError"),
    ("write-tmp", "open('/tmp/fnforge-sandbox-probe', 'w').write('x')", "file-write", "PermissionError"),
    ("write-cwd", "open('probe.txt', 'w').write('x')", "file-write", "PermissionError"),
    ("list-root", "import os\nresult = os.listdir('/')", "filesystem", "PermissionError"),
    ("chmod", "import os\nos.chmod('/tmp', 0o777)", "filesystem", "PermissionError"),
    ("kill-parent", "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)", "process", "PermissionError"),
    ("raise-rlimit", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", "introspection",
     "ValueError"),
]


@pytest.mark.parametrize(("code", "rule"), [(p[1], p[2]) for p in PROBES], ids=[p[0] for p in PROBES])
def test_audit_hook_rejects_raw_escape(probe_sandbox, code: str, rule: str) -> None:
    with pytest.raises(SandboxViolation) as caught:
        probe_sandbox._probe(code)
    assert caught.value.rule == rule


@pytest.mark.parametrize(("code", "exc_type"), [(p[1], p[3]) for p in PROBES], ids=[p[0] for p in PROBES])
def test_kernel_layers_reject_raw_escape_without_audit_hook(bare_sandbox, code: str, exc_type: str) -> None:
    with pytest.raises(FunctionError) as caught:
        bare_sandbox._probe(code)
    assert caught.value.exc_type == exc_type


def test_audit_hook_rejects_ctypes(probe_sandbox) -> None:
    with pytest.raises(SandboxViolation) as caught:
        probe_sandbox._probe("import ctypes\nctypes.CDLL(None)")
    assert caught.value.rule == "native"


@pytest.mark.parametrize(("call", "name"), [("fork()", "fork"), ("syscall(57)", "raw fork"),
                                            ("unshare(0x40000000)", "unshare"),
                                            ("socket(2, 1, 0)", "socket")])
def test_seccomp_rejects_syscalls_made_through_ctypes(bare_sandbox, call: str, name: str) -> None:
    result = bare_sandbox._probe(f"import ctypes\nresult = ctypes.CDLL(None).{call}")
    assert result.value == -1, name


def test_worker_environment_is_scrubbed(bare_sandbox) -> None:
    result = bare_sandbox._probe("import os\nresult = sorted(os.environ)")
    assert set(result.value) <= {"HOME", "LANG", "LC_ALL", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                                 "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PATH", "TMPDIR", "LC_CTYPE"}


def test_worker_runs_in_an_empty_private_directory(bare_sandbox) -> None:
    result = bare_sandbox._probe("import os\nresult = os.path.basename(os.getcwd())")
    assert result.value.startswith("fnforge-sandbox-")


def test_worker_has_no_capabilities(bare_sandbox) -> None:
    code = "import ctypes, struct\nh = ctypes.create_string_buffer(struct.pack('Ii', 0x20080522, 0))\n" \
           "d = ctypes.create_string_buffer(24)\nctypes.CDLL(None).syscall(125, h, d)\n" \
           "result = list(struct.unpack('6I', d.raw))"
    assert bare_sandbox._probe(code).value == [0] * 6


def test_address_space_limit_stops_raw_allocation(bare_sandbox) -> None:
    with pytest.raises(SandboxMemoryError):
        bare_sandbox._probe("b = bytearray(2 * 1024 ** 3)")


def test_every_isolation_layer_is_on_here(sandbox) -> None:
    layers = sandbox.isolation
    assert {name: state.split(" ")[0] for name, state in layers.items()} == {
        "network": "on", "landlock": "on", "rlimits": "on", "capabilities": "on", "seccomp": "on",
        "audit_hook": "on"}


@pytest.mark.parametrize(("call", "reason"), [
    ("unshare_network()", "off: unshare: Operation not permitted"),
    ("drop_capabilities()", "off: capset: Operation not permitted"),
])
def test_a_layer_the_kernel_refuses_reports_off_with_the_reason(bare_sandbox, call: str, reason: str) -> None:
    code = f"from fnforge.sandbox.worker import _confine\nresult = _oslayer.{call}"
    assert bare_sandbox._probe(code).value == reason
