"""Scripted optimizer LLMs for tests (optimizer and trainer).

Build the optimizer's replies with :func:`add_call`, :func:`revise_call`,
:func:`remove_call` and :data:`TERMINATE`, then route requests with
:class:`OptimizerScript`::

    script = OptimizerScript(
        [[add_call("double", DOUBLE_CODE, arguments={"x": {"type": "number"}}), TERMINATE],  # step 0
         [TERMINATE]],                                                                        # step 1
        agent=tool_solver("double", lambda q: {"x": 2}),
    )
    llm_server.policy = script

A request is an *optimizer* request when it offers the ``add_function`` tool;
every other request goes to ``agent``. Within a step, the reply is chosen by
the conversation's turn (``req.turn``: 0 for the prompt, 1 after the first tool
result...); the step index counts optimizer requests at turn 0 that reached the
server. Replies past the end of a list repeat its last one; steps past the end
repeat the last step. A reply may also be a callable ``(Request) -> Reply``.
(LLM-cache hits never reach the server, so with a response cache the step
index counts only uncached steps.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fnforge.agents import AnswerStep, ModelStep, StopReason, ToolCall, ToolStep, Trajectory
from fnforge.optimizer import Report, TaskResult
from tests.llm_server import Policy, Reply, Request, reply_text, reply_tool_call

__all__ = [
    "TERMINATE",
    "OptimizerScript",
    "add_call",
    "is_optimizer_request",
    "make_report",
    "make_trajectory",
    "remove_call",
    "revise_call",
]

TERMINATE = reply_text("TERMINATE")
"""The optimizer's plain-text end of a step."""

Step = Sequence["Reply | str | Callable[[Request], Reply | str]"]


def _function_args(name: str, code: str, description: str | None,
                   arguments: Mapping[str, Any] | str | None, packages: str) -> dict[str, Any]:
    props = arguments if arguments is not None else {}
    return {
        "name": name,
        "description": description or f"The {name} function.",
        "arguments": props if isinstance(props, str) else json.dumps(dict(props)),
        "packages": packages,
        "code": code,
    }


def add_call(name: str, code: str, *, description: str | None = None,
             arguments: Mapping[str, Any] | str | None = None, packages: str = "",
             content: str | None = None) -> Reply:
    """An ``add_function`` tool call; ``arguments`` (the properties) is sent as a JSON string."""
    return reply_tool_call("add_function", _function_args(name, code, description, arguments, packages),
                           content=content)


def revise_call(name: str, code: str, *, description: str | None = None,
                arguments: Mapping[str, Any] | str | None = None, packages: str = "",
                content: str | None = None) -> Reply:
    """A ``revise_function`` tool call (same arguments as :func:`add_call`)."""
    return reply_tool_call("revise_function", _function_args(name, code, description, arguments, packages),
                           content=content)


def remove_call(name: str, *, content: str | None = None) -> Reply:
    """A ``remove_function`` tool call."""
    return reply_tool_call("remove_function", {"name": name}, content=content)


def is_optimizer_request(req: Request) -> bool:
    """The request comes from AgentOptimizer (it offers ``add_function``)."""
    return "add_function" in req.tool_names


class OptimizerScript:
    """A server policy: scripted optimizer steps, everything else to ``agent``.

    Attributes:
        prompts: the optimizer requests at turn 0 (one per step), in order.
        requests: every optimizer request, in order.
    """

    def __init__(self, steps: Sequence[Step], *, agent: Policy | None = None) -> None:
        if not steps or not all(steps):
            raise ValueError("OptimizerScript needs at least one non-empty step")
        self.steps = [list(s) for s in steps]
        self.agent = agent
        self.prompts: list[Request] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def __call__(self, req: Request) -> Reply | str:
        if not is_optimizer_request(req):
            if self.agent is None:
                raise AssertionError("OptimizerScript got an agent request but has no agent policy")
            return self.agent(req)
        with self._lock:
            if req.turn == 0:
                self.prompts.append(req)
            self.requests.append(req)
            step = max(0, len(self.prompts) - 1)
        replies = self.steps[min(step, len(self.steps) - 1)]
        reply = replies[min(req.turn, len(replies) - 1)]
        return reply(req) if callable(reply) else reply


def make_trajectory(task_id: str, *, question: str = "", output: str = "ok", error: str | None = None,
                    answer: str = "1", calls: int = 1) -> Trajectory:
    """A tool-agent trajectory: ``calls`` run_python calls returning ``output`` (or ``error``), then an answer."""
    steps: list[Any] = []
    for turn in range(calls):
        call = ToolCall(id=f"c{turn}", name="run_python", arguments=json.dumps({"code": f"print({turn})"}))
        steps.append(ModelStep(turn=turn, content=f"Step {turn}.", tool_calls=(call,)))
        steps.append(ToolStep(turn=turn, call_id=call.id, name="run_python", arguments=call.arguments,
                              result=None if error else output, error=error,
                              error_kind="function_error" if error else None))
    final = f"The answer is \\boxed{{{answer}}}."
    steps += [ModelStep(turn=calls, content=final), AnswerStep(turn=calls, text=final, answer=answer)]
    return Trajectory(agent="tool", task_id=task_id, question=question or f"Question of {task_id}?",
                      model="scripted-model", function_set="0" * 40, functions=(), rollout=0,
                      steps=tuple(steps), final_text=final, answer=answer,
                      stop=StopReason.ANSWER, turns=calls + 1)


def make_report(outcomes: Sequence[bool], *, output_chars: int = 40, calls: int = 1,
                prefix: str = "t") -> Report:
    """A Report over tasks ``<prefix>000``, ... whose correctness is ``outcomes``;
    each trajectory has ``calls`` tool outputs of ``output_chars`` characters."""
    results = []
    for i, correct in enumerate(outcomes):
        task_id = f"{prefix}{i:03d}"
        output = (f"output of {task_id} " * (output_chars // 12 + 1))[:output_chars]
        traj = make_trajectory(task_id, output=output, calls=calls, answer="1" if correct else "2")
        results.append(TaskResult(task_id=task_id, task_hash=f"h{i}", correct=correct, answer=traj.answer or "",
                                  trajectory=traj, tokens=10, cost=0.0, wall_s=0.01))
    return Report.from_results(results, wall_s=0.1)
