"""Trainer (Algorithm 2) against the scripted server, the real sandbox and a real registry."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig
from fnforge.functions import FunctionSet
from fnforge.optimizer import EvalCache, Report, evaluate
from fnforge.optimizer._live import PhaseStarted, RunFinished, RunStarted, StepFinished, StepStatus, TaskDone, TrainEvent
from fnforge.optimizer._run_state import TrainingError
from fnforge.optimizer._train_config import TrainConfig
from fnforge.optimizer._summary import RunStop
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import Fault, ScriptedLLM, tool_solver
from tests.optimizer.policies import TERMINATE, OptimizerScript, add_call, is_optimizer_request, revise_call
from tests.optimizer.trainer_support import (
    ARGS, FORBIDDEN_IMPORT, SOLVE, SOLVE_EQUIVALENT, SYNTAX_BROKEN, TRAIN6, add_solve, agent_policy, equation_args,
    TRAIN, history, init_repo, revise_buggy, section, train,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as box:
        yield box


def _git(repo_path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo_path), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _scenario_script() -> OptimizerScript:
    return OptimizerScript(
        [
            [add_solve(), TERMINATE],
            [revise_buggy(), TERMINATE],
            [add_call("broken", SYNTAX_BROKEN, arguments={"x": {"type": "number"}}),
             add_call("list_files", FORBIDDEN_IMPORT, arguments={"path": {"type": "string"}}),
             TERMINATE],
            [TERMINATE],
        ],
        agent=agent_policy,
    )


@pytest.fixture
def scenario(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox):  # type: ignore[no-untyped-def]
    script = _scenario_script()
    llm_server.policy = script
    repo = init_repo(tmp_path / "toolset")
    events: list[TrainEvent] = []
    summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=4), events=events))
    yield repo, script, summary, events
    repo.close()


def test_trainer_scenario_writes_the_exact_commit_sequence(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = scenario
    accepted = repo.log()[2]
    assert history(repo) == [
        ("epoch 0: initial evaluation (0 functions)", "initial", 0.25, 0, "0"),
        ("epoch 1: add solve_linear", "accepted", 1.0, 1, "1"),
        ("epoch 1: revise solve_linear", "rejected", 0.0, 1, "2"),  # epoch: accepted updates after the step
        (f"Revert to {accepted.short}: epoch 1: add solve_linear", "rollback", 1.0, 1, "2"),
    ]


def test_trainer_scenario_commits_carry_the_design_trailers(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, summary, _ = scenario
    for version in repo.log()[:4]:
        if version.status == "rollback":
            assert version.trailer("Run") == summary.run_id
            continue
        assert version.trailer("Metric") == "accuracy"
        assert version.trailer("Split") == "train"
        assert version.trailer("Model") == "agent-model"
        assert version.trailer("Optimizer-Model") == "optimizer-model"
        assert version.trailer("Run") == summary.run_id
        assert version.trailer("Tasks", ).startswith("math:algebra (4 tasks, sha256:")


def test_trainer_rollback_commit_tree_equals_the_best_tree(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = scenario
    rollback, rejected, accepted = repo.log()[:3]
    assert _git(repo.path, "rev-parse", f"{rollback.sha}^{{tree}}") == _git(repo.path, "rev-parse",
                                                                            f"{accepted.sha}^{{tree}}")
    assert rollback.trailer("Reverts") == rejected.sha and rollback.trailer("Restores") == accepted.sha
    assert repo.read("HEAD")["solve_linear"].code == SOLVE


def test_trainer_rejected_trial_body_holds_the_optimizer_rationale(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = scenario
    assert repo.log()[1].body == "Simplify the solver."


def test_trainer_prompts_show_the_failure_record_until_acceptance(scenario) -> None:  # type: ignore[no-untyped-def]
    _, script, _, _ = scenario
    records = [section(p.question, "Failure record") for p in script.prompts]
    assert len(records) == 5
    assert "## Failed set" not in records[0] and "## Failed set" not in records[1]
    for record in records[2:]:
        assert "## Failed set 1: success rate 0.0000" in record
        assert "Changes from List A: revise solve_linear" in record
        assert "x = (c + b) / a" in record
    assert "## Failed set 2" not in records[-1]


def test_trainer_feeds_validation_rejections_back_in_the_next_request(scenario) -> None:  # type: ignore[no-untyped-def]
    _, script, summary, _ = scenario
    step3 = [r for r in script.requests if r.index > script.prompts[2].index and r.index < script.prompts[3].index]
    first, second = step3[0], step3[1]
    assert first.last["role"] == "tool" and first.last["content"].startswith("Rejected: function 'broken'")
    assert "line 1: syntax error" in first.last["content"]
    assert second.last["role"] == "tool" and "line 1: import of 'os' is not allowed" in second.last["content"]
    assert summary.history[3].status is StepStatus.UNCHANGED


def test_trainer_scenario_stops_early_with_the_accepted_best(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, summary, _ = scenario
    accepted = repo.log()[2]
    assert summary.stop is RunStop.PATIENCE and summary.steps == 5
    assert (summary.epochs, summary.rejected, summary.unchanged) == (1, 1, 3)
    assert summary.best_commit == accepted.sha and summary.best_tree == accepted.tree_hash
    assert (summary.initial_score, summary.best_score) == (0.25, 1.0)
    assert repo.best().sha == accepted.sha


def test_trainer_records_the_test_score_in_the_best_commit_note(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, summary, _ = scenario
    note = repo.note(summary.best_commit)
    assert note["test"]["split"] == "test" and note["test"]["accuracy"] == 1.0 and note["test"]["n"] == 4
    assert summary.test is not None and summary.test.accuracy == 1.0
    assert summary.test.functions == ("solve_linear",)


def test_trainer_writes_the_run_summary_json(scenario) -> None:  # type: ignore[no-untyped-def]
    repo, _, summary, _ = scenario
    path = Path(summary.path)
    assert path == repo.state_dir / "runs" / summary.run_id / "summary.json"
    assert '"stop": "patience"' in path.read_text()


def test_trainer_emits_a_well_ordered_event_stream(scenario) -> None:  # type: ignore[no-untyped-def]
    _, _, summary, events = scenario
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    steps = [e.record.step for e in events if isinstance(e, StepFinished)]
    assert steps == [0, 1, 2, 3, 4, 5]
    done = [e for e in events if isinstance(e, TaskDone) and e.step == 0]
    assert [e.done for e in done] == [1, 2, 3, 4]
    phases = [e.phase.value for e in events if isinstance(e, PhaseStarted) and e.step == 1]
    assert phases == ["optimize", "evaluate"]
    assert events[-1].summary == summary


def test_trainer_stops_after_exactly_patience_unchanged_steps(tmp_path: Path, llm_server: ScriptedLLM,
                                                               sandbox: Sandbox) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=3)))
        assert len(script.prompts) == 3
        assert (summary.stop, summary.steps, summary.unchanged) == (RunStop.PATIENCE, 3, 3)
        assert [h[1] for h in history(repo)] == ["initial"]


def test_trainer_stops_after_epochs_accepted_updates(tmp_path: Path, llm_server: ScriptedLLM,
                                                     sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(epochs=1)))
        assert (summary.stop, summary.steps, summary.epochs) == (RunStop.EPOCHS, 1, 1)


def test_trainer_stops_at_max_steps(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=2)))
        assert (summary.stop, summary.steps) == (RunStop.MAX_STEPS, 2)


@pytest.mark.parametrize(("accept", "statuses"), [("strict", ["initial", "accepted", "rejected", "rollback"]),
                                                  ("ties", ["initial", "accepted", "accepted"])])
def test_trainer_accept_ties_changes_the_outcome_on_a_tie(tmp_path: Path, llm_server: ScriptedLLM,
                                                          sandbox: Sandbox, accept: Literal["strict", "ties"],
                                                          statuses: list[str]) -> None:
    llm_server.policy = OptimizerScript(
        [[add_solve(), TERMINATE], [revise_call("solve_linear", SOLVE_EQUIVALENT, arguments=ARGS), TERMINATE],
         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=1, accept=accept)))
        assert [h[1] for h in history(repo)] == statuses
        assert repo.read("HEAD")["solve_linear"].code == (SOLVE if accept == "strict" else SOLVE_EQUIVALENT)
        assert summary.best_score == 1.0


def test_trainer_budget_stops_cleanly_without_a_test_evaluation(tmp_path: Path, llm_server: ScriptedLLM,
                                                                sandbox: Sandbox) -> None:
    script = OptimizerScript([[add_solve(), TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_tokens=1)))
        assert (summary.stop, summary.steps, summary.test) == (RunStop.BUDGET, 0, None)
        assert summary.tokens > 1 and script.prompts == []
        assert [h[1] for h in history(repo)] == ["initial"]


def _batch_run(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox, name: str, seed: int) -> list[list[str]]:
    steps = [[add_call(f"g{k}", f"def g{k}(x):\n    return x + {k}\n", arguments={"x": {"type": "number"}}),
              TERMINATE] for k in range(1, 5)]
    llm_server.policy = OptimizerScript(steps, agent=agent_policy)
    with init_repo(tmp_path / name) as repo:
        # early rejection off: a rejected trial's note then lists its whole batch, not the units seen
        config = TrainConfig(batch=2, seed=seed, max_steps=4, patience=10, early_reject=False)
        asyncio.run(train(repo, llm_server.base_url, sandbox, config, train_tasks=TRAIN6, test_tasks=()))
        trials = [v for v in reversed(repo.log()) if v.status in ("initial", "rejected", "accepted")]
        notes = [repo.note(v.sha) or {} for v in trials]
        return [[r["task_id"] for r in note["train"]["results"]] for note in notes]


def test_trainer_batch_mode_draws_different_seeded_batches_per_step(tmp_path: Path, llm_server: ScriptedLLM,
                                                                    sandbox: Sandbox) -> None:
    batches = _batch_run(tmp_path, llm_server, sandbox, "a", seed=7)
    assert all(len(b) == 2 for b in batches) and len(batches) == 5
    assert len({tuple(b) for b in batches[1:]}) > 1
    assert batches[0] == batches[1]  # the initial set is scored on step 1's batch


def test_trainer_batch_mode_is_reproducible_for_a_seed(tmp_path: Path, llm_server: ScriptedLLM,
                                                       sandbox: Sandbox) -> None:
    first = _batch_run(tmp_path, llm_server, sandbox, "a", seed=7)
    again = _batch_run(tmp_path, llm_server, sandbox, "b", seed=7)
    other = _batch_run(tmp_path, llm_server, sandbox, "c", seed=8)
    assert first == again and first != other


def test_trainer_restored_best_is_rescored_without_llm_requests(tmp_path: Path, llm_server: ScriptedLLM,
                                                                sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE], [revise_buggy(), TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(max_steps=2), test_tasks=()))
        assert repo.log()[0].status == "rollback"
        before = llm_server.count
        report = asyncio.run(_evaluate(repo.read("HEAD"), repo.state_dir / "eval-cache.sqlite",
                                       llm_server.base_url, sandbox))
        assert (llm_server.count - before, report.cached, report.accuracy) == (0, 4, 1.0)


async def _evaluate(function_set: FunctionSet, cache_path: Path, base_url: str, sandbox: Sandbox) -> Report:
    with EvalCache(cache_path) as cache:
        async with LLMClient(LLMConfig(model="agent-model", base_url=base_url, max_retries=0)) as client:
            return await evaluate(function_set, TRAIN, AgentConfig(max_turns=4), client=client, sandbox=sandbox,
                                  cache=cache)


def test_trainer_test_functions_used_keeps_only_functions_called_in_training(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    unused = add_call("double", "def double(x):\n    return 2 * x\n", arguments={"x": {"type": "number"}})
    llm_server.policy = OptimizerScript([[add_solve(), unused, TERMINATE], [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox,
                                    TrainConfig(patience=1, test_functions="used")))
        assert summary.best_functions == ("double", "solve_linear")
        assert summary.test is not None and summary.test.functions == ("solve_linear",)
        note = repo.note(summary.best_commit) or {}
        assert (note["test"]["policy"], note["test"]["functions"]) == ("used", ["solve_linear"])


def test_trainer_test_functions_used_keeps_a_function_called_only_from_run_python(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    unused = add_call("double", "def double(x):\n    return 2 * x\n", arguments={"x": {"type": "number"}})
    snippet_agent = tool_solver("run_python", lambda q: {"code": f"print(solve_linear(**{equation_args(q)}))"},
                                fallback="0")
    llm_server.policy = OptimizerScript([[add_solve(), unused, TERMINATE], [TERMINATE]], agent=snippet_agent)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox,
                                    TrainConfig(patience=1, test_functions="used")))
        assert summary.test is not None and summary.test.functions == ("solve_linear",)
        assert summary.test.accuracy == 1.0


def test_trainer_commits_nothing_when_the_provider_fails_during_evaluation(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE]], agent=agent_policy)
    llm_server.set_faults(lambda req: Fault.SERVER_ERROR
                          if not is_optimizer_request(req) and req.offered("solve_linear") else None)
    with init_repo(tmp_path / "t") as repo:
        with pytest.raises(TrainingError, match="4 of 4 tasks failed at the provider"):
            asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig()))
        assert [h[1] for h in history(repo)] == ["initial"]
