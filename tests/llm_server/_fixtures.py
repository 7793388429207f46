"""Recorded reply shapes: raw response bodies as real providers and servers send them.

Each ``fixtures/replies/<name>.json`` holds::

    {"shape": what is unusual about the reply,
     "sources": [where this shape is documented or reported: provider docs, issue threads],
     "replies": {consumer: the raw chat-completion body},
     "expect": {consumer: {"outcome": ..., "says": ..., "calls": ...}}}

for the consumers ``"tool"`` (the tool agent), ``"react"`` (the ReAct agent)
and ``"optimizer"`` (AgentOptimizer). The scripted scenario each body answers
is fixed by the tests: the agents solve ``3*x + 6 = 0`` with
``solve_linear(a, b, exact=False)`` and ``run_python``; the optimizer starts
from an empty function set and should add ``solve_linear``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CONSUMERS", "FIXTURE_DIR", "OUTCOMES", "REPLY_FIXTURES", "Expectation", "ReplyFixture",
           "load_reply_fixtures"]

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "replies"
CONSUMERS = ("tool", "react", "optimizer")
OUTCOMES = {
    "recovered": "the intended call(s) of the first reply ran (or the action was applied)",
    "answered": "the model was told precisely what is wrong (``says``), then succeeded",
    "answer": "the first reply is the final answer, read without the thinking",
    "retried": "the client retried the unreadable reply and the retry succeeded",
    "refused": "the refusal is the final message, recorded as such",
    "terminated": "the optimizer's step ended without a change (a reply with no tool call)",
}


@dataclass(frozen=True, slots=True)
class Expectation:
    """What fnforge must make of one fixture for one consumer.

    Attributes:
        outcome: one of :data:`OUTCOMES`.
        says: text the model must be shown (``answered``), or the optimizer's note
            must hold (``recovered``).
        calls: tool calls the first reply must run (``recovered``).
    """

    outcome: str
    says: str = ""
    calls: int = 1


@dataclass(frozen=True, slots=True)
class ReplyFixture:
    """One recorded reply shape (see the module docstring)."""

    name: str
    shape: str
    sources: tuple[str, ...]
    replies: Mapping[str, Mapping[str, Any]] = field(repr=False)
    expect: Mapping[str, Expectation]


def load_reply_fixtures(directory: Path = FIXTURE_DIR) -> tuple[ReplyFixture, ...]:
    """Every fixture in ``directory``, sorted by name.

    Raises:
        ValueError: a fixture lacks a source, a reply lacks an expectation, or an
            outcome is unknown.
    """
    fixtures = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        replies, expect = data["replies"], data["expect"]
        if not data.get("sources") or not replies or set(replies) != set(expect) or not set(replies) <= set(CONSUMERS):
            raise ValueError(f"{path.name}: needs sources, and one expectation per reply of {CONSUMERS}")
        expectations = {c: Expectation(**e) for c, e in expect.items()}
        unknown = [e.outcome for e in expectations.values() if e.outcome not in OUTCOMES]
        if unknown:
            raise ValueError(f"{path.name}: unknown outcome(s) {unknown}")
        fixtures.append(ReplyFixture(name=path.stem, shape=data["shape"], sources=tuple(data["sources"]),
                                     replies=replies, expect=expectations))
    return tuple(fixtures)


REPLY_FIXTURES = load_reply_fixtures()
