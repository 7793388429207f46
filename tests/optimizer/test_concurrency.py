"""Full concurrency (issue 18): with ``concurrency`` c, c requests stay in flight while tasks remain.

The scripted server's ``InFlight`` policy holds each request until c are in
flight (or all that remain): a client that ramps up, sends in bursts, or is
capped by a connection pool, a thread limit or a lock held across a request
leaves requests waiting there in vain (``starved``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig
from fnforge.functions import FunctionSet
from fnforge.optimizer import Report, evaluate
from fnforge.sandbox import Sandbox, SandboxPolicy
from fnforge.tasks import Task
from tests.llm_server import InFlight, Request, ScriptedLLM, reply_text, reply_tool_call


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as sb:
        yield sb


def sums(n: int) -> tuple[Task, ...]:
    return tuple(Task(id=f"sum/{i}", question=f"What is {i} + 1?", answer=str(i + 1), domain="gsm8k")
                 for i in range(n))


def evaluated(server: ScriptedLLM, tasks: Sequence[Task], sandbox: Sandbox, concurrency: int, *,
              agent: AgentConfig = AgentConfig(max_turns=4), **options: object) -> Report:
    config = LLMConfig(model="scripted-model", base_url=server.base_url, concurrency=concurrency, timeout_s=60.0)

    async def go() -> Report:
        async with LLMClient(config) as client:
            return await evaluate(FunctionSet(), tasks, agent, client=client, sandbox=sandbox,
                                  concurrency=concurrency, **options)  # type: ignore[arg-type]

    return asyncio.run(go())


def answer(req: Request) -> str:
    return f"\\boxed{{{int(req.question.split()[2]) + 1}}}"


def two_calls_then_answer(req: Request) -> object:
    if req.turn < 2:
        return reply_tool_call("run_python", {"code": f"print({req.turn})"}, call_id=f"c{req.turn}")
    return reply_text(answer(req))


@pytest.mark.parametrize("concurrency", [8, 128])
def test_evaluate_does_keep_concurrency_requests_in_flight_while_tasks_remain(
        llm_server: ScriptedLLM, sandbox: Sandbox, concurrency: int) -> None:
    tasks = sums(2 * concurrency + 3)
    policy = llm_server.policy = InFlight(answer, fill=(concurrency, len(tasks)))
    report = evaluated(llm_server, tasks, sandbox, concurrency)
    assert (report.correct, policy.peak, policy.starved) == (len(tasks), concurrency, 0)


def test_evaluate_does_keep_concurrency_requests_in_flight_between_tool_calls(
        llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    tasks = sums(24)
    policy = llm_server.policy = InFlight(two_calls_then_answer, fill=(8, 3 * len(tasks)))
    report = evaluated(llm_server, tasks, sandbox, 8)
    assert report.correct == len(tasks) and llm_server.count == 3 * len(tasks)
    assert (policy.peak, policy.starved) == (8, 0)


def test_evaluate_does_send_every_request_while_answers_wait_to_be_scored(
        llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    tasks = sums(12)
    all_sent = threading.Event()

    def policy(req: Request) -> str:
        if req.index == len(tasks) - 1:
            all_sent.set()
        return answer(req)

    def scorer(task: Task, given: str) -> bool:  # slow: answers wait until every request is out
        return all_sent.wait(timeout=30) and given == task.answer

    llm_server.policy = policy
    report = evaluated(llm_server, tasks, sandbox, 3, scorer=scorer)
    assert report.correct == len(tasks)
