"""The two agent systems and their entry points, ``stream`` and ``solve``.

- ``kind="tool"`` (the paper's "GPT-4+"): native tool calling; tools are the
  function set plus ``run_python``. A reply without tool calls is the answer.
- ``kind="react"`` (the paper's App. D.2): the same tools through the text
  protocol Thought / Action / Action Input / Observation / Final Answer.

Each LLM call is one turn; a run stops at the final answer, after
``max_turns`` calls, or when ``token_budget`` is spent. Both agents ask for the
final answer in ``\\boxed{}``.

Failure policy: model-caused faults become steps the model sees. A provider
that stays unavailable after the client's retries (``LLMUnavailable``) is
raised by ``stream`` but *recorded* by ``solve`` (``StopReason.ERROR``), so
one bad task does not sink an evaluation batch; a request the provider refuses
(``LLMRejected``: bad key, unknown model) would fail every task alike and is
raised by both. A conversation the provider refuses as longer than the model's
context (``LLMContextExceeded``) is cut (:func:`~agents._cut.cut_conversation`)
and sent once more; refused again, ``solve`` records it (``StopReason.CONTEXT``).

The run keeps its steps, not a list of messages: each request's messages are
rendered from the steps so far (:func:`~agents._render.conversation`), so a
trajectory replays into exactly the messages that were sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from string import Template
from typing import Any, Literal  # Any: JSON request and reply bodies, tool schemas

from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import ANSWER_INSTRUCTION, Task, extract_answer

from fnforge.agents._client import LLMClient
from fnforge.agents._records import Completion, Usage
from fnforge.agents._cut import cut_conversation
from fnforge.agents._exceptions import LLMContextExceeded, LLMUnavailable
from fnforge.agents._prompts import RUN_PYTHON, RUN_PYTHON_TOOL, describe_tools, render
from fnforge.agents._react import parse_react
from fnforge.agents._render import conversation
from fnforge.agents._replies import reply_problem
from fnforge.agents._tools import ArgumentsError, parse_action_input, parse_arguments, read_attachments, run_tool
from fnforge.agents._trajectory import AnswerStep, ErrorStep, ModelStep, Step, StopReason, ToolStep, Trajectory

__all__ = ["AgentConfig", "solve", "stream"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    """How an agent runs: which system, how long, what it is told.

    Args:
        kind: ``"tool"`` (native tool calls) or ``"react"`` (text protocol).
        max_turns: LLM calls per task before giving up (``StopReason.MAX_TURNS``).
        system_prompt: replaces the kind's default system prompt; ``$answer_instruction``,
            ``$tool_descriptions`` and ``$tool_names`` are filled in if present.
        run_python: offer the built-in ``run_python`` tool.
        max_observation_chars: tool results longer than this are cut in the middle.
        token_budget: stop with ``StopReason.BUDGET`` once a run used more tokens.

    Raises:
        ValueError: an unknown kind or a non-positive limit.

    Example:
        >>> AgentConfig(kind="react", max_turns=6).kind
        'react'
    """

    kind: Literal["tool", "react"] = "tool"
    max_turns: int = 10
    system_prompt: str | None = None
    run_python: bool = True
    max_observation_chars: int = 4000
    token_budget: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("tool", "react"):
            raise ValueError(f"AgentConfig.kind must be 'tool' or 'react', got {self.kind!r}")
        if self.max_turns < 1 or self.max_observation_chars < 100:
            raise ValueError("AgentConfig needs max_turns >= 1 and max_observation_chars >= 100")
        if self.token_budget is not None and self.token_budget < 1:
            raise ValueError("AgentConfig.token_budget must be positive or None")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (evaluation caches key on it)."""
        return {"kind": self.kind, "max_turns": self.max_turns, "system_prompt": self.system_prompt,
                "run_python": self.run_python, "max_observation_chars": self.max_observation_chars,
                "token_budget": self.token_budget}


