"""The registry commands: arrange with the library, act through the CLI, assert with the library."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from fnforge import registry
from fnforge.cli import cli
from tests.fnforge.cli import ok, run
from fnforge.cli._config import load_config
from fnforge.functions import Function, FunctionSet

COMMANDS = ("init", "log", "best", "show", "diff", "rollback", "branch", "commit")
BRANCH_COMMANDS = ("create", "list", "delete")


def _function(name: str, version: int = 0) -> Function:
    return Function(
        name=name,
        description=f"Adds {version} to x.",
        parameters={"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
        code=f"def {name}(x):\n    return x + {version}\n",
    )


def _set(*names: str, version: int = 0) -> FunctionSet:
    return FunctionSet(tuple(_function(n, version) for n in names))


@pytest.fixture
def toolset(tmp_path: Path) -> Iterator[registry.Repository]:
    with registry.init(tmp_path / "toolset", files={"fnforge.toml": b"[fnforge]\n"}) as repo:
        yield repo


@pytest.fixture
def trained(toolset: registry.Repository) -> registry.Repository:
    toolset.commit(_set("a"), subject="epoch 1: add a", trailers={"Score": 0.5, "Status": "accepted", "Epoch": 1})
    toolset.commit(_set("a", "b"), subject="epoch 2: add b", trailers={"Score": 0.3, "Status": "rejected", "Epoch": 2})
    return toolset



def test_init_writes_config_and_first_commit(tmp_path: Path, env: dict[str, str]) -> None:
    result = ok(env, "-C", str(tmp_path), "init", "demo", "--task", "math:number_theory", "--agent", "react", "--model", "m1")
    config = load_config(tmp_path / "demo")
    assert (config.task, config.agent, config.model) == ("math:number_theory", "react", "m1")
    assert result.stdout == f"Initialized toolset in {tmp_path / 'demo'} (task math:number_theory, agent react, model m1)\n"
    with registry.open(tmp_path / "demo") as repo:
        assert [v.subject for v in repo.log()] == ["init toolset"]


def test_init_then_log_works_with_dash_c(tmp_path: Path, env: dict[str, str]) -> None:
    ok(env, "-C", str(tmp_path), "init", "demo")
    result = ok(env, "-C", str(tmp_path / "demo"), "log")
    assert result.stdout.endswith("✎      -    -  init toolset\n")


def test_log_prints_one_line_per_commit_with_marks(trained: registry.Repository, env: dict[str, str]) -> None:
    lines = ok(env, "-C", str(trained.path), "log").stdout.splitlines()
    shas = [v.short for v in trained.log()]
    assert lines == [
        f"{shas[0]} ✗ 0.3000   e2  epoch 2: add b",
        f"{shas[1]} ✓ 0.5000   e1  epoch 1: add a [best]",
        f"{shas[2]} ✎      -    -  init toolset",
    ]


def test_log_json_lists_versions(trained: registry.Repository, env: dict[str, str]) -> None:
    data = json.loads(ok(env, "-C", str(trained.path), "log", "--json").stdout)
    assert [(d["status"], d["score"], d["best"]) for d in data] == [
        ("rejected", 0.3, False), ("accepted", 0.5, True), ("manual", None, False)]


def test_log_limit_still_marks_best(trained: registry.Repository, env: dict[str, str]) -> None:
    lines = ok(env, "-C", str(trained.path), "log", "-n", "2").stdout.splitlines()
    assert len(lines) == 2 and lines[1].endswith("[best]")


def test_best_prints_best_version(trained: registry.Repository, env: dict[str, str]) -> None:
    best = trained.best()
    assert best is not None
    assert ok(env, "-C", str(trained.path), "best").stdout == f"{best.short} ✓ 0.5000   e1  epoch 1: add a\n"


def test_best_json(trained: registry.Repository, env: dict[str, str]) -> None:
    assert json.loads(ok(env, "-C", str(trained.path), "best", "--json").stdout)["score"] == 0.5


def test_show_lists_functions_of_a_version(trained: registry.Repository, env: dict[str, str]) -> None:
    out = ok(env, "-C", str(trained.path), "show", "HEAD").stdout
    assert out.startswith(f"commit {trained.resolve('HEAD')}\nScore: 0.3000\n") and "  b  Adds 0 to x.\n" in out


def test_show_prints_one_function_spec_and_code(trained: registry.Repository, env: dict[str, str]) -> None:
    out = ok(env, "-C", str(trained.path), "show", "HEAD~1:a").stdout
    assert out.endswith("def a(x):\n    return x + 0\n") and "# Adds 0 to x." in out


def test_show_json_of_function(trained: registry.Repository, env: dict[str, str]) -> None:
    data = json.loads(ok(env, "-C", str(trained.path), "show", "--json", "HEAD:b").stdout)
    assert data == {**_function("b").to_dict(), "problems": []}


def test_diff_prints_per_function_unified_diff(trained: registry.Repository, env: dict[str, str]) -> None:
    out = ok(env, "-C", str(trained.path), "diff", "HEAD~1", "HEAD").stdout
    assert "--- /dev/null\n+++ b/functions/b.py\n" in out and "a.py" not in out


def test_diff_of_equal_versions_prints_nothing(trained: registry.Repository, env: dict[str, str]) -> None:
    assert ok(env, "-C", str(trained.path), "diff", "HEAD", "HEAD").stdout == ""


def test_rollback_creates_revert_commit_with_best_tree(trained: registry.Repository, env: dict[str, str]) -> None:
    best = trained.best()
    assert best is not None
    out = ok(env, "-C", str(trained.path), "rollback").stdout
    head = trained.version()
    assert out == f"Rolled back to {best.short}: new commit {head.short} (score 0.5000)\n"
    assert head.status == "rollback" and trained.read() == trained.read(best.sha)


def test_rollback_to_named_revision(trained: registry.Repository, env: dict[str, str]) -> None:
    ok(env, "-C", str(trained.path), "rollback", "--to", "HEAD~2")
    assert trained.read() == FunctionSet()


def test_branch_create_list_delete(trained: registry.Repository, env: dict[str, str]) -> None:
    where = str(trained.path)
    created = ok(env, "-C", where, "branch", "create", "domain/x", "--from", "HEAD~1").stdout
    assert created == f"Created branch domain/x at {trained.resolve('HEAD~1')[:7]}\n"
    listing = ok(env, "-C", where, "branch", "list").stdout.splitlines()
    best = trained.best()
    assert best is not None
    assert listing == [f"  domain/x  {best.short}  best {best.short} 0.5000",
                       f"* main      {trained.resolve('main')[:7]}  best {best.short} 0.5000"]
    assert ok(env, "-C", where, "branch").stdout.splitlines() == listing
    deleted = ok(env, "-C", where, "branch", "delete", "domain/x").stdout
    assert deleted == f"Deleted branch domain/x (was {best.short})\n"
    assert trained.branches() == ["main"]


def test_commit_commits_hand_edit(toolset: registry.Repository, env: dict[str, str]) -> None:
    function = _function("seed")
    (toolset.path / "functions").mkdir()
    (toolset.path / "functions" / "seed.py").write_text(function.code)
    (toolset.path / "functions" / "seed.json").write_text(json.dumps(
        {"description": function.description, "parameters": function.parameters}))
    out = ok(env, "-C", str(toolset.path), "commit", "-m", "add a seed", "--score", "0.55").stdout
    version = toolset.version()
    assert out == f"[main {version.short}] add a seed (add seed)\n"
    assert (version.status, version.score, version.split) == ("manual", 0.55, "train")
    assert toolset.read() == FunctionSet((function,))


def test_commit_rejects_invalid_function_with_rule_and_line(toolset: registry.Repository, env: dict[str, str]) -> None:
    (toolset.path / "functions").mkdir()
    (toolset.path / "functions" / "f.py").write_text("def f(x):\n    return x\n")
    (toolset.path / "functions" / "f.json").write_text('{"description": "d", "parameters": {"type": "object"}}')
    result = run(env, "-C", str(toolset.path), "commit", "-m", "bad")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: function 'f': line 1: parameter 'x' is missing from the schema's properties\n"


def test_commit_rejects_function_the_sandbox_refuses(toolset: registry.Repository, env: dict[str, str]) -> None:
    function = _function("peek")
    (toolset.path / "functions").mkdir()
    (toolset.path / "functions" / "peek.py").write_text("import os\n\n" + function.code)
    (toolset.path / "functions" / "peek.json").write_text(json.dumps(
        {"description": function.description, "parameters": function.parameters}))
    head = toolset.version().sha
    result = run(env, "-C", str(toolset.path), "commit", "-m", "sneak os in")
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr.startswith("Error: peek has 1 problem: line 1: import of 'os' is not allowed")
    assert toolset.version().sha == head


@pytest.fixture
def error_cases(trained: registry.Repository, tmp_path: Path) -> Iterator[dict[str, tuple[list[str], int, str]]]:
    where = str(trained.path)
    with registry.open(trained.path) as holder, holder.lock("main"):
        lock_file = trained.state_dir / "locks" / "heads" / "main.lock"
        since = json.loads(lock_file.read_text())["since"]
        (tmp_path / "plain").mkdir()
        yield {
            "not a toolset": (["-C", str(tmp_path / "plain"), "log"], 3, f"not a toolset: {tmp_path / 'plain'}"),
            "unknown revision": (["-C", where, "show", "nope"], 3, "unknown revision: 'nope'"),
            "unknown branch": (["-C", where, "log", "nope"], 3, "unknown revision: 'nope'"),
            "unknown function": (["-C", where, "show", "HEAD:zz"], 2,
                                 "unknown function 'zz'; functions in the set: a, b"),
            "locked": (["-C", where, "rollback"], 3, f"branch 'main' is locked by pid {os.getpid()} "
                                                     f"since {since}"),
            "existing toolset": (["-C", where, "init"], 3, f"already a toolset: {trained.path}"),
            "branch exists": (["-C", where, "branch", "create", "main"], 3, "branch 'main' already exists"),
            "no best": (["-C", where, "best", "--split", "test"], 3, "no scored version on 'main' (test split)"),
        }


@pytest.mark.parametrize("case", ["not a toolset", "unknown revision", "unknown branch", "unknown function",
                                  "locked", "existing toolset", "branch exists", "no best"])
def test_bad_input_prints_one_error_line(error_cases: dict[str, tuple[list[str], int, str]], env: dict[str, str],
                                         case: str) -> None:
    args, code, message = error_cases[case]
    result = run(env, *args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", f"Error: {message}\n")


def test_dirty_working_tree_refuses_rollback(trained: registry.Repository, env: dict[str, str]) -> None:
    (trained.path / "functions" / "a.py").write_text("def a(x):\n    return 7\n")
    result = run(env, "-C", str(trained.path), "rollback")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == ("Error: uncommitted changes in the working tree (functions/a.py); commit them with "
                             "'fnforge commit -m MSG' or discard them, then retry\n")
    assert (trained.path / "functions" / "a.py").read_text().endswith("return 7\n")


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.commands.get(name)
        assert found is not None, name
        command = found
    return command


@pytest.mark.parametrize("path", [(c,) for c in COMMANDS] + [("branch", c) for c in BRANCH_COMMANDS])
def test_every_registry_command_help_has_example(path: tuple[str, ...], env: dict[str, str]) -> None:
    result = ok(env, *path, "--help")
    assert "Example: fnforge " in result.stdout and _command(path).help
