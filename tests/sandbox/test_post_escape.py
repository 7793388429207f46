"""The post-escape suite: assume the guards fell, and prove the OS layers alone keep the promise.

Each probe is plain CPython with the real builtins, ``os`` and ``ctypes``,
run inside a worker's full OS confinement with the Python guards and the
audit hook off (the audit hook only records). Every attempt must fail, and
the host files are checked from outside afterwards: nothing was changed.
Raw syscalls use the numbers of the machine's architecture (``_syscalls.py``;
a syscall the architecture lacks is skipped) and no test reads kernel error
text. A test skips, saying why, only where the host lacks the layer it needs.

The last tests take the layers apart: each core layer alone (with the others
switched off) still refuses writes and metadata changes of a host file.
"""

from __future__ import annotations

import os
import platform
import shutil
import stat
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fnforge.sandbox import Sandbox, SandboxIsolationError, SandboxPolicy

pytestmark = pytest.mark.skipif(platform.system() != "Linux", reason="the OS layers exist on Linux only")

POLICY = SandboxPolicy(allowed_modules=("math",), timeout_s=10.0, kill_grace_s=2.0)
PRELUDE = '''
import ctypes, os
from fnforge.sandbox.worker._syscalls import current
ARCH = current()
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
result = {}

def attempt(name, action):
    try:
        value = action()
    except Exception:
        result[name] = "denied"
    else:
        result[name] = f"ALLOWED: {value!r}"[:160]

def raw(name, syscall, *args):
    if syscall in ARCH:
        value = LIBC.syscall(ARCH[syscall], *args)
        result[name] = "denied" if value == -1 else f"ALLOWED: {syscall} returned {value}"
'''
AT_FDCWD = -100


@dataclass(frozen=True)
class Host:
    """Files of the host: ``visible`` is a read root of the workers, ``outside`` is not."""

    visible: Path
    outside: Path

    @property
    def target(self) -> Path:
        return self.visible / "target.txt"

    def snapshot(self) -> dict[str, object]:
        """Everything escaped code must not change."""
        info = self.target.stat()
        return {"listing": sorted(p.name for p in self.visible.iterdir()), "text": self.target.read_text(),
                "mode": stat.S_IMODE(info.st_mode), "owner": (info.st_uid, info.st_gid), "size": info.st_size,
                "times": (info.st_mtime_ns, info.st_ctime_ns), "links": info.st_nlink, "xattrs": _xattrs(self.target)}


def _xattrs(path: Path) -> dict[str, bytes]:
    try:
        return {name: os.getxattr(path, name) for name in os.listxattr(path)}
    except OSError:
        return {}


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    root = Path(tempfile.mkdtemp(prefix="fnforge-escape-"))
    root.chmod(0o755)  # reachable by an unprivileged uid: then only the layers stop it
    visible, outside = root / "visible", root / "outside"
    visible.mkdir(mode=0o755)
    outside.mkdir(mode=0o755)
    target = visible / "target.txt"
    target.write_text("original\n")
    target.chmod(0o600)
    try:
        os.setxattr(target, "user.fnforge", b"kept")
    except OSError:
        pass  # a file system without user xattrs: the snapshot compares what there is
    (outside / "secret.txt").write_text("secret\n")
    (outside / "secret.txt").chmod(0o600)
    yield Host(visible=visible, outside=outside)
    shutil.rmtree(root, ignore_errors=True)


