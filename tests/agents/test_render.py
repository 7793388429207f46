"""Messages are rendered from the trajectory: a run's trajectory replays into exactly what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig, StopReason, Trajectory, render_messages, solve
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from tests.agents.conftest import linear_args, linear_task
from tests.llm_server import Request, ScriptedLLM, reply_error, reply_text, reply_tool_call, tool_solver

pytestmark = pytest.mark.anyio

Make = Callable[..., LLMConfig]
TOO_LONG = "This model's maximum context length is 4096 tokens."


async def _run(config: LLMConfig, kind: str, function_set: FunctionSet, sandbox: Sandbox) -> Trajectory:
    async with LLMClient(config) as client:
        return await solve(AgentConfig(kind=kind, max_turns=6), function_set, linear_task(2, 4), sandbox, client)


def _replays(traj: Trajectory, server: ScriptedLLM) -> None:
    """The last request's messages, then the last reply, are what the trajectory renders; and so is its
    JSON form read back."""
    sent = server.requests[-1].messages
    rendered = render_messages(traj)
    assert rendered[:-1] == sent and rendered[-1]["role"] == "assistant"
    back = Trajectory.from_dict(json.loads(json.dumps(traj.to_dict())))
    assert render_messages(back) == rendered


async def test_trajectory_does_replay_into_the_messages_a_tool_agent_sent(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("solve_linear", linear_args)
    traj = await _run(make_config(), "tool", solver_set, sandbox)
    assert traj.stop is StopReason.ANSWER and llm_server.count == 2
    _replays(traj, llm_server)
    assert render_messages(traj)[-1] == {"role": "assistant", "content": traj.final_text}


async def test_trajectory_does_replay_format_errors_and_failed_calls_of_a_tool_agent(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    replies = [reply_tool_call("nope", {"x": 1}), reply_tool_call("solve_linear", '{"a": 2, "b":'),
               reply_text(""), reply_tool_call("solve_linear", {"a": 2, "b": 4}), reply_text(r"\boxed{-2}")]
    llm_server.policy = lambda req: replies[req.index]
    traj = await _run(make_config(), "tool", solver_set, sandbox)
    assert traj.answer == "-2" and llm_server.count == 5
    _replays(traj, llm_server)


async def test_trajectory_does_replay_into_the_messages_a_react_agent_sent(
        llm_server: ScriptedLLM, make_config: Make, solver_set: FunctionSet, sandbox: Sandbox) -> None:
    replies = ["I think so.",  # no Action line: an error observation
               'Thought: go\nAction: solve_linear\nAction Input: {"a": 2, "b": 4}\nObservation: -7',  # own observation
               "Thought: done\nFinal Answer: \\boxed{-2}"]
    llm_server.policy = lambda req: replies[req.index]
    traj = await _run(make_config(), "react", solver_set, sandbox)
    assert traj.answer == "-2" and llm_server.count == 3
    _replays(traj, llm_server)
    observation = render_messages(traj)[-2]["content"]
    assert observation.startswith("Observation: -2") and "ignored" in observation  # the parser's notice


async def test_trajectory_does_replay_a_conversation_cut_to_fit_the_context(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    def policy(req: Request) -> Any:
        if req.turn == 0:
            return reply_tool_call("run_python", {"code": "print('z' * 3000)"})
        if req.turn == 1:
            return reply_tool_call("run_python", {"code": "print('y' * 3000)"})
        if "z" * 3000 in json.dumps(req.messages):
            return reply_error(400, TOO_LONG)
        return reply_text(r"The answer is \boxed{-2}.")

    llm_server.policy = policy
    traj = await _run(make_config(), "tool", FunctionSet(), sandbox)
    assert traj.answer == "-2" and traj.cuts == (2,)
    _replays(traj, llm_server)
    assert "z" * 3000 not in json.dumps(render_messages(traj))


async def test_trajectory_does_replay_the_cut_request_refused_again(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    llm_server.policy = lambda req: (reply_tool_call("run_python", {"code": "print('z' * 3000)"}) if req.turn == 0
                                     else reply_error(400, TOO_LONG))
    traj = await _run(make_config(), "tool", FunctionSet(), sandbox)
    assert traj.stop is StopReason.CONTEXT and traj.cuts == (1,)
    assert render_messages(traj) == llm_server.requests[-1].messages  # no reply came: what was sent last
