"""Reading one provider message: thinking, refusal, call ids, tool calls written as text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fnforge.agents import ModelStep
from fnforge.agents._replies import read_message, reply_problem
from fnforge.agents._textcalls import read_text_calls

TOOLS = ["solve_linear", "run_python"]
ARGS = {"a": 3, "b": 6}


def call(name: str, args: Any, call_id: str | None = "c1") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": args}}
    if call_id is not None:
        out["id"] = call_id
    return out


@pytest.mark.parametrize("message", [
    {"content": "<think>Is it 999?</think>It is 4."},
    {"content": "Is it 999?\n</think>\n\nIt is 4."},
    {"content": "It is 4.", "reasoning_content": "Is it 999?"},
    {"content": "It is 4.", "reasoning": "Is it 999?"},
])
def test_read_message_does_separate_thinking_from_text(message: dict[str, Any]) -> None:
    parts = read_message(message)
    assert parts.content == "It is 4." and parts.reasoning == "Is it 999?"


def test_read_message_does_treat_an_unclosed_think_as_thinking_only() -> None:
    parts = read_message({"content": "<think>Let me see, \\boxed{999}"})
    assert parts.content is None and parts.reasoning == "Let me see, \\boxed{999}"


def test_read_message_does_take_a_refusal_as_the_text() -> None:
    parts = read_message({"content": None, "refusal": "I can't help with that."})
    assert parts.content == parts.refusal == "I can't help with that."


def test_read_message_does_give_missing_and_repeated_ids_fresh_unique_ones() -> None:
    parts = read_message({"tool_calls": [call("a", "{}", None), call("b", "{}", ""), call("c", "{}", "x"),
                                         call("d", "{}", "x")]})
    ids = [c.id for c in parts.tool_calls]
    assert ids[2] == "x" and len(set(ids)) == 4
    assert all(i.isalnum() and len(i) == 9 for i in (ids[0], ids[1], ids[3]))  # Mistral's id rule


def test_read_message_does_encode_object_arguments_as_json() -> None:
    parts = read_message({"tool_calls": [call("solve_linear", ARGS)]})
    assert json.loads(parts.tool_calls[0].arguments) == ARGS


def test_read_message_does_read_text_calls_only_when_tools_were_offered() -> None:
    text = '<tool_call>{"name": "solve_linear", "arguments": {"a": 3, "b": 6}}</tool_call>'
    assert read_message({"content": text}).tool_calls == ()
    parts = read_message({"content": "Let me solve it.\n" + text}, tool_names=TOOLS)
    assert [(c.name, json.loads(c.arguments)) for c in parts.tool_calls] == [("solve_linear", ARGS)]
    assert parts.content == "Let me solve it."


def test_read_message_does_prefer_native_calls_to_text() -> None:
    text = '<tool_call>{"name": "run_python", "arguments": {"code": "1"}}</tool_call>'
    parts = read_message({"content": text, "tool_calls": [call("solve_linear", "{}")]}, tool_names=TOOLS)
    assert [c.name for c in parts.tool_calls] == ["solve_linear"] and parts.content == text


@pytest.mark.parametrize("text", [
    '<tool_call>\n{"name": "solve_linear", "arguments": {"a": 3, "b": 6}}\n</tool_call>',
    '[TOOL_CALLS][{"name": "solve_linear", "arguments": {"a": 3, "b": 6}}]',
    '[TOOL_CALLS]solve_linear[ARGS]{"a": 3, "b": 6}',
    '{"name": "solve_linear", "parameters": {"a": 3, "b": 6}}',
    '```json\n{"name": "solve_linear", "arguments": {"a": 3, "b": 6}}\n```',
    '{"type": "function", "function": {"name": "solve_linear", "parameters": {"a": 3, "b": 6}}}',
    "<tool_call>{'name': 'solve_linear', 'arguments': {'a': 3, 'b': 6}}</tool_call>",
])
def test_read_text_calls_does_read_each_known_format(text: str) -> None:
    found = read_text_calls(text, TOOLS)
    assert [(n, json.loads(a)) for n, a in found.calls] == [("solve_linear", ARGS)] and found.problem is None


@pytest.mark.parametrize("text", [
    'For example {"name": "solve_linear", "parameters": {"a": 3}} would work.',  # an object inside prose
    '{"name": "unknown_tool", "parameters": {"a": 3}}',  # names no offered tool
    '{"name": "solve_linear", "parameters": {"a": 3}, "note": "x"}',  # not only a call
    "The answer is 4.",
])
def test_read_text_calls_does_leave_uncertain_text_alone(text: str) -> None:
    found = read_text_calls(text, TOOLS)
    assert found.calls == () and found.problem is None and found.rest == text


@pytest.mark.parametrize(("text", "problem"), [
    ('<tool_call>{"name": "solve_linear", "arguments": {"a": 3', "not closed with </tool_call>"),
    ("<tool_call><function=solve_linear><parameter=a>3</parameter></function></tool_call>", "must hold one JSON object"),
    ("[TOOL_CALLS] solve it", "not a JSON list of calls"),
])
def test_read_text_calls_does_name_what_is_wrong_with_an_attempted_call(text: str, problem: str) -> None:
    found = read_text_calls(text, TOOLS)
    assert found.calls == () and found.problem is not None and problem in found.problem


def step(content: str | None, finish: str | None = "stop", reasoning: str | None = None) -> ModelStep:
    return ModelStep(turn=0, content=content, finish_reason=finish, reasoning=reasoning)


@pytest.mark.parametrize(("model_step", "says"), [
    (step(None, "length", "thinking..."), "cut off at the token limit while you were still thinking"),
    (step("So x is", "length"), "cut off at the token limit"),
    (step(None, "stop", "x = 4"), "only thinking"),
    (step(None, "content_filter"), "content filter"),
    (step("Here is a violent", "content_filter"), "content filter"),
    (step(""), "empty"),
    (step('<tool_call>{"name": "f"'), "could not be read"),
])
def test_reply_problem_does_explain_replies_that_are_no_answer(model_step: ModelStep, says: str) -> None:
    problem = reply_problem(model_step, react=False)
    assert problem is not None and says in problem


@pytest.mark.parametrize("model_step", [step("It is \\boxed{4}."), step("Cut, but Final Answer: 4", "length"),
                                        step("It is 4.", "stop", "thinking")])
def test_reply_problem_does_accept_replies_with_an_answer(model_step: ModelStep) -> None:
    assert reply_problem(model_step, react=False) is None
