"""Reading ReAct text: Thought / Action / Action Input / Final Answer, tolerantly.

Accepted variations: numbered keys (``Action 2:``, ``Action 2 Input:``, as in
the paper's App. D.2 prompt), any capitalisation, ``FINAL ANSWER:``, tool names in
backticks or followed by ``(...)``, fenced inputs, and text after a hallucinated
``Observation:`` (dropped). A reply with an action and a final answer acts when
the action comes first. A reply with neither but with a ``\\boxed{}`` is taken
as the final answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ReactReply", "parse_react"]

_OBSERVATION = re.compile(r"^\s*Observation\s*\d*\s*:", re.I | re.M)
_ACTION = re.compile(r"^\s*\**Action\s*\d*\s*\**\s*:\**\s*(.*)$", re.I | re.M)
_INPUT = re.compile(r"^\s*\**Action\s*\d*\s*Input\s*\**\s*:\**[ \t]*", re.I | re.M)
_FINAL = re.compile(r"^\s*\**Final\s*Answer\s*\**\s*:\**\s*", re.I | re.M)
_NEXT_KEY = re.compile(r"^\s*\**(?:Thought|Action\s*\d*|Final\s*Answer)\s*\**\s*:", re.I | re.M)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

FORMAT_HELP = (
    "Reply with 'Thought: ...', then 'Action: <tool name>' and 'Action Input: <JSON object>', "
    "or with 'Final Answer: ...' when you know the answer."
)


@dataclass(frozen=True, slots=True)
class ReactReply:
    """A parsed reply: an action, a final answer, or an ``error`` to show the model.

    ``text`` is the reply as kept in the conversation (cut before any
    ``Observation:`` the model wrote itself).
    """

    text: str
    action: str | None = None
    action_input: str = ""
    final: str | None = None
    error: str | None = None


def parse_react(reply: str | None) -> ReactReply:
    """Parse one ReAct reply."""
    text = (reply or "").strip()
    obs = _OBSERVATION.search(text)
    if obs:
        text = text[: obs.start()].rstrip()
    action = _ACTION.search(text)
    final = _FINAL.search(text)
    if action and action.group(1).strip().lower().startswith("input"):
        action = None  # "Action Input:" with no "Action:" line
    if action and (final is None or action.start() < final.start()):
        name = _NAME.search(action.group(1).strip(" `*'\""))
        if name is None:
            return ReactReply(text=text, error=f"the Action line names no tool. {FORMAT_HELP}")
        after = text[action.end():]
        inp = _INPUT.search(after)
        action_input = ""
        if inp:
            rest = after[inp.end():]
            stop = _NEXT_KEY.search(rest)
            action_input = (rest[: stop.start()] if stop else rest).strip()
        return ReactReply(text=text, action=name.group(0), action_input=action_input)
    if final:
        return ReactReply(text=text, final=text[final.end():].strip())
    if "\\boxed{" in text:
        return ReactReply(text=text, final=text)
    return ReactReply(text=text, error=f"your reply has no 'Action:' line and no 'Final Answer:'. {FORMAT_HELP}")
