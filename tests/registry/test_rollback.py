"""Roll-back is git revert: a new commit restoring an earlier tree, history untouched."""

from __future__ import annotations

import pytest

from fnforge import registry
from tests.registry.helpers import accepted, git, make_set


def _trained(repo: registry.Repository) -> tuple[registry.Version, registry.Version]:
    best = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.6, 1))
    trial = repo.commit(make_set("a", "b"), subject="epoch 2: add b", trailers={"Score": 0.4, "Status": "rejected"})
    return best, trial


def test_rollback_restores_best_tree_after_failed_step(repo: registry.Repository) -> None:
    best, _ = _trained(repo)
    repo.rollback()
    assert git(repo.path, "rev-parse", "HEAD^{tree}") == git(repo.path, "rev-parse", f"{best.sha}^{{tree}}")
    assert repo.read() == make_set("a")


def test_rollback_message_follows_git_revert_convention(repo: registry.Repository) -> None:
    best, trial = _trained(repo)
    version = repo.rollback()
    assert version.subject == f"Revert to {best.short}: epoch 1: add a"
    assert version.body == f"This reverts commit {trial.sha}, reversing changes made to {best.sha}."


def test_rollback_carries_target_score_and_rollback_status(repo: registry.Repository) -> None:
    best, trial = _trained(repo)
    version = repo.rollback(epoch=2, run="r1")
    assert (version.status, version.score, version.split, version.epoch, version.run) == (
        "rollback", 0.6, "train", 2, "r1")
    assert (version.trailer("Reverts"), version.trailer("Restores")) == (trial.sha, best.sha)
    assert git(repo.path, "log", "-1", "--format=%(trailers:key=Status,valueonly)").strip() == "rollback"


def test_rollback_never_rewrites_history(repo: registry.Repository) -> None:
    _, trial = _trained(repo)
    version = repo.rollback()
    assert version.parents == (trial.sha,) and len(repo.log()) == 4


def test_rollback_keeps_best_unchanged(repo: registry.Repository) -> None:
    best, _ = _trained(repo)
    repo.rollback()
    found = repo.best()
    assert found is not None and found.sha == best.sha
    assert git(repo.path, "rev-parse", "fnforge/best/main").strip() == best.sha


def test_rollback_to_named_revision(repo: registry.Repository) -> None:
    first = repo.commit(make_set("a"), subject="1", trailers=accepted(0.2))
    repo.commit(make_set("b"), subject="2", trailers=accepted(0.5))
    version = repo.rollback(to=first.short)
    assert repo.read() == make_set("a") and version.score == 0.2


def test_rollback_updates_working_tree(repo: registry.Repository) -> None:
    _trained(repo)
    repo.rollback()
    assert not (repo.path / "functions" / "b.py").exists() and git(repo.path, "status", "--porcelain") == ""


def test_rollback_rejects_branch_without_scores(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="unscored")
    with pytest.raises(registry.RegistryError, match="no scored version on 'main' to roll back to"):
        repo.rollback()


def test_rollback_refuses_no_op_when_asked(repo: registry.Repository) -> None:
    best = repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    with pytest.raises(registry.NothingToCommit) as caught:
        repo.rollback(allow_empty=False)
    assert str(caught.value) == f"nothing to roll back: 'main' already holds the tree of {best.short}"


def test_rollback_rejects_unknown_target(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownRevision):
        repo.rollback(to="nope")
