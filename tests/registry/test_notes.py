"""Evaluation evidence as JSON in git notes --ref=fnforge."""

from __future__ import annotations

import os
import subprocess

import pytest

from fnforge import registry
from tests.registry.helpers import git, make_set


def test_note_is_none_without_note(repo: registry.Repository) -> None:
    assert repo.note("HEAD") is None


def test_add_note_merges_into_existing_note(repo: registry.Repository) -> None:
    repo.add_note("HEAD", {"train": {"accuracy": 0.5, "n": 20}})
    merged = repo.add_note("HEAD", {"test": {"accuracy": 0.4}, "train": {"cost": 0.1}})
    expected = {"train": {"accuracy": 0.5, "n": 20, "cost": 0.1}, "test": {"accuracy": 0.4}}
    assert merged == expected and repo.note("HEAD") == expected


def test_add_note_is_readable_with_git_notes(repo: registry.Repository) -> None:
    repo.add_note("HEAD", {"train": {"accuracy": 0.5}})
    shown = git(repo.path, "notes", "--ref=fnforge", "show", "HEAD")
    assert '"accuracy": 0.5' in shown


def test_add_note_rejects_unserialisable_data(repo: registry.Repository) -> None:
    with pytest.raises(TypeError):
        repo.add_note("HEAD", {"x": object()})
    assert repo.note("HEAD") is None


def test_note_keeps_hand_written_text(repo: registry.Repository) -> None:
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b"}
    subprocess.run(["git", "-C", str(repo.path), "notes", "--ref=fnforge", "add", "-m", "looks good", "HEAD"],
                   check=True, env={**os.environ, **env})
    merged = repo.add_note("HEAD", {"train": {"n": 1}})
    assert merged == {"text": "looks good\n", "train": {"n": 1}}


def test_notes_are_per_commit(repo: registry.Repository) -> None:
    first = repo.resolve("HEAD")
    repo.commit(make_set("a"), subject="add a")
    repo.add_note(first, {"train": {"n": 1}})
    assert repo.note("HEAD") is None and repo.note(first) == {"train": {"n": 1}}
