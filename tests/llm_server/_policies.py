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
    """A policy that holds each request ``hold_s`` and records the most requests in flight at once (``peak``).

    ``reply`` is the reply, or a policy that decides it. With ``fill=(c, total)``, each request
    is first held until ``c`` requests are in flight, or as many as the ``total`` expected still
    have to be answered when that is fewer: a client that keeps ``c`` requests in flight while work
    remains passes every such gate at once. A request that waited ``fill_wait_s`` in vain is
    answered anyway and counted in ``starved`` (a client that ramps up, sends in bursts, or is
    capped by a pool, a thread limit or a lock held across a request).
    """

    def __init__(self, reply: Reply | str | Policy, *, hold_s: float = 0.05, fill: tuple[int, int] | None = None,
                 fill_wait_s: float = 10.0) -> None:
        self.reply, self.hold_s, self.peak = reply, hold_s, 0
        self.want, self.total = fill if fill is not None else (0, 0)
        self.fill_wait_s, self.starved = fill_wait_s, 0
        self._now, self._answered = 0, 0
        self._changed = threading.Condition()

    def __call__(self, req: Request) -> Reply | str:
        with self._changed:
            self._now += 1
            self.peak = max(self.peak, self._now)
            self._changed.notify_all()
            if self.want and not self._changed.wait_for(self._full, timeout=self.fill_wait_s):
                self.starved += 1
        time.sleep(self.hold_s)
        with self._changed:
            self._now -= 1
            self._answered += 1
            self._changed.notify_all()
        return self.reply(req) if callable(self.reply) else self.reply

    def _full(self) -> bool:
        return self._now >= min(self.want, self.total - self._answered)
