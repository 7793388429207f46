"""The conversation of a run, rendered from its steps (STYLE §5; smolagents' ``write_memory_to_messages``).

The agent loop keeps no list of messages: before each LLM call it renders them
from the steps recorded so far, so what was sent is a pure function of the
trajectory, and a stored trajectory replays into the same messages
(:func:`render_messages`). In order:

- the system prompt, then the task as the first user message (``Question: ...``
  for ReAct);
- per :class:`ModelStep`, the assistant message: for the tool agent its text
  and tool calls; for ReAct the reply as kept (cut before an ``Observation:``
  the model wrote itself, :func:`~agents._react.parse_react`);
- per :class:`ToolStep`, what the call returned: a ``tool`` message with the
  call's id, or for ReAct a user ``Observation:`` message (with the parser's
  remark about ignored text, if any);
- per :class:`ErrorStep`, the notice (``Error: ...``; ReAct ``Observation: Error: ...``);
- an :class:`AnswerStep` adds nothing: its text is the last assistant message.

A context cut (:mod:`agents._cut`) is part of the record: ``cuts`` lists the
turns whose request went out cut, and rendering cuts the same messages at the
same place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any  # Any: chat messages as JSON

from fnforge.agents._cut import cut_conversation
from fnforge.agents._react import ReactReply, parse_react
from fnforge.agents._trajectory import ErrorStep, ModelStep, Step, ToolStep, Trajectory

__all__ = ["conversation", "render_messages"]


def render_messages(trajectory: Trajectory) -> list[dict[str, Any]]:
    """The conversation of ``trajectory``: the messages of its last request, then the last reply.

    Example:
        >>> [m["role"] for m in render_messages(traj)]
        ['system', 'user', 'assistant', 'tool', 'assistant']
    """
    return conversation(trajectory.agent, trajectory.system, trajectory.question, trajectory.steps,
                        tool_names=trajectory.tools, cuts=trajectory.cuts)


def conversation(kind: str, system: str, question: str, steps: Sequence[Step], *, tool_names: Sequence[str] = (),
                 cuts: Sequence[int] = ()) -> list[dict[str, Any]]:
    """The messages of a run of agent ``kind`` after ``steps`` (see the module docstring).

    ``tool_names`` are the tools offered (ReAct reads calls written in a
    model's native text format only for those); ``cuts`` the turns whose
    request was cut to fit the model's context.
    """
    messages = [{"role": "system", "content": system},
                {"role": "user", "content": question if kind == "tool" else f"Question: {question}"}]
    pending = sorted(cuts)
    reply: ReactReply | None = None
    for step in steps:
        if isinstance(step, ModelStep):
            while pending and pending[0] <= step.turn:
                messages = cut_conversation(messages) or messages
                del pending[0]
            if kind == "tool":
                messages.append(_assistant(step))
            else:
                reply = parse_react(step.content, tools=tool_names)
                messages.append({"role": "assistant", "content": reply.text})
        elif isinstance(step, ToolStep):
            messages.append(_result(step, kind, reply))
        elif isinstance(step, ErrorStep):
            notice = f"Error: {step.message}"
            messages.append({"role": "user", "content": notice if kind == "tool" else f"Observation: {notice}"})
    if pending:  # the last request went out cut, and was refused again
        messages = cut_conversation(messages) or messages
    return messages


def _assistant(step: ModelStep) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.content}
    if step.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in step.tool_calls]
    return message


def _result(step: ToolStep, kind: str, reply: ReactReply | None) -> dict[str, Any]:
    shown = step.result if step.ok else f"Error ({step.error_kind}): {step.error}"
    if kind == "tool":
        return {"role": "tool", "tool_call_id": step.call_id, "content": shown}
    notice = f"\n({reply.notice})" if reply is not None and reply.notice else ""
    return {"role": "user", "content": f"Observation: {shown}{notice}"}