class _Run:
    """The state of one run; ``steps()`` drives it and yields each step."""

    def __init__(self, config: AgentConfig, function_set: FunctionSet, task: Task, sandbox: Sandbox,
                 client: LLMClient, rollout: int) -> None:
        self.config, self.fs, self.task = config, function_set, task
        self.sandbox, self.client, self.rollout = sandbox, client, rollout
        self.tools = function_set.to_openai_tools() + ([RUN_PYTHON_TOOL] if config.run_python else [])
        self.tool_names = [t["function"]["name"] for t in self.tools]
        self.system = self._system_prompt()
        self.cuts: list[int] = []
        self.files = read_attachments(task, sandbox.policy.max_attachment_bytes) if task.attachments else {}
        self.steps_taken: list[Step] = []
        self.usage, self.cost, self.turns, self.retries, self.failures = Usage(), 0.0, 0, 0, 0
        self.stop = StopReason.MAX_TURNS
        self.final_text: str | None = None
        self.answer: str | None = None
        self.error: str | None = None
        self.started = time.perf_counter()

    def _system_prompt(self) -> str:
        values = {"answer_instruction": ANSWER_INSTRUCTION, "tool_descriptions": describe_tools(self.tools),
                  "tool_names": ", ".join(self.tool_names)}
        if self.config.system_prompt is not None:
            return Template(self.config.system_prompt).safe_substitute(values)
        if self.config.kind == "tool":
            return render("tool", answer_instruction=ANSWER_INSTRUCTION)
        return render("react", **values)

    def _record(self, step: Step) -> Step:
        self.steps_taken.append(step)
        return step

    def _messages(self) -> list[dict[str, Any]]:
        return conversation(self.config.kind, self.system, self.task.question, self.steps_taken,
                            tool_names=self.tool_names, cuts=self.cuts)

    async def _call_model(self) -> ModelStep:
        try:
            reply = await self._complete_or_cut()
        except (LLMUnavailable, LLMContextExceeded):
            self.turns += 1  # the call that ends the run
            raise
        self.turns += 1
        self.usage += reply.usage
        self.cost += reply.cost_usd
        self.retries += reply.retries
        return ModelStep(turn=self.turns - 1, content=reply.content, tool_calls=reply.tool_calls,
                         usage=reply.usage, latency_s=reply.latency_s, retries=reply.retries,
                         cached=reply.cached, cost_usd=reply.cost_usd, reasoning=reply.reasoning,
                         finish_reason=reply.finish_reason)

    async def _complete_or_cut(self) -> Completion:
        messages = self._messages()
        try:
            return await self._complete(messages)
        except LLMContextExceeded:
            if cut_conversation(messages) is None:  # nothing to cut: the same request would be refused again
                raise
            self.cuts.append(self.turns)
            return await self._complete(self._messages())  # once: a second refusal ends the run

    async def _complete(self, messages: list[dict[str, Any]]) -> Completion:
        try:
            return await self.client.complete(
                messages, self.tools if self.config.kind == "tool" else None, rollout=self.rollout)
        except (LLMUnavailable, LLMContextExceeded) as exc:
            self.failures += 1
            self.retries += max(0, exc.attempts - 1)
            raise

    def _over_budget(self) -> bool:
        budget = self.config.token_budget
        return budget is not None and self.usage.total_tokens > budget

    def _finish(self, turn: int, text: str) -> AnswerStep:
        self.stop, self.final_text, self.answer = StopReason.ANSWER, text, extract_answer(text)
        return AnswerStep(turn=turn, text=text, answer=self.answer)

    async def steps(self) -> AsyncIterator[Step]:
        for _ in range(self.config.max_turns):
            model_step = await self._call_model()
            yield self._record(model_step)
            turn_steps = self._tool_turn(model_step) if self.config.kind == "tool" else self._react_turn(model_step)
            async for step in turn_steps:
                yield self._record(step)
            if self.stop is StopReason.ANSWER:
                return
            if self._over_budget():
                self.stop = StopReason.BUDGET
                return

    async def _tool_turn(self, step: ModelStep) -> AsyncIterator[Step]:
        problem = None if step.tool_calls else reply_problem(step, react=False)
        if problem is not None:  # cut off, thinking only, empty, an unreadable call as text: say so
            yield ErrorStep(turn=step.turn, error_kind="format", message=problem)
            return
        if not step.tool_calls:
            yield self._finish(step.turn, step.content or "")
            return
        for call in step.tool_calls:  # in order: a later call may depend on an earlier one's effect
            yield await self._execute(step.turn, call.id, call.name, call.arguments, react=False)

    async def _react_turn(self, step: ModelStep) -> AsyncIterator[Step]:
        parsed = parse_react(step.content, tools=self.tool_names)
        if parsed.final is not None:
            yield self._finish(step.turn, parsed.text)
            return
        if parsed.action is None:
            message = reply_problem(step, react=True) or parsed.error or "unparseable reply"
            yield ErrorStep(turn=step.turn, error_kind="format", message=message)
            return
        yield await self._execute(step.turn, f"react_{step.turn}", parsed.action, parsed.action_input, react=True)

    async def _execute(self, turn: int, call_id: str, name: str, raw: str, *, react: bool) -> ToolStep:
        started = time.perf_counter()
        try:
            if name not in self.tool_names:
                args: dict[str, Any] = {}
            elif react:
                args = parse_action_input(raw, name, self.fs)
            elif name == RUN_PYTHON and raw.strip() and not raw.lstrip().startswith(("{", '"')):
                args = {"code": raw}  # bare code instead of a JSON object: tolerate
            else:
                args = parse_arguments(raw)
        except ArgumentsError as exc:
            return ToolStep(turn=turn, call_id=call_id, name=name, arguments=raw, error=f"{name}: {exc}",
                            error_kind="bad_arguments", duration_s=time.perf_counter() - started)
        out = await run_tool(self.sandbox, self.fs, name, args, tool_names=self.tool_names,
                             max_chars=self.config.max_observation_chars, files=self.files)
        return ToolStep(turn=turn, call_id=call_id, name=name, arguments=raw, result=out.result,
                        error=out.error, error_kind=out.error_kind, duration_s=time.perf_counter() - started,
                        called=out.called)

    def trajectory(self) -> Trajectory:
        return Trajectory(
            agent=self.config.kind, task_id=self.task.id, question=self.task.question,
            model=self.client.config.model, function_set=self.fs.tree_hash, functions=self.fs.names,
            rollout=self.rollout, steps=tuple(self.steps_taken), system=self.system,
            tools=tuple(self.tool_names), cuts=tuple(self.cuts),
            final_text=self.final_text, answer=self.answer, stop=self.stop, error=self.error,
            usage=self.usage, cost_usd=self.cost, latency_s=time.perf_counter() - self.started,
            turns=self.turns, retries=self.retries, failures=self.failures,
        )


