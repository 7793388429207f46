"""JSON-mode tool calling, for providers without native ``tools``.

The tools are described in the system prompt; the model answers with one JSON
object, ``{"tool": name, "arguments": {...}}`` or ``{"answer": "..."}``. These pure
functions translate a native-tools conversation into that form and a reply back
into (content, tool calls), so agents never know which mode is in use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any  # Any: JSON values the model wrote

from fnforge.agents._lenient import read_json_object
from fnforge.agents._prompts import describe_tools, render
from fnforge.functions import load_json

__all__ = ["json_mode_messages", "parse_json_reply"]

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def json_mode_messages(messages: Sequence[dict[str, Any]],
                       tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` rewritten for a provider that accepts only plain text turns."""
    protocol = render("json_tools", tool_descriptions=describe_tools(tools))
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            calls = message["tool_calls"]
            for call in calls:
                names[str(call.get("id"))] = call["function"]["name"]
            text = "\n".join(_call_text(c) for c in calls)
            out.append({"role": "assistant", "content": text})
        elif role == "tool":
            name = names.get(str(message.get("tool_call_id")), "the tool")
            out.append({"role": "user", "content": f"Result of {name}:\n{message.get('content', '')}"})
        else:
            out.append({k: v for k, v in message.items() if k in ("role", "content")})
    if out and out[0].get("role") == "system":
        out[0] = {"role": "system", "content": f"{out[0].get('content') or ''}\n\n{protocol}".strip()}
    else:
        out.insert(0, {"role": "system", "content": protocol})
    return out


def _call_text(call: dict[str, Any]) -> str:
    raw = call["function"].get("arguments") or "{}"
    try:
        args: Any = load_json(raw)  # untrusted: depth and size bounded (issue 11)
    except ValueError:
        args = raw
    return json.dumps({"tool": call["function"]["name"], "arguments": args})


def _objects(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found = []
    fenced = _FENCE.match(text.strip())
    if fenced:
        text = fenced.group(1)
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        found.append(obj)
        i = text.find("{", end)
    return found


def parse_json_reply(text: str | None) -> tuple[str | None, list[tuple[str, str]]]:
    """(content, [(tool name, raw JSON arguments)]) from a JSON-mode reply.

    The first object with a ``"tool"`` key is a call; else an ``"answer"`` key is
    the content; a reply with neither is taken as plain text. Objects are read
    strictly where they sit in the text, or, when the whole reply is one object
    that is not strict JSON (single quotes, trailing commas), leniently.
    """
    if not text:
        return text, []
    whole = read_json_object(text)
    objects = _objects(text) or ([whole.value] if whole.value else [])
    for obj in objects:
        if isinstance(obj, dict) and isinstance(obj.get("tool"), str):
            args = obj.get("arguments", {})
            raw = args if isinstance(args, str) else json.dumps(args)
            return None, [(obj["tool"], raw)]
    for obj in objects:
        if isinstance(obj, dict) and "answer" in obj:
            answer = obj["answer"]
            return (answer if isinstance(answer, str) else json.dumps(answer)), []
    return text, []
