"""AgentOptimizer.step against every recorded reply shape (tests/llm_server/fixtures/replies).

Each fixture's first reply is sent verbatim through the real client; then a
well-behaved optimizer model takes over (it adds ``solve_linear`` if nothing
was applied, else replies TERMINATE). Whatever the first reply, the step must
end with the intended action applied, and the expectation says how: recovered
from the first reply, or answered with a precise reason and then corrected,
or (a reply with no tool call) a terminated step with no change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fnforge.agents import LLMClient, LLMConfig
from fnforge.functions import FunctionSet
from fnforge.optimizer._agent_optimizer import AgentOptimizer, History, StepResult
from fnforge.sandbox import Sandbox
from tests.llm_server import REPLY_FIXTURES, ReplyFixture, Request, ScriptedLLM, first_then, reply_raw
from tests.optimizer.policies import TERMINATE, add_call, make_report
from tests.optimizer.test_agent_optimizer import POLICY, anyio_backend, sandbox  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.anyio

CODE = "def solve_linear(a, b):\n    \"\"\"Solve a*x + b = 0 for x.\"\"\"\n    return -b / a\n"
PROPS = {"a": {"type": "number", "description": "coefficient of x"},
         "b": {"type": "number", "description": "constant term"}}


@pytest.fixture
async def client(llm_server: ScriptedLLM) -> AsyncIterator[LLMClient]:
    config = LLMConfig(model="optimizer-model", base_url=llm_server.base_url, max_retries=2, timeout_s=10.0,
                       backoff_s=0.005, backoff_max_s=0.02)
    async with LLMClient(config) as c:
        yield c


def continuation(req: Request) -> Any:
    """A well-behaved optimizer: TERMINATE once an action was applied, else add the solver."""
    applied = any(str(m.get("content", "")).startswith("Applied:") for m in req.messages if m.get("role") == "tool")
    return TERMINATE if applied else add_call("solve_linear", CODE, arguments=PROPS, description="Solve a*x + b = 0.")


async def replay(server: ScriptedLLM, client: LLMClient, sandbox: Sandbox, fixture: ReplyFixture) -> StepResult:
    server.policy = first_then(reply_raw(fixture.replies["optimizer"]), continuation)
    report = make_report([False, False])
    optimizer = AgentOptimizer(client, sandbox, policy=POLICY, max_actions=2, max_retries=2)
    result = await optimizer.step(FunctionSet(), History(best=FunctionSet(), best_score=0.0, report=report))
    assert server.policy_errors == []
    return result


def thinking_of(body: dict[str, Any]) -> list[str]:
    """The thinking a raw reply carries (reasoning fields), to check it never reaches the step's record."""
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    return [message[k] for k in ("reasoning_content", "reasoning") if isinstance(message.get(k), str)]


@pytest.mark.parametrize("fixture", [pytest.param(f, id=f.name) for f in REPLY_FIXTURES if "optimizer" in f.replies])
async def test_optimizer_does_handle_recorded_reply(llm_server: ScriptedLLM, client: LLMClient, sandbox: Sandbox,
                                                    fixture: ReplyFixture) -> None:
    expect = fixture.expect["optimizer"]
    result = await replay(llm_server, client, sandbox, fixture)
    record = result.rationale + json.dumps(result.transcript)
    assert "<think>" not in record and not any(t in record for t in thinking_of(dict(fixture.replies["optimizer"])))
    if expect.outcome == "terminated":
        assert result.terminated and result.actions == () and result.llm_calls == 1
        assert expect.says in result.rationale
        return
    assert [a.describe() for a in result.actions] == ["add solve_linear"], result.rejections
    function = result.function_set["solve_linear"]
    assert "```" not in function.code and "return -b / a" in function.code
    if expect.outcome == "recovered":
        assert result.rejections == () and result.llm_calls == 2
        assert expect.says in result.actions[0].note
    elif expect.outcome == "answered":
        assert expect.says in result.rejections[0]
        assert any(expect.says in str(m.get("content")) for m in result.transcript[2:] if m.get("role") != "assistant")
    else:
        assert expect.outcome == "retried" and client.stats.retries >= 1 and result.rejections == ()
