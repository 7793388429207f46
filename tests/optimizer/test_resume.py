"""Resume: the registry log (plus the step journal) is the checkpoint of a training run."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import FunctionSet
from fnforge.optimizer._checkpoint import reconstruct
from fnforge.optimizer._run_state import TrainingError, find_run
from fnforge.optimizer._summary import RunStop
from fnforge.optimizer._train_config import TrainConfig
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import ScriptedLLM
from tests.optimizer.policies import TERMINATE, OptimizerScript, is_optimizer_request
from tests.optimizer.trainer_support import TRAIN6, agent_policy, content_policy, history, init_repo, section, train


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as box:
        yield box


def _statuses(repo) -> list[tuple[str | None, float | None, str | None]]:  # type: ignore[no-untyped-def]
    return [(status, score, step) for _, status, score, _, step in history(repo)]


def _drop_journal_lines(repo, *, from_step: int) -> None:  # type: ignore[no-untyped-def]
    journal = repo.state_dir / "runs" / find_run(repo, "main").run_id / "steps.jsonl"
    lines = [line for line in journal.read_text().splitlines() if json.loads(line)["step"] < from_step]
    journal.write_text("".join(line + "\n" for line in lines))


def test_resume_repairs_a_rejected_trial_left_without_its_rollback(tmp_path: Path, llm_server: ScriptedLLM,
                                                                   sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "reference") as reference:
        expected = asyncio.run(train(reference, llm_server.base_url, sandbox, TrainConfig(patience=2)))
        expected_history = _statuses(reference)
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=2)))
        rejected = repo.log()[1]
        assert rejected.status == "rejected"
        # what a SIGKILL between the trial commit and its roll-back leaves behind: no roll-back, no journal line
        subprocess.run(["git", "-C", str(repo.path), "reset", "-q", "--hard", rejected.sha], check=True)
        _drop_journal_lines(repo, from_step=2)
        checkpoint = reconstruct(repo, find_run(repo, "main"))
        assert checkpoint.pending_rollback is not None and checkpoint.pending_rollback.sha == rejected.sha
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                    resume=find_run(repo, "main")))
        assert _statuses(repo) == expected_history
        assert repo.log()[0].tree_hash == repo.log()[2].tree_hash
        assert (summary.best_tree, summary.best_score, summary.test) == (expected.best_tree, expected.best_score,
                                                                         expected.test)


def test_resume_keeps_the_failure_record_and_step_count(tmp_path: Path, llm_server: ScriptedLLM,
                                                        sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        first = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=2)))
        checkpoint = reconstruct(repo, find_run(repo, "main"))
        assert (checkpoint.step, checkpoint.epoch, checkpoint.stale) == (2, 1, 1)
        assert [score for _, _, score in checkpoint.failures] == [0.0]
        llm_server.reset()
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                    resume=find_run(repo, "main")))
        prompts = [r for r in llm_server.requests if is_optimizer_request(r) and r.turn == 0]
        assert len(prompts) == 1
        assert "## Failed set 1: success rate 0.0000" in section(prompts[0].question, "Failure record")
        assert [r for r in llm_server.requests if not is_optimizer_request(r)] == []  # everything else cached
        assert (summary.run_id, summary.steps, summary.stop, summary.resumed) == (first.run_id, 3, RunStop.PATIENCE,
                                                                                  True)
        assert [step for _, _, step in _statuses(repo)] == ["0", "1", "2", "2"]


def test_resume_counts_unchanged_steps_from_the_journal(tmp_path: Path, llm_server: ScriptedLLM,
                                                        sandbox: Sandbox) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=2, patience=3)))
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=3),
                                    resume=find_run(repo, "main")))
        assert len(script.prompts) == 3
        assert (summary.steps, summary.unchanged, summary.stop) == (3, 3, RunStop.PATIENCE)


def test_resume_of_a_finished_run_commits_nothing_and_calls_no_model(tmp_path: Path, llm_server: ScriptedLLM,
                                                                     sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        done = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2)))
        commits, requests = len(repo.log()), llm_server.count
        again = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                  resume=find_run(repo, "main")))
        assert (len(repo.log()), llm_server.count) == (commits, requests)
        assert (again.best_commit, again.test) == (done.best_commit, done.test)


def test_resume_rejects_a_branch_that_moved_on(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=1)))
        repo.commit(FunctionSet(), subject="hand edit", trailers={"Status": "manual"})
        with pytest.raises(TrainingError, match="moved past run"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(), resume=find_run(repo, "main")))


def test_resume_rejects_different_tasks(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=0)))
        with pytest.raises(TrainingError, match="the tasks differ"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(), train_tasks=TRAIN6,
                              resume=find_run(repo, "main")))


def test_find_run_rejects_a_branch_without_runs(tmp_path: Path) -> None:
    with init_repo(tmp_path / "t") as repo, pytest.raises(TrainingError, match="no training run to resume"):
        find_run(repo, "main")


def test_trainer_rejects_a_second_trainer_on_the_same_branch(tmp_path: Path, llm_server: ScriptedLLM,
                                                              sandbox: Sandbox) -> None:
    with init_repo(tmp_path / "t") as repo, registry.open(repo.path) as holder, holder.lock("main"):
        with pytest.raises(registry.BranchLocked, match="branch 'main' is locked by pid"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig()))
        assert llm_server.count == 0


def test_resume_after_a_budget_stop_continues_and_keeps_the_spend(tmp_path: Path, llm_server: ScriptedLLM,
                                                                 sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        stopped = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_tokens=1, patience=2)))
        assert (stopped.stop, stopped.steps) == (RunStop.BUDGET, 0)
        resumed = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                    resume=find_run(repo, "main")))
        assert (resumed.stop, resumed.steps, resumed.best_score) == (RunStop.PATIENCE, 3, 1.0)
        assert resumed.tokens > stopped.tokens > 0


def test_resume_rewrites_the_best_commit_note_lost_to_a_kill(tmp_path: Path, llm_server: ScriptedLLM,
                                                             sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=1), test_tasks=()))
        accepted = repo.log()[0]
        assert accepted.status == "accepted"
        subprocess.run(["git", "-C", str(repo.path), "notes", "--ref=fnforge", "remove", accepted.sha], check=True,
                       capture_output=True)
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=2), test_tasks=(),
                          resume=find_run(repo, "main")))
        note = repo.note(accepted.sha) or {}
        assert (note["train"]["accuracy"], note["train"]["step"]) == (1.0, 1)
