"""``fnforge train --val/--rollouts/--accept significant``, and ``log``, ``best``, ``diff --tasks`` on its result."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fnforge import registry
from fnforge.cli import cli
from tests.fnforge.test_cli_train import _env, _invoke
from tests.llm_server import ScriptedLLM
from tests.optimizer.policies import TERMINATE, OptimizerScript
from tests.optimizer.trainer_support import add_solve, agent_policy, init_repo


def _fnforge(path: Path, llm: ScriptedLLM, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-C", str(path), *args], env=_env(llm), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_train_val_records_validation_scores_that_log_and_best_show_beside_train_and_test(
        tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE], [TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    result = _invoke(tmp_path / "t", llm_server, "--val", "2", "--patience", "1")
    assert result.exit_code == 0, result.output
    assert "val score    1.0000 (selects the best)" in result.output
    with registry.open(tmp_path / "t") as repo:
        best = repo.best()
        assert best is not None and (best.trailer("Select"), best.trailer("Val-Score")) == ("val", "1.0")
        initial = repo.log()[1]
    log = _fnforge(tmp_path / "t", llm_server, "log")
    assert f"{best.short} ✓ 1.0000 val 1.0000 test 1.0000   e1" in log
    assert f"{initial.short} ● 0.2500 val 0.0000 test      -   e0" in log
    assert "val 1.0000 test 1.0000" in _fnforge(tmp_path / "t", llm_server, "best")
    diff = _fnforge(tmp_path / "t", llm_server, "diff", initial.short, best.short, "--tasks")
    assert diff.count("(wrong -> right)") == 3 and "3 gained, 0 lost of 4 paired train tasks" in diff
    assert "p = 0.125" in diff


def test_train_refuses_select_val_without_validation_tasks(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    init_repo(tmp_path / "t").close()
    result = _invoke(tmp_path / "t", llm_server, "--select", "val")
    assert result.exit_code == 2 and "--select val needs validation tasks" in result.output


def test_diff_tasks_refuses_a_version_without_per_task_results(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    init_repo(tmp_path / "t").close()
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "diff", "HEAD", "HEAD", "--tasks"],
                                env=_env(llm_server))
    assert result.exit_code == 3 and "no per-task train results" in result.output
