"""A writer killed with SIGKILL mid-commit leaves a repository git fsck accepts, its branch at old or new."""

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
import sys, registry
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


def _kill_writer_at_random(path: Path, branch: str, delay: float) -> list[str]:
    env = dict(os.environ)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), branch], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written = child.stdout.read().split()
    child.stdout.close()
    time.sleep(0.05)  # a git child the writer had started may still be finishing
    return written


def test_sigkill_mid_commit_leaves_consistent_repository(repo: registry.Repository) -> None:
    repo.create_branch("domain/x")
    rng = random.Random(20261125)
    for round_index in range(ROUNDS):
        branch = "main" if round_index % 2 == 0 else "domain/x"
        before = repo.resolve(branch)
        written = _kill_writer_at_random(repo.path, branch, rng.uniform(0.05, 0.4))
        fsck = subprocess.run(["git", "-C", str(repo.path), "fsck", "--strict", "--no-dangling"],
                              capture_output=True, text=True)
        assert fsck.returncode == 0, fsck.stderr
        last = written[-1] if written else before
        tip = repo.resolve(branch)
        assert tip == last or repo.version(tip).parents == (last,)
        tip_version = repo.version(tip)
        assert repo.read(tip).tree_hash == tip_version.tree_hash
        with registry.open(repo.path) as after:  # the next writer takes the lock over and repairs the tree
            after.commit(make_set("z", version=round_index), subject=f"after round {round_index}", branch=branch)
        assert git(repo.path, "status", "--porcelain") == ""
        assert repo.read("main").tree_hash == git(repo.path, "rev-parse", "HEAD:functions").strip()
