"""A conversation that outgrows the model's context: recognised in every provider's words, cut, retried once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig, LLMContextExceeded, LLMRejected, StopReason, solve
from fnforge.agents._client import _context_exceeded
from fnforge.agents._cut import cut_conversation
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from tests.agents.conftest import linear_task
from tests.llm_server import Request, ScriptedLLM, reply_error, reply_text, reply_tool_call

pytestmark = pytest.mark.anyio

Make = Callable[..., LLMConfig]

# (status, message) as providers send them; the scripted server wraps each in {"error": {"message": ...}}.
CONTEXT_REFUSALS = [
    (400, "This model's maximum context length is 8192 tokens. However, your messages resulted in 9120 tokens. "
          "Please reduce the length of the messages."),  # OpenAI, Azure
    (400, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4488 in the "
          "messages, 512 in the completion). Please reduce the length of the messages or completion."),  # vLLM
    (400, "The decoder prompt (length 9000) is longer than the maximum model length of 8192."),  # vLLM, newer
    (400, "the request exceeds the available context size, try increasing it"),  # llama.cpp server
    (500, "the request exceeds the available context size. try increasing the context size or enable context "
          "shift"),  # llama.cpp server, older builds
    (500, "the input length exceeds the context length"),  # Ollama
    (400, "Trying to keep the first 111490 tokens when context the overflows. However, the model is loaded with "
          "context length of only 32768 tokens, which is not enough."),  # LM Studio
    (400, "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."),  # Gemini
    (400, "prompt is too long: 210000 tokens > 200000 maximum"),  # Anthropic's OpenAI-compatible endpoint
    (413, "Request Entity Too Large"),  # a proxy's size cap
]


@pytest.mark.parametrize(("status", "message"), CONTEXT_REFUSALS,
                         ids=[f"{s}-{m[:24]}" for s, m in CONTEXT_REFUSALS])
async def test_client_does_recognise_a_context_refusal(llm_server: ScriptedLLM, make_config: Make, status: int,
                                                       message: str) -> None:
    llm_server.policy = lambda req: reply_error(status, message)
    async with LLMClient(make_config()) as client:
        with pytest.raises(LLMContextExceeded) as caught:
            await client.complete([{"role": "user", "content": "hi"}])
    assert caught.value.status == status and llm_server.count == 1  # never retried as it is


@pytest.mark.parametrize(("code", "kind"), [("context_length_exceeded", "invalid_request_error"),
                                            (None, "exceed_context_size_error"),
                                            ("string_above_max_length", "invalid_request_error")])
def test_client_does_recognise_a_context_refusal_by_its_code(code: str | None, kind: str) -> None:
    body = {"error": {"message": "too long", "type": kind, "code": code}}
    assert _context_exceeded(400, body, "too long")
    assert not _context_exceeded(400, {"error": {"message": "too long", "type": "invalid_request_error"}}, "bad")


@pytest.mark.parametrize(("status", "message"), [(400, "Invalid value for 'tool_choice'"),
                                                 (422, "policy error: ZeroDivisionError"),
                                                 (400, "max_tokens must be at least 1")])
async def test_client_does_not_take_other_refusals_for_context(llm_server: ScriptedLLM, make_config: Make,
                                                               status: int, message: str) -> None:
    llm_server.policy = lambda req: reply_error(status, message)
    async with LLMClient(make_config(tools_mode="native")) as client:
        with pytest.raises(LLMRejected) as caught:
            await client.complete([{"role": "user", "content": "hi"}])
    assert not isinstance(caught.value, LLMContextExceeded)


def test_cut_conversation_does_cut_older_tool_results_and_keep_the_task_and_last_turn() -> None:
    big = "x" * 5000
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You solve tasks."},
        {"role": "user", "content": "The task " + big},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "type": "function",
                                                               "function": {"name": "run_python", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": big},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "b", "type": "function",
                                                               "function": {"name": "run_python", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "b", "content": "last " + big},
    ]
    cut = cut_conversation(messages)
    assert cut is not None
    assert cut[:3] == messages[:3] and cut[4:] == messages[4:]
    assert cut[3] == {"role": "tool", "tool_call_id": "a",
                      "content": "[cut to fit the model's context window: 5000 characters of output]"}


def test_cut_conversation_does_shorten_the_last_results_when_there_are_no_older_ones() -> None:
    messages = [{"role": "user", "content": "task"},
                {"role": "assistant", "content": "Thought: run it\nAction: run_python"},
                {"role": "user", "content": "Observation: " + "y" * 4000}]
    cut = cut_conversation(messages)
    assert cut is not None and cut[:2] == messages[:2]
    assert len(cut[2]["content"]) == 1003 and "chars cut" in cut[2]["content"]


def test_cut_conversation_does_give_none_when_nothing_can_be_cut() -> None:
    assert cut_conversation([{"role": "system", "content": "s"}, {"role": "user", "content": "q" * 10_000}]) is None


def _long_output_then(after: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Turn 0 prints a long output with run_python; later turns go to ``after``."""

    def policy(req: Request) -> Any:
        if req.turn == 0:
            return reply_tool_call("run_python", {"code": "print('z' * 3000)"})
        return after(req)

    return policy


async def _solve(config: LLMConfig, sandbox: Sandbox) -> Any:
    async with LLMClient(config) as client:
        return await solve(AgentConfig(kind="tool"), FunctionSet(), linear_task(2, 4), sandbox, client)


async def test_solve_does_cut_and_retry_once_a_conversation_refused_as_too_long(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    refusals = 0

    def after(req: Request) -> Any:
        nonlocal refusals
        if "z" * 3000 in json.dumps(req.messages):
            refusals += 1
            return reply_error(400, "This model's maximum context length is 4096 tokens.")
        return reply_text(r"The answer is \boxed{-2}.")

    llm_server.policy = _long_output_then(after)
    traj = await _solve(make_config(), sandbox)
    assert (traj.stop, traj.answer, refusals, llm_server.count) == (StopReason.ANSWER, "-2", 1, 3)
    assert "chars cut" in llm_server.requests[-1].tool_results()[0]
    assert traj.failures == 1 and traj.turns == 2


async def test_solve_does_record_context_when_the_cut_conversation_is_refused_again(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    llm_server.policy = _long_output_then(
        lambda req: reply_error(400, "This model's maximum context length is 4096 tokens."))
    traj = await _solve(make_config(), sandbox)
    assert traj.stop is StopReason.CONTEXT and "maximum context length" in (traj.error or "")
    assert llm_server.count == 3  # the first turn, the refused turn, its one retry


async def test_solve_does_record_context_at_once_when_nothing_can_be_cut(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    llm_server.policy = lambda req: reply_error(413, "Request Entity Too Large")
    traj = await _solve(make_config(), sandbox)
    assert (traj.stop, llm_server.count, traj.turns) == (StopReason.CONTEXT, 1, 1)


async def test_context_trajectory_does_round_trip_through_json(llm_server: ScriptedLLM, make_config: Make,
                                                             sandbox: Sandbox, tmp_path: Path) -> None:
    llm_server.policy = lambda req: reply_error(413, "Request Entity Too Large")
    traj = await _solve(make_config(), sandbox)
    assert type(traj).from_dict(json.loads(json.dumps(traj.to_dict()))) == traj
