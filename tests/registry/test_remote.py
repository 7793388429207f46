"""Toolsets travel through ordinary git remotes: branches, best pointers and notes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fnforge import registry
from tests.registry.helpers import accepted, git, make_set


def _train(repo: registry.Repository, branch: str | None = None) -> None:
    repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.4, 1), branch=branch)
    repo.add_note("HEAD" if branch is None else branch, {"train": {"accuracy": 0.4, "n": 10}})
    repo.commit(make_set("a", "b"), subject="epoch 2: add b", trailers=accepted(0.7, 2), branch=branch)
    repo.commit(make_set("a", "b", "c"), subject="epoch 3: add c", trailers={"Score": 0.5, "Status": "rejected",
                                                                             "Epoch": 3}, branch=branch)
    repo.rollback(branch=branch, epoch=3)


def _bare(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


def test_push_then_clone_gives_same_log_best_and_notes(repo: registry.Repository, tmp_path: Path) -> None:
    _train(repo)
    bare = _bare(tmp_path)
    repo.push(str(bare), "main")
    with registry.clone(str(bare), tmp_path / "copy") as copy:
        assert [v.to_dict() for v in copy.log("main")] == [v.to_dict() for v in repo.log("main")]
        mine, theirs = repo.best(), copy.best("main")
        assert mine is not None and theirs is not None and theirs.sha == mine.sha
        assert copy.note(mine.parents[0]) == repo.note(mine.parents[0]) == {"train": {"accuracy": 0.4, "n": 10}}
        assert copy.read("main") == repo.read("main")
        assert git(copy.path, "rev-parse", "fnforge/best/main").strip() == mine.sha


def test_push_carries_best_pointer_and_notes_ref(repo: registry.Repository, tmp_path: Path) -> None:
    _train(repo)
    bare = _bare(tmp_path)
    repo.push(str(bare))
    refs = git(bare, "for-each-ref", "--format=%(refname)").split()
    assert refs == ["refs/fnforge/best/main", "refs/heads/main", "refs/notes/fnforge"]


def test_clone_makes_local_branch_for_every_remote_branch(repo: registry.Repository, tmp_path: Path) -> None:
    repo.create_branch("domain/x")
    _train(repo, "domain/x")
    bare = _bare(tmp_path)
    repo.push(str(bare), "main")
    repo.push(str(bare), "domain/x")
    with registry.clone(str(bare), tmp_path / "copy") as copy:
        assert copy.branches() == ["domain/x", "main"]
        best = copy.best("domain/x")
        assert best is not None and best.score == 0.7


def test_pull_fast_forwards_and_merges_notes(repo: registry.Repository, tmp_path: Path) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.3))
    bare = _bare(tmp_path)
    repo.push(str(bare))
    with registry.clone(str(bare), tmp_path / "copy") as copy:
        shared = repo.resolve("HEAD")
        copy.add_note(shared, {"test": {"accuracy": 0.2}})
        repo.add_note(shared, {"train": {"accuracy": 0.3}})
        repo.commit(make_set("a", "b"), subject="2", trailers=accepted(0.6))
        repo.push(str(bare))
        report = copy.pull("origin", "main")
        tip = copy.version("main")
        assert [(b.name, b.change) for b in report.branches] == [("main", "fast-forward")]
        assert tip.sha == repo.resolve("main") and copy.read() == make_set("a", "b")
        assert copy.note(shared) == {"test": {"accuracy": 0.2}, "train": {"accuracy": 0.3}}
        assert git(copy.path, "rev-parse", "fnforge/best/main").strip() == tip.sha
        assert git(copy.path, "status", "--porcelain") == ""
        copy.push("origin")  # the merged notes contain the remote's: a fast-forward push


def test_pull_rejects_diverged_branch(repo: registry.Repository, tmp_path: Path) -> None:
    bare = _bare(tmp_path)
    repo.push(str(bare))
    with registry.clone(str(bare), tmp_path / "copy") as copy:
        repo.commit(make_set("a"), subject="theirs")
        repo.push(str(bare))
        copy.commit(make_set("b"), subject="ours")
        with pytest.raises(registry.RemoteError, match="have diverged"):
            copy.pull()
        assert copy.read() == make_set("b")


def test_push_rejected_when_remote_moved_on(repo: registry.Repository, tmp_path: Path) -> None:
    bare = _bare(tmp_path)
    repo.push(str(bare))
    with registry.clone(str(bare), tmp_path / "copy") as copy:
        repo.commit(make_set("a"), subject="theirs")
        repo.push(str(bare))
        copy.commit(make_set("b"), subject="ours")
        with pytest.raises(registry.RemoteError, match="push to 'origin' failed: refs/heads/main rejected .*"
                                                       "run `fnforge pull` first"):
            copy.push()


def test_clone_rejects_repository_that_is_not_a_toolset(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    subprocess.run(["git", "-C", str(plain), "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    with pytest.raises(registry.NotAToolset):
        registry.clone(str(plain), tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def test_clone_reports_unreachable_source(tmp_path: Path) -> None:
    with pytest.raises(registry.RemoteError, match="clone of"):
        registry.clone(str(tmp_path / "missing.git"), tmp_path / "copy")


def test_push_to_a_url_merges_the_notes_another_clone_pushed(repo: registry.Repository, tmp_path: Path) -> None:
    version = repo.commit(make_set("a"), subject="1", trailers=accepted(0.3))
    bare = _bare(tmp_path)
    repo.push(str(bare))
    with registry.clone(str(bare), tmp_path / "one") as one, registry.clone(str(bare), tmp_path / "two") as two:
        one.add_note(version.sha, {"test": {"accuracy": 0.2}})
        two.add_note(version.sha, {"train": {"accuracy": 0.3}})
        one.push(str(bare))  # a URL, not the remote's name: fetched into scratch refs
        two.push(str(bare))
    with registry.clone(str(bare), tmp_path / "three") as three:
        assert three.note(version.sha) == {"test": {"accuracy": 0.2}, "train": {"accuracy": 0.3}}
        assert git(three.path, "for-each-ref", "refs/fnforge/fetched/", "refs/notes/fnforge-fetched/") == ""
