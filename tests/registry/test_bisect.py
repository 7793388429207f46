"""``git bisect run`` in a private worktree: finds the first bad step, leaves the user's checkout alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from fnforge.registry._bisect import bisect_run

# Judges BISECT_HEAD: bad when f returns x + 1, skip rejected trials.
JUDGE = """
import subprocess, sys
def git(*a):
    return subprocess.run(["git", *a], capture_output=True, text=True, check=True).stdout
sha = git("rev-parse", "BISECT_HEAD").strip()
if "Status: rejected" in git("show", "-s", "--format=%B", sha):
    sys.exit(125)
sys.exit(1 if "x + 1" in git("show", sha + ":functions/f.py") else 0)
"""


def f(body: str) -> FunctionSet:
    return FunctionSet((Function(
        name="f", description="f of x.",
        parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
        code=f"def f(x):\n    return {body}\n",
    ),))


@pytest.fixture
def repo(tmp_path: Path) -> registry.Repository:
    repo = registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"})
    for epoch, body in enumerate(["x", "x * 1", "x + 0", "x + 1", "(x + 1) * 1"], start=1):
        repo.commit(f(body), subject=f"epoch {epoch}: revise f", trailers={"Score": epoch / 10, "Status": "accepted",
                                                                        "Epoch": epoch})
    (tmp_path / "judge.py").write_text(JUDGE)
    return repo


def test_bisect_run_finds_the_first_bad_step(repo: registry.Repository, tmp_path: Path) -> None:
    result = bisect_run(repo, good="HEAD~4", bad="HEAD", command=[sys.executable, str(tmp_path / "judge.py")])
    assert result.first_bad is not None and result.first_bad.subject == "epoch 4: revise f"


def test_bisect_run_leaves_no_worktree_or_bisect_state(repo: registry.Repository, tmp_path: Path) -> None:
    bisect_run(repo, good="HEAD~4", bad="HEAD", command=[sys.executable, str(tmp_path / "judge.py")])
    assert repo._git.check("worktree", "list").count("\n") == 1
    assert not (repo.git_dir / "BISECT_LOG").exists() and repo.read() == f("(x + 1) * 1")


def test_bisect_run_skips_candidates_the_judge_cannot_decide(repo: registry.Repository, tmp_path: Path) -> None:
    repo.commit(f("x + 2"), subject="epoch 6: trial", trailers={"Score": 0.0, "Status": "rejected"})
    repo.rollback()
    result = bisect_run(repo, good="HEAD~6", bad="HEAD", command=[sys.executable, str(tmp_path / "judge.py")])
    assert result.first_bad is not None and result.first_bad.subject == "epoch 4: revise f"


def test_bisect_run_rejects_a_good_version_that_is_not_older(repo: registry.Repository, tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="cannot bisect: HEAD is not an earlier version of HEAD~1"):
        bisect_run(repo, good="HEAD", bad="HEAD~1", command=["true"])
