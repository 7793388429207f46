"""Three-way merge of function sets: one-sided changes flow through, two-sided changes conflict."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from fnforge.registry._merge import commit_merge, merge_function_sets, plan_merge, rename_function


def fn(name: str, body: str = "return x", description: str = "Does a thing.") -> Function:
    return Function(
        name=name,
        description=description,
        parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
        code=f"def {name}(x):\n    {body}\n",
    )


BASE = FunctionSet((fn("shared"), fn("keep")))
OURS = BASE.revise(fn("shared", "return x + 1")).add(fn("mine"))
THEIRS = BASE.revise(fn("shared", "return x + 2")).add(fn("yours"))


def test_merge_takes_one_sided_changes_from_both_sides() -> None:
    result = merge_function_sets(BASE, OURS, THEIRS, prefer="ours")
    assert {"keep", "mine", "yours"} <= set(result.function_set.names)
    assert result.from_theirs == ("yours",)


def test_merge_prefer_ours_keeps_our_version_of_a_conflict() -> None:
    result = merge_function_sets(BASE, OURS, THEIRS, prefer="ours")
    assert result.function_set["shared"] == OURS["shared"]
    assert [(c.name, c.ours, c.theirs, c.kept) for c in result.conflicts] == [
        ("shared", "revised", "revised", ("shared",))
    ]


def test_merge_prefer_theirs_keeps_their_version_of_a_conflict() -> None:
    result = merge_function_sets(BASE, OURS, THEIRS, prefer="theirs")
    assert result.function_set["shared"] == THEIRS["shared"]


def test_merge_prefer_both_keeps_theirs_under_a_branch_suffixed_name() -> None:
    result = merge_function_sets(BASE, OURS, THEIRS, prefer="both", label="domain/geometry")
    merged = result.function_set
    assert merged["shared"] == OURS["shared"]
    assert "def shared_geometry(x):\n    return x + 2" in merged["shared_geometry"].code
    assert result.conflicts[0].kept == ("shared", "shared_geometry")


def test_merge_does_not_conflict_on_identical_changes() -> None:
    same = BASE.revise(fn("shared", "return 0"))
    assert merge_function_sets(BASE, same, same, prefer="ours").conflicts == ()


def test_merge_applies_a_one_sided_removal() -> None:
    result = merge_function_sets(BASE, BASE, BASE.remove("keep"), prefer="ours")
    assert "keep" not in result.function_set


def test_merge_conflict_of_revise_against_remove_follows_prefer() -> None:
    removed = BASE.remove("shared")
    assert "shared" not in merge_function_sets(BASE, OURS, removed, prefer="theirs").function_set
    assert merge_function_sets(BASE, OURS, removed, prefer="both").function_set["shared"] == OURS["shared"]


def test_merge_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="prefer must be one of"):
        merge_function_sets(BASE, OURS, THEIRS, prefer="best")


def test_rename_function_renames_recursive_uses_but_not_attributes() -> None:
    recursive = Function(
        name="fact",
        description="n!",
        parameters={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        code="import math\n\ndef fact(n):\n    x = math.fact if False else None\n"
        "    return 1 if n < 2 else n * fact(n - 1)\n",
    )
    renamed = rename_function(recursive, "fact_b")
    assert "def fact_b(n):" in renamed.code
    assert "n * fact_b(n - 1)" in renamed.code
    assert "math.fact if" in renamed.code


@pytest.fixture
def two_branches(tmp_path: Path) -> registry.Repository:
    """main and domain/b fork at BASE; each revises 'shared' and adds one function."""
    repo = registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"}, functions=BASE)
    repo.create_branch("domain/b")
    repo.commit(OURS, subject="epoch 1: ours", trailers={"Score": 0.5, "Status": "accepted"})
    repo.commit(THEIRS, subject="epoch 1: theirs", trailers={"Score": 0.6, "Status": "accepted"}, branch="domain/b")
    return repo


def test_commit_merge_writes_a_two_parent_commit_with_the_merged_set(two_branches: registry.Repository) -> None:
    repo = two_branches
    plan = plan_merge(repo, "domain/b", prefer="both")
    version = commit_merge(repo, plan, subject="merge domain/b", trailers={"Status": "merge", "Score": 0.7})
    assert version.parents == (plan.ours, repo.resolve("domain/b"))
    assert repo.read("HEAD") == plan.result.function_set
    assert (repo.path / "functions" / "shared_b.py").is_file()


def test_plan_merge_rejects_a_branch_already_merged(two_branches: registry.Repository) -> None:
    repo = two_branches
    commit_merge(repo, plan_merge(repo, "domain/b", prefer="ours"), subject="merge", trailers={"Status": "merge"})
    with pytest.raises(registry.RegistryError, match="already merged"):
        plan_merge(repo, "domain/b", prefer="ours")


def test_commit_merge_refuses_when_the_branch_moved(two_branches: registry.Repository) -> None:
    repo = two_branches
    plan = plan_merge(repo, "domain/b", prefer="ours")
    repo.commit(OURS.add(fn("late")), subject="late", trailers={"Status": "manual"})
    with pytest.raises(registry.ConcurrentUpdate):
        commit_merge(repo, plan, subject="merge", trailers={"Status": "merge"})
