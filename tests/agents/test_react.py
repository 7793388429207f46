"""Tolerant parsing of ReAct replies."""

from __future__ import annotations

import pytest

from fnforge.agents import parse_react


def test_parse_react_does_read_action_and_input() -> None:
    reply = parse_react('Thought: use it\nAction: add\nAction Input: {"a": 1, "b": 2}')
    assert (reply.action, reply.action_input, reply.final, reply.error) == ("add", '{"a": 1, "b": 2}', None, None)


@pytest.mark.parametrize("text", [
    'Thought: x\nAction 2: `add`\nAction 2 Input: {"a": 1}',
    'Thought: x\n**Action:** add\n**Action Input:** {"a": 1}',
    'Thought: x\naction: add({"a": 1})\naction input: {"a": 1}',
])
def test_parse_react_does_tolerate_action_variants(text: str) -> None:
    reply = parse_react(text)
    assert reply.action == "add" and reply.action_input == '{"a": 1}'


def test_parse_react_does_drop_hallucinated_observation() -> None:
    reply = parse_react('Action: add\nAction Input: {"a": 1}\nObservation: 5\nFinal Answer: 5')
    assert reply.action == "add" and reply.action_input == '{"a": 1}'
    assert "Observation" not in reply.text


def test_parse_react_does_keep_multiline_code_input() -> None:
    reply = parse_react("Action: run_python\nAction Input: ```python\nx = 2\nprint(x)\n```")
    assert reply.action_input == "```python\nx = 2\nprint(x)\n```"


@pytest.mark.parametrize("text", ["Thought: done\nFinal Answer: \\boxed{3}", "FINAL ANSWER: \\boxed{3}",
                                  "So the answer is \\boxed{3}."])
def test_parse_react_does_read_final_answer(text: str) -> None:
    reply = parse_react(text)
    assert reply.action is None and reply.final is not None and "\\boxed{3}" in reply.final


def test_parse_react_does_prefer_earlier_of_action_and_answer() -> None:
    assert parse_react("Final Answer: 2\nAction: add\nAction Input: {}").final == "2\nAction: add\nAction Input: {}"


@pytest.mark.parametrize("text", ["I think it is three.", "", "Thought: hmm\nAction Input: {}"])
def test_parse_react_rejects_reply_without_action_or_answer(text: str) -> None:
    reply = parse_react(text)
    assert reply.action is None and reply.final is None
    assert reply.error is not None and "Final Answer:" in reply.error


@pytest.mark.parametrize(("text", "action_input"), [
    ("Thought: x\nAction: add(a=1, b=2)", "add(a=1, b=2)"),
    ('Thought: x\nAction: `add`({"a": 1})', 'add({"a": 1})'),
    ("thought: x\naction: add\naction input: {'a': 1}", "{'a': 1}"),
    ('Action: add\nAction Input:\n```json\n{"a": 1}\n```', '```json\n{"a": 1}\n```'),
])
def test_parse_react_does_read_real_action_habits(text: str, action_input: str) -> None:
    reply = parse_react(text)
    assert (reply.action, reply.action_input, reply.error) == ("add", action_input, None)


def test_parse_react_does_tell_the_model_its_own_observation_was_ignored() -> None:
    reply = parse_react('Action: add\nAction Input: {"a": 1}\nObservation: 5\nThought: done\nFinal Answer: \\boxed{5}')
    assert reply.action == "add" and reply.final is None
    assert reply.notice is not None and "observations come from the system" in reply.notice


def test_parse_react_does_run_the_first_of_several_actions_and_say_so() -> None:
    reply = parse_react('Action: add\nAction Input: {"a": 1}\nAction: square\nAction Input: {"x": 2}')
    assert (reply.action, reply.action_input) == ("add", '{"a": 1}')
    assert reply.notice is not None and "Only the first action" in reply.notice


def test_parse_react_does_read_a_final_answer_with_a_box() -> None:
    assert parse_react("Thought: so\nFinal Answer: \\boxed{-2}").final == "\\boxed{-2}"


@pytest.mark.parametrize("text", [
    '<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>',
    '[TOOL_CALLS][{"name": "add", "arguments": {"a": 1}}]',
    '{"name": "add", "arguments": {"a": 1}}',
])
def test_parse_react_does_read_a_native_call_written_as_text(text: str) -> None:
    reply = parse_react(text, tools=["add"])
    assert reply.action == "add" and reply.action_input == '{"a": 1}'


def test_parse_react_rejects_an_unreadable_text_call_with_reason() -> None:
    reply = parse_react('<tool_call>{"name": "add", "arguments": {"a": 1', tools=["add"])
    assert reply.action is None and reply.error is not None and "not closed" in reply.error
