"""One step's conversation with the optimizer LLM: replies, tool calls, validation and the answers sent back.

:meth:`~optimizer.AgentOptimizer.step` builds the first prompt and hands the
talk to a :class:`StepConversation` (the module docstring of
:mod:`optimizer._agent_optimizer` states the rules): only the first tool call
of a reply is applied, a rejected proposal is answered with its reason and may
be retried, a reply without a tool call ends the step unless it was cut off,
filtered or an unreadable text call, and the step ends where the next request
would exceed the budget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any  # Any: chat messages as JSON

from fnforge.agents import Completion, ToolCall, cut_middle, unreadable_text_call
from fnforge.functions import FunctionSet
from fnforge.optimizer._actions import ACTION_TOOLS, Action, ActionRejected, parse_action, proposed_name, validate_action
from fnforge.optimizer._prompt import estimate_tokens

if TYPE_CHECKING:
    from fnforge.optimizer._agent_optimizer import AgentOptimizer

__all__ = ["MAX_REASON_CHARS", "StepConversation"]

MAX_REASON_CHARS = 2_000
"""A rejection reason sent back to the model is cut in the middle to this length."""

_TERMINATE = re.compile(r"\W*TERMINATE\W*$", re.IGNORECASE)
_IGNORED = (
    "Ignored: only the first tool call of a reply is applied. "
    "Send this call again in a separate reply if it is still wanted."
)


class StepConversation:
    """The mutable state of one step's conversation (never escapes :meth:`AgentOptimizer.step`).

    Args:
        optimizer: the optimizer whose client, sandbox, policy and limits the step uses.
        best: List A; ``trial`` (List B) starts equal to it.
        sample: names the conversation for the response cache (see :meth:`AgentOptimizer.step`).
        tools_tokens: the estimated tokens of the action tool schemas, sent with every request.
    """

    def __init__(self, optimizer: AgentOptimizer, best: FunctionSet, *, sample: str, tools_tokens: int) -> None:
        self.opt = optimizer
        self.best = self.trial = best
        self.sample = sample
        self.tools_tokens = tools_tokens
        self.cut: list[str] = []
        self.largest_request = 0
        self.messages: list[dict[str, Any]] = []
        self.actions: list[Action] = []
        self.rejections: list[str] = []
        self.rationale: list[str] = []
        self.terminated = False
        self.calls = self.cached = self.tokens = 0
        self.cost = 0.0

    async def converse(self, opening: Sequence[dict[str, Any]]) -> None:
        opt = self.opt
        self.messages.extend(opening)
        slots_used = attempts = 0
        while slots_used < opt.max_actions:
            if not self._fits():
                return
            rollout = f"{self.sample}/{self.calls}" if self.sample else 0
            reply = await opt.client.complete(self.messages, tools=ACTION_TOOLS, rollout=rollout)
            self.calls += 1
            self.cached += reply.cached
            self.tokens += reply.usage.total_tokens
            self.cost += reply.cost_usd
            text = _rationale(reply.content)
            if text:
                self.rationale.append(text)
            self.messages.append(reply.to_message())
            first = reply.tool_calls[0] if reply.tool_calls else None
            outcome = await self._attempt(first) if first is not None else self._unfinished(reply)
            if outcome is None:
                self.terminated = True
                return
            if isinstance(outcome, str):
                attempts += 1
                dropped = attempts > opt.max_retries
                slots_used += dropped
                self._answer(first, self._rejected_text(outcome, dropped, attempts, opt.max_actions - slots_used))
                attempts = 0 if dropped else attempts
            else:
                slots_used += 1
                attempts = 0
                self._answer(first, self._applied_text(outcome, opt.max_actions - slots_used))
            for other in reply.tool_calls[1:]:
                self._answer(other, _IGNORED)

    async def _attempt(self, call: ToolCall) -> Action | str:
        """The validated action (applied to List B), or the reason it was rejected."""
        try:
            action = parse_action(call.name, call.arguments)
            action = await validate_action(action, self.trial, sandbox=self.opt.sandbox, policy=self.opt.policy)
        except ActionRejected as exc:
            self.rejections.append(f"{call.name}({proposed_name(call.arguments)}): {exc}")
            return str(exc)
        self.trial = action.apply(self.trial)
        self.actions.append(action)
        return action

    def _unfinished(self, reply: Completion) -> str | None:
        """Why a reply without a tool call is not a deliberate TERMINATE; ``None`` if it is."""
        reason: str | None
        if reply.finish_reason == "length":
            reason = ('your reply was cut off at the token limit (finish_reason "length") before a tool call '
                      "or TERMINATE; think more briefly")
        elif reply.finish_reason == "content_filter":
            reason = "the provider's content filter removed your reply (finish_reason \"content_filter\")"
        else:
            reason = unreadable_text_call(reply.content)
        if reason is not None:
            self.rejections.append(f"reply: {reason}")
        return reason

    def _answer(self, call: ToolCall | None, text: str) -> None:
        """Answer ``call`` with a tool message, or (no call) with a user message."""
        if call is None:
            self.messages.append({"role": "user", "content": text})
        else:
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})

    def _fits(self) -> bool:
        """Whether the next request is within the budget (else the step ends here, and says so)."""
        tokens = estimate_tokens(json.dumps(self.messages, ensure_ascii=False)) + self.tools_tokens
        if tokens > self.opt.prompt_budget_tokens and self.calls:
            self.cut.append(f"conversation: ended after {self.calls} calls, the next request (~{tokens} tokens) "
                            f"would exceed the {self.opt.prompt_budget_tokens}-token budget")
            return False
        self.largest_request = max(self.largest_request, tokens)
        return True

    def _rejected_text(self, reason: str, dropped: bool, attempts: int, left: int) -> str:
        if dropped:
            tail = (
                f"This action was rejected {attempts} times and is dropped. "
                + (f"You may make {left} more change(s) or reply TERMINATE." if left > 0 else "The step is over.")
            )
        else:
            tail = "Nothing was changed. Fix the problem and call the tool again, or choose another action."
        return f"Rejected: {cut_middle(reason, MAX_REASON_CHARS)}\n\n{tail}"

    def _applied_text(self, action: Action, left: int) -> str:
        lines = [f"Applied: {action.describe()}."]
        if action.note:
            lines.append(action.note)
        lines += ["", "List B is now List A with this step's changes (the code of an added or revised function "
                  "is that of your accepted call):", _list_b_outline(self.best, self.trial), ""]
        if left > 0:
            lines.append(f"You may make {left} more change(s): call another tool, or reply TERMINATE.")
        else:
            lines.append("That was the last change of this step.")
        return "\n".join(lines)


def _list_b_outline(best: FunctionSet, trial: FunctionSet) -> str:
    """One line per function of List B (and per function removed from List A): name, parameters, origin."""
    diff = best.diff(trial)
    lines = []
    for fn in trial:
        origin = "added in this step" if fn.name in diff.added else (
            "revised in this step" if fn.name in diff.revised else "as in List A")
        lines.append(f"- {fn.name}({', '.join(fn.parameters.get('properties', {}))}): {origin}")
    lines += [f"- {name}: removed in this step" for name in diff.removed]
    return "\n".join(lines) or "- (no functions)"


def _rationale(content: str | None) -> str:
    """The reply's text without a closing TERMINATE (the commit body needs the reasons only)."""
    text = (content or "").strip()
    lines = text.splitlines()
    if lines and _TERMINATE.match(lines[-1]):
        text = "\n".join(lines[:-1]).strip()
    return text
