"""Replies, faults and the parsed request a policy sees."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Fault", "Policy", "Reply", "Request", "TRANSIENT_FAULTS", "count_tokens", "reply_error", "reply_raw", "reply_text", "reply_tool_call", "reply_tool_calls"]


class Fault(enum.Enum):
    """What goes wrong with one request."""

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    DROP = "drop"
    TIMEOUT = "timeout"
    MALFORMED_ARGS = "malformed_args"
    DOUBLE_ENCODED = "double_encoded"


TRANSIENT_FAULTS = (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.TIMEOUT)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server sends back: a chat completion or an HTTP error.

    ``reasoning`` is sent as the message's ``reasoning_content`` (as vLLM,
    llama.cpp and LM Studio do for reasoning models); ``raw``, when set, is the
    whole response body, sent verbatim (see :func:`reply_raw`).
    """

    content: str | None = None
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # (id, name, raw arguments)
    status: int = 200
    error: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    finish_reason: str | None = None
    reasoning: str | None = None
    raw: Mapping[str, Any] | None = None


def reply_text(content: str) -> Reply:
    """A plain assistant message (no tool calls): the agent's final answer."""
    return Reply(content=content)


def _args_text(args: Mapping[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(dict(args))


def reply_tool_call(name: str, args: Mapping[str, Any] | str, *, content: str | None = None,
                    call_id: str | None = None) -> Reply:
    """One native tool call; a ``str`` ``args`` is sent verbatim (raw JSON text)."""
    return Reply(content=content, tool_calls=((call_id or "call_0", name, _args_text(args)),))


def reply_tool_calls(calls: Iterable[tuple[str, Mapping[str, Any] | str]]) -> Reply:
    """Several native tool calls in one assistant message."""
    return Reply(tool_calls=tuple((f"call_{i}", n, _args_text(a)) for i, (n, a) in enumerate(calls)))


def reply_raw(body: Mapping[str, Any]) -> Reply:
    """A response body sent exactly as given (a recorded provider reply, see ``fixtures/replies``);
    faults that edit tool calls leave it alone."""
    return Reply(raw=body)


def reply_error(status: int, message: str = "scripted error",
                headers: Mapping[str, str] | None = None) -> Reply:
    """An HTTP error with an OpenAI-style ``{"error": {...}}`` body."""
    return Reply(status=status, error=message, headers=tuple((headers or {}).items()))


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed chat-completion request, as a policy sees it."""

    index: int
    body: dict[str, Any]
    headers: dict[str, str]
    fault: Fault | None = None
    arrived: float = 0.0  # time.time() when the whole request had been read

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.tools]

    @property
    def system(self) -> str:
        return "\n".join(_text(m) for m in self.messages if m.get("role") in ("system", "developer"))

    @property
    def question(self) -> str:
        return next((_text(m) for m in self.messages if m.get("role") == "user"), "")

    @property
    def last(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}

    @property
    def turn(self) -> int:
        return sum(1 for m in self.messages if m.get("role") == "assistant")

    def offered(self, name: str) -> bool:
        if self.tools:
            return name in self.tool_names
        return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", self.system) is not None

    def called(self, name: str) -> bool:
        for m in self.messages:
            if m.get("role") != "assistant":
                continue
            if any(c.get("function", {}).get("name") == name for c in m.get("tool_calls") or []):
                return True
            if re.search(rf"Action\s*\d*\s*:\s*`?{re.escape(name)}\b", _text(m)):
                return True
            if re.search(rf'"tool"\s*:\s*"{re.escape(name)}"', _text(m)):
                return True
        return False

    def tool_results(self) -> list[str]:
        return [_text(m) for m in self.messages if m.get("role") == "tool"]

    def observation(self) -> str | None:
        if self.last.get("role") != "user":
            return None
        m = re.search(r"Observation\s*\d*\s*:\s*(.*)", _text(self.last), re.S)
        return m.group(1).strip() if m else None


Policy = Callable[[Request], "Reply | str"]


def _text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def count_tokens(text: str) -> int:
    """A deterministic stand-in tokenizer: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))
