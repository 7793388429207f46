"""Both agents end to end: real HTTP to the scripted server, tools run in the real sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fnforge.agents import (
    AgentConfig,
    ErrorStep,
    LLMClient,
    LLMConfig,
    LLMRejected,
    ModelStep,
    StopReason,
    Trajectory,
    solve,
    stream,
)
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import ANSWER_INSTRUCTION
from tests.agents.conftest import linear_args, linear_task, make_function
from tests.llm_server import (
    Fault,
    Request,
    ScriptedLLM,
    react_solver,
    reply_error,
    reply_text,
    reply_tool_call,
    reply_tool_calls,
    scripted_turns,
    tool_solver,
)

pytestmark = pytest.mark.anyio

Make = Callable[..., LLMConfig]
TOOL, REACT = AgentConfig(kind="tool"), AgentConfig(kind="react")
TRIO = FunctionSet((
    make_function("double", {"x": "number"}, "return 2 * x"),
    make_function("negate", {"x": "number"}, "return -x"),
    make_function("triple", {"x": "number"}, "return 3 * x"),
))


async def run(config: LLMConfig, agent: AgentConfig, fs: FunctionSet, sandbox: Sandbox, *,
              task: Any = None, rollout: int = 0) -> Trajectory:
    async with LLMClient(config) as client:
        return await solve(agent, fs, task or linear_task(2, 4), sandbox, client, rollout=rollout)


def results(traj: Trajectory) -> list[tuple[str, str | None]]:
    return [(s.name, s.result) for s in traj.tool_steps]


# ------------------------------------------------------------------ solving end to end


async def test_tool_agent_does_answer_with_learned_function_output(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    traj = await run(make_config(), TOOL, solver_set, sandbox, task=linear_task(4, 10))
    assert traj.stop is StopReason.ANSWER and traj.answer == "-2.5" == linear_task(4, 10).answer
    assert results(traj) == [("solve_linear", "-2.5")]
    assert llm_server.requests[1].tool_results() == ["-2.5"]
    assert traj.function_calls() == {"solve_linear": 1} and traj.turns == 2


async def test_react_agent_does_answer_with_learned_function_output(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = react_solver("solve_linear", linear_args)
    traj = await run(make_config(), REACT, solver_set, sandbox, task=linear_task(4, 10))
    assert traj.stop is StopReason.ANSWER and traj.answer == "-2.5"
    assert results(traj) == [("solve_linear", "-2.5")]
    assert llm_server.requests[1].observation() == "-2.5"
    assert "tools" not in llm_server.requests[0].body


@pytest.mark.parametrize("agent", [TOOL, REACT], ids=["tool", "react"])
async def test_agent_does_fall_back_without_needed_function(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox, agent: AgentConfig) -> None:
    solver = tool_solver if agent.kind == "tool" else react_solver
    llm_server.policy = solver("solve_linear", linear_args)
    traj = await run(make_config(), agent, FunctionSet(), sandbox)
    assert traj.answer == "unknown" and traj.tool_steps == ()


@pytest.mark.parametrize("agent", [TOOL, REACT], ids=["tool", "react"])
async def test_agent_prompt_does_ask_for_boxed_answer(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox,
        agent: AgentConfig) -> None:
    await run(make_config(), agent, solver_set, sandbox)
    assert ANSWER_INSTRUCTION in llm_server.requests[0].system and "\\boxed{" in ANSWER_INSTRUCTION


async def test_tool_agent_does_run_python_with_functions_in_scope(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("run_python", lambda q: {"code": "print(solve_linear(5, 15))"})
    traj = await run(make_config(), TOOL, solver_set, sandbox)
    assert results(traj) == [("run_python", "-3.0")] and traj.answer == "-3.0"


async def test_tool_agent_does_accept_bare_code_for_run_python(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("run_python", lambda q: "print(solve_linear(1, -7))")
    traj = await run(make_config(), TOOL, solver_set, sandbox)
    assert results(traj) == [("run_python", "7.0")]


# ------------------------------------------------------------------ reference-implementation defects


async def test_tool_agent_does_run_each_function_by_its_own_code(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    """Late-binding regression: every name ran the last function's code in AutoGen."""
    llm_server.policy = scripted_turns([
        reply_tool_calls([("double", {"x": 3}), ("negate", {"x": 3}), ("triple", {"x": 3})]),
        reply_text("\\boxed{done}"),
    ])
    traj = await run(make_config(), TOOL, TRIO, sandbox)
    assert results(traj) == [("double", "6"), ("negate", "-3"), ("triple", "9")]


