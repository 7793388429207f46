"""Branches per task domain and their best pointers."""

from __future__ import annotations

import pytest

from fnforge import registry
from tests.registry.helpers import accepted, git, make_set


def test_create_branch_starts_at_revision_with_its_best_pointer(repo: registry.Repository) -> None:
    best = repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.commit(make_set("b"), subject="2", trailers={"Score": 0.1, "Status": "rejected"})
    tip = repo.create_branch("domain/algebra", start="HEAD")
    assert repo.branches() == ["domain/algebra", "main"]
    assert tip.sha == repo.resolve("main")
    assert git(repo.path, "rev-parse", "fnforge/best/domain/algebra").strip() == best.sha


def test_create_branch_does_not_switch(repo: registry.Repository) -> None:
    repo.create_branch("domain/x")
    assert repo.head_branch == "main"


def test_create_branch_rejects_existing_name(repo: registry.Repository) -> None:
    with pytest.raises(registry.BranchExists, match="branch 'main' already exists"):
        repo.create_branch("main")


@pytest.mark.parametrize("name", ["bad name", "a..b", "-x", "x.lock", "HEAD"])
def test_create_branch_rejects_invalid_name(repo: registry.Repository, name: str) -> None:
    with pytest.raises(registry.RegistryError, match="invalid branch name"):
        repo.create_branch(name)


def test_delete_branch_removes_branch_and_best_pointer(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.create_branch("domain/x")
    sha = repo.delete_branch("domain/x")
    assert sha == repo.resolve("main") and repo.branches() == ["main"]
    assert git(repo.path, "for-each-ref", "refs/fnforge/best/domain/") == ""


def test_create_branch_rejects_a_name_under_best(repo: registry.Repository) -> None:
    with pytest.raises(registry.RegistryError, match="best/<branch> names a branch's best version"):
        repo.create_branch("best/main")


def test_delete_branch_refuses_checked_out_branch(repo: registry.Repository) -> None:
    with pytest.raises(registry.RegistryError, match="cannot delete the checked-out branch 'main'"):
        repo.delete_branch("main")


def test_delete_branch_rejects_unknown_branch(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownBranch):
        repo.delete_branch("nope")


def test_branches_keep_separate_best(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.create_branch("domain/x")
    better = repo.commit(make_set("a", "b"), subject="2", trailers=accepted(0.9), branch="domain/x")
    main_best, other_best = repo.best("main"), repo.best("domain/x")
    assert main_best is not None and other_best is not None
    assert (main_best.score, other_best.sha) == (0.5, better.sha)


def test_branch_list_reports_tip_current_and_best(repo: registry.Repository) -> None:
    best = repo.commit(make_set("a"), subject="1", trailers=accepted(0.5, Tasks="demo (2 tasks, sha256:abc)"))
    repo.create_branch("domain/x")
    infos = {i.name: i for i in repo.branch_list()}
    assert infos["main"] == registry.BranchInfo(name="main", sha=best.sha, current=True, best_sha=best.sha,
                                                best_score=0.5, tasks="demo (2 tasks, sha256:abc)")
    assert infos["domain/x"].current is False


def test_switch_checks_out_branch_files(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1")
    repo.create_branch("domain/x")
    repo.commit(make_set("a", "b"), subject="2", branch="domain/x")
    repo.switch("domain/x")
    assert repo.head_branch == "domain/x" and (repo.path / "functions" / "b.py").is_file()
    assert git(repo.path, "status", "--porcelain") == ""


def test_switch_refuses_uncommitted_edits(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1")
    repo.create_branch("domain/x")
    (repo.path / "functions" / "a.py").write_text("def a(x):\n    return 0\n")
    with pytest.raises(registry.DirtyWorkingTree):
        repo.switch("domain/x")
    assert repo.head_branch == "main" and (repo.path / "functions" / "a.py").read_text().endswith("return 0\n")


def test_switch_rejects_unknown_branch(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownBranch, match="unknown branch: 'nope'"):
        repo.switch("nope")
