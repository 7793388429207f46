"""fnforge new, commit and show: scaffolding, deriving specs, showing any commit; call mid-merge (issue 14)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge import registry
from tests.fnforge.cli import ok, run
from tests.registry.helpers import make_set, user_git


@pytest.fixture
def toolset(tmp_path: Path, env: dict[str, str]) -> Iterator[Path]:
    ok(env, "-C", str(tmp_path), "init", "toolset")
    yield tmp_path / "toolset"


def test_init_creates_an_empty_functions_folder(toolset: Path) -> None:
    assert (toolset / "functions").is_dir() and not list((toolset / "functions").iterdir())


def test_init_rejects_an_unknown_task_set(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(env, "-C", str(tmp_path), "init", "t", "--task", "foo:bar")
    assert result.exit_code == 2 and result.stderr.startswith("Error: ") and not (tmp_path / "t").exists()


def test_new_writes_a_stub_and_its_derived_spec_that_commit_records(toolset: Path, env: dict[str, str]) -> None:
    out = ok(env, "-C", str(toolset), "new", "triple").stdout
    assert out.startswith("Created functions/triple.py (a stub: edit it) and functions/triple.json")
    spec = json.loads((toolset / "functions" / "triple.json").read_text())
    assert spec["parameters"]["required"] == ["x"]
    ok(env, "-C", str(toolset), "commit", "-m", "add triple")
    with registry.open(toolset) as repo:
        assert repo.read().names == ("triple",)


def test_new_rejects_a_name_that_is_no_identifier(toolset: Path, env: dict[str, str]) -> None:
    result = run(env, "-C", str(toolset), "new", "two-words")
    assert (result.exit_code, result.stderr) == (2, "Error: 'two-words' is not a Python identifier; "
                                                    "a function name is like solve_quadratic\n")


def test_commit_derives_the_json_of_a_py_file_without_one(toolset: Path, env: dict[str, str]) -> None:
    (toolset / "functions" / "double.py").write_text(
        'def double(n: int) -> int:\n    """Twice n.\n\n    Args:\n        n: a whole number.\n    """\n'
        "    return 2 * n\n")
    out = ok(env, "-C", str(toolset), "commit", "-m", "add double").stdout
    assert out.startswith("derived functions/double.json from its signature and docstring\n")
    with registry.open(toolset) as repo:
        assert repo.read()["double"].parameters["properties"]["n"] == {"type": "integer",
                                                                     "description": "a whole number."}


def test_show_displays_code_that_does_not_parse_with_the_problem_beneath(toolset: Path, env: dict[str, str]) -> None:
    (toolset / "functions" / "broken.py").write_text("def broken(x:\n")
    (toolset / "functions" / "broken.json").write_text(json.dumps(
        {"name": "broken", "description": "b", "parameters": {"type": "object", "properties": {}}}))
    user_git(toolset, "add", "functions")
    user_git(toolset, "commit", "-qm", "broken by hand")
    out = ok(env, "-C", str(toolset), "show", "HEAD:broken").stdout
    assert out.startswith("# broken  (HEAD:functions/broken.py)\ndef broken(x:\n# 1 problem:\n#   ")
    listing = ok(env, "-C", str(toolset), "show").stdout
    assert "\n1 function:\n  broken  (1 problem: " in listing


def test_call_during_a_merge_conflict_names_the_merge(tmp_path: Path, env: dict[str, str]) -> None:
    with registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"}) as repo:
        repo.commit(make_set("a"), subject="seed", trailers={"Status": "manual"})
        repo.create_branch("domain/x")
        repo.commit(make_set("a", version=1), subject="revise a", trailers={"Status": "manual"})
        repo.commit(make_set("a", version=2), subject="x: revise a", trailers={"Status": "manual"}, branch="domain/x")
        assert repo.operation_in_progress() is None
        assert "CONFLICT" in user_git(repo.path, "merge", "domain/x", check=False)
        assert repo.operation_in_progress() == "merge"
    result = run(env, "-C", str(tmp_path / "t"), "call", "a", "--args", '{"x": 1}')
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: the toolset is in the middle of a git merge, and functions/ cannot be "
                                    "read (")
    assert result.stderr.endswith("resolve the conflicts and finish it (git merge --continue) or abort it "
                                  "(git merge --abort), then retry\n")