async def stream(agent_config: AgentConfig, function_set: FunctionSet, task: Task, sandbox: Sandbox,
                 client: LLMClient, *, rollout: int = 0) -> AsyncIterator[Step]:
    """Run the agent on ``task``, yielding each step as it happens.

    Raises:
        LLMUnavailable: the provider stayed unavailable after the client's retries.
        LLMContextExceeded: the conversation stayed too long for the model after one cut.
        LLMRejected: the provider refused a request.
        TaskDataError: an attachment of the task cannot be read or is too large.
    """
    async for step in _Run(agent_config, function_set, task, sandbox, client, rollout).steps():
        yield step


async def solve(agent_config: AgentConfig, function_set: FunctionSet, task: Task, sandbox: Sandbox,
                client: LLMClient, *, rollout: int = 0) -> Trajectory:
    """Run the agent on ``task`` and return the whole trajectory.

    Args:
        agent_config: the agent system and its limits.
        function_set: the learned functions offered as tools (``run_python`` is added).
        task: the problem; ``task.question`` is the user message. Its attachments are
            read once and readable by every tool call with ``open(<file name>)``.
        sandbox: where every tool call runs.
        client: an open ``LLMClient``.
        rollout: sample index (separate cache entries per index).

    Returns:
        The trajectory; ``stop`` is ``ERROR`` (with ``error``) if the provider
        stayed unavailable, ``CONTEXT`` if the conversation stayed too long for
        the model after one cut.

    Raises:
        LLMRejected: the provider refused a request (key, model, bad request).
        TaskDataError: an attachment of the task cannot be read or is too large.

    Example (async or needs a provider, so shown, not run)::

        traj = await solve(AgentConfig(), fs, task, sandbox, client)
        traj.stop, traj.answer
        # -> (<StopReason.ANSWER: 'answer'>, '42')
    """
    run = _Run(agent_config, function_set, task, sandbox, client, rollout)
    try:
        async for _ in run.steps():
            pass
    except LLMUnavailable as exc:
        run.stop, run.error = StopReason.ERROR, str(exc)
    except LLMContextExceeded as exc:
        run.stop, run.error = StopReason.CONTEXT, str(exc)
    return run.trajectory()
