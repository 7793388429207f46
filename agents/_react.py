"""Reading ReAct text: Thought / Action / Action Input / Final Answer, tolerantly.

Accepted variations: numbered keys (``Action 2:``, ``Action 2 Input:``, as in
the paper's App. D.2 prompt), any capitalisation (``action input:``), markdown
bold, ``FINAL ANSWER:``, tool names in backticks, the arguments written as a
call on the Action line (``Action: f(n=5)``, ``Action: f({"n": 5})``) when
there is no Action Input, fenced inputs, and a tool call written in a model's
native text format (``<tool_call>{...}</tool_call>``, ``[TOOL_CALLS]...``) when
there is no Action line. Text from an ``Observation:`` the model wrote itself
onwards is dropped: observations come from the system, never from the model.
A reply with an action and a final answer acts when the action comes first; a
reply with several actions runs the first. A reply with neither but with a
``\\boxed{}`` is taken as the final answer. Thinking (``<think>`` blocks) is
taken out by the client before this parser sees the text.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from fnforge.agents._textcalls import read_text_calls

__all__ = ["ReactReply", "parse_react"]

_OBSERVATION = re.compile(r"^\s*\**Observation\s*\d*\s*\**\s*:", re.I | re.M)
_ACTION = re.compile(r"^\s*\**Action\s*\d*\s*\**\s*:\**\s*(.*)$", re.I | re.M)
_INPUT = re.compile(r"^\s*\**Action\s*\d*\s*Input\s*\**\s*:\**[ \t]*", re.I | re.M)
_FINAL = re.compile(r"^\s*\**Final\s*Answer\s*\**\s*:\**\s*", re.I | re.M)
_NEXT_KEY = re.compile(r"^\s*\**(?:Thought|Action\s*\d*|Final\s*Answer)\s*\**\s*:", re.I | re.M)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CALL = re.compile(r"^[`*'\"]*([A-Za-z_]\w*)[`*'\"]*\s*(\(.*\))[\s`*]*$", re.S)

FORMAT_HELP = (
    "Reply with 'Thought: ...', then 'Action: <tool name>' and 'Action Input: <JSON object>', "
    "or with 'Final Answer: ...' when you know the answer."
)
_OWN_OBSERVATION = ("The text from your own 'Observation:' on was ignored: observations come from the system. "
                    "Stop after the Action Input and wait.")
_FIRST_ONLY = "Only the first action of a reply is run; send the others one at a time."


@dataclass(frozen=True, slots=True)
class ReactReply:
    """A parsed reply: an action, a final answer, or an ``error`` to show the model.

    ``text`` is the reply as kept in the conversation (cut before any
    ``Observation:`` the model wrote itself). ``action_input`` is the Action
    Input text, or the call written on the Action line (``f(n=5)``).
    ``notice`` is a remark for the model to see with the observation (text it
    wrote that was ignored).
    """

    text: str
    action: str | None = None
    action_input: str = ""
    final: str | None = None
    error: str | None = None
    notice: str | None = None


def parse_react(reply: str | None, *, tools: Collection[str] = ()) -> ReactReply:
    """Parse one ReAct reply; ``tools`` are the tool names (to read calls written as text)."""
    text = (reply or "").strip()
    notes = []
    obs = _OBSERVATION.search(text)
    if obs:
        text = text[: obs.start()].rstrip()
        notes.append(_OWN_OBSERVATION)
    actions = [a for a in _ACTION.finditer(text) if not a.group(1).strip().lower().startswith("input")]
    final = _FINAL.search(text)
    if len(actions) > 1:
        notes.append(_FIRST_ONLY)
    notice = " ".join(notes) or None
    if actions and (final is None or actions[0].start() < final.start()):
        return _action(text, actions[0], notice)
    if final:
        return ReactReply(text=text, final=text[final.end():].strip())
    if "\\boxed{" in text:
        return ReactReply(text=text, final=text)
    written = read_text_calls(text, tools)
    if written.calls:
        (name, args), *others = written.calls
        notice = " ".join(notes + ([_FIRST_ONLY] if others else [])) or None
        return ReactReply(text=text, action=name, action_input=args, notice=notice)
    if written.problem:
        return ReactReply(text=text, error=f"your tool call written as text could not be read: {written.problem}. "
                                           f"{FORMAT_HELP}")
    return ReactReply(text=text, error=f"your reply has no 'Action:' line and no 'Final Answer:'. {FORMAT_HELP}")


def _action(text: str, action: re.Match[str], notice: str | None) -> ReactReply:
    line = action.group(1).strip()
    name = _NAME.search(line.strip(" `*'\""))
    if name is None:
        return ReactReply(text=text, error=f"the Action line names no tool. {FORMAT_HELP}")
    after = text[action.end():]
    inp = _INPUT.search(after)
    if inp:
        rest = after[inp.end():]
        stop = _NEXT_KEY.search(rest)
        return ReactReply(text=text, action=name.group(0), action_input=(rest[: stop.start()] if stop else rest).strip(),
                          notice=notice)
    call = _CALL.match(line)
    if call and call.group(1) == name.group(0) and call.group(2).strip("() \t"):
        return ReactReply(text=text, action=name.group(0), action_input=f"{call.group(1)}{call.group(2)}",
                          notice=notice)
    return ReactReply(text=text, action=name.group(0), notice=notice)
