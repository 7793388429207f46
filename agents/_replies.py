"""Reading one provider reply into what the agents act on, and saying what is wrong with it.

:func:`read_message` turns the ``message`` of a chat completion, as any
OpenAI-compatible server sends it, into visible text, thinking, refusal and
tool calls (see :class:`~agents.Completion`). :func:`reply_problem` says why a
reply cannot be taken as an answer (cut at the token limit, only thinking,
empty, an unreadable tool call written as text): the agents send that sentence
back to the model instead of scoring the reply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any  # Any: reply bodies as JSON

from fnforge.tasks import explicit_answer, split_thinking

from fnforge.agents._records import ToolCall
from fnforge.agents._textcalls import MARKERS, read_text_calls
from fnforge.agents._trajectory import ModelStep

__all__ = ["ReplyParts", "read_message", "reply_problem", "unreadable_text_call"]

_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


@dataclass(frozen=True, slots=True)
class ReplyParts:
    """One reply's parts: visible ``content``, ``reasoning``, ``refusal``, ``tool_calls``."""

    content: str | None
    reasoning: str | None
    refusal: str | None
    tool_calls: tuple[ToolCall, ...]


def read_message(message: Mapping[str, Any], *, tool_names: Sequence[str] = ()) -> ReplyParts:
    """The parts of one assistant ``message`` as a server sent it.

    - content given as a list of parts is joined;
    - thinking (``<think>`` blocks; the ``reasoning_content`` field of vLLM,
      llama.cpp, LM Studio and DeepSeek; ``reasoning`` of newer vLLM, Ollama
      and OpenRouter) goes to ``reasoning``;
    - a ``refusal`` with no text becomes the content;
    - tool-call arguments sent as an object are encoded as JSON text; missing,
      empty or repeated call ids are replaced by fresh ones, unique in the reply;
    - with ``tool_names`` (native tools were offered) and no native call, tool
      calls the server left as text are read (:func:`read_text_calls`).
    """
    content = _text(message.get("content"))
    visible, thought = split_thinking(content) if content else (content, "")
    fields = [message.get(f) for f in _REASONING_FIELDS]
    reasoning = "\n".join(r.strip() for r in (*fields, thought) if isinstance(r, str) and r.strip())
    refusal = message.get("refusal") if isinstance(message.get("refusal"), str) else None
    calls = [_native(call) for call in message.get("tool_calls") or [] if isinstance(call, Mapping)]
    if not calls and tool_names and visible:
        found = read_text_calls(visible, tool_names)
        if found.calls:
            calls = [("", name, args) for name, args in found.calls]
            visible = found.rest
    text = visible if visible and visible.strip() else (refusal or None)
    return ReplyParts(content=text, reasoning=reasoning or None, refusal=refusal,
                      tool_calls=_with_unique_ids(calls))


def _text(content: object) -> str | None:
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return None if content is None else str(content)


def _native(call: Mapping[str, Any]) -> tuple[str, str, str]:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    raw = args if isinstance(args, str) else json.dumps(args if args is not None else {})
    return str(call.get("id") or ""), str(fn.get("name") or ""), raw


def _with_unique_ids(calls: Sequence[tuple[str, str, str]]) -> tuple[ToolCall, ...]:
    """Calls whose ids are unique in the reply: a missing or repeated id gets ``callNNNNN``
    (nine letters and digits, the only form Mistral's API accepts)."""
    taken = {call_id for call_id, _, _ in calls if call_id}
    seen: set[str] = set()
    out = []
    for i, (call_id, name, args) in enumerate(calls):
        if not call_id or call_id in seen:
            n = i
            while f"call{n:05d}" in taken:
                n += 1
            call_id = f"call{n:05d}"
            taken.add(call_id)
        seen.add(call_id)
        out.append(ToolCall(id=call_id, name=name, arguments=args))
    return tuple(out)


def reply_problem(step: ModelStep, *, react: bool) -> str | None:
    """Why ``step`` (a reply with no tool call to run) cannot be taken as the final answer.

    ``None`` when it can. Otherwise the sentence to send the model: the reply
    writes a tool call as text that cannot be read; it was cut off at the token
    limit or by a content filter before giving an answer; it holds only
    thinking; or it is empty.
    """
    text = (step.content or "").strip()
    unreadable = unreadable_text_call(text)
    if unreadable is not None:
        how = ("'Action: <tool name>' and 'Action Input: <JSON object>'" if react
               else 'a tool call (as text: <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>)')
        return f"{unreadable}. Send {how}."
    if step.finish_reason == "length" and explicit_answer(text) is None:
        where = " while you were still thinking" if step.reasoning and not text else ""
        return (f"your reply was cut off at the token limit{where} (finish_reason \"length\") before it gave "
                "an answer. Think more briefly and end your reply with the answer in \\boxed{}.")
    if step.finish_reason == "content_filter" and explicit_answer(text) is None:
        return ("the provider's content filter removed your reply (finish_reason \"content_filter\"). "
                "Answer the question, with the answer in \\boxed{}.")
    if text:
        return None
    if step.reasoning:
        return "your reply holds only thinking and no answer after it. After your thinking, write the answer in \\boxed{}."
    return "your reply was empty. Answer the question, with the answer in \\boxed{}."


def unreadable_text_call(content: str | None) -> str | None:
    """What is wrong with a tool call written as text (``<tool_call>``, ``[TOOL_CALLS]``)
    that could not be read; ``None`` when ``content`` writes no such call.

    Example:
        >>> unreadable_text_call('<tool_call>{"name": "f", "arguments": {"x": 1')[:50]
        'your reply writes a tool call as text (<tool_call>'
    """
    text = content or ""
    marker = next((m for m in MARKERS if m in text), None)
    if marker is None:
        return None
    problem = read_text_calls(text, ()).problem or "it names no tool"
    return f"your reply writes a tool call as text ({marker}) that could not be read: {problem}"
