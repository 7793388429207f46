"""Ready-made policies for common scripted behaviours."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.llm_server._messages import Policy, Reply, Request, reply_text, reply_tool_call

__all__ = ["InFlight", "answer_with", "first_then", "react_solver", "scripted_turns", "tool_solver"]


def answer_with(fn: Callable[[str], object]) -> Policy:
    """Answer ``\\boxed{fn(question)}`` at once, without tools."""
    return lambda req: reply_text(f"The answer is \\boxed{{{fn(req.question)}}}.")


def scripted_turns(replies: Sequence[Reply | str]) -> Policy:
    """Reply ``replies[req.turn]`` (the last one again once they run out)."""
    if not replies:
        raise ValueError("scripted_turns needs at least one reply")
    return lambda req: replies[min(req.turn, len(replies) - 1)]


def first_then(first: Reply | str, then: Policy) -> Policy:
    """Reply ``first`` to the first request this policy sees, then follow ``then``
    (a retried request is a new request: it gets ``then``'s reply)."""
    seen = threading.Lock()
    state = {"used": False}

    def policy(req: Request) -> Reply | str:
        with seen:
            used, state["used"] = state["used"], True
        return then(req) if used else first

    return policy


def _result_value(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()
    return value if isinstance(value, str) else json.dumps(value)


def tool_solver(tool: str, args_fn: Callable[[str], Mapping[str, Any] | str], *,
                fallback: str = "unknown") -> Policy:
    """Native tools: call ``tool`` with ``args_fn(question)`` (a dict, or raw argument
    text) when offered and not yet called; after its result, answer
    ``\\boxed{<result>}``; when it is not offered, answer ``\\boxed{<fallback>}``."""

    def policy(req: Request) -> Reply:
        results = req.tool_results()
        if results and req.called(tool):
            return reply_text(f"The result is \\boxed{{{_result_value(results[-1])}}}.")
        if req.offered(tool) and not req.called(tool):
            return reply_tool_call(tool, args_fn(req.question), call_id=f"call_{req.turn}")
        return reply_text(f"I cannot compute this: \\boxed{{{fallback}}}")

    return policy


def react_solver(tool: str, args_fn: Callable[[str], Mapping[str, Any]], *,
                 fallback: str = "unknown") -> Policy:
    """ReAct text variant of ``tool_solver``: ``Action: tool`` / ``Action Input: {json}``,
    then ``Final Answer: \\boxed{<observation>}``."""

    def policy(req: Request) -> str:
        obs = req.observation()
        if obs is not None and req.called(tool):
            return f"Thought: I have the result.\nFinal Answer: \\boxed{{{_result_value(obs)}}}"
        if req.offered(tool) and not req.called(tool):
            args = json.dumps(dict(args_fn(req.question)))
            return f"Thought: I should use {tool}.\nAction: {tool}\nAction Input: {args}"
        return f"Thought: no tool helps.\nFinal Answer: \\boxed{{{fallback}}}"

    return policy


class InFlight:
    """A policy that holds each request ``hold_s`` and records the most requests in flight at once (``peak``)."""

    def __init__(self, reply: str, *, hold_s: float = 0.05) -> None:
        self.reply, self.hold_s, self.peak = reply, hold_s, 0
        self._now, self._lock = 0, threading.Lock()

    def __call__(self, req: Request) -> str:
        with self._lock:
            self._now += 1
            self.peak = max(self.peak, self._now)
        time.sleep(self.hold_s)
        with self._lock:
            self._now -= 1
        return self.reply
