"""The trainer reports only work it did: fresh optimizer samples, no outage for a too-long task, one epoch count."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fnforge.functions import FunctionSet
from fnforge.optimizer._live import StepFinished, TrainEvent
from fnforge.optimizer._run_state import TrainingError, find_run
from fnforge.optimizer._summary import RunStop
from fnforge.optimizer._train_config import TrainConfig
from fnforge.registry import DirtyWorkingTree
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import Request, ScriptedLLM, reply_error, reply_tool_call
from tests.optimizer.policies import TERMINATE, OptimizerScript, is_optimizer_request
from tests.optimizer.trainer_support import (
    TRAIN, add_solve, agent_policy, content_policy, history, init_repo, revise_buggy, train,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as box:
        yield box


# ------------------------------------------------------------------ every step is a fresh sample


def test_trainer_sends_each_of_patience_terminating_steps_to_the_optimizer_despite_the_response_cache(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=3), llm_cache=True))
    assert len(script.prompts) == 3  # three optimizer conversations reached the server
    assert (summary.stop, summary.steps, summary.unchanged) == (RunStop.PATIENCE, 3, 3)
    assert [(r.optimizer_calls, r.optimizer_cached) for r in summary.history[1:]] == [(1, 0)] * 3


def test_trainer_samples_the_optimizer_afresh_in_a_new_run_on_the_same_state(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2), llm_cache=True))
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2), llm_cache=True))
    assert len(script.prompts) == 4


def test_resume_replays_an_interrupted_step_from_the_response_cache(tmp_path: Path, llm_server: ScriptedLLM,
                                                                    sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=1), llm_cache=True))
        _drop_last_step(repo)  # step 1 never finished: no commit, no journal line
        before = llm_server.count
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=1), llm_cache=True,
                                    resume=find_run(repo, "main")))
    assert llm_server.count == before  # the optimizer's and the agents' replies came from the caches
    assert (summary.history[-1].optimizer_calls, summary.history[-1].optimizer_cached) == (2, 2)


def _drop_last_step(repo: Any) -> None:
    initial = repo.log()[1]
    subprocess.run(["git", "-C", str(repo.path), "reset", "-q", "--hard", initial.sha], check=True)
    journal = repo.state_dir / "runs" / find_run(repo, "main").run_id / "steps.jsonl"
    journal.write_text(journal.read_text().splitlines()[0] + "\n")


# ------------------------------------------------------------------ a conversation too long for the model


class _TooLong:
    """The agent policy, except that one task's conversation is refused as too long after its first turn."""

    def __init__(self, question: str) -> None:
        self.question, self.refusals, self._lock = question, 0, threading.Lock()

    def __call__(self, req: Request) -> Any:
        if is_optimizer_request(req) or req.question != self.question:
            return content_policy(req) if is_optimizer_request(req) else agent_policy(req)
        if req.turn == 0:
            return reply_tool_call("run_python", {"code": "print('z' * 2000)"})
        with self._lock:
            self.refusals += 1
        return reply_error(400, "This model's maximum context length is 4096 tokens. However, your messages "
                                "resulted in 5210 tokens. Please reduce the length of the messages.")


def test_trainer_scores_a_task_refused_as_too_long_twice_wrong_with_reason_context_and_completes(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    policy = _TooLong(TRAIN[0].question)
    llm_server.policy = policy
    with init_repo(tmp_path / "t") as repo:
        # every evaluation complete (no early rejection), so each note holds the refused task
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2, early_reject=False)))
        notes = [repo.note(v.sha) or {} for v in reversed(repo.log()) if v.status in ("initial", "accepted",
                                                                                         "rejected")]
    assert summary.stop is RunStop.PATIENCE and summary.test is not None and len(notes) == 3
    for note in notes:
        first = note["train"]["results"][0]
        assert (first["task_id"], first["correct"], first["reason"]) == (TRAIN[0].id, False, "context")
        assert note["train"]["errors"] == 0 and note["train"]["reasons"] == {"context": 1}
    assert policy.refusals == 2 * len(notes)  # each run of the task: the refused turn and its one retry


# ------------------------------------------------------------------ one epoch count everywhere


def test_trainer_epochs_agree_between_events_trailers_and_summary(tmp_path: Path, llm_server: ScriptedLLM,
                                                                   sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE], [revise_buggy(), TERMINATE], [TERMINATE]],
                                        agent=agent_policy)
    events: list[TrainEvent] = []
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2), events=events))
        trailers = {v.sha: v.epoch for v in repo.log()}
        subjects = {v.sha: v.subject for v in repo.log()}
    finished = [e.record for e in events if isinstance(e, StepFinished)]
    assert [e.epoch for e in finished] == [r.epoch for r in summary.history] == [0, 1, 1, 1]
    for event in finished:
        assert event.subject.startswith(f"epoch {event.epoch}: ")
        if event.commit is not None:
            assert trailers[event.commit] == event.epoch and subjects[event.commit] == event.subject
    assert summary.epochs == finished[-1].epoch == 1
    saved = json.loads(Path(summary.path).read_text())
    assert [r["epoch"] for r in saved["history"]] == [0, 1, 1, 1] and saved["epochs"] == 1


# ------------------------------------------------------------------ runs that never started, runs that lost their commits


def test_trainer_refused_for_a_dirty_tree_leaves_no_run_behind(tmp_path: Path, llm_server: ScriptedLLM,
                                                                sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        (repo.path / "functions").mkdir(exist_ok=True)
        (repo.path / "functions" / "draft.py").write_text("def draft():\n    return 1\n")
        with pytest.raises(DirtyWorkingTree, match="functions/draft.py"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig()))
        assert llm_server.requests == []  # refused before the initial evaluation
        assert not list((repo.state_dir / "runs").glob("*"))
        with pytest.raises(TrainingError, match="no training run to resume"):
            find_run(repo, "main")
        assert [h[1] for h in history(repo)] == []


def test_resume_refuses_a_branch_reset_past_the_runs_commits_and_writes_nothing(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        done = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2)))
        initial = repo.log()[-2]
        assert initial.status == "initial"
        subprocess.run(["git", "-C", str(repo.path), "reset", "-q", "--hard", initial.sha], check=True)
        run = repo.state_dir / "runs" / done.run_id
        files = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        requests = llm_server.count
        with pytest.raises(TrainingError, match=r"no longer contains commit \w{7} of run .*was it reset"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                              resume=find_run(repo, "main")))
        assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files
        assert repo.log()[0].sha == initial.sha and llm_server.count == requests


def test_resume_still_continues_a_run_whose_commits_are_all_on_the_branch(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = content_policy
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=1)))
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                    resume=find_run(repo, "main")))
    assert summary.resumed and summary.best_score == 1.0


def test_trainer_does_not_leave_a_run_for_other_failures_before_the_first_commit(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = lambda req: reply_error(500, "down")
    with init_repo(tmp_path / "t") as repo:
        with pytest.raises(TrainingError, match="failed at the provider"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig()))
        assert find_run(repo, "main").branch == "main"  # an outage is resumable: the run stays
        assert FunctionSet() == repo.read("HEAD")
