"""Both agents against every recorded reply shape (tests/llm_server/fixtures/replies).

Each fixture's first reply is sent verbatim by the scripted server through the
real client; afterwards a well-behaved model takes over. The scenario: solve
``3*x + 6 = 0`` with ``solve_linear(a, b, exact=False)`` or ``run_python``.
Whatever the first reply, the run must end with the right answer, and the
fixture's expectation says how: its call was recovered, or the model was told
precisely what was wrong, or it was the answer itself (thinking ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from fnforge.agents import AgentConfig, ErrorStep, LLMClient, LLMConfig, ModelStep, StopReason, ToolStep, Trajectory, solve
from fnforge.functions import Function, FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import Task
from tests.llm_server import REPLY_FIXTURES, ReplyFixture, Request, ScriptedLLM, first_then, reply_raw, reply_text, reply_tool_call

pytestmark = pytest.mark.anyio

Make = Callable[..., LLMConfig]

SOLVER = FunctionSet((Function(
    name="solve_linear",
    description="Solve a*x + b = 0 for x.",
    parameters={"type": "object", "required": ["a", "b"], "properties": {
        "a": {"type": "number", "description": "coefficient of x"},
        "b": {"type": "number", "description": "constant term"},
        "exact": {"type": "boolean", "description": "return the root as an exact fraction"}}},
    packages=("fractions",),
    code=("from fractions import Fraction\n\n\n"
          "def solve_linear(a, b, exact=False):\n"
          "    \"\"\"Solve a*x + b = 0 for x.\"\"\"\n"
          "    return str(Fraction(-b) / Fraction(a)) if exact else -b / a\n"),
),))
TASK = Task(id="lin", question="Solve 3*x + 6 = 0 for x.", answer="-2", domain="test:linear")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def cases(consumer: str) -> list[Any]:
    return [pytest.param(f, id=f.name) for f in REPLY_FIXTURES if consumer in f.replies]


def since_last_reply(req: Request) -> list[dict[str, Any]]:
    """The messages after the last assistant message."""
    out: list[dict[str, Any]] = []
    for message in reversed(req.messages):
        if message.get("role") == "assistant":
            break
        out.insert(0, message)
    return out


def tool_continuation(req: Request) -> Any:
    """A well-behaved tool agent: answer from a good tool result, else call the solver."""
    results = [str(m.get("content")) for m in since_last_reply(req) if m.get("role") == "tool"]
    good = [NUMBER.search(r) for r in results if not r.startswith("Error")]
    if good and good[-1] is not None:
        return reply_text(f"The answer is \\boxed{{{good[-1].group(0)}}}.")
    return reply_tool_call("solve_linear", {"a": 3, "b": 6}, call_id="call_fix")


def react_continuation(req: Request) -> str:
    """A well-behaved ReAct agent: answer from a good observation, else act."""
    obs = req.observation()
    number = NUMBER.search(obs) if obs is not None and not obs.startswith("Error") else None
    if number is not None:
        return f"Thought: I have the result.\nFinal Answer: \\boxed{{{number.group(0)}}}"
    return 'Thought: I will use the solver.\nAction: solve_linear\nAction Input: {"a": 3, "b": 6}'


async def replay(server: ScriptedLLM, config: LLMConfig, sandbox: Sandbox, fixture: ReplyFixture,
                 kind: str) -> tuple[Trajectory, LLMClient]:
    then = tool_continuation if kind == "tool" else react_continuation
    server.policy = first_then(reply_raw(fixture.replies[kind]), then)
    async with LLMClient(config) as client:
        traj = await solve(AgentConfig(kind=kind, max_turns=6), SOLVER, TASK, sandbox, client)  # type: ignore[arg-type]
    assert server.policy_errors == []
    return traj, client


def first_turn(traj: Trajectory) -> list[Any]:
    return [s for s in traj.steps if s.turn == 0 and not isinstance(s, ModelStep)]


def told(server: ScriptedLLM, text: str) -> bool:
    """The model was shown ``text`` in a later request."""
    return any(text in str(m.get("content")) for req in server.requests[1:] for m in since_last_reply(req))


def check(traj: Trajectory, client: LLMClient, server: ScriptedLLM, fixture: ReplyFixture, kind: str) -> None:
    expect = fixture.expect[kind]
    steps = first_turn(traj)
    assert traj.stop is StopReason.ANSWER, traj.error
    if expect.outcome == "refused":
        assert traj.final_text == expect.says and traj.turns == 1
        return
    assert traj.answer is not None and float(traj.answer) == -2.0, traj.answer
    if expect.outcome == "recovered":
        tools = [s for s in steps if isinstance(s, ToolStep)]
        assert len(tools) == expect.calls and all(s.ok for s in tools), steps
        assert not expect.says or told(server, expect.says)
    elif expect.outcome == "answered":
        shown = [s.message if isinstance(s, ErrorStep) else s.error for s in steps]
        assert any(expect.says in (m or "") for m in shown), shown
        assert told(server, expect.says)
    elif expect.outcome == "answer":
        assert traj.turns == 1 and [type(s).__name__ for s in steps] == ["AnswerStep"]
    else:
        assert expect.outcome == "retried" and client.stats.retries >= 1


@pytest.mark.parametrize("fixture", cases("tool"))
async def test_tool_agent_does_handle_recorded_reply(llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox,
                                                     fixture: ReplyFixture) -> None:
    traj, client = await replay(llm_server, make_config(), sandbox, fixture, "tool")
    check(traj, client, llm_server, fixture, "tool")


@pytest.mark.parametrize("fixture", cases("react"))
async def test_react_agent_does_handle_recorded_reply(llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox,
                                                      fixture: ReplyFixture) -> None:
    traj, client = await replay(llm_server, make_config(), sandbox, fixture, "react")
    check(traj, client, llm_server, fixture, "react")


async def test_agents_do_keep_thinking_out_of_the_conversation(llm_server: ScriptedLLM, make_config: Make,
                                                               sandbox: Sandbox) -> None:
    fixture = next(f for f in REPLY_FIXTURES if f.name == "think_block_in_content")
    traj, _ = await replay(llm_server, make_config(), sandbox, fixture, "react")
    sent = [str(m.get("content")) for m in llm_server.requests[-1].messages if m.get("role") == "assistant"]
    model_steps = [s for s in traj.steps if isinstance(s, ModelStep)]
    assert sent and not any("<think>" in s or "999" in s for s in sent)
    assert model_steps[0].reasoning is not None and "999" in model_steps[0].reasoning


async def test_client_does_count_replies_without_usage(llm_server: ScriptedLLM, make_config: Make,
                                                       sandbox: Sandbox) -> None:
    fixture = next(f for f in REPLY_FIXTURES if f.name == "usage_missing")
    _, client = await replay(llm_server, make_config(), sandbox, fixture, "tool")
    assert client.stats.unmetered == 1 and client.stats.requests == 2


def test_reply_fixtures_do_name_their_sources_and_cover_the_issue() -> None:
    names = {f.name for f in REPLY_FIXTURES}
    required = {"code_fence_python_tag", "code_fence_no_tag", "code_fence_with_prose", "args_single_quotes",
                "args_python_literals", "args_trailing_comma", "args_double_encoded", "hermes_tool_call_in_content",
                "mistral_tool_calls_in_content", "bare_json_call_in_content", "several_native_calls",
                "args_cut_at_length", "tool_call_id_missing", "tool_call_ids_repeated", "reasoning_content_field",
                "think_block_in_content", "think_unclosed_at_length", "refusal", "empty_choices", "usage_missing"}
    assert required <= names
    assert all(f.sources and all(s.strip() for s in f.sources) for f in REPLY_FIXTURES)
