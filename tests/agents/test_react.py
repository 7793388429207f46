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
