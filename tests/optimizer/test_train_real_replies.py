"""Training with real reply habits: the optimizer fences its code, the agents think aloud.

The two shapes that broke training before issue 19: an ``add_function`` whose
``code`` is wrapped in a Markdown fence with a sentence around it (rejected as
a syntax error), and agents whose replies carry ``<think>`` blocks and a
``reasoning_content`` field with a wrong ``\\boxed{999}`` (scored as 999). Both
runs must learn ``solve_linear`` and score it at 1.0 on train and test.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fnforge.agents import AgentConfig
from fnforge.optimizer._train_config import TrainConfig
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import Reply, Request, ScriptedLLM, reply_tool_call
from tests.optimizer.policies import is_optimizer_request
from tests.optimizer.trainer_support import ARGS, SOLVE, equation_args, init_repo, section, train

FENCED = f"Here is the solver:\n```python\n{SOLVE}```\nIt returns an int when the root is whole."
DOUBT = "Is it \\boxed{999}? No, trust the tool."


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as box:
        yield box


def optimizer_reply(req: Request) -> Reply:
    """A reasoning optimizer that fences its code: add solve_linear once, then TERMINATE."""
    if req.turn == 0 and "## solve_linear" not in section(req.question, "List A"):
        args = {"name": "solve_linear", "description": "Solve a*x + b = c for x.", "arguments": json.dumps(ARGS),
                "packages": "", "code": FENCED}
        call = reply_tool_call("add_function", args, content="<think>Maybe TERMINATE? No.</think>Add a solver.")
        return Reply(content=call.content, tool_calls=call.tool_calls, reasoning="The agent lacks a solver.")
    return Reply(content="<think>Nothing more to change. \\boxed{999}</think>TERMINATE")


def tool_agent(req: Request) -> Reply:
    """A tool agent that thinks aloud, with a wrong boxed guess in every thought."""
    results = req.tool_results()
    if results and req.called("solve_linear"):
        value = json.loads(results[-1])
        return Reply(content=f"<think>The tool says {value}. {DOUBT}</think>The answer is \\boxed{{{value}}}.",
                     reasoning=f"Also in the reasoning field: \\boxed{{999}}. {DOUBT}")
    if req.offered("solve_linear"):
        call = reply_tool_call("solve_linear", equation_args(req.question), call_id=f"call_{req.turn}",
                               content=f"<think>{DOUBT} I should call solve_linear.</think>")
        return Reply(content=call.content, tool_calls=call.tool_calls, reasoning="Let me use the solver.")
    return Reply(content=f"<think>{DOUBT}</think>Final Answer: 0")


def react_agent(req: Request) -> str:
    """A ReAct agent that thinks aloud before acting and before answering."""
    obs = req.observation()
    if obs is not None and req.called("solve_linear"):
        value = re.search(r"-?\d+(?:\.\d+)?", obs)
        return f"<think>{DOUBT}</think>\nThought: I have it.\nFinal Answer: \\boxed{{{value.group(0) if value else obs}}}"
    if req.offered("solve_linear"):
        return (f"<think>Final Answer: \\boxed{{999}}? {DOUBT}</think>\nThought: use the solver.\n"
                f"Action: solve_linear\nAction Input: {json.dumps(equation_args(req.question))}")
    return f"<think>{DOUBT}</think>\nThought: no tool.\nFinal Answer: \\boxed{{0}}"


def policy(agent: Any) -> Any:
    return lambda req: optimizer_reply(req) if is_optimizer_request(req) else agent(req)


@pytest.mark.parametrize(("kind", "agent"), [("tool", tool_agent), ("react", react_agent)])
def test_training_does_learn_from_fenced_code_and_thinking_agents(
        tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox, kind: str, agent: Any) -> None:
    llm_server.policy = policy(agent)
    repo = init_repo(tmp_path / "toolset")
    try:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=1),
                                    agent=AgentConfig(kind=kind, max_turns=4)))  # type: ignore[arg-type]
        learned = repo.read(summary.best_commit)
    finally:
        repo.close()
    assert llm_server.policy_errors == []
    assert summary.initial_score == 0.25 and summary.best_score == 1.0
    assert summary.test is not None and summary.test.accuracy == 1.0
    assert learned.names == ("solve_linear",) and learned["solve_linear"].code == SOLVE
