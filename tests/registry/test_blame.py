"""Blame and history of one function, mapped onto training steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from fnforge.registry._blame import blame_function, function_history


def fn(body: str) -> FunctionSet:
    return FunctionSet((Function(
        name="f", description="f of x.",
        parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
        code="def f(x):\n" + body,
    ),))


@pytest.fixture
def repo(tmp_path: Path) -> registry.Repository:
    """epoch 1 adds f; step 2 is rejected and rolled back; epoch 3 adds a line."""
    repo = registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"})
    run = {"Split": "train", "Run": "r1"}
    repo.commit(fn("    y = x\n    return y\n"), subject="epoch 1: add f",
                trailers={"Score": 0.5, "Status": "accepted", "Epoch": 1, **run})
    repo.commit(fn("    y = x * 2\n    return y\n"), subject="epoch 1: revise f",
                trailers={"Score": 0.2, "Status": "rejected", "Epoch": 1, **run})
    repo.rollback(epoch=1, run="r1")
    repo.commit(fn("    y = x\n    z = 1\n    return y + z\n"), subject="epoch 2: revise f",
                trailers={"Score": 0.7, "Status": "accepted", "Epoch": 2, **run})
    return repo


def test_blame_maps_each_line_to_the_step_that_wrote_it(repo: registry.Repository) -> None:
    lines = blame_function(repo, "f")
    assert [(b.text.strip(), b.subject, b.epoch, b.run) for b in lines] == [
        ("def f(x):", "epoch 1: add f", 1, "r1"),
        ("y = x", "epoch 1: add f", 1, "r1"),
        ("z = 1", "epoch 2: revise f", 2, "r1"),
        ("return y + z", "epoch 2: revise f", 2, "r1"),
    ]


def test_blame_does_not_credit_a_rollback_with_restored_lines(repo: registry.Repository) -> None:
    assert {b.status for b in blame_function(repo, "f")} == {"accepted"}


def test_blame_rejects_a_function_the_version_lacks(repo: registry.Repository) -> None:
    with pytest.raises(registry.RegistryError, match="no function 'g' at HEAD; functions there: f"):
        blame_function(repo, "g")


def test_function_history_lists_every_commit_that_changed_the_function(repo: registry.Repository) -> None:
    history = function_history(repo, "f")
    assert [e.version.status for e in history] == ["accepted", "rollback", "rejected", "accepted"]
    assert "+    z = 1" in history[0].patch