async def test_react_agent_does_run_each_function_by_its_own_code(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    llm_server.policy = scripted_turns([f"Action: {name}\nAction Input: {{\"x\": 3}}"
                                        for name in ("double", "negate", "triple")] + ["Final Answer: 1"])
    traj = await run(make_config(), REACT, TRIO, sandbox)
    assert results(traj) == [("double", "6"), ("negate", "-3"), ("triple", "9")]


@pytest.mark.parametrize("agent", [TOOL, REACT], ids=["tool", "react"])
async def test_agent_does_not_offer_or_run_removed_function(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox, agent: AgentConfig) -> None:
    call = (reply_tool_call("negate", {"x": 3}) if agent.kind == "tool"
            else 'Action: negate\nAction Input: {"x": 3}')
    llm_server.policy = scripted_turns([call, "Final Answer: \\boxed{1}"])
    traj = await run(make_config(), agent, TRIO.remove("negate"), sandbox)
    first = llm_server.requests[0]
    assert not first.offered("negate") and first.offered("double")
    [step] = traj.tool_steps
    assert step.name == "negate" and step.result is None and step.error_kind == "unknown_function"
    assert "unknown tool 'negate'" in (step.error or "") and "double" in (step.error or "")
    assert traj.stop is StopReason.ANSWER


# ------------------------------------------------------------------ model-caused faults


@pytest.mark.parametrize("agent", [TOOL, REACT], ids=["tool", "react"])
async def test_agent_does_return_malformed_arguments_as_error_observation(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox,
        agent: AgentConfig) -> None:
    call = (reply_tool_call("solve_linear", '{"a": 2, "b":') if agent.kind == "tool"
            else 'Action: solve_linear\nAction Input: {"a": 2, "b":')
    llm_server.policy = scripted_turns([call, "Final Answer: \\boxed{?}"])
    traj = await run(make_config(), agent, solver_set, sandbox)
    [step] = traj.tool_steps
    assert step.error_kind == "bad_arguments" and step.arguments.endswith('"b":')
    shown = json.dumps(llm_server.requests[1].messages[-1])
    assert "Error (bad_arguments)" in shown
    assert traj.stop is StopReason.ANSWER


async def test_tool_agent_does_survive_injected_malformed_arguments(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    llm_server.set_faults({0: Fault.MALFORMED_ARGS})
    traj = await run(make_config(), TOOL, solver_set, sandbox)
    assert traj.tool_steps[0].error_kind == "bad_arguments"
    assert "JSON ends before it is complete" in llm_server.requests[1].tool_results()[0]


async def test_tool_agent_does_decode_double_encoded_arguments(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    llm_server.set_faults({0: Fault.DOUBLE_ENCODED})
    traj = await run(make_config(), TOOL, solver_set, sandbox)
    assert results(traj) == [("solve_linear", "-2.0")] and traj.answer == "-2.0"


async def test_tool_agent_does_return_function_exception_as_error(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = scripted_turns([reply_tool_call("solve_linear", {"a": 0, "b": 1}), "\\boxed{none}"])
    traj = await run(make_config(), TOOL, solver_set, sandbox)
    [step] = traj.tool_steps
    assert step.error_kind == "function_error" and "ZeroDivisionError" in (step.error or "")
    assert "ZeroDivisionError" in llm_server.requests[1].tool_results()[0]


async def test_react_agent_does_answer_unparseable_reply_with_format_notice(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = scripted_turns(["I believe it is minus two.", "Final Answer: \\boxed{-2}"])
    traj = await run(make_config(), REACT, solver_set, sandbox)
    assert [type(s).__name__ for s in traj.steps] == ["ModelStep", "ErrorStep", "ModelStep", "AnswerStep"]
    assert isinstance(traj.steps[1], ErrorStep) and traj.steps[1].error_kind == "format"
    assert (llm_server.requests[1].observation() or "").startswith("Error: your reply has no 'Action:'")
    assert traj.answer == "-2"


# ------------------------------------------------------------------ stopping


async def test_agent_does_stop_after_max_turns(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = lambda req: reply_tool_call("solve_linear", {"a": 1, "b": 1})
    traj = await run(make_config(), AgentConfig(max_turns=3), solver_set, sandbox)
    assert (traj.stop, traj.turns, traj.answer, llm_server.count) == (StopReason.MAX_TURNS, 3, None, 3)


async def test_agent_does_stop_when_token_budget_spent(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = lambda req: reply_tool_call("solve_linear", {"a": 1, "b": 1})
    traj = await run(make_config(), AgentConfig(token_budget=50), solver_set, sandbox)
    assert traj.stop is StopReason.BUDGET and traj.turns == 1 and traj.usage.total_tokens > 50


async def test_solve_does_record_provider_failure_in_trajectory(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.set_faults(lambda req: Fault.SERVER_ERROR)
    traj = await run(make_config(max_retries=1), TOOL, solver_set, sandbox)
    assert (traj.stop, traj.failures, traj.retries, traj.answer) == (StopReason.ERROR, 1, 1, None)
    assert "HTTP 500" in (traj.error or "")


async def test_solve_rejects_refused_request(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = lambda req: reply_error(401, "Incorrect API key provided")
    with pytest.raises(LLMRejected, match="Incorrect API key"):
        await run(make_config(), TOOL, solver_set, sandbox)


async def test_stream_does_yield_steps_as_they_happen(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    async with LLMClient(make_config()) as client:
        kinds = [step.kind async for step in stream(TOOL, solver_set, linear_task(2, 4), sandbox, client)]
    assert kinds == ["model", "tool", "model", "answer"]


# ------------------------------------------------------------------ batches, faults, cache


async def solve_batch(config: LLMConfig, agent: AgentConfig, fs: FunctionSet, sandbox: Sandbox,
                      n: int) -> tuple[list[Trajectory], Any]:
    tasks = [linear_task(i % 7 + 1, 3 * i, index=i) for i in range(n)]
    async with LLMClient(config) as client:
        trajs = await asyncio.gather(*(solve(agent, fs, t, sandbox, client) for t in tasks))
        return list(trajs), client.stats


@pytest.mark.parametrize("agent", [TOOL, REACT], ids=["tool", "react"])
async def test_batch_does_complete_despite_20_percent_faults(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox,
        agent: AgentConfig) -> None:
    solver = tool_solver if agent.kind == "tool" else react_solver
    llm_server.policy = solver("solve_linear", linear_args)
    llm_server.set_faults(rate=0.2, kinds=(Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.TIMEOUT), seed=1)
    trajs, stats = await solve_batch(make_config(timeout_s=0.5, max_retries=6), agent, solver_set, sandbox, 50)
    assert [t.answer for t in trajs] == [linear_task(i % 7 + 1, 3 * i).answer for i in range(50)]
    faulted = sum(r.fault is not None for r in llm_server.requests)
    # every fault costs one retry (a slow machine may add timeouts of its own)
    assert 0 < faulted <= sum(t.retries for t in trajs) == stats.retries
    assert sum(t.failures for t in trajs) == stats.failures == 0


async def test_batch_does_count_final_failures(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    llm_server.set_faults(rate=0.3, kinds=(Fault.RATE_LIMIT, Fault.SERVER_ERROR), seed=2)
    trajs, stats = await solve_batch(make_config(max_retries=0), TOOL, solver_set, sandbox, 30)
    errors = [t for t in trajs if t.stop is StopReason.ERROR]
    assert errors and sum(t.failures for t in trajs) == stats.failures == len(errors)
    assert all(t.answer == linear_task(int(t.task_id[4:]) % 7 + 1, 3 * int(t.task_id[4:])).answer
               for t in trajs if t.stop is StopReason.ANSWER)


async def test_agent_rerun_does_make_no_requests_with_cache(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox,
        tmp_path: Path) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    config = make_config(cache_path=tmp_path / "llm-cache.sqlite")
    first = await run(config, TOOL, solver_set, sandbox)
    llm_server.reset()
    again = await run(config, TOOL, solver_set, sandbox)
    assert llm_server.count == 0
    assert again.answer == first.answer and all(s.cached for s in again.steps if isinstance(s, ModelStep))
    other = await run(config, TOOL, solver_set, sandbox, rollout=1)
    assert llm_server.count == 2 and other.rollout == 1


async def test_tool_agent_does_solve_in_json_mode(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    def policy(req: Request) -> str:
        last = req.messages[-1]["content"]
        if last.startswith("Result of solve_linear:"):
            return json.dumps({"answer": f"\\boxed{{{last.split(':', 1)[1].strip()}}}"})
        return json.dumps({"tool": "solve_linear", "arguments": linear_args(req.question)})

    llm_server.policy = policy
    traj = await run(make_config(tools_mode="json"), TOOL, solver_set, sandbox, task=linear_task(4, 10))
    assert traj.answer == "-2.5" and results(traj) == [("solve_linear", "-2.5")]
    assert all("tools" not in r.body for r in llm_server.requests)


def test_agent_config_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        AgentConfig(kind="chain")  # type: ignore[arg-type]


def test_agent_config_does_serialise_for_cache_keys() -> None:
    assert AgentConfig(kind="react", max_turns=4).to_dict() == {
        "kind": "react", "max_turns": 4, "system_prompt": None, "run_python": True,
        "max_observation_chars": 4000, "token_budget": None}
