"""init / open / commit / read / log / best of a toolset repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import FunctionSet
from tests.registry.helpers import accepted, git, make_function, make_set


def test_init_makes_first_commit_with_manual_status(repo: registry.Repository) -> None:
    (version,) = repo.log()
    assert (version.subject, version.status, version.score, version.parents) == ("init toolset", "manual", None, ())


def test_init_checks_out_its_files(repo: registry.Repository) -> None:
    assert (repo.path / "fnforge.toml").read_bytes() == b'[fnforge]\ntask = "demo"\n'
    assert git(repo.path, "status", "--porcelain") == ""


def test_init_commits_seed_functions(tmp_path: Path) -> None:
    seed = make_set("solve", "parse")
    with registry.init(tmp_path / "t", files={"fnforge.toml": b""}, functions=seed) as repo:
        assert repo.read() == seed
        assert (repo.path / "functions" / "solve.py").is_file()


def test_init_rejects_existing_toolset(repo: registry.Repository) -> None:
    with pytest.raises(registry.AlreadyAToolset) as caught:
        registry.init(repo.path, files={"fnforge.toml": b""})
    assert str(caught.value) == f"already a toolset: {repo.path}"


def test_init_rejects_existing_git_repository(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "plain")], check=True)
    with pytest.raises(registry.AlreadyAToolset, match="already a git repository"):
        registry.init(tmp_path / "plain")


def test_init_rejects_overwriting_existing_file(tmp_path: Path) -> None:
    (tmp_path / "fnforge.toml").write_text("mine")
    with pytest.raises(registry.RegistryError, match="already exists"):
        registry.init(tmp_path, files={"fnforge.toml": b"theirs"})
    assert (tmp_path / "fnforge.toml").read_text() == "mine" and not (tmp_path / ".git").exists()


def test_open_rejects_plain_directory(tmp_path: Path) -> None:
    with pytest.raises(registry.NotAToolset) as caught:
        registry.open(tmp_path)
    assert (str(caught.value), caught.value.exit_code) == (f"not a toolset: {tmp_path}", 3)


def test_open_rejects_git_repository_without_fnforge_toml(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(registry.NotAToolset):
        registry.open(tmp_path)


def test_open_finds_toolset_from_subdirectory(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    with registry.open(repo.path / "functions") as found:
        assert found.path == repo.path


def test_commit_stores_set_and_read_returns_it(repo: registry.Repository) -> None:
    function_set = make_set("solve", "parse")
    version = repo.commit(function_set, subject="epoch 1: add solve; add parse", trailers=accepted(0.5))
    assert repo.read() == function_set and repo.read(version.sha) == function_set


def test_commit_tree_hash_equals_git_functions_tree(repo: registry.Repository) -> None:
    function_set = make_set("solve")
    version = repo.commit(function_set, subject="add solve")
    assert version.tree_hash == function_set.tree_hash == git(repo.path, "rev-parse", "HEAD:functions").strip()


def test_commit_trailers_are_readable_with_git_log_format(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="epoch 1: add a", trailers=accepted(0.65))
    repo.commit(make_set("a", version=1), subject="epoch 2: revise a",
                trailers={"Score": "0.3000", "Status": "rejected"})
    lines = git(repo.path, "log", "--format=%h %(trailers:key=Score,valueonly)").split()
    assert lines[1::2][:2] == ["0.3000", "0.6500"]


def test_commit_writes_all_design_trailers_in_order(repo: registry.Repository) -> None:
    trailers: dict[str, str | int | float] = {
        "Run": "r1", "Model": "gpt-4o", "Tasks": "math:algebra (20 tasks)", "Epoch": 3, "Status": "accepted",
        "Split": "train", "Metric": "accuracy", "Score": 0.65,
    }
    repo.commit(make_set("a"), subject="epoch 3: add a", body="Because.", trailers=trailers)
    text = git(repo.path, "log", "-1", "--format=%(trailers:only,unfold)")
    assert text.split("\n")[:8] == [
        "Score: 0.6500", "Metric: accuracy", "Split: train", "Status: accepted", "Epoch: 3",
        "Tasks: math:algebra (20 tasks)", "Model: gpt-4o", "Run: r1",
    ]


@pytest.mark.parametrize("trailers", [{"Status": "weird"}, {"Score": "high"}, {"Epoch": "x"}, {"bad key": "v"},
                                      {"Run": "two\nlines"}])
def test_commit_rejects_malformed_trailer(repo: registry.Repository, trailers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        repo.commit(make_set("a"), subject="s", trailers=trailers)
    assert len(repo.log()) == 1


def test_commit_keeps_fnforge_toml(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    assert repo.read_file("HEAD", "fnforge.toml") == b'[fnforge]\ntask = "demo"\n'


def test_commit_removes_function_by_name_and_its_files(repo: registry.Repository) -> None:
    both = make_set("keep", "drop")
    repo.commit(both, subject="add keep; add drop")
    repo.commit(both.remove("drop"), subject="remove drop")
    assert repo.read().names == ("keep",)
    assert git(repo.path, "ls-tree", "--name-only", "HEAD:functions").split() == ["keep.json", "keep.py"]
    assert sorted(p.name for p in (repo.path / "functions").iterdir()) == ["keep.json", "keep.py"]


def test_commit_of_empty_set_removes_functions_directory(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    version = repo.commit(FunctionSet(), subject="remove a")
    assert repo.read() == FunctionSet() and version.tree_hash == registry.EMPTY_TREE
    assert git(repo.path, "ls-tree", "--name-only", "HEAD").split() == [".gitignore", "fnforge.toml"]


def test_commit_identity_is_fnforge_without_any_git_config(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    assert git(repo.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "fnforge <fnforge@localhost>|fnforge <fnforge@localhost>"
    )


def test_commit_identity_can_be_overridden(tmp_path: Path) -> None:
    me = registry.Identity(name="Ada", email="ada@example.org")
    with registry.init(tmp_path / "t", files={"fnforge.toml": b""}, identity=me) as repo:
        repo.commit(make_set("a"), subject="add a")
    assert git(tmp_path / "t", "log", "-1", "--format=%an <%ae>").strip() == "Ada <ada@example.org>"


def test_commit_to_unknown_branch_is_rejected(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownBranch, match="unknown branch: 'nope'"):
        repo.commit(make_set("a"), subject="s", branch="nope")


def test_read_rejects_unknown_revision(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownRevision) as caught:
        repo.read("nope")
    assert str(caught.value) == "unknown revision: 'nope'"


def test_read_accepts_revision_expressions(repo: registry.Repository) -> None:
    first = make_set("a")
    repo.commit(first, subject="add a")
    repo.commit(make_set("a", "b"), subject="add b")
    assert repo.read("HEAD~1") == first and repo.read("main^") == first


def test_read_file_returns_none_for_missing_path(repo: registry.Repository) -> None:
    assert repo.read_file("HEAD", "missing.txt") is None and repo.read_file("HEAD", "functions/x.py") is None


def test_log_parses_trailers_body_and_fields(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="epoch 2: add a", body="Line one.\n\nLine two.",
                trailers=accepted(0.75, epoch=2, Run="run-7"))
    version = repo.log()[0]
    assert (version.subject, version.body, version.score, version.status, version.epoch, version.split,
            version.run) == ("epoch 2: add a", "Line one.\n\nLine two.", 0.75, "accepted", 2, "train", "run-7")


def test_log_tree_hash_matches_git_for_every_commit(repo: registry.Repository) -> None:
    sets = [make_set("a"), make_set("a", "b"), make_set("b"), FunctionSet(), make_set("c")]
    for index, function_set in enumerate(sets):
        repo.commit(function_set, subject=f"step {index}")
    versions = repo.log()
    assert [v.tree_hash for v in versions] == [s.tree_hash for s in reversed(sets)] + [registry.EMPTY_TREE]


def test_log_limit_returns_newest_versions_with_tree_hash(repo: registry.Repository) -> None:
    for version in range(4):
        repo.commit(make_set("a", version=version), subject=f"v{version}")
    newest = repo.log(limit=2)
    assert [v.subject for v in newest] == ["v3", "v2"]
    assert newest[1].tree_hash == make_set("a", version=2).tree_hash


def test_log_rejects_unknown_branch(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownRevision, match="unknown revision: 'nope'"):
        repo.log("nope")


def test_version_reads_one_commit(repo: registry.Repository) -> None:
    made = repo.commit(make_set("a"), subject="add a", trailers=accepted(0.5))
    assert repo.version("HEAD") == repo.log()[0] and repo.version().sha == made.sha


def test_best_picks_highest_score_and_the_later_acceptance_on_tie(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.commit(make_set("a", version=1), subject="2", trailers=accepted(0.4))
    third = repo.commit(make_set("a", version=2), subject="3", trailers=accepted(0.5))
    best = repo.best()
    assert best is not None and best.sha == third.sha


def test_best_ignores_rejected_commits(repo: registry.Repository) -> None:
    kept = repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.commit(make_set("b"), subject="2", trailers={"Score": 0.9, "Status": "rejected"})
    best = repo.best()
    assert best is not None and best.sha == kept.sha


def test_best_filters_by_split(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    on_test = repo.commit(make_set("b"), subject="2", trailers={"Score": 0.2, "Split": "test", "Status": "manual"})
    best = repo.best(split="test")
    assert best is not None and best.sha == on_test.sha


def test_best_is_none_without_scores(repo: registry.Repository) -> None:
    assert repo.best() is None


def test_best_tag_follows_best_commit(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.3))
    better = repo.commit(make_set("a", version=1), subject="2", trailers=accepted(0.6))
    repo.commit(make_set("a", version=2), subject="3", trailers=accepted(0.5))
    assert git(repo.path, "rev-parse", "fnforge/best/main").strip() == better.sha


def test_commit_to_other_branch_leaves_working_tree_alone(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="add a")
    repo.create_branch("domain/x")
    repo.commit(make_set("a", "b"), subject="add b", branch="domain/x")
    assert sorted(p.name for p in (repo.path / "functions").iterdir()) == ["a.json", "a.py"]
    assert repo.read("domain/x").names == ("a", "b") and git(repo.path, "status", "--porcelain") == ""


def test_state_dir_is_inside_git_dir(repo: registry.Repository) -> None:
    assert repo.state_dir == repo.git_dir / "fnforge" and repo.state_dir.is_dir()


def test_head_branch_names_checked_out_branch(repo: registry.Repository) -> None:
    assert repo.head_branch == "main"


def test_repository_passes_git_fsck(repo: registry.Repository) -> None:
    for version in range(3):
        repo.commit(make_set("a", "b", version=version), subject=f"v{version}", trailers=accepted(version / 10))
    repo.add_note("HEAD", {"train": {"n": 1}})
    assert subprocess.run(["git", "-C", str(repo.path), "fsck", "--strict"], capture_output=True).returncode == 0


def test_commit_new_blobs_only_for_changed_files(repo: registry.Repository) -> None:
    repo.commit(make_set(*[f"f{i}" for i in range(5)]), subject="seed")
    before = set(git(repo.path, "rev-list", "--objects", "--all").split())
    repo.commit(make_set(*[f"f{i}" for i in range(5)]).revise(make_function("f0", 9)), subject="revise f0")
    added = set(git(repo.path, "rev-list", "--objects", "--all").split()) - before
    # one commit, the root tree, the functions tree, f0.py and f0.json (paths appear as words too)
    assert len([word for word in added if len(word) == 40]) == 5


def test_commit_returns_the_version_log_reads_back(repo: registry.Repository) -> None:
    made = repo.commit(make_set("a"), subject="epoch 1: add a", body="Para one.\n\nPara two.", trailers=accepted(0.5))
    assert made == repo.log()[0]


def test_rollback_returns_the_version_log_reads_back(repo: registry.Repository) -> None:
    repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.commit(make_set("b"), subject="2", trailers={"Score": 0.1, "Status": "rejected"})
    assert repo.rollback() == repo.log()[0]


def test_registry_ignores_hostile_user_git_config(isolated_git: Path, tmp_path: Path) -> None:
    (isolated_git / ".gitconfig").write_text(
        "[log]\n\tshowSignature = true\n\tshowRoot = false\n[color]\n\tui = always\n[core]\n\tautocrlf = true\n"
        "\thooksPath = /nonexistent\n[status]\n\tshowUntrackedFiles = no\n[user]\n\tuseConfigOnly = true\n"
        "[i18n]\n\tlogOutputEncoding = ISO-8859-1\n[diff]\n\trenames = copies\n[init]\n\tdefaultBranch = trunk\n"
    )
    with registry.init(tmp_path / "t", files={"fnforge.toml": b""}) as repo:
        repo.commit(make_set("a"), subject="épique 1: add a", trailers=accepted(0.5))
        repo.commit(make_set("a", "b"), subject="2", trailers={"Score": 0.1, "Status": "rejected"})
        repo.rollback()
        repo.add_note("HEAD", {"train": {"n": 1}})
        versions = repo.log()
        assert repo.head_branch == "main" and [v.status for v in versions] == ["rollback", "rejected", "accepted",
                                                                              "manual"]
        assert versions[2].subject == "épique 1: add a" and versions[0].tree_hash == make_set("a").tree_hash
        assert repo.note("HEAD") == {"train": {"n": 1}}


def test_best_revision_resolves_with_suffixes_in_every_reader(repo: registry.Repository) -> None:
    best = repo.commit(make_set("a"), subject="1", trailers=accepted(0.5))
    repo.commit(make_set("a", "b"), subject="2", trailers=accepted(0.4))
    assert repo.resolve("best/main") == best.sha and repo.resolve("best/main~1") == best.parents[0]
    assert repo.read("best/main") == make_set("a") and repo.log("best/main")[0].sha == best.sha


def test_best_revision_names_what_is_missing(repo: registry.Repository) -> None:
    with pytest.raises(registry.UnknownRevision, match=r"'best/nope' \(there is no branch 'nope'\)"):
        repo.resolve("best/nope")
    with pytest.raises(registry.UnknownRevision, match=r"'best/main' \('main' has no scored version yet\)"):
        repo.resolve("best/main")
