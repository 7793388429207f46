"""Verification of a shared toolset: functions under the sandbox gate, trailers, notes; refused clones."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import Function, FunctionSet, Problem
from fnforge.registry._verify import UnverifiedToolset, clone_verified, verify
from fnforge.sandbox import check


def fn(name: str, code: str) -> Function:
    return Function(
        name=name,
        description=f"{name} of x.",
        parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
        code=code,
    )


DOUBLE = fn("double", "def double(x):\n    return 2 * x\n")
LEAK = fn("leak", "import os\n\ndef leak(x):\n    return os.listdir('/')\n")
TRAIN = {"Split": "train", "Status": "accepted"}


def gate(function: Function) -> Sequence[Problem]:
    return check(function.code, function.name)


def git(path: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


@pytest.fixture
def repo(tmp_path: Path) -> registry.Repository:
    repo = registry.init(tmp_path / "src", files={"fnforge.toml": b"[fnforge]\n"})
    repo.commit(FunctionSet((DOUBLE,)), subject="epoch 1: add double", trailers={"Score": 0.5, **TRAIN, "Epoch": 1})
    return repo


def test_verify_passes_a_clean_toolset(repo: registry.Repository) -> None:
    repo.add_note("HEAD", {"train": {"accuracy": 0.5, "n": 2, "correct": 1}})
    result = verify(repo, check=gate)
    assert (result.ok, result.findings, result.commits, result.function_versions, result.notes) == (
        True, (), 2, 1, 1)


def test_verify_names_a_function_that_fails_the_sandbox_gate(repo: registry.Repository) -> None:
    repo.commit(FunctionSet((DOUBLE, LEAK)), subject="epoch 2: add leak", trailers={"Score": 0.6, **TRAIN})
    result = verify(repo, check=gate)
    assert result.failed_functions == ("leak",)
    assert "function 'leak' (tip of main): line 1: import of 'os' is not allowed" in result.errors[0].message


def test_verify_finds_a_bad_function_that_only_lives_in_history(repo: registry.Repository) -> None:
    repo.commit(FunctionSet((DOUBLE, LEAK)), subject="epoch 2: add leak", trailers={"Score": 0.1, "Status": "rejected"})
    repo.rollback()
    assert verify(repo, check=gate).failed_functions == ("leak",)


def test_verify_rejects_a_symlink_in_functions(repo: registry.Repository) -> None:
    link = repo.path / "functions" / "evil.py"
    link.symlink_to("/etc/passwd")
    git(repo.path, "add", "functions/evil.py")
    git(repo.path, "commit", "-q", "-m", "add link\n\nStatus: manual")
    messages = [f.message for f in verify(repo, check=gate).errors]
    assert any("functions/evil.py is not a function file (mode 120000)" in m for m in messages)


def test_verify_rejects_an_unknown_status_and_a_score_out_of_range(repo: registry.Repository) -> None:
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "tamper\n\nScore: 7\nStatus: approved")
    messages = sorted(f.message.split(": ", 1)[1] for f in verify(repo, check=gate).errors)
    assert messages == ["Score '7' is not a number in [0, 1]",
                        "Status 'approved' is not one of accepted, initial, manual, merge, rejected, rollback"]


def test_verify_warns_about_a_function_change_without_trailers(repo: registry.Repository) -> None:
    (repo.path / "functions" / "double.py").write_text("def double(x):\n    return x + x\n")
    git(repo.path, "commit", "-q", "-am", "hand-made")
    result = verify(repo, check=gate)
    assert result.ok and [f.message.split(": ", 1)[1] for f in result.findings] == [
        "no Status trailer (not written by fnforge)"]


def test_verify_accepts_a_commit_without_trailers_that_leaves_functions_alone(repo: registry.Repository) -> None:
    (repo.path / "tasks.jsonl").write_text("{}\n")
    git(repo.path, "add", "tasks.jsonl")
    git(repo.path, "commit", "-q", "-m", "add the task file")
    assert verify(repo, check=gate).findings == ()


def test_verify_rejects_a_note_with_an_impossible_accuracy(repo: registry.Repository) -> None:
    repo.add_note("HEAD", {"train": {"accuracy": 1.7}})
    assert [f.kind for f in verify(repo, check=gate).errors] == ["note"]


def test_verify_rejects_a_rollback_that_does_not_restore_its_target(repo: registry.Repository) -> None:
    first = repo.log()[-1].sha
    git(repo.path, "commit", "-q", "--allow-empty", "-m", f"fake revert\n\nStatus: rollback\nRestores: {first}")
    assert any("roll-back whose functions differ" in f.message for f in verify(repo, check=gate).errors)


def test_clone_verified_removes_a_clone_with_a_malicious_function(repo: registry.Repository, tmp_path: Path) -> None:
    repo.commit(FunctionSet((DOUBLE, LEAK)), subject="epoch 2: add leak", trailers={"Score": 0.6, **TRAIN})
    with pytest.raises(UnverifiedToolset, match="refused to clone .*: function 'leak' \\(tip of main\\): line 1: import of 'os'"):
        clone_verified(str(repo.path), tmp_path / "copy", gate=lambda _: gate)
    assert not (tmp_path / "copy").exists()


def test_clone_verified_keeps_a_clean_clone(repo: registry.Repository, tmp_path: Path) -> None:
    clone, result = clone_verified(str(repo.path), tmp_path / "copy", gate=lambda _: gate)
    with clone:
        assert result.ok and clone.read() == FunctionSet((DOUBLE,))
