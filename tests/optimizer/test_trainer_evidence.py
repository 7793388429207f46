"""Beyond the paper (issue 15): selection on validation, paired significance, early rejection, rollouts, and
"expected X, got Y" feedback, against the scripted server with the real sandbox and registry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge.optimizer import build_report, summary_lines
from fnforge.optimizer._checkpoint import reconstruct
from fnforge.optimizer._run_state import StepStatus, find_run
from fnforge.optimizer._summary import RunStop
from fnforge.optimizer._train_config import TrainConfig
from fnforge.sandbox import Sandbox, SandboxPolicy
from fnforge.tasks import Task, load_tasks
from tests.llm_server import ScriptedLLM
from tests.optimizer.policies import TERMINATE, OptimizerScript, add_call, is_optimizer_request, revise_call
from tests.optimizer.trainer_support import (
    ARGS, BUGGY, TRAIN6, add_solve, agent_policy, init_repo, train,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as box:
        yield box


def solver(condition: str) -> str:
    """A solve_linear that is right when ``condition`` holds (about a, b, c) and answers 0 otherwise."""
    return (f"def solve_linear(a, b, c):\n    \"\"\"Solve a*x + b = c for x.\"\"\"\n"
            f"    if {condition}:\n        return int((c - b) / a)\n    return 0\n")


def add_solver(code: str) -> object:
    return add_call("solve_linear", code, arguments=ARGS, description="Solve a*x + b = c for x.")


def revise_solver(code: str) -> object:
    return revise_call("solve_linear", code, arguments=ARGS, description="Solve a*x + b = c for x.")


def twenty_tasks(root: Path) -> tuple[Task, ...]:
    """20 linear equations; 0 is the answer of the first 10 (so a set without functions scores 0.5)."""
    lines = []
    for i in range(20):
        a, b, x = 2 + i % 5, i + 1, 0 if i < 10 else i - 7
        lines.append(json.dumps({"problem": f"Solve for $x$: ${a}x + {b} = {a * x + b}$.", "answer": str(x),
                                 "solution": f"$\\boxed{{{x}}}$", "subject": "Algebra", "level": 1,
                                 "unique_id": f"train/algebra/t{i:02d}.json"}))
    (root / "math").mkdir(parents=True)
    (root / "math" / "math_train.jsonl").write_text("\n".join(lines) + "\n")
    return load_tasks("math:algebra", "train", data_dir=root)


# train = TRAIN6[:4] (a = 2, 3, 2, 5; answers 0, -1, 4, 3), validation = TRAIN6[4:] (a = 4, 7; answers 2, 2)
FITS_VAL = solver("a in (2, 4, 7)")  # train 2/4, validation 2/2
OVERFITS = solver("a in (2, 3, 5)")  # train 4/4, validation 0/2


def test_trainer_selects_the_validation_best_when_train_accepts_a_trial_validation_rejects(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solver(FITS_VAL), TERMINATE], [revise_solver(OVERFITS), TERMINATE],
                                         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                    train_tasks=TRAIN6[:4], val_tasks=TRAIN6[4:]))
        steps = [v for v in reversed(repo.log()) if v.status in ("initial", "accepted")]
        assert [(v.status, v.score, v.trailer("Val-Score")) for v in steps] == [
            ("initial", 0.25, "0.0"), ("accepted", 0.5, "1.0"), ("accepted", 1.0, "0.0")]
        assert summary.best_commit == steps[1].sha and repo.best().sha == steps[1].sha  # one best, the registry's
        report = build_report(repo)
    assert [p.val_score for p in report.steps if p.status != "unchanged"] == [0.0, 1.0, 0.0] and report.best_val == 1.0
    assert "train 0.2500 -> 0.5000, val 1.0000, test" in summary_lines(report)[1]
    assert (summary.best_score, summary.best_val, summary.stop) == (0.5, 1.0, RunStop.PATIENCE)
    assert [r.val_score for r in summary.history if r.status is StepStatus.ACCEPTED] == [1.0, 0.0]


def test_resume_counts_an_accepted_trial_that_lowered_validation_as_non_improving(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solver(FITS_VAL), TERMINATE], [revise_solver(OVERFITS), TERMINATE],
                                         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2, max_steps=2),
                          train_tasks=TRAIN6[:4], val_tasks=TRAIN6[4:]))
        record = find_run(repo, "main")
        checkpoint = reconstruct(repo, record)
        assert (checkpoint.step, checkpoint.epoch, checkpoint.stale) == (2, 2, 1)
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2),
                                    train_tasks=TRAIN6[:4], val_tasks=TRAIN6[4:], resume=record))
        selected = [v for v in reversed(repo.log()) if v.status == "accepted"][0]
    assert (summary.stop, summary.steps, summary.best_commit) == (RunStop.PATIENCE, 3, selected.sha)


def test_trainer_select_train_keeps_the_train_best(tmp_path: Path, llm_server: ScriptedLLM,
                                                   sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solver(FITS_VAL), TERMINATE], [revise_solver(OVERFITS), TERMINATE],
                                         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=1, select="train"),
                                    train_tasks=TRAIN6[:4], val_tasks=TRAIN6[4:]))
        assert summary.best_commit == repo.best().sha and repo.best().score == 1.0


def test_trainer_accept_significant_rejects_a_one_task_gain_on_20_tasks_and_accepts_a_large_one(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    tasks = twenty_tasks(tmp_path / "data")
    llm_server.policy = OptimizerScript([[add_solver(solver("b == 11")), TERMINATE], [add_solve(), TERMINATE],
                                         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2, accept="significant",
                                                                  early_reject=False),
                          train_tasks=tasks, test_tasks=()))
        trials = [v for v in reversed(repo.log()) if v.status in ("initial", "accepted", "rejected")]
        assert [(v.status, v.score, v.trailer("P-Value")) for v in trials] == [
            ("initial", 0.5, None), ("rejected", 0.55, "0.5"), ("accepted", 1.0, "0.000977")]


def test_trainer_accept_significant_with_early_rejection_makes_the_same_decisions(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    tasks = twenty_tasks(tmp_path / "data")
    llm_server.policy = OptimizerScript([[add_solver(solver("b == 11")), TERMINATE], [add_solve(), TERMINATE],
                                         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=2, accept="significant"),
                          train_tasks=tasks, test_tasks=()))
        trials = [v for v in reversed(repo.log()) if v.status in ("initial", "accepted", "rejected")]
    assert [v.status for v in trials] == ["initial", "rejected", "accepted"]
    partial = trials[1].trailer("Partial")  # the 1-task gain can never reach p < 0.05: stopped early
    assert partial is not None and int(partial.split("/")[0]) < 20


def _early_run(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox, name: str,
               early_reject: bool) -> tuple[list[tuple[str | None, str | None]], int]:
    tasks = twenty_tasks(tmp_path / f"data-{name}")
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE],
                                         [revise_call("solve_linear", BUGGY, arguments=ARGS), TERMINATE],
                                         [TERMINATE]], agent=agent_policy)
    before = len(llm_server.requests)
    with init_repo(tmp_path / name) as repo:
        config = TrainConfig(patience=2, concurrency=1, early_reject=early_reject)
        asyncio.run(train(repo, llm_server.base_url, sandbox, config, train_tasks=tasks, test_tasks=()))
        trials = [(v.status, v.trailer("Partial")) for v in reversed(repo.log())
                  if v.status in ("initial", "accepted", "rejected")]
    return trials, len(llm_server.requests) - before


def test_trainer_early_rejection_stops_at_the_bound_with_the_full_evaluations_decisions(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    early, early_requests = _early_run(tmp_path, llm_server, sandbox, "early", True)
    full, full_requests = _early_run(tmp_path, llm_server, sandbox, "full", False)
    # the best is right on all 20: the buggy trial is hopeless at its first wrong task (concurrency 1: task 1)
    assert early == [("initial", None), ("accepted", None), ("rejected", "1/20")]
    assert [status for status, _ in full] == [status for status, _ in early] and full[2][1] is None
    # 19 tasks not run (two agent requests each), but for the next task's first request, cancelled in flight
    assert full_requests - early_requests >= 19 * 2 - 1


def test_trainer_rollouts_score_the_mean_over_distinct_cached_rollouts(tmp_path: Path, llm_server: ScriptedLLM,
                                                                       sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)

    def agent_requests() -> int:
        return sum(1 for r in llm_server.requests if not is_optimizer_request(r))

    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=0, rollouts=3), test_tasks=()))
        initial = repo.log()[0]
        note = repo.note(initial.sha) or {}
        assert agent_requests() == 3 * 4  # no functions: one request per task and rollout
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=0, rollouts=4), test_tasks=()))
    assert (initial.score, initial.trailer("Rollouts"), note["train"]["n"]) == (0.25, "3", 12)
    assert agent_requests() == 3 * 4 + 4  # rollouts 0-2 come from the cache; only rollout 3 is new


def test_optimizer_sees_expected_and_got_for_failed_training_tasks_only(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=1),
                          train_tasks=TRAIN6[:4], val_tasks=TRAIN6[4:]))
    prompt = script.prompts[0].question
    assert f"{TRAIN6[1].id}: 0 (expected -1, got 0)" in prompt and f"{TRAIN6[0].id}: 1\n" in prompt
    assert TRAIN6[4].id not in prompt and TRAIN6[5].id not in prompt  # validation tasks never reach it
