"""One writer per branch, across processes; writers on different branches don't wait for each other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fnforge import registry
from tests.registry.helpers import make_set

ROOT = Path(__file__).resolve().parents[2]

HOLD = """
import sys, time, registry
repo = registry.open(sys.argv[1])
with repo.lock(sys.argv[2]):
    print("locked", flush=True)
    time.sleep(60)
"""

COMMITS = """
import sys, registry
from tests.registry.helpers import make_set
repo = registry.open(sys.argv[1])
for step in range(int(sys.argv[3])):
    repo.commit(make_set("f", version=step), subject=f"step {step}", branch=sys.argv[2],
                trailers={"Score": step / 100, "Status": "accepted"})
"""


def _python(code: str, *args: str, stdout: int | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=stdout, text=True)


def _hold(path: Path, branch: str) -> subprocess.Popen[str]:
    child = _python(HOLD, str(path), branch, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def _stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def test_second_writer_on_same_branch_gets_locked_error(repo: registry.Repository) -> None:
    child = _hold(repo.path, "main")
    try:
        with pytest.raises(registry.BranchLocked) as caught:
            repo.commit(make_set("a"), subject="add a")
    finally:
        _stop(child)
    error = caught.value
    assert error.pid == child.pid and error.exit_code == 3
    assert str(error) == f"branch 'main' is locked by pid {child.pid} since {error.since}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d", str(error.since))
    assert len(repo.log()) == 1


def test_writer_on_other_branch_proceeds_while_main_is_locked(repo: registry.Repository) -> None:
    repo.create_branch("domain/x")
    child = _hold(repo.path, "main")
    try:
        version = repo.commit(make_set("a"), subject="add a", branch="domain/x")
    finally:
        _stop(child)
    assert repo.resolve("domain/x") == version.sha


def test_writers_on_different_branches_both_succeed(repo: registry.Repository) -> None:
    repo.create_branch("domain/x")
    children = [_python(COMMITS, str(repo.path), branch, "15") for branch in ("main", "domain/x")]
    assert [child.wait(timeout=120) for child in children] == [0, 0]
    assert (len(repo.log("main")), len(repo.log("domain/x"))) == (16, 16)
    assert subprocess.run(["git", "-C", str(repo.path), "fsck"], capture_output=True).returncode == 0


def test_lock_of_killed_process_is_taken_over(repo: registry.Repository) -> None:
    child = _hold(repo.path, "main")
    os.kill(child.pid, signal.SIGKILL)
    _stop(child)
    version = repo.commit(make_set("a"), subject="add a")
    assert repo.resolve("main") == version.sha


def test_second_handle_in_same_process_is_refused(repo: registry.Repository) -> None:
    with registry.open(repo.path) as other, repo.lock("main"):
        with pytest.raises(registry.BranchLocked) as caught:
            other.commit(make_set("a"), subject="add a")
    assert caught.value.pid == os.getpid()


def test_lock_holder_can_write_inside_its_lock(repo: registry.Repository) -> None:
    with repo.lock():
        repo.commit(make_set("a"), subject="add a")
        repo.commit(make_set("a", "b"), subject="add b")
    assert len(repo.log()) == 3


def test_lock_is_released_after_a_refused_write(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    path = repo.path / "functions" / "a.py"
    original = path.read_text()
    path.write_text("def a(x):\n    return 0\n")
    with pytest.raises(registry.DirtyWorkingTree):
        repo.commit(make_set("b"), subject="b")
    path.write_text(original)
    with registry.open(repo.path) as other:
        assert other.commit(make_set("b"), subject="b").subject == "b"
