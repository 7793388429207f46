"""Cutting a conversation that outgrew the model's context, so that it can be sent once more.

When the provider refuses a request as too long (:class:`~agents.LLMContextExceeded`),
the agent cuts what it can best do without and retries once, as DSPy's ReAct
does (it drops the oldest tool call of the trajectory and tries again):

1. the results of older turns (``role: tool`` messages, or ReAct ``Observation:``
   user messages) are replaced by a one-line note, oldest first, all of them;
2. only if there were none, the results of the last turn are cut in the middle
   to a quarter of their length.

The system prompt, the task (the first user message), every assistant message
and the tool-call structure (ids paired with results) are kept, so the model
still sees what it did and the request stays valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any  # Any: chat messages as JSON

from fnforge.agents._trajectory import cut_middle

__all__ = ["cut_conversation"]

_NOTE = "[cut to fit the model's context window: {n} characters of output]"
_MIN_KEPT_CHARS = 200  # a last-turn result is not cut below this


def _result_indices(messages: Sequence[dict[str, Any]]) -> list[int]:
    """Indices of tool results: ``tool`` messages and user messages after the task (ReAct observations)."""
    first_user = next((i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages))
    return [i for i, m in enumerate(messages)
            if m.get("role") == "tool" or (m.get("role") == "user" and i > first_user)]


def _last_turn_start(messages: Sequence[dict[str, Any]]) -> int:
    return max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=len(messages))


def cut_conversation(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """``messages`` with tool results cut (see the module docstring), or ``None`` when nothing can be cut.

    Example:
        >>> msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
        ...         {"role": "user", "content": "Observation: " + "x" * 500},
        ...         {"role": "assistant", "content": "b"}, {"role": "user", "content": "Observation: y"}]
        >>> cut_conversation(msgs)[2]["content"]
        "[cut to fit the model's context window: 513 characters of output]"
    """
    out = [dict(m) for m in messages]
    results = _result_indices(out)
    last = _last_turn_start(out)
    changed = False
    for i in (i for i in results if i < last):
        text = str(out[i].get("content") or "")
        note = _NOTE.format(n=len(text))
        if len(text) > len(note):
            out[i]["content"] = note
            changed = True
    if not changed:
        for i in (i for i in results if i > last):
            text = str(out[i].get("content") or "")
            if len(text) > _MIN_KEPT_CHARS:
                out[i]["content"] = cut_middle(text, max(_MIN_KEPT_CHARS, len(text) // 4))
                changed = True
    return out if changed else None
