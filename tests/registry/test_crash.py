"""A writer killed with SIGKILL mid-commit leaves a repository git fsck accepts, its branch at old or new.

The kill waits for events, not for time: the writer reports each commit that
landed, and the test kills it after a chosen number of them (so every round
really interrupts a writer that has committed), then waits until no git lock
file is left by the git commands the writer had started.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from fnforge import registry
from tests.registry.helpers import git, make_set

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 6  # 60 rounds were run by hand while developing; 6 keep the suite fast

WRITER = """
import sys
from fnforge import registry
from tests.registry.helpers import make_set
repo = registry.open(sys.argv[1])
print("ready", flush=True)
step = 0
while True:
    step += 1
    names = [f"f{i}" for i in range(step % 7 + 1)]
    version = repo.commit(make_set(*names, version=step), subject=f"step {step}", branch=sys.argv[2],
                          trailers={"Score": (step % 10) / 10, "Status": "accepted", "Epoch": step})
    print(version.sha, flush=True)
"""


def _kill_writer_after(path: Path, branch: str, commits: int, jitter_s: float) -> list[str]:
    """Start a writer, kill it once ``commits`` commits landed (plus ``jitter_s`` into the next one)."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), branch], cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    written = [child.stdout.readline().strip() for _ in range(commits)]
    time.sleep(jitter_s)  # only varies where in the next commit the kill lands; correctness waits on events
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written += child.stdout.read().split()
    child.stdout.close()
    _wait_for_git_locks(path / ".git")
    return written


def _wait_for_git_locks(git_dir: Path, timeout_s: float = 60.0) -> None:
    """Wait until the git commands a killed writer had started are done (they hold ``*.lock`` files)."""
    deadline = time.monotonic() + timeout_s
    while True:
        locks = [p for p in git_dir.rglob("*.lock") if (git_dir / "fnforge") not in p.parents]
        if not locks:
            return
        assert time.monotonic() < deadline, f"git lock files left behind: {locks}"
        time.sleep(0.01)


def test_sigkill_mid_commit_leaves_consistent_repository(repo: registry.Repository) -> None:
    repo.create_branch("domain/x")
    rng = random.Random(20261125)
    for round_index in range(ROUNDS):
        branch = "main" if round_index % 2 == 0 else "domain/x"
        written = _kill_writer_after(repo.path, branch, rng.randint(1, 3), rng.uniform(0.0, 0.02))
        assert all(len(sha) == 40 for sha in written) and len(written) >= 1
        fsck = subprocess.run(["git", "-C", str(repo.path), "fsck", "--strict", "--no-dangling"],
                              capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stderr
        last = written[-1]
        tip = repo.resolve(branch)
        assert tip == last or repo.version(tip).parents == (last,)
        tip_version = repo.version(tip)
        assert repo.read(tip).tree_hash == tip_version.tree_hash
        with registry.open(repo.path) as after:  # the next writer takes the lock over and repairs the tree
            after.commit(make_set("z", version=round_index), subject=f"after round {round_index}", branch=branch)
        assert git(repo.path, "status", "--porcelain") == ""
        assert repo.read("main").tree_hash == git(repo.path, "rev-parse", "HEAD:functions").strip()
