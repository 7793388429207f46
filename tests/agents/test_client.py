"""LLMClient against the scripted server: retries, errors, cache, concurrency, JSON mode."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fnforge.agents import (
    AgentError,
    LLMCacheError,
    LLMClient,
    LLMConfig,
    LLMRejected,
    LLMUnavailable,
    Usage,
)
from tests.llm_server import Fault, InFlight, Reply, Request, ScriptedLLM, reply_error, reply_text, reply_tool_call

pytestmark = pytest.mark.anyio

Make = Callable[..., LLMConfig]
USER: list[dict[str, Any]] = [{"role": "user", "content": "What is 2+2?"}]
TOOLS = [{"type": "function", "function": {"name": "add", "description": "Add two numbers.", "parameters": {
    "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}]


async def test_complete_does_return_content_usage_and_cost(llm_server: ScriptedLLM, make_config: Make) -> None:
    llm_server.policy = lambda req: reply_text("\\boxed{4}")
    config = make_config(prices={"scripted-model": (2.0, 8.0)})
    async with LLMClient(config) as client:
        reply = await client.complete(USER)
    assert reply.content == "\\boxed{4}" and reply.tool_calls == () and not reply.cached
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.cost_usd == pytest.approx((reply.usage.prompt_tokens * 2 + reply.usage.completion_tokens * 8) / 1e6)
    assert client.stats.cost_usd == pytest.approx(reply.cost_usd)


async def test_complete_does_send_model_sampling_and_tools(llm_server: ScriptedLLM, make_config: Make) -> None:
    async with LLMClient(make_config(seed=3, max_tokens=50, temperature=0.5)) as client:
        await client.complete(USER, TOOLS)
    body = llm_server.requests[0].body
    assert (body["model"], body["seed"], body["max_tokens"], body["temperature"]) == ("scripted-model", 3, 50, 0.5)
    assert body["tools"] == TOOLS and body["messages"] == USER


async def test_complete_does_keep_raw_tool_call_arguments(llm_server: ScriptedLLM, make_config: Make) -> None:
    llm_server.policy = lambda req: reply_tool_call("add", '{"a": 1, "b":', call_id="c9")
    async with LLMClient(make_config()) as client:
        reply = await client.complete(USER, TOOLS)
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("c9", "add", '{"a": 1, "b":')]
    assert reply.to_message()["tool_calls"][0]["function"]["arguments"] == '{"a": 1, "b":'


@pytest.mark.parametrize("fault", [Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.DROP, Fault.TIMEOUT])
async def test_complete_does_retry_transient_failures(llm_server: ScriptedLLM, make_config: Make,
                                                      fault: Fault) -> None:
    llm_server.set_faults([fault, fault])
    async with LLMClient(make_config(timeout_s=0.3)) as client:
        reply = await client.complete(USER)
    assert reply.content == "OK" and reply.retries == 2
    assert llm_server.count == 3
    assert (client.stats.requests, client.stats.retries, client.stats.failures) == (3, 2, 0)


async def test_complete_does_honour_retry_after(llm_server: ScriptedLLM, make_config: Make) -> None:
    llm_server.set_faults([Fault.RATE_LIMIT])
    llm_server._state.retry_after_s = 0.4  # advertised delay, far above the 5 ms backoff
    async with LLMClient(make_config()) as client:
        started = time.perf_counter()
        await client.complete(USER)
    assert time.perf_counter() - started >= 0.4


async def test_complete_rejects_after_retries_with_unavailable(llm_server: ScriptedLLM, make_config: Make) -> None:
    llm_server.set_faults(lambda req: Fault.SERVER_ERROR)
    async with LLMClient(make_config(max_retries=2)) as client:
        with pytest.raises(LLMUnavailable, match=r"HTTP 500.*gave up after 3 attempts") as info:
            await client.complete(USER)
    assert (info.value.status, info.value.attempts, info.value.exit_code) == (500, 3, 5)
    assert (llm_server.count, client.stats.failures) == (3, 1)


@pytest.mark.parametrize("status", [401, 403, 404, 400])
async def test_complete_rejects_refused_request_without_retry(llm_server: ScriptedLLM, make_config: Make,
                                                              status: int) -> None:
    llm_server.policy = lambda req: reply_error(status, "invalid api key")
    async with LLMClient(make_config()) as client:
        with pytest.raises(LLMRejected, match=f"HTTP {status}: invalid api key") as info:
            await client.complete(USER)
    assert info.value.status == status and isinstance(info.value, AgentError)
    assert llm_server.count == 1


async def test_complete_does_retry_unreadable_reply(llm_server: ScriptedLLM, make_config: Make) -> None:
    # HTTP 299 with an error body: a success status, but no choices to read
    llm_server.policy = lambda req: Reply(status=299, error="no completion") if req.index == 0 else "fine"
    async with LLMClient(make_config()) as client:
        reply = await client.complete(USER)
    assert reply.content == "fine" and reply.retries == 1


async def test_client_does_bound_requests_in_flight(llm_server: ScriptedLLM, make_config: Make) -> None:
    policy = llm_server.policy = InFlight("ok")
    async with LLMClient(make_config(concurrency=3)) as client:
        await asyncio.gather(*(client.complete([{"role": "user", "content": str(i)}]) for i in range(12)))
    assert policy.peak == 3


async def test_cache_does_make_second_run_without_requests(llm_server: ScriptedLLM, make_config: Make,
                                                           tmp_path: Path) -> None:
    config = make_config(cache_path=tmp_path / "cache.sqlite")
    async with LLMClient(config) as client:
        first = await client.complete(USER, TOOLS)
    llm_server.reset()
    async with LLMClient(config) as client:
        second = await client.complete(USER, TOOLS)
        assert client.stats.cache_hits == 1 and client.stats.requests == 0
    assert llm_server.count == 0
    assert second.cached and second.content == first.content and second.usage == first.usage


async def test_cache_does_let_bypass_reach_server(llm_server: ScriptedLLM, make_config: Make, tmp_path: Path) -> None:
    async with LLMClient(make_config(cache_path=tmp_path / "c.sqlite")) as client:
        await client.complete(USER)
        again = await client.complete(USER, cache=False)
    assert llm_server.count == 2 and not again.cached


async def test_cache_does_keep_rollouts_apart(llm_server: ScriptedLLM, make_config: Make, tmp_path: Path) -> None:
    llm_server.policy = lambda req: reply_text(f"sample {req.index}")
    async with LLMClient(make_config(cache_path=tmp_path / "c.sqlite")) as client:
        a = await client.complete(USER, rollout=0)
        b = await client.complete(USER, rollout=1)
        a2 = await client.complete(USER, rollout=0)
    assert llm_server.count == 2
    assert (a.content, b.content, a2.content) == ("sample 0", "sample 1", "sample 0")


async def test_cache_does_key_on_sampling_parameters(llm_server: ScriptedLLM, make_config: Make,
                                                     tmp_path: Path) -> None:
    for temperature in (0.0, 0.7):
        async with LLMClient(make_config(cache_path=tmp_path / "c.sqlite", temperature=temperature)) as client:
            await client.complete(USER)
    assert llm_server.count == 2


async def test_cache_does_share_concurrent_identical_requests(llm_server: ScriptedLLM, make_config: Make,
                                                              tmp_path: Path) -> None:
    llm_server.latency_s = 0.1
    async with LLMClient(make_config(cache_path=tmp_path / "c.sqlite")) as client:
        replies = await asyncio.gather(*(client.complete(USER) for _ in range(5)))
    assert llm_server.count == 1
    assert sum(r.cached for r in replies) == 4


async def test_cache_rejects_unopenable_path_with_cache_error(make_config: Make, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a dir")
    with pytest.raises(LLMCacheError, match="cannot open the LLM cache"):
        async with LLMClient(make_config(cache_path=tmp_path / "file" / "c.sqlite")):
            pass


async def test_json_mode_does_describe_tools_and_parse_calls(llm_server: ScriptedLLM, make_config: Make) -> None:
    llm_server.policy = lambda req: reply_text('Sure.\n{"tool": "add", "arguments": {"a": 2, "b": 2}}')
    async with LLMClient(make_config(tools_mode="json")) as client:
        reply = await client.complete(USER, TOOLS)
    body = llm_server.requests[0].body
    assert "tools" not in body and '"tool": "<tool name>"' in body["messages"][0]["content"]
    assert "add: Add two numbers." in body["messages"][0]["content"]
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [("add", {"a": 2, "b": 2})]


async def test_json_mode_does_translate_tool_history_to_text(llm_server: ScriptedLLM, make_config: Make) -> None:
    llm_server.policy = lambda req: reply_text('{"answer": "\\\\boxed{4}"}')
    history: list[dict[str, Any]] = USER + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "x1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'}}]},
        {"role": "tool", "tool_call_id": "x1", "content": "4"},
    ]
    async with LLMClient(make_config(tools_mode="json")) as client:
        reply = await client.complete(history, TOOLS)
    sent = llm_server.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert json.loads(sent[2]["content"]) == {"tool": "add", "arguments": {"a": 2, "b": 2}}
    assert sent[3]["content"] == "Result of add:\n4"
    assert reply.content == "\\boxed{4}" and reply.tool_calls == ()


async def test_auto_mode_does_fall_back_to_json_when_tools_rejected(llm_server: ScriptedLLM,
                                                                     make_config: Make) -> None:
    def policy(req: Request) -> Any:
        if req.tools:
            return reply_error(400, "this model does not support tools")
        return reply_text('{"tool": "add", "arguments": {"a": 1, "b": 1}}')

    llm_server.policy = policy
    async with LLMClient(make_config()) as client:
        first = await client.complete(USER, TOOLS)
        await client.complete(USER, TOOLS)
        assert client.stats.json_mode
    assert first.tool_calls[0].name == "add"
    assert [bool(r.tools) for r in llm_server.requests] == [True, False, False]


async def test_client_rejects_use_when_not_open(make_config: Make) -> None:
    client = LLMClient(make_config())
    with pytest.raises(RuntimeError, match="not open"):
        await client.complete(USER)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        LLMConfig(model="m", concurrency=0)
    with pytest.raises(ValueError, match="tools_mode"):
        LLMConfig(model="m", tools_mode="xml")  # type: ignore[arg-type]


def test_config_does_report_sampling_parameters() -> None:
    config = LLMConfig(model="m", seed=1, max_tokens=9)
    assert config.sampling() == {"model": "m", "temperature": 0.0, "seed": 1, "max_tokens": 9, "tools_mode": "auto"}


def test_usage_does_add_up() -> None:
    total = Usage(prompt_tokens=1, completion_tokens=2) + Usage(prompt_tokens=10, completion_tokens=20)
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (11, 22, 33)


async def test_client_does_count_the_providers_cached_prompt_tokens() -> None:
    with ScriptedLLM(lambda req: reply_text("\\boxed{4}"), prompt_cache=True) as server:
        config = LLMConfig(model="scripted-model", base_url=server.base_url, max_retries=0)
        async with LLMClient(config) as client:
            first = await client.complete(USER, rollout=0)
            longer = [*USER, {"role": "assistant", "content": "4"}, {"role": "user", "content": "Sure?"}]
            second = await client.complete(longer, rollout=0)
        stats = client.stats
    assert first.usage.cached_prompt_tokens == 0
    assert 0 < second.usage.cached_prompt_tokens < second.usage.prompt_tokens
    assert stats.cached_prompt_tokens == second.usage.cached_prompt_tokens
    assert stats.prompt_tokens == first.usage.prompt_tokens + second.usage.prompt_tokens
