"""Workers die with the process that started them, and only then (issue 11, finding 6).

A shared toolset once asked for ``timeout_s = 1e6`` and its spinning worker
survived the CLI being killed. Now the limits have hard maxima, and each
worker arms ``PR_SET_PDEATHSIG``: a killed CLI leaves no worker behind.
Since that signal follows the *thread* that started the worker, every worker
of a sandbox is started from one thread that lives as long as the sandbox:
a worker started on behalf of a short-lived thread outlives that thread.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fnforge.functions import Function, FunctionSet, write_dir
from fnforge.sandbox import Sandbox
from tests.sandbox.conftest import TEST_POLICY, one

pytestmark = pytest.mark.skipif(platform.system() != "Linux", reason="PR_SET_PDEATHSIG and /proc are Linux's")

BOOT = "fnforge.sandbox.worker._worker"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and BOOT.encode() in cmdline:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_for(condition, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_cli_leaves_no_worker_behind(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {}, "required": []}
    spin = Function(name="spin", description="Spins.", parameters=schema,
                    code="def spin():\n    while True:\n        pass\n")
    write_dir(FunctionSet((spin,)), tmp_path / "functions")
    (tmp_path / "fnforge.toml").write_text("[sandbox]\ntimeout_s = 600.0\n")
    env = {**os.environ, "FNFORGE_CONFIG": str(tmp_path / "user.toml")}
    command = [sys.executable, "-c", "from fnforge.cli import main; main()", "-C", str(tmp_path), "call", "spin",
               "--trust-policy"]
    cli = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: bool(children(cli.pid))), "the CLI started no worker"
        workers = children(cli.pid)
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
        assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=30), "a worker outlived the CLI"
    finally:
        if cli.poll() is None:
            cli.kill()


def test_a_worker_outlives_the_short_lived_thread_that_asked_for_it() -> None:
    sb = Sandbox(TEST_POLICY, workers=1, spares=0)
    try:
        starter = threading.Thread(target=lambda: sb.isolation)  # starts the worker and waits until it is armed
        starter.start()
        starter.join()
        time.sleep(0.5)  # time for a parent-death signal to arrive, were it tied to the thread that just ended
        pids = [w.process.pid for w in sb._all]
        assert sb.call(one("return 7"), "f").value == 7
        assert [w.process.pid for w in sb._all] == pids and all(alive(pid) for pid in pids)
    finally:
        sb.close()


def test_closing_a_sandbox_stops_its_spawner_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    sb = Sandbox(TEST_POLICY, workers=1, spares=0).start()
    sb.close()
    assert wait_for(lambda: {t.name for t in threading.enumerate() if "spawner" in t.name} <= before, timeout=10)


SANDBOX_THEN_EXIT = """
from fnforge.sandbox import Sandbox
from tests.sandbox.conftest import TEST_POLICY, one
sb = Sandbox(TEST_POLICY, workers=2, require_isolation=False)
assert sb.call(one("return 7"), "f").value == 7
sb.close()  # the workers' reapers are daemon threads: the exit below cuts them short
"""


def test_a_process_that_closed_its_sandbox_leaves_no_worker_directory(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # mkdtemp's folder: only this run's directories land here
    subprocess.run([sys.executable, "-c", SANDBOX_THEN_EXIT], env=env, cwd=Path(__file__).parents[2],
                   check=True, timeout=120)
    assert not list(tmp_path.glob("fnforge-sandbox-*"))


def test_a_cli_call_leaves_no_worker_directory(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {}, "required": []}
    seven = Function(name="seven", description="Seven.", parameters=schema, code="def seven():\n    return 7\n")
    write_dir(FunctionSet((seven,)), tmp_path / "toolset" / "functions")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "FNFORGE_CONFIG": str(tmp_path / "user.toml")}
    command = [sys.executable, "-c", "from fnforge.cli import main; main()", "-C", str(tmp_path / "toolset"),
               "call", "seven", "--trust-policy"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert "7" in result.stdout, result.stderr
    assert not list((tmp_path / "tmp").glob("fnforge-sandbox-*"))


def test_a_new_sandbox_removes_the_worker_directories_of_a_killed_parent(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"fnforge-sandbox-{int(dead.stdout)}-abc123"  # what a SIGKILLed parent leaves
    living = tmp_path / f"fnforge-sandbox-{os.getpid()}-abc123"  # a running parent's: kept
    for directory in (orphan, living):
        directory.mkdir()
        (directory / "stderr.log").write_text("")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", SANDBOX_THEN_EXIT], env=env, cwd=Path(__file__).parents[2],
                   check=True, timeout=120)
    assert not orphan.exists() and living.exists()
