"""Tool calls written as text: what a model sends when the server does not parse its calls.

Served without a tool-call parser (vLLM without ``--enable-auto-tool-choice
--tool-call-parser ...``, llama.cpp without ``--jinja``, some Ollama and LM
Studio templates), a model's tool calls arrive as text in ``content``, in its
own training format. Three formats are read, when they are unambiguous:

- Hermes / Qwen: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``,
  one block per call, text around them allowed (the tags say it is a call);
- Mistral: ``[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`` or
  ``[TOOL_CALLS]name[ARGS]{...}``, text before the marker allowed;
- a bare JSON object (or array of them), fenced or not, that is the *whole*
  reply and names an offered tool: ``{"name": ..., "arguments"|"parameters": {...}}``
  (Llama 3's format), also as ``{"type": "function", "function": {...}}``.

A JSON object inside prose is never taken for a call: it may be an example.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any  # Any: JSON values the model wrote

from fnforge.agents._lenient import read_json_value

__all__ = ["TextCalls", "read_text_calls"]

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
_MISTRAL = "[TOOL_CALLS]"
_MISTRAL_NAMED = re.compile(r"\[TOOL_CALLS\]\s*([A-Za-z_][\w.-]*)\s*\[ARGS\]")
_WHOLE_FENCE = re.compile(r"^\s*```[\w-]*[ \t]*\n(.*?)\n?```\s*$", re.S)
MARKERS = ("<tool_call>", _MISTRAL)


@dataclass(frozen=True, slots=True)
class TextCalls:
    """What a text reply says: ``calls`` as ``(name, raw JSON arguments)``, the ``rest`` of
    the text, or the ``problem`` with a call the text clearly attempts but that cannot be read."""

    calls: tuple[tuple[str, str], ...] = ()
    rest: str = ""
    problem: str | None = None


def read_text_calls(text: str, tool_names: Collection[str]) -> TextCalls:
    """The tool calls written as text in ``text`` (see the module docstring).

    Example:
        >>> read_text_calls('<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>', ["f"]).calls
        (('f', '{"x": 1}'),)
    """
    if "<tool_call>" in text:
        return _hermes(text)
    if _MISTRAL in text:
        return _mistral(text)
    return _bare(text, tool_names)


def _hermes(text: str) -> TextCalls:
    blocks = list(_HERMES.finditer(text))
    if not blocks:
        return TextCalls(rest=text, problem="the <tool_call> block is not closed with </tool_call> "
                                           "(was the reply cut off at the token limit?)")
    calls = []
    for block in blocks:
        call, problem = _call(block.group(1), "<tool_call> block")
        if call is None:
            return TextCalls(rest=text, problem=problem)
        calls.append(call)
    rest = _HERMES.sub("", text).strip()
    return TextCalls(calls=tuple(calls), rest=rest)


def _mistral(text: str) -> TextCalls:
    head, _, tail = text.partition(_MISTRAL)
    named = list(_MISTRAL_NAMED.finditer(text))
    if named:
        calls = []
        for i, match in enumerate(named):
            end = named[i + 1].start() if i + 1 < len(named) else len(text)
            args, problem = read_json_value(text[match.end():end])
            if not isinstance(args, dict):
                return TextCalls(rest=text, problem=f"the [ARGS] of {match.group(1)} are not a JSON object"
                                                    f"{': ' + problem if problem else ''}")
            calls.append((match.group(1), json.dumps(args)))
        return TextCalls(calls=tuple(calls), rest=head.strip())
    value, problem = read_json_value(tail)
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if not items:
        return TextCalls(rest=text, problem="the text after [TOOL_CALLS] is not a JSON list of calls"
                                            f"{': ' + problem if problem else ''}")
    calls = []
    for item in items:
        call, problem = _call_object(item, "[TOOL_CALLS] entry")
        if call is None:
            return TextCalls(rest=text, problem=problem)
        calls.append(call)
    return TextCalls(calls=tuple(calls), rest=head.strip())


def _bare(text: str, tool_names: Collection[str]) -> TextCalls:
    body = text.strip()
    fenced = _WHOLE_FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if body[:1] not in ("{", "["):
        return TextCalls(rest=text)
    value, _ = read_json_value(body)
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        call, _ = _call_object(item, "object")
        if call is None or call[0] not in tool_names:
            return TextCalls(rest=text)  # not certainly a call: leave the text alone
        calls.append(call)
    return TextCalls(calls=tuple(calls), rest="")


def _call(text: str, where: str) -> tuple[tuple[str, str] | None, str | None]:
    value, problem = read_json_value(text)
    if problem is not None and "cut off" in problem:
        return None, f"the {where} ends before its JSON is complete (was the reply cut off at the token limit?)"
    return _call_object(value, where)


def _call_object(value: Any, where: str) -> tuple[tuple[str, str] | None, str | None]:
    """``((name, raw arguments), None)`` from one call object, or ``(None, problem)``."""
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("function"), dict):
        value = value["function"]
    shape = f'the {where} must hold one JSON object {{"name": "<tool>", "arguments": {{...}}}}'
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None, shape
    keys = set(value) - {"name", "type", "id"}
    if len(keys) > 1 or not keys <= {"arguments", "parameters"}:
        return None, shape
    args = value.get("arguments", value.get("parameters", {}))
    if isinstance(args, str):
        return (value["name"], args), None
    if not isinstance(args, dict):
        return None, shape
    return (value["name"], json.dumps(args)), None
