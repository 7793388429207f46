"""The checked-out branch's working tree follows commits and never loses uncommitted edits."""

from __future__ import annotations

import json
import subprocess

import pytest

from fnforge import registry
from fnforge.functions import FunctionSpecError, read_dir
from tests.registry.helpers import accepted, git, make_function, make_set


def test_commit_updates_working_tree_and_index(repo: registry.Repository) -> None:
    function_set = make_set("a", "b")
    repo.commit(function_set, subject="add a; add b")
    assert read_dir(repo.path / "functions") == function_set and git(repo.path, "status", "--porcelain") == ""


def test_commit_refuses_when_functions_have_uncommitted_edit(repo: registry.Repository) -> None:
    before = repo.commit(make_set("a"), subject="add a")
    edited = "def a(x):\n    return 42\n"
    (repo.path / "functions" / "a.py").write_text(edited)
    with pytest.raises(registry.DirtyWorkingTree) as caught:
        repo.commit(make_set("a", "b"), subject="add b")
    assert str(caught.value) == (
        "uncommitted changes in the working tree (functions/a.py); "
        "commit them with 'fnforge commit -m MSG' or discard them, then retry"
    )
    assert (repo.path / "functions" / "a.py").read_text() == edited and repo.resolve("main") == before.sha


def test_commit_refuses_when_an_untracked_function_file_exists(repo: registry.Repository) -> None:
    (repo.path / "functions").mkdir()
    (repo.path / "functions" / "new.py").write_text("def new(x):\n    return x\n")
    with pytest.raises(registry.DirtyWorkingTree, match="functions/new.py"):
        repo.commit(make_set("a"), subject="add a")
    assert (repo.path / "functions" / "new.py").is_file()


def test_commit_refuses_when_a_function_file_is_staged(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    (repo.path / "functions" / "a.py").write_text("def a(x):\n    return 1\n")
    git(repo.path, "add", "functions/a.py")
    with pytest.raises(registry.DirtyWorkingTree):
        repo.rollback(to="HEAD~1")


def test_commit_ignores_pycache_under_functions(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    (repo.path / "functions" / "__pycache__").mkdir()
    (repo.path / "functions" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    repo.commit(make_set("a", "b"), subject="add b")
    assert repo.read().names == ("a", "b")


def test_commit_carries_uncommitted_config_edit(repo: registry.Repository) -> None:
    (repo.path / "fnforge.toml").write_text("[fnforge]\nmodel = \"mine\"\n")
    repo.commit(make_set("a"), subject="add a")
    assert (repo.path / "fnforge.toml").read_text() == "[fnforge]\nmodel = \"mine\"\n"


def test_commit_worktree_commits_hand_edit_as_manual(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    (repo.path / "functions" / "a.py").write_text("def a(x):\n    return x * 2\n")
    version = repo.commit_worktree("double a\n\nBy hand.")
    assert (version.subject, version.body, version.status, version.score) == ("double a", "By hand.", "manual", None)
    assert repo.read()["a"].code == "def a(x):\n    return x * 2\n" and git(repo.path, "status", "--porcelain") == ""


def test_commit_worktree_records_score_and_split(repo: registry.Repository) -> None:
    (repo.path / "functions").mkdir()
    make = make_function("seed")
    (repo.path / "functions" / "seed.py").write_text(make.code)
    (repo.path / "functions" / "seed.json").write_text(json.dumps(
        {"description": make.description, "parameters": make.parameters}))
    version = repo.commit_worktree("add seed", score=0.55, split="test")
    assert (version.score, version.split) == (0.55, "test")
    best = repo.best(split="test")
    assert best is not None and best.sha == version.sha


def test_commit_worktree_rewrites_files_canonically(repo: registry.Repository) -> None:
    (repo.path / "functions").mkdir()
    function = make_function("f")
    (repo.path / "functions" / "f.py").write_text(function.code)
    (repo.path / "functions" / "f.json").write_text(json.dumps(
        {"parameters": function.parameters, "description": function.description}))
    repo.commit_worktree("add f")
    assert git(repo.path, "status", "--porcelain") == ""
    assert (repo.path / "functions" / "f.json").read_text().startswith('{\n  "description"')


def test_commit_worktree_commits_config_edit(repo: registry.Repository) -> None:
    (repo.path / "fnforge.toml").write_text("[fnforge]\nmodel = \"m2\"\n")
    repo.commit_worktree("switch model")
    assert repo.read_file("HEAD", "fnforge.toml") == b"[fnforge]\nmodel = \"m2\"\n"


def test_commit_worktree_rejects_invalid_function_naming_rule_and_line(repo: registry.Repository) -> None:
    (repo.path / "functions").mkdir()
    (repo.path / "functions" / "f.py").write_text("import math\n\ndef g(x):\n    return x\n")
    (repo.path / "functions" / "f.json").write_text(json.dumps(
        {"description": "d", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}},
                                            "required": ["x"]}}))
    with pytest.raises(FunctionSpecError, match="line 3: the code must define exactly one"):
        repo.commit_worktree("broken")
    assert len(repo.log()) == 1


def test_commit_worktree_rejects_no_change(repo: registry.Repository) -> None:
    with pytest.raises(registry.NothingToCommit, match="nothing to commit"):
        repo.commit_worktree("nothing")


def test_commit_worktree_removes_deleted_function(repo: registry.Repository) -> None:
    repo.commit(make_set("a", "b"), subject="add a; add b")
    (repo.path / "functions" / "b.py").unlink()
    (repo.path / "functions" / "b.json").unlink()
    repo.commit_worktree("remove b")
    assert repo.read().names == ("a",) and git(repo.path, "status", "--porcelain") == ""


def test_interrupted_move_is_finished_by_next_writer(repo: registry.Repository) -> None:
    old = repo.commit(make_set("a"), subject="add a")
    new = repo.commit(make_set("a", "b"), subject="add b", branch="main")
    # Simulate a writer killed after moving the ref but before moving the working tree.
    git(repo.path, "read-tree", "-m", "-u", new.sha, old.sha)
    (repo.git_dir / "fnforge" / "worktree.json").write_text(
        json.dumps({"branch": "main", "old": old.sha, "new": new.sha, "mode": "merge"}))
    repo.commit(make_set("a", "b", "c"), subject="add c", trailers=accepted(0.5))
    assert read_dir(repo.path / "functions").names == ("a", "b", "c")
    assert git(repo.path, "status", "--porcelain") == ""


def test_bare_repository_has_no_working_tree_commit(repo: registry.Repository, tmp_path: object) -> None:
    repo.commit(make_set("a"), subject="add a")
    bare = repo.path.parent / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    with registry.open(bare) as opened:
        assert opened.bare and opened.read() == make_set("a")
        with pytest.raises(registry.RegistryError, match="bare repository"):
            opened.commit_worktree("x")
