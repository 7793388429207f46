"""fnforge.toml is the toolset's memory: init/train record, config edits, every command reads it (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fnforge import registry
from fnforge.cli import cli
from fnforge.cli._config import load_config
from fnforge.functions import FunctionSet
from tests.llm_server import ScriptedLLM, reply_error
from tests.optimizer.fixtures.eval_kit import DATA_DIR, TEST_TASKS, solver_policy, with_solver

CLEAN_ENV: dict[str, str | None] = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "FNFORGE_DATA": None}


def fnforge(*args: str | Path, where: Path | None = None, code: int = 0) -> Result:
    """``fnforge [-C where] ARGS`` with no endpoint or data in the environment; require exit ``code``."""
    argv = [*(["-C", str(where)] if where is not None else []), *map(str, args)]
    result = CliRunner().invoke(cli, argv, env=CLEAN_ENV)
    assert result.exit_code == code, result.output + repr(result.exception)
    return result


@pytest.fixture
def toolset(tmp_path: Path, llm_server: ScriptedLLM) -> dict[str, Any]:
    """init given task, sizes, data and endpoint once; then a commit that adds solve_equation."""
    llm_server.policy = solver_policy()
    fnforge("init", "ts", "--task", "math:algebra", "--model", "scripted-model", "--train", "3", "--test",
            str(TEST_TASKS), "--data", DATA_DIR, "--base-url", llm_server.base_url, where=tmp_path)
    with registry.open(tmp_path / "ts") as repo:
        bare = repo.resolve("HEAD")
        solved = repo.commit(with_solver(), subject="add solve_equation", trailers={"Status": "manual"}).sha
    return {"path": tmp_path / "ts", "bare": bare, "solved": solved}


def eval_json(where: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fnforge("eval", *args, "--json", where=where).stdout)
    return data


def test_init_records_task_sizes_data_and_endpoint(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    config = load_config(toolset["path"])
    assert (config.task, config.train, config.test, config.data, config.base_url) == (
        "math:algebra", 3, TEST_TASKS, str(DATA_DIR), llm_server.base_url)


def test_eval_without_flags_uses_what_fnforge_toml_records(toolset: dict[str, Any],
                                                           llm_server: ScriptedLLM) -> None:
    data = eval_json(toolset["path"])
    assert (data["n"], data["correct"], data["commit"]) == (TEST_TASKS, TEST_TASKS, toolset["solved"])
    assert llm_server.count > 0


def test_a_flag_overrides_fnforge_toml_for_one_call(toolset: dict[str, Any]) -> None:
    assert eval_json(toolset["path"], "--test", "2")["n"] == 2
    assert load_config(toolset["path"]).test == TEST_TASKS


def test_every_command_runs_from_a_subfolder_without_dash_c(toolset: dict[str, Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(toolset["path"] / "functions")
    for args in (["log"], ["show"], ["config", "test"], ["diff", toolset["bare"]],
                 ["call", "solve_equation", "--args", '{"equation": "2*x = 4"}'], ["eval", "--limit", "1"],
                 ["train", "--dry-run"], ["domains"], ["verify"], ["branch", "list"]):
        fnforge(*args)


def test_config_sets_reads_lists_and_unsets_a_setting(toolset: dict[str, Any]) -> None:
    where = toolset["path"]
    fnforge("config", "test", "4", where=where)
    assert fnforge("config", "test", where=where).stdout == "4\n"
    assert "test=4\n" in fnforge("config", where=where).stdout
    fnforge("config", "--unset", "test", where=where)
    assert fnforge("config", "test", where=where).stdout == "80\n"  # the default again


def test_config_records_a_data_folder_inside_the_toolset_relative_to_its_root(toolset: dict[str, Any]) -> None:
    (toolset["path"] / "data").mkdir()
    fnforge("config", "data", "../data", where=toolset["path"] / "functions")  # relative to where it runs
    assert load_config(toolset["path"]).data == "data"


@pytest.mark.parametrize(("args", "message"), [
    (["config", "nosuch", "1"], "Error: unknown setting 'nosuch'; settings: task, "),
    (["config", "train", "many"], "Error: train must be an integer, not 'many'\n"),
    (["config", "base_url", "http://user:secret@host/v1"], "Error: base_url 'http://user:secret@host/v1' cannot be "
                                                           "recorded"),
    (["config", "task", "foo:bar"], "Error: bad task set 'foo:bar'"),
])
def test_config_rejects_a_bad_key_or_value_with_one_error_line(toolset: dict[str, Any], args: list[str],
                                                               message: str) -> None:
    result = fnforge(*args, where=toolset["path"], code=2)
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_train_records_the_sizes_it_ran_with_so_later_commands_use_them(tmp_path: Path,
                                                                        llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    fnforge("init", "t", "--model", "scripted-model", where=tmp_path)
    where = tmp_path / "t"
    out = fnforge("train", "--train", "3", "--test", "2", "--data", DATA_DIR, "--base-url", llm_server.base_url,
                  "--max-steps", "0", where=where).stdout
    assert [line for line in out.splitlines() if line != line.rstrip()] == []  # no padded summary lines
    assert "\nsteps        0 (0 accepted, 0 rejected, 0 unchanged)\n" in out
    config = load_config(where)
    assert (config.train, config.test, config.data, config.base_url) == (3, 2, str(DATA_DIR), llm_server.base_url)
    with registry.open(where) as repo:
        subject = [v.subject for v in repo.log()][-2]
    assert subject.startswith("settings: ") and "train 3, test 2" in subject
    assert eval_json(where, "best/main")["n"] == 2
    plan = json.loads(fnforge("train", "--dry-run", "--json", where=where).stdout)
    assert (plan["train_tasks"], plan["test_tasks"]) == (3, 2)


def test_eval_with_the_provider_down_exits_5_and_notes_nothing(toolset: dict[str, Any],
                                                               llm_server: ScriptedLLM) -> None:
    llm_server.policy = lambda req: reply_error(503, "overloaded", headers={"retry-after-ms": "0"})
    result = fnforge("eval", "--limit", "1", where=toolset["path"], code=5)
    assert result.stdout == "" and "1 of 1 tasks failed at the provider" in result.stderr
    assert "no score was recorded" in result.stderr
    with registry.open(toolset["path"]) as repo:
        assert repo.note(toolset["solved"]) is None


def test_eval_says_that_uncommitted_edits_are_not_what_it_scores(toolset: dict[str, Any]) -> None:
    (toolset["path"] / "functions" / "solve_equation.py").unlink()
    result = fnforge("eval", "--limit", "1", where=toolset["path"])
    assert result.stderr.startswith("warning: functions/ has uncommitted changes (functions/solve_equation.py); "
                                    "this scores HEAD (")


def test_eval_worktree_scores_the_edits_and_notes_nothing(toolset: dict[str, Any]) -> None:
    (toolset["path"] / "functions" / "solve_equation.py").unlink()
    (toolset["path"] / "functions" / "solve_equation.json").unlink()
    data = eval_json(toolset["path"], "--worktree")
    assert (data["commit"], data["worktree"], data["correct"]) == (None, True, 1)  # only the "0" task
    with registry.open(toolset["path"]) as repo:
        assert repo.note(toolset["solved"]) is None


def test_report_of_an_unknown_run_is_a_usage_error(toolset: dict[str, Any]) -> None:
    result = fnforge("report", "--run", "nosuch", "--out", "r", where=toolset["path"], code=2)
    assert result.stderr.startswith("Error: no run 'nosuch' on main; runs there: none")


# -- bisect and merge, also in a clone that has nothing but fnforge.toml ---------------------------------------


@pytest.fixture
def broken(toolset: dict[str, Any]) -> dict[str, Any]:
    """The solver is removed again: HEAD fails what toolset["solved"] solves."""
    with registry.open(toolset["path"]) as repo:
        toolset["broken"] = repo.commit(FunctionSet(), subject="remove solve_equation",
                                        trailers={"Status": "manual"}).sha
    return toolset


def _failing_train_task(where: Path) -> str:
    results = eval_json(where, "--split", "train")["results"]
    return next(r["task_id"] for r in results if not r["correct"])


def test_bisect_names_the_commit_that_broke_a_task(broken: dict[str, Any]) -> None:
    task = _failing_train_task(broken["path"])
    out = fnforge("bisect", "--task", task, "--good", broken["solved"], where=broken["path"]).stdout
    assert f"First bad version: {broken['broken'][:7]} remove solve_equation" in out


def test_bisect_refuses_a_bad_end_that_solves_the_task(broken: dict[str, Any]) -> None:
    task = _failing_train_task(broken["path"])
    result = fnforge("bisect", "--task", task, "--good", broken["solved"], "--bad", broken["solved"],
                     where=broken["path"], code=2)
    assert result.stderr.startswith(f"Error: the bad end {broken['solved']} (")
    assert "nothing to bisect" in result.stderr


def test_bisect_refuses_a_good_end_that_fails_the_task(broken: dict[str, Any]) -> None:
    task = _failing_train_task(broken["path"])
    result = fnforge("bisect", "--task", task, "--good", broken["bare"], where=broken["path"], code=2)
    assert result.stderr.startswith(f"Error: the good end {broken['bare']} (") and "fails" in result.stderr


def test_a_clone_evaluates_bisects_and_merges_from_fnforge_toml_alone(broken: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    with registry.open(broken["path"]) as repo:
        repo.create_branch("domain/x")
        repo.commit(with_solver(), subject="x: add solve_equation", trailers={"Status": "manual"}, branch="domain/x")
    fnforge("clone", broken["path"], tmp_path / "copy", where=tmp_path)
    copy = tmp_path / "copy"
    assert eval_json(copy)["n"] == TEST_TASKS
    task = _failing_train_task(copy)
    out = fnforge("bisect", "--task", task, "--good", broken["solved"], where=copy).stdout
    assert f"First bad version: {broken['broken'][:7]}" in out
    merged = fnforge("merge", "domain/x", "--prefer", "theirs", where=copy).stdout
    assert "1 function; score 1.0000 on math:algebra (ours)" in merged


def test_question_and_answer_fields_are_flags_and_settings(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    fnforge("init", "qa", "--model", "scripted-model", "--base-url", llm_server.base_url, where=tmp_path)
    where = tmp_path / "qa"
    (where / "qa.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} - {i}?",
                                                        "solution": "0"}) + "\n" for i in range(4)))
    flags = ["--task", "jsonl:qa.jsonl", "--train", "2", "--test", "2"]
    assert eval_json(where, *flags, "--question-field", "problem", "--answer-field", "solution")["correct"] == 2
    fnforge("config", "question_field", "problem", where=where)
    fnforge("config", "answer_field", "solution", where=where)
    assert eval_json(where, *flags)["correct"] == 2
