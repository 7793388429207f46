"""Hand workflows with plain git give correct results or a clear message (issue 12, item 6).

Each test arranges a toolset with the library, works on it with plain git as a
user would, and checks fnforge's answer: ``best`` (and ``best/<branch>``),
``log``, ``rollback``, the best pointer and ``verify``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.registry import verify
from tests.fnforge.cli import ok, run
from tests.registry.helpers import accepted, make_set, user_git

TRAIN_NOTE = {"train": {"accuracy": 0.5, "n": 2, "correct": 1}}


def _verify(repo: registry.Repository) -> registry.Verification:
    return verify(repo, check=lambda function: ())


def _cli(repo: registry.Repository, *args: str) -> str:
    return ok({}, "-C", str(repo.path), *args).stdout


def test_hand_edit_committed_with_git_is_marked_and_leaves_best(repo: registry.Repository) -> None:
    best = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    (repo.path / "functions" / "a.py").write_text("def a(x):\n    return x + 41\n")
    user_git(repo.path, "commit", "-qam", "tweak a by hand")
    lines = _cli(repo, "log").splitlines()
    assert lines[0].split()[1] == "·" and lines[0].endswith("tweak a by hand")
    assert lines[1].endswith("[best]") and repo.resolve("best/main") == best.sha
    finding = next(f for f in _verify(repo).findings if f.commit == repo.resolve("HEAD"))
    assert finding.message.endswith("no Status trailer (not written by fnforge)")
    assert "fnforge commit" in finding.advice


def test_git_revert_of_the_best_keeps_it_best_and_rollback_restores_it(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    best = repo.commit(make_set("a", "b"), subject="epoch 2: add b", trailers=accepted(0.75))
    user_git(repo.path, "revert", "--no-edit", "HEAD")
    assert repo.read() == make_set("a")
    assert repo.best() == best  # the revert measured nothing
    assert _cli(repo, "rollback").startswith(f"Rolled back to {best.short}:")
    assert repo.read() == make_set("a", "b")


def test_git_reset_past_the_best_moves_best_and_verify_flags_the_stale_pointer(repo: registry.Repository) -> None:
    first = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    second = repo.commit(make_set("a", "b"), subject="epoch 2: add b", trailers=accepted(0.8))
    user_git(repo.path, "reset", "-q", "--hard", "HEAD~1")
    assert repo.best() == repo.version(first.sha) and repo.resolve("best/main") == first.sha
    exported = json.loads(_cli(repo, "export", "best/main", "--format", "openai"))
    assert [tool["function"]["name"] for tool in exported] == ["a"]
    assert repo.best_refs()["main"] == second.sha  # plain git moved the branch, not the pointer
    [stale] = [f for f in _verify(repo).findings if f.kind == "pointer"]
    assert stale.message.startswith("best pointer fnforge/best/main is stale: it names") and stale.severity == "warning"
    assert stale.advice == "`fnforge branch list` recomputes every best pointer"
    _cli(repo, "best")
    assert repo.best_refs()["main"] == first.sha
    assert not [f for f in _verify(repo).findings if f.kind == "pointer"]


def test_git_merge_counts_first_parents_only(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    repo.create_branch("domain/x")
    repo.commit(make_set("a", "b"), subject="x: add b", trailers=accepted(0.9), branch="domain/x")
    ours = repo.commit(make_set("a", "c"), subject="epoch 2: add c", trailers=accepted(0.6))
    user_git(repo.path, "merge", "-q", "--no-edit", "domain/x")
    assert repo.read() == make_set("a", "b", "c")
    assert repo.best() == ours  # domain/x's 0.9 was measured on domain/x's set
    assert _cli(repo, "log").splitlines()[0].split()[1] == "·"


def test_conflicting_git_merge_is_refused_with_what_to_do(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="seed", trailers={"Status": "manual"})
    repo.create_branch("domain/x")
    repo.commit(make_set("a", version=1), subject="epoch 1: revise a", trailers=accepted(0.5))
    repo.commit(make_set("a", version=2), subject="x: revise a", trailers=accepted(0.7), branch="domain/x")
    assert "CONFLICT" in user_git(repo.path, "merge", "domain/x", check=False)
    with pytest.raises(registry.GitOperationInProgress):
        repo.commit(make_set("z"), subject="epoch 2: add z")
    result = run({}, "-C", str(repo.path), "rollback")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == ("Error: a git merge is in progress; finish it (git merge --continue) "
                             "or abort it (git merge --abort), then retry\n")
    user_git(repo.path, "merge", "--abort")
    assert repo.commit(make_set("z"), subject="epoch 2: add z").subject == "epoch 2: add z"


def _branch_with_notes(repo: registry.Repository) -> list[registry.Version]:
    repo.commit(make_set("a"), subject="seed", trailers={"Status": "manual"})
    repo.create_branch("domain/x")
    made = []
    for epoch, names in enumerate((("a", "b"), ("a", "b", "c")), start=1):
        version = repo.commit(make_set(*names), subject=f"epoch {epoch}: add {names[-1]}",
                              trailers=accepted(0.25 * (epoch + 1), epoch, Run="r1"), branch="domain/x")
        repo.add_note(version.sha, {"train": {"accuracy": 0.25 * (epoch + 1), "n": 4, "correct": epoch + 1}})
        made.append(version)
    return made


def test_rebase_keeps_notes_and_stops_counting_scores_of_changed_functions(repo: registry.Repository) -> None:
    before = _branch_with_notes(repo)
    repo.commit(make_set("a", "d"), subject="main adds d", trailers={"Status": "manual"})
    repo.switch("domain/x")
    user_git(repo.path, "rebase", "-q", "main")
    after = repo.log("domain/x")[1::-1]
    assert [v.subject for v in after] == [v.subject for v in before]
    assert [repo.note(v.sha) for v in after] == [repo.note(v.sha) for v in before]
    assert repo.read("domain/x") == make_set("a", "b", "c", "d")
    assert repo.best("domain/x") is None  # each Score was measured without d
    errors = [f for f in _verify(repo).errors if f.commit in {v.sha for v in after}]
    assert len(errors) == 2 and all("(rebased or amended after it was scored)" in f.message for f in errors)
    assert all(f.advice.startswith("this Score never counts for best") for f in errors)


def test_rebase_that_keeps_the_functions_keeps_scores_and_notes(repo: registry.Repository) -> None:
    before = _branch_with_notes(repo)
    (repo.path / "fnforge.toml").write_text('[fnforge]\ntask = "demo"\nmodel = "m2"\n')
    user_git(repo.path, "commit", "-qam", "main: another model")
    repo.switch("domain/x")
    user_git(repo.path, "rebase", "-q", "main")
    after = repo.log("domain/x")[1::-1]
    assert [repo.note(v.sha) for v in after] == [repo.note(v.sha) for v in before]
    assert repo.best("domain/x") == after[-1] and _verify(repo).errors == ()


def test_amend_keeps_the_note_and_the_best(repo: registry.Repository) -> None:
    version = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    repo.add_note(version.sha, TRAIN_NOTE)
    message = user_git(repo.path, "log", "-1", "--format=%B").replace("add a", "add a (reworded)")
    user_git(repo.path, "commit", "-q", "--amend", "-m", message, env={"GIT_COMMITTER_DATE": "2030-01-01T00:00:00"})
    amended = repo.version()
    assert amended.sha != version.sha and amended.subject == "epoch 1: add a (reworded)"
    assert repo.note(amended.sha) == TRAIN_NOTE
    assert repo.best() == amended


def test_amend_that_changes_the_functions_stops_counting_the_score(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    (repo.path / "functions" / "a.py").write_text("def a(x):\n    return x + 41\n")
    user_git(repo.path, "commit", "-q", "-a", "--amend", "--no-edit")
    assert repo.best() is None
    [error] = _verify(repo).errors
    assert "rebased or amended after it was scored" in error.message


def test_detached_head_reads_its_history_and_writes_say_how_to_switch(repo: registry.Repository) -> None:
    first = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    repo.commit(make_set("a", "b"), subject="epoch 2: add b", trailers=accepted(0.8))
    user_git(repo.path, "checkout", "-q", "--detach", "HEAD~1")
    assert repo.head_branch is None and repo.best() == repo.version(first.sha)
    assert _cli(repo, "best").startswith(first.short)
    result = run({}, "-C", str(repo.path), "commit", "-m", "hand edit")
    assert (result.exit_code, result.stderr) == (
        3, f"Error: HEAD is detached (at {first.short}); switch to a branch with `git switch <branch>`, "
        "or name one\n")


def test_hand_written_score_out_of_range_never_becomes_best(repo: registry.Repository) -> None:
    best = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5))
    (repo.path / "functions" / "a.py").write_text("def a(x):\n    return x + 41\n")
    user_git(repo.path, "commit", "-qam", "tweak", "-m", "Score: 1.5\nStatus: accepted")
    lines = _cli(repo, "log").splitlines()
    assert "✓ 1.5000" in lines[0] and not lines[0].endswith("[best]") and lines[1].endswith("[best]")
    assert _cli(repo, "best").startswith(best.short)
    assert _cli(repo, "rollback").startswith(f"Rolled back to {best.short}:")
    result = run({}, "-C", str(repo.path), "verify")
    assert result.exit_code == 3
    assert "error: commit " in result.stderr and "Score '1.5' is not a number in [0, 1]" in result.stderr
    assert "    hint: this Score never counts for best" in result.stderr


def test_git_clone_without_notes_is_reported_with_the_command_that_fetches_them(
    repo: registry.Repository, tmp_path: Path
) -> None:
    version = repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.5, Run="r1"))
    repo.add_note(version.sha, TRAIN_NOTE)
    copy = tmp_path / "copy"
    user_git(tmp_path, "clone", "-q", str(repo.path), str(copy))  # plain git brings no notes
    with registry.open(copy) as cloned:
        [finding] = [f for f in _verify(cloned).findings if f.kind == "note"]
        assert finding.message == f"1 scored commit has no evaluation note (first: {version.short}); " \
                                  "their per-task evidence is missing"
        assert finding.advice.startswith("fetch them with `fnforge pull origin`")
        cloned.pull("origin")
        assert cloned.note(version.sha) == TRAIN_NOTE