def _confined(host: Host, **options: object) -> Sandbox:
    return Sandbox(POLICY, workers=1, spares=0, _probes=True, _audit=False, _extra_roots=(str(host.visible),),
                   **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def escaped(host: Host) -> Iterator[Sandbox]:
    with _confined(host) as sb:
        try:
            sb.isolation
        except SandboxIsolationError as exc:
            pytest.skip(f"this host cannot provide the OS layers: {exc}")
        yield sb


def probe(sb: Sandbox, body: str) -> dict[str, str]:
    return sb._probe(PRELUDE + textwrap.dedent(body)).value


def allowed(outcomes: dict[str, str]) -> dict[str, str]:
    assert outcomes, "the probe attempted nothing"
    return {name: outcome for name, outcome in outcomes.items() if outcome != "denied"}


# --- files of the host ----------------------------------------------------------------------------


def test_escaped_code_changes_nothing_on_a_host_file_it_can_see(escaped, host: Host) -> None:
    before = host.snapshot()
    target, folder = str(host.target), str(host.visible)
    outcomes = probe(escaped, f"""
    T, D = {target!r}, {folder!r}
    attempt("append", lambda: open(T, "a").write("x"))
    attempt("overwrite", lambda: open(T, "r+").write("x"))
    attempt("open-truncate", lambda: os.open(T, os.O_WRONLY | os.O_TRUNC))
    attempt("truncate", lambda: os.truncate(T, 0))
    attempt("chmod", lambda: os.chmod(T, 0o777))
    attempt("chown", lambda: os.chown(T, 0, 0))
    attempt("setxattr", lambda: os.setxattr(T, "user.evil", b"1"))
    attempt("acl", lambda: os.setxattr(T, "system.posix_acl_access", b"\\x02\\0\\0\\0\\x01\\0\\x07\\0\\xff\\xff\\xff\\xff"))
    attempt("removexattr", lambda: os.removexattr(T, "user.fnforge"))
    attempt("utime", lambda: os.utime(T, (0, 0)))
    attempt("link", lambda: os.link(T, D + "/hard"))
    attempt("symlink", lambda: os.symlink(T, D + "/soft"))
    attempt("rename", lambda: os.rename(T, D + "/moved"))
    attempt("unlink", lambda: os.unlink(T))
    attempt("mkdir", lambda: os.mkdir(D + "/new"))
    attempt("create", lambda: open(D + "/new.txt", "x"))
    attempt("mknod", lambda: os.mknod(D + "/fifo", 0o600 | 0o010000))
    raw("raw-truncate", "truncate", T.encode(), 0)
    raw("raw-fchmodat", "fchmodat", {AT_FDCWD}, T.encode(), 0o777, 0)
    raw("raw-fchmodat2", "fchmodat2", {AT_FDCWD}, T.encode(), 0o777, 0)
    raw("raw-fchownat", "fchownat", {AT_FDCWD}, T.encode(), 0, 0, 0)
    raw("raw-setxattr", "setxattr", T.encode(), b"user.evil", b"1", 1, 0)
    raw("raw-removexattr", "removexattr", T.encode(), b"user.fnforge")
    raw("raw-utimensat", "utimensat", {AT_FDCWD}, T.encode(), None, 0)
    raw("raw-linkat", "linkat", {AT_FDCWD}, T.encode(), {AT_FDCWD}, (D + "/hard").encode(), 0)
    raw("raw-renameat2", "renameat2", {AT_FDCWD}, T.encode(), {AT_FDCWD}, (D + "/moved").encode(), 0)
    raw("raw-unlinkat", "unlinkat", {AT_FDCWD}, T.encode(), 0)
    raw("raw-openat-write", "openat", {AT_FDCWD}, T.encode(), 0o1, 0)
    """)
    assert allowed(outcomes) == {}
    assert host.snapshot() == before


def test_escaped_code_writes_nowhere(escaped) -> None:
    outcomes = probe(escaped, f"""
    for path in ["/x", os.getcwd() + "/x", os.environ.get("HOME", "/") + "/x", "/tmp/x", "/dev/shm/x"]:
        attempt("write " + path, lambda path=path: open(path, "w").write("x"))
        attempt("mkdir " + path, lambda path=path: os.mkdir(path))
    attempt("memfd", lambda: os.memfd_create("x"))
    attempt("pipe", lambda: os.pipe())
    attempt("dup", lambda: os.dup(1))
    raw("raw-memfd", "memfd_create", b"x", 0)
    raw("raw-mkdirat", "mkdirat", {AT_FDCWD}, b"/newdir", 0o755)
    raw("raw-openat-create", "openat", {AT_FDCWD}, b"/created", 0o101, 0o644)
    raw("raw-openat-tmpfile", "openat", {AT_FDCWD}, b"/", 0o20200002, 0o600)
    """)
    assert allowed(outcomes) == {}


def test_escaped_code_sees_no_host_file_outside_its_read_roots(escaped, host: Host) -> None:
    secret, folder = str(host.outside / "secret.txt"), str(host.outside)
    outcomes = probe(escaped, f"""
    for path in [{secret!r}, {folder!r}, "/etc/passwd", "/etc", "/root/.bashrc", "/home", "/proc/1/environ",
                 "/sys", "/dev/null", "/var/run"]:
        attempt("stat " + path, lambda path=path: os.stat(path))
        attempt("open " + path, lambda path=path: open(path, "rb").read(10))
        attempt("listdir " + path, lambda path=path: os.listdir(path))
        attempt("readlink " + path, lambda path=path: os.readlink(path))
    attempt("chdir-up", lambda: (os.chdir(".."), os.listdir("."))[1])
    raw("raw-statx", "statx", {AT_FDCWD}, {secret!r}.encode(), 0, 0x7ff, ctypes.create_string_buffer(256))
    raw("raw-newfstatat", "newfstatat", {AT_FDCWD}, b"/etc/passwd", ctypes.create_string_buffer(256), 0)
    """)
    assert allowed(outcomes) == {}


def test_escaped_code_lists_only_its_private_root(escaped) -> None:
    outcomes = probe(escaped, """
    entries = []
    for top in ("/", "/root", "/work", "/usr"):
        try:
            entries += [top + "/" + e for e in os.listdir(top)]
        except OSError:
            pass
    result = {"cwd": os.getcwd(), "entries": entries}
    """)
    assert outcomes["cwd"] == "/"
    assert not [e for e in outcomes["entries"] if e.split("/")[-1] in ("etc", "proc", "dev", "tmp", "home", "var")]


# --- processes, signals, network ------------------------------------------------------------------


def test_escaped_code_sees_and_signals_no_other_process(escaped) -> None:
    outcomes = probe(escaped, """
    parent = os.getppid()
    attempt("proc", lambda: os.listdir("/proc"))
    attempt("kill-parent", lambda: os.kill(parent, 0))
    attempt("kill-init", lambda: os.kill(1, 0))
    attempt("kill-all", lambda: os.kill(-1, 0))
    attempt("killpg-parent", lambda: os.killpg(os.getpgid(parent), 0))
    raw("raw-kill", "kill", parent, 0)
    raw("raw-tgkill", "tgkill", parent, parent, 0)
    raw("raw-tkill", "tkill", parent, 0)
    raw("raw-ptrace-attach", "ptrace", 16, parent, 0, 0)
    raw("raw-ptrace-seize", "ptrace", 0x4206, parent, 0, 0)
    raw("raw-process-vm-readv", "process_vm_readv", parent, None, 0, None, 0, 0)
    raw("raw-pidfd-open", "pidfd_open", parent, 0)
    raw("raw-rt-sigqueueinfo", "rt_sigqueueinfo", parent, 10, None)
    """)
    assert allowed(outcomes) == {}


def test_escaped_code_starts_no_process_or_thread(escaped) -> None:
    outcomes = probe(escaped, """
    import subprocess, threading
    attempt("fork", lambda: os.fork())
    attempt("posix-spawn", lambda: os.posix_spawn("/bin/true", ["true"], {}))
    attempt("execv", lambda: os.execv("/bin/true", ["true"]))
    attempt("subprocess", lambda: subprocess.run(["true"]))
    attempt("thread", lambda: threading.Thread(target=len, args=((),)).start())
    raw("raw-fork", "fork")
    raw("raw-vfork", "vfork")
    raw("raw-clone", "clone", 17, 0, 0, 0, 0)
    raw("raw-clone-thread", "clone", 0x50f00, 0, 0, 0, 0)
    raw("raw-clone3", "clone3", ctypes.create_string_buffer(88), 88)
    raw("raw-execve", "execve", b"/bin/true", None, None)
    raw("raw-execveat", "execveat", {AT_FDCWD}, b"/bin/true", None, None, 0)
    """.replace("{AT_FDCWD}", str(AT_FDCWD)))
    assert allowed(outcomes) == {}


def test_escaped_code_opens_no_socket_of_any_family(escaped) -> None:
    outcomes = probe(escaped, """
    for family in range(46):
        for kind in (1, 2, 3, 5):
            raw(f"raw-socket {family}/{kind}", "socket", family, kind, 0)
    raw("raw-socketpair", "socketpair", 1, 1, 0, ctypes.create_string_buffer(8))
    import socket
    attempt("unix", lambda: socket.socket(socket.AF_UNIX))
    attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
    attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 9)))
    """)
    assert allowed(outcomes) == {}


def test_escaped_code_regains_no_privilege(escaped) -> None:
    outcomes = probe(escaped, """
    attempt("setuid-root", lambda: os.setuid(0))
    attempt("setgroups", lambda: os.setgroups([0]))
    raw("raw-setresuid", "setresuid", 0, 0, 0)
    raw("raw-unshare", "unshare", 0x10000000 | 0x20000)
    raw("raw-setns", "setns", 0, 0)
    raw("raw-mount", "mount", b"none", b"/", b"tmpfs", 0, None)
    raw("raw-remount-rw", "mount", None, b"/", None, 0x20 | 0x1000, None)
    raw("raw-umount", "umount2", b"/", 2)
    raw("raw-pivot-root", "pivot_root", b"/", b"/")
    raw("raw-chroot", "chroot", b"/")
    raw("raw-capset", "capset", ctypes.create_string_buffer(8), ctypes.create_string_buffer(24))
    raw("raw-prctl", "prctl", 38, 0, 0, 0, 0)
    raw("raw-seccomp", "seccomp", 0, 0, None)
    raw("raw-bpf", "bpf", 0, None, 0)
    raw("raw-perf-event-open", "perf_event_open", None, 0, -1, -1, 0)
    raw("raw-userfaultfd", "userfaultfd", 0)
    raw("raw-keyctl", "keyctl", 0, 0)
    raw("raw-io-uring", "io_uring_setup", 1, ctypes.create_string_buffer(120))
    raw("raw-sigaction", "rt_sigaction", 10, None, None, 8)
    """)
    assert allowed(outcomes) == {}


def test_worker_is_confined_as_the_host_sees_it(escaped) -> None:
    escaped.isolation
    pid = next(w.process.pid for w in escaped._all)
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    assert {key: int(status[key], 16) for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == dict.fromkeys(
        ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), 0)
    assert (status["NoNewPrivs"].strip(), status["Seccomp"].strip()) == ("1", "2")
    if os.geteuid() == 0:
        assert set(status["Uid"].split()) == {"65534"} and set(status["Gid"].split()) == {"65534"}
    for kind in ("mnt", "net", "ipc", "uts"):
        assert os.readlink(f"/proc/{pid}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}"), kind


def test_worker_environment_is_scrubbed(escaped) -> None:
    names = escaped._probe("import os\nresult = sorted(os.environ)").value
    assert set(names) <= {"HOME", "LANG", "LC_ALL", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "OMP_NUM_THREADS",
                          "OPENBLAS_NUM_THREADS", "PATH", "TMPDIR", "LC_CTYPE"}


# --- each core layer alone -----------------------------------------------------------------------

METADATA = """
T = {target!r}
attempt("append", lambda: open(T, "a").write("x"))
attempt("chmod", lambda: os.chmod(T, 0o777))
attempt("chown", lambda: os.chown(T, 1, 1))
attempt("setxattr", lambda: os.setxattr(T, "user.evil", b"1"))
attempt("acl", lambda: os.setxattr(T, "system.posix_acl_access", b"\\x02\\0\\0\\0\\x01\\0\\x07\\0\\xff\\xff\\xff\\xff"))
attempt("utime", lambda: os.utime(T, (0, 0)))
attempt("rename", lambda: os.rename(T, T + ".moved"))
attempt("truncate", lambda: os.truncate(T, 0))
"""
ALONE = {
    # the layer kept on -> the layers switched off around it
    "seccomp": ("namespaces", "filesystem", "uid", "capabilities", "landlock"),
    "filesystem": ("seccomp", "uid", "landlock"),  # capabilities stay dropped: CAP_SYS_ADMIN could remount
    "uid": ("namespaces", "filesystem", "seccomp", "landlock"),
}


@pytest.mark.parametrize("layer", sorted(ALONE))
def test_each_core_layer_alone_refuses_writes_and_metadata_changes(host: Host, layer: str) -> None:
    if layer == "uid" and os.geteuid() != 0:
        pytest.skip("started as another user, the worker keeps that uid: there is no uid layer to isolate")
    before = host.snapshot()
    with _confined(host, require_isolation=False, _skip_layers=ALONE[layer]) as sb:
        state = sb.isolation[layer]
        if not state.startswith("on"):
            pytest.skip(f"this host cannot provide the {layer} layer: {state}")
        outcomes = probe(sb, METADATA.format(target=str(host.target)))
    assert allowed(outcomes) == {}
    assert host.snapshot() == before


@pytest.mark.parametrize("layer", ["filesystem", "uid"])
def test_each_hiding_layer_alone_keeps_other_files_unreadable(host: Host, layer: str) -> None:
    if layer == "uid" and os.geteuid() != 0:
        pytest.skip("started as another user, the worker keeps that uid: there is no uid layer to isolate")
    with _confined(host, require_isolation=False, _skip_layers=ALONE[layer]) as sb:
        state = sb.isolation[layer]
        if not state.startswith("on"):
            pytest.skip(f"this host cannot provide the {layer} layer: {state}")
        outcomes = probe(sb, f"attempt('read', lambda: open({str(host.outside / 'secret.txt')!r}).read())")
    assert allowed(outcomes) == {}
