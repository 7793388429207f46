"""``fnforge eval`` end to end: scripted server, real sandbox, real scorer, real registry and notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fnforge import registry
from fnforge.cli import cli
from fnforge.cli._config import ToolsetConfig
from tests.llm_server import ScriptedLLM, reply_error
from tests.optimizer.fixtures.eval_kit import DATA_DIR, TEST_TASKS, ZERO_ANSWER_TASKS, solver_policy, with_solver

SPLIT = ["--train", "3", "--test", str(TEST_TASKS)]
CLEAN_ENV: dict[str, str | None] = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "FNFORGE_DATA": None}


@pytest.fixture
def toolset(tmp_path: Path) -> dict[str, Any]:
    """A toolset whose first commit has no functions and whose second adds solve_equation."""
    config = ToolsetConfig(task="math:algebra", agent="tool", model="scripted-model")
    repo = registry.init(tmp_path / "ts", files={"fnforge.toml": config.to_toml().encode()})
    try:
        bare = repo.resolve("HEAD")
        solved = repo.commit(with_solver(), subject="add solve_equation", trailers={"Status": "manual"}).sha
    finally:
        repo.close()
    return {"path": tmp_path / "ts", "bare": bare, "solved": solved}


def invoke(toolset: dict[str, Any], server: ScriptedLLM, *args: str, env: dict[str, str | None] | None = None,
           flags: bool = True, ok: bool = True) -> Result:
    connection = ["--base-url", server.base_url, "--data", str(DATA_DIR)] if flags else []
    argv = ["-C", str(toolset["path"]), "eval", *args, *SPLIT, "--concurrency", "2", *connection]
    result = CliRunner().invoke(cli, argv, env={**CLEAN_ENV, **(env or {})}, catch_exceptions=not ok)
    if ok:
        assert result.exit_code == 0, result.stderr
    return result


def as_json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def stable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("wall_s", "cached")}


def test_eval_accuracy_differs_between_revisions_as_scripted(toolset: dict[str, Any],
                                                             llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    without = as_json(invoke(toolset, llm_server, toolset["bare"], "--json"))
    with_fn = as_json(invoke(toolset, llm_server, toolset["solved"], "--json"))
    assert (without["correct"], without["n"]) == (ZERO_ANSWER_TASKS, TEST_TASKS)
    assert (with_fn["correct"], with_fn["n"], with_fn["accuracy"]) == (TEST_TASKS, TEST_TASKS, 1.0)


def test_eval_again_makes_no_request_and_prints_identical_results(toolset: dict[str, Any],
                                                                   llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    first = as_json(invoke(toolset, llm_server, toolset["solved"], "--json"))
    before = llm_server.count
    second = as_json(invoke(toolset, llm_server, toolset["solved"], "--json"))
    assert llm_server.count == before and second["cached"] == TEST_TASKS
    assert stable(second) == stable(first)


def test_eval_json_has_accuracy_n_correct_tokens_and_cost(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    data = as_json(invoke(toolset, llm_server, toolset["solved"], "--json"))
    assert {"accuracy", "n", "correct", "tokens", "cost", "ci95", "commit"} <= set(data) and data["tokens"] > 0


def test_eval_writes_per_task_results_to_commit_note(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    invoke(toolset, llm_server, toolset["solved"])
    with registry.open(toolset["path"]) as repo:
        note = repo.note(toolset["solved"])
    assert note is not None and note["test"]["accuracy"] == 1.0 and note["test"]["split"] == "test"
    assert note["test"]["tasks"].startswith(f"math:algebra ({TEST_TASKS} tasks, sha256:")
    assert [r["correct"] for r in note["test"]["results"]] == [True] * TEST_TASKS


def test_eval_prints_accuracy_with_confidence_interval(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    result = invoke(toolset, llm_server, toolset["solved"])
    assert "accuracy 100.0% (6/6), 95% CI [61.0%, 100.0%]" in result.stdout
    assert "successful function calls: solve_equation 6" in result.stdout


def test_eval_defaults_to_head(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    assert as_json(invoke(toolset, llm_server, "--json"))["commit"] == toolset["solved"]


def test_eval_takes_model_from_fnforge_toml(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    invoke(toolset, llm_server, "--limit", "1")
    assert {r.model for r in llm_server.requests} == {"scripted-model"}


def test_eval_model_flag_overrides_fnforge_toml(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    data = as_json(invoke(toolset, llm_server, "--limit", "1", "--model", "other-model", "--json"))
    assert data["model"] == "other-model" and {r.model for r in llm_server.requests} == {"other-model"}


def test_eval_reads_endpoint_and_data_from_environment(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    env: dict[str, str | None] = {"OPENAI_BASE_URL": llm_server.base_url, "FNFORGE_DATA": str(DATA_DIR),
                                  "OPENAI_API_KEY": "sk-test"}
    data = as_json(invoke(toolset, llm_server, "--limit", "1", "--json", env=env, flags=False))
    assert data["n"] == 1 and llm_server.requests[0].headers["authorization"] == "Bearer sk-test"


def test_eval_no_cache_asks_the_model_again(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    invoke(toolset, llm_server, "--limit", "2")
    before = llm_server.count
    invoke(toolset, llm_server, "--limit", "2", "--no-cache")
    assert llm_server.count > before


def test_eval_limit_evaluates_first_tasks_of_split(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    everything = as_json(invoke(toolset, llm_server, "--json"))
    two = as_json(invoke(toolset, llm_server, "--limit", "2", "--json"))
    assert [r["task_id"] for r in two["results"]] == [r["task_id"] for r in everything["results"][:2]]


def test_eval_train_split_uses_training_tasks(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = solver_policy()
    data = as_json(invoke(toolset, llm_server, "--split", "train", "--json"))
    assert data["n"] == 3 and all(r["task_id"].startswith("train/") for r in data["results"])


def test_eval_rejects_unknown_revision(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    result = invoke(toolset, llm_server, "no-such-rev", ok=False)
    assert result.exit_code == 3 and result.stderr.startswith("Error: ") and result.stdout == ""
    assert llm_server.count == 0


def test_eval_rejects_unknown_task_set(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    result = invoke(toolset, llm_server, "--task", "nosuchset", ok=False)
    assert result.exit_code == 2 and "Error: bad task set 'nosuchset'" in result.stderr and result.stdout == ""


def test_eval_reports_provider_refusal_as_one_line_error(toolset: dict[str, Any], llm_server: ScriptedLLM) -> None:
    llm_server.policy = lambda req: reply_error(401, "bad key")
    result = invoke(toolset, llm_server, "--limit", "1", ok=False)
    assert result.exit_code == 5 and result.stderr.count("\n") == 1 and "bad key" in result.stderr


def test_eval_rejects_bad_sandbox_table(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    config = ToolsetConfig(task="math:algebra", model="scripted-model", sandbox={"timeout_s": -1})
    registry.init(tmp_path / "bad", files={"fnforge.toml": config.to_toml().encode()}).close()
    result = invoke({"path": tmp_path / "bad"}, llm_server, ok=False)
    assert result.exit_code == 2 and result.stderr.startswith("Error: fnforge.toml [sandbox]: timeout_s")
    assert llm_server.count == 0
